//! The charts over time: latency, throughput, users and the generator's
//! CPU, each captioned with what it shows for this run.

use super::figure;
use crate::{
    basis::Basis,
    charts::Chart,
    results::{ArrivalStats, GeneratorStats, LatencyBasis, Results},
    units,
};

/// 3. Latency, throughput and users over time, and the generator's CPU.
pub(super) fn render(
    page: &mut String,
    results: &Results,
    chart: &dyn Fn(Chart) -> Result<String, String>,
) {
    page.push_str("<section>\n<h2>Over time</h2>\n");
    let shaded = if results.scenario.judged_stages.is_empty() {
        ""
    } else {
        " The shaded span is what budgets judge."
    };
    let basis = Basis::of(results);
    let schedule = match (&results.arrivals, basis.0) {
        (Some(a), _) => format!(
            " Requests ran on an arrival schedule: latency counts from when each was due (free of coordinated omission); the grey line is the p99 of the service time, from the actual send. Of {} arrivals, {} started late and {} were dropped (failures, in the latency from their due time to when they were given up).{}",
            units::count(a.intended),
            units::count(a.late),
            units::count(a.dropped),
            start_text(a),
        ),
        (None, LatencyBasis::Corrected { .. }) => format!(
            " Users were paced at one iteration every {}: the percentiles are coordinated-omission corrected; the grey line is the p99 raw (uncorrected), from each actual send, and the gap between them is the lateness of iterations that started late, and the iterations late users skipped.",
            basis.pace().unwrap_or_default()
        ),
        (None, _) => String::new(),
    };
    figure(
        page,
        Chart::Latency,
        chart(Chart::Latency),
        &format!(
            "Percentiles of each second's requests, all endpoints together; dashed lines are the overall budgets.{shaded}{schedule}"
        ),
    );
    let server = if results
        .server
        .as_ref()
        .is_some_and(|s| !s.series.is_empty())
    {
        " The purple steps are the requests the server itself counted, per scrape interval."
    } else {
        ""
    };
    figure(
        page,
        Chart::Throughput,
        chart(Chart::Throughput),
        &format!("Requests started in each second, and those that failed.{server}{shaded}"),
    );
    figure(
        page,
        Chart::Users,
        chart(Chart::Users),
        "Users running at the end of each second, with the scenario's stages.",
    );
    if Chart::Generator.applies_to(results) {
        let summary = results
            .generator
            .as_ref()
            .map(|g| {
                format!(
                    " Mean {}, busiest second {}; {} saturated.",
                    units::rate(g.cpu_mean),
                    units::rate(g.cpu_max),
                    units::duration_ms(u64::from(g.saturated_seconds) * 1000),
                )
            })
            .unwrap_or_default();
        let thread = if results
            .series
            .iter()
            .any(|s| s.generator_thread_cpu.is_some())
        {
            format!(
                " The red line is its busiest thread, as a share of one core: above the dashed \
                 line ({}) the generator is saturated, and its latencies measure it too.",
                units::rate(GeneratorStats::SATURATED_THREAD_CPU)
            )
        } else {
            String::new()
        };
        figure(
            page,
            Chart::Generator,
            chart(Chart::Generator),
            &format!(
                "The load generator's own CPU use each second, as a share of all {} cores.{thread}{summary}",
                results.environment.cpu_count
            ),
        );
    }
    page.push_str("</section>\n");
}

/// The generator's start lag beside the wait for a free user, whole run:
/// the first is the generator's lateness, the second the target's.
fn start_text(a: &ArrivalStats) -> String {
    match (a.start_lag, a.waiting_for_users) {
        (Some(lag), Some(waiting)) => format!(
            " Start lag (the generator's own lateness) p99 {}; waiting for a free user (the target's slowness) p99 {}.",
            units::latency_us(lag.p99_us as f64),
            units::latency_us(waiting.p99_us as f64)
        ),
        _ => String::new(),
    }
}
