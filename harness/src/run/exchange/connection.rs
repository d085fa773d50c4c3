//! One HTTP/1.1 connection, owned by one user: hyper's
//! `client::conn::http1` over a `TcpStream` (with `TCP_NODELAY`), or over
//! rustls for `https://`.
//!
//! The connection is driven inside the user's own task, polled beside the
//! request that waits on it, rather than spawned as a task of its own: a
//! request then costs no wake-up of a second task, neither to write it nor
//! to hand the response back. Between requests nothing polls it, which
//! HTTP/1.1 does not need; a close the server sent meanwhile is seen on the
//! next use, and the user opens a new connection.

use std::{
    future::{Future, poll_fn},
    pin::{Pin, pin},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{
    Request, Response,
    body::Incoming,
    client::conn::{TrySendError, http1},
};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use sync_wrapper::SyncWrapper;
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::TcpStream,
};
use tokio_rustls::TlsConnector;

use super::origin::Origin;

/// What a request carries as its body.
pub type RequestBody = Full<Bytes>;

/// Longest a connection may take to open, whatever the request's timeout,
/// as reqwest's `connect_timeout` did before.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// An open connection and the state of its one request in flight.
pub struct Connection {
    sender: http1::SendRequest<RequestBody>,
    /// hyper's connection future: reads and writes the socket. Wrapped so
    /// the user (which the engine needs `Sync`) stays `Sync`; it is only
    /// ever polled through `&mut`.
    driver: SyncWrapper<Driver>,
    /// The driver has finished: the connection is closed.
    closed: bool,
    /// An exchange started and has not finished; still set when one was
    /// cut off (a timeout), which leaves the connection in an unknown
    /// state, so it is not used again.
    busy: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("closed", &self.closed)
            .field("busy", &self.busy)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a connection to `origin`; the error says why it could not.
    pub async fn open(
        origin: &Origin,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Self, String> {
        tokio::time::timeout(CONNECT_TIMEOUT, Self::open_now(origin, tls))
            .await
            .unwrap_or_else(|_| Err(format!("no connection within {CONNECT_TIMEOUT:?}")))
    }

    async fn open_now(
        origin: &Origin,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<Self, String> {
        let tcp = TcpStream::connect((origin.host.as_str(), origin.port))
            .await
            .map_err(|e| e.to_string())?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        if !origin.tls {
            return Self::handshake(tcp).await;
        }
        let config = tls.ok_or("TLS is not configured for this run")?;
        let name = ServerName::try_from(origin.host.clone()).map_err(|e| e.to_string())?;
        let stream = TlsConnector::from(config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        Self::handshake(stream).await
    }

    async fn handshake<S>(io: S) -> Result<Self, String>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sender, connection) = http1::Builder::new()
            .handshake(TokioIo::new(io))
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            sender,
            driver: SyncWrapper::new(Box::pin(connection)),
            closed: false,
            busy: false,
        })
    }

    /// Whether a request can go out on it now. A close the server sent
    /// since the last request is read here, so a dead connection is
    /// replaced before a request is spent on it.
    pub async fn ready(&mut self) -> bool {
        if self.busy || self.closed {
            return false;
        }
        let Self {
            sender,
            driver,
            closed,
            ..
        } = self;
        drive(driver, closed, sender.ready()).await.is_ok() && !self.closed
    }

    /// Sends `request` and waits for the response's head. A request the
    /// connection could not take (it closed first) comes back in the error.
    pub async fn round_trip(
        &mut self,
        request: Request<RequestBody>,
    ) -> Result<Response<Incoming>, TrySendError<Request<RequestBody>>> {
        self.busy = true;
        let Self {
            sender,
            driver,
            closed,
            ..
        } = self;
        let response = drive(driver, closed, sender.try_send_request(request)).await;
        if response.is_err() {
            self.closed = true;
        }
        response
    }

    /// Reads the whole body of the response `round_trip` returned.
    pub async fn read_body(&mut self, body: Incoming) -> Result<Bytes, hyper::Error> {
        let Self { driver, closed, .. } = self;
        let read = drive(driver, closed, body.collect()).await;
        match read {
            Ok(collected) => {
                self.busy = false;
                Ok(collected.to_bytes())
            }
            Err(error) => {
                self.closed = true;
                Err(error)
            }
        }
    }
}

/// Runs `work` while polling the connection's driver, driver first, so
/// that a response it has just parsed is handed to `work` in the same poll.
async fn drive<F: Future>(
    driver: &mut SyncWrapper<Driver>,
    closed: &mut bool,
    work: F,
) -> F::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if !*closed && driver.get_mut().as_mut().poll(cx).is_ready() {
            // The connection ended; whatever waited on it now sees why.
            *closed = true;
        }
        work.as_mut().poll(cx)
    })
    .await
}
