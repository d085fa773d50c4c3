//! Budgets as judged: each limit, what was measured against it, whether
//! it held or stopped the run, and the run's verdict over them all.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A budget, what was measured against it, and whether it held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BudgetVerdict {
    /// `overall` or a request name.
    pub scope: String,
    pub metric: BudgetMetric,
    /// The limit, in the metric's unit (µs for latency, a fraction for the
    /// error rate, requests per second for throughput).
    pub limit: f64,
    /// What was measured; absent when nothing was (no samples).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<f64>,
    pub passed: bool,
    /// The budget's abort rule, and whether it stopped the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<AbortRule>,
}

/// Stop the run when a budget's value over the last `window_ms` breaches
/// it continuously for `after_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortRule {
    pub window_ms: u64,
    pub after_ms: u64,
    /// When this rule stopped the run, in ms from its start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub triggered_at_ms: Option<u64>,
}

/// What a budget limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum BudgetMetric {
    P50,
    P95,
    P99,
    /// At most this fraction of requests may fail.
    MaxErrorRate,
    /// At least this many requests per second.
    MinRps,
    /// At most this fraction of a schedule's arrivals may be dropped (open
    /// model, whole run).
    MaxDroppedRate,
    /// At least this share of cache lookups answered by some layer (scope `server`).
    MinCacheHitRatio,
    /// At most this mean DB pool utilization (scope `server`).
    MaxDbPoolUtilization,
}

impl BudgetMetric {
    /// Whether the limit is a floor (`≥`) rather than a ceiling (`≤`).
    pub fn is_floor(self) -> bool {
        match self {
            Self::MinRps | Self::MinCacheHitRatio => true,
            Self::P50
            | Self::P95
            | Self::P99
            | Self::MaxErrorRate
            | Self::MaxDroppedRate
            | Self::MaxDbPoolUtilization => false,
        }
    }

    /// Whether `measured` keeps within `limit`.
    pub fn holds(self, measured: f64, limit: f64) -> bool {
        if self.is_floor() {
            measured >= limit
        } else {
            measured <= limit
        }
    }

    /// The heading of a table column: `P95`, `Errors`.
    pub fn title(self) -> &'static str {
        match self {
            Self::P50 => "P50",
            Self::P95 => "P95",
            Self::P99 => "P99",
            Self::MinRps => "RPS",
            Self::MaxErrorRate => "Errors",
            Self::MaxDroppedRate => "Dropped",
            Self::MinCacheHitRatio => "Cache hits",
            Self::MaxDbPoolUtilization => "DB pool",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::P50 => "p50",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::MaxErrorRate => "error rate",
            Self::MinRps => "rps",
            Self::MaxDroppedRate => "dropped",
            Self::MinCacheHitRatio => "cache hit ratio",
            Self::MaxDbPoolUtilization => "db pool utilization",
        }
    }
}

/// The run's overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Verdict {
    /// Every budget held and none aborted the run (true when there are none).
    pub passed: bool,
    pub failed_budgets: u32,
}

impl Verdict {
    /// A budget that aborted the run fails it, even if its value over the
    /// whole (shortened) run keeps within the limit.
    pub fn of(budgets: &[BudgetVerdict]) -> Self {
        let failed = budgets
            .iter()
            .filter(|b| !b.passed || b.aborted_run())
            .count();
        Self {
            passed: failed == 0,
            failed_budgets: u32::try_from(failed).unwrap_or(u32::MAX),
        }
    }
}

impl BudgetVerdict {
    /// Whether this budget's abort rule stopped the run.
    pub fn aborted_run(&self) -> bool {
        self.abort.is_some_and(|a| a.triggered_at_ms.is_some())
    }
}
