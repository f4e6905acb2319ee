//! The JSON shapes of the RPC. Amounts (u128) travel as decimal strings and
//! byte strings as lowercase hex, so no client loses precision or has to guess
//! an encoding.

use lakh_state::{ObjectKey, StateKey};
use lakh_types::{Address, AssetId, Receipt, Symbol, TxId};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// 32 bytes shown as 64 hex characters: block hashes and state roots.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl From<[u8; 32]> for Hash32 {
    fn from(bytes: [u8; 32]) -> Self {
        Hash32(bytes)
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

impl FromStr for Hash32 {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = [0u8; 32];
        decode_hex_exact(s, &mut out)?;
        Ok(Hash32(out))
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Decodes hex (optional `0x` prefix) into exactly `out.len()` bytes.
pub fn decode_hex_exact(s: &str, out: &mut [u8]) -> Result<(), String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    if s.len() != out.len() * 2 {
        return Err(format!(
            "expected {} hex characters ({} bytes), got {}",
            out.len() * 2,
            out.len(),
            s.len()
        ));
    }
    hex::decode_to_slice(s, out).map_err(|e| format!("not hex: {e}"))
}

/// Decodes hex of any length (optional `0x` prefix).
pub fn decode_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(s).map_err(|e| format!("not hex: {e}"))
}

/// A finalized block's header as clients see it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockHeaderInfo {
    pub height: u64,
    pub hash: Hash32,
    pub parent: Hash32,
    /// State root after executing this block.
    pub state_root: Hash32,
    /// Proposer's ed25519 public key.
    pub proposer: Address,
    /// Consensus view the block was proposed in.
    pub view: u64,
    /// Base fee per unit this block charged (native base units).
    #[serde(with = "lakh_types::amount")]
    #[schemars(with = "crate::schema::Amount")]
    pub base_fee: u128,
    pub used_units: u64,
    pub tx_count: u64,
    pub timestamp_ms: u64,
    /// On the last block of an epoch: the committee elected for the next
    /// one (the block's hash commits to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<crate::schema::Committee>")]
    pub next_committee: Option<lakh_types::committee::Committee>,
    /// Finalizations of earlier blocks this block carries: their signers
    /// shared the fee pot (docs/modules/stake.md, "Fee rewards").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizations: Vec<CarriedFinalization>,
    /// Evidence of consensus faults this block carries: each proves that
    /// a committee member signed two conflicting votes in one round
    /// (docs/modules/stake.md, "Evidence").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<CarriedEvidence>,
}

/// A piece of evidence a block carries: the fault, its round and the
/// offender's position in the committee of `epoch`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CarriedEvidence {
    /// `conflicting_notarize`, `conflicting_finalize` or `nullify_finalize`.
    pub fault: String,
    pub epoch: u64,
    pub view: u64,
    /// The offender's position in the committee of `epoch` (members
    /// ascending by identity, as `lakh_query stake committee` lists them).
    pub signer: u32,
}

/// A finalization certificate a block carries, as its round, the block it
/// finalized and who signed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CarriedFinalization {
    pub epoch: u64,
    pub view: u64,
    /// The finalized block.
    pub block_hash: Hash32,
    /// Signers' positions in the committee of `epoch` (members ascending by
    /// identity, as `lakh_query stake committee` lists them).
    pub signers: Vec<u32>,
}

/// The certificate that finalized a block ([`crate::finality`] checks it).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct FinalityInfo {
    pub height: u64,
    pub block_hash: Hash32,
    /// Epoch whose committee signed.
    pub epoch: u64,
    /// Consensus view the block was finalized in.
    pub view: u64,
    /// Positions, in the committee ordered by identity key, of the members
    /// whose signatures the certificate aggregates (informative: the check
    /// reads them from the certificate itself).
    pub signers: Vec<u32>,
    /// Hex of the encoded finalization: the proposal and its certificate.
    pub finalization: String,
    /// Hex of the block's encoded header. With `tx_root` it rebuilds the
    /// certified hash (`sha256(core || carried_root || tx_root)`,
    /// `lakh_consensus::block::header_digest`), so a client reads a boundary
    /// block's elected committee, or the bridge commitment, from a certified
    /// header.
    pub header: String,
    /// Hash of the block's transaction ids in order.
    pub tx_root: Hash32,
}

/// A finalized block: its header and the ids of its transactions in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockInfo {
    pub header: BlockHeaderInfo,
    pub tx_ids: Vec<TxId>,
    /// What execution did after the block's last transaction (slashes,
    /// insurance payouts), in order; empty until the block's receipts are
    /// recorded (the finalized stream sends it before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "crate::schema::BlockEvents")]
    pub block_events: Vec<lakh_types::Event>,
}

/// The chain's latest finalized block and what a new transaction must pay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct HeadInfo {
    pub chain_id: u64,
    pub height: u64,
    pub hash: Hash32,
    pub state_root: Hash32,
    /// Base fee per unit of the next block (native base units).
    #[serde(with = "lakh_types::amount")]
    #[schemars(with = "crate::schema::Amount")]
    pub base_fee: u128,
    pub timestamp_ms: u64,
}

/// One asset balance of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BalanceInfo {
    pub asset: AssetId,
    pub symbol: String,
    #[serde(with = "lakh_types::amount")]
    #[schemars(with = "crate::schema::Amount")]
    pub amount: u128,
}

/// An account's committed state, optionally with an inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountInfo {
    pub address: Address,
    /// Next nonce in the latest committed state.
    pub nonce: u64,
    /// Next nonce counting transactions queued in the node's mempool, when
    /// the node has any queued for this account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_nonce: Option<u64>,
    /// Non-zero balances; the native token is asset 0.
    pub balances: Vec<BalanceInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<AccountProof>,
}

impl AccountInfo {
    /// The balance of `asset` (zero when not listed).
    pub fn balance_of(&self, asset: AssetId) -> u128 {
        self.balances
            .iter()
            .find(|b| b.asset == asset)
            .map_or(0, |b| b.amount)
    }
}

/// Inclusion proofs of an account's state entries against the state root of
/// the finalized block at `height`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountProof {
    pub height: u64,
    pub state_root: Hash32,
    pub entries: Vec<ProvenEntry>,
}

/// One proven state entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProvenEntry {
    #[serde(with = "state_key_json")]
    #[schemars(with = "crate::schema::StateKey")]
    pub key: StateKey,
    /// Codec encoding of the `lakh_state::StateValue` under `key`.
    pub value_hex: String,
    /// Opaque proof bytes, checked by `lakh_state::proof::verify_entry`.
    pub proof_hex: String,
}

/// An asset's definition and supply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AssetInfoJson {
    pub id: AssetId,
    pub symbol: Symbol,
    pub decimals: u8,
    /// `None` for the native token, which has no issuer.
    pub issuer: Option<Address>,
    #[serde(with = "lakh_types::amount::option", default)]
    #[schemars(with = "Option<crate::schema::Amount>")]
    pub max_supply: Option<u128>,
    #[serde(with = "lakh_types::amount")]
    #[schemars(with = "crate::schema::Amount")]
    pub supply: u128,
}

/// Where a transaction is in its life.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "status", rename_all = "snake_case")]
// A short-lived answer value; boxing the receipt would only add an allocation.
#[allow(clippy::large_enum_variant)]
pub enum TxStatusInfo {
    /// Neither queued nor in a finalized block known to this node.
    Unknown,
    /// Accepted and waiting in the mempool (or in a block not yet finalized).
    Pending,
    /// In a finalized block; `receipt.status` says whether it succeeded.
    Finalized {
        #[schemars(with = "crate::schema::Receipt")]
        receipt: Receipt,
        block_hash: Hash32,
    },
}

/// One transaction of an account's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountTxInfo {
    /// Its place among the account's transactions (0 is the oldest); a page
    /// asked with `cursor` = this ordinal continues with older ones.
    pub ordinal: u64,
    pub block_hash: Hash32,
    #[schemars(with = "crate::schema::Receipt")]
    pub receipt: Receipt,
}

/// A page of an account's transactions, newest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AccountTxsPage {
    pub address: Address,
    /// How many transactions the account has in all.
    pub total: u64,
    pub transactions: Vec<AccountTxInfo>,
    /// The `cursor` of the next (older) page; null on the last page.
    pub next_cursor: Option<u64>,
    /// The page ended at the oldest transaction the node keeps: the
    /// account's older ones were pruned (the node's receipts retention).
    #[serde(default)]
    pub older_pruned: bool,
}

/// A block by height or by hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockId {
    Height(u64),
    Hash([u8; 32]),
}

impl FromStr for BlockId {
    type Err = String;
    /// 64 hex characters (or `0x`-prefixed) are a hash; other digits a height.
    fn from_str(s: &str) -> Result<Self, String> {
        let looks_like_hash = s.starts_with("0x") || s.len() == 64;
        if !looks_like_hash && !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse()
                .map(BlockId::Height)
                .map_err(|e| format!("height {s:?}: {e}"));
        }
        let hash: Hash32 = s.parse().map_err(|e| format!("block hash: {e}"))?;
        Ok(BlockId::Hash(hash.0))
    }
}

/// Both wire forms are strings of [`crate::schema`] (`Hash32`, `AssetRef`).
macro_rules! schema_as {
    ($($ty:ty => $marker:ty;)*) => {$(
        impl JsonSchema for $ty {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                <$marker>::schema_name()
            }

            fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                <$marker>::json_schema(generator)
            }
        }
    )*};
}

schema_as! {
    Hash32 => crate::schema::Hash32;
    AssetRef => crate::schema::AssetRef;
}

/// An asset by id or by symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AssetRef {
    Id(AssetId),
    Symbol(Symbol),
}

impl FromStr for AssetRef {
    type Err = String;
    /// Digits are an id; anything else must be a valid symbol. (Over JSON-RPC
    /// an id is a JSON number and a symbol a string, so all-digit symbols stay
    /// reachable there.)
    fn from_str(s: &str) -> Result<Self, String> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            return s
                .parse()
                .map(|id| AssetRef::Id(AssetId(id)))
                .map_err(|e| format!("asset id {s:?}: {e}"));
        }
        Symbol::new(s).map(AssetRef::Symbol)
    }
}

/// Over JSON-RPC an asset id is a JSON number and a symbol a JSON string.
impl Serialize for AssetRef {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AssetRef::Id(id) => s.serialize_u64(id.0),
            AssetRef::Symbol(symbol) => s.serialize_str(symbol.as_str()),
        }
    }
}

impl<'de> Deserialize<'de> for AssetRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct RefVisitor;
        impl serde::de::Visitor<'_> for RefVisitor {
            type Value = AssetRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an asset id (number) or symbol (string)")
            }
            fn visit_u64<E: serde::de::Error>(self, id: u64) -> Result<AssetRef, E> {
                Ok(AssetRef::Id(AssetId(id)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<AssetRef, E> {
                Symbol::new(s).map(AssetRef::Symbol).map_err(E::custom)
            }
        }
        d.deserialize_any(RefVisitor)
    }
}

impl fmt::Display for AssetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AssetRef::Id(id) => write!(f, "{id}"),
            AssetRef::Symbol(s) => write!(f, "{s}"),
        }
    }
}

/// One entry of a `lakh_submitTransactions` answer: `{"id": ...}` when
/// accepted, `{"error": {"code", "message"}}` when refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum SubmitOutcome {
    Accepted { id: TxId },
    Refused { error: SubmitError },
}

/// Why a submitted transaction was refused: the stable `code` of a
/// `lakh_types::Refusal` and its human-readable message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema, thiserror::Error)]
#[error("{message} ({code})")]
pub struct SubmitError {
    pub code: String,
    pub message: String,
}

impl From<&lakh_types::Refusal> for SubmitError {
    fn from(r: &lakh_types::Refusal) -> Self {
        SubmitError {
            code: r.code().to_string(),
            message: r.to_string(),
        }
    }
}

/// Serde for [`StateKey`] as a tagged JSON object, e.g.
/// `{"type":"balance","address":"ab..","asset":7}`.
pub mod state_key_json {
    use super::*;

    #[derive(Serialize, Deserialize)]
    #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
    enum Repr {
        Account { address: Address },
        Balance { address: Address, asset: AssetId },
        Asset { asset: AssetId },
        Symbol { symbol: Symbol },
        Object { kind: u8, id: String },
    }

    pub fn serialize<S: Serializer>(key: &StateKey, s: S) -> Result<S::Ok, S::Error> {
        let repr = match key {
            StateKey::Account(address) => Repr::Account { address: *address },
            StateKey::Balance(address, asset) => Repr::Balance {
                address: *address,
                asset: *asset,
            },
            StateKey::Asset(asset) => Repr::Asset { asset: *asset },
            StateKey::Symbol(symbol) => Repr::Symbol {
                symbol: symbol.clone(),
            },
            StateKey::Object(object) => Repr::Object {
                kind: object.kind,
                id: hex::encode(object.id()),
            },
        };
        repr.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<StateKey, D::Error> {
        Ok(match Repr::deserialize(d)? {
            Repr::Account { address } => StateKey::Account(address),
            Repr::Balance { address, asset } => StateKey::Balance(address, asset),
            Repr::Asset { asset } => StateKey::Asset(asset),
            Repr::Symbol { symbol } => StateKey::Symbol(symbol),
            Repr::Object { kind, id } => {
                let id = hex::decode(&id).map_err(serde::de::Error::custom)?;
                if id.len() > ObjectKey::MAX_ID {
                    return Err(serde::de::Error::custom("object id too long"));
                }
                StateKey::Object(ObjectKey::new(kind, &[&id]))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash32_parses_only_32_bytes_of_hex() {
        let h = Hash32([0xab; 32]);
        assert_eq!(h.to_hex().parse::<Hash32>().unwrap(), h);
        assert_eq!(format!("0x{h}").parse::<Hash32>().unwrap(), h);
        let short = "ab".repeat(31);
        assert!(short.parse::<Hash32>().unwrap_err().contains("expected 64"));
        let bad = "zz".repeat(32);
        assert!(bad.parse::<Hash32>().unwrap_err().contains("not hex"));
    }

    #[test]
    fn block_and_asset_refs_parse_digits_as_numbers() {
        assert_eq!("42".parse::<BlockId>().unwrap(), BlockId::Height(42));
        let hash = "11".repeat(32);
        assert_eq!(hash.parse::<BlockId>().unwrap(), BlockId::Hash([0x11; 32]));
        assert_eq!(
            "0x".parse::<BlockId>().unwrap_err(),
            "block hash: expected 64 hex characters (32 bytes), got 0"
        );
        assert!("xyz".parse::<BlockId>().is_err());
        assert_eq!("7".parse::<AssetRef>().unwrap(), AssetRef::Id(AssetId(7)));
        assert_eq!(
            "USD".parse::<AssetRef>().unwrap(),
            AssetRef::Symbol(Symbol::new("USD").unwrap())
        );
        assert!("usd".parse::<AssetRef>().is_err());
    }

    #[test]
    fn state_keys_round_trip_as_tagged_objects() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct W(#[serde(with = "state_key_json")] StateKey);
        let addr = Address([3; 32]);
        let keys = [
            StateKey::Account(addr),
            StateKey::Balance(addr, AssetId(9)),
            StateKey::Asset(AssetId(9)),
            StateKey::Symbol(Symbol::new("GOLD").unwrap()),
        ];
        for key in keys {
            let json = serde_json::to_string(&W(key.clone())).unwrap();
            let back: W = serde_json::from_str(&json).unwrap();
            assert_eq!(back.0, key, "{json}");
        }
        let json = serde_json::to_value(W(StateKey::Balance(addr, AssetId(9)))).unwrap();
        assert_eq!(json["type"], "balance");
        assert_eq!(json["asset"], 9);
        assert_eq!(json["address"], addr.to_hex());
    }

    #[test]
    fn submit_outcomes_have_the_documented_shape() {
        let ok = SubmitOutcome::Accepted { id: TxId([1; 32]) };
        let json = serde_json::to_value(&ok).unwrap();
        assert_eq!(json["id"], TxId([1; 32]).to_hex());
        let refused = SubmitOutcome::Refused {
            error: SubmitError::from(&lakh_types::Refusal::BadSignature),
        };
        let json = serde_json::to_value(&refused).unwrap();
        assert_eq!(json["error"]["code"], "bad_signature");
        assert_eq!(json["error"]["message"], "bad signature");
        let back: SubmitOutcome = serde_json::from_value(json).unwrap();
        assert_eq!(back, refused);
    }

    #[test]
    fn tx_status_is_tagged_by_status() {
        let json = serde_json::to_value(TxStatusInfo::Pending).unwrap();
        assert_eq!(json, serde_json::json!({"status": "pending"}));
    }
}
