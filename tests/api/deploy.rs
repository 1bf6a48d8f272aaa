//! The deployment recipe: the shipped nginx configuration passes `nginx -t`.
//! CI must have nginx and openssl: a missing one fails the test, loudly,
//! instead of skipping it.

use std::path::{Path, PathBuf};
use std::process::Command;

fn missing(what: &str) -> ! {
    panic!(
        "\n\n*** The deployment test cannot run: {what}.\n\
         *** scripts/test.sh installs nginx and openssl (apt-get install nginx openssl);\n\
         *** run it, or install them yourself.\n\n"
    );
}

/// `program` as it runs: found on PATH, or in /usr/sbin, where Debian puts
/// nginx and which a user's PATH may lack. `version_arg` makes it print its
/// version; a program that fails to do so fails the test.
fn installed(program: &str, version_arg: &str) -> PathBuf {
    let candidates = [PathBuf::from(program), Path::new("/usr/sbin").join(program)];
    for candidate in candidates {
        if Command::new(&candidate)
            .arg(version_arg)
            .output()
            .is_ok_and(|out| out.status.success())
        {
            return candidate;
        }
    }
    missing(&format!("no working `{program}` on PATH or in /usr/sbin"))
}

#[test]
fn the_shipped_nginx_configuration_passes_nginx_t() {
    let nginx = installed("nginx", "-v");
    let openssl = installed("openssl", "version");
    let dir = tempfile::tempdir().unwrap();
    let certs = dir.path().join("certs");
    std::fs::create_dir(&certs).unwrap();
    let made = Command::new(&openssl)
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=localhost", "-keyout"])
        .arg(certs.join("tls.key"))
        .arg("-out")
        .arg(certs.join("tls.crt"))
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );

    // Only what exists inside the compose network changes: the replicas'
    // names and the certificate directory.
    let shipped =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx.conf"))
            .unwrap();
    let local = shipped
        .replace("countersign-1:8080", "127.0.0.1:18081")
        .replace("countersign-2:8080", "127.0.0.1:18082")
        .replace("/etc/nginx/certs/", &format!("{}/", certs.display()))
        .replace(
            "pid /tmp/nginx.pid;",
            &format!("pid {}/nginx.pid;", dir.path().display()),
        );
    assert_ne!(local, shipped);
    let config = dir.path().join("nginx.conf");
    std::fs::write(&config, local).unwrap();
    let checked = Command::new(&nginx)
        .arg("-t")
        .arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&config)
        .args(["-e", "stderr"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "nginx -t failed:\n{said}");
    assert!(said.contains("test is successful"), "{said}");
}
