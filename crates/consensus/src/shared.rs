//! State shared between the consensus application and the RPC service: the
//! chain definition, the transaction pool, receipts awaiting finalization,
//! and the latest finalized block.

use crate::block::Block;
use crate::evidence_pool::EvidencePool;
use crate::metrics::ChainMetrics;
use crate::participation::RecentFinalizations;
use crate::pending_receipts::{PendingReceipts, ReceiptLimits};
use commonware_cryptography::{Digestible, sha256};
use lakh_mempool::{Included, MempoolConfig, TxPool, VerifierConfig};
use lakh_rpc::types::BlockInfo;
use lakh_state::{StateKey, StateValue};
use lakh_types::modules::bridge::L1View;
use lakh_types::{Event, Genesis, Receipt};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use tokio::sync::broadcast;

/// An executed block's receipts and the events of its end-of-block hooks.
#[derive(Clone)]
pub struct BlockReceipts {
    pub receipts: Arc<Vec<Receipt>>,
    pub block_events: Arc<Vec<Event>>,
}

impl BlockReceipts {
    pub fn new(receipts: Vec<Receipt>, block_events: Vec<Event>) -> Self {
        BlockReceipts {
            receipts: Arc::new(receipts),
            block_events: Arc::new(block_events),
        }
    }
}

/// Capacity of the finalized-block notification channel (slow subscribers skip).
const FINALIZED_CHANNEL: usize = 1024;

pub struct NodeShared {
    pub genesis: Genesis,
    /// How blocks are executed (parallel by default; sequential kept for comparison).
    pub executor: lakh_execution::ExecutorKind,
    pub genesis_state: Vec<(StateKey, StateValue)>,
    pub genesis_block: Block,
    /// Verification, the queues and their nonce bookkeeping.
    pub pool: TxPool,
    /// Receipts of executed (not yet finalized) blocks, by block digest,
    /// within [`ReceiptLimits`].
    pending_receipts: Mutex<PendingReceipts>,
    head: RwLock<Option<Arc<Block>>>,
    finalized: broadcast::Sender<BlockInfo>,
    pub metrics: ChainMetrics,
    /// Finalizations the engines reported, for this node's proposals.
    pub finalizations: Arc<RecentFinalizations>,
    /// Evidence of consensus faults the engines reported, for this node's
    /// proposals (started with the engine, which opens its store).
    pub evidence: Arc<EvidencePool>,
    /// This validator's view of the L1 bridge's finalized deposits: what it
    /// carries as a proposer and checks as a verifier ([`crate::l1`]).
    /// `None` on a chain without a bridge (a block carrying deposits is
    /// then invalid) and on a node not yet given one.
    pub l1_view: Option<Arc<dyn L1View>>,
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
        let mut verifier = VerifierConfig::new(genesis.chain_id, genesis.fees.min_base_fee);
        verifier.shielded_key = lakh_execution::modules::shielded::chain_key(&genesis)
            .expect("a node starts only on a genesis check_genesis accepted");
        // Said once per process, at info: a devnet runs on this key by
        // design and starts quietly; the wallet and the docs say it too.
        static SAID: std::sync::Once = std::sync::Once::new();
        if verifier.shielded_key.is_devnet() {
            SAID.call_once(|| {
                tracing::info!(
                "genesis carries no shielded verifying key: shielded proofs are checked with the \
                 devnet key derived from a public seed, which is INSECURE (anyone can forge \
                 proofs); a network needs a ceremony's key in genesis (lakh genesis --shielded-params)"
                )
            });
        }
        let pool =
            TxPool::new(mempool, verifier).expect("failed to start signature verification workers");
        NodeShared {
            genesis,
            executor,
            genesis_state,
            genesis_block,
            pool,
            pending_receipts: Mutex::new(PendingReceipts::new(ReceiptLimits::default())),
            head: RwLock::new(None),
            finalized,
            metrics: ChainMetrics::default(),
            finalizations: Arc::default(),
            evidence: Arc::default(),
            l1_view: None,
        }
    }

    /// This node with `view` as its L1 view (see [`NodeShared::l1_view`]).
    pub fn with_l1_view(mut self, view: Option<Arc<dyn L1View>>) -> Self {
        self.l1_view = view;
        self
    }

    /// This node keeping receipts of at most `limits` of executed,
    /// unfinalized blocks (the default is [`ReceiptLimits::default`]).
    pub fn with_receipt_limits(self, limits: ReceiptLimits) -> Self {
        *self.pending_receipts() = PendingReceipts::new(limits);
        self
    }

    pub fn chain_id(&self) -> u64 {
        self.genesis.chain_id
    }

    fn pending_receipts(&self) -> MutexGuard<'_, PendingReceipts> {
        self.pending_receipts
            .lock()
            .expect("pending receipts lock poisoned")
    }

    /// Keeps an executed (not yet finalized) block's receipts until it is
    /// finalized or abandoned (or forgotten past the bound), and tells the
    /// pool which nonces it used.
    pub fn cache_receipts(&self, block: &Block, receipts: Vec<Receipt>, block_events: Vec<Event>) {
        let height = block.height_u64();
        self.pool
            .on_executed(block.digest(), block.header.parent, height, &receipts);
        let at = crate::pending_receipts::Position {
            height,
            first_tx_seq: block.header.first_tx_seq,
        };
        self.pending_receipts().insert(
            block.digest(),
            at,
            BlockReceipts::new(receipts, block_events),
        );
    }

    /// The receipts kept for the block `digest`, if they still are.
    pub fn receipts_of(&self, digest: &sha256::Digest) -> Option<BlockReceipts> {
        self.receipts_at(digest).map(|(_, receipts)| receipts)
    }

    /// The receipts kept for the block `digest`, with its position.
    pub fn receipts_at(
        &self,
        digest: &sha256::Digest,
    ) -> Option<(crate::pending_receipts::Position, BlockReceipts)> {
        self.pending_receipts().get_at(digest)
    }

    /// Records a finalized block: the pool's committed nonces, head,
    /// notification. Returns the included senders, for pruning the pool.
    pub fn on_finalized(&self, block: &Block, captured: &BlockReceipts) -> Included {
        let height = block.height_u64();
        let receipts = captured.receipts.as_slice();
        let included = self.pool.on_finalized(height, receipts);
        let mut info = block.info();
        info.block_events = captured.block_events.as_ref().clone();
        self.pending_receipts().finalized(height);
        let failed = receipts.iter().filter(|r| !r.status.is_success()).count();
        self.metrics
            .finalized(height, receipts.len() as u64, failed as u64);
        *self.head.write().expect("head lock poisoned") = Some(Arc::new(block.clone()));
        let _ = self.finalized.send(info);
        included
    }

    pub fn head(&self) -> Option<Arc<Block>> {
        self.head.read().expect("head lock poisoned").clone()
    }

    /// Every block as it is finalized, once its receipts are recorded.
    pub fn subscribe(&self) -> broadcast::Receiver<BlockInfo> {
        self.finalized.subscribe()
    }

    pub fn genesis_digest(&self) -> sha256::Digest {
        self.genesis_block.digest()
    }
}
