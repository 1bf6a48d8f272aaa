//! A bound on how long any request may take, set on every resource (see
//! `http::resource`). A database that stops answering without closing its
//! connections (a network partition, a host that froze) would otherwise
//! hold requests for as long as TCP takes to give up, which is minutes;
//! past `server.request_timeout` the request is dropped (its database work
//! rolls back) and answered 503.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::web;

use crate::context::Ctx;
use crate::error::Error;

pub async fn bound_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let limit = req
        .app_data::<web::Data<Ctx>>()
        .map(|ctx| ctx.settings.server.request_timeout.get())
        .ok_or_else(|| Error::Internal("application state is missing".into()))?;
    let request = req.request().clone();
    match tokio::time::timeout(limit, next.call(req)).await {
        Ok(response) => Ok(response?.map_into_boxed_body()),
        Err(_) => {
            let error = Error::Unavailable(format!(
                "{} {} took longer than server.request_timeout ({}s)",
                request.method(),
                request.path().escape_debug(),
                limit.as_secs_f64()
            ));
            let response = actix_web::ResponseError::error_response(&error);
            Ok(ServiceResponse::new(request, response))
        }
    }
}
