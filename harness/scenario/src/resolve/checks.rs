//! A request's `checks`: which responses count as a success.
//!
//! Without `checks`, any 2xx passes; the status codes and JSON pointers are
//! validated here so a typo fails the plan instead of failing every request.

use super::Builder;
use crate::plan::{Checks, JsonCheck, JsonExpectation, StatusCheck};
use crate::source_map::{child_index, child_key};
use crate::yaml;

impl Builder<'_> {
    pub(super) fn checks(&mut self, path: &str, raw: Option<&yaml::Checks>) -> Option<Checks> {
        let Some(raw) = raw else {
            return Some(Checks {
                status: StatusCheck::AnySuccess,
                json: Vec::new(),
                body_contains: Vec::new(),
                headers_present: Vec::new(),
            });
        };
        let before = self.errors.len();
        let status = match &raw.status {
            None => StatusCheck::AnySuccess,
            Some(codes) => {
                let codes = codes.to_vec();
                let status_path = child_key(path, "status");
                if codes.is_empty() {
                    self.error(&status_path, "list at least one status code");
                }
                for code in &codes {
                    if !(100..=599).contains(code) {
                        self.error(
                            &status_path,
                            format!("{code} is not an HTTP status code (100-599)"),
                        );
                    }
                }
                StatusCheck::OneOf(codes)
            }
        };
        let mut json = Vec::new();
        for (i, check) in raw.json.iter().enumerate() {
            let check_path = child_index(&child_key(path, "json"), i);
            if !(check.pointer.is_empty() || check.pointer.starts_with('/')) {
                self.error(
                    &child_key(&check_path, "pointer"),
                    format!(
                        "{:?} is not a JSON pointer (e.g. /id or /items/0/id)",
                        check.pointer
                    ),
                );
            }
            let expect = match (&check.equals, check.exists) {
                (Some(value), None) => match serde_json::to_value(value) {
                    Ok(value) => JsonExpectation::Equals(value),
                    Err(e) => {
                        self.error(&child_key(&check_path, "equals"), format!("not JSON: {e}"));
                        continue;
                    }
                },
                (None, Some(exists)) => JsonExpectation::Exists(exists),
                _ => {
                    self.error(&check_path, "give exactly one of `equals` or `exists`");
                    continue;
                }
            };
            json.push(JsonCheck {
                pointer: check.pointer.clone(),
                expect,
            });
        }
        if self.errors.len() > before {
            return None;
        }
        Some(Checks {
            status,
            json,
            body_contains: raw
                .body_contains
                .as_ref()
                .map(|b| b.to_vec())
                .unwrap_or_default(),
            headers_present: raw.header.as_ref().map(|h| h.to_vec()).unwrap_or_default(),
        })
    }
}
