//! The execution modules and their registry: which module declares the keys
//! of an action, executes it, and answers a query.
//!
//! A query runs once, reading each state entry it needs through a
//! [`QueryRead`] as it goes ([`run_query`]); it is a pure function of the
//! state it reads and the height.

pub mod bank;
pub mod book;
pub mod bridge;
pub mod channel;
pub mod cover;
pub mod dex;
pub mod farm;
pub mod kit;
pub mod lend;
pub mod nft;
pub mod oracle;
pub mod shielded;
pub mod stake;

pub use kit::{QueryCtx, QueryError, QueryRead};

use kit::{Access, ActionError, TxContext, View};
use lakh_state::{StateKey, StateValue};
use lakh_types::{Action, Address, Event};
use std::cell::RefCell;
use std::collections::HashMap;

/// Declares every key `action` (sent by `sender` with `nonce`) may read or
/// write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    nonce: u64,
    action: &Action,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        Action::Transfer(_)
        | Action::MultiTransfer { .. }
        | Action::CreateAsset { .. }
        | Action::Mint { .. } => bank::access(sender, nonce, action, visit),
        Action::Dex(a) => dex::access(sender, nonce, a, visit),
        Action::Book(a) => book::access(sender, nonce, a, visit),
        Action::Oracle(a) => oracle::access(sender, nonce, a, visit),
        Action::Lend(a) => lend::access(sender, nonce, a, visit),
        Action::Stake(a) => stake::access(sender, nonce, a, visit),
        Action::Farm(a) => farm::access(sender, nonce, a, visit),
        Action::Cover(a) => cover::access(sender, nonce, a, visit),
        Action::Nft(a) => nft::access(sender, nonce, a, visit),
        Action::Shielded(a) => shielded::access(sender, nonce, a, visit),
        Action::Channel(a) => channel::access(sender, nonce, a, visit),
        Action::Bridge(a) => bridge::access(sender, nonce, a, visit),
    }
}

/// Applies `action` through its module; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &Action,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    match action {
        Action::Transfer(_)
        | Action::MultiTransfer { .. }
        | Action::CreateAsset { .. }
        | Action::Mint { .. } => bank::execute(ctx, action, view, events),
        Action::Dex(a) => dex::execute(ctx, a, view, events),
        Action::Book(a) => book::execute(ctx, a, view, events),
        Action::Oracle(a) => oracle::execute(ctx, a, view, events),
        Action::Lend(a) => lend::execute(ctx, a, view, events),
        Action::Stake(a) => stake::execute(ctx, a, view, events),
        Action::Farm(a) => farm::execute(ctx, a, view, events),
        Action::Cover(a) => cover::execute(ctx, a, view, events),
        Action::Nft(a) => nft::execute(ctx, a, view, events),
        Action::Shielded(a) => shielded::execute(ctx, a, view, events),
        Action::Channel(a) => channel::execute(ctx, a, view, events),
        Action::Bridge(a) => bridge::execute(ctx, a, view, events),
    }
}

/// Modules that answer queries, by name.
pub const MODULES: &[&str] = &[
    "dex", "book", "oracle", "lend", "stake", "farm", "cover", "nft", "shielded", "channel",
    "bridge",
];

/// Answers `method` of `module` with `params` (a JSON object).
pub fn query(
    module: &str,
    method: &str,
    params: &serde_json::Value,
    ctx: &QueryCtx<'_>,
) -> Result<serde_json::Value, QueryError> {
    match module {
        "dex" => dex::query(method, params, ctx),
        "book" => book::query(method, params, ctx),
        "oracle" => oracle::query(method, params, ctx),
        "lend" => lend::query(method, params, ctx),
        "stake" => stake::query(method, params, ctx),
        "farm" => farm::query(method, params, ctx),
        "cover" => cover::query(method, params, ctx),
        "nft" => nft::query(method, params, ctx),
        "shielded" => shielded::query(method, params, ctx),
        "channel" => channel::query(method, params, ctx),
        "bridge" => bridge::query(method, params, ctx),
        other => Err(QueryError::BadRequest(format!(
            "unknown module {other:?}; modules: {}",
            MODULES.join(", ")
        ))),
    }
}

/// Runs a query once against `read`, which fetches each key the query needs
/// (from a database, a test map) the first time it needs it. A query that
/// would read more than `max_reads` state entries is refused; a failed read
/// ends it as [`QueryError::Corrupt`] with the reader's reason.
pub fn run_query(
    module: &str,
    method: &str,
    params: &serde_json::Value,
    height: u64,
    max_reads: usize,
    read: impl FnMut(&StateKey) -> Result<Option<StateValue>, String>,
) -> Result<serde_json::Value, QueryError> {
    let reader = BoundedReader {
        read: RefCell::new(read),
        fetched: RefCell::new(HashMap::new()),
        max_reads,
    };
    query(
        module,
        method,
        params,
        &QueryCtx {
            height,
            state: &reader,
        },
    )
}

/// A reader that fetches each key once and at most `max_reads` keys.
struct BoundedReader<F> {
    read: RefCell<F>,
    fetched: RefCell<HashMap<StateKey, Option<StateValue>>>,
    max_reads: usize,
}

impl<F: FnMut(&StateKey) -> Result<Option<StateValue>, String>> QueryRead for BoundedReader<F> {
    fn read(&self, key: &StateKey) -> Result<Option<StateValue>, QueryError> {
        if let Some(value) = self.fetched.borrow().get(key) {
            return Ok(value.clone());
        }
        if self.fetched.borrow().len() >= self.max_reads {
            return Err(QueryError::BadRequest(format!(
                "query reads more than {} state entries",
                self.max_reads
            )));
        }
        let value = (self.read.borrow_mut())(key).map_err(QueryError::Corrupt)?;
        self.fetched.borrow_mut().insert(key.clone(), value.clone());
        Ok(value)
    }
}
