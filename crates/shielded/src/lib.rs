//! lakh's shielded pool, cryptographic core.
//!
//! * [`keys`]: spending key → nullifier key `nk`, paying key `apk = H(nk)`,
//!   viewing key, shielded address.
//! * [`note`]: notes `(asset, value, owner apk, rcm)` and their Poseidon
//!   commitments `H(asset + 2^64·value, H(apk, rcm))`; nullifiers `H(nk, position)`.
//! * [`tree`]: the depth-32 note commitment tree (frontier + count + a ring of
//!   recent roots) and wallet-side paths (a full tree, or an incremental
//!   witness per note).
//! * [`circuit`] / [`transfer`]: the 2-in-2-out transfer (and unshield)
//!   statement and its R1CS circuit.
//! * [`proof`]: Groth16 on BN254: seeded devnet setup (insecure), prove,
//!   verify, batch verify, checked encodings.
//! * [`ceremony`]: the multi-party setup ceremony (powers of tau, then the
//!   circuit's phase) whose transcript anyone can verify.
//! * [`encryption`]: notes encrypted to their recipient, viewing keys.
//!
//! Every field element on the wire is a canonical 32-byte little-endian
//! encoding ([`field`]). See `docs/modules/shielded.md` for the statement,
//! the parameters, what is hidden and the trust assumptions.

pub mod ceremony;
pub mod chain;
pub mod circuit;
pub mod encryption;
pub mod field;
pub mod keys;
pub mod note;
pub mod params;
pub mod poseidon;
pub mod proof;
pub mod transfer;
pub mod tree;
pub mod types;

#[cfg(test)]
mod bench;
#[cfg(test)]
mod tests;

pub use ark_bn254::Fr;
pub use circuit::{NUM_PUBLIC_INPUTS, PublicInputs, TransferCircuit, constraint_count};
pub use encryption::{Direction, EncryptError, EncryptedNote, ScannedNote, encrypt_note};
pub use keys::{NullifierKey, ShieldedAddress, SpendingKey, ViewingKey};
pub use note::{Note, commitment_from_parts};
pub use proof::{
    BatchError, PROOF_BYTES, Parameters, Proof, ProofDecodeError, VerifyError, VerifyingKey,
};
pub use transfer::{
    Action, BuildError, SpendInput, Statement, StatementError, TransferWitness, find_double_spend,
};
pub use tree::{
    ANCHOR_WINDOW, FullTree, IncrementalWitness, MerklePath, NoteTree, TREE_DEPTH, TreeError,
};
pub use types::{MerkleRoot, NoteCommitment, Nullifier, OwnerCommitment, PayingKey};
