//! Query 4: average price for a category (Flink Nexmark's `q4.sql`).
//!
//! The average of the winning bid prices of all auctions in each category.
//!
//! ```sql
//! INSERT INTO nexmark_q4
//! SELECT Q.category, AVG(Q.final)
//! FROM (
//!     SELECT MAX(B.price) AS final, A.category
//!     FROM auction A, bid B
//!     WHERE A.id = B.auction AND B.dateTime BETWEEN A.dateTime AND A.expires
//!     GROUP BY A.id, A.category
//! ) Q
//! GROUP BY Q.category;
//! ```
//!
//! Both aggregations are unwindowed, so the result is a changelog: whenever an auction's
//! highest valid bid rises, its category's average changes, and the query emits the
//! change as Flink does, `+I[category, avg]` for a category's first value, then
//! `-U[category, old]` and `+U[category, new]`, and nothing when the average stays the
//! same. `AVG` of a `BIGINT` is a `BIGINT` in Flink: the sum divided by the count,
//! truncated. [`materialize`] folds a changelog into the current averages.
//!
//! The dataflow:
//! 1. a `flat_map` projects auctions and bids to the columns the query needs;
//! 2. auctions and bids, both keyed by auction id, meet in a [`KeyedCoProcessFunction`]
//!    (`WinningBids`) holding the auction and its highest valid bid in keyed state, plus
//!    the bids that arrived before their auction; it emits `(category, previous max, new
//!    max)` whenever an auction's highest bid rises;
//! 3. keyed by category, a [`KeyedProcessFunction`] (`CategoryAverage`) keeps the sum and
//!    count of the categories' maxima and emits the changelog.
//!
//! The previous and new maximum travel in one record, so the average is updated in one
//! step; Flink's planner sends them as separate retraction and insertion (and may emit an
//! intermediate average in between unless mini-batching is on). The final averages are the
//! same. As in Flink's join, state is kept for every auction (four numbers); bids wait
//! only until their auction arrives.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use strom::connectors::nexmark::Event;
use strom::prelude::*;

use super::RowKind;

/// One change of q4's result: a category's average winning price.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q4Change {
    /// Insert, or the old or new value of an update.
    pub kind: RowKind,
    /// The auction category.
    pub category: i64,
    /// The average of the category's winning bids, truncated.
    pub avg: i64,
}

impl fmt::Display for Q4Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[{}, {}]", self.kind, self.category, self.avg)
    }
}

/// Applies a changelog of averages in order and returns the current average per category.
///
/// # Errors
///
/// A change that does not fit the state before it: an insert for a category that has a
/// value, an update of a category without one, or an update-before that is not the
/// current value.
///
/// ```
/// use strom_examples::nexmark::q4::{materialize, Q4Change};
/// use strom_examples::nexmark::RowKind::*;
/// let log = [
///     Q4Change { kind: Insert, category: 10, avg: 5 },
///     Q4Change { kind: UpdateBefore, category: 10, avg: 5 },
///     Q4Change { kind: UpdateAfter, category: 10, avg: 7 },
/// ];
/// assert_eq!(materialize(log).unwrap(), [(10, 7)].into());
/// ```
pub fn materialize(changes: impl IntoIterator<Item = Q4Change>) -> Result<BTreeMap<i64, i64>, String> {
    let mut current = BTreeMap::new();
    let mut updating = BTreeMap::new();
    for change in changes {
        let Q4Change { kind, category, avg } = change;
        match kind {
            RowKind::Insert if current.contains_key(&category) => return Err(format!("{change}: category has a value")),
            RowKind::Insert => {
                current.insert(category, avg);
            }
            RowKind::UpdateBefore if current.get(&category) == Some(&avg) => {
                current.remove(&category);
                updating.insert(category, avg);
            }
            RowKind::UpdateBefore => return Err(format!("{change}: not the current value")),
            RowKind::UpdateAfter if updating.remove(&category).is_some() => {
                current.insert(category, avg);
            }
            RowKind::UpdateAfter => return Err(format!("{change}: no update-before")),
        }
    }
    match updating.keys().next() {
        Some(category) => Err(format!("the update of category {category} has no update-after")),
        None => Ok(current),
    }
}

/// An auction's columns that q4 needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct AuctionInfo {
    id: i64,
    category: i64,
    date_time: i64,
    expires: i64,
}

impl AuctionInfo {
    /// `B.dateTime BETWEEN A.dateTime AND A.expires`.
    fn accepts(&self, bid: &BidInfo) -> bool {
        (self.date_time..=self.expires).contains(&bid.date_time)
    }
}

/// A bid's columns that q4 needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct BidInfo {
    auction: i64,
    price: i64,
    date_time: i64,
}

/// The events q4 needs, projected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Q4Input {
    Auction(AuctionInfo),
    Bid(BidInfo),
}

/// An auction's highest valid bid rose from `previous` (none yet) to `current`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct MaxChange {
    category: i64,
    previous: Option<i64>,
    current: i64,
}

/// The changelog of the average winning price per category of `events`.
pub fn build(events: &DataStream<Event>) -> DataStream<Q4Change> {
    let inputs = events.flat_map(project).name("Q4 project");
    let auctions = inputs
        .flat_map(|input: Q4Input, out: &mut Collector<AuctionInfo>| {
            if let Q4Input::Auction(a) = input {
                out.collect(a);
            }
        })
        .name("Q4 auctions")
        .key_by(|a: &AuctionInfo| a.id);
    let bids = inputs
        .flat_map(|input: Q4Input, out: &mut Collector<BidInfo>| {
            if let Q4Input::Bid(b) = input {
                out.collect(b);
            }
        })
        .name("Q4 bids")
        .key_by(|b: &BidInfo| b.auction);
    auctions
        .connect(&bids)
        .process(WinningBids::new())
        .name("Q4 winning bids")
        .uid("q4-winning-bids")
        .key_by(|change: &MaxChange| change.category)
        .process(CategoryAverage::new())
        .name("Q4 average per category")
        .uid("q4-category-average")
}

/// Projects auctions and bids to the columns q4 needs.
fn project(event: Event, out: &mut Collector<Q4Input>) {
    match event {
        Event::Auction(a) => {
            out.collect(Q4Input::Auction(AuctionInfo { id: a.id, category: a.category, date_time: a.date_time, expires: a.expires }))
        }
        Event::Bid(b) => out.collect(Q4Input::Bid(BidInfo { auction: b.auction, price: b.price, date_time: b.date_time })),
        Event::Person(_) => {}
    }
}

/// An auction and its highest valid bid so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct AuctionState {
    auction: AuctionInfo,
    max: Option<i64>,
}

/// Joins auctions (input 1) with their bids (input 2), keyed by auction id, and emits each
/// rise of an auction's highest valid bid.
#[derive(Debug, Clone)]
struct WinningBids {
    auction: ValueState<AuctionState>,
    /// Bids that arrived before their auction.
    pending: ListState<BidInfo>,
}

impl WinningBids {
    fn new() -> Self {
        Self { auction: ValueState::new("auction"), pending: ListState::new("pending-bids") }
    }
}

impl KeyedCoProcessFunction<i64, AuctionInfo, BidInfo, MaxChange> for WinningBids {
    fn process_element1(&mut self, auction: AuctionInfo, ctx: &mut KeyedContext<'_, i64>, out: &mut Collector<MaxChange>) -> FnResult {
        let early = self.pending.take(ctx);
        let max = early.iter().filter(|b| auction.accepts(b)).map(|b| b.price).max();
        if let Some(current) = max {
            out.collect(MaxChange { category: auction.category, previous: None, current });
        }
        self.auction.update(ctx, AuctionState { auction, max });
        Ok(())
    }

    fn process_element2(&mut self, bid: BidInfo, ctx: &mut KeyedContext<'_, i64>, out: &mut Collector<MaxChange>) -> FnResult {
        let Some(mut state) = self.auction.get(ctx) else {
            self.pending.add(ctx, bid);
            return Ok(());
        };
        if state.auction.accepts(&bid) && state.max.is_none_or(|max| bid.price > max) {
            out.collect(MaxChange { category: state.auction.category, previous: state.max, current: bid.price });
            state.max = Some(bid.price);
            self.auction.update(ctx, state);
        }
        Ok(())
    }
}

/// Sum and count of a category's winning prices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct CategoryTotal {
    sum: i128,
    count: i64,
}

impl CategoryTotal {
    /// Flink's `AVG(BIGINT)`: the sum divided by the count, truncated towards zero.
    fn avg(&self) -> Option<i64> {
        // The average of `i64` values is an `i64`.
        (self.count > 0).then(|| (self.sum / i128::from(self.count)) as i64)
    }

    fn apply(&mut self, change: &MaxChange) {
        match change.previous {
            Some(previous) => self.sum -= i128::from(previous),
            None => self.count += 1,
        }
        self.sum += i128::from(change.current);
    }
}

/// Keyed by category: applies max changes to the category's total and emits the average's
/// changelog.
#[derive(Debug, Clone)]
struct CategoryAverage {
    total: ValueState<CategoryTotal>,
}

impl CategoryAverage {
    fn new() -> Self {
        Self { total: ValueState::new("category-total") }
    }
}

impl KeyedProcessFunction<i64, MaxChange, Q4Change> for CategoryAverage {
    fn process_element(&mut self, change: MaxChange, ctx: &mut KeyedContext<'_, i64>, out: &mut Collector<Q4Change>) -> FnResult {
        let (before, after) = self.total.modify(ctx, CategoryTotal::default, |total| {
            let before = total.avg();
            total.apply(&change);
            (before, total.avg())
        });
        emit_change(change.category, before, after, out);
        Ok(())
    }
}

/// Emits the changelog entries for a category's average moving from `before` to `after`.
fn emit_change(category: i64, before: Option<i64>, after: Option<i64>, out: &mut Collector<Q4Change>) {
    match (before, after) {
        (None, Some(avg)) => out.collect(Q4Change { kind: RowKind::Insert, category, avg }),
        (Some(old), Some(new)) if old != new => {
            out.collect(Q4Change { kind: RowKind::UpdateBefore, category, avg: old });
            out.collect(Q4Change { kind: RowKind::UpdateAfter, category, avg: new });
        }
        // Unchanged (Flink emits nothing), or no value (counts never fall to zero).
        _ => {}
    }
}
