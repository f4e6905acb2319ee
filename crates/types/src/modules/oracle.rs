//! Oracle: prices posted by authorized reporters; the price of an asset is the
//! median of its fresh reports.
//!
//! Prices are fixed point: the value of ONE WHOLE unit of the asset
//! (`10^decimals` base units) in the common quote unit, scaled by `1e18`. An
//! asset worth 3,000.25 quote units per whole token is posted as
//! `3_000_250_000_000_000_000_000`, whatever its decimals; the value of
//! `amount` base units is then `amount * price / 10^decimals` quote units
//! scaled by `1e18`.

use crate::codec::BoundedVec;
use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

pub mod query;

/// Most reporters a feed may authorize (and so most reports it holds).
pub const MAX_REPORTERS: usize = 16;
/// Longest staleness window a feed may have, in blocks.
pub const MAX_AGE_LIMIT: u64 = 1_000_000;

crate::tagged_enum! {
    /// What an `oracle` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum OracleAction {
        /// Admin only: creates or replaces the feed of `asset`. Reports of
        /// reporters that stay authorized are kept; the others are dropped.
        0x01 => SetFeed {
            /// The priced asset.
            asset: AssetId,
            /// Accounts allowed to post prices (at most `MAX_REPORTERS`).
            reporters: BoundedVec<Address, MAX_REPORTERS>,
            /// A report older than this many blocks is stale.
            max_age_blocks: u64,
            /// Fresh reports needed for a price.
            min_reports: u8,
        },
        /// Admin only: deletes the feed of `asset` (its price becomes missing).
        0x02 => RemoveFeed {
            /// The priced asset.
            asset: AssetId,
        },
        /// Authorized reporter only: replaces the sender's report for `asset`
        /// with `price` (quote units per whole token, scaled by 1e18) at the
        /// current height.
        0x03 => Post {
            /// The priced asset.
            asset: AssetId,
            /// Quote units per whole token, scaled by 1e18.
            #[serde(with = "crate::amount")]
            price: u128,
        },
    }
}

crate::tagged_enum! {
    /// Something an `oracle` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum OracleEvent {
        /// A feed was created or replaced.
        0x01 => FeedSet {
            /// The priced asset.
            asset: AssetId,
            /// Accounts allowed to post prices (at most `MAX_REPORTERS`).
            reporters: BoundedVec<Address, MAX_REPORTERS>,
            /// A report older than this many blocks is stale (at most `MAX_AGE_LIMIT`).
            max_age_blocks: u64,
            /// Fresh reports needed for a price.
            min_reports: u8,
        },
        /// A feed was deleted.
        0x02 => FeedRemoved {
            /// The priced asset.
            asset: AssetId,
        },
        /// A reporter posted a price at the current height.
        0x03 => PricePosted {
            /// The priced asset.
            asset: AssetId,
            /// The reporter that posted.
            reporter: Address,
            /// Quote units per whole token, scaled by 1e18.
            #[serde(with = "crate::amount")]
            price: u128,
        },
    }
}

crate::tagged_enum! {
    /// Why an `oracle` action failed, or why a module needing a price refused.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum OracleError {
        /// The asset has no feed.
        #[error("missing price for asset {asset}: no price feed is configured")]
        0x02 => NoFeed {
            /// The priced asset.
            asset: AssetId,
        },
        /// The asset's feed has no report yet.
        #[error("missing price for asset {asset}: no reporter has posted yet")]
        0x03 => MissingPrice {
            /// The priced asset.
            asset: AssetId,
        },
        /// Too few of the feed's reports are fresh.
        #[error(
            "stale price for asset {asset}: {fresh} fresh report(s) within the last {max_age_blocks} \
             block(s), {required} required"
        )]
        0x04 => StalePrice {
            /// The priced asset.
            asset: AssetId,
            /// Reports within `max_age_blocks` blocks.
            fresh: u8,
            /// Fresh reports the feed needs.
            required: u8,
            /// A report older than this many blocks is stale (at most `MAX_AGE_LIMIT`).
            max_age_blocks: u64,
        },
        /// A post by an account the feed does not authorize.
        #[error("{sender} is not an authorized reporter for asset {asset}")]
        0x05 => NotReporter {
            /// The priced asset.
            asset: AssetId,
            /// The account that sent the action.
            sender: Address,
        },
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &OracleAction) -> u64 {
    match action {
        OracleAction::SetFeed { .. } | OracleAction::RemoveFeed { .. } => 2,
        OracleAction::Post { .. } => 1,
    }
}

/// Checks that hold regardless of state; ingest refuses an action that fails
/// them with this reason, and execution fails it the same way.
pub fn check(action: &OracleAction) -> Result<(), String> {
    match action {
        OracleAction::SetFeed {
            reporters,
            max_age_blocks,
            min_reports,
            ..
        } => {
            if reporters.is_empty() {
                return Err("a feed needs at least one reporter".into());
            }
            for (i, r) in reporters.iter().enumerate() {
                if reporters[..i].contains(r) {
                    return Err(format!("reporter {r} is listed twice"));
                }
            }
            if *min_reports == 0 || *min_reports as usize > reporters.len() {
                return Err(format!(
                    "min_reports must be between 1 and the number of reporters ({}), got {min_reports}",
                    reporters.len()
                ));
            }
            if *max_age_blocks == 0 || *max_age_blocks > MAX_AGE_LIMIT {
                return Err(format!(
                    "max_age_blocks must be between 1 and {MAX_AGE_LIMIT} blocks, got {max_age_blocks}"
                ));
            }
            Ok(())
        }
        OracleAction::RemoveFeed { .. } => Ok(()),
        OracleAction::Post { price, .. } => {
            if *price == 0 {
                return Err("price must be positive".into());
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    fn reporters(n: u8) -> BoundedVec<Address, MAX_REPORTERS> {
        BoundedVec::new((0..n).map(|i| Address([i + 1; 32])).collect()).unwrap()
    }

    #[test]
    fn actions_round_trip_in_codec_and_json() {
        let actions = [
            OracleAction::SetFeed {
                asset: AssetId(7),
                reporters: reporters(3),
                max_age_blocks: 20,
                min_reports: 2,
            },
            OracleAction::RemoveFeed { asset: AssetId(7) },
            OracleAction::Post {
                asset: AssetId(7),
                price: u128::MAX,
            },
        ];
        for a in actions {
            let bytes = a.encode();
            assert_eq!(OracleAction::decode_cfg(bytes, &()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<OracleAction>(&json).unwrap(), a);
        }
        let json = r#"{"op":"post","asset":7,"price":"3000000000000000000000"}"#;
        assert_eq!(
            serde_json::from_str::<OracleAction>(json).unwrap(),
            OracleAction::Post {
                asset: AssetId(7),
                price: 3_000 * 10u128.pow(18)
            }
        );
    }

    #[test]
    fn stateless_checks() {
        let feed = |n, max_age_blocks, min_reports| OracleAction::SetFeed {
            asset: AssetId(1),
            reporters: reporters(n),
            max_age_blocks,
            min_reports,
        };
        assert!(check(&feed(3, 10, 2)).is_ok());
        assert!(check(&feed(0, 10, 0)).is_err());
        assert!(check(&feed(3, 10, 0)).is_err());
        assert!(check(&feed(3, 10, 4)).is_err());
        assert!(check(&feed(3, 0, 1)).is_err());
        assert!(check(&feed(3, MAX_AGE_LIMIT + 1, 1)).is_err());
        let dup = OracleAction::SetFeed {
            asset: AssetId(1),
            reporters: BoundedVec::new(vec![Address([1; 32]), Address([1; 32])]).unwrap(),
            max_age_blocks: 5,
            min_reports: 1,
        };
        assert!(check(&dup).unwrap_err().contains("twice"));
        assert!(
            check(&OracleAction::Post {
                asset: AssetId(1),
                price: 0
            })
            .is_err()
        );
    }

    #[test]
    fn errors_say_stale_and_missing() {
        let stale = OracleError::StalePrice {
            asset: AssetId(3),
            fresh: 1,
            required: 2,
            max_age_blocks: 10,
        };
        assert!(stale.to_string().starts_with("stale price for asset 3"));
        assert!(
            OracleError::NoFeed { asset: AssetId(3) }
                .to_string()
                .starts_with("missing price")
        );
        let bytes = stale.encode();
        assert_eq!(OracleError::decode_cfg(bytes, &()).unwrap(), stale);
    }
}
