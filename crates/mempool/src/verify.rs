//! Ingest verification: stateless checks, then batched signature verification
//! spread over a pool of worker threads, then, for shielded transfers and
//! unshields, batched Groth16 proof verification on the same threads
//! ([`verify_proofs`]): a batch that fails is checked member by member and
//! only the bad proofs are refused (`invalid_proof`).
//!
//! The pool is plain std threads fed by a channel. Async callers use
//! [`Verifier::verify`]: the work is handed to the pool and the caller's task
//! is suspended on a channel until the verdicts come back, so no async worker
//! thread is held while elliptic-curve math runs (and nothing depends on the
//! runtime's blocking pool, which starves under commonware's runtime).
//!
//! Work waiting for or in verification is bounded
//! ([`VerifierConfig::max_pending_txs`]): past the bound a batch is refused as
//! busy up front instead of queueing without limit.

use crate::pool::fee_per_unit;
use crate::sender_keys::{SenderKeys, sender_keys_from_env};
use bytes::Bytes;
use futures::StreamExt;
use futures::channel::mpsc as async_mpsc;
use lakh_shielded::chain::ChainVerifyingKey;
use lakh_types::tx::verify_signatures_with;
use lakh_types::{Action, Refusal, SignedTransaction, fees, limits};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// Refuses what can be refused without state or signature work.
pub fn check_stateless(
    tx: &SignedTransaction,
    chain_id: u64,
    min_base_fee: u128,
) -> Result<(), Refusal> {
    if tx.encoded_len() > limits::MAX_TX_BYTES {
        return Err(Refusal::Oversize {
            size: tx.encoded_len(),
            max: limits::MAX_TX_BYTES,
        });
    }
    if tx.tx.chain_id != chain_id {
        return Err(Refusal::WrongChainId {
            expected: chain_id,
            got: tx.tx.chain_id,
        });
    }
    check_action(&tx.tx.action)?;
    let required = fees::required_fee(&tx.tx.action, min_base_fee);
    if tx.tx.max_fee < required {
        return Err(Refusal::FeeTooLow {
            max_fee: tx.tx.max_fee,
            required,
        });
    }
    Ok(())
}

/// Payload checks that hold regardless of state; a failing action could only
/// ever fail in execution, so it is not worth a block slot.
fn check_action(action: &Action) -> Result<(), Refusal> {
    use lakh_types::modules::*;
    match action {
        Action::Transfer(_) | Action::Mint { .. } => Ok(()),
        Action::Dex(a) => dex::check(a).map_err(Refusal::InvalidAction),
        Action::Book(a) => book::check(a).map_err(Refusal::InvalidAction),
        Action::Oracle(a) => oracle::check(a).map_err(Refusal::InvalidAction),
        Action::Lend(a) => lend::check(a).map_err(Refusal::InvalidAction),
        Action::Stake(a) => stake::check(a).map_err(Refusal::InvalidAction),
        Action::Farm(a) => farm::check(a).map_err(Refusal::InvalidAction),
        Action::Cover(a) => cover::check(a).map_err(Refusal::InvalidAction),
        Action::Nft(a) => nft::check(a).map_err(Refusal::InvalidAction),
        Action::Shielded(a) => shielded::check(a).map_err(Refusal::InvalidAction),
        Action::Channel(a) => channel::check(a).map_err(Refusal::InvalidAction),
        Action::Bridge(a) => bridge::check(a).map_err(Refusal::InvalidAction),
        Action::MultiTransfer { entries } => {
            if entries.is_empty() {
                return Err(Refusal::InvalidAction(
                    "multi_transfer has no entries".into(),
                ));
            }
            if entries.len() > limits::MAX_MULTI_TRANSFER_ENTRIES {
                return Err(Refusal::InvalidAction(format!(
                    "multi_transfer has {} entries, limit is {}",
                    entries.len(),
                    limits::MAX_MULTI_TRANSFER_ENTRIES
                )));
            }
            Ok(())
        }
        Action::CreateAsset {
            decimals,
            max_supply,
            initial_supply,
            ..
        } => {
            if *decimals > limits::MAX_DECIMALS {
                return Err(Refusal::InvalidAction(format!(
                    "create_asset decimals {decimals} exceed the limit {}",
                    limits::MAX_DECIMALS
                )));
            }
            if let Some(max) = max_supply
                && initial_supply > max
            {
                return Err(Refusal::InvalidAction(format!(
                    "create_asset initial_supply {initial_supply} exceeds max_supply {max}"
                )));
            }
            Ok(())
        }
    }
}

/// Default niceness of the verifier threads; `LAKH_VERIFY_NICE` overrides
/// it (see [`VerifierConfig::nice`]).
pub const DEFAULT_VERIFY_NICE: i32 = 10;

/// Settings of a [`Verifier`].
#[derive(Clone, Debug)]
pub struct VerifierConfig {
    pub chain_id: u64,
    /// Floor of the base fee: a tx that cannot pay it can never be included.
    pub min_base_fee: u128,
    /// Worker threads; 0 means one per available core.
    pub workers: usize,
    /// Smallest slice given to one worker: batch verification only pays off
    /// over many signatures, so small batches are not fanned out.
    pub min_chunk_txs: usize,
    /// Most transactions one call checks; the rest are refused as busy.
    pub max_batch_txs: usize,
    /// Most transactions waiting for or in verification across all callers;
    /// a batch that would exceed it is refused as busy without being checked.
    pub max_pending_txs: usize,
    /// Scheduling niceness of the worker threads (Linux; 0 leaves it as is).
    /// Block building, execution and commit run on one thread at a time and
    /// form the chain's critical path; at equal priority the workers took
    /// half its core. At 10 the node finalized 48,500 instead of 42,500
    /// tx/s (docs/PERFORMANCE.md), and the workers still use every cycle the
    /// critical path leaves. Ignored (0) when the process may use only one
    /// core, where it starved verification instead.
    pub nice: i32,
    /// The key shielded proofs are checked with: genesis' (the devnet's
    /// when genesis carries none, and by default).
    pub shielded_key: ChainVerifyingKey,
    /// Most decompressed sender keys kept between batches (0: none); see
    /// [`SenderKeys`].
    pub sender_keys: usize,
}

impl VerifierConfig {
    pub fn new(chain_id: u64, min_base_fee: u128) -> Self {
        VerifierConfig {
            chain_id,
            min_base_fee,
            workers: 0,
            min_chunk_txs: 64,
            max_batch_txs: limits::MAX_VERIFY_BATCH_TXS,
            // About a second of verification on two cores.
            max_pending_txs: 100_000,
            nice: std::env::var("LAKH_VERIFY_NICE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(DEFAULT_VERIFY_NICE),
            shielded_key: ChainVerifyingKey::Devnet,
            sender_keys: sender_keys_from_env(),
        }
    }

    /// Worker threads a [`Verifier`] of this configuration starts.
    pub fn worker_threads(&self) -> usize {
        match self.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }

    /// Signatures one worker checks as one batch when a call brings
    /// `batch_txs` transactions: the call split evenly over the workers.
    pub fn chunk_txs(&self, batch_txs: usize) -> usize {
        self.chunk_over(batch_txs, self.worker_threads())
    }

    /// [`VerifierConfig::chunk_txs`] over `workers` already counted: a
    /// running verifier does not ask the system again per call.
    fn chunk_over(&self, batch_txs: usize, workers: usize) -> usize {
        batch_txs
            .min(self.max_batch_txs)
            .div_ceil(workers)
            .max(self.min_chunk_txs)
            .max(1)
    }
}

type Verdicts = Vec<Result<SignedTransaction, Refusal>>;

/// A full mempool's admission floor: transactions paying at most `fee_per_unit`
/// per fee unit could not evict anything, so they get `refusal` without their
/// signatures being checked.
#[derive(Clone, Debug)]
pub struct FeeFloor {
    pub fee_per_unit: u128,
    pub refusal: Refusal,
}

/// One worker's share of a call: transactions as received or already decoded.
enum Input {
    Raw(Vec<Bytes>),
    Decoded(Vec<SignedTransaction>),
}

struct Job {
    chunk: usize,
    input: Input,
    floor: Option<Arc<FeeFloor>>,
    reply: async_mpsc::UnboundedSender<(usize, Verdicts)>,
}

/// A pool of threads that verifies transactions in batches.
pub struct Verifier {
    cfg: VerifierConfig,
    workers: usize,
    jobs: Option<Sender<Job>>,
    handles: Vec<JoinHandle<()>>,
    /// Transactions handed to the pool and not yet answered.
    pending: Arc<AtomicUsize>,
    sender_keys: Arc<SenderKeys>,
}

/// Releases a batch's share of the pending count when its caller is done
/// (or gives up waiting).
struct PendingGuard {
    pending: Arc<AtomicUsize>,
    count: usize,
}

impl Drop for PendingGuard {
    fn drop(&mut self) {
        self.pending.fetch_sub(self.count, Ordering::AcqRel);
    }
}

impl Verifier {
    /// Starts the worker threads.
    pub fn new(cfg: VerifierConfig) -> std::io::Result<Self> {
        let workers = cfg.worker_threads();
        // Lowering the workers only pays when the critical path can have a
        // core of its own: confined to one core (taskset), the node made
        // 24,000 tx/s at nice 0, 9,500 at nice 5 and 5,524 at nice 10.
        let nice = match std::thread::available_parallelism().map_or(1, |n| n.get()) {
            0 | 1 => 0,
            _ => cfg.nice,
        };
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        let sender_keys = Arc::new(SenderKeys::new(cfg.sender_keys));
        let mut handles = Vec::with_capacity(workers);
        for i in 0..workers {
            let queue = queue.clone();
            let chain = ChainRules {
                chain_id: cfg.chain_id,
                min_base_fee: cfg.min_base_fee,
                shielded_key: cfg.shielded_key.clone(),
                sender_keys: sender_keys.clone(),
            };
            let handle = std::thread::Builder::new()
                .name(format!("lakh-verify-{i}"))
                .spawn(move || {
                    lower_priority(nice);
                    worker(&queue, &chain)
                })?;
            handles.push(handle);
        }
        Ok(Verifier {
            cfg,
            workers,
            jobs: Some(jobs),
            handles,
            pending: Arc::new(AtomicUsize::new(0)),
            sender_keys,
        })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    pub fn config(&self) -> &VerifierConfig {
        &self.cfg
    }

    /// Decompressed sender keys held in the cache now.
    pub fn cached_sender_keys(&self) -> usize {
        self.sender_keys.len()
    }

    /// Transactions waiting for or in verification right now.
    pub fn pending(&self) -> usize {
        self.pending.load(Ordering::Acquire)
    }

    /// Blocking form of [`Verifier::verify`], for threads that are not async
    /// workers (tests, tools).
    pub fn verify_batch(&self, txs: Vec<SignedTransaction>) -> Verdicts {
        futures::executor::block_on(self.verify(txs))
    }

    /// Checks decoded transactions; see [`Verifier::verify_raw`].
    pub fn verify(
        &self,
        txs: Vec<SignedTransaction>,
    ) -> impl Future<Output = Verdicts> + Send + 'static {
        self.dispatch(txs, Input::Decoded, None)
    }

    /// Decodes and checks raw transaction encodings; the output is in input
    /// order. Decoding runs on the worker threads too (it decompresses the
    /// sender's public key, which costs about as much as a third of a
    /// signature check). With `floor`, transactions that cannot pay more
    /// than it are refused after decoding, before signature work.
    ///
    /// The batch is handed to the worker threads when called; the returned
    /// future only waits for their answers, so an async caller's worker
    /// thread is free meanwhile. Transactions beyond the batch limit or the
    /// room left under the pending bound are refused as busy, unchecked.
    pub fn verify_raw(
        &self,
        raw: Vec<Bytes>,
        floor: Option<FeeFloor>,
    ) -> impl Future<Output = Verdicts> + Send + 'static {
        self.dispatch(raw, Input::Raw, floor.map(Arc::new))
    }

    fn dispatch<T: Send + 'static>(
        &self,
        mut items: Vec<T>,
        wrap: fn(Vec<T>) -> Input,
        floor: Option<Arc<FeeFloor>>,
    ) -> impl Future<Output = Verdicts> + Send + 'static {
        let requested = items.len();
        let (admitted, waiting) = self.reserve(requested.min(self.cfg.max_batch_txs));
        let busy = (admitted < requested).then(|| {
            if admitted < self.cfg.max_batch_txs.min(requested) {
                Refusal::Busy(format!(
                    "signature verification queue full: {waiting} transactions waiting, limit is {}",
                    self.cfg.max_pending_txs
                ))
            } else {
                Refusal::Busy(format!(
                    "batch of {requested} transactions is over the verification limit of {}",
                    self.cfg.max_batch_txs
                ))
            }
        });
        items.truncate(admitted);
        let guard = PendingGuard {
            pending: self.pending.clone(),
            count: admitted,
        };
        let chunk_len = self.cfg.chunk_over(admitted, self.workers);
        let chunk_count = admitted.div_ceil(chunk_len);
        let (reply, mut replies) = async_mpsc::unbounded();
        if let Some(jobs) = &self.jobs {
            // Split from the back so each split moves only the chunk it cuts off.
            let mut chunks = Vec::with_capacity(chunk_count);
            for index in (0..chunk_count).rev() {
                chunks.push(items.split_off(index * chunk_len));
            }
            for (chunk, items) in chunks.into_iter().rev().enumerate() {
                let job = Job {
                    chunk,
                    input: wrap(items),
                    floor: floor.clone(),
                    reply: reply.clone(),
                };
                if jobs.send(job).is_err() {
                    break;
                }
            }
        }
        drop(reply);
        async move {
            let mut parts: Vec<Option<Verdicts>> = (0..chunk_count).map(|_| None).collect();
            // Ends when every job has replied or been dropped with a dead worker.
            while let Some((chunk, verdicts)) = replies.next().await {
                parts[chunk] = Some(verdicts);
            }
            drop(guard);
            let mut out = Vec::with_capacity(requested);
            for (chunk, part) in parts.into_iter().enumerate() {
                match part {
                    Some(verdicts) => out.extend(verdicts),
                    None => {
                        let len = chunk_len.min(admitted - chunk * chunk_len);
                        out.extend((0..len).map(|_| Err(worker_lost())));
                    }
                }
            }
            if let Some(busy) = busy {
                out.resize(requested, Err(busy));
            }
            out
        }
    }

    /// Reserves room for up to `want` transactions under the pending bound.
    /// Returns how many were admitted and how many were waiting before.
    fn reserve(&self, want: usize) -> (usize, usize) {
        let limit = self.cfg.max_pending_txs;
        let mut current = self.pending.load(Ordering::Acquire);
        loop {
            let admit = want.min(limit.saturating_sub(current));
            match self.pending.compare_exchange_weak(
                current,
                current + admit,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return (admit, current),
                Err(now) => current = now,
            }
        }
    }
}

impl Drop for Verifier {
    fn drop(&mut self) {
        // Closing the queue lets every worker's `recv` fail, so they exit.
        self.jobs.take();
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

/// Sets the calling thread's niceness (best effort: a failure leaves the
/// thread at normal priority, which is only slower).
#[allow(unsafe_code)] // libc calls; see the SAFETY note inside.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    if nice != 0 {
        // SAFETY: plain syscalls on the calling thread's own id.
        unsafe {
            let tid = libc::gettid() as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, nice);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}

fn worker_lost() -> Refusal {
    Refusal::Busy("signature verification worker failed".into())
}

/// What a worker checks transactions against.
struct ChainRules {
    chain_id: u64,
    min_base_fee: u128,
    shielded_key: ChainVerifyingKey,
    sender_keys: Arc<SenderKeys>,
}

fn worker(queue: &Mutex<Receiver<Job>>, chain: &ChainRules) {
    loop {
        let job = {
            let Ok(queue) = queue.lock() else { return };
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        let len = match &job.input {
            Input::Raw(raw) => raw.len(),
            Input::Decoded(txs) => txs.len(),
        };
        let floor = job.floor.as_deref();
        let verdicts = catch_unwind(AssertUnwindSafe(|| match job.input {
            Input::Raw(raw) => verify_raw_chunk(raw, floor, chain),
            Input::Decoded(txs) => verify_chunk(txs.into_iter().map(Ok), len, floor, chain),
        }))
        .unwrap_or_else(|_| (0..len).map(|_| Err(worker_lost())).collect());
        // A caller that stopped waiting (its request was dropped) needs no answer.
        let _ = job.reply.unbounded_send((job.chunk, verdicts));
    }
}

/// Decodes, then verifies.
fn verify_raw_chunk(raw: Vec<Bytes>, floor: Option<&FeeFloor>, chain: &ChainRules) -> Verdicts {
    let len = raw.len();
    let decoded = raw.into_iter().map(SignedTransaction::decode);
    verify_chunk(decoded, len, floor, chain)
}

/// Decoding, stateless checks and the fee floor on each tx, then one batch
/// verification over the survivors.
fn verify_chunk(
    txs: impl Iterator<Item = Result<SignedTransaction, Refusal>>,
    len: usize,
    floor: Option<&FeeFloor>,
    chain: &ChainRules,
) -> Verdicts {
    let mut out: Verdicts = Vec::with_capacity(len);
    let mut passed = Vec::with_capacity(len);
    let mut passed_at = Vec::with_capacity(len);
    for tx in txs {
        let checked = tx.and_then(|tx| {
            check_stateless(&tx, chain.chain_id, chain.min_base_fee)?;
            match floor {
                Some(f) if fee_per_unit(&tx) <= f.fee_per_unit => Err(f.refusal.clone()),
                _ => Ok(tx),
            }
        });
        match checked {
            Ok(tx) => {
                passed_at.push(out.len());
                passed.push(tx);
                // Overwritten below unless the signature is bad.
                out.push(Err(Refusal::BadSignature));
            }
            Err(refusal) => out.push(Err(refusal)),
        }
    }
    let mut bad = verify_signatures_with(&passed, &*chain.sender_keys)
        .into_iter()
        .peekable();
    let mut signed = Vec::with_capacity(passed.len());
    let mut signed_at = Vec::with_capacity(passed.len());
    for (i, tx) in passed.into_iter().enumerate() {
        if bad.peek() == Some(&i) {
            bad.next();
        } else {
            signed_at.push(passed_at[i]);
            signed.push(tx);
        }
    }
    let mut bad_proofs = verify_proofs(chain.chain_id, &chain.shielded_key, &signed)
        .into_iter()
        .peekable();
    for (i, tx) in signed.into_iter().enumerate() {
        match bad_proofs.peek() {
            Some((at, _)) if *at == i => {
                if let Some((_, refusal)) = bad_proofs.next() {
                    out[signed_at[i]] = Err(refusal);
                }
            }
            _ => out[signed_at[i]] = Ok(tx),
        }
    }
    out
}

/// The shielded transactions among `txs` whose proofs do not verify, by
/// index (ascending), with the refusal. All proofs are checked in one batch
/// against the chain's verifying key `key`; a failing batch is checked
/// member by member. Transactions without a proof pass.
pub fn verify_proofs<'a>(
    chain_id: u64,
    key: &ChainVerifyingKey,
    txs: impl IntoIterator<Item = &'a SignedTransaction>,
) -> Vec<(usize, Refusal)> {
    let mut spends = Vec::new();
    let mut spend_at = Vec::new();
    for (i, tx) in txs.into_iter().enumerate() {
        if let Action::Shielded(action) = &tx.tx.action
            && action.spend().is_some()
        {
            spends.push((tx.tx.sender_address(), &**action));
            spend_at.push(i);
        }
    }
    if spends.is_empty() {
        return Vec::new();
    }
    lakh_shielded::chain::verify_actions(key.key(), chain_id, &spends)
        .into_iter()
        .zip(spend_at)
        .filter_map(|(verdict, i)| {
            verdict
                .err()
                .map(|e| (i, Refusal::InvalidProof(e.to_string())))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use bytes::Bytes;
    use commonware_cryptography::Signer;
    use lakh_types::modules::shielded::{
        ENCRYPTED_NOTE_BYTES, FixedBytes, PROOF_BYTES, ShieldedAction,
    };
    use lakh_types::{Address, AssetId, PrivateKey, Symbol, Transaction, TransferEntry};

    pub(crate) const CHAIN: u64 = 7;
    const MIN_BASE_FEE: u128 = 100;

    pub(crate) fn signed(
        seed: u64,
        nonce: u64,
        chain_id: u64,
        max_fee: u128,
        action: Action,
    ) -> SignedTransaction {
        let key = PrivateKey::from_seed(seed);
        Transaction {
            chain_id,
            sender: key.public_key().into(),
            nonce,
            max_fee,
            action,
        }
        .sign(&key)
    }

    fn entry() -> TransferEntry {
        TransferEntry {
            to: Address([9; 32]),
            asset: AssetId::NATIVE,
            amount: 5,
        }
    }

    pub(crate) fn transfer(seed: u64, nonce: u64) -> SignedTransaction {
        signed(seed, nonce, CHAIN, 1_000, Action::Transfer(entry()))
    }

    /// Flips a bit in the body (the amount) while keeping the old signature.
    fn tampered(tx: &SignedTransaction) -> SignedTransaction {
        let mut raw = tx.raw().to_vec();
        let at = tx.body_bytes().len() - 1;
        raw[at] ^= 1;
        SignedTransaction::decode(Bytes::from(raw)).expect("still well-formed")
    }

    fn verifier(workers: usize, min_chunk_txs: usize) -> Verifier {
        let mut cfg = VerifierConfig::new(CHAIN, MIN_BASE_FEE);
        cfg.workers = workers;
        cfg.min_chunk_txs = min_chunk_txs;
        Verifier::new(cfg).expect("spawn workers")
    }

    #[test]
    fn tampered_txs_are_refused_and_valid_ones_accepted_across_workers() {
        let v = verifier(3, 4);
        assert_eq!(v.workers(), 3);
        let mut txs: Vec<SignedTransaction> = (0..40).map(|i| transfer(i, i)).collect();
        let bad_at = [0usize, 13, 27, 39];
        for &i in &bad_at {
            txs[i] = tampered(&txs[i]);
        }
        let expected_ids: Vec<_> = txs.iter().map(SignedTransaction::id).collect();
        let verdicts = v.verify_batch(txs);
        assert_eq!(verdicts.len(), 40);
        for (i, verdict) in verdicts.iter().enumerate() {
            if bad_at.contains(&i) {
                assert_eq!(verdict, &Err(Refusal::BadSignature), "tx {i}");
            } else {
                let tx = verdict.as_ref().expect("valid tx accepted");
                assert_eq!(tx.id(), expected_ids[i], "order kept at {i}");
            }
        }
    }

    #[test]
    fn the_cache_holds_only_keys_that_signed_and_a_hit_changes_no_verdict() {
        let v = verifier(2, 4);
        let raw = |txs: &[SignedTransaction]| txs.iter().map(|t| t.raw().clone()).collect();
        let mut txs: Vec<_> = (0..40).map(|i| transfer(i, 0)).collect();
        let bad_at = [0usize, 13, 27, 39];
        for &i in &bad_at {
            txs[i] = tampered(&txs[i]);
        }
        let first = futures::executor::block_on(v.verify_raw(raw(&txs), None));
        let refused: Vec<_> = (0..40).filter(|i| first[*i].is_err()).collect();
        assert_eq!(refused, bad_at);
        // The cache serves commonware's verifier; the lanes consult it only
        // for a batch they refused.
        let lanes = lakh_types::tx::lanes_enabled();
        if !lanes {
            assert_eq!(v.cached_sender_keys(), 36);
        }
        // A cached sender's tampered transaction is still refused.
        let mut again: Vec<_> = (0..40).map(|i| transfer(i, 1)).collect();
        again[5] = tampered(&again[5]);
        let second = futures::executor::block_on(v.verify_raw(raw(&again), None));
        for (i, verdict) in second.iter().enumerate() {
            match i {
                5 => assert_eq!(verdict, &Err(Refusal::BadSignature)),
                _ => assert_eq!(verdict.as_ref().expect("valid").tx, again[i].tx, "tx {i}"),
            }
        }
        if !lanes {
            assert_eq!(v.cached_sender_keys(), 40);
        }
    }

    #[test]
    fn stateless_refusals_come_before_signature_work() {
        let v = verifier(2, 1);
        let empty_multi = Action::MultiTransfer { entries: vec![] };
        let wide = Action::CreateAsset {
            symbol: Symbol::new("ABC").unwrap(),
            decimals: limits::MAX_DECIMALS + 1,
            max_supply: None,
            initial_supply: 1,
        };
        let over_cap = Action::CreateAsset {
            symbol: Symbol::new("ABC").unwrap(),
            decimals: 2,
            max_supply: Some(10),
            initial_supply: 11,
        };
        // A MultiTransfer of 3 entries costs 4 units.
        let three = Action::MultiTransfer {
            entries: vec![entry(), entry(), entry()],
        };
        let txs = vec![
            signed(1, 0, CHAIN + 1, 1_000, Action::Transfer(entry())),
            signed(2, 0, CHAIN, 1_000, empty_multi),
            signed(3, 0, CHAIN, 1_000_000, wide),
            signed(4, 0, CHAIN, 1_000_000, over_cap),
            signed(5, 0, CHAIN, 4 * MIN_BASE_FEE - 1, three.clone()),
            signed(6, 0, CHAIN, 4 * MIN_BASE_FEE, three),
            // Wrong chain and tampered: the chain is reported, not the signature.
            tampered(&signed(7, 0, CHAIN + 1, 1_000, Action::Transfer(entry()))),
        ];
        let verdicts = v.verify_batch(txs);
        assert_eq!(
            verdicts[0],
            Err(Refusal::WrongChainId {
                expected: CHAIN,
                got: CHAIN + 1
            })
        );
        assert!(matches!(&verdicts[1], Err(Refusal::InvalidAction(m)) if m.contains("no entries")));
        assert!(matches!(&verdicts[2], Err(Refusal::InvalidAction(m)) if m.contains("decimals")));
        assert!(matches!(&verdicts[3], Err(Refusal::InvalidAction(m)) if m.contains("max_supply")));
        assert_eq!(
            verdicts[4],
            Err(Refusal::FeeTooLow {
                max_fee: 4 * MIN_BASE_FEE - 1,
                required: 4 * MIN_BASE_FEE
            })
        );
        assert!(verdicts[5].is_ok());
        assert!(matches!(verdicts[6], Err(Refusal::WrongChainId { .. })));
    }

    #[test]
    fn batch_limit_refuses_the_excess_as_busy() {
        let mut cfg = VerifierConfig::new(CHAIN, MIN_BASE_FEE);
        cfg.workers = 2;
        cfg.max_batch_txs = 3;
        let v = Verifier::new(cfg).unwrap();
        let verdicts = v.verify_batch((0..5).map(|i| transfer(i, 0)).collect());
        assert_eq!(verdicts.len(), 5);
        assert!(verdicts[..3].iter().all(Result::is_ok));
        assert!(
            verdicts[3..]
                .iter()
                .all(|v| matches!(v, Err(Refusal::Busy(_))))
        );
    }

    #[test]
    fn pending_bound_refuses_the_excess_as_busy_until_answers_arrive() {
        let mut cfg = VerifierConfig::new(CHAIN, MIN_BASE_FEE);
        cfg.workers = 1;
        cfg.max_pending_txs = 10;
        let v = Verifier::new(cfg).unwrap();
        let first = v.verify((0..8).map(|i| transfer(i, 0)).collect());
        assert_eq!(v.pending(), 8);
        // Room for 2 more: the rest of this batch is refused, unchecked.
        let second = v.verify((10..15).map(|i| transfer(i, 0)).collect());
        assert_eq!(v.pending(), 10);
        let second = futures::executor::block_on(second);
        assert!(second[..2].iter().all(Result::is_ok));
        for verdict in &second[2..] {
            match verdict {
                Err(Refusal::Busy(why)) => assert!(
                    why.contains("verification queue full") && why.contains("limit is 10"),
                    "{why}"
                ),
                other => panic!("expected busy, got {other:?}"),
            }
        }
        assert!(futures::executor::block_on(first).iter().all(Result::is_ok));
        assert_eq!(v.pending(), 0, "answered batches release their room");
        let dropped = v.verify((0..4).map(|i| transfer(i, 1)).collect());
        drop(dropped);
        assert_eq!(v.pending(), 0, "a caller that gives up releases its room");
    }

    #[test]
    fn waiting_for_verdicts_does_not_block_the_caller() {
        let v = verifier(1, 10_000);
        let txs: Vec<_> = (0..2_000).map(|i| transfer(i, 0)).collect();
        let mut fut = Box::pin(v.verify(txs));
        futures::executor::block_on(async {
            // One worker needs tens of milliseconds for 2,000 signatures; the
            // first poll returns at once instead of waiting for them.
            assert!(futures::poll!(&mut fut).is_pending());
            let verdicts = fut.await;
            assert_eq!(verdicts.len(), 2_000);
            assert!(verdicts.iter().all(Result::is_ok));
        });
    }

    #[test]
    fn raw_encodings_are_decoded_checked_and_held_to_the_fee_floor() {
        let v = verifier(2, 1);
        let cheap = signed(1, 0, CHAIN, 500, Action::Transfer(entry()));
        let dear = signed(2, 0, CHAIN, 501, Action::Transfer(entry()));
        let forged = tampered(&signed(3, 0, CHAIN, 900, Action::Transfer(entry())));
        let raw = vec![
            cheap.raw().clone(),
            Bytes::from_static(b"\x01\x02"),
            dear.raw().clone(),
            forged.raw().clone(),
        ];
        let floor = FeeFloor {
            fee_per_unit: 500,
            refusal: Refusal::Busy("mempool full".into()),
        };
        let verdicts = futures::executor::block_on(v.verify_raw(raw.clone(), Some(floor)));
        assert_eq!(verdicts[0], Err(Refusal::Busy("mempool full".into())));
        assert!(matches!(verdicts[1], Err(Refusal::Malformed(_))));
        assert_eq!(verdicts[2].as_ref().map(|t| t.id()), Ok(dear.id()));
        assert_eq!(verdicts[3], Err(Refusal::BadSignature));
        // Without a floor the cheap one passes.
        let verdicts = futures::executor::block_on(v.verify_raw(raw, None));
        assert_eq!(verdicts[0].as_ref().map(|t| t.id()), Ok(cheap.id()));
    }

    #[test]
    fn empty_batch_and_concurrent_callers() {
        let v = Arc::new(verifier(2, 2));
        assert!(v.verify_batch(Vec::new()).is_empty());
        let callers: Vec<_> = (0..4u64)
            .map(|c| {
                let v = v.clone();
                std::thread::spawn(move || {
                    let txs: Vec<_> = (0..10).map(|i| transfer(c * 100 + i, i)).collect();
                    let ids: Vec<_> = txs.iter().map(SignedTransaction::id).collect();
                    let got: Vec<_> = v
                        .verify_batch(txs)
                        .into_iter()
                        .map(|r| r.expect("valid").id())
                        .collect();
                    assert_eq!(got, ids);
                })
            })
            .collect();
        for c in callers {
            c.join().expect("caller thread");
        }
    }

    /// One proven unshield on chain [`CHAIN`], sent by key 1: 50 in, 39 to
    /// a public account, fee 1, change 10, proved with the devnet's
    /// parameters. Proved once per test binary.
    pub(crate) fn proven_unshield() -> &'static ShieldedAction {
        static PROVEN: std::sync::OnceLock<ShieldedAction> = std::sync::OnceLock::new();
        PROVEN.get_or_init(|| unshield_proved_with(lakh_shielded::chain::devnet_parameters()))
    }

    /// Parameters of another setup of the transfer circuit: what a chain
    /// whose genesis carries a ceremony's key verifies with (a seeded setup
    /// stands in for the ceremony, whose key is just as foreign to the
    /// devnet's). Derived once per test binary.
    pub(crate) fn ceremony_parameters()
    -> &'static lakh_shielded::Parameters<{ lakh_shielded::TREE_DEPTH }> {
        static PARAMS: std::sync::OnceLock<
            lakh_shielded::Parameters<{ lakh_shielded::TREE_DEPTH }>,
        > = std::sync::OnceLock::new();
        PARAMS
            .get_or_init(|| lakh_shielded::Parameters::devnet_setup(b"ceremony stand-in").unwrap())
    }

    /// [`proven_unshield`]'s unshield proved with [`ceremony_parameters`].
    pub(crate) fn ceremony_unshield() -> &'static ShieldedAction {
        static PROVEN: std::sync::OnceLock<ShieldedAction> = std::sync::OnceLock::new();
        PROVEN.get_or_init(|| unshield_proved_with(ceremony_parameters()))
    }

    /// The key of a chain whose genesis carries [`ceremony_parameters`]' key.
    pub(crate) fn ceremony_chain_key() -> ChainVerifyingKey {
        let key = ceremony_parameters().verifying_key().to_bytes();
        let section = lakh_types::modules::shielded::ShieldedGenesis::with_key(&key);
        ChainVerifyingKey::from_genesis(Some(&section)).unwrap()
    }

    fn unshield_proved_with(
        params: &lakh_shielded::Parameters<{ lakh_shielded::TREE_DEPTH }>,
    ) -> ShieldedAction {
        use lakh_shielded::chain::{SpendTx, prove_spend};
        use lakh_shielded::{
            Action as ProofAction, FullTree, Note, SpendInput, SpendingKey, TREE_DEPTH,
            TransferWitness,
        };
        use rand_chacha_ark::{ChaCha20Rng, rand_core::SeedableRng};
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let owner = SpendingKey::random(&mut rng).address().paying_key;
        let key = SpendingKey::random(&mut rng);
        let note = Note::new(AssetId(1), 50, key.address().paying_key, &mut rng);
        let mut tree = FullTree::<TREE_DEPTH>::new();
        tree.append_batch(&[note.commitment()]).unwrap();
        let witness = TransferWitness {
            inputs: [
                SpendInput {
                    note,
                    nk: key.nullifier_key(),
                    path: tree.path(0).unwrap(),
                },
                SpendInput::dummy(AssetId(1), &mut rng),
            ],
            outputs: [
                Note::new(AssetId(1), 10, owner, &mut rng),
                Note::new(AssetId(1), 0, owner, &mut rng),
            ],
        };
        let tx = SpendTx {
            chain_id: CHAIN,
            sender: Address::from(&PrivateKey::from_seed(1).public_key()),
            anchor: tree.root(),
            fee: 1,
            action: ProofAction::Unshield {
                recipient: Address([9; 32]),
                amount: 39,
            },
            encrypted_notes: [FixedBytes([3; ENCRYPTED_NOTE_BYTES]); 2],
        };
        prove_spend(params, &witness, &tx, &mut rng).unwrap()
    }

    #[test]
    fn proofs_verify_only_under_the_chain_key_they_were_made_for() {
        let max_fee = 1_000_000;
        let shielded = |action: &ShieldedAction| Action::Shielded(Box::new(action.clone()));
        let ceremony_tx = signed(1, 0, CHAIN, max_fee, shielded(ceremony_unshield()));
        let devnet_tx = signed(1, 1, CHAIN, max_fee, shielded(proven_unshield()));
        let refused_at = |key: &ChainVerifyingKey| -> Vec<(usize, &'static str)> {
            verify_proofs(CHAIN, key, [&ceremony_tx, &devnet_tx])
                .iter()
                .map(|(i, refusal)| (*i, refusal.code()))
                .collect()
        };
        assert_eq!(
            refused_at(&ceremony_chain_key()),
            vec![(1, "invalid_proof")]
        );
        assert_eq!(
            refused_at(&ChainVerifyingKey::Devnet),
            vec![(0, "invalid_proof")]
        );

        // Ingest on the verifier threads uses the configured key.
        let mut cfg = VerifierConfig::new(CHAIN, MIN_BASE_FEE);
        cfg.workers = 1;
        cfg.shielded_key = ceremony_chain_key();
        let verdicts = Verifier::new(cfg)
            .unwrap()
            .verify_batch(vec![ceremony_tx.clone(), devnet_tx.clone()]);
        assert!(verdicts[0].is_ok(), "{:?}", verdicts[0]);
        assert!(
            matches!(&verdicts[1], Err(r) if r.code() == "invalid_proof"),
            "{:?}",
            verdicts[1]
        );
    }

    fn tweaked(change: impl FnOnce(&mut ShieldedAction)) -> Action {
        let mut action = proven_unshield().clone();
        change(&mut action);
        Action::Shielded(Box::new(action))
    }

    #[test]
    fn shielded_proofs_are_batch_verified_and_only_the_bad_ones_refused() {
        // One worker, one chunk: the valid and the bad proofs share a batch,
        // which fails, so each member is checked alone.
        let v = verifier(1, 64);
        let valid = Action::Shielded(Box::new(proven_unshield().clone()));
        let other_recipient = tweaked(|a| {
            if let ShieldedAction::Unshield { recipient, .. } = a {
                *recipient = Address([8; 32]);
            }
        });
        let other_fee = tweaked(|a| {
            if let ShieldedAction::Unshield { fee, .. } = a {
                *fee = 2;
            }
        });
        let other_ciphertext = tweaked(|a| {
            if let ShieldedAction::Unshield {
                encrypted_notes, ..
            } = a
            {
                encrypted_notes[1].0[0] ^= 1;
            }
        });
        let max_fee = 1_000_000;
        let txs = vec![
            signed(1, 0, CHAIN, max_fee, valid.clone()),
            signed(1, 1, CHAIN, max_fee, other_recipient),
            transfer(3, 0),
            signed(1, 2, CHAIN, max_fee, other_fee),
            // Taken from key 1's transaction to collect its fee.
            signed(2, 0, CHAIN, max_fee, valid.clone()),
            signed(1, 3, CHAIN, max_fee, other_ciphertext),
            signed(1, 4, CHAIN, max_fee, valid.clone()),
        ];
        let verdicts = v.verify_batch(txs);
        for (i, verdict) in verdicts.iter().enumerate() {
            match i {
                0 | 2 | 6 => assert!(verdict.is_ok(), "tx {i}: {verdict:?}"),
                _ => assert!(
                    matches!(verdict, Err(r @ Refusal::InvalidProof(_)) if r.code() == "invalid_proof"),
                    "tx {i}: {verdict:?}"
                ),
            }
        }

        // The same proof on another chain.
        let mut cfg = VerifierConfig::new(CHAIN + 1, MIN_BASE_FEE);
        cfg.workers = 1;
        let elsewhere = Verifier::new(cfg).unwrap();
        let verdicts = elsewhere.verify_batch(vec![signed(1, 0, CHAIN + 1, max_fee, valid)]);
        assert!(matches!(verdicts[0], Err(Refusal::InvalidProof(_))));
    }

    #[test]
    fn malformed_proofs_and_values_are_refused_before_pairings() {
        let v = verifier(1, 64);
        let off_curve = tweaked(|a| {
            if let ShieldedAction::Unshield { proof, .. } = a {
                proof.0 = [0xff; PROOF_BYTES];
            }
        });
        let too_large = tweaked(|a| {
            if let ShieldedAction::Unshield { amount, .. } = a {
                *amount = 1 << 64;
            }
        });
        let verdicts = v.verify_batch(vec![
            signed(1, 0, CHAIN, 1_000_000, off_curve),
            signed(1, 1, CHAIN, 1_000_000, too_large),
        ]);
        assert!(matches!(&verdicts[0], Err(Refusal::InvalidProof(m)) if m.contains("proof point")));
        assert!(matches!(&verdicts[1], Err(Refusal::InvalidAction(m)) if m.contains("2^64")));
    }
}
