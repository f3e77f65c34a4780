//! The Nexmark throughput harness: every query on the runtime at parallelism 1 and 2, and
//! as a bare loop ([`strom_examples::nexmark::bare`]), over the same bounded event stream.
//!
//! ```text
//! cargo bench -p strom-examples --bench nexmark
//! NEXMARK_EVENTS=5000000 NEXMARK_QUERIES=q0,q5 cargo bench -p strom-examples --bench nexmark
//! ```
//!
//! `NEXMARK_EVENTS` is the number of events per run (default 10,000,000) and
//! `NEXMARK_QUERIES` a comma-separated list of queries (default: all).
//! `--checkpoint-interval 1s` (or `NEXMARK_CHECKPOINT_INTERVAL`) turns checkpointing on for the
//! runtime runs (into a temporary directory) and adds checkpoint statistics to their lines;
//! `--state-backend hashmap|rocksdb` (or `NEXMARK_STATE_BACKEND`) sets `state.backend.type`, and
//! `--incremental` `state.backend.incremental`:
//!
//! ```text
//! cargo bench -p strom-examples --bench nexmark -- --state-backend rocksdb --checkpoint-interval 1s
//! ```
//!
//! Each run prints one line:
//!
//! ```text
//! query=q5 mode=bare parallelism=1 events=N elapsed_ms=T events_per_sec=R
//! query=q5 mode=runtime parallelism=1 events=N elapsed_ms=T events_per_sec=R ratio_to_bare=X.XX backend=hashmap
//! ```
//!
//! `ratio_to_bare` is the runtime's throughput over the bare loop's. The runtime runs
//! with its default configuration and discards the rows in a blackhole sink; the bare loop
//! discards them through `black_box`. Elapsed time is the job's run time as the runtime
//! reports it (threads started to all finished), and the whole loop for the bare run.

use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use strom::StreamEnv;
use strom_examples::nexmark::{self, bare, Output, Query};

/// Events per run unless `NEXMARK_EVENTS` says otherwise.
const DEFAULT_EVENTS: u64 = 10_000_000;
/// The runtime's parallelisms to measure.
const PARALLELISMS: [u32; 2] = [1, 2];
/// Events of the unmeasured warm-up run (page faults, allocator arenas, thread start-up).
const WARM_UP_EVENTS: u64 = 200_000;

fn main() -> ExitCode {
    let settings = match settings() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    warm_up();
    for &query in &settings.queries {
        if let Err(message) = bench(query, &settings) {
            eprintln!("error: {query}: {message}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Runs q0 bare and on the runtime once, unmeasured, so that the first measured run does
/// not pay for the process's warm-up.
fn warm_up() {
    let config = nexmark::generator_config(WARM_UP_EVENTS);
    std::hint::black_box(bare::run(Query::Q0, &config));
    let env = StreamEnv::new();
    nexmark::build(&env, Query::Q0, &config, &Output::Discard);
    // A failure here shows again in the measured runs, with its query.
    let _ = env.execute("Nexmark warm-up");
}

/// What to run and how.
struct Settings {
    events: u64,
    queries: Vec<Query>,
    /// `state.backend.type`.
    backend: Option<String>,
    /// `execution.checkpointing.interval`.
    checkpoint_interval: Option<String>,
    /// `state.backend.incremental`.
    incremental: bool,
}

/// The settings, from the command line (`--state-backend`, `--checkpoint-interval`,
/// `--incremental`; cargo adds `--bench`) and the environment.
fn settings() -> Result<Settings, String> {
    let events = match std::env::var("NEXMARK_EVENTS") {
        Ok(v) => v.trim().replace('_', "").parse::<u64>().map_err(|e| format!("invalid NEXMARK_EVENTS '{v}': {e}"))?,
        Err(_) => DEFAULT_EVENTS,
    };
    let queries = match std::env::var("NEXMARK_QUERIES") {
        Ok(v) => v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Query::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?,
        Err(_) => Query::ALL.to_vec(),
    };
    let mut settings = Settings {
        events,
        queries,
        backend: std::env::var("NEXMARK_STATE_BACKEND").ok(),
        checkpoint_interval: std::env::var("NEXMARK_CHECKPOINT_INTERVAL").ok(),
        incremental: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--state-backend" => settings.backend = Some(value("--state-backend")?),
            "--checkpoint-interval" => settings.checkpoint_interval = Some(value("--checkpoint-interval")?),
            "--incremental" => settings.incremental = true,
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument '{other}' (accepted: --state-backend hashmap|rocksdb, --checkpoint-interval D, --incremental)"
                ))
            }
        }
    }
    Ok(settings)
}

/// Runs `query` as a bare loop, then on the runtime at each parallelism, printing a line per run.
fn bench(query: Query, settings: &Settings) -> Result<(), String> {
    let events = settings.events;
    let config = nexmark::generator_config(events);
    let started = Instant::now();
    let rows = bare::run(query, &config);
    let bare_elapsed = started.elapsed();
    std::hint::black_box(rows);
    let bare_rate = nexmark::events_per_sec(events, bare_elapsed);
    println!("{}", line(query, "bare", 1, events, bare_elapsed));
    for parallelism in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(parallelism);
        let checkpoints = configure_state(&env, settings);
        nexmark::build(&env, query, &config, &Output::Discard);
        let result = env.execute(&format!("Nexmark {query}")).map_err(|e| e.report())?;
        let elapsed = result.net_runtime;
        let ratio = nexmark::events_per_sec(events, elapsed) as f64 / bare_rate.max(1) as f64;
        let stats = checkpoint_stats(&result.checkpoints);
        let backend = settings.backend.as_deref().unwrap_or("hashmap");
        println!("{} ratio_to_bare={ratio:.2} backend={backend}{stats}", line(query, "runtime", parallelism, events, elapsed));
        if let Some(dir) = checkpoints {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    Ok(())
}

/// Applies the state backend and checkpointing settings; returns the temporary checkpoint
/// directory to delete afterwards.
fn configure_state(env: &StreamEnv, settings: &Settings) -> Option<std::path::PathBuf> {
    if let Some(backend) = &settings.backend {
        env.set_config("state.backend.type", backend);
    }
    if settings.incremental {
        env.set_config("state.backend.incremental", "true");
    }
    let interval = settings.checkpoint_interval.as_ref()?;
    let dir = std::env::temp_dir().join(format!("strom-bench-{}", std::process::id()));
    env.set_config("execution.checkpointing.interval", interval).set_config("state.checkpoints.dir", &dir.display().to_string());
    Some(dir)
}

/// ` checkpoints=N checkpoint_ms_avg=A checkpoint_ms_max=M checkpoint_bytes_max=B` for
/// completed checkpoints, or nothing without checkpointing.
fn checkpoint_stats(history: &[strom::checkpoint::CheckpointStats]) -> String {
    let done: Vec<_> = history.iter().filter(|c| c.status == "COMPLETED").collect();
    if done.is_empty() {
        return String::new();
    }
    let avg = done.iter().map(|c| c.duration_ms).sum::<u64>() / done.len() as u64;
    let max = done.iter().map(|c| c.duration_ms).max().unwrap_or(0);
    let bytes = done.iter().map(|c| c.state_size).max().unwrap_or(0);
    let uploaded = done.iter().map(|c| c.checkpointed_size).sum::<u64>() / done.len() as u64;
    format!(
        " checkpoints={} checkpoint_ms_avg={avg} checkpoint_ms_max={max} checkpoint_bytes_max={bytes} checkpointed_bytes_avg={uploaded}",
        done.len()
    )
}

fn line(query: Query, mode: &str, parallelism: u32, events: u64, elapsed: Duration) -> String {
    let rate = nexmark::events_per_sec(events, elapsed);
    format!("query={query} mode={mode} parallelism={parallelism} events={events} elapsed_ms={} events_per_sec={rate}", elapsed.as_millis())
}
