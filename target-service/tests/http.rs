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
async fn slow_requests_time_out_with_408_in_the_error_shape() {
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
    assert_eq!(response.status(), 408);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "timeout");
    service.shutdown().await.unwrap();
}
