//! `smoke.yaml` end to end: against the in-process service it passes its
//! budgets and writes results that match the committed schema and an
//! interval log HdrHistogram tools can read; against a service the test
//! runs itself, every request loadgate recorded is one the service counted.

mod common;

use std::{collections::BTreeMap, path::Path, time::Duration};

use common::*;
use hdrhistogram::serialization::{Deserializer, interval_log::IntervalLogIterator};
use reports::results::RunStatus;

fn schema_validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../reports/results.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).expect("a valid JSON Schema")
}

#[test]
fn smoke_against_the_in_process_service_passes_with_valid_results_and_hlog() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = loadgate()
        .arg("run")
        .arg(shipped("smoke.yaml"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_exit(&output, 0);
    assert!(
        stdout(&output).contains("PASSED: all 18 budgets held"),
        "{}",
        stdout(&output)
    );

    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let validator = schema_validator();
    let problems: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "results.json breaks its schema:\n{}",
        problems.join("\n")
    );

    let results = read_results(&out);
    assert_eq!(results.run.status, RunStatus::Completed);
    assert!(results.environment.in_process_target);
    assert!(results.overall.all.count > 100);
    assert_eq!(results.overall.all.errors.total(), 0);
    let per_name: u64 = results.requests.iter().map(|r| r.all.count).sum();
    assert_eq!(per_name, results.overall.all.count);
    let per_second: u64 = results.series.iter().map(|s| s.count).sum();
    assert_eq!(per_second, results.overall.all.count);
    assert!(
        results.series.iter().any(|s| s.users == 8),
        "the steady stage runs 8 users"
    );
    for file in ["report.html", "junit.xml", "summary.md", "latency.png"] {
        assert!(out.join(file).exists(), "{file}");
    }

    // Where the time went: the first byte comes before the last, and the
    // users' connections are opened once and reused.
    for endpoint in std::iter::once(&results.overall).chain(&results.requests) {
        let phases = endpoint.phases.as_ref().expect("phases recorded");
        assert!(
            phases.ttfb.p50_us <= endpoint.all.latency.p50_us
                && phases.ttfb.p99_us <= endpoint.all.latency.p99_us,
            "{}: {phases:?}",
            endpoint.name
        );
    }
    let connects = results.overall.phases.as_ref().unwrap().connects;
    assert!(
        (1..results.overall.all.count / 10).contains(&connects),
        "{connects} connections for {} requests",
        results.overall.all.count
    );

    // The bundled service's metrics were scraped by default, and it
    // counted exactly the requests loadgate sent.
    let server = results.server.as_ref().expect("server metrics scraped");
    assert!(
        server.scrapes >= 2 && server.failed_scrapes == 0,
        "{server:#?}"
    );
    assert_eq!(
        server.requests,
        Some(results.overall.all.count),
        "{server:#?}"
    );
    assert_eq!(server.count_mismatch, None);
    assert!(
        server
            .cache_layers
            .iter()
            .any(|l| l.layer == "l4" && l.hits > 0),
        "{server:#?}"
    );
    assert!(server.cache_hit_ratio.is_some() && server.db_pool.is_some());
    assert!(
        server
            .latency
            .is_some_and(|l| l.count == results.overall.all.count),
        "{server:#?}"
    );

    // The generator watched its own CPU, second by second.
    let generator = results.generator.as_ref().expect("generator stats");
    assert!(
        generator.cpu_mean > 0.0 && generator.cpu_max <= 1.0,
        "{generator:?}"
    );
    let with_cpu = results
        .series
        .iter()
        .filter(|s| s.generator_cpu.is_some())
        .count();
    assert!(
        with_cpu + 2 >= results.series.len(),
        "{with_cpu} of {} seconds have a CPU reading",
        results.series.len()
    );

    // The interval log: its unit and times in the header, one untagged
    // interval per second of the run that adds up to the whole, and each
    // name tagged, with the same counts and p99.
    let log = std::fs::read(out.join("histograms.hlog")).unwrap();
    let text = String::from_utf8_lossy(&log);
    assert!(text.contains("latency in microseconds (µs)"), "{text}");
    assert!(
        text.contains("#[StartTime: ") && text.contains("#[BaseTime: "),
        "{text}"
    );
    let mut from_log = BTreeMap::new();
    let mut seconds = Vec::new();
    let mut whole: hdrhistogram::Histogram<u64> = reports::histogram::new_histogram();
    for entry in IntervalLogIterator::new(&log) {
        let entry = entry.expect("a well-formed interval log");
        if let hdrhistogram::serialization::interval_log::LogEntry::Interval(interval) = entry {
            let bytes = base64_decode(interval.encoded_histogram());
            let histogram: hdrhistogram::Histogram<u64> = Deserializer::new()
                .deserialize(&mut bytes.as_slice())
                .unwrap();
            match interval.tag() {
                Some(tag) => {
                    from_log.insert(
                        tag.as_str().to_owned(),
                        (histogram.len(), histogram.value_at_quantile(0.99)),
                    );
                }
                None => {
                    seconds.push(interval.start_timestamp());
                    whole.add(&histogram).unwrap();
                }
            }
        }
    }
    assert_eq!(seconds.len(), results.series.len(), "one interval a second");
    assert!(
        seconds
            .windows(2)
            .all(|w| w[1] - w[0] == Duration::from_secs(1)),
        "{seconds:?}"
    );
    assert_eq!(whole.len(), results.overall.all.count, "the seconds add up");
    from_log.insert(
        "overall".to_owned(),
        (whole.len(), whole.value_at_quantile(0.99)),
    );
    for endpoint in std::iter::once(&results.overall).chain(&results.requests) {
        let histogram = endpoint.all.decode_histogram().unwrap();
        assert_eq!(
            from_log.get(&endpoint.name),
            Some(&(endpoint.all.count, histogram.value_at_quantile(0.99))),
            "{}",
            endpoint.name
        );
        assert_eq!(
            histogram.value_at_quantile(0.99),
            endpoint.all.latency.p99_us
        );
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

/// Sums `http_requests_total` over every route but `/metrics` itself.
fn served_requests(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("http_requests_total{") && !l.contains("route=\"/metrics\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
        .sum()
}

#[tokio::test]
async fn every_recorded_request_is_one_the_service_counted() {
    let config = target_service::Config {
        servers_per_user: 3,
        metric_points: 3,
        ..target_service::Config::demo()
    };
    let service = target_service::start(config).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let output = run_scenario(&shipped("smoke.yaml"), &service.base_url(), &out).await;
    assert_exit(&output, 0);
    let results = read_results(&out);
    assert!(!results.environment.in_process_target);
    service.state().telemetry.upkeep();
    let metrics = reqwest::get(format!("{}/metrics", service.base_url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        served_requests(&metrics),
        results.overall.all.count,
        "{metrics}"
    );
    let creates = results
        .requests
        .iter()
        .find(|r| r.name == "create_server")
        .unwrap();
    assert!(metrics.contains(&format!(
        "http_requests_total{{route=\"/api/v1/servers\",method=\"POST\",status=\"201\"}} {}",
        creates.all.count
    )));
    tokio::time::timeout(Duration::from_secs(30), service.shutdown())
        .await
        .unwrap()
        .unwrap();
}
