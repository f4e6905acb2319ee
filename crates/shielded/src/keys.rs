//! Spending keys, viewing keys and shielded addresses.
//!
//! ```text
//! sk (32 random bytes)
//!  ├─ nk  = BLAKE3-derive("nk", sk) mod r       nullifier key: spends (with sk's notes)
//!  │   └─ apk = Poseidon_apk(nk)                paying key: in every note's commitment
//!  ├─ ivk = BLAKE3-derive("ivk", sk)            x25519 secret: decrypts incoming notes
//!  │   └─ pk_enc = X25519(ivk, 9)               in the address: senders encrypt to it
//!  └─ ovk = BLAKE3-derive("ovk", sk)            decrypts the notes this key sent
//!
//! address      = (apk, pk_enc)                  64 bytes
//! viewing key  = (apk, ivk, ovk)                96 bytes: sees, cannot spend
//! ```
//!
//! Spending needs `nk` (the circuit proves `apk = H(nk)` for every input), so
//! the viewing key, which holds only `apk`, cannot spend, nor compute
//! nullifiers. One spending key has one address (no diversified addresses).

use ark_bn254::Fr;
use ark_std::rand::{CryptoRng, RngCore};
use x25519_dalek::{PublicKey, StaticSecret};

use crate::field::{self, FieldDecodeError};
use crate::poseidon::{self, Domain};
use crate::types::{Nullifier, PayingKey, hex_string};

const CONTEXT_NK: &str = "lakh-shielded 2026 v1 nullifier key";
const CONTEXT_IVK: &str = "lakh-shielded 2026 v1 incoming viewing key";
const CONTEXT_OVK: &str = "lakh-shielded 2026 v1 outgoing viewing key";

/// The root secret of a shielded account.
#[derive(Clone, PartialEq, Eq)]
pub struct SpendingKey([u8; 32]);

impl core::fmt::Debug for SpendingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SpendingKey(..)")
    }
}

impl SpendingKey {
    /// A fresh random key.
    pub fn random(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        let mut sk = [0u8; 32];
        rng.fill_bytes(&mut sk);
        Self(sk)
    }

    /// From its 32 bytes (any 32 bytes are a key).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Its 32 bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }

    /// The nullifier key: needed to spend.
    pub fn nullifier_key(&self) -> NullifierKey {
        NullifierKey(field::derive(CONTEXT_NK, &self.0))
    }

    /// The viewing key: sees incoming and outgoing notes, cannot spend.
    pub fn viewing_key(&self) -> ViewingKey {
        ViewingKey {
            paying_key: self.nullifier_key().paying_key(),
            incoming: blake3::derive_key(CONTEXT_IVK, &self.0),
            outgoing: blake3::derive_key(CONTEXT_OVK, &self.0),
        }
    }

    /// The shielded address.
    pub fn address(&self) -> ShieldedAddress {
        self.viewing_key().address()
    }
}

/// `nk`: the secret that makes nullifiers and proves ownership in the circuit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct NullifierKey(pub(crate) Fr);

impl core::fmt::Debug for NullifierKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("NullifierKey(..)")
    }
}

impl NullifierKey {
    /// A random key; used for dummy (zero-value) inputs.
    pub fn random(rng: &mut (impl RngCore + CryptoRng)) -> Self {
        Self(field::random(rng))
    }

    /// `apk = H_apk(nk)`.
    pub fn paying_key(&self) -> PayingKey {
        PayingKey(poseidon::hash(Domain::PayingKey, &[self.0]))
    }

    /// `nf = H_nf(nk, position)`: the nullifier of the note at leaf `position`.
    /// Mixing in the position (Sapling's idea) gives two notes with equal
    /// commitments distinct nullifiers.
    pub fn nullifier(&self, position: u64) -> Nullifier {
        Nullifier(poseidon::hash(
            Domain::Nullifier,
            &[self.0, Fr::from(position)],
        ))
    }

    /// The field element (a witness of the circuit).
    pub fn as_field(&self) -> Fr {
        self.0
    }
}

/// Incoming + outgoing viewing key of one address: given to an auditor, it
/// shows exactly the notes sent to and sent from that address.
#[derive(Clone, PartialEq, Eq)]
pub struct ViewingKey {
    pub(crate) paying_key: PayingKey,
    pub(crate) incoming: [u8; 32],
    pub(crate) outgoing: [u8; 32],
}

impl core::fmt::Debug for ViewingKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ViewingKey({:?}, ..)", self.paying_key)
    }
}

/// Length of an encoded viewing key.
pub const VIEWING_KEY_BYTES: usize = 96;
/// Length of an encoded shielded address.
pub const ADDRESS_BYTES: usize = 64;

impl ViewingKey {
    /// The address this key views.
    pub fn address(&self) -> ShieldedAddress {
        let secret = StaticSecret::from(self.incoming);
        ShieldedAddress {
            paying_key: self.paying_key,
            encryption_key: PublicKey::from(&secret).to_bytes(),
        }
    }

    /// `apk ‖ ivk ‖ ovk`.
    pub fn to_bytes(&self) -> [u8; VIEWING_KEY_BYTES] {
        let mut out = [0u8; VIEWING_KEY_BYTES];
        out[..32].copy_from_slice(&self.paying_key.to_bytes());
        out[32..64].copy_from_slice(&self.incoming);
        out[64..].copy_from_slice(&self.outgoing);
        out
    }

    /// Decodes [`ViewingKey::to_bytes`]; `apk` must be canonical.
    pub fn from_bytes(bytes: &[u8; VIEWING_KEY_BYTES]) -> Result<Self, FieldDecodeError> {
        let mut apk = [0u8; 32];
        apk.copy_from_slice(&bytes[..32]);
        let mut incoming = [0u8; 32];
        incoming.copy_from_slice(&bytes[32..64]);
        let mut outgoing = [0u8; 32];
        outgoing.copy_from_slice(&bytes[64..]);
        Ok(Self {
            paying_key: PayingKey::from_bytes(&apk)?,
            incoming,
            outgoing,
        })
    }
}

/// Where shielded notes are sent: a paying key (bound into each note's
/// commitment) and an x25519 key (notes are encrypted to it).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShieldedAddress {
    /// `apk`: the owner field of the notes sent here.
    pub paying_key: PayingKey,
    /// x25519 public key the note plaintexts are encrypted to.
    pub encryption_key: [u8; 32],
}

impl core::fmt::Debug for ShieldedAddress {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "ShieldedAddress({})", self)
    }
}

impl core::fmt::Display for ShieldedAddress {
    /// `lzs` followed by the 64-byte encoding in hex.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "lzs{}", hex_string(&self.to_bytes()))
    }
}

/// Why an address does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// Not `lzs` + 128 hex digits.
    #[error("a shielded address is `lzs` followed by 128 hex digits")]
    Format,
    /// The paying key is not a canonical field element.
    #[error("paying key: {0}")]
    PayingKey(#[from] FieldDecodeError),
}

impl ShieldedAddress {
    /// `apk ‖ pk_enc`.
    pub fn to_bytes(&self) -> [u8; ADDRESS_BYTES] {
        let mut out = [0u8; ADDRESS_BYTES];
        out[..32].copy_from_slice(&self.paying_key.to_bytes());
        out[32..].copy_from_slice(&self.encryption_key);
        out
    }

    /// Decodes [`ShieldedAddress::to_bytes`]; `apk` must be canonical.
    pub fn from_bytes(bytes: &[u8; ADDRESS_BYTES]) -> Result<Self, AddressError> {
        let mut apk = [0u8; 32];
        apk.copy_from_slice(&bytes[..32]);
        let mut encryption_key = [0u8; 32];
        encryption_key.copy_from_slice(&bytes[32..]);
        Ok(Self {
            paying_key: PayingKey::from_bytes(&apk)?,
            encryption_key,
        })
    }
}

impl core::str::FromStr for ShieldedAddress {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex = s.strip_prefix("lzs").ok_or(AddressError::Format)?;
        if hex.len() != 2 * ADDRESS_BYTES || !hex.is_ascii() {
            return Err(AddressError::Format);
        }
        let mut bytes = [0u8; ADDRESS_BYTES];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b =
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| AddressError::Format)?;
        }
        Self::from_bytes(&bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_std::rand::SeedableRng;
    use rand_chacha_ark::ChaCha20Rng;

    #[test]
    fn derivations_are_deterministic_and_distinct() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let a = SpendingKey::random(&mut rng);
        let b = SpendingKey::random(&mut rng);
        assert_eq!(a.address(), SpendingKey::from_bytes(a.to_bytes()).address());
        assert_ne!(a.address(), b.address());
        assert_eq!(a.address().paying_key, a.nullifier_key().paying_key());
        let nk = a.nullifier_key();
        assert_ne!(nk.nullifier(0), nk.nullifier(1));
        assert_ne!(nk.nullifier(0), b.nullifier_key().nullifier(0));
        // The paying key is not the position-0 nullifier (domain separation).
        assert_ne!(nk.paying_key().as_field(), nk.nullifier(0).as_field());
    }

    #[test]
    fn encodings_round_trip_and_refuse_non_canonical() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let sk = SpendingKey::random(&mut rng);
        let addr = sk.address();
        assert_eq!(ShieldedAddress::from_bytes(&addr.to_bytes()), Ok(addr));
        assert_eq!(addr.to_string().parse::<ShieldedAddress>(), Ok(addr));
        let vk = sk.viewing_key();
        assert_eq!(ViewingKey::from_bytes(&vk.to_bytes()), Ok(vk.clone()));
        assert_eq!(vk.address(), addr);

        let mut bad = addr.to_bytes();
        bad[..32].copy_from_slice(&[0xff; 32]);
        assert_eq!(
            ShieldedAddress::from_bytes(&bad),
            Err(AddressError::PayingKey(FieldDecodeError::NonCanonical))
        );
        let mut bad_vk = vk.to_bytes();
        bad_vk[..32].copy_from_slice(&[0xff; 32]);
        assert_eq!(
            ViewingKey::from_bytes(&bad_vk),
            Err(FieldDecodeError::NonCanonical)
        );
        assert_eq!(
            "lzs00".parse::<ShieldedAddress>(),
            Err(AddressError::Format)
        );
    }
}
