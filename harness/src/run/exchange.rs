//! The one seam through which a request reaches the network: send a
//! rendered request, get back the status, headers and whole body, timed
//! from the send to the last byte, with the parts of that time: opening a
//! connection (when one was opened), the first byte, the transfer.
//!
//! Everything above it (users, checks, the recorder, the reports) sees only
//! [`Outgoing`] and [`Exchange`], so a leaner client (a per-user hyper
//! connection, say) can replace this reqwest one without touching them.
//! Goose's own request path is not used: it times to the first byte, and
//! its bookkeeping is what loadgate's recorder replaces.

use std::{
    cell::Cell,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use bytes::Bytes;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use scenario::yaml::Method;

/// A request, rendered and ready to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub method: Method,
    /// A path below the target (`/api/v1/servers`) or an absolute URL.
    pub path: &'a str,
    pub headers: &'a [(String, String)],
    pub body: Option<&'a str>,
    pub timeout: Duration,
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Why no complete response arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("no complete response within {0:?}")]
    Timeout(Duration),
    #[error("{0}")]
    Other(String),
}

/// How long an exchange took, and where the time went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Timing {
    /// From the send to the last byte of the body (or the failure).
    pub total: Duration,
    /// From the send to the response's headers; `None` without a response.
    pub ttfb: Option<Duration>,
    /// Opening the connection this exchange used, when it opened one.
    pub connect: Option<Duration>,
}

tokio::task_local! {
    /// Where the connector reports a connection it opened for the request
    /// being sent on this task.
    static CONNECT_TIME: Cell<Option<Duration>>;
}

/// Times every connection the client opens and reports it to the request
/// that is waiting for it. hyper may finish a connection in the background
/// after the request took another one from the pool; that connection's
/// time is then nobody's, which is right: that request did not wait for it.
#[derive(Debug, Clone, Copy)]
struct ConnectTimerLayer;

impl<S> tower::Layer<S> for ConnectTimerLayer {
    type Service = ConnectTimer<S>;

    fn layer(&self, inner: S) -> ConnectTimer<S> {
        ConnectTimer(inner)
    }
}

#[derive(Debug, Clone)]
struct ConnectTimer<S>(S);

impl<S: tower::Service<R>, R> tower::Service<R> for ConnectTimer<S>
where
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        let started = Instant::now();
        let connecting = self.0.call(request);
        Box::pin(async move {
            let connected = connecting.await;
            let _ = CONNECT_TIME.try_with(|slot| slot.set(Some(started.elapsed())));
            connected
        })
    }
}

/// A pooled HTTP client bound to one target.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    /// The target without a trailing slash.
    base: String,
}

impl HttpClient {
    /// `verify_certificates: false` is the scenario's `tls: {insecure: true}`.
    pub fn new(base_url: &str, verify_certificates: bool) -> anyhow::Result<Self> {
        // Like browsers and most SDKs, ask for gzip; the timing includes
        // decompressing the body.
        let client = reqwest::Client::builder()
            .gzip(true)
            .tls_danger_accept_invalid_certs(!verify_certificates)
            .connect_timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("loadgate/", env!("CARGO_PKG_VERSION")))
            .connector_layer(ConnectTimerLayer)
            .build()?;
        Ok(Self {
            client,
            base: base_url.trim_end_matches('/').to_owned(),
        })
    }

    /// Sends `request` and reads the whole body; returns how long that took
    /// whether it worked or not.
    pub async fn send(&self, request: Outgoing<'_>) -> (Timing, Result<Exchange, SendError>) {
        let url = if request.path.starts_with("http://") || request.path.starts_with("https://") {
            request.path.to_owned()
        } else {
            format!("{}{}", self.base, request.path)
        };
        let method = reqwest::Method::from_bytes(request.method.as_str().as_bytes())
            .expect("scenario methods are valid HTTP methods");
        let mut builder = self.client.request(method, url).timeout(request.timeout);
        for (name, value) in request.headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(name), Ok(value)) => builder = builder.header(name, value),
                _ => {
                    return (
                        Timing::default(),
                        Err(SendError::Other(format!(
                            "invalid header {name}: {value:?}"
                        ))),
                    );
                }
            }
        }
        if let Some(body) = request.body {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_owned());
        }
        let started = Instant::now();
        let mut ttfb = None;
        let (result, connect) = CONNECT_TIME
            .scope(Cell::new(None), async {
                let result = async {
                    let mut response = builder.send().await?;
                    ttfb = Some(started.elapsed());
                    let status = response.status().as_u16();
                    let headers = std::mem::take(response.headers_mut());
                    let body = response.bytes().await?;
                    Ok::<_, reqwest::Error>(Exchange {
                        status,
                        headers,
                        body,
                    })
                }
                .await;
                (result, CONNECT_TIME.with(Cell::get))
            })
            .await;
        let timing = Timing {
            total: started.elapsed(),
            ttfb,
            connect,
        };
        (timing, result.map_err(|e| classify(&e, request.timeout)))
    }
}

fn classify(error: &reqwest::Error, timeout: Duration) -> SendError {
    if error.is_timeout() {
        SendError::Timeout(timeout)
    } else if error.is_connect() {
        SendError::Connect(root_cause(error))
    } else {
        SendError::Other(root_cause(error))
    }
}

/// The innermost cause: reqwest's own message is only "error sending request".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
