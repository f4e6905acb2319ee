//! Reward arithmetic of the farm module: exact, rounding toward the farm.

use super::state::{Farm, Position};
use crate::modules::kit::{RewardIndex, math::mul_div_floor};
use lakh_types::modules::farm::REWARD_PRECISION;

/// What [`accrue`] did beyond the usual.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accrual {
    /// Up to date (or nothing to do).
    Done,
    /// The accumulator would pass u128: emission stopped at this height.
    Closed { at_height: u64 },
}

/// Brings `f`'s accumulator up to block `height`: for the blocks of the
/// schedule since the last update, `rpt += elapsed * rate * 1e18 /
/// total_staked` (rounded down). With nothing staked the accumulator stays
/// frozen and those blocks' rewards are never emitted (the creator may
/// reclaim them after the end).
pub fn accrue(f: &mut Farm, height: u64) -> Accrual {
    let now = height.max(f.start_height).min(f.end_height);
    if now <= f.last_update_height {
        return Accrual::Done;
    }
    let elapsed = now - f.last_update_height;
    if f.total_staked == 0 {
        f.last_update_height = now;
        return Accrual::Done;
    }
    let reward = u128::from(elapsed).checked_mul(f.rate_per_block);
    let rpt = reward
        .and_then(|r| mul_div_floor(r, REWARD_PRECISION, f.total_staked))
        .and_then(|increment| f.reward_per_token.checked_add(increment));
    let emitted = reward.and_then(|r| f.emitted.checked_add(r));
    match (rpt, emitted) {
        (Some(rpt), Some(emitted)) => {
            f.reward_per_token = rpt;
            f.emitted = emitted;
            f.last_update_height = now;
            Accrual::Done
        }
        _ => {
            // Close emission where it stands; what was not emitted stays
            // reclaimable and every position keeps what it earned.
            f.end_height = f.last_update_height;
            Accrual::Closed {
                at_height: f.last_update_height,
            }
        }
    }
}

impl RewardIndex for Position {
    const PRECISION: u128 = REWARD_PRECISION;
    fn amount(&self) -> u128 {
        self.staked
    }
    fn paid(&self) -> u128 {
        self.reward_per_token_paid
    }
    fn owed(&self) -> u128 {
        self.owed
    }
    fn set_settled(&mut self, paid: u128, owed: u128) {
        self.reward_per_token_paid = paid;
        self.owed = owed;
    }
}

/// What `p` could harvest at accumulator value `rpt`.
pub fn pending(p: &Position, rpt: u128) -> Option<u128> {
    p.pending(rpt)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakh_types::{Address, AssetId};

    fn earned(staked: u128, rpt: u128, paid: u128) -> Option<u128> {
        crate::modules::kit::earned(staked, rpt, paid, REWARD_PRECISION)
    }

    fn farm(rate: u128, start: u64, end: u64) -> Farm {
        Farm {
            id: 1,
            creator: Address([1; 32]),
            stake_asset: AssetId(1),
            reward_asset: AssetId(2),
            rate_per_block: rate,
            start_height: start,
            end_height: end,
            scheduled_end_height: end,
            funded: rate * u128::from(end - start),
            total_staked: 0,
            reward_per_token: 0,
            last_update_height: start,
            emitted: 0,
            paid: 0,
            forfeited: 0,
            reclaimed: 0,
            positions: 0,
        }
    }

    #[test]
    fn accrues_only_within_the_schedule_and_while_staked() {
        let mut f = farm(100, 10, 20);
        assert_eq!(accrue(&mut f, 5), Accrual::Done);
        assert_eq!(f.last_update_height, 10);
        // Nothing staked from 10 to 12: frozen, not emitted.
        accrue(&mut f, 12);
        assert_eq!(
            (f.last_update_height, f.reward_per_token, f.emitted),
            (12, 0, 0)
        );
        f.total_staked = 4;
        accrue(&mut f, 15);
        assert_eq!(f.reward_per_token, 300 * REWARD_PRECISION / 4);
        assert_eq!(f.emitted, 300);
        // Past the end only the scheduled blocks count.
        accrue(&mut f, 1_000);
        assert_eq!(f.last_update_height, 20);
        assert_eq!(f.emitted, 800);
        assert_eq!(f.funded - f.emitted, 200, "the two frozen blocks");
        assert_eq!(earned(4, f.reward_per_token, 0), Some(800));
    }

    #[test]
    fn vector_from_the_reference_formula() {
        // rpt += elapsed*rate*1e18/total; earned = balance*(rpt-paid)/1e18 + owed.
        let mut f = farm(7, 0, 100);
        f.total_staked = 3;
        accrue(&mut f, 1);
        assert_eq!(f.reward_per_token, 2_333_333_333_333_333_333);
        let mut p = Position::new(1, Address([2; 32]), 0);
        p.staked = 1;
        p.owed = 5;
        assert_eq!(
            pending(&p, f.reward_per_token),
            Some(7),
            "2.333.. floors to 2, plus 5"
        );
        p.settle(f.reward_per_token).unwrap();
        assert_eq!((p.owed, p.reward_per_token_paid), (7, f.reward_per_token));
    }

    #[test]
    fn accumulator_overflow_closes_emission_instead_of_failing() {
        let mut f = farm(u128::MAX / 1_000, 0, 1_000);
        f.total_staked = 1;
        assert_eq!(accrue(&mut f, 1), Accrual::Closed { at_height: 0 });
        assert_eq!(f.end_height, 0);
        assert_eq!(f.emitted, 0);
        assert_eq!(accrue(&mut f, 50), Accrual::Done, "closed stays closed");
        assert_eq!(f.reclaimable(), Some(f.funded));
    }
}
