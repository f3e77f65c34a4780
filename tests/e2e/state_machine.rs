//! `state-machine`: the keyed state machine accepts every valid generated sequence, so it
//! raises alerts exactly for injected invalid transitions.

use crate::support::{output_lines, run_ok};

const BIN: &str = env!("CARGO_BIN_EXE_state-machine");

#[test]
fn no_alerts_without_injected_errors_at_any_parallelism() {
    // Any lost, misrouted or mixed-up keyed state would make valid transitions look invalid.
    let dir = tempfile::tempdir().unwrap();
    for p in ["1", "4"] {
        let out = dir.path().join(format!("out-{p}"));
        run_ok(BIN, &["--events", "300000", "--error-rate", "0", "--output", out.to_str().unwrap(), "-p", p]);
        assert_eq!(output_lines(&out), Vec::<String>::new(), "p={p}");
    }
}

#[test]
fn injected_errors_raise_alerts_and_stdout_equals_the_file_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let args = ["--events", "100000", "--error-rate", "0.01", "-p", "2"];
    let printed = run_ok(BIN, &args);
    let mut printed: Vec<String> =
        String::from_utf8(printed.stdout).unwrap().lines().map(|l| l.split_once("> ").map_or(l, |(_, alert)| alert).to_string()).collect();
    printed.sort();
    let with_output: Vec<&str> = args.iter().copied().chain(["--output", out.to_str().unwrap()]).collect();
    run_ok(BIN, &with_output);
    let written = output_lines(&out);
    assert!(written.len() > 100, "{} alerts", written.len());
    assert!(written.iter().all(|a| a.starts_with("ALERT ") && a.contains(" -> ")), "{:?}", &written[..3]);
    assert_eq!(printed, written);
}
