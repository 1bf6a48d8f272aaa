//! What each command does. Read-only commands open the store alone; those
//! that change something open a full context ([`open_context`]) and call
//! the service, which records the audit event; the context's audit log is
//! written out before the command returns.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::NewClient;
use crate::clock::Clock;
use crate::config::Settings;
use crate::context::{self, Ctx};
use crate::crypto::master_key::MasterKey;
use crate::domain::{
    Caller, ClientId, DomainError, GrantTypes, Jti, Password, RedirectUris, Resource, Resources,
    Roles, Scope, UserId, Username,
};
use crate::error::Error;
use crate::service::presented::{self, Target};
use crate::service::registrations::{Registration, Settings as ClientSettings};
use crate::startup::{self, Application, PasswordOutlet};
use crate::store::{self, Store};
use crate::{service, telemetry};

pub(super) async fn serve(settings: Settings) -> Result<(), String> {
    telemetry::init(settings.log.format);
    // Without a terminal, stdout goes to a log stream (a container runtime,
    // a service manager): a generated password goes to a file instead.
    let terminal = std::io::stdout().is_terminal();
    let outlet = if terminal {
        PasswordOutlet::Caller
    } else {
        PasswordOutlet::File(settings.bootstrap.password_file.clone())
    };
    let mut app = Application::build_with(settings, Clock::system(), outlet)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(password) = app.take_bootstrap_password() {
        show_bootstrap_password(&password);
    }
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

/// Shows a generated admin password once, on the terminal.
fn show_bootstrap_password(password: &SecretString) {
    println!(
        "Created user \"admin\" (role admin). Its password is shown only this once:\n\n    {}\n",
        password.expose_secret()
    );
    let _ = std::io::stdout().flush();
}

/// What `countersign check` checks, in order; the settings themselves were
/// validated when they loaded.
pub(super) async fn check(settings: Settings) -> Result<(), String> {
    println!("configuration: valid");
    let url = settings.database.url.expose_secret();
    if let Some(path) = url.strip_prefix("sqlite://") {
        let path = path.split('?').next().unwrap_or(path);
        if !Path::new(path).exists() {
            return Err(format!(
                "the SQLite database {path} does not exist yet; `countersign serve` or \
                 `countersign migrate` creates it"
            ));
        }
    }
    let store = open_store(&settings, false).await?;
    store
        .ping()
        .await
        .map_err(|e| format!("the database does not answer: {e}"))?;
    println!("database: {} answers", store.backend());
    let master = service::keys::master_key(&settings.keys).map_err(|e| e.for_operator())?;
    let count = service::keys::open_all(store.as_ref(), master.as_deref())
        .await
        .map_err(|e| format!("signing keys: {}", e.for_operator()))?;
    let how = if master.is_some() {
        "with the master key"
    } else {
        "stored in the clear"
    };
    println!("signing keys: {count}, all open ({how})");
    store.close().await;
    Ok(())
}

pub(super) async fn migrate(settings: Settings) -> Result<(), String> {
    let store = open_store(&settings, true).await?;
    println!("migrations applied ({})", store.backend());
    Ok(())
}

async fn open_store(settings: &Settings, migrate: bool) -> Result<Arc<dyn Store>, String> {
    let store = store::connect(&settings.database)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    if migrate {
        store.migrate().await.map_err(|e| e.to_string())?;
    }
    Ok(store)
}

/// A context for a command that changes something: the same one the
/// server builds, so the command goes through the same service (and the
/// same audit trail) as the HTTP API would.
async fn open_context(settings: Settings) -> Result<Ctx, String> {
    let issuer = context::issuer(&settings, &settings.server.bind);
    let opened = startup::open(settings, Clock::system(), issuer)
        .await
        .map_err(|e| e.for_operator())?;
    Ok(opened.ctx)
}

/// Runs a change in a fresh context as the operator, then writes the
/// audit events it recorded and closes the database.
async fn as_operator<T, F>(settings: Settings, change: F) -> Result<T, String>
where
    F: AsyncFnOnce(&Ctx, &Caller) -> Result<T, Error>,
{
    let ctx = open_context(settings).await?;
    let outcome = change(&ctx, &Caller::cli()).await;
    if let Err(e) = ctx.audit.flush().await {
        eprintln!("warning: the audit event was not recorded: {e}");
    }
    ctx.store.close().await;
    outcome.map_err(|e| e.for_operator())
}

pub(super) async fn add_user(
    settings: Settings,
    name: &str,
    roles: &[String],
    password_stdin: bool,
) -> Result<(), String> {
    let username = Username::parse(name).map_err(|e| e.to_string())?;
    let roles = Roles::parse(roles.iter().map(String::as_str)).map_err(|e| e.to_string())?;
    let password = read_password(password_stdin)?;
    let password = Password::parse(password).map_err(|e| e.to_string())?;
    let user = as_operator(settings, async |ctx, caller| {
        service::users::create(ctx, caller, username, &password, roles).await
    })
    .await?;
    println!("created user {} ({})", user.username, user.id);
    Ok(())
}

fn read_password(from_stdin: bool) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| format!("cannot read the password from stdin: {e}"))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return Err("no terminal to ask for the password on; use --password-stdin".into());
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| e.to_string())?;
    let second = rpassword::prompt_password("Repeat password: ").map_err(|e| e.to_string())?;
    if first != second {
        return Err("the passwords do not match".into());
    }
    Ok(first)
}

pub(super) async fn reset_mfa(settings: Settings, id: &str) -> Result<(), String> {
    let id = uuid::Uuid::parse_str(id)
        .map(UserId)
        .map_err(|_| format!("{id:?} is not a user id (a UUID, as the admin API lists users)"))?;
    as_operator(settings, async |ctx, caller| {
        service::mfa::reset(ctx, caller, id).await
    })
    .await?;
    println!("removed the second factors of user {id} and ended their tokens and sessions");
    Ok(())
}

pub(super) async fn revoke_token(settings: Settings, jti: &str) -> Result<(), String> {
    let jti = Jti::parse(jti).map_err(|e| e.to_string())?;
    let outcome = as_operator(settings, async |ctx, caller| {
        presented::revoke_as_admin(ctx, caller, Target::Jti(jti)).await
    })
    .await?;
    if outcome.revoked {
        println!("revoked {jti}");
    } else {
        println!("{jti} was already revoked");
    }
    Ok(())
}

pub(super) async fn add_client(settings: Settings, new: NewClient) -> Result<(), String> {
    let registration = registration(new).map_err(|e| e.to_string())?;
    let (client, secret) = as_operator(settings, async |ctx, caller| {
        service::registrations::register(ctx, caller, registration).await
    })
    .await?;
    println!("created client {}", client.id);
    if let Some(secret) = secret {
        println!("client secret (shown only this once): {secret}");
    }
    Ok(())
}

fn registration(new: NewClient) -> Result<Registration, DomainError> {
    let client_id = ClientId::parse(&new.client_id)?;
    Ok(Registration {
        confidential: !new.public,
        settings: ClientSettings {
            name: new.name.unwrap_or_else(|| client_id.to_string()),
            grant_types: GrantTypes::parse(new.grants.iter().map(String::as_str))?,
            scopes: Scope::parse(&new.scopes.join(" "))?,
            audiences: Resources::parse(new.audiences.iter().map(String::as_str))?,
            default_audience: new
                .default_audience
                .as_deref()
                .map(Resource::parse)
                .transpose()?,
            introspection: new.introspect,
            redirect_uris: RedirectUris::parse(new.redirect_uris.iter().map(String::as_str))?,
            post_logout_redirect_uris: RedirectUris::parse(
                new.post_logout_redirect_uris.iter().map(String::as_str),
            )?,
            trusted: new.trusted,
        },
        client_id: Some(client_id),
    })
}

pub(super) async fn calibrate(target: std::time::Duration, parallelism: u32) -> Result<(), String> {
    let found = tokio::task::spawn_blocking(move || {
        crate::crypto::password::calibrate(target, parallelism)
    })
    .await
    .map_err(|e| e.to_string())?
    .map_err(|e| e.to_string())?;
    let millis = found.measured.as_secs_f64() * 1000.0;
    println!(
        "Argon2id at memory_kib = {}, iterations = {}, parallelism = {} takes {millis:.1} ms here\n\
         (about {:.0} logins per second per core). Put in your configuration:\n\n\
         [password]\nmemory_kib = {}\niterations = {}\nparallelism = {}\n\n\
         Existing hashes are upgraded to these parameters as their users log in.",
        found.memory_kib,
        found.iterations,
        found.parallelism,
        1000.0 / millis.max(0.001),
        found.memory_kib,
        found.iterations,
        found.parallelism,
    );
    Ok(())
}

pub(super) async fn rotate_keys(settings: Settings, emergency: bool) -> Result<(), String> {
    let max_age = settings.keys.jwks_max_age().as_secs();
    let rotation = as_operator(settings, async |ctx, caller| {
        service::keys::rotate(ctx, caller, emergency).await
    })
    .await?;
    println!(
        "added key {}, signing from {}",
        rotation.kid,
        rotation.activates_at.to_rfc3339()
    );
    if emergency {
        println!(
            "warning: it signs at once; caches that fetched the JWKS in the last {max_age} s \
             refuse its tokens until they refetch"
        );
    }
    Ok(())
}

pub(super) async fn rewrap_keys(
    settings: Settings,
    new_key_file: Option<PathBuf>,
) -> Result<(), String> {
    let encoded = match new_key_file {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => std::env::var("COUNTERSIGN_NEW_MASTER_KEY").map_err(
            |_| "give the new master key in COUNTERSIGN_NEW_MASTER_KEY or --new-key-file",
        )?,
    };
    let new = MasterKey::from_base64(&encoded).map_err(|e| format!("new master key: {e}"))?;
    let count = as_operator(settings, async |ctx, caller| {
        service::keys::rewrap(ctx, caller, &new).await
    })
    .await?;
    println!(
        "re-encrypted {count} signing keys under master key {}; configure it (and restart every \
         replica) before removing the old one",
        new.id()
    );
    Ok(())
}

pub(super) async fn list_keys(settings: Settings) -> Result<(), String> {
    let store = open_store(&settings, false).await?;
    let keys = store.signing_keys().await.map_err(|e| e.to_string())?;
    println!("{:<45} {:<6} {:<26} RETIRES", "KID", "ALG", "ACTIVATES");
    for key in keys {
        println!(
            "{:<45} {:<6} {:<26} {}",
            key.kid,
            key.algorithm,
            key.activates_at.0.to_rfc3339(),
            key.retires_at
                .map_or_else(|| "-".to_owned(), |t| t.0.to_rfc3339())
        );
    }
    Ok(())
}
