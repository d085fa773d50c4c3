//! Writes a run's histograms as an HdrHistogram interval log (`.hlog`),
//! so the existing HdrHistogram tools (HistogramLogAnalyzer, `hdrhistogram`
//! for Python, …) can read a run.
//!
//! One interval per request name, tagged with the name, plus the untagged
//! overall histogram, each covering the whole run.

use std::time::{Duration, SystemTime};

use hdrhistogram::serialization::{V2DeflateSerializer, interval_log};

use crate::{histogram::CodecError, results::Results};

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

/// The interval log of `results`.
pub fn render(results: &Results) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let mut serializer = V2DeflateSerializer::new();
    let start = humantime_start(&results.run.started_at);
    let duration = Duration::from_millis(results.run.duration_ms);
    let mut writer = interval_log::IntervalLogWriterBuilder::new()
        .add_comment(&format!(
            "loadgate {} run of {:?}, latency in microseconds",
            results.tool.version, results.scenario.name
        ))
        .with_start_time(start)
        .with_base_time(start)
        .with_max_value_divisor(1.0)
        .begin_log_with(&mut out, &mut serializer)
        .map_err(|e| CodecError::new(e.to_string()))?;
    let overall = results.overall.all.decode_histogram()?;
    writer
        .write_histogram(&overall, Duration::ZERO, duration, None)
        .map_err(|e| CodecError::new(format!("{e:?}")))?;
    for endpoint in &results.requests {
        let histogram = endpoint.all.decode_histogram()?;
        let tag = tag_for(&endpoint.name);
        writer
            .write_histogram(
                &histogram,
                Duration::ZERO,
                duration,
                interval_log::Tag::new(&tag),
            )
            .map_err(|e| CodecError::new(format!("{e:?}")))?;
    }
    Ok(out)
}

/// The run's start as a `SystemTime`; the epoch when it cannot be parsed.
fn humantime_start(rfc3339: &str) -> SystemTime {
    humantime::parse_rfc3339_weak(rfc3339).unwrap_or(SystemTime::UNIX_EPOCH)
}
