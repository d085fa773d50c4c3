//! What one `harness::run::recorder::SampleSink::record` costs: a virtual user
//! handing one finished request to its recorder buffer. Every request of a
//! run goes through it, on the generator's own cores, so whatever it costs
//! is taken from the load the generator can send; the goal is under 20 ns.
//!
//! The sink is the real one, from `Recorder::start(..).sink()` inside a
//! multi-threaded tokio runtime whose one worker runs the real aggregator,
//! as in a run: every 256th call leaves a full batch in the aggregator's
//! inbox and takes back a recycled buffer (a new one only until the
//! buffers go round), and that amortised cost is in the number. The
//! aggregator drains the inbox every 50 ms, concurrently; after each timed
//! loop the bench waits, untimed, until it has taken every sample, so the
//! memory cannot grow without bound and the next loop starts clean.
//!
//! `Instant::now()` alone is measured beside it, as the floor of any
//! per-call clock read.
//!
//! `cargo bench -p benches --bench record_sample`

use std::{
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use harness::run::{
    clock::StageClock,
    recorder::{JudgedSpans, Outcome, Recorder, RecorderConfig, Sample},
};
use reports::results::{LatencyBasis, LatencyOf};

/// Sample number `n`: five names, latencies that vary, one connect in 64,
/// all in the first second (so the aggregator keeps one second open, as a
/// run does, instead of one per sample).
fn sample(n: u64) -> Sample {
    let latency_us = 800 + (n & 1023);
    Sample {
        name: Some((n % 5) as u16),
        start_us: n % 1_000_000,
        latency_us,
        service_us: latency_us,
        connect_us: if n.is_multiple_of(64) { 150 } else { 0 },
        ttfb_us: latency_us / 2,
        start: None,
        outcome: Outcome::Ok { status: 200 },
    }
}

fn record_sample(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let _entered = runtime.enter();
    let recorder = Recorder::start(RecorderConfig {
        names: [
            "health",
            "list_servers",
            "create_server",
            "get_server",
            "get_metrics",
        ]
        .map(String::from)
        .to_vec(),
        clock: {
            let clock = std::sync::Arc::new(StageClock::new(Duration::ZERO));
            clock.start();
            clock
        },
        judged: JudgedSpans::default(),
        timeline_end: Duration::from_secs(60),
        longest_timeout: Duration::from_secs(30),
        basis: LatencyBasis::Sent,
        abort_watches: Vec::new(),
        latency_of: LatencyOf::All,
    });
    let mut sink = recorder.sink();
    let mut recorded = 0_u64;

    let mut group = c.benchmark_group("recorder");
    group.throughput(Throughput::Elements(1));
    group.bench_function("SampleSink::record", |b| {
        b.iter_custom(|iters| {
            let first = recorded;
            let started = Instant::now();
            for n in first..first + iters {
                sink.record(black_box(sample(n)));
            }
            let elapsed = started.elapsed();
            recorded += iters;
            // Untimed: hand over the rest and let the aggregator catch up.
            sink.flush();
            while recorder.take_recent().requests < recorded {
                std::thread::sleep(Duration::from_micros(200));
            }
            elapsed
        });
    });
    group.bench_function("Instant::now (reference)", |b| {
        b.iter(|| black_box(Instant::now()));
    });
    group.finish();
}

criterion_group!(benches, record_sample);
criterion_main!(benches);
