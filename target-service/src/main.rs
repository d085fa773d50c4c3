//! `target-service`: the reference target as a standalone server.

use clap::Parser;
use target_service::Config;
use tracing_subscriber::EnvFilter;

/// The loadgate reference target: the MCP Server Manager API with its
/// caches (in-process LRU + Redis), pooled database (SQLite or PostgreSQL),
/// per-key rate limits, compression and Prometheus metrics.
///
/// Examples:
///   target-service                                  # SQLite temp file, no Redis, port 8080
///   target-service --database-url postgres://postgres@127.0.0.1/test \
///                  --redis-url redis://127.0.0.1:6379
///
/// Seeded user i has the API key demo-key-<i> (users 1-10 standard tier,
/// 11-20 premium, the rest api tier): curl -H 'Authorization: Bearer demo-key-21'
/// http://127.0.0.1:8080/api/v1/servers
#[derive(Debug, Parser)]
#[command(version, verbatim_doc_comment)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let cli = Cli::parse();
    let service = target_service::start(cli.config).await?;
    tracing::info!(url = %service.base_url(), "serving; Ctrl-C or SIGTERM drains and stops");
    target_service::serve::shutdown_signal().await;
    tracing::info!("draining in-flight requests");
    service.shutdown().await
}
