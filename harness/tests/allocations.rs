//! What a request costs the heap in steady state: nothing. loadgate's
//! part of a request (render, send, check, capture, record) and its
//! HTTP/1.1 exchange reuse what the request before them left: the request
//! buffer, the connection's read buffer (rewound once the response before
//! is dropped), the response's header map and the header names.
//!
//! A heap-counting global allocator (dhat's, in testing mode) counts every
//! allocation of the process. The test measures two things against the
//! same server: a bare hyper `client::conn::http1` connection sending the
//! same request by hand (the client loadgate used before it spoke HTTP/1.1
//! itself, a yardstick that shows the counter counts: its header maps,
//! body buffer and response channel allocate per exchange), and a loadgate
//! user running a step (a GET with a templated header, a status check and
//! a captured response header, its sample recorded), which must not
//! allocate at all.
//!
//! The server is a blocking thread that answers every request with the
//! same bytes from a fixed buffer, so it allocates nothing per request
//! either. Each side is measured over several windows and the fewest
//! allocations per request are kept: a window in which the recorder's
//! aggregator opened a new second (a histogram per second, not per
//! request) is not steady state.

use std::{
    fmt::Write as _,
    io::{Read, Write},
    net::{SocketAddr, TcpListener},
    path::Path,
    sync::{Arc, atomic::AtomicU32},
    time::Duration,
};

use harness::run::{
    clock::StageClock,
    exchange::Transport,
    recorder::{JudgedSpans, Recorder, RecorderConfig},
    user::{RunContext, VirtualUser},
};
use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes, header::HeaderValue};
use hyper_util::rt::TokioIo;
use reports::results::{LatencyBasis, LatencyOf};
use scenario::{Vars, parse_plan};

#[global_allocator]
static ALLOCATOR: dhat::Alloc = dhat::Alloc;

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\
x-request-token: t-1\r\ncontent-length: 33\r\n\r\n{\"message\":\"hello\",\"token\":\"t-1\"}";

/// Requests per window, and windows per side.
const REQUESTS: u64 = 500;
const WINDOWS: usize = 6;

/// A keep-alive HTTP/1.1 server on a thread of its own that answers every
/// request with [`RESPONSE`], allocating nothing per request.
fn canned_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buffer = [0_u8; 8192];
                let mut filled = 0;
                loop {
                    let Ok(read) = stream.read(&mut buffer[filled..]) else {
                        return;
                    };
                    if read == 0 {
                        return;
                    }
                    filled += read;
                    // One request at a time: the clients here never pipeline.
                    if buffer[..filled].windows(4).any(|w| w == b"\r\n\r\n") {
                        filled = 0;
                        if stream.write_all(RESPONSE).is_err() {
                            return;
                        }
                    } else if filled == buffer.len() {
                        return;
                    }
                }
            });
        }
    });
    address
}

fn allocations() -> u64 {
    dhat::HeapStats::get().total_blocks
}

/// The fewest allocations per request over [`WINDOWS`] windows of
/// [`REQUESTS`] calls of `one`.
async fn fewest_per_request<F: AsyncFnMut()>(mut one: F) -> f64 {
    let mut fewest = f64::MAX;
    for _ in 0..WINDOWS {
        let before = allocations();
        for _ in 0..REQUESTS {
            one().await;
        }
        let per_request = (allocations() - before) as f64 / REQUESTS as f64;
        fewest = fewest.min(per_request);
    }
    fewest
}

/// hyper by hand: one connection, the same request head, the body read.
async fn bare_hyper(address: SocketAddr) -> f64 {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    tokio::spawn(connection);
    let uri: hyper::Uri = "/json".parse().unwrap();
    let host = HeaderValue::from_str(&address.to_string()).unwrap();
    let user_agent = HeaderValue::from_static("loadgate/0.1.0");
    let gzip = HeaderValue::from_static("gzip");
    let mut seq = 0_u64;
    let mut text = String::new();
    let mut send = async || {
        // The templated header: its value is new each time, and hyper
        // takes it as an owned `HeaderValue`.
        seq += 1;
        text.clear();
        write!(text, "user-{seq}").unwrap();
        let mut request = Request::new(Full::new(Bytes::new()));
        *request.uri_mut() = uri.clone();
        let headers = request.headers_mut();
        // The same head loadgate sends: its own headers, then the step's.
        headers.insert(hyper::header::HOST, host.clone());
        headers.insert(hyper::header::USER_AGENT, user_agent.clone());
        headers.insert(hyper::header::ACCEPT_ENCODING, gzip.clone());
        headers.insert("x-user", HeaderValue::from_str(&text).unwrap());
        sender.ready().await.unwrap();
        let response = sender.send_request(request).await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().contains_key("x-request-token"));
        // Frame by frame: `collect` would allocate a list of frames.
        let mut body = response.into_body();
        let mut length = 0;
        while let Some(frame) = body.frame().await {
            length += frame.unwrap().into_data().map_or(0, |data| data.len());
        }
        assert_eq!(length, 33);
    };
    // Warm up: the connection's buffers reach their size.
    for _ in 0..REQUESTS {
        send().await;
    }
    fewest_per_request(send).await
}

/// A loadgate user running its step, recorded as in a run.
async fn loadgate_user(address: SocketAddr) -> f64 {
    let yaml = "version: 4
name: allocations
load: {stages: [{users: 1, ramp: 0s}, {hold: 1h}]}
flows:
  - name: json
    steps:
      - name: json
        method: GET
        path: /json
        headers: {x-user: 'user-{{ seq }}'}
        checks: {status: 200}
        capture: {token: 'header:x-request-token'}
";
    let plan = parse_plan("allocations.yaml", yaml, Path::new("."), &Vars::new()).unwrap();
    let timeline = plan.timeline(Duration::from_secs(1));
    let names: Vec<String> = plan
        .request_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let clock = Arc::new(StageClock::new(Duration::ZERO));
    clock.start();
    let recorder = Recorder::start(RecorderConfig {
        names: names.clone(),
        clock: clock.clone(),
        judged: JudgedSpans::default(),
        timeline_end: Duration::from_secs(60),
        longest_timeout: Duration::from_secs(30),
        basis: LatencyBasis::Sent,
        abort_watches: Vec::new(),
        latency_of: LatencyOf::All,
    });
    let transport = Transport::new(&format!("http://{address}"), true, true).unwrap();
    let context = RunContext::new(
        plan.clone(),
        timeline,
        Arc::new(AtomicU32::new(0)),
        transport,
        clock,
        &names,
        None,
    );
    let mut user = VirtualUser::new(&context, 0, recorder.sink());
    let steps = context.pick(0.0);
    let mut send = async || {
        assert!(user.run_steps(&context, steps).await, "the step passes");
    };
    // Warm up: the connection, the buffers, the capture's slot, and enough
    // batches handed over that the recorder's buffers go round.
    for _ in 0..4 * REQUESTS {
        send().await;
    }
    let fewest = fewest_per_request(send).await;
    let recording = recorder.finish(Duration::from_secs(1)).await;
    assert!(recording.overall.all.count >= 4 * REQUESTS);
    assert_eq!(recording.overall.all.errors.total(), 0);
    fewest
}

#[test]
fn a_loadgate_request_allocates_nothing_in_steady_state() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let address = canned_server();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let hyper_alone = runtime.block_on(bare_hyper(address));
    let loadgate = runtime.block_on(loadgate_user(address));
    println!("allocations per request: hyper alone {hyper_alone}, a loadgate user {loadgate}");
    assert!(
        hyper_alone > 0.0,
        "the counter counts (hyper allocates per exchange)"
    );
    assert_eq!(
        loadgate, 0.0,
        "a loadgate user allocates {loadgate} times per request (hyper alone {hyper_alone})"
    );
}
