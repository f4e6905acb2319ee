//! Read-only queries of module state (pool reserves, quotes, positions,
//! health), answered from the latest committed state.
//!
//! A query runs against whatever keys the caller has fetched so far. When it
//! needs a key that is not there it stops with [`QueryError::Need`]; the
//! caller fetches that key and runs it again. Queries are pure functions of
//! the state they read and the height, so re-running is safe.

use crate::module::balance_key;
use commonware_codec::{Decode, Read};
use lakh_state::{AccountState, AssetInfo, StateKey, StateValue};
use lakh_types::{Address, AssetId};
use std::collections::HashMap;

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

/// Modules that answer queries, by name.
pub const MODULES: &[&str] = &["dex", "book", "oracle", "lend", "stake", "farm", "cover"];

/// Answers `method` of `module` with `params` (a JSON object).
pub fn query(
    module: &str,
    method: &str,
    params: &serde_json::Value,
    ctx: &QueryCtx<'_>,
) -> Result<serde_json::Value, QueryError> {
    match module {
        "dex" => crate::dex::query(method, params, ctx),
        "book" => crate::book::query(method, params, ctx),
        "oracle" => crate::oracle::query(method, params, ctx),
        "lend" => crate::lend::query(method, params, ctx),
        "stake" => crate::stake::query(method, params, ctx),
        "farm" => crate::farm::query(method, params, ctx),
        "cover" => crate::cover::query(method, params, ctx),
        other => Err(QueryError::BadRequest(format!(
            "unknown module {other:?}; modules: {}",
            MODULES.join(", ")
        ))),
    }
}

/// Runs a query to completion against `read`, which fetches keys (from a
/// database, a test map); gives up after `max_rounds` fetches.
pub fn run_query(
    module: &str,
    method: &str,
    params: &serde_json::Value,
    height: u64,
    max_rounds: usize,
    mut read: impl FnMut(&StateKey) -> Result<Option<StateValue>, String>,
) -> Result<serde_json::Value, QueryError> {
    let mut fetched = Fetched::default();
    for _ in 0..=max_rounds {
        let ctx = QueryCtx {
            height,
            state: &fetched,
        };
        match query(module, method, params, &ctx) {
            Err(QueryError::Need(key)) => {
                let value = read(&key).map_err(QueryError::Corrupt)?;
                fetched.0.insert(key, value);
            }
            other => return other,
        }
    }
    Err(QueryError::BadRequest(format!(
        "query reads more than {max_rounds} state entries"
    )))
}
