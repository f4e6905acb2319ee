//! Canonical data types of lakh: addresses, assets, signed transactions and
//! their actions, receipts and events, and the genesis definition.
//!
//! Every type that crosses a process or disk boundary has one canonical
//! encoding (commonware-codec): decoding is bounded by explicit limits and
//! rejects trailing bytes, so an encoding has exactly one meaning.

#![warn(missing_docs)]

pub mod action;
pub mod address;
pub mod amount;
pub mod asset;
pub mod codec;
pub mod committee;
pub mod consensus_key;
pub mod decimal;
pub mod fees;
pub mod genesis;
pub mod map;
pub mod math;
pub mod modules;
pub mod receipt;
pub mod refusal;
mod schema;
pub mod tx;

pub use action::{Action, TransferEntry};
pub use address::Address;
pub use asset::{AssetId, Symbol};
pub use genesis::Genesis;
pub use receipt::{Event, FailureReason, Receipt, TxStatus};
pub use refusal::Refusal;
pub use tx::{SignedTransaction, Transaction, TxId};

/// Ed25519 key types used for transaction signatures and validator identities.
pub use commonware_cryptography::ed25519::{PrivateKey, PublicKey, Signature};

/// Namespace prefixed (by the signature scheme) to every signed transaction, so a
/// transaction signature can never be replayed as a consensus or p2p signature.
pub const TX_NAMESPACE: &[u8] = b"lakh/tx/v1";

/// Hard limits on untrusted input, shared by ingest, block decoding and execution.
pub mod limits {
    /// Largest encoded signed transaction accepted anywhere (bytes).
    pub const MAX_TX_BYTES: usize = 16 * 1024;
    /// Most entries in one `MultiTransfer`.
    pub const MAX_MULTI_TRANSFER_ENTRIES: usize = 256;
    /// Longest asset symbol (ASCII bytes).
    pub const MAX_SYMBOL_BYTES: usize = 12;
    /// Most decimals an asset may declare (u128 holds ~3.4e38).
    pub const MAX_DECIMALS: u8 = 30;
    /// Most transactions in one block: genesis `block.max_txs`, the block
    /// builder, block decoding and the executor all use this one bound.
    pub const MAX_BLOCK_TXS: usize = 100_000;
    /// Most transaction bytes in one block (sum of encoded lengths).
    pub const MAX_BLOCK_TX_BYTES: usize = 24 * 1024 * 1024;
    /// Most transactions the signature verifier takes in one batch (a
    /// back-pressure bound on ingest, not a block limit).
    pub const MAX_VERIFY_BATCH_TXS: usize = 200_000;
}

/// Re-exports for the codec macros, so crates using them need no extra dependencies.
#[doc(hidden)]
pub mod __private {
    pub use bytes;
    pub use commonware_codec;

    /// Appends `field` to `out` when it is an `Address`, a present
    /// `Option<Address>` or a pair of them (the macros see field types only as tokens).
    pub fn push_address(field: &dyn ::std::any::Any, out: &mut Vec<crate::Address>) {
        if let Some(address) = field.downcast_ref::<crate::Address>() {
            out.push(*address);
        } else if let Some(Some(address)) = field.downcast_ref::<Option<crate::Address>>() {
            out.push(*address);
        } else if let Some(pair) = field.downcast_ref::<[crate::Address; 2]>() {
            out.extend_from_slice(pair);
        }
    }
}
