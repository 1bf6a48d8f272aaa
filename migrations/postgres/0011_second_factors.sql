-- Second factors: a TOTP authenticator, one-time recovery codes, and the
-- challenges a login with a second factor waits in between its password
-- and its code.

-- At most one TOTP secret per user; unconfirmed until the user proved
-- their app holds it. Sealed under the master key when one is configured
-- (key_encryption: its id; NULL: stored in the clear).
CREATE TABLE totp_factors (
    user_id        UUID PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret         BYTEA NOT NULL,
    key_encryption TEXT,
    created_at     TIMESTAMPTZ NOT NULL,
    confirmed_at   TIMESTAMPTZ,
    -- Until confirmed: a hash of what started the enrolment (the session,
    -- the token or the login waiting for it), the only one that may see
    -- the secret again or confirm it.
    started_by     BYTEA,
    -- The latest time step a code was accepted for: a code is accepted
    -- once, and never one older than the last.
    last_step      BIGINT NOT NULL DEFAULT 0
);

-- An HMAC of each code under the server secret (bound to its user); the
-- codes themselves are shown once and never stored.
CREATE TABLE recovery_codes (
    user_id   UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash BYTEA NOT NULL,
    used_at   TIMESTAMPTZ,
    PRIMARY KEY (user_id, code_hash)
);

-- A login whose password was right, waiting for its second factor.
CREATE TABLE mfa_challenges (
    -- SHA-256 of the mfa_token; the token itself is never stored.
    token_hash BYTEA PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- What the login asked for, to grant once the factor checks out.
    pending    TEXT NOT NULL,
    -- Codes tried, counted before each is checked.
    attempts   BIGINT NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);
CREATE INDEX mfa_challenges_expiry ON mfa_challenges (expires_at);

-- How the family's user signed in (RFC 8176 values, space-separated), so
-- refreshed access tokens say it as the first one did; '' for families
-- begun before it was kept.
ALTER TABLE refresh_tokens ADD COLUMN amr TEXT NOT NULL DEFAULT '';
