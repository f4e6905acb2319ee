//! Read-only queries of the staking module.
//!
//! Methods (params as a JSON object):
//! - `params {}`: the module parameters in force.
//! - `validators {}`: every registered validator with its totals.
//! - `validator {validator}`: one validator's record, custody balance and
//!   when it may next raise its commission.
//! - `delegation {validator, delegator}`: amount, pending rewards, unbonding
//!   entries and what a withdrawal in the next block would pay.
//! - `delegations {delegator}`: the same for every validator the account has
//!   a delegation with.

use super::math;
use super::state::{
    Delegation, StakeParams, Validator, ValidatorRegistry, custody, delegation_key, params_key,
    registry_key, validator_key,
};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_types::{
    Address, AssetId,
    modules::stake::query::{
        DelegationAnswer, DelegationsAnswer, ParamsAnswer, UnbondingAnswer, ValidatorAnswer,
        ValidatorSummary, ValidatorsAnswer,
    },
};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidatorParams {
    validator: Address,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DelegationParams {
    validator: Address,
    delegator: Address,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DelegatorParams {
    delegator: Address,
}

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    match method {
        "params" => {
            let Empty {} = params(&object_or_empty(p))?;
            let StakeParams {
                unbonding_blocks,
                max_commission_bps,
                max_commission_change_bps,
            } = load_params(ctx)?;
            to_json(&ParamsAnswer {
                unbonding_blocks,
                max_commission_bps,
                max_commission_change_bps,
            })
        }
        "validators" => {
            let Empty {} = params(&object_or_empty(p))?;
            to_json(&validators(ctx)?)
        }
        "validator" => {
            let ValidatorParams { validator } = params(p)?;
            to_json(&validator_answer(ctx, validator)?)
        }
        "delegation" => {
            let DelegationParams {
                validator,
                delegator,
            } = params(p)?;
            let v = ctx
                .object::<Validator>(&validator_key(&validator))?
                .ok_or_else(|| QueryError::NotFound(format!("validator {validator}")))?;
            let d = ctx
                .object::<Delegation>(&delegation_key(&validator, &delegator))?
                .ok_or_else(|| {
                    QueryError::NotFound(format!(
                        "delegation of {delegator} to validator {validator}"
                    ))
                })?;
            to_json(&describe(&v, &d, ctx.height)?)
        }
        "delegations" => {
            let DelegatorParams { delegator } = params(p)?;
            to_json(&delegations(ctx, delegator)?)
        }
        other => Err(QueryError::BadRequest(format!(
            "unknown stake method {other:?}; methods: params, validators, validator, delegation, delegations"
        ))),
    }
}

fn validators(ctx: &QueryCtx<'_>) -> Result<ValidatorsAnswer, QueryError> {
    let registry = registry(ctx)?;
    let mut validators = Vec::with_capacity(registry.validators.len());
    for address in registry.validators.iter() {
        if let Some(v) = ctx.object::<Validator>(&validator_key(address))? {
            validators.push(ValidatorSummary {
                address: v.address,
                commission_bps: v.commission_bps,
                total_delegated: v.total_delegated,
                total_unbonding: v.total_unbonding,
                delegations: v.delegations,
            });
        }
    }
    Ok(ValidatorsAnswer { validators })
}

fn validator_answer(ctx: &QueryCtx<'_>, validator: Address) -> Result<ValidatorAnswer, QueryError> {
    let v = ctx
        .object::<Validator>(&validator_key(&validator))?
        .ok_or_else(|| QueryError::NotFound(format!("validator {validator}")))?;
    let custody_address = custody(&validator);
    let custody_balance = ctx.balance(&custody_address, AssetId::NATIVE)?;
    let p = load_params(ctx)?;
    Ok(ValidatorAnswer {
        address: v.address,
        commission_bps: v.commission_bps,
        commission_changed_height: v.commission_changed_height,
        total_delegated: v.total_delegated,
        total_unbonding: v.total_unbonding,
        reward_per_token: v.reward_per_token,
        reward_balance: v.reward_balance,
        reward_dust: v.reward_dust,
        delegations: v.delegations,
        rewards_distributed: v.rewards_distributed,
        commission_earned: v.commission_earned,
        custody: custody_address,
        custody_balance,
        commission_raise_allowed_height: v
            .commission_changed_height
            .map(|at| at.saturating_add(p.unbonding_blocks)),
        height: ctx.height,
    })
}

fn delegations(ctx: &QueryCtx<'_>, delegator: Address) -> Result<DelegationsAnswer, QueryError> {
    let registry = registry(ctx)?;
    let mut delegations = Vec::new();
    for validator in registry.validators.iter() {
        let Some(d) = ctx.object::<Delegation>(&delegation_key(validator, &delegator))? else {
            continue;
        };
        let Some(v) = ctx.object::<Validator>(&validator_key(validator))? else {
            continue;
        };
        delegations.push(describe(&v, &d, ctx.height)?);
    }
    Ok(DelegationsAnswer {
        delegator,
        height: ctx.height,
        delegations,
    })
}

/// A missing or null `params` means no parameters.
fn object_or_empty(p: &Value) -> Value {
    if p.is_null() { json!({}) } else { p.clone() }
}

fn to_json<T: serde::Serialize>(value: &T) -> Result<Value, QueryError> {
    serde_json::to_value(value).map_err(|e| QueryError::Corrupt(e.to_string()))
}

fn load_params(ctx: &QueryCtx<'_>) -> Result<StakeParams, QueryError> {
    Ok(ctx
        .object::<StakeParams>(&params_key())?
        .unwrap_or_default())
}

fn registry(ctx: &QueryCtx<'_>) -> Result<ValidatorRegistry, QueryError> {
    Ok(ctx
        .object::<ValidatorRegistry>(&registry_key())?
        .unwrap_or_default())
}

/// A delegation as of `height` (the latest finalized block): its rewards
/// include every fee distributed so far; `withdrawable` is what a withdrawal
/// in the next block (`height + 1`) would pay.
fn describe(v: &Validator, d: &Delegation, height: u64) -> Result<DelegationAnswer, QueryError> {
    let pending_rewards = math::pending(d, v.reward_per_token)
        .ok_or_else(|| QueryError::Corrupt("pending rewards overflow".into()))?;
    let next = height.saturating_add(1);
    let withdrawable: u128 = d
        .unbonding
        .iter()
        .filter(|e| e.mature_height <= next)
        .map(|e| e.amount)
        .fold(0u128, u128::saturating_add);
    let unbonding = d
        .unbonding
        .iter()
        .map(|e| UnbondingAnswer {
            amount: e.amount,
            mature_height: e.mature_height,
            matured: e.mature_height <= next,
        })
        .collect();
    Ok(DelegationAnswer {
        validator: d.validator,
        delegator: d.delegator,
        amount: d.amount,
        pending_rewards,
        unbonding,
        unbonding_total: d.unbonding_total().unwrap_or(u128::MAX),
        withdrawable,
        height,
    })
}
