//! Does loadgate measure the truth? Test servers impose delays they
//! measure themselves, and loadgate's figures are held against theirs.
//!
//! Timing-sensitive: the tests of this binary run one at a time.

mod common;

use std::time::Duration;

use common::*;
use tokio::sync::Mutex;

static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// An open-model scenario: `rate` arrivals per second on `path`, ramped
/// up over 1 s and held for `hold_secs` as the judged `steady` stage.
fn open_scenario(rate: u32, hold_secs: u32, max_users: u32, path: &str) -> String {
    format!(
        "version: 2
name: open
load:
  model: open
  max_users: {max_users}
  stages:
    - {{rate: {rate}/s, ramp: 1s}}
    - {{name: steady, hold: {hold_secs}s}}
requests:
  - {{name: probe, method: GET, path: {path}}}
budgets:
  during: [steady]
"
    )
}

/// A target that stalls for 1 s once every 5 s: a request arriving in
/// [4 s, 5 s) of each 5 s waits for the stall to end; others take 1 ms.
fn stall_1s_every_5s(since_start: Duration) -> Duration {
    let into_cycle = Duration::from_millis((since_start.as_millis() % 5_000) as u64);
    if into_cycle >= Duration::from_secs(4) {
        Duration::from_secs(5) - into_cycle
    } else {
        Duration::from_millis(1)
    }
}

async fn run_against(url: &str, yaml: &str) -> reports::results::Results {
    run_with_report(url, yaml).await.0
}

/// Runs `yaml` against `url`; the results and the report's HTML.
async fn run_with_report(url: &str, yaml: &str) -> (reports::results::Results, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "s.yaml", yaml);
    let out = dir.path().join("out");
    let output = run_scenario(&path, url, &out).await;
    assert_exit(&output, 0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    (read_results(&out), html)
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

#[tokio::test]
async fn an_open_500_per_second_for_10s_sends_5000_steadily() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (url, _, _server) = delay_server(|_| Duration::from_millis(1)).await;
    let results = run_against(&url, &open_scenario(500, 10, 50, "/slow")).await;
    let steady = results.overall.judged_window();
    let error = (steady.count as f64 - 5000.0).abs() / 5000.0;
    assert!(
        error <= 0.01,
        "{} requests in the steady 10 s",
        steady.count
    );
    let arrivals = results.arrivals.expect("an open run counts its arrivals");
    assert_eq!(arrivals.dropped, 0, "{arrivals:?}");
    // Every full second of the steady stage (seconds 1..=10) is within 10% of 500.
    for second in results
        .series
        .iter()
        .filter(|s| (2..=10).contains(&s.second))
    {
        assert!(
            (450..=550).contains(&second.count),
            "second {}: {} requests; series {:?}",
            second.second,
            second.count,
            results.series.iter().map(|s| s.count).collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn a_fixed_20ms_delay_under_an_open_200_per_second_is_measured_within_1ms_and_5ms() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (url, imposed, _server) = delay_server(|_| Duration::from_millis(20)).await;
    let results = run_against(&url, &open_scenario(200, 4, 20, "/slow")).await;
    let server = imposed.0.lock().unwrap().clone();
    let ours = results.overall.all.latency;
    let (server_p50, server_p99) = (quantile(&server, 0.50), quantile(&server, 0.99));
    eprintln!(
        "open: p50 loadgate {} µs / server {server_p50} µs; p99 loadgate {} µs / server {server_p99} µs",
        ours.p50_us, ours.p99_us
    );
    assert!(
        ours.p50_us <= server_p50 + 1_000,
        "p50 {} vs {server_p50}",
        ours.p50_us
    );
    assert!(
        ours.p99_us <= server_p99 + 5_000,
        "p99 {} vs {server_p99}",
        ours.p99_us
    );
}

#[tokio::test]
async fn a_stall_shows_in_latency_from_the_due_time_but_not_in_service_time() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (url, _, _server) = delay_server(stall_1s_every_5s).await;
    // Few users: during a stall they are all stuck, and arrivals wait in the
    // queue instead of being sent.
    let (results, html) = run_with_report(&url, &open_scenario(200, 10, 4, "/slow")).await;
    let all = &results.overall.all;
    let service = all
        .service_latency
        .expect("an open run records service time");
    eprintln!(
        "stall: p99 from due {} µs, p99 service {} µs, arrivals {:?}",
        all.latency.p99_us, service.p99_us, results.arrivals
    );
    assert!(
        all.latency.p99_us >= 800_000,
        "due-time p99 {} µs",
        all.latency.p99_us
    );
    assert!(
        service.p99_us < 800_000,
        "service p99 {} µs",
        service.p99_us
    );
    let arrivals = results.arrivals.unwrap();
    assert!(arrivals.late > 0, "{arrivals:?}");
    // The report shows both: the service-time line and what it means.
    assert!(
        html.contains("p99 service time"),
        "no service-time line in the latency chart"
    );
    assert!(html.contains("latency counts from when each was due"));
}

#[tokio::test]
async fn too_few_users_for_the_rate_report_drops_instead_of_a_lower_rate() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // 2 users, 50 ms per request: at most 40/s can be served, 200/s arrive.
    let (url, _, _server) = delay_server(|_| Duration::from_millis(50)).await;
    let results = run_against(&url, &open_scenario(200, 3, 2, "/slow")).await;
    let arrivals = results.arrivals.unwrap();
    assert!(
        arrivals.dropped as f64 >= 0.5 * arrivals.intended as f64,
        "most arrivals cannot be served: {arrivals:?}"
    );
    assert!(
        arrivals.intended >= 690,
        "the schedule kept its rate: {arrivals:?}"
    );
    assert!(
        arrivals.late > 0,
        "those that ran waited for a user: {arrivals:?}"
    );
    let served = results.overall.all.count;
    assert!(
        served <= 2 * 20 * 4 + 10,
        "2 users at 50 ms serve about 40/s: {served}"
    );
}

#[tokio::test]
async fn a_paced_closed_model_corrects_for_a_stall_that_the_raw_histogram_hides() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (url, _, _server) = delay_server(stall_1s_every_5s).await;
    // 4 users, one request every 20 ms each: a stalled user misses about
    // 50 requests, which the correction puts back; raw, its one slow
    // request is under 1% of its samples.
    let yaml = "version: 3
name: paced
pace: 20ms
load:
  stages:
    - {users: 4, ramp: 1s}
    - {name: steady, hold: 10s}
requests:
  - {name: probe, method: GET, path: /slow}
";
    let (results, html) = run_with_report(&url, yaml).await;
    assert_eq!(
        results.run.latency_basis,
        reports::results::LatencyBasis::Corrected {
            expected_interval_us: 20_000
        }
    );
    let all = &results.overall.all;
    let raw = all
        .service_latency
        .expect("a paced run keeps the raw histogram");
    eprintln!(
        "paced stall: corrected p99 {} µs, raw p99 {} µs, {} requests",
        all.latency.p99_us, raw.p99_us, all.count
    );
    assert!(
        all.latency.p99_us >= 800_000,
        "corrected p99 {} µs",
        all.latency.p99_us
    );
    assert!(raw.p99_us < 800_000, "raw p99 {} µs", raw.p99_us);
    assert!(
        html.contains("coordinated-omission corrected"),
        "the report says which histogram budgets judge"
    );
}

#[tokio::test]
async fn a_sustained_breach_aborts_the_run_and_exits_1() {
    let _serial = ONE_AT_A_TIME.lock().await;
    // Fast for 3 s, then every request takes 300 ms.
    let (url, _, _server) = delay_server(|since_start| {
        if since_start < Duration::from_secs(3) {
            Duration::from_millis(5)
        } else {
            Duration::from_millis(300)
        }
    })
    .await;
    let yaml = "version: 3
name: abort
load:
  stages:
    - {users: 4, ramp: 1s}
    - {hold: 60s}
requests:
  - {name: probe, method: GET, path: /slow}
budgets:
  overall:
    p99: 100ms
    abort: {window: 1s, after: 2s}
";
    let dir = tempfile::tempdir().unwrap();
    let path = scenario(dir.path(), "s.yaml", yaml);
    let out = dir.path().join("out");
    let output = run_scenario(&path, &url, &out).await;
    assert_exit(&output, 1);
    let results = read_results(&out);
    assert_eq!(results.run.status, reports::results::RunStatus::Aborted);
    let reason = results.run.stop_reason.clone().unwrap_or_default();
    assert!(reason.contains("overall p99"), "{reason}");
    let p99 = results
        .budgets
        .iter()
        .find(|b| b.metric == reports::results::BudgetMetric::P99)
        .unwrap();
    let triggered = p99.abort.and_then(|a| a.triggered_at_ms).expect("marked");
    eprintln!(
        "aborted at {triggered} ms; run lasted {} ms",
        results.run.duration_ms
    );
    // The breach starts at 3 s; 1 s of window and 2 s of breach later it
    // stops, far short of the planned 61 s.
    assert!(
        (4_000..=12_000).contains(&triggered),
        "triggered at {triggered} ms"
    );
    assert!(
        results.run.duration_ms < 20_000,
        "{} ms",
        results.run.duration_ms
    );
    assert!(!results.verdict.passed);
    assert!(out.join("report.html").exists());
    assert!(stdout(&output).contains("ABORTED"), "{}", stdout(&output));
}
