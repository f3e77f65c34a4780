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
//! one number: the next global event number of its share. Checkpoints keep it as union
//! state, a lane per share (see `crate::lanes`), and a restored subtask resumes each of its
//! lanes with [`NexmarkGenerator::with_position`]: lane `{next, stride}` is the share of
//! subtask `next % stride` of `stride`, resumed at position `next / stride`. Restored at
//! another parallelism, a subtask may run several lanes, merged by event number, so the union
//! over all subtasks is still exactly the unsplit stream, without repetitions or gaps.

use strom_runtime::checkpoint::{CheckpointId, OperatorRestore, OperatorSnapshot};
use strom_runtime::operators::{Collector, OperatorContext, Source, SourceStatus};
use strom_runtime::{Error, Result};

use super::{Event, GeneratorConfig, NexmarkGenerator};
use crate::lanes::{self, Lane};

/// Records a subtask emits per poll, at most.
const BATCH_EVENTS: usize = 1024;
/// What the source's state is called in errors.
const STATE_NAME: &str = "Nexmark source's positions";

/// A parallel source of Nexmark [`Event`]s (Flink Nexmark's `nexmark` table connector).
///
/// With checkpoints, a restored job continues exactly after the last event each subtask
/// emitted before the checkpoint's barrier, at any parallelism.
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
    /// This subtask's generators, one per lane, created in `open` (`None` before).
    generators: Option<Vec<LaneGenerator>>,
    /// Every subtask's lanes from a restored checkpoint; `open` takes this subtask's share.
    restored: Option<Vec<Lane>>,
    /// Events this subtask emitted since it opened.
    emitted: u64,
}

impl NexmarkSource {
    /// A source of the events `config` describes; bounded when `config.max_events` is set.
    pub fn new(config: GeneratorConfig) -> Self {
        Self { config, generators: None, restored: None, emitted: 0 }
    }

    /// The generator configuration.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Number of events this subtask emitted since it opened (0 before `open`); without a
    /// restore, the position in its share of the stream.
    pub fn position(&self) -> u64 {
        self.emitted
    }
}

impl Source for NexmarkSource {
    type Out = Event;

    /// Validates the configuration and starts this subtask's share of the stream, or its
    /// share of the restored positions.
    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        self.config.validate().map_err(|e| Error::config(&format!("nexmark.{}", e.field), e.problem))?;
        let (subtask, parallelism) = (ctx.info().subtask, ctx.info().parallelism.max(1));
        let lanes = match self.restored.take() {
            Some(restored) => lanes::assign(restored, subtask, parallelism)?,
            None => vec![Lane::fresh(subtask, parallelism)],
        };
        self.open_lanes(lanes)
    }

    fn poll_next(&mut self, out: &mut Collector<Event>, _: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        self.emit_batch(out)
    }

    /// The next event number of each of this subtask's unfinished lanes, as one union entry.
    fn snapshot_state(&mut self, _: CheckpointId) -> Result<OperatorSnapshot> {
        let generators = self.generators.as_ref().ok_or_else(|| Error::Internal("NexmarkSource snapshot before open".into()))?;
        let max_events = self.config.max_events;
        let unfinished = generators.iter().map(LaneGenerator::lane).filter(|lane| max_events.is_none_or(|max| lane.next < max));
        lanes::snapshot(unfinished, STATE_NAME)
    }

    /// Keeps every subtask's positions; `open` takes this subtask's share.
    fn restore_state(&mut self, state: OperatorRestore) -> Result<()> {
        self.restored = lanes::restore(&state, STATE_NAME)?;
        Ok(())
    }
}

impl NexmarkSource {
    /// Starts a generator for each lane.
    fn open_lanes(&mut self, lanes: Vec<Lane>) -> Result<()> {
        let generators = lanes.into_iter().map(|lane| LaneGenerator::new(&self.config, lane)).collect::<Result<_>>()?;
        self.generators = Some(generators);
        Ok(())
    }

    /// Emits the next batch of up to [`BATCH_EVENTS`] events, merging the lanes by event
    /// number.
    fn emit_batch(&mut self, out: &mut Collector<Event>) -> Result<SourceStatus> {
        let generators = self.generators.as_mut().ok_or_else(|| Error::Internal("NexmarkSource polled before open".into()))?;
        for _ in 0..BATCH_EVENTS {
            let Some(i) = (0..generators.len()).min_by_key(|&i| generators[i].lane().next) else { break };
            match generators[i].generator.next_event() {
                Some(event) => {
                    out.collect_at(event.timestamp(), event);
                    self.emitted += 1;
                }
                None => {
                    generators.swap_remove(i);
                }
            }
        }
        Ok(if generators.is_empty() { SourceStatus::Finished } else { SourceStatus::MoreAvailable })
    }
}

/// The generator of one lane: the share of subtask `residue` of `stride`.
#[derive(Debug, Clone)]
struct LaneGenerator {
    residue: u64,
    stride: u64,
    generator: NexmarkGenerator,
}

impl LaneGenerator {
    fn new(config: &GeneratorConfig, lane: Lane) -> Result<Self> {
        let too_wide =
            || Error::Usage(format!("cannot resume the {STATE_NAME}: a sequence's stride {} exceeds this platform's range", lane.stride));
        let stride = usize::try_from(lane.stride).map_err(|_| too_wide())?;
        let residue = usize::try_from(lane.residue()).map_err(|_| too_wide())?;
        let generator = NexmarkGenerator::with_position(config.clone(), residue, stride, lane.position());
        Ok(Self { residue: lane.residue(), stride: lane.stride, generator })
    }

    /// The lane at the generator's position.
    fn lane(&self) -> Lane {
        // `Iterator::position` would shadow the inherent method on the generator.
        let position = NexmarkGenerator::position(&self.generator);
        Lane { next: self.residue.saturating_add(position.saturating_mul(self.stride)), stride: self.stride }
    }
}

#[cfg(test)]
mod tests {
    use strom_runtime::prelude::*;

    use super::*;
    use crate::lanes;

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
        source.open_lanes(vec![Lane::fresh(1, 2)]).expect("opens");
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

    /// Runs `sources` (subtasks of one parallelism) to the end; returns their events.
    fn drain(sources: &mut [NexmarkSource]) -> Vec<Event> {
        let mut out = Collector::new();
        for source in sources {
            while source.emit_batch(&mut out).expect("opened") != SourceStatus::Finished {}
        }
        out.drain_values()
    }

    /// Opens subtasks `0..parallelism`, restored from `snapshots` if there are any.
    fn open_all(config: &GeneratorConfig, parallelism: u32, snapshots: &[OperatorSnapshot]) -> Vec<NexmarkSource> {
        let union: Vec<Vec<u8>> = snapshots.iter().flat_map(|s| s.union.clone()).collect();
        (0..parallelism)
            .map(|subtask| {
                let mut source = NexmarkSource::new(config.clone());
                if !snapshots.is_empty() {
                    source.restore_state(OperatorRestore { union: union.clone(), ..OperatorRestore::default() }).expect("restores");
                }
                let lanes = match source.restored.take() {
                    Some(restored) => lanes::assign(restored, subtask, parallelism).expect("assignable"),
                    None => vec![Lane::fresh(subtask, parallelism)],
                };
                source.open_lanes(lanes).expect("opens");
                source
            })
            .collect()
    }

    #[test]
    fn resumes_exactly_at_any_parallelism() {
        let config = bounded(7_000);
        let expected = multiset(NexmarkGenerator::new(config.clone()));
        for (before, after) in [(1, 1), (2, 2), (2, 1), (1, 3), (3, 2), (2, 5)] {
            // Each subtask emits a different number of batches before the barrier.
            let mut sources = open_all(&config, before, &[]);
            let mut out = Collector::new();
            for (polls, source) in sources.iter_mut().enumerate() {
                for _ in 0..polls + 1 {
                    source.emit_batch(&mut out).expect("opened");
                }
            }
            let head = out.drain_values();
            let snapshots: Vec<OperatorSnapshot> =
                sources.iter_mut().map(|s| s.snapshot_state(CheckpointId(1)).expect("snapshot")).collect();
            // Events after the barrier are lost with the failed run.
            drain(&mut sources);
            let tail = drain(&mut open_all(&config, after, &snapshots));
            assert!(!head.is_empty() && !tail.is_empty());
            let got = multiset(head.into_iter().chain(tail));
            assert!(got == expected, "{before} -> {after}: {} events instead of {}", got.len(), expected.len());
        }
    }

    #[test]
    fn a_restored_subtask_merges_its_lanes_by_event_number() {
        let config = bounded(100);
        let snapshots: Vec<OperatorSnapshot> =
            open_all(&config, 2, &[]).iter_mut().map(|s| s.snapshot_state(CheckpointId(1)).expect("snapshot")).collect();
        let events = drain(&mut open_all(&config, 1, &snapshots));
        assert_eq!(events, NexmarkGenerator::new(config).collect::<Vec<_>>());
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
