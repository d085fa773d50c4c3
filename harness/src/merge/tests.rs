use std::time::{Duration, SystemTime};

use super::*;

#[test]
fn a_shard_is_shifted_by_its_start_to_the_nearest_whole_second() {
    let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let after = |ms| whole_seconds_after(t0 + Duration::from_millis(ms), t0);
    assert_eq!(
        [after(0), after(499), after(500), after(1_700)],
        [0, 0, 1, 2]
    );
    assert_eq!(whole_seconds_after(t0, t0 + Duration::from_secs(5)), 0);
}

/// The reports' fixture run, as shard `index` of 2 of one run, started
/// `late_ms` after `2025-06-02T09:30:00Z`.
fn shard(index: u32, late_ms: u64) -> ShardFile {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../reports/tests/fixtures/passing.json"
    );
    let mut results = Results::read(std::path::Path::new(path)).unwrap();
    results.run.run_id = Some("fixture".to_owned());
    results.run.shard = Some(reports::results::ShardInfo { index, count: 2 });
    let start = humantime::parse_rfc3339("2025-06-02T09:30:00Z").unwrap();
    results.run.started_at =
        humantime::format_rfc3339_millis(start + Duration::from_millis(late_ms)).to_string();
    ShardFile {
        file: format!("shard-{index}.json"),
        results,
    }
}

#[test]
fn a_later_shards_seconds_line_up_on_the_wall_clock() {
    let (early, late) = (shard(0, 0), shard(1, 2_300));
    let merged = merge(vec![late.clone(), early.clone()], false).unwrap();
    let spread = &merged.warnings[0];
    assert!(
        spread.starts_with("the shards started 2.3 s apart"),
        "{spread}"
    );
    let results = merged.results;
    let (a, b) = (&early.results.series, &late.results.series);
    assert_eq!(results.series.len(), a.len() + 2);
    for second in &results.series {
        let s = second.second as usize;
        let from_a = a.get(s);
        let from_b = s.checked_sub(2).and_then(|s| b.get(s));
        let count = from_a.map_or(0, |x| x.count) + from_b.map_or(0, |x| x.count);
        assert_eq!(second.count, count, "second {s}");
        let users = from_a.map_or(0, |x| x.users) + from_b.map_or(0, |x| x.users);
        assert_eq!(second.users, users, "second {s}");
        let mut fed = histogram::new_histogram();
        for part in from_a.into_iter().chain(from_b) {
            fed.add(histogram::decode(part.histogram.as_ref().unwrap()).unwrap())
                .unwrap();
        }
        assert_eq!(second.p99_us, fed.value_at_quantile(0.99), "second {s}");
    }
    let offsets: Vec<u32> = results
        .run
        .merged
        .unwrap()
        .shards
        .iter()
        .map(|s| s.offset_s)
        .collect();
    assert_eq!(offsets, [0, 2]);
    assert_eq!(
        results.overall.all.count,
        2 * early.results.overall.all.count
    );
    assert_eq!(
        results.run.duration_ms,
        2_300 + early.results.run.duration_ms,
        "the run lasts from the first shard's start to the last one's end"
    );
    let all = &results.overall.all;
    assert_eq!(
        all.duration_ms,
        2_300 + early.results.overall.all.duration_ms
    );
    let judged = results.overall.judged.as_ref().unwrap();
    let one = early.results.overall.judged.as_ref().unwrap();
    assert_eq!(
        judged.duration_ms,
        2_300 + one.duration_ms,
        "the judged stages' span"
    );
    assert_eq!(judged.count, 2 * one.count);
}

#[test]
fn an_aborted_shard_aborts_the_merge_and_its_abort_is_kept() {
    let rule = reports::results::AbortRule {
        window_ms: 5_000,
        after_ms: 10_000,
        triggered_at_ms: None,
    };
    let mut early = shard(0, 0);
    early.results.budgets[0].abort = Some(rule);
    let mut aborted = shard(1, 1_200);
    aborted.results.budgets[0].abort = Some(reports::results::AbortRule {
        triggered_at_ms: Some(30_000),
        ..rule
    });
    aborted.results.run.status = RunStatus::Aborted;
    aborted.results.run.stop_reason = Some("p95 over budget".to_owned());
    let merged = merge(vec![early.clone(), aborted], false).unwrap().results;
    assert_eq!(merged.run.status, RunStatus::Aborted);
    assert_eq!(
        merged.run.stop_reason.as_deref(),
        Some("shard 1 (shard-1.json): p95 over budget")
    );
    let budget = &merged.budgets[0];
    assert_eq!(
        budget.abort.unwrap().triggered_at_ms,
        Some(31_200),
        "on the merged clock"
    );
    assert!(budget.passed, "its value over the whole run holds");
    assert!(!merged.verdict.passed, "but it stopped the run");
    let mut calm = shard(1, 0);
    calm.results.budgets[0].abort = Some(rule);
    let whole = merge(vec![early, calm], false).unwrap().results;
    assert!(whole.verdict.passed, "no shard aborted");
}

#[test]
fn a_shard_number_past_the_count_is_refused() {
    let mut odd = shard(1, 0);
    odd.results.run.shard = Some(reports::results::ShardInfo { index: 2, count: 2 });
    let err = merge(vec![shard(0, 0), odd], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "shard-1.json: cannot merge it: it says it is shard 2 of 2, which is not one (0 to 1)"
    );
}
