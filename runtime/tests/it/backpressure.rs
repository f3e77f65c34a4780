//! A slow sink slows the source down; records in flight stay bounded.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use strom_runtime::keys;
use strom_runtime::prelude::*;

/// Emits `total` records, counting what it produced.
#[derive(Clone)]
struct CountingSource {
    next: u64,
    total: u64,
    produced: Arc<AtomicU64>,
}

impl Source for CountingSource {
    type Out = u64;
    fn poll_next(&mut self, out: &mut Collector<u64>, _: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        for _ in 0..64 {
            if self.next == self.total {
                return Ok(SourceStatus::Finished);
            }
            out.collect(self.next);
            self.next += 1;
            self.produced.fetch_add(1, Ordering::SeqCst);
        }
        Ok(SourceStatus::MoreAvailable)
    }
}

/// Consumes slowly and records the largest gap between produced and consumed records.
#[derive(Clone)]
struct SlowSink {
    produced: Arc<AtomicU64>,
    consumed: Arc<AtomicU64>,
    max_in_flight: Arc<AtomicU64>,
}

impl Sink for SlowSink {
    type In = u64;
    fn write(&mut self, batch: &mut Vec<Record<u64>>, _: &mut OperatorContext<'_>) -> Result<()> {
        // The work of a slow sink (not synchronisation): 0.2 ms per batch.
        std::thread::sleep(Duration::from_micros(200));
        let consumed = self.consumed.fetch_add(batch.len() as u64, Ordering::SeqCst);
        let in_flight = self.produced.load(Ordering::SeqCst) - consumed;
        self.max_in_flight.fetch_max(in_flight, Ordering::SeqCst);
        batch.clear();
        Ok(())
    }
}

#[test]
fn slow_sink_bounds_records_in_flight() {
    const BATCH: u64 = 64;
    const TOTAL: u64 = 64_000;
    for p in [1_u32, 2] {
        let (produced, consumed, max_in_flight) = (Arc::default(), Arc::<AtomicU64>::default(), Arc::<AtomicU64>::default());
        let env = StreamEnv::new();
        env.set_config(keys::BUFFER_RECORDS, &BATCH.to_string()).set_config(keys::BUFFERS_PER_CHANNEL, "2");
        let source = CountingSource { next: 0, total: TOTAL, produced: Arc::clone(&produced) };
        let sink = SlowSink { produced, consumed: Arc::clone(&consumed), max_in_flight: Arc::clone(&max_in_flight) };
        env.add_source("counting", source).parallelism(1).rebalance().map(|x: u64| x).parallelism(p).rebalance().sink(sink).parallelism(1);
        env.execute("backpressure").unwrap();
        assert_eq!(consumed.load(Ordering::SeqCst), TOTAL);
        // Per channel: 2 queued batches + 1 being built by the writer; per task: one batch in
        // hand. Two exchanges, p channels each, plus the source's poll batch.
        let bound = (2 * p as u64 * 3 + 4) * BATCH;
        let max = max_in_flight.load(Ordering::SeqCst);
        assert!(max <= bound, "p={p}: {max} records in flight, bound {bound}");
        assert!(max < TOTAL / 4, "the source was not slowed down: {max} in flight");
    }
}
