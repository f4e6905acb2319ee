//! Receipts of executed blocks kept until the block is finalized (or a
//! block at its height is), within a bound.
//!
//! Every proposal this node builds or verifies is executed and its receipts
//! kept here, so that finalizing it needs no second execution. While
//! finalization stalls, each executed proposal adds an entry; past the bound
//! the earliest recorded is forgotten. Forgetting one is safe: a finalized
//! block whose receipts are not here is executed again on its parent's state
//! when it is applied (`LakhApp::capture`), which gives the same receipts,
//! since execution is deterministic.

use crate::shared::BlockReceipts;
use commonware_cryptography::sha256;
use std::collections::{BTreeMap, HashMap};

/// Most blocks whose receipts are kept (as the mempool's in-flight blocks).
pub const MAX_PENDING_RECEIPT_BLOCKS: usize = 1024;
/// Most receipts kept over all those blocks: 13 full blocks at the default
/// 20,000 transactions, some 60 MiB of transfer receipts.
pub const MAX_PENDING_RECEIPTS: usize = 1 << 18;

/// The bound of [`PendingReceipts`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiptLimits {
    pub blocks: usize,
    pub receipts: usize,
}

impl Default for ReceiptLimits {
    fn default() -> Self {
        ReceiptLimits {
            blocks: MAX_PENDING_RECEIPT_BLOCKS,
            receipts: MAX_PENDING_RECEIPTS,
        }
    }
}

/// Where a block sits in the chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub height: u64,
    /// The sequence number of its first transaction.
    pub first_tx_seq: u64,
}

struct Pending {
    at: Position,
    order: u64,
    cached: BlockReceipts,
}

/// Receipts of executed, unfinalized blocks by block digest.
pub(crate) struct PendingReceipts {
    limits: ReceiptLimits,
    blocks: HashMap<sha256::Digest, Pending>,
    /// Digests in the order they were recorded.
    by_order: BTreeMap<u64, sha256::Digest>,
    next_order: u64,
    receipts: usize,
}

impl PendingReceipts {
    pub(crate) fn new(limits: ReceiptLimits) -> Self {
        PendingReceipts {
            limits,
            blocks: HashMap::new(),
            by_order: BTreeMap::new(),
            next_order: 0,
            receipts: 0,
        }
    }

    /// Keeps `cached` for the block `digest` at `height`, replacing what an
    /// earlier execution of it left, and forgets the earliest recorded
    /// blocks past the bound.
    pub(crate) fn insert(&mut self, digest: sha256::Digest, at: Position, cached: BlockReceipts) {
        self.remove(&digest);
        let order = self.next_order;
        self.next_order += 1;
        self.receipts += cached.receipts.len();
        self.by_order.insert(order, digest);
        self.blocks.insert(digest, Pending { at, order, cached });
        while self.blocks.len() > self.limits.blocks || self.receipts > self.limits.receipts {
            let Some((_, earliest)) = self.by_order.first_key_value() else {
                break;
            };
            let earliest = *earliest;
            self.remove(&earliest);
        }
    }

    /// The receipts kept for the block `digest`, with its position.
    pub(crate) fn get_at(&self, digest: &sha256::Digest) -> Option<(Position, BlockReceipts)> {
        self.blocks.get(digest).map(|p| (p.at, p.cached.clone()))
    }

    /// Forgets every block at or below `height` (finalized, or abandoned by
    /// the finalization of another block there).
    pub(crate) fn finalized(&mut self, height: u64) {
        let done: Vec<sha256::Digest> = self
            .blocks
            .iter()
            .filter(|(_, p)| p.at.height <= height)
            .map(|(digest, _)| *digest)
            .collect();
        for digest in done {
            self.remove(&digest);
        }
    }

    fn remove(&mut self, digest: &sha256::Digest) {
        if let Some(gone) = self.blocks.remove(digest) {
            self.by_order.remove(&gone.order);
            self.receipts -= gone.cached.receipts.len();
        }
    }

    /// Blocks kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.blocks.len()
    }

    /// Receipts kept over all blocks.
    #[cfg(test)]
    fn receipts(&self) -> usize {
        self.receipts
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use commonware_cryptography::{Hasher, Sha256};
    use lakh_types::{Address, Receipt, TxId, TxStatus};
    use std::sync::Arc;

    fn digest(n: u64) -> sha256::Digest {
        Sha256::hash(&[n.to_le_bytes().as_slice()])
    }

    fn receipts(count: usize) -> BlockReceipts {
        let receipt = Receipt {
            tx_id: TxId([1u8; 32]),
            sender: Address([2u8; 32]),
            nonce: 0,
            height: 0,
            index: 0,
            fee_paid: 0,
            status: TxStatus::Success,
            events: Vec::new(),
        };
        BlockReceipts {
            receipts: Arc::new(vec![receipt; count]),
            block_events: Arc::new(Vec::new()),
        }
    }

    fn at(height: u64) -> Position {
        Position {
            height,
            first_tx_seq: 0,
        }
    }

    /// What the counters say matches what is held.
    fn consistent(pending: &PendingReceipts) {
        let held: usize = pending
            .blocks
            .values()
            .map(|p| p.cached.receipts.len())
            .sum();
        assert_eq!(pending.receipts(), held);
        assert_eq!(pending.by_order.len(), pending.len());
    }

    #[test]
    fn a_finalization_stall_keeps_receipts_of_at_most_the_bound_of_blocks() {
        let mut pending = PendingReceipts::new(ReceiptLimits::default());
        // A stall: every view's proposal at the next height executed, none finalized.
        for n in 0..3 * MAX_PENDING_RECEIPT_BLOCKS as u64 {
            pending.insert(digest(n), at(10 + n), receipts(2));
            assert!(pending.len() <= MAX_PENDING_RECEIPT_BLOCKS);
        }
        consistent(&pending);
        assert_eq!(pending.len(), MAX_PENDING_RECEIPT_BLOCKS);
        let last = 3 * MAX_PENDING_RECEIPT_BLOCKS as u64 - 1;
        assert!(
            pending.get_at(&digest(last)).is_some(),
            "the newest is kept"
        );
        assert!(
            pending.get_at(&digest(0)).is_none(),
            "the earliest went first"
        );
        let first_kept = last + 1 - MAX_PENDING_RECEIPT_BLOCKS as u64;
        assert!(pending.get_at(&digest(first_kept)).is_some());
        assert!(pending.get_at(&digest(first_kept - 1)).is_none());
        // Finalization resumes: everything at or below it goes.
        pending.finalized(last);
        assert_eq!(pending.len(), 10);
        consistent(&pending);
    }

    #[test]
    fn full_blocks_are_bounded_by_their_receipts() {
        let limits = ReceiptLimits {
            blocks: 100,
            receipts: 1_000,
        };
        let mut pending = PendingReceipts::new(limits);
        for n in 0..50 {
            pending.insert(digest(n), at(n + 1), receipts(300));
            assert!(pending.receipts() <= 1_000);
        }
        assert_eq!(pending.len(), 3);
        consistent(&pending);
        // One block over the whole bound is not kept: it is executed again
        // when finalized.
        pending.insert(digest(99), at(99), receipts(5_000));
        assert_eq!((pending.len(), pending.receipts()), (0, 0));
        consistent(&pending);
    }

    #[test]
    fn executing_a_block_again_replaces_its_entry() {
        let mut pending = PendingReceipts::new(ReceiptLimits::default());
        pending.insert(digest(1), at(5), receipts(3));
        pending.insert(digest(2), at(5), receipts(4));
        pending.insert(digest(1), at(5), receipts(3));
        assert_eq!((pending.len(), pending.receipts()), (2, 7));
        consistent(&pending);
        pending.finalized(5);
        assert_eq!((pending.len(), pending.receipts()), (0, 0));
        consistent(&pending);
    }
}
