//! The bridge's objects, their keys and the withdrawal escrow.

use crate::modules::kit::object_key;
use lakh_state::{StateKey, object_kind};
use lakh_types::codec::BoundedVec;
use lakh_types::modules::bridge::{
    Keccak, L1Address, MAX_BRIDGE_TOKENS, WITHDRAWAL_TREE_DEPTH, WithdrawalLeaf,
};
use lakh_types::{Address, AssetId};

/// Object kinds of the module (range `object_kind::BRIDGE`).
pub mod kind {
    use super::object_kind;
    /// [`super::BridgeConfig`] (one object, written at genesis).
    pub const CONFIG: u8 = object_kind::BRIDGE.start;
    /// [`super::WrappedToken`], id = the wrapped asset's id (8 bytes).
    pub const TOKEN: u8 = object_kind::BRIDGE.start + 1;
    /// [`super::DepositState`] (one object).
    pub const DEPOSITS: u8 = object_kind::BRIDGE.start + 2;
    /// [`super::TreeState`] (one object).
    pub const TREE: u8 = object_kind::BRIDGE.start + 3;
    /// A completed internal node of the withdrawal tree (a [`super::Keccak`]),
    /// id = its height (1 byte) and position (8 bytes, big-endian).
    pub const NODE: u8 = object_kind::BRIDGE.start + 4;
    /// [`super::LeafRecord`], id = the leaf's index (8 bytes, big-endian).
    pub const LEAF: u8 = object_kind::BRIDGE.start + 5;
}

lakh_types::codec_struct! {
    /// The bridge's genesis settings every leaf names.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct BridgeConfig {
        /// This chain's id (every leaf and the commitment name it).
        pub chain_id: u64,
        /// The L1's chain id.
        pub l1_chain_id: u64,
        /// The L1 bridge contract.
        pub bridge: L1Address,
        /// The bridged L1 tokens, in genesis order.
        pub tokens: BoundedVec<L1Address, MAX_BRIDGE_TOKENS>,
    }
}

lakh_types::codec_struct! {
    /// Marks an asset as the wrapped form of an L1 token.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct WrappedToken {
        /// The L1 token.
        pub token: L1Address,
    }
}

lakh_types::codec_struct! {
    /// The L1 deposits applied so far.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct DepositState {
        /// The last applied deposit's count (0 before any).
        pub count: u64,
        /// The running hash after it.
        pub hash: Keccak,
    }
}

lakh_types::codec_struct! {
    /// The withdrawal tree's frontier, as the Ethereum deposit contract keeps
    /// it: per height, the last completed left node, and the leaf count.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct TreeState {
        /// Leaves appended (the next leaf's index).
        pub count: u64,
        /// `branch[h]`: the last completed node of height `h` that is a left child.
        pub branch: [Keccak; WITHDRAWAL_TREE_DEPTH],
    }
}

lakh_types::codec_struct! {
    /// One appended withdrawal and the block that appended it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct LeafRecord {
        /// The leaf's fields.
        pub leaf: WithdrawalLeaf,
        /// Height of the block that appended it.
        pub height: u64,
    }
}

/// The key of [`BridgeConfig`].
pub fn config_key() -> StateKey {
    object_key(kind::CONFIG, &[])
}

/// The key of the [`WrappedToken`] of `asset`.
pub fn token_key(asset: AssetId) -> StateKey {
    object_key(kind::TOKEN, &[&asset.0.to_be_bytes()])
}

/// The key of [`DepositState`].
pub fn deposits_key() -> StateKey {
    object_key(kind::DEPOSITS, &[])
}

/// The key of [`TreeState`].
pub fn tree_key() -> StateKey {
    object_key(kind::TREE, &[])
}

/// The key of the completed node of `height` (1 or more) at `position`.
pub fn node_key(height: u8, position: u64) -> StateKey {
    object_key(kind::NODE, &[&[height], &position.to_be_bytes()])
}

/// The key of the [`LeafRecord`] at `index`.
pub fn leaf_key(index: u64) -> StateKey {
    object_key(kind::LEAF, &[&index.to_be_bytes()])
}

/// Where a withdrawal's amount waits between its transaction and the end of
/// its block: one account per transaction, so withdrawals do not conflict.
pub fn escrow(sender: &Address, nonce: u64) -> Address {
    let mut id = [0u8; 40];
    id[..32].copy_from_slice(&sender.0);
    id[32..].copy_from_slice(&nonce.to_be_bytes());
    Address::module("bridge", &id)
}
