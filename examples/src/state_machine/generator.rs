//! The event generator (Flink's `EventsGenerator`) and the parallel source around it
//! (Flink's `EventsGeneratorSource` / `EventsGeneratorFunction`).
//!
//! The generator keeps up to about a thousand running state machines and emits, per call,
//! either the first transition of a new machine or the next transition of a running one;
//! with probability `error_prob` the latter is replaced by an event the machine does not
//! accept. Each source subtask runs its own generator over its own slice of the address
//! space, so an address's events always come from one generator, in a valid order.
//!
//! Where this deviates from Flink: the random generator is seeded (`--seed`) instead of
//! `new Random()`, so runs are reproducible; subtask `i` uses `seed + i·φ·2⁶⁴` (so
//! subtask 0 of any run, and a run at parallelism 1, replays Java's `new Random(seed)`
//! exactly); the source can stop after a number of events; pacing is a pause per record
//! measured on the task's clock instead of `Thread.sleep`.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use strom::prelude::*;

use super::dfa::State;
use super::event::Event;
use strom::connectors::JavaRandom;

/// The generator picks a running machine among the first this many (plus one) in insertion
/// order, so machines make progress roughly in the order they started.
const MAX_SKIP: i32 = 20;

/// Generates events of many concurrent state machines (Flink's `EventsGenerator`).
///
/// ```
/// use strom_examples::state_machine::{EventsGenerator, State};
/// let mut generator = EventsGenerator::new(42, 0.0);
/// let first = generator.next(0, 1000);
/// // The first event starts a new machine: `a` or `c` from the initial state.
/// assert_ne!(State::Initial.transition(first.event_type), State::InvalidTransition);
/// assert_eq!(generator.num_active_entries(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct EventsGenerator {
    rnd: JavaRandom,
    /// The running machines in insertion order (Java's `LinkedHashMap<Integer, State>`).
    states: VecDeque<(i32, State)>,
    /// The addresses in `states`, for `containsKey`.
    addresses: HashSet<i32>,
    error_prob: f64,
}

impl EventsGenerator {
    /// A generator drawing from `new Random(seed)` that injects an invalid transition with
    /// probability `error_prob`.
    ///
    /// # Panics
    /// If `error_prob` is not within `[0, 1]` (Flink's `checkArgument`).
    pub fn new(seed: i64, error_prob: f64) -> Self {
        assert!((0.0..=1.0).contains(&error_prob), "invalid error probability {error_prob}");
        Self { rnd: JavaRandom::new(seed), states: VecDeque::new(), addresses: HashSet::new(), error_prob }
    }

    /// The next event: a new machine with an address in `[min_ip, max_ip)`, or the next
    /// transition of a running one.
    pub fn next(&mut self, min_ip: i32, max_ip: i32) -> Event {
        self.next_event(min_ip, max_ip).0
    }

    /// The number of running state machines.
    pub fn num_active_entries(&self) -> usize {
        self.states.len()
    }

    /// The next event, and whether it is an injected invalid transition.
    pub(crate) fn next_event(&mut self, min_ip: i32, max_ip: i32) -> (Event, bool) {
        loop {
            let p = self.rnd.next_double();
            if p * 1000.0 >= self.states.len() as f64 {
                // Start a new machine, unless the address is taken: then draw again (Flink recurses).
                let address = self.rnd.next_int_bounded(max_ip - min_ip) + min_ip;
                if self.addresses.contains(&address) {
                    continue;
                }
                let (event_type, state) = State::Initial.random_transition(&mut self.rnd).expect("the initial state has transitions");
                self.insert(address, state);
                return (Event { source_address: address, event_type }, false);
            }
            return self.advance_running(p);
        }
    }

    /// Takes a running machine (skipping up to 20 from the oldest) and emits its next
    /// transition, or an invalid one if `p < error_prob`; the machine is re-inserted at the
    /// end unless it terminated or got the invalid event.
    fn advance_running(&mut self, p: f64) -> (Event, bool) {
        let skip = MAX_SKIP.min(self.rnd.next_int_bounded(self.states.len() as i32)) as usize;
        let (address, state) = self.states.remove(skip).expect("skip is below the number of running machines");
        self.addresses.remove(&address);
        if p < self.error_prob {
            let event_type = state.random_invalid_transition(&mut self.rnd);
            return (Event { source_address: address, event_type }, true);
        }
        let (event_type, next) = state.random_transition(&mut self.rnd).expect("running machines are never in a terminal state");
        if !next.is_terminal() {
            self.insert(address, next);
        }
        (Event { source_address: address, event_type }, false)
    }

    fn insert(&mut self, address: i32, state: State) {
        self.states.push_back((address, state));
        self.addresses.insert(address);
    }
}

/// Events per poll when the source is not paced.
const BATCH: u64 = 1024;

/// A parallel source of generated events (Flink's `EventsGeneratorSource`): subtask `i` of
/// `n` owns the addresses `[i·r, (i+1)·r)` with `r = i32::MAX / n`.
///
/// ```
/// use strom::prelude::*;
/// use strom_examples::state_machine::EventsGeneratorSource;
/// let env = StreamEnv::new();
/// let out = CollectSink::new();
/// let source = EventsGeneratorSource::new(7).with_error_rate(0.1).unwrap().with_max_events(100);
/// env.add_source("events", source).parallelism(2).sink(out.clone());
/// env.execute("generate").unwrap();
/// assert_eq!(out.values().len(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct EventsGeneratorSource {
    seed: i64,
    error_rate: f64,
    max_events: Option<u64>,
    pause: Duration,
    /// Set in `open`, per subtask.
    running: Option<RunningGenerator>,
}

#[derive(Debug, Clone)]
struct RunningGenerator {
    generator: EventsGenerator,
    min_ip: i32,
    max_ip: i32,
    /// Events this subtask still emits; `None`: unbounded.
    remaining: Option<u64>,
    /// When a paced source emits its next event (processing time).
    next_due: Timestamp,
}

impl EventsGeneratorSource {
    /// An unbounded, unpaced source without invalid transitions, seeded with `seed`.
    pub fn new(seed: i64) -> Self {
        Self { seed, error_rate: 0.0, max_events: None, pause: Duration::ZERO, running: None }
    }

    /// Injects an invalid transition with probability `error_rate` (Flink's `--error-rate`).
    pub fn with_error_rate(mut self, error_rate: f64) -> Result<Self> {
        if !(0.0..=1.0).contains(&error_rate) {
            return Err(Error::Usage(format!("the error rate must be within [0, 1], got {error_rate}")));
        }
        self.error_rate = error_rate;
        Ok(self)
    }

    /// Ends after `events` events in total, split evenly over the subtasks.
    pub fn with_max_events(mut self, events: u64) -> Self {
        self.max_events = Some(events);
        self
    }

    /// Pauses `pause` after each event, in each subtask (Flink's `--sleep`).
    pub fn with_pause_per_event(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    /// The seed of subtask `subtask`'s generator; subtask 0 uses the seed itself.
    pub fn subtask_seed(seed: i64, subtask: u32) -> i64 {
        const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        seed.wrapping_add(GOLDEN_GAMMA.wrapping_mul(u64::from(subtask)) as i64)
    }

    /// The addresses `[min, max)` subtask `subtask` of `parallelism` owns (Flink's split).
    pub fn address_range(subtask: u32, parallelism: u32) -> (i32, i32) {
        let range = i32::MAX / parallelism as i32;
        let min = range * subtask as i32;
        (min, min + range)
    }

    /// How many of `total` events subtask `subtask` of `parallelism` emits.
    pub fn subtask_events(total: u64, subtask: u32, parallelism: u32) -> u64 {
        let (p, i) = (u64::from(parallelism), u64::from(subtask));
        total / p + u64::from(i < total % p)
    }

    fn emit(&mut self, out: &mut Collector<Event>, count: u64) -> bool {
        let running = self.running.as_mut().expect("the source is opened before it is polled");
        for _ in 0..count {
            if running.remaining == Some(0) {
                return false;
            }
            out.collect(running.generator.next(running.min_ip, running.max_ip));
            running.remaining = running.remaining.map(|n| n - 1);
        }
        running.remaining != Some(0)
    }
}

impl Source for EventsGeneratorSource {
    type Out = Event;

    fn open(&mut self, ctx: &mut OperatorContext<'_>) -> Result<()> {
        let (subtask, parallelism) = (ctx.info().subtask, ctx.info().parallelism);
        let (min_ip, max_ip) = Self::address_range(subtask, parallelism);
        self.running = Some(RunningGenerator {
            generator: EventsGenerator::new(Self::subtask_seed(self.seed, subtask), self.error_rate),
            min_ip,
            max_ip,
            remaining: self.max_events.map(|n| Self::subtask_events(n, subtask, parallelism)),
            next_due: ctx.processing_time(),
        });
        Ok(())
    }

    fn poll_next(&mut self, out: &mut Collector<Event>, ctx: &mut OperatorContext<'_>) -> Result<SourceStatus> {
        if self.pause.is_zero() {
            let more = self.emit(out, BATCH);
            return Ok(if more { SourceStatus::MoreAvailable } else { SourceStatus::Finished });
        }
        let now = ctx.processing_time();
        let running = self.running.as_mut().expect("the source is opened before it is polled");
        if now < running.next_due {
            return Ok(SourceStatus::Wait(Duration::from_millis((running.next_due - now) as u64)));
        }
        running.next_due = now + self.pause.as_millis() as i64;
        let more = self.emit(out, 1);
        Ok(if more { SourceStatus::Wait(self.pause) } else { SourceStatus::Finished })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// Replays `events` against the generator's own view of the running machines: an
    /// address is valid from the initial state or its last state; an injected event ends
    /// the machine (the generator forgets it). Returns which events were invalid.
    fn invalid_by_replay(events: &[(Event, bool)]) -> Vec<bool> {
        let mut machines: HashMap<i32, State> = HashMap::new();
        events
            .iter()
            .map(|&(e, injected)| {
                let state = machines.remove(&e.source_address).unwrap_or(State::Initial);
                let next = state.transition(e.event_type);
                if !injected && next != State::InvalidTransition && !next.is_terminal() {
                    machines.insert(e.source_address, next);
                }
                next == State::InvalidTransition
            })
            .collect()
    }

    #[test]
    fn only_injected_events_are_invalid() {
        for error_prob in [0.0, 0.05, 1.0] {
            let mut generator = EventsGenerator::new(3, error_prob);
            let events: Vec<(Event, bool)> = (0..50_000).map(|_| generator.next_event(0, 100_000)).collect();
            let injected: Vec<bool> = events.iter().map(|e| e.1).collect();
            assert_eq!(invalid_by_replay(&events), injected, "error probability {error_prob}");
            let count = injected.iter().filter(|i| **i).count();
            match error_prob {
                0.0 => assert_eq!(count, 0),
                // Injection needs p < 0.05 and p·1000 < running machines (≈ 1000 in steady state).
                0.05 => assert!((1_500..3_500).contains(&count), "{count} injected"),
                _ => assert!(count > 0),
            }
        }
    }

    #[test]
    fn addresses_stay_in_range() {
        let mut generator = EventsGenerator::new(5, 0.1);
        for _ in 0..20_000 {
            let e = generator.next(1_000, 3_000);
            assert!((1_000..3_000).contains(&e.source_address), "{e}");
        }
    }

    /// A new machine starts only while `p·1000 ≥ running machines`, so there are never more
    /// than 1000; in a large address space the count settles where starts balance
    /// terminations (about three quarters of the cap).
    #[test]
    fn at_most_a_thousand_machines_run() {
        let mut generator = EventsGenerator::new(5, 0.0);
        let mut most = 0;
        for _ in 0..50_000 {
            generator.next(0, i32::MAX);
            most = most.max(generator.num_active_entries());
        }
        assert!((600..=1_000).contains(&most), "{most}");
        assert!((600..=1_000).contains(&generator.num_active_entries()), "{}", generator.num_active_entries());
    }

    /// Events 0..4 and 20 000..20 012 of Flink's `EventsGenerator` with `new Random(42)`,
    /// error probability 0.1, over all positive addresses and over `[1000, 3000)` (where
    /// addresses collide), printed by the Java original on OpenJDK 17: the port must
    /// reproduce them exactly.
    #[test]
    fn reproduces_the_java_generator() {
        let slices = |min, max| {
            let mut generator = EventsGenerator::new(42, 0.1);
            let events: Vec<String> = (0..20_012).map(|_| generator.next(min, max).to_string()).collect();
            [&events[..4], &events[20_000..]].concat()
        };
        assert_eq!(slices(0, i32::MAX), JAVA_ALL_ADDRESSES);
        assert_eq!(slices(1_000, 3_000)[4..], JAVA_1000_TO_3000);
    }

    const JAVA_ALL_ADDRESSES: [&str; 16] = [
        "Event 87.115.221.240 : a",
        "Event 35.119.78.193 : c",
        "Event 115.161.179.222 : a",
        "Event 35.75.182.124 : c",
        "Event 33.207.244.239 : g",
        "Event 69.51.4.110 : d",
        "Event 81.189.35.2 : b",
        "Event 43.104.192.208 : b",
        "Event 23.216.132.222 : e",
        "Event 24.212.216.25 : a",
        "Event 76.99.250.214 : e",
        "Event 46.82.122.38 : a",
        "Event 53.64.239.7 : b",
        "Event 7.240.16.201 : c",
        "Event 15.28.142.223 : b",
        "Event 75.130.16.41 : a",
    ];

    const JAVA_1000_TO_3000: [&str; 12] = [
        "Event 0.0.4.116 : b",
        "Event 0.0.5.212 : c",
        "Event 0.0.8.185 : a",
        "Event 0.0.5.196 : g",
        "Event 0.0.6.125 : c",
        "Event 0.0.5.28 : d",
        "Event 0.0.10.35 : b",
        "Event 0.0.5.219 : b",
        "Event 0.0.8.40 : a",
        "Event 0.0.8.166 : g",
        "Event 0.0.7.192 : g",
        "Event 0.0.7.126 : g",
    ];

    #[test]
    fn is_deterministic_per_seed() {
        let run = |seed| {
            let mut generator = EventsGenerator::new(seed, 0.1);
            (0..2_000).map(|_| generator.next(0, i32::MAX)).collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn subtasks_split_addresses_and_events_without_overlap() {
        for parallelism in 1..=7 {
            let ranges: Vec<(i32, i32)> = (0..parallelism).map(|i| EventsGeneratorSource::address_range(i, parallelism)).collect();
            assert_eq!(ranges[0].0, 0);
            assert!(ranges.windows(2).all(|w| w[0].1 == w[1].0), "{ranges:?}");
            assert!(ranges.last().is_some_and(|r| r.1 > i32::MAX - parallelism as i32), "{ranges:?}");
            let shares: Vec<u64> = (0..parallelism).map(|i| EventsGeneratorSource::subtask_events(1_000, i, parallelism)).collect();
            assert_eq!(shares.iter().sum::<u64>(), 1_000);
            assert!(shares.iter().max().unwrap() - shares.iter().min().unwrap() <= 1);
        }
    }

    /// What subtask `subtask` of `parallelism` emits for `total` events, computed with the
    /// generator directly.
    fn expected_subtask_events(seed: i64, error_rate: f64, total: u64, subtask: u32, parallelism: u32) -> Vec<Event> {
        let mut generator = EventsGenerator::new(EventsGeneratorSource::subtask_seed(seed, subtask), error_rate);
        let (min, max) = EventsGeneratorSource::address_range(subtask, parallelism);
        (0..EventsGeneratorSource::subtask_events(total, subtask, parallelism)).map(|_| generator.next(min, max)).collect()
    }

    #[test]
    fn source_subtasks_emit_their_own_generators_events() {
        for parallelism in [1, 3] {
            let env = StreamEnv::new();
            let out = CollectSink::new();
            let source = EventsGeneratorSource::new(9).with_error_rate(0.2).unwrap().with_max_events(5_000);
            env.add_source("events", source).parallelism(parallelism).sink(out.clone());
            env.execute("events").unwrap();
            let mut actual = out.values();
            let mut expected: Vec<Event> = (0..parallelism).flat_map(|i| expected_subtask_events(9, 0.2, 5_000, i, parallelism)).collect();
            // Each address belongs to one subtask, so a stable sort by address keeps every
            // address's events in the order its generator emitted them.
            actual.sort_by_key(|e| e.source_address);
            expected.sort_by_key(|e| e.source_address);
            assert_eq!(actual.len(), 5_000);
            assert_eq!(actual, expected, "parallelism {parallelism}");
        }
    }

    #[test]
    fn paced_source_waits_between_events() {
        let env = StreamEnv::new();
        let out = CollectSink::new();
        let source = EventsGeneratorSource::new(1).with_max_events(5).with_pause_per_event(Duration::from_millis(20));
        env.add_source("events", source).parallelism(1).sink(out.clone());
        let started = std::time::Instant::now();
        env.execute("paced").unwrap();
        // Four pauses of 20 ms separate five events.
        assert!(started.elapsed() >= Duration::from_millis(80), "{:?}", started.elapsed());
        assert_eq!(out.values(), expected_subtask_events(1, 0.0, 5, 0, 1));
    }

    #[test]
    fn rejects_error_rates_outside_zero_to_one() {
        assert!(EventsGeneratorSource::new(1).with_error_rate(1.5).is_err());
        assert!(EventsGeneratorSource::new(1).with_error_rate(-0.1).is_err());
    }
}
