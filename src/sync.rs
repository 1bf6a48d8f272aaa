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

/// Listens for other replicas' changes; call before the first load.
pub async fn subscribe(store: &dyn crate::store::Store) -> Option<Box<dyn Subscription>> {
    match store.subscribe().await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for changes; relying on periodic resync");
            None
        }
    }
}

/// Runs until `shutdown` fires. `listener` was subscribed before the list
/// was first loaded, so nothing committed in between is missed.
pub async fn run(
    state: Arc<AppState>,
    mut listener: Option<Box<dyn Subscription>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(state.settings.revocation.resync_interval.get());
    ticker.tick().await;
    // Set when notifications may have been lost, until a resync succeeds.
    let mut stale = false;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {
                if stale {
                    state.sessions.clear();
                    state.clients.clear();
                }
                if resync(&state, "periodic").await {
                    stale = false;
                }
            }
            event = next(&mut listener) => match event {
                Ok(notification) => {
                    // `None`: the listener reconnected; anything sent
                    // meanwhile is lost. Likewise after an error.
                    if notification.is_none() || stale {
                        state.sessions.clear();
                        state.clients.clear();
                        stale = !resync(&state, "after reconnecting").await;
                    }
                    if let Some(notification) = notification {
                        apply(&state, notification).await;
                    }
                }
                Err(e) => {
                    stale = true;
                    tracing::warn!(error = %e, "change listener failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

async fn apply(state: &AppState, notification: Notification) {
    match notification {
        Notification::Revoked(entry) => state.revocations.add([entry]),
        Notification::Watermark { user, valid_after } => {
            state.revocations.set_watermark(user, valid_after);
        }
        Notification::SessionsEnded(ids) => state.sessions.remove(&ids),
        Notification::ClientChanged(id) => state.clients.forget(&id),
        Notification::KeysChanged => reload_keys(state).await,
    }
}

async fn reload_keys(state: &AppState) {
    if let Err(e) = crate::service::keys::reload(state).await {
        tracing::warn!(error = %e, "could not reload the signing keys; will retry at the next resync");
    }
}

/// Reloads the revocation list (and the signing keys); `true` when it worked.
async fn resync(state: &AppState, why: &str) -> bool {
    reload_keys(state).await;
    let window = watermark_window(state);
    let leeway = state.expect.leeway_secs;
    let store = state.store.as_ref();
    match revocation::resync(&state.revocations, store, &state.clock, window, leeway).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, why, "revocation resync failed; will retry");
            false
        }
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
