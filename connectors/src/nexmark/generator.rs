//! The Nexmark event generator: configuration, event timeline and per-event synthesis.
//!
//! A port of Beam's `GeneratorConfig`, `Generator` and the `PersonGenerator`,
//! `AuctionGenerator`, `BidGenerator`, `PriceGenerator`, `LongGenerator` and
//! `StringsGenerator` helpers. Every event is a pure function of its global event number
//! and the configuration, which is what makes splitting and resuming trivial. See the
//! [module documentation](super) for the differences from Beam.

use std::fmt;
use std::iter::FusedIterator;

use serde::{Deserialize, Serialize};

use super::model::{Auction, Bid, Event, Person};
use crate::java_random::JavaRandom;

/// Out of every [`PROPORTION_DENOMINATOR`] events, this many are people.
pub const PERSON_PROPORTION: u64 = 1;
/// Out of every [`PROPORTION_DENOMINATOR`] events, this many are auctions.
pub const AUCTION_PROPORTION: u64 = 3;
/// Out of every [`PROPORTION_DENOMINATOR`] events, this many are bids.
pub const BID_PROPORTION: u64 = 46;
/// Size of one block of events: one person, then three auctions, then 46 bids.
pub const PROPORTION_DENOMINATOR: u64 = PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION;

/// Id of the first person; person ids are consecutive from here.
pub const FIRST_PERSON_ID: i64 = 1000;
/// Id of the first auction; auction ids are consecutive from here.
pub const FIRST_AUCTION_ID: i64 = 1000;
/// Id of the first auction category; there are five categories.
pub const FIRST_CATEGORY_ID: i64 = 10;
/// Default event time of the first event: 2015-07-15T00:00:00Z, as in Beam.
pub const DEFAULT_BASE_TIME_MS: i64 = 1_436_918_400_000;

// The proportions in the signed arithmetic Beam uses.
const PERSON_P: i64 = PERSON_PROPORTION as i64;
const AUCTION_P: i64 = AUCTION_PROPORTION as i64;
const TOTAL_P: i64 = PROPORTION_DENOMINATOR as i64;

/// Shape of the event-rate curve between `first_event_rate` and `next_event_rate`
/// (Beam's `NexmarkUtils.RateShape`). Irrelevant when both rates are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RateShape {
    /// Alternate between the two rates.
    Square,
    /// Follow a cosine from the first rate to the next and back, in ten steps.
    #[default]
    Sine,
}

/// Unit of `first_event_rate` and `next_event_rate` (Beam's `NexmarkUtils.RateUnit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum RateUnit {
    /// Events per second.
    #[default]
    PerSecond,
    /// Events per minute.
    PerMinute,
}

/// Parameters of the generated event stream (Beam's `NexmarkConfiguration` fields that
/// influence the generator, plus the seed, base time and event bound).
///
/// Values Beam would reject (zero rates or ratios, values above `i32::MAX`) are clamped
/// to the nearest valid value by the generator; call [`GeneratorConfig::validate`] to
/// reject them instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GeneratorConfig {
    /// Event time of event number 0, in milliseconds since the epoch.
    pub base_time_ms: i64,
    /// Xor-ed into each event's `java.util.Random` seed; 0 reproduces Beam's values.
    pub seed: u64,
    /// Total number of events over all subtasks; `None` generates forever.
    pub max_events: Option<u64>,
    /// Initial overall event rate, in `rate_unit`. This sets how fast event time
    /// advances (whole microseconds per event, so at most 1M events per second of event
    /// time), not how fast events are produced.
    pub first_event_rate: u32,
    /// Next overall event rate, in `rate_unit`; equal to `first_event_rate` for a constant rate.
    pub next_event_rate: u32,
    /// Unit of the two rates.
    pub rate_unit: RateUnit,
    /// How the rate moves between the two rates.
    pub rate_shape: RateShape,
    /// Period of the rate shape, in seconds.
    pub rate_period_sec: u32,
    /// Beam's `numEventGenerators`: the inter-event delay is multiplied by this. Beam
    /// defaults to 100 parallel timelines; all subtasks here share one interleaved
    /// timeline, so the default of 1 makes event time advance at the configured rate.
    pub num_event_generators: u32,
    /// Average size of a person event, in (idealised) bytes; drives `extra`'s length.
    pub avg_person_byte_size: u32,
    /// Average size of an auction event, in (idealised) bytes.
    pub avg_auction_byte_size: u32,
    /// Average size of a bid event, in (idealised) bytes.
    pub avg_bid_byte_size: u32,
    /// A bid is for a hot auction with probability `1 - 1/hot_auction_ratio`.
    pub hot_auction_ratio: u32,
    /// An auction is by a hot seller with probability `1 - 1/hot_sellers_ratio`.
    pub hot_sellers_ratio: u32,
    /// A bid is by a hot bidder with probability `1 - 1/hot_bidders_ratio`.
    pub hot_bidders_ratio: u32,
    /// Number of most recent people that sellers and bidders are drawn from.
    pub num_active_people: u32,
    /// Average number of auctions open at any time; sets auction lengths and the range
    /// of auctions that bids go to.
    pub num_in_flight_auctions: u32,
    /// Events are emitted in pseudo-random order within groups of this many event
    /// numbers; 1 means in order.
    pub out_of_order_group_size: u64,
}

impl Default for GeneratorConfig {
    fn default() -> Self {
        Self {
            base_time_ms: DEFAULT_BASE_TIME_MS,
            seed: 0,
            max_events: None,
            first_event_rate: 10_000,
            next_event_rate: 10_000,
            rate_unit: RateUnit::PerSecond,
            rate_shape: RateShape::Sine,
            rate_period_sec: 600,
            num_event_generators: 1,
            avg_person_byte_size: 200,
            avg_auction_byte_size: 500,
            avg_bid_byte_size: 100,
            hot_auction_ratio: 2,
            hot_sellers_ratio: 4,
            hot_bidders_ratio: 4,
            num_active_people: 1000,
            num_in_flight_auctions: 100,
            out_of_order_group_size: 1,
        }
    }
}

/// A [`GeneratorConfig`] value that Beam's generator would reject or fail on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Nexmark generator config: `{field}` {problem}")]
pub struct NexmarkConfigError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl GeneratorConfig {
    /// Checks that every value is one Beam's generator accepts.
    ///
    /// The generator never fails on an invalid config (it clamps), but a connector should
    /// report such configs to the user rather than silently changing them.
    ///
    /// # Errors
    ///
    /// The first field whose value Beam would reject (a zero rate, ratio or group size, a
    /// value above `i32::MAX`), or a varying rate whose steps are too short to hold an
    /// event.
    pub fn validate(&self) -> Result<(), NexmarkConfigError> {
        let positive_int = [
            ("first_event_rate", self.first_event_rate),
            ("next_event_rate", self.next_event_rate),
            ("num_event_generators", self.num_event_generators),
            ("hot_auction_ratio", self.hot_auction_ratio),
            ("hot_sellers_ratio", self.hot_sellers_ratio),
            ("hot_bidders_ratio", self.hot_bidders_ratio),
        ];
        for (field, value) in positive_int {
            if value == 0 {
                return Err(NexmarkConfigError { field, problem: "must be positive" });
            }
        }
        let int = [
            ("avg_person_byte_size", self.avg_person_byte_size),
            ("avg_auction_byte_size", self.avg_auction_byte_size),
            ("avg_bid_byte_size", self.avg_bid_byte_size),
            ("num_active_people", self.num_active_people),
            ("num_in_flight_auctions", self.num_in_flight_auctions),
            ("rate_period_sec", self.rate_period_sec),
        ];
        for (field, value) in positive_int.into_iter().chain(int) {
            if i32::try_from(value).is_err() {
                return Err(NexmarkConfigError { field, problem: "must fit in an i32" });
            }
        }
        if self.out_of_order_group_size == 0 || i64::try_from(self.out_of_order_group_size).is_err() {
            return Err(NexmarkConfigError { field: "out_of_order_group_size", problem: "must be in 1..=i64::MAX" });
        }
        if Timeline::new(self).events_per_epoch_is_degenerate() {
            return Err(NexmarkConfigError { field: "rate_period_sec", problem: "is too short for any event at the configured rates" });
        }
        Ok(())
    }
}

/// Clamps a config value into the positive `i32` range Beam's arithmetic expects.
fn positive_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX).max(1)
}

/// Clamps a config value into the non-negative `i32` range.
fn non_negative_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

impl RateUnit {
    /// Microseconds per unit.
    fn us_per_unit(self) -> i64 {
        match self {
            RateUnit::PerSecond => 1_000_000,
            RateUnit::PerMinute => 60_000_000,
        }
    }

    /// Beam's `rateToPeriodUs`: microseconds between events at `rate`, rounded.
    ///
    /// Deviation: clamped to at least 1µs. Beam yields 0 above 2M events/s (all events
    /// then share one timestamp, and a varying rate divides by zero).
    fn rate_to_period_us(self, rate: i64) -> i64 {
        let rate = rate.max(1);
        ((self.us_per_unit() + rate / 2) / rate).max(1)
    }
}

impl RateShape {
    /// Number of rate steps approximating a sine wave.
    const SINE_STEPS: i64 = 10;

    /// Beam's `interEventDelayUs(firstRate, nextRate, unit, numGenerators)`.
    fn inter_event_delays_us(self, first: i64, next: i64, unit: RateUnit, gens: i64) -> Vec<i64> {
        if first == next {
            return vec![unit.rate_to_period_us(first) * gens];
        }
        match self {
            RateShape::Square => vec![unit.rate_to_period_us(first) * gens, unit.rate_to_period_us(next) * gens],
            RateShape::Sine => {
                let mid = (first + next) as f64 / 2.0;
                let amp = (first - next) as f64 / 2.0;
                (0..Self::SINE_STEPS)
                    .map(|i| {
                        let r = (2.0 * std::f64::consts::PI * i as f64) / Self::SINE_STEPS as f64;
                        let rate = java_round(mid + amp * r.cos());
                        unit.rate_to_period_us(rate) * gens
                    })
                    .collect()
            }
        }
    }

    /// Beam's `stepLengthSec`: seconds per step so a full cycle takes `rate_period_sec`.
    fn step_length_sec(self, rate_period_sec: i32) -> i64 {
        let steps = match self {
            RateShape::Square => 2,
            RateShape::Sine => Self::SINE_STEPS,
        };
        (i64::from(rate_period_sec) + steps - 1) / steps
    }
}

/// Maps event numbers to event timestamps (the timing half of Beam's `GeneratorConfig`).
#[derive(Debug, Clone)]
struct Timeline {
    /// Timestamp of event number 0.
    base_time: i64,
    /// Successive inter-event delays, each used for one step, in microseconds.
    inter_event_delay_us: Vec<i64>,
    /// Length of one step of the rate shape, in seconds.
    step_length_sec: i64,
    /// Number of events in one full cycle through all delays (0 for a constant rate).
    events_per_epoch: i64,
    /// Duration of one full cycle through all delays, in milliseconds.
    epoch_period_ms: i64,
    /// Size of the groups within which events are shuffled.
    out_of_order_group_size: i64,
}

impl Timeline {
    fn new(config: &GeneratorConfig) -> Self {
        let gens = i64::from(positive_i32(config.num_event_generators));
        let delays = config.rate_shape.inter_event_delays_us(
            i64::from(positive_i32(config.first_event_rate)),
            i64::from(positive_i32(config.next_event_rate)),
            config.rate_unit,
            gens,
        );
        let mut timeline = Self {
            base_time: config.base_time_ms,
            inter_event_delay_us: delays,
            step_length_sec: config.rate_shape.step_length_sec(non_negative_i32(config.rate_period_sec)),
            events_per_epoch: 0,
            epoch_period_ms: 0,
            out_of_order_group_size: i64::try_from(config.out_of_order_group_size).unwrap_or(i64::MAX).max(1),
        };
        if timeline.inter_event_delay_us.len() > 1 {
            for &delay in &timeline.inter_event_delay_us {
                let events = timeline.events_per_step(delay);
                timeline.events_per_epoch += events;
                timeline.epoch_period_ms += events * delay / 1000;
            }
        }
        timeline
    }

    /// True if the rate varies but no step is long enough for a single event; Beam
    /// divides by zero there. [`Timeline::timestamp`] then uses the first rate only.
    fn events_per_epoch_is_degenerate(&self) -> bool {
        self.inter_event_delay_us.len() > 1 && self.events_per_epoch == 0
    }

    /// Number of events generated during one step with the given inter-event delay.
    fn events_per_step(&self, delay_us: i64) -> i64 {
        (self.step_length_sec * 1_000_000) / delay_us
    }

    /// Beam's `timestampAndInterEventDelayUsForEvent(eventNumber).getKey()`.
    fn timestamp(&self, event_number: i64) -> i64 {
        let first_delay = self.inter_event_delay_us.first().copied().unwrap_or(1);
        if self.inter_event_delay_us.len() == 1 || self.events_per_epoch_is_degenerate() {
            return self.base_time.wrapping_add(event_number.wrapping_mul(first_delay) / 1000);
        }
        let epoch = event_number / self.events_per_epoch;
        let mut n = event_number % self.events_per_epoch;
        let mut offset_in_epoch_ms = 0;
        for &delay in &self.inter_event_delay_us {
            let events = self.events_per_step(delay);
            if n < events {
                let offset_in_cycle_us = n * delay;
                return self
                    .base_time
                    .wrapping_add(epoch.wrapping_mul(self.epoch_period_ms) + offset_in_epoch_ms + offset_in_cycle_us / 1000);
            }
            n -= events;
            offset_in_epoch_ms += events * delay / 1000;
        }
        // Unreachable: `n < events_per_epoch`, the sum of all steps' events.
        self.base_time.wrapping_add(epoch.wrapping_add(1).wrapping_mul(self.epoch_period_ms))
    }

    /// Beam's `nextAdjustedEventNumber`: the event number whose id and timestamp the
    /// `event_number`-th event gets, shuffled within its out-of-order group.
    fn adjusted_event_number(&self, event_number: i64) -> i64 {
        let n = self.out_of_order_group_size;
        let base = (event_number / n) * n;
        let offset = event_number.wrapping_mul(953) % n;
        base + offset
    }

    /// Beam's `nextEventNumberForWatermark`: no event at or after `event_number` has an
    /// adjusted event number below this one.
    fn watermark_event_number(&self, event_number: i64) -> i64 {
        let n = self.out_of_order_group_size;
        (event_number / n) * n
    }
}

/// The config values the per-event code reads, in the types of Beam's arithmetic.
#[derive(Debug, Clone)]
struct Params {
    seed: i64,
    avg_person_byte_size: i32,
    avg_auction_byte_size: i32,
    avg_bid_byte_size: i32,
    hot_auction_ratio: i32,
    hot_sellers_ratio: i32,
    hot_bidders_ratio: i32,
    num_active_people: i64,
    num_in_flight_auctions: i64,
}

impl Params {
    fn new(config: &GeneratorConfig) -> Self {
        Self {
            // Reinterpreting the bits is intended: the seed is just 64 bits to mix in.
            seed: config.seed as i64,
            avg_person_byte_size: non_negative_i32(config.avg_person_byte_size),
            avg_auction_byte_size: non_negative_i32(config.avg_auction_byte_size),
            avg_bid_byte_size: non_negative_i32(config.avg_bid_byte_size),
            hot_auction_ratio: positive_i32(config.hot_auction_ratio),
            hot_sellers_ratio: positive_i32(config.hot_sellers_ratio),
            hot_bidders_ratio: positive_i32(config.hot_bidders_ratio),
            num_active_people: i64::from(non_negative_i32(config.num_active_people)),
            num_in_flight_auctions: i64::from(non_negative_i32(config.num_in_flight_auctions)),
        }
    }
}

/// Generates the Nexmark event stream, or the share of it of one source subtask.
///
/// Subtask `i` of `n` generates global event numbers `i, i + n, i + 2n, ...`; each event
/// is a pure function of its number, so the union over all subtasks is exactly the
/// unsplit stream and all subtasks' event times advance together.
#[derive(Debug, Clone)]
pub struct NexmarkGenerator {
    params: Params,
    timeline: Timeline,
    channels: ChannelCache,
    /// Index of this subtask, in `0..parallelism`.
    subtask: u64,
    /// Number of subtasks the stream is split over.
    parallelism: u64,
    /// Number of events this generator has produced, resumed ones included.
    emitted: u64,
    /// Number of events this subtask produces in total; `None` for unbounded.
    limit: Option<u64>,
}

impl NexmarkGenerator {
    /// A generator for the whole stream.
    pub fn new(config: GeneratorConfig) -> Self {
        Self::with_position(config, 0, 1, 0)
    }

    /// A generator for the share of source subtask `subtask` of `parallelism`.
    ///
    /// # Panics
    ///
    /// If `parallelism` is 0 or `subtask >= parallelism`.
    pub fn split(config: GeneratorConfig, subtask: usize, parallelism: usize) -> Self {
        Self::with_position(config, subtask, parallelism, 0)
    }

    /// Like [`NexmarkGenerator::split`], resuming after the first `position` events of
    /// this subtask's share, as returned by [`NexmarkGenerator::position`].
    ///
    /// # Panics
    ///
    /// If `parallelism` is 0 or `subtask >= parallelism`.
    pub fn with_position(config: GeneratorConfig, subtask: usize, parallelism: usize, position: u64) -> Self {
        assert!(parallelism > 0, "Nexmark generator parallelism must be positive");
        assert!(subtask < parallelism, "Nexmark generator subtask {subtask} out of range for parallelism {parallelism}");
        // usize -> u64 is lossless on all supported targets.
        let (subtask, parallelism) = (subtask as u64, parallelism as u64);
        let params = Params::new(&config);
        Self {
            channels: ChannelCache::new(params.seed),
            params,
            timeline: Timeline::new(&config),
            subtask,
            parallelism,
            emitted: position,
            limit: config.max_events.map(|max| events_of_subtask(max, subtask, parallelism)),
        }
    }

    /// The next event of this subtask's share, or `None` once `max_events` is reached.
    pub fn next_event(&mut self) -> Option<Event> {
        if self.remaining() == Some(0) {
            return None;
        }
        let event = self.event(self.next_event_number());
        self.emitted = self.emitted.saturating_add(1);
        Some(event)
    }

    /// Number of events this generator has produced (including those skipped by
    /// resuming with [`NexmarkGenerator::with_position`]).
    pub fn events_generated(&self) -> u64 {
        self.emitted
    }

    /// The read position to checkpoint: the number of events of this subtask's share
    /// produced so far. Resume with [`NexmarkGenerator::with_position`] and the same
    /// config, subtask and parallelism.
    pub fn position(&self) -> u64 {
        self.emitted
    }

    /// A lower bound on the timestamps of all events this generator will still produce
    /// (Beam's watermark). Equals the next event's timestamp when
    /// `out_of_order_group_size` is 1.
    pub fn watermark(&self) -> i64 {
        let number = self.timeline.watermark_event_number(self.next_event_number());
        self.timeline.timestamp(number)
    }

    /// Number of events this generator will still produce; `None` if unbounded.
    fn remaining(&self) -> Option<u64> {
        self.limit.map(|limit| limit.saturating_sub(self.emitted))
    }

    /// Global event number of the next event of this subtask, in Beam's signed domain.
    fn next_event_number(&self) -> i64 {
        let number = self.subtask.wrapping_add(self.emitted.wrapping_mul(self.parallelism));
        // Wraps only after 2^63 events, like Beam's `long` counters.
        number as i64
    }

    /// The event with global event number `event_number` (Beam's `Generator.nextEvent`
    /// with `eventsCountSoFar == event_number` and `firstEventId == 0`).
    fn event(&mut self, event_number: i64) -> Event {
        let event_id = self.timeline.adjusted_event_number(event_number);
        let timestamp = self.timeline.timestamp(event_id);
        let mut rng = JavaRandom::new(event_id ^ self.params.seed);
        let offset = event_id % TOTAL_P;
        if offset < PERSON_P {
            Event::Person(next_person(&mut rng, &self.params, event_id, timestamp))
        } else if offset < PERSON_P + AUCTION_P {
            let ctx = AuctionContext { timeline: &self.timeline, params: &self.params };
            Event::Auction(ctx.next_auction(&mut rng, event_id, timestamp))
        } else {
            let mut bid = next_bid(&mut rng, &self.params, event_id, timestamp);
            (bid.channel, bid.url) = self.channels.next_channel(&mut rng);
            Event::Bid(bid)
        }
    }
}

impl Iterator for NexmarkGenerator {
    type Item = Event;

    fn next(&mut self) -> Option<Event> {
        self.next_event()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        match self.remaining() {
            Some(n) => {
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                (n, Some(n))
            }
            None => (usize::MAX, None),
        }
    }
}

impl FusedIterator for NexmarkGenerator {}

/// Number of the first `max_events` global event numbers `k` with `k % parallelism == subtask`.
fn events_of_subtask(max_events: u64, subtask: u64, parallelism: u64) -> u64 {
    if max_events > subtask {
        (max_events - subtask - 1) / parallelism + 1
    } else {
        0
    }
}

// ---------------------------------------------------------------------------------------
// StringsGenerator, PriceGenerator, LongGenerator
// ---------------------------------------------------------------------------------------

/// `StringsGenerator.MIN_STRING_LENGTH`.
const MIN_STRING_LENGTH: i32 = 3;

/// Java's `Math.round(double)`: nearest integer, ties towards positive infinity,
/// saturating, NaN to 0.
fn java_round(x: f64) -> i64 {
    let floor = x.floor();
    let rounded = if x - floor >= 0.5 { floor + 1.0 } else { floor };
    rounded as i64
}

/// The ASCII byte `'a' + offset`, for `offset` in `-25..26`.
fn letter_byte(offset: i32) -> u8 {
    // The sum is in 72..123, so the cast is exact.
    (i32::from(b'a') + offset) as u8
}

/// The ASCII character `'a' + offset`, for `offset` in `-25..26`.
fn letter(offset: i32) -> char {
    char::from(letter_byte(offset))
}

/// `StringsGenerator.nextString(random, maxLength, special)` appended to `out`; returns
/// the number of characters appended.
///
/// Java's `trim()` strips characters up to `' '` at both ends, which can only be the
/// `special` character here.
fn push_next_string(rng: &mut JavaRandom, out: &mut String, max_length: i32, special: char) -> usize {
    let len = MIN_STRING_LENGTH + rng.next_int_bounded(max_length - MIN_STRING_LENGTH);
    let start = out.len();
    let trimmed = special <= ' ';
    for _ in 0..len {
        if rng.next_int_bounded(13) == 0 {
            // A leading `special` would be trimmed: skip it.
            if !(trimmed && out.len() == start) {
                out.push(special);
            }
        } else {
            out.push(letter(rng.next_int_bounded(26)));
        }
    }
    if trimmed {
        let kept = out[start..].trim_end_matches(special).len();
        out.truncate(start + kept);
    }
    out.len() - start
}

/// `StringsGenerator.nextString(random, maxLength)`.
fn next_string(rng: &mut JavaRandom, max_length: i32) -> String {
    let mut out = String::with_capacity(usize::try_from(max_length).unwrap_or(0));
    push_next_string(rng, &mut out, max_length, ' ');
    out
}

/// `StringsGenerator.nextExactString`: `length` characters, six per `nextInt()`.
///
/// Java's `%` keeps the sign of the negative draws, so this yields characters from `'H'`
/// to `'z'`, not just lower-case letters, exactly like Beam.
fn next_exact_string(rng: &mut JavaRandom, length: i32) -> String {
    // Six base-26 digits per draw: log_26(2^31).
    const CHARS_PER_DRAW: usize = 6;
    let mut bytes = vec![0_u8; usize::try_from(length).unwrap_or(0)];
    for chunk in bytes.chunks_mut(CHARS_PER_DRAW) {
        let mut rnd = rng.next_int();
        for byte in chunk {
            *byte = letter_byte(rnd % 26);
            rnd /= 26;
        }
    }
    // All bytes are ASCII, so this never falls back.
    String::from_utf8(bytes).unwrap_or_default()
}

/// `StringsGenerator.nextExtra`: a string whose length brings `current_size` to
/// `desired_average_size` on average (uniformly within ±20%).
fn next_extra(rng: &mut JavaRandom, current_size: i32, desired_average_size: i32) -> String {
    if current_size > desired_average_size {
        return String::new();
    }
    let desired = desired_average_size - current_size;
    // Java narrows `Math.round`'s `long` to `int`; the value always fits.
    let delta = java_round(f64::from(desired) * 0.2) as i32;
    let min_size = desired - delta;
    let size = min_size + if delta == 0 { 0 } else { rng.next_int_bounded(2 * delta) };
    next_exact_string(rng, size)
}

/// `PriceGenerator.nextPrice`: log-uniform in `[100, 100_000_000]`.
fn next_price(rng: &mut JavaRandom) -> i64 {
    java_round(10.0_f64.powf(rng.next_double() * 6.0) * 100.0)
}

/// `LongGenerator.nextLong`: a value in `[0, n)` for positive `n` (skewed for huge `n`,
/// as in Beam).
fn next_long(rng: &mut JavaRandom, n: i64) -> i64 {
    match i32::try_from(n) {
        Ok(n) if n < i32::MAX => i64::from(rng.next_int_bounded(n)),
        _ => (rng.next_long() % n).wrapping_abs(),
    }
}

/// Length of a string, as Java's `String.length()` of these ASCII strings, as `i32`.
fn java_len(s: &str) -> i32 {
    i32::try_from(s.len()).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------------------------------
// PersonGenerator
// ---------------------------------------------------------------------------------------

/// `PersonGenerator.PERSON_ID_LEAD`: how many not-yet-created people may be referenced.
const PERSON_ID_LEAD: i64 = 10;
/// `PersonGenerator.US_STATES`.
const US_STATES: [&str; 6] = ["AZ", "CA", "ID", "OR", "WA", "WY"];
/// `PersonGenerator.US_CITIES`.
const US_CITIES: [&str; 10] =
    ["Phoenix", "Los Angeles", "San Francisco", "Boise", "Portland", "Bend", "Redmond", "Seattle", "Kent", "Cheyenne"];
/// `PersonGenerator.FIRST_NAMES`.
const FIRST_NAMES: [&str; 11] = ["Peter", "Paul", "Luke", "John", "Saul", "Vicky", "Kate", "Julie", "Sarah", "Deiter", "Walter"];
/// `PersonGenerator.LAST_NAMES`.
const LAST_NAMES: [&str; 9] = ["Shultz", "Abrams", "Spencer", "White", "Bartels", "Walton", "Smith", "Jones", "Noris"];

/// `list.get(random.nextInt(list.size()))`.
fn pick<'a>(rng: &mut JavaRandom, items: &[&'a str]) -> &'a str {
    let len = i32::try_from(items.len()).unwrap_or(i32::MAX);
    let index = usize::try_from(rng.next_int_bounded(len)).unwrap_or(0);
    items.get(index).copied().unwrap_or_default()
}

/// `PersonGenerator.nextPerson`.
fn next_person(rng: &mut JavaRandom, params: &Params, event_id: i64, timestamp: i64) -> Person {
    let id = last_base0_person_id(event_id) + FIRST_PERSON_ID;
    let name = next_person_name(rng);
    let email_address = next_email(rng);
    let credit_card = next_credit_card(rng);
    let city = pick(rng, &US_CITIES);
    let state = pick(rng, &US_STATES);
    let current_size = 8 + java_len(&name) + java_len(&email_address) + java_len(&credit_card) + java_len(city) + java_len(state);
    let extra = next_extra(rng, current_size, params.avg_person_byte_size);
    Person { id, name, email_address, credit_card, city: city.to_owned(), state: state.to_owned(), date_time: timestamp, extra }
}

/// `PersonGenerator.nextPersonName`: first name, space, last name.
fn next_person_name(rng: &mut JavaRandom) -> String {
    let first = pick(rng, &FIRST_NAMES);
    let last = pick(rng, &LAST_NAMES);
    let mut name = String::with_capacity(first.len() + 1 + last.len());
    name.push_str(first);
    name.push(' ');
    name.push_str(last);
    name
}

/// `PersonGenerator.nextEmail`: `nextString(7) + "@" + nextString(5) + ".com"`.
fn next_email(rng: &mut JavaRandom) -> String {
    let mut email = String::with_capacity(6 + 1 + 4 + 4);
    push_next_string(rng, &mut email, 7, ' ');
    email.push('@');
    push_next_string(rng, &mut email, 5, ' ');
    email.push_str(".com");
    email
}

/// `PersonGenerator.nextCreditCard`: four space-separated `%04d` groups.
fn next_credit_card(rng: &mut JavaRandom) -> String {
    let mut card = String::with_capacity(4 * 4 + 3);
    for group in 0..4 {
        if group > 0 {
            card.push(' ');
        }
        let value = rng.next_int_bounded(10_000);
        for divisor in [1000, 100, 10, 1] {
            card.push(digit(value / divisor % 10));
        }
    }
    card
}

/// The ASCII digit for `value` in `0..10`.
fn digit(value: i32) -> char {
    char::from_digit(u32::try_from(value).unwrap_or(0), 10).unwrap_or('0')
}

/// `PersonGenerator.nextBase0PersonId`: a random recent (or slightly future) person.
fn next_base0_person_id(rng: &mut JavaRandom, params: &Params, event_id: i64) -> i64 {
    let num_people = last_base0_person_id(event_id) + 1;
    let active_people = num_people.min(params.num_active_people);
    let n = next_long(rng, active_people + PERSON_ID_LEAD);
    num_people - active_people + n
}

/// `PersonGenerator.lastBase0PersonId`: the last person id (without
/// [`FIRST_PERSON_ID`]) generated at or before `event_id`.
fn last_base0_person_id(event_id: i64) -> i64 {
    let epoch = event_id / TOTAL_P;
    let offset = (event_id % TOTAL_P).min(PERSON_P - 1);
    epoch * PERSON_P + offset
}

// ---------------------------------------------------------------------------------------
// AuctionGenerator
// ---------------------------------------------------------------------------------------

/// `AuctionGenerator.NUM_CATEGORIES`.
const NUM_CATEGORIES: i32 = 5;
/// `AuctionGenerator.AUCTION_ID_LEAD`: how many not-yet-created auctions may be referenced.
const AUCTION_ID_LEAD: i64 = 10;
/// `AuctionGenerator.HOT_SELLER_RATIO`: hot sellers are the first of each 100 people.
const HOT_SELLER_RATIO: i64 = 100;

/// What auction generation needs besides the random source.
struct AuctionContext<'a> {
    timeline: &'a Timeline,
    params: &'a Params,
}

impl AuctionContext<'_> {
    /// `AuctionGenerator.nextAuction`; `event_id` is also the adjusted event number.
    fn next_auction(&self, rng: &mut JavaRandom, event_id: i64, timestamp: i64) -> Auction {
        let id = last_base0_auction_id(event_id) + FIRST_AUCTION_ID;
        let seller = FIRST_PERSON_ID
            + if rng.next_int_bounded(self.params.hot_sellers_ratio) > 0 {
                // The first person in the batch of the last HOT_SELLER_RATIO people.
                (last_base0_person_id(event_id) / HOT_SELLER_RATIO) * HOT_SELLER_RATIO
            } else {
                next_base0_person_id(rng, self.params, event_id)
            };
        let category = FIRST_CATEGORY_ID + i64::from(rng.next_int_bounded(NUM_CATEGORIES));
        let initial_bid = next_price(rng);
        let expires = timestamp + self.next_auction_length_ms(rng, event_id, timestamp);
        let item_name = next_string(rng, 20);
        let description = next_string(rng, 100);
        let reserve = initial_bid + next_price(rng);
        let current_size = 8 + java_len(&item_name) + java_len(&description) + 8 + 8 + 8 + 8 + 8;
        let extra = next_extra(rng, current_size, self.params.avg_auction_byte_size);
        Auction { id, item_name, description, initial_bid, reserve, date_time: timestamp, expires, seller, category, extra }
    }

    /// `AuctionGenerator.nextAuctionLengthMs`: uniform in `[1, 2 * horizon]`, where the
    /// horizon is the time until `num_in_flight_auctions` more auctions have been created.
    fn next_auction_length_ms(&self, rng: &mut JavaRandom, event_number: i64, timestamp: i64) -> i64 {
        let events_for_auctions = (self.params.num_in_flight_auctions * TOTAL_P) / AUCTION_P;
        let future_auction = self.timeline.timestamp(event_number + events_for_auctions);
        let horizon_ms = future_auction - timestamp;
        1 + next_long(rng, (horizon_ms * 2).max(1))
    }
}

/// `AuctionGenerator.lastBase0AuctionId`: the last auction id (without
/// [`FIRST_AUCTION_ID`]) generated at or before `event_id`.
fn last_base0_auction_id(event_id: i64) -> i64 {
    let mut epoch = event_id / TOTAL_P;
    let mut offset = event_id % TOTAL_P;
    if offset < PERSON_P {
        // About to generate a person: go back to the last auction of the last epoch.
        epoch -= 1;
        offset = AUCTION_P - 1;
    } else if offset >= PERSON_P + AUCTION_P {
        // About to generate a bid: go back to the last auction of this epoch.
        offset = AUCTION_P - 1;
    } else {
        // About to generate an auction.
        offset -= PERSON_P;
    }
    epoch * AUCTION_P + offset
}

/// `AuctionGenerator.nextBase0AuctionId`: a random auction that is likely still open,
/// or one of the next few to be created.
fn next_base0_auction_id(rng: &mut JavaRandom, params: &Params, event_id: i64) -> i64 {
    let max_auction = last_base0_auction_id(event_id);
    let min_auction = (max_auction - params.num_in_flight_auctions).max(0);
    min_auction + next_long(rng, max_auction - min_auction + 1 + AUCTION_ID_LEAD)
}

// ---------------------------------------------------------------------------------------
// BidGenerator
// ---------------------------------------------------------------------------------------

/// `BidGenerator.HOT_AUCTION_RATIO`: hot auctions are the first of each 100 auctions.
const HOT_AUCTION_RATIO: i64 = 100;
/// `BidGenerator.HOT_BIDDER_RATIO`: hot bidders are the second of each 100 people.
const HOT_BIDDER_RATIO: i64 = 100;

/// `BidGenerator.nextBid` up to and including `extra`; the channel and URL are left
/// empty for [`ChannelCache::next_channel`].
fn next_bid(rng: &mut JavaRandom, params: &Params, event_id: i64, timestamp: i64) -> Bid {
    let auction = FIRST_AUCTION_ID
        + if rng.next_int_bounded(params.hot_auction_ratio) > 0 {
            // The first auction in the batch of the last HOT_AUCTION_RATIO auctions.
            (last_base0_auction_id(event_id) / HOT_AUCTION_RATIO) * HOT_AUCTION_RATIO
        } else {
            next_base0_auction_id(rng, params, event_id)
        };
    let bidder = FIRST_PERSON_ID
        + if rng.next_int_bounded(params.hot_bidders_ratio) > 0 {
            // The second person (so hot bidders and sellers differ) in the batch of the
            // last HOT_BIDDER_RATIO people.
            (last_base0_person_id(event_id) / HOT_BIDDER_RATIO) * HOT_BIDDER_RATIO + 1
        } else {
            next_base0_person_id(rng, params, event_id)
        };
    let price = next_price(rng);
    let extra = next_extra(rng, 8 + 8 + 8 + 8, params.avg_bid_byte_size);
    Bid { auction, bidder, price, channel: String::new(), url: String::new(), date_time: timestamp, extra }
}

/// Flink Nexmark's `HOT_CHANNELS_RATIO`: half of all bids come through a hot channel.
const HOT_CHANNELS_RATIO: i32 = 2;
/// Flink Nexmark's `CHANNELS_NUMBER`: number of ordinary channels.
const CHANNELS_NUMBER: i32 = 10_000;
/// Flink Nexmark's `HOT_CHANNELS`.
const HOT_CHANNELS: [&str; 4] = ["Google", "Facebook", "Baidu", "Apple"];
/// Separates the random streams of channel URLs from those of events (which are seeded
/// with small event ids).
const CHANNEL_URL_SALT: i64 = 0x4E45_584D_4152_4B00; // "NEXMARK\0"

/// Flink Nexmark's channel and URL of bids, with URLs derived deterministically from the
/// channel and the seed, and cached per channel as Flink does.
#[derive(Clone)]
struct ChannelCache {
    seed: i64,
    /// URLs of [`HOT_CHANNELS`].
    hot_urls: [String; 4],
    /// `(name, url)` of ordinary channels, filled on first use.
    channels: Vec<Option<(String, String)>>,
}

impl fmt::Debug for ChannelCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChannelCache")
            .field("seed", &self.seed)
            .field("hot_urls", &self.hot_urls)
            .field("cached_channels", &self.channels.iter().flatten().count())
            .finish()
    }
}

impl ChannelCache {
    fn new(seed: i64) -> Self {
        let hot_urls = std::array::from_fn(|i| {
            // `i < 4`, so the key is exact.
            let key = i64::from(CHANNELS_NUMBER) + i as i64;
            base_url(&mut JavaRandom::new(key ^ CHANNEL_URL_SALT ^ seed))
        });
        Self { seed, hot_urls, channels: Vec::new() }
    }

    /// Flink Nexmark's channel draw: a hot channel with probability 1/2, otherwise one
    /// of [`CHANNELS_NUMBER`] ordinary channels, uniformly.
    fn next_channel(&mut self, rng: &mut JavaRandom) -> (String, String) {
        if rng.next_int_bounded(HOT_CHANNELS_RATIO) > 0 {
            let index = usize::try_from(rng.next_int_bounded(4)).unwrap_or(0);
            let name = HOT_CHANNELS.get(index).copied().unwrap_or_default();
            let url = self.hot_urls.get(index).cloned().unwrap_or_default();
            return (name.to_owned(), url);
        }
        let number = rng.next_int_bounded(CHANNELS_NUMBER);
        let index = usize::try_from(number).unwrap_or(0);
        if self.channels.is_empty() {
            self.channels.resize(CHANNELS_NUMBER as usize, None);
        }
        match self.channels.get_mut(index) {
            Some(Some(cached)) => cached.clone(),
            Some(slot) => slot.insert(channel(number, self.seed)).clone(),
            None => channel(number, self.seed),
        }
    }
}

/// Name and URL of ordinary channel `number`: Flink Nexmark's `getNextChannelAndurl`,
/// which adds the channel id to 9 in 10 URLs.
fn channel(number: i32, seed: i64) -> (String, String) {
    let mut rng = JavaRandom::new(i64::from(number) ^ CHANNEL_URL_SALT ^ seed);
    let mut url = base_url(&mut rng);
    if rng.next_int_bounded(10) > 0 {
        // Java's `Math.abs(Integer.reverse(n))`, overflow included.
        let id = number.reverse_bits().wrapping_abs();
        url.push_str("&channel_id=");
        url.push_str(&id.to_string());
    }
    (format!("channel-{number}"), url)
}

/// Flink Nexmark's `getBaseUrl`: three random path segments of 3-4 characters.
fn base_url(rng: &mut JavaRandom) -> String {
    const PREFIX: &str = "https://www.nexmark.com/";
    const SUFFIX: &str = "item.htm?query=1";
    let mut url = String::with_capacity(PREFIX.len() + 3 * 5 + SUFFIX.len() + 24);
    url.push_str(PREFIX);
    for _ in 0..3 {
        push_next_string(rng, &mut url, 5, '_');
        url.push('/');
    }
    url.push_str(SUFFIX);
    url
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounded(max_events: u64) -> GeneratorConfig {
        GeneratorConfig { max_events: Some(max_events), ..GeneratorConfig::default() }
    }

    /// One line per event, in the format the Java reference program prints.
    fn canonical(event: &Event) -> String {
        match event {
            Event::Person(p) => {
                format!("P|{}|{}|{}|{}|{}|{}|{}|{}", p.id, p.name, p.email_address, p.credit_card, p.city, p.state, p.date_time, p.extra)
            }
            Event::Auction(a) => format!(
                "A|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}",
                a.id, a.item_name, a.description, a.initial_bid, a.reserve, a.date_time, a.expires, a.seller, a.category, a.extra
            ),
            Event::Bid(b) => format!("B|{}|{}|{}|{}|{}|{}|{}", b.auction, b.bidder, b.price, b.channel, b.url, b.date_time, b.extra),
        }
    }

    /// 64-bit FNV-1a over the canonical lines, each followed by `\n`.
    fn fnv1a(events: impl Iterator<Item = Event>) -> u64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for event in events {
            let line = canonical(&event);
            for &byte in line.as_bytes().iter().chain(b"\n") {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
        hash
    }

    // Expected lines and hashes below were printed by a Java program (kept outside the
    // repository) that transcribes Beam's `GeneratorConfig`, `Generator`,
    // `PersonGenerator`, `AuctionGenerator`, `BidGenerator`, `PriceGenerator`,
    // `LongGenerator` and `StringsGenerator` using `java.util.Random` on OpenJDK 17, plus
    // this module's channel/URL draw after Beam's bid fields. Its event number `k` is
    // Beam's `eventsCountSoFar` with `firstEventId == firstEventNumber == 0`.

    /// Events 0-5 of the default config.
    const JAVA_FIRST_EVENTS: [&str; 6] = [
        r"P|1000|Peter Jones|nhd@xcat.com|7241 7320 9143 4888|Portland|WY|1436918400000|WN_HS_bnpkkiwhwana_L^`KZjdgsid`K]MLU[aaOH`ztxbulvlxtkn_ZZ^T\mqgdjzvlkymsmfrhkfVYSXK_OY[aVYVKa\X^]RO]OYguwiduWJNQLLaMLHOTaHY_J[YKWaUOSJN_VHWXZ]`SgbnjqeVVQ\[[",
        r"A|1000|wkx mgee|eszpqxtdxrvwmmywkmogoahf|28873|29448|1436918400000|1436918400011|1000|13|zcurskufssowmihzpmZHWQM^fnleramznyyqimoheaRSWV^OjtfjhgXRa`[PVHUOMTbrqqzjyztfwnhstxbu]\V_XPldnjuo^^PJQMnwhlsenoniir^aNZI__IP[QLYPROSNW]HYP\L]W^PTkfnbtwuqucwreikflftlgtebaurwml^RMRIPqevmpqsnxmcblfvpfeajfopsHS^U[Jzxwajo_W`RXa[XWI[`VXZOR^lghgmwHITMP[dbwdgtPQJYHLjnubcsjgszqvyzeoeqjcbaazmrqamxoxgrjh`L`]_Y^OQM]ItjxtuwZJS[RTmrkpofsnuysxuvwbuzrqkrkkqpiz",
        r"A|1001|z ck w|cwlachrnkfzkygsu edjytotggvasbt z yjjszhhsqtrgzblkaolzkhlldqedvgj fdbvswemnzshmwipqrzqfkd|25626290|28805847|1436918400000|1436918400202|1000|12|jzlkehMZPLIIwtopffS\KHLRhdduqtifpeko`KO`ZQK[[_I`H[aTINQKQJMPTYYLOYitqbesrjqlgtpwxmaisefjioILP`OSWQSKaY_LZV]MSPTILLgyacoodbfiyyWWK_NKetfdja`HUNP^uwfvxlyvywsaL^KN\[myznhx^O_JRShcfzvf]O`NJ\ctudjuorfgrhhpmxquKXXQLPbirsklX[aY\YUJ[WR\L_SXW_YHM\HPwvmlopNNVJVWlmtrikTIUaUaZO]^XTIYK`R]iobqufV`PSJ_wfivocSWSaTUaWU_[^kohfsnQSTVVaI",
        r"A|1002|gxycmhtobprpd|ybjpocsabdbtiqzhbupw ihlxbsqjkmp lbupz bcqnghg fojwfqs|267|422398|1436918400000|1436918400001|1000|10|JKSLMTmulfbwHKXUXSztthwgwcilixpeyzjs^`RK^RutzkvkSILV]Srsjtomlebedl_HQ_\S]I[`H]ywaawvTWIPI\[aKRR\_H\VONnznhbyUIaP^V\NSJ\XznlkqxadbnbdXKZPTVdpaxvmeuptpyrgetseedsfgaKT\JPYdxwjsgpdvnmxampjcr]\`^KYfxuiihlzdqdtglvgflZWSXVXeypjmxJUT_ONerzgyecnattpwjdmszkkwcucgmxpov`\[WUYUTaWNQNIM^SWWVXK_IuskbngavgqooxvfbobmkwsxrtmwtyycvbwjpVHPQIT]LNXSLQL^]KLRPU`LVjkyjlrhlcdctlrnulpSS[aWTQ^QTMVSPVSKOpdhxcwOK[YMLiasswo]K_WURbnvmp",
        r"B|1000|1001|32530001|Facebook|https://www.nexmark.com/mmi/jme/roj/item.htm?query=1|1436918400000|fdiysaV^]NLVsbolvyqwgticfdrwdyiyofziYMU\Z`UaTQO][NX\RM]WPYTOuwogvszlxjrcNOORM",
        r"B|1000|1009|468715|Apple|https://www.nexmark.com/rol/yobt/_gt/item.htm?query=1|1436918400000|kpbrykRZJVMWeuyfegsyumoyP[P_Z\XIMVVVxctqkwvurozuRWZ`MYaYVW][cjupgbckseelPM`",
    ];

    /// Event 7 (a bid through an ordinary channel) and events 50 and 51 (the second
    /// person, with spaces inside its e-mail address, and auction) of the default config.
    const JAVA_LATER_EVENTS: [(usize, &str); 3] = [
        (
            7,
            r"B|1000|1001|3126206|channel-738|https://www.nexmark.com/ntxz/zixy/kab/item.htm?query=1&channel_id=1195376640|1436918400000|byxajvVIJV^VKUUY`RJaVNU`^QIWNHgdvnfxZQ]H_PbustqrpqasinNX`Q[_YKKNP\",
        ),
        (
            50,
            r"P|1001|Sarah Smith|f  y@yumv.com|0892 2755 1923 0591|Los Angeles|ID|1436918400005|`RT]WInnxtneWPLPHOywusizasixbmVVHKO_Y_MOYPmoftdguqtxkyXPO_ZNYMaKVQ\``OOXTNOWIKUOLIaWQN\H[_cihasyNLOMHLVHKVRIznfdmdeqqvumRMZYKKNRJ[K^IIN`RJM`H[^^vbqrxduih",
        ),
        (
            51,
            r"A|1003|ap yurxvft|vrnwqqis djcnffvmce soukxctnrr scxvzjf|5037490|5980861|1436918400005|1436918400008|1000|11|KMIZKI]V]TY\`aMLVVobhwggrislsofsqwppafprrqiobkllztonkxrovhfhiipuecOaV\NP\UVSPXfpnexmukcimyIXIOV]TQPHLQKZIQVTdcsktilddgzrQHV[RTdxihcwzabqhoixoudlkvmrcnIL][RTNIHZ[VjedoorrneohbkygvncpzxuouvxketgJK]KVQTMKSZHZKMZ`WbtspxsHLM[N\XUQ\OXypuhhawnzwkr\IIVaV]V\\NUdlcyrguqcilqtagfcoM^\Y]Todvwxeuoxsiyrqfxcqagldswpfaolp[^XO_MlriktyyopdjyOSWS[X",
        ),
    ];

    #[test]
    fn first_events_match_java() {
        let got: Vec<String> = NexmarkGenerator::new(bounded(6)).map(|e| canonical(&e)).collect();
        assert_eq!(got, JAVA_FIRST_EVENTS);
    }

    #[test]
    fn later_events_match_java() {
        let events: Vec<Event> = NexmarkGenerator::new(bounded(60)).collect();
        for (index, want) in JAVA_LATER_EVENTS {
            assert_eq!(canonical(&events[index]), want, "event {index}");
        }
    }

    #[test]
    fn default_stream_matches_java_hash() {
        assert_eq!(fnv1a(NexmarkGenerator::new(bounded(100_000))), 0x96f4_d076_3d2c_8d73);
    }

    #[test]
    fn seeded_square_out_of_order_stream_matches_java_hash() {
        // Java: seed=12345 ooo=7 first=10000 next=5000 shape=square period=2 gens=3
        let config = GeneratorConfig {
            seed: 12_345,
            out_of_order_group_size: 7,
            first_event_rate: 10_000,
            next_event_rate: 5_000,
            rate_shape: RateShape::Square,
            rate_period_sec: 2,
            num_event_generators: 3,
            ..bounded(100_000)
        };
        assert_eq!(fnv1a(NexmarkGenerator::new(config)), 0xac0f_bb2d_5ff3_b043);
    }

    #[test]
    fn sine_per_minute_stream_with_odd_ratios_matches_java_hash() {
        // Java: seed=18446744073709551615 first=20000 next=1000 shape=sine period=10
        // hotAuction=1 hotSellers=1 hotBidders=1 active=50 inflight=7 perminute
        let config = GeneratorConfig {
            seed: u64::MAX,
            first_event_rate: 20_000,
            next_event_rate: 1_000,
            rate_shape: RateShape::Sine,
            rate_period_sec: 10,
            rate_unit: RateUnit::PerMinute,
            hot_auction_ratio: 1,
            hot_sellers_ratio: 1,
            hot_bidders_ratio: 1,
            num_active_people: 50,
            num_in_flight_auctions: 7,
            ..bounded(100_000)
        };
        assert_eq!(fnv1a(NexmarkGenerator::new(config)), 0x1cc2_91b3_fe7a_b4d5);
    }

    #[test]
    fn beam_generator_count_stream_matches_java_hash() {
        // Java: ooo=1000 first=1000 next=1000 gens=100
        let config = GeneratorConfig {
            out_of_order_group_size: 1000,
            first_event_rate: 1000,
            next_event_rate: 1000,
            num_event_generators: 100,
            ..bounded(100_000)
        };
        assert_eq!(fnv1a(NexmarkGenerator::new(config)), 0x9dd0_5e03_15dc_dea0);
    }

    #[test]
    fn channel_urls_match_java() {
        assert_eq!(channel(0, 0), ("channel-0".to_owned(), "https://www.nexmark.com/qhij/fov/xo_/item.htm?query=1".to_owned()));
        assert_eq!(channel(1, 0).1, "https://www.nexmark.com/ag_c/rqem/bnny/item.htm?query=1");
        assert_eq!(channel(9999, 0).1, "https://www.nexmark.com/mrv/mxp/d_af/item.htm?query=1&channel_id=253493248");
        let hot = ChannelCache::new(0).hot_urls;
        assert_eq!(
            hot,
            [
                "https://www.nexmark.com/bnv/rmd/d_j/item.htm?query=1",
                "https://www.nexmark.com/mmi/jme/roj/item.htm?query=1",
                "https://www.nexmark.com/gry/fpz/amb/item.htm?query=1",
                "https://www.nexmark.com/rol/yobt/_gt/item.htm?query=1",
            ]
        );
    }

    #[test]
    fn java_round_matches_math_round() {
        assert_eq!(java_round(2.5), 3);
        assert_eq!(java_round(-2.5), -2);
        assert_eq!(java_round(2.499_999_999_999_999_6), 2);
        assert_eq!(java_round(0.499_999_999_999_999_94), 0);
        assert_eq!(java_round(f64::NAN), 0);
        assert_eq!(java_round(1e300), i64::MAX);
    }

    #[test]
    fn blocks_of_fifty_are_one_person_three_auctions_46_bids() {
        let events: Vec<Event> = NexmarkGenerator::new(bounded(50 * 40)).collect();
        for block in events.chunks(50) {
            let people = block.iter().filter(|e| matches!(e, Event::Person(_))).count();
            let auctions = block.iter().filter(|e| matches!(e, Event::Auction(_))).count();
            let bids = block.iter().filter(|e| matches!(e, Event::Bid(_))).count();
            assert_eq!((people, auctions, bids), (1, 3, 46));
            assert!(matches!(block[0], Event::Person(_)));
            assert!(block[1..4].iter().all(|e| matches!(e, Event::Auction(_))));
        }
        assert_eq!(PERSON_PROPORTION + AUCTION_PROPORTION + BID_PROPORTION, 50);
    }

    #[test]
    fn generation_is_deterministic_and_seeded() {
        let a: Vec<Event> = NexmarkGenerator::new(bounded(2000)).collect();
        let b: Vec<Event> = NexmarkGenerator::new(bounded(2000)).collect();
        assert_eq!(a, b);
        let seeded = GeneratorConfig { seed: 7, ..bounded(2000) };
        let c: Vec<Event> = NexmarkGenerator::new(seeded).collect();
        assert_ne!(a, c);
        // The seed changes values, not the structure or the timeline.
        for (x, y) in a.iter().zip(&c) {
            assert_eq!(std::mem::discriminant(x), std::mem::discriminant(y));
            assert_eq!(x.timestamp(), y.timestamp());
        }
    }

    /// Interleaves the subtasks' outputs back into global event-number order.
    fn interleave(parts: Vec<Vec<Event>>) -> Vec<Event> {
        let n = parts.len();
        let total: usize = parts.iter().map(Vec::len).sum();
        let mut iters: Vec<_> = parts.into_iter().map(Vec::into_iter).collect();
        (0..total).map(|k| iters[k % n].next().expect("subtask ran out of events early")).collect()
    }

    #[test]
    fn split_union_equals_unsplit_stream() {
        for max_events in [0, 1, 5, 997, 1000] {
            let whole: Vec<Event> = NexmarkGenerator::new(bounded(max_events)).collect();
            assert_eq!(whole.len() as u64, max_events);
            for parallelism in [1, 2, 3, 7, 64] {
                let parts: Vec<Vec<Event>> =
                    (0..parallelism).map(|i| NexmarkGenerator::split(bounded(max_events), i, parallelism).collect()).collect();
                assert_eq!(interleave(parts), whole, "max {max_events}, parallelism {parallelism}");
            }
        }
    }

    #[test]
    fn unbounded_split_union_equals_unsplit_stream() {
        let config = GeneratorConfig { out_of_order_group_size: 5, ..GeneratorConfig::default() };
        let whole: Vec<Event> = NexmarkGenerator::new(config.clone()).take(600).collect();
        let parts = (0..4).map(|i| NexmarkGenerator::split(config.clone(), i, 4).take(150).collect()).collect();
        assert_eq!(interleave(parts), whole);
    }

    #[test]
    fn subtask_timestamps_advance_together() {
        let mut a = NexmarkGenerator::split(GeneratorConfig::default(), 0, 4);
        let mut b = NexmarkGenerator::split(GeneratorConfig::default(), 3, 4);
        for _ in 0..10_000 {
            let (x, y) = (a.next_event(), b.next_event());
            let (x, y) = (x.expect("unbounded"), y.expect("unbounded"));
            assert!((x.timestamp() - y.timestamp()).abs() <= 1);
        }
    }

    #[test]
    fn resuming_from_position_continues_the_stream() {
        let config = bounded(1000);
        let full: Vec<Event> = NexmarkGenerator::split(config.clone(), 1, 3).collect();
        let mut first = NexmarkGenerator::split(config.clone(), 1, 3);
        let head: Vec<Event> = first.by_ref().take(100).collect();
        assert_eq!(first.position(), 100);
        assert_eq!(first.events_generated(), 100);
        let resumed = NexmarkGenerator::with_position(config, 1, 3, first.position());
        assert_eq!(resumed.size_hint(), (full.len() - 100, Some(full.len() - 100)));
        let tail: Vec<Event> = resumed.collect();
        assert_eq!([head, tail].concat(), full);
    }

    #[test]
    fn max_events_bounds_the_total_and_size_hint_is_exact() {
        let config = bounded(10);
        let sizes: Vec<usize> = (0..3).map(|i| NexmarkGenerator::split(config.clone(), i, 3).size_hint().0).collect();
        assert_eq!(sizes, [4, 3, 3]);
        let mut generator = NexmarkGenerator::split(config.clone(), 2, 3);
        assert_eq!(generator.by_ref().count(), 3);
        assert_eq!(generator.next_event(), None);
        assert_eq!(generator.next_event(), None);
        assert_eq!(NexmarkGenerator::with_position(config, 0, 3, 99).next_event(), None);
        let unbounded = NexmarkGenerator::new(GeneratorConfig::default());
        assert_eq!(unbounded.size_hint(), (usize::MAX, None));
    }

    #[test]
    #[should_panic(expected = "out of range")]
    fn split_rejects_subtask_out_of_range() {
        let _ = NexmarkGenerator::split(GeneratorConfig::default(), 3, 3);
    }

    #[test]
    fn timestamps_follow_the_configured_rate() {
        // 10_000 events/s: 100µs per event, 10 events per millisecond.
        let events: Vec<Event> = NexmarkGenerator::new(bounded(10_001)).collect();
        assert_eq!(events[0].timestamp(), DEFAULT_BASE_TIME_MS);
        assert_eq!(events[9].timestamp(), DEFAULT_BASE_TIME_MS);
        assert_eq!(events[10].timestamp(), DEFAULT_BASE_TIME_MS + 1);
        assert_eq!(events[10_000].timestamp(), DEFAULT_BASE_TIME_MS + 1000);
        assert!(events.windows(2).all(|w| w[0].timestamp() <= w[1].timestamp()));
    }

    #[test]
    fn watermark_bounds_all_later_timestamps() {
        let config = GeneratorConfig {
            // Not 17 or any other divisor of 952: Beam's offset `k * 953 % n` would be `k % n`.
            out_of_order_group_size: 1000,
            ..GeneratorConfig::default()
        };
        let mut generator = NexmarkGenerator::split(config, 1, 2);
        let mut events = Vec::new();
        let mut watermarks = Vec::new();
        for _ in 0..5000 {
            watermarks.push(generator.watermark());
            events.push(generator.next_event().expect("unbounded"));
        }
        let mut min_after = i64::MAX;
        for (event, watermark) in events.iter().zip(&watermarks).rev() {
            min_after = min_after.min(event.timestamp());
            assert!(*watermark <= min_after);
        }
        // Out of order: some event is older than its predecessor.
        assert!(events.windows(2).any(|w| w[0].timestamp() > w[1].timestamp()));
        assert!(watermarks.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn ids_are_sequential_and_references_in_range() {
        let events: Vec<Event> = NexmarkGenerator::new(bounded(200_000)).collect();
        let (mut last_person, mut last_auction) = (FIRST_PERSON_ID - 1, FIRST_AUCTION_ID - 1);
        let lead = 10;
        for event in &events {
            match event {
                Event::Person(p) => {
                    assert_eq!(p.id, last_person + 1);
                    last_person = p.id;
                }
                Event::Auction(a) => {
                    assert_eq!(a.id, last_auction + 1);
                    last_auction = a.id;
                    assert!(a.seller >= FIRST_PERSON_ID && a.seller <= last_person + lead);
                    assert!(a.seller > last_person - 1000 - 100);
                }
                Event::Bid(b) => {
                    let min_auction = (last_auction - 100).max(FIRST_AUCTION_ID);
                    assert!(b.auction >= min_auction && b.auction <= last_auction + lead);
                    assert!(b.bidder >= FIRST_PERSON_ID && b.bidder <= last_person + lead);
                    assert!(b.bidder > last_person - 1000 - 100);
                }
            }
        }
        assert_eq!(last_person, FIRST_PERSON_ID + 200_000 / 50 - 1);
        assert_eq!(last_auction, FIRST_AUCTION_ID + 3 * 200_000 / 50 - 1);
    }

    #[test]
    fn field_values_are_in_beams_ranges() {
        let horizon_ms = 2 * (100 * 50 / 3) / 10 + 1;
        for event in NexmarkGenerator::new(bounded(100_000)) {
            match event {
                Event::Person(p) => check_person(&p),
                Event::Auction(a) => {
                    assert!((100..=100_000_000).contains(&a.initial_bid));
                    assert!((100..=100_000_000).contains(&(a.reserve - a.initial_bid)));
                    assert!((FIRST_CATEGORY_ID..FIRST_CATEGORY_ID + 5).contains(&a.category));
                    assert!(a.expires > a.date_time && a.expires <= a.date_time + horizon_ms);
                    // Trimming can leave an empty name, as in Beam.
                    assert!(a.item_name.len() < 20);
                    assert!(a.description.len() < 100);
                    let size = 8 + a.item_name.len() + a.description.len() + 40;
                    assert_extra_len(a.extra.len(), size, 500);
                }
                Event::Bid(b) => {
                    assert!((100..=100_000_000).contains(&b.price));
                    assert!(b.url.starts_with("https://www.nexmark.com/"));
                    let hot = HOT_CHANNELS.contains(&b.channel.as_str());
                    assert!(hot || b.channel.starts_with("channel-"));
                    assert_extra_len(b.extra.len(), 32, 100);
                }
            }
        }
    }

    fn check_person(p: &Person) {
        let (first, last) = p.name.split_once(' ').expect("first and last name");
        assert!(FIRST_NAMES.contains(&first) && LAST_NAMES.contains(&last));
        let (user, domain) = p.email_address.split_once('@').expect("an @");
        assert!(domain.ends_with(".com"));
        assert!(!user.is_empty() && !user.starts_with(' ') && !user.ends_with(' '));
        let groups: Vec<&str> = p.credit_card.split(' ').collect();
        assert_eq!(groups.len(), 4);
        assert!(groups.iter().all(|g| g.len() == 4 && g.bytes().all(|c| c.is_ascii_digit())));
        assert!(US_CITIES.contains(&p.city.as_str()) && US_STATES.contains(&p.state.as_str()));
        let size = 8 + p.name.len() + p.email_address.len() + p.credit_card.len() + p.city.len() + p.state.len();
        assert_extra_len(p.extra.len(), size, 200);
    }

    /// `extra` brings the size to within ±20% of the average (Beam's `nextExtra`).
    fn assert_extra_len(extra: usize, current: usize, average: usize) {
        let desired = average.saturating_sub(current) as f64;
        let delta = (desired * 0.2).round();
        assert!((extra as f64) >= desired - delta && (extra as f64) < desired + delta.max(1.0));
        assert!(extra > 0 || desired == 0.0, "empty extra for desired size {desired}");
    }

    #[test]
    fn hot_auctions_bidders_and_channels_have_beams_frequencies() {
        let (mut bids, mut hot_auction, mut hot_bidder, mut hot_channel) = (0, 0, 0, 0);
        for event in NexmarkGenerator::new(bounded(200_000)) {
            if let Event::Bid(b) = event {
                bids += 1;
                hot_auction += i32::from((b.auction - FIRST_AUCTION_ID) % 100 == 0);
                hot_bidder += i32::from((b.bidder - FIRST_PERSON_ID) % 100 == 1);
                hot_channel += i32::from(HOT_CHANNELS.contains(&b.channel.as_str()));
            }
        }
        let share = |n: i32| f64::from(n) / f64::from(bids);
        // P(hot) = 1 - 1/ratio, plus the rare random picks that land on a hot id.
        assert!((share(hot_auction) - 0.5).abs() < 0.02, "{}", share(hot_auction));
        assert!((share(hot_bidder) - 0.75).abs() < 0.02, "{}", share(hot_bidder));
        assert!((share(hot_channel) - 0.5).abs() < 0.02, "{}", share(hot_channel));
    }

    #[test]
    fn events_round_trip_through_serde() {
        for event in NexmarkGenerator::new(bounded(60)) {
            let json = serde_json::to_string(&event).expect("serialize");
            let back: Event = serde_json::from_str(&json).expect("deserialize");
            assert_eq!(back, event);
        }
    }

    #[test]
    fn validate_accepts_defaults_and_rejects_what_beam_rejects() {
        assert_eq!(GeneratorConfig::default().validate(), Ok(()));
        let zero_ratio = GeneratorConfig { hot_bidders_ratio: 0, ..GeneratorConfig::default() };
        assert_eq!(zero_ratio.validate().map_err(|e| e.field), Err("hot_bidders_ratio"));
        let no_events_per_step = GeneratorConfig { next_event_rate: 5000, rate_period_sec: 0, ..GeneratorConfig::default() };
        assert!(no_events_per_step.validate().is_err());
        // The generator itself clamps instead of failing.
        let clamped = GeneratorConfig { max_events: Some(100), ..zero_ratio };
        assert_eq!(NexmarkGenerator::new(clamped).count(), 100);
        let degenerate = GeneratorConfig { max_events: Some(100), ..no_events_per_step };
        assert_eq!(NexmarkGenerator::new(degenerate).count(), 100);
    }

    #[test]
    fn config_deserializes_with_defaults_for_missing_fields() {
        let config: GeneratorConfig = serde_json::from_str(r#"{"seed": 3, "max_events": 10}"#).expect("valid json");
        assert_eq!(config, GeneratorConfig { seed: 3, max_events: Some(10), ..GeneratorConfig::default() });
    }
}
