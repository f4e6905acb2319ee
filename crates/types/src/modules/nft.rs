//! Music NFTs: collections of works with enforced royalties and splits,
//! recorded AI provenance with attestations, a native marketplace (listings,
//! offers, English auctions) in which every sale pays royalties, and licences
//! from which derivative works are registered.
//!
//! The wire types (actions, events, failure reasons) and the stored objects
//! of the `nft` module live here so the execution layer, the wallet and the
//! tests share one definition. The rules are in `lakh_execution::nft`; the
//! formulas are documented in `docs/modules/nft.md`.

use crate::codec::{BoundedVec, Text};
use crate::{Address, AssetId, PrivateKey, PublicKey, Signature};
use bytes::BufMut;
use commonware_codec::{Buf, DecodeExt, Error as CodecError, FixedSize, Read, Write};
use commonware_cryptography::{Hasher, Sha256, Signer, Verifier};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub mod provenance;
pub mod query;

/// Identifier of a collection, derived from its creator and the creating nonce.
pub type CollectionId = u64;
/// Identifier of a token, derived from its minter and the minting nonce.
pub type TokenId = u64;
/// Identifier of an offer, derived from its bidder and the offering nonce.
pub type OfferId = u64;
/// Identifier of a licence token, derived from its buyer and the buying nonce.
pub type LicenceId = u64;

/// Longest collection name (bytes).
pub const MAX_NAME_BYTES: usize = 64;
/// Longest collection symbol (bytes).
pub const MAX_SYMBOL_BYTES: usize = 16;
/// Longest token URI (bytes).
pub const MAX_URI_BYTES: usize = 200;
/// Longest model version (bytes).
pub const MAX_VERSION_BYTES: usize = 32;
/// Most recipients of a royalty split.
pub const MAX_SPLIT: usize = 8;
/// Highest royalty a collection may set (basis points): 50%.
pub const MAX_ROYALTY_BPS: u32 = 5_000;
/// Highest protocol fee (basis points): 10%.
pub const MAX_FEE_BPS: u32 = 1_000;
/// Basis points in one.
pub const BPS: u128 = 10_000;
/// Parts per million in one (licence revenue shares, royalty stacks).
pub const PPM: u128 = 1_000_000;
/// Most editions of a limited collection.
pub const MAX_EDITIONS: u64 = 1_000_000;
/// Edition counters per collection: mints to different shards do not touch
/// the same key, so they run in parallel.
pub const EDITION_SHARDS: u8 = 16;
/// Most parents of a derivative work.
pub const MAX_PARENTS: usize = 4;
/// Most ancestors (parents, their parents, ...) of a derivative work.
pub const MAX_ANCESTORS: usize = 8;
/// Most collections one sale pays royalties to (its own and its ancestors').
pub const MAX_PLAN_PARTS: usize = 1 + MAX_ANCESTORS;
/// Most addresses one payment may credit (seller, every split recipient of
/// every paid collection, the fee recipient).
pub const MAX_PAYEES: usize = 2 + MAX_SPLIT * MAX_PLAN_PARTS;
/// Most human contributors named in a provenance record.
pub const MAX_CONTRIBUTORS: usize = 8;
/// Most attestations kept per provenance record.
pub const MAX_ATTESTATIONS: usize = 8;
/// A bid this close to an auction's end (blocks) extends it to this many
/// blocks after the bid.
pub const AUCTION_EXTENSION_BLOCKS: u64 = 10;
/// Least raise over the highest bid (basis points of it, rounded up, at least 1).
pub const MIN_BID_INCREMENT_BPS: u128 = 500;
/// Longest listing, offer or auction (blocks from now).
pub const MAX_DURATION_BLOCKS: u64 = 10_000_000;
/// Most history entries one query returns.
pub const MAX_HISTORY_PAGE: usize = 50;
/// Longest free-text detail in a failure reason.
pub const MAX_DETAIL_BYTES: usize = 128;
/// Namespace of attestation signatures.
pub const ATTEST_NAMESPACE: &[u8] = b"lakh/nft/attest/v1";

/// A collection's name.
pub type Name = Text<MAX_NAME_BYTES>;
/// A collection's symbol.
pub type CollectionSymbol = Text<MAX_SYMBOL_BYTES>;
/// Where a token's metadata and media may be fetched.
pub type Uri = Text<MAX_URI_BYTES>;
/// A model's version string.
pub type ModelVersion = Text<MAX_VERSION_BYTES>;

/// Object kinds of the module (within `lakh_state::object_kind::NFT`).
pub mod kind {
    /// [`super::Collection`], keyed by collection id.
    pub const COLLECTION: u8 = 0x80;
    /// [`super::EditionShard`], keyed by collection id and shard.
    pub const SHARD: u8 = 0x81;
    /// [`super::Token`], keyed by token id.
    pub const TOKEN: u8 = 0x82;
    /// [`super::HistoryRecord`], keyed by token id, sender and nonce.
    pub const HISTORY: u8 = 0x83;
    /// [`super::Provenance`], keyed by token id.
    pub const PROVENANCE: u8 = 0x84;
    /// [`super::PromptCommit`], keyed by sender and commitment.
    pub const PROMPT_COMMIT: u8 = 0x85;
    /// [`super::AttesterRecord`], keyed by model id and attester.
    pub const ATTESTER: u8 = 0x86;
    /// [`super::Listing`], keyed by token id.
    pub const LISTING: u8 = 0x87;
    /// [`super::Offer`], keyed by offer id.
    pub const OFFER: u8 = 0x88;
    /// [`super::Auction`], keyed by token id.
    pub const AUCTION: u8 = 0x89;
    /// [`super::Licence`], keyed by licence id.
    pub const LICENCE: u8 = 0x8a;
    /// [`super::NftParams`] (one object).
    pub const PARAMS: u8 = 0x8b;
}

/// 32 bytes (a sha256 digest or a model id), hex in JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// sha256 of `data`.
    pub fn sha256(data: &[u8]) -> Hash32 {
        let digest = Sha256::hash(&[data]);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Hash32(out)
    }

    /// Lowercase hex, 64 characters.
    pub fn to_hex(&self) -> String {
        crate::codec::hex32_str(&self.0, &mut [0u8; 64]).to_owned()
    }
}

impl std::fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

impl std::fmt::Display for Hash32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl std::str::FromStr for Hash32 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(s).map_err(|e| format!("not hex: {e}"))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| format!("need 32 bytes, got {}", b.len()))?;
        Ok(Hash32(arr))
    }
}

crate::codec::bytes32_forms!(Hash32);

/// An ed25519 signature's 64 bytes, hex in JSON.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Sig64(pub [u8; 64]);

impl std::fmt::Debug for Sig64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sig64({})", hex::encode(self.0))
    }
}

impl Serialize for Sig64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.0))
    }
}

impl<'de> Deserialize<'de> for Sig64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let bytes =
            hex::decode(s.strip_prefix("0x").unwrap_or(&s)).map_err(serde::de::Error::custom)?;
        let arr: [u8; 64] = bytes.try_into().map_err(|b: Vec<u8>| {
            serde::de::Error::custom(format!("need 64 bytes, got {}", b.len()))
        })?;
        Ok(Sig64(arr))
    }
}

impl Write for Sig64 {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }
}
impl FixedSize for Sig64 {
    const SIZE: usize = 64;
}
impl Read for Sig64 {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        if buf.remaining() < 64 {
            return Err(CodecError::EndOfBuffer);
        }
        let mut out = [0u8; 64];
        buf.copy_to_slice(&mut out);
        Ok(Sig64(out))
    }
}

/// The bytes an attester signs: model id, prompt hash, seed (big-endian) and
/// output hash, under [`ATTEST_NAMESPACE`].
pub fn attestation_message(
    model_id: &Hash32,
    prompt_hash: &Hash32,
    seed: u64,
    output_hash: &Hash32,
) -> Vec<u8> {
    let mut msg = Vec::with_capacity(104);
    msg.extend_from_slice(&model_id.0);
    msg.extend_from_slice(&prompt_hash.0);
    msg.extend_from_slice(&seed.to_be_bytes());
    msg.extend_from_slice(&output_hash.0);
    msg
}

/// Signs an attestation with an attester's key.
pub fn sign_attestation(
    key: &PrivateKey,
    model_id: &Hash32,
    prompt_hash: &Hash32,
    seed: u64,
    output_hash: &Hash32,
) -> Sig64 {
    let sig = key.sign(
        ATTEST_NAMESPACE,
        &attestation_message(model_id, prompt_hash, seed, output_hash),
    );
    let mut out = [0u8; 64];
    out.copy_from_slice(sig.as_ref());
    Sig64(out)
}

/// True when `signature` is `attester`'s ed25519 signature of the attestation.
pub fn verify_attestation(
    attester: &Address,
    model_id: &Hash32,
    prompt_hash: &Hash32,
    seed: u64,
    output_hash: &Hash32,
    signature: &Sig64,
) -> bool {
    let Ok(pk) = PublicKey::decode(bytes::Bytes::copy_from_slice(attester.as_bytes())) else {
        return false;
    };
    let Ok(sig) = Signature::decode(bytes::Bytes::copy_from_slice(&signature.0)) else {
        return false;
    };
    pk.verify(
        ATTEST_NAMESPACE,
        &attestation_message(model_id, prompt_hash, seed, output_hash),
        &sig,
    )
}

/// The commitment to a prompt: sha256 over a domain, the committer, the
/// prompt's hash and a salt. Revealing `prompt_hash` and `salt` later proves
/// the prompt was fixed before.
pub fn prompt_commitment(committer: &Address, prompt_hash: &Hash32, salt: &Hash32) -> Hash32 {
    let mut data = Vec::with_capacity(16 + 96);
    data.extend_from_slice(b"lakh/nft/prompt");
    data.extend_from_slice(committer.as_bytes());
    data.extend_from_slice(&prompt_hash.0);
    data.extend_from_slice(&salt.0);
    Hash32::sha256(&data)
}

fn derive(domain: &[u8], sender: &Address, nonce: u64) -> u64 {
    let digest = Sha256::hash(&[domain, sender.as_bytes(), &nonce.to_be_bytes()]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(id)
}

/// The id of the collection created by `creator`'s transaction with `nonce`.
pub fn collection_id(creator: &Address, nonce: u64) -> CollectionId {
    derive(b"lakh/nft/collection-id", creator, nonce)
}

/// The id of the token minted by `minter`'s transaction with `nonce`.
pub fn token_id(minter: &Address, nonce: u64) -> TokenId {
    derive(b"lakh/nft/token-id", minter, nonce)
}

/// The id of the offer made by `bidder`'s transaction with `nonce`.
pub fn offer_id(bidder: &Address, nonce: u64) -> OfferId {
    derive(b"lakh/nft/offer-id", bidder, nonce)
}

/// The id of the licence bought by `buyer`'s transaction with `nonce`.
pub fn licence_id(buyer: &Address, nonce: u64) -> LicenceId {
    derive(b"lakh/nft/licence-id", buyer, nonce)
}

/// The custody account escrowing an offer's amount.
pub fn offer_custody(offer: OfferId) -> Address {
    let mut id = [0u8; 9];
    id[1..].copy_from_slice(&offer.to_be_bytes());
    Address::module("nft", &id)
}

/// The custody account escrowing an auction's highest bid.
pub fn auction_custody(token: TokenId) -> Address {
    let mut id = [1u8; 9];
    id[1..].copy_from_slice(&token.to_be_bytes());
    Address::module("nft", &id)
}

crate::tagged_enum! {
    /// How many tokens a collection may hold.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum CollectionKind {
        /// A single work: one edition.
        0x01 => OneOfOne {},
        /// Editions numbered 1..=`max_editions`.
        0x02 => Limited {
            /// Most editions (1..=`MAX_EDITIONS`).
            max_editions: u64,
        },
        /// Any number of editions, minted while the height is below `until_height`.
        0x03 => Open {
            /// First height at which minting is closed.
            until_height: u64,
        },
    }
}

crate::tagged_enum! {
    /// How a token may change hands outside the marketplace.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "policy", rename_all = "snake_case")]
    pub enum TransferPolicy {
        /// Gift transfers are free.
        0x01 => Free {},
        /// Only marketplace sales move tokens (every move pays royalty).
        0x02 => MarketOnly {},
        /// A gift transfer pays `amount` of `asset` through the royalty split.
        0x03 => MinFee {
            /// The fee's asset.
            asset: AssetId,
            /// The fee (base units, positive).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
    }
}

crate::codec_struct! {
    /// One recipient of a royalty split and its allocation.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct SplitShare {
        /// Who is paid.
        pub recipient: Address,
        /// Allocation (any positive unit; shares are relative to their sum).
        pub share: u32,
    }
}

/// A royalty split: 1..=`MAX_SPLIT` recipients.
pub type Split = BoundedVec<SplitShare, MAX_SPLIT>;

crate::codec_struct! {
    /// Licence terms a collection offers for its works.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct LicenceTerms {
        /// Commercial use is allowed.
        pub commercial_use: bool,
        /// Derivative works may be registered with the licence.
        pub derivatives_allowed: bool,
        /// Attribution is required.
        pub attribution: bool,
        /// Share of every sale of a derivative paid to this work (ppm, ≤ 1,000,000).
        pub revenue_share_ppm: u32,
        /// Asset the minting fee is paid in.
        pub fee_asset: AssetId,
        /// Price of one licence token, paid through the royalty split (base units).
        #[serde(with = "crate::amount")]
        pub minting_fee: u128,
        /// First height at which licences are expired (0: never).
        pub expiry_height: u64,
        /// Licence tokens may be transferred.
        pub transferable: bool,
        /// sha256 of the legal text.
        pub legal_hash: Hash32,
    }
}

crate::codec_struct! {
    /// A collection of works.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Collection {
        /// The only account that mints and sets royalties.
        pub creator: Address,
        /// Display name.
        pub name: Name,
        /// Short symbol.
        pub symbol: CollectionSymbol,
        /// 1/1, limited or open edition.
        pub kind: CollectionKind,
        /// Royalty on every sale (basis points, ≤ `MAX_ROYALTY_BPS`).
        pub royalty_bps: u32,
        /// Who receives the royalty.
        pub split: Split,
        /// Licence terms offered for the collection's works.
        pub licence: Option<LicenceTerms>,
        /// How tokens may move outside the marketplace.
        pub policy: TransferPolicy,
        /// The admin account that verified the artist, if any.
        pub verified_by: Option<Address>,
        /// Height it was created at.
        pub created_height: u64,
    }
}

crate::codec_struct! {
    /// Editions minted in one shard of a collection.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct EditionShard {
        /// Editions minted in the shard so far.
        pub minted: u64,
    }
}

/// The edition number of the `index`-th mint (from 0) in `shard`.
pub fn edition_number(shard: u8, index: u64) -> Option<u64> {
    index
        .checked_mul(EDITION_SHARDS as u64)?
        .checked_add(shard as u64 + 1)
}

crate::codec_struct! {
    /// One work a derivative pays a revenue share to.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Ancestor {
        /// The ancestor work.
        pub token: TokenId,
        /// Its collection, whose split is paid.
        pub collection: CollectionId,
        /// Share of every sale (ppm).
        pub share_ppm: u32,
    }
}

crate::codec_struct! {
    /// Where a token's history chain continues: the entry written by
    /// `sender`'s transaction with `nonce`.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct HistoryRef {
        /// Sender of the transaction that wrote the entry.
        pub sender: Address,
        /// Its nonce.
        pub nonce: u64,
    }
}

crate::codec_struct! {
    /// A token (one edition of a work).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Token {
        /// Its collection.
        pub collection: CollectionId,
        /// The collection's creator (copied at mint).
        pub creator: Address,
        /// Edition number (from 1).
        pub edition: u64,
        /// Current owner.
        pub owner: Address,
        /// sha256 of the audio master (fixed at mint).
        pub content_hash: Hash32,
        /// sha256 of the metadata (changeable by the creator until frozen).
        pub metadata_hash: Hash32,
        /// Where metadata and media may be fetched (changeable until frozen).
        pub uri: Uri,
        /// Metadata and URI are frozen.
        pub frozen: bool,
        /// Times the token changed owner (listings record it and die when it moves).
        pub moves: u64,
        /// Locked in an auction.
        pub in_auction: bool,
        /// A registered attester signed a provenance that conflicts with the record.
        pub flagged: bool,
        /// The gift-transfer policy (copied at mint).
        pub policy: TransferPolicy,
        /// Works this one derives from.
        pub parents: BoundedVec<TokenId, MAX_PARENTS>,
        /// Every ancestor and its revenue share (merged per work).
        pub ancestry: BoundedVec<Ancestor, MAX_ANCESTORS>,
        /// Total revenue share owed to ancestors (ppm).
        pub stack_ppm: u32,
        /// Newest history entry.
        pub last_history: Option<HistoryRef>,
        /// History entries written.
        pub history_len: u64,
    }
}

crate::tagged_enum! {
    /// Something that happened to a token.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "event", rename_all = "snake_case")]
    pub enum HistoryEntry {
        /// Minted.
        0x01 => Minted {
            /// First owner.
            to: Address,
            /// Edition number.
            edition: u64,
        },
        /// Moved as a gift (with the policy's fee, if any).
        0x02 => Transferred {
            /// Previous owner.
            from: Address,
            /// New owner.
            to: Address,
            /// Fee paid through the split (base units).
            #[serde(with = "crate::amount")]
            fee: u128,
        },
        /// Sold on the marketplace.
        0x03 => Sold {
            /// Seller.
            from: Address,
            /// Buyer.
            to: Address,
            /// The sale's asset.
            asset: AssetId,
            /// Price (base units).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Royalty paid (base units).
            #[serde(with = "crate::amount")]
            royalty: u128,
            /// Protocol fee paid (base units).
            #[serde(with = "crate::amount")]
            fee: u128,
        },
        /// A licence token was bought for the work.
        0x04 => Licensed {
            /// The licence token.
            licence: LicenceId,
            /// Its holder.
            holder: Address,
            /// Minting fee paid (base units).
            #[serde(with = "crate::amount")]
            fee: u128,
        },
        /// A derivative work was registered with this work as parent.
        0x05 => DerivativeLinked {
            /// The derivative.
            child: TokenId,
            /// The licence used.
            licence: LicenceId,
        },
        /// Metadata changed before the freeze.
        0x06 => MetadataChanged {
            /// New metadata hash.
            metadata_hash: Hash32,
            /// New URI.
            uri: Uri,
        },
        /// Metadata frozen.
        0x07 => Frozen {},
        /// A provenance record was revealed.
        0x08 => ProvenanceRecorded {
            /// The model.
            model_id: Hash32,
        },
        /// A registered attester confirmed the provenance.
        0x09 => Attested {
            /// The attester.
            attester: Address,
        },
        /// A registered attester signed a conflicting provenance.
        0x0a => Flagged {
            /// The attester.
            attester: Address,
        },
    }
}

crate::codec_struct! {
    /// One entry of a token's history, linked to the one before.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct HistoryRecord {
        /// Height of the block that wrote it.
        pub height: u64,
        /// The entry before (none for the first).
        pub prev: Option<HistoryRef>,
        /// What happened.
        pub entry: HistoryEntry,
    }
}

crate::codec_struct! {
    /// How an AI-generated work was made, revealed by its creator.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Provenance {
        /// The model (hash of its weights or a registry id).
        pub model_id: Hash32,
        /// The model's version.
        pub model_version: ModelVersion,
        /// sha256 of the prompt (committed at least one block before).
        pub prompt_hash: Hash32,
        /// The generation seed.
        pub seed: u64,
        /// sha256 of the generation parameters.
        pub params_hash: Hash32,
        /// sha256 of the output: equals the token's content hash.
        pub output_hash: Hash32,
        /// Humans who contributed.
        pub contributors: BoundedVec<Address, MAX_CONTRIBUTORS>,
        /// Registered attesters that signed this exact record.
        pub attestations: BoundedVec<Address, MAX_ATTESTATIONS>,
        /// Registered attesters that signed a conflicting record.
        pub conflicts: u32,
        /// Height of the prompt commitment.
        pub committed_height: u64,
        /// Height of the reveal.
        pub recorded_height: u64,
    }
}

crate::codec_struct! {
    /// A prompt commitment awaiting its reveal.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PromptCommit {
        /// Height it was committed at.
        pub height: u64,
    }
}

crate::codec_struct! {
    /// An attester registered for a model.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct AttesterRecord {
        /// Height it was registered at.
        pub registered_height: u64,
    }
}

crate::codec_struct! {
    /// The royalty of one collection within a sale.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PlanPart {
        /// The collection paid.
        pub collection: CollectionId,
        /// Its rate (ppm of the price).
        pub rate_ppm: u32,
        /// Its split.
        pub split: Split,
    }
}

crate::codec_struct! {
    /// Who a sale pays, snapshotted when the listing (offer acceptance,
    /// auction) is made: later royalty or split changes do not apply to it.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Plan {
        /// The token's collection first, then its ancestors' collections.
        pub parts: BoundedVec<PlanPart, MAX_PLAN_PARTS>,
        /// Protocol fee (basis points).
        pub fee_bps: u32,
        /// Who receives the fee.
        pub fee_recipient: Address,
    }
}

impl Plan {
    /// Sum of the parts' rates (ppm).
    pub fn royalty_ppm(&self) -> u64 {
        self.parts.iter().map(|p| p.rate_ppm as u64).sum()
    }
}

crate::codec_struct! {
    /// A fixed-price listing.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Listing {
        /// The owner when listed.
        pub seller: Address,
        /// The price's asset.
        pub asset: AssetId,
        /// Price (base units).
        #[serde(with = "crate::amount")]
        pub price: u128,
        /// First height at which the listing is expired.
        pub expiry_height: u64,
        /// The token's move count when listed: the listing dies when it moves.
        pub moves: u64,
        /// Royalty, split and fee snapshot.
        pub plan: Plan,
    }
}

crate::codec_struct! {
    /// An escrowed offer for a token.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Offer {
        /// Who offers (and receives the token).
        pub bidder: Address,
        /// The token wanted.
        pub token: TokenId,
        /// The offer's asset.
        pub asset: AssetId,
        /// Amount escrowed (base units).
        #[serde(with = "crate::amount")]
        pub amount: u128,
        /// First height at which the offer can no longer be accepted.
        pub expiry_height: u64,
    }
}

crate::codec_struct! {
    /// An English auction.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Auction {
        /// The owner who started it.
        pub seller: Address,
        /// The bids' asset.
        pub asset: AssetId,
        /// Least first bid (base units, positive).
        #[serde(with = "crate::amount")]
        pub reserve: u128,
        /// First height at which bids are closed and the auction may be settled.
        pub end_height: u64,
        /// Highest bidder so far.
        pub highest_bidder: Option<Address>,
        /// Highest bid (escrowed; base units).
        #[serde(with = "crate::amount")]
        pub highest_bid: u128,
        /// Royalty, split and fee snapshot.
        pub plan: Plan,
    }
}

crate::codec_struct! {
    /// A licence token.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Licence {
        /// The licensed work.
        pub token: TokenId,
        /// Its collection.
        pub collection: CollectionId,
        /// Current holder.
        pub holder: Address,
        /// Terms as bought.
        pub terms: LicenceTerms,
        /// Already used to register a derivative.
        pub used: bool,
        /// Height it was bought at.
        pub issued_height: u64,
    }
}

crate::codec_struct! {
    /// Module parameters set by the admin.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct NftParams {
        /// Protocol fee on every sale (basis points, ≤ `MAX_FEE_BPS`).
        pub fee_bps: u32,
        /// Who receives the fee.
        pub fee_recipient: Address,
    }
}

crate::codec_struct! {
    /// A parent of a derivative and the licence that allows it.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct ParentLink {
        /// The parent work.
        pub token: TokenId,
        /// A licence token for it held by the minter.
        pub licence: LicenceId,
    }
}

/// Checks a royalty and split (stateless); the message names the numbers.
pub fn validate_royalty(royalty_bps: u32, split: &Split) -> Result<(), String> {
    if royalty_bps > MAX_ROYALTY_BPS {
        return Err(format!(
            "royalty_bps {royalty_bps} is above the cap {MAX_ROYALTY_BPS}"
        ));
    }
    if split.is_empty() {
        return Err("the split needs at least one recipient".into());
    }
    for (i, s) in split.iter().enumerate() {
        if s.share == 0 {
            return Err(format!("split recipient {} has a zero share", s.recipient));
        }
        if s.recipient == Address::default() {
            return Err("split recipient is the zero address".into());
        }
        if split[..i].iter().any(|o| o.recipient == s.recipient) {
            return Err(format!("split recipient {} is listed twice", s.recipient));
        }
    }
    Ok(())
}

/// Checks licence terms (stateless).
pub fn validate_terms(t: &LicenceTerms) -> Result<(), String> {
    if t.revenue_share_ppm as u128 > PPM {
        return Err(format!(
            "revenue_share_ppm {} is above {PPM}",
            t.revenue_share_ppm
        ));
    }
    Ok(())
}

fn printable(s: &str, what: &str, max: usize) -> Result<(), String> {
    if s.is_empty() || s.chars().any(|c| c.is_control()) {
        return Err(format!(
            "{what} {s:?} must be 1..={max} bytes without control characters"
        ));
    }
    Ok(())
}

crate::tagged_enum! {
    /// What an `nft` transaction does.
    ///
    /// Every action names the state it touches (the token's collection, the
    /// collections a sale pays, the accounts it credits), so the access set
    /// follows from the payload alone; execution refuses a payload that
    /// leaves out what state requires.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum NftAction {
        /// Creates a collection owned by the sender; its id is
        /// `collection_id(sender, nonce)`.
        0x01 => CreateCollection {
            /// Display name.
            name: Name,
            /// Short symbol.
            symbol: CollectionSymbol,
            /// 1/1, limited or open edition.
            kind: CollectionKind,
            /// Royalty (basis points, ≤ `MAX_ROYALTY_BPS`).
            royalty_bps: u32,
            /// Royalty recipients.
            split: Split,
            /// Licence terms offered, if any.
            licence: Option<LicenceTerms>,
            /// Gift-transfer policy.
            policy: TransferPolicy,
        },
        /// Creator only: changes the royalty and split (live listings keep
        /// their snapshot).
        0x02 => SetRoyalty {
            /// The collection.
            collection: CollectionId,
            /// New royalty (basis points).
            royalty_bps: u32,
            /// New split.
            split: Split,
        },
        /// Admin only: marks the collection's creator as a verified artist.
        0x03 => VerifyArtist {
            /// The collection.
            collection: CollectionId,
        },
        /// Creator only: mints an edition to `to`; its id is `token_id(sender, nonce)`.
        0x04 => Mint {
            /// The collection.
            collection: CollectionId,
            /// Edition counter to draw from (`< EDITION_SHARDS`; 0 for a 1/1).
            shard: u8,
            /// First owner.
            to: Address,
            /// sha256 of the audio master.
            content_hash: Hash32,
            /// sha256 of the metadata.
            metadata_hash: Hash32,
            /// Where metadata and media may be fetched.
            uri: Uri,
            /// Freeze metadata at mint.
            freeze: bool,
            /// Parent works and the sender's licences for them (a derivative).
            parents: BoundedVec<ParentLink, MAX_PARENTS>,
        },
        /// Creator only, before the freeze: changes metadata and URI.
        0x05 => UpdateMetadata {
            /// The token.
            token: TokenId,
            /// New metadata hash.
            metadata_hash: Hash32,
            /// New URI.
            uri: Uri,
        },
        /// Creator only: freezes metadata and URI for good.
        0x06 => Freeze {
            /// The token.
            token: TokenId,
        },
        /// Owner only: gives the token to `to` under the collection's policy.
        0x07 => Transfer {
            /// The token.
            token: TokenId,
            /// Its collection.
            collection: CollectionId,
            /// New owner.
            to: Address,
            /// The policy fee's asset (any value under a free policy).
            fee_asset: AssetId,
            /// Accounts the policy's fee may credit (the split's recipients).
            payees: BoundedVec<Address, MAX_PAYEES>,
        },
        /// Commits to a prompt ([`prompt_commitment`]) before revealing it.
        0x08 => CommitPrompt {
            /// The commitment.
            commitment: Hash32,
        },
        /// Creator only: reveals the provenance of a token, at least one block
        /// after committing to its prompt.
        0x09 => RecordProvenance {
            /// The token.
            token: TokenId,
            /// The model.
            model_id: Hash32,
            /// The model's version.
            model_version: ModelVersion,
            /// sha256 of the prompt.
            prompt_hash: Hash32,
            /// The commitment's salt.
            salt: Hash32,
            /// The generation seed.
            seed: u64,
            /// sha256 of the generation parameters.
            params_hash: Hash32,
            /// sha256 of the output (must equal the content hash).
            output_hash: Hash32,
            /// Humans who contributed.
            contributors: BoundedVec<Address, MAX_CONTRIBUTORS>,
        },
        /// Admin only: registers `attester` for `model_id`.
        0x0a => RegisterAttester {
            /// The model.
            model_id: Hash32,
            /// The attester's key.
            attester: Address,
        },
        /// Records an attester's signature over (model id, prompt hash,
        /// seed, output hash) for a token; anyone may submit it. A signature
        /// over values that differ from the record flags the token.
        0x0b => Attest {
            /// The token.
            token: TokenId,
            /// The attester (registered for `model_id`).
            attester: Address,
            /// Signed model id.
            model_id: Hash32,
            /// Signed prompt hash.
            prompt_hash: Hash32,
            /// Signed seed.
            seed: u64,
            /// Signed output hash.
            output_hash: Hash32,
            /// The attester's ed25519 signature.
            signature: Sig64,
        },
        /// Owner only: lists the token at a fixed price.
        0x0c => List {
            /// The token.
            token: TokenId,
            /// The price's asset.
            asset: AssetId,
            /// Price (base units, positive).
            #[serde(with = "crate::amount")]
            price: u128,
            /// First height at which the listing is expired.
            expiry_height: u64,
            /// The token's collection, then its ancestors' collections.
            collections: BoundedVec<CollectionId, MAX_PLAN_PARTS>,
        },
        /// Buys a listed token at its price if it is at most `max_price`.
        0x0d => Buy {
            /// The token.
            token: TokenId,
            /// The listing's asset.
            asset: AssetId,
            /// Most to pay (base units).
            #[serde(with = "crate::amount")]
            max_price: u128,
            /// Accounts the sale credits (seller, split recipients, fee recipient).
            payees: BoundedVec<Address, MAX_PAYEES>,
        },
        /// Seller only: withdraws a listing.
        0x0e => CancelListing {
            /// The token.
            token: TokenId,
        },
        /// Offers `amount` of `asset` for a token, escrowed; its id is
        /// `offer_id(sender, nonce)`.
        0x0f => MakeOffer {
            /// The token.
            token: TokenId,
            /// The offer's asset.
            asset: AssetId,
            /// Amount (base units, positive).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// First height at which it can no longer be accepted.
            expiry_height: u64,
        },
        /// Bidder only: withdraws an offer and its escrow.
        0x10 => CancelOffer {
            /// The offer.
            offer: OfferId,
            /// Its asset.
            asset: AssetId,
        },
        /// Owner only: sells the token to an offer's bidder.
        0x11 => AcceptOffer {
            /// The offer.
            offer: OfferId,
            /// The token.
            token: TokenId,
            /// The offer's asset.
            asset: AssetId,
            /// The offer's bidder.
            bidder: Address,
            /// The token's collection, then its ancestors' collections.
            collections: BoundedVec<CollectionId, MAX_PLAN_PARTS>,
            /// Accounts the sale credits.
            payees: BoundedVec<Address, MAX_PAYEES>,
        },
        /// Owner only: auctions the token (locked until settled or cancelled).
        0x12 => StartAuction {
            /// The token.
            token: TokenId,
            /// The bids' asset.
            asset: AssetId,
            /// Least first bid (base units, positive).
            #[serde(with = "crate::amount")]
            reserve: u128,
            /// First height at which bids are closed.
            end_height: u64,
            /// The token's collection, then its ancestors' collections.
            collections: BoundedVec<CollectionId, MAX_PLAN_PARTS>,
        },
        /// Bids on an auction, escrowed; the previous highest bid is refunded.
        0x13 => Bid {
            /// The token.
            token: TokenId,
            /// The bids' asset.
            asset: AssetId,
            /// The bid (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The current highest bidder (refunded), as the bidder saw it.
            previous_bidder: Option<Address>,
        },
        /// Anyone, after the end: pays the seller, royalty and fee and gives
        /// the token to the winner (or back to the seller without bids).
        0x14 => SettleAuction {
            /// The token.
            token: TokenId,
            /// The bids' asset.
            asset: AssetId,
            /// Accounts the sale credits.
            payees: BoundedVec<Address, MAX_PAYEES>,
        },
        /// Seller only, before any bid: ends the auction.
        0x15 => CancelAuction {
            /// The token.
            token: TokenId,
        },
        /// Buys a licence token for a work, paying the minting fee through the
        /// collection's split; its id is `licence_id(sender, nonce)`.
        0x16 => BuyLicence {
            /// The work.
            token: TokenId,
            /// Its collection.
            collection: CollectionId,
            /// The minting fee's asset (the terms').
            asset: AssetId,
            /// Accounts the fee credits (the split's recipients).
            payees: BoundedVec<Address, MAX_PAYEES>,
        },
        /// Holder only: gives a transferable licence token to `to`.
        0x17 => TransferLicence {
            /// The licence token.
            licence: LicenceId,
            /// New holder.
            to: Address,
        },
        /// Admin only: sets the protocol fee.
        0x18 => SetFee {
            /// Fee (basis points, ≤ `MAX_FEE_BPS`).
            fee_bps: u32,
            /// Who receives it.
            fee_recipient: Address,
        },
    }
}

crate::tagged_enum! {
    /// Something an `nft` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum NftEvent {
        /// A collection was created.
        0x01 => CollectionCreated {
            /// The collection.
            collection: CollectionId,
            /// Its creator.
            creator: Address,
        },
        /// A collection's royalty or split changed.
        0x02 => RoyaltySet {
            /// The collection.
            collection: CollectionId,
            /// New royalty (basis points).
            royalty_bps: u32,
        },
        /// The admin verified a collection's artist.
        0x03 => ArtistVerified {
            /// The collection.
            collection: CollectionId,
        },
        /// A token was minted.
        0x04 => Minted {
            /// The token.
            token: TokenId,
            /// Its collection.
            collection: CollectionId,
            /// Edition number.
            edition: u64,
            /// First owner.
            to: Address,
            /// sha256 of the audio master.
            content_hash: Hash32,
        },
        /// Metadata changed before the freeze.
        0x05 => MetadataChanged {
            /// The token.
            token: TokenId,
            /// New metadata hash.
            metadata_hash: Hash32,
            /// New URI.
            uri: Uri,
        },
        /// Metadata was frozen.
        0x06 => Frozen {
            /// The token.
            token: TokenId,
        },
        /// A token was given away.
        0x07 => Transferred {
            /// The token.
            token: TokenId,
            /// Previous owner.
            from: Address,
            /// New owner.
            to: Address,
            /// Policy fee paid through the split (base units).
            #[serde(with = "crate::amount")]
            fee: u128,
        },
        /// A prompt commitment was recorded.
        0x08 => PromptCommitted {
            /// The commitment.
            commitment: Hash32,
        },
        /// A token's provenance was revealed.
        0x09 => ProvenanceRecorded {
            /// The token.
            token: TokenId,
            /// The model.
            model_id: Hash32,
        },
        /// An attester was registered for a model.
        0x0a => AttesterRegistered {
            /// The model.
            model_id: Hash32,
            /// The attester.
            attester: Address,
        },
        /// An attester confirmed a token's provenance.
        0x0b => Attested {
            /// The token.
            token: TokenId,
            /// The attester.
            attester: Address,
        },
        /// An attester signed a provenance conflicting with the record.
        0x0c => Flagged {
            /// The token.
            token: TokenId,
            /// The attester.
            attester: Address,
        },
        /// A token was listed.
        0x0d => Listed {
            /// The token.
            token: TokenId,
            /// Seller.
            seller: Address,
            /// The price's asset.
            asset: AssetId,
            /// Price (base units).
            #[serde(with = "crate::amount")]
            price: u128,
            /// First height at which it is expired.
            expiry_height: u64,
        },
        /// A listing was withdrawn (or died with a move).
        0x0e => ListingClosed {
            /// The token.
            token: TokenId,
        },
        /// A token was sold.
        0x0f => Sold {
            /// The token.
            token: TokenId,
            /// Seller.
            from: Address,
            /// Buyer.
            to: Address,
            /// The sale's asset.
            asset: AssetId,
            /// Price (base units).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Royalty paid through the splits (base units).
            #[serde(with = "crate::amount")]
            royalty: u128,
            /// Protocol fee (base units).
            #[serde(with = "crate::amount")]
            fee: u128,
            /// Paid to the seller (base units).
            #[serde(with = "crate::amount")]
            proceeds: u128,
        },
        /// A royalty payment to one split recipient.
        0x10 => RoyaltyPaid {
            /// The token sold.
            token: TokenId,
            /// The collection whose split paid.
            collection: CollectionId,
            /// The recipient.
            recipient: Address,
            /// Amount (base units of the sale's asset).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// An offer was made.
        0x11 => OfferMade {
            /// The offer.
            offer: OfferId,
            /// The token.
            token: TokenId,
            /// Bidder.
            bidder: Address,
            /// Amount escrowed (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// An offer was withdrawn.
        0x12 => OfferCancelled {
            /// The offer.
            offer: OfferId,
        },
        /// An auction started.
        0x13 => AuctionStarted {
            /// The token.
            token: TokenId,
            /// Seller.
            seller: Address,
            /// Least first bid (base units).
            #[serde(with = "crate::amount")]
            reserve: u128,
            /// First height at which bids are closed.
            end_height: u64,
        },
        /// A bid was placed.
        0x14 => BidPlaced {
            /// The token.
            token: TokenId,
            /// Bidder.
            bidder: Address,
            /// Bid (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The auction's end after the bid.
            end_height: u64,
        },
        /// An auction ended without a sale (no bids, or cancelled).
        0x15 => AuctionClosed {
            /// The token.
            token: TokenId,
        },
        /// A licence token was bought.
        0x16 => LicenceIssued {
            /// The licence token.
            licence: LicenceId,
            /// The work.
            token: TokenId,
            /// Holder.
            holder: Address,
            /// Minting fee paid (base units).
            #[serde(with = "crate::amount")]
            fee: u128,
        },
        /// A licence token changed holder.
        0x17 => LicenceTransferred {
            /// The licence token.
            licence: LicenceId,
            /// Previous holder.
            from: Address,
            /// New holder.
            to: Address,
        },
        /// A derivative was linked to a parent.
        0x18 => DerivativeLinked {
            /// The derivative.
            child: TokenId,
            /// The parent.
            parent: TokenId,
            /// The licence used.
            licence: LicenceId,
        },
        /// The protocol fee changed.
        0x19 => FeeSet {
            /// Fee (basis points).
            fee_bps: u32,
            /// Recipient.
            fee_recipient: Address,
        },
    }
}

crate::tagged_enum! {
    /// Why an `nft` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum NftError {
        /// Malformed parameters.
        #[error("bad parameters: {detail}")]
        0x01 => BadParams {
            /// What is wrong.
            detail: Text<MAX_DETAIL_BYTES>,
        },
        /// No collection has this id.
        #[error("no collection {collection}")]
        0x02 => UnknownCollection {
            /// The collection.
            collection: CollectionId,
        },
        /// The id is taken (a collection, token, offer or licence).
        #[error("id {id} is already taken")]
        0x03 => IdTaken {
            /// The id.
            id: u64,
        },
        /// Only the collection's creator may do this.
        #[error("only the creator {creator} may do this")]
        0x04 => NotCreator {
            /// The creator.
            creator: Address,
        },
        /// The edition cap is reached (or the shard's editions would pass it).
        #[error("edition {edition} would pass the cap of {max_editions}")]
        0x05 => EditionCapReached {
            /// The edition the mint would number.
            edition: u64,
            /// The collection's cap.
            max_editions: u64,
        },
        /// Minting of an open edition closed.
        #[error("minting closed at height {until_height}; it is now {height}")]
        0x06 => MintingClosed {
            /// First closed height.
            until_height: u64,
            /// Height of the block.
            height: u64,
        },
        /// No token has this id.
        #[error("no token {token}")]
        0x07 => UnknownToken {
            /// The token.
            token: TokenId,
        },
        /// The sender does not own the token.
        #[error("token {token} is owned by {owner}")]
        0x08 => NotOwner {
            /// The token.
            token: TokenId,
            /// Its owner.
            owner: Address,
        },
        /// The metadata is frozen.
        #[error("token {token} is frozen")]
        0x09 => MetadataFrozen {
            /// The token.
            token: TokenId,
        },
        /// The action names another collection than the token's.
        #[error("token is in collection {expected}, the action names {given}")]
        0x0a => WrongCollection {
            /// The token's collection.
            expected: CollectionId,
            /// The named one.
            given: CollectionId,
        },
        /// The collection only lets tokens move through the marketplace.
        #[error("collection {collection} only allows marketplace sales")]
        0x0b => MarketOnly {
            /// The collection.
            collection: CollectionId,
        },
        /// The payload's payees leave out an account the payment credits.
        #[error("the payment credits {payee}, which the action does not declare")]
        0x0c => UndeclaredPayee {
            /// The account left out.
            payee: Address,
        },
        /// The payload's collections leave out one the sale pays.
        #[error("the sale pays collection {collection}, which the action does not declare")]
        0x0d => UndeclaredCollection {
            /// The collection left out.
            collection: CollectionId,
        },
        /// The token is locked in an auction.
        #[error("token {token} is in an auction")]
        0x0e => TokenInAuction {
            /// The token.
            token: TokenId,
        },
        /// No prompt commitment matches the reveal.
        #[error("no prompt commitment {commitment} by the sender")]
        0x0f => NoPromptCommit {
            /// The commitment the reveal implies.
            commitment: Hash32,
        },
        /// A reveal in the block of its commitment.
        #[error("prompt committed at height {committed_height}; reveal from height {reveal_from}")]
        0x10 => RevealTooEarly {
            /// Commitment height.
            committed_height: u64,
            /// First height a reveal is accepted.
            reveal_from: u64,
        },
        /// The output hash is not the token's content hash.
        #[error("output hash {output_hash} is not the content hash {content_hash}")]
        0x11 => OutputHashMismatch {
            /// The output hash given.
            output_hash: Hash32,
            /// The token's content hash.
            content_hash: Hash32,
        },
        /// The token already has a provenance record.
        #[error("token {token} already has a provenance record")]
        0x12 => ProvenanceExists {
            /// The token.
            token: TokenId,
        },
        /// The token has no provenance record.
        #[error("token {token} has no provenance record")]
        0x13 => NoProvenance {
            /// The token.
            token: TokenId,
        },
        /// The attester is not registered for the model.
        #[error("{attester} is not a registered attester of model {model_id}")]
        0x14 => AttesterNotRegistered {
            /// The attester.
            attester: Address,
            /// The model.
            model_id: Hash32,
        },
        /// The signature does not verify.
        #[error("bad attestation signature by {attester}")]
        0x15 => BadSignature {
            /// The claimed attester.
            attester: Address,
        },
        /// The attester already attested the token.
        #[error("{attester} already attested token {token}")]
        0x16 => AlreadyAttested {
            /// The token.
            token: TokenId,
            /// The attester.
            attester: Address,
        },
        /// The attester is already registered.
        #[error("{attester} is already registered for model {model_id}")]
        0x17 => AttesterExists {
            /// The attester.
            attester: Address,
            /// The model.
            model_id: Hash32,
        },
        /// The token is not listed.
        #[error("token {token} is not listed")]
        0x18 => NotListed {
            /// The token.
            token: TokenId,
        },
        /// The token is already listed or auctioned.
        #[error("token {token} is already listed")]
        0x19 => AlreadyListed {
            /// The token.
            token: TokenId,
        },
        /// The listing, offer or auction has expired.
        #[error("expired at height {expiry_height}; it is now {height}")]
        0x1a => Expired {
            /// First expired height.
            expiry_height: u64,
            /// Height of the block.
            height: u64,
        },
        /// The token moved since it was listed.
        #[error("token {token} moved since it was listed (moves {listed} then, {now} now)")]
        0x1b => StaleListing {
            /// The token.
            token: TokenId,
            /// Move count at listing.
            listed: u64,
            /// Move count now.
            now: u64,
        },
        /// The price is above the buyer's maximum.
        #[error("price {price} is above the maximum {max_price}")]
        0x1c => PriceTooHigh {
            /// The price.
            #[serde(with = "crate::amount")]
            price: u128,
            /// The maximum.
            #[serde(with = "crate::amount")]
            max_price: u128,
        },
        /// Buying from oneself.
        #[error("{buyer} cannot buy their own token {token}")]
        0x1d => OwnToken {
            /// The token.
            token: TokenId,
            /// The buyer.
            buyer: Address,
        },
        /// The action names another asset than the listing, offer or auction.
        #[error("expected asset {expected}, the action names {given}")]
        0x1e => WrongAsset {
            /// The right asset.
            expected: AssetId,
            /// The named one.
            given: AssetId,
        },
        /// Royalty plus fee would take more than the whole price.
        #[error("royalty {royalty_ppm} ppm plus fee {fee_bps} bps exceed 100%")]
        0x1f => RoyaltyAndFeeAbovePrice {
            /// Total royalty (ppm).
            royalty_ppm: u64,
            /// Fee (basis points).
            fee_bps: u32,
        },
        /// No offer has this id.
        #[error("no offer {offer}")]
        0x20 => UnknownOffer {
            /// The offer.
            offer: OfferId,
        },
        /// The sender is not the offer's bidder (or the named bidder is wrong).
        #[error("offer {offer} belongs to {bidder}")]
        0x21 => NotBidder {
            /// The offer.
            offer: OfferId,
            /// Its bidder.
            bidder: Address,
        },
        /// The offer is for another token.
        #[error("offer is for token {expected}, the action names {given}")]
        0x22 => WrongToken {
            /// The offer's token.
            expected: TokenId,
            /// The named one.
            given: TokenId,
        },
        /// No auction for the token.
        #[error("token {token} is not in an auction")]
        0x23 => NoAuction {
            /// The token.
            token: TokenId,
        },
        /// Bidding on an ended auction.
        #[error("auction ended at height {end_height}; it is now {height}")]
        0x24 => AuctionEnded {
            /// First closed height.
            end_height: u64,
            /// Height of the block.
            height: u64,
        },
        /// Settling before the end.
        #[error("auction runs until height {end_height}; it is now {height}")]
        0x25 => AuctionRunning {
            /// First closed height.
            end_height: u64,
            /// Height of the block.
            height: u64,
        },
        /// The bid is below the reserve or the least raise.
        #[error("bid {amount} is below the minimum {minimum}")]
        0x26 => BidTooLow {
            /// The bid.
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Least acceptable bid.
            #[serde(with = "crate::amount")]
            minimum: u128,
        },
        /// The action's previous bidder is not the auction's.
        #[error("the highest bidder is {expected:?}, the action names {given:?}")]
        0x27 => StaleBidder {
            /// The auction's highest bidder.
            expected: Option<Address>,
            /// The named one.
            given: Option<Address>,
        },
        /// Cancelling an auction that has bids.
        #[error("auction of token {token} has bids")]
        0x28 => AuctionHasBids {
            /// The token.
            token: TokenId,
        },
        /// The collection offers no licence.
        #[error("collection {collection} offers no licence")]
        0x29 => NoLicenceTerms {
            /// The collection.
            collection: CollectionId,
        },
        /// No licence has this id.
        #[error("no licence {licence}")]
        0x2a => UnknownLicence {
            /// The licence.
            licence: LicenceId,
        },
        /// The sender does not hold the licence.
        #[error("licence {licence} is held by {holder}")]
        0x2b => NotLicenceHolder {
            /// The licence.
            licence: LicenceId,
            /// Its holder.
            holder: Address,
        },
        /// The licence cannot be transferred.
        #[error("licence {licence} is not transferable")]
        0x2c => LicenceNotTransferable {
            /// The licence.
            licence: LicenceId,
        },
        /// The licence does not allow derivatives.
        #[error("licence {licence} does not allow derivatives")]
        0x2d => DerivativesNotAllowed {
            /// The licence.
            licence: LicenceId,
        },
        /// The licence expired.
        #[error("licence {licence} expired at height {expiry_height}; it is now {height}")]
        0x2e => LicenceExpired {
            /// The licence.
            licence: LicenceId,
            /// First expired height.
            expiry_height: u64,
            /// Height of the block.
            height: u64,
        },
        /// The licence was already used for a derivative.
        #[error("licence {licence} was already used")]
        0x2f => LicenceUsed {
            /// The licence.
            licence: LicenceId,
        },
        /// The licence is for another work.
        #[error("licence {licence} is for token {expected}, not {given}")]
        0x30 => LicenceForOtherWork {
            /// The licence.
            licence: LicenceId,
            /// Its work.
            expected: TokenId,
            /// The named parent.
            given: TokenId,
        },
        /// Too many ancestors.
        #[error("{ancestors} ancestors exceed the limit of {max}")]
        0x31 => TooManyAncestors {
            /// Ancestors the derivative would have.
            ancestors: u32,
            /// The limit.
            max: u32,
        },
        /// Ancestors' shares plus the royalty exceed 100%.
        #[error("royalty stack {stack_ppm} ppm plus royalty {royalty_bps} bps exceeds 100%")]
        0x32 => RoyaltyStackTooHigh {
            /// Ancestors' shares (ppm).
            stack_ppm: u64,
            /// The collection's royalty (basis points).
            royalty_bps: u32,
        },
        /// The collection's first edition is taken by another shard (1/1).
        #[error("shard {shard} is out of range for this collection (max {max})")]
        0x33 => BadShard {
            /// The shard.
            shard: u8,
            /// Highest valid shard.
            max: u8,
        },
        /// A zero price or amount.
        #[error("the amount must be positive")]
        0x34 => ZeroAmount {},
        /// A deadline outside `height+1 ..= height + MAX_DURATION_BLOCKS`.
        #[error("deadline {deadline} must be within {min}..={max}")]
        0x35 => BadDeadline {
            /// The deadline.
            deadline: u64,
            /// Earliest.
            min: u64,
            /// Latest.
            max: u64,
        },
        /// The collection has too many attestations recorded.
        #[error("token {token} has {max} attestations already", max = MAX_ATTESTATIONS)]
        0x36 => TooManyAttestations {
            /// The token.
            token: TokenId,
        },
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &NftAction) -> u64 {
    match action {
        // Collection plus a symbol-like registration cost.
        NftAction::CreateCollection { .. } => 10,
        NftAction::SetRoyalty { .. } | NftAction::VerifyArtist { .. } => 1,
        NftAction::Mint { parents, .. } => 3 + 3 * parents.len() as u64,
        NftAction::UpdateMetadata { .. } | NftAction::Freeze { .. } => 2,
        NftAction::Transfer { payees, .. } => 3 + payees.len() as u64,
        NftAction::CommitPrompt { .. } => 1,
        NftAction::RecordProvenance { .. } => 4,
        NftAction::RegisterAttester { .. } => 1,
        NftAction::Attest { .. } => 3,
        NftAction::List { .. } => 2,
        NftAction::Buy { payees, .. }
        | NftAction::AcceptOffer { payees, .. }
        | NftAction::SettleAuction { payees, .. } => 4 + payees.len() as u64,
        NftAction::CancelListing { .. } => 1,
        NftAction::MakeOffer { .. } | NftAction::CancelOffer { .. } => 3,
        NftAction::StartAuction { .. } | NftAction::CancelAuction { .. } => 2,
        NftAction::Bid { .. } => 4,
        NftAction::BuyLicence { payees, .. } => 3 + payees.len() as u64,
        NftAction::TransferLicence { .. } => 1,
        NftAction::SetFee { .. } => 1,
    }
}

/// Checks that hold regardless of state; ingest refuses an action that
/// fails them with this reason.
pub fn check(action: &NftAction) -> Result<(), String> {
    let positive = |amount: u128, what: &str| {
        if amount == 0 {
            Err(format!("{what} must be positive"))
        } else {
            Ok(())
        }
    };
    match action {
        NftAction::CreateCollection {
            name,
            symbol,
            kind,
            royalty_bps,
            split,
            licence,
            policy,
        } => {
            printable(name.as_str(), "name", MAX_NAME_BYTES)?;
            let s = symbol.as_str();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!(
                    "symbol {s:?} must be 1..={MAX_SYMBOL_BYTES} ASCII letters or digits"
                ));
            }
            if let CollectionKind::Limited { max_editions } = kind
                && (*max_editions == 0 || *max_editions > MAX_EDITIONS)
            {
                return Err(format!(
                    "max_editions {max_editions} must be within 1..={MAX_EDITIONS}"
                ));
            }
            validate_royalty(*royalty_bps, split)?;
            if let Some(t) = licence {
                validate_terms(t)?;
            }
            if let TransferPolicy::MinFee { amount, .. } = policy {
                positive(*amount, "the policy's minimum fee")?;
            }
            Ok(())
        }
        NftAction::SetRoyalty {
            royalty_bps, split, ..
        } => validate_royalty(*royalty_bps, split),
        NftAction::Mint {
            shard,
            uri,
            parents,
            ..
        } => {
            if *shard >= EDITION_SHARDS {
                return Err(format!("shard {shard} must be below {EDITION_SHARDS}"));
            }
            printable(uri.as_str(), "uri", MAX_URI_BYTES)?;
            for (i, p) in parents.iter().enumerate() {
                if parents[..i].iter().any(|o| o.token == p.token) {
                    return Err(format!("parent {} is listed twice", p.token));
                }
                if parents[..i].iter().any(|o| o.licence == p.licence) {
                    return Err(format!("licence {} is listed twice", p.licence));
                }
            }
            Ok(())
        }
        NftAction::UpdateMetadata { uri, .. } => printable(uri.as_str(), "uri", MAX_URI_BYTES),
        NftAction::RecordProvenance { model_version, .. } => {
            printable(model_version.as_str(), "model_version", MAX_VERSION_BYTES)
        }
        NftAction::List {
            price, collections, ..
        } => {
            positive(*price, "price")?;
            if collections.is_empty() {
                return Err("collections must name the token's collection".into());
            }
            Ok(())
        }
        NftAction::StartAuction {
            reserve,
            collections,
            ..
        } => {
            positive(*reserve, "reserve")?;
            if collections.is_empty() {
                return Err("collections must name the token's collection".into());
            }
            Ok(())
        }
        NftAction::AcceptOffer { collections, .. } => {
            if collections.is_empty() {
                return Err("collections must name the token's collection".into());
            }
            Ok(())
        }
        NftAction::Buy { max_price, .. } => positive(*max_price, "max_price"),
        NftAction::MakeOffer { amount, .. } | NftAction::Bid { amount, .. } => {
            positive(*amount, "amount")
        }
        NftAction::SetFee { fee_bps, .. } => {
            if *fee_bps > MAX_FEE_BPS {
                return Err(format!("fee_bps {fee_bps} is above the cap {MAX_FEE_BPS}"));
            }
            Ok(())
        }
        NftAction::VerifyArtist { .. }
        | NftAction::Freeze { .. }
        | NftAction::Transfer { .. }
        | NftAction::CommitPrompt { .. }
        | NftAction::RegisterAttester { .. }
        | NftAction::Attest { .. }
        | NftAction::CancelListing { .. }
        | NftAction::CancelOffer { .. }
        | NftAction::SettleAuction { .. }
        | NftAction::CancelAuction { .. }
        | NftAction::BuyLicence { .. }
        | NftAction::TransferLicence { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    fn split() -> Split {
        BoundedVec::new(vec![SplitShare {
            recipient: Address([1; 32]),
            share: 1,
        }])
        .unwrap()
    }

    #[test]
    fn actions_round_trip_in_codec_and_json() {
        let actions = vec![
            NftAction::CreateCollection {
                name: Text::new("Songs").unwrap(),
                symbol: Text::new("SNG").unwrap(),
                kind: CollectionKind::Limited { max_editions: 25 },
                royalty_bps: 1_000,
                split: split(),
                licence: Some(LicenceTerms {
                    commercial_use: true,
                    derivatives_allowed: true,
                    attribution: true,
                    revenue_share_ppm: 50_000,
                    fee_asset: AssetId(3),
                    minting_fee: u128::MAX,
                    expiry_height: 0,
                    transferable: false,
                    legal_hash: Hash32([7; 32]),
                }),
                policy: TransferPolicy::MinFee {
                    asset: AssetId(1),
                    amount: 5,
                },
            },
            NftAction::Attest {
                token: 1,
                attester: Address([2; 32]),
                model_id: Hash32([3; 32]),
                prompt_hash: Hash32([4; 32]),
                seed: 9,
                output_hash: Hash32([5; 32]),
                signature: Sig64([6; 64]),
            },
            NftAction::Bid {
                token: 1,
                asset: AssetId(1),
                amount: 10,
                previous_bidder: Some(Address([8; 32])),
            },
        ];
        for a in actions {
            let bytes = a.encode();
            assert_eq!(NftAction::decode_cfg(bytes, &()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<NftAction>(&json).unwrap(), a);
        }
        let json = serde_json::to_value(NftError::PriceTooHigh {
            price: 5,
            max_price: 4,
        })
        .unwrap();
        assert_eq!(json["code"], "price_too_high");
        assert_eq!(json["price"], "5");
    }

    #[test]
    fn splits_are_validated() {
        let share = |b: u8, share: u32| SplitShare {
            recipient: Address([b; 32]),
            share,
        };
        assert!(validate_royalty(1_000, &split()).is_ok());
        assert!(validate_royalty(MAX_ROYALTY_BPS + 1, &split()).is_err());
        assert!(validate_royalty(0, &BoundedVec::empty()).is_err());
        let zero = BoundedVec::new(vec![share(1, 0)]).unwrap();
        assert!(validate_royalty(100, &zero).is_err());
        let dup = BoundedVec::new(vec![share(1, 1), share(1, 2)]).unwrap();
        assert!(validate_royalty(100, &dup).is_err());
        let nobody = BoundedVec::new(vec![share(0, 1)]).unwrap();
        assert!(validate_royalty(100, &nobody).is_err());
    }

    #[test]
    fn attestations_verify_only_for_the_signed_tuple_and_key() {
        let key = PrivateKey::from_seed(3);
        let attester = Address::from(&key.public_key());
        let (m, p, o) = (Hash32([1; 32]), Hash32([2; 32]), Hash32([3; 32]));
        let sig = sign_attestation(&key, &m, &p, 42, &o);
        assert!(verify_attestation(&attester, &m, &p, 42, &o, &sig));
        assert!(!verify_attestation(&attester, &m, &p, 43, &o, &sig));
        let other = Address::from(&PrivateKey::from_seed(4).public_key());
        assert!(!verify_attestation(&other, &m, &p, 42, &o, &sig));
        assert!(!verify_attestation(&Address([0; 32]), &m, &p, 42, &o, &sig));
    }

    #[test]
    fn ids_and_custody_differ() {
        let a = Address([1; 32]);
        assert_ne!(collection_id(&a, 0), token_id(&a, 0));
        assert_ne!(offer_id(&a, 0), licence_id(&a, 0));
        assert_ne!(offer_custody(1), auction_custody(1));
        assert_eq!(edition_number(0, 0), Some(1));
        assert_eq!(edition_number(15, 0), Some(16));
        assert_eq!(edition_number(0, 1), Some(17));
    }
}
