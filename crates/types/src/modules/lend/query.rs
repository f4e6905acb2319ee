//! Typed answers of the lending module's queries. Markets are accrued to the
//! query's height; values are in quote units scaled by 1e18 (see the oracle).

use super::MarketParams;
use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

/// Answer to `lend market {asset}`: one market accrued to the query's height.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketAnswer {
    /// The market's asset.
    pub asset: AssetId,
    /// The asset's decimals (prices are per whole token).
    pub decimals: u8,
    /// Height of the state read.
    pub height: u64,
    /// Risk parameters and interest-rate model.
    pub params: MarketParams,
    /// Base units held for suppliers and reserves.
    #[serde(with = "crate::amount")]
    pub cash: u128,
    /// Total borrowed plus accrued interest.
    #[serde(with = "crate::amount")]
    pub borrows: u128,
    /// The protocol's share of interest.
    #[serde(with = "crate::amount")]
    pub reserves: u128,
    /// What the suppliers' shares are worth, in base units.
    #[serde(with = "crate::amount")]
    pub supplied: u128,
    /// Supply shares outstanding, the locked ones included.
    #[serde(with = "crate::amount")]
    pub total_shares: u128,
    /// Shares locked at the first supply.
    #[serde(with = "crate::amount")]
    pub locked_shares: u128,
    /// Base units per share, scaled by 1e18.
    #[serde(with = "crate::amount")]
    pub exchange_rate: u128,
    /// Borrows over supplied, scaled by 1e18.
    #[serde(with = "crate::amount")]
    pub utilization: u128,
    /// Interest per block on borrows, scaled by 1e18.
    #[serde(with = "crate::amount")]
    pub borrow_rate_per_block: u128,
    /// Interest per block to suppliers, scaled by 1e18.
    #[serde(with = "crate::amount")]
    pub supply_rate_per_block: u128,
    /// Grows with interest; scaled by 1e18.
    #[serde(with = "crate::amount")]
    pub borrow_index: u128,
    /// The account holding the market's asset.
    pub custody: Address,
    /// Its balance of the asset.
    #[serde(with = "crate::amount")]
    pub custody_balance: u128,
}

/// Answer to `lend markets {}`: every market.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketsAnswer {
    /// Height of the state read.
    pub height: u64,
    /// The markets, in registry order.
    pub markets: Vec<MarketAnswer>,
}

/// Answer to `lend position {account}`: supplies and borrows, their values,
/// health and borrowing capacity. The account totals are `None` when a
/// price they need is missing (`price_error` says which).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionAnswer {
    /// The account.
    pub account: Address,
    /// Height of the state read.
    pub height: u64,
    /// The markets a withdraw, borrow or liquidation of this account must
    /// declare.
    pub markets: Vec<AssetId>,
    /// One row per market the account is in.
    pub positions: Vec<PositionRow>,
    /// Supplies at full value.
    #[serde(with = "crate::amount::option")]
    pub supplied_value: Option<u128>,
    /// Supplies weighted by their collateral factors.
    #[serde(with = "crate::amount::option")]
    pub collateral_value: Option<u128>,
    /// Debts' value.
    #[serde(with = "crate::amount::option")]
    pub debt_value: Option<u128>,
    /// Value that may still be borrowed.
    #[serde(with = "crate::amount::option")]
    pub borrow_capacity_left: Option<u128>,
    /// Collateral value over debt value, scaled by 1e18 (`None` without debt).
    #[serde(with = "crate::amount::option")]
    pub health_factor: Option<u128>,
    /// Whether the debt is within the collateral.
    pub healthy: Option<bool>,
    /// Why the totals are missing.
    pub price_error: Option<String>,
}

/// An account's position in one market.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionRow {
    /// The market's asset.
    pub asset: AssetId,
    /// Supply shares held.
    #[serde(with = "crate::amount")]
    pub shares: u128,
    /// What they are worth, in base units.
    #[serde(with = "crate::amount")]
    pub supplied: u128,
    /// Borrowed principal as of `index`.
    #[serde(with = "crate::amount")]
    pub principal: u128,
    /// The market's borrow index when the principal was last set.
    #[serde(with = "crate::amount")]
    pub index: u128,
    /// Debt now, in base units.
    #[serde(with = "crate::amount")]
    pub debt: u128,
    /// The market's collateral factor, scaled by 1e18.
    #[serde(with = "crate::amount")]
    pub collateral_factor: u128,
    /// The asset's price (`None` when it has none).
    #[serde(with = "crate::amount::option")]
    pub price: Option<u128>,
    /// Why there is no price.
    pub price_error: Option<String>,
    /// Supplied at full value.
    #[serde(with = "crate::amount::option")]
    pub supplied_value: Option<u128>,
    /// Supplied weighted by the collateral factor.
    #[serde(with = "crate::amount::option")]
    pub collateral_value: Option<u128>,
    /// Debt's value.
    #[serde(with = "crate::amount::option")]
    pub debt_value: Option<u128>,
}
