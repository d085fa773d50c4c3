//! Text for a terminal: a comparison with a baseline. Plain text in
//! aligned columns, for a person at a shell or a CI log, where neither
//! Markdown nor HTML renders.

use crate::{
    compare::{Comparison, Row, RowVerdict},
    units,
};

/// The comparison as plain text for stdout: the headline, an aligned
/// table with one line per scope and metric, and notes.
pub fn comparison(comparison: &Comparison) -> String {
    let (headline, improved) = comparison.counts();
    let mut out = headline;
    if let Some(improved) = improved {
        out.push_str(&format!(", {improved}"));
    }
    out.push_str(&format!(
        " against baseline {}{} ({})\n",
        comparison.baseline.source,
        comparison.baseline_kind(),
        comparison.rules.summary()
    ));

    let shared: Vec<&Row> = comparison
        .rows
        .iter()
        .filter(|r| r.baseline_samples.is_some() && r.current_samples.is_some())
        .collect();
    if !shared.is_empty() {
        let header = ["ENDPOINT", "METRIC", "BASELINE", "CURRENT", "CHANGE", ""];
        let mut lines: Vec<[String; 6]> = vec![header.map(str::to_owned)];
        for row in shared {
            let verdict = match row.verdict {
                RowVerdict::Regression => "REGRESSION".to_owned(),
                RowVerdict::Improvement => "improvement".to_owned(),
                RowVerdict::Unchanged => "within noise".to_owned(),
                RowVerdict::NotEnoughSamples => format!(
                    "too few samples ({} / {})",
                    units::count(row.baseline_samples.unwrap_or(0)),
                    units::count(row.current_samples.unwrap_or(0))
                ),
                RowVerdict::Missing => {
                    if row.baseline.is_none() {
                        "not in baseline".to_owned()
                    } else {
                        "not in current".to_owned()
                    }
                }
            };
            lines.push([
                row.scope.name().to_owned(),
                row.metric.label().to_owned(),
                row.value_text(row.baseline),
                row.value_text(row.current),
                row.change_text(),
                verdict,
            ]);
        }
        let width = |i: usize| {
            lines
                .iter()
                .map(|l| l[i].chars().count())
                .max()
                .unwrap_or(0)
        };
        let widths: Vec<usize> = (0..6).map(width).collect();
        out.push('\n');
        for line in &lines {
            let mut text = String::new();
            for (i, field) in line.iter().enumerate() {
                let pad = widths[i] - field.chars().count();
                // Names and words to the left, numbers to the right.
                let right = matches!(i, 2..=4);
                if i > 0 {
                    text.push_str("  ");
                }
                if right {
                    text.push_str(&" ".repeat(pad));
                    text.push_str(field);
                } else {
                    text.push_str(field);
                    text.push_str(&" ".repeat(pad));
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
    }

    let notes = comparison.notes(str::to_owned);
    if !notes.is_empty() {
        out.push('\n');
        for note in notes {
            out.push_str(&note);
            out.push('\n');
        }
    }
    out.push_str(&format!(
        "\nBaseline {}: {}.\nCurrent {}: {}.\n",
        comparison.baseline.source,
        comparison.baseline.details(),
        comparison.current.source,
        comparison.current.details(),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::sample::{self, same_text};

    #[test]
    fn the_terminal_table_is_aligned() {
        same_text(
            &comparison(&sample::comparison()),
            "\
2 regressions, 1 improvement against baseline runs/base/results.json (max +10%, floor 2 ms / 0.5 pp, ≥1,000 samples)

ENDPOINT  METRIC      BASELINE  CURRENT            CHANGE
overall   p95           100 ms   150 ms     +50% (+50 ms)  REGRESSION
overall   error rate      0.1%       2%  +1900% (+1.9 pp)  REGRESSION
get <b>   p95           100 ms    80 ms     -20% (-20 ms)  improvement
get <b>   error rate      0.1%       0%   -100% (-0.1 pp)  within noise
tiny      p95            10 ms    50 ms    +400% (+40 ms)  too few samples (900 / 900)
tiny      error rate        0%      50%            +50 pp  too few samples (900 / 900)

Only in the current run (added): new.
Only in the baseline (removed): gone.
Not judged, fewer than 1,000 samples in a run: tiny.

Baseline runs/base/results.json: loadgate 0.1.0, Normal load, started 2025-06-01T09:00:00Z.
Current runs/now/results.json: loadgate 0.1.0, Normal load, started 2025-06-02T09:00:00Z.
",
        );
    }
}
