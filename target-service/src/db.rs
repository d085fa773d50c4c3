//! Connection pools for PostgreSQL and the embedded SQLite default.
//!
//! Both backends go through sqlx's `Any` driver so that every query in
//! `store` is written once and behaves the same on both; the schema
//! differs only in its migrations (`migrations/postgres`, `migrations/sqlite`).
//! Times are stored as epoch milliseconds to keep the SQL portable.

use std::{sync::Arc, time::Duration};

use anyhow::{Context, bail};
use sqlx::{
    AnyPool, Executor,
    any::{AnyPoolOptions, install_default_drivers},
    migrate::Migrator,
};

use crate::config::Config;

static PG_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/postgres");
static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Architecture §2: connections are recycled every hour, so a long-lived
/// pool follows failovers and does not pin server-side memory forever.
const MAX_LIFETIME: Duration = Duration::from_secs(3600);
/// Architecture §2: no statement may run longer than 30 s.
const STATEMENT_TIMEOUT_MAX: Duration = Duration::from_secs(30);
/// Architecture §2: prepared statements for the 100 most common queries.
const STATEMENT_CACHE: usize = 100;
/// Overflow connections beyond the kept-open ones close after this much
/// idleness, so the pool shrinks back to its base size after a peak.
const IDLE_TIMEOUT: Duration = Duration::from_secs(600);
/// SQLite readers: WAL lets readers run beside the writer; more readers than
/// cores only adds contention.
const SQLITE_READERS: u32 = 4;
/// How long a SQLite connection waits on a lock before `SQLITE_BUSY`.
const SQLITE_BUSY_TIMEOUT_MS: u32 = 5000;

/// PostgreSQL's statement timeout for a given request timeout: §2's 30 s,
/// but always below the request timeout, so that a request answered 503 on
/// its timeout does not leave its query running on the server.
pub fn statement_timeout(request_timeout: Duration) -> Duration {
    STATEMENT_TIMEOUT_MAX
        .min(request_timeout * 9 / 10)
        // 0 would turn PostgreSQL's timeout off.
        .max(Duration::from_millis(1))
}

/// How long a request waits for a connection: the configured wait, but
/// never past the statement timeout, so a request that cannot get a
/// connection is answered 503 before its own timeout.
fn acquire_timeout(config: &Config) -> Duration {
    config
        .db_acquire_timeout
        .min(statement_timeout(config.request_timeout))
}

/// Which database the service runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// The service's database: a read pool and a write pool.
///
/// On PostgreSQL both are the same pool. On SQLite, writes go through a
/// pool of exactly one connection, because concurrent SQLite writers fail
/// with `SQLITE_BUSY` instead of queueing; reads use several connections,
/// which WAL mode lets run while the writer works.
#[derive(Debug, Clone)]
pub struct Db {
    pub read: AnyPool,
    pub write: AnyPool,
    pub backend: Backend,
    /// Keeps the embedded database's directory alive as long as the pools.
    _embedded: Option<Arc<tempfile::TempDir>>,
}

/// Connections in use and idle, and the most there may be, over both pools.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}

impl Db {
    /// Connects as `config` says and runs the migrations.
    pub async fn connect(config: &Config) -> anyhow::Result<Self> {
        install_default_drivers();
        let db = match config.database_url.as_deref() {
            None => Self::embedded(config).await?,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Self::postgres(url, config).await?
            }
            Some(url) if url.starts_with("sqlite:") => Self::sqlite(url, config, None).await?,
            Some(url) => bail!("unsupported database URL {url:?}: use postgres:// or sqlite:"),
        };
        let migrator = match db.backend {
            Backend::Postgres => &PG_MIGRATIONS,
            Backend::Sqlite => &SQLITE_MIGRATIONS,
        };
        migrator
            .run(&db.write)
            .await
            .context("running database migrations")?;
        Ok(db)
    }

    async fn postgres(url: &str, config: &Config) -> anyhow::Result<Self> {
        let separator = if url.contains('?') { '&' } else { '?' };
        let statement_timeout = statement_timeout(config.request_timeout).as_millis();
        let url = format!(
            "{url}{separator}statement-cache-capacity={STATEMENT_CACHE}\
             &options[statement_timeout]={statement_timeout}ms"
        );
        let pool = AnyPoolOptions::new()
            // Architecture §2: 20 connections kept open, 40 more on demand.
            .min_connections(config.db_min_connections.min(config.db_max_connections))
            .max_connections(config.db_max_connections)
            .max_lifetime(MAX_LIFETIME)
            .idle_timeout(IDLE_TIMEOUT)
            .acquire_timeout(acquire_timeout(config))
            .connect(&url)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Self {
            read: pool.clone(),
            write: pool,
            backend: Backend::Postgres,
            _embedded: None,
        })
    }

    async fn embedded(config: &Config) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("target-service-")
            .tempdir()
            .context("creating a directory for the embedded database")?;
        let url = format!("sqlite://{}", dir.path().join("service.db").display());
        Self::sqlite(&url, config, Some(Arc::new(dir))).await
    }

    async fn sqlite(
        url: &str,
        config: &Config,
        embedded: Option<Arc<tempfile::TempDir>>,
    ) -> anyhow::Result<Self> {
        let acquire_timeout = acquire_timeout(config);
        let separator = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{separator}mode=rwc");
        let options = || {
            AnyPoolOptions::new()
                .acquire_timeout(acquire_timeout)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute(&*format!(
                            "PRAGMA journal_mode = WAL; \
                             PRAGMA synchronous = NORMAL; \
                             PRAGMA foreign_keys = ON; \
                             PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};"
                        ))
                        .await?;
                        Ok(())
                    })
                })
        };
        // The writer connects first, so the file exists and is in WAL mode
        // before any reader opens it.
        let write = options()
            .max_connections(1)
            .connect(&url)
            .await
            .context("opening the SQLite database")?;
        let read = options()
            .max_connections(SQLITE_READERS)
            .connect(&url)
            .await
            .context("opening the SQLite database")?;
        Ok(Self {
            read,
            write,
            backend: Backend::Sqlite,
            _embedded: embedded,
        })
    }

    /// Pool occupancy, for `/metrics`.
    pub fn pool_stats(&self) -> PoolStats {
        let pools: &[&AnyPool] = match self.backend {
            Backend::Postgres => &[&self.read],
            Backend::Sqlite => &[&self.read, &self.write],
        };
        pools.iter().fold(
            PoolStats {
                in_use: 0,
                idle: 0,
                max: 0,
            },
            |acc, pool| {
                let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
                PoolStats {
                    in_use: acc.in_use + pool.size().saturating_sub(idle),
                    idle: acc.idle + idle,
                    max: acc.max + pool.options().get_max_connections(),
                }
            },
        )
    }

    /// Answers whether the database takes a query within `within`, for
    /// `/ready`: a probe that hangs on a database that is away would be
    /// killed by its own timeout and say nothing.
    pub async fn ping(&self, within: Duration) -> bool {
        let query = sqlx::query("SELECT 1").execute(&self.read);
        matches!(tokio::time::timeout(within, query).await, Ok(Ok(_)))
    }

    /// Closes both pools, waiting for checked-out connections to return.
    pub async fn close(&self) {
        self.read.close().await;
        self.write.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_timeout_is_below_the_request_timeout() {
        assert_eq!(
            statement_timeout(Duration::from_secs(30)),
            Duration::from_secs(27)
        );
        assert_eq!(
            statement_timeout(Duration::from_secs(120)),
            STATEMENT_TIMEOUT_MAX
        );
        assert_eq!(
            statement_timeout(Duration::from_millis(100)),
            Duration::from_millis(90)
        );
        assert_eq!(statement_timeout(Duration::ZERO), Duration::from_millis(1));
    }

    #[test]
    fn connections_are_waited_for_no_longer_than_a_statement_runs() {
        let config = Config {
            request_timeout: Duration::from_millis(500),
            ..Config::default()
        };
        assert_eq!(acquire_timeout(&config), Duration::from_millis(450));
        assert_eq!(acquire_timeout(&Config::default()), Duration::from_secs(2));
    }
}
