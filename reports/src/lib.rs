//! The results format of loadgate and what renders it.
//!
//! * [`results`]: the versioned `results.json` types, read and written
//!   atomically; the seam between running a scenario and reporting on it.
//! * [`histogram`]: latency histograms (µs) and their base64 V2 form.
//! * [`hlog`]: the run as an HdrHistogram interval log.
//!
//! This crate knows nothing of goose or of the reference service: anything
//! that can fill in a [`results::Results`] can be reported on.

pub mod histogram;
pub mod hlog;
pub mod results;
