//! The module's actions, one method each. Every check comes before the first
//! write that depends on it; a failure rolls back whatever was written.

use super::state::{self};
use super::{keys, math};
use crate::modules::kit::{ActionError, TxContext, View};
use crate::modules::kit::{OrOverflow, fail, require_admin};
use crate::modules::kit::{asset_exists, load, move_asset, remove, store};
use lakh_types::codec::Text;
use lakh_types::modules::cover::{
    Assessor, Claim, ClaimId, ClaimStatus, Cover, CoverError, CoverEvent, CoverId, Holding,
    LOCKED_SHARES, MAX_DETAIL_BYTES, MAX_PRODUCTS, PoolId, PoolParams, PoolState, Position,
    Product, ProductId, ProductParams, RiskName, StakeTotal, Vote, capital_custody, claim_id,
    cover_id, stake_custody, validate_params, validate_product,
};
use lakh_types::{Address, AssetId, Event, FailureReason};

/// What a buyer asks for.
struct Terms<'a> {
    pool: PoolId,
    risk: &'a RiskName,
    amount: u128,
    blocks: u64,
    max_premium: u128,
}

pub(super) struct Run<'a, V: View> {
    pub ctx: &'a TxContext,
    pub view: &'a mut V,
    pub events: &'a mut Vec<Event>,
}

impl<V: View> Run<'_, V> {
    fn emit(&mut self, event: CoverEvent) {
        self.events.push(Event::Cover(event));
    }

    fn params(&self, pool: PoolId) -> Result<PoolParams, ActionError> {
        load::<PoolParams>(self.view, &keys::params(pool))?
            .ok_or_else(|| fail(CoverError::UnknownPool { pool }))
    }

    /// The pool's ledger with expired epochs released at this height.
    fn state(&mut self, pool: PoolId, params: &PoolParams) -> Result<PoolState, ActionError> {
        let mut state = load::<PoolState>(self.view, &keys::state(pool))?
            .ok_or_else(|| fail(state::inconsistent(pool, "pool has no ledger")))?;
        let released =
            state::roll(&mut state, pool, params.epoch_blocks(), self.ctx.height).map_err(fail)?;
        if released != state::Released::default() {
            self.emit(CoverEvent::CapacityReleased {
                pool,
                cover: released.cover,
                premium: released.premium,
            });
        }
        Ok(state)
    }

    fn check_asset(pool: PoolId, expected: AssetId, given: AssetId) -> Result<(), ActionError> {
        if expected != given {
            return Err(fail(CoverError::WrongAsset {
                pool,
                expected,
                given,
            }));
        }
        Ok(())
    }

    pub fn create_pool(&mut self, pool: PoolId, params: &PoolParams) -> Result<(), ActionError> {
        require_admin(self.view, &self.ctx.sender)?;
        validate_params(params).map_err(|detail| {
            fail(CoverError::BadParams {
                detail: Text::<MAX_DETAIL_BYTES>::clipped(&detail),
            })
        })?;
        if load::<PoolParams>(self.view, &keys::params(pool))?.is_some() {
            return Err(fail(CoverError::PoolExists { pool }));
        }
        for asset in [params.capital_asset, params.stake_asset] {
            if !asset_exists(self.view, asset)? {
                return Err(fail(FailureReason::UnknownAsset { asset }));
            }
        }
        store(self.view, &keys::params(pool), params)?;
        store(self.view, &keys::state(pool), &PoolState::default())?;
        self.emit(CoverEvent::PoolCreated {
            pool,
            capital_asset: params.capital_asset,
            stake_asset: params.stake_asset,
            epoch_blocks: params.epoch_blocks(),
        });
        Ok(())
    }

    pub fn provide(
        &mut self,
        pool: PoolId,
        asset: AssetId,
        amount: u128,
        min_shares: u128,
    ) -> Result<(), ActionError> {
        if amount == 0 {
            return Err(fail(CoverError::ZeroAmount {}));
        }
        let params = self.params(pool)?;
        Self::check_asset(pool, params.capital_asset, asset)?;
        let mut state = self.state(pool, &params)?;
        let height = self.ctx.height;
        let (shares, minted) = if state.total_shares == 0 {
            // The first deposit sets the price at one share per unit and locks
            // LOCKED_SHARES of it forever.
            if amount <= LOCKED_SHARES {
                return Err(fail(CoverError::FirstDepositTooSmall {
                    amount,
                    minimum: LOCKED_SHARES + 1,
                }));
            }
            (amount - LOCKED_SHARES, amount)
        } else {
            let value =
                state::deposit_value(&state, params.epoch_blocks(), height).or_overflow()?;
            if value == 0 {
                return Err(fail(CoverError::PoolInsolvent { pool }));
            }
            let shares =
                math::shares_for_deposit(amount, state.total_shares, value).or_overflow()?;
            if shares == 0 {
                return Err(fail(CoverError::ZeroShares { amount }));
            }
            (shares, shares)
        };
        if shares < min_shares {
            return Err(fail(CoverError::SharesBelowMinimum { shares, min_shares }));
        }
        let sender = self.ctx.sender;
        move_asset(
            self.view,
            asset,
            &sender,
            &capital_custody(pool),
            amount,
            self.events,
        )?;
        state.capital = state.capital.checked_add(amount).or_overflow()?;
        state.deposited = state.deposited.checked_add(amount).or_overflow()?;
        state.total_shares = state.total_shares.checked_add(minted).or_overflow()?;
        let position_key = keys::position(pool, &sender);
        let mut position = load::<Position>(self.view, &position_key)?.unwrap_or_default();
        position.shares = position.shares.checked_add(shares).or_overflow()?;
        store(self.view, &position_key, &position)?;
        store(self.view, &keys::state(pool), &state)?;
        self.emit(CoverEvent::Provided {
            pool,
            provider: sender,
            amount,
            shares,
        });
        Ok(())
    }

    pub fn withdraw(
        &mut self,
        pool: PoolId,
        asset: AssetId,
        shares: u128,
        min_amount: u128,
    ) -> Result<(), ActionError> {
        if shares == 0 {
            return Err(fail(CoverError::ZeroAmount {}));
        }
        let params = self.params(pool)?;
        Self::check_asset(pool, params.capital_asset, asset)?;
        let sender = self.ctx.sender;
        let position_key = keys::position(pool, &sender);
        let mut position = load::<Position>(self.view, &position_key)?.unwrap_or_default();
        if position.shares < shares {
            return Err(fail(CoverError::InsufficientShares {
                held: position.shares,
                requested: shares,
            }));
        }
        let mut state = self.state(pool, &params)?;
        let value =
            state::withdraw_value(&state, params.epoch_blocks(), self.ctx.height).or_overflow()?;
        // Positions sum to total_shares - LOCKED_SHARES, so total_shares > shares.
        let amount = math::amount_for_shares(shares, state.total_shares, value).or_overflow()?;
        if amount == 0 {
            return Err(fail(CoverError::NothingToWithdraw { shares }));
        }
        if amount < min_amount {
            return Err(fail(CoverError::AmountBelowMinimum { amount, min_amount }));
        }
        let free = state::free_capital(&state, params.capacity_bps).or_overflow()?;
        if amount > free {
            return Err(fail(CoverError::CapitalLocked {
                requested: amount,
                free,
            }));
        }
        move_asset(
            self.view,
            asset,
            &capital_custody(pool),
            &sender,
            amount,
            self.events,
        )?;
        // amount <= free <= capital; shares <= position <= total.
        state.capital -= amount;
        state.withdrawn = state.withdrawn.checked_add(amount).or_overflow()?;
        state.total_shares = state.total_shares.checked_sub(shares).or_overflow()?;
        position.shares -= shares;
        if position.shares == 0 {
            remove(self.view, &position_key)?;
        } else {
            store(self.view, &position_key, &position)?;
        }
        store(self.view, &keys::state(pool), &state)?;
        self.emit(CoverEvent::Withdrawn {
            pool,
            provider: sender,
            shares,
            amount,
        });
        Ok(())
    }

    pub fn buy(
        &mut self,
        pool: PoolId,
        asset: AssetId,
        risk: &RiskName,
        amount: u128,
        blocks: u64,
        max_premium: u128,
    ) -> Result<(), ActionError> {
        let params = self.params(pool)?;
        Self::check_asset(pool, params.capital_asset, asset)?;
        if !params.covers_risk(risk) {
            return Err(fail(CoverError::UnknownRisk {
                pool,
                risk: risk.clone(),
            }));
        }
        let terms = Terms {
            pool,
            risk,
            amount,
            blocks,
            max_premium,
        };
        self.sell(&params, &terms)?;
        Ok(())
    }

    /// Prices and sells cover on the pool (capacity checked), storing the
    /// cover and taking the premium.
    fn sell(
        &mut self,
        params: &PoolParams,
        t: &Terms<'_>,
    ) -> Result<(CoverId, Cover), ActionError> {
        let sender = self.ctx.sender;
        let height = self.ctx.height;
        let id = cover_id(&sender, self.ctx.nonce);
        let cover_key = keys::cover(id);
        if load::<Cover>(self.view, &cover_key)?.is_some() {
            return Err(fail(CoverError::CoverIdTaken { cover: id }));
        }
        let mut state = self.state(t.pool, params)?;
        let quote = state::quote(params, &state, t.amount, t.blocks, height).map_err(fail)?;
        if quote.premium > t.max_premium {
            return Err(fail(CoverError::PremiumTooHigh {
                premium: quote.premium,
                max_premium: t.max_premium,
            }));
        }
        state::add_cover(&mut state, t.pool, &quote, t.amount, height).map_err(fail)?;
        move_asset(
            self.view,
            params.capital_asset,
            &sender,
            &capital_custody(t.pool),
            quote.premium,
            self.events,
        )?;
        let cover = Cover {
            pool: t.pool,
            holder: sender,
            risk: t.risk.clone(),
            amount: t.amount,
            paid: 0,
            premium: quote.premium,
            start_height: height,
            end_height: quote.end_height,
            release_epoch: quote.release_epoch,
            open_claim: None,
        };
        store(self.view, &cover_key, &cover)?;
        store(self.view, &keys::state(t.pool), &state)?;
        self.emit(CoverEvent::CoverBought {
            pool: t.pool,
            cover: id,
            holder: sender,
            risk: t.risk.clone(),
            amount: t.amount,
            premium: quote.premium,
            start_height: height,
            end_height: quote.end_height,
        });
        Ok((id, cover))
    }

    pub fn create_product(
        &mut self,
        product: ProductId,
        params: &ProductParams,
    ) -> Result<(), ActionError> {
        require_admin(self.view, &self.ctx.sender)?;
        if product >= MAX_PRODUCTS {
            return Err(fail(CoverError::UnknownProduct { product }));
        }
        validate_product(params).map_err(|detail| {
            fail(CoverError::BadProduct {
                detail: Text::<MAX_DETAIL_BYTES>::clipped(&detail),
            })
        })?;
        let pool_params = self.params(params.pool)?;
        Self::check_asset(params.pool, pool_params.capital_asset, params.asset)?;
        if pool_params.covers_risk(&params.name) {
            return Err(fail(CoverError::BadProduct {
                detail: Text::clipped("the name is one of the pool's claimable risks"),
            }));
        }
        let key = keys::product(product);
        if load::<Product>(self.view, &key)?.is_some() {
            return Err(fail(CoverError::ProductExists { product }));
        }
        let stored = Product {
            params: params.clone(),
            created_height: self.ctx.height,
            watch: Default::default(),
            cursor: None,
            holdings: Default::default(),
            paid_out: 0,
        };
        store(self.view, &key, &stored)?;
        self.emit(CoverEvent::ProductCreated {
            product,
            pool: params.pool,
            name: params.name.clone(),
        });
        Ok(())
    }

    pub fn buy_product(
        &mut self,
        product_id: ProductId,
        pool: PoolId,
        asset: AssetId,
        amount: u128,
        blocks: u64,
        max_premium: u128,
    ) -> Result<(), ActionError> {
        let key = keys::product(product_id);
        let mut product = load::<Product>(self.view, &key)?.ok_or_else(|| {
            fail(CoverError::UnknownProduct {
                product: product_id,
            })
        })?;
        Self::check_pool(product.params.pool, pool)?;
        if amount < product.params.min_amount {
            return Err(fail(CoverError::BelowProductMinimum {
                product: product_id,
                amount,
                min_amount: product.params.min_amount,
            }));
        }
        let params = self.params(pool)?;
        Self::check_asset(pool, params.capital_asset, asset)?;
        let terms = Terms {
            pool,
            risk: &product.params.name.clone(),
            amount,
            blocks,
            max_premium,
        };
        let (id, cover) = self.sell(&params, &terms)?;
        let holding = Holding {
            cover: id,
            holder: cover.holder,
            amount,
            start_height: cover.start_height,
            end_height: cover.end_height,
            release_epoch: cover.release_epoch,
            event_height: None,
            owed: 0,
            paid: false,
        };
        if product.holdings.try_push(holding).is_err() {
            return Err(fail(CoverError::ProductFull {
                product: product_id,
            }));
        }
        store(self.view, &key, &product)
    }

    fn load_cover(&self, id: CoverId) -> Result<Cover, ActionError> {
        load::<Cover>(self.view, &keys::cover(id))?
            .ok_or_else(|| fail(CoverError::UnknownCover { cover: id }))
    }

    fn load_claim(&self, id: ClaimId) -> Result<Claim, ActionError> {
        load::<Claim>(self.view, &keys::claim(id))?
            .ok_or_else(|| fail(CoverError::UnknownClaim { claim: id }))
    }

    fn check_pool(expected: PoolId, given: PoolId) -> Result<(), ActionError> {
        if expected != given {
            return Err(fail(CoverError::WrongPool { expected, given }));
        }
        Ok(())
    }

    pub fn file_claim(
        &mut self,
        pool: PoolId,
        cover_id: CoverId,
        amount: u128,
    ) -> Result<(), ActionError> {
        if amount == 0 {
            return Err(fail(CoverError::ZeroAmount {}));
        }
        let sender = self.ctx.sender;
        let height = self.ctx.height;
        let mut cover = self.load_cover(cover_id)?;
        Self::check_pool(cover.pool, pool)?;
        let params = self.params(pool)?;
        if !params.covers_risk(&cover.risk) {
            return Err(fail(CoverError::ParametricCover { cover: cover_id }));
        }
        if cover.holder != sender {
            return Err(fail(CoverError::NotCoverHolder {
                cover: cover_id,
                holder: cover.holder,
            }));
        }
        if height >= cover.end_height {
            return Err(fail(CoverError::CoverExpired {
                cover: cover_id,
                end_height: cover.end_height,
                height,
            }));
        }
        if let Some(claim) = cover.open_claim {
            return Err(fail(CoverError::ClaimOpen {
                cover: cover_id,
                claim,
            }));
        }
        if amount > cover.remaining() {
            return Err(fail(CoverError::ClaimExceedsCover {
                amount,
                remaining: cover.remaining(),
            }));
        }
        let id = claim_id(&sender, self.ctx.nonce);
        let claim_key = keys::claim(id);
        if load::<Claim>(self.view, &claim_key)?.is_some() {
            return Err(fail(CoverError::ClaimIdTaken { claim: id }));
        }
        let mut state = self.state(pool, &params)?;
        // height < end <= release height: the cover's epoch is live.
        state::update_bucket(&mut state, pool, cover.release_epoch, |b| {
            b.claimed = b.claimed.checked_add(amount)?;
            (b.claimed <= b.cover).then_some(())
        })
        .map_err(fail)?;
        state.pending_claims = state.pending_claims.checked_add(amount).or_overflow()?;
        state.claims_filed = state.claims_filed.checked_add(1).or_overflow()?;
        let vote_end_height = height
            .checked_add(params.voting_period_blocks)
            .or_overflow()?;
        let claim = Claim {
            pool,
            cover: cover_id,
            claimant: sender,
            amount,
            filed_height: height,
            vote_end_height,
            approve: 0,
            deny: 0,
            voters: 0,
            status: ClaimStatus::Open,
            payout: 0,
        };
        cover.open_claim = Some(id);
        store(self.view, &claim_key, &claim)?;
        store(self.view, &keys::cover(cover_id), &cover)?;
        store(self.view, &keys::state(pool), &state)?;
        self.emit(CoverEvent::ClaimFiled {
            pool,
            cover: cover_id,
            claim: id,
            claimant: sender,
            amount,
            vote_end_height,
        });
        Ok(())
    }

    pub fn stake(&mut self, pool: PoolId, asset: AssetId, amount: u128) -> Result<(), ActionError> {
        if amount == 0 {
            return Err(fail(CoverError::ZeroAmount {}));
        }
        let params = self.params(pool)?;
        Self::check_asset(pool, params.stake_asset, asset)?;
        let sender = self.ctx.sender;
        let assessor_key = keys::assessor(pool, &sender);
        let total_key = keys::stake_total(pool);
        move_asset(
            self.view,
            asset,
            &sender,
            &stake_custody(pool),
            amount,
            self.events,
        )?;
        // Stakes sum to the custody balance, so these fit whenever it did.
        let mut assessor = load::<Assessor>(self.view, &assessor_key)?.unwrap_or_default();
        let mut total = load::<StakeTotal>(self.view, &total_key)?.unwrap_or_default();
        assessor.stake = assessor.stake.checked_add(amount).or_overflow()?;
        total.total = total.total.checked_add(amount).or_overflow()?;
        store(self.view, &assessor_key, &assessor)?;
        store(self.view, &total_key, &total)?;
        self.emit(CoverEvent::AssessorStaked {
            pool,
            assessor: sender,
            amount,
            stake: assessor.stake,
        });
        Ok(())
    }

    pub fn unstake(
        &mut self,
        pool: PoolId,
        asset: AssetId,
        amount: u128,
    ) -> Result<(), ActionError> {
        if amount == 0 {
            return Err(fail(CoverError::ZeroAmount {}));
        }
        let params = self.params(pool)?;
        Self::check_asset(pool, params.stake_asset, asset)?;
        let sender = self.ctx.sender;
        let height = self.ctx.height;
        let assessor_key = keys::assessor(pool, &sender);
        let total_key = keys::stake_total(pool);
        let mut assessor = load::<Assessor>(self.view, &assessor_key)?.unwrap_or_default();
        if assessor.stake < amount {
            return Err(fail(CoverError::InsufficientStake {
                staked: assessor.stake,
                requested: amount,
            }));
        }
        if height < assessor.locked_until_height {
            return Err(fail(CoverError::StakeLocked {
                until_height: assessor.locked_until_height,
                height,
            }));
        }
        let mut total = load::<StakeTotal>(self.view, &total_key)?.unwrap_or_default();
        total.total = total
            .total
            .checked_sub(amount)
            .ok_or_else(|| fail(state::inconsistent(pool, "stake above the pool total")))?;
        assessor.stake -= amount;
        move_asset(
            self.view,
            asset,
            &stake_custody(pool),
            &sender,
            amount,
            self.events,
        )?;
        if assessor.stake == 0 {
            remove(self.view, &assessor_key)?;
        } else {
            store(self.view, &assessor_key, &assessor)?;
        }
        if total.total == 0 {
            remove(self.view, &total_key)?;
        } else {
            store(self.view, &total_key, &total)?;
        }
        self.emit(CoverEvent::AssessorUnstaked {
            pool,
            assessor: sender,
            amount,
            stake: assessor.stake,
        });
        Ok(())
    }

    pub fn vote(
        &mut self,
        pool: PoolId,
        claim_id: ClaimId,
        approve: bool,
    ) -> Result<(), ActionError> {
        let sender = self.ctx.sender;
        let height = self.ctx.height;
        let mut claim = self.load_claim(claim_id)?;
        Self::check_pool(claim.pool, pool)?;
        if claim.status != ClaimStatus::Open {
            return Err(fail(CoverError::ClaimClosed {
                claim: claim_id,
                status: claim.status,
            }));
        }
        if height >= claim.vote_end_height {
            return Err(fail(CoverError::VotingClosed {
                claim: claim_id,
                vote_end_height: claim.vote_end_height,
                height,
            }));
        }
        if claim.claimant == sender {
            return Err(fail(CoverError::ClaimantCannotVote { claim: claim_id }));
        }
        let vote_key = keys::vote(claim_id, &sender);
        if load::<Vote>(self.view, &vote_key)?.is_some() {
            return Err(fail(CoverError::AlreadyVoted { claim: claim_id }));
        }
        let assessor_key = keys::assessor(pool, &sender);
        let mut assessor = load::<Assessor>(self.view, &assessor_key)?.unwrap_or_default();
        if assessor.stake == 0 {
            return Err(fail(CoverError::NoStake { pool }));
        }
        let weight = assessor.stake;
        if approve {
            claim.approve = claim.approve.checked_add(weight).or_overflow()?;
        } else {
            claim.deny = claim.deny.checked_add(weight).or_overflow()?;
        }
        claim.voters = claim.voters.checked_add(1).or_overflow()?;
        // The stake stays until this claim's voting ends.
        assessor.locked_until_height = assessor.locked_until_height.max(claim.vote_end_height);
        store(self.view, &vote_key, &Vote { approve, weight })?;
        store(self.view, &assessor_key, &assessor)?;
        store(self.view, &keys::claim(claim_id), &claim)?;
        self.emit(CoverEvent::Voted {
            claim: claim_id,
            assessor: sender,
            approve,
            weight,
        });
        Ok(())
    }

    pub fn resolve(
        &mut self,
        pool: PoolId,
        asset: AssetId,
        cover_id: CoverId,
        claim_id: ClaimId,
        claimant: &Address,
    ) -> Result<(), ActionError> {
        let height = self.ctx.height;
        let mut claim = self.load_claim(claim_id)?;
        Self::check_pool(claim.pool, pool)?;
        check_resolvable(&claim, claim_id, cover_id, claimant, height)?;
        let params = self.params(pool)?;
        Self::check_asset(pool, params.capital_asset, asset)?;
        let mut cover = self.load_cover(cover_id)?;
        if cover.open_claim != Some(claim_id) {
            return Err(fail(state::inconsistent(
                pool,
                "open claim is not the cover's open claim",
            )));
        }
        let mut state = self.state(pool, &params)?;

        let status = verdict(&claim, params.quorum)?;
        let payout = if status == ClaimStatus::Approved {
            // Capped by the cover left and the pool's capital (neither binds
            // while the capacity invariant holds).
            claim.amount.min(cover.remaining()).min(state.capital)
        } else {
            0
        };
        let live = state::release_height(cover.release_epoch, params.epoch_blocks())
            .is_none_or(|at| at > height);
        state::close_pending(
            &mut state,
            pool,
            cover.release_epoch,
            claim.amount,
            payout,
            live,
        )
        .map_err(fail)?;
        if payout > 0 {
            move_asset(
                self.view,
                asset,
                &capital_custody(pool),
                claimant,
                payout,
                self.events,
            )?;
            // payout <= capital.
            state.capital -= payout;
            state.paid_out = state.paid_out.checked_add(payout).or_overflow()?;
            cover.paid = cover.paid.checked_add(payout).or_overflow()?;
        }
        cover.open_claim = None;
        claim.status = status;
        claim.payout = payout;
        store(self.view, &keys::claim(claim_id), &claim)?;
        store(self.view, &keys::cover(cover_id), &cover)?;
        store(self.view, &keys::state(pool), &state)?;
        self.emit(CoverEvent::ClaimResolved {
            pool,
            cover: cover_id,
            claim: claim_id,
            status,
            approve: claim.approve,
            deny: claim.deny,
            payout,
        });
        Ok(())
    }
}

/// A claim may be resolved once it is the named cover's open claim of
/// `claimant` and its voting has ended.
fn check_resolvable(
    claim: &Claim,
    claim_id: ClaimId,
    cover_id: CoverId,
    claimant: &Address,
    height: u64,
) -> Result<(), ActionError> {
    if claim.cover != cover_id {
        return Err(fail(CoverError::WrongCover {
            claim: claim_id,
            expected: claim.cover,
            given: cover_id,
        }));
    }
    if claim.claimant != *claimant {
        return Err(fail(CoverError::WrongClaimant {
            claim: claim_id,
            expected: claim.claimant,
            given: *claimant,
        }));
    }
    if claim.status != ClaimStatus::Open {
        return Err(fail(CoverError::ClaimClosed {
            claim: claim_id,
            status: claim.status,
        }));
    }
    if height < claim.vote_end_height {
        return Err(fail(CoverError::VotingOpen {
            claim: claim_id,
            vote_end_height: claim.vote_end_height,
            height,
        }));
    }
    Ok(())
}

/// Approved with a quorum and more approvals than denials.
fn verdict(claim: &Claim, quorum: u128) -> Result<ClaimStatus, ActionError> {
    let votes = claim.approve.checked_add(claim.deny).or_overflow()?;
    Ok(if votes < quorum {
        ClaimStatus::NoQuorum
    } else if claim.approve > claim.deny {
        ClaimStatus::Approved
    } else {
        ClaimStatus::Denied
    })
}
