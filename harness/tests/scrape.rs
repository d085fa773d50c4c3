//! The scraper against the bundled service, in-process: the server counts
//! exactly the requests the test sent (not the scrapes), its caches and
//! pool show, a client count it disagrees with is called out, and a metrics
//! URL nobody answers is counted, never fatal.

mod common;

use std::{sync::Arc, time::Duration};

use common::closed_port;
use harness::run::{
    clock::StageClock,
    scrape::{ClientCounts, Scraper},
};
use target_service::{Config, RunningService};

async fn service() -> RunningService {
    target_service::start(Config::demo())
        .await
        .expect("the service starts")
}

/// Sends `count` `GET /api/v1/servers` over five keys, so that the
/// response cache misses once per key and hits after that.
async fn list_servers(base: &str, count: u64) {
    let client = reqwest::Client::new();
    for i in 0..count {
        let response = client
            .get(format!("{base}/api/v1/servers"))
            .bearer_auth(format!("demo-key-{}", 21 + i % 5))
            .send()
            .await
            .expect("the service answers");
        assert_eq!(response.status(), 200);
        response.bytes().await.expect("a whole body");
    }
}

/// A run's clock, started now.
fn started_clock() -> Arc<StageClock> {
    let clock = Arc::new(StageClock::new(Duration::ZERO));
    clock.start();
    clock
}

async fn scraper(base: &str) -> Scraper {
    Scraper::start(
        format!("{base}/metrics"),
        started_clock(),
        Duration::from_millis(50),
    )
    .await
}

#[tokio::test]
async fn the_server_counts_what_the_client_sent_and_shows_its_cache_and_pool() {
    let service = service().await;
    let base = service.base_url();
    let scraper = scraper(&base).await;
    list_servers(&base, 50).await;
    // Time for the background task to scrape too: 20 intervals, so a
    // loaded machine still lets it run a few times.
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let stats = scraper
        .finish(ClientCounts {
            requests: 50,
            responses: 50,
            all_counted: true,
            shard: false,
        })
        .await;
    service.shutdown().await.expect("a clean shutdown");

    let shown = format!("{stats:#?}");
    assert!(stats.scrapes >= 3, "{shown}");
    assert_eq!(stats.failed_scrapes, 0, "{shown}");
    assert_eq!(stats.requests, Some(50), "{shown}");
    assert_eq!(stats.count_mismatch, None, "{shown}");
    let l4 = stats
        .cache_layers
        .iter()
        .find(|l| l.layer == "l4")
        .expect("an l4 layer");
    assert!(l4.hits > 0 && l4.misses > 0, "{shown}");
    assert_eq!(l4.hits + l4.misses, 50, "{shown}");
    let ratio = stats.cache_hit_ratio.expect("a cache hit ratio");
    assert!(ratio > 0.0 && ratio <= 1.0, "{shown}");
    let pool = stats.db_pool.expect("pool utilization");
    assert!(pool.max_connections > 0, "{shown}");
    assert!((0.0..=1.0).contains(&pool.max), "{shown}");
    let latency = stats.latency.expect("server latency");
    assert_eq!(latency.count, 50, "{shown}");
    assert!(latency.p50_us <= latency.p95_us && latency.p95_us <= latency.p99_us);
    assert_eq!(stats.series.len() as u32, stats.scrapes - 1, "{shown}");
    assert!(
        stats.series.windows(2).all(|w| w[0].at_ms <= w[1].at_ms),
        "{shown}"
    );
}

#[tokio::test]
async fn a_client_count_the_server_disagrees_with_is_a_mismatch() {
    let service = service().await;
    let base = service.base_url();
    let scraper = scraper(&base).await;
    list_servers(&base, 10).await;
    let stats = scraper
        .finish(ClientCounts {
            requests: 8,
            responses: 7,
            all_counted: true,
            shard: false,
        })
        .await;
    service.shutdown().await.expect("a clean shutdown");

    assert_eq!(stats.requests, Some(10));
    assert_eq!(
        stats.count_mismatch.as_deref(),
        Some("the server counted 10 requests; the client sent 8 and got 7 responses (+2)")
    );
}

#[tokio::test]
async fn an_unreachable_metrics_url_is_counted_and_nothing_derived() {
    let url = format!("http://127.0.0.1:{}/metrics", closed_port());
    let scraper = Scraper::start(url.clone(), started_clock(), Duration::from_millis(20)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stats = scraper
        .finish(ClientCounts {
            requests: 3,
            responses: 2,
            all_counted: true,
            shard: false,
        })
        .await;

    assert_eq!(stats.url, url);
    assert_eq!(stats.scrapes, 0);
    assert!(stats.failed_scrapes >= 3, "{stats:#?}");
    assert_eq!((stats.client_requests, stats.client_responses), (3, 2));
    assert_eq!(stats.requests, None);
    assert_eq!(stats.count_mismatch, None);
    assert_eq!(stats.latency, None);
    assert!(stats.cache_layers.is_empty());
    assert_eq!(stats.cache_hit_ratio, None);
    assert_eq!(stats.db_pool, None);
    assert!(stats.series.is_empty());
}
