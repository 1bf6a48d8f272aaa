-- Users and signing keys. Timestamps are TIMESTAMPTZ here and integer
-- microseconds since the epoch in the SQLite schema; otherwise the two match.

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    username      TEXT NOT NULL,
    -- Case-folded username: uniqueness and lookups ignore case.
    username_key  TEXT NOT NULL UNIQUE,
    -- Argon2id PHC string.
    password_hash TEXT NOT NULL,
    -- Space-separated role names.
    roles         TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE signing_keys (
    -- RFC 7638 JWK thumbprint.
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    -- PKCS#8 DER.
    private_key  BYTEA NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    activates_at TIMESTAMPTZ NOT NULL,
    retires_at   TIMESTAMPTZ
);
