//! `strom-taskmanager [--config PATH] [-D key=value]...`
//!
//! Registers `taskmanager.numberOfTaskSlots` slots with the JobManager at
//! `jobmanager.rpc.address:jobmanager.rpc.port`, heartbeats, fetches job binaries by hash and
//! supervises the worker processes the JobManager asks for. Invalid configuration exits with 2
//! naming the key.

use strom_runtime::cluster::config::{load, PROPERTIES_ENV};

const USAGE: &str = "Usage: strom-taskmanager [--config PATH] [-D key=value]...";

fn main() {
    init_tracing();
    let properties = std::env::var(PROPERTIES_ENV).ok();
    let loaded = match load(std::env::args().skip(1), properties.as_deref()) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {}\n{USAGE}", e.report());
            std::process::exit(2);
        }
    };
    match loaded.rest.first().map(String::as_str) {
        None => {}
        Some("-h" | "--help") => {
            println!("{USAGE}");
            return;
        }
        Some(other) => {
            eprintln!("error: unexpected argument '{other}'\n{USAGE}");
            std::process::exit(2);
        }
    }
    let settings = match strom_taskmanager::Settings::from_config(&loaded.config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}", e.report());
            std::process::exit(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            std::process::exit(1);
        }
    };
    runtime.block_on(strom_taskmanager::run(settings));
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}
