//! The Nexmark benchmark's event generator: an auction site's people, auctions and bids.
//!
//! This is a port of the standard generator of Apache Beam's Nexmark suite
//! (`org.apache.beam.sdk.nexmark.sources.generator`), which the Flink Nexmark suite also
//! uses. Out of every 50 events, event 0 is a [`Person`], events 1-3 are [`Auction`]s
//! and events 4-49 are [`Bid`]s. Every field is drawn with Beam's distributions from a
//! `java.util.Random` seeded with the event id, and `java.util.Random` is ported bit for
//! bit, so with `seed == 0` the generator reproduces the people, auctions and bids of
//! Beam's `Generator` for the same configuration (Beam's bids have no channel or URL;
//! see below). [`GeneratorConfig::default`] carries Beam's `NexmarkConfiguration`
//! defaults.
//!
//! ```
//! use strom_connectors::nexmark::{Event, GeneratorConfig, NexmarkGenerator};
//!
//! let config = GeneratorConfig { max_events: Some(100), ..GeneratorConfig::default() };
//! let events: Vec<Event> = NexmarkGenerator::new(config).collect();
//! assert_eq!(events.len(), 100);
//! assert!(matches!(events[0], Event::Person(_)));
//! ```
//!
//! # Differences from Beam
//!
//! - **Deterministic time.** Event time starts at
//!   [`GeneratorConfig::base_time_ms`] (default 2015-07-15T00:00:00Z, Beam's `BASE_TIME`)
//!   and advances by the configured inter-event delay; there is no wall-clock mode. The
//!   generator does no pacing or artificial delays (Beam's `isRateLimited`,
//!   `probDelayedEvent`): it produces events as fast as it is asked for them.
//! - **Seed.** [`GeneratorConfig::seed`] is xor-ed into every event's `java.util.Random`
//!   seed; 0 reproduces Beam.
//! - **Splitting.** Beam splits the event-id range into contiguous chunks, each on its own
//!   timeline. Here subtask `i` of `n` ([`NexmarkGenerator::split`]) generates the global
//!   event numbers `i, i + n, i + 2n, ...`: the union over all subtasks is exactly the
//!   unsplit stream, and the subtasks' event times advance together. Because all
//!   subtasks share one timeline, [`GeneratorConfig::num_event_generators`] defaults to 1
//!   (Beam: 100), so that event time advances at the configured overall rate.
//! - **Bound.** [`GeneratorConfig::max_events`] of `None` is unbounded (Beam caps the
//!   event count to avoid overflowing its size estimates).
//! - **Channel and URL.** Bids carry the `channel` and `url` of Flink Nexmark's schema,
//!   with Flink's distribution: with probability 1/2 one of four hot channels (`Google`,
//!   `Facebook`, `Baidu`, `Apple`), otherwise `channel-N` for `N` uniform in
//!   `0..10_000`, whose URL carries `&channel_id=` 9 times in 10. They are drawn from the
//!   event's random stream after all of Beam's bid fields, so Beam's fields are
//!   unchanged (Flink draws them before `extra`; its generator is not seeded per event,
//!   so there is no reproducible Flink stream to match). URLs are derived from the
//!   channel number and the seed, where Flink uses an unseeded `Random`.
//! - **Invalid configs.** Values Beam would throw on (zero ratios or rates) are clamped;
//!   [`GeneratorConfig::validate`] reports them. The inter-event delay is at least 1µs.
//!
//! Java's `Math.pow` and `Math.cos` may differ from Rust's in the last bit, which could
//! in principle change a rounded price or a sine-shaped delay; it has not been observed.

mod generator;
mod model;
mod source;

pub use generator::{
    GeneratorConfig, NexmarkConfigError, NexmarkGenerator, RateShape, RateUnit, AUCTION_PROPORTION, BID_PROPORTION, DEFAULT_BASE_TIME_MS,
    FIRST_AUCTION_ID, FIRST_CATEGORY_ID, FIRST_PERSON_ID, PERSON_PROPORTION, PROPORTION_DENOMINATOR,
};
pub use model::{Auction, Bid, Event, Person};
pub use source::NexmarkSource;
