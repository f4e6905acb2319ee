//! A feed's state and the price it gives: the median of its fresh reports.

use lakh_state::{StateKey, object_kind};
use lakh_types::{
    Address, AssetId,
    codec::BoundedVec,
    modules::oracle::{MAX_REPORTERS, OracleError},
};

/// Object kind of a feed (one per asset).
pub(crate) const KIND_FEED: u8 = object_kind::ORACLE.start;

/// The key of `asset`'s feed.
pub fn feed_key(asset: AssetId) -> StateKey {
    crate::modules::kit::object_key(KIND_FEED, &[&asset.0.to_be_bytes()])
}

lakh_types::codec_struct! {
    /// One reporter's latest price.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) struct Report {
        pub reporter: Address,
        pub price: u128,
        /// Height of the block that recorded it.
        pub height: u64,
    }
}

lakh_types::codec_struct! {
    /// A feed: who may report, when a report goes stale, how many fresh ones
    /// a price needs, and the latest report of each reporter.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) struct Feed {
        pub reporters: BoundedVec<Address, MAX_REPORTERS>,
        pub max_age_blocks: u64,
        pub min_reports: u8,
        /// At most one per reporter, each from a current reporter.
        pub reports: BoundedVec<Report, MAX_REPORTERS>,
    }
}

/// The price a feed gives at some height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Price {
    /// Median of the fresh reports: quote units per whole token, scaled by 1e18.
    pub price: u128,
    /// Fresh reports the median was taken over.
    pub fresh: u8,
    /// Height of the oldest fresh report.
    pub oldest_height: u64,
    /// Height of the newest fresh report.
    pub newest_height: u64,
}

impl Report {
    /// Whether the report is at most `max_age_blocks` blocks old at `height`.
    pub(crate) fn is_fresh(&self, height: u64, max_age_blocks: u64) -> bool {
        height.saturating_sub(self.height) <= max_age_blocks
    }
}

impl Feed {
    /// The median of the reports at most `max_age_blocks` blocks old at `height`,
    /// when there are at least `min_reports` of them. With an even count the
    /// median is the mean of the two middle prices, rounded down.
    pub(crate) fn price(&self, asset: AssetId, height: u64) -> Result<Price, OracleError> {
        if self.reports.is_empty() {
            return Err(OracleError::MissingPrice { asset });
        }
        // At most MAX_REPORTERS entries: a fixed array, no allocation.
        let mut prices = [0u128; MAX_REPORTERS];
        let mut fresh = 0usize;
        let (mut oldest, mut newest) = (u64::MAX, 0u64);
        for report in self.reports.iter() {
            if report.is_fresh(height, self.max_age_blocks) {
                prices[fresh] = report.price;
                fresh += 1;
                oldest = oldest.min(report.height);
                newest = newest.max(report.height);
            }
        }
        // `fresh` <= MAX_REPORTERS (16), so it fits in a u8.
        if fresh == 0 || fresh < self.min_reports as usize {
            return Err(OracleError::StalePrice {
                asset,
                fresh: fresh as u8,
                required: self.min_reports,
                max_age_blocks: self.max_age_blocks,
            });
        }
        let prices = &mut prices[..fresh];
        prices.sort_unstable();
        let price = if fresh % 2 == 1 {
            prices[fresh / 2]
        } else {
            let (a, b) = (prices[fresh / 2 - 1], prices[fresh / 2]);
            // floor((a + b) / 2) without overflow.
            a / 2 + b / 2 + (a % 2 + b % 2) / 2
        };
        Ok(Price {
            price,
            fresh: fresh as u8,
            oldest_height: oldest,
            newest_height: newest,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(reports: &[(u128, u64)], max_age_blocks: u64, min_reports: u8) -> Feed {
        let reporters: Vec<Address> = (0..reports.len() as u8).map(|i| Address([i; 32])).collect();
        Feed {
            reporters: BoundedVec::new(reporters.clone()).unwrap(),
            max_age_blocks,
            min_reports,
            reports: BoundedVec::new(
                reports
                    .iter()
                    .zip(reporters)
                    .map(|(&(price, height), reporter)| Report {
                        reporter,
                        price,
                        height,
                    })
                    .collect(),
            )
            .unwrap(),
        }
    }

    #[test]
    fn median_of_fresh_reports() {
        let a = AssetId(1);
        // Odd count: the middle one.
        let f = feed(&[(30, 10), (10, 10), (20, 9)], 5, 1);
        assert_eq!(f.price(a, 10).unwrap().price, 20);
        // Even count: mean of the middle two, rounded down.
        let f = feed(&[(30, 10), (10, 10), (21, 9), (25, 9)], 5, 1);
        assert_eq!(f.price(a, 10).unwrap().price, 23);
        // No overflow at the top of u128.
        let f = feed(&[(u128::MAX, 10), (u128::MAX, 10)], 5, 1);
        assert_eq!(f.price(a, 10).unwrap().price, u128::MAX);
        let f = feed(&[(u128::MAX, 10), (u128::MAX - 1, 10)], 5, 1);
        assert_eq!(f.price(a, 10).unwrap().price, u128::MAX - 1);
        // A stale report is left out: (1000, 2) is 8 blocks old at 10.
        let f = feed(&[(1000, 2), (10, 10), (20, 9)], 5, 1);
        let p = f.price(a, 10).unwrap();
        assert_eq!(
            (p.price, p.fresh, p.oldest_height, p.newest_height),
            (15, 2, 9, 10)
        );
        // Exactly max_age_blocks old is still fresh.
        assert_eq!(feed(&[(7, 5)], 5, 1).price(a, 10).unwrap().price, 7);
        assert_eq!(
            feed(&[(7, 4)], 5, 1).price(a, 10),
            Err(OracleError::StalePrice {
                asset: a,
                fresh: 0,
                required: 1,
                max_age_blocks: 5
            })
        );
        // Too few fresh reports.
        assert_eq!(
            feed(&[(7, 10), (8, 1)], 5, 2).price(a, 10),
            Err(OracleError::StalePrice {
                asset: a,
                fresh: 1,
                required: 2,
                max_age_blocks: 5
            })
        );
        assert_eq!(
            feed(&[], 5, 1).price(a, 10),
            Err(OracleError::MissingPrice { asset: a })
        );
    }
}
