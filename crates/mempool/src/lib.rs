//! The path of a transaction between the RPC and the block builder.
//!
//! [`handle::TxPool`] owns it: [`verify::Verifier`] refuses what can be
//! refused without state (wrong chain, fee below the floor, nonsensical
//! action) and batch-verifies signatures on a pool of worker threads;
//! [`pool::Mempool`] then holds verified transactions in per-sender nonce
//! queues under count and byte bounds, and hands the block builder contiguous
//! nonce runs in fee-priority order; the handle keeps the senders' committed
//! nonces and the nonces used by unfinalized blocks beside it.

pub mod handle;
mod inflight;
pub mod pool;
pub mod sender_keys;
pub mod verify;

pub use handle::{Included, Ingested, NonceSource, TxPool};
pub use pool::{Mempool, MempoolConfig};
pub use verify::{FeeFloor, Verifier, VerifierConfig, check_stateless};
