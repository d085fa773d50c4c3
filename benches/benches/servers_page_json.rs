//! What encoding a 100-item servers page costs: `GET /api/v1/servers`
//! serializes its `target_service::model::ServerPage` with
//! `serde_json::to_vec` (`api::to_json_bytes`) on every L4 miss, and the
//! largest page the load scenarios ask for holds 100 servers. Compared with
//! a faster JSON crate, so that the choice of encoder rests on a number.
//!
//! * `serde_json::to_vec`: what the service does today.
//! * `serde_json::to_writer`, into a buffer sized from the last page: the
//!   same encoder without the buffer growing by doubling (a possible cheap
//!   change that keeps serde_json).
//! * `sonic_rs::to_vec`: sonic-rs (cloudwego, SIMD JSON). It cannot encode
//!   the service's types as they are: `Server::config` is a serde_json
//!   `RawValue`, whose private serde token sonic-rs does not know, so it
//!   would write `{"$serde_json::private::RawValue": "..."}`. The peer
//!   therefore encodes a mirror of `ServerPage` whose `config` is a
//!   `sonic_rs::OwnedLazyValue` (sonic-rs' raw JSON), the change that
//!   switching would need in `model.rs`; the bench checks that both
//!   produce the same bytes. sonic-rs picks its SIMD width at compile time:
//!   the number is for the workspace's default flags (SSE2), as the service
//!   is built.
//!
//! The page is built like the seeded database's: names, transports,
//! statuses, the seed's config objects, RFC 3339 timestamps. Throughput is
//! bytes of JSON per second.
//!
//! `cargo bench -p benches --bench servers_page_json`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Serialize;
use target_service::model::{Server, ServerPage, Status, Transport, format_rfc3339_ms};

const ITEMS: i64 = 100;

fn config_text(j: i64) -> String {
    format!(
        r#"{{"command":"mcp-demo","args":["--port","{}"],"env":{{"REGION":"eu-{}"}}}}"#,
        9000 + j,
        j % 4
    )
}

fn page() -> ServerPage {
    let items = (1..=ITEMS)
        .map(|j| Server {
            id: 21_000 + j,
            name: format!("demo-server-{j}"),
            transport: [Transport::Stdio, Transport::Http, Transport::Sse][j as usize % 3],
            status: [
                Status::Running,
                Status::Stopped,
                Status::Running,
                Status::Error,
            ][j as usize % 4],
            config: serde_json::value::RawValue::from_string(config_text(j)).expect("valid JSON"),
            created_at: format_rfc3339_ms(1_767_225_600_000 + j * 1_337),
            updated_at: format_rfc3339_ms(1_767_225_600_000 + j * 7_331),
        })
        .collect();
    ServerPage {
        items,
        page: 1,
        per_page: 100,
        total: 137,
    }
}

/// `model::Server` with sonic-rs' raw JSON for `config`.
#[derive(Debug, Serialize)]
struct SonicServer {
    id: i64,
    name: String,
    transport: Transport,
    status: Status,
    config: sonic_rs::OwnedLazyValue,
    created_at: String,
    updated_at: String,
}

/// `model::ServerPage` over [`SonicServer`].
#[derive(Debug, Serialize)]
struct SonicPage {
    items: Vec<SonicServer>,
    page: u32,
    per_page: u32,
    total: i64,
}

fn sonic_page(page: &ServerPage) -> SonicPage {
    SonicPage {
        items: page
            .items
            .iter()
            .map(|s| SonicServer {
                id: s.id,
                name: s.name.clone(),
                transport: s.transport,
                status: s.status,
                config: sonic_rs::from_str(s.config.get()).expect("valid JSON"),
                created_at: s.created_at.clone(),
                updated_at: s.updated_at.clone(),
            })
            .collect(),
        page: page.page,
        per_page: page.per_page,
        total: page.total,
    }
}

fn servers_page_json(c: &mut Criterion) {
    let page = page();
    let sonic = sonic_page(&page);
    let expected = serde_json::to_vec(&page).expect("a page serializes");
    assert_eq!(
        String::from_utf8(sonic_rs::to_vec(&sonic).expect("a page serializes")),
        String::from_utf8(expected.clone()),
        "sonic-rs writes the same bytes"
    );
    assert_eq!(
        target_service::api::to_json_bytes(&page).expect("serializes"),
        expected
    );
    let size = expected.len();

    let mut group = c.benchmark_group("servers page (100 items) to JSON");
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function("serde_json::to_vec", |b| {
        b.iter(|| serde_json::to_vec(black_box(&page)).expect("serializes"));
    });
    group.bench_function("serde_json::to_writer, presized buffer", |b| {
        b.iter(|| {
            let mut out = Vec::with_capacity(black_box(size));
            serde_json::to_writer(&mut out, black_box(&page)).expect("serializes");
            out
        });
    });
    group.bench_function("sonic_rs::to_vec", |b| {
        b.iter(|| sonic_rs::to_vec(black_box(&sonic)).expect("serializes"));
    });
    group.finish();
}

criterion_group!(benches, servers_page_json);
criterion_main!(benches);
