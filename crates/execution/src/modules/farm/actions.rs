//! The farm's actions: create, stake, unstake, harvest, emergency withdraw, reclaim.

use super::math;
use super::math::Accrual;
use super::state::{Farm, Position, farm_key, position_key, reward_custody, stake_custody};
use crate::modules::kit::View;
use crate::modules::kit::{ActionError, TxContext};
use crate::modules::kit::{OrOverflow, RewardIndex, fail};
use crate::modules::kit::{asset_exists, load, move_asset, remove, store};
use lakh_types::{
    Address, AssetId, Event, FailureReason,
    modules::farm::{FarmError, FarmEvent, budget, farm_id},
};
#[allow(clippy::too_many_arguments)]
pub(super) fn create(
    ctx: &TxContext,
    view: &mut impl View,
    stake_asset: AssetId,
    reward_asset: AssetId,
    rate_per_block: u128,
    start_height: u64,
    end_height: u64,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let funded = budget(rate_per_block, start_height, end_height).map_err(fail)?;
    if start_height < ctx.height {
        return Err(fail(FarmError::StartInPast {
            start_height,
            height: ctx.height,
        }));
    }
    let id = farm_id(&ctx.sender, ctx.nonce);
    if load::<Farm>(view, &farm_key(id))?.is_some() {
        return Err(fail(FarmError::FarmExists { farm: id }));
    }
    for asset in [stake_asset, reward_asset] {
        if !asset_exists(view, asset)? {
            return Err(ActionError::Failed(FailureReason::UnknownAsset { asset }));
        }
    }
    move_asset(
        view,
        reward_asset,
        &ctx.sender,
        &reward_custody(id),
        funded,
        events,
    )?;
    let farm = Farm {
        id,
        creator: ctx.sender,
        stake_asset,
        reward_asset,
        rate_per_block,
        start_height,
        end_height,
        scheduled_end_height: end_height,
        funded,
        total_staked: 0,
        reward_per_token: 0,
        last_update_height: start_height,
        emitted: 0,
        paid: 0,
        forfeited: 0,
        reclaimed: 0,
        positions: 0,
    };
    store(view, &farm_key(id), &farm)?;
    events.push(Event::Farm(FarmEvent::Created {
        farm: id,
        creator: ctx.sender,
        stake_asset,
        reward_asset,
        rate_per_block,
        start_height,
        end_height,
        funded,
    }));
    Ok(())
}

/// Loads farm `id`, checks the asset the transaction named (so it touches
/// only the keys it declared) and brings the accumulator up to the block.
pub(super) fn load_farm(
    ctx: &TxContext,
    view: &impl View,
    id: u64,
    named: AssetId,
    expected: impl Fn(&Farm) -> AssetId,
    events: &mut Vec<Event>,
) -> Result<Farm, ActionError> {
    let mut farm =
        load::<Farm>(view, &farm_key(id))?.ok_or(fail(FarmError::UnknownFarm { farm: id }))?;
    let expected = expected(&farm);
    if named != expected {
        return Err(fail(FarmError::WrongAsset {
            farm: id,
            expected,
            got: named,
        }));
    }
    if let Accrual::Closed { at_height } = math::accrue(&mut farm, ctx.height) {
        events.push(Event::Farm(FarmEvent::EmissionClosed {
            farm: id,
            at_height,
        }));
    }
    Ok(farm)
}

pub(super) fn load_position(
    view: &impl View,
    farm: &Farm,
    owner: &Address,
) -> Result<Position, ActionError> {
    load::<Position>(view, &position_key(farm.id, owner))?.ok_or(fail(FarmError::NoPosition {
        farm: farm.id,
        owner: *owner,
    }))
}

/// Stores `p`, or removes it (and counts it out of `farm`) once empty;
/// then stores `farm`.
pub(super) fn save_position(
    view: &mut impl View,
    farm: &mut Farm,
    p: &Position,
) -> Result<(), ActionError> {
    let key = position_key(farm.id, &p.owner);
    if p.is_empty() {
        farm.positions = farm.positions.saturating_sub(1);
        remove(view, &key)?;
    } else {
        store(view, &key, p)?;
    }
    store(view, &farm_key(farm.id), farm)
}

pub(super) fn stake(
    ctx: &TxContext,
    view: &mut impl View,
    id: u64,
    stake_asset: AssetId,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut farm = load_farm(ctx, view, id, stake_asset, |f| f.stake_asset, events)?;
    if ctx.height >= farm.end_height {
        return Err(fail(FarmError::FarmEnded {
            farm: id,
            end_height: farm.end_height,
            height: ctx.height,
        }));
    }
    let key = position_key(id, &ctx.sender);
    let mut p = match load::<Position>(view, &key)? {
        Some(p) => p,
        None => {
            farm.positions = farm.positions.saturating_add(1);
            Position::new(id, ctx.sender, farm.reward_per_token)
        }
    };
    p.settle(farm.reward_per_token).or_overflow()?;
    move_asset(
        view,
        stake_asset,
        &ctx.sender,
        &stake_custody(id),
        amount,
        events,
    )?;
    p.staked = p.staked.checked_add(amount).or_overflow()?;
    farm.total_staked = farm.total_staked.checked_add(amount).or_overflow()?;
    store(view, &key, &p)?;
    store(view, &farm_key(id), &farm)?;
    events.push(Event::Farm(FarmEvent::Staked {
        farm: id,
        owner: ctx.sender,
        amount,
        staked: p.staked,
        total_staked: farm.total_staked,
    }));
    Ok(())
}

pub(super) fn unstake(
    ctx: &TxContext,
    view: &mut impl View,
    id: u64,
    stake_asset: AssetId,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut farm = load_farm(ctx, view, id, stake_asset, |f| f.stake_asset, events)?;
    let mut p = load_position(view, &farm, &ctx.sender)?;
    if amount > p.staked {
        return Err(fail(FarmError::InsufficientStake {
            farm: id,
            requested: amount,
            staked: p.staked,
        }));
    }
    p.settle(farm.reward_per_token).or_overflow()?;
    move_asset(
        view,
        stake_asset,
        &stake_custody(id),
        &ctx.sender,
        amount,
        events,
    )?;
    p.staked -= amount;
    farm.total_staked = farm.total_staked.checked_sub(amount).or_overflow()?;
    save_position(view, &mut farm, &p)?;
    events.push(Event::Farm(FarmEvent::Unstaked {
        farm: id,
        owner: ctx.sender,
        amount,
        staked: p.staked,
        total_staked: farm.total_staked,
    }));
    Ok(())
}

pub(super) fn harvest(
    ctx: &TxContext,
    view: &mut impl View,
    id: u64,
    reward_asset: AssetId,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut farm = load_farm(ctx, view, id, reward_asset, |f| f.reward_asset, events)?;
    let mut p = load_position(view, &farm, &ctx.sender)?;
    p.settle(farm.reward_per_token).or_overflow()?;
    let amount = p.owed;
    if amount == 0 {
        return Err(fail(FarmError::NothingToHarvest { farm: id }));
    }
    p.owed = 0;
    farm.paid = farm.paid.checked_add(amount).or_overflow()?;
    // Never pay out more than was emitted (what the accumulator promised).
    if farm.paid > farm.emitted {
        return Err(fail(FailureReason::Overflow));
    }
    move_asset(
        view,
        reward_asset,
        &reward_custody(id),
        &ctx.sender,
        amount,
        events,
    )?;
    save_position(view, &mut farm, &p)?;
    events.push(Event::Farm(FarmEvent::Harvested {
        farm: id,
        owner: ctx.sender,
        amount,
    }));
    Ok(())
}

pub(super) fn emergency_withdraw(
    ctx: &TxContext,
    view: &mut impl View,
    id: u64,
    stake_asset: AssetId,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut farm = load_farm(ctx, view, id, stake_asset, |f| f.stake_asset, events)?;
    let p = load_position(view, &farm, &ctx.sender)?;
    if p.staked == 0 {
        return Err(fail(FarmError::NoPosition {
            farm: id,
            owner: ctx.sender,
        }));
    }
    // Whatever the reward arithmetic says, the stake comes back; what was
    // earned stays with the farm (counted as forfeited, reclaimable).
    let forfeited = math::pending(&p, farm.reward_per_token).unwrap_or(p.owed);
    farm.forfeited = farm.forfeited.saturating_add(forfeited);
    move_asset(
        view,
        stake_asset,
        &stake_custody(id),
        &ctx.sender,
        p.staked,
        events,
    )?;
    farm.total_staked = farm.total_staked.checked_sub(p.staked).or_overflow()?;
    farm.positions = farm.positions.saturating_sub(1);
    remove(view, &position_key(id, &ctx.sender))?;
    store(view, &farm_key(id), &farm)?;
    events.push(Event::Farm(FarmEvent::EmergencyWithdrawn {
        farm: id,
        owner: ctx.sender,
        amount: p.staked,
        forfeited,
    }));
    Ok(())
}

pub(super) fn reclaim(
    ctx: &TxContext,
    view: &mut impl View,
    id: u64,
    reward_asset: AssetId,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut farm = load_farm(ctx, view, id, reward_asset, |f| f.reward_asset, events)?;
    if ctx.sender != farm.creator {
        return Err(fail(FarmError::NotCreator {
            farm: id,
            creator: farm.creator,
        }));
    }
    if ctx.height < farm.end_height {
        return Err(fail(FarmError::NotEnded {
            farm: id,
            end_height: farm.end_height,
            height: ctx.height,
        }));
    }
    let amount = farm.reclaimable().or_overflow()?;
    if amount == 0 {
        return Err(fail(FarmError::NothingToReclaim { farm: id }));
    }
    farm.reclaimed = farm.reclaimed.checked_add(amount).or_overflow()?;
    move_asset(
        view,
        reward_asset,
        &reward_custody(id),
        &ctx.sender,
        amount,
        events,
    )?;
    store(view, &farm_key(id), &farm)?;
    events.push(Event::Farm(FarmEvent::Reclaimed {
        farm: id,
        creator: ctx.sender,
        amount,
    }));
    Ok(())
}
