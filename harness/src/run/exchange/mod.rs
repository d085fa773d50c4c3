//! The one seam through which a request reaches the network: send a
//! rendered request, get back the status, headers and whole body, timed
//! from the send to the last byte, with the parts of that time: opening a
//! connection (when one was opened), the first byte, the transfer.
//!
//! Everything above it (users, checks, the recorder, the reports) sees only
//! [`Outgoing`] and [`Exchange`]. Below it each user owns its connections
//! (`connection.rs`), which speak HTTP/1.1 themselves (`http1.rs`), with
//! nothing parsed, pooled or cloned per request that can be done once per
//! run ([`Transport`]). reqwest, which builds a `Url` from a string, clones
//! its connector and pool and runs a redirect policy on every request, cost
//! about twice the CPU per request; hyper's own client, which hands every
//! request and response through channels, about a sixth. reqwest stays for
//! the scraper.
//!
//! What a browser-like client does on top is here too, each only when it
//! is used: redirects (`redirect.rs`), a cookie jar per user (`cookies.rs`),
//! decoding a compressed body when a check reads it (`body.rs`).

mod body;
mod connection;
mod cookies;
mod headers;
mod http1;
mod origin;
mod redirect;
mod tls;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{
    Method, Uri,
    header::{
        ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, HeaderMap, HeaderName,
        USER_AGENT,
    },
};

pub use body::Encoding;
use connection::{CONNECT_TIMEOUT, Connection, ExchangeError, OpenError};
use cookies::CookieJar;
pub use headers::HeaderList;
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
    pub headers: &'a HeaderList,
    /// A JSON body, sent with `Content-Type: application/json`.
    pub body: Option<&'a [u8]>,
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
const USER_AGENT_VALUE: &[u8] = concat!("loadgate/", env!("CARGO_PKG_VERSION")).as_bytes();

/// Like browsers and most SDKs, ask for gzip; the timing includes reading
/// the compressed body, and a check that reads it decodes it.
const ACCEPT_GZIP: &[u8] = b"gzip";

const JSON: &[u8] = b"application/json";

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
    /// Where each request is written before it is sent, kept so that
    /// writing one allocates nothing.
    wire: Vec<u8>,
    /// The header map of a response the user is done with
    /// ([`HttpClient::recycle`]), for the next response to fill.
    spare_headers: Option<HeaderMap>,
    /// Set while a TCP connection is being opened: a request timeout that
    /// cuts that off is a failure to connect, not a slow response. One
    /// that cuts off a TLS handshake is a timeout: the target answered.
    opening: bool,
}

/// A clone is another user's client: the same run, its own connections
/// and an empty jar.
impl Clone for HttpClient {
    fn clone(&self) -> Self {
        Self::new(self.transport.clone())
    }
}

/// Where one hop of a request goes.
struct Hop<'a> {
    method: Method,
    /// `None`: the target.
    origin: Option<Origin>,
    uri: Uri,
    body: Option<&'a [u8]>,
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
            wire: Vec::new(),
            spare_headers: None,
            opening: false,
        }
    }

    /// Takes back a response the user is done with, so that the next one
    /// reuses its header map instead of allocating one.
    pub fn recycle(&mut self, exchange: Exchange) {
        let mut headers = exchange.headers;
        // Emptied now, not when the next response arrives: its values are
        // slices of the connection's read buffer, which can only be
        // rewound for the next read once nothing holds them.
        headers.clear();
        self.spare_headers = Some(headers);
    }

    /// Sends `request` and reads the whole body, following redirects;
    /// returns how long that took whether it worked or not.
    pub async fn send(&mut self, request: Outgoing<'_>) -> (Timing, Result<Exchange, SendError>) {
        let started = Instant::now();
        let mut timing = Timing::default();
        let timeout = request.timeout;
        self.opening = false;
        let result = tokio::time::timeout(timeout, self.follow(request, started, &mut timing))
            .await
            .unwrap_or_else(|_| {
                Err(if std::mem::take(&mut self.opening) {
                    SendError::Connect(format!("no connection within {timeout:?}"))
                } else {
                    SendError::Timeout(timeout)
                })
            });
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

    fn first_hop<'a>(&mut self, request: &Outgoing<'a>) -> Result<Hop<'a>, SendError> {
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
            body: request.body,
            credentials: true,
        })
    }

    /// One request and its response, on a connection to the hop's origin.
    async fn exchange(
        &mut self,
        hop: &Hop<'_>,
        request: &Outgoing<'_>,
        started: Instant,
        timing: &mut Timing,
    ) -> Result<Exchange, SendError> {
        let mut wire = std::mem::take(&mut self.wire);
        let close = self.write_request(&mut wire, hop, request);
        let result = self.exchange_written(hop, &wire, started, timing).await;
        if close {
            // The request asked the server to close: whether or not its
            // response says so, the connection is not used again.
            self.drop_connection(hop.origin.as_ref());
        }
        self.wire = wire;
        result
    }

    /// `hop` as the bytes that go on the wire: the head, then the body;
    /// whether it asks the server to close the connection.
    fn write_request(&self, wire: &mut Vec<u8>, hop: &Hop<'_>, request: &Outgoing<'_>) -> bool {
        let home = &self.transport.target.origin;
        let origin = hop.origin.as_ref().unwrap_or(home);
        let target = hop.uri.path_and_query().map_or("/", |p| p.as_str());
        let has = |name: &HeaderName| request.headers.contains(name);
        let cookie = match &self.jar {
            Some(jar) if !has(&COOKIE) => jar.header_for(|| origin.url_with(target)),
            _ => None,
        };
        // The scenario's own `Host` (a virtual host tested by address, say)
        // wins; two would be a request servers must refuse. So do its own
        // `User-Agent`, `Accept-Encoding` and `Content-Type`.
        let defaults = [
            (!has(&HOST)).then_some((&HOST, origin.authority.as_bytes())),
            (!has(&USER_AGENT)).then_some((&USER_AGENT, USER_AGENT_VALUE)),
            (!has(&ACCEPT_ENCODING)).then_some((&ACCEPT_ENCODING, ACCEPT_GZIP)),
            (hop.body.is_some() && !has(&CONTENT_TYPE)).then_some((&CONTENT_TYPE, JSON)),
            cookie.as_ref().map(|c| (&COOKIE, c.as_bytes())),
        ];
        let own = request
            .headers
            .iter()
            .filter(|(name, _)| hop.credentials || *name != AUTHORIZATION);
        wire.clear();
        let close = http1::write_head(
            wire,
            &hop.method,
            target,
            own.chain(defaults.into_iter().flatten()),
            hop.body.map(<[u8]>::len),
        );
        if let Some(body) = hop.body {
            wire.extend_from_slice(body);
        }
        close
    }

    async fn exchange_written(
        &mut self,
        hop: &Hop<'_>,
        wire: &[u8],
        started: Instant,
        timing: &mut Timing,
    ) -> Result<Exchange, SendError> {
        let to_head = hop.method == Method::HEAD;
        let mut spare = self.spare_headers.take();
        let (connection, opened) = self.connection(hop.origin.as_ref(), timing).await?;
        let head = match connection.round_trip(wire, to_head, &mut spare).await {
            Ok(head) => head,
            // A connection that carried a request before closed as this
            // one went out (a server's keep-alive timeout): send it once
            // more on a new one, when doing so cannot repeat its effect.
            Err(ExchangeError::NotSent(_)) if !opened => {
                self.round_trip_anew(hop, wire, timing, &mut spare).await?
            }
            Err(ExchangeError::ClosedBeforeResponse) if !opened && hop.method.is_idempotent() => {
                self.round_trip_anew(hop, wire, timing, &mut spare).await?
            }
            Err(e) => return Err(SendError::Other(e.to_string())),
        };
        timing.ttfb = Some(started.elapsed());
        let connection = self.connection_to(hop.origin.as_ref()).expect("just used");
        let body = connection
            .read_body(&head)
            .await
            .map_err(|e| SendError::Other(e.to_string()))?;
        if let Some(jar) = &mut self.jar {
            let origin = hop.origin.as_ref().unwrap_or(&self.transport.target.origin);
            jar.store_from(&head.headers, || {
                origin.url_with(hop.uri.path_and_query()?.as_str())
            });
        }
        Ok(Exchange {
            status: head.status,
            headers: head.headers,
            body,
        })
    }

    /// Sends `wire` again, on a connection opened for it.
    async fn round_trip_anew(
        &mut self,
        hop: &Hop<'_>,
        wire: &[u8],
        timing: &mut Timing,
        spare: &mut Option<HeaderMap>,
    ) -> Result<http1::Head, SendError> {
        self.drop_connection(hop.origin.as_ref());
        let (connection, _) = self.connection(hop.origin.as_ref(), timing).await?;
        connection
            .round_trip(wire, hop.method == Method::HEAD, spare)
            .await
            .map_err(|e| SendError::Other(e.to_string()))
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
        // Boxed: opening (TCP, then TLS) is rare, and its futures are the
        // largest part of a request's; inline, every request's future
        // would carry them and copy them about.
        self.opening = true;
        let connected = Box::pin(Connection::connect(to)).await;
        self.opening = false;
        let tcp = connected.map_err(|e| match e {
            OpenError::Timeout => {
                SendError::Connect(format!("no connection within {CONNECT_TIMEOUT:?}"))
            }
            OpenError::Failed(why) => SendError::Connect(why),
        })?;
        let connection = Box::pin(Connection::over(tcp, to, &transport.tls))
            .await
            .map_err(SendError::Connect)?;
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

    fn drop_connection(&mut self, origin: Option<&Origin>) {
        match origin {
            None => self.home = None,
            Some(origin) => self.away.retain(|(o, _)| o != origin),
        }
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
