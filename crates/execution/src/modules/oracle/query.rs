//! The oracle's read-only queries.

use super::state::{Feed, Price, feed_key};
use crate::modules::kit::{self as query, QueryCtx, QueryError};
use lakh_types::{
    AssetId,
    modules::oracle::{
        OracleError,
        query::{FeedAnswer, PriceAnswer, PriceStatus, ReportAnswer},
    },
};

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
            let answer = price_answer(ctx, asset)?;
            serde_json::to_value(answer).map_err(|e| QueryError::Corrupt(e.to_string()))
        }
        other => Err(QueryError::BadRequest(format!(
            "unknown oracle method {other:?}; methods: price"
        ))),
    }
}

/// The answer to `price {asset}`.
fn price_answer(ctx: &QueryCtx<'_>, asset: AssetId) -> Result<PriceAnswer, QueryError> {
    let mut answer = PriceAnswer {
        asset,
        height: ctx.height,
        status: PriceStatus::Missing,
        price: None,
        fresh_reports: None,
        age_blocks: None,
        newest_height: None,
        error: None,
        feed: None,
    };
    let Some(feed) = ctx.object::<Feed>(&feed_key(asset))? else {
        answer.error = Some(OracleError::NoFeed { asset }.to_string());
        return Ok(answer);
    };
    match feed.price(asset, ctx.height) {
        Ok(p) => {
            answer.status = PriceStatus::Ok;
            answer.price = Some(p.price);
            answer.fresh_reports = Some(p.fresh);
            answer.age_blocks = Some(ctx.height.saturating_sub(p.oldest_height));
            answer.newest_height = Some(p.newest_height);
        }
        Err(e) => {
            if matches!(e, OracleError::StalePrice { .. }) {
                answer.status = PriceStatus::Stale;
            }
            answer.error = Some(e.to_string());
        }
    }
    let reports = feed
        .reports
        .iter()
        .map(|r| ReportAnswer {
            reporter: r.reporter,
            price: r.price,
            height: r.height,
            age_blocks: ctx.height.saturating_sub(r.height),
            fresh: r.is_fresh(ctx.height, feed.max_age_blocks),
        })
        .collect();
    answer.feed = Some(FeedAnswer {
        reporters: feed.reporters.to_vec(),
        max_age_blocks: feed.max_age_blocks,
        min_reports: feed.min_reports,
        reports,
    });
    Ok(answer)
}
