//! The sub-commands: glue between parsed arguments, the REST client and the
//! output formatting. Results go to stdout, progress and errors to stderr.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::args::{CancelArgs, Command, InfoArgs, ListArgs, RunArgs, SavepointArgs, StopArgs};
use crate::output::{format_duration, is_terminal, json_line, out, render_job_list, render_plan, JobOutcome, Plan, SavepointOutcome};
use crate::progress::{UploadProgress, Waiting};
use crate::rest::{JobExecutionResult, RestClient, RestError, RunRequest, SavepointStatus};

/// Exit code: success (job submitted, finished, savepoint completed...).
pub(crate) const EXIT_OK: u8 = 0;
/// Exit code: the job failed or was cancelled, or the request was rejected
/// (HTTP 4xx).
pub(crate) const EXIT_FAILED: u8 = 1;
/// Exit code: usage error (bad arguments, missing binary).
pub(crate) const EXIT_USAGE: u8 = 2;
/// Exit code: JobManager unreachable or server error (HTTP 5xx).
pub(crate) const EXIT_UNREACHABLE: u8 = 3;

/// Interval between `GET /jobs/<id>/status` polls.
const JOB_POLL: Duration = Duration::from_millis(500);
/// Interval between savepoint status polls.
const SAVEPOINT_POLL: Duration = Duration::from_millis(250);
/// How many times to ask for the execution result of an ended job.
const RESULT_ATTEMPTS: u32 = 20;

/// An error that ends a command. `message` is printed after `error: `; its
/// later lines say what to do.
#[derive(Debug)]
pub(crate) struct CliError {
    /// Process exit code.
    pub code: u8,
    /// Message, possibly several lines.
    pub message: String,
}

impl CliError {
    fn new(code: u8, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// Runs a parsed command and returns its exit code.
pub(crate) fn execute(command: Command) -> Result<u8, CliError> {
    match command {
        Command::Run(a) => run(a),
        Command::List(a) => list(a),
        Command::Cancel(a) => cancel(a),
        Command::Savepoint(a) => savepoint(a),
        Command::Stop(a) => stop(a),
        Command::Info(a) => info(a),
    }
}

/// Turns a REST failure into a message that names the address and says
/// what to do. `job` is the job the request was about, if any.
fn rest_error(client: &RestClient, err: RestError, job: Option<&str>) -> CliError {
    let addr = client.address();
    let code = err.exit_code();
    let message = match err {
        RestError::Unreachable(detail) => format!(
            "could not reach the JobManager at {addr}: {detail}\n\
             check that the JobManager is running and that -m/--jobmanager or \
             STROM_REST_ADDRESS gives its REST address (host:port)"
        ),
        RestError::Status { status, messages } => {
            let hint = match (status, job) {
                (404, Some(id)) => format!("no job {id} on {addr}; see `strom list -m {addr}`"),
                (s, _) if s >= 500 => {
                    format!("the JobManager at {addr} answered HTTP {s}; see its log for details")
                }
                (s, _) => format!("the JobManager at {addr} rejected the request (HTTP {s})"),
            };
            format!("{}\n{hint}", messages.join("\n"))
        }
        RestError::BadResponse(detail) => format!(
            "unexpected answer from {addr}: {detail}\n\
             check that {addr} is the REST address of a Strom JobManager"
        ),
        RestError::LocalIo(detail) => detail,
    };
    CliError::new(code, message)
}

/// Final state of [`wait_for_terminal`].
enum Waited {
    /// The job reached this globally terminal state.
    Terminal(String),
    /// The timeout passed; the job was last seen in this state.
    TimedOut(String),
}

/// Polls the job status until it is terminal (or `timeout` passes),
/// printing state changes on stderr when `report` is set.
fn wait_for_terminal(client: &RestClient, job_id: &str, timeout: Option<Duration>, report: bool) -> Result<Waited, CliError> {
    let started = Instant::now();
    let mut last: Option<String> = None;
    loop {
        let state = client.job_status(job_id).map_err(|e| {
            let mut e = rest_error(client, e, Some(job_id));
            if e.code == EXIT_UNREACHABLE {
                e.message.push_str(&format!("\nthe job may still be running; check with `strom list -m {}`", client.address()));
            }
            e
        })?;
        if report && last.as_deref() != Some(state.as_str()) {
            eprintln!("Job status: {state}");
        }
        if is_terminal(&state) {
            return Ok(Waited::Terminal(state));
        }
        if timeout.is_some_and(|t| started.elapsed() >= t) {
            return Ok(Waited::TimedOut(state));
        }
        last = Some(state);
        sleep(JOB_POLL);
    }
}

/// Fetches the execution result of an ended job; `None` (with a warning on
/// stderr) if it is not available.
fn execution_result(client: &RestClient, job_id: &str) -> Option<JobExecutionResult> {
    for attempt in 1..=RESULT_ATTEMPTS {
        match client.execution_result(job_id) {
            Ok(Some(result)) => return Some(result),
            Ok(None) if attempt < RESULT_ATTEMPTS => sleep(JOB_POLL),
            Ok(None) => break,
            Err(e) => {
                let e = rest_error(client, e, Some(job_id));
                eprintln!("warning: could not fetch the execution result: {}", e.message);
                return None;
            }
        }
    }
    eprintln!("warning: the execution result of job {job_id} is not available yet");
    None
}

fn check_binary(binary: &str) -> Result<u64, CliError> {
    match std::fs::metadata(binary) {
        Ok(m) if m.is_file() => Ok(m.len()),
        Ok(_) => Err(CliError::new(EXIT_USAGE, format!("{binary} is not a file"))),
        Err(e) => Err(CliError::new(EXIT_USAGE, format!("cannot read {binary}: {e}"))),
    }
}

/// `strom run`.
pub(crate) fn run(a: RunArgs) -> Result<u8, CliError> {
    let size = check_binary(&a.binary)?;
    let path = Path::new(&a.binary);
    let client = RestClient::new(&a.address);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| a.binary.clone());
    let mut progress = UploadProgress::start(&name, size, client.address());
    let jar_id = client.upload(path, move |done, total| progress.update(done, total)).map_err(|e| rest_error(&client, e, None))?;
    let request = RunRequest {
        program_args_list: a.job_args.clone(),
        parallelism: a.parallelism,
        savepoint_path: a.savepoint_path.clone(),
        allow_non_restored_state: a.allow_non_restored_state,
    };
    let job_id = client.run_jar(&jar_id, &request).map_err(|e| rest_error(&client, e, None))?;
    let submitted = format!("Job has been submitted with JobID {job_id}\n");
    if a.json {
        eprint!("{submitted}");
    } else {
        out(&submitted);
    }
    if a.detached {
        if a.json {
            out(&json_line(&JobOutcome {
                jobid: &job_id,
                state: "SUBMITTED",
                jar_id: Some(&jar_id),
                duration_ms: None,
                failure_cause: None,
            }));
        }
        return Ok(EXIT_OK);
    }

    let Waited::Terminal(state) = wait_for_terminal(&client, &job_id, None, true)? else {
        unreachable!("no timeout given");
    };
    let result = execution_result(&client, &job_id).unwrap_or_default();
    let duration = result.net_runtime;
    let cause = result.failure_cause.as_ref().map(|c| c.text());
    if a.json {
        out(&json_line(&JobOutcome {
            jobid: &job_id,
            state: &state,
            jar_id: Some(&jar_id),
            duration_ms: duration,
            failure_cause: if state == "FAILED" { cause.clone() } else { None },
        }));
    }
    let took = |what: &str, preposition: &str| match duration {
        Some(ms) => format!("Job {job_id} {what} {preposition} {}\n", format_duration(ms)),
        None => format!("Job {job_id} {what}\n"),
    };
    match state.as_str() {
        "FINISHED" => {
            if !a.json {
                out(&took("finished", "in"));
            }
            Ok(EXIT_OK)
        }
        "CANCELED" => {
            if !a.json {
                out(&took("was cancelled", "after"));
            }
            Ok(EXIT_FAILED)
        }
        _ => {
            if a.json {
                return Ok(EXIT_FAILED);
            }
            out(&took("failed", "after"));
            Err(CliError::new(
                EXIT_FAILED,
                format!("job {job_id} failed:\n{}", cause.unwrap_or_else(|| "(no failure cause available)".to_string())),
            ))
        }
    }
}

/// `strom list`.
pub(crate) fn list(a: ListArgs) -> Result<u8, CliError> {
    let client = RestClient::new(&a.address);
    let overview = client.jobs_overview().map_err(|e| rest_error(&client, e, None))?;
    if a.json {
        out(&format!("{}\n", overview.raw_jobs));
    } else {
        out(&render_job_list(&overview.jobs));
    }
    Ok(EXIT_OK)
}

/// `strom cancel`.
pub(crate) fn cancel(a: CancelArgs) -> Result<u8, CliError> {
    let client = RestClient::new(&a.address);
    let id = a.job_id.as_str();
    eprintln!("Cancelling job {id}.");
    client.cancel(id).map_err(|e| rest_error(&client, e, Some(id)))?;
    let timeout = Duration::from_secs(a.timeout_secs);
    let waited = wait_for_terminal(&client, id, Some(timeout), false)?;
    let state = match &waited {
        Waited::Terminal(s) | Waited::TimedOut(s) => s.as_str(),
    };
    if a.json {
        out(&json_line(&JobOutcome { jobid: id, state, jar_id: None, duration_ms: None, failure_cause: None }));
    }
    match waited {
        Waited::Terminal(s) if s == "CANCELED" => {
            if !a.json {
                out(&format!("Cancelled job {id}.\n"));
            }
            Ok(EXIT_OK)
        }
        Waited::Terminal(s) => Err(CliError::new(EXIT_FAILED, format!("job {id} ended as {s} before it could be cancelled"))),
        Waited::TimedOut(s) => Err(CliError::new(
            EXIT_FAILED,
            format!(
                "cancellation of job {id} was requested, but the job is still {s} after {} s\n\
                 check its state later with `strom list -m {}`",
                a.timeout_secs,
                client.address()
            ),
        )),
    }
}

/// `strom savepoint`.
pub(crate) fn savepoint(a: SavepointArgs) -> Result<u8, CliError> {
    let client = RestClient::new(&a.address);
    let id = a.job_id.as_str();
    eprintln!("Triggering savepoint for job {id}.");
    let trigger = client.trigger_savepoint(id, a.target_directory.as_deref()).map_err(|e| rest_error(&client, e, Some(id)))?;
    wait_for_savepoint(&client, id, &trigger, a.timeout_secs, a.json)
}

/// `strom stop`.
pub(crate) fn stop(a: StopArgs) -> Result<u8, CliError> {
    let client = RestClient::new(&a.address);
    let id = a.job_id.as_str();
    eprintln!("Suspending job {id} with a savepoint.");
    let trigger = client.stop_with_savepoint(id, a.savepoint_path.as_deref()).map_err(|e| rest_error(&client, e, Some(id)))?;
    wait_for_savepoint(&client, id, &trigger, a.timeout_secs, a.json)
}

/// Polls a savepoint (or stop-with-savepoint) operation until it completes,
/// fails, or `timeout_secs` pass.
fn wait_for_savepoint(client: &RestClient, id: &str, trigger: &str, timeout_secs: u64, json: bool) -> Result<u8, CliError> {
    let timeout = Duration::from_secs(timeout_secs);
    let mut waiting = Waiting::start();
    let outcome = |state, location, failure_cause| {
        if json {
            out(&json_line(&SavepointOutcome { jobid: id, request_id: trigger, state, location, failure_cause }));
        }
    };
    loop {
        let status = client.savepoint_status(id, trigger).map_err(|e| rest_error(client, e, Some(id)))?;
        match status {
            SavepointStatus::InProgress => {
                if waiting.elapsed() >= timeout {
                    waiting.done();
                    outcome("IN_PROGRESS", None, None);
                    return Err(CliError::new(
                        EXIT_FAILED,
                        format!(
                            "savepoint of job {id} did not complete within {timeout_secs} s; \
                             it may still complete\n\
                             check with: curl http://{}/jobs/{}/savepoints/{}",
                            client.address(),
                            id,
                            trigger
                        ),
                    ));
                }
                sleep(SAVEPOINT_POLL);
                waiting.tick();
            }
            SavepointStatus::Completed(location) => {
                waiting.done();
                outcome("COMPLETED", Some(&location), None);
                if !json {
                    out(&format!("Savepoint completed. Path: {location}\n"));
                    eprintln!(
                        "You can resume your program from this savepoint with: \
                         strom run -s {location} BINARY"
                    );
                }
                return Ok(EXIT_OK);
            }
            SavepointStatus::Failed(cause) => {
                waiting.done();
                outcome("FAILED", None, Some(cause.text()));
                return Err(CliError::new(EXIT_FAILED, format!("savepoint of job {id} failed:\n{}", cause.text())));
            }
        }
    }
}

/// The path to execute for BINARY: a bare file name means the file in the
/// current directory (as for `run`), not a `$PATH` lookup.
fn executable_path(binary: &str) -> PathBuf {
    let path = Path::new(binary);
    if path.components().count() == 1 && path.is_relative() {
        Path::new(".").join(path)
    } else {
        path.to_path_buf()
    }
}

/// `strom info`.
pub(crate) fn info(a: InfoArgs) -> Result<u8, CliError> {
    check_binary(&a.binary)?;
    let shown = format!("{} plan", a.binary);
    let output = std::process::Command::new(executable_path(&a.binary))
        .arg("plan")
        .args(&a.job_args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| CliError::new(EXIT_USAGE, format!("cannot run `{shown}`: {e}")))?;
    if !output.status.success() {
        return Err(match output.status.code() {
            // A job binary's 2 is a usage error, as ours; anything else is a failure (its 3
            // would read as "JobManager unreachable").
            Some(code) => CliError::new(
                if code == i32::from(EXIT_USAGE) { EXIT_USAGE } else { EXIT_FAILED },
                format!("`{shown}` failed with exit code {code}"),
            ),
            None => CliError::new(EXIT_FAILED, format!("`{shown}` was killed ({})", output.status)),
        });
    }
    let text = String::from_utf8(output.stdout)
        .map_err(|_| CliError::new(EXIT_FAILED, format!("`{shown}` printed something that is not UTF-8")))?;
    let invalid = |e: serde_json::Error| CliError::new(EXIT_FAILED, format!("`{shown}` did not print a job plan: {e}"));
    if a.json {
        serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(invalid)?;
        out(&format!("{}\n", text.trim()));
    } else {
        let plan: Plan = serde_json::from_str(&text).map_err(invalid)?;
        out(&render_plan(&plan));
    }
    Ok(EXIT_OK)
}
