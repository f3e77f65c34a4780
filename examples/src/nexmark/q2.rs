//! Query 2: selection (Flink Nexmark's `q2.sql`).
//!
//! The bids on every 123rd auction, with their price. (The original Nexmark query selects
//! five fixed auction ids, which yields only a few hundred results on any stream.)
//!
//! ```sql
//! INSERT INTO nexmark_q2
//! SELECT auction, price FROM bid WHERE MOD(auction, 123) = 0;
//! ```
//!
//! The dataflow is one chained task per subtask: source → watermarks → a `flat_map` that
//! keeps the selected bids.

use std::fmt;

use serde::{Deserialize, Serialize};
use strom::connectors::nexmark::Event;
use strom::prelude::*;

/// Every `AUCTION_MODULUS`th auction is selected.
pub const AUCTION_MODULUS: i64 = 123;

/// A q2 result row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q2Row {
    /// Id of the auction bid on; a multiple of 123.
    pub auction: i64,
    /// Price in dollars.
    pub price: i64,
}

impl fmt::Display for Q2Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+I[{}, {}]", self.auction, self.price)
    }
}

/// Whether q2 selects bids on `auction` (`MOD(auction, 123) = 0`).
///
/// ```
/// use strom_examples::nexmark::q2::selects;
/// assert!(selects(0) && selects(123) && selects(-246));
/// assert!(!selects(1) && !selects(124));
/// ```
pub fn selects(auction: i64) -> bool {
    auction % AUCTION_MODULUS == 0
}

/// The selected bids of `events`.
pub fn build(events: &DataStream<Event>) -> DataStream<Q2Row> {
    events.flat_map(select).name("Q2 selection")
}

/// Keeps a selected bid.
fn select(event: Event, out: &mut Collector<Q2Row>) {
    if let Event::Bid(bid) = event {
        if selects(bid.auction) {
            out.collect(Q2Row { auction: bid.auction, price: bid.price });
        }
    }
}
