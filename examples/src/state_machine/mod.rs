//! The state machine example: a port of Flink's `StateMachineExample`
//! (`flink-examples-streaming`, package `org.apache.flink.streaming.examples.statemachine`).
//!
//! A generator emits events `(address, type)` of many concurrent state machines, one per
//! address ([`generator`]); the job keys them by address and runs each address's events
//! through the state machine of [`dfa`], holding the address's current [`State`] in keyed
//! state. An event the current state does not accept raises an [`Alert`]; reaching the
//! terminal state clears the address's state.
//!
//! Where this port deviates from Flink's example:
//! - The generator is seeded (`--seed`, default [`DEFAULT_SEED`]) so that runs are
//!   reproducible; it draws from a port of `java.util.Random`, so at parallelism 1 it emits
//!   exactly what Flink's `EventsGenerator` emits with `new Random(seed)`.
//! - `--events N` ends the input after N events (Flink's generator never ends).
//! - `--sleep-ms` paces each source subtask; by default the source is not paced (Flink
//!   sleeps 1 ms per record by default, or limits to `--rps`).
//! - Only the generator source; no Kafka input, and no `--backend`/`--checkpoint-dir`
//!   options (the runtime configures state and checkpoints through `-D` keys).
//! - The function is a [`KeyedProcessFunction`] instead of a keyed `RichFlatMapFunction`;
//!   the logic is the same.
//!
//! As in Flink, `--error-rate` defaults to 0, and a run without injected errors prints no
//! alerts.

mod dfa;
mod event;
mod generator;

use std::path::PathBuf;
use std::time::Duration;

use strom::prelude::*;
use strom::JobArgs;

pub use dfa::{EventType, State, Transition};
pub use event::{format_address, Alert, Event};
pub use generator::{EventsGenerator, EventsGeneratorSource};

/// The generator's seed when `--seed` is not given.
pub const DEFAULT_SEED: i64 = 42;

/// The job's name, as in Flink.
pub const JOB_NAME: &str = "State machine job";

/// The job's arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct StateMachineOptions {
    /// `--seed`: the generator's seed.
    pub seed: i64,
    /// `--events`: stop after this many events in total; `None`: unbounded.
    pub events: Option<u64>,
    /// `--error-rate`: the probability of an injected invalid transition (Flink's option).
    pub error_rate: f64,
    /// `--sleep-ms`: pause after each event, per source subtask.
    pub sleep: Duration,
    /// `--output`: a directory for the file sink; `None`: print to stdout.
    pub output: Option<PathBuf>,
}

impl StateMachineOptions {
    /// The arguments, for the usage line.
    pub const USAGE: &'static str = "[--seed N] [--events N] [--error-rate P] [--sleep-ms MS] [--output DIR]";

    /// Reads the options from the job's arguments.
    ///
    /// ```
    /// use strom::JobArgs;
    /// use strom_examples::state_machine::StateMachineOptions;
    /// let args = JobArgs::parse(["--events", "100", "--error-rate", "0.1"]).unwrap();
    /// let options = StateMachineOptions::from_args(&args).unwrap();
    /// assert_eq!((options.events, options.error_rate, options.seed), (Some(100), 0.1, 42));
    /// ```
    pub fn from_args(args: &JobArgs) -> Result<Self> {
        Ok(Self {
            seed: args.get_or("seed", DEFAULT_SEED)?,
            events: args.get("events")?,
            error_rate: args.get_or("error-rate", 0.0)?,
            sleep: Duration::from_millis(args.get_or("sleep-ms", 0)?),
            output: args.get("output")?,
        })
    }

    /// The source these options describe.
    pub fn source(&self) -> Result<EventsGeneratorSource> {
        let source = EventsGeneratorSource::new(self.seed).with_error_rate(self.error_rate)?.with_pause_per_event(self.sleep);
        Ok(match self.events {
            Some(n) => source.with_max_events(n),
            None => source,
        })
    }
}

/// Keeps each address's state and raises an alert for an event its state does not accept
/// (Flink's `StateMachineMapper`).
#[derive(Debug, Clone)]
pub struct StateMachineFunction {
    state: ValueState<State>,
}

impl StateMachineFunction {
    /// The function, with its state called `state` as in Flink.
    pub fn new() -> Self {
        Self { state: ValueState::new("state") }
    }
}

impl Default for StateMachineFunction {
    fn default() -> Self {
        Self::new()
    }
}

impl KeyedProcessFunction<i32, Event, Alert> for StateMachineFunction {
    fn process_element(&mut self, event: Event, ctx: &mut KeyedContext<'_, i32>, out: &mut Collector<Alert>) -> FnResult {
        // An address without state has not started yet, or has terminated: it starts over.
        let state = self.state.get(ctx).unwrap_or(State::Initial);
        match state.transition(event.event_type) {
            // The state stays as it was, as in Flink.
            State::InvalidTransition => out.collect(Alert { address: event.source_address, state, transition: event.event_type }),
            next if next.is_terminal() => self.state.clear(ctx),
            next => self.state.update(ctx, next),
        }
        Ok(())
    }
}

/// Evaluates each address's state machine over `events` and emits the alerts.
pub fn alerts(events: &DataStream<Event>) -> DataStream<Alert> {
    events.key_by(|e: &Event| e.source_address).process(StateMachineFunction::new()).name("State machine").uid("state-machine")
}

/// Adds the generator source and the state machine to `env`; returns the alerts.
pub fn build(env: &StreamEnv, options: &StateMachineOptions) -> Result<DataStream<Alert>> {
    let events = env.add_source("Events Generator Source", options.source()?).uid("events-generator-source");
    Ok(alerts(&events))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The alerts of `events`, computed without the runtime: one state per address, in order.
    fn expected_alerts(events: &[Event]) -> Vec<Alert> {
        let mut states: HashMap<i32, State> = HashMap::new();
        let mut alerts = Vec::new();
        for e in events {
            let state = states.get(&e.source_address).copied().unwrap_or(State::Initial);
            match state.transition(e.event_type) {
                State::InvalidTransition => alerts.push(Alert { address: e.source_address, state, transition: e.event_type }),
                next if next.is_terminal() => drop(states.remove(&e.source_address)),
                next => drop(states.insert(e.source_address, next)),
            }
        }
        alerts
    }

    #[test]
    fn alerts_match_a_sequential_evaluation() {
        // A small address range, so that addresses are reused after they terminated or got an
        // invalid event (which leaves stale state behind, as in Flink).
        let mut generator = EventsGenerator::new(17, 0.05);
        let events: Vec<Event> = (0..30_000).map(|_| generator.next(0, 1_500)).collect();
        let mut expected = expected_alerts(&events);
        expected.sort();
        assert!(expected.len() > 500, "{} alerts", expected.len());
        for parallelism in [1, 2] {
            let env = StreamEnv::new();
            env.set_parallelism(parallelism);
            let out = CollectSink::new();
            alerts(&env.from_collection(events.clone())).sink(out.clone());
            env.execute("alerts").unwrap();
            assert_eq!(out.sorted(), expected, "parallelism {parallelism}");
        }
    }

    #[test]
    fn the_job_alerts_exactly_on_injected_events() {
        let options = StateMachineOptions { seed: 5, events: Some(20_000), error_rate: 0.1, sleep: Duration::ZERO, output: None };
        for parallelism in [1, 2] {
            let env = StreamEnv::new();
            env.set_parallelism(parallelism);
            let out = CollectSink::new();
            build(&env, &options).unwrap().sink(out.clone());
            env.execute(JOB_NAME).unwrap();
            let events: Vec<Event> = (0..parallelism)
                .flat_map(|i| {
                    let mut generator = EventsGenerator::new(EventsGeneratorSource::subtask_seed(5, i), 0.1);
                    let (min, max) = EventsGeneratorSource::address_range(i, parallelism);
                    (0..EventsGeneratorSource::subtask_events(20_000, i, parallelism))
                        .map(move |_| generator.next(min, max))
                        .collect::<Vec<_>>()
                })
                .collect();
            let mut expected = expected_alerts(&events);
            expected.sort();
            assert!(!expected.is_empty());
            assert_eq!(out.sorted(), expected, "parallelism {parallelism}");
        }
    }

    #[test]
    fn without_injected_errors_there_are_no_alerts() {
        let options = StateMachineOptions { seed: 1, events: Some(20_000), error_rate: 0.0, sleep: Duration::ZERO, output: None };
        let env = StreamEnv::new();
        env.set_parallelism(2);
        let out = CollectSink::new();
        build(&env, &options).unwrap().sink(out.clone());
        env.execute(JOB_NAME).unwrap();
        assert_eq!(out.values(), Vec::<Alert>::new());
    }
}
