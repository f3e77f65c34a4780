//! Query 5: hot items (Flink Nexmark's `q5.sql`).
//!
//! Which auctions have seen the most bids in the last period? Per sliding window of 10 s
//! every 2 s (the original query: one hour every minute), the auctions with the highest
//! number of bids, ties included.
//!
//! ```sql
//! INSERT INTO nexmark_q5
//! SELECT AuctionBids.auction, AuctionBids.num
//!  FROM (
//!    SELECT auction, count(*) AS num, window_start AS starttime, window_end AS endtime
//!    FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
//!    GROUP BY auction, window_start, window_end
//!  ) AS AuctionBids
//!  JOIN (
//!    SELECT max(CountBids.num) AS maxn, CountBids.starttime, CountBids.endtime
//!    FROM (
//!      SELECT count(*) AS num, window_start AS starttime, window_end AS endtime
//!      FROM TABLE(HOP(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
//!      GROUP BY auction, window_start, window_end
//!    ) AS CountBids
//!    GROUP BY CountBids.starttime, CountBids.endtime
//!  ) AS MaxBids
//!  ON AuctionBids.starttime = MaxBids.starttime AND
//!     AuctionBids.endtime = MaxBids.endtime AND
//!     AuctionBids.num >= MaxBids.maxn;
//! ```
//!
//! Rows carry the window's end besides the sink's `(auction, num)`, so that results can be
//! checked window by window.
//!
//! The dataflow:
//! 1. a `flat_map` keeps the bids' auction ids;
//! 2. keyed by auction, sliding event-time windows (10 s, slide 2 s) count the bids and
//!    emit `(window end, auction, count)` when the watermark passes the window, with the
//!    window's max timestamp (`end - 1`) as timestamp;
//! 3. keyed by window end, tumbling 2 s windows (which hold exactly the counts of one
//!    sliding window, all timestamped `end - 1`) keep the highest count and the auctions
//!    that have it, and emit them when the watermark passes.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use strom::connectors::nexmark::Event;
use strom::prelude::*;

/// Window size: 10 s.
pub const WINDOW_SIZE_MS: i64 = 10_000;
/// Window slide: 2 s.
pub const WINDOW_SLIDE_MS: i64 = 2_000;

/// A q5 result row: an auction with the most bids in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q5Row {
    /// The auction.
    pub auction: i64,
    /// Its number of bids in the window: the window's highest.
    pub num: i64,
    /// The window's end (exclusive), in milliseconds since the epoch.
    pub window_end: i64,
}

impl fmt::Display for Q5Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+I[{}, {}, {}]", self.auction, self.num, self.window_end)
    }
}

/// The number of bids on an auction in a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct AuctionCount {
    window_end: i64,
    auction: i64,
    num: i64,
}

/// The hot auctions of `events`' bids, per sliding window.
pub fn build(events: &DataStream<Event>) -> DataStream<Q5Row> {
    let size = Duration::from_millis(WINDOW_SIZE_MS.unsigned_abs());
    let slide = Duration::from_millis(WINDOW_SLIDE_MS.unsigned_abs());
    events
        .flat_map(|event: Event, out: &mut Collector<i64>| {
            if let Event::Bid(bid) = event {
                out.collect(bid.auction);
            }
        })
        .name("Q5 bid auctions")
        .key_by(|auction: &i64| *auction)
        .window(WindowAssigner::sliding_event_time(size, slide))
        .aggregate_with(CountBids, |auction: &i64, window: TimeWindow, num: i64, out: &mut Collector<AuctionCount>| {
            out.collect(AuctionCount { window_end: window.end, auction: *auction, num });
        })
        .name("Q5 bids per auction")
        .uid("q5-count")
        .key_by(|count: &AuctionCount| count.window_end)
        .window(WindowAssigner::tumbling_event_time(slide))
        .aggregate_with(MostBids, |window_end: &i64, _: TimeWindow, hot: HotAuctions, out: &mut Collector<Q5Row>| {
            for auction in hot.auctions {
                out.collect(Q5Row { auction, num: hot.num, window_end: *window_end });
            }
        })
        .name("Q5 hot auctions")
        .uid("q5-max")
}

/// `count(*)`.
#[derive(Debug, Clone, Copy)]
struct CountBids;

impl AggregateFunction<i64> for CountBids {
    type Acc = i64;
    type Out = i64;
    fn create_accumulator(&self) -> i64 {
        0
    }
    fn add(&self, _auction: i64, acc: &mut i64) {
        *acc += 1;
    }
    fn get_result(&self, acc: &i64) -> i64 {
        *acc
    }
    fn merge(&self, acc: &mut i64, other: i64) {
        *acc += other;
    }
}

/// The highest count of a window and the auctions that have it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct HotAuctions {
    num: i64,
    auctions: Vec<i64>,
}

/// Keeps the auctions with the highest count (`num >= max(num)`).
#[derive(Debug, Clone, Copy)]
struct MostBids;

impl AggregateFunction<AuctionCount> for MostBids {
    type Acc = HotAuctions;
    type Out = HotAuctions;
    fn create_accumulator(&self) -> HotAuctions {
        HotAuctions::default()
    }
    fn add(&self, count: AuctionCount, acc: &mut HotAuctions) {
        if count.num > acc.num {
            acc.num = count.num;
            acc.auctions.clear();
        }
        if count.num == acc.num {
            acc.auctions.push(count.auction);
        }
    }
    fn get_result(&self, acc: &HotAuctions) -> HotAuctions {
        acc.clone()
    }
    fn merge(&self, acc: &mut HotAuctions, other: HotAuctions) {
        if other.num > acc.num {
            *acc = other;
        } else if other.num == acc.num {
            acc.auctions.extend(other.auctions);
        }
    }
}
