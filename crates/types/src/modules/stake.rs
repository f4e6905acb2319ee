//! Staking: register as a validator with a BLS consensus key and a
//! self-bond, delegate the native token to a validator, redelegate it,
//! undelegate through an unbonding period, withdraw matured funds, claim a
//! share of the fees of the blocks the validator proposes. At the end of
//! every epoch the top validators by bonded stake become the next
//! committee ([`crate::committee`]).
//!
//! Rewards use a reward-per-token accumulator (Synthetix style): when a
//! validator with delegations proposes a block, its commission share of the
//! block's fees goes to the validator's account and the rest raises the
//! validator's `reward_per_token` by `rest * 1e18 / total_delegated` (floor;
//! the remainder is carried to the next block). A delegation earns
//! `amount * (reward_per_token - reward_per_token_paid) / 1e18` (floor).

use crate::Address;
use crate::committee::{ConsensusKeyBytes, PopBytes};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

pub mod query;

/// Commission and other shares are in basis points of this.
pub const BPS: u16 = 10_000;
/// Scale of the reward-per-token accumulator.
pub const REWARD_PRECISION: u128 = 1_000_000_000_000_000_000;
/// The validator registry is split into this many buckets by the first
/// byte of the validator's address, so changes of stake at validators of
/// different buckets do not conflict in the parallel executor; the
/// election reads every bucket at each epoch boundary.
pub const REGISTRY_BUCKETS: usize = 16;
/// Most validators in one registry bucket (`create_validator` fails once
/// the sender's bucket is full; genesis validators past it are not
/// registered). A bucket stays under ten kilobytes.
pub const MAX_VALIDATORS_PER_BUCKET: usize = 64;
/// Most validators the registry lists.
pub const MAX_VALIDATORS: usize = REGISTRY_BUCKETS * MAX_VALIDATORS_PER_BUCKET;
/// Most pending unbonding entries per delegation (entries maturing at the same
/// height merge).
pub const MAX_UNBONDING_ENTRIES: usize = 8;
/// Longest unbonding period the admin may set (blocks).
pub const MAX_UNBONDING_BLOCKS: u64 = 100_000_000;
/// Unbonding period until the admin sets one (blocks).
pub const DEFAULT_UNBONDING_BLOCKS: u64 = 1_000;
/// Commission of every validator at genesis.
pub const DEFAULT_COMMISSION_BPS: u16 = 1_000;
/// Highest commission a validator may set, until the admin sets another cap.
pub const DEFAULT_MAX_COMMISSION_BPS: u16 = BPS;
/// Largest change of commission per step, until the admin sets another.
pub const DEFAULT_MAX_COMMISSION_CHANGE_BPS: u16 = 500;

crate::tagged_enum! {
    /// A consensus fault that evidence in a block proves: the validator
    /// signed two votes an honest validator never signs together in one
    /// round (view) of simplex.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
    #[serde(tag = "fault", rename_all = "snake_case")]
    pub enum Fault {
        /// Notarize votes for two different proposals (a leader proposing
        /// two blocks shows up as this too).
        0x01 => ConflictingNotarize {},
        /// Finalize votes for two different proposals.
        0x02 => ConflictingFinalize {},
        /// A nullify vote and a finalize vote.
        0x03 => NullifyFinalize {},
    }
}

crate::tagged_enum! {
    /// What a `stake` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum StakeAction {
        /// Move `amount` native base units from the sender into the
        /// validator's custody, delegated to `validator`.
        0x01 => Delegate {
            /// The validator's account.
            validator: Address,
            /// Amount to delegate (native base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Stop `amount` of the sender's delegation from earning; it stays in
        /// custody until `height + unbonding_blocks`, then `withdraw` pays it.
        0x02 => Undelegate {
            /// The validator's account.
            validator: Address,
            /// Amount to stop delegating (native base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Pay the sender every matured unbonding entry of its delegation.
        0x03 => Withdraw {
            /// The validator's account.
            validator: Address,
        },
        /// Pay the sender its rewards from `validator`.
        0x04 => Claim {
            /// The validator's account.
            validator: Address,
        },
        /// Validators only: set the sender's commission (basis points of the
        /// fees of the blocks it proposes), within the cap, by at most the
        /// maximum change, once per unbonding period.
        0x05 => SetCommission {
            /// The validator's commission (bps of its proposed blocks' fees).
            commission_bps: u16,
        },
        /// Admin only: module parameters (future undelegations and commission
        /// changes use them; existing unbonding entries keep their maturity).
        0x06 => SetParams {
            /// Blocks from undelegation to withdrawal (1..=`MAX_UNBONDING_BLOCKS`).
            unbonding_blocks: u64,
            /// Cap on any validator's commission (bps, at most `BPS`).
            max_commission_bps: u16,
            /// Most a commission may change at once (bps).
            max_commission_change_bps: u16,
        },
        /// Register the sender (its address is its ed25519 identity) as a
        /// validator: its BLS consensus key with a proof of possession bound
        /// to the sender, where peers reach it, its commission (within the
        /// cap), and its self-bond (moved from the sender into a delegation
        /// to itself; at least the genesis `staking.min_self_bond`).
        0x07 => CreateValidator {
            /// BLS12-381 G1 consensus key (48 bytes, hex in JSON).
            consensus_key: ConsensusKeyBytes,
            /// Proof of possession of `consensus_key` for the sender (96 bytes).
            proof_of_possession: PopBytes,
            /// Where peers reach its p2p listener.
            p2p_address: SocketAddr,
            /// Commission (bps of its proposed blocks' fees).
            commission_bps: u16,
            /// Native base units bonded by the validator itself.
            #[serde(with = "crate::amount")]
            self_bond: u128,
        },
        /// Validators only: change the p2p address and/or the commission
        /// (the commission under the rules of `set_commission`).
        0x08 => EditValidator {
            /// New p2p address, if any.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            p2p_address: Option<SocketAddr>,
            /// New commission (bps), if any.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            commission_bps: Option<u16>,
        },
        /// Move `amount` of the sender's active delegation from one validator
        /// to another at once, without unbonding. A delegation that received
        /// a redelegation cannot be redelegated again for an unbonding period
        /// (no hopping from validator to validator).
        0x09 => Redelegate {
            /// The validator the stake leaves.
            from: Address,
            /// The validator the stake joins.
            to: Address,
            /// Amount to move (native base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Validators only: leave jail once its term is over, becoming a
        /// candidate at the next election again (never once tombstoned).
        0x0a => Unjail {},
    }
}

crate::tagged_enum! {
    /// Something a `stake` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum StakeEvent {
        /// The delegator added to its delegation.
        0x01 => Delegated {
            /// The validator's account.
            validator: Address,
            /// The delegating account.
            delegator: Address,
            /// Amount added (native base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The delegation's active amount afterwards.
            #[serde(with = "crate::amount")]
            delegation: u128,
            /// The validator's total active delegations afterwards (native base units).
            #[serde(with = "crate::amount")]
            total_delegated: u128,
        },
        /// Part of a delegation stopped earning and began unbonding.
        0x02 => Undelegated {
            /// The validator's account.
            validator: Address,
            /// The delegating account.
            delegator: Address,
            /// Amount entering unbonding (native base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// First height at which `withdraw` pays it.
            mature_height: u64,
        },
        /// Matured unbonding entries were paid out.
        0x03 => Withdrawn {
            /// The validator's account.
            validator: Address,
            /// The delegating account.
            delegator: Address,
            /// Matured amount paid (native base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Rewards were paid to the delegator.
        0x04 => RewardsClaimed {
            /// The validator's account.
            validator: Address,
            /// The delegating account.
            delegator: Address,
            /// Rewards paid (native base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// A validator changed its commission.
        0x05 => CommissionChanged {
            /// The validator's account.
            validator: Address,
            /// Commission before (bps).
            old_bps: u16,
            /// Commission after (bps).
            new_bps: u16,
        },
        /// The admin set the module parameters.
        0x06 => ParamsSet {
            /// Blocks from undelegation to withdrawal (1..=`MAX_UNBONDING_BLOCKS`).
            unbonding_blocks: u64,
            /// Cap on any validator's commission (bps, at most `BPS`).
            max_commission_bps: u16,
            /// Most a commission may change at once (bps).
            max_commission_change_bps: u16,
        },
        /// A validator registered.
        0x07 => ValidatorCreated {
            /// The validator's account (its identity).
            validator: Address,
            /// Its BLS consensus key.
            consensus_key: ConsensusKeyBytes,
            /// Its p2p address.
            p2p_address: SocketAddr,
            /// Its commission (bps).
            commission_bps: u16,
            /// Its self-bond (native base units).
            #[serde(with = "crate::amount")]
            self_bond: u128,
        },
        /// A validator changed its p2p address.
        0x08 => P2pAddressChanged {
            /// The validator's account.
            validator: Address,
            /// The new address.
            p2p_address: SocketAddr,
        },
        /// Stake moved from one validator to another.
        0x09 => Redelegated {
            /// The delegating account.
            delegator: Address,
            /// The validator the stake left.
            from: Address,
            /// The validator the stake joined.
            to: Address,
            /// Amount moved (native base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// First height at which the delegation with `to` may be
            /// redelegated again.
            redelegate_allowed_height: u64,
        },
        /// A validator was punished: part of its bonded and unbonding stake
        /// burned (moved to [`burned`] for good), and it was jailed
        /// (downtime) or tombstoned (conflicting votes).
        0x0a => Slashed {
            /// The validator's account.
            validator: Address,
            /// What it did.
            reason: SlashReason,
            /// Burned from its bonded stake (delegations included).
            #[serde(with = "crate::amount")]
            bonded: u128,
            /// Burned from unbonding stake that backed the fault.
            #[serde(with = "crate::amount")]
            unbonding: u128,
            /// First height at which `unjail` is accepted (`u64::MAX` once
            /// tombstoned).
            jailed_until_height: u64,
            /// Never elected again.
            tombstoned: bool,
        },
        /// A jailed validator returned to the candidates of the next election.
        0x0b => Unjailed {
            /// The validator's account.
            validator: Address,
        },
    }
}

crate::tagged_enum! {
    /// Why a validator was slashed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum SlashReason {
        /// Evidence carried in a block proves conflicting votes.
        0x01 => DoubleSign {
            /// Which conflicting votes.
            fault: Fault,
            /// The round's epoch.
            epoch: u64,
            /// The round's view.
            view: u64,
        },
        /// It signed too few of a window's rounds.
        0x02 => Downtime {
            /// Rounds of the window it did not sign.
            missed_rounds: u64,
            /// Rounds of the window so far.
            window_rounds: u64,
        },
    }
}

/// Where slashed stake goes: an account without a key, so nothing ever
/// spends it; its balance is the native token burned by slashing (native
/// supply therefore stays conserved, and exact).
pub fn burned() -> Address {
    Address::module("stake", b"burned")
}

crate::tagged_enum! {
    /// Why a `stake` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum StakeError {
        /// The amount is zero.
        #[error("amount must be positive")]
        0x01 => ZeroAmount {},
        /// The account is not a registered validator.
        #[error("{validator} is not a registered validator")]
        0x02 => UnknownValidator {
            /// The validator's account.
            validator: Address,
        },
        /// The delegator has no delegation with this validator.
        #[error("{delegator} has no delegation with validator {validator}")]
        0x03 => NoDelegation {
            /// The validator's account.
            validator: Address,
            /// The delegating account.
            delegator: Address,
        },
        /// Undelegating more than is delegated.
        #[error("cannot undelegate {requested}: only {delegated} is delegated to {validator}")]
        0x04 => InsufficientDelegation {
            /// The validator's account.
            validator: Address,
            /// Amount to undelegate (native base units).
            #[serde(with = "crate::amount")]
            requested: u128,
            /// The delegation's active amount (native base units).
            #[serde(with = "crate::amount")]
            delegated: u128,
        },
        /// The delegation already has the most unbonding entries.
        #[error("a delegation holds at most {max} unbonding entries; withdraw matured ones first")]
        0x05 => TooManyUnbonding {
            /// `MAX_UNBONDING_ENTRIES`.
            max: u8,
        },
        /// The delegation has no unbonding entry.
        #[error("nothing is unbonding from validator {validator}")]
        0x06 => NothingUnbonding {
            /// The validator's account.
            validator: Address,
        },
        /// No unbonding entry has matured yet.
        #[error("no unbonding entry has matured at height {height}: the next, {amount}, matures at {mature_height}")]
        0x07 => NotMatured {
            /// The next entry to mature (native base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Height at which that entry matures.
            mature_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The delegation has no rewards to claim.
        #[error("no rewards to claim from validator {validator}")]
        0x08 => NoRewards {
            /// The validator's account.
            validator: Address,
        },
        /// A commission change by an account that is not a validator.
        #[error("{sender} is not a registered validator")]
        0x09 => NotValidator {
            /// The account that sent the action.
            sender: Address,
        },
        /// The commission is above the cap.
        #[error("commission {commission_bps} bps exceeds the cap of {max_bps} bps")]
        0x0a => CommissionTooHigh {
            /// The validator's commission (bps of its proposed blocks' fees).
            commission_bps: u16,
            /// The current commission cap (bps).
            max_bps: u16,
        },
        /// The commission moves by more than the allowed change.
        #[error("commission may change by at most {max_change_bps} bps at a time, not from {from_bps} to {to_bps}")]
        0x0b => CommissionChangeTooLarge {
            /// Current commission (bps).
            from_bps: u16,
            /// Requested commission (bps).
            to_bps: u16,
            /// Most a commission may change at once (bps).
            max_change_bps: u16,
        },
        /// The last commission change was less than an unbonding period ago.
        #[error("commission changed recently: next change allowed at height {next_height}, now {height}")]
        0x0c => CommissionChangeTooSoon {
            /// First height at which the commission may change again.
            next_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The commission already has this value.
        #[error("commission is already {bps} bps")]
        0x0d => CommissionUnchanged {
            /// The current commission (bps).
            bps: u16,
        },
        /// The unbonding period is 0 or above `MAX_UNBONDING_BLOCKS`.
        #[error("unbonding period must be 1..={max} blocks, not {blocks}")]
        0x0f => UnbondingPeriodOutOfRange {
            /// The period given (blocks).
            blocks: u64,
            /// `MAX_UNBONDING_BLOCKS`.
            max: u64,
        },
        /// A bps value is above `BPS` (100%).
        #[error("{bps} bps is more than 100% ({max} bps)")]
        0x10 => BpsOutOfRange {
            /// The value given (bps).
            bps: u16,
            /// `BPS` (100%).
            max: u16,
        },
        /// The consensus key or proof of possession is not a valid curve
        /// point, or the proof does not prove the key for the sender.
        #[error("consensus key refused: {reason}")]
        0x11 => InvalidConsensusKey {
            /// What is wrong.
            reason: crate::codec::Text<128>,
        },
        /// The sender is a validator already.
        #[error("{validator} is already a registered validator")]
        0x12 => AlreadyValidator {
            /// The validator's account.
            validator: Address,
        },
        /// Another validator registered this consensus key.
        #[error("consensus key {consensus_key} is already used by validator {validator}")]
        0x13 => ConsensusKeyTaken {
            /// The key.
            consensus_key: ConsensusKeyBytes,
            /// The validator using it.
            validator: Address,
        },
        /// The self-bond is below the network's minimum.
        #[error("self-bond {self_bond} is below the minimum {min_self_bond}")]
        0x14 => SelfBondTooLow {
            /// The self-bond offered (native base units).
            #[serde(with = "crate::amount")]
            self_bond: u128,
            /// The genesis `staking.min_self_bond` (native base units).
            #[serde(with = "crate::amount")]
            min_self_bond: u128,
        },
        /// The registry bucket of the validator's address holds the most
        /// validators.
        #[error("the registry bucket of {validator} is full ({max} validators)")]
        0x15 => RegistryFull {
            /// The validator being registered.
            validator: Address,
            /// `MAX_VALIDATORS_PER_BUCKET`.
            max: u32,
        },
        /// `edit_validator` without anything to change.
        #[error("edit_validator needs a p2p address or a commission to change")]
        0x16 => NothingToEdit {},
        /// Redelegating from a validator to itself.
        #[error("cannot redelegate from validator {validator} to itself")]
        0x17 => SameValidator {
            /// The validator given twice.
            validator: Address,
        },
        /// The delegation received a redelegation less than an unbonding
        /// period ago.
        #[error("this delegation was redelegated to recently: it may move again at height {next_height}, now {height}")]
        0x18 => RedelegationTooSoon {
            /// First height at which it may be redelegated.
            next_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The p2p address already has this value.
        #[error("p2p address is already {p2p_address}")]
        0x19 => P2pAddressUnchanged {
            /// The current address.
            p2p_address: SocketAddr,
        },
        /// `unjail` by a validator that is not jailed.
        #[error("validator {validator} is not jailed")]
        0x1a => NotJailed {
            /// The validator's account.
            validator: Address,
        },
        /// `unjail` before the jail term is over.
        #[error("validator is jailed until height {until_height}, now {height}")]
        0x1b => StillJailed {
            /// First height at which `unjail` is accepted.
            until_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The validator was tombstoned for conflicting votes: it never
        /// returns, takes no new stake, and is not punished twice.
        #[error("validator {validator} is tombstoned")]
        0x1c => Tombstoned {
            /// The validator's account.
            validator: Address,
        },
        /// Evidence of a round whose committee state no longer holds: the
        /// stake that backed it may have left.
        #[error("evidence of epoch {epoch} is too old at epoch {current_epoch} (only the current and previous epochs are punishable)")]
        0x1d => EvidenceTooOld {
            /// The epoch of the evidence.
            epoch: u64,
            /// The epoch of the block carrying it.
            current_epoch: u64,
        },
        /// Evidence of a round in an epoch that has not started.
        #[error("evidence of epoch {epoch} is from the future at epoch {current_epoch}")]
        0x1e => EvidenceFromFuture {
            /// The epoch of the evidence.
            epoch: u64,
            /// The epoch of the block carrying it.
            current_epoch: u64,
        },
        /// A block carries two pieces of evidence against one validator.
        #[error("validator {validator} is accused twice in one block")]
        0x1f => RepeatedOffense {
            /// The validator's account.
            validator: Address,
        },
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &StakeAction) -> u64 {
    match action {
        // Sender, custody, validator record, delegation.
        StakeAction::Delegate { .. } => 4,
        StakeAction::Undelegate { .. } => 3,
        StakeAction::Withdraw { .. } => 4,
        StakeAction::Claim { .. } => 4,
        StakeAction::SetCommission { .. } => 2,
        StakeAction::SetParams { .. } => 2,
        // Sender, custody, record, delegation, key index, registry; plus a
        // proof-of-possession check (two pairings).
        StakeAction::CreateValidator { .. } => 40,
        StakeAction::EditValidator { .. } => 3,
        // Two records, two delegations, two custodies, the registry.
        StakeAction::Redelegate { .. } => 7,
        // Record and registry.
        StakeAction::Unjail {} => 2,
    }
}

/// Checks that hold regardless of state (zero amounts, out-of-range
/// parameters); ingest refuses an action that fails them with this reason.
pub fn check(action: &StakeAction) -> Result<(), String> {
    check_typed(action).map_err(|e| e.to_string())
}

/// [`check`] with the typed reason (execution repeats these checks).
pub fn check_typed(action: &StakeAction) -> Result<(), StakeError> {
    let bps = |bps: u16| {
        if bps > BPS {
            Err(StakeError::BpsOutOfRange { bps, max: BPS })
        } else {
            Ok(())
        }
    };
    match action {
        StakeAction::Delegate { amount, .. }
        | StakeAction::Undelegate { amount, .. }
        | StakeAction::CreateValidator {
            self_bond: amount, ..
        } => {
            if *amount == 0 {
                return Err(StakeError::ZeroAmount {});
            }
            if let StakeAction::CreateValidator { commission_bps, .. } = action {
                bps(*commission_bps)?;
            }
            Ok(())
        }
        StakeAction::EditValidator {
            p2p_address,
            commission_bps,
        } => match (p2p_address, commission_bps) {
            (None, None) => Err(StakeError::NothingToEdit {}),
            (_, Some(c)) => bps(*c),
            (Some(_), None) => Ok(()),
        },
        StakeAction::Redelegate { from, to, amount } => {
            if *amount == 0 {
                return Err(StakeError::ZeroAmount {});
            }
            if from == to {
                return Err(StakeError::SameValidator { validator: *from });
            }
            Ok(())
        }
        StakeAction::Withdraw { .. } | StakeAction::Claim { .. } | StakeAction::Unjail {} => Ok(()),
        StakeAction::SetCommission { commission_bps } => bps(*commission_bps),
        StakeAction::SetParams {
            unbonding_blocks,
            max_commission_bps,
            max_commission_change_bps,
        } => {
            if *unbonding_blocks == 0 || *unbonding_blocks > MAX_UNBONDING_BLOCKS {
                return Err(StakeError::UnbondingPeriodOutOfRange {
                    blocks: *unbonding_blocks,
                    max: MAX_UNBONDING_BLOCKS,
                });
            }
            bps(*max_commission_bps)?;
            bps(*max_commission_change_bps)
        }
    }
}

/// The 32-byte id of `delegator`'s delegation to `validator` (a digest, so the
/// object key stays within the 48-byte id limit).
pub fn delegation_id(validator: &Address, delegator: &Address) -> [u8; 32] {
    use commonware_cryptography::{Hasher, Sha256};
    let digest = Sha256::hash(&[
        b"lakh/stake/delegation/",
        validator.as_bytes(),
        delegator.as_bytes(),
    ]);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    fn round_trip(a: StakeAction) {
        let bytes = a.encode();
        assert_eq!(StakeAction::decode_cfg(bytes, &()).unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<StakeAction>(&json).unwrap(), a);
    }

    #[test]
    fn actions_round_trip_in_binary_and_json() {
        let v = Address([3; 32]);
        round_trip(StakeAction::Delegate {
            validator: v,
            amount: u128::MAX,
        });
        round_trip(StakeAction::Undelegate {
            validator: v,
            amount: 1,
        });
        round_trip(StakeAction::Withdraw { validator: v });
        round_trip(StakeAction::Claim { validator: v });
        round_trip(StakeAction::SetCommission { commission_bps: 77 });
        round_trip(StakeAction::SetParams {
            unbonding_blocks: 9,
            max_commission_bps: 10,
            max_commission_change_bps: 11,
        });
        let json = serde_json::to_value(StakeAction::Delegate {
            validator: v,
            amount: 5,
        })
        .unwrap();
        assert_eq!(json["op"], "delegate");
        assert_eq!(json["amount"], "5");
    }

    #[test]
    fn stateless_checks() {
        let v = Address([3; 32]);
        assert!(
            check(&StakeAction::Delegate {
                validator: v,
                amount: 0
            })
            .is_err()
        );
        assert!(
            check(&StakeAction::Undelegate {
                validator: v,
                amount: 0
            })
            .is_err()
        );
        assert!(
            check(&StakeAction::Delegate {
                validator: v,
                amount: 1
            })
            .is_ok()
        );
        assert_eq!(
            check_typed(&StakeAction::SetCommission {
                commission_bps: 10_001
            }),
            Err(StakeError::BpsOutOfRange {
                bps: 10_001,
                max: BPS
            })
        );
        assert!(
            check(&StakeAction::SetCommission {
                commission_bps: 10_000
            })
            .is_ok()
        );
        for (blocks, ok) in [
            (0, false),
            (1, true),
            (MAX_UNBONDING_BLOCKS, true),
            (MAX_UNBONDING_BLOCKS + 1, false),
        ] {
            let a = StakeAction::SetParams {
                unbonding_blocks: blocks,
                max_commission_bps: 100,
                max_commission_change_bps: 100,
            };
            assert_eq!(check(&a).is_ok(), ok, "{blocks}");
        }
        let e = StakeError::InsufficientDelegation {
            validator: v,
            requested: 9,
            delegated: 4,
        };
        assert!(e.to_string().contains("cannot undelegate 9: only 4"), "{e}");
        assert_eq!(
            serde_json::to_value(&e).unwrap()["code"],
            "insufficient_delegation"
        );
    }

    #[test]
    fn delegation_ids_differ_per_pair() {
        let (a, b) = (Address([1; 32]), Address([2; 32]));
        assert_ne!(delegation_id(&a, &b), delegation_id(&b, &a));
        assert_eq!(delegation_id(&a, &b), delegation_id(&a, &b));
    }
}
