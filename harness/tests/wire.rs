//! loadgate's own HTTP/1.1 against servers that write their responses byte
//! by byte: the framings a real server may choose (chunked, to the close),
//! a keep-alive close that crosses a request, and bytes that are not HTTP.
//! Each server counts what it saw; loadgate's results must agree with it.

mod common;

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use common::*;
use reports::results::Results;

/// What a test server saw.
#[derive(Debug, Default)]
struct Seen {
    connections: AtomicU64,
    requests: AtomicU64,
}

/// Reads one request (head and `Content-Length` body) off `stream`; false
/// when the client closed first.
fn read_request(stream: &mut TcpStream, pending: &mut Vec<u8>) -> bool {
    let mut chunk = [0_u8; 4096];
    loop {
        if let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&pending[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse().unwrap());
            if pending.len() >= end + 4 + length {
                pending.drain(..end + 4 + length);
                return true;
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return false,
            Ok(n) => pending.extend_from_slice(&chunk[..n]),
        }
    }
}

/// What a test server does with a request.
enum Answer {
    /// Writes these bytes and waits for the next request.
    Keep(&'static [u8]),
    /// Writes these bytes and closes the connection.
    Close(&'static [u8]),
    /// Closes the connection without a word.
    HangUp,
}

/// A server on a thread of its own: `answer(nth request on the
/// connection)` says what it does with each request.
fn raw_server(answer: fn(u64) -> Answer) -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Seen::default());
    let counts = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counts.connections.fetch_add(1, Ordering::Relaxed);
            let counts = counts.clone();
            std::thread::spawn(move || {
                let mut pending = Vec::new();
                for nth in 0.. {
                    if !read_request(&mut stream, &mut pending) {
                        return;
                    }
                    counts.requests.fetch_add(1, Ordering::Relaxed);
                    match answer(nth) {
                        Answer::Keep(bytes) if stream.write_all(bytes).is_ok() => {}
                        Answer::Close(bytes) => {
                            let _ = stream.write_all(bytes);
                            return;
                        }
                        _ => return,
                    }
                }
            });
        }
    });
    (url, seen)
}

/// One user for a 1 s ramp and a 1 s hold, sending `request` (a YAML
/// list item).
async fn run(url: &str, request: &str) -> Results {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "version: 4
name: wire
load:
  stages:
    - {{users: 1, ramp: 1s}}
    - {{name: steady, hold: 1s}}
requests:
  - {request}
"
    );
    let path = scenario(dir.path(), "s.yaml", &yaml);
    let out = dir.path().join("out");
    let output = run_scenario(&path, url, &out).await;
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    read_results(&out)
}

#[tokio::test]
async fn a_chunked_body_is_joined_for_its_checks_on_a_kept_connection() {
    let (url, seen) = raw_server(|_| {
        Answer::Keep(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
              6\r\n{\"id\":\r\n3\r\n 7}\r\n0\r\n\r\n",
        )
    });
    let results = run(
        &url,
        "{name: chunked, method: GET, path: /, checks: {body_contains: '\"id\": 7}'}}",
    )
    .await;
    let all = &results.overall.all;
    assert_eq!(all.errors.total(), 0, "{:?}", all.errors);
    assert!(all.count > 10, "{} requests", all.count);
    assert_eq!(all.count, seen.requests.load(Ordering::Relaxed));
    assert_eq!(seen.connections.load(Ordering::Relaxed), 1, "kept alive");
}

#[tokio::test]
async fn a_body_that_runs_to_the_close_is_read_whole_and_the_next_request_reconnects() {
    let (url, seen) = raw_server(|_| {
        Answer::Close(b"HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\nthe whole body")
    });
    let results = run(
        &url,
        "{name: to_close, method: GET, path: /, checks: {body_contains: whole body}}",
    )
    .await;
    let all = &results.overall.all;
    assert_eq!(all.errors.total(), 0, "{:?}", all.errors);
    assert!(all.count > 10, "{} requests", all.count);
    assert_eq!(
        all.count,
        seen.connections.load(Ordering::Relaxed),
        "one connection each"
    );
}

/// Answers the first request on each connection and closes as the second
/// arrives: a keep-alive timeout crossing every reused request.
fn one_answer_per_connection(nth: u64) -> Answer {
    match nth {
        0 => Answer::Keep(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"),
        _ => Answer::HangUp,
    }
}

#[tokio::test]
async fn a_get_that_meets_a_keep_alive_close_is_sent_again_on_a_new_connection() {
    let (url, seen) = raw_server(one_answer_per_connection);
    let results = run(&url, "{name: get, method: GET, path: /}").await;
    let all = &results.overall.all;
    assert_eq!(all.errors.total(), 0, "{:?}", all.errors);
    assert!(all.count > 10, "{} requests", all.count);
    let connections = seen.connections.load(Ordering::Relaxed);
    assert!(
        connections >= all.count,
        "each answered request had a connection of its own ({connections} for {})",
        all.count
    );
}

#[tokio::test]
async fn a_post_that_meets_a_keep_alive_close_is_a_failure_not_repeated() {
    let (url, seen) = raw_server(one_answer_per_connection);
    let results = run(&url, "{name: post, method: POST, path: /, body: {n: 1}}").await;
    let all = &results.overall.all;
    assert!(all.errors.total() > 0, "{:?}", all.errors);
    assert_eq!(
        all.count,
        seen.requests.load(Ordering::Relaxed),
        "every POST reached the server once, none twice"
    );
}

#[tokio::test]
async fn a_request_that_says_close_is_never_sent_on_its_connection_again() {
    // The server answers without echoing the close, then hangs up on the
    // next request: a reused connection would lose every second POST.
    let (url, seen) = raw_server(one_answer_per_connection);
    let results = run(
        &url,
        "{name: post, method: POST, path: /, headers: {Connection: close}, body: {n: 1}}",
    )
    .await;
    let all = &results.overall.all;
    assert_eq!(all.errors.total(), 0, "{:?}", all.errors);
    assert!(all.count > 10, "{} requests", all.count);
    assert_eq!(
        seen.connections.load(Ordering::Relaxed),
        seen.requests.load(Ordering::Relaxed),
        "one connection per request"
    );
}

#[tokio::test]
async fn bytes_that_are_not_http_are_a_failure_of_every_request() {
    let (url, _) = raw_server(|_| Answer::Keep(b"SSH-2.0-OpenSSH_9.2\r\n\r\n"));
    let results = run(&url, "{name: garbage, method: GET, path: /}").await;
    let all = &results.overall.all;
    assert!(all.count > 0);
    assert_eq!(all.errors.total(), all.count, "{:?}", all.errors);
}
