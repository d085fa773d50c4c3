//! What the charts draw, taken out of the results once: the points of
//! each series, the stages (clipped to where the run stopped), the budgets
//! drawn as lines, the spectra. No plotters here: this is the part of a
//! chart that a test can check by value.

use super::Chart;
use crate::{
    basis::Basis,
    histogram::CodecError,
    results::{BudgetMetric, Results},
    spectrum,
};

/// Points kept per series on the spectrum's percentile axis.
const SPECTRUM_STEPS: usize = 400;

/// What the charts draw, taken out of the results once (histograms decoded,
/// series converted to ms) and shared by the SVG and PNG renderings.
#[derive(Debug, Clone)]
pub struct ChartData {
    /// The charts the results have data for.
    pub(super) charts: Vec<Chart>,
    /// Length of the time axis, in `unit_s`.
    pub(super) duration: f64,
    /// Seconds per unit of the time axis: 1, 60 or 3600, so plotters'
    /// round ticks land on round times (every 30 minutes, not every
    /// 2,000 seconds).
    pub(super) unit_s: f64,
    /// Whether the time axis reads in hours.
    pub(super) long_run: bool,
    /// Per second (seconds with requests only), ms; x in `unit_s`, as
    /// every x below.
    pub(super) p50: Vec<(f64, f64)>,
    pub(super) p95: Vec<(f64, f64)>,
    pub(super) p99: Vec<(f64, f64)>,
    /// Per second, p99 of the raw latency (from the send), ms; only for a
    /// run that keeps one beside the judged (see [`Basis`]).
    pub(super) service_p99: Vec<(f64, f64)>,
    /// The key of `service_p99`: `p99 service time`, `p99 raw (uncorrected)`.
    pub(super) service_label: &'static str,
    /// Per second, requests and failed requests.
    pub(super) requests: Vec<(f64, f64)>,
    pub(super) errors: Vec<(f64, f64)>,
    pub(super) users: Vec<(f64, f64)>,
    /// Requests per second the server counted, as steps over each scrape
    /// interval.
    pub(super) server_rps: Vec<(f64, f64)>,
    /// Per second, the generator's CPU, % of all cores.
    pub(super) generator_cpu: Vec<(f64, f64)>,
    /// Per second, the generator's busiest thread, % of one core.
    pub(super) generator_thread_cpu: Vec<(f64, f64)>,
    /// Per scrape interval, the server's cache hit ratio in %, as steps.
    pub(super) cache_hit: Vec<(f64, f64)>,
    /// At each scrape, the DB pool's utilization in %.
    pub(super) db_pool: Vec<(f64, f64)>,
    /// The server budgets, in %.
    pub(super) server_budgets: Vec<(BudgetMetric, f64)>,
    /// Overall latency budgets, ms.
    pub(super) latency_budgets: Vec<(BudgetMetric, f64)>,
    /// Stages: name, start s, end s, judged by budgets.
    pub(super) stages: Vec<(String, f64, f64, bool)>,
    /// Percentile spectra, overall first: name, `(nines, ms)`.
    pub(super) spectra: Vec<(String, Vec<(f64, f64)>)>,
}

impl ChartData {
    /// Prepares the charts of `results`; fails only on a histogram that does
    /// not decode.
    pub fn new(results: &Results) -> Result<Self, CodecError> {
        let last_second = results
            .series
            .last()
            .map_or(0.0, |s| f64::from(s.second) + 1.0);
        let duration_s = (results.run.duration_ms as f64 / 1000.0)
            .max(last_second)
            .max(1.0);
        let unit_s = if duration_s >= 7200.0 {
            3600.0
        } else if duration_s >= 120.0 {
            60.0
        } else {
            1.0
        };
        let with_requests = || results.series.iter().filter(|s| s.count > 0);
        let ms = |us: u64| us as f64 / 1000.0;
        // A second's requests are drawn at its middle; its users (counted
        // at its end) at its end.
        let at = |second: u32| (f64::from(second) + 0.5) / unit_s;

        let judged = &results.scenario.judged_stages;
        // A run that stopped early (aborted, interrupted) lists the stages
        // as planned: those it never reached are left off, the one it
        // stopped in is cut at its end.
        let stages = results
            .scenario
            .stages
            .iter()
            .filter(|s| (s.start_ms as f64) / 1000.0 < duration_s)
            .map(|s| {
                let name = s.name.clone().unwrap_or_default();
                let is_judged = !judged.is_empty() && judged.contains(&name);
                (
                    name,
                    s.start_ms as f64 / 1000.0 / unit_s,
                    (s.end_ms as f64 / 1000.0).min(duration_s) / unit_s,
                    is_judged,
                )
            })
            .collect();

        // The server's samples: each covers the interval since the one
        // before (the first, since the run's start).
        let samples = results.server.as_ref().map_or(&[][..], |s| &s.series[..]);
        let x_ms = |ms: u64| ms as f64 / 1000.0 / unit_s;
        let steps = |value: &dyn Fn(usize) -> Option<f64>| {
            let mut points = Vec::with_capacity(samples.len() * 2);
            for (i, sample) in samples.iter().enumerate() {
                let from = i.checked_sub(1).map_or(0, |p| samples[p].at_ms);
                if let Some(v) = value(i) {
                    points.push((x_ms(from), v));
                    points.push((x_ms(sample.at_ms), v));
                }
            }
            points
        };
        let server_rps = steps(&|i| Some(samples[i].rps));
        let cache_hit = steps(&|i| samples[i].cache_hit_ratio.map(|r| r * 100.0));
        let db_pool = samples
            .iter()
            .filter_map(|s| Some((x_ms(s.at_ms), s.db_pool_utilization? * 100.0)))
            .collect();

        let mut spectra = Vec::with_capacity(results.requests.len() + 1);
        for stats in std::iter::once(&results.overall).chain(&results.requests) {
            let histogram = stats.judged_window().decode_histogram()?;
            let curve = spectrum::curve(&histogram, SPECTRUM_STEPS)
                .into_iter()
                .map(|(x, us)| (x, us / 1000.0))
                .collect();
            spectra.push((stats.name.clone(), curve));
        }

        Ok(Self {
            charts: Chart::ALL
                .into_iter()
                .filter(|c| c.applies_to(results))
                .collect(),
            duration: duration_s / unit_s,
            unit_s,
            long_run: duration_s >= 3600.0,
            p50: with_requests()
                .map(|s| (at(s.second), ms(s.p50_us)))
                .collect(),
            p95: with_requests()
                .map(|s| (at(s.second), ms(s.p95_us)))
                .collect(),
            p99: with_requests()
                .map(|s| (at(s.second), ms(s.p99_us)))
                .collect(),
            service_p99: with_requests()
                .filter_map(|s| s.service_p99_us.map(|us| (at(s.second), ms(us))))
                .collect(),
            service_label: Basis::of(results)
                .raw_p99_label()
                .unwrap_or("p99 service time"),
            requests: results
                .series
                .iter()
                .map(|s| (at(s.second), s.count as f64))
                .collect(),
            errors: results
                .series
                .iter()
                .map(|s| (at(s.second), s.errors.total() as f64))
                .collect(),
            users: results
                .scenario
                .stages
                .first()
                .map(|s| (0.0, f64::from(s.from_users)))
                .into_iter()
                .chain(
                    results
                        .series
                        .iter()
                        .map(|s| ((f64::from(s.second) + 1.0) / unit_s, f64::from(s.users))),
                )
                .collect(),
            server_rps,
            generator_cpu: results
                .series
                .iter()
                .filter_map(|s| Some((at(s.second), s.generator_cpu? * 100.0)))
                .collect(),
            generator_thread_cpu: results
                .series
                .iter()
                .filter_map(|s| Some((at(s.second), s.generator_thread_cpu? * 100.0)))
                .collect(),
            cache_hit,
            db_pool,
            server_budgets: results
                .budgets
                .iter()
                .filter(|b| {
                    matches!(
                        b.metric,
                        BudgetMetric::MinCacheHitRatio | BudgetMetric::MaxDbPoolUtilization
                    )
                })
                .map(|b| (b.metric, b.limit * 100.0))
                .collect(),
            latency_budgets: results
                .budgets
                .iter()
                .filter(|b| b.scope == results.overall.name || b.scope == "overall")
                .filter(|b| {
                    matches!(
                        b.metric,
                        BudgetMetric::P50 | BudgetMetric::P95 | BudgetMetric::P99
                    )
                })
                .map(|b| (b.metric, b.limit / 1000.0))
                .collect(),
            stages,
            spectra,
        })
    }
}

impl ChartData {
    /// The charts these results have data for, in [`Chart::ALL`] order
    /// (see [`Chart::applies_to`]).
    pub fn charts(&self) -> &[Chart] {
        &self.charts
    }
}
