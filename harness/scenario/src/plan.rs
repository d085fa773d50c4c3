//! The validated, resolved load plan a run executes.
//!
//! A [`Plan`] is what a scenario file means once every check has passed:
//! durations parsed, weights normalised, templates compiled, captures bound
//! to slots, the user pool loaded, budgets resolved. Its fields are private
//! and it is only built by [`crate::resolve`] (and reshaped by the overrides
//! in [`crate::overrides`]), so a runner holding a `Plan` can rely on it:
//! there is at least one stage and one user, the weights sum to 1, every
//! budget names something that exists.
//!
//! ## Where captured values can be used
//! * a setup step: values captured by earlier setup steps;
//! * a `requests` mix entry: values captured in `setup` (the mix runs in
//!   random order, so it may not capture anything itself);
//! * a flow step: values captured in `setup` or by earlier steps of the same
//!   flow.
//!
//! ## What an iteration is
//! Each iteration a user picks one [`Work`] item: a single request from the
//! `requests` mix or a whole flow, in proportion to their weights, which are
//! normalised together across both lists.

use std::borrow::Cow;
use std::time::Duration;

use indexmap::IndexMap;

use crate::shard::Shard;
use crate::template::{CaptureSlot, Template};
use crate::timeline::Timeline;
use crate::yaml::Method;

/// A validated load plan; see the module docs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub(crate) source: String,
    /// The scenario file's text, as read.
    pub(crate) text: String,
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) target: Option<String>,
    pub(crate) stages: Vec<Stage>,
    pub(crate) think_time: ThinkTime,
    pub(crate) users: UserPool,
    pub(crate) tls: Tls,
    /// Whether each user keeps a cookie jar.
    pub(crate) cookies: bool,
    pub(crate) setup: Vec<Step>,
    pub(crate) work: Vec<Weighted>,
    pub(crate) captures: Vec<String>,
    pub(crate) budgets: Budgets,
    /// The arrival rates of an open-model plan; `None` for a closed model.
    pub(crate) open: Option<OpenModel>,
    /// A closed model's pace: each user starts an iteration this often.
    pub(crate) pace: Option<Duration>,
    /// The target's Prometheus endpoint, as written: a URL or a path.
    pub(crate) server_metrics: Option<String>,
    /// The longest the run may last (`--duration`): rounding the stages to
    /// the engine's tick never goes past it.
    pub(crate) max_total: Option<Duration>,
    /// Which share of a sharded run this is ([`Plan::sharded`]).
    pub(crate) shard: Shard,
    /// Where this shard's users start in the user pool.
    pub(crate) user_offset: u32,
}

/// An open (arrival-rate) model: requests arrive on a schedule, whatever
/// the target's speed, and at most `max_users` (the stages' users) are in
/// flight at once.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenModel {
    /// One per stage, same index: the rate moves linearly from `from` to
    /// `to` over the stage (equal on a hold).
    pub rates: Vec<RateSpan>,
}

/// Arrivals per second at a stage's start and end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateSpan {
    pub from_per_sec: f64,
    pub to_per_sec: f64,
}

/// One stage of a closed-model load.
#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub(crate) name: Option<String>,
    pub(crate) shape: StageShape,
    pub(crate) duration: Duration,
}

/// What a stage does to the number of users. A stage is a ramp or a hold,
/// never both: a hold has no user count of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StageShape {
    /// Move linearly from the previous stage's users to `to_users`.
    Ramp {
        /// Users at the end of the ramp.
        to_users: u32,
    },
    /// Jump to `to_users` at the stage's start, then keep them.
    Step {
        /// Users from the stage's start to its end.
        to_users: u32,
    },
    /// Keep the previous stage's users.
    Hold,
}

impl Stage {
    /// The stage's name, if it has one.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Ramp or hold.
    pub fn shape(&self) -> StageShape {
        self.shape
    }

    /// How long the stage lasts.
    pub fn duration(&self) -> Duration {
        self.duration
    }
}

/// The pause between a user's iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkTime {
    /// No pause.
    None,
    /// Always the same pause.
    Fixed(Duration),
    /// A pause drawn uniformly from `min..=max`.
    Uniform {
        /// Shortest pause.
        min: Duration,
        /// Longest pause.
        max: Duration,
    },
}

/// The keys users authenticate with; user `i` takes key `i mod len`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserPool {
    /// `demo-key-<from>` ..= `demo-key-<to>`, as the reference service seeds.
    DemoRange {
        /// First user number.
        from: u32,
        /// Last user number (inclusive).
        to: u32,
    },
    /// Keys read from a CSV file at plan time; never empty.
    Keys(Vec<String>),
}

impl UserPool {
    /// The default pool: the reference service's api-tier demo users.
    pub const DEFAULT: UserPool = UserPool::DemoRange { from: 21, to: 1000 };

    /// Number of keys (at least 1).
    pub fn len(&self) -> usize {
        match self {
            UserPool::DemoRange { from, to } => (to - from) as usize + 1,
            UserPool::Keys(keys) => keys.len(),
        }
    }

    /// Always false: a plan's pool has at least one key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key for user `user_index` of a run (wrapping around the pool).
    pub fn key(&self, user_index: usize) -> Cow<'_, str> {
        let i = user_index % self.len();
        match self {
            UserPool::DemoRange { from, .. } => {
                Cow::Owned(format!("demo-key-{}", *from as usize + i))
            }
            UserPool::Keys(keys) => Cow::Borrowed(&keys[i]),
        }
    }
}

/// TLS settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tls {
    /// Verify the target's certificate (on unless the scenario opts out).
    pub verify_certificates: bool,
}

/// One HTTP request, ready to render.
#[derive(Debug, Clone)]
pub struct Step {
    /// Name; metrics and budgets are keyed by it.
    pub name: String,
    /// HTTP method.
    pub method: Method,
    /// Path and query.
    pub path: Template,
    /// Header names and value templates, in file order.
    pub headers: Vec<(String, Template)>,
    /// JSON body template, if any.
    pub body: Option<Template>,
    /// Request timeout.
    pub timeout: Duration,
    /// How many redirects to follow, at most
    /// [`MAX_REDIRECTS`](crate::resolve::MAX_REDIRECTS); 0 follows none, and
    /// the redirect itself is the response.
    pub redirects: u8,
    /// What the response must satisfy.
    pub checks: Checks,
    /// Values to capture from the response.
    pub captures: Vec<Capture>,
}

/// Response checks; a failure counts as an error of kind `check`.
#[derive(Debug, Clone, PartialEq)]
pub struct Checks {
    /// Accepted status codes.
    pub status: StatusCheck,
    /// Checks on JSON values.
    pub json: Vec<JsonCheck>,
    /// Text the body must contain.
    pub body_contains: Vec<String>,
    /// Headers that must be present.
    pub headers_present: Vec<String>,
}

/// Which status codes pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusCheck {
    /// Any 2xx (the default).
    AnySuccess,
    /// One of these codes.
    OneOf(Vec<u16>),
}

impl StatusCheck {
    /// Whether `status` passes.
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusCheck::AnySuccess => (200..300).contains(&status),
            StatusCheck::OneOf(codes) => codes.contains(&status),
        }
    }
}

/// A check on the JSON value at `pointer`.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonCheck {
    /// JSON pointer (RFC 6901).
    pub pointer: String,
    /// What must hold there.
    pub expect: JsonExpectation,
}

/// What a JSON check expects.
#[derive(Debug, Clone, PartialEq)]
pub enum JsonExpectation {
    /// The value equals this.
    Equals(serde_json::Value),
    /// The value is present (`true`) or absent (`false`).
    Exists(bool),
}

/// Take a value of the response, from `source`, into a user's capture
/// `slot`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capture {
    /// Variable name, as placeholders write it.
    pub name: String,
    /// Slot in the user's capture table.
    pub slot: CaptureSlot,
    /// Where in the response the value is.
    pub source: CaptureSource,
}

/// Where a capture takes its value from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureSource {
    /// The JSON value at this pointer (RFC 6901, starting with `/`) in the
    /// response body: `capture: {id: /id}`.
    Json(String),
    /// The value of the response header of this name, lower-cased (header
    /// names are case-insensitive): `capture: {token: "header:X-Token"}`
    /// gives `Header("x-token")`. Format version 4.
    Header(String),
}

/// A named list of steps run in order in one iteration.
#[derive(Debug, Clone)]
pub struct Flow {
    /// Name, used in reports.
    pub name: String,
    /// The steps (at least one).
    pub steps: Vec<Step>,
}

/// What one iteration runs.
#[derive(Debug, Clone)]
pub enum Work {
    /// One request of the `requests` mix.
    Request(Step),
    /// A whole flow.
    Flow(Flow),
}

impl Work {
    /// The steps one iteration of this work runs, in order.
    pub fn steps(&self) -> &[Step] {
        match self {
            Work::Request(step) => std::slice::from_ref(step),
            Work::Flow(flow) => &flow.steps,
        }
    }

    /// The request's or flow's name.
    pub fn name(&self) -> &str {
        match self {
            Work::Request(step) => &step.name,
            Work::Flow(flow) => &flow.name,
        }
    }
}

/// A work item with its normalised share of iterations.
#[derive(Debug, Clone)]
pub struct Weighted {
    /// Share of iterations, in (0, 1]; all shares sum to 1.
    pub share: f64,
    /// What to run.
    pub work: Work,
}

/// Resolved budgets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budgets {
    /// Judge only samples that started in these stages (names that exist).
    pub during: Option<Vec<String>>,
    /// Whose latencies the latency budgets (and abort watches) judge.
    pub latency_of: LatencyOf,
    /// Budget over all requests.
    pub overall: Budget,
    /// Budgets by request or step name (names that exist).
    pub requests: IndexMap<String, Budget>,
    /// Budgets on the target's own metrics.
    pub server: ServerBudget,
}

/// Whose latencies the latency budgets judge. Error rates and rates count
/// every request either way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LatencyOf {
    /// Every request, failed or not, and every dropped arrival.
    #[default]
    All,
    /// Successful requests alone: fast failures cannot pull a percentile
    /// down.
    Ok,
}

/// Limits on the target's own metrics, as fractions in `0..=1`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerBudget {
    /// Least share of cache lookups some layer answered.
    pub min_cache_hit_ratio: Option<f64>,
    /// Largest mean share of the DB pool in use.
    pub max_db_pool_utilization: Option<f64>,
}

impl ServerBudget {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.min_cache_hit_ratio.is_some() || self.max_db_pool_utilization.is_some()
    }
}

/// When to stop a run whose budget keeps failing: its value over the last
/// `window` breached the limit at every check for `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbortWhen {
    /// How far back each check looks.
    pub window: Duration,
    /// How long the breach must last.
    pub after: Duration,
}

/// Limits for one set of samples; `None` means not judged.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Budget {
    /// Median latency limit, in microseconds.
    pub p50_us: Option<u64>,
    /// 95th percentile limit, in microseconds.
    pub p95_us: Option<u64>,
    /// 99th percentile limit, in microseconds.
    pub p99_us: Option<u64>,
    /// Largest share of failed requests, in `0..=1`.
    pub max_error_rate: Option<f64>,
    /// Least requests per second.
    pub min_rps: Option<f64>,
    /// Largest share of an open model's arrivals dropped, in `0..=1`; an
    /// open model's overall budget has one (1%) even when its file sets none.
    pub max_dropped_rate: Option<f64>,
    /// Stop the run early on a sustained breach of the latency or error
    /// limits above.
    pub abort: Option<AbortWhen>,
}

impl Plan {
    /// The file (or label) the plan was read from.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// The scenario file's text, as read: what the results keep, and
    /// what a merge of shards holds them to.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Scenario name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Scenario description (may be empty).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// Target from the file, if any; the CLI's `--target` wins over it.
    pub fn target(&self) -> Option<&str> {
        self.target.as_deref()
    }

    /// The stages, in order (at least one).
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// Think time between iterations.
    pub fn think_time(&self) -> ThinkTime {
        self.think_time
    }

    /// The user key pool.
    pub fn users(&self) -> &UserPool {
        &self.users
    }

    /// TLS settings.
    pub fn tls(&self) -> Tls {
        self.tls
    }

    /// Whether each user keeps a cookie jar (the default), sending back the
    /// cookies responses set; `cookies: false` turns it off.
    pub fn cookies(&self) -> bool {
        self.cookies
    }

    /// Steps each user runs once before its first iteration.
    pub fn setup(&self) -> &[Step] {
        &self.setup
    }

    /// The weighted work items (mix requests, then flows).
    pub fn work(&self) -> &[Weighted] {
        &self.work
    }

    /// Names of capture slots, indexed by [`CaptureSlot`]: a user's capture
    /// table has this many entries.
    pub fn capture_names(&self) -> &[String] {
        &self.captures
    }

    /// Resolved budgets.
    pub fn budgets(&self) -> &Budgets {
        &self.budgets
    }

    /// The work item for a uniform random draw `u` in `[0, 1)`.
    pub fn pick(&self, u: f64) -> &Work {
        &self.work[self.pick_index(u)].work
    }

    /// The index in [`Plan::work`] of the item for a uniform random draw
    /// `u` in `[0, 1)`: items are picked in proportion to their shares.
    pub fn pick_index(&self, u: f64) -> usize {
        let mut cumulative = 0.0;
        for (i, item) in self.work.iter().enumerate() {
            cumulative += item.share;
            if u < cumulative {
                return i;
            }
        }
        // Rounding can leave the shares a hair under 1.
        self.work.len() - 1
    }

    /// Every request and step name, setup first, without duplicates.
    pub fn request_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        let steps = self
            .setup
            .iter()
            .chain(self.work.iter().flat_map(|w| w.work.steps()));
        for step in steps {
            if !names.contains(&step.name.as_str()) {
                names.push(&step.name);
            }
        }
        names
    }

    /// The stages on the run's clock, rounded to the engine's `tick`; see
    /// [`Timeline`]. A run builds it once.
    pub fn timeline(&self, tick: Duration) -> Timeline {
        Timeline::new(self, tick)
    }

    /// Total planned time.
    pub fn total_duration(&self) -> Duration {
        self.stages.iter().map(|s| s.duration).sum()
    }

    /// The most users at any time.
    pub fn peak_users(&self) -> u32 {
        self.stages
            .iter()
            .filter_map(|stage| match stage.shape {
                StageShape::Ramp { to_users } | StageShape::Step { to_users } => Some(to_users),
                StageShape::Hold => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// The open model's rates, if this plan has one.
    pub fn open_model(&self) -> Option<&OpenModel> {
        self.open.as_ref()
    }

    /// A closed model's pace, if set.
    pub fn pace(&self) -> Option<Duration> {
        self.pace
    }

    /// The target's Prometheus endpoint as the scenario gives it (a URL, or
    /// a path below the target).
    pub fn server_metrics(&self) -> Option<&str> {
        self.server_metrics.as_deref()
    }
}
