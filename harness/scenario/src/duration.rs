//! Human durations such as `30s`, `10m`, `1h30m`, `250ms` or `800us`.
//!
//! Scenario authors write durations by hand, so the grammar is strict on
//! purpose: digits immediately followed by a unit, units from largest to
//! smallest, each at most once, no spaces, no sign, no fractions. A strict
//! grammar turns `10 min` or `-5s` into an error at validation time instead
//! of a silently different load test. The same module writes durations back
//! out for people (`1h30m`).

use std::fmt;
use std::time::Duration;

/// Units the grammar accepts, largest first, with their length in nanoseconds.
const UNITS: &[(&str, u128)] = &[
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("µs", 1_000),
];

/// Why a piece of text is not a duration; its `Display` is the message a
/// scenario author sees after the field path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationError {
    text: String,
    /// The YAML value was a bare number: the fix is to add a unit.
    bare_number: bool,
}

impl DurationError {
    /// An error for `text`; `bare_number` when the YAML value was a number,
    /// which gets a hint to add a unit rather than the general one.
    pub fn new(text: impl Into<String>, bare_number: bool) -> Self {
        Self {
            text: text.into(),
            bare_number,
        }
    }
}

impl fmt::Display for DurationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.bare_number {
            write!(
                f,
                "{} is not a duration: add a unit (use {}s, 10m, 1h30m)",
                self.text, self.text
            )
        } else {
            write!(f, "{:?} is not a duration (use 10m, 90s, 1h30m)", self.text)
        }
    }
}

impl std::error::Error for DurationError {}

/// Parses a human duration (`1h30m`, `90s`, `250ms`, `800us`, `0s`).
///
/// # Errors
/// Any text outside the grammar described in the module docs, including the
/// empty string, spaces, signs, fractions, unknown or repeated units, units
/// out of order, and values that overflow.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let error = || DurationError::new(text, false);
    if text.is_empty() {
        return Err(error());
    }
    let mut rest = text;
    let mut total: u128 = 0;
    // Index into UNITS of the last unit used: the next one must be smaller.
    let mut last_unit: Option<usize> = None;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(error());
        }
        let number: u128 = rest[..digits].parse().map_err(|_| error())?;
        rest = &rest[digits..];
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit())
            .map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let index = UNITS
            .iter()
            .position(|(name, _)| *name == unit)
            .ok_or_else(error)?;
        // `us` and `µs` are the same unit: compare by size, not by index.
        if let Some(last) = last_unit
            && UNITS[index].1 >= UNITS[last].1
        {
            return Err(error());
        }
        last_unit = Some(index);
        total = number
            .checked_mul(UNITS[index].1)
            .and_then(|n| total.checked_add(n))
            .ok_or_else(error)?;
    }
    let secs = u64::try_from(total / 1_000_000_000).map_err(|_| error())?;
    // The remainder is below 1e9, so it always fits in a u32.
    let nanos = (total % 1_000_000_000) as u32;
    Ok(Duration::new(secs, nanos))
}

/// Whole microseconds in `duration`, the unit budgets and samples count in;
/// saturates at `u64::MAX` (580,000 years), which no run reaches.
pub const fn whole_micros(duration: Duration) -> u64 {
    let micros = duration.as_micros();
    if micros > u64::MAX as u128 {
        u64::MAX
    } else {
        micros as u64
    }
}

/// Whole milliseconds in `duration`, the unit the results file's times
/// use; saturates like [`whole_micros`].
pub fn whole_millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Writes a duration the way the grammar reads it, largest units first, e.g.
/// `1h30m`, `2m30s`, `250ms`, `1s500ms`, `0s`. Sub-microsecond parts are
/// dropped: budgets and stages never need them.
pub fn format_duration(duration: Duration) -> String {
    let mut micros = duration.as_micros();
    if micros == 0 {
        return "0s".to_owned();
    }
    let mut out = String::new();
    for (name, nanos) in UNITS.iter().filter(|(name, _)| *name != "µs") {
        let unit_micros = nanos / 1_000;
        let count = micros / unit_micros;
        if count > 0 {
            out.push_str(&count.to_string());
            out.push_str(name);
            micros %= unit_micros;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_units_truncate_and_saturate() {
        assert_eq!(whole_micros(Duration::from_nanos(1_999)), 1);
        assert_eq!(whole_millis(Duration::from_micros(2_500)), 2);
        assert_eq!(whole_micros(Duration::MAX), u64::MAX);
        assert_eq!(whole_millis(Duration::MAX), u64::MAX);
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn accepts_each_unit_and_combinations() {
        let cases = [
            ("30s", Duration::from_secs(30)),
            ("10m", Duration::from_secs(600)),
            ("1h30m", Duration::from_secs(5400)),
            ("2m30s", Duration::from_secs(150)),
            ("1h2m3s", Duration::from_secs(3723)),
            ("500ms", ms(500)),
            ("1s500ms", ms(1500)),
            ("800us", Duration::from_micros(800)),
            ("800µs", Duration::from_micros(800)),
            ("0s", Duration::ZERO),
            ("4h", Duration::from_secs(4 * 3600)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_what_is_not_in_the_grammar() {
        for text in [
            "",
            "10 min",
            "-5s",
            "10",
            "1.5s",
            "s",
            "10x",
            "5m1h",
            "1s1s",
            "1h 30m",
            " 5s",
            "5s ",
            "10min",
            "ms",
            "99999999999999999999999h",
            "1us1µs",
        ] {
            assert!(parse_duration(text).is_err(), "{text:?} should be rejected");
        }
    }

    #[test]
    fn error_messages_say_what_is_accepted() {
        assert_eq!(
            parse_duration("10 min").unwrap_err().to_string(),
            r#""10 min" is not a duration (use 10m, 90s, 1h30m)"#
        );
        assert_eq!(
            parse_duration("").unwrap_err().to_string(),
            r#""" is not a duration (use 10m, 90s, 1h30m)"#
        );
        assert_eq!(
            DurationError::new("30", true).to_string(),
            "30 is not a duration: add a unit (use 30s, 10m, 1h30m)"
        );
    }

    #[test]
    fn formats_round_trip() {
        for text in ["1h30m", "2m30s", "250ms", "1s500ms", "800us", "0s", "4h"] {
            let parsed = parse_duration(text).unwrap();
            assert_eq!(format_duration(parsed), text);
        }
    }
}
