//! The two server-side cache layers of architecture §1 and how they stay
//! coherent.
//!
//! * **L4** is an in-process LRU (`moka`) of serialized responses: 500
//!   entries, TTL at most 60 s. Concurrent misses for one key are coalesced
//!   by moka, so a cold key is fetched once however many requests want it.
//!   Entries are weighed in bytes too: at most [`L4_BYTES`] in all, and an
//!   entry over [`L4_ENTRY_MAX_BYTES`] is served but not kept, so 500 pages
//!   of 1000 servers with 16 KiB configs cannot take gigabytes.
//! * **L3** is Redis, when configured, with the key patterns and TTLs of §1
//!   (see [`keys`]), plus one for single servers, which the metrics routes
//!   also use to check ownership without a query. Every Redis key and channel carries a configurable prefix.
//!
//! **Invalidation without scans.** A user's list pages are keyed by a hash
//! that includes that user's *generation*, a counter in Redis bumped by every
//! write; bumping it orphans every cached page at once, and the orphans
//! expire by TTL. Each instance also keeps a local write counter per user in
//! the L4 key, so its own writes are visible at once even while Redis is
//! down. Other keys (metric series, config) are deleted by name.
//!
//! **Two instances, one Redis.** Each write is published on a channel; the
//! other instances drop the named L4 entries or their cached generation of
//! that user. When the subscription reconnects, an instance drops all of L4,
//! since it may have missed messages.
//!
//! **Redis is never a 5xx.** A failed Redis command is counted in
//! `redis_errors_total`, the request is served from L4 and the database,
//! and Redis is left alone for a second before it is tried again; the
//! connection manager reconnects by itself. Generation bumps that could not
//! reach Redis are replayed once it answers again, so pages cached before
//! the outage cannot be served after it.

use std::{
    collections::HashSet,
    fmt::Write as _,
    future::Future,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use futures::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use sha2::{Digest, Sha256};

use crate::{
    config::Config,
    error::{Error, Result},
    store::ServerFilter,
    telemetry::{Layer, Telemetry},
};

/// Redis keys and their TTLs, architecture §1.
pub mod keys {
    use std::time::Duration;

    /// `api:servers:list:{user_id}:{page}:{filters_hash}`.
    pub const LIST_TTL: Duration = Duration::from_secs(5 * 60);
    /// `api:servers:item:{user_id}:{server_id}`: one server, scoped by its
    /// owner so that another user's id can never hit it. Not in §1's list;
    /// it follows the list pattern and TTL.
    pub const SERVER_TTL: Duration = Duration::from_secs(5 * 60);
    /// `session:{session_id}`; the session id is the hash of the API key.
    pub const SESSION_TTL: Duration = Duration::from_secs(24 * 60 * 60);
    /// `metrics:{server_id}:{metric_type}`.
    pub const METRICS_TTL: Duration = Duration::from_secs(60);
    /// `config:{config_key}`.
    pub const CONFIG_TTL: Duration = Duration::from_secs(60 * 60);

    pub fn list(user_id: i64, page: u32, filters_hash: &str) -> String {
        format!("api:servers:list:{user_id}:{page}:{filters_hash}")
    }

    pub fn server(user_id: i64, server_id: i64) -> String {
        format!("api:servers:item:{user_id}:{server_id}")
    }

    pub fn session(key_hash: &str) -> String {
        format!("session:{key_hash}")
    }

    /// `metric_type` is `all` for a series of every type.
    pub fn metrics(server_id: i64, metric_type: Option<&str>) -> String {
        format!("metrics:{server_id}:{}", metric_type.unwrap_or("all"))
    }

    pub fn config(key: &str) -> String {
        format!("config:{key}")
    }

    /// The generation counter of a user's list pages.
    pub fn generation(user_id: i64) -> String {
        format!("generation:{user_id}")
    }
}

/// How long Redis is left alone after a failed command.
const REDIS_BACKOFF: Duration = Duration::from_secs(1);
/// Bound on any one Redis command or connection attempt: a slow Redis must
/// not make a cached endpoint slower than the database would be.
const REDIS_TIMEOUT: Duration = Duration::from_millis(250);
/// Bytes L4 may hold in all. Every entry weighs at least its share of this
/// (`L4_BYTES / l4_capacity`), so small entries still stop at the entry
/// count; large ones count by their size.
pub const L4_BYTES: u64 = 100 * 1024 * 1024;
/// Largest response kept in L4; a larger one would evict a hundred others.
pub const L4_ENTRY_MAX_BYTES: usize = 1024 * 1024;
/// Local write counters kept (one per user who wrote recently).
const LOCAL_GENERATIONS: u64 = 100_000;

/// The response cache shared by all handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct Cache(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    l4: moka::future::Cache<String, Bytes>,
    /// This instance's write counter per user (part of the L4 key only).
    local_generation: moka::sync::Cache<i64, u64>,
    /// The shared generation per user as last read from Redis.
    shared_generation: moka::sync::Cache<i64, u64>,
    redis: Option<Redis>,
    telemetry: Telemetry,
}

#[derive(Debug)]
struct Redis {
    conn: ConnectionManager,
    client: redis::Client,
    prefix: String,
    channel: String,
    /// Milliseconds since `epoch` before which Redis is not tried.
    skip_until_ms: AtomicU64,
    epoch: Instant,
    /// Users whose generation bump did not reach Redis yet.
    pending_bumps: Mutex<HashSet<i64>>,
    /// Whether a task is replaying `pending_bumps`, so requests that find
    /// bumps pending start one replay, not one each.
    replaying: AtomicBool,
}

/// What one instance tells the others about a write.
#[derive(Debug, PartialEq, Eq)]
enum Invalidation {
    /// A user's list pages changed.
    Lists(i64),
    /// This exact key changed.
    Key(String),
}

impl Invalidation {
    fn encode(&self) -> String {
        match self {
            Self::Lists(user) => format!("lists {user}"),
            Self::Key(key) => format!("key {key}"),
        }
    }

    fn decode(text: &str) -> Option<Self> {
        let (kind, rest) = text.split_once(' ')?;
        match kind {
            "lists" => rest.parse().ok().map(Self::Lists),
            "key" => Some(Self::Key(rest.to_owned())),
            _ => None,
        }
    }
}

impl Cache {
    /// Builds the cache; connects to Redis lazily, so a Redis that is down
    /// at start-up is the same as one that goes down later.
    pub fn new(config: &Config, telemetry: Telemetry) -> anyhow::Result<Self> {
        let redis = match &config.redis_url {
            None => None,
            Some(url) => {
                let client = redis::Client::open(url.as_str())?;
                let manager_config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_TIMEOUT))
                    .set_response_timeout(Some(REDIS_TIMEOUT))
                    .set_number_of_retries(1)
                    .set_max_delay(REDIS_BACKOFF);
                let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager_config)?;
                Some(Redis {
                    conn,
                    client,
                    channel: format!("{}invalidations", config.cache_prefix),
                    prefix: config.cache_prefix.clone(),
                    skip_until_ms: AtomicU64::new(0),
                    epoch: Instant::now(),
                    pending_bumps: Mutex::new(HashSet::new()),
                    replaying: AtomicBool::new(false),
                })
            }
        };
        Ok(Self(Arc::new(Inner {
            l4: moka::future::Cache::builder()
                .max_capacity(L4_BYTES)
                .weigher(l4_weigher(config.l4_capacity))
                .time_to_live(config.l4_ttl)
                .build(),
            local_generation: moka::sync::Cache::new(LOCAL_GENERATIONS),
            shared_generation: moka::sync::Cache::builder()
                .max_capacity(LOCAL_GENERATIONS)
                .time_to_live(config.l4_ttl)
                .build(),
            redis,
            telemetry,
        })))
    }

    /// Whether an L3 (Redis) layer is configured.
    pub fn has_redis(&self) -> bool {
        self.0.redis.is_some()
    }

    /// The cached bytes under `key`, else those `load` produces, which are
    /// then stored in L3 for `ttl` and in L4. Concurrent misses share one `load`.
    pub async fn get_or_load<F, Fut>(&self, key: &str, ttl: Duration, load: F) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes>>,
    {
        self.get_or_load_split(key, key, ttl, load).await
    }

    /// As [`Self::get_or_load`], with an L4 key that may extend the L3 key.
    async fn get_or_load_split<F, Fut>(
        &self,
        l4_key: &str,
        l3_key: &str,
        ttl: Duration,
        load: F,
    ) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes>>,
    {
        let telemetry = &self.0.telemetry;
        if let Some(bytes) = self.0.l4.get(l4_key).await {
            telemetry.cache_hit(Layer::L4);
            return Ok(bytes);
        }
        telemetry.cache_miss(Layer::L4);
        let init = async {
            if let Some(bytes) = self.l3_get(l3_key).await {
                telemetry.cache_hit(Layer::L3);
                return Ok(bytes);
            }
            if self.has_redis() {
                telemetry.cache_miss(Layer::L3);
            }
            let bytes = load().await?;
            self.l3_set(l3_key, &bytes, ttl).await;
            Ok(bytes)
        };
        let bytes = self
            .0
            .l4
            .try_get_with_by_ref(l4_key, init)
            .await
            .map_err(Error::from_shared)?;
        if bytes.len() > L4_ENTRY_MAX_BYTES {
            // moka stores what a coalesced load returns; too big to keep.
            self.0.l4.invalidate(l4_key).await;
        }
        Ok(bytes)
    }

    /// One page of a user's server list, through both layers.
    pub async fn server_page<F, Fut>(
        &self,
        user_id: i64,
        page: u32,
        per_page: u32,
        filter: &ServerFilter,
        load: F,
    ) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes>>,
    {
        let shared = self.shared_generation(user_id).await;
        let l3_key = keys::list(user_id, page, &filters_hash(filter, per_page, shared));
        let local = self.0.local_generation.get(&user_id).unwrap_or(0);
        let l4_key = format!("{l3_key}:{local}");
        self.get_or_load_split(&l4_key, &l3_key, keys::LIST_TTL, load)
            .await
    }

    /// Makes every cached list page of `user_id` unreachable, here and in
    /// every instance sharing the Redis.
    pub async fn invalidate_lists(&self, user_id: i64) {
        let next = self.0.local_generation.get(&user_id).unwrap_or(0) + 1;
        self.0.local_generation.insert(user_id, next);
        self.0.shared_generation.invalidate(&user_id);
        if let Some(redis) = &self.0.redis {
            redis
                .pending_bumps
                .lock()
                .expect("pending bumps lock")
                .insert(user_id);
            self.flush_bumps(redis).await;
        }
    }

    /// Drops `keys` from both layers, here and in every instance sharing the Redis.
    pub async fn invalidate_keys(&self, keys: &[String]) {
        for key in keys {
            self.0.l4.invalidate(key).await;
        }
        let Some(redis) = self.usable_redis() else {
            return;
        };
        let mut pipe = redis::pipe();
        for key in keys {
            pipe.del(redis.key(key)).ignore();
            pipe.publish(&redis.channel, Invalidation::Key(key.clone()).encode())
                .ignore();
        }
        let result: redis::RedisResult<()> = pipe.query_async(&mut redis.conn.clone()).await;
        self.check(redis, result);
    }

    /// Reads one L3 entry; `None` on a miss and when Redis is unusable.
    /// Not counted in the response-cache metrics (sessions use it too).
    pub async fn l3_get(&self, key: &str) -> Option<Bytes> {
        let redis = self.usable_redis()?;
        let result: redis::RedisResult<Option<Vec<u8>>> = redis::cmd("GET")
            .arg(redis.key(key))
            .query_async(&mut redis.conn.clone())
            .await;
        self.check(redis, result).flatten().map(Bytes::from)
    }

    /// Writes one L3 entry with its TTL; failures are counted and ignored.
    pub async fn l3_set(&self, key: &str, bytes: &[u8], ttl: Duration) {
        let Some(redis) = self.usable_redis() else {
            return;
        };
        let result: redis::RedisResult<()> = redis::cmd("SET")
            .arg(redis.key(key))
            .arg(bytes)
            .arg("PX")
            .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
            .query_async(&mut redis.conn.clone())
            .await;
        self.check(redis, result);
    }

    /// Whether Redis answers a PING, for `/ready`; `None` without Redis.
    pub async fn redis_ready(&self) -> Option<bool> {
        let redis = self.0.redis.as_ref()?;
        let result: redis::RedisResult<String> = redis::cmd("PING")
            .query_async(&mut redis.conn.clone())
            .await;
        Some(self.check(redis, result).is_some())
    }

    /// The shared generation of a user's lists: from the local copy, else
    /// from Redis, else 0 (Redis down: L3 is skipped anyway, and the local
    /// write counter keeps L4 coherent).
    async fn shared_generation(&self, user_id: i64) -> u64 {
        if let Some(generation) = self.0.shared_generation.get(&user_id) {
            return generation;
        }
        let Some(redis) = self.usable_redis() else {
            return 0;
        };
        let result: redis::RedisResult<Option<u64>> = redis::cmd("GET")
            .arg(redis.key(&keys::generation(user_id)))
            .query_async(&mut redis.conn.clone())
            .await;
        match self.check(redis, result) {
            Some(generation) => {
                let generation = generation.unwrap_or(0);
                self.0.shared_generation.insert(user_id, generation);
                generation
            }
            None => 0,
        }
    }

    /// Redis, unless it failed within the last [`REDIS_BACKOFF`] or has
    /// generation bumps it has not taken yet.
    fn usable_redis(&self) -> Option<&Redis> {
        let redis = self.0.redis.as_ref()?;
        if redis.elapsed_ms() < redis.skip_until_ms.load(Ordering::Relaxed) {
            return None;
        }
        if !redis
            .pending_bumps
            .lock()
            .expect("pending bumps lock")
            .is_empty()
        {
            // Until the replay has reached Redis, serve without L3.
            if !redis.replaying.swap(true, Ordering::AcqRel) {
                let cache = self.clone();
                tokio::spawn(async move {
                    if let Some(redis) = &cache.0.redis {
                        cache.flush_bumps(redis).await;
                        redis.replaying.store(false, Ordering::Release);
                    }
                });
            }
            return None;
        }
        Some(redis)
    }

    /// Bumps, in Redis, the generation of every user with a pending bump,
    /// and tells the other instances.
    async fn flush_bumps(&self, redis: &Redis) {
        if redis.elapsed_ms() < redis.skip_until_ms.load(Ordering::Relaxed) {
            return;
        }
        let users: Vec<i64> = redis
            .pending_bumps
            .lock()
            .expect("pending bumps lock")
            .iter()
            .copied()
            .collect();
        if users.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for user in &users {
            pipe.incr(redis.key(&keys::generation(*user)), 1).ignore();
            pipe.publish(&redis.channel, Invalidation::Lists(*user).encode())
                .ignore();
        }
        let result: redis::RedisResult<()> = pipe.query_async(&mut redis.conn.clone()).await;
        if self.check(redis, result).is_some() {
            let mut pending = redis.pending_bumps.lock().expect("pending bumps lock");
            for user in &users {
                pending.remove(user);
                self.0.shared_generation.invalidate(user);
            }
        }
    }

    /// Counts a Redis failure and backs off; passes a success through.
    fn check<T>(&self, redis: &Redis, result: redis::RedisResult<T>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                tracing::warn!(error = %e, "redis command failed; serving without it");
                self.0.telemetry.redis_error();
                let until = redis.elapsed_ms() + REDIS_BACKOFF.as_millis() as u64;
                redis.skip_until_ms.store(until, Ordering::Relaxed);
                None
            }
        }
    }

    /// Follows the invalidations other instances publish, until the
    /// returned task is aborted. Reconnects by itself; after every
    /// (re)subscription it drops all local entries, since messages sent
    /// while it was away are lost.
    pub fn spawn_subscriber(&self) -> Option<tokio::task::JoinHandle<()>> {
        let redis = self.0.redis.as_ref()?;
        let client = redis.client.clone();
        let channel = redis.channel.clone();
        let cache = self.clone();
        Some(tokio::spawn(async move {
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => {
                        if pubsub.subscribe(&channel).await.is_ok() {
                            cache.0.l4.invalidate_all();
                            cache.0.shared_generation.invalidate_all();
                            let mut messages = pubsub.on_message();
                            while let Some(message) = messages.next().await {
                                if let Ok(text) = message.get_payload::<String>() {
                                    cache.apply(Invalidation::decode(&text)).await;
                                }
                            }
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "invalidation subscriber cannot connect"),
                }
                tokio::time::sleep(REDIS_BACKOFF).await;
            }
        }))
    }

    async fn apply(&self, invalidation: Option<Invalidation>) {
        match invalidation {
            Some(Invalidation::Lists(user)) => self.0.shared_generation.invalidate(&user),
            Some(Invalidation::Key(key)) => self.0.l4.invalidate(&key).await,
            None => {}
        }
    }
}

impl Redis {
    fn key(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    fn elapsed_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }
}

/// L4's weight of an entry, in bytes: its size, but at least its share of
/// [`L4_BYTES`] among `entries`.
fn l4_weigher(entries: u64) -> impl Fn(&String, &Bytes) -> u32 + Send + Sync + 'static {
    let share = L4_BYTES / entries.max(1);
    move |key, value| {
        let size = (key.len() + value.len()) as u64;
        u32::try_from(size.max(share)).unwrap_or(u32::MAX)
    }
}

/// The `{filters_hash}` of a list key: a stable digest (the same in every
/// instance) of the filters, the page size and the user's generation.
pub fn filters_hash(filter: &ServerFilter, per_page: u32, generation: u64) -> String {
    let mut hasher = Sha256::new();
    let text = format!(
        "{}|{}|{}|{per_page}|{generation}",
        filter.status.map_or("", |s| s.as_str()),
        filter.transport.map_or("", |t| t.as_str()),
        filter.name_prefix.as_deref().unwrap_or(""),
    );
    hasher.update(text.as_bytes());
    let digest = hasher.finalize();
    let mut hex = String::with_capacity(16);
    for byte in &digest[..8] {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Status;

    #[test]
    fn invalidations_round_trip() {
        for message in [
            Invalidation::Lists(42),
            Invalidation::Key("metrics:7:cpu".into()),
        ] {
            assert_eq!(Invalidation::decode(&message.encode()), Some(message));
        }
        assert_eq!(Invalidation::decode("nonsense"), None);
    }

    #[test]
    fn the_filters_hash_separates_every_input() {
        let base = ServerFilter::default();
        let running = ServerFilter {
            status: Some(Status::Running),
            ..ServerFilter::default()
        };
        let hashes = [
            filters_hash(&base, 100, 0),
            filters_hash(&base, 100, 1),
            filters_hash(&base, 50, 0),
            filters_hash(&running, 100, 0),
        ];
        let distinct: HashSet<_> = hashes.iter().collect();
        assert_eq!(distinct.len(), hashes.len());
        assert_eq!(hashes[0], filters_hash(&base, 100, 0), "stable");
        assert_eq!(hashes[0].len(), 16);
    }

    #[tokio::test]
    async fn l4_keeps_its_entry_count_and_its_byte_budget() {
        async fn filled(n: usize, size: usize) -> Cache {
            let cache = Cache::new(&Config::default(), Telemetry::new()).unwrap();
            for i in 0..n {
                let bytes = Bytes::from(vec![b'x'; size]);
                cache
                    .get_or_load(&format!("k{i}"), Duration::from_secs(1), || async {
                        Ok(bytes)
                    })
                    .await
                    .unwrap();
            }
            cache.0.l4.run_pending_tasks().await;
            cache
        }
        let small = filled(600, 10).await;
        assert_eq!(small.0.l4.entry_count(), 500, "the entry count of §1");
        let large = filled(300, 900 * 1024).await;
        assert!(large.0.l4.weighted_size() <= L4_BYTES);
        assert!(
            large.0.l4.entry_count() <= L4_BYTES / (900 * 1024),
            "900 KiB entries count by their size: {}",
            large.0.l4.entry_count()
        );
    }

    #[tokio::test]
    async fn entries_over_a_megabyte_are_served_but_not_kept() {
        let cache = Cache::new(&Config::default(), Telemetry::new()).unwrap();
        let loads = Arc::new(AtomicU64::new(0));
        for (key, size, kept) in [
            ("small", 1000, true),
            ("big", L4_ENTRY_MAX_BYTES + 1, false),
        ] {
            for _ in 0..2 {
                let loads = loads.clone();
                let bytes = cache
                    .get_or_load(key, Duration::from_secs(1), || async move {
                        loads.fetch_add(1, Ordering::SeqCst);
                        Ok(Bytes::from(vec![b'x'; size]))
                    })
                    .await
                    .unwrap();
                assert_eq!(bytes.len(), size);
            }
            assert_eq!(cache.0.l4.contains_key(key), kept, "{key}");
        }
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1 + 2,
            "the big one loads each time"
        );
    }

    #[tokio::test]
    async fn concurrent_misses_load_once_and_writes_invalidate_lists() {
        let cache = Cache::new(&Config::default(), Telemetry::new()).unwrap();
        let loads = Arc::new(AtomicU64::new(0));
        let load = || {
            let loads = loads.clone();
            move || async move {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(Bytes::from_static(b"page"))
            }
        };
        let filter = ServerFilter::default();
        let pages = futures::future::join_all(
            (0..8).map(|_| cache.server_page(1, 1, 100, &filter, load())),
        )
        .await;
        assert!(pages.iter().all(|p| p.as_ref().unwrap() == "page"));
        assert_eq!(loads.load(Ordering::SeqCst), 1, "one load for 8 misses");

        cache.server_page(1, 1, 100, &filter, load()).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 1, "served from L4");
        cache.invalidate_lists(1).await;
        cache.server_page(1, 1, 100, &filter, load()).await.unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2, "a write orphans the page");
    }
}
