//! Login attempts per key (see the `login_attempts` migration): charged
//! before the password is checked, in one statement per attempt, so the
//! count and the back-off hold under concurrency and across replicas.

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

/// Settling an attempt, in one statement (each row's lock is then held for
/// one statement and its commit, not for a transaction of several round
/// trips: logins of one busy account or address queue on those rows). `$1`
/// is the attempt; the forgotten keys come first, then the refunded ones.
/// A forgotten key is zeroed rather than deleted (the same to the next
/// charge; the purge removes the row once it is quiet). A refund takes the
/// charge back, and undoes the back-off it set only if nobody was charged
/// since (otherwise the wait is theirs).
mod settle {
    pub fn sql(forget: usize, refund: usize) -> String {
        let list = |from: usize, n: usize| {
            let items: Vec<String> = (from..from + n).map(|i| format!("${i}")).collect();
            if items.is_empty() {
                "NULL".to_owned()
            } else {
                items.join(", ")
            }
        };
        let forgotten = format!("key IN ({})", list(2, forget));
        let all = list(2, forget + refund);
        format!(
            "UPDATE login_attempts SET \
               attempts = CASE WHEN {forgotten} THEN 0 ELSE attempts - 1 END, \
               delay = CASE WHEN {forgotten} THEN 0 WHEN attempt <> $1 THEN delay \
                 WHEN attempts - 1 < threshold THEN 0 ELSE delay / 2 END, \
               blocked_until = CASE WHEN {forgotten} THEN 0 WHEN attempt <> $1 \
                 THEN blocked_until ELSE 0 END \
             WHERE key IN ({all}) AND ({forgotten} OR attempts > 0)"
        )
    }
}
pub(in crate::store) use settle::sql as settle_sql;

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
                           u.id, u.username, u.password_hash, u.roles, u.disabled, u.created_at \
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
                    let sql = $crate::store::sql::throttle::charge_sql(charge.keys.len());
                    let mut query = sqlx::query_as::<_, (String, i64, i64)>(
                        sqlx::AssertSqlSafe(sql),
                    )
                    .bind(charge.now_us)
                    .bind(charge.window_start_us)
                    .bind(charge.base_delay_us)
                    .bind(charge.max_delay_us)
                    .bind(charge.attempt);
                    for (key, threshold) in charge.keys {
                        query = query.bind(*key).bind(*threshold).bind(charge.attempt);
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
                    let sql = $crate::store::sql::throttle::settle_sql(forget.len(), refund.len());
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(attempt);
                    for key in forget.iter().chain(refund) {
                        query = query.bind(*key);
                    }
                    query.execute(self.writer()).await?;
                    Ok(())
                }
            }
        };
    };
}
pub(in crate::store) use throttle_queries;
