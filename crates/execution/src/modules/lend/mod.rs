//! Lending module (Compound-style, interest per block): the admin opens one
//! market per asset; accounts supply (minting shares), withdraw, borrow
//! against their supplies, repay (anyone for anyone); unhealthy accounts are
//! liquidated, and debt left without collateral is written off against
//! reserves, then suppliers.
//!
//! Access sets: an action touching a market declares that market's object,
//! its custody balance and the balances it moves. The markets an account
//! uses depend on state, so health-checked actions (withdraw, borrow,
//! liquidate) carry the account's market list; they read those markets
//! (virtually accrued, never written) and their price feeds, and fail with
//! `UndeclaredMarket` when state shows a position the list leaves out.
//! `liquidate` declares the borrower's markets writable, since writing off
//! bad debt may touch each of them.
//!
//! See `docs/modules/lend.md` for the formulas and their rounding.

mod actions;
mod health;
mod math;
mod query;
mod session;
mod state;

pub(crate) use state::Market;
pub use state::{
    BadDebtTotal, LOCKED_SHARES, MAX_MARKETS, bad_debt_key, custody, market_key, positions_key,
    registry_key,
};

use crate::modules::kit::{self as module, Access, ActionError, TxContext, View};
use crate::modules::oracle;
use lakh_state::StateKey;
use lakh_types::{
    Address, AssetId, Event, FailureReason,
    modules::lend::{LendAction, check},
};

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    _nonce: u64,
    action: &LendAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        LendAction::CreateMarket { asset, .. } => {
            module::declare_config(visit);
            module::declare_asset_read(*asset, visit);
            visit(market_key(*asset), Access::Write);
            visit(registry_key(), Access::Write);
        }
        LendAction::UpdateMarket { asset, .. } => {
            module::declare_config(visit);
            visit(market_key(*asset), Access::Write);
        }
        LendAction::Supply { asset, .. } => {
            declare_moves(sender, *asset, visit);
            visit(positions_key(sender), Access::Write);
        }
        LendAction::Withdraw { asset, markets, .. } | LendAction::Borrow { asset, markets, .. } => {
            declare_moves(sender, *asset, visit);
            visit(positions_key(sender), Access::Write);
            declare_health(*asset, markets, visit);
        }
        LendAction::Repay {
            asset, borrower, ..
        } => {
            declare_moves(sender, *asset, visit);
            visit(positions_key(borrower), Access::Write);
        }
        LendAction::Liquidate {
            borrower,
            repay_asset,
            seize_asset,
            markets,
            ..
        } => {
            declare_moves(sender, *repay_asset, visit);
            visit(market_key(*seize_asset), Access::Write);
            visit(positions_key(borrower), Access::Write);
            visit(positions_key(sender), Access::Write);
            oracle::declare_price(*repay_asset, visit);
            oracle::declare_price(*seize_asset, visit);
            for &asset in [*repay_asset, *seize_asset].iter().chain(markets.iter()) {
                visit(bad_debt_key(asset), Access::Write);
            }
            for &asset in markets.iter() {
                visit(market_key(asset), Access::Write);
                oracle::declare_price(asset, visit);
            }
        }
        LendAction::WithdrawReserves { asset, to, .. } => {
            module::declare_config(visit);
            visit(market_key(*asset), Access::Write);
            module::declare_balance(&custody(*asset), *asset, visit);
            module::declare_balance(to, *asset, visit);
        }
    }
}

/// The balances `asset`'s market moves cash between (`owner` and its
/// custody), and the market itself.
fn declare_moves(owner: &Address, asset: AssetId, visit: &mut impl FnMut(StateKey, Access)) {
    module::declare_balance(owner, asset, visit);
    module::declare_balance(&custody(asset), asset, visit);
    visit(market_key(asset), Access::Write);
}

/// What a health check reads besides the action's own market (`own`,
/// declared written): the other markets in the list and every price feed.
fn declare_health(own: AssetId, markets: &[AssetId], visit: &mut impl FnMut(StateKey, Access)) {
    oracle::declare_price(own, visit);
    for &asset in markets.iter().filter(|a| **a != own) {
        visit(market_key(asset), Access::Read);
        oracle::declare_price(asset, visit);
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &LendAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    // Ingest refuses these, but a block may carry anything: check again.
    check(action).map_err(|detail| ActionError::Failed(FailureReason::Invalid { detail }))?;
    match action {
        LendAction::CreateMarket { asset, params } => {
            actions::create_market(ctx, view, events, *asset, params)
        }
        LendAction::UpdateMarket { asset, params } => {
            actions::update_market(ctx, view, events, *asset, params)
        }
        LendAction::Supply { asset, amount } => actions::supply(ctx, view, events, *asset, *amount),
        LendAction::Withdraw {
            asset,
            amount,
            markets,
        } => actions::withdraw(ctx, view, events, *asset, *amount, markets),
        LendAction::Borrow {
            asset,
            amount,
            markets,
        } => actions::borrow(ctx, view, events, *asset, *amount, markets),
        LendAction::Repay {
            asset,
            amount,
            borrower,
        } => actions::repay(ctx, view, events, *asset, *amount, borrower),
        LendAction::Liquidate {
            borrower,
            repay_asset,
            amount,
            seize_asset,
            markets,
        } => actions::liquidate(
            ctx,
            view,
            events,
            actions::Liquidation {
                borrower,
                repay_asset: *repay_asset,
                amount: *amount,
                seize_asset: *seize_asset,
                markets,
            },
        ),
        LendAction::WithdrawReserves { asset, amount, to } => {
            actions::withdraw_reserves(ctx, view, events, *asset, *amount, to)
        }
    }
}

pub use query::query;
