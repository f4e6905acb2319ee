//! BLS12-381 consensus keys of validators and their proofs of possession.
//!
//! Consensus votes are BLS multisignatures in the MinPk variant: public keys
//! in G1 (48 bytes), signatures in G2 (96 bytes), the cheapest layout to
//! verify on Ethereum (EIP-2537). A validator's network identity stays its
//! ed25519 key; its BLS key is derived from that key's secret, so one secret
//! backs up both.
//!
//! Aggregating keys is only safe when every key's owner knows its secret
//! (otherwise a "rogue" key chosen as a difference of others forges
//! aggregates). Every BLS key therefore carries a proof of possession, checked
//! at genesis and at registration. The proof signs the BLS key under a
//! namespace that includes the validator's ed25519 identity, so a proof
//! copied from another validator does not verify for a different identity.

use commonware_codec::{DecodeExt, Encode};
use commonware_cryptography::{
    bls12381::primitives::{
        group::{Private, Scalar},
        ops,
        variant::{MinPk, Variant},
    },
    ed25519,
};

/// Namespace of consensus signatures (distinct from transactions and p2p).
pub const CONSENSUS_NAMESPACE: &[u8] = b"lakh/consensus/v1";

/// A validator's BLS public key (G1, 48 bytes compressed).
pub type ConsensusPublicKey = <MinPk as Variant>::Public;
/// A BLS signature proving possession of a consensus key (G2, 96 bytes).
pub type ProofOfPossession = <MinPk as Variant>::Signature;
/// A validator's BLS secret.
pub type ConsensusPrivateKey = Private;

/// Encoded length of a [`ConsensusPublicKey`].
pub const CONSENSUS_KEY_BYTES: usize = 48;
/// Encoded length of a [`ProofOfPossession`].
pub const POP_BYTES: usize = 96;

/// Domain of the hash that derives a BLS secret from an ed25519 secret.
const DERIVE_DST: &[u8] = b"lakh/consensus-key/v1";
/// Prefix of the namespace a proof of possession signs under.
const POP_NAMESPACE: &[u8] = b"lakh/consensus-pop/v1/";

/// The BLS consensus secret of the validator whose identity is `identity`.
pub fn derive_consensus_key(identity: &ed25519::PrivateKey) -> ConsensusPrivateKey {
    let seed = identity.encode();
    Private::new(Scalar::map(DERIVE_DST, &seed))
}

/// The public key of a consensus secret.
pub fn consensus_public_key(private: &ConsensusPrivateKey) -> ConsensusPublicKey {
    ops::compute_public::<MinPk>(private)
}

fn pop_namespace(identity: &ed25519::PublicKey) -> Vec<u8> {
    [POP_NAMESPACE, identity.as_ref()].concat()
}

/// Proves possession of `private` for the validator `identity`.
pub fn prove_possession(
    private: &ConsensusPrivateKey,
    identity: &ed25519::PublicKey,
) -> ProofOfPossession {
    ops::sign_proof_of_possession::<MinPk>(private, &pop_namespace(identity))
}

/// Checks that `pop` proves possession of `key` for the validator `identity`.
pub fn verify_possession(
    key: &ConsensusPublicKey,
    identity: &ed25519::PublicKey,
    pop: &ProofOfPossession,
) -> Result<(), String> {
    ops::verify_proof_of_possession::<MinPk>(key, &pop_namespace(identity), pop)
        .map_err(|_| "invalid proof of possession for this consensus key and identity".into())
}

/// Parses a consensus key from hex, checking it is a valid G1 point.
pub fn parse_consensus_key(s: &str) -> Result<ConsensusPublicKey, String> {
    let bytes = decode_hex(s, CONSENSUS_KEY_BYTES, "consensus key")?;
    ConsensusPublicKey::decode(bytes::Bytes::from(bytes))
        .map_err(|e| format!("invalid BLS consensus key: {e}"))
}

/// Parses a proof of possession from hex, checking it is a valid G2 point.
pub fn parse_pop(s: &str) -> Result<ProofOfPossession, String> {
    let bytes = decode_hex(s, POP_BYTES, "proof of possession")?;
    ProofOfPossession::decode(bytes::Bytes::from(bytes))
        .map_err(|e| format!("invalid BLS proof of possession: {e}"))
}

/// Hex text of a consensus key or proof (for genesis files and RPC).
pub fn to_hex(value: &impl Encode) -> String {
    hex::encode(value.encode())
}

fn decode_hex(s: &str, len: usize, what: &str) -> Result<Vec<u8>, String> {
    let s = s.strip_prefix("0x").unwrap_or(s);
    let bytes = hex::decode(s).map_err(|e| format!("{what} is not hex: {e}"))?;
    if bytes.len() != len {
        return Err(format!(
            "{what} must be {len} bytes ({} hex characters), got {}",
            2 * len,
            bytes.len()
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use commonware_cryptography::Signer;
    use commonware_math::algebra::Random;

    fn identity(seed: u64) -> ed25519::PrivateKey {
        ed25519::PrivateKey::from_seed(seed)
    }

    #[test]
    fn derivation_is_stable_and_distinct() {
        let a = consensus_public_key(&derive_consensus_key(&identity(1)));
        let again = consensus_public_key(&derive_consensus_key(&identity(1)));
        let b = consensus_public_key(&derive_consensus_key(&identity(2)));
        assert_eq!(a, again);
        assert_ne!(a, b);
    }

    #[test]
    fn a_proof_verifies_only_for_its_key_and_identity() {
        let me = identity(1);
        let other = identity(2);
        let secret = derive_consensus_key(&me);
        let key = consensus_public_key(&secret);
        let pop = prove_possession(&secret, &me.public_key());
        verify_possession(&key, &me.public_key(), &pop).unwrap();
        assert!(verify_possession(&key, &other.public_key(), &pop).is_err());
        let other_key = consensus_public_key(&derive_consensus_key(&other));
        assert!(verify_possession(&other_key, &me.public_key(), &pop).is_err());
        let random = Private::random(rand::rng());
        let forged = prove_possession(&random, &me.public_key());
        assert!(verify_possession(&key, &me.public_key(), &forged).is_err());
    }

    #[test]
    fn hex_round_trips_and_bad_text_is_refused() {
        let me = identity(3);
        let secret = derive_consensus_key(&me);
        let key = consensus_public_key(&secret);
        let pop = prove_possession(&secret, &me.public_key());
        assert_eq!(parse_consensus_key(&to_hex(&key)).unwrap(), key);
        assert_eq!(parse_pop(&to_hex(&pop)).unwrap(), pop);
        assert!(parse_consensus_key("zz").is_err());
        assert!(parse_consensus_key(&"00".repeat(48)).is_err());
        assert!(parse_pop(&to_hex(&key)).is_err());
    }
}
