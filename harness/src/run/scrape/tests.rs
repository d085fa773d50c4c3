use super::*;

const ROUTE: &str = "/metrics";

fn snapshot(epoch: Instant, at_ms: u64, text: &str) -> Snapshot {
    Snapshot::read(text, epoch + Duration::from_millis(at_ms), ROUTE).expect("valid exposition")
}

/// A tally of `texts`, scraped one second apart from `epoch` on, the
/// first one before the run and the last after it.
fn tally(epoch: Instant, texts: &[&str]) -> Tally {
    let mut tally = Tally::new(Arc::new(StageClock::starting_at(epoch)));
    for (i, text) in texts.iter().enumerate() {
        let moment = match i {
            0 => Moment::Before,
            i if i + 1 == texts.len() => Moment::After,
            _ => Moment::During,
        };
        tally.record(Ok(snapshot(epoch, i as u64 * 1000, text)), moment);
    }
    tally
}

fn derive(texts: &[&str], client: ClientCounts) -> ServerStats {
    tally(Instant::now(), texts).into_stats("http://t/metrics".to_owned(), client)
}

const CLIENT: ClientCounts = ClientCounts {
    requests: 0,
    responses: 0,
    all_counted: true,
    shard: false,
};

#[test]
fn the_scrapes_own_requests_are_not_counted() {
    let before = "http_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 10\n\
                  http_requests_total{route=\"/metrics\",method=\"GET\",status=\"200\"} 3\n";
    let after = "http_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 25\n\
                 http_requests_total{route=\"/a\",method=\"GET\",status=\"500\"} 2\n\
                 http_requests_total{route=\"/metrics\",method=\"GET\",status=\"200\"} 9\n";
    let client = ClientCounts {
        requests: 17,
        responses: 17,
        all_counted: true,
        shard: false,
    };
    let stats = derive(&[before, after], client);
    assert_eq!(stats.requests, Some(17));
    assert_eq!(stats.count_mismatch, None);
    assert_eq!((stats.client_requests, stats.client_responses), (17, 17));
}

#[test]
fn a_counter_that_went_down_was_reset() {
    let series = |n: u32| format!("http_requests_total{{route=\"/a\"}} {n}\n");
    let stats = derive(&[&series(500), &series(520), &series(30)], CLIENT);
    // 20, then a restart and 30 more.
    assert_eq!(stats.requests, Some(30));
    assert_eq!(stats.series.len(), 2);
    assert_eq!(stats.series[0].rps, 20.0);
    assert_eq!(stats.series[1].rps, 30.0);
}

#[test]
fn a_count_outside_what_the_client_accounts_for_is_a_mismatch() {
    let client = ClientCounts {
        requests: 5000,
        responses: 4990,
        all_counted: true,
        shard: false,
    };
    assert_eq!(
        mismatch(5012, client).as_deref(),
        Some("the server counted 5012 requests; the client sent 5000 and got 4990 responses (+12)")
    );
    assert_eq!(
        mismatch(4987, client).as_deref(),
        Some("the server counted 4987 requests; the client sent 5000 and got 4990 responses (-3)")
    );
    for inside in [4990, 4995, 5000] {
        assert_eq!(mismatch(inside, client), None);
    }
}

#[test]
fn quantiles_interpolate_within_buckets_as_prometheus_does() {
    let buckets = [
        (0.001, 10.0),
        (0.005, 50.0),
        (0.01, 90.0),
        (0.05, 99.0),
        (f64::INFINITY, 100.0),
    ];
    let close = |q: f64, expected: f64| {
        let got = quantile(q, &buckets).expect("a quantile");
        assert!((got - expected).abs() < 1e-12, "q{q}: {got} != {expected}");
    };
    // Rank 5 of the first bucket's 10, from 0.
    close(0.05, 0.0005);
    // Rank 50: the top of the second bucket.
    close(0.5, 0.005);
    // Rank 70: 20 of the third bucket's 40, between 0.005 and 0.01.
    close(0.7, 0.0075);
    // Rank 95: 5 of the fourth bucket's 9.
    close(0.95, 0.01 + 0.04 * 5.0 / 9.0);
    // Rank 99.5 falls in +Inf: the highest finite bound.
    close(0.995, 0.05);

    assert_eq!(quantile(0.5, &[(0.1, 3.0), (1.0, 3.0)]), None, "no +Inf");
    assert_eq!(quantile(0.5, &[(0.1, 0.0), (f64::INFINITY, 0.0)]), None);
    assert_eq!(quantile(0.5, &[(f64::INFINITY, 4.0)]), None);
    // A dip is evened out: the 0.5 bucket counts 8 too.
    let dipped = [(0.1, 8.0), (0.5, 6.0), (1.0, 10.0), (f64::INFINITY, 10.0)];
    assert_eq!(quantile(0.9, &dipped), Some(0.5 + 0.5 * 1.0 / 2.0));
}

fn histogram(route: &str, buckets: &[(&str, u32)], sum: f64) -> String {
    let mut text = String::from("# TYPE http_request_duration_seconds histogram\n");
    for (le, count) in buckets {
        text += &format!(
            "http_request_duration_seconds_bucket{{route=\"{route}\",method=\"GET\",le=\"{le}\"}} {count}\n"
        );
    }
    let count = buckets.last().map_or(0, |b| b.1);
    text += &format!(
        "http_request_duration_seconds_sum{{route=\"{route}\",method=\"GET\"}} {sum}\n\
         http_request_duration_seconds_count{{route=\"{route}\",method=\"GET\"}} {count}\n"
    );
    text
}

#[test]
fn latency_is_the_histograms_increase_over_routes_less_the_scrapes() {
    let before = histogram("/a", &[("0.001", 5), ("0.01", 5), ("+Inf", 5)], 0.004)
        + &histogram("/metrics", &[("0.001", 7), ("0.01", 7), ("+Inf", 7)], 0.003);
    let after = histogram("/a", &[("0.001", 45), ("0.01", 85), ("+Inf", 105)], 0.504)
        + &histogram("/b", &[("0.001", 0), ("0.01", 20), ("+Inf", 20)], 0.1)
        + &histogram(
            "/metrics",
            &[("0.001", 500), ("0.01", 500), ("+Inf", 500)],
            0.4,
        );
    let latency = derive(&[&before, &after], CLIENT)
        .latency
        .expect("a latency");
    // /a added 40, 40, 20; /b 0, 20, 0: 40 below 1 ms, 60 in 1–10 ms, 20 above.
    assert_eq!(latency.count, 120);
    assert!((latency.mean_us - 0.6 / 120.0 * 1e6).abs() < 1e-6);
    // Rank 60: 20 of 60 into 1–10 ms.
    assert_eq!(latency.p50_us, 4000);
    // Rank 114 and 118.8 are above 10 ms: the highest finite bound.
    assert_eq!(latency.p95_us, 10_000);
    assert_eq!(latency.p99_us, 10_000);
}

#[test]
fn no_latency_without_requests_or_the_histogram() {
    let idle = histogram("/a", &[("0.001", 5), ("+Inf", 5)], 0.004);
    assert_eq!(derive(&[&idle, &idle], CLIENT).latency, None);
    assert_eq!(derive(&["up 1\n", "up 1\n"], CLIENT).latency, None);
}

fn cache(counts: &[(&str, u32, u32)]) -> String {
    counts
        .iter()
        .map(|(layer, hits, misses)| {
            format!(
                "cache_hits_total{{layer=\"{layer}\"}} {hits}\n\
                 cache_misses_total{{layer=\"{layer}\"}} {misses}\n"
            )
        })
        .collect()
}

#[test]
fn the_cache_hit_ratio_counts_what_the_last_layer_asked_missed() {
    let before = cache(&[("l3", 0, 0), ("l4", 0, 0)]);
    // l4: 100 lookups, 30 misses, so l3 asked 30 times and missed 10.
    let after = cache(&[("l3", 20, 10), ("l4", 70, 30)]);
    let stats = derive(&[&before, &after], CLIENT);
    assert_eq!(
        stats.cache_layers,
        vec![
            CacheLayerStats {
                layer: "l4".to_owned(),
                hits: 70,
                misses: 30,
                hit_ratio: Some(0.7),
            },
            CacheLayerStats {
                layer: "l3".to_owned(),
                hits: 20,
                misses: 10,
                hit_ratio: Some(20.0 / 30.0),
            },
        ]
    );
    assert_eq!(stats.cache_hit_ratio, Some(1.0 - 10.0 / 100.0));
}

#[test]
fn a_layer_never_asked_does_not_count() {
    let before = cache(&[("l3", 0, 0), ("l4", 0, 0)]);
    let after = cache(&[("l3", 0, 0), ("l4", 60, 40)]);
    let stats = derive(&[&before, &after], CLIENT);
    assert_eq!(stats.cache_layers[0].layer, "l4");
    assert_eq!(stats.cache_layers[1].hit_ratio, None);
    assert_eq!(stats.cache_hit_ratio, Some(0.6));
    assert_eq!(stats.series[0].cache_hit_ratio, Some(0.6));

    let idle = cache(&[("l3", 4, 1), ("l4", 9, 5)]);
    let idle = derive(&[&idle, &idle], CLIENT);
    assert_eq!(idle.cache_hit_ratio, None);
    assert!(idle.cache_layers.iter().all(|l| l.hit_ratio.is_none()));
}

#[test]
fn between_equal_lookups_the_later_layer_has_fewer_misses() {
    // l4 missed all 10; l3 answered 6 of them.
    let layers = [
        CacheLayerStats {
            layer: "l3".to_owned(),
            hits: 6,
            misses: 4,
            hit_ratio: None,
        },
        CacheLayerStats {
            layer: "l4".to_owned(),
            hits: 0,
            misses: 10,
            hit_ratio: None,
        },
    ];
    assert_eq!(cache_hit_ratio(&layers), Some(0.6));
}

fn pool(in_use: u32, max: u32) -> String {
    format!(
        "db_pool_connections{{state=\"in_use\"}} {in_use}\n\
         db_pool_connections{{state=\"idle\"}} {}\n\
         db_pool_max_connections {max}\n",
        max - in_use
    )
}

#[test]
fn pool_utilization_is_over_the_scrapes_during_the_run() {
    let stats = derive(&[&pool(40, 40), &pool(10, 40), &pool(30, 40)], CLIENT);
    // The before scrape's 40 is not part of the run.
    assert_eq!(
        stats.db_pool,
        Some(PoolUtilization {
            mean: 0.5,
            max: 0.75,
            max_connections: 40,
            readings: Some(2),
        })
    );
    assert_eq!(
        stats
            .series
            .iter()
            .map(|s| s.db_pool_utilization)
            .collect::<Vec<_>>(),
        [Some(0.25), Some(0.75)]
    );
}

#[test]
fn pool_utilization_falls_back_to_the_before_scrape_and_needs_a_maximum() {
    let mut tally = tally(Instant::now(), &[&pool(5, 20), "up 1\n"]);
    assert!(tally.pool_during.is_empty());
    tally.record(Err(ScrapeError::Empty), Moment::During);
    let stats = tally.into_stats(String::new(), CLIENT);
    assert_eq!(stats.db_pool.map(|p| p.mean), Some(0.25));

    assert_eq!(derive(&[&pool(0, 0), &pool(0, 0)], CLIENT).db_pool, None);
    assert_eq!(derive(&["up 1\n", "up 1\n"], CLIENT).db_pool, None);
}

#[test]
fn each_interval_is_a_sample() {
    let epoch = Instant::now();
    let at = |requests: u32, sum: f64| {
        format!("http_requests_total{{route=\"/a\"}} {requests}\n")
            + &histogram("/a", &[("+Inf", requests)], sum)
    };
    let series = tally(epoch, &[&at(0, 0.0), &at(0, 0.0), &at(4, 0.02)])
        .into_stats(String::new(), CLIENT)
        .series;
    assert_eq!(
        series,
        [
            ServerSample {
                at_ms: 1000,
                rps: 0.0,
                mean_us: None,
                cache_hit_ratio: None,
                db_pool_utilization: None,
            },
            ServerSample {
                at_ms: 2000,
                rps: 4.0,
                mean_us: Some(5000.0),
                cache_hit_ratio: None,
                db_pool_utilization: None,
            },
        ]
    );
}

#[test]
fn a_scrape_before_the_epoch_is_at_0() {
    let epoch = Instant::now();
    let earlier = snapshot(epoch, 0, "up 1\n");
    let later = Snapshot {
        at: epoch,
        wall: SystemTime::now(),
        values: BTreeMap::new(),
    };
    let sample = interval(&earlier, &later, epoch + Duration::from_secs(1));
    assert_eq!(sample.at_ms, 0);
    assert_eq!(sample.rps, 0.0);
}

#[test]
fn with_fewer_than_two_scrapes_nothing_is_derived() {
    let mut tally = tally(Instant::now(), &["http_requests_total 5\n"]);
    tally.record(Err(ScrapeError::Empty), Moment::During);
    let client = ClientCounts {
        requests: 7,
        responses: 6,
        all_counted: true,
        shard: false,
    };
    let mut stats = tally.into_stats("u".to_owned(), client);
    // The one scrape was the one before the run: kept, for a merge.
    let before = stats.before.take().expect("the scrape before is kept");
    assert_eq!(before.metrics, "http_requests_total 5.0\n");
    assert_eq!(
        stats,
        ServerStats {
            url: "u".to_owned(),
            scrapes: 1,
            failed_scrapes: 1,
            requests: None,
            client_requests: 7,
            client_responses: 6,
            count_mismatch: None,
            count_unchecked: None,
            latency: None,
            cache_layers: Vec::new(),
            cache_hit_ratio: None,
            db_pool: None,
            series: Vec::new(),
            before: None,
            after: None,
        }
    );
}

#[test]
fn the_readings_kept_give_the_counters_the_scrapes_gave() {
    let before = "http_requests_total{route=\"/a\",status=\"200\"} 10\n\
                  http_request_duration_seconds_bucket{le=\"0.01\"} 4\n\
                  http_request_duration_seconds_bucket{le=\"+Inf\"} 10\n\
                  http_request_duration_seconds_sum 0.2\n\
                  http_request_duration_seconds_count 10\n\
                  cache_hits_total{layer=\"l4\"} 1\n\
                  cache_misses_total{layer=\"l4\"} 9\n";
    let after = "http_requests_total{route=\"/a\",status=\"200\"} 110\n\
                 http_request_duration_seconds_bucket{le=\"0.01\"} 84\n\
                 http_request_duration_seconds_bucket{le=\"+Inf\"} 110\n\
                 http_request_duration_seconds_sum 1.7\n\
                 http_request_duration_seconds_count 110\n\
                 cache_hits_total{layer=\"l4\"} 61\n\
                 cache_misses_total{layer=\"l4\"} 49\n";
    let stats = derive(&[before, after], CLIENT);
    let (kept_before, kept_after) = (stats.before.unwrap(), stats.after.unwrap());
    assert!(
        kept_before.at <= kept_after.at,
        "{} {}",
        kept_before.at,
        kept_after.at
    );
    let counted = Counters::between_readings(&kept_before, &kept_after).unwrap();
    assert_eq!(counted.requests, Some(100));
    assert_eq!(counted.requests, stats.requests);
    assert_eq!(counted.latency, stats.latency);
    assert_eq!(counted.cache_layers, stats.cache_layers);
    assert_eq!(counted.cache_hit_ratio, Some(0.6));
    let broken = ServerReading {
        metrics: "not prometheus {".to_owned(),
        ..kept_after
    };
    assert!(Counters::between_readings(&kept_before, &broken).is_err());
}

#[test]
fn an_empty_or_foreign_body_is_not_a_scrape() {
    let now = Instant::now();
    assert!(matches!(
        Snapshot::read(" \n", now, ROUTE),
        Err(ScrapeError::Empty)
    ));
    assert!(matches!(
        Snapshot::read("<html><body>hi</body></html>\n", now, ROUTE),
        Err(ScrapeError::NotPrometheus(_))
    ));
}

#[test]
fn counts_are_compared_only_when_the_scrapes_before_and_after_worked() {
    let series = |n: u32| format!("http_requests_total{{route=\"/a\"}} {n}\n");
    let client = ClientCounts {
        requests: 100,
        responses: 100,
        all_counted: true,
        shard: false,
    };
    // The scrape before the run failed: the first one that worked was taken
    // mid-run, at 40, so the server's 60 looks 40 short.
    let epoch = Instant::now();
    let mut tally = Tally::new(Arc::new(StageClock::starting_at(epoch)));
    tally.record(Err(ScrapeError::Empty), Moment::Before);
    tally.record(Ok(snapshot(epoch, 1000, &series(40))), Moment::During);
    tally.record(Ok(snapshot(epoch, 2000, &series(100))), Moment::After);
    let stats = tally.into_stats("http://t/metrics".to_owned(), client);
    assert_eq!(stats.requests, Some(60));
    assert_eq!(stats.count_mismatch, None, "a false \"-40\"");
    let why = stats.count_unchecked.expect("says why it did not compare");
    assert!(why.contains("the scrape before the run failed"), "{why}");

    // The final scrape failed: the last that worked is up to an interval stale.
    let mut tally = Tally::new(Arc::new(StageClock::starting_at(epoch)));
    tally.record(Ok(snapshot(epoch, 0, &series(0))), Moment::Before);
    tally.record(Ok(snapshot(epoch, 1000, &series(70))), Moment::During);
    tally.record(Err(ScrapeError::Empty), Moment::After);
    let stats = tally.into_stats("http://t/metrics".to_owned(), client);
    assert_eq!(stats.count_mismatch, None, "a false \"-30\"");
    assert!(
        stats
            .count_unchecked
            .expect("why")
            .contains("after the run")
    );

    // Both worked, but the client stopped at once (a second Ctrl-C): what
    // was in flight reached the server and was never counted here.
    let cut_short = ClientCounts {
        requests: 60,
        responses: 60,
        all_counted: false,
        shard: false,
    };
    let stats = derive(&[&series(0), &series(70)], cut_short);
    assert_eq!(stats.count_mismatch, None, "a false \"+10\"");
    assert!(
        stats
            .count_unchecked
            .expect("why")
            .contains("stopped at once")
    );

    // Both worked: compared, and a real shortfall is flagged.
    let stats = derive(&[&series(0), &series(70)], client);
    assert_eq!(stats.count_unchecked, None);
    assert!(stats.count_mismatch.expect("-30").contains("(-30)"));
}

#[test]
fn scrapes_while_waiting_for_the_start_are_the_one_before_the_run() {
    let clock = Arc::new(StageClock::new(Duration::ZERO));
    let mut tally = Tally::new(clock.clone());
    let t = Instant::now();
    let text = |requests: u32, in_use: u32| {
        format!(
            "http_requests_total {requests}\ndb_pool_connections{{state=\"in_use\"}} {in_use}\ndb_pool_max_connections 10\n"
        )
    };
    tally.record(Ok(snapshot(t, 0, &text(5, 0))), Moment::Before);
    // Waiting for --start-at: the idle pool and the requests before the
    // start are not the run's.
    tally.record(Ok(snapshot(t, 2_000, &text(9, 0))), Moment::During);
    clock.start();
    tally.record(Ok(snapshot(t, 4_000, &text(19, 10))), Moment::During);
    tally.record(Ok(snapshot(t, 6_000, &text(29, 5))), Moment::After);
    let client = ClientCounts {
        requests: 20,
        responses: 20,
        ..CLIENT
    };
    let stats = tally.into_stats("u".to_owned(), client);
    assert_eq!(
        stats.requests,
        Some(20),
        "from the last scrape before the start"
    );
    assert_eq!(stats.series.len(), 2, "{:?}", stats.series);
    assert_eq!(stats.db_pool.map(|p| p.mean), Some(0.75));
    assert_eq!(
        stats.before.unwrap().metrics.lines().next(),
        Some("db_pool_connections{state=\"in_use\"} 0.0")
    );
    assert_eq!(stats.count_mismatch, None);
}
