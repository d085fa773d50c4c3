//! What the reference service pays to serve a list page from its L4
//! (in-process moka) cache: `target_service::cache::Cache::server_page` on
//! a hit, the call `GET /api/v1/servers` makes for every request. With a
//! warm cache it is most of the handler's own work, so it bounds how many
//! list requests per second one core can answer.
//!
//! A hit, without Redis (the default configuration), does: look up the
//! user's shared generation (a moka miss, then 0 without Redis), hash the
//! filters (SHA-256 of a formatted string), format the L3 and L4 keys, read
//! the local write counter, get the bytes from the L4 moka cache and count
//! the hit in the service's Prometheus counters. The cache holds one
//! 100-item page for each of 100 users, and the bench cycles through the
//! users, so a single key is not kept unusually hot. The loader is never
//! called on a hit; it panics if it is. The filters hash is also measured
//! alone, as the part of a hit that is pure computation.
//!
//! `cargo bench -p benches --bench l4_cache_hit`

use std::{hint::black_box, time::Duration};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use target_service::{
    Config,
    cache::{Cache, Generation, filters_hash},
    error::Result,
    model::{Server, ServerPage, Status, Transport, format_rfc3339_ms},
    store::ServerFilter,
    telemetry::Telemetry,
};

const USERS: i64 = 100;
const PER_PAGE: u32 = 100;

/// One user's first page, as the seeded database would return it.
fn page_bytes(user: i64) -> Bytes {
    let items = (1..=i64::from(PER_PAGE))
        .map(|j| Server {
            id: user * 1000 + j,
            name: format!("demo-server-{j}"),
            transport: [Transport::Stdio, Transport::Http, Transport::Sse][j as usize % 3],
            status: [Status::Running, Status::Stopped][j as usize % 2],
            config: serde_json::value::RawValue::from_string(format!(
                r#"{{"command":"mcp-demo","args":["--port","{}"],"env":{{"REGION":"eu-{}"}}}}"#,
                9000 + j,
                user % 4
            ))
            .expect("valid JSON"),
            created_at: format_rfc3339_ms(1_767_225_600_000 + j),
            updated_at: format_rfc3339_ms(1_767_225_600_000 + j),
        })
        .collect();
    target_service::api::to_json_bytes(&ServerPage {
        items,
        page: 1,
        per_page: PER_PAGE,
        total: i64::from(PER_PAGE),
    })
    .expect("a page serializes")
}

async fn never_loads() -> Result<Bytes> {
    unreachable!("a hit never loads")
}

fn l4_cache_hit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    // The service caps the TTL at 60 s; an hour here only keeps a long
    // measurement all hits. Moka checks the expiry on every get either way.
    let config = Config {
        l4_ttl: Duration::from_secs(3600),
        ..Config::default()
    };
    let cache = Cache::new(&config, Telemetry::new()).expect("a cache without Redis");
    let filter = ServerFilter::default();
    runtime.block_on(async {
        for user in 1..=USERS {
            let page = page_bytes(user);
            let loaded = cache
                .server_page(user, 1, PER_PAGE, &filter, || async { Ok(page) })
                .await
                .expect("loads");
            assert!(loaded.len() > 10_000);
        }
        // Every page is now a hit.
        for user in 1..=USERS {
            cache
                .server_page(user, 1, PER_PAGE, &filter, never_loads)
                .await
                .expect("hits");
        }
    });

    let mut group = c.benchmark_group("service cache");
    group.throughput(Throughput::Elements(1));
    let mut user = 0;
    group.bench_function("L4 hit: Cache::server_page, 100-item page", |b| {
        b.to_async(&runtime).iter(|| {
            user = user % USERS + 1;
            let (cache, filter) = (&cache, &filter);
            async move {
                cache
                    .server_page(black_box(user), 1, PER_PAGE, black_box(filter), never_loads)
                    .await
                    .expect("hits")
            }
        });
    });
    // Part of the above: the SHA-256 filters hash of the key, with its
    // formatting, which every hit computes again.
    group.bench_function("of which: cache::filters_hash", |b| {
        b.iter(|| {
            filters_hash(
                black_box(&filter),
                black_box(PER_PAGE),
                black_box(Generation::Shared(0)),
            )
        });
    });
    group.finish();
}

criterion_group!(benches, l4_cache_hit);
criterion_main!(benches);
