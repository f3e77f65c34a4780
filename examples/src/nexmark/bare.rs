//! The queries as bare loops: one thread, no runtime, plain collections.
//!
//! Each function takes the events (a [`NexmarkGenerator`] in the benchmark, any iterator in
//! tests) and hands every result row to `emit`, in the order it finds them. They compute
//! exactly what the dataflows compute, written independently of them: the baseline of the
//! benchmark, and the reference of the tests.
//!
//! Event time and windows are handled by hand: the watermark is the largest timestamp seen
//! minus 4 s, updated with every event; a window is emitted and forgotten once the
//! watermark passes it, and an element for a window that was already emitted is late and
//! dropped (Flink's rule). The generator emits events in timestamp order, so nothing is
//! late, and the dataflows' periodic watermarks give the same results.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;

use strom::connectors::nexmark::{Event, GeneratorConfig, NexmarkGenerator};

use super::q1::Q1Row;
use super::q2::{selects, Q2Row};
use super::q3::{self, Q3Row};
use super::q4::Q4Change;
use super::q5::{self, Q5Row};
use super::q7::{self, Q7Row};
use super::q8::{self, Q8Row};
use super::{BidRow, Query, RowKind, WATERMARK_DELAY_MS};

/// Runs `query` over the events of `config` and returns the number of result rows (which
/// are discarded, through [`black_box`] so that computing them is not optimised away).
pub fn run(query: Query, config: &GeneratorConfig) -> u64 {
    let events = NexmarkGenerator::new(config.clone());
    let mut rows = 0_u64;
    match query {
        Query::Q0 => q0(events, |row| count(&mut rows, row)),
        Query::Q1 => q1(events, |row| count(&mut rows, row)),
        Query::Q2 => q2(events, |row| count(&mut rows, row)),
        Query::Q3 => q3(events, |row| count(&mut rows, row)),
        Query::Q4 => q4(events, |row| count(&mut rows, row)),
        Query::Q5 => q5(events, |row| count(&mut rows, row)),
        Query::Q7 => q7(events, |row| count(&mut rows, row)),
        Query::Q8 => q8(events, |row| count(&mut rows, row)),
    }
    rows
}

fn count<T>(rows: &mut u64, row: T) {
    black_box(row);
    *rows += 1;
}

/// The event-time clock of a loop: the largest timestamp seen, minus the 4 s delay.
#[derive(Debug)]
struct Watermark {
    max_ts: i64,
}

impl Watermark {
    fn new() -> Self {
        Self { max_ts: i64::MIN }
    }

    /// Observes an event; returns the watermark after it.
    fn advance(&mut self, ts: i64) -> i64 {
        self.max_ts = self.max_ts.max(ts);
        self.current()
    }

    fn current(&self) -> i64 {
        self.max_ts.saturating_sub(WATERMARK_DELAY_MS)
    }
}

/// q0: every bid.
pub fn q0(events: impl IntoIterator<Item = Event>, mut emit: impl FnMut(BidRow)) {
    for event in events {
        if let Event::Bid(bid) = event {
            emit(BidRow::from(bid));
        }
    }
}

/// q1: every bid, price in euros.
pub fn q1(events: impl IntoIterator<Item = Event>, mut emit: impl FnMut(Q1Row)) {
    for event in events {
        if let Event::Bid(bid) = event {
            emit(Q1Row::of(bid));
        }
    }
}

/// q2: the bids on every 123rd auction.
pub fn q2(events: impl IntoIterator<Item = Event>, mut emit: impl FnMut(Q2Row)) {
    for event in events {
        if let Event::Bid(bid) = event {
            if selects(bid.auction) {
                emit(Q2Row { auction: bid.auction, price: bid.price });
            }
        }
    }
}

/// q3: a symmetric hash join of local people with category-10 auctions by seller.
pub fn q3(events: impl IntoIterator<Item = Event>, mut emit: impl FnMut(Q3Row)) {
    // Local people by id, and every category-10 auction id by seller, as the SQL join keeps them.
    let mut people: HashMap<i64, (String, String, String)> = HashMap::new();
    let mut auctions: HashMap<i64, Vec<i64>> = HashMap::new();
    let row = |p: &(String, String, String), id| Q3Row { name: p.0.clone(), city: p.1.clone(), state: p.2.clone(), id };
    for event in events {
        match event {
            Event::Person(p) if q3::STATES.contains(&p.state.as_str()) => {
                let person = (p.name, p.city, p.state);
                for &id in auctions.get(&p.id).into_iter().flatten() {
                    emit(row(&person, id));
                }
                people.insert(p.id, person);
            }
            Event::Auction(a) if a.category == q3::CATEGORY => {
                if let Some(person) = people.get(&a.seller) {
                    emit(row(person, a.id));
                }
                auctions.entry(a.seller).or_default().push(a.id);
            }
            _ => {}
        }
    }
}

/// An auction in q4's loop: its category and time range, and its highest valid bid.
#[derive(Debug)]
struct OpenAuction {
    category: i64,
    date_time: i64,
    expires: i64,
    max: Option<i64>,
}

/// q4: the changelog of the average winning price per category.
pub fn q4(events: impl IntoIterator<Item = Event>, mut emit: impl FnMut(Q4Change)) {
    let mut auctions: HashMap<i64, OpenAuction> = HashMap::new();
    // Bids that came before their auction: (date_time, price).
    let mut early_bids: HashMap<i64, Vec<(i64, i64)>> = HashMap::new();
    // Per category: sum and count of the auctions' highest bids.
    let mut totals: HashMap<i64, (i128, i64)> = HashMap::new();
    let mut raise = |category: i64, previous: Option<i64>, current: i64| {
        let total = totals.entry(category).or_insert((0, 0));
        let before = (total.1 > 0).then(|| total.0 / i128::from(total.1));
        total.0 += i128::from(current) - i128::from(previous.unwrap_or(0));
        total.1 += i64::from(previous.is_none());
        let after = total.0 / i128::from(total.1);
        // An average of i64 values fits an i64.
        let (before, after) = (before.map(|b| b as i64), after as i64);
        match before {
            None => emit(Q4Change { kind: RowKind::Insert, category, avg: after }),
            Some(before) if before != after => {
                emit(Q4Change { kind: RowKind::UpdateBefore, category, avg: before });
                emit(Q4Change { kind: RowKind::UpdateAfter, category, avg: after });
            }
            Some(_) => {}
        }
    };
    for event in events {
        match event {
            Event::Auction(a) => {
                let mut auction = OpenAuction { category: a.category, date_time: a.date_time, expires: a.expires, max: None };
                let valid = |&&(ts, _): &&(i64, i64)| a.date_time <= ts && ts <= a.expires;
                auction.max = early_bids.remove(&a.id).unwrap_or_default().iter().filter(valid).map(|&(_, price)| price).max();
                if let Some(max) = auction.max {
                    raise(a.category, None, max);
                }
                auctions.insert(a.id, auction);
            }
            Event::Bid(b) => match auctions.get_mut(&b.auction) {
                Some(auction) => {
                    let valid = auction.date_time <= b.date_time && b.date_time <= auction.expires;
                    if valid && auction.max.is_none_or(|max| b.price > max) {
                        raise(auction.category, auction.max, b.price);
                        auction.max = Some(b.price);
                    }
                }
                None => early_bids.entry(b.auction).or_default().push((b.date_time, b.price)),
            },
            Event::Person(_) => {}
        }
    }
}

/// q5: per sliding window, the auctions with the most bids.
pub fn q5(events: impl IntoIterator<Item = Event>, mut emit: impl FnMut(Q5Row)) {
    // Bid counts per auction, per open window (by end).
    let mut windows: BTreeMap<i64, HashMap<i64, i64>> = BTreeMap::new();
    let mut watermark = Watermark::new();
    let mut close = |windows: &mut BTreeMap<i64, HashMap<i64, i64>>, end: i64| {
        let counts = windows.remove(&end).unwrap_or_default();
        let max = counts.values().copied().max().unwrap_or(0);
        for (&auction, &num) in &counts {
            if num == max {
                emit(Q5Row { auction, num, window_end: end });
            }
        }
    };
    for event in events {
        let ts = event.timestamp();
        if let Event::Bid(bid) = event {
            let mut start = ts - ts.rem_euclid(q5::WINDOW_SLIDE_MS);
            while start > ts - q5::WINDOW_SIZE_MS {
                let end = start + q5::WINDOW_SIZE_MS;
                // A window fires when the watermark reaches its max timestamp, `end - 1`;
                // after that, its elements are late.
                if end - 1 > watermark.current() {
                    *windows.entry(end).or_default().entry(bid.auction).or_insert(0) += 1;
                }
                start -= q5::WINDOW_SLIDE_MS;
            }
        }
        let wm = watermark.advance(ts);
        while let Some(end) = windows.keys().next().copied().filter(|end| end - 1 <= wm) {
            close(&mut windows, end);
        }
    }
    while let Some(end) = windows.keys().next().copied() {
        close(&mut windows, end);
    }
}

/// A window of q7's loop: its highest price and the bids with it.
#[derive(Debug)]
struct Highest {
    price: i64,
    bids: Vec<BidRow>,
}

/// q7: per tumbling window, the bids of `[start, end]` with the window's highest price.
pub fn q7(events: impl IntoIterator<Item = Event>, mut emit: impl FnMut(Q7Row)) {
    let size = q7::WINDOW_SIZE_MS;
    let mut highest: BTreeMap<i64, Highest> = BTreeMap::new();
    // Bids at exactly a window's end, by that end.
    let mut at_end: BTreeMap<i64, Vec<BidRow>> = BTreeMap::new();
    let mut watermark = Watermark::new();
    let mut close = |highest: &mut BTreeMap<i64, Highest>, at_end: &mut BTreeMap<i64, Vec<BidRow>>, end: i64| {
        let last = at_end.remove(&end).unwrap_or_default();
        if let Some(window) = highest.remove(&end) {
            let price = window.price;
            let joined = window.bids.into_iter().chain(last.into_iter().filter(|bid| bid.price == price));
            joined.for_each(|bid| emit(Q7Row::of(bid, end)));
        }
    };
    let first_end = |highest: &BTreeMap<i64, Highest>, at_end: &BTreeMap<i64, Vec<BidRow>>| {
        highest.keys().next().into_iter().chain(at_end.keys().next()).min().copied()
    };
    for event in events {
        let ts = event.timestamp();
        match event {
            // A window's result is complete when the watermark reaches its inclusive end:
            // after that, bids up to that time are late.
            Event::Bid(bid) if ts > watermark.current() => {
                let bid = BidRow::from(bid);
                let end = ts - ts.rem_euclid(size) + size;
                if ts == end - size {
                    at_end.entry(ts).or_default().push(bid.clone());
                }
                let window = highest.entry(end).or_insert_with(|| Highest { price: i64::MIN, bids: Vec::new() });
                if bid.price > window.price {
                    window.price = bid.price;
                    window.bids.clear();
                }
                if bid.price == window.price {
                    window.bids.push(bid);
                }
            }
            _ => {}
        }
        let wm = watermark.advance(ts);
        while let Some(end) = first_end(&highest, &at_end).filter(|&end| end <= wm) {
            close(&mut highest, &mut at_end, end);
        }
    }
    while let Some(end) = first_end(&highest, &at_end) {
        close(&mut highest, &mut at_end, end);
    }
}

/// q8: per tumbling window, the people who registered and opened an auction in it.
pub fn q8(events: impl IntoIterator<Item = Event>, mut emit: impl FnMut(Q8Row)) {
    let size = q8::WINDOW_SIZE_MS;
    // Per open window (by start), per person: name if registered in it, whether they sold.
    let mut windows: BTreeMap<i64, HashMap<i64, (Option<String>, bool)>> = BTreeMap::new();
    let mut watermark = Watermark::new();
    let mut close = |windows: &mut BTreeMap<i64, HashMap<i64, (Option<String>, bool)>>, start: i64| {
        for (id, (name, sold)) in windows.remove(&start).unwrap_or_default() {
            if let (Some(name), true) = (name, sold) {
                emit(Q8Row { id, name, start_time: start });
            }
        }
    };
    for event in events {
        let ts = event.timestamp();
        let start = ts - ts.rem_euclid(size);
        // Elements of a window that fired (at its max timestamp) are late.
        if start + size - 1 > watermark.current() {
            match event {
                Event::Person(p) => windows.entry(start).or_default().entry(p.id).or_default().0 = Some(p.name),
                Event::Auction(a) => windows.entry(start).or_default().entry(a.seller).or_default().1 = true,
                Event::Bid(_) => {}
            }
        }
        let wm = watermark.advance(ts);
        while let Some(start) = windows.keys().next().copied().filter(|start| start + size - 1 <= wm) {
            close(&mut windows, start);
        }
    }
    while let Some(start) = windows.keys().next().copied() {
        close(&mut windows, start);
    }
}
