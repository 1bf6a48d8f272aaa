//! The black-box harness: a real server on a random port, over real HTTP,
//! on a fresh database (a temporary SQLite file, or a PostgreSQL database
//! created for the test and dropped after it).

use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

use countersign::Application;
use countersign::clock::Clock;
use countersign::config::Settings;
use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

pub const ADMIN: &str = "admin";
pub const ADMIN_PASSWORD: &str = "admin-password-for-tests";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs `test` on a fresh database of `backend`, then drops the database,
/// even when the test panics.
pub async fn run_on<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDb::create(backend).await;
    let outcome = tokio::spawn(test(db.clone())).await;
    db.drop_database().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs the test function `$name(db: TestDb)` once on SQLite and once on
/// PostgreSQL, as `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::helpers::run_on($crate::helpers::Backend::Sqlite, super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::helpers::run_on($crate::helpers::Backend::Postgres, super::$name).await;
            }
        }
    };
}

/// Runs the test function `$name(db: TestDb)` on PostgreSQL only (for
/// several replicas on one database), as `$name::postgres`.
#[macro_export]
macro_rules! postgres_only {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::helpers::run_on($crate::helpers::Backend::Postgres, super::$name).await;
            }
        }
    };
}

/// Runs the test function `$name(db: TestDb)` on SQLite only, as
/// `$name::sqlite`.
#[macro_export]
macro_rules! sqlite_only {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::helpers::run_on($crate::helpers::Backend::Sqlite, super::$name).await;
            }
        }
    };
}

/// A database for one test.
#[derive(Clone)]
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// Unique to this test, for naming things that live outside the database.
    pub id: String,
    inner: Arc<DbGuard>,
}

struct DbGuard {
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

/// Where the tests find PostgreSQL: `COUNTERSIGN_TEST_DATABASE_URL`, or the
/// local default. It must be reachable; the tests do not skip without it.
pub fn postgres_admin_url() -> String {
    std::env::var("COUNTERSIGN_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

impl TestDb {
    /// How many rows `table` holds, read from the database itself: for
    /// what no endpoint shows, such as the purge of rows nothing can use
    /// any more.
    pub async fn count_rows(&self, table: &str) -> i64 {
        let sql = || sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}"));
        match self.backend {
            Backend::Sqlite => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql())
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql())
                    .fetch_one(&mut conn)
                    .await
                    .unwrap()
            }
        }
    }

    pub async fn create(backend: Backend) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temporary directory");
                let url = format!("sqlite://{}/countersign.db", dir.path().display());
                Self {
                    backend,
                    url,
                    id,
                    inner: Arc::new(DbGuard {
                        _dir: Some(dir),
                        postgres: None,
                    }),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let name = format!("cs_test_{id}");
                let mut conn = PgConnection::connect(&admin).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is needed for these tests and is not reachable at {admin}: {e}. \
                         Run scripts/test.sh, which finds or starts one, or set COUNTERSIGN_TEST_DATABASE_URL."
                    )
                });
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
                    .execute(&mut conn)
                    .await
                    .expect("create test database");
                let mut url = url::Url::parse(&admin).expect("database URL");
                url.set_path(&name);
                Self {
                    backend,
                    url: url.to_string(),
                    id,
                    inner: Arc::new(DbGuard {
                        _dir: None,
                        postgres: Some((admin, name)),
                    }),
                }
            }
        }
    }

    async fn drop_database(&self) {
        if let Some((admin, name)) = &self.inner.postgres {
            let Ok(options) = PgConnectOptions::from_str(admin) else {
                return;
            };
            if let Ok(mut conn) = PgConnection::connect_with(&options).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await;
            }
        }
    }

    /// Settings for a server on this database: random port, cheap Argon2
    /// parameters (still real Argon2id), a known admin password.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::defaults().expect("default settings");
        s.server.bind = "127.0.0.1:0".into();
        s.server.workers = 2;
        s.database.url = SecretString::from(self.url.clone());
        s.database.max_connections = 5;
        s.password.memory_kib = 1024;
        s.password.iterations = 1;
        s.bootstrap.admin_password = SecretString::from(ADMIN_PASSWORD);
        // Plain HTTP on loopback: a Secure cookie would never come back.
        s.sessions.cookie_secure = false;
        s
    }

    pub async fn spawn(&self) -> TestApp {
        self.spawn_with(|_| {}).await
    }

    pub async fn spawn_with(&self, tweak: impl FnOnce(&mut Settings)) -> TestApp {
        self.spawn_on_clock(&Clock::system(), tweak).await
    }

    /// A server whose time is `clock` (replicas sharing one clock see the
    /// same moment, as real ones with synchronised clocks do).
    pub async fn spawn_on_clock(
        &self,
        clock: &Clock,
        tweak: impl FnOnce(&mut Settings),
    ) -> TestApp {
        let mut settings = self.settings();
        tweak(&mut settings);
        TestApp::start(self.clone(), settings, clock.clone()).await
    }
}

/// A running server and a client for it.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Clock,
    pub db: TestDb,
    pub settings: Settings,
    pub ctx: Arc<countersign::context::Ctx>,
    handle: actix_web::dev::ServerHandle,
}

impl TestApp {
    async fn start(db: TestDb, settings: Settings, clock: Clock) -> Self {
        let app = Application::build_with_clock(settings.clone(), clock.clone())
            .await
            .expect("server starts");
        let address = format!("http://127.0.0.1:{}", app.port());
        let handle = app.handle();
        let ctx = app.context();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .expect("HTTP client");
        Self {
            address,
            client,
            clock,
            db,
            settings,
            ctx,
            handle,
        }
    }

    /// Stops this server and starts a new one on the same database.
    pub async fn restart(self) -> TestApp {
        self.stop().await;
        TestApp::start(self.db.clone(), self.settings.clone(), self.clock.clone()).await
    }

    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("request")
    }

    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.post_json(
            "/v1/login",
            &json!({ "username": username, "password": password }),
        )
        .await
    }

    /// Logs in and returns the token response, failing the test otherwise.
    pub async fn login_ok(&self, username: &str, password: &str) -> Value {
        let response = self.login(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        response.json().await.expect("token response")
    }

    /// An access token of the bootstrapped admin, with the `admin` scope
    /// the admin API needs.
    pub async fn admin_token(&self) -> String {
        self.admin_token_of(ADMIN, ADMIN_PASSWORD).await
    }

    /// An access token with the `admin` scope, for an administrator.
    pub async fn admin_token_of(&self, username: &str, password: &str) -> String {
        let response = self
            .post_json(
                "/v1/login",
                &json!({"username": username, "password": password, "scope": "admin"}),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "admin login of {username}"
        );
        let body: Value = response.json().await.expect("token response");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Logs in and returns (access token, refresh token).
    pub async fn login_tokens(&self, username: &str, password: &str) -> (String, String) {
        let body = self.login_ok(username, password).await;
        (
            body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        )
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post_form(
            "/oauth2/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// Refreshes and returns (access token, refresh token), failing the
    /// test otherwise.
    pub async fn refresh_ok(&self, refresh_token: &str) -> (String, String) {
        let response = self.refresh(refresh_token).await;
        assert_eq!(response.status(), StatusCode::OK, "refresh");
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.expect("token response");
        (
            body["access_token"]
                .as_str()
                .expect("access_token")
                .to_owned(),
            body["refresh_token"]
                .as_str()
                .expect("refresh_token")
                .to_owned(),
        )
    }

    /// RFC 7662 introspection with an admin's token.
    pub async fn introspect(&self, token: &str) -> Value {
        let admin = self.admin_token().await;
        let response = self
            .client
            .post(self.url("/oauth2/introspect"))
            .bearer_auth(admin)
            .form(&[("token", token)])
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["cache-control"], "no-store");
        response.json().await.expect("introspection")
    }

    /// Creates a user through the admin API; returns its id.
    pub async fn create_user(&self, username: &str, password: &str, roles: &[&str]) -> String {
        let admin = self.admin_token().await;
        let response = self
            .post_json_as(
                "/v1/admin/users",
                &admin,
                &json!({"username": username, "password": password, "roles": roles}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "create {username}");
        let body: Value = response.json().await.expect("user");
        body["id"].as_str().expect("id").to_owned()
    }

    pub async fn send_as(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(body);
        }
        request.send().await.expect("request")
    }

    pub async fn userinfo_status(&self, token: &str) -> StatusCode {
        self.get_with_token("/v1/userinfo", token).await.status()
    }

    pub async fn post_json_as(&self, path: &str, token: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("request")
    }

    /// The current signing key, read from the database, to forge tokens
    /// that are validly signed but wrong in some other way.
    pub async fn signing_key(&self) -> countersign::crypto::keys::KeyMaterial {
        let store = countersign::store::connect(&self.settings.database)
            .await
            .expect("store");
        let keys = store.signing_keys().await.expect("keys");
        let alg = countersign::domain::Algorithm::parse(&keys[0].algorithm).expect("algorithm");
        countersign::crypto::keys::KeyMaterial::from_pkcs8(alg, &keys[0].private_key).expect("key")
    }

    pub async fn jwks(&self) -> Value {
        let response = self.get("/.well-known/jwks.json").await;
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("JWKS")
    }
}

/// The claims of a token, read without verification.
pub fn claims_of(token: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode::<Value>(token)
        .expect("a JWT")
        .claims
}

/// Decodes `token` using only what the JWKS says (the key its `kid` names,
/// under that key's `alg`), as a downstream service would.
pub fn verify_with_jwks(
    token: &str,
    jwks: &Value,
    issuer: &str,
) -> Result<jsonwebtoken::TokenData<Value>, jsonwebtoken::errors::Error> {
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).expect("JWK set");
    let header = jsonwebtoken::decode_header(token)?;
    let kid = header.kid.expect("kid in header");
    let jwk = set.find(&kid).expect("kid in JWKS");
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk)?;
    // The algorithm of the key the kid names, as the JWK states it.
    let alg = jwk.common.key_algorithm.expect("alg in the JWK");
    let alg: jsonwebtoken::Algorithm = alg.to_string().parse()?;
    let mut validation = jsonwebtoken::Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub", "nbf"]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
}

/// The body of an error response, checked to be of the given shape.
pub async fn problem(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status.as_u16());
    body
}

pub async fn oauth_error(response: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.expect("OAuth error body");
    assert_eq!(body["error"], code, "{body}");
    assert!(body["error_description"].is_string());
    body
}
