//! Older results files keep reading: a version 1 file (written before the
//! open model) reads, renders, and lacks only what version 2 added.

use std::path::Path;

use reports::results::Results;

#[test]
fn a_version_1_results_file_still_reads_and_renders() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-passing.json");
    let results = Results::read(&path).expect("version 1 reads");
    assert_eq!(results.version, 1);
    assert!(results.arrivals.is_none());
    assert!(results.overall.all.service_latency.is_none());
    let dir = tempfile::tempdir().unwrap();
    reports::render_all(&results, dir.path()).expect("version 1 renders");
    assert!(dir.path().join("report.html").exists());
}
