//! Does loadgate measure the truth? Test servers impose delays they
//! measure themselves, and loadgate's figures are held against theirs.
//!
//! Timing-sensitive: the tests of this binary run one at a time.

mod common;

use std::time::Duration;

use common::*;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

async fn run_against(url: &str, yaml: &str) -> reports::results::Results {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "s.yaml", yaml);
    let out = dir.path().join("out");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadgate"))
        .arg("run")
        .arg(&path)
        .args(["--target", url, "--out"])
        .arg(&out)
        .output()
        .await
        .unwrap();
    assert_exit(&output, 0);
    read_results(&out)
}

#[tokio::test]
async fn a_fixed_20ms_delay_is_measured_within_1ms_at_p50_and_5ms_at_p99() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (url, imposed, _server) = delay_server(|_| Duration::from_millis(20)).await;
    let results = run_against(&url, &simple_scenario(4, 4, "/slow", "")).await;
    let server = imposed.0.lock().unwrap().clone();
    assert_eq!(
        server.len() as u64,
        results.overall.all.count,
        "one sample per request served"
    );
    let ours = results.overall.all.latency;
    let (server_p50, server_p99) = (quantile(&server, 0.50), quantile(&server, 0.99));
    eprintln!(
        "p50 loadgate {} µs / server {server_p50} µs; p99 loadgate {} µs / server {server_p99} µs",
        ours.p50_us, ours.p99_us
    );
    assert!(
        ours.p50_us >= server_p50,
        "loadgate cannot see less than the server imposed"
    );
    assert!(
        ours.p50_us <= server_p50 + 1_000,
        "p50: loadgate {} µs, server {server_p50} µs",
        ours.p50_us
    );
    assert!(
        ours.p99_us <= server_p99 + 5_000,
        "p99: loadgate {} µs, server {server_p99} µs",
        ours.p99_us
    );
}

#[tokio::test]
async fn a_step_from_5ms_to_50ms_shows_in_the_per_second_series() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (url, _, _server) = delay_server(|since_start| {
        if since_start < Duration::from_secs(4) {
            Duration::from_millis(5)
        } else {
            Duration::from_millis(50)
        }
    })
    .await;
    let results = run_against(&url, &simple_scenario(4, 7, "/slow", "")).await;
    let p50_of = |second: u32| {
        results
            .series
            .iter()
            .find(|s| s.second == second)
            .unwrap_or_else(|| panic!("no second {second} in {:?}", results.series))
            .p50_us
    };
    for second in [1, 2] {
        assert!(
            (5_000..15_000).contains(&p50_of(second)),
            "second {second}: {} µs",
            p50_of(second)
        );
    }
    for second in [5, 6, 7] {
        assert!(
            (50_000..60_000).contains(&p50_of(second)),
            "second {second}: {} µs",
            p50_of(second)
        );
    }
}
