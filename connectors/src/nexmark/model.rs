//! The Nexmark data model: people, auctions and bids.
//!
//! Field names follow the Flink Nexmark SQL schema, spelled in snake case. Identifiers and
//! prices are `i64`, timestamps are milliseconds since the Unix epoch.

use serde::{Deserialize, Serialize};

/// A person registering with the auction site (Nexmark's `person` stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Unique person id, starting at [`FIRST_PERSON_ID`](super::FIRST_PERSON_ID).
    pub id: i64,
    /// First and last name, e.g. `"Peter Jones"`.
    pub name: String,
    /// A random e-mail address, e.g. `"abc@xyz.com"`.
    pub email_address: String,
    /// Sixteen digits in four space-separated groups.
    pub credit_card: String,
    /// One of ten US cities.
    pub city: String,
    /// One of six US state codes.
    pub state: String,
    /// Event time, in milliseconds since the epoch.
    pub date_time: i64,
    /// Random padding bringing the event to its configured average size.
    pub extra: String,
}

/// An item put up for auction (Nexmark's `auction` stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Auction {
    /// Unique auction id, starting at [`FIRST_AUCTION_ID`](super::FIRST_AUCTION_ID).
    pub id: i64,
    /// Short random item name.
    pub item_name: String,
    /// Longer random item description.
    pub description: String,
    /// Opening price.
    pub initial_bid: i64,
    /// Reserve price; always above `initial_bid`.
    pub reserve: i64,
    /// Event time, in milliseconds since the epoch.
    pub date_time: i64,
    /// When the auction closes, in milliseconds since the epoch; after `date_time`.
    pub expires: i64,
    /// Id of the selling person.
    pub seller: i64,
    /// Category id, starting at [`FIRST_CATEGORY_ID`](super::FIRST_CATEGORY_ID).
    pub category: i64,
    /// Random padding bringing the event to its configured average size.
    pub extra: String,
}

/// A bid on an auction (Nexmark's `bid` stream).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bid {
    /// Id of the auction bid on.
    pub auction: i64,
    /// Id of the bidding person.
    pub bidder: i64,
    /// Bid price.
    pub price: i64,
    /// Channel the bid came through, e.g. `"Google"` or `"channel-42"`.
    pub channel: String,
    /// URL of the bid's referring page.
    pub url: String,
    /// Event time, in milliseconds since the epoch.
    pub date_time: i64,
    /// Random padding bringing the event to its configured average size.
    pub extra: String,
}

/// One Nexmark event: exactly one of a person, an auction or a bid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A new person.
    Person(Person),
    /// A new auction.
    Auction(Auction),
    /// A new bid.
    Bid(Bid),
}

impl Event {
    /// The event time of this event (its `date_time`), in milliseconds since the epoch.
    pub fn timestamp(&self) -> i64 {
        match self {
            Event::Person(p) => p.date_time,
            Event::Auction(a) => a.date_time,
            Event::Bid(b) => b.date_time,
        }
    }
}
