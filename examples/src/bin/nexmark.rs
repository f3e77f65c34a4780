//! `nexmark`: runs one Nexmark query on a bounded stream of generated events and reports
//! its throughput.
//!
//! ```text
//! nexmark [-p N] --query qN --events N [--output DIR]
//! ```
//!
//! The rows are written as text lines into part files in `DIR` when `--output` is given,
//! and discarded otherwise (Flink Nexmark's `blackhole` sink). The last line on stdout is
//! `query=qN events=N parallelism=P elapsed_ms=T events_per_sec=R`. An unknown query name
//! exits with code 2 and lists the valid ones. See [`strom_examples::nexmark`] for the
//! queries.

use std::path::PathBuf;

use strom::connectors::nexmark::GeneratorConfig;
use strom::RunMode;
use strom_examples::nexmark::{self, Output, Query};

const USAGE: &str = "--query qN --events N [--output DIR] [--state-backend hashmap|rocksdb]";

fn main() {
    strom::main(USAGE, |env| {
        let args = env.args();
        let query: Query = args.required("query")?;
        let events: u64 = args.required("events")?;
        let output = args.get::<PathBuf>("output")?.map_or(Output::Discard, Output::Files);
        // The same as `-D state.backend.type=...`.
        if let Some(backend) = args.get::<String>("state-backend")? {
            env.set_config("state.backend.type", &backend);
        }
        let config: GeneratorConfig = nexmark::generator_config(events);
        nexmark::build(env, query, &config, &output);
        let result = env.execute(&format!("Nexmark {query}"))?;
        if env.mode() == RunMode::Local {
            let elapsed = result.net_runtime;
            let rate = nexmark::events_per_sec(events, elapsed);
            let parallelism = env.parallelism();
            println!("query={query} events={events} parallelism={parallelism} elapsed_ms={} events_per_sec={rate}", elapsed.as_millis());
        }
        Ok(())
    })
}
