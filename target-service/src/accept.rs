//! The accept loop: connections in, requests to the router, with the
//! limits `axum::serve` lacks.
//!
//! * At most [`Config::connection_limit`] connections are served at once.
//!   At the limit the loop stops accepting, so further connections wait in
//!   the kernel's listen backlog instead of each costing a task, buffers
//!   and a file descriptor.
//! * A client has [`Config::header_read_timeout`] to send a request's
//!   headers, on a new connection and between keep-alive requests alike,
//!   so connections held open by trickled headers (slowloris) are closed.
//! * Each request carries its peer address as `ConnectInfo<SocketAddr>`,
//!   for the per-address limit on failed authentication.
//! * On shutdown the loop stops accepting and each connection finishes its
//!   request in flight, then closes.
//!
//! [`Config::connection_limit`]: crate::config::Config::connection_limit
//! [`Config::header_read_timeout`]: crate::config::Config::header_read_timeout

use std::{sync::Arc, time::Duration};

use axum::{Router, body::Body, extract::ConnectInfo};
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    server::graceful::GracefulShutdown,
    service::TowerToHyperService,
};
use tokio::{net::TcpListener, sync::Semaphore};
use tower::ServiceExt;

/// How long the loop rests after a failed accept (out of file descriptors,
/// say) before trying again, so the failure does not spin a core.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// The limits the loop enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub connections: u32,
    pub header_read_timeout: Duration,
}

/// Serves `router` on `listener` until `stop` resolves, then waits for the
/// open connections to finish their requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.connections as usize));
    let graceful = GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(ACCEPT_RETRY).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Responses are written whole; Nagle would only delay the last
        // segment of each behind the client's delayed ACK.
        let _ = stream.set_nodelay(true);
        let service = router
            .clone()
            .map_request(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                request.map(Body::new)
            });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, %peer, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    graceful.shutdown().await;
}
