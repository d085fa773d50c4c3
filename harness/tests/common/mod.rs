//! Helpers for tests that run the `loadgate` binary against servers on
//! 127.0.0.1 that the test starts itself (never fixed ports).

#![allow(dead_code)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, extract::State, routing::get};
use reports::results::Results;

/// The `loadgate` binary under test.
pub fn loadgate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loadgate"))
}

/// Path of a shipped scenario.
pub fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios")
        .join(name)
}

/// Every shipped scenario: each `.yaml` under `scenarios/`, subfolders
/// included, sorted.
pub fn every_shipped() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                found.push(path);
            }
        }
    }
    let mut found = Vec::new();
    walk(&shipped(""), &mut found);
    found.sort();
    found
}

/// Writes `yaml` as `name` in `dir`.
pub fn scenario(dir: &Path, name: &str, yaml: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

/// A scenario of `users` users sending `GET path` (ramp 1 s, then a
/// `steady` hold of `hold_secs`), with the given budgets block.
pub fn simple_scenario(users: u32, hold_secs: u32, path: &str, budgets: &str) -> String {
    format!(
        "version: 1
name: test
load:
  stages:
    - {{users: {users}, ramp: 1s}}
    - {{name: steady, hold: {hold_secs}s}}
requests:
  - name: probe
    method: GET
    path: {path}
{budgets}
"
    )
}

/// `loadgate run SCENARIO --target URL --out OUT`, waited for without
/// blocking the test's own servers.
pub async fn run_scenario(scenario: &Path, target: &str, out: &Path) -> Output {
    tokio::process::Command::from(loadgate())
        .arg("run")
        .arg(scenario)
        .args(["--target", target, "--out"])
        .arg(out)
        .output()
        .await
        .unwrap()
}

/// `loadgate run SCENARIO --target URL --out OUT`, sent `signal` (`-INT`,
/// `-TERM`) after `after`; its output once it has stopped, which it must
/// within 30 s.
pub async fn run_scenario_until(
    scenario: &Path,
    target: &str,
    out: &Path,
    after: Duration,
    signal: &str,
) -> Output {
    run_scenario_signalled(scenario, target, out, &[(after, signal)]).await
}

/// As [`run_scenario_until`], with each signal sent the given time after
/// the one before (the first, after the start).
pub async fn run_scenario_signalled(
    scenario: &Path,
    target: &str,
    out: &Path,
    signals: &[(Duration, &str)],
) -> Output {
    let child = tokio::process::Command::from(loadgate())
        .arg("run")
        .arg(scenario)
        .args(["--target", target, "--out"])
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().unwrap().to_string();
    for &(after, signal) in signals {
        tokio::time::sleep(after).await;
        let sent = Command::new("kill").args([signal, &pid]).status().unwrap();
        assert!(sent.success(), "kill {signal} {pid}");
    }
    tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("loadgate stops soon after the signal")
        .unwrap()
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts the exit code, printing both streams when it differs.
#[track_caller]
pub fn assert_exit(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(output),
        stderr(output)
    );
}

pub fn read_results(dir: &Path) -> Results {
    Results::read(&dir.join("results.json")).expect("a readable results file")
}

/// A free port nobody listens on (bound, then released).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What a test server measured of the delays it imposed, in µs.
#[derive(Debug, Clone, Default)]
pub struct Imposed(pub Arc<Mutex<Vec<u64>>>);

/// A server on 127.0.0.1 whose `GET /slow` sleeps `delay_at(elapsed since
/// start)` and records how long each handler really took.
pub async fn delay_server(
    delay_at: fn(Duration) -> Duration,
) -> (String, Imposed, tokio::task::JoinHandle<()>) {
    #[derive(Clone)]
    struct Ctx {
        imposed: Imposed,
        start: Instant,
        delay_at: fn(Duration) -> Duration,
    }
    async fn slow(State(ctx): State<Ctx>) -> &'static str {
        let began = Instant::now();
        tokio::time::sleep((ctx.delay_at)(ctx.start.elapsed())).await;
        let took = began.elapsed().as_micros() as u64;
        ctx.imposed.0.lock().unwrap().push(took);
        "ok"
    }
    let imposed = Imposed::default();
    let ctx = Ctx {
        imposed: imposed.clone(),
        start: Instant::now(),
        delay_at,
    };
    let app = Router::new().route("/slow", get(slow)).with_state(ctx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (url, imposed, task)
}

/// The value at quantile `q` of `values` (nearest rank).
pub fn quantile(values: &[u64], q: f64) -> u64 {
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}
