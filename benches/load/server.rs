//! The server under test, started from the release build in its own
//! process, and what /proc says about it.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const ADMIN_PASSWORD: &str = "load-benchmark-admin-password";

/// The server under test, in its own process.
pub struct Server {
    pub child: Child,
    pub address: String,
    logs: tempfile::NamedTempFile,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_server(database_url: &str) -> Server {
    start_server_from(this_build(), database_url, &[], None)
}

/// `program`, on the CPUs `cpus` (a `taskset` list such as `0` or `1-3`)
/// when given, on any otherwise. Threads and children inherit the CPUs.
pub fn on_cpus(program: &Path, cpus: Option<&str>) -> Command {
    match cpus {
        Some(cpus) => {
            let mut command = Command::new("taskset");
            command.args(["--cpu-list", cpus]).arg(program);
            command
        }
        None => Command::new(program),
    }
}

/// This build's server binary.
pub fn this_build() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_countersign"))
}

/// The server `binary` (this build's, or an earlier one's to compare with),
/// with the settings `env` besides the benchmark's own, on the CPUs `cpus`
/// when given (its workers are as many as those CPUs).
pub fn start_server_from(
    binary: &Path,
    database_url: &str,
    env: &[(&str, &str)],
    cpus: Option<&str>,
) -> Server {
    let logs = tempfile::NamedTempFile::new().unwrap();
    // `taskset` execs the server, so the child's id is the server's.
    let child = on_cpus(binary, cpus)
        .arg("serve")
        .env("COUNTERSIGN_SERVER__BIND", "127.0.0.1:0")
        .env("COUNTERSIGN_DATABASE__URL", database_url)
        .env("COUNTERSIGN_BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("COUNTERSIGN_LOG__FORMAT", "json")
        // Replicas behind one name: a token of one is valid at the other.
        .env(
            "COUNTERSIGN_TOKENS__ISSUER",
            "https://bench.countersign.test",
        )
        // Every login comes from one address for one account, dozens at
        // once: the throttle, which admits no more attempts in flight per
        // account and address than its threshold (it cannot know which
        // will fail), would measure itself instead of the logins.
        .env("COUNTERSIGN_THROTTLE__ACCOUNT_THRESHOLD", "1000000")
        .env("COUNTERSIGN_THROTTLE__ADDRESS_THRESHOLD", "1000000")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(logs.reopen().unwrap())
        .spawn()
        .expect("start the release server");
    // Owned from here on, so the process is reaped however this ends.
    let mut server = Server {
        child,
        address: String::new(),
        logs,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let file = std::fs::File::open(server.logs.path()).unwrap();
        let listening = BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .find(|line| line.contains("countersign is listening"));
        if let Some(line) = listening {
            let event: Value = serde_json::from_str(&line).unwrap();
            server.address = format!("http://{}", event["fields"]["address"].as_str().unwrap());
            return server;
        }
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Resident memory of a process, in KiB, from /proc.
pub fn resident_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
