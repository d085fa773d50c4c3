//! The generator watching itself: the loadgate process's CPU use, as a
//! fraction of all the machine's cores, and its busiest thread's, as a
//! fraction of one core, between two readings.
//!
//! A saturated generator sends late and reads late, so its latencies
//! measure itself as well as the target; the recorder keeps both beside the
//! per-second series, and the results judge saturation by the busiest
//! thread (a fixed share of one core), not by the process's share of all
//! cores: one hot thread of 16 cores is 6% of them, and saturated all the
//! same.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// CPU use over the interval since the previous reading.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuReading {
    /// The whole process, as a fraction of all cores.
    pub process: Option<f64>,
    /// The busiest thread of the process, as a fraction of one core.
    pub busiest_thread: Option<f64>,
}

/// Reads the process's and its threads' CPU time and turns it into use
/// per interval.
#[derive(Debug)]
pub struct CpuMeter {
    cores: f64,
    last: Option<(Instant, Duration)>,
    threads: Option<ThreadTimes>,
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
            threads: ThreadTimes::read(),
        }
    }

    /// CPU use since the last reading (or since [`CpuMeter::new`]); each
    /// figure `None` where the platform cannot say.
    pub fn read(&mut self) -> CpuReading {
        let now = Instant::now();
        let process = process_cpu_time().and_then(|cpu| {
            let (then, cpu_then) = self.last.replace((now, cpu))?;
            let wall = now.saturating_duration_since(then).as_secs_f64();
            (wall > 0.0).then(|| {
                let used = cpu.saturating_sub(cpu_then).as_secs_f64();
                (used / wall / self.cores).clamp(0.0, 1.0)
            })
        });
        let busiest_thread = ThreadTimes::read().and_then(|threads| {
            let last = self.threads.replace(threads)?;
            self.threads.as_ref()?.busiest_since(&last)
        });
        CpuReading {
            process,
            busiest_thread,
        }
    }
}

/// Every thread's CPU time (user plus system, in clock ticks) at one moment.
#[derive(Debug)]
struct ThreadTimes {
    at: Instant,
    /// By thread id.
    ticks: HashMap<u32, u64>,
    /// Seconds per clock tick.
    tick_secs: f64,
}

impl ThreadTimes {
    /// The threads of this process now, from `/proc/self/task/*/stat`;
    /// `None` where there is no such file system.
    #[cfg(target_os = "linux")]
    fn read() -> Option<Self> {
        let hz = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .filter(|&hz| hz > 0)?;
        let at = Instant::now();
        let mut ticks = HashMap::new();
        for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
            let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
                continue;
            };
            // A thread that ended since the listing has no file: skip it.
            if let Some(used) = std::fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| cpu_ticks(&stat))
            {
                ticks.insert(tid, used);
            }
        }
        Some(Self {
            at,
            ticks,
            tick_secs: 1.0 / hz as f64,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn read() -> Option<Self> {
        None
    }

    /// The busiest thread's CPU between `earlier` and `self`, as a
    /// fraction of one core. A thread not seen before started since: all
    /// its time is in the interval.
    fn busiest_since(&self, earlier: &ThreadTimes) -> Option<f64> {
        let wall = self.at.saturating_duration_since(earlier.at).as_secs_f64();
        if wall <= 0.0 {
            return None;
        }
        let busiest = self
            .ticks
            .iter()
            .map(|(tid, &now)| now.saturating_sub(earlier.ticks.get(tid).copied().unwrap_or(0)))
            .max()
            .unwrap_or(0);
        // Ticks are coarse (10 ms at 100 Hz): a reading may round past a
        // whole core.
        Some((busiest as f64 * self.tick_secs / wall).clamp(0.0, 1.0))
    }
}

/// `utime + stime` of a `/proc/…/stat` line. The command name, in
/// parentheses, may itself hold spaces and parentheses, so fields are
/// counted from the last `)`: the state is field 3, utime 14, stime 15.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
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

    /// Spins this thread for `wall`; the CPU time it got.
    fn spin(wall: Duration) -> Duration {
        let spun_from = thread_cpu_time();
        let spin_until = Instant::now() + wall;
        let mut x = 0u64;
        while Instant::now() < spin_until {
            x = x.wrapping_mul(31).wrapping_add(1);
        }
        std::hint::black_box(x);
        thread_cpu_time() - spun_from
    }

    #[test]
    fn the_process_reading_covers_a_busy_thread() {
        let wall = Instant::now();
        let mut meter = CpuMeter::new();
        let spun = spin(Duration::from_millis(200));
        let busy = meter.read().process.expect("unix has a process CPU clock");
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

    #[cfg(target_os = "linux")]
    #[test]
    fn the_busiest_thread_is_read_as_a_share_of_one_core() {
        let wall = Instant::now();
        let mut meter = CpuMeter::new();
        let spun = spin(Duration::from_millis(500));
        let busiest = meter
            .read()
            .busiest_thread
            .expect("linux has /proc/self/task");
        let wall = wall.elapsed().as_secs_f64();
        // The busiest thread used at least what this one did, less a
        // clock tick or two of rounding at each end.
        let ours = spun.as_secs_f64() / wall;
        assert!(
            busiest >= ours - 0.1,
            "busiest {busiest}, this thread {ours} over {wall} s"
        );
        assert!(busiest <= 1.0);
    }

    #[test]
    fn a_stat_line_gives_user_plus_system_ticks_whatever_the_name() {
        let stat = "4242 (tokio (runtime) 1) R 1 2 3 4 5 6 7 8 9 10 120 30 0 0 20 0";
        assert_eq!(cpu_ticks(stat), Some(150));
        assert_eq!(cpu_ticks("4242 (short"), None);
    }
}
