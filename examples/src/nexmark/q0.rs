//! Query 0: pass through (not in the original suite; Flink Nexmark's `q0.sql`).
//!
//! Measures the cost of the runtime itself: the source, the watermarks, one projection and
//! the sink.
//!
//! ```sql
//! INSERT INTO nexmark_q0
//! SELECT auction, bidder, price, dateTime, extra FROM bid;
//! ```
//!
//! The dataflow is one chained task per subtask: source → watermarks → a `flat_map` that
//! keeps the bids and projects them to [`BidRow`].

use strom::connectors::nexmark::Event;
use strom::prelude::*;

use super::BidRow;

/// The bids of `events`, projected to q0's columns.
pub fn build(events: &DataStream<Event>) -> DataStream<BidRow> {
    events.flat_map(project).name("Q0 bids")
}

/// Keeps a bid, as a [`BidRow`].
fn project(event: Event, out: &mut Collector<BidRow>) {
    if let Event::Bid(bid) = event {
        out.collect(BidRow::from(bid));
    }
}
