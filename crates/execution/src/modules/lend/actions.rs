//! The lending actions. Each loads what it touches through a [`Session`]
//! (markets accrued to the block's height), checks, changes, and stores only
//! what changed; on failure the executor rolls every write back.

use super::math::{repay_for_collateral, seize_amount};
use super::session::{Session, require_declared};
use super::state::{
    BadDebtTotal, LOCKED_SHARES, MAX_MARKETS, Market, Positions, Registry, bad_debt_key, custody,
    market_key, positions_key, registry_key,
};
use crate::modules::kit::math::{mul_div_ceil, mul_div_floor};
use crate::modules::kit::{self as module, ActionError, TxContext, View};
use crate::modules::kit::{OrOverflow, fail, require_admin};
use lakh_types::{
    Address, AssetId, Event, FailureReason,
    modules::lend::{LendError, LendEvent, MAX_POSITIONS, MarketParams, WAD},
};

fn event(e: LendEvent) -> Event {
    Event::Lend(e)
}

pub(crate) fn load_positions(
    view: &impl View,
    account: &Address,
) -> Result<Positions, ActionError> {
    Ok(module::load(view, &positions_key(account))?.unwrap_or_default())
}

/// Stores `positions` without its empty entries (deletes the object when none is left).
fn store_positions(
    view: &mut impl View,
    account: &Address,
    mut positions: Positions,
) -> Result<(), ActionError> {
    positions.prune();
    let key = positions_key(account);
    if positions.list.is_empty() {
        module::remove(view, &key)
    } else {
        module::store(view, &key, &positions)
    }
}

fn too_many_positions() -> ActionError {
    fail(LendError::TooManyPositions {
        max: MAX_POSITIONS as u8,
    })
}

/// The sender's positions and a session with `asset`'s market writable, for
/// an action that pays out of that market (withdraw, borrow): the sender's
/// declared `markets` must cover every market its health check reads.
fn open_payout(
    ctx: &TxContext,
    view: &impl View,
    asset: AssetId,
    markets: &[AssetId],
) -> Result<(Positions, Session, usize), ActionError> {
    let positions = load_positions(view, &ctx.sender)?;
    require_declared(&positions, markets, &[asset])?;
    let mut session = Session::new(ctx.height, [asset]);
    let slot = session.load(view, asset)?;
    Ok((positions, session, slot))
}

fn require_cash(market: &Market, amount: u128) -> Result<(), ActionError> {
    if amount > market.cash {
        return Err(fail(LendError::InsufficientCash {
            asset: market.asset,
            requested: amount,
            cash: market.cash,
        }));
    }
    Ok(())
}

/// Pays `amount` of `asset` from custody to the sender if its positions
/// stay healthy, then stores the positions and the session's markets.
fn pay_out_healthy(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    mut session: Session,
    positions: Positions,
    asset: AssetId,
    amount: u128,
) -> Result<(), ActionError> {
    session.require_healthy(view, &ctx.sender, &positions)?;
    module::move_asset(view, asset, &custody(asset), &ctx.sender, amount, events)?;
    store_positions(view, &ctx.sender, positions)?;
    session.commit(view)
}

pub(crate) fn create_market(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    asset: AssetId,
    params: &MarketParams,
) -> Result<(), ActionError> {
    require_admin(view, &ctx.sender)?;
    let Some(info) = module::asset_info(view, asset)? else {
        return Err(ActionError::Failed(FailureReason::UnknownAsset { asset }));
    };
    let key = market_key(asset);
    if module::load::<Market>(view, &key)?.is_some() {
        return Err(fail(LendError::MarketExists { asset }));
    }
    let mut registry: Registry = module::load(view, &registry_key())?.unwrap_or_default();
    registry.assets.try_push(asset).map_err(|_| {
        fail(LendError::TooManyMarkets {
            max: MAX_MARKETS as u16,
        })
    })?;
    let market = Market {
        asset,
        decimals: info.decimals,
        params: params.clone(),
        cash: 0,
        borrows: 0,
        reserves: 0,
        shares: 0,
        borrow_index: WAD,
        accrued_height: ctx.height,
    };
    module::store(view, &key, &market)?;
    module::store(view, &registry_key(), &registry)?;
    events.push(event(LendEvent::MarketCreated {
        asset,
        params: params.clone(),
    }));
    Ok(())
}

pub(crate) fn update_market(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    asset: AssetId,
    params: &MarketParams,
) -> Result<(), ActionError> {
    require_admin(view, &ctx.sender)?;
    let mut session = Session::new(ctx.height, [asset]);
    let slot = session.load(view, asset)?;
    // Interest up to here accrued at the old rates (on load).
    session.market_mut(slot)?.params = params.clone();
    session.commit(view)?;
    events.push(event(LendEvent::MarketUpdated {
        asset,
        params: params.clone(),
    }));
    Ok(())
}

pub(crate) fn supply(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    asset: AssetId,
    amount: u128,
) -> Result<(), ActionError> {
    let mut session = Session::new(ctx.height, [asset]);
    let slot = session.load(view, asset)?;
    let market = session.market_mut(slot)?;
    // (shares minted in total, shares to the supplier)
    let (minted, shares) = if market.shares == 0 {
        if amount <= LOCKED_SHARES {
            return Err(fail(LendError::FirstSupplyTooSmall {
                amount,
                minimum: LOCKED_SHARES,
            }));
        }
        // One share per base unit to start; LOCKED_SHARES belong to nobody.
        (amount, amount - LOCKED_SHARES)
    } else {
        let underlying = market.underlying().or_overflow()?;
        if underlying == 0 {
            return Err(fail(LendError::MarketWipedOut { asset }));
        }
        let shares = mul_div_floor(amount, market.shares, underlying).or_overflow()?;
        if shares == 0 {
            return Err(fail(LendError::ZeroShares { amount }));
        }
        (shares, shares)
    };
    market.cash = market.cash.checked_add(amount).or_overflow()?;
    market.shares = market.shares.checked_add(minted).or_overflow()?;

    let mut positions = load_positions(view, &ctx.sender)?;
    let mut position = positions.get_or_empty(asset);
    position.shares = position.shares.checked_add(shares).or_overflow()?;
    positions.set(position).ok_or_else(too_many_positions)?;

    module::move_asset(view, asset, &ctx.sender, &custody(asset), amount, events)?;
    store_positions(view, &ctx.sender, positions)?;
    session.commit(view)?;
    events.push(event(LendEvent::Supplied {
        account: ctx.sender,
        asset,
        amount,
        shares,
    }));
    Ok(())
}

pub(crate) fn withdraw(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    asset: AssetId,
    amount: u128,
    markets: &[AssetId],
) -> Result<(), ActionError> {
    let (mut positions, mut session, slot) = open_payout(ctx, view, asset, markets)?;
    let market = session.market_mut(slot)?;
    let mut position = positions.get_or_empty(asset);
    let held = position.shares;
    let available = market.claim(held).or_overflow()?;
    if held == 0 || (amount != u128::MAX && amount > available) {
        return Err(fail(LendError::InsufficientSupply {
            asset,
            requested: amount,
            available,
        }));
    }
    let (amount, burned) = if amount == u128::MAX {
        (available, held)
    } else {
        // amount <= floor(held * U / S), so the rounded-up burn is <= held;
        // and U > 0 since amount > 0.
        let underlying = market.underlying().or_overflow()?;
        let burned = mul_div_ceil(amount, market.shares, underlying).or_overflow()?;
        (amount, burned)
    };
    require_cash(market, amount)?;
    market.cash -= amount;
    market.shares = market.shares.checked_sub(burned).or_overflow()?;
    position.shares = held.checked_sub(burned).or_overflow()?;
    positions.set(position).ok_or_else(too_many_positions)?;

    pay_out_healthy(ctx, view, events, session, positions, asset, amount)?;
    events.push(event(LendEvent::Withdrawn {
        account: ctx.sender,
        asset,
        amount,
        shares: burned,
    }));
    Ok(())
}

pub(crate) fn borrow(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    asset: AssetId,
    amount: u128,
    markets: &[AssetId],
) -> Result<(), ActionError> {
    let (mut positions, mut session, slot) = open_payout(ctx, view, asset, markets)?;
    let market = session.market_mut(slot)?;
    require_cash(market, amount)?;
    let mut position = positions.get_or_empty(asset);
    let debt = market
        .debt(&position)
        .or_overflow()?
        .checked_add(amount)
        .or_overflow()?;
    position.principal = debt;
    position.index = market.borrow_index;
    positions.set(position).ok_or_else(too_many_positions)?;
    market.cash -= amount;
    market.borrows = market.borrows.checked_add(amount).or_overflow()?;

    pay_out_healthy(ctx, view, events, session, positions, asset, amount)?;
    events.push(event(LendEvent::Borrowed {
        account: ctx.sender,
        asset,
        amount,
        debt,
    }));
    Ok(())
}

pub(crate) fn repay(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    asset: AssetId,
    amount: u128,
    borrower: &Address,
) -> Result<(), ActionError> {
    let mut positions = load_positions(view, borrower)?;
    let mut session = Session::new(ctx.height, [asset]);
    let slot = session.load(view, asset)?;
    let market = session.market_mut(slot)?;
    let mut position = positions.get_or_empty(asset);
    let debt = market.debt(&position).or_overflow()?;
    if debt == 0 {
        return Err(fail(LendError::NoDebt {
            asset,
            borrower: *borrower,
        }));
    }
    // Only what is owed is taken.
    let paid = amount.min(debt);
    let remaining = debt - paid;
    settle_repayment(market, paid)?;
    position.principal = remaining;
    position.index = market.borrow_index;
    positions.set(position).ok_or_else(too_many_positions)?;

    module::move_asset(view, asset, &ctx.sender, &custody(asset), paid, events)?;
    store_positions(view, borrower, positions)?;
    session.commit(view)?;
    events.push(event(LendEvent::Repaid {
        payer: ctx.sender,
        borrower: *borrower,
        asset,
        amount: paid,
        debt: remaining,
    }));
    Ok(())
}

/// Books `paid` base units repaid into `market`. Total borrows may trail the
/// sum of the rounded-up debts by rounding dust, so a repayment larger than
/// them zeroes them (the dust stays as cash, for the suppliers).
fn settle_repayment(market: &mut Market, paid: u128) -> Result<(), ActionError> {
    market.cash = market.cash.checked_add(paid).or_overflow()?;
    market.borrows = market.borrows.saturating_sub(paid);
    Ok(())
}

pub(crate) struct Liquidation<'a> {
    pub borrower: &'a Address,
    pub repay_asset: AssetId,
    pub amount: u128,
    pub seize_asset: AssetId,
    pub markets: &'a [AssetId],
}

pub(crate) fn liquidate(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    l: Liquidation<'_>,
) -> Result<(), ActionError> {
    let (borrower, repay_asset, seize_asset) = (l.borrower, l.repay_asset, l.seize_asset);
    if *borrower == ctx.sender {
        return Err(fail(LendError::SelfLiquidation {}));
    }
    let mut positions = load_positions(view, borrower)?;
    let own = [repay_asset, seize_asset];
    require_declared(&positions, l.markets, &own)?;
    // Every market of the borrower is writable: a bad-debt write-off may
    // touch any of them.
    let mut session = Session::new(ctx.height, l.markets.iter().copied().chain(own));

    let before = session.valuation(view, &positions)?;
    if before.is_healthy() {
        return Err(fail(LendError::HealthyAccount {
            borrower: *borrower,
            debt_value: before.debt,
            borrow_capacity: before.collateral,
        }));
    }

    let repay_slot = session.load(view, repay_asset)?;
    let seize_slot = session.load(view, seize_asset)?;
    let mut debt = debt_side(&session, repay_slot, &positions, borrower)?;
    let mut coll = collateral_side(&session, seize_slot, &positions, borrower)?;
    debt.price = session.price(view, repay_asset)?;
    coll.price = session.price(view, seize_asset)?;
    let (repaid, seized_shares) = size_seizure(l.amount, &debt, &coll)?;
    let seized_amount = session
        .market(seize_slot)
        .claim(seized_shares)
        .or_overflow()?;

    // Repay.
    let market = session.market_mut(repay_slot)?;
    settle_repayment(market, repaid)?;
    let mut position = positions.get_or_empty(repay_asset);
    position.principal = debt.debt - repaid;
    position.index = market.borrow_index;
    positions.set(position).ok_or_else(too_many_positions)?;
    module::move_asset(
        view,
        repay_asset,
        &ctx.sender,
        &custody(repay_asset),
        repaid,
        events,
    )?;

    // Seize: the shares move from the borrower to the liquidator; the
    // market's totals do not change.
    let mut position = positions.get_or_empty(seize_asset);
    position.shares -= seized_shares;
    positions.set(position).ok_or_else(too_many_positions)?;
    let mut liquidator = load_positions(view, &ctx.sender)?;
    let mut gained = liquidator.get_or_empty(seize_asset);
    gained.shares = gained.shares.checked_add(seized_shares).or_overflow()?;
    liquidator.set(gained).ok_or_else(too_many_positions)?;
    events.push(event(LendEvent::Liquidated {
        liquidator: ctx.sender,
        borrower: *borrower,
        repay_asset,
        repaid,
        seize_asset,
        seized_shares,
        seized_amount,
    }));

    let written_off = write_off_bad_debt(&mut session, view, events, borrower, &mut positions)?;
    for (asset, amount) in written_off {
        add_bad_debt(view, asset, amount)?;
    }

    store_positions(view, borrower, positions)?;
    store_positions(view, &ctx.sender, liquidator)?;
    session.commit(view)
}

/// The borrower's debt in the repaid market, with the most one liquidation
/// may close. `price` is filled in by the caller.
struct Debt {
    debt: u128,
    max_close: u128,
    decimals: u8,
    price: u128,
}

/// The borrower's collateral in the seized market. `price` is filled in by
/// the caller.
struct Collateral {
    held_shares: u128,
    claim: u128,
    decimals: u8,
    incentive: u128,
    market_shares: u128,
    market_underlying: u128,
    price: u128,
}

fn debt_side(
    session: &Session,
    slot: usize,
    positions: &Positions,
    borrower: &Address,
) -> Result<Debt, ActionError> {
    let market = session.market(slot);
    let debt = market
        .debt(&positions.get_or_empty(market.asset))
        .or_overflow()?;
    if debt == 0 {
        return Err(fail(LendError::NoDebt {
            asset: market.asset,
            borrower: *borrower,
        }));
    }
    Ok(Debt {
        debt,
        // Rounded up, so even a one-unit debt can be closed.
        max_close: mul_div_ceil(debt, market.params.close_factor, WAD).or_overflow()?,
        decimals: market.decimals,
        price: 0,
    })
}

fn collateral_side(
    session: &Session,
    slot: usize,
    positions: &Positions,
    borrower: &Address,
) -> Result<Collateral, ActionError> {
    let market = session.market(slot);
    let held_shares = positions.get(market.asset).map_or(0, |p| p.shares);
    let coll = Collateral {
        held_shares,
        claim: market.claim(held_shares).or_overflow()?,
        decimals: market.decimals,
        incentive: market.params.liquidation_incentive,
        market_shares: market.shares,
        market_underlying: market.underlying().or_overflow()?,
        price: 0,
    };
    if coll.claim == 0 {
        return Err(fail(LendError::NoCollateral {
            borrower: *borrower,
            asset: market.asset,
        }));
    }
    Ok(coll)
}

/// How much a liquidator offering `amount` repays and how many collateral
/// shares it seizes. With too little collateral for that much it takes all
/// of it (no dust share left behind) and repays only what buys it, rounded
/// up, at least one unit.
fn size_seizure(amount: u128, d: &Debt, c: &Collateral) -> Result<(u128, u128), ActionError> {
    let mut repaid = amount.min(d.max_close);
    let seize = seize_amount(
        repaid,
        d.price,
        d.decimals,
        c.incentive,
        c.price,
        c.decimals,
    )
    .or_overflow()?;
    let mut seized_shares =
        mul_div_floor(seize, c.market_shares, c.market_underlying).or_overflow()?;
    if seize >= c.claim || seized_shares >= c.held_shares {
        seized_shares = c.held_shares;
        let needed = repay_for_collateral(
            c.claim,
            c.price,
            c.decimals,
            c.incentive,
            d.price,
            d.decimals,
        )
        .or_overflow()?;
        repaid = repaid.min(needed.max(1));
    }
    if seized_shares == 0 {
        return Err(fail(LendError::SeizeTooSmall { repay: repaid }));
    }
    Ok((repaid, seized_shares))
}

/// When `borrower` has no collateral left (every supply claims nothing) but
/// still owes, writes each remaining debt off: against the market's reserves
/// first, the rest against its suppliers (total borrows fall, so the
/// exchange rate does). Returns each market's amount written off.
fn write_off_bad_debt(
    session: &mut Session,
    view: &impl View,
    events: &mut Vec<Event>,
    borrower: &Address,
    positions: &mut Positions,
) -> Result<Vec<(AssetId, u128)>, ActionError> {
    let mut written_off = Vec::new();
    let mut any_debt = false;
    for position in positions.list.iter() {
        let slot = session.load(view, position.asset)?;
        let market = session.market(slot);
        if market.claim(position.shares).or_overflow()? > 0 {
            return Ok(written_off);
        }
        any_debt |= position.principal > 0;
    }
    if !any_debt {
        return Ok(written_off);
    }
    for i in 0..positions.list.len() {
        let mut position = positions.list[i].clone();
        if position.principal == 0 {
            continue;
        }
        let slot = session.load(view, position.asset)?;
        let market = session.market_mut(slot)?;
        let debt = market.debt(&position).or_overflow()?;
        // The aggregate may trail the rounded-up debts by dust.
        let from_borrows = debt.min(market.borrows);
        let from_reserves = from_borrows.min(market.reserves);
        market.borrows -= from_borrows;
        market.reserves -= from_reserves;
        position.principal = 0;
        position.index = market.borrow_index;
        let asset = position.asset;
        positions.set(position).ok_or_else(too_many_positions)?;
        written_off.push((asset, debt));
        events.push(event(LendEvent::BadDebt {
            borrower: *borrower,
            asset,
            amount: debt,
            from_reserves,
            socialized: from_borrows - from_reserves,
        }));
    }
    Ok(written_off)
}

/// Adds `amount` to the market's running total of bad debt written off,
/// which cover products watch.
fn add_bad_debt(view: &mut impl View, asset: AssetId, amount: u128) -> Result<(), ActionError> {
    let key = bad_debt_key(asset);
    let mut total = module::load::<BadDebtTotal>(view, &key)?.unwrap_or_default();
    total.written_off = total.written_off.checked_add(amount).or_overflow()?;
    module::store(view, &key, &total)
}

pub(crate) fn withdraw_reserves(
    ctx: &TxContext,
    view: &mut impl View,
    events: &mut Vec<Event>,
    asset: AssetId,
    amount: u128,
    to: &Address,
) -> Result<(), ActionError> {
    require_admin(view, &ctx.sender)?;
    let mut session = Session::new(ctx.height, [asset]);
    let slot = session.load(view, asset)?;
    let market = session.market_mut(slot)?;
    if amount > market.reserves || amount > market.cash {
        return Err(fail(LendError::InsufficientReserves {
            asset,
            requested: amount,
            reserves: market.reserves,
            cash: market.cash,
        }));
    }
    market.reserves -= amount;
    market.cash -= amount;
    module::move_asset(view, asset, &custody(asset), to, amount, events)?;
    session.commit(view)?;
    events.push(event(LendEvent::ReservesWithdrawn {
        asset,
        amount,
        to: *to,
    }));
    Ok(())
}
