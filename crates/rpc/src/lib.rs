//! lakh's query and ingest interface: the JSON-RPC methods defined once
//! (`interface::LakhApi`, namespace `lakh_`), a server for them (HTTP and
//! WebSocket on one port) over a node that implements [`NodeApi`], the JSON
//! shapes it speaks ([`types`]), a typed client ([`LakhClient`]) and the
//! client-side check of account proofs ([`verify_account_proof`]).
//!
//! The same port serves `POST /bulk` ([`bulk`]): length-prefixed binary
//! transactions submitted as one batch, for load generators and aggregators;
//! `GET /metrics` ([`metrics`]): the node's Prometheus text; and `GET
//! /explorer` ([`explorer`]): a block explorer page built on this RPC (`GET /`
//! redirects there).
//!
//! Every input is bounded ([`RpcConfig`]); malformed parameters get JSON-RPC
//! error `-32602` naming the parameter, refused transactions get
//! [`codes::TX_REFUSED`] with the refusal's stable code in `data.code`.

pub mod api;
pub mod bulk;
pub mod client;
pub mod discover;
pub mod explorer;
pub mod finality;
pub mod interface;
pub mod metrics;
pub mod params;
pub mod proof;
mod schema;
pub mod server;
mod strict;
pub use strict::{checked_methods, positional_params};
pub mod types;

pub use api::{NodeApi, QueryFailure, QueryFailureCode};
pub use bulk::{BulkRefusal, BulkResult};
pub use client::{ClientError, FinalizedBlocks, FinalizedTx, LakhClient};
pub use explorer::EXPLORER_PATH;
pub use interface::{LakhApiClient, LakhApiServer};
pub use jsonrpsee::server::ServerHandle;
pub use metrics::{METRICS_PATH, RpcMetrics};
pub use proof::{ProofError, verify_account_proof};
pub use server::{
    DEFAULT_ACCOUNT_TXS_PAGE, MAX_ACCOUNT_TXS_PAGE, RpcConfig, codes, start_server,
    start_server_with,
};
pub use types::*;
