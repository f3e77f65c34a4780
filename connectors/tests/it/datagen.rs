//! `DataGenSource`: the index sequence, split over the subtasks, optionally rate-limited.

use std::time::{Duration, Instant};

use strom_connectors::DataGenSource;
use strom_runtime::prelude::*;

use crate::support::{sorted, StopSink, SubtaskSink, PARALLELISMS};

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
