//! The staking module's objects, their keys and custody addresses.

use crate::modules::kit::object_key;
use lakh_state::{StateKey, object_kind};
use lakh_types::{
    Address,
    codec::BoundedVec,
    modules::stake::{
        DEFAULT_COMMISSION_BPS, DEFAULT_MAX_COMMISSION_BPS, DEFAULT_MAX_COMMISSION_CHANGE_BPS,
        DEFAULT_UNBONDING_BLOCKS, MAX_UNBONDING_ENTRIES, MAX_VALIDATORS, delegation_id,
    },
};
use serde::Serialize;

/// Object kinds of the module (range `object_kind::STAKE`).
pub mod kind {
    use super::object_kind;
    /// [`super::StakeParams`], id empty.
    pub const PARAMS: u8 = object_kind::STAKE.start;
    /// [`super::Validator`], id = the validator's address.
    pub const VALIDATOR: u8 = object_kind::STAKE.start + 1;
    /// [`super::Delegation`], id = `delegation_id(validator, delegator)`.
    pub const DELEGATION: u8 = object_kind::STAKE.start + 2;
    /// [`super::ValidatorRegistry`], id empty.
    pub const REGISTRY: u8 = object_kind::STAKE.start + 3;
}

lakh_types::codec_struct! {
    /// Module parameters (defaults while absent), set by the chain admin.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct StakeParams {
        /// Blocks between an undelegation and its withdrawal; also the
        /// shortest time between two commission changes of a validator.
        pub unbonding_blocks: u64,
        /// Highest commission a validator may set.
        pub max_commission_bps: u16,
        /// Largest commission change per step.
        pub max_commission_change_bps: u16,
    }
}

impl Default for StakeParams {
    fn default() -> Self {
        StakeParams {
            unbonding_blocks: DEFAULT_UNBONDING_BLOCKS,
            max_commission_bps: DEFAULT_MAX_COMMISSION_BPS,
            max_commission_change_bps: DEFAULT_MAX_COMMISSION_CHANGE_BPS,
        }
    }
}

lakh_types::codec_struct! {
    /// A validator's staking record and reward pool.
    ///
    /// Its custody account ([`custody`]) holds exactly
    /// `total_delegated + total_unbonding + reward_balance` native base units
    /// (more only if someone sends it native directly).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct Validator {
        pub address: Address,
        /// Share of the fees of this validator's blocks that it keeps.
        pub commission_bps: u16,
        /// Height of the last commission change (none since genesis).
        pub commission_changed_height: Option<u64>,
        /// Active (earning) delegations.
        #[serde(with = "lakh_types::amount")]
        pub total_delegated: u128,
        /// Undelegated, waiting for maturity or withdrawal.
        #[serde(with = "lakh_types::amount")]
        pub total_unbonding: u128,
        /// Rewards per delegated base unit, scaled by 1e18, since genesis.
        #[serde(with = "lakh_types::amount")]
        pub reward_per_token: u128,
        /// Delegator rewards held in custody, not yet claimed (includes
        /// `reward_dust`).
        #[serde(with = "lakh_types::amount")]
        pub reward_balance: u128,
        /// Rewards not yet assigned through `reward_per_token` (rounding
        /// remainders), added to the next block's distribution.
        #[serde(with = "lakh_types::amount")]
        pub reward_dust: u128,
        /// Delegation records (active, unbonding or with rewards).
        pub delegations: u64,
        /// Fees ever given to this validator's delegators.
        #[serde(with = "lakh_types::amount")]
        pub rewards_distributed: u128,
        /// Commission ever paid to the validator.
        #[serde(with = "lakh_types::amount")]
        pub commission_earned: u128,
    }
}

impl Validator {
    pub fn new(address: Address) -> Validator {
        Validator {
            address,
            commission_bps: DEFAULT_COMMISSION_BPS,
            commission_changed_height: None,
            total_delegated: 0,
            total_unbonding: 0,
            reward_per_token: 0,
            reward_balance: 0,
            reward_dust: 0,
            delegations: 0,
            rewards_distributed: 0,
            commission_earned: 0,
        }
    }
}

lakh_types::codec_struct! {
    /// Funds on their way out of a delegation.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct Unbonding {
        #[serde(with = "lakh_types::amount")]
        pub amount: u128,
        /// First height at which `withdraw` pays it.
        pub mature_height: u64,
    }
}

lakh_types::codec_struct! {
    /// One delegator's stake with one validator. Removed once empty.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct Delegation {
        pub validator: Address,
        pub delegator: Address,
        /// Active (earning) amount.
        #[serde(with = "lakh_types::amount")]
        pub amount: u128,
        /// The validator's `reward_per_token` when rewards were last settled.
        #[serde(with = "lakh_types::amount")]
        pub reward_per_token_paid: u128,
        /// Rewards settled and not yet claimed.
        #[serde(with = "lakh_types::amount")]
        pub rewards_owed: u128,
        /// Pending unbonding entries, by maturity.
        pub unbonding: BoundedVec<Unbonding, MAX_UNBONDING_ENTRIES>,
    }
}

impl Delegation {
    pub fn new(validator: Address, delegator: Address, reward_per_token: u128) -> Delegation {
        Delegation {
            validator,
            delegator,
            amount: 0,
            reward_per_token_paid: reward_per_token,
            rewards_owed: 0,
            unbonding: BoundedVec::empty(),
        }
    }

    /// Nothing active, unbonding or owed: the record can go.
    pub fn is_empty(&self) -> bool {
        self.amount == 0 && self.rewards_owed == 0 && self.unbonding.is_empty()
    }

    /// Sum of the unbonding entries (bounded by the validator's total).
    pub fn unbonding_total(&self) -> Option<u128> {
        self.unbonding
            .iter()
            .try_fold(0u128, |sum, e| sum.checked_add(e.amount))
    }
}

lakh_types::codec_struct! {
    /// The validators open to delegation, written at genesis.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Default)]
    pub struct ValidatorRegistry {
        pub validators: BoundedVec<Address, MAX_VALIDATORS>,
    }
}

pub fn params_key() -> StateKey {
    object_key(kind::PARAMS, &[])
}

pub fn validator_key(validator: &Address) -> StateKey {
    object_key(kind::VALIDATOR, &[validator.as_bytes()])
}

pub fn delegation_key(validator: &Address, delegator: &Address) -> StateKey {
    object_key(kind::DELEGATION, &[&delegation_id(validator, delegator)])
}

pub fn registry_key() -> StateKey {
    object_key(kind::REGISTRY, &[])
}

/// The account holding a validator's delegations, unbonding funds and
/// undistributed delegator rewards.
pub fn custody(validator: &Address) -> Address {
    Address::module("stake", validator.as_bytes())
}
