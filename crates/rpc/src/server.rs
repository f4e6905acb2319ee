//! The JSON-RPC server: HTTP and WebSocket on one port, every method in the
//! `lakh_` namespace, every input bounded. The same port serves the bulk
//! binary ingest endpoint ([`crate::bulk`]).

use crate::api::NodeApi;
use crate::bulk::{BulkLayer, BulkLimits};
use crate::types::{AssetRef, BlockId, Hash32, SubmitError, SubmitOutcome, decode_hex};
use bytes::Bytes;
use jsonrpsee::server::{
    BatchRequestConfig, PendingSubscriptionSink, RpcModule, Server, ServerConfig, ServerHandle,
    SubscriptionMessage,
};
use jsonrpsee::types::{ErrorObjectOwned, Params};
use lakh_types::{Address, AssetId, Refusal, Symbol, TxId};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// Method names, shared by the server and the client.
pub mod methods {
    pub const CHAIN_ID: &str = "lakh_chainId";
    pub const SUBMIT_TRANSACTION: &str = "lakh_submitTransaction";
    pub const SUBMIT_TRANSACTIONS: &str = "lakh_submitTransactions";
    pub const GET_TRANSACTION: &str = "lakh_getTransaction";
    pub const GET_ACCOUNT: &str = "lakh_getAccount";
    pub const GET_BLOCK_BY_HEIGHT: &str = "lakh_getBlockByHeight";
    pub const GET_BLOCK_BY_HASH: &str = "lakh_getBlockByHash";
    pub const HEAD: &str = "lakh_head";
    pub const GET_ASSET: &str = "lakh_getAsset";
    pub const QUERY: &str = "lakh_query";
    pub const SUBSCRIBE_FINALIZED: &str = "lakh_subscribeFinalized";
    pub const UNSUBSCRIBE_FINALIZED: &str = "lakh_unsubscribeFinalized";
    /// Method name of the notifications a finalized-block subscription sends.
    pub const FINALIZED_NOTIFICATION: &str = "lakh_finalized";
}

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
    let server = Server::builder()
        .set_config(server_cfg)
        .set_http_middleware(tower::ServiceBuilder::new().layer(bulk))
        .build(addr)
        .await?;
    let bound = server.local_addr()?;
    let module = rpc_module(api, cfg).map_err(std::io::Error::other)?;
    Ok((bound, server.start(module)))
}

struct Ctx<N> {
    api: Arc<N>,
    cfg: RpcConfig,
}

fn rpc_module<N: NodeApi>(
    api: Arc<N>,
    cfg: RpcConfig,
) -> Result<RpcModule<Ctx<N>>, jsonrpsee::core::RegisterMethodError> {
    use methods::*;
    let mut m = RpcModule::new(Ctx { api, cfg });

    m.register_method(CHAIN_ID, |params, ctx, _| {
        args(&params, &[])?;
        Ok::<_, ErrorObjectOwned>(ctx.api.chain_id())
    })?;

    m.register_async_method(SUBMIT_TRANSACTION, |params, ctx, _| async move {
        let raw = {
            let a = args(&params, &["tx"])?;
            let hex: HexStr = arg(&a, 0, "tx")?;
            decode_hex(&hex.0).map_err(|e| invalid_param("tx", &e))?
        };
        let mut results = ctx.api.submit(vec![Bytes::from(raw)]).await;
        match results.pop() {
            Some(Ok(id)) if results.is_empty() => Ok(id),
            Some(Err(refusal)) if results.is_empty() => Err(refused(&refusal)),
            _ => Err(node_error(
                "node answered a submission of 1 transaction with a different count",
            )),
        }
    })?;

    m.register_async_method(SUBMIT_TRANSACTIONS, |params, ctx, _| async move {
        let txs = decode_tx_list(&params, ctx.cfg.max_submit_txs)?;
        let count = txs.len();
        let results = ctx.api.submit(txs).await;
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
            .collect::<Vec<_>>())
    })?;

    m.register_async_method(GET_TRANSACTION, |params, ctx, _| async move {
        let id = {
            let a = args(&params, &["id"])?;
            let s: HexStr = arg(&a, 0, "id")?;
            s.0.parse::<TxId>().map_err(|e| invalid_param("id", &e))?
        };
        Ok::<_, ErrorObjectOwned>(ctx.api.tx_status(id).await)
    })?;

    m.register_async_method(GET_ACCOUNT, |params, ctx, _| async move {
        let (address, prove) = {
            let a = args(&params, &["address", "prove"])?;
            let s: HexStr = arg(&a, 0, "address")?;
            let address =
                s.0.parse::<Address>()
                    .map_err(|e| invalid_param("address", &e.to_string()))?;
            let prove: Option<bool> = arg(&a, 1, "prove")?;
            (address, prove.unwrap_or(false))
        };
        ctx.api.account(address, prove).await.map_err(node_error)
    })?;

    m.register_async_method(GET_BLOCK_BY_HEIGHT, |params, ctx, _| async move {
        let height = {
            let a = args(&params, &["height"])?;
            arg::<u64>(&a, 0, "height")?
        };
        Ok::<_, ErrorObjectOwned>(ctx.api.block(BlockId::Height(height)).await)
    })?;

    m.register_async_method(GET_BLOCK_BY_HASH, |params, ctx, _| async move {
        let hash = {
            let a = args(&params, &["hash"])?;
            let s: HexStr = arg(&a, 0, "hash")?;
            s.0.parse::<Hash32>()
                .map_err(|e| invalid_param("hash", &e))?
        };
        Ok::<_, ErrorObjectOwned>(ctx.api.block(BlockId::Hash(hash.0)).await)
    })?;

    m.register_async_method(HEAD, |params, ctx, _| async move {
        args(&params, &[])?;
        Ok::<_, ErrorObjectOwned>(ctx.api.head().await)
    })?;

    m.register_async_method(GET_ASSET, |params, ctx, _| async move {
        let asset = {
            let a = args(&params, &["asset"])?;
            match arg::<IdOrSymbol>(&a, 0, "asset")? {
                IdOrSymbol::Id(id) => AssetRef::Id(AssetId(id)),
                IdOrSymbol::Symbol(s) => {
                    AssetRef::Symbol(Symbol::new(&s).map_err(|e| invalid_param("asset", &e))?)
                }
            }
        };
        Ok::<_, ErrorObjectOwned>(ctx.api.asset(asset).await)
    })?;

    m.register_async_method(QUERY, |params, ctx, _| async move {
        let (module, method, query_params) = {
            let a = args(&params, &["module", "method", "params"])?;
            let module: String = arg(&a, 0, "module")?;
            let method: String = arg(&a, 1, "method")?;
            let query_params: Option<serde_json::Value> = arg(&a, 2, "params")?;
            (
                module,
                method,
                query_params.unwrap_or(serde_json::json!({})),
            )
        };
        ctx.api
            .query(module, method, query_params)
            .await
            .map_err(|f| {
                ErrorObjectOwned::owned(
                    codes::QUERY_FAILED,
                    f.message,
                    Some(serde_json::json!({ "code": f.code })),
                )
            })
    })?;

    m.register_subscription(
        SUBSCRIBE_FINALIZED,
        FINALIZED_NOTIFICATION,
        UNSUBSCRIBE_FINALIZED,
        |params, pending, ctx, _| async move { forward_finalized(params, pending, ctx).await },
    )?;

    Ok(m)
}

/// Streams finalized blocks to one subscriber until it leaves. A subscriber
/// too slow to keep up is told so and dropped rather than silently skipped:
/// it knows the last height it saw and can fetch the gap by height.
async fn forward_finalized<N: NodeApi>(
    params: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<Ctx<N>>,
) -> Result<(), jsonrpsee::core::SubscriptionError> {
    if let Err(e) = args(&params, &[]) {
        pending.reject(e).await;
        return Ok(());
    }
    // Subscribe before accepting so no block finalized in between is missed.
    let mut blocks = ctx.api.subscribe_finalized();
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

/// Decodes the hex list of `lakh_submitTransactions` without copying the
/// strings out of the request.
fn decode_tx_list(params: &Params<'_>, max_txs: usize) -> Result<Vec<Bytes>, ErrorObjectOwned> {
    let a = args(params, &["txs"])?;
    let list: Vec<HexStr> = arg(&a, 0, "txs")?;
    if list.len() > max_txs {
        return Err(invalid_param(
            "txs",
            &format!(
                "{} transactions exceed the limit of {max_txs} per call",
                list.len()
            ),
        ));
    }
    // One buffer per transaction: a shared batch buffer would stay alive as long
    // as any one of its transactions sits in the mempool, defeating the
    // mempool's byte accounting.
    list.iter()
        .enumerate()
        .map(|(i, s)| {
            decode_hex(&s.0)
                .map(Bytes::from)
                .map_err(|e| invalid_param(&format!("txs[{i}]"), &e))
        })
        .collect()
}

/// A JSON string, borrowed from the request when it has no escapes.
#[derive(Deserialize)]
struct HexStr<'a>(#[serde(borrow)] Cow<'a, str>);

#[derive(Deserialize)]
#[serde(untagged)]
enum IdOrSymbol {
    Id(u64),
    Symbol(String),
}

/// Splits the params into raw values, positionally (`[a, b]`) or by name
/// (`{"a": .., "b": ..}`), refusing unknown names and extra values.
fn args<'a>(
    params: &'a Params<'_>,
    names: &[&str],
) -> Result<Vec<Option<&'a RawValue>>, ErrorObjectOwned> {
    let Some(json) = params.as_str() else {
        return Ok(vec![None; names.len()]);
    };
    if params.is_object() {
        let map: std::collections::BTreeMap<String, &'a RawValue> = serde_json::from_str(json)
            .map_err(|e| invalid_params(format!("params must be an array or an object: {e}")))?;
        let mut out = vec![None; names.len()];
        for (name, value) in map {
            match names.iter().position(|n| *n == name) {
                Some(i) => out[i] = Some(value),
                None => {
                    return Err(invalid_params(format!(
                        "unknown param `{name}`; expected {}",
                        describe(names)
                    )));
                }
            }
        }
        return Ok(out);
    }
    let list: Vec<&'a RawValue> = serde_json::from_str(json)
        .map_err(|e| invalid_params(format!("params must be an array or an object: {e}")))?;
    if list.len() > names.len() {
        return Err(invalid_params(format!(
            "expected at most {} params ({}), got {}",
            names.len(),
            describe(names),
            list.len()
        )));
    }
    let mut out: Vec<Option<&RawValue>> = list.into_iter().map(Some).collect();
    out.resize(names.len(), None);
    Ok(out)
}

/// Parses param `index`; a missing or `null` param is an error unless `T` is an `Option`.
fn arg<'a, T: Deserialize<'a>>(
    args: &[Option<&'a RawValue>],
    index: usize,
    name: &str,
) -> Result<T, ErrorObjectOwned> {
    let json = args
        .get(index)
        .copied()
        .flatten()
        .map_or("null", |v| v.get());
    serde_json::from_str(json).map_err(|e| {
        if json == "null" {
            invalid_param(name, "missing")
        } else {
            invalid_param(name, &e.to_string())
        }
    })
}

fn describe(names: &[&str]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn invalid_params(message: String) -> ErrorObjectOwned {
    ErrorObjectOwned::owned(codes::INVALID_PARAMS, message, None::<()>)
}

fn invalid_param(name: &str, reason: &str) -> ErrorObjectOwned {
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
