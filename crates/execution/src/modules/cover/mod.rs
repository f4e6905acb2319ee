//! Insurance: cover pools funded by capital providers, cover bought on the
//! pools' named risks, claims voted on by staked assessors; and parametric
//! products whose triggers the chain evaluates at the end of every block,
//! paying their holders without a claim ([`end_block`]).
//!
//! A pool's capital sits in its capital custody account and its assessor
//! stake in its stake custody account ([`capital_custody`],
//! [`stake_custody`]); its ledger ([`PoolState`]) tracks the capital exactly.
//! Cover releases its capacity at epoch boundaries (an expiry schedule of at
//! most [`MAX_BUCKETS`](lakh_types::modules::cover::MAX_BUCKETS) live epochs
//! kept in the pool), premiums are earned linearly until the cover's release,
//! and withdrawals value shares net of every pending claim. Rules and
//! formulas: `docs/modules/cover.md`.

mod actions;
pub mod math;
mod query;
pub mod state;
mod trigger;

pub use query::query;
pub(crate) use trigger::end_block;
pub use trigger::{hook_keys, product_keys};

use crate::modules::kit::{Access, ActionError, TxContext, View};
use crate::modules::kit::{declare_asset_read, declare_balance, declare_config, object_key};
use lakh_state::{StateKey, object_kind};
use lakh_types::modules::cover::{
    ClaimId, CoverAction, CoverId, PoolId, ProductId, capital_custody, claim_id, cover_id, kind,
    stake_custody,
};
use lakh_types::{Address, Event};

const _: () = {
    let range = object_kind::COVER;
    assert!(kind::POOL_PARAMS >= range.start && kind::PAYOUT_LOG < range.end);
};

/// State keys of the module's objects.
pub mod keys {
    use super::*;

    pub fn params(pool: PoolId) -> StateKey {
        object_key(kind::POOL_PARAMS, &[&pool.to_be_bytes()])
    }
    pub fn state(pool: PoolId) -> StateKey {
        object_key(kind::POOL_STATE, &[&pool.to_be_bytes()])
    }
    pub fn position(pool: PoolId, owner: &Address) -> StateKey {
        object_key(kind::POSITION, &[&pool.to_be_bytes(), owner.as_bytes()])
    }
    pub fn cover(cover: CoverId) -> StateKey {
        object_key(kind::COVER, &[&cover.to_be_bytes()])
    }
    pub fn claim(claim: ClaimId) -> StateKey {
        object_key(kind::CLAIM, &[&claim.to_be_bytes()])
    }
    pub fn assessor(pool: PoolId, owner: &Address) -> StateKey {
        object_key(kind::ASSESSOR, &[&pool.to_be_bytes(), owner.as_bytes()])
    }
    pub fn vote(claim: ClaimId, voter: &Address) -> StateKey {
        object_key(kind::VOTE, &[&claim.to_be_bytes(), voter.as_bytes()])
    }
    pub fn stake_total(pool: PoolId) -> StateKey {
        object_key(kind::STAKE_TOTAL, &[&pool.to_be_bytes()])
    }
    pub fn product(product: ProductId) -> StateKey {
        object_key(kind::PRODUCT, &[&[product]])
    }
    pub fn payout_log(owner: &Address) -> StateKey {
        object_key(kind::PAYOUT_LOG, &[owner.as_bytes()])
    }
}

/// Declares every key `action` may read or write, except the sender's
/// account. Balances are declared for the asset the action names; execution
/// refuses an asset that is not the pool's.
pub(crate) fn access(
    sender: &Address,
    nonce: u64,
    action: &CoverAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        CoverAction::CreatePool { pool, params } => {
            declare_config(visit);
            declare_asset_read(params.capital_asset, visit);
            declare_asset_read(params.stake_asset, visit);
            visit(keys::params(*pool), Access::Write);
            visit(keys::state(*pool), Access::Write);
        }
        CoverAction::Provide { pool, asset, .. } | CoverAction::Withdraw { pool, asset, .. } => {
            visit(keys::params(*pool), Access::Read);
            visit(keys::state(*pool), Access::Write);
            visit(keys::position(*pool, sender), Access::Write);
            declare_balance(sender, *asset, visit);
            declare_balance(&capital_custody(*pool), *asset, visit);
        }
        CoverAction::Buy { pool, asset, .. } => {
            visit(keys::params(*pool), Access::Read);
            visit(keys::state(*pool), Access::Write);
            visit(keys::cover(cover_id(sender, nonce)), Access::Write);
            declare_balance(sender, *asset, visit);
            declare_balance(&capital_custody(*pool), *asset, visit);
        }
        CoverAction::FileClaim { pool, cover, .. } => {
            visit(keys::params(*pool), Access::Read);
            visit(keys::state(*pool), Access::Write);
            visit(keys::cover(*cover), Access::Write);
            visit(keys::claim(claim_id(sender, nonce)), Access::Write);
        }
        CoverAction::StakeAssessor { pool, asset, .. }
        | CoverAction::UnstakeAssessor { pool, asset, .. } => {
            visit(keys::params(*pool), Access::Read);
            visit(keys::assessor(*pool, sender), Access::Write);
            visit(keys::stake_total(*pool), Access::Write);
            declare_balance(sender, *asset, visit);
            declare_balance(&stake_custody(*pool), *asset, visit);
        }
        CoverAction::Vote { pool, claim, .. } => {
            visit(keys::claim(*claim), Access::Write);
            visit(keys::assessor(*pool, sender), Access::Write);
            visit(keys::vote(*claim, sender), Access::Write);
        }
        CoverAction::Resolve {
            pool,
            asset,
            cover,
            claim,
            claimant,
        } => {
            visit(keys::params(*pool), Access::Read);
            visit(keys::state(*pool), Access::Write);
            visit(keys::cover(*cover), Access::Write);
            visit(keys::claim(*claim), Access::Write);
            declare_balance(&capital_custody(*pool), *asset, visit);
            declare_balance(claimant, *asset, visit);
        }
        CoverAction::CreateProduct { product, params } => {
            declare_config(visit);
            visit(keys::params(params.pool), Access::Read);
            visit(keys::product(*product), Access::Write);
        }
        CoverAction::BuyProduct {
            product,
            pool,
            asset,
            ..
        } => {
            visit(keys::product(*product), Access::Write);
            visit(keys::params(*pool), Access::Read);
            visit(keys::state(*pool), Access::Write);
            visit(keys::cover(cover_id(sender, nonce)), Access::Write);
            declare_balance(sender, *asset, visit);
            declare_balance(&capital_custody(*pool), *asset, visit);
        }
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &CoverAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut run = actions::Run { ctx, view, events };
    match action {
        CoverAction::CreatePool { pool, params } => run.create_pool(*pool, params),
        CoverAction::Provide {
            pool,
            asset,
            amount,
            min_shares,
        } => run.provide(*pool, *asset, *amount, *min_shares),
        CoverAction::Withdraw {
            pool,
            asset,
            shares,
            min_amount,
        } => run.withdraw(*pool, *asset, *shares, *min_amount),
        CoverAction::Buy {
            pool,
            asset,
            risk,
            amount,
            blocks,
            max_premium,
        } => run.buy(*pool, *asset, risk, *amount, *blocks, *max_premium),
        CoverAction::FileClaim {
            pool,
            cover,
            amount,
        } => run.file_claim(*pool, *cover, *amount),
        CoverAction::StakeAssessor {
            pool,
            asset,
            amount,
        } => run.stake(*pool, *asset, *amount),
        CoverAction::UnstakeAssessor {
            pool,
            asset,
            amount,
        } => run.unstake(*pool, *asset, *amount),
        CoverAction::Vote {
            pool,
            claim,
            approve,
        } => run.vote(*pool, *claim, *approve),
        CoverAction::Resolve {
            pool,
            asset,
            cover,
            claim,
            claimant,
        } => run.resolve(*pool, *asset, *cover, *claim, claimant),
        CoverAction::CreateProduct { product, params } => run.create_product(*product, params),
        CoverAction::BuyProduct {
            product,
            pool,
            asset,
            amount,
            blocks,
            max_premium,
        } => run.buy_product(*product, *pool, *asset, *amount, *blocks, *max_premium),
    }
}
