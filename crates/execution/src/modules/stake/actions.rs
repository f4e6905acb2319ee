//! The staking module's actions, and its per-block fee distribution and genesis records.

use super::math::{note_unbonding, sync};
use super::state::Unbonding as Entry;
use super::state::{
    Candidate, Delegation, StakeParams, Validator, ValidatorRegistry, consensus_key_index, custody,
    delegation_key, params_key, registry_key_of, validator_key,
};
use crate::modules::kit::View;
use crate::modules::kit::{ActionError, TxContext};
use crate::modules::kit::{OrOverflow, fail, require_admin};
use crate::modules::kit::{load, move_asset, remove, store};
use lakh_types::{
    Address, AssetId, Event,
    codec::Text,
    committee::{ConsensusKeyBytes, PopBytes},
    modules::stake::{MAX_UNBONDING_ENTRIES, MAX_VALIDATORS_PER_BUCKET, StakeError, StakeEvent},
};
use std::net::SocketAddr;

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

/// Stores `v` and, when a field the election reads changed since
/// `before`, its entry in the registry (actions that may change those
/// fields declare the registry).
pub(super) fn store_validator(
    view: &mut impl View,
    before: &Candidate,
    v: &Validator,
) -> Result<(), ActionError> {
    store(view, &validator_key(&v.address), v)?;
    let entry = Candidate::of(v);
    if entry != *before {
        upsert_entry(view, entry)?;
    }
    Ok(())
}

/// Inserts or replaces `entry` in its registry bucket (`RegistryFull` when
/// a new entry does not fit).
fn upsert_entry(view: &mut impl View, entry: Candidate) -> Result<(), ActionError> {
    let key = registry_key_of(&entry.identity);
    let validator = entry.identity;
    let mut registry = load::<ValidatorRegistry>(view, &key)?.unwrap_or_default();
    if !registry.upsert(entry) {
        return Err(fail(StakeError::RegistryFull {
            validator,
            max: MAX_VALIDATORS_PER_BUCKET as u32,
        }));
    }
    store(view, &key, &registry)
}

/// Stores `d`, or removes it (and counts it out of `v`) once it is empty;
/// keeps `v.self_bond` equal to the validator's own delegation; then stores
/// `v` ([`store_validator`], `before` being its entry when loaded).
pub(super) fn save_delegation(
    view: &mut impl View,
    before: &Candidate,
    v: &mut Validator,
    d: &Delegation,
) -> Result<(), ActionError> {
    let key = delegation_key(&d.validator, &d.delegator);
    if d.delegator == d.validator {
        v.self_bond = d.amount;
    }
    if d.is_empty() {
        v.delegations = v.delegations.saturating_sub(1);
        remove(view, &key)?;
    } else {
        store(view, &key, d)?;
    }
    store_validator(view, before, v)
}

/// `delegator`'s delegation to `v`, a new one (counted in `v`) if it has none.
fn load_or_new_delegation(
    view: &impl View,
    v: &mut Validator,
    delegator: &Address,
) -> Result<Delegation, ActionError> {
    Ok(
        match load::<Delegation>(view, &delegation_key(&v.address, delegator))? {
            Some(d) => d,
            None => {
                v.delegations = v.delegations.saturating_add(1);
                Delegation::new(v, *delegator)
            }
        },
    )
}

pub(super) fn delegate(
    ctx: &TxContext,
    view: &mut impl View,
    validator: &Address,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut v = load_validator(view, validator)?;
    accepts_stake(&v)?;
    let before = Candidate::of(&v);
    let mut d = load_or_new_delegation(view, &mut v, &ctx.sender)?;
    sync(&mut d, &v).or_overflow()?;
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
    save_delegation(view, &before, &mut v, &d)?;
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
    let before = Candidate::of(&v);
    let mut d = load_delegation(view, validator, &ctx.sender)?;
    sync(&mut d, &v).or_overflow()?;
    if amount > d.amount {
        return Err(fail(StakeError::InsufficientDelegation {
            validator: *validator,
            requested: amount,
            delegated: d.amount,
        }));
    }
    let params = load_params(view)?;
    let start_epoch = ctx.staking.epoch_of(ctx.height);
    let mature_height = unbonding_maturity(ctx, params.unbonding_blocks).or_overflow()?;
    // Entries stay sorted by maturity; one per maturity height.
    match d
        .unbonding
        .iter()
        .position(|e| e.mature_height >= mature_height)
    {
        Some(i)
            if d.unbonding[i].mature_height == mature_height
                && d.unbonding[i].start_epoch == start_epoch =>
        {
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
                        start_epoch,
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
    note_unbonding(&mut v, start_epoch, amount).or_overflow()?;
    save_delegation(view, &before, &mut v, &d)?;
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
    sync(&mut d, &v).or_overflow()?;
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
    let before = Candidate::of(&v);
    save_delegation(view, &before, &mut v, &d)?;
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
    sync(&mut d, &v).or_overflow()?;
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
    let before = Candidate::of(&v);
    save_delegation(view, &before, &mut v, &d)?;
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
    let mut v = load_own_record(ctx, view)?;
    change_commission(ctx, view, &mut v, bps, events)?;
    store(view, &validator_key(&ctx.sender), &v)
}

/// The sender's validator record (`NotValidator` without one).
fn load_own_record(ctx: &TxContext, view: &impl View) -> Result<Validator, ActionError> {
    load::<Validator>(view, &validator_key(&ctx.sender))?
        .ok_or(fail(StakeError::NotValidator { sender: ctx.sender }))
}

/// Sets `v`'s commission to `bps`: lowering is always allowed; raising is
/// capped, stepped and spaced by an unbonding period.
fn change_commission(
    ctx: &TxContext,
    view: &impl View,
    v: &mut Validator,
    bps: u16,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let params = load_params(view)?;
    let old = v.commission_bps;
    if bps == old {
        return Err(fail(StakeError::CommissionUnchanged { bps }));
    }
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
    events.push(Event::Stake(StakeEvent::CommissionChanged {
        validator: ctx.sender,
        old_bps: old,
        new_bps: bps,
    }));
    Ok(())
}

/// What `create_validator` registers.
pub(super) struct Registration {
    pub consensus_key: ConsensusKeyBytes,
    pub proof_of_possession: PopBytes,
    pub p2p_address: SocketAddr,
    pub commission_bps: u16,
    pub self_bond: u128,
}

/// Why a consensus key is refused, as a bounded reason.
fn key_refused(reason: String) -> ActionError {
    let mut reason = reason;
    while reason.len() > 128 {
        reason.pop();
    }
    fail(StakeError::InvalidConsensusKey {
        reason: Text::new(reason).unwrap_or_default(),
    })
}

pub(super) fn create_validator(
    ctx: &TxContext,
    view: &mut impl View,
    r: &Registration,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let key = validator_key(&ctx.sender);
    if load::<Validator>(view, &key)?.is_some() {
        return Err(fail(StakeError::AlreadyValidator {
            validator: ctx.sender,
        }));
    }
    if r.self_bond < ctx.staking.min_self_bond {
        return Err(fail(StakeError::SelfBondTooLow {
            self_bond: r.self_bond,
            min_self_bond: ctx.staking.min_self_bond,
        }));
    }
    let params = load_params(view)?;
    if r.commission_bps > params.max_commission_bps {
        return Err(fail(StakeError::CommissionTooHigh {
            commission_bps: r.commission_bps,
            max_bps: params.max_commission_bps,
        }));
    }
    let index = consensus_key_index(&r.consensus_key);
    if let Some(owner) = load::<Address>(view, &index)? {
        return Err(fail(StakeError::ConsensusKeyTaken {
            consensus_key: r.consensus_key,
            validator: owner,
        }));
    }
    let registry =
        load::<ValidatorRegistry>(view, &registry_key_of(&ctx.sender))?.unwrap_or_default();
    if registry.validators.len() >= MAX_VALIDATORS_PER_BUCKET {
        return Err(fail(StakeError::RegistryFull {
            validator: ctx.sender,
            max: MAX_VALIDATORS_PER_BUCKET as u32,
        }));
    }
    // The sender signed this transaction, so its address is a valid key.
    let identity =
        lakh_types::address::parse_public_key(&ctx.sender.to_hex()).map_err(key_refused)?;
    let consensus = r.consensus_key.parse().map_err(key_refused)?;
    let pop = r.proof_of_possession.parse().map_err(key_refused)?;
    lakh_types::consensus_key::verify_possession(&consensus, &identity, &pop)
        .map_err(key_refused)?;

    let mut v = Validator::new(ctx.sender, r.consensus_key, r.p2p_address);
    v.commission_bps = r.commission_bps;
    upsert_entry(view, Candidate::of(&v))?;
    store(view, &key, &v)?;
    store(view, &index, &ctx.sender)?;
    events.push(Event::Stake(StakeEvent::ValidatorCreated {
        validator: ctx.sender,
        consensus_key: r.consensus_key,
        p2p_address: r.p2p_address,
        commission_bps: r.commission_bps,
        self_bond: r.self_bond,
    }));
    delegate(ctx, view, &ctx.sender, r.self_bond, events)
}

pub(super) fn edit_validator(
    ctx: &TxContext,
    view: &mut impl View,
    p2p_address: Option<SocketAddr>,
    commission_bps: Option<u16>,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut v = load_own_record(ctx, view)?;
    let before = Candidate::of(&v);
    if let Some(p2p_address) = p2p_address {
        if p2p_address == v.p2p_address {
            return Err(fail(StakeError::P2pAddressUnchanged { p2p_address }));
        }
        v.p2p_address = p2p_address;
        events.push(Event::Stake(StakeEvent::P2pAddressChanged {
            validator: ctx.sender,
            p2p_address,
        }));
    }
    if let Some(bps) = commission_bps {
        change_commission(ctx, view, &mut v, bps, events)?;
    }
    store_validator(view, &before, &v)
}

pub(super) fn redelegate(
    ctx: &TxContext,
    view: &mut impl View,
    from: &Address,
    to: &Address,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut source = load_validator(view, from)?;
    let mut target = load_validator(view, to)?;
    let (source_before, target_before) = (Candidate::of(&source), Candidate::of(&target));
    accepts_stake(&target)?;
    let mut out = load_delegation(view, from, &ctx.sender)?;
    sync(&mut out, &source).or_overflow()?;
    if amount > out.amount {
        return Err(fail(StakeError::InsufficientDelegation {
            validator: *from,
            requested: amount,
            delegated: out.amount,
        }));
    }
    if ctx.height < out.redelegate_allowed_height {
        return Err(fail(StakeError::RedelegationTooSoon {
            next_height: out.redelegate_allowed_height,
            height: ctx.height,
        }));
    }
    let params = load_params(view)?;
    let redelegate_allowed_height = ctx
        .height
        .checked_add(params.unbonding_blocks)
        .or_overflow()?;
    let mut into = load_or_new_delegation(view, &mut target, &ctx.sender)?;
    sync(&mut into, &target).or_overflow()?;
    move_asset(
        view,
        AssetId::NATIVE,
        &custody(from),
        &custody(to),
        amount,
        events,
    )?;
    out.amount -= amount;
    source.total_delegated = source.total_delegated.checked_sub(amount).or_overflow()?;
    into.amount = into.amount.checked_add(amount).or_overflow()?;
    into.redelegate_allowed_height = redelegate_allowed_height;
    target.total_delegated = target.total_delegated.checked_add(amount).or_overflow()?;
    save_delegation(view, &source_before, &mut source, &out)?;
    save_delegation(view, &target_before, &mut target, &into)?;
    events.push(Event::Stake(StakeEvent::Redelegated {
        delegator: ctx.sender,
        from: *from,
        to: *to,
        amount,
        redelegate_allowed_height,
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

/// Refuses new stake for a tombstoned validator, or one whose stake was
/// slashed away entirely (its stake factor is zero).
fn accepts_stake(v: &Validator) -> Result<(), ActionError> {
    if v.tombstoned || v.stake_factor == 0 {
        return Err(fail(StakeError::Tombstoned {
            validator: v.address,
        }));
    }
    Ok(())
}

/// When unbonding started now matures: after the unbonding period, and
/// never before the end of the next epoch, so that the evidence of any
/// fault this stake backed (punishable during its epoch and the next) has
/// had its chance to land before the stake can leave.
fn unbonding_maturity(ctx: &TxContext, unbonding_blocks: u64) -> Option<u64> {
    let epoch = ctx.staking.epoch_of(ctx.height);
    let after_period = ctx.height.checked_add(unbonding_blocks)?;
    let evidence_closes = ctx.staking.first_height(epoch.checked_add(2)?);
    Some(after_period.max(evidence_closes))
}

pub(super) fn unjail(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut v = load_own_record(ctx, view)?;
    let before = Candidate::of(&v);
    if v.tombstoned {
        return Err(fail(StakeError::Tombstoned {
            validator: v.address,
        }));
    }
    if !v.jailed {
        return Err(fail(StakeError::NotJailed {
            validator: v.address,
        }));
    }
    if ctx.height < v.jailed_until_height {
        return Err(fail(StakeError::StillJailed {
            until_height: v.jailed_until_height,
            height: ctx.height,
        }));
    }
    v.jailed = false;
    v.window_rounds = 0;
    v.window_missed = 0;
    store_validator(view, &before, &v)?;
    events.push(Event::Stake(StakeEvent::Unjailed {
        validator: v.address,
    }));
    Ok(())
}
