//! The hosted pages in real headless Chromium (playwright-core, see
//! tests/browser). CI must have the browser: a missing one fails the test,
//! loudly, instead of skipping it.

use std::path::Path;
use std::process::Command;

use crate::both_backends;
use crate::helpers::{ADMIN, ADMIN_PASSWORD, TestDb};

const CHROMIUM: &str = "/usr/bin/chromium";

fn missing(what: &str) -> ! {
    panic!(
        "\n\n*** The browser tests cannot run: {what}.\n\
         *** scripts/test.sh installs Chromium (apt-get install chromium chromium-driver)\n\
         *** and playwright-core (npm ci in tests/browser); run it, or install them yourself.\n\n"
    );
}

async fn sign_in_account_end_a_session_log_out(db: TestDb) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    let chromium = std::env::var("CHROMIUM_PATH").unwrap_or_else(|_| CHROMIUM.to_owned());
    if !Path::new(&chromium).exists() {
        missing(&format!("no Chromium at {chromium}"));
    }
    if !dir.join("node_modules/playwright-core").exists() {
        missing("playwright-core is not installed in tests/browser");
    }
    let app = db.spawn().await;
    let address = app.address.clone();
    // Off the async threads: the server's database I/O runs on them.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("login.mjs")
            .args([address.as_str(), ADMIN, ADMIN_PASSWORD])
            .env("CHROMIUM_PATH", &chromium)
            .current_dir(&dir)
            .output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| missing(&format!("node could not be run ({e})")));
    assert!(
        output.status.success(),
        "browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
both_backends!(sign_in_account_end_a_session_log_out);
