//! Block execution: applies a block's transactions, in order, to a prefetched
//! view of state and returns their receipts and the state changes to commit.
//!
//! The node drives one block in four steps, all I/O on its side:
//! 1. [`access_set`] lists every key the block may read or write;
//! 2. the node reads them in one batch into an [`Overlay`];
//! 3. [`execute_block_with`] runs the transactions (CPU only, deterministic),
//!    sequentially or with independent transactions on several threads, with
//!    results identical to the sequential [`execute_block`];
//! 4. the node writes [`Overlay::changes`] to the database and merkleizes.
//!
//! Signatures are verified before execution, in batches. Here a transaction is
//! *includable* when its chain id and nonce are right and its sender can pay
//! the fee due at this block's base fee. An includable transaction consumes its
//! nonce and pays that fee even if its action fails; a failed action leaves no
//! other trace. A transaction that is not includable has no effect at all: a
//! builder drops it, a verifier rejects the block.
//!
//! Each module of actions lives in its own folder under [`modules`] (`bank`,
//! `dex`, `book`, `oracle`, `lend`, `stake`, `farm`, `cover`; shared helpers in
//! [`modules::kit`], the registry in [`modules`]) and declares
//! the keys an action touches (and whether it may write them) from its payload
//! alone, so the parallel scheduler can group conflicting transactions without
//! running them.

mod genesis;
pub mod modules;
pub mod overlay;
mod parallel;

pub use genesis::{apply_genesis, check_genesis};
pub use modules::stake::{Offense, Participation};
pub use overlay::{Overlay, StateError};
pub use parallel::{ConflictGroups, PARALLEL_MIN_TXS, conflict_groups, parallel_lanes};

use lakh_state::StateKey;
use lakh_types::modules::bridge::{BridgeCommitment, BridgeError, L1Deposit};
use lakh_types::{
    Receipt, Refusal, SignedTransaction, Transaction, TxStatus,
    committee::{Committee, StakingParams},
    fees::{action_units, required_fee},
    limits::MAX_BLOCK_TXS,
};
use modules::kit::{Access, ActionError, TxContext};
use modules::{bridge, cover, shielded, stake};
use overlay::View;
use std::num::NonZeroUsize;

/// What a block executes under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockEnv {
    pub chain_id: u64,
    pub height: u64,
    /// The signers of the finalization certificates the block carries:
    /// they share the fee pot ([`stake::rewards`]).
    pub participation: Vec<stake::Participation>,
    /// The faults proven by the evidence the block carries, in block order
    /// (signatures already verified by consensus; [`stake::slashing`]).
    pub offenses: Vec<stake::Offense>,
    /// Native base units charged per fee unit in this block.
    pub base_fee: u128,
    /// The genesis staking parameters: epochs, committee size, minimum
    /// self-bond. The block at the last height of an epoch elects the next
    /// committee ([`BlockOutcome::next_committee`]).
    pub staking: StakingParams,
    /// The L1 deposits the block carries, applied before its transactions
    /// ([`bridge::start_block`]): each must be the next by count.
    pub deposits: Vec<L1Deposit>,
}

/// Whether the block is being built (drop what cannot be included) or checked
/// (anything that cannot be included invalidates the block).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Build,
    Verify,
}

/// The result of executing a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOutcome {
    /// One per included transaction, in block order; `index` counts included
    /// transactions only, so it is the position in the built block.
    pub receipts: Vec<Receipt>,
    /// Build mode: transactions dropped from the block (input index, reason),
    /// ascending. Always empty in verify mode.
    pub excluded: Vec<(usize, Refusal)>,
    /// Build mode: offenses of [`BlockEnv::offenses`] left out because they
    /// are no longer punishable (index, reason), ascending; the proposer
    /// drops their evidence from the block. Always empty in verify mode.
    pub excluded_offenses: Vec<(usize, lakh_types::modules::stake::StakeError)>,
    /// Build mode: deposits of [`BlockEnv::deposits`] left out (not the next
    /// by count, past the block's cap, no bridge), ascending; the proposer
    /// drops them from the block. Always empty in verify mode.
    pub excluded_deposits: Vec<(usize, BridgeError)>,
    /// What the header commits to about the bridge after this block
    /// ([`BridgeCommitment::empty`] of the chain on a chain without one).
    pub bridge: BridgeCommitment,
    /// Fee units of the included transactions.
    pub used_units: u64,
    /// Native base units paid in fees, credited to the fee pot and paid to
    /// the signers of the finalizations the block carries ([`stake::rewards`]).
    pub fees_paid: u128,
    /// At the last height of an epoch only: the committee elected for the
    /// next epoch (also stored under [`stake::committee_key`]), whose
    /// [`Committee::digest`] the block header commits to. `None` elsewhere.
    pub next_committee: Option<Committee>,
    /// What the block-level hooks did, in order: the deposits applied
    /// before the first transaction, then after the last the slashes,
    /// cover payouts, shielded appends and withdrawal leaves.
    pub block_events: Vec<lakh_types::Event>,
}

impl BlockOutcome {
    /// The transactions of `txs` (the input of [`execute_block`]) that made it
    /// into the block, in order.
    pub fn included<'a>(
        &'a self,
        txs: &'a [SignedTransaction],
    ) -> impl Iterator<Item = &'a SignedTransaction> + 'a {
        let mut excluded = self.excluded.iter().map(|(i, _)| *i).peekable();
        txs.iter().enumerate().filter_map(move |(i, tx)| {
            if excluded.peek() == Some(&i) {
                excluded.next();
                None
            } else {
                Some(tx)
            }
        })
    }
}

/// Why a block could not be executed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExecError {
    /// Verify mode: transaction `index` is not includable, so the block is invalid.
    #[error("invalid block: transaction {index} is not includable: {reason}")]
    InvalidBlock { index: usize, reason: Refusal },
    /// More transactions than any block may hold.
    #[error("block has {count} transactions, the limit is {max}")]
    TooManyTxs { count: usize, max: usize },
    /// Verify mode: the offense at `index` of [`BlockEnv::offenses`] cannot
    /// be punished (too old, offender already tombstoned, repeated).
    #[error("invalid block: offense {index} is not punishable: {reason}")]
    InvalidOffense {
        index: usize,
        reason: lakh_types::modules::stake::StakeError,
    },
    /// Verify mode: the deposit at `index` of [`BlockEnv::deposits`] cannot
    /// be applied (not the next by count, past the cap, no bridge).
    #[error("invalid block: deposit {index} cannot be applied: {reason}")]
    InvalidDeposit { index: usize, reason: BridgeError },
    /// The overlay does not hold what execution needs (a caller or database
    /// problem, not the block's fault).
    #[error(transparent)]
    State(#[from] StateError),
    /// Crediting fees overflowed the native token, which conservation rules out
    /// unless state is corrupt.
    #[error("native balance overflow crediting fees: state is inconsistent")]
    FeeOverflow,
    /// A slash did not fit u128 or custody held less than it burns, which
    /// the staking invariants rule out unless state is corrupt.
    #[error("slashing overflowed or custody is short: state is inconsistent")]
    SlashOverflow,
}

/// Lists, sorted and without repeats, every key executing `txs` under `env`
/// may read or write. Depends only on the transactions and `env` (at the
/// last height of an epoch it adds what the election reads and writes,
/// [`stake::boundary_keys`]), never on state.
pub fn access_set(env: &BlockEnv, txs: &[SignedTransaction]) -> Vec<StateKey> {
    let mut keys = Vec::with_capacity(txs.len() * 3 + 3);
    // The fee pot and the signers it pays, for `finish_block`.
    stake::reward_keys(&env.participation, &mut |key| keys.push(key));
    // The offenders' records, registry entries and custody, the burn account.
    stake::offense_keys(&env.offenses, &mut |key| keys.push(key));
    // At the last height of an epoch, what the election reads and writes.
    keys.extend(stake::boundary_keys(&env.staking, env.height));
    // The parametric product slots, which name the rest of what the cover
    // hook reads ([`block_access_set`]).
    keys.extend(cover::product_keys());
    // The shielded pool's end-of-block append.
    keys.extend(shielded::block_keys(env.height));
    // The bridge's state and what the block's deposits mint.
    keys.extend(bridge::block_keys());
    keys.extend(bridge::deposit_keys(&env.deposits));
    for tx in txs {
        tx_access(&tx.tx, &mut |key| keys.push(key));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// [`access_set`] plus what depends on state read first: what the
/// end-of-block cover hook reads beyond the product slots, and the
/// withdrawal tree's leaves and nodes the block may write. `hooks` holds the
/// values of [`hook_roots`] before the block, in its order (`None`: absent).
/// A node reads [`hook_roots`] first, then this set. Without products and
/// withdrawals it equals [`access_set`].
pub fn block_access_set(
    env: &BlockEnv,
    txs: &[SignedTransaction],
    hooks: &[Option<lakh_state::StateValue>],
) -> Vec<StateKey> {
    let mut keys = access_set(env, txs);
    let products = cover::product_keys().count();
    for value in hooks.iter().take(products).flatten() {
        if let lakh_state::StateValue::Object(bytes) = value
            && let Ok(product) =
                <lakh_types::modules::cover::Product as commonware_codec::Decode>::decode_cfg(
                    bytes.clone(),
                    &(),
                )
        {
            cover::hook_keys(env.height, &product, &mut |key| keys.push(key));
        }
    }
    let tree = hooks.get(products).and_then(Option::as_ref);
    keys.extend(bridge::append_keys(tree, txs));
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The keys to read before computing [`block_access_set`]: the parametric
/// product slots, then the bridge's withdrawal tree.
pub fn hook_roots() -> Vec<StateKey> {
    cover::product_keys().chain([bridge::tree_key()]).collect()
}

/// The keys one transaction may read or write (with repeats): its sender's
/// account and whatever its action declares.
pub fn tx_access(tx: &Transaction, visit: &mut impl FnMut(StateKey)) {
    tx_access_kinds(tx, &mut |key, _| visit(key));
}

/// [`tx_access`] with how each key is used. The first key visited is always the
/// sender's account, which is written (nonce and fee).
pub(crate) fn tx_access_kinds(tx: &Transaction, visit: &mut impl FnMut(StateKey, Access)) {
    let sender = tx.sender_address();
    visit(StateKey::Account(sender), Access::Write);
    modules::access(&sender, tx.nonce, &tx.action, visit);
}

/// Checks that `tx` can be included given its sender's account; returns the fee
/// it pays.
fn includable(
    env: &BlockEnv,
    tx: &Transaction,
    nonce: u64,
    native_balance: u128,
) -> Result<u128, Refusal> {
    if tx.chain_id != env.chain_id {
        return Err(Refusal::WrongChainId {
            expected: env.chain_id,
            got: tx.chain_id,
        });
    }
    if tx.nonce < nonce {
        return Err(Refusal::NonceReused {
            expected: nonce,
            got: tx.nonce,
        });
    }
    if tx.nonce > nonce {
        // Within a block nonces must be consecutive: nothing may queue.
        return Err(Refusal::NonceGap {
            expected: nonce,
            got: tx.nonce,
            max_ahead: 0,
        });
    }
    if nonce == u64::MAX {
        return Err(Refusal::InvalidAction("sender has used every nonce".into()));
    }
    let fee = required_fee(&tx.action, env.base_fee);
    if tx.max_fee < fee {
        return Err(Refusal::FeeTooLow {
            max_fee: tx.max_fee,
            required: fee,
        });
    }
    if native_balance < fee {
        return Err(Refusal::CannotPayFee {
            balance: native_balance,
            fee_due: fee,
        });
    }
    Ok(fee)
}

/// Executes `txs` in order against `overlay` (which must hold every key of
/// [`access_set`]`(env, txs)`). This is the sequential reference that
/// [`execute_block_with`] reproduces exactly.
///
/// In [`Mode::Build`] transactions that are not includable are skipped without
/// effect and listed in [`BlockOutcome::excluded`]; executing only the
/// [`BlockOutcome::included`] transactions in [`Mode::Verify`] from the same
/// state gives the same receipts and changes. In [`Mode::Verify`] the first
/// such transaction fails the block. On `Err` the overlay is partially updated
/// and must be discarded.
pub fn execute_block(
    env: &BlockEnv,
    txs: &[SignedTransaction],
    overlay: &mut Overlay,
    mode: Mode,
) -> Result<BlockOutcome, ExecError> {
    check_len(txs)?;
    let deposits = start_block(env, overlay, mode)?;
    let outcome = execute_sequential(env, txs, overlay, mode)?;
    Ok(with_deposits(outcome, deposits))
}

/// Which executor runs a block. Both give identical results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExecutorKind {
    /// One transaction after another on the calling thread ([`execute_block`]).
    Sequential,
    /// Independent conflict groups on up to `threads` threads (the caller's
    /// included), blocks under [`PARALLEL_MIN_TXS`] transactions sequentially.
    Parallel { threads: NonZeroUsize },
}

impl Default for ExecutorKind {
    /// Parallel on every core the process may use.
    fn default() -> Self {
        ExecutorKind::Parallel {
            threads: std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN),
        }
    }
}

/// Executes a block like [`execute_block`] with the executor `kind`: same
/// receipts (indices included), exclusions, units, fees, overlay changes and,
/// on failure, the same error (in [`Mode::Verify`], the first non-includable
/// transaction in block order).
pub fn execute_block_with(
    kind: &ExecutorKind,
    env: &BlockEnv,
    txs: &[SignedTransaction],
    overlay: &mut Overlay,
    mode: Mode,
) -> Result<BlockOutcome, ExecError> {
    match kind {
        ExecutorKind::Sequential => execute_block(env, txs, overlay, mode),
        ExecutorKind::Parallel { threads } => {
            execute_block_parallel(env, txs, overlay, mode, *threads, PARALLEL_MIN_TXS)
        }
    }
}

/// [`ExecutorKind::Parallel`] with an explicit small-block threshold: blocks
/// of fewer than `min_txs` transactions run sequentially (tests use 0 to send
/// every block through the parallel path).
pub fn execute_block_parallel(
    env: &BlockEnv,
    txs: &[SignedTransaction],
    overlay: &mut Overlay,
    mode: Mode,
    threads: NonZeroUsize,
    min_txs: usize,
) -> Result<BlockOutcome, ExecError> {
    check_len(txs)?;
    let deposits = start_block(env, overlay, mode)?;
    let outcome = if threads.get() < 2 || txs.len() < min_txs {
        execute_sequential(env, txs, overlay, mode)?
    } else {
        parallel::execute(env, txs, overlay, mode, threads.get())?
    };
    Ok(with_deposits(outcome, deposits))
}

/// Applies the block's L1 deposits before its transactions
/// ([`bridge::start_block`]), so they can spend what the deposits mint.
fn start_block(
    env: &BlockEnv,
    overlay: &mut Overlay,
    mode: Mode,
) -> Result<bridge::Deposits, ExecError> {
    let deposits = bridge::start_block(overlay, &env.deposits, mode)?;
    overlay.clear_journal();
    Ok(deposits)
}

/// `outcome` with what the block's start did in front of its block events.
fn with_deposits(mut outcome: BlockOutcome, deposits: bridge::Deposits) -> BlockOutcome {
    let mut events = deposits.events;
    events.append(&mut outcome.block_events);
    outcome.block_events = events;
    outcome.excluded_deposits = deposits.excluded;
    outcome
}

fn check_len(txs: &[SignedTransaction]) -> Result<(), ExecError> {
    if txs.len() > MAX_BLOCK_TXS {
        return Err(ExecError::TooManyTxs {
            count: txs.len(),
            max: MAX_BLOCK_TXS,
        });
    }
    Ok(())
}

fn empty_outcome(capacity: usize) -> BlockOutcome {
    BlockOutcome {
        receipts: Vec::with_capacity(capacity),
        excluded: Vec::new(),
        used_units: 0,
        fees_paid: 0,
        next_committee: None,
        excluded_offenses: Vec::new(),
        excluded_deposits: Vec::new(),
        bridge: BridgeCommitment::default(),
        block_events: Vec::new(),
    }
}

pub(crate) fn execute_sequential(
    env: &BlockEnv,
    txs: &[SignedTransaction],
    overlay: &mut Overlay,
    mode: Mode,
) -> Result<BlockOutcome, ExecError> {
    let mut outcome = empty_outcome(txs.len());
    for (index, signed) in txs.iter().enumerate() {
        execute_tx(env, index, signed, overlay, mode, &mut outcome)?;
    }
    finish_block(env, overlay, mode, &mut outcome)?;
    Ok(outcome)
}

/// Executes transaction `index` of the block, appending to `outcome`. The
/// receipt's index is its position in `outcome.receipts`, which a parallel
/// lane corrects when merging.
pub(crate) fn execute_tx<V: View>(
    env: &BlockEnv,
    index: usize,
    signed: &SignedTransaction,
    view: &mut V,
    mode: Mode,
    outcome: &mut BlockOutcome,
) -> Result<(), ExecError> {
    let tx = &signed.tx;
    let sender = tx.sender_address();
    let sender_slot = view.slot(&StateKey::Account(sender))?;
    let mut account = view.account_at(sender_slot)?;
    let checked = includable(env, tx, account.nonce, account.native_balance).and_then(|fee| {
        // Fees are drawn from balances, so their sum fits whenever the
        // native supply does; refusing keeps this path panic-free anyway.
        let total = outcome
            .fees_paid
            .checked_add(fee)
            .ok_or(Refusal::CannotPayFee {
                balance: account.native_balance,
                fee_due: fee,
            })?;
        Ok((fee, total))
    });
    let (fee, fees_total) = match checked {
        Ok(ok) => ok,
        Err(reason) => match mode {
            Mode::Build => {
                outcome.excluded.push((index, reason));
                return Ok(());
            }
            Mode::Verify => return Err(ExecError::InvalidBlock { index, reason }),
        },
    };

    account.nonce += 1;
    account.native_balance -= fee;
    view.set_account_at(sender_slot, account);
    outcome.fees_paid = fees_total;
    // At most MAX_BLOCK_TXS * (MAX_MULTI_TRANSFER_ENTRIES + 1) units: no overflow.
    outcome.used_units += action_units(&tx.action);

    let ctx = TxContext {
        sender,
        sender_slot,
        chain_id: env.chain_id,
        nonce: tx.nonce,
        height: env.height,
        staking: env.staking,
    };
    let checkpoint = view.checkpoint();
    let mut events = Vec::new();
    let result = modules::execute(&ctx, &tx.action, view, &mut events);
    if let Some(fault) = view.take_fault() {
        return Err(fault.into());
    }
    let status = match result {
        Ok(()) => TxStatus::Success,
        Err(ActionError::Failed(error)) => {
            view.rollback(checkpoint);
            events.clear();
            TxStatus::Failed { error }
        }
        Err(ActionError::State(e)) => return Err(e.into()),
    };
    view.clear_journal();

    outcome.receipts.push(Receipt {
        tx_id: signed.id(),
        sender,
        nonce: tx.nonce,
        height: env.height,
        // Fits: at most MAX_BLOCK_TXS receipts.
        index: outcome.receipts.len() as u32,
        fee_paid: fee,
        status,
        events,
    });
    Ok(())
}

/// Punishes the offenses the block's evidence proves
/// ([`stake::slashing`]). Credits the block's fees to the fee pot, after every transaction, and
/// pays the pot to the signers of the finalizations the block carries
/// ([`stake::rewards`]). Then, at the last height of an epoch,
/// elects the next committee ([`stake::elect_at_boundary`]) into
/// `outcome.next_committee`. Then the cover module's parametric products
/// evaluate their triggers and pay ([`cover::end_block`]). Then the
/// shielded pool appends the block's notes to its tree ([`shielded::end_block`]).
/// Last, the bridge burns the block's withdrawals and appends their leaves
/// ([`bridge::end_block`]), giving [`BlockOutcome::bridge`].
pub(crate) fn finish_block(
    env: &BlockEnv,
    overlay: &mut Overlay,
    mode: Mode,
    outcome: &mut BlockOutcome,
) -> Result<(), ExecError> {
    if !env.offenses.is_empty() {
        outcome.excluded_offenses =
            stake::punish_offenses(overlay, env, mode, &mut outcome.block_events)?;
        overlay.clear_journal();
    }
    // One credit per block, so the pot and the signers are not hot keys.
    if outcome.fees_paid > 0 || !env.participation.is_empty() {
        stake::share_fees(overlay, env, outcome.fees_paid, &mut outcome.block_events)?;
        overlay.clear_journal();
    }
    outcome.next_committee = stake::elect_at_boundary(overlay, &env.staking, env.height)?;
    overlay.clear_journal();
    cover::end_block(overlay, env.height, &mut outcome.block_events)?;
    overlay.clear_journal();
    shielded::end_block(overlay, env.height, &mut outcome.block_events)?;
    overlay.clear_journal();
    outcome.bridge = bridge::end_block(
        overlay,
        env.chain_id,
        env.height,
        &outcome.receipts,
        &mut outcome.block_events,
    )?;
    overlay.clear_journal();

    #[cfg(debug_assertions)]
    overlay.assert_conservation();
    Ok(())
}
