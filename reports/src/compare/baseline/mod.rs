//! Reading a baseline: a loadgate results file, or another tool's summary
//! of a whole run, told apart by shape. The only place that reads a
//! format other than loadgate's; each reader is a module of its own.
//!
//! # Baselines from other tools
//!
//! A foreign summary covers the whole run only, so only `overall` is
//! compared, and it measured differently: k6's `http_req_duration` leaves
//! out connection set-up and its rates span the whole test, ramps
//! included; goose keeps whole, bucketed milliseconds (its p99 of a 1.4 s
//! request can read `1000`); and on an arrival schedule loadgate counts a
//! request's latency from when it was due. Such a comparison catches large
//! moves; compare with a loadgate baseline for fine ones.

mod goose;
mod k6;
mod loadgate;

use std::{fmt, fs, path::Path};

use serde_json::Value;

use super::{Figures, RunLabel};
use crate::results::{Results, ResultsError};

/// What kind of file a run was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    /// A loadgate results file: overall and every endpoint.
    Loadgate,
    /// k6's end-of-test summary: `k6 run --summary-export`, or the data
    /// `handleSummary` receives written as JSON. Overall only.
    K6,
    /// A goose JSON report (`--report-file report.json`). Overall only.
    Goose,
}

impl SourceFormat {
    /// Whether the file has figures for the whole run only.
    pub fn is_overall_only(self) -> bool {
        !matches!(self, SourceFormat::Loadgate)
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Loadgate => "loadgate results",
            SourceFormat::K6 => "k6 summary",
            SourceFormat::Goose => "goose report",
        })
    }
}

/// The run compared against.
#[derive(Debug, Clone, PartialEq)]
pub struct Baseline {
    pub label: RunLabel,
    pub figures: BaselineFigures,
}

/// What a baseline measured.
#[derive(Debug, Clone, PartialEq)]
pub enum BaselineFigures {
    /// A loadgate run: overall and every endpoint, by name.
    Loadgate(Box<Results>),
    /// Another tool's summary of the whole run.
    Overall(Figures),
}

impl Baseline {
    /// Reads `text` as a loadgate results file, a k6 summary or a goose
    /// JSON report, whichever its shape is; `source` names it in errors and
    /// reports.
    pub fn parse(source: &str, text: &str) -> Result<Self, BaselineError> {
        let root: Value = serde_json::from_str(text).map_err(|e| BaselineError::Json {
            path: source.to_owned(),
            source: e,
        })?;
        if loadgate::recognises(&root) {
            return loadgate::read(source, text);
        }
        if let Some(metrics) = k6::metrics(&root) {
            return k6::read(source, metrics);
        }
        if goose::recognises(&root) {
            return goose::read(source, root);
        }
        Err(BaselineError::Unrecognized {
            path: source.to_owned(),
        })
    }
}

/// Reads a baseline file: a loadgate results file, a k6 summary
/// (`k6 run --summary-export FILE`) or a goose JSON report
/// (`--report-file report.json`), recognised by shape.
pub fn read_baseline(path: &Path) -> Result<Baseline, BaselineError> {
    let shown = path.display().to_string();
    let text = fs::read_to_string(path).map_err(|source| BaselineError::Io {
        path: shown.clone(),
        source,
    })?;
    Baseline::parse(&shown, &text)
}

/// Reading a baseline.
#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not JSON: {source}")]
    Json {
        path: String,
        source: serde_json::Error,
    },
    /// A loadgate results file that does not read.
    #[error(transparent)]
    Results(#[from] ResultsError),
    #[error(
        "{path}: not a baseline: expected a loadgate results file, a k6 summary (`k6 run --summary-export`) or a goose JSON report (`--report-file report.json`)"
    )]
    Unrecognized { path: String },
    /// A foreign summary without what every comparison needs.
    #[error("{path}: {format} {problem}")]
    Incomplete {
        path: String,
        format: SourceFormat,
        problem: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_files_are_named_in_the_error() {
        assert_eq!(
            Baseline::parse("x.json", r#"{"hello": 1}"#)
                .unwrap_err()
                .to_string(),
            "x.json: not a baseline: expected a loadgate results file, a k6 summary \
             (`k6 run --summary-export`) or a goose JSON report (`--report-file report.json`)"
        );
        assert!(
            Baseline::parse("x.json", "{")
                .unwrap_err()
                .to_string()
                .starts_with("x.json: not JSON: ")
        );
        // A loadgate file of another version says so, not "not a baseline".
        let err = Baseline::parse("r.json", r#"{"format": "loadgate-results", "version": 99}"#)
            .unwrap_err();
        assert!(matches!(
            err,
            BaselineError::Results(ResultsError::Version { .. })
        ));
        let missing = read_baseline(Path::new("/nonexistent/baseline.json")).unwrap_err();
        assert!(
            missing
                .to_string()
                .starts_with("/nonexistent/baseline.json: ")
        );
    }
}
