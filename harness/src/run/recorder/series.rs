//! The per-second series: a second stays open for late samples, then is
//! reduced to its summary.

use std::collections::BTreeMap;

use reports::{
    histogram::{Histogram, new_histogram},
    results::{ErrorCounts, LatencyBasis, SecondStats},
};

/// A second still open for late samples.
#[derive(Debug)]
pub(super) struct OpenSecond {
    pub(super) histogram: Histogram,
    pub(super) service: Option<Histogram>,
    pub(super) count: u64,
    pub(super) errors: ErrorCounts,
    /// Responses by status class: index 1 counts 1xx, … 5xx; 0 and above
    /// 5 catch codes outside 100–599. Named ("2xx") only when the second
    /// closes, so a sample costs an index, not a string.
    classes: [u64; 10],
}

impl OpenSecond {
    pub(super) fn new(basis: LatencyBasis) -> Self {
        Self {
            histogram: new_histogram(),
            service: basis.has_raw().then(new_histogram),
            count: 0,
            errors: ErrorCounts::default(),
            classes: [0; 10],
        }
    }

    /// Counts a response with `status`.
    pub(super) fn count_status(&mut self, status: u16) {
        self.classes[usize::from(status / 100).min(9)] += 1;
    }

    pub(super) fn close(self, second: u32, users: u32, generator_cpu: Option<f64>) -> SecondStats {
        let q = |q| {
            if self.histogram.is_empty() {
                0
            } else {
                self.histogram.value_at_quantile(q)
            }
        };
        SecondStats {
            second,
            count: self.count,
            errors: self.errors,
            status_classes: self
                .classes
                .iter()
                .enumerate()
                .filter(|&(_, &n)| n > 0)
                .map(|(class, &n)| (format!("{class}xx"), n))
                .collect::<BTreeMap<_, _>>(),
            p50_us: q(0.50),
            p95_us: q(0.95),
            p99_us: q(0.99),
            max_us: self.histogram.max(),
            service_p99_us: self
                .service
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(0.99)),
            users,
            generator_cpu,
        }
    }
}
