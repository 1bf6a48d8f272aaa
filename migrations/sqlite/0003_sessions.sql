-- Opaque sessions: the note behind the counter. Ending a session deletes its row.

CREATE TABLE sessions (
    id                  BLOB PRIMARY KEY,
    -- SHA-256 of the session token; the token itself is never stored.
    token_hash          BLOB NOT NULL UNIQUE,
    user_id             BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at          INTEGER NOT NULL,
    -- Written at most once per sessions.touch_interval, not on every request.
    last_seen_at        INTEGER NOT NULL,
    absolute_expires_at INTEGER NOT NULL,
    user_agent          TEXT NOT NULL,
    client_addr         TEXT NOT NULL,
    -- An access token issued with the session, revoked when it ends.
    access_jti          TEXT,
    access_expires_at   INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_absolute_expiry ON sessions (absolute_expires_at);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
