//! The `countersign` binary, run as an operator would.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine;
use countersign::config::Seconds;
use reqwest::StatusCode;
use secrecy::SecretString;

use crate::both_backends;
use crate::helpers::TestDb;

/// Runs the binary against the test's database, as an operator would.
pub(crate) fn countersign(
    db: &TestDb,
    args: &[&str],
    env: &[(&str, &str)],
    stdin: Option<&str>,
) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_countersign"));
    command
        .args(args)
        .env("COUNTERSIGN_DATABASE__URL", &db.url)
        .env("COUNTERSIGN_PASSWORD__MEMORY_KIB", "1024")
        .env("COUNTERSIGN_PASSWORD__ITERATIONS", "1")
        .envs(env.iter().copied())
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("run countersign");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    child.wait_with_output().expect("countersign output")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn user_add_creates_users_who_can_log_in(db: TestDb) {
    let out = countersign(
        &db,
        &[
            "user",
            "add",
            "Alice",
            "--role",
            "auditor",
            "--password-stdin",
        ],
        &[],
        Some("correct horse battery\n"),
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user Alice"));

    let app = db.spawn().await;
    let token = app.login_ok("alice", "correct horse battery").await;
    let info = app
        .get_with_token("/v1/userinfo", token["access_token"].as_str().unwrap())
        .await;
    assert_eq!(info.status(), StatusCode::OK);
    let info: serde_json::Value = info.json().await.unwrap();
    assert_eq!(info["username"], "Alice");
    assert_eq!(info["roles"], serde_json::json!(["auditor"]));
}
both_backends!(user_add_creates_users_who_can_log_in);

async fn user_add_refuses_duplicates_and_weak_input_clearly(db: TestDb) {
    let first = countersign(
        &db,
        &["user", "add", "Alice", "--password-stdin"],
        &[],
        Some("correct horse battery\n"),
    );
    assert!(first.status.success(), "{}", stderr(&first));

    let duplicate = countersign(
        &db,
        &["user", "add", "  ALICE ", "--password-stdin"],
        &[],
        Some("another good one\n"),
    );
    assert!(!duplicate.status.success());
    assert!(
        stderr(&duplicate).contains("already taken"),
        "{}",
        stderr(&duplicate)
    );

    let short = countersign(
        &db,
        &["user", "add", "bob", "--password-stdin"],
        &[],
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(
        stderr(&short).contains("at least 8 bytes"),
        "{}",
        stderr(&short)
    );

    let no_tty = countersign(&db, &["user", "add", "carol"], &[], None);
    assert!(!no_tty.status.success());
    assert!(
        stderr(&no_tty).contains("--password-stdin"),
        "{}",
        stderr(&no_tty)
    );

    let bad_role = countersign(
        &db,
        &[
            "user",
            "add",
            "dave",
            "--role",
            "Root Admin",
            "--password-stdin",
        ],
        &[],
        Some("correct horse battery\n"),
    );
    assert!(!bad_role.status.success());
    assert!(stderr(&bad_role).contains("role"), "{}", stderr(&bad_role));
}
both_backends!(user_add_refuses_duplicates_and_weak_input_clearly);

async fn a_bad_setting_stops_start_up_naming_the_key(db: TestDb) {
    let out = countersign(
        &db,
        &["serve"],
        &[("COUNTERSIGN_TOKENS__ACCESS_TTL", "soon")],
        None,
    );
    assert!(!out.status.success());
    let message = stderr(&out);
    assert!(
        message.contains("access_ttl") && message.contains("soon"),
        "{message}"
    );

    let out = countersign(
        &db,
        &["serve", "--config", "/nonexistent/countersign.toml"],
        &[],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
}
both_backends!(a_bad_setting_stops_start_up_naming_the_key);

async fn migrate_and_keys_list(db: TestDb) {
    let out = countersign(&db, &["migrate"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let app = db.spawn().await;
    let kid = app.jwks().await["keys"][0]["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = countersign(&db, &["keys", "list"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(listing.contains(&kid), "{listing}");
    assert!(!listing.contains("PRIVATE"));
}
both_backends!(migrate_and_keys_list);

fn jwks_kids(jwks: &serde_json::Value) -> usize {
    jwks["keys"].as_array().unwrap().len()
}

async fn keys_rotate_is_staged_once_and_now_signs_at_once(db: TestDb) {
    let app = db
        .spawn_with(|s| s.revocation.resync_interval = Seconds(Duration::from_secs(1)))
        .await;
    let out = countersign(&db, &["keys", "rotate"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("signing from"));
    let out = countersign(&db, &["keys", "rotate"], &[], None);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already waiting"), "{}", stderr(&out));

    let out = countersign(&db, &["keys", "rotate", "--now"], &[], None);
    assert!(out.status.success(), "{}", stderr(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("warning"), "{stdout}");
    // The running server learns of both keys (by notification on
    // PostgreSQL, by its periodic resync on SQLite) and signs with the
    // emergency one.
    let mut seen = 0;
    for _ in 0..50 {
        seen = jwks_kids(&app.jwks().await);
        if seen == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, 3, "the server did not pick up the new keys");
    let token = app.admin_token().await;
    let kid = jsonwebtoken::decode_header(&token).unwrap().kid.unwrap();
    assert!(stdout.contains(&kid), "{stdout} does not name {kid}");
}
both_backends!(keys_rotate_is_staged_once_and_now_signs_at_once);

async fn keys_rewrap_moves_the_keys_to_a_new_master_key(db: TestDb) {
    let encode = |b: u8| base64::engine::general_purpose::STANDARD.encode([b; 32]);
    let (old, new) = (encode(1), encode(2));
    let tweak = |key: String| {
        move |s: &mut countersign::config::Settings| {
            s.tokens.issuer = "https://id.countersign.test".into();
            s.keys.master_key = SecretString::from(key);
        }
    };
    let app = db.spawn_with(tweak(old.clone())).await;
    let token = app.admin_token().await;
    let (_, refresh) = app
        .login_tokens("admin", crate::helpers::ADMIN_PASSWORD)
        .await;
    app.stop().await;

    let without_new = countersign(
        &db,
        &["keys", "rewrap"],
        &[("COUNTERSIGN_KEYS__MASTER_KEY", &old)],
        None,
    );
    assert!(!without_new.status.success());
    assert!(stderr(&without_new).contains("COUNTERSIGN_NEW_MASTER_KEY"));
    let out = countersign(
        &db,
        &["keys", "rewrap"],
        &[
            ("COUNTERSIGN_KEYS__MASTER_KEY", &old),
            ("COUNTERSIGN_NEW_MASTER_KEY", &new),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("re-encrypted 1 signing keys"));

    let mut settings = app.settings.clone();
    settings.keys.master_key = SecretString::from(old);
    let refused = countersign::Application::build(settings).await;
    assert!(refused.is_err(), "the old master key still opens the keys");
    let app = db.spawn_with(tweak(new)).await;
    assert_eq!(app.userinfo_status(&token).await, StatusCode::OK);
    // The server secret moved too: refresh tokens live on.
    app.refresh_ok(&refresh).await;
}
both_backends!(keys_rewrap_moves_the_keys_to_a_new_master_key);

async fn config_show_prints_every_setting_with_secrets_redacted(db: TestDb) {
    let master = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
    let out = countersign(
        &db,
        &["config", "show"],
        &[
            ("COUNTERSIGN_KEYS__MASTER_KEY", &master),
            (
                "COUNTERSIGN_BOOTSTRAP__ADMIN_PASSWORD",
                "bootstrap-secret-value",
            ),
            ("COUNTERSIGN_TOKENS__ACCESS_TTL", "5m"),
            (
                "COUNTERSIGN_DATABASE__URL",
                "postgres://countersign:hunter2-db-password@db.internal:5432/countersign",
            ),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let shown = String::from_utf8_lossy(&out.stdout);
    assert!(shown.contains("access_ttl = \"5m\""), "{shown}");
    assert!(shown.contains("postgres://countersign:***@db.internal:5432/countersign"));
    for secret in [
        master.as_str(),
        "bootstrap-secret-value",
        "hunter2-db-password",
    ] {
        assert!(!shown.contains(secret), "{secret} shown");
    }
    assert!(shown.contains("master_key = \"(set, redacted)\""));

    // Without secrets, what it prints reads back as the same settings.
    let out = countersign(&db, &["config", "show"], &[], None);
    let file = std::env::temp_dir().join(format!("countersign-config-{}.toml", db.id));
    std::fs::write(&file, &out.stdout).unwrap();
    let again = countersign(
        &db,
        &["--config", file.to_str().unwrap(), "config", "show"],
        &[],
        None,
    );
    std::fs::remove_file(&file).unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(again.stdout, out.stdout);
}
both_backends!(config_show_prints_every_setting_with_secrets_redacted);

/// A PostgreSQL URL carries credentials in its query as well as before
/// the `@`: `config show` prints none of them, and the rest as written.
#[test]
fn config_show_redacts_every_credential_a_database_url_carries() {
    let show = |url: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_countersign"))
            .args(["config", "show"])
            .env("COUNTERSIGN_DATABASE__URL", url)
            .stdin(Stdio::null())
            .output()
            .expect("run countersign");
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let shown = show(
        "postgres://countersign:userinfo-secret@db.internal:5432/countersign\
         ?sslmode=verify-full&password=query-secret&SSLPassword=key-secret\
         &pass%77ord=encoded-secret&application_name=countersign",
    );
    assert!(
        shown.contains(
            "url = \"postgres://countersign:***@db.internal:5432/countersign\
             ?sslmode=verify-full&password=***&SSLPassword=***&pass%77ord=***\
             &application_name=countersign\""
        ),
        "{shown}"
    );
    // A password with an unescaped `/` hides where the host begins: the
    // URL is not shown at all.
    let unclear = show("postgres://countersign:half/other-half@db.internal/countersign");
    assert!(
        unclear.contains("url = \"postgres://(set, redacted)\""),
        "{unclear}"
    );
    for (shown, secrets) in [
        (
            &shown,
            &[
                "userinfo-secret",
                "query-secret",
                "key-secret",
                "encoded-secret",
            ][..],
        ),
        (&unclear, &["half", "other-half"][..]),
    ] {
        for secret in secrets {
            assert!(!shown.contains(secret), "{secret} shown: {shown}");
        }
    }
}

async fn check_reports_the_first_problem_and_passes_when_all_is_well(db: TestDb) {
    if db.backend == crate::helpers::Backend::Sqlite {
        let out = countersign(&db, &["check"], &[], None);
        assert!(!out.status.success());
        assert!(
            stderr(&out).contains("does not exist yet"),
            "{}",
            stderr(&out)
        );
    }
    let right = base64::engine::general_purpose::STANDARD.encode([2u8; 32]);
    let wrong = base64::engine::general_purpose::STANDARD.encode([3u8; 32]);
    let app = db
        .spawn_with(|s| s.keys.master_key = SecretString::from(right.clone()))
        .await;
    app.stop().await;
    let with_key = |key: &str| {
        countersign(
            &db,
            &["check"],
            &[("COUNTERSIGN_KEYS__MASTER_KEY", key)],
            None,
        )
    };
    let out = with_key(&right);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("database:"), "{said}");
    assert!(
        said.contains("signing keys: 1, all open (with the master key)"),
        "{said}"
    );
    let out = with_key(&wrong);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("master key"), "{}", stderr(&out));

    let out = countersign(
        &db,
        &["check"],
        &[
            (
                "COUNTERSIGN_DATABASE__URL",
                "postgres://nobody@127.0.0.1:1/none",
            ),
            ("COUNTERSIGN_DATABASE__ACQUIRE_TIMEOUT", "1s"),
        ],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("database"), "{}", stderr(&out));
    let out = countersign(
        &db,
        &["check"],
        &[("COUNTERSIGN_TOKENS__LEEWAY", "5m")],
        None,
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("tokens.leeway"), "{}", stderr(&out));
}
both_backends!(check_reports_the_first_problem_and_passes_when_all_is_well);
