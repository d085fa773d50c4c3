//! The scenario file format, version 4, exactly as written in YAML.
//!
//! These types only mirror the file: every field the format knows, unknown
//! fields rejected (`deny_unknown_fields`), and values that need checking
//! (durations, rates, templates) kept as written. Checking and resolving is
//! the job of [`crate::resolve`], which can then report *every* problem with its
//! position instead of serde stopping at the first. The JSON Schema committed
//! as `scenarios/schema.json` is generated from these types, so editors and
//! the docs cannot drift from what the loader accepts.

use std::borrow::Cow;
use std::fmt;

use indexmap::IndexMap;
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

/// A load scenario: what to send, how many users, for how long, and which
/// latency and error budgets the run must meet.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Format version; this loader reads versions 1 to 4.
    pub version: u32,
    /// Short name, used in reports.
    pub name: String,
    /// What this scenario represents.
    #[serde(default)]
    pub description: Option<String>,
    /// Base URL of the system under test; the CLI's `--target` overrides it.
    #[serde(default)]
    pub target: Option<String>,
    /// How many users, over which stages.
    pub load: Load,
    /// Pause between iterations of a user: `500ms` or `{min: 100ms, max: 1s}`.
    #[serde(default)]
    pub think_time: Option<ThinkTime>,
    /// Closed model only (version 3): each user starts one iteration every
    /// `pace` (e.g. `1s`), instead of pausing a think time. Latencies are
    /// then corrected for the iterations a slow response held back.
    #[serde(default)]
    pub pace: Option<DurationText>,
    /// Where the target's Prometheus metrics are (version 3), scraped
    /// before, during and after the run; on by default for the bundled service.
    #[serde(default)]
    pub server_metrics: Option<ServerMetrics>,
    /// Version 4: each user keeps a cookie jar, as k6 and Locust do
    /// (default `true`): cookies a response sets are sent back on the same
    /// user's later requests. `false` turns the jar off.
    #[serde(default)]
    #[schemars(extend("default" = true))]
    pub cookies: Option<bool>,
    /// Version 4: the HTTP version to speak. `1.1` (or `HTTP/1.1`) is the
    /// only accepted value and the default: loadgate speaks HTTP/1.1 only,
    /// and HTTP/2 (`2`, `h2`, `HTTP/2`) is refused.
    #[serde(default)]
    #[schemars(schema_with = "http_version_schema", extend("default" = "1.1"))]
    pub http_version: Option<String>,
    /// Where user keys come from; default: demo keys 21..=1000 (api tier).
    #[serde(default)]
    pub users: Option<UserPool>,
    /// TLS options.
    #[serde(default)]
    pub tls: Option<Tls>,
    /// Steps each user runs once before its first iteration (e.g. a login).
    #[serde(default)]
    pub setup: Vec<Request>,
    /// A weighted mix of single requests; one is picked per iteration.
    #[serde(default)]
    pub requests: Vec<Request>,
    /// Ordered step lists; picked per iteration beside the `requests` mix.
    #[serde(default)]
    pub flows: Vec<Flow>,
    /// Latency, error and throughput budgets the run is judged against.
    #[serde(default)]
    pub budgets: Option<Budgets>,
}

/// The load model and its stages.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Load {
    /// `closed` (a fixed number of users, the default) or `open` (arrivals
    /// at a set rate, whatever the target's speed; format version 2).
    #[serde(default)]
    pub model: LoadModel,
    /// Stages, run in order.
    pub stages: Vec<Stage>,
    /// Open model only: the most requests in flight at once; an arrival
    /// that finds them all busy is dropped and counted.
    #[serde(default)]
    pub max_users: Option<u32>,
}

/// How load is generated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum LoadModel {
    /// A fixed population of users, each looping over iterations.
    #[default]
    Closed,
    /// Requests arrive at a set rate, whatever the target's speed.
    Open,
}

/// One stage: `{users, ramp}` moves linearly to `users` over `ramp`;
/// `{hold}` keeps the users of the stage before for `hold`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("oneOf" = [{"required": ["ramp"]}, {"required": ["hold"]}]))]
pub struct Stage {
    /// Name, so budgets can judge only this stage (`budgets.during`).
    #[serde(default)]
    pub name: Option<String>,
    /// Users at the end of a ramp; on a hold, optional and must equal the
    /// users of the stage before.
    #[serde(default)]
    pub users: Option<u32>,
    /// Open model only: arrival rate such as `200/s`, `600/m`; a ramp
    /// moves to it, a hold keeps it.
    #[serde(default)]
    pub rate: Option<String>,
    /// Ramp duration.
    #[serde(default)]
    pub ramp: Option<DurationText>,
    /// Hold duration.
    #[serde(default)]
    pub hold: Option<DurationText>,
}

/// Think time: fixed, or uniformly random in a range.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(untagged)]
pub enum ThinkTime {
    /// The same pause every time, e.g. `500ms`.
    Fixed(DurationText),
    /// A pause drawn uniformly from `min..=max`.
    Range(ThinkRange),
}

/// Bounds of a random think time.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ThinkRange {
    /// Shortest pause.
    pub min: DurationText,
    /// Longest pause.
    pub max: DurationText,
}

/// A scalar is a fixed think time and a map a range; written by hand so that
/// a mistake inside the map gets serde's precise message rather than
/// "did not match any variant".
impl<'de> Deserialize<'de> for ThinkTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ThinkVisitor;
        impl<'de> Visitor<'de> for ThinkVisitor {
            type Value = ThinkTime;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 500ms, or {min: 100ms, max: 1s}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ThinkTime, E> {
                Ok(ThinkTime::Fixed(DurationText::text(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ThinkTime, E> {
                Ok(ThinkTime::Fixed(DurationText::number(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ThinkTime, E> {
                Ok(ThinkTime::Fixed(DurationText::number(v)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ThinkTime, E> {
                Ok(ThinkTime::Fixed(DurationText::number(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<ThinkTime, A::Error> {
                ThinkRange::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(ThinkTime::Range)
            }
        }
        deserializer.deserialize_any(ThinkVisitor)
    }
}

/// A duration as written (`30s`, `10m`, `1h30m`, `250ms`, `800us`), checked
/// when the plan is built so that every bad duration is reported at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DurationText {
    /// The text as written, or the number's decimal form.
    pub text: String,
    /// The YAML value was a number (a duration needs a unit).
    pub bare_number: bool,
}

impl DurationText {
    /// A duration written as a string.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            bare_number: false,
        }
    }

    fn number(n: impl fmt::Display) -> Self {
        Self {
            text: n.to_string(),
            bare_number: true,
        }
    }
}

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TextVisitor;
        impl Visitor<'_> for TextVisitor {
            type Value = DurationText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as 30s, 10m or 1h30m")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationText, E> {
                Ok(DurationText::text(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationText, E> {
                Ok(DurationText::number(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationText, E> {
                Ok(DurationText::number(v))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DurationText, E> {
                Ok(DurationText::number(v))
            }
        }
        deserializer.deserialize_any(TextVisitor)
    }
}

impl JsonSchema for DurationText {
    fn schema_name() -> Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A duration: digits then a unit (h, m, s, ms, us), largest unit first, e.g. 30s, 10m, 1h30m, 250ms, 800us.",
            "type": "string",
            "pattern": "^([0-9]+h)?([0-9]+m)?([0-9]+s)?([0-9]+ms)?([0-9]+(us|µs))?$",
            "examples": ["30s", "10m", "1h30m", "250ms"]
        })
    }
}

/// An error-rate budget: a fraction (`0.01`) or a percentage (`1%`).
#[derive(Debug, Clone, PartialEq)]
pub enum RateText {
    /// Written as a number.
    Fraction(f64),
    /// Written as text, expected to be a percentage.
    Text(String),
}

impl<'de> Deserialize<'de> for RateText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct RateVisitor;
        impl Visitor<'_> for RateVisitor {
            type Value = RateText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a fraction such as 0.01 or a percentage such as 1%")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RateText, E> {
                Ok(RateText::Text(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RateText, E> {
                Ok(RateText::Fraction(v as f64))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RateText, E> {
                Ok(RateText::Fraction(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RateText, E> {
                Ok(RateText::Fraction(v))
            }
        }
        deserializer.deserialize_any(RateVisitor)
    }
}

impl JsonSchema for RateText {
    fn schema_name() -> Cow<'static, str> {
        "ErrorRate".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A fraction between 0 and 1 (0.01) or a percentage (1%).",
            "oneOf": [
                {"type": "number", "minimum": 0, "maximum": 1},
                {"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?%$"}
            ]
        })
    }
}

/// One value or a list of them (`status: 200` or `status: [200, 201]`).
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum OneOrMany<T> {
    /// A single value.
    One(T),
    /// A list.
    Many(Vec<T>),
}

impl<T: Clone> OneOrMany<T> {
    /// The values as a list.
    pub fn to_vec(&self) -> Vec<T> {
        match self {
            OneOrMany::One(v) => vec![v.clone()],
            OneOrMany::Many(v) => v.clone(),
        }
    }
}

/// An HTTP request (in `requests`, `setup` or a flow's `steps`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// Name; metrics and budgets are keyed by it.
    pub name: String,
    /// Relative weight in the `requests` mix (default 1). Not allowed on
    /// setup or flow steps.
    #[serde(default)]
    pub weight: Option<f64>,
    /// HTTP method.
    pub method: Method,
    /// Path and query, appended to the target; may hold placeholders.
    pub path: String,
    /// Request headers; values may hold placeholders.
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    /// JSON body: any YAML value, sent as JSON; strings may hold placeholders.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub body: Option<serde_yaml_ng::Value>,
    /// Per-request timeout (default 30s).
    #[serde(default)]
    pub timeout: Option<DurationText>,
    /// Version 4: how many redirects to follow (default 10, at most 20);
    /// `0` turns following off, so the redirect itself is the response.
    #[serde(default)]
    #[schemars(range(max = 20), extend("default" = 10))]
    pub redirects: Option<u32>,
    /// What a response must satisfy; a failure counts as a `check` error.
    #[serde(default)]
    pub checks: Option<Checks>,
    /// Values to take from the response: `{variable: /json/pointer}` from
    /// the JSON body, or (version 4) `{variable: "header:Name"}` from a
    /// response header, its name matched case-insensitively.
    #[serde(default)]
    #[schemars(with = "IndexMap<String, CaptureText>")]
    pub capture: IndexMap<String, String>,
}

/// The schema of a capture's value; the value itself is kept as a string.
#[derive(JsonSchema)]
#[schemars(
    rename = "CaptureSource",
    description = "A JSON pointer into the response body (`/id`, `/items/0/id`), or `header:Name` for a response header's value (version 4).",
    extend("pattern" = "^(/|header:)", "examples" = ["/id", "header:X-Request-Token"])
)]
#[allow(dead_code)]
struct CaptureText(String);

/// `http_version`: `1.1` or `HTTP/1.1` (any case), written as text or as
/// YAML's number `1.1`.
fn http_version_schema(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            {"type": "string", "pattern": "^\\s*([Hh][Tt][Tt][Pp]/)?1\\.1\\s*$"},
            {"const": 1.1},
            {"type": "null"}
        ]
    })
}

/// HTTP methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
#[allow(missing_docs)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
    Options,
}

impl Method {
    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }
}

/// Response checks.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Checks {
    /// Accepted status code(s); default: any 2xx.
    #[serde(default)]
    pub status: Option<OneOrMany<u16>>,
    /// Checks on values in the JSON response, by JSON pointer.
    #[serde(default)]
    pub json: Vec<JsonCheck>,
    /// Text the body must contain.
    #[serde(default)]
    pub body_contains: Option<OneOrMany<String>>,
    /// Header name(s) that must be present.
    #[serde(default)]
    pub header: Option<OneOrMany<String>>,
}

/// A check on one JSON value: give `equals` or `exists`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonCheck {
    /// JSON pointer, e.g. `/items/0/id`.
    pub pointer: String,
    /// The value there must equal this.
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>")]
    pub equals: Option<serde_yaml_ng::Value>,
    /// `true`: the value must be there; `false`: it must not.
    #[serde(default)]
    pub exists: Option<bool>,
}

/// A named, ordered list of steps a user runs in one iteration.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Flow {
    /// Name, used in reports.
    pub name: String,
    /// Relative weight beside the `requests` mix (default 1).
    #[serde(default)]
    pub weight: Option<f64>,
    /// The steps, run in order; a step has the shape of a request.
    pub steps: Vec<Request>,
}

/// Where user keys come from: exactly one of `csv` or `range`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct UserPool {
    /// A file of keys, one per line or in a `key` column; relative to the
    /// scenario file.
    #[serde(default)]
    pub csv: Option<String>,
    /// Demo keys `demo-key-<from>` ..= `demo-key-<to>` of the reference service.
    #[serde(default)]
    pub range: Option<UserRange>,
}

/// A range of the reference service's demo users.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserRange {
    /// First user number.
    pub from: u32,
    /// Last user number (inclusive).
    pub to: u32,
}

/// TLS options.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// Skip certificate verification (for self-signed test targets).
    #[serde(default)]
    pub insecure: bool,
}

/// The target's Prometheus endpoint.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerMetrics {
    /// An absolute URL, or a path below the target (`/metrics`).
    pub url: String,
}

/// Budgets the run is judged against.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budgets {
    /// Judge only samples that started in these named stages.
    #[serde(default)]
    pub during: Option<Vec<String>>,
    /// Whose latencies the latency budgets judge: `all` (the default:
    /// every request, failed or not) or `ok` (successful requests alone)
    /// (version 5).
    #[serde(default)]
    pub latency_of: Option<LatencyOf>,
    /// Budget over all requests.
    #[serde(default)]
    pub overall: Option<Budget>,
    /// Budgets per request or step name.
    #[serde(default)]
    pub requests: IndexMap<String, Budget>,
    /// Budgets on the target's own metrics (version 3; needs `server_metrics`
    /// or the bundled service).
    #[serde(default)]
    pub server: Option<ServerBudget>,
}

/// Whose latencies the latency budgets judge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum LatencyOf {
    /// Every request, failed or not (k6's thresholds, Gatling's assertions).
    All,
    /// Successful requests alone (k6's `expected_response:true`).
    Ok,
}

/// Limits on what the target's metrics say.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServerBudget {
    /// Share of cache lookups some layer answered, e.g. `{min: 0.85}`.
    #[serde(default)]
    pub cache_hit_ratio: Option<AtLeast>,
    /// Mean share of the DB pool in use, e.g. `{max: 0.8}`.
    #[serde(default)]
    pub db_pool_utilization: Option<AtMost>,
}

/// A floor: a fraction (`0.85`) or a percentage (`85%`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AtLeast {
    pub min: RateText,
}

/// A ceiling: a fraction (`0.8`) or a percentage (`80%`).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AtMost {
    pub max: RateText,
}

/// Stop the run early when the budget's value over the last `window`
/// breaches it continuously for `after`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Abort {
    /// How far back each check looks, e.g. `10s`.
    pub window: DurationText,
    /// How long the breach must last, e.g. `30s`.
    pub after: DurationText,
}

/// Limits for one set of samples; any may be left out.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Budget {
    /// Median latency limit.
    #[serde(default)]
    pub p50: Option<DurationText>,
    /// 95th percentile latency limit.
    #[serde(default)]
    pub p95: Option<DurationText>,
    /// 99th percentile latency limit.
    #[serde(default)]
    pub p99: Option<DurationText>,
    /// Largest share of failed requests.
    #[serde(default)]
    pub max_error_rate: Option<RateText>,
    /// Least throughput in requests per second (scales with `--scale`).
    #[serde(default)]
    pub min_rps: Option<f64>,
    /// Open model, `overall` only: largest share of the schedule's arrivals
    /// that may be dropped (`1%` or `0.01`), over the judged stages; `1%`
    /// when an open model's file sets none.
    #[serde(default)]
    pub max_dropped_rate: Option<RateText>,
    /// Version 3: stop the run early when this budget's latency or error
    /// rate limits are breached over a sliding window for long enough.
    #[serde(default)]
    pub abort: Option<Abort>,
}

/// The JSON Schema of the format, as committed in `scenarios/schema.json`
/// (pretty-printed, with a trailing newline).
pub fn json_schema_text() -> String {
    let schema = schemars::schema_for!(Scenario);
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema always serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    /// The committed schema must match the types. `LOADGATE_BLESS=1` rewrites it.
    #[test]
    fn committed_schema_matches_the_types() {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scenarios/schema.json");
        let generated = json_schema_text();
        if std::env::var_os("LOADGATE_BLESS").is_some_and(|v| v == "1") {
            std::fs::write(&path, &generated).expect("write scenarios/schema.json");
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "scenarios/schema.json is out of date with harness/scenario/src/yaml.rs.\n\
             Regenerate it with:\n    LOADGATE_BLESS=1 cargo test -p scenario --lib committed_schema_matches_the_types"
        );
    }

    #[test]
    fn think_time_forms() {
        let fixed: ThinkTime = serde_yaml_ng::from_str("500ms").unwrap();
        assert!(matches!(fixed, ThinkTime::Fixed(d) if d.text == "500ms"));
        let range: ThinkTime = serde_yaml_ng::from_str("{min: 100ms, max: 1s}").unwrap();
        assert!(
            matches!(range, ThinkTime::Range(r) if r.min.text == "100ms" && r.max.text == "1s")
        );
        let err = serde_yaml_ng::from_str::<ThinkTime>("{min: 1s, mx: 2s}").unwrap_err();
        assert!(err.to_string().contains("unknown field `mx`"), "{err}");
    }

    #[test]
    fn user_pool_forms() {
        let csv: UserPool = serde_yaml_ng::from_str("csv: keys.csv").unwrap();
        assert_eq!(csv.csv.as_deref(), Some("keys.csv"));
        let range: UserPool = serde_yaml_ng::from_str("range: {from: 21, to: 30}").unwrap();
        assert!(matches!(range.range, Some(UserRange { from: 21, to: 30 })));
    }
}
