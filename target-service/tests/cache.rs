//! The Redis (L3) layer against the real Redis on 127.0.0.1: the §1 key
//! patterns and TTLs, read-your-write through both layers, and two
//! instances on one Redis staying coherent.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::{API_KEY_A, API_KEY_B, Backend, Harness, redis_url, small_config, unique};
use redis::AsyncCommands;
use serde_json::json;
use target_service::{Config, api::auth::hash_key, app, cache::keys};

on_both_backends!(
    redis_holds_each_key_pattern_with_its_ttl,
    reads_see_writes_through_l4_and_l3,
    two_instances_on_one_redis_stay_coherent,
);

/// A config on the shared Redis, under a prefix of this test's own.
fn redis_config() -> Config {
    Config {
        redis_url: Some(redis_url()),
        cache_prefix: format!("{}:", unique("lgtest")),
        ..small_config()
    }
}

async fn redis() -> redis::aio::MultiplexedConnection {
    let url = redis_url();
    let client = redis::Client::open(url.as_str()).unwrap();
    client
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| {
            panic!("Redis must be running at {url} for these tests (.ci/run starts it): {e}")
        })
}

/// Milliseconds `key` has left to live, asserting that it exists.
async fn pttl(conn: &mut redis::aio::MultiplexedConnection, key: &str) -> u64 {
    let ms: i64 = conn.pttl(key).await.unwrap();
    assert!(ms > 0, "{key} should exist with a TTL, PTTL = {ms}");
    ms as u64
}

/// Asserts a TTL was set to `ttl` moments ago.
fn assert_fresh_ttl(key: &str, left_ms: u64, ttl: Duration) {
    let ttl_ms = ttl.as_millis() as u64;
    assert!(
        left_ms <= ttl_ms && left_ms > ttl_ms - 10_000,
        "{key}: {left_ms} ms left, expected just under {ttl_ms}"
    );
}

async fn redis_holds_each_key_pattern_with_its_ttl(backend: Backend) {
    let mut conn = redis().await;
    let config = redis_config();
    let prefix = config.cache_prefix.clone();
    let h = Harness::start(backend, config).await;
    let page = h
        .get("/api/v1/servers?page=1", Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    let server_id = page["items"][0]["id"].as_i64().unwrap();
    h.get(
        &format!("/api/v1/metrics?server_id={server_id}&metric_type=cpu"),
        Some(API_KEY_A),
    )
    .await
    .expect(200);
    h.get("/api/v1/config", Some(API_KEY_A)).await.expect(200);

    let stored: Vec<String> = conn.keys(format!("{prefix}*")).await.unwrap();
    let list_prefix = format!("{prefix}api:servers:list:21:1:");
    let list_key = stored
        .iter()
        .find(|k| k.starts_with(&list_prefix))
        .unwrap_or_else(|| panic!("no {list_prefix}{{filters_hash}} among {stored:?}"));
    assert_eq!(
        list_key.len(),
        list_prefix.len() + 16,
        "a 16-hex-digit filters hash"
    );
    let left = pttl(&mut conn, list_key).await;
    assert_fresh_ttl(list_key, left, keys::LIST_TTL);

    for (key, ttl) in [
        (keys::session(&hash_key(API_KEY_A)), keys::SESSION_TTL),
        (keys::metrics(server_id, Some("cpu")), keys::METRICS_TTL),
        (keys::config("public"), keys::CONFIG_TTL),
    ] {
        let key = format!("{prefix}{key}");
        let left = pttl(&mut conn, &key).await;
        assert_fresh_ttl(&key, left, ttl);
    }
    let cached: Vec<u8> = conn.get(list_key).await.unwrap();
    let cached: serde_json::Value = serde_json::from_slice(&cached).unwrap();
    assert_eq!(cached, page, "L3 holds the page as served");
    h.finish().await;
}

async fn reads_see_writes_through_l4_and_l3(backend: Backend) {
    let config = redis_config();
    let h = Harness::start(backend, config.clone()).await;
    let before = h
        .get("/api/v1/servers", Some(API_KEY_A))
        .await
        .expect(200)
        .json();
    // A second instance with an empty L4 reads the same page from L3.
    let sibling = app(h.sibling(config).await);
    let from_l3 = common::call(
        &sibling,
        common::request(Method::GET, "/api/v1/servers", Some(API_KEY_A), None),
    )
    .await;
    assert_eq!(from_l3.expect(200).json(), before);
    let hits_line = String::from_utf8(
        common::call(
            &sibling,
            common::request(Method::GET, "/metrics", None, None),
        )
        .await
        .body,
    )
    .unwrap()
    .lines()
    .find(|l| l.starts_with("cache_hits_total{layer=\"l3\"}"))
    .unwrap()
    .to_owned();
    assert_eq!(hits_line, "cache_hits_total{layer=\"l3\"} 1");

    h.send(
        Method::POST,
        "/api/v1/servers",
        API_KEY_A,
        json!({"name": "via-a", "transport": "http"}),
    )
    .await
    .expect(201);
    let after = h.get("/api/v1/servers", Some(API_KEY_A)).await.json();
    assert_eq!(
        after["total"].as_i64(),
        before["total"].as_i64().map(|t| t + 1),
        "L4 and L3 of the writer"
    );
    // User B's cached page is B's own, before and after A's write.
    let b_page = h.get("/api/v1/servers", Some(API_KEY_B)).await.json();
    assert!(
        b_page["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "via-a")
    );
    h.finish().await;
}

async fn two_instances_on_one_redis_stay_coherent(backend: Backend) {
    // L4 entries live 60 s, longer than this test: expiry cannot make it pass.
    let config = Config {
        l4_ttl: Duration::from_secs(60),
        ..redis_config()
    };
    let a = Harness::start(backend, config.clone()).await;
    let b_state = a.sibling(config).await;
    let b_subscriber = b_state.cache.spawn_subscriber().expect("redis configured");
    let b = app(b_state);
    let b_get = |path: String| {
        let b = b.clone();
        async move {
            common::call(
                &b,
                common::request(Method::GET, &path, Some(API_KEY_A), None),
            )
            .await
        }
    };

    let before = b_get("/api/v1/servers".into()).await.expect(200).json();
    let server_id = before["items"][0]["id"].as_i64().unwrap();
    let series_path = format!("/api/v1/metrics?server_id={server_id}&metric_type=cpu&limit=1");
    let series_before = b_get(series_path.clone()).await.expect(200).json();
    let server_path = format!("/api/v1/servers/{server_id}");
    assert_eq!(
        b_get(server_path.clone()).await.expect(200).json()["status"],
        before["items"][0]["status"]
    );

    a.send(
        Method::POST,
        "/api/v1/servers",
        API_KEY_A,
        json!({"name": "made-on-a", "transport": "sse"}),
    )
    .await
    .expect(201);
    let point = json!({"points": [{"server_id": server_id, "metric_type": "cpu", "value": 12345.0, "timestamp": "2099-01-01T00:00:00Z"}]});
    a.send(Method::POST, "/api/v1/metrics", API_KEY_A, point)
        .await
        .expect(201);
    a.send(
        Method::PATCH,
        &server_path,
        API_KEY_A,
        json!({"status": "starting"}),
    )
    .await
    .expect(200);

    // Invalidation travels over pub/sub: give it a moment, far less than the TTL.
    let mut seen = None;
    for _ in 0..50 {
        let list = b_get("/api/v1/servers".into()).await.json();
        let series = b_get(series_path.clone()).await.json();
        let server = b_get(server_path.clone()).await.json();
        if list["total"].as_i64() == before["total"].as_i64().map(|t| t + 1)
            && series["items"][0]["value"] == 12345.0
            && server["status"] == "starting"
        {
            seen = Some((list, series));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (list, _) = seen.unwrap_or_else(|| {
        panic!("instance B never saw A's writes; it still served {before} and {series_before}")
    });
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "made-on-a")
    );
    b_subscriber.abort();
    a.finish().await;
}
