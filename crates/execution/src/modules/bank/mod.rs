//! The bank module: transfers of any asset, multi-transfers, asset creation
//! and minting.
//!
//! The native token's balance lives in the account entry (next to the nonce);
//! every other asset's balance lives under its own `Balance` key, and its
//! `Asset` entry tracks supply, which always equals the sum of the balances.

mod actions;
mod math;
mod query;
mod state;

use crate::modules::kit::{Access, ActionError, TxContext, View};
use actions::*;
use lakh_state::StateKey;
use lakh_types::{Action, Address, AssetId, Event, FailureReason, TransferEntry};

/// Declares every key `action` (sent by `sender` with `nonce`) may read or
/// write, except the sender's account, which every transaction touches.
pub(crate) fn access(
    sender: &Address,
    nonce: u64,
    action: &Action,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        Action::Transfer(entry) => transfer_access(sender, entry, visit),
        Action::MultiTransfer { entries } => {
            for entry in entries {
                transfer_access(sender, entry, visit);
            }
        }
        Action::CreateAsset { symbol, .. } => {
            let id = AssetId::derive(sender.as_bytes(), nonce);
            visit(StateKey::Symbol(symbol.clone()), Access::Write);
            visit(StateKey::Asset(id), Access::Write);
            visit(StateKey::Balance(*sender, id), Access::Write);
        }
        Action::Mint { asset, to, .. } if *asset != AssetId::NATIVE => {
            visit(StateKey::Asset(*asset), Access::Write);
            visit(StateKey::Balance(*to, *asset), Access::Write);
        }
        // Module actions are dispatched to their own modules.
        _ => {}
    }
}

fn transfer_access(
    sender: &Address,
    entry: &TransferEntry,
    visit: &mut impl FnMut(StateKey, Access),
) {
    if entry.asset == AssetId::NATIVE {
        visit(StateKey::Account(entry.to), Access::Write);
    } else {
        // Only checked to exist: transfers of one asset do not conflict through it.
        visit(StateKey::Asset(entry.asset), Access::Read);
        visit(StateKey::Balance(*sender, entry.asset), Access::Write);
        visit(StateKey::Balance(entry.to, entry.asset), Access::Write);
    }
}

/// Applies `action`. On `Err` the caller rolls back every write made here and
/// drops `events`; this function may leave partial writes behind.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &Action,
    overlay: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    match action {
        Action::Transfer(entry) => transfer(ctx, entry, overlay, events),
        Action::MultiTransfer { entries } => {
            // All-or-nothing: the first failing leg fails the action, and the
            // caller's rollback undoes the legs before it.
            for entry in entries {
                transfer(ctx, entry, overlay, events)?;
            }
            Ok(())
        }
        Action::CreateAsset {
            symbol,
            decimals,
            max_supply,
            initial_supply,
        } => create_asset(
            ctx,
            symbol,
            *decimals,
            *max_supply,
            *initial_supply,
            overlay,
            events,
        ),
        Action::Mint { asset, to, amount } => mint(ctx, *asset, to, *amount, overlay, events),
        _ => Err(ActionError::Failed(FailureReason::Invalid {
            detail: format!("{} is not a bank action", action.kind()),
        })),
    }
}
