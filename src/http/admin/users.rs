//! Admin actions on users: `POST /v1/admin/users/{id}/revoke` ends every
//! token the user holds, now.

use actix_web::{HttpResponse, web};
use uuid::Uuid;

use crate::domain::UserId;
use crate::error::Error;
use crate::http::auth::Admin;
use crate::service::revocation;
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/v1/admin/users/{id}/revoke", "POST")
            .route(web::post().to(revoke_all)),
    );
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn revoke_all(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    id: web::Path<String>,
) -> Result<HttpResponse, Error> {
    let id = Uuid::parse_str(&id).map_err(|_| Error::NotFound("no user with this id".into()))?;
    if !revocation::revoke_user(&state, UserId(id), "revoked by an administrator").await? {
        return Err(Error::NotFound("no user with this id".into()));
    }
    Ok(HttpResponse::NoContent().finish())
}
