//! An account's health: its collateral and debt valued at oracle prices.
//!
//! - collateral (borrowing capacity) = sum over supplies of
//!   `floor(floor(claim * price / 10^decimals) * collateral_factor / 1e18)`;
//! - debt value = sum over borrows of `ceil(debt * price / 10^decimals)`;
//! - an account is healthy while `debt value <= collateral`; below that any
//!   other account may liquidate it, and no action of its own (borrow,
//!   withdraw) may take it there.
//!
//! Values are in the oracle's quote unit scaled by 1e18.

use super::math::{value_ceil, value_floor};
use crate::modules::kit::math::mul_div_floor;
use lakh_types::{AssetId, modules::lend::WAD};

/// One position, valued in its market's terms.
#[derive(Clone, Copy, Debug)]
pub struct Holding {
    pub asset: AssetId,
    pub decimals: u8,
    pub collateral_factor: u128,
    /// Base units the supply shares claim.
    pub supplied: u128,
    /// Base units owed.
    pub debt: u128,
}

impl Holding {
    /// Whether valuing this holding needs its price.
    pub fn needs_price(&self) -> bool {
        self.debt > 0 || (self.supplied > 0 && self.collateral_factor > 0)
    }
}

/// An account's totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Valuation {
    /// Supplies at full value (rounded down).
    pub supplied: u128,
    /// Supplies weighted by their collateral factors: the borrowing capacity.
    pub collateral: u128,
    /// Debts (rounded up).
    pub debt: u128,
}

impl Valuation {
    /// Adds `holding` at `price` (ignored when the holding needs none).
    pub fn add(&mut self, holding: &Holding, price: u128) -> Option<()> {
        if holding.supplied > 0 {
            let value = value_floor(holding.supplied, price, holding.decimals)?;
            self.supplied = self.supplied.checked_add(value)?;
            let weighted = mul_div_floor(value, holding.collateral_factor, WAD)?;
            self.collateral = self.collateral.checked_add(weighted)?;
        }
        if holding.debt > 0 {
            let value = value_ceil(holding.debt, price, holding.decimals)?;
            self.debt = self.debt.checked_add(value)?;
        }
        Some(())
    }

    pub fn is_healthy(&self) -> bool {
        self.debt <= self.collateral
    }

    /// `collateral / debt` scaled by 1e18 (rounded down); `None` without debt.
    pub fn health_factor(&self) -> Option<u128> {
        if self.debt == 0 {
            return None;
        }
        Some(mul_div_floor(self.collateral, WAD, self.debt).unwrap_or(u128::MAX))
    }

    /// What may still be borrowed, in value.
    pub fn capacity_left(&self) -> u128 {
        self.collateral.saturating_sub(self.debt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_against_the_account() {
        let usdc = Holding {
            asset: AssetId(1),
            decimals: 6,
            collateral_factor: WAD / 100 * 80,
            supplied: 1_000_000_001, // 1000.000001 USDC
            debt: 0,
        };
        let eth = Holding {
            asset: AssetId(2),
            decimals: 18,
            collateral_factor: WAD / 100 * 75,
            supplied: 0,
            debt: 1, // one wei
        };
        let mut v = Valuation::default();
        v.add(&usdc, WAD).unwrap();
        v.add(&eth, 3).unwrap(); // 3e-18 quote per whole ETH: 1 wei is worth ~0
        assert_eq!(v.supplied, 1_000_000_001_000_000_000_000);
        assert_eq!(v.collateral, 800_000_000_800_000_000_000);
        // Debt rounds up to one unit.
        assert_eq!(v.debt, 1);
        assert!(v.is_healthy());
        assert_eq!(v.capacity_left(), v.collateral - 1);
        assert!(!eth.needs_price() || eth.debt > 0);
        assert!(
            !Holding {
                collateral_factor: 0,
                ..usdc
            }
            .needs_price()
        );
        assert_eq!(Valuation::default().health_factor(), None);
        let v = Valuation {
            supplied: 0,
            collateral: 3,
            debt: 2,
        };
        assert_eq!(v.health_factor(), Some(WAD + WAD / 2));
    }
}
