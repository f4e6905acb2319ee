//! What the authenticated state holds and under which key.
//!
//! Every entry lives under the sha256 digest of a [`StateKey`]; the value is a
//! [`StateValue`] whose variant matches the key's. The native token has no
//! `Balance` keys: its balance sits next to the nonce in [`AccountState`], so a
//! native transfer touches two keys. A value equal to its default (an account
//! with nonce 0 and balance 0, a zero balance) is stored as absent.

use bytes::BufMut;
use commonware_codec::{
    Buf, EncodeSize, Error as CodecError, FixedSize, RangeCfg, Read, ReadExt, Write,
};
use commonware_cryptography::{Hasher, Sha256, sha256};
use lakh_types::{Address, AssetId, Symbol, limits::MAX_SYMBOL_BYTES};
use serde::{Deserialize, Serialize};

const KEY_ACCOUNT: u8 = 0x01;
const KEY_BALANCE: u8 = 0x02;
const KEY_ASSET: u8 = 0x03;
const KEY_SYMBOL: u8 = 0x04;
const KEY_OBJECT: u8 = 0x05;

/// Longest encoded module object (an order book side, a market).
pub const MAX_OBJECT_BYTES: usize = 256 * 1024;

/// A module object's address: a kind (one range per module, see
/// [`object_kind`]) and up to [`ObjectKey::MAX_ID`] bytes of id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub kind: u8,
    len: u8,
    id: [u8; ObjectKey::MAX_ID],
}

impl ObjectKey {
    pub const MAX_ID: usize = 48;

    /// The key of kind `kind` whose id is the concatenation of `parts`.
    ///
    /// Panics if the parts exceed [`ObjectKey::MAX_ID`] bytes: ids are built
    /// from fixed-size fields by module code, never from raw input.
    pub fn new(kind: u8, parts: &[&[u8]]) -> ObjectKey {
        let mut id = [0u8; Self::MAX_ID];
        let mut len = 0;
        for part in parts {
            id[len..len + part.len()].copy_from_slice(part);
            len += part.len();
        }
        ObjectKey {
            kind,
            len: len as u8,
            id,
        }
    }

    pub fn id(&self) -> &[u8] {
        &self.id[..self.len as usize]
    }
}

impl std::fmt::Debug for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Object({:#04x}, {})", self.kind, hex::encode(self.id()))
    }
}

/// Object kinds: each module owns a range of 16.
pub mod object_kind {
    /// Chain-wide settings written at genesis (the admin).
    pub const CONFIG: u8 = 0x01;
    pub const DEX: std::ops::Range<u8> = 0x10..0x20;
    pub const BOOK: std::ops::Range<u8> = 0x20..0x30;
    pub const ORACLE: std::ops::Range<u8> = 0x30..0x40;
    pub const LEND: std::ops::Range<u8> = 0x40..0x50;
    pub const STAKE: std::ops::Range<u8> = 0x50..0x60;
    pub const FARM: std::ops::Range<u8> = 0x60..0x70;
    pub const COVER: std::ops::Range<u8> = 0x70..0x80;
    pub const NFT: std::ops::Range<u8> = 0x80..0x90;
    pub const SHIELDED: std::ops::Range<u8> = 0x90..0xa0;
    pub const CHANNEL: std::ops::Range<u8> = 0xa0..0xb0;
    pub const BRIDGE: std::ops::Range<u8> = 0xb0..0xc0;
}

/// The address of one state entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateKey {
    /// Nonce and native balance of an account.
    Account(Address),
    /// Balance of a non-native asset held by an account.
    Balance(Address, AssetId),
    /// Metadata and supply of an asset.
    Asset(AssetId),
    /// Which asset a ticker symbol belongs to (symbols are unique).
    Symbol(Symbol),
    /// A module's object (a pool, a market, a position), encoded by the module.
    Object(ObjectKey),
}

/// Longest preimage of a key digest: tag + object kind + length + id.
const MAX_KEY_PREIMAGE_BYTES: usize = 3 + ObjectKey::MAX_ID;
const _: () = assert!(1 + Address::SIZE + AssetId::SIZE <= MAX_KEY_PREIMAGE_BYTES);
const _: () = assert!(1 + 1 + MAX_SYMBOL_BYTES <= MAX_KEY_PREIMAGE_BYTES);

impl StateKey {
    /// The database key: sha256 over a tag byte distinct per variant followed
    /// by the fields (the symbol length-prefixed), so no two keys share a
    /// preimage.
    pub fn digest(&self) -> sha256::Digest {
        let mut buf = [0u8; MAX_KEY_PREIMAGE_BYTES];
        let len = match self {
            StateKey::Account(addr) => {
                buf[0] = KEY_ACCOUNT;
                buf[1..33].copy_from_slice(addr.as_bytes());
                33
            }
            StateKey::Balance(addr, asset) => {
                buf[0] = KEY_BALANCE;
                buf[1..33].copy_from_slice(addr.as_bytes());
                buf[33..41].copy_from_slice(&asset.0.to_be_bytes());
                41
            }
            StateKey::Asset(asset) => {
                buf[0] = KEY_ASSET;
                buf[1..9].copy_from_slice(&asset.0.to_be_bytes());
                9
            }
            StateKey::Symbol(symbol) => {
                let bytes = symbol.as_str().as_bytes();
                buf[0] = KEY_SYMBOL;
                buf[1] = bytes.len() as u8;
                buf[2..2 + bytes.len()].copy_from_slice(bytes);
                2 + bytes.len()
            }
            StateKey::Object(object) => {
                let id = object.id();
                buf[0] = KEY_OBJECT;
                buf[1] = object.kind;
                buf[2] = id.len() as u8;
                buf[3..3 + id.len()].copy_from_slice(id);
                3 + id.len()
            }
        };
        Sha256::hash(&[&buf[..len]])
    }
}

/// An account: its next nonce and its native-token balance, in one entry so a
/// native transfer's sender side is a single key update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// The nonce the account's next transaction must carry.
    pub nonce: u64,
    /// Native base units.
    #[serde(with = "lakh_types::amount")]
    pub native_balance: u128,
}

impl AccountState {
    pub fn is_default(&self) -> bool {
        self.nonce == 0 && self.native_balance == 0
    }
}

/// An asset's metadata and current supply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetInfo {
    /// The only account allowed to mint it (all-zero for the native token: nobody).
    pub issuer: Address,
    pub symbol: Symbol,
    pub decimals: u8,
    /// Supply may never exceed this; `None` means uncapped.
    #[serde(with = "lakh_types::amount::option", default)]
    pub max_supply: Option<u128>,
    /// Base units in existence: always the sum of all holders' balances.
    #[serde(with = "lakh_types::amount")]
    pub supply: u128,
}

/// The value stored under a [`StateKey`]; the variant matches the key's.
///
/// The state database moves values by the million (sorting, merging and
/// relocating a block's operations), and almost all are accounts and
/// balances: the rare, large asset metadata is boxed so every value moves
/// in 48 bytes rather than 112.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StateValue {
    Account(AccountState),
    Balance(u128),
    Asset(Box<AssetInfo>),
    Symbol(AssetId),
    /// A module object's canonical encoding (never empty: empty means absent).
    Object(bytes::Bytes),
}

impl StateValue {
    /// True for the values that are stored as absent (zero account, zero balance).
    pub fn is_default(&self) -> bool {
        match self {
            StateValue::Account(account) => account.is_default(),
            StateValue::Balance(amount) => *amount == 0,
            StateValue::Object(bytes) => bytes.is_empty(),
            StateValue::Asset(_) | StateValue::Symbol(_) => false,
        }
    }

    /// Whether this value may be stored under `key` (same variant).
    pub fn matches(&self, key: &StateKey) -> bool {
        matches!(
            (key, self),
            (StateKey::Account(_), StateValue::Account(_))
                | (StateKey::Balance(..), StateValue::Balance(_))
                | (StateKey::Asset(_), StateValue::Asset(_))
                | (StateKey::Symbol(_), StateValue::Symbol(_))
                | (StateKey::Object(_), StateValue::Object(_))
        )
    }
}

const _: () = assert!(std::mem::size_of::<StateValue>() <= 48);

const VALUE_ACCOUNT: u8 = 0x01;
const VALUE_BALANCE: u8 = 0x02;
const VALUE_ASSET: u8 = 0x03;
const VALUE_SYMBOL: u8 = 0x04;
const VALUE_OBJECT: u8 = 0x05;

impl Write for StateValue {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            StateValue::Account(account) => {
                buf.put_u8(VALUE_ACCOUNT);
                account.nonce.write(buf);
                account.native_balance.write(buf);
            }
            StateValue::Balance(amount) => {
                buf.put_u8(VALUE_BALANCE);
                amount.write(buf);
            }
            StateValue::Asset(info) => {
                buf.put_u8(VALUE_ASSET);
                info.issuer.write(buf);
                info.symbol.write(buf);
                info.decimals.write(buf);
                info.max_supply.write(buf);
                info.supply.write(buf);
            }
            StateValue::Symbol(asset) => {
                buf.put_u8(VALUE_SYMBOL);
                asset.write(buf);
            }
            StateValue::Object(bytes) => {
                buf.put_u8(VALUE_OBJECT);
                bytes.len().write(buf);
                buf.put_slice(bytes);
            }
        }
    }
}

impl EncodeSize for StateValue {
    fn encode_size(&self) -> usize {
        1 + match self {
            StateValue::Account(_) => u64::SIZE + u128::SIZE,
            StateValue::Balance(_) => u128::SIZE,
            StateValue::Asset(info) => {
                Address::SIZE
                    + info.symbol.encode_size()
                    + u8::SIZE
                    + info.max_supply.encode_size()
                    + u128::SIZE
            }
            StateValue::Symbol(_) => AssetId::SIZE,
            StateValue::Object(bytes) => bytes.len().encode_size() + bytes.len(),
        }
    }
}

impl Read for StateValue {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(match u8::read(buf)? {
            VALUE_ACCOUNT => StateValue::Account(AccountState {
                nonce: u64::read(buf)?,
                native_balance: u128::read(buf)?,
            }),
            VALUE_BALANCE => StateValue::Balance(u128::read(buf)?),
            VALUE_ASSET => StateValue::Asset(Box::new(AssetInfo {
                issuer: Address::read(buf)?,
                symbol: Symbol::read(buf)?,
                decimals: u8::read(buf)?,
                max_supply: Option::<u128>::read(buf)?,
                supply: u128::read(buf)?,
            })),
            VALUE_SYMBOL => StateValue::Symbol(AssetId::read(buf)?),
            VALUE_OBJECT => {
                let len = usize::read_cfg(buf, &RangeCfg::new(1..=MAX_OBJECT_BYTES))?;
                if buf.remaining() < len {
                    return Err(CodecError::EndOfBuffer);
                }
                let mut bytes = vec![0u8; len];
                buf.copy_to_slice(&mut bytes);
                StateValue::Object(bytes.into())
            }
            other => return Err(CodecError::InvalidEnum(other)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};
    use std::collections::HashSet;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).expect("valid symbol")
    }

    fn samples() -> Vec<StateValue> {
        vec![
            StateValue::Account(AccountState::default()),
            StateValue::Account(AccountState {
                nonce: u64::MAX,
                native_balance: u128::MAX,
            }),
            StateValue::Balance(0),
            StateValue::Balance(u128::MAX - 7),
            StateValue::Asset(Box::new(AssetInfo {
                issuer: Address([3; 32]),
                symbol: sym("USDC"),
                decimals: 6,
                max_supply: None,
                supply: 12_345,
            })),
            StateValue::Asset(Box::new(AssetInfo {
                issuer: Address([4; 32]),
                symbol: sym("ABCDEFGHIJ12"),
                decimals: 30,
                max_supply: Some(u128::MAX),
                supply: 1,
            })),
            StateValue::Symbol(AssetId(42)),
            StateValue::Object(vec![1, 2, 3].into()),
        ]
    }

    #[test]
    fn every_value_round_trips() {
        for value in samples() {
            let bytes = value.encode();
            assert_eq!(bytes.len(), value.encode_size());
            let back = StateValue::decode_cfg(bytes, &()).expect("decodes");
            assert_eq!(back, value);
        }
    }

    #[test]
    fn unknown_tag_truncation_and_trailing_bytes_rejected() {
        for tag in [0u8, 6, 0xff] {
            let mut bytes = vec![tag];
            bytes.extend_from_slice(&[0u8; 48]);
            assert!(matches!(
                StateValue::decode_cfg(bytes.clone(), &()),
                Err(CodecError::InvalidEnum(t)) if t == tag
            ));
        }
        for value in samples() {
            let bytes = value.encode();
            assert!(StateValue::decode_cfg(bytes.slice(..bytes.len() - 1), &()).is_err());
            let mut longer = bytes.to_vec();
            longer.push(0);
            assert!(matches!(
                StateValue::decode_cfg(longer, &()),
                Err(CodecError::ExtraData(1))
            ));
        }
    }

    #[test]
    fn invalid_symbol_in_asset_rejected() {
        let mut bytes = StateValue::Asset(Box::new(AssetInfo {
            issuer: Address([1; 32]),
            symbol: sym("ABC"),
            decimals: 2,
            max_supply: None,
            supply: 0,
        }))
        .encode()
        .to_vec();
        // The symbol's first character follows the tag and the issuer.
        bytes[1 + 32 + 1] = b'a';
        assert!(StateValue::decode_cfg(bytes.clone(), &()).is_err());
    }

    #[test]
    fn digests_differ_across_variants_and_fields() {
        let a = Address([1; 32]);
        let b = Address([2; 32]);
        let keys = [
            StateKey::Account(a),
            StateKey::Account(b),
            StateKey::Balance(a, AssetId(0)),
            StateKey::Balance(a, AssetId(1)),
            StateKey::Balance(b, AssetId(1)),
            StateKey::Asset(AssetId(0)),
            StateKey::Asset(AssetId(1)),
            // Same leading bytes as Asset(1) would have if tags were shared.
            StateKey::Symbol(sym("A")),
            StateKey::Symbol(sym("AB")),
            StateKey::Symbol(sym("B")),
            StateKey::Object(ObjectKey::new(0x10, &[&[1]])),
            StateKey::Object(ObjectKey::new(0x10, &[&[1, 0]])),
            StateKey::Object(ObjectKey::new(0x11, &[&[1]])),
            StateKey::Object(ObjectKey::new(0x10, &[a.as_bytes(), &7u64.to_be_bytes()])),
        ];
        let digests: HashSet<_> = keys.iter().map(StateKey::digest).collect();
        assert_eq!(digests.len(), keys.len());
        // Deterministic.
        assert_eq!(keys[0].digest(), StateKey::Account(a).digest());
    }

    #[test]
    fn defaults_and_variant_matching() {
        assert!(StateValue::Account(AccountState::default()).is_default());
        assert!(
            !StateValue::Account(AccountState {
                nonce: 1,
                native_balance: 0
            })
            .is_default()
        );
        assert!(StateValue::Balance(0).is_default());
        assert!(!StateValue::Balance(1).is_default());
        assert!(!StateValue::Symbol(AssetId(0)).is_default());
        assert!(StateValue::Balance(1).matches(&StateKey::Balance(Address([0; 32]), AssetId(1))));
        assert!(!StateValue::Balance(1).matches(&StateKey::Account(Address([0; 32]))));
    }
}
