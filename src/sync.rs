//! Keeping a replica in step with the others: the notification listener
//! (LISTEN/NOTIFY on PostgreSQL) applies revocations, watermarks and ended
//! sessions as they commit anywhere, and a periodic resync of the
//! revocation list covers anything a lost notification would have missed.
//! After the listener reconnects, both the list and the session cache are
//! brought back in step at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::revocation;
use crate::state::AppState;
use crate::store::{Notification, StoreError, Subscription};

/// Runs until `shutdown` fires.
pub async fn run(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut listener = match state.store.subscribe().await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for changes; relying on periodic resync");
            None
        }
    };
    let mut ticker = tokio::time::interval(state.settings.revocation.resync_interval.get());
    ticker.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => resync(&state, "periodic").await,
            event = next(&mut listener) => match event {
                Ok(Some(notification)) => apply(&state, notification),
                // The listener reconnected: anything sent meanwhile is lost.
                Ok(None) => {
                    state.sessions.clear();
                    state.clients.clear();
                    resync(&state, "after reconnecting").await;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change listener failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

fn apply(state: &AppState, notification: Notification) {
    match notification {
        Notification::Revoked(entry) => state.revocations.add([entry]),
        Notification::Watermark { user, valid_after } => {
            state.revocations.set_watermark(user, valid_after);
        }
        Notification::SessionsEnded(ids) => state.sessions.remove(&ids),
        Notification::ClientChanged(id) => state.clients.forget(&id),
    }
}

async fn resync(state: &AppState, why: &str) {
    let window = watermark_window(state);
    if let Err(e) = revocation::resync(
        &state.revocations,
        state.store.as_ref(),
        &state.clock,
        window,
    )
    .await
    {
        tracing::warn!(error = %e, why, "revocation resync failed; will retry");
    }
}

/// How long a watermark matters: the longest an access token lives.
pub fn watermark_window(state: &AppState) -> i64 {
    crate::service::tokens::max_lifetime(&state.settings).num_seconds()
}

async fn next(
    listener: &mut Option<Box<dyn Subscription>>,
) -> Result<Option<Notification>, StoreError> {
    match listener {
        Some(listener) => listener.next().await,
        None => std::future::pending().await,
    }
}
