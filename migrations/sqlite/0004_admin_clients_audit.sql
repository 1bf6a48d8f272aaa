-- Deleted users stay as tombstones until every token they held has expired,
-- so their watermark keeps refusing those tokens; their name is freed.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;

CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    -- SHA-256 of the secret; NULL for public clients.
    secret_hash BLOB,
    -- Space-separated grant types and scopes the client may use.
    grant_types TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    -- Who acted: a user id, a client id, "cli", "system" or "anonymous".
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    client_addr TEXT NOT NULL,
    outcome     TEXT NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);
CREATE INDEX audit_events_actor ON audit_events (actor, id);
CREATE INDEX audit_events_action ON audit_events (action, id);

-- Failed logins per account ("user:NAME") and per address ("addr:IP").
CREATE TABLE login_throttle (
    key             TEXT PRIMARY KEY,
    failures        INTEGER NOT NULL,
    last_failure_at INTEGER NOT NULL,
    blocked_until   INTEGER
);
CREATE INDEX login_throttle_last_failure ON login_throttle (last_failure_at);
