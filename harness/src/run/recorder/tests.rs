use std::collections::BTreeMap;

use reports::results::BudgetMetric;

use super::*;
use sink::BATCH_SAMPLES;
use watches::Watches;

/// A clock started now, as the first user would start it.
fn clock() -> Arc<StageClock> {
    let clock = Arc::new(StageClock::new(Duration::ZERO));
    clock.start();
    clock
}

fn sample(name: u16, start_ms: u64, latency_ms: u64, outcome: Outcome) -> Sample {
    Sample {
        name: Some(name),
        start_us: start_ms * 1000,
        latency_us: latency_ms * 1000,
        service_us: latency_ms * 1000,
        connect_us: 0,
        ttfb_us: latency_ms * 500,
        start: None,
        outcome,
    }
}

const OK: Outcome = Outcome::Ok { status: 200 };

#[tokio::test]
async fn samples_bin_by_start_second_and_split_by_name_and_judged_span() {
    let recorder = Recorder::start(RecorderConfig {
        names: vec!["a".into(), "b".into()],
        clock: clock(),
        judged: JudgedSpans(vec![(1_000_000, 2_000_000)]),
        longest_timeout: Duration::from_secs(1),
        basis: LatencyBasis::Sent,
        abort_watches: Vec::new(),
    });
    let mut sink = recorder.sink();
    sink.record(sample(0, 100, 5, OK));
    // Starts in second 0, ends in second 1: belongs to second 0.
    sink.record(sample(1, 900, 500, OK));
    sink.record(sample(0, 1_200, 50, OK));
    sink.record(sample(
        1,
        1_500,
        50,
        Outcome::Failed {
            kind: FailureKind::Status,
            status: Some(503),
        },
    ));
    sink.record(sample(
        0,
        2_500,
        7,
        Outcome::Failed {
            kind: FailureKind::Connect,
            status: None,
        },
    ));
    sink.flush();
    drop(sink);
    let rec = recorder.finish(Duration::from_secs(3)).await;
    assert_eq!(rec.overall.all.count, 5);
    assert_eq!(rec.overall.judged.count, 2, "only second 1 is judged");
    assert_eq!(rec.per_name[0].all.count, 3);
    assert_eq!(rec.per_name[1].judged.errors.status, 1);
    assert_eq!(rec.overall.all.errors.connect, 1);
    assert_eq!(
        rec.per_name[1].status_codes,
        BTreeMap::from([(200, 1), (503, 1)])
    );
    let counts: Vec<u64> = rec.seconds.iter().map(|s| s.count).collect();
    assert_eq!(counts, vec![2, 2, 1]);
    assert!(
        rec.seconds[0].max_us >= 499_000,
        "the slow request stays in second 0"
    );
    assert_eq!(rec.seconds[1].status_classes.get("5xx"), Some(&1));
    assert_eq!(rec.seconds[2].errors.connect, 1);
    assert_eq!(rec.judged.duration_within(3_000_000), 1_000_000);
}

#[tokio::test]
async fn a_dropped_arrival_fails_overall_and_in_its_second_without_being_a_request() {
    let recorder = Recorder::start(RecorderConfig {
        names: vec!["a".into()],
        clock: clock(),
        judged: JudgedSpans(vec![(1_000_000, 3_000_000)]),
        longest_timeout: Duration::from_secs(1),
        basis: LatencyBasis::IntendedStart,
        abort_watches: Vec::new(),
    });
    let mut sink = recorder.sink();
    // Three requests sent, the first starting on time, the second after
    // waiting 40 ms for a user, the third after a 30 ms start lag.
    let started = |name, ms, waited_for_user_us, start_lag_us| Sample {
        start: Some(StartTiming {
            waited_for_user_us,
            start_lag_us,
        }),
        ..sample(name, ms, 10, OK)
    };
    sink.record(started(0, 1_100, 0, 200));
    sink.record(started(0, 1_200, 40_000, 100));
    sink.record(started(0, 2_300, 0, 30_000));
    // Two arrivals due in second 2 given up unsent after 5 s, one due in
    // second 0 (not judged).
    sink.record(Sample::dropped(2_400_000, 5_000_000));
    sink.record(Sample::dropped(2_500_000, 5_000_000));
    sink.record(Sample::dropped(500_000, 5_000_000));
    sink.flush();
    drop(sink);
    let rec = recorder.finish(Duration::from_secs(3)).await;

    let overall = &rec.overall;
    assert_eq!(overall.all.count, 3, "dropped arrivals are no requests");
    assert_eq!(overall.all.errors.dropped, 3);
    assert_eq!(overall.all.errors.total(), 3);
    assert_eq!(overall.judged.count, 3);
    assert_eq!(
        overall.judged.errors.dropped, 2,
        "by due time, in the judged span"
    );
    assert!(
        overall.all.histogram.max() >= 4_990_000,
        "their wait is in the overall latency"
    );
    assert_eq!(overall.all.histogram.len(), 6);
    assert_eq!(
        overall.all.service.as_ref().unwrap().len(),
        3,
        "no service time without a send"
    );
    let named = &rec.per_name[0];
    assert_eq!(named.all.count, 3);
    assert_eq!(named.all.errors.total(), 0, "a dropped arrival had no name");
    assert!(named.all.histogram.max() < 1_000_000);

    let second = |s: u32| rec.seconds.iter().find(|x| x.second == s).unwrap();
    assert_eq!(second(2).count, 1);
    assert_eq!(second(2).errors.dropped, 2);
    assert_eq!(second(0).errors.dropped, 1);
    assert_eq!(second(0).count, 0);
    // Each second keeps the generator's lag apart from the wait for users.
    assert_eq!(second(1).start_lag_p99_us, Some(200));
    assert!(second(1).waiting_for_users_p99_us.unwrap() >= 39_000);
    assert!(second(2).start_lag_p99_us.unwrap() >= 29_000);
    assert!(
        second(2).waiting_for_users_p99_us.unwrap() >= 4_990_000,
        "a dropped arrival waited until it was given up"
    );
    let starts = rec.starts.as_ref().expect("an open model keeps its starts");
    assert_eq!(starts.start_lag.len(), 3);
    assert_eq!(starts.waiting_for_users.len(), 6);
}

#[tokio::test]
async fn a_sink_hands_over_when_full_or_when_its_oldest_sample_is_old() {
    let recorder = Recorder::start(RecorderConfig {
        names: vec!["a".into()],
        clock: clock(),
        judged: JudgedSpans::default(),
        longest_timeout: Duration::from_secs(1),
        basis: LatencyBasis::Sent,
        abort_watches: Vec::new(),
    });
    let mut sink = recorder.sink();
    // Ends at 10 ms, then at 150 ms: younger than the batch age.
    sink.record(sample(0, 0, 10, OK));
    sink.record(sample(0, 100, 50, OK));
    assert_eq!(sink.buffered(), 2);
    // Ends at 210 ms, 200 ms after the oldest: handed over.
    sink.record(sample(0, 200, 10, OK));
    assert!(sink.buffered() == 0);
    for i in 0..BATCH_SAMPLES as u64 {
        sink.record(sample(0, 1_000 + i / 10, 1, OK));
    }
    assert!(sink.buffered() == 0, "a full buffer is handed over");
    drop(sink);
    let rec = recorder.finish(Duration::from_secs(2)).await;
    assert_eq!(rec.overall.all.count, 3 + BATCH_SAMPLES as u64);
}

#[test]
fn a_watch_fires_only_after_its_breach_has_lasted() {
    let mut watches = Watches::new(vec![AbortWatch {
        scope: Some(1),
        metric: BudgetMetric::P99,
        limit: 100_000.0,
        window: Duration::from_secs(1),
        after: Duration::from_secs(2),
    }]);
    let names = ["a".to_owned(), "b".to_owned()];
    let feed = |watches: &mut Watches, second: u32, name: u16, latency_ms: u64| {
        watches.take(
            second,
            &sample(name, u64::from(second) * 1000, latency_ms, OK),
            LatencyBasis::Sent,
        );
    };
    // Second 0: fast. Second 1: slow, but only on the unwatched name.
    feed(&mut watches, 0, 1, 5);
    assert_eq!(watches.check(1, &names), None);
    feed(&mut watches, 1, 0, 500);
    feed(&mut watches, 1, 1, 5);
    assert_eq!(watches.check(2, &names), None);
    // Seconds 2 and 3: slow on the watched name; the breach is seen at
    // the check of second 3 and has lasted 2 s at the check of second 5.
    for second in 2..4 {
        feed(&mut watches, second, 1, 300);
        assert_eq!(watches.check(second + 1, &names), None, "{second}");
    }
    // Nothing arrives in second 4: no evidence, and the breach goes on.
    let aborted = watches.check(5, &names).expect("fired");
    assert_eq!(aborted.scope, "b");
    assert_eq!(aborted.metric, BudgetMetric::P99);
    assert_eq!(aborted.at_ms, 5_000);
    assert!(
        aborted.reason.contains("b p99 over the last 1s was 300 ms"),
        "{}",
        aborted.reason
    );
}

#[test]
fn a_watch_counts_dropped_arrivals_overall_only_as_failures() {
    let watch = |scope| AbortWatch {
        scope,
        metric: BudgetMetric::MaxErrorRate,
        limit: 0.5,
        window: Duration::from_secs(1),
        after: Duration::ZERO,
    };
    let mut watches = Watches::new(vec![watch(Some(0)), watch(None)]);
    let names = ["a".to_owned()];
    // One request, fine; three arrivals dropped: 75% failed overall, 0% for `a`.
    watches.take(0, &sample(0, 0, 1, OK), LatencyBasis::IntendedStart);
    for _ in 0..3 {
        watches.take(
            0,
            &Sample::dropped(0, 2_000_000),
            LatencyBasis::IntendedStart,
        );
    }
    let aborted = watches.check(1, &names).expect("overall breached");
    assert_eq!(aborted.scope, "overall");
    assert!(aborted.reason.contains("75%"), "{}", aborted.reason);
}

#[test]
fn a_recovery_resets_the_breach() {
    let mut watches = Watches::new(vec![AbortWatch {
        scope: None,
        metric: BudgetMetric::MaxErrorRate,
        limit: 0.1,
        window: Duration::from_secs(1),
        after: Duration::from_secs(1),
    }]);
    let failed = Outcome::Failed {
        kind: FailureKind::Status,
        status: Some(500),
    };
    let names = ["a".to_owned()];
    watches.take(0, &sample(0, 0, 1, failed), LatencyBasis::Sent);
    assert_eq!(watches.check(1, &names), None, "breach starts");
    watches.take(1, &sample(0, 1000, 1, OK), LatencyBasis::Sent);
    assert_eq!(watches.check(2, &names), None, "recovered");
    watches.take(2, &sample(0, 2000, 1, failed), LatencyBasis::Sent);
    assert_eq!(watches.check(3, &names), None, "a new breach starts");
    watches.take(3, &sample(0, 3000, 1, failed), LatencyBasis::Sent);
    assert!(watches.check(4, &names).is_some());
}

#[test]
fn a_pace_corrects_the_judged_histogram_and_keeps_the_raw_one() {
    let basis = LatencyBasis::Corrected {
        expected_interval_us: 100_000,
    };
    let mut tally = Tally::new(basis);
    tally.add(&sample(0, 0, 1_000, OK), basis);
    for i in 1..=10 {
        tally.add(&sample(0, i * 100, 1, OK), basis);
    }
    let raw = tally.service.as_ref().expect("raw kept");
    assert_eq!(raw.len(), 11);
    // The 1 s sample stood for ten 100 ms intervals: nine fill-ins.
    assert_eq!(tally.histogram.len(), 20);
    assert_eq!(tally.count, 11, "requests are counted once");
    assert!(tally.histogram.value_at_quantile(0.6) >= 100_000);
    assert!(raw.value_at_quantile(0.6) < 2_000);
}

#[test]
fn judged_spans_clip_to_the_run() {
    let spans = JudgedSpans(vec![(0, 5_000_000), (8_000_000, 20_000_000)]);
    assert_eq!(spans.duration_within(10_000_000), 7_000_000);
    assert!(JudgedSpans::default().contains(42));
    assert_eq!(JudgedSpans::default().duration_within(9), 9);
}
