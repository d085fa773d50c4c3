//! Turns what a run measured ([`Measured`]) and what is known about it
//! into the results file's [`Results`], judging the budgets on the way.

use std::time::SystemTime;

use reports::{
    histogram::{self, Histogram},
    results::{
        ArrivalHistograms, ArrivalStats, EndpointStats, Environment, GeneratorStats, Latencies,
        LatencySummary, Overrides, PhaseHistograms, Phases, RESULTS_FORMAT, RESULTS_VERSION,
        Results, RunInfo, RunStatus, ScenarioRun, SecondStats, ShardInfo, StageRun, Tool, Verdict,
        Window,
    },
    units::latency_us,
};
use scenario::{
    Plan, Shard, Timeline,
    duration::{whole_micros, whole_millis},
};

use super::budget::{self, Evidence};
use crate::run::{
    Ending, Measured, latency_of,
    recorder::{NameStats, PhaseTally, StartTally, Tally},
};

/// What the results record besides the measurements.
#[derive(Debug, Clone)]
pub struct RunMeta {
    /// The scenario file as given.
    pub scenario_file: String,
    pub overrides: Overrides,
    pub target: String,
    pub in_process_target: bool,
    /// `--run-id`, shared by the shards of one run.
    pub run_id: Option<String>,
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
    // The windows end with the timeline, or at the stop: the engine takes a
    // moment more to stop its users (after a stop, until their requests end
    // or time out), in which no new request starts.
    let ended = measured
        .stopped_after
        .map_or(recording.run_duration, |stop| {
            stop.min(recording.run_duration)
        });
    let run_us = whole_micros(ended.min(timeline.total()));
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
    let judged_seconds: Vec<&SecondStats> = recording
        .seconds
        .iter()
        .filter(|s| recording.judged.contains(u64::from(s.second) * 1_000_000))
        .collect();
    let generator = generator(&recording.seconds, &judged_seconds, meta.in_process_target);
    // An open model's users are its `max_users`, the stages' users.
    let arrivals = measured.arrivals.clone().map(|counted| {
        arrival_stats(
            counted,
            recording.starts.as_ref(),
            &judged_seconds,
            timeline.peak_users(),
        )
    });
    let (status, stop_reason) = status(&measured.ending);
    Results {
        format: RESULTS_FORMAT.to_owned(),
        version: RESULTS_VERSION,
        tool: tool(),
        run: RunInfo {
            started_at: rfc3339_millis(measured.started_at),
            duration_ms: whole_millis(recording.run_duration),
            status,
            stop_reason,
            latency_basis: recording.basis,
            latency_of: latency_of(plan.budgets().latency_of),
            run_id: meta.run_id,
            shard: shard_info(plan.shard()),
            merged: None,
        },
        scenario: ScenarioRun {
            name: plan.name().to_owned(),
            description: Some(plan.description().to_owned()).filter(|d| !d.is_empty()),
            file: meta.scenario_file,
            source: plan.text().to_owned(),
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
        arrivals,
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

/// This loadgate, as the results name what wrote them.
pub(crate) fn tool() -> Tool {
    Tool {
        name: "loadgate".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// A sharded plan's place among the shards; `None` for a whole run.
fn shard_info(shard: Shard) -> Option<ShardInfo> {
    (!shard.is_whole()).then(|| ShardInfo {
        index: shard.index(),
        count: shard.count(),
    })
}

fn rfc3339_millis(at: SystemTime) -> String {
    humantime::format_rfc3339_millis(at).to_string()
}

/// The generator's CPU over the series, and a warning when it was
/// saturated by the fixed rule ([`GeneratorStats`]): in some judged second,
/// a start-lag p99 above 1 ms or a thread above 90% of a core. Its latencies
/// then include its own delays. Arrivals waiting for a free user are no
/// part of it: that is the target's slowness ([`arrival_stats`]).
pub(crate) fn generator(
    seconds: &[SecondStats],
    judged: &[&SecondStats],
    in_process_target: bool,
) -> Option<GeneratorStats> {
    let cpu: Vec<f64> = seconds.iter().filter_map(|s| s.generator_cpu).collect();
    let thread_cpu_max = judged
        .iter()
        .filter_map(|s| s.generator_thread_cpu)
        .reduce(f64::max);
    let start_lag_p99_max_us = judged.iter().filter_map(|s| s.start_lag_p99_us).max();
    if cpu.is_empty() && thread_cpu_max.is_none() && start_lag_p99_max_us.is_none() {
        return None;
    }
    let saturated = judged.iter().filter(|s| s.generator_saturated()).count();
    let count = |over: &dyn Fn(&SecondStats) -> bool| judged.iter().filter(|s| over(s)).count();
    let lagging = count(&|s| {
        s.start_lag_p99_us
            .is_some_and(|us| us > GeneratorStats::SATURATED_START_LAG_P99_US)
    });
    let hot = count(&|s| {
        s.generator_thread_cpu
            .is_some_and(|cpu| cpu > GeneratorStats::SATURATED_THREAD_CPU)
    });
    let mut causes = Vec::new();
    if lagging > 0 {
        causes.push(format!(
            "its start lag had a p99 above {} in {lagging} of them (worst {})",
            latency_us(GeneratorStats::SATURATED_START_LAG_P99_US as f64),
            latency_us(start_lag_p99_max_us.unwrap_or(0) as f64)
        ));
    }
    if hot > 0 {
        causes.push(format!(
            "a thread used more than {:.0}% of a core in {hot} of them (busiest {:.0}%)",
            GeneratorStats::SATURATED_THREAD_CPU * 100.0,
            thread_cpu_max.unwrap_or(0.0) * 100.0
        ));
    }
    let warning = (!causes.is_empty()).then(|| {
        let mut text = format!(
            "The load generator was saturated in {}: {}. Its latencies then include its own delays.",
            judged_seconds(saturated),
            causes.join("; ")
        );
        if in_process_target {
            text.push_str(
                " The bundled target ran in the same process and its CPU is counted too: run it apart (`loadgate serve --seed-users 1000`, then `--target`) to load it harder.",
            );
        }
        text
    });
    Some(GeneratorStats {
        cpu_mean: if cpu.is_empty() {
            0.0
        } else {
            cpu.iter().sum::<f64>() / cpu.len() as f64
        },
        cpu_max: cpu.iter().copied().fold(0.0, f64::max),
        thread_cpu_max,
        start_lag_p99_max_us,
        saturated_seconds: u32::try_from(saturated).unwrap_or(u32::MAX),
        warning,
    })
}

/// The schedule's counts with how the arrivals started (whole run), and
/// the note when, in some judged second, they waited for a free user: the
/// target was too slow for `max_users` at this rate, which is not the
/// generator's doing.
pub(crate) fn arrival_stats(
    counted: ArrivalStats,
    starts: Option<&StartTally>,
    judged: &[&SecondStats],
    max_users: u32,
) -> ArrivalStats {
    let summary = |h: &Histogram| (!h.is_empty()).then(|| LatencySummary::of(h));
    let waited = judged.iter().filter(|s| s.waited_for_users()).count();
    let target_too_slow = (waited > 0).then(|| {
        let worst = judged
            .iter()
            .filter_map(|s| s.waiting_for_users_p99_us)
            .max()
            .unwrap_or(0);
        let dropped = match counted.judged_counts().dropped {
            0 => String::new(),
            n => format!(", and {n} were dropped unsent"),
        };
        format!(
            "In {}, arrivals waited for a free user (p99 up to {}){dropped}: every one of the {max_users} users (`max_users`) was busy with the target's answers. Raise `max_users`, or lower the rate.",
            judged_seconds(waited),
            latency_us(worst as f64)
        )
    });
    let encoded = |h: &Histogram| (!h.is_empty()).then(|| histogram::encode(h));
    ArrivalStats {
        start_lag: starts.and_then(|s| summary(&s.start_lag)),
        waiting_for_users: starts.and_then(|s| summary(&s.waiting_for_users)),
        histograms: starts.map(|s| ArrivalHistograms {
            start_lag: encoded(&s.start_lag),
            waiting_for_users: encoded(&s.waiting_for_users),
        }),
        target_too_slow,
        ..counted
    }
}

/// `1 judged second`, `3 judged seconds`.
fn judged_seconds(n: usize) -> String {
    if n == 1 {
        "1 judged second".to_owned()
    } else {
        format!("{n} judged seconds")
    }
}

fn phases(tally: &PhaseTally) -> Option<Phases> {
    (!tally.ttfb.is_empty()).then(|| Phases {
        connects: tally.connects,
        connect: LatencySummary::of(&tally.connect),
        ttfb: LatencySummary::of(&tally.ttfb),
        transfer: LatencySummary::of(&tally.transfer),
        histograms: Some(PhaseHistograms {
            connect: histogram::encode(&tally.connect),
            ttfb: histogram::encode(&tally.ttfb),
            transfer: histogram::encode(&tally.transfer),
        }),
    })
}

fn window(tally: &Tally, duration_us: u64) -> Window {
    Window::of(
        tally.count,
        tally.errors,
        duration_us,
        Latencies {
            ok: &tally.ok,
            failed: &tally.failed,
            service: tally.service.as_ref(),
        },
    )
}

#[cfg(test)]
mod tests {
    use reports::results::ErrorCounts;

    use super::*;

    fn second(second: u32) -> SecondStats {
        SecondStats {
            second,
            count: 100,
            errors: ErrorCounts::default(),
            status_classes: Default::default(),
            p50_us: 1_000,
            p95_us: 2_000,
            p99_us: 3_000,
            max_us: 4_000,
            service_p99_us: None,
            users: 10,
            generator_cpu: Some(0.2),
            generator_thread_cpu: Some(0.3),
            start_lag_p99_us: Some(200),
            waiting_for_users_p99_us: Some(0),
            histogram: None,
        }
    }

    #[test]
    fn one_judged_second_past_a_fixed_limit_saturates_the_generator() {
        let calm = [second(0), second(1)];
        let judged: Vec<&SecondStats> = calm.iter().collect();
        let stats = generator(&calm, &judged, false).unwrap();
        assert_eq!((stats.saturated_seconds, stats.warning), (0, None));

        let lagging = SecondStats {
            start_lag_p99_us: Some(1_500),
            ..second(1)
        };
        let hot = SecondStats {
            generator_thread_cpu: Some(0.95),
            ..second(2)
        };
        let seconds = [second(0), lagging, hot];
        let judged: Vec<&SecondStats> = seconds.iter().collect();
        let stats = generator(&seconds, &judged, false).unwrap();
        assert_eq!(stats.saturated_seconds, 2);
        assert_eq!(stats.start_lag_p99_max_us, Some(1_500));
        assert_eq!(stats.thread_cpu_max, Some(0.95));
        let warning = stats.warning.unwrap();
        assert!(
            warning.starts_with("The load generator was saturated in 2 judged seconds: its start lag had a p99 above 1 ms in 1 of them (worst 1.5 ms); a thread used more than 90% of a core in 1 of them (busiest 95%)."),
            "{warning}"
        );

        // The same seconds unjudged (a ramp): nothing to say.
        let judged = [&seconds[0]];
        assert_eq!(generator(&seconds, &judged, false).unwrap().warning, None);
    }

    #[test]
    fn waiting_for_users_is_the_target_too_slow_not_saturation() {
        let waiting = SecondStats {
            waiting_for_users_p99_us: Some(250_000),
            ..second(1)
        };
        let seconds = [second(0), waiting];
        let judged: Vec<&SecondStats> = seconds.iter().collect();
        assert_eq!(generator(&seconds, &judged, false).unwrap().warning, None);
        let counted = ArrivalStats {
            intended: 200,
            started: 197,
            dropped: 3,
            ..ArrivalStats::default()
        };
        let stats = arrival_stats(counted, None, &judged, 4);
        let note = stats.target_too_slow.unwrap();
        assert!(
            note.starts_with("In 1 judged second, arrivals waited for a free user (p99 up to 250 ms), and 3 were dropped unsent: every one of the 4 users"),
            "{note}"
        );
        let calm = arrival_stats(ArrivalStats::default(), None, &[&seconds[0]], 4);
        assert_eq!(calm.target_too_slow, None);
    }
}
