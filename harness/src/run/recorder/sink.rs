//! A user's end of the recorder: the [`Sample`] it measured and the
//! [`SampleSink`] that buffers samples and hands them over in batches, so
//! users share a lock only once per batch.

use std::{sync::Arc, time::Duration};

use reports::results::ErrorCounts;
use scenario::duration::whole_micros;

use super::inbox::Inbox;

/// A user hands over its buffer when it holds this many samples…
pub(super) const BATCH_SAMPLES: usize = 256;
/// …or when its oldest sample is this old, so the series and the live view
/// stay current for slow users.
const BATCH_AGE: Duration = Duration::from_millis(200);
const BATCH_AGE_US: u64 = whole_micros(BATCH_AGE);

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Passed its checks.
    Ok { status: u16 },
    /// Failed; `status` when a response arrived.
    Failed {
        kind: FailureKind,
        status: Option<u16>,
    },
}

/// Why a request failed; one kind per request, the first that applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Connect,
    Timeout,
    Status,
    Check,
    Other,
    /// No request at all: an open model's arrival given up unsent
    /// ([`Sample::dropped`]).
    Dropped,
    /// A request that could not be sent ([`Sample::unsent`]): it failed
    /// before it began, so it has no latency.
    Unsent,
}

impl FailureKind {
    pub(super) fn count_into(self, errors: &mut ErrorCounts) {
        match self {
            Self::Connect => errors.connect += 1,
            Self::Timeout => errors.timeout += 1,
            Self::Status => errors.status += 1,
            Self::Check => errors.check += 1,
            Self::Other => errors.other += 1,
            Self::Dropped => errors.dropped += 1,
            Self::Unsent => errors.unsent += 1,
        }
    }
}

/// How an open model's arrival started, on the first request it sent:
/// the generator's lateness apart from the wait for a free user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StartTiming {
    /// From when it was due to when a user claimed it, if every user was
    /// busy then (0 for an arrival claimed ahead of time): the target's
    /// slowness for the users.
    pub waited_for_user_us: u32,
    /// From when it was due, or claimed if later, to the send: the
    /// generator's own lateness.
    pub start_lag_us: u32,
}

/// One request, as measured; or an open model's arrival that never
/// became one ([`Sample::dropped`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    /// Index of the request name in [`RecorderConfig::names`](super::RecorderConfig::names);
    /// `None` for a dropped arrival, which had drawn no request yet and so
    /// counts in the overall figures only.
    pub name: Option<u16>,
    /// When the request started, from the run's start: when it was due,
    /// for a request on a schedule (open model); else when it was sent.
    pub start_us: u64,
    /// From `start_us` to the last byte of the response body.
    pub latency_us: u64,
    /// From sending the request to the last byte: `latency_us` less any
    /// wait before the send. Equal to it without a schedule.
    pub service_us: u64,
    /// Time spent opening a connection for this request; 0 when it
    /// reused one.
    pub connect_us: u32,
    /// From the send to the response's headers (includes `connect_us`);
    /// 0 when no response came.
    pub ttfb_us: u64,
    /// On the first request of an open model's arrival, or of a paced
    /// iteration: how it started (a pace has no wait for a user, only the
    /// lateness); on an arrival a user had claimed but not started by the
    /// end, how far it had got.
    pub start: Option<StartTiming>,
    pub outcome: Outcome,
}

impl Sample {
    /// An arrival due at `due_us` (from the run's start) that was given up
    /// unsent after waiting `waited_us` for a user: a failure of kind
    /// [`FailureKind::Dropped`] with that wait as its latency, and no
    /// request (no name, no service time).
    pub fn dropped(due_us: u64, waited_us: u64) -> Self {
        Self {
            name: None,
            start_us: due_us,
            latency_us: waited_us,
            service_us: 0,
            connect_us: 0,
            ttfb_us: 0,
            start: None,
            outcome: Outcome::Failed {
                kind: FailureKind::Dropped,
                status: None,
            },
        }
    }

    /// A request named `name` that could not be sent at `start_us` (a
    /// header value that is not valid, a placeholder with no value): a
    /// failure of kind [`FailureKind::Unsent`] with no latency. The first
    /// of an arrival or paced iteration still carries how it started.
    pub fn unsent(name: u16, start_us: u64, start: Option<StartTiming>) -> Self {
        Self {
            name: Some(name),
            start,
            outcome: Outcome::Failed {
                kind: FailureKind::Unsent,
                status: None,
            },
            ..Self::dropped(start_us, 0)
        }
    }

    /// The failure kind of a sample that sent no request, if it is one.
    fn not_sent(&self) -> Option<FailureKind> {
        match self.outcome {
            Outcome::Failed {
                kind: kind @ (FailureKind::Dropped | FailureKind::Unsent),
                ..
            } => Some(kind),
            _ => None,
        }
    }

    /// Whether a request was sent: false for a dropped arrival and for a
    /// request that could not be sent.
    pub fn was_sent(&self) -> bool {
        self.not_sent().is_none()
    }

    /// Whether the sample is an arrival dropped unsent.
    pub fn was_dropped(&self) -> bool {
        self.not_sent() == Some(FailureKind::Dropped)
    }

    /// Whether the sample has a latency: every one but a request that
    /// could not be sent.
    pub fn has_latency(&self) -> bool {
        self.not_sent() != Some(FailureKind::Unsent)
    }

    /// Whether the request succeeded: the latencies a `latency_of: ok`
    /// budget judges.
    pub fn succeeded(&self) -> bool {
        matches!(self.outcome, Outcome::Ok { .. })
    }
}

impl Outcome {
    pub(super) fn status(self) -> Option<u16> {
        match self {
            Self::Ok { status } => Some(status),
            Self::Failed { status, .. } => status,
        }
    }
}

/// A user's buffer of samples not yet handed over; a clone starts with an
/// empty buffer of its own.
#[derive(Debug)]
pub struct SampleSink {
    samples: Vec<Sample>,
    /// When the oldest buffered sample ended, in µs from the run's start.
    oldest_end_us: Option<u64>,
    inbox: Arc<Inbox>,
}

impl Clone for SampleSink {
    fn clone(&self) -> Self {
        Self::new(self.inbox.clone())
    }
}

impl SampleSink {
    pub(super) fn new(inbox: Arc<Inbox>) -> Self {
        Self {
            samples: Vec::with_capacity(BATCH_SAMPLES),
            oldest_end_us: None,
            inbox,
        }
    }

    /// Buffers a sample just measured, handing the buffer over when it is
    /// full or old.
    ///
    /// A sample is recorded as its request ends, so its own end
    /// (`start_us + latency_us`) is the time now: the age check needs no
    /// clock read, which would cost more than all the rest of this call.
    pub fn record(&mut self, sample: Sample) {
        let end_us = sample.start_us.saturating_add(sample.latency_us);
        let oldest = *self.oldest_end_us.get_or_insert(end_us);
        self.samples.push(sample);
        if self.samples.len() >= BATCH_SAMPLES || end_us.saturating_sub(oldest) >= BATCH_AGE_US {
            self.flush();
        }
    }

    /// Hands over the buffer if its oldest sample ended the batch age
    /// (200 ms) or more before `now_us` (µs from the run's start). Called
    /// as a request goes out: samples must not wait in a user's buffer for
    /// as long as that request takes, which may be its whole timeout,
    /// while their seconds close and the live view and abort watches go
    /// without them.
    pub fn flush_if_older(&mut self, now_us: u64) {
        if self
            .oldest_end_us
            .is_some_and(|oldest| now_us.saturating_sub(oldest) >= BATCH_AGE_US)
        {
            self.flush();
        }
    }

    /// Samples buffered and not yet handed over.
    #[cfg(test)]
    pub(super) fn buffered(&self) -> usize {
        self.samples.len()
    }

    /// Hands over everything buffered: called before a user waits (for an
    /// arrival, its think time, its pace, its stage) and as it stops, so
    /// that an idle user holds back nothing it measured.
    pub fn flush(&mut self) {
        if self.samples.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.samples);
        self.samples = self.inbox.hand_over(batch);
        self.oldest_end_us = None;
    }
}
