//! Latency histograms and their text form in results files.
//!
//! Every histogram in loadgate records microseconds, from 1 µs to one hour,
//! at three significant digits (at most 0.1% error), the HdrHistogram
//! defaults for latency. Longer values are clamped to the top.

use base64::{Engine, engine::general_purpose::STANDARD};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};

/// A latency histogram in µs.
pub type Histogram = hdrhistogram::Histogram<u64>;

/// Largest value a histogram tracks: one hour in µs.
pub const HIGHEST_TRACKABLE_US: u64 = 3_600_000_000;
/// Significant decimal digits kept.
pub const SIGNIFICANT_DIGITS: u8 = 3;

/// An empty histogram with loadgate's bounds.
pub fn new_histogram() -> Histogram {
    Histogram::new_with_bounds(1, HIGHEST_TRACKABLE_US, SIGNIFICANT_DIGITS)
        .expect("the bounds are valid")
}

/// Encoding or decoding a histogram failed.
#[derive(Debug, thiserror::Error)]
#[error("histogram: {0}")]
pub struct CodecError(String);

impl CodecError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// V2 + deflate, base64: the form HdrHistogram's tools exchange.
pub fn encode(histogram: &Histogram) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(histogram, &mut bytes)
        .expect("serializing into memory cannot fail");
    STANDARD.encode(bytes)
}

pub fn decode(text: &str) -> Result<Histogram, CodecError> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| CodecError(format!("not base64: {e}")))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| CodecError(format!("not a V2 histogram: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_through_text() {
        let mut h = new_histogram();
        for v in [5, 120, 120, 4_000, 2_500_000] {
            h.record(v).unwrap();
        }
        h.saturating_record(HIGHEST_TRACKABLE_US * 2);
        let back = decode(&encode(&h)).unwrap();
        assert_eq!(back.len(), 6);
        assert_eq!(back.value_at_quantile(0.5), h.value_at_quantile(0.5));
        assert_eq!(back.max(), h.max());
        assert!(decode("!!").is_err());
    }
}
