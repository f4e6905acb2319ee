//! The oracle's read-only queries.

use super::state::{Feed, Price, feed_key};
use crate::modules::kit::{self as query, QueryCtx, QueryError};
use lakh_types::{AssetId, modules::oracle::OracleError};
use serde_json::json;

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
                        "fresh": r.is_fresh(ctx.height, feed.max_age_blocks),
                    })
                })
                .collect();
            let mut out = json!({
                "asset": asset,
                "height": ctx.height,
                "reporters": feed.reporters.to_vec(),
                "max_age": feed.max_age_blocks,
                "min_reports": feed.min_reports,
                "reports": reports,
            });
            match feed.price(asset, ctx.height) {
                Ok(p) => {
                    out["status"] = json!("ok");
                    out["price"] = json!(p.price.to_string());
                    out["fresh_reports"] = json!(p.fresh);
                    out["age"] = json!(ctx.height.saturating_sub(p.oldest_height));
                    out["newest_height"] = json!(p.newest_height);
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
