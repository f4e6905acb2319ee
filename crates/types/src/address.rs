//! Account addresses: the 32 bytes of an ed25519 public key.

use commonware_cryptography::ed25519::PublicKey;
use std::fmt;
use std::str::FromStr;

/// An account address: the raw bytes of the owner's ed25519 public key.
///
/// Recipients are kept as raw bytes (no curve-point decompression): only a
/// sender's key is ever needed as a point, to verify its signature.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Address(pub [u8; 32]);

impl Address {
    /// Length of an address (bytes).
    pub const LEN: usize = 32;

    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as a curve point (decompressed; `None` when the bytes are
    /// not one).
    pub fn public_key(&self) -> Option<PublicKey> {
        use commonware_codec::DecodeExt;
        PublicKey::decode(self.0.to_vec()).ok()
    }

    /// Lowercase hex, 64 characters, no `0x` prefix.
    pub fn to_hex(&self) -> String {
        crate::codec::hex32_str(&self.0, &mut [0u8; 64]).to_owned()
    }

    /// The custody account of a module object (a pool, a market, a vault):
    /// sha256 over a fixed prefix, the module's name and the object's id. No
    /// one holds its key, so only the module's rules move what it holds.
    pub fn module(module: &str, id: &[u8]) -> Address {
        use commonware_cryptography::{Hasher, Sha256};
        let digest = Sha256::hash(&[b"lakh/module/", module.as_bytes(), b"/", id]);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        Address(out)
    }
}

impl From<&PublicKey> for Address {
    fn from(pk: &PublicKey) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(pk.as_ref());
        Address(out)
    }
}

impl From<PublicKey> for Address {
    fn from(pk: PublicKey) -> Self {
        Address::from(&pk)
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", self.to_hex())
    }
}

/// Error parsing an address from text.
#[derive(Debug, thiserror::Error)]
#[error("address must be 64 hex characters (32 bytes): {0}")]
pub struct AddressParseError(String);

impl FromStr for Address {
    type Err = AddressParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let bytes = hex::decode(s).map_err(|e| AddressParseError(e.to_string()))?;
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|b: Vec<u8>| AddressParseError(format!("got {} bytes", b.len())))?;
        Ok(Address(arr))
    }
}

crate::codec::bytes32_forms!(Address);

/// Hex text of a public key (for config files and RPC).
pub fn public_key_hex(pk: &PublicKey) -> String {
    hex::encode(pk.as_ref())
}

/// Parses a public key from hex text, validating that it is a curve point.
pub fn parse_public_key(s: &str) -> Result<PublicKey, String> {
    use commonware_codec::DecodeExt;
    let s = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(s).map_err(|e| format!("public key is not hex: {e}"))?;
    PublicKey::decode(bytes::Bytes::from(bytes))
        .map_err(|e| format!("invalid ed25519 public key: {e}"))
}
