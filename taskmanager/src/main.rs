//! `strom-taskmanager [--config PATH] [-D key=value]...`
//!
//! Registers `taskmanager.numberOfTaskSlots` slots with the JobManager at
//! `jobmanager.rpc.address:jobmanager.rpc.port`, heartbeats, fetches job binaries by hash and
//! supervises the worker processes the JobManager asks for. Invalid configuration exits with 2
//! naming the key.

const USAGE: &str = "Usage: strom-taskmanager [--config PATH] [-D key=value]...";

fn main() {
    let loaded = strom_runtime::cluster::config::start_process(USAGE, <[String]>::is_empty);
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
