//! The scenario layer: `scenario.yaml → Plan → Timeline`.
//!
//! It turns a scenario file into a validated [`Plan`] and places the plan's
//! stages on the run's one clock, the [`Timeline`]. It knows nothing of the
//! engine that runs the plan, of HTTP clients or of async runtimes (Cargo
//! keeps them out: none is a dependency), so it can be tested and fuzzed
//! alone.
//!
//! * [`yaml`]: the file format (version 4) as serde types, and its JSON Schema;
//! * [`source_map`]: where each field sits in the file, for error positions;
//! * [`resolve`]: the one fallible conversion, [`load_plan`] / [`parse_plan`];
//! * [`plan`]: the resolved [`Plan`] (stages, work, budgets);
//! * [`timeline`]: the stages on the run's clock, rounded to the engine's tick;
//! * [`overrides`]: `--scale`, `--duration` and `--users` as pure functions;
//! * [`shard`]: `--shard i/N`, one generator's exact share of a run;
//! * [`duration`]: human durations (`30s`, `1h30m`, `250ms`);
//! * [`template`]: `{{ ... }}` placeholders compiled for cheap rendering;
//! * [`error`]: `file:line:column: path: message` errors with hints.

pub mod duration;
pub mod error;
pub mod overrides;
pub mod plan;
pub mod resolve;
pub mod shard;
pub mod source_map;
pub mod template;
pub mod timeline;
pub mod yaml;

pub use error::{ScenarioError, ScenarioErrors};
pub use plan::Plan;
pub use resolve::{load_plan, parse_plan};
pub use shard::Shard;
pub use template::Vars;
pub use timeline::Timeline;
