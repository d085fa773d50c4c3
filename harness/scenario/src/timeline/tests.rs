use std::path::Path;
use std::time::Duration;

use super::*;
use crate::{Vars, parse_plan};

const SECOND: Duration = Duration::from_secs(1);

fn plan(stages: &str) -> Plan {
    let yaml = format!(
        "version: 1\nname: t\nload:\n  stages: {stages}\nrequests: [{{name: a, method: GET, path: /a}}]\n"
    );
    parse_plan("t.yaml", &yaml, Path::new("."), &Vars::new()).unwrap()
}

const SMOKE: &str = "[{name: ramp_up, users: 8, ramp: 2s}, {name: steady, hold: 6s}, {name: ramp_down, users: 0, ramp: 2s}]";

#[test]
fn whole_second_stages_are_kept_exactly() {
    let timeline = plan(SMOKE).timeline(SECOND);
    assert_eq!(outline(&timeline), "8,2s;8,6s;0,2s");
    assert_eq!(timeline.total(), Duration::from_secs(10));
    let steady = &timeline.stages()[1];
    assert_eq!((steady.start, steady.end), (2 * SECOND, 8 * SECOND));
    assert_eq!((steady.from_users, steady.to_users), (8, 8));
}

#[test]
fn a_scaled_down_stage_keeps_a_tick_instead_of_vanishing() {
    // Smoke at --scale 0.05 is 0.1 s + 0.3 s + 0.1 s with one user; the
    // engine cannot run less than a tick of each, so the timeline says what
    // it will run.
    let timeline = plan(SMOKE).scaled(0.05).unwrap().timeline(SECOND);
    assert_eq!(outline(&timeline), "1,1s;1,1s;0,1s");
    let during = ["steady".to_owned()];
    let steady = timeline.spans_named(&during).next().unwrap();
    assert_eq!((steady.start, steady.end), (SECOND, 2 * SECOND));
}

#[test]
fn boundaries_round_to_the_nearest_tick_so_errors_do_not_add_up() {
    // 3.48 s + 34.78 s + 1.74 s = 40 s: rounding each stage up would run
    // 41 s; rounding the boundaries runs 40 s.
    let timeline = plan("[{users: 500, ramp: 1m}, {hold: 10m}, {users: 0, ramp: 30s}]")
        .capped_to(Duration::from_secs(40))
        .unwrap()
        .timeline(SECOND);
    assert_eq!(outline(&timeline), "500,3s;500,35s;0,2s");
    assert_eq!(timeline.total(), Duration::from_secs(40));
}

#[test]
fn rounding_never_runs_past_the_duration_cap() {
    for cap_ms in [1_000, 1_500, 2_000, 2_500, 2_999, 3_000, 7_300] {
        let cap = Duration::from_millis(cap_ms);
        let timeline = plan(SMOKE).capped_to(cap).unwrap().timeline(SECOND);
        assert!(
            timeline.total() <= cap,
            "{cap:?}: {} lasts {:?}",
            outline(&timeline),
            timeline.total()
        );
        assert!(timeline.total() >= SECOND, "{cap:?}");
    }
    // Too little time for a tick of each stage: the last stages give
    // theirs back, so the run still ends on time.
    let tight = plan(SMOKE).capped_to(2 * SECOND).unwrap().timeline(SECOND);
    assert_eq!(outline(&tight), "8,1s;8,1s;0,0s");
}

#[test]
fn a_later_stage_absorbs_the_tick_a_short_one_was_given() {
    let timeline = plan("[{users: 2, ramp: 300ms}, {hold: 10s}]").timeline(SECOND);
    assert_eq!(outline(&timeline), "2,1s;2,9s");
}

#[test]
fn an_uncapped_plan_may_round_up_to_keep_its_stages() {
    let timeline = plan("[{users: 2, ramp: 400ms}]").timeline(SECOND);
    assert_eq!(outline(&timeline), "2,1s");
}

#[test]
fn a_zero_length_stage_stays_an_instant_change() {
    let timeline = plan("[{users: 4, ramp: 0s}, {hold: 2s}]").timeline(SECOND);
    assert_eq!(outline(&timeline), "4,0s;4,2s");
    assert_eq!(timeline.stage_at(Duration::ZERO).index, 1);
}

#[test]
fn a_step_jumps_at_its_start_in_users_and_in_rate() {
    let mut plan = parse_plan(
        "s.yaml",
        "version: 2\nname: s\nload:\n  model: open\n  max_users: 10\n  stages:\n    - {rate: 100/s, ramp: 2s}\n    - {rate: 200/s, ramp: 1s}\nrequests: [{name: r, method: GET, path: /r}]\n",
        Path::new("."),
        &Vars::new(),
    )
    .unwrap();
    plan.stages[1].shape = StageShape::Step { to_users: 10 };
    let timeline = plan.timeline(SECOND);
    assert_eq!(outline(&timeline), "10,2s;!10,1s");
    assert_eq!(timeline.stages()[1].motion, Motion::Step);
    // A ramp 0 → 100/s over 2 s brings 100 arrivals; a step to 200/s held
    // for 1 s brings 200 (a ramp from 100/s would bring 150).
    assert_eq!(timeline.arrivals().count(), 300);
}

#[test]
fn stage_at_maps_offsets_to_stages_and_past_the_end_to_the_last() {
    let timeline = plan(SMOKE).timeline(SECOND);
    assert_eq!(timeline.stage_at(Duration::ZERO).index, 0);
    assert_eq!(
        timeline.stage_at(2 * SECOND).name.as_deref(),
        Some("steady")
    );
    assert_eq!(timeline.stage_at(Duration::from_millis(7_999)).index, 1);
    assert_eq!(timeline.stage_at(Duration::from_secs(99)).index, 2);
    assert!(timeline.stages()[1].contains(2 * SECOND));
    assert!(!timeline.stages()[1].contains(8 * SECOND));
    assert_eq!(timeline.peak_users(), 8);
}

#[test]
fn users_start_one_by_one_up_a_ramp_and_stop_last_first_down_one() {
    let timeline = plan("[{users: 4, ramp: 2s}, {name: steady, hold: 2s}, {users: 0, ramp: 2s}]")
        .timeline(SECOND);
    let ms = Duration::from_millis;
    assert_eq!(timeline.users_at(ms(1000)), 2.0);
    assert_eq!(timeline.users_at(ms(3000)), 4.0);
    assert_eq!(timeline.users_at(ms(5000)), 2.0);
    assert_eq!(timeline.users_at(ms(6000)), 0.0, "the run is over");
    // Up the ramp, user 2 starts once more than 2 users run: after 1 s.
    assert!(!timeline.runs(2, ms(1000)));
    assert!(timeline.runs(2, ms(1001)));
    let start = timeline.next_start(2, Duration::ZERO).unwrap();
    assert!(start > ms(1000) && start < ms(1001), "{start:?}");
    assert_eq!(timeline.next_start(0, ms(3500)), Some(ms(3500)), "running");
    // Down the ramp, user 3 stops first (at 4.5 s) and user 0 last.
    assert!(timeline.runs(3, ms(4499)) && !timeline.runs(3, ms(4500)));
    assert!(timeline.runs(0, ms(5999)));
    assert_eq!(timeline.next_start(3, ms(4500)), None, "never again");
    assert_eq!(
        timeline.next_start(9, Duration::ZERO),
        None,
        "beyond the peak"
    );
}

#[test]
fn a_user_stopped_by_one_ramp_starts_again_on_the_next() {
    let timeline =
        plan("[{users: 2, ramp: 1s}, {users: 0, ramp: 1s}, {users: 2, ramp: 1s}]").timeline(SECOND);
    let again = timeline.next_start(1, Duration::from_millis(1600)).unwrap();
    assert!(
        again > Duration::from_millis(2500) && again < Duration::from_millis(2501),
        "{again:?}"
    );
}
