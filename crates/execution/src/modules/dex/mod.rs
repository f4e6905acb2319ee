//! AMM DEX module: constant-product pools with a 0.3% fee.
//!
//! - `CreatePool` registers the pool object of a pair and its share asset.
//! - `AddLiquidity` / `RemoveLiquidity` move both assets between the sender
//!   and the pool's custody address and mint or burn shares.
//! - `SwapExactIn` / `SwapExactOut` route through up to four pools.
//!
//! Every key an action touches follows from its payload: the pool object,
//! custody address and share asset all derive from the pair (see
//! [`state::Pair`]). The formulas are in [`math`]; `docs/modules/dex.md`
//! describes the module for users.

mod actions;
pub mod math;
mod query;
mod route;
pub mod state;

pub use query::query;

use crate::modules::kit::fail;
use crate::modules::kit::{Access, ActionError, TxContext, View};
use crate::modules::kit::{declare_asset_read, declare_balance, declare_supply};
use actions::*;
use lakh_state::StateKey;
use lakh_types::{
    Address, Event,
    modules::dex::{DexAction, DexError, lp_symbol_of, validate},
};
use state::Pair;

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    _nonce: u64,
    action: &DexAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        DexAction::CreatePool {
            asset_a,
            asset_b,
            lp_symbol,
        } => {
            let Some(pair) = Pair::new(*asset_a, *asset_b) else {
                return;
            };
            declare_asset_read(pair.a, visit);
            declare_asset_read(pair.b, visit);
            visit(pair.key(), Access::Write);
            declare_supply(pair.lp_asset(), visit);
            let symbol = lp_symbol_of(&pair.id, lp_symbol.as_ref());
            visit(StateKey::Symbol(symbol), Access::Write);
        }
        DexAction::AddLiquidity {
            asset_a, asset_b, ..
        }
        | DexAction::RemoveLiquidity {
            asset_a, asset_b, ..
        } => {
            let Some(pair) = Pair::new(*asset_a, *asset_b) else {
                return;
            };
            visit(pair.key(), Access::Write);
            let lp = pair.lp_asset();
            declare_supply(lp, visit);
            for asset in [pair.a, pair.b, lp] {
                declare_balance(sender, asset, visit);
                // The custody's share balance takes the locked first shares.
                declare_balance(&pair.custody, asset, visit);
            }
        }
        DexAction::SwapExactIn { path, .. } | DexAction::SwapExactOut { path, .. } => {
            if let (Some(first), Some(last)) = (path.first(), path.last()) {
                declare_balance(sender, *first, visit);
                declare_balance(sender, *last, visit);
            }
            for hop in path.windows(2) {
                let Some(pair) = Pair::new(hop[0], hop[1]) else {
                    continue;
                };
                visit(pair.key(), Access::Write);
                declare_balance(&pair.custody, pair.a, visit);
                declare_balance(&pair.custody, pair.b, visit);
            }
        }
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &DexAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    validate(action).map_err(fail)?;
    match action {
        DexAction::CreatePool {
            asset_a,
            asset_b,
            lp_symbol,
        } => create_pool(ctx, *asset_a, *asset_b, lp_symbol.as_ref(), view, events),
        DexAction::AddLiquidity {
            asset_a,
            asset_b,
            max_amount_a,
            max_amount_b,
            min_shares,
            deadline_height,
        } => {
            check_deadline(ctx, *deadline_height)?;
            add_liquidity(
                ctx,
                (*asset_a, *max_amount_a),
                (*asset_b, *max_amount_b),
                *min_shares,
                view,
                events,
            )
        }
        DexAction::RemoveLiquidity {
            asset_a,
            asset_b,
            shares,
            min_amount_a,
            min_amount_b,
            deadline_height,
        } => {
            check_deadline(ctx, *deadline_height)?;
            remove_liquidity(
                ctx,
                (*asset_a, *min_amount_a),
                (*asset_b, *min_amount_b),
                *shares,
                view,
                events,
            )
        }
        DexAction::SwapExactIn {
            path,
            amount_in,
            min_amount_out,
            deadline_height,
        } => {
            check_deadline(ctx, *deadline_height)?;
            let mut route = load_route(path, view)?;
            route.price_exact_in(*amount_in)?;
            let out = route.amount_out();
            if out < *min_amount_out {
                return Err(fail(DexError::InsufficientOutput {
                    amount_out: out,
                    min_amount_out: *min_amount_out,
                }));
            }
            swap(ctx, &route, view, events)
        }
        DexAction::SwapExactOut {
            path,
            amount_out,
            max_amount_in,
            deadline_height,
        } => {
            check_deadline(ctx, *deadline_height)?;
            let mut route = load_route(path, view)?;
            route.price_exact_out(*amount_out)?;
            let needed = route.amount_in();
            if needed > *max_amount_in {
                return Err(fail(DexError::ExcessiveInput {
                    amount_in: needed,
                    max_amount_in: *max_amount_in,
                }));
            }
            swap(ctx, &route, view, events)
        }
    }
}
