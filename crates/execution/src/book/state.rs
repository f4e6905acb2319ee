//! The order book's objects: a small market header and one object per book
//! side holding its resting orders and the claimable balances of its owners.
//!
//! Object kinds (in `object_kind::BOOK`):
//! - `0x20` market header, id = market id (4 bytes, big endian);
//! - `0x21` book side, id = market id ++ side byte (0 bids, 1 asks).
//!
//! An absent side is an empty one; a side left with no orders and no owners
//! is deleted.

use crate::module::object_key;
use lakh_state::{StateKey, object_kind};
use lakh_types::{
    Address, AssetId,
    codec::BoundedVec,
    modules::book::{MAX_ORDERS_PER_SIDE, MAX_OWNERS_PER_SIDE, MarketRef, Side},
};

/// Object kind of a market header.
pub const KIND_MARKET: u8 = object_kind::BOOK.start;
/// Object kind of a book side.
pub const KIND_SIDE: u8 = object_kind::BOOK.start + 1;
const _: () = assert!(KIND_SIDE < object_kind::BOOK.end);

lakh_types::codec_struct! {
    /// A market's parameters and counters; written by every order placement
    /// (next sequence, fees), small so that costs little.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Market {
        pub base: AssetId,
        pub quote: AssetId,
        /// Price increment in quote units per lot.
        pub tick_size: u128,
        /// Quantity increment in base units.
        pub lot_size: u128,
        pub maker_fee_bps: u16,
        pub taker_fee_bps: u16,
        /// Sequence of the next order (ids are `sequence << 1 | side`).
        pub next_seq: u64,
        /// Quote units of fees accrued and not yet withdrawn.
        pub fees: u128,
        /// Height the market was created at.
        pub created: u64,
    }
}

lakh_types::codec_struct! {
    /// A resting order. Price in ticks and sizes in lots keep it compact
    /// (34 bytes); the owner is an index into the side's owner table.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Order {
        pub seq: u64,
        pub owner: u16,
        /// Price in ticks (quote per lot = ticks × tick size).
        pub price: u64,
        /// Lots still open.
        pub remaining: u64,
        /// Lots when the order came to rest (fees accrue over this amount).
        pub original: u64,
    }
}

lakh_types::codec_struct! {
    /// An owner on one side: how many orders it has resting there and what it
    /// may claim (proceeds of its fills, funds of evicted orders).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct OwnerEntry {
        pub owner: Address,
        pub base: u128,
        pub quote: u128,
        pub open: u16,
    }
}

lakh_types::codec_struct! {
    /// One side of a market's book, orders in priority order (best price
    /// first, then oldest first).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct SideState {
        pub owners: BoundedVec<OwnerEntry, MAX_OWNERS_PER_SIDE>,
        pub orders: BoundedVec<Order, MAX_ORDERS_PER_SIDE>,
    }
}

pub fn market_key(market: u32) -> StateKey {
    object_key(KIND_MARKET, &[&market.to_be_bytes()])
}

pub fn side_key(market: u32, side: Side) -> StateKey {
    object_key(KIND_SIDE, &[&market.to_be_bytes(), &[side.bit() as u8]])
}

/// The custody account holding a market's funds.
pub fn custody(market: u32) -> Address {
    Address::module("book", &market.to_be_bytes())
}

/// The id of order `seq` on `side`.
pub fn order_id(seq: u64, side: Side) -> u64 {
    (seq << 1) | side.bit()
}

/// Largest order sequence (ids must fit in u64).
pub const MAX_SEQ: u64 = u64::MAX >> 1;

impl Market {
    /// Whether `r` names this market's assets.
    pub fn matches(&self, r: &MarketRef) -> bool {
        self.base == r.base && self.quote == r.quote
    }
}

impl SideState {
    /// The entry index of `owner`, if it has one.
    pub fn owner_index(&self, owner: &Address) -> Option<usize> {
        self.owners.iter().position(|e| e.owner == *owner)
    }
}
