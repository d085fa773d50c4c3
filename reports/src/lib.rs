//! The results format of loadgate and what renders it.
//!
//! Its rooms, one job each:
//!
//! * The format:
//!   * [`results`]: the versioned `results.json` types, read and written
//!     atomically; the seam between running a scenario and reporting on it.
//!   * [`histogram`]: latency histograms (µs) and their base64 V2 form.
//!   * [`metric`]: a window's p50, p95, p99, rps and error rate, and what
//!     they are for an empty window (none); the one place that says.
//!   * [`files`]: the name of every file in an output directory.
//! * Every report of a run, written by [`report::render_all`]:
//!   * [`render_html`]: `report.html`, self-contained, one module per section.
//!   * [`charts`]: the report's charts, as SVG for the page and PNG files.
//!   * [`junit`]: `junit.xml`, one testcase per budget.
//!   * [`markdown`]: `summary.md`, for CI step summaries.
//!   * [`hlog`]: `histograms.hlog`, the run as an HdrHistogram interval log.
//! * [`terminal`]: what `loadgate run` prints (the verdict table) and a
//!   comparison as plain text.
//! * [`compare`]: a run against a baseline (loadgate's, k6's or goose's)
//!   under the noise rule; rendered by [`terminal`], [`markdown`] and
//!   [`render_html`].
//! * What the renderers share, so they say the same thing:
//!   * [`budget_table`]: measured against budget, which budgets failed.
//!   * [`basis`]: what latencies count from.
//!   * [`units`]: values as text.
//!   * [`spectrum`]: the percentile spectrum of a histogram.
//!   * [`downsample`]: thinning a long series to a chart's width.
//!   * `escape`: text made safe inside HTML and XML.
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
