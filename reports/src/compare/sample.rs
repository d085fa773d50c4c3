//! A comparison made by hand, for the tests of the comparison and of each
//! format that renders it.

use super::{CompareRules, Comparison, Figures, Metric, RunLabel, Scope, SourceFormat, row};
use crate::results::LatencyOf;

/// A millisecond, in the µs the latency figures are in.
const MS: f64 = 1000.0;

/// The figures of a scope with `samples` samples, p50 half of p95 and
/// p99 twice it.
pub(crate) fn figures(samples: u64, p95_ms: f64, rps: f64, error_rate: f64) -> Figures {
    Figures {
        samples,
        p50_us: Some(p95_ms * MS / 2.0),
        p95_us: Some(p95_ms * MS),
        p99_us: Some(p95_ms * MS * 2.0),
        rps: Some(rps),
        error_rate: Some(error_rate),
    }
}

/// A comparison made by hand: overall regressed, `get <b>` improved,
/// `tiny` too small to judge, `new` added and `gone` removed.
pub(crate) fn comparison() -> Comparison {
    let r = CompareRules {
        metrics: vec![Metric::P95, Metric::ErrorRate],
        ..CompareRules::default()
    };
    let endpoint = |name: &str| Scope::Endpoint(name.to_owned());
    let a = figures(9_000, 100.0, 150.0, 0.001);
    let b = figures(9_000, 150.0, 150.0, 0.02);
    let fast = figures(4_000, 80.0, 60.0, 0.0);
    let tiny = figures(900, 10.0, 15.0, 0.0);
    let mut rows = Vec::new();
    for (scope, before, after) in [
        (Scope::Overall, Some(a), Some(b)),
        (endpoint("get <b>"), Some(a), Some(fast)),
        (
            endpoint("tiny"),
            Some(tiny),
            Some(figures(900, 50.0, 15.0, 0.5)),
        ),
        (endpoint("new"), None, Some(a)),
        (endpoint("gone"), Some(a), None),
    ] {
        for &metric in &r.metrics {
            rows.push(row(&r, scope.clone(), metric, before, after));
        }
    }
    Comparison {
        rows,
        baseline: RunLabel {
            source: "runs/base/results.json".into(),
            format: SourceFormat::Loadgate,
            tool: "loadgate 0.1.0".into(),
            scenario: Some("Normal load".into()),
            started_at: Some("2025-06-01T09:00:00Z".into()),
            latency_of: LatencyOf::All,
        },
        current: RunLabel {
            source: "runs/now/results.json".into(),
            format: SourceFormat::Loadgate,
            tool: "loadgate 0.1.0".into(),
            scenario: Some("Normal load".into()),
            started_at: Some("2025-06-02T09:00:00Z".into()),
            latency_of: LatencyOf::All,
        },
        rules: r,
    }
}

/// Asserts two texts are equal, printing both whole when not.
pub(crate) fn same_text(actual: &str, expected: &str) {
    assert!(
        actual == expected,
        "\n--- expected ---\n{expected}\n--- actual ---\n{actual}\n---"
    );
}
