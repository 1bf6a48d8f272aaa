-- Login attempts are counted before the password is checked: each attempt
-- is charged (and the back-off it would cause set) in one atomic statement,
-- so parallel guesses get no more tries than sequential ones; a successful
-- login takes its charge back. Times are microseconds since the epoch on
-- both backends, so the back-off is computed in the same statement.
DROP TABLE login_throttle;

CREATE TABLE login_attempts (
    -- "pair:ACCOUNT@ADDRESS", "addr:ADDRESS" (an IPv6 /64), "user:ACCOUNT"
    -- (devices the account has not signed in from) or "device:ID".
    key           TEXT PRIMARY KEY,
    -- Attempts counted before each further one waits.
    threshold     BIGINT NOT NULL,
    -- Attempts charged within the window.
    attempts      BIGINT NOT NULL,
    last_at       BIGINT NOT NULL,
    -- The current back-off; 0 below the threshold.
    delay         BIGINT NOT NULL,
    -- 0 when not waiting.
    blocked_until BIGINT NOT NULL,
    -- The id of the last attempt charged, so a success can take back its
    -- own charge and nobody else's.
    attempt       BIGINT NOT NULL
);
CREATE INDEX login_attempts_last_at ON login_attempts (last_at);

-- Server secrets are sealed under the master key when one is configured,
-- as signing keys are (the master key's id; NULL: stored in the clear),
-- so a copy of the database alone derives nothing from them.
ALTER TABLE server_secrets ADD COLUMN key_encryption TEXT;
