//! The DEX's actions: pool creation, liquidity, swaps.

use super::math;
use super::route::{PriceError, Route};
use super::state::{Pair, Pool};
use crate::modules::kit::{ActionError, TxContext, View};
use crate::modules::kit::{OrOverflow, fail};
use crate::modules::kit::{asset_info, burn, create_module_asset, load, mint, move_asset, store};
use lakh_state::AssetInfo;
use lakh_types::{
    AssetId, Event, FailureReason, Symbol,
    modules::dex::{DexError, DexEvent, MINIMUM_LIQUIDITY, lp_symbol_of},
};
pub(super) fn check_deadline(ctx: &TxContext, deadline: u64) -> Result<(), ActionError> {
    if ctx.height > deadline {
        return Err(fail(DexError::Expired {
            deadline_height: deadline,
            height: ctx.height,
        }));
    }
    Ok(())
}

pub(super) fn pair_of(x: AssetId, y: AssetId) -> Result<Pair, ActionError> {
    Pair::new(x, y).ok_or(fail(DexError::SameAsset { asset: x }))
}

pub(super) fn load_pool(view: &impl View, pair: &Pair) -> Result<Pool, ActionError> {
    load::<Pool>(view, &pair.key())?.ok_or(fail(DexError::PoolNotFound {
        asset_a: pair.a,
        asset_b: pair.b,
    }))
}

/// Shares outstanding: the supply of the pool's share asset.
pub(super) fn share_supply(view: &impl View, pair: &Pair) -> Result<u128, ActionError> {
    let lp = pair.lp_asset();
    match asset_info(view, lp)? {
        Some(info) => Ok(info.supply),
        // The pool exists, so its share asset does: state is inconsistent.
        None => Err(ActionError::Failed(FailureReason::UnknownAsset {
            asset: lp,
        })),
    }
}

pub(super) fn create_pool(
    ctx: &TxContext,
    x: AssetId,
    y: AssetId,
    lp_symbol: Option<&Symbol>,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let pair = pair_of(x, y)?;
    if load::<Pool>(view, &pair.key())?.is_some() {
        return Err(fail(DexError::PoolExists {
            asset_a: pair.a,
            asset_b: pair.b,
        }));
    }
    let mut decimals = [0u8; 2];
    for (asset, d) in [pair.a, pair.b].into_iter().zip(&mut decimals) {
        *d = asset_info(view, asset)?
            .ok_or(ActionError::Failed(FailureReason::UnknownAsset { asset }))?
            .decimals;
    }
    let lp_asset = pair.lp_asset();
    create_module_asset(
        view,
        lp_asset,
        AssetInfo {
            // Nobody holds the custody key, so only this module mints shares.
            issuer: pair.custody,
            symbol: lp_symbol_of(&pair.id, lp_symbol),
            // Shares are sqrt(a·b): their scale is the mean of the two.
            decimals: ((decimals[0] as u16 + decimals[1] as u16) / 2) as u8,
            max_supply: None,
            supply: 0,
        },
        events,
    )?;
    store(
        view,
        &pair.key(),
        &Pool {
            last_height: ctx.height,
            ..Pool::default()
        },
    )?;
    events.push(Event::Dex(DexEvent::PoolCreated {
        asset_a: pair.a,
        asset_b: pair.b,
        lp_asset,
        custody: pair.custody,
    }));
    Ok(())
}

/// `(asset, max amount)` as given by the sender, in either order.
pub(super) fn add_liquidity(
    ctx: &TxContext,
    (x, max_x): (AssetId, u128),
    (y, max_y): (AssetId, u128),
    min_shares: u128,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let pair = pair_of(x, y)?;
    let (max_a, max_b) = if x == pair.a {
        (max_x, max_y)
    } else {
        (max_y, max_x)
    };
    let mut pool = load_pool(view, &pair)?;
    pool.touch(ctx.height);
    let supply = share_supply(view, &pair)?;
    let (shares, locked, amount_a, amount_b) = if supply == 0 {
        let (shares, locked) = math::initial_shares(max_a, max_b).map_err(|shares| {
            fail(DexError::InitialLiquidityTooLow {
                shares,
                minimum: MINIMUM_LIQUIDITY,
            })
        })?;
        (shares, locked, max_a, max_b)
    } else {
        let (shares, a, b) =
            math::deposit(max_a, max_b, pool.reserve_a, pool.reserve_b, supply).or_overflow()?;
        (shares, 0, a, b)
    };
    if shares == 0 || shares < min_shares {
        return Err(fail(DexError::InsufficientShares { shares, min_shares }));
    }
    pool.reserve_a = pool.reserve_a.checked_add(amount_a).or_overflow()?;
    pool.reserve_b = pool.reserve_b.checked_add(amount_b).or_overflow()?;
    move_asset(view, pair.a, &ctx.sender, &pair.custody, amount_a, events)?;
    move_asset(view, pair.b, &ctx.sender, &pair.custody, amount_b, events)?;
    let lp = pair.lp_asset();
    mint(view, lp, &pair.custody, locked, events)?;
    mint(view, lp, &ctx.sender, shares, events)?;
    store(view, &pair.key(), &pool)?;
    events.push(Event::Dex(DexEvent::LiquidityAdded {
        asset_a: pair.a,
        asset_b: pair.b,
        amount_a,
        amount_b,
        shares,
        locked_shares: locked,
    }));
    Ok(())
}

/// `(asset, minimum paid)` as given by the sender, in either order.
pub(super) fn remove_liquidity(
    ctx: &TxContext,
    (x, min_x): (AssetId, u128),
    (y, min_y): (AssetId, u128),
    shares: u128,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let pair = pair_of(x, y)?;
    let (min_a, min_b) = if x == pair.a {
        (min_x, min_y)
    } else {
        (min_y, min_x)
    };
    let mut pool = load_pool(view, &pair)?;
    pool.touch(ctx.height);
    let supply = share_supply(view, &pair)?;
    // Burning first refuses shares the sender does not hold (so shares <= supply).
    burn(view, pair.lp_asset(), &ctx.sender, shares, events)?;
    let (amount_a, amount_b) =
        math::withdrawal(shares, pool.reserve_a, pool.reserve_b, supply).or_overflow()?;
    for (asset, amount, minimum) in [(pair.a, amount_a, min_a), (pair.b, amount_b, min_b)] {
        if amount < minimum {
            return Err(fail(DexError::InsufficientAmount {
                asset,
                amount,
                minimum,
            }));
        }
    }
    // A share is worth at least one unit of one side: max(Ra, Rb) >=
    // sqrt(Ra·Rb) >= S, as the value per share never falls below its start.
    debug_assert!(amount_a > 0 || amount_b > 0, "a share paid nothing");
    // Pro-rata amounts of what the pool holds: no underflow.
    pool.reserve_a -= amount_a;
    pool.reserve_b -= amount_b;
    move_asset(view, pair.a, &pair.custody, &ctx.sender, amount_a, events)?;
    move_asset(view, pair.b, &pair.custody, &ctx.sender, amount_b, events)?;
    store(view, &pair.key(), &pool)?;
    events.push(Event::Dex(DexEvent::LiquidityRemoved {
        asset_a: pair.a,
        asset_b: pair.b,
        amount_a,
        amount_b,
        shares,
    }));
    Ok(())
}

/// Moves a priced route's amounts (sender → first pool → … → last pool →
/// sender), updates every pool and records one `Swapped` per hop.
pub(super) fn swap(
    ctx: &TxContext,
    route: &Route<'_>,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut from = ctx.sender;
    for (pair, pool, asset_in, amount_in, asset_out, amount_out) in route.priced_hops() {
        let mut pool = pool.clone();
        pool.touch(ctx.height);
        let (r_in, r_out) = pool.reserves_for(pair, asset_in);
        let r_in = r_in.checked_add(amount_in).or_overflow()?;
        // Pricing keeps every output below its reserve.
        let r_out = r_out.checked_sub(amount_out).or_overflow()?;
        pool.set_reserves_for(pair, asset_in, r_in, r_out);
        move_asset(view, asset_in, &from, &pair.custody, amount_in, events)?;
        store(view, &pair.key(), &pool)?;
        events.push(Event::Dex(DexEvent::Swapped {
            asset_in,
            asset_out,
            amount_in,
            amount_out,
            reserve_in: r_in,
            reserve_out: r_out,
        }));
        from = pair.custody;
    }
    let bought = route.path[route.path.len() - 1];
    move_asset(view, bought, &from, &ctx.sender, route.amount_out(), events)
}

pub(super) fn load_route<'p>(
    path: &'p [AssetId],
    view: &impl View,
) -> Result<Route<'p>, ActionError> {
    Route::load(
        path,
        |pair| load_pool(view, pair),
        |asset| fail(DexError::SameAsset { asset }),
    )
}

impl From<PriceError> for ActionError {
    fn from(e: PriceError) -> Self {
        match e {
            PriceError::Dex(e) => fail(e),
            PriceError::Overflow => fail(FailureReason::Overflow),
        }
    }
}
