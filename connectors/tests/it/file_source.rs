//! `TextFileSource`: every line exactly once, split by file over the subtasks, and after a
//! restore from a checkpoint at any parallelism.

use std::fs;
use std::path::Path;
use std::time::Duration;

use strom_connectors::TextFileSource;
use strom_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use strom_runtime::prelude::*;

use crate::support::{in_subtasks, ok, poll, sorted, union_of, wait_until, StopSink, SubtaskSink, PARALLELISMS};

/// The visible input files in name order, each with its content and the lines it holds.
fn input_files() -> Vec<(&'static str, String, Vec<String>)> {
    let many: Vec<String> = (0..2500).map(|i| format!("line {i} of a file longer than one batch")).collect();
    let strings = |lines: &[&str]| lines.iter().map(|l| l.to_string()).collect::<Vec<_>>();
    vec![
        ("a.txt", "alpha\nbeta\n".into(), strings(&["alpha", "beta"])),
        ("b.txt", "gamma\r\ndelta\r\n".into(), strings(&["gamma", "delta"])),
        ("c.txt", String::new(), Vec::new()),
        ("d.txt", "no newline at the end".into(), strings(&["no newline at the end"])),
        ("e.txt", "\n\nafter two blank lines\n".into(), strings(&["", "", "after two blank lines"])),
        ("f.txt", many.iter().map(|l| format!("{l}\n")).collect(), many),
        ("g.txt", "  spaces\tand tabs  \n".into(), strings(&["  spaces\tand tabs  "])),
        ("h.txt", "ünïcödé, a\rcarriage return inside\n".into(), strings(&["ünïcödé, a\rcarriage return inside"])),
    ]
}

/// Writes the input files, plus files and a directory the source must skip.
fn write_input(dir: &Path) {
    for (name, content, _) in input_files() {
        fs::write(dir.join(name), content).expect("writing an input file");
    }
    fs::write(dir.join(".hidden.txt"), "hidden\n").expect("writing a hidden file");
    fs::write(dir.join("_SUCCESS"), "marker\n").expect("writing a marker file");
    fs::create_dir(dir.join("nested")).expect("creating a subdirectory");
    fs::write(dir.join("nested/i.txt"), "nested\n").expect("writing a nested file");
}

/// Reads `path` at parallelism `p`; returns (subtask, line) pairs.
fn read(path: &Path, p: u32) -> Vec<(u32, String)> {
    let env = StreamEnv::new();
    env.set_parallelism(p);
    let sink = SubtaskSink::new();
    env.add_source("Lines", TextFileSource::new(path)).sink(sink.clone());
    env.execute("read files").expect("the job succeeds");
    sink.sorted()
}

#[test]
fn a_directory_is_read_exactly_once_split_by_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_input(dir.path());
    for p in PARALLELISMS {
        let expected = input_files()
            .into_iter()
            .enumerate()
            .flat_map(|(i, (_, _, lines))| lines.into_iter().map(move |l| (i as u32 % p, l)))
            .collect();
        assert_eq!(read(dir.path(), p), sorted(expected), "parallelism {p}");
    }
}

#[test]
fn a_single_file_is_one_split() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_input(dir.path());
    for p in PARALLELISMS {
        let expected: Vec<(u32, String)> = ["gamma", "delta"].iter().map(|l| (0, l.to_string())).collect();
        assert_eq!(read(&dir.path().join("b.txt"), p), sorted(expected), "parallelism {p}");
    }
}

#[test]
fn a_missing_input_fails_the_job_naming_the_path() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("missing");
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        env.add_source("Lines", TextFileSource::new(&missing)).sink(SubtaskSink::new());
        let error = env.execute("read a missing file").expect_err("the job fails").report();
        assert!(error.starts_with(&format!("reading {}: ", missing.display())), "parallelism {p}: {error}");
    }
}

#[test]
fn a_line_the_parser_rejects_fails_the_job_quoting_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("numbers.txt");
    fs::write(&input, "1\n2\n3x\n4\n").expect("writing the input");
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        env.add_source("Numbers", TextFileSource::with_parser(&input, |line| line.parse::<u32>())).sink(SubtaskSink::new());
        let error = env.execute("parse numbers").expect_err("the job fails").to_string();
        let expected = format!("{}:3: cannot parse line \"3x\": invalid digit found in string", input.display());
        assert!(error.ends_with(&expected), "parallelism {p}: {error}");
    }
}

#[test]
fn a_monitored_directory_is_read_as_files_appear() {
    for p in PARALLELISMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        fs::write(dir.path().join("a.txt"), "a1\na2\na3\n").expect("writing the first file");
        let sink = StopSink::<String>::new(5);
        let job = {
            let (path, sink) = (dir.path().to_path_buf(), sink.clone());
            std::thread::spawn(move || {
                let env = StreamEnv::new();
                env.set_parallelism(p);
                env.add_source("Lines", TextFileSource::new(path).monitor_continuously(Duration::from_millis(20))).sink(sink);
                env.execute("monitor a directory")
            })
        };
        wait_until(Duration::from_secs(10), "the first file is read", || sink.inner.len() == 3);
        // Files appear complete: written under a hidden name, then renamed.
        fs::write(dir.path().join(".b.txt.tmp"), "b1\nb2\n").expect("writing the second file");
        fs::rename(dir.path().join(".b.txt.tmp"), dir.path().join("b.txt")).expect("publishing the second file");
        let error = job.join().expect("the job thread does not panic").expect_err("the stop sink ends the job");
        assert!(error.to_string().contains(StopSink::<String>::STOP), "parallelism {p}: {error}");
        assert_eq!(sink.inner.sorted_values(), vec!["a1", "a2", "a3", "b1", "b2"], "parallelism {p}");
    }
}

// ---------------------------------------------------------------------------------------
// Checkpoints: the source driven through its hooks, in the subtasks of a job.
// ---------------------------------------------------------------------------------------

/// Every line of the input files, sorted.
fn all_lines() -> Vec<String> {
    sorted(input_files().into_iter().flat_map(|(_, _, lines)| lines).collect())
}

/// A run at parallelism `p` that fails after a checkpoint: subtask `i` polls `i + polls`
/// times (each poll emits up to 1024 lines), takes checkpoint 1, polls once more (lines that
/// are lost with the run), and fails. Returns the lines emitted before the checkpoint and
/// the snapshots.
fn run_until_checkpoint(source: TextFileSource, p: u32, polls: usize) -> (Vec<String>, Vec<OperatorSnapshot>) {
    let results = in_subtasks(p, move |ctx| {
        let mut source = source.clone();
        ok(source.open(ctx));
        let before = poll(&mut source, ctx, Some(ctx.info().subtask as usize + polls));
        let snapshot = ok(source.snapshot_state(CheckpointId(1)));
        poll(&mut source, ctx, Some(1));
        (before, snapshot)
    });
    let (before, snapshots): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    (before.concat(), snapshots)
}

/// Restores `source` at parallelism `p` from `snapshots` and reads until every subtask has
/// nothing more; returns the lines.
fn run_restored(source: TextFileSource, p: u32, snapshots: &[OperatorSnapshot]) -> Vec<String> {
    let restore = union_of(snapshots);
    in_subtasks(p, move |ctx| {
        let mut source = source.clone();
        ok(source.restore_state(restore.clone()));
        ok(source.open(ctx));
        poll(&mut source, ctx, None)
    })
    .concat()
}

#[test]
fn a_restored_source_emits_every_line_once_at_any_parallelism() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_input(dir.path());
    for (before, after) in [(1, 1), (3, 3), (2, 1), (1, 3), (3, 2), (2, 5)] {
        // 0 polls: restore before any line; 1 poll: within the long file (f.txt, 2500 lines).
        for polls in [0, 1, 2, 4] {
            let (head, snapshots) = run_until_checkpoint(TextFileSource::new(dir.path()), before, polls);
            let tail = run_restored(TextFileSource::new(dir.path()), after, &snapshots);
            assert_eq!(sorted([head, tail].concat()), all_lines(), "{before} -> {after} after {polls} polls");
        }
    }
}

#[test]
fn a_restored_source_reads_files_that_appeared_since_the_checkpoint() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_input(dir.path());
    let (head, snapshots) = run_until_checkpoint(TextFileSource::new(dir.path()), 2, 1);
    // Sorted first, so the new file shifts every other file's index in the listing.
    fs::write(dir.path().join("0-new.txt"), "new 1\nnew 2\n").expect("writing a new file");
    for after in [1, 2, 3] {
        let tail = run_restored(TextFileSource::new(dir.path()), after, &snapshots);
        let expected = sorted(all_lines().into_iter().chain(["new 1".to_string(), "new 2".to_string()]).collect());
        assert_eq!(sorted([head.clone(), tail].concat()), expected, "2 -> {after}");
    }
}

#[test]
fn a_restored_monitoring_source_continues_and_reads_new_files() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_input(dir.path());
    let monitored = || TextFileSource::new(dir.path()).monitor_continuously(Duration::from_secs(3600));
    for (before, after) in [(1, 1), (2, 3), (3, 1)] {
        let (head, snapshots) = run_until_checkpoint(monitored(), before, 1);
        let new_file = dir.path().join(format!("new-{before}-{after}.txt"));
        fs::write(&new_file, "appeared\n").expect("writing a new file");
        // A monitoring source does not end: the restored run reads until it waits.
        let tail = run_restored(monitored(), after, &snapshots);
        let expected = sorted(all_lines().into_iter().chain(["appeared".to_string()]).collect());
        assert_eq!(sorted([head, tail].concat()), expected, "{before} -> {after}");
        fs::remove_file(new_file).expect("removing the new file");
    }
}

#[test]
fn a_snapshot_after_the_end_restores_to_nothing() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write_input(dir.path());
    let (head, snapshots) = run_until_checkpoint(TextFileSource::new(dir.path()), 2, 10);
    assert_eq!(sorted(head), all_lines());
    assert_eq!(run_restored(TextFileSource::new(dir.path()), 3, &snapshots), Vec::<String>::new());
}
