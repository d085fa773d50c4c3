//! The merged per-second series, on wall-clock seconds.
//!
//! Second `s` of the merge holds second `s − offset` of each shard, the
//! offset being how many whole seconds after the earliest shard it
//! started. Counts, errors, status classes and users are added; the
//! percentiles come from the seconds' histograms added, never from the
//! shards' percentiles. What has no histogram per second is the busiest
//! shard's: the generators' CPU, start lag and wait for a free user (each
//! a property of one generator, which the saturation rule asks of any);
//! the service time's p99 is left out, as no histogram of it is kept.

use std::collections::BTreeMap;

use reports::{
    histogram,
    results::{LatencySummary, ScenarioRun, SecondStats},
};

use super::{MergeError, windows::Part};

/// The merged seconds, in order, over every second any shard has.
pub(super) fn seconds(parts: &[Part<'_>]) -> Result<Vec<SecondStats>, MergeError> {
    let mut by_second: BTreeMap<u32, Vec<(&Part<'_>, &SecondStats)>> = BTreeMap::new();
    for part in parts {
        for second in &part.results.series {
            by_second
                .entry(second.second + part.offset_s)
                .or_default()
                .push((part, second));
        }
    }
    by_second
        .into_iter()
        .map(|(second, of)| merge_second(second, &of))
        .collect()
}

fn merge_second(second: u32, of: &[(&Part<'_>, &SecondStats)]) -> Result<SecondStats, MergeError> {
    let mut merged = SecondStats {
        second,
        count: 0,
        errors: Default::default(),
        status_classes: BTreeMap::new(),
        p50_us: 0,
        p95_us: 0,
        p99_us: 0,
        max_us: 0,
        service_p99_us: None,
        users: 0,
        generator_cpu: None,
        generator_thread_cpu: None,
        start_lag_p99_us: None,
        waiting_for_users_p99_us: None,
        histogram: None,
    };
    let mut latencies = histogram::new_histogram();
    for (part, s) in of {
        merged.count += s.count;
        merged.errors.add(&s.errors);
        for (class, n) in &s.status_classes {
            *merged.status_classes.entry(class.clone()).or_insert(0) += n;
        }
        merged.users += s.users;
        let Some(encoded) = &s.histogram else {
            return Err(part.refuse(format!(
                "second {} keeps no histogram, so its percentiles cannot be merged",
                s.second
            )));
        };
        part.add_into(&mut latencies, encoded, "a second's histogram")?;
        merged.generator_cpu = busiest(merged.generator_cpu, s.generator_cpu);
        merged.generator_thread_cpu = busiest(merged.generator_thread_cpu, s.generator_thread_cpu);
        merged.start_lag_p99_us = merged.start_lag_p99_us.max(s.start_lag_p99_us);
        merged.waiting_for_users_p99_us = merged
            .waiting_for_users_p99_us
            .max(s.waiting_for_users_p99_us);
    }
    let summary = LatencySummary::of(&latencies);
    merged.p50_us = summary.p50_us;
    merged.p95_us = summary.p95_us;
    merged.p99_us = summary.p99_us;
    merged.max_us = summary.max_us;
    merged.histogram = Some(histogram::encode(&latencies));
    Ok(merged)
}

fn busiest(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    }
}

/// The merged seconds the budgets judge: those starting in a judged stage
/// of the scenario (every second when it judges the whole run).
pub(super) fn judged<'a>(
    series: &'a [SecondStats],
    scenario: &ScenarioRun,
) -> Vec<&'a SecondStats> {
    let spans: Vec<(u64, u64)> = scenario
        .stages
        .iter()
        .filter(|stage| {
            stage
                .name
                .as_ref()
                .is_some_and(|name| scenario.judged_stages.contains(name))
        })
        .map(|stage| (stage.start_ms, stage.end_ms))
        .collect();
    series
        .iter()
        .filter(|s| {
            let at = u64::from(s.second) * 1000;
            scenario.judged_stages.is_empty()
                || spans.iter().any(|&(start, end)| (start..end).contains(&at))
        })
        .collect()
}
