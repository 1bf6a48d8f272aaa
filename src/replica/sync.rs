//! Keeping a replica in step with the others: the notification listener
//! (LISTEN/NOTIFY on PostgreSQL) applies revocations, watermarks and ended
//! sessions as they commit anywhere, and a periodic resync of the
//! revocation list covers anything a lost notification would have missed.
//! After the listener reconnects, both the list and the session cache are
//! brought back in step at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use super::clients::ClientCache;
use super::keys;
use super::revocations::{self, RevocationList};
use super::sessions::SessionCache;
use crate::clock::Clock;
use crate::crypto::keys::KeyRing;
use crate::crypto::master_key::MasterKey;
use crate::store::{Notification, Store, StoreError, Subscription};

/// What this replica holds, and what it needs to reload it.
pub struct Replica {
    pub store: Arc<dyn Store>,
    pub clock: Clock,
    pub keys: Arc<KeyRing>,
    pub master_key: Option<Arc<MasterKey>>,
    pub revocations: Arc<RevocationList>,
    pub sessions: Arc<SessionCache>,
    pub clients: Arc<ClientCache>,
    /// How often the revocation list is reloaded whole.
    pub resync_interval: Duration,
    /// How long a watermark matters: the longest an access token lives, in
    /// seconds.
    pub watermark_window: i64,
    /// The verification leeway, in seconds: a revocation outlives its
    /// token's `exp` by that much.
    pub leeway: i64,
}

/// Listens for other replicas' changes; call before the first load.
pub async fn subscribe(store: &dyn Store) -> Option<Box<dyn Subscription>> {
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
    replica: Replica,
    mut listener: Option<Box<dyn Subscription>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut ticker = tokio::time::interval(replica.resync_interval);
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
                if resync(&replica, "periodic").await && listener.is_some() {
                    stale = false;
                }
            }
            _ = retry.tick(), if stale => {
                if listens && listener.is_none() {
                    listener = resubscribe(&replica).await;
                }
                if listener.is_some() || !listens {
                    replica.sessions.clear();
                    replica.clients.clear();
                    stale = !resync(&replica, "after listening again").await;
                }
            }
            event = next(&mut listener) => match event {
                Ok(Some(notification)) => apply(&replica, notification).await,
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

async fn resubscribe(replica: &Replica) -> Option<Box<dyn Subscription>> {
    match replica.store.subscribe().await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::debug!(error = %e, "cannot listen yet; will retry");
            None
        }
    }
}

async fn apply(replica: &Replica, notification: Notification) {
    match notification {
        Notification::Revoked(entry) => replica.revocations.add([entry]),
        Notification::Watermark { user, valid_after } => {
            replica.revocations.set_watermark(user, valid_after);
            // Whatever moved the watermark (new roles, a new password,
            // disabling) changed what the user's sessions may do.
            replica.sessions.remove_user(user);
        }
        Notification::SessionsEnded(ids) => replica.sessions.remove(&ids),
        Notification::ClientChanged(id) => replica.clients.forget(&id),
        Notification::KeysChanged => reload_keys(replica).await,
    }
}

async fn reload_keys(replica: &Replica) {
    let reloaded = keys::reload(
        replica.store.as_ref(),
        replica.master_key.as_deref(),
        &replica.keys,
        replica.clock.now(),
    );
    if let Err(e) = reloaded.await {
        tracing::warn!(error = %e, "could not reload the signing keys; will retry at the next resync");
    }
}

/// Reloads the revocation list (and the signing keys); `true` when it worked.
async fn resync(replica: &Replica, why: &str) -> bool {
    reload_keys(replica).await;
    let (window, leeway) = (replica.watermark_window, replica.leeway);
    let store = replica.store.as_ref();
    match revocations::resync(&replica.revocations, store, &replica.clock, window, leeway).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, why, "revocation resync failed; will retry");
            false
        }
    }
}

async fn next(
    listener: &mut Option<Box<dyn Subscription>>,
) -> Result<Option<Notification>, StoreError> {
    match listener {
        Some(listener) => listener.next().await,
        None => std::future::pending().await,
    }
}
