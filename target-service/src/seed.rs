//! Deterministic demo data, so that scenarios and tests can rely on it.
//!
//! Seeded user `i` (1-based) has the key `demo-key-<i>`. Users 1–10 are
//! standard tier, 11–20 premium, the rest api tier. Each has
//! `servers_per_user` servers named `demo-server-<j>` (1-based), and each
//! server `metric_points` points cycling through `cpu`, `memory` and
//! `requests`, ten seconds apart, ending at seeding time. Seeding is
//! idempotent: what exists already is left as it is.

use crate::{
    api::auth::hash_key,
    db::Db,
    error::Result,
    model::{Status, Transport, now_ms},
    store::{Tier, numbered_rows},
};

/// Rows per multi-row INSERT: well under both backends' bind limits.
const CHUNK: usize = 500;
/// Metric types of seeded points, in turn.
pub const METRIC_TYPES: [&str; 3] = ["cpu", "memory", "requests"];

/// How much demo data to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeedSize {
    pub users: u32,
    pub servers_per_user: u32,
    pub metric_points: u32,
}

/// The key of seeded user `i`.
pub fn demo_key(user: u32) -> String {
    format!("demo-key-{user}")
}

/// The tier of seeded user `i`.
pub fn demo_tier(user: u32) -> Tier {
    match user {
        0..=10 => Tier::Standard,
        11..=20 => Tier::Premium,
        _ => Tier::Api,
    }
}

pub async fn seed(db: &Db, size: SeedSize) -> Result<()> {
    let mut tx = db.write.begin().await?;
    let users: Vec<u32> = (1..=size.users).collect();
    for chunk in users.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO users (id, key_hash, tier) VALUES {} ON CONFLICT DO NOTHING",
            numbered_rows(chunk.len(), 3, 1)
        );
        let mut insert = sqlx::query(&sql);
        for &user in chunk {
            insert = insert
                .bind(i64::from(user))
                .bind(hash_key(&demo_key(user)))
                .bind(demo_tier(user).as_str());
        }
        insert.execute(&mut *tx).await?;
    }

    let now = now_ms();
    let servers: Vec<(u32, u32)> = users
        .iter()
        .flat_map(|&u| (1..=size.servers_per_user).map(move |j| (u, j)))
        .collect();
    let mut created: Vec<(i64, u32, u32)> = Vec::new();
    for chunk in servers.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO servers (user_id, name, transport, status, config, created_at, updated_at) \
             VALUES {} ON CONFLICT DO NOTHING RETURNING id, user_id, name",
            numbered_rows(chunk.len(), 7, 1)
        );
        let mut insert = sqlx::query_as::<_, (i64, i64, String)>(&sql);
        for &(user, j) in chunk {
            let transport = [Transport::Stdio, Transport::Http, Transport::Sse][j as usize % 3];
            let status = [
                Status::Running,
                Status::Stopped,
                Status::Running,
                Status::Error,
            ][j as usize % 4];
            insert = insert
                .bind(i64::from(user))
                .bind(format!("demo-server-{j}"))
                .bind(transport.as_str())
                .bind(status.as_str())
                .bind(format!(
                    r#"{{"command":"mcp-demo","args":["--port","{}"],"env":{{"REGION":"eu-{}"}}}}"#,
                    9000 + j,
                    user % 4
                ))
                .bind(now)
                .bind(now);
        }
        let rows = insert.fetch_all(&mut *tx).await?;
        created.extend(rows.into_iter().filter_map(|(id, user, name)| {
            let j = name.strip_prefix("demo-server-")?.parse().ok()?;
            Some((id, u32::try_from(user).ok()?, j))
        }));
    }

    let points: Vec<(i64, u32, u32, u32)> = created
        .iter()
        .flat_map(|&(id, user, j)| (0..size.metric_points).map(move |k| (id, user, j, k)))
        .collect();
    for chunk in points.chunks(CHUNK) {
        let sql = format!(
            "INSERT INTO metrics (server_id, metric_type, value, timestamp) VALUES {}",
            numbered_rows(chunk.len(), 4, 1)
        );
        let mut insert = sqlx::query(&sql);
        for &(id, user, j, k) in chunk {
            insert = insert
                .bind(id)
                .bind(METRIC_TYPES[k as usize % METRIC_TYPES.len()])
                .bind(f64::from((user * 31 + j * 17 + k * 7) % 100))
                .bind(now - i64::from(k) * 10_000);
        }
        insert.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_by_user_number() {
        assert_eq!(demo_tier(1), Tier::Standard);
        assert_eq!(demo_tier(10), Tier::Standard);
        assert_eq!(demo_tier(11), Tier::Premium);
        assert_eq!(demo_tier(20), Tier::Premium);
        assert_eq!(demo_tier(21), Tier::Api);
        assert_eq!(demo_key(7), "demo-key-7");
    }
}
