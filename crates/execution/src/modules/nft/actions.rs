//! The module's actions, one method each. Every check comes before the first
//! write that depends on it; a failure rolls back whatever was written.

use super::math::{self, Payouts};
use super::{keys, state};
use crate::modules::kit::{ActionError, TxContext, View};
use crate::modules::kit::{OrOverflow, fail, load, move_asset, remove, require_admin, store};
use lakh_types::codec::{BoundedVec, Text};
use lakh_types::modules::nft::{
    AUCTION_EXTENSION_BLOCKS, Ancestor, AttesterRecord, Auction, Collection, CollectionId,
    CollectionKind, CollectionSymbol, EDITION_SHARDS, EditionShard, Hash32, HistoryEntry,
    HistoryRecord, HistoryRef, Licence, LicenceId, LicenceTerms, Listing, MAX_DETAIL_BYTES,
    MAX_DURATION_BLOCKS, MAX_FEE_BPS, MAX_PARENTS, MAX_PAYEES, MAX_PLAN_PARTS,
    MIN_BID_INCREMENT_BPS, Name, NftError, NftEvent, NftParams, Offer, OfferId, ParentLink, Plan,
    PromptCommit, Provenance, Sig64, Split, Token, TokenId, TransferPolicy, Uri, auction_custody,
    collection_id, edition_number, licence_id, offer_custody, offer_id, prompt_commitment,
    token_id, validate_royalty, validate_terms, verify_attestation,
};
use lakh_types::{Address, AssetId, Event};

/// The values an attestation signs: model id, prompt hash, seed, output hash.
pub(super) type Attested = (Hash32, Hash32, u64, Hash32);

/// A mint's payload.
pub(super) struct MintArgs<'a> {
    pub collection: CollectionId,
    pub shard: u8,
    pub to: Address,
    pub content_hash: Hash32,
    pub metadata_hash: Hash32,
    pub uri: &'a Uri,
    pub freeze: bool,
    pub parents: &'a BoundedVec<ParentLink, MAX_PARENTS>,
}

type Payees = BoundedVec<Address, MAX_PAYEES>;
type Collections = BoundedVec<CollectionId, MAX_PLAN_PARTS>;

fn err(e: NftError) -> ActionError {
    fail(e)
}

fn bad(detail: &str) -> ActionError {
    err(NftError::BadParams {
        detail: Text::<MAX_DETAIL_BYTES>::clipped(detail),
    })
}

fn same_asset(expected: AssetId, given: AssetId) -> Result<(), ActionError> {
    if expected != given {
        return Err(err(NftError::WrongAsset { expected, given }));
    }
    Ok(())
}

/// Refuses an action that names another collection than the token's (the
/// collection is in the payload so that access sets are known up front).
fn same_collection(token: &Token, given: CollectionId) -> Result<(), ActionError> {
    if token.collection != given {
        return Err(err(NftError::WrongCollection {
            expected: token.collection,
            given,
        }));
    }
    Ok(())
}

fn require_declared(needed: &[Address], payees: &[Address]) -> Result<(), ActionError> {
    match needed.iter().find(|a| !payees.contains(a)) {
        Some(payee) => Err(err(NftError::UndeclaredPayee { payee: *payee })),
        None => Ok(()),
    }
}

pub(super) struct Run<'a, V: View> {
    pub ctx: &'a TxContext,
    pub view: &'a mut V,
    pub events: &'a mut Vec<Event>,
}

impl<V: View> Run<'_, V> {
    fn emit(&mut self, event: NftEvent) {
        self.events.push(Event::Nft(event));
    }

    fn collection(&self, id: CollectionId) -> Result<Collection, ActionError> {
        load::<Collection>(self.view, &keys::collection(id))?
            .ok_or_else(|| err(NftError::UnknownCollection { collection: id }))
    }

    fn token(&self, id: TokenId) -> Result<Token, ActionError> {
        load::<Token>(self.view, &keys::token(id))?
            .ok_or_else(|| err(NftError::UnknownToken { token: id }))
    }

    fn owned(&self, id: TokenId) -> Result<Token, ActionError> {
        let token = self.token(id)?;
        if token.owner != self.ctx.sender {
            return Err(err(NftError::NotOwner {
                token: id,
                owner: token.owner,
            }));
        }
        if token.in_auction {
            return Err(err(NftError::TokenInAuction { token: id }));
        }
        Ok(token)
    }

    fn created(&self, id: TokenId) -> Result<Token, ActionError> {
        let token = self.token(id)?;
        if token.creator != self.ctx.sender {
            return Err(err(NftError::NotCreator {
                creator: token.creator,
            }));
        }
        Ok(token)
    }

    /// Fails unless `deadline` is within `height+1 ..= height + MAX_DURATION_BLOCKS`.
    fn deadline(&self, deadline: u64) -> Result<(), ActionError> {
        let min = self.ctx.height.saturating_add(1);
        let max = self.ctx.height.saturating_add(MAX_DURATION_BLOCKS);
        if deadline < min || deadline > max {
            return Err(err(NftError::BadDeadline { deadline, min, max }));
        }
        Ok(())
    }

    /// Appends `entry` to `token`'s history (the caller stores the token).
    fn record(
        &mut self,
        id: TokenId,
        token: &mut Token,
        entry: HistoryEntry,
    ) -> Result<(), ActionError> {
        let (sender, nonce) = (self.ctx.sender, self.ctx.nonce);
        let record = HistoryRecord {
            height: self.ctx.height,
            prev: token.last_history,
            entry,
        };
        store(self.view, &keys::history(id, &sender, nonce), &record)?;
        token.last_history = Some(HistoryRef { sender, nonce });
        token.history_len = token.history_len.checked_add(1).or_overflow()?;
        Ok(())
    }

    /// The plan of a sale of `token` now, reading the collections it pays
    /// (which the payload must name).
    fn plan(&self, token: &Token, declared: &Collections) -> Result<Plan, ActionError> {
        let mut collections = Vec::new();
        for id in state::paid_collections(token) {
            if !declared.contains(&id) {
                return Err(err(NftError::UndeclaredCollection { collection: id }));
            }
            collections.push((id, self.collection(id)?));
        }
        let params = load::<NftParams>(self.view, &keys::params())?.unwrap_or_default();
        state::build_plan(token, &collections, &params).map_err(err)
    }

    /// Pays a sale of `token` at `price` under `plan` from `from`: each
    /// royalty recipient, the fee recipient, then the seller.
    #[allow(clippy::too_many_arguments)]
    fn pay(
        &mut self,
        token: TokenId,
        plan: &Plan,
        asset: AssetId,
        price: u128,
        from: &Address,
        seller: &Address,
        payees: &Payees,
    ) -> Result<Payouts, ActionError> {
        let out = math::payouts(plan, price).or_overflow()?;
        require_declared(&state::credited(&out, plan, seller), payees)?;
        for p in out.payments.iter().filter(|p| p.amount > 0) {
            move_asset(self.view, asset, from, &p.recipient, p.amount, self.events)?;
            self.emit(NftEvent::RoyaltyPaid {
                token,
                collection: p.collection,
                recipient: p.recipient,
                amount: p.amount,
            });
        }
        move_asset(
            self.view,
            asset,
            from,
            &plan.fee_recipient,
            out.fee,
            self.events,
        )?;
        move_asset(self.view, asset, from, seller, out.proceeds, self.events)?;
        Ok(out)
    }

    /// Pays `amount` of `asset` from the sender through `split`.
    fn pay_split(
        &mut self,
        split: &Split,
        asset: AssetId,
        amount: u128,
        payees: &Payees,
    ) -> Result<(), ActionError> {
        if amount == 0 {
            return Ok(());
        }
        let parts = math::split(amount, split).or_overflow()?;
        let needed: Vec<Address> = parts.iter().filter(|p| p.1 > 0).map(|p| p.0).collect();
        require_declared(&needed, payees)?;
        let sender = self.ctx.sender;
        for (recipient, amount) in parts {
            move_asset(self.view, asset, &sender, &recipient, amount, self.events)?;
        }
        Ok(())
    }

    /// Gives a sold token to `buyer` and records the sale.
    #[allow(clippy::too_many_arguments)]
    fn hand_over(
        &mut self,
        id: TokenId,
        mut token: Token,
        buyer: Address,
        asset: AssetId,
        price: u128,
        out: &Payouts,
    ) -> Result<(), ActionError> {
        let seller = token.owner;
        token.owner = buyer;
        token.in_auction = false;
        token.moves = token.moves.checked_add(1).or_overflow()?;
        let entry = HistoryEntry::Sold {
            from: seller,
            to: buyer,
            asset,
            price,
            royalty: out.royalty,
            fee: out.fee,
        };
        self.record(id, &mut token, entry)?;
        store(self.view, &keys::token(id), &token)?;
        self.emit(NftEvent::Sold {
            token: id,
            from: seller,
            to: buyer,
            asset,
            price,
            royalty: out.royalty,
            fee: out.fee,
            proceeds: out.proceeds,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub fn create_collection(
        &mut self,
        name: &Name,
        symbol: &CollectionSymbol,
        kind: &CollectionKind,
        royalty_bps: u32,
        split: &Split,
        licence: &Option<LicenceTerms>,
        policy: &TransferPolicy,
    ) -> Result<(), ActionError> {
        validate_royalty(royalty_bps, split).map_err(|e| bad(&e))?;
        if let Some(t) = licence {
            validate_terms(t).map_err(|e| bad(&e))?;
        }
        let sender = self.ctx.sender;
        let id = collection_id(&sender, self.ctx.nonce);
        if load::<Collection>(self.view, &keys::collection(id))?.is_some() {
            return Err(err(NftError::IdTaken { id }));
        }
        let collection = Collection {
            creator: sender,
            name: name.clone(),
            symbol: symbol.clone(),
            kind: kind.clone(),
            royalty_bps,
            split: split.clone(),
            licence: licence.clone(),
            policy: policy.clone(),
            verified_by: None,
            created_height: self.ctx.height,
        };
        store(self.view, &keys::collection(id), &collection)?;
        self.emit(NftEvent::CollectionCreated {
            collection: id,
            creator: sender,
        });
        Ok(())
    }

    pub fn set_royalty(
        &mut self,
        id: CollectionId,
        royalty_bps: u32,
        split: &Split,
    ) -> Result<(), ActionError> {
        let mut c = self.collection(id)?;
        if c.creator != self.ctx.sender {
            return Err(err(NftError::NotCreator { creator: c.creator }));
        }
        validate_royalty(royalty_bps, split).map_err(|e| bad(&e))?;
        c.royalty_bps = royalty_bps;
        c.split = split.clone();
        store(self.view, &keys::collection(id), &c)?;
        self.emit(NftEvent::RoyaltySet {
            collection: id,
            royalty_bps,
        });
        Ok(())
    }

    pub fn verify_artist(&mut self, id: CollectionId) -> Result<(), ActionError> {
        require_admin(self.view, &self.ctx.sender)?;
        let mut c = self.collection(id)?;
        c.verified_by = Some(self.ctx.sender);
        store(self.view, &keys::collection(id), &c)?;
        self.emit(NftEvent::ArtistVerified { collection: id });
        Ok(())
    }

    /// The edition a mint in `shard` numbers, within the collection's kind.
    fn next_edition(
        &self,
        c: &Collection,
        id: CollectionId,
        shard: u8,
    ) -> Result<(EditionShard, u64), ActionError> {
        let max_shard = match c.kind {
            CollectionKind::OneOfOne {} => 0,
            _ => EDITION_SHARDS - 1,
        };
        if shard > max_shard {
            return Err(err(NftError::BadShard {
                shard,
                max: max_shard,
            }));
        }
        let counter = load::<EditionShard>(self.view, &keys::shard(id, shard))?.unwrap_or_default();
        let edition = edition_number(shard, counter.minted).or_overflow()?;
        let cap = match c.kind {
            CollectionKind::OneOfOne {} => Some(1),
            CollectionKind::Limited { max_editions } => Some(max_editions),
            CollectionKind::Open { until_height } => {
                if self.ctx.height >= until_height {
                    return Err(err(NftError::MintingClosed {
                        until_height,
                        height: self.ctx.height,
                    }));
                }
                None
            }
        };
        if let Some(max_editions) = cap
            && edition > max_editions
        {
            return Err(err(NftError::EditionCapReached {
                edition,
                max_editions,
            }));
        }
        Ok((counter, edition))
    }

    pub fn mint(&mut self, a: MintArgs<'_>) -> Result<(), ActionError> {
        let c = self.collection(a.collection)?;
        if c.creator != self.ctx.sender {
            return Err(err(NftError::NotCreator { creator: c.creator }));
        }
        let (mut counter, edition) = self.next_edition(&c, a.collection, a.shard)?;
        let id = token_id(&self.ctx.sender, self.ctx.nonce);
        if load::<Token>(self.view, &keys::token(id))?.is_some() {
            return Err(err(NftError::IdTaken { id }));
        }
        let ancestry = self.link_parents(id, a.parents)?;
        let stack_ppm = state::check_ancestry(&ancestry, c.royalty_bps).map_err(err)?;
        let mut token = Token {
            collection: a.collection,
            creator: c.creator,
            edition,
            owner: a.to,
            content_hash: a.content_hash,
            metadata_hash: a.metadata_hash,
            uri: a.uri.clone(),
            frozen: a.freeze,
            moves: 0,
            in_auction: false,
            flagged: false,
            policy: c.policy.clone(),
            parents: BoundedVec::new(a.parents.iter().map(|p| p.token).collect()).or_overflow()?,
            ancestry: BoundedVec::new(ancestry).or_overflow()?,
            stack_ppm,
            last_history: None,
            history_len: 0,
        };
        counter.minted = counter.minted.checked_add(1).or_overflow()?;
        store(self.view, &keys::shard(a.collection, a.shard), &counter)?;
        self.record(id, &mut token, HistoryEntry::Minted { to: a.to, edition })?;
        store(self.view, &keys::token(id), &token)?;
        self.emit(NftEvent::Minted {
            token: id,
            collection: a.collection,
            edition,
            to: a.to,
            content_hash: a.content_hash,
        });
        Ok(())
    }

    /// Uses the sender's licences for a derivative's parents; returns the
    /// derivative's merged ancestry (before bounds are checked).
    fn link_parents(
        &mut self,
        child: TokenId,
        parents: &[ParentLink],
    ) -> Result<Vec<Ancestor>, ActionError> {
        let height = self.ctx.height;
        let mut ancestry: Vec<Ancestor> = Vec::new();
        for p in parents {
            let mut parent = self.token(p.token)?;
            let mut licence = load::<Licence>(self.view, &keys::licence(p.licence))?
                .ok_or_else(|| err(NftError::UnknownLicence { licence: p.licence }))?;
            self.usable(p.licence, &licence, height)?;
            if licence.token != p.token {
                return Err(err(NftError::LicenceForOtherWork {
                    licence: p.licence,
                    expected: licence.token,
                    given: p.token,
                }));
            }
            if licence.used {
                return Err(err(NftError::LicenceUsed { licence: p.licence }));
            }
            if !licence.terms.derivatives_allowed {
                return Err(err(NftError::DerivativesNotAllowed { licence: p.licence }));
            }
            for a in parent.ancestry.iter() {
                state::merge_ancestor(&mut ancestry, a.token, a.collection, a.share_ppm);
            }
            let share = licence.terms.revenue_share_ppm;
            state::merge_ancestor(&mut ancestry, p.token, parent.collection, share);
            licence.used = true;
            store(self.view, &keys::licence(p.licence), &licence)?;
            let entry = HistoryEntry::DerivativeLinked {
                child,
                licence: p.licence,
            };
            self.record(p.token, &mut parent, entry)?;
            store(self.view, &keys::token(p.token), &parent)?;
            self.emit(NftEvent::DerivativeLinked {
                child,
                parent: p.token,
                licence: p.licence,
            });
        }
        Ok(ancestry)
    }

    /// Fails unless the sender holds an unexpired licence.
    fn usable(&self, id: LicenceId, licence: &Licence, height: u64) -> Result<(), ActionError> {
        if licence.holder != self.ctx.sender {
            return Err(err(NftError::NotLicenceHolder {
                licence: id,
                holder: licence.holder,
            }));
        }
        let expiry_height = licence.terms.expiry_height;
        if expiry_height != 0 && height >= expiry_height {
            return Err(err(NftError::LicenceExpired {
                licence: id,
                expiry_height,
                height,
            }));
        }
        Ok(())
    }

    pub fn update_metadata(
        &mut self,
        id: TokenId,
        metadata_hash: Hash32,
        uri: &Uri,
    ) -> Result<(), ActionError> {
        let mut token = self.created(id)?;
        if token.frozen {
            return Err(err(NftError::MetadataFrozen { token: id }));
        }
        token.metadata_hash = metadata_hash;
        token.uri = uri.clone();
        let entry = HistoryEntry::MetadataChanged {
            metadata_hash,
            uri: uri.clone(),
        };
        self.record(id, &mut token, entry)?;
        store(self.view, &keys::token(id), &token)?;
        self.emit(NftEvent::MetadataChanged {
            token: id,
            metadata_hash,
            uri: uri.clone(),
        });
        Ok(())
    }

    pub fn freeze(&mut self, id: TokenId) -> Result<(), ActionError> {
        let mut token = self.created(id)?;
        if token.frozen {
            return Err(err(NftError::MetadataFrozen { token: id }));
        }
        token.frozen = true;
        self.record(id, &mut token, HistoryEntry::Frozen {})?;
        store(self.view, &keys::token(id), &token)?;
        self.emit(NftEvent::Frozen { token: id });
        Ok(())
    }

    /// Removes a listing of `id`, if any (it dies when the token moves).
    fn close_listing(&mut self, id: TokenId) -> Result<(), ActionError> {
        if load::<Listing>(self.view, &keys::listing(id))?.is_some() {
            remove(self.view, &keys::listing(id))?;
            self.emit(NftEvent::ListingClosed { token: id });
        }
        Ok(())
    }

    pub fn transfer(
        &mut self,
        id: TokenId,
        collection: CollectionId,
        to: Address,
        fee_asset: AssetId,
        payees: &Payees,
    ) -> Result<(), ActionError> {
        let mut token = self.owned(id)?;
        same_collection(&token, collection)?;
        let fee = match token.policy {
            TransferPolicy::Free {} => 0,
            TransferPolicy::MarketOnly {} => {
                return Err(err(NftError::MarketOnly { collection }));
            }
            TransferPolicy::MinFee { asset, amount } => {
                same_asset(asset, fee_asset)?;
                let c = self.collection(collection)?;
                self.pay_split(&c.split, asset, amount, payees)?;
                amount
            }
        };
        let from = token.owner;
        token.owner = to;
        token.moves = token.moves.checked_add(1).or_overflow()?;
        self.close_listing(id)?;
        self.record(id, &mut token, HistoryEntry::Transferred { from, to, fee })?;
        store(self.view, &keys::token(id), &token)?;
        self.emit(NftEvent::Transferred {
            token: id,
            from,
            to,
            fee,
        });
        Ok(())
    }

    pub fn commit_prompt(&mut self, commitment: Hash32) -> Result<(), ActionError> {
        let key = keys::prompt(&self.ctx.sender, &commitment);
        if load::<PromptCommit>(self.view, &key)?.is_some() {
            return Err(bad("this prompt commitment already exists"));
        }
        store(
            self.view,
            &key,
            &PromptCommit {
                height: self.ctx.height,
            },
        )?;
        self.emit(NftEvent::PromptCommitted { commitment });
        Ok(())
    }

    pub fn record_provenance(
        &mut self,
        id: TokenId,
        mut record: Provenance,
        salt: Hash32,
    ) -> Result<(), ActionError> {
        let mut token = self.created(id)?;
        if load::<Provenance>(self.view, &keys::provenance(id))?.is_some() {
            return Err(err(NftError::ProvenanceExists { token: id }));
        }
        let sender = self.ctx.sender;
        let commitment = prompt_commitment(&sender, &record.prompt_hash, &salt);
        let commit_key = keys::prompt(&sender, &commitment);
        let commit = load::<PromptCommit>(self.view, &commit_key)?
            .ok_or_else(|| err(NftError::NoPromptCommit { commitment }))?;
        if commit.height >= self.ctx.height {
            return Err(err(NftError::RevealTooEarly {
                committed_height: commit.height,
                reveal_from: commit.height.saturating_add(1),
            }));
        }
        if record.output_hash != token.content_hash {
            return Err(err(NftError::OutputHashMismatch {
                output_hash: record.output_hash,
                content_hash: token.content_hash,
            }));
        }
        remove(self.view, &commit_key)?;
        record.committed_height = commit.height;
        let model_id = record.model_id;
        store(self.view, &keys::provenance(id), &record)?;
        self.record(
            id,
            &mut token,
            HistoryEntry::ProvenanceRecorded { model_id },
        )?;
        store(self.view, &keys::token(id), &token)?;
        self.emit(NftEvent::ProvenanceRecorded {
            token: id,
            model_id,
        });
        Ok(())
    }

    pub fn register_attester(
        &mut self,
        model_id: Hash32,
        attester: Address,
    ) -> Result<(), ActionError> {
        require_admin(self.view, &self.ctx.sender)?;
        let key = keys::attester(&model_id, &attester);
        if load::<AttesterRecord>(self.view, &key)?.is_some() {
            return Err(err(NftError::AttesterExists { attester, model_id }));
        }
        store(
            self.view,
            &key,
            &AttesterRecord {
                registered_height: self.ctx.height,
            },
        )?;
        self.emit(NftEvent::AttesterRegistered { model_id, attester });
        Ok(())
    }

    pub fn attest(
        &mut self,
        id: TokenId,
        attester: Address,
        signed: Attested,
        signature: &Sig64,
    ) -> Result<(), ActionError> {
        let mut token = self.token(id)?;
        let mut record = load::<Provenance>(self.view, &keys::provenance(id))?
            .ok_or_else(|| err(NftError::NoProvenance { token: id }))?;
        let (model_id, prompt_hash, seed, output_hash) = signed;
        if load::<AttesterRecord>(self.view, &keys::attester(&model_id, &attester))?.is_none() {
            return Err(err(NftError::AttesterNotRegistered { attester, model_id }));
        }
        if !verify_attestation(
            &attester,
            &model_id,
            &prompt_hash,
            seed,
            &output_hash,
            signature,
        ) {
            return Err(err(NftError::BadSignature { attester }));
        }
        if record.attestations.contains(&attester) {
            return Err(err(NftError::AlreadyAttested {
                token: id,
                attester,
            }));
        }
        let matches = (model_id, prompt_hash, seed, output_hash)
            == (
                record.model_id,
                record.prompt_hash,
                record.seed,
                record.output_hash,
            );
        let entry = if matches {
            let mut list = record.attestations.clone().into_inner();
            list.push(attester);
            record.attestations = BoundedVec::new(list)
                .ok_or_else(|| err(NftError::TooManyAttestations { token: id }))?;
            self.emit(NftEvent::Attested {
                token: id,
                attester,
            });
            HistoryEntry::Attested { attester }
        } else {
            record.conflicts = record.conflicts.saturating_add(1);
            token.flagged = true;
            self.emit(NftEvent::Flagged {
                token: id,
                attester,
            });
            HistoryEntry::Flagged { attester }
        };
        store(self.view, &keys::provenance(id), &record)?;
        self.record(id, &mut token, entry)?;
        store(self.view, &keys::token(id), &token)?;
        Ok(())
    }

    pub fn list(
        &mut self,
        id: TokenId,
        asset: AssetId,
        price: u128,
        expiry_height: u64,
        collections: &Collections,
    ) -> Result<(), ActionError> {
        let token = self.owned(id)?;
        if price == 0 {
            return Err(err(NftError::ZeroAmount {}));
        }
        self.deadline(expiry_height)?;
        let plan = self.plan(&token, collections)?;
        let listing = Listing {
            seller: token.owner,
            asset,
            price,
            expiry_height,
            moves: token.moves,
            plan,
        };
        store(self.view, &keys::listing(id), &listing)?;
        self.emit(NftEvent::Listed {
            token: id,
            seller: token.owner,
            asset,
            price,
            expiry_height,
        });
        Ok(())
    }

    pub fn buy(
        &mut self,
        id: TokenId,
        asset: AssetId,
        max_price: u128,
        payees: &Payees,
    ) -> Result<(), ActionError> {
        let listing = load::<Listing>(self.view, &keys::listing(id))?
            .ok_or_else(|| err(NftError::NotListed { token: id }))?;
        same_asset(listing.asset, asset)?;
        let height = self.ctx.height;
        if height >= listing.expiry_height {
            return Err(err(NftError::Expired {
                expiry_height: listing.expiry_height,
                height,
            }));
        }
        let token = self.token(id)?;
        if token.moves != listing.moves || token.owner != listing.seller || token.in_auction {
            return Err(err(NftError::StaleListing {
                token: id,
                listed: listing.moves,
                now: token.moves,
            }));
        }
        let buyer = self.ctx.sender;
        if buyer == listing.seller {
            return Err(err(NftError::OwnToken { token: id, buyer }));
        }
        if listing.price > max_price {
            return Err(err(NftError::PriceTooHigh {
                price: listing.price,
                max_price,
            }));
        }
        let (price, seller) = (listing.price, listing.seller);
        let out = self.pay(id, &listing.plan, asset, price, &buyer, &seller, payees)?;
        remove(self.view, &keys::listing(id))?;
        self.emit(NftEvent::ListingClosed { token: id });
        self.hand_over(id, token, buyer, asset, price, &out)
    }

    pub fn cancel_listing(&mut self, id: TokenId) -> Result<(), ActionError> {
        let listing = load::<Listing>(self.view, &keys::listing(id))?
            .ok_or_else(|| err(NftError::NotListed { token: id }))?;
        if listing.seller != self.ctx.sender {
            return Err(err(NftError::NotOwner {
                token: id,
                owner: listing.seller,
            }));
        }
        remove(self.view, &keys::listing(id))?;
        self.emit(NftEvent::ListingClosed { token: id });
        Ok(())
    }

    pub fn make_offer(
        &mut self,
        token: TokenId,
        asset: AssetId,
        amount: u128,
        expiry_height: u64,
    ) -> Result<(), ActionError> {
        let t = self.token(token)?;
        let bidder = self.ctx.sender;
        if t.owner == bidder {
            return Err(err(NftError::OwnToken {
                token,
                buyer: bidder,
            }));
        }
        if amount == 0 {
            return Err(err(NftError::ZeroAmount {}));
        }
        self.deadline(expiry_height)?;
        let id = offer_id(&bidder, self.ctx.nonce);
        if load::<Offer>(self.view, &keys::offer(id))?.is_some() {
            return Err(err(NftError::IdTaken { id }));
        }
        move_asset(
            self.view,
            asset,
            &bidder,
            &offer_custody(id),
            amount,
            self.events,
        )?;
        let offer = Offer {
            bidder,
            token,
            asset,
            amount,
            expiry_height,
        };
        store(self.view, &keys::offer(id), &offer)?;
        self.emit(NftEvent::OfferMade {
            offer: id,
            token,
            bidder,
            amount,
        });
        Ok(())
    }

    fn offer(&self, id: OfferId) -> Result<Offer, ActionError> {
        load::<Offer>(self.view, &keys::offer(id))?
            .ok_or_else(|| err(NftError::UnknownOffer { offer: id }))
    }

    pub fn cancel_offer(&mut self, id: OfferId, asset: AssetId) -> Result<(), ActionError> {
        let offer = self.offer(id)?;
        if offer.bidder != self.ctx.sender {
            return Err(err(NftError::NotBidder {
                offer: id,
                bidder: offer.bidder,
            }));
        }
        same_asset(offer.asset, asset)?;
        move_asset(
            self.view,
            asset,
            &offer_custody(id),
            &offer.bidder,
            offer.amount,
            self.events,
        )?;
        remove(self.view, &keys::offer(id))?;
        self.emit(NftEvent::OfferCancelled { offer: id });
        Ok(())
    }

    pub fn accept_offer(
        &mut self,
        id: OfferId,
        token_id: TokenId,
        asset: AssetId,
        bidder: Address,
        collections: &Collections,
        payees: &Payees,
    ) -> Result<(), ActionError> {
        let offer = self.offer(id)?;
        if offer.token != token_id {
            return Err(err(NftError::WrongToken {
                expected: offer.token,
                given: token_id,
            }));
        }
        same_asset(offer.asset, asset)?;
        if offer.bidder != bidder {
            return Err(err(NftError::NotBidder {
                offer: id,
                bidder: offer.bidder,
            }));
        }
        let height = self.ctx.height;
        if height >= offer.expiry_height {
            return Err(err(NftError::Expired {
                expiry_height: offer.expiry_height,
                height,
            }));
        }
        let token = self.owned(token_id)?;
        let plan = self.plan(&token, collections)?;
        let seller = self.ctx.sender;
        let custody = offer_custody(id);
        let out = self.pay(
            token_id,
            &plan,
            asset,
            offer.amount,
            &custody,
            &seller,
            payees,
        )?;
        remove(self.view, &keys::offer(id))?;
        self.close_listing(token_id)?;
        self.hand_over(token_id, token, bidder, asset, offer.amount, &out)
    }

    pub fn start_auction(
        &mut self,
        id: TokenId,
        asset: AssetId,
        reserve: u128,
        end_height: u64,
        collections: &Collections,
    ) -> Result<(), ActionError> {
        let mut token = self.owned(id)?;
        if load::<Listing>(self.view, &keys::listing(id))?.is_some() {
            return Err(err(NftError::AlreadyListed { token: id }));
        }
        if reserve == 0 {
            return Err(err(NftError::ZeroAmount {}));
        }
        self.deadline(end_height)?;
        let plan = self.plan(&token, collections)?;
        let auction = Auction {
            seller: token.owner,
            asset,
            reserve,
            end_height,
            highest_bidder: None,
            highest_bid: 0,
            plan,
        };
        token.in_auction = true;
        store(self.view, &keys::token(id), &token)?;
        store(self.view, &keys::auction(id), &auction)?;
        self.emit(NftEvent::AuctionStarted {
            token: id,
            seller: auction.seller,
            reserve,
            end_height,
        });
        Ok(())
    }

    fn auction(&self, id: TokenId) -> Result<Auction, ActionError> {
        load::<Auction>(self.view, &keys::auction(id))?
            .ok_or_else(|| err(NftError::NoAuction { token: id }))
    }

    pub fn bid(
        &mut self,
        id: TokenId,
        asset: AssetId,
        amount: u128,
        previous: Option<Address>,
    ) -> Result<(), ActionError> {
        let mut a = self.auction(id)?;
        same_asset(a.asset, asset)?;
        let height = self.ctx.height;
        if height >= a.end_height {
            return Err(err(NftError::AuctionEnded {
                end_height: a.end_height,
                height,
            }));
        }
        let bidder = self.ctx.sender;
        if bidder == a.seller {
            return Err(err(NftError::OwnToken {
                token: id,
                buyer: bidder,
            }));
        }
        if previous != a.highest_bidder {
            return Err(err(NftError::StaleBidder {
                expected: a.highest_bidder,
                given: previous,
            }));
        }
        let minimum =
            math::min_bid(a.reserve, a.highest_bid, MIN_BID_INCREMENT_BPS).or_overflow()?;
        if amount < minimum {
            return Err(err(NftError::BidTooLow { amount, minimum }));
        }
        let custody = auction_custody(id);
        move_asset(self.view, asset, &bidder, &custody, amount, self.events)?;
        if let Some(prev) = a.highest_bidder {
            move_asset(
                self.view,
                asset,
                &custody,
                &prev,
                a.highest_bid,
                self.events,
            )?;
        }
        a.highest_bidder = Some(bidder);
        a.highest_bid = amount;
        if a.end_height - height < AUCTION_EXTENSION_BLOCKS {
            a.end_height = height.saturating_add(AUCTION_EXTENSION_BLOCKS);
        }
        store(self.view, &keys::auction(id), &a)?;
        self.emit(NftEvent::BidPlaced {
            token: id,
            bidder,
            amount,
            end_height: a.end_height,
        });
        Ok(())
    }

    pub fn settle_auction(
        &mut self,
        id: TokenId,
        asset: AssetId,
        payees: &Payees,
    ) -> Result<(), ActionError> {
        let a = self.auction(id)?;
        same_asset(a.asset, asset)?;
        let height = self.ctx.height;
        if height < a.end_height {
            return Err(err(NftError::AuctionRunning {
                end_height: a.end_height,
                height,
            }));
        }
        let mut token = self.token(id)?;
        remove(self.view, &keys::auction(id))?;
        let Some(winner) = a.highest_bidder else {
            token.in_auction = false;
            store(self.view, &keys::token(id), &token)?;
            self.emit(NftEvent::AuctionClosed { token: id });
            return Ok(());
        };
        let custody = auction_custody(id);
        let out = self.pay(
            id,
            &a.plan,
            asset,
            a.highest_bid,
            &custody,
            &a.seller,
            payees,
        )?;
        self.hand_over(id, token, winner, asset, a.highest_bid, &out)
    }

    pub fn cancel_auction(&mut self, id: TokenId) -> Result<(), ActionError> {
        let a = self.auction(id)?;
        if a.seller != self.ctx.sender {
            return Err(err(NftError::NotOwner {
                token: id,
                owner: a.seller,
            }));
        }
        if a.highest_bidder.is_some() {
            return Err(err(NftError::AuctionHasBids { token: id }));
        }
        let mut token = self.token(id)?;
        token.in_auction = false;
        store(self.view, &keys::token(id), &token)?;
        remove(self.view, &keys::auction(id))?;
        self.emit(NftEvent::AuctionClosed { token: id });
        Ok(())
    }

    pub fn buy_licence(
        &mut self,
        id: TokenId,
        collection: CollectionId,
        asset: AssetId,
        payees: &Payees,
    ) -> Result<(), ActionError> {
        let mut token = self.token(id)?;
        same_collection(&token, collection)?;
        let c = self.collection(collection)?;
        let terms = c
            .licence
            .clone()
            .ok_or_else(|| err(NftError::NoLicenceTerms { collection }))?;
        same_asset(terms.fee_asset, asset)?;
        let sender = self.ctx.sender;
        let licence = licence_id(&sender, self.ctx.nonce);
        let height = self.ctx.height;
        if terms.expiry_height != 0 && height >= terms.expiry_height {
            return Err(err(NftError::LicenceExpired {
                licence,
                expiry_height: terms.expiry_height,
                height,
            }));
        }
        if load::<Licence>(self.view, &keys::licence(licence))?.is_some() {
            return Err(err(NftError::IdTaken { id: licence }));
        }
        let fee = terms.minting_fee;
        self.pay_split(&c.split, asset, fee, payees)?;
        let record = Licence {
            token: id,
            collection,
            holder: sender,
            terms,
            used: false,
            issued_height: height,
        };
        store(self.view, &keys::licence(licence), &record)?;
        let entry = HistoryEntry::Licensed {
            licence,
            holder: sender,
            fee,
        };
        self.record(id, &mut token, entry)?;
        store(self.view, &keys::token(id), &token)?;
        self.emit(NftEvent::LicenceIssued {
            licence,
            token: id,
            holder: sender,
            fee,
        });
        Ok(())
    }

    pub fn transfer_licence(&mut self, id: LicenceId, to: Address) -> Result<(), ActionError> {
        let mut licence = load::<Licence>(self.view, &keys::licence(id))?
            .ok_or_else(|| err(NftError::UnknownLicence { licence: id }))?;
        let from = self.ctx.sender;
        if licence.holder != from {
            return Err(err(NftError::NotLicenceHolder {
                licence: id,
                holder: licence.holder,
            }));
        }
        if !licence.terms.transferable {
            return Err(err(NftError::LicenceNotTransferable { licence: id }));
        }
        licence.holder = to;
        store(self.view, &keys::licence(id), &licence)?;
        self.emit(NftEvent::LicenceTransferred {
            licence: id,
            from,
            to,
        });
        Ok(())
    }

    pub fn set_fee(&mut self, fee_bps: u32, fee_recipient: Address) -> Result<(), ActionError> {
        require_admin(self.view, &self.ctx.sender)?;
        if fee_bps > MAX_FEE_BPS {
            return Err(bad(&format!(
                "fee_bps {fee_bps} is above the cap {MAX_FEE_BPS}"
            )));
        }
        let params = NftParams {
            fee_bps,
            fee_recipient,
        };
        store(self.view, &keys::params(), &params)?;
        self.emit(NftEvent::FeeSet {
            fee_bps,
            fee_recipient,
        });
        Ok(())
    }
}
