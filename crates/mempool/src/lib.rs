//! The path of a transaction between the RPC and the block builder.
//!
//! [`ingest::Verifier`] refuses what can be refused without state (wrong chain,
//! fee below the floor, nonsensical action) and batch-verifies signatures on a
//! pool of worker threads. [`pool::Mempool`] then holds verified transactions
//! in per-sender nonce queues under count and byte bounds, and hands the block
//! builder contiguous nonce runs in fee-priority order.

pub mod ingest;
pub mod pool;

pub use ingest::{FeeFloor, Verifier, VerifierConfig, check_stateless};
pub use pool::{Mempool, MempoolConfig};
