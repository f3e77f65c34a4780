//! `strom`: command-line client of a Strom JobManager.
//!
//! Talks to the JobManager's REST API, which uses Apache Flink's REST v1
//! paths and JSON shapes. See [`args::GLOBAL_USAGE`] for the commands and
//! exit codes.

mod args;
mod commands;
mod output;
mod progress;
mod rest;

use std::process::ExitCode;

use args::{Parsed, ADDRESS_ENV, GLOBAL_USAGE};
use commands::EXIT_USAGE;
use output::out;

fn main() -> ExitCode {
    let raw: Result<Vec<String>, _> = std::env::args_os().skip(1).map(|a| a.into_string()).collect();
    let raw = match raw {
        Ok(raw) => raw,
        Err(bad) => {
            eprintln!("error: argument {bad:?} is not valid UTF-8");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let env_address = std::env::var(ADDRESS_ENV).ok();
    let code = match args::parse(&raw, env_address.as_deref()) {
        Ok(Parsed::Help(None)) => {
            out(GLOBAL_USAGE);
            0
        }
        Ok(Parsed::Help(Some(kind))) => {
            out(&kind.usage());
            0
        }
        Ok(Parsed::Version) => {
            out(concat!("strom ", env!("CARGO_PKG_VERSION"), "\n"));
            0
        }
        Ok(Parsed::Command(command)) => match commands::execute(command) {
            Ok(code) => code,
            Err(e) => {
                eprintln!("error: {}", e.message);
                e.code
            }
        },
        Err(usage) => {
            let help = match usage.command {
                Some(kind) => kind.usage(),
                None => GLOBAL_USAGE.to_string(),
            };
            eprint!("error: {}\n\n{help}", usage.message);
            EXIT_USAGE
        }
    };
    ExitCode::from(code)
}
