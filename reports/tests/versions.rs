//! Older results files keep reading: a version 1 file (written before the
//! open model) reads, renders, and lacks only what versions 2 and 3 added;
//! a version 3 file lacks only what version 4 added, and a version 4 file
//! what version 5 added.

use std::path::Path;

use reports::results::{LatencyBasis, Results};

#[test]
fn a_version_1_results_file_still_reads_and_renders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-passing.json");
    let results = Results::read(&path).expect("version 1 reads");
    assert_eq!(results.version, 1);
    assert!(results.arrivals.is_none());
    assert!(results.overall.all.service_latency.is_none());
    // Nor anything of version 3.
    assert_eq!(results.run.latency_basis, LatencyBasis::Sent);
    assert!(results.server.is_none() && results.generator.is_none());
    assert!(results.requests.iter().all(|r| r.phases.is_none()));
    assert!(results.budgets.iter().all(|b| b.abort.is_none()));
    // Nor anything of version 4.
    assert_eq!(results.overall.all.errors.dropped, 0);
    let dir = tempfile::tempdir().unwrap();
    let rendered = reports::render_all(&results, dir.path()).expect("version 1 renders");
    assert_eq!(rendered.charts.len(), 4, "no generator or server chart");
    let html = std::fs::read_to_string(&rendered.html).unwrap();
    assert!(html.contains("Latencies count from each request&#39;s send"));
    assert!(html.contains("from a version 1 results file"));
    for absent in ["<h2>Server</h2>", "Where the time goes", "role=\"alert\""] {
        assert!(!html.contains(absent), "{absent}");
    }
    let summary = std::fs::read_to_string(&rendered.summary).unwrap();
    assert!(summary.contains("**Latency basis:** from each request's send"));
    let junit = std::fs::read_to_string(&rendered.junit).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), results.budgets.len());
}

#[test]
fn a_version_3_results_file_still_reads_and_renders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3-paced.json");
    let results = Results::read(&path).expect("version 3 reads");
    assert_eq!(results.version, 3);
    // What version 4 added is absent, and the saturation it was written
    // with (above 85% of all cores) is kept as written.
    let generator = results.generator.as_ref().expect("version 3 has the CPU");
    assert_eq!(generator.thread_cpu_max, None);
    assert!(generator.saturated_seconds > 0);
    assert!(
        results
            .series
            .iter()
            .all(|s| s.generator_thread_cpu.is_none()
                && s.start_lag_p99_us.is_none()
                && s.errors.dropped == 0)
    );
    let dir = tempfile::tempdir().unwrap();
    let rendered = reports::render_all(&results, dir.path()).expect("version 3 renders");
    let html = std::fs::read_to_string(&rendered.html).unwrap();
    assert!(html.contains("from a version 3 results file"));
    assert!(
        html.contains("saturated (above 85% of all cores)"),
        "the old rule, as written"
    );
}

/// An open-model file of version 3: its `arrivals` have none of the
/// judged counts, start lag or waiting that version 4 added, and its error
/// counts no `dropped`; it reads, with those absent, and renders.
#[test]
fn a_version_3_open_model_file_still_reads_and_renders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v3-open.json");
    let results = Results::read(&path).expect("a version 3 open-model file reads");
    assert_eq!(results.version, 3);
    let arrivals = results
        .arrivals
        .as_ref()
        .expect("an open model has arrivals");
    assert_eq!(arrivals.intended, 500);
    assert_eq!(arrivals.started + arrivals.dropped, arrivals.intended);
    assert!(arrivals.start_lag.is_none() && arrivals.waiting_for_users.is_none());
    assert_eq!(results.overall.all.errors.dropped, 0);
    assert_eq!(results.overall.all.attempts(), results.overall.all.count);
    let dir = tempfile::tempdir().unwrap();
    reports::render_all(&results, dir.path()).expect("version 3 open model renders");
}

/// A paced file of version 4: its correction was made per request, and it
/// says nothing of whether the server's count was checked; it reads and
/// renders as written.
#[test]
fn a_version_4_results_file_still_reads_and_renders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v4-paced.json");
    let results = Results::read(&path).expect("version 4 reads");
    assert_eq!(results.version, 4);
    assert!(matches!(
        results.run.latency_basis,
        LatencyBasis::Corrected { .. }
    ));
    let server = results.server.as_ref().expect("version 4 has the scrape");
    assert_eq!(server.count_unchecked, None);
    let dir = tempfile::tempdir().unwrap();
    let rendered = reports::render_all(&results, dir.path()).expect("version 4 renders");
    let html = std::fs::read_to_string(&rendered.html).unwrap();
    assert!(html.contains("from a version 4 results file"));
}

/// A version 5 file: latencies of every request together, none apart by
/// outcome and no per-second histograms. It judges as `all`, its terminal
/// table has no by-outcome line, and its interval log has one interval for
/// the whole run and says why.
#[test]
fn a_version_5_results_file_still_reads_and_renders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v5-passing.json");
    let results = Results::read(&path).expect("version 5 reads");
    assert_eq!(results.version, 5);
    assert_eq!(results.run.latency_of, reports::results::LatencyOf::All);
    assert!(results.overall.all.ok.is_none() && results.overall.all.failed.is_none());
    assert!(results.series.iter().all(|s| s.histogram.is_none()));
    let table = reports::terminal::verdict_table(&results);
    assert!(!table.contains("successful ("), "{table}");
    let dir = tempfile::tempdir().unwrap();
    let rendered = reports::render_all(&results, dir.path()).expect("version 5 renders");
    let html = std::fs::read_to_string(&rendered.html).unwrap();
    assert!(html.contains("from a version 5 results file"));
    assert!(!html.contains("Latency by outcome"));
    let hlog = std::fs::read_to_string(&rendered.hlog).unwrap();
    assert!(hlog.contains("older than version 6"), "{hlog}");
    let untagged = hlog
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("Tag=") && !l.starts_with("\"Start"))
        .count();
    assert_eq!(untagged, 1, "{hlog}");
}

/// A version 6 file: no shard metadata, no phase or arrival histograms,
/// no server readings. It reads and renders as it was written.
#[test]
fn a_version_6_results_file_still_reads_and_renders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v6-passing.json");
    let results = Results::read(&path).expect("version 6 reads");
    assert_eq!(results.version, 6);
    assert_eq!(
        (results.run.run_id.as_ref(), results.run.shard),
        (None, None)
    );
    assert!(
        results
            .overall
            .phases
            .iter()
            .all(|p| p.histograms.is_none())
    );
    assert!(results.server.iter().all(|s| s.before.is_none()));
    let dir = tempfile::tempdir().unwrap();
    let rendered = reports::render_all(&results, dir.path()).expect("version 6 renders");
    let html = std::fs::read_to_string(&rendered.html).unwrap();
    assert!(
        html.contains("from a version 6 results file"),
        "the report says so"
    );
}
