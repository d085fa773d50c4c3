//! Redis stopped in the middle of a test: requests stay 2xx, the failures
//! are counted, and the service uses Redis again once it is back.
//!
//! This test starts a `redis-server` of its own on a free port, so it never
//! disturbs the shared one.

mod common;

use std::time::Duration;

use axum::http::Method;
use common::{API_KEY_A, Backend, Harness, OwnRedis, free_port, small_config};
use redis::AsyncCommands;
use serde_json::json;
use target_service::Config;

fn redis_errors(metrics_text: &str) -> u64 {
    metrics_text
        .lines()
        .find_map(|l| l.strip_prefix("redis_errors_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no redis_errors_total in\n{metrics_text}"))
}

#[tokio::test]
async fn redis_down_mid_test_is_never_a_5xx_and_is_used_again_when_back() {
    let port = free_port();
    let mut redis = OwnRedis::start(port);
    let mut direct = redis.connect().await;
    let config = Config {
        redis_url: Some(redis.url()),
        ..small_config()
    };
    let h = Harness::start(Backend::Sqlite, config).await;
    h.get("/api/v1/servers", Some(API_KEY_A)).await.expect(200);
    let keys: Vec<String> = direct.keys("api:servers:list:*").await.unwrap();
    assert_eq!(keys.len(), 1, "Redis is in use before the outage");
    h.get("/ready", None).await.expect(200);

    redis.stop();
    let server_id = h
        .get("/api/v1/servers", Some(API_KEY_A))
        .await
        .expect(200)
        .json()["items"][0]["id"]
        .as_i64()
        .unwrap();
    for round in 0..3 {
        h.send(
            Method::POST,
            "/api/v1/servers",
            API_KEY_A,
            json!({"name": format!("during-outage-{round}"), "transport": "http"}),
        )
        .await
        .expect(201);
        let page = h
            .get("/api/v1/servers?per_page=1000", Some(API_KEY_A))
            .await;
        assert!(
            page.expect(200).json()["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s["name"] == format!("during-outage-{round}"))
        );
        h.get(&format!("/api/v1/servers/{server_id}"), Some(API_KEY_A))
            .await
            .expect(200);
        h.get(
            &format!("/api/v1/metrics?server_id={server_id}"),
            Some(API_KEY_A),
        )
        .await
        .expect(200);
        h.get("/api/v1/config", Some(API_KEY_A)).await.expect(200);
        // An unseen key must be checked against the database, not Redis.
        h.get("/api/v1/servers", Some(&format!("demo-key-{}", 23 + round)))
            .await
            .expect(200);
    }
    // Ready all the same: the instance serves, from its own cache and the
    // database; failing the probe would take every instance out at once.
    let ready = h.get("/ready", None).await.expect(200).json();
    assert_eq!(ready["redis"], "degraded");
    assert_eq!(ready["database"], "up");
    let metrics = String::from_utf8(h.get("/metrics", None).await.body).unwrap();
    assert!(redis_errors(&metrics) > 0, "the outage is counted");

    // Back on the same port: the service reconnects by itself.
    let redis = OwnRedis::start(port);
    let mut direct = redis.connect().await;
    let mut reconnected = false;
    for _ in 0..50 {
        h.get("/api/v1/servers?page=2&per_page=1", Some(API_KEY_A))
            .await
            .expect(200);
        let keys: Vec<String> = direct.keys("api:servers:list:21:2:*").await.unwrap();
        if !keys.is_empty() {
            reconnected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reconnected, "the service never wrote to Redis again");
    // The bumps made during the outage were replayed: the generation moved.
    let generation: Option<u64> = direct.get("generation:21").await.unwrap();
    assert!(
        generation.unwrap_or(0) >= 1,
        "generation after outage: {generation:?}"
    );
    h.get("/ready", None).await.expect(200);
    h.finish().await;
}
