//! The order book's objects: a small market header and one object per book
//! side holding its resting orders and the claimable balances of its owners.
//!
//! Object kinds (in `object_kind::BOOK`):
//! - `0x20` market header, id = market id (4 bytes, big endian);
//! - `0x21` book side, id = market id ++ side byte (0 bids, 1 asks).
//!
//! An absent side is an empty one; a side left with no orders and no owners
//! is deleted.

use crate::modules::kit::object_key;
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, Write, varint::UInt};
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
        pub created_height: u64,
    }
}

/// Declares a struct encoded field by field, unsigned integers as canonical
/// varints (LEB128) and other fields with their own encoding: most values in
/// a book side are small, so this keeps the objects that every order
/// placement decodes and re-encodes about three times smaller than
/// fixed-width fields would.
macro_rules! compact_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $( $(#[$fmeta:meta])* pub $field:ident : $ty:ty [$how:ident] ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty ),*
        }
        impl Write for $name {
            fn write(&self, buf: &mut impl BufMut) {
                $( compact_struct!(@write $how, self.$field, buf); )*
            }
        }
        impl EncodeSize for $name {
            fn encode_size(&self) -> usize {
                0 $( + compact_struct!(@size $how, self.$field) )*
            }
        }
        impl Read for $name {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
                Ok($name {
                    $( $field: compact_struct!(@read $how, $ty, buf), )*
                })
            }
        }
    };
    (@write varint, $v:expr, $buf:expr) => { UInt($v).write($buf) };
    (@write fixed, $v:expr, $buf:expr) => { $v.write($buf) };
    (@size varint, $v:expr) => { UInt($v).encode_size() };
    (@size fixed, $v:expr) => { $v.encode_size() };
    (@read varint, $ty:ty, $buf:expr) => { UInt::<$ty>::read_cfg($buf, &())?.0 };
    (@read fixed, $ty:ty, $buf:expr) => { <$ty>::read_cfg($buf, &())? };
}

compact_struct! {
    /// A resting order: price in ticks and sizes in lots, as varints (about
    /// 10 bytes); the owner is an index into the side's owner table.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
    pub struct Order {
        pub seq: u64 [varint],
        pub owner: u16 [varint],
        /// Price in ticks (quote per lot = ticks × tick size).
        pub price_ticks: u64 [varint],
        /// Lots still open.
        pub remaining_lots: u64 [varint],
        /// Lots when the order came to rest (fees accrue over this amount).
        pub original_lots: u64 [varint],
    }
}

compact_struct! {
    /// An owner on one side: how many orders it has resting there and what it
    /// may claim (proceeds of its fills, funds of evicted orders).
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct OwnerEntry {
        pub owner: Address [fixed],
        pub base: u128 [varint],
        pub quote: u128 [varint],
        pub open: u16 [varint],
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

pub use lakh_types::modules::book::custody;

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

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    #[test]
    fn records_round_trip_compactly_and_refuse_bad_bytes() {
        let order = Order {
            seq: 1_000,
            owner: 3,
            price_ticks: 50_000,
            remaining_lots: 7,
            original_lots: 9,
        };
        let bytes = order.encode();
        assert_eq!(bytes.len(), order.encode_size());
        assert_eq!(bytes.len(), 2 + 1 + 3 + 1 + 1);
        assert_eq!(Order::decode_cfg(bytes, &()).unwrap(), order);
        let max = Order {
            seq: u64::MAX,
            owner: u16::MAX,
            price_ticks: u64::MAX,
            remaining_lots: u64::MAX,
            original_lots: u64::MAX,
        };
        assert_eq!(Order::decode_cfg(max.encode(), &()).unwrap(), max);
        let entry = OwnerEntry {
            owner: Address([9; 32]),
            base: u128::MAX,
            quote: 0,
            open: 64,
        };
        assert_eq!(OwnerEntry::decode_cfg(entry.encode(), &()).unwrap(), entry);
        // Non-canonical varints (a redundant continuation byte) are refused.
        assert!(
            Order::decode_cfg(bytes::Bytes::from_static(&[0x80, 0x00, 0, 0, 0, 0]), &()).is_err()
        );
        let side = SideState {
            owners: BoundedVec::new(vec![entry]).unwrap(),
            orders: BoundedVec::new(vec![order, max]).unwrap(),
        };
        assert_eq!(SideState::decode_cfg(side.encode(), &()).unwrap(), side);
    }
}
