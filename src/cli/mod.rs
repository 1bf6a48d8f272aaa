//! The `countersign` command line: the commands and their options here,
//! what each does in `commands`. Each command that changes something
//! opens the same context the server runs in and calls the same service
//! as the HTTP API, acting as the operator (audited as `cli`); nothing here
//! decides anything on its own.

mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Settings;
use commands::*;

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
    Add(NewClient),
}

/// A client to register.
#[derive(clap::Args)]
pub(crate) struct NewClient {
    /// The client id (1-64 characters of A-Z, a-z, 0-9, '-', '.', '_', '~';
    /// not shaped like a UUID).
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
    /// A resource (an absolute URI) its tokens may be for; repeat for
    /// several.
    #[arg(long = "audience", value_name = "URI")]
    audiences: Vec<String>,
    /// The audience of its tokens when it names none (one of --audience;
    /// without it, this server).
    #[arg(long, value_name = "URI")]
    default_audience: Option<String>,
    /// A resource server: may introspect tokens and read the revocation
    /// feed.
    #[arg(long)]
    introspect: bool,
    /// A URI the authorization endpoint may answer at (exact; needed for
    /// --grant authorization_code); repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser afterwards; repeat
    /// for several.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// A first-party app: signing in to it asks for no consent.
    #[arg(long)]
    trusted: bool,
    /// A display name (defaults to the id).
    #[arg(long)]
    name: Option<String>,
    /// Register a public client (no secret; not for client_credentials).
    #[arg(long)]
    public: bool,
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
    /// Remove a user's second factors (TOTP, recovery codes, passkeys), for
    /// one who lost them, and end everything they hold (tokens, sessions).
    ResetMfa {
        /// The user's id (as the admin API lists it).
        id: String,
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
        Command::Migrate => migrate(settings).await,
        Command::User(UserCommand::Add {
            name,
            roles,
            password_stdin,
        }) => add_user(settings, &name, &roles, password_stdin).await,
        Command::User(UserCommand::ResetMfa { id }) => reset_mfa(settings, &id).await,
        Command::Keys(KeysCommand::List) => list_keys(settings).await,
        Command::Keys(KeysCommand::Rotate { now }) => rotate_keys(settings, now).await,
        Command::Keys(KeysCommand::Rewrap { new_key_file }) => {
            rewrap_keys(settings, new_key_file).await
        }
        Command::Token(TokenCommand::Revoke { jti }) => revoke_token(settings, &jti).await,
        Command::Client(ClientCommand::Add(client)) => add_client(settings, client).await,
        Command::Password(PasswordCommand::Calibrate {
            target,
            parallelism,
        }) => calibrate(target, parallelism).await,
    }
}
