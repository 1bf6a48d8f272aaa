//! The `countersign` command line. Each command calls the same services as
//! the HTTP API; nothing here decides anything on its own.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::master_key::MasterKey;
use crate::crypto::password::PasswordHasher;
use crate::domain::{ClientId, GrantTypes, Jti, Password, Roles, Scope, Username};
use crate::revocation::RevocationList;
use crate::service::clients::Registration;
use crate::startup::Application;
use crate::store::{self, AuditEvent, Store};
use crate::{service, telemetry};

#[derive(Parser)]
#[command(
    name = "countersign",
    version,
    about = "A standalone identity and token server"
)]
struct Cli {
    /// A TOML file with settings (over the defaults, under the environment).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Inspect signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Revoke tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Tune password hashing.
    #[command(subcommand)]
    Password(PasswordCommand),
    /// Show the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check the configuration, the database and the signing keys without
    /// serving; exits non-zero, saying what is wrong, if anything is.
    Check,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration (defaults, file, environment) as
    /// TOML, secrets redacted.
    Show,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; prints its secret once.
    Add {
        /// The client id (1-64 characters of A-Z, a-z, 0-9, '-', '.', '_', '~').
        client_id: String,
        /// A grant the client may use; repeat for several.
        #[arg(
            long = "grant",
            value_name = "GRANT",
            default_value = "client_credentials"
        )]
        grants: Vec<String>,
        /// A scope the client may ask for; repeat for several.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<String>,
        /// A display name (defaults to the id).
        #[arg(long)]
        name: Option<String>,
        /// Register a public client (no secret; not for client_credentials).
        #[arg(long)]
        public: bool,
    },
}

#[derive(Subcommand)]
enum PasswordCommand {
    /// Measure this machine and suggest Argon2id parameters for a target time.
    Calibrate {
        /// How long one hash should take, e.g. 50ms.
        #[arg(long, default_value = "50ms", value_parser = humantime::parse_duration)]
        target: std::time::Duration,
        /// Argon2 lanes.
        #[arg(long, default_value_t = 1)]
        parallelism: u32,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Put an access token's id on the revocation list. Replicas on
    /// PostgreSQL refuse it within a second; a server on SQLite at its next
    /// resync (`revocation.resync_interval`).
    Revoke {
        /// The token's `jti` claim. Base64url, so it may start with `-`:
        /// taken as the value, not an option.
        #[arg(allow_hyphen_values = true)]
        jti: String,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; asks for the password on the terminal.
    Add {
        /// The username (1-64 characters, unique regardless of case).
        name: String,
        /// A role to grant; repeat for several.
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List signing keys (never their private parts).
    List,
    /// Add a signing key: published now, signing after keys.prepublish.
    Rotate {
        /// Sign with it at once (an emergency: caches that have not
        /// refetched the JWKS refuse its tokens until they do).
        #[arg(long)]
        now: bool,
    },
    /// Re-encrypt every signing key under a new master key (from the
    /// environment variable COUNTERSIGN_NEW_MASTER_KEY or --new-key-file);
    /// the current one comes from the configuration, or none if the keys
    /// are stored in the clear.
    Rewrap {
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
}

/// Runs the command line and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    let settings = Settings::load(cli.config.as_deref()).map_err(|e| e.to_string())?;
    match cli.command {
        Command::Serve => serve(settings).await,
        Command::Config(ConfigCommand::Show) => {
            print!(
                "{}",
                settings.to_redacted_toml().map_err(|e| e.to_string())?
            );
            Ok(())
        }
        Command::Check => check(settings).await,
        Command::Migrate => {
            let store = open_store(&settings, true).await?;
            println!("migrations applied ({})", store.backend());
            Ok(())
        }
        Command::User(UserCommand::Add {
            name,
            roles,
            password_stdin,
        }) => add_user(settings, &name, &roles, password_stdin).await,
        Command::Keys(KeysCommand::List) => list_keys(settings).await,
        Command::Keys(KeysCommand::Rotate { now }) => rotate_keys(settings, now).await,
        Command::Keys(KeysCommand::Rewrap { new_key_file }) => {
            rewrap_keys(settings, new_key_file).await
        }
        Command::Token(TokenCommand::Revoke { jti }) => revoke_token(settings, &jti).await,
        Command::Client(ClientCommand::Add {
            client_id,
            grants,
            scopes,
            name,
            public,
        }) => add_client(settings, &client_id, &grants, &scopes, name, public).await,
        Command::Password(PasswordCommand::Calibrate {
            target,
            parallelism,
        }) => calibrate(target, parallelism).await,
    }
}

async fn serve(settings: Settings) -> Result<(), String> {
    telemetry::init(settings.log.format);
    let bootstrap_file = settings.bootstrap.password_file.clone();
    let mut app = Application::build(settings)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(password) = app.take_bootstrap_password() {
        show_bootstrap_password(&password, &bootstrap_file)?;
    }
    app.run_until_stopped().await.map_err(|e| e.to_string())
}

/// Shows a generated admin password once: on the terminal if there is one,
/// else in a file only the owner can read, never in the log stream (where
/// stdout goes under a container runtime or a service manager).
fn show_bootstrap_password(password: &SecretString, file: &Path) -> Result<(), String> {
    if std::io::stdout().is_terminal() {
        println!(
            "Created user \"admin\" (role admin). Its password is shown only this once:\n\n    {}\n",
            password.expose_secret()
        );
        let _ = std::io::stdout().flush();
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut out = options
        .open(file)
        .map_err(|e| format!("cannot write the admin password to {}: {e}", file.display()))?;
    writeln!(out, "{}", password.expose_secret())
        .map_err(|e| format!("cannot write the admin password to {}: {e}", file.display()))?;
    tracing::warn!(
        file = %file.display(),
        "created user \"admin\"; its generated password is in this file: read it, then delete the file"
    );
    Ok(())
}

/// What `countersign check` checks, in order; the settings themselves were
/// validated when they loaded.
async fn check(settings: Settings) -> Result<(), String> {
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

async fn open_store(settings: &Settings, migrate: bool) -> Result<Arc<dyn Store>, String> {
    let store = store::connect(&settings.database)
        .await
        .map_err(|e| format!("cannot open the database: {e}"))?;
    if migrate {
        store.migrate().await.map_err(|e| e.to_string())?;
    }
    Ok(store)
}

async fn add_user(
    settings: Settings,
    name: &str,
    roles: &[String],
    password_stdin: bool,
) -> Result<(), String> {
    let username = Username::parse(name).map_err(|e| e.to_string())?;
    let roles = Roles::parse(roles.iter().map(String::as_str)).map_err(|e| e.to_string())?;
    let password = read_password(password_stdin)?;
    let password = Password::parse(password).map_err(|e| e.to_string())?;
    let store = open_store(&settings, settings.database.migrate_on_start).await?;
    let hasher = PasswordHasher::new(&settings.password).map_err(|e| e.to_string())?;
    let user = service::users::create(
        store.as_ref(),
        &hasher,
        &Clock::system(),
        username,
        &password,
        roles,
    )
    .await
    .map_err(|e| e.for_operator())?;
    audit(store.as_ref(), "user.create", &user.id.to_string()).await;
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

async fn revoke_token(settings: Settings, jti: &str) -> Result<(), String> {
    let jti = Jti::parse(jti).map_err(|e| e.to_string())?;
    let store = open_store(&settings, settings.database.migrate_on_start).await?;
    let revocation = service::revocation::unknown_jti(
        &settings,
        Clock::system().now(),
        jti,
        "revoked from the command line",
    );
    let added = service::revocation::record(store.as_ref(), &RevocationList::new(), &revocation)
        .await
        .map_err(|e| e.for_operator())?;
    audit(store.as_ref(), "token.revoke", &jti.to_string()).await;
    if added {
        println!("revoked {jti} until {}", revocation.expires_at.to_rfc3339());
    } else {
        println!("{jti} was already revoked");
    }
    Ok(())
}

async fn add_client(
    settings: Settings,
    client_id: &str,
    grants: &[String],
    scopes: &[String],
    name: Option<String>,
    public: bool,
) -> Result<(), String> {
    let client_id = ClientId::parse(client_id).map_err(|e| e.to_string())?;
    let registration = Registration {
        name: name.unwrap_or_else(|| client_id.to_string()),
        client_id: Some(client_id),
        grant_types: GrantTypes::parse(grants.iter().map(String::as_str))
            .map_err(|e| e.to_string())?,
        scopes: Scope::parse(&scopes.join(" ")).map_err(|e| e.to_string())?,
        confidential: !public,
    };
    let store = open_store(&settings, settings.database.migrate_on_start).await?;
    let (client, secret) =
        service::clients::register(store.as_ref(), &Clock::system(), registration)
            .await
            .map_err(|e| e.for_operator())?;
    audit(store.as_ref(), "client.create", client.id.as_str()).await;
    println!("created client {}", client.id);
    if let Some(secret) = secret {
        println!("client secret (shown only this once): {secret}");
    }
    Ok(())
}

async fn calibrate(target: std::time::Duration, parallelism: u32) -> Result<(), String> {
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

/// Records a command-line action in the audit trail (actor `cli`).
async fn audit(store: &dyn Store, action: &str, target: &str) {
    let event = AuditEvent {
        at: Clock::system().now(),
        actor: "cli".into(),
        action: action.into(),
        target: target.into(),
        client_addr: String::new(),
        outcome: "success".into(),
    };
    if let Err(e) = store.insert_audit(&[event]).await {
        eprintln!("warning: the audit event was not recorded: {e}");
    }
}

async fn rotate_keys(settings: Settings, emergency: bool) -> Result<(), String> {
    let store = open_store(&settings, settings.database.migrate_on_start).await?;
    let master = service::keys::master_key(&settings.keys).map_err(|e| e.for_operator())?;
    let rotation = service::keys::add_key(
        store.as_ref(),
        &settings.keys,
        master.as_deref(),
        Clock::system().now(),
        emergency,
    )
    .await
    .map_err(|e| e.for_operator())?;
    audit(
        store.as_ref(),
        if emergency {
            "keys.rotate_now"
        } else {
            "keys.rotate"
        },
        &rotation.kid,
    )
    .await;
    println!(
        "added key {}, signing from {}",
        rotation.kid,
        rotation.activates_at.to_rfc3339()
    );
    if emergency {
        println!(
            "warning: it signs at once; caches that fetched the JWKS in the last {} s refuse its \
             tokens until they refetch",
            settings.keys.jwks_max_age().as_secs()
        );
    }
    Ok(())
}

async fn rewrap_keys(settings: Settings, new_key_file: Option<PathBuf>) -> Result<(), String> {
    let encoded = match new_key_file {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => std::env::var("COUNTERSIGN_NEW_MASTER_KEY").map_err(
            |_| "give the new master key in COUNTERSIGN_NEW_MASTER_KEY or --new-key-file",
        )?,
    };
    let new = MasterKey::from_base64(&encoded).map_err(|e| format!("new master key: {e}"))?;
    let old = service::keys::master_key(&settings.keys).map_err(|e| e.for_operator())?;
    let store = open_store(&settings, settings.database.migrate_on_start).await?;
    let count = service::keys::rewrap(store.as_ref(), old.as_deref(), &new)
        .await
        .map_err(|e| e.for_operator())?;
    audit(store.as_ref(), "keys.rewrap", new.id()).await;
    println!(
        "re-encrypted {count} signing keys under master key {}; configure it (and restart every \
         replica) before removing the old one",
        new.id()
    );
    Ok(())
}

async fn list_keys(settings: Settings) -> Result<(), String> {
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
