//! Asset identifiers and symbols.

use crate::limits::MAX_SYMBOL_BYTES;
use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{EncodeSize, Error as CodecError, FixedSize, Read, Write};
use commonware_cryptography::{Hasher, Sha256};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Identifier of an asset. `AssetId::NATIVE` (0) is the fee token.
///
/// A created asset's id is derived from its creator and the creating
/// transaction's nonce, so creation needs no global counter (no conflict
/// between parallel creations).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AssetId(pub u64);

impl AssetId {
    /// The native token: pays fees, is staked.
    pub const NATIVE: AssetId = AssetId(0);

    /// The id of the asset created by `creator`'s transaction with `nonce`.
    pub fn derive(creator: &[u8; 32], nonce: u64) -> AssetId {
        let digest = Sha256::hash(&[b"lakh/asset-id", creator, &nonce.to_be_bytes()]);
        let mut id = [0u8; 8];
        id.copy_from_slice(&digest.as_ref()[..8]);
        // Never collide with the native token.
        AssetId(u64::from_be_bytes(id).max(1))
    }
}

impl fmt::Display for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for AssetId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AssetId({})", self.0)
    }
}

impl Write for AssetId {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u64(self.0);
    }
}
impl FixedSize for AssetId {
    const SIZE: usize = 8;
}
impl Read for AssetId {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(AssetId(u64::read_cfg(buf, &())?))
    }
}

/// A ticker symbol: 1..=12 bytes of `A-Z`, `0-9`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Symbol(String);

impl Symbol {
    /// Checks `s` is 1..=`MAX_SYMBOL_BYTES` bytes of `A-Z`, `0-9`; the error says why not.
    pub fn new(s: &str) -> Result<Symbol, String> {
        if s.is_empty() || s.len() > MAX_SYMBOL_BYTES {
            return Err(format!(
                "symbol must be 1 to {MAX_SYMBOL_BYTES} characters, got {}",
                s.len()
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            return Err(format!("symbol {s:?} may only contain A-Z and 0-9"));
        }
        Ok(Symbol(s.to_string()))
    }
    /// The symbol text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Symbol {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Symbol::new(&s)
    }
}
impl From<Symbol> for String {
    fn from(s: Symbol) -> String {
        s.0
    }
}
impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
impl fmt::Debug for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Symbol({})", self.0)
    }
}

impl Write for Symbol {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.0.len() as u8);
        buf.put_slice(self.0.as_bytes());
    }
}
impl EncodeSize for Symbol {
    fn encode_size(&self) -> usize {
        1 + self.0.len()
    }
}
impl Read for Symbol {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let len = u8::read_cfg(buf, &())? as usize;
        if len > MAX_SYMBOL_BYTES {
            return Err(CodecError::Invalid("Symbol", "too long"));
        }
        if buf.remaining() < len {
            return Err(CodecError::EndOfBuffer);
        }
        let mut bytes = vec![0u8; len];
        buf.copy_to_slice(&mut bytes);
        let s = String::from_utf8(bytes).map_err(|_| CodecError::Invalid("Symbol", "not utf-8"))?;
        Symbol::new(&s).map_err(|_| CodecError::Invalid("Symbol", "invalid characters or length"))
    }
}
