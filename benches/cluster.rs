//! Cluster figures: a JobManager and TaskManagers as real processes on loopback.
//!
//! ```text
//! cargo build --release --workspace --bins && cargo bench -p strom-examples --bench cluster
//! CLUSTER_BENCH_EVENTS=2000000 cargo bench -p strom-examples --bench cluster
//! ```
//!
//! The bench needs the `strom-jobmanager`, `strom-taskmanager` and `strom` binaries of the
//! same profile next to it (`target/release/` for `cargo bench`; `target/debug/` with
//! `--profile dev`). It prints one `key=value` line per figure:
//!
//! - `startup`: time from spawning a TaskManager to its appearance in `/taskmanagers`
//!   (polled every millisecond), for two TaskManagers of one slot each;
//! - `idle_rss`: resident memory of the JobManager and of a TaskManager after two seconds
//!   with nothing to do;
//! - `nexmark`: q0 and q5 at parallelism 2, once in one process (the job binary's local
//!   mode, its own `events_per_sec`) and once spread over the two TaskManagers (RUNNING to
//!   FINISHED in the REST API's timestamps). q5's keyed exchange sends half of the records
//!   across TCP between the two worker processes; q0 is one chained task per slot, so its
//!   spread run exchanges no records at all;
//! - `failover`: a third TaskManager joins, q5 runs unbounded with default settings
//!   (checkpoints every second, Flink's default restart strategy: fixed delay of 1 s), and a
//!   TaskManager that runs the job is killed with SIGKILL; the figure is the time from the
//!   kill to the job's state reading RUNNING again (polled every 5 ms).
//!
//! `CLUSTER_BENCH_EVENTS` sets the events of each Nexmark run (default 10,000,000).

#[path = "../tests/e2e/local_cluster.rs"]
mod local_cluster;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use local_cluster::{rss_kib, LocalCluster};

const DEFAULT_EVENTS: u64 = 10_000_000;

fn main() {
    let events = std::env::var("CLUSTER_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_EVENTS);
    let mut cluster = LocalCluster::start(0, 1, &[]);
    for n in 0..2 {
        let started = Instant::now();
        cluster.start_task_manager();
        cluster.wait_for_within(Duration::from_secs(10), Duration::from_millis(1), "the TaskManager to register", |c| {
            (c.registered_task_managers() == n + 1).then_some(())
        });
        println!("startup taskmanager={n} registered_ms={}", started.elapsed().as_millis());
    }
    // Idle means idle for a while: the figure is what a waiting cluster holds.
    std::thread::sleep(Duration::from_secs(2));
    let tm = cluster.tms[0].as_ref().expect("started").0.id();
    println!("idle_rss jobmanager_mib={:.1} taskmanager_mib={:.1}", mib(rss_kib(cluster.jm.0.id())), mib(rss_kib(tm)));

    let nexmark = cluster.job_binary(Path::new(env!("CARGO_BIN_EXE_nexmark")));
    for query in ["q0", "q5"] {
        let local = local_rate(&nexmark, query, events);
        let spread = cluster_rate(&cluster, &nexmark, query, events);
        println!("nexmark query={query} events={events} parallelism=2 one_process_events_per_sec={local:.0} two_taskmanagers_events_per_sec={spread:.0} ratio={:.2}", spread / local);
    }

    failover(&mut cluster, &nexmark);
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The job binary in local mode: its own last line says `events_per_sec=R`.
fn local_rate(binary: &Path, query: &str, events: u64) -> f64 {
    let out = Command::new(binary).args(["-p", "2", "--query", query, "--events", &events.to_string()]).output().expect("nexmark runs");
    assert!(out.status.success(), "nexmark {query} failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rate = stdout.rsplit("events_per_sec=").next().and_then(|r| r.trim().parse().ok());
    rate.unwrap_or_else(|| panic!("no events_per_sec in: {stdout}"))
}

/// The same job on the cluster: events over the time from RUNNING to FINISHED.
fn cluster_rate(cluster: &LocalCluster, binary: &Path, query: &str, events: u64) -> f64 {
    let args = ["--query".to_string(), query.to_string(), "--events".to_string(), events.to_string()];
    let job = cluster.submit(binary, 2, None, &args);
    assert_eq!(cluster.wait_for_end(&job), "FINISHED", "logs in {}", cluster.dir.path().display());
    let details = cluster.get(&format!("/jobs/{job}"));
    let at = |state: &str| details["timestamps"][state].as_i64().unwrap_or_else(|| panic!("no {state} timestamp: {details}"));
    let elapsed_ms = (at("FINISHED") - at("RUNNING")).max(1);
    events as f64 * 1000.0 / elapsed_ms as f64
}

/// Kills a TaskManager that runs an unbounded job and times the way back to RUNNING.
fn failover(cluster: &mut LocalCluster, binary: &Path) {
    let spare = cluster.start_task_manager();
    cluster.wait_for("the spare TaskManager to register", |c| (c.registered_task_managers() == 3).then_some(()));
    let args = ["--query", "q5", "--events", "100000000000", "-D", "execution.checkpointing.interval=1s"].map(String::from);
    let job = cluster.submit(binary, 2, None, &args);
    cluster.wait_for("a completed checkpoint", |c| (c.completed_checkpoints(&job) >= 1).then_some(()));
    let victim = (0..spare).find(|&n| !cluster.workers_of(n).is_empty()).expect("a TaskManager runs the job");
    let killed = Instant::now();
    cluster.kill_task_manager(victim);
    let every = Duration::from_millis(5);
    cluster.wait_for_within(Duration::from_secs(60), every, "the job to leave RUNNING", |c| (c.job_state(&job) != "RUNNING").then_some(()));
    cluster.wait_for_within(Duration::from_secs(60), every, "the job to run again", |c| (c.job_state(&job) == "RUNNING").then_some(()));
    println!("failover kill_to_running_ms={} restart_strategy=default", killed.elapsed().as_millis());
    cluster.strom(&["cancel", &job]);
}
