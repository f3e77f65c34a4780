//! End-to-end tests: the built `strom` binary against a fake JobManager.
//!
//! The fake is a tiny HTTP/1.1 server on 127.0.0.1 (one request per
//! connection, `Connection: close`) that answers canned Flink-shaped JSON
//! and records every request it receives before answering. Since `strom`
//! only exits after reading its last answer, the record is complete when
//! the process has exited: no sleeps are needed. Polling is driven by
//! answer sequences (e.g. IN_PROGRESS, IN_PROGRESS, COMPLETED).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::thread;

use serde_json::{json, Value};

/// One request as received by the fake.
#[derive(Debug, Clone)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!("body of {} {} is not JSON ({e}): {:?}", self.method, self.target, String::from_utf8_lossy(&self.body))
        })
    }
}

/// A canned route: every request with this method and target gets the next
/// answer; the last answer repeats.
struct Route {
    method: &'static str,
    target: String,
    answers: Vec<(u16, String)>,
}

fn route(method: &'static str, target: &str, answers: &[(u16, Value)]) -> Route {
    Route { method, target: target.to_string(), answers: answers.iter().map(|(s, v)| (*s, v.to_string())).collect() }
}

fn raw_route(method: &'static str, target: &str, status: u16, body: &str) -> Route {
    Route { method, target: target.to_string(), answers: vec![(status, body.to_string())] }
}

struct FakeJobManager {
    address: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeJobManager {
    fn start(routes: Vec<Route>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        let routes = Mutex::new(routes);
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                serve(stream, &routes, &log);
            }
        });
        Self { address, requests }
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// `METHOD target` of every request, in order.
    fn lines(&self) -> Vec<String> {
        self.requests().iter().map(|r| format!("{} {}", r.method, r.target)).collect()
    }
}

fn serve(stream: TcpStream, routes: &Mutex<Vec<Route>>, log: &Mutex<Vec<Request>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').unwrap();
        headers.push((n.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-length")).map(|(_, v)| v.parse().unwrap()).unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let (status, answer) = {
        let mut routes = routes.lock().unwrap();
        match routes.iter_mut().find(|r| r.method == method && r.target == target) {
            Some(r) if r.answers.len() > 1 => r.answers.remove(0),
            Some(r) => r.answers[0].clone(),
            None => (404, json!({ "errors": [format!("Not found: {target}")] }).to_string()),
        }
    };
    log.lock().unwrap().push(Request { method, target, headers, body });
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} Canned\r\nContent-Type: application/json; charset=UTF-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.flush();
}

/// Runs the built `strom` with a clean environment for the address and
/// proxies.
fn strom(args: &[&str]) -> Output {
    strom_env(args, &[])
}

fn strom_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_strom"));
    cmd.args(args);
    for var in ["STROM_REST_ADDRESS", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run strom")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// A fresh directory under Cargo's per-target temp dir.
fn temp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write_binary(name: &str, content: &[u8]) -> PathBuf {
    let path = temp_dir(name).join("job.bin");
    std::fs::write(&path, content).unwrap();
    path
}

const JOB: &str = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
const JAR: &str = "0f8e2c_job.bin";

fn upload_ok() -> Route {
    route("POST", "/jars/upload", &[(200, json!({"filename": format!("/tmp/flink-web/flink-web-upload/{JAR}"), "status": "success"}))])
}

fn run_ok() -> Route {
    route("POST", &format!("/jars/{JAR}/run"), &[(200, json!({ "jobid": JOB }))])
}

fn status(s: &str) -> (u16, Value) {
    (200, json!({ "status": s }))
}

fn savepoint_in_progress() -> (u16, Value) {
    (200, json!({"status": {"id": "IN_PROGRESS"}, "operation": null}))
}

#[test]
fn run_detached_streams_the_binary_and_passes_job_args_through() {
    // Bytes that look like multipart syntax, then ~1 MB of every byte value.
    let mut content = b"\r\n--StromBoundary\r\n\r\n--".to_vec();
    content.extend((0..1_000_003u32).map(|i| (i.wrapping_mul(7) ^ (i >> 9)) as u8));
    let binary = write_binary("run-detached", &content);
    let fake = FakeJobManager::start(vec![upload_ok(), run_ok()]);

    let o = strom(&[
        "run",
        "-m",
        &fake.address,
        "-p",
        "3",
        "-s",
        "file:/sp/savepoint-1",
        "--allow-non-restored-state",
        "--detached",
        binary.to_str().unwrap(),
        "--input",
        "in.txt",
        "-p",
        "7",
        "--detached",
    ]);

    assert_eq!(stdout(&o), format!("Job has been submitted with JobID {JOB}\n"));
    assert_eq!(stderr(&o), format!("Uploading job.bin (976.6 KiB) to {}\n  976.6 KiB / 976.6 KiB (100%)\n", fake.address));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(fake.lines(), ["POST /jars/upload".to_string(), format!("POST /jars/{JAR}/run")]);

    let requests = fake.requests();
    let upload = &requests[0];
    let content_type = upload.header("content-type").unwrap();
    let boundary = content_type.strip_prefix("multipart/form-data; boundary=").unwrap_or_else(|| panic!("content type {content_type}"));
    let mut expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"jarfile\"; filename=\"job.bin\"\r\n\
         Content-Type: application/x-executable\r\n\r\n"
    )
    .into_bytes();
    expected.extend_from_slice(&content);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert!(upload.body == expected, "multipart body differs: got {} bytes, expected {}", upload.body.len(), expected.len());
    // Streamed with a known length, not chunked.
    assert_eq!(upload.header("content-length"), Some(expected.len().to_string().as_str()));
    assert_eq!(upload.header("transfer-encoding"), None);

    assert_eq!(
        requests[1].json(),
        json!({
            "programArgsList": ["--input", "in.txt", "-p", "7", "--detached"],
            "parallelism": 3,
            "savepointPath": "file:/sp/savepoint-1",
            "allowNonRestoredState": true
        })
    );
}

#[test]
fn run_detached_json_sends_only_given_fields() {
    let binary = write_binary("run-detached-json", b"#!/bin/sh\n");
    let fake = FakeJobManager::start(vec![upload_ok(), run_ok()]);
    let o = strom(&["run", "--jobmanager", &fake.address, "-d", "--json", binary.to_str().unwrap()]);
    assert_eq!(stdout(&o), format!("{{\"jobid\":\"{JOB}\",\"state\":\"SUBMITTED\",\"jar-id\":\"{JAR}\"}}\n"));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(fake.requests()[1].json(), json!({ "programArgsList": [] }));
}

#[test]
fn run_attached_waits_until_finished() {
    let binary = write_binary("run-finished", b"hello world");
    let fake = FakeJobManager::start(vec![
        upload_ok(),
        run_ok(),
        route("GET", &format!("/jobs/{JOB}/status"), &[status("RUNNING"), status("RUNNING"), status("FINISHED")]),
        route(
            "GET",
            &format!("/jobs/{JOB}/execution-result"),
            &[(
                200,
                json!({"status": {"id": "COMPLETED"}, "job-execution-result": {
                    "id": JOB, "application-status": "SUCCEEDED",
                    "accumulator-results": {}, "net-runtime": 12345}}),
            )],
        ),
    ]);
    let o = strom(&["run", "-m", &fake.address, binary.to_str().unwrap(), "x"]);
    assert_eq!(stdout(&o), format!("Job has been submitted with JobID {JOB}\nJob {JOB} finished in 12.3 s\n"));
    assert_eq!(
        stderr(&o),
        format!(
            "Uploading job.bin (11 B) to {}\n  11 B / 11 B (100%)\n\
             Job status: RUNNING\nJob status: FINISHED\n",
            fake.address
        )
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        fake.lines(),
        [
            "POST /jars/upload".to_string(),
            format!("POST /jars/{JAR}/run"),
            format!("GET /jobs/{JOB}/status"),
            format!("GET /jobs/{JOB}/status"),
            format!("GET /jobs/{JOB}/status"),
            format!("GET /jobs/{JOB}/execution-result"),
        ]
    );
    assert_eq!(fake.requests()[1].json(), json!({ "programArgsList": ["x"] }));
}

fn failed_job_fake() -> FakeJobManager {
    FakeJobManager::start(vec![
        upload_ok(),
        run_ok(),
        route("GET", &format!("/jobs/{JOB}/status"), &[status("RUNNING"), status("FAILED")]),
        route(
            "GET",
            &format!("/jobs/{JOB}/execution-result"),
            &[
                (200, json!({"status": {"id": "IN_PROGRESS"}})),
                (
                    200,
                    json!({"status": {"id": "COMPLETED"}, "job-execution-result": {
                        "id": JOB, "application-status": "FAILED", "net-runtime": 2000,
                        "failure-cause": {
                            "class": "java.lang.RuntimeException",
                            "stack-trace": "java.lang.RuntimeException: boom\n\tat Job.main(Job.java:1)",
                            "serialized-throwable": "rO0AB"}}}),
                ),
            ],
        ),
    ])
}

#[test]
fn run_attached_reports_failure_cause() {
    let binary = write_binary("run-failed", b"x");
    let fake = failed_job_fake();
    let o = strom(&["run", "-m", &fake.address, binary.to_str().unwrap()]);
    assert_eq!(stdout(&o), format!("Job has been submitted with JobID {JOB}\nJob {JOB} failed after 2.0 s\n"));
    assert!(
        stderr(&o).ends_with(&format!(
            "Job status: RUNNING\nJob status: FAILED\nerror: job {JOB} failed:\n\
             java.lang.RuntimeException: boom\n\tat Job.main(Job.java:1)\n"
        )),
        "stderr: {}",
        stderr(&o)
    );
    assert_eq!(o.status.code(), Some(1));
    let results = fake.lines().iter().filter(|l| l.ends_with("/execution-result")).count();
    assert_eq!(results, 2, "execution result polled until COMPLETED");
}

#[test]
fn run_attached_failure_as_json() {
    let binary = write_binary("run-failed-json", b"x");
    let fake = failed_job_fake();
    let o = strom(&["run", "--json", "-m", &fake.address, binary.to_str().unwrap()]);
    assert_eq!(
        stdout(&o),
        format!(
            "{{\"jobid\":\"{JOB}\",\"state\":\"FAILED\",\"jar-id\":\"{JAR}\",\"duration-ms\":2000,\
             \"failure-cause\":\"java.lang.RuntimeException: boom\\n\\tat Job.main(Job.java:1)\"}}\n"
        )
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn run_attached_cancelled_exits_1() {
    let binary = write_binary("run-cancelled", b"x");
    let fake = FakeJobManager::start(vec![
        upload_ok(),
        run_ok(),
        route("GET", &format!("/jobs/{JOB}/status"), &[status("CANCELED")]),
        route(
            "GET",
            &format!("/jobs/{JOB}/execution-result"),
            &[(
                200,
                json!({"status": {"id": "COMPLETED"}, "job-execution-result": {
                    "id": JOB, "application-status": "CANCELED", "net-runtime": 61500}}),
            )],
        ),
    ]);
    let o = strom(&["run", "-m", &fake.address, binary.to_str().unwrap()]);
    assert_eq!(stdout(&o), format!("Job has been submitted with JobID {JOB}\nJob {JOB} was cancelled after 1 min 1.5 s\n"));
    assert_eq!(o.status.code(), Some(1));
}

const OVERVIEW_JOBS: &str = r#"[{"jid":"f00d","name":"Old batch","state":"FINISHED","start-time":1709214307123,"end-time":1709214407123,"duration":100000,"last-modification":1709214407123,"tasks":{"total":2}},{"jid":"beef","name":"Clicks","state":"RUNNING","start-time":1709300000000,"end-time":-1,"duration":5000},{"jid":"cafe","name":"Orders","state":"RESTARTING","start-time":1709299999000,"end-time":-1,"duration":6000},{"jid":"dead","name":"Waiting","state":"CREATED","start-time":-1,"end-time":-1,"duration":0}]"#;

#[test]
fn list_prints_flink_style_sections() {
    let fake = FakeJobManager::start(vec![raw_route("GET", "/jobs/overview", 200, &format!("{{\"jobs\":{OVERVIEW_JOBS}}}"))]);
    let o = strom(&["list", "-m", &fake.address]);
    assert_eq!(
        stdout(&o),
        "\
------------------ Running/Restarting Jobs -------------------
01.03.2024 13:33:19 : cafe : Orders (RESTARTING)
01.03.2024 13:33:20 : beef : Clicks (RUNNING)
--------------------------------------------------------------
----------------------- Scheduled Jobs -----------------------
--.--.---- --:--:-- : dead : Waiting (CREATED)
--------------------------------------------------------------
---------------------- Terminated Jobs -----------------------
29.02.2024 13:45:07 : f00d : Old batch (FINISHED)
--------------------------------------------------------------
"
    );
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(fake.lines(), ["GET /jobs/overview"]);
}

#[test]
fn list_json_prints_the_jobs_array_as_received_and_uses_env_address() {
    let fake = FakeJobManager::start(vec![raw_route("GET", "/jobs/overview", 200, &format!("{{\"jobs\":{OVERVIEW_JOBS}}}"))]);
    let o = strom_env(&["list", "--json"], &[("STROM_REST_ADDRESS", &fake.address)]);
    assert_eq!(stdout(&o), format!("{OVERVIEW_JOBS}\n"));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn list_without_jobs() {
    let fake = FakeJobManager::start(vec![raw_route("GET", "/jobs/overview", 200, r#"{"jobs":[]}"#)]);
    let o = strom(&["list", "-m", &fake.address]);
    assert_eq!(stdout(&o), "No running jobs.\nNo scheduled jobs.\n");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn cancel_waits_for_canceled() {
    let fake = FakeJobManager::start(vec![
        route("PATCH", &format!("/jobs/{JOB}?mode=cancel"), &[(202, json!({}))]),
        route("GET", &format!("/jobs/{JOB}/status"), &[status("CANCELLING"), status("CANCELED")]),
    ]);
    let o = strom(&["cancel", "-m", &fake.address, JOB]);
    assert_eq!(stdout(&o), format!("Cancelled job {JOB}.\n"));
    assert_eq!(stderr(&o), format!("Cancelling job {JOB}.\n"));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        fake.lines(),
        [format!("PATCH /jobs/{JOB}?mode=cancel"), format!("GET /jobs/{JOB}/status"), format!("GET /jobs/{JOB}/status"),]
    );
    assert!(fake.requests()[0].body.is_empty());
}

#[test]
fn cancel_json() {
    let fake = FakeJobManager::start(vec![
        route("PATCH", &format!("/jobs/{JOB}?mode=cancel"), &[(202, json!({}))]),
        route("GET", &format!("/jobs/{JOB}/status"), &[status("CANCELED")]),
    ]);
    let o = strom(&["cancel", "--json", "-m", &fake.address, JOB]);
    assert_eq!(stdout(&o), format!("{{\"jobid\":\"{JOB}\",\"state\":\"CANCELED\"}}\n"));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn savepoint_polls_until_completed() {
    let fake = FakeJobManager::start(vec![
        route("POST", &format!("/jobs/{JOB}/savepoints"), &[(202, json!({"request-id": "trig1"}))]),
        route(
            "GET",
            &format!("/jobs/{JOB}/savepoints/trig1"),
            &[
                savepoint_in_progress(),
                savepoint_in_progress(),
                (
                    200,
                    json!({"status": {"id": "COMPLETED"},
                           "operation": {"location": "file:/tmp/sp/savepoint-a1b2c3-0123456789ab"}}),
                ),
            ],
        ),
    ]);
    let o = strom(&["savepoint", "-m", &fake.address, JOB, "/tmp/sp"]);
    assert_eq!(stdout(&o), "Savepoint completed. Path: file:/tmp/sp/savepoint-a1b2c3-0123456789ab\n");
    assert_eq!(
        stderr(&o),
        format!(
            "Triggering savepoint for job {JOB}.\nWaiting for response...\n\
             You can resume your program from this savepoint with: \
             strom run -s file:/tmp/sp/savepoint-a1b2c3-0123456789ab BINARY\n"
        )
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        fake.lines(),
        [
            format!("POST /jobs/{JOB}/savepoints"),
            format!("GET /jobs/{JOB}/savepoints/trig1"),
            format!("GET /jobs/{JOB}/savepoints/trig1"),
            format!("GET /jobs/{JOB}/savepoints/trig1"),
        ]
    );
    assert_eq!(fake.requests()[0].json(), json!({"target-directory": "/tmp/sp", "cancel-job": false}));
}

#[test]
fn savepoint_default_directory_json() {
    let fake = FakeJobManager::start(vec![
        route("POST", &format!("/jobs/{JOB}/savepoints"), &[(202, json!({"request-id": "t2"}))]),
        route(
            "GET",
            &format!("/jobs/{JOB}/savepoints/t2"),
            &[(200, json!({"status": {"id": "COMPLETED"}, "operation": {"location": "file:/sp/x"}}))],
        ),
    ]);
    let o = strom(&["savepoint", "--json", "-m", &fake.address, JOB]);
    assert_eq!(stdout(&o), format!("{{\"jobid\":\"{JOB}\",\"request-id\":\"t2\",\"state\":\"COMPLETED\",\"location\":\"file:/sp/x\"}}\n"));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(fake.requests()[0].json(), json!({"target-directory": null, "cancel-job": false}));
}

#[test]
fn savepoint_failure_exits_1_with_cause() {
    let fake = FakeJobManager::start(vec![
        route("POST", &format!("/jobs/{JOB}/savepoints"), &[(202, json!({"request-id": "t3"}))]),
        route(
            "GET",
            &format!("/jobs/{JOB}/savepoints/t3"),
            &[(
                200,
                json!({"status": {"id": "COMPLETED"}, "operation": {"failure-cause": {
                    "class": "java.util.concurrent.CompletionException",
                    "stack-trace": "CheckpointException: Checkpoint was declined (task not ready)"}}}),
            )],
        ),
    ]);
    let o = strom(&["savepoint", "-m", &fake.address, JOB]);
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        format!(
            "Triggering savepoint for job {JOB}.\nWaiting for response...\n\
             error: savepoint of job {JOB} failed:\n\
             CheckpointException: Checkpoint was declined (task not ready)\n"
        )
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn savepoint_timeout_says_how_to_check() {
    let fake = FakeJobManager::start(vec![
        route("POST", &format!("/jobs/{JOB}/savepoints"), &[(202, json!({"request-id": "t4"}))]),
        route("GET", &format!("/jobs/{JOB}/savepoints/t4"), &[savepoint_in_progress()]),
    ]);
    let o = strom(&["savepoint", "--timeout", "0", "-m", &fake.address, JOB]);
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        format!(
            "Triggering savepoint for job {JOB}.\nWaiting for response...\n\
             error: savepoint of job {JOB} did not complete within 0 s; it may still complete\n\
             check with: curl http://{}/jobs/{JOB}/savepoints/t4\n",
            fake.address
        )
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(fake.requests().len(), 2);
}

#[test]
fn stop_with_savepoint() {
    let fake = FakeJobManager::start(vec![
        route("POST", &format!("/jobs/{JOB}/stop"), &[(202, json!({"request-id": "s1"}))]),
        route(
            "GET",
            &format!("/jobs/{JOB}/savepoints/s1"),
            &[
                savepoint_in_progress(),
                savepoint_in_progress(),
                (200, json!({"status": {"id": "COMPLETED"}, "operation": {"location": "file:/sp/savepoint-a1b2c3-ffff"}})),
            ],
        ),
    ]);
    let o = strom(&["stop", "-m", &fake.address, "--savepoint-path", "/sp", JOB]);
    assert_eq!(stdout(&o), "Savepoint completed. Path: file:/sp/savepoint-a1b2c3-ffff\n");
    assert!(stderr(&o).starts_with(&format!("Suspending job {JOB} with a savepoint.\n")));
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        fake.lines(),
        [
            format!("POST /jobs/{JOB}/stop"),
            format!("GET /jobs/{JOB}/savepoints/s1"),
            format!("GET /jobs/{JOB}/savepoints/s1"),
            format!("GET /jobs/{JOB}/savepoints/s1"),
        ]
    );
    assert_eq!(fake.requests()[0].json(), json!({"targetDirectory": "/sp", "drain": false}));
}

#[test]
fn stop_without_path_sends_null() {
    let fake = FakeJobManager::start(vec![
        route("POST", &format!("/jobs/{JOB}/stop"), &[(202, json!({"request-id": "s2"}))]),
        route(
            "GET",
            &format!("/jobs/{JOB}/savepoints/s2"),
            &[(200, json!({"status": {"id": "COMPLETED"}, "operation": {"location": "file:/d/sp"}}))],
        ),
    ]);
    let o = strom(&["stop", "-m", &fake.address, JOB]);
    assert_eq!(stdout(&o), "Savepoint completed. Path: file:/d/sp\n");
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(fake.requests()[0].json(), json!({"targetDirectory": null, "drain": false}));
}

#[test]
fn unknown_job_404_exits_1_with_hint() {
    let fake = FakeJobManager::start(vec![route(
        "PATCH",
        "/jobs/nosuchjob?mode=cancel",
        &[(404, json!({"errors": ["Job nosuchjob not found"]}))],
    )]);
    let o = strom(&["cancel", "-m", &fake.address, "nosuchjob"]);
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        format!(
            "Cancelling job nosuchjob.\nerror: Job nosuchjob not found\n\
             no job nosuchjob on {0}; see `strom list -m {0}`\n",
            fake.address
        )
    );
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(fake.requests().len(), 1);
}

#[test]
fn server_error_500_exits_3() {
    let fake = FakeJobManager::start(vec![route(
        "GET",
        "/jobs/overview",
        &[(500, json!({"errors": ["Internal server error.", "<Exception on server side:\nNullPointerException>"]}))],
    )]);
    let o = strom(&["list", "-m", &fake.address]);
    assert_eq!(stdout(&o), "");
    assert_eq!(
        stderr(&o),
        format!(
            "error: Internal server error.\n<Exception on server side:\nNullPointerException>\n\
             the JobManager at {} answered HTTP 500; see its log for details\n",
            fake.address
        )
    );
    assert_eq!(o.status.code(), Some(3));
}

#[test]
fn rejected_run_400_exits_1() {
    let binary = write_binary("run-rejected", b"x");
    let fake = FakeJobManager::start(vec![
        upload_ok(),
        route("POST", &format!("/jars/{JAR}/run"), &[(400, json!({"errors": ["Could not parse program arguments"]}))]),
    ]);
    let o = strom(&["run", "-d", "-m", &fake.address, binary.to_str().unwrap()]);
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).ends_with(&format!(
        "error: Could not parse program arguments\n\
         the JobManager at {} rejected the request (HTTP 400)\n",
        fake.address
    )));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn connection_refused_exits_3() {
    // Take a free port, then close it again.
    let address = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let o = strom(&["list", "-m", &address]);
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(
        err.starts_with(&format!("error: could not reach the JobManager at {address}: "))
            && err.ends_with(
                "\ncheck that the JobManager is running and that -m/--jobmanager or \
             STROM_REST_ADDRESS gives its REST address (host:port)\n"
            ),
        "stderr: {err}"
    );
    assert_eq!(o.status.code(), Some(3));

    let binary = write_binary("run-refused", b"x");
    let o = strom_env(&["run", binary.to_str().unwrap()], &[("STROM_REST_ADDRESS", &address)]);
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains(&format!("error: could not reach the JobManager at {address}: ")));
    assert_eq!(o.status.code(), Some(3));
}

/// Writes an executable script. The file is written by a child process
/// (`cp`), so no descriptor open for writing can leak into processes that
/// parallel tests fork, which would make exec fail with ETXTBSY.
fn write_script(name: &str, text: &str) -> PathBuf {
    let dir = temp_dir(name);
    let source = dir.join("plan.txt");
    std::fs::write(&source, text).unwrap();
    let script = dir.join("job");
    let status = Command::new("sh").args(["-c", "cp \"$1\" \"$2\" && chmod 755 \"$2\"", "sh"]).arg(&source).arg(&script).status().unwrap();
    assert!(status.success());
    script
}

const PLAN_SCRIPT: &str = r#"#!/bin/sh
if [ "$1" != plan ]; then echo "usage: job plan [args]" >&2; exit 2; fi
shift
if [ "$1" = "--explode" ]; then echo "bad argument: --explode" >&2; exit 2; fi
cat <<EOF
{"job": "WordCount",
 "vertices": [
  {"id": "bc764cd8", "name": "Source: lines -> Tokenizer", "parallelism": 2, "max_parallelism": 128,
   "operators": [{"uid": "lines", "name": "Source: lines", "kind": "source"},
                 {"uid": "tokenizer", "name": "Tokenizer", "kind": "flat_map"}]},
  {"id": "20ba6b65", "name": "Counter -> Sink: stdout", "parallelism": 4, "max_parallelism": 128,
   "operators": [{"uid": "counter", "name": "Counter", "kind": "keyed_process"},
                 {"uid": "sink", "name": "Sink: stdout", "kind": "sink"}]},
  {"id": "9f0e1d2c", "name": "Late sink", "parallelism": 1, "max_parallelism": 128,
   "operators": [{"uid": "late", "name": "Late sink", "kind": "sink"}]}],
 "edges": [{"source": "bc764cd8", "target": "20ba6b65", "partitioning": "HASH"},
           {"source": "20ba6b65", "target": "9f0e1d2c", "partitioning": "REBALANCE", "side_output": "late"}],
 "config": {"args": "$*", "pipeline.max-parallelism": 128}}
EOF
"#;

#[test]
fn info_renders_the_plan_and_passes_args() {
    let script = write_script("info-human", PLAN_SCRIPT);
    let o = strom(&["info", script.to_str().unwrap(), "--input", "x.txt"]);
    assert_eq!(
        stdout(&o),
        "\
Job: WordCount

Vertices:
  [1] Source: lines -> Tokenizer
      id: bc764cd8  parallelism: 2  max parallelism: 128
      - Source: lines  (source, uid: lines)
      - Tokenizer  (flat_map, uid: tokenizer)
  [2] Counter -> Sink: stdout
      id: 20ba6b65  parallelism: 4  max parallelism: 128
      - Counter  (keyed_process, uid: counter)
      - Sink: stdout  (sink, uid: sink)
  [3] Late sink
      id: 9f0e1d2c  parallelism: 1  max parallelism: 128
      - Late sink  (sink, uid: late)

Edges:
  [1] -> [2]  HASH
  [2] -> [3]  REBALANCE, side output \"late\"

Config:
  args: --input x.txt
  pipeline.max-parallelism: 128
"
    );
    assert_eq!(stderr(&o), "");
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn info_json_prints_the_plan_as_received() {
    let script = write_script("info-json", PLAN_SCRIPT);
    let o = strom(&["info", "--json", script.to_str().unwrap(), "a"]);
    let start = PLAN_SCRIPT.find("{\"job\"").unwrap();
    let end = PLAN_SCRIPT.rfind("}}").unwrap() + 2;
    let expected = PLAN_SCRIPT[start..end].replace("$*", "a");
    assert_eq!(stdout(&o), format!("{expected}\n"));
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn info_failure_passes_stderr_and_exit_code() {
    let script = write_script("info-fail", PLAN_SCRIPT);
    let shown = script.to_str().unwrap();
    let o = strom(&["info", shown, "--explode"]);
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), format!("bad argument: --explode\nerror: `{shown} plan` failed with exit code 2\n"));
    assert_eq!(o.status.code(), Some(2));

    let not_a_plan = write_script("info-garbage", "#!/bin/sh\necho 'hello'\n");
    let o = strom(&["info", not_a_plan.to_str().unwrap()]);
    assert_eq!(stdout(&o), "");
    assert_eq!(stderr(&o), format!("error: `{} plan` did not print a job plan: expected value at line 1 column 1\n", not_a_plan.display()));
    assert_eq!(o.status.code(), Some(1));

    // Any other exit code of the binary is a failure (1), not one of the CLI's own codes.
    let exits_3 = write_script("info-exit-3", "#!/bin/sh\nexit 3\n");
    let shown = exits_3.to_str().unwrap();
    let o = strom(&["info", shown]);
    assert_eq!((stdout(&o), stderr(&o)), (String::new(), format!("error: `{shown} plan` failed with exit code 3\n")));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let o = strom(&[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: no command given\n\nstrom - command-line client"));

    let o = strom(&["deploy"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: unknown command 'deploy'\n\nstrom - "));
    assert_eq!(stdout(&o), "");

    let o = strom(&["list", "--all"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: unknown option '--all' for 'list'\n\nUsage: strom list"));

    let o = strom(&["run", "-p"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).starts_with("error: option -p requires a value\n\nUsage: strom run"));

    let o = strom(&["run", "-m", "127.0.0.1:9", "/nonexistent/job"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stderr(&o), "error: cannot read /nonexistent/job: No such file or directory (os error 2)\n");

    let o = strom(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("strom - command-line client for a Strom JobManager\n\nUsage:\n"));
    assert_eq!(stderr(&o), "");

    let o = strom(&["savepoint", "--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).starts_with("Usage: strom savepoint [options] ID [DIR]\n"));
}
