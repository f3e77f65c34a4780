//! The job binary's command line: runtime flags, the mode, and the job's own arguments.
//!
//! ```text
//! my-job [plan] [-p N | --parallelism N] [-D key=value]... [--help] [job arguments]
//! ```
//! Runtime flags may appear anywhere; everything else is left to the job ([`JobArgs`]).
//! Bad arguments print a message and exit with code 2; a failed job exits with code 1.

use crate::api::env::{SAVEPOINT_IGNORE_UNCLAIMED, SAVEPOINT_PATH};
use crate::api::{JobArgs, RunMode, StreamEnv};
use crate::config::{Configuration, PARALLELISM_DEFAULT};
use crate::error::{Error, Result};

/// What the command line asks for.
#[derive(Debug)]
pub enum Invocation {
    /// Print help and exit.
    Help,
    /// Run (or plan) the job.
    Run {
        /// Local run or plan.
        mode: RunMode,
        /// Configuration from `-D` and `-p`.
        config: Configuration,
        /// The job's own arguments.
        args: Vec<String>,
    },
}

impl Invocation {
    /// Parses the arguments after the program name.
    ///
    /// ```
    /// use strom_runtime::{Invocation, RunMode};
    /// let inv = Invocation::parse(["plan", "-p", "4", "--input", "x", "-Dpipeline.max-parallelism=64"]).unwrap();
    /// let Invocation::Run { mode, config, args } = inv else { panic!() };
    /// assert_eq!(mode, RunMode::Plan);
    /// assert_eq!(config.get("parallelism.default"), Some("4"));
    /// assert_eq!(config.get("pipeline.max-parallelism"), Some("64"));
    /// assert_eq!(args, vec!["--input", "x"]);
    /// assert!(Invocation::parse(["-p", "zero"]).is_err());
    /// ```
    pub fn parse<I: IntoIterator<Item = S>, S: Into<String>>(args: I) -> Result<Self> {
        let mut args = args.into_iter().map(Into::into).peekable();
        let mut mode = if std::env::var_os(crate::cluster::WORKER_ENV).is_some() { RunMode::Worker } else { RunMode::Local };
        if args.peek().map(String::as_str) == Some("plan") {
            mode = RunMode::Plan;
            args.next();
        }
        let (mut config, mut rest) = (Configuration::default(), Vec::new());
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "-h" | "--help" => return Ok(Invocation::Help),
                "-p" | "--parallelism" => {
                    let v = args.next().ok_or_else(|| Error::Usage(format!("{arg} needs a number")))?;
                    set_parallelism(&mut config, &v)?;
                }
                "-D" => config.set_from_arg(&args.next().ok_or_else(|| Error::Usage("-D needs key=value".into()))?)?,
                "-s" | "--from-savepoint" => {
                    let path = args.next().ok_or_else(|| Error::Usage(format!("{arg} needs a savepoint or checkpoint directory")))?;
                    config.set(SAVEPOINT_PATH, path);
                }
                "-n" | "--allow-non-restored-state" => config.set(SAVEPOINT_IGNORE_UNCLAIMED, "true"),
                _ if arg.starts_with("--parallelism=") => set_parallelism(&mut config, &arg["--parallelism=".len()..])?,
                _ if arg.starts_with("-D") => config.set_from_arg(&arg[2..])?,
                _ => rest.push(arg),
            }
        }
        Ok(Invocation::Run { mode, config, args: rest })
    }
}

fn set_parallelism(config: &mut Configuration, v: &str) -> Result<()> {
    match v.parse::<u32>() {
        Ok(p) if p > 0 => {
            config.set(PARALLELISM_DEFAULT, p.to_string());
            Ok(())
        }
        _ => Err(Error::Usage(format!("parallelism must be a positive integer, got '{v}'"))),
    }
}

const RUNTIME_HELP: &str = "\
Runtime options (any job):
  plan                    print the job graph as JSON instead of running the job
  -p, --parallelism N     default parallelism (parallelism.default)
  -D key=value            configuration, with Flink's keys (e.g. pipeline.max-parallelism=128,
                          execution.checkpointing.interval=10s, state.checkpoints.dir=/data/chk)
  -s, --from-savepoint P  restore from a savepoint or a retained chk-<n> directory
  -n, --allow-non-restored-state
                          skip savepoint state of operators that are not in the job
  -h, --help              this help";

/// Runs a job binary: parses the command line, builds the job with `job`, and exits with
/// 0 (success), 1 (the job failed) or 2 (bad arguments or configuration).
///
/// ```no_run
/// // The whole `main` of a job binary:
/// strom_runtime::main("--count N", |env| {
///     let n: u64 = env.args().required("count")?;
///     env.from_collection((0..n).collect()).map(|x: u64| x * x).sink(strom_runtime::CollectSink::new());
///     env.execute("squares").map(drop)
/// })
/// ```
pub fn main(usage: &str, job: impl FnOnce(&StreamEnv) -> Result<()>) -> ! {
    init_tracing("warn");
    let program = std::env::args().next().and_then(|p| p.rsplit('/').next().map(str::to_string)).unwrap_or_else(|| "job".into());
    let invocation = Invocation::parse(std::env::args().skip(1));
    let code = match invocation {
        Ok(Invocation::Help) => {
            println!("Usage: {program} [plan] [runtime options] {usage}\n\n{RUNTIME_HELP}");
            0
        }
        Ok(Invocation::Run { mode, config, args }) => match JobArgs::parse(args) {
            Ok(args) => report(&program, usage, job(&StreamEnv::build(config, mode, args))),
            Err(e) => report(&program, usage, Err(e)),
        },
        Err(e) => report(&program, usage, Err(e)),
    };
    std::process::exit(code)
}

fn report(program: &str, usage: &str, result: Result<()>) -> i32 {
    match result {
        Ok(()) => 0,
        Err(e @ (Error::Usage(_) | Error::Config { .. } | Error::Graph(_))) => {
            eprintln!("error: {e}\n\nUsage: {program} [plan] [runtime options] {usage}\nRun '{program} --help' for the runtime options.");
            2
        }
        Err(e) => {
            eprintln!("error: job failed: {}", report_chain(&e));
            1
        }
    }
}

/// An error with its causes: "a: b: c".
pub(crate) fn report_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

/// Logs to stderr (stdout belongs to a job's output), filtered by `RUST_LOG`, else at
/// `default_level`.
pub(crate) fn init_tracing(default_level: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}
