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

use bytes::{Bytes, BytesMut};
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
/// as reqwest's `connect_timeout` did before; running out of it is a
/// timeout, as it was with reqwest.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a connection did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Not within [`CONNECT_TIMEOUT`].
    Timeout,
    /// Refused, unresolvable, or a failed TLS or HTTP handshake.
    Failed(String),
}

type Driver = Pin<Box<dyn Future<Output = hyper::Result<()>> + Send>>;

/// An open connection and the state of its one request in flight.
pub struct Connection {
    sender: http1::SendRequest<RequestBody>,
    /// hyper's connection future: reads and writes the socket; `None` once
    /// it has finished, and dropped then, so that a request still queued
    /// for it comes back at once instead of waiting for a closed socket.
    /// Wrapped so the user (which the engine needs `Sync`) stays `Sync`;
    /// it is only ever polled through `&mut`.
    driver: Option<SyncWrapper<Driver>>,
    /// An exchange started and has not finished; still set when one was
    /// cut off (a timeout), which leaves the connection in an unknown
    /// state, so it is not used again.
    busy: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("closed", &self.driver.is_none())
            .field("busy", &self.busy)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Opens a connection to `origin`; the error says why it could not.
    pub async fn open(origin: &Origin, tls: &Arc<rustls::ClientConfig>) -> Result<Self, OpenError> {
        match tokio::time::timeout(CONNECT_TIMEOUT, Self::open_now(origin, tls)).await {
            Ok(opened) => opened.map_err(OpenError::Failed),
            Err(_) => Err(OpenError::Timeout),
        }
    }

    async fn open_now(origin: &Origin, tls: &Arc<rustls::ClientConfig>) -> Result<Self, String> {
        let tcp = TcpStream::connect((origin.host.as_str(), origin.port))
            .await
            .map_err(|e| e.to_string())?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        if !origin.tls {
            return Self::handshake(tcp).await;
        }
        let name = ServerName::try_from(origin.host.clone()).map_err(|e| e.to_string())?;
        let stream = TlsConnector::from(tls.clone())
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
            driver: Some(SyncWrapper::new(Box::pin(connection))),
            busy: false,
        })
    }

    /// Whether a request can go out on it now. A close the server sent
    /// since the last request is read here, so a dead connection is
    /// replaced before a request is spent on it.
    pub async fn ready(&mut self) -> bool {
        if self.busy || self.driver.is_none() {
            return false;
        }
        let Self { sender, driver, .. } = self;
        drive(driver, sender.ready()).await.is_ok() && self.driver.is_some()
    }

    /// Sends `request` and waits for the response's head. A request the
    /// connection could not take (it closed first) comes back in the error.
    pub async fn round_trip(
        &mut self,
        request: Request<RequestBody>,
    ) -> Result<Response<Incoming>, TrySendError<Request<RequestBody>>> {
        self.busy = true;
        let Self { sender, driver, .. } = self;
        let response = drive(driver, sender.try_send_request(request)).await;
        if response.is_err() {
            self.driver = None;
        }
        response
    }

    /// Reads the whole body of the response `round_trip` returned.
    pub async fn read_body(&mut self, body: Incoming) -> Result<Bytes, hyper::Error> {
        match drive(&mut self.driver, whole_body(body)).await {
            Ok(bytes) => {
                self.busy = false;
                Ok(bytes)
            }
            Err(error) => {
                self.driver = None;
                Err(error)
            }
        }
    }
}

/// A body's data frames as one buffer. A body that comes in one frame (most
/// do) is that frame, with nothing copied or allocated; `collect` would
/// allocate a list of frames for every body.
async fn whole_body(mut body: Incoming) -> Result<Bytes, hyper::Error> {
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue; // trailers
        };
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut both = BytesMut::with_capacity(first.len() + data.len());
                both.extend_from_slice(&first);
                both.extend_from_slice(&data);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

/// Runs `work` while polling the connection's driver, driver first, so
/// that a response it has just parsed is handed to `work` in the same poll.
async fn drive<F: Future>(driver: &mut Option<SyncWrapper<Driver>>, work: F) -> F::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Some(running) = driver
            && running.get_mut().as_mut().poll(cx).is_ready()
        {
            // The connection ended. Dropping it hands back a request still
            // queued and ends a body still open, so whatever waited on it
            // sees why at once.
            *driver = None;
        }
        work.as_mut().poll(cx)
    })
    .await
}
