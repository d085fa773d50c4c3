//! Problems found in a scenario file, each pinned to `file:line:column` and a
//! field path, in the form editors and terminals turn into links:
//!
//! ```text
//! scenarios/peak.yaml:14:9: load.stages[1].hold: "10 min" is not a duration (use 10m, 90s, 1h30m)
//! ```
//!
//! Validation collects every problem it can instead of stopping at the first,
//! so one `loadgate validate` run shows the whole list.

use std::fmt;

/// One problem in a scenario file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file name as the user gave it (or another label for in-memory text).
    pub source: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// The field path, like `load.stages[1].hold`; `.` for the whole document.
    pub path: String,
    /// What is wrong and, where possible, what is accepted instead.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}: ", self.source, self.line, self.column)?;
        if self.path != "." && !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

/// Every problem found in one scenario file, in file order; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioErrors(Vec<ScenarioError>);

impl ScenarioErrors {
    /// Wraps a list of problems, sorted by position so the output reads top
    /// to bottom like the file.
    ///
    /// # Panics
    /// If `errors` is empty: a failed validation always has a reason.
    pub fn new(mut errors: Vec<ScenarioError>) -> Self {
        assert!(
            !errors.is_empty(),
            "ScenarioErrors needs at least one error"
        );
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup();
        Self(errors)
    }

    /// The problems, in file order.
    pub fn errors(&self) -> &[ScenarioError] {
        &self.0
    }
}

/// One line per problem.
impl fmt::Display for ScenarioErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioErrors {}

/// The candidate closest to `word` when it is a plausible typo of it
/// (case-insensitive Levenshtein distance at most 2, and less than the word's length so that
/// `x` does not "suggest" `p50`).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| {
            let distance = strsim::levenshtein(&word.to_lowercase(), &candidate.to_lowercase());
            (distance, candidate)
        })
        .filter(|(distance, _)| *distance <= 2 && *distance < word.chars().count().max(1))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// ` (did you mean `x`?)` when a candidate is close, otherwise
/// ` (expected one of: a, b, c)`, or nothing when there are no candidates.
pub fn hint(word: &str, candidates: &[&str]) -> String {
    if let Some(best) = did_you_mean(word, candidates.iter().copied()) {
        format!(" (did you mean `{best}`?)")
    } else if candidates.is_empty() {
        String::new()
    } else {
        format!(" (expected one of: {})", candidates.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let fields = ["name", "think_time", "load", "requests"];
        assert_eq!(did_you_mean("thinktime", fields), Some("think_time"));
        assert_eq!(did_you_mean("think_tme", fields), Some("think_time"));
        assert_eq!(did_you_mean("requets", fields), Some("requests"));
        assert_eq!(did_you_mean("zzz", fields), None);
        assert_eq!(did_you_mean("x", ["p5"]), None);
        assert_eq!(did_you_mean("get", ["GET", "POST"]), Some("GET"));
    }

    #[test]
    fn hint_text() {
        assert_eq!(hint("lod", &["load", "name"]), " (did you mean `load`?)");
        assert_eq!(
            hint("qqqq", &["load", "name"]),
            " (expected one of: load, name)"
        );
        assert_eq!(hint("qqqq", &[]), "");
    }

    #[test]
    fn displays_one_line_per_error_in_file_order() {
        let e = |line, column, path: &str| ScenarioError {
            source: "s.yaml".into(),
            line,
            column,
            path: path.into(),
            message: "bad".into(),
        };
        let errors = ScenarioErrors::new(vec![e(3, 1, "b"), e(1, 5, "."), e(3, 1, "b")]);
        assert_eq!(errors.to_string(), "s.yaml:1:5: bad\ns.yaml:3:1: b: bad");
    }
}
