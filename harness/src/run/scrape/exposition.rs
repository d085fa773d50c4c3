//! The Prometheus text exposition format (version 0.0.4), the subset a
//! scrape needs: comments (`# HELP`, `# TYPE`, anything else after `#`) are
//! skipped, and every other non-blank line must be a sample,
//! `name{label="value",...} value [timestamp]`.
//!
//! Hand-written rather than taken from a crate: `prometheus-parse` (the
//! only permissively licensed one) splits labels on `,` and `=` and stops
//! at the first `}`, so escaped or punctuated label values come out wrong,
//! and it skips lines it cannot read instead of saying so; a scrape that
//! is not Prometheus text must fail, not read as fewer metrics.

use std::collections::BTreeMap;

/// A time series: a metric name and its labels, sorted by label name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Series {
    pub name: String,
    pub labels: Vec<(String, String)>,
}

impl Series {
    /// The value of label `name`, if the series has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a text is not Prometheus exposition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}")]
pub struct ParseError {
    /// 1-based.
    pub line: usize,
    pub what: &'static str,
}

/// Every sample of `text` for which `keep` holds, by series (a series given
/// twice keeps its last value). Every line is checked, kept or not.
pub fn parse(
    text: &str,
    keep: impl Fn(&Series) -> bool,
) -> Result<BTreeMap<Series, f64>, ParseError> {
    let mut samples = BTreeMap::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim_start_matches([' ', '\t']);
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = sample(line).map_err(|what| ParseError {
            line: index + 1,
            what,
        })?;
        if keep(&series) {
            samples.insert(series, value);
        }
    }
    Ok(samples)
}

/// `samples` as exposition text that [`parse`] reads back: one
/// `name{label="value",...} value` line per series.
pub fn render(samples: &BTreeMap<Series, f64>) -> String {
    use std::fmt::Write;
    let mut text = String::new();
    for (series, value) in samples {
        text.push_str(&series.name);
        if !series.labels.is_empty() {
            text.push('{');
            for (i, (name, label)) in series.labels.iter().enumerate() {
                let escaped = label
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let comma = if i == 0 { "" } else { "," };
                let _ = write!(text, "{comma}{name}=\"{escaped}\"");
            }
            text.push('}');
        }
        // `{:?}` writes every float so that it reads back the same, `inf`
        // and `NaN` included.
        let _ = writeln!(text, " {value:?}");
    }
    text
}

/// One sample line, without leading blanks.
fn sample(line: &str) -> Result<(Series, f64), &'static str> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let (name, mut rest) = line.split_at(name_end);
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err("expected a metric name");
    }
    let mut labels = Vec::new();
    if let Some(after_brace) = rest.trim_start_matches([' ', '\t']).strip_prefix('{') {
        rest = label_set(after_brace, &mut labels)?;
    }
    let mut fields = rest.split([' ', '\t']).filter(|field| !field.is_empty());
    // Rust reads Go's spellings too: `+Inf`, `-Inf`, `NaN`.
    let value = fields
        .next()
        .ok_or("expected a value")?
        .parse::<f64>()
        .map_err(|_| "the value is not a number")?;
    if let Some(timestamp) = fields.next() {
        timestamp
            .parse::<i64>()
            .map_err(|_| "the timestamp is not an integer")?;
    }
    if fields.next().is_some() {
        return Err("unexpected text after the sample");
    }
    labels.sort();
    Ok((
        Series {
            name: name.to_owned(),
            labels,
        },
        value,
    ))
}

/// Reads `name="value", ...}` (the `{` already read) into `labels`, and
/// returns what follows the `}`.
fn label_set<'a>(
    mut rest: &'a str,
    labels: &mut Vec<(String, String)>,
) -> Result<&'a str, &'static str> {
    loop {
        rest = rest.trim_start_matches([' ', '\t']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (name, after_name) = rest.split_at(name_end);
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err("expected a label name");
        }
        let after_eq = after_name
            .trim_start_matches([' ', '\t'])
            .strip_prefix('=')
            .ok_or("expected `=` after a label name")?;
        let after_quote = after_eq
            .trim_start_matches([' ', '\t'])
            .strip_prefix('"')
            .ok_or("expected a quoted label value")?;
        let (value, after_value) = label_value(after_quote)?;
        labels.push((name.to_owned(), value));
        rest = after_value.trim_start_matches([' ', '\t']);
        if let Some(after_comma) = rest.strip_prefix(',') {
            rest = after_comma;
        } else if !rest.starts_with('}') {
            return Err("expected `,` or `}` after a label");
        }
    }
}

/// Reads a label value up to its closing quote (the opening one already
/// read), undoing the format's three escapes: `\\`, `\"` and `\n`.
fn label_value(text: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[at + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, 'n')) => value.push('\n'),
                _ => return Err("unknown escape in a label value"),
            },
            c => value.push(c),
        }
    }
    Err("unterminated label value")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(name: &str, labels: &[(&str, &str)]) -> Series {
        let mut labels: Vec<_> = labels
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        labels.sort();
        Series {
            name: name.to_owned(),
            labels,
        }
    }

    fn all(text: &str) -> BTreeMap<Series, f64> {
        parse(text, |_| true).expect("valid exposition")
    }

    #[test]
    fn reads_comments_blank_lines_labels_and_timestamps() {
        let samples = all("# HELP http_requests_total Requests.\n\
             # TYPE http_requests_total counter\n\
             \n\
             http_requests_total{route=\"/a\",method=\"GET\",status=\"200\"} 12 1700000000000\n\
             \t up   1\r\n\
             process_start_time_seconds{} 1.5e9\n");
        assert_eq!(
            samples,
            BTreeMap::from([
                (
                    series(
                        "http_requests_total",
                        &[("method", "GET"), ("route", "/a"), ("status", "200")]
                    ),
                    12.0
                ),
                (series("up", &[]), 1.0),
                (series("process_start_time_seconds", &[]), 1.5e9),
            ])
        );
    }

    #[test]
    fn what_render_writes_parses_back_the_same() {
        let samples = all(
            "http_request_duration_seconds_bucket{le=\"+Inf\",route=\"/a\"} 7\n\
             m{a=\"x\\\"y\\\\z\\n\",b=\"{},=\"} 0.1\n\
             up 1e300\nhuge +Inf\n",
        );
        assert_eq!(samples.len(), 4);
        assert_eq!(all(&render(&samples)), samples);
    }

    #[test]
    fn reads_escaped_and_punctuated_label_values() {
        let samples = all(r#"m{a="x\"y\\z\n", b = "{},=" , } 3"#);
        let (series, value) = samples.into_iter().next().expect("one sample");
        assert_eq!(series.label("a"), Some("x\"y\\z\n"));
        assert_eq!(series.label("b"), Some("{},="));
        assert_eq!(value, 3.0);
    }

    #[test]
    fn reads_infinities_and_nan() {
        let samples = all("a{le=\"+Inf\"} +Inf\nb -Inf\nc NaN\n");
        let values: Vec<f64> = samples.values().copied().collect();
        assert_eq!(values[0], f64::INFINITY);
        assert_eq!(values[1], f64::NEG_INFINITY);
        assert!(values[2].is_nan());
        let le = samples.keys().next().and_then(|s| s.label("le"));
        assert_eq!(le, Some("+Inf"));
    }

    #[test]
    fn keeps_only_what_is_asked_but_checks_every_line() {
        let samples = parse("a 1\nb 2\n", |s| s.name == "b").expect("valid");
        assert_eq!(samples, BTreeMap::from([(series("b", &[]), 2.0)]));
        assert_eq!(
            parse("a 1\n<html>\n", |s| s.name == "a"),
            Err(ParseError {
                line: 2,
                what: "expected a metric name"
            })
        );
    }

    #[test]
    fn rejects_what_is_not_exposition() {
        for (text, what) in [
            ("m", "expected a value"),
            ("m abc", "the value is not a number"),
            ("m 1 2.5", "the timestamp is not an integer"),
            ("m 1 2 3", "unexpected text after the sample"),
            ("m{a=\"x} 1", "unterminated label value"),
            ("m{a=\"\\t\"} 1", "unknown escape in a label value"),
            ("m{a=x} 1", "expected a quoted label value"),
            ("m{a} 1", "expected `=` after a label name"),
            ("m{a=\"x\" b=\"y\"} 1", "expected `,` or `}` after a label"),
            ("m{1a=\"x\"} 1", "expected a label name"),
            ("1m 1", "expected a metric name"),
            ("{a=\"x\"} 1", "expected a metric name"),
        ] {
            assert_eq!(
                parse(text, |_| true),
                Err(ParseError { line: 1, what }),
                "{text}"
            );
        }
    }
}
