-- Schema of the reference service (SQLite flavour; keep in step with ../postgres).
-- Times are epoch milliseconds (INTEGER) so that the same queries run on both backends.

CREATE TABLE users (
    id          INTEGER PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    tier        TEXT NOT NULL CHECK (tier IN ('standard', 'premium', 'api'))
);

CREATE TABLE servers (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    transport   TEXT NOT NULL,
    status      TEXT NOT NULL,
    config      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (user_id, name)
);

CREATE TABLE metrics (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id   INTEGER NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    metric_type TEXT NOT NULL,
    value       REAL NOT NULL,
    timestamp   INTEGER NOT NULL
);

CREATE TABLE logs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    server_id   INTEGER NOT NULL REFERENCES servers (id) ON DELETE CASCADE,
    level       TEXT NOT NULL,
    message     TEXT NOT NULL,
    timestamp   INTEGER NOT NULL
);

-- The three indexes of architecture §2.
CREATE INDEX idx_servers_user_status ON servers (user_id, status);
CREATE INDEX idx_metrics_server_time ON metrics (server_id, timestamp DESC);
CREATE INDEX idx_logs_server_level ON logs (server_id, level) WHERE level IN ('ERROR', 'CRITICAL');
