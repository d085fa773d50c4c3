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
//! that includes that user's *generation*, a random value in Redis that
//! every write replaces (never a counter, which would repeat after Redis
//! restarts empty); replacing it orphans every cached page at once, and the
//! orphans expire by TTL. Each instance also keeps a local write counter
//! per user in the L4 key, so its own writes are visible at once even while
//! Redis is down. Other keys (servers, metric series, config) are deleted
//! by name, and each has a version counter (`{key}:v`) that the delete
//! moves: a fill that loaded before the write is written only if the
//! version it read is still current, so it cannot put back what the write
//! deleted. L4 keys carry a local version per key for the same reason.
//!
//! **Two instances, one Redis.** Each write is published on a channel; the
//! other instances drop the named L4 entries or their cached generation of
//! that user. When the subscription reconnects, an instance drops all of L4,
//! since it may have missed messages.
//!
//! **Redis is never a 5xx.** A failed Redis command is counted in
//! `redis_errors_total`, the request is served from L4 and the database,
//! and Redis is left alone for a second before it is tried again; the
//! connection manager reconnects by itself. Invalidations that could not
//! reach Redis (generation changes and deletes alike) are kept and
//! replayed, by a background task and by the next request that wants
//! Redis; until they are, L3 is not read, so nothing cached before a write
//! is served after it. Meanwhile list pages are keyed by the outage, so a
//! page cached in one outage is never read in the next.

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

    /// `metric_type` is `all-types` for a series of every type: a name no
    /// metric type can have (they are `[a-z0-9_]`), so a type named `all`
    /// has a series of its own.
    pub fn metrics(server_id: i64, metric_type: Option<&str>) -> String {
        format!("metrics:{server_id}:{}", metric_type.unwrap_or("all-types"))
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
/// Local write counters kept (one per user who wrote recently).
const LOCAL_GENERATIONS: u64 = 100_000;
/// Bytes L4 may hold in all. Every entry weighs at least its share of this
/// (`L4_BYTES / l4_capacity`), so small entries still stop at the entry
/// count; large ones count by their size.
pub const L4_BYTES: u64 = 100 * 1024 * 1024;
/// Largest response kept in L4; a larger one would evict a hundred others.
pub const L4_ENTRY_MAX_BYTES: usize = 1024 * 1024;
/// How often the background replay looks for invalidations that have not
/// reached Redis yet.
const REPLAY_EVERY: Duration = Duration::from_millis(200);
/// Life of a key's version counter (`{key}:v`) after its last write: longer
/// than any versioned entry lives (5 min), so a fill that read the version
/// before the write always sees it changed.
const VERSION_TTL: Duration = Duration::from_secs(10 * 60);
/// Version counters for L4 keys; keys share a counter by hash.
const STRIPES: usize = 1024;

/// Writes `ARGV[1]` to `KEYS[1]` for `ARGV[3]` ms, but only if the key's
/// version counter `KEYS[2]` still reads `ARGV[2]` (absent reads `0`): a
/// fill that loaded before a write finished must not overwrite the write's
/// delete with what it loaded.
const FILL_IF_VERSION: &str = r"
local version = redis.call('GET', KEYS[2]) or '0'
if version == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
";

/// The response cache shared by all handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct Cache(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    l4: moka::future::Cache<String, Bytes>,
    /// Part of every L4 key: bumped when the subscription (re)connects, so
    /// that fills in flight while messages were lost land under keys no
    /// one reads.
    l4_epoch: AtomicU64,
    /// Per-key version counters, part of every L4 key: an invalidation
    /// bumps the key's counter, so a fill racing it lands under the old
    /// key, which no later read uses.
    versions: Stripes,
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
    fill_if_version: redis::Script,
    /// Milliseconds since `epoch` before which Redis is not tried.
    skip_until_ms: AtomicU64,
    epoch: Instant,
    /// Times Redis went from usable to unusable: names the outage in the
    /// list keys used meanwhile, so pages cached in one outage are never
    /// read in the next.
    outages: AtomicU64,
    /// Invalidations that did not reach Redis yet. While there are any,
    /// L3 is not read at all: it may hold what they would have removed.
    pending: Mutex<Pending>,
    /// Whether a task is replaying `pending`, so requests that find
    /// invalidations pending start one replay, not one each.
    replaying: AtomicBool,
}

/// Invalidations waiting for Redis.
#[derive(Debug, Default, Clone)]
struct Pending {
    /// Users whose list generation must move.
    bumps: HashSet<i64>,
    /// Keys to delete (and whose version must move).
    deletes: HashSet<String>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.bumps.is_empty() && self.deletes.is_empty()
    }
}

/// A user's list generation, as it goes into the list keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generation {
    /// As Redis holds it (0 before the first write): a random value that
    /// each write replaces, so it never repeats, even after Redis restarts
    /// empty.
    Shared(u64),
    /// Redis is unusable: keyed by the outage, and never read from L3.
    Outage(u64),
}

/// Version counters shared by hash: an `AtomicU64` per stripe.
#[derive(Debug)]
struct Stripes(Box<[AtomicU64]>);

impl Stripes {
    fn new() -> Self {
        Self((0..STRIPES).map(|_| AtomicU64::new(0)).collect())
    }

    fn of(&self, key: &str) -> &AtomicU64 {
        // FNV-1a: stable, fast, and spreads short similar keys.
        let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        &self.0[(hash % STRIPES as u64) as usize]
    }

    fn get(&self, key: &str) -> u64 {
        self.of(key).load(Ordering::Acquire)
    }

    /// Moves `key`'s version on; returns the one it had.
    fn bump(&self, key: &str) -> u64 {
        self.of(key).fetch_add(1, Ordering::AcqRel)
    }
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

/// Where a cached response lives in L3, and how it is kept coherent.
#[derive(Debug, Clone, Copy)]
enum L3Key<'a> {
    /// Deleted by name on a write; fills are conditional on the key's
    /// version counter.
    Versioned(&'a str),
    /// Orphaned by a generation in its name; fills are plain writes.
    Generational(&'a str),
}

/// The version-counter key of a versioned L3 key.
fn version_key(key: &str) -> String {
    format!("{key}:v")
}

/// The token whose stripe guards a user's shared-generation fills.
fn lists_token(user_id: i64) -> String {
    format!("lists:{user_id}")
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
                    fill_if_version: redis::Script::new(FILL_IF_VERSION),
                    skip_until_ms: AtomicU64::new(0),
                    epoch: Instant::now(),
                    outages: AtomicU64::new(0),
                    pending: Mutex::new(Pending::default()),
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
            l4_epoch: AtomicU64::new(0),
            versions: Stripes::new(),
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

    /// The L4 key of a versioned entry: its name, the epoch and its version.
    fn l4_key(&self, key: &str) -> String {
        let epoch = self.0.l4_epoch.load(Ordering::Acquire);
        format!("{key}#{epoch}.{}", self.0.versions.get(key))
    }

    /// The cached bytes under `key`, else those `load` produces, which are
    /// then stored in L3 for `ttl` and in L4. Concurrent misses share one
    /// `load`. [`Self::invalidate_keys`] removes the entry.
    pub async fn get_or_load<F, Fut>(&self, key: &str, ttl: Duration, load: F) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes>>,
    {
        let l4_key = self.l4_key(key);
        self.through_layers(&l4_key, L3Key::Versioned(key), ttl, load)
            .await
    }

    async fn through_layers<F, Fut>(
        &self,
        l4_key: &str,
        l3_key: L3Key<'_>,
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
            let bytes = match l3_key {
                L3Key::Generational(key) => {
                    if let Some(bytes) = self.l3_get(key).await {
                        telemetry.cache_hit(Layer::L3);
                        return Ok(bytes);
                    }
                    self.count_l3_miss();
                    let bytes = load().await?;
                    self.l3_set(key, &bytes, ttl).await;
                    bytes
                }
                L3Key::Versioned(key) => match self.l3_get_versioned(key).await {
                    Some((Some(bytes), _)) => {
                        telemetry.cache_hit(Layer::L3);
                        return Ok(bytes);
                    }
                    Some((None, version)) => {
                        self.count_l3_miss();
                        let bytes = load().await?;
                        self.l3_fill(key, &bytes, ttl, &version).await;
                        bytes
                    }
                    None => {
                        self.count_l3_miss();
                        load().await?
                    }
                },
            };
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

    fn count_l3_miss(&self) {
        if self.has_redis() {
            self.0.telemetry.cache_miss(Layer::L3);
        }
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
        let generation = self.shared_generation(user_id).await;
        let l3_key = keys::list(user_id, page, &filters_hash(filter, per_page, generation));
        let local = self.0.local_generation.get(&user_id).unwrap_or(0);
        let epoch = self.0.l4_epoch.load(Ordering::Acquire);
        let l4_key = format!("{l3_key}:{local}#{epoch}");
        let l3 = match generation {
            Generation::Shared(_) => L3Key::Generational(&l3_key),
            // Not even tried: an outage's pages are this instance's alone.
            Generation::Outage(_) => return self.l4_only(&l4_key, load).await,
        };
        self.through_layers(&l4_key, l3, keys::LIST_TTL, load).await
    }

    /// Through L4 alone, for what must not reach L3.
    async fn l4_only<F, Fut>(&self, l4_key: &str, load: F) -> Result<Bytes>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Bytes>>,
    {
        if let Some(bytes) = self.0.l4.get(l4_key).await {
            self.0.telemetry.cache_hit(Layer::L4);
            return Ok(bytes);
        }
        self.0.telemetry.cache_miss(Layer::L4);
        self.count_l3_miss();
        self.0
            .l4
            .try_get_with_by_ref(l4_key, load())
            .await
            .map_err(Error::from_shared)
    }

    /// Makes every cached list page of `user_id` unreachable, here and in
    /// every instance sharing the Redis. If Redis cannot take the bump now,
    /// it is replayed when Redis answers again.
    pub async fn invalidate_lists(&self, user_id: i64) {
        // Pending before the local keys move: a read that already uses the
        // new keys must not take L3's old page for them before the bump
        // reaches Redis.
        if let Some(redis) = &self.0.redis {
            redis.pending().bumps.insert(user_id);
        }
        let next = self.0.local_generation.get(&user_id).unwrap_or(0) + 1;
        self.0.local_generation.insert(user_id, next);
        self.0.versions.bump(&lists_token(user_id));
        self.0.shared_generation.invalidate(&user_id);
        if let Some(redis) = &self.0.redis {
            self.flush_pending(redis).await;
        }
    }

    /// Drops `keys` from both layers, here and in every instance sharing
    /// the Redis. If Redis cannot take the deletes now, they are replayed
    /// when Redis answers again, and L3 is not read until then.
    pub async fn invalidate_keys(&self, keys: &[String]) {
        // Pending before the versions move, as in `invalidate_lists`.
        if let Some(redis) = &self.0.redis {
            redis.pending().deletes.extend(keys.iter().cloned());
        }
        for key in keys {
            self.invalidate_local(key).await;
        }
        if let Some(redis) = &self.0.redis {
            self.flush_pending(redis).await;
        }
    }

    async fn invalidate_local(&self, key: &str) {
        let epoch = self.0.l4_epoch.load(Ordering::Acquire);
        let old = self.0.versions.bump(key);
        self.0.l4.invalidate(&format!("{key}#{epoch}.{old}")).await;
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
            .arg(ttl_ms(ttl))
            .query_async(&mut redis.conn.clone())
            .await;
        self.check(redis, result);
    }

    /// A versioned entry and its version counter, in one round trip;
    /// `None` when Redis is unusable.
    async fn l3_get_versioned(&self, key: &str) -> Option<(Option<Bytes>, String)> {
        let redis = self.usable_redis()?;
        let result: redis::RedisResult<(Option<Vec<u8>>, Option<String>)> = redis::cmd("MGET")
            .arg(redis.key(key))
            .arg(redis.key(&version_key(key)))
            .query_async(&mut redis.conn.clone())
            .await;
        let (bytes, version) = self.check(redis, result)?;
        Some((
            bytes.map(Bytes::from),
            version.unwrap_or_else(|| "0".into()),
        ))
    }

    /// Fills a versioned entry unless it was invalidated since `version`
    /// was read.
    async fn l3_fill(&self, key: &str, bytes: &[u8], ttl: Duration, version: &str) {
        let Some(redis) = self.usable_redis() else {
            return;
        };
        let result: redis::RedisResult<i64> = redis
            .fill_if_version
            .key(redis.key(key))
            .key(redis.key(&version_key(key)))
            .arg(bytes)
            .arg(version)
            .arg(ttl_ms(ttl))
            .invoke_async(&mut redis.conn.clone())
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
    /// from Redis; while Redis is unusable, the outage's own generation.
    /// Without Redis, always the same (the local write counter keeps the
    /// one instance coherent).
    async fn shared_generation(&self, user_id: i64) -> Generation {
        let Some(redis) = &self.0.redis else {
            return Generation::Shared(0);
        };
        if let Some(generation) = self.0.shared_generation.get(&user_id) {
            return Generation::Shared(generation);
        }
        let outage = || Generation::Outage(redis.outages.load(Ordering::Acquire));
        let Some(redis) = self.usable_redis() else {
            return outage();
        };
        // A bump seen (by message) while the read is in flight moves this
        // version; the value read may then be the old one, so it is used
        // for this request but not remembered.
        let token = lists_token(user_id);
        let before = self.0.versions.get(&token);
        let result: redis::RedisResult<Option<u64>> = redis::cmd("GET")
            .arg(redis.key(&keys::generation(user_id)))
            .query_async(&mut redis.conn.clone())
            .await;
        match self.check(redis, result) {
            Some(generation) => {
                let generation = generation.unwrap_or(0);
                if self.0.versions.get(&token) == before {
                    self.0.shared_generation.insert(user_id, generation);
                }
                Generation::Shared(generation)
            }
            None => outage(),
        }
    }

    /// Redis, unless it failed within the last [`REDIS_BACKOFF`] or has
    /// invalidations it has not taken yet (whose replay this starts).
    fn usable_redis(&self) -> Option<&Redis> {
        let redis = self.0.redis.as_ref()?;
        if redis.backing_off() {
            return None;
        }
        if !redis.pending().is_empty() {
            self.spawn_replay(redis);
            return None;
        }
        Some(redis)
    }

    fn spawn_replay(&self, redis: &Redis) {
        if redis.replaying.swap(true, Ordering::AcqRel) {
            return;
        }
        let cache = self.clone();
        tokio::spawn(async move {
            if let Some(redis) = &cache.0.redis {
                cache.flush_pending(redis).await;
                redis.replaying.store(false, Ordering::Release);
            }
        });
    }

    /// Sends every pending invalidation to Redis and the other instances:
    /// a new random generation for each bumped user, and for each key a
    /// delete and a new version.
    async fn flush_pending(&self, redis: &Redis) {
        if redis.backing_off() {
            return;
        }
        let pending = redis.pending().clone();
        if pending.is_empty() {
            return;
        }
        let mut pipe = redis::pipe();
        for user in &pending.bumps {
            pipe.set(redis.key(&keys::generation(*user)), fastrand::u64(1..))
                .ignore();
            pipe.publish(&redis.channel, Invalidation::Lists(*user).encode())
                .ignore();
        }
        for key in &pending.deletes {
            let version = redis.key(&version_key(key));
            pipe.del(redis.key(key)).ignore();
            pipe.incr(&version, 1).ignore();
            pipe.pexpire(&version, ttl_ms(VERSION_TTL) as i64).ignore();
            pipe.publish(&redis.channel, Invalidation::Key(key.clone()).encode())
                .ignore();
        }
        let result: redis::RedisResult<()> = pipe.query_async(&mut redis.conn.clone()).await;
        if self.check(redis, result).is_some() {
            let mut left = redis.pending();
            for user in &pending.bumps {
                left.bumps.remove(user);
                self.0.shared_generation.invalidate(user);
            }
            for key in &pending.deletes {
                left.deletes.remove(key);
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
                if !redis.backing_off() {
                    redis.outages.fetch_add(1, Ordering::AcqRel);
                }
                let until = redis.elapsed_ms() + REDIS_BACKOFF.as_millis() as u64;
                redis.skip_until_ms.store(until, Ordering::Relaxed);
                None
            }
        }
    }

    /// Replays invalidations that did not reach Redis, every
    /// 200 ms (`REPLAY_EVERY`), until the returned task is aborted: without it a
    /// replay would wait for the next request that wants Redis.
    pub fn spawn_replayer(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.0.redis.as_ref()?;
        let cache = self.clone();
        Some(tokio::spawn(async move {
            let mut tick = tokio::time::interval(REPLAY_EVERY);
            loop {
                tick.tick().await;
                if let Some(redis) = &cache.0.redis
                    && !redis.pending().is_empty()
                {
                    cache.flush_pending(redis).await;
                }
            }
        }))
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
                            cache.forget_all();
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

    /// Drops everything local, and orphans what fills in flight will write.
    fn forget_all(&self) {
        self.0.l4_epoch.fetch_add(1, Ordering::AcqRel);
        self.0.l4.invalidate_all();
        self.0.shared_generation.invalidate_all();
    }

    async fn apply(&self, invalidation: Option<Invalidation>) {
        match invalidation {
            Some(Invalidation::Lists(user)) => {
                self.0.versions.bump(&lists_token(user));
                self.0.shared_generation.invalidate(&user);
            }
            Some(Invalidation::Key(key)) => self.invalidate_local(&key).await,
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

    fn backing_off(&self) -> bool {
        self.elapsed_ms() < self.skip_until_ms.load(Ordering::Relaxed)
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().expect("pending invalidations lock")
    }
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
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
pub fn filters_hash(filter: &ServerFilter, per_page: u32, generation: Generation) -> String {
    let generation = match generation {
        Generation::Shared(g) => g.to_string(),
        Generation::Outage(n) => format!("outage {n}"),
    };
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
        let zero = Generation::Shared(0);
        let hashes = [
            filters_hash(&base, 100, zero),
            filters_hash(&base, 100, Generation::Shared(1)),
            filters_hash(&base, 100, Generation::Outage(0)),
            filters_hash(&base, 100, Generation::Outage(1)),
            filters_hash(&base, 50, zero),
            filters_hash(&running, 100, zero),
        ];
        let distinct: HashSet<_> = hashes.iter().collect();
        assert_eq!(distinct.len(), hashes.len());
        assert_eq!(hashes[0], filters_hash(&base, 100, zero), "stable");
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
            assert_eq!(cache.0.l4.contains_key(&cache.l4_key(key)), kept, "{key}");
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
