//! The execution modules and their registry: which module declares the keys
//! of an action, executes it, and answers a query.
//!
//! Queries run against whatever keys the caller has fetched so far. When one
//! needs a key that is not there it stops with [`QueryError::Need`]; the
//! caller fetches that key and runs it again. Queries are pure functions of
//! the state they read and the height, so re-running is safe.

pub mod bank;
pub mod book;
pub mod cover;
pub mod dex;
pub mod farm;
pub mod kit;
pub mod lend;
pub mod nft;
pub mod oracle;
pub mod shielded;
pub mod stake;

pub use kit::{Fetched, QueryCtx, QueryError};

use kit::{Access, ActionError, TxContext, View};
use lakh_state::{StateKey, StateValue};
use lakh_types::{Action, Address, Event};

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
    }
}

/// Modules that answer queries, by name.
pub const MODULES: &[&str] = &[
    "dex", "book", "oracle", "lend", "stake", "farm", "cover", "nft", "shielded",
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
        other => Err(QueryError::BadRequest(format!(
            "unknown module {other:?}; modules: {}",
            MODULES.join(", ")
        ))),
    }
}

/// What a query in progress wants next.
#[derive(Debug)]
pub enum QueryStep {
    /// The query is answered.
    Answer(serde_json::Value),
    /// Fetch this key, hand it to [`QueryRun::supply`] and step again.
    Need(StateKey),
}

/// The one query runner: it asks for the keys it lacks, the caller fetches
/// them (synchronously or not) and supplies them, until it can answer.
pub struct QueryRun<'a> {
    module: &'a str,
    method: &'a str,
    params: &'a serde_json::Value,
    height: u64,
    max_reads: usize,
    fetched: Fetched,
}

impl<'a> QueryRun<'a> {
    /// A query of `method` of `module` on the state at `height`, allowed to
    /// read at most `max_reads` state entries.
    pub fn new(
        module: &'a str,
        method: &'a str,
        params: &'a serde_json::Value,
        height: u64,
        max_reads: usize,
    ) -> Self {
        Self {
            module,
            method,
            params,
            height,
            max_reads,
            fetched: Fetched::default(),
        }
    }

    /// Runs the query on the keys supplied so far.
    pub fn step(&self) -> Result<QueryStep, QueryError> {
        let ctx = QueryCtx {
            height: self.height,
            state: &self.fetched,
        };
        match query(self.module, self.method, self.params, &ctx) {
            Ok(answer) => Ok(QueryStep::Answer(answer)),
            Err(QueryError::Need(_)) if self.fetched.0.len() >= self.max_reads => {
                Err(QueryError::BadRequest(format!(
                    "query reads more than {} state entries",
                    self.max_reads
                )))
            }
            Err(QueryError::Need(key)) => Ok(QueryStep::Need(key)),
            Err(e) => Err(e),
        }
    }

    /// Hands over the value of a key the query needed (`None`: it is empty).
    pub fn supply(&mut self, key: StateKey, value: Option<StateValue>) {
        self.fetched.0.insert(key, value);
    }
}

/// Runs a query to completion against `read`, which fetches keys (from a
/// database, a test map); gives up after `max_reads` fetches.
pub fn run_query(
    module: &str,
    method: &str,
    params: &serde_json::Value,
    height: u64,
    max_reads: usize,
    mut read: impl FnMut(&StateKey) -> Result<Option<StateValue>, String>,
) -> Result<serde_json::Value, QueryError> {
    let mut run = QueryRun::new(module, method, params, height, max_reads);
    loop {
        match run.step()? {
            QueryStep::Answer(answer) => return Ok(answer),
            QueryStep::Need(key) => {
                let value = read(&key).map_err(QueryError::Corrupt)?;
                run.supply(key, value);
            }
        }
    }
}
