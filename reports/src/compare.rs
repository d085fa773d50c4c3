//! Comparing a run with a baseline: what `loadgate compare BASELINE CURRENT`
//! and `loadgate run --baseline FILE` report, and whether it fails.
//!
//! * [`read_baseline`] reads a [`Baseline`]: a loadgate results file, or an
//!   overall-only summary from another tool (a k6 `--summary-export` file
//!   or a goose JSON report), recognised by its shape.
//! * [`compare`] matches the baseline's endpoints with the current run's by
//!   name and judges each [`Metric`] of each scope under the
//!   [`CompareRules`], giving a [`Comparison`]: one [`Row`] per scope
//!   (`overall`, then each endpoint) and metric.
//! * [`Comparison::has_regression`] is what the command's exit status
//!   follows; [`Comparison::to_markdown`], [`Comparison::to_html`] and
//!   [`Comparison::to_terminal`] render it for `summary.md`, the HTML report
//!   and stdout.
//!
//! Every figure is taken from each endpoint's judged window (the samples
//! budgets judge, [`EndpointStats::judged_window`]): p50, p95 and p99
//! latency (higher is worse), throughput in requests per second (lower is
//! worse) and the error rate (higher is worse). By default p95, p99, rps
//! and the error rate are compared.
//!
//! # The noise rule
//!
//! Two runs of the same code never measure the same, so a change counts as
//! a **regression** only when all of these hold:
//!
//! 1. it is in the worse direction (latency or error rate up, rps down);
//! 2. it is larger than the relative allowance, `--max-regression`
//!    (default 10% of the baseline value; any change from a baseline of 0
//!    counts as larger);
//! 3. it is larger than the metric's absolute floor: by default 2 ms for
//!    the latency percentiles, 0.5 percentage points for the error rate and
//!    10 requests/s for throughput (so a +30% p99 on a 1 ms endpoint, or an
//!    error rate going from 0.01% to 0.03%, is noise, not a regression);
//! 4. both runs have enough samples for that scope in the judged window: by
//!    default at least 1,000. A scope with fewer in either run is reported
//!    as "too few samples" and is never a regression, whatever its figures.
//!
//! A change as large in the better direction is reported as an
//! **improvement**, which never fails. Anything smaller either way is
//! "within noise". An endpoint found in only one of the two runs is listed
//! as added or removed, never a regression; so is a figure only one side
//! has (a k6 summary without `p(99)`).
//!
//! The throughput floor is in requests per second because that is what a
//! reader compares. 10 rps is a judgement call: well clear of the jitter in
//! the request count of a short window (a 10-second window of 1,000
//! samples varies by about √1000 ≈ 32 requests, 3 rps), and enough to keep
//! an endpoint with a small share of the load from failing on a handful of
//! requests. In a closed model throughput follows latency, which is judged
//! on its own; on an arrival schedule it is set by the schedule, and a drop
//! means arrivals were dropped.
//!
//! # Baselines from other tools
//!
//! A foreign summary covers the whole run only, so only `overall` is
//! compared, and it measured differently: k6's `http_req_duration` leaves
//! out connection set-up and its rates span the whole test, ramps
//! included; goose keeps whole, bucketed milliseconds (its p99 of a 1.4 s
//! request can read `1000`); and on an arrival schedule loadgate counts a
//! request's latency from when it was due. Such a comparison catches large
//! moves; compare with a loadgate baseline for fine ones.

use std::{collections::HashSet, fmt, fs, path::Path};

use serde::Deserialize;
use serde_json::Value;

use crate::{
    escape::xml,
    metric,
    results::{EndpointStats, RESULTS_FORMAT, Results, ResultsError, Window},
    units::{self, percent_change},
};

pub use crate::metric::{Metric, ParseMetricError};

impl Metric {
    /// What is compared unless told otherwise: p50 moves with the bulk of
    /// the load and rarely says more than p95 does.
    pub const DEFAULT: [Metric; 4] = [Metric::P95, Metric::P99, Metric::Rps, Metric::ErrorRate];
}

/// A comma-separated list of metrics (`p95,p99,rps`), each once, in the
/// order given. An empty list is refused: it would compare nothing.
pub fn parse_metrics(text: &str) -> Result<Vec<Metric>, ParseMetricError> {
    let mut metrics = Vec::new();
    for part in text.split(',') {
        let metric: Metric = part.parse()?;
        if !metrics.contains(&metric) {
            metrics.push(metric);
        }
    }
    Ok(metrics)
}

/// An allowance that is not a percentage or a fraction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid allowance `{given}`: {problem}")]
pub struct ParseAllowanceError {
    pub given: String,
    pub problem: &'static str,
}

/// A relative allowance as a fraction: `10%` → 0.1, `0.1` → 0.1,
/// `150%` → 1.5.
///
/// A bare number of 1 or more is refused rather than read as a fraction
/// (`10` would allow +1000%): write `10%`.
pub fn parse_allowance(text: &str) -> Result<f64, ParseAllowanceError> {
    let error = |problem| ParseAllowanceError {
        given: text.to_owned(),
        problem,
    };
    let trimmed = text.trim();
    let (number, percent) = match trimmed.strip_suffix('%') {
        Some(number) => (number.trim_end(), true),
        None => (trimmed, false),
    };
    let value: f64 = number
        .parse()
        .map_err(|_| error("expected a percentage like `10%` or a fraction like `0.1`"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(error("must be a non-negative number"));
    }
    if percent {
        Ok(value / 100.0)
    } else if value >= 1.0 {
        Err(error(
            "a bare number is a fraction and must be below 1; write a percentage like `10%`",
        ))
    } else {
        Ok(value)
    }
}

/// How a comparison judges a change (see the module documentation's noise
/// rule).
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRules {
    /// The largest change in the worse direction, relative to the baseline
    /// value, that is still noise: 0.1 for 10%.
    pub max_regression: f64,
    /// What is compared, in this order.
    pub metrics: Vec<Metric>,
    /// The smallest latency change that can count, µs.
    pub latency_floor_us: u64,
    /// The smallest error-rate change that can count, a fraction (0.005 is
    /// half a percentage point).
    pub error_rate_floor: f64,
    /// The smallest throughput change that can count, requests per second.
    pub rps_floor: f64,
    /// The fewest samples, in each run's judged window, for a scope to be
    /// judged at all.
    pub min_samples: u64,
}

impl Default for CompareRules {
    fn default() -> Self {
        Self {
            max_regression: 0.10,
            metrics: Metric::DEFAULT.to_vec(),
            latency_floor_us: 2_000,
            error_rate_floor: 0.005,
            rps_floor: 10.0,
            min_samples: 1_000,
        }
    }
}

impl CompareRules {
    /// The absolute floor of `metric`, in its unit.
    pub fn floor(&self, metric: Metric) -> f64 {
        match metric {
            Metric::P50 | Metric::P95 | Metric::P99 => self.latency_floor_us as f64,
            Metric::Rps => self.rps_floor,
            Metric::ErrorRate => self.error_rate_floor,
        }
    }

    /// The noise rule for one pair of values, samples aside: a regression
    /// or an improvement when the change exceeds both the relative
    /// allowance and the metric's floor, else unchanged.
    pub fn judge(&self, metric: Metric, baseline: f64, current: f64) -> RowVerdict {
        let worse_by = if metric.higher_is_worse() {
            current - baseline
        } else {
            baseline - current
        };
        let beyond_noise = |change: f64| {
            change > self.floor(metric)
                && (baseline == 0.0 || change / baseline.abs() > self.max_regression)
        };
        if worse_by > 0.0 && beyond_noise(worse_by) {
            RowVerdict::Regression
        } else if worse_by < 0.0 && beyond_noise(-worse_by) {
            RowVerdict::Improvement
        } else {
            RowVerdict::Unchanged
        }
    }

    /// The rules in a few words, for headlines: `max +10%, floor 2 ms /
    /// 10 rps / 0.5 pp, ≥1,000 samples` (only the floors of the metrics
    /// compared).
    pub fn summary(&self) -> String {
        let mut floors: Vec<String> = Vec::new();
        for &metric in &self.metrics {
            let floor = match metric {
                Metric::P50 | Metric::P95 | Metric::P99 => {
                    units::latency_us(self.latency_floor_us as f64)
                }
                Metric::Rps => units::rps(self.rps_floor),
                Metric::ErrorRate => {
                    format!(
                        "{} pp",
                        units::significant(self.error_rate_floor * 100.0, 3)
                    )
                }
            };
            if !floors.contains(&floor) {
                floors.push(floor);
            }
        }
        let mut text = format!(
            "max +{}%",
            units::significant(self.max_regression * 100.0, 3)
        );
        if !floors.is_empty() {
            text.push_str(", floor ");
            text.push_str(&floors.join(" / "));
        }
        text.push_str(&format!(", ≥{} samples", units::count(self.min_samples)));
        text
    }
}

/// The figures of one scope of one run.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    /// Requests in the window (every sample, failed or not).
    pub samples: u64,
    pub p50_us: Option<f64>,
    pub p95_us: Option<f64>,
    pub p99_us: Option<f64>,
    pub rps: Option<f64>,
    pub error_rate: Option<f64>,
}

impl Figures {
    /// The figures of a loadgate window; none but the sample count for an
    /// empty one ([`metric::value`]), so a scope that measured nothing
    /// never compares as 0 ms or 0 rps.
    pub fn of(window: &Window) -> Self {
        let value = |m| metric::value(window, m);
        Self {
            samples: window.count,
            p50_us: value(Metric::P50),
            p95_us: value(Metric::P95),
            p99_us: value(Metric::P99),
            rps: value(Metric::Rps),
            error_rate: value(Metric::ErrorRate),
        }
    }

    /// `metric`'s value, when known and finite.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::P50 => self.p50_us,
            Metric::P95 => self.p95_us,
            Metric::P99 => self.p99_us,
            Metric::Rps => self.rps,
            Metric::ErrorRate => self.error_rate,
        }
        .filter(|v| v.is_finite())
    }
}

/// What kind of file a run was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// A loadgate results file: overall and every endpoint.
    Loadgate,
    /// k6's end-of-test summary: `k6 run --summary-export`, or the data
    /// `handleSummary` receives written as JSON. Overall only.
    K6,
    /// A goose JSON report (`--report-file report.json`). Overall only.
    Goose,
}

impl SourceFormat {
    /// Whether the file has figures for the whole run only.
    pub fn is_overall_only(self) -> bool {
        !matches!(self, SourceFormat::Loadgate)
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Loadgate => "loadgate results",
            SourceFormat::K6 => "k6 summary",
            SourceFormat::Goose => "goose report",
        })
    }
}

/// Which run a side of a comparison is, for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLabel {
    /// The file, as given on the command line (or however the caller names
    /// a run not read from a file).
    pub source: String,
    pub format: SourceFormat,
    /// What produced it: `loadgate 0.1.0`, `k6`, `goose 0.19.0`.
    pub tool: String,
    /// The scenario's name, when the file has one.
    pub scenario: Option<String>,
    /// When the run started (RFC 3339), when the file says.
    pub started_at: Option<String>,
}

impl RunLabel {
    /// The label of a loadgate run read from (or written to) `source`.
    pub fn of_results(source: impl Into<String>, results: &Results) -> Self {
        Self {
            source: source.into(),
            format: SourceFormat::Loadgate,
            tool: format!("{} {}", results.tool.name, results.tool.version),
            scenario: Some(results.scenario.name.clone()),
            started_at: Some(results.run.started_at.clone()),
        }
    }

    /// `tool, scenario, started …` in a line.
    fn details(&self) -> String {
        let mut parts = vec![self.tool.clone()];
        parts.extend(self.scenario.clone());
        if let Some(started) = &self.started_at {
            parts.push(format!("started {started}"));
        }
        parts.join(", ")
    }
}

/// The run compared against.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub label: RunLabel,
    pub figures: BaselineFigures,
}

/// What a baseline measured.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineFigures {
    /// A loadgate run: overall and every endpoint, by name.
    Loadgate(Box<Results>),
    /// Another tool's summary of the whole run.
    Overall(Figures),
}

impl Baseline {
    /// A loadgate run as a baseline; `source` names it in reports.
    pub fn from_results(source: impl Into<String>, results: Results) -> Self {
        Self {
            label: RunLabel::of_results(source, &results),
            figures: BaselineFigures::Loadgate(Box::new(results)),
        }
    }

    /// Reads `text` as a loadgate results file, a k6 summary or a goose
    /// JSON report, whichever its shape is; `source` names it in errors and
    /// reports.
    pub fn parse(source: &str, text: &str) -> Result<Self, BaselineError> {
        let root: Value = serde_json::from_str(text).map_err(|e| BaselineError::Json {
            path: source.to_owned(),
            source: e,
        })?;
        if root.get("format").and_then(Value::as_str) == Some(RESULTS_FORMAT) {
            let results = Results::parse(source, text)?;
            return Ok(Self::from_results(source, results));
        }
        if let Some(metrics) = root.get("metrics").and_then(Value::as_object)
            && (metrics.contains_key("http_reqs")
                || metrics.contains_key("http_req_duration")
                || root.get("root_group").is_some())
        {
            return k6_baseline(source, metrics);
        }
        if root.get("raw_request_metrics").is_some_and(Value::is_array) {
            return goose_baseline(source, root);
        }
        Err(BaselineError::Unrecognized {
            path: source.to_owned(),
        })
    }
}

/// Reads a baseline file: a loadgate results file, a k6 summary
/// (`k6 run --summary-export FILE`) or a goose JSON report
/// (`--report-file report.json`), recognised by shape.
pub fn read_baseline(path: &Path) -> Result<Baseline, BaselineError> {
    let shown = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|source| BaselineError::Io {
        path: shown.clone(),
        source,
    })?;
    Baseline::parse(&shown, &text)
}

/// Reading a baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    /// A loadgate results file that does not read.
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(
        "{path}: not a baseline: expected a loadgate results file, a k6 summary (`k6 run --summary-export`) or a goose JSON report (`--report-file report.json`)"
    )]
    Unrecognized { path: String },
    /// A foreign summary without what every comparison needs.
    #[error("{path}: {format} {problem}")]
    Incomplete {
        path: String,
        format: SourceFormat,
        problem: String,
    },
}

/// k6's end-of-test summary. Two shapes carry the same numbers (k6's
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
fn k6_baseline(
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

fn goose_baseline(source: &str, root: Value) -> Result<Baseline, BaselineError> {
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

/// Which part of a run a row is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every request together.
    Overall,
    /// One request name.
    Endpoint(String),
}

impl Scope {
    /// `overall`, or the request name.
    pub fn name(&self) -> &str {
        match self {
            Scope::Overall => "overall",
            Scope::Endpoint(name) => name,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a row's change amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowVerdict {
    /// Worse beyond both the allowance and the floor: fails the comparison.
    Regression,
    /// Better beyond both: reported, never fails.
    Improvement,
    /// Within noise, either way.
    Unchanged,
    /// One of the runs has fewer than [`CompareRules::min_samples`] samples
    /// for the scope: not judged.
    NotEnoughSamples,
    /// Only one run has the value (an added or removed endpoint, a figure a
    /// foreign summary lacks): not judged.
    Missing,
}

/// One metric of one scope, in both runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub scope: Scope,
    pub metric: Metric,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    /// `(current − baseline) / baseline`; `None` when a side is missing, or
    /// when the baseline is 0 and the current value is not.
    pub change: Option<f64>,
    /// The scope's samples in the baseline; `None` when the baseline does
    /// not have the scope at all.
    pub baseline_samples: Option<u64>,
    /// The scope's samples in the current run; `None` when it does not have
    /// the scope at all.
    pub current_samples: Option<u64>,
    pub verdict: RowVerdict,
}

impl Row {
    /// The change as text: `+15% (+12.3 ms)`, or only the difference when
    /// there is no relative change (from 0); `–` when a side is missing.
    pub fn change_text(&self) -> String {
        let (Some(baseline), Some(current)) = (self.baseline, self.current) else {
            return "–".to_owned();
        };
        let difference = self.metric.format_difference(current - baseline);
        match self.change {
            Some(change) => format!("{} ({difference})", percent_change(change)),
            None => difference,
        }
    }

    /// The change in as few characters as it takes: the relative change,
    /// or the difference when there is none. An error rate's change is
    /// always the difference in points: `+1.2 pp` says more than `+2184%`.
    fn short_change_text(&self) -> String {
        match (self.change, self.baseline, self.current) {
            (Some(change), _, _) if self.metric != Metric::ErrorRate => percent_change(change),
            (_, Some(baseline), Some(current)) => self.metric.format_difference(current - baseline),
            _ => "–".to_owned(),
        }
    }

    fn value_text(&self, value: Option<f64>) -> String {
        value.map_or_else(|| "–".to_owned(), |v| self.metric.format(v))
    }
}

/// A baseline and a run, compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// `overall`, then the current run's endpoints in its order, then the
    /// ones only the baseline has; within each, the rules' metrics in order.
    pub rows: Vec<Row>,
    pub baseline: RunLabel,
    pub current: RunLabel,
    pub rules: CompareRules,
}

/// Compares `current` (read from, or to be written to, `current_source`)
/// with `baseline` under `rules`. Endpoints are matched by name; against an
/// overall-only baseline, only `overall` is compared.
pub fn compare(
    baseline: &Baseline,
    current: &Results,
    current_source: &str,
    rules: &CompareRules,
) -> Comparison {
    let mut rules = rules.clone();
    let mut seen = HashSet::new();
    rules.metrics.retain(|m| seen.insert(*m));

    let figures = |stats: &EndpointStats| Figures::of(stats.judged_window());
    let mut scopes: Vec<(Scope, Option<Figures>, Option<Figures>)> = Vec::new();
    let current_overall = Some(figures(&current.overall));
    match &baseline.figures {
        BaselineFigures::Loadgate(results) => {
            scopes.push((
                Scope::Overall,
                Some(figures(&results.overall)),
                current_overall,
            ));
            for stats in &current.requests {
                let before = results.requests.iter().find(|b| b.name == stats.name);
                scopes.push((
                    Scope::Endpoint(stats.name.clone()),
                    before.map(figures),
                    Some(figures(stats)),
                ));
            }
            for stats in &results.requests {
                if !current.requests.iter().any(|c| c.name == stats.name) {
                    scopes.push((
                        Scope::Endpoint(stats.name.clone()),
                        Some(figures(stats)),
                        None,
                    ));
                }
            }
        }
        BaselineFigures::Overall(overall) => {
            scopes.push((Scope::Overall, Some(*overall), current_overall));
        }
    }

    let rows = scopes
        .into_iter()
        .flat_map(|(scope, before, after)| {
            let rules = &rules;
            rules
                .metrics
                .iter()
                .map(move |&metric| row(rules, scope.clone(), metric, before, after))
        })
        .collect();
    Comparison {
        rows,
        baseline: baseline.label.clone(),
        current: RunLabel::of_results(current_source, current),
        rules,
    }
}

fn row(
    rules: &CompareRules,
    scope: Scope,
    metric: Metric,
    before: Option<Figures>,
    after: Option<Figures>,
) -> Row {
    let baseline = before.and_then(|f| f.get(metric));
    let current = after.and_then(|f| f.get(metric));
    let (baseline_samples, current_samples) = (before.map(|f| f.samples), after.map(|f| f.samples));
    let change = match (baseline, current) {
        (Some(b), Some(c)) if b != 0.0 => Some((c - b) / b.abs()),
        (Some(_), Some(0.0)) => Some(0.0),
        _ => None,
    };
    // Samples first: a scope too small to judge says so whatever its
    // figures, even when an empty window leaves it none.
    let too_few = |n: u64| n < rules.min_samples;
    let verdict = match (baseline, current, baseline_samples, current_samples) {
        (_, _, Some(nb), Some(nc)) if too_few(nb) || too_few(nc) => RowVerdict::NotEnoughSamples,
        (Some(b), Some(c), Some(_), Some(_)) => rules.judge(metric, b, c),
        _ => RowVerdict::Missing,
    };
    Row {
        scope,
        metric,
        baseline,
        current,
        change,
        baseline_samples,
        current_samples,
        verdict,
    }
}

impl Comparison {
    /// Whether any row is a regression: the command fails (exit 1) when so.
    pub fn has_regression(&self) -> bool {
        self.rows
            .iter()
            .any(|r| r.verdict == RowVerdict::Regression)
    }

    /// The rows that regressed.
    pub fn regressions(&self) -> impl Iterator<Item = &Row> {
        self.rows
            .iter()
            .filter(|r| r.verdict == RowVerdict::Regression)
    }

    /// The rows that improved.
    pub fn improvements(&self) -> impl Iterator<Item = &Row> {
        self.rows
            .iter()
            .filter(|r| r.verdict == RowVerdict::Improvement)
    }

    /// Endpoints only the current run has.
    pub fn added(&self) -> Vec<&str> {
        self.scopes_where(|r| r.baseline_samples.is_none())
    }

    /// Endpoints only the baseline has.
    pub fn removed(&self) -> Vec<&str> {
        self.scopes_where(|r| r.current_samples.is_none())
    }

    /// Scopes in both runs with too few samples in one, not judged.
    pub fn too_few_samples(&self) -> Vec<&str> {
        self.scopes_where(|r| r.verdict == RowVerdict::NotEnoughSamples)
    }

    fn scopes_where(&self, keep: impl Fn(&Row) -> bool) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for row in self.rows.iter().filter(|r| keep(r)) {
            if !names.contains(&row.scope.name()) {
                names.push(row.scope.name());
            }
        }
        names
    }

    /// The scopes both runs have, in row order: the table's rows.
    fn shared_scopes(&self) -> Vec<&Scope> {
        let mut scopes: Vec<&Scope> = Vec::new();
        for row in &self.rows {
            if row.baseline_samples.is_some()
                && row.current_samples.is_some()
                && !scopes.contains(&&row.scope)
            {
                scopes.push(&row.scope);
            }
        }
        scopes
    }

    fn cell(&self, scope: &Scope, metric: Metric) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| &r.scope == scope && r.metric == metric)
    }

    /// `2 regressions, 1 improvement`, `No regressions`.
    fn counts(&self) -> (String, Option<String>) {
        let regressions = self.regressions().count();
        let improvements = self.improvements().count();
        let headline = match regressions {
            0 => "No regressions".to_owned(),
            1 => "1 regression".to_owned(),
            n => format!("{n} regressions"),
        };
        let improved = match improvements {
            0 => None,
            1 => Some("1 improvement".to_owned()),
            n => Some(format!("{n} improvements")),
        };
        (headline, improved)
    }

    /// ` (k6 summary, overall only)` after the baseline's name, for a
    /// foreign one.
    fn baseline_kind(&self) -> String {
        if self.baseline.format.is_overall_only() {
            format!(" ({}, overall only)", self.baseline.format)
        } else {
            String::new()
        }
    }

    /// The notes under a table: added, removed and unjudged endpoints.
    fn notes(&self, name: impl Fn(&str) -> String) -> Vec<String> {
        let list = |names: Vec<&str>| names.into_iter().map(&name).collect::<Vec<_>>().join(", ");
        let mut notes = Vec::new();
        let added = self.added();
        if !added.is_empty() {
            notes.push(format!("Only in the current run (added): {}.", list(added)));
        }
        let removed = self.removed();
        if !removed.is_empty() {
            notes.push(format!(
                "Only in the baseline (removed): {}.",
                list(removed)
            ));
        }
        let few = self.too_few_samples();
        if !few.is_empty() {
            notes.push(format!(
                "Not judged, fewer than {} samples in a run: {}.",
                units::count(self.rules.min_samples),
                list(few)
            ));
        }
        if self.baseline.format.is_overall_only() {
            notes.push(format!(
                "The baseline is a {} with figures for the whole run only: endpoints are not compared.",
                self.baseline.format
            ));
        }
        notes
    }

    /// The comparison for `summary.md`: a headline, one table row per
    /// scope with a column per metric, and notes.
    pub fn to_markdown(&self) -> String {
        let mut out = String::new();
        let (headline, improved) = self.counts();
        let mark = if self.has_regression() { "❌" } else { "✅" };
        out.push_str(&format!("{mark} **{headline}**"));
        if let Some(improved) = improved {
            out.push_str(&format!(", {improved}"));
        }
        out.push_str(&format!(
            " against baseline {}{} ({})\n\n",
            code(&self.baseline.source),
            self.baseline_kind(),
            self.rules.summary()
        ));

        let scopes = self.shared_scopes();
        if !scopes.is_empty() && !self.rules.metrics.is_empty() {
            out.push_str("| |");
            for metric in &self.rules.metrics {
                out.push_str(&format!(" {} |", metric.title()));
            }
            out.push_str("\n|:--|");
            out.push_str(&"--:|".repeat(self.rules.metrics.len()));
            out.push('\n');
            for scope in scopes {
                out.push_str(&format!("| **{}** |", md_cell(scope.name())));
                for &metric in &self.rules.metrics {
                    let text = self.cell(scope, metric).map_or_else(String::new, |row| {
                        let values = format!(
                            "{} → {}",
                            row.value_text(row.baseline),
                            row.value_text(row.current)
                        );
                        match row.verdict {
                            RowVerdict::Regression => {
                                format!("❌ {values} ({})", row.short_change_text())
                            }
                            RowVerdict::Improvement => {
                                format!("✅ {values} ({})", row.short_change_text())
                            }
                            RowVerdict::Unchanged => {
                                format!("{values} ({})", row.short_change_text())
                            }
                            RowVerdict::NotEnoughSamples => format!("{values} · too few samples"),
                            RowVerdict::Missing => values,
                        }
                    });
                    out.push_str(&format!(" {} |", md_cell(&text)));
                }
                out.push('\n');
            }
            out.push('\n');
        }

        let notes = self.notes(code);
        if !notes.is_empty() {
            out.push_str(&notes.join(" "));
            out.push_str("\n\n");
        }
        out.push_str(&format!(
            "Baseline {}: {}. Current {}: {}.\n",
            code(&self.baseline.source),
            md_cell(&self.baseline.details()),
            code(&self.current.source),
            md_cell(&self.current.details()),
        ));
        out
    }

    /// The comparison as a self-contained `<section>` for an HTML page: the
    /// headline, one table row per scope with a column per metric, and
    /// notes. It borrows the report page's classes where it is embedded
    /// there (`num`, `overall`, `note`) and marks regressions inline
    /// (colour and a ✗), so it reads the same on any page.
    pub fn to_html(&self) -> String {
        const REGRESSION_STYLE: &str = "background:#ffebe9;color:#cf222e;font-weight:600";
        const IMPROVEMENT_STYLE: &str = "color:#1a7f37";
        const QUIET_STYLE: &str = "color:#59636e";

        let mut out = String::from(
            "<section class=\"compare\" aria-label=\"comparison with the baseline\">\n\
             <h2>Against the baseline</h2>\n",
        );
        let (headline, improved) = self.counts();
        let (mark, style) = if self.has_regression() {
            ("✗", "color:#cf222e")
        } else {
            ("✓", "color:#1a7f37")
        };
        out.push_str(&format!(
            "<p class=\"compare-headline\"><strong style=\"{style}\">{mark} {}</strong>",
            xml(&headline)
        ));
        if let Some(improved) = improved {
            out.push_str(&format!(", {}", xml(&improved)));
        }
        out.push_str(&format!(
            " against baseline <code>{}</code>{} <span style=\"{QUIET_STYLE}\">({})</span></p>\n",
            xml(&self.baseline.source),
            xml(&self.baseline_kind()),
            xml(&self.rules.summary()),
        ));

        let scopes = self.shared_scopes();
        if !scopes.is_empty() && !self.rules.metrics.is_empty() {
            out.push_str(
                "<table class=\"compare-table\">\n<thead><tr><th scope=\"col\">Endpoint</th>",
            );
            for metric in &self.rules.metrics {
                out.push_str(&format!(
                    "<th scope=\"col\" class=\"num\" style=\"text-align:right\">{}</th>",
                    xml(metric.title())
                ));
            }
            out.push_str("</tr></thead>\n<tbody>\n");
            for scope in scopes {
                let class = if *scope == Scope::Overall {
                    " class=\"overall\""
                } else {
                    ""
                };
                out.push_str(&format!(
                    "<tr{class}><th scope=\"row\">{}</th>",
                    xml(scope.name())
                ));
                for &metric in &self.rules.metrics {
                    let Some(row) = self.cell(scope, metric) else {
                        out.push_str("<td class=\"num\"></td>");
                        continue;
                    };
                    let (class, style, title) = match row.verdict {
                        RowVerdict::Regression => ("regression", REGRESSION_STYLE, "regression"),
                        RowVerdict::Improvement => {
                            ("improvement", IMPROVEMENT_STYLE, "improvement")
                        }
                        RowVerdict::Unchanged => ("unchanged", "", "within noise"),
                        RowVerdict::NotEnoughSamples => ("few-samples", "", "too few samples"),
                        RowVerdict::Missing => ("missing", "", "not in both runs"),
                    };
                    let change = match row.verdict {
                        RowVerdict::Regression => format!("✗ {}", row.change_text()),
                        RowVerdict::Improvement => format!("✓ {}", row.change_text()),
                        RowVerdict::Unchanged => row.change_text(),
                        RowVerdict::NotEnoughSamples | RowVerdict::Missing => title.to_owned(),
                    };
                    out.push_str(&format!(
                        "<td class=\"num {class}\" style=\"text-align:right;white-space:nowrap;{style}\" title=\"{title}\">\
                         {}<br><span style=\"font-size:12px;{QUIET_STYLE}\">was {}</span>\
                         <br><span style=\"font-size:12px\">{}</span></td>",
                        xml(&row.value_text(row.current)),
                        xml(&row.value_text(row.baseline)),
                        xml(&change),
                    ));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</tbody>\n</table>\n");
        }

        let notes = self.notes(|name| format!("<code>{}</code>", xml(name)));
        if !notes.is_empty() {
            out.push_str(&format!("<p class=\"note\">{}</p>\n", notes.join(" ")));
        }
        out.push_str(&format!(
            "<p class=\"note\">Baseline <code>{}</code>: {}. Current <code>{}</code>: {}.</p>\n</section>\n",
            xml(&self.baseline.source),
            xml(&self.baseline.details()),
            xml(&self.current.source),
            xml(&self.current.details()),
        ));
        out
    }

    /// The comparison as plain text for stdout: the headline, an aligned
    /// table with one line per scope and metric, and notes.
    pub fn to_terminal(&self) -> String {
        let (headline, improved) = self.counts();
        let mut out = headline;
        if let Some(improved) = improved {
            out.push_str(&format!(", {improved}"));
        }
        out.push_str(&format!(
            " against baseline {}{} ({})\n",
            self.baseline.source,
            self.baseline_kind(),
            self.rules.summary()
        ));

        let shared: Vec<&Row> = self
            .rows
            .iter()
            .filter(|r| r.baseline_samples.is_some() && r.current_samples.is_some())
            .collect();
        if !shared.is_empty() {
            let header = ["ENDPOINT", "METRIC", "BASELINE", "CURRENT", "CHANGE", ""];
            let mut lines: Vec<[String; 6]> = vec![header.map(str::to_owned)];
            for row in shared {
                let verdict = match row.verdict {
                    RowVerdict::Regression => "REGRESSION".to_owned(),
                    RowVerdict::Improvement => "improvement".to_owned(),
                    RowVerdict::Unchanged => "within noise".to_owned(),
                    RowVerdict::NotEnoughSamples => format!(
                        "too few samples ({} / {})",
                        units::count(row.baseline_samples.unwrap_or(0)),
                        units::count(row.current_samples.unwrap_or(0))
                    ),
                    RowVerdict::Missing => {
                        if row.baseline.is_none() {
                            "not in baseline".to_owned()
                        } else {
                            "not in current".to_owned()
                        }
                    }
                };
                lines.push([
                    row.scope.name().to_owned(),
                    row.metric.label().to_owned(),
                    row.value_text(row.baseline),
                    row.value_text(row.current),
                    row.change_text(),
                    verdict,
                ]);
            }
            let width = |i: usize| {
                lines
                    .iter()
                    .map(|l| l[i].chars().count())
                    .max()
                    .unwrap_or(0)
            };
            let widths: Vec<usize> = (0..6).map(width).collect();
            out.push('\n');
            for line in &lines {
                let mut text = String::new();
                for (i, field) in line.iter().enumerate() {
                    let pad = widths[i] - field.chars().count();
                    // Names and words to the left, numbers to the right.
                    let right = matches!(i, 2..=4);
                    if i > 0 {
                        text.push_str("  ");
                    }
                    if right {
                        text.push_str(&" ".repeat(pad));
                        text.push_str(field);
                    } else {
                        text.push_str(field);
                        text.push_str(&" ".repeat(pad));
                    }
                }
                out.push_str(text.trim_end());
                out.push('\n');
            }
        }

        let notes = self.notes(str::to_owned);
        if !notes.is_empty() {
            out.push('\n');
            for note in notes {
                out.push_str(&note);
                out.push('\n');
            }
        }
        out.push_str(&format!(
            "\nBaseline {}: {}.\nCurrent {}: {}.\n",
            self.baseline.source,
            self.baseline.details(),
            self.current.source,
            self.current.details(),
        ));
        out
    }
}

/// Text as a Markdown code span (a backtick inside would end it).
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

/// Text made safe inside a Markdown table cell.
fn md_cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: f64 = 1000.0;

    fn rules() -> CompareRules {
        CompareRules::default()
    }

    fn figures(samples: u64, p95_ms: f64, rps: f64, error_rate: f64) -> Figures {
        Figures {
            samples,
            p50_us: Some(p95_ms * MS / 2.0),
            p95_us: Some(p95_ms * MS),
            p99_us: Some(p95_ms * MS * 2.0),
            rps: Some(rps),
            error_rate: Some(error_rate),
        }
    }

    #[test]
    fn a_regression_exceeds_both_the_allowance_and_the_floor() {
        let r = rules();
        // Relative only: +20%, but 1 ms is under the 2 ms floor.
        assert_eq!(
            r.judge(Metric::P95, 5.0 * MS, 6.0 * MS),
            RowVerdict::Unchanged
        );
        // Absolute only: +5 ms, but 5% is within the 10% allowance.
        assert_eq!(
            r.judge(Metric::P95, 100.0 * MS, 105.0 * MS),
            RowVerdict::Unchanged
        );
        // Both.
        assert_eq!(
            r.judge(Metric::P95, 100.0 * MS, 115.0 * MS),
            RowVerdict::Regression
        );
        // Exactly at the allowance and the floor is still noise.
        assert_eq!(
            r.judge(Metric::P99, 20.0 * MS, 22.0 * MS),
            RowVerdict::Unchanged
        );
        assert_eq!(
            r.judge(Metric::P99, 20.0 * MS, 22.1 * MS),
            RowVerdict::Regression
        );
        // The same rule in the better direction is an improvement.
        assert_eq!(
            r.judge(Metric::P95, 115.0 * MS, 100.0 * MS),
            RowVerdict::Improvement
        );
        assert_eq!(
            r.judge(Metric::P95, 6.0 * MS, 5.0 * MS),
            RowVerdict::Unchanged
        );
        // The allowance and floors are the rules', not constants.
        let strict = CompareRules {
            max_regression: 0.01,
            latency_floor_us: 500,
            ..rules()
        };
        assert_eq!(
            strict.judge(Metric::P95, 100.0 * MS, 105.0 * MS),
            RowVerdict::Regression
        );
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
    fn each_metric_worsens_in_its_own_direction() {
        let r = rules();
        assert!(Metric::P50.higher_is_worse() && Metric::ErrorRate.higher_is_worse());
        assert!(!Metric::Rps.higher_is_worse());
        assert_eq!(r.judge(Metric::Rps, 200.0, 150.0), RowVerdict::Regression);
        assert_eq!(r.judge(Metric::Rps, 150.0, 200.0), RowVerdict::Improvement);
        // -20% of 40 rps is 8 rps: under the 10 rps floor.
        assert_eq!(r.judge(Metric::Rps, 40.0, 32.0), RowVerdict::Unchanged);
        assert_eq!(
            r.judge(Metric::P50, 40.0 * MS, 20.0 * MS),
            RowVerdict::Improvement
        );
        assert_eq!(
            r.judge(Metric::P50, 20.0 * MS, 40.0 * MS),
            RowVerdict::Regression
        );
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.001, 0.02),
            RowVerdict::Regression
        );
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.02, 0.001),
            RowVerdict::Improvement
        );
        // From 0, any rise counts as beyond the allowance; the floor still holds.
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.0, 0.01),
            RowVerdict::Regression
        );
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.0, 0.004),
            RowVerdict::Unchanged
        );
        // 0.01% → 0.03% triples, but by 0.02 points.
        assert_eq!(
            r.judge(Metric::ErrorRate, 0.0001, 0.0003),
            RowVerdict::Unchanged
        );
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
        };
        let none = Figures::of(&empty);
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
    fn metric_lists_parse_each_metric_once() {
        assert_eq!(
            parse_metrics("p95,p99,rps,p95"),
            Ok(vec![Metric::P95, Metric::P99, Metric::Rps])
        );
        assert!(parse_metrics("").is_err());
        assert!(parse_metrics("p95,,rps").is_err());
    }

    #[test]
    fn allowances_are_percentages_or_fractions() {
        assert_eq!(parse_allowance("10%"), Ok(0.1));
        assert_eq!(parse_allowance(" 2.5 %"), Ok(0.025));
        assert_eq!(parse_allowance("150%"), Ok(1.5));
        assert_eq!(parse_allowance("0.1"), Ok(0.1));
        assert_eq!(parse_allowance("0"), Ok(0.0));
        assert_eq!(
            parse_allowance("10").unwrap_err().to_string(),
            "invalid allowance `10`: a bare number is a fraction and must be below 1; write a percentage like `10%`"
        );
        assert_eq!(
            parse_allowance("ten").unwrap_err().to_string(),
            "invalid allowance `ten`: expected a percentage like `10%` or a fraction like `0.1`"
        );
        assert!(parse_allowance("-5%").is_err());
        assert!(parse_allowance("NaN").is_err());
        assert!(parse_allowance("%").is_err());
    }

    #[test]
    fn rules_describe_themselves() {
        assert_eq!(
            rules().summary(),
            "max +10%, floor 2 ms / 10 rps / 0.5 pp, ≥1,000 samples"
        );
        let latency_only = CompareRules {
            metrics: vec![Metric::P50, Metric::P99],
            max_regression: 0.25,
            ..rules()
        };
        assert_eq!(
            latency_only.summary(),
            "max +25%, floor 2 ms, ≥1,000 samples"
        );
    }

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

    #[test]
    fn other_files_are_named_in_the_error() {
        assert_eq!(
            Baseline::parse("x.json", r#"{"hello": 1}"#)
                .unwrap_err()
                .to_string(),
            "x.json: not a baseline: expected a loadgate results file, a k6 summary \
             (`k6 run --summary-export`) or a goose JSON report (`--report-file report.json`)"
        );
        assert!(
            Baseline::parse("x.json", "{")
                .unwrap_err()
                .to_string()
                .starts_with("x.json: not JSON: ")
        );
        // A loadgate file of another version says so, not "not a baseline".
        let err = Baseline::parse("r.json", r#"{"format": "loadgate-results", "version": 99}"#)
            .unwrap_err();
        assert!(matches!(
            err,
            BaselineError::Results(ResultsError::Version { .. })
        ));
        let missing = read_baseline(Path::new("/nonexistent/baseline.json")).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("/nonexistent/baseline.json: ")
        );
    }

    /// A comparison made by hand: overall regressed, `get <b>` improved,
    /// `tiny` too small to judge, `new` added and `gone` removed.
    fn sample() -> Comparison {
        let r = CompareRules {
            metrics: vec![Metric::P95, Metric::ErrorRate],
            ..rules()
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
            },
            current: RunLabel {
                source: "runs/now/results.json".into(),
                format: SourceFormat::Loadgate,
                tool: "loadgate 0.1.0".into(),
                scenario: Some("Normal load".into()),
                started_at: Some("2025-06-02T09:00:00Z".into()),
            },
            rules: r,
        }
    }

    /// Asserts two texts are equal, printing both whole when not.
    fn same_text(actual: &str, expected: &str) {
        assert!(
            actual == expected,
            "\n--- expected ---\n{expected}\n--- actual ---\n{actual}\n---"
        );
    }

    #[test]
    fn the_comparison_knows_its_scopes() {
        let c = sample();
        assert!(c.has_regression());
        assert_eq!(c.regressions().count(), 2);
        assert_eq!(c.improvements().count(), 1);
        assert_eq!(c.added(), ["new"]);
        assert_eq!(c.removed(), ["gone"]);
        assert_eq!(c.too_few_samples(), ["tiny"]);
    }

    #[test]
    fn the_terminal_table_is_aligned() {
        same_text(
            &sample().to_terminal(),
            "\
2 regressions, 1 improvement against baseline runs/base/results.json (max +10%, floor 2 ms / 0.5 pp, ≥1,000 samples)

ENDPOINT  METRIC      BASELINE  CURRENT            CHANGE
overall   p95           100 ms   150 ms     +50% (+50 ms)  REGRESSION
overall   error rate      0.1%       2%  +1900% (+1.9 pp)  REGRESSION
get <b>   p95           100 ms    80 ms     -20% (-20 ms)  improvement
get <b>   error rate      0.1%       0%   -100% (-0.1 pp)  within noise
tiny      p95            10 ms    50 ms    +400% (+40 ms)  too few samples (900 / 900)
tiny      error rate        0%      50%            +50 pp  too few samples (900 / 900)

Only in the current run (added): new.
Only in the baseline (removed): gone.
Not judged, fewer than 1,000 samples in a run: tiny.

Baseline runs/base/results.json: loadgate 0.1.0, Normal load, started 2025-06-01T09:00:00Z.
Current runs/now/results.json: loadgate 0.1.0, Normal load, started 2025-06-02T09:00:00Z.
",
        );
    }

    #[test]
    fn the_markdown_is_a_compact_table() {
        same_text(
            &sample().to_markdown(),
            "\
❌ **2 regressions**, 1 improvement against baseline `runs/base/results.json` (max +10%, floor 2 ms / 0.5 pp, ≥1,000 samples)

| | P95 | Errors |
|:--|--:|--:|
| **overall** | ❌ 100 ms → 150 ms (+50%) | ❌ 0.1% → 2% (+1.9 pp) |
| **get <b>** | ✅ 100 ms → 80 ms (-20%) | 0.1% → 0% (-0.1 pp) |
| **tiny** | 10 ms → 50 ms · too few samples | 0% → 50% · too few samples |

Only in the current run (added): `new`. Only in the baseline (removed): `gone`. Not judged, fewer than 1,000 samples in a run: `tiny`.

Baseline `runs/base/results.json`: loadgate 0.1.0, Normal load, started 2025-06-01T09:00:00Z. Current `runs/now/results.json`: loadgate 0.1.0, Normal load, started 2025-06-02T09:00:00Z.
",
        );
    }

    #[test]
    fn the_html_marks_regressions_and_escapes_names() {
        let html = sample().to_html();
        assert!(html.starts_with("<section class=\"compare\""));
        assert!(html.ends_with("</section>\n"));
        assert!(
            html.contains("<th scope=\"row\">get &lt;b&gt;</th>"),
            "{html}"
        );
        assert!(!html.contains("<b>"));
        assert_eq!(html.matches("class=\"num regression\"").count(), 2);
        assert_eq!(html.matches("class=\"num improvement\"").count(), 1);
        assert!(html.contains("✗ +50% (+50 ms)"));
        assert!(html.contains("<strong style=\"color:#cf222e\">✗ 2 regressions</strong>"));
        assert!(html.contains("<code>new</code>") && html.contains("<code>gone</code>"));
        // Well-formed enough for an XML parser: every tag closes.
        assert_eq!(html.matches("<td").count(), html.matches("</td>").count());
        assert_eq!(html.matches("<tr").count(), html.matches("</tr>").count());
    }

    #[test]
    fn no_regression_reads_as_such() {
        let mut c = sample();
        c.rows.retain(|r| {
            r.verdict != RowVerdict::Regression && r.verdict != RowVerdict::Improvement
        });
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
}
