//! Scenario text → [`Plan`]: the one fallible conversion.
//!
//! Two passes over the text: serde_yaml_ng deserialises it into the raw
//! [`crate::yaml`] types (structure, field names, types), and
//! [`SourceMap`] records where every field is. The raw scenario is then
//! checked field by field; each problem becomes a [`ScenarioError`] at the
//! field's position, and all of them are returned together. serde itself
//! stops at its first error, so structural problems (unknown fields, wrong
//! types) come one at a time; everything checked here comes all at once.
//!
//! One `Builder` walks the scenario, one section at a time; each section
//! has its file:
//!
//! * `serde_error`: serde's structural error, placed in the file;
//! * `load`: the load model and its stages;
//! * `pacing`: `think_time` and `pace`;
//! * `users`: the user pool (`users`) and `tls`;
//! * `client`: `cookies` and `http_version`, how each user's client talks;
//! * `target`: `target` and `server_metrics`;
//! * `requests`: `setup`, the `requests` mix and `flows`;
//! * `step`: one request: templates, timeout, redirects, captures;
//! * `checks`: a request's `checks`;
//! * `budgets`: `budgets`, with `abort` and `budgets.server`.

mod budgets;
mod checks;
mod client;
mod load;
mod pacing;
mod requests;
mod serde_error;
mod step;
mod target;
mod users;

use std::path::Path;
use std::time::Duration;

use crate::duration::{DurationError, parse_duration};
use crate::error::{ScenarioError, ScenarioErrors};
use crate::plan::Plan;
use crate::source_map::{Position, SourceMap};
use crate::template::Vars;
use crate::yaml::{DurationText, Scenario};

/// The newest format version this loader reads.
pub const FORMAT_VERSION: u32 = 5;
/// The oldest scenario format version still read. Version 2 added the open
/// model; version 3 `pace`, `server_metrics`, `budgets.server` and `abort`;
/// version 4 `cookies`, `http_version`, a request's `redirects` and captures
/// from response headers (`header:Name`); version 5 `budgets.latency_of`.
/// An older file means the same under the newest version.
pub const OLDEST_FORMAT_VERSION: u32 = 1;

/// Default per-request timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How many redirects a request follows when it does not say.
pub const DEFAULT_REDIRECTS: u8 = 10;

/// The most redirects a request may follow (`redirects`).
pub const MAX_REDIRECTS: u8 = 20;

/// Reads and validates the scenario at `path`. Relative paths inside it
/// (`users.csv`) are resolved against the file's directory; errors name the
/// file as `path` is written.
///
/// # Errors
/// Every problem found, each with `file:line:column: field.path: message`.
pub fn load_plan(path: &Path, vars: &Vars) -> Result<Plan, ScenarioErrors> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ScenarioErrors::new(vec![ScenarioError {
            source: source.clone(),
            line: 1,
            column: 1,
            path: ".".into(),
            message: format!("cannot read the scenario: {e}"),
        }])
    })?;
    let base_dir = path.parent().unwrap_or(Path::new("."));
    parse_plan(&source, &text, base_dir, vars)
}

/// Validates scenario `text`, naming it `source_name` in errors and resolving
/// relative paths against `base_dir`.
///
/// # Errors
/// Every problem found, each with `file:line:column: field.path: message`.
pub fn parse_plan(
    source_name: &str,
    text: &str,
    base_dir: &Path,
    vars: &Vars,
) -> Result<Plan, ScenarioErrors> {
    let map = SourceMap::parse(text);
    let deserializer = serde_yaml_ng::Deserializer::from_str(text);
    let scenario: Scenario = serde_path_to_error::deserialize(deserializer)
        .map_err(|e| ScenarioErrors::new(vec![serde_error::locate(source_name, &map, e)]))?;
    let mut builder = Builder {
        source: source_name,
        text,
        map: &map,
        errors: Vec::new(),
        base_dir,
        vars,
        version: scenario.version,
    };
    let plan = builder.plan(scenario);
    if builder.errors.is_empty() {
        Ok(plan.expect("no errors means a plan"))
    } else {
        Err(ScenarioErrors::new(builder.errors))
    }
}

/// Checks a deserialised scenario, collecting every error rather than
/// stopping at the first; each section's checks are in their own file.
struct Builder<'a> {
    source: &'a str,
    /// The file's text, kept in the plan for the results.
    text: &'a str,
    map: &'a SourceMap,
    errors: Vec<ScenarioError>,
    base_dir: &'a Path,
    vars: &'a Vars,
    /// The file's format version, which decides the fields it may use.
    version: u32,
}

impl Builder<'_> {
    fn error_at(&mut self, position: Position, path: &str, message: impl Into<String>) {
        self.errors.push(ScenarioError {
            source: self.source.to_owned(),
            line: position.line,
            column: position.column,
            path: path.to_owned(),
            message: message.into(),
        });
    }

    /// An error located at the value of `path`.
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.error_at(self.map.value(path), path, message);
    }

    /// An error located at the key of `path` (the field itself is the problem).
    fn error_key(&mut self, path: &str, message: impl Into<String>) {
        self.error_at(self.map.key(path), path, message);
    }

    fn duration(&mut self, path: &str, text: &DurationText) -> Option<Duration> {
        if text.bare_number {
            self.error(path, DurationError::new(&text.text, true).to_string());
            return None;
        }
        parse_duration(&text.text)
            .map_err(|e| self.error(path, e.to_string()))
            .ok()
    }

    /// Reports `path` when the file's version is older than `needed`.
    fn needs_version(&mut self, needed: u32, path: &str) {
        let version = self.version;
        if version < needed {
            self.error_key(
                path,
                format!("`{path}` needs `version: {needed}` (this file says version {version})"),
            );
        }
    }

    /// Reports the value at `path` when the file's version is older than
    /// `needed`: the field is older, but `what` that value means is not.
    fn value_needs_version(&mut self, needed: u32, path: &str, what: &str) {
        let version = self.version;
        if version < needed {
            self.error(
                path,
                format!("{what} needs `version: {needed}` (this file says version {version})"),
            );
        }
    }

    /// The plan, or `None` when any section has errors. Every section is
    /// checked even after one fails, so all errors come at once.
    fn plan(&mut self, s: Scenario) -> Option<Plan> {
        if !(OLDEST_FORMAT_VERSION..=FORMAT_VERSION).contains(&s.version) {
            self.error(
                "version",
                format!(
                    "version {} is not supported; this loadgate reads versions {OLDEST_FORMAT_VERSION} to {FORMAT_VERSION}",
                    s.version
                ),
            );
        }
        if s.name.trim().is_empty() {
            self.error("name", "the name must not be empty");
        }
        self.target(s.target.as_ref());
        let (stages, open) = self.load(&s.load);
        let think_time = self.think_time(&s);
        let pace = self.pace(&s);
        let users = self.user_pool(s.users.as_ref());
        let tls = users::tls(s.tls.as_ref());
        let cookies = self.cookies(s.cookies);
        self.http_version(s.http_version.as_deref());
        let mut captures = step::Captures::new(&s);
        let (setup, setup_visible) = self.setup(&s.setup, &mut captures);
        let work = self.work(&s, &setup_visible, &mut captures);
        let budgets = self.budgets(&s);
        let server_metrics = self.server_metrics(s.server_metrics.as_ref());
        Some(Plan {
            source: self.source.to_owned(),
            text: self.text.to_owned(),
            name: s.name,
            description: s.description.unwrap_or_default(),
            target: s.target,
            stages: stages?,
            think_time: think_time?,
            users: users?,
            tls,
            cookies,
            setup,
            work: work?,
            captures: captures.into_names(),
            budgets,
            open,
            pace,
            server_metrics,
            max_total: None,
            shard: crate::shard::Shard::WHOLE,
            user_offset: 0,
        })
    }
}

#[cfg(test)]
mod shipped_tests;
#[cfg(test)]
mod tests;
