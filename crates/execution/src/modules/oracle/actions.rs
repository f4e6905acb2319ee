//! The oracle's actions: set or remove a feed (admin), post a price (reporter).

use super::state::{Feed, Report, feed_key};
use crate::modules::kit::{self as module, ActionError, TxContext, View};
use crate::modules::kit::{fail, require_admin};
use lakh_types::{
    Address, AssetId, Event, FailureReason,
    codec::BoundedVec,
    modules::oracle::{MAX_REPORTERS, OracleError, OracleEvent},
};

pub(super) fn set_feed(
    ctx: &TxContext,
    view: &mut impl View,
    asset: &AssetId,
    reporters: &BoundedVec<Address, MAX_REPORTERS>,
    max_age_blocks: &u64,
    min_reports: &u8,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    require_admin(view, &ctx.sender)?;
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
        max_age_blocks: *max_age_blocks,
        min_reports: *min_reports,
        reports,
    };
    module::store(view, &key, &feed)?;
    events.push(Event::Oracle(OracleEvent::FeedSet {
        asset: *asset,
        reporters: reporters.clone(),
        max_age_blocks: *max_age_blocks,
        min_reports: *min_reports,
    }));
    Ok(())
}

pub(super) fn remove_feed(
    ctx: &TxContext,
    view: &mut impl View,
    asset: &AssetId,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    require_admin(view, &ctx.sender)?;
    let key = feed_key(*asset);
    if module::load::<Feed>(view, &key)?.is_none() {
        return Err(fail(OracleError::NoFeed { asset: *asset }));
    }
    module::remove(view, &key)?;
    events.push(Event::Oracle(OracleEvent::FeedRemoved { asset: *asset }));
    Ok(())
}

pub(super) fn post(
    ctx: &TxContext,
    view: &mut impl View,
    asset: &AssetId,
    price: &u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
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
