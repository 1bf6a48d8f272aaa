//! `GET /openapi.json` against the routes the server really registers.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::helpers::TestDb;

async fn the_document_covers_every_route_and_nothing_else(db: TestDb) {
    let app = db.spawn().await;
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let spec: Value = response.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(spec["servers"][0]["url"], app.address);

    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|key| !["parameters", "summary", "description"].contains(&key.as_str()))
                .map(move |method| (path.clone(), method.to_uppercase()))
        })
        .collect();
    let served: BTreeSet<(String, String)> = countersign::http::openapi::registered_routes()
        .into_iter()
        .flat_map(|(path, allow)| {
            allow
                .split(", ")
                .filter(|method| *method != "HEAD")
                .map(move |method| (path.clone(), method.to_owned()))
        })
        .collect();
    let undocumented: Vec<_> = served.difference(&documented).collect();
    let unserved: Vec<_> = documented.difference(&served).collect();
    assert!(
        undocumented.is_empty(),
        "routes missing from the document: {undocumented:?}"
    );
    assert!(
        unserved.is_empty(),
        "documented but not served: {unserved:?}"
    );
    // And the router agrees, whatever the registry says: each documented
    // method is routed (anything but 405), every other one answers 405.
    let paths: BTreeSet<&String> = documented.iter().map(|(path, _)| path).collect();
    for path in paths {
        let concrete = path
            .split('/')
            .map(|part| {
                if part.starts_with('{') {
                    "00000000-0000-0000-0000-000000000000"
                } else {
                    part
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            let status = app
                .client
                .request(method.parse().unwrap(), app.url(&concrete))
                .send()
                .await
                .unwrap()
                .status();
            let routed = status != StatusCode::METHOD_NOT_ALLOWED;
            assert_eq!(
                routed,
                documented.contains(&(path.clone(), method.to_owned())),
                "{method} {path} answered {status}"
            );
        }
    }

    // Every operation says what it answers, errors included, and protected
    // ones say how to authenticate.
    for (path, method) in &documented {
        let operation = &spec["paths"][path][method.to_lowercase()];
        let responses = operation["responses"].as_object().unwrap();
        assert!(!responses.is_empty(), "{method} {path} has no responses");
        // Protected operations document their refusal: 401 for the API,
        // the redirect to the login page for the pages.
        if operation["security"].is_array() {
            assert!(
                ["400", "401", "303"]
                    .iter()
                    .any(|code| responses.contains_key(*code)),
                "{method} {path} is protected but documents no refusal"
            );
        }
    }
    let schemes = spec["components"]["securitySchemes"].as_object().unwrap();
    for scheme in ["bearer", "client_basic", "session_cookie"] {
        assert!(schemes.contains_key(scheme), "{scheme}");
    }
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for schema in ["Problem", "OAuthErrorBody"] {
        assert!(schemas.contains_key(schema), "{schema}");
    }
    // Cached like the JWKS, and revalidated with its ETag.
    let etag = app.get("/openapi.json").await.headers()["etag"].clone();
    let again = app
        .client
        .get(app.url("/openapi.json"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
}
both_backends!(the_document_covers_every_route_and_nothing_else);
