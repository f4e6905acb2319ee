//! Fees by participation: a block's fees wait in the fee pot until a block
//! carries finalization certificates of earlier blocks; the pot is then
//! split equally between those certificates and, inside each, equally
//! between its signers (votes count by head, so each signer weighs the
//! same). A signer's share goes through [`super::distribute_fees`]: its
//! commission to its account, the rest to its delegators.
//!
//! Which certificates a block may carry (valid signatures, rounds after
//! [`RewardedRound`], epochs whose committee state holds) is checked by the
//! consensus application before execution; execution pays what the block
//! carries and remembers the latest round.

use super::slashing::{count_window, slash_keys};
use super::state::{RewardedRound, Validator, fee_pot, rewarded_round_key, validator_key};
use super::{distribute_fees, fee_keys};
use crate::modules::kit::{View, read_object};
use crate::{BlockEnv, ExecError};
use lakh_state::StateKey;
use lakh_types::Address;
use lakh_types::{Event, modules::stake::burned};

/// Most finalization certificates one block carries.
pub const MAX_FINALIZATIONS_PER_BLOCK: usize = 4;

/// The signers of one finalization certificate a block carries, and the
/// members of its committee who did not sign, as identities (their account
/// addresses).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Participation {
    pub round: RewardedRound,
    pub signers: Vec<Address>,
    pub absent: Vec<Address>,
}

impl Participation {
    /// One certificate that `signer` alone signed: the whole pot goes to it
    /// (tests and the bench, which run blocks without consensus).
    pub fn sole(signer: Address) -> Vec<Participation> {
        vec![Participation {
            round: RewardedRound::default(),
            signers: vec![signer],
            absent: Vec::new(),
        }]
    }
}

/// Every key [`share_fees`] may read or write for `records`.
pub fn reward_keys(records: &[Participation], visit: &mut impl FnMut(StateKey)) {
    visit(StateKey::Account(fee_pot()));
    visit(rewarded_round_key());
    for signer in records.iter().flat_map(|r| &r.signers) {
        visit(StateKey::Account(*signer));
        for key in fee_keys(signer) {
            visit(key);
        }
    }
    let mut absent = records.iter().flat_map(|r| &r.absent).peekable();
    if absent.peek().is_some() {
        // Missing too many rounds slashes and jails ([`count_window`]).
        visit(StateKey::Account(burned()));
    }
    for member in absent {
        for key in slash_keys(member) {
            visit(key);
        }
    }
}

/// Adds `fees` to the pot and, when `records` name signers, pays the pot
/// out to them (what integer division leaves stays for the next block).
pub(crate) fn share_fees(
    view: &mut impl View,
    env: &BlockEnv,
    fees: u128,
    events: &mut Vec<Event>,
) -> Result<(), ExecError> {
    let records = &env.participation;
    let pot_slot = view.slot(&StateKey::Account(fee_pot()))?;
    let mut pot = view.account_at(pot_slot)?;
    let before = pot.native_balance;
    let mut balance = before.checked_add(fees).ok_or(ExecError::FeeOverflow)?;
    let paying: Vec<&Participation> = records.iter().filter(|r| !r.signers.is_empty()).collect();
    if !paying.is_empty() {
        // Fits: at most MAX_FINALIZATIONS_PER_BLOCK records.
        let per_record = balance / paying.len() as u128;
        for record in paying {
            let per_signer = per_record / record.signers.len() as u128;
            if per_signer == 0 {
                continue;
            }
            for signer in &record.signers {
                pay_signer(view, signer, per_signer)?;
                balance -= per_signer;
            }
        }
    }
    if balance != before {
        pot.native_balance = balance;
        view.set_account_at(pot_slot, pot);
    }
    count_rounds(view, env, events)?;
    remember_round(view, records)
}

/// Counts, on each member's validator record, the carried finalizations it
/// signed and those it missed, and its downtime window ([`count_window`]).
fn count_rounds(
    view: &mut impl View,
    env: &BlockEnv,
    events: &mut Vec<Event>,
) -> Result<(), ExecError> {
    for record in &env.participation {
        for (members, signed) in [(&record.signers, true), (&record.absent, false)] {
            for member in members {
                let key = validator_key(member);
                let Some(mut v) = read_object::<Validator>(view, &key)? else {
                    continue;
                };
                if signed {
                    v.signed_rounds = v.signed_rounds.saturating_add(1);
                } else {
                    v.missed_rounds = v.missed_rounds.saturating_add(1);
                }
                count_window(view, env, &mut v, signed, events)?;
                let slot = view.slot(&key)?;
                view.set_object_at(slot, commonware_codec::Encode::encode(&v));
            }
        }
    }
    Ok(())
}

fn pay_signer(view: &mut impl View, signer: &Address, amount: u128) -> Result<(), ExecError> {
    let to_account = distribute_fees(view, signer, amount)?;
    let slot = view.slot(&StateKey::Account(*signer))?;
    let mut account = view.account_at(slot)?;
    account.native_balance = account
        .native_balance
        .checked_add(to_account)
        .ok_or(ExecError::FeeOverflow)?;
    view.set_account_at(slot, account);
    Ok(())
}

fn remember_round(view: &mut impl View, records: &[Participation]) -> Result<(), ExecError> {
    let Some(latest) = records.iter().map(|r| r.round).max() else {
        return Ok(());
    };
    let key = rewarded_round_key();
    let stored: RewardedRound = read_object(view, &key)?.unwrap_or_default();
    if latest > stored {
        let slot = view.slot(&key)?;
        view.set_object_at(slot, commonware_codec::Encode::encode(&latest));
    }
    Ok(())
}
