//! The seam between the RPC server and the node: everything the server needs
//! from a node, and nothing about how the node does it.

use crate::types::{
    AccountInfo, AccountTxsPage, AssetInfoJson, AssetRef, BlockId, BlockInfo, FinalityInfo,
    HeadInfo, TxStatusInfo,
};
use bytes::Bytes;
use lakh_types::{Address, Refusal, TxId};
use std::future::Future;

/// Why a module query has no answer.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct QueryFailure {
    pub code: QueryFailureCode,
    pub message: String,
}

/// The stable code of a [`QueryFailure`] (`data.code` of
/// [`crate::codes::QUERY_FAILED`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueryFailureCode {
    /// The module, method or parameters are not a query this node knows.
    BadRequest,
    /// The query names something the state does not hold.
    NotFound,
    /// The node has no state to answer from yet.
    Unavailable,
    /// The state holds what this node cannot decode.
    Corrupt,
    /// This node answers no module queries at all.
    Unsupported,
}

impl QueryFailureCode {
    /// Every code, in declaration order.
    pub const ALL: [QueryFailureCode; 5] = [
        QueryFailureCode::BadRequest,
        QueryFailureCode::NotFound,
        QueryFailureCode::Unavailable,
        QueryFailureCode::Corrupt,
        QueryFailureCode::Unsupported,
    ];

    /// The code as it goes over the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            QueryFailureCode::BadRequest => "bad_request",
            QueryFailureCode::NotFound => "not_found",
            QueryFailureCode::Unavailable => "unavailable",
            QueryFailureCode::Corrupt => "corrupt",
            QueryFailureCode::Unsupported => "unsupported",
        }
    }
}

/// What the node offers to RPC clients.
///
/// Implementations may write these methods as `async fn`; the futures must be
/// `Send` because the server runs them on a multi-threaded runtime.
pub trait NodeApi: Send + Sync + 'static {
    fn chain_id(&self) -> u64;

    /// Ingests a batch of raw signed transaction encodings (undecoded: the node
    /// decodes and verifies them in one batch). Returns one result per input,
    /// in input order.
    fn submit(&self, txs: Vec<Bytes>) -> impl Future<Output = Vec<Result<TxId, Refusal>>> + Send;

    fn tx_status(&self, id: TxId) -> impl Future<Output = TxStatusInfo> + Send;

    /// The account's committed state; with `prove`, inclusion proofs of its
    /// entries against the latest finalized state root. `Err` is a message for
    /// the client (e.g. state unavailable).
    fn account(
        &self,
        addr: Address,
        prove: bool,
    ) -> impl Future<Output = Result<AccountInfo, String>> + Send;

    fn block(&self, id: BlockId) -> impl Future<Output = Option<BlockInfo>> + Send;

    /// Up to `limit` of the account's finalized transactions with ordinals
    /// below `before` (the newest when `None`), newest first. `Err` is a
    /// message for the client (e.g. no index kept).
    fn account_txs(
        &self,
        addr: Address,
        before: Option<u64>,
        limit: u32,
    ) -> impl Future<Output = Result<AccountTxsPage, String>> + Send {
        let _ = (addr, before, limit);
        async { Err("this node keeps no account index".to_string()) }
    }

    fn head(&self) -> impl Future<Output = HeadInfo> + Send;

    /// The finalization certificate stored for the block at `height`; a
    /// node that keeps none answers `None`.
    fn finality(&self, height: u64) -> impl Future<Output = Option<FinalityInfo>> + Send {
        let _ = height;
        async { None }
    }

    fn asset(&self, id: AssetRef) -> impl Future<Output = Option<AssetInfoJson>> + Send;

    /// Answers a module query (`module`, `method`, JSON `params`) from the
    /// latest finalized state.
    fn query(
        &self,
        module: String,
        method: String,
        params: serde_json::Value,
    ) -> impl Future<Output = Result<serde_json::Value, QueryFailure>> + Send {
        let _ = (module, method, params);
        async {
            Err(QueryFailure {
                code: QueryFailureCode::Unsupported,
                message: "this node answers no module queries".into(),
            })
        }
    }

    /// The node's metrics in Prometheus' text format; a node that keeps
    /// none answers `None` (and `GET /metrics` 404).
    fn metrics(&self) -> Option<String> {
        None
    }

    /// A receiver of every block as it is finalized.
    fn subscribe_finalized(&self) -> tokio::sync::broadcast::Receiver<BlockInfo>;
}
