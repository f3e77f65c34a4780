//! The Nexmark benchmark on Strom: queries q0–q5, q7 and q8 of the Flink Nexmark suite
//! (`nexmark-flink/src/main/resources/queries/qN.sql`), each as a DataStream job and as a
//! bare single-threaded loop.
//!
//! All queries read one stream of [`Event`]s from [`NexmarkSource`] (Flink Nexmark's
//! `datagen` table, whose `person`, `auction` and `bid` views select one event kind each),
//! with event time `dateTime` and Flink Nexmark's watermark
//! `WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND`, emitted periodically
//! (`pipeline.auto-watermark-interval`); see [`with_watermarks`].
//!
//! | query | name | what it computes |
//! |-------|------|------------------|
//! | [`q0`] | pass through | every bid |
//! | [`q1`] | currency conversion | every bid, price in euros (`0.908 * price`, exact) |
//! | [`q2`] | selection | bids on every 123rd auction |
//! | [`q3`] | local item suggestion | incremental join: sellers in OR, ID or CA of category-10 auctions |
//! | [`q4`] | average price per category | join, max per auction, average per category: a changelog |
//! | [`q5`] | hot items | per sliding window (10 s every 2 s), the auctions with the most bids |
//! | [`q7`] | highest bid | per 10 s tumbling window, the bids with the highest price (two-phase) |
//! | [`q8`] | monitor new users | people who opened an auction in the 10 s window they registered in |
//!
//! Each query module documents its SQL, its semantics and how the dataflow computes it.
//! [`bare`] computes the same results in plain loops over the generator, without the runtime:
//! the baseline of the benchmark (`benches/nexmark.rs`) and the independent reference of
//! the tests. The `nexmark` binary runs one query: `nexmark --query q5 --events 1000000`.
//!
//! Result rows print as Flink prints rows: `+I[1000, 1001, 12345, 1436918400000, abc]`
//! (timestamps as milliseconds since the epoch).
//!
//! ```
//! use strom::connectors::nexmark::GeneratorConfig;
//! use strom::prelude::*;
//! use strom_examples::nexmark::{self, q2};
//!
//! let env = StreamEnv::new();
//! let config = GeneratorConfig { max_events: Some(10_000), ..GeneratorConfig::default() };
//! let out = CollectSink::new();
//! q2::build(&nexmark::events(&env, &config)).sink(out.clone());
//! env.execute("q2")?;
//! assert!(out.values().iter().all(|row| row.auction % 123 == 0));
//! # Ok::<(), strom::Error>(())
//! ```

pub mod bare;
pub mod q0;
pub mod q1;
pub mod q2;
pub mod q3;
pub mod q4;
pub mod q5;
pub mod q7;
pub mod q8;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strom::connectors::nexmark::{Bid, Event, GeneratorConfig, NexmarkSource};
use strom::connectors::{BlackholeSink, FileSink};
use strom::prelude::*;

/// Flink Nexmark's watermark delay: `WATERMARK FOR dateTime AS dateTime - INTERVAL '4' SECOND`.
pub const WATERMARK_DELAY_MS: i64 = 4_000;

/// One of the implemented Nexmark queries.
///
/// ```
/// use strom_examples::nexmark::Query;
/// let q: Query = "q5".parse().unwrap();
/// assert_eq!(q, Query::Q5);
/// assert_eq!(q.to_string(), "q5");
/// assert!("q6".parse::<Query>().unwrap_err().to_string().contains("q0, q1, q2, q3, q4, q5, q7, q8"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Query {
    /// Pass through.
    Q0,
    /// Currency conversion.
    Q1,
    /// Selection.
    Q2,
    /// Local item suggestion.
    Q3,
    /// Average price for a category.
    Q4,
    /// Hot items.
    Q5,
    /// Highest bid.
    Q7,
    /// Monitor new users.
    Q8,
}

impl Query {
    /// Every implemented query, in order.
    pub const ALL: [Query; 8] = [Query::Q0, Query::Q1, Query::Q2, Query::Q3, Query::Q4, Query::Q5, Query::Q7, Query::Q8];

    /// The query's name: `q0`, `q1`, ...
    pub fn name(self) -> &'static str {
        match self {
            Query::Q0 => "q0",
            Query::Q1 => "q1",
            Query::Q2 => "q2",
            Query::Q3 => "q3",
            Query::Q4 => "q4",
            Query::Q5 => "q5",
            Query::Q7 => "q7",
            Query::Q8 => "q8",
        }
    }

    /// The names of all queries, comma-separated.
    pub fn valid_names() -> String {
        Query::ALL.map(Query::name).join(", ")
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A query name that is not one of [`Query::ALL`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownQuery(pub String);

impl fmt::Display for UnknownQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown Nexmark query '{}' (valid queries: {})", self.0, Query::valid_names())
    }
}

impl std::error::Error for UnknownQuery {}

impl FromStr for Query {
    type Err = UnknownQuery;

    /// Parses `q0`, `Q0`, ... .
    fn from_str(s: &str) -> Result<Self, UnknownQuery> {
        Query::ALL.into_iter().find(|q| q.name().eq_ignore_ascii_case(s)).ok_or_else(|| UnknownQuery(s.to_string()))
    }
}

/// The generator configuration of a bounded run: Flink Nexmark's defaults (10,000 events
/// per second of event time, Beam's proportions and hot ratios), `events` events in total.
pub fn generator_config(events: u64) -> GeneratorConfig {
    GeneratorConfig { max_events: Some(events), ..GeneratorConfig::default() }
}

/// The watermark strategy of every query: timestamps are the events' `date_time`, the
/// watermark is `max(date_time) - 4 s`, emitted periodically.
///
/// Flink SQL's watermark is the expression's value, `max - 4000` ms; Strom's (and Flink's
/// DataStream) bounded-out-of-orderness strategy emits `max - bound - 1`, hence the bound
/// of 3999 ms.
pub fn watermark_strategy() -> WatermarkStrategy<Event> {
    let bound = Duration::from_millis(WATERMARK_DELAY_MS.unsigned_abs() - 1);
    WatermarkStrategy::for_bounded_out_of_orderness(bound).with_timestamp_assigner(|event: &Event, _| event.timestamp())
}

/// `events` with Nexmark's timestamps and watermarks ([`watermark_strategy`]).
pub fn with_watermarks(events: &DataStream<Event>) -> DataStream<Event> {
    events.assign_timestamps_and_watermarks(watermark_strategy()).name("Nexmark watermarks")
}

/// The Nexmark event stream of `config`, with timestamps and watermarks: the input of
/// every query.
pub fn events(env: &StreamEnv, config: &GeneratorConfig) -> DataStream<Event> {
    with_watermarks(&env.add_source("Nexmark", NexmarkSource::new(config.clone())).uid("nexmark-source"))
}

/// A bid's columns that Flink Nexmark's `bid` view has: the output row of q0, and the
/// bids q7 selects.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BidRow {
    /// Id of the auction bid on.
    pub auction: i64,
    /// Id of the bidder.
    pub bidder: i64,
    /// Price in dollars.
    pub price: i64,
    /// Event time, in milliseconds since the epoch.
    pub date_time: i64,
    /// Padding.
    pub extra: String,
}

impl From<Bid> for BidRow {
    fn from(bid: Bid) -> Self {
        Self { auction: bid.auction, bidder: bid.bidder, price: bid.price, date_time: bid.date_time, extra: bid.extra }
    }
}

impl fmt::Display for BidRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+I[{}, {}, {}, {}, {}]", self.auction, self.bidder, self.price, self.date_time, self.extra)
    }
}

/// The kind of a change in a changelog stream (Flink's `RowKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RowKind {
    /// A new row (`+I`).
    Insert,
    /// The old value of an updated row (`-U`).
    UpdateBefore,
    /// The new value of an updated row (`+U`).
    UpdateAfter,
}

impl fmt::Display for RowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RowKind::Insert => "+I",
            RowKind::UpdateBefore => "-U",
            RowKind::UpdateAfter => "+U",
        })
    }
}

/// What a query's result rows must be: data that prints as one line.
pub trait Row: Data + fmt::Display {}
impl<T: Data + fmt::Display> Row for T {}

/// Where a query's rows go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Discard them (Flink Nexmark's `blackhole` connector).
    Discard,
    /// Write them as text lines into part files in this directory.
    Files(PathBuf),
}

impl Output {
    /// Ends `rows` in this output.
    pub fn attach<T: Row>(&self, rows: &DataStream<T>) {
        let sink = match self {
            Output::Discard => rows.sink(BlackholeSink::new()),
            Output::Files(dir) => rows.sink(FileSink::lines(dir)),
        };
        drop(sink.name("Nexmark results").uid("nexmark-sink"));
    }
}

/// Builds `query` over the events of `config` in `env`, sending its rows to `output`.
pub fn build(env: &StreamEnv, query: Query, config: &GeneratorConfig, output: &Output) {
    let events = events(env, config);
    match query {
        Query::Q0 => output.attach(&q0::build(&events)),
        Query::Q1 => output.attach(&q1::build(&events)),
        Query::Q2 => output.attach(&q2::build(&events)),
        Query::Q3 => output.attach(&q3::build(&events)),
        Query::Q4 => output.attach(&q4::build(&events)),
        Query::Q5 => output.attach(&q5::build(&events)),
        Query::Q7 => output.attach(&q7::build(&events)),
        Query::Q8 => output.attach(&q8::build(&events)),
    }
}

/// Events per second of a run of `events` events that took `elapsed`, rounded.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(strom_examples::nexmark::events_per_sec(3_000, Duration::from_millis(1500)), 2_000);
/// assert_eq!(strom_examples::nexmark::events_per_sec(5, Duration::ZERO), 0);
/// ```
pub fn events_per_sec(events: u64, elapsed: Duration) -> u64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        (events as f64 / secs).round() as u64
    } else {
        0
    }
}
