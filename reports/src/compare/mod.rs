//! Comparing a run with a baseline: what `loadgate compare BASELINE CURRENT`
//! and `loadgate run --baseline FILE` report, and whether it fails.
//!
//! * [`read_baseline`] reads a [`Baseline`] ([`baseline`]): a loadgate
//!   results file, or an overall-only summary from another tool (a k6
//!   `--summary-export` file or a goose JSON report), recognised by its
//!   shape.
//! * [`compare`] matches the baseline's endpoints with the current run's by
//!   name and judges each [`Metric`] of each scope under the
//!   [`CompareRules`] ([`rules`]: the noise rule), giving a [`Comparison`]:
//!   one [`Row`] per scope (`overall`, then each endpoint) and metric.
//! * [`Comparison::has_regression`] is what the command's exit status
//!   follows. The module of each format renders it: [`markdown::comparison`]
//!   for `summary.md`, [`render_html::comparison`] for the HTML report and
//!   [`terminal::comparison`] for stdout ([`Comparison::to_markdown`],
//!   [`Comparison::to_html`] and [`Comparison::to_terminal`] call them).
//!
//! Every figure is taken from each endpoint's judged window (the samples
//! budgets judge, [`EndpointStats::judged_window`]) through
//! [`metric::value`]: p50, p95 and p99 latency (higher is worse), throughput
//! in requests per second (lower is worse) and the error rate (higher is
//! worse). By default p95, p99, rps and the error rate are compared.

pub mod baseline;
pub mod rules;
#[cfg(test)]
pub(crate) mod sample;
#[cfg(test)]
mod tests;

use std::{collections::HashSet, fmt};

use crate::{
    markdown, metric,
    metric::Judged,
    render_html,
    results::{EndpointStats, LatencyOf, Results, Window},
    terminal,
    units::{self, percent_change},
};

pub use crate::metric::{Metric, ParseMetricError};
pub use baseline::{Baseline, BaselineError, BaselineFigures, SourceFormat, read_baseline};
pub use rules::{CompareRules, ParseAllowanceError, parse_allowance, parse_metrics};

/// The figures of one scope of one run: a loadgate window's, or a foreign
/// summary's, which may lack some (k6 without `p(99)`).
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
    /// never compares as 0 ms or 0 rps. Dropped arrivals count as samples:
    /// a run that dropped everything it was meant to send is a 100% error
    /// rate, not too few samples to judge.
    pub fn of(window: &Window, of: LatencyOf) -> Self {
        let judged = Judged::new(window, of);
        let value = |m| metric::value(&judged, m);
        Self {
            samples: window.attempts(),
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
    /// Whose latencies its figures are: a loadgate run's judged basis
    /// ([`Results::run`]); every request's in a foreign summary.
    pub latency_of: LatencyOf,
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
            latency_of: results.run.latency_of,
        }
    }

    /// `tool, scenario, started …` in a line.
    pub(crate) fn details(&self) -> String {
        let mut parts = vec![self.tool.clone()];
        parts.extend(self.scenario.clone());
        if let Some(started) = &self.started_at {
            parts.push(format!("started {started}"));
        }
        parts.join(", ")
    }
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
    pub(crate) fn short_change_text(&self) -> String {
        match (self.change, self.baseline, self.current) {
            (Some(change), _, _) if self.metric != Metric::ErrorRate => percent_change(change),
            (_, Some(baseline), Some(current)) => self.metric.format_difference(current - baseline),
            _ => "–".to_owned(),
        }
    }

    /// One side's value in the metric's unit, `–` when it has none.
    pub(crate) fn value_text(&self, value: Option<f64>) -> String {
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

    // Each run on the basis it was judged on; a difference is noted.
    let figures = |stats: &EndpointStats, of| Figures::of(stats.judged_window(), of);
    let now = current.run.latency_of;
    let mut scopes: Vec<(Scope, Option<Figures>, Option<Figures>)> = Vec::new();
    let current_overall = Some(figures(&current.overall, now));
    match &baseline.figures {
        BaselineFigures::Loadgate(results) => {
            let then = results.run.latency_of;
            scopes.push((
                Scope::Overall,
                Some(figures(&results.overall, then)),
                current_overall,
            ));
            for stats in &current.requests {
                let before = results.requests.iter().find(|b| b.name == stats.name);
                scopes.push((
                    Scope::Endpoint(stats.name.clone()),
                    before.map(|b| figures(b, then)),
                    Some(figures(stats, now)),
                ));
            }
            for stats in &results.requests {
                if !current.requests.iter().any(|c| c.name == stats.name) {
                    scopes.push((
                        Scope::Endpoint(stats.name.clone()),
                        Some(figures(stats, then)),
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

pub(super) fn row(
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
}

/// What every rendering of a comparison says, so that the terminal, the
/// Markdown and the HTML use the same words; each lays them out its own way.
impl Comparison {
    /// The scopes both runs have, in row order: the table's rows.
    pub(crate) fn shared_scopes(&self) -> Vec<&Scope> {
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

    /// The row of `scope` and `metric`: a table's cell.
    pub(crate) fn cell(&self, scope: &Scope, metric: Metric) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| &r.scope == scope && r.metric == metric)
    }

    /// `2 regressions, 1 improvement`, `No regressions`.
    pub(crate) fn counts(&self) -> (String, Option<String>) {
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
    pub(crate) fn baseline_kind(&self) -> String {
        if self.baseline.format.is_overall_only() {
            format!(" ({}, overall only)", self.baseline.format)
        } else {
            String::new()
        }
    }

    /// The notes under a table: added, removed and unjudged endpoints.
    pub(crate) fn notes(&self, name: impl Fn(&str) -> String) -> Vec<String> {
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
        if let Some(note) = self.latency_of_note() {
            notes.push(note);
        }
        notes
    }

    /// Set when the two runs' latencies are of different requests (one
    /// judged every request, the other successful ones alone): their
    /// latency rows compare unlike figures.
    pub fn latency_of_note(&self) -> Option<String> {
        let whose = |of| match of {
            LatencyOf::All => "every request's",
            LatencyOf::Ok => "successful requests' alone",
        };
        let (then, now) = (self.baseline.latency_of, self.current.latency_of);
        (then != now).then(|| {
            format!(
                "Latencies are not like for like: the baseline's are {}, the current run's {} (`budgets.latency_of: {}` against `{}`).",
                whose(then),
                whose(now),
                then.name(),
                now.name()
            )
        })
    }
}

/// The renderings, by name, for callers that hold a comparison rather than
/// know which module renders each format.
impl Comparison {
    /// The comparison for `summary.md` ([`markdown::comparison`]).
    pub fn to_markdown(&self) -> String {
        markdown::comparison(self)
    }

    /// The comparison as a `<section>` of an HTML page
    /// ([`render_html::comparison`]).
    pub fn to_html(&self) -> String {
        render_html::comparison(self)
    }

    /// The comparison as plain text for stdout ([`terminal::comparison`]).
    pub fn to_terminal(&self) -> String {
        terminal::comparison(self)
    }
}
