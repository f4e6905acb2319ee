//! The lending module's objects and where they live.
//!
//! - a [`Market`] per asset (kind `0x40`, id = the asset id): parameters,
//!   tracked cash, total borrows, reserves, supply shares, borrow index;
//! - an account's [`Positions`] (kind `0x41`, id = the address): its supply
//!   shares and borrow principal in up to `MAX_POSITIONS` markets, so a health
//!   check reads one object per account plus the markets it names;
//! - the [`Registry`] of markets (kind `0x42`), written only when the admin
//!   creates a market, for listing;
//! - a market's [`BadDebtTotal`] (kind `0x43`, id = the asset id), written
//!   by liquidations that write debt off.
//!
//! A market's assets sit in the bank balance of its custody address
//! [`custody`]. The market tracks its cash itself and never reads that
//! balance, so a donation to the custody address changes nothing.

use lakh_state::{StateKey, object_kind};
use lakh_types::{
    Address, AssetId,
    codec::BoundedVec,
    modules::lend::{MAX_POSITIONS, MarketParams},
};

pub(crate) const KIND_MARKET: u8 = object_kind::LEND.start;
pub(crate) const KIND_POSITIONS: u8 = object_kind::LEND.start + 1;
pub(crate) const KIND_REGISTRY: u8 = object_kind::LEND.start + 2;
pub(crate) const KIND_BAD_DEBT: u8 = object_kind::LEND.start + 3;

/// Most markets the registry lists.
pub const MAX_MARKETS: usize = 256;

/// Supply shares minted with a market's first supply and owned by nobody, so
/// the share price can never be inflated from a near-empty market.
pub const LOCKED_SHARES: u128 = 1_000;

pub fn market_key(asset: AssetId) -> StateKey {
    crate::modules::kit::object_key(KIND_MARKET, &[&asset.0.to_be_bytes()])
}

pub fn positions_key(account: &Address) -> StateKey {
    crate::modules::kit::object_key(KIND_POSITIONS, &[account.as_bytes()])
}

pub fn registry_key() -> StateKey {
    crate::modules::kit::object_key(KIND_REGISTRY, &[])
}

/// The key of a market's [`BadDebtTotal`] (absent until a first write-off).
pub fn bad_debt_key(asset: AssetId) -> StateKey {
    crate::modules::kit::object_key(KIND_BAD_DEBT, &[&asset.0.to_be_bytes()])
}

/// The address holding a market's assets.
pub fn custody(asset: AssetId) -> Address {
    Address::module("lend", &asset.0.to_be_bytes())
}

lakh_types::codec_struct! {
    /// One asset's market.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub(crate) struct Market {
        pub asset: AssetId,
        /// The asset's decimals, fixed at creation (prices are per whole token).
        pub decimals: u8,
        pub params: MarketParams,
        /// Base units the market holds for suppliers and reserves (tracked,
        /// not read from the custody balance).
        pub cash: u128,
        /// Total borrowed plus accrued interest, as of `accrued_height`. Never
        /// more than the sum of the individual debts.
        pub borrows: u128,
        /// The protocol's share of interest, owed to no supplier.
        pub reserves: u128,
        /// Supply shares outstanding, the locked ones included.
        pub shares: u128,
        /// Grows with interest; scaled by 1e18, starting at 1e18.
        pub borrow_index: u128,
        /// Height interest has accrued to.
        pub accrued_height: u64,
    }
}

lakh_types::codec_struct! {
    /// Bad debt a market has written off, ever: a separate object so the
    /// cover module's bad-debt trigger reads one small key per market.
    #[derive(Clone, Debug, PartialEq, Eq, Default)]
    pub struct BadDebtTotal {
        /// Base units of the market's asset written off, ever.
        pub written_off: u128,
    }
}

lakh_types::codec_struct! {
    /// An account's position in one market.
    #[derive(Clone, Debug, PartialEq, Eq, Default)]
    pub(crate) struct Position {
        pub asset: AssetId,
        /// Supply shares.
        pub shares: u128,
        /// Debt as of the last time it changed...
        pub principal: u128,
        /// ...when the market's borrow index was this.
        pub index: u128,
    }
}

lakh_types::codec_struct! {
    /// Every position of an account; a position with neither shares nor
    /// debt is removed, and an account without positions has no object.
    #[derive(Clone, Debug, PartialEq, Eq, Default)]
    pub(crate) struct Positions {
        pub list: BoundedVec<Position, MAX_POSITIONS>,
    }
}

lakh_types::codec_struct! {
    /// The markets, in creation order.
    #[derive(Clone, Debug, PartialEq, Eq, Default)]
    pub(crate) struct Registry {
        pub assets: BoundedVec<AssetId, MAX_MARKETS>,
    }
}

impl Positions {
    pub fn get(&self, asset: AssetId) -> Option<&Position> {
        self.list.iter().find(|p| p.asset == asset)
    }

    /// The position in `asset` (empty if there is none).
    pub fn get_or_empty(&self, asset: AssetId) -> Position {
        self.get(asset).cloned().unwrap_or(Position {
            asset,
            ..Position::default()
        })
    }

    /// Replaces the position in `position.asset`, or adds it; `None` when
    /// that needs a new entry and the account already has `MAX_POSITIONS`.
    pub fn set(&mut self, position: Position) -> Option<()> {
        let mut list = self.list.as_mut_vec_within_bound();
        if let Some(existing) = list.iter_mut().find(|p| p.asset == position.asset) {
            *existing = position;
            return Some(());
        }
        self.list.try_push(position).ok()
    }

    /// Drops positions with neither shares nor debt.
    pub fn prune(&mut self) {
        self.list
            .as_mut_vec_within_bound()
            .retain(|p| p.shares != 0 || p.principal != 0);
    }

    pub fn assets(&self) -> impl Iterator<Item = AssetId> + '_ {
        self.list.iter().map(|p| p.asset)
    }
}
