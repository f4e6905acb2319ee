//! Typed answers of the oracle's queries.

use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

/// Whether a feed gives a price now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceStatus {
    /// Enough fresh reports: the median is the price.
    Ok,
    /// The feed exists but has too few fresh reports.
    Stale,
    /// There is no feed.
    Missing,
}

/// Answer to `oracle price {asset}`: the median price with its status and
/// the feed's reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriceAnswer {
    /// The priced asset.
    pub asset: AssetId,
    /// Height of the state read.
    pub height: u64,
    /// Whether there is a price.
    pub status: PriceStatus,
    /// Median of the fresh reports: quote units per whole token, scaled by
    /// 1e18 (`None` unless `status` is `ok`).
    #[serde(with = "crate::amount::option")]
    pub price: Option<u128>,
    /// Fresh reports the median was taken over.
    pub fresh_reports: Option<u8>,
    /// Age of the oldest fresh report, in blocks.
    pub age_blocks: Option<u64>,
    /// Height of the newest fresh report.
    pub newest_height: Option<u64>,
    /// Why there is no price (`None` when `status` is `ok`).
    pub error: Option<String>,
    /// The feed (`None` when there is none).
    pub feed: Option<FeedAnswer>,
}

/// A price feed and its reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedAnswer {
    /// Accounts allowed to post prices.
    pub reporters: Vec<Address>,
    /// A report older than this many blocks is stale.
    pub max_age_blocks: u64,
    /// Fresh reports needed for a price.
    pub min_reports: u8,
    /// The reports held, one per reporter at most.
    pub reports: Vec<ReportAnswer>,
}

/// One reporter's latest report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportAnswer {
    /// Who posted it.
    pub reporter: Address,
    /// Quote units per whole token, scaled by 1e18.
    #[serde(with = "crate::amount")]
    pub price: u128,
    /// Height of the block that recorded it.
    pub height: u64,
    /// Its age at the query's height, in blocks.
    pub age_blocks: u64,
    /// Whether it counts toward the price.
    pub fresh: bool,
}
