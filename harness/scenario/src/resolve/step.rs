//! One request compiled into a [`Step`]: its path, headers and body as
//! templates, its timeout, checks and captures.
//!
//! Templates are compiled against the captures readable at the request's
//! place, so a placeholder naming a value not captured yet is an error with
//! a position, not an empty string at run time.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use indexmap::IndexMap;

use super::requests::every_request;
use super::{Builder, DEFAULT_TIMEOUT};
use crate::plan::{Capture, Step};
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
        let checks = self.checks(&child_key(path, "checks"), r.checks.as_ref());
        let capture_path = child_key(path, "capture");
        if place == Place::Mix && !r.capture.is_empty() {
            self.error_key(
                &capture_path,
                "the `requests` mix runs in random order, so nothing can rely on its captures: capture in `setup` or in a flow",
            );
        }
        let mut step_captures = Vec::new();
        for (name, pointer) in &r.capture {
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
            if !pointer.starts_with('/') {
                self.error(
                    &field,
                    format!("{pointer:?} is not a JSON pointer (e.g. /id or /items/0/id)"),
                );
                continue;
            }
            let slot = captures.slot(name);
            visible.insert(name.clone(), slot);
            step_captures.push(Capture {
                name: name.clone(),
                slot,
                pointer: pointer.clone(),
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
            checks: checks?,
            captures: step_captures,
        })
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
