//! Runs the test programs written against libraries nobody here wrote:
//! Node.js with playwright-core (headless Chromium), openid-client and
//! express-openid-connect in tests/browser; Python with Authlib and PyJWT
//! in tests/python. CI must have them all: a missing one fails the test,
//! loudly, instead of skipping it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CHROMIUM: &str = "/usr/bin/chromium";

fn missing(what: &str) -> ! {
    panic!(
        "\n\n*** The client-library tests cannot run: {what}.\n\
         *** scripts/test.sh installs Chromium (apt-get install chromium chromium-driver),\n\
         *** the Node packages (npm ci in tests/browser) and the Python ones\n\
         *** (tests/python/.venv from tests/python/requirements.txt); run it, or install them.\n\n"
    );
}

fn tests_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

/// Runs `node SCRIPT ARGS` in tests/browser, Chromium's path in
/// `CHROMIUM_PATH`; panics with its output unless it succeeds.
pub async fn node(script: &str, args: &[&str]) -> String {
    let dir = tests_dir("browser");
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| CHROMIUM.to_owned());
    if !Path::new(&chromium).exists() {
        missing(&format!("no Chromium at {chromium}"));
    }
    if !dir.join("node_modules/playwright-core").exists() {
        missing("the Node packages are not installed in tests/browser");
    }
    let mut command = Command::new("node");
    command
        .arg(script)
        .args(args)
        .env("CHROMIUM_PATH", &chromium)
        .current_dir(&dir);
    run(command, "node").await
}

/// Runs `SCRIPT ARGS` with tests/python's virtual environment; panics with
/// its output unless it succeeds.
pub async fn python(script: &str, args: &[&str]) -> String {
    let dir = tests_dir("python");
    let interpreter = dir.join(".venv/bin/python");
    if !interpreter.exists() {
        missing("tests/python/.venv does not exist");
    }
    let mut command = Command::new(interpreter);
    command.arg(script).args(args).current_dir(&dir);
    run(command, "python").await
}

async fn run(mut command: Command, what: &'static str) -> String {
    // Off the async threads: the server under test runs on them.
    let output: Output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| missing(&format!("{what} could not be run ({e})")));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// A port nothing listens on, for an application a test program runs (its
/// redirect URI is registered before the program starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap()
}
