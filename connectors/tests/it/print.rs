//! `PrintSink`: the lines on the real stdout and stderr of a process.
//!
//! The test re-runs this test binary as a child process that runs only
//! [`print_job_in_child_process`] (which does nothing unless [`CHILD_ENV`] is set), and
//! compares the child's output lines with the expected ones.

use std::process::Command;

use strom_connectors::{DataGenSource, DataStreamExt, PrintSink};
use strom_runtime::prelude::*;

use crate::support::sorted;

/// Tells the child which job to run: `<stdout|stderr>,<parallelism>,<identifier>`.
const CHILD_ENV: &str = "STROM_TEST_PRINT_CHILD";
const RECORDS: u64 = 2_000;

/// Runs a printing job in this process when started by [`print_output`].
#[test]
fn print_job_in_child_process() {
    let Ok(spec) = std::env::var(CHILD_ENV) else { return };
    let mut fields = spec.splitn(3, ',');
    let (target, p, identifier) = (fields.next(), fields.next(), fields.next().unwrap_or(""));
    let p: u32 = p.and_then(|p| p.parse().ok()).expect("the parent passes a parallelism");
    // Ends the line the test harness may have started ("test ... "), so records start lines.
    println!();
    let env = StreamEnv::new();
    env.set_parallelism(p);
    let values = env.add_source("Values", DataGenSource::new(Some(RECORDS), |i| format!("value-{i}")));
    match (target, identifier) {
        (Some("stdout"), "") => drop(values.print()),
        (Some("stderr"), "") => drop(values.print_to_err()),
        (Some("stdout"), id) => drop(values.sink(PrintSink::stdout().with_identifier(id))),
        _ => panic!("unknown print job '{spec}'"),
    }
    env.execute("print").expect("the job succeeds");
}

/// The record lines the child printed to the stream it was asked to print to.
fn print_output(spec: &str, stderr: bool) -> Vec<String> {
    let exe = std::env::current_exe().expect("the test binary's path");
    let output = Command::new(exe)
        .args(["print::print_job_in_child_process", "--exact", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, spec)
        .output()
        .expect("running the child process");
    assert!(output.status.success(), "child '{spec}' failed: {}", String::from_utf8_lossy(&output.stderr));
    let stream = if stderr { &output.stderr } else { &output.stdout };
    sorted(String::from_utf8_lossy(stream).lines().filter(|l| l.contains("value-")).map(str::to_string).collect())
}

/// At parallelism p (> 1) source subtask i emits the indices i, i+p, ... into sink subtask
/// i (a forward edge), so index k is printed by subtask k % p, as "{k % p + 1}> value-k".
fn expected(p: u32, identifier: &str) -> Vec<String> {
    let line = |k: u64| {
        let subtask = k % u64::from(p) + 1;
        match (p, identifier) {
            (1, "") => format!("value-{k}"),
            (1, id) => format!("{id}> value-{k}"),
            (_, "") => format!("{subtask}> value-{k}"),
            (_, id) => format!("{id}:{subtask}> value-{k}"),
        }
    };
    sorted((0..RECORDS).map(line).collect())
}

#[test]
fn print_writes_one_line_per_record_prefixed_by_the_subtask_above_parallelism_1() {
    for p in [1, 3] {
        assert_eq!(print_output(&format!("stdout,{p},"), false), expected(p, ""), "parallelism {p}");
    }
}

#[test]
fn print_to_err_writes_to_stderr() {
    for p in [1, 2] {
        assert_eq!(print_output(&format!("stderr,{p},"), true), expected(p, ""), "parallelism {p}");
    }
}

#[test]
fn an_identifier_starts_every_line() {
    for p in [1, 2] {
        assert_eq!(print_output(&format!("stdout,{p},counts"), false), expected(p, "counts"), "parallelism {p}");
    }
}
