//! A run made by several generators: `run --shard k/N` processes against
//! one service, then `loadgate merge`, whose figures must be exactly the
//! ones one histogram of every shard's samples gives.

mod common;

use std::{
    path::{Path, PathBuf},
    process::{Command, Output},
    time::{Duration, SystemTime},
};

use common::{assert_exit, loadgate, read_results, scenario, stderr, stdout};
use reports::{
    histogram::{self, Histogram},
    results::{LatencySummary, Results, Window},
};

const REDIS: &str = "redis://127.0.0.1:6379";

/// A PostgreSQL database of this test's own, dropped with the value.
struct Database {
    name: String,
}

impl Database {
    fn create(prefix: &str) -> Self {
        let nanos = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!("{prefix}_{}_{nanos}", std::process::id());
        psql("postgres", &format!("CREATE DATABASE {name}"));
        Self { name }
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:5432/{}", self.name)
    }

    fn query(&self, sql: &str) -> String {
        psql(&self.name, sql)
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-c"])
            .arg(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .output();
    }
}

/// `psql -Atc SQL` on `database`, which must work.
fn psql(database: &str, sql: &str) -> String {
    let output = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-U",
            "postgres",
            "-Atc",
            sql,
            "-d",
            database,
        ])
        .output()
        .expect("psql runs");
    assert!(
        output.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// 8 users over a second's ramp and a 3 s steady hold: reads, and a flow
/// that creates a server named from `{{ seq }}` alone, so two shards
/// counting the same numbers would create the same name.
const SCENARIO: &str = "version: 2
name: sharded
load:
  stages:
    - {users: 8, ramp: 1s}
    - {name: steady, hold: 3s}
think_time: 20ms
users:
  range: {from: 21, to: 60}
setup:
  - name: find_server
    method: GET
    path: /api/v1/servers?page=1&per_page=10
    headers: {Authorization: 'Bearer {{ key }}'}
    capture: {my_server_id: /items/0/id}
requests:
  - name: health
    weight: 2
    method: GET
    path: /health
  - name: get_server
    weight: 4
    method: GET
    path: /api/v1/servers/{{ my_server_id }}
    headers: {Authorization: 'Bearer {{ key }}'}
flows:
  - name: create
    weight: 4
    steps:
      - name: create_server
        method: POST
        path: /api/v1/servers
        headers: {Authorization: 'Bearer {{ key }}'}
        body: {name: 'shard-{{ seq }}', transport: http, config: {url: 'http://127.0.0.1:9/mcp'}}
        checks: {status: 201}
budgets:
  during: [steady]
  overall: {p99: 5s, max_error_rate: 1%}
";

/// `loadgate run` of shard `index` of `count`, started together at `at`.
fn shard_command(
    scenario: &Path,
    target: &str,
    index: u32,
    count: u32,
    run_id: &str,
    at: SystemTime,
    out: &Path,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::from(loadgate());
    command
        .arg("run")
        .arg(scenario)
        .args(["--target", target, "--server-metrics", "/metrics"])
        .args(["--shard", &format!("{index}/{count}"), "--run-id", run_id])
        .arg("--start-at")
        .arg(humantime::format_rfc3339_millis(at).to_string())
        .arg("--out")
        .arg(out)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    command
}

/// Runs `count` shards of `scenario` against `target` together, each into
/// `dir/shard-k`, and asserts that each exits 0.
async fn run_shards(
    scenario: &Path,
    target: &str,
    count: u32,
    run_id: &str,
    dir: &Path,
) -> Vec<Output> {
    // Time enough for every process to start before their common start.
    let at = SystemTime::now() + Duration::from_secs(2);
    let children: Vec<_> = (0..count)
        .map(|k| {
            shard_command(
                scenario,
                target,
                k,
                count,
                run_id,
                at,
                &dir.join(format!("shard-{k}")),
            )
            .spawn()
            .unwrap()
        })
        .collect();
    let mut outputs = Vec::new();
    for child in children {
        let output = child.wait_with_output().await.unwrap();
        assert_exit(&output, 0);
        outputs.push(output);
    }
    outputs
}

fn merge(files: &[PathBuf], extra: &[&str], out: &Path) -> Output {
    loadgate()
        .arg("merge")
        .args(files)
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn decoded(encoded: &str) -> Histogram {
    histogram::decode(encoded).expect("a histogram")
}

/// One histogram fed every window's samples.
fn all_of<'a>(windows: impl Iterator<Item = &'a Window>) -> Histogram {
    let mut all = histogram::new_histogram();
    for window in windows {
        all.add(decoded(&window.histogram)).unwrap();
    }
    all
}

fn results_files(dir: &Path, count: u32) -> Vec<PathBuf> {
    (0..count)
        .map(|k| dir.join(format!("shard-{k}/results.json")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_against_one_service_merge_exactly() {
    let db = Database::create("lg_shards");
    let service = target_service::start(target_service::Config {
        database_url: Some(db.url()),
        redis_url: Some(REDIS.to_owned()),
        cache_prefix: format!("lg_shards_{}", std::process::id()),
        seed_users: 60,
        servers_per_user: 2,
        metric_points: 2,
        db_min_connections: 2,
        db_max_connections: 16,
        ..target_service::Config::default()
    })
    .await
    .expect("the service starts on PostgreSQL and Redis");
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(dir.path(), "sharded.yaml", SCENARIO);
    let outputs = run_shards(&file, &service.base_url(), 4, "run-four", dir.path()).await;
    for (k, output) in outputs.iter().enumerate() {
        assert!(
            stdout(output).contains(&format!("shard {k}/4 of run run-four")),
            "{}",
            stdout(output)
        );
    }
    let files = results_files(dir.path(), 4);
    let shards: Vec<Results> = files.iter().map(|f| Results::read(f).unwrap()).collect();
    let merged_dir = dir.path().join("merged");
    let output = merge(&files, &[], &merged_dir);
    assert_exit(&output, 0);
    let merged = read_results(&merged_dir);
    service.shutdown().await.unwrap();

    // Every shard's requests, and the server's own count of them.
    let sent: u64 = shards.iter().map(|s| s.overall.all.count).sum();
    assert!(sent > 100, "{sent} requests");
    assert_eq!(merged.overall.all.count, sent);
    let server = merged.server.as_ref().expect("the server was scraped");
    assert_eq!(server.requests, Some(sent), "{server:?}");
    assert_eq!(server.count_mismatch, None);
    assert_eq!(server.count_unchecked, None);

    // Exactly the percentiles of one histogram of every shard's samples:
    // overall, per request name, and per second.
    let summary = |h: &Histogram| LatencySummary::of(h);
    let overall = all_of(shards.iter().map(|s| &s.overall.all));
    assert_eq!(merged.overall.all.latency, summary(&overall));
    assert_eq!(merged.overall.all.latency.max_us, overall.max());
    for request in &merged.requests {
        let of_name = shards
            .iter()
            .flat_map(|s| s.requests.iter().filter(|r| r.name == request.name))
            .map(|r| &r.all);
        assert_eq!(
            request.all.latency,
            summary(&all_of(of_name)),
            "{}",
            request.name
        );
    }
    let offsets: Vec<u32> = merged
        .run
        .merged
        .as_ref()
        .unwrap()
        .shards
        .iter()
        .map(|s| s.offset_s)
        .collect();
    assert!(
        offsets.iter().all(|&o| o == 0),
        "--start-at lined them up: {offsets:?}"
    );
    for second in &merged.series {
        let mut fed = histogram::new_histogram();
        for shard in &shards {
            if let Some(s) = shard.series.iter().find(|s| s.second == second.second) {
                fed.add(decoded(s.histogram.as_ref().unwrap())).unwrap();
            }
        }
        assert_eq!(
            (second.p50_us, second.p99_us, second.max_us),
            (
                fed.value_at_quantile(0.5),
                fed.value_at_quantile(0.99),
                fed.max()
            ),
            "second {}",
            second.second
        );
    }
    assert_eq!(
        merged.scenario.stages[1].to_users, 8,
        "the shards' users add up"
    );
    assert!(merged.verdict.passed, "{:?}", merged.budgets);
    let summary_md = std::fs::read_to_string(merged_dir.join("summary.md")).unwrap();
    assert!(
        summary_md.contains("Merged from all 4 shards of run run-four"),
        "{summary_md}"
    );
    let shard_md = std::fs::read_to_string(dir.path().join("shard-1/summary.md")).unwrap();
    assert!(
        shard_md.contains("Shard 1 of 4 of run run-four"),
        "{shard_md}"
    );

    // No two shards created the same server name, and every 201 is a row.
    let created: u64 = shards
        .iter()
        .flat_map(|s| s.requests.iter().filter(|r| r.name == "create_server"))
        .map(|r| r.status_codes.get(&201).copied().unwrap_or(0))
        .sum();
    assert!(created > 10, "{created} servers created");
    assert_eq!(
        db.query("SELECT count(*) FROM servers WHERE name LIKE 'shard-%'"),
        created.to_string()
    );
    assert_eq!(
        db.query("SELECT count(*) FROM (SELECT name FROM servers WHERE name LIKE 'shard-%' GROUP BY name HAVING count(*) > 1) d"),
        "0",
        "a name created by two shards"
    );
}

/// A server that answers every request at once.
async fn quick_server() -> String {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Edits a shard's results as JSON and writes them as `name` in `dir`.
fn edited(
    from: &Path,
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(from).unwrap()).unwrap();
    edit(&mut json);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(&json).unwrap()).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merges_of_anything_but_one_runs_shards_are_refused_naming_the_file() {
    let target = quick_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "tiny.yaml",
        "version: 1\nname: tiny\nload:\n  stages: [{users: 2, ramp: 1s}, {hold: 1s}]\nrequests: [{name: root, method: GET, path: /}]\nbudgets:\n  overall: {min_rps: 1}\n",
    );
    run_shards(&file, &target, 2, "run-two", dir.path()).await;
    let files = results_files(dir.path(), 2);
    let out = dir.path().join("out");
    let refused = |files: &[PathBuf], extra: &[&str], says: &str| {
        let output = merge(files, extra, &out);
        assert_exit(&output, 2);
        assert!(
            stderr(&output).contains(says),
            "{says:?} in {}",
            stderr(&output)
        );
    };
    let shown = |path: &Path| path.display().to_string();

    // Both shards merge; the whole run's budget is judged on the whole.
    let output = merge(&files, &[], &out);
    assert_exit(&output, 0);
    assert_eq!(
        read_results(&out).run.merged.as_ref().unwrap().shards.len(),
        2
    );

    refused(&files[..1], &[], "shard 1 of 2 missing");
    let partial = merge(&files[..1], &["--allow-partial"], &out);
    assert_exit(&partial, 0);
    assert!(
        stderr(&partial).contains("warning: shard 1 of 2 missing"),
        "{}",
        stderr(&partial)
    );

    refused(
        &[files[0].clone(), files[0].clone()],
        &[],
        "it is shard 0/2, and so is",
    );
    let missing = dir.path().join("nowhere/results.json");
    refused(&[files[0].clone(), missing.clone()], &[], &shown(&missing));

    let other_scenario = edited(&files[1], dir.path(), "other.json", |j| {
        j["scenario"]["name"] = "another".into();
    });
    refused(
        &[files[0].clone(), other_scenario.clone()],
        &[],
        &format!(
            "{}: cannot merge it: it ran scenario `another`",
            shown(&other_scenario)
        ),
    );
    let other_text = edited(&files[1], dir.path(), "text.json", |j| {
        let text = j["scenario"]["source"]
            .as_str()
            .unwrap()
            .replace("path: /", "path: /other");
        j["scenario"]["source"] = text.into();
    });
    refused(
        &[files[0].clone(), other_text],
        &[],
        "ran `tiny` from another text",
    );
    let other_run = edited(&files[1], dir.path(), "run.json", |j| {
        j["run"]["run_id"] = "run-three".into();
    });
    refused(
        &[files[0].clone(), other_run.clone()],
        &[],
        "they are shards of different runs",
    );
    let older = edited(&files[1], dir.path(), "older.json", |j| {
        j["version"] = 6.into()
    });
    refused(
        &[files[0].clone(), older.clone()],
        &[],
        &format!(
            "{}: cannot merge it: it is results version 6",
            shown(&older)
        ),
    );
    let whole = edited(&files[1], dir.path(), "whole.json", |j| {
        j["run"].as_object_mut().unwrap().remove("shard");
    });
    refused(
        &[files[0].clone(), whole.clone()],
        &[],
        &format!(
            "{}: cannot merge it: it has no shard metadata",
            shown(&whole)
        ),
    );
    let corrupt = edited(&files[1], dir.path(), "corrupt.json", |j| {
        j["overall"]["all"]["ok"]["histogram"] = "bm90IGEgaGlzdG9ncmFt".into();
    });
    refused(
        &[files[0].clone(), corrupt.clone()],
        &[],
        &format!("{}: cannot merge it: a histogram", shown(&corrupt)),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_models_shards_make_the_whole_runs_arrivals() {
    let target = quick_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "open.yaml",
        "version: 2\nname: open\nload:\n  model: open\n  max_users: 6\n  stages:\n    - {rate: 90/s, ramp: 1s}\n    - {name: steady, hold: 2s}\nrequests: [{name: root, method: GET, path: /}]\n",
    );
    let plan = harness::load_plan(&file, &harness::Vars::new()).unwrap();
    let whole = plan.timeline(harness::run::engine::TICK).arrivals().count() as u64;
    run_shards(&file, &target, 3, "run-open", dir.path()).await;
    let out = dir.path().join("merged");
    assert_exit(&merge(&[dir.path().to_path_buf()], &[], &out), 0);
    let arrivals = read_results(&out)
        .arrivals
        .expect("an open model's arrivals");
    assert!(whole > 200, "{whole} arrivals");
    assert_eq!(
        arrivals.intended, whole,
        "every arrival of the schedule, once"
    );
    assert_eq!(arrivals.started + arrivals.dropped, whole);
    assert_eq!(
        read_results(&out).scenario.stages[1].to_users,
        6,
        "max_users split"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_while_waiting_for_the_start_still_writes_results() {
    let target = quick_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "s.yaml",
        "version: 1\nname: s\nload:\n  stages: [{users: 2, ramp: 1s}, {hold: 1s}]\nrequests: [{name: root, method: GET, path: /}]\n",
    );
    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let out = dir.path().join(format!("out{signal}"));
        let at = SystemTime::now() + Duration::from_secs(30);
        let child = shard_command(&file, &target, 0, 2, "run-stopped", at, &out)
            .spawn()
            .unwrap();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let pid = child.id().unwrap().to_string();
        assert!(
            Command::new("kill")
                .args([signal, &pid])
                .status()
                .unwrap()
                .success()
        );
        let output = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
            .await
            .expect("the wait ends at the signal")
            .unwrap();
        assert_exit(&output, code);
        let results = read_results(&out);
        assert_eq!(results.run.status, reports::results::RunStatus::Interrupted);
        assert_eq!(results.overall.all.count, 0, "nothing ran");
    }
}
