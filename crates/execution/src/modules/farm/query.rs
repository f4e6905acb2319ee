//! Read-only queries of the farm module.
//!
//! Methods (params as a JSON object):
//! - `farm {farm}`: parameters, totals, the accumulator as stored and as it
//!   stands at the queried height, budget left, what the creator may reclaim.
//! - `position {farm, owner}`: stake and rewards harvestable at the queried
//!   height.

use super::math;
use super::state::{Farm, Position, farm_key, position_key, reward_custody, stake_custody};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_types::{
    Address,
    modules::farm::query::{FarmAnswer, FarmStatus, PositionAnswer},
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FarmParams {
    farm: u64,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PositionParams {
    farm: u64,
    owner: Address,
}

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let answer = match method {
        "farm" => {
            let FarmParams { farm } = params(p)?;
            serde_json::to_value(farm_answer(ctx, farm)?)
        }
        "position" => {
            let PositionParams { farm, owner } = params(p)?;
            serde_json::to_value(position_answer(ctx, farm, owner)?)
        }
        other => {
            return Err(QueryError::BadRequest(format!(
                "unknown farm method {other:?}; methods: farm, position"
            )));
        }
    };
    answer.map_err(|e| QueryError::Corrupt(e.to_string()))
}

fn farm_answer(ctx: &QueryCtx<'_>, farm: u64) -> Result<FarmAnswer, QueryError> {
    let stored = load(ctx, farm)?;
    let mut now = stored.clone();
    math::accrue(&mut now, ctx.height);
    let status = if ctx.height < now.start_height {
        FarmStatus::Pending
    } else if ctx.height < now.end_height {
        FarmStatus::Active
    } else {
        FarmStatus::Ended
    };
    // Nothing before the end, when unemitted blocks may still be emitted.
    let reclaimable = if ctx.height >= now.end_height {
        now.reclaimable().unwrap_or_default()
    } else {
        0
    };
    let stake_custody = stake_custody(farm);
    let reward_custody = reward_custody(farm);
    Ok(FarmAnswer {
        id: stored.id,
        creator: stored.creator,
        stake_asset: stored.stake_asset,
        reward_asset: stored.reward_asset,
        rate_per_block: stored.rate_per_block,
        start_height: stored.start_height,
        end_height: stored.end_height,
        scheduled_end_height: stored.scheduled_end_height,
        funded: stored.funded,
        total_staked: stored.total_staked,
        reward_per_token: stored.reward_per_token,
        last_update_height: stored.last_update_height,
        emitted: stored.emitted,
        paid: stored.paid,
        forfeited: stored.forfeited,
        reclaimed: stored.reclaimed,
        positions: stored.positions,
        status,
        height: ctx.height,
        reward_per_token_now: now.reward_per_token,
        emitted_now: now.emitted,
        unemitted: now.funded.saturating_sub(now.emitted),
        reclaimable,
        stake_custody,
        stake_custody_balance: ctx.balance(&stake_custody, stored.stake_asset)?,
        reward_custody,
        reward_custody_balance: ctx.balance(&reward_custody, stored.reward_asset)?,
    })
}

fn position_answer(
    ctx: &QueryCtx<'_>,
    farm: u64,
    owner: Address,
) -> Result<PositionAnswer, QueryError> {
    let mut f = load(ctx, farm)?;
    math::accrue(&mut f, ctx.height);
    let position = ctx
        .object::<Position>(&position_key(farm, &owner))?
        .ok_or_else(|| QueryError::NotFound(format!("position of {owner} in farm {farm}")))?;
    let pending_rewards = math::pending(&position, f.reward_per_token)
        .ok_or_else(|| QueryError::Corrupt("pending rewards overflow".into()))?;
    let share_bps = if f.total_staked == 0 {
        0
    } else {
        crate::modules::kit::math::mul_div_floor(position.staked, 10_000, f.total_staked)
            .unwrap_or_default()
    };
    Ok(PositionAnswer {
        farm,
        owner,
        staked: position.staked,
        pending_rewards,
        stake_asset: f.stake_asset,
        reward_asset: f.reward_asset,
        share_of_pool_bps: share_bps as u64,
        height: ctx.height,
    })
}

fn load(ctx: &QueryCtx<'_>, farm: u64) -> Result<Farm, QueryError> {
    ctx.object::<Farm>(&farm_key(farm))?
        .ok_or_else(|| QueryError::NotFound(format!("farm {farm}")))
}
