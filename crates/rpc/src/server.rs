//! The JSON-RPC server: HTTP and WebSocket on one port, the methods of
//! `LakhApi` over a [`NodeApi`], every input bounded. The same port serves
//! the bulk binary ingest endpoint ([`crate::bulk`]), `GET /metrics`
//! ([`crate::metrics`]) and the explorer page ([`crate::explorer`]).

use crate::api::NodeApi;
use crate::bulk::{BulkLayer, BulkLimits};
use crate::explorer::ExplorerLayer;
use crate::interface::LakhApiServer;
use crate::metrics::{CountRequests, MetricsLayer, RpcMetrics};
use crate::params::{
    AddressParam, AssetParam, CursorParam, HashParam, HeightParam, LimitParam, TxIdParam,
    TxListParam, TxParam,
};
use crate::strict::{StrictParams, unlisted_method};
use crate::types::{
    AccountInfo, AccountTxsPage, AssetInfoJson, BlockId, BlockInfo, FinalityInfo, HeadInfo,
    SubmitError, SubmitOutcome, TxStatusInfo,
};
use bytes::Bytes;
use jsonrpsee::core::{RpcResult, SubscriptionResult, async_trait};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, PendingSubscriptionSink, Server, ServerConfig, ServerHandle,
    SubscriptionMessage,
};
use jsonrpsee::types::ErrorObjectOwned;
use lakh_types::{Refusal, TxId};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// JSON-RPC error codes this server emits besides the standard ones.
pub mod codes {
    /// Invalid method parameter (standard JSON-RPC code).
    pub const INVALID_PARAMS: i32 = -32602;
    /// The node refused a transaction; `data.code` is the stable
    /// `Refusal::code()` (e.g. `"nonce_gap"`).
    pub const TX_REFUSED: i32 = -32050;
    /// The node could not answer (e.g. state unavailable); the message says why.
    pub const NODE_ERROR: i32 = -32051;
    /// A module query has no answer; `data.code` says why (`bad_request`,
    /// `not_found`, `unavailable`, `corrupt`).
    pub const QUERY_FAILED: i32 = -32052;
}

/// Most transactions in one page of `lakh_getAccountTransactions`.
pub const MAX_ACCOUNT_TXS_PAGE: u32 = 100;
/// Page size of `lakh_getAccountTransactions` when none is asked.
pub const DEFAULT_ACCOUNT_TXS_PAGE: u32 = 25;

/// Limits of the server. Every input is bounded by one of these.
#[derive(Clone, Debug)]
pub struct RpcConfig {
    /// Largest HTTP body or WebSocket message accepted (bytes).
    pub max_request_bytes: u32,
    /// Largest response (bytes); a block of 200k transactions lists ~13.4 MB of ids.
    pub max_response_bytes: u32,
    pub max_connections: u32,
    /// Most calls in one JSON-RPC batch.
    pub max_batch_calls: u32,
    pub max_subscriptions_per_connection: u32,
    /// Most transactions in one `lakh_submitTransactions` call.
    pub max_submit_txs: usize,
    /// Largest body of a `POST /bulk` request (bytes).
    pub max_bulk_bytes: usize,
    /// Most transactions in one `POST /bulk` request.
    pub max_bulk_txs: usize,
    /// Where the server counts calls (the node registers it).
    pub metrics: RpcMetrics,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            max_request_bytes: 8 * 1024 * 1024,
            max_response_bytes: 32 * 1024 * 1024,
            max_connections: 256,
            max_batch_calls: 1_000,
            max_subscriptions_per_connection: 16,
            max_submit_txs: 10_000,
            max_bulk_bytes: 16 * 1024 * 1024,
            max_bulk_txs: 50_000,
            metrics: RpcMetrics::default(),
        }
    }
}

/// Starts the server on `addr` with default limits. Returns the bound address
/// (useful with port 0) and the handle that stops it.
pub async fn start_server<N: NodeApi>(
    addr: SocketAddr,
    api: Arc<N>,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    start_server_with(addr, api, RpcConfig::default()).await
}

/// Starts the server on `addr` with the given limits.
pub async fn start_server_with<N: NodeApi>(
    addr: SocketAddr,
    api: Arc<N>,
    cfg: RpcConfig,
) -> std::io::Result<(SocketAddr, ServerHandle)> {
    let server_cfg = ServerConfig::builder()
        .max_request_body_size(cfg.max_request_bytes)
        .max_response_body_size(cfg.max_response_bytes)
        .max_connections(cfg.max_connections)
        .max_subscriptions_per_connection(cfg.max_subscriptions_per_connection)
        .set_batch_request_config(BatchRequestConfig::Limit(cfg.max_batch_calls))
        .build();
    let bulk = BulkLayer::new(
        api.clone(),
        BulkLimits {
            max_bytes: cfg.max_bulk_bytes,
            max_txs: cfg.max_bulk_txs,
        },
    );
    let metrics = cfg.metrics.clone();
    let max_response_bytes = cfg.max_response_bytes as usize;
    let server = Server::builder()
        .set_config(server_cfg)
        .set_http_middleware(
            tower::ServiceBuilder::new()
                .layer(ExplorerLayer)
                .layer(MetricsLayer::new(api.clone()))
                .layer(bulk),
        )
        .set_rpc_middleware(
            RpcServiceBuilder::new()
                .layer_fn(move |s| CountRequests::new(s, metrics.clone(), max_response_bytes))
                .layer_fn(StrictParams::new),
        )
        .build(addr)
        .await?;
    let bound = server.local_addr()?;
    let rpc = LakhRpc {
        api,
        max_submit_txs: cfg.max_submit_txs,
    };
    let mut module = rpc.into_rpc();
    let document = Arc::new(crate::discover::openrpc_document());
    module
        .register_method(crate::discover::DISCOVER_METHOD, move |_, _, _| {
            RpcResult::Ok(crate::discover::OpenRpcDocument::clone(&document))
        })
        .map_err(std::io::Error::other)?;
    if let Some(method) = unlisted_method(&module) {
        return Err(std::io::Error::other(format!(
            "method {method} has no entry in the parameter table"
        )));
    }
    Ok((bound, server.start(module)))
}

/// The server side of `LakhApi`: each method asks the node.
struct LakhRpc<N> {
    api: Arc<N>,
    max_submit_txs: usize,
}

#[async_trait]
impl<N: NodeApi> LakhApiServer for LakhRpc<N> {
    fn chain_id(&self) -> RpcResult<u64> {
        Ok(self.api.chain_id())
    }

    async fn submit_transaction(&self, tx: TxParam) -> RpcResult<TxId> {
        let mut results = self.api.submit(vec![tx.0.0]).await;
        match results.pop() {
            Some(Ok(id)) if results.is_empty() => Ok(id),
            Some(Err(refusal)) if results.is_empty() => Err(refused(&refusal)),
            _ => Err(node_error(
                "node answered a submission of 1 transaction with a different count",
            )),
        }
    }

    async fn submit_transactions(&self, txs: TxListParam) -> RpcResult<Vec<SubmitOutcome>> {
        let txs: Vec<Bytes> = txs.0;
        let count = txs.len();
        if count > self.max_submit_txs {
            return Err(invalid_param(
                "txs",
                &format!(
                    "{count} transactions exceed the limit of {} per call",
                    self.max_submit_txs
                ),
            ));
        }
        let results = self.api.submit(txs).await;
        if results.len() != count {
            return Err(node_error(format!(
                "node answered a submission of {count} transactions with {} results",
                results.len()
            )));
        }
        Ok(results
            .iter()
            .map(|r| match r {
                Ok(id) => SubmitOutcome::Accepted { id: *id },
                Err(refusal) => SubmitOutcome::Refused {
                    error: SubmitError::from(refusal),
                },
            })
            .collect())
    }

    async fn get_transaction(&self, id: TxIdParam) -> RpcResult<TxStatusInfo> {
        Ok(self.api.tx_status(id.0).await)
    }

    async fn get_account(
        &self,
        address: AddressParam,
        prove: Option<bool>,
    ) -> RpcResult<AccountInfo> {
        self.api
            .account(address.0, prove.unwrap_or(false))
            .await
            .map_err(node_error)
    }

    async fn get_account_transactions(
        &self,
        address: AddressParam,
        cursor: Option<CursorParam>,
        limit: Option<LimitParam>,
    ) -> RpcResult<AccountTxsPage> {
        let limit = limit.map_or(DEFAULT_ACCOUNT_TXS_PAGE, |l| l.0);
        if limit == 0 || limit > MAX_ACCOUNT_TXS_PAGE {
            return Err(invalid_param(
                "limit",
                &format!("must be 1 to {MAX_ACCOUNT_TXS_PAGE}, got {limit}"),
            ));
        }
        self.api
            .account_txs(address.0, cursor.map(|c| c.0), limit)
            .await
            .map_err(node_error)
    }

    async fn get_block_by_height(&self, height: HeightParam) -> RpcResult<Option<BlockInfo>> {
        Ok(self.api.block(BlockId::Height(height.0)).await)
    }

    async fn get_block_by_hash(&self, hash: HashParam) -> RpcResult<Option<BlockInfo>> {
        Ok(self.api.block(BlockId::Hash(hash.0.0)).await)
    }

    async fn get_finality(&self, height: HeightParam) -> RpcResult<Option<FinalityInfo>> {
        Ok(self.api.finality(height.0).await)
    }

    async fn head(&self) -> RpcResult<HeadInfo> {
        Ok(self.api.head().await)
    }

    async fn get_asset(&self, asset: AssetParam) -> RpcResult<Option<AssetInfoJson>> {
        Ok(self.api.asset(asset.0).await)
    }

    async fn query(
        &self,
        module: String,
        method: String,
        params: Option<serde_json::Value>,
    ) -> RpcResult<serde_json::Value> {
        let params = params.unwrap_or_else(|| serde_json::json!({}));
        self.api.query(module, method, params).await.map_err(|f| {
            ErrorObjectOwned::owned(
                codes::QUERY_FAILED,
                f.message,
                Some(serde_json::json!({ "code": f.code })),
            )
        })
    }

    async fn subscribe_finalized(&self, pending: PendingSubscriptionSink) -> SubscriptionResult {
        forward_finalized(self.api.as_ref(), pending).await
    }
}

/// Streams finalized blocks to one subscriber until it leaves. A subscriber
/// too slow to keep up is told so and dropped rather than silently skipped:
/// it knows the last height it saw and can fetch the gap by height.
async fn forward_finalized<N: NodeApi>(
    api: &N,
    pending: PendingSubscriptionSink,
) -> SubscriptionResult {
    // Subscribe before accepting so no block finalized in between is missed.
    let mut blocks = api.subscribe_finalized();
    let sink = pending.accept().await.map_err(|e| e.to_string())?;
    loop {
        tokio::select! {
            _ = sink.closed() => return Ok(()),
            next = blocks.recv() => match next {
                Ok(block) => {
                    let json = serde_json::value::to_raw_value(&block).map_err(|e| e.to_string())?;
                    if sink.send(SubscriptionMessage::from(json)).await.is_err() {
                        return Ok(());
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    return Err(format!(
                        "subscriber fell {missed} blocks behind and was dropped; \
                         resubscribe and fetch the missed blocks by height"
                    )
                    .into());
                }
                Err(RecvError::Closed) => return Err("node stopped publishing finalized blocks".into()),
            }
        }
    }
}

pub(crate) fn invalid_params(message: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INVALID_PARAMS, message, None::<()>)
}

pub(crate) fn invalid_param(name: &str, reason: &str) -> ErrorObjectOwned {
    invalid_params(format!("invalid param `{name}`: {reason}"))
}

fn refused(refusal: &Refusal) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(
        codes::TX_REFUSED,
        format!("transaction refused: {refusal}"),
        Some(serde_json::json!({ "code": refusal.code() })),
    )
}

fn node_error(message: impl Into<String>) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::NODE_ERROR, message, None::<()>)
}
