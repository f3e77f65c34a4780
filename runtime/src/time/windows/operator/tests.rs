//! Window operator tests against Flink's semantics, driven through the operator harness.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::operators::testing::OneInputHarness;
use crate::time::windows::{
    AggregateContents, CountAggregate, CountTrigger, DefaultTrigger, DeltaTrigger, EvictingContents, ListContents, ReduceContents,
    TimeEvictor, TimeWindow, WindowAssigner,
};

type Fired = (i64, i64, char, u64);

fn emit(key: &char, w: TimeWindow, n: u64, out: &mut Collector<Fired>) {
    out.collect((w.start, w.end, *key, n));
}

type EmitFn = fn(&char, TimeWindow, u64, &mut Collector<Fired>);
type Counting = WindowOperator<char, char, AggregateContents<CountAggregate>, EmitFn, Fired, DefaultTrigger>;

fn counting(assigner: WindowAssigner, lateness: i64, late: Option<OutputTag<char>>) -> OneInputHarness<Counting> {
    let trigger = if assigner.is_event_time() { DefaultTrigger::EventTime } else { DefaultTrigger::ProcessingTime };
    let has_late = late.clone();
    let spec = WindowSpec { assigner, trigger, allowed_lateness: lateness, late_tag: late };
    let op = WindowOperator::new(Arc::new(|c: &char| *c), spec, AggregateContents(CountAggregate), emit as EmitFn);
    let h = OneInputHarness::new(op);
    match &has_late {
        Some(tag) => h.with_side_output(tag),
        None => h,
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn values(v: Vec<(i64, Fired)>) -> Vec<Fired> {
    let mut v: Vec<Fired> = v.into_iter().map(|(_, f)| f).collect();
    v.sort();
    v
}

#[test]
fn tumbling_fires_at_window_end_and_drops_late_elements() {
    let late = OutputTag::<char>::new("late");
    let mut h = counting(WindowAssigner::tumbling_event_time(ms(10)), 0, Some(late.clone()));
    h.process_all([(3, 'a'), (12, 'a'), (1, 'a'), (5, 'b')]);
    h.watermark(8);
    assert!(h.take_output().is_empty());
    h.watermark(9);
    let out = h.take_output();
    assert!(out.iter().all(|(ts, _)| *ts == 9), "results carry the window's max timestamp: {out:?}");
    assert_eq!(values(out), vec![(0, 10, 'a', 2), (0, 10, 'b', 1)]);
    // Window [0, 10) is gone: an element for it is late.
    h.process_all([(7, 'a'), (15, 'a')]);
    assert_eq!(h.take_side_output(&late), vec![(7, 'a')]);
    h.watermark(i64::MAX);
    assert_eq!(values(h.take_output()), vec![(10, 20, 'a', 2)]);
}

#[test]
fn allowed_lateness_refires_with_updated_contents_then_cleans_up() {
    let late = OutputTag::<char>::new("late");
    let mut h = counting(WindowAssigner::tumbling_event_time(ms(10)), 5, Some(late.clone()));
    h.process_all([(1, 'a'), (2, 'a')]);
    h.watermark(9);
    assert_eq!(values(h.take_output()), vec![(0, 10, 'a', 2)]);
    // Late but within lateness (cleanup time 9 + 5 = 14 > watermark): fires again at once.
    h.process_all([(4, 'a')]);
    assert_eq!(values(h.take_output()), vec![(0, 10, 'a', 3)]);
    h.watermark(13);
    h.process_all([(5, 'a')]);
    assert_eq!(values(h.take_output()), vec![(0, 10, 'a', 4)]);
    // Watermark reaches the cleanup time: the window is dropped; later elements are late.
    h.watermark(14);
    assert!(h.take_output().is_empty());
    h.process_all([(6, 'a')]);
    assert!(h.take_output().is_empty());
    assert_eq!(h.take_side_output(&late), vec![(6, 'a')]);
}

#[test]
fn sliding_windows_count_each_element_in_every_window() {
    let mut h = counting(WindowAssigner::sliding_event_time(ms(10), ms(5)), 0, None);
    h.process_all([(1, 'a'), (6, 'a'), (11, 'a')]);
    h.watermark(i64::MAX);
    assert_eq!(values(h.take_output()), vec![(-5, 5, 'a', 1), (0, 10, 'a', 2), (5, 15, 'a', 2), (10, 20, 'a', 1)]);
}

#[test]
fn sessions_merge_when_they_touch_and_a_bridge_joins_them() {
    let mut h = counting(WindowAssigner::event_time_session(ms(10)), 0, None);
    // [0,10) and [10,20) touch: one session [0,20). [31,41) stays apart.
    h.process_all([(0, 'a'), (10, 'a'), (31, 'a'), (5, 'b'), (16, 'b')]);
    h.watermark(25);
    assert_eq!(values(h.take_output()), vec![(0, 20, 'a', 2), (5, 15, 'b', 1), (16, 26, 'b', 1)]);
    // For 'a', [22,32) bridges nothing fired yet: it merges with [31,41) into [22,41).
    h.process_all([(22, 'a')]);
    h.watermark(i64::MAX);
    assert_eq!(values(h.take_output()), vec![(22, 41, 'a', 2)]);
}

#[test]
fn session_bridge_merges_three_windows_into_one() {
    let mut h = counting(WindowAssigner::event_time_session(ms(5)), 0, None);
    h.process_all([(0, 'x'), (12, 'x'), (6, 'x')]);
    h.watermark(i64::MAX);
    // [0,5), [12,17) and [6,11): no two touch.
    assert_eq!(values(h.take_output()), vec![(0, 5, 'x', 1), (6, 11, 'x', 1), (12, 17, 'x', 1)]);
    // [0,5), [10,15) and then [5,10), which touches both: one session.
    let mut h = counting(WindowAssigner::event_time_session(ms(5)), 0, None);
    h.process_all([(0, 'x'), (10, 'x'), (5, 'x')]);
    h.watermark(i64::MAX);
    assert_eq!(values(h.take_output()), vec![(0, 15, 'x', 3)]);
}

#[test]
fn late_session_is_dropped_and_counted() {
    let mut h = counting(WindowAssigner::event_time_session(ms(5)), 0, None);
    h.process_all([(100, 'a')]);
    h.watermark(50);
    h.process_all([(10, 'a')]);
    h.watermark(i64::MAX);
    assert_eq!(values(h.take_output()), vec![(100, 105, 'a', 1)]);
    assert_eq!(h.operator().late_dropped, 1);
}

#[test]
fn processing_time_tumbling_fires_on_the_clock() {
    let mut h = counting(WindowAssigner::tumbling_processing_time(ms(100)), 0, None);
    h.processing_time(120);
    h.process_all([(0, 'a'), (0, 'a')]);
    assert_eq!(h.next_processing_time(), Some(199));
    h.processing_time(198);
    assert!(h.take_output().is_empty());
    h.processing_time(199);
    assert_eq!(values(h.take_output()), vec![(100, 200, 'a', 2)]);
}

#[test]
fn count_trigger_fires_every_n_elements() {
    let spec = WindowSpec { assigner: WindowAssigner::global(), trigger: CountTrigger::of(2), allowed_lateness: 0, late_tag: None };
    let op = WindowOperator::new(
        Arc::new(|c: &char| *c),
        spec,
        ListContents,
        |k: &char, _: TimeWindow, v: Vec<char>, out: &mut Collector<(char, usize)>| out.collect((*k, v.len())),
    );
    let mut h = OneInputHarness::new(op);
    h.process_all([(0, 'a'), (0, 'b'), (0, 'a'), (0, 'a'), (0, 'a')]);
    let fired: Vec<_> = h.take_output().into_iter().map(|(_, v)| v).collect();
    assert_eq!(fired, vec![('a', 2), ('a', 4)]);
}

/// TopSpeedWindowing's window: global, delta trigger on distance, time evictor, max speed.
#[test]
fn delta_trigger_with_time_evictor() {
    type Car = (u8, i32, f64, i64);
    let spec = WindowSpec {
        assigner: WindowAssigner::global(),
        trigger: DeltaTrigger::of(50.0, |a: &Car, b: &Car| b.2 - a.2),
        allowed_lateness: 0,
        late_tag: None,
    };
    let max_by_speed = ReduceContents { f: |a: Car, b: Car| if b.1 > a.1 { b } else { a }, _t: std::marker::PhantomData };
    let contents = EvictingContents { inner: max_by_speed, evictor: Arc::new(TimeEvictor::of_ms(10)) };
    let op = WindowOperator::new(Arc::new(|c: &Car| c.0), spec, contents, crate::time::windows::PassThrough);
    let mut h = OneInputHarness::new(op);
    let cars: Vec<(i64, Car)> =
        vec![(0, (1, 90, 0.0, 0)), (5, (1, 60, 30.0, 5)), (20, (1, 70, 55.0, 20)), (25, (1, 80, 80.0, 25)), (40, (1, 50, 120.0, 40))];
    h.process_all(cars);
    let fired: Vec<Car> = h.take_output().into_iter().map(|(_, v)| v).collect();
    // Fires when distance moved > 50 since the last firing element: at 55.0 (from 0.0), then at
    // 120.0 (from 55.0); each time keeping only elements within 10 ms of the newest.
    assert_eq!(fired, vec![(1, 70, 55.0, 20), (1, 50, 120.0, 40)]);
}

/// State (contents, merging sets, timers) survives snapshot and restore, also split over
/// two subtasks by key-group range: the continued runs emit what an uninterrupted run emits.
#[test]
fn snapshot_and_restore_continue_exactly_also_rescaled() {
    use crate::checkpoint::OperatorRestore;
    use crate::state::KeyGroupRange;
    let before: Vec<(i64, char)> = (0..60).map(|i| (i * 7 % 50, ['a', 'b', 'c', 'd', 'e'][i as usize % 5])).collect();
    let after: Vec<(i64, char)> = (60..120).map(|i| (40 + i % 30, ['a', 'b', 'c', 'd', 'e'][i as usize % 5])).collect();
    for assigner in [WindowAssigner::event_time_session(ms(6)), WindowAssigner::sliding_event_time(ms(20), ms(5))] {
        let mut full = counting(assigner, 10, None);
        full.process_all(before.clone());
        full.watermark(30);
        let _ = full.take_output();
        let snapshot = full.snapshot();
        assert!(!snapshot.keyed.is_empty());
        full.process_all(after.clone());
        full.watermark(i64::MAX);
        let want = values(full.take_output());

        let mut got = Vec::new();
        for subtask in 0..2 {
            let range = KeyGroupRange::for_subtask(128, 2, subtask);
            let keyed = snapshot
                .keyed
                .iter()
                .filter(|(kg, _)| range.contains(crate::state::KeyGroup(**kg)))
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            let op = counting(assigner, 10, None).into_operator_for_restore();
            let mut h = OneInputHarness::restored(op, OperatorRestore { keyed, ..Default::default() }, subtask, 2);
            h.watermark(30);
            let mine: Vec<_> = after.iter().filter(|(_, k)| range.contains(crate::state::KeyGroup::of(k, 128))).cloned().collect();
            h.process_all(mine);
            h.watermark(i64::MAX);
            got.extend(values(h.take_output()));
        }
        got.sort();
        assert_eq!(got, want, "{assigner:?}");
    }
}

/// Every case above again with the state in RocksDB: window contents, merged session state
/// and in-place updates go through its read-modify-write path.
#[test]
fn every_case_also_on_rocksdb() {
    let dir = tempfile::tempdir().unwrap();
    let rocks = crate::state::StateBackendConfig {
        kind: crate::state::StateBackendKind::RocksDb,
        incremental: false,
        local_dir: dir.path().into(),
    };
    crate::operators::testing::with_state_backend(rocks, || {
        tumbling_fires_at_window_end_and_drops_late_elements();
        allowed_lateness_refires_with_updated_contents_then_cleans_up();
        sliding_windows_count_each_element_in_every_window();
        sessions_merge_when_they_touch_and_a_bridge_joins_them();
        session_bridge_merges_three_windows_into_one();
        late_session_is_dropped_and_counted();
        processing_time_tumbling_fires_on_the_clock();
        count_trigger_fires_every_n_elements();
        delta_trigger_with_time_evictor();
        snapshot_and_restore_continue_exactly_also_rescaled();
        let open = counting(WindowAssigner::tumbling_event_time(ms(10)), 0, None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the open harness's state is in a RocksDB instance");
        drop(open);
    });
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "RocksDB working directories are deleted on close");
}
