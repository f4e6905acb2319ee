//! The cover module's exact integer math: capacity, utilization, premiums,
//! share prices and streamed premiums. Every function returns `None` on
//! overflow (callers fail with `Overflow`) and rounds in the pool's favour:
//! premiums and locked capital up, capacity, shares minted and amounts paid
//! out down.

use crate::modules::kit::math::{mul_div_ceil, mul_div_floor};
use lakh_types::modules::cover::parametric::BPS as PRODUCT_BPS;
use lakh_types::modules::cover::{BPS, STREAM_SCALE, WAD};

/// Most exposure the pool may carry: `floor(capital * capacity_bps / 10000)`.
pub fn capacity(capital: u128, capacity_bps: u32) -> Option<u128> {
    mul_div_floor(capital, capacity_bps as u128, BPS)
}

/// Capital that must stay in the pool behind `exposure`:
/// `ceil(exposure * 10000 / capacity_bps)`, the least capital whose capacity
/// covers it.
pub fn locked_capital(exposure: u128, capacity_bps: u32) -> Option<u128> {
    mul_div_ceil(exposure, BPS, capacity_bps as u128)
}

/// Utilization of `capacity` by `exposure`, 1e18 = full, rounded up. Zero
/// exposure is 0; any exposure of a zero capacity counts as full.
pub fn utilization(exposure: u128, capacity: u128) -> Option<u128> {
    if exposure == 0 {
        return Some(0);
    }
    if capacity == 0 {
        return Some(WAD);
    }
    mul_div_ceil(exposure, WAD, capacity)
}

/// Premium rate per block (1e18 = 100% of the amount) at `utilization`:
/// `base + ceil(slope * utilization / 1e18)`.
pub fn rate(base: u128, slope: u128, utilization: u128) -> Option<u128> {
    base.checked_add(mul_div_ceil(slope, utilization, WAD)?)
}

/// Premium for `amount` covered during `blocks` blocks at `rate` per block:
/// `ceil(amount * blocks * rate / 1e18)`. Positive whenever the three are.
pub fn premium(amount: u128, blocks: u64, rate: u128) -> Option<u128> {
    mul_div_ceil(amount, (blocks as u128).checked_mul(rate)?, WAD)
}

/// Shares minted for depositing `amount` into a pool of `total_shares`
/// worth `value`: `floor(amount * total_shares / value)`. `None` also when
/// `value` is zero.
pub fn shares_for_deposit(amount: u128, total_shares: u128, value: u128) -> Option<u128> {
    mul_div_floor(amount, total_shares, value)
}

/// What burning `shares` of `total_shares` pays out of `value`:
/// `floor(shares * value / total_shares)`.
pub fn amount_for_shares(shares: u128, total_shares: u128, value: u128) -> Option<u128> {
    mul_div_floor(shares, value, total_shares)
}

/// Streaming rate of a premium earned linearly over `blocks` blocks, times
/// [`STREAM_SCALE`], rounded up (so premiums are earned no faster than
/// linearly).
pub fn stream_rate(premium: u128, blocks: u64) -> Option<u128> {
    mul_div_ceil(premium, STREAM_SCALE, blocks as u128)
}

/// Premium still unearned `blocks_left` blocks before release, of a bucket
/// that streams at `rate` and was paid `premium`:
/// `min(premium, blocks_left * rate / STREAM_SCALE)`, rounded up or down.
/// Share values round it so the pool gains: up when valuing shares to
/// withdraw, down when valuing them to deposit.
pub fn unearned(premium: u128, rate: u128, blocks_left: u64, round_up: bool) -> Option<u128> {
    let streamed = if round_up {
        mul_div_ceil(blocks_left as u128, rate, STREAM_SCALE)?
    } else {
        mul_div_floor(blocks_left as u128, rate, STREAM_SCALE)?
    };
    Some(premium.min(streamed))
}

/// A parametric payout: `floor(amount * loss_bps / 10000)`, the whole
/// amount at a full loss.
pub fn parametric_payout(amount: u128, loss_bps: u32) -> Option<u128> {
    mul_div_floor(amount, loss_bps.min(PRODUCT_BPS) as u128, BPS)
}

/// How far `value` is below `peak`, in basis points (rounded down, 0 when
/// not below).
pub fn fall_bps(peak: u128, value: u128) -> u32 {
    if peak == 0 || value >= peak {
        return 0;
    }
    fraction_bps(peak - value, peak)
}

/// `part / whole` in basis points, rounded down and capped at 10000.
pub fn fraction_bps(part: u128, whole: u128) -> u32 {
    if whole == 0 {
        return PRODUCT_BPS;
    }
    // part <= whole after the cap, so part * 10000 / whole <= 10000 fits in u32.
    mul_div_floor(part.min(whole), BPS, whole).map_or(PRODUCT_BPS, |f| f as u32)
}

/// The loss a price measures against the `reference` it should hold: how
/// far below it (or above it, for an `above` trigger), in basis points.
pub fn price_loss_bps(price: u128, reference: u128, above: bool) -> u32 {
    if above {
        fraction_bps(price.saturating_sub(reference), reference)
    } else {
        fall_bps(reference, price)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples() {
        assert_eq!(capacity(1_000, 8_000), Some(800));
        assert_eq!(capacity(999, 3), Some(0));
        assert_eq!(capacity(u128::MAX, 10_000), Some(u128::MAX));
        assert_eq!(locked_capital(800, 8_000), Some(1_000));
        assert_eq!(locked_capital(1, 3), Some(3_334));
        assert_eq!(locked_capital(u128::MAX, 5_000), None);
        assert_eq!(utilization(0, 0), Some(0));
        assert_eq!(utilization(1, 0), Some(WAD));
        assert_eq!(utilization(1, 3), Some(WAD / 3 + 1));
        assert_eq!(rate(10, WAD, WAD / 2), Some(10 + WAD / 2));
        assert_eq!(rate(u128::MAX, 1, 1), None);
        // 1000 covered for 10 blocks at 1e-6 per block: 0.01, rounded up to 1.
        assert_eq!(premium(1_000, 10, WAD / 1_000_000), Some(1));
        assert_eq!(
            premium(10u128.pow(24), 10, WAD / 1_000_000),
            Some(10u128.pow(19))
        );
        assert_eq!(premium(u128::MAX, u64::MAX, WAD), None);
        assert_eq!(shares_for_deposit(5, 10, 0), None);
        assert_eq!(shares_for_deposit(5, 10, 20), Some(2));
        assert_eq!(amount_for_shares(3, 10, 20), Some(6));
        assert_eq!(stream_rate(10, 3), Some(3_333_333_334));
        assert_eq!(unearned(10, 3_333_333_334, 3, true), Some(10));
        assert_eq!(unearned(10, 3_333_333_334, 3, false), Some(10));
        assert_eq!(unearned(10, 3_333_333_334, 1, true), Some(4));
        assert_eq!(unearned(10, 3_333_333_334, 1, false), Some(3));
        assert_eq!(unearned(10, 3_333_333_334, 0, true), Some(0));
    }

    proptest! {
        #[test]
        fn exposure_within_capacity_iff_capital_covers_locked(
            capital in any::<u128>(),
            exposure in any::<u128>(),
            bps in 1u32..=10_000,
        ) {
            let cap = capacity(capital, bps).unwrap();
            prop_assert!(cap <= capital);
            if let Some(locked) = locked_capital(exposure, bps) {
                prop_assert!(locked >= exposure);
                prop_assert_eq!(exposure <= cap, locked <= capital);
            } else {
                prop_assert!(exposure > cap);
            }
        }

        #[test]
        fn premium_rises_with_utilization_and_rounds_up(
            amount in 1u128..10u128.pow(30),
            blocks in 1u64..10_000_000,
            base in 0u128..=WAD / 1_000,
            slope in 0u128..=WAD / 1_000,
            u1 in 0u128..=WAD,
            u2 in 0u128..=WAD,
        ) {
            let (lo, hi) = (u1.min(u2), u1.max(u2));
            let r_lo = rate(base, slope, lo).unwrap();
            let r_hi = rate(base, slope, hi).unwrap();
            prop_assert!(r_lo <= r_hi);
            let p_lo = premium(amount, blocks, r_lo).unwrap();
            let p_hi = premium(amount, blocks, r_hi).unwrap();
            prop_assert!(p_lo <= p_hi);
            if r_lo > 0 {
                prop_assert!(p_lo >= 1);
            }
            // p >= amount*blocks*rate/1e18 exactly, in 256 bits.
            let exact = crate::modules::kit::math::mul_wide(amount, blocks as u128 * r_lo);
            prop_assert!(crate::modules::kit::math::mul_wide(p_lo, WAD) >= exact);
        }

        #[test]
        fn deposit_then_withdraw_never_gains(
            amount in 1u128..10u128.pow(30),
            total in 1_000u128..10u128.pow(30),
            value in 1u128..10u128.pow(30),
        ) {
            let shares = shares_for_deposit(amount, total, value).unwrap();
            let back = amount_for_shares(shares, total + shares, value + amount).unwrap();
            prop_assert!(back <= amount);
        }

        #[test]
        fn streamed_premium_never_exceeds_paid_and_decreases(
            premium in 1u128..10u128.pow(29),
            blocks in 1u64..1_000_000_000,
            left in 0u64..1_000_000_000,
        ) {
            let r = stream_rate(premium, blocks).unwrap();
            prop_assert_eq!(unearned(premium, r, blocks, true), Some(premium));
            prop_assert_eq!(unearned(premium, r, blocks, false), Some(premium));
            let left = left.min(blocks);
            let up = unearned(premium, r, left, true).unwrap();
            let down = unearned(premium, r, left, false).unwrap();
            prop_assert!(down <= up && up <= down + 1 && up <= premium);
            // Never less than the exact linear remainder premium * left / blocks.
            prop_assert!(up * blocks as u128 >= premium * left as u128);
            if left > 0 {
                prop_assert!(unearned(premium, r, left - 1, true).unwrap() <= up);
            }
        }
    }
}

#[cfg(test)]
mod parametric_tests {
    use super::*;

    #[test]
    fn losses_round_down_and_cap_at_the_whole() {
        assert_eq!(fall_bps(1_000, 700), 3_000);
        assert_eq!(fall_bps(1_000, 1_200), 0);
        assert_eq!(fall_bps(0, 5), 0);
        assert_eq!(fall_bps(3, 2), 3_333);
        assert_eq!(fraction_bps(5, 0), 10_000);
        assert_eq!(fraction_bps(u128::MAX, u128::MAX), 10_000);
        assert_eq!(fraction_bps(u128::MAX, 1), 10_000);
        // 0.90 against a 1.00 peg: 10%; above triggers measure the excess.
        assert_eq!(price_loss_bps(90, 100, false), 1_000);
        assert_eq!(price_loss_bps(110, 100, false), 0);
        assert_eq!(price_loss_bps(130, 100, true), 3_000);
        assert_eq!(price_loss_bps(500, 100, true), 10_000);
        assert_eq!(parametric_payout(10_000, 1_000), Some(1_000));
        assert_eq!(parametric_payout(7, 5_000), Some(3));
        assert_eq!(parametric_payout(u128::MAX, 10_000), Some(u128::MAX));
        assert_eq!(
            parametric_payout(5, 20_000),
            Some(5),
            "capped at the amount"
        );
    }
}
