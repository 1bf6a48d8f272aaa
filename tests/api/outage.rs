//! The database goes away and comes back: requests that need it answer 503
//! quickly, the rest keep working, and nothing needs a restart; a
//! revocation made elsewhere meanwhile is enforced once the replica hears
//! the database again.

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::SecretString;

use countersign::config::Seconds;

use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestApp, TestDb};
use crate::postgres_only;
use crate::proxy::TcpProxy;

const ISSUER: &str = "https://id.countersign.test";

/// A server whose database connections all go through a proxy the test
/// controls, waiting at most a second for a connection and `request_timeout`
/// for a whole request.
async fn behind_a_proxy(db: &TestDb, request_timeout: Duration) -> (TcpProxy, TestApp) {
    let real = url::Url::parse(&db.url).unwrap();
    let target = (real.host_str().unwrap(), real.port().unwrap_or(5432))
        .to_socket_addrs()
        .unwrap()
        .next()
        .unwrap();
    let proxy = TcpProxy::start(target).await;
    let mut via_proxy = real.clone();
    via_proxy.set_host(Some("127.0.0.1")).unwrap();
    via_proxy.set_port(Some(proxy.port)).unwrap();
    let app = db
        .spawn_with(|s| {
            s.tokens.issuer = ISSUER.into();
            s.database.url = SecretString::from(via_proxy.to_string());
            s.database.acquire_timeout = Seconds(Duration::from_secs(1));
            s.server.request_timeout = Seconds(request_timeout);
        })
        .await;
    (proxy, app)
}

/// Logs in until it works again, for up to `within`.
async fn recovers(app: &TestApp, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let status = app.login(ADMIN, ADMIN_PASSWORD).await.status();
        if status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still {status} after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(app.get("/readyz").await.status(), StatusCode::OK);
}

async fn a_database_outage_answers_503_and_recovers(db: TestDb) {
    let (proxy, app) = behind_a_proxy(&db, Duration::from_secs(10)).await;
    // Another replica, on a direct connection, stays up throughout.
    let other = db.spawn_with(|s| s.tokens.issuer = ISSUER.into()).await;
    let token = app.admin_token().await;
    let victim = app.admin_token().await;

    proxy.go_down();
    let started = Instant::now();
    let login = app.login(ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(login.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(login.headers().contains_key("retry-after"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "503 came quickly"
    );
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/.well-known/jwks.json").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_with_token("/v1/userinfo", &token).await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    // Revoked elsewhere while this replica cannot hear about it.
    let logout = other
        .client
        .post(other.url("/v1/logout"))
        .bearer_auth(&victim)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);

    proxy.come_back();
    recovers(&app, Duration::from_secs(15)).await;
    let deadline = Instant::now() + Duration::from_secs(15);
    // The listener reconnects and resyncs: the revocation holds here too.
    loop {
        let status = app.userinfo_status(&victim).await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the revocation made during the outage is not enforced ({status})"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(app.userinfo_status(&token).await, StatusCode::OK);
}
postgres_only!(a_database_outage_answers_503_and_recovers);

/// The database stops answering without closing anything (a partition):
/// requests that need it are abandoned at `server.request_timeout` and
/// answered 503, those that do not keep working, and when the database
/// answers again everything recovers without a restart.
async fn a_silent_database_answers_503_within_the_request_timeout(db: TestDb) {
    let (proxy, app) = behind_a_proxy(&db, Duration::from_secs(2)).await;
    let token = app.admin_token().await;

    proxy.freeze();
    let started = Instant::now();
    let response = app.get_with_token("/v1/userinfo", &token).await;
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "answered after {took:?}, not at the 2 s bound"
    );
    let started = Instant::now();
    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/.well-known/jwks.json").await.status(),
        StatusCode::OK
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "no wait without the database"
    );
    assert_eq!(
        app.get("/readyz").await.status(),
        StatusCode::SERVICE_UNAVAILABLE
    );

    proxy.come_back();
    recovers(&app, Duration::from_secs(15)).await;
    assert_eq!(app.userinfo_status(&token).await, StatusCode::OK);
}
postgres_only!(a_silent_database_answers_503_within_the_request_timeout);
