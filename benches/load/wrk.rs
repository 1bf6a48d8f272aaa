//! Load from wrk (Debian's `wrk`, a second process): a Lua script per
//! operation sets the request, and its `done` hook prints the counts and
//! latency percentiles parsed here. Refresh grants chain: each response's
//! refresh token is the next request's, per wrk thread. Operations that
//! need more (a code flow's codes) bring their own Lua hooks.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::measure::{Run, Stats, busy_ticks, settle};
use crate::server::on_cpus;

/// wrk's threads; its connections are `Run::concurrency`.
const THREADS: usize = 2;

pub struct Request {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<String>,
    /// Refresh grants: the first refresh token of each chain, one per
    /// connection and one more, since wrk asks its first thread for a
    /// request before connecting (to size its pipeline) and never sends it.
    pub refresh_chains: Option<Vec<String>>,
    /// Lua defining wrk's `init`, `request` or `response` hooks; the
    /// thread's number (0, 1, …) is in `id`.
    pub hooks: Option<String>,
}

impl Request {
    pub fn get(url: String) -> Self {
        Self {
            method: "GET",
            url,
            headers: Vec::new(),
            body: None,
            refresh_chains: None,
            hooks: None,
        }
    }

    pub fn post(url: String, content_type: &str, body: String) -> Self {
        Self {
            method: "POST",
            url,
            headers: vec![("Content-Type", content_type.to_owned())],
            body: Some(body),
            refresh_chains: None,
            hooks: None,
        }
    }

    pub fn header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// Whether wrk is installed; the load benchmark needs it.
pub fn available() -> bool {
    Command::new("wrk").arg("--version").output().is_ok()
}

/// A Lua long string: our values never contain its closing bracket.
fn lua(text: &str) -> String {
    format!("[==[{text}]==]")
}

fn script(request: &Request) -> String {
    let headers: String = request
        .headers
        .iter()
        .map(|(name, value)| format!("wrk.headers[ {} ] = {}\n", lua(name), lua(value)))
        .collect();
    let mut script = format!("wrk.method = {}\n{headers}", lua(request.method));
    if let Some(body) = &request.body {
        script.push_str(&format!("wrk.body = {}\n", lua(body)));
    }
    if request.refresh_chains.is_some() || request.hooks.is_some() {
        script.push_str(
            r#"
counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
"#,
        );
    }
    if let Some(hooks) = &request.hooks {
        script.push_str(hooks);
    }
    if let Some(chains) = &request.refresh_chains {
        let tokens: Vec<String> = chains.iter().map(|t| lua(t)).collect();
        script.push_str(&format!(
            r#"
local all = {{ {tokens} }}
function init(args)
  queue = {{}}
  for i, token in ipairs(all) do
    if (i - 1) % {THREADS} == id then table.insert(queue, token) end
  end
end
function request()
  local token = table.remove(queue, 1) or "exhausted"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end
function response(status, headers, body)
  local next = body:match('"refresh_token":"([^"]+)"')
  if next then table.insert(queue, next) end
end
"#,
            tokens = tokens.join(", ")
        ));
    }
    script.push_str(
        r#"
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %d %d %d %d %d %d\n", summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"#,
    );
    script
}

/// Runs `request` under wrk for `run.seconds` from `run.concurrency`
/// connections, measuring the CPU `pid` (the server) and the machine used.
pub fn measure(
    run: &Run,
    name: &'static str,
    request: &Request,
    pid: Option<u32>,
) -> Option<Stats> {
    if !run.wants(name) {
        return None;
    }
    settle();
    let file = tempfile::Builder::new().suffix(".lua").tempfile().unwrap();
    std::fs::write(file.path(), script(request)).unwrap();
    let before = busy_ticks(pid);
    let started = Instant::now();
    let output = on_cpus(Path::new("wrk"), run.wrk_cpus.as_deref())
        .arg(format!("-t{THREADS}"))
        .arg(format!("-c{}", run.concurrency))
        .arg(format!("-d{}s", run.seconds))
        .args(["--timeout", "10s", "-s"])
        .arg(file.path())
        .arg(&request.url)
        .output()
        .expect("run wrk");
    let elapsed = started.elapsed().as_secs_f64();
    let after = busy_ticks(pid);
    eprint!("{}", String::from_utf8_lossy(&output.stderr));
    let report = String::from_utf8_lossy(&output.stdout);
    let line = report
        .lines()
        .find_map(|l| l.strip_prefix("WRK "))
        .unwrap_or_else(|| panic!("wrk said: {report}"));
    let n: Vec<u64> = line
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    let [
        requests,
        duration_us,
        socket_errors,
        status_errors,
        p50_us,
        p99_us,
    ] = n[..]
    else {
        panic!("unexpected wrk report {line}");
    };
    let errors = socket_errors + status_errors;
    let cores = |ticks: u64| ticks as f64 / 100.0 / elapsed;
    Some(Stats {
        name,
        per_second: requests.saturating_sub(status_errors) as f64 / (duration_us as f64 / 1e6),
        p50: Duration::from_micros(p50_us),
        p99: Duration::from_micros(p99_us),
        errors,
        server_cores: pid.map_or(f64::NAN, |_| cores(after.0 - before.0)),
        machine_cores: cores(after.1 - before.1),
    })
}
