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

mod actions;
pub(crate) mod math;
mod query;
pub(crate) mod state;

pub use query::query;
pub use state::{
    Delegation, StakeParams, Unbonding, Validator, ValidatorRegistry, custody, delegation_key,
    kind, params_key, registry_key, validator_key,
};

use crate::modules::kit::View;
use crate::modules::kit::fail;
use crate::modules::kit::{Access, ActionError, StateError, TxContext};
use crate::modules::kit::{declare_balance, declare_config};
use actions::*;
use lakh_state::{StateKey, StateValue};
use lakh_types::{
    Address, AssetId, Event, Genesis,
    modules::stake::{MAX_VALIDATORS, StakeAction, check_typed},
};
use state::ValidatorRegistry as Registry;

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
        } => set_params(
            ctx,
            view,
            *unbonding_blocks,
            *max_commission_bps,
            *max_commission_change_bps,
            events,
        ),
    }
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
