//! `DataGenSource`: the index sequence, split over the subtasks, optionally rate-limited,
//! resumed exactly after a restore at any parallelism.

use std::time::{Duration, Instant};

use strom_connectors::DataGenSource;
use strom_runtime::checkpoint::{CheckpointId, OperatorRestore, OperatorSnapshot};
use strom_runtime::prelude::*;

use crate::support::{in_subtasks, ok, poll, sorted, union_of, StopSink, SubtaskSink, PARALLELISMS};

fn generate(count: u64, p: u32) -> Vec<(u32, u64)> {
    let env = StreamEnv::new();
    env.set_parallelism(p);
    let sink = SubtaskSink::new();
    env.add_source("Numbers", DataGenSource::new(Some(count), |i| i)).sink(sink.clone());
    env.execute("generate").expect("the job succeeds");
    sink.sorted()
}

#[test]
fn subtask_i_generates_i_plus_multiples_of_the_parallelism() {
    for p in PARALLELISMS {
        let expected = sorted((0..5_000).map(|i| ((i % u64::from(p)) as u32, i)).collect());
        assert_eq!(generate(5_000, p), expected, "parallelism {p}");
        assert_eq!(generate(0, p), Vec::new(), "parallelism {p}");
    }
}

#[test]
fn the_function_turns_indices_into_records() {
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        let sink = SubtaskSink::new();
        env.add_source("Words", DataGenSource::new(Some(3), |i| format!("word-{i}"))).sink(sink.clone());
        env.execute("generate words").expect("the job succeeds");
        assert_eq!(sink.sorted_values(), vec!["word-0", "word-1", "word-2"], "parallelism {p}");
    }
}

#[test]
fn an_unbounded_source_runs_until_stopped() {
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        let sink = StopSink::new(20_000);
        env.add_source("Numbers", DataGenSource::new(None, |i| i)).sink(sink.clone());
        let error = env.execute("generate forever").expect_err("the stop sink ends the job");
        assert!(error.to_string().contains(StopSink::<u64>::STOP), "{error}");
        let records = sink.inner.sorted();
        assert!(records.len() >= 20_000, "parallelism {p}: {}", records.len());
        for subtask in 0..p {
            // Each subtask emits its indices in order, so what arrived is a prefix of them.
            let got: Vec<u64> = records.iter().filter(|(s, _)| *s == subtask).map(|(_, v)| *v).collect();
            let expected: Vec<u64> = (0..got.len() as u64).map(|k| k * u64::from(p) + u64::from(subtask)).collect();
            assert_eq!(got, expected, "subtask {subtask} of {p}");
        }
    }
}

#[test]
fn the_rate_limits_all_subtasks_together() {
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        let sink = SubtaskSink::new();
        env.add_source("Numbers", DataGenSource::new(Some(60), |i| i).with_rate(600.0)).sink(sink.clone());
        let started = Instant::now();
        env.execute("generate slowly").expect("the job succeeds");
        // 600/s over p subtasks: each emits its first record at once and the rest at 600/p per
        // second, so the job takes at least (60/p - 1) * p/600 s (less 2 ms for the
        // millisecond clock's truncation).
        let minimum = Duration::from_millis((60 - u64::from(p)) * 1000 / 600 - 2);
        assert!(started.elapsed() >= minimum, "parallelism {p}: {:?} < {minimum:?}", started.elapsed());
        assert_eq!(sink.sorted_values(), (0..60).collect::<Vec<u64>>(), "parallelism {p}");
    }
}

#[test]
fn a_rate_that_is_not_positive_fails_the_job() {
    let env = StreamEnv::new();
    env.add_source("Numbers", DataGenSource::new(Some(1), |i| i).with_rate(0.0)).sink(SubtaskSink::new());
    let error = env.execute("no rate").expect_err("the job fails").to_string();
    assert!(error.contains("must be a positive number of records per second, got 0"), "{error}");
}

// ---------------------------------------------------------------------------------------
// Checkpoints: the source driven through its hooks, in the subtasks of a job.
// ---------------------------------------------------------------------------------------

/// Runs `source` at parallelism `p`, restored from `snapshots` unless there are none: subtask
/// `i` polls `polls(i)` times (each poll emits up to 1024 records; `None`: until the end),
/// takes checkpoint 1 and polls once more (records lost with the run). Returns, per subtask,
/// the records emitted before the checkpoint and the snapshot.
fn run<T: Data>(
    source: DataGenSource<T>,
    p: u32,
    snapshots: &[OperatorSnapshot],
    polls: impl Fn(u32) -> Option<usize> + Send + Sync + 'static,
) -> Vec<(Vec<T>, OperatorSnapshot)> {
    let restore = (!snapshots.is_empty()).then(|| union_of(snapshots));
    in_subtasks(p, move |ctx| {
        let mut source = source.clone();
        if let Some(restore) = &restore {
            ok(source.restore_state(restore.clone()));
        }
        ok(source.open(ctx));
        let emitted = poll(&mut source, ctx, polls(ctx.info().subtask));
        let snapshot = ok(source.snapshot_state(CheckpointId(1)));
        poll(&mut source, ctx, Some(1));
        (emitted, snapshot)
    })
}

fn split<T: Clone>(results: Vec<(Vec<T>, OperatorSnapshot)>) -> (Vec<T>, Vec<OperatorSnapshot>) {
    let (emitted, snapshots): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    (emitted.concat(), snapshots)
}

#[test]
fn a_restored_source_generates_every_index_once_at_any_parallelism() {
    const COUNT: u64 = 10_000;
    for (before, after) in [(1, 1), (3, 3), (2, 1), (1, 3), (3, 2), (2, 7)] {
        let source = DataGenSource::new(Some(COUNT), |i| i);
        let (head, snapshots) = split(run(source.clone(), before, &[], |s| Some(s as usize + 1)));
        let (tail, _) = split(run(source, after, &snapshots, |_| None));
        assert_eq!(sorted([head, tail].concat()), (0..COUNT).collect::<Vec<_>>(), "{before} -> {after}");
    }
}

#[test]
fn a_restored_unbounded_source_neither_repeats_nor_skips() {
    for (before, after) in [(2, 3), (3, 1), (1, 4)] {
        let source = DataGenSource::new(None, |i| i);
        let (head, snapshots) = split(run(source.clone(), before, &[], |s| Some(2 * s as usize + 1)));
        let results = run(source, after, &snapshots, |_| Some(3));
        // Each subtask emits its indices in increasing order, so every index up to the lowest
        // last index of a restored subtask was emitted by someone.
        let complete_to = results.iter().map(|(emitted, _)| *emitted.last().expect("emitted records")).min().unwrap_or(0);
        let (tail, _) = split(results);
        let all = sorted([head, tail].concat());
        let mut unique = all.clone();
        unique.dedup();
        assert_eq!(all, unique, "{before} -> {after}: an index was generated twice");
        let prefix: Vec<u64> = all.iter().copied().take_while(|i| *i <= complete_to).collect();
        assert_eq!(prefix, (0..=complete_to).collect::<Vec<_>>(), "{before} -> {after}: an index was skipped");
    }
}

#[test]
fn a_restore_resumes_every_subtask_at_its_own_sequence() {
    let source = DataGenSource::new(Some(9_000), |i| i);
    let (_, snapshots) = split(run(source.clone(), 3, &[], |s| Some(s as usize)));
    let results = run(source, 3, &snapshots, |_| None);
    for (subtask, (emitted, _)) in results.iter().enumerate() {
        let expected: Vec<u64> = (0..3_000).map(|k| k * 3 + subtask as u64).skip(subtask * 1024).collect();
        assert_eq!(emitted, &expected, "subtask {subtask}");
    }
}

#[test]
fn a_state_without_entries_starts_afresh_and_a_foreign_one_fails() {
    let source = DataGenSource::new(Some(100), |i| i);
    let empty = vec![OperatorSnapshot::default()];
    let (all, _) = split(run(source.clone(), 2, &empty, |_| None));
    assert_eq!(sorted(all), (0..100).collect::<Vec<_>>());
    let mut restored = source;
    let foreign = OperatorRestore { union: vec![vec![7; 40]], ..OperatorRestore::default() };
    let error = restored.restore_state(foreign).expect_err("not the source's state").to_string();
    assert!(error.contains("data generator's positions"), "{error}");
}
