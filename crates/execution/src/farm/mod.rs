//! Yield farms: stake an asset (LP shares or any other), earn a reward asset
//! at a fixed rate per block over a schedule, through a reward-per-token
//! accumulator.
//!
//! - Anyone creates a farm and funds its whole budget up front; the farm's id
//!   is [`farm_id`]`(creator, nonce)`.
//! - Custody: staked assets sit in [`stake_custody`]`(farm)`, the reward
//!   budget in [`reward_custody`]`(farm)` (bank balances, so supply
//!   conservation covers them).
//! - Rewards never exceed the budget: the accumulator only grows by what the
//!   elapsed scheduled blocks emit, every division rounds down, and payouts
//!   come out of the reward custody, which holds `funded - paid - reclaimed`.

pub(crate) mod math;
mod query;
pub(crate) mod state;

pub use query::query;
pub use state::{Farm, Position, farm_key, kind, position_key, reward_custody, stake_custody};

use crate::module::{
    asset_exists, declare_asset_read, declare_balance, load, move_asset, remove, store,
};
use crate::overlay::View;
use crate::{Access, ActionError, TxContext};
use lakh_state::StateKey;
use lakh_types::{
    Address, AssetId, Event, FailureReason,
    modules::farm::{FarmAction, FarmError, FarmEvent, budget, check_typed, farm_id},
};
use math::Accrual;

fn fail(e: FarmError) -> ActionError {
    ActionError::Failed(FailureReason::Farm(e))
}

fn overflow() -> ActionError {
    ActionError::Failed(FailureReason::Overflow)
}

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    nonce: u64,
    action: &FarmAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        FarmAction::Create {
            stake_asset,
            reward_asset,
            ..
        } => {
            let id = farm_id(sender, nonce);
            visit(farm_key(id), Access::Write);
            declare_asset_read(*stake_asset, visit);
            declare_asset_read(*reward_asset, visit);
            declare_balance(sender, *reward_asset, visit);
            declare_balance(&reward_custody(id), *reward_asset, visit);
        }
        FarmAction::Stake {
            farm, stake_asset, ..
        }
        | FarmAction::Unstake {
            farm, stake_asset, ..
        }
        | FarmAction::EmergencyWithdraw { farm, stake_asset } => {
            visit(farm_key(*farm), Access::Write);
            visit(position_key(*farm, sender), Access::Write);
            declare_balance(sender, *stake_asset, visit);
            declare_balance(&stake_custody(*farm), *stake_asset, visit);
        }
        FarmAction::Harvest { farm, reward_asset } => {
            visit(farm_key(*farm), Access::Write);
            visit(position_key(*farm, sender), Access::Write);
            declare_balance(sender, *reward_asset, visit);
            declare_balance(&reward_custody(*farm), *reward_asset, visit);
        }
        FarmAction::Reclaim { farm, reward_asset } => {
            visit(farm_key(*farm), Access::Write);
            declare_balance(sender, *reward_asset, visit);
            declare_balance(&reward_custody(*farm), *reward_asset, visit);
        }
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &FarmAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    check_typed(action).map_err(fail)?;
    match action {
        FarmAction::Create {
            stake_asset,
            reward_asset,
            rate_per_block,
            start_block,
            end_block,
        } => create(
            ctx,
            view,
            *stake_asset,
            *reward_asset,
            *rate_per_block,
            *start_block,
            *end_block,
            events,
        ),
        FarmAction::Stake {
            farm,
            stake_asset,
            amount,
        } => stake(ctx, view, *farm, *stake_asset, *amount, events),
        FarmAction::Unstake {
            farm,
            stake_asset,
            amount,
        } => unstake(ctx, view, *farm, *stake_asset, *amount, events),
        FarmAction::Harvest { farm, reward_asset } => {
            harvest(ctx, view, *farm, *reward_asset, events)
        }
        FarmAction::EmergencyWithdraw { farm, stake_asset } => {
            emergency_withdraw(ctx, view, *farm, *stake_asset, events)
        }
        FarmAction::Reclaim { farm, reward_asset } => {
            reclaim(ctx, view, *farm, *reward_asset, events)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn create(
    ctx: &TxContext,
    view: &mut impl View,
    stake_asset: AssetId,
    reward_asset: AssetId,
    rate_per_block: u128,
    start_block: u64,
    end_block: u64,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let funded = budget(rate_per_block, start_block, end_block).map_err(fail)?;
    if start_block < ctx.height {
        return Err(fail(FarmError::StartInPast {
            start_block,
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
        start_block,
        end_block,
        scheduled_end_block: end_block,
        funded,
        total_staked: 0,
        reward_per_token: 0,
        last_update: start_block,
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
        start_block,
        end_block,
        funded,
    }));
    Ok(())
}

/// Loads farm `id`, checks the asset the transaction named (so it touches
/// only the keys it declared) and brings the accumulator up to the block.
fn load_farm(
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
    if let Accrual::Closed { at_block } = math::accrue(&mut farm, ctx.height) {
        events.push(Event::Farm(FarmEvent::EmissionClosed {
            farm: id,
            at_block,
        }));
    }
    Ok(farm)
}

fn load_position(view: &impl View, farm: &Farm, owner: &Address) -> Result<Position, ActionError> {
    load::<Position>(view, &position_key(farm.id, owner))?.ok_or(fail(FarmError::NoPosition {
        farm: farm.id,
        owner: *owner,
    }))
}

/// Stores `p`, or removes it (and counts it out of `farm`) once empty.
fn save_position(view: &mut impl View, farm: &mut Farm, p: &Position) -> Result<(), ActionError> {
    let key = position_key(farm.id, &p.owner);
    if p.is_empty() {
        farm.positions = farm.positions.saturating_sub(1);
        remove(view, &key)
    } else {
        store(view, &key, p)
    }
}

fn stake(
    ctx: &TxContext,
    view: &mut impl View,
    id: u64,
    stake_asset: AssetId,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut farm = load_farm(ctx, view, id, stake_asset, |f| f.stake_asset, events)?;
    if ctx.height >= farm.end_block {
        return Err(fail(FarmError::FarmEnded {
            farm: id,
            end_block: farm.end_block,
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
    math::settle(&mut p, farm.reward_per_token).ok_or_else(overflow)?;
    move_asset(
        view,
        stake_asset,
        &ctx.sender,
        &stake_custody(id),
        amount,
        events,
    )?;
    p.staked = p.staked.checked_add(amount).ok_or_else(overflow)?;
    farm.total_staked = farm.total_staked.checked_add(amount).ok_or_else(overflow)?;
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

fn unstake(
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
    math::settle(&mut p, farm.reward_per_token).ok_or_else(overflow)?;
    move_asset(
        view,
        stake_asset,
        &stake_custody(id),
        &ctx.sender,
        amount,
        events,
    )?;
    p.staked -= amount;
    farm.total_staked = farm.total_staked.checked_sub(amount).ok_or_else(overflow)?;
    save_position(view, &mut farm, &p)?;
    store(view, &farm_key(id), &farm)?;
    events.push(Event::Farm(FarmEvent::Unstaked {
        farm: id,
        owner: ctx.sender,
        amount,
        staked: p.staked,
        total_staked: farm.total_staked,
    }));
    Ok(())
}

fn harvest(
    ctx: &TxContext,
    view: &mut impl View,
    id: u64,
    reward_asset: AssetId,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut farm = load_farm(ctx, view, id, reward_asset, |f| f.reward_asset, events)?;
    let mut p = load_position(view, &farm, &ctx.sender)?;
    math::settle(&mut p, farm.reward_per_token).ok_or_else(overflow)?;
    let amount = p.owed;
    if amount == 0 {
        return Err(fail(FarmError::NothingToHarvest { farm: id }));
    }
    p.owed = 0;
    farm.paid = farm.paid.checked_add(amount).ok_or_else(overflow)?;
    // Never pay out more than was emitted (what the accumulator promised).
    if farm.paid > farm.emitted {
        return Err(overflow());
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
    store(view, &farm_key(id), &farm)?;
    events.push(Event::Farm(FarmEvent::Harvested {
        farm: id,
        owner: ctx.sender,
        amount,
    }));
    Ok(())
}

fn emergency_withdraw(
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
    farm.total_staked = farm
        .total_staked
        .checked_sub(p.staked)
        .ok_or_else(overflow)?;
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

fn reclaim(
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
    if ctx.height < farm.end_block {
        return Err(fail(FarmError::NotEnded {
            farm: id,
            end_block: farm.end_block,
            height: ctx.height,
        }));
    }
    let amount = farm.reclaimable().ok_or_else(overflow)?;
    if amount == 0 {
        return Err(fail(FarmError::NothingToReclaim { farm: id }));
    }
    farm.reclaimed = farm.reclaimed.checked_add(amount).ok_or_else(overflow)?;
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
