//! Typed client: the generated [`LakhApiClient`] over HTTP for calls and over
//! a WebSocket (opened on demand) for subscriptions, plain HTTP POSTs to the
//! bulk ingest endpoint, and waiting for finality.

use crate::bulk::{BULK_PATH, BulkResult, encode_bulk};
use crate::interface::LakhApiClient;
use crate::params::{
    AddressParam, AssetParam, CursorParam, HashParam, HeightParam, HexBytes, LimitParam, TxIdParam,
    TxListParam, TxParam,
};
use crate::server::codes;
use crate::types::{
    AccountInfo, AccountTxsPage, AssetInfoJson, AssetRef, BlockInfo, FinalityInfo, Hash32,
    HeadInfo, SubmitError, SubmitOutcome, TxStatusInfo,
};
use jsonrpsee::core::client::Subscription;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use lakh_types::{Address, Receipt, SignedTransaction, TxId};
use std::time::{Duration, Instant};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The node refused the transaction; `code` is the stable refusal code.
    #[error("transaction refused: {0}")]
    Refused(SubmitError),
    /// A module query has no answer; `code` is the reason's stable code.
    #[error("query failed ({code}): {message}")]
    Query { code: String, message: String },
    /// The node answered with a JSON-RPC error.
    #[error("node error {code}: {message}")]
    Rpc { code: i32, message: String },
    /// The node could not be reached or answered something unreadable.
    #[error("cannot talk to the node at {url}: {detail}")]
    Transport { url: String, detail: String },
    #[error("transaction {id} not finalized after {waited_ms} ms")]
    Timeout { id: TxId, waited_ms: u64 },
    #[error("the finalized-block subscription ended: {0}")]
    SubscriptionEnded(String),
    /// The bulk endpoint answered an HTTP error (e.g. 400 malformed body,
    /// 413 over the limits); `message` is the node's explanation.
    #[error("bulk endpoint answered HTTP {status}: {message}")]
    Http { status: u16, message: String },
}

/// Largest request the client sends and response it accepts (bytes); matches
/// the server's defaults.
const MAX_REQUEST_BYTES: u32 = 8 * 1024 * 1024;
const MAX_RESPONSE_BYTES: u32 = 32 * 1024 * 1024;
/// A `submit_batch` call is split so each request stays well under the
/// server's body limit and transaction count limit.
const SUBMIT_CHUNK_TXS: usize = 10_000;
const SUBMIT_CHUNK_HEX_BYTES: usize = 6 * 1024 * 1024;
/// How long a bulk submission may take (the node verifies every signature
/// before answering).
const BULK_TIMEOUT: Duration = Duration::from_secs(60);

/// Largest bulk answer the client reads (bytes): one refusal per record of a
/// full request fits.
const MAX_BULK_RESPONSE_BYTES: usize = 8 * 1024 * 1024;

type BulkHttp = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    http_body_util::Full<bytes::Bytes>,
>;

/// A typed lakh RPC client.
#[derive(Clone)]
pub struct LakhClient {
    http: HttpClient,
    bulk: BulkHttp,
    url: String,
    ws_url: String,
}

impl std::fmt::Debug for LakhClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LakhClient")
            .field("url", &self.url)
            .finish()
    }
}

/// A transaction's place in a finalized block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalizedTx {
    pub receipt: Receipt,
    pub block_hash: Hash32,
}

impl LakhClient {
    /// A client for the node at `url` (`http://host:port`; a bare `host:port`
    /// means http). No request is sent until the first call.
    pub fn connect(url: &str) -> Result<LakhClient, ClientError> {
        let url = if url.contains("://") {
            url.to_string()
        } else {
            format!("http://{url}")
        };
        let ws_url = if let Some(rest) = url.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if let Some(rest) = url.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            return Err(ClientError::Transport {
                url,
                detail: "the RPC url must start with http:// or https://".into(),
            });
        };
        let http = HttpClientBuilder::default()
            .max_request_size(MAX_REQUEST_BYTES)
            .max_response_size(MAX_RESPONSE_BYTES)
            .request_timeout(Duration::from_secs(30))
            .build(&url)
            .map_err(|e| ClientError::Transport {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        let bulk =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        Ok(LakhClient {
            http,
            bulk,
            url,
            ws_url,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The generated client over HTTP, with its errors mapped to [`ClientError`].
    async fn call<R>(
        &self,
        call: impl std::future::Future<Output = Result<R, jsonrpsee::core::client::Error>>,
    ) -> Result<R, ClientError> {
        call.await.map_err(|e| self.map_error(e))
    }

    fn map_error(&self, e: jsonrpsee::core::client::Error) -> ClientError {
        use jsonrpsee::core::client::Error;
        match e {
            Error::Call(obj) => {
                if obj.code() == codes::TX_REFUSED {
                    let code = obj
                        .data()
                        .and_then(|d| serde_json::from_str::<serde_json::Value>(d.get()).ok())
                        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(String::from))
                        .unwrap_or_else(|| "unknown".into());
                    let message = obj.message();
                    let message = message
                        .strip_prefix("transaction refused: ")
                        .unwrap_or(message)
                        .to_string();
                    ClientError::Refused(SubmitError { code, message })
                } else if obj.code() == codes::QUERY_FAILED {
                    let code = obj
                        .data()
                        .and_then(|d| serde_json::from_str::<serde_json::Value>(d.get()).ok())
                        .and_then(|v| v.get("code").and_then(|c| c.as_str()).map(String::from))
                        .unwrap_or_else(|| "unknown".into());
                    ClientError::Query {
                        code,
                        message: obj.message().to_string(),
                    }
                } else {
                    ClientError::Rpc {
                        code: obj.code(),
                        message: obj.message().to_string(),
                    }
                }
            }
            other => ClientError::Transport {
                url: self.url.clone(),
                detail: other.to_string(),
            },
        }
    }

    pub async fn chain_id(&self) -> Result<u64, ClientError> {
        self.call(self.http.chain_id()).await
    }

    /// Submits one signed transaction; a refusal is `ClientError::Refused`.
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<TxId, ClientError> {
        let raw = TxParam(HexBytes(tx.raw().clone()));
        self.call(self.http.submit_transaction(raw)).await
    }

    /// Submits many transactions (split into as many calls as the server's
    /// limits need). Returns one result per transaction, in order.
    pub async fn submit_batch(
        &self,
        txs: &[SignedTransaction],
    ) -> Result<Vec<Result<TxId, SubmitError>>, ClientError> {
        let mut out = Vec::with_capacity(txs.len());
        let mut start = 0;
        while start < txs.len() {
            let mut end = start;
            let mut hex_bytes = 0;
            while end < txs.len() && end - start < SUBMIT_CHUNK_TXS {
                let size = txs[end].encoded_len() * 2 + 3;
                if end > start && hex_bytes + size > SUBMIT_CHUNK_HEX_BYTES {
                    break;
                }
                hex_bytes += size;
                end += 1;
            }
            let chunk = TxListParam(txs[start..end].iter().map(|t| t.raw().clone()).collect());
            let answers: Vec<SubmitOutcome> =
                self.call(self.http.submit_transactions(chunk)).await?;
            if answers.len() != end - start {
                return Err(ClientError::Rpc {
                    code: codes::NODE_ERROR,
                    message: format!(
                        "node answered {} transactions with {} results",
                        end - start,
                        answers.len()
                    ),
                });
            }
            out.extend(answers.into_iter().map(|a| match a {
                SubmitOutcome::Accepted { id } => Ok(id),
                SubmitOutcome::Refused { error } => Err(error),
            }));
            start = end;
        }
        Ok(out)
    }

    /// Submits `txs` as one batch through the bulk binary endpoint (one
    /// request; the node's limits apply, by default 50,000 transactions and
    /// 16 MiB). Refusals are listed by index in the answer.
    pub async fn submit_bulk(&self, txs: &[SignedTransaction]) -> Result<BulkResult, ClientError> {
        self.submit_bulk_body(bytes::Bytes::from(encode_bulk(txs)))
            .await
    }

    /// Posts an already encoded bulk body (records built with
    /// [`crate::bulk::push_record`]), so a caller holding pre-encoded
    /// transactions sends them without copying.
    pub async fn submit_bulk_body(&self, body: bytes::Bytes) -> Result<BulkResult, ClientError> {
        use http_body_util::BodyExt;
        let transport = |detail: String| ClientError::Transport {
            url: self.url.clone(),
            detail,
        };
        let uri = format!("{}{BULK_PATH}", self.url.trim_end_matches('/'));
        let request = http::Request::post(&uri)
            .header(http::header::CONTENT_TYPE, "application/octet-stream")
            .body(http_body_util::Full::new(body))
            .map_err(|e| transport(format!("cannot build a request to {uri}: {e}")))?;
        let response = tokio::time::timeout(BULK_TIMEOUT, self.bulk.request(request))
            .await
            .map_err(|_| transport(format!("no answer from {uri} in {BULK_TIMEOUT:?}")))?
            .map_err(|e| transport(format!("POST {uri}: {e}")))?;
        let status = response.status().as_u16();
        let body = http_body_util::Limited::new(response.into_body(), MAX_BULK_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| transport(format!("reading the answer of {uri}: {e}")))?
            .to_bytes();
        if status != 200 {
            let message = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(ClientError::Http { status, message });
        }
        serde_json::from_slice(&body)
            .map_err(|e| transport(format!("unreadable answer from {uri}: {e}")))
    }

    pub async fn tx_status(&self, id: TxId) -> Result<TxStatusInfo, ClientError> {
        self.call(self.http.get_transaction(TxIdParam(id))).await
    }

    pub async fn account(&self, addr: Address, prove: bool) -> Result<AccountInfo, ClientError> {
        self.call(self.http.get_account(AddressParam(addr), Some(prove)))
            .await
    }

    /// A page of the account's transactions, newest first (see
    /// `lakh_getAccountTransactions`).
    pub async fn account_txs(
        &self,
        addr: Address,
        cursor: Option<u64>,
        limit: Option<u32>,
    ) -> Result<AccountTxsPage, ClientError> {
        self.call(self.http.get_account_transactions(
            AddressParam(addr),
            cursor.map(CursorParam),
            limit.map(LimitParam),
        ))
        .await
    }

    pub async fn block_by_height(&self, height: u64) -> Result<Option<BlockInfo>, ClientError> {
        self.call(self.http.get_block_by_height(HeightParam(height)))
            .await
    }

    pub async fn block_by_hash(&self, hash: Hash32) -> Result<Option<BlockInfo>, ClientError> {
        self.call(self.http.get_block_by_hash(HashParam(hash)))
            .await
    }

    /// The certificate that finalized the block at `height`, unchecked:
    /// pass it to [`crate::finality::verify_finality`] with the committee
    /// of its epoch.
    pub async fn finality(&self, height: u64) -> Result<Option<FinalityInfo>, ClientError> {
        self.call(self.http.get_finality(HeightParam(height))).await
    }

    pub async fn head(&self) -> Result<HeadInfo, ClientError> {
        self.call(self.http.head()).await
    }

    pub async fn asset(&self, asset: &AssetRef) -> Result<Option<AssetInfoJson>, ClientError> {
        self.call(self.http.get_asset(AssetParam(asset.clone())))
            .await
    }

    /// Asks a module a read-only question (see docs/MODULES.md for each
    /// module's methods); a query without an answer is `ClientError::Query`.
    pub async fn query(
        &self,
        module: &str,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, ClientError> {
        let (module, method) = (module.to_string(), method.to_string());
        self.call(self.http.query(module, method, Some(params)))
            .await
    }

    /// Opens a WebSocket and subscribes to finalized blocks.
    pub async fn subscribe_finalized(&self) -> Result<FinalizedBlocks, ClientError> {
        let ws = WsClientBuilder::default()
            .max_request_size(MAX_REQUEST_BYTES)
            .max_response_size(MAX_RESPONSE_BYTES)
            .build(&self.ws_url)
            .await
            .map_err(|e| ClientError::Transport {
                url: self.ws_url.clone(),
                detail: e.to_string(),
            })?;
        let sub = self.call(ws.subscribe_finalized()).await?;
        Ok(FinalizedBlocks { _ws: ws, sub })
    }

    /// Polls the transaction's status until it is finalized or `timeout`
    /// passes. Polling (rather than a subscription) works over plain HTTP and
    /// cannot miss a block. Polls start 10 ms apart and back off to 50 ms: a
    /// transfer on a resting chain finalizes in tens of milliseconds, which a
    /// longer pause would hide.
    pub async fn wait_for_finality(
        &self,
        id: TxId,
        timeout: Duration,
    ) -> Result<FinalizedTx, ClientError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(10);
        loop {
            if let TxStatusInfo::Finalized {
                receipt,
                block_hash,
            } = self.tx_status(id).await?
            {
                return Ok(FinalizedTx {
                    receipt,
                    block_hash,
                });
            }
            let waited = started.elapsed();
            if waited >= timeout {
                return Err(ClientError::Timeout {
                    id,
                    waited_ms: waited.as_millis() as u64,
                });
            }
            tokio::time::sleep(pause.min(timeout - waited)).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

/// A live subscription to finalized blocks. Dropping it closes the WebSocket.
pub struct FinalizedBlocks {
    _ws: WsClient,
    sub: Subscription<BlockInfo>,
}

impl FinalizedBlocks {
    /// The next finalized block; `Err` once the subscription has ended.
    pub async fn next(&mut self) -> Result<BlockInfo, ClientError> {
        match self.sub.next().await {
            Some(Ok(block)) => Ok(block),
            Some(Err(e)) => Err(ClientError::SubscriptionEnded(format!(
                "unreadable notification: {e}"
            ))),
            None => Err(ClientError::SubscriptionEnded(
                self.sub
                    .close_reason()
                    .map(|r| format!("{r:?}"))
                    .unwrap_or_else(|| "closed by the node".into()),
            )),
        }
    }
}
