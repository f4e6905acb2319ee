//! One function per shielded action, and the prologue they share: the
//! block's room, the anchor, the nullifiers.

use super::math::fits_tree;
use super::state::{
    NewNote, Pending, SpentNullifier, TreeState, custody, nullifier_key, pending_key, tree_key,
};
use crate::modules::kit::{
    ActionError, TxContext, View, asset_exists, fail, load, move_asset, store,
};
use lakh_shielded::{NoteTree, TREE_DEPTH, chain};
use lakh_types::modules::shielded::{
    Field32, MAX_SHIELDED_ACTIONS_PER_BLOCK, NoteCiphertext, ShieldedAction, ShieldedError,
    ShieldedEvent,
};
use lakh_types::{Address, AssetId, Event, FailureReason};

fn tree(view: &impl View) -> Result<TreeState, ActionError> {
    Ok(load::<TreeState>(view, &tree_key())?.unwrap_or_else(TreeState::empty))
}

/// Queues `notes` for the end of the block, refusing past the block's cap or
/// the tree's capacity (so the block's append never fails).
fn queue_notes(
    view: &mut impl View,
    tree: &TreeState,
    notes: Vec<NewNote>,
) -> Result<(), ActionError> {
    let mut pending = load::<Pending>(view, &pending_key())?.unwrap_or_default();
    if pending.actions as usize >= MAX_SHIELDED_ACTIONS_PER_BLOCK {
        return Err(fail(ShieldedError::BlockCap {
            cap: MAX_SHIELDED_ACTIONS_PER_BLOCK as u32,
        }));
    }
    let capacity = NoteTree::<TREE_DEPTH>::CAPACITY;
    if !fits_tree(
        tree.count,
        pending.notes.len() as u64,
        notes.len() as u64,
        capacity,
    ) {
        return Err(fail(ShieldedError::TreeFull { capacity }));
    }
    pending.actions += 1;
    for note in notes {
        // Within the cap: MAX_NOTES_PER_BLOCK = cap × notes per action.
        if pending.notes.try_push(note).is_err() {
            return Err(fail(ShieldedError::BlockCap {
                cap: MAX_SHIELDED_ACTIONS_PER_BLOCK as u32,
            }));
        }
    }
    store(view, &pending_key(), &pending)
}

/// Public `amount` of `asset` from the sender into the pool, as one note.
pub(super) fn shield(
    ctx: &TxContext,
    view: &mut impl View,
    asset: AssetId,
    amount: u128,
    owner_commitment: &Field32,
    encrypted_note: &NoteCiphertext,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    if !asset_exists(view, asset)? {
        return Err(fail(FailureReason::UnknownAsset { asset }));
    }
    let commitment = chain::shield_commitment(asset, amount, owner_commitment).map_err(fail)?;
    let tree = tree(view)?;
    queue_notes(
        view,
        &tree,
        vec![NewNote {
            commitment,
            encrypted_note: *encrypted_note,
        }],
    )?;
    move_asset(view, asset, &ctx.sender, &custody(asset), amount, events)?;
    events.push(Event::Shielded(ShieldedEvent::Shielded {
        from: ctx.sender,
        asset,
        amount,
        commitment,
    }));
    Ok(())
}

/// The part transfers and unshields share: the anchor is recent, the
/// nullifiers unspent (now spent), the new notes queued, the fee paid to
/// the sender. The proof was verified before execution (see the module doc).
fn spend(
    ctx: &TxContext,
    view: &mut impl View,
    action: &ShieldedAction,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let Some(spend) = action.spend() else {
        return Ok(());
    };
    let tree = tree(view)?;
    if !tree.is_anchor(spend.anchor) {
        return Err(fail(ShieldedError::UnknownAnchor {
            anchor: *spend.anchor,
        }));
    }
    for nullifier in spend.nullifiers {
        let key = nullifier_key(nullifier);
        if load::<SpentNullifier>(view, &key)?.is_some() {
            return Err(fail(ShieldedError::NullifierSpent {
                nullifier: *nullifier,
            }));
        }
        store(view, &key, &SpentNullifier { height: ctx.height })?;
    }
    let notes = spend
        .commitments
        .iter()
        .zip(spend.encrypted_notes)
        .map(|(commitment, encrypted_note)| NewNote {
            commitment: *commitment,
            encrypted_note: *encrypted_note,
        })
        .collect();
    queue_notes(view, &tree, notes)?;
    if let Some(asset) = action.revealed_asset() {
        move_asset(view, asset, &custody(asset), &ctx.sender, spend.fee, events)?;
    }
    Ok(())
}

/// Two notes in, two out, privately; a fee, if any, to the sender.
pub(super) fn transfer(
    ctx: &TxContext,
    view: &mut impl View,
    action: &ShieldedAction,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    spend(ctx, view, action, events)?;
    if let ShieldedAction::Transfer {
        nullifiers,
        commitments,
        fee,
        fee_asset,
        ..
    } = action
    {
        events.push(Event::Shielded(ShieldedEvent::Transferred {
            nullifiers: *nullifiers,
            commitments: *commitments,
            fee: *fee,
            fee_asset: *fee_asset,
        }));
    }
    Ok(())
}

/// Two notes in, `amount` to a public account, change notes out.
pub(super) fn unshield(
    ctx: &TxContext,
    view: &mut impl View,
    action: &ShieldedAction,
    recipient: &Address,
    asset: AssetId,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    spend(ctx, view, action, events)?;
    move_asset(view, asset, &custody(asset), recipient, amount, events)?;
    if let ShieldedAction::Unshield {
        nullifiers,
        commitments,
        fee,
        ..
    } = action
    {
        events.push(Event::Shielded(ShieldedEvent::Unshielded {
            to: *recipient,
            asset,
            amount,
            fee: *fee,
            nullifiers: *nullifiers,
            commitments: *commitments,
        }));
    }
    Ok(())
}
