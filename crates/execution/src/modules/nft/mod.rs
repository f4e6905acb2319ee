//! Music NFTs: collections and tokens with frozen content hashes, AI
//! provenance (prompt commit then reveal, attestations by registered
//! attesters), a native marketplace in which every sale pays royalties
//! through the collection's split (and the shares of a derivative's
//! ancestors), and licences from which derivatives are registered.
//!
//! Custody: offers are escrowed in [`offer_custody`] accounts and auction
//! bids in [`auction_custody`] accounts (bank balances, so supply
//! conservation covers them); a listing escrows nothing (the buyer pays the
//! seller and recipients directly when the sale happens).
//!
//! Declarations: every key follows from the payload. Edition counters are
//! sharded ([`EDITION_SHARDS`](lakh_types::modules::nft::EDITION_SHARDS)
//! per collection, the payload names one), so mints of one collection do not
//! all write one key. A token's history is a chain of entries keyed by the
//! writing transaction (token, sender, nonce). Sales name the collections
//! they pay (checked against the token's ancestry) and the accounts they
//! credit (checked against the snapshotted plan). Rules and formulas:
//! `docs/modules/nft.md`.

mod actions;
pub mod math;
mod query;
pub mod state;

pub use query::query;

use crate::modules::kit::{Access, ActionError, TxContext, View};
use crate::modules::kit::{declare_balance, declare_config, object_key};
use lakh_state::{StateKey, object_kind};
use lakh_types::codec::Text;
use lakh_types::modules::nft::{
    CollectionId, Hash32, LicenceId, MAX_DETAIL_BYTES, NftAction, NftError, OfferId, TokenId,
    auction_custody, check, collection_id, kind, licence_id, offer_custody, offer_id,
    prompt_commitment, token_id,
};
use lakh_types::{Address, AssetId, Event};

const _: () = {
    let range = object_kind::NFT;
    assert!(kind::COLLECTION >= range.start && kind::PARAMS < range.end);
};

/// State keys of the module's objects.
pub mod keys {
    use super::*;

    pub fn collection(id: CollectionId) -> StateKey {
        object_key(kind::COLLECTION, &[&id.to_be_bytes()])
    }
    pub fn shard(collection: CollectionId, shard: u8) -> StateKey {
        object_key(kind::SHARD, &[&collection.to_be_bytes(), &[shard]])
    }
    pub fn token(id: TokenId) -> StateKey {
        object_key(kind::TOKEN, &[&id.to_be_bytes()])
    }
    pub fn history(token: TokenId, sender: &Address, nonce: u64) -> StateKey {
        object_key(
            kind::HISTORY,
            &[
                &token.to_be_bytes(),
                sender.as_bytes(),
                &nonce.to_be_bytes(),
            ],
        )
    }
    pub fn provenance(token: TokenId) -> StateKey {
        object_key(kind::PROVENANCE, &[&token.to_be_bytes()])
    }
    /// Keyed by sha256(sender || commitment): object ids hold at most 48 bytes.
    pub fn prompt(sender: &Address, commitment: &Hash32) -> StateKey {
        let id = Hash32::sha256(&[sender.as_bytes().as_slice(), &commitment.0].concat());
        object_key(kind::PROMPT_COMMIT, &[&id.0])
    }
    /// Keyed by sha256(model id || attester): object ids hold at most 48 bytes.
    pub fn attester(model_id: &Hash32, attester: &Address) -> StateKey {
        let id = Hash32::sha256(&[model_id.0.as_slice(), attester.as_bytes()].concat());
        object_key(kind::ATTESTER, &[&id.0])
    }
    pub fn listing(token: TokenId) -> StateKey {
        object_key(kind::LISTING, &[&token.to_be_bytes()])
    }
    pub fn offer(id: OfferId) -> StateKey {
        object_key(kind::OFFER, &[&id.to_be_bytes()])
    }
    pub fn auction(token: TokenId) -> StateKey {
        object_key(kind::AUCTION, &[&token.to_be_bytes()])
    }
    pub fn licence(id: LicenceId) -> StateKey {
        object_key(kind::LICENCE, &[&id.to_be_bytes()])
    }
    pub fn params() -> StateKey {
        object_key(kind::PARAMS, &[])
    }
}

fn declare_payees(payees: &[Address], asset: AssetId, visit: &mut impl FnMut(StateKey, Access)) {
    for p in payees {
        declare_balance(p, asset, visit);
    }
}

fn declare_collections(ids: &[CollectionId], visit: &mut impl FnMut(StateKey, Access)) {
    for id in ids {
        visit(keys::collection(*id), Access::Read);
    }
    visit(keys::params(), Access::Read);
}

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    nonce: u64,
    action: &NftAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    let history = |token: TokenId| keys::history(token, sender, nonce);
    match action {
        NftAction::CreateCollection { .. } => {
            visit(
                keys::collection(collection_id(sender, nonce)),
                Access::Write,
            );
        }
        NftAction::SetRoyalty { collection, .. } => {
            visit(keys::collection(*collection), Access::Write);
        }
        NftAction::VerifyArtist { collection } => {
            declare_config(visit);
            visit(keys::collection(*collection), Access::Write);
        }
        NftAction::Mint {
            collection,
            shard,
            parents,
            ..
        } => {
            let id = token_id(sender, nonce);
            visit(keys::collection(*collection), Access::Read);
            visit(keys::shard(*collection, *shard), Access::Write);
            visit(keys::token(id), Access::Write);
            visit(history(id), Access::Write);
            for p in parents.iter() {
                visit(keys::token(p.token), Access::Write);
                visit(history(p.token), Access::Write);
                visit(keys::licence(p.licence), Access::Write);
            }
        }
        NftAction::UpdateMetadata { token, .. } | NftAction::Freeze { token } => {
            visit(keys::token(*token), Access::Write);
            visit(history(*token), Access::Write);
        }
        NftAction::Transfer {
            token,
            collection,
            fee_asset,
            payees,
            ..
        } => {
            visit(keys::token(*token), Access::Write);
            visit(history(*token), Access::Write);
            visit(keys::listing(*token), Access::Write);
            visit(keys::collection(*collection), Access::Read);
            declare_balance(sender, *fee_asset, visit);
            declare_payees(payees, *fee_asset, visit);
        }
        NftAction::CommitPrompt { commitment } => {
            visit(keys::prompt(sender, commitment), Access::Write);
        }
        NftAction::RecordProvenance {
            token,
            prompt_hash,
            salt,
            ..
        } => {
            let commitment = prompt_commitment(sender, prompt_hash, salt);
            visit(keys::token(*token), Access::Write);
            visit(history(*token), Access::Write);
            visit(keys::provenance(*token), Access::Write);
            visit(keys::prompt(sender, &commitment), Access::Write);
        }
        NftAction::RegisterAttester { model_id, attester } => {
            declare_config(visit);
            visit(keys::attester(model_id, attester), Access::Write);
        }
        NftAction::Attest {
            token,
            attester,
            model_id,
            ..
        } => {
            visit(keys::token(*token), Access::Write);
            visit(history(*token), Access::Write);
            visit(keys::provenance(*token), Access::Write);
            visit(keys::attester(model_id, attester), Access::Read);
        }
        NftAction::List {
            token, collections, ..
        } => {
            visit(keys::token(*token), Access::Read);
            visit(keys::listing(*token), Access::Write);
            declare_collections(collections, visit);
        }
        NftAction::Buy {
            token,
            asset,
            payees,
            ..
        } => {
            visit(keys::listing(*token), Access::Write);
            visit(keys::token(*token), Access::Write);
            visit(history(*token), Access::Write);
            declare_balance(sender, *asset, visit);
            declare_payees(payees, *asset, visit);
        }
        NftAction::CancelListing { token } => {
            visit(keys::listing(*token), Access::Write);
        }
        NftAction::MakeOffer { token, asset, .. } => {
            let id = offer_id(sender, nonce);
            visit(keys::token(*token), Access::Read);
            visit(keys::offer(id), Access::Write);
            declare_balance(sender, *asset, visit);
            declare_balance(&offer_custody(id), *asset, visit);
        }
        NftAction::CancelOffer { offer, asset } => {
            visit(keys::offer(*offer), Access::Write);
            declare_balance(sender, *asset, visit);
            declare_balance(&offer_custody(*offer), *asset, visit);
        }
        NftAction::AcceptOffer {
            offer,
            token,
            asset,
            collections,
            payees,
            ..
        } => {
            visit(keys::offer(*offer), Access::Write);
            visit(keys::token(*token), Access::Write);
            visit(history(*token), Access::Write);
            visit(keys::listing(*token), Access::Write);
            declare_collections(collections, visit);
            declare_balance(&offer_custody(*offer), *asset, visit);
            declare_payees(payees, *asset, visit);
        }
        NftAction::StartAuction {
            token, collections, ..
        } => {
            visit(keys::token(*token), Access::Write);
            visit(keys::listing(*token), Access::Read);
            visit(keys::auction(*token), Access::Write);
            declare_collections(collections, visit);
        }
        NftAction::Bid {
            token,
            asset,
            previous_bidder,
            ..
        } => {
            visit(keys::auction(*token), Access::Write);
            declare_balance(sender, *asset, visit);
            declare_balance(&auction_custody(*token), *asset, visit);
            if let Some(p) = previous_bidder {
                declare_balance(p, *asset, visit);
            }
        }
        NftAction::SettleAuction {
            token,
            asset,
            payees,
        } => {
            visit(keys::auction(*token), Access::Write);
            visit(keys::token(*token), Access::Write);
            visit(history(*token), Access::Write);
            declare_balance(&auction_custody(*token), *asset, visit);
            declare_payees(payees, *asset, visit);
        }
        NftAction::CancelAuction { token } => {
            visit(keys::auction(*token), Access::Write);
            visit(keys::token(*token), Access::Write);
        }
        NftAction::BuyLicence {
            token,
            collection,
            asset,
            payees,
        } => {
            visit(keys::token(*token), Access::Write);
            visit(history(*token), Access::Write);
            visit(keys::collection(*collection), Access::Read);
            visit(keys::licence(licence_id(sender, nonce)), Access::Write);
            declare_balance(sender, *asset, visit);
            declare_payees(payees, *asset, visit);
        }
        NftAction::TransferLicence { licence, .. } => {
            visit(keys::licence(*licence), Access::Write);
        }
        NftAction::SetFee { .. } => {
            declare_config(visit);
            visit(keys::params(), Access::Write);
        }
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &NftAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    // Stateless checks again: a block may carry what ingest would refuse.
    if let Err(detail) = check(action) {
        return Err(crate::modules::kit::fail(NftError::BadParams {
            detail: Text::<MAX_DETAIL_BYTES>::clipped(&detail),
        }));
    }
    let mut run = actions::Run { ctx, view, events };
    match action {
        NftAction::CreateCollection {
            name,
            symbol,
            kind,
            royalty_bps,
            split,
            licence,
            policy,
        } => run.create_collection(name, symbol, kind, *royalty_bps, split, licence, policy),
        NftAction::SetRoyalty {
            collection,
            royalty_bps,
            split,
        } => run.set_royalty(*collection, *royalty_bps, split),
        NftAction::VerifyArtist { collection } => run.verify_artist(*collection),
        NftAction::Mint {
            collection,
            shard,
            to,
            content_hash,
            metadata_hash,
            uri,
            freeze,
            parents,
        } => run.mint(actions::MintArgs {
            collection: *collection,
            shard: *shard,
            to: *to,
            content_hash: *content_hash,
            metadata_hash: *metadata_hash,
            uri,
            freeze: *freeze,
            parents,
        }),
        NftAction::UpdateMetadata {
            token,
            metadata_hash,
            uri,
        } => run.update_metadata(*token, *metadata_hash, uri),
        NftAction::Freeze { token } => run.freeze(*token),
        NftAction::Transfer {
            token,
            collection,
            to,
            fee_asset,
            payees,
        } => run.transfer(*token, *collection, *to, *fee_asset, payees),
        NftAction::CommitPrompt { commitment } => run.commit_prompt(*commitment),
        NftAction::RecordProvenance {
            token,
            model_id,
            model_version,
            prompt_hash,
            salt,
            seed,
            params_hash,
            output_hash,
            contributors,
        } => run.record_provenance(
            *token,
            lakh_types::modules::nft::Provenance {
                model_id: *model_id,
                model_version: model_version.clone(),
                prompt_hash: *prompt_hash,
                seed: *seed,
                params_hash: *params_hash,
                output_hash: *output_hash,
                contributors: contributors.clone(),
                attestations: lakh_types::codec::BoundedVec::empty(),
                conflicts: 0,
                committed_height: 0,
                recorded_height: ctx.height,
            },
            *salt,
        ),
        NftAction::RegisterAttester { model_id, attester } => {
            run.register_attester(*model_id, *attester)
        }
        NftAction::Attest {
            token,
            attester,
            model_id,
            prompt_hash,
            seed,
            output_hash,
            signature,
        } => run.attest(
            *token,
            *attester,
            (*model_id, *prompt_hash, *seed, *output_hash),
            signature,
        ),
        NftAction::List {
            token,
            asset,
            price,
            expiry_height,
            collections,
        } => run.list(*token, *asset, *price, *expiry_height, collections),
        NftAction::Buy {
            token,
            asset,
            max_price,
            payees,
        } => run.buy(*token, *asset, *max_price, payees),
        NftAction::CancelListing { token } => run.cancel_listing(*token),
        NftAction::MakeOffer {
            token,
            asset,
            amount,
            expiry_height,
        } => run.make_offer(*token, *asset, *amount, *expiry_height),
        NftAction::CancelOffer { offer, asset } => run.cancel_offer(*offer, *asset),
        NftAction::AcceptOffer {
            offer,
            token,
            asset,
            bidder,
            collections,
            payees,
        } => run.accept_offer(*offer, *token, *asset, *bidder, collections, payees),
        NftAction::StartAuction {
            token,
            asset,
            reserve,
            end_height,
            collections,
        } => run.start_auction(*token, *asset, *reserve, *end_height, collections),
        NftAction::Bid {
            token,
            asset,
            amount,
            previous_bidder,
        } => run.bid(*token, *asset, *amount, *previous_bidder),
        NftAction::SettleAuction {
            token,
            asset,
            payees,
        } => run.settle_auction(*token, *asset, payees),
        NftAction::CancelAuction { token } => run.cancel_auction(*token),
        NftAction::BuyLicence {
            token,
            collection,
            asset,
            payees,
        } => run.buy_licence(*token, *collection, *asset, payees),
        NftAction::TransferLicence { licence, to } => run.transfer_licence(*licence, *to),
        NftAction::SetFee {
            fee_bps,
            fee_recipient,
        } => run.set_fee(*fee_bps, *fee_recipient),
    }
}
