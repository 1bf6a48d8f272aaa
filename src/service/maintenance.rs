//! The purge job: deletes revocations, refresh tokens, revoked families and
//! sessions that can no longer matter (past their expiry), so the tables
//! stay as small as the set of tokens and sessions that are still alive.

use std::sync::Arc;

use tokio::sync::watch;

use crate::error::Error;
use crate::service::{sessions, tokens};
use crate::state::AppState;

/// One pass; returns the number of rows deleted.
pub async fn purge(state: &AppState) -> Result<u64, Error> {
    let now = state.clock.now();
    let removed = state
        .store
        .purge_expired(
            now,
            sessions::idle_cutoff(state, now),
            state.settings.maintenance.purge_batch,
        )
        .await?;
    let horizon = now - tokens::max_lifetime(&state.settings);
    state
        .revocations
        .prune(now.timestamp(), horizon.timestamp());
    Ok(removed)
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
