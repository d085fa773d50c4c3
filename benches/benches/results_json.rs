//! What writing and reading a 4-hour `results.json` costs in JSON alone:
//! `loadgate run` serializes its `reports::results::Results` once at the
//! end of every run (`Results::write_atomic`: `serde_json::to_vec_pretty`,
//! then a temporary file and a rename), and `loadgate report` / `compare`
//! parse it back (`Results::read`: the file, then `Results::parse`, which
//! checks the format and version and deserializes). The results file is the
//! seam between running and reporting, and a 4-hour run is its largest
//! common case: 14,400 one-second intervals and five endpoints, each with
//! HDR histograms.
//!
//! The input is the 4-hour endurance run of
//! `reports/tests/fixtures/generate.rs`, as the render bench uses. File I/O
//! is left out on purpose: it depends on the disk, not on this code.
//! Throughput is bytes of pretty JSON per second. The header pass that
//! `Results::parse` makes before the full one is also measured alone.
//!
//! `cargo bench -p benches --bench results_json`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use reports::results::Results;

#[path = "../../reports/tests/fixtures/generate.rs"]
mod generate;

fn results_json(c: &mut Criterion) {
    let results = generate::endurance();
    assert_eq!(results.series.len(), 14_400, "a 4-hour run");
    let text = String::from_utf8(serde_json::to_vec_pretty(&results).expect("results serialize"))
        .expect("JSON is UTF-8");
    // Not `assert_eq!(parsed, results)`: serde_json without its
    // `float_roundtrip` feature may read a float back one ULP off.
    let parsed = Results::parse("results.json", &text).expect("parses back");
    assert_eq!(parsed.series, results.series);
    assert_eq!(parsed.requests.len(), results.requests.len());

    let mut group = c.benchmark_group("results.json 4h");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("serialize (to_vec_pretty, as write_atomic)", |b| {
        b.iter(|| serde_json::to_vec_pretty(black_box(&results)).expect("results serialize"));
    });
    group.bench_function("deserialize (Results::parse, as read)", |b| {
        b.iter(|| Results::parse("results.json", black_box(&text)).expect("parses"));
    });
    // `Results::parse` reads the document twice: once for this header (which
    // still walks every byte, skipping what it ignores), then in full.
    group.bench_function("of which: the format/version header pass", |b| {
        #[derive(serde::Deserialize)]
        struct Header {
            #[allow(dead_code)]
            format: String,
            version: u32,
        }
        b.iter(|| {
            serde_json::from_str::<Header>(black_box(&text))
                .expect("parses")
                .version
        });
    });
    group.finish();
}

criterion_group!(benches, results_json);
criterion_main!(benches);
