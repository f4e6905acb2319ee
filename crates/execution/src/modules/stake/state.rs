//! The staking module's objects, their keys and custody addresses.

use crate::modules::kit::object_key;
use lakh_state::{StateKey, object_kind};
use lakh_types::{
    Address,
    codec::BoundedVec,
    committee::{ConsensusKeyBytes, SlashingParams, StakingParams},
    modules::stake::{
        DEFAULT_COMMISSION_BPS, DEFAULT_MAX_COMMISSION_BPS, DEFAULT_MAX_COMMISSION_CHANGE_BPS,
        DEFAULT_UNBONDING_BLOCKS, MAX_UNBONDING_ENTRIES, MAX_VALIDATORS_PER_BUCKET,
        REGISTRY_BUCKETS, REWARD_PRECISION, delegation_id,
    },
};
use serde::Serialize;
use std::net::SocketAddr;

/// Object kinds of the module (range `object_kind::STAKE`).
pub mod kind {
    use super::object_kind;
    /// [`super::StakeParams`], id empty.
    pub const PARAMS: u8 = object_kind::STAKE.start;
    /// [`super::Validator`], id = the validator's address.
    pub const VALIDATOR: u8 = object_kind::STAKE.start + 1;
    /// [`super::Delegation`], id = `delegation_id(validator, delegator)`.
    pub const DELEGATION: u8 = object_kind::STAKE.start + 2;
    /// [`super::ValidatorRegistry`] bucket, id = the bucket number (1 byte).
    pub const REGISTRY: u8 = object_kind::STAKE.start + 3;
    /// The validator using a consensus key: its [`lakh_types::Address`],
    /// id = the 48 key bytes.
    pub const CONSENSUS_KEY: u8 = object_kind::STAKE.start + 4;
    /// [`lakh_types::committee::Committee`] of an epoch, id = the epoch (8 bytes big-endian).
    pub const COMMITTEE: u8 = object_kind::STAKE.start + 5;
    /// The genesis [`lakh_types::committee::StakingParams`], id empty (for queries;
    /// execution takes them from its `BlockEnv`).
    pub const STAKING: u8 = object_kind::STAKE.start + 6;
    /// [`super::RewardedRound`], id empty: the last finalization whose
    /// signers were paid.
    pub const REWARDED_ROUND: u8 = object_kind::STAKE.start + 7;
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
        /// BLS consensus key (checked with its proof of possession at registration).
        pub consensus_key: ConsensusKeyBytes,
        /// Where peers reach it.
        pub p2p_address: SocketAddr,
        /// Its own active delegation to itself (part of `total_delegated`).
        #[serde(with = "lakh_types::amount")]
        pub self_bond: u128,
        /// Excluded from elections: jailed for downtime (until `unjail`) or
        /// tombstoned.
        pub jailed: bool,
        /// First height at which `unjail` is accepted (0: never jailed).
        pub jailed_until_height: u64,
        /// Signed conflicting votes: jailed for good, never punished again.
        pub tombstoned: bool,
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
        /// Finalizations carried in blocks that it signed while in the
        /// committee.
        pub signed_rounds: u64,
        /// Finalizations carried in blocks of its committee that it did
        /// not sign.
        pub missed_rounds: u64,
        /// Rounds counted in the current downtime window.
        pub window_rounds: u64,
        /// Rounds of the current window it did not sign.
        pub window_missed: u64,
        /// What one base unit delegated before any slash is worth now,
        /// scaled by 1e18: each slash multiplies it by the share kept, so a
        /// delegation's amount follows without visiting delegations.
        #[serde(with = "lakh_types::amount")]
        pub stake_factor: u128,
        /// Native base units ever burned from its stake.
        #[serde(with = "lakh_types::amount")]
        pub total_slashed: u128,
        /// Every slash, oldest first (unbonding entries apply them lazily).
        pub slashes: BoundedVec<SlashRecord, MAX_SLASHES>,
        /// Unbonding started in the current and the previous epoch: the
        /// stake a fault of those epochs can still reach.
        pub recent_unbonding: BoundedVec<UnbondingBucket, 2>,
    }
}

/// Most slashes of one validator: a double sign tombstones it, and the
/// downtime slash that fills the list does too, so state stays bounded.
pub const MAX_SLASHES: usize = 8;

lakh_types::codec_struct! {
    /// One slash of the unbonding stake of some epochs: entries started in
    /// epoch `epochs_from` or later and still unbonding keep
    /// `kept / before` of their amount (rounded down).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct SlashRecord {
        pub height: u64,
        pub epochs_from: u64,
        /// Unbonding of each affected epoch before and after the slash.
        pub buckets: BoundedVec<BucketSlash, 2>,
    }
}

lakh_types::codec_struct! {
    /// What one epoch's unbonding stake was before and after a slash.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct BucketSlash {
        pub epoch: u64,
        #[serde(with = "lakh_types::amount")]
        pub before: u128,
        #[serde(with = "lakh_types::amount")]
        pub kept: u128,
    }
}

lakh_types::codec_struct! {
    /// Unbonding started in one epoch, less what slashes took.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct UnbondingBucket {
        pub epoch: u64,
        #[serde(with = "lakh_types::amount")]
        pub amount: u128,
    }
}

impl Validator {
    pub fn new(
        address: Address,
        consensus_key: ConsensusKeyBytes,
        p2p_address: SocketAddr,
    ) -> Validator {
        Validator {
            address,
            consensus_key,
            p2p_address,
            self_bond: 0,
            jailed: false,
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
            signed_rounds: 0,
            missed_rounds: 0,
            jailed_until_height: 0,
            tombstoned: false,
            window_rounds: 0,
            window_missed: 0,
            stake_factor: REWARD_PRECISION,
            total_slashed: 0,
            slashes: BoundedVec::empty(),
            recent_unbonding: BoundedVec::empty(),
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
        /// The epoch it started in (slashes of faults from that epoch on
        /// reach it).
        pub start_epoch: u64,
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
        /// First height at which it may be redelegated elsewhere (0: any):
        /// an unbonding period after it last received a redelegation.
        pub redelegate_allowed_height: u64,
        /// The validator's `stake_factor` when `amount` was last settled.
        #[serde(with = "lakh_types::amount")]
        pub stake_factor_paid: u128,
        /// How many of the validator's slashes its unbonding entries took.
        pub slashes_seen: u32,
    }
}

impl Delegation {
    /// An empty delegation to `v`, settled up to now.
    pub fn new(v: &Validator, delegator: Address) -> Delegation {
        Delegation {
            validator: v.address,
            delegator,
            amount: 0,
            reward_per_token_paid: v.reward_per_token,
            rewards_owed: 0,
            unbonding: BoundedVec::empty(),
            redelegate_allowed_height: 0,
            stake_factor_paid: v.stake_factor,
            slashes_seen: v.slashes.len() as u32,
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
    /// What the election reads of a validator: a copy of fields of its
    /// [`Validator`] record, rewritten whenever one of them changes.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct Candidate {
        pub identity: Address,
        pub consensus_key: ConsensusKeyBytes,
        pub p2p_address: SocketAddr,
        #[serde(with = "lakh_types::amount")]
        pub self_bond: u128,
        /// Bonded stake: `total_delegated` (self-bond included).
        #[serde(with = "lakh_types::amount")]
        pub stake: u128,
        /// Jailed or tombstoned: not elected.
        pub jailed: bool,
    }
}

impl Candidate {
    pub fn of(v: &Validator) -> Candidate {
        Candidate {
            identity: v.address,
            consensus_key: v.consensus_key,
            p2p_address: v.p2p_address,
            self_bond: v.self_bond,
            stake: v.total_delegated,
            jailed: v.jailed,
        }
    }
}

lakh_types::codec_struct! {
    /// One bucket of the registry ([`registry_key`]): the [`Candidate`]
    /// entries of the registered validators whose address falls in it,
    /// ascending by identity. Buckets are fixed keys, so the election at an
    /// epoch boundary reads them without knowing the validators in advance.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct ValidatorRegistry {
        pub validators: BoundedVec<Candidate, MAX_VALIDATORS_PER_BUCKET>,
    }
}

impl Default for ValidatorRegistry {
    fn default() -> Self {
        ValidatorRegistry {
            validators: BoundedVec::empty(),
        }
    }
}

impl ValidatorRegistry {
    /// Position of `identity`'s entry, or where it would go.
    pub fn find(&self, identity: &Address) -> Result<usize, usize> {
        self.validators
            .binary_search_by(|c| c.identity.cmp(identity))
    }

    pub fn contains(&self, identity: &Address) -> bool {
        self.find(identity).is_ok()
    }

    /// Inserts or replaces `entry`; false (nothing changed) when a new
    /// entry does not fit.
    #[must_use]
    pub fn upsert(&mut self, entry: Candidate) -> bool {
        match self.find(&entry.identity) {
            Ok(i) => {
                if let Some(slot) = self.validators.as_mut_vec_within_bound().get_mut(i) {
                    *slot = entry;
                }
                true
            }
            Err(i) => self
                .validators
                .as_mut_vec_within_bound()
                .insert(i, entry)
                .is_ok(),
        }
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

/// The registry bucket of `validator`.
pub fn registry_bucket(validator: &Address) -> u8 {
    // REGISTRY_BUCKETS divides 256: the remainder fits a byte.
    (usize::from(validator.0[0]) % REGISTRY_BUCKETS) as u8
}

/// The key of registry bucket `bucket`.
pub fn registry_key(bucket: u8) -> StateKey {
    object_key(kind::REGISTRY, &[&[bucket]])
}

/// The key of `validator`'s registry bucket.
pub fn registry_key_of(validator: &Address) -> StateKey {
    registry_key(registry_bucket(validator))
}

/// Every registry bucket's key, in bucket order.
pub fn registry_keys() -> impl Iterator<Item = StateKey> {
    (0..REGISTRY_BUCKETS).map(|b| registry_key(b as u8))
}

pub fn consensus_key_index(key: &ConsensusKeyBytes) -> StateKey {
    object_key(kind::CONSENSUS_KEY, &[&key.0])
}

/// The committee of `epoch` (kept for the current and the previous epoch
/// and, once elected, the next; see [`super::COMMITTEES_KEPT`]).
pub fn committee_key(epoch: u64) -> StateKey {
    object_key(kind::COMMITTEE, &[&epoch.to_be_bytes()])
}

/// The last finalization round whose signers were paid ([`RewardedRound`]).
pub fn rewarded_round_key() -> StateKey {
    object_key(kind::REWARDED_ROUND, &[])
}

lakh_types::codec_struct! {
    /// The round (epoch, view) of the last finalization certificate a block
    /// carried: a later block's certificates must be of later rounds, so no
    /// finalization is paid twice.
    #[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
    pub struct RewardedRound {
        pub epoch: u64,
        pub view: u64,
    }
}

/// The account where a block's fees wait until a finalization's signers
/// are paid from it.
pub fn fee_pot() -> Address {
    Address::module("stake", b"fee-pot")
}

pub fn staking_key() -> StateKey {
    object_key(kind::STAKING, &[])
}

lakh_types::codec_struct! {
    /// The genesis staking parameters as stored for queries.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize)]
    pub struct StoredStakingParams {
        pub epoch_blocks: u64,
        pub committee_size: u32,
        pub min_self_bond: u128,
        pub double_sign_slash_bps: u16,
        pub downtime_slash_bps: u16,
        pub signed_window_rounds: u64,
        pub min_signed_bps: u16,
        pub jail_blocks: u64,
    }
}

impl StoredStakingParams {
    pub fn of(p: &StakingParams) -> Self {
        StoredStakingParams {
            epoch_blocks: p.epoch_blocks,
            committee_size: u32::try_from(p.committee_size).unwrap_or(u32::MAX),
            min_self_bond: p.min_self_bond,
            double_sign_slash_bps: p.slashing.double_sign_slash_bps,
            downtime_slash_bps: p.slashing.downtime_slash_bps,
            signed_window_rounds: p.slashing.signed_window_rounds,
            min_signed_bps: p.slashing.min_signed_bps,
            jail_blocks: p.slashing.jail_blocks,
        }
    }

    pub fn params(&self) -> StakingParams {
        StakingParams {
            epoch_blocks: self.epoch_blocks,
            committee_size: self.committee_size as usize,
            min_self_bond: self.min_self_bond,
            slashing: SlashingParams {
                double_sign_slash_bps: self.double_sign_slash_bps,
                downtime_slash_bps: self.downtime_slash_bps,
                signed_window_rounds: self.signed_window_rounds,
                min_signed_bps: self.min_signed_bps,
                jail_blocks: self.jail_blocks,
            },
        }
    }
}

/// The account holding a validator's delegations, unbonding funds and
/// undistributed delegator rewards.
pub fn custody(validator: &Address) -> Address {
    Address::module("stake", validator.as_bytes())
}
