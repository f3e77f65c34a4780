//! Strom: a stream-processing runtime with Flink's semantics.
//!
//! This crate is what job code depends on: it re-exports the runtime's DataStream API
//! ([`strom_runtime`]) and the connectors ([`connectors`]). A job is a binary whose `main`
//! calls [`main`] (or builds a [`StreamEnv`] and calls `execute`).
//!
//! ```
//! use strom::prelude::*;
//! let env = StreamEnv::new();
//! let out = CollectSink::new();
//! env.from_collection(vec!["a b".to_string(), "b".to_string()])
//!     .flat_map(|line: String, out: &mut Collector<String>| line.split(' ').for_each(|w| out.collect(w.to_string())))
//!     .key_by(|w: &String| w.clone())
//!     .reduce(|a, _b| a)
//!     .sink(out.clone());
//! env.execute("words").unwrap();
//! assert_eq!(out.sorted(), vec!["a", "b", "b"]);
//! ```

mod mini_cluster;

pub use strom_connectors as connectors;
pub use strom_runtime::*;

/// Runs a job binary, as [`strom_runtime::main`] does, with `local` mode on the embedded mini
/// cluster: the JobManager and a TaskManager of the real cluster in this process, so that a job
/// runs locally on the same code paths as on a cluster. Exits with 0 (success), 1 (the job
/// failed) or 2 (bad arguments or configuration).
///
/// ```no_run
/// // The whole `main` of a job binary:
/// strom::main("--count N", |env| {
///     let n: u64 = env.args().required("count")?;
///     env.from_collection((0..n).collect()).map(|x: u64| x * x).sink(strom::CollectSink::new());
///     env.execute("squares").map(drop)
/// })
/// ```
pub fn main(usage: &str, job: impl FnOnce(&StreamEnv) -> Result<()>) -> ! {
    strom_runtime::main(usage, |env| {
        env.set_local_executor(std::sync::Arc::new(mini_cluster::MiniCluster));
        job(env)
    })
}

/// What a job usually needs, in one import: the runtime's prelude and the connectors.
pub mod prelude {
    pub use strom_connectors::DataStreamExt;
    pub use strom_runtime::prelude::*;
}

/// The README's Rust code blocks compile.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
