//! The shielded pool's on-chain part: the note commitment tree, the
//! nullifier set and the pool's custody (`docs/modules/shielded.md`).
//!
//! - `shield` moves public funds into custody and queues the note the chain
//!   computes itself (`commitment_from_parts`); `transfer` and `unshield`
//!   spend two notes under a recent anchor, publish their nullifiers, queue
//!   two new notes, and pay their fee (and an unshield its amount) out of
//!   custody.
//! - The block's notes are appended to the tree together at its end
//!   ([`end_block`]), once: the anchors a block's spends may use are the
//!   roots of earlier blocks.
//! - Custody: per asset, [`custody`]`(asset)` holds exactly the value of the
//!   asset's unspent notes (bank balances, so supply conservation covers it).
//! - Proofs are **not** verified here. Like signatures, they are checked
//!   before execution: at ingest, in batches on the verifier threads, and,
//!   for a proposed block's transactions this node did not verify at
//!   ingest, by block verification, which rejects the whole block. A block
//!   that reaches execution has every proof verified by this node.
//! - Declared: the tree (read), the pending notes (written by every
//!   shielded action, so they serialize with each other, not with the rest
//!   of the chain), the nullifiers, and the balances moved.

mod actions;
pub(crate) mod math;
mod query;
pub(crate) mod state;

pub use query::query;
pub use state::{
    BlockNotes, GenesisKey, NewNote, Pending, SpentNullifier, TreeState, block_notes_key, custody,
    genesis_key_key, kind, nullifier_key, pending_key, tree_key,
};

use crate::modules::kit::{
    Access, ActionError, StateError, TxContext, View, declare_asset_read, declare_balance, fail,
    read_object,
};
use actions::*;
use lakh_shielded::{ANCHOR_WINDOW, NoteTree, TREE_DEPTH, chain, field};
use lakh_state::{StateKey, StateValue};
use lakh_types::modules::shielded::{FixedBytes, ShieldedAction, ShieldedEvent, check_typed};
use lakh_types::{Address, Event, Genesis};

/// The key the chain of `genesis` checks shielded proofs with (every point
/// checked): genesis' own, or the devnet's when it carries none.
pub fn chain_key(genesis: &Genesis) -> Result<chain::ChainVerifyingKey, chain::GenesisKeyError> {
    chain::ChainVerifyingKey::from_genesis(genesis.shielded.as_ref())
}

/// The module's genesis state: the digest of genesis' verifying key, if it
/// carries one (nothing otherwise, so chains without one keep their genesis
/// state). The digest is of the genesis bytes, which validation
/// ([`chain_key`]) requires to be the key's canonical encoding.
pub(crate) fn genesis_entries(genesis: &Genesis) -> Vec<(StateKey, StateValue)> {
    let Some(bytes) = genesis.shielded.as_ref().and_then(|s| s.key_bytes().ok()) else {
        return Vec::new();
    };
    let digest = FixedBytes(lakh_shielded::proof::verifying_key_digest(&bytes));
    vec![(
        genesis_key_key(),
        StateValue::Object(commonware_codec::Encode::encode(&GenesisKey { digest })),
    )]
}

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    _nonce: u64,
    action: &ShieldedAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    visit(tree_key(), Access::Read);
    visit(pending_key(), Access::Write);
    if let Some(spend) = action.spend() {
        for nullifier in spend.nullifiers {
            visit(nullifier_key(nullifier), Access::Write);
        }
    }
    match action {
        ShieldedAction::Shield { asset, .. } => {
            declare_asset_read(*asset, visit);
            declare_balance(sender, *asset, visit);
            declare_balance(&custody(*asset), *asset, visit);
        }
        ShieldedAction::Transfer { fee_asset, .. } => {
            if let Some(asset) = fee_asset {
                declare_balance(sender, *asset, visit);
                declare_balance(&custody(*asset), *asset, visit);
            }
        }
        ShieldedAction::Unshield {
            recipient, asset, ..
        } => {
            declare_balance(sender, *asset, visit);
            declare_balance(recipient, *asset, visit);
            declare_balance(&custody(*asset), *asset, visit);
        }
    }
}

/// The keys the end-of-block append reads and writes (in every block's
/// access set).
pub fn block_keys(height: u64) -> [StateKey; 3] {
    [tree_key(), pending_key(), block_notes_key(height)]
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &ShieldedAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    check_typed(action).map_err(fail)?;
    match action {
        ShieldedAction::Shield {
            asset,
            amount,
            owner_commitment,
            encrypted_note,
        } => shield(
            ctx,
            view,
            *asset,
            *amount,
            owner_commitment,
            encrypted_note,
            events,
        ),
        ShieldedAction::Transfer { .. } => transfer(ctx, view, action, events),
        ShieldedAction::Unshield {
            recipient,
            asset,
            amount,
            ..
        } => unshield(ctx, view, action, recipient, *asset, *amount, events),
    }
}

fn corrupt(key: StateKey, why: impl ToString) -> StateError {
    StateError::BadObject(key, why.to_string())
}

/// Appends the block's queued notes to the tree in one batch, records them
/// for wallets under the block's height and the new root as an anchor.
pub(crate) fn end_block(
    view: &mut impl View,
    height: u64,
    events: &mut Vec<Event>,
) -> Result<(), StateError> {
    // Present in every block's access set: a caller that did not prefetch
    // them is told so even in a block without notes.
    for key in block_keys(height) {
        view.slot(&key)?;
    }
    let Some(pending) = read_object::<Pending>(view, &pending_key())? else {
        return Ok(());
    };
    if pending.notes.is_empty() {
        let slot = view.slot(&pending_key())?;
        view.set_object_at(slot, bytes::Bytes::new());
        return Ok(());
    }
    let stored = read_object::<TreeState>(view, &tree_key())?.unwrap_or_else(TreeState::empty);
    let frontier = stored
        .frontier
        .map(|x| field::decode(&x.0))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(tree_key(), e))?;
    let frontier: [_; TREE_DEPTH] = frontier
        .try_into()
        .map_err(|_| corrupt(tree_key(), "frontier length"))?;
    let roots = stored
        .recent_roots
        .iter()
        .map(|r| lakh_shielded::MerkleRoot::from_bytes(&r.0))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(tree_key(), e))?;
    let mut tree =
        NoteTree::<TREE_DEPTH>::from_frontier(stored.count, frontier, roots, ANCHOR_WINDOW)
            .map_err(|e| corrupt(tree_key(), e))?;
    let leaves = pending
        .notes
        .iter()
        .map(|n| chain::commitment(&n.commitment))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| corrupt(pending_key(), e))?;
    // The actions checked the room: a failure here means corrupt state.
    let root = tree
        .append_batch(&leaves)
        .map_err(|e| corrupt(pending_key(), e))?;
    let count = pending.notes.len() as u64;
    let notes = BlockNotes {
        first_position: stored.count,
        notes: pending.notes,
    };
    let slot = view.slot(&block_notes_key(height))?;
    view.set_object_at(slot, commonware_codec::Encode::encode(&notes));
    let slot = view.slot(&tree_key())?;
    view.set_object_at(
        slot,
        commonware_codec::Encode::encode(&TreeState::of(&tree)),
    );
    let slot = view.slot(&pending_key())?;
    view.set_object_at(slot, bytes::Bytes::new());
    events.push(Event::Shielded(ShieldedEvent::NotesAppended {
        first_position: stored.count,
        count,
        root: FixedBytes(root.to_bytes()),
    }));
    Ok(())
}
