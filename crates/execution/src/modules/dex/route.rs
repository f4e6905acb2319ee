//! Pricing a swap route through consecutive pools, shared by execution and
//! the `quote` query so a quote is exactly what a swap would do.

use super::math;
use super::state::{Pair, Pool};
use lakh_types::{
    AssetId,
    modules::dex::{DexError, MAX_PATH_ASSETS},
};

/// Why a route cannot be priced.
#[derive(Debug)]
pub(crate) enum PriceError {
    Dex(DexError),
    Overflow,
}

/// A route's pools (in path order) and, once priced, the amount at each
/// asset of the path: `amounts[i]` of `path[i]` is sold into hop `i` and
/// bought by hop `i − 1`.
pub(crate) struct Route<'p> {
    pub path: &'p [AssetId],
    pub hops: [(Pair, Pool); MAX_PATH_ASSETS - 1],
    pub amounts: [u128; MAX_PATH_ASSETS],
}

impl<'p> Route<'p> {
    /// Loads the pool of every hop of `path` (checked: 2 to 5 assets, no pool
    /// twice, so pricing every hop against the loaded reserves is exact).
    pub fn load<E>(
        path: &'p [AssetId],
        mut get: impl FnMut(&Pair) -> Result<Pool, E>,
        same_asset: impl Fn(AssetId) -> E,
    ) -> Result<Route<'p>, E> {
        let mut hops: [(Pair, Pool); MAX_PATH_ASSETS - 1] = Default::default();
        for (assets, hop) in path.windows(2).zip(&mut hops) {
            let pair = Pair::new(assets[0], assets[1]).ok_or_else(|| same_asset(assets[0]))?;
            *hop = (pair, get(&pair)?);
        }
        Ok(Route {
            path,
            hops,
            amounts: [0; MAX_PATH_ASSETS],
        })
    }

    fn hop_count(&self) -> usize {
        self.path.len().saturating_sub(1)
    }

    /// What the route sells (`path[0]`).
    pub fn amount_in(&self) -> u128 {
        self.amounts[0]
    }

    /// What the route buys (the last asset).
    pub fn amount_out(&self) -> u128 {
        self.amounts[self.hop_count()]
    }

    /// Reserves (in, out) of hop `i`, refusing an empty pool.
    fn reserves(&self, i: usize) -> Result<(u128, u128), PriceError> {
        let (pair, pool) = &self.hops[i];
        if pool.reserve_a == 0 || pool.reserve_b == 0 {
            return Err(PriceError::Dex(DexError::EmptyPool {
                asset_a: pair.a,
                asset_b: pair.b,
            }));
        }
        Ok(pool.reserves_for(pair, self.path[i]))
    }

    /// Prices selling `amount_in` forward through every hop.
    pub fn price_exact_in(&mut self, amount_in: u128) -> Result<(), PriceError> {
        self.amounts[0] = amount_in;
        for i in 0..self.hop_count() {
            let (r_in, r_out) = self.reserves(i)?;
            let out = math::amount_out(self.amounts[i], r_in, r_out).ok_or(PriceError::Overflow)?;
            if out == 0 {
                return Err(PriceError::Dex(DexError::ZeroOutput {
                    asset_in: self.path[i],
                    asset_out: self.path[i + 1],
                    amount_in: self.amounts[i],
                }));
            }
            self.amounts[i + 1] = out;
        }
        Ok(())
    }

    /// Prices buying `amount_out` backward through every hop.
    pub fn price_exact_out(&mut self, amount_out: u128) -> Result<(), PriceError> {
        self.amounts[self.hop_count()] = amount_out;
        for i in (0..self.hop_count()).rev() {
            let (r_in, r_out) = self.reserves(i)?;
            let want = self.amounts[i + 1];
            if want >= r_out {
                return Err(PriceError::Dex(DexError::InsufficientLiquidity {
                    asset: self.path[i + 1],
                    reserve: r_out,
                    requested: want,
                }));
            }
            self.amounts[i] = math::amount_in(want, r_in, r_out).ok_or(PriceError::Overflow)?;
        }
        Ok(())
    }

    /// The priced hops: (pair, pool before, asset in, amount in, asset out,
    /// amount out).
    pub fn priced_hops(
        &self,
    ) -> impl Iterator<Item = (&Pair, &Pool, AssetId, u128, AssetId, u128)> + '_ {
        self.hops[..self.hop_count()]
            .iter()
            .enumerate()
            .map(|(i, (pair, pool))| {
                (
                    pair,
                    pool,
                    self.path[i],
                    self.amounts[i],
                    self.path[i + 1],
                    self.amounts[i + 1],
                )
            })
    }
}
