//! Read-only queries: `pool`, `quote`, `cover`, `claim`, `position`,
//! `assessor`, `products`, `payouts`. Amounts are decimal strings; ids and heights are numbers.

use super::{keys, math, state};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_types::modules::cover::query::{
    AssessorAnswer, ClaimAnswer, CoverAnswer, CoverStatus, ExpiryAnswer, PayoutsAnswer, PoolAnswer,
    PositionAnswer, ProductAnswer, ProductsAnswer, QuoteAnswer, VoterAnswer,
};
use lakh_types::modules::cover::{
    Assessor, Claim, ClaimId, ClaimStatus, Cover, CoverId, PoolId, PoolParams, PoolState, Position,
    RiskName, StakeTotal, Vote, WAD, capital_custody, stake_custody,
};
use lakh_types::modules::cover::{Holding, MAX_PRODUCTS, PayoutLog, Product};
use lakh_types::{Address, FailureReason};
use serde::Deserialize;
use serde_json::Value;

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let answer = match method {
        "pool" => serde_json::to_value(pool(params(p)?, ctx)?),
        "quote" => serde_json::to_value(quote(params(p)?, ctx)?),
        "cover" => serde_json::to_value(cover(params(p)?, ctx)?),
        "claim" => serde_json::to_value(claim(params(p)?, ctx)?),
        "position" => serde_json::to_value(position(params(p)?, ctx)?),
        "assessor" => serde_json::to_value(assessor(params(p)?, ctx)?),
        "products" => serde_json::to_value(products(params(p)?, ctx)?),
        "payouts" => serde_json::to_value(payouts(params(p)?, ctx)?),
        other => {
            return Err(QueryError::BadRequest(format!(
                "unknown method {other:?}; cover methods: pool, quote, cover, claim, position, assessor, products, payouts"
            )));
        }
    };
    answer.map_err(|e| QueryError::Corrupt(e.to_string()))
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

/// A quote saying why buying would be refused.
fn refused(amount: u128, blocks: u64, e: FailureReason) -> QuoteAnswer {
    QuoteAnswer {
        ok: false,
        pool: None,
        asset: None,
        height: None,
        amount: Some(amount),
        period_blocks: Some(blocks),
        premium: None,
        rate_per_block: None,
        utilization_after: None,
        capacity: None,
        available: None,
        start_height: None,
        end_height: None,
        release_height: None,
        message: Some(e.to_string()),
        error: Some(e),
    }
}

fn quote_answer(
    params: &PoolParams,
    state: &PoolState,
    amount: u128,
    blocks: u64,
    height: u64,
) -> QuoteAnswer {
    match state::quote(params, state, amount, blocks, height) {
        Ok(q) => QuoteAnswer {
            ok: true,
            pool: None,
            asset: None,
            height: None,
            amount: Some(amount),
            period_blocks: Some(blocks),
            premium: Some(q.premium),
            rate_per_block: Some(q.rate),
            utilization_after: Some(q.utilization_after),
            capacity: Some(q.capacity),
            available: Some(q.available),
            start_height: Some(height),
            end_height: Some(q.end_height),
            release_height: Some(q.release_height),
            message: None,
            error: None,
        },
        Err(e) => refused(amount, blocks, e),
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

fn pool(q: PoolQuery, ctx: &QueryCtx<'_>) -> Result<PoolAnswer, QueryError> {
    let (params, state) = load_pool(q.pool, ctx)?;
    let total_stake = ctx
        .object::<StakeTotal>(&keys::stake_total(q.pool))?
        .unwrap_or_default()
        .total;
    let epoch_blocks = params.epoch_blocks();
    let h = ctx.height;
    let capacity = math::capacity(state.capital, params.capacity_bps).ok_or_else(overflow)?;
    let exposure = state::exposure(&state).ok_or_else(overflow)?;
    let deposit_value = state::deposit_value(&state, epoch_blocks, h).ok_or_else(overflow)?;
    let withdraw_value = state::withdraw_value(&state, epoch_blocks, h).ok_or_else(overflow)?;
    let share_value = |value: u128| {
        (state.total_shares > 0)
            .then(|| crate::modules::kit::math::mul_div_floor(value, WAD, state.total_shares))
            .flatten()
    };
    let quote = match (q.amount, q.blocks) {
        (Some(amount), Some(blocks)) => Some(quote_answer(&params, &state, amount, blocks, h)),
        (None, None) => None,
        _ => {
            return Err(QueryError::BadRequest(
                "a quote needs both amount and blocks".into(),
            ));
        }
    };
    Ok(PoolAnswer {
        pool: q.pool,
        height: h,
        epoch_blocks,
        capital_custody: capital_custody(q.pool),
        stake_custody: stake_custody(q.pool),
        capital: state.capital,
        active_cover: state.active_cover,
        pending_claims: state.pending_claims,
        released_claims: state.released_claims,
        exposure,
        capacity,
        available_capacity: capacity.saturating_sub(exposure),
        utilization: math::utilization(exposure, capacity).ok_or_else(overflow)?,
        unearned_premiums: state::unearned(&state, epoch_blocks, h).ok_or_else(overflow)?,
        free_capital: state::free_capital(&state, params.capacity_bps).ok_or_else(overflow)?,
        total_shares: state.total_shares,
        deposit_value,
        withdraw_value,
        share_price_deposit: share_value(deposit_value),
        share_price_withdraw: share_value(withdraw_value),
        total_stake,
        deposited: state.deposited,
        withdrawn: state.withdrawn,
        premiums: state.premiums,
        paid_out: state.paid_out,
        covers_sold: state.covers_sold,
        claims_filed: state.claims_filed,
        expiry_schedule: state
            .buckets
            .iter()
            .map(|b| ExpiryAnswer {
                epoch: b.epoch,
                release_height: state::release_height(b.epoch, epoch_blocks),
                cover: b.cover,
                claimed: b.claimed,
                premium: b.premium,
            })
            .collect(),
        quote,
        params,
    })
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

fn quote(q: QuoteQuery, ctx: &QueryCtx<'_>) -> Result<QuoteAnswer, QueryError> {
    let (params, state) = load_pool(q.pool, ctx)?;
    let mut answer = match &q.risk {
        Some(risk) if !params.covers_risk(risk) => refused(
            q.amount,
            q.blocks,
            FailureReason::Cover(lakh_types::modules::cover::CoverError::UnknownRisk {
                pool: q.pool,
                risk: risk.clone(),
            }),
        ),
        _ => quote_answer(&params, &state, q.amount, q.blocks, ctx.height),
    };
    answer.pool = Some(q.pool);
    answer.asset = Some(params.capital_asset);
    answer.height = Some(ctx.height);
    Ok(answer)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CoverQuery {
    cover: CoverId,
}

fn cover(q: CoverQuery, ctx: &QueryCtx<'_>) -> Result<CoverAnswer, QueryError> {
    let cover = ctx
        .object::<Cover>(&keys::cover(q.cover))?
        .ok_or_else(|| QueryError::NotFound(format!("cover {}", q.cover)))?;
    let active = ctx.height < cover.end_height;
    Ok(CoverAnswer {
        id: q.cover,
        height: ctx.height,
        status: if active {
            CoverStatus::Active
        } else {
            CoverStatus::Expired
        },
        remaining: cover.remaining(),
        claimable: active && cover.open_claim.is_none() && cover.remaining() > 0,
        cover,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClaimQuery {
    claim: ClaimId,
    #[serde(default)]
    voter: Option<Address>,
}

fn claim(q: ClaimQuery, ctx: &QueryCtx<'_>) -> Result<ClaimAnswer, QueryError> {
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
    let vote = match q.voter {
        Some(voter) => Some(VoterAnswer {
            voter,
            vote: ctx.object::<Vote>(&keys::vote(q.claim, &voter))?,
        }),
        None => None,
    };
    Ok(ClaimAnswer {
        id: q.claim,
        height: ctx.height,
        quorum: params.quorum,
        votes,
        voting_open: claim.status == ClaimStatus::Open && ctx.height < claim.vote_end_height,
        resolvable: claim.status == ClaimStatus::Open && ctx.height >= claim.vote_end_height,
        outcome_if_resolved_now: outcome,
        vote,
        claim,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnerQuery {
    pool: PoolId,
    owner: Address,
}

fn position(q: OwnerQuery, ctx: &QueryCtx<'_>) -> Result<PositionAnswer, QueryError> {
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
    Ok(PositionAnswer {
        pool: q.pool,
        owner: q.owner,
        height: ctx.height,
        shares,
        total_shares: state.total_shares,
        withdraw_value: value,
        pool_withdraw_value: withdraw_value,
        free_capital: free,
        withdrawable_now: value.min(free),
    })
}

fn assessor(q: OwnerQuery, ctx: &QueryCtx<'_>) -> Result<AssessorAnswer, QueryError> {
    ctx.object::<PoolParams>(&keys::params(q.pool))?
        .ok_or_else(|| QueryError::NotFound(format!("cover pool {}", q.pool)))?;
    let a = ctx
        .object::<Assessor>(&keys::assessor(q.pool, &q.owner))?
        .unwrap_or_default();
    let total = ctx
        .object::<StakeTotal>(&keys::stake_total(q.pool))?
        .unwrap_or_default()
        .total;
    Ok(AssessorAnswer {
        pool: q.pool,
        owner: q.owner,
        height: ctx.height,
        stake: a.stake,
        total_stake: total,
        locked_until_height: a.locked_until_height,
        unlocked: ctx.height >= a.locked_until_height,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

fn products(_: NoParams, ctx: &QueryCtx<'_>) -> Result<ProductsAnswer, QueryError> {
    let mut products = Vec::new();
    for id in 0..MAX_PRODUCTS {
        let Some(product) = ctx.object::<Product>(&keys::product(id))? else {
            continue;
        };
        let unpaid = product.holdings.iter().filter(|h| h.unpaid());
        let unpaid_covers = unpaid.clone().count() as u32;
        let owed = unpaid
            .map(|h: &Holding| h.owed)
            .try_fold(0u128, u128::checked_add);
        products.push(ProductAnswer {
            id,
            unpaid_covers,
            unpaid: owed.ok_or_else(overflow)?,
            product,
        });
    }
    Ok(ProductsAnswer {
        height: ctx.height,
        products,
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutsQuery {
    owner: Address,
}

fn payouts(q: PayoutsQuery, ctx: &QueryCtx<'_>) -> Result<PayoutsAnswer, QueryError> {
    let log = ctx
        .object::<PayoutLog>(&keys::payout_log(&q.owner))?
        .unwrap_or_default();
    Ok(PayoutsAnswer {
        owner: q.owner,
        height: ctx.height,
        payouts: log.records.into_inner(),
    })
}
