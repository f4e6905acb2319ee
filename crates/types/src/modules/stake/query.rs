//! Typed answers of the staking module's queries.

use crate::Address;
use crate::committee::ConsensusKeyBytes;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// Answer to `stake params {}`: the module parameters in force.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamsAnswer {
    /// Blocks between an undelegation and its withdrawal; also the shortest
    /// time between two commission changes of a validator.
    pub unbonding_blocks: u64,
    /// Highest commission a validator may set.
    pub max_commission_bps: u16,
    /// Largest commission change per step.
    pub max_commission_change_bps: u16,
}

/// Answer to `stake validators {}`: every registered validator.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorsAnswer {
    /// Height of the state read.
    pub height: u64,
    /// The epoch of that height.
    pub epoch: u64,
    /// The validators, ascending by address.
    pub validators: Vec<ValidatorSummary>,
}

/// A validator's standing under slashing (flattened into the validator
/// answers).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlashingStatus {
    /// Signed conflicting votes: jailed for good, never elected again.
    pub tombstoned: bool,
    /// While jailed: the first height at which `unjail` is accepted
    /// (`u64::MAX` once tombstoned).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jailed_until_height: Option<u64>,
    /// Native base units ever burned from its stake by slashing.
    #[serde(with = "crate::amount")]
    pub total_slashed: u128,
    /// Rounds counted in its current downtime window.
    pub window_rounds: u64,
    /// Rounds of the current window it did not sign.
    pub window_missed: u64,
}

/// One validator's totals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorSummary {
    /// The validator's account (its ed25519 identity).
    pub address: Address,
    /// Its BLS consensus key.
    pub consensus_key: ConsensusKeyBytes,
    /// Where peers reach it.
    pub p2p_address: SocketAddr,
    /// Share of its blocks' fees it keeps.
    pub commission_bps: u16,
    /// Bonded stake the election ranks by: its self-bond plus every other
    /// active delegation (native base units).
    #[serde(with = "crate::amount")]
    pub stake: u128,
    /// Its own delegation to itself (native base units).
    #[serde(with = "crate::amount")]
    pub self_bond: u128,
    /// Excluded from elections (set by slashing).
    pub jailed: bool,
    /// Member of the committee of the current epoch.
    pub in_committee: bool,
    /// Active (earning) delegations including the self-bond, in native base units.
    #[serde(with = "crate::amount")]
    pub total_delegated: u128,
    /// Undelegated, waiting for maturity or withdrawal.
    #[serde(with = "crate::amount")]
    pub total_unbonding: u128,
    /// Delegation records (active, unbonding or with rewards).
    pub delegations: u64,
    /// Finalizations carried in blocks that it signed as a committee member.
    pub signed_rounds: u64,
    /// Finalizations carried in blocks of its committee that it missed.
    pub missed_rounds: u64,
    /// Tombstone, jail term, slashes and downtime window.
    #[serde(flatten)]
    pub slashing: SlashingStatus,
}

/// Answer to `stake validator {validator}`: its record, custody and when it
/// may next raise its commission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorAnswer {
    /// The validator's account.
    pub address: Address,
    /// Share of its blocks' fees it keeps.
    pub commission_bps: u16,
    /// Height of the last commission change (none since genesis).
    pub commission_changed_height: Option<u64>,
    /// Active (earning) delegations, in native base units.
    #[serde(with = "crate::amount")]
    pub total_delegated: u128,
    /// Undelegated, waiting for maturity or withdrawal.
    #[serde(with = "crate::amount")]
    pub total_unbonding: u128,
    /// Rewards per delegated base unit, scaled by 1e18, since genesis.
    #[serde(with = "crate::amount")]
    pub reward_per_token: u128,
    /// Delegator rewards held in custody, not yet claimed.
    #[serde(with = "crate::amount")]
    pub reward_balance: u128,
    /// Rewards not yet assigned (rounding remainders).
    #[serde(with = "crate::amount")]
    pub reward_dust: u128,
    /// Delegation records (active, unbonding or with rewards).
    pub delegations: u64,
    /// Fees ever given to this validator's delegators.
    #[serde(with = "crate::amount")]
    pub rewards_distributed: u128,
    /// Commission ever paid to the validator.
    #[serde(with = "crate::amount")]
    pub commission_earned: u128,
    /// The account holding its delegations and rewards.
    pub custody: Address,
    /// Native balance of the custody account.
    #[serde(with = "crate::amount")]
    pub custody_balance: u128,
    /// First height at which it may raise its commission (`None`: now).
    pub commission_raise_allowed_height: Option<u64>,
    /// Tombstone, jail term, slashes and downtime window.
    #[serde(flatten)]
    pub slashing: SlashingStatus,
    /// Height of the state read.
    pub height: u64,
}

/// Answer to `stake delegation {validator, delegator}`: one delegation as of
/// the latest finalized block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationAnswer {
    /// The validator delegated to.
    pub validator: Address,
    /// The delegating account.
    pub delegator: Address,
    /// Active (earning) amount, in native base units.
    #[serde(with = "crate::amount")]
    pub amount: u128,
    /// Rewards earned and not yet claimed.
    #[serde(with = "crate::amount")]
    pub pending_rewards: u128,
    /// Undelegated amounts waiting for maturity.
    pub unbonding: Vec<UnbondingAnswer>,
    /// Sum of `unbonding`.
    #[serde(with = "crate::amount")]
    pub unbonding_total: u128,
    /// What a withdrawal in the next block would pay.
    #[serde(with = "crate::amount")]
    pub withdrawable: u128,
    /// Height of the state read.
    pub height: u64,
}

/// One undelegated amount.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnbondingAnswer {
    /// Native base units.
    #[serde(with = "crate::amount")]
    pub amount: u128,
    /// Height from which it may be withdrawn.
    pub mature_height: u64,
    /// Whether a withdrawal in the next block would pay it.
    pub matured: bool,
}

/// Answer to `stake delegations {delegator}`: every delegation of an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegationsAnswer {
    /// The delegating account.
    pub delegator: Address,
    /// Height of the state read.
    pub height: u64,
    /// One per validator delegated to.
    pub delegations: Vec<DelegationAnswer>,
}

/// Answer to `stake epoch {}`: the epoch of the latest finalized block and
/// the staking parameters of the network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochAnswer {
    /// Height of the state read.
    pub height: u64,
    /// Its epoch.
    pub epoch: u64,
    /// Height of the block that elects the next committee.
    pub last_height: u64,
    /// The network's staking parameters.
    pub params: crate::committee::StakingParams,
}
