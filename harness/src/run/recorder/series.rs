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
    pub(super) classes: BTreeMap<String, u64>,
}

impl OpenSecond {
    pub(super) fn new(basis: LatencyBasis) -> Self {
        Self {
            histogram: new_histogram(),
            service: basis.has_raw().then(new_histogram),
            count: 0,
            errors: ErrorCounts::default(),
            classes: BTreeMap::new(),
        }
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
            status_classes: self.classes,
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
