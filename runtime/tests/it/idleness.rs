//! An idle source does not hold back the watermark once its idleness timeout passed.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strom_runtime::prelude::*;
use strom_runtime::time::ManualClock;

/// Emits `events` then waits, open, until `stop`; or emits nothing at all.
#[derive(Clone)]
struct StoppableSource {
    events: Vec<(i64, u32)>,
    next: usize,
    stop: Arc<AtomicBool>,
}

impl Source for StoppableSource {
    type Out = (i64, u32);
    fn poll_next(&mut self, out: &mut Collector<(i64, u32)>, _: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        if let Some(e) = self.events.get(self.next) {
            out.collect(*e);
            self.next += 1;
            return Ok(SourceStatus::MoreAvailable);
        }
        Ok(if self.stop.load(Ordering::SeqCst) { SourceStatus::Finished } else { SourceStatus::Wait(Duration::from_millis(5)) })
    }
}

#[test]
fn idle_source_releases_the_watermark() {
    let (stop, clock, out) = (Arc::new(AtomicBool::new(false)), ManualClock::new(0), CollectSink::new());
    let job = {
        let (stop, clock, out) = (stop.clone(), clock.clone(), out.clone());
        std::thread::spawn(move || {
            let env = StreamEnv::new();
            env.set_clock(Arc::new(clock));
            let strategy = |idle: bool| {
                let s = WatermarkStrategy::for_monotonous_timestamps()
                    .with_timestamp_assigner(|e: &(i64, u32), _| e.0)
                    .with_emission(WatermarkEmission::PerEvent);
                if idle {
                    s.with_idleness(Duration::from_secs(1))
                } else {
                    s
                }
            };
            let busy = StoppableSource { events: (0..100).map(|i| (i * 10, 1)).collect(), next: 0, stop: stop.clone() };
            let idle = StoppableSource { events: Vec::new(), next: 0, stop };
            let a = env.add_source("busy", busy).parallelism(1).assign_timestamps_and_watermarks(strategy(false));
            let b = env.add_source("idle", idle).parallelism(1).assign_timestamps_and_watermarks(strategy(true));
            a.union(&[b])
                .key_by(|e: &(i64, u32)| e.1)
                .window(WindowAssigner::tumbling_event_time(Duration::from_millis(100)))
                .aggregate_with(CountAggregate, |_: &u32, w: TimeWindow, n: u64, out: &mut Collector<(i64, u64)>| out.collect((w.start, n)))
                .sink(out);
            env.execute("idleness")
        })
    };
    // Processing time moves only when the test says so; the idle source's timeout is 1 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    while out.values().len() < 9 {
        assert!(Instant::now() < deadline, "windows did not fire while one source was idle: {:?}", out.values());
        clock.advance(500);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(!stop.load(Ordering::SeqCst));
    let early: Vec<(i64, u64)> = out.sorted();
    assert_eq!(early, (0..9).map(|w| (w * 100, 10)).collect::<Vec<_>>(), "windows up to the busy source's watermark 989");
    stop.store(true, Ordering::SeqCst);
    job.join().expect("job thread").expect("job succeeds");
    assert_eq!(out.sorted(), (0..10).map(|w| (w * 100, 10)).collect::<Vec<_>>());
}
