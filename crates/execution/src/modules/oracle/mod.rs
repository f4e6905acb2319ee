//! Oracle module: the admin configures one feed per asset (authorized
//! reporters, staleness window, reports needed); reporters post prices; the
//! price is the median of the fresh reports.
//!
//! A feed is one object per asset holding its configuration and the latest
//! report of each reporter, so a module needing the price of an asset reads
//! one key known from the asset alone ([`feed_key`]), which its access set can
//! declare without reading state. Posts to one asset serialize on that key;
//! posts to different assets run in parallel.

mod actions;
mod math;
mod query;
mod state;

pub use query::query;
pub(crate) use query::query_price;
pub use state::{Price, feed_key};

use crate::modules::kit::fail;
use crate::modules::kit::{self as module, Access, ActionError, TxContext, View};
use lakh_state::StateKey;
use lakh_types::{
    Address, AssetId, Event, FailureReason,
    modules::oracle::{OracleAction, OracleError, check},
};
use state::Feed;

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    _sender: &Address,
    _nonce: u64,
    action: &OracleAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        OracleAction::SetFeed { asset, .. } => {
            module::declare_config(visit);
            module::declare_asset_read(*asset, visit);
            visit(feed_key(*asset), Access::Write);
        }
        OracleAction::RemoveFeed { asset } => {
            module::declare_config(visit);
            visit(feed_key(*asset), Access::Write);
        }
        OracleAction::Post { asset, .. } => visit(feed_key(*asset), Access::Write),
    }
}

/// Declares that another module reads the price of `asset`.
pub(crate) fn declare_price(asset: AssetId, visit: &mut impl FnMut(StateKey, Access)) {
    visit(feed_key(asset), Access::Read);
}

/// The price of `asset` at `height` (its feed must be declared, at least
/// read); fails with the oracle's `NoFeed`, `MissingPrice` or `StalePrice`.
pub(crate) fn price(view: &impl View, asset: AssetId, height: u64) -> Result<Price, ActionError> {
    let feed: Feed =
        module::load(view, &feed_key(asset))?.ok_or(fail(OracleError::NoFeed { asset }))?;
    feed.price(asset, height).map_err(fail)
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &OracleAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    // Ingest refuses these, but a block may carry anything: check again.
    check(action).map_err(|detail| ActionError::Failed(FailureReason::Invalid { detail }))?;
    match action {
        OracleAction::SetFeed {
            asset,
            reporters,
            max_age_blocks,
            min_reports,
        } => actions::set_feed(
            ctx,
            view,
            asset,
            reporters,
            max_age_blocks,
            min_reports,
            events,
        ),
        OracleAction::RemoveFeed { asset } => actions::remove_feed(ctx, view, asset, events),
        OracleAction::Post { asset, price } => actions::post(ctx, view, asset, price, events),
    }
}
