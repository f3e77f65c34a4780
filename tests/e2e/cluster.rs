//! A real cluster on loopback ([`LocalCluster`]): one `strom-jobmanager` and several
//! `strom-taskmanager` processes; jobs submitted with the `strom` CLI and driven with the real
//! `flink` CLI; TaskManagers and workers killed with SIGKILL while the job runs; savepoints
//! through the REST API. The committed output must equal the independent simulation exactly.

use std::ops::{Deref, DerefMut};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::exactly_once::committed_lines;
use crate::local_cluster::{http_request, stripped_copy, LocalCluster};
use crate::window_count::{events, simulate, Windows};
use serde_json::Value;

/// A cluster for window-count jobs: fast heartbeats and restarts, two slots per TaskManager.
struct Cluster {
    inner: LocalCluster,
    job_binary: PathBuf,
}

impl Cluster {
    fn start(task_managers: usize) -> Self {
        let options = [
            "heartbeat.timeout=10s",
            "slot.request.timeout=60s",
            "restart-strategy.type=fixed-delay",
            "restart-strategy.fixed-delay.attempts=10",
            "restart-strategy.fixed-delay.delay=100ms",
        ];
        let inner = LocalCluster::start(task_managers, 2, &options);
        let job_binary = inner.job_binary(Path::new(env!("CARGO_BIN_EXE_window-count")));
        Cluster { inner, job_binary }
    }

    /// Submits window-count through the CLI (detached) and returns the job id.
    fn submit(&self, parallelism: u32, savepoint: Option<&str>, job_args: &[String]) -> String {
        self.inner.submit(&self.job_binary, parallelism, savepoint, job_args)
    }
}

impl Deref for Cluster {
    type Target = LocalCluster;
    fn deref(&self) -> &LocalCluster {
        &self.inner
    }
}

impl DerefMut for Cluster {
    fn deref_mut(&mut self) -> &mut LocalCluster {
        &mut self.inner
    }
}

/// Input, expected output and the job's arguments for `events` throttled to `rate` events/s.
fn window_count_job(dir: &Path, len: usize, rate: u32) -> (Vec<String>, Vec<String>, PathBuf) {
    let all: Vec<(i64, String)> =
        events().into_iter().cycle().take(len).enumerate().map(|(i, (ts, k))| (ts + (i / 8_000) as i64 * 56_000, k)).collect();
    std::fs::create_dir_all(dir).unwrap();
    let input = dir.join("events.csv");
    std::fs::write(&input, all.iter().map(|(ts, k)| format!("{ts},{k}\n")).collect::<String>()).unwrap();
    let out = dir.join("out");
    let args = [
        "--input",
        input.to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--size-ms",
        "100",
        "--slide-ms",
        "30",
        "--out-of-orderness-ms",
        "25",
        "--allowed-lateness-ms",
        "40",
        "--rate",
        &rate.to_string(),
    ];
    let want = simulate(&all, Windows::Sliding { size: 100, slide: 30 }, 25, 40);
    (args.iter().map(|s| s.to_string()).collect(), want, out)
}

/// The job's arguments with `--rate 0`: a resumed job need not be slow (its output does not
/// depend on the rate).
fn unthrottled(mut args: Vec<String>) -> Vec<String> {
    let rate = args.iter().position(|a| a == "--rate").expect("a --rate argument") + 1;
    args[rate] = "0".to_string();
    args
}

fn with_checkpoints(mut args: Vec<String>, interval: &str) -> Vec<String> {
    args.extend(["-D".to_string(), format!("execution.checkpointing.interval={interval}")]);
    args
}

#[test]
fn task_manager_killed_mid_run_is_replaced_and_the_output_is_exact() {
    let mut cluster = Cluster::start(2);
    let (args, want, out) = window_count_job(cluster.dir.path(), 120_000, 30_000);
    let job = cluster.submit(4, None, &with_checkpoints(args, "100ms"));
    cluster.wait_for("a completed checkpoint", |c| (c.completed_checkpoints(&job) >= 2).then_some(()));
    assert_eq!(cluster.job_state(&job), "RUNNING");
    assert!(!cluster.workers_of(0).is_empty(), "slots are spread: TaskManager 0 runs a worker");
    cluster.kill_task_manager(0);
    cluster.start_task_manager();
    assert_recovered_exactly(&cluster, &job, &want, &out);
}

/// The job finished after a recorded failover, and its committed output is exactly `want`.
/// A restart from anything but the latest checkpoint would repeat or lose committed lines.
fn assert_recovered_exactly(cluster: &Cluster, job: &str, want: &[String], out: &Path) {
    assert_eq!(cluster.wait_for_end(job), "FINISHED", "logs in {}", cluster.dir.path().display());
    let exceptions = cluster.get(&format!("/jobs/{job}/exceptions"));
    assert!(!exceptions["exceptionHistory"]["entries"].as_array().unwrap().is_empty(), "the failover is recorded: {exceptions}");
    assert_eq!(committed_lines(out), want);
}

#[test]
fn worker_killed_mid_run_restarts_from_the_latest_checkpoint_and_the_output_is_exact() {
    let cluster = Cluster::start(2);
    let (args, want, out) = window_count_job(cluster.dir.path(), 120_000, 30_000);
    let job = cluster.submit(4, None, &with_checkpoints(args, "100ms"));
    cluster.wait_for("a completed checkpoint", |c| (c.completed_checkpoints(&job) >= 2).then_some(()));
    let workers = cluster.workers_of(1);
    assert_eq!(workers.len(), 1, "one worker per job on each TaskManager");
    Command::new("kill").args(["-9", &workers[0].to_string()]).status().unwrap();
    assert_recovered_exactly(&cluster, &job, &want, &out);
    // A crashing job is a failed task, not a dead TaskManager.
    assert_eq!(cluster.registered_task_managers(), 2);
}

#[test]
fn failing_jobs_fail_alone_with_their_cause_and_the_cluster_runs_the_next_job() {
    let options =
        ["restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.attempts=5", "restart-strategy.fixed-delay.delay=100ms"];
    let cluster = LocalCluster::start(2, 2, &options);
    let binary = cluster.job_binary(Path::new(env!("CARGO_BIN_EXE_window-count")));
    let (args, _, _) = window_count_job(&cluster.dir.path().join("bad"), 2_000, 0);
    let input = PathBuf::from(&args[1]);
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.insert_str(text.match_indices('\n').nth(999).unwrap().0 + 1, "1000,a,b\n");
    std::fs::write(&input, text).unwrap();
    let job = cluster.submit(&binary, 4, None, &args);
    assert_eq!(cluster.wait_for_end(&job), "FAILED", "logs in {}", cluster.dir.path().display());
    let exceptions = cluster.get(&format!("/jobs/{job}/exceptions"));
    // Invalid data fails the job at once: a restart would read the same line (as in local mode).
    let want_root = format!(
        "invalid data in Source: Events -> Timestamps/Watermarks (1/1): {}:1001: cannot parse line \"1000,a,b\": \
         expected timestamp_ms,key with a non-empty key without commas, got key 'a,b'",
        input.display()
    );
    assert_eq!(exceptions["root-exception"], want_root.as_str(), "{exceptions}");
    let entries = exceptions["exceptionHistory"]["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "no restart: {exceptions}");
    assert_eq!(entries[0]["taskName"], "Source: Events -> Timestamps/Watermarks (1/1)");
    assert_eq!(cluster.registered_task_managers(), 2, "the failing job took no TaskManager down");
    cluster.wait_for("the failed job's workers to exit", |c| (c.workers_of(0).is_empty() && c.workers_of(1).is_empty()).then_some(()));
    // An output directory that cannot be created is an I/O error: retried, as Flink retries any
    // failure but a few, until the restart strategy gives up (5 attempts).
    let (mut args, _, _) = window_count_job(&cluster.dir.path().join("unwritable"), 2_000, 0);
    let blocker = cluster.dir.path().join("a-file");
    std::fs::write(&blocker, "").unwrap();
    args[3] = blocker.join("out").display().to_string();
    let job = cluster.submit(&binary, 2, None, &args);
    assert_eq!(cluster.wait_for_end(&job), "FAILED", "logs in {}", cluster.dir.path().display());
    let exceptions = cluster.get(&format!("/jobs/{job}/exceptions"));
    let root = exceptions["root-exception"].as_str().unwrap_or_default();
    let cause = format!(" failed: creating {}: Not a directory (os error 20)", blocker.join("out").display());
    assert!(root.starts_with("task Count per window -> Sink: Window counts (") && root.ends_with(&cause), "{root}");
    assert_eq!(exceptions["exceptionHistory"]["entries"].as_array().unwrap().len(), 6, "{exceptions}");
    assert_eq!(cluster.registered_task_managers(), 2);
    let (args, want, out) = window_count_job(&cluster.dir.path().join("good"), 2_000, 0);
    let job = cluster.submit(&binary, 4, None, &args);
    assert_eq!(cluster.wait_for_end(&job), "FINISHED", "logs in {}", cluster.dir.path().display());
    assert_eq!(committed_lines(&out), want);
}

#[test]
fn two_jobs_of_one_binary_submitted_at_once_both_run_exactly() {
    // The TaskManager fetches the binary once for both (a second fetch of the same binary
    // used to take over the first one's download, failing an attempt).
    let cluster = LocalCluster::start(1, 2, &[]);
    let binary = cluster.job_binary(Path::new(env!("CARGO_BIN_EXE_window-count")));
    let jobs: Vec<(Vec<String>, Vec<String>, PathBuf)> =
        ["first", "second"].iter().map(|name| window_count_job(&cluster.dir.path().join(name), 5_000, 0)).collect();
    let ids: Vec<String> = std::thread::scope(|scope| {
        let submits: Vec<_> = jobs.iter().map(|(args, _, _)| scope.spawn(|| cluster.submit(&binary, 1, None, args))).collect();
        submits.into_iter().map(|s| s.join().unwrap()).collect()
    });
    for (id, (_, want, out)) in ids.iter().zip(&jobs) {
        assert_eq!(cluster.wait_for_end(id), "FINISHED", "logs in {}", cluster.dir.path().display());
        let exceptions = cluster.get(&format!("/jobs/{id}/exceptions"));
        assert_eq!(exceptions["exceptionHistory"]["entries"], serde_json::json!([]), "no attempt failed: {exceptions}");
        assert_eq!(&committed_lines(out), want);
    }
}

#[test]
fn a_rest_submission_keeps_its_job_id_and_configuration() {
    let cluster = LocalCluster::start(1, 3, &[]);
    let binary = cluster.job_binary(Path::new(env!("CARGO_BIN_EXE_window-count")));
    let jar = cluster.upload(&binary);
    let (args, want, out) = window_count_job(cluster.dir.path(), 2_000, 0);
    let id = "0123456789abcdef0123456789abcdef";
    let run = serde_json::json!({
        "programArgsList": args,
        "jobId": id,
        "flinkConfiguration": {"parallelism.default": "3"},
    })
    .to_string();
    let (status, answer) = http_request(&cluster.rest, "POST", &format!("/jars/{jar}/run"), "application/json", run.as_bytes());
    assert_eq!((status, answer), (200, serde_json::json!({"jobid": id})));
    assert_eq!(cluster.wait_for_end(id), "FINISHED", "logs in {}", cluster.dir.path().display());
    assert_eq!(committed_lines(&out), want);
    let parallelisms: Vec<Value> =
        cluster.get(&format!("/jobs/{id}"))["vertices"].as_array().unwrap().iter().map(|v| v["parallelism"].clone()).collect();
    // The source chain runs at parallelism 1 by design; the windows take parallelism.default.
    assert_eq!(parallelisms, [serde_json::json!(1), serde_json::json!(3)], "parallelism.default=3 from flinkConfiguration");
    // The id is taken now.
    let (status, answer) = http_request(&cluster.rest, "POST", &format!("/jars/{jar}/run"), "application/json", run.as_bytes());
    let conflict = format!("a job with id {id} exists already; give another jobId or none");
    assert_eq!((status, answer), (409, serde_json::json!({"errors": [conflict]})));
}

#[test]
fn savepoint_through_rest_cancel_and_resume_at_another_parallelism() {
    let cluster = Cluster::start(2);
    // Slow enough (about 12 s) that the savepoint and the cancel come before the end even on a
    // busy machine; the resumed job runs at full speed.
    let (args, want, out) = window_count_job(cluster.dir.path(), 120_000, 10_000);
    // Checkpointing on (so the sink commits through snapshots) but no periodic checkpoint in
    // this run: what is committed is exactly what the savepoint covers.
    let job = cluster.submit(2, None, &with_checkpoints(args.clone(), "1h"));
    cluster.wait_for("the job to run", |c| (c.job_state(&job) == "RUNNING").then_some(()));
    let body = br#"{"cancel-job": false}"#;
    let (status, trigger) = http_request(&cluster.rest, "POST", &format!("/jobs/{job}/savepoints"), "application/json", body);
    assert_eq!(status, 202, "{trigger}");
    let trigger = trigger["request-id"].as_str().expect("a trigger id").to_string();
    let location = cluster.wait_for("the savepoint", |c| {
        let status = c.get(&format!("/jobs/{job}/savepoints/{trigger}"));
        (status["status"]["id"] == "COMPLETED")
            .then(|| status["operation"]["location"].as_str().map(str::to_string).expect("a location, not a failure"))
    });
    let cancel = cluster.strom(&["cancel", &job]);
    assert_eq!(cancel, format!("Cancelled job {job}.\n"));
    assert_eq!(cluster.job_state(&job), "CANCELED");
    let lines_before = committed_lines(&out).len();
    assert!(lines_before < want.len(), "the job was canceled before its end");
    let path = location.strip_prefix("file:").unwrap();
    let resumed = cluster.submit(3, Some(path), &with_checkpoints(unthrottled(args), "1h"));
    let state = cluster.wait_for_end(&resumed);
    assert_eq!(state, "FINISHED", "logs in {}", cluster.dir.path().display());
    assert_eq!(committed_lines(&out), want);
}

/// The real `flink` CLI (PyPI `apache-flink`, installed by `scripts/install-deps.sh` into
/// `$STROM_TOOLS_DIR`, by default `~/.cache/strom`), or `$STROM_FLINK_CLI`.
fn flink_cli() -> PathBuf {
    let path = std::env::var_os("STROM_FLINK_CLI").map(PathBuf::from).unwrap_or_else(|| {
        let tools = std::env::var_os("STROM_TOOLS_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default().join(".cache/strom"));
        tools.join("bin/flink")
    });
    assert!(path.is_file(), "the flink CLI is not at {}: run scripts/install-deps.sh or set STROM_FLINK_CLI", path.display());
    path
}

impl Cluster {
    /// Runs the real `flink` CLI against the cluster's REST API; returns its stdout.
    fn flink(&self, args: &[&str]) -> String {
        let (action, rest) = args.split_first().expect("an action");
        let out = Command::new(flink_cli())
            .arg(action)
            .args(["-m", &self.rest])
            .args(rest)
            .env("FLINK_LOG_DIR", self.dir.path())
            .output()
            .expect("the flink CLI starts");
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "flink {args:?} failed ({}): {stdout}\n{stderr}", out.status);
        stdout.into_owned()
    }
}

/// The path after "Savepoint completed. Path: " in the flink CLI's output.
fn flink_savepoint_path(out: &str) -> PathBuf {
    let path = out.split("Savepoint completed. Path: ").nth(1).unwrap_or_else(|| panic!("no savepoint path in: {out}"));
    let path = path.lines().next().expect("a line").trim();
    PathBuf::from(path.strip_prefix("file:").unwrap_or(path))
}

#[test]
fn the_flink_cli_lists_savepoints_stops_and_cancels_jobs() {
    let cluster = Cluster::start(2);
    // Slow enough (up to 120 s) that the JVM starts of the CLI happen while it runs, even on a
    // machine busy with other tests; resumed without the throttle.
    let (args, want, out) = window_count_job(cluster.dir.path(), 120_000, 1_000);
    let job = cluster.submit(2, None, &with_checkpoints(args.clone(), "1h"));
    cluster.wait_for("the job to run", |c| (c.job_state(&job) == "RUNNING").then_some(()));

    let listed = cluster.flink(&["list"]);
    let line = listed.lines().find(|l| l.contains(&job)).unwrap_or_else(|| panic!("flink list shows the job: {listed}"));
    assert!(line.ends_with("(RUNNING)"), "{line}");

    let savepoints = cluster.dir.path().join("flink-savepoints");
    let taken = flink_savepoint_path(&cluster.flink(&["savepoint", &job, savepoints.to_str().unwrap()]));
    // As in Flink, the target directory holds the savepoint's own directory.
    assert_eq!(taken.parent(), Some(savepoints.as_path()));
    assert!(
        taken.file_name().unwrap().to_str().unwrap().starts_with("savepoint-") && taken.join("_metadata").is_file(),
        "{}",
        taken.display()
    );
    assert_eq!(cluster.job_state(&job), "RUNNING", "a savepoint leaves the job running");

    let stopped = flink_savepoint_path(&cluster.flink(&["stop", "--savepointPath", savepoints.to_str().unwrap(), &job]));
    assert!(
        stopped.parent() == Some(savepoints.as_path()) && stopped != taken && stopped.join("_metadata").is_file(),
        "{}",
        stopped.display()
    );
    cluster.wait_for("the stopped job to finish", |c| (c.job_state(&job) == "FINISHED").then_some(()));
    assert!(committed_lines(&out).len() < want.len(), "the job was stopped before its end");

    // Stop-with-savepoint lost nothing and repeated nothing: resumed, the output is exact.
    let resumed = cluster.submit(2, Some(stopped.to_str().unwrap()), &with_checkpoints(unthrottled(args), "1h"));
    let listed = cluster.flink(&["list", "--all"]);
    assert!(listed.contains(&job) && listed.contains(&resumed), "{listed}");
    assert_eq!(cluster.wait_for_end(&resumed), "FINISHED", "logs in {}", cluster.dir.path().display());
    assert_eq!(committed_lines(&out), want);

    let (slow, _, _) = window_count_job(&cluster.dir.path().join("slow"), 1_000, 10);
    let slow_job = cluster.submit(1, None, &slow);
    cluster.wait_for("the slow job to run", |c| (c.job_state(&slow_job) == "RUNNING").then_some(()));
    let cancelled = cluster.flink(&["cancel", &slow_job]);
    assert!(cancelled.contains(&format!("Cancelled job {slow_job}")), "{cancelled}");
    cluster.wait_for("the job to be canceled", |c| (c.job_state(&slow_job) == "CANCELED").then_some(()));
}

#[test]
fn a_job_without_enough_slots_waits_then_fails_saying_how_many_it_needed() {
    let cluster = LocalCluster::start(1, 2, &["slot.request.timeout=1s"]);
    let binary = cluster.job_binary(Path::new(env!("CARGO_BIN_EXE_window-count")));
    let (args, _, _) = window_count_job(cluster.dir.path(), 100, 1_000);
    let job = cluster.submit(&binary, 3, None, &args);
    assert_eq!(cluster.wait_for_end(&job), "FAILED");
    let exceptions = cluster.get(&format!("/jobs/{job}/exceptions"));
    let want = "could not get 3 slots within slot.request.timeout (1s): 2 of 2 slots are free; \
                start more TaskManagers or lower the parallelism";
    assert_eq!(exceptions["root-exception"], want, "{exceptions}");
    assert_eq!(cluster.get(&format!("/jobs/{job}"))["timestamps"]["RUNNING"], 0, "it never ran (Flink shows 0 for states not reached)");
}

#[test]
fn binaries_that_are_not_strom_jobs_are_refused_and_the_cluster_keeps_running() {
    use std::os::unix::fs::PermissionsExt;
    let cluster = LocalCluster::start(1, 1, &["web.timeout=1s"]);
    let file = |name: &str, text: &str| {
        let path = cluster.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.display().to_string()
    };
    // The JobManager stores an upload as `<32 hex digits>_<name>`; UPLOADS/ stands for that.
    let uploads = format!("{}/", cluster.dir.path().join("strom-data/uploads").display());
    let normalized = |text: &str| match text.find(&uploads) {
        Some(i) => {
            let id = &text[i + uploads.len()..][..33];
            assert!(id[..32].bytes().all(|b| b.is_ascii_hexdigit()) && id.ends_with('_'), "{text}");
            format!("{}UPLOADS/{}", &text[..i], &text[i + uploads.len() + 33..])
        }
        None => text.to_string(),
    };
    let refused = [
        (
            file("hangs.sh", "#!/bin/sh\nexec sleep 600\n"),
            "the job binary UPLOADS/hangs.sh did not print its plan within web.timeout (1s) and was killed; is it a Strom job?",
        ),
        (
            file("fails.sh", "#!/bin/sh\necho 'unknown option --frobnicate' >&2\nexit 3\n"),
            "the job binary's plan failed (exit status: 3): unknown option --frobnicate",
        ),
        (
            file("chatters.sh", "#!/bin/sh\necho hello\n"),
            "the job binary did not print a job graph in plan mode (EOF while parsing a value at line 1 column 0); is it a Strom job?",
        ),
        (file("notes.txt", "just some text\n"), "running the job binary UPLOADS/notes.txt: Exec format error (os error 8)"),
    ];
    for (binary, message) in &refused {
        let out = cluster.strom_output(&["run", "--detached", binary]);
        let (name, size) = (Path::new(binary).file_name().unwrap().to_str().unwrap(), std::fs::metadata(binary).unwrap().len());
        let rest = &cluster.rest;
        let want = format!(
            "Uploading {name} ({size} B) to {rest}\n  {size} B / {size} B (100%)\nerror: {message}\n\
             the JobManager at {rest} rejected the request (HTTP 400)\n"
        );
        assert_eq!(normalized(&String::from_utf8_lossy(&out.stderr)), want);
        assert_eq!((out.status.code(), out.stdout.as_slice()), (Some(1), &b""[..]), "{binary}");
    }
    assert_eq!(cluster.get("/jobs/overview")["jobs"], serde_json::json!([]), "no job was created");
    assert_eq!(cluster.registered_task_managers(), 1);
    // The refused binaries leave the cluster able to run a real job.
    let binary = cluster.job_binary(Path::new(env!("CARGO_BIN_EXE_window-count")));
    let (args, want, out) = window_count_job(cluster.dir.path(), 1_000, 0);
    let job = cluster.submit(&binary, 1, None, &args);
    assert_eq!(cluster.wait_for_end(&job), "FINISHED", "logs in {}", cluster.dir.path().display());
    assert_eq!(committed_lines(&out), want);
}

#[test]
fn a_task_manager_that_misses_its_heartbeats_is_lost_then_registers_again() {
    let options = ["heartbeat.timeout=2s", "restart-strategy.type=fixed-delay", "restart-strategy.fixed-delay.delay=100ms"];
    let cluster = LocalCluster::start(2, 2, &options);
    let binary = cluster.job_binary(Path::new(env!("CARGO_BIN_EXE_window-count")));
    let (args, want, out) = window_count_job(cluster.dir.path(), 120_000, 15_000);
    let job = cluster.submit(&binary, 2, None, &with_checkpoints(args, "100ms"));
    cluster.wait_for("a completed checkpoint", |c| (c.completed_checkpoints(&job) >= 2).then_some(()));
    let paused = (0..2).find(|&n| !cluster.workers_of(n).is_empty()).expect("a TaskManager runs the job");
    let pid = cluster.tms[paused].as_ref().expect("running").0.id().to_string();
    // SIGSTOP: the connection stays open, only the heartbeats stop.
    Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    cluster.wait_for("the paused TaskManager to be lost", |c| (c.registered_task_managers() == 1).then_some(()));
    Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    assert_eq!(cluster.wait_for_end(&job), "FINISHED", "logs in {}", cluster.dir.path().display());
    assert_eq!(committed_lines(&out), want);
    cluster.wait_for("the resumed TaskManager to register again", |c| (c.registered_task_managers() == 2).then_some(()));
}

#[test]
fn an_application_cluster_runs_its_job_and_exits_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let (args, want, out) = window_count_job(dir.path(), 20_000, 0);
    let binary = stripped_copy(Path::new(env!("CARGO_BIN_EXE_window-count")), dir.path());
    let job = ["--job".to_string(), format!("local://{}", binary.display()), "-p".to_string(), "2".to_string()];
    let mut cluster = LocalCluster::start_with(1, 2, &[], &job.into_iter().chain(args).collect::<Vec<_>>());
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = cluster.jm.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the JobManager did not exit; logs in {}", cluster.dir.path().display());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}; logs in {}", cluster.dir.path().display());
    assert_eq!(committed_lines(&out), want);
}
