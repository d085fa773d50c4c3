//! The run's one stage clock, held against what goose really ran.
//!
//! The stages written to `results.json` are the timeline the engine ran,
//! rounded to its whole seconds; the judged samples are the ones that
//! started inside those stages; and the users running each second, as the
//! harness counts them and as the target sees them, are the ones the
//! timeline says.

mod common;

use std::{
    sync::{Arc, Mutex},
    time::Instant,
};

use axum::{Router, extract::State, http::HeaderMap, routing::get};
use common::*;
use reports::results::{Results, StageRun};

/// When each request reached the target, and whose key it carried.
type Seen = Arc<Mutex<Vec<(Instant, String)>>>;

/// A target on 127.0.0.1 that answers at once and notes each request's
/// arrival and `Authorization` header: an outside view of which users ran.
async fn key_recording_target() -> (String, Seen, tokio::task::JoinHandle<()>) {
    async fn probe(State(seen): State<Seen>, headers: HeaderMap) -> &'static str {
        let key = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        seen.lock().unwrap().push((Instant::now(), key));
        "ok"
    }
    let seen = Seen::default();
    let app = Router::new()
        .route("/probe", get(probe))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, seen, task)
}

/// The stage of `results` named `name`.
fn stage<'a>(results: &'a Results, name: &str) -> &'a StageRun {
    results
        .scenario
        .stages
        .iter()
        .find(|s| s.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no stage {name}: {:?}", results.scenario.stages))
}

#[test]
fn smoke_scaled_down_judges_exactly_the_samples_of_the_steady_stage_goose_ran() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = loadgate()
        .arg("run")
        .arg(shipped("smoke.yaml"))
        .args(["--scale", "0.05", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    // A one-user rehearsal's budgets are not the point here.
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    let results = read_results(&out);
    let stages = &results.scenario.stages;

    // Every judged sample started inside `steady`, and every sample that
    // started there is judged: the judged count is the series' count over
    // exactly the seconds of the stage.
    let steady = stage(&results, "steady");
    let in_steady: u64 = results
        .series
        .iter()
        .filter(|s| (steady.start_ms..steady.end_ms).contains(&(u64::from(s.second) * 1000)))
        .map(|s| s.count)
        .sum();
    let judged = results
        .overall
        .judged
        .as_ref()
        .expect("smoke judges steady");
    assert!(
        judged.count > 0,
        "steady ran requests: {:?}",
        results.series
    );
    assert_eq!(
        judged.count, in_steady,
        "judged samples against the samples that started in steady {steady:?}"
    );

    // The stages are the engine's: whole seconds, end to end, and the run
    // lasted as long as they say (plus the engine's stop).
    for pair in stages.windows(2) {
        assert_eq!(pair[0].end_ms, pair[1].start_ms, "{stages:?}");
    }
    for s in stages {
        assert_eq!((s.start_ms % 1000, s.end_ms % 1000), (0, 0), "{stages:?}");
        assert!(s.end_ms > s.start_ms, "no stage vanished: {stages:?}");
    }
    let planned_ms = stages.last().unwrap().end_ms;
    assert!(
        (planned_ms..planned_ms + 1500).contains(&results.run.duration_ms),
        "ran {} ms for stages ending at {planned_ms} ms",
        results.run.duration_ms
    );
}

/// Users the timeline allows at `at_ms`: linear on a ramp, none after the
/// last stage.
fn users_at(stages: &[StageRun], at_ms: f64) -> f64 {
    let Some(stage) = stages
        .iter()
        .find(|s| at_ms < s.end_ms as f64 && at_ms >= s.start_ms as f64)
    else {
        return f64::from(stages.last().unwrap().to_users);
    };
    let along = (at_ms - stage.start_ms as f64) / (stage.end_ms - stage.start_ms) as f64;
    f64::from(stage.from_users) + along * (f64::from(stage.to_users) - f64::from(stage.from_users))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_users_goose_ran_each_second_are_the_timelines() {
    let (url, seen, server) = key_recording_target().await;
    let dir = tempfile::tempdir().unwrap();
    // Stages of 0.4 s, 2.2 s and 0.4 s, which the engine runs as 1 s, 2 s
    // and 1 s: boundaries on the nearest whole second, and at least one
    // each.
    let yaml = "\
version: 1
name: shape
load:
  stages:
    - {users: 6, ramp: 400ms}
    - {name: steady, hold: 2200ms}
    - {users: 0, ramp: 400ms}
think_time: 20ms
requests:
  - name: probe
    method: GET
    path: /probe
    headers: {Authorization: \"Bearer {{ key }}\"}
";
    let path = scenario(dir.path(), "shape.yaml", yaml);
    let out = dir.path().join("out");
    let output = run_scenario(&path, &url, &out).await;
    server.abort();
    assert_exit(&output, 0);
    let results = read_results(&out);
    let stages = &results.scenario.stages;

    // The users that came with the timeline range around `at_ms`.
    let allowed = |from_ms: f64, to_ms: f64| {
        let (low, high) = [from_ms, (from_ms + to_ms) / 2.0, to_ms]
            .into_iter()
            .map(|at| users_at(stages, at))
            .fold((f64::MAX, f64::MIN), |(lo, hi), u| (lo.min(u), hi.max(u)));
        (low.floor(), high.ceil())
    };

    // Seen from the target: the distinct keys that sent a request in the
    // last 200 ms of each second (the run's clock starts with the first
    // user, whose first request comes at once) are the users the timeline
    // ran then.
    let seen = seen.lock().unwrap().clone();
    let first = seen.first().expect("the target saw requests").0;
    for second in 0..4u32 {
        let end_ms = f64::from(second + 1) * 1000.0;
        let keys: std::collections::BTreeSet<&str> = seen
            .iter()
            .filter(|(at, _)| {
                let ms = at.duration_since(first).as_secs_f64() * 1000.0;
                ms >= end_ms - 200.0 && ms < end_ms
            })
            .map(|(_, key)| key.as_str())
            .collect();
        let (low, high) = allowed(end_ms - 200.0, end_ms);
        let users = keys.len() as f64;
        assert!(
            users >= low && users <= high,
            "second {second}: the target saw {} users, the timeline allows {low}..{high}\nstages {stages:?}",
            keys.len()
        );
    }

    // Seen from the harness: a second's users are read as it ends; users
    // start and stop one at a time, so allow what the timeline passes
    // through within 200 ms of that moment.
    let mut checked = 0;
    for second in &results.series {
        let end_ms = f64::from(second.second + 1) * 1000.0;
        let (low, high) = allowed(end_ms - 200.0, end_ms + 200.0);
        let users = f64::from(second.users);
        assert!(
            users >= low && users <= high,
            "second {}: {} users running, the timeline allows {low:.1}..{high:.1}\nstages {stages:?}\nseries users {:?}",
            second.second,
            second.users,
            results.series.iter().map(|s| s.users).collect::<Vec<_>>()
        );
        checked += 1;
    }
    assert!(checked >= 3, "{:?}", results.series);
    assert_eq!(
        stages.last().unwrap().end_ms,
        4000,
        "the stages as run: {stages:?}"
    );
    let steady = stage(&results, "steady");
    assert_eq!((steady.from_users, steady.to_users), (6, 6));
    let inside: Vec<u32> = results
        .series
        .iter()
        .filter(|s| {
            let end_ms = u64::from(s.second + 1) * 1000;
            end_ms > steady.start_ms && end_ms < steady.end_ms
        })
        .map(|s| s.users)
        .collect();
    assert!(
        !inside.is_empty() && inside.iter().all(|&users| users == 6),
        "steady holds 6 users: {inside:?} of {:?}",
        results.series
    );
}
