//! The `strom` command-line client. For now it prints its version and help; `run`, `list`,
//! `cancel`, `savepoint`, `stop` and `info` arrive with the cluster (they talk to the
//! JobManager's REST API).

use std::process::ExitCode;

const HELP: &str = "\
strom: command-line client of the Strom stream processor

Usage: strom <command> [options]

Commands:
  version      print the version
  help         print this help

Coming with the cluster: run, list, cancel, savepoint, stop, info.
Job binaries run on their own today: `<job> --help` lists their options, `<job> plan` prints the job graph.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("help" | "-h" | "--help") => {
            println!("{HELP}");
            ExitCode::SUCCESS
        }
        Some("version" | "-V" | "--version") => {
            println!("strom {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("error: unknown command '{other}'\n\n{HELP}");
            ExitCode::from(2)
        }
    }
}
