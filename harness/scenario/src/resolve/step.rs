//! One request compiled into a [`Step`]: its path, headers and body as
//! templates, its timeout, redirects, checks and captures.
//!
//! Templates are compiled against the captures readable at the request's
//! place, so a placeholder naming a value not captured yet is an error with
//! a position, not an empty string at run time.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use indexmap::IndexMap;

use super::requests::every_request;
use super::{Builder, DEFAULT_REDIRECTS, DEFAULT_TIMEOUT, MAX_REDIRECTS};
use crate::plan::{Capture, CaptureSource, Step};
use crate::source_map::child_key;
use crate::template::{CaptureSlot, Scope, Template, valid_capture_name};
use crate::yaml::{Request, Scenario};

/// Where a request appears, which decides what it may do.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Setup,
    Mix,
    FlowStep,
}

const SETUP_RULE: &str = "setup steps can use values captured by earlier setup steps";
const MIX_RULE: &str = "the `requests` mix can use values captured in `setup`";
const FLOW_RULE: &str =
    "a flow step can use values captured in `setup` or by earlier steps of its flow";

/// Capture names and slots while walking the file.
pub(super) struct Captures {
    slots: IndexMap<String, CaptureSlot>,
    /// Every name captured anywhere, so a placeholder that names one not
    /// readable at its place gets the scope rule instead of "unknown".
    all: HashSet<String>,
}

impl Captures {
    pub(super) fn new(s: &Scenario) -> Self {
        Captures {
            slots: IndexMap::new(),
            all: every_request(s)
                .flat_map(|r| r.capture.keys().cloned())
                .collect(),
        }
    }

    fn slot(&mut self, name: &str) -> CaptureSlot {
        let next = CaptureSlot(self.slots.len());
        *self.slots.entry(name.to_owned()).or_insert(next)
    }

    /// The capture names in slot order: a user's capture table.
    pub(super) fn into_names(self) -> Vec<String> {
        self.slots.into_keys().collect()
    }
}

impl Builder<'_> {
    /// Compiles one request; `visible` gains its captures afterwards (so a
    /// request cannot read its own capture). `setup_visible` tells a flow
    /// step which names setup already captured.
    pub(super) fn step(
        &mut self,
        path: &str,
        r: &Request,
        place: Place,
        visible: &mut HashMap<String, CaptureSlot>,
        setup_visible: &HashMap<String, CaptureSlot>,
        captures: &mut Captures,
    ) -> Option<Step> {
        let before = self.errors.len();
        if place != Place::Mix && r.weight.is_some() {
            self.error_key(
                &child_key(path, "weight"),
                "`weight` applies to the `requests` mix and to flows, not to setup or flow steps",
            );
        }
        let rule = match place {
            Place::Setup => SETUP_RULE,
            Place::Mix => MIX_RULE,
            Place::FlowStep => FLOW_RULE,
        };
        let snapshot = visible.clone();
        let scope = Scope {
            vars: self.vars,
            visible: &snapshot,
            elsewhere: &captures.all,
            rule,
        };
        let path_field = child_key(path, "path");
        if !r.path.starts_with('/') {
            self.error(
                &path_field,
                format!(
                    "{:?} must start with `/`: the target supplies scheme and host",
                    r.path
                ),
            );
        }
        let url_path = self.template(&path_field, &r.path, &scope);
        let mut headers = Vec::new();
        for (name, value) in &r.headers {
            let header_path = child_key(&child_key(path, "headers"), name);
            if let Some(t) = self.template(&header_path, value, &scope) {
                headers.push((name.clone(), t));
            }
        }
        let body = r.body.as_ref().and_then(|body| {
            let body_path = child_key(path, "body");
            Template::compile_json(body, &scope)
                .map_err(|errors| {
                    for (relative, message) in errors {
                        let field = match relative.strip_prefix('.') {
                            Some(key) => child_key(&body_path, key),
                            None => format!("{body_path}{relative}"),
                        };
                        self.error(&field, message);
                    }
                })
                .ok()
        });
        let timeout = match &r.timeout {
            None => Some(DEFAULT_TIMEOUT),
            Some(t) => {
                let timeout_path = child_key(path, "timeout");
                let d = self.duration(&timeout_path, t);
                if d == Some(Duration::ZERO) {
                    self.error(&timeout_path, "a timeout must be longer than 0s");
                }
                d
            }
        };
        let redirects = self.redirects(&child_key(path, "redirects"), r.redirects);
        let checks = self.checks(&child_key(path, "checks"), r.checks.as_ref());
        let capture_path = child_key(path, "capture");
        if place == Place::Mix && !r.capture.is_empty() {
            self.error_key(
                &capture_path,
                "the `requests` mix runs in random order, so nothing can rely on its captures: capture in `setup` or in a flow",
            );
        }
        let mut step_captures = Vec::new();
        for (name, written) in &r.capture {
            let field = child_key(&capture_path, name);
            if !valid_capture_name(name) {
                self.error_key(
                    &field,
                    format!(
                        "`{name}` cannot name a capture: use letters, digits and _ (not key, seq, random or var)"
                    ),
                );
                continue;
            }
            if place == Place::FlowStep && setup_visible.contains_key(name) {
                self.error_key(
                    &field,
                    format!("`{name}` is already captured in `setup`: pick another name"),
                );
                continue;
            }
            let Some(source) = self.capture_source(&field, written) else {
                continue;
            };
            let slot = captures.slot(name);
            visible.insert(name.clone(), slot);
            step_captures.push(Capture {
                name: name.clone(),
                slot,
                source,
            });
        }
        if self.errors.len() > before {
            return None;
        }
        Some(Step {
            name: r.name.clone(),
            method: r.method,
            path: url_path?,
            headers,
            body,
            timeout: timeout?,
            redirects: redirects?,
            checks: checks?,
            captures: step_captures,
        })
    }

    /// `redirects` (version 4): at most [`MAX_REDIRECTS`], and
    /// [`DEFAULT_REDIRECTS`] when left out, in every version.
    fn redirects(&mut self, path: &str, raw: Option<u32>) -> Option<u8> {
        let Some(n) = raw else {
            return Some(DEFAULT_REDIRECTS);
        };
        self.needs_version(4, path);
        match u8::try_from(n) {
            Ok(n) if n <= MAX_REDIRECTS => Some(n),
            _ => {
                self.error(
                    path,
                    format!(
                        "{n} redirects is more than loadgate follows: use 0 (follow none) to {MAX_REDIRECTS}"
                    ),
                );
                None
            }
        }
    }

    /// A capture's source: `/json/pointer` into the body, or (version 4)
    /// `header:Name`, a response header.
    fn capture_source(&mut self, field: &str, written: &str) -> Option<CaptureSource> {
        if written.starts_with('/') {
            return Some(CaptureSource::Json(written.to_owned()));
        }
        let Some(name) = written.strip_prefix(HEADER_PREFIX) else {
            self.error(
                field,
                format!(
                    "{written:?} is not a JSON pointer (e.g. /id or /items/0/id) or a response header (header:X-Request-Id)"
                ),
            );
            return None;
        };
        self.value_needs_version(4, field, "a capture from a response header (`header:Name`)");
        let name = name.trim();
        if name.is_empty() {
            self.error(
                field,
                format!("{written:?} names no header: write one after the colon, e.g. header:X-Request-Id"),
            );
            return None;
        }
        if !is_header_name(name) {
            self.error(
                field,
                format!("{name:?} is not an HTTP header name: use letters, digits and -, e.g. header:X-Request-Id"),
            );
            return None;
        }
        Some(CaptureSource::Header(name.to_ascii_lowercase()))
    }

    fn template(&mut self, path: &str, text: &str, scope: &Scope<'_>) -> Option<Template> {
        Template::compile(text, scope)
            .map_err(|errors| {
                for message in errors {
                    self.error(path, message);
                }
            })
            .ok()
    }
}

/// What starts a capture from a response header: `header:X-Request-Id`.
const HEADER_PREFIX: &str = "header:";

/// Whether `name` is an HTTP header name: a token of RFC 9110 (§5.1,
/// §5.6.2), one or more ASCII letters, digits and ``!#$%&'*+-.^_`|~``.
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

#[cfg(test)]
mod tests {
    use super::is_header_name;

    #[test]
    fn header_names_are_rfc_9110_tokens() {
        for name in ["X-Request-Token", "etag", "x_y", "a.b", "!#$%&'*+-.^_`|~09"] {
            assert!(is_header_name(name), "{name:?}");
        }
        for name in [
            "", "X Token", "x:y", "x\"y\"", "é", "a/b", "(x)", "x\t", "a,b",
        ] {
            assert!(!is_header_name(name), "{name:?}");
        }
    }
}
