//! Staking module: register validators, delegate the native token to them,
//! redelegate, unbond through a waiting period, withdraw, share the fees of
//! the blocks a validator helps finalize, and elect each epoch's committee.
//!
//! - Validators: the genesis validators, registered by [`genesis_entries`]
//!   with their genesis stake as self-bond, and those registered later by
//!   `create_validator` (one [`Validator`] record each, its [`Candidate`]
//!   entry in the bounded [`ValidatorRegistry`], and the consensus-key index
//!   refusing a key twice); delegating to any other address fails with
//!   `UnknownValidator`. A validator's self-bond is its own delegation to
//!   itself: undelegating it below `min_self_bond` keeps the record but
//!   leaves the candidate set at the next election.
//! - Election: [`elect_at_boundary`] at the last height of each epoch
//!   (see [`election`]).
//! - Custody: each validator's delegations, unbonding funds and undistributed
//!   rewards sit in the native balance of `Address::module("stake",
//!   validator)`, so native supply conservation covers them.
//! - Rewards: a block's fees go to the fee pot, paid out to the signers of
//!   the finalization certificates blocks carry ([`rewards`]); each
//!   signer's share goes through [`distribute_fees`], which gives the
//!   validator its commission and spreads the rest over its delegations
//!   through a reward-per-token accumulator (a validator with no record or
//!   no delegations keeps its whole share).

mod actions;
pub mod election;
pub(crate) mod math;
mod query;
pub mod rewards;
pub mod slashing;
pub(crate) mod state;

pub(crate) use election::elect_at_boundary;
pub use election::{COMMITTEES_KEPT, boundary_keys, elect};
pub use query::query;
pub(crate) use rewards::share_fees;
pub use rewards::{MAX_FINALIZATIONS_PER_BLOCK, Participation, reward_keys};
pub(crate) use slashing::punish_offenses;
pub use slashing::{MAX_OFFENSES_PER_BLOCK, Offense, offense_keys};
pub use state::{
    Candidate, Delegation, MAX_SLASHES, RewardedRound, StakeParams, StoredStakingParams, Unbonding,
    Validator, ValidatorRegistry, committee_key, consensus_key_index, custody, delegation_key,
    fee_pot, kind, params_key, registry_bucket, registry_key, registry_key_of, registry_keys,
    rewarded_round_key, staking_key, validator_key,
};

use crate::modules::kit::View;
use crate::modules::kit::fail;
use crate::modules::kit::{Access, ActionError, StateError, TxContext};
use crate::modules::kit::{declare_balance, declare_config};
use actions::*;
use lakh_state::{StateKey, StateValue};
use lakh_types::{
    Address, AssetId, Event, Genesis,
    committee::ConsensusKeyBytes,
    modules::stake::{MAX_VALIDATORS_PER_BUCKET, StakeAction, check_typed},
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
        StakeAction::Delegate { validator, .. } => {
            visit(validator_key(validator), Access::Write);
            visit(delegation_key(validator, sender), Access::Write);
            declare_balance(&custody(validator), AssetId::NATIVE, visit);
            visit(registry_key_of(validator), Access::Write);
        }
        StakeAction::Withdraw { validator } | StakeAction::Claim { validator } => {
            visit(validator_key(validator), Access::Write);
            visit(delegation_key(validator, sender), Access::Write);
            declare_balance(&custody(validator), AssetId::NATIVE, visit);
        }
        StakeAction::Undelegate { validator, .. } => {
            visit(validator_key(validator), Access::Write);
            visit(delegation_key(validator, sender), Access::Write);
            visit(params_key(), Access::Read);
            visit(registry_key_of(validator), Access::Write);
        }
        StakeAction::CreateValidator { consensus_key, .. } => {
            visit(validator_key(sender), Access::Write);
            visit(delegation_key(sender, sender), Access::Write);
            declare_balance(&custody(sender), AssetId::NATIVE, visit);
            visit(consensus_key_index(consensus_key), Access::Write);
            visit(registry_key_of(sender), Access::Write);
            visit(params_key(), Access::Read);
        }
        StakeAction::EditValidator { .. } => {
            visit(validator_key(sender), Access::Write);
            visit(registry_key_of(sender), Access::Write);
            visit(params_key(), Access::Read);
        }
        StakeAction::Redelegate { from, to, .. } => {
            for validator in [from, to] {
                visit(validator_key(validator), Access::Write);
                visit(delegation_key(validator, sender), Access::Write);
                declare_balance(&custody(validator), AssetId::NATIVE, visit);
                visit(registry_key_of(validator), Access::Write);
            }
            visit(params_key(), Access::Read);
        }
        StakeAction::SetCommission { .. } => {
            visit(validator_key(sender), Access::Write);
            visit(params_key(), Access::Read);
        }
        StakeAction::Unjail {} => {
            visit(validator_key(sender), Access::Write);
            visit(registry_key_of(sender), Access::Write);
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
        StakeAction::CreateValidator {
            consensus_key,
            proof_of_possession,
            p2p_address,
            commission_bps,
            self_bond,
        } => create_validator(
            ctx,
            view,
            &Registration {
                consensus_key: *consensus_key,
                proof_of_possession: *proof_of_possession,
                p2p_address: *p2p_address,
                commission_bps: *commission_bps,
                self_bond: *self_bond,
            },
            events,
        ),
        StakeAction::EditValidator {
            p2p_address,
            commission_bps,
        } => edit_validator(ctx, view, *p2p_address, *commission_bps, events),
        StakeAction::Redelegate { from, to, amount } => {
            redelegate(ctx, view, from, to, *amount, events)
        }
        StakeAction::Unjail {} => unjail(ctx, view, events),
    }
}

/// `d` as the next action on it sees it: rewards settled, amount and
/// unbonding entries after every slash of `v` since it last settled.
/// `None` on a u128 limit (corrupt state).
pub fn synced(d: &Delegation, v: &Validator) -> Option<Delegation> {
    let mut d = d.clone();
    math::sync(&mut d, v)?;
    Some(d)
}

/// The keys [`distribute_fees`] reads and writes for `validator`: its
/// validator record and custody account ([`crate::access_set`] declares them).
pub fn fee_keys(validator: &Address) -> [StateKey; 2] {
    [
        validator_key(validator),
        StateKey::Account(custody(validator)),
    ]
}

/// Shares `fees` earned by `validator` with its delegators. Returns what is
/// left to credit to the validator's own account: its commission when it
/// has delegations (the rest is now in its custody and reward pool),
/// otherwise all of `fees` (as when a u128 limit would be passed). Reads
/// both [`fee_keys`] whether or not `validator` has a record.
pub(crate) fn distribute_fees(
    view: &mut impl View,
    validator: &Address,
    fees: u128,
) -> Result<u128, StateError> {
    let [record_key, custody_key] = fee_keys(validator);
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

/// The genesis validators as staking records: one [`Validator`] for each
/// distinct validator with a readable key, up to
/// [`MAX_VALIDATORS_PER_BUCKET`] per registry bucket in genesis order, each with its genesis stake as self-bond (a delegation to
/// itself held in its custody account).
fn genesis_validators(genesis: &Genesis) -> Vec<(Validator, Delegation)> {
    let mut seen = std::collections::BTreeSet::new();
    let mut per_bucket = std::collections::BTreeMap::new();
    let mut out = Vec::new();
    for gv in &genesis.validators {
        // Genesis validation has checked the keys; skip anything unreadable.
        let (Ok(address), Ok(consensus_key)) = (
            gv.public_key.parse::<Address>(),
            gv.consensus_key.parse::<ConsensusKeyBytes>(),
        ) else {
            continue;
        };
        if !seen.insert(address) {
            continue;
        }
        let bucket = per_bucket
            .entry(registry_bucket(&address))
            .or_insert(0usize);
        if *bucket >= MAX_VALIDATORS_PER_BUCKET {
            continue;
        }
        *bucket += 1;
        let mut v = Validator::new(address, consensus_key, gv.p2p_address);
        let mut d = Delegation::new(&v, address);
        if gv.stake > 0 {
            d.amount = gv.stake;
            v.self_bond = gv.stake;
            v.total_delegated = gv.stake;
            v.delegations = 1;
        }
        out.push((v, d));
    }
    out
}

/// Native balances of the validators' custody accounts at genesis: their
/// bonded genesis stake ([`crate::apply_genesis`] adds it to the supply).
pub(crate) fn genesis_bonds(genesis: &Genesis) -> Vec<(Address, u128)> {
    genesis_validators(genesis)
        .iter()
        .filter(|(v, _)| v.self_bond > 0)
        .map(|(v, _)| (custody(&v.address), v.self_bond))
        .collect()
}

/// The committee of epoch 0: the election over the genesis validators
/// (their genesis stake is their self-bond), as stored by genesis under
/// [`committee_key`]`(0)`; empty when none is eligible.
pub fn genesis_committee(genesis: &Genesis) -> lakh_types::committee::Committee {
    let candidates: Vec<Candidate> = genesis_validators(genesis)
        .iter()
        .map(|(v, _)| Candidate::of(v))
        .collect();
    elect(&candidates, &genesis.staking, 0).unwrap_or(lakh_types::committee::Committee {
        epoch: 0,
        members: lakh_types::codec::BoundedVec::empty(),
    })
}

/// The genesis state of the module (nothing when genesis lists no
/// validator): each genesis validator's record, self-delegation and
/// consensus-key index entry, the registry, the committee of epoch 0
/// (the same election as at every boundary, so validators past
/// `committee_size` start on standby) and the staking parameters.
pub(crate) fn genesis_entries(genesis: &Genesis) -> Vec<(StateKey, StateValue)> {
    use commonware_codec::Encode;
    let validators = genesis_validators(genesis);
    if validators.is_empty() {
        return Vec::new();
    }
    let mut buckets = std::collections::BTreeMap::<u8, Registry>::new();
    let mut entries = Vec::new();
    for (v, d) in validators {
        let bucket = buckets.entry(registry_bucket(&v.address)).or_default();
        if !bucket.upsert(Candidate::of(&v)) {
            // A full bucket: the validator is not registered (nor bonded,
            // see `genesis_validators`).
            continue;
        }
        entries.push((
            consensus_key_index(&v.consensus_key),
            StateValue::Object(v.address.encode()),
        ));
        if !d.is_empty() {
            entries.push((
                delegation_key(&v.address, &v.address),
                StateValue::Object(d.encode()),
            ));
        }
        entries.push((validator_key(&v.address), StateValue::Object(v.encode())));
    }
    let committee = genesis_committee(genesis);
    entries.push((committee_key(0), StateValue::Object(committee.encode())));
    for (bucket, registry) in buckets {
        entries.push((registry_key(bucket), StateValue::Object(registry.encode())));
    }
    entries.push((
        staking_key(),
        StateValue::Object(StoredStakingParams::of(&genesis.staking).encode()),
    ));
    entries
}
