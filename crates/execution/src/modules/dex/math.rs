//! The pool math, exact in integers: every function rounds in the pool's
//! favour and returns `None` instead of overflowing (callers fail the action
//! with `Overflow`).
//!
//! Products are formed in 256 bits ([`crate::modules::kit::math`]), so the only
//! limits are that `amount * 1000` and `reserve * 1000` fit in a u128 (about
//! 3.4e35 base units) and that results fit in a u128.

use crate::modules::kit::math::{U256, mul_div_ceil, mul_div_floor, sqrt_product};
use bytes::BufMut;
use commonware_codec::{Buf, Error as CodecError, FixedSize, Read, ReadExt, Write};
use lakh_types::modules::dex::{FEE_KEPT_PER_MILLE, MINIMUM_LIQUIDITY, PER_MILLE};

/// Output of selling `amount_in` into a pool:
/// floor(amount_in·997·reserve_out / (reserve_in·1000 + amount_in·997)).
/// Always below `reserve_out`.
pub fn amount_out(amount_in: u128, reserve_in: u128, reserve_out: u128) -> Option<u128> {
    let in_with_fee = amount_in.checked_mul(FEE_KEPT_PER_MILLE)?;
    let denominator = reserve_in
        .checked_mul(PER_MILLE)?
        .checked_add(in_with_fee)?;
    mul_div_floor(in_with_fee, reserve_out, denominator)
}

/// Input needed to buy `amount_out` (which must be below `reserve_out`):
/// floor(reserve_in·amount_out·1000 / ((reserve_out − amount_out)·997)) + 1.
/// Selling it yields at least `amount_out`.
pub fn amount_in(amount_out: u128, reserve_in: u128, reserve_out: u128) -> Option<u128> {
    let remaining = reserve_out.checked_sub(amount_out).filter(|r| *r > 0)?;
    let numerator = reserve_in.checked_mul(PER_MILLE)?;
    let denominator = remaining.checked_mul(FEE_KEPT_PER_MILLE)?;
    mul_div_floor(numerator, amount_out, denominator)?.checked_add(1)
}

/// The smallest input whose fee-adjusted part covers `amount`:
/// ceil(amount·1000/997). This is what a flash swap taking `amount` out of a
/// pool would owe when repaying in the same asset; lakh has no flash swaps
/// (actions cannot call back), so it serves wallets and the reference vectors.
pub fn fee_inclusive(amount: u128) -> Option<u128> {
    mul_div_ceil(amount, PER_MILLE, FEE_KEPT_PER_MILLE)
}

/// Shares of a first deposit: (shares for the depositor, shares locked),
/// from floor(sqrt(a·b)) of which [`MINIMUM_LIQUIDITY`] are locked. `Err`
/// carries floor(sqrt(a·b)) when it is not above the locked amount.
pub fn initial_shares(amount_a: u128, amount_b: u128) -> Result<(u128, u128), u128> {
    let total = sqrt_product(amount_a, amount_b);
    if total <= MINIMUM_LIQUIDITY {
        return Err(total);
    }
    Ok((total - MINIMUM_LIQUIDITY, MINIMUM_LIQUIDITY))
}

/// A later deposit of at most `max_a` and `max_b` into reserves `reserve_a`,
/// `reserve_b` (both positive) with `supply` shares outstanding:
/// shares = min(floor(max_a·S/Ra), floor(max_b·S/Rb)), and the amounts taken
/// are what those shares are worth rounded up, ceil(shares·R/S) (never above
/// the maxima). Returns (shares, amount_a, amount_b).
pub fn deposit(
    max_a: u128,
    max_b: u128,
    reserve_a: u128,
    reserve_b: u128,
    supply: u128,
) -> Option<(u128, u128, u128)> {
    if reserve_a == 0 || reserve_b == 0 {
        return None;
    }
    // A quotient past u128 cannot be the minimum unless both are.
    let by_a = mul_div_floor(max_a, supply, reserve_a).unwrap_or(u128::MAX);
    let by_b = mul_div_floor(max_b, supply, reserve_b).unwrap_or(u128::MAX);
    let shares = by_a.min(by_b);
    if shares == u128::MAX {
        return None;
    }
    let amount_a = mul_div_ceil(shares, reserve_a, supply)?;
    let amount_b = mul_div_ceil(shares, reserve_b, supply)?;
    debug_assert!(amount_a <= max_a && amount_b <= max_b);
    Some((shares, amount_a, amount_b))
}

/// What burning `shares` of `supply` pays: floor(shares·R/S) of each reserve.
pub fn withdrawal(
    shares: u128,
    reserve_a: u128,
    reserve_b: u128,
    supply: u128,
) -> Option<(u128, u128)> {
    if shares > supply {
        return None;
    }
    Some((
        mul_div_floor(shares, reserve_a, supply)?,
        mul_div_floor(shares, reserve_b, supply)?,
    ))
}

/// A 128.128 fixed-point number modulo 2^256: a price, or a sum of prices
/// times blocks (price accumulators use wrapping arithmetic). Stored as its
/// integer half then its fractional half, each a big-endian u128.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct Q128(pub U256);

impl Q128 {
    pub const ZERO: Q128 = Q128(U256::ZERO);

    /// The number `int + frac / 2^128`.
    pub fn from_parts(int: u128, frac: u128) -> Q128 {
        Q128((U256::from(int) << 128usize) | U256::from(frac))
    }

    /// The integer half (modulo 2^128).
    pub fn int(self) -> u128 {
        (self.0 >> 128usize).to::<u128>()
    }

    /// The fractional half, in units of 2^-128.
    pub fn frac(self) -> u128 {
        (self.0 & U256::from(u128::MAX)).to::<u128>()
    }

    pub fn wrapping_add(self, other: Q128) -> Q128 {
        Q128(self.0.wrapping_add(other.0))
    }

    pub fn wrapping_sub(self, other: Q128) -> Q128 {
        Q128(self.0.wrapping_sub(other.0))
    }

    /// `self · factor` modulo 2^256.
    pub fn wrapping_mul_u64(self, factor: u64) -> Q128 {
        Q128(self.0.wrapping_mul(U256::from(factor)))
    }

    /// Big-endian hex, 64 digits.
    pub fn to_hex(self) -> String {
        format!("0x{:032x}{:032x}", self.int(), self.frac())
    }
}

impl Write for Q128 {
    fn write(&self, buf: &mut impl BufMut) {
        self.int().write(buf);
        self.frac().write(buf);
    }
}

impl FixedSize for Q128 {
    const SIZE: usize = 2 * u128::SIZE;
}

impl Read for Q128 {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let int = u128::read(buf)?;
        let frac = u128::read(buf)?;
        Ok(Q128::from_parts(int, frac))
    }
}

/// `numerator / denominator` as an unsigned 128.128 fixed-point number
/// (floor(numerator·2^128 / denominator)); `None` if `denominator` is zero.
pub fn price_q128(numerator: u128, denominator: u128) -> Option<Q128> {
    if denominator == 0 {
        return None;
    }
    Some(Q128(
        (U256::from(numerator) << 128usize) / U256::from(denominator),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::kit::math::mul_wide;
    use proptest::prelude::*;

    #[test]
    fn price_fixed_point_edges() {
        assert_eq!(price_q128(1, 1), Some(Q128::from_parts(1, 0)));
        assert_eq!(price_q128(1, 2), Some(Q128::from_parts(0, 1 << 127)));
        assert_eq!(price_q128(1, 3), Some(Q128::from_parts(0, u128::MAX / 3)));
        assert_eq!(price_q128(7, 0), None);
        assert_eq!(
            price_q128(u128::MAX, 1),
            Some(Q128::from_parts(u128::MAX, 0))
        );
        assert_eq!(
            price_q128(1, u128::MAX),
            Some(Q128::from_parts(0, 1)) // 2^128 / (2^128 - 1) rounds down to 1
        );
    }

    #[test]
    fn wrapping_arithmetic() {
        let max = Q128::from_parts(u128::MAX, u128::MAX);
        assert_eq!(max.wrapping_add(Q128::from_parts(0, 1)), Q128::ZERO);
        assert_eq!(Q128::ZERO.wrapping_sub(Q128::from_parts(0, 1)), max);
        assert_eq!(
            Q128::from_parts(0, u128::MAX).wrapping_mul_u64(2),
            Q128::from_parts(1, u128::MAX - 1)
        );
        assert_eq!(
            max.wrapping_mul_u64(2),
            max.wrapping_sub(Q128::from_parts(0, 1))
        );
    }

    proptest! {
        #[test]
        fn price_is_the_exact_floor(n in any::<u128>(), d in 1u128..) {
            let p = price_q128(n, d).unwrap();
            prop_assert_eq!(p.int(), n / d);
            // p.frac() = floor(rem·2^128/d): p.frac()·d <= rem·2^128 < (p.frac()+1)·d,
            // compared in 256 bits.
            let rem = n % d;
            let scaled = U256::from(rem) << 128usize;
            prop_assert!(mul_wide(p.frac(), d) <= scaled);
            if let Some(next) = p.frac().checked_add(1) {
                prop_assert!(mul_wide(next, d) > scaled);
            } else {
                prop_assert!(rem > 0);
            }
        }

        #[test]
        fn mul_u64_matches_repeated_addition(hi in any::<u128>(), lo in any::<u128>(), k in 0u64..16) {
            let x = Q128::from_parts(hi, lo);
            let mut sum = Q128::ZERO;
            for _ in 0..k {
                sum = sum.wrapping_add(x);
            }
            prop_assert_eq!(x.wrapping_mul_u64(k), sum);
        }

        #[test]
        fn swap_math_keeps_k_and_rounds_for_the_pool(
            reserve_in in 1u128..1u128 << 100,
            reserve_out in 2u128..1u128 << 100,
            amount in 1u128..1u128 << 100,
        ) {
            let k = mul_wide(reserve_in, reserve_out);
            let out = amount_out(amount, reserve_in, reserve_out).unwrap();
            prop_assert!(out < reserve_out);
            prop_assert!(mul_wide(reserve_in + amount, reserve_out - out) >= k);
            // One more unit out would break the fee-adjusted invariant.
            let adjusted = |i: u128, o: u128| mul_wide((reserve_in * 1000) + i * 997, reserve_out - o);
            prop_assert!(adjusted(amount, out) >= mul_wide(reserve_in * 1000, reserve_out));
            if out + 1 < reserve_out {
                prop_assert!(adjusted(amount, out + 1) < mul_wide(reserve_in * 1000, reserve_out));
            }

            let want = amount % (reserve_out - 1) + 1;
            let needed = amount_in(want, reserve_in, reserve_out);
            // Buying nearly the whole reserve can need more than a u128.
            prop_assume!(needed.is_some_and(|n| n < 1 << 110));
            let needed = needed.unwrap();
            // Paying `needed` buys at least `want`; one unit less buys less.
            prop_assert!(amount_out(needed, reserve_in, reserve_out).unwrap() >= want);
            prop_assert!(adjusted(needed, want) >= mul_wide(reserve_in * 1000, reserve_out));
            if needed > 1 {
                prop_assert!(adjusted(needed - 1, want) <= mul_wide(reserve_in * 1000, reserve_out));
            }
        }

        #[test]
        fn liquidity_math_never_pays_more_than_deposited(
            reserve_a in 1u128..1u128 << 90,
            reserve_b in 1u128..1u128 << 90,
            supply in 1u128..1u128 << 90,
            max_a in 1u128..1u128 << 90,
            max_b in 1u128..1u128 << 90,
        ) {
            let (shares, a, b) = deposit(max_a, max_b, reserve_a, reserve_b, supply).unwrap();
            prop_assert!(a <= max_a && b <= max_b);
            // The deposit is worth at least the shares: (R + a)/(S + s) >= R/S.
            prop_assert!(mul_wide(a, supply) >= mul_wide(shares, reserve_a));
            prop_assert!(mul_wide(b, supply) >= mul_wide(shares, reserve_b));
            let (out_a, out_b) =
                withdrawal(shares, reserve_a + a, reserve_b + b, supply + shares).unwrap();
            prop_assert!(out_a <= a && out_b <= b);
        }
    }
}
