//! Yield farms: stake an asset (LP shares or any other), earn a reward asset
//! at a fixed rate per block over a schedule, through a reward-per-token
//! accumulator.
//!
//! - Anyone creates a farm and funds its whole budget up front; the farm's id
//!   is [`farm_id`]`(creator, nonce)`.
//! - Custody: staked assets sit in [`stake_custody`]`(farm)`, the reward
//!   budget in [`reward_custody`]`(farm)` (bank balances, so supply
//!   conservation covers them).
//! - Rewards never exceed the budget: the accumulator only grows by what the
//!   elapsed scheduled blocks emit, every division rounds down, and payouts
//!   come out of the reward custody, which holds `funded - paid - reclaimed`.

mod actions;
pub(crate) mod math;
mod query;
pub(crate) mod state;

pub use query::query;
pub use state::{Farm, Position, farm_key, kind, position_key, reward_custody, stake_custody};

use crate::modules::kit::View;
use crate::modules::kit::fail;
use crate::modules::kit::{Access, ActionError, TxContext};
use crate::modules::kit::{declare_asset_read, declare_balance};
use actions::*;
use lakh_state::StateKey;
use lakh_types::{
    Address, Event,
    modules::farm::{FarmAction, check_typed, farm_id},
};

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    nonce: u64,
    action: &FarmAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        FarmAction::Create {
            stake_asset,
            reward_asset,
            ..
        } => {
            let id = farm_id(sender, nonce);
            visit(farm_key(id), Access::Write);
            declare_asset_read(*stake_asset, visit);
            declare_asset_read(*reward_asset, visit);
            declare_balance(sender, *reward_asset, visit);
            declare_balance(&reward_custody(id), *reward_asset, visit);
        }
        FarmAction::Stake {
            farm, stake_asset, ..
        }
        | FarmAction::Unstake {
            farm, stake_asset, ..
        }
        | FarmAction::EmergencyWithdraw { farm, stake_asset } => {
            visit(farm_key(*farm), Access::Write);
            visit(position_key(*farm, sender), Access::Write);
            declare_balance(sender, *stake_asset, visit);
            declare_balance(&stake_custody(*farm), *stake_asset, visit);
        }
        FarmAction::Harvest { farm, reward_asset } => {
            visit(farm_key(*farm), Access::Write);
            visit(position_key(*farm, sender), Access::Write);
            declare_balance(sender, *reward_asset, visit);
            declare_balance(&reward_custody(*farm), *reward_asset, visit);
        }
        FarmAction::Reclaim { farm, reward_asset } => {
            visit(farm_key(*farm), Access::Write);
            declare_balance(sender, *reward_asset, visit);
            declare_balance(&reward_custody(*farm), *reward_asset, visit);
        }
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &FarmAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    check_typed(action).map_err(fail)?;
    match action {
        FarmAction::Create {
            stake_asset,
            reward_asset,
            rate_per_block,
            start_height,
            end_height,
        } => create(
            ctx,
            view,
            *stake_asset,
            *reward_asset,
            *rate_per_block,
            *start_height,
            *end_height,
            events,
        ),
        FarmAction::Stake {
            farm,
            stake_asset,
            amount,
        } => stake(ctx, view, *farm, *stake_asset, *amount, events),
        FarmAction::Unstake {
            farm,
            stake_asset,
            amount,
        } => unstake(ctx, view, *farm, *stake_asset, *amount, events),
        FarmAction::Harvest { farm, reward_asset } => {
            harvest(ctx, view, *farm, *reward_asset, events)
        }
        FarmAction::EmergencyWithdraw { farm, stake_asset } => {
            emergency_withdraw(ctx, view, *farm, *stake_asset, events)
        }
        FarmAction::Reclaim { farm, reward_asset } => {
            reclaim(ctx, view, *farm, *reward_asset, events)
        }
    }
}
