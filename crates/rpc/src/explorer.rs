//! The block explorer on the RPC port: `GET /explorer` answers a static page
//! (HTML, one JS module, CSS) compiled into the binary, and `GET /` redirects
//! there. The page reads the chain only through the public JSON-RPC (POST to
//! the same origin) and the `lakh_subscribeFinalized` WebSocket, so it shows
//! nothing a client could not ask for itself.
//!
//! Every other request (JSON-RPC POSTs, WebSocket upgrades on `/`) passes on.

use jsonrpsee::core::BoxError;
use jsonrpsee::server::{HttpBody, HttpRequest, HttpResponse};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Path of the page.
pub const EXPLORER_PATH: &str = "/explorer";

const INDEX_HTML: &str = include_str!("../explorer/index.html");
const EXPLORER_JS: &str = include_str!("../explorer/explorer.js");
const EXPLORER_CSS: &str = include_str!("../explorer/explorer.css");

/// The page loads only its own script and style, and talks only to this
/// origin (`ws:`/`wss:` because older browsers do not count a WebSocket to
/// the same host as `'self'`). Inline script is refused, so text that slips
/// into the document as markup still cannot run.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// One embedded file and its content type.
struct Asset {
    body: &'static str,
    content_type: &'static str,
}

/// The embedded file served at `path`, if any.
fn asset(path: &str) -> Option<Asset> {
    let (body, content_type) = match path {
        "/explorer" | "/explorer/" | "/explorer/index.html" => {
            (INDEX_HTML, "text/html; charset=utf-8")
        }
        "/explorer/explorer.js" => (EXPLORER_JS, "text/javascript; charset=utf-8"),
        "/explorer/explorer.css" => (EXPLORER_CSS, "text/css; charset=utf-8"),
        _ => return None,
    };
    Some(Asset { body, content_type })
}

/// What the layer does with a request.
enum Route {
    Serve(Asset),
    RedirectHome,
    NotFound,
    WrongMethod,
    PassOn,
}

fn route(req: &HttpRequest) -> Route {
    let path = req.uri().path();
    let is_get = req.method() == http::Method::GET || req.method() == http::Method::HEAD;
    if path == "/" {
        // A WebSocket upgrade is a GET on `/` too: only a plain page load
        // is sent to the explorer.
        let upgrade = req.headers().contains_key(http::header::UPGRADE);
        return if is_get && !upgrade {
            Route::RedirectHome
        } else {
            Route::PassOn
        };
    }
    if path != EXPLORER_PATH && !path.starts_with("/explorer/") {
        return Route::PassOn;
    }
    if !is_get {
        return Route::WrongMethod;
    }
    asset(path).map_or(Route::NotFound, Route::Serve)
}

/// HTTP middleware serving the explorer and passing every other request on.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ExplorerLayer;

impl<S> tower::Layer<S> for ExplorerLayer {
    type Service = ExplorerService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ExplorerService { inner }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct ExplorerService<S> {
    inner: S,
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<HttpResponse, BoxError>> + Send>>;

impl<S> tower::Service<HttpRequest> for ExplorerService<S>
where
    S: tower::Service<HttpRequest, Response = HttpResponse, Error = BoxError>,
    S::Future: Send + 'static,
{
    type Response = HttpResponse;
    type Error = BoxError;
    type Future = BoxFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: HttpRequest) -> BoxFuture {
        let response = match route(&req) {
            Route::PassOn => return Box::pin(self.inner.call(req)),
            Route::Serve(asset) => page(asset),
            Route::RedirectHome => redirect(EXPLORER_PATH),
            Route::NotFound => plain(404, "no such explorer file\n"),
            Route::WrongMethod => plain(405, "the explorer takes GET requests\n"),
        };
        Box::pin(async move { Ok(response) })
    }
}

fn with_status(body: &'static str, status: http::StatusCode) -> HttpResponse {
    let mut response = HttpResponse::new(HttpBody::from(body));
    *response.status_mut() = status;
    response
}

fn set(response: &mut HttpResponse, name: http::HeaderName, value: &'static str) {
    response
        .headers_mut()
        .insert(name, http::HeaderValue::from_static(value));
}

fn page(asset: Asset) -> HttpResponse {
    let mut response = with_status(asset.body, http::StatusCode::OK);
    set(
        &mut response,
        http::header::CONTENT_TYPE,
        asset.content_type,
    );
    set(
        &mut response,
        http::header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(
        &mut response,
        http::header::X_CONTENT_TYPE_OPTIONS,
        "nosniff",
    );
    set(&mut response, http::header::REFERRER_POLICY, "no-referrer");
    // The files change with the binary: a browser must not keep an old
    // script after the node is upgraded.
    set(&mut response, http::header::CACHE_CONTROL, "no-cache");
    response
}

fn redirect(to: &'static str) -> HttpResponse {
    let mut response = with_status("", http::StatusCode::FOUND);
    set(&mut response, http::header::LOCATION, to);
    response
}

fn plain(status: u16, body: &'static str) -> HttpResponse {
    let status = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::NOT_FOUND);
    let mut response = with_status(body, status);
    set(
        &mut response,
        http::header::CONTENT_TYPE,
        "text/plain; charset=utf-8",
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: http::Method, path: &str, upgrade: bool) -> HttpRequest {
        let mut builder = http::Request::builder().method(method).uri(path);
        if upgrade {
            builder = builder.header(http::header::UPGRADE, "websocket");
        }
        builder.body(HttpBody::empty()).unwrap()
    }

    fn served(req: &HttpRequest) -> Option<&'static str> {
        match route(req) {
            Route::Serve(asset) => Some(asset.content_type),
            _ => None,
        }
    }

    #[test]
    fn serves_the_three_files_and_nothing_else() {
        let get = |p| request(http::Method::GET, p, false);
        assert!(served(&get("/explorer")).unwrap().starts_with("text/html"));
        assert!(served(&get("/explorer/")).unwrap().starts_with("text/html"));
        let js = served(&get("/explorer/explorer.js")).unwrap();
        assert!(js.starts_with("text/javascript"));
        assert!(
            served(&get("/explorer/explorer.css"))
                .unwrap()
                .starts_with("text/css")
        );
        assert!(matches!(route(&get("/explorer/../x")), Route::NotFound));
        assert!(matches!(route(&get("/explorerx")), Route::PassOn));
        assert!(matches!(route(&get("/metrics")), Route::PassOn));
    }

    #[test]
    fn the_root_redirects_page_loads_but_not_rpc_or_websockets() {
        let root = |m, up| route(&request(m, "/", up));
        assert!(matches!(
            root(http::Method::GET, false),
            Route::RedirectHome
        ));
        assert!(matches!(root(http::Method::GET, true), Route::PassOn));
        assert!(matches!(root(http::Method::POST, false), Route::PassOn));
        let post = request(http::Method::POST, "/explorer", false);
        assert!(matches!(route(&post), Route::WrongMethod));
    }

    #[test]
    fn the_page_names_its_own_script_and_style() {
        assert!(INDEX_HTML.contains("src=\"/explorer/explorer.js\""));
        assert!(INDEX_HTML.contains("href=\"/explorer/explorer.css\""));
        // User text goes in as text: the script never assigns markup.
        assert!(!EXPLORER_JS.contains("innerHTML"));
        assert!(!EXPLORER_JS.contains("insertAdjacentHTML"));
        assert!(!EXPLORER_JS.contains("document.write"));
    }
}
