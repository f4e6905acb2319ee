//! The lakh side of the Ethereum bridge (`docs/modules/bridge.md`): wrapped
//! assets minted only by L1 deposits, withdrawals that burn them and append
//! a leaf to the keccak withdrawal tree the L1 bridge pays against.
//!
//! - Genesis lists the bridged tokens; each gets a wrapped asset with a
//!   derived id ([`wrapped_asset_id`]) and supply 0, issued by an address
//!   nobody holds ([`wrapped_issuer`]), so only this module mints it.
//! - Deposits are not transactions: a block carries them (each validator
//!   checked them against its own L1 view) and they apply at its start
//!   ([`start_block`]), strictly in count order, advancing the running hash.
//! - `withdraw` moves the amount to its transaction's own escrow
//!   ([`escrow`]); the block's end ([`end_block`]) burns every escrow and
//!   appends the leaves in transaction order, then recomputes the root once.
//!   Withdrawals so share no written key: they run in parallel, and the
//!   indices follow block order whatever the executor.
//! - Tree: the deposit contract's frontier ([`TreeState`]), every leaf
//!   ([`LeafRecord`]) and every completed internal node, so a proof is at
//!   most 32 reads ([`query`]). Which nodes a block completes follows from
//!   the count before it and its number of withdrawals, so the node reads the
//!   tree state first ([`crate::hook_roots`]) and declares them.
//! - Supply: per wrapped asset, `supply == Σ minted by deposits − Σ burned
//!   by withdrawals`, and the escrows are empty between blocks.

mod actions;
pub(crate) mod math;
mod query;
pub(crate) mod state;

pub use query::query;
pub use state::{
    BridgeConfig, DepositState, LeafRecord, TreeState, WrappedToken, config_key, deposits_key,
    escrow, kind, leaf_key, node_key, token_key, tree_key,
};

use crate::modules::kit::{
    Access, ActionError, StateError, TxContext, View, balance_key, burn, declare_asset_read,
    declare_balance, fail, mint, read_object,
};
use crate::{ExecError, Mode};
use actions::withdraw;
use commonware_codec::Encode as _;
use lakh_state::{AssetInfo, StateKey, StateValue};
use lakh_types::codec::BoundedVec;
use lakh_types::modules::bridge::{
    BridgeAction, BridgeCommitment, BridgeError, BridgeEvent, BridgeGenesis,
    MAX_DEPOSITS_PER_BLOCK, WithdrawalLeaf, check_typed, wrapped_asset_id, wrapped_issuer,
};
use lakh_types::{Action, Address, Event, Receipt, SignedTransaction};

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    nonce: u64,
    action: &BridgeAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        BridgeAction::Withdraw { asset, .. } => {
            visit(config_key(), Access::Read);
            visit(token_key(*asset), Access::Read);
            visit(tree_key(), Access::Read);
            declare_balance(sender, *asset, visit);
            declare_balance(&escrow(sender, nonce), *asset, visit);
            // Burned at the block's end, not by the transaction.
            declare_asset_read(*asset, visit);
        }
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &BridgeAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    check_typed(action).map_err(fail)?;
    match action {
        BridgeAction::Withdraw {
            asset,
            amount,
            l1_recipient,
        } => withdraw(ctx, view, *asset, *amount, *l1_recipient, events),
    }
}

/// The keys every block reads: the config, the deposit state and the tree.
pub fn block_keys() -> [StateKey; 3] {
    [config_key(), deposits_key(), tree_key()]
}

/// The keys applying `deposits` reads and writes besides [`block_keys`].
pub fn deposit_keys(deposits: &[lakh_types::modules::bridge::L1Deposit]) -> Vec<StateKey> {
    let mut keys = Vec::with_capacity(deposits.len() * 3);
    for d in deposits {
        let asset = wrapped_asset_id(&d.token);
        keys.push(token_key(asset));
        keys.push(StateKey::Asset(asset));
        keys.push(balance_key(&d.recipient, asset));
    }
    keys
}

/// The leaves and internal nodes the block's end may write, given the tree
/// state before the block (`tree`, the value of [`tree_key`]) and the
/// block's transactions.
pub fn append_keys(tree: Option<&StateValue>, txs: &[SignedTransaction]) -> Vec<StateKey> {
    let withdrawals = txs
        .iter()
        .filter(|t| matches!(t.tx.action, Action::Bridge(BridgeAction::Withdraw { .. })))
        .count() as u64;
    if withdrawals == 0 {
        return Vec::new();
    }
    let count = match tree {
        Some(StateValue::Object(bytes)) => {
            <TreeState as commonware_codec::Decode>::decode_cfg(bytes.clone(), &())
                .map_or(0, |t| t.count)
        }
        _ => 0,
    };
    let end = count
        .saturating_add(withdrawals)
        .min(lakh_types::modules::bridge::WITHDRAWAL_TREE_CAPACITY);
    let mut keys: Vec<StateKey> = (count..end).map(leaf_key).collect();
    for (height, first, last) in math::completed_ranges(count, withdrawals) {
        keys.extend((first..last).map(|p| node_key(height, p)));
    }
    keys
}

/// The bridge's genesis entries: the config, and per token its wrapped
/// asset (supply 0), symbol and token marker.
pub fn genesis_entries(chain_id: u64, bridge: &BridgeGenesis) -> Vec<(StateKey, StateValue)> {
    let tokens = bridge.tokens.iter().map(|t| t.l1_token).collect();
    let config = BridgeConfig {
        chain_id,
        l1_chain_id: bridge.l1_chain_id,
        bridge: bridge.bridge_address,
        // Genesis validation bounds the list.
        tokens: BoundedVec::new(tokens).unwrap_or_else(BoundedVec::empty),
    };
    let mut out = vec![(config_key(), StateValue::Object(config.encode()))];
    for t in &bridge.tokens {
        let asset = wrapped_asset_id(&t.l1_token);
        out.push((
            StateKey::Asset(asset),
            StateValue::Asset(Box::new(AssetInfo {
                issuer: wrapped_issuer(),
                symbol: t.symbol.clone(),
                decimals: t.decimals,
                max_supply: None,
                supply: 0,
            })),
        ));
        out.push((
            StateKey::Symbol(t.symbol.clone()),
            StateValue::Symbol(asset),
        ));
        let marker = WrappedToken { token: t.l1_token };
        out.push((token_key(asset), StateValue::Object(marker.encode())));
    }
    out
}

/// What applying the block's deposits did.
#[derive(Default)]
pub(crate) struct Deposits {
    /// Deposit and mint events, in order.
    pub events: Vec<Event>,
    /// Build mode: deposits left out (index in the block's list, reason).
    pub excluded: Vec<(usize, BridgeError)>,
}

/// Refuses deposit `index` for `reason`: the block is invalid in verify mode,
/// the deposit is left out in build mode.
fn refuse(
    mode: Mode,
    index: usize,
    reason: BridgeError,
    out: &mut Deposits,
) -> Result<(), ExecError> {
    match mode {
        Mode::Verify => Err(ExecError::InvalidDeposit { index, reason }),
        Mode::Build => {
            out.excluded.push((index, reason));
            Ok(())
        }
    }
}

/// Applies the deposits the block carries, before its transactions: each
/// must be the next by count; one of a token genesis did not list (or whose
/// mint would overflow) advances the count and hash and mints nothing.
pub(crate) fn start_block(
    view: &mut impl View,
    deposits: &[lakh_types::modules::bridge::L1Deposit],
    mode: Mode,
) -> Result<Deposits, ExecError> {
    for key in block_keys() {
        view.slot(&key)?;
    }
    let mut out = Deposits::default();
    if deposits.is_empty() {
        return Ok(out);
    }
    if read_object::<BridgeConfig>(view, &config_key())?.is_none() {
        for index in 0..deposits.len() {
            refuse(mode, index, BridgeError::NoBridge {}, &mut out)?;
        }
        return Ok(out);
    }
    let mut state = read_object::<DepositState>(view, &deposits_key())?.unwrap_or_default();
    let mut applied = 0usize;
    for (index, d) in deposits.iter().enumerate() {
        if applied == MAX_DEPOSITS_PER_BLOCK {
            refuse(
                mode,
                index,
                BridgeError::TooManyDeposits {
                    max: MAX_DEPOSITS_PER_BLOCK as u32,
                },
                &mut out,
            )?;
            continue;
        }
        let expected = state.count.saturating_add(1);
        if d.count != expected || state.count == u64::MAX {
            refuse(
                mode,
                index,
                BridgeError::DepositOutOfOrder {
                    expected,
                    got: d.count,
                },
                &mut out,
            )?;
            continue;
        }
        applied += 1;
        state.hash = d.chain(&state.hash);
        state.count = d.count;
        let asset = wrapped_asset_id(&d.token);
        let wrapped = read_object::<WrappedToken>(view, &token_key(asset))?;
        let minted = if wrapped.is_some_and(|w| w.token == d.token) {
            let checkpoint = view.checkpoint();
            let mut minted_events = Vec::new();
            match mint(view, asset, &d.recipient, d.amount, &mut minted_events) {
                Ok(()) => {
                    out.events.extend(minted_events);
                    Ok(asset)
                }
                Err(ActionError::Failed(_)) => {
                    view.rollback(checkpoint);
                    Err(BridgeError::MintOverflow {
                        asset,
                        amount: d.amount,
                    })
                }
                Err(ActionError::State(e)) => return Err(e.into()),
            }
        } else {
            Err(BridgeError::UnknownToken { token: d.token })
        };
        out.events.push(Event::Bridge(match minted {
            Ok(asset) => BridgeEvent::Deposited {
                count: d.count,
                token: d.token,
                l1_sender: d.l1_sender,
                recipient: d.recipient,
                asset,
                amount: d.amount,
            },
            Err(reason) => BridgeEvent::DepositUnminted {
                count: d.count,
                token: d.token,
                l1_sender: d.l1_sender,
                recipient: d.recipient,
                amount: d.amount,
                reason,
            },
        }));
    }
    if applied > 0 {
        let slot = view.slot(&deposits_key())?;
        view.set_object_at(slot, commonware_codec::Encode::encode(&state));
    }
    Ok(out)
}

fn corrupt(key: StateKey, why: impl ToString) -> StateError {
    StateError::BadObject(key, why.to_string())
}

/// Burns the block's withdrawal escrows and appends their leaves in
/// transaction order, then returns the block's commitment (the chain's empty
/// one without a bridge).
pub(crate) fn end_block(
    view: &mut impl View,
    chain_id: u64,
    height: u64,
    receipts: &[Receipt],
    events: &mut Vec<Event>,
) -> Result<BridgeCommitment, StateError> {
    for key in block_keys() {
        view.slot(&key)?;
    }
    let Some(config) = read_object::<BridgeConfig>(view, &config_key())? else {
        return Ok(BridgeCommitment::empty(chain_id));
    };
    let deposits = read_object::<DepositState>(view, &deposits_key())?.unwrap_or_default();
    let mut tree = read_object::<TreeState>(view, &tree_key())?.unwrap_or_else(TreeState::empty);
    let before = tree.count;
    for receipt in receipts.iter().filter(|r| r.status.is_success()) {
        for event in &receipt.events {
            let Event::Bridge(BridgeEvent::WithdrawalRequested {
                sender,
                asset,
                token,
                amount,
                l1_recipient,
            }) = event
            else {
                continue;
            };
            let from = escrow(&receipt.sender, receipt.nonce);
            burn(view, *asset, &from, *amount, events).map_err(|e| match e {
                ActionError::State(e) => e,
                ActionError::Failed(reason) => corrupt(
                    balance_key(&from, *asset),
                    format!("escrow short: {reason}"),
                ),
            })?;
            let leaf = WithdrawalLeaf {
                lakh_chain_id: chain_id,
                l1_chain_id: config.l1_chain_id,
                bridge: config.bridge,
                index: tree.count,
                lakh_sender: *sender,
                l1_recipient: *l1_recipient,
                token: *token,
                amount: *amount,
            };
            let leaf_hash = leaf.hash();
            // The withdrawal checked the room for a whole block.
            let completed = tree
                .append(leaf_hash)
                .ok_or_else(|| corrupt(tree_key(), "withdrawal tree full"))?;
            for (h, position, node) in completed {
                let slot = view.slot(&node_key(h, position))?;
                view.set_object_at(slot, commonware_codec::Encode::encode(&node));
            }
            events.push(Event::Bridge(BridgeEvent::WithdrawalAppended {
                index: leaf.index,
                leaf_hash,
                sender: *sender,
                l1_recipient: *l1_recipient,
                token: *token,
                amount: *amount,
            }));
            let slot = view.slot(&leaf_key(leaf.index))?;
            view.set_object_at(
                slot,
                commonware_codec::Encode::encode(&LeafRecord { leaf, height }),
            );
        }
    }
    if tree.count != before {
        let slot = view.slot(&tree_key())?;
        view.set_object_at(slot, commonware_codec::Encode::encode(&tree));
    }
    Ok(BridgeCommitment {
        chain_id,
        withdrawal_root: tree.root(),
        withdrawal_count: tree.count,
        deposit_count: deposits.count,
        deposit_hash: deposits.hash,
    })
}
