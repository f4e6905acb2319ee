//! Oracle module: the admin configures one feed per asset (authorized
//! reporters, staleness window, reports needed); reporters post prices; the
//! price is the median of the fresh reports.
//!
//! A feed is one object per asset holding its configuration and the latest
//! report of each reporter, so a module needing the price of an asset reads
//! one key known from the asset alone ([`feed_key`]), which its access set can
//! declare without reading state. Posts to one asset serialize on that key;
//! posts to different assets run in parallel.

mod feed;

pub use feed::{Price, feed_key};

use crate::query::{self, QueryCtx, QueryError};
use crate::{Access, ActionError, TxContext, module, overlay::View};
use feed::{Feed, Report};
use lakh_state::StateKey;
use lakh_types::{
    Address, AssetId, Event, FailureReason,
    codec::BoundedVec,
    modules::oracle::{OracleAction, OracleError, OracleEvent, check},
};
use serde_json::json;

fn fail(e: OracleError) -> ActionError {
    ActionError::Failed(FailureReason::Oracle(e))
}

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
            max_age,
            min_reports,
        } => {
            require_admin(ctx, view)?;
            if !module::asset_exists(view, *asset)? {
                return Err(ActionError::Failed(FailureReason::UnknownAsset {
                    asset: *asset,
                }));
            }
            let key = feed_key(*asset);
            let mut reports = module::load::<Feed>(view, &key)?
                .map(|f| f.reports)
                .unwrap_or_else(BoundedVec::empty);
            reports
                .as_mut_vec_within_bound()
                .retain(|r| reporters.contains(&r.reporter));
            let feed = Feed {
                reporters: reporters.clone(),
                max_age: *max_age,
                min_reports: *min_reports,
                reports,
            };
            module::store(view, &key, &feed)?;
            events.push(Event::Oracle(OracleEvent::FeedSet {
                asset: *asset,
                reporters: reporters.clone(),
                max_age: *max_age,
                min_reports: *min_reports,
            }));
            Ok(())
        }
        OracleAction::RemoveFeed { asset } => {
            require_admin(ctx, view)?;
            let key = feed_key(*asset);
            if module::load::<Feed>(view, &key)?.is_none() {
                return Err(fail(OracleError::NoFeed { asset: *asset }));
            }
            module::remove(view, &key)?;
            events.push(Event::Oracle(OracleEvent::FeedRemoved { asset: *asset }));
            Ok(())
        }
        OracleAction::Post { asset, price } => {
            let key = feed_key(*asset);
            let mut feed: Feed =
                module::load(view, &key)?.ok_or(fail(OracleError::NoFeed { asset: *asset }))?;
            if !feed.reporters.contains(&ctx.sender) {
                return Err(fail(OracleError::NotReporter {
                    asset: *asset,
                    sender: ctx.sender,
                }));
            }
            let report = Report {
                reporter: ctx.sender,
                price: *price,
                height: ctx.height,
            };
            let mut reports = feed.reports.as_mut_vec_within_bound();
            match reports.iter_mut().find(|r| r.reporter == ctx.sender) {
                Some(existing) => *existing = report,
                // Reports come from current reporters only, at most one each,
                // so there is room for every reporter.
                None => reports.insert(0, report).map_err(|_| {
                    ActionError::Failed(FailureReason::Invalid {
                        detail: "feed holds more reports than reporters".into(),
                    })
                })?,
            }
            reports.sort_by_key(|r| r.reporter);
            module::store(view, &key, &feed)?;
            events.push(Event::Oracle(OracleEvent::PricePosted {
                asset: *asset,
                reporter: ctx.sender,
                price: *price,
            }));
            Ok(())
        }
    }
}

fn require_admin(ctx: &TxContext, view: &impl View) -> Result<(), ActionError> {
    if module::admin(view)? == Some(ctx.sender) {
        Ok(())
    } else {
        Err(fail(OracleError::NotAdmin { sender: ctx.sender }))
    }
}

/// The price of `asset` at the query's height, for other modules' queries.
pub(crate) fn query_price(
    ctx: &QueryCtx<'_>,
    asset: AssetId,
) -> Result<Result<Price, OracleError>, QueryError> {
    Ok(match ctx.object::<Feed>(&feed_key(asset))? {
        None => Err(OracleError::NoFeed { asset }),
        Some(feed) => feed.price(asset, ctx.height),
    })
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AssetParams {
    asset: AssetId,
}

/// Answers a read-only query.
///
/// - `price {asset}`: the median price with its status (`ok`, `stale`,
///   `missing`), age and the feed's reports.
pub fn query(
    method: &str,
    params: &serde_json::Value,
    ctx: &QueryCtx<'_>,
) -> Result<serde_json::Value, QueryError> {
    match method {
        "price" => {
            let AssetParams { asset } = query::params(params)?;
            let Some(feed) = ctx.object::<Feed>(&feed_key(asset))? else {
                let error = OracleError::NoFeed { asset };
                return Ok(json!({
                    "asset": asset,
                    "height": ctx.height,
                    "status": "missing",
                    "price": null,
                    "error": error.to_string(),
                }));
            };
            let reports: Vec<_> = feed
                .reports
                .iter()
                .map(|r| {
                    json!({
                        "reporter": r.reporter,
                        "price": r.price.to_string(),
                        "height": r.height,
                        "age": ctx.height.saturating_sub(r.height),
                        "fresh": r.is_fresh(ctx.height, feed.max_age),
                    })
                })
                .collect();
            let mut out = json!({
                "asset": asset,
                "height": ctx.height,
                "reporters": feed.reporters.to_vec(),
                "max_age": feed.max_age,
                "min_reports": feed.min_reports,
                "reports": reports,
            });
            match feed.price(asset, ctx.height) {
                Ok(p) => {
                    out["status"] = json!("ok");
                    out["price"] = json!(p.price.to_string());
                    out["fresh_reports"] = json!(p.fresh);
                    out["age"] = json!(ctx.height.saturating_sub(p.oldest));
                    out["newest_height"] = json!(p.newest);
                }
                Err(e) => {
                    out["status"] = json!(match e {
                        OracleError::StalePrice { .. } => "stale",
                        _ => "missing",
                    });
                    out["price"] = serde_json::Value::Null;
                    out["error"] = json!(e.to_string());
                }
            }
            Ok(out)
        }
        other => Err(QueryError::BadRequest(format!(
            "unknown oracle method {other:?}; methods: price"
        ))),
    }
}
