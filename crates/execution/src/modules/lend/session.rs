//! What one lending action works on: the markets it loads (each accrued to
//! the block's height on load), the prices it reads, and which of those
//! markets it declared writable. Markets are written back only when the
//! action changed them (a market only read, e.g. for a health check, is
//! accrued virtually and never stored).

use super::health::{Holding, Valuation};
use super::state::{Market, Positions, market_key};
use crate::modules::kit::{self as module, ActionError, StateError, View};
use crate::modules::kit::{OrOverflow, fail};
use crate::modules::oracle;
use lakh_types::{
    Address, AssetId,
    modules::lend::{LendError, MAX_POSITIONS},
};

struct Loaded {
    market: Market,
    writable: bool,
    dirty: bool,
}

pub(crate) struct Session {
    height: u64,
    /// Assets whose market the action declared written.
    writable: Vec<AssetId>,
    /// At most MAX_POSITIONS + 2 markets: a linear scan beats hashing.
    markets: Vec<Loaded>,
    prices: Vec<(AssetId, u128)>,
}

impl Session {
    pub fn new(height: u64, writable: impl IntoIterator<Item = AssetId>) -> Session {
        Session {
            height,
            writable: writable.into_iter().collect(),
            markets: Vec::with_capacity(MAX_POSITIONS + 2),
            prices: Vec::with_capacity(MAX_POSITIONS + 2),
        }
    }

    /// The slot of `asset`'s market, loaded and accrued if it was not yet;
    /// fails with `NoMarket` when there is none. Its key must be declared.
    pub fn load(&mut self, view: &impl View, asset: AssetId) -> Result<usize, ActionError> {
        if let Some(i) = self.markets.iter().position(|l| l.market.asset == asset) {
            return Ok(i);
        }
        let mut market: Market =
            module::load(view, &market_key(asset))?.ok_or(fail(LendError::NoMarket { asset }))?;
        market.accrue(self.height).or_overflow()?;
        self.markets.push(Loaded {
            market,
            writable: self.writable.contains(&asset),
            dirty: false,
        });
        Ok(self.markets.len() - 1)
    }

    pub fn market(&self, slot: usize) -> &Market {
        &self.markets[slot].market
    }

    /// The market in `slot` for changing; it will be stored. Asking for a
    /// market the action declared read-only is a bug in the module, reported
    /// as the state error the parallel executor would raise.
    pub fn market_mut(&mut self, slot: usize) -> Result<&mut Market, ActionError> {
        let loaded = &mut self.markets[slot];
        if !loaded.writable {
            return Err(ActionError::State(StateError::WrittenReadOnly(market_key(
                loaded.market.asset,
            ))));
        }
        loaded.dirty = true;
        Ok(&mut loaded.market)
    }

    /// The oracle price of `asset` at this height (its feed must be declared).
    pub fn price(&mut self, view: &impl View, asset: AssetId) -> Result<u128, ActionError> {
        if let Some((_, p)) = self.prices.iter().find(|(a, _)| *a == asset) {
            return Ok(*p);
        }
        let price = oracle::price(view, asset, self.height)?.price;
        self.prices.push((asset, price));
        Ok(price)
    }

    /// Each position valued in its market's terms (no prices needed).
    fn holdings(
        &mut self,
        view: &impl View,
        positions: &Positions,
    ) -> Result<[Option<Holding>; MAX_POSITIONS], ActionError> {
        let mut out = [None; MAX_POSITIONS];
        for (slot, position) in out.iter_mut().zip(positions.list.iter()) {
            let i = self.load(view, position.asset)?;
            let market = self.market(i);
            *slot = Some(Holding {
                asset: position.asset,
                decimals: market.decimals,
                collateral_factor: market.params.collateral_factor,
                supplied: market.claim(position.shares).or_overflow()?,
                debt: market.debt(position).or_overflow()?,
            });
        }
        Ok(out)
    }

    /// The account's valuation; fails when a price it needs is missing or stale.
    pub fn valuation(
        &mut self,
        view: &impl View,
        positions: &Positions,
    ) -> Result<Valuation, ActionError> {
        let holdings = self.holdings(view, positions)?;
        self.value(view, &holdings)
    }

    fn value(
        &mut self,
        view: &impl View,
        holdings: &[Option<Holding>],
    ) -> Result<Valuation, ActionError> {
        let mut valuation = Valuation::default();
        for holding in holdings.iter().flatten() {
            if holding.needs_price() {
                let price = self.price(view, holding.asset)?;
                valuation.add(holding, price).or_overflow()?;
            }
        }
        Ok(valuation)
    }

    /// Fails with `Undercollateralized` unless `account` (holding
    /// `positions`) is healthy. An account without debt is healthy without
    /// reading any price.
    pub fn require_healthy(
        &mut self,
        view: &impl View,
        account: &Address,
        positions: &Positions,
    ) -> Result<(), ActionError> {
        let holdings = self.holdings(view, positions)?;
        if holdings.iter().flatten().all(|h| h.debt == 0) {
            return Ok(());
        }
        let valuation = self.value(view, &holdings)?;
        if valuation.is_healthy() {
            Ok(())
        } else {
            Err(fail(LendError::Undercollateralized {
                account: *account,
                debt_value: valuation.debt,
                borrow_capacity: valuation.collateral,
            }))
        }
    }

    /// Stores every market the action changed.
    pub fn commit(self, view: &mut impl View) -> Result<(), ActionError> {
        for loaded in self.markets.into_iter().filter(|l| l.dirty) {
            module::store(view, &market_key(loaded.market.asset), &loaded.market)?;
        }
        Ok(())
    }
}

/// Fails with `UndeclaredMarket` when `positions` has a position in a market
/// neither in `declared` nor in `also`.
pub(crate) fn require_declared(
    positions: &Positions,
    declared: &[AssetId],
    also: &[AssetId],
) -> Result<(), ActionError> {
    match positions
        .assets()
        .find(|a| !declared.contains(a) && !also.contains(a))
    {
        Some(asset) => Err(fail(LendError::UndeclaredMarket { asset })),
        None => Ok(()),
    }
}
