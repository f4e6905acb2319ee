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
//! - `epoch {}`: the current epoch, its last height and the staking
//!   parameters.
//! - `committee {epoch?}`: the committee of an epoch (the current one by
//!   default; state keeps the current and previous ones, and the next once
//!   the boundary block elected it).

use super::math;
use super::state::{
    Candidate, Delegation, StakeParams, StoredStakingParams, Validator, ValidatorRegistry,
    committee_key, custody, delegation_key, params_key, registry_keys, staking_key, validator_key,
};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_types::{
    Address, AssetId,
    committee::{Committee, StakingParams},
    modules::stake::query::{
        DelegationAnswer, DelegationsAnswer, EpochAnswer, ParamsAnswer, SlashingStatus,
        UnbondingAnswer, ValidatorAnswer, ValidatorSummary, ValidatorsAnswer,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CommitteeParams {
    #[serde(default)]
    epoch: Option<u64>,
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
        "epoch" => {
            let Empty {} = params(&object_or_empty(p))?;
            let params = staking(ctx)?;
            let epoch = params.epoch_of(ctx.height);
            to_json(&EpochAnswer {
                height: ctx.height,
                epoch,
                last_height: params.last_height(epoch),
                params,
            })
        }
        "committee" => {
            let CommitteeParams { epoch } = params(&object_or_empty(p))?;
            let epoch = match epoch {
                Some(epoch) => epoch,
                None => staking(ctx)?.epoch_of(ctx.height),
            };
            to_json(&committee(ctx, epoch)?.ok_or_else(|| {
                QueryError::NotFound(format!(
                    "committee of epoch {epoch} (state keeps the current and previous ones)"
                ))
            })?)
        }
        other => Err(QueryError::BadRequest(format!(
            "unknown stake method {other:?}; methods: params, validators, validator, delegation, delegations, epoch, committee"
        ))),
    }
}

fn validators(ctx: &QueryCtx<'_>) -> Result<ValidatorsAnswer, QueryError> {
    let registry = registry(ctx)?;
    let epoch = staking(ctx)?.epoch_of(ctx.height);
    let committee = committee(ctx, epoch)?;
    let mut validators = Vec::with_capacity(registry.len());
    for entry in &registry {
        if let Some(v) = ctx.object::<Validator>(&validator_key(&entry.identity))? {
            validators.push(ValidatorSummary {
                address: v.address,
                consensus_key: v.consensus_key,
                p2p_address: v.p2p_address,
                commission_bps: v.commission_bps,
                stake: v.total_delegated,
                self_bond: v.self_bond,
                jailed: v.jailed,
                in_committee: committee.as_ref().is_some_and(|c| c.contains(&v.address)),
                total_delegated: v.total_delegated,
                total_unbonding: v.total_unbonding,
                delegations: v.delegations,
                signed_rounds: v.signed_rounds,
                missed_rounds: v.missed_rounds,
                slashing: slashing_status(&v),
            });
        }
    }
    Ok(ValidatorsAnswer {
        height: ctx.height,
        epoch,
        validators,
    })
}

/// The network's staking parameters (the defaults on a chain without validators).
fn staking(ctx: &QueryCtx<'_>) -> Result<StakingParams, QueryError> {
    Ok(ctx
        .object::<StoredStakingParams>(&staking_key())?
        .map_or_else(StakingParams::default, |p| p.params()))
}

fn committee(ctx: &QueryCtx<'_>, epoch: u64) -> Result<Option<Committee>, QueryError> {
    ctx.object::<Committee>(&committee_key(epoch))
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
        slashing: slashing_status(&v),
        height: ctx.height,
    })
}

fn delegations(ctx: &QueryCtx<'_>, delegator: Address) -> Result<DelegationsAnswer, QueryError> {
    let registry = registry(ctx)?;
    let mut delegations = Vec::new();
    for validator in registry.iter().map(|c| &c.identity) {
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

/// Every registry entry, ascending by identity.
fn registry(ctx: &QueryCtx<'_>) -> Result<Vec<Candidate>, QueryError> {
    let mut all = Vec::new();
    for key in registry_keys() {
        if let Some(bucket) = ctx.object::<ValidatorRegistry>(&key)? {
            all.extend(bucket.validators.into_inner());
        }
    }
    all.sort_by_key(|c| c.identity);
    Ok(all)
}

/// A delegation as of `height` (the latest finalized block): its rewards
/// include every fee distributed so far; `withdrawable` is what a withdrawal
/// in the next block (`height + 1`) would pay.
fn describe(v: &Validator, d: &Delegation, height: u64) -> Result<DelegationAnswer, QueryError> {
    // As the next action would see it: after every slash so far.
    let mut d = d.clone();
    math::sync(&mut d, v).ok_or_else(|| QueryError::Corrupt("delegation overflow".into()))?;
    let pending_rewards = d.rewards_owed;
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

/// What the validator answers show of `v`'s standing under slashing.
fn slashing_status(v: &Validator) -> SlashingStatus {
    SlashingStatus {
        tombstoned: v.tombstoned,
        jailed_until_height: v.jailed.then_some(v.jailed_until_height),
        total_slashed: v.total_slashed,
        window_rounds: v.window_rounds,
        window_missed: v.window_missed,
    }
}
