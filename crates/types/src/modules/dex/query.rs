//! Typed answers of the DEX's queries.

use super::Path;
use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

/// Answer to `dex pool_id {a, b}`: where the pool of a pair lives, whether
/// it exists or not.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolIdAnswer {
    /// The pool's id, 32 bytes as hex.
    pub pool_id: String,
    /// The lower asset of the pair.
    pub asset_a: AssetId,
    /// The higher asset of the pair.
    pub asset_b: AssetId,
    /// The account holding the reserves.
    pub custody: Address,
    /// The pool's share asset.
    pub lp_asset: AssetId,
    /// Whether the pool has been created.
    pub exists: bool,
}

/// Answer to `dex pool {a, b}`: reserves, shares and price accumulators.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolAnswer {
    /// The pool's id, 32 bytes as hex.
    pub pool_id: String,
    /// The lower asset of the pair.
    pub asset_a: AssetId,
    /// The higher asset of the pair.
    pub asset_b: AssetId,
    /// The account holding the reserves.
    pub custody: Address,
    /// Reserve of `asset_a`.
    #[serde(with = "crate::amount")]
    pub reserve_a: u128,
    /// Reserve of `asset_b`.
    #[serde(with = "crate::amount")]
    pub reserve_b: u128,
    /// The custody's balance of `asset_a`: above the reserve only by what
    /// was sent to it directly.
    #[serde(with = "crate::amount")]
    pub custody_balance_a: u128,
    /// The custody's balance of `asset_b`.
    #[serde(with = "crate::amount")]
    pub custody_balance_b: u128,
    /// The pool's share asset.
    pub lp_asset: AssetId,
    /// Its symbol.
    pub lp_symbol: String,
    /// Shares outstanding, the locked ones included.
    #[serde(with = "crate::amount")]
    pub total_shares: u128,
    /// Shares locked at the first deposit.
    #[serde(with = "crate::amount")]
    pub locked_shares: u128,
    /// Height of the last trade or deposit (the accumulators' height).
    pub last_height: u64,
    /// Price of `asset_a` in `asset_b` summed over blocks, as stored (U256 hex).
    pub price_a_cumulative: String,
    /// Price of `asset_b` in `asset_a` summed over blocks, as stored (U256 hex).
    pub price_b_cumulative: String,
    /// Height of the state read.
    pub height: u64,
    /// `price_a_cumulative` carried to `height`.
    pub price_a_cumulative_now: String,
    /// `price_b_cumulative` carried to `height`.
    pub price_b_cumulative_now: String,
}

/// Answer to `dex quote {path, amount_in | amount_out}`: what a swap along
/// `path` would pay or cost now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteAnswer {
    /// The assets swapped through, first in, last out.
    pub path: Path,
    /// Paid into the first pool.
    #[serde(with = "crate::amount")]
    pub amount_in: u128,
    /// Received from the last pool.
    #[serde(with = "crate::amount")]
    pub amount_out: u128,
    /// One per pool on the path.
    pub hops: Vec<HopAnswer>,
    /// Height of the state read.
    pub height: u64,
}

/// One pool's part of a quote.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HopAnswer {
    /// Asset paid into this pool.
    pub asset_in: AssetId,
    /// Asset received from it.
    pub asset_out: AssetId,
    /// Amount paid in.
    #[serde(with = "crate::amount")]
    pub amount_in: u128,
    /// Amount received.
    #[serde(with = "crate::amount")]
    pub amount_out: u128,
    /// The pool's reserve of `asset_in`, as priced.
    #[serde(with = "crate::amount")]
    pub reserve_in: u128,
    /// The pool's reserve of `asset_out`, as priced.
    #[serde(with = "crate::amount")]
    pub reserve_out: u128,
}

/// Answer to `dex position {owner, a, b}`: an account's pool shares and what
/// they are worth.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionAnswer {
    /// The account.
    pub owner: Address,
    /// The lower asset of the pair.
    pub asset_a: AssetId,
    /// The higher asset of the pair.
    pub asset_b: AssetId,
    /// The pool's share asset.
    pub lp_asset: AssetId,
    /// Its symbol.
    pub lp_symbol: String,
    /// Shares the account holds.
    #[serde(with = "crate::amount")]
    pub shares: u128,
    /// Shares outstanding.
    #[serde(with = "crate::amount")]
    pub total_shares: u128,
    /// `asset_a` that removing every share would pay now.
    #[serde(with = "crate::amount")]
    pub amount_a: u128,
    /// `asset_b` that removing every share would pay now.
    #[serde(with = "crate::amount")]
    pub amount_b: u128,
}
