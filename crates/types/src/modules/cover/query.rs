//! Typed answers of the cover module's queries. Amounts are in base units of
//! the pool's capital asset unless said otherwise.

use super::{Claim, ClaimId, ClaimStatus, Cover, CoverId, PoolId, PoolParams, Vote};
use crate::{Address, AssetId, FailureReason};
use serde::{Deserialize, Serialize};

/// Answer to `cover pool {pool, amount?, blocks?}`: the pool's ledger at the
/// query's height, with a quote when `amount` and `blocks` are given.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolAnswer {
    /// The pool.
    pub pool: PoolId,
    /// Height of the state read.
    pub height: u64,
    /// Its parameters.
    pub params: PoolParams,
    /// Blocks per expiry epoch.
    pub epoch_blocks: u64,
    /// The account holding the capital.
    pub capital_custody: Address,
    /// The account holding the assessors' stake.
    pub stake_custody: Address,
    /// Capital deposited and earned, less payouts and withdrawals.
    #[serde(with = "crate::amount")]
    pub capital: u128,
    /// Cover sold and not expired.
    #[serde(with = "crate::amount")]
    pub active_cover: u128,
    /// Claims filed on expired cover, not yet resolved.
    #[serde(with = "crate::amount")]
    pub pending_claims: u128,
    /// Claims on expired cover resolved since.
    #[serde(with = "crate::amount")]
    pub released_claims: u128,
    /// Active cover plus pending claims.
    #[serde(with = "crate::amount")]
    pub exposure: u128,
    /// Most exposure the capital allows.
    #[serde(with = "crate::amount")]
    pub capacity: u128,
    /// Capacity left.
    #[serde(with = "crate::amount")]
    pub available_capacity: u128,
    /// Exposure over capacity, scaled by 1e18.
    #[serde(with = "crate::amount")]
    pub utilization: u128,
    /// Premiums not yet earned by the providers.
    #[serde(with = "crate::amount")]
    pub unearned_premiums: u128,
    /// Capital not backing exposure.
    #[serde(with = "crate::amount")]
    pub free_capital: u128,
    /// Provider shares outstanding.
    #[serde(with = "crate::amount")]
    pub total_shares: u128,
    /// Pool value a deposit is priced at.
    #[serde(with = "crate::amount")]
    pub deposit_value: u128,
    /// Pool value a withdrawal is priced at.
    #[serde(with = "crate::amount")]
    pub withdraw_value: u128,
    /// Deposit value per share, scaled by 1e18 (`None` without shares).
    #[serde(with = "crate::amount::option")]
    pub share_price_deposit: Option<u128>,
    /// Withdraw value per share, scaled by 1e18 (`None` without shares).
    #[serde(with = "crate::amount::option")]
    pub share_price_withdraw: Option<u128>,
    /// Assessors' stake, in stake base units.
    #[serde(with = "crate::amount")]
    pub total_stake: u128,
    /// Capital ever deposited.
    #[serde(with = "crate::amount")]
    pub deposited: u128,
    /// Capital ever withdrawn.
    #[serde(with = "crate::amount")]
    pub withdrawn: u128,
    /// Premiums ever paid.
    #[serde(with = "crate::amount")]
    pub premiums: u128,
    /// Claims ever paid.
    #[serde(with = "crate::amount")]
    pub paid_out: u128,
    /// Covers ever sold.
    pub covers_sold: u64,
    /// Claims ever filed.
    pub claims_filed: u64,
    /// Active cover by the epoch it expires in.
    pub expiry_schedule: Vec<ExpiryAnswer>,
    /// The quote asked for, if any.
    pub quote: Option<QuoteAnswer>,
}

/// Cover expiring in one epoch.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpiryAnswer {
    /// The epoch.
    pub epoch: u64,
    /// Height its cover is released at (`None`: past u64).
    pub release_height: Option<u64>,
    /// Cover amount still active.
    #[serde(with = "crate::amount")]
    pub cover: u128,
    /// Pending claims on it.
    #[serde(with = "crate::amount")]
    pub claimed: u128,
    /// Premiums paid for it.
    #[serde(with = "crate::amount")]
    pub premium: u128,
}

/// What buying cover would cost now, or why it would be refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteAnswer {
    /// Whether the purchase would be accepted.
    pub ok: bool,
    /// The pool (set by `cover quote`).
    pub pool: Option<PoolId>,
    /// The capital asset premiums are paid in (set by `cover quote`).
    pub asset: Option<AssetId>,
    /// Height of the state read (set by `cover quote`).
    pub height: Option<u64>,
    /// Amount to cover.
    #[serde(with = "crate::amount::option")]
    pub amount: Option<u128>,
    /// Blocks to cover.
    pub period_blocks: Option<u64>,
    /// The premium.
    #[serde(with = "crate::amount::option")]
    pub premium: Option<u128>,
    /// Premium rate per block, 1e18 = 100%.
    #[serde(with = "crate::amount::option")]
    pub rate_per_block: Option<u128>,
    /// Utilization after the purchase, 1e18 = full.
    #[serde(with = "crate::amount::option")]
    pub utilization_after: Option<u128>,
    /// The pool's capacity.
    #[serde(with = "crate::amount::option")]
    pub capacity: Option<u128>,
    /// Exposure the pool could still take before this purchase.
    #[serde(with = "crate::amount::option")]
    pub available: Option<u128>,
    /// First covered height.
    pub start_height: Option<u64>,
    /// First height no longer covered.
    pub end_height: Option<u64>,
    /// Height the cover's capacity is released at.
    pub release_height: Option<u64>,
    /// Why it would be refused.
    pub error: Option<FailureReason>,
    /// The refusal as text.
    pub message: Option<String>,
}

/// Whether cover still covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CoverStatus {
    /// Claims are accepted.
    Active,
    /// Past its end.
    Expired,
}

/// Answer to `cover cover {cover}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverAnswer {
    /// The stored cover.
    #[serde(flatten)]
    pub cover: Cover,
    /// Its id.
    pub id: CoverId,
    /// Height of the state read.
    pub height: u64,
    /// Whether it still covers.
    pub status: CoverStatus,
    /// What claims may still take.
    #[serde(with = "crate::amount")]
    pub remaining: u128,
    /// Whether a claim could be filed now.
    pub claimable: bool,
}

/// Answer to `cover claim {claim, voter?}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimAnswer {
    /// The stored claim.
    #[serde(flatten)]
    pub claim: Claim,
    /// Its id.
    pub id: ClaimId,
    /// Height of the state read.
    pub height: u64,
    /// Least total vote weight for a decision, in stake base units.
    #[serde(with = "crate::amount")]
    pub quorum: u128,
    /// Vote weight so far.
    #[serde(with = "crate::amount")]
    pub votes: u128,
    /// Whether votes are accepted now.
    pub voting_open: bool,
    /// Whether it may be resolved now.
    pub resolvable: bool,
    /// How it would resolve now.
    pub outcome_if_resolved_now: ClaimStatus,
    /// The asked voter's vote, when a voter was given.
    pub vote: Option<VoterAnswer>,
}

/// One assessor's vote on a claim.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoterAnswer {
    /// The assessor.
    pub voter: Address,
    /// Its vote (`None`: it has not voted).
    pub vote: Option<Vote>,
}

/// Answer to `cover position {pool, owner}`: a provider's shares.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PositionAnswer {
    /// The pool.
    pub pool: PoolId,
    /// The provider.
    pub owner: Address,
    /// Height of the state read.
    pub height: u64,
    /// Shares held.
    #[serde(with = "crate::amount")]
    pub shares: u128,
    /// Shares outstanding.
    #[serde(with = "crate::amount")]
    pub total_shares: u128,
    /// What the shares are worth at the withdraw value.
    #[serde(with = "crate::amount")]
    pub withdraw_value: u128,
    /// The whole pool's withdraw value.
    #[serde(with = "crate::amount")]
    pub pool_withdraw_value: u128,
    /// Capital not backing exposure.
    #[serde(with = "crate::amount")]
    pub free_capital: u128,
    /// What a withdrawal could take now.
    #[serde(with = "crate::amount")]
    pub withdrawable_now: u128,
}

/// Answer to `cover assessor {pool, owner}`: an assessor's stake.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssessorAnswer {
    /// The pool.
    pub pool: PoolId,
    /// The assessor.
    pub owner: Address,
    /// Height of the state read.
    pub height: u64,
    /// Stake held, in stake base units.
    #[serde(with = "crate::amount")]
    pub stake: u128,
    /// All assessors' stake.
    #[serde(with = "crate::amount")]
    pub total_stake: u128,
    /// No unstaking before this height.
    pub locked_until_height: u64,
    /// Whether it may unstake now.
    pub unlocked: bool,
}

/// One product in the answer to `cover products {}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductAnswer {
    /// Its slot.
    pub id: super::ProductId,
    /// Terms, trigger memory and live covers.
    pub product: super::Product,
    /// Covers owed a payout not yet made.
    pub unpaid_covers: u32,
    /// What those covers are owed (base units of the capital asset).
    #[serde(with = "crate::amount")]
    pub unpaid: u128,
}

/// Answer to `cover products {}`: every parametric product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductsAnswer {
    /// Height of the state read.
    pub height: u64,
    /// The products, by slot.
    pub products: Vec<ProductAnswer>,
}

/// Answer to `cover payouts {owner}`: the owner's latest automatic payouts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayoutsAnswer {
    /// The account.
    pub owner: Address,
    /// Height of the state read.
    pub height: u64,
    /// Oldest first, at most `MAX_PAYOUT_LOG`.
    pub payouts: Vec<super::PayoutRecord>,
}
