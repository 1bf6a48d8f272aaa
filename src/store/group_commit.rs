//! Group commit: the hot writes of concurrent requests share transactions.
//!
//! On SQLite, with `synchronous=FULL`, every commit waits for an fsync, and
//! SQLite commits one transaction at a time: a write per fsync is the
//! ceiling. On PostgreSQL each write was its own transaction on a pooled
//! connection, paying a commit and the pool's test of the connection it
//! takes back (a round trip) per write. Here the writes are queued to
//! committing tasks (one on SQLite, its single writer; a few on
//! PostgreSQL, so that round trips overlap), each of which runs whatever is
//! waiting as one transaction, then one `COMMIT` (one flush) for all of
//! them. While a batch is being made durable the next one gathers, so the
//! batches grow with the load and a lone write waits for nobody.
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
//! be reached) does every write of the batch get that error, and none of
//! them is applied.
//!
//! On PostgreSQL a write's row locks are held until its batch commits, a
//! few milliseconds more than alone; a redemption racing it on another
//! connection waits for that commit, as it waited for the single
//! statement's before.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::{Database, Pool, Postgres, Sqlite};
use tokio::sync::{Mutex, mpsc, oneshot};

use super::StoreError;

/// A boxed future borrowing the writer's connection.
pub type WriteFuture<'c, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// Writes waiting beyond this many wait for the next batch, so that one
/// batch cannot hold the write lock for long.
const MAX_BATCH: usize = 256;

/// What the backends' batches differ in.
pub trait Batched: Database {
    /// What opens a batch's transaction.
    const BEGIN: &'static str;
}

impl Batched for Sqlite {
    /// Takes SQLite's write lock up front, so the batch cannot fail midway
    /// for want of it.
    const BEGIN: &'static str = "BEGIN IMMEDIATE";
}

impl Batched for Postgres {
    const BEGIN: &'static str = "BEGIN";
}

/// A connection of the backend `DB`.
type Connection<DB> = <DB as Database>::Connection;

/// The queue of writes shared by the committing tasks.
type Queue<DB> = Arc<Mutex<mpsc::UnboundedReceiver<Box<dyn Pending<DB>>>>>;

/// The queue of writes and the tasks that commit them.
pub struct GroupCommit<DB: Batched>
where
    for<'c> &'c mut Connection<DB>: sqlx::Executor<'c, Database = DB>,
{
    jobs: mpsc::UnboundedSender<Box<dyn Pending<DB>>>,
}

impl<DB: Batched> GroupCommit<DB>
where
    for<'c> &'c mut Connection<DB>: sqlx::Executor<'c, Database = DB>,
{
    /// Starts `committers` committing tasks on the current runtime; each
    /// takes a connection of `writer` for each batch, so other writes on
    /// that pool take their turns between batches.
    pub fn start(writer: Pool<DB>, committers: usize) -> Self {
        let (jobs, queue) = mpsc::unbounded_channel();
        let queue: Queue<DB> = Arc::new(Mutex::new(queue));
        for _ in 0..committers.max(1) {
            tokio::spawn(commit_batches(writer.clone(), Arc::clone(&queue)));
        }
        Self { jobs }
    }

    /// Runs `write` inside the next batch's transaction and answers once
    /// that transaction is durable. `write` must do nothing but its
    /// statements on the connection it is given (no `BEGIN` or `COMMIT`),
    /// and may be run again after a rollback.
    pub async fn write<T, F>(&self, write: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut Connection<DB>) -> WriteFuture<'c, T> + Send + Sync + 'static,
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
trait Pending<DB: Database>: Send {
    /// Runs the write on `connection`; returns whether it succeeded and
    /// keeps its outcome for the answer (replacing an earlier run's).
    fn run<'c>(
        &'c mut self,
        connection: &'c mut Connection<DB>,
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

impl<DB, T, F> Pending<DB> for Job<T, F>
where
    DB: Database,
    T: Send + 'static,
    F: for<'c> Fn(&'c mut Connection<DB>) -> WriteFuture<'c, T> + Send + Sync + 'static,
{
    fn run<'c>(
        &'c mut self,
        connection: &'c mut Connection<DB>,
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
/// gone (the store was dropped). A committer takes what is waiting when
/// its turn at the queue comes, and lets the next one gather meanwhile.
async fn commit_batches<DB: Batched>(writer: Pool<DB>, queue: Queue<DB>)
where
    for<'c> &'c mut Connection<DB>: sqlx::Executor<'c, Database = DB>,
{
    let mut batch: Vec<Box<dyn Pending<DB>>> = Vec::new();
    loop {
        {
            let mut queue = queue.lock().await;
            let Some(first) = queue.recv().await else {
                return;
            };
            batch.push(first);
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
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
async fn commit<DB: Batched>(
    writer: &Pool<DB>,
    batch: &mut [Box<dyn Pending<DB>>],
) -> Result<(), StoreError>
where
    for<'c> &'c mut Connection<DB>: sqlx::Executor<'c, Database = DB>,
{
    let mut connection = writer.acquire().await?;
    let mut savepoints = false;
    loop {
        sqlx::raw_sql(DB::BEGIN).execute(&mut *connection).await?;
        let outcome = run(&mut connection, batch, savepoints).await;
        if !matches!(outcome, Ok(Ran::AllSucceeded | Ran::Isolated)) {
            // Whatever the database left open goes; nothing of this run
            // stays.
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

async fn run<DB: Batched>(
    connection: &mut Connection<DB>,
    batch: &mut [Box<dyn Pending<DB>>],
    savepoints: bool,
) -> Result<Ran, StoreError>
where
    for<'c> &'c mut Connection<DB>: sqlx::Executor<'c, Database = DB>,
{
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

    use sqlx::postgres::PgConnectOptions;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
    use sqlx::{Connection as _, PgConnection, PgPool, SqlitePool};

    use super::*;

    /// Opens another pool on the scratch table's database.
    type Reopen<DB> = Box<dyn Fn() -> Pin<Box<dyn Future<Output = Pool<DB>>>>>;

    /// A table `t (v TEXT PRIMARY KEY)` holding `taken`, a pool on it, a
    /// group committing to it, and how to reach it from another pool.
    struct Scratch<DB: Batched>
    where
        for<'c> &'c mut Connection<DB>: sqlx::Executor<'c, Database = DB>,
    {
        pool: Pool<DB>,
        group: GroupCommit<DB>,
        other: Reopen<DB>,
        _dir: Option<tempfile::TempDir>,
        /// PostgreSQL's schema, and where to drop it from.
        schema: Option<(String, String)>,
    }

    impl<DB: Batched> Scratch<DB>
    where
        for<'c> &'c mut Connection<DB>: sqlx::Executor<'c, Database = DB>,
    {
        /// Drops what the test made in PostgreSQL (SQLite's directory goes
        /// by itself).
        async fn remove(self) {
            self.pool.close().await;
            if let Some((url, schema)) = self.schema {
                let mut admin = PgConnection::connect(&url).await.unwrap();
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
            }
        }
    }

    const TABLE: &str = "CREATE TABLE t (v TEXT PRIMARY KEY); INSERT INTO t VALUES ('taken')";

    /// SQLite as the store opens it: one writer connection, WAL.
    async fn sqlite() -> Scratch<Sqlite> {
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
        sqlx::raw_sql(TABLE).execute(&pool).await.unwrap();
        Scratch {
            group: GroupCommit::start(pool.clone(), 1),
            pool,
            other: Box::new(move || {
                let url = url.clone();
                Box::pin(async move { SqlitePool::connect(&url).await.unwrap() })
            }),
            _dir: Some(dir),
            schema: None,
        }
    }

    /// PostgreSQL (`COUNTERSIGN_TEST_DATABASE_URL`, as for the other tests;
    /// it must be reachable), in a schema of this test's own.
    async fn postgres() -> Scratch<Postgres> {
        let url = std::env::var("COUNTERSIGN_TEST_DATABASE_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned());
        let schema = format!("group_commit_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("PostgreSQL is needed at {url}: {e}"));
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .unwrap();
        let options = PgConnectOptions::from_str(&url)
            .unwrap()
            .options([("search_path", schema.as_str())]);
        let pool = PgPool::connect_with(options.clone()).await.unwrap();
        sqlx::raw_sql(TABLE).execute(&pool).await.unwrap();
        Scratch {
            group: GroupCommit::start(pool.clone(), 4),
            pool,
            other: Box::new(move || {
                let options = options.clone();
                Box::pin(async move { PgPool::connect_with(options).await.unwrap() })
            }),
            _dir: None,
            schema: Some((url, schema)),
        }
    }

    /// The tests, once per backend: a macro, since sqlx's binding is
    /// written most plainly against a concrete database.
    macro_rules! group_commit_tests {
        ($backend:ident, $db:ty) => {
            mod $backend {
                use super::*;

                /// Inserts each of `values` in order, as one write.
                fn insert<'g>(
                    group: &'g GroupCommit<$db>,
                    values: &[&str],
                ) -> WriteFuture<'g, usize> {
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

                async fn stored(pool: &Pool<$db>) -> Vec<String> {
                    sqlx::query_scalar("SELECT v FROM t ORDER BY v")
                        .fetch_all(pool)
                        .await
                        .unwrap()
                }

                /// Writes queued together commit together, and one that
                /// fails takes nothing of the others with it: neither the
                /// writes before it in the batch nor those after, and none
                /// of its own statements stays.
                #[tokio::test]
                async fn a_failed_write_fails_alone_and_leaves_nothing_half_done() {
                    let scratch = super::$backend().await;
                    let names: Vec<String> = (0..40).map(|i| format!("v{i:02}")).collect();
                    let mut writes: Vec<WriteFuture<'_, usize>> = names
                        .iter()
                        .map(|name| insert(&scratch.group, &[name.as_str()]))
                        .collect();
                    // In the middle of the batch: a plain conflict, and a
                    // write whose second statement conflicts after its first
                    // succeeded.
                    writes.insert(20, insert(&scratch.group, &["taken"]));
                    writes.insert(21, insert(&scratch.group, &["half", "taken"]));
                    let outcomes = futures_util::future::join_all(writes).await;
                    assert!(matches!(outcomes[20], Err(StoreError::Conflict)));
                    assert!(matches!(outcomes[21], Err(StoreError::Conflict)));
                    let succeeded = outcomes.iter().filter(|o| o.is_ok()).count();
                    assert_eq!(succeeded, 40);

                    let mut expected = names.clone();
                    expected.push("taken".to_owned());
                    expected.sort();
                    assert_eq!(
                        stored(&scratch.pool).await,
                        expected,
                        "no `half` left behind"
                    );
                    scratch.remove().await;
                }

                /// A write is answered only once it is committed: what it
                /// reports is there for the next reader, on another pool.
                #[tokio::test]
                async fn an_answered_write_is_committed() {
                    let scratch = super::$backend().await;
                    assert_eq!(insert(&scratch.group, &["a", "b"]).await.unwrap(), 2);
                    let other = (scratch.other)().await;
                    assert_eq!(stored(&other).await, ["a", "b", "taken"]);
                    other.close().await;
                    scratch.remove().await;
                }

                /// When the batch cannot commit, every write in it hears so
                /// and none is applied.
                #[tokio::test]
                async fn a_batch_that_cannot_commit_fails_every_write_in_it() {
                    let scratch = super::$backend().await;
                    // The pool is closed under the writer: nothing can be
                    // written.
                    scratch.pool.close().await;
                    let outcomes = futures_util::future::join(
                        insert(&scratch.group, &["x"]),
                        insert(&scratch.group, &["y"]),
                    )
                    .await;
                    assert!(
                        matches!(outcomes.0, Err(StoreError::Unavailable(_))),
                        "{outcomes:?}"
                    );
                    assert!(
                        matches!(outcomes.1, Err(StoreError::Unavailable(_))),
                        "{outcomes:?}"
                    );
                    let other = (scratch.other)().await;
                    assert_eq!(stored(&other).await, ["taken"]);
                    other.close().await;
                    scratch.remove().await;
                }
            }
        };
    }

    group_commit_tests!(sqlite, Sqlite);
    group_commit_tests!(postgres, Postgres);
}
