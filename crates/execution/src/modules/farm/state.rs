//! The farm module's objects, their keys and custody addresses.

use crate::modules::kit::object_key;
use lakh_state::{StateKey, object_kind};
use lakh_types::{Address, AssetId};
use serde::Serialize;

/// Object kinds of the module (range `object_kind::FARM`).
pub mod kind {
    use super::object_kind;
    /// [`super::Farm`], id = the farm id (8 bytes, big-endian).
    pub const FARM: u8 = object_kind::FARM.start;
    /// [`super::Position`], id = farm id (8 bytes) ++ owner (32 bytes).
    pub const POSITION: u8 = object_kind::FARM.start + 1;
}

lakh_types::codec_struct! {
    /// A farm: its schedule, its totals and its accumulator.
    ///
    /// Custody: the stake custody ([`stake_custody`]) holds exactly
    /// `total_staked` of `stake_asset`; the reward custody
    /// ([`reward_custody`]) holds exactly `funded - paid - reclaimed` of
    /// `reward_asset` (more only if someone sends them assets directly).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct Farm {
        pub id: u64,
        pub creator: Address,
        pub stake_asset: AssetId,
        pub reward_asset: AssetId,
        #[serde(with = "lakh_types::amount")]
        pub rate_per_block: u128,
        pub start_height: u64,
        /// Where emission stops: the scheduled end, or earlier if the
        /// accumulator reached its u128 limit.
        pub end_height: u64,
        pub scheduled_end_height: u64,
        /// `rate_per_block * (scheduled_end_height - start_height)`, moved in at creation.
        #[serde(with = "lakh_types::amount")]
        pub funded: u128,
        #[serde(with = "lakh_types::amount")]
        pub total_staked: u128,
        /// Rewards per staked base unit, scaled by 1e18.
        #[serde(with = "lakh_types::amount")]
        pub reward_per_token: u128,
        /// Height up to which rewards have accrued (within the schedule).
        pub last_update_height: u64,
        /// Rewards given to stakers through the accumulator (blocks with a
        /// stake); the rest of the budget was never emitted.
        #[serde(with = "lakh_types::amount")]
        pub emitted: u128,
        /// Rewards harvested.
        #[serde(with = "lakh_types::amount")]
        pub paid: u128,
        /// Rewards given up by emergency withdrawals.
        #[serde(with = "lakh_types::amount")]
        pub forfeited: u128,
        /// Rewards taken back by the creator.
        #[serde(with = "lakh_types::amount")]
        pub reclaimed: u128,
        /// Open positions.
        pub positions: u64,
    }
}

impl Farm {
    /// Rewards still held for the farm: `funded - paid - reclaimed`.
    pub fn reward_reserve(&self) -> Option<u128> {
        self.funded
            .checked_sub(self.paid)?
            .checked_sub(self.reclaimed)
    }

    /// What the creator may take back now (once the farm has ended): the
    /// budget never emitted plus forfeited rewards, less what it took before.
    pub fn reclaimable(&self) -> Option<u128> {
        self.funded
            .checked_sub(self.emitted)?
            .checked_add(self.forfeited)?
            .checked_sub(self.reclaimed)
    }
}

lakh_types::codec_struct! {
    /// One account's stake in one farm. Removed once empty.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct Position {
        pub farm: u64,
        pub owner: Address,
        #[serde(with = "lakh_types::amount")]
        pub staked: u128,
        /// The farm's `reward_per_token` when rewards were last settled.
        #[serde(with = "lakh_types::amount")]
        pub reward_per_token_paid: u128,
        /// Rewards settled and not yet harvested.
        #[serde(with = "lakh_types::amount")]
        pub owed: u128,
    }
}

impl Position {
    pub fn new(farm: u64, owner: Address, reward_per_token: u128) -> Position {
        Position {
            farm,
            owner,
            staked: 0,
            reward_per_token_paid: reward_per_token,
            owed: 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.staked == 0 && self.owed == 0
    }
}

pub fn farm_key(farm: u64) -> StateKey {
    object_key(kind::FARM, &[&farm.to_be_bytes()])
}

pub fn position_key(farm: u64, owner: &Address) -> StateKey {
    object_key(kind::POSITION, &[&farm.to_be_bytes(), owner.as_bytes()])
}

/// The account holding a farm's staked asset.
pub fn stake_custody(farm: u64) -> Address {
    Address::module("farm", &custody_id(farm, b"stake"))
}

/// The account holding a farm's reward budget.
pub fn reward_custody(farm: u64) -> Address {
    Address::module("farm", &custody_id(farm, b"reward"))
}

fn custody_id(farm: u64, role: &[u8]) -> Vec<u8> {
    let mut id = farm.to_be_bytes().to_vec();
    id.push(b'/');
    id.extend_from_slice(role);
    id
}
