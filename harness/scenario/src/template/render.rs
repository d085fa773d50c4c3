//! Rendering a compiled [`Template`] at run time, with the values a running
//! user supplies through [`TemplateContext`].

use std::fmt::{self, Write as _};

use super::{CaptureSlot, Segment, Template, Value};

/// What a running user supplies to render a template.
pub trait TemplateContext {
    /// The user's API key.
    fn key(&self) -> &str;
    /// The sequence number for the request being rendered; all `{{ seq }}`
    /// in one request see the same number.
    fn seq(&self) -> u64;
    /// A random integer in `low..=high` (`low <= high` is guaranteed).
    fn random(&mut self, low: i64, high: i64) -> i64;
    /// The value captured into `slot`, if the user has captured it yet.
    fn captured(&self, slot: CaptureSlot) -> Option<&str>;
}

/// Why a template could not be rendered at run time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The capture this template reads has not produced a value (the earlier
    /// response failed or lacked the field).
    #[error("`{{{{ {0} }}}}` has no value: the response it is captured from did not provide it")]
    MissingCapture(String),
}

impl Template {
    /// Appends the rendered template to `out` (which is not cleared, so a
    /// caller can reuse one buffer per user).
    ///
    /// # Errors
    /// [`RenderError::MissingCapture`] when a captured value is not there yet;
    /// `out` then holds a partial rendering.
    pub fn render(
        &self,
        ctx: &mut impl TemplateContext,
        out: &mut String,
    ) -> Result<(), RenderError> {
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.push_str(text),
                Segment::Value { value, json_escape } => match value {
                    Value::Key => push_value(out, ctx.key(), *json_escape),
                    Value::Seq => {
                        let _ = write!(out, "{}", ctx.seq());
                    }
                    Value::Random { low, high } => {
                        let _ = write!(out, "{}", ctx.random(*low, *high));
                    }
                    Value::Captured { slot, name } => match ctx.captured(*slot) {
                        Some(v) => push_value(out, v, *json_escape),
                        None => return Err(RenderError::MissingCapture(name.clone())),
                    },
                },
            }
        }
        Ok(())
    }
}

/// Writes the template back with its placeholders, e.g. `/api/v1/servers/{{ server_id }}`.
impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => f.write_str(text)?,
                Segment::Value { value, .. } => match value {
                    Value::Key => f.write_str("{{ key }}")?,
                    Value::Seq => f.write_str("{{ seq }}")?,
                    Value::Random { low, high } => write!(f, "{{{{ random({low}, {high}) }}}}")?,
                    Value::Captured { name, .. } => write!(f, "{{{{ {name} }}}}")?,
                },
            }
        }
        Ok(())
    }
}

/// Appends a user's value, escaped by hand when it lands inside a JSON
/// string, into `out` itself rather than through a temporary string.
fn push_value(out: &mut String, value: &str, json_escape: bool) {
    if !json_escape {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
}
