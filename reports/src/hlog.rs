//! Writes a run's histograms as an HdrHistogram interval log (`.hlog`),
//! so the existing HdrHistogram tools (HistogramLogAnalyzer,
//! HistogramLogProcessor, `hdrhistogram` for Python, …) can read a run and
//! plot it over time.
//!
//! The log starts with comments that say what its values are (latencies
//! in microseconds, on the run's basis), then a `StartTime` and a
//! `BaseTime`, both the run's start, so each interval's timestamp is its
//! offset into the run. Then one untagged interval per [`Interval`] of the
//! run, from the per-second series (results version 6 keeps each second's
//! histogram), by the second each request started in; then one interval
//! per request name, tagged with the name, over the whole run. A file from
//! before version 6 has no per-second histograms: its log has one untagged
//! interval for the whole run instead, and says so.

use std::{
    collections::BTreeMap,
    num::NonZeroU32,
    str::FromStr,
    time::{Duration, SystemTime},
};

use hdrhistogram::serialization::{
    V2DeflateSerializer,
    interval_log::{IntervalLogWriter, IntervalLogWriterBuilder, Tag},
};

use crate::{
    histogram::{self, CodecError, Histogram},
    results::Results,
};

/// How long each untagged interval of the log covers: whole seconds, at
/// least one, since the series it is written from is per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Interval(NonZeroU32);

impl Interval {
    /// One second: the series' own resolution.
    pub const SECOND: Self = Self(NonZeroU32::MIN);

    /// An interval of `seconds` (at least one).
    pub fn seconds(seconds: NonZeroU32) -> Self {
        Self(seconds)
    }

    fn secs(self) -> u32 {
        self.0.get()
    }
}

impl Default for Interval {
    fn default() -> Self {
        Self::SECOND
    }
}

/// An interval that is not a whole number of seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{given}` is not an interval of whole seconds, at least 1s (e.g. `1s`, `10s`, `1m`)")]
pub struct ParseIntervalError {
    pub given: String,
}

impl FromStr for Interval {
    type Err = ParseIntervalError;

    /// `1s`, `10s`, `1m`: whole seconds, as humantime writes them.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || ParseIntervalError {
            given: text.to_owned(),
        };
        let duration = humantime::parse_duration(text.trim()).map_err(|_| error())?;
        if duration.subsec_nanos() != 0 {
            return Err(error());
        }
        u32::try_from(duration.as_secs())
            .ok()
            .and_then(NonZeroU32::new)
            .map(Self)
            .ok_or_else(error)
    }
}

/// A request name made fit to be an interval-log tag (no `,` or whitespace).
pub fn tag_for(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c == ',' || c.is_whitespace() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// The interval log of `results`, its untagged intervals `interval` long.
pub fn render(results: &Results, interval: Interval) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let start = humantime_start(&results.run.started_at);
    let run = Duration::from_millis(results.run.duration_ms);
    let per_second: Option<Vec<(u32, &str)>> = results
        .series
        .iter()
        .map(|s| s.histogram.as_deref().map(|h| (s.second, h)))
        .collect();
    let per_second = per_second.filter(|seconds| !seconds.is_empty());
    let layout = match per_second {
        Some(_) => format!(
            "untagged: every request, one interval per {} s of the run by the second each request started in; tagged: each request name over the whole run",
            interval.secs()
        ),
        None => "untagged: every request over the whole run (this results file is older than version 6 and keeps no per-second histograms); tagged: each request name over the whole run".to_owned(),
    };
    let mut writer = IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "loadgate {} run of {:?}",
            results.tool.version, results.scenario.name
        ))
        .add_comment(&format!(
            "values: latency in microseconds (µs), {}",
            basis_words(results)
        ))
        .add_comment(&format!("intervals: {layout}"))
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1.0)
        .begin_log_with(&mut out, &mut serializer)
        .map_err(|e| CodecError::new(e.to_string()))?;
    match per_second {
        Some(seconds) => write_intervals(&mut writer, &seconds, interval, run)?,
        None => {
            let overall = results.overall.all.decode_histogram()?;
            write(&mut writer, &overall, Duration::ZERO, run, None)?;
        }
    }
    for endpoint in &results.requests {
        let histogram = endpoint.all.decode_histogram()?;
        let tag = tag_for(&endpoint.name);
        write(&mut writer, &histogram, Duration::ZERO, run, Tag::new(&tag))?;
    }
    Ok(out)
}

/// One untagged interval per `interval` of the series' seconds, empty ones
/// included (a stall is a gap worth seeing); the last ends with the run.
fn write_intervals(
    writer: &mut IntervalLogWriter<'_, '_, Vec<u8>, V2DeflateSerializer>,
    seconds: &[(u32, &str)],
    interval: Interval,
    run: Duration,
) -> Result<(), CodecError> {
    let step = interval.secs();
    let mut steps: BTreeMap<u32, Histogram> = BTreeMap::new();
    for (second, encoded) in seconds {
        steps
            .entry(second / step)
            .or_insert_with(histogram::new_histogram)
            .add(histogram::decode(encoded)?)
            .map_err(|e| CodecError::new(format!("{e:?}")))?;
    }
    let last = steps.keys().last().copied().unwrap_or(0);
    let empty = histogram::new_histogram();
    for index in 0..=last {
        let merged = steps.get(&index).unwrap_or(&empty);
        let at = index * step;
        let from = Duration::from_secs(u64::from(at));
        let end = Duration::from_secs(u64::from(at + step));
        // The run's last interval ends with the run, not a whole step on.
        let length = if end > run && run > from {
            run - from
        } else {
            end - from
        };
        write(writer, merged, from, length, None)?;
    }
    Ok(())
}

fn write(
    writer: &mut IntervalLogWriter<'_, '_, Vec<u8>, V2DeflateSerializer>,
    histogram: &Histogram,
    from: Duration,
    length: Duration,
    tag: Option<Tag<'_>>,
) -> Result<(), CodecError> {
    writer
        .write_histogram(histogram, from, length, tag)
        .map_err(|e| CodecError::new(format!("{e:?}")))
}

/// What the values count from, for the log's header.
fn basis_words(results: &Results) -> String {
    use crate::results::LatencyBasis;
    match results.run.latency_basis {
        LatencyBasis::Sent => "from each request's send".to_owned(),
        LatencyBasis::IntendedStart => {
            "from when each arrival was due (coordinated-omission free)".to_owned()
        }
        LatencyBasis::Corrected {
            expected_interval_us,
        } => format!(
            "corrected for a pace of {expected_interval_us} µs (each iteration's first request from when it was due)"
        ),
    }
}

/// The run's start as a `SystemTime`; the epoch when it cannot be parsed.
fn humantime_start(rfc3339: &str) -> SystemTime {
    humantime::parse_rfc3339_weak(rfc3339).unwrap_or(SystemTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_whole_seconds() {
        assert_eq!("1s".parse(), Ok(Interval::SECOND));
        assert_eq!(
            "1m".parse::<Interval>().map(Interval::secs),
            Ok(60),
            "humantime units"
        );
        for bad in ["0s", "1500ms", "soon", ""] {
            assert!(bad.parse::<Interval>().is_err(), "{bad}");
        }
    }
}
