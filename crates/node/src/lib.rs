//! A lakh node process: runs validators on the tokio runtime with
//! authenticated p2p ([`run`]), gossips transactions between them
//! ([`gossip`]), and answers the RPC ([`service`]). Consensus lives in
//! `lakh-consensus`, receipts and the asset registry in `lakh-archive`, the
//! pool in `lakh-mempool`. A full disk or a damaged store stops it with a
//! message that says what to do ([`storage_faults`]). For fault tests it can
//! cut itself off from chosen peers ([`partition`]). Devnets and tests pick
//! their ports with [`ports`].

pub mod config;
pub mod gossip;
pub mod partition;
pub mod ports;
pub mod run;
pub mod service;
pub mod storage_faults;
