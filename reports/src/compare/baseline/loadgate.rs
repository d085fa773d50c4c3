//! A loadgate results file as a baseline: every endpoint, by name.

use serde_json::Value;

use super::{Baseline, BaselineError, BaselineFigures};
use crate::{
    compare::RunLabel,
    results::{RESULTS_FORMAT, Results},
};

/// Whether `root` is a loadgate results file: its `format` tag says so,
/// whatever its version, so that a version this build cannot read is
/// refused for its version rather than as "not a baseline".
pub(super) fn recognises(root: &Value) -> bool {
    root.get("format").and_then(Value::as_str) == Some(RESULTS_FORMAT)
}

/// Reads `text`, a loadgate results file, as a baseline.
pub(super) fn read(source: &str, text: &str) -> Result<Baseline, BaselineError> {
    let results = Results::parse(source, text)?;
    Ok(Baseline::from_results(source, results))
}

impl Baseline {
    /// A loadgate run as a baseline; `source` names it in reports.
    pub fn from_results(source: impl Into<String>, results: Results) -> Self {
        Self {
            label: RunLabel::of_results(source, &results),
            figures: BaselineFigures::Loadgate(Box::new(results)),
        }
    }
}
