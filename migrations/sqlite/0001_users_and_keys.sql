-- Users and signing keys. Timestamps are integer microseconds since the
-- epoch here and TIMESTAMPTZ in the PostgreSQL schema; otherwise the two match.

CREATE TABLE users (
    id            BLOB PRIMARY KEY,
    username      TEXT NOT NULL,
    -- Case-folded username: uniqueness and lookups ignore case.
    username_key  TEXT NOT NULL UNIQUE,
    -- Argon2id PHC string.
    password_hash TEXT NOT NULL,
    -- Space-separated role names.
    roles         TEXT NOT NULL DEFAULT '',
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

CREATE TABLE signing_keys (
    -- RFC 7638 JWK thumbprint.
    kid          TEXT PRIMARY KEY,
    algorithm    TEXT NOT NULL,
    -- PKCS#8 DER.
    private_key  BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    activates_at INTEGER NOT NULL,
    retires_at   INTEGER
);
