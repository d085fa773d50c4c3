//! `{{ ... }}` placeholders in request paths, header values and bodies.
//!
//! Templates are compiled once, when the plan is built, into a list of
//! segments: literal text plus the few dynamic values a request can need.
//! Everything knowable up front is resolved then (`{{ var.NAME }}` becomes
//! literal text; a captured variable's name becomes a slot number), so every
//! mistake is a validation error with a position, and rendering at run time
//! is a loop of `push_str` into a reusable buffer with no allocation.
//!
//! Placeholders:
//!
//! | placeholder          | value                                                          |
//! |----------------------|----------------------------------------------------------------|
//! | `{{ key }}`          | the user's API key from the user pool                          |
//! | `{{ seq }}`          | a per-run sequence number (a shard counts its own: `crate::shard`) |
//! | `{{ random(1, 10) }}`| a random integer in the inclusive range                        |
//! | `{{ var.NAME }}`     | `--var NAME=value` or the environment, fixed at plan time      |
//! | `{{ NAME }}`         | a value captured from an earlier response (see `plan` docs)    |
//!
//! By job: `parse` reads the placeholder syntax, `compile` resolves it
//! against a [`Scope`] into a [`Template`], `render` fills a template at run
//! time from a [`TemplateContext`], and `vars` holds the [`Vars`] that
//! `{{ var.NAME }}` reads.

mod compile;
mod parse;
mod render;
mod vars;

pub use compile::Scope;
pub use parse::{RESERVED_NAMES, valid_capture_name};
pub use render::{RenderError, TemplateContext};
pub use vars::Vars;

/// A captured variable's slot in a user's capture table, fixed at plan time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CaptureSlot(pub usize);

/// A value only a running user knows; everything else was made literal
/// text when the template was compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Key,
    Seq,
    Random { low: i64, high: i64 },
    Captured { slot: CaptureSlot, name: String },
}

/// One stretch of a compiled template; adjacent literal text is merged
/// into one segment, so rendering pushes as few pieces as it can.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `json_escape`: the value lands inside a JSON string literal.
    Value {
        value: Value,
        json_escape: bool,
    },
}

/// A compiled template; see the module docs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    /// The text, when the template has no run-time placeholders.
    pub fn as_literal(&self) -> Option<&str> {
        match self.segments.as_slice() {
            [] => Some(""),
            [Segment::Literal(text)] => Some(text),
            _ => None,
        }
    }

    /// The capture slots this template reads.
    pub fn captures(&self) -> impl Iterator<Item = CaptureSlot> + '_ {
        self.segments.iter().filter_map(|s| match s {
            Segment::Value {
                value: Value::Captured { slot, .. },
                ..
            } => Some(*slot),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests;
