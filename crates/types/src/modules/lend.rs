//! Lending (Compound-style, interest per block): one market per asset, with
//! supply shares, borrows, a kinked interest-rate model, liquidation and
//! explicit bad-debt handling.
//!
//! Rates, factors and the borrow index are fixed point scaled by
//! [`WAD`] (`1e18` = 1, or 100%). Values of positions are in the oracle's
//! quote unit scaled by `1e18` (see [`crate::modules::oracle`]).
//!
//! Health-checked actions (`withdraw`, `borrow`, `liquidate`) carry `markets`:
//! the assets of every market the account (the borrower, for `liquidate`)
//! has a position in. Execution reads only those markets and their price
//! feeds and fails with [`LendError::UndeclaredMarket`] when state shows a
//! position the list leaves out.

use crate::codec::BoundedVec;
use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

pub mod query;

/// `1e18`: the fixed-point one of rates, factors and the borrow index.
pub const WAD: u128 = 1_000_000_000_000_000_000;
/// Most markets one account may have positions in (and so the longest
/// `markets` list of an action).
pub const MAX_POSITIONS: usize = 8;
/// Highest collateral factor a market may have (95%).
pub const MAX_COLLATERAL_FACTOR: u128 = WAD / 100 * 95;
/// Highest liquidation incentive a market may have (150%: a 50% bonus).
pub const MAX_LIQUIDATION_INCENTIVE: u128 = WAD / 2 * 3;
/// Highest borrow rate per block the rate model may reach at 100%
/// utilization (0.1% per block).
pub const MAX_BORROW_RATE_PER_BLOCK: u128 = WAD / 1_000;

/// The markets an action declares (see the module documentation).
pub type MarketList = BoundedVec<AssetId, MAX_POSITIONS>;

crate::codec_struct! {
    /// A market's risk parameters and interest-rate model, all scaled by [`WAD`].
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct MarketParams {
        /// Share of a supply's value that counts toward borrowing capacity;
        /// an account whose debt value exceeds its weighted collateral may be
        /// liquidated.
        #[serde(with = "crate::amount")]
        pub collateral_factor: u128,
        /// Share of interest set aside as reserves.
        #[serde(with = "crate::amount")]
        pub reserve_factor: u128,
        /// Borrow rate per block at zero utilization.
        #[serde(with = "crate::amount")]
        pub base_rate: u128,
        /// Added per unit of utilization, up to the kink.
        #[serde(with = "crate::amount")]
        pub multiplier: u128,
        /// Utilization above which `jump_multiplier` applies.
        #[serde(with = "crate::amount")]
        pub kink: u128,
        /// Added per unit of utilization above the kink.
        #[serde(with = "crate::amount")]
        pub jump_multiplier: u128,
        /// Share of a borrower's debt in this market one liquidation may repay.
        #[serde(with = "crate::amount")]
        pub close_factor: u128,
        /// Value seized from this market's collateral per unit of debt value
        /// repaid (1.08e18: an 8% bonus to the liquidator).
        #[serde(with = "crate::amount")]
        pub liquidation_incentive: u128,
    }
}

impl MarketParams {
    /// The parameters the wallet, the devnet demo and the bench use unless
    /// told otherwise: collateral factor `collateral_factor_pct`%, reserve
    /// factor 10%, a kinked rate model (kink at 80% utilization), close
    /// factor 50% and liquidation incentive 108%.
    pub fn standard(collateral_factor_pct: u128) -> MarketParams {
        MarketParams {
            collateral_factor: WAD / 100 * collateral_factor_pct,
            reserve_factor: WAD / 10,
            base_rate: 1_000_000_000,
            multiplier: 50_000_000_000,
            kink: WAD / 100 * 80,
            jump_multiplier: 1_000_000_000_000,
            close_factor: WAD / 2,
            liquidation_incentive: WAD / 100 * 108,
        }
    }

    /// The borrow rate per block at 100% utilization (the model's maximum);
    /// `None` on overflow.
    pub fn max_borrow_rate(&self) -> Option<u128> {
        let normal = self.kink.checked_mul(self.multiplier)? / WAD;
        let excess = (WAD.checked_sub(self.kink)?).checked_mul(self.jump_multiplier)? / WAD;
        self.base_rate.checked_add(normal)?.checked_add(excess)
    }

    /// Stateless validation of the parameters.
    pub fn check(&self) -> Result<(), String> {
        if self.collateral_factor > MAX_COLLATERAL_FACTOR {
            return Err(format!(
                "collateral_factor {} exceeds the maximum {}",
                pct(self.collateral_factor),
                pct(MAX_COLLATERAL_FACTOR)
            ));
        }
        if self.reserve_factor > WAD {
            return Err(format!(
                "reserve_factor {} exceeds 100%",
                pct(self.reserve_factor)
            ));
        }
        if self.kink > WAD {
            return Err(format!("kink {} exceeds 100%", pct(self.kink)));
        }
        if self.close_factor == 0 || self.close_factor > WAD {
            return Err(format!(
                "close_factor must be above 0 and at most 100%, got {}",
                pct(self.close_factor)
            ));
        }
        if self.liquidation_incentive < WAD
            || self.liquidation_incentive > MAX_LIQUIDATION_INCENTIVE
        {
            return Err(format!(
                "liquidation_incentive must be between 100% and {}, got {}",
                pct(MAX_LIQUIDATION_INCENTIVE),
                pct(self.liquidation_incentive)
            ));
        }
        // Seizing collateral must lower weighted collateral by no more than
        // the debt it repays, or liquidations would make accounts worse.
        let seized_weight = mul_wad(self.collateral_factor, self.liquidation_incentive);
        if seized_weight.is_none_or(|w| w > WAD) {
            return Err(format!(
                "collateral_factor x liquidation_incentive must be at most 100% \
                 (got {} x {})",
                pct(self.collateral_factor),
                pct(self.liquidation_incentive)
            ));
        }
        match self.max_borrow_rate() {
            Some(rate) if rate <= MAX_BORROW_RATE_PER_BLOCK => Ok(()),
            rate => Err(format!(
                "the rate model reaches {} per block at 100% utilization; the limit is {}",
                rate.map_or("more than u128".into(), |r| r.to_string()),
                MAX_BORROW_RATE_PER_BLOCK
            )),
        }
    }
}

/// `v` (scaled by [`WAD`]) as a percentage with two decimals, exactly.
fn pct(v: u128) -> String {
    let hundredth = WAD / 10_000;
    format!(
        "{v} ({}.{:02}%)",
        v / (WAD / 100),
        (v % (WAD / 100)) / hundredth
    )
}

/// ceil(a * b / WAD) when it fits in u128.
fn mul_wad(a: u128, b: u128) -> Option<u128> {
    a.checked_mul(b).map(|p| p.div_ceil(WAD))
}

crate::tagged_enum! {
    /// What a `lend` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum LendAction {
        /// Admin only: opens the market of `asset`.
        0x01 => CreateMarket {
            /// The market's asset.
            asset: AssetId,
            /// The market's parameters.
            params: MarketParams,
        },
        /// Admin only: changes a market's parameters (interest up to this
        /// block accrues at the old rates).
        0x02 => UpdateMarket {
            /// The market's asset.
            asset: AssetId,
            /// The market's parameters.
            params: MarketParams,
        },
        /// Deposits `amount` base units and mints supply shares.
        0x03 => Supply {
            /// The market's asset.
            asset: AssetId,
            /// Amount to deposit (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Burns shares worth `amount` base units (rounded up) and pays the
        /// amount out; `u128::MAX` withdraws every share. Health-checked.
        0x04 => Withdraw {
            /// The market's asset.
            asset: AssetId,
            /// Amount to pay out (base units); `u128::MAX` for every share.
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Assets of every market the account has a position in (at most `MAX_POSITIONS`).
            markets: MarketList,
        },
        /// Borrows `amount` base units. Health-checked.
        0x05 => Borrow {
            /// The market's asset.
            asset: AssetId,
            /// Amount to borrow (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Assets of every market the account has a position in (at most `MAX_POSITIONS`).
            markets: MarketList,
        },
        /// Repays up to `amount` of `borrower`'s debt (anyone may repay for
        /// anyone); only what is owed is taken.
        0x06 => Repay {
            /// The market's asset.
            asset: AssetId,
            /// Most to repay (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The account whose debt is repaid.
            borrower: Address,
        },
        /// Repays up to `amount` of an unhealthy `borrower`'s debt in
        /// `repay_asset` (at most the close factor of it) and takes the
        /// borrower's supply shares of `seize_asset` worth the repaid value
        /// times the liquidation incentive. `markets` lists the borrower's.
        0x07 => Liquidate {
            /// The unhealthy account.
            borrower: Address,
            /// Market whose debt is repaid.
            repay_asset: AssetId,
            /// Most debt to repay (base units of `repay_asset`).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Market whose supply shares are seized.
            seize_asset: AssetId,
            /// Assets of every market the account has a position in (at most `MAX_POSITIONS`).
            markets: MarketList,
        },
        /// Admin only: pays `amount` of a market's reserves to `to`.
        0x08 => WithdrawReserves {
            /// The market's asset.
            asset: AssetId,
            /// Amount of reserves to pay (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Account credited.
            to: Address,
        },
    }
}

crate::tagged_enum! {
    /// Something a `lend` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum LendEvent {
        /// A market was opened.
        0x01 => MarketCreated {
            /// The market's asset.
            asset: AssetId,
            /// The market's parameters.
            params: MarketParams,
        },
        /// A market's parameters changed.
        0x02 => MarketUpdated {
            /// The market's asset.
            asset: AssetId,
            /// The market's parameters.
            params: MarketParams,
        },
        /// An account deposited and received supply shares.
        0x03 => Supplied {
            /// The account acting.
            account: Address,
            /// The market's asset.
            asset: AssetId,
            /// Amount deposited (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Supply shares minted or burned.
            #[serde(with = "crate::amount")]
            shares: u128,
        },
        /// An account burned supply shares and was paid.
        0x04 => Withdrawn {
            /// The account acting.
            account: Address,
            /// The market's asset.
            asset: AssetId,
            /// Amount paid out (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Supply shares minted or burned.
            #[serde(with = "crate::amount")]
            shares: u128,
        },
        /// An account borrowed.
        0x05 => Borrowed {
            /// The account acting.
            account: Address,
            /// The market's asset.
            asset: AssetId,
            /// Amount borrowed (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The account's debt in this market afterwards.
            #[serde(with = "crate::amount")]
            debt: u128,
        },
        /// Debt was repaid.
        0x06 => Repaid {
            /// The account paying.
            payer: Address,
            /// The borrowing account.
            borrower: Address,
            /// The market's asset.
            asset: AssetId,
            /// Amount repaid (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The borrower's debt in this market afterwards.
            #[serde(with = "crate::amount")]
            debt: u128,
        },
        /// An unhealthy borrower's debt was repaid and its collateral seized.
        0x07 => Liquidated {
            /// The account liquidating.
            liquidator: Address,
            /// The borrowing account.
            borrower: Address,
            /// Market whose debt is repaid.
            repay_asset: AssetId,
            /// Debt repaid (base units of `repay_asset`).
            #[serde(with = "crate::amount")]
            repaid: u128,
            /// Market whose supply shares are seized.
            seize_asset: AssetId,
            /// Supply shares moved from the borrower to the liquidator.
            #[serde(with = "crate::amount")]
            seized_shares: u128,
            /// What those shares were worth in base units of `seize_asset`.
            #[serde(with = "crate::amount")]
            seized_amount: u128,
        },
        /// A liquidated account had no collateral left: its remaining debt
        /// in `asset` was written off, first against reserves, the rest
        /// against the suppliers (through the exchange rate).
        0x08 => BadDebt {
            /// The borrowing account.
            borrower: Address,
            /// The market's asset.
            asset: AssetId,
            /// Debt written off (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Part written off against the market's reserves (base units).
            #[serde(with = "crate::amount")]
            from_reserves: u128,
            /// Part written off against the suppliers (base units).
            #[serde(with = "crate::amount")]
            socialized: u128,
        },
        /// The admin paid out reserves.
        0x09 => ReservesWithdrawn {
            /// The market's asset.
            asset: AssetId,
            /// Reserves paid (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Account credited.
            to: Address,
        },
    }
}

crate::tagged_enum! {
    /// Why a `lend` action failed. Values are in the oracle's quote unit
    /// scaled by 1e18.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum LendError {
        /// The asset already has a market.
        #[error("asset {asset} already has a lending market")]
        0x02 => MarketExists {
            /// The market's asset.
            asset: AssetId,
        },
        /// The asset has no market.
        #[error("asset {asset} has no lending market")]
        0x03 => NoMarket {
            /// The market's asset.
            asset: AssetId,
        },
        /// The first supply does not exceed the shares locked forever.
        #[error(
            "the first supply to a market must exceed the {minimum} shares locked forever, got {amount}"
        )]
        0x04 => FirstSupplyTooSmall {
            /// Amount supplied (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Shares locked forever by the first supply.
            #[serde(with = "crate::amount")]
            minimum: u128,
        },
        /// The supply is too small to mint a share.
        #[error("supplying {amount} would mint no shares at the current exchange rate")]
        0x05 => ZeroShares {
            /// Amount supplied (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// The market's shares are backed by nothing; it takes no supply.
        #[error("market {asset} has supply shares but nothing backs them; it takes no new supply")]
        0x06 => MarketWipedOut {
            /// The market's asset.
            asset: AssetId,
        },
        /// Withdrawing more than the account supplied.
        #[error("withdrawal of {requested} from market {asset} exceeds the {available} supplied")]
        0x07 => InsufficientSupply {
            /// The market's asset.
            asset: AssetId,
            /// Amount asked for (base units).
            #[serde(with = "crate::amount")]
            requested: u128,
            /// The account's supply (base units).
            #[serde(with = "crate::amount")]
            available: u128,
        },
        /// The market has too little cash to pay out.
        #[error("market {asset} holds {cash} in cash, {requested} was requested")]
        0x08 => InsufficientCash {
            /// The market's asset.
            asset: AssetId,
            /// Amount asked for (base units).
            #[serde(with = "crate::amount")]
            requested: u128,
            /// The market's cash: base units held, not lent out.
            #[serde(with = "crate::amount")]
            cash: u128,
        },
        /// The borrower owes nothing in the market.
        #[error("{borrower} owes nothing in market {asset}")]
        0x09 => NoDebt {
            /// The market's asset.
            asset: AssetId,
            /// The account without debt.
            borrower: Address,
        },
        /// The action would leave the account's debt above its borrowing capacity.
        #[error(
            "the action would leave {account} with debt worth {debt_value} above its \
             borrowing capacity {borrow_capacity}"
        )]
        0x0a => Undercollateralized {
            /// The account acting.
            account: Address,
            /// The account's debt value (quote units, scaled by 1e18).
            #[serde(with = "crate::amount")]
            debt_value: u128,
            /// Its collateral value weighted by the collateral factors (quote units, scaled by 1e18).
            #[serde(with = "crate::amount")]
            borrow_capacity: u128,
        },
        /// The account has a position in a market the action does not list.
        #[error(
            "the account has a position in market {asset}, which the transaction's market list \
             does not declare"
        )]
        0x0b => UndeclaredMarket {
            /// The market's asset.
            asset: AssetId,
        },
        /// The account would have positions in too many markets.
        #[error("an account may have positions in at most {max} markets")]
        0x0c => TooManyPositions {
            /// `MAX_POSITIONS`.
            max: u8,
        },
        /// The borrower is healthy and cannot be liquidated.
        #[error(
            "{borrower} is healthy (debt worth {debt_value}, borrowing capacity \
             {borrow_capacity}) and cannot be liquidated"
        )]
        0x0d => HealthyAccount {
            /// The account to liquidate.
            borrower: Address,
            /// The account's debt value (quote units, scaled by 1e18).
            #[serde(with = "crate::amount")]
            debt_value: u128,
            /// Its collateral value weighted by the collateral factors (quote units, scaled by 1e18).
            #[serde(with = "crate::amount")]
            borrow_capacity: u128,
        },
        /// An account tried to liquidate itself.
        #[error("an account cannot liquidate itself")]
        0x0e => SelfLiquidation {},
        /// The borrower has no supply in the seize market.
        #[error("{borrower} has no collateral to seize in market {asset}")]
        0x0f => NoCollateral {
            /// The account to liquidate.
            borrower: Address,
            /// The market's asset.
            asset: AssetId,
        },
        /// The repayment is too small to seize a share.
        #[error("repaying {repay} would seize nothing; repay more")]
        0x10 => SeizeTooSmall {
            /// Amount to repay (base units).
            #[serde(with = "crate::amount")]
            repay: u128,
        },
        /// The market has too little reserves or cash to pay.
        #[error("market {asset} holds {reserves} in reserves and {cash} in cash, {requested} was requested")]
        0x11 => InsufficientReserves {
            /// The market's asset.
            asset: AssetId,
            /// Amount asked for (base units).
            #[serde(with = "crate::amount")]
            requested: u128,
            /// The market's reserves (base units).
            #[serde(with = "crate::amount")]
            reserves: u128,
            /// The market's cash: base units held, not lent out.
            #[serde(with = "crate::amount")]
            cash: u128,
        },
        /// The module already holds the most markets.
        #[error("there are already {max} lending markets")]
        0x12 => TooManyMarkets {
            /// Most markets the module holds.
            max: u16,
        },
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &LendAction) -> u64 {
    match action {
        LendAction::CreateMarket { .. } => 2,
        LendAction::UpdateMarket { .. } => 1,
        // Sender's balance, the market's custody balance, the market, the
        // sender's positions.
        LendAction::Supply { .. }
        | LendAction::Withdraw { .. }
        | LendAction::Borrow { .. }
        | LendAction::Repay { .. } => 4,
        // Also the liquidator's positions and the seize market, plus every
        // market a bad-debt write-off may touch.
        LendAction::Liquidate { markets, .. } => 6 + markets.len() as u64,
        LendAction::WithdrawReserves { .. } => 3,
    }
}

/// Checks that hold regardless of state; ingest refuses an action that fails
/// them with this reason, and execution fails it the same way.
pub fn check(action: &LendAction) -> Result<(), String> {
    let no_duplicates = |markets: &MarketList| {
        for (i, m) in markets.iter().enumerate() {
            if markets[..i].contains(m) {
                return Err(format!("market {m} is listed twice"));
            }
        }
        Ok(())
    };
    let positive = |amount: u128| {
        if amount == 0 {
            Err("amount must be positive".to_string())
        } else {
            Ok(())
        }
    };
    match action {
        LendAction::CreateMarket { params, .. } | LendAction::UpdateMarket { params, .. } => {
            params.check()
        }
        LendAction::Supply { amount, .. }
        | LendAction::Repay { amount, .. }
        | LendAction::WithdrawReserves { amount, .. } => positive(*amount),
        LendAction::Withdraw {
            amount, markets, ..
        }
        | LendAction::Borrow {
            amount, markets, ..
        } => {
            positive(*amount)?;
            no_duplicates(markets)
        }
        LendAction::Liquidate {
            amount, markets, ..
        } => {
            positive(*amount)?;
            no_duplicates(markets)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode, EncodeSize};

    pub fn params() -> MarketParams {
        MarketParams {
            collateral_factor: WAD / 100 * 75,
            reserve_factor: WAD / 10,
            base_rate: 1_000_000_000,
            multiplier: 20_000_000_000,
            kink: WAD / 100 * 80,
            jump_multiplier: 500_000_000_000,
            close_factor: WAD / 2,
            liquidation_incentive: WAD / 100 * 108,
        }
    }

    #[test]
    fn actions_round_trip_in_codec_and_json() {
        let markets = MarketList::new(vec![AssetId(1), AssetId(2)]).unwrap();
        let actions = [
            LendAction::CreateMarket {
                asset: AssetId(1),
                params: params(),
            },
            LendAction::Supply {
                asset: AssetId(1),
                amount: u128::MAX,
            },
            LendAction::Withdraw {
                asset: AssetId(1),
                amount: 5,
                markets: markets.clone(),
            },
            LendAction::Liquidate {
                borrower: Address([3; 32]),
                repay_asset: AssetId(1),
                amount: 9,
                seize_asset: AssetId(2),
                markets,
            },
        ];
        for a in actions {
            let bytes = a.encode();
            assert_eq!(bytes.len(), a.encode_size());
            assert_eq!(LendAction::decode_cfg(bytes, &()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<LendAction>(&json).unwrap(), a);
        }
        // A list longer than MAX_POSITIONS does not decode.
        let long: Vec<AssetId> = (0..9).map(AssetId).collect();
        let mut bytes = vec![0x04];
        bytes.extend(AssetId(1).encode());
        bytes.extend(5u128.encode());
        bytes.extend(long.encode());
        assert!(LendAction::decode_cfg(bytes::Bytes::from(bytes), &()).is_err());
    }

    #[test]
    fn parameter_checks() {
        assert_eq!(params().check(), Ok(()));
        let with = |f: fn(&mut MarketParams)| {
            let mut p = params();
            f(&mut p);
            p.check()
        };
        assert!(with(|p| p.collateral_factor = WAD).is_err());
        assert!(with(|p| p.reserve_factor = WAD + 1).is_err());
        assert!(with(|p| p.kink = WAD + 1).is_err());
        assert!(with(|p| p.close_factor = 0).is_err());
        assert!(with(|p| p.liquidation_incentive = WAD - 1).is_err());
        assert!(with(|p| p.liquidation_incentive = MAX_LIQUIDATION_INCENTIVE + 1).is_err());
        // 0.95 x 1.08 > 1.
        assert!(with(|p| p.collateral_factor = MAX_COLLATERAL_FACTOR).is_err());
        assert!(with(|p| p.jump_multiplier = WAD).is_err());
        assert!(with(|p| p.base_rate = u128::MAX).is_err());
        assert!(with(|p| p.multiplier = u128::MAX).is_err());
        // Max rate = base + kink*m + (1-kink)*jump.
        assert_eq!(
            params().max_borrow_rate(),
            Some(1_000_000_000 + 16_000_000_000 + 100_000_000_000)
        );
    }

    #[test]
    fn stateless_checks() {
        let dup = MarketList::new(vec![AssetId(1), AssetId(1)]).unwrap();
        assert!(
            check(&LendAction::Borrow {
                asset: AssetId(1),
                amount: 1,
                markets: dup
            })
            .unwrap_err()
            .contains("twice")
        );
        assert!(
            check(&LendAction::Supply {
                asset: AssetId(1),
                amount: 0
            })
            .is_err()
        );
    }
}
