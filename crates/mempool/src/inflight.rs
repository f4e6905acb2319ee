//! Next nonces implied by executed but not yet finalized blocks.
//!
//! A proposer building on an unfinalized parent must not select the parent's
//! transactions again, yet an abandoned sibling's transactions are still to
//! be included. So each executed block is kept with its parent, and a
//! proposal counts only the blocks along its own ancestry.

use commonware_cryptography::sha256;
use lakh_types::map::{FastMap, fast_map};
use lakh_types::{Address, Receipt};
use std::collections::HashMap;

/// Most blocks kept. While finalization stalls every view's proposal is
/// executed and kept; past the bound the earliest recorded is forgotten.
/// Forgetting one only makes a proposal on it select transactions its
/// ancestry already holds, which execution then leaves out.
const MAX_INFLIGHT_BLOCKS: usize = 1024;

/// Executed, unfinalized blocks by digest, each with the next nonce of every
/// sender it included.
#[derive(Default)]
pub(crate) struct Inflight {
    blocks: HashMap<sha256::Digest, InflightBlock>,
    /// Order of the next block recorded.
    next_order: u64,
}

struct InflightBlock {
    parent: sha256::Digest,
    height: u64,
    next: Vec<(Address, u64)>,
    order: u64,
}

impl Inflight {
    /// Records an executed block's senders and their next nonces.
    pub(crate) fn record(
        &mut self,
        digest: sha256::Digest,
        parent: sha256::Digest,
        height: u64,
        receipts: &[Receipt],
    ) {
        let next = receipts.iter().map(|r| (r.sender, r.nonce + 1)).collect();
        let order = self.next_order;
        self.next_order += 1;
        self.blocks.insert(
            digest,
            InflightBlock {
                parent,
                height,
                next,
                order,
            },
        );
        if self.blocks.len() > MAX_INFLIGHT_BLOCKS {
            self.forget_earliest();
        }
    }

    fn forget_earliest(&mut self) {
        let earliest = self
            .blocks
            .iter()
            .min_by_key(|(_, b)| b.order)
            .map(|(d, _)| *d);
        if let Some(digest) = earliest {
            self.blocks.remove(&digest);
        }
    }

    /// Next nonces used by `tip` and its unfinalized ancestors (the highest
    /// per sender).
    pub(crate) fn along(&self, tip: &sha256::Digest) -> FastMap<Address, u64> {
        let mut used = fast_map(0);
        let mut at = self.blocks.get(tip);
        while let Some(block) = at {
            used.reserve(block.next.len());
            for (a, n) in &block.next {
                let e = used.entry(*a).or_insert(*n);
                *e = (*e).max(*n);
            }
            at = self.blocks.get(&block.parent);
        }
        used
    }

    /// Forgets blocks at or below the finalized height (finalized ones are now
    /// committed; others at those heights were abandoned).
    pub(crate) fn finalized(&mut self, height: u64) {
        self.blocks.retain(|_, b| b.height > height);
    }

    /// Number of blocks kept.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.blocks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakh_types::{TxId, TxStatus};

    fn digest(b: u8) -> sha256::Digest {
        sha256::Digest::from([b; 32])
    }

    fn addr(b: u8) -> Address {
        Address([b; 32])
    }

    fn receipt(sender: u8, nonce: u64) -> Receipt {
        Receipt {
            tx_id: TxId([sender ^ nonce as u8; 32]),
            sender: addr(sender),
            nonce,
            height: 0,
            index: 0,
            fee_paid: 0,
            status: TxStatus::Success,
            events: vec![],
        }
    }

    /// Finalized block 0 (digest 0); unfinalized 1 <- 2 <- 3 and a sibling 2'
    /// of 2 (digest 12) on 1.
    fn fork() -> Inflight {
        let mut f = Inflight::default();
        f.record(digest(1), digest(0), 1, &[receipt(1, 0), receipt(2, 4)]);
        f.record(digest(2), digest(1), 2, &[receipt(1, 1), receipt(1, 2)]);
        f.record(digest(3), digest(2), 3, &[receipt(3, 0)]);
        f.record(digest(12), digest(1), 2, &[receipt(2, 5)]);
        f
    }

    #[test]
    fn along_counts_only_the_tips_ancestry() {
        let f = fork();
        let on_3 = f.along(&digest(3));
        assert_eq!(on_3.get(&addr(1)), Some(&3));
        assert_eq!(on_3.get(&addr(2)), Some(&5));
        assert_eq!(on_3.get(&addr(3)), Some(&1));
        // The sibling sees its own and block 1's senders, not block 2's or 3's.
        let on_sibling = f.along(&digest(12));
        assert_eq!(on_sibling.get(&addr(1)), Some(&1));
        assert_eq!(on_sibling.get(&addr(2)), Some(&6));
        assert_eq!(on_sibling.get(&addr(3)), None);
        // A finalized or unknown parent has no unfinalized ancestry.
        assert!(f.along(&digest(0)).is_empty());
        assert!(f.along(&digest(99)).is_empty());
    }

    /// The digest of the proposal of `view`.
    fn proposal(view: u64) -> sha256::Digest {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&view.to_be_bytes());
        sha256::Digest::from(bytes)
    }

    #[test]
    fn a_finalization_stall_keeps_at_most_the_bound_of_blocks() {
        let mut f = Inflight::default();
        // One proposal per view on the same finalized parent, none finalized.
        let views = (MAX_INFLIGHT_BLOCKS + 10) as u64;
        for view in 0..views {
            f.record(proposal(view), digest(0xff), 1, &[receipt(1, view)]);
        }
        assert_eq!(f.len(), MAX_INFLIGHT_BLOCKS);
        assert!(
            f.along(&proposal(9)).is_empty(),
            "the earliest are forgotten"
        );
        let kept = f.along(&proposal(10));
        assert_eq!(kept.get(&addr(1)), Some(&11));
        let newest = f.along(&proposal(views - 1));
        assert_eq!(newest.get(&addr(1)), Some(&views));
    }

    #[test]
    fn finalization_forgets_its_height_and_abandoned_siblings() {
        let mut f = fork();
        f.finalized(1);
        assert_eq!(f.len(), 3);
        // Block 1 is committed now: its nonces come from the committed ones.
        let on_3 = f.along(&digest(3));
        assert_eq!(on_3.get(&addr(2)), None);
        assert_eq!(on_3.get(&addr(1)), Some(&3));
        f.finalized(2);
        assert_eq!(f.len(), 1);
        assert!(f.along(&digest(12)).is_empty());
        assert_eq!(f.along(&digest(3)).get(&addr(3)), Some(&1));
        f.finalized(3);
        assert_eq!(f.len(), 0);
    }
}
