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
            stake_asset: AssetId,
            reward_asset: AssetId,
            #[serde(with = "crate::amount")]
            rate_per_block: u128,
            start_height: u64,
            end_height: u64,
        },
        /// Stake `amount` of the farm's stake asset (before the end block).
        0x02 => Stake {
            farm: u64,
            stake_asset: AssetId,
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Take back `amount` of the sender's stake; its rewards so far stay
        /// owed until harvested.
        0x03 => Unstake {
            farm: u64,
            stake_asset: AssetId,
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Pay the sender its rewards so far.
        0x04 => Harvest { farm: u64, reward_asset: AssetId },
        /// Take back the sender's whole stake and give up its unpaid rewards,
        /// which stay in the farm (the creator may reclaim them after the end).
        0x05 => EmergencyWithdraw { farm: u64, stake_asset: AssetId },
        /// Creator only, from the end block: take back the budget that was
        /// never emitted (blocks with nothing staked) and forfeited rewards.
        0x06 => Reclaim { farm: u64, reward_asset: AssetId },
    }
}

crate::tagged_enum! {
    /// Something a `farm` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum FarmEvent {
        0x01 => Created {
            farm: u64,
            creator: Address,
            stake_asset: AssetId,
            reward_asset: AssetId,
            #[serde(with = "crate::amount")]
            rate_per_block: u128,
            start_height: u64,
            end_height: u64,
            #[serde(with = "crate::amount")]
            funded: u128,
        },
        0x02 => Staked {
            farm: u64,
            owner: Address,
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The position's stake afterwards.
            #[serde(with = "crate::amount")]
            staked: u128,
            #[serde(with = "crate::amount")]
            total_staked: u128,
        },
        0x03 => Unstaked {
            farm: u64,
            owner: Address,
            #[serde(with = "crate::amount")]
            amount: u128,
            #[serde(with = "crate::amount")]
            staked: u128,
            #[serde(with = "crate::amount")]
            total_staked: u128,
        },
        0x04 => Harvested {
            farm: u64,
            owner: Address,
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        0x05 => EmergencyWithdrawn {
            farm: u64,
            owner: Address,
            #[serde(with = "crate::amount")]
            amount: u128,
            #[serde(with = "crate::amount")]
            forfeited: u128,
        },
        0x06 => Reclaimed {
            farm: u64,
            creator: Address,
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// The accumulator could not grow further without overflowing u128
        /// (a huge rate over a tiny stake): emission stopped at `at_height`; the
        /// rest of the budget is reclaimable by the creator.
        0x07 => EmissionClosed { farm: u64, at_height: u64 },
    }
}

crate::tagged_enum! {
    /// Why a `farm` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum FarmError {
        #[error("amount must be positive")]
        0x01 => ZeroAmount {},
        #[error("reward rate must be positive")]
        0x02 => ZeroRate {},
        #[error("end block {end_height} must be after start block {start_height}")]
        0x03 => BadSchedule { start_height: u64, end_height: u64 },
        #[error("start block {start_height} is before the current height {height}")]
        0x04 => StartInPast { start_height: u64, height: u64 },
        #[error("budget of {rate_per_block} per block over {blocks} blocks exceeds u128")]
        0x05 => BudgetOverflow {
            #[serde(with = "crate::amount")]
            rate_per_block: u128,
            blocks: u64,
        },
        #[error("farm {farm} already exists")]
        0x06 => FarmExists { farm: u64 },
        #[error("no farm {farm}")]
        0x07 => UnknownFarm { farm: u64 },
        #[error("farm {farm} uses asset {expected}, the transaction named {got}")]
        0x08 => WrongAsset { farm: u64, expected: AssetId, got: AssetId },
        #[error("farm {farm} ended at block {end_height} (now {height}): staking is closed")]
        0x09 => FarmEnded { farm: u64, end_height: u64, height: u64 },
        #[error("{owner} has no stake in farm {farm}")]
        0x0a => NoPosition { farm: u64, owner: Address },
        #[error("cannot unstake {requested} from farm {farm}: only {staked} is staked")]
        0x0b => InsufficientStake {
            farm: u64,
            #[serde(with = "crate::amount")]
            requested: u128,
            #[serde(with = "crate::amount")]
            staked: u128,
        },
        #[error("nothing to harvest from farm {farm}")]
        0x0c => NothingToHarvest { farm: u64 },
        #[error("only farm {farm}'s creator {creator} may reclaim its rewards")]
        0x0d => NotCreator { farm: u64, creator: Address },
        #[error("farm {farm} runs until block {end_height} (now {height})")]
        0x0e => NotEnded { farm: u64, end_height: u64, height: u64 },
        #[error("nothing to reclaim from farm {farm}")]
        0x0f => NothingToReclaim { farm: u64 },
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
