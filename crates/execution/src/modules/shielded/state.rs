//! The shielded module's objects, their keys and the pool's custody.

use crate::modules::kit::object_key;
use lakh_shielded::{ANCHOR_WINDOW, NoteTree, TREE_DEPTH, field};
use lakh_state::{StateKey, object_kind};
use lakh_types::codec::BoundedVec;
use lakh_types::modules::shielded::{Field32, FixedBytes, MAX_NOTES_PER_BLOCK, NoteCiphertext};
use lakh_types::{Address, AssetId};

/// Object kinds of the module (range `object_kind::SHIELDED`).
pub mod kind {
    use super::object_kind;
    /// [`super::TreeState`] (one object).
    pub const TREE: u8 = object_kind::SHIELDED.start;
    /// [`super::Pending`] (one object, alive only within a block).
    pub const PENDING: u8 = object_kind::SHIELDED.start + 1;
    /// [`super::SpentNullifier`], id = the nullifier (32 bytes).
    pub const NULLIFIER: u8 = object_kind::SHIELDED.start + 2;
    /// [`super::BlockNotes`], id = the block height (8 bytes, big-endian).
    pub const BLOCK_NOTES: u8 = object_kind::SHIELDED.start + 3;
    /// [`super::GenesisKey`] (one object, written at genesis when genesis
    /// carries a verifying key).
    pub const GENESIS_KEY: u8 = object_kind::SHIELDED.start + 4;
}

lakh_types::codec_struct! {
    /// The note commitment tree as of the last block that appended notes:
    /// what [`NoteTree::from_frontier`] restores it from.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TreeState {
        /// Notes appended (the next note's position).
        pub count: u64,
        /// The frontier: pending left nodes, one per level.
        pub frontier: [Field32; TREE_DEPTH],
        /// The recent roots, oldest first; the last is the current root.
        /// A spend's anchor must be one of them.
        pub recent_roots: BoundedVec<Field32, ANCHOR_WINDOW>,
    }
}

impl TreeState {
    /// The state of the empty tree (before any note).
    pub fn empty() -> Self {
        Self::of(&NoteTree::new(ANCHOR_WINDOW))
    }

    /// The stored form of `tree`.
    pub fn of(tree: &NoteTree<TREE_DEPTH>) -> Self {
        let roots: Vec<Field32> = tree
            .recent_roots()
            .map(|r| FixedBytes(r.to_bytes()))
            .collect();
        Self {
            count: tree.len(),
            frontier: tree.frontier().map(|x| FixedBytes(field::encode(&x))),
            recent_roots: BoundedVec::new(roots)
                .expect("a tree keeps at most ANCHOR_WINDOW recent roots"),
        }
    }

    /// Whether `anchor` is one of the recent roots.
    pub fn is_anchor(&self, anchor: &Field32) -> bool {
        self.recent_roots.contains(anchor)
    }

    /// The current root.
    pub fn root(&self) -> Option<&Field32> {
        self.recent_roots.last()
    }
}

lakh_types::codec_struct! {
    /// One new note: its commitment (the leaf) and its ciphertext.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct NewNote {
        pub commitment: Field32,
        pub encrypted_note: NoteCiphertext,
    }
}

lakh_types::codec_struct! {
    /// The current block's new notes, appended to the tree together at its
    /// end (then this object is removed).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Pending {
        /// Shielded actions the block applied so far.
        pub actions: u32,
        /// Their notes, in order.
        pub notes: BoundedVec<NewNote, MAX_NOTES_PER_BLOCK>,
    }
}

impl Default for Pending {
    fn default() -> Self {
        Self {
            actions: 0,
            notes: BoundedVec::empty(),
        }
    }
}

lakh_types::codec_struct! {
    /// The notes one block appended: what a wallet scans to find its notes
    /// and to keep its witnesses current.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct BlockNotes {
        /// Position of the first note.
        pub first_position: u64,
        /// The notes, in tree order.
        pub notes: BoundedVec<NewNote, MAX_NOTES_PER_BLOCK>,
    }
}

lakh_types::codec_struct! {
    /// A published nullifier: its note is spent.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct SpentNullifier {
        /// Height of the block that spent it.
        pub height: u64,
    }
}

lakh_types::codec_struct! {
    /// The verifying key genesis gave the chain, by its digest; absent when
    /// the chain verifies with the devnet key.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct GenesisKey {
        /// `VerifyingKey::digest` of the key.
        pub digest: FixedBytes<32>,
    }
}

/// The key of [`GenesisKey`].
pub fn genesis_key_key() -> StateKey {
    object_key(kind::GENESIS_KEY, &[])
}

/// The key of [`TreeState`].
pub fn tree_key() -> StateKey {
    object_key(kind::TREE, &[])
}

/// The key of [`Pending`].
pub fn pending_key() -> StateKey {
    object_key(kind::PENDING, &[])
}

/// The key of a [`SpentNullifier`].
pub fn nullifier_key(nullifier: &Field32) -> StateKey {
    object_key(kind::NULLIFIER, &[&nullifier.0])
}

/// The key of the [`BlockNotes`] of `height`.
pub fn block_notes_key(height: u64) -> StateKey {
    object_key(kind::BLOCK_NOTES, &[&height.to_be_bytes()])
}

/// The pool's custody account for `asset`: holds exactly the value of the
/// asset's unspent notes.
pub fn custody(asset: AssetId) -> Address {
    Address::module("shielded", &asset.0.to_be_bytes())
}
