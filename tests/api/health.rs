use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::TestDb;

async fn health_and_readiness_answer(db: TestDb) {
    let app = db.spawn().await;
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let body: serde_json::Value = ready.json().await.unwrap();
    let expected = match db.backend {
        crate::helpers::Backend::Sqlite => "sqlite",
        crate::helpers::Backend::Postgres => "postgres",
    };
    assert_eq!(body["database"], expected);
}
both_backends!(health_and_readiness_answer);

async fn every_response_carries_a_request_id(db: TestDb) {
    let app = db.spawn().await;
    let fresh = app.get("/healthz").await;
    assert_eq!(fresh.headers()["x-request-id"].len(), 36);
    let echoed = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-123")
        .send()
        .await
        .unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "trace-123");
    let refused = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "has spaces and \"quotes\"")
        .send()
        .await
        .unwrap();
    assert_ne!(
        refused.headers()["x-request-id"],
        "has spaces and \"quotes\""
    );
}
both_backends!(every_response_carries_a_request_id);
