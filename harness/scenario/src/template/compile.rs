//! Compiling text and request bodies into a [`Template`]: every placeholder
//! is resolved against its [`Scope`] here, once, so what is left for run
//! time is only the values a user supplies.

use std::collections::{HashMap, HashSet};

use super::parse::{Piece, Raw, split};
use super::{CaptureSlot, Segment, Template, Value, Vars};

/// What a template may refer to, decided by where it appears.
#[derive(Debug)]
pub struct Scope<'a> {
    /// Variables for `{{ var.NAME }}`.
    pub vars: &'a Vars,
    /// Captures readable here, with their slots.
    pub visible: &'a HashMap<String, CaptureSlot>,
    /// Captures that exist somewhere in the scenario but are not readable here
    /// (captured later, or in another flow): for a precise message.
    pub elsewhere: &'a HashSet<String>,
    /// Where captures are readable from, for the message about `elsewhere`.
    pub rule: &'a str,
}

impl Template {
    /// A template that is only literal text.
    pub fn literal(text: impl Into<String>) -> Self {
        let mut template = Template::default();
        template.push_literal(&text.into());
        template
    }

    /// Compiles plain text (a path or header value).
    ///
    /// # Errors
    /// Every problem in the text: unbalanced braces, unknown placeholders,
    /// unset variables, captures not readable here.
    pub fn compile(text: &str, scope: &Scope<'_>) -> Result<Self, Vec<String>> {
        let mut template = Template::default();
        template.append(text, scope, false)?;
        Ok(template)
    }

    /// Compiles a request body (any YAML value) into a template producing
    /// JSON. Placeholders are allowed in string values; their values are
    /// JSON-escaped when rendered. A string that is exactly one `{{ seq }}` or
    /// `{{ random(..) }}` renders as a JSON number rather than a string.
    ///
    /// # Errors
    /// A list of `(relative path, message)`, the path like `.config.name` or
    /// `[0]` relative to the body.
    pub fn compile_json(
        body: &serde_yaml_ng::Value,
        scope: &Scope<'_>,
    ) -> Result<Self, Vec<(String, String)>> {
        let mut template = Template::default();
        let mut errors = Vec::new();
        template.json_value(body, "", scope, &mut errors);
        if errors.is_empty() {
            Ok(template)
        } else {
            Err(errors)
        }
    }

    fn json_value(
        &mut self,
        value: &serde_yaml_ng::Value,
        path: &str,
        scope: &Scope<'_>,
        errors: &mut Vec<(String, String)>,
    ) {
        use serde_yaml_ng::Value as Y;
        match value {
            Y::Null => self.push_literal("null"),
            Y::Bool(b) => self.push_literal(if *b { "true" } else { "false" }),
            Y::Number(n) => {
                if n.as_f64().is_some_and(|f| !f.is_finite()) {
                    errors.push((path.to_owned(), format!("{n} cannot be written as JSON")));
                } else {
                    self.push_literal(&n.to_string());
                }
            }
            Y::String(s) => {
                if !s.contains("{{") && !s.contains("}}") {
                    self.push_literal(&json_string(s));
                    return;
                }
                let numeric = matches!(
                    split(s).as_deref(),
                    Ok([Piece::Placeholder(Raw::Seq | Raw::Random(..))])
                );
                if numeric {
                    if let Err(e) = self.append(s, scope, false) {
                        errors.extend(e.into_iter().map(|m| (path.to_owned(), m)));
                    }
                    return;
                }
                self.push_literal("\"");
                if let Err(e) = self.append(s, scope, true) {
                    errors.extend(e.into_iter().map(|m| (path.to_owned(), m)));
                }
                self.push_literal("\"");
            }
            Y::Sequence(items) => {
                self.push_literal("[");
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.push_literal(",");
                    }
                    self.json_value(item, &format!("{path}[{i}]"), scope, errors);
                }
                self.push_literal("]");
            }
            Y::Mapping(map) => {
                self.push_literal("{");
                for (i, (key, item)) in map.iter().enumerate() {
                    let key = match key {
                        Y::String(s) => s.clone(),
                        Y::Number(n) => n.to_string(),
                        Y::Bool(b) => b.to_string(),
                        _ => {
                            errors.push((
                                path.to_owned(),
                                "JSON object keys must be strings".to_owned(),
                            ));
                            continue;
                        }
                    };
                    if i > 0 {
                        self.push_literal(",");
                    }
                    self.push_literal(&json_string(&key));
                    self.push_literal(":");
                    self.json_value(item, &format!("{path}.{key}"), scope, errors);
                }
                self.push_literal("}");
            }
            Y::Tagged(_) => errors.push((
                path.to_owned(),
                "YAML tags (`!name`) cannot be written as JSON".to_owned(),
            )),
        }
    }

    fn append(
        &mut self,
        text: &str,
        scope: &Scope<'_>,
        json_escape: bool,
    ) -> Result<(), Vec<String>> {
        let pieces = split(text)?;
        let mut errors = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Text(t) => {
                    if json_escape {
                        let quoted = json_string(t);
                        self.push_literal(&quoted[1..quoted.len() - 1]);
                    } else {
                        self.push_literal(t);
                    }
                }
                Piece::Placeholder(raw) => {
                    let value = match raw {
                        Raw::Key => Value::Key,
                        Raw::Seq => Value::Seq,
                        Raw::Random(low, high) => Value::Random { low, high },
                        Raw::Var(name) => {
                            match scope.vars.get(name) {
                                Some(v) if json_escape => {
                                    let quoted = json_string(&v);
                                    self.push_literal(&quoted[1..quoted.len() - 1]);
                                }
                                Some(v) => self.push_literal(&v),
                                None => errors.push(format!(
                                    "`{{{{ var.{name} }}}}` is not set (pass --var {name}=VALUE or set {name} in the environment)"
                                )),
                            }
                            continue;
                        }
                        Raw::Name(name) => match scope.visible.get(name) {
                            Some(slot) => Value::Captured {
                                slot: *slot,
                                name: name.to_owned(),
                            },
                            None if scope.elsewhere.contains(name) => {
                                errors.push(format!(
                                    "`{{{{ {name} }}}}` is not captured before this point ({})",
                                    scope.rule
                                ));
                                continue;
                            }
                            None => {
                                let mut candidates: Vec<&str> = vec!["key", "seq"];
                                candidates.extend(scope.visible.keys().map(String::as_str));
                                candidates.sort_unstable();
                                let suggestion = crate::error::did_you_mean(
                                    name,
                                    candidates.iter().copied(),
                                )
                                .map(|c| format!(" (did you mean `{{{{ {c} }}}}`?)"))
                                .unwrap_or_else(|| {
                                    " (use key, seq, random(LOW, HIGH), var.NAME or a captured name)"
                                        .to_owned()
                                });
                                errors.push(format!(
                                    "unknown placeholder `{{{{ {name} }}}}`{suggestion}"
                                ));
                                continue;
                            }
                        },
                    };
                    self.segments.push(Segment::Value { value, json_escape });
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    fn push_literal(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        if let Some(Segment::Literal(last)) = self.segments.last_mut() {
            last.push_str(text);
        } else {
            self.segments.push(Segment::Literal(text.to_owned()));
        }
    }
}

/// `s` as a quoted JSON string literal.
fn json_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string always serialises")
}
