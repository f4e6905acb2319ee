//! A pool's ledger as a pure value: releasing expired cover, streamed
//! premiums, share values, capacity and quotes. Execution and queries share
//! these, so a quote is exactly what a purchase at the same height pays.

use super::math;
use lakh_types::FailureReason;
use lakh_types::codec::Text;
use lakh_types::modules::cover::{
    Bucket, CoverError, MAX_DETAIL_BYTES, PoolId, PoolParams, PoolState,
};

/// What releasing expired epochs gave back.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Released {
    pub cover: u128,
    pub premium: u128,
}

/// A price for cover, as [`quote`] computes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub premium: u128,
    /// Rate per block (1e18 = 100%) the premium is charged at.
    pub rate: u128,
    /// Utilization after the purchase (1e18 = full).
    pub utilization_after: u128,
    pub capacity: u128,
    /// Exposure the pool could still take before this purchase.
    pub available: u128,
    /// Blocks covered: claims are accepted while `height < end_height`.
    pub end_height: u64,
    /// The expiry epoch the cover is released in, at height `release_height`.
    pub release_epoch: u64,
    pub release_height: u64,
}

pub(crate) fn cover_err(e: CoverError) -> FailureReason {
    FailureReason::Cover(e)
}

pub(crate) fn inconsistent(pool: PoolId, detail: &str) -> FailureReason {
    cover_err(CoverError::Inconsistent {
        pool,
        detail: Text::<MAX_DETAIL_BYTES>::clipped(detail),
    })
}

/// Height at which `epoch` is released (`None` past u64).
pub fn release_height(epoch: u64, epoch_blocks: u64) -> Option<u64> {
    epoch.checked_mul(epoch_blocks)
}

/// Exposure the capacity must cover: active cover plus pending claims on
/// released cover.
pub fn exposure(state: &PoolState) -> Option<u128> {
    state.active_cover.checked_add(state.released_claims)
}

/// Releases every epoch whose boundary is at or below `height`: its cover
/// stops counting as active, its pending claims become claims on released
/// cover, its premiums are fully earned.
pub fn roll(
    state: &mut PoolState,
    pool: PoolId,
    epoch_blocks: u64,
    height: u64,
) -> Result<Released, FailureReason> {
    let mut released = Released::default();
    while let Some(first) = state.buckets.first() {
        // An epoch whose boundary does not fit in u64 is never reached.
        match release_height(first.epoch, epoch_blocks) {
            Some(at) if at <= height => {}
            _ => break,
        }
        let bucket = state.buckets.as_mut_vec_within_bound().remove(0);
        state.active_cover = state
            .active_cover
            .checked_sub(bucket.cover)
            .ok_or_else(|| inconsistent(pool, "released cover above active cover"))?;
        state.released_claims = state
            .released_claims
            .checked_add(bucket.claimed)
            .ok_or(FailureReason::Overflow)?;
        released.cover = released.cover.saturating_add(bucket.cover);
        released.premium = released.premium.saturating_add(bucket.premium);
    }
    Ok(released)
}

/// Premiums paid for live cover and not yet earned at `height` (they are in
/// `capital` but not yet in the share value), rounded up. Assumes `roll` at
/// `height`.
pub fn unearned(state: &PoolState, epoch_blocks: u64, height: u64) -> Option<u128> {
    unearned_rounded(state, epoch_blocks, height, true)
}

fn unearned_rounded(
    state: &PoolState,
    epoch_blocks: u64,
    height: u64,
    round_up: bool,
) -> Option<u128> {
    let mut total: u128 = 0;
    for b in state.buckets.iter() {
        let left = release_height(b.epoch, epoch_blocks)
            .unwrap_or(u64::MAX)
            .saturating_sub(height);
        total = total.checked_add(math::unearned(b.premium, b.rate, left, round_up)?)?;
    }
    Some(total)
}

/// What the shares are worth to a depositor: capital less unearned premiums
/// (rounded down, so the value is not understated).
pub fn deposit_value(state: &PoolState, epoch_blocks: u64, height: u64) -> Option<u128> {
    Some(
        state
            .capital
            .saturating_sub(unearned_rounded(state, epoch_blocks, height, false)?),
    )
}

/// What the shares are worth to a withdrawer: capital less unearned premiums
/// (rounded up) and less every pending claim (as if all were paid), so nobody
/// escapes a loss that is being voted on.
pub fn withdraw_value(state: &PoolState, epoch_blocks: u64, height: u64) -> Option<u128> {
    Some(
        state
            .capital
            .saturating_sub(unearned(state, epoch_blocks, height)?)
            .saturating_sub(state.pending_claims),
    )
}

/// Capital providers may take out: capital above what the exposure locks.
pub fn free_capital(state: &PoolState, capacity_bps: u32) -> Option<u128> {
    let locked = math::locked_capital(exposure(state)?, capacity_bps)?;
    Some(state.capital.saturating_sub(locked))
}

/// The price of `amount` of cover for `blocks` blocks bought at `height`,
/// against a state rolled to `height`. Refuses what the purchase would:
/// periods out of range, exceeded capacity, overflow.
pub fn quote(
    params: &PoolParams,
    state: &PoolState,
    amount: u128,
    blocks: u64,
    height: u64,
) -> Result<Quote, FailureReason> {
    if amount == 0 {
        return Err(cover_err(CoverError::ZeroAmount {}));
    }
    if blocks < params.min_period_blocks || blocks > params.max_period_blocks {
        return Err(cover_err(CoverError::PeriodOutOfRange {
            blocks,
            min: params.min_period_blocks,
            max: params.max_period_blocks,
        }));
    }
    let overflow = || FailureReason::Overflow;
    let capacity = math::capacity(state.capital, params.capacity_bps).ok_or_else(overflow)?;
    let exposure = exposure(state).ok_or_else(overflow)?;
    let available = capacity.saturating_sub(exposure);
    if amount > available {
        return Err(cover_err(CoverError::CapacityExceeded {
            requested: amount,
            available,
        }));
    }
    // exposure + amount <= capacity: no overflow.
    let utilization_after = math::utilization(exposure + amount, capacity).ok_or_else(overflow)?;
    let rate =
        math::rate(params.base_rate, params.slope_rate, utilization_after).ok_or_else(overflow)?;
    let premium = math::premium(amount, blocks, rate).ok_or_else(overflow)?;
    let epoch_blocks = params.epoch_blocks();
    let end_height = height.checked_add(blocks).ok_or_else(overflow)?;
    let release_epoch = end_height.div_ceil(epoch_blocks);
    let release_height = release_height(release_epoch, epoch_blocks).ok_or_else(overflow)?;
    Ok(Quote {
        premium,
        rate,
        utilization_after,
        capacity,
        available,
        end_height,
        release_epoch,
        release_height,
    })
}

/// Adds a purchase priced by `q` at `height` to the expiry schedule and the
/// totals (the premium itself is added to capital by the caller's transfer).
pub fn add_cover(
    state: &mut PoolState,
    pool: PoolId,
    q: &Quote,
    amount: u128,
    height: u64,
) -> Result<(), FailureReason> {
    let overflow = || FailureReason::Overflow;
    // release_height >= end_height > height.
    let rate = math::stream_rate(q.premium, q.release_height - height).ok_or_else(overflow)?;
    let mut buckets = state.buckets.as_mut_vec_within_bound();
    let mut index = 0;
    let mut found = false;
    for (i, b) in buckets.iter_mut().enumerate() {
        if b.epoch < q.release_epoch {
            index = i + 1;
            continue;
        }
        if b.epoch == q.release_epoch {
            b.cover = b.cover.checked_add(amount).ok_or_else(overflow)?;
            b.premium = b.premium.checked_add(q.premium).ok_or_else(overflow)?;
            b.rate = b.rate.checked_add(rate).ok_or_else(overflow)?;
            found = true;
        }
        break;
    }
    if !found {
        let bucket = Bucket {
            epoch: q.release_epoch,
            cover: amount,
            claimed: 0,
            premium: q.premium,
            rate,
        };
        if buckets.insert(index, bucket).is_err() {
            return Err(cover_err(CoverError::ScheduleFull { pool }));
        }
    }
    state.active_cover = state
        .active_cover
        .checked_add(amount)
        .ok_or_else(overflow)?;
    state.capital = state.capital.checked_add(q.premium).ok_or_else(overflow)?;
    state.premiums = state.premiums.checked_add(q.premium).ok_or_else(overflow)?;
    state.covers_sold = state.covers_sold.checked_add(1).ok_or_else(overflow)?;
    Ok(())
}

/// Applies `f` to the live bucket of `epoch`.
pub(crate) fn update_bucket(
    state: &mut PoolState,
    pool: PoolId,
    epoch: u64,
    f: impl FnOnce(&mut Bucket) -> Option<()>,
) -> Result<(), FailureReason> {
    let mut buckets = state.buckets.as_mut_vec_within_bound();
    let bucket = buckets
        .iter_mut()
        .find(|b| b.epoch == epoch)
        .ok_or_else(|| inconsistent(pool, "live cover has no expiry bucket"))?;
    f(bucket).ok_or_else(|| inconsistent(pool, "expiry bucket totals below a cover's share"))
}

/// A pending claim of `claimed` on a cover of epoch `release_epoch` stops
/// being pending, `payout` of it paid: the payout shrinks the bucket while
/// its epoch is `live`, else the claim leaves the released claims.
pub(crate) fn close_pending(
    state: &mut PoolState,
    pool: PoolId,
    release_epoch: u64,
    claimed: u128,
    payout: u128,
    live: bool,
) -> Result<(), FailureReason> {
    if live {
        update_bucket(state, pool, release_epoch, |b| {
            b.claimed = b.claimed.checked_sub(claimed)?;
            b.cover = b.cover.checked_sub(payout)?;
            Some(())
        })?;
        state.active_cover = state
            .active_cover
            .checked_sub(payout)
            .ok_or_else(|| inconsistent(pool, "payout above active cover"))?;
    } else {
        state.released_claims = state
            .released_claims
            .checked_sub(claimed)
            .ok_or_else(|| inconsistent(pool, "claim above released claims"))?;
    }
    state.pending_claims = state
        .pending_claims
        .checked_sub(claimed)
        .ok_or_else(|| inconsistent(pool, "claim above pending claims"))?;
    Ok(())
}

/// Reserves `owed` for a cover of epoch `release_epoch` (live at the
/// event), as a pending claim: withdrawals cannot take it and the
/// capacity keeps covering it until it is paid.
pub(crate) fn reserve_claim(
    state: &mut PoolState,
    pool: PoolId,
    release_epoch: u64,
    owed: u128,
) -> Result<(), FailureReason> {
    update_bucket(state, pool, release_epoch, |b| {
        b.claimed = b.claimed.checked_add(owed)?;
        (b.claimed <= b.cover).then_some(())
    })?;
    state.pending_claims = state
        .pending_claims
        .checked_add(owed)
        .ok_or(FailureReason::Overflow)?;
    Ok(())
}
