//! The results format of loadgate and what renders it.
//!
//! * [`results`]: the versioned `results.json` types, read and written
//!   atomically; the seam between running a scenario and reporting on it.
//! * [`histogram`]: latency histograms (µs) and their base64 V2 form.
//! * [`hlog`]: the run as an HdrHistogram interval log.
//! * [`report::render_all`]: every report of a run into a directory:
//!   [`render_html`] (`report.html`, self-contained), [`charts`] (the same
//!   charts as PNG), [`junit`] (`junit.xml`, one testcase per budget) and
//!   [`markdown`] (`summary.md`, for CI step summaries).
//! * What those renderers share, so they say the same thing:
//!   [`budget_table`] (measured against budget, which budgets failed),
//!   [`basis`] (what latencies count from), [`units`] (values as text).
//!
//! This crate knows nothing of goose or of the reference service: anything
//! that can fill in a [`results::Results`] can be reported on.

pub mod basis;
pub mod budget_table;
pub mod charts;
pub mod compare;
pub mod downsample;
mod escape;
pub mod files;
pub mod histogram;
pub mod hlog;
pub mod junit;
pub mod markdown;
pub mod metric;
pub mod render_html;
pub mod report;
pub mod results;
pub mod spectrum;
pub mod terminal;
pub mod units;

pub use report::{RenderError, Rendered, render_all};
