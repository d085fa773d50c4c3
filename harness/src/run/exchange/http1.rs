//! HTTP/1.1 as a client speaks it, without the I/O: a request head written
//! into a buffer the user keeps, and a response head and body taken out of
//! the buffer its connection reads into (RFC 9112).
//!
//! Why not hyper's client: it hands each request to its connection over a
//! channel, builds a `Request` and its `HeaderMap` only to encode them
//! again, and a response's body comes back frame by frame through a second
//! channel. For a generator whose per-request budget is a few microseconds
//! of user time, that was about a sixth of its CPU. Here a request is one
//! buffer and one write; a response is parsed by `httparse` (hyper's own
//! parser) where it was read, and its headers and a body of known length
//! are slices of that read buffer, copied nowhere.

use bytes::{Buf, Bytes, BytesMut};
use http::{
    Method,
    header::{HeaderMap, HeaderName, HeaderValue},
};

/// More response headers than this is a protocol error, as in hyper (100).
const MAX_HEADERS: usize = 100;

/// A response head longer than this is a protocol error (hyper: ~400 KiB;
/// browsers allow far less).
pub const MAX_HEAD: usize = 64 * 1024;

/// A chunk-size line or a trailer line longer than this is a protocol error.
const MAX_LINE: usize = 4 * 1024;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("invalid response head: {0}")]
    Head(httparse::Error),
    #[error("response head over {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("invalid Content-Length")]
    ContentLength,
    #[error("invalid chunked body: {0}")]
    Chunked(&'static str),
}

/// Writes a request head (and the body's framing) into `out`, which the
/// caller has cleared: the request line, `headers` as given, then
/// `Content-Length` when there is a body or the method expects one.
///
/// The client frames the body itself: a `Content-Length` or
/// `Transfer-Encoding` among `headers` is left out, since a templated body
/// (or a redirect that drops it) need not have the length a scenario
/// wrote, and a wrong length puts the connection out of step with its
/// requests. Returns whether the request asks the server to close the
/// connection (`Connection: close`), after which it is not reused.
pub fn write_head<'h>(
    out: &mut Vec<u8>,
    method: &Method,
    target: &str,
    headers: impl IntoIterator<Item = (&'h HeaderName, &'h [u8])>,
    body_len: Option<usize>,
) -> bool {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut close = false;
    for (name, value) in headers {
        if *name == http::header::CONTENT_LENGTH || *name == http::header::TRANSFER_ENCODING {
            continue;
        }
        close |= *name == http::header::CONNECTION && has_token(value, b"close");
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    let expects_body = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    match body_len {
        Some(len) => write_content_length(out, len),
        None if expects_body => write_content_length(out, 0),
        None => {}
    }
    out.extend_from_slice(b"\r\n");
    close
}

fn write_content_length(out: &mut Vec<u8>, len: usize) {
    out.extend_from_slice(b"content-length: ");
    out.extend_from_slice(itoa::Buffer::new().format(len).as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// How the body after a response head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body: a response to `HEAD`, a 1xx, 204 or 304.
    Empty,
    /// `Content-Length` bytes.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection.
    UntilClose,
}

/// A parsed response head.
#[derive(Debug)]
pub struct Head {
    pub status: u16,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// Whether the connection may carry another request after this one.
    pub keep_alive: bool,
}

/// The header names a connection has seen. A name `http` does not know
/// (`x-request-id`, say) is copied into a buffer of its own each time it
/// is parsed; a server sends the same ones on every response, so each is
/// parsed once per connection and cloned after.
#[derive(Debug, Default)]
pub struct Names(Vec<HeaderName>);

impl Names {
    /// Names kept, at most: a server that makes up new ones does not grow it.
    const MOST: usize = 64;

    /// The name `raw`, most likely found at `position`, where the response
    /// before had it.
    fn get(&mut self, position: usize, raw: &[u8]) -> Result<HeaderName, ProtocolError> {
        let same = |name: &&HeaderName| name.as_str().as_bytes().eq_ignore_ascii_case(raw);
        if let Some(name) = self.0.get(position).filter(same) {
            return Ok(name.clone());
        }
        if let Some(name) = self.0.iter().find(same) {
            return Ok(name.clone());
        }
        let name = HeaderName::from_bytes(raw)
            .map_err(|_| ProtocolError::Head(httparse::Error::HeaderName))?;
        if self.0.len() < Self::MOST {
            self.0.push(name.clone());
        }
        Ok(name)
    }
}

/// Takes a complete response head off the front of `buffer`; `Ok(None)`
/// when more of it is still to come. `to_head` is whether the request was
/// a `HEAD`, whose response has no body whatever its headers say. The
/// headers go into `headers`, an empty map whose room is reused.
pub fn take_head(
    buffer: &mut BytesMut,
    to_head: bool,
    names: &mut Names,
    headers: &mut Option<HeaderMap>,
) -> Result<Option<Head>, ProtocolError> {
    let mut slots = [const { std::mem::MaybeUninit::uninit() }; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut []);
    let parsed = httparse::ParserConfig::default()
        .parse_response_with_uninit_headers(&mut response, buffer, &mut slots)
        .map_err(ProtocolError::Head)?;
    let length = match parsed {
        httparse::Status::Complete(length) => length,
        httparse::Status::Partial if buffer.len() > MAX_HEAD => {
            return Err(ProtocolError::HeadTooLarge);
        }
        httparse::Status::Partial => return Ok(None),
    };
    let status = response.code.expect("a complete head has a status");
    let http_1_0 = response.version == Some(0);
    // Where each name and value lies in the head, so that they can be
    // taken from it once it is split off the buffer `response` borrows.
    // The head is at most MAX_HEAD bytes, so u32 offsets do.
    let base = buffer.as_ptr() as usize;
    let span = |part: &[u8]| {
        let start = part.as_ptr() as usize - base;
        [start as u32, (start + part.len()) as u32]
    };
    let mut spans = [[[0_u32; 2]; 2]; MAX_HEADERS];
    let count = response.headers.len();
    for (slot, header) in spans.iter_mut().zip(response.headers.iter()) {
        *slot = [span(header.name.as_bytes()), span(header.value)];
    }
    // The headers' values are slices of the head, which is split off the
    // read buffer: the connection reads on into the rest of it.
    let head = buffer.split_to(length).freeze();
    let mut headers = headers.take().unwrap_or_default();
    headers.clear();
    headers.reserve(count);
    let mut length = None;
    let mut coded = None;
    let mut close = http_1_0;
    for (position, [[name_start, name_end], [value_start, value_end]]) in
        spans[..count].iter().copied().enumerate()
    {
        let name = names.get(position, &head[name_start as usize..name_end as usize])?;
        let value =
            HeaderValue::from_maybe_shared(head.slice(value_start as usize..value_end as usize))
                .map_err(|_| ProtocolError::Head(httparse::Error::HeaderValue))?;
        if name == http::header::CONTENT_LENGTH {
            let this = content_length(value.as_bytes())?;
            if length.is_some_and(|earlier| earlier != this) {
                return Err(ProtocolError::ContentLength);
            }
            length = Some(this);
        } else if name == http::header::TRANSFER_ENCODING {
            // Only the last coding frames the body (RFC 9112 §6.1).
            coded = Some(if last_token_is(value.as_bytes(), b"chunked") {
                Framing::Chunked
            } else {
                Framing::UntilClose
            });
        } else if name == http::header::CONNECTION {
            if has_token(value.as_bytes(), b"close") {
                close = true;
            } else if has_token(value.as_bytes(), b"keep-alive") {
                close = false;
            }
        }
        headers.append(name, value);
    }
    // Transfer-Encoding overrides Content-Length, in whichever order they
    // came, and a response with both is not trusted to end where either
    // says: the connection closes after it (RFC 9112 §6.3).
    close |= coded.is_some() && length.is_some();
    let framing = if to_head || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::Empty
    } else {
        coded
            .or(length.map(Framing::Length))
            .unwrap_or(Framing::UntilClose)
    };
    Ok(Some(Head {
        status,
        headers,
        framing,
        keep_alive: !close && framing != Framing::UntilClose,
    }))
}

fn content_length(value: &[u8]) -> Result<usize, ProtocolError> {
    let digits = value.trim_ascii();
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ProtocolError::ContentLength);
    }
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .ok_or(ProtocolError::ContentLength)
}

fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

fn last_token_is(value: &[u8], token: &[u8]) -> bool {
    tokens(value)
        .filter(|t| !t.is_empty())
        .last()
        .is_some_and(|t| t.eq_ignore_ascii_case(token))
}

/// Where a chunked body's decoding has got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailers,
}

/// A body being taken off the read buffer, read by read.
#[derive(Debug)]
pub struct BodyReader {
    framing: Framing,
    chunk: Chunk,
    body: BytesMut,
}

/// What one step of [`BodyReader::take`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// The whole body.
    Done(Bytes),
    /// More must be read, at least this many bytes when known, so the
    /// buffer can be made room for at once.
    More(usize),
}

impl BodyReader {
    pub fn new(framing: Framing) -> Self {
        Self {
            framing,
            chunk: Chunk::Size,
            body: BytesMut::new(),
        }
    }

    /// Takes what it can of the body off the front of `buffer`. `closed`:
    /// the server has closed the connection, so nothing more will come.
    pub fn take(&mut self, buffer: &mut BytesMut, closed: bool) -> Result<Progress, ProtocolError> {
        match self.framing {
            Framing::Empty => Ok(Progress::Done(Bytes::new())),
            Framing::Length(length) if buffer.len() >= length => {
                Ok(Progress::Done(buffer.split_to(length).freeze()))
            }
            Framing::Length(length) => Ok(Progress::More(length - buffer.len())),
            Framing::UntilClose if closed => Ok(Progress::Done(buffer.split().freeze())),
            Framing::UntilClose => Ok(Progress::More(0)),
            Framing::Chunked => self.take_chunks(buffer),
        }
    }

    fn take_chunks(&mut self, buffer: &mut BytesMut) -> Result<Progress, ProtocolError> {
        loop {
            match self.chunk {
                Chunk::Size => match httparse::parse_chunk_size(buffer) {
                    Ok(httparse::Status::Complete((used, size))) => {
                        buffer.advance(used);
                        self.chunk = if size == 0 {
                            Chunk::Trailers
                        } else {
                            Chunk::Data(size)
                        };
                    }
                    Ok(httparse::Status::Partial) if buffer.len() > MAX_LINE => {
                        return Err(ProtocolError::Chunked("chunk-size line too long"));
                    }
                    Ok(httparse::Status::Partial) => return Ok(Progress::More(0)),
                    Err(_) => return Err(ProtocolError::Chunked("invalid chunk size")),
                },
                Chunk::Data(left) => {
                    if buffer.is_empty() {
                        return Ok(Progress::More(usize::try_from(left).unwrap_or(usize::MAX)));
                    }
                    let take = usize::try_from(left).map_or(buffer.len(), |l| l.min(buffer.len()));
                    if self.body.is_empty() {
                        // The first chunk (often the only one) is a slice
                        // of the read buffer, not a copy.
                        self.body = buffer.split_to(take);
                    } else {
                        self.body.extend_from_slice(&buffer[..take]);
                        buffer.advance(take);
                    }
                    let left = left - take as u64;
                    self.chunk = if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    };
                }
                Chunk::DataEnd => {
                    if buffer.len() < 2 {
                        return Ok(Progress::More(2 - buffer.len()));
                    }
                    if &buffer[..2] != b"\r\n" {
                        return Err(ProtocolError::Chunked("no CRLF after a chunk"));
                    }
                    buffer.advance(2);
                    self.chunk = Chunk::Size;
                }
                Chunk::Trailers => {
                    let Some(end) = buffer.windows(2).position(|w| w == b"\r\n") else {
                        if buffer.len() > MAX_LINE {
                            return Err(ProtocolError::Chunked("trailer line too long"));
                        }
                        return Ok(Progress::More(0));
                    };
                    buffer.advance(end + 2);
                    if end == 0 {
                        return Ok(Progress::Done(std::mem::take(&mut self.body).freeze()));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(buffer: &mut BytesMut, to_head: bool) -> Result<Option<Head>, ProtocolError> {
        take_head(buffer, to_head, &mut Names::default(), &mut None)
    }

    fn head_of(text: &str) -> (Head, BytesMut) {
        let mut buffer = BytesMut::from(text);
        let head = take(&mut buffer, false).unwrap().expect("complete");
        (head, buffer)
    }

    fn body_of(text: &str) -> Result<Bytes, ProtocolError> {
        let (head, mut buffer) = head_of(text);
        match BodyReader::new(head.framing).take(&mut buffer, true)? {
            Progress::Done(body) => Ok(body),
            Progress::More(_) => panic!("incomplete body in {text:?}"),
        }
    }

    #[test]
    fn a_request_head_is_the_request_line_the_headers_and_its_length() {
        let mut out = Vec::new();
        let host = HeaderValue::from_static("127.0.0.1:8080");
        write_head(
            &mut out,
            &Method::POST,
            "/api/v1/servers?page=2",
            [(&http::header::HOST, host.as_bytes())],
            Some(12),
        );
        assert_eq!(
            out,
            b"POST /api/v1/servers?page=2 HTTP/1.1\r\nhost: 127.0.0.1:8080\r\ncontent-length: 12\r\n\r\n"
        );
    }

    #[test]
    fn a_get_without_a_body_says_no_length_and_a_bare_post_says_zero() {
        let mut get = Vec::new();
        write_head(&mut get, &Method::GET, "/", [], None);
        assert_eq!(get, b"GET / HTTP/1.1\r\n\r\n");
        let mut post = Vec::new();
        write_head(&mut post, &Method::POST, "/", [], None);
        assert_eq!(post, b"POST / HTTP/1.1\r\ncontent-length: 0\r\n\r\n");
    }

    #[test]
    fn the_body_is_framed_by_its_own_length_whatever_the_scenario_set() {
        let mut out = Vec::new();
        write_head(
            &mut out,
            &Method::POST,
            "/",
            [
                (&http::header::CONTENT_LENGTH, &b"99"[..]),
                (&http::header::TRANSFER_ENCODING, &b"chunked"[..]),
            ],
            Some(3),
        );
        assert_eq!(out, b"POST / HTTP/1.1\r\ncontent-length: 3\r\n\r\n");
    }

    #[test]
    fn a_request_that_says_close_is_told_apart() {
        let mut out = Vec::new();
        let close = [(&http::header::CONNECTION, &b"Keep-Alive, Close"[..])];
        assert!(write_head(&mut out, &Method::GET, "/", close, None));
        out.clear();
        let keep = [(&http::header::CONNECTION, &b"keep-alive"[..])];
        assert!(!write_head(&mut out, &Method::GET, "/", keep, None));
        out.clear();
        assert!(!write_head(&mut out, &Method::GET, "/", [], None));
    }

    #[test]
    fn a_head_in_pieces_is_taken_once_it_is_whole() {
        let mut buffer = BytesMut::from("HTTP/1.1 200 OK\r\ncontent-le");
        assert!(take(&mut buffer, false).unwrap().is_none());
        buffer.extend_from_slice(b"ngth: 2\r\nx-id: 7\r\n\r\nok");
        let head = take(&mut buffer, false).unwrap().unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.framing, Framing::Length(2));
        assert!(head.keep_alive);
        assert_eq!(head.headers["x-id"], "7");
        assert_eq!(&buffer[..], b"ok");
    }

    #[test]
    fn a_name_seen_before_is_the_same_name_and_a_reused_map_holds_only_the_new_head() {
        let mut names = Names::default();
        let mut spare = None;
        let mut first = BytesMut::from("HTTP/1.1 200 OK\r\nX-Request-Id: 1\r\nx-old: 1\r\n\r\n");
        let head = take_head(&mut first, false, &mut names, &mut spare)
            .unwrap()
            .unwrap();
        assert_eq!(names.0.len(), 2);
        spare = Some(head.headers);
        let mut second = BytesMut::from("HTTP/1.1 200 OK\r\nx-request-id: 2\r\n\r\n");
        let head = take_head(&mut second, false, &mut names, &mut spare)
            .unwrap()
            .unwrap();
        assert_eq!(names.0.len(), 2, "x-request-id was parsed once");
        assert_eq!(head.headers.len(), 1, "nothing of the first head is left");
        assert_eq!(head.headers["x-request-id"], "2");
    }

    #[test]
    fn a_body_of_known_length_waits_for_its_last_byte() {
        let (head, mut buffer) = head_of("HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhel");
        let mut reader = BodyReader::new(head.framing);
        assert_eq!(reader.take(&mut buffer, false).unwrap(), Progress::More(2));
        buffer.extend_from_slice(b"lo");
        assert_eq!(
            reader.take(&mut buffer, false).unwrap(),
            Progress::Done(Bytes::from_static(b"hello"))
        );
    }

    #[test]
    fn a_chunked_body_is_joined_and_its_trailers_skipped() {
        let body = body_of(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
             5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nx-trailer: 1\r\n\r\n",
        );
        assert_eq!(body.unwrap(), Bytes::from_static(b"hello, world"));
    }

    #[test]
    fn a_chunked_body_read_a_byte_at_a_time_is_the_same_body() {
        let text = b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
        let mut reader = BodyReader::new(Framing::Chunked);
        let mut buffer = BytesMut::new();
        let mut done = None;
        for byte in text {
            buffer.extend_from_slice(&[*byte]);
            if let Progress::Done(body) = reader.take(&mut buffer, false).unwrap() {
                done = Some(body);
            }
        }
        assert_eq!(done, Some(Bytes::from_static(b"abcde")));
    }

    #[test]
    fn a_chunk_without_its_crlf_is_a_protocol_error() {
        let error = body_of("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabcX\r\n");
        assert_eq!(error, Err(ProtocolError::Chunked("no CRLF after a chunk")));
    }

    #[test]
    fn without_a_length_the_body_runs_to_the_close_and_ends_the_connection() {
        let (head, mut buffer) = head_of("HTTP/1.1 200 OK\r\n\r\nall of it");
        assert_eq!(head.framing, Framing::UntilClose);
        assert!(!head.keep_alive);
        let mut reader = BodyReader::new(head.framing);
        assert_eq!(reader.take(&mut buffer, false).unwrap(), Progress::More(0));
        assert_eq!(
            reader.take(&mut buffer, true).unwrap(),
            Progress::Done(Bytes::from_static(b"all of it"))
        );
    }

    #[test]
    fn responses_that_have_no_body_have_none_whatever_their_length_says() {
        for text in [
            "HTTP/1.1 204 No Content\r\ncontent-length: 10\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\n",
        ] {
            let (head, _) = head_of(text);
            assert_eq!(head.framing, Framing::Empty, "{text}");
            assert!(head.keep_alive, "{text}");
        }
        let mut buffer = BytesMut::from("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n");
        let head = take(&mut buffer, true).unwrap().unwrap();
        assert_eq!(head.framing, Framing::Empty);
    }

    #[test]
    fn connection_close_and_http_1_0_end_the_connection() {
        let (close, _) =
            head_of("HTTP/1.1 200 OK\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n");
        assert!(!close.keep_alive);
        let (old, _) = head_of("HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert!(!old.keep_alive);
        let (kept, _) =
            head_of("HTTP/1.0 200 OK\r\nconnection: keep-alive\r\ncontent-length: 0\r\n\r\n");
        assert!(kept.keep_alive);
    }

    #[test]
    fn transfer_encoding_wins_over_a_length() {
        let (head, _) = head_of(
            "HTTP/1.1 200 OK\r\ncontent-length: 4\r\ntransfer-encoding: gzip, chunked\r\n\r\n",
        );
        assert_eq!(head.framing, Framing::Chunked);
        assert!(!head.keep_alive, "a response with both ends its connection");
    }

    #[test]
    fn a_length_after_a_transfer_coding_does_not_frame_the_body() {
        let (head, _) =
            head_of("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\ncontent-length: 10\r\n\r\n");
        assert_eq!(head.framing, Framing::UntilClose);
        assert!(!head.keep_alive);
        let (head, _) =
            head_of("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 10\r\n\r\n");
        assert_eq!(head.framing, Framing::Chunked);
        assert!(!head.keep_alive);
    }

    #[test]
    fn bad_heads_are_protocol_errors() {
        let mut garbage = BytesMut::from("SSH-2.0-OpenSSH_9.2\r\n\r\n");
        assert!(matches!(
            take(&mut garbage, false),
            Err(ProtocolError::Head(_))
        ));
        let mut two_lengths =
            BytesMut::from("HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\n");
        assert_eq!(
            take(&mut two_lengths, false).unwrap_err(),
            ProtocolError::ContentLength
        );
        let mut endless = BytesMut::from("HTTP/1.1 200 OK\r\n");
        endless.extend_from_slice(&vec![b'x'; MAX_HEAD + 1]);
        assert_eq!(
            take(&mut endless, false).unwrap_err(),
            ProtocolError::HeadTooLarge
        );
    }
}
