//! Typed answers of the farm module's queries.

use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

/// Where a farm is in its schedule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FarmStatus {
    /// Before its start height.
    Pending,
    /// Emitting rewards.
    Active,
    /// Past its end height.
    Ended,
}

/// Answer to `farm farm {farm}`: parameters, totals, the accumulator as
/// stored and as it stands at the queried height, the budget left and what
/// the creator may reclaim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FarmAnswer {
    /// The farm's id.
    pub id: u64,
    /// Who created (and funded) it.
    pub creator: Address,
    /// The asset staked.
    pub stake_asset: AssetId,
    /// The asset paid as rewards.
    pub reward_asset: AssetId,
    /// Rewards emitted per block, in reward base units.
    #[serde(with = "crate::amount")]
    pub rate_per_block: u128,
    /// First height that emits.
    pub start_height: u64,
    /// Where emission stops: the scheduled end, or earlier if the
    /// accumulator reached its u128 limit.
    pub end_height: u64,
    /// The end height set at creation.
    pub scheduled_end_height: u64,
    /// The budget moved in at creation.
    #[serde(with = "crate::amount")]
    pub funded: u128,
    /// Stake held.
    #[serde(with = "crate::amount")]
    pub total_staked: u128,
    /// Rewards per staked base unit, scaled by 1e18, as stored.
    #[serde(with = "crate::amount")]
    pub reward_per_token: u128,
    /// Height up to which the stored accumulator has accrued.
    pub last_update_height: u64,
    /// Rewards given to stakers through the accumulator, as stored.
    #[serde(with = "crate::amount")]
    pub emitted: u128,
    /// Rewards harvested.
    #[serde(with = "crate::amount")]
    pub paid: u128,
    /// Rewards given up by emergency withdrawals.
    #[serde(with = "crate::amount")]
    pub forfeited: u128,
    /// Rewards taken back by the creator.
    #[serde(with = "crate::amount")]
    pub reclaimed: u128,
    /// Open positions.
    pub positions: u64,
    /// Where the farm is in its schedule at `height`.
    pub status: FarmStatus,
    /// Height of the state read.
    pub height: u64,
    /// The accumulator accrued up to `height`.
    #[serde(with = "crate::amount")]
    pub reward_per_token_now: u128,
    /// Rewards emitted up to `height`.
    #[serde(with = "crate::amount")]
    pub emitted_now: u128,
    /// Budget not yet emitted (future blocks, and blocks with nothing staked).
    #[serde(with = "crate::amount")]
    pub unemitted: u128,
    /// What the creator may reclaim now (nothing before the end).
    #[serde(with = "crate::amount")]
    pub reclaimable: u128,
    /// The account holding the stake.
    pub stake_custody: Address,
    /// Its balance of the stake asset.
    #[serde(with = "crate::amount")]
    pub stake_custody_balance: u128,
    /// The account holding the rewards.
    pub reward_custody: Address,
    /// Its balance of the reward asset.
    #[serde(with = "crate::amount")]
    pub reward_custody_balance: u128,
}

/// Answer to `farm position {farm, owner}`: stake and rewards harvestable at
/// the queried height.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionAnswer {
    /// The farm's id.
    pub farm: u64,
    /// The staker.
    pub owner: Address,
    /// Stake held, in stake base units.
    #[serde(with = "crate::amount")]
    pub staked: u128,
    /// Rewards a harvest would pay.
    #[serde(with = "crate::amount")]
    pub pending_rewards: u128,
    /// The asset staked.
    pub stake_asset: AssetId,
    /// The asset paid as rewards.
    pub reward_asset: AssetId,
    /// The position's share of the farm's stake.
    pub share_of_pool_bps: u64,
    /// Height of the state read.
    pub height: u64,
}
