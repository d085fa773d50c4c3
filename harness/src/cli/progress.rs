//! What a run shows while it runs: a live line on a terminal (elapsed and
//! ETA, users, requests per second, p95, errors), plain periodic lines when
//! stderr is not a terminal (CI logs).

use std::{
    io::IsTerminal,
    time::{Duration, Instant},
};

use indicatif::{ProgressBar, ProgressStyle};
use reports::units::latency_us;

use crate::run::{Observer, recorder::Recent};

/// Plain lines are this far apart when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// Shows progress once a second until dropped.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    planned: Duration,
    last_plain: Instant,
    last_requests: u64,
}

impl Progress {
    /// A view of a run that lasts `planned` (its timeline's total).
    pub fn new(planned: Duration) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(planned.as_secs().max(1));
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] ETA {eta} {msg}")
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar
        });
        Self {
            bar,
            planned,
            last_plain: Instant::now(),
            last_requests: 0,
        }
    }
}

impl Observer for Progress {
    /// Updates the view; the run calls this about once a second.
    fn second(&mut self, elapsed: Duration, users: u32, recent: &Recent) {
        let rps = recent.requests.saturating_sub(self.last_requests);
        self.last_requests = recent.requests;
        let message = format!(
            "users {users:>5}  rps {rps:>7}  p95 {:>9}  errors {}",
            latency_us(recent.p95_us as f64),
            recent.errors
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(elapsed.as_secs().min(self.planned.as_secs()));
                bar.set_message(message);
            }
            None if self.last_plain.elapsed() >= PLAIN_EVERY => {
                self.last_plain = Instant::now();
                eprintln!(
                    "[{:>6}s / {}s] {message}",
                    elapsed.as_secs(),
                    self.planned.as_secs()
                );
            }
            None => {}
        }
    }

    fn finish(self: Box<Self>) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
