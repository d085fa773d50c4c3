//! What a run's latencies count from, in words every renderer shares.
//!
//! The results say it in [`RunInfo::latency_basis`](crate::results::RunInfo):
//! from the send (unpaced closed model), from when each arrival was due
//! (open model), or corrected for coordinated omission (paced closed
//! model). The last two keep a second, raw histogram (`service_*`) beside
//! the one budgets judge; [`Basis`] names both, so the HTML, the Markdown
//! summary, JUnit and the chart keys call them the same.

use crate::{
    results::{LatencyBasis, LatencySummary, Results, Window},
    units,
};

/// The latency basis of a run, with the names of its two figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Basis(pub LatencyBasis);

impl Basis {
    /// The basis of `results`. A version 2 file has no basis field (it
    /// reads as `Sent`), but a run there with arrivals and service times
    /// was an open model, latency counted from when each was due.
    pub fn of(results: &Results) -> Self {
        Self(match results.run.latency_basis {
            LatencyBasis::Sent
                if results.arrivals.is_some() && results.overall.all.service_latency.is_some() =>
            {
                LatencyBasis::IntendedStart
            }
            basis => basis,
        })
    }

    /// Whether the run has raw figures beside the judged ones.
    pub fn has_raw(self) -> bool {
        self.0.has_raw()
    }

    /// The judged figures' short name: `corrected`, `from due`, `from send`.
    pub fn judged_name(self) -> &'static str {
        match self.0 {
            LatencyBasis::Sent => "from send",
            LatencyBasis::IntendedStart => "from due",
            LatencyBasis::Corrected { .. } => "corrected",
        }
    }

    /// The raw figures' short name, when there are raw figures.
    pub fn raw_name(self) -> Option<&'static str> {
        match self.0 {
            LatencyBasis::Sent => None,
            LatencyBasis::IntendedStart => Some("service time"),
            LatencyBasis::Corrected { .. } => Some("raw (uncorrected)"),
        }
    }

    /// The raw figures' name in a table cell beside the judged one.
    pub fn raw_short(self) -> Option<&'static str> {
        match self.0 {
            LatencyBasis::Sent => None,
            LatencyBasis::IntendedStart => Some("service"),
            LatencyBasis::Corrected { .. } => Some("raw"),
        }
    }

    /// The key of the raw p99 line in the latency chart.
    pub fn raw_p99_label(self) -> Option<&'static str> {
        match self.0 {
            LatencyBasis::Sent => None,
            LatencyBasis::IntendedStart => Some("p99 service time"),
            LatencyBasis::Corrected { .. } => Some("p99 raw (uncorrected)"),
        }
    }

    /// The pace of a corrected run: `200 ms`.
    pub fn pace(self) -> Option<String> {
        match self.0 {
            LatencyBasis::Corrected {
                expected_interval_us,
            } => Some(units::latency_us(expected_interval_us as f64)),
            _ => None,
        }
    }

    /// What the latencies count from, as the start of a sentence.
    pub fn headline(self) -> String {
        match self.0 {
            LatencyBasis::Sent => "Latencies count from each request's send".to_owned(),
            LatencyBasis::IntendedStart => {
                "Requests ran on an arrival schedule: latency counts from when each was due"
                    .to_owned()
            }
            LatencyBasis::Corrected {
                expected_interval_us,
            } => format!(
                "Latencies are coordinated-omission corrected for a pace of one iteration every {} per user",
                units::latency_us(expected_interval_us as f64)
            ),
        }
    }

    /// Which histogram budgets judge, and why, to follow [`Basis::headline`]
    /// after [`Basis::separator`]; code in backticks.
    pub fn explanation(self) -> &'static str {
        match self.0 {
            LatencyBasis::Sent => {
                "users were not paced and followed no arrival schedule, so there is no schedule \
                 to fall behind and nothing to correct; budgets judge these figures"
            }
            LatencyBasis::IntendedStart => {
                "(free of coordinated omission), so waiting for a free user counts; budgets judge \
                 that, and the service time, from the actual send, is shown beside it"
            }
            LatencyBasis::Corrected { .. } => {
                "each iteration's first request counts from when it was due, and the iterations a \
                 late user skipped are filled in from how late it started; budgets judge that \
                 corrected histogram, and the raw (uncorrected) figures, from each actual send, \
                 are shown beside it"
            }
        }
    }

    /// What joins [`Basis::headline`] and [`Basis::explanation`].
    pub fn separator(self) -> &'static str {
        if matches!(self.0, LatencyBasis::IntendedStart) {
            " "
        } else {
            ": "
        }
    }

    /// The basis in a clause, for the run's facts and the Markdown
    /// summary: `from each request's send (no pace, …)`.
    pub fn summary(self) -> String {
        match self.0 {
            LatencyBasis::Sent => {
                "from each request's send (no pace, no schedule: nothing to correct)".to_owned()
            }
            LatencyBasis::IntendedStart => "from when each arrival was due (open model); \
                 service time, from the send, beside it"
                .to_owned(),
            LatencyBasis::Corrected {
                expected_interval_us,
            } => format!(
                "coordinated-omission corrected for a pace of one iteration every {} per user; \
                 raw (uncorrected), from the send, beside it",
                units::latency_us(expected_interval_us as f64)
            ),
        }
    }

    /// A short machine-readable form: `sent`, `intended_start`,
    /// `corrected (200 ms)`.
    pub fn tag(self) -> String {
        match self.0 {
            LatencyBasis::Sent => "sent".to_owned(),
            LatencyBasis::IntendedStart => "intended_start".to_owned(),
            LatencyBasis::Corrected {
                expected_interval_us,
            } => format!(
                "corrected (expected interval {})",
                units::latency_us(expected_interval_us as f64)
            ),
        }
    }
}

/// The raw latencies of `window`, as measured from each actual send: the
/// service figures when the basis keeps them apart, else the judged ones.
pub fn from_send(window: &Window) -> LatencySummary {
    window.service_latency.unwrap_or(window.latency)
}
