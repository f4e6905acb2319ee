//! Reward and slash arithmetic of the staking module: exact, rounding
//! toward the pool (never in a delegator's or validator's favour).
//!
//! `None` means a u128 limit was hit; callers turn it into a clean failure
//! (actions) or leave the fees with the proposer (block fees).
//!
//! Slashing is O(1) in the number of delegations: a validator's
//! `stake_factor` (1e18 at first) is multiplied by the share each slash
//! keeps, and a delegation of nominal `amount` settled at factor `F_c` is
//! worth `amount * F / F_c` now. The reward accumulator counts rewards per
//! base unit delegated at factor 1e18, so a delegation earns
//! `amount * (reward_per_token - paid) / F_c` whatever slashes happened
//! since it last settled.

use super::state::{BucketSlash, Delegation, SlashRecord, UnbondingBucket, Validator};
use crate::modules::kit::math::{mul_div_ceil, mul_div_floor};
use lakh_types::{codec::BoundedVec, modules::stake::BPS};

/// What a delegation could claim now: owed plus earned since it last settled.
pub fn pending(d: &Delegation, v: &Validator) -> Option<u128> {
    let earned = mul_div_floor(
        d.amount,
        v.reward_per_token.checked_sub(d.reward_per_token_paid)?,
        d.stake_factor_paid,
    )?;
    d.rewards_owed.checked_add(earned)
}

/// What the delegation's active amount is worth after the slashes since
/// it last settled.
pub fn current_amount(d: &Delegation, v: &Validator) -> Option<u128> {
    if d.stake_factor_paid == v.stake_factor {
        return Some(d.amount);
    }
    mul_div_floor(d.amount, v.stake_factor, d.stake_factor_paid)
}

/// Brings `d` up to date with `v`: rewards earned into `rewards_owed`, its
/// amount and unbonding entries cut by the slashes since it last settled.
pub fn sync(d: &mut Delegation, v: &Validator) -> Option<()> {
    let owed = pending(d, v)?;
    let amount = current_amount(d, v)?;
    let seen = usize::try_from(d.slashes_seen).ok()?;
    if seen < v.slashes.len() {
        let mut entries = d.unbonding.as_mut_vec_within_bound();
        for record in v.slashes.iter().skip(seen) {
            for entry in entries.iter_mut() {
                if let Some(b) = record.buckets.iter().find(|b| b.epoch == entry.start_epoch) {
                    entry.amount = mul_div_floor(entry.amount, b.kept, b.before)?;
                }
            }
        }
    }
    d.rewards_owed = owed;
    d.reward_per_token_paid = v.reward_per_token;
    d.amount = amount;
    d.stake_factor_paid = v.stake_factor;
    d.slashes_seen = u32::try_from(v.slashes.len()).ok()?;
    Some(())
}

/// Adds `amount` unbonding in `epoch` to the validator's recent buckets,
/// dropping buckets older than the previous epoch.
pub fn note_unbonding(v: &mut Validator, epoch: u64, amount: u128) -> Option<()> {
    v.recent_unbonding
        .as_mut_vec_within_bound()
        .retain(|b| b.epoch.saturating_add(1) >= epoch);
    if let Some(b) = v
        .recent_unbonding
        .as_mut_vec_within_bound()
        .iter_mut()
        .find(|b| b.epoch == epoch)
    {
        b.amount = b.amount.checked_add(amount)?;
        return Some(());
    }
    // At most the previous epoch's bucket is left: room for this one.
    v.recent_unbonding
        .try_push(UnbondingBucket { epoch, amount })
        .ok()
}

/// What one slash burned.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cut {
    pub bonded: u128,
    pub unbonding: u128,
}

/// Burns `bps` of `v`'s bonded stake and of the unbonding stake started in
/// epoch `from_epoch` or later (at height `height` of epoch `epoch`),
/// rounding the burn up. Updates the totals, the stake factor, the self-bond
/// and the slash record; the caller moves `bonded + unbonding` out of
/// custody. `None` (with `v` unchanged) on a u128 limit or a full record.
pub fn slash(v: &mut Validator, bps: u16, height: u64, epoch: u64, from_epoch: u64) -> Option<Cut> {
    let mut next = v.clone();
    let bps = u128::from(bps.min(BPS));
    let total = next.total_delegated;
    let bonded = mul_div_ceil(total, bps, u128::from(BPS))?;
    if bonded > 0 {
        let kept = total - bonded;
        next.stake_factor = mul_div_floor(next.stake_factor, kept, total)?;
        next.self_bond = mul_div_floor(next.self_bond, kept, total)?;
        next.total_delegated = kept;
    }
    let mut buckets = Vec::new();
    let mut unbonding = 0u128;
    {
        let mut recent = next.recent_unbonding.as_mut_vec_within_bound();
        recent.retain(|b| b.epoch.saturating_add(1) >= epoch);
        for b in recent
            .iter_mut()
            .filter(|b| b.epoch >= from_epoch && b.amount > 0)
        {
            let cut = mul_div_ceil(b.amount, bps, u128::from(BPS))?;
            buckets.push(BucketSlash {
                epoch: b.epoch,
                before: b.amount,
                kept: b.amount - cut,
            });
            b.amount -= cut;
            unbonding = unbonding.checked_add(cut)?;
        }
    }
    next.total_unbonding = next.total_unbonding.checked_sub(unbonding)?;
    if !buckets.is_empty() || bonded > 0 {
        next.slashes
            .try_push(SlashRecord {
                height,
                epochs_from: from_epoch,
                buckets: BoundedVec::new(buckets)?,
            })
            .ok()?;
    }
    next.total_slashed = next
        .total_slashed
        .checked_add(bonded)?
        .checked_add(unbonding)?;
    *v = next;
    Some(Cut { bonded, unbonding })
}

/// How one block's fees split between a validator and its delegators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FeeSplit {
    /// Credited to the validator's own account.
    pub commission: u128,
    /// Credited to the validator's custody, for its delegators.
    pub to_delegators: u128,
}

/// Applies a block's `fees` to `v`'s reward pool: the commission
/// (`fees * commission_bps / 10_000`, rounded down) for the validator, the
/// rest plus last time's remainder spread over `total_delegated` through
/// the accumulator (rounded down; the new remainder is kept as dust for the
/// next block). `None`, with `v` unchanged, when nobody is delegated or a u128
/// limit would be passed: the caller then pays all fees to the proposer.
pub fn distribute_fees(v: &mut Validator, fees: u128) -> Option<FeeSplit> {
    if v.total_delegated == 0 || v.stake_factor == 0 || fees == 0 {
        return None;
    }
    let commission = mul_div_floor(fees, u128::from(v.commission_bps.min(BPS)), u128::from(BPS))?;
    let to_delegators = fees - commission;
    let pool = to_delegators.checked_add(v.reward_dust)?;
    // Per base unit delegated at factor 1e18 (see the module docs).
    let increment = mul_div_floor(pool, v.stake_factor, v.total_delegated)?;
    let reward_per_token = v.reward_per_token.checked_add(increment)?;
    // What the increment promises in total, rounded up so the dust kept is
    // never more than what is really unassigned.
    let assigned = mul_div_ceil(increment, v.total_delegated, v.stake_factor)?;
    let reward_dust = pool.checked_sub(assigned)?;
    let reward_balance = v.reward_balance.checked_add(to_delegators)?;
    v.reward_per_token = reward_per_token;
    v.reward_dust = reward_dust;
    v.reward_balance = reward_balance;
    v.rewards_distributed = v.rewards_distributed.saturating_add(to_delegators);
    v.commission_earned = v.commission_earned.saturating_add(commission);
    Some(FeeSplit {
        commission,
        to_delegators,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakh_types::Address;
    use lakh_types::modules::stake::REWARD_PRECISION;

    fn earned(amount: u128, rpt: u128, paid: u128) -> Option<u128> {
        mul_div_floor(amount, rpt.checked_sub(paid)?, REWARD_PRECISION)
    }
    use proptest::prelude::*;

    fn validator(total: u128, commission_bps: u16) -> Validator {
        let mut v = Validator::new(
            Address([1; 32]),
            lakh_types::committee::FixedBytes([0; 48]),
            std::net::SocketAddr::from(([127, 0, 0, 1], 1)),
        );
        v.total_delegated = total;
        v.commission_bps = commission_bps;
        v
    }

    #[test]
    fn splits_commission_and_carries_the_remainder() {
        let mut v = validator(3, 1_000);
        let split = distribute_fees(&mut v, 100).unwrap();
        assert_eq!(
            split,
            FeeSplit {
                commission: 10,
                to_delegators: 90
            }
        );
        assert_eq!(v.reward_per_token, 30 * REWARD_PRECISION);
        assert_eq!(v.reward_dust, 0);
        assert_eq!(v.reward_balance, 90);

        // 10 over 3 tokens: 3.333.. per token; the promise rounds up to 10,
        // so no dust is carried and one base unit stays in the pool unassigned.
        let mut v = validator(3, 0);
        distribute_fees(&mut v, 10).unwrap();
        assert_eq!(v.reward_per_token, 3_333_333_333_333_333_333);
        assert_eq!(v.reward_dust, 0, "ceil(3.333..e18 * 3 / 1e18) = 10");
        assert_eq!(earned(3, v.reward_per_token, 0), Some(9));

        let mut v = validator(3 * REWARD_PRECISION, 0);
        distribute_fees(&mut v, 2).unwrap();
        assert_eq!(v.reward_per_token, 0);
        assert_eq!(v.reward_dust, 2, "too small to assign: carried");
        distribute_fees(&mut v, 1).unwrap();
        assert_eq!(v.reward_per_token, 1);
        assert_eq!(v.reward_dust, 0);
    }

    #[test]
    fn nothing_delegated_or_overflow_leaves_the_validator_unchanged() {
        let mut v = validator(0, 1_000);
        assert_eq!(distribute_fees(&mut v, 100), None);
        assert_eq!(v, validator(0, 1_000));
        let mut v = validator(1, 0);
        v.reward_per_token = u128::MAX - 5;
        let before = v.clone();
        assert_eq!(distribute_fees(&mut v, 1), None);
        assert_eq!(v, before);
        // A huge pool over one base unit does not fit the accumulator.
        let mut v = validator(1, 0);
        assert_eq!(distribute_fees(&mut v, u128::MAX / 2), None);
    }

    #[test]
    fn full_commission_gives_delegators_nothing() {
        let mut v = validator(10, 10_000);
        let split = distribute_fees(&mut v, 77).unwrap();
        assert_eq!(split.commission, 77);
        assert_eq!(split.to_delegators, 0);
        assert_eq!(v.reward_per_token, 0);
    }

    proptest! {
        /// Delegators are never promised more than they were given.
        #[test]
        fn promised_never_exceeds_given(
            stakes in prop::collection::vec(1u128..1_000_000_000_000, 1..6),
            fees in prop::collection::vec(0u128..1_000_000_000, 1..20),
            bps in 0u16..=10_000,
        ) {
            let total: u128 = stakes.iter().sum();
            let mut v = validator(total, bps);
            let mut given = 0u128;
            let blocks = fees.len() as u128;
            for fee in fees {
                if let Some(split) = distribute_fees(&mut v, fee) {
                    prop_assert_eq!(split.commission + split.to_delegators, fee);
                    given += split.to_delegators;
                }
            }
            let promised: u128 = stakes
                .iter()
                .map(|s| earned(*s, v.reward_per_token, 0).unwrap())
                .sum();
            prop_assert!(promised + v.reward_dust <= given);
            prop_assert_eq!(v.reward_balance, given);
            // Rounding keeps at most one base unit per delegation and one per
            // block in the pool, beyond the dust carried forward.
            prop_assert!(given - promised - v.reward_dust <= stakes.len() as u128 + blocks);
        }
    }
}
