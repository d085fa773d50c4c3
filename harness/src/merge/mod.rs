//! `loadgate merge`: the shards of one run, made by several generators
//! (`run --shard i/N`), as the results of one run, judged once.
//!
//! Every latency figure is recomputed from the shards' HDR histograms
//! added together, never from their percentiles: a merged p99 is the p99
//! of every sample of every shard, exactly as if one generator had made
//! them all. What a merge does to each part of the results:
//! * requests and the whole run (`windows`): counts and errors by kind
//!   added, histograms (all, successful, failed, service time; the
//!   phases') added, rates over the merged run's span;
//! * the per-second series (`series`): aligned on wall-clock seconds
//!   (each shard shifted by its start's distance from the earliest, in
//!   whole seconds), users added, percentiles from each second's
//!   histograms added;
//! * arrivals: counts added, start lag and wait from their histograms;
//! * the server's metrics (`server`): taken once, not added up, from
//!   the earliest successful scrape before the run of any shard to the
//!   latest after it;
//! * the budgets: judged again on the merged figures; a shard that
//!   aborted aborts the merged run, which ends in the worst shard's status.
//!
//! The checks before any of this are in `checks`.

mod checks;
mod series;
mod server;
mod windows;

use std::time::SystemTime;

use reports::{
    histogram::{self, Histogram},
    results::{
        ArrivalCounts, ArrivalStats, Environment, MergedFrom, MergedShard, RESULTS_FORMAT,
        RESULTS_VERSION, Results, RunInfo, RunStatus, ScenarioRun, Verdict,
    },
};

use crate::{
    judge::{
        assemble::{self, judged_window},
        budget::{self, Evidence},
    },
    run::recorder::StartTally,
};

/// One shard's results and the file they came from.
#[derive(Debug, Clone)]
pub struct ShardFile {
    /// The file, as given on the command line.
    pub file: String,
    pub results: Results,
}

/// The merged results, and what the merge has to say about them.
#[derive(Debug)]
pub struct Merged {
    pub results: Results,
    /// Shards missing (with `--allow-partial`), starts that did not line up.
    pub warnings: Vec<String>,
}

/// Why shards cannot be merged; every one is bad input (exit 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("nothing to merge: give the shards' results files")]
    NoFiles,
    /// A file that is not a shard of this run.
    #[error("{file}: cannot merge it: {why}")]
    Refused { file: String, why: String },
    /// Shards missing, without `--allow-partial`.
    #[error("{0}")]
    Missing(String),
}

/// Merges `shards`; see the module docs.
///
/// # Errors
/// [`MergeError`] when the files are not the shards of one run, or one
/// holds a histogram that cannot be read.
pub fn merge(mut shards: Vec<ShardFile>, allow_partial: bool) -> Result<Merged, MergeError> {
    shards.sort_by_key(|s| s.results.run.shard.map(|s| s.index));
    let checked = checks::check(&shards, allow_partial)?;
    let earliest = *checked.started.iter().min().expect("checked: a shard");
    let parts: Vec<windows::Part<'_>> = shards
        .iter()
        .zip(&checked.started)
        .map(|(shard, &at)| windows::Part {
            file: &shard.file,
            results: &shard.results,
            offset_ms: millis_after(at, earliest),
            offset_s: whole_seconds_after(at, earliest),
        })
        .collect();
    let first = &shards[0].results;
    let (overall, requests) = windows::endpoints(&parts)?;
    let series = series::seconds(&parts)?;
    let judged_seconds = series::judged(&series, &first.scenario);
    let arrivals = arrivals(&parts, &judged_seconds)?;
    let server = server::merge(&parts)?;
    let in_process_target = parts
        .iter()
        .any(|p| p.results.environment.in_process_target);
    let generator = assemble::generator(&series, &judged_seconds, in_process_target);
    let mut budgets = budget::rejudge(
        &first.budgets,
        first.run.latency_of,
        |scope| judged_window(&overall, &requests, scope),
        Evidence {
            arrivals: arrivals.as_ref(),
            server: server.as_ref(),
            aborted_by: None,
        },
    );
    for (index, verdict) in budgets.iter_mut().enumerate() {
        if let Some(rule) = &mut verdict.abort {
            rule.triggered_at_ms = parts
                .iter()
                .filter_map(|p| {
                    let at = p.results.budgets[index].abort?.triggered_at_ms?;
                    Some(at + p.offset_ms)
                })
                .min();
        }
    }
    let (status, stop_reason) = status(&parts);
    let results = Results {
        format: RESULTS_FORMAT.to_owned(),
        version: RESULTS_VERSION,
        tool: assemble::tool(),
        run: RunInfo {
            started_at: humantime::format_rfc3339_millis(earliest).to_string(),
            duration_ms: windows::span_ms(parts.iter().map(|p| (p, p.results.run.duration_ms))),
            status,
            stop_reason,
            latency_basis: first.run.latency_basis,
            latency_of: first.run.latency_of,
            run_id: first.run.run_id.clone(),
            shard: None,
            merged: Some(MergedFrom {
                count: checked.count,
                shards: parts
                    .iter()
                    .map(|p| MergedShard {
                        index: p.results.run.shard.map_or(0, |s| s.index),
                        file: p.file.to_owned(),
                        started_at: p.results.run.started_at.clone(),
                        status: p.results.run.status,
                        offset_s: p.offset_s,
                    })
                    .collect(),
            }),
        },
        scenario: scenario(&parts),
        environment: environment(&parts),
        verdict: Verdict::of(&budgets),
        overall,
        requests,
        series,
        arrivals,
        server,
        generator,
        budgets,
    };
    Ok(Merged {
        results,
        warnings: checked.warnings,
    })
}

/// Milliseconds from `earliest` to `at`: how much later a shard started.
fn millis_after(at: SystemTime, earliest: SystemTime) -> u64 {
    let after = at.duration_since(earliest).unwrap_or_default();
    u64::try_from(after.as_millis()).unwrap_or(u64::MAX)
}

/// Whole seconds from `earliest` to `at`, to the nearest: how far a
/// shard's series is shifted to line up with the earliest shard's.
fn whole_seconds_after(at: SystemTime, earliest: SystemTime) -> u32 {
    u32::try_from(millis_after(at, earliest).saturating_add(500) / 1000).unwrap_or(u32::MAX)
}

/// The merged run's status: any shard's abort aborts it; otherwise the
/// worst of the rest (unreachable, then interrupted), with that shard's
/// reason.
fn status(parts: &[windows::Part<'_>]) -> (RunStatus, Option<String>) {
    let rank = |status: RunStatus| match status {
        RunStatus::Aborted => 3,
        RunStatus::Unreachable => 2,
        RunStatus::Interrupted => 1,
        RunStatus::Completed => 0,
    };
    let worst = parts
        .iter()
        .max_by_key(|p| rank(p.results.run.status))
        .expect("a merge has shards");
    let run = &worst.results.run;
    let reason = run.stop_reason.as_ref().map(|why| {
        let index = run.shard.map_or(0, |s| s.index);
        format!("shard {index} ({}): {why}", worst.file)
    });
    (run.status, reason)
}

/// The scenario as run by all the shards: each stage's users added up.
fn scenario(parts: &[windows::Part<'_>]) -> ScenarioRun {
    let mut scenario = parts[0].results.scenario.clone();
    for (i, stage) in scenario.stages.iter_mut().enumerate() {
        let users = |pick: fn(&reports::results::StageRun) -> u32| {
            parts
                .iter()
                .filter_map(|p| p.results.scenario.stages.get(i).map(pick))
                .sum()
        };
        stage.from_users = users(|s| s.from_users);
        stage.to_users = users(|s| s.to_users);
    }
    scenario
}

/// Where the shards ran: their targets (one, normally), every generator's
/// CPUs added up.
fn environment(parts: &[windows::Part<'_>]) -> Environment {
    let mut targets: Vec<&str> = Vec::new();
    for part in parts {
        let target = part.results.environment.target.as_str();
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    let first = &parts[0].results.environment;
    Environment {
        target: targets.join(", "),
        in_process_target: parts
            .iter()
            .any(|p| p.results.environment.in_process_target),
        cpu_count: parts.iter().map(|p| p.results.environment.cpu_count).sum(),
        os: first.os.clone(),
    }
}

/// The arrivals of an open model: counts added, the start lag and the
/// wait for a free user from their histograms added, the note on a target
/// too slow for the users written again over the merged seconds.
fn arrivals(
    parts: &[windows::Part<'_>],
    judged_seconds: &[&reports::results::SecondStats],
) -> Result<Option<ArrivalStats>, MergeError> {
    let all: Vec<(&windows::Part<'_>, &ArrivalStats)> = parts
        .iter()
        .filter_map(|p| p.results.arrivals.as_ref().map(|a| (p, a)))
        .collect();
    if all.is_empty() {
        return Ok(None);
    }
    let mut counted = ArrivalStats::default();
    let mut judged: Option<ArrivalCounts> = None;
    let mut starts = StartTally {
        start_lag: histogram::new_histogram(),
        waiting_for_users: histogram::new_histogram(),
    };
    for (part, stats) in &all {
        counted.intended += stats.intended;
        counted.started += stats.started;
        counted.dropped += stats.dropped;
        counted.late += stats.late;
        if let Some(more) = stats.judged {
            let sum = judged.get_or_insert_default();
            sum.intended += more.intended;
            sum.started += more.started;
            sum.dropped += more.dropped;
            sum.late += more.late;
        }
        let histograms = stats.histograms.clone().unwrap_or_default();
        add_encoded(&mut starts.start_lag, histograms.start_lag.as_deref(), part)?;
        add_encoded(
            &mut starts.waiting_for_users,
            histograms.waiting_for_users.as_deref(),
            part,
        )?;
    }
    counted.judged = judged;
    let max_users = parts
        .iter()
        .map(|p| {
            p.results
                .scenario
                .stages
                .iter()
                .map(|s| s.from_users.max(s.to_users))
                .max()
                .unwrap_or(0)
        })
        .sum();
    Ok(Some(assemble::arrival_stats(
        counted,
        Some(&starts),
        judged_seconds,
        max_users,
    )))
}

/// Adds the histogram `encoded` (when there is one) into `into`.
fn add_encoded(
    into: &mut Histogram,
    encoded: Option<&str>,
    part: &windows::Part<'_>,
) -> Result<(), MergeError> {
    let Some(encoded) = encoded else {
        return Ok(());
    };
    part.add_into(into, encoded, "an arrival histogram")
}

#[cfg(test)]
mod tests;
