-- When each refresh family began: no token of a family lives past its start
-- plus tokens.refresh_max_lifetime, however often it rotates. Every token of
-- a family carries it (a rotation copies it), so a rotation reads it from the
-- token it redeems. One process owns a SQLite database, so nothing inserts
-- without it; the default only stands in until the update below.
ALTER TABLE refresh_tokens ADD COLUMN family_started_at INTEGER NOT NULL DEFAULT 0;

-- A family begun before this column gets the issue time of its oldest token
-- still stored (older, expired ones may have been purged already).
UPDATE refresh_tokens SET family_started_at =
    (SELECT MIN(f.issued_at) FROM refresh_tokens f WHERE f.family_id = refresh_tokens.family_id);
