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
use lakh_types::Address;
use serde::Deserialize;
use serde_json::{Value, json};

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
    match method {
        "farm" => {
            let FarmParams { farm } = params(p)?;
            let stored = load(ctx, farm)?;
            let mut now = stored.clone();
            math::accrue(&mut now, ctx.height);
            let status = if ctx.height < now.start_height {
                "pending"
            } else if ctx.height < now.end_height {
                "active"
            } else {
                "ended"
            };
            let stake_custody = stake_custody(farm);
            let reward_custody = reward_custody(farm);
            let mut out = serde_json::to_value(&stored).unwrap_or(Value::Null);
            out["status"] = json!(status);
            out["height"] = json!(ctx.height);
            out["reward_per_token_now"] = json!(now.reward_per_token.to_string());
            out["emitted_now"] = json!(now.emitted.to_string());
            // Budget not yet emitted (future blocks, and blocks with nothing staked).
            out["unemitted"] = json!(now.funded.saturating_sub(now.emitted).to_string());
            // What the creator may reclaim now (nothing before the end, when
            // unemitted blocks may still be emitted).
            let reclaimable = if ctx.height >= now.end_height {
                now.reclaimable().unwrap_or_default()
            } else {
                0
            };
            out["reclaimable"] = json!(reclaimable.to_string());
            out["stake_custody"] = json!(stake_custody);
            out["stake_custody_balance"] =
                json!(ctx.balance(&stake_custody, stored.stake_asset)?.to_string());
            out["reward_custody"] = json!(reward_custody);
            out["reward_custody_balance"] = json!(
                ctx.balance(&reward_custody, stored.reward_asset)?
                    .to_string()
            );
            Ok(out)
        }
        "position" => {
            let PositionParams { farm, owner } = params(p)?;
            let mut f = load(ctx, farm)?;
            math::accrue(&mut f, ctx.height);
            let position = ctx
                .object::<Position>(&position_key(farm, &owner))?
                .ok_or_else(|| {
                    QueryError::NotFound(format!("position of {owner} in farm {farm}"))
                })?;
            let pending = math::pending(&position, f.reward_per_token)
                .ok_or_else(|| QueryError::Corrupt("pending rewards overflow".into()))?;
            let share_bps = if f.total_staked == 0 {
                0
            } else {
                crate::modules::kit::math::mul_div_floor(position.staked, 10_000, f.total_staked)
                    .unwrap_or_default()
            };
            Ok(json!({
                "farm": farm,
                "owner": owner,
                "staked": position.staked.to_string(),
                "pending_rewards": pending.to_string(),
                "stake_asset": f.stake_asset,
                "reward_asset": f.reward_asset,
                "share_of_pool_bps": share_bps as u64,
                "height": ctx.height,
            }))
        }
        other => Err(QueryError::BadRequest(format!(
            "unknown farm method {other:?}; methods: farm, position"
        ))),
    }
}

fn load(ctx: &QueryCtx<'_>, farm: u64) -> Result<Farm, QueryError> {
    ctx.object::<Farm>(&farm_key(farm))?
        .ok_or_else(|| QueryError::NotFound(format!("farm {farm}")))
}
