//! Staking module: delegate the native token to genesis validators, unbond
//! through a waiting period, withdraw, and share the fees of the blocks a
//! validator proposes.
//!
//! - Validators: the genesis validators, registered by [`genesis_entries`]
//!   (one [`Validator`] record each plus a bounded [`ValidatorRegistry`]);
//!   delegating to any other address fails with `UnknownValidator`.
//! - Custody: each validator's delegations, unbonding funds and undistributed
//!   rewards sit in the native balance of `Address::module("stake",
//!   validator)`, so native supply conservation covers them.
//! - Rewards: [`distribute_fees`], called once per block after every
//!   transaction, gives the proposer its commission and spreads the rest of
//!   the block's fees over its delegations through a reward-per-token
//!   accumulator; a proposer with no record or no delegations keeps all fees.

pub(crate) mod math;
mod query;
pub(crate) mod state;

pub use query::query;
pub use state::{
    Delegation, StakeParams, Unbonding, Validator, ValidatorRegistry, custody, delegation_key,
    kind, params_key, registry_key, validator_key,
};

use crate::module::{admin, declare_balance, declare_config, load, move_asset, remove, store};
use crate::overlay::View;
use crate::{Access, ActionError, StateError, TxContext};
use lakh_state::{StateKey, StateValue};
use lakh_types::{
    Address, AssetId, Event, FailureReason, Genesis,
    modules::stake::{
        MAX_UNBONDING_ENTRIES, MAX_VALIDATORS, StakeAction, StakeError, StakeEvent, check_typed,
    },
};
use state::{Unbonding as Entry, ValidatorRegistry as Registry};

fn fail(e: StakeError) -> ActionError {
    ActionError::Failed(FailureReason::Stake(e))
}

fn overflow() -> ActionError {
    ActionError::Failed(FailureReason::Overflow)
}

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    _nonce: u64,
    action: &StakeAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        StakeAction::Delegate { validator, .. }
        | StakeAction::Withdraw { validator }
        | StakeAction::Claim { validator } => {
            visit(validator_key(validator), Access::Write);
            visit(delegation_key(validator, sender), Access::Write);
            declare_balance(&custody(validator), AssetId::NATIVE, visit);
        }
        StakeAction::Undelegate { validator, .. } => {
            visit(validator_key(validator), Access::Write);
            visit(delegation_key(validator, sender), Access::Write);
            visit(params_key(), Access::Read);
        }
        StakeAction::SetCommission { .. } => {
            visit(validator_key(sender), Access::Write);
            visit(params_key(), Access::Read);
        }
        StakeAction::SetParams { .. } => {
            visit(params_key(), Access::Write);
            declare_config(visit);
        }
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &StakeAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    check_typed(action).map_err(fail)?;
    match action {
        StakeAction::Delegate { validator, amount } => {
            delegate(ctx, view, validator, *amount, events)
        }
        StakeAction::Undelegate { validator, amount } => {
            undelegate(ctx, view, validator, *amount, events)
        }
        StakeAction::Withdraw { validator } => withdraw(ctx, view, validator, events),
        StakeAction::Claim { validator } => claim(ctx, view, validator, events),
        StakeAction::SetCommission { commission_bps } => {
            set_commission(ctx, view, *commission_bps, events)
        }
        StakeAction::SetParams {
            unbonding_blocks,
            max_commission_bps,
            max_commission_change_bps,
        } => {
            if admin(view)? != Some(ctx.sender) {
                return Err(fail(StakeError::NotAdmin { sender: ctx.sender }));
            }
            let params = StakeParams {
                unbonding_blocks: *unbonding_blocks,
                max_commission_bps: *max_commission_bps,
                max_commission_change_bps: *max_commission_change_bps,
            };
            store(view, &params_key(), &params)?;
            events.push(Event::Stake(StakeEvent::ParamsSet {
                unbonding_blocks: *unbonding_blocks,
                max_commission_bps: *max_commission_bps,
                max_commission_change_bps: *max_commission_change_bps,
            }));
            Ok(())
        }
    }
}

fn load_params(view: &impl View) -> Result<StakeParams, ActionError> {
    Ok(load::<StakeParams>(view, &params_key())?.unwrap_or_default())
}

fn load_validator(view: &impl View, validator: &Address) -> Result<Validator, ActionError> {
    load::<Validator>(view, &validator_key(validator))?.ok_or(fail(StakeError::UnknownValidator {
        validator: *validator,
    }))
}

fn load_delegation(
    view: &impl View,
    validator: &Address,
    delegator: &Address,
) -> Result<Delegation, ActionError> {
    load::<Delegation>(view, &delegation_key(validator, delegator))?.ok_or(fail(
        StakeError::NoDelegation {
            validator: *validator,
            delegator: *delegator,
        },
    ))
}

/// Stores `d`, or removes it (and counts it out of `v`) once it is empty.
fn save_delegation(
    view: &mut impl View,
    v: &mut Validator,
    d: &Delegation,
) -> Result<(), ActionError> {
    let key = delegation_key(&d.validator, &d.delegator);
    if d.is_empty() {
        v.delegations = v.delegations.saturating_sub(1);
        remove(view, &key)
    } else {
        store(view, &key, d)
    }
}

fn delegate(
    ctx: &TxContext,
    view: &mut impl View,
    validator: &Address,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut v = load_validator(view, validator)?;
    let key = delegation_key(validator, &ctx.sender);
    let mut d = match load::<Delegation>(view, &key)? {
        Some(d) => d,
        None => {
            v.delegations = v.delegations.saturating_add(1);
            Delegation::new(*validator, ctx.sender, v.reward_per_token)
        }
    };
    math::settle(&mut d, v.reward_per_token).ok_or_else(overflow)?;
    move_asset(
        view,
        AssetId::NATIVE,
        &ctx.sender,
        &custody(validator),
        amount,
        events,
    )?;
    d.amount = d.amount.checked_add(amount).ok_or_else(overflow)?;
    v.total_delegated = v.total_delegated.checked_add(amount).ok_or_else(overflow)?;
    store(view, &key, &d)?;
    store(view, &validator_key(validator), &v)?;
    events.push(Event::Stake(StakeEvent::Delegated {
        validator: *validator,
        delegator: ctx.sender,
        amount,
        delegation: d.amount,
        total_delegated: v.total_delegated,
    }));
    Ok(())
}

fn undelegate(
    ctx: &TxContext,
    view: &mut impl View,
    validator: &Address,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut v = load_validator(view, validator)?;
    let mut d = load_delegation(view, validator, &ctx.sender)?;
    if amount > d.amount {
        return Err(fail(StakeError::InsufficientDelegation {
            validator: *validator,
            requested: amount,
            delegated: d.amount,
        }));
    }
    math::settle(&mut d, v.reward_per_token).ok_or_else(overflow)?;
    let params = load_params(view)?;
    let mature_at = ctx
        .height
        .checked_add(params.unbonding_blocks)
        .ok_or_else(overflow)?;
    // Entries stay sorted by maturity; one per maturity height.
    match d.unbonding.iter().position(|e| e.mature_at >= mature_at) {
        Some(i) if d.unbonding[i].mature_at == mature_at => {
            let mut entries = d.unbonding.as_mut_vec_within_bound();
            if let Some(entry) = entries.get_mut(i) {
                entry.amount = entry.amount.checked_add(amount).ok_or_else(overflow)?;
            }
        }
        position => {
            let at = position.unwrap_or(d.unbonding.len());
            d.unbonding
                .as_mut_vec_within_bound()
                .insert(at, Entry { amount, mature_at })
                .map_err(|_| {
                    fail(StakeError::TooManyUnbonding {
                        max: MAX_UNBONDING_ENTRIES as u8,
                    })
                })?;
        }
    }
    d.amount -= amount;
    v.total_delegated = v.total_delegated.checked_sub(amount).ok_or_else(overflow)?;
    v.total_unbonding = v.total_unbonding.checked_add(amount).ok_or_else(overflow)?;
    store(view, &delegation_key(validator, &ctx.sender), &d)?;
    store(view, &validator_key(validator), &v)?;
    events.push(Event::Stake(StakeEvent::Undelegated {
        validator: *validator,
        delegator: ctx.sender,
        amount,
        mature_at,
    }));
    Ok(())
}

fn withdraw(
    ctx: &TxContext,
    view: &mut impl View,
    validator: &Address,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut v = load_validator(view, validator)?;
    let mut d = load_delegation(view, validator, &ctx.sender)?;
    let Some(first) = d.unbonding.first().cloned() else {
        return Err(fail(StakeError::NothingUnbonding {
            validator: *validator,
        }));
    };
    let mut matured = 0u128;
    for e in d.unbonding.iter().filter(|e| e.mature_at <= ctx.height) {
        matured = matured.checked_add(e.amount).ok_or_else(overflow)?;
    }
    if matured == 0 {
        return Err(fail(StakeError::NotMatured {
            amount: first.amount,
            mature_at: first.mature_at,
            height: ctx.height,
        }));
    }
    let height = ctx.height;
    d.unbonding
        .as_mut_vec_within_bound()
        .retain(|e| e.mature_at > height);
    v.total_unbonding = v
        .total_unbonding
        .checked_sub(matured)
        .ok_or_else(overflow)?;
    move_asset(
        view,
        AssetId::NATIVE,
        &custody(validator),
        &ctx.sender,
        matured,
        events,
    )?;
    save_delegation(view, &mut v, &d)?;
    store(view, &validator_key(validator), &v)?;
    events.push(Event::Stake(StakeEvent::Withdrawn {
        validator: *validator,
        delegator: ctx.sender,
        amount: matured,
    }));
    Ok(())
}

fn claim(
    ctx: &TxContext,
    view: &mut impl View,
    validator: &Address,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut v = load_validator(view, validator)?;
    let mut d = load_delegation(view, validator, &ctx.sender)?;
    math::settle(&mut d, v.reward_per_token).ok_or_else(overflow)?;
    let amount = d.rewards_owed;
    if amount == 0 {
        return Err(fail(StakeError::NoRewards {
            validator: *validator,
        }));
    }
    d.rewards_owed = 0;
    // Promised rewards never exceed the pool (rounding keeps the difference).
    v.reward_balance = v.reward_balance.checked_sub(amount).ok_or_else(overflow)?;
    move_asset(
        view,
        AssetId::NATIVE,
        &custody(validator),
        &ctx.sender,
        amount,
        events,
    )?;
    save_delegation(view, &mut v, &d)?;
    store(view, &validator_key(validator), &v)?;
    events.push(Event::Stake(StakeEvent::RewardsClaimed {
        validator: *validator,
        delegator: ctx.sender,
        amount,
    }));
    Ok(())
}

fn set_commission(
    ctx: &TxContext,
    view: &mut impl View,
    bps: u16,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let Some(mut v) = load::<Validator>(view, &validator_key(&ctx.sender))? else {
        return Err(fail(StakeError::NotValidator { sender: ctx.sender }));
    };
    let params = load_params(view)?;
    let old = v.commission_bps;
    if bps == old {
        return Err(fail(StakeError::CommissionUnchanged { bps }));
    }
    // Lowering is always allowed; raising is capped, stepped and spaced.
    if bps > old {
        if bps > params.max_commission_bps {
            return Err(fail(StakeError::CommissionTooHigh {
                commission_bps: bps,
                max_bps: params.max_commission_bps,
            }));
        }
        if bps - old > params.max_commission_change_bps {
            return Err(fail(StakeError::CommissionChangeTooLarge {
                from_bps: old,
                to_bps: bps,
                max_change_bps: params.max_commission_change_bps,
            }));
        }
        if let Some(at) = v.commission_changed_at {
            let next_height = at.saturating_add(params.unbonding_blocks);
            if ctx.height < next_height {
                return Err(fail(StakeError::CommissionChangeTooSoon {
                    next_height,
                    height: ctx.height,
                }));
            }
        }
    }
    v.commission_bps = bps;
    v.commission_changed_at = Some(ctx.height);
    store(view, &validator_key(&ctx.sender), &v)?;
    events.push(Event::Stake(StakeEvent::CommissionChanged {
        validator: ctx.sender,
        old_bps: old,
        new_bps: bps,
    }));
    Ok(())
}

/// The keys [`distribute_fees`] reads and writes for `proposer`: its
/// validator record and custody account ([`crate::access_set`] declares them).
pub fn fee_keys(proposer: &Address) -> [StateKey; 2] {
    [
        validator_key(proposer),
        StateKey::Account(custody(proposer)),
    ]
}

/// Shares a block's `fees` between its proposer and the proposer's
/// delegators, after every transaction of the block. Returns what is left to
/// credit to the proposer's own account: its commission when it has
/// delegations (the rest is now in its custody and reward pool), otherwise
/// all of `fees` (as when a u128 limit would be passed). Reads both
/// [`fee_keys`] whether or not the proposer is a validator.
pub(crate) fn distribute_fees(
    view: &mut impl View,
    proposer: &Address,
    fees: u128,
) -> Result<u128, StateError> {
    let [record_key, custody_key] = fee_keys(proposer);
    let record_slot = view.slot(&record_key)?;
    let custody_slot = view.slot(&custody_key)?;
    let Some(bytes) = view.object_at(record_slot)? else {
        return Ok(fees);
    };
    let mut v: Validator = commonware_codec::Decode::decode_cfg(bytes.clone(), &())
        .map_err(|e| StateError::BadObject(record_key.clone(), e.to_string()))?;
    let Some(split) = math::distribute_fees(&mut v, fees) else {
        return Ok(fees);
    };
    let mut account = view.account_at(custody_slot)?;
    let Some(credited) = account.native_balance.checked_add(split.to_delegators) else {
        return Ok(fees);
    };
    account.native_balance = credited;
    view.set_account_at(custody_slot, account);
    view.set_object_at(record_slot, commonware_codec::Encode::encode(&v));
    Ok(split.commission)
}

/// The genesis state of the module: a [`Validator`] record (default
/// commission, nothing delegated) for each distinct genesis validator, up to
/// [`MAX_VALIDATORS`] in genesis order, and the registry listing them.
/// Nothing when genesis lists no validator.
pub(crate) fn genesis_entries(genesis: &Genesis) -> Vec<(StateKey, StateValue)> {
    let mut registry = Registry::default();
    let mut entries = Vec::new();
    for gv in &genesis.validators {
        // Genesis validation has checked the keys; skip anything unreadable.
        let Ok(address) = gv.public_key.parse::<Address>() else {
            continue;
        };
        if registry.validators.contains(&address) {
            continue;
        }
        if registry.validators.try_push(address).is_err() {
            break;
        }
        let record = commonware_codec::Encode::encode(&Validator::new(address));
        entries.push((validator_key(&address), StateValue::Object(record)));
    }
    if !registry.validators.is_empty() {
        let bytes = commonware_codec::Encode::encode(&registry);
        entries.push((registry_key(), StateValue::Object(bytes)));
    }
    debug_assert!(registry.validators.len() <= MAX_VALIDATORS);
    entries
}
