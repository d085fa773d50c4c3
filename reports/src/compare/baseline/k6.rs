//! k6's end-of-test summary as a baseline: the whole run only.

use serde_json::Value;

use super::{Baseline, BaselineError, BaselineFigures, SourceFormat};
use crate::{
    compare::{Figures, RunLabel},
    results::LatencyOf,
};

/// The metrics of `root` when it has the shape of a k6 summary: HTTP
/// metrics, or the `root_group` every summary has.
pub(super) fn metrics(root: &Value) -> Option<&serde_json::Map<String, Value>> {
    let metrics = root.get("metrics").and_then(Value::as_object)?;
    let k6 = metrics.contains_key("http_reqs")
        || metrics.contains_key("http_req_duration")
        || root.get("root_group").is_some();
    k6.then_some(metrics)
}

/// Reads k6's end-of-test summary. Two shapes carry the same numbers (k6's
/// `js/summary.go` builds them, `js/summary-wrapper.js` flattens them for
/// `--summary-export`):
///
/// * `--summary-export`: `metrics.<name>` holds the values itself, and a
///   rate metric's `rate` is renamed `value`: `"http_req_duration": {"avg":
///   …, "med": …, "p(95)": …}`, `"http_req_failed": {"passes": 3, "fails":
///   997, "value": 0.003}`;
/// * `handleSummary`'s data: `metrics.<name>.values` holds them, with
///   `rate`.
///
/// Trend values of time metrics are in ms. `p(99)` is there only when
/// `--summary-trend-stats` asks for it. A rate metric's `passes` counts
/// its true samples: for `http_req_failed`, the failed requests.
pub(super) fn read(
    source: &str,
    metrics: &serde_json::Map<String, Value>,
) -> Result<Baseline, BaselineError> {
    let incomplete = |problem: &str| BaselineError::Incomplete {
        path: source.to_owned(),
        format: SourceFormat::K6,
        problem: problem.to_owned(),
    };
    let values = |name: &str| {
        metrics
            .get(name)
            .map(|m| m.get("values").filter(|v| v.is_object()).unwrap_or(m))
    };
    let number = |metric: Option<&Value>, key: &str| metric?.get(key)?.as_f64();

    let requests = values("http_reqs").ok_or_else(|| {
        incomplete("has no `http_reqs` metric (did the test make HTTP requests?)")
    })?;
    let samples = number(Some(requests), "count")
        .filter(|c| c.is_finite() && *c >= 0.0)
        .ok_or_else(|| incomplete("has no `http_reqs` count"))? as u64;
    let duration = values("http_req_duration");
    let ms = |key: &str| number(duration, key).map(|ms| ms * 1000.0);
    let failed = values("http_req_failed");
    let error_rate = number(failed, "value")
        .or_else(|| number(failed, "rate"))
        .or_else(|| {
            let (passes, fails) = (number(failed, "passes")?, number(failed, "fails")?);
            (passes + fails > 0.0).then(|| passes / (passes + fails))
        });
    Ok(Baseline {
        label: RunLabel {
            source: source.to_owned(),
            format: SourceFormat::K6,
            tool: "k6".to_owned(),
            scenario: None,
            started_at: None,
            latency_of: LatencyOf::All,
        },
        figures: BaselineFigures::Overall(Figures {
            samples,
            p50_us: ms("med").or_else(|| ms("p(50)")),
            p95_us: ms("p(95)"),
            p99_us: ms("p(99)"),
            rps: number(Some(requests), "rate"),
            error_rate,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::baseline::BaselineFigures;

    /// A k6 `--summary-export` file: the shape `js/summary-wrapper.js`
    /// (`oldJSONSummary`) writes from `js/summary.go`'s values in
    /// grafana/k6, trimmed to a few metrics. Times in ms; `p(99)` is there
    /// because the run asked for it with `--summary-trend-stats`.
    const K6_SUMMARY_EXPORT: &str = r#"{
        "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e", "groups": {}, "checks": {}},
        "metrics": {
            "http_req_duration": {
                "avg": 144.56, "min": 104.11, "med": 110.47, "max": 1140.2,
                "p(90)": 203.54, "p(95)": 215.95, "p(99)": 480.5,
                "thresholds": {"p(95)<500": false}
            },
            "http_req_failed": {"passes": 9, "fails": 1791, "value": 0.005},
            "http_reqs": {"count": 1800, "rate": 43.6938},
            "vus": {"value": 1, "min": 1, "max": 19}
        }
    }"#;

    #[test]
    fn a_k6_summary_export_is_an_overall_baseline() {
        let baseline = Baseline::parse("k6.json", K6_SUMMARY_EXPORT).unwrap();
        assert_eq!(baseline.label.format, SourceFormat::K6);
        assert_eq!(baseline.label.tool, "k6");
        let BaselineFigures::Overall(f) = baseline.figures else {
            panic!("k6 is overall only")
        };
        assert_eq!(f.samples, 1800);
        assert_eq!(f.p50_us, Some(110_470.0));
        assert_eq!(f.p95_us, Some(215_950.0));
        assert_eq!(f.p99_us, Some(480_500.0));
        assert_eq!(f.rps, Some(43.6938));
        assert_eq!(f.error_rate, Some(0.005));
    }

    #[test]
    fn a_k6_handle_summary_file_reads_the_same() {
        // `handleSummary`'s data written as JSON: the values under
        // `values`, a rate as `rate`; no `p(99)` with the default trend stats.
        let text = r#"{
            "root_group": {"name": "", "path": "", "id": "x", "groups": [], "checks": []},
            "options": {"summaryTrendStats": ["avg", "min", "med", "max", "p(90)", "p(95)"], "summaryTimeUnit": ""},
            "metrics": {
                "http_req_duration": {"type": "trend", "contains": "time",
                    "values": {"avg": 12.5, "min": 1.0, "med": 10.0, "max": 90.0, "p(90)": 20.0, "p(95)": 25.0}},
                "http_req_failed": {"type": "rate", "contains": "default",
                    "values": {"rate": 0.25, "passes": 250, "fails": 750}},
                "http_reqs": {"type": "counter", "contains": "default",
                    "values": {"count": 1000, "rate": 100.0}}
            }
        }"#;
        let baseline = Baseline::parse("summary.json", text).unwrap();
        let BaselineFigures::Overall(f) = baseline.figures else {
            panic!("k6 is overall only")
        };
        assert_eq!(
            f,
            Figures {
                samples: 1000,
                p50_us: Some(10_000.0),
                p95_us: Some(25_000.0),
                p99_us: None,
                rps: Some(100.0),
                error_rate: Some(0.25),
            }
        );
        // Before `http_req_failed` had a rate, `passes` (failed requests)
        // over all of its samples.
        let old = r#"{"metrics": {"http_reqs": {"count": 10, "rate": 1.0},
            "http_req_failed": {"passes": 1, "fails": 9}}}"#;
        let BaselineFigures::Overall(f) = Baseline::parse("old.json", old).unwrap().figures else {
            panic!("k6 is overall only")
        };
        assert_eq!(f.error_rate, Some(0.1));
        assert_eq!(f.p95_us, None);
    }

    #[test]
    fn a_k6_summary_without_requests_is_refused() {
        let text = r#"{"root_group": {}, "metrics": {"iterations": {"count": 3, "rate": 1.0}}}"#;
        assert_eq!(
            Baseline::parse("k6.json", text).unwrap_err().to_string(),
            "k6.json: k6 summary has no `http_reqs` metric (did the test make HTTP requests?)"
        );
    }
}
