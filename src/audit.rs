//! The audit trail: who did what, when, from where, and how it went; never
//! a secret. Only services record events (each use case that changes
//! something records its own, with the [`Caller`] it was given), so whether
//! an action is audited never depends on which door it came through.
//!
//! Events are buffered in memory and written in batches (once a second, or
//! sooner when many pile up), so an audited login still costs a single
//! write of its own. The buffer is bounded: if the database is away for
//! long, the oldest unwritten events are dropped, and counted.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, Notify, watch};

use crate::clock::Clock;
use crate::domain::Caller;
use crate::store::{AuditEvent, Store};

/// Events held at most while the database cannot take them.
const BUFFER_LIMIT: usize = 10_000;
/// A batch is written as soon as this many events wait.
const BATCH: usize = 200;

pub struct AuditLog {
    store: Arc<dyn Store>,
    clock: Clock,
    pending: Mutex<Vec<AuditEvent>>,
    wake: Notify,
    dropped: AtomicU64,
}

impl AuditLog {
    pub fn new(store: Arc<dyn Store>, clock: Clock) -> Self {
        Self {
            store,
            clock,
            pending: Mutex::new(Vec::new()),
            wake: Notify::new(),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues a successful action of `caller`. `target` must never carry a
    /// secret: ids and names only.
    pub async fn record(&self, caller: &Caller, action: &str, target: &str) {
        self.push(caller, action, target, true).await;
    }

    /// Queues an attempt of `caller` that was refused.
    pub async fn refused(&self, caller: &Caller, action: &str, target: &str) {
        self.push(caller, action, target, false).await;
    }

    async fn push(&self, caller: &Caller, action: &str, target: &str, ok: bool) {
        let event = AuditEvent {
            at: self.clock.now(),
            actor: caller.actor.to_string(),
            action: action.to_owned(),
            target: target.chars().take(200).collect(),
            client_addr: caller.addr.clone(),
            outcome: if ok { "success" } else { "failure" }.to_owned(),
        };
        let mut pending = self.pending.lock().await;
        if pending.len() >= BUFFER_LIMIT {
            pending.remove(0);
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        pending.push(event);
        if pending.len() >= BATCH {
            self.wake.notify_one();
        }
    }

    /// Writes everything queued so far. On failure the events go back to
    /// the front of the queue for the next attempt.
    pub async fn flush(&self) -> Result<(), crate::store::StoreError> {
        let batch = std::mem::take(&mut *self.pending.lock().await);
        if batch.is_empty() {
            return Ok(());
        }
        if let Err(e) = self.store.insert_audit(&batch).await {
            let mut pending = self.pending.lock().await;
            let newer = std::mem::replace(&mut *pending, batch);
            pending.extend(newer);
            let excess = pending.len().saturating_sub(BUFFER_LIMIT);
            pending.drain(..excess);
            self.dropped.fetch_add(excess as u64, Ordering::Relaxed);
            return Err(e);
        }
        Ok(())
    }

    /// Events dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Writes batches until `shutdown` fires, then writes what is left.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            }
            if let Err(e) = self.flush().await {
                tracing::warn!(error = %e, "audit events not written yet; will retry");
            }
        }
        if let Err(e) = self.flush().await {
            tracing::warn!(error = %e, "audit events lost at shutdown");
        }
    }
}
