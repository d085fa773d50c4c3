//! What must hold before shards are merged: one run's shards, each once,
//! all of them (unless a partial merge is asked for), in this version of
//! the results format. A merge of anything else would be a number no run
//! measured.

use std::{collections::BTreeMap, time::SystemTime};

use reports::results::{BudgetVerdict, RESULTS_VERSION, Results, ShardInfo};

use super::{MergeError, ShardFile};

/// The shards' start times may differ by this much before a merge warns.
const START_SPREAD_WARNING_MS: u128 = 1_000;

/// The shards, checked, with their start times; the warnings to print.
pub(super) struct Checked {
    /// The shards' count.
    pub count: u32,
    pub started: Vec<SystemTime>,
    pub warnings: Vec<String>,
}

/// Checks `shards`; see the module docs. `allow_partial` lets shards be
/// missing (a pod that failed), never repeated.
pub(super) fn check(shards: &[ShardFile], allow_partial: bool) -> Result<Checked, MergeError> {
    let first = shards.first().ok_or(MergeError::NoFiles)?;
    let mut by_index: BTreeMap<u32, &str> = BTreeMap::new();
    let mut started = Vec::with_capacity(shards.len());
    let mut count = None;
    for shard in shards {
        let refuse = |why: String| MergeError::Refused {
            file: shard.file.clone(),
            why,
        };
        let run = &shard.results.run;
        if shard.results.version != RESULTS_VERSION {
            return Err(refuse(format!(
                "it is results version {}, and merge reads version {RESULTS_VERSION} only: shards of older versions keep no shard metadata. Run every shard with this loadgate",
                shard.results.version
            )));
        }
        let Some(ShardInfo { index, count: of }) = run.shard else {
            return Err(refuse(
                "it has no shard metadata: it was not run with --shard (or --shards)".to_owned(),
            ));
        };
        if index >= of {
            return Err(refuse(format!(
                "it says it is shard {index} of {of}, which is not one (0 to {})",
                of.saturating_sub(1)
            )));
        }
        if *count.get_or_insert(of) != of {
            return Err(refuse(format!(
                "it is shard {index}/{of}, but {} is of {} shards",
                first.file,
                count.unwrap_or(of)
            )));
        }
        if let Some(other) = by_index.insert(index, &shard.file) {
            return Err(refuse(format!(
                "it is shard {index}/{of}, and so is {other}"
            )));
        }
        if run.run_id != first.results.run.run_id {
            return Err(refuse(format!(
                "its run id is {}, and {}'s is {}: they are shards of different runs",
                shown(run.run_id.as_deref()),
                first.file,
                shown(first.results.run.run_id.as_deref())
            )));
        }
        let scenario = &shard.results.scenario;
        let expected = &first.results.scenario;
        // The text as read: the same requests, weights, stages and budgets.
        if scenario.name != expected.name || scenario.source != expected.source {
            return Err(refuse(format!(
                "it ran scenario `{}`, and {} ran `{}`{}",
                scenario.name,
                first.file,
                expected.name,
                if scenario.name == expected.name {
                    " from another text"
                } else {
                    ""
                }
            )));
        }
        if scenario.overrides != expected.overrides
            || stage_times(&shard.results) != stage_times(&first.results)
        {
            return Err(refuse(format!(
                "its stages differ from {}'s: every shard must run the scenario with the same --scale, --duration and --users",
                first.file
            )));
        }
        if run.latency_basis != first.results.run.latency_basis
            || run.latency_of != first.results.run.latency_of
            || !same_budgets(&shard.results.budgets, &first.results.budgets)
        {
            return Err(refuse(format!(
                "its budgets or latency basis differ from {}'s",
                first.file
            )));
        }
        let at = humantime::parse_rfc3339(&run.started_at).map_err(|e| {
            refuse(format!(
                "its start time `{}` is not RFC 3339: {e}",
                run.started_at
            ))
        })?;
        started.push(at);
    }
    let count = count.expect("there is a first shard");
    let missing: Vec<String> = (0..count)
        .filter(|i| !by_index.contains_key(i))
        .map(|i| i.to_string())
        .collect();
    let mut warnings = Vec::new();
    if !missing.is_empty() {
        let what = format!(
            "shard{} {} of {count} missing",
            if missing.len() == 1 { "" } else { "s" },
            missing.join(", ")
        );
        if !allow_partial {
            return Err(MergeError::Missing(format!(
                "{what}: give every shard's results, or --allow-partial to merge these alone"
            )));
        }
        warnings.push(format!(
            "{what}: the merge holds only part of the run's load"
        ));
    }
    let earliest = started.iter().min().copied().expect("there is a shard");
    let latest = started.iter().max().copied().expect("there is a shard");
    let spread = latest.duration_since(earliest).unwrap_or_default();
    if spread.as_millis() > START_SPREAD_WARNING_MS {
        warnings.push(format!(
            "the shards started {:.1} s apart: their stages did not line up (use --start-at), so the merged seconds mix different stages",
            spread.as_secs_f64()
        ));
    }
    Ok(Checked {
        count,
        started,
        warnings,
    })
}

fn shown(id: Option<&str>) -> String {
    id.map_or_else(|| "not set".to_owned(), |id| format!("`{id}`"))
}

/// The stages' times: users differ by shard, times never.
fn stage_times(results: &Results) -> Vec<(Option<&str>, u64, u64)> {
    results
        .scenario
        .stages
        .iter()
        .map(|s| (s.name.as_deref(), s.start_ms, s.end_ms))
        .collect()
}

/// The same budgets: scopes, metrics, limits and abort rules (not what
/// each shard measured, or whether its abort fired).
fn same_budgets(a: &[BudgetVerdict], b: &[BudgetVerdict]) -> bool {
    let rule = |v: &BudgetVerdict| {
        (
            v.scope.clone(),
            v.metric,
            v.limit.to_bits(),
            v.abort.map(|a| (a.window_ms, a.after_ms)),
        )
    };
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| rule(a) == rule(b))
}
