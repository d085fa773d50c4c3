//! INTERFACE ONLY (being implemented in a worktree).
use std::time::{Duration, Instant};

use reports::results::ServerStats;

/// What the client counted over the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCounts {
    pub requests: u64,
    pub responses: u64,
}

#[derive(Debug)]
pub struct Scraper {
    url: String,
}

impl Scraper {
    pub async fn start(url: String, _epoch: Instant, _every: Duration) -> Self {
        Self { url }
    }

    pub async fn finish(self, client: ClientCounts) -> ServerStats {
        ServerStats {
            url: self.url,
            scrapes: 0,
            failed_scrapes: 0,
            requests: None,
            client_requests: client.requests,
            client_responses: client.responses,
            count_mismatch: None,
            latency: None,
            cache_layers: Vec::new(),
            cache_hit_ratio: None,
            db_pool: None,
            series: Vec::new(),
        }
    }
}
