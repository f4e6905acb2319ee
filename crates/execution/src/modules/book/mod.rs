//! Order book module: per-market central limit order books with price-time
//! priority, fills at the resting (maker) order's price, and maker proceeds
//! kept claimable in the market until settled.
//!
//! # Why proceeds are claimable
//!
//! A transaction declares every key it touches from its payload alone. An
//! incoming order knows its own balances but not which resting orders it
//! will meet, so it cannot credit makers' bank balances. Instead each side
//! of the book keeps, per owner, what that owner may claim; makers receive
//! their proceeds there and `settle` (anyone may send it for any owner; funds
//! only go to the owner) pays them out. Every other action of an owner in a
//! market also pays out what it may claim on the sides the action touches.
//!
//! # Custody
//!
//! All funds of a market sit in the bank balances of its custody address
//! `Address::module("book", market_id_be_bytes)`, so that, exactly:
//! custody base = base locked by resting sells + claimable base;
//! custody quote = quote locked by resting buys + claimable quote + fees.
//!
//! See `docs/modules/book.md` for the rules, formulas and failure codes.

mod actions;
pub mod math;
mod query;
pub mod state;

pub use query::query;

use crate::modules::kit::{Access, ActionError, TxContext, View};
use crate::modules::kit::{declare_asset_read, declare_balance, declare_config};
use lakh_state::StateKey;
use lakh_types::{
    Address, Event,
    modules::book::{BookAction, MarketRef, Side},
};
use state::{custody, market_key, side_key};

/// Declares the sender's (or settled owner's) and the custody's balances of
/// both of the market's assets.
fn declare_funds(who: &Address, m: &MarketRef, visit: &mut impl FnMut(StateKey, Access)) {
    let vault = custody(m.id);
    for asset in [m.base, m.quote] {
        declare_balance(who, asset, visit);
        declare_balance(&vault, asset, visit);
    }
}

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    _nonce: u64,
    action: &BookAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        BookAction::CreateMarket {
            market,
            base,
            quote,
            ..
        } => {
            declare_config(visit);
            declare_asset_read(*base, visit);
            declare_asset_read(*quote, visit);
            visit(market_key(*market), Access::Write);
        }
        BookAction::Place { market, .. } => {
            visit(market_key(market.id), Access::Write);
            visit(side_key(market.id, Side::Buy), Access::Write);
            visit(side_key(market.id, Side::Sell), Access::Write);
            declare_funds(sender, market, visit);
        }
        BookAction::Cancel { market, order } => {
            visit(market_key(market.id), Access::Read);
            visit(side_key(market.id, Side::of_order(*order)), Access::Write);
            declare_funds(sender, market, visit);
        }
        BookAction::CancelAll { market } => {
            visit(market_key(market.id), Access::Read);
            visit(side_key(market.id, Side::Buy), Access::Write);
            visit(side_key(market.id, Side::Sell), Access::Write);
            declare_funds(sender, market, visit);
        }
        BookAction::Settle { market, owner } => {
            visit(market_key(market.id), Access::Read);
            visit(side_key(market.id, Side::Buy), Access::Write);
            visit(side_key(market.id, Side::Sell), Access::Write);
            declare_funds(owner, market, visit);
        }
        BookAction::WithdrawFees { market, to, .. } => {
            declare_config(visit);
            visit(market_key(market.id), Access::Write);
            declare_balance(to, market.quote, visit);
            declare_balance(&custody(market.id), market.quote, visit);
        }
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &BookAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    actions::execute(ctx, action, view, events)
}
