//! The daemon's listener: the status page on `/`, `/health` and `/metrics` over
//! HTTP/1.1 (hyper), read from the state store on each request. With a token, `/` and
//! `/metrics` answer only `Authorization: Bearer <token>`; `/health` stays open for
//! probes.

use std::path::{Path, PathBuf};
use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};

use crate::store::daemon_state::DaemonState;
use crate::store::StoreError;

/// Most connections the listener serves at once; more wait in the accept queue.
pub(crate) const MAX_CONNECTIONS: usize = 256;
/// A connection that has not sent its request head by then is closed.
const HEADER_TIMEOUT: StdDuration = StdDuration::from_secs(2);
/// Bound on one whole connection.
const CONNECTION_TIMEOUT: StdDuration = StdDuration::from_secs(10);

/// The bearer token `/` and `/metrics` ask for, kept as its SHA-256 so every comparison
/// takes the same time whatever the length or the first wrong byte of a guess.
#[derive(Clone)]
pub struct Token(std::sync::Arc<[u8; 32]>);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([REDACTED])")
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes).into()
}

impl Token {
    pub fn new(token: &str) -> Token {
        Token(std::sync::Arc::new(sha256(token.as_bytes())))
    }

    /// Whether `header` (an Authorization header's value) carries the token, compared in
    /// constant time.
    pub fn admits(&self, header: Option<&[u8]>) -> bool {
        let Some(given) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
            return false;
        };
        let given = sha256(given.trim_ascii());
        given
            .iter()
            .zip(self.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

/// Serves the status page, `/health` and `/metrics` from the state store in `state`
/// until the task is dropped, with hyper: one request per connection, at most [`MAX_CONNECTIONS`] at once,
/// a slow or silent client cut off after [`HEADER_TIMEOUT`], GET and HEAD only. An
/// accept error (out of file descriptors) backs off instead of spinning. Each request
/// reads the store afresh; nothing is shared with the runs.
///
/// `csp` is the status page's Content-Security-Policy, sent with it.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: PathBuf,
    token: Option<Token>,
    csp: std::sync::Arc<str>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut backoff = StdDuration::from_millis(10);
    loop {
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                backoff = StdDuration::from_millis(10);
                stream
            }
            Err(e) => {
                tracing::warn!(error = %e, "daemon: cannot accept a connection: {e}; retrying in {backoff:?}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(StdDuration::from_secs(1));
                continue;
            }
        };
        let state = state.clone();
        let token = token.clone();
        let csp = csp.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (state, token, csp) = (state.clone(), token.clone(), csp.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(
                        handle(request, state, token.as_ref(), &csp).await,
                    )
                }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .keep_alive(false)
                .serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_TIMEOUT, connection).await;
            drop(permit);
        });
    }
}

async fn handle(
    request: hyper::Request<hyper::body::Incoming>,
    state: PathBuf,
    token: Option<&Token>,
    csp: &str,
) -> hyper::Response<http_body_util::Full<bytes::Bytes>> {
    use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
    use hyper::{Method, Response, StatusCode};
    let text = |status: StatusCode, content_type: &str, body: String| {
        Response::builder()
            .status(status)
            .header(CONTENT_TYPE, content_type)
            .body(http_body_util::Full::new(bytes::Bytes::from(body)))
            .unwrap_or_default()
    };
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain; charset=utf-8",
            "only GET and HEAD\n".into(),
        );
        r.headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let path = request.uri().path().to_string();
    if let Some(token) = token {
        let header = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        if path != "/health" && !token.admits(header) {
            let mut r = text(
                StatusCode::UNAUTHORIZED,
                "text/plain; charset=utf-8",
                "this needs the daemon's bearer token (Authorization: Bearer ...)\n".into(),
            );
            r.headers_mut().insert(
                WWW_AUTHENTICATE,
                hyper::header::HeaderValue::from_static("Bearer realm=\"creditburn\""),
            );
            return r;
        }
    }
    // The store is read on the blocking pool, never on the thread that serves.
    let answer = tokio::task::spawn_blocking(move || respond(&path, &state)).await;
    match answer {
        Ok((status, content_type, body)) => {
            let mut r = text(
                StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
                content_type,
                body,
            );
            if content_type == PAGE_TYPE {
                let h = r.headers_mut();
                for (name, value) in [
                    ("content-security-policy", csp),
                    ("x-content-type-options", "nosniff"),
                    ("referrer-policy", "no-referrer"),
                    ("x-frame-options", "DENY"),
                    ("cache-control", "no-store"),
                ] {
                    if let Ok(v) = hyper::header::HeaderValue::from_str(value) {
                        h.insert(name, v);
                    }
                }
            }
            r
        }
        Err(_) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            "the scrape failed\n".into(),
        ),
    }
}

/// The status page's content type.
const PAGE_TYPE: &str = "text/html; charset=utf-8";

/// What one scrape reads from the state store.
struct Scrape {
    report: Option<serde_json::Value>,
    last_run: Option<(DateTime<Utc>, crate::model::outcome::Outcome)>,
    deliveries: crate::model::deliveries::Deliveries,
    requests_total: u64,
}

fn scrape(state: &Path) -> Result<Scrape, StoreError> {
    let daemon = DaemonState::open(state)?;
    Ok(Scrape {
        report: daemon.last_report()?,
        last_run: daemon.last_finished()?,
        deliveries: crate::store::outbox::Outbox::open(state)?.deliveries()?,
        requests_total: crate::store::cache::Cache::open(state)?.requests_total()?,
    })
}

fn respond(path: &str, state: &Path) -> (u16, &'static str, String) {
    if path == "/" {
        return match DaemonState::open(state).and_then(|d| d.last_page()) {
            Ok(Some(page)) => (200, PAGE_TYPE, page),
            Ok(None) => (
                503,
                "text/plain; charset=utf-8",
                "no run has made the status page yet\n".into(),
            ),
            Err(e) => (
                503,
                "text/plain; charset=utf-8",
                format!("state store: {e}\n"),
            ),
        };
    }
    match (path, scrape(state)) {
        (_, Err(e)) => (
            503,
            "text/plain; charset=utf-8",
            format!("state store: {e}\n"),
        ),
        ("/health", Ok(s)) => {
            let (status, body) = crate::daemon::metrics::health(s.last_run.as_ref(), &s.deliveries);
            (status, "text/plain; charset=utf-8", body)
        }
        ("/metrics", Ok(s)) => (
            200,
            crate::daemon::metrics::CONTENT_TYPE,
            crate::daemon::metrics::render(&crate::daemon::metrics::Snapshot {
                report: s.report.as_ref(),
                last_run: s.last_run,
                deliveries: &s.deliveries,
                requests_total: s.requests_total,
            }),
        ),
        _ => (
            404,
            "text/plain; charset=utf-8",
            "try /, /health or /metrics\n".into(),
        ),
    }
}
