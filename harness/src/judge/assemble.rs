//! Turns what a run measured ([`Measured`]) and what is known about it
//! into the results file's [`Results`], judging the budgets on the way.

use std::time::SystemTime;

use reports::results::{
    ArrivalStats, EndpointStats, Environment, GeneratorStats, LatencySummary, Overrides, Phases,
    RESULTS_FORMAT, RESULTS_VERSION, Results, RunInfo, RunStatus, ScenarioRun, SecondStats,
    StageRun, Tool, Verdict, Window,
};
use scenario::{
    Plan, Timeline,
    duration::{whole_micros, whole_millis},
};

use super::budget::{self, Evidence};
use crate::run::{
    Ending, Measured,
    recorder::{NameStats, PhaseTally, Tally},
};

/// What the results record besides the measurements.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// The scenario file as given.
    pub scenario_file: String,
    pub overrides: Overrides,
    pub target: String,
    pub in_process_target: bool,
}

/// The results' status and stop reason for how a run ended.
pub fn status(ending: &Ending) -> (RunStatus, Option<String>) {
    match ending {
        Ending::Completed => (RunStatus::Completed, None),
        Ending::Unreachable(cause) => (RunStatus::Unreachable, Some(cause.clone())),
        Ending::Aborted(aborted) => (RunStatus::Aborted, Some(aborted.reason.clone())),
        Ending::Terminated => (RunStatus::Interrupted, Some("SIGTERM".to_owned())),
        Ending::Interrupted => (RunStatus::Interrupted, Some("SIGINT".to_owned())),
    }
}

/// The results of a run of `plan` on `timeline`.
pub fn assemble(plan: &Plan, timeline: &Timeline, measured: &Measured, meta: RunMeta) -> Results {
    let recording = &measured.recording;
    // The windows end with the timeline: the engine takes a moment more to
    // stop its users, in which none of them runs.
    let run_us = whole_micros(recording.run_duration.min(timeline.total()));
    let judged_us = recording.judged.duration_within(run_us);
    let endpoint = |name: &str, stats: &NameStats| EndpointStats {
        name: name.to_owned(),
        all: window(&stats.all, run_us),
        judged: (!recording.judged.is_whole_run()).then(|| window(&stats.judged, judged_us)),
        status_codes: stats.status_codes.clone(),
        phases: phases(&stats.phases),
    };
    let overall = endpoint("overall", &recording.overall);
    let requests: Vec<EndpointStats> = recording
        .names
        .iter()
        .zip(&recording.per_name)
        .map(|(name, stats)| endpoint(name, stats))
        .collect();
    let aborted = match &measured.ending {
        Ending::Aborted(aborted) => Some(aborted),
        _ => None,
    };
    let budgets = budget::judge(
        plan.budgets(),
        |name| judged_window(&overall, &requests, name),
        Evidence {
            arrivals: measured.arrivals.as_ref(),
            server: measured.server.as_ref(),
            aborted_by: aborted,
        },
    );
    let cpu_count = std::thread::available_parallelism()
        .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
    let generator = generator(
        &recording.seconds,
        cpu_count,
        measured.arrivals.as_ref(),
        meta.in_process_target,
    );
    let (status, stop_reason) = status(&measured.ending);
    Results {
        format: RESULTS_FORMAT.to_owned(),
        version: RESULTS_VERSION,
        tool: Tool {
            name: "loadgate".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        run: RunInfo {
            started_at: rfc3339_millis(measured.started_at),
            duration_ms: whole_millis(recording.run_duration),
            status,
            stop_reason,
            latency_basis: recording.basis,
        },
        scenario: ScenarioRun {
            name: plan.name().to_owned(),
            description: Some(plan.description().to_owned()).filter(|d| !d.is_empty()),
            file: meta.scenario_file,
            source: plan.source().to_owned(),
            overrides: meta.overrides,
            stages: timeline
                .stages()
                .iter()
                .map(|span| StageRun {
                    name: span.name.clone(),
                    start_ms: whole_millis(span.start),
                    end_ms: whole_millis(span.end),
                    from_users: span.from_users,
                    to_users: span.to_users,
                })
                .collect(),
            judged_stages: plan.budgets().during.clone().unwrap_or_default(),
        },
        environment: Environment {
            target: meta.target,
            in_process_target: meta.in_process_target,
            cpu_count,
            os: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
        },
        verdict: Verdict::of(&budgets),
        arrivals: measured.arrivals,
        server: measured.server.clone(),
        generator,
        budgets,
        overall,
        requests,
        series: recording.seconds.clone(),
    }
}

/// The window a budget of `scope` judges: the overall one for `None`, a
/// request's by name; `None` for a name the run has no stats for.
pub fn judged_window<'a>(
    overall: &'a EndpointStats,
    requests: &'a [EndpointStats],
    scope: Option<&str>,
) -> Option<&'a Window> {
    match scope {
        None => Some(overall.judged_window()),
        Some(name) => requests
            .iter()
            .find(|r| r.name == name)
            .map(EndpointStats::judged_window),
    }
}

fn rfc3339_millis(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// The generator's CPU over the series, and a warning when it ran hot or
/// fell behind its schedule: then its latencies include its own delays.
fn generator(
    seconds: &[SecondStats],
    cpu_count: u32,
    arrivals: Option<&ArrivalStats>,
    in_process_target: bool,
) -> Option<GeneratorStats> {
    let cpu: Vec<f64> = seconds.iter().filter_map(|s| s.generator_cpu).collect();
    if cpu.is_empty() {
        return None;
    }
    let saturated = cpu
        .iter()
        .filter(|&&c| c > GeneratorStats::SATURATED_CPU)
        .count();
    let cpu_max = cpu.iter().copied().fold(0.0, f64::max);
    let mut causes = Vec::new();
    // A second or two at the limit (start-up, the final reports) is not a
    // run measuring its generator; a tenth of the run is.
    if saturated >= 3.max(cpu.len() / 10) {
        causes.push(format!(
            "loadgate used more than {:.0}% of its {} CPUs for {saturated}s (peak {:.0}%)",
            GeneratorStats::SATURATED_CPU * 100.0,
            cpu_count,
            cpu_max * 100.0
        ));
    }
    if let Some(a) = arrivals.filter(|a| a.started > 0 && a.late * 100 > a.started) {
        causes.push(format!(
            "{} of {} arrivals ({:.1}%) started more than 10 ms late",
            a.late,
            a.started,
            a.late as f64 * 100.0 / a.started as f64
        ));
    }
    let warning = (!causes.is_empty()).then(|| {
        let mut text = format!(
            "The load generator was saturated: {}. Its latencies then include its own delays.",
            causes.join("; ")
        );
        if in_process_target {
            text.push_str(
                " The bundled target ran in the same process and its CPU is counted too: run it apart (`loadgate serve`) to load it harder.",
            );
        }
        text
    });
    Some(GeneratorStats {
        cpu_mean: cpu.iter().sum::<f64>() / cpu.len() as f64,
        cpu_max,
        saturated_seconds: u32::try_from(saturated).unwrap_or(u32::MAX),
        warning,
    })
}

fn phases(tally: &PhaseTally) -> Option<Phases> {
    (!tally.ttfb.is_empty()).then(|| Phases {
        connects: tally.connects,
        connect: LatencySummary::of(&tally.connect),
        ttfb: LatencySummary::of(&tally.ttfb),
        transfer: LatencySummary::of(&tally.transfer),
    })
}

fn window(tally: &Tally, duration_us: u64) -> Window {
    Window::of(
        tally.count,
        tally.errors,
        duration_us,
        &tally.histogram,
        tally.service.as_ref(),
    )
}
