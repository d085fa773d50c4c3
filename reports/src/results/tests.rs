use std::{fs, path::Path};

use super::*;

#[test]
fn committed_schema_matches_the_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("results.schema.json");
    let generated = json_schema_text();
    if std::env::var_os("LOADGATE_BLESS").is_some() {
        fs::write(&path, &generated).unwrap();
    }
    let committed = fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "reports/results.schema.json is stale; regenerate it with\n  \
         LOADGATE_BLESS=1 cargo test -p reports --lib committed_schema_matches_the_types"
    );
}

#[test]
fn budgets_hold_in_the_right_direction() {
    assert!(BudgetMetric::P95.holds(100.0, 100.0));
    assert!(!BudgetMetric::P95.holds(101.0, 100.0));
    assert!(BudgetMetric::MinRps.holds(100.0, 100.0));
    assert!(!BudgetMetric::MinRps.holds(99.0, 100.0));
    assert!(!BudgetMetric::MaxErrorRate.holds(0.02, 0.01));
}

#[test]
fn other_versions_and_formats_are_refused() {
    let err =
        Results::parse("r.json", r#"{"format": "loadgate-results", "version": 99}"#).unwrap_err();
    assert_eq!(
        err.to_string(),
        "r.json: results format version 99 is not supported (this loadgate reads versions 1 to 7)"
    );
    assert!(matches!(
        Results::parse("r.json", "[1, 2]"),
        Err(ResultsError::Parse { .. })
    ));
}

#[test]
fn atomic_writes_replace_the_whole_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(crate::files::RESULTS);
    write_file_atomic(&path, b"first, longer content").unwrap();
    write_file_atomic(&path, b"second").unwrap();
    assert_eq!(fs::read(&path).unwrap(), b"second");
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary left"
    );
}
