//! `GET /v1/admin/keys` (the signing keys and their state, never their
//! private parts) and `POST /v1/admin/keys/rotate`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::users::audit;
use crate::crypto::keys::schedule;
use crate::error::Error;
use crate::http::auth::Admin;
use crate::service::{keys, tokens};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        crate::http::resource("/v1/admin/keys", "GET, HEAD").route(crate::http::get().to(list)),
    )
    .service(crate::http::resource("/v1/admin/keys/rotate", "POST").route(web::post().to(rotate)));
}

async fn list(state: web::Data<AppState>, _admin: Admin) -> Result<HttpResponse, Error> {
    let now = state.clock.now();
    let loaded = state.keys.loaded();
    let schedule = schedule(&loaded, now, tokens::max_lifetime(&state.settings));
    let items: Vec<_> = loaded
        .iter()
        .enumerate()
        .map(|(i, key)| {
            let status = if i == schedule.signing {
                "current"
            } else if key.activates_at > now {
                "next"
            } else if schedule.published.contains(&i) {
                "previous"
            } else {
                "retired"
            };
            json!({
                "kid": key.material.kid(),
                "algorithm": keys::RS256,
                "bits": key.material.bits(),
                "created_at": key.created_at,
                "activates_at": key.activates_at,
                "retires_at": loaded.get(i + 1).map(|next| next.activates_at),
                "state": status,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "items": items })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    /// Sign with the new key at once, skipping the pre-publication wait.
    #[serde(default)]
    now: bool,
}

#[tracing::instrument(skip_all, fields(admin = %admin.sub))]
async fn rotate(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, Error> {
    let body = crate::http::optional_json::<RotateBody>(&req, &body)?;
    let emergency = body.is_some_and(|b| b.now);
    let rotation = keys::rotate(&state, emergency).await?;
    let action = if emergency {
        "keys.rotate_now"
    } else {
        "keys.rotate"
    };
    audit(&state, &admin.sub, action, &rotation.kid, &req).await;
    let mut answer = json!({ "kid": rotation.kid, "activates_at": rotation.activates_at });
    if emergency {
        answer["warning"] = format!(
            "the new key signs at once: caches that fetched the JWKS in the last {} s refuse its \
             tokens until they refetch",
            state.settings.keys.jwks_max_age().as_secs()
        )
        .into();
    }
    Ok(HttpResponse::Created().json(answer))
}
