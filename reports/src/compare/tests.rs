use super::{
    sample::{self, figures},
    *,
};
use crate::histogram;

fn rules() -> CompareRules {
    CompareRules::default()
}

#[test]
fn too_few_samples_is_never_a_regression() {
    let r = rules();
    let few = figures(999, 100.0, 150.0, 0.0);
    let many = figures(50_000, 900.0, 10.0, 0.5);
    for metric in Metric::ALL {
        let forward = row(&r, Scope::Overall, metric, Some(few), Some(many));
        let back = row(&r, Scope::Overall, metric, Some(many), Some(few));
        assert_eq!(forward.verdict, RowVerdict::NotEnoughSamples, "{metric}");
        assert_eq!(back.verdict, RowVerdict::NotEnoughSamples, "{metric}");
    }
    let enough = figures(1_000, 100.0, 150.0, 0.0);
    let judged = row(&r, Scope::Overall, Metric::P95, Some(enough), Some(many));
    assert_eq!(judged.verdict, RowVerdict::Regression);
    assert_eq!(judged.change, Some(8.0));
    // The threshold is the rules'.
    let lenient = CompareRules {
        min_samples: 10,
        ..rules()
    };
    let judged = row(&lenient, Scope::Overall, Metric::P95, Some(few), Some(many));
    assert_eq!(judged.verdict, RowVerdict::Regression);
}

#[test]
fn changes_are_relative_to_the_baseline() {
    let r = rules();
    let (a, b) = (
        figures(5_000, 100.0, 150.0, 0.0),
        figures(5_000, 150.0, 120.0, 0.02),
    );
    let p95 = row(&r, Scope::Overall, Metric::P95, Some(a), Some(b));
    assert_eq!(p95.change, Some(0.5));
    assert_eq!(p95.change_text(), "+50% (+50 ms)");
    let rps = row(&r, Scope::Overall, Metric::Rps, Some(a), Some(b));
    assert_eq!(rps.change, Some(-0.2));
    assert_eq!(rps.change_text(), "-20% (-30 rps)");
    // No relative change from 0: the difference alone.
    let errors = row(&r, Scope::Overall, Metric::ErrorRate, Some(a), Some(b));
    assert_eq!(errors.change, None);
    assert_eq!(errors.change_text(), "+2 pp");
    assert_eq!(errors.verdict, RowVerdict::Regression);
    let same = row(&r, Scope::Overall, Metric::ErrorRate, Some(a), Some(a));
    assert_eq!(same.change, Some(0.0));
    assert_eq!(same.change_text(), "±0% (±0 pp)");
    assert_eq!(same.verdict, RowVerdict::Unchanged);
}

#[test]
fn a_side_without_the_scope_or_the_figure_is_missing() {
    let r = rules();
    let a = figures(5_000, 100.0, 150.0, 0.0);
    let added = row(
        &r,
        Scope::Endpoint("new".into()),
        Metric::P95,
        None,
        Some(a),
    );
    assert_eq!(
        (
            added.verdict,
            added.baseline,
            added.baseline_samples,
            added.change
        ),
        (RowVerdict::Missing, None, None, None)
    );
    let removed = row(
        &r,
        Scope::Endpoint("old".into()),
        Metric::P95,
        Some(a),
        None,
    );
    assert_eq!(
        (removed.verdict, removed.current_samples),
        (RowVerdict::Missing, None)
    );
    let no_p99 = Figures { p99_us: None, ..a };
    let partial = row(&r, Scope::Overall, Metric::P99, Some(no_p99), Some(a));
    assert_eq!(
        (partial.verdict, partial.baseline_samples),
        (RowVerdict::Missing, Some(5_000))
    );
    // NaN (goose writes `null` rates) is no figure.
    let nan = Figures {
        rps: Some(f64::NAN),
        ..a
    };
    assert_eq!(
        row(&r, Scope::Overall, Metric::Rps, Some(nan), Some(a)).verdict,
        RowVerdict::Missing
    );
}

#[test]
fn an_empty_window_has_no_figures_and_is_not_judged() {
    let empty = Window {
        count: 0,
        errors: Default::default(),
        duration_ms: 10_000,
        rps: 0.0,
        error_rate: 0.0,
        latency: Default::default(),
        histogram: String::new(),
        service_latency: None,
        service_histogram: None,
        ok: None,
        failed: None,
    };
    let none = Figures::of(&empty, LatencyOf::All);
    assert_eq!(
        none,
        Figures {
            samples: 0,
            ..Figures::default()
        }
    );
    // Not "0 ms, -100%": too few samples, with no value to show.
    let before = figures(5_000, 100.0, 150.0, 0.0);
    for metric in Metric::ALL {
        let gone = row(&rules(), Scope::Overall, metric, Some(before), Some(none));
        assert_eq!(gone.verdict, RowVerdict::NotEnoughSamples, "{metric}");
        assert_eq!((gone.current, gone.change), (None, None), "{metric}");
        assert_eq!(gone.change_text(), "–");
    }
}

#[test]
fn the_comparison_knows_its_scopes() {
    let c = sample::comparison();
    assert!(c.has_regression());
    assert_eq!(c.regressions().count(), 2);
    assert_eq!(c.improvements().count(), 1);
    assert_eq!(c.added(), ["new"]);
    assert_eq!(c.removed(), ["gone"]);
    assert_eq!(c.too_few_samples(), ["tiny"]);
}

#[test]
fn no_regression_reads_as_such() {
    let mut c = sample::comparison();
    c.rows
        .retain(|r| r.verdict != RowVerdict::Regression && r.verdict != RowVerdict::Improvement);
    assert!(!c.has_regression());
    assert!(
        c.to_terminal()
            .starts_with("No regressions against baseline ")
    );
    assert!(
        c.to_markdown()
            .starts_with("✅ **No regressions** against baseline ")
    );
    assert!(c.to_html().contains("✓ No regressions"));
}

#[test]
fn a_baseline_judged_on_other_latencies_is_flagged_and_each_side_read_on_its_own() {
    let mut ok = histogram::new_histogram();
    let mut failed = histogram::new_histogram();
    for _ in 0..90 {
        ok.record(100_000).unwrap();
    }
    for _ in 0..10 {
        failed.record(1_000).unwrap();
    }
    let errors = crate::results::ErrorCounts {
        status: 10,
        ..Default::default()
    };
    let latencies = crate::results::Latencies {
        ok: &ok,
        failed: &failed,
        service: None,
    };
    let window = Window::of(100, errors, 10_000_000, latencies);
    // Fast 503s pull the whole's p50 nowhere, but its p95 not at all and
    // its p10 down; the successful alone are all 100 ms.
    let all = Figures::of(&window, LatencyOf::All);
    let only_ok = Figures::of(&window, LatencyOf::Ok);
    assert_eq!(only_ok.p50_us, Some(100_031.0));
    assert_eq!(
        all.error_rate, only_ok.error_rate,
        "errors count either way"
    );
    assert_eq!(all.samples, only_ok.samples);

    let mut comparison = sample::comparison();
    assert_eq!(comparison.latency_of_note(), None);
    comparison.current.latency_of = LatencyOf::Ok;
    let note = comparison.latency_of_note().expect("flagged");
    assert!(
        note.contains(
            "the baseline's are every request's, the current run's successful requests' alone"
        ),
        "{note}"
    );
    assert!(comparison.notes(str::to_owned).contains(&note));
}
