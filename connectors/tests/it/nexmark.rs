//! `NexmarkSource`: restored from a checkpoint at any parallelism, the subtasks together
//! still emit exactly the generator's stream.

use strom_connectors::nexmark::{Event, GeneratorConfig, NexmarkGenerator, NexmarkSource};
use strom_runtime::checkpoint::{CheckpointId, OperatorSnapshot};
use strom_runtime::prelude::*;

use crate::support::{in_subtasks, ok, poll, union_of};

fn bounded(max_events: u64) -> GeneratorConfig {
    GeneratorConfig { max_events: Some(max_events), ..GeneratorConfig::default() }
}

/// Events as a sorted multiset of their debug forms (`Event` has no order).
fn multiset(events: impl IntoIterator<Item = Event>) -> Vec<String> {
    let mut keys: Vec<String> = events.into_iter().map(|e| format!("{e:?}")).collect();
    keys.sort();
    keys
}

#[test]
fn a_restored_source_emits_the_stream_exactly_once_at_any_parallelism() {
    let config = bounded(12_000);
    let expected = multiset(NexmarkGenerator::new(config.clone()));
    for (before, after) in [(1, 1), (2, 2), (2, 1), (1, 3), (3, 2), (2, 4)] {
        let source = NexmarkSource::new(config.clone());
        let first = source.clone();
        let results = in_subtasks(before, move |ctx| {
            let mut source = first.clone();
            ok(source.open(ctx));
            let head = poll(&mut source, ctx, Some(ctx.info().subtask as usize + 1));
            let snapshot = ok(source.snapshot_state(CheckpointId(1)));
            poll(&mut source, ctx, Some(1)); // lost with the failed run
            (head, snapshot)
        });
        let (head, snapshots): (Vec<Vec<Event>>, Vec<OperatorSnapshot>) = results.into_iter().unzip();
        let restore = union_of(&snapshots);
        let tail = in_subtasks(after, move |ctx| {
            let mut source = source.clone();
            ok(source.restore_state(restore.clone()));
            ok(source.open(ctx));
            let events = poll(&mut source, ctx, None);
            // Within a subtask, events come in event-number (and so timestamp) order.
            assert!(events.windows(2).all(|w| w[0].timestamp() <= w[1].timestamp()));
            events
        });
        let got = multiset(head.into_iter().chain(tail).flatten());
        assert!(got == expected, "{before} -> {after}: {} events instead of {}", got.len(), expected.len());
    }
}
