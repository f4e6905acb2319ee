//! [`TxPool`]: the one owner of the node's pool state.
//!
//! Behind one lock it keeps the [`Mempool`], each queued sender's committed
//! next nonce, the nonces used by executed but unfinalized blocks
//! ([`Inflight`]) and the finalized height. Every path that touches them goes
//! through this handle: ingest, block selection, the signature skip-check of
//! a peer's block, execution and finalization. With a single lock there is
//! no lock order to keep.

use crate::inflight::Inflight;
use crate::pool::{Mempool, MempoolConfig};
use crate::verify::{FeeFloor, Verifier, VerifierConfig};
use bytes::Bytes;
use commonware_cryptography::sha256;
use lakh_types::map::{FastMap, fast_map};
use lakh_types::{Address, Receipt, Refusal, SignedTransaction, TxId};
use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// Where ingest reads the committed next nonce of senders the pool does not
/// know: the node's latest applied state.
pub trait NonceSource {
    /// Next nonce of each sender (0 for an unknown account), in order.
    fn next_nonces(
        &self,
        senders: &[Address],
    ) -> impl Future<Output = Result<Vec<u64>, String>> + Send;
}

/// Most rounds of state reads one ingest makes while blocks keep finalizing
/// under it, before it refuses the rest as busy.
const MAX_NONCE_READS: usize = 4;

/// Finalized blocks whose senders' next nonces the pool keeps, so a nonce
/// read overtaken by up to this many finalizations is brought forward
/// instead of made again.
const RECENT_FINALIZED_BLOCKS: usize = 8;

/// The outcome of ingesting a batch.
pub struct Ingested {
    /// One verdict per input, in order.
    pub verdicts: Vec<Result<TxId, Refusal>>,
    /// Encodings of the transactions queued, for gossip.
    pub accepted: Vec<Bytes>,
}

/// Next nonces read from state while the pool's finalized height was `height`.
struct NonceReads {
    height: u64,
    nonces: FastMap<Address, u64>,
}

struct Inner {
    pool: Mempool,
    /// Committed next nonce of every sender with queued transactions, as of
    /// the finalized height: read from state at ingest, advanced at
    /// finalization, forgotten when the sender has nothing queued.
    committed: FastMap<Address, u64>,
    inflight: Inflight,
    /// Height of the latest finalized block the pool was told about.
    finalized_height: u64,
    /// Next nonce of each sender of the latest finalized blocks, oldest
    /// first, one entry per height.
    recent: VecDeque<(u64, Arc<FastMap<Address, u64>>)>,
}

/// The node's transaction pool: verification, the queues and their nonce
/// bookkeeping, behind one lock.
pub struct TxPool {
    verifier: Verifier,
    inner: Mutex<Inner>,
    /// Woken whenever transactions are queued (a resting proposer waits on it).
    arrivals: Notify,
}

impl TxPool {
    /// Starts the verifier threads.
    pub fn new(pool: MempoolConfig, verifier: VerifierConfig) -> std::io::Result<Self> {
        Ok(TxPool {
            verifier: Verifier::new(verifier)?,
            inner: Mutex::new(Inner {
                pool: Mempool::new(pool),
                committed: fast_map(0),
                inflight: Inflight::default(),
                finalized_height: 0,
                recent: VecDeque::with_capacity(RECENT_FINALIZED_BLOCKS),
            }),
            arrivals: Notify::new(),
        })
    }

    /// Queues into the pool under its lock and wakes whoever waits for
    /// arrivals if anything was queued.
    fn insert_locked(
        &self,
        mut inner: MutexGuard<'_, Inner>,
        txs: Vec<SignedTransaction>,
        nonces: &FastMap<Address, u64>,
    ) -> Vec<Result<TxId, Refusal>> {
        let verdicts = inner.insert(txs, nonces);
        drop(inner);
        if verdicts.iter().any(|v| v.is_ok()) {
            self.arrivals.notify_waiters();
        }
        verdicts
    }

    /// Resolves after `ready` returns true, checking it first and then after
    /// every arrival of transactions; cancel it to stop waiting. No arrival
    /// between a check and the wait is missed.
    pub async fn wait_until(&self, mut ready: impl FnMut(&TxPool) -> bool) {
        loop {
            let arrival = self.arrivals.notified();
            tokio::pin!(arrival);
            arrival.as_mut().enable();
            if ready(self) {
                return;
            }
            arrival.await;
        }
    }

    /// Whether a block built on `parent` at `base_fee` would include at least
    /// one transaction (whether [`TxPool::select_for`] would pick any).
    pub fn has_ready_for(&self, parent: &sha256::Digest, base_fee: u128) -> bool {
        let inner = self.lock();
        if inner.pool.is_empty() {
            return false;
        }
        let used = inner.inflight.along(parent);
        inner
            .pool
            .has_ready(base_fee, |a| inner.next_nonce(a, &used))
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic under this lock is a pool bug; the node cannot go on.
        self.inner.lock().expect("tx pool lock poisoned")
    }

    /// Decodes, checks, verifies and queues a batch: the fee floor of a full
    /// pool, then stateless checks and signatures on the verifier's threads,
    /// then unknown senders' nonces from `state`, then insertion.
    pub async fn ingest(&self, raw: Vec<Bytes>, state: &impl NonceSource) -> Ingested {
        let floor = self
            .lock()
            .pool
            .when_full()
            .map(|(fee_per_unit, refusal)| FeeFloor {
                fee_per_unit,
                refusal,
            });
        // This task is suspended (its async worker free) until the verdicts arrive.
        let verdicts = self.verifier.verify_raw(raw, floor).await;
        let mut answers: Vec<Option<Result<TxId, Refusal>>> = vec![None; verdicts.len()];
        let mut valid = Vec::with_capacity(verdicts.len());
        let mut valid_pos = Vec::with_capacity(verdicts.len());
        for (pos, verdict) in verdicts.into_iter().enumerate() {
            match verdict {
                Ok(tx) => {
                    valid.push(tx);
                    valid_pos.push(pos);
                }
                Err(r) => answers[pos] = Some(Err(r)),
            }
        }
        let raws: Vec<Bytes> = valid.iter().map(|t| t.raw().clone()).collect();
        let inserted = match self.insert_reading(valid, state).await {
            Ok(inserted) => inserted,
            Err(refusal) => vec![Err(refusal); valid_pos.len()],
        };
        let mut accepted = Vec::with_capacity(inserted.len());
        for ((verdict, pos), raw) in inserted.into_iter().zip(valid_pos).zip(raws) {
            if verdict.is_ok() {
                accepted.push(raw);
            }
            answers[pos] = Some(verdict);
        }
        let verdicts = answers
            .into_iter()
            .map(|a| a.expect("every input answered"))
            .collect();
        Ingested { verdicts, accepted }
    }

    /// Inserts verified transactions, reading from `state` the committed
    /// nonce of senders the pool does not hold.
    ///
    /// Why a read is never stale: the node applies a finalized block's state
    /// before it tells the pool ([`TxPool::on_finalized`]), so a read made
    /// after seeing finalized height `h` reflects at least height `h`. If
    /// blocks finalized between the read and the insert, a sender's nonce can
    /// only have moved through them: the read is brought forward to the
    /// largest next nonce those blocks give the sender (the pool keeps them
    /// for [`RECENT_FINALIZED_BLOCKS`]; reads older than that are made
    /// again). The nonces the pool holds were advanced by every finalization;
    /// the maximum of both is used.
    async fn insert_reading(
        &self,
        txs: Vec<SignedTransaction>,
        state: &impl NonceSource,
    ) -> Result<Vec<Result<TxId, Refusal>>, Refusal> {
        let mut reads = NonceReads {
            height: 0,
            nonces: fast_map(0),
        };
        for _ in 0..MAX_NONCE_READS {
            let unread = {
                let inner = self.lock();
                inner.bring_forward(&mut reads);
                let unread = inner.unread_senders(&txs, &reads.nonces);
                if unread.is_empty() {
                    return Ok(self.insert_locked(inner, txs, &reads.nonces));
                }
                unread
            };
            let nonces = state.next_nonces(&unread).await.map_err(Refusal::Busy)?;
            reads.nonces.extend(unread.into_iter().zip(nonces));
        }
        Err(Refusal::Busy(
            "blocks kept finalizing while the senders' nonces were read; retry".into(),
        ))
    }

    /// Queues transactions already verified, whose senders' committed next
    /// nonces are `nonces` (or already known to the pool). One verdict per
    /// input. For callers that hold the nonces (tests, tools).
    pub fn insert_verified(
        &self,
        txs: Vec<SignedTransaction>,
        nonces: impl IntoIterator<Item = (Address, u64)>,
    ) -> Vec<Result<TxId, Refusal>> {
        let nonces: FastMap<Address, u64> = nonces.into_iter().collect();
        self.insert_locked(self.lock(), txs, &nonces)
    }

    /// Transactions for a block built on `parent`: each sender's run starts
    /// after its nonces committed or used by `parent`'s unfinalized ancestry.
    pub fn select_for(
        &self,
        parent: &sha256::Digest,
        max_txs: usize,
        max_bytes: usize,
        base_fee: u128,
    ) -> Vec<SignedTransaction> {
        let inner = self.lock();
        let used = inner.inflight.along(parent);
        inner
            .pool
            .select(max_txs, max_bytes, base_fee, |a| inner.next_nonce(a, &used))
    }

    /// Indices of transactions whose signatures or shielded proofs do not
    /// verify, ascending. Transactions queued here were verified at ingest
    /// (signature and proof) and are skipped; the lock is released before
    /// any signature or proof is checked. This is where a proof a proposer
    /// included without this node seeing it is checked: a block with a bad
    /// one is rejected whole, so execution never meets an unverified proof.
    pub fn verify_block_signatures(&self, txs: &[SignedTransaction]) -> Vec<usize> {
        let config = self.verifier.config();
        let unverified: Vec<usize> = {
            let inner = self.lock();
            (0..txs.len())
                .filter(|&i| !inner.pool.contains(&txs[i].id()))
                .collect()
        };
        let mut bad = bad_signatures(txs, &unverified);
        bad.extend(
            crate::verify::verify_proofs(
                config.chain_id,
                &config.shielded_key,
                unverified.iter().map(|&i| &txs[i]),
            )
            .into_iter()
            .map(|(j, _)| unverified[j]),
        );
        bad.sort_unstable();
        bad.dedup();
        bad
    }

    /// Records an executed (not yet finalized) block's senders, so blocks
    /// built on it skip their nonces.
    pub fn on_executed(
        &self,
        digest: sha256::Digest,
        parent: sha256::Digest,
        height: u64,
        receipts: &[Receipt],
    ) {
        self.lock()
            .inflight
            .record(digest, parent, height, receipts);
    }

    /// Records a finalized block: the pool's height, its senders' committed
    /// nonces, and forgets unfinalized blocks at or below it. Returns what
    /// [`TxPool::prune`] needs to drop the included transactions; selection
    /// is right without that (it starts at the committed nonces), so the
    /// caller may prune off its critical path.
    pub fn on_finalized(&self, height: u64, receipts: &[Receipt]) -> Included {
        let mut next: FastMap<Address, u64> = fast_map(receipts.len());
        for r in receipts {
            next.insert(r.sender, r.nonce + 1);
        }
        let next = Arc::new(next);
        let mut inner = self.lock();
        inner.finalized_height = height;
        inner.inflight.finalized(height);
        for (a, n) in next.iter() {
            if let Some(committed) = inner.committed.get_mut(a) {
                *committed = (*committed).max(*n);
            }
        }
        if inner.recent.len() == RECENT_FINALIZED_BLOCKS {
            inner.recent.pop_front();
        }
        inner.recent.push_back((height, next.clone()));
        Included(next)
    }

    /// Drops the transactions a finalized block included (or replaced), and
    /// forgets the senders left with nothing queued.
    pub fn prune(&self, included: Included) {
        let mut inner = self.lock();
        inner
            .pool
            .on_finalized(included.0.iter().map(|(a, n)| (*a, *n)));
        inner.forget_emptied();
    }

    /// Drops each `(sender, nonce)`'s transactions from `nonce` on: the
    /// builder found the sender unable to pay for `nonce`.
    pub fn drop_unpayable(&self, senders: &[(Address, u64)]) {
        if senders.is_empty() {
            return;
        }
        let mut inner = self.lock();
        inner.pool.drop_from(senders);
        inner.forget_emptied();
    }

    pub fn contains(&self, id: &TxId) -> bool {
        self.lock().pool.contains(id)
    }

    /// The sender's highest queued nonce + 1, if it has queued transactions.
    pub fn pending_nonce(&self, addr: &Address) -> Option<u64> {
        self.lock().pool.pending_nonce(addr)
    }

    /// Number of queued transactions.
    pub fn len(&self) -> usize {
        self.lock().pool.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Queued transactions and their bytes, read at one instant.
    pub fn size(&self) -> (usize, usize) {
        let inner = self.lock();
        (inner.pool.len(), inner.pool.bytes())
    }

    /// Number of senders whose committed nonce the pool keeps.
    pub fn known_senders(&self) -> usize {
        self.lock().committed.len()
    }
}

/// Each sender of a finalized block with its next nonce.
pub struct Included(Arc<FastMap<Address, u64>>);

impl Included {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Inner {
    /// A sender's next nonce for a block on a tip whose unfinalized
    /// ancestry used the nonces `used`.
    fn next_nonce(&self, sender: &Address, used: &FastMap<Address, u64>) -> u64 {
        let committed = self.committed.get(sender).copied().unwrap_or(0);
        used.get(sender).map_or(committed, |n| committed.max(*n))
    }

    /// Brings `reads`, made at `reads.height`, forward to the finalized
    /// height: each sender's next nonce is raised to what the blocks
    /// finalized since give it. Forgets them if those blocks are not all kept.
    fn bring_forward(&self, reads: &mut NonceReads) {
        let since = reads.height;
        reads.height = self.finalized_height;
        if since == self.finalized_height || reads.nonces.is_empty() {
            return;
        }
        let newer: Vec<&FastMap<Address, u64>> = self
            .recent
            .iter()
            .filter(|(h, _)| *h > since)
            .map(|(_, next)| &**next)
            .collect();
        let finalized_since = self.finalized_height.saturating_sub(since);
        if newer.len() as u64 != finalized_since {
            reads.nonces.clear();
            return;
        }
        for (sender, nonce) in reads.nonces.iter_mut() {
            for next in &newer {
                if let Some(n) = next.get(sender) {
                    *nonce = (*nonce).max(*n);
                }
            }
        }
    }

    /// Senders of `txs` whose committed nonce is neither kept nor in `read`
    /// (sorted, unique).
    fn unread_senders(
        &self,
        txs: &[SignedTransaction],
        read: &FastMap<Address, u64>,
    ) -> Vec<Address> {
        let mut unread: Vec<Address> = txs
            .iter()
            .map(|t| t.tx.sender_address())
            .filter(|a| !self.committed.contains_key(a) && !read.contains_key(a))
            .collect();
        unread.sort_unstable();
        unread.dedup();
        unread
    }

    /// Inserts `txs`; a sender's committed nonce is the kept one or the one
    /// in `read` (the larger if both), 0 if neither (ingest never inserts
    /// such a sender: it reads every unknown one first).
    fn insert(
        &mut self,
        txs: Vec<SignedTransaction>,
        read: &FastMap<Address, u64>,
    ) -> Vec<Result<TxId, Refusal>> {
        let committed = &self.committed;
        let nonce_of = |a: &Address| match (committed.get(a), read.get(a)) {
            (Some(kept), Some(read)) => (*kept).max(*read),
            (Some(n), None) | (None, Some(n)) => *n,
            (None, None) => 0,
        };
        let verdicts = self.pool.insert_batch(txs, nonce_of);
        for (a, n) in read {
            if self.pool.pending_nonce(a).is_some() {
                let kept = self.committed.entry(*a).or_insert(*n);
                *kept = (*kept).max(*n);
            }
        }
        self.forget_emptied();
        verdicts
    }

    /// Forgets the committed nonce of senders the pool's last mutation left
    /// with nothing queued.
    fn forget_emptied(&mut self) {
        for a in self.pool.last_emptied() {
            if self.pool.pending_nonce(a).is_none() {
                self.committed.remove(a);
            }
        }
        #[cfg(debug_assertions)]
        self.assert_invariants();
    }

    /// A committed nonce is kept for exactly the senders with queued txs.
    #[cfg(debug_assertions)]
    fn assert_invariants(&self) {
        assert_eq!(self.committed.len(), self.pool.senders());
        if self.committed.len() <= 4096 {
            for a in self.committed.keys() {
                assert!(
                    self.pool.pending_nonce(a).is_some(),
                    "{a:?} kept, none queued"
                );
            }
        }
    }
}

/// Indices (among `unverified`, which index `txs`) of bad signatures.
fn bad_signatures(txs: &[SignedTransaction], unverified: &[usize]) -> Vec<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::Signer;
    use lakh_types::{Action, AssetId, PrivateKey, Transaction, TransferEntry, TxStatus};
    use std::sync::atomic::{AtomicUsize, Ordering};

    const CHAIN_ID: u64 = 7;

    fn key(i: u64) -> PrivateKey {
        PrivateKey::from_seed(i)
    }

    fn addr(i: u64) -> Address {
        Address::from(&key(i).public_key())
    }

    fn tx(sender: u64, nonce: u64) -> SignedTransaction {
        Transaction {
            chain_id: CHAIN_ID,
            sender: key(sender).public_key().into(),
            nonce,
            max_fee: 1_000,
            action: Action::Transfer(TransferEntry {
                to: Address([9; 32]),
                asset: AssetId::NATIVE,
                amount: 1,
            }),
        }
        .sign(&key(sender))
    }

    fn receipt(sender: u64, nonce: u64) -> Receipt {
        Receipt {
            tx_id: tx(sender, nonce).id(),
            sender: addr(sender),
            nonce,
            height: 1,
            index: 0,
            fee_paid: 1,
            status: TxStatus::Success,
            events: vec![],
        }
    }

    fn pool() -> TxPool {
        let mut verifier = VerifierConfig::new(CHAIN_ID, 1);
        verifier.workers = 1;
        TxPool::new(MempoolConfig::default(), verifier).expect("verifier starts")
    }

    /// State whose answers are `answers[call]` for every sender; on its first
    /// call it finalizes the `race` blocks (heights 1, 2, ..., the last
    /// using the senders' nonces) in the pool before answering, as blocks
    /// finalizing during the read would.
    struct RacingState<'a> {
        pool: &'a TxPool,
        answers: Vec<u64>,
        race: Vec<Vec<Receipt>>,
        calls: AtomicUsize,
    }

    impl NonceSource for RacingState<'_> {
        async fn next_nonces(&self, senders: &[Address]) -> Result<Vec<u64>, String> {
            let call = self.calls.fetch_add(1, Ordering::SeqCst);
            if call == 0 {
                for (height, block) in (1..).zip(&self.race) {
                    let included = self.pool.on_finalized(height, block);
                    self.pool.prune(included);
                }
            }
            Ok(vec![
                self.answers[call.min(self.answers.len() - 1)];
                senders.len()
            ])
        }
    }

    fn ingest(pool: &TxPool, txs: &[SignedTransaction], state: &RacingState) -> Ingested {
        let raw = txs.iter().map(|t| t.raw().clone()).collect();
        futures::executor::block_on(pool.ingest(raw, state))
    }

    #[test]
    fn a_read_is_used_while_no_block_finalizes() {
        let pool = pool();
        let state = RacingState {
            pool: &pool,
            answers: vec![3],
            race: vec![],
            calls: AtomicUsize::new(0),
        };
        let out = ingest(&pool, &[tx(1, 3), tx(1, 4), tx(1, 2)], &state);
        assert_eq!(state.calls.load(Ordering::SeqCst), 1);
        assert!(out.verdicts[0].is_ok() && out.verdicts[1].is_ok());
        assert_eq!(
            out.verdicts[2],
            Err(Refusal::NonceReused {
                expected: 3,
                got: 2
            })
        );
        assert_eq!(out.accepted.len(), 2);
        // A known sender is not read again.
        ingest(&pool, &[tx(1, 5)], &state);
        assert_eq!(state.calls.load(Ordering::SeqCst), 1);
        assert_eq!(pool.pending_nonce(&addr(1)), Some(6));
    }

    /// Blocks `1..=count`, the last using `sender`'s nonce 0.
    fn blocks_using_nonce_0(count: usize, sender: u64) -> Vec<Vec<Receipt>> {
        let mut blocks = vec![vec![]; count];
        blocks[count - 1].push(receipt(sender, 0));
        blocks
    }

    fn assert_nonce_0_refused(pool: &TxPool, out: &Ingested) {
        assert_eq!(
            out.verdicts[0],
            Err(Refusal::NonceReused {
                expected: 1,
                got: 0
            })
        );
        assert!(out.verdicts[1].is_ok());
        assert_eq!(
            pool.select_for(&sha256::Digest::from([0; 32]), 10, 1 << 20, 1)
                .len(),
            1
        );
    }

    #[test]
    fn a_read_overtaken_by_finalization_takes_the_blocks_nonces() {
        let pool = pool();
        // The sender's nonce 0 is read as unused, but a block using it
        // finalizes before the insert: the stale read must not admit it.
        let state = RacingState {
            pool: &pool,
            answers: vec![0],
            race: blocks_using_nonce_0(3, 1),
            calls: AtomicUsize::new(0),
        };
        let out = ingest(&pool, &[tx(1, 0), tx(1, 1)], &state);
        assert_eq!(state.calls.load(Ordering::SeqCst), 1);
        assert_nonce_0_refused(&pool, &out);
    }

    #[test]
    fn a_read_overtaken_by_more_blocks_than_kept_is_made_again() {
        let pool = pool();
        let state = RacingState {
            pool: &pool,
            answers: vec![0, 1],
            race: blocks_using_nonce_0(RECENT_FINALIZED_BLOCKS + 1, 1),
            calls: AtomicUsize::new(0),
        };
        let out = ingest(&pool, &[tx(1, 0), tx(1, 1)], &state);
        assert_eq!(state.calls.load(Ordering::SeqCst), 2);
        assert_nonce_0_refused(&pool, &out);
    }

    #[test]
    fn finalization_forgets_senders_with_nothing_queued() {
        let pool = pool();
        pool.insert_verified(
            vec![tx(1, 0), tx(1, 1), tx(2, 0)],
            [(addr(1), 0), (addr(2), 0)],
        );
        assert_eq!(pool.known_senders(), 2);
        // Executed on top of the finalized tip: the next block skips them.
        let tip = sha256::Digest::from([1; 32]);
        pool.on_executed(tip, sha256::Digest::from([0; 32]), 1, &[receipt(1, 0)]);
        let next = pool.select_for(&tip, 10, 1 << 20, 1);
        assert_eq!(next.len(), 2);
        assert!(next.iter().all(|t| t.id() != tx(1, 0).id()));
        let included = pool.on_finalized(1, &[receipt(1, 0), receipt(1, 1), receipt(2, 0)]);
        // Selection is right before pruning: it starts at the committed nonces.
        assert!(pool.select_for(&tip, 10, 1 << 20, 1).is_empty());
        pool.prune(included);
        assert!(pool.is_empty());
        assert_eq!(pool.known_senders(), 0);
    }

    #[test]
    fn unpayable_senders_are_forgotten_with_their_queue() {
        let pool = pool();
        pool.insert_verified(vec![tx(1, 4), tx(1, 5)], [(addr(1), 4)]);
        pool.drop_unpayable(&[(addr(1), 5)]);
        assert_eq!(pool.known_senders(), 1);
        pool.drop_unpayable(&[(addr(1), 4)]);
        assert_eq!(pool.known_senders(), 0);
        assert!(pool.is_empty());
    }

    #[test]
    fn readiness_follows_the_parent_and_the_fee() {
        let pool = pool();
        let genesis = sha256::Digest::from([0; 32]);
        assert!(!pool.has_ready_for(&genesis, 1));
        // A nonce gap is not ready.
        pool.insert_verified(vec![tx(1, 1)], [(addr(1), 0)]);
        assert!(!pool.has_ready_for(&genesis, 1));
        pool.insert_verified(vec![tx(1, 0)], []);
        assert!(pool.has_ready_for(&genesis, 1));
        // Too low a fee for the base fee is not ready.
        assert!(!pool.has_ready_for(&genesis, 1_000_000));
        // Once an unfinalized parent used both nonces, nothing is ready on it.
        let tip = sha256::Digest::from([1; 32]);
        pool.on_executed(tip, genesis, 1, &[receipt(1, 0), receipt(1, 1)]);
        assert!(!pool.has_ready_for(&tip, 1));
        assert!(pool.has_ready_for(&genesis, 1));
    }

    #[test]
    fn a_waiter_wakes_when_a_ready_transaction_arrives() {
        use futures::FutureExt as _;
        let pool = pool();
        let genesis = sha256::Digest::from([0; 32]);
        let mut wait = Box::pin(pool.wait_until(|p| p.has_ready_for(&genesis, 1)));
        assert!((&mut wait).now_or_never().is_none());
        // An arrival that is not ready (a nonce gap) wakes it, and it waits on.
        pool.insert_verified(vec![tx(1, 1)], [(addr(1), 0)]);
        assert!((&mut wait).now_or_never().is_none());
        pool.insert_verified(vec![tx(1, 0)], []);
        assert!((&mut wait).now_or_never().is_some());
        // Already ready: resolves at once.
        assert!(
            pool.wait_until(|p| p.has_ready_for(&genesis, 1))
                .now_or_never()
                .is_some()
        );
    }

    #[test]
    fn block_verification_checks_the_proofs_ingest_did_not() {
        use crate::verify::tests::{proven_unshield, signed};
        use lakh_types::modules::shielded::ShieldedAction;
        let pool = pool();
        let valid = Action::Shielded(Box::new(proven_unshield().clone()));
        let mut replayed = proven_unshield().clone();
        if let ShieldedAction::Unshield { recipient, .. } = &mut replayed {
            *recipient = Address([1; 32]);
        }
        // A proposer's block this node never saw at ingest: the transfer
        // and the valid unshield pass, the re-targeted proof does not.
        let txs = vec![
            tx(3, 0),
            signed(1, 0, CHAIN_ID, 1_000_000, valid),
            signed(
                1,
                1,
                CHAIN_ID,
                1_000_000,
                Action::Shielded(Box::new(replayed)),
            ),
        ];
        assert_eq!(pool.verify_block_signatures(&txs), vec![2]);
    }

    #[test]
    fn block_verification_uses_the_chain_key() {
        use crate::verify::tests::{
            ceremony_chain_key, ceremony_unshield, proven_unshield, signed,
        };
        let mut verifier = VerifierConfig::new(CHAIN_ID, 1);
        verifier.workers = 1;
        verifier.shielded_key = ceremony_chain_key();
        let ceremony_chain = TxPool::new(MempoolConfig::default(), verifier).unwrap();
        let devnet_chain = pool();
        let shielded = |action: &lakh_types::modules::shielded::ShieldedAction| {
            signed(
                1,
                0,
                CHAIN_ID,
                1_000_000,
                Action::Shielded(Box::new(action.clone())),
            )
        };
        let txs = vec![shielded(ceremony_unshield()), shielded(proven_unshield())];
        assert_eq!(ceremony_chain.verify_block_signatures(&txs), vec![1]);
        assert_eq!(devnet_chain.verify_block_signatures(&txs), vec![0]);
    }
}
