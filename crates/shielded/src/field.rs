//! Canonical 32-byte encodings of BN254 scalar-field elements.
//!
//! Every field element that crosses a wire (commitments, nullifiers, roots,
//! public inputs, note randomness) is 32 bytes, little-endian, and must be the
//! *canonical* representative: an integer strictly below the field modulus
//! `r`. An encoding of `x + r` (or anything else `>= r`) is refused rather
//! than reduced, so every element has exactly one encoding and encodings can
//! be compared, hashed and used as identifiers.

use ark_bn254::Fr;
use ark_ff::{BigInteger, PrimeField};

/// A BN254 scalar-field element, the field the circuit works in.
pub type Field = Fr;

/// Length of a canonical field-element encoding.
pub const FIELD_BYTES: usize = 32;

/// Why a 32-byte string is not a field element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FieldDecodeError {
    /// The integer is `>= r`: some element has a shorter (canonical) encoding.
    #[error("non-canonical field element: encoding is >= the BN254 scalar modulus")]
    NonCanonical,
    /// Wrong number of bytes.
    #[error("field element must be {FIELD_BYTES} bytes, got {0}")]
    Length(usize),
}

/// The canonical little-endian encoding of `x`.
pub fn encode(x: &Fr) -> [u8; FIELD_BYTES] {
    let bytes = x.into_bigint().to_bytes_le();
    let mut out = [0u8; FIELD_BYTES];
    out.copy_from_slice(&bytes[..FIELD_BYTES]);
    out
}

/// Decodes a canonical encoding; refuses anything `>= r`.
pub fn decode(bytes: &[u8; FIELD_BYTES]) -> Result<Fr, FieldDecodeError> {
    // `from_le_bytes_mod_order` would silently reduce; instead reduce, re-encode
    // and compare, which refuses exactly the encodings that are not canonical.
    let x = Fr::from_le_bytes_mod_order(bytes);
    if &encode(&x) == bytes {
        Ok(x)
    } else {
        Err(FieldDecodeError::NonCanonical)
    }
}

/// Decodes from a slice that must be exactly 32 bytes.
pub fn decode_slice(bytes: &[u8]) -> Result<Fr, FieldDecodeError> {
    let arr: &[u8; FIELD_BYTES] = bytes
        .try_into()
        .map_err(|_| FieldDecodeError::Length(bytes.len()))?;
    decode(arr)
}

/// A uniformly distributed field element from 64 bytes (the bias of reducing
/// 512 bits modulo a 254-bit prime is below 2^-250).
pub(crate) fn from_wide(bytes: &[u8; 64]) -> Fr {
    Fr::from_le_bytes_mod_order(bytes)
}

/// A field element derived from `input` under a BLAKE3 key-derivation context.
pub(crate) fn derive(context: &str, input: &[u8]) -> Fr {
    let mut wide = [0u8; 64];
    let mut hasher = blake3::Hasher::new_derive_key(context);
    hasher.update(input);
    hasher.finalize_xof().fill(&mut wide);
    from_wide(&wide)
}

/// A uniformly random field element.
pub(crate) fn random(rng: &mut (impl ark_std::rand::RngCore + ?Sized)) -> Fr {
    let mut wide = [0u8; 64];
    rng.fill_bytes(&mut wide);
    from_wide(&wide)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ark_ff::{One, Zero};

    /// The modulus r, little-endian.
    fn modulus_le() -> [u8; 32] {
        let m = Fr::MODULUS.to_bytes_le();
        let mut out = [0u8; 32];
        out.copy_from_slice(&m);
        out
    }

    fn add_le(a: &[u8; 32], small: u8) -> [u8; 32] {
        let mut out = *a;
        let mut carry = small as u16;
        for b in out.iter_mut() {
            let s = *b as u16 + carry;
            *b = s as u8;
            carry = s >> 8;
        }
        out
    }

    #[test]
    fn round_trip() {
        for x in [Fr::zero(), Fr::one(), -Fr::one(), Fr::from(123_456_789u64)] {
            assert_eq!(decode(&encode(&x)), Ok(x));
        }
    }

    #[test]
    fn non_canonical_refused() {
        let r = modulus_le();
        // r itself encodes 0 non-canonically; r + 1 encodes 1; 2^256 - 1 is far out.
        assert_eq!(decode(&r), Err(FieldDecodeError::NonCanonical));
        assert_eq!(decode(&add_le(&r, 1)), Err(FieldDecodeError::NonCanonical));
        assert_eq!(decode(&[0xff; 32]), Err(FieldDecodeError::NonCanonical));
        // r - 1 is the largest canonical encoding.
        let mut r_minus_1 = r;
        r_minus_1[0] -= 1; // r is odd, so no borrow
        assert_eq!(decode(&r_minus_1), Ok(-Fr::one()));
        assert_eq!(decode_slice(&[0u8; 31]), Err(FieldDecodeError::Length(31)));
    }
}
