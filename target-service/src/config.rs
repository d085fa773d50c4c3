//! Every knob of the service, as command-line flags that are also
//! environment variables. `loadgate serve` flattens the same [`Config`], so
//! the two binaries can never disagree about a flag.

use std::{net::SocketAddr, time::Duration};

use clap::Args;

/// Longest TTL the in-process (L4) cache may use: architecture §1 caps it at 60 s.
pub const L4_TTL_MAX: Duration = Duration::from_secs(60);

/// Verified API keys remembered in-process, in their own bounded cache
/// (`AppState::keys`) so that many keys do not thrash the 500-entry
/// response cache. Fixed rather than flags; they live here, beside the other
/// cache limits, so that the state that builds the cache need not import the
/// HTTP layer's authentication.
pub const KEY_CACHE_CAPACITY: u64 = 100_000;
/// How long an in-process key verification is trusted before the key is
/// looked up again (in Redis `session:{key_hash}`, then the database).
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(60);
/// How long a key that failed its lookup is refused without another one,
/// so that a client repeating a bad key costs one lookup per TTL. Short,
/// because a key created meanwhile is refused until it expires.
pub const UNKNOWN_KEY_TTL: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "TARGET_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Database to use: a `postgres://` URL, or a `sqlite:` URL. Without it
    /// the service runs on a temporary SQLite file (WAL mode) that is deleted
    /// at exit.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,

    /// Redis for the shared (L3) cache and cross-instance invalidation, e.g.
    /// `redis://127.0.0.1:6379`. Without it only the in-process (L4) cache is used.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// Prefix for every Redis key and channel, so several services or test
    /// runs can share one Redis without seeing each other's entries.
    #[arg(long, env = "CACHE_PREFIX", default_value = "")]
    pub cache_prefix: String,

    /// Entries kept by the in-process LRU (L4) cache (architecture §1: 500).
    #[arg(long, env = "L4_CAPACITY", default_value_t = 500)]
    pub l4_capacity: u64,

    /// Time to live of an in-process (L4) entry; at most 60s.
    #[arg(long, env = "L4_TTL", default_value = "60s", value_parser = parse_l4_ttl)]
    pub l4_ttl: Duration,

    /// PostgreSQL connections kept open (architecture §2: pool size 20).
    #[arg(long, env = "DB_MIN_CONNECTIONS", default_value_t = 20)]
    pub db_min_connections: u32,

    /// PostgreSQL connections at most (architecture §2: 20 + 40 overflow).
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 60)]
    pub db_max_connections: u32,

    /// Longest a request waits for a database connection before it is
    /// answered 503 with Retry-After, so that a database that is away
    /// fails requests fast instead of hanging them. Never more than the
    /// statement timeout.
    #[arg(long, env = "DB_ACQUIRE_TIMEOUT", default_value = "2s", value_parser = humantime::parse_duration)]
    pub db_acquire_timeout: Duration,

    /// Seed this many demo users (none by default); user i gets the key
    /// `demo-key-<i>`. Users 1-10 are standard tier, 11-20 premium, the
    /// rest api tier. Off unless asked for, because the demo keys are
    /// public: seeding a real database would open it to anyone.
    #[arg(long, env = "SEED_USERS", default_value_t = 0)]
    pub seed_users: u32,

    /// Demo servers created for each seeded user.
    #[arg(long, env = "SERVERS_PER_USER", default_value_t = 10)]
    pub servers_per_user: u32,

    /// Metric points created for each seeded server.
    #[arg(long, env = "METRIC_POINTS", default_value_t = 20)]
    pub metric_points: u32,

    /// Longest a request may take before it is answered 503 with
    /// Retry-After. PostgreSQL's statement timeout is set below it, so the
    /// query of a request that timed out does not run on.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = humantime::parse_duration)]
    pub request_timeout: Duration,

    /// Longest a client may take to send a request's headers before its
    /// connection is closed (slowloris).
    #[arg(long, env = "HEADER_READ_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_read_timeout: Duration,

    /// Connections served at once; more wait in the listen backlog until
    /// one closes, so a flood of idle connections cannot exhaust memory
    /// or file descriptors.
    #[arg(long, env = "CONNECTION_LIMIT", default_value_t = 4096, value_parser = clap::value_parser!(u32).range(1..))]
    pub connection_limit: u32,

    /// Requests per minute from one IP address that fail authentication
    /// before that address gets 429s. Requests with a valid key are never
    /// counted, so many clients behind one address (or a load test on
    /// loopback) are limited only by their keys' tiers.
    #[arg(long, env = "AUTH_FAILURES_PER_MINUTE", default_value_t = 600, value_parser = clap::value_parser!(u32).range(1..))]
    pub auth_failures_per_minute: u32,

    /// Workers that run queued actions in this instance (architecture §3:
    /// 10). 0 runs none: the instance only enqueues.
    #[arg(long, env = "TASK_WORKERS", default_value_t = 10)]
    pub task_workers: u32,

    /// Retries of a failed action before it goes to the dead-letter queue
    /// (architecture §3: at most 5).
    #[arg(long, env = "TASK_MAX_RETRIES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=20))]
    pub task_max_retries: u32,

    /// Wait before the first retry; each later one waits twice as long as
    /// the one before, with jitter: between half and all of it.
    #[arg(long, env = "TASK_BACKOFF_BASE", default_value = "500ms", value_parser = humantime::parse_duration)]
    pub task_backoff_base: Duration,

    /// Longest wait between two attempts.
    #[arg(long, env = "TASK_BACKOFF_CAP", default_value = "30s", value_parser = humantime::parse_duration)]
    pub task_backoff_cap: Duration,

    /// With Redis: how long an attempt may go unreported before another
    /// instance takes it over and counts it as failed (its worker crashed).
    /// An attempt is cut off after half of this, so two never overlap.
    #[arg(long, env = "TASK_LEASE", default_value = "30s", value_parser = parse_lease)]
    pub task_lease: Duration,

    /// Debug: fail this fraction of action attempts (0 to 1), to exercise
    /// retries and the dead-letter queue. Off by default.
    #[arg(long, env = "DEBUG_ACTION_FAILURE_RATE", default_value_t = 0.0, value_parser = parse_fraction)]
    pub debug_action_failure_rate: f64,

    /// Debug: make every action attempt take this long (e.g. `2s`), to
    /// catch one mid-run. Off by default.
    #[arg(long, env = "DEBUG_ACTION_DELAY", value_parser = humantime::parse_duration)]
    pub debug_action_delay: Option<Duration>,

    /// Debug: delay every `GET /api/v1/servers` by this much (e.g. `50ms`), to
    /// show that a performance gate catches a slowdown. Off by default.
    #[arg(long, env = "DEBUG_LIST_DELAY", value_parser = humantime::parse_duration)]
    pub debug_list_delay: Option<Duration>,

    /// On SIGTERM or Ctrl-C, how long in-flight requests may take to drain.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "10s", value_parser = humantime::parse_duration)]
    pub shutdown_timeout: Duration,
}

/// Demo users the shipped scenarios rotate through (`demo-key-1..1000`).
pub const DEMO_USERS: u32 = 1000;

impl Config {
    /// The embedded default with the [`DEMO_USERS`] demo users seeded: what
    /// `loadgate run` starts in-process when no target is given, so that
    /// the shipped scenarios' keys work. Seeding is asked for here, by
    /// name, because the keys are public.
    pub fn demo() -> Self {
        Self {
            seed_users: DEMO_USERS,
            ..Self::default()
        }
    }
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("{text:?} is not a number from 0 to 1")),
    }
}

fn parse_lease(text: &str) -> Result<Duration, String> {
    let lease = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if lease < Duration::from_millis(200) {
        return Err("must be at least 200ms".to_owned());
    }
    Ok(lease)
}

fn parse_l4_ttl(text: &str) -> Result<Duration, String> {
    let ttl = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if ttl.is_zero() || ttl > L4_TTL_MAX {
        return Err(format!("must be between 1ms and {}s", L4_TTL_MAX.as_secs()));
    }
    Ok(ttl)
}

impl Default for Config {
    /// The embedded default: SQLite, no Redis, no seeded users, on
    /// `127.0.0.1:0` so that in-process use never fights over a port.
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: None,
            redis_url: None,
            cache_prefix: String::new(),
            l4_capacity: 500,
            l4_ttl: L4_TTL_MAX,
            db_min_connections: 20,
            db_max_connections: 60,
            db_acquire_timeout: Duration::from_secs(2),
            seed_users: 0,
            servers_per_user: 10,
            metric_points: 20,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            connection_limit: 4096,
            auth_failures_per_minute: 600,
            task_workers: 10,
            task_max_retries: 5,
            task_backoff_base: Duration::from_millis(500),
            task_backoff_cap: Duration::from_secs(30),
            task_lease: Duration::from_secs(30),
            debug_action_failure_rate: 0.0,
            debug_action_delay: None,
            debug_list_delay: None,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l4_ttl_is_capped_at_sixty_seconds() {
        assert_eq!(parse_l4_ttl("60s").unwrap(), L4_TTL_MAX);
        assert_eq!(parse_l4_ttl("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_l4_ttl("61s").is_err());
        assert!(parse_l4_ttl("0s").is_err());
    }

    #[test]
    fn debug_failure_rates_are_fractions() {
        assert_eq!(parse_fraction("0.25").unwrap(), 0.25);
        assert_eq!(parse_fraction("1").unwrap(), 1.0);
        for bad in ["-0.1", "1.5", "NaN", "half"] {
            assert!(parse_fraction(bad).is_err(), "{bad}");
        }
        assert!(parse_lease("100ms").is_err());
        assert_eq!(parse_lease("1s").unwrap(), Duration::from_secs(1));
    }
}
