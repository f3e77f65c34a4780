//! Interval join and window join against brute-force expectations.

use std::time::Duration;

use strom_runtime::prelude::*;

use crate::{pseudo_random, PARALLELISMS};

/// `(key, ts)` events with increasing timestamps.
fn events(seed: u64, n: usize, keys: u64) -> Vec<(u64, i64)> {
    let mut ts = 0;
    pseudo_random(seed, n)
        .into_iter()
        .map(|r| {
            ts += (r % 7) as i64;
            (r % keys, ts)
        })
        .collect()
}

fn timed(env: &StreamEnv, events: &[(u64, i64)]) -> DataStream<(u64, i64)> {
    env.from_collection(events.to_vec()).assign_timestamps_and_watermarks(
        WatermarkStrategy::for_monotonous_timestamps()
            .with_timestamp_assigner(|e: &(u64, i64), _| e.1)
            .with_emission(WatermarkEmission::PerEvent),
    )
}

#[test]
fn interval_join_matches_brute_force() {
    let (left, right) = (events(3, 600, 5), events(4, 500, 5));
    let (lower, upper) = (-3_i64, 5_i64);
    let mut expected: Vec<(i64, i64, u64, i64)> = Vec::new();
    for a in &left {
        for b in &right {
            if a.0 == b.0 && a.1 + lower <= b.1 && b.1 <= a.1 + upper {
                expected.push((a.1, b.1, a.0, a.1.max(b.1)));
            }
        }
    }
    expected.sort();
    assert!(expected.len() > 100, "the test data joins");
    for (p, backend) in PARALLELISMS.into_iter().flat_map(|p| [(p, "hashmap"), (p, "rocksdb")]) {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        env.set_config("state.backend.type", backend);
        let out = CollectSink::new();
        timed(&env, &left)
            .key_by(|e: &(u64, i64)| e.0)
            .interval_join(&timed(&env, &right).key_by(|e: &(u64, i64)| e.0))
            .between(lower, upper)
            .process(|a: &(u64, i64), b: &(u64, i64), out: &mut Collector<(i64, i64, u64, i64)>| {
                let ts = out.timestamp();
                out.collect((a.1, b.1, a.0, ts));
            })
            .sink(out.clone());
        env.execute("interval join").unwrap();
        assert_eq!(out.sorted(), expected, "p={p} {backend}");
    }
}

#[test]
fn window_join_matches_brute_force() {
    let (left, right) = (events(5, 400, 4), events(6, 300, 4));
    let size = 20_i64;
    let mut expected: Vec<String> = Vec::new();
    for a in &left {
        for b in &right {
            if a.0 == b.0 && a.1.div_euclid(size) == b.1.div_euclid(size) {
                expected.push(format!("{}:{}-{}", a.0, a.1, b.1));
            }
        }
    }
    expected.sort();
    assert!(expected.len() > 100, "the test data joins");
    for (p, backend) in PARALLELISMS.into_iter().flat_map(|p| [(p, "hashmap"), (p, "rocksdb")]) {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        env.set_config("state.backend.type", backend);
        let out = CollectSink::new();
        timed(&env, &left)
            .join(&timed(&env, &right))
            .where_key(|a: &(u64, i64)| a.0)
            .equal_to(|b: &(u64, i64)| b.0)
            .window(WindowAssigner::tumbling_event_time(Duration::from_millis(size as u64)))
            .apply(|a: &(u64, i64), b: &(u64, i64)| format!("{}:{}-{}", a.0, a.1, b.1))
            .sink(out.clone());
        env.execute("window join").unwrap();
        assert_eq!(out.sorted(), expected, "p={p} {backend}");
    }
}
