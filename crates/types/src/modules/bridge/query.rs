//! Typed answers of the bridge's queries.

use super::{BridgeCommitment, Keccak, L1Address, WITHDRAWAL_TREE_DEPTH, WithdrawalLeaf};
use crate::{AssetId, Symbol};
use serde::{Deserialize, Serialize};

/// Answer to `bridge status {}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusAnswer {
    /// Height of the state read.
    pub height: u64,
    /// Whether genesis configured a bridge (all else is zero when not).
    pub enabled: bool,
    /// The L1's chain id.
    pub l1_chain_id: u64,
    /// The L1 bridge contract.
    pub bridge_address: L1Address,
    /// What the header of block `height` commits to.
    pub commitment: BridgeCommitment,
    /// The bridged tokens.
    pub tokens: Vec<WrappedAnswer>,
}

/// Answer to `bridge wrapped {token}` (and one entry of the status).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedAnswer {
    /// The L1 token.
    pub token: L1Address,
    /// Its wrapped asset on lakh.
    pub asset: AssetId,
    /// The wrapped asset's symbol.
    pub symbol: Symbol,
    /// Its decimals (the L1 token's).
    pub decimals: u8,
    /// Wrapped units in existence: minted by deposits, less those withdrawn.
    #[serde(with = "crate::amount")]
    pub supply: u128,
}

/// Answer to `bridge withdrawal {index}`: the leaf and what proves it on L1
/// against the current root.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalAnswer {
    /// The leaf's fields, as the L1 bridge pays them.
    pub leaf: WithdrawalLeaf,
    /// [`WithdrawalLeaf::hash`].
    pub leaf_hash: Keccak,
    /// Height of the block that appended it.
    pub appended_height: u64,
    /// Its siblings from the leaf level up, against `root`.
    pub siblings: [Keccak; WITHDRAWAL_TREE_DEPTH],
    /// The tree's root at `height` (the commitment of that block's header).
    pub root: Keccak,
    /// Leaves in the tree at `height`.
    pub withdrawal_count: u64,
    /// Height of the state read: a header at or after it whose root is
    /// `root` proves the leaf on L1.
    pub height: u64,
}
