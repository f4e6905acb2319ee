//! The bulk binary ingest endpoint: `POST /bulk` on the RPC port.
//!
//! JSON-RPC costs a hex encoding and a JSON parse per transaction; a load
//! generator or an aggregator can skip both. The request body is the
//! concatenation of records `u32 big-endian length || raw signed transaction`
//! (at most [`RpcConfig::max_bulk_bytes`](crate::RpcConfig) bytes and
//! [`RpcConfig::max_bulk_txs`](crate::RpcConfig) records). The whole body is one
//! `NodeApi::submit` batch. The answer is JSON: `{"accepted": n, "refused":
//! [{"index": i, "code": "busy", "message": "node busy: ..."}, ...]}` with
//! `index` the record's position, `code` the stable `Refusal::code()` and
//! `message` its explanation. A `busy` refusal means the node is at one of its
//! ingest bounds: retry the transaction later.
//!
//! Statuses: 200 (the batch was submitted; refusals are in the body), 400 (the
//! framing is broken), 405 (not a POST), 413 (body or record count over the
//! limit). Errors answer `{"error": "<why>"}`.

use crate::api::NodeApi;
use bytes::{BufMut, Bytes};
use http_body_util::{BodyExt, Limited};
use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use lakh_types::SignedTransaction;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Path of the endpoint.
pub const BULK_PATH: &str = "/bulk";

/// Bytes of a record's length prefix.
pub const RECORD_PREFIX_BYTES: usize = 4;

/// What the node did with a bulk submission.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkResult {
    /// Transactions queued.
    pub accepted: usize,
    /// Transactions refused, by record index (ascending).
    pub refused: Vec<BulkRefusal>,
}

/// One refused record of a bulk submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BulkRefusal {
    /// Position of the record in the body.
    pub index: usize,
    /// Stable `Refusal::code()`, e.g. `"nonce_gap"`.
    pub code: String,
    /// Why, for people (e.g. which bound a `busy` refusal hit).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// Why a bulk body was not submitted at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BulkError {
    #[error(
        "record {index} at byte {offset}: {remaining} bytes left, a length prefix needs {RECORD_PREFIX_BYTES}"
    )]
    TruncatedPrefix {
        index: usize,
        offset: usize,
        remaining: usize,
    },
    #[error(
        "record {index} at byte {offset} declares {declared} bytes but only {remaining} remain"
    )]
    TruncatedRecord {
        index: usize,
        offset: usize,
        declared: usize,
        remaining: usize,
    },
    #[error("more than {max} transactions in one bulk request")]
    TooManyTxs { max: usize },
    #[error("body is over the limit of {max} bytes")]
    TooLarge { max: usize },
    #[error("cannot read the request body: {0}")]
    Body(String),
}

impl BulkError {
    fn status(&self) -> u16 {
        match self {
            BulkError::TooManyTxs { .. } | BulkError::TooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// Appends one record (length prefix and raw bytes) to a bulk body.
pub fn push_record(body: &mut impl BufMut, raw: &[u8]) {
    // Transactions are far below 4 GiB (`limits::MAX_TX_BYTES`).
    body.put_u32(raw.len() as u32);
    body.put_slice(raw);
}

/// The bulk body submitting `txs`, in order.
pub fn encode_bulk(txs: &[SignedTransaction]) -> Vec<u8> {
    let size = txs
        .iter()
        .map(|t| RECORD_PREFIX_BYTES + t.encoded_len())
        .sum();
    let mut body = Vec::with_capacity(size);
    for t in txs {
        push_record(&mut body, t.raw());
    }
    body
}

/// Splits a bulk body into its transactions' raw bytes. Each gets its own
/// buffer: the mempool accounts for a transaction's bytes, and a slice would
/// keep the whole body alive while any one transaction stays queued.
/// Records are not decoded here: an undecodable one is the node's refusal
/// (`malformed`, `oversize`), not a framing error.
pub fn decode_bulk(body: &[u8], max_txs: usize) -> Result<Vec<Bytes>, BulkError> {
    let mut out = Vec::with_capacity((body.len() / 128).min(max_txs));
    let mut offset = 0;
    while offset < body.len() {
        let index = out.len();
        if index == max_txs {
            return Err(BulkError::TooManyTxs { max: max_txs });
        }
        let remaining = body.len() - offset;
        let Some(prefix) = body.get(offset..offset + RECORD_PREFIX_BYTES) else {
            return Err(BulkError::TruncatedPrefix {
                index,
                offset,
                remaining,
            });
        };
        let declared = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let start = offset + RECORD_PREFIX_BYTES;
        let Some(raw) = body.get(start..start.saturating_add(declared)) else {
            return Err(BulkError::TruncatedRecord {
                index,
                offset,
                declared,
                remaining: remaining - RECORD_PREFIX_BYTES,
            });
        };
        out.push(Bytes::copy_from_slice(raw));
        offset = start + declared;
    }
    Ok(out)
}

/// Limits of the endpoint.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BulkLimits {
    pub max_bytes: usize,
    pub max_txs: usize,
}

/// HTTP middleware that answers `/bulk` and passes every other request on
/// to the JSON-RPC service.
pub(crate) struct BulkLayer<N> {
    api: Arc<N>,
    limits: BulkLimits,
}

impl<N> BulkLayer<N> {
    pub(crate) fn new(api: Arc<N>, limits: BulkLimits) -> Self {
        BulkLayer { api, limits }
    }
}

impl<N> Clone for BulkLayer<N> {
    fn clone(&self) -> Self {
        BulkLayer {
            api: self.api.clone(),
            limits: self.limits,
        }
    }
}

impl<S, N> tower::Layer<S> for BulkLayer<N> {
    type Service = BulkService<S, N>;

    fn layer(&self, inner: S) -> Self::Service {
        BulkService {
            inner,
            api: self.api.clone(),
            limits: self.limits,
        }
    }
}

pub(crate) struct BulkService<S, N> {
    inner: S,
    api: Arc<N>,
    limits: BulkLimits,
}

impl<S: Clone, N> Clone for BulkService<S, N> {
    fn clone(&self) -> Self {
        BulkService {
            inner: self.inner.clone(),
            api: self.api.clone(),
            limits: self.limits,
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

impl<S, N> tower::Service<HttpRequest> for BulkService<S, N>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
    N: NodeApi,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> BoxFuture {
        if req.uri().path() != BULK_PATH {
            return Box::pin(self.inner.call(req));
        }
        let api = self.api.clone();
        let limits = self.limits;
        Box::pin(async move { Ok(serve_bulk(api, limits, req).await) })
    }
}

async fn serve_bulk<N: NodeApi>(api: Arc<N>, limits: BulkLimits, req: HttpRequest) -> HttpResponse {
    if req.method() != http::Method::POST {
        return error_response(405, "the bulk endpoint takes POST requests");
    }
    let raws = match read_body(req, limits).await {
        Ok(body) => match decode_bulk(&body, limits.max_txs) {
            Ok(raws) => raws,
            Err(e) => return error_response(e.status(), &e.to_string()),
        },
        Err(e) => return error_response(e.status(), &e.to_string()),
    };
    let count = raws.len();
    let results = if count == 0 {
        Vec::new()
    } else {
        api.submit(raws).await
    };
    if results.len() != count {
        return error_response(
            500,
            &format!(
                "node answered a submission of {count} transactions with {} results",
                results.len()
            ),
        );
    }
    let mut answer = BulkResult::default();
    for (index, r) in results.iter().enumerate() {
        match r {
            Ok(_) => answer.accepted += 1,
            Err(refusal) => answer.refused.push(BulkRefusal {
                index,
                code: refusal.code().to_string(),
                message: refusal.to_string(),
            }),
        }
    }
    json_response(200, &answer)
}

async fn read_body(req: HttpRequest, limits: BulkLimits) -> Result<Bytes, BulkError> {
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limits.max_bytes as u64) {
        return Err(BulkError::TooLarge {
            max: limits.max_bytes,
        });
    }
    match Limited::new(req.into_body(), limits.max_bytes)
        .collect()
        .await
    {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BulkError::TooLarge {
            max: limits.max_bytes,
        }),
        Err(e) => Err(BulkError::Body(e.to_string())),
    }
}

fn json_response(status: u16, body: &impl Serialize) -> HttpResponse {
    let json = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = HttpResponse::new(HttpBody::from(json));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn error_response(status: u16, message: &str) -> HttpResponse {
    json_response(status, &serde_json::json!({ "error": message }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_framing_errors_name_the_record() {
        let mut body = Vec::new();
        push_record(&mut body, b"abc");
        push_record(&mut body, b"");
        push_record(&mut body, &[7; 300]);
        let raws = decode_bulk(&body, 10).unwrap();
        assert_eq!(raws.len(), 3);
        assert_eq!(&raws[0][..], b"abc");
        assert!(raws[1].is_empty());
        assert_eq!(raws[2].len(), 300);

        assert_eq!(decode_bulk(&body, 2), Err(BulkError::TooManyTxs { max: 2 }));
        assert_eq!(
            decode_bulk(&body[..body.len() - 1], 10),
            Err(BulkError::TruncatedRecord {
                index: 2,
                offset: 11,
                declared: 300,
                remaining: 299
            })
        );
        assert_eq!(
            decode_bulk(&body[..9], 10),
            Err(BulkError::TruncatedPrefix {
                index: 1,
                offset: 7,
                remaining: 2
            })
        );
        // A declared length near u32::MAX must not overflow the bounds check.
        let huge = [0xff, 0xff, 0xff, 0xff, 1, 2];
        assert!(matches!(
            decode_bulk(&huge, 10),
            Err(BulkError::TruncatedRecord { declared, .. }) if declared == u32::MAX as usize
        ));
        assert_eq!(decode_bulk(&[], 10), Ok(vec![]));
    }
}
