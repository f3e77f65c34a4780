//! Command-line argument parsing for `strom`.
//!
//! Parsing is hand-written (no clap) to keep the dependency tree and compile
//! time small. The parser is a pure function of the argument list and the
//! value of `STROM_REST_ADDRESS`, so it is unit-tested without touching the
//! process environment.
//!
//! Rules:
//! - options of `run` and `info` must come before `BINARY`; every token after
//!   `BINARY` is a job argument and is passed through untouched, even when it
//!   looks like an option (`--help`, `-p`, `--`);
//! - the other commands accept options anywhere; `--` ends option parsing;
//! - long options accept both `--name value` and `--name=value`;
//! - a repeated option overrides the earlier one.

use std::fmt;

/// Default JobManager REST address used when neither `-m` nor
/// [`ADDRESS_ENV`] is given.
pub(crate) const DEFAULT_ADDRESS: &str = "localhost:8081";

/// Environment variable holding the default JobManager REST address
/// (`host:port`).
pub(crate) const ADDRESS_ENV: &str = "STROM_REST_ADDRESS";

/// Default for `savepoint --timeout` and `stop --timeout`, in seconds.
pub(crate) const DEFAULT_SAVEPOINT_TIMEOUT_SECS: u64 = 600;

/// Default for `cancel --timeout`, in seconds.
pub(crate) const DEFAULT_CANCEL_TIMEOUT_SECS: u64 = 60;

/// Overview printed by `strom --help` and on usage errors without a command.
pub(crate) const GLOBAL_USAGE: &str = "\
strom - command-line client for a Strom JobManager

Usage:
  strom run [-m host:port] [-p N] [-s path] [--allow-non-restored-state] [--detached] [--json] BINARY [job args...]
  strom list [-m host:port] [--json]
  strom cancel [-m host:port] [--timeout SECONDS] [--json] ID
  strom savepoint [-m host:port] [--timeout SECONDS] [--json] ID [DIR]
  strom stop [-m host:port] [--savepoint-path DIR] [--timeout SECONDS] [--json] ID
  strom info [--json] BINARY [job args...]

Run `strom <command> --help` for the options of one command.

The JobManager REST address is taken from -m/--jobmanager, else from the
STROM_REST_ADDRESS environment variable, else localhost:8081.

Exit codes: 0 success; 1 job failed or was cancelled, or the JobManager
rejected the request (HTTP 4xx); 2 usage error; 3 JobManager unreachable or
server error (HTTP 5xx).
";

const ADDRESS_HELP: &str = "\
  -m, --jobmanager host:port
                       JobManager REST address (default: $STROM_REST_ADDRESS,
                       else localhost:8081)";

/// The six sub-commands of `strom`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CommandKind {
    /// `strom run`: upload a job binary and submit it.
    Run,
    /// `strom list`: list the jobs of the cluster.
    List,
    /// `strom cancel`: cancel a job.
    Cancel,
    /// `strom savepoint`: trigger a savepoint.
    Savepoint,
    /// `strom stop`: stop a job with a savepoint.
    Stop,
    /// `strom info`: print the job graph of a binary.
    Info,
}

impl CommandKind {
    /// Looks a command up by the name given on the command line.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "run" => Self::Run,
            "list" => Self::List,
            "cancel" => Self::Cancel,
            "savepoint" => Self::Savepoint,
            "stop" => Self::Stop,
            "info" => Self::Info,
            _ => return None,
        })
    }

    /// The name of the command as typed on the command line.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::List => "list",
            Self::Cancel => "cancel",
            Self::Savepoint => "savepoint",
            Self::Stop => "stop",
            Self::Info => "info",
        }
    }

    /// Full help text of the command (`strom <cmd> --help`).
    pub(crate) fn usage(self) -> String {
        match self {
            Self::Run => format!(
                "\
Usage: strom run [options] BINARY [job args...]

Uploads BINARY to the JobManager and runs it as a job. Everything after BINARY
is passed to the job unchanged. Without --detached, waits until the job ends
(interrupting strom does not cancel the job).

Options:
{ADDRESS_HELP}
  -p, --parallelism N  default parallelism of the job
  -s, --from-savepoint path
                       restore the job from this savepoint
  -n, --allow-non-restored-state
                       allow savepoint state that maps to no operator
  -d, --detached       return once the job is submitted
      --json           print one JSON object instead of text
  -h, --help           print this help
"
            ),
            Self::List => format!(
                "\
Usage: strom list [options]

Lists the running, scheduled and terminated jobs. Start times are in UTC.

Options:
{ADDRESS_HELP}
      --json           print the jobs as a JSON array
  -h, --help           print this help
"
            ),
            Self::Cancel => format!(
                "\
Usage: strom cancel [options] ID

Cancels job ID and waits until it is CANCELED.

Options:
{ADDRESS_HELP}
      --timeout SECONDS
                       how long to wait for the job to be CANCELED (default {DEFAULT_CANCEL_TIMEOUT_SECS})
      --json           print one JSON object instead of text
  -h, --help           print this help
"
            ),
            Self::Savepoint => format!(
                "\
Usage: strom savepoint [options] ID [DIR]

Triggers a savepoint of job ID into DIR (default: the JobManager's configured
savepoint directory) and waits for it to complete. The job keeps running.

Options:
{ADDRESS_HELP}
      --timeout SECONDS
                       how long to wait for the savepoint (default {DEFAULT_SAVEPOINT_TIMEOUT_SECS})
      --json           print one JSON object instead of text
  -h, --help           print this help
"
            ),
            Self::Stop => format!(
                "\
Usage: strom stop [options] ID

Stops job ID gracefully, taking a final savepoint.

Options:
{ADDRESS_HELP}
  -p, --savepoint-path DIR
                       savepoint directory (default: the JobManager's
                       configured savepoint directory)
      --timeout SECONDS
                       how long to wait for the savepoint (default {DEFAULT_SAVEPOINT_TIMEOUT_SECS})
      --json           print one JSON object instead of text
  -h, --help           print this help
"
            ),
            Self::Info => "\
Usage: strom info [options] BINARY [job args...]

Runs `BINARY plan [job args...]` locally and prints the job graph.

Options:
      --json           print the plan JSON as the binary printed it
  -h, --help           print this help
"
            .to_string(),
        }
    }

    /// Whether the command talks to a JobManager (and so accepts `-m`).
    fn is_remote(self) -> bool {
        !matches!(self, Self::Info)
    }

    /// Whether the command takes `BINARY [job args...]`.
    fn takes_binary(self) -> bool {
        matches!(self, Self::Run | Self::Info)
    }
}

/// Arguments of `strom run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunArgs {
    /// JobManager REST address, `host:port`.
    pub address: String,
    /// `-p`: default parallelism of the job.
    pub parallelism: Option<u32>,
    /// `-s`: savepoint to restore from.
    pub savepoint_path: Option<String>,
    /// `--allow-non-restored-state`.
    pub allow_non_restored_state: bool,
    /// `--detached`: do not wait for the job to end.
    pub detached: bool,
    /// `--json`: machine-readable output.
    pub json: bool,
    /// Path of the job binary to upload.
    pub binary: String,
    /// Arguments passed to the job unchanged.
    pub job_args: Vec<String>,
}

/// Arguments of `strom list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListArgs {
    /// JobManager REST address, `host:port`.
    pub address: String,
    /// `--json`: machine-readable output.
    pub json: bool,
}

/// Arguments of `strom cancel`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CancelArgs {
    /// JobManager REST address, `host:port`.
    pub address: String,
    /// `--json`: machine-readable output.
    pub json: bool,
    /// `--timeout`: seconds to wait for the job to reach CANCELED.
    pub timeout_secs: u64,
    /// The job to cancel.
    pub job_id: String,
}

/// Arguments of `strom savepoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SavepointArgs {
    /// JobManager REST address, `host:port`.
    pub address: String,
    /// `--json`: machine-readable output.
    pub json: bool,
    /// `--timeout`: seconds to wait for the savepoint.
    pub timeout_secs: u64,
    /// The job to take a savepoint of.
    pub job_id: String,
    /// Target directory; `None` uses the JobManager's default.
    pub target_directory: Option<String>,
}

/// Arguments of `strom stop`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StopArgs {
    /// JobManager REST address, `host:port`.
    pub address: String,
    /// `--json`: machine-readable output.
    pub json: bool,
    /// `--timeout`: seconds to wait for the savepoint.
    pub timeout_secs: u64,
    /// The job to stop.
    pub job_id: String,
    /// `--savepoint-path`; `None` uses the JobManager's default.
    pub savepoint_path: Option<String>,
}

/// Arguments of `strom info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InfoArgs {
    /// `--json`: print the plan JSON as received.
    pub json: bool,
    /// Path of the job binary to run locally.
    pub binary: String,
    /// Arguments passed to `BINARY plan` unchanged.
    pub job_args: Vec<String>,
}

/// A fully parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// `strom run`.
    Run(RunArgs),
    /// `strom list`.
    List(ListArgs),
    /// `strom cancel`.
    Cancel(CancelArgs),
    /// `strom savepoint`.
    Savepoint(SavepointArgs),
    /// `strom stop`.
    Stop(StopArgs),
    /// `strom info`.
    Info(InfoArgs),
}

/// Result of parsing the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// `--help` was asked for: the global help (`None`) or a command's.
    Help(Option<CommandKind>),
    /// `--version` was asked for.
    Version,
    /// A command to execute.
    Command(Command),
}

/// A usage error: printed with the relevant usage text, exit code 2.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UsageError {
    /// The command whose usage should be shown, if known.
    pub command: Option<CommandKind>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Parses the command line (without the program name).
///
/// `env_address` is the value of [`ADDRESS_ENV`], if set; it is only used
/// (and validated) when `-m` is not given.
pub(crate) fn parse(args: &[String], env_address: Option<&str>) -> Result<Parsed, UsageError> {
    let Some(first) = args.first() else {
        return Err(UsageError { command: None, message: "no command given".to_string() });
    };
    match first.as_str() {
        "-h" | "--help" | "help" => {
            return match args.get(1).and_then(|c| CommandKind::from_name(c)) {
                Some(kind) if first == "help" => Ok(Parsed::Help(Some(kind))),
                _ => Ok(Parsed::Help(None)),
            };
        }
        "-V" | "--version" => return Ok(Parsed::Version),
        _ => {}
    }
    let Some(kind) = CommandKind::from_name(first) else {
        let message = if first.starts_with('-') {
            format!("unknown option '{first}' (a command must come first)")
        } else {
            format!("unknown command '{first}'")
        };
        return Err(UsageError { command: None, message });
    };
    parse_command(kind, &args[1..], env_address)
}

/// Every option value a command can collect, before per-command validation.
#[derive(Default)]
struct Options {
    address: Option<String>,
    json: bool,
    parallelism: Option<u32>,
    savepoint_path: Option<String>,
    allow_non_restored_state: bool,
    detached: bool,
    timeout_secs: Option<u64>,
}

fn parse_command(kind: CommandKind, rest: &[String], env_address: Option<&str>) -> Result<Parsed, UsageError> {
    let err = |message: String| UsageError { command: Some(kind), message };
    let mut opts = Options::default();
    let mut positionals: Vec<String> = Vec::new();
    let mut i = 0;
    while i < rest.len() {
        let token = &rest[i];
        i += 1;
        if token == "--" {
            positionals.extend(rest[i..].iter().cloned());
            break;
        }
        if !token.starts_with('-') || token == "-" {
            positionals.push(token.clone());
            if kind.takes_binary() {
                // Everything after BINARY belongs to the job.
                positionals.extend(rest[i..].iter().cloned());
                break;
            }
            continue;
        }
        let (name, inline) = match token.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v.to_string())),
            _ => (token.as_str(), None),
        };
        // Takes the option's value: inline (`--x=v`) or the next token.
        let mut value = || -> Result<String, UsageError> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = rest.get(i).cloned().ok_or_else(|| err(format!("option {name} requires a value")))?;
            i += 1;
            Ok(v)
        };
        let flag = |inline: &Option<String>| -> Result<bool, UsageError> {
            match inline {
                Some(_) => Err(err(format!("option {name} takes no value"))),
                None => Ok(true),
            }
        };
        use CommandKind::*;
        match (kind, name) {
            (_, "-h" | "--help") => return Ok(Parsed::Help(Some(kind))),
            (k, "-m" | "--jobmanager") if k.is_remote() => {
                let v = value()?;
                opts.address = Some(validate_address(&v).map_err(|e| err(format!("{name}: {e}")))?);
            }
            (_, "--json") => opts.json = flag(&inline)?,
            (Run, "-p" | "--parallelism") => {
                let v = value()?;
                match v.parse::<u32>() {
                    Ok(n) if n >= 1 => opts.parallelism = Some(n),
                    _ => return Err(err(format!("{name}: parallelism must be a positive integer, got '{v}'"))),
                }
            }
            (Run, "-s" | "--from-savepoint" | "--fromSavepoint") => opts.savepoint_path = Some(value()?),
            (Run, "-n" | "--allow-non-restored-state" | "--allowNonRestoredState") => opts.allow_non_restored_state = flag(&inline)?,
            (Run, "-d" | "--detached") => opts.detached = flag(&inline)?,
            (Stop, "-p" | "--savepoint-path" | "--savepointPath") => opts.savepoint_path = Some(value()?),
            (Cancel | Savepoint | Stop, "--timeout") => {
                let v = value()?;
                opts.timeout_secs =
                    Some(v.parse::<u64>().map_err(|_| err(format!("--timeout: expected a whole number of seconds, got '{v}'")))?);
            }
            _ => return Err(err(format!("unknown option '{name}' for '{}'", kind.name()))),
        }
    }

    let address = || -> Result<String, UsageError> {
        match (&opts.address, env_address) {
            (Some(a), _) => Ok(a.clone()),
            (None, Some(env)) if !env.is_empty() => validate_address(env).map_err(|e| err(format!("{ADDRESS_ENV}={env}: {e}"))),
            _ => Ok(DEFAULT_ADDRESS.to_string()),
        }
    };
    let mut positionals = positionals.into_iter();
    let mut required = |what: &str| positionals.next().ok_or_else(|| err(format!("missing {what}")));

    let command = match kind {
        CommandKind::Run => {
            let binary = required("BINARY")?;
            Command::Run(RunArgs {
                address: address()?,
                parallelism: opts.parallelism,
                savepoint_path: opts.savepoint_path.clone(),
                allow_non_restored_state: opts.allow_non_restored_state,
                detached: opts.detached,
                json: opts.json,
                binary,
                job_args: positionals.collect(),
            })
        }
        CommandKind::Info => {
            let binary = required("BINARY")?;
            Command::Info(InfoArgs { json: opts.json, binary, job_args: positionals.collect() })
        }
        CommandKind::List => {
            no_more(positionals, kind)?;
            Command::List(ListArgs { address: address()?, json: opts.json })
        }
        CommandKind::Cancel => {
            let job_id = required("job ID")?;
            no_more(positionals, kind)?;
            Command::Cancel(CancelArgs {
                address: address()?,
                json: opts.json,
                timeout_secs: opts.timeout_secs.unwrap_or(DEFAULT_CANCEL_TIMEOUT_SECS),
                job_id,
            })
        }
        CommandKind::Savepoint => {
            let job_id = required("job ID")?;
            let target_directory = positionals.next();
            no_more(positionals, kind)?;
            Command::Savepoint(SavepointArgs {
                address: address()?,
                json: opts.json,
                timeout_secs: opts.timeout_secs.unwrap_or(DEFAULT_SAVEPOINT_TIMEOUT_SECS),
                job_id,
                target_directory,
            })
        }
        CommandKind::Stop => {
            let job_id = required("job ID")?;
            no_more(positionals, kind)?;
            Command::Stop(StopArgs {
                address: address()?,
                json: opts.json,
                timeout_secs: opts.timeout_secs.unwrap_or(DEFAULT_SAVEPOINT_TIMEOUT_SECS),
                job_id,
                savepoint_path: opts.savepoint_path.clone(),
            })
        }
    };
    Ok(Parsed::Command(command))
}

fn no_more(mut rest: impl Iterator<Item = String>, kind: CommandKind) -> Result<(), UsageError> {
    match rest.next() {
        Some(extra) => Err(UsageError { command: Some(kind), message: format!("unexpected argument '{extra}'") }),
        None => Ok(()),
    }
}

/// Validates a JobManager address and returns it normalized as `host:port`.
///
/// Accepts `host:port`, `[v6addr]:port`, and the same with an `http://`
/// prefix and/or a trailing `/`. `https://` is rejected: this client speaks
/// plain HTTP only.
pub(crate) fn validate_address(raw: &str) -> Result<String, String> {
    if raw.starts_with("https://") {
        return Err("https is not supported; give host:port of a plain-HTTP REST endpoint".into());
    }
    let s = raw.strip_prefix("http://").unwrap_or(raw);
    let s = s.strip_suffix('/').unwrap_or(s);
    let bad = || format!("expected host:port, got '{raw}'");
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let port_ok = matches!(port.parse::<u16>(), Ok(p) if p != 0);
    let host_ok = !host.is_empty()
        && !host.contains('/')
        && !host.contains(char::is_whitespace)
        && (!host.contains(':') || (host.starts_with('[') && host.ends_with(']')));
    if !port_ok || !host_ok {
        return Err(bad());
    }
    Ok(s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn parse_ok(list: &[&str], env: Option<&str>) -> Command {
        match parse(&args(list), env) {
            Ok(Parsed::Command(c)) => c,
            other => panic!("expected a command, got {other:?}"),
        }
    }

    fn parse_err(list: &[&str]) -> UsageError {
        match parse(&args(list), None) {
            Err(e) => e,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn run_with_all_options_and_job_args_that_look_like_options() {
        let cmd = parse_ok(
            &[
                "run",
                "-m",
                "jm:9000",
                "-p",
                "4",
                "-s",
                "file:/sp/1",
                "--allow-non-restored-state",
                "--detached",
                "--json",
                "./job",
                "--input",
                "-p",
                "7",
                "--help",
                "--",
                "-m",
            ],
            Some("ignored:1"),
        );
        assert_eq!(
            cmd,
            Command::Run(RunArgs {
                address: "jm:9000".into(),
                parallelism: Some(4),
                savepoint_path: Some("file:/sp/1".into()),
                allow_non_restored_state: true,
                detached: true,
                json: true,
                binary: "./job".into(),
                job_args: args(&["--input", "-p", "7", "--help", "--", "-m"]),
            })
        );
    }

    #[test]
    fn run_defaults_and_long_option_forms() {
        let cmd = parse_ok(&["run", "--jobmanager=h:1", "--parallelism=2", "--from-savepoint", "/s", "job"], None);
        assert_eq!(
            cmd,
            Command::Run(RunArgs {
                address: "h:1".into(),
                parallelism: Some(2),
                savepoint_path: Some("/s".into()),
                allow_non_restored_state: false,
                detached: false,
                json: false,
                binary: "job".into(),
                job_args: vec![],
            })
        );
    }

    #[test]
    fn double_dash_makes_next_token_the_binary() {
        let cmd = parse_ok(&["run", "-d", "--", "-weird-name", "a"], None);
        let Command::Run(r) = cmd else { panic!() };
        assert_eq!(r.binary, "-weird-name");
        assert_eq!(r.job_args, args(&["a"]));
    }

    #[test]
    fn address_defaults_to_env_then_localhost() {
        let Command::List(l) = parse_ok(&["list"], Some("envhost:1234")) else { panic!() };
        assert_eq!(l.address, "envhost:1234");
        let Command::List(l) = parse_ok(&["list"], None) else { panic!() };
        assert_eq!(l.address, DEFAULT_ADDRESS);
        let Command::List(l) = parse_ok(&["list"], Some("")) else { panic!() };
        assert_eq!(l.address, DEFAULT_ADDRESS);
        let Command::List(l) = parse_ok(&["list", "-m", "cli:1"], Some("envhost:1234")) else { panic!() };
        assert_eq!(l.address, "cli:1");
    }

    #[test]
    fn invalid_env_address_is_a_usage_error_only_when_used() {
        let e = match parse(&args(&["list"]), Some("nonsense")) {
            Err(e) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(e.message, "STROM_REST_ADDRESS=nonsense: expected host:port, got 'nonsense'");
        assert!(parse(&args(&["list", "-m", "a:1"]), Some("nonsense")).is_ok());
    }

    #[test]
    fn address_validation() {
        assert_eq!(validate_address("h:80").unwrap(), "h:80");
        assert_eq!(validate_address("http://h:80/").unwrap(), "h:80");
        assert_eq!(validate_address("[::1]:8081").unwrap(), "[::1]:8081");
        assert!(validate_address("h").is_err());
        assert!(validate_address("h:").is_err());
        assert!(validate_address(":80").is_err());
        assert!(validate_address("h:0").is_err());
        assert!(validate_address("h:99999").is_err());
        assert!(validate_address("::1:80").is_err());
        assert!(validate_address("https://h:443").is_err());
    }

    #[test]
    fn missing_values_and_arguments() {
        assert_eq!(parse_err(&["run", "-m"]).message, "option -m requires a value");
        assert_eq!(parse_err(&["run", "-p"]).message, "option -p requires a value");
        assert_eq!(parse_err(&["run", "-d"]).message, "missing BINARY");
        assert_eq!(parse_err(&["info"]).message, "missing BINARY");
        assert_eq!(parse_err(&["cancel"]).message, "missing job ID");
        assert_eq!(parse_err(&["savepoint", "--timeout"]).message, "option --timeout requires a value");
        assert_eq!(parse_err(&["run", "-p", "0", "x"]).message, "-p: parallelism must be a positive integer, got '0'");
        assert_eq!(parse_err(&["run", "-p", "many", "x"]).message, "-p: parallelism must be a positive integer, got 'many'");
        assert_eq!(parse_err(&["run", "--detached=yes", "x"]).message, "option --detached takes no value");
        assert_eq!(parse_err(&["cancel", "--timeout", "soon", "x"]).message, "--timeout: expected a whole number of seconds, got 'soon'");
        assert_eq!(parse_err(&["list", "-m", "nope"]).message, "-m: expected host:port, got 'nope'");
    }

    #[test]
    fn unknown_things() {
        let e = parse_err(&["frobnicate"]);
        assert_eq!(e.command, None);
        assert_eq!(e.message, "unknown command 'frobnicate'");
        let e = parse_err(&["--bogus"]);
        assert_eq!(e.message, "unknown option '--bogus' (a command must come first)");
        let e = parse_err(&["list", "--bogus"]);
        assert_eq!(e.command, Some(CommandKind::List));
        assert_eq!(e.message, "unknown option '--bogus' for 'list'");
        // Options valid for other commands are rejected.
        assert_eq!(parse_err(&["info", "-m", "h:1", "x"]).message, "unknown option '-m' for 'info'");
        assert_eq!(parse_err(&["list", "-p", "2"]).message, "unknown option '-p' for 'list'");
        assert_eq!(parse_err(&["list", "extra"]).message, "unexpected argument 'extra'");
        assert_eq!(parse_err(&["savepoint", "id", "dir", "more"]).message, "unexpected argument 'more'");
        assert_eq!(parse_err(&[]).message, "no command given");
    }

    #[test]
    fn help_and_version() {
        assert_eq!(parse(&args(&["--help"]), None), Ok(Parsed::Help(None)));
        assert_eq!(parse(&args(&["-h"]), None), Ok(Parsed::Help(None)));
        assert_eq!(parse(&args(&["help", "stop"]), None), Ok(Parsed::Help(Some(CommandKind::Stop))));
        assert_eq!(parse(&args(&["cancel", "--help"]), None), Ok(Parsed::Help(Some(CommandKind::Cancel))));
        assert_eq!(parse(&args(&["run", "-d", "--help", "job"]), None), Ok(Parsed::Help(Some(CommandKind::Run))));
        assert_eq!(parse(&args(&["--version"]), None), Ok(Parsed::Version));
    }

    #[test]
    fn savepoint_stop_cancel_shapes() {
        assert_eq!(
            parse_ok(&["savepoint", "abc", "--json", "/dir", "-m", "h:2"], None),
            Command::Savepoint(SavepointArgs {
                address: "h:2".into(),
                json: true,
                timeout_secs: DEFAULT_SAVEPOINT_TIMEOUT_SECS,
                job_id: "abc".into(),
                target_directory: Some("/dir".into()),
            })
        );
        assert_eq!(
            parse_ok(&["savepoint", "--timeout", "5", "abc"], None),
            Command::Savepoint(SavepointArgs {
                address: DEFAULT_ADDRESS.into(),
                json: false,
                timeout_secs: 5,
                job_id: "abc".into(),
                target_directory: None,
            })
        );
        assert_eq!(
            parse_ok(&["stop", "--savepoint-path", "/sp", "abc"], None),
            Command::Stop(StopArgs {
                address: DEFAULT_ADDRESS.into(),
                json: false,
                timeout_secs: DEFAULT_SAVEPOINT_TIMEOUT_SECS,
                job_id: "abc".into(),
                savepoint_path: Some("/sp".into()),
            })
        );
        assert_eq!(
            parse_ok(&["cancel", "abc"], None),
            Command::Cancel(CancelArgs {
                address: DEFAULT_ADDRESS.into(),
                json: false,
                timeout_secs: DEFAULT_CANCEL_TIMEOUT_SECS,
                job_id: "abc".into(),
            })
        );
    }

    #[test]
    fn info_passes_args_through() {
        assert_eq!(
            parse_ok(&["info", "--json", "./job", "--json", "-x"], None),
            Command::Info(InfoArgs { json: true, binary: "./job".into(), job_args: args(&["--json", "-x"]) })
        );
    }
}
