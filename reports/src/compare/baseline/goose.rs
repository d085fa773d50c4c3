//! A goose JSON report as a baseline: the whole run only.

use serde::Deserialize;
use serde_json::Value;

use super::{Baseline, BaselineError, BaselineFigures, SourceFormat};
use crate::{
    compare::{Figures, RunLabel},
    results::LatencyOf,
};

/// Whether `root` has the shape of a goose report: its table of requests.
pub(super) fn recognises(root: &Value) -> bool {
    root.get("raw_request_metrics").is_some_and(Value::is_array)
}

/// The parts of a goose JSON report a comparison reads (goose 0.19
/// `ReportData` flattened with its `RunRecord`; earlier versions lack the
/// record's fields). Times are whole milliseconds, truncated.
#[derive(Deserialize)]
struct GooseReport {
    #[serde(default)]
    goose_version: Option<String>,
    #[serde(default)]
    test: Option<String>,
    #[serde(default)]
    started: Option<String>,
    raw_request_metrics: Vec<GooseRequestRow>,
    raw_response_metrics: Vec<GooseResponseRow>,
}

#[derive(Deserialize)]
struct GooseRequestRow {
    method: String,
    name: String,
    number_of_requests: u64,
    number_of_failures: u64,
    /// `null` when goose had no duration to divide by.
    requests_per_second: Option<f64>,
}

#[derive(Deserialize)]
struct GooseResponseRow {
    method: String,
    name: String,
    percentile_50: u64,
    percentile_95: u64,
    percentile_99: u64,
}

/// The name goose gives the row of every request together (with an empty
/// method).
const GOOSE_AGGREGATED: &str = "Aggregated";

/// Reads a goose report's `Aggregated` rows as a baseline.
pub(super) fn read(source: &str, root: Value) -> Result<Baseline, BaselineError> {
    let incomplete = |problem: String| BaselineError::Incomplete {
        path: source.to_owned(),
        format: SourceFormat::Goose,
        problem,
    };
    let report: GooseReport =
        serde_json::from_value(root).map_err(|e| incomplete(format!("does not read: {e}")))?;
    let requests = report
        .raw_request_metrics
        .iter()
        .find(|r| r.method.is_empty() && r.name == GOOSE_AGGREGATED)
        .ok_or_else(|| incomplete("has no Aggregated row in `raw_request_metrics`".to_owned()))?;
    let responses = report
        .raw_response_metrics
        .iter()
        .find(|r| r.method.is_empty() && r.name == GOOSE_AGGREGATED);
    let ms = |pick: fn(&GooseResponseRow) -> u64| responses.map(|r| pick(r) as f64 * 1000.0);
    let tool = match report.goose_version.filter(|v| !v.is_empty()) {
        Some(version) => format!("goose {version}"),
        None => "goose".to_owned(),
    };
    Ok(Baseline {
        label: RunLabel {
            source: source.to_owned(),
            format: SourceFormat::Goose,
            tool,
            scenario: report.test.filter(|t| !t.is_empty()),
            started_at: report.started,
            latency_of: LatencyOf::All,
        },
        figures: BaselineFigures::Overall(Figures {
            samples: requests.number_of_requests,
            p50_us: ms(|r| r.percentile_50),
            p95_us: ms(|r| r.percentile_95),
            p99_us: ms(|r| r.percentile_99),
            rps: requests.requests_per_second,
            error_rate: (requests.number_of_requests > 0)
                .then(|| requests.number_of_failures as f64 / requests.number_of_requests as f64),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A goose 0.19 JSON report (`--report-file report.json`), trimmed from
    /// goose's own fixture `tests/fixtures/report-main.json` (the shape of
    /// `ReportData` in `src/metrics/common.rs`, flattened with `RunRecord`
    /// from `src/runs.rs`): whole-ms times, an `Aggregated` row with an
    /// empty method closing each table. Failures and the run record added.
    const GOOSE_REPORT: &str = r#"{
        "goose_version": "0.19.0",
        "test": "loadtest",
        "started": "2026-10-21T11:29:22Z",
        "ended": "2026-10-21T11:29:34Z",
        "ended_by": "completed",
        "in_progress": false,
        "raw_metrics": {"hash": 0, "duration": 11, "maximum_users": 4, "total_users": 4},
        "raw_request_metrics": [
            {"method": "GET", "name": "/", "number_of_requests": 900080, "number_of_failures": 90,
             "response_time_average": 0.0, "response_time_minimum": 0, "response_time_maximum": 1,
             "requests_per_second": 81825.45, "failures_per_second": 8.18},
            {"method": "", "name": "Aggregated", "number_of_requests": 900095, "number_of_failures": 90,
             "response_time_average": 0.012473127836506146, "response_time_minimum": 0,
             "response_time_maximum": 1402, "requests_per_second": 81826.82, "failures_per_second": 8.18}
        ],
        "raw_response_metrics": [
            {"method": "GET", "name": "/", "percentile_50": 0, "percentile_60": 0, "percentile_70": 0,
             "percentile_80": 0, "percentile_90": 0, "percentile_95": 0, "percentile_99": 1, "percentile_100": 1},
            {"method": "", "name": "Aggregated", "percentile_50": 1, "percentile_60": 1, "percentile_70": 1,
             "percentile_80": 1, "percentile_90": 2, "percentile_95": 3, "percentile_99": 7, "percentile_100": 1000}
        ],
        "co_request_metrics": null,
        "co_response_metrics": null,
        "scenario_metrics": [],
        "transaction_metrics": [],
        "status_code_metrics": [],
        "errors": null,
        "coordinated_omission_metrics": null
    }"#;

    #[test]
    fn a_goose_report_is_an_overall_baseline() {
        let baseline = Baseline::parse("report.json", GOOSE_REPORT).unwrap();
        assert_eq!(
            baseline.label,
            RunLabel {
                source: "report.json".into(),
                format: SourceFormat::Goose,
                tool: "goose 0.19.0".into(),
                scenario: Some("loadtest".into()),
                started_at: Some("2026-10-21T11:29:22Z".into()),
                latency_of: LatencyOf::All,
            }
        );
        let BaselineFigures::Overall(f) = baseline.figures else {
            panic!("goose is overall only")
        };
        assert_eq!(
            f,
            Figures {
                samples: 900_095,
                p50_us: Some(1_000.0),
                p95_us: Some(3_000.0),
                p99_us: Some(7_000.0),
                rps: Some(81826.82),
                error_rate: Some(90.0 / 900_095.0),
            }
        );
        // A report from before goose kept the run record, with a `null` rate.
        let old = GOOSE_REPORT
            .replace(r#""goose_version": "0.19.0","#, "")
            .replace(
                r#""requests_per_second": 81826.82"#,
                r#""requests_per_second": null"#,
            );
        let baseline = Baseline::parse("old.json", &old).unwrap();
        assert_eq!(baseline.label.tool, "goose");
        let BaselineFigures::Overall(f) = baseline.figures else {
            panic!("goose is overall only")
        };
        assert_eq!(f.rps, None);
    }

    #[test]
    fn a_goose_report_without_its_aggregated_row_is_refused() {
        let text = r#"{"raw_request_metrics": [], "raw_response_metrics": []}"#;
        assert_eq!(
            Baseline::parse("g.json", text).unwrap_err().to_string(),
            "g.json: goose report has no Aggregated row in `raw_request_metrics`"
        );
    }
}
