//! Turns a [`Recording`] and what is known about the run into the results
//! file's [`Results`], judging the budgets on the way.

use std::time::{Duration, SystemTime};

use reports::{
    histogram,
    results::{
        ArrivalStats, EndpointStats, Environment, GeneratorStats, LatencySummary, Overrides,
        Phases, RESULTS_FORMAT, RESULTS_VERSION, Results, RunInfo, RunStatus, ScenarioRun,
        SecondStats, ServerStats, StageRun, Tool, Verdict, Window,
    },
};

use crate::{
    budget::{self, Aborted, Evidence},
    plan::Plan,
    recorder::{JudgedSpans, NameStats, PhaseTally, Recording, Tally},
};

/// What the results record besides the measurements.
#[derive(Debug, Clone)]
pub struct RunMeta {
    pub started_at: SystemTime,
    /// The scenario file as given.
    pub scenario_file: String,
    pub overrides: Overrides,
    pub target: String,
    pub in_process_target: bool,
    pub status: RunStatus,
    pub stop_reason: Option<String>,
    /// The fate of the arrivals, for a run on a schedule.
    pub arrivals: Option<ArrivalStats>,
    /// The target's own metrics, when they were scraped.
    pub server: Option<ServerStats>,
    /// The budget that stopped the run early, if one did.
    pub aborted: Option<Aborted>,
}

/// Which spans of the run budgets judge: the stages named in
/// `budgets.during`, or (empty) the whole run.
pub fn judged_spans(plan: &Plan) -> JudgedSpans {
    let Some(during) = &plan.budgets().during else {
        return JudgedSpans::default();
    };
    JudgedSpans(
        plan.timeline()
            .iter()
            .filter(|span| span.name.as_ref().is_some_and(|n| during.contains(n)))
            .map(|span| (micros(span.start), micros(span.end)))
            .collect(),
    )
}

pub fn assemble(plan: &Plan, recording: &Recording, meta: RunMeta) -> Results {
    let run_us = micros(recording.run_duration);
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
    let budgets = budget::judge(
        plan.budgets(),
        |name| match name {
            None => Some(overall.judged_window()),
            Some(name) => requests
                .iter()
                .find(|r| r.name == name)
                .map(EndpointStats::judged_window),
        },
        Evidence {
            arrivals: meta.arrivals.as_ref(),
            server: meta.server.as_ref(),
            aborted_by: meta.aborted.as_ref(),
        },
    );
    let cpu_count = std::thread::available_parallelism()
        .map_or(1, |n| u32::try_from(n.get()).unwrap_or(u32::MAX));
    let generator = generator(&recording.seconds, cpu_count, meta.arrivals.as_ref(), &meta);
    Results {
        format: RESULTS_FORMAT.to_owned(),
        version: RESULTS_VERSION,
        tool: Tool {
            name: "loadgate".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        run: RunInfo {
            started_at: humantime::format_rfc3339_millis(meta.started_at).to_string(),
            duration_ms: u64::try_from(recording.run_duration.as_millis()).unwrap_or(u64::MAX),
            status: meta.status,
            stop_reason: meta.stop_reason,
            latency_basis: recording.basis,
        },
        scenario: ScenarioRun {
            name: plan.name().to_owned(),
            description: Some(plan.description().to_owned()).filter(|d| !d.is_empty()),
            file: meta.scenario_file,
            source: plan.source().to_owned(),
            overrides: meta.overrides,
            stages: plan
                .timeline()
                .into_iter()
                .map(|span| StageRun {
                    name: span.name,
                    start_ms: millis(span.start),
                    end_ms: millis(span.end),
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
        arrivals: meta.arrivals,
        server: meta.server,
        generator,
        budgets,
        overall,
        requests,
        series: recording.seconds.clone(),
    }
}

/// The generator's CPU over the series, and a warning when it ran hot or
/// fell behind its schedule: then its latencies include its own delays.
fn generator(
    seconds: &[SecondStats],
    cpu_count: u32,
    arrivals: Option<&ArrivalStats>,
    meta: &RunMeta,
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
        if meta.in_process_target {
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
    let errors = tally.errors.total();
    Window {
        count: tally.count,
        errors: tally.errors,
        duration_ms: duration_us / 1000,
        rps: if duration_us == 0 {
            0.0
        } else {
            tally.count as f64 / (duration_us as f64 / 1e6)
        },
        error_rate: if tally.count == 0 {
            0.0
        } else {
            errors as f64 / tally.count as f64
        },
        latency: LatencySummary::of(&tally.histogram),
        histogram: histogram::encode(&tally.histogram),
        service_latency: tally.service.as_ref().map(LatencySummary::of),
        service_histogram: tally.service.as_ref().map(histogram::encode),
    }
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
