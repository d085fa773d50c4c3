//! Starting and stopping a service instance, in-process or as the binary.

use std::{net::SocketAddr, time::Duration};

use anyhow::Context;
use tokio::{sync::oneshot, task::JoinHandle};

use crate::{
    accept::{self, Limits},
    api::app,
    config::Config,
    db::Db,
    queue::workers::Workers,
    seed::{SeedSize, seed},
    state::AppState,
};

/// How often buffered histogram samples are folded into their buckets.
const TELEMETRY_UPKEEP: Duration = Duration::from_secs(1);
/// How often the buckets of addresses that stopped failing authentication
/// are forgotten.
const AUTH_FAILURES_UPKEEP: Duration = Duration::from_secs(60);

/// Connects the database, runs migrations, seeds demo data and builds the state.
pub async fn build_state(config: Config) -> anyhow::Result<AppState> {
    let db = Db::connect(&config).await?;
    seed(
        &db,
        SeedSize {
            users: config.seed_users,
            servers_per_user: config.servers_per_user,
            metric_points: config.metric_points,
        },
    )
    .await
    .context("seeding demo data")?;
    AppState::new(config, db)
}

/// A service serving on a socket. Dropping it stops it abruptly; prefer
/// [`RunningService::shutdown`], which drains in-flight requests.
#[derive(Debug)]
pub struct RunningService {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    background: Vec<JoinHandle<()>>,
    workers: Option<Workers>,
}

/// Builds the state from `config` and serves it on `config.bind` (use port
/// 0 for any free port; [`RunningService::addr`] tells which).
pub async fn start(config: Config) -> anyhow::Result<RunningService> {
    let bind = config.bind;
    let state = build_state(config).await?;
    start_with_state(bind, state).await
}

/// Serves an already built state on `bind`.
pub async fn start_with_state(bind: SocketAddr, state: AppState) -> anyhow::Result<RunningService> {
    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .with_context(|| format!("binding {bind}"))?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let router = app(state.clone());
    let limits = Limits {
        connections: state.config.connection_limit,
        header_read_timeout: state.config.header_read_timeout,
    };
    let server = tokio::spawn(accept::serve(listener, router, limits, async {
        let _ = stopped.await;
    }));
    let telemetry = state.telemetry.clone();
    let auth_failures = state.auth_failures.clone();
    let mut background = vec![
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TELEMETRY_UPKEEP);
            loop {
                tick.tick().await;
                telemetry.upkeep();
            }
        }),
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(AUTH_FAILURES_UPKEEP);
            loop {
                tick.tick().await;
                auth_failures.shrink();
            }
        }),
    ];
    background.extend(state.cache.spawn_subscriber());
    background.extend(state.cache.spawn_replayer());
    // A Redis that is away now is the same as one that goes away later:
    // the workers make the streams when it is back.
    if let Err(e) = state.queue.prepare().await {
        tracing::warn!(error = %e, "the task queue is not ready yet");
    }
    let instance = format!("{:016x}", fastrand::u64(..));
    let workers = Some(Workers::spawn(&state, &instance));
    Ok(RunningService {
        addr,
        state,
        stop: Some(stop),
        server: Some(server),
        background,
        workers,
    })
}

impl RunningService {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Stops accepting connections, lets in-flight requests and task
    /// attempts finish for at most the configured shutdown timeout each,
    /// then closes the pools.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let drain = self.state.config.shutdown_timeout;
        if let Some(mut server) = self.server.take() {
            match tokio::time::timeout(drain, &mut server).await {
                Ok(joined) => joined.context("server task")?,
                Err(_) => {
                    server.abort();
                    tracing::warn!(
                        ?drain,
                        "requests still running after the drain timeout were cut"
                    );
                }
            }
        }
        if let Some(workers) = self.workers.take() {
            workers.shutdown(drain).await;
        }
        for task in self.background.drain(..) {
            task.abort();
        }
        self.state.db.close().await;
        Ok(())
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        for task in self.background.drain(..) {
            task.abort();
        }
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
