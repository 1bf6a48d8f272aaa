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
///
/// When the listener's connection drops, it is not left to reconnect by
/// itself: a fresh subscription is made (retried every second), and only
/// once it listens is the list reloaded, so a revocation committed while
/// nobody listened is read by that reload and none after it is missed.
pub async fn run(
    state: Arc<AppState>,
    mut listener: Option<Box<dyn Subscription>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(state.settings.revocation.resync_interval.get());
    ticker.tick().await;
    let mut retry = tokio::time::interval(Duration::from_secs(1));
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Whether this backend has notifications to listen for at all.
    let listens = listener.is_some();
    // Set when notifications may have been lost, until a resync after
    // listening again succeeds.
    let mut stale = false;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {
                if resync(&state, "periodic").await && listener.is_some() {
                    stale = false;
                }
            }
            _ = retry.tick(), if stale => {
                if listens && listener.is_none() {
                    listener = resubscribe(&state).await;
                }
                if listener.is_some() || !listens {
                    state.sessions.clear();
                    state.clients.clear();
                    stale = !resync(&state, "after listening again").await;
                }
            }
            event = next(&mut listener) => match event {
                Ok(Some(notification)) => apply(&state, notification).await,
                // The connection dropped (`None`) or failed: whatever was
                // sent meanwhile is lost. Start again from a new one.
                Ok(None) => {
                    tracing::warn!("change listener disconnected; subscribing again");
                    listener = None;
                    stale = true;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "change listener failed; subscribing again");
                    listener = None;
                    stale = true;
                }
            }
        }
    }
}

async fn resubscribe(state: &AppState) -> Option<Box<dyn Subscription>> {
    match state.store.subscribe().await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::debug!(error = %e, "cannot listen yet; will retry");
            None
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
