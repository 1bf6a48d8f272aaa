//! The purge job: ends sessions that idled out or reached their limit
//! (publishing their bound tokens' revocation for downstream verifiers), and
//! deletes what can no longer matter (revocations and refresh tokens past
//! their expiry, tombstones of deleted users whose
//! tokens have all expired, audit events past their retention, old login
//! failures), so the tables stay as small as what is still alive.

use std::sync::Arc;

use tokio::sync::watch;

use crate::context::Ctx;
use crate::error::Error;
use crate::service::sessions;
use crate::store::Purge;

fn delta(duration: std::time::Duration) -> chrono::TimeDelta {
    chrono::TimeDelta::from_std(duration).unwrap_or(chrono::TimeDelta::MAX)
}

/// One pass; returns the number of rows deleted.
pub async fn purge(ctx: &Ctx) -> Result<u64, Error> {
    // Buffered audit events go in first, so the retention applies to them too.
    ctx.audit.flush().await?;
    let ended = sessions::end_expired(ctx).await?;
    let now = ctx.clock.now();
    let lifetime = ctx.settings.tokens.max_access_lifetime();
    let removed = ended
        + ctx
            .store
            .purge_expired(Purge {
                now,
                revoked_cutoff: now - chrono::TimeDelta::seconds(ctx.expect.leeway_secs),
                tombstone_cutoff: now - lifetime,
                audit_cutoff: now - delta(ctx.settings.maintenance.audit_retention.get()),
                throttle_cutoff: now - delta(ctx.settings.throttle.window.get()),
                batch: ctx.settings.maintenance.purge_batch,
            })
            .await?;
    let horizon = now - lifetime;
    // A revoked token is accepted until exp + leeway; its entry stays as long.
    let expired_before = now.timestamp() - ctx.expect.leeway_secs;
    ctx.revocations.prune(expired_before, horizon.timestamp());
    let keys = super::keys::purge(ctx).await?;
    crate::meter::purged(removed + keys);
    let live = ctx
        .store
        .count_live_sessions(sessions::idle_cutoff(ctx, now), now)
        .await?;
    crate::meter::sessions_live(live);
    Ok(removed + keys)
}

/// Purges every `maintenance.purge_interval` until `shutdown` fires.
pub async fn run(ctx: Arc<Ctx>, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(ctx.settings.maintenance.purge_interval.get());
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = ticker.tick() => {
                match purge(&ctx).await {
                    Ok(0) => {}
                    Ok(removed) => tracing::info!(removed, "purged expired rows"),
                    Err(e) => tracing::warn!(error = %e, "purge failed; will retry"),
                }
                // Stored hashes catch up with new parameters as their
                // owners sign in; unknown users follow the typical one.
                if let Err(e) = super::login::match_unknown_users_cost(Arc::clone(&ctx)).await {
                    tracing::warn!(error = %e, "cannot sample stored password hashes; will retry");
                }
            }
        }
    }
}
