//! A strict `application/x-www-form-urlencoded` extractor, for the
//! endpoints that take credentials (capped at [`super::AUTH_BODY_LIMIT`]).
//!
//! actix's own `Form` decodes invalid UTF-8 lossily, turning `%FF` into
//! U+FFFD, so two different byte strings could arrive as the same password.
//! This one refuses such input with a precise 400, and leaves the error
//! shape to the handler (OAuth JSON or problem+json), which receives a
//! `Result` it converts with `?`.

use std::future::Future;
use std::pin::Pin;

use actix_web::error::PayloadError;
use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, web};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::error::Error;

const FORM: &str = "application/x-www-form-urlencoded";

/// The parameters that may be given more than once, read as a list:
/// resource indicators (RFC 8707 §2), and `audience`, their alias.
const REPEATABLE: &[&str] = &["resource", "audience"];

pub struct Form<T>(pub Result<T, ApiError>);

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let is_form = req.content_type().eq_ignore_ascii_case(FORM);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !is_form {
                return Ok(Self(Err(ApiError::UnsupportedMediaType(format!(
                    "content type must be {FORM}"
                )))));
            }
            let body = match body.await {
                Ok(body) => body,
                Err(e) => return Ok(Self(Err(read_error(&e)))),
            };
            Ok(Self(decode(&body).map_err(ApiError::from)))
        })
    }
}

impl<T> Form<T> {
    pub fn into_result(self) -> Result<T, ApiError> {
        self.0
    }

    /// As an OAuth endpoint reads it (RFC 6749 §3.2, RFC 7009 §2.1, RFC
    /// 7662 §2.1): a body that is not a form, JSON included, is a malformed
    /// request, 400 `invalid_request`, not a 415 the RFCs do not know.
    pub fn into_oauth(self) -> Result<T, ApiError> {
        self.0.map_err(|e| match e {
            ApiError::UnsupportedMediaType(_) => Error::InvalidRequest(format!(
                "the request body must be {FORM} (with that content type)"
            ))
            .into(),
            other => other,
        })
    }
}

fn read_error(e: &actix_web::Error) -> ApiError {
    match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => super::too_large(super::AUTH_BODY_LIMIT),
        _ => Error::InvalidRequest("request body could not be read".into()).into(),
    }
}

pub(crate) fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let plus_as_space: Vec<u8> = pair
            .iter()
            .map(|b| if *b == b'+' { b' ' } else { *b })
            .collect();
        let mut halves = plus_as_space.splitn(2, |b| *b == b'=');
        for half in halves.by_ref() {
            if percent_encoding::percent_decode(half)
                .decode_utf8()
                .is_err()
            {
                return Err(Error::InvalidRequest(
                    "form body is not valid UTF-8 once percent-decoded".into(),
                ));
            }
        }
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|e| Error::InvalidRequest(format!("form body is not acceptable: {e}")))?;
    let mut fields = serde_json::Map::new();
    for (name, value) in pairs {
        if REPEATABLE.contains(&name.as_str()) {
            let values = fields
                .entry(name)
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(values) = values {
                values.push(value.into());
            }
        } else if fields.insert(name.clone(), value.into()).is_some() {
            // RFC 6749 §3.1: parameters must not be included more than once.
            return Err(Error::InvalidRequest(format!(
                "form body is not acceptable: `{}` is given more than once",
                name.escape_debug()
            )));
        }
    }
    serde_json::from_value(serde_json::Value::Object(fields))
        .map_err(|e| Error::InvalidRequest(format!("form body is not acceptable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, serde::Serialize, PartialEq)]
    struct Pair {
        a: String,
        b: Option<String>,
    }

    #[test]
    fn decodes_plus_and_percent() {
        let pair: Pair = decode(b"a=x+y%21&b=%C3%A9").unwrap();
        assert_eq!(
            pair,
            Pair {
                a: "x y!".into(),
                b: Some("é".into())
            }
        );
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Resources {
        #[serde(default)]
        resource: Vec<String>,
    }

    #[test]
    fn resources_may_repeat() {
        let read: Resources = decode(b"resource=urn%3Aa&resource=urn%3Ab").unwrap();
        assert_eq!(read.resource, ["urn:a", "urn:b"]);
        let none: Resources = decode(b"").unwrap();
        assert!(none.resource.is_empty());
    }

    #[test]
    fn refuses_invalid_utf8_and_duplicates() {
        assert!(decode::<Pair>(b"a=%FF%FE").is_err());
        assert!(decode::<Pair>(b"a=1&a=2").is_err());
        assert!(decode::<Pair>(b"b=1").is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_any_bytes(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = decode::<Pair>(&body);
        }

        #[test]
        fn what_is_encoded_decodes_back(a in ".*", b in proptest::option::of(".*")) {
            let encoded = serde_urlencoded::to_string(Pair { a: a.clone(), b: b.clone() }).unwrap();
            proptest::prop_assert_eq!(decode::<Pair>(encoded.as_bytes()).unwrap(), Pair { a, b });
        }
    }
}
