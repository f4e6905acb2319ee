//! Typed answers of the shielded module's queries.

use super::{Field32, FixedBytes, NoteCiphertext};
use crate::{Address, AssetId};
use serde::{Deserialize, Serialize};

/// Answer to `shielded verifying_key {}`: the key this chain checks
/// shielded proofs with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyingKeyAnswer {
    /// Its digest (`lakh_shielded`'s `VerifyingKey::digest`), what a
    /// parameters file records.
    pub digest: FixedBytes<32>,
    /// Whether it is the devnet key derived from the public seed (genesis
    /// carries no key): **insecure**, anyone can forge proofs.
    pub devnet: bool,
}

/// Answer to `shielded root`: the note tree as of the latest block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RootAnswer {
    /// The current root (the newest anchor).
    pub root: Field32,
    /// Notes in the tree (the next note's position).
    pub notes: u64,
    /// Notes the tree holds at most.
    pub capacity: u64,
    /// The roots a spend may use as its anchor, oldest first.
    pub anchors: Vec<Field32>,
}

/// Answer to `shielded nullifier {nullifier}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NullifierAnswer {
    /// The nullifier asked about.
    pub nullifier: Field32,
    /// Height of the block that spent it, if spent.
    pub spent_height: Option<u64>,
}

/// One note as a wallet scans it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoteRecord {
    /// Its position in the tree.
    pub position: u64,
    /// Its commitment (the leaf).
    pub commitment: Field32,
    /// The note, encrypted to its recipient.
    pub encrypted_note: NoteCiphertext,
}

/// Answer to `shielded notes {from_height, to_height}`: the notes appended
/// by each block in the range that appended any, in tree order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotesAnswer {
    /// First height read.
    pub from_height: u64,
    /// Last height read (the range is cut at the latest block and at
    /// [`MAX_NOTES_QUERY_BLOCKS`]); continue from the next one.
    pub to_height: u64,
    /// The notes, by position.
    pub notes: Vec<NoteRecord>,
}

/// Most blocks one `notes` query reads.
pub const MAX_NOTES_QUERY_BLOCKS: u64 = 256;

/// Answer to `shielded custody {asset}`: what the pool holds of an asset.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodyAnswer {
    /// The asset.
    pub asset: AssetId,
    /// The custody account (`Address::module("shielded", asset)`).
    pub custody: Address,
    /// Its balance: the value of the asset's unspent notes.
    #[serde(with = "crate::amount")]
    pub amount: u128,
}
