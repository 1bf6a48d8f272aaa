-- Passkeys (WebAuthn): a user's registered credentials, and the
-- ceremonies waiting for a browser's answer.

CREATE TABLE passkeys (
    -- The credential's id, unique across all users.
    credential_id BYTEA PRIMARY KEY,
    user_id       UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    -- The credential as webauthn-rs keeps it (JSON): its public key,
    -- algorithm and signature counter. Nothing secret.
    passkey       TEXT NOT NULL,
    -- The authenticator's signature counter as last seen: a signature
    -- whose counter does not move past it (a cloned authenticator) is
    -- refused; 0 for authenticators that keep none (synced passkeys).
    sign_count    BIGINT NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL,
    last_used_at  TIMESTAMPTZ
);
CREATE INDEX passkeys_user ON passkeys (user_id);

-- A registration or an authentication between its challenge and the
-- browser's answer, under a hash of what it is bound to (the session that
-- registers, the login that authenticates); taken once.
CREATE TABLE passkey_ceremonies (
    binding_hash BYTEA PRIMARY KEY,
    state        TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
