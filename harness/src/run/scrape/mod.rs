//! The target's own view of a run, from its Prometheus metrics.
//!
//! A [`Scraper`] reads the metrics URL once before the run
//! ([`Scraper::start`]), every few seconds during it (a spawned task) and
//! once after ([`Scraper::finish`]). Each scrape that works is read
//! (`exposition`) down to the series the results use, a `Snapshot`, and
//! folded into a `Tally` as it comes, so a long run keeps two snapshots
//! rather than all of them. The tally then becomes [`ServerStats`]: counter
//! increases from the first snapshot to the last, and one [`ServerSample`]
//! per interval between two.
//!
//! Scraping is a request to the server too: series whose `route` label is
//! the metrics URL's path are left out, so that the server's request count
//! can be held against the client's. A scrape that fails is counted and
//! skipped; metrics are a cross-check and never fail a run.

mod exposition;

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BTreeSet},
    sync::Arc,
    time::{Duration, Instant, SystemTime},
};

use reports::results::{
    CacheLayerStats, PoolUtilization, ServerLatency, ServerReading, ServerSample, ServerStats,
};
use reqwest::header::ACCEPT;
use scenario::duration::whole_millis;
use tokio::{sync::oneshot, task::JoinHandle};

use super::clock::StageClock;
use exposition::Series;

/// How long one scrape may take: a metrics endpoint slower than this is in
/// trouble anyway, and the last scrape must not hold up the results.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(2);

/// The metrics used, as the bundled service names them (and many others).
const REQUESTS: &str = "http_requests_total";
const DURATION_BUCKET: &str = "http_request_duration_seconds_bucket";
const DURATION_SUM: &str = "http_request_duration_seconds_sum";
const DURATION_COUNT: &str = "http_request_duration_seconds_count";
const CACHE_HITS: &str = "cache_hits_total";
const CACHE_MISSES: &str = "cache_misses_total";
const POOL_CONNECTIONS: &str = "db_pool_connections";
const POOL_MAX: &str = "db_pool_max_connections";
const USED: [&str; 8] = [
    REQUESTS,
    DURATION_BUCKET,
    DURATION_SUM,
    DURATION_COUNT,
    CACHE_HITS,
    CACHE_MISSES,
    POOL_CONNECTIONS,
    POOL_MAX,
];

/// What the client counted over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCounts {
    pub requests: u64,
    pub responses: u64,
    /// False when the run was stopped at once (a second Ctrl-C): requests
    /// still in flight, and the samples users still held, were never
    /// counted, so the server's count cannot be held against these.
    pub all_counted: bool,
    /// True for a shard of a run (`--shard`): the server counted every
    /// shard's requests, so only a merge can hold its count against the
    /// client's.
    pub shard: bool,
}

/// Scrapes a metrics URL before, during and after a run.
#[derive(Debug)]
pub struct Scraper {
    source: Source,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Tally>,
}

impl Scraper {
    /// Scrapes `url` once now, then every `every` in the background until
    /// [`Scraper::finish`] (or until dropped). The series' times count
    /// from the `clock`'s epoch; a scrape before it is at 0.
    pub async fn start(url: String, clock: Arc<StageClock>, every: Duration) -> Self {
        let source = Source::new(url);
        let mut tally = Tally::new(clock);
        tally.record(source.scrape().await, Moment::Before);
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(scrape_until(source.clone(), tally, every, stopped));
        Self { source, stop, task }
    }

    /// Stops the background scrapes, scrapes a last time and derives what
    /// the server saw, next to what the `client` counted.
    pub async fn finish(self, client: ClientCounts) -> ServerStats {
        // An error means the task has ended already, and joining says why.
        let _ = self.stop.send(());
        let mut tally = match self.task.await {
            Ok(tally) => tally,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        };
        tally.record(self.source.scrape().await, Moment::After);
        tally.into_stats(self.source.url, client)
    }
}

/// Scrapes every `every` (from the end of one scrape to the start of the
/// next; the series measure their own intervals) until `stop` fires or
/// its sender is dropped.
async fn scrape_until(
    source: Source,
    mut tally: Tally,
    every: Duration,
    mut stop: oneshot::Receiver<()>,
) -> Tally {
    loop {
        tokio::select! {
            _ = &mut stop => return tally,
            scraped = async {
                tokio::time::sleep(every).await;
                source.scrape().await
            } => tally.record(scraped, Moment::During),
        }
    }
}

/// The metrics URL and how to read it.
#[derive(Debug, Clone)]
struct Source {
    client: reqwest::Client,
    url: String,
    /// The URL's path: the `route` of the scrapes' own requests.
    route: String,
}

impl Source {
    fn new(url: String) -> Self {
        let route = reqwest::Url::parse(&url)
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        Self {
            client: reqwest::Client::new(),
            url,
            route,
        }
    }

    async fn scrape(&self) -> Result<Snapshot, ScrapeError> {
        let response = self
            .client
            .get(&self.url)
            // The classic text format, not OpenMetrics (exemplars, `# EOF`).
            .header(ACCEPT, "text/plain; version=0.0.4")
            .timeout(SCRAPE_TIMEOUT)
            .send()
            .await?
            .error_for_status()?;
        // The server rendered its metrics before answering.
        let at = Instant::now();
        let text = response.text().await?;
        Snapshot::read(&text, at, &self.route)
    }
}

#[derive(Debug, thiserror::Error)]
enum ScrapeError {
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    #[error("not Prometheus text: {0}")]
    NotPrometheus(#[from] exposition::ParseError),
    #[error("no metrics in the response")]
    Empty,
}

/// One scrape that worked: the values of the series used, when read.
#[derive(Debug, Clone)]
struct Snapshot {
    at: Instant,
    /// `at` on the wall clock, for the results' [`ServerReading`].
    wall: SystemTime,
    values: BTreeMap<Series, f64>,
}

impl Snapshot {
    /// The series of [`USED`] in exposition `text`, less the scrapes' own
    /// (`route` = `scrape_route`).
    fn read(text: &str, at: Instant, scrape_route: &str) -> Result<Self, ScrapeError> {
        if text.trim().is_empty() {
            return Err(ScrapeError::Empty);
        }
        let values = exposition::parse(text, |series| {
            USED.contains(&series.name.as_str()) && series.label("route") != Some(scrape_route)
        })?;
        let wall = SystemTime::now()
            .checked_sub(at.elapsed())
            .unwrap_or(SystemTime::UNIX_EPOCH);
        Ok(Self { at, wall, values })
    }

    /// The snapshot as the results keep it.
    fn reading(&self) -> ServerReading {
        ServerReading {
            at: humantime::format_rfc3339_millis(self.wall).to_string(),
            metrics: exposition::render(&self.values),
        }
    }

    /// A reading of the results back; the scrapes' own route was left out
    /// when it was taken.
    fn from_reading(reading: &ServerReading) -> Result<Self, String> {
        let wall = humantime::parse_rfc3339(&reading.at)
            .map_err(|e| format!("the reading's time `{}`: {e}", reading.at))?;
        let values = exposition::parse(&reading.metrics, |_| true)
            .map_err(|e| format!("the reading's metrics: {e}"))?;
        Ok(Self {
            // Only counters between two readings are taken from it, never
            // an interval on the run's clock, which a file cannot keep.
            at: Instant::now(),
            wall,
            values,
        })
    }

    /// The sum of the series `pick` chooses (a gauge's value over its label
    /// sets); `None` when there are none.
    fn total(&self, pick: impl Fn(&Series) -> bool) -> Option<f64> {
        self.values
            .iter()
            .filter(|(series, value)| pick(series) && value.is_finite())
            .map(|(_, value)| *value)
            .reduce(|a, b| a + b)
    }

    /// How much the counters `pick` chooses went up since `earlier`, summed
    /// over their label sets; `None` when this snapshot has none of them.
    /// A series missing earlier started at 0; one that went down was reset
    /// (the server restarted), so all of its value is new.
    fn increase_since(&self, earlier: &Snapshot, pick: impl Fn(&Series) -> bool) -> Option<f64> {
        self.values
            .iter()
            .filter(|(series, now)| pick(series) && now.is_finite())
            .map(|(series, &now)| {
                let before = earlier
                    .values
                    .get(series)
                    .copied()
                    .filter(|v| v.is_finite())
                    .unwrap_or(0.0);
                if now < before { now } else { now - before }
            })
            .reduce(|a, b| a + b)
    }

    /// The distinct values of label `label` among the series named `names`.
    fn label_values<'a>(&'a self, names: &[&str], label: &str) -> BTreeSet<&'a str> {
        self.values
            .keys()
            .filter(|series| names.contains(&series.name.as_str()))
            .filter_map(|series| series.label(label))
            .collect()
    }

    fn pool(&self) -> Option<PoolReading> {
        let in_use =
            self.total(|s| s.name == POOL_CONNECTIONS && s.label("state") == Some("in_use"))?;
        let max = self.total(|s| s.name == POOL_MAX)?;
        (max > 0.0).then_some(PoolReading { in_use, max })
    }
}

/// Whether a scrape came before the run, during it, or after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Before,
    During,
    /// The last scrape, once the client has stopped.
    After,
}

/// The DB pool gauges at one scrape.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PoolReading {
    in_use: f64,
    max: f64,
}

impl PoolReading {
    fn utilization(self) -> f64 {
        self.in_use / self.max
    }
}

/// The scrapes so far, folded in as they come.
#[derive(Debug)]
struct Tally {
    clock: Arc<StageClock>,
    scrapes: u32,
    failed_scrapes: u32,
    first: Option<Snapshot>,
    last: Option<Snapshot>,
    series: Vec<ServerSample>,
    pool_before: Option<PoolReading>,
    pool_during: Vec<PoolReading>,
    /// Whether the scrape before the run and the one after it worked: the
    /// server's count spans the client's only when both did.
    before_worked: bool,
    after_worked: bool,
}

impl Tally {
    fn new(clock: Arc<StageClock>) -> Self {
        Self {
            clock,
            scrapes: 0,
            failed_scrapes: 0,
            first: None,
            last: None,
            series: Vec::new(),
            pool_before: None,
            pool_during: Vec::new(),
            before_worked: false,
            after_worked: false,
        }
    }

    fn record(&mut self, scraped: Result<Snapshot, ScrapeError>, moment: Moment) {
        let snapshot = match scraped {
            Ok(snapshot) => snapshot,
            Err(e) => {
                // Once is enough: a dead endpoint would say it every scrape.
                if self.failed_scrapes == 0 {
                    tracing::warn!("scraping the target's metrics failed: {e}");
                } else {
                    tracing::debug!("scraping the target's metrics failed: {e}");
                }
                self.failed_scrapes += 1;
                return;
            }
        };
        self.scrapes += 1;
        // Until the run starts (a wait for `--start-at`), each scrape is
        // the one before the run: its latest reading, not an interval.
        let moment = match moment {
            Moment::During if self.clock.epoch().is_none() => Moment::Before,
            moment => moment,
        };
        if moment == Moment::Before {
            self.pool_before = snapshot.pool();
            self.before_worked = true;
            self.first = Some(snapshot.clone());
            self.last = Some(snapshot);
            return;
        }
        match (moment, snapshot.pool()) {
            (Moment::Before, pool) => self.pool_before = pool,
            (Moment::During | Moment::After, Some(pool)) => self.pool_during.push(pool),
            (Moment::During | Moment::After, None) => {}
        }
        self.before_worked |= moment == Moment::Before;
        self.after_worked |= moment == Moment::After;
        if let Some(previous) = &self.last {
            let epoch = self.clock.epoch().unwrap_or(snapshot.at);
            self.series.push(interval(previous, &snapshot, epoch));
        }
        if self.first.is_none() {
            self.first = Some(snapshot.clone());
        }
        self.last = Some(snapshot);
    }

    fn into_stats(self, url: String, client: ClientCounts) -> ServerStats {
        let mut stats = unmeasured(url, self.scrapes, self.failed_scrapes, client);
        let (Some(first), Some(last)) = (&self.first, &self.last) else {
            return stats;
        };
        stats.before = self.before_worked.then(|| first.reading());
        stats.after = self.after_worked.then(|| last.reading());
        if self.scrapes < 2 {
            return stats;
        }
        Counters::between(first, last).fill(&mut stats);
        (stats.count_mismatch, stats.count_unchecked) = count_check(
            stats.requests,
            self.before_worked,
            self.after_worked,
            client,
        );
        stats.db_pool = if self.pool_during.is_empty() {
            pool_utilization(self.pool_before.as_slice())
        } else {
            pool_utilization(&self.pool_during)
        };
        stats.series = self.series;
        stats
    }
}

/// What the server counted between two scrapes.
#[derive(Debug, Clone, PartialEq)]
pub struct Counters {
    /// `http_requests_total`, the scrapes' own requests left out.
    pub requests: Option<u64>,
    pub latency: Option<ServerLatency>,
    pub cache_layers: Vec<CacheLayerStats>,
    pub cache_hit_ratio: Option<f64>,
}

impl Counters {
    fn between(first: &Snapshot, last: &Snapshot) -> Self {
        let cache_layers = cache_layers(first, last);
        Self {
            requests: last
                .increase_since(first, |s| s.name == REQUESTS)
                .map(to_count),
            latency: latency(first, last),
            cache_hit_ratio: cache_hit_ratio(&cache_layers),
            cache_layers,
        }
    }

    /// Sets what was counted in `stats`.
    pub fn fill(self, stats: &mut ServerStats) {
        stats.requests = self.requests;
        stats.latency = self.latency;
        stats.cache_layers = self.cache_layers;
        stats.cache_hit_ratio = self.cache_hit_ratio;
    }

    /// What the server counted from the reading `before` to the reading
    /// `after`, both kept in results files: how a merge of shards that
    /// scraped one server counts it once.
    ///
    /// # Errors
    /// When a reading is not one a run wrote (its time or its metrics
    /// cannot be read).
    pub fn between_readings(before: &ServerReading, after: &ServerReading) -> Result<Self, String> {
        Ok(Self::between(
            &Snapshot::from_reading(before)?,
            &Snapshot::from_reading(after)?,
        ))
    }
}

/// The stats of `scrapes` (and `failed_scrapes`) of `url` beside what the
/// `client` counted, before anything is derived from them.
pub fn unmeasured(
    url: String,
    scrapes: u32,
    failed_scrapes: u32,
    client: ClientCounts,
) -> ServerStats {
    ServerStats {
        url,
        scrapes,
        failed_scrapes,
        requests: None,
        client_requests: client.requests,
        client_responses: client.responses,
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
}

/// The server's request count held against the client's: the mismatch,
/// or why they were not compared ([`ServerStats::count_mismatch`],
/// [`ServerStats::count_unchecked`]).
pub fn count_check(
    server: Option<u64>,
    before_worked: bool,
    after_worked: bool,
    client: ClientCounts,
) -> (Option<String>, Option<String>) {
    match unchecked(before_worked, after_worked, client) {
        None => (server.and_then(|server| mismatch(server, client)), None),
        Some(why) => (None, server.map(|_| why)),
    }
}

/// The server between two snapshots.
fn interval(earlier: &Snapshot, later: &Snapshot, epoch: Instant) -> ServerSample {
    let seconds = later.at.saturating_duration_since(earlier.at).as_secs_f64();
    let requests = later
        .increase_since(earlier, |s| s.name == REQUESTS)
        .unwrap_or(0.0);
    let count = later
        .increase_since(earlier, |s| s.name == DURATION_COUNT)
        .filter(|count| *count > 0.0);
    let sum = later.increase_since(earlier, |s| s.name == DURATION_SUM);
    ServerSample {
        at_ms: whole_millis(later.at.saturating_duration_since(epoch)),
        rps: if seconds > 0.0 {
            requests / seconds
        } else {
            0.0
        },
        mean_us: count.zip(sum).map(|(count, sum)| sum / count * 1e6),
        cache_hit_ratio: cache_hit_ratio(&cache_layers(earlier, later)),
        db_pool_utilization: later.pool().map(PoolReading::utilization),
    }
}

/// [`ServerStats::count_unchecked`] when the client stopped at once: a
/// merge of shards asks for it by this text.
pub const STOPPED_AT_ONCE: &str = "request counts not compared: the run was stopped at once, so requests in flight were not counted";

/// [`ServerStats::count_unchecked`] of a shard.
pub const ONE_SHARD: &str = "request counts not compared: the server counted every shard's requests, and `loadgate merge` compares them with all the shards'";

/// Why the server's count cannot be held against the client's: without
/// the scrape before the run it starts mid-run, and without the one after,
/// it ends up to a scrape interval early. Either way it would look short.
/// And a client that stopped at once counted less than it sent, so the
/// server's would look long.
fn unchecked(before_worked: bool, after_worked: bool, client: ClientCounts) -> Option<String> {
    if !client.all_counted {
        return Some(STOPPED_AT_ONCE.to_owned());
    }
    if client.shard {
        return Some(ONE_SHARD.to_owned());
    }
    let failed = match (before_worked, after_worked) {
        (true, true) => return None,
        (false, true) => "the scrape before the run",
        (true, false) => "the scrape after the run",
        (false, false) => "the scrapes before and after the run",
    };
    Some(format!(
        "request counts not compared: {failed} failed, so the server's count covers only part of the run"
    ))
}

/// Set when the server's count is outside what the client can account
/// for: at most every request sent, at least every response received.
fn mismatch(server: u64, client: ClientCounts) -> Option<String> {
    let off = if server > client.requests {
        format!("+{}", server - client.requests)
    } else if server < client.responses {
        format!("-{}", client.responses - server)
    } else {
        return None;
    };
    Some(format!(
        "the server counted {server} requests; the client sent {} and got {} responses ({off})",
        client.requests, client.responses
    ))
}

/// The request-duration histogram between two snapshots.
fn latency(first: &Snapshot, last: &Snapshot) -> Option<ServerLatency> {
    let count = last
        .increase_since(first, |s| s.name == DURATION_COUNT)
        .map(to_count)
        .filter(|count| *count > 0)?;
    let sum = last.increase_since(first, |s| s.name == DURATION_SUM)?;
    let buckets = duration_buckets(first, last);
    let micros = |q: f64| quantile(q, &buckets).map(|seconds| (seconds * 1e6).round() as u64);
    Some(ServerLatency {
        count,
        mean_us: sum / count as f64 * 1e6,
        p50_us: micros(0.5)?,
        p95_us: micros(0.95)?,
        p99_us: micros(0.99)?,
    })
}

/// The request-duration histogram's cumulative buckets (upper bound,
/// count) between two snapshots, summed over label sets, by bound.
fn duration_buckets(first: &Snapshot, last: &Snapshot) -> Vec<(f64, f64)> {
    let mut buckets: Vec<(f64, f64)> = last
        .label_values(&[DURATION_BUCKET], "le")
        .into_iter()
        .filter_map(|le| {
            let bound = le.parse::<f64>().ok()?;
            let count = last.increase_since(first, |s| {
                s.name == DURATION_BUCKET && s.label("le") == Some(le)
            })?;
            Some((bound, count))
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    // `1` and `1.0` are one bucket.
    buckets.dedup_by(|later, kept| {
        let same = later.0 == kept.0;
        if same {
            kept.1 += later.1;
        }
        same
    });
    buckets
}

/// The `q` quantile of a histogram's cumulative `buckets` (upper bound,
/// count), sorted by bound, as Prometheus' `histogram_quantile` has it:
/// linear within the bucket the rank falls in (from 0 for the first
/// bucket), the highest finite bound when it falls in `+Inf`. `None`
/// without a `+Inf` bucket or observations.
fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    if buckets.len() < 2 || buckets.last()?.0 != f64::INFINITY {
        return None;
    }
    // Series reset at different times can leave a bucket below the one
    // before it; Prometheus evens that out the same way.
    let counts: Vec<f64> = buckets
        .iter()
        .scan(0.0, |highest: &mut f64, &(_, count)| {
            *highest = highest.max(count);
            Some(*highest)
        })
        .collect();
    let observations = *counts.last()?;
    if observations <= 0.0 {
        return None;
    }
    let rank = q * observations;
    let b = counts.iter().position(|&count| count >= rank)?;
    if b == buckets.len() - 1 {
        return Some(buckets[b - 1].0);
    }
    if b == 0 && buckets[0].0 <= 0.0 {
        return Some(buckets[0].0);
    }
    let (start, below) = if b == 0 {
        (0.0, 0.0)
    } else {
        (buckets[b - 1].0, counts[b - 1])
    };
    let end = buckets[b].0;
    Some(start + (end - start) * (rank - below) / (counts[b] - below))
}

/// Hits and misses per `layer` between two snapshots, the layer asked
/// first (most lookups) first.
fn cache_layers(first: &Snapshot, last: &Snapshot) -> Vec<CacheLayerStats> {
    let mut layers: Vec<CacheLayerStats> = last
        .label_values(&[CACHE_HITS, CACHE_MISSES], "layer")
        .into_iter()
        .map(|layer| {
            let count = |name: &str| {
                last.increase_since(first, |s| s.name == name && s.label("layer") == Some(layer))
                    .map_or(0, to_count)
            };
            let (hits, misses) = (count(CACHE_HITS), count(CACHE_MISSES));
            CacheLayerStats {
                layer: layer.to_owned(),
                hits,
                misses,
                hit_ratio: (hits + misses > 0).then(|| hits as f64 / (hits + misses) as f64),
            }
        })
        .collect();
    // Stable, so equal layers stay in name order.
    layers.sort_by_key(|l| Reverse((lookups(l), l.misses)));
    layers
}

/// Lookups some layer answered. Each layer is asked only when the ones
/// before it missed, so the first has the most lookups and what the last
/// missed, nothing answered. Layers never asked (a cache not configured)
/// are not the last. Between equal lookups, the later layer has fewer
/// misses.
fn cache_hit_ratio(layers: &[CacheLayerStats]) -> Option<f64> {
    let asked = || layers.iter().filter(|l| lookups(l) > 0);
    let first = asked().max_by_key(|l| lookups(l))?;
    let last = asked().min_by_key(|l| (lookups(l), l.misses))?;
    Some(1.0 - last.misses as f64 / lookups(first) as f64)
}

fn lookups(layer: &CacheLayerStats) -> u64 {
    layer.hits + layer.misses
}

/// Utilization over `readings`; `None` without any.
fn pool_utilization(readings: &[PoolReading]) -> Option<PoolUtilization> {
    if readings.is_empty() {
        return None;
    }
    let utilization = || readings.iter().map(|r| r.utilization());
    Some(PoolUtilization {
        mean: utilization().sum::<f64>() / readings.len() as f64,
        max: utilization().fold(0.0, f64::max),
        max_connections: to_count(readings.iter().map(|r| r.max).fold(0.0, f64::max)),
        readings: Some(u32::try_from(readings.len()).unwrap_or(u32::MAX)),
    })
}

/// A counter's float value as a count.
fn to_count(value: f64) -> u64 {
    value.round() as u64
}

#[cfg(test)]
mod tests;
