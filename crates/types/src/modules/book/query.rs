//! Typed answers of the order book's queries. Prices are in quote units per
//! lot (ticks times tick size); quantities are in base units (lots times lot
//! size).

use super::Side;
use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

/// Answer to `book market {market}`: parameters, fees, custody and the best
/// prices.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketAnswer {
    /// The market's id.
    pub market: u32,
    /// The asset traded.
    pub base: AssetId,
    /// The asset prices are in.
    pub quote: AssetId,
    /// Quote units per price tick.
    #[serde(with = "crate::amount")]
    pub tick_size: u128,
    /// Base units per lot.
    #[serde(with = "crate::amount")]
    pub lot_size: u128,
    /// Fee charged to resting orders when filled.
    pub maker_fee_bps: u16,
    /// Fee charged to incoming orders.
    pub taker_fee_bps: u16,
    /// Fees collected, in quote units.
    #[serde(with = "crate::amount")]
    pub fees_accrued: u128,
    /// Sequence number the next order gets.
    pub next_order_seq: u64,
    /// Height the market was created at.
    pub created_height: u64,
    /// The account holding the market's assets.
    pub custody: Address,
    /// Its balance of the base asset.
    #[serde(with = "crate::amount")]
    pub custody_base: u128,
    /// Its balance of the quote asset.
    #[serde(with = "crate::amount")]
    pub custody_quote: u128,
    /// Best buy price (`None`: no bids).
    #[serde(with = "crate::amount::option")]
    pub best_bid: Option<u128>,
    /// Resting buy orders.
    pub bid_orders: u64,
    /// Best sell price (`None`: no asks).
    #[serde(with = "crate::amount::option")]
    pub best_ask: Option<u128>,
    /// Resting sell orders.
    pub ask_orders: u64,
}

/// Answer to `book book {market, depth?}`: resting orders aggregated by
/// price, best first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BookAnswer {
    /// The market's id.
    pub market: u32,
    /// Buy levels, highest price first.
    pub bids: Vec<Level>,
    /// Sell levels, lowest price first.
    pub asks: Vec<Level>,
}

/// Orders resting at one price.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Level {
    /// The price.
    #[serde(with = "crate::amount")]
    pub price: u128,
    /// Base units resting at it.
    #[serde(with = "crate::amount")]
    pub quantity: u128,
    /// Orders resting at it.
    pub orders: u64,
}

/// Answer to `book order {market, order}`: one resting order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderAnswer {
    /// The order.
    #[serde(flatten)]
    pub order: OrderInfo,
    /// Orders ahead of it on its side.
    pub position: u64,
}

/// A resting order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderInfo {
    /// The order's id.
    pub order: u64,
    /// Buy or sell.
    pub side: Side,
    /// Who placed it.
    pub owner: Address,
    /// Its limit price.
    #[serde(with = "crate::amount")]
    pub price: u128,
    /// Base units still resting.
    #[serde(with = "crate::amount")]
    pub quantity: u128,
    /// Base units placed.
    #[serde(with = "crate::amount")]
    pub original_quantity: u128,
    /// Base units filled.
    #[serde(with = "crate::amount")]
    pub filled_quantity: u128,
    /// What the book holds for it (quote for a buy, base for a sell).
    #[serde(with = "crate::amount")]
    pub locked: u128,
}

/// Answer to `book claimable {market, owner}`: proceeds waiting to be
/// claimed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimableAnswer {
    /// The market's id.
    pub market: u32,
    /// The account.
    pub owner: Address,
    /// Base units claimable.
    #[serde(with = "crate::amount")]
    pub base: u128,
    /// Quote units claimable.
    #[serde(with = "crate::amount")]
    pub quote: u128,
    /// The account's resting orders.
    pub open_orders: u64,
}

/// Answer to `book orders {market, owner}`: an account's resting orders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrdersAnswer {
    /// The market's id.
    pub market: u32,
    /// The account.
    pub owner: Address,
    /// Its orders, bids first.
    pub orders: Vec<OrderInfo>,
}
