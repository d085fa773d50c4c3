//! Measurements written for people: latency in ms, rates in %, counts with
//! thousands separators.
//!
//! Every renderer (HTML, Markdown, JUnit, chart labels) goes through these,
//! so a value reads the same in the CI summary as in the report, and a
//! budget of `5ms` shows as `5 ms`, not `5000 µs` or `5.000 ms`.

use crate::results::BudgetMetric;

/// `value` with `digits` significant digits, trailing zeros dropped
/// (`4.120` → `4.12`, `5.00` → `5`). Values of 10^digits and up keep
/// their integer digits.
pub fn significant(value: f64, digits: u32) -> String {
    if !value.is_finite() {
        return value.to_string();
    }
    if value == 0.0 {
        return "0".to_owned();
    }
    let magnitude = value.abs().log10().floor() as i32;
    let decimals = (digits as i32 - 1 - magnitude).max(0) as usize;
    let text = format!("{value:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// A latency given in µs, shown in ms (or s from 10 s up): `4.12 ms`.
pub fn latency_us(us: f64) -> String {
    let ms = us / 1000.0;
    if ms >= 10_000.0 {
        format!("{} s", significant(ms / 1000.0, 3))
    } else if ms >= 1000.0 {
        format!("{} ms", group_thousands(ms.round() as u64))
    } else {
        format!("{} ms", significant(ms, 3))
    }
}

/// A fraction shown as a percentage: `0.0123` → `1.23%`; tiny non-zero
/// rates show as `<0.01%` so they never read as zero.
pub fn rate(fraction: f64) -> String {
    let percent = fraction * 100.0;
    if percent > 0.0 && percent < 0.01 {
        "<0.01%".to_owned()
    } else if percent >= 10.0 {
        format!("{}%", significant(percent, 3))
    } else {
        let text = format!("{percent:.2}");
        format!("{}%", text.trim_end_matches('0').trim_end_matches('.'))
    }
}

/// Requests per second: `1,234 rps`, `12.3 rps`.
pub fn rps(value: f64) -> String {
    if value >= 1000.0 {
        format!("{} rps", group_thousands(value.round() as u64))
    } else {
        format!("{} rps", significant(value, 3))
    }
}

/// `1234567` → `1,234,567`.
pub fn count(value: u64) -> String {
    group_thousands(value)
}

fn group_thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `+` for a positive number, `-` for a negative one, `±` for zero: the
/// sign of a change between two runs, where no change is news too.
pub fn sign(value: f64) -> &'static str {
    if value > 0.0 {
        "+"
    } else if value < 0.0 {
        "-"
    } else {
        "±"
    }
}

/// A relative change as a signed percentage: `+15%`, `-3.2%`, `±0%`.
pub fn percent_change(change: f64) -> String {
    format!("{}{}%", sign(change), significant(change.abs() * 100.0, 2))
}

/// A wall-clock length: `4h 0m 12s`, `5m 30s`, `12.5s`.
pub fn duration_ms(ms: u64) -> String {
    let secs = ms / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h {m}m {s}s")
    } else if m > 0 {
        format!("{m}m {s}s")
    } else {
        format!("{}s", significant(ms as f64 / 1000.0, 3))
    }
}

/// A budget metric's value in its own unit (µs latency, fraction, rps).
pub fn metric_value(metric: BudgetMetric, value: f64) -> String {
    match metric {
        BudgetMetric::P50 | BudgetMetric::P95 | BudgetMetric::P99 => latency_us(value),
        BudgetMetric::MaxErrorRate
        | BudgetMetric::MaxDroppedRate
        | BudgetMetric::MinCacheHitRatio
        | BudgetMetric::MaxDbPoolUtilization => rate(value),
        BudgetMetric::MinRps => rps(value),
    }
}

/// A budget metric's value with `digits` significant digits, for when the
/// usual three would make a failed measurement read the same as its limit
/// (`150 ms > 150 ms`).
pub fn metric_value_precise(metric: BudgetMetric, value: f64, digits: u32) -> String {
    match metric {
        BudgetMetric::P50 | BudgetMetric::P95 | BudgetMetric::P99 => {
            format!("{} ms", significant(value / 1000.0, digits))
        }
        BudgetMetric::MaxErrorRate
        | BudgetMetric::MaxDroppedRate
        | BudgetMetric::MinCacheHitRatio
        | BudgetMetric::MaxDbPoolUtilization => {
            format!("{}%", significant(value * 100.0, digits))
        }
        BudgetMetric::MinRps => format!("{} rps", significant(value, digits)),
    }
}

/// Seconds since the start as a time-axis label: `m:ss`, or `h:mm` when
/// the run is an hour or longer (a 4-hour axis in seconds is unreadable).
pub fn clock(seconds: f64, run_is_long: bool) -> String {
    let s = seconds.max(0.0).round() as u64;
    if run_is_long {
        format!("{}:{:02}", s / 3600, s / 60 % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_naturally() {
        assert_eq!(latency_us(5_000.0), "5 ms");
        assert_eq!(latency_us(4_123.0), "4.12 ms");
        assert_eq!(latency_us(230_456.0), "230 ms");
        assert_eq!(latency_us(850.0), "0.85 ms");
        assert_eq!(latency_us(1_500_000.0), "1,500 ms");
        assert_eq!(latency_us(12_345_000.0), "12.3 s");
        assert_eq!(rate(0.01), "1%");
        assert_eq!(rate(0.0), "0%");
        assert_eq!(rate(0.0123), "1.23%");
        assert_eq!(rate(0.025), "2.5%");
        assert_eq!(rate(0.00001), "<0.01%");
        assert_eq!(rate(0.5), "50%");
        assert_eq!(rps(12.345), "12.3 rps");
        assert_eq!(rps(12_345.6), "12,346 rps");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(999), "999");
        assert_eq!(duration_ms(14_400_000 + 12_000), "4h 0m 12s");
        assert_eq!(duration_ms(75_000), "1m 15s");
        assert_eq!(duration_ms(12_500), "12.5s");
        assert_eq!(clock(75.0, false), "1:15");
        assert_eq!(clock(5400.0, true), "1:30");
    }
}
