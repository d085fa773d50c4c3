//! The server's metrics of a merged run, taken once.
//!
//! Every shard scraped the same server, so each saw the whole server's
//! counters, every shard's load in them. Adding the shards' figures up
//! would count the server's requests N times. The merge takes the counters
//! from the earliest scrape before the run that worked, of any shard, to
//! the latest after it: the whole run, once. The client's counts are the
//! shards' added up; the DB pool's mean is over all the shards' readings.

use reports::results::{PoolUtilization, ServerStats};

use super::{MergeError, windows::Part};
use crate::run::scrape::{ClientCounts, Counters, STOPPED_AT_ONCE, count_check, unmeasured};

/// The merged server stats; `None` when no shard scraped, or the shards
/// scraped different URLs (which the merge cannot tell apart from one
/// server's, so it leaves them out rather than guess).
pub(super) fn merge(parts: &[Part<'_>]) -> Result<Option<ServerStats>, MergeError> {
    let scraped: Vec<(&Part<'_>, &ServerStats)> = parts
        .iter()
        .filter_map(|p| p.results.server.as_ref().map(|s| (p, s)))
        .collect();
    let Some((_, first)) = scraped.first() else {
        return Ok(None);
    };
    if scraped.iter().any(|(_, s)| s.url != first.url) {
        tracing::warn!(
            "the shards scraped different metrics URLs; the merged results leave the server's metrics out"
        );
        return Ok(None);
    }
    // RFC 3339 UTC times, all to the millisecond, sort as text.
    let before = scraped
        .iter()
        .filter_map(|&(part, stats)| Some((part, stats.before.as_ref()?)))
        .min_by(|a, b| a.1.at.cmp(&b.1.at));
    let after = scraped
        .iter()
        .filter_map(|&(part, stats)| Some((part, stats.after.as_ref()?)))
        .max_by(|a, b| a.1.at.cmp(&b.1.at));
    let client = ClientCounts {
        requests: scraped.iter().map(|(_, s)| s.client_requests).sum(),
        responses: scraped.iter().map(|(_, s)| s.client_responses).sum(),
        all_counted: !scraped
            .iter()
            .any(|(_, s)| s.count_unchecked.as_deref() == Some(STOPPED_AT_ONCE)),
        shard: false,
    };
    let mut stats = ServerStats {
        db_pool: db_pool(&scraped),
        series: series(&scraped),
        before: before.map(|(_, r)| r.clone()),
        after: after.map(|(_, r)| r.clone()),
        ..unmeasured(
            first.url.clone(),
            scraped.iter().map(|(_, s)| s.scrapes).sum(),
            scraped.iter().map(|(_, s)| s.failed_scrapes).sum(),
            client,
        )
    };
    if let (Some((part, before)), Some((_, after))) = (before, after) {
        Counters::between_readings(before, after)
            .map_err(|why| part.refuse(format!("its server reading: {why}")))?
            .fill(&mut stats);
    }
    (stats.count_mismatch, stats.count_unchecked) =
        count_check(stats.requests, before.is_some(), after.is_some(), client);
    Ok(Some(stats))
}

/// The pool's mean over every shard's readings, weighed by how many each
/// took; its highest reading; the largest pool.
fn db_pool(scraped: &[(&Part<'_>, &ServerStats)]) -> Option<PoolUtilization> {
    let pools: Vec<PoolUtilization> = scraped.iter().filter_map(|(_, s)| s.db_pool).collect();
    let readings = |p: &PoolUtilization| f64::from(p.readings.unwrap_or(1));
    let weight: f64 = pools.iter().map(readings).sum();
    (weight > 0.0).then(|| PoolUtilization {
        mean: pools.iter().map(|p| p.mean * readings(p)).sum::<f64>() / weight,
        max: pools.iter().map(|p| p.max).fold(0.0, f64::max),
        max_connections: pools.iter().map(|p| p.max_connections).max().unwrap_or(0),
        readings: Some(pools.iter().map(|p| p.readings.unwrap_or(1)).sum()),
    })
}

/// One shard's view of the server over time (each interval is the whole
/// server's already): the shard that scraped most, on the merged clock.
fn series(scraped: &[(&Part<'_>, &ServerStats)]) -> Vec<reports::results::ServerSample> {
    let Some((part, stats)) = scraped.iter().max_by_key(|(_, s)| s.scrapes) else {
        return Vec::new();
    };
    stats
        .series
        .iter()
        .map(|sample| reports::results::ServerSample {
            at_ms: sample.at_ms + u64::from(part.offset_s) * 1000,
            ..sample.clone()
        })
        .collect()
}
