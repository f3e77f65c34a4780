//! `NexmarkSource`: the Nexmark generator as a parallel source.
//!
//! Every subtask generates its own share of the event stream
//! ([`NexmarkGenerator::split`]): subtask `i` of `n` produces the global event numbers
//! `i, i + n, i + 2n, ...`, so the union over all subtasks is exactly the unsplit stream,
//! whatever the parallelism, and `max_events` bounds the total over all subtasks. Records
//! carry their event time ([`Event::timestamp`]) as their timestamp, so a
//! `WatermarkStrategy` without a timestamp assigner can follow the source directly.
//!
//! The generator is a pure function of the event number, so a subtask's read position is
//! one number: how many events of its share it has emitted ([`NexmarkSource::position`]).
//! It is kept in a plain field today; checkpointing will store it as the source's operator
//! state and resume with [`NexmarkGenerator::with_position`].

use strom_runtime::operators::{Collector, OperatorContext, Source, SourceStatus};
use strom_runtime::{Error, Result};

use super::{Event, GeneratorConfig, NexmarkGenerator};

/// Records a subtask emits per poll, at most.
const BATCH_EVENTS: usize = 1024;

/// A parallel source of Nexmark [`Event`]s (Flink Nexmark's `nexmark` table connector).
///
/// ```
/// use strom_connectors::nexmark::{Event, GeneratorConfig, NexmarkSource};
/// use strom_runtime::prelude::*;
///
/// let env = StreamEnv::new();
/// env.set_parallelism(2);
/// let config = GeneratorConfig { max_events: Some(1000), ..GeneratorConfig::default() };
/// let out = CollectSink::new();
/// env.add_source("Nexmark", NexmarkSource::new(config))
///     .map(|event: Event| event.timestamp())
///     .sink(out.clone());
/// env.execute("nexmark")?;
/// assert_eq!(out.values().len(), 1000);
/// # Ok::<(), strom_runtime::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct NexmarkSource {
    config: GeneratorConfig,
    /// This subtask's generator, created in `open` from the subtask index and `position`.
    generator: Option<NexmarkGenerator>,
    /// Events of this subtask's share emitted so far: the state to checkpoint.
    position: u64,
}

impl NexmarkSource {
    /// A source of the events `config` describes; bounded when `config.max_events` is set.
    pub fn new(config: GeneratorConfig) -> Self {
        Self { config, generator: None, position: 0 }
    }

    /// The generator configuration.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Number of events of this subtask's share emitted so far (0 before `open`).
    pub fn position(&self) -> u64 {
        self.position
    }
}

impl Source for NexmarkSource {
    type Out = Event;

    /// Validates the configuration and starts this subtask's share of the stream at the
    /// current position.
    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.config.validate().map_err(|e| Error::config(&format!("nexmark.{}", e.field), e.problem))?;
        self.open_split(ctx.info().subtask as usize, ctx.info().parallelism as usize);
        Ok(())
    }

    fn poll_next(&mut self, out: &mut Collector<Event>, _: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        self.emit_batch(out)
    }
}

impl NexmarkSource {
    /// Starts the share of `subtask` of `parallelism` at the current position.
    fn open_split(&mut self, subtask: usize, parallelism: usize) {
        self.generator = Some(NexmarkGenerator::with_position(self.config.clone(), subtask, parallelism, self.position));
    }

    /// Emits the next batch of up to [`BATCH_EVENTS`] events.
    fn emit_batch(&mut self, out: &mut Collector<Event>) -> Result<SourceStatus> {
        let generator = self.generator.as_mut().ok_or_else(|| Error::Internal("NexmarkSource polled before open".into()))?;
        let mut status = SourceStatus::MoreAvailable;
        for _ in 0..BATCH_EVENTS {
            match generator.next_event() {
                Some(event) => out.collect_at(event.timestamp(), event),
                None => {
                    status = SourceStatus::Finished;
                    break;
                }
            }
        }
        // `Iterator::position` would shadow the inherent method on a `&mut` receiver.
        self.position = NexmarkGenerator::position(generator);
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use strom_runtime::prelude::*;

    use super::*;

    fn bounded(max_events: u64) -> GeneratorConfig {
        GeneratorConfig { max_events: Some(max_events), ..GeneratorConfig::default() }
    }

    fn run(config: GeneratorConfig, parallelism: u32) -> Vec<Record<Event>> {
        let env = StreamEnv::new();
        env.set_parallelism(parallelism);
        let out = CollectSink::new();
        env.add_source("Nexmark", NexmarkSource::new(config)).sink(out.clone());
        env.execute("nexmark source").expect("job runs");
        out.records()
    }

    /// The events as a sorted multiset (`Event` has no order; its debug form is total).
    fn multiset(events: impl IntoIterator<Item = Event>) -> Vec<String> {
        let mut keys: Vec<String> = events.into_iter().map(|e| format!("{e:?}")).collect();
        keys.sort();
        keys
    }

    #[test]
    fn emits_exactly_the_generated_stream_at_any_parallelism() {
        let config = bounded(5_000);
        let expected: Vec<Event> = NexmarkGenerator::new(config.clone()).collect();
        for parallelism in [1, 2, 3] {
            let records = run(config.clone(), parallelism);
            assert_eq!(records.len(), 5_000, "parallelism {parallelism}");
            assert!(records.iter().all(|r| r.ts == r.value.timestamp()));
            let got = multiset(records.into_iter().map(|r| r.value));
            assert!(got == multiset(expected.clone()), "parallelism {parallelism}: the events differ");
        }
    }

    #[test]
    fn polls_in_batches_and_tracks_the_position() {
        // Subtask 1 of 2 owns 2_500 of the 5_000 events.
        let mut source = NexmarkSource::new(bounded(5_000));
        source.open_split(1, 2);
        let mut out = Collector::new();
        let mut sizes = Vec::new();
        let mut events = Vec::new();
        loop {
            let status = source.emit_batch(&mut out).expect("opened");
            let batch = out.drain_values();
            sizes.push(batch.len());
            events.extend(batch);
            if status == SourceStatus::Finished {
                break;
            }
        }
        assert_eq!(sizes, [1024, 1024, 452]);
        assert_eq!(source.position(), 2_500);
        assert_eq!(events, NexmarkGenerator::split(bounded(5_000), 1, 2).collect::<Vec<_>>());
    }

    #[test]
    fn resumes_from_its_position() {
        let mut first = NexmarkSource::new(bounded(3_000));
        first.open_split(0, 1);
        let mut out = Collector::new();
        first.emit_batch(&mut out).expect("opened");
        let head = out.drain_values();
        // A copy of the source (as a restored checkpoint would build it) continues the stream.
        let mut resumed = NexmarkSource { generator: None, ..first.clone() };
        resumed.open_split(0, 1);
        while resumed.emit_batch(&mut out).expect("opened") != SourceStatus::Finished {}
        let tail = out.drain_values();
        assert_eq!([head, tail].concat(), NexmarkGenerator::new(bounded(3_000)).collect::<Vec<_>>());
    }

    #[test]
    fn an_invalid_config_fails_the_job_naming_the_field() {
        let config = GeneratorConfig { hot_bidders_ratio: 0, ..bounded(10) };
        let env = StreamEnv::new();
        env.add_source("Nexmark", NexmarkSource::new(config)).sink(CollectSink::new());
        let err = env.execute("invalid").expect_err("the config is invalid");
        assert!(err.to_string().contains("hot_bidders_ratio"), "{err}");
    }
}
