//! Event-time windows over parallel tasks against an independent simulation of Flink's rules.

use std::collections::BTreeMap;
use std::time::Duration;

use strom_runtime::prelude::*;

use crate::{pseudo_random, PARALLELISMS};

/// `(ts, key)` with timestamps jittering up to `jitter` below a rising clock.
fn events(n: usize, jitter: u64) -> Vec<(i64, u64)> {
    pseudo_random(11, n).into_iter().enumerate().map(|(i, r)| ((i as i64) * 3 - (r % jitter) as i64, (r >> 8) % 6)).collect()
}

/// What Flink outputs for a per-event bounded-out-of-orderness watermark, sliding windows of
/// `size`/`slide` (tumbling when equal) and no allowed lateness: an element is dropped for a
/// window whose end - 1 <= the watermark before it; every other window fires at the end.
fn expected(events: &[(i64, u64)], bound: i64, size: i64, slide: i64) -> Vec<(i64, i64, u64, u64)> {
    let mut counts: BTreeMap<(i64, i64, u64), u64> = BTreeMap::new();
    let mut max_ts = i64::MIN;
    for &(ts, key) in events {
        let watermark = if max_ts == i64::MIN { i64::MIN } else { max_ts - bound - 1 };
        let last_start = ts - ts.rem_euclid(slide);
        let mut start = last_start;
        while start > ts - size {
            if start + size - 1 > watermark {
                *counts.entry((start, start + size, key)).or_default() += 1;
            }
            start -= slide;
        }
        max_ts = max_ts.max(ts);
    }
    counts.into_iter().map(|((s, e, k), n)| (s, e, k, n)).collect()
}

fn run(events: &[(i64, u64)], p: u32, bound: i64, assigner: WindowAssigner) -> Vec<(i64, i64, u64, u64)> {
    let env = StreamEnv::new();
    env.set_parallelism(p);
    let out = CollectSink::new();
    env.from_collection(events.to_vec())
        .assign_timestamps_and_watermarks(
            WatermarkStrategy::for_bounded_out_of_orderness(Duration::from_millis(bound as u64))
                .with_timestamp_assigner(|e: &(i64, u64), _| e.0)
                .with_emission(WatermarkEmission::PerEvent),
        )
        .parallelism(1)
        .key_by(|e: &(i64, u64)| e.1)
        .window(assigner)
        .aggregate_with(CountAggregate, |k: &u64, w: TimeWindow, n: u64, out: &mut Collector<(i64, i64, u64, u64)>| {
            out.collect((w.start, w.end, *k, n))
        })
        .sink(out.clone());
    env.execute("windows").unwrap();
    out.sorted()
}

#[test]
fn tumbling_and_sliding_windows_match_the_simulation() {
    let input = events(5_000, 40);
    for (size, slide) in [(50, 50), (60, 20)] {
        let want = expected(&input, 10, size, slide);
        let dropped = input.len() as u64 * (size / slide) as u64 - want.iter().map(|w| w.3).sum::<u64>();
        assert!(dropped > 0, "the data has late elements");
        for p in PARALLELISMS {
            let ms = |n: i64| Duration::from_millis(n as u64);
            let assigner = if size == slide {
                WindowAssigner::tumbling_event_time(ms(size))
            } else {
                WindowAssigner::sliding_event_time(ms(size), ms(slide))
            };
            assert_eq!(run(&input, p, 10, assigner), want, "p={p} size={size} slide={slide}");
        }
    }
}
