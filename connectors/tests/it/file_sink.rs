//! `FileSink`: after the input ends, only visible part files remain and they hold exactly
//! the input; with checkpoints, parts become visible only when their checkpoint completes,
//! and a restore commits what the checkpoint covered and discards what came after it.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use strom_connectors::{DataGenSource, DataStreamExt, FileSink};
use strom_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use strom_runtime::prelude::*;

use crate::support::{file_names, in_subtasks, ok, sorted, union_of};

/// The parallelisms the sink tests run at.
const PARALLELISMS: [u32; 2] = [1, 4];

fn input(n: u64) -> Vec<String> {
    (0..n).map(|i| format!("record {i}")).collect()
}

/// Writes `n` records from one source subtask, rebalanced over `p` sink subtasks.
fn write(n: u64, p: u32, sink: FileSink<String>) {
    let env = StreamEnv::new();
    env.add_source("Records", DataGenSource::new(Some(n), |i| format!("record {i}"))).parallelism(1).sink(sink).parallelism(p);
    env.execute("write part files").expect("the job succeeds");
}

/// Every line of every file in `dir`, sorted.
fn all_lines(dir: &Path) -> Vec<String> {
    let lines = file_names(dir).into_iter().flat_map(|name| {
        let text = fs::read_to_string(dir.join(&name)).expect("reading a part file");
        text.lines().map(str::to_string).collect::<Vec<_>>()
    });
    sorted(lines.collect())
}

/// A visible part file's name: `part-<run>-<subtask>-<counter>`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Part {
    run: String,
    subtask: u32,
    counter: u64,
}

fn part_of(name: &str) -> Part {
    let parse = || {
        let mut fields = name.strip_prefix("part-")?.split('-');
        let (run, subtask, counter) = (fields.next()?, fields.next()?, fields.next()?);
        let valid_run = run.len() == 16 && run.bytes().all(|b| b.is_ascii_hexdigit());
        (fields.next().is_none() && valid_run).then_some(())?;
        Some(Part { run: run.to_string(), subtask: subtask.parse().ok()?, counter: counter.parse().ok()? })
    };
    parse().unwrap_or_else(|| panic!("'{name}' is not a visible part file"))
}

#[test]
fn finished_part_files_hold_exactly_the_input() {
    for p in PARALLELISMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        let out = dir.path().join("missing/parents/out");
        write(10_000, p, FileSink::lines(&out));
        let parts: Vec<(u32, u64)> = sorted(file_names(&out).iter().map(|n| part_of(n)).map(|p| (p.subtask, p.counter)).collect());
        assert_eq!(parts, (0..p).map(|i| (i, 0)).collect::<Vec<_>>(), "parallelism {p}");
        assert_eq!(all_lines(&out), sorted(input(10_000)), "parallelism {p}");
    }
}

#[test]
fn parts_roll_over_at_the_maximum_size() {
    const MAX: u64 = 1_000;
    for p in PARALLELISMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        write(2_000, p, FileSink::lines(dir.path()).with_max_part_size(MAX));
        let names = file_names(dir.path());
        let mut parts: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
        for name in &names {
            let Part { subtask, counter, .. } = part_of(name);
            let size = fs::metadata(dir.path().join(name)).expect("a part file's metadata").len();
            parts.entry(subtask).or_default().push((counter, size));
        }
        assert_eq!(parts.keys().copied().collect::<Vec<_>>(), (0..p).collect::<Vec<_>>(), "parallelism {p}: {names:?}");
        for (subtask, mut files) in parts {
            files.sort();
            let counters: Vec<u64> = files.iter().map(|(n, _)| *n).collect();
            assert_eq!(counters, (0..files.len() as u64).collect::<Vec<_>>(), "subtask {subtask} of {p}");
            let (last, full) = files.split_last().expect("at least one part");
            // A part rolls after the record that takes it to the maximum; records are < 20 bytes.
            assert!(full.iter().all(|(_, size)| (MAX..MAX + 20).contains(size)), "subtask {subtask} of {p}: {files:?}");
            assert!(last.1 > 0 && last.1 < MAX + 20, "subtask {subtask} of {p}: {files:?}");
        }
        assert_eq!(all_lines(dir.path()), sorted(input(2_000)), "parallelism {p}");
    }
}

#[test]
fn a_second_run_adds_parts_instead_of_overwriting() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write(3, 1, FileSink::lines(dir.path()));
    write(3, 1, FileSink::lines(dir.path()));
    let parts: Vec<Part> = file_names(dir.path()).iter().map(|n| part_of(n)).collect();
    assert_eq!(parts.len(), 2, "{parts:?}");
    assert_ne!(parts[0].run, parts[1].run);
    assert!(parts.iter().all(|p| (p.subtask, p.counter) == (0, 0)), "{parts:?}");
    let twice = sorted(input(3).into_iter().chain(input(3)).collect());
    assert_eq!(all_lines(dir.path()), twice);
}

#[test]
fn a_subtask_without_records_writes_no_file() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write(2, 4, FileSink::lines(dir.path()));
    assert_eq!(file_names(dir.path()).len(), 2);
    assert_eq!(all_lines(dir.path()), sorted(input(2)));
}

#[test]
fn write_as_text_writes_one_line_per_record() {
    for p in PARALLELISMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        let env = StreamEnv::new();
        env.set_parallelism(p);
        env.add_source("Numbers", DataGenSource::new(Some(1_000), |i| i)).write_as_text(dir.path());
        env.execute("write as text").expect("the job succeeds");
        assert!(file_names(dir.path()).iter().all(|name| name.starts_with("part-")), "parallelism {p}");
        let expected = sorted((0..1_000u64).map(|i| i.to_string()).collect());
        assert_eq!(all_lines(dir.path()), expected, "parallelism {p}");
    }
}

// ---------------------------------------------------------------------------------------
// Checkpoints: the sink driven through its hooks, in the subtasks of a job.
// ---------------------------------------------------------------------------------------

/// Records `from..to` as `record <i>` lines with timestamps.
fn batch(from: u64, to: u64) -> Vec<Record<String>> {
    (from..to).map(|i| Record::new(0, format!("record {i}"))).collect()
}

/// The lines of `from..to`.
fn lines_of(ranges: &[(u64, u64)]) -> Vec<String> {
    sorted(ranges.iter().flat_map(|&(from, to)| (from..to).map(|i| format!("record {i}"))).collect())
}

/// Every line of the visible part files of `subtask` (all subtasks if `None`), sorted.
fn visible_lines(dir: &Path, subtask: Option<u32>) -> Vec<String> {
    let names = file_names(dir).into_iter().filter(|n| !n.starts_with('.'));
    let mine = names.filter(|n| subtask.is_none_or(|s| part_of(n).subtask == s));
    let lines = mine.flat_map(|name| {
        let text = fs::read_to_string(dir.join(&name)).expect("reading a part file");
        text.lines().map(str::to_string).collect::<Vec<_>>()
    });
    sorted(lines.collect())
}

/// The hidden files in `dir`.
fn hidden(dir: &Path) -> Vec<String> {
    file_names(dir).into_iter().filter(|n| n.starts_with('.')).collect()
}

/// A sink into `dir` whose parts roll over after about 50 records.
fn small_parts(dir: &Path) -> FileSink<String> {
    FileSink::lines(dir).with_max_part_size(600)
}

/// The records subtask `s` writes in its `k`-th step: 120 of them, so that parts roll.
fn step(s: u32, k: u64) -> (u64, u64) {
    let from = u64::from(s) * 100_000 + k * 1_000;
    (from, from + 120)
}

fn checkpoint(sink: &mut FileSink<String>, id: u64) -> OperatorSnapshot {
    ok(sink.snapshot_state(CheckpointId(id)))
}

#[test]
fn parts_become_visible_only_when_their_checkpoint_completes() {
    for p in PARALLELISMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        let out = dir.path().to_path_buf();
        let written = in_subtasks(p, move |ctx| {
            let s = ctx.info().subtask;
            let mut sink = small_parts(&out);
            ok(sink.open(ctx));
            let (a, b, c) = (step(s, 0), step(s, 1), step(s, 2));
            // Before the first checkpoint the sink cannot know that the job checkpoints:
            // parts that roll over are committed at once, as without checkpoints.
            ok(sink.write(&mut batch(a.0, a.1), ctx));
            checkpoint(&mut sink, 1);
            let before_1 = visible_lines(&out, Some(s));
            ok(sink.write(&mut batch(b.0, b.1), ctx));
            checkpoint(&mut sink, 2);
            ok(sink.write(&mut batch(c.0, c.1), ctx));
            assert_eq!(visible_lines(&out, Some(s)), before_1, "parts of checkpoint 2 and later are hidden");
            ok(sink.notify_checkpoint_complete(CheckpointId(1)));
            assert_eq!(visible_lines(&out, Some(s)), lines_of(&[a]), "checkpoint 1 covers a");
            checkpoint(&mut sink, 3);
            assert_eq!(visible_lines(&out, Some(s)), lines_of(&[a]), "notification 2 is missing");
            // Checkpoint 3's notification covers checkpoint 2.
            ok(sink.notify_checkpoint_complete(CheckpointId(3)));
            assert_eq!(visible_lines(&out, Some(s)), lines_of(&[a, b, c]));
            // The end of the input: finish, then a final checkpoint.
            let d = step(s, 3);
            ok(sink.write(&mut batch(d.0, d.1), ctx));
            ok(sink.finish(ctx));
            assert_eq!(visible_lines(&out, Some(s)), lines_of(&[a, b, c]), "finish does not commit with checkpoints");
            checkpoint(&mut sink, 4);
            ok(sink.notify_checkpoint_complete(CheckpointId(4)));
            ok(sink.notify_checkpoint_complete(CheckpointId(4)));
            [a, b, c, d]
        });
        assert_eq!(visible_lines(dir.path(), None), lines_of(&written.concat()), "parallelism {p}");
        assert_eq!(hidden(dir.path()), Vec::<String>::new(), "parallelism {p}");
    }
}

#[test]
fn without_checkpoints_rolled_parts_and_finish_commit_at_once() {
    for p in PARALLELISMS {
        let dir = tempfile::tempdir().expect("temporary directory");
        let out = dir.path().to_path_buf();
        let written = in_subtasks(p, move |ctx| {
            let s = ctx.info().subtask;
            let mut sink = small_parts(&out);
            ok(sink.open(ctx));
            let a = (step(s, 0).0, step(s, 0).0 + 125);
            ok(sink.write(&mut batch(a.0, a.1), ctx));
            // The parts that rolled over are visible; the last records are in progress.
            let visible = visible_lines(&out, Some(s)).len();
            assert!((80..125).contains(&visible), "{visible} lines visible");
            ok(sink.finish(ctx));
            assert_eq!(visible_lines(&out, Some(s)), lines_of(&[a]));
            a
        });
        assert_eq!(visible_lines(dir.path(), None), lines_of(&written), "parallelism {p}");
        assert_eq!(hidden(dir.path()), Vec::<String>::new(), "parallelism {p}");
    }
}

/// What a failed run at parallelism `p` leaves: the snapshots of checkpoint 3, the one to
/// restore, and the ranges it covers. Each subtask takes checkpoint 1 before its first record
/// (so that it is two-phase from the start) and 2 and 3 after a step of records each; it
/// receives checkpoint 2's notification before checkpoint 3's barrier if it is even, after
/// it if it is odd (so that checkpoint 3 still lists parts that are visible by then). Then it
/// writes past checkpoint 3, takes checkpoint 4, which never completes, writes more, and
/// fails.
fn failed_run(out: &Path, p: u32) -> (Vec<OperatorSnapshot>, Vec<(u64, u64)>) {
    let out = out.to_path_buf();
    let results = in_subtasks(p, move |ctx| {
        let s = ctx.info().subtask;
        let mut sink = small_parts(&out);
        ok(sink.open(ctx));
        let steps: Vec<(u64, u64)> = (0..4).map(|k| step(s, k)).collect();
        checkpoint(&mut sink, 1);
        ok(sink.write(&mut batch(steps[0].0, steps[0].1), ctx));
        checkpoint(&mut sink, 2);
        ok(sink.write(&mut batch(steps[1].0, steps[1].1), ctx));
        if s % 2 == 0 {
            ok(sink.notify_checkpoint_complete(CheckpointId(2)));
        }
        let chk_3 = checkpoint(&mut sink, 3);
        if s % 2 == 1 {
            ok(sink.notify_checkpoint_complete(CheckpointId(2)));
        }
        assert_eq!(visible_lines(&out, Some(s)), lines_of(&steps[..1]));
        ok(sink.write(&mut batch(steps[2].0, steps[2].1), ctx));
        checkpoint(&mut sink, 4);
        ok(sink.write(&mut batch(steps[3].0, steps[3].1), ctx));
        (chk_3, steps[..2].to_vec())
    });
    let (snapshots, covered): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    (snapshots, covered.concat())
}

/// Restores every subtask of a run at parallelism `p` from `snapshots`; each then writes a
/// step of new records, and the run either finishes and completes its final checkpoint or
/// fails before its first checkpoint.
fn restored_run(out: &Path, p: u32, snapshots: &[OperatorSnapshot], completes: bool) -> Vec<(u64, u64)> {
    let (out, restore) = (out.to_path_buf(), union_of(snapshots));
    in_subtasks(p, move |ctx| {
        let s = ctx.info().subtask;
        let mut sink = small_parts(&out);
        ok(sink.restore_state(restore.clone()));
        ok(sink.open(ctx));
        let new = step(s + 50, 9);
        ok(sink.write(&mut batch(new.0, new.1), ctx));
        // A restored sink is two-phase from the start: the parts that rolled over are hidden.
        let new_lines: BTreeSet<String> = lines_of(&[new]).into_iter().collect();
        assert!(visible_lines(&out, None).iter().all(|l| !new_lines.contains(l)), "new parts are pending until a checkpoint");
        if completes {
            ok(sink.finish(ctx));
            checkpoint(&mut sink, 4);
            ok(sink.notify_checkpoint_complete(CheckpointId(4)));
        }
        new
    })
}

#[test]
fn a_restore_commits_the_checkpoint_once_and_discards_what_came_after_it() {
    for (before, after) in [(1, 1), (2, 1), (1, 3), (3, 2), (2, 2)] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (snapshots, covered) = failed_run(dir.path(), before);
        assert!(!hidden(dir.path()).is_empty());
        // A first restored attempt fails before its first checkpoint; a second one runs on.
        restored_run(dir.path(), after, &snapshots, false);
        assert_eq!(visible_lines(dir.path(), None), lines_of(&covered), "{before} -> {after}: the restore commits");
        let written = restored_run(dir.path(), after, &snapshots, true);
        let expected = lines_of(&[covered, written].concat());
        assert_eq!(visible_lines(dir.path(), None), expected, "{before} -> {after}");
        assert_eq!(hidden(dir.path()), Vec::<String>::new(), "{before} -> {after}: newer hidden parts are deleted");
    }
}

#[test]
fn restored_parts_keep_their_names_and_new_parts_get_new_runs() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let (snapshots, _) = failed_run(dir.path(), 2);
    let as_visible = |name: &str| name.trim_start_matches('.').trim_end_matches(".inprogress").to_string();
    let before: BTreeSet<String> = file_names(dir.path()).iter().map(|n| as_visible(n)).collect();
    let old_runs: BTreeSet<String> = before.iter().map(|n| part_of(n).run).collect();
    assert_eq!(old_runs.len(), 2, "one run per subtask: {old_runs:?}");
    restored_run(dir.path(), 2, &snapshots, true);
    let names: Vec<String> = file_names(dir.path());
    let (restored, new): (Vec<&String>, Vec<&String>) = names.iter().partition(|n| old_runs.contains(&part_of(n).run));
    assert!(restored.iter().all(|n| before.contains(n.as_str())), "{restored:?} not in {before:?}");
    let new_runs: BTreeSet<String> = new.iter().map(|n| part_of(n).run).collect();
    assert_eq!(new_runs.len(), 2, "{new:?}");
    assert!(new_runs.is_disjoint(&old_runs));
}

#[test]
fn a_damaged_state_fails_the_restore() {
    let mut sink = FileSink::<String>::lines(PathBuf::from("out"));
    let damaged = strom_runtime::checkpoint::OperatorRestore { union: vec![vec![1, 2, 3]], ..Default::default() };
    let error = sink.restore_state(damaged).expect_err("the state is not the sink's").to_string();
    assert!(error.contains("cannot read the file sink's pending part files"), "{error}");
}

/// Whether a checkpoint of any job under `dir` has completed (its `_metadata` exists).
fn a_checkpoint_completed(dir: &Path) -> bool {
    let entries = |dir: &Path| fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path());
    entries(dir).flat_map(|job| entries(&job).collect::<Vec<_>>()).any(|chk| chk.join("_metadata").exists())
}

#[test]
fn a_checkpointed_job_writes_exactly_once_across_a_failover() {
    const RECORDS: u64 = 4_000;
    for p in [1, 3] {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (out, checkpoints) = (dir.path().join("out"), dir.path().join("checkpoints"));
        let env = StreamEnv::new();
        env.set_parallelism(p);
        env.set_config("execution.checkpointing.interval", "10ms");
        env.set_config("state.checkpoints.dir", &checkpoints.display().to_string());
        env.set_config("restart-strategy.type", "fixed-delay");
        env.set_config("restart-strategy.fixed-delay.delay", "10ms");
        // The first record from 2000 on that a subtask maps after a checkpoint completed fails
        // the job once; the restored job must neither lose nor repeat a line.
        let failed = Arc::new(AtomicBool::new(false));
        let fail_once = {
            let (failed, checkpoints) = (failed.clone(), checkpoints.clone());
            move |i: u64| {
                let due = i >= 2_000 && !failed.load(Ordering::SeqCst) && a_checkpoint_completed(&checkpoints);
                if due && !failed.swap(true, Ordering::SeqCst) {
                    panic!("injected failure at record {i}");
                }
                format!("record {i}")
            }
        };
        env.add_source("Records", DataGenSource::new(Some(RECORDS), |i| i).with_rate(20_000.0))
            .uid("records")
            .map(fail_once)
            .uid("fail-once")
            .sink(small_parts(&out))
            .uid("part-files");
        env.execute("exactly once").unwrap_or_else(|e| panic!("parallelism {p}: {}", e.report()));
        assert!(failed.load(Ordering::SeqCst), "parallelism {p}: no checkpoint completed before the end");
        assert_eq!(visible_lines(&out, None), lines_of(&[(0, RECORDS)]), "parallelism {p}");
        assert_eq!(hidden(&out), Vec::<String>::new(), "parallelism {p}");
    }
}
