//! The judging layer: what a run measured, judged against the plan's
//! budgets and written up as the results file.
//!
//! * [`budget`]: every budget's verdict, from the one metric vocabulary
//!   ([`reports::metric`]);
//! * [`mod@assemble`]: the [`Results`](reports::results::Results) of a run.

pub mod assemble;
pub mod budget;

pub use assemble::{RunMeta, assemble};
