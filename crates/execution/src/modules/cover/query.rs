//! Read-only queries: `pool`, `quote`, `cover`, `claim`, `position`,
//! `assessor`. Amounts are decimal strings; ids and heights are numbers.

use super::{keys, math, state};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_types::modules::cover::{
    Assessor, Claim, ClaimId, ClaimStatus, Cover, CoverId, PoolId, PoolParams, PoolState, Position,
    RiskName, StakeTotal, Vote, WAD, capital_custody, stake_custody,
};
use lakh_types::{Address, FailureReason};
use serde::Deserialize;
use serde_json::{Value, json};

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    match method {
        "pool" => pool(params(p)?, ctx),
        "quote" => quote(params(p)?, ctx),
        "cover" => cover(params(p)?, ctx),
        "claim" => claim(params(p)?, ctx),
        "position" => position(params(p)?, ctx),
        "assessor" => assessor(params(p)?, ctx),
        other => Err(QueryError::BadRequest(format!(
            "unknown method {other:?}; cover methods: pool, quote, cover, claim, position, assessor"
        ))),
    }
}

fn s(x: u128) -> String {
    x.to_string()
}

fn overflow() -> QueryError {
    QueryError::BadRequest("arithmetic overflow".into())
}

fn load_pool(pool: PoolId, ctx: &QueryCtx<'_>) -> Result<(PoolParams, PoolState), QueryError> {
    let params = ctx
        .object::<PoolParams>(&keys::params(pool))?
        .ok_or_else(|| QueryError::NotFound(format!("cover pool {pool}")))?;
    let mut state = ctx
        .object::<PoolState>(&keys::state(pool))?
        .ok_or_else(|| QueryError::Corrupt(format!("cover pool {pool} has no ledger")))?;
    state::roll(&mut state, pool, params.epoch_blocks(), ctx.height)
        .map_err(|e| QueryError::Corrupt(e.to_string()))?;
    Ok((params, state))
}

fn quote_json(
    params: &PoolParams,
    state: &PoolState,
    amount: u128,
    blocks: u64,
    height: u64,
) -> Value {
    match state::quote(params, state, amount, blocks, height) {
        Ok(q) => json!({
            "ok": true,
            "amount": s(amount),
            "blocks": blocks,
            "premium": s(q.premium),
            "rate_per_block": s(q.rate),
            "utilization_after": s(q.utilization_after),
            "capacity": s(q.capacity),
            "available": s(q.available),
            "start": height,
            "end": q.end,
            "release_at": q.release_at,
        }),
        Err(e) => json!({
            "ok": false,
            "amount": s(amount),
            "blocks": blocks,
            "error": e,
            "message": e.to_string(),
        }),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PoolQuery {
    pool: PoolId,
    #[serde(default, with = "lakh_types::amount::option")]
    amount: Option<u128>,
    #[serde(default)]
    blocks: Option<u64>,
}

fn pool(q: PoolQuery, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let (params, state) = load_pool(q.pool, ctx)?;
    let total_stake = ctx
        .object::<StakeTotal>(&keys::stake_total(q.pool))?
        .unwrap_or_default()
        .total;
    let epoch_blocks = params.epoch_blocks();
    let h = ctx.height;
    let capacity = math::capacity(state.capital, params.capacity_bps).ok_or_else(overflow)?;
    let exposure = state::exposure(&state).ok_or_else(overflow)?;
    let unearned = state::unearned(&state, epoch_blocks, h).ok_or_else(overflow)?;
    let deposit_value = state::deposit_value(&state, epoch_blocks, h).ok_or_else(overflow)?;
    let withdraw_value = state::withdraw_value(&state, epoch_blocks, h).ok_or_else(overflow)?;
    let free = state::free_capital(&state, params.capacity_bps).ok_or_else(overflow)?;
    let share_value = |value: u128| {
        (state.total_shares > 0)
            .then(|| crate::modules::kit::math::mul_div_floor(value, WAD, state.total_shares))
            .flatten()
            .map(s)
    };
    let mut out = json!({
        "pool": q.pool,
        "height": h,
        "params": params,
        "epoch_blocks": epoch_blocks,
        "capital_custody": capital_custody(q.pool),
        "stake_custody": stake_custody(q.pool),
        "capital": s(state.capital),
        "active_cover": s(state.active_cover),
        "pending_claims": s(state.pending_claims),
        "released_claims": s(state.released_claims),
        "exposure": s(exposure),
        "capacity": s(capacity),
        "available_capacity": s(capacity.saturating_sub(exposure)),
        "utilization": s(math::utilization(exposure, capacity).ok_or_else(overflow)?),
        "unearned_premiums": s(unearned),
        "free_capital": s(free),
        "total_shares": s(state.total_shares),
        "deposit_value": s(deposit_value),
        "withdraw_value": s(withdraw_value),
        "share_price_deposit": share_value(deposit_value),
        "share_price_withdraw": share_value(withdraw_value),
        "total_stake": s(total_stake),
        "deposited": s(state.deposited),
        "withdrawn": s(state.withdrawn),
        "premiums": s(state.premiums),
        "paid_out": s(state.paid_out),
        "covers_sold": state.covers_sold,
        "claims_filed": state.claims_filed,
        "expiry_schedule": state.buckets.iter().map(|b| json!({
            "epoch": b.epoch,
            "release_at": state::release_height(b.epoch, epoch_blocks),
            "cover": s(b.cover),
            "claimed": s(b.claimed),
            "premium": s(b.premium),
        })).collect::<Vec<_>>(),
    });
    match (q.amount, q.blocks) {
        (Some(amount), Some(blocks)) => {
            out["quote"] = quote_json(&params, &state, amount, blocks, h);
        }
        (None, None) => {}
        _ => {
            return Err(QueryError::BadRequest(
                "a quote needs both amount and blocks".into(),
            ));
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteQuery {
    pool: PoolId,
    #[serde(with = "lakh_types::amount")]
    amount: u128,
    blocks: u64,
    #[serde(default)]
    risk: Option<RiskName>,
}

fn quote(q: QuoteQuery, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let (params, state) = load_pool(q.pool, ctx)?;
    if let Some(risk) = &q.risk
        && !params.covers_risk(risk)
    {
        let e = FailureReason::Cover(lakh_types::modules::cover::CoverError::UnknownRisk {
            pool: q.pool,
            risk: risk.clone(),
        });
        return Ok(json!({"ok": false, "error": e, "message": e.to_string()}));
    }
    let mut out = quote_json(&params, &state, q.amount, q.blocks, ctx.height);
    out["pool"] = json!(q.pool);
    out["asset"] = json!(params.capital_asset);
    out["height"] = json!(ctx.height);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoverQuery {
    cover: CoverId,
}

fn cover(q: CoverQuery, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let cover = ctx
        .object::<Cover>(&keys::cover(q.cover))?
        .ok_or_else(|| QueryError::NotFound(format!("cover {}", q.cover)))?;
    let active = ctx.height < cover.end;
    let mut out = serde_json::to_value(&cover).map_err(|e| QueryError::Corrupt(e.to_string()))?;
    out["id"] = json!(q.cover);
    out["height"] = json!(ctx.height);
    out["status"] = json!(if active { "active" } else { "expired" });
    out["remaining"] = json!(s(cover.remaining()));
    out["claimable"] = json!(active && cover.open_claim.is_none() && cover.remaining() > 0);
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimQuery {
    claim: ClaimId,
    #[serde(default)]
    voter: Option<Address>,
}

fn claim(q: ClaimQuery, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let claim = ctx
        .object::<Claim>(&keys::claim(q.claim))?
        .ok_or_else(|| QueryError::NotFound(format!("claim {}", q.claim)))?;
    let params = ctx
        .object::<PoolParams>(&keys::params(claim.pool))?
        .ok_or_else(|| QueryError::Corrupt(format!("claim's pool {} is missing", claim.pool)))?;
    let votes = claim.approve.saturating_add(claim.deny);
    let outcome = if votes < params.quorum {
        ClaimStatus::NoQuorum
    } else if claim.approve > claim.deny {
        ClaimStatus::Approved
    } else {
        ClaimStatus::Denied
    };
    let mut out = serde_json::to_value(&claim).map_err(|e| QueryError::Corrupt(e.to_string()))?;
    out["id"] = json!(q.claim);
    out["height"] = json!(ctx.height);
    out["quorum"] = json!(s(params.quorum));
    out["votes"] = json!(s(votes));
    out["voting_open"] = json!(claim.status == ClaimStatus::Open && ctx.height < claim.vote_end);
    out["resolvable"] = json!(claim.status == ClaimStatus::Open && ctx.height >= claim.vote_end);
    out["outcome_if_resolved_now"] = json!(outcome);
    if let Some(voter) = q.voter {
        let vote = ctx.object::<Vote>(&keys::vote(q.claim, &voter))?;
        out["vote"] = json!({ "voter": voter, "vote": vote });
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerQuery {
    pool: PoolId,
    owner: Address,
}

fn position(q: OwnerQuery, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let (params, state) = load_pool(q.pool, ctx)?;
    let shares = ctx
        .object::<Position>(&keys::position(q.pool, &q.owner))?
        .unwrap_or_default()
        .shares;
    let epoch_blocks = params.epoch_blocks();
    let withdraw_value =
        state::withdraw_value(&state, epoch_blocks, ctx.height).ok_or_else(overflow)?;
    let value = if state.total_shares == 0 {
        0
    } else {
        math::amount_for_shares(shares, state.total_shares, withdraw_value).ok_or_else(overflow)?
    };
    let free = state::free_capital(&state, params.capacity_bps).ok_or_else(overflow)?;
    Ok(json!({
        "pool": q.pool,
        "owner": q.owner,
        "height": ctx.height,
        "shares": s(shares),
        "total_shares": s(state.total_shares),
        "withdraw_value": s(value),
        "pool_withdraw_value": s(withdraw_value),
        "free_capital": s(free),
        "withdrawable_now": s(value.min(free)),
    }))
}

fn assessor(q: OwnerQuery, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    ctx.object::<PoolParams>(&keys::params(q.pool))?
        .ok_or_else(|| QueryError::NotFound(format!("cover pool {}", q.pool)))?;
    let a = ctx
        .object::<Assessor>(&keys::assessor(q.pool, &q.owner))?
        .unwrap_or_default();
    let total = ctx
        .object::<StakeTotal>(&keys::stake_total(q.pool))?
        .unwrap_or_default()
        .total;
    Ok(json!({
        "pool": q.pool,
        "owner": q.owner,
        "height": ctx.height,
        "stake": s(a.stake),
        "total_stake": s(total),
        "locked_until": a.locked_until,
        "unlocked": ctx.height >= a.locked_until,
    }))
}
