-- Refresh tokens, revocation list and per-user watermarks.

-- "Every token of this user issued at or before this time is invalid."
ALTER TABLE users ADD COLUMN tokens_valid_after TIMESTAMPTZ;
CREATE INDEX users_tokens_valid_after ON users (tokens_valid_after)
    WHERE tokens_valid_after IS NOT NULL;

CREATE TABLE refresh_tokens (
    -- SHA-256 of the token; the token itself is never stored.
    token_hash        BYTEA PRIMARY KEY,
    family_id         UUID NOT NULL,
    user_id           UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id         TEXT NOT NULL,
    scope             TEXT NOT NULL,
    issued_at         TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    -- Set when the token is rotated; kept until expiry to detect reuse.
    used_at           TIMESTAMPTZ,
    -- The access token issued with this refresh token, revoked with its family.
    access_jti        TEXT NOT NULL,
    access_expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);

-- A family is revoked as a whole (reuse, logout, admin); rotation checks
-- this table, so a successor inserted concurrently is revoked too.
CREATE TABLE revoked_families (
    family_id  UUID PRIMARY KEY,
    revoked_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX revoked_families_expiry ON revoked_families (expires_at);

CREATE TABLE revoked_tokens (
    -- Commit-ordered enough to serve as a sync and feed cursor.
    seq        BIGSERIAL PRIMARY KEY,
    jti        TEXT NOT NULL UNIQUE,
    subject    TEXT NOT NULL,
    -- The token's own exp: the entry is useless after it.
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ NOT NULL,
    reason     TEXT NOT NULL
);
CREATE INDEX revoked_tokens_expiry ON revoked_tokens (expires_at);

-- Secrets the replicas share (the refresh-token successor key).
CREATE TABLE server_secrets (
    name       TEXT PRIMARY KEY,
    value      BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Fan-out: every replica LISTENs on "countersign" and applies these at once.
CREATE FUNCTION countersign_notify_revoked() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('countersign', json_build_object(
        'kind', 'revoked', 'jti', NEW.jti,
        'exp', floor(extract(epoch FROM NEW.expires_at))::bigint, 'seq', NEW.seq)::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER revoked_tokens_notify AFTER INSERT ON revoked_tokens
    FOR EACH ROW EXECUTE FUNCTION countersign_notify_revoked();

CREATE FUNCTION countersign_notify_watermark() RETURNS trigger AS $$
BEGIN
    IF NEW.tokens_valid_after IS DISTINCT FROM OLD.tokens_valid_after
       AND NEW.tokens_valid_after IS NOT NULL THEN
        PERFORM pg_notify('countersign', json_build_object(
            'kind', 'watermark', 'sub', NEW.id::text,
            'valid_after', floor(extract(epoch FROM NEW.tokens_valid_after))::bigint)::text);
    END IF;
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER users_watermark_notify AFTER UPDATE OF tokens_valid_after ON users
    FOR EACH ROW EXECUTE FUNCTION countersign_notify_watermark();
