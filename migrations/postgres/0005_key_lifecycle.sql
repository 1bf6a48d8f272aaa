-- Signing keys may be encrypted at rest (AES-256-GCM under a master key):
-- this names the master key, NULL for a key stored in the clear.
ALTER TABLE signing_keys ADD COLUMN key_encryption TEXT;

-- Every replica reloads its keys at once when they change.
CREATE FUNCTION countersign_notify_keys() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify('countersign', json_build_object('kind', 'keys_changed')::text);
    RETURN NULL;
END $$ LANGUAGE plpgsql;
CREATE TRIGGER signing_keys_notify AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH STATEMENT EXECUTE FUNCTION countersign_notify_keys();
