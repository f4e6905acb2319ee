//! A pool's stored state and where it lives. Everything else about a pool
//! (custody address, share asset, share supply) is derived from its pair or
//! read from the bank.

use super::math::{Q128, price_q128};
use crate::modules::kit::object_key;
use lakh_state::{StateKey, object_kind};
use lakh_types::{
    Address, AssetId,
    modules::dex::{lp_asset_id, pool_custody, pool_id, sorted_pair},
};

/// Object kind of a pool (keyed by its 16-byte pool id).
pub const POOL_KIND: u8 = object_kind::DEX.start;

lakh_types::codec_struct! {
    /// One constant-product pool of the pair (`asset_a` < `asset_b`, implied
    /// by its key).
    #[derive(Clone, Debug, PartialEq, Eq, Default)]
    pub struct Pool {
        /// Reserves the pool prices with. Tracked here rather than read from
        /// the custody balances, so assets sent to the custody address
        /// (donations) never move the price or the share value; the custody
        /// balances are at least these.
        pub reserve_a: u128,
        pub reserve_b: u128,
        /// Block of the last accumulator update.
        pub last_height: u64,
        /// Σ (reserve_b / reserve_a) · blocks, as 128.128 fixed point,
        /// modulo 2^256: the price of A in B, time-weighted.
        pub price_a_cumulative: Q128,
        /// Σ (reserve_a / reserve_b) · blocks, likewise: the price of B in A.
        pub price_b_cumulative: Q128,
    }
}

impl Pool {
    /// The accumulators as of block `height`: each grows by the current
    /// price times the blocks elapsed since the last update (nothing while a
    /// reserve is zero). Applied on the first touch in a block, before the
    /// reserves change, so the prices recorded are those that held between
    /// blocks and one block's trades cannot move what it accumulates.
    pub fn accumulated(&self, height: u64) -> (Q128, Q128) {
        let elapsed = height.saturating_sub(self.last_height);
        match (
            price_q128(self.reserve_b, self.reserve_a),
            price_q128(self.reserve_a, self.reserve_b),
        ) {
            (Some(price_a), Some(price_b)) if elapsed > 0 => (
                self.price_a_cumulative
                    .wrapping_add(price_a.wrapping_mul_u64(elapsed)),
                self.price_b_cumulative
                    .wrapping_add(price_b.wrapping_mul_u64(elapsed)),
            ),
            _ => (self.price_a_cumulative, self.price_b_cumulative),
        }
    }

    /// Brings the accumulators up to `height` (a no-op after the first touch
    /// in a block).
    pub fn touch(&mut self, height: u64) {
        if height > self.last_height {
            (self.price_a_cumulative, self.price_b_cumulative) = self.accumulated(height);
            self.last_height = height;
        }
    }

    /// The reserves of `asset_in` and of the other asset of the pair.
    pub fn reserves_for(&self, pair: &Pair, asset_in: AssetId) -> (u128, u128) {
        if asset_in == pair.a {
            (self.reserve_a, self.reserve_b)
        } else {
            (self.reserve_b, self.reserve_a)
        }
    }

    /// Sets the reserves given as (reserve of `asset_in`, the other's).
    pub fn set_reserves_for(&mut self, pair: &Pair, asset_in: AssetId, r_in: u128, r_out: u128) {
        if asset_in == pair.a {
            (self.reserve_a, self.reserve_b) = (r_in, r_out);
        } else {
            (self.reserve_b, self.reserve_a) = (r_in, r_out);
        }
    }
}

/// A pool's pair in pool order and everything derived from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pair {
    pub a: AssetId,
    pub b: AssetId,
    pub id: [u8; 16],
    pub custody: Address,
}

impl Pair {
    /// `None` when both assets are the same.
    pub fn new(x: AssetId, y: AssetId) -> Option<Pair> {
        let id = pool_id(x, y)?;
        let (a, b) = sorted_pair(x, y);
        Some(Pair {
            a,
            b,
            id,
            custody: pool_custody(&id),
        })
    }

    pub fn key(&self) -> StateKey {
        object_key(POOL_KIND, &[&self.id])
    }

    pub fn lp_asset(&self) -> AssetId {
        lp_asset_id(&self.id)
    }

    /// The other asset of the pair.
    pub fn other(&self, asset: AssetId) -> AssetId {
        if asset == self.a { self.b } else { self.a }
    }
}
