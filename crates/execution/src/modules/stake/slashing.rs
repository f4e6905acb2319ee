//! Slashing: consensus faults proven by evidence a block carries.
//!
//! The consensus application decodes each piece of evidence a block
//! carries, verifies both signatures against the committee of the
//! evidence's epoch as held in state, and hands execution the
//! [`Offense`] it proves. Execution decides whether the offense is still
//! punishable (recent enough, the offender not tombstoned already, not
//! twice in one block) and applies the penalty once.

use super::math;
use super::state::{
    Candidate, MAX_SLASHES, Validator, ValidatorRegistry, custody, registry_key_of, validator_key,
};
use crate::modules::kit::{View, read_object};
use crate::{BlockEnv, ExecError, Mode};
use commonware_codec::Encode;
use lakh_state::StateKey;
use lakh_types::{
    Address, Event,
    modules::stake::{Fault, SlashReason, StakeError, StakeEvent, burned},
};
use std::collections::BTreeSet;

/// Most offenses (pieces of evidence) one block carries.
pub const MAX_OFFENSES_PER_BLOCK: usize = 8;

/// A fault a validator committed, as verified evidence shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offense {
    /// The offender's identity (its account address).
    pub offender: Address,
    /// Epoch and view of the round where it signed the conflicting votes.
    pub epoch: u64,
    pub view: u64,
    pub fault: Fault,
}

/// Every key punishing `offenses` may read or write.
pub fn offense_keys(offenses: &[Offense], visit: &mut impl FnMut(StateKey)) {
    if offenses.is_empty() {
        return;
    }
    visit(StateKey::Account(burned()));
    for offense in offenses {
        for key in slash_keys(&offense.offender) {
            visit(key);
        }
    }
}

/// What slashing `validator` reads and writes besides the burn account:
/// its record, its registry entry and its custody account.
pub fn slash_keys(validator: &Address) -> [StateKey; 3] {
    [
        validator_key(validator),
        registry_key_of(validator),
        StateKey::Account(custody(validator)),
    ]
}

/// Punishes each offense of `env.offenses` once: burns
/// `double_sign_slash_bps` of the offender's bonded stake and of the
/// unbonding stake started in the offense's epoch or later, and tombstones
/// it. An offense that is no longer punishable is returned with its
/// reason (build mode) or fails the block (verify mode).
pub(crate) fn punish_offenses(
    view: &mut impl View,
    env: &BlockEnv,
    mode: Mode,
    events: &mut Vec<Event>,
) -> Result<Vec<(usize, StakeError)>, ExecError> {
    let mut accused = BTreeSet::new();
    let mut excluded = Vec::new();
    for (index, offense) in env.offenses.iter().enumerate() {
        if let Err(reason) = punish(view, env, offense, &mut accused, events)? {
            match mode {
                Mode::Build => excluded.push((index, reason)),
                Mode::Verify => return Err(ExecError::InvalidOffense { index, reason }),
            }
        }
    }
    Ok(excluded)
}

fn punish(
    view: &mut impl View,
    env: &BlockEnv,
    offense: &Offense,
    accused: &mut BTreeSet<Address>,
    events: &mut Vec<Event>,
) -> Result<Result<(), StakeError>, ExecError> {
    let current_epoch = env.staking.epoch_of(env.height);
    if offense.epoch > current_epoch {
        return Ok(Err(StakeError::EvidenceFromFuture {
            epoch: offense.epoch,
            current_epoch,
        }));
    }
    // The committees state keeps (COMMITTEES_KEPT) and the stake an
    // unbonding entry keeps until the end of its next epoch both reach
    // back one epoch.
    if offense.epoch.saturating_add(1) < current_epoch {
        return Ok(Err(StakeError::EvidenceTooOld {
            epoch: offense.epoch,
            current_epoch,
        }));
    }
    if !accused.insert(offense.offender) {
        return Ok(Err(StakeError::RepeatedOffense {
            validator: offense.offender,
        }));
    }
    let Some(mut v) = read_object::<Validator>(view, &validator_key(&offense.offender))? else {
        return Ok(Err(StakeError::UnknownValidator {
            validator: offense.offender,
        }));
    };
    if v.tombstoned {
        return Ok(Err(StakeError::Tombstoned {
            validator: offense.offender,
        }));
    }
    let penalty = Penalty {
        bps: env.staking.slashing.double_sign_slash_bps,
        from_epoch: offense.epoch,
        jailed_until_height: u64::MAX,
        tombstone: true,
        reason: SlashReason::DoubleSign {
            fault: offense.fault,
            epoch: offense.epoch,
            view: offense.view,
        },
    };
    apply_penalty(view, env, &mut v, penalty, events)?;
    Ok(Ok(()))
}

/// One penalty for a validator.
pub(crate) struct Penalty {
    pub bps: u16,
    /// Unbonding started in this epoch or later is slashed too.
    pub from_epoch: u64,
    pub jailed_until_height: u64,
    pub tombstone: bool,
    pub reason: SlashReason,
}

/// Slashes `v` (burning from its custody into [`burned`]), jails it, and
/// tombstones it when asked or when this slash fills its record; stores it.
pub(crate) fn apply_penalty(
    view: &mut impl View,
    env: &BlockEnv,
    v: &mut Validator,
    penalty: Penalty,
    events: &mut Vec<Event>,
) -> Result<(), ExecError> {
    let before = Candidate::of(v);
    let epoch = env.staking.epoch_of(env.height);
    let tombstone = penalty.tombstone || v.slashes.len() + 1 >= MAX_SLASHES;
    let cut = math::slash(v, penalty.bps, env.height, epoch, penalty.from_epoch)
        .ok_or(ExecError::SlashOverflow)?;
    burn(view, &v.address, cut.bonded + cut.unbonding)?;
    v.jailed = true;
    v.jailed_until_height = if tombstone {
        u64::MAX
    } else {
        v.jailed_until_height.max(penalty.jailed_until_height)
    };
    v.tombstoned = tombstone;
    v.window_rounds = 0;
    v.window_missed = 0;
    let slot = view.slot(&validator_key(&v.address))?;
    view.set_object_at(slot, v.encode());
    let entry = Candidate::of(v);
    if entry != before {
        let key = registry_key_of(&v.address);
        let mut registry: ValidatorRegistry = read_object(view, &key)?.unwrap_or_default();
        // The entry exists (the validator is registered): replacing fits.
        if registry.upsert(entry) {
            let slot = view.slot(&key)?;
            view.set_object_at(slot, registry.encode());
        }
    }
    events.push(Event::Stake(StakeEvent::Slashed {
        validator: v.address,
        reason: penalty.reason,
        bonded: cut.bonded,
        unbonding: cut.unbonding,
        jailed_until_height: v.jailed_until_height,
        tombstoned: v.tombstoned,
    }));
    Ok(())
}

/// Moves `amount` native base units from `validator`'s custody to the
/// burn account.
fn burn(view: &mut impl View, validator: &Address, amount: u128) -> Result<(), ExecError> {
    if amount == 0 {
        return Ok(());
    }
    let from = view.slot(&StateKey::Account(custody(validator)))?;
    let mut account = view.account_at(from)?;
    account.native_balance = account
        .native_balance
        .checked_sub(amount)
        .ok_or(ExecError::SlashOverflow)?;
    view.set_account_at(from, account);
    let to = view.slot(&StateKey::Account(burned()))?;
    let mut sink = view.account_at(to)?;
    sink.native_balance = sink
        .native_balance
        .checked_add(amount)
        .ok_or(ExecError::SlashOverflow)?;
    view.set_account_at(to, sink);
    Ok(())
}

/// Counts one carried round in `v`'s downtime window (signed or not) and,
/// once it has missed more than the window allows, slashes
/// `downtime_slash_bps` and jails it for `jail_blocks`. Jailed validators
/// are not counted: they are leaving the committee already.
pub(crate) fn count_window(
    view: &mut impl View,
    env: &BlockEnv,
    v: &mut Validator,
    signed: bool,
    events: &mut Vec<Event>,
) -> Result<(), ExecError> {
    let params = &env.staking.slashing;
    if v.jailed {
        return Ok(());
    }
    v.window_rounds = v.window_rounds.saturating_add(1);
    if !signed {
        v.window_missed = v.window_missed.saturating_add(1);
    }
    if v.window_missed > params.max_missed_rounds() {
        let penalty = Penalty {
            bps: params.downtime_slash_bps,
            from_epoch: env.staking.epoch_of(env.height),
            jailed_until_height: env.height.saturating_add(params.jail_blocks),
            tombstone: false,
            reason: SlashReason::Downtime {
                missed_rounds: v.window_missed,
                window_rounds: v.window_rounds,
            },
        };
        return apply_penalty(view, env, v, penalty, events);
    }
    if v.window_rounds >= params.signed_window_rounds {
        v.window_rounds = 0;
        v.window_missed = 0;
    }
    Ok(())
}
