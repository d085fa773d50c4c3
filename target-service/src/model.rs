//! The API's resources and the rules their fields obey.
//!
//! Request bodies arrive as loose `*Input` types (strings where the API has
//! enums) so that a rule broken by a body that parses is reported as a 422
//! naming the field, rather than as serde's generic message. `validate`
//! turns each into a type that can only hold valid values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, value::RawValue};
use utoipa::ToSchema;

use crate::error::{Error, Result};

/// Longest server name, in characters.
pub const NAME_MAX_CHARS: usize = 100;
/// Largest `config` object, serialized, in bytes (16 KiB).
pub const CONFIG_MAX_BYTES: usize = 16 * 1024;
/// Most points one `POST /api/v1/metrics` may carry (architecture §2: batches of 1000).
pub const METRIC_BATCH_MAX: usize = 1000;
/// Longest metric type name.
const METRIC_TYPE_MAX_CHARS: usize = 64;

/// How an MCP server is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    Stdio,
    Http,
    Sse,
}

/// Lifecycle state of an MCP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Stopped,
    Starting,
    Running,
    Error,
}

macro_rules! string_enum {
    ($ty:ty, [$($variant:ident => $text:literal),+]) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the wire name, or fails naming the field and the accepted values.
            pub fn parse(field: &'static str, text: &str) -> Result<Self> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(Error::validation(
                        field,
                        format!(
                            "{other:?} is not one of {}",
                            [$($text),+].join(", ")
                        ),
                    )),
                }
            }
        }
    };
}

string_enum!(Transport, [Stdio => "stdio", Http => "http", Sse => "sse"]);
string_enum!(Status, [Stopped => "stopped", Starting => "starting", Running => "running", Error => "error"]);

/// A registered MCP server, as the API returns it.
///
/// `config` stays the JSON text the database holds: a list page is
/// serialized without parsing and re-encoding every server's config.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Server {
    pub id: i64,
    pub name: String,
    pub transport: Transport,
    pub status: Status,
    #[schema(value_type = Object)]
    pub config: Box<RawValue>,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// RFC 3339, UTC.
    pub updated_at: String,
}

/// One page of the caller's servers.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServerPage {
    pub items: Vec<Server>,
    pub page: u32,
    pub per_page: u32,
    /// Servers matching the filters, over all pages.
    pub total: i64,
}

/// Body of `POST /api/v1/servers`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewServerInput {
    /// 1–100 characters, not blank, no control characters; unique per user.
    /// The pattern spells out Unicode's control (Cc) and White_Space
    /// characters, since `\s` differs between regex dialects; a test in
    /// `api::openapi` holds it to `validate`.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: String,
    #[schema(value_type = Transport)]
    pub transport: String,
    /// Default `stopped`.
    #[schema(value_type = Option<Status>)]
    pub status: Option<String>,
    /// A JSON object of at most 16 KiB.
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

/// Body of `PATCH /api/v1/servers/{id}`: every field optional.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ServerPatchInput {
    /// As for a new server.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\u0000-\\u0020\\u007f-\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    #[schema(value_type = Option<Transport>)]
    pub transport: Option<String>,
    #[schema(value_type = Option<Status>)]
    pub status: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
}

/// A server about to be inserted; every field already valid.
#[derive(Debug, Clone)]
pub struct NewServer {
    pub name: String,
    pub transport: Transport,
    pub status: Status,
    /// The config object, serialized.
    pub config: String,
}

/// A validated partial update.
#[derive(Debug, Clone, Default)]
pub struct ServerPatch {
    pub name: Option<String>,
    pub transport: Option<Transport>,
    pub status: Option<Status>,
    pub config: Option<String>,
}

impl NewServerInput {
    pub fn validate(self) -> Result<NewServer> {
        Ok(NewServer {
            name: validate_name(self.name)?,
            transport: Transport::parse("transport", &self.transport)?,
            status: match self.status {
                Some(s) => Status::parse("status", &s)?,
                None => Status::default(),
            },
            config: validate_config(self.config.unwrap_or_else(|| Value::Object(Map::new())))?,
        })
    }
}

impl ServerPatchInput {
    pub fn validate(self) -> Result<ServerPatch> {
        Ok(ServerPatch {
            name: self.name.map(validate_name).transpose()?,
            transport: self
                .transport
                .map(|t| Transport::parse("transport", &t))
                .transpose()?,
            status: self
                .status
                .map(|s| Status::parse("status", &s))
                .transpose()?,
            config: self.config.map(validate_config).transpose()?,
        })
    }
}

fn validate_name(name: String) -> Result<String> {
    let chars = name.chars().count();
    if chars == 0 || chars > NAME_MAX_CHARS || name.trim().is_empty() {
        return Err(Error::validation(
            "name",
            format!("must be 1 to {NAME_MAX_CHARS} characters, not blank (got {chars})"),
        ));
    }
    reject_control_characters("name", &name)?;
    Ok(name)
}

/// Control characters are refused in every text the service stores or
/// searches by: PostgreSQL cannot store NUL in text at all (it would be a
/// 500), and the others (escape sequences, C1 controls) only ever arrive
/// to break a terminal or a log that shows the name later.
pub fn reject_control_characters(field: &'static str, text: &str) -> Result<()> {
    match text.chars().position(char::is_control) {
        None => Ok(()),
        Some(at) => Err(Error::validation(
            field,
            format!("must not contain control characters (one at character {at})"),
        )),
    }
}

fn validate_config(config: Value) -> Result<String> {
    if !config.is_object() {
        return Err(Error::validation("config", "must be a JSON object"));
    }
    let text = config.to_string();
    if text.len() > CONFIG_MAX_BYTES {
        return Err(Error::validation(
            "config",
            format!(
                "is {} bytes serialized; the limit is {CONFIG_MAX_BYTES}",
                text.len()
            ),
        ));
    }
    Ok(text)
}

/// One time-series point of a server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MetricPoint {
    pub server_id: i64,
    pub metric_type: String,
    pub value: f64,
    /// RFC 3339, UTC.
    pub timestamp: String,
}

/// An RFC 3339 time with any offset, e.g. `2023-11-14T22:13:20.123Z`, as
/// the OpenAPI document shows it: a schema of its own, so that an optional
/// time is "null or a date-time" rather than a nullable string, whose
/// format some generators drop.
#[derive(Debug)]
pub struct Rfc3339Time;

impl utoipa::PartialSchema for Rfc3339Time {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some("An RFC 3339 time, with any offset"))
            .examples(["2023-11-14T22:13:20.123Z"])
            .into()
    }
}

impl ToSchema for Rfc3339Time {}

/// Points returned by `GET /api/v1/metrics`, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MetricSeries {
    pub items: Vec<MetricPoint>,
}

/// Body of `POST /api/v1/metrics`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MetricBatchInput {
    /// 1 to 1000 points.
    #[schema(min_items = 1, max_items = 1000)]
    pub points: Vec<MetricPointInput>,
}

/// One point to ingest; `timestamp` defaults to now.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MetricPointInput {
    #[serde(deserialize_with = "json_integer")]
    pub server_id: i64,
    /// 1 to 64 of a-z, 0-9 and `_`.
    #[schema(pattern = "^[a-z0-9_]{1,64}$")]
    pub metric_type: String,
    pub value: f64,
    /// Defaults to the time of ingestion.
    #[schema(value_type = Option<Rfc3339Time>)]
    pub timestamp: Option<String>,
}

/// An `i64` written as any JSON number with no fraction: JSON Schema's
/// `integer` includes `779.0`, which serde alone would refuse.
fn json_integer<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_i64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && (-(2f64.powi(63))..2f64.powi(63)).contains(f))
                .map(|f| f as i64)
        })
        .ok_or_else(|| serde::de::Error::custom(format!("{number} is not a 64-bit integer")))
}

/// A validated point, time in epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMetricPoint {
    pub server_id: i64,
    pub metric_type: String,
    pub value: f64,
    pub timestamp_ms: i64,
}

/// Answer to `POST /api/v1/metrics`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IngestSummary {
    pub inserted: u64,
}

impl MetricBatchInput {
    pub fn validate(self, now_ms: i64) -> Result<Vec<NewMetricPoint>> {
        if self.points.is_empty() || self.points.len() > METRIC_BATCH_MAX {
            return Err(Error::validation(
                "points",
                format!(
                    "must hold 1 to {METRIC_BATCH_MAX} points (got {})",
                    self.points.len()
                ),
            ));
        }
        self.points
            .into_iter()
            .map(|p| {
                validate_metric_type(&p.metric_type)?;
                if !p.value.is_finite() {
                    return Err(Error::validation("points.value", "must be a finite number"));
                }
                let timestamp_ms = match p.timestamp {
                    Some(t) => parse_rfc3339_ms("points.timestamp", &t)?,
                    None => now_ms,
                };
                Ok(NewMetricPoint {
                    server_id: p.server_id,
                    metric_type: p.metric_type,
                    value: p.value,
                    timestamp_ms,
                })
            })
            .collect()
    }
}

/// Metric types are short identifiers (`cpu`, `memory_mb`), since they end
/// up in cache keys.
pub fn validate_metric_type(metric_type: &str) -> Result<()> {
    let ok = !metric_type.is_empty()
        && metric_type.len() <= METRIC_TYPE_MAX_CHARS
        && metric_type
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::validation(
            "metric_type",
            format!("{metric_type:?} must be 1 to {METRIC_TYPE_MAX_CHARS} of a-z, 0-9, _"),
        ))
    }
}

/// Parses an RFC 3339 time (any offset, any year from 0000) into epoch
/// milliseconds; finer digits are truncated.
pub fn parse_rfc3339_ms(field: &'static str, text: &str) -> Result<i64> {
    let time = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| Error::validation(field, format!("{text:?} is not an RFC 3339 time: {e}")))?;
    i64::try_from(time.unix_timestamp_nanos().div_euclid(1_000_000))
        .map_err(|_| Error::validation(field, "is out of range"))
}

/// Formats epoch milliseconds as RFC 3339 UTC with millisecond precision
/// (`2023-11-14T22:13:20.123Z`).
pub fn format_rfc3339_ms(ms: i64) -> String {
    const FORMAT: &[time::format_description::BorrowedFormatItem<'_>] = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(FORMAT).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

/// Now, in epoch milliseconds.
pub fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(name: &str, transport: &str, config: Value) -> NewServerInput {
        NewServerInput {
            name: name.into(),
            transport: transport.into(),
            status: None,
            config: Some(config),
        }
    }

    fn field_of(err: Error) -> &'static str {
        match err {
            Error::Validation { field, .. } => field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn a_valid_server_defaults_to_stopped() {
        let s = input("alpha", "sse", json!({"cmd": "x"}))
            .validate()
            .unwrap();
        assert_eq!(s.status, Status::Stopped);
        assert_eq!(s.transport, Transport::Sse);
        assert_eq!(s.config, r#"{"cmd":"x"}"#);
    }

    #[test]
    fn names_are_one_to_a_hundred_characters() {
        assert!(
            input(&"é".repeat(100), "http", json!({}))
                .validate()
                .is_ok()
        );
        for bad in [
            "",
            "   ",
            &"a".repeat(101),
            "nul\0",
            "esc\u{1b}[2J",
            "c1\u{85}",
        ] {
            let err = input(bad, "http", json!({})).validate().unwrap_err();
            assert_eq!(field_of(err), "name", "{bad:?}");
        }
    }

    #[test]
    fn unknown_transport_and_status_name_their_field() {
        let err = input("a", "pigeon", json!({})).validate().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"transport: "pigeon" is not one of stdio, http, sse"#
        );
        let mut i = input("a", "http", json!({}));
        i.status = Some("asleep".into());
        assert_eq!(field_of(i.validate().unwrap_err()), "status");
    }

    #[test]
    fn config_must_be_an_object_of_at_most_16_kib() {
        assert_eq!(
            field_of(input("a", "http", json!([1])).validate().unwrap_err()),
            "config"
        );
        let big = json!({ "k": "x".repeat(CONFIG_MAX_BYTES) });
        assert_eq!(
            field_of(input("a", "http", big).validate().unwrap_err()),
            "config"
        );
        let fits = json!({ "k": "x".repeat(CONFIG_MAX_BYTES - 10) });
        assert!(input("a", "http", fits).validate().is_ok());
    }

    #[test]
    fn metric_batches_hold_one_to_a_thousand_points() {
        let point = || MetricPointInput {
            server_id: 1,
            metric_type: "cpu".into(),
            value: 0.5,
            timestamp: None,
        };
        let batch = |n| MetricBatchInput {
            points: (0..n).map(|_| point()).collect(),
        };
        assert_eq!(batch(1000).validate(7).unwrap().len(), 1000);
        assert_eq!(batch(1).validate(7).unwrap()[0].timestamp_ms, 7);
        assert_eq!(field_of(batch(1001).validate(7).unwrap_err()), "points");
        assert_eq!(field_of(batch(0).validate(7).unwrap_err()), "points");
    }

    #[test]
    fn server_ids_are_integers_however_json_writes_them() {
        let point = |id: &str| {
            serde_json::from_str::<MetricPointInput>(&format!(
                r#"{{"server_id": {id}, "metric_type": "cpu", "value": 1}}"#
            ))
            .map(|p| p.server_id)
        };
        assert_eq!(point("779").unwrap(), 779);
        assert_eq!(point("779.0").unwrap(), 779);
        assert_eq!(point("-7e2").unwrap(), -700);
        for bad in ["779.5", "1e20", "\"779\""] {
            assert!(point(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_round_trip_through_rfc3339() {
        let ms = 1_700_000_000_123;
        let text = format_rfc3339_ms(ms);
        assert_eq!(text, "2023-11-14T22:13:20.123Z");
        assert_eq!(parse_rfc3339_ms("since", &text).unwrap(), ms);
        assert!(parse_rfc3339_ms("since", "yesterday").is_err());
    }

    #[test]
    fn times_may_have_offsets_and_be_before_1970() {
        assert_eq!(
            parse_rfc3339_ms("since", "2023-11-14T23:13:20.123+01:00").unwrap(),
            1_700_000_000_123
        );
        let early = parse_rfc3339_ms("since", "1969-12-31T23:59:59.5Z").unwrap();
        assert_eq!(early, -500);
        assert_eq!(format_rfc3339_ms(early), "1969-12-31T23:59:59.500Z");
        let first = parse_rfc3339_ms("since", "0000-01-01T00:00:00Z").unwrap();
        assert_eq!(format_rfc3339_ms(first), "0000-01-01T00:00:00.000Z");
    }
}
