//! loadgate: scenario → plan → run → results → verdict.
//!
//! This crate's first layer turns a scenario file into a validated [`Plan`],
//! knowing nothing of goose or HTTP clients so it can be tested (and fuzzed)
//! alone:
//!
//! * [`scenario`]: the YAML format (version 1) as serde types, and its JSON Schema;
//! * [`source_map`]: where each field sits in the file, for error positions;
//! * [`resolve`]: the one fallible conversion, [`load_plan`] / [`parse_plan`];
//! * [`plan`]: the resolved [`Plan`] (stages, timeline, goose test plan, budgets);
//! * [`overrides`]: `--scale`, `--duration` and `--users` as pure functions;
//! * [`duration`]: human durations (`30s`, `1h30m`, `250ms`);
//! * [`template`]: `{{ ... }}` placeholders compiled for cheap rendering;
//! * [`scenario_error`]: `file:line:column: path: message` errors with hints.

pub mod duration;
pub mod overrides;
pub mod plan;
pub mod resolve;
pub mod scenario;
pub mod scenario_error;
pub mod source_map;
pub mod template;

pub use plan::Plan;
pub use resolve::{load_plan, parse_plan};
pub use scenario_error::{ScenarioError, ScenarioErrors};
pub use template::Vars;
