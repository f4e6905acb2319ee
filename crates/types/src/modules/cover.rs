//! Insurance: cover pools funded by capital providers, cover bought on named
//! risks, claims filed by cover holders and settled by a stake-weighted vote
//! of assessors.
//!
//! The wire types (actions, events, failure reasons) and the stored objects
//! of the `cover` module live here so the execution layer, the wallet and the
//! tests share one definition. The rules are in `lakh_execution::cover`; the
//! formulas are documented in `docs/modules/cover.md`.

use crate::codec::{BoundedVec, Text};
use crate::{Address, AssetId};
use bytes::BufMut;
use commonware_codec::{Buf, Error as CodecError, FixedSize, Read, ReadExt, Write};
use commonware_cryptography::{Hasher, Sha256};
use serde::{Deserialize, Serialize};

pub mod parametric;
pub mod query;

pub use parametric::{
    Holding, LossSource, MAX_PRODUCTS, PayoutLog, PayoutRecord, Product, ProductId, ProductParams,
    Trigger, Watch, validate_product,
};

/// Identifier of a cover pool, chosen by the admin at creation.
pub type PoolId = u64;
/// Identifier of a cover, derived from its buyer and the buying nonce.
pub type CoverId = u64;
/// Identifier of a claim, derived from its claimant and the filing nonce.
pub type ClaimId = u64;
/// A named risk a pool covers (a market, a pool, a protocol), e.g. `dex:ETH/USDC`.
pub type RiskName = Text<MAX_RISK_BYTES>;

/// Longest risk name (bytes).
pub const MAX_RISK_BYTES: usize = 32;
/// Most risks one pool covers.
pub const MAX_RISKS: usize = 16;
/// Most distinct expiry epochs alive at once in a pool (the expiry schedule).
pub const MAX_BUCKETS: usize = 32;
/// Basis points in one (capacity factor).
pub const BPS: u128 = 10_000;
/// Fixed-point one for rates and utilization (1e18).
pub const WAD: u128 = 1_000_000_000_000_000_000;
/// Highest base rate and highest slope: 100% of the cover amount per block.
pub const MAX_RATE: u128 = WAD;
/// Longest cover period and voting period, in blocks.
pub const MAX_PERIOD_BLOCKS: u64 = 1_000_000_000;
/// Shares locked forever at a pool's first deposit (never owned by anyone),
/// so the share price cannot be pushed to a level where rounding robs later
/// depositors.
pub const LOCKED_SHARES: u128 = 1_000;
/// Scale of the per-bucket premium streaming rates (premium units per block,
/// times 1e9).
pub const STREAM_SCALE: u128 = 1_000_000_000;
/// Longest free-text detail in a failure reason.
pub const MAX_DETAIL_BYTES: usize = 128;

/// Object kinds of the module (within `lakh_state::object_kind::COVER`).
pub mod kind {
    /// [`super::PoolParams`], keyed by pool id (written once, at creation).
    pub const POOL_PARAMS: u8 = 0x70;
    /// [`super::PoolState`], keyed by pool id.
    pub const POOL_STATE: u8 = 0x71;
    /// [`super::Position`], keyed by pool id and provider.
    pub const POSITION: u8 = 0x72;
    /// [`super::Cover`], keyed by cover id.
    pub const COVER: u8 = 0x73;
    /// [`super::Claim`], keyed by claim id.
    pub const CLAIM: u8 = 0x74;
    /// [`super::Assessor`], keyed by pool id and assessor.
    pub const ASSESSOR: u8 = 0x75;
    /// [`super::Vote`], keyed by claim id and assessor.
    pub const VOTE: u8 = 0x76;
    /// [`super::StakeTotal`], keyed by pool id.
    pub const STAKE_TOTAL: u8 = 0x77;
    /// [`super::Product`], keyed by product slot.
    pub const PRODUCT: u8 = 0x78;
    /// [`super::PayoutLog`], keyed by account.
    pub const PAYOUT_LOG: u8 = 0x79;
}

/// The custody account holding a pool's capital (provider deposits plus
/// premiums minus payouts and withdrawals).
pub fn capital_custody(pool: PoolId) -> Address {
    let mut id = [0u8; 9];
    id[1..].copy_from_slice(&pool.to_be_bytes());
    Address::module("cover", &id)
}

/// The custody account holding a pool's assessor stakes.
pub fn stake_custody(pool: PoolId) -> Address {
    let mut id = [1u8; 9];
    id[1..].copy_from_slice(&pool.to_be_bytes());
    Address::module("cover", &id)
}

fn derive(domain: &[u8], sender: &Address, nonce: u64) -> u64 {
    let digest = Sha256::hash(&[domain, sender.as_bytes(), &nonce.to_be_bytes()]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest.as_ref()[..8]);
    u64::from_be_bytes(id)
}

/// The id of the cover bought by `buyer`'s transaction with `nonce`.
pub fn cover_id(buyer: &Address, nonce: u64) -> CoverId {
    derive(b"lakh/cover/cover-id", buyer, nonce)
}

/// The id of the claim filed by `claimant`'s transaction with `nonce`.
pub fn claim_id(claimant: &Address, nonce: u64) -> ClaimId {
    derive(b"lakh/cover/claim-id", claimant, nonce)
}

crate::codec_struct! {
    /// A pool's parameters, fixed at creation.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct PoolParams {
        /// What providers deposit, buyers pay premiums in and claims are paid in.
        pub capital_asset: AssetId,
        /// What assessors stake to vote on claims.
        pub stake_asset: AssetId,
        /// Most exposure (active cover plus pending claims on expired cover)
        /// as a fraction of capital, in basis points (1..=10000).
        pub capacity_bps: u32,
        /// Premium rate per block at zero utilization, 1e18 = 100% of the
        /// cover amount per block.
        #[serde(with = "crate::amount")]
        pub base_rate: u128,
        /// Rate per block added at full utilization (linear in between).
        #[serde(with = "crate::amount")]
        pub slope_rate: u128,
        /// Blocks during which assessors may vote on a filed claim.
        pub voting_period_blocks: u64,
        /// Least total vote weight (stake) for a claim to be decided.
        #[serde(with = "crate::amount")]
        pub quorum: u128,
        /// Shortest cover period (blocks).
        pub min_period_blocks: u64,
        /// Longest cover period (blocks).
        pub max_period_blocks: u64,
        /// The risks cover may be bought on.
        pub risks: BoundedVec<RiskName, MAX_RISKS>,
    }
}

impl PoolParams {
    /// Blocks per expiry epoch: covers release their capacity at the first
    /// epoch boundary at or after their end, so at most [`MAX_BUCKETS`]
    /// epochs are ever alive at once.
    pub fn epoch_blocks(&self) -> u64 {
        self.max_period_blocks
            .div_ceil(MAX_BUCKETS as u64 - 2)
            .max(1)
    }

    /// True when `risk` is one of the pool's risks.
    pub fn covers_risk(&self, risk: &RiskName) -> bool {
        self.risks.iter().any(|r| r == risk)
    }
}

/// Checks pool parameters (stateless); the message says what is wrong.
pub fn validate_params(p: &PoolParams) -> Result<(), String> {
    if p.capacity_bps == 0 || p.capacity_bps as u128 > BPS {
        return Err(format!(
            "capacity_bps {} must be within 1..=10000",
            p.capacity_bps
        ));
    }
    if p.base_rate > MAX_RATE || p.slope_rate > MAX_RATE {
        return Err(format!(
            "base_rate {} and slope_rate {} must each be at most {MAX_RATE} (100% per block)",
            p.base_rate, p.slope_rate
        ));
    }
    if p.base_rate == 0 && p.slope_rate == 0 {
        return Err("base_rate and slope_rate are both zero: cover would be free".into());
    }
    if p.voting_period_blocks == 0 || p.voting_period_blocks > MAX_PERIOD_BLOCKS {
        return Err(format!(
            "voting_period_blocks {} must be within 1..={MAX_PERIOD_BLOCKS}",
            p.voting_period_blocks
        ));
    }
    if p.quorum == 0 {
        return Err("quorum must be at least 1".into());
    }
    if p.min_period_blocks == 0
        || p.min_period_blocks > p.max_period_blocks
        || p.max_period_blocks > MAX_PERIOD_BLOCKS
    {
        return Err(format!(
            "cover periods {}..={} must satisfy 1 <= min <= max <= {MAX_PERIOD_BLOCKS}",
            p.min_period_blocks, p.max_period_blocks
        ));
    }
    if p.risks.is_empty() {
        return Err("a pool must cover at least one risk".into());
    }
    for (i, risk) in p.risks.iter().enumerate() {
        check_risk_name(risk)?;
        if p.risks[..i].contains(risk) {
            return Err(format!("risk {risk:?} is listed twice"));
        }
    }
    Ok(())
}

pub(crate) fn check_risk_name(risk: &RiskName) -> Result<(), String> {
    let s = risk.as_str();
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "risk name {s:?} must be 1..={MAX_RISK_BYTES} printable ASCII characters without spaces"
        ));
    }
    Ok(())
}

/// Where a claim stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClaimStatus {
    /// Filed; assessors vote until `vote_end_height`, then anyone resolves it.
    Open,
    /// Majority approved with quorum: paid.
    Approved,
    /// Majority (or tie) denied with quorum: nothing paid.
    Denied,
    /// Fewer votes than the quorum: nothing paid.
    NoQuorum,
}

impl ClaimStatus {
    fn tag(self) -> u8 {
        match self {
            ClaimStatus::Open => 0,
            ClaimStatus::Approved => 1,
            ClaimStatus::Denied => 2,
            ClaimStatus::NoQuorum => 3,
        }
    }
}

impl std::fmt::Display for ClaimStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ClaimStatus::Open => "open",
            ClaimStatus::Approved => "approved",
            ClaimStatus::Denied => "denied",
            ClaimStatus::NoQuorum => "no quorum",
        })
    }
}

impl Write for ClaimStatus {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_u8(self.tag());
    }
}
impl FixedSize for ClaimStatus {
    const SIZE: usize = 1;
}
impl Read for ClaimStatus {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(match u8::read(buf)? {
            0 => ClaimStatus::Open,
            1 => ClaimStatus::Approved,
            2 => ClaimStatus::Denied,
            3 => ClaimStatus::NoQuorum,
            other => return Err(CodecError::InvalidEnum(other)),
        })
    }
}

crate::codec_struct! {
    /// The cover and premiums of covers releasing their capacity at the same
    /// epoch boundary.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct Bucket {
        /// Released at height `epoch * epoch_blocks`.
        pub epoch: u64,
        /// Cover amount still active (less payouts on these covers).
        #[serde(with = "crate::amount")]
        pub cover: u128,
        /// Pending claims on these covers.
        #[serde(with = "crate::amount")]
        pub claimed: u128,
        /// Premiums paid for these covers.
        #[serde(with = "crate::amount")]
        pub premium: u128,
        /// Sum of the covers' premium streaming rates (premium per block until
        /// release, times [`STREAM_SCALE`], each rounded up).
        #[serde(with = "crate::amount")]
        pub rate: u128,
    }
}

crate::codec_struct! {
    /// A pool's ledger.
    ///
    /// `capital` always equals the capital custody balance and
    /// `deposited + premiums - paid_out - withdrawn`.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct PoolState {
        /// Capital held (base units of the capital asset).
        #[serde(with = "crate::amount")]
        pub capital: u128,
        /// Provider shares outstanding, [`LOCKED_SHARES`] included.
        #[serde(with = "crate::amount")]
        pub total_shares: u128,
        /// Cover not yet released (sum of the buckets' `cover`).
        #[serde(with = "crate::amount")]
        pub active_cover: u128,
        /// Pending claims on covers already released.
        #[serde(with = "crate::amount")]
        pub released_claims: u128,
        /// All pending claims (`released_claims` plus the buckets' `claimed`).
        #[serde(with = "crate::amount")]
        pub pending_claims: u128,
        /// Live expiry epochs, ascending.
        pub buckets: BoundedVec<Bucket, MAX_BUCKETS>,
        /// Capital deposited by providers, ever (base units).
        #[serde(with = "crate::amount")]
        pub deposited: u128,
        /// Capital withdrawn by providers, ever (base units).
        #[serde(with = "crate::amount")]
        pub withdrawn: u128,
        /// Premiums paid by buyers, ever (base units).
        #[serde(with = "crate::amount")]
        pub premiums: u128,
        /// Paid on approved claims, ever (base units).
        #[serde(with = "crate::amount")]
        pub paid_out: u128,
        /// Covers sold and claims filed, ever.
        pub covers_sold: u64,
        /// Claims filed against the pool, ever.
        pub claims_filed: u64,
    }
}

crate::codec_struct! {
    /// A provider's shares of a pool.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct Position {
        /// Shares held (never includes [`LOCKED_SHARES`]).
        #[serde(with = "crate::amount")]
        pub shares: u128,
    }
}

crate::codec_struct! {
    /// Cover bought on one risk of a pool.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Cover {
        /// The pool selling the cover.
        pub pool: PoolId,
        /// The buyer; only they may claim.
        pub holder: Address,
        /// The risk covered (one of the pool's).
        pub risk: RiskName,
        /// Amount covered.
        #[serde(with = "crate::amount")]
        pub amount: u128,
        /// Paid out on claims so far (never above `amount`).
        #[serde(with = "crate::amount")]
        pub paid: u128,
        /// Premium paid (base units of the capital asset).
        #[serde(with = "crate::amount")]
        pub premium: u128,
        /// Covered blocks are `start_height..end_height`: claims are
        /// accepted while `height < end_height`.
        pub start_height: u64,
        /// First block no longer covered.
        pub end_height: u64,
        /// The expiry epoch whose bucket holds this cover.
        pub release_epoch: u64,
        /// The claim being voted on, if any (one at a time).
        pub open_claim: Option<ClaimId>,
    }
}

impl Cover {
    /// What claims may still take.
    pub fn remaining(&self) -> u128 {
        self.amount.saturating_sub(self.paid)
    }
}

crate::codec_struct! {
    /// A claim against a cover.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Claim {
        /// The pool paying the claim.
        pub pool: PoolId,
        /// The cover claimed on.
        pub cover: CoverId,
        /// The cover holder, paid on approval.
        pub claimant: Address,
        /// Amount claimed (base units of the capital asset).
        #[serde(with = "crate::amount")]
        pub amount: u128,
        /// Height the claim was filed at.
        pub filed_height: u64,
        /// Votes are accepted while `height < vote_end_height`; resolution from `vote_end_height`.
        pub vote_end_height: u64,
        /// Stake voting to approve (base units of the stake asset).
        #[serde(with = "crate::amount")]
        pub approve: u128,
        /// Stake voting to deny (base units of the stake asset).
        #[serde(with = "crate::amount")]
        pub deny: u128,
        /// Assessors that voted.
        pub voters: u32,
        /// Open, or how it was resolved.
        pub status: ClaimStatus,
        /// Paid to the claimant on approval (base units of the capital asset).
        #[serde(with = "crate::amount")]
        pub payout: u128,
    }
}

crate::codec_struct! {
    /// An assessor's stake in a pool.
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct Assessor {
        /// Stake held (base units of the stake asset).
        #[serde(with = "crate::amount")]
        pub stake: u128,
        /// No unstaking before this height: the end of the latest voting
        /// period this assessor voted in.
        pub locked_until_height: u64,
    }
}

crate::codec_struct! {
    /// One assessor's vote on one claim.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    pub struct Vote {
        /// True to approve, false to deny.
        pub approve: bool,
        /// The assessor's stake when voting (base units of the stake asset).
        #[serde(with = "crate::amount")]
        pub weight: u128,
    }
}

crate::codec_struct! {
    /// Total assessor stake of a pool (the stake custody balance).
    #[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
    pub struct StakeTotal {
        /// Sum of all assessors' stake (base units of the stake asset).
        #[serde(with = "crate::amount")]
        pub total: u128,
    }
}

crate::tagged_enum! {
    /// What a `cover` transaction does.
    ///
    /// Every action names the state it touches: the pool, and the asset where
    /// balances move (checked against the pool, so the access set follows from
    /// the payload alone).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum CoverAction {
        /// Admin only: creates pool `pool` with `params`.
        0x01 => CreatePool {
            /// The cover pool.
            pool: PoolId,
            /// The pool's parameters (checked by [`validate_params`]).
            params: PoolParams,
        },
        /// Deposits `amount` of the capital asset for shares (at least `min_shares`).
        0x02 => Provide {
            /// The cover pool.
            pool: PoolId,
            /// The pool's asset the balances move in (checked against the pool).
            asset: AssetId,
            /// Capital to deposit (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Fewest shares to accept.
            #[serde(with = "crate::amount")]
            min_shares: u128,
        },
        /// Burns `shares` for capital (at least `min_amount`), within the capital
        /// not locked by exposure.
        0x03 => Withdraw {
            /// The cover pool.
            pool: PoolId,
            /// The pool's asset the balances move in (checked against the pool).
            asset: AssetId,
            /// Shares to burn.
            #[serde(with = "crate::amount")]
            shares: u128,
            /// Fewest capital base units to accept.
            #[serde(with = "crate::amount")]
            min_amount: u128,
        },
        /// Buys cover of `amount` on `risk` for `blocks` blocks, paying at most
        /// `max_premium`. The cover id is `cover_id(sender, nonce)`.
        0x04 => Buy {
            /// The cover pool.
            pool: PoolId,
            /// The pool's asset the balances move in (checked against the pool).
            asset: AssetId,
            /// The risk (one of the pool's).
            risk: RiskName,
            /// Amount to cover (base units of the capital asset).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Cover period (blocks).
            blocks: u64,
            /// Most premium to pay (base units of the capital asset).
            #[serde(with = "crate::amount")]
            max_premium: u128,
        },
        /// Files a claim of `amount` on the sender's cover. The claim id is
        /// `claim_id(sender, nonce)`.
        0x05 => FileClaim {
            /// The cover pool.
            pool: PoolId,
            /// The cover.
            cover: CoverId,
            /// Amount claimed (base units of the capital asset).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Stakes `amount` of the pool's assessor asset.
        0x06 => StakeAssessor {
            /// The cover pool.
            pool: PoolId,
            /// The pool's asset the balances move in (checked against the pool).
            asset: AssetId,
            /// Stake to add (base units of the stake asset).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Takes back `amount` of assessor stake once no vote locks it.
        0x07 => UnstakeAssessor {
            /// The cover pool.
            pool: PoolId,
            /// The pool's asset the balances move in (checked against the pool).
            asset: AssetId,
            /// Stake to take back (base units of the stake asset).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Votes on an open claim with the sender's whole stake.
        0x08 => Vote {
            /// The cover pool.
            pool: PoolId,
            /// The open claim.
            claim: ClaimId,
            /// True to approve, false to deny.
            approve: bool,
        },
        /// Settles a claim after its voting period (anyone may). `cover`,
        /// `claimant` and `asset` must match the claim and its pool.
        0x09 => Resolve {
            /// The cover pool.
            pool: PoolId,
            /// The pool's asset the balances move in (checked against the pool).
            asset: AssetId,
            /// The claim's cover.
            cover: CoverId,
            /// The claim.
            claim: ClaimId,
            /// The claim's holder, paid on approval.
            claimant: Address,
        },
        /// Admin only: creates parametric product `product` (a free slot)
        /// on its pool.
        0x0a => CreateProduct {
            /// The product slot (below `MAX_PRODUCTS`).
            product: ProductId,
            /// Its terms (checked by [`validate_product`]).
            params: ProductParams,
        },
        /// Buys cover of `amount` on a parametric product for `blocks`
        /// blocks, priced and capacity-checked by the product's pool. The
        /// cover id is `cover_id(sender, nonce)`.
        0x0b => BuyProduct {
            /// The product.
            product: ProductId,
            /// The product's pool.
            pool: PoolId,
            /// The pool's capital asset (checked against the pool).
            asset: AssetId,
            /// Amount to cover (base units of the capital asset).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Cover period (blocks).
            blocks: u64,
            /// Most premium to pay (base units of the capital asset).
            #[serde(with = "crate::amount")]
            max_premium: u128,
        },
    }
}

crate::tagged_enum! {
    /// Something a `cover` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum CoverEvent {
        /// A cover pool was created.
        0x01 => PoolCreated {
            /// The cover pool.
            pool: PoolId,
            /// What providers deposit and claims are paid in.
            capital_asset: AssetId,
            /// What assessors stake.
            stake_asset: AssetId,
            /// Blocks per expiry epoch ([`PoolParams::epoch_blocks`]).
            epoch_blocks: u64,
        },
        /// A provider deposited capital for shares.
        0x02 => Provided {
            /// The cover pool.
            pool: PoolId,
            /// The capital provider.
            provider: Address,
            /// Capital deposited (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Shares minted.
            #[serde(with = "crate::amount")]
            shares: u128,
        },
        /// A provider burned shares for capital.
        0x03 => Withdrawn {
            /// The cover pool.
            pool: PoolId,
            /// The capital provider.
            provider: Address,
            /// Shares burned.
            #[serde(with = "crate::amount")]
            shares: u128,
            /// Capital paid (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// Cover was bought.
        0x04 => CoverBought {
            /// The cover pool.
            pool: PoolId,
            /// The cover.
            cover: CoverId,
            /// The cover's buyer.
            holder: Address,
            /// The risk (one of the pool's).
            risk: RiskName,
            /// Amount covered (base units of the capital asset).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Premium (base units of the capital asset).
            #[serde(with = "crate::amount")]
            premium: u128,
            /// First covered block.
            start_height: u64,
            /// First block no longer covered.
            end_height: u64,
        },
        /// A cover holder filed a claim.
        0x05 => ClaimFiled {
            /// The cover pool.
            pool: PoolId,
            /// The cover.
            cover: CoverId,
            /// The claim.
            claim: ClaimId,
            /// The claim's holder, paid on approval.
            claimant: Address,
            /// Amount claimed (base units of the capital asset).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// First height at which voting is closed and the claim may be resolved.
            vote_end_height: u64,
        },
        /// An assessor added stake.
        0x06 => AssessorStaked {
            /// The cover pool.
            pool: PoolId,
            /// The assessor.
            assessor: Address,
            /// Stake added (base units of the stake asset).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The assessor's stake afterwards (base units of the stake asset).
            #[serde(with = "crate::amount")]
            stake: u128,
        },
        /// An assessor took back stake.
        0x07 => AssessorUnstaked {
            /// The cover pool.
            pool: PoolId,
            /// The assessor.
            assessor: Address,
            /// Stake taken back (base units of the stake asset).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The assessor's stake afterwards (base units of the stake asset).
            #[serde(with = "crate::amount")]
            stake: u128,
        },
        /// An assessor voted on a claim.
        0x08 => Voted {
            /// The claim.
            claim: ClaimId,
            /// The assessor.
            assessor: Address,
            /// True to approve, false to deny.
            approve: bool,
            /// The assessor's stake counted (base units of the stake asset).
            #[serde(with = "crate::amount")]
            weight: u128,
        },
        /// A claim was settled after its voting period.
        0x09 => ClaimResolved {
            /// The cover pool.
            pool: PoolId,
            /// The cover.
            cover: CoverId,
            /// The claim.
            claim: ClaimId,
            /// How the claim was resolved.
            status: ClaimStatus,
            /// Stake that voted to approve (base units of the stake asset).
            #[serde(with = "crate::amount")]
            approve: u128,
            /// Stake voting to deny (base units of the stake asset).
            #[serde(with = "crate::amount")]
            deny: u128,
            /// Paid to the claimant (base units of the capital asset).
            #[serde(with = "crate::amount")]
            payout: u128,
        },
        /// Expired cover gave its capacity back (and its premiums are earned).
        0x0a => CapacityReleased {
            /// The cover pool.
            pool: PoolId,
            /// Cover amount released (base units of the capital asset).
            #[serde(with = "crate::amount")]
            cover: u128,
            /// Premiums of that cover, now earned (base units).
            #[serde(with = "crate::amount")]
            premium: u128,
        },
        /// A parametric product was created.
        0x0b => ProductCreated {
            /// The product.
            product: ProductId,
            /// Its pool.
            pool: PoolId,
            /// Its name.
            name: RiskName,
        },
        /// A product's trigger fired at the end of a block.
        0x0c => TriggerFired {
            /// The product.
            product: ProductId,
            /// Measured loss (basis points; 10000 for full payouts).
            loss_bps: u32,
            /// Covers owed a payout for this event.
            covers: u32,
            /// Their payouts in total, reserved from the pool's capital (base units).
            #[serde(with = "crate::amount")]
            owed: u128,
        },
        /// A parametric cover was paid automatically.
        0x0d => ParametricPaid {
            /// The product.
            product: ProductId,
            /// The cover.
            cover: CoverId,
            /// The holder paid.
            holder: Address,
            /// Height the trigger fired at.
            event_height: u64,
            /// Paid (base units of the capital asset).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
    }
}

crate::tagged_enum! {
    /// Why a `cover` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum CoverError {
        /// A pool with this id already exists.
        #[error("cover pool {pool} already exists")]
        0x02 => PoolExists {
            /// The cover pool.
            pool: PoolId,
        },
        /// No pool has this id.
        #[error("no cover pool {pool}")]
        0x03 => UnknownPool {
            /// The cover pool.
            pool: PoolId,
        },
        /// The pool parameters are invalid.
        #[error("invalid pool parameters: {detail}")]
        0x04 => BadParams {
            /// What is wrong (at most `MAX_DETAIL_BYTES`).
            detail: Text<MAX_DETAIL_BYTES>,
        },
        /// The action names an asset the pool does not use there.
        #[error("pool {pool} uses asset {expected}, the action names asset {given}")]
        0x05 => WrongAsset {
            /// The cover pool.
            pool: PoolId,
            /// The value the state holds.
            expected: AssetId,
            /// The value the action names.
            given: AssetId,
        },
        /// The amount is zero.
        #[error("amount must be positive")]
        0x06 => ZeroAmount {},
        /// The pool's first deposit is too small.
        #[error("a pool's first deposit must be at least {minimum} (it locks {locked} shares forever); got {amount}", locked = LOCKED_SHARES)]
        0x07 => FirstDepositTooSmall {
            /// Amount deposited (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Least first deposit (base units).
            #[serde(with = "crate::amount")]
            minimum: u128,
        },
        /// The deposit mints fewer shares than the action's minimum.
        #[error("deposit would mint {shares} shares, below the minimum {min_shares}")]
        0x08 => SharesBelowMinimum {
            /// Shares the deposit would mint.
            #[serde(with = "crate::amount")]
            shares: u128,
            /// Fewest shares to accept.
            #[serde(with = "crate::amount")]
            min_shares: u128,
        },
        /// The deposit is worth less than one share.
        #[error("deposit of {amount} is worth less than one share")]
        0x09 => ZeroShares {
            /// Amount deposited (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
        },
        /// The pool's shares are backed by no capital; it takes no deposits.
        #[error("pool {pool} has no capital left behind its shares: deposits are closed")]
        0x0a => PoolInsolvent {
            /// The cover pool.
            pool: PoolId,
        },
        /// Burning more shares than held.
        #[error("withdrawing {requested} shares, only {held} held")]
        0x0b => InsufficientShares {
            /// Shares held.
            #[serde(with = "crate::amount")]
            held: u128,
            /// Shares to burn.
            #[serde(with = "crate::amount")]
            requested: u128,
        },
        /// The withdrawal pays less than the action's minimum.
        #[error("withdrawal would pay {amount}, below the minimum {min_amount}")]
        0x0c => AmountBelowMinimum {
            /// Capital the withdrawal would pay (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The action's minimum (base units).
            #[serde(with = "crate::amount")]
            min_amount: u128,
        },
        /// The shares are worth nothing.
        #[error("{shares} shares are worth nothing at the current withdrawal value")]
        0x0d => NothingToWithdraw {
            /// Shares to burn.
            #[serde(with = "crate::amount")]
            shares: u128,
        },
        /// The withdrawal exceeds the capital not locked by exposure.
        #[error("withdrawal of {requested} exceeds the capital not locked by cover and claims ({free})")]
        0x0e => CapitalLocked {
            /// Capital the withdrawal would pay (base units).
            #[serde(with = "crate::amount")]
            requested: u128,
            /// Capital not locked by cover and claims (base units).
            #[serde(with = "crate::amount")]
            free: u128,
        },
        /// The pool does not cover the risk.
        #[error("pool {pool} does not cover risk {risk:?}")]
        0x0f => UnknownRisk {
            /// The cover pool.
            pool: PoolId,
            /// The risk (one of the pool's).
            risk: RiskName,
        },
        /// The cover period is outside the pool's limits.
        #[error("cover period of {blocks} blocks is outside the pool's {min}..={max}")]
        0x10 => PeriodOutOfRange {
            /// The period asked for (blocks).
            blocks: u64,
            /// The pool's shortest cover period (blocks).
            min: u64,
            /// The pool's longest cover period (blocks).
            max: u64,
        },
        /// The cover exceeds the pool's available capacity.
        #[error("cover of {requested} exceeds the pool's available capacity {available}")]
        0x11 => CapacityExceeded {
            /// Cover asked for (base units of the capital asset).
            #[serde(with = "crate::amount")]
            requested: u128,
            /// Capacity left for new cover (base units of the capital asset).
            #[serde(with = "crate::amount")]
            available: u128,
        },
        /// The premium is above the action's maximum.
        #[error("premium {premium} exceeds the maximum {max_premium}")]
        0x12 => PremiumTooHigh {
            /// Premium due (base units of the capital asset).
            #[serde(with = "crate::amount")]
            premium: u128,
            /// Most premium to pay (base units of the capital asset).
            #[serde(with = "crate::amount")]
            max_premium: u128,
        },
        /// A cover with this id already exists.
        #[error("cover id {cover} is already taken")]
        0x13 => CoverIdTaken {
            /// The cover.
            cover: CoverId,
        },
        /// No cover has this id.
        #[error("no cover {cover}")]
        0x14 => UnknownCover {
            /// The cover.
            cover: CoverId,
        },
        /// The object belongs to another pool than the action names.
        #[error("the object belongs to pool {expected}, the action names pool {given}")]
        0x15 => WrongPool {
            /// The value the state holds.
            expected: PoolId,
            /// The value the action names.
            given: PoolId,
        },
        /// A claim by someone other than the cover's holder.
        #[error("cover {cover} belongs to {holder}")]
        0x16 => NotCoverHolder {
            /// The cover.
            cover: CoverId,
            /// The cover's holder.
            holder: Address,
        },
        /// The cover period has ended.
        #[error("cover {cover} ended at height {end_height}; it is now {height}")]
        0x17 => CoverExpired {
            /// The cover.
            cover: CoverId,
            /// First block the cover no longer covers.
            end_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The claim is above what the cover may still pay.
        #[error("claim of {amount} exceeds the cover's remaining {remaining}")]
        0x18 => ClaimExceedsCover {
            /// Amount claimed (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// What claims may still take from the cover (base units).
            #[serde(with = "crate::amount")]
            remaining: u128,
        },
        /// The cover already has an open claim.
        #[error("cover {cover} already has open claim {claim}")]
        0x19 => ClaimOpen {
            /// The cover.
            cover: CoverId,
            /// The open claim.
            claim: ClaimId,
        },
        /// A claim with this id already exists.
        #[error("claim id {claim} is already taken")]
        0x1a => ClaimIdTaken {
            /// The claim.
            claim: ClaimId,
        },
        /// No claim has this id.
        #[error("no claim {claim}")]
        0x1b => UnknownClaim {
            /// The claim.
            claim: ClaimId,
        },
        /// The claim is already resolved.
        #[error("claim {claim} is already resolved ({status})")]
        0x1c => ClaimClosed {
            /// The claim.
            claim: ClaimId,
            /// How it was resolved.
            status: ClaimStatus,
        },
        /// Voting on the claim has ended.
        #[error("voting on claim {claim} ended at height {vote_end_height}; it is now {height}")]
        0x1d => VotingClosed {
            /// The claim.
            claim: ClaimId,
            /// First height voting is closed.
            vote_end_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// Resolving before the claim's voting ends.
        #[error("voting on claim {claim} runs until height {vote_end_height}; it is now {height}")]
        0x1e => VotingOpen {
            /// The claim.
            claim: ClaimId,
            /// First height the claim may be resolved.
            vote_end_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The assessor already voted on the claim.
        #[error("already voted on claim {claim}")]
        0x1f => AlreadyVoted {
            /// The claim.
            claim: ClaimId,
        },
        /// The sender has no assessor stake in the pool.
        #[error("no assessor stake in pool {pool}")]
        0x20 => NoStake {
            /// The cover pool.
            pool: PoolId,
        },
        /// The claimant voted on its own claim.
        #[error("the claimant may not vote on their own claim {claim}")]
        0x21 => ClaimantCannotVote {
            /// The claim.
            claim: ClaimId,
        },
        /// The action names another cover than the claim's.
        #[error("claim {claim} is on cover {expected}, the action names cover {given}")]
        0x22 => WrongCover {
            /// The claim.
            claim: ClaimId,
            /// The value the state holds.
            expected: CoverId,
            /// The value the action names.
            given: CoverId,
        },
        /// The action names another claimant than the claim's.
        #[error("claim {claim} pays {expected}, the action names {given}")]
        0x23 => WrongClaimant {
            /// The claim.
            claim: ClaimId,
            /// The value the state holds.
            expected: Address,
            /// The value the action names.
            given: Address,
        },
        /// Unstaking more than staked.
        #[error("unstaking {requested}, only {staked} staked")]
        0x24 => InsufficientStake {
            /// Stake held (base units of the stake asset).
            #[serde(with = "crate::amount")]
            staked: u128,
            /// Stake to take back (base units).
            #[serde(with = "crate::amount")]
            requested: u128,
        },
        /// The stake is locked by a vote.
        #[error("stake is locked by votes until height {until_height}; it is now {height}")]
        0x25 => StakeLocked {
            /// Height from which the stake may be taken back.
            until_height: u64,
            /// Height of the block executing the action.
            height: u64,
        },
        /// The pool already has `MAX_BUCKETS` expiry epochs alive.
        #[error("pool {pool} has {max} expiry epochs alive already", max = MAX_BUCKETS)]
        0x26 => ScheduleFull {
            /// The cover pool.
            pool: PoolId,
        },
        /// The pool's ledger breaks an invariant (a bug, never expected).
        #[error("pool {pool} ledger is inconsistent: {detail}")]
        0x27 => Inconsistent {
            /// The cover pool.
            pool: PoolId,
            /// What is wrong (at most `MAX_DETAIL_BYTES`).
            detail: Text<MAX_DETAIL_BYTES>,
        },
        /// No product in this slot.
        #[error("no parametric product {product}")]
        0x28 => UnknownProduct {
            /// The product.
            product: ProductId,
        },
        /// The product slot is taken.
        #[error("product slot {product} is taken")]
        0x29 => ProductExists {
            /// The product.
            product: ProductId,
        },
        /// The product terms are invalid.
        #[error("invalid product: {detail}")]
        0x2a => BadProduct {
            /// What is wrong (at most `MAX_DETAIL_BYTES`).
            detail: Text<MAX_DETAIL_BYTES>,
        },
        /// The product already holds `MAX_HOLDINGS` live covers.
        #[error("product {product} holds the most live covers it can")]
        0x2b => ProductFull {
            /// The product.
            product: ProductId,
        },
        /// Parametric cover below the product's smallest amount.
        #[error("product {product} sells cover of at least {min_amount}; asked for {amount}")]
        0x2d => BelowProductMinimum {
            /// The product.
            product: ProductId,
            /// Cover asked for (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The product's smallest cover (base units).
            #[serde(with = "crate::amount")]
            min_amount: u128,
        },
        /// Parametric cover pays automatically; it takes no claims.
        #[error("cover {cover} is parametric: it pays when its trigger fires, without a claim")]
        0x2c => ParametricCover {
            /// The cover.
            cover: CoverId,
        },
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &CoverAction) -> u64 {
    match action {
        // Params, state and two asset reads.
        CoverAction::CreatePool { .. } => 4,
        // Pool state, position, two balances.
        CoverAction::Provide { .. } | CoverAction::Withdraw { .. } => 4,
        // Pool state, cover, two balances.
        CoverAction::Buy { .. } => 4,
        // Pool state, cover, claim.
        CoverAction::FileClaim { .. } => 3,
        // Assessor, stake total, two balances.
        CoverAction::StakeAssessor { .. } | CoverAction::UnstakeAssessor { .. } => 4,
        // Claim, assessor, vote.
        CoverAction::Vote { .. } => 3,
        // Claim, cover, pool state, two balances.
        CoverAction::Resolve { .. } => 5,
        // Product and pool reads.
        CoverAction::CreateProduct { .. } => 3,
        // Product, pool state, cover, two balances.
        CoverAction::BuyProduct { .. } => 5,
    }
}

/// Checks that hold regardless of state (zero amounts, malformed
/// parameters); ingest refuses an action that fails them with this reason.
pub fn check(action: &CoverAction) -> Result<(), String> {
    let positive = |amount: u128, what: &str| {
        if amount == 0 {
            Err(format!("{what} must be positive"))
        } else {
            Ok(())
        }
    };
    match action {
        CoverAction::CreatePool { params, .. } => validate_params(params),
        CoverAction::Provide { amount, .. } => positive(*amount, "amount"),
        CoverAction::Withdraw { shares, .. } => positive(*shares, "shares"),
        CoverAction::Buy {
            risk,
            amount,
            blocks,
            ..
        } => {
            positive(*amount, "amount")?;
            if *blocks == 0 {
                return Err("blocks must be positive".into());
            }
            check_risk_name(risk)
        }
        CoverAction::FileClaim { amount, .. }
        | CoverAction::StakeAssessor { amount, .. }
        | CoverAction::UnstakeAssessor { amount, .. } => positive(*amount, "amount"),
        CoverAction::Vote { .. } | CoverAction::Resolve { .. } => Ok(()),
        CoverAction::CreateProduct { product, params } => {
            if *product >= MAX_PRODUCTS {
                return Err(format!("product must be below {MAX_PRODUCTS}"));
            }
            validate_product(params)
        }
        CoverAction::BuyProduct {
            product,
            amount,
            blocks,
            ..
        } => {
            if *product >= MAX_PRODUCTS {
                return Err(format!("product must be below {MAX_PRODUCTS}"));
            }
            positive(*amount, "amount")?;
            if *blocks == 0 {
                return Err("blocks must be positive".into());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    fn params() -> PoolParams {
        PoolParams {
            capital_asset: AssetId(7),
            stake_asset: AssetId(8),
            capacity_bps: 8_000,
            base_rate: 1_000,
            slope_rate: 5_000,
            voting_period_blocks: 10,
            quorum: 100,
            min_period_blocks: 5,
            max_period_blocks: 1_000,
            risks: BoundedVec::new(vec![Text::new("dex:ETH/USDC").unwrap()]).unwrap(),
        }
    }

    #[test]
    fn actions_round_trip_in_codec_and_json() {
        let actions = vec![
            CoverAction::CreatePool {
                pool: 1,
                params: params(),
            },
            CoverAction::Buy {
                pool: 1,
                asset: AssetId(7),
                risk: Text::new("dex:ETH/USDC").unwrap(),
                amount: u128::MAX,
                blocks: 10,
                max_premium: 5,
            },
            CoverAction::Vote {
                pool: 1,
                claim: u64::MAX,
                approve: true,
            },
            CoverAction::Resolve {
                pool: 1,
                asset: AssetId(7),
                cover: 3,
                claim: 4,
                claimant: Address([9; 32]),
            },
            CoverAction::CreateProduct {
                product: 2,
                params: ProductParams {
                    pool: 1,
                    asset: AssetId(7),
                    name: Text::new("depeg:USDC").unwrap(),
                    trigger: Trigger::PoolLoss {
                        source: LossSource::DexReserve {
                            asset: AssetId(7),
                            other: AssetId(8),
                        },
                        loss_bps: 2_000,
                        window_blocks: 10,
                    },
                    proportional: true,
                    cooldown_blocks: 5,
                    batch: 4,
                    min_amount: u128::MAX,
                },
            },
            CoverAction::BuyProduct {
                product: 2,
                pool: 1,
                asset: AssetId(7),
                amount: 9,
                blocks: 10,
                max_premium: 1,
            },
        ];
        for a in actions {
            let bytes = a.encode();
            assert_eq!(CoverAction::decode_cfg(bytes, &()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<CoverAction>(&json).unwrap(), a);
        }
        let status = ClaimStatus::NoQuorum;
        assert_eq!(
            ClaimStatus::decode_cfg(status.encode(), &()).unwrap(),
            status
        );
        assert!(ClaimStatus::decode_cfg(bytes::Bytes::from_static(&[4]), &()).is_err());
        let json = serde_json::to_value(CoverError::CapacityExceeded {
            requested: 5,
            available: 4,
        })
        .unwrap();
        assert_eq!(json["code"], "capacity_exceeded");
        assert_eq!(json["requested"], "5");
    }

    #[test]
    fn params_are_validated() {
        assert_eq!(validate_params(&params()), Ok(()));
        let bad = [
            PoolParams {
                capacity_bps: 0,
                ..params()
            },
            PoolParams {
                capacity_bps: 10_001,
                ..params()
            },
            PoolParams {
                base_rate: 0,
                slope_rate: 0,
                ..params()
            },
            PoolParams {
                slope_rate: MAX_RATE + 1,
                ..params()
            },
            PoolParams {
                voting_period_blocks: 0,
                ..params()
            },
            PoolParams {
                quorum: 0,
                ..params()
            },
            PoolParams {
                min_period_blocks: 0,
                ..params()
            },
            PoolParams {
                min_period_blocks: 1_001,
                ..params()
            },
            PoolParams {
                max_period_blocks: MAX_PERIOD_BLOCKS + 1,
                ..params()
            },
            PoolParams {
                risks: BoundedVec::empty(),
                ..params()
            },
            PoolParams {
                risks: BoundedVec::new(vec![Text::new("a").unwrap(), Text::new("a").unwrap()])
                    .unwrap(),
                ..params()
            },
            PoolParams {
                risks: BoundedVec::new(vec![Text::new("has space").unwrap()]).unwrap(),
                ..params()
            },
        ];
        for p in bad {
            assert!(validate_params(&p).is_err(), "{p:?}");
        }
    }

    #[test]
    fn epochs_keep_the_schedule_bounded() {
        for max in [1u64, 2, 29, 30, 31, 100, 999, MAX_PERIOD_BLOCKS] {
            let p = PoolParams {
                min_period_blocks: 1,
                max_period_blocks: max,
                ..params()
            };
            let e = p.epoch_blocks();
            // Live epochs at height h: floor(h/e)+1 ..= ceil((h+max)/e).
            assert!(
                max.div_ceil(e) + 2 <= MAX_BUCKETS as u64,
                "max {max} epoch {e}"
            );
        }
    }

    #[test]
    fn ids_differ_by_kind_sender_and_nonce() {
        let a = Address([1; 32]);
        let b = Address([2; 32]);
        assert_ne!(cover_id(&a, 0), claim_id(&a, 0));
        assert_ne!(cover_id(&a, 0), cover_id(&a, 1));
        assert_ne!(cover_id(&a, 0), cover_id(&b, 0));
        assert_ne!(capital_custody(1), stake_custody(1));
        assert_ne!(capital_custody(1), capital_custody(2));
    }
}
