//! The database goes away and comes back: requests that need it answer 503
//! quickly, the rest keep working, and nothing needs a restart; a
//! revocation made elsewhere meanwhile is enforced once the replica hears
//! the database again.

use std::net::ToSocketAddrs;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use secrecy::SecretString;

use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb};
use crate::postgres_only;
use crate::proxy::TcpProxy;

async fn a_database_outage_answers_503_and_recovers(db: TestDb) {
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

    let issuer = "https://id.countersign.test";
    let app = db
        .spawn_with(|s| {
            s.tokens.issuer = issuer.into();
            s.database.url = SecretString::from(via_proxy.to_string());
            s.database.acquire_timeout = countersign::config::Seconds(Duration::from_secs(1));
        })
        .await;
    // Another replica, on a direct connection, stays up throughout.
    let other = db.spawn_with(|s| s.tokens.issuer = issuer.into()).await;
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
    let deadline = Instant::now() + Duration::from_secs(15);
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
