//! loadgate: `scenario.yaml → Plan → goose run → Recorder → results.json
//! → verdict → reports + exit code`.
//!
//! The rooms follow the flow:
//!
//! * the [`scenario`] crate: the file, its errors, the validated [`Plan`]
//!   and its [`Timeline`], the run's one stage clock; it knows nothing of
//!   goose, HTTP clients or tokio, and Cargo enforces that;
//! * [`run`]: the plan on goose ([`run::engine`], the only module that names
//!   goose), the users, the arrival schedule and the recorder;
//! * [`judge`]: the budgets' verdicts and the results file;
//! * [`merge`]: the shards of a run made by several generators, as one
//!   run's results, judged once;
//! * [`cli`]: the `loadgate` commands, the progress line and the verdict
//!   table.
//!
//! The results file is the seam to the `reports` crate, which renders it and
//! knows nothing else.

pub mod cli;
pub mod judge;
pub mod merge;
pub mod run;

pub use cli::execute;
pub use scenario::{Plan, ScenarioError, ScenarioErrors, Timeline, Vars, load_plan, parse_plan};
