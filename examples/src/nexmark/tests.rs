//! Every query on the runtime, at parallelism 1 and 2, against its bare loop; plus
//! hand-checked cases and, for q4 and q7, a check of the bare loop against the SQL's
//! definition computed in two passes.

use std::collections::{BTreeMap, HashMap};

use strom::connectors::nexmark::{Auction, Bid, Event, GeneratorConfig, NexmarkGenerator, Person};
use strom::prelude::*;

use super::q1::{Decimal3, Q1Row};
use super::q2::Q2Row;
use super::q3::Q3Row;
use super::q4::{self, Q4Change};
use super::q5::Q5Row;
use super::q7::Q7Row;
use super::q8::Q8Row;
use super::{bare, q0, q1, q2, q3, q5, q7, q8, BidRow, RowKind};

const PARALLELISMS: [u32; 2] = [1, 2];

/// `events` generated events at `rate` events per second of event time.
fn config(events: u64, rate: u32) -> GeneratorConfig {
    GeneratorConfig { max_events: Some(events), first_event_rate: rate, next_event_rate: rate, ..GeneratorConfig::default() }
}

/// Flink Nexmark's default rate: 10,000 events per second of event time.
fn default_rate(events: u64) -> GeneratorConfig {
    config(events, 10_000)
}

/// 1,000 events per second: 100,000 events span 100 s, ten 10 s windows.
fn slow_rate(events: u64) -> GeneratorConfig {
    config(events, 1_000)
}

/// The rows of a query on the runtime over the generated events, sorted.
fn on_runtime<T: Data + Ord>(config: &GeneratorConfig, parallelism: u32, build: fn(&DataStream<Event>) -> DataStream<T>) -> Vec<T> {
    let env = StreamEnv::new();
    env.set_parallelism(parallelism);
    let out = CollectSink::new();
    build(&super::events(&env, config)).sink(out.clone());
    env.execute("nexmark test").expect("the query runs");
    out.sorted()
}

/// The rows of a query on the runtime over the given events (parallelism-1 source), in
/// arrival order.
fn on_runtime_from<T: Data>(events: Vec<Event>, parallelism: u32, build: fn(&DataStream<Event>) -> DataStream<T>) -> Vec<T> {
    let env = StreamEnv::new();
    env.set_parallelism(parallelism);
    let out = CollectSink::new();
    build(&super::with_watermarks(&env.from_collection(events))).sink(out.clone());
    env.execute("nexmark test").expect("the query runs");
    out.values()
}

/// The rows of a bare loop over the generated events, sorted.
fn on_bare<T: Ord>(config: &GeneratorConfig, run: fn(NexmarkGenerator, &mut dyn FnMut(T))) -> Vec<T> {
    let mut rows = Vec::new();
    run(NexmarkGenerator::new(config.clone()), &mut |row| rows.push(row));
    rows.sort();
    rows
}

/// Asserts that the runtime at parallelism 1 and 2 computes the bare loop's rows, and that
/// there are at least `min_rows` of them.
fn assert_matches_bare<T: Data + Ord + std::fmt::Debug>(
    config: &GeneratorConfig,
    build: fn(&DataStream<Event>) -> DataStream<T>,
    bare: fn(NexmarkGenerator, &mut dyn FnMut(T)),
    min_rows: usize,
) {
    let expected = on_bare(config, bare);
    assert!(expected.len() >= min_rows, "only {} rows", expected.len());
    for parallelism in PARALLELISMS {
        let rows = on_runtime(config, parallelism, build);
        assert!(rows == expected, "parallelism {parallelism}: {} rows, expected {}", rows.len(), expected.len());
    }
}

#[test]
fn q0_matches_bare_loop() {
    assert_matches_bare(&default_rate(60_000), q0::build, |e, emit| bare::q0(e, emit), 55_000);
}

#[test]
fn q1_matches_bare_loop() {
    assert_matches_bare(&default_rate(60_000), q1::build, |e, emit| bare::q1(e, emit), 55_000);
}

#[test]
fn q2_matches_bare_loop() {
    assert_matches_bare(&default_rate(200_000), q2::build, |e, emit| bare::q2(e, emit), 100);
}

#[test]
fn q3_matches_bare_loop() {
    assert_matches_bare(&default_rate(200_000), q3::build, |e, emit| bare::q3(e, emit), 100);
}

#[test]
fn q5_matches_bare_loop() {
    assert_matches_bare(&slow_rate(100_000), q5::build, |e, emit| bare::q5(e, emit), 50);
}

#[test]
fn q7_matches_bare_loop() {
    assert_matches_bare(&slow_rate(100_000), q7::build, |e, emit| bare::q7(e, emit), 10);
}

#[test]
fn q8_matches_bare_loop() {
    assert_matches_bare(&slow_rate(200_000), q8::build, |e, emit| bare::q8(e, emit), 100);
}

/// q4's changelog depends on the order bids arrive in; its final averages do not.
#[test]
fn q4_final_averages_match_bare_loop_and_definition() {
    let config = default_rate(200_000);
    let mut bare_log = Vec::new();
    bare::q4(NexmarkGenerator::new(config.clone()), |change| bare_log.push(change));
    let expected = q4::materialize(bare_log).expect("the bare loop's changelog is consistent");
    assert_eq!(expected, q4_by_definition(NexmarkGenerator::new(config.clone())));
    assert_eq!(expected.len(), 5, "all five categories have winning bids");
    for parallelism in PARALLELISMS {
        let env = StreamEnv::new();
        env.set_parallelism(parallelism);
        let out = CollectSink::new();
        q4::build(&super::events(&env, &config)).sink(out.clone());
        env.execute("q4").expect("the query runs");
        // Each category's changes come from one subtask, in order.
        let averages = q4::materialize(out.values()).expect("the changelog is consistent");
        assert_eq!(averages, expected, "parallelism {parallelism}");
    }
}

/// q4 straight from the SQL: all bids of each auction in its time range, their maximum,
/// the truncated average of the maxima per category.
fn q4_by_definition(events: impl Iterator<Item = Event>) -> BTreeMap<i64, i64> {
    let (mut auctions, mut bids) = (Vec::new(), HashMap::<i64, Vec<Bid>>::new());
    for event in events {
        match event {
            Event::Auction(a) => auctions.push(a),
            Event::Bid(b) => bids.entry(b.auction).or_default().push(b),
            Event::Person(_) => {}
        }
    }
    let mut finals: BTreeMap<i64, Vec<i64>> = BTreeMap::new();
    for a in &auctions {
        let valid = bids.get(&a.id).into_iter().flatten().filter(|b| a.date_time <= b.date_time && b.date_time <= a.expires);
        if let Some(max) = valid.map(|b| b.price).max() {
            finals.entry(a.category).or_default().push(max);
        }
    }
    finals.into_iter().map(|(category, maxima)| (category, maxima.iter().sum::<i64>() / maxima.len() as i64)).collect()
}

/// q7 straight from the SQL, in two passes: the highest price per window, then every bid
/// of `[end - 10 s, end]` with that price.
#[test]
fn q7_bare_loop_matches_definition() {
    let config = slow_rate(100_000);
    let mut max_price: BTreeMap<i64, i64> = BTreeMap::new();
    for event in NexmarkGenerator::new(config.clone()) {
        if let Event::Bid(b) = event {
            let end = b.date_time - b.date_time.rem_euclid(10_000) + 10_000;
            let max = max_price.entry(end).or_insert(b.price);
            *max = (*max).max(b.price);
        }
    }
    let mut expected = Vec::new();
    for event in NexmarkGenerator::new(config.clone()) {
        if let Event::Bid(b) = event {
            for (&end, &max) in max_price.range(b.date_time..=b.date_time + 10_000) {
                if b.price == max {
                    expected.push(Q7Row::of(BidRow::from(b.clone()), end));
                }
            }
        }
    }
    expected.sort();
    assert_eq!(on_bare(&config, |e, emit| bare::q7(e, emit)), expected);
}

// ---------------------------------------------------------------------------------------
// Hand-made inputs.
// ---------------------------------------------------------------------------------------

fn bid(auction: i64, price: i64, date_time: i64) -> Event {
    Event::Bid(Bid {
        auction,
        bidder: 1000 + auction,
        price,
        channel: "Google".into(),
        url: "https://www.nexmark.com/".into(),
        date_time,
        extra: format!("x{price}"),
    })
}

fn person(id: i64, state: &str, date_time: i64) -> Event {
    Event::Person(Person {
        id,
        name: format!("person {id}"),
        email_address: "a@b.com".into(),
        credit_card: "1111 2222 3333 4444".into(),
        city: "Boise".into(),
        state: state.into(),
        date_time,
        extra: String::new(),
    })
}

fn auction(id: i64, seller: i64, category: i64, date_time: i64, expires: i64) -> Event {
    Event::Auction(Auction {
        id,
        item_name: "item".into(),
        description: "thing".into(),
        initial_bid: 100,
        reserve: 200,
        date_time,
        expires,
        seller,
        category,
        extra: String::new(),
    })
}

fn sorted<T: Ord>(mut rows: Vec<T>) -> Vec<T> {
    rows.sort();
    rows
}

#[test]
fn q1_converts_prices_exactly() {
    let events = vec![bid(1, 1000, 5), bid(2, 1, 6), bid(3, 12_345, 7), bid(4, i64::MAX, 8), person(1, "OR", 9)];
    let expected_prices = ["908.000", "0.908", "11209.260", "8374821809464136432.756"];
    for parallelism in PARALLELISMS {
        let rows: Vec<Q1Row> = sorted(on_runtime_from(events.clone(), parallelism, q1::build));
        let prices: Vec<String> = rows.iter().map(|r| r.price.to_string()).collect();
        assert_eq!(prices, expected_prices);
        assert_eq!(rows[2].to_string(), "+I[3, 1003, 11209.260, 7, x12345]");
    }
    assert_eq!(Decimal3 { unscaled: -1_500 }.to_string(), "-1.500");
}

#[test]
fn q2_selects_every_123rd_auction() {
    let events: Vec<Event> = [0, 1, 122, 123, 124, 246, 1_000, 1_107, -123].iter().map(|&a| bid(a, a + 7, 10)).collect();
    let expected = vec![(-123, -116), (0, 7), (123, 130), (246, 253), (1_107, 1_114)];
    for parallelism in PARALLELISMS {
        let rows: Vec<Q2Row> = sorted(on_runtime_from(events.clone(), parallelism, q2::build));
        assert_eq!(rows.iter().map(|r| (r.auction, r.price)).collect::<Vec<_>>(), expected);
    }
}

#[test]
fn q3_joins_local_sellers_in_either_order() {
    let events = vec![
        auction(1, 7, 10, 1, 100), // before its local seller
        person(7, "OR", 2),
        auction(2, 7, 10, 3, 100), // after
        auction(3, 7, 11, 4, 100), // other category
        auction(4, 8, 10, 5, 100), // seller not local, arrives later
        person(8, "WA", 6),
        auction(5, 8, 10, 7, 100), // seller not local, known
        auction(6, 9, 10, 8, 100), // local seller, arrives later
        person(9, "CA", 9),
    ];
    let row =
        |id: i64, state: &str, auction: i64| Q3Row { name: format!("person {id}"), city: "Boise".into(), state: state.into(), id: auction };
    let expected = vec![row(7, "OR", 1), row(7, "OR", 2), row(9, "CA", 6)];
    for parallelism in PARALLELISMS {
        assert_eq!(sorted(on_runtime_from(events.clone(), parallelism, q3::build)), expected);
    }
    let mut from_bare = Vec::new();
    bare::q3(events, |r| from_bare.push(r));
    assert_eq!(sorted(from_bare), expected);
}

#[test]
fn q4_emits_a_changelog_of_truncated_averages() {
    let events = vec![
        bid(1, 50, 5),             // before auction 1, in its range
        bid(1, 999, 0),            // before auction 1's start: not valid
        auction(1, 7, 10, 1, 100), // +I[10, 50]
        bid(1, 40, 10),            // lower: no change
        bid(1, 61, 20),            // -U[10, 50] +U[10, 61]
        auction(2, 7, 10, 21, 50),
        bid(2, 10, 30),  // -U[10, 61] +U[10, 35] (71 / 2)
        bid(2, 500, 51), // after auction 2 expired: not valid
        bid(2, 12, 50),  // at the end of the range: (61 + 12) / 2 = 36
        auction(3, 7, 11, 60, 70),
        bid(3, 5, 70), // +I[11, 5]
    ];
    use RowKind::*;
    let change = |kind, category, avg| Q4Change { kind, category, avg };
    let expected = vec![
        change(Insert, 10, 50),
        change(UpdateBefore, 10, 50),
        change(UpdateAfter, 10, 61),
        change(UpdateBefore, 10, 61),
        change(UpdateAfter, 10, 35),
        change(UpdateBefore, 10, 35),
        change(UpdateAfter, 10, 36),
        change(Insert, 11, 5),
    ];
    let mut from_bare = Vec::new();
    bare::q4(events.clone(), |c| from_bare.push(c));
    assert_eq!(from_bare, expected);
    // On the runtime, auctions and bids reach the join through separate channels, so the
    // order in which they meet, and with it the intermediate changes, may differ.
    for parallelism in PARALLELISMS {
        let log = on_runtime_from(events.clone(), parallelism, q4::build);
        assert_eq!(q4::materialize(log), Ok([(10, 36), (11, 5)].into()), "parallelism {parallelism}");
    }
    assert_eq!(expected[1].to_string(), "-U[10, 50]");
}

#[test]
fn q5_counts_sliding_windows_and_keeps_ties() {
    // Auction 1: bids at 1 s and 3 s; auction 2: at 3.5 s and 9.9 s; auction 3: at 12 s.
    let events = vec![bid(1, 9, 1_000), bid(1, 9, 3_000), bid(2, 9, 3_500), bid(2, 9, 9_900), bid(3, 9, 12_000)];
    let row = |auction, num, window_end| Q5Row { auction, num, window_end };
    let expected = sorted(vec![
        // [-8 s, 2 s): auction 1 once.
        row(1, 1, 2_000),
        // [-6 s, 4 s): auction 1 twice, auction 2 once.
        row(1, 2, 4_000),
        // [-4 s, 6 s), [-2 s, 8 s): auction 1 twice, auction 2 once.
        row(1, 2, 6_000),
        row(1, 2, 8_000),
        // [0 s, 10 s): auctions 1 and 2 twice each (a tie).
        row(1, 2, 10_000),
        row(2, 2, 10_000),
        // [2 s, 12 s): auction 1 once (3 s), auction 2 twice.
        row(2, 2, 12_000),
        // [4 s, 14 s), [6 s, 16 s), [8 s, 18 s): auction 2 (9.9 s) and auction 3 (12 s) once each.
        row(2, 1, 14_000),
        row(3, 1, 14_000),
        row(2, 1, 16_000),
        row(3, 1, 16_000),
        row(2, 1, 18_000),
        row(3, 1, 18_000),
        // [10 s, 20 s), [12 s, 22 s): auction 3.
        row(3, 1, 20_000),
        row(3, 1, 22_000),
    ]);
    for parallelism in PARALLELISMS {
        assert_eq!(sorted(on_runtime_from(events.clone(), parallelism, q5::build)), expected, "parallelism {parallelism}");
    }
    let mut from_bare = Vec::new();
    bare::q5(events, |r| from_bare.push(r));
    assert_eq!(sorted(from_bare), expected);
}

#[test]
fn q7_includes_bids_at_the_inclusive_window_end() {
    let events = vec![
        bid(1, 500, 1_000),
        bid(2, 700, 4_000),
        bid(3, 700, 9_999),  // ties with auction 2 in [0 s, 10 s)
        bid(4, 700, 10_000), // at the end of [0 s, 10 s): joins it; also in [10 s, 20 s)
        bid(5, 300, 10_000),
        bid(6, 650, 15_000),
        bid(7, 650, 20_000), // at the end of [10 s, 20 s) but below its max; [20 s, 30 s)'s max
        bid(8, 100, 25_000),
    ];
    let row = |auction: i64, price: i64, ts: i64, end: i64| Q7Row {
        auction,
        bidder: 1000 + auction,
        price,
        date_time: ts,
        extra: format!("x{price}"),
        window_end: end,
    };
    let expected = sorted(vec![
        row(2, 700, 4_000, 10_000),
        row(3, 700, 9_999, 10_000),
        row(4, 700, 10_000, 10_000),
        row(4, 700, 10_000, 20_000),
        row(7, 650, 20_000, 30_000),
    ]);
    for parallelism in PARALLELISMS {
        assert_eq!(sorted(on_runtime_from(events.clone(), parallelism, q7::build)), expected, "parallelism {parallelism}");
    }
    let mut from_bare = Vec::new();
    bare::q7(events, |r| from_bare.push(r));
    assert_eq!(sorted(from_bare), expected);
}

#[test]
fn q8_reports_people_who_sell_in_their_first_window_once() {
    let events = vec![
        person(1, "OR", 1_000),
        auction(10, 1, 10, 2_000, 9_000),
        auction(11, 1, 11, 3_000, 9_000), // a second auction: still one row
        person(2, "WA", 4_000),
        auction(12, 2, 10, 12_000, 19_000), // next window: no row
        auction(13, 3, 10, 15_000, 19_000), // before the person
        person(3, "ID", 16_000),
    ];
    let row = |id: i64, start_time| Q8Row { id, name: format!("person {id}"), start_time };
    let expected = vec![row(1, 0), row(3, 10_000)];
    for parallelism in PARALLELISMS {
        assert_eq!(sorted(on_runtime_from(events.clone(), parallelism, q8::build)), expected, "parallelism {parallelism}");
    }
    let mut from_bare = Vec::new();
    bare::q8(events, |r| from_bare.push(r));
    assert_eq!(sorted(from_bare), expected);
}
