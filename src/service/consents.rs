//! What users allowed clients (the consent page's answers, remembered per
//! user, client and scopes): listing them, and withdrawing one, which
//! also ends that client's refresh tokens for the user.

use chrono::{DateTime, Utc};

use crate::context::Ctx;
use crate::domain::{Caller, Scope, UserId};
use crate::error::Error;
use crate::service::{clients, revocation};

/// A client a user allowed, and what.
#[derive(Debug, Clone)]
pub struct Consent {
    pub client_id: String,
    /// The client's display name, if it is still registered.
    pub client_name: Option<String>,
    pub scope: Scope,
    pub granted_at: DateTime<Utc>,
}

pub async fn list(ctx: &Ctx, user: UserId) -> Result<Vec<Consent>, Error> {
    let mut consents = Vec::new();
    for record in ctx.store.list_consents(user).await? {
        let client = clients::find(ctx, &record.client_id).await?;
        consents.push(Consent {
            client_name: client.map(|c| c.name.clone()),
            scope: Scope::parse(&record.scope).unwrap_or_default(),
            granted_at: record.granted_at.0,
            client_id: record.client_id,
        });
    }
    Ok(consents)
}

/// Withdraws the user's consent to `client_id` at `caller`'s request: the
/// next sign-in to it asks again, and every refresh token it holds for the
/// user is revoked (with the access tokens issued with them).
pub async fn withdraw(
    ctx: &Ctx,
    caller: &Caller,
    user: UserId,
    client_id: &str,
) -> Result<(), Error> {
    if !ctx.store.delete_consent(user, client_id).await? {
        return Err(Error::NotFound("no consent given to this client".into()));
    }
    for family in ctx.store.refresh_families(user, client_id).await? {
        revocation::revoke_family(ctx, family, user.0, "consent withdrawn").await?;
    }
    ctx.audit
        .record(caller, "consent.withdraw", client_id)
        .await;
    Ok(())
}
