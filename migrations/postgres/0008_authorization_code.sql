-- The authorization code flow (OAuth 2.1, OpenID Connect).

-- Where a client's answers and its users may be sent, and whether it is a
-- first-party app (no consent asked).
ALTER TABLE clients ADD COLUMN redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '';
ALTER TABLE clients ADD COLUMN trusted BOOLEAN NOT NULL DEFAULT FALSE;

-- How the person behind a session proved who they are (RFC 8176 values,
-- space-separated), for the ID token's `amr`.
ALTER TABLE sessions ADD COLUMN amr TEXT NOT NULL DEFAULT 'pwd';

-- Codes handed to a client's redirect URI: single use, short-lived, and
-- bound to everything the request said. Kept after use (until they
-- expire) so a replay is recognised and what the first redemption issued
-- can be revoked.
CREATE TABLE authorization_codes (
    -- SHA-256 of the code; the code itself is never stored.
    code_hash         BYTEA PRIMARY KEY,
    client_id         TEXT NOT NULL,
    user_id           UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id        UUID NOT NULL,
    redirect_uri      TEXT NOT NULL,
    code_challenge    TEXT NOT NULL,
    nonce             TEXT,
    scope             TEXT NOT NULL,
    audiences         TEXT NOT NULL,
    auth_time         TIMESTAMPTZ NOT NULL,
    amr               TEXT NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    used_at           TIMESTAMPTZ,
    -- What the redemption issues, fixed before it is issued so a replay
    -- racing it still revokes it.
    access_jti        TEXT NOT NULL,
    access_expires_at TIMESTAMPTZ NOT NULL,
    family_id         UUID NOT NULL
);
CREATE INDEX authorization_codes_expiry ON authorization_codes (expires_at);

-- What a user allowed a client, remembered so the consent page is asked
-- once per user, client and scopes.
CREATE TABLE consents (
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
