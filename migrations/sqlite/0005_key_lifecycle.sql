-- Signing keys may be encrypted at rest (AES-256-GCM under a master key):
-- this names the master key, NULL for a key stored in the clear.
ALTER TABLE signing_keys ADD COLUMN key_encryption TEXT;
