//! One HTTP/1.1 connection, owned by one user: a `TcpStream` (with
//! `TCP_NODELAY`), or rustls over one for `https://`, and the buffer its
//! responses are read into (`http1.rs` parses them).
//!
//! It is driven by the user's own task, and only while that user has a
//! request on it: a request is one write, a response is read until it is
//! whole, and no second task or channel stands between. Between requests
//! nothing reads it, which HTTP/1.1 does not need; a close the server sent
//! meanwhile is seen by [`Connection::ready`] before the next request is
//! spent on it.

use std::{
    future::poll_fn,
    io,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use rustls::pki_types::ServerName;
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf},
    net::TcpStream,
};
use tokio_rustls::{TlsConnector, client::TlsStream};

use super::{
    http1::{self, BodyReader, Head, Names, Progress, ProtocolError},
    origin::Origin,
};

/// Longest a TCP connection may take to open, whatever the request's
/// timeout, as reqwest's `connect_timeout` did before. Running out of it
/// (or of the request's timeout while connecting) is a failure to connect:
/// a target that black-holes its connections is unreachable, not slow.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What one read asks the socket for, at least: a typical response whole.
/// Reading less than was asked for also tells tokio the socket is drained,
/// so the next [`Connection::ready`] costs no system call.
const READ_SIZE: usize = 8 * 1024;

/// Room left in the read buffer below which it is grown (or rewound)
/// before a read for a response's head.
const MIN_READ: usize = 2 * 1024;

/// Most a body read grows the buffer by at once.
const MAX_RESERVE: usize = 1024 * 1024;

/// Why a TCP connection did not open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenError {
    /// Not within [`CONNECT_TIMEOUT`].
    Timeout,
    /// Refused or unresolvable.
    Failed(String),
}

/// Why an exchange on an open connection failed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The server closed the connection before a byte of the response:
    /// on a connection that carried a request before, the sign of a
    /// keep-alive timeout that crossed this request, which can be sent
    /// again on a new connection.
    #[error("connection closed before the response began")]
    ClosedBeforeResponse,
    /// The request could not be written: it may be sent again.
    #[error("{0}")]
    NotSent(io::Error),
    #[error("connection closed before the response was complete")]
    ClosedMidResponse,
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
}

/// The bytes a connection carries: plain TCP, or TLS over it.
enum Stream {
    Plain(TcpStream),
    /// Boxed: rustls's state is large, and plain connections are the rule.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            Self::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open connection.
pub struct Connection {
    stream: Stream,
    /// Where responses are read into. A response's head and body are
    /// split off it, so they cost no copy.
    read: BytesMut,
    /// The header names its responses used.
    names: Names,
    /// Whether it can carry another request: not once the server said it
    /// closes, a response ran to the close, or an exchange failed.
    reusable: bool,
    /// An exchange started and has not finished; still set when one was
    /// cut off (a timeout), which leaves the connection in an unknown
    /// state, so it is not used again.
    busy: bool,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("tls", &matches!(self.stream, Stream::Tls(_)))
            .field("reusable", &self.reusable)
            .field("busy", &self.busy)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// The TCP connection to `origin`, within [`CONNECT_TIMEOUT`]: the
    /// part of opening that says whether the target is there at all.
    pub async fn connect(origin: &Origin) -> Result<TcpStream, OpenError> {
        let connecting = TcpStream::connect((origin.host.as_str(), origin.port));
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| OpenError::Timeout)?
            .map_err(|e| OpenError::Failed(e.to_string()))?;
        tcp.set_nodelay(true)
            .map_err(|e| OpenError::Failed(e.to_string()))?;
        Ok(tcp)
    }

    /// A connection over `tcp`, with TLS for an `https://` origin. A
    /// handshake that fails is a failure to connect; one that hangs runs
    /// into the request's timeout like a slow response, since a target
    /// that accepted the connection is there.
    pub async fn over(
        tcp: TcpStream,
        origin: &Origin,
        tls: &Arc<rustls::ClientConfig>,
    ) -> Result<Self, String> {
        let stream = if origin.tls {
            let name = ServerName::try_from(origin.host.clone()).map_err(|e| e.to_string())?;
            let tls = TlsConnector::from(tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake: {e}"))?;
            Stream::Tls(Box::new(tls))
        } else {
            Stream::Plain(tcp)
        };
        Ok(Self {
            stream,
            read: BytesMut::with_capacity(READ_SIZE),
            names: Names::default(),
            reusable: true,
            busy: false,
        })
    }

    /// Whether a request can go out on it now. A close (or anything else)
    /// the server sent since the last response is read here, so a dead
    /// connection is replaced before a request is spent on it. When
    /// nothing came, tokio knows without a system call.
    pub async fn ready(&mut self) -> bool {
        if self.busy || !self.reusable {
            return false;
        }
        let Self { stream, read, .. } = self;
        read.reserve(1);
        poll_fn(|cx| {
            let mut unread = ReadBuf::uninit(read.spare_capacity_mut());
            Poll::Ready(
                Pin::new(&mut *stream)
                    .poll_read(cx, &mut unread)
                    .is_pending(),
            )
        })
        .await
    }

    /// Sends `request` (its head and body, as one buffer: one write) and
    /// reads the response's head, into `headers` when it holds a map to
    /// reuse. `to_head`: the request is a `HEAD`.
    pub async fn round_trip(
        &mut self,
        request: &[u8],
        to_head: bool,
        headers: &mut Option<HeaderMap>,
    ) -> Result<Head, ExchangeError> {
        self.busy = true;
        let head = self.exchange_head(request, to_head, headers).await;
        if head.is_err() {
            self.reusable = false;
        }
        head
    }

    async fn exchange_head(
        &mut self,
        request: &[u8],
        to_head: bool,
        headers: &mut Option<HeaderMap>,
    ) -> Result<Head, ExchangeError> {
        let sent = async {
            self.stream.write_all(request).await?;
            self.stream.flush().await
        };
        sent.await.map_err(ExchangeError::NotSent)?;
        loop {
            // 1xx heads (100 Continue, 103 Early Hints) come before the
            // response itself, which is what is returned.
            if let Some(head) = http1::take_head(&mut self.read, to_head, &mut self.names, headers)?
            {
                if (100..200).contains(&head.status) && head.status != 101 {
                    *headers = Some(head.headers);
                    continue;
                }
                return Ok(head);
            }
            let began = !self.read.is_empty();
            match self.fill(MIN_READ).await {
                Ok(0) if began => return Err(ExchangeError::ClosedMidResponse),
                Ok(0) => return Err(ExchangeError::ClosedBeforeResponse),
                Ok(_) => {}
                // A reset before the response is the same close, by a
                // server that had not read all of what it was sent.
                Err(e) if !began && e.kind() == io::ErrorKind::ConnectionReset => {
                    return Err(ExchangeError::ClosedBeforeResponse);
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Reads the whole body of the response whose head `round_trip`
    /// returned.
    pub async fn read_body(&mut self, head: &Head) -> Result<Bytes, ExchangeError> {
        let body = self.read_body_now(head).await;
        match &body {
            Ok(_) if head.keep_alive && self.read.is_empty() => self.busy = false,
            // Bytes after the response, which nothing asked for: the
            // connection is no longer in step with its requests.
            _ => self.reusable = false,
        }
        body
    }

    async fn read_body_now(&mut self, head: &Head) -> Result<Bytes, ExchangeError> {
        let mut reader = BodyReader::new(head.framing);
        let mut closed = false;
        loop {
            match reader.take(&mut self.read, closed)? {
                Progress::Done(body) => return Ok(body),
                Progress::More(_) if closed => return Err(ExchangeError::ClosedMidResponse),
                Progress::More(at_least) => {
                    closed = self.fill(at_least.clamp(MIN_READ, MAX_RESERVE)).await? == 0;
                }
            }
        }
    }

    /// One read into the buffer, which first gets room for `at_least`
    /// bytes when it has less; 0 at the end of the stream. Once every
    /// earlier response has been dropped, making room rewinds the buffer
    /// into the space they took instead of allocating another.
    async fn fill(&mut self, at_least: usize) -> io::Result<usize> {
        if self.read.capacity() - self.read.len() < at_least {
            self.read.reserve(at_least.max(READ_SIZE));
        }
        self.stream.read_buf(&mut self.read).await
    }
}
