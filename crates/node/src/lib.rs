//! A lakh node: wires simplex consensus, marshal (block dissemination, archive
//! and backfill) and the stateful execution application together, records
//! receipts, serves the RPC API, and runs a local multi-validator devnet.

pub mod app;
pub mod block;
pub mod engine;
pub mod gossip;
pub mod indexer;
pub mod nosync;
pub mod run;
pub mod runtime;
pub mod service;
pub mod shared;
