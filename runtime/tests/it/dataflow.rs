//! Stateless and keyed operators across task boundaries.

use std::collections::HashMap;

use strom_runtime::prelude::*;

use crate::{pseudo_random, PARALLELISMS};

#[test]
fn map_filter_flat_map_key_by_reduce() {
    let input: Vec<u64> = pseudo_random(7, 20_000).into_iter().map(|x| x % 1000).collect();
    let mut expected: HashMap<u64, u64> = HashMap::new();
    for x in input.iter().filter(|x| *x % 3 != 0) {
        for part in [x % 10, x % 7] {
            *expected.entry(part).or_default() += x;
        }
    }
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        let out = CollectSink::new();
        env.from_collection(input.clone())
            .rebalance()
            .filter(|x: &u64| x % 3 != 0)
            .flat_map(|x: u64, out: &mut Collector<(u64, u64)>| {
                out.collect((x % 10, x));
                out.collect((x % 7, x));
            })
            .key_by(|(k, _): &(u64, u64)| *k)
            .reduce(|a, b| (a.0, a.1 + b.1))
            .sink(out.clone());
        env.execute("reduce").unwrap();
        // The rolling reduce emits every intermediate sum; the last per key is the total.
        let mut last: HashMap<u64, u64> = HashMap::new();
        let mut emitted = 0;
        for (k, sum) in out.values() {
            let prev = last.insert(k, sum).unwrap_or(0);
            assert!(sum > prev || sum == 0, "sums of a key only grow (p={p})");
            emitted += 1;
        }
        assert_eq!(last, expected, "p={p}");
        assert_eq!(emitted, 2 * input.iter().filter(|x| *x % 3 != 0).count(), "p={p}");
    }
}

#[test]
fn union_and_comap_merge_everything() {
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        let out = CollectSink::new();
        let a = env.from_collection((0..1000_i64).collect());
        let b = env.from_collection((1000..1500_i64).collect()).map(|x: i64| x * 2);
        let c = env.from_collection((0..300_u32).collect());
        a.union(&[b]).rebalance().connect(&c.rebalance()).map(|x: i64| format!("i{x}"), |y: u32| format!("u{y}")).sink(out.clone());
        env.execute("union").unwrap();
        let mut expected: Vec<String> = (0..1000).map(|x| format!("i{x}")).collect();
        expected.extend((1000..1500).map(|x| format!("i{}", x * 2)));
        expected.extend((0..300).map(|y| format!("u{y}")));
        expected.sort();
        assert_eq!(out.sorted(), expected, "p={p}");
    }
}

#[test]
fn broadcast_reaches_every_subtask_and_rebalance_spreads_evenly() {
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        let seen = CollectSink::new();
        env.from_collection((0..100_u32).collect())
            .broadcast()
            .flat_map(|x: u32, out: &mut Collector<u32>| out.collect(x))
            .sink(seen.clone());
        let spread = CollectSink::new();
        env.from_collection((0..1000_u32).collect())
            .rebalance()
            .transform("tag", |info: &TaskInfo| TagSubtask(info.subtask))
            .sink(spread.clone());
        env.execute("broadcast").unwrap();
        let expected: Vec<u32> = (0..100).flat_map(|x| std::iter::repeat_n(x, p as usize)).collect();
        assert_eq!(seen.sorted(), expected, "p={p}");
        let mut per_subtask = vec![0; p as usize];
        for (subtask, _) in spread.values() {
            per_subtask[subtask as usize] += 1;
        }
        assert_eq!(per_subtask, vec![1000 / p as usize; p as usize], "p={p}");
    }
}

/// Tags records with the subtask that processed them.
struct TagSubtask(u32);

impl Operator for TagSubtask {
    type In = u32;
    type Out = (u32, u32);
    fn process(&mut self, r: Record<u32>, out: &mut Collector<(u32, u32)>, _: &mut OperatorContext<'_>) -> Result<()> {
        out.collect_at(r.ts, (self.0, r.value));
        Ok(())
    }
}

#[test]
fn keys_reach_the_subtask_owning_their_key_group() {
    use strom_runtime::state::{KeyGroup, KeyGroupRange};
    for (p, max_p) in [(1_u32, 128_u32), (4, 128), (3, 10)] {
        let env = StreamEnv::new();
        env.set_parallelism(p).set_max_parallelism(max_p);
        let out = CollectSink::new();
        env.from_collection((0..2_000_u32).collect())
            .key_by(|x: &u32| format!("key-{}", x % 97))
            .as_stream()
            .transform("tag", |info: &TaskInfo| TagSubtask(info.subtask))
            .sink(out.clone());
        env.execute("key groups").unwrap();
        let values = out.values();
        assert_eq!(values.len(), 2_000);
        for (subtask, x) in values {
            let kg = KeyGroup::of(&format!("key-{}", x % 97), max_p);
            assert!(KeyGroupRange::for_subtask(max_p, p, subtask).contains(kg), "p={p} max_p={max_p}: {x} on {subtask}");
        }
    }
}

#[derive(Clone)]
struct SplitLarge {
    large: OutputTag<u64>,
}

impl KeyedProcessFunction<u64, u64, u64> for SplitLarge {
    fn process_element(&mut self, v: u64, _: &mut KeyedContext<'_, u64>, out: &mut Collector<u64>) -> FnResult {
        if v >= 500 {
            out.side(&self.large, v);
        } else {
            out.collect(v);
        }
        Ok(())
    }
}

#[test]
fn process_functions_emit_side_outputs_chained_or_across_tasks() {
    let large = OutputTag::<u64>::new("large");
    for p in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(p);
        let (small_out, large_chained, large_rebalanced) = (CollectSink::new(), CollectSink::new(), CollectSink::new());
        let main = env.from_collection((0..1000_u64).collect()).key_by(|x: &u64| x % 13).process(SplitLarge { large: large.clone() });
        main.get_side_output(&large).map(|x: u64| x + 1).sink(large_chained.clone());
        main.get_side_output(&large).rebalance().map(|x: u64| x).parallelism(1).sink(large_rebalanced.clone());
        main.sink(small_out.clone());
        env.execute("side outputs").unwrap();
        assert_eq!(small_out.sorted(), (0..500).collect::<Vec<_>>(), "p={p}");
        assert_eq!(large_chained.sorted(), (501..1001).collect::<Vec<_>>(), "p={p}");
        assert_eq!(large_rebalanced.sorted(), (500..1000).collect::<Vec<_>>(), "p={p}");
    }
}

#[test]
fn sources_cannot_have_side_outputs() {
    let env = StreamEnv::new();
    let tag = OutputTag::<u32>::new("nope");
    env.from_collection(vec![1_u32]).get_side_output(&tag).sink(CollectSink::new());
    let err = env.execute("bad").unwrap_err().to_string();
    assert!(err.contains("cannot have side outputs") && err.contains("nope"), "{err}");
}
