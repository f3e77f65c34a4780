//! Query 1: currency conversion (Flink Nexmark's `q1.sql`).
//!
//! Converts each bid's price from dollars to euros.
//!
//! ```sql
//! INSERT INTO nexmark_q1  -- price DECIMAL(23, 3)
//! SELECT auction, bidder, 0.908 * price as price, dateTime, extra FROM bid;
//! ```
//!
//! `0.908` is a `DECIMAL(4, 3)` literal and `price` a `BIGINT` (`DECIMAL(19, 0)`), so the
//! product is the exact `DECIMAL(23, 3)` value `price * 908 / 1000`, without rounding. It is
//! computed in integers: [`Decimal3`] holds the unscaled value `price * 908` (thousandths
//! of a euro) in an `i128`, which cannot overflow for any `i64` price.
//!
//! The dataflow is one chained task per subtask: source → watermarks → a `flat_map` that
//! keeps the bids and converts them.

use std::fmt;

use serde::{Deserialize, Serialize};
use strom::connectors::nexmark::{Bid, Event};
use strom::prelude::*;

/// An exact decimal with three fractional digits (SQL `DECIMAL(p, 3)`), as its unscaled
/// value: `Decimal3 { unscaled: 1234 }` is `1.234`.
///
/// ```
/// use strom_examples::nexmark::q1::Decimal3;
/// assert_eq!(Decimal3 { unscaled: 908_000 }.to_string(), "908.000");
/// assert_eq!(Decimal3 { unscaled: 908 }.to_string(), "0.908");
/// assert_eq!(Decimal3 { unscaled: -5 }.to_string(), "-0.005");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Decimal3 {
    /// The value times 1000.
    pub unscaled: i128,
}

impl fmt::Display for Decimal3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.unscaled < 0 { "-" } else { "" };
        let abs = self.unscaled.unsigned_abs();
        write!(f, "{sign}{}.{:03}", abs / 1000, abs % 1000)
    }
}

/// The euro value of a dollar price: `0.908 * price`, exactly.
///
/// ```
/// use strom_examples::nexmark::q1::{dollars_to_euros, Decimal3};
/// assert_eq!(dollars_to_euros(1000), Decimal3 { unscaled: 908_000 });
/// assert_eq!(dollars_to_euros(12_345).to_string(), "11209.260");
/// ```
pub fn dollars_to_euros(price: i64) -> Decimal3 {
    Decimal3 { unscaled: i128::from(price) * 908 }
}

/// A q1 result row: a bid with its price in euros.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q1Row {
    /// Id of the auction bid on.
    pub auction: i64,
    /// Id of the bidder.
    pub bidder: i64,
    /// Price in euros.
    pub price: Decimal3,
    /// Event time, in milliseconds since the epoch.
    pub date_time: i64,
    /// Padding.
    pub extra: String,
}

impl Q1Row {
    /// The row of `bid`.
    pub fn of(bid: Bid) -> Self {
        Self { auction: bid.auction, bidder: bid.bidder, price: dollars_to_euros(bid.price), date_time: bid.date_time, extra: bid.extra }
    }
}

impl fmt::Display for Q1Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+I[{}, {}, {}, {}, {}]", self.auction, self.bidder, self.price, self.date_time, self.extra)
    }
}

/// The bids of `events`, prices in euros.
pub fn build(events: &DataStream<Event>) -> DataStream<Q1Row> {
    events.flat_map(convert).name("Q1 currency conversion")
}

/// Keeps a bid, converted.
fn convert(event: Event, out: &mut Collector<Q1Row>) {
    if let Event::Bid(bid) = event {
        out.collect(Q1Row::of(bid));
    }
}
