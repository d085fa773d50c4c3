//! Every SQL statement the service runs, written once for both backends.
//!
//! Portable SQL only: `$n` placeholders (sqlx maps them for SQLite),
//! `RETURNING`, `ON CONFLICT DO NOTHING`, epoch-millisecond integers for
//! time. Every query on servers or metrics is scoped by the caller's user
//! id, so tenancy is enforced here and not only in the handlers.

use serde_json::value::RawValue;
use std::fmt::Write as _;

use sqlx::FromRow;

use crate::{
    db::Db,
    error::{Error, Result, ResultExt},
    model::{
        METRIC_BATCH_MAX, MetricPoint, NewMetricPoint, NewServer, Server, ServerPatch, Status,
        Transport, format_rfc3339_ms, now_ms,
    },
    queue::task::TaskRecord,
};

/// Most points one series read returns (and one cache entry holds).
pub const SERIES_MAX: i64 = METRIC_BATCH_MAX as i64;

/// An authenticated caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromRow, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: i64,
    #[sqlx(try_from = "String")]
    pub tier: Tier,
}

/// Rate-limit tier of a user (architecture §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Standard,
    Premium,
    Api,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Standard, Tier::Premium, Tier::Api];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Standard => "standard",
            Tier::Premium => "premium",
            Tier::Api => "api",
        }
    }
}

impl TryFrom<String> for Tier {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Tier::ALL
            .into_iter()
            .find(|t| t.as_str() == text)
            .ok_or_else(|| format!("unknown tier {text:?}"))
    }
}

/// Filters of `GET /api/v1/servers`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFilter {
    pub status: Option<Status>,
    pub transport: Option<Transport>,
    /// Name prefix, case-sensitive on both backends.
    pub name_prefix: Option<String>,
}

#[derive(Debug, FromRow)]
struct ServerRow {
    id: i64,
    name: String,
    transport: String,
    status: String,
    config: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<ServerRow> for Server {
    type Error = Error;

    fn try_from(row: ServerRow) -> Result<Self> {
        let corrupt = |what: &str| anyhow::anyhow!("server {} has a corrupt {what}", row.id);
        Ok(Server {
            id: row.id,
            transport: Transport::parse("transport", &row.transport)
                .map_err(|_| corrupt("transport"))?,
            status: Status::parse("status", &row.status).map_err(|_| corrupt("status"))?,
            config: RawValue::from_string(row.config).map_err(|_| corrupt("config"))?,
            created_at: format_rfc3339_ms(row.created_at),
            updated_at: format_rfc3339_ms(row.updated_at),
            name: row.name,
        })
    }
}

const SERVER_COLUMNS: &str = "id, name, transport, status, config, created_at, updated_at";

pub async fn user_by_key_hash(db: &Db, key_hash: &str) -> Result<Option<User>> {
    Ok(
        sqlx::query_as::<_, User>("SELECT id, tier FROM users WHERE key_hash = $1")
            .bind(key_hash)
            .fetch_optional(&db.read)
            .await?,
    )
}

/// One page of a user's servers in id order, and the total that match.
pub async fn list_servers(
    db: &Db,
    user_id: i64,
    filter: &ServerFilter,
    page: u32,
    per_page: u32,
) -> Result<(Vec<Server>, i64)> {
    const WHERE: &str = "WHERE user_id = $1 \
         AND ($2 IS NULL OR status = $2) \
         AND ($3 IS NULL OR transport = $3) \
         AND ($4 IS NULL OR substr(name, 1, length($4)) = $4)";
    let status = filter.status.map(Status::as_str);
    let transport = filter.transport.map(Transport::as_str);
    let prefix = filter.name_prefix.as_deref();
    let offset = i64::from(page.saturating_sub(1)) * i64::from(per_page);

    let rows = sqlx::query_as::<_, ServerRow>(&format!(
        "SELECT {SERVER_COLUMNS} FROM servers {WHERE} ORDER BY id LIMIT $5 OFFSET $6"
    ))
    .bind(user_id)
    .bind(status)
    .bind(transport)
    .bind(prefix)
    .bind(i64::from(per_page))
    .bind(offset)
    .fetch_all(&db.read)
    .await?;
    let (total,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM servers {WHERE}"))
        .bind(user_id)
        .bind(status)
        .bind(transport)
        .bind(prefix)
        .fetch_one(&db.read)
        .await?;
    let servers = rows
        .into_iter()
        .map(Server::try_from)
        .collect::<Result<_>>()?;
    Ok((servers, total))
}

pub async fn get_server(db: &Db, user_id: i64, id: i64) -> Result<Server> {
    sqlx::query_as::<_, ServerRow>(&format!(
        "SELECT {SERVER_COLUMNS} FROM servers WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(&db.read)
    .await?
    .ok_or(Error::NotFound("server"))?
    .try_into()
}

pub async fn create_server(db: &Db, user_id: i64, new: &NewServer) -> Result<Server> {
    let now = now_ms();
    sqlx::query_as::<_, ServerRow>(&format!(
        "INSERT INTO servers (user_id, name, transport, status, config, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {SERVER_COLUMNS}"
    ))
    .bind(user_id)
    .bind(&new.name)
    .bind(new.transport.as_str())
    .bind(new.status.as_str())
    .bind(&new.config)
    .bind(now)
    .fetch_one(&db.write)
    .await
    .on_unique_violation(|| format!("a server named {:?} already exists", new.name))?
    .try_into()
}

pub async fn update_server(db: &Db, user_id: i64, id: i64, patch: &ServerPatch) -> Result<Server> {
    sqlx::query_as::<_, ServerRow>(&format!(
        "UPDATE servers SET \
           name = COALESCE($3, name), \
           transport = COALESCE($4, transport), \
           status = COALESCE($5, status), \
           config = COALESCE($6, config), \
           updated_at = $7 \
         WHERE id = $1 AND user_id = $2 RETURNING {SERVER_COLUMNS}"
    ))
    .bind(id)
    .bind(user_id)
    .bind(patch.name.as_deref())
    .bind(patch.transport.map(Transport::as_str))
    .bind(patch.status.map(Status::as_str))
    .bind(patch.config.as_deref())
    .bind(now_ms())
    .fetch_optional(&db.write)
    .await
    .on_unique_violation(|| {
        format!(
            "a server named {:?} already exists",
            patch.name.as_deref().unwrap_or_default()
        )
    })?
    .ok_or(Error::NotFound("server"))?
    .try_into()
}

pub async fn delete_server(db: &Db, user_id: i64, id: i64) -> Result<()> {
    let done = sqlx::query("DELETE FROM servers WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(&db.write)
        .await?;
    if done.rows_affected() == 0 {
        return Err(Error::NotFound("server"));
    }
    Ok(())
}

#[derive(Debug, FromRow)]
struct MetricRow {
    server_id: i64,
    metric_type: String,
    value: f64,
    timestamp: i64,
}

impl From<MetricRow> for MetricPoint {
    fn from(row: MetricRow) -> Self {
        MetricPoint {
            server_id: row.server_id,
            metric_type: row.metric_type,
            value: row.value,
            timestamp: format_rfc3339_ms(row.timestamp),
        }
    }
}

/// A point with its time still as a number, as the series cache keeps it
/// (so `since` filters without parsing dates).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StoredPoint {
    pub metric_type: String,
    pub value: f64,
    pub timestamp_ms: i64,
}

/// The newest [`SERIES_MAX`] points of one server, newest first, of one
/// metric type or of all.
pub async fn server_series(
    db: &Db,
    server_id: i64,
    metric_type: Option<&str>,
) -> Result<Vec<StoredPoint>> {
    let rows = sqlx::query_as::<_, MetricRow>(
        "SELECT server_id, metric_type, value, timestamp FROM metrics \
         WHERE server_id = $1 AND ($2 IS NULL OR metric_type = $2) \
         ORDER BY timestamp DESC, id DESC LIMIT $3",
    )
    .bind(server_id)
    .bind(metric_type)
    .bind(SERIES_MAX)
    .fetch_all(&db.read)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| StoredPoint {
            metric_type: r.metric_type,
            value: r.value,
            timestamp_ms: r.timestamp,
        })
        .collect())
}

/// Points across all of a user's servers, newest first.
pub async fn user_points(
    db: &Db,
    user_id: i64,
    metric_type: Option<&str>,
    since_ms: Option<i64>,
    limit: i64,
) -> Result<Vec<MetricPoint>> {
    let rows = sqlx::query_as::<_, MetricRow>(
        "SELECT m.server_id, m.metric_type, m.value, m.timestamp FROM metrics m \
         JOIN servers s ON s.id = m.server_id \
         WHERE s.user_id = $1 AND ($2 IS NULL OR m.metric_type = $2) \
           AND ($3 IS NULL OR m.timestamp >= $3) \
         ORDER BY m.timestamp DESC, m.id DESC LIMIT $4",
    )
    .bind(user_id)
    .bind(metric_type)
    .bind(since_ms)
    .bind(limit)
    .fetch_all(&db.read)
    .await?;
    Ok(rows.into_iter().map(MetricPoint::from).collect())
}

/// Which of `ids` belong to `user_id`.
pub async fn owned_server_ids(db: &Db, user_id: i64, ids: &[i64]) -> Result<Vec<i64>> {
    let sql = format!(
        "SELECT id FROM servers WHERE user_id = $1 AND id IN {}",
        numbered_rows(1, ids.len(), 2)
    );
    let mut query = sqlx::query_as::<_, (i64,)>(&sql).bind(user_id);
    for id in ids {
        query = query.bind(*id);
    }
    let rows = query.fetch_all(&db.read).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// A done action's effect, in one transaction: the server's new status
/// (a health check keeps it) and a metric point of the action's type whose
/// value is the attempt that did it. False when the server is gone.
pub async fn apply_action(db: &Db, task: &TaskRecord, now: i64) -> Result<bool> {
    let mut tx = db.write.begin().await?;
    let updated = sqlx::query(
        "UPDATE servers SET status = COALESCE($3, status), updated_at = $4 \
         WHERE id = $1 AND user_id = $2",
    )
    .bind(task.server_id)
    .bind(task.user_id)
    .bind(task.action.resulting_status().map(Status::as_str))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO metrics (server_id, metric_type, value, timestamp) VALUES ($1, $2, $3, $4)",
    )
    .bind(task.server_id)
    .bind(task.action.metric_type())
    .bind(f64::from(task.attempts))
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(true)
}

/// Inserts a batch in one statement (architecture §2: batch operations).
pub async fn insert_points(db: &Db, points: &[NewMetricPoint]) -> Result<u64> {
    if points.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "INSERT INTO metrics (server_id, metric_type, value, timestamp) VALUES {}",
        numbered_rows(points.len(), 4, 1)
    );
    let mut query = sqlx::query(&sql);
    for p in points {
        query = query
            .bind(p.server_id)
            .bind(&p.metric_type)
            .bind(p.value)
            .bind(p.timestamp_ms);
    }
    Ok(query.execute(&db.write).await?.rows_affected())
}

/// `($1, $2), ($3, $4)`: `rows` tuples of `columns` placeholders numbered
/// from `first`. (sqlx's `QueryBuilder` writes `?` for the `Any` driver,
/// which PostgreSQL rejects; `$n` works on both backends.)
pub fn numbered_rows(rows: usize, columns: usize, first: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    let mut n = first;
    for row in 0..rows {
        sql.push_str(if row == 0 { "(" } else { ", (" });
        for column in 0..columns {
            let _ = write!(sql, "{}${n}", if column == 0 { "" } else { ", " });
            n += 1;
        }
        sql.push(')');
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::numbered_rows;

    #[test]
    fn placeholders_are_numbered_across_rows() {
        assert_eq!(numbered_rows(2, 3, 1), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(numbered_rows(1, 2, 2), "($2, $3)");
    }
}
