//! Start-up in one place: [`open`] builds the [`Ctx`] (store, migrations,
//! keys, secrets, the replica's lists), for the server and the command
//! line alike; [`Application`] then bootstraps the first admin, binds, and
//! hands back a running server whose real port can be read (bind port 0 in
//! tests).

mod admin_password;

use std::net::TcpListener;
use std::path::PathBuf;
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
use crate::clock::Clock;
use crate::config::Settings;
use crate::context::Ctx;
use crate::crypto::jwt::Expectations;
use crate::crypto::password::PasswordHasher;
use crate::domain::{Algorithm, Password, Scope};
use crate::error::Error;
use crate::http::Site;
use crate::replica::clients::ClientCache;
use crate::replica::revocations::{self, RevocationList};
use crate::replica::sessions::SessionCache;
use crate::replica::sync::{self, Replica};
use crate::service::users::Bootstrap;
use crate::store::{self, Subscription};
use crate::{http, service};
use admin_password::PasswordFile;

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

/// Where the admin password generated on a first start goes.
pub enum PasswordOutlet {
    /// Kept for the caller to show once
    /// ([`Application::take_bootstrap_password`]).
    Caller,
    /// Written to this file, which the server creates for it (mode 0600,
    /// never through a link); a name already taken stops the start before
    /// the admin is created.
    File(PathBuf),
}

pub struct Application {
    port: u16,
    server: Server,
    ctx: Arc<Ctx>,
    bootstrap: Bootstrap,
    stop_tasks: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

/// A context, and the change listener that keeps its replica state fresh
/// (see `crate::replica::sync`); `None` where there is nobody to hear from.
pub struct Opened {
    pub ctx: Ctx,
    pub changes: Option<Box<dyn Subscription>>,
}

/// Opens the store (migrating it when configured), then loads or creates
/// what a context holds: the keys, the shared secrets, the revocation list.
/// `issuer` is the public URL tokens name.
pub async fn open(settings: Settings, clock: Clock, issuer: String) -> Result<Opened, Error> {
    let store = store::connect(&settings.database).await?;
    if settings.database.migrate_on_start {
        store.migrate().await?;
    }
    let typical = service::login::typical_password_hash(store.as_ref()).await?;
    let hasher = start_hasher(&settings, typical).await?;
    let master_key = service::keys::master_key(&settings.keys)?;
    let keys =
        service::keys::load_ring(store.as_ref(), &settings, master_key.as_deref(), &clock).await?;
    let refresh_secret =
        service::keys::refresh_secret(store.as_ref(), master_key.as_deref(), &clock).await?;
    service::mfa::seal_clear_secrets(store.as_ref(), master_key.as_deref()).await?;
    // Listen first, load second: nothing committed in between is missed.
    let changes = sync::subscribe(store.as_ref()).await;
    let revocations = Arc::new(RevocationList::new());
    let window = settings.tokens.max_access_lifetime().num_seconds();
    let leeway = leeway(&settings);
    revocations::resync(&revocations, store.as_ref(), &clock, window, leeway).await?;
    let webauthn = service::passkeys::relying_party(&issuer)?;
    let ctx = Ctx {
        webauthn,
        audit: Arc::new(AuditLog::new(Arc::clone(&store), clock.clone())),
        clients: Arc::new(ClientCache::default()),
        sessions: Arc::new(SessionCache::new(
            settings.sessions.cache_ttl.get(),
            settings.sessions.cache_capacity,
        )),
        user_scopes: Scope::from_tokens(settings.tokens.user_scopes.iter().cloned()),
        expect: Expectations {
            // This server's own endpoints accept tokens meant for it.
            audience: issuer.clone(),
            issuer,
            leeway_secs: leeway,
        },
        store,
        keys: Arc::new(keys),
        master_key,
        hasher,
        revocations,
        clock,
        refresh_secret,
        settings,
    };
    Ok(Opened { ctx, changes })
}

fn leeway(settings: &Settings) -> i64 {
    i64::try_from(settings.tokens.leeway.get().as_secs()).unwrap_or(60)
}

/// Starts the Argon2 pool off the async threads: it hashes once at start,
/// and once more when the stored hashes are typically made at other
/// parameters than the configured ones (see
/// [`service::login::match_unknown_users_cost`]).
async fn start_hasher(
    settings: &Settings,
    typical: Option<String>,
) -> Result<PasswordHasher, Error> {
    let password_settings = settings.password.clone();
    tokio::task::spawn_blocking(move || {
        let hasher = PasswordHasher::new(&password_settings)?;
        if let Some(typical) = typical {
            hasher.match_dummy_to(&typical)?;
        }
        Ok::<_, crate::crypto::password::HashError>(hasher)
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))?
    .map_err(Error::from)
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_clock(settings, Clock::system()).await
    }

    /// As [`Application::build`], with a clock the caller controls.
    pub async fn build_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        Self::build_with(settings, clock, PasswordOutlet::Caller).await
    }

    /// As [`Application::build_with_clock`], with a generated admin
    /// password sent to `outlet`.
    pub async fn build_with(
        settings: Settings,
        clock: Clock,
        outlet: PasswordOutlet,
    ) -> Result<Self, StartupError> {
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
        if settings.tokens.issuer.is_empty() && address.ip().is_unspecified() {
            tracing::warn!(
                %address,
                "tokens.issuer is not set and the server listens on every interface; \
                 set it to the public URL clients use, or their token checks will fail"
            );
        }
        let issuer = crate::context::issuer(&settings, &address.to_string());
        let admin_password = configured_admin_password(&settings)?;
        let Opened { ctx, changes } = open(settings, clock, issuer).await?;
        let bootstrap = create_first_admin(&ctx, admin_password, &outlet).await?;
        let ctx = Arc::new(ctx);
        let (stop_tasks, _) = watch::channel(false);
        let tasks = spawn_background_tasks(&ctx, changes, &stop_tasks);
        let site = Site::new(ctx.issuer(), &ctx.user_scopes, &signing_algorithms(&ctx));
        let server = serve(
            listener,
            web::Data::from(Arc::clone(&ctx)),
            web::Data::new(site),
        )?;
        tracing::info!(
            %address,
            issuer = ctx.issuer(),
            database = ctx.store.backend(),
            "countersign is listening"
        );
        Ok(Self {
            port: address.port(),
            server,
            ctx,
            bootstrap,
            stop_tasks,
            tasks,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The context the server runs in, for callers that drive its jobs
    /// directly (the purge, in tests).
    pub fn context(&self) -> Arc<Ctx> {
        Arc::clone(&self.ctx)
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
        for (id, at) in self.ctx.sessions.unpersisted() {
            if let Err(e) = self.ctx.store.touch_session(id, at).await {
                tracing::warn!(error = %e, "a session's last use was not written at shutdown");
            }
        }
        self.ctx.store.close().await;
        tracing::info!("countersign stopped");
        outcome
    }
}

/// `bootstrap.admin_password`, checked like any password; `None` when
/// unset (a random one is generated).
fn configured_admin_password(settings: &Settings) -> Result<Option<Password>, StartupError> {
    match settings.bootstrap.admin_password.expose_secret() {
        "" => Ok(None),
        password => Password::parse(password.to_owned())
            .map(Some)
            .map_err(|e| StartupError::Setup(format!("bootstrap.admin_password: {e}"))),
    }
}

/// What discovery lists as `id_token_signing_alg_values_supported`: the
/// algorithms of the published keys (signing now, waiting to sign, or
/// still verifying) and the one new keys get, so a rotation to another
/// algorithm is announced from the start of its overlap.
fn signing_algorithms(ctx: &Ctx) -> Vec<Algorithm> {
    let mut algs = ctx.key_set().algorithms();
    algs.push(ctx.settings.keys.algorithm);
    algs.sort_unstable();
    algs.dedup();
    algs
}

/// Creates the first admin on an empty database. A generated password
/// bound for a file gets its file first, so a file that cannot be made
/// leaves no admin whose password nobody knows: the next start tries again.
async fn create_first_admin(
    ctx: &Ctx,
    configured: Option<Password>,
    outlet: &PasswordOutlet,
) -> Result<Bootstrap, StartupError> {
    let mut file = None;
    if let PasswordOutlet::File(path) = outlet
        && configured.is_none()
        && !ctx.store.has_users().await?
    {
        file = Some(PasswordFile::create(path).map_err(StartupError::Setup)?);
    }
    let bootstrap = service::users::bootstrap_admin(ctx, configured).await?;
    match (bootstrap, file) {
        (Bootstrap::CreatedWithPassword(password), Some(file)) => {
            let path = file.path().display().to_string();
            file.write(&password).map_err(StartupError::Setup)?;
            tracing::warn!(
                file = %path,
                "created user \"admin\"; its generated password is in this file: read it, \
                 then delete the file"
            );
            Ok(Bootstrap::Created)
        }
        (bootstrap, Some(file)) => {
            file.discard();
            Ok(bootstrap)
        }
        (bootstrap, None) => Ok(bootstrap),
    }
}

/// The change listener with its resync, and the purge job, stopped
/// through `stop`.
fn spawn_background_tasks(
    ctx: &Arc<Ctx>,
    changes: Option<Box<dyn Subscription>>,
    stop: &watch::Sender<bool>,
) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(sync::run(replica(ctx), changes, stop.subscribe())),
        tokio::spawn(Arc::clone(&ctx.audit).run(stop.subscribe())),
        tokio::spawn(service::keys::run(Arc::clone(ctx), stop.subscribe())),
        tokio::spawn(service::maintenance::run(Arc::clone(ctx), stop.subscribe())),
    ]
}

/// The parts of the context the change listener keeps fresh.
fn replica(ctx: &Ctx) -> Replica {
    Replica {
        store: Arc::clone(&ctx.store),
        clock: ctx.clock.clone(),
        keys: Arc::clone(&ctx.keys),
        master_key: ctx.master_key.clone(),
        revocations: Arc::clone(&ctx.revocations),
        sessions: Arc::clone(&ctx.sessions),
        clients: Arc::clone(&ctx.clients),
        resync_interval: ctx.settings.revocation.resync_interval.get(),
        watermark_window: ctx.settings.tokens.max_access_lifetime().num_seconds(),
        leeway: ctx.expect.leeway_secs,
    }
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

fn serve(
    listener: TcpListener,
    ctx: web::Data<Ctx>,
    site: web::Data<Site>,
) -> Result<Server, StartupError> {
    let workers = match ctx.settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        n => n,
    };
    let body_limit = ctx.settings.server.body_limit;
    let cors_origins = ctx.settings.server.cors_origins.clone();
    let shutdown_timeout = ctx.settings.server.shutdown_timeout.get().as_secs();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(ctx.clone())
            .app_data(site.clone())
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
