//! Login attempts per key (see the `login_attempts` migration): charged
//! before the password is checked, in one statement per attempt, so the
//! count and the back-off hold under concurrency and across replicas.
//!
//! Logins of one busy account or address queue on its rows, so no
//! statement here may wait for a row while holding another in an order a
//! second statement reverses (PostgreSQL would break the deadlock after a
//! second): the charge locks its rows in key order, and a settlement takes
//! one row per statement.

/// What a charge does to one key, as SQL over the row's old values: `$1` is
/// now, `$2` the window's start, `$3` the first delay and `$4` the longest,
/// all in microseconds. A key that is waiting is left as it is (the attempt
/// is refused); otherwise the attempt is counted (a quiet window restarts
/// the count) and, from the threshold on, the key waits a delay that
/// doubles with each further attempt.
mod charge {
    const WAITING: &str = "login_attempts.blocked_until > $1";
    const QUIET: &str = "login_attempts.last_at < $2";

    pub fn sql(rows: usize) -> String {
        let attempts = format!(
            "CASE WHEN {WAITING} THEN login_attempts.attempts \
             WHEN {QUIET} THEN 1 ELSE login_attempts.attempts + 1 END"
        );
        let delay = format!(
            "CASE WHEN {attempts} < excluded.threshold THEN 0 \
             WHEN login_attempts.delay = 0 OR {QUIET} THEN $3 \
             WHEN login_attempts.delay * 2 > $4 THEN $4 \
             ELSE login_attempts.delay * 2 END"
        );
        let values: Vec<String> = (0..rows)
            .map(|i| {
                let (key, threshold, attempt) = (6 + 3 * i, 7 + 3 * i, 8 + 3 * i);
                format!(
                    "(${key}, ${threshold}, 1, $1, \
                     CASE WHEN ${threshold} <= 1 THEN $3 ELSE 0 END, \
                     CASE WHEN ${threshold} <= 1 THEN $1 + $3 ELSE 0 END, ${attempt})"
                )
            })
            .collect();
        format!(
            "INSERT INTO login_attempts \
               (key, threshold, attempts, last_at, delay, blocked_until, attempt) \
             VALUES {values} \
             ON CONFLICT (key) DO UPDATE SET \
               threshold = excluded.threshold, \
               attempts = {attempts}, \
               last_at = CASE WHEN {WAITING} THEN login_attempts.last_at ELSE $1 END, \
               delay = CASE WHEN {WAITING} THEN login_attempts.delay ELSE {delay} END, \
               blocked_until = CASE WHEN {WAITING} THEN login_attempts.blocked_until \
                 WHEN {attempts} < excluded.threshold THEN 0 ELSE $1 + {delay} END, \
               attempt = CASE WHEN {WAITING} THEN login_attempts.attempt \
                 ELSE excluded.attempt END \
             RETURNING key, attempt, blocked_until",
            values = values.join(", "),
        )
    }
}
pub(in crate::store) use charge::sql as charge_sql;

/// `impl ThrottleStore for $store`.
macro_rules! throttle_queries {
    ($store:ty) => {
        const _: () = {
            use $crate::store::{Charge, ChargeOutcome, LoginLookup, StoreError};

            #[async_trait::async_trait]
            impl $crate::store::ThrottleStore for $store {
                async fn login_lookup(
                    &self,
                    username_key: &str,
                    [a, b, c]: [&str; 3],
                    now_us: i64,
                ) -> Result<LoginLookup, StoreError> {
                    Ok(sqlx::query_as::<_, LoginLookup>(
                        "SELECT \
                           (SELECT max(blocked_until) FROM login_attempts \
                            WHERE key IN ($2, $3, $4) AND blocked_until > $5) AS blocked_until, \
                           u.id, u.username, u.password_hash, u.roles, u.disabled, u.created_at, \
                           (EXISTS (SELECT 1 FROM totp_factors t WHERE t.user_id = u.id \
                                    AND t.confirmed_at IS NOT NULL) \
                            OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = u.id)) \
                             AS second_factor \
                         FROM (SELECT 1 AS one) AS anchor \
                         LEFT JOIN users u ON u.username_key = $1 AND u.deleted_at IS NULL",
                    )
                    .bind(username_key)
                    .bind(a)
                    .bind(b)
                    .bind(c)
                    .bind(now_us)
                    .fetch_one(self.reader())
                    .await?)
                }

                async fn charge_attempt(
                    &self,
                    charge: &Charge<'_>,
                ) -> Result<Vec<ChargeOutcome>, StoreError> {
                    let mut keys = charge.keys.to_vec();
                    keys.sort_unstable();
                    let sql = $crate::store::sql::throttle::charge_sql(keys.len());
                    let mut query = sqlx::query_as::<_, (String, i64, i64)>(
                        sqlx::AssertSqlSafe(sql),
                    )
                    .bind(charge.now_us)
                    .bind(charge.window_start_us)
                    .bind(charge.base_delay_us)
                    .bind(charge.max_delay_us)
                    .bind(charge.attempt);
                    for (key, threshold) in keys {
                        query = query.bind(key).bind(threshold).bind(charge.attempt);
                    }
                    let rows = query.fetch_all(self.writer()).await?;
                    Ok(rows
                        .into_iter()
                        .map(|(key, attempt, blocked_until)| ChargeOutcome {
                            key,
                            charged: attempt == charge.attempt,
                            blocked_until_us: blocked_until,
                        })
                        .collect())
                }

                async fn settle_attempt(
                    &self,
                    forget: &[&str],
                    refund: &[&str],
                    attempt: i64,
                ) -> Result<(), StoreError> {
                    let mut keys: Vec<(&str, bool)> = forget
                        .iter()
                        .map(|key| (*key, true))
                        .chain(refund.iter().map(|key| (*key, false)))
                        .collect();
                    keys.sort_unstable();
                    for (key, forgotten) in keys {
                        if forgotten {
                            sqlx::query("DELETE FROM login_attempts WHERE key = $1")
                                .bind(key)
                                .execute(self.writer())
                                .await?;
                            continue;
                        }
                        // The charge is taken back; the back-off it set is
                        // undone only if nobody was charged since (otherwise
                        // the wait is theirs).
                        sqlx::query(
                            "UPDATE login_attempts SET attempts = attempts - 1, \
                               delay = CASE WHEN attempt <> $2 THEN delay \
                                 WHEN attempts - 1 < threshold THEN 0 ELSE delay / 2 END, \
                               blocked_until = CASE WHEN attempt <> $2 THEN blocked_until \
                                 ELSE 0 END \
                             WHERE key = $1 AND attempts > 0",
                        )
                        .bind(key)
                        .bind(attempt)
                        .execute(self.writer())
                        .await?;
                    }
                    Ok(())
                }
            }
        };
    };
}
pub(in crate::store) use throttle_queries;
