//! The fee schedule: how many fee units an action costs and how the base fee
//! per unit moves from block to block (EIP-1559 style).
//!
//! Fees are paid in the native token to the proposer of the including block.

use crate::Action;
use serde::{Deserialize, Serialize};

/// Fee parameters, fixed at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeParams {
    /// Base fee per unit of the first block (native base units).
    #[serde(with = "crate::amount")]
    pub initial_base_fee: u128,
    /// The base fee never falls below this.
    #[serde(with = "crate::amount")]
    pub min_base_fee: u128,
    /// Units per block the base fee steers toward; above it the fee rises.
    pub target_units_per_block: u64,
    /// The base fee moves by at most 1/denominator per block.
    pub max_change_denominator: u64,
}

impl Default for FeeParams {
    fn default() -> Self {
        FeeParams {
            initial_base_fee: 1_000,
            min_base_fee: 100,
            target_units_per_block: 50_000,
            max_change_denominator: 8,
        }
    }
}

/// Fee units an action costs (roughly proportional to the state it writes).
pub fn action_units(action: &Action) -> u64 {
    match action {
        Action::Transfer(_) => 1,
        Action::MultiTransfer { entries } => 1 + entries.len() as u64,
        Action::CreateAsset { .. } => 100,
        Action::Mint { .. } => 2,
        Action::Dex(a) => crate::modules::dex::units(a),
        Action::Book(a) => crate::modules::book::units(a),
        Action::Oracle(a) => crate::modules::oracle::units(a),
        Action::Lend(a) => crate::modules::lend::units(a),
        Action::Stake(a) => crate::modules::stake::units(a),
        Action::Farm(a) => crate::modules::farm::units(a),
        Action::Cover(a) => crate::modules::cover::units(a),
        Action::Nft(a) => crate::modules::nft::units(a),
        Action::Shielded(a) => crate::modules::shielded::units(a),
        Action::Channel(a) => crate::modules::channel::units(a),
        Action::Bridge(a) => crate::modules::bridge::units(a),
    }
}

/// The fee a transaction pays at `base_fee` per unit.
pub fn required_fee(action: &Action, base_fee: u128) -> u128 {
    base_fee.saturating_mul(action_units(action) as u128)
}

/// The base fee of the block built on a parent at `parent_height` that
/// charged `parent_base_fee` and used `parent_used_units`: the genesis block
/// (height 0) is followed by `initial_base_fee`, later blocks by the
/// [`next_base_fee`] rule. Block building, block checking and the RPC's
/// announced next fee all use this one function.
pub fn base_fee_after(
    params: &FeeParams,
    parent_height: u64,
    parent_base_fee: u128,
    parent_used_units: u64,
) -> u128 {
    if parent_height == 0 {
        params.initial_base_fee
    } else {
        next_base_fee(params, parent_base_fee, parent_used_units)
    }
}

/// The base fee of the next block given this block's base fee and the units it used.
pub fn next_base_fee(params: &FeeParams, base_fee: u128, used_units: u64) -> u128 {
    let target = params.target_units_per_block.max(1) as u128;
    let used = used_units as u128;
    let denom = params.max_change_denominator.max(1) as u128;
    let next = if used > target {
        let delta = (base_fee.saturating_mul(used - target) / target / denom).max(1);
        base_fee.saturating_add(delta)
    } else {
        let delta = base_fee.saturating_mul(target - used) / target / denom;
        base_fee.saturating_sub(delta)
    };
    next.max(params.min_base_fee)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_fee_rises_when_full_and_falls_when_empty() {
        let p = FeeParams::default();
        let up = next_base_fee(&p, 10_000, 2 * p.target_units_per_block);
        assert_eq!(up, 10_000 + 10_000 / 8);
        let down = next_base_fee(&p, 10_000, 0);
        assert_eq!(down, 10_000 - 10_000 / 8);
        assert_eq!(next_base_fee(&p, 10_000, p.target_units_per_block), 10_000);
        assert_eq!(next_base_fee(&p, p.min_base_fee, 0), p.min_base_fee);
    }
}
