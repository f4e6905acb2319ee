//! Inclusion proofs of a state key's current value.
//!
//! A proof is the codec encoding of a QMDB `current` operation proof. The
//! verifier needs only the canonical state root of a finalized block: it
//! recomputes the root from the proven `(key, value)` operation and compares.

use crate::{
    StateKey, StateValue,
    db::{CHUNK_BYTES, Family, MAX_PROOF_DIGESTS},
};
use commonware_codec::Decode;
use commonware_cryptography::sha256;
use commonware_storage::qmdb::current::proof::constant::OperationProof;

/// The proof type carried (encoded) over RPC.
pub type StateProof = OperationProof<Family, sha256::Digest, CHUNK_BYTES>;

/// Any runtime context will do to name the database type for verification (the
/// verification function touches no storage).
type VerifyDb =
    crate::db::StateDb<commonware_runtime::deterministic::Context, commonware_parallel::Sequential>;

/// Verifies that `key` holds the value encoded in `value_bytes` in the state
/// whose canonical root is `root`. Returns the decoded value on success.
pub fn verify_entry(
    root: &[u8; 32],
    key: &StateKey,
    value_bytes: &[u8],
    proof_bytes: &[u8],
) -> Result<StateValue, String> {
    let value = StateValue::decode_cfg(bytes::Bytes::copy_from_slice(value_bytes), &())
        .map_err(|e| format!("proven value does not decode: {e}"))?;
    let proof = StateProof::decode_cfg(
        bytes::Bytes::copy_from_slice(proof_bytes),
        &MAX_PROOF_DIGESTS,
    )
    .map_err(|e| format!("proof does not decode: {e}"))?;
    let root = sha256::Digest::from(*root);
    if VerifyDb::verify_key_value_proof(key.digest(), value.clone(), &proof, &root) {
        Ok(value)
    } else {
        Err(format!("proof of {key:?} does not match state root {root}"))
    }
}
