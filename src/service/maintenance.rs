//! The purge job: deletes what can no longer matter (revocations, refresh
//! tokens and sessions past their expiry, tombstones of deleted users whose
//! tokens have all expired, audit events past their retention, old login
//! failures), so the tables stay as small as what is still alive.

use std::sync::Arc;

use tokio::sync::watch;

use crate::error::Error;
use crate::service::{sessions, tokens};
use crate::state::AppState;
use crate::store::Purge;

fn delta(duration: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
}

/// One pass; returns the number of rows deleted.
pub async fn purge(state: &AppState) -> Result<u64, Error> {
    // Buffered audit events go in first, so the retention applies to them too.
    state.audit.flush().await?;
    let now = state.clock.now();
    let lifetime = tokens::max_lifetime(&state.settings);
    let removed = state
        .store
        .purge_expired(Purge {
            now,
            revoked_cutoff: now - chrono::TimeDelta::seconds(state.expect.leeway_secs),
            idle_cutoff: sessions::idle_cutoff(state, now),
            tombstone_cutoff: now - lifetime,
            audit_cutoff: now - delta(state.settings.maintenance.audit_retention.get()),
            throttle_cutoff: now - delta(state.settings.throttle.window.get()),
            batch: state.settings.maintenance.purge_batch,
        })
        .await?;
    let horizon = now - lifetime;
    // A revoked token is accepted until exp + leeway; its entry stays as long.
    let expired_before = now.timestamp() - state.expect.leeway_secs;
    state.revocations.prune(expired_before, horizon.timestamp());
    let keys = super::keys::purge(state).await?;
    crate::meter::purged(removed + keys);
    let live = state
        .store
        .count_live_sessions(sessions::idle_cutoff(state, now), now)
        .await?;
    crate::meter::sessions_live(live);
    Ok(removed + keys)
}

/// Purges every `maintenance.purge_interval` until `shutdown` fires.
pub async fn run(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(state.settings.maintenance.purge_interval.get());
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => match purge(&state).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "purged expired rows"),
                Err(e) => tracing::warn!(error = %e, "purge failed; will retry"),
            },
        }
    }
}
