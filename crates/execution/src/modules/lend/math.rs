//! The lending math: utilization, the kinked rate model, per-block accrual,
//! share and debt conversions, valuation. Exact integers; every function
//! returns `None` on overflow (the caller fails cleanly with `Overflow`), and
//! each rounding is chosen so the protocol never loses:
//!
//! - supply mints `floor(amount * shares / underlying)` shares; a withdrawal
//!   burns `ceil(amount * shares / underlying)`;
//! - a claim is `floor(shares * underlying / total_shares)`;
//! - a debt is `ceil(principal * index / index_at_borrow)`;
//! - collateral is valued rounding down, debt rounding up;
//! - total borrows grow by the index's own factor, rounded down, so they
//!   never exceed the sum of the individual (rounded-up) debts.

use super::state::{Market, Position};
use crate::modules::kit::math::{mul_div_ceil, mul_div_floor};
use lakh_types::modules::lend::{MarketParams, WAD};

/// Utilization `U = B / (C + B - R)`, scaled by 1e18, rounded down. Zero
/// without borrows; capped at 100% (only reachable when reserves exceed cash).
pub fn utilization(cash: u128, borrows: u128, reserves: u128) -> Option<u128> {
    if borrows == 0 {
        return Some(0);
    }
    let denominator = cash.checked_add(borrows)?.checked_sub(reserves)?;
    if denominator == 0 {
        return Some(WAD);
    }
    Some(mul_div_floor(borrows, WAD, denominator)?.min(WAD))
}

/// Borrow rate per block at utilization `u`: `base + u*m` up to the kink,
/// `base + kink*m + (u - kink)*jump` above it (each product rounded down).
pub fn borrow_rate(p: &MarketParams, u: u128) -> Option<u128> {
    if u <= p.kink {
        p.base_rate
            .checked_add(mul_div_floor(u, p.multiplier, WAD)?)
    } else {
        let normal = p
            .base_rate
            .checked_add(mul_div_floor(p.kink, p.multiplier, WAD)?)?;
        normal.checked_add(mul_div_floor(u - p.kink, p.jump_multiplier, WAD)?)
    }
}

/// Supply rate per block: what suppliers earn per unit supplied,
/// `u * rate * (1 - reserve_factor)`, rounded down.
pub fn supply_rate(p: &MarketParams, u: u128, borrow_rate: u128) -> Option<u128> {
    let kept = mul_div_floor(borrow_rate, WAD.checked_sub(p.reserve_factor)?, WAD)?;
    mul_div_floor(u, kept, WAD)
}

/// `10^decimals`.
pub fn unit(decimals: u8) -> Option<u128> {
    10u128.checked_pow(decimals as u32)
}

/// The value of `amount` base units at `price` (per whole token), rounded down.
pub fn value_floor(amount: u128, price: u128, decimals: u8) -> Option<u128> {
    mul_div_floor(amount, price, unit(decimals)?)
}

/// The value of `amount` base units at `price` (per whole token), rounded up.
pub fn value_ceil(amount: u128, price: u128, decimals: u8) -> Option<u128> {
    mul_div_ceil(amount, price, unit(decimals)?)
}

impl Market {
    /// What suppliers own in total: `cash + borrows - reserves`.
    pub fn underlying(&self) -> Option<u128> {
        self.cash
            .checked_add(self.borrows)?
            .checked_sub(self.reserves)
    }

    pub fn utilization(&self) -> Option<u128> {
        utilization(self.cash, self.borrows, self.reserves)
    }

    pub fn borrow_rate(&self) -> Option<u128> {
        borrow_rate(&self.params, self.utilization()?)
    }

    /// Underlying per share, scaled by 1e18 (1e18 before the first supply).
    pub fn exchange_rate(&self) -> Option<u128> {
        if self.shares == 0 {
            return Some(WAD);
        }
        mul_div_floor(self.underlying()?, WAD, self.shares)
    }

    /// Accrues interest up to `height`: with `rate` the borrow rate at the
    /// current utilization and `n` the blocks elapsed, the index grows by
    /// `index * rate * n` (rounded down), total borrows by the same factor
    /// (rounded down) and reserves by `reserve_factor` of that interest.
    pub fn accrue(&mut self, height: u64) -> Option<()> {
        if height <= self.accrued_height {
            return Some(());
        }
        let blocks = (height - self.accrued_height) as u128;
        let factor = self.borrow_rate()?.checked_mul(blocks)?;
        let index =
            self.borrow_index
                .checked_add(mul_div_floor(self.borrow_index, factor, WAD)?)?;
        let borrows = mul_div_floor(self.borrows, index, self.borrow_index)?;
        // index >= borrow_index, so borrows >= self.borrows.
        let interest = borrows - self.borrows;
        let reserves =
            self.reserves
                .checked_add(mul_div_floor(interest, self.params.reserve_factor, WAD)?)?;
        self.borrow_index = index;
        self.borrows = borrows;
        self.reserves = reserves;
        self.accrued_height = height;
        Some(())
    }

    /// The position's debt at the current index, rounded up.
    pub fn debt(&self, position: &Position) -> Option<u128> {
        if position.principal == 0 {
            return Some(0);
        }
        mul_div_ceil(position.principal, self.borrow_index, position.index)
    }

    /// What `shares` are worth in base units, rounded down.
    pub fn claim(&self, shares: u128) -> Option<u128> {
        if shares == 0 {
            return Some(0);
        }
        mul_div_floor(shares, self.underlying()?, self.shares)
    }
}

/// Base units of collateral seized for repaying `repay` base units of debt:
/// `repay * p_debt / 10^d_debt * incentive / 1e18 * 10^d_coll / p_coll`, each
/// step rounded down (less to the liquidator).
pub fn seize_amount(
    repay: u128,
    debt_price: u128,
    debt_decimals: u8,
    incentive: u128,
    coll_price: u128,
    coll_decimals: u8,
) -> Option<u128> {
    let value = value_floor(repay, debt_price, debt_decimals)?;
    let with_bonus = mul_div_floor(value, incentive, WAD)?;
    mul_div_floor(with_bonus, unit(coll_decimals)?, coll_price)
}

/// The inverse of [`seize_amount`] rounded up at each step (more from the
/// liquidator): the repayment that buys `collateral` base units.
pub fn repay_for_collateral(
    collateral: u128,
    coll_price: u128,
    coll_decimals: u8,
    incentive: u128,
    debt_price: u128,
    debt_decimals: u8,
) -> Option<u128> {
    let value = value_ceil(collateral, coll_price, coll_decimals)?;
    let without_bonus = mul_div_ceil(value, WAD, incentive)?;
    mul_div_ceil(without_bonus, unit(debt_decimals)?, debt_price)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakh_types::AssetId;

    fn params() -> MarketParams {
        MarketParams {
            collateral_factor: WAD / 100 * 75,
            reserve_factor: WAD / 10,
            base_rate: 1_000_000_000,         // 1e-9 per block
            multiplier: 20_000_000_000,       // 2e-8
            kink: WAD / 100 * 80,             // 80%
            jump_multiplier: 500_000_000_000, // 5e-7
            close_factor: WAD / 2,
            liquidation_incentive: WAD / 100 * 108,
        }
    }

    fn market(cash: u128, borrows: u128, reserves: u128) -> Market {
        Market {
            asset: AssetId(1),
            decimals: 6,
            params: params(),
            cash,
            borrows,
            reserves,
            shares: 1_000_000,
            borrow_index: WAD,
            accrued_height: 10,
        }
    }

    #[test]
    fn utilization_follows_the_formula() {
        assert_eq!(utilization(100, 0, 0), Some(0));
        // U = 50 / (100 + 50 - 0) = 1/3.
        assert_eq!(utilization(100, 50, 0), Some(333_333_333_333_333_333));
        // Reserves come off the denominator: 50 / (100 + 50 - 30) = 5/12.
        assert_eq!(utilization(100, 50, 30), Some(416_666_666_666_666_666));
        assert_eq!(utilization(0, 50, 0), Some(WAD));
        // Reserves above cash: capped at 100%.
        assert_eq!(utilization(0, 50, 10), Some(WAD));
        assert_eq!(utilization(0, 50, 50), Some(WAD));
        // Inconsistent (reserves above cash + borrows): refused.
        assert_eq!(utilization(0, 50, 51), None);
    }

    #[test]
    fn kinked_rate_model() {
        let p = params();
        assert_eq!(borrow_rate(&p, 0), Some(1_000_000_000));
        // Below the kink: base + U*m = 1e9 + 0.5 * 2e10.
        assert_eq!(borrow_rate(&p, WAD / 2), Some(11_000_000_000));
        // At the kink: base + 0.8 * 2e10.
        assert_eq!(borrow_rate(&p, p.kink), Some(17_000_000_000));
        // Above: base + kink*m + (U - kink)*jump = 1e9 + 1.6e10 + 0.1 * 5e11.
        assert_eq!(borrow_rate(&p, WAD / 100 * 90), Some(67_000_000_000));
        assert_eq!(borrow_rate(&p, WAD), p.max_borrow_rate());
        // Supply rate: U * rate * (1 - rf) = 0.5 * 1.1e10 * 0.9.
        assert_eq!(
            supply_rate(&p, WAD / 2, 11_000_000_000),
            Some(4_950_000_000)
        );
    }

    #[test]
    fn accrual_grows_index_borrows_and_reserves() {
        // U = 50 / 150 = 1/3: rate = 1e9 + 2e10/3 = 7_666_666_666 (floor).
        let mut m = market(100 * 10u128.pow(6), 50 * 10u128.pow(6), 0);
        let rate = m.borrow_rate().unwrap();
        assert_eq!(rate, 7_666_666_666);
        m.accrue(110).unwrap();
        // index = 1e18 + 1e18 * rate * 100 / 1e18.
        assert_eq!(m.borrow_index, WAD + rate * 100);
        // borrows = floor(50e6 * index / 1e18) = 50e6 + floor(50e6 * 766_666_666_600 / 1e18).
        let interest = 50 * 10u128.pow(6) * (rate * 100) / WAD;
        assert_eq!(m.borrows, 50 * 10u128.pow(6) + interest);
        assert_eq!(m.reserves, interest / 10);
        assert_eq!(m.accrued_height, 110);
        // Accruing again at the same height changes nothing.
        let before = m.clone();
        m.accrue(110).unwrap();
        assert_eq!(m, before);
        // A height in the past changes nothing either.
        m.accrue(50).unwrap();
        assert_eq!(m, before);
    }

    #[test]
    fn debt_rounds_up_claims_round_down() {
        let mut m = market(0, 0, 0);
        m.borrow_index = 3 * WAD;
        let p = Position {
            asset: AssetId(1),
            shares: 0,
            principal: 10,
            index: 2 * WAD,
        };
        // 10 * 3 / 2 = 15 exactly.
        assert_eq!(m.debt(&p), Some(15));
        m.borrow_index = 3 * WAD + 1;
        assert_eq!(m.debt(&p), Some(16));
        // principal * index / index_at_borrow, the README's formula.
        let p = Position {
            principal: 1_000,
            index: WAD,
            ..p
        };
        m.borrow_index = WAD + WAD / 3;
        assert_eq!(m.debt(&p), Some(1_334));

        let m = market(1_000, 0, 1);
        // underlying 999 over 1e6 shares: 1000 shares claim 0.999 -> 0.
        assert_eq!(m.claim(1_000), Some(0));
        assert_eq!(m.claim(1_000_000), Some(999));
        assert_eq!(m.claim(0), Some(0));
    }

    #[test]
    fn valuation_accounts_for_decimals() {
        // 1.5 tokens of 6 decimals at 2000e18 per token = 3000e18.
        assert_eq!(value_floor(1_500_000, 2_000 * WAD, 6), Some(3_000 * WAD));
        // 1 base unit of an 18-decimal asset at 3000e18 = 3000 (1e18-scaled).
        assert_eq!(value_floor(1, 3_000 * WAD, 18), Some(3_000));
        assert_eq!(value_floor(1, 1, 18), Some(0));
        assert_eq!(value_ceil(1, 1, 18), Some(1));
        assert_eq!(value_floor(u128::MAX, u128::MAX, 0), None);
        assert_eq!(unit(38), Some(10u128.pow(38)));
        assert_eq!(unit(39), None);
    }

    #[test]
    fn seize_and_its_inverse() {
        // Repay 100 USDC (6 dec, $1) seizing ETH (18 dec, $2000) at 8% bonus:
        // 108 USD / 2000 = 0.054 ETH.
        let seized = seize_amount(100_000_000, WAD, 6, WAD / 100 * 108, 2_000 * WAD, 18);
        assert_eq!(seized, Some(54_000_000_000_000_000));
        let back = repay_for_collateral(
            54_000_000_000_000_000,
            2_000 * WAD,
            18,
            WAD / 100 * 108,
            WAD,
            6,
        );
        assert_eq!(back, Some(100_000_000));
        // Rounding: the inverse never asks for less than what buys the collateral.
        for coll in [1u128, 7, 999, 123_456_789] {
            let repay =
                repay_for_collateral(coll, 3 * WAD, 2, WAD / 100 * 105, 7 * WAD, 4).unwrap();
            assert!(seize_amount(repay, 7 * WAD, 4, WAD / 100 * 105, 3 * WAD, 2).unwrap() >= coll);
        }
    }
}
