//! Query 3: local item suggestion (Flink Nexmark's `q3.sql`).
//!
//! Who is selling in OR, ID or CA in category 10, and for what auction ids?
//!
//! ```sql
//! INSERT INTO nexmark_q3
//! SELECT P.name, P.city, P.state, A.id
//! FROM auction AS A INNER JOIN person AS P on A.seller = P.id
//! WHERE A.category = 10 and (P.state = 'OR' OR P.state = 'ID' OR P.state = 'CA');
//! ```
//!
//! An incremental (unwindowed) inner join: every category-10 auction is joined with its
//! seller, whichever of the two arrives first, and each pair is emitted once, as soon as
//! both are there.
//!
//! The dataflow: a `flat_map` projects the events to the columns the join needs (every
//! person, with name and address only if they live in OR, ID or CA; category-10
//! auctions), then the people keyed by id and the auctions keyed by seller meet in a
//! [`KeyedCoProcessFunction`] (`LocalSellerJoin`) with the key's state in keyed state:
//! - the person, once seen: `Some(name, city, state)` for a local seller, `None` for
//!   anyone else (so that their later auctions are dropped, not kept);
//! - the ids of auctions that arrived before their seller.
//!
//! Unlike Flink's SQL join, which keeps every category-10 auction forever in case its
//! seller arrives, an auction is kept only until its seller has been seen; since person ids
//! are unique, the results are the same.

use std::fmt;

use serde::{Deserialize, Serialize};
use strom::connectors::nexmark::Event;
use strom::prelude::*;

/// The auction category q3 looks at.
pub const CATEGORY: i64 = 10;
/// The states q3's sellers live in.
pub const STATES: [&str; 3] = ["OR", "ID", "CA"];

/// A q3 result row: a local seller and one of their category-10 auctions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Q3Row {
    /// The seller's name.
    pub name: String,
    /// The seller's city.
    pub city: String,
    /// The seller's state.
    pub state: String,
    /// The auction's id.
    pub id: i64,
}

impl fmt::Display for Q3Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "+I[{}, {}, {}, {}]", self.name, self.city, self.state, self.id)
    }
}

/// A seller's columns in the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Seller {
    name: String,
    city: String,
    state: String,
}

impl Seller {
    /// The result row of this seller's auction `id`.
    fn row(&self, id: i64) -> Q3Row {
        Q3Row { name: self.name.clone(), city: self.city.clone(), state: self.state.clone(), id }
    }
}

/// A person as the join sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct PersonRef {
    id: i64,
    /// `Some` for a person in one of [`STATES`].
    local: Option<Seller>,
}

/// A category-10 auction as the join sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct AuctionRef {
    id: i64,
    seller: i64,
}

/// The events q3 needs, projected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
enum Q3Input {
    Person(PersonRef),
    Auction(AuctionRef),
}

/// Projects an event to what q3 needs: every person, category-10 auctions.
fn project(event: Event) -> Option<Q3Input> {
    match event {
        Event::Person(p) => {
            let local = STATES.contains(&p.state.as_str()).then_some(Seller { name: p.name, city: p.city, state: p.state });
            Some(Q3Input::Person(PersonRef { id: p.id, local }))
        }
        Event::Auction(a) if a.category == CATEGORY => Some(Q3Input::Auction(AuctionRef { id: a.id, seller: a.seller })),
        Event::Auction(_) | Event::Bid(_) => None,
    }
}

/// The local sellers of category-10 auctions in `events`.
pub fn build(events: &DataStream<Event>) -> DataStream<Q3Row> {
    // Projecting first keeps the copy for the second consumer small (a fan-out clones).
    let inputs = events
        .flat_map(|event: Event, out: &mut Collector<Q3Input>| {
            if let Some(input) = project(event) {
                out.collect(input);
            }
        })
        .name("Q3 project");
    let people = inputs
        .flat_map(|input: Q3Input, out: &mut Collector<PersonRef>| {
            if let Q3Input::Person(p) = input {
                out.collect(p);
            }
        })
        .name("Q3 people")
        .key_by(|p: &PersonRef| p.id);
    let auctions = inputs
        .flat_map(|input: Q3Input, out: &mut Collector<AuctionRef>| {
            if let Q3Input::Auction(a) = input {
                out.collect(a);
            }
        })
        .name("Q3 auctions")
        .key_by(|a: &AuctionRef| a.seller);
    people.connect(&auctions).process(LocalSellerJoin::new()).name("Q3 join").uid("q3-join")
}

/// Joins people (input 1) with their auctions (input 2), keyed by person id.
#[derive(Debug, Clone)]
struct LocalSellerJoin {
    /// The person, once seen: `Some` if they are a local seller.
    person: ValueState<Option<Seller>>,
    /// Ids of auctions that arrived before their seller.
    pending: ListState<i64>,
}

impl LocalSellerJoin {
    /// A join with empty state.
    fn new() -> Self {
        Self { person: ValueState::new("person"), pending: ListState::new("pending-auctions") }
    }
}

impl KeyedCoProcessFunction<i64, PersonRef, AuctionRef, Q3Row> for LocalSellerJoin {
    fn process_element1(&mut self, person: PersonRef, ctx: &mut KeyedContext<'_, i64>, out: &mut Collector<Q3Row>) -> FnResult {
        let waiting = self.pending.take(ctx);
        if let Some(seller) = &person.local {
            waiting.into_iter().for_each(|id| out.collect(seller.row(id)));
        }
        self.person.update(ctx, person.local);
        Ok(())
    }

    fn process_element2(&mut self, auction: AuctionRef, ctx: &mut KeyedContext<'_, i64>, out: &mut Collector<Q3Row>) -> FnResult {
        match self.person.get(ctx) {
            Some(Some(seller)) => out.collect(seller.row(auction.id)),
            Some(None) => {}
            None => self.pending.add(ctx, auction.id),
        }
        Ok(())
    }
}
