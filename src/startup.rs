//! Start-up in one place: open the store, migrate, load keys, bootstrap the
//! first admin, build the [`AppState`], bind, and hand back a running server
//! whose real port can be read (bind port 0 in tests).

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::middleware::{Condition, DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::audit::AuditLog;
use crate::client_cache::ClientCache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::jwt::Expectations;
use crate::crypto::keys::KeyRing;
use crate::crypto::password::PasswordHasher;
use crate::domain::{Password, Scope};
use crate::error::Error;
use crate::revocation::{self, RevocationList};
use crate::service::users::Bootstrap;
use crate::session_cache::SessionCache;
use crate::state::{AppState, Prebuilt, origin_of};
use crate::store::Subscription;
use crate::{http, service, store, sync};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
}

impl From<Error> for StartupError {
    fn from(e: Error) -> Self {
        // Start-up failures go to the operator, so the full cause is shown.
        match e {
            Error::Internal(cause) | Error::Unavailable(cause) => Self::Setup(cause),
            other => Self::Setup(other.to_string()),
        }
    }
}

impl From<store::StoreError> for StartupError {
    fn from(e: store::StoreError) -> Self {
        Self::Setup(e.to_string())
    }
}

pub struct Application {
    port: u16,
    server: Server,
    state: Arc<AppState>,
    bootstrap: Bootstrap,
    stop_tasks: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// As [`Application::build`], with a clock the caller controls.
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        crate::meter::install();
        let listener =
            TcpListener::bind(&settings.server.bind).map_err(|source| StartupError::Bind {
                bind: settings.server.bind.clone(),
                source,
            })?;
        let address = listener.local_addr().map_err(|source| StartupError::Bind {
            bind: settings.server.bind.clone(),
            source,
        })?;
        let (state, bootstrap, changes) = assemble(settings, clock, address).await?;
        let (stop_tasks, _) = watch::channel(false);
        let tasks = spawn_background_tasks(&state, changes, &stop_tasks);
        let server = serve(listener, web::Data::from(Arc::clone(&state)))?;
        tracing::info!(
            %address,
            issuer = state.issuer(),
            database = state.store.backend(),
            "countersign is listening"
        );
        Ok(Self {
            port: address.port(),
            server,
            state,
            bootstrap,
            stop_tasks,
            tasks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The state the server runs on, for callers that drive its jobs
    /// directly (the purge, in tests).
    pub fn state(&self) -> Arc<AppState> {
        Arc::clone(&self.state)
    }

    /// A handle to stop the server from elsewhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// The admin password generated on this start, if one was: shown once,
    /// then gone.
    pub fn take_bootstrap_password(&mut self) -> Option<SecretString> {
        match std::mem::replace(&mut self.bootstrap, Bootstrap::NotNeeded) {
            Bootstrap::CreatedWithPassword(password) => Some(password),
            Bootstrap::Created | Bootstrap::NotNeeded => None,
        }
    }

    /// Serves until the server is stopped (SIGTERM or Ctrl-C: it stops
    /// accepting and gives requests in flight `server.shutdown_timeout`),
    /// then stops the background tasks (the audit log writes what it
    /// holds), writes the session uses not yet persisted, and closes the
    /// database pools.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let outcome = self.server.await;
        self.stop_tasks.send_replace(true);
        for task in self.tasks {
            if tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
            {
                tracing::warn!("a background task did not stop within 10 s");
            }
        }
        for (id, at) in self.state.sessions.unpersisted() {
            if let Err(e) = self.state.store.touch_session(id, at).await {
                tracing::warn!(error = %e, "a session's last use was not written at shutdown");
            }
        }
        self.state.store.close().await;
        tracing::info!("countersign stopped");
        outcome
    }
}

/// Opens the store, migrates, and loads or creates everything the state
/// holds: keys, the shared refresh secret, the revocation list, the first admin.
async fn assemble(
    settings: Settings,
    clock: Clock,
    address: SocketAddr,
) -> Result<(Arc<AppState>, Bootstrap, Option<Box<dyn Subscription>>), StartupError> {
    let store = store::connect(&settings.database).await?;
    if settings.database.migrate_on_start {
        store.migrate().await?;
    }
    let issuer = match settings.tokens.issuer.trim_end_matches('/') {
        "" => {
            if address.ip().is_unspecified() {
                tracing::warn!(
                    %address,
                    "tokens.issuer is not set and the server listens on every interface; \
                     set it to the public URL clients use, or their token checks will fail"
                );
            }
            format!("http://{address}")
        }
        configured => configured.to_owned(),
    };
    let audience = match settings.tokens.audience.as_str() {
        "" => issuer.clone(),
        configured => configured.to_owned(),
    };
    let password_settings = settings.password.clone();
    let hasher = tokio::task::spawn_blocking(move || PasswordHasher::new(&password_settings))
        .await
        .map_err(|e| StartupError::Setup(e.to_string()))?
        .map_err(Error::from)?;
    let master_key = service::keys::master_key(&settings.keys)?;
    let loaded = service::keys::load_or_create(
        store.as_ref(),
        &settings.keys,
        master_key.as_deref(),
        &clock,
    )
    .await?;
    let keys = service::keys::key_set(
        &loaded,
        clock.now(),
        service::tokens::max_lifetime(&settings),
    )?;
    let refresh_secret = service::keys::refresh_secret(store.as_ref(), &clock).await?;
    // Listen first, load second: nothing committed in between is missed.
    let changes = sync::subscribe(store.as_ref()).await;
    let revocations = Arc::new(RevocationList::new());
    let window = service::tokens::max_lifetime(&settings).num_seconds();
    let leeway = i64::try_from(settings.tokens.leeway.get().as_secs()).unwrap_or(60);
    revocation::resync(&revocations, store.as_ref(), &clock, window, leeway).await?;
    let sessions = SessionCache::new(
        settings.sessions.cache_ttl.get(),
        settings.sessions.cache_capacity,
    );
    let configured_admin = match settings.bootstrap.admin_password.expose_secret() {
        "" => None,
        password => Some(
            Password::parse(password.to_owned())
                .map_err(|e| StartupError::Setup(format!("bootstrap.admin_password: {e}")))?,
        ),
    };
    let bootstrap =
        service::users::bootstrap_admin(store.as_ref(), &hasher, &clock, configured_admin).await?;
    let user_scopes = Scope::from_tokens(settings.tokens.user_scopes.iter().cloned());
    let discovery = Prebuilt::json(&service::discovery::metadata(&issuer, &user_scopes));
    let openapi = http::openapi::document(&issuer);
    let leeway_secs = i64::try_from(settings.tokens.leeway.get().as_secs()).unwrap_or(60);
    let issuer_for_origin = issuer.clone();
    let audit = Arc::new(AuditLog::new(Arc::clone(&store), clock.clone()));
    let state = AppState {
        audit,
        clients: ClientCache::default(),
        store,
        keys: KeyRing::new(keys, loaded),
        master_key,
        hasher,
        revocations,
        sessions,
        clock,
        expect: Expectations {
            issuer,
            audience,
            leeway_secs,
        },
        user_scopes,
        discovery,
        openapi,
        origin: origin_of(&issuer_for_origin),
        refresh_secret,
        settings,
    };
    Ok((Arc::new(state), bootstrap, changes))
}

/// The change listener with its resync, and the purge job, stopped
/// through `stop`.
fn spawn_background_tasks(
    state: &Arc<AppState>,
    changes: Option<Box<dyn Subscription>>,
    stop: &watch::Sender<bool>,
) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(sync::run(Arc::clone(state), changes, stop.subscribe())),
        tokio::spawn(Arc::clone(&state.audit).run(stop.subscribe())),
        tokio::spawn(service::keys::run(Arc::clone(state), stop.subscribe())),
        tokio::spawn(service::maintenance::run(
            Arc::clone(state),
            stop.subscribe(),
        )),
    ]
}

/// Cross-origin access for the configured origins only (none by default):
/// browsers elsewhere may not call the API, and never with credentials
/// other than a bearer token.
fn cors(origins: &[String]) -> Cors {
    origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin))
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .expose_headers([header::WWW_AUTHENTICATE, header::RETRY_AFTER])
        .max_age(3600)
}

/// SIGTERM or Ctrl-C: either stops the server gracefully. actix's own
/// handlers would take SIGINT for a forced stop and cut the requests in
/// flight, so the server listens for both itself.
async fn stop_requested() {
    // A signal that cannot be listened for must not stop the server.
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("Ctrl-C received; stopping gracefully"),
        () = terminate => tracing::info!("SIGTERM received; stopping gracefully"),
    }
}

fn serve(listener: TcpListener, state: web::Data<AppState>) -> Result<Server, StartupError> {
    let workers = match state.settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let body_limit = state.settings.server.body_limit;
    let cors_origins = state.settings.server.cors_origins.clone();
    let shutdown_timeout = state.settings.server.shutdown_timeout.get().as_secs();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .wrap(Condition::new(
                !cors_origins.is_empty(),
                cors(&cors_origins),
            ))
            .wrap(DefaultHeaders::new().add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")))
            .wrap(from_fn(http::trace::trace_request))
            .configure(|cfg| http::configure(cfg, body_limit))
    })
    .workers(workers)
    .shutdown_timeout(shutdown_timeout)
    .shutdown_signal(stop_requested())
    .listen(listener)
    .map_err(|e| StartupError::Setup(format!("cannot serve: {e}")))?
    .run();
    Ok(server)
}
