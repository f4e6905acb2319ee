//! Order book: per-market central limit order books.
//!
//! A market trades a base asset against a quote asset. Quantities are base
//! units, a multiple of the market's `lot_size`; prices are quote units per
//! lot, a multiple of its `tick_size`. An order of `q` base units at price
//! `p` is worth `p * q / lot_size` quote units, always an exact integer.
//!
//! Every action names its market with a [`MarketRef`] carrying the market's
//! two assets, so the balances it may touch are known from the payload
//! alone; execution refuses a reference whose assets are not the market's.
//!
//! Order ids carry their side in the low bit (`id = sequence << 1 | side`,
//! buy 0, sell 1), so a cancel declares only the side it touches.

use crate::{Address, AssetId, codec::Text};
use bytes::BufMut;
use commonware_codec::{Buf, Error as CodecError, FixedSize, Read, Write};
use serde::{Deserialize, Serialize};

pub mod query;

/// Fees are in basis points of the quote notional: 10_000 is 100%.
pub const BPS: u128 = 10_000;
/// Highest maker or taker fee a market may charge (10%).
pub const MAX_FEE_BPS: u16 = 1_000;
/// Most resting orders on one side of a market.
pub const MAX_ORDERS_PER_SIDE: usize = 512;
/// Most resting orders one owner may have on one side of a market.
pub const MAX_ORDERS_PER_OWNER: usize = 64;
/// Most owners one side of a market tracks (those with resting orders or
/// unsettled proceeds on it).
pub const MAX_OWNERS_PER_SIDE: usize = 1_024;

/// The custody account holding market `market`'s funds.
pub fn custody(market: u32) -> Address {
    Address::module("book", &market.to_be_bytes())
}

/// Declares a field-less enum encoded as one tag byte, with its JSON name.
macro_rules! unit_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $tag:literal => $variant:ident = $json:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $( $(#[$vmeta])* #[serde(rename = $json)] $variant ),* }

        impl $name {
            /// Every value, in tag order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
            /// The name used in JSON and on the command line.
            pub fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $json, )*
                }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let wanted = s.replace('-', "_").to_ascii_lowercase();
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.name() == wanted)
                    .ok_or_else(|| {
                        let names: Vec<&str> = $name::ALL.iter().map(|v| v.name()).collect();
                        format!("{s:?} is not one of {}", names.join(", "))
                    })
            }
        }
        impl Write for $name {
            fn write(&self, buf: &mut impl BufMut) {
                buf.put_u8(match self { $( $name::$variant => $tag ),* });
            }
        }
        impl FixedSize for $name {
            const SIZE: usize = 1;
        }
        impl Read for $name {
            type Cfg = ();
            fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
                match u8::read_cfg(buf, &())? {
                    $( $tag => Ok($name::$variant), )*
                    other => Err(CodecError::InvalidEnum(other)),
                }
            }
        }
    };
}

unit_enum! {
    /// Which side of the book an order is on.
    pub enum Side {
        /// Pays quote, receives base; rests on the bids.
        0 => Buy = "buy",
        /// Pays base, receives quote; rests on the asks.
        1 => Sell = "sell",
    }
}

impl Side {
    /// The other side.
    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
    /// The low bit of the ids of this side's orders.
    pub fn bit(self) -> u64 {
        match self {
            Side::Buy => 0,
            Side::Sell => 1,
        }
    }
    /// The side an order id belongs to.
    pub fn of_order(order: u64) -> Side {
        if order & 1 == 0 {
            Side::Buy
        } else {
            Side::Sell
        }
    }
}

unit_enum! {
    /// Whether an order has a limit price.
    pub enum OrderKind {
        /// Trades at the limit price or better.
        0 => Limit = "limit",
        /// Trades at any price (never rests); `price` must be 0.
        1 => Market = "market",
    }
}

unit_enum! {
    /// What happens to the part of an order that does not fill at once.
    pub enum TimeInForce {
        /// Good till cancelled: the remainder rests on the book.
        0 => Gtc = "gtc",
        /// Immediate or cancel: the remainder is dropped.
        1 => Ioc = "ioc",
        /// Fill or kill: fills completely at once or the action fails.
        2 => Fok = "fok",
        /// Maker only: the action fails if the order would take liquidity.
        3 => PostOnly = "post_only",
    }
}

unit_enum! {
    /// Why a resting order left the book unfilled.
    pub enum CancelReason {
        /// Its owner cancelled it.
        0 => User = "user",
        /// Its owner's own incoming order crossed it (self-trade prevention
        /// cancels the resting order).
        1 => SelfTrade = "self_trade",
        /// The side was full and a better-priced order took its place; the
        /// locked funds became claimable.
        2 => Evicted = "evicted",
    }
}

crate::codec_struct! {
    /// A market as named by an action: its id and its two assets, which
    /// execution checks against the market (the payload must declare every
    /// balance the action may touch).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
    pub struct MarketRef {
        /// The market's id.
        pub id: u32,
        /// The market's base asset.
        pub base: AssetId,
        /// The market's quote asset.
        pub quote: AssetId,
    }
}

crate::tagged_enum! {
    /// What a `book` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum BookAction {
        /// Admin only: opens market `market` (an id not yet used).
        0x01 => CreateMarket {
            /// Id of the new market (not yet used).
            market: u32,
            /// The base asset (traded in base units).
            base: AssetId,
            /// The quote asset (prices are in its base units per lot).
            quote: AssetId,
            /// Price increment, in quote units per lot.
            #[serde(with = "crate::amount")]
            tick_size: u128,
            /// Quantity increment, in base units.
            #[serde(with = "crate::amount")]
            lot_size: u128,
            /// Fee on the quote notional of resting orders' fills (bps, at most `MAX_FEE_BPS`).
            maker_fee_bps: u16,
            /// Fee on the quote notional of incoming orders' fills (bps, at most `MAX_FEE_BPS`).
            taker_fee_bps: u16,
        },
        /// Places an order: it matches against the opposite side at the
        /// resting orders' prices, then rests, is dropped or fails according
        /// to `tif`.
        0x02 => Place {
            /// The market.
            market: MarketRef,
            /// The order's side.
            side: Side,
            /// Limit or market order.
            kind: OrderKind,
            /// Limit price in quote units per lot (0 for market orders).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Base units.
            #[serde(with = "crate::amount")]
            quantity: u128,
            /// How long the order stays after matching.
            tif: TimeInForce,
        },
        /// Cancels one of the sender's resting orders, returning its locked funds.
        0x03 => Cancel {
            /// The market.
            market: MarketRef,
            /// Id of the sender's resting order.
            order: u64,
        },
        /// Cancels every resting order of the sender in the market.
        0x04 => CancelAll {
            /// The market.
            market: MarketRef,
        },
        /// Pays `owner`'s claimable proceeds in the market to `owner`'s
        /// balances. Anyone may send it; the funds only ever go to `owner`.
        0x05 => Settle {
            /// The market.
            market: MarketRef,
            /// The account whose proceeds are paid.
            owner: Address,
        },
        /// Admin only: pays accrued fees (all when `amount` is absent) to `to`.
        0x06 => WithdrawFees {
            /// The market.
            market: MarketRef,
            /// Account credited.
            to: Address,
            /// Fees to pay (quote units); all accrued fees when absent.
            #[serde(with = "crate::amount::option", default)]
            amount: Option<u128>,
        },
    }
}

crate::tagged_enum! {
    /// Something a `book` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum BookEvent {
        /// A market was opened.
        0x01 => MarketCreated {
            /// The market.
            market: u32,
            /// The base asset (traded in base units).
            base: AssetId,
            /// The quote asset (prices are in its base units per lot).
            quote: AssetId,
            /// Price increment (quote units per lot).
            #[serde(with = "crate::amount")]
            tick_size: u128,
            /// Quantity increment (base units).
            #[serde(with = "crate::amount")]
            lot_size: u128,
            /// Fee on the quote notional of resting orders' fills (bps, at most `MAX_FEE_BPS`).
            maker_fee_bps: u16,
            /// Fee on the quote notional of incoming orders' fills (bps, at most `MAX_FEE_BPS`).
            taker_fee_bps: u16,
        },
        /// An incoming order traded with a resting one at the resting price.
        0x02 => Fill {
            /// The market.
            market: u32,
            /// Id of the incoming order.
            taker_order: u64,
            /// Id of the resting order.
            maker_order: u64,
            /// Owner of the resting order.
            maker: Address,
            /// The incoming order's side.
            taker_side: Side,
            /// The resting order's price (quote units per lot).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Base units traded.
            #[serde(with = "crate::amount")]
            quantity: u128,
            /// Quote units traded (price × lots).
            #[serde(with = "crate::amount")]
            quote: u128,
            /// Quote units the maker paid in fees for this fill.
            #[serde(with = "crate::amount")]
            maker_fee: u128,
        },
        /// What an incoming order took from the book in total.
        0x03 => Taken {
            /// The market.
            market: u32,
            /// The order's id.
            order: u64,
            /// The order's side.
            side: Side,
            /// Base units taken.
            #[serde(with = "crate::amount")]
            quantity: u128,
            /// Quote units taken (before fees).
            #[serde(with = "crate::amount")]
            quote: u128,
            /// Quote units the taker paid in fees.
            #[serde(with = "crate::amount")]
            fee: u128,
        },
        /// The order's remainder rests on the book with `locked` funds (quote
        /// for a buy, including the most maker fee it can owe; base for a sell).
        0x04 => Rested {
            /// The market.
            market: u32,
            /// The order's id.
            order: u64,
            /// The account owning the order or proceeds.
            owner: Address,
            /// The order's side.
            side: Side,
            /// Price (quote units per lot).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Resting remainder (base units).
            #[serde(with = "crate::amount")]
            quantity: u128,
            /// Funds locked for the resting remainder (quote units for a buy, base units for a sell).
            #[serde(with = "crate::amount")]
            locked: u128,
        },
        /// The part of an IOC, FOK or market order that did not fill was dropped.
        0x05 => Unfilled {
            /// The market.
            market: u32,
            /// The order's id.
            order: u64,
            /// Quantity dropped (base units).
            #[serde(with = "crate::amount")]
            quantity: u128,
        },
        /// A resting order left the book with `quantity` unfilled; `refund`
        /// went back to the owner's balance (or, when evicted, to its
        /// claimable balance).
        0x06 => Cancelled {
            /// The market.
            market: u32,
            /// The order's id.
            order: u64,
            /// The account owning the order or proceeds.
            owner: Address,
            /// The order's side.
            side: Side,
            /// Price (quote units per lot).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Unfilled quantity (base units).
            #[serde(with = "crate::amount")]
            quantity: u128,
            /// Locked funds released (quote units for a buy, base units for a sell).
            #[serde(with = "crate::amount")]
            refund: u128,
            /// Why the order left the book.
            reason: CancelReason,
        },
        /// Claimable proceeds paid to their owner's balances.
        0x07 => Settled {
            /// The market.
            market: u32,
            /// The account owning the order or proceeds.
            owner: Address,
            /// Base units paid.
            #[serde(with = "crate::amount")]
            base: u128,
            /// Quote units paid.
            #[serde(with = "crate::amount")]
            quote: u128,
        },
        /// The admin withdrew accrued fees.
        0x08 => FeesWithdrawn {
            /// The market.
            market: u32,
            /// Account credited.
            to: Address,
            /// Fees paid (quote units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
    }
}

crate::tagged_enum! {
    /// Why a `book` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum BookError {
        /// A market with this id already exists.
        #[error("market {market} already exists")]
        0x02 => MarketExists {
            /// The market.
            market: u32,
        },
        /// No market has this id.
        #[error("no market {market}")]
        0x03 => UnknownMarket {
            /// The market.
            market: u32,
        },
        /// The market reference names other assets than the market's.
        #[error(
            "market {market} trades base {expected_base} against quote {expected_quote}, \
             not {base} against {quote}"
        )]
        0x04 => WrongAssets {
            /// The market.
            market: u32,
            /// Base asset the action named.
            base: AssetId,
            /// Quote asset the action named.
            quote: AssetId,
            /// The market's base asset.
            expected_base: AssetId,
            /// The market's quote asset.
            expected_quote: AssetId,
        },
        /// Base and quote are the same asset.
        #[error("base and quote are both asset {asset}")]
        0x05 => SameAsset {
            /// The asset named twice.
            asset: AssetId,
        },
        /// The tick size is zero.
        #[error("tick size must be positive")]
        0x06 => ZeroTickSize {},
        /// The lot size is zero.
        #[error("lot size must be positive")]
        0x07 => ZeroLotSize {},
        /// A fee is above `MAX_FEE_BPS`.
        #[error("fee of {bps} bps is above the limit of {max} bps")]
        0x08 => FeeTooHigh {
            /// The fee given (bps).
            bps: u16,
            /// `MAX_FEE_BPS`.
            max: u16,
        },
        /// A limit order with price zero.
        #[error("a limit order needs a positive price")]
        0x09 => ZeroPrice {},
        /// The quantity is zero.
        #[error("quantity must be positive")]
        0x0a => ZeroQuantity {},
        /// The price is not a multiple of the tick size.
        #[error("price {price} is not a multiple of the tick size {tick_size}")]
        0x0b => PriceNotOnTick {
            /// Price (quote units per lot).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Price increment (quote units per lot).
            #[serde(with = "crate::amount")]
            tick_size: u128,
        },
        /// The quantity is not a multiple of the lot size.
        #[error("quantity {quantity} is not a multiple of the lot size {lot_size}")]
        0x0c => QuantityNotOnLot {
            /// Quantity (base units).
            #[serde(with = "crate::amount")]
            quantity: u128,
            /// Quantity increment (base units).
            #[serde(with = "crate::amount")]
            lot_size: u128,
        },
        /// The price is above what the market can represent.
        #[error("price {price} is above the market's largest price {max}")]
        0x0d => PriceTooLarge {
            /// Price (quote units per lot).
            #[serde(with = "crate::amount")]
            price: u128,
            /// The market's largest price (quote units per lot).
            #[serde(with = "crate::amount")]
            max: u128,
        },
        /// The quantity is above what the market can represent.
        #[error("quantity {quantity} is above the market's largest quantity {max}")]
        0x0e => QuantityTooLarge {
            /// Quantity (base units).
            #[serde(with = "crate::amount")]
            quantity: u128,
            /// The market's largest quantity (base units).
            #[serde(with = "crate::amount")]
            max: u128,
        },
        /// The order's quote value with fees does not fit in u128.
        #[error("the quote value of {quantity} at price {price} (with fees) overflows u128")]
        0x0f => NotionalOverflow {
            /// Price (quote units per lot).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Quantity (base units).
            #[serde(with = "crate::amount")]
            quantity: u128,
        },
        /// A market order with a price.
        #[error("a market order carries no price (got {price}); use a limit order with ioc")]
        0x10 => MarketOrderPrice {
            /// Price (quote units per lot).
            #[serde(with = "crate::amount")]
            price: u128,
        },
        /// A market order whose time in force lets it rest.
        #[error("a market order never rests: time in force must be ioc or fok, not {tif}")]
        0x11 => MarketOrderTif {
            /// How long the order stays after matching.
            tif: TimeInForce,
        },
        /// A post-only order would match on arrival.
        #[error("post-only order at {price} would take: the best opposite price is {best}")]
        0x12 => WouldTake {
            /// Price (quote units per lot).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Best opposite price (quote units per lot).
            #[serde(with = "crate::amount")]
            best: u128,
        },
        /// A fill-or-kill order cannot fill in full.
        #[error("fill-or-kill order of {quantity} can only fill {fillable}")]
        0x13 => NotFillable {
            /// The order's quantity (base units).
            #[serde(with = "crate::amount")]
            quantity: u128,
            /// Quantity the book can fill now (base units).
            #[serde(with = "crate::amount")]
            fillable: u128,
        },
        /// The side is full and the order does not beat its worst price.
        #[error(
            "the {side} side holds its limit of {max} orders and {price} does not beat its worst price {worst}"
        )]
        0x14 => BookFull {
            /// The order's side.
            side: Side,
            /// `MAX_ORDERS_PER_SIDE`.
            max: u32,
            /// Price (quote units per lot).
            #[serde(with = "crate::amount")]
            price: u128,
            /// The side's worst resting price (quote units per lot).
            #[serde(with = "crate::amount")]
            worst: u128,
        },
        /// The owner already has the most resting orders on this side.
        #[error("{owner} already has the limit of {max} resting {side} orders in this market")]
        0x15 => OwnerOrderLimit {
            /// The account owning the order or proceeds.
            owner: Address,
            /// The order's side.
            side: Side,
            /// `MAX_ORDERS_PER_OWNER`.
            max: u32,
        },
        /// The side already tracks the most owners.
        #[error(
            "the {side} side already tracks {max} owners; settling others' proceeds (anyone may) frees room"
        )]
        0x16 => OwnerTableFull {
            /// The order's side.
            side: Side,
            /// `MAX_OWNERS_PER_SIDE`.
            max: u32,
        },
        /// The order is not resting in the market.
        #[error("order {order} is not resting in market {market} (filled, cancelled or never placed)")]
        0x17 => UnknownOrder {
            /// The market.
            market: u32,
            /// The order's id.
            order: u64,
        },
        /// Cancelling another account's order.
        #[error("order {order} belongs to {owner}, not to the sender")]
        0x18 => NotOrderOwner {
            /// The order's id.
            order: u64,
            /// The order's owner.
            owner: Address,
        },
        /// The owner has no resting order in the market.
        #[error("{owner} has no resting orders in market {market}")]
        0x19 => NothingToCancel {
            /// The market.
            market: u32,
            /// The account owning the order or proceeds.
            owner: Address,
        },
        /// The owner has no proceeds in the market.
        #[error("{owner} has nothing to settle in market {market}")]
        0x1a => NothingToSettle {
            /// The market.
            market: u32,
            /// The account owning the order or proceeds.
            owner: Address,
        },
        /// Withdrawing more fees than accrued.
        #[error("withdrawing {requested} fees, only {accrued} accrued")]
        0x1b => FeesInsufficient {
            /// Amount asked for (quote units).
            #[serde(with = "crate::amount")]
            requested: u128,
            /// Fees accrued in the market (quote units).
            #[serde(with = "crate::amount")]
            accrued: u128,
        },
        /// The fee withdrawal amount is zero.
        #[error("withdrawal amount must be positive")]
        0x1c => ZeroWithdrawal {},
        /// The market has used every order id.
        #[error("order sequence of market {market} is exhausted")]
        0x1d => OrderIdsExhausted {
            /// The market.
            market: u32,
        },
        /// The market's state breaks an invariant (a bug, never expected).
        #[error("market state is inconsistent: {detail}")]
        0x1e => Inconsistent {
            /// What is inconsistent (at most 128 bytes).
            detail: Text<128>,
        },
        /// The market has no fees to withdraw.
        #[error("market {market} has no fees to withdraw")]
        0x1f => NoFeesAccrued {
            /// The market.
            market: u32,
        },
        /// Withdrawing fees to the market's own custody account.
        #[error("fees cannot be withdrawn to market {market}'s own custody account")]
        0x20 => ToCustody {
            /// The market.
            market: u32,
        },
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &BookAction) -> u64 {
    match action {
        // Header, two sides, four balances.
        BookAction::CreateMarket { .. } => 5,
        BookAction::Place { .. } => 6,
        BookAction::Cancel { .. } => 3,
        BookAction::CancelAll { .. } => 5,
        BookAction::Settle { .. } => 5,
        BookAction::WithdrawFees { .. } => 3,
    }
}

/// Checks that hold regardless of state, with the typed reason (execution
/// applies them too: a proposer may include what ingest would refuse).
pub fn validate(action: &BookAction) -> Result<(), BookError> {
    fn fee(bps: u16) -> Result<(), BookError> {
        if bps > MAX_FEE_BPS {
            return Err(BookError::FeeTooHigh {
                bps,
                max: MAX_FEE_BPS,
            });
        }
        Ok(())
    }
    fn market(m: &MarketRef) -> Result<(), BookError> {
        if m.base == m.quote {
            return Err(BookError::SameAsset { asset: m.base });
        }
        Ok(())
    }
    match action {
        BookAction::CreateMarket {
            base,
            quote,
            tick_size,
            lot_size,
            maker_fee_bps,
            taker_fee_bps,
            ..
        } => {
            if base == quote {
                return Err(BookError::SameAsset { asset: *base });
            }
            if *tick_size == 0 {
                return Err(BookError::ZeroTickSize {});
            }
            if *lot_size == 0 {
                return Err(BookError::ZeroLotSize {});
            }
            fee(*maker_fee_bps)?;
            fee(*taker_fee_bps)
        }
        BookAction::Place {
            market: m,
            kind,
            price,
            quantity,
            tif,
            ..
        } => {
            market(m)?;
            if *quantity == 0 {
                return Err(BookError::ZeroQuantity {});
            }
            match kind {
                OrderKind::Limit if *price == 0 => Err(BookError::ZeroPrice {}),
                OrderKind::Limit => Ok(()),
                OrderKind::Market if *price != 0 => {
                    Err(BookError::MarketOrderPrice { price: *price })
                }
                OrderKind::Market => match tif {
                    TimeInForce::Ioc | TimeInForce::Fok => Ok(()),
                    other => Err(BookError::MarketOrderTif { tif: *other }),
                },
            }
        }
        BookAction::Cancel { market: m, .. }
        | BookAction::CancelAll { market: m }
        | BookAction::Settle { market: m, .. } => market(m),
        BookAction::WithdrawFees {
            market: m,
            to,
            amount,
        } => {
            market(m)?;
            if *amount == Some(0) {
                return Err(BookError::ZeroWithdrawal {});
            }
            if *to == custody(m.id) {
                return Err(BookError::ToCustody { market: m.id });
            }
            Ok(())
        }
    }
}

/// Checks that hold regardless of state (zero amounts, malformed routes);
/// ingest refuses an action that fails them with this reason.
pub fn check(action: &BookAction) -> Result<(), String> {
    validate(action).map_err(|e| format!("order book: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    fn round_trip<T>(v: T)
    where
        T: Encode + Decode<Cfg = ()> + PartialEq + std::fmt::Debug + Serialize,
        T: for<'de> Deserialize<'de>,
    {
        let bytes = v.encode();
        assert_eq!(bytes.len(), v.encode_size());
        assert_eq!(T::decode_cfg(bytes, &()).unwrap(), v);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v, "{json}");
    }

    fn market() -> MarketRef {
        MarketRef {
            id: 7,
            base: AssetId(100),
            quote: AssetId(0),
        }
    }

    #[test]
    fn actions_events_errors_round_trip() {
        round_trip(BookAction::Place {
            market: market(),
            side: Side::Sell,
            kind: OrderKind::Limit,
            price: u128::MAX,
            quantity: 5,
            tif: TimeInForce::PostOnly,
        });
        round_trip(BookAction::WithdrawFees {
            market: market(),
            to: Address([3; 32]),
            amount: None,
        });
        round_trip(BookAction::Cancel {
            market: market(),
            order: 9,
        });
        round_trip(BookEvent::Cancelled {
            market: 1,
            order: 3,
            owner: Address([1; 32]),
            side: Side::Sell,
            price: 10,
            quantity: 2,
            refund: 2,
            reason: CancelReason::Evicted,
        });
        round_trip(BookError::MarketOrderTif {
            tif: TimeInForce::Gtc,
        });
        round_trip(BookError::Inconsistent {
            detail: Text::clipped("x"),
        });
        // Unknown unit-enum tags are refused.
        let mut bytes = BookAction::Cancel {
            market: market(),
            order: 1,
        }
        .encode()
        .to_vec();
        bytes[0] = 0x02;
        assert!(BookAction::decode_cfg(bytes::Bytes::from(bytes), &()).is_err());
        assert!(Side::decode_cfg(bytes::Bytes::from_static(&[2]), &()).is_err());
    }

    #[test]
    fn json_names() {
        let json = serde_json::to_value(BookAction::Place {
            market: market(),
            side: Side::Buy,
            kind: OrderKind::Market,
            price: 0,
            quantity: 5,
            tif: TimeInForce::Ioc,
        })
        .unwrap();
        assert_eq!(json["op"], "place");
        assert_eq!(json["side"], "buy");
        assert_eq!(json["kind"], "market");
        assert_eq!(json["tif"], "ioc");
        assert_eq!(json["quantity"], "5");
        assert_eq!(
            "post-only".parse::<TimeInForce>(),
            Ok(TimeInForce::PostOnly)
        );
        assert_eq!("SELL".parse::<Side>(), Ok(Side::Sell));
        assert!("hold".parse::<TimeInForce>().is_err());
        assert_eq!(Side::of_order(6), Side::Buy);
        assert_eq!(Side::of_order(7), Side::Sell);
    }

    #[test]
    fn stateless_checks() {
        let place = |kind, price, quantity, tif| BookAction::Place {
            market: market(),
            side: Side::Buy,
            kind,
            price,
            quantity,
            tif,
        };
        use OrderKind::*;
        use TimeInForce::*;
        assert_eq!(validate(&place(Limit, 10, 1, Gtc)), Ok(()));
        assert_eq!(
            validate(&place(Limit, 10, 0, Gtc)),
            Err(BookError::ZeroQuantity {})
        );
        assert_eq!(
            validate(&place(Limit, 0, 1, Gtc)),
            Err(BookError::ZeroPrice {})
        );
        assert_eq!(
            validate(&place(Market, 3, 1, Ioc)),
            Err(BookError::MarketOrderPrice { price: 3 })
        );
        assert_eq!(
            validate(&place(Market, 0, 1, PostOnly)),
            Err(BookError::MarketOrderTif { tif: PostOnly })
        );
        assert_eq!(validate(&place(Market, 0, 1, Fok)), Ok(()));
        let create = |tick, lot, maker, taker| BookAction::CreateMarket {
            market: 1,
            base: AssetId(1),
            quote: AssetId(2),
            tick_size: tick,
            lot_size: lot,
            maker_fee_bps: maker,
            taker_fee_bps: taker,
        };
        assert_eq!(validate(&create(1, 1, 0, 1_000)), Ok(()));
        assert_eq!(
            validate(&create(0, 1, 0, 0)),
            Err(BookError::ZeroTickSize {})
        );
        assert_eq!(
            validate(&create(1, 0, 0, 0)),
            Err(BookError::ZeroLotSize {})
        );
        assert_eq!(
            validate(&create(1, 1, 1_001, 0)),
            Err(BookError::FeeTooHigh {
                bps: 1_001,
                max: MAX_FEE_BPS
            })
        );
        assert!(
            check(&create(1, 1, 0, 2_000))
                .unwrap_err()
                .contains("2000 bps")
        );
    }
}
