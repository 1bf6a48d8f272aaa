//! Driving an operation from many concurrent clients and measuring it:
//! throughput, latency percentiles, and the CPU the server and the whole
//! machine used meanwhile.

use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct Stats {
    pub name: &'static str,
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
    pub errors: u64,
    /// Cores the server process kept busy, on average.
    pub server_cores: f64,
    /// Cores the whole machine kept busy (server, database, load generator).
    pub machine_cores: f64,
}

/// How a run is shaped, and which process is the server.
#[derive(Clone)]
pub struct Run {
    pub concurrency: usize,
    pub seconds: u64,
    pub only: Option<String>,
    pub server_pid: u32,
    /// The CPUs wrk runs on (a `taskset` list), when the server has others
    /// to itself.
    pub wrk_cpus: Option<String>,
}

impl Run {
    /// Whether the operation or scenario `name` is to run (`--only PREFIX`).
    pub fn wants(&self, name: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|prefix| name.starts_with(prefix.as_str()))
    }
}

/// CPU time (clock ticks) a process has used, from /proc.
fn process_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15; after the command name they
    // are the 12th and 13th.
    field(11) + field(12)
}

/// Busy CPU time (clock ticks) of the whole machine, from /proc/stat.
fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait.
    cpu.iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum()
}

/// CPU ticks used so far by `pid` (0 without one) and by the whole machine.
pub fn busy_ticks(pid: Option<u32>) -> (u64, u64) {
    (pid.map_or(0, process_ticks), machine_busy_ticks())
}

/// Waits, at most 20 s, until the machine is quiet: what the previous
/// operation left behind (requests still queued in the server, the audit
/// trail's batches, the database's own work after a burst of writes) would
/// otherwise be measured as the next operation's cost.
pub fn settle() {
    const WINDOW: Duration = Duration::from_millis(500);
    // A tenth of a core over the window, in clock ticks (100 a second).
    const QUIET_TICKS: u64 = 5;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let before = machine_busy_ticks();
        std::thread::sleep(WINDOW);
        if machine_busy_ticks() - before <= QUIET_TICKS {
            return;
        }
        if Instant::now() > deadline {
            eprintln!("the machine did not quiet down in 20 s; measuring anyway");
            return;
        }
    }
}

/// Runs `step` from `concurrency` tasks for `seconds`; each task owns the
/// state `init` gives it (for example its own refresh-token chain).
pub async fn measure<S, I, IF, F, FF>(
    run: &Run,
    name: &'static str,
    init: I,
    step: F,
) -> Option<Stats>
where
    S: Send + 'static,
    I: Fn() -> IF,
    IF: std::future::Future<Output = S>,
    F: Fn(S) -> FF + Send + Sync + 'static,
    FF: std::future::Future<Output = (S, bool)> + Send,
{
    if !run.wants(name) {
        return None;
    }
    settle();
    let step = Arc::new(step);
    let mut states = Vec::with_capacity(run.concurrency);
    for _ in 0..run.concurrency {
        states.push(init().await);
    }
    let deadline = Instant::now() + Duration::from_secs(run.seconds);
    let (server_before, machine_before) = (process_ticks(run.server_pid), machine_busy_ticks());
    let started = Instant::now();
    let tasks: Vec<_> = states
        .into_iter()
        .map(|mut state| {
            let step = Arc::clone(&step);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let (next, ok) = step(state).await;
                    state = next;
                    latencies.push(t0.elapsed());
                    errors += u64::from(!ok);
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (mut l, e) = task.await.unwrap();
        latencies.append(&mut l);
        errors += e;
    }
    let elapsed = started.elapsed().as_secs_f64();
    // Clock ticks are 1/100 s on Linux.
    let cores = |ticks: u64| ticks as f64 / 100.0 / elapsed;
    let server_cores = cores(process_ticks(run.server_pid) - server_before);
    let machine_cores = cores(machine_busy_ticks() - machine_before);
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q) as usize];
    Some(Stats {
        name,
        per_second: (latencies.len() as u64 - errors) as f64 / elapsed,
        p50: at(0.50),
        p99: at(0.99),
        errors,
        server_cores,
        machine_cores,
    })
}
