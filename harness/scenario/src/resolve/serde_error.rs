//! serde's one structural error (unknown field, wrong type, missing field),
//! placed in the file.
//!
//! serde_path_to_error knows the field path but not its position, and
//! serde_yaml_ng's message carries its own position and path in a form the
//! rest of the errors do not use. The [`SourceMap`] gives the position, and
//! the message is trimmed to match the checks' errors, with a "did you mean"
//! hint where a name is misspelt.

use crate::error::{ScenarioError, hint};
use crate::source_map::{Position, SourceMap};

/// Turns serde's first error into a located one, rewriting unknown field and
/// variant messages into "did you mean" form.
pub(super) fn locate(
    source: &str,
    map: &SourceMap,
    error: serde_path_to_error::Error<serde_yaml_ng::Error>,
) -> ScenarioError {
    let path = error.path().to_string();
    let inner = error.into_inner();
    let mut message = inner.to_string();
    if let Some(location) = inner.location() {
        message = message.replace(
            &format!(" at line {} column {}", location.line(), location.column()),
            "",
        );
    }
    // serde_yaml_ng prefixes its own (container) path: drop it, ours is better.
    if let Some((prefix, rest)) = message.split_once(": ")
        && !prefix.contains(' ')
        && path.starts_with(prefix)
    {
        message = rest.to_owned();
    }
    let (position, message) = if let Some(rest) = message.strip_prefix("unknown field ") {
        (map.key(&path), unknown_name("field", rest))
    } else if let Some(rest) = message.strip_prefix("unknown variant ") {
        (map.value(&path), unknown_name("value", rest))
    } else if message.starts_with("missing field") || map.contains(&path) {
        (map.value(&path), message)
    } else if let Some(location) = inner.location() {
        let position = Position {
            line: location.line(),
            column: location.column(),
        };
        (position, message)
    } else {
        (map.value(&path), message)
    };
    let message = message.replace(
        "data did not match any variant of untagged enum OneOrMany",
        "expected one value or a list of values",
    );
    ScenarioError {
        source: source.to_owned(),
        line: position.line,
        column: position.column,
        path,
        message,
    }
}

/// ``unknown field `x` (did you mean `y`?)`` from serde's
/// ``unknown field `x`, expected one of `a`, `b` ``.
fn unknown_name(what: &str, rest: &str) -> String {
    let quoted: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    match quoted.split_first() {
        Some((name, candidates)) => format!("unknown {what} `{name}`{}", hint(name, candidates)),
        None => format!("unknown {what} {rest}"),
    }
}
