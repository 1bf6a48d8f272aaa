-- When each refresh family began: no token of a family lives past its start
-- plus tokens.refresh_max_lifetime, however often it rotates. Every token of
-- a family carries it (a rotation copies it), so a rotation reads it from the
-- token it redeems. The default serves replicas of the previous release
-- during a rolling upgrade: a token one of them inserts starts its family
-- afresh.
ALTER TABLE refresh_tokens ADD COLUMN family_started_at TIMESTAMPTZ NOT NULL DEFAULT now();

-- A family begun before this column gets the issue time of its oldest token
-- still stored (older, expired ones may have been purged already).
UPDATE refresh_tokens t SET family_started_at = f.started
    FROM (SELECT family_id, MIN(issued_at) AS started FROM refresh_tokens GROUP BY family_id) f
    WHERE f.family_id = t.family_id;
