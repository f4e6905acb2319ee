//! What every module of the execution layer shares: typed access to its
//! objects, moving, minting and burning assets through the bank's entries (so
//! supply conservation covers what sits in pools, markets and vaults), the
//! chain's admin, and the exact integer math they all use.
//!
//! Assets a module holds sit in the balances of its custody addresses
//! ([`Address::module`]); a module's own ledger (shares, positions, claims)
//! must never promise more than those balances hold.

#![allow(dead_code)] // Helpers for the modules; some are not used by every build stage.

pub(crate) use crate::overlay::{SlotId, StateError, View};
use commonware_codec::{Decode, Encode, Read};
use lakh_state::{AccountState, AssetInfo, ObjectKey, StateKey, StateValue, object_kind};
use lakh_types::{Address, AssetId, Event, FailureReason};
use std::collections::HashMap;

/// How a transaction uses a key it declares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    /// Only read: transactions that merely read a key do not conflict.
    Read,
    /// Possibly written.
    Write,
}

/// What an action sees of its transaction.
pub(crate) struct TxContext {
    pub sender: Address,
    pub sender_slot: SlotId,
    /// The transaction's nonce (before it was consumed).
    pub nonce: u64,
    /// Height of the block being executed (deadlines, accrual, staleness).
    pub height: u64,
}

/// Why an action did not apply.
pub(crate) enum ActionError {
    /// The action failed; its writes are rolled back and a failure receipt written.
    Failed(FailureReason),
    /// The overlay is missing state; execution of the block stops.
    State(StateError),
}

impl From<StateError> for ActionError {
    fn from(e: StateError) -> Self {
        ActionError::State(e)
    }
}

/// Why a query has no answer (yet).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// Fetch this key and run the query again.
    #[error("query needs state key {0:?}")]
    Need(StateKey),
    /// The request is malformed (unknown module or method, bad parameters).
    #[error("bad query: {0}")]
    BadRequest(String),
    /// The thing asked about does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// State does not decode.
    #[error("corrupt state: {0}")]
    Corrupt(String),
}

/// Keys fetched so far: `None` for a key that holds nothing.
#[derive(Debug, Default)]
pub struct Fetched(pub HashMap<StateKey, Option<StateValue>>);

/// What a query reads: fetched state at a height.
pub struct QueryCtx<'a> {
    /// Height of the state being read (the latest finalized block).
    pub height: u64,
    pub state: &'a Fetched,
}

impl QueryCtx<'_> {
    pub fn get(&self, key: &StateKey) -> Result<Option<&StateValue>, QueryError> {
        match self.state.0.get(key) {
            Some(value) => Ok(value.as_ref()),
            None => Err(QueryError::Need(key.clone())),
        }
    }

    pub fn object<T: Read<Cfg = ()>>(&self, key: &StateKey) -> Result<Option<T>, QueryError> {
        match self.get(key)? {
            None => Ok(None),
            Some(StateValue::Object(bytes)) => T::decode_cfg(bytes.clone(), &())
                .map(Some)
                .map_err(|e| QueryError::Corrupt(format!("{key:?}: {e}"))),
            Some(_) => Err(QueryError::Corrupt(format!("{key:?} is not an object"))),
        }
    }

    pub fn balance(&self, owner: &Address, asset: AssetId) -> Result<u128, QueryError> {
        match self.get(&balance_key(owner, asset))? {
            None => Ok(0),
            Some(StateValue::Account(AccountState { native_balance, .. })) => Ok(*native_balance),
            Some(StateValue::Balance(b)) => Ok(*b),
            Some(_) => Err(QueryError::Corrupt(format!(
                "balance of {owner} in {asset}"
            ))),
        }
    }

    pub fn asset(&self, asset: AssetId) -> Result<Option<AssetInfo>, QueryError> {
        match self.get(&StateKey::Asset(asset))? {
            None => Ok(None),
            Some(StateValue::Asset(info)) => Ok(Some(info.clone())),
            Some(_) => Err(QueryError::Corrupt(format!("asset {asset}"))),
        }
    }
}

/// Parses a query's parameters.
pub fn params<T: serde::de::DeserializeOwned>(params: &serde_json::Value) -> Result<T, QueryError> {
    serde_json::from_value(params.clone()).map_err(|e| QueryError::BadRequest(e.to_string()))
}

/// The key of a module object.
pub fn object_key(kind: u8, parts: &[&[u8]]) -> StateKey {
    StateKey::Object(ObjectKey::new(kind, parts))
}

/// Reads and decodes the object under `key` (`None` when absent).
pub(crate) fn load<T: Read<Cfg = ()>>(
    view: &impl View,
    key: &StateKey,
) -> Result<Option<T>, ActionError> {
    let slot = view.slot(key)?;
    match view.object_at(slot)? {
        None => Ok(None),
        Some(bytes) => T::decode_cfg(bytes.clone(), &())
            .map(Some)
            .map_err(|e| ActionError::State(StateError::BadObject(key.clone(), e.to_string()))),
    }
}

/// Encodes and stores `value` under `key`.
pub(crate) fn store<T: Encode>(
    view: &mut impl View,
    key: &StateKey,
    value: &T,
) -> Result<(), ActionError> {
    let slot = view.slot(key)?;
    view.set_object_at(slot, value.encode());
    Ok(())
}

/// Deletes the object under `key`.
pub(crate) fn remove(view: &mut impl View, key: &StateKey) -> Result<(), ActionError> {
    let slot = view.slot(key)?;
    view.set_object_at(slot, bytes::Bytes::new());
    Ok(())
}

/// The key holding `owner`'s balance of `asset` (the account entry for the
/// native token).
pub fn balance_key(owner: &Address, asset: AssetId) -> StateKey {
    if asset == AssetId::NATIVE {
        StateKey::Account(*owner)
    } else {
        StateKey::Balance(*owner, asset)
    }
}

/// Declares that `owner`'s balance of `asset` may be written.
pub(crate) fn declare_balance(
    owner: &Address,
    asset: AssetId,
    visit: &mut impl FnMut(StateKey, Access),
) {
    visit(balance_key(owner, asset), Access::Write);
}

/// Declares that `asset`'s entry (supply) may be written: needed to mint or burn.
pub(crate) fn declare_supply(asset: AssetId, visit: &mut impl FnMut(StateKey, Access)) {
    visit(StateKey::Asset(asset), Access::Write);
}

/// Declares that `asset`'s entry is read (to check it exists).
pub(crate) fn declare_asset_read(asset: AssetId, visit: &mut impl FnMut(StateKey, Access)) {
    visit(StateKey::Asset(asset), Access::Read);
}

pub(crate) fn balance(
    view: &impl View,
    owner: &Address,
    asset: AssetId,
) -> Result<u128, ActionError> {
    let slot = view.slot(&balance_key(owner, asset))?;
    Ok(if asset == AssetId::NATIVE {
        view.account_at(slot)?.native_balance
    } else {
        view.balance_at(slot)?
    })
}

fn set_balance(
    view: &mut impl View,
    owner: &Address,
    asset: AssetId,
    amount: u128,
) -> Result<(), ActionError> {
    let slot = view.slot(&balance_key(owner, asset))?;
    if asset == AssetId::NATIVE {
        let mut account = view.account_at(slot)?;
        account.native_balance = amount;
        view.set_account_at(slot, account);
    } else {
        view.set_balance_at(slot, amount);
    }
    Ok(())
}

/// Whether `asset` exists (its entry must be declared, at least read).
pub(crate) fn asset_exists(view: &impl View, asset: AssetId) -> Result<bool, ActionError> {
    let slot = view.slot(&StateKey::Asset(asset))?;
    Ok(view.asset_at(slot)?.is_some())
}

pub(crate) fn asset_info(
    view: &impl View,
    asset: AssetId,
) -> Result<Option<AssetInfo>, ActionError> {
    let slot = view.slot(&StateKey::Asset(asset))?;
    Ok(view.asset_at(slot)?.cloned())
}

/// Moves `amount` of `asset` from `from` to `to`, recording a transfer event.
/// Fails with `InsufficientBalance` (nothing written) when `from` holds less.
pub(crate) fn move_asset(
    view: &mut impl View,
    asset: AssetId,
    from: &Address,
    to: &Address,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    if amount == 0 {
        return Ok(());
    }
    let available = balance(view, from, asset)?;
    if available < amount {
        return Err(ActionError::Failed(FailureReason::InsufficientBalance {
            asset,
            needed: amount,
            available,
        }));
    }
    if from != to {
        let credited = balance(view, to, asset)?
            .checked_add(amount)
            .ok_or(ActionError::Failed(FailureReason::Overflow))?;
        set_balance(view, from, asset, available - amount)?;
        set_balance(view, to, asset, credited)?;
    }
    events.push(Event::Transfer {
        asset,
        from: *from,
        to: *to,
        amount,
    });
    Ok(())
}

/// Creates `amount` new units of `asset` (issued by a module) for `to`.
pub(crate) fn mint(
    view: &mut impl View,
    asset: AssetId,
    to: &Address,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    if amount == 0 {
        return Ok(());
    }
    let slot = view.slot(&StateKey::Asset(asset))?;
    let Some(mut info) = view.asset_at(slot)?.cloned() else {
        return Err(ActionError::Failed(FailureReason::UnknownAsset { asset }));
    };
    info.supply = info
        .supply
        .checked_add(amount)
        .ok_or(ActionError::Failed(FailureReason::Overflow))?;
    if let Some(max) = info.max_supply
        && info.supply > max
    {
        return Err(ActionError::Failed(FailureReason::SupplyCapExceeded {
            asset,
            amount,
            max_supply: max,
        }));
    }
    // Cannot overflow while balances sum to the supply, which did not.
    let credited = balance(view, to, asset)?
        .checked_add(amount)
        .ok_or(ActionError::Failed(FailureReason::Overflow))?;
    view.set_asset_at(slot, info);
    set_balance(view, to, asset, credited)?;
    events.push(Event::Minted {
        asset,
        to: *to,
        amount,
    });
    Ok(())
}

/// Destroys `amount` of `asset` held by `from`.
pub(crate) fn burn(
    view: &mut impl View,
    asset: AssetId,
    from: &Address,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    if amount == 0 {
        return Ok(());
    }
    let available = balance(view, from, asset)?;
    if available < amount {
        return Err(ActionError::Failed(FailureReason::InsufficientBalance {
            asset,
            needed: amount,
            available,
        }));
    }
    let slot = view.slot(&StateKey::Asset(asset))?;
    let Some(mut info) = view.asset_at(slot)?.cloned() else {
        return Err(ActionError::Failed(FailureReason::UnknownAsset { asset }));
    };
    // Supply is the sum of balances, so it covers any one balance.
    info.supply -= amount;
    view.set_asset_at(slot, info);
    set_balance(view, from, asset, available - amount)?;
    events.push(Event::Burned {
        asset,
        from: *from,
        amount,
    });
    Ok(())
}

/// Registers a new asset issued by a module (its supply starts at zero), with
/// its symbol. The asset and symbol entries must be declared written. Fails if
/// the id or the symbol is taken.
pub(crate) fn create_module_asset(
    view: &mut impl View,
    id: AssetId,
    info: AssetInfo,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    debug_assert_eq!(info.supply, 0);
    let asset_slot = view.slot(&StateKey::Asset(id))?;
    if view.asset_at(asset_slot)?.is_some() {
        return Err(ActionError::Failed(FailureReason::Invalid {
            detail: format!("asset id {id} is already taken"),
        }));
    }
    let symbol_slot = view.slot(&StateKey::Symbol(info.symbol.clone()))?;
    if view.symbol_at(symbol_slot)?.is_some() {
        return Err(ActionError::Failed(FailureReason::SymbolTaken {
            symbol: info.symbol.clone(),
        }));
    }
    events.push(Event::AssetCreated {
        asset: id,
        symbol: info.symbol.clone(),
        issuer: info.issuer,
        decimals: info.decimals,
    });
    view.set_symbol_at(symbol_slot, id);
    view.set_asset_at(asset_slot, info);
    Ok(())
}

lakh_types::codec_struct! {
    /// Chain-wide settings fixed at genesis.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct ChainConfig {
        /// May create lending markets, set oracle reporters, create cover
        /// pools and other privileged setup; all-zero means nobody.
        pub admin: Address,
    }
}

/// The key of [`ChainConfig`].
pub fn config_key() -> StateKey {
    object_key(object_kind::CONFIG, &[])
}

/// Declares that the chain config is read (admin checks).
pub(crate) fn declare_config(visit: &mut impl FnMut(StateKey, Access)) {
    visit(config_key(), Access::Read);
}

/// The chain's admin, if genesis named one.
pub(crate) fn admin(view: &impl View) -> Result<Option<Address>, ActionError> {
    Ok(load::<ChainConfig>(view, &config_key())?
        .map(|c| c.admin)
        .filter(|a| *a != Address::default()))
}

/// Exact integer math. Every function refuses overflow (`None`) instead of
/// wrapping; callers turn `None` into a clean `Overflow` failure.
pub mod math {
    /// floor(a * b / d) with a 256-bit intermediate; `None` if `d` is zero or
    /// the result does not fit in u128.
    pub fn mul_div_floor(a: u128, b: u128, d: u128) -> Option<u128> {
        if d == 0 {
            return None;
        }
        let (hi, lo) = mul_wide(a, b);
        div_wide(hi, lo, d).map(|(q, _)| q)
    }

    /// ceil(a * b / d), as [`mul_div_floor`].
    pub fn mul_div_ceil(a: u128, b: u128, d: u128) -> Option<u128> {
        if d == 0 {
            return None;
        }
        let (hi, lo) = mul_wide(a, b);
        let (q, r) = div_wide(hi, lo, d)?;
        if r == 0 { Some(q) } else { q.checked_add(1) }
    }

    /// floor(sqrt(a * b)) with a 256-bit intermediate (always fits in u128).
    pub fn sqrt_product(a: u128, b: u128) -> u128 {
        let (hi, lo) = mul_wide(a, b);
        // Binary search on the root, which is below 2^128.
        let (mut low, mut high) = (0u128, u128::MAX);
        while low < high {
            let mid = low + (high - low) / 2 + 1;
            let (mh, ml) = mul_wide(mid, mid);
            if (mh, ml) <= (hi, lo) {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        low
    }

    /// floor(sqrt(n)).
    pub fn isqrt(n: u128) -> u128 {
        sqrt_product(n, 1)
    }

    /// The 256-bit product of `a` and `b` as (high, low) 128-bit halves.
    pub fn mul_wide(a: u128, b: u128) -> (u128, u128) {
        const MASK: u128 = u64::MAX as u128;
        let (a_hi, a_lo) = (a >> 64, a & MASK);
        let (b_hi, b_lo) = (b >> 64, b & MASK);
        let lo_lo = a_lo * b_lo;
        let hi_lo = a_hi * b_lo;
        let lo_hi = a_lo * b_hi;
        let hi_hi = a_hi * b_hi;
        let mid = (lo_lo >> 64) + (hi_lo & MASK) + (lo_hi & MASK);
        let lo = (lo_lo & MASK) | (mid << 64);
        let hi = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (mid >> 64);
        (hi, lo)
    }

    /// (hi·2^128 + lo) / d as (quotient, remainder); `None` if the quotient
    /// does not fit in u128.
    fn div_wide(hi: u128, lo: u128, d: u128) -> Option<(u128, u128)> {
        if hi == 0 {
            return Some((lo / d, lo % d));
        }
        if hi >= d {
            return None;
        }
        // Long division one bit at a time; hi < d keeps the quotient in range.
        let mut rem = hi;
        let mut quot = 0u128;
        for i in (0..128).rev() {
            let carry = rem >> 127;
            rem = (rem << 1) | ((lo >> i) & 1);
            quot <<= 1;
            if carry == 1 || rem >= d {
                rem = rem.wrapping_sub(d);
                quot |= 1;
            }
        }
        Some((quot, rem))
    }

    #[cfg(test)]
    mod tests {
        use super::*;
        use proptest::prelude::*;

        #[test]
        fn edge_cases() {
            assert_eq!(
                mul_div_floor(u128::MAX, u128::MAX, u128::MAX),
                Some(u128::MAX)
            );
            assert_eq!(mul_div_floor(u128::MAX, 2, 1), None);
            assert_eq!(mul_div_floor(7, 3, 0), None);
            assert_eq!(mul_div_ceil(7, 3, 2), Some(11));
            assert_eq!(mul_div_floor(7, 3, 2), Some(10));
            assert_eq!(
                sqrt_product(10u128.pow(18), 4 * 10u128.pow(18)),
                2 * 10u128.pow(18)
            );
            assert_eq!(sqrt_product(u128::MAX, u128::MAX), u128::MAX);
            assert_eq!(isqrt(15), 3);
            assert_eq!(isqrt(16), 4);
        }

        proptest! {
            #[test]
            fn matches_u128_math_when_it_fits(a in any::<u64>(), b in any::<u64>(), d in 1u128..u128::MAX) {
                let (a, b) = (a as u128, b as u128);
                prop_assert_eq!(mul_div_floor(a, b, d), Some(a * b / d));
                prop_assert_eq!(mul_div_ceil(a, b, d), Some((a * b).div_ceil(d)));
            }

            #[test]
            fn wide_division_is_exact(a in any::<u128>(), b in any::<u128>(), d in 1u128..=u128::MAX) {
                if let Some(q) = mul_div_floor(a, b, d) {
                    // q*d <= a*b < (q+1)*d, compared in 256 bits.
                    let (ph, pl) = mul_wide(a, b);
                    let (qh, ql) = mul_wide(q, d);
                    prop_assert!((qh, ql) <= (ph, pl));
                    if let Some(next) = q.checked_add(1) {
                        prop_assert!(mul_wide(next, d) > (ph, pl));
                    }
                }
            }

            #[test]
            fn sqrt_is_floor(a in any::<u128>(), b in any::<u128>()) {
                let r = sqrt_product(a, b);
                prop_assert!(mul_wide(r, r) <= mul_wide(a, b));
                if r < u128::MAX {
                    prop_assert!(mul_wide(r + 1, r + 1) > mul_wide(a, b));
                }
            }
        }
    }
}
