//! The generator watching itself: the loadgate process's CPU use, as a
//! fraction of all the machine's cores, between two readings.
//!
//! A saturated generator sends late and reads late, so its latencies
//! measure itself as well as the target; the recorder keeps this beside
//! the per-second series and the results say when it ran hot.

use std::time::{Duration, Instant};

/// Reads the process's CPU time and turns it into use per interval.
#[derive(Debug)]
pub struct CpuMeter {
    cores: f64,
    last: Option<(Instant, Duration)>,
}

impl Default for CpuMeter {
    fn default() -> Self {
        Self::new()
    }
}

impl CpuMeter {
    pub fn new() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            cores: cores as f64,
            last: process_cpu_time().map(|cpu| (Instant::now(), cpu)),
        }
    }

    /// CPU use since the last reading (or since [`CpuMeter::new`]), as a
    /// fraction of all cores; `None` where the platform cannot say.
    pub fn read(&mut self) -> Option<f64> {
        let now = Instant::now();
        let cpu = process_cpu_time()?;
        let (then, cpu_then) = self.last.replace((now, cpu))?;
        let wall = now.saturating_duration_since(then).as_secs_f64();
        (wall > 0.0).then(|| {
            let used = cpu.saturating_sub(cpu_then).as_secs_f64();
            (used / wall / self.cores).clamp(0.0, 1.0)
        })
    }
}

/// User plus system CPU time of every thread of this process.
#[cfg(unix)]
fn process_cpu_time() -> Option<Duration> {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .ok()
        .map(Duration::from)
}

#[cfg(not(unix))]
fn process_cpu_time() -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread_cpu_time() -> Duration {
        nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID)
            .map(Duration::from)
            .expect("a thread CPU clock")
    }

    #[test]
    fn the_process_reading_covers_a_busy_thread() {
        let wall = Instant::now();
        let mut meter = CpuMeter::new();
        let spun_from = thread_cpu_time();
        let spin_until = Instant::now() + Duration::from_millis(200);
        let mut x = 0u64;
        while Instant::now() < spin_until {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        std::hint::black_box(x);
        let spun = thread_cpu_time() - spun_from;
        let busy = meter.read().expect("unix has a process CPU clock");
        let wall = wall.elapsed().as_secs_f64();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        // However loaded the machine, the process used at least the CPU
        // this thread did while the meter watched (other threads add to
        // it, never take from it).
        assert!(spun > Duration::ZERO);
        assert!(
            busy * wall * cores >= 0.95 * spun.as_secs_f64(),
            "busy {busy} over {wall} s on {cores} cores; the thread spun {spun:?}"
        );
        assert!(busy <= 1.0);
    }
}
