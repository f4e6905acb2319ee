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
        pub id: u32,
        pub base: AssetId,
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
            market: u32,
            base: AssetId,
            quote: AssetId,
            /// Price increment, in quote units per lot.
            #[serde(with = "crate::amount")]
            tick_size: u128,
            /// Quantity increment, in base units.
            #[serde(with = "crate::amount")]
            lot_size: u128,
            maker_fee_bps: u16,
            taker_fee_bps: u16,
        },
        /// Places an order: it matches against the opposite side at the
        /// resting orders' prices, then rests, is dropped or fails according
        /// to `tif`.
        0x02 => Place {
            market: MarketRef,
            side: Side,
            kind: OrderKind,
            /// Limit price in quote units per lot (0 for market orders).
            #[serde(with = "crate::amount")]
            price: u128,
            /// Base units.
            #[serde(with = "crate::amount")]
            quantity: u128,
            tif: TimeInForce,
        },
        /// Cancels one of the sender's resting orders, returning its locked funds.
        0x03 => Cancel { market: MarketRef, order: u64 },
        /// Cancels every resting order of the sender in the market.
        0x04 => CancelAll { market: MarketRef },
        /// Pays `owner`'s claimable proceeds in the market to `owner`'s
        /// balances. Anyone may send it; the funds only ever go to `owner`.
        0x05 => Settle { market: MarketRef, owner: Address },
        /// Admin only: pays accrued fees (all when `amount` is absent) to `to`.
        0x06 => WithdrawFees {
            market: MarketRef,
            to: Address,
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
        0x01 => MarketCreated {
            market: u32,
            base: AssetId,
            quote: AssetId,
            #[serde(with = "crate::amount")]
            tick_size: u128,
            #[serde(with = "crate::amount")]
            lot_size: u128,
            maker_fee_bps: u16,
            taker_fee_bps: u16,
        },
        /// An incoming order traded with a resting one at the resting price.
        0x02 => Fill {
            market: u32,
            taker_order: u64,
            maker_order: u64,
            maker: Address,
            /// The incoming order's side.
            taker_side: Side,
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
            market: u32,
            order: u64,
            side: Side,
            #[serde(with = "crate::amount")]
            quantity: u128,
            #[serde(with = "crate::amount")]
            quote: u128,
            /// Quote units the taker paid in fees.
            #[serde(with = "crate::amount")]
            fee: u128,
        },
        /// The order's remainder rests on the book with `locked` funds (quote
        /// for a buy, including the most maker fee it can owe; base for a sell).
        0x04 => Rested {
            market: u32,
            order: u64,
            owner: Address,
            side: Side,
            #[serde(with = "crate::amount")]
            price: u128,
            #[serde(with = "crate::amount")]
            quantity: u128,
            #[serde(with = "crate::amount")]
            locked: u128,
        },
        /// The part of an IOC, FOK or market order that did not fill was dropped.
        0x05 => Unfilled {
            market: u32,
            order: u64,
            #[serde(with = "crate::amount")]
            quantity: u128,
        },
        /// A resting order left the book with `quantity` unfilled; `refund`
        /// went back to the owner's balance (or, when evicted, to its
        /// claimable balance).
        0x06 => Cancelled {
            market: u32,
            order: u64,
            owner: Address,
            side: Side,
            #[serde(with = "crate::amount")]
            price: u128,
            #[serde(with = "crate::amount")]
            quantity: u128,
            #[serde(with = "crate::amount")]
            refund: u128,
            reason: CancelReason,
        },
        /// Claimable proceeds paid to their owner's balances.
        0x07 => Settled {
            market: u32,
            owner: Address,
            #[serde(with = "crate::amount")]
            base: u128,
            #[serde(with = "crate::amount")]
            quote: u128,
        },
        0x08 => FeesWithdrawn {
            market: u32,
            to: Address,
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
        #[error("market {market} already exists")]
        0x02 => MarketExists { market: u32 },
        #[error("no market {market}")]
        0x03 => UnknownMarket { market: u32 },
        #[error(
            "market {market} trades base {expected_base} against quote {expected_quote}, \
             not {base} against {quote}"
        )]
        0x04 => WrongAssets {
            market: u32,
            base: AssetId,
            quote: AssetId,
            expected_base: AssetId,
            expected_quote: AssetId,
        },
        #[error("base and quote are both asset {asset}")]
        0x05 => SameAsset { asset: AssetId },
        #[error("tick size must be positive")]
        0x06 => ZeroTickSize {},
        #[error("lot size must be positive")]
        0x07 => ZeroLotSize {},
        #[error("fee of {bps} bps is above the limit of {max} bps")]
        0x08 => FeeTooHigh { bps: u16, max: u16 },
        #[error("a limit order needs a positive price")]
        0x09 => ZeroPrice {},
        #[error("quantity must be positive")]
        0x0a => ZeroQuantity {},
        #[error("price {price} is not a multiple of the tick size {tick_size}")]
        0x0b => PriceNotOnTick {
            #[serde(with = "crate::amount")]
            price: u128,
            #[serde(with = "crate::amount")]
            tick_size: u128,
        },
        #[error("quantity {quantity} is not a multiple of the lot size {lot_size}")]
        0x0c => QuantityNotOnLot {
            #[serde(with = "crate::amount")]
            quantity: u128,
            #[serde(with = "crate::amount")]
            lot_size: u128,
        },
        #[error("price {price} is above the market's largest price {max}")]
        0x0d => PriceTooLarge {
            #[serde(with = "crate::amount")]
            price: u128,
            #[serde(with = "crate::amount")]
            max: u128,
        },
        #[error("quantity {quantity} is above the market's largest quantity {max}")]
        0x0e => QuantityTooLarge {
            #[serde(with = "crate::amount")]
            quantity: u128,
            #[serde(with = "crate::amount")]
            max: u128,
        },
        #[error("the quote value of {quantity} at price {price} (with fees) overflows u128")]
        0x0f => NotionalOverflow {
            #[serde(with = "crate::amount")]
            price: u128,
            #[serde(with = "crate::amount")]
            quantity: u128,
        },
        #[error("a market order carries no price (got {price}); use a limit order with ioc")]
        0x10 => MarketOrderPrice {
            #[serde(with = "crate::amount")]
            price: u128,
        },
        #[error("a market order never rests: time in force must be ioc or fok, not {tif}")]
        0x11 => MarketOrderTif { tif: TimeInForce },
        #[error("post-only order at {price} would take: the best opposite price is {best}")]
        0x12 => WouldTake {
            #[serde(with = "crate::amount")]
            price: u128,
            #[serde(with = "crate::amount")]
            best: u128,
        },
        #[error("fill-or-kill order of {quantity} can only fill {fillable}")]
        0x13 => NotFillable {
            #[serde(with = "crate::amount")]
            quantity: u128,
            #[serde(with = "crate::amount")]
            fillable: u128,
        },
        #[error(
            "the {side} side holds its limit of {max} orders and {price} does not beat its worst price {worst}"
        )]
        0x14 => BookFull {
            side: Side,
            max: u32,
            #[serde(with = "crate::amount")]
            price: u128,
            #[serde(with = "crate::amount")]
            worst: u128,
        },
        #[error("{owner} already has the limit of {max} resting {side} orders in this market")]
        0x15 => OwnerOrderLimit { owner: Address, side: Side, max: u32 },
        #[error(
            "the {side} side already tracks {max} owners; settling others' proceeds (anyone may) frees room"
        )]
        0x16 => OwnerTableFull { side: Side, max: u32 },
        #[error("order {order} is not resting in market {market} (filled, cancelled or never placed)")]
        0x17 => UnknownOrder { market: u32, order: u64 },
        #[error("order {order} belongs to {owner}, not to the sender")]
        0x18 => NotOrderOwner { order: u64, owner: Address },
        #[error("{owner} has no resting orders in market {market}")]
        0x19 => NothingToCancel { market: u32, owner: Address },
        #[error("{owner} has nothing to settle in market {market}")]
        0x1a => NothingToSettle { market: u32, owner: Address },
        #[error("withdrawing {requested} fees, only {accrued} accrued")]
        0x1b => FeesInsufficient {
            #[serde(with = "crate::amount")]
            requested: u128,
            #[serde(with = "crate::amount")]
            accrued: u128,
        },
        #[error("withdrawal amount must be positive")]
        0x1c => ZeroWithdrawal {},
        #[error("order sequence of market {market} is exhausted")]
        0x1d => OrderIdsExhausted { market: u32 },
        #[error("market state is inconsistent: {detail}")]
        0x1e => Inconsistent { detail: Text<128> },
        #[error("market {market} has no fees to withdraw")]
        0x1f => NoFeesAccrued { market: u32 },
        #[error("fees cannot be withdrawn to market {market}'s own custody account")]
        0x20 => ToCustody { market: u32 },
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
