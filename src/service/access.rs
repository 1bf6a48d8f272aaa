//! Who a presented credential speaks for, and what it may do here: the one
//! check every endpoint that takes a bearer token or a session applies
//! (an access JWT or an opaque session token, told apart by shape), and the
//! one rule that says who is an administrator.

use uuid::Uuid;

use crate::context::Ctx;
use crate::crypto::jwt::AccessClaims;
use crate::domain::{ADMIN_SCOPE, Actor, Caller, UserId};
use crate::error::Error;
use crate::service::sessions::{self, SessionAuth};
use crate::service::{tokens, users};

/// What the caller presented, once verified.
pub enum Credential {
    AccessToken(AccessClaims),
    Session(SessionAuth),
}

/// A caller whose access token or session verified.
pub struct Principal {
    /// The credential's subject: a user's id, or a client's for a token a
    /// client holds for itself.
    pub sub: String,
    pub credential: Credential,
}

impl Principal {
    /// The user behind the credential; a client's own token has none. A
    /// client's own token is told by what this server issued (its subject
    /// is the client it was issued to), never by the subject's shape.
    pub fn user_id(&self) -> Result<UserId, Error> {
        if let Credential::AccessToken(claims) = &self.credential
            && claims.sub == claims.client_id
        {
            return Err(Error::Forbidden(
                "this token belongs to a client, not a user".into(),
            ));
        }
        Uuid::parse_str(&self.sub)
            .map(UserId)
            .map_err(|_| Error::Unauthenticated("the token's subject is not a user".into()))
    }

    /// The session the credential is, or is bound to.
    pub fn session_id(&self) -> Option<Uuid> {
        match &self.credential {
            Credential::Session(session) => Some(session.id),
            Credential::AccessToken(claims) => {
                claims.sid.as_deref().and_then(|s| Uuid::parse_str(s).ok())
            }
        }
    }

    /// Who acts with this credential, from `addr`.
    pub fn caller(&self, addr: String) -> Caller {
        let actor = match (self.user_id(), &self.credential) {
            (Ok(user), _) => Actor::User(user),
            (Err(_), Credential::AccessToken(claims)) => Actor::Client(claims.client_id.clone()),
            (Err(_), Credential::Session(_)) => Actor::Anonymous,
        };
        Caller::new(actor, addr)
    }
}

/// Verifies a presented token: a session token by its prefix (and records
/// the use), anything else as an access JWT.
pub async fn authenticate(ctx: &Ctx, token: &str) -> Result<Principal, Error> {
    if token.starts_with(sessions::PREFIX) {
        let session = sessions::authenticate(ctx, token).await?;
        return Ok(Principal {
            sub: session.user_id.to_string(),
            credential: Credential::Session(session),
        });
    }
    let claims = tokens::verify(ctx, token)?;
    sessions::require_live(ctx, &claims).await?;
    Ok(Principal {
        sub: claims.sub.clone(),
        credential: Credential::AccessToken(claims),
    })
}

/// Admits an administrator: a user whose current roles include `admin`
/// (as the database says now, not as an older token claims), by a session
/// (which carries the user's full privileges) or by an access token for
/// this server that was granted the `admin` scope.
pub async fn require_admin(ctx: &Ctx, principal: &Principal) -> Result<(), Error> {
    let not_admin = || Error::Forbidden("this needs the admin role".into());
    let user = principal.user_id().map_err(|_| not_admin())?;
    if let Credential::AccessToken(claims) = &principal.credential
        && !claims.scope.split(' ').any(|s| s == ADMIN_SCOPE)
    {
        return Err(Error::Forbidden(
            "this needs a token with the admin scope: ask for scope=admin at login".into(),
        ));
    }
    let is_admin = match &principal.credential {
        // A session's roles were read from the database moments ago (and
        // are read again as soon as they change).
        Credential::Session(session) => session.roles.is_admin(),
        Credential::AccessToken(_) => users::current(ctx, user)
            .await
            .is_ok_and(|user| user.roles.is_admin()),
    };
    if is_admin { Ok(()) } else { Err(not_admin()) }
}
