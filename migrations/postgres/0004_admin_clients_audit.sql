-- Deleted users stay as tombstones until every token they held has expired,
-- so their watermark keeps refusing those tokens; their name is freed.
ALTER TABLE users ADD COLUMN deleted_at TIMESTAMPTZ;

CREATE TABLE clients (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    -- SHA-256 of the secret; NULL for public clients.
    secret_hash BYTEA,
    -- Space-separated grant types and scopes the client may use.
    grant_types TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

CREATE TABLE audit_events (
    id          BIGSERIAL PRIMARY KEY,
    at          TIMESTAMPTZ NOT NULL,
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
    last_failure_at TIMESTAMPTZ NOT NULL,
    blocked_until   TIMESTAMPTZ
);
CREATE INDEX login_throttle_last_failure ON login_throttle (last_failure_at);

-- Replicas drop a changed or deleted client from their caches at once.
CREATE FUNCTION countersign_notify_client() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('countersign',
        json_build_object('kind', 'client_changed', 'client_id', OLD.client_id)::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER clients_notify AFTER UPDATE OR DELETE ON clients
    FOR EACH ROW EXECUTE FUNCTION countersign_notify_client();
