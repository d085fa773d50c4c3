//! What judging every budget of a run costs: `harness::judge::budget::judge` over
//! the 5-endpoint `scenarios/normal.yaml` (overall p95, p99 and error rate;
//! p50, p95, p99 and a throughput floor for each endpoint: 23 verdicts).
//! It runs once at the end of every run, to decide its exit code; it must
//! stay negligible beside the run itself.
//!
//! The budgets come from the real scenario file through
//! `harness::parse_plan`; the windows from the synthetic passing run of
//! `reports/tests/fixtures/generate.rs`, whose endpoints carry the same
//! names. Windows are looked up by `harness::judge::assemble::judged_window`,
//! as a run looks them up.
//!
//! `cargo bench -p benches --bench judge_budgets`

use std::{hint::black_box, path::Path};

use criterion::{Criterion, criterion_group, criterion_main};
use harness::{
    Vars,
    judge::{
        assemble::judged_window,
        budget::{self, Evidence},
    },
};
use reports::results::EndpointStats;

#[path = "../../reports/tests/fixtures/generate.rs"]
mod generate;

fn judge_budgets(c: &mut Criterion) {
    let plan = harness::parse_plan(
        "scenarios/normal.yaml",
        include_str!("../../scenarios/normal.yaml"),
        Path::new("scenarios"),
        &Vars::new(),
    )
    .expect("the normal scenario is valid");
    assert_eq!(plan.budgets().requests.len(), 5, "a 5-endpoint scenario");
    let results = generate::passing();
    let (overall, requests) = (&results.overall, results.requests.as_slice());

    let judge = |overall: &EndpointStats, requests: &[EndpointStats]| {
        budget::judge(
            plan.budgets(),
            |name| judged_window(overall, requests, name),
            Evidence::default(),
        )
    };
    let verdicts = judge(overall, requests);
    assert!(
        verdicts.len() > 20 && verdicts.iter().all(|v| v.measured.is_some()),
        "every budget finds its window: {verdicts:?}"
    );

    c.bench_function("budget/judge normal.yaml (5 endpoints)", |b| {
        b.iter(|| black_box(judge(black_box(overall), black_box(requests))));
    });
}

criterion_group!(benches, judge_budgets);
criterion_main!(benches);
