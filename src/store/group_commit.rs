//! Group commit for SQLite's single writer.
//!
//! With `synchronous=FULL` every commit waits for an fsync, and SQLite
//! commits one transaction at a time: a write per fsync is the ceiling.
//! Here the writes of concurrent requests are queued to one task, which
//! runs whatever is waiting as one transaction, then one `COMMIT` (one
//! fsync) for all of them. While a batch is being made durable the next
//! one gathers, so the batches grow with the load and a lone write waits
//! for nobody.
//!
//! Every request is answered only after the transaction holding its write
//! committed, with its own outcome: a compare-and-set that matches nothing
//! simply wrote nothing, and a write that fails (a unique violation, say)
//! fails alone. Writes rarely fail, so a batch first runs without
//! savepoints, which would cost every write two more statements; when one
//! fails, the transaction is rolled back and the batch runs again with
//! each write in a savepoint of its own, the failed one rolled back to
//! it. A write may therefore run twice (the first run undone), so it must
//! be a function of what it captured and the database alone. Only when the
//! transaction itself cannot commit (the disk is full, the database cannot
//! be opened) does every write of the batch get that error, and none of
//! them is applied.

use std::future::Future;
use std::pin::Pin;

use sqlx::{SqliteConnection, SqlitePool};
use tokio::sync::{mpsc, oneshot};

use super::StoreError;

/// A boxed future borrowing the writer's connection.
pub type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// Writes waiting beyond this many wait for the next batch, so that one
/// batch cannot hold the write lock for long.
const MAX_BATCH: usize = 256;

/// The queue of writes and the task that commits them.
pub struct GroupCommit {
    jobs: mpsc::UnboundedSender<Box<dyn Pending>>,
}

impl GroupCommit {
    /// Starts the committing task on the current runtime; it takes the
    /// connection of `writer` for each batch, so other writes on that pool
    /// take their turns between batches.
    pub fn start(writer: SqlitePool) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        tokio::spawn(commit_batches(writer, queue));
        Self { jobs }
    }

    /// Runs `write` inside the next batch's transaction and answers once
    /// that transaction is durable. `write` must do nothing but its
    /// statements on the connection it is given (no `BEGIN` or `COMMIT`),
    /// and may be run again after a rollback.
    pub async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut SqliteConnection) -> WriteFuture<'c, T> + Send + Sync + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            write,
            outcome: None,
            reply,
        };
        self.jobs
            .send(Box::new(job))
            .map_err(|_| StoreError::Unavailable("the database writer has stopped".into()))?;
        answer.await.map_err(|_| {
            StoreError::Unavailable("the database writer stopped before committing".into())
        })?
    }
}

/// A queued write, whatever it returns.
trait Pending: Send {
    /// Runs the write on `connection`; returns whether it succeeded and
    /// keeps its outcome for the answer (replacing an earlier run's).
    fn run<'c>(
        &'c mut self,
        connection: &'c mut SqliteConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>>;

    /// Answers the request: its own outcome if the batch committed, the
    /// batch's error otherwise.
    fn answer(self: Box<Self>, committed: Result<(), &StoreError>);
}

struct Job<T, F> {
    write: F,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Pending for Job<T, F>
where
    T: Send + 'static,
    F: for<'c> Fn(&'c mut SqliteConnection) -> WriteFuture<'c, T> + Send + Sync + 'static,
{
    fn run<'c>(
        &'c mut self,
        connection: &'c mut SqliteConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'c>> {
        Box::pin(async move {
            let outcome = (self.write)(connection).await;
            let succeeded = outcome.is_ok();
            self.outcome = Some(outcome);
            succeeded
        })
    }

    fn answer(self: Box<Self>, committed: Result<(), &StoreError>) {
        let answer = match (committed, self.outcome) {
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(StoreError::Internal("a queued write never ran".into())),
            (Err(e), _) => Err(e.clone()),
        };
        // The request may have gone (its client left): nothing to tell.
        let _ = self.reply.send(answer);
    }
}

/// Commits whatever is queued, batch after batch, until every sender is
/// gone (the store was dropped).
async fn commit_batches(writer: SqlitePool, mut queue: mpsc::UnboundedReceiver<Box<dyn Pending>>) {
    let mut batch: Vec<Box<dyn Pending>> = Vec::new();
    while let Some(first) = queue.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let committed = commit(&writer, &mut batch).await;
        if let Err(e) = &committed {
            tracing::warn!(error = %e, writes = batch.len(), "a batch of writes failed to commit");
        }
        for job in batch.drain(..) {
            job.answer(committed.as_ref().map(|_| ()));
        }
    }
}

/// One transaction for the batch: without savepoints first, and if a
/// write failed, again with one around each write.
async fn commit(writer: &SqlitePool, batch: &mut [Box<dyn Pending>]) -> Result<(), StoreError> {
    let mut connection = writer.acquire().await?;
    let mut savepoints = false;
    loop {
        sqlx::raw_sql("BEGIN IMMEDIATE")
            .execute(&mut *connection)
            .await?;
        let outcome = run(&mut connection, batch, savepoints).await;
        if !matches!(outcome, Ok(Ran::AllSucceeded | Ran::Isolated)) {
            // Whatever SQLite left open goes; nothing of this run stays.
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *connection).await;
        }
        match outcome? {
            Ran::AllSucceeded | Ran::Isolated => return Ok(()),
            Ran::OneFailed => savepoints = true,
        }
    }
}

/// How a run of the batch went.
enum Ran {
    /// Every write succeeded, and the batch committed.
    AllSucceeded,
    /// With savepoints: the failed writes were rolled back alone, and the
    /// batch committed.
    Isolated,
    /// Without savepoints: a write failed, and nothing was committed.
    OneFailed,
}

async fn run(
    connection: &mut SqliteConnection,
    batch: &mut [Box<dyn Pending>],
    savepoints: bool,
) -> Result<Ran, StoreError> {
    for job in batch.iter_mut() {
        if savepoints {
            sqlx::raw_sql("SAVEPOINT write")
                .execute(&mut *connection)
                .await?;
        }
        let succeeded = job.run(connection).await;
        if savepoints {
            let end = if succeeded {
                "RELEASE write"
            } else {
                "ROLLBACK TO write; RELEASE write"
            };
            sqlx::raw_sql(end).execute(&mut *connection).await?;
        } else if !succeeded {
            return Ok(Ran::OneFailed);
        }
    }
    sqlx::raw_sql("COMMIT").execute(&mut *connection).await?;
    Ok(if savepoints {
        Ran::Isolated
    } else {
        Ran::AllSucceeded
    })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};

    use super::*;

    async fn table() -> (tempfile::TempDir, SqlitePool, GroupCommit) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/group.db", dir.path().display());
        let options = SqliteConnectOptions::from_str(&url)
            .unwrap()
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (v TEXT PRIMARY KEY); INSERT INTO t VALUES ('taken')")
            .execute(&pool)
            .await
            .unwrap();
        let group = GroupCommit::start(pool.clone());
        (dir, pool, group)
    }

    /// Inserts each of `values` in order, as one write.
    fn insert<'g>(group: &'g GroupCommit, values: &[&str]) -> WriteFuture<'g, usize> {
        let values: Vec<String> = values.iter().map(|v| (*v).to_owned()).collect();
        Box::pin(group.write(move |connection| {
            let values = values.clone();
            Box::pin(async move {
                for v in &values {
                    sqlx::query("INSERT INTO t (v) VALUES ($1)")
                        .bind(v)
                        .execute(&mut *connection)
                        .await?;
                }
                Ok(values.len())
            })
        }))
    }

    async fn stored(pool: &SqlitePool) -> Vec<String> {
        sqlx::query_scalar("SELECT v FROM t ORDER BY v")
            .fetch_all(pool)
            .await
            .unwrap()
    }

    /// Writes queued together commit together, and one that fails takes
    /// nothing of the others with it: neither the writes before it in the
    /// batch nor those after, and none of its own statements stays.
    #[tokio::test]
    async fn a_failed_write_fails_alone_and_leaves_nothing_half_done() {
        let (_dir, pool, group) = table().await;
        let names: Vec<String> = (0..40).map(|i| format!("v{i:02}")).collect();
        let mut writes: Vec<WriteFuture<'_, usize>> = names
            .iter()
            .map(|name| insert(&group, &[name.as_str()]))
            .collect();
        // In the middle of the batch: a plain conflict, and a write whose
        // second statement conflicts after its first succeeded.
        writes.insert(20, insert(&group, &["taken"]));
        writes.insert(21, insert(&group, &["half", "taken"]));
        let outcomes = futures_util::future::join_all(writes).await;
        assert!(matches!(outcomes[20], Err(StoreError::Conflict)));
        assert!(matches!(outcomes[21], Err(StoreError::Conflict)));
        let succeeded = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(succeeded, 40);

        let mut expected = names.clone();
        expected.push("taken".to_owned());
        expected.sort();
        assert_eq!(stored(&pool).await, expected, "no `half` left behind");
    }

    /// A write is answered only once it is committed: what it reports is
    /// there for the next reader, on another connection.
    #[tokio::test]
    async fn an_answered_write_is_committed() {
        let (dir, _pool, group) = table().await;
        assert_eq!(insert(&group, &["a", "b"]).await.unwrap(), 2);
        let url = format!("sqlite://{}/group.db", dir.path().display());
        let other = SqlitePoolOptions::new().connect(&url).await.unwrap();
        assert_eq!(stored(&other).await, ["a", "b", "taken"]);
    }

    /// When the batch cannot commit, every write in it hears so and none
    /// is applied.
    #[tokio::test]
    async fn a_batch_that_cannot_commit_fails_every_write_in_it() {
        let (_dir, pool, group) = table().await;
        // The database is closed under the writer: nothing can be written.
        pool.close().await;
        let outcomes =
            futures_util::future::join(insert(&group, &["x"]), insert(&group, &["y"])).await;
        assert!(
            matches!(outcomes.0, Err(StoreError::Unavailable(_))),
            "{outcomes:?}"
        );
        assert!(
            matches!(outcomes.1, Err(StoreError::Unavailable(_))),
            "{outcomes:?}"
        );
    }
}
