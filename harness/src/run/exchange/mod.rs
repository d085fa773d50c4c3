//! The one seam through which a request reaches the network: send a
//! rendered request, get back the status, headers and whole body, timed
//! from the send to the last byte, with the parts of that time: opening a
//! connection (when one was opened), the first byte, the transfer.
//!
//! Everything above it (users, checks, the recorder, the reports) sees only
//! [`Outgoing`] and [`Exchange`]. Below it each user owns its connections
//! (`connection.rs`): hyper's bare HTTP/1.1 client, with nothing parsed,
//! pooled or cloned per request that can be done once per run
//! ([`Transport`]). reqwest, which builds a `Url` from a string, clones its
//! connector and pool and runs a redirect policy on every request, cost
//! about twice the CPU per request; it stays for the scraper.
//!
//! What a browser-like client does on top is here too, each only when it
//! is used: redirects (`redirect.rs`), a cookie jar per user (`cookies.rs`),
//! decoding a compressed body when a check reads it (`body.rs`).

mod body;
mod connection;
mod cookies;
mod origin;
mod redirect;
mod tls;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use hyper::{
    Method, Request, Uri,
    header::{
        ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, HOST, HeaderMap, HeaderName, HeaderValue,
        USER_AGENT,
    },
};

pub use body::Encoding;
use connection::{CONNECT_TIMEOUT, Connection, OpenError, RequestBody};
use cookies::CookieJar;
pub use origin::UrlError;
use origin::{Origin, Target, is_absolute, parse_url, request_uri};

/// A request, rendered and ready to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub method: &'a Method,
    /// A path below the target (`/api/v1/servers`) or an absolute URL.
    pub path: &'a str,
    /// `path` as the request target, when it was parsed ahead (a literal
    /// path below the target, by [`Transport::request_target`]).
    pub uri: Option<&'a Uri>,
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// A JSON body, sent with `Content-Type: application/json`.
    pub body: Option<&'a Bytes>,
    pub timeout: Duration,
    /// How many redirects to follow; 0 returns the redirect itself.
    pub redirects: u8,
}

/// A complete response.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub status: u16,
    pub headers: HeaderMap,
    /// The body as it came off the wire; see [`Exchange::decoded_body`].
    pub body: Bytes,
}

impl Exchange {
    /// The body with its `Content-Encoding` undone, for checks and
    /// captures; `None` when it does not decode.
    pub fn decoded_body(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        body::decode(&self.body, Encoding::of(&self.headers)).ok()
    }
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

/// What every user's client shares, set up once per run.
#[derive(Debug)]
pub struct Transport {
    target: Target,
    tls: Arc<rustls::ClientConfig>,
    cookies: bool,
}

/// `User-Agent` on every request that does not set its own.
const USER_AGENT_VALUE: HeaderValue =
    HeaderValue::from_static(concat!("loadgate/", env!("CARGO_PKG_VERSION")));

/// Like browsers and most SDKs, ask for gzip; the timing includes reading
/// the compressed body, and a check that reads it decodes it.
const ACCEPT_GZIP: HeaderValue = HeaderValue::from_static("gzip");

const JSON: HeaderValue = HeaderValue::from_static("application/json");

impl Transport {
    /// `verify_certificates: false` is the scenario's `tls: {insecure: true}`;
    /// `cookies` gives each user a cookie jar.
    pub fn new(
        target: &str,
        verify_certificates: bool,
        cookies: bool,
    ) -> anyhow::Result<Arc<Self>> {
        let target = Target::parse(target)?;
        Ok(Arc::new(Self {
            target,
            tls: tls::client_config(verify_certificates)?,
            cookies,
        }))
    }

    /// The request target for `path` below the target (its path prefix
    /// joined), parsed once for a path that never changes; `None` for an
    /// absolute URL, or a path that is not valid, whose error each request
    /// reports.
    pub fn request_target(&self, path: &str) -> Option<Uri> {
        if is_absolute(path) {
            return None;
        }
        request_uri(&format!("{}{path}", self.target.prefix)).ok()
    }
}

/// One user's HTTP client: its connections (one per host it talks to)
/// and its cookie jar.
#[derive(Debug)]
pub struct HttpClient {
    transport: Arc<Transport>,
    /// The connection to the target.
    home: Option<Connection>,
    /// Connections to the other hosts absolute URLs and redirects named.
    away: Vec<(Origin, Connection)>,
    jar: Option<CookieJar>,
    /// Where a path below a target with a path of its own is joined.
    joined: String,
}

/// A clone is another user's client: the same run, its own connections
/// and an empty jar.
impl Clone for HttpClient {
    fn clone(&self) -> Self {
        Self::new(self.transport.clone())
    }
}

/// Where one hop of a request goes.
struct Hop {
    method: Method,
    /// `None`: the target.
    origin: Option<Origin>,
    uri: Uri,
    body: Option<Bytes>,
    /// Whether the request's own `Authorization` goes with it: not once a
    /// redirect has led to another origin.
    credentials: bool,
}

impl HttpClient {
    pub fn new(transport: Arc<Transport>) -> Self {
        let jar = transport.cookies.then(CookieJar::default);
        Self {
            transport,
            home: None,
            away: Vec::new(),
            jar,
            joined: String::new(),
        }
    }

    /// Sends `request` and reads the whole body, following redirects;
    /// returns how long that took whether it worked or not.
    pub async fn send(&mut self, request: Outgoing<'_>) -> (Timing, Result<Exchange, SendError>) {
        let started = Instant::now();
        let mut timing = Timing::default();
        let result =
            tokio::time::timeout(request.timeout, self.follow(request, started, &mut timing))
                .await
                .unwrap_or(Err(SendError::Timeout(request.timeout)));
        timing.total = started.elapsed();
        (timing, result)
    }

    async fn follow(
        &mut self,
        request: Outgoing<'_>,
        started: Instant,
        timing: &mut Timing,
    ) -> Result<Exchange, SendError> {
        let mut hop = self.first_hop(&request)?;
        let mut redirects_left = request.redirects;
        loop {
            let exchange = self.exchange(&hop, &request, started, timing).await?;
            if redirects_left == 0 {
                return Ok(exchange);
            }
            let home = &self.transport.target.origin;
            match redirect::next(&hop, home, &exchange) {
                Some(next) => {
                    hop = next;
                    redirects_left -= 1;
                }
                None => return Ok(exchange),
            }
        }
    }

    fn first_hop(&mut self, request: &Outgoing<'_>) -> Result<Hop, SendError> {
        let invalid = |e: &dyn std::fmt::Display| {
            SendError::Other(format!("invalid URL {:?}: {e}", request.path))
        };
        let (origin, uri) = if let Some(uri) = request.uri {
            (None, uri.clone())
        } else if is_absolute(request.path) {
            let url = parse_url(request.path).map_err(|e| invalid(&e))?;
            let (origin, path) = Origin::of(&url).map_err(|e| invalid(&e))?;
            let uri = request_uri(&path).map_err(|e| invalid(&e))?;
            (
                (origin != self.transport.target.origin).then_some(origin),
                uri,
            )
        } else {
            let prefix = &self.transport.target.prefix;
            let path = if prefix.is_empty() {
                request.path
            } else {
                self.joined.clear();
                self.joined.push_str(prefix);
                self.joined.push_str(request.path);
                &self.joined
            };
            (None, request_uri(path).map_err(|e| invalid(&e))?)
        };
        Ok(Hop {
            method: request.method.clone(),
            origin,
            uri,
            body: request.body.cloned(),
            credentials: true,
        })
    }

    /// One request and its response, on a connection to the hop's origin.
    async fn exchange(
        &mut self,
        hop: &Hop,
        request: &Outgoing<'_>,
        started: Instant,
        timing: &mut Timing,
    ) -> Result<Exchange, SendError> {
        let home = &self.transport.target.origin;
        let origin = hop.origin.as_ref().unwrap_or(home);
        let mut outgoing = Request::new(RequestBody::new(hop.body.clone().unwrap_or_default()));
        *outgoing.method_mut() = hop.method.clone();
        *outgoing.uri_mut() = hop.uri.clone();
        let headers = outgoing.headers_mut();
        headers.reserve(request.headers.len() + 4);
        for (name, value) in request.headers {
            if hop.credentials || *name != AUTHORIZATION {
                headers.append(name.clone(), value.clone());
            }
        }
        // The scenario's own `Host` (a virtual host tested by address, say)
        // wins; two would be a request servers must refuse.
        if !headers.contains_key(HOST) {
            headers.insert(HOST, origin.authority.clone());
        }
        if !headers.contains_key(USER_AGENT) {
            headers.insert(USER_AGENT, USER_AGENT_VALUE);
        }
        if !headers.contains_key(ACCEPT_ENCODING) {
            headers.insert(ACCEPT_ENCODING, ACCEPT_GZIP);
        }
        if hop.body.is_some() && !headers.contains_key(CONTENT_TYPE) {
            headers.insert(CONTENT_TYPE, JSON);
        }
        if let Some(jar) = &self.jar {
            jar.add_to(headers, || {
                origin.url_with(hop.uri.path_and_query()?.as_str())
            });
        }

        let (connection, opened) = self.connection(hop.origin.as_ref(), timing).await?;
        let response = match connection.round_trip(outgoing).await {
            Ok(response) => response,
            // The connection closed before it took the request (a server's
            // keep-alive timeout): send it once more on a new one.
            Err(mut refused) if !opened && refused.message().is_some() => {
                let outgoing = refused.take_message().expect("checked above");
                let (connection, _) = self.connection(hop.origin.as_ref(), timing).await?;
                connection
                    .round_trip(outgoing)
                    .await
                    .map_err(|e| SendError::Other(root_cause(e.error())))?
            }
            Err(e) => return Err(SendError::Other(root_cause(e.error()))),
        };
        timing.ttfb = Some(started.elapsed());
        let (head, incoming) = response.into_parts();
        let connection = self.connection_to(hop.origin.as_ref()).expect("just used");
        let body = connection
            .read_body(incoming)
            .await
            .map_err(|e| SendError::Other(root_cause(&e)))?;
        if let Some(jar) = &mut self.jar {
            let origin = hop.origin.as_ref().unwrap_or(&self.transport.target.origin);
            jar.store_from(&head.headers, || {
                origin.url_with(hop.uri.path_and_query()?.as_str())
            });
        }
        Ok(Exchange {
            status: head.status.as_u16(),
            headers: head.headers,
            body,
        })
    }

    /// A ready connection to `origin` (`None`: the target), and whether it
    /// was opened just now. Opening one is timed into `timing` (every
    /// connection a request opened, redirects included).
    async fn connection(
        &mut self,
        origin: Option<&Origin>,
        timing: &mut Timing,
    ) -> Result<(&mut Connection, bool), SendError> {
        let reusable = match self.connection_to(origin) {
            Some(connection) => connection.ready().await,
            None => false,
        };
        if reusable {
            return Ok((self.connection_to(origin).expect("checked"), false));
        }
        let transport = self.transport.clone();
        let to = origin.unwrap_or(&transport.target.origin);
        let opening = Instant::now();
        // Boxed: opening (TCP, TLS, handshake) is rare, and its future is
        // the largest part of a request's; inline, every request's future
        // would carry it and copy it about.
        let connection = Box::pin(Connection::open(to, &transport.tls))
            .await
            .map_err(|e| match e {
                OpenError::Timeout => SendError::Timeout(CONNECT_TIMEOUT),
                OpenError::Failed(why) => SendError::Connect(why),
            })?;
        let took = opening.elapsed();
        timing.connect = Some(timing.connect.map_or(took, |earlier| earlier + took));
        let slot = match origin {
            None => self.home.insert(connection),
            Some(origin) => {
                self.away.retain(|(o, _)| o != origin);
                self.away.push((origin.clone(), connection));
                &mut self.away.last_mut().expect("just pushed").1
            }
        };
        Ok((slot, true))
    }

    fn connection_to(&mut self, origin: Option<&Origin>) -> Option<&mut Connection> {
        match origin {
            None => self.home.as_mut(),
            Some(origin) => self
                .away
                .iter_mut()
                .find(|(o, _)| o == origin)
                .map(|(_, c)| c),
        }
    }
}

/// The innermost cause: hyper's own message is often only "connection error".
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
