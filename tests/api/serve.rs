//! `countersign serve` as a process: first start on an empty database,
//! the bootstrap password shown once, and nothing secret in the logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use reqwest::StatusCode;

use crate::both_backends;
use crate::helpers::TestDb;

struct Server {
    child: Child,
    address: String,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
}

/// Where the server is told to put a generated admin password.
fn password_file(db: &TestDb) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("countersign-admin-password-{}", db.id))
}

fn lines_of(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    received
}

/// Starts the binary on a random port and waits until it listens.
fn serve(db: &TestDb) -> Server {
    serve_with(db, &[])
}

/// `countersign serve` on a random port, stdout and stderr piped (so not a
/// terminal), with more environment variables (later ones win).
fn serve_command(db: &TestDb, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_countersign"));
    command
        .arg("serve")
        .env("COUNTERSIGN_DATABASE__URL", &db.url)
        .env("COUNTERSIGN_SERVER__BIND", "127.0.0.1:0")
        .env("COUNTERSIGN_PASSWORD__MEMORY_KIB", "1024")
        .env("COUNTERSIGN_PASSWORD__ITERATIONS", "1")
        .env("COUNTERSIGN_LOG__FORMAT", "json")
        .env("COUNTERSIGN_BOOTSTRAP__PASSWORD_FILE", password_file(db))
        .env("RUST_LOG", "trace")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// [`serve`], with more environment variables (later ones win).
fn serve_with(db: &TestDb, env: &[(&str, &str)]) -> Server {
    let mut child = serve_command(db, env)
        .spawn()
        .expect("start countersign serve");
    let received = lines_of(child.stderr.take().unwrap());
    let stdout = lines_of(child.stdout.take().unwrap());
    let mut address = None;
    while address.is_none() {
        let line = received
            .recv_timeout(Duration::from_secs(30))
            .expect("server starts within 30 s");
        if line.contains("countersign is listening") {
            let event: serde_json::Value = serde_json::from_str(&line).unwrap();
            address = Some(format!(
                "http://{}",
                event["fields"]["address"].as_str().unwrap()
            ));
        }
    }
    Server {
        child,
        address: address.unwrap(),
        stdout,
        stderr: received,
    }
}

impl Server {
    /// Stops the server and returns what else it wrote (stdout, stderr).
    fn stop(mut self) -> (String, String) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let out: Vec<String> = self.stdout.iter().collect();
        let logs: Vec<String> = self.stderr.iter().collect();
        (out.join("\n"), logs.join("\n"))
    }
}

async fn first_start_bootstraps_an_admin_and_logs_no_secrets(db: TestDb) {
    let server = serve(&db);
    let client = reqwest::Client::new();
    let url = format!("{}/v1/login", server.address);
    // Not a terminal: the password goes to a file only its owner reads.
    let file = password_file(&db);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&file).map_or(true, |p| !p.ends_with('\n')) {
        assert!(
            std::time::Instant::now() < deadline,
            "password file appears"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&file).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
    let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    std::fs::remove_file(&file).unwrap();
    let (stdout, _) = server.stop();
    assert!(!stdout.contains(&password), "not on stdout either");
    assert!(password.len() >= 32, "a long random password");

    let server = serve(&db);
    let url_again = format!("{}/v1/login", server.address);
    assert_ne!(url, url_again);
    let login = client
        .post(&url_again)
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let token = login.json::<serde_json::Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = client
        .post(&url_again)
        .json(&serde_json::json!({"username": "admin", "password": "wrong-password-123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let info = client
        .get(format!("{}/v1/userinfo", server.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), StatusCode::OK);

    let (stdout, logs) = server.stop();
    assert!(!file.exists(), "the password is written once only");
    assert!(!stdout.contains(&password));
    assert!(logs.contains("request finished"), "requests are logged");
    for secret in [
        password.as_str(),
        token.as_str(),
        "wrong-password-123",
        "$argon2id$",
    ] {
        assert!(!logs.contains(secret), "a secret reached the log");
    }
    let signature = token.rsplit('.').next().unwrap();
    assert!(!logs.contains(signature));
}
both_backends!(first_start_bootstraps_an_admin_and_logs_no_secrets);

/// Starts the binary expecting it to stop by itself; returns its exit
/// status and what it wrote to stderr. A server that starts instead fails
/// the test.
fn serve_refused(db: &TestDb) -> (std::process::ExitStatus, String) {
    let mut child = serve_command(db, &[])
        .spawn()
        .expect("start countersign serve");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server started instead of refusing");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stderr)
}

fn mode_of(path: &std::path::Path) -> u32 {
    std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(path).unwrap().permissions()) & 0o777
}

/// The password file is created for the password alone: a file already
/// there (readable by others) or a link (leading anywhere) stops the first
/// start, with the password written nowhere; once the name is free, the
/// next start makes the file, 0600.
async fn a_password_file_already_there_or_a_link_stops_the_first_start(db: TestDb) {
    use std::os::unix::fs::PermissionsExt;
    let file = password_file(&db);
    let shown = file.display().to_string();

    std::fs::write(&file, "left over\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, stderr) = serve_refused(&db);
    assert!(!status.success());
    assert!(
        stderr.contains(&shown) && stderr.contains("already exists"),
        "{stderr}"
    );
    assert!(stderr.contains("bootstrap.admin_password"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "left over\n");
    assert_eq!(mode_of(&file), 0o644);
    std::fs::remove_file(&file).unwrap();

    // A link to another file: neither the link is followed nor its target written.
    let target = std::env::temp_dir().join(format!("countersign-link-target-{}", db.id));
    std::fs::write(&target, "someone else's\n").unwrap();
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::os::unix::fs::symlink(&target, &file).unwrap();
    let (status, stderr) = serve_refused(&db);
    assert!(!status.success());
    assert!(stderr.contains(&shown), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "someone else's\n"
    );
    assert_eq!(mode_of(&target), 0o644);
    assert!(std::fs::symlink_metadata(&file).unwrap().is_symlink());

    // A link that leads nowhere yet: the target is not created.
    std::fs::remove_file(&target).unwrap();
    let (status, _) = serve_refused(&db);
    assert!(!status.success());
    assert!(!target.exists(), "the dangling link was followed");
    std::fs::remove_file(&file).unwrap();

    // Nothing was created by the refused starts: this one bootstraps.
    let server = serve(&db);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::read_to_string(&file).map_or(true, |p| !p.ends_with('\n')) {
        assert!(
            std::time::Instant::now() < deadline,
            "password file appears"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!std::fs::symlink_metadata(&file).unwrap().is_symlink());
    assert_eq!(mode_of(&file), 0o600);
    let password = std::fs::read_to_string(&file).unwrap().trim().to_owned();
    std::fs::remove_file(&file).unwrap();
    let login = reqwest::Client::new()
        .post(format!("{}/v1/login", server.address))
        .json(&serde_json::json!({"username": "admin", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    server.stop();
}
both_backends!(a_password_file_already_there_or_a_link_stops_the_first_start);

/// `signal` while a login is hashing: the login still gets its answer, its
/// audit event is written, and the process exits 0.
async fn stopping_finishes_requests_in_flight_and_flushes_the_audit(db: TestDb, signal: &str) {
    let password = "shutdown-test-password";
    let mut server = serve_with(
        &db,
        &[
            // Slow enough hashing that the login is surely in flight.
            ("COUNTERSIGN_PASSWORD__MEMORY_KIB", "131072"),
            ("COUNTERSIGN_PASSWORD__ITERATIONS", "3"),
            ("COUNTERSIGN_BOOTSTRAP__ADMIN_PASSWORD", password),
        ],
    );
    let url = format!("{}/v1/login", server.address);
    let login = tokio::spawn(async move {
        reqwest::Client::new()
            .post(url)
            .json(&serde_json::json!({"username": "admin", "password": password}))
            .send()
            .await
    });
    // The signal goes once the login is surely in flight: its charge, the
    // statement just before the hash, is in the server's (trace) log. A
    // fixed pause could end before a loaded machine even sent the request.
    // Polled, not awaited blocking: the login's task must keep running.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !server
        .stderr
        .try_iter()
        .any(|line| line.contains("INSERT INTO login_attempts"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the login reaches the server within 20 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let sent = Command::new("kill")
        .args([signal, &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let response = login
        .await
        .unwrap()
        .expect("an answer, not a cut connection");
    assert_eq!(response.status(), StatusCode::OK);

    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.child.try_wait().unwrap() {
            break status;
        }
        assert!(std::time::Instant::now() < deadline, "did not exit");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "exit status {status}");
    let logs: Vec<String> = server.stderr.try_iter().collect();
    assert!(logs.iter().any(|l| l.contains("countersign stopped")));

    let mut settings = db.settings();
    settings.database.migrate_on_start = false;
    let store = countersign::store::connect(&settings.database)
        .await
        .unwrap();
    let events = store
        .list_audit(None, None, Some("login.success"), 100)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "the login's audit event was written");
}

async fn sigterm_finishes_requests_in_flight_and_flushes_the_audit(db: TestDb) {
    stopping_finishes_requests_in_flight_and_flushes_the_audit(db, "-TERM").await;
}
both_backends!(sigterm_finishes_requests_in_flight_and_flushes_the_audit);

/// Ctrl-C is as graceful as SIGTERM.
async fn ctrl_c_finishes_requests_in_flight_and_flushes_the_audit(db: TestDb) {
    stopping_finishes_requests_in_flight_and_flushes_the_audit(db, "-INT").await;
}
both_backends!(ctrl_c_finishes_requests_in_flight_and_flushes_the_audit);

/// `kill -9` in the middle of a stream of revocations: every revocation the
/// server acknowledged is enforced after a restart.
async fn acknowledged_revocations_survive_kill_9(db: TestDb) {
    let password = "kill-test-password";
    let env = [
        ("COUNTERSIGN_BOOTSTRAP__ADMIN_PASSWORD", password),
        ("COUNTERSIGN_TOKENS__ISSUER", "https://id.countersign.test"),
    ];
    let mut server = serve_with(&db, &env);
    let client = reqwest::Client::new();
    let login = |address: String| {
        let client = client.clone();
        async move {
            let body: serde_json::Value = client
                .post(format!("{address}/v1/login"))
                .json(&serde_json::json!({"username": "admin", "password": password}))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let mut tokens = Vec::new();
    for _ in 0..200 {
        tokens.push(login(server.address.clone()).await);
    }

    // Four streams of logouts; each 204 is an acknowledged revocation.
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let queue = std::sync::Arc::new(std::sync::Mutex::new(tokens.clone()));
    let streams: Vec<_> = (0..4)
        .map(|_| {
            let (client, address) = (client.clone(), server.address.clone());
            let (queue, acknowledged) = (queue.clone(), acknowledged.clone());
            tokio::spawn(async move {
                loop {
                    let Some(token) = queue.lock().unwrap().pop() else {
                        return;
                    };
                    let answer = client
                        .post(format!("{address}/v1/logout"))
                        .bearer_auth(&token)
                        .send()
                        .await;
                    match answer {
                        Ok(r) if r.status() == StatusCode::NO_CONTENT => {
                            acknowledged.lock().unwrap().push(token);
                        }
                        // The server is gone: this one may or may not have landed.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 60 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for stream in streams {
        stream.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() < tokens.len(),
        "the kill came after the stream ended"
    );

    let server = serve_with(&db, &env);
    for token in &acknowledged {
        let status = client
            .get(format!("{}/v1/userinfo", server.address))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "an acknowledged revocation was lost"
        );
    }
    // Tokens never sent for revocation still work.
    let untouched = queue.lock().unwrap().pop().expect("tokens left unsent");
    let status = client
        .get(format!("{}/v1/userinfo", server.address))
        .bearer_auth(untouched)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, StatusCode::OK);
    server.stop();
}
both_backends!(acknowledged_revocations_survive_kill_9);

const KILL_PASSWORD: &str = "kill-test-password";

/// The refresh tokens a chain was given, in order.
type Chain = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

async fn login_as(
    client: reqwest::Client,
    address: String,
    mode: &'static str,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{address}/v1/login"))
        .json(&serde_json::json!({"username": "admin", "password": KILL_PASSWORD, "mode": mode}))
        .send()
        .await
}

async fn redeem(
    client: reqwest::Client,
    address: String,
    token: String,
) -> reqwest::Result<reqwest::Response> {
    client
        .post(format!("{address}/oauth2/token"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", &token)])
        .send()
        .await
}

/// `kill -9` in the middle of streams of refresh rotations and session
/// logins (which SQLite commits in groups): every rotation and session the
/// server acknowledged is there after a restart, and a rotation it had not
/// acknowledged is either whole or absent, never half done. The last
/// refresh token each chain received is presented again: with a retry
/// window, it rotates if the rotation in flight never landed, and is
/// answered with the same successor if it landed whole. A token marked
/// used without its successor stored (half done) would be refused as
/// reuse, as would one whose acknowledged rotation was lost.
async fn acknowledged_rotations_and_sessions_survive_kill_9(db: TestDb) {
    let env = [
        ("COUNTERSIGN_BOOTSTRAP__ADMIN_PASSWORD", KILL_PASSWORD),
        ("COUNTERSIGN_TOKENS__ISSUER", "https://id.countersign.test"),
        ("COUNTERSIGN_TOKENS__REFRESH_REUSE_GRACE", "1h"),
    ];
    let mut server = serve_with(&db, &env);
    let client = reqwest::Client::new();
    let field = |body: serde_json::Value, name: &str| body[name].as_str().unwrap().to_owned();
    let (login, refresh) = (login_as, redeem);

    // Eight chains of rotations and four streams of session logins; each
    // records what the server acknowledged.
    let mut chains = Vec::new();
    for _ in 0..8 {
        let first = login(client.clone(), server.address.clone(), "jwt")
            .await
            .unwrap();
        let first = field(first.json().await.unwrap(), "refresh_token");
        let acknowledged: Chain = std::sync::Arc::new(std::sync::Mutex::new(vec![first]));
        let (client, address, chain) =
            (client.clone(), server.address.clone(), acknowledged.clone());
        let task = tokio::spawn(async move {
            loop {
                let last = chain.lock().unwrap().last().unwrap().clone();
                match refresh(client.clone(), address.clone(), last).await {
                    Ok(r) if r.status() == StatusCode::OK => {
                        let Ok(body) = r.json().await else { return };
                        chain.lock().unwrap().push(field(body, "refresh_token"));
                    }
                    Ok(r) => panic!("a rotation was refused: {}", r.status()),
                    // The server is gone: this one may or may not have landed.
                    Err(_) => return,
                }
            }
        });
        chains.push((acknowledged, task));
    }
    let sessions = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let streams: Vec<_> = (0..4)
        .map(|_| {
            let (client, address) = (client.clone(), server.address.clone());
            let sessions = sessions.clone();
            tokio::spawn(async move {
                loop {
                    match login(client.clone(), address.clone(), "session").await {
                        Ok(r) if r.status() == StatusCode::OK => {
                            let Ok(body) = r.json().await else { return };
                            sessions.lock().unwrap().push(field(body, "session_token"));
                        }
                        Ok(r) => panic!("a session login was refused: {}", r.status()),
                        Err(_) => return,
                    }
                }
            })
        })
        .collect();
    let rotations = || {
        chains
            .iter()
            .map(|(chain, _): &(Chain, _)| chain.lock().unwrap().len() - 1)
            .sum::<usize>()
    };
    while rotations() < 200 || sessions.lock().unwrap().len() < 20 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    for stream in streams {
        stream.await.unwrap();
    }
    let mut last_tokens = Vec::new();
    for (chain, task) in chains {
        task.await.unwrap();
        last_tokens.push(chain.lock().unwrap().last().unwrap().clone());
    }

    let server = serve_with(&db, &env);
    for token in last_tokens {
        let answer = refresh(client.clone(), server.address.clone(), token)
            .await
            .unwrap();
        let status = answer.status();
        assert_eq!(
            status,
            StatusCode::OK,
            "the last acknowledged refresh token of a chain: {}",
            answer.text().await.unwrap()
        );
    }
    let sessions = sessions.lock().unwrap().clone();
    assert!(sessions.len() >= 20);
    for session in &sessions {
        let status = client
            .get(format!("{}/v1/sessions", server.address))
            .bearer_auth(session)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, StatusCode::OK, "an acknowledged session was lost");
    }
    server.stop();
}
both_backends!(acknowledged_rotations_and_sessions_survive_kill_9);
