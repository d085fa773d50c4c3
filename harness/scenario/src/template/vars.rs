//! `{{ var.NAME }}` values: `--var NAME=value` pairs, optionally backed by
//! the environment. They are read once, when the plan is built, so a run
//! never depends on an environment that changed after it started.

use std::collections::BTreeMap;

use super::parse::is_identifier;

/// Variables for `{{ var.NAME }}`: `--var NAME=value` pairs, optionally
/// backed by the process environment.
#[derive(Debug, Clone, Default)]
pub struct Vars {
    values: BTreeMap<String, String>,
    use_env: bool,
}

impl Vars {
    /// No variables, no environment: what tests want.
    pub fn new() -> Self {
        Self::default()
    }

    /// Falls back to the process environment for names not set explicitly,
    /// as the CLI does.
    pub fn with_env(mut self) -> Self {
        self.use_env = true;
        self
    }

    /// Sets `name` to `value`, replacing any earlier value.
    pub fn set(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(name.into(), value.into());
        self
    }

    /// Parses a `NAME=value` command-line assignment.
    ///
    /// # Errors
    /// When there is no `=` or the name is not an identifier.
    pub fn parse_assignment(assignment: &str) -> Result<(String, String), String> {
        match assignment.split_once('=') {
            Some((name, value)) if is_identifier(name) => Ok((name.to_owned(), value.to_owned())),
            _ => Err(format!(
                "`{assignment}` is not a NAME=value assignment (NAME: letters, digits, _)"
            )),
        }
    }

    /// The value of `name`, explicit values first, then the environment.
    pub fn get(&self, name: &str) -> Option<String> {
        self.values
            .get(name)
            .cloned()
            .or_else(|| self.use_env.then(|| std::env::var(name).ok()).flatten())
    }
}
