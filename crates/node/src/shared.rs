//! State shared between the consensus application, the RPC service and the
//! mempool: the chain definition, the mempool, receipts awaiting finalization,
//! and the latest finalized block.

use crate::block::Block;
use commonware_cryptography::{Digestible, sha256};
use lakh_mempool::{Mempool, MempoolConfig};
use lakh_state::{StateKey, StateValue};
use lakh_types::map::{FastMap, fast_map};
use lakh_types::{Address, Genesis, Receipt, Refusal, SignedTransaction, TxId};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
};
use tokio::sync::broadcast;

/// Receipts of an executed block and its height, by block digest.
type PendingReceipts = HashMap<sha256::Digest, (u64, Arc<Vec<Receipt>>)>;

/// Capacity of the finalized-block notification channel (slow subscribers skip).
const FINALIZED_CHANNEL: usize = 1024;

pub struct NodeShared {
    pub genesis: Genesis,
    /// How blocks are executed (parallel by default; sequential kept for comparison).
    pub executor: lakh_execution::ExecutorKind,
    pub genesis_state: Vec<(StateKey, StateValue)>,
    pub genesis_block: Block,
    pub mempool: Mutex<Mempool>,
    /// Next nonce of every sender with queued transactions, as of the latest
    /// finalized block (recorded at ingest, advanced at finalization).
    committed_nonces: Mutex<FastMap<Address, u64>>,
    /// Next nonces implied by executed but not yet finalized blocks, so a
    /// proposer building on an unfinalized parent does not select the
    /// parent's transactions again.
    inflight: Mutex<Inflight>,
    /// Receipts of executed (not yet finalized) blocks, by block digest.
    pending_receipts: Mutex<PendingReceipts>,
    head: RwLock<Option<Arc<Block>>>,
    finalized: broadcast::Sender<Arc<Block>>,
}

impl NodeShared {
    pub fn new(genesis: Genesis, genesis_block: Block, mempool: MempoolConfig) -> Self {
        Self::with_executor(genesis, genesis_block, mempool, Default::default())
    }

    pub fn with_executor(
        genesis: Genesis,
        genesis_block: Block,
        mempool: MempoolConfig,
        executor: lakh_execution::ExecutorKind,
    ) -> Self {
        let genesis_state = lakh_execution::apply_genesis(&genesis);
        let (finalized, _) = broadcast::channel(FINALIZED_CHANNEL);
        NodeShared {
            genesis,
            executor,
            genesis_state,
            genesis_block,
            mempool: Mutex::new(Mempool::new(mempool)),
            committed_nonces: Mutex::new(fast_map(0)),
            inflight: Mutex::new(Inflight::default()),
            pending_receipts: Mutex::new(HashMap::new()),
            head: RwLock::new(None),
            finalized,
        }
    }

    pub fn chain_id(&self) -> u64 {
        self.genesis.chain_id
    }

    pub fn committed_nonce(&self, addr: &Address) -> Option<u64> {
        self.committed_nonces.lock().unwrap().get(addr).copied()
    }

    /// Senders of `txs` whose committed nonce is not known yet (sorted, unique).
    pub fn unknown_senders(&self, txs: &[SignedTransaction]) -> Vec<Address> {
        let nonces = self.committed_nonces.lock().unwrap();
        let mut unknown: Vec<Address> = txs
            .iter()
            .map(|t| t.tx.sender_address())
            .filter(|a| !nonces.contains_key(a))
            .collect();
        drop(nonces);
        unknown.sort_unstable();
        unknown.dedup();
        unknown
    }

    /// Queues verified transactions in the mempool; one verdict per input.
    pub fn insert_verified(&self, txs: Vec<SignedTransaction>) -> Vec<Result<TxId, Refusal>> {
        // Lock order: mempool, then committed_nonces (see `select_for_block`).
        let mut pool = self.mempool.lock().unwrap();
        let nonces = self.committed_nonces.lock().unwrap();
        pool.insert_batch(txs, |a| nonces.get(a).copied().unwrap_or(0))
    }

    /// Records senders' committed nonces read from state at ingest.
    pub fn note_committed_nonces(&self, nonces: impl IntoIterator<Item = (Address, u64)>) {
        let mut map = self.committed_nonces.lock().unwrap();
        for (a, n) in nonces {
            let e = map.entry(a).or_insert(n);
            *e = (*e).max(n);
        }
    }

    /// Transactions for a block built on `parent`: each sender's run starts
    /// after its nonces committed or used by `parent`'s unfinalized ancestry.
    pub fn select_for_block(
        &self,
        max_txs: usize,
        max_bytes: usize,
        base_fee: u128,
        parent: &sha256::Digest,
    ) -> Vec<SignedTransaction> {
        let used = self.inflight.lock().unwrap().along(parent);
        // Lock order everywhere: mempool, then committed_nonces (ingest holds
        // the mempool while it reads committed nonces).
        let pool = self.mempool.lock().unwrap();
        let nonces = self.committed_nonces.lock().unwrap();
        pool.select(max_txs, max_bytes, base_fee, |a| {
            let committed = nonces.get(a).copied().unwrap_or(0);
            used.get(a).map_or(committed, |n| committed.max(*n))
        })
    }

    /// Indices of transactions whose signatures do not verify. Transactions
    /// already in our mempool were verified at ingest and are skipped.
    pub fn verify_block_signatures(&self, txs: &[SignedTransaction]) -> Vec<usize> {
        let unverified: Vec<usize> = {
            let pool = self.mempool.lock().unwrap();
            (0..txs.len())
                .filter(|&i| !pool.contains(&txs[i].id()))
                .collect()
        };
        if unverified.is_empty() {
            return Vec::new();
        }
        if unverified.len() == txs.len() {
            return lakh_types::tx::verify_signatures(txs);
        }
        let subset: Vec<SignedTransaction> = unverified.iter().map(|&i| txs[i].clone()).collect();
        lakh_types::tx::verify_signatures(&subset)
            .into_iter()
            .map(|j| unverified[j])
            .collect()
    }

    /// Keeps an executed (not yet finalized) block's receipts until it is
    /// finalized or abandoned.
    pub fn cache_receipts(&self, block: &Block, receipts: Vec<Receipt>) {
        let height = block.height_u64();
        self.inflight.lock().unwrap().record(
            block.digest(),
            block.header.parent,
            height,
            &receipts,
        );
        self.pending_receipts
            .lock()
            .unwrap()
            .insert(block.digest(), (height, Arc::new(receipts)));
    }

    pub fn take_receipts(&self, digest: &sha256::Digest) -> Option<Arc<Vec<Receipt>>> {
        self.pending_receipts
            .lock()
            .unwrap()
            .get(digest)
            .map(|(_, r)| r.clone())
    }

    /// Records a finalized block: committed nonces, head, notification.
    /// Returns each included sender's next nonce, for pruning the mempool.
    pub fn on_finalized(&self, block: &Block, receipts: &[Receipt]) -> FastMap<Address, u64> {
        let height = block.height_u64();
        self.inflight.lock().unwrap().finalized(height);
        self.pending_receipts
            .lock()
            .unwrap()
            .retain(|_, (h, _)| *h > height);
        let mut next: FastMap<Address, u64> = fast_map(receipts.len());
        for r in receipts {
            next.insert(r.sender, r.nonce + 1);
        }
        {
            let mut nonces = self.committed_nonces.lock().unwrap();
            for (a, n) in &next {
                nonces.insert(*a, *n);
            }
        }
        let block = Arc::new(block.clone());
        *self.head.write().unwrap() = Some(block.clone());
        let _ = self.finalized.send(block);
        next
    }

    pub fn head(&self) -> Option<Arc<Block>> {
        self.head.read().unwrap().clone()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Block>> {
        self.finalized.subscribe()
    }

    pub fn in_mempool(&self, id: &TxId) -> bool {
        self.mempool.lock().unwrap().contains(id)
    }

    pub fn genesis_digest(&self) -> sha256::Digest {
        self.genesis_block.digest()
    }
}

/// Next nonces implied by executed, unfinalized blocks, by block, with each
/// block's parent so a proposal counts only its own ancestry (an abandoned
/// sibling's transactions are still to be included).
#[derive(Default)]
struct Inflight {
    blocks: HashMap<sha256::Digest, InflightBlock>,
}

struct InflightBlock {
    parent: sha256::Digest,
    height: u64,
    next: Vec<(Address, u64)>,
}

impl Inflight {
    fn record(
        &mut self,
        digest: sha256::Digest,
        parent: sha256::Digest,
        height: u64,
        receipts: &[Receipt],
    ) {
        let next = receipts.iter().map(|r| (r.sender, r.nonce + 1)).collect();
        self.blocks.insert(
            digest,
            InflightBlock {
                parent,
                height,
                next,
            },
        );
    }

    /// Next nonces used by `tip` and its unfinalized ancestors.
    fn along(&self, tip: &sha256::Digest) -> FastMap<Address, u64> {
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
    fn finalized(&mut self, height: u64) {
        self.blocks.retain(|_, b| b.height > height);
    }
}
