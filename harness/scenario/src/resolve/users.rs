//! `users` and `tls`: which API keys the virtual users send, and whether
//! their connections verify the target's certificate.
//!
//! The key file is read here, at plan time, so a missing or malformed file
//! is a validation error with a position rather than a failure mid-run.

use super::Builder;
use crate::plan::{Tls, UserPool};
use crate::yaml;

impl Builder<'_> {
    pub(super) fn user_pool(&mut self, raw: Option<&yaml::UserPool>) -> Option<UserPool> {
        let Some(raw) = raw else {
            return Some(UserPool::DEFAULT);
        };
        match (&raw.csv, raw.range) {
            (Some(_), Some(_)) => {
                self.error_key("users.range", "give either `csv` or `range`, not both");
                None
            }
            (None, None) => {
                self.error(
                    "users",
                    "give `csv: path/to/keys.csv` or `range: {from: 21, to: 1000}`",
                );
                None
            }
            (None, Some(yaml::UserRange { from, to })) => {
                if from == 0 || from > to {
                    self.error(
                        "users.range",
                        format!("`from` ({from}) must be at least 1 and at most `to` ({to})"),
                    );
                    return None;
                }
                Some(UserPool::DemoRange { from, to })
            }
            (Some(file), None) => {
                let resolved = self.base_dir.join(file);
                let text = match std::fs::read_to_string(&resolved) {
                    Ok(text) => text,
                    Err(e) => {
                        self.error(
                            "users.csv",
                            format!("cannot read {} ({e})", resolved.display()),
                        );
                        return None;
                    }
                };
                match parse_keys(&text) {
                    Ok(keys) => Some(UserPool::Keys(keys)),
                    Err(e) => {
                        self.error("users.csv", format!("{}: {e}", resolved.display()));
                        None
                    }
                }
            }
        }
    }
}

/// `tls` has nothing that can be wrong: certificates are verified unless
/// the file says `insecure: true`.
pub(super) fn tls(raw: Option<&yaml::Tls>) -> Tls {
    Tls {
        verify_certificates: !raw.is_some_and(|t| t.insecure),
    }
}

/// Keys from a CSV file: one key per line, or a header row with a `key`
/// column. Blank lines and lines starting with `#` are skipped.
pub(super) fn parse_keys(text: &str) -> Result<Vec<String>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, line)| (i + 1, line.trim()))
        .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
        .peekable();
    let column = match lines.peek() {
        None => return Err("the file has no keys".to_owned()),
        Some((_, header)) if header.contains(',') || header.eq_ignore_ascii_case("key") => {
            let column = header
                .split(',')
                .position(|c| unquote(c).eq_ignore_ascii_case("key"))
                .ok_or("the header row has no `key` column")?;
            lines.next();
            column
        }
        Some(_) => 0,
    };
    let mut keys = Vec::new();
    for (number, line) in lines {
        match line.split(',').nth(column).map(unquote) {
            Some(key) if !key.is_empty() => keys.push(key.to_owned()),
            _ => return Err(format!("line {number} has no key")),
        }
    }
    if keys.is_empty() {
        return Err("the file has no keys".to_owned());
    }
    Ok(keys)
}

/// A CSV cell without its surrounding quotes, if it has them.
fn unquote(cell: &str) -> &str {
    let cell = cell.trim();
    cell.strip_prefix('"')
        .and_then(|c| c.strip_suffix('"'))
        .unwrap_or(cell)
}
