//! Recording a block's receipts as soon as its finalization certificate is
//! seen, beside the block path.
//!
//! The glue applies a finalized block in the same loop that builds the
//! next one, so whatever `capture` does before the state is applied holds
//! up the next proposal. Writing and syncing the receipts index was half of
//! that. The finalization certificate reaches this node's simplex reporter
//! while the next block is still being built; a task then records the
//! block's receipts (kept since the block was executed), and `capture`
//! finds them recorded and only reveals them.
//!
//! What stays true:
//! - receipts are durable before the block's state is applied, since
//!   `capture` still waits on the index's lock and the record syncs;
//! - only finalized blocks are recorded, in height order; a block whose
//!   receipts are gone or whose predecessor is not recorded yet is left to
//!   `capture`;
//! - a transaction reads as finalized only once `capture` reveals its block
//!   ([`Indexer::reveal`]), so a reader who sees it finalized reads its
//!   effects in state;
//! - after a crash the index may hold blocks above the state's height; the
//!   glue replays them and `capture` finds them recorded (as it did after a
//!   crash between recording and applying).

use crate::{
    block::Scheme,
    metrics::Stage,
    pending_receipts::Position,
    shared::{BlockReceipts, NodeShared},
};
use commonware_consensus::{Reporter, simplex::types::Activity};
use commonware_cryptography::sha256;
use commonware_runtime::{Spawner, Supervisor};
use commonware_storage::Context as StorageContext;
use futures::{StreamExt, channel::mpsc, lock::Mutex as AsyncMutex};
use lakh_archive::Indexer;
use std::{
    collections::BTreeMap,
    sync::{Arc, Weak},
    time::Instant,
};

/// Finalizations queued for the recording task; past this the reporter
/// drops them and `capture` records those blocks itself.
const QUEUED_FINALIZATIONS: usize = 64;

/// Finalized blocks kept waiting for their predecessor to be recorded.
const WAITING_BLOCKS: usize = 16;

/// The simplex reporter that hands finalized block digests to the task.
#[derive(Clone)]
pub struct RecordAhead {
    sender: mpsc::Sender<sha256::Digest>,
}

impl Reporter for RecordAhead {
    type Activity = Activity<Scheme, sha256::Digest>;

    fn report(&mut self, activity: Self::Activity) -> commonware_actor::Feedback {
        if let Activity::Finalization(finalization) = activity {
            // A full queue means the task is behind; `capture` records.
            let _ = self.sender.try_send(finalization.proposal.payload);
        }
        commonware_actor::Feedback::Ok
    }
}

/// Starts the recording task for `indexer` and returns its reporter. The
/// task ends when every reporter is dropped or the indexer is.
pub fn start<E>(
    context: &E,
    shared: Arc<NodeShared>,
    indexer: Weak<AsyncMutex<Indexer<E>>>,
) -> RecordAhead
where
    E: StorageContext + Supervisor + Spawner,
{
    let (sender, mut receiver) = mpsc::channel(QUEUED_FINALIZATIONS);
    context.child("record_ahead").spawn(move |_| async move {
        let mut waiting = Waiting::default();
        while let Some(digest) = receiver.next().await {
            // A block this node did not execute is left to `capture`.
            if let Some((at, receipts)) = shared.receipts_at(&digest) {
                waiting.insert(at, digest, receipts);
            }
            if waiting.blocks.is_empty() {
                continue;
            }
            let Some(indexer) = indexer.upgrade() else {
                return;
            };
            let mut indexer = indexer.lock().await;
            while let Some((at, digest, receipts)) = waiting.next(indexer.next_height()) {
                let started = Instant::now();
                let recorded = indexer
                    .record_ahead(
                        at.height,
                        digest,
                        at.first_tx_seq,
                        &receipts.receipts,
                        &receipts.block_events,
                    )
                    .await;
                if !recorded {
                    break;
                }
                shared.metrics.time(Stage::RecordAhead, started.elapsed());
            }
        }
    });
    RecordAhead { sender }
}

/// Finalized blocks not yet recorded, by height.
#[derive(Default)]
struct Waiting {
    blocks: BTreeMap<u64, (Position, sha256::Digest, BlockReceipts)>,
}

impl Waiting {
    fn insert(&mut self, at: Position, digest: sha256::Digest, receipts: BlockReceipts) {
        self.blocks.insert(at.height, (at, digest, receipts));
        while self.blocks.len() > WAITING_BLOCKS {
            self.blocks.pop_first();
        }
    }

    /// The block at `next_height`, forgetting those below it (recorded).
    fn next(&mut self, next_height: u64) -> Option<(Position, sha256::Digest, BlockReceipts)> {
        while let Some(entry) = self.blocks.first_entry() {
            if *entry.key() >= next_height {
                break;
            }
            entry.remove();
        }
        self.blocks.remove(&next_height)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(height: u64) -> Position {
        Position {
            height,
            first_tx_seq: 10 * height,
        }
    }

    fn digest(n: u64) -> sha256::Digest {
        let mut bytes = [0u8; 32];
        bytes[..8].copy_from_slice(&n.to_le_bytes());
        sha256::Digest::from(bytes)
    }

    fn receipts() -> BlockReceipts {
        BlockReceipts::new(Vec::new(), Vec::new())
    }

    #[test]
    fn blocks_come_out_in_height_order_from_the_next_to_record() {
        let mut waiting = Waiting::default();
        for h in [5, 3, 4, 7] {
            waiting.insert(at(h), digest(h), receipts());
        }
        // 3 is recorded already (by the block path): forgotten.
        let next: Vec<u64> = (4..)
            .map_while(|h| waiting.next(h).map(|(at, _, _)| at.height))
            .collect();
        assert_eq!(next, vec![4, 5]);
        // 6 never came: 7 waits.
        assert!(waiting.next(6).is_none());
        assert_eq!(
            waiting.next(7).map(|(at, d, _)| (at, d)),
            Some((at(7), digest(7)))
        );
        assert!(waiting.blocks.is_empty());
    }

    #[test]
    fn waiting_blocks_are_bounded_keeping_the_newest() {
        let mut waiting = Waiting::default();
        for h in 2..2 + 3 * WAITING_BLOCKS as u64 {
            waiting.insert(at(h), digest(h), receipts());
            assert!(waiting.blocks.len() <= WAITING_BLOCKS);
        }
        let newest = 1 + 3 * WAITING_BLOCKS as u64;
        assert_eq!(
            waiting.blocks.last_key_value().map(|(h, _)| *h),
            Some(newest)
        );
        assert!(waiting.next(1).is_none());
    }
}
