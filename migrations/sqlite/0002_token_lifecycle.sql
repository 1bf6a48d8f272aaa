-- Refresh tokens, revocation list and per-user watermarks. SQLite serves a
-- single process, so there are no notification triggers here.

-- "Every token of this user issued at or before this time is invalid."
ALTER TABLE users ADD COLUMN tokens_valid_after INTEGER;
CREATE INDEX users_tokens_valid_after ON users (tokens_valid_after)
    WHERE tokens_valid_after IS NOT NULL;

CREATE TABLE refresh_tokens (
    -- SHA-256 of the token; the token itself is never stored.
    token_hash        BLOB PRIMARY KEY,
    family_id         BLOB NOT NULL,
    user_id           BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id         TEXT NOT NULL,
    scope             TEXT NOT NULL,
    issued_at         INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    -- Set when the token is rotated; kept until expiry to detect reuse.
    used_at           INTEGER,
    -- The access token issued with this refresh token, revoked with its family.
    access_jti        TEXT NOT NULL,
    access_expires_at INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- A family is revoked as a whole (reuse, logout, admin); rotation checks
-- this table, so a successor inserted concurrently is revoked too.
CREATE TABLE revoked_families (
    family_id  BLOB PRIMARY KEY,
    revoked_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX revoked_families_expiry ON revoked_families (expires_at);

CREATE TABLE revoked_tokens (
    -- Insertion-ordered: the sync and feed cursor.
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    jti        TEXT NOT NULL UNIQUE,
    subject    TEXT NOT NULL,
    -- The token's own exp: the entry is useless after it.
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

-- Secrets the replicas share (the refresh-token successor key).
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
