//! Comparisons of fixture runs: a run with itself, the passing run with the
//! failing one both ways, endpoints added and removed, and baselines read
//! from files of each kind.

#[path = "fixtures/generate.rs"]
mod generate;

use std::collections::BTreeSet;

use reports::{
    compare::{
        Baseline, BaselineFigures, CompareRules, Comparison, Metric, RowVerdict, Scope,
        SourceFormat, compare, read_baseline,
    },
    files,
    results::Results,
};

fn compare_runs(baseline: &Results, current: &Results) -> Comparison {
    compare(
        &Baseline::from_results("baseline.json", baseline.clone()),
        current,
        "current.json",
        &CompareRules::default(),
    )
}

/// `(scope, metric)` of every row with `verdict`.
fn rows_judged(comparison: &Comparison, verdict: RowVerdict) -> BTreeSet<(String, Metric)> {
    comparison
        .rows
        .iter()
        .filter(|r| r.verdict == verdict)
        .map(|r| (r.scope.name().to_owned(), r.metric))
        .collect()
}

fn set(rows: &[(&str, Metric)]) -> BTreeSet<(String, Metric)> {
    rows.iter().map(|&(s, m)| (s.to_owned(), m)).collect()
}

/// The fixture's endpoints with fewer judged samples than the rules ask for.
fn small_endpoints(results: &Results) -> Vec<&str> {
    results
        .requests
        .iter()
        .filter(|r| r.judged_window().count < CompareRules::default().min_samples)
        .map(|r| r.name.as_str())
        .collect()
}

#[test]
fn a_run_compared_with_itself_is_clean() {
    let run = generate::passing();
    let comparison = compare_runs(&run, &run);
    assert!(!comparison.has_regression());
    assert_eq!(comparison.improvements().count(), 0);
    assert_eq!(
        comparison.rows.len(),
        (1 + run.requests.len()) * Metric::DEFAULT.len()
    );
    for row in &comparison.rows {
        assert_eq!(row.change, Some(0.0), "{row:?}");
        assert!(
            matches!(
                row.verdict,
                RowVerdict::Unchanged | RowVerdict::NotEnoughSamples
            ),
            "{row:?}"
        );
    }
    // The fixture has endpoints under 1,000 judged samples: the rule is
    // exercised, and only there.
    let small = small_endpoints(&run);
    assert!(!small.is_empty());
    assert_eq!(comparison.too_few_samples(), small);
    assert!(comparison.added().is_empty() && comparison.removed().is_empty());
    assert!(
        comparison
            .to_terminal()
            .starts_with("No regressions against baseline baseline.json ")
    );
}

#[test]
fn the_failing_run_regresses_against_the_passing_one() {
    let (passing, failing) = (generate::passing(), generate::failing());
    let comparison = compare_runs(&passing, &failing);
    assert!(comparison.has_regression());
    // `list_servers` and `get_metrics` are slow throughout, and an
    // incident makes everything twice as slow and fail for 8 s of the
    // judged minute; `health` and `create_server` are too small to judge.
    // The load is the same, so throughput holds.
    assert_eq!(
        rows_judged(&comparison, RowVerdict::Regression),
        set(&[
            ("overall", Metric::P95),
            ("overall", Metric::P99),
            ("overall", Metric::ErrorRate),
            ("list_servers", Metric::P95),
            ("list_servers", Metric::P99),
            ("list_servers", Metric::ErrorRate),
            ("get_server", Metric::P95),
            ("get_server", Metric::P99),
            ("get_server", Metric::ErrorRate),
            ("get_metrics", Metric::P95),
            ("get_metrics", Metric::P99),
            ("get_metrics", Metric::ErrorRate),
        ]),
        "{}",
        comparison.to_terminal()
    );
    assert!(
        comparison
            .rows
            .iter()
            .filter(|r| r.metric == Metric::Rps)
            .all(|r| r.verdict != RowVerdict::Regression)
    );
    for name in small_endpoints(&failing) {
        assert!(
            comparison
                .rows
                .iter()
                .filter(|r| r.scope.name() == name)
                .all(|r| r.verdict == RowVerdict::NotEnoughSamples),
            "{name}"
        );
    }
    let markdown = comparison.to_markdown();
    assert!(
        markdown.starts_with(&format!(
            "❌ **{} regressions** against baseline `baseline.json` (max +10%, floor 2 ms / 10 rps / 0.5 pp, ≥1,000 samples)\n",
            comparison.regressions().count()
        )),
        "{markdown}"
    );

    // The other way round, the same rows are improvements and nothing fails.
    let back = compare_runs(&failing, &passing);
    assert!(!back.has_regression());
    assert_eq!(
        rows_judged(&back, RowVerdict::Improvement),
        rows_judged(&comparison, RowVerdict::Regression)
    );
}

#[test]
fn endpoints_in_one_run_only_are_listed_not_judged() {
    let baseline = generate::passing();
    let mut current = baseline.clone();
    current.requests.retain(|r| r.name != "get_metrics");
    current.requests[0].name = "healthz".to_owned();
    let comparison = compare_runs(&baseline, &current);
    assert!(!comparison.has_regression());
    assert_eq!(comparison.added(), ["healthz"]);
    assert_eq!(comparison.removed(), ["health", "get_metrics"]);
    for row in &comparison.rows {
        let one_sided = ["healthz", "health", "get_metrics"].contains(&row.scope.name());
        assert_eq!(row.verdict == RowVerdict::Missing, one_sided, "{row:?}");
    }
    // Added endpoints keep the current run's order; removed ones follow.
    let scopes: Vec<&str> = comparison
        .rows
        .iter()
        .map(|r| r.scope.name())
        .filter(|s| s != &"overall")
        .collect::<Vec<_>>()
        .chunks(Metric::DEFAULT.len())
        .map(|c| c[0])
        .collect();
    assert_eq!(
        scopes,
        [
            "healthz",
            "list_servers",
            "create_server",
            "get_server",
            "health",
            "get_metrics"
        ]
    );
    let text = comparison.to_terminal();
    assert!(
        text.contains("Only in the current run (added): healthz.\n"),
        "{text}"
    );
    assert!(
        text.contains("Only in the baseline (removed): health, get_metrics.\n"),
        "{text}"
    );
    assert!(
        !text.contains("\nhealthz "),
        "one-sided endpoints stay out of the table"
    );
}

#[test]
fn baselines_are_read_by_shape() {
    let dir = tempfile::tempdir().unwrap();
    let run = generate::passing();

    let loadgate = dir.path().join(files::RESULTS);
    run.write_atomic(&loadgate).unwrap();
    let baseline = read_baseline(&loadgate).unwrap();
    assert_eq!(baseline.label.format, SourceFormat::Loadgate);
    assert_eq!(baseline.label.source, loadgate.display().to_string());
    assert!(matches!(baseline.figures, BaselineFigures::Loadgate(_)));
    let comparison = compare(&baseline, &run, "current.json", &CompareRules::default());
    assert!(!comparison.has_regression());

    // A k6 summary of a run twice as slow at p95, with the p99 left out.
    let overall = run.overall.judged_window();
    let k6 = dir.path().join("k6-summary.json");
    std::fs::write(
        &k6,
        format!(
            r#"{{"root_group": {{"name": "", "path": "", "id": "x", "groups": {{}}, "checks": {{}}}},
                "metrics": {{
                    "http_req_duration": {{"avg": 50.0, "min": 1.0, "med": {}, "max": 900.0, "p(90)": 100.0, "p(95)": {}}},
                    "http_req_failed": {{"passes": 0, "fails": {n}, "value": 0}},
                    "http_reqs": {{"count": {n}, "rate": {}}}
                }}}}"#,
            overall.latency.p50_us as f64 / 1000.0,
            overall.latency.p95_us as f64 / 500.0,
            overall.rps,
            n = overall.count,
        ),
    )
    .unwrap();
    let baseline = read_baseline(&k6).unwrap();
    assert_eq!(baseline.label.format, SourceFormat::K6);
    let comparison = compare(&baseline, &run, "current.json", &CompareRules::default());
    // Overall only: the current run's endpoints are not "added".
    assert!(comparison.rows.iter().all(|r| r.scope == Scope::Overall));
    assert!(comparison.added().is_empty());
    let verdicts: Vec<(Metric, RowVerdict)> = comparison
        .rows
        .iter()
        .map(|r| (r.metric, r.verdict))
        .collect();
    assert_eq!(
        verdicts,
        [
            (Metric::P95, RowVerdict::Improvement),
            (Metric::P99, RowVerdict::Missing),
            (Metric::Rps, RowVerdict::Unchanged),
            (Metric::ErrorRate, RowVerdict::Unchanged),
        ]
    );
    let text = comparison.to_terminal();
    assert!(
        text.contains(" (k6 summary, overall only) "),
        "the headline says what the baseline is: {text}"
    );
    assert!(text.contains("not in baseline"), "{text}");

    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "[1, 2, 3]").unwrap();
    let err = read_baseline(&junk).unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("{}: not a baseline", junk.display())),
        "{err}"
    );
}

#[test]
fn the_html_fragment_is_self_contained() {
    let comparison = compare_runs(&generate::passing(), &generate::failing());
    let html = comparison.to_html();
    assert!(html.starts_with("<section") && html.ends_with("</section>\n"));
    for reference in ["src=", "href=", "url(", "<script", "<link", "<style"] {
        assert!(!html.contains(reference), "{reference} in {html}");
    }
    assert_eq!(
        html.matches("class=\"num regression\"").count(),
        comparison.regressions().count()
    );
}
