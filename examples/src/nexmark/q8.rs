//! Query 8: monitor new users (Flink Nexmark's `q8.sql`).
//!
//! Who registered and opened an auction in the same period? Per tumbling window of 10 s
//! (the original query: 12 hours), the people created in the window who also created an
//! auction in it.
//!
//! ```sql
//! INSERT INTO nexmark_q8
//! SELECT P.id, P.name, P.starttime
//! FROM (
//!   SELECT id, name, window_start AS starttime, window_end AS endtime
//!   FROM TABLE(TUMBLE(TABLE person, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
//!   GROUP BY id, name, window_start, window_end
//! ) P
//! JOIN (
//!   SELECT seller, window_start AS starttime, window_end AS endtime
//!   FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
//!   GROUP BY seller, window_start, window_end
//! ) A
//! ON P.id = A.seller AND P.starttime = A.starttime AND P.endtime = A.endtime;
//! ```
//!
//! Both sides are grouped per window before the join, so a person is reported once per
//! window however many auctions they opened in it.
//!
//! The dataflow is a window join: a `flat_map` projects people to `(id, name)` and
//! auctions to their seller, in one stream (the union of the join's inputs), keyed by
//! person id; tumbling 10 s event-time windows aggregate each key's elements into the
//! person's name (if the person was created in the window) and whether they opened an
//! auction in it, and emit the person when both hold. Aggregating instead of buffering both
//! sides (as `join(..).window(..).apply(..)` does) keeps one small accumulator per person
//! and window, and groups the auctions as the SQL does.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strom::connectors::nexmark::Event;
use strom::prelude::*;

/// Window size: 10 s.
pub const WINDOW_SIZE_MS: i64 = 10_000;

/// A q8 result row: a person who opened an auction in the window they registered in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q8Row {
    /// The person's id.
    pub id: i64,
    /// The person's name.
    pub name: String,
    /// The window's start, in milliseconds since the epoch.
    pub start_time: i64,
}

impl fmt::Display for Q8Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+I[{}, {}, {}]", self.id, self.name, self.start_time)
    }
}

/// A person or an auction, as the join sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Q8Input {
    Person { id: i64, name: String },
    Auction { seller: i64 },
}

impl Q8Input {
    /// The join key: the person's id, or the auction's seller.
    fn person(&self) -> i64 {
        match self {
            Q8Input::Person { id, .. } => *id,
            Q8Input::Auction { seller } => *seller,
        }
    }
}

/// The new users of `events` who opened an auction, per 10 s window.
pub fn build(events: &DataStream<Event>) -> DataStream<Q8Row> {
    events
        .flat_map(|event: Event, out: &mut Collector<Q8Input>| match event {
            Event::Person(p) => out.collect(Q8Input::Person { id: p.id, name: p.name }),
            Event::Auction(a) => out.collect(Q8Input::Auction { seller: a.seller }),
            Event::Bid(_) => {}
        })
        .name("Q8 people and sellers")
        .key_by(Q8Input::person)
        .window(WindowAssigner::tumbling_event_time(Duration::from_millis(WINDOW_SIZE_MS.unsigned_abs())))
        .aggregate_with(NewSeller, |id: &i64, window: TimeWindow, name: Option<String>, out: &mut Collector<Q8Row>| {
            if let Some(name) = name {
                out.collect(Q8Row { id: *id, name, start_time: window.start });
            }
        })
        .name("Q8 window join")
        .uid("q8-join")
}

/// A person's window: their name if they registered in it, and whether they opened an
/// auction in it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct PersonWindow {
    name: Option<String>,
    opened_auction: bool,
}

/// Aggregates a person's window; the result is their name if they both registered and
/// opened an auction in it.
#[derive(Debug, Clone, Copy)]
struct NewSeller;

impl AggregateFunction<Q8Input> for NewSeller {
    type Acc = PersonWindow;
    type Out = Option<String>;
    fn create_accumulator(&self) -> PersonWindow {
        PersonWindow::default()
    }
    fn add(&self, input: Q8Input, acc: &mut PersonWindow) {
        match input {
            Q8Input::Person { name, .. } => acc.name = Some(name),
            Q8Input::Auction { .. } => acc.opened_auction = true,
        }
    }
    fn get_result(&self, acc: &PersonWindow) -> Option<String> {
        acc.name.clone().filter(|_| acc.opened_auction)
    }
    fn merge(&self, acc: &mut PersonWindow, other: PersonWindow) {
        acc.name = acc.name.take().or(other.name);
        acc.opened_auction |= other.opened_auction;
    }
}
