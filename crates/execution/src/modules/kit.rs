//! What every module of the execution layer shares: typed access to its
//! objects, moving, minting and burning assets through the bank's entries (so
//! supply conservation covers what sits in pools, markets and vaults), the
//! chain's admin, and the exact integer math they all use.
//!
//! Assets a module holds sit in the balances of its custody addresses
//! ([`Address::module`]); a module's own ledger (shares, positions, claims)
//! must never promise more than those balances hold.

pub(crate) use crate::overlay::{SlotId, StateError, View};
use commonware_codec::{Decode, Encode, Read};
use lakh_state::{AccountState, AssetInfo, ObjectKey, StateKey, StateValue, object_kind};
use lakh_types::{Address, AssetId, Event, FailureReason};

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
    /// The chain the transaction was signed for (ids derived per chain).
    pub chain_id: u64,
    /// The transaction's nonce (before it was consumed).
    pub nonce: u64,
    /// Height of the block being executed (deadlines, accrual, staleness).
    pub height: u64,
    /// The network's staking parameters (from the block's environment).
    pub staking: lakh_types::committee::StakingParams,
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

impl From<FailureReason> for ActionError {
    fn from(reason: FailureReason) -> Self {
        ActionError::Failed(reason)
    }
}

/// Fails the action with `reason`: a [`FailureReason`] or a module's error.
pub(crate) fn fail(reason: impl Into<FailureReason>) -> ActionError {
    ActionError::Failed(reason.into())
}

/// Turns a `None` from checked math into a clean `Overflow` failure.
pub(crate) trait OrOverflow<T> {
    fn or_overflow(self) -> Result<T, ActionError>;
}

impl<T> OrOverflow<T> for Option<T> {
    fn or_overflow(self) -> Result<T, ActionError> {
        self.ok_or(ActionError::Failed(FailureReason::Overflow))
    }
}

/// A query's answer to a `None` from checked math: the state read holds
/// values whose arithmetic passes u128, which valid state never does.
pub fn query_overflow(what: &str) -> QueryError {
    QueryError::Corrupt(format!("arithmetic overflow computing {what}"))
}

/// Why a query has no answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// The request is malformed (unknown module or method, bad parameters)
    /// or would read more state than a query may.
    #[error("bad query: {0}")]
    BadRequest(String),
    /// The thing asked about does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// State does not decode, or could not be read.
    #[error("corrupt state: {0}")]
    Corrupt(String),
}

/// Where a query reads state from: each key it needs, as it needs it.
pub trait QueryRead {
    /// The value under `key` (`None`: it holds nothing).
    fn read(&self, key: &StateKey) -> Result<Option<StateValue>, QueryError>;
}

/// What a query reads: state at a height.
pub struct QueryCtx<'a> {
    /// Height of the state being read (the latest finalized block).
    pub height: u64,
    pub state: &'a dyn QueryRead,
}

impl QueryCtx<'_> {
    pub fn get(&self, key: &StateKey) -> Result<Option<StateValue>, QueryError> {
        self.state.read(key)
    }

    pub fn object<T: Read<Cfg = ()>>(&self, key: &StateKey) -> Result<Option<T>, QueryError> {
        match self.get(key)? {
            None => Ok(None),
            Some(StateValue::Object(bytes)) => T::decode_cfg(bytes, &())
                .map(Some)
                .map_err(|e| QueryError::Corrupt(format!("{key:?}: {e}"))),
            Some(_) => Err(QueryError::Corrupt(format!("{key:?} is not an object"))),
        }
    }

    pub fn balance(&self, owner: &Address, asset: AssetId) -> Result<u128, QueryError> {
        match self.get(&balance_key(owner, asset))? {
            None => Ok(0),
            Some(StateValue::Account(AccountState { native_balance, .. })) => Ok(native_balance),
            Some(StateValue::Balance(b)) => Ok(b),
            Some(_) => Err(QueryError::Corrupt(format!(
                "balance of {owner} in {asset}"
            ))),
        }
    }

    pub fn asset(&self, asset: AssetId) -> Result<Option<AssetInfo>, QueryError> {
        match self.get(&StateKey::Asset(asset))? {
            None => Ok(None),
            Some(StateValue::Asset(info)) => Ok(Some(*info)),
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
    Ok(read_object(view, key)?)
}

/// [`load`] outside an action (block hooks): only state errors.
pub(crate) fn read_object<T: Read<Cfg = ()>>(
    view: &impl View,
    key: &StateKey,
) -> Result<Option<T>, StateError> {
    let slot = view.slot(key)?;
    match view.object_at(slot)? {
        None => Ok(None),
        Some(bytes) => T::decode_cfg(bytes.clone(), &())
            .map(Some)
            .map_err(|e| StateError::BadObject(key.clone(), e.to_string())),
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
    let available = require_balance(view, asset, from, amount)?;
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
/// `from`'s balance of `asset`, refused as insufficient below `amount`.
fn require_balance(
    view: &impl View,
    asset: AssetId,
    from: &Address,
    amount: u128,
) -> Result<u128, ActionError> {
    let available = balance(view, from, asset)?;
    if available < amount {
        return Err(ActionError::Failed(FailureReason::InsufficientBalance {
            asset,
            needed: amount,
            available,
        }));
    }
    Ok(available)
}

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
    let available = require_balance(view, asset, from, amount)?;
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
fn admin(view: &impl View) -> Result<Option<Address>, ActionError> {
    Ok(load::<ChainConfig>(view, &config_key())?
        .map(|c| c.admin)
        .filter(|a| *a != Address::default()))
}

/// Fails with `NotAdmin` unless `sender` is the chain's admin (the config
/// must be declared, see [`declare_config`]).
pub(crate) fn require_admin(view: &impl View, sender: &Address) -> Result<(), ActionError> {
    if admin(view)? == Some(*sender) {
        Ok(())
    } else {
        Err(fail(FailureReason::NotAdmin { sender: *sender }))
    }
}

/// A reward-per-token accumulator's share holder: a stake that earns
/// `amount * (per_token - paid) / precision` (rounded down) as the
/// accumulator `per_token` grows, plus what it already owes.
pub(crate) trait RewardIndex {
    /// The accumulator's fixed-point scale.
    const PRECISION: u128;
    /// The stake that earns.
    fn amount(&self) -> u128;
    /// The accumulator value up to which the holder has been settled.
    fn paid(&self) -> u128;
    /// Rewards settled and not yet paid out.
    fn owed(&self) -> u128;
    /// Records a settlement.
    fn set_settled(&mut self, paid: u128, owed: u128);

    /// What the holder could collect at accumulator value `per_token`: owed
    /// plus earned since it last settled.
    fn pending(&self, per_token: u128) -> Option<u128> {
        self.owed().checked_add(earned(
            self.amount(),
            per_token,
            self.paid(),
            Self::PRECISION,
        )?)
    }

    /// Moves what the holder earned up to `per_token` into its owed rewards.
    fn settle(&mut self, per_token: u128) -> Option<()> {
        let owed = self.pending(per_token)?;
        self.set_settled(per_token, owed);
        Some(())
    }
}

/// Rewards earned by `amount` while the accumulator went from `paid` to
/// `per_token`: `amount * (per_token - paid) / precision`, rounded down.
pub(crate) fn earned(amount: u128, per_token: u128, paid: u128, precision: u128) -> Option<u128> {
    math::mul_div_floor(amount, per_token.checked_sub(paid)?, precision)
}

/// Exact integer math: refuses overflow (`None`) instead of wrapping;
/// callers turn `None` into a clean `Overflow` failure ([`OrOverflow`]).
pub mod math {
    pub use lakh_types::math::{U256, mul_div_ceil, mul_div_floor, mul_wide, sqrt_product};
}
