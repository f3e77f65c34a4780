//! Query 7: highest bid (Flink Nexmark's `q7.sql`).
//!
//! What are the highest bids per period? Per tumbling window of 10 s (the original query:
//! one minute), the bids with the window's highest price.
//!
//! ```sql
//! INSERT INTO nexmark_q7
//! SELECT B.auction, B.price, B.bidder, B.dateTime, B.extra
//! from bid B
//! JOIN (
//!   SELECT MAX(price) AS maxprice, window_end as dateTime
//!   FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
//!   GROUP BY window_start, window_end
//! ) B1
//! ON B.price = B1.maxprice
//! WHERE B.dateTime BETWEEN B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime;
//! ```
//!
//! `BETWEEN` includes both ends, so a window `[start, end)` joins the bids of
//! `[start, end]`: a bid at exactly `end` (the first millisecond of the next window) whose
//! price equals the window's maximum is a result of the window too, and can be one of
//! both windows. This implementation keeps that edge. Rows carry the window's end (the
//! SQL's `B1.dateTime`) besides the bid's columns. (The SQL lists `B.price, B.bidder` in
//! the order of the sink's `bidder, price`; rows here keep each value in its own column.)
//!
//! The dataflow is a two-phase aggregation, so that it scales with the parallelism:
//! 1. local phase, chained to each source subtask (no shuffle of bids): an [`Operator`]
//!    (`LocalHighestBids`) keeps, per window, the subtask's highest price, the bids with
//!    it, and the bids at the window's end; when the watermark reaches the window's end it
//!    emits this partial result, timestamped with the end;
//! 2. global phase, keyed by window end: a [`KeyedProcessFunction`] (`GlobalHighestBids`)
//!    merges the partial results of all subtasks and, when the watermark reaches the end
//!    (so every subtask's partial result has arrived), emits the bids with the highest
//!    price.
//!
//! Only one small record per window and subtask crosses the network, instead of every bid.
//! The local phase keeps its open windows (at most two per subtask) in operator list state,
//! one entry per window: partial results merge, so after a restore at any parallelism any
//! subtask may continue any window. Late bids (none: the generator emits in order) are
//! dropped, as the window aggregation drops them.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use strom::checkpoint::{CheckpointId, OperatorRestore, OperatorSnapshot};
use strom::connectors::nexmark::Event;
use strom::prelude::*;
use strom::time::windows::window_start;
use strom::{Timestamp, MIN_TIMESTAMP};

use super::BidRow;

/// Window size: 10 s.
pub const WINDOW_SIZE_MS: i64 = 10_000;

/// A q7 result row: a bid with the highest price of its window.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q7Row {
    /// Id of the auction bid on.
    pub auction: i64,
    /// Id of the bidder.
    pub bidder: i64,
    /// Price in dollars: the window's highest.
    pub price: i64,
    /// Event time, in `[window_end - 10 s, window_end]`.
    pub date_time: i64,
    /// Padding.
    pub extra: String,
    /// The window's end, in milliseconds since the epoch.
    pub window_end: i64,
}

impl Q7Row {
    /// The row of `bid` in the window ending at `window_end`.
    pub fn of(bid: BidRow, window_end: i64) -> Self {
        Self { auction: bid.auction, bidder: bid.bidder, price: bid.price, date_time: bid.date_time, extra: bid.extra, window_end }
    }
}

impl fmt::Display for Q7Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+I[{}, {}, {}, {}, {}, {}]", self.auction, self.bidder, self.price, self.date_time, self.extra, self.window_end)
    }
}

/// The end of the tumbling window holding `ts`.
fn window_end_of(ts: Timestamp) -> Timestamp {
    window_start(ts, 0, WINDOW_SIZE_MS) + WINDOW_SIZE_MS
}

/// The highest bids of `events`, per 10 s window.
pub fn build(events: &DataStream<Event>) -> DataStream<Q7Row> {
    events
        .flat_map(|event: Event, out: &mut Collector<BidRow>| {
            if let Event::Bid(bid) = event {
                out.collect(BidRow::from(bid));
            }
        })
        .name("Q7 bids")
        .transform("Q7 local highest bids", |_: &TaskInfo| LocalHighestBids::default())
        .key_by(|partial: &WindowHighestBids| partial.window_end)
        .process(GlobalHighestBids::new())
        .name("Q7 global highest bids")
        .uid("q7-global")
}

/// What one subtask (or, merged, all) saw of a window `[window_end - 10 s, window_end)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct WindowHighestBids {
    window_end: i64,
    /// The highest price of the window's bids; `None` if it had none.
    max_price: Option<i64>,
    /// The window's bids with `max_price`.
    at_max: Vec<BidRow>,
    /// Bids at exactly `window_end`, which join the window if they have its highest price.
    at_end: Vec<BidRow>,
}

impl WindowHighestBids {
    fn new(window_end: i64) -> Self {
        Self { window_end, max_price: None, at_max: Vec::new(), at_end: Vec::new() }
    }

    /// Adds a bid of the window.
    fn add(&mut self, bid: BidRow) {
        match self.max_price {
            Some(max) if bid.price < max => return,
            Some(max) if bid.price == max => {}
            _ => {
                self.max_price = Some(bid.price);
                self.at_max.clear();
            }
        }
        self.at_max.push(bid);
    }

    /// Adds the bids another subtask saw.
    fn merge(&mut self, other: WindowHighestBids) {
        if let Some(max) = other.max_price {
            match self.max_price {
                Some(own) if max < own => {}
                Some(own) if max == own => self.at_max.extend(other.at_max),
                _ => {
                    self.max_price = other.max_price;
                    self.at_max = other.at_max;
                }
            }
        }
        self.at_end.extend(other.at_end);
        self.drop_cheap_end_bids();
    }

    /// Drops bids at the end below the highest price: they can no longer join.
    fn drop_cheap_end_bids(&mut self) {
        if let Some(max) = self.max_price {
            self.at_end.retain(|bid| bid.price >= max);
        }
    }

    /// The result rows: the bids of `[start, end]` with the window's highest price.
    fn into_rows(self) -> impl Iterator<Item = Q7Row> {
        let window_end = self.window_end;
        let max = self.max_price;
        let at_end = self.at_end.into_iter().filter(move |bid| Some(bid.price) == max);
        // Without bids in the window, the window has no row to join with: no results.
        let at_max = if max.is_some() { self.at_max } else { Vec::new() };
        at_max.into_iter().chain(at_end).map(move |bid| Q7Row::of(bid, window_end))
    }
}

/// The local phase: per window, this subtask's highest bids, emitted when the watermark
/// reaches the window's end.
#[derive(Debug, Default)]
struct LocalHighestBids {
    /// Open windows by end.
    windows: BTreeMap<i64, WindowHighestBids>,
    watermark: Option<Timestamp>,
}

impl LocalHighestBids {
    fn window(&mut self, window_end: i64) -> &mut WindowHighestBids {
        self.windows.entry(window_end).or_insert_with(|| WindowHighestBids::new(window_end))
    }
}

impl Operator for LocalHighestBids {
    type In = BidRow;
    type Out = WindowHighestBids;

    fn process(&mut self, record: Record<BidRow>, _: &mut Collector<WindowHighestBids>, _: &mut OperatorContext<'_>) -> Result<()> {
        let ts = record.ts;
        if ts <= self.watermark.unwrap_or(MIN_TIMESTAMP) {
            return Ok(()); // Late: its window (and the one ending at `ts`) was emitted.
        }
        let end = window_end_of(ts);
        if end - WINDOW_SIZE_MS == ts {
            // The first millisecond of a window is the inclusive end of the previous one.
            self.window(ts).at_end.push(record.value.clone());
        }
        self.window(end).add(record.value);
        Ok(())
    }

    fn snapshot_state(&mut self, _: CheckpointId) -> Result<OperatorSnapshot> {
        let list = self
            .windows
            .values()
            .map(|w| bincode::serde::encode_to_vec(w, bincode::config::standard()).map_err(|e| Error::Serialization(e.to_string())))
            .collect::<Result<_>>()?;
        let union = self.watermark.map(|w| w.to_le_bytes().to_vec()).into_iter().collect();
        Ok(OperatorSnapshot { list, union, ..OperatorSnapshot::default() })
    }

    fn restore_state(&mut self, state: OperatorRestore) -> Result<()> {
        for entry in &state.list {
            let partial: WindowHighestBids = bincode::serde::decode_from_slice(entry, bincode::config::standard())
                .map_err(|e| Error::Serialization(format!("q7's open windows in the checkpoint: {e}")))?
                .0;
            let end = partial.window_end;
            self.window(end).merge(partial);
        }
        // Every old subtask's watermark; the smallest is safe.
        self.watermark = state.union.iter().filter_map(|b| b.as_slice().try_into().ok().map(i64::from_le_bytes)).min();
        Ok(())
    }

    fn on_watermark(&mut self, watermark: Timestamp, out: &mut Collector<WindowHighestBids>, _: &mut OperatorContext<'_>) -> Result<()> {
        self.watermark = Some(watermark);
        // Windows whose inclusive end the watermark has reached are complete.
        let open = self.windows.split_off(&watermark.saturating_add(1));
        for (end, mut partial) in std::mem::replace(&mut self.windows, open) {
            partial.drop_cheap_end_bids();
            out.collect_at(end, partial);
        }
        Ok(())
    }
}

/// The global phase, keyed by window end: merges the partial results and emits the
/// window's highest bids when the watermark reaches its end.
#[derive(Debug, Clone)]
struct GlobalHighestBids {
    partial: ValueState<WindowHighestBids>,
}

impl GlobalHighestBids {
    fn new() -> Self {
        Self { partial: ValueState::new("window-highest-bids") }
    }
}

impl KeyedProcessFunction<i64, WindowHighestBids, Q7Row> for GlobalHighestBids {
    fn process_element(&mut self, partial: WindowHighestBids, ctx: &mut KeyedContext<'_, i64>, _: &mut Collector<Q7Row>) -> FnResult {
        let window_end = partial.window_end;
        self.partial.modify(ctx, || WindowHighestBids::new(window_end), |merged| merged.merge(partial));
        ctx.register_event_time_timer(window_end);
        Ok(())
    }

    fn on_timer(&mut self, _: Timestamp, _: TimeDomain, ctx: &mut KeyedContext<'_, i64>, out: &mut Collector<Q7Row>) -> FnResult {
        if let Some(merged) = self.partial.get(ctx) {
            self.partial.clear(ctx);
            merged.into_rows().for_each(|row| out.collect(row));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use strom_runtime::operators::testing::OneInputHarness;

    use super::*;

    fn bid(price: i64, date_time: i64) -> BidRow {
        BidRow { auction: price % 3, bidder: price, price, date_time, extra: String::new() }
    }

    /// The open windows survive a snapshot and a restore split over two subtasks: merged
    /// downstream, the partial results equal those of an uninterrupted run.
    #[test]
    fn local_phase_restores_its_open_windows_rescaled() {
        let bids: Vec<(i64, BidRow)> = (0..40).map(|i| (i * 700, bid((i * 37) % 101, i * 700))).collect();
        let (before, after) = bids.split_at(25);
        let mut full = OneInputHarness::new(LocalHighestBids::default());
        full.process_all(before.to_vec());
        let snapshot = full.snapshot();
        assert!(!snapshot.list.is_empty());
        full.process_all(after.to_vec());
        full.watermark(i64::MAX);
        let want = merged(full.take_output());

        let half = snapshot.list.len() / 2;
        let mut got = Vec::new();
        for (subtask, list) in [snapshot.list[..half].to_vec(), snapshot.list[half..].to_vec()].into_iter().enumerate() {
            let state = OperatorRestore { list, union: snapshot.union.clone(), ..OperatorRestore::default() };
            let mut h = OneInputHarness::restored(LocalHighestBids::default(), state, subtask as u32, 2);
            if subtask == 0 {
                h.process_all(after.to_vec());
            }
            h.watermark(i64::MAX);
            got.extend(h.take_output());
        }
        assert_eq!(merged(got), want);
    }

    /// Partial results merged per window, as the global phase does.
    fn merged(partials: Vec<(i64, WindowHighestBids)>) -> Vec<(i64, Option<i64>, Vec<i64>)> {
        let mut by_end: BTreeMap<i64, WindowHighestBids> = BTreeMap::new();
        for (_, p) in partials {
            match by_end.remove(&p.window_end) {
                Some(mut w) => {
                    w.merge(p);
                    by_end.insert(w.window_end, w);
                }
                None => {
                    by_end.insert(p.window_end, p);
                }
            }
        }
        by_end
            .into_values()
            .map(|w| {
                let mut prices: Vec<i64> = w.at_max.iter().chain(&w.at_end).map(|b| b.price).collect();
                prices.sort();
                (w.window_end, w.max_price, prices)
            })
            .collect()
    }
}
