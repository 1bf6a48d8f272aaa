//! Logging out: ending what the caller presented. An access token is
//! revoked (and the session it is bound to, if any, ended); a session is
//! ended; a refresh token the caller names is revoked with its family.

use crate::context::Ctx;
use crate::domain::{Caller, SessionScope};
use crate::error::Error;
use crate::service::access::{Credential, Principal};
use crate::service::{presented, revocation, sessions};

pub async fn logout(
    ctx: &Ctx,
    caller: &Caller,
    principal: &Principal,
    refresh_token: Option<&str>,
) -> Result<(), Error> {
    let target = match &principal.credential {
        Credential::AccessToken(claims) => {
            revocation::revoke_access(ctx, claims, "logout").await?;
            // A token bound to a session logs that session out too.
            if let Some(sid) = principal.session_id() {
                let scope = SessionScope::One {
                    id: sid,
                    owner: Some(principal.user_id()?),
                };
                sessions::end(ctx, scope, "logout").await?;
            }
            format!("access token {}", claims.jti)
        }
        Credential::Session(session) => {
            let scope = SessionScope::One {
                id: session.id,
                owner: None,
            };
            sessions::end(ctx, scope, "logout").await?;
            format!("session {}", session.id)
        }
    };
    ctx.audit.record(caller, "logout", &target).await;
    if let Some(refresh_token) = refresh_token {
        presented::revoke_by_holder(ctx, caller, refresh_token).await?;
    }
    Ok(())
}
