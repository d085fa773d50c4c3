//! What only shows over a real socket: compression negotiation, graceful
//! draining on shutdown, and the request timeout.

mod common;

use std::time::Duration;

use common::{API_KEY_A, small_config};
use target_service::Config;

/// A client that leaves bodies as sent: other crates of the workspace
/// switch on reqwest's decompression, which would hide `Content-Encoding`.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_gzip()
        .no_brotli()
        .build()
        .unwrap()
}

#[tokio::test]
async fn large_responses_are_compressed_when_the_client_accepts_it() {
    // 20 servers make a page of several KiB.
    let config = Config {
        servers_per_user: 20,
        ..small_config()
    };
    let service = target_service::start(config).await.unwrap();
    let url = format!("{}/api/v1/servers?per_page=1000", service.base_url());
    let auth = format!("Bearer {API_KEY_A}");
    for (accept, expected) in [
        ("gzip", Some("gzip")),
        ("br", Some("br")),
        ("identity", None),
    ] {
        let response = client()
            .get(&url)
            .header("authorization", &auth)
            .header("accept-encoding", accept)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(
            response
                .headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            expected,
            "Accept-Encoding: {accept}"
        );
    }
    // Under 1 KiB: not worth compressing.
    let small = client()
        .get(format!("{}/health", service.base_url()))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(small.headers().get("content-encoding"), None);
    service.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_drains_requests_in_flight_and_refuses_new_ones() {
    let config = Config {
        debug_list_delay: Some(Duration::from_millis(600)),
        ..small_config()
    };
    let service = target_service::start(config).await.unwrap();
    let base = service.base_url();
    let in_flight = tokio::spawn({
        let url = format!("{base}/api/v1/servers");
        async move {
            client()
                .get(url)
                .header("authorization", format!("Bearer {API_KEY_A}"))
                .send()
                .await
        }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    service.shutdown().await.unwrap();
    let response = in_flight
        .await
        .unwrap()
        .expect("the in-flight request was answered");
    assert_eq!(response.status(), 200);
    assert!(
        client().get(format!("{base}/health")).send().await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn slow_requests_time_out_with_503_and_retry_after_in_the_error_shape() {
    let config = Config {
        debug_list_delay: Some(Duration::from_millis(500)),
        request_timeout: Duration::from_millis(100),
        ..small_config()
    };
    let service = target_service::start(config).await.unwrap();
    let response = client()
        .get(format!("{}/api/v1/servers", service.base_url()))
        .header("authorization", format!("Bearer {API_KEY_A}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "timeout");
    service.shutdown().await.unwrap();
}

/// Reads from `stream` until it closes or `within` passes; whether it closed.
async fn closed_within(stream: &mut tokio::net::TcpStream, within: Duration) -> bool {
    use tokio::io::AsyncReadExt;
    let mut buf = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

#[tokio::test]
async fn a_client_that_trickles_its_headers_is_cut_off() {
    use tokio::io::AsyncWriteExt;
    let config = Config {
        header_read_timeout: Duration::from_millis(300),
        ..small_config()
    };
    let service = target_service::start(config).await.unwrap();
    let mut slow = tokio::net::TcpStream::connect(service.addr())
        .await
        .unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    assert!(
        closed_within(&mut slow, Duration::from_secs(3)).await,
        "a request whose headers never end holds its connection open"
    );
    // A client that sends its headers in time is served as before.
    let response = client()
        .get(format!("{}/health", service.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    service.shutdown().await.unwrap();
}

#[tokio::test]
async fn connections_over_the_limit_wait_until_one_closes() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config = Config {
        connection_limit: 2,
        ..small_config()
    };
    let service = target_service::start(config).await.unwrap();
    let connect = || tokio::net::TcpStream::connect(service.addr());
    let request = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = connect().await.unwrap();
        stream.write_all(request).await.unwrap();
        let mut buf = [0u8; 256];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(stream);
    }
    // The kernel completes the handshake, but the service does not take
    // the connection while two are open.
    let mut third = connect().await.unwrap();
    third.write_all(request).await.unwrap();
    let mut buf = [0u8; 256];
    let early = tokio::time::timeout(Duration::from_millis(300), third.read(&mut buf)).await;
    assert!(
        early.is_err(),
        "a third connection was served at a limit of 2"
    );
    drop(held.pop());
    let n = tokio::time::timeout(Duration::from_secs(3), third.read(&mut buf))
        .await
        .expect("served once a connection closed")
        .unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    service.shutdown().await.unwrap();
}
