//! The `loadgate` binary end to end: exit codes, and that nothing measured
//! is lost when a run is cut short.

mod common;

use std::time::Duration;

use common::*;
use reports::results::{Results, RunStatus};

#[test]
fn every_shipped_scenario_validates() {
    let files = every_shipped();
    // The five shapes, their open variants and smoke, and §7's five rows.
    assert!(files.len() >= 13, "{files:?}");
    assert!(files.iter().any(|f| f.ends_with("benchmarks/health.yaml")));
    let output = loadgate().arg("validate").args(&files).output().unwrap();
    assert_exit(&output, 0);
    assert_eq!(stdout(&output).lines().count(), files.len());
}

#[test]
fn a_broken_scenario_exits_2_naming_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "broken.yaml",
        "version: 1\nname: broken\nload:\n  stages:\n    - {users: 2, ramp: 1s}\n    - {hold: 10 min}\nrequests:\n  - {name: a, method: GET, path: /}\n",
    );
    for command in ["validate", "run"] {
        let output = loadgate().arg(command).arg(&path).output().unwrap();
        assert_exit(&output, 2);
        let expected = format!(
            "{}:6:14: load.stages[1].hold: \"10 min\" is not a duration (use 10m, 90s, 1h30m)",
            path.display()
        );
        assert!(
            stderr(&output).contains(&expected),
            "{command}: {}",
            stderr(&output)
        );
        assert!(!dir.path().join("runs").exists());
    }
}

#[test]
fn bad_command_lines_exit_2() {
    let output = loadgate()
        .args(["run"])
        .arg(shipped("smoke.yaml"))
        .args(["--scale", "0"])
        .output()
        .unwrap();
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("--scale"), "{}", stderr(&output));
    let output = loadgate().args(["run", "--no-such-flag"]).output().unwrap();
    assert_exit(&output, 2);
}

#[test]
fn a_shard_that_cannot_be_run_exits_2_saying_why() {
    let refused = |args: &[&str], env: Option<&str>, says: &str| {
        let mut command = loadgate();
        command.arg("run").arg(shipped("smoke.yaml")).args(args);
        command
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("LOADGATE_RUN_ID");
        if let Some(index) = env {
            command.env("JOB_COMPLETION_INDEX", index);
        }
        let output = command.output().unwrap();
        assert_exit(&output, 2);
        assert!(
            stderr(&output).contains(says),
            "{says:?} in {}",
            stderr(&output)
        );
    };
    refused(
        &["--shard", "4/4", "--run-id", "r"],
        None,
        "`4/4` is not a shard",
    );
    refused(&["--shard", "1/4"], None, "--shard 1/4 needs --run-id");
    refused(
        &["--shards", "4", "--run-id", "r"],
        None,
        "reads the shard's index from JOB_COMPLETION_INDEX, which is not set",
    );
    refused(
        &["--shards", "4", "--run-id", "r"],
        Some("4"),
        "JOB_COMPLETION_INDEX=4 is not below --shards 4",
    );
    refused(
        &["--shards", "4", "--run-id", "r"],
        Some("x"),
        "JOB_COMPLETION_INDEX=`x` is not a shard index",
    );
    // smoke's peak is 8 users: a ninth shard would run none.
    refused(
        &["--shard", "8/9", "--run-id", "r"],
        None,
        "shard 8/9 would run no users",
    );
    refused(
        &["--shard", "0/2", "--shards", "2", "--run-id", "r"],
        None,
        "cannot be used with",
    );
    refused(
        &["--start-at", "2999-01-01T00:00:00Z"],
        None,
        "--start-at is",
    );
}

/// Runs the scenario at `path` against a port nothing listens on, and
/// reads the results it must still write, as an unreachable run (exit 3).
fn run_against_a_closed_port(path: &std::path::Path, out: &std::path::Path) -> Results {
    let target = format!("http://127.0.0.1:{}", closed_port());
    let output = loadgate()
        .arg("run")
        .arg(path)
        .args(["--target", &target, "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert_exit(&output, 3);
    let results = read_results(out);
    assert_eq!(results.run.status, RunStatus::Unreachable);
    results
}

#[test]
fn a_closed_port_exits_3_with_results_and_verdict_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "s.yaml",
        &simple_scenario(
            2,
            30,
            "/",
            "budgets:\n  overall: {p95: 100ms, max_error_rate: 1%}",
        ),
    );
    let out = dir.path().join("out");
    let results = run_against_a_closed_port(&path, &out);
    assert_eq!(
        results.scenario.source,
        std::fs::read_to_string(&path).unwrap(),
        "the results keep the scenario's text, not its path"
    );
    assert!(
        results
            .run
            .stop_reason
            .as_deref()
            .unwrap_or("")
            .contains("failed to connect")
    );
    assert!(results.overall.all.errors.connect > 0);
    assert_eq!(
        results.overall.all.errors.connect,
        results.overall.all.count
    );
    assert!(!results.verdict.passed);
    assert!(
        results.run.duration_ms < 20_000,
        "stopped early, not after the 31 s planned"
    );
    assert!(out.join("histograms.hlog").exists());
}

#[test]
fn an_open_model_whose_users_seldom_get_an_arrival_still_sees_a_closed_port() {
    // 400 users for 20 arrivals a second: each user's next arrival is
    // about 20 s away, so a user that held its samples until its next one
    // would keep the refusals from the recorder past the planned end.
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "s.yaml",
        "version: 4
name: seldom
load:
  model: open
  max_users: 400
  stages:
    - {rate: 20/s, ramp: 1s}
    - {name: steady, hold: 24s}
requests:
  - {name: a, method: GET, path: /, timeout: 1s}
",
    );
    let out = dir.path().join("out");
    let results = run_against_a_closed_port(&path, &out);
    assert!(
        results.run.duration_ms < 15_000,
        "stopped {} ms in, not 5 s after the first refusals",
        results.run.duration_ms
    );
}

#[tokio::test]
async fn a_target_that_never_accepts_a_connection_is_unreachable() {
    // A listener whose accept queue is full and never drained: the kernel
    // drops every further SYN, so a connect hangs instead of failing.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    while let Ok(stream) = std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
        queued.push(stream);
        assert!(queued.len() < 64, "the accept queue never filled");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "s.yaml",
        "version: 1
name: black-hole
load:
  stages:
    - {users: 2, ramp: 1s}
    - {name: steady, hold: 30s}
requests:
  - {name: a, method: GET, path: /, timeout: 1s}
",
    );
    let out = dir.path().join("out");
    let output = run_scenario(&path, &format!("http://{addr}"), &out).await;
    assert_exit(&output, 3);
    let results = read_results(&out);
    assert_eq!(results.run.status, RunStatus::Unreachable);
    let errors = &results.overall.all.errors;
    assert!(errors.connect > 0, "{errors:?}");
    assert_eq!(
        errors.timeout, 0,
        "a connect that hangs is no slow response"
    );
    assert!(
        results.run.duration_ms < 20_000,
        "stopped {} ms in, not after the 31 s planned",
        results.run.duration_ms
    );
    drop((listener, queued));
}

#[tokio::test]
async fn an_impossible_budget_exits_1() {
    let (url, _, _server) = delay_server(|_| Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(
        dir.path(),
        "s.yaml",
        &simple_scenario(
            2,
            1,
            "/slow",
            "budgets:\n  overall: {p50: 1us, max_error_rate: 1%}",
        ),
    );
    let output = run_scenario(&path, &url, &dir.path().join("out")).await;
    assert_exit(&output, 1);
    let results = read_results(&dir.path().join("out"));
    let p50 = &results.budgets[0];
    assert!(!p50.passed);
    let error_rate = &results.budgets[1];
    assert!(error_rate.passed, "{error_rate:?}");
    assert!(
        stdout(&output).contains("FAILED: 1 of 2 budgets broken"),
        "{}",
        stdout(&output)
    );
}

/// Starts a long run, signals it after a few seconds, and checks the exit
/// code and that what was measured was written.
async fn interrupted_by(signal: &str, code: i32) {
    let (url, _, _server) = delay_server(|_| Duration::from_millis(2)).await;
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "s.yaml", &simple_scenario(2, 60, "/slow", ""));
    let out = dir.path().join("out");
    let output = run_scenario_until(&path, &url, &out, Duration::from_secs(3), signal).await;
    assert_exit(&output, code);
    let results = read_results(&out);
    assert_eq!(results.run.status, RunStatus::Interrupted);
    assert!(results.overall.all.count > 0);
    assert!(results.run.duration_ms < 30_000);
}

#[tokio::test]
async fn sigint_exits_130_with_what_was_measured() {
    interrupted_by("-INT", 130).await;
}

#[tokio::test]
async fn sigterm_exits_143_with_what_was_measured() {
    interrupted_by("-TERM", 143).await;
}

/// Answers at once for 2 s, then holds every request for a minute: a
/// run stopped after that drains until its requests time out.
fn hangs_after_two_seconds(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_secs(2) {
        Duration::from_millis(2)
    } else {
        Duration::from_secs(60)
    }
}

/// A scenario of two users whose requests time out after `timeout`.
fn hanging_scenario(dir: &std::path::Path, timeout: &str) -> std::path::PathBuf {
    scenario(
        dir,
        "s.yaml",
        &format!(
            "version: 1
name: drain
load:
  stages:
    - {{users: 2, ramp: 1s}}
    - {{name: steady, hold: 60s}}
requests:
  - {{name: slow, method: GET, path: /slow, timeout: {timeout}}}
"
        ),
    )
}

#[tokio::test]
async fn a_second_ctrl_c_during_the_drain_stops_at_once_and_still_writes_results() {
    let (url, _, _server) = delay_server(hangs_after_two_seconds).await;
    let dir = tempfile::tempdir().unwrap();
    let path = hanging_scenario(dir.path(), "30s");
    let out = dir.path().join("out");
    let began = std::time::Instant::now();
    let signals = [
        (Duration::from_secs(4), "-INT"),
        (Duration::from_secs(1), "-INT"),
    ];
    let output = run_scenario_signalled(&path, &url, &out, &signals).await;
    assert_exit(&output, 130);
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "waited {:?}: the second Ctrl-C did not cut the 30 s drain short",
        began.elapsed()
    );
    let results = read_results(&out);
    assert_eq!(results.run.status, RunStatus::Interrupted);
    assert!(results.overall.all.count > 0, "the first 2 s were measured");
}

#[tokio::test]
async fn a_stopped_run_drains_through_a_ctrl_c_and_rates_only_until_the_stop() {
    // SIGTERM stops the run; the Ctrl-C that follows, during the drain,
    // is a first press: the run goes on stopping gracefully.
    let (url, _, _server) = delay_server(hangs_after_two_seconds).await;
    let dir = tempfile::tempdir().unwrap();
    let path = hanging_scenario(dir.path(), "5s");
    let out = dir.path().join("out");
    let signals = [
        (Duration::from_secs(4), "-TERM"),
        (Duration::from_secs(1), "-INT"),
    ];
    let output = run_scenario_signalled(&path, &url, &out, &signals).await;
    assert_exit(&output, 143);
    let results = read_results(&out);
    assert_eq!(results.run.status, RunStatus::Interrupted);
    assert!(results.overall.all.count > 0);
    let all = &results.overall.all;
    assert!(
        all.errors.timeout > 0,
        "the drain waited for the hung requests: {:?}",
        all.errors
    );
    // Stopped about 4 s in; the requests that hung from about 2 s in time
    // out 5 s later, about 7 s in. The rate counts the time until the
    // stop, in which requests started, not the drain.
    assert!(
        results.run.duration_ms >= 6_000,
        "{}",
        results.run.duration_ms
    );
    assert!(
        all.duration_ms <= 5_000,
        "rated over {} ms",
        all.duration_ms
    );
}
