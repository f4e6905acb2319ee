//! Yield farms: stake an asset, earn reward tokens at a fixed rate per block
//! between a start and an end block.
//!
//! Anyone creates a farm by funding its whole reward budget
//! (`rate_per_block * (end_height - start_height)`) up front. Rewards use a
//! reward-per-token accumulator (Synthetix style):
//! `rpt += elapsed * rate * 1e18 / total_staked` (floor; frozen while nothing
//! is staked, and those blocks' rewards stay with the farm), and a position
//! earns `staked * (rpt - rpt_paid) / 1e18 + owed` (floor).
//!
//! Actions that move a farm's assets name them in the payload (so the keys a
//! transaction touches are known before execution); a name that does not
//! match the farm fails with [`FarmError::WrongAsset`].

use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

pub mod query;

/// Scale of the reward-per-token accumulator.
pub const REWARD_PRECISION: u128 = 1_000_000_000_000_000_000;

crate::tagged_enum! {
    /// What a `farm` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum FarmAction {
        /// Create farm [`farm_id`]`(sender, nonce)`, moving its whole budget
        /// `rate_per_block * (end_height - start_height)` of `reward_asset` from
        /// the sender into the farm. Rewards accrue from `start_height` (not
        /// before the current height) to `end_height`.
        0x01 => Create {
            /// The asset staked in the farm.
            stake_asset: AssetId,
            /// The asset paid as rewards.
            reward_asset: AssetId,
            /// Reward base units emitted per block, shared by all stakers.
            #[serde(with = "crate::amount")]
            rate_per_block: u128,
            /// First block height that accrues rewards.
            start_height: u64,
            /// Block height at which rewards stop.
            end_height: u64,
        },
        /// Stake `amount` of the farm's stake asset (before the end block).
        0x02 => Stake {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The asset staked in the farm.
            stake_asset: AssetId,
            /// Amount to stake (base units of the stake asset).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Take back `amount` of the sender's stake; its rewards so far stay
        /// owed until harvested.
        0x03 => Unstake {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The asset staked in the farm.
            stake_asset: AssetId,
            /// Amount to take back (base units of the stake asset).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Pay the sender its rewards so far.
        0x04 => Harvest {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The asset paid as rewards.
            reward_asset: AssetId,
        },
        /// Take back the sender's whole stake and give up its unpaid rewards,
        /// which stay in the farm (the creator may reclaim them after the end).
        0x05 => EmergencyWithdraw {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The asset staked in the farm.
            stake_asset: AssetId,
        },
        /// Creator only, from the end block: take back the budget that was
        /// never emitted (blocks with nothing staked) and forfeited rewards.
        0x06 => Reclaim {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The asset paid as rewards.
            reward_asset: AssetId,
        },
    }
}

crate::tagged_enum! {
    /// Something a `farm` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum FarmEvent {
        /// A farm was created and funded.
        0x01 => Created {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The account that created and funded the farm.
            creator: Address,
            /// The asset staked in the farm.
            stake_asset: AssetId,
            /// The asset paid as rewards.
            reward_asset: AssetId,
            /// Reward base units emitted per block, shared by all stakers.
            #[serde(with = "crate::amount")]
            rate_per_block: u128,
            /// First block height that accrues rewards.
            start_height: u64,
            /// Block height at which rewards stop.
            end_height: u64,
            /// Whole reward budget moved into the farm (base units).
            #[serde(with = "crate::amount")]
            funded: u128,
        },
        /// An account added to its stake.
        0x02 => Staked {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The staking account.
            owner: Address,
            /// Amount staked (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The position's stake afterwards.
            #[serde(with = "crate::amount")]
            staked: u128,
            /// The farm's total stake afterwards (base units).
            #[serde(with = "crate::amount")]
            total_staked: u128,
        },
        /// An account took back part of its stake.
        0x03 => Unstaked {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The staking account.
            owner: Address,
            /// Amount taken back (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The position's stake afterwards (base units).
            #[serde(with = "crate::amount")]
            staked: u128,
            /// The farm's total stake afterwards (base units).
            #[serde(with = "crate::amount")]
            total_staked: u128,
        },
        /// Rewards were paid to a staker.
        0x04 => Harvested {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The staking account.
            owner: Address,
            /// Rewards paid (reward base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// A staker took back its whole stake and gave up its unpaid rewards.
        0x05 => EmergencyWithdrawn {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The staking account.
            owner: Address,
            /// Whole stake paid back (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Unpaid rewards given up (reward base units).
            #[serde(with = "crate::amount")]
            forfeited: u128,
        },
        /// The creator took back unemitted and forfeited rewards.
        0x06 => Reclaimed {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The account that created and funded the farm.
            creator: Address,
            /// Reward base units paid back to the creator.
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// The accumulator could not grow further without overflowing u128
        /// (a huge rate over a tiny stake): emission stopped at `at_height`; the
        /// rest of the budget is reclaimable by the creator.
        0x07 => EmissionClosed {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// Height at which emission stopped.
            at_height: u64,
        },
    }
}

crate::tagged_enum! {
    /// Why a `farm` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum FarmError {
        /// The amount is zero.
        #[error("amount must be positive")]
        0x01 => ZeroAmount {},
        /// The reward rate is zero.
        #[error("reward rate must be positive")]
        0x02 => ZeroRate {},
        /// The end block is not after the start block.
        #[error("end block {end_height} must be after start block {start_height}")]
        0x03 => BadSchedule {
            /// First block height that accrues rewards.
            start_height: u64,
            /// Block height at which rewards stop.
            end_height: u64,
        },
        /// The start block is below the current height.
        #[error("start block {start_height} is before the current height {height}")]
        0x04 => StartInPast {
            /// First block height that accrues rewards.
            start_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The reward budget does not fit in u128.
        #[error("budget of {rate_per_block} per block over {blocks} blocks exceeds u128")]
        0x05 => BudgetOverflow {
            /// Reward base units emitted per block, shared by all stakers.
            #[serde(with = "crate::amount")]
            rate_per_block: u128,
            /// Length of the schedule (blocks).
            blocks: u64,
        },
        /// A farm with this id already exists.
        #[error("farm {farm} already exists")]
        0x06 => FarmExists {
            /// The farm's id ([`farm_id`]).
            farm: u64,
        },
        /// No farm has this id.
        #[error("no farm {farm}")]
        0x07 => UnknownFarm {
            /// The farm's id ([`farm_id`]).
            farm: u64,
        },
        /// The transaction named an asset the farm does not use.
        #[error("farm {farm} uses asset {expected}, the transaction named {got}")]
        0x08 => WrongAsset {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The farm's asset.
            expected: AssetId,
            /// The asset the transaction named.
            got: AssetId,
        },
        /// Staking after the farm's end block.
        #[error("farm {farm} ended at block {end_height} (now {height}): staking is closed")]
        0x09 => FarmEnded {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The farm's end block.
            end_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The account has no stake in the farm.
        #[error("{owner} has no stake in farm {farm}")]
        0x0a => NoPosition {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The staking account.
            owner: Address,
        },
        /// Unstaking more than is staked.
        #[error("cannot unstake {requested} from farm {farm}: only {staked} is staked")]
        0x0b => InsufficientStake {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// Amount to unstake (base units).
            #[serde(with = "crate::amount")]
            requested: u128,
            /// The position's stake (base units).
            #[serde(with = "crate::amount")]
            staked: u128,
        },
        /// The position has no rewards to pay.
        #[error("nothing to harvest from farm {farm}")]
        0x0c => NothingToHarvest {
            /// The farm's id ([`farm_id`]).
            farm: u64,
        },
        /// A reclaim by someone other than the farm's creator.
        #[error("only farm {farm}'s creator {creator} may reclaim its rewards")]
        0x0d => NotCreator {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The account that created and funded the farm.
            creator: Address,
        },
        /// Reclaiming before the farm's end block.
        #[error("farm {farm} runs until block {end_height} (now {height})")]
        0x0e => NotEnded {
            /// The farm's id ([`farm_id`]).
            farm: u64,
            /// The farm's end block.
            end_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The farm has nothing left to reclaim.
        #[error("nothing to reclaim from farm {farm}")]
        0x0f => NothingToReclaim {
            /// The farm's id ([`farm_id`]).
            farm: u64,
        },
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &FarmAction) -> u64 {
    match action {
        // Farm, sender's balance, custody balance (plus the account).
        FarmAction::Create { .. } => 4,
        // Farm, position, two balances.
        FarmAction::Stake { .. }
        | FarmAction::Unstake { .. }
        | FarmAction::Harvest { .. }
        | FarmAction::EmergencyWithdraw { .. } => 4,
        FarmAction::Reclaim { .. } => 3,
    }
}

/// The reward budget of a schedule: `rate_per_block * (end_height -
/// start_height)`, checked.
pub fn budget(rate_per_block: u128, start_height: u64, end_height: u64) -> Result<u128, FarmError> {
    if rate_per_block == 0 {
        return Err(FarmError::ZeroRate {});
    }
    if end_height <= start_height {
        return Err(FarmError::BadSchedule {
            start_height,
            end_height,
        });
    }
    let blocks = end_height - start_height;
    rate_per_block
        .checked_mul(blocks as u128)
        .ok_or(FarmError::BudgetOverflow {
            rate_per_block,
            blocks,
        })
}

/// Checks that hold regardless of state (zero amounts, bad schedules);
/// ingest refuses an action that fails them with this reason.
pub fn check(action: &FarmAction) -> Result<(), String> {
    check_typed(action).map_err(|e| e.to_string())
}

/// [`check`] with the typed reason (execution repeats these checks).
pub fn check_typed(action: &FarmAction) -> Result<(), FarmError> {
    match action {
        FarmAction::Create {
            rate_per_block,
            start_height,
            end_height,
            ..
        } => budget(*rate_per_block, *start_height, *end_height).map(|_| ()),
        FarmAction::Stake { amount, .. } | FarmAction::Unstake { amount, .. } => {
            if *amount == 0 {
                return Err(FarmError::ZeroAmount {});
            }
            Ok(())
        }
        FarmAction::Harvest { .. }
        | FarmAction::EmergencyWithdraw { .. }
        | FarmAction::Reclaim { .. } => Ok(()),
    }
}

/// The id of the farm created by `creator`'s transaction with `nonce`.
pub fn farm_id(creator: &Address, nonce: u64) -> u64 {
    use commonware_cryptography::{Hasher, Sha256};
    let digest = Sha256::hash(&[b"lakh/farm-id", creator.as_bytes(), &nonce.to_be_bytes()]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    #[test]
    fn actions_round_trip_in_binary_and_json() {
        for a in [
            FarmAction::Create {
                stake_asset: AssetId(1),
                reward_asset: AssetId(2),
                rate_per_block: u128::MAX,
                start_height: 3,
                end_height: u64::MAX,
            },
            FarmAction::Stake {
                farm: u64::MAX,
                stake_asset: AssetId(1),
                amount: 9,
            },
            FarmAction::Unstake {
                farm: 1,
                stake_asset: AssetId(1),
                amount: 9,
            },
            FarmAction::Harvest {
                farm: 1,
                reward_asset: AssetId(2),
            },
            FarmAction::EmergencyWithdraw {
                farm: 1,
                stake_asset: AssetId(1),
            },
            FarmAction::Reclaim {
                farm: 1,
                reward_asset: AssetId(2),
            },
        ] {
            let bytes = a.encode();
            assert_eq!(FarmAction::decode_cfg(bytes, &()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<FarmAction>(&json).unwrap(), a);
        }
    }

    #[test]
    fn schedules_and_amounts_are_checked() {
        let create = |rate, start, end| FarmAction::Create {
            stake_asset: AssetId(1),
            reward_asset: AssetId(2),
            rate_per_block: rate,
            start_height: start,
            end_height: end,
        };
        assert_eq!(check_typed(&create(0, 1, 2)), Err(FarmError::ZeroRate {}));
        assert_eq!(
            check_typed(&create(1, 5, 5)),
            Err(FarmError::BadSchedule {
                start_height: 5,
                end_height: 5
            })
        );
        assert!(check_typed(&create(1, 6, 5)).is_err());
        assert_eq!(
            check_typed(&create(u128::MAX, 0, 2)),
            Err(FarmError::BudgetOverflow {
                rate_per_block: u128::MAX,
                blocks: 2
            })
        );
        assert!(check_typed(&create(u128::MAX, 0, 1)).is_ok());
        assert_eq!(budget(7, 10, 13), Ok(21));
        let stake = FarmAction::Stake {
            farm: 1,
            stake_asset: AssetId(1),
            amount: 0,
        };
        assert_eq!(check_typed(&stake), Err(FarmError::ZeroAmount {}));
        assert!(check(&stake).unwrap_err().contains("positive"));
    }

    #[test]
    fn farm_ids_depend_on_creator_and_nonce() {
        let (a, b) = (Address([1; 32]), Address([2; 32]));
        assert_ne!(farm_id(&a, 0), farm_id(&a, 1));
        assert_ne!(farm_id(&a, 0), farm_id(&b, 0));
        assert_eq!(farm_id(&a, 4), farm_id(&a, 4));
    }
}
