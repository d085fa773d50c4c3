//! How long `reports::render_all` takes on a 4-hour endurance result
//! (14,400 one-second intervals, five endpoints): the HTML page, its PNG
//! charts, JUnit and Markdown. `loadgate run` does this at the end of every
//! run, so it must stay well under the 2 s.
//!
//! `cargo bench -p benches --bench render_report`

use criterion::{Criterion, criterion_group, criterion_main};

#[path = "../../reports/tests/fixtures/generate.rs"]
mod generate;

fn render_four_hours(c: &mut Criterion) {
    let results = generate::endurance();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut group = c.benchmark_group("render");
    group.sample_size(10);
    group.bench_function("render_all 4h endurance", |b| {
        b.iter(|| reports::render_all(&results, dir.path()).expect("renders"));
    });
    group.bench_function("html only 4h endurance", |b| {
        b.iter(|| reports::render_html::render(&results));
    });
    group.finish();
}

criterion_group!(benches, render_four_hours);
criterion_main!(benches);
