//! A Strom cluster of real processes on loopback, for the end-to-end tests and the cluster
//! benchmark (`benches/cluster.rs` includes this file): one `strom-jobmanager` on ephemeral
//! ports, `strom-taskmanager`s started and killed (SIGKILL) at will, the `strom` CLI, and a
//! minimal HTTP client for the REST API.
//!
//! Synchronisation is on observable facts: the JobManager's start line, the TaskManagers
//! listed by `/taskmanagers`, the job's state and checkpoints in the REST API. Polling them is
//! how a client waits for a cluster.

// Shared by the e2e tests and the cluster bench (two crates), each of which uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A binary of the workspace next to the test or bench executable (`target/<profile>/`).
pub(crate) fn workspace_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps");
    let bin = dir.join(name);
    assert!(bin.is_file(), "{} is not built (cargo build --workspace --bins)", bin.display());
    bin
}

/// A process killed when dropped.
pub(crate) struct Proc(pub(crate) Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The states in which a job has ended.
pub(crate) const TERMINAL: [&str; 3] = ["FINISHED", "FAILED", "CANCELED"];

pub(crate) struct LocalCluster {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) rest: String,
    rpc_port: u16,
    pub(crate) jm: Proc,
    pub(crate) tms: Vec<Option<Proc>>,
    slots: u32,
}

impl LocalCluster {
    /// A JobManager with `jm_options` (`-D` pairs) and `task_managers` TaskManagers of
    /// `slots` slots each, all registered.
    pub(crate) fn start(task_managers: usize, slots: u32, jm_options: &[&str]) -> Self {
        Self::start_with(task_managers, slots, jm_options, &[])
    }

    /// As [`start`](Self::start), with `jm_args` after the JobManager's options (`--job
    /// local:///path args...` for an application cluster).
    pub(crate) fn start_with(task_managers: usize, slots: u32, jm_options: &[&str], jm_args: &[String]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("jobmanager.log")).unwrap();
        let mut jm = Command::new(workspace_bin("strom-jobmanager"))
            .current_dir(dir.path())
            .args(["-D", "rest.port=0", "-D", "jobmanager.rpc.port=0", "-D", "jobmanager.rpc.address=127.0.0.1"])
            .args(jm_options.iter().flat_map(|o| ["-D", o]))
            .args(jm_args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("the JobManager starts");
        let mut lines = BufReader::new(jm.stderr.take().unwrap());
        let (rest, rpc) = loop {
            let mut line = String::new();
            assert!(lines.read_line(&mut line).unwrap() > 0, "the JobManager exited before it listened");
            if let Some(rest) = line.split("REST API on http://").nth(1) {
                let (rest, rpc) = rest.trim().split_once(", RPC on ").expect("start line names both addresses");
                break (rest.replace("0.0.0.0", "127.0.0.1"), rpc.to_string());
            }
        };
        // Keep draining the JobManager's log so that it never blocks on a full pipe.
        std::thread::spawn(move || {
            let mut log = log;
            let mut buf = [0; 8192];
            while let Ok(n @ 1..) = lines.read(&mut buf) {
                let _ = log.write_all(&buf[..n]);
            }
        });
        let rpc_port = rpc.rsplit(':').next().unwrap().parse().unwrap();
        let mut cluster = LocalCluster { dir, rest, rpc_port, jm: Proc(jm), tms: Vec::new(), slots };
        for _ in 0..task_managers {
            cluster.start_task_manager();
        }
        // An application cluster may have run its job and exited by then.
        if jm_args.is_empty() {
            cluster.wait_for("every TaskManager to register", |c| (c.registered_task_managers() == task_managers).then_some(()));
        }
        cluster
    }

    /// Starts one more TaskManager; returns its index.
    pub(crate) fn start_task_manager(&mut self) -> usize {
        let n = self.tms.len();
        let log = std::fs::File::create(self.dir.path().join(format!("taskmanager-{n}.log"))).unwrap();
        let tm = Command::new(workspace_bin("strom-taskmanager"))
            .args(["-D", "jobmanager.rpc.address=127.0.0.1", "-D", &format!("jobmanager.rpc.port={}", self.rpc_port)])
            .args(["-D", &format!("taskmanager.numberOfTaskSlots={}", self.slots), "-D", "heartbeat.interval=500ms"])
            .args(["-D", &format!("io.tmp.dirs={}", self.dir.path().join(format!("tm-{n}")).display())])
            .stderr(Stdio::from(log))
            .spawn()
            .expect("a TaskManager starts");
        self.tms.push(Some(Proc(tm)));
        n
    }

    pub(crate) fn kill_task_manager(&mut self, n: usize) {
        let mut tm = self.tms[n].take().expect("running");
        tm.0.kill().expect("SIGKILL");
        tm.0.wait().expect("reaped");
    }

    pub(crate) fn registered_task_managers(&self) -> usize {
        self.get("/taskmanagers")["taskmanagers"].as_array().map_or(0, Vec::len)
    }

    /// The worker processes a TaskManager started (its children).
    pub(crate) fn workers_of(&self, n: usize) -> Vec<u32> {
        let pid = self.tms[n].as_ref().expect("running").0.id();
        let mut children = Vec::new();
        for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
            let text = std::fs::read_to_string(task.path().join("children")).unwrap_or_default();
            children.extend(text.split_whitespace().map(|p| p.parse::<u32>().unwrap()));
        }
        children
    }

    /// `GET path`, asserting a 200 answer (a REST failure shows as itself, not as a timeout of
    /// whatever waited on the answer).
    pub(crate) fn get(&self, path: &str) -> Value {
        let (status, answer) = http_request(&self.rest, "GET", path, "application/json", b"");
        assert_eq!(status, 200, "GET {path}: {answer}; logs in {}", self.dir.path().display());
        answer
    }

    /// Polls `check` until it gives a value (at most two minutes).
    pub(crate) fn wait_for<T>(&self, what: &str, check: impl Fn(&Self) -> Option<T>) -> T {
        self.wait_for_within(Duration::from_secs(120), Duration::from_millis(50), what, check)
    }

    /// Polls `check` every `every` until it gives a value, at most `limit`.
    pub(crate) fn wait_for_within<T>(&self, limit: Duration, every: Duration, what: &str, check: impl Fn(&Self) -> Option<T>) -> T {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(v) = check(self) {
                return v;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; logs in {}", self.dir.path().display());
            std::thread::sleep(every);
        }
    }

    pub(crate) fn job_state(&self, job: &str) -> String {
        self.get(&format!("/jobs/{job}/status"))["status"].as_str().unwrap_or_default().to_string()
    }

    pub(crate) fn completed_checkpoints(&self, job: &str) -> u64 {
        self.get(&format!("/jobs/{job}/checkpoints"))["counts"]["completed"].as_u64().unwrap_or(0)
    }

    /// Waits until the job has ended; returns its final state.
    pub(crate) fn wait_for_end(&self, job: &str) -> String {
        self.wait_for("the job to end", |c| Some(c.job_state(job)).filter(|s| TERMINAL.contains(&s.as_str())))
    }

    /// Runs the `strom` CLI against this cluster; returns what it printed and its exit code.
    pub(crate) fn strom_output(&self, args: &[&str]) -> std::process::Output {
        let (command, rest) = args.split_first().expect("a command");
        Command::new(workspace_bin("strom")).arg(command).args(["-m", &self.rest]).args(rest).output().expect("strom runs")
    }

    /// Runs the `strom` CLI; returns its stdout, asserting success.
    pub(crate) fn strom(&self, args: &[&str]) -> String {
        let out = self.strom_output(args);
        let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "strom {args:?} failed: {stdout}\n{stderr}");
        stdout.into_owned()
    }

    /// Submits `binary` with `strom run --detached -p P [-s S]` and returns the job id.
    pub(crate) fn submit(&self, binary: &Path, parallelism: u32, savepoint: Option<&str>, job_args: &[String]) -> String {
        let p = parallelism.to_string();
        let mut args = vec!["run", "--detached", "-p", &p];
        if let Some(s) = savepoint {
            args.extend(["-s", s]);
        }
        let binary = binary.to_str().unwrap().to_string();
        args.push(&binary);
        args.extend(job_args.iter().map(String::as_str));
        let out = self.strom(&args);
        out.split("JobID ").nth(1).expect("the CLI prints the job id").trim().to_string()
    }

    /// A copy of `binary` in the cluster's directory without debug info (uploads and fetches
    /// of 13 MB instead of 400).
    pub(crate) fn job_binary(&self, binary: &Path) -> PathBuf {
        stripped_copy(binary, self.dir.path())
    }
}

/// A copy of `binary` in `dir` without debug info.
pub(crate) fn stripped_copy(binary: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join(binary.file_name().expect("a file name"));
    let stripped = Command::new("objcopy").arg("--strip-debug").arg(binary).arg(&copy).status();
    if !stripped.is_ok_and(|s| s.success()) {
        std::fs::copy(binary, &copy).unwrap();
    }
    copy
}

/// Resident memory of a process, in KiB (`VmRSS`).
pub(crate) fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap_or("VmRSS: 0 kB");
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// A minimal HTTP/1.1 client: one request, `Connection: close`; returns the status code and
/// the JSON answer (`Null` if the answer is not JSON).
pub(crate) fn http_request(address: &str, method: &str, path: &str, content_type: &str, body: &[u8]) -> (u16, Value) {
    let mut stream = TcpStream::connect(address).expect("REST port reachable");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

impl LocalCluster {
    /// Uploads `binary` through `POST /jars/upload` (as the Flink web UI does); returns its jar id.
    pub(crate) fn upload(&self, binary: &Path) -> String {
        const BOUNDARY: &str = "strom-e2e-boundary";
        let name = binary.file_name().unwrap().to_str().unwrap();
        let mut body = format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"{name}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .into_bytes();
        body.extend(std::fs::read(binary).unwrap());
        body.extend(format!("\r\n--{BOUNDARY}--\r\n").into_bytes());
        let content_type = format!("multipart/form-data; boundary={BOUNDARY}");
        let (status, answer) = http_request(&self.rest, "POST", "/jars/upload", &content_type, &body);
        assert_eq!(status, 200, "upload: {answer}");
        let stored = answer["filename"].as_str().expect("the stored file name");
        Path::new(stored).file_name().unwrap().to_str().unwrap().to_string()
    }
}
