//! Metrics on the RPC port: `GET /metrics` answers the node's Prometheus
//! text ([`NodeApi::metrics`]), and every JSON-RPC call is counted by method
//! and outcome ([`RpcMetrics`]).

use crate::api::NodeApi;
use crate::strict::PARAMS;
use jsonrpsee::core::BoxError;
use jsonrpsee::core::server::BatchResponseBuilder;
use jsonrpsee::server::middleware::rpc::{
    Batch, BatchEntry, MethodResponse, Notification, RpcServiceT,
};
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use jsonrpsee::types::Request;
use prometheus_client::metrics::{counter::Counter, family::Family};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// Path of the endpoint.
pub const METRICS_PATH: &str = "/metrics";

/// Content type of the text the registry writes (OpenMetrics: counters'
/// samples end in `_total`, the text in `# EOF`).
const OPENMETRICS_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PLAIN_TEXT: &str = "text/plain; charset=utf-8";

/// Labels of a counted call: its method (`other` for a name the server does
/// not serve, so clients cannot grow the label set) and `ok` or the error
/// code.
pub type RequestLabels = [(&'static str, String); 2];

/// What the server counts; the node registers `requests` in its registry.
#[derive(Clone, Debug, Default)]
pub struct RpcMetrics {
    /// JSON-RPC calls answered, by method and status.
    pub requests: Family<RequestLabels, Counter>,
}

impl RpcMetrics {
    fn count(&self, method: &str, response: &MethodResponse) {
        let method = PARAMS
            .iter()
            .find(|(name, _)| *name == method)
            .map_or("other", |(name, _)| name);
        let status = response
            .as_error_code()
            .map_or_else(|| "ok".to_string(), |code| code.to_string());
        self.requests
            .get_or_create(&[("method", method.to_string()), ("status", status)])
            .inc();
    }
}

/// RPC middleware counting each call, alone or in a batch.
#[derive(Clone, Debug)]
pub(crate) struct CountRequests<S> {
    service: S,
    metrics: RpcMetrics,
    max_response_bytes: usize,
}

impl<S> CountRequests<S> {
    pub(crate) fn new(service: S, metrics: RpcMetrics, max_response_bytes: usize) -> Self {
        CountRequests {
            service,
            metrics,
            max_response_bytes,
        }
    }
}

impl<S> RpcServiceT for CountRequests<S>
where
    S: RpcServiceT<
            MethodResponse = MethodResponse,
            BatchResponse = MethodResponse,
            NotificationResponse = MethodResponse,
        > + Send
        + Sync
        + Clone
        + 'static,
{
    type MethodResponse = MethodResponse;
    type NotificationResponse = MethodResponse;
    type BatchResponse = MethodResponse;

    fn call<'a>(&self, req: Request<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let service = self.service.clone();
        let metrics = self.metrics.clone();
        async move {
            let method = req.method_name().to_string();
            let response = service.call(req).await;
            metrics.count(&method, &response);
            response
        }
    }

    /// Answers each call of the batch through [`Self::call`] (the inner
    /// service's own batch would bypass the count).
    fn batch<'a>(&self, batch: Batch<'a>) -> impl Future<Output = MethodResponse> + Send + 'a {
        let this = self.clone();
        async move {
            let mut answers = BatchResponseBuilder::new_with_limit(this.max_response_bytes);
            let mut notified = false;
            for entry in batch.into_iter() {
                let response = match entry {
                    Ok(BatchEntry::Call(req)) => this.call(req).await,
                    Ok(BatchEntry::Notification(n)) => {
                        notified = true;
                        this.service.notification(n).await;
                        continue;
                    }
                    Err(err) => {
                        let (err, id) = err.into_parts();
                        MethodResponse::error(id, err)
                    }
                };
                if let Err(too_large) = answers.append(response) {
                    return too_large;
                }
            }
            if answers.is_empty() && notified {
                MethodResponse::notification()
            } else {
                MethodResponse::from_batch(answers.finish())
            }
        }
    }

    fn notification<'a>(
        &self,
        n: Notification<'a>,
    ) -> impl Future<Output = MethodResponse> + Send + 'a {
        self.service.notification(n)
    }
}

/// HTTP middleware that answers `GET /metrics` and passes every other
/// request on.
pub(crate) struct MetricsLayer<N> {
    api: Arc<N>,
}

impl<N> MetricsLayer<N> {
    pub(crate) fn new(api: Arc<N>) -> Self {
        MetricsLayer { api }
    }
}

impl<N> Clone for MetricsLayer<N> {
    fn clone(&self) -> Self {
        MetricsLayer {
            api: self.api.clone(),
        }
    }
}

impl<S, N> tower::Layer<S> for MetricsLayer<N> {
    type Service = MetricsService<S, N>;

    fn layer(&self, inner: S) -> Self::Service {
        MetricsService {
            inner,
            api: self.api.clone(),
        }
    }
}

pub(crate) struct MetricsService<S, N> {
    inner: S,
    api: Arc<N>,
}

impl<S: Clone, N> Clone for MetricsService<S, N> {
    fn clone(&self) -> Self {
        MetricsService {
            inner: self.inner.clone(),
            api: self.api.clone(),
        }
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

impl<S, N> tower::Service<HttpRequest> for MetricsService<S, N>
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
        if req.uri().path() != METRICS_PATH {
            return Box::pin(self.inner.call(req));
        }
        let response = if req.method() != http::Method::GET {
            text_response(
                405,
                PLAIN_TEXT,
                "the metrics endpoint takes GET requests\n".into(),
            )
        } else {
            match self.api.metrics() {
                Some(text) => text_response(200, OPENMETRICS_TEXT, text),
                None => text_response(404, PLAIN_TEXT, "this node keeps no metrics\n".into()),
            }
        };
        Box::pin(async move { Ok(response) })
    }
}

fn text_response(status: u16, content_type: &'static str, body: String) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}
