//! Exactly-once across crashes: `window-count` and `wordcount` are killed with SIGKILL at
//! random moments many times, each time restarted from the latest completed checkpoint with
//! `-s`; the committed output at the end equals the expected output exactly — no line lost,
//! none duplicated.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::pseudo_random;

/// Visible part files' lines, sorted. Hidden files are in-progress or pending files of
/// killed attempts: they are never committed and are not output.
pub(crate) fn committed_lines(dir: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        lines.extend(std::fs::read_to_string(entry.path()).expect("part file").lines().map(str::to_string));
    }
    lines.sort();
    lines
}

/// The newest completed checkpoint of any run under `root`.
fn latest_checkpoint(root: &Path) -> Option<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for job in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for chk in std::fs::read_dir(job.path()).into_iter().flatten().flatten() {
            if let Ok(m) = std::fs::metadata(chk.path().join("_metadata")) {
                found.push((m.modified().expect("mtime"), chk.path()));
            }
        }
    }
    found.sort();
    found.pop().map(|(_, p)| p)
}

/// Runs `binary` until it completes, killing it `kills` times at random moments and
/// restarting from the latest checkpoint. Returns how many times it was really killed.
fn run_with_kills(binary: &str, args: &[String], work: &Path, kills: usize, seed: u64) -> usize {
    let checkpoints = work.join("checkpoints");
    let mut delays = pseudo_random(seed).map(|r| Duration::from_millis(30 + r % 500));
    let mut killed = 0;
    for attempt in 0.. {
        assert!(attempt < kills + 20, "{binary} did not complete");
        let mut cmd = Command::new(binary);
        cmd.args(args)
            .args(["-D", "execution.checkpointing.interval=40ms", "-D", "restart-strategy.type=none"])
            .args(["-D", &format!("state.checkpoints.dir={}", checkpoints.display())]);
        if let Some(chk) = latest_checkpoint(&checkpoints) {
            cmd.args(["-s", &chk.display().to_string()]);
        }
        let mut child = cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::piped()).spawn().expect("binary starts");
        if attempt < kills {
            // The random moment at which the process dies.
            let deadline = Instant::now() + delays.next().expect("endless");
            while Instant::now() < deadline && child.try_wait().expect("try_wait").is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
            if child.try_wait().expect("try_wait").is_none() {
                child.kill().expect("SIGKILL");
                child.wait().expect("reaped");
                killed += 1;
                continue;
            }
        }
        let out = child.wait_with_output().expect("binary ends");
        assert!(out.status.success(), "{binary} failed: {}", String::from_utf8_lossy(&out.stderr));
        return killed;
    }
    unreachable!("the loop returns or asserts")
}

#[test]
fn window_count_is_exactly_once_across_kill_9() {
    use crate::window_count::{events, simulate, Windows};
    let work = tempfile::tempdir().unwrap();
    let all: Vec<(i64, String)> =
        events().into_iter().cycle().take(400_000).enumerate().map(|(i, (ts, k))| (ts + (i / 8_000) as i64 * 56_000, k)).collect();
    // RocksDB reads and writes every window's count per element: a quarter of the input keeps
    // its run as long as the heap's.
    for (p, seed, backend, len) in [("1", 7, "hashmap", 400_000), ("3", 11, "hashmap", 400_000), ("3", 13, "rocksdb", 100_000)] {
        let events = &all[..len];
        let input = work.path().join(format!("events-{len}.csv"));
        std::fs::write(&input, events.iter().map(|(ts, k)| format!("{ts},{k}\n")).collect::<String>()).unwrap();
        let want = simulate(events, Windows::Sliding { size: 100, slide: 30 }, 25, 40);
        let out = work.path().join(format!("out-{p}-{backend}"));
        let mut args: Vec<String> =
            ["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "--size-ms", "100", "--slide-ms", "30"]
                .iter()
                .chain(&["--out-of-orderness-ms", "25", "--allowed-lateness-ms", "40", "-p", p])
                .map(|s| s.to_string())
                .collect();
        let run = work.path().join(format!("work-{p}-{backend}"));
        args.extend(backend_args(backend, &run));
        let killed = run_with_kills(env!("CARGO_BIN_EXE_window-count"), &args, &run, 6, seed);
        assert!(killed >= 2, "p={p} {backend}: only {killed} kills landed while the job ran");
        assert_eq!(committed_lines(&out), want, "p={p} {backend} after {killed} kills");
    }
}

#[test]
fn wordcount_is_exactly_once_across_kill_9() {
    use crate::wordcount::{corpus, expected};
    let work = tempfile::tempdir().unwrap();
    let text = corpus().repeat(6);
    let input = work.path().join("input");
    std::fs::create_dir(&input).unwrap();
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    for (i, chunk) in lines.chunks(lines.len() / 6 + 1).enumerate() {
        std::fs::write(input.join(format!("part{i}.txt")), chunk.concat()).unwrap();
    }
    let want = expected(&text);
    for (p, seed, backend) in [("1", 3, "hashmap"), ("4", 5, "hashmap"), ("4", 9, "rocksdb")] {
        let out = work.path().join(format!("out-{p}-{backend}"));
        let mut args: Vec<String> =
            ["--input", input.to_str().unwrap(), "--output", out.to_str().unwrap(), "-p", p].iter().map(|s| s.to_string()).collect();
        let run = work.path().join(format!("work-{p}-{backend}"));
        args.extend(backend_args(backend, &run));
        let killed = run_with_kills(env!("CARGO_BIN_EXE_wordcount"), &args, &run, 5, seed);
        assert_eq!(committed_lines(&out), want, "p={p} {backend} after {killed} kills");
    }
}

/// `-D` options for the state backend; RocksDB (incremental) works under `run`, so that the
/// working directories killed processes leave behind go with the test's directory.
fn backend_args(backend: &str, run: &Path) -> Vec<String> {
    let mut args = vec!["-D".to_string(), format!("state.backend.type={backend}")];
    if backend == "rocksdb" {
        args.extend([
            "-D".into(),
            "state.backend.incremental=true".into(),
            "-D".into(),
            format!("io.tmp.dirs={}", run.join("tmp").display()),
        ]);
    }
    args
}
