//! The staking module's actions, and its per-block fee distribution and genesis records.

use super::state::Unbonding as Entry;
use super::state::{
    Delegation, StakeParams, Validator, custody, delegation_key, params_key, validator_key,
};
use crate::modules::kit::View;
use crate::modules::kit::{ActionError, TxContext};
use crate::modules::kit::{OrOverflow, RewardIndex, fail, require_admin};
use crate::modules::kit::{load, move_asset, remove, store};
use lakh_types::{
    Address, AssetId, Event,
    modules::stake::{MAX_UNBONDING_ENTRIES, StakeError, StakeEvent},
};

pub(super) fn load_params(view: &impl View) -> Result<StakeParams, ActionError> {
    Ok(load::<StakeParams>(view, &params_key())?.unwrap_or_default())
}

pub(super) fn load_validator(
    view: &impl View,
    validator: &Address,
) -> Result<Validator, ActionError> {
    load::<Validator>(view, &validator_key(validator))?.ok_or(fail(StakeError::UnknownValidator {
        validator: *validator,
    }))
}

pub(super) fn load_delegation(
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

/// Stores `d`, or removes it (and counts it out of `v`) once it is empty;
/// then stores `v`.
pub(super) fn save_delegation(
    view: &mut impl View,
    v: &mut Validator,
    d: &Delegation,
) -> Result<(), ActionError> {
    let key = delegation_key(&d.validator, &d.delegator);
    if d.is_empty() {
        v.delegations = v.delegations.saturating_sub(1);
        remove(view, &key)?;
    } else {
        store(view, &key, d)?;
    }
    store(view, &validator_key(&d.validator), v)
}

pub(super) fn delegate(
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
    d.settle(v.reward_per_token).or_overflow()?;
    move_asset(
        view,
        AssetId::NATIVE,
        &ctx.sender,
        &custody(validator),
        amount,
        events,
    )?;
    d.amount = d.amount.checked_add(amount).or_overflow()?;
    v.total_delegated = v.total_delegated.checked_add(amount).or_overflow()?;
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

pub(super) fn undelegate(
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
    d.settle(v.reward_per_token).or_overflow()?;
    let params = load_params(view)?;
    let mature_height = ctx
        .height
        .checked_add(params.unbonding_blocks)
        .or_overflow()?;
    // Entries stay sorted by maturity; one per maturity height.
    match d
        .unbonding
        .iter()
        .position(|e| e.mature_height >= mature_height)
    {
        Some(i) if d.unbonding[i].mature_height == mature_height => {
            let mut entries = d.unbonding.as_mut_vec_within_bound();
            if let Some(entry) = entries.get_mut(i) {
                entry.amount = entry.amount.checked_add(amount).or_overflow()?;
            }
        }
        position => {
            let at = position.unwrap_or(d.unbonding.len());
            d.unbonding
                .as_mut_vec_within_bound()
                .insert(
                    at,
                    Entry {
                        amount,
                        mature_height,
                    },
                )
                .map_err(|_| {
                    fail(StakeError::TooManyUnbonding {
                        max: MAX_UNBONDING_ENTRIES as u8,
                    })
                })?;
        }
    }
    d.amount -= amount;
    v.total_delegated = v.total_delegated.checked_sub(amount).or_overflow()?;
    v.total_unbonding = v.total_unbonding.checked_add(amount).or_overflow()?;
    store(view, &delegation_key(validator, &ctx.sender), &d)?;
    store(view, &validator_key(validator), &v)?;
    events.push(Event::Stake(StakeEvent::Undelegated {
        validator: *validator,
        delegator: ctx.sender,
        amount,
        mature_height,
    }));
    Ok(())
}

pub(super) fn withdraw(
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
    for e in d.unbonding.iter().filter(|e| e.mature_height <= ctx.height) {
        matured = matured.checked_add(e.amount).or_overflow()?;
    }
    if matured == 0 {
        return Err(fail(StakeError::NotMatured {
            amount: first.amount,
            mature_height: first.mature_height,
            height: ctx.height,
        }));
    }
    let height = ctx.height;
    d.unbonding
        .as_mut_vec_within_bound()
        .retain(|e| e.mature_height > height);
    v.total_unbonding = v.total_unbonding.checked_sub(matured).or_overflow()?;
    move_asset(
        view,
        AssetId::NATIVE,
        &custody(validator),
        &ctx.sender,
        matured,
        events,
    )?;
    save_delegation(view, &mut v, &d)?;
    events.push(Event::Stake(StakeEvent::Withdrawn {
        validator: *validator,
        delegator: ctx.sender,
        amount: matured,
    }));
    Ok(())
}

pub(super) fn claim(
    ctx: &TxContext,
    view: &mut impl View,
    validator: &Address,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut v = load_validator(view, validator)?;
    let mut d = load_delegation(view, validator, &ctx.sender)?;
    d.settle(v.reward_per_token).or_overflow()?;
    let amount = d.rewards_owed;
    if amount == 0 {
        return Err(fail(StakeError::NoRewards {
            validator: *validator,
        }));
    }
    d.rewards_owed = 0;
    // Promised rewards never exceed the pool (rounding keeps the difference).
    v.reward_balance = v.reward_balance.checked_sub(amount).or_overflow()?;
    move_asset(
        view,
        AssetId::NATIVE,
        &custody(validator),
        &ctx.sender,
        amount,
        events,
    )?;
    save_delegation(view, &mut v, &d)?;
    events.push(Event::Stake(StakeEvent::RewardsClaimed {
        validator: *validator,
        delegator: ctx.sender,
        amount,
    }));
    Ok(())
}

pub(super) fn set_commission(
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
        if let Some(at) = v.commission_changed_height {
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
    v.commission_changed_height = Some(ctx.height);
    store(view, &validator_key(&ctx.sender), &v)?;
    events.push(Event::Stake(StakeEvent::CommissionChanged {
        validator: ctx.sender,
        old_bps: old,
        new_bps: bps,
    }));
    Ok(())
}

pub(super) fn set_params(
    ctx: &TxContext,
    view: &mut impl View,
    unbonding_blocks: u64,
    max_commission_bps: u16,
    max_commission_change_bps: u16,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    require_admin(view, &ctx.sender)?;
    let params = StakeParams {
        unbonding_blocks,
        max_commission_bps,
        max_commission_change_bps,
    };
    store(view, &params_key(), &params)?;
    events.push(Event::Stake(StakeEvent::ParamsSet {
        unbonding_blocks,
        max_commission_bps,
        max_commission_change_bps,
    }));
    Ok(())
}
