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
use lakh_types::{Address, AssetId};
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
            Ok(to_json(&load_params(ctx)?))
        }
        "validators" => {
            let Empty {} = params(&object_or_empty(p))?;
            let registry = registry(ctx)?;
            let mut list = Vec::with_capacity(registry.validators.len());
            for address in registry.validators.iter() {
                if let Some(v) = ctx.object::<Validator>(&validator_key(address))? {
                    list.push(json!({
                        "address": v.address,
                        "commission_bps": v.commission_bps,
                        "total_delegated": v.total_delegated.to_string(),
                        "total_unbonding": v.total_unbonding.to_string(),
                        "delegations": v.delegations,
                    }));
                }
            }
            Ok(json!({ "validators": list }))
        }
        "validator" => {
            let ValidatorParams { validator } = params(p)?;
            let v = ctx
                .object::<Validator>(&validator_key(&validator))?
                .ok_or_else(|| QueryError::NotFound(format!("validator {validator}")))?;
            let custody_address = custody(&validator);
            let held = ctx.balance(&custody_address, AssetId::NATIVE)?;
            let p = load_params(ctx)?;
            let next_raise = v
                .commission_changed_at
                .map(|at| at.saturating_add(p.unbonding_blocks));
            let mut out = to_json(&v);
            out["custody"] = json!(custody_address);
            out["custody_balance"] = json!(held.to_string());
            out["commission_raise_allowed_from"] = json!(next_raise);
            out["height"] = json!(ctx.height);
            Ok(out)
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
            describe(&v, &d, ctx.height)
        }
        "delegations" => {
            let DelegatorParams { delegator } = params(p)?;
            let registry = registry(ctx)?;
            let mut list = Vec::new();
            for validator in registry.validators.iter() {
                let Some(d) = ctx.object::<Delegation>(&delegation_key(validator, &delegator))?
                else {
                    continue;
                };
                let Some(v) = ctx.object::<Validator>(&validator_key(validator))? else {
                    continue;
                };
                list.push(describe(&v, &d, ctx.height)?);
            }
            Ok(json!({ "delegator": delegator, "height": ctx.height, "delegations": list }))
        }
        other => Err(QueryError::BadRequest(format!(
            "unknown stake method {other:?}; methods: params, validators, validator, delegation, delegations"
        ))),
    }
}

/// A missing or null `params` means no parameters.
fn object_or_empty(p: &Value) -> Value {
    if p.is_null() { json!({}) } else { p.clone() }
}

fn to_json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
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
fn describe(v: &Validator, d: &Delegation, height: u64) -> Result<Value, QueryError> {
    let pending = math::pending(d, v.reward_per_token)
        .ok_or_else(|| QueryError::Corrupt("pending rewards overflow".into()))?;
    let next = height.saturating_add(1);
    let withdrawable: u128 = d
        .unbonding
        .iter()
        .filter(|e| e.mature_height <= next)
        .map(|e| e.amount)
        .fold(0u128, u128::saturating_add);
    let unbonding: Vec<Value> = d
        .unbonding
        .iter()
        .map(|e| {
            json!({
                "amount": e.amount.to_string(),
                "mature_height": e.mature_height,
                "matured": e.mature_height <= next,
            })
        })
        .collect();
    Ok(json!({
        "validator": d.validator,
        "delegator": d.delegator,
        "amount": d.amount.to_string(),
        "pending_rewards": pending.to_string(),
        "unbonding": unbonding,
        "unbonding_total": d.unbonding_total().unwrap_or(u128::MAX).to_string(),
        "withdrawable": withdrawable.to_string(),
        "height": height,
    }))
}
