//! `lakh bench ceilings`: what each stage of the data path can do on this
//! machine, measured in this process: batch signature verification per core,
//! decoding, the mempool's cycle, the executor alone (no signatures, no
//! state root; on transfers, and on AMM swaps outside the bound), state key
//! updates with root and durable commit, and the receipts index written
//! durably. The slowest stage bounds end-to-end TPS.

use super::accounts::{Accounts, MAX_FEE_PER_UNIT};
use super::swaps::{POOLS, SwapMix, SwapSetup};
use super::sys::{Machine, cores};
use super::workload::{Planned, SplitMix, Workload, plan, presign, transfer_tx};
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use commonware_cryptography::{Signer, sha256};
use commonware_parallel::Sequential;
use commonware_runtime::{Runner as _, tokio as cw_tokio};
use commonware_storage::qmdb::floor::Proportional;
use lakh_archive::{AccountIndex, AssetRegistry, Indexer, Retention};
use lakh_execution::{BlockEnv, ExecutorKind, Mode, Overlay, access_set, execute_block_with};
use lakh_mempool::{MempoolConfig, TxPool, VerifierConfig};
use lakh_state::{
    AccountState, StateKey, StateValue,
    db::{StateDb, StateIo, state_db_config},
};
use lakh_types::{
    Action, Address, AssetId, PrivateKey, PublicKey, Receipt, SignedTransaction, Transaction,
    TransferEntry, TxStatus, limits, tx::verify_signatures,
};
use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug, Clone)]
pub struct CeilingsArgs {
    /// Seconds each CPU stage (signatures, decoding, execution) runs
    #[arg(long, default_value_t = 2.0)]
    pub stage_secs: f64,
    /// Transactions per signature-verification batch
    #[arg(long, default_value_t = 1024)]
    pub verify_batch: usize,
    /// Transactions per block in the mempool and executor stages
    #[arg(long, default_value_t = 20_000)]
    pub block_txs: usize,
    /// Accounts the mempool and executor stages' transfers draw from
    #[arg(long, default_value_t = 100_000)]
    pub exec_accounts: usize,
    /// Keys in the state stage's database
    #[arg(long, default_value_t = 1_000_000)]
    pub state_keys: usize,
    /// Key updates per state batch (each: merkleize, apply, durable commit)
    #[arg(long, default_value_t = 100_000)]
    pub state_batch: usize,
    /// Timed update batches once the keys exist
    #[arg(long, default_value_t = 5)]
    pub state_batches: usize,
    /// The state database's page cache (MiB), as the node's `--state-cache-mib`
    #[arg(long, default_value_t = lakh_node::config::DEFAULT_STATE_CACHE_MIB)]
    pub state_cache_mib: usize,
    /// An end-to-end TPS (from `lakh bench`) to express as a share of the bound
    #[arg(long)]
    pub e2e_tps: Option<f64>,
    /// Write the results as JSON to this file
    #[arg(long)]
    pub json: Option<PathBuf>,
}

impl CeilingsArgs {
    fn check(&self) -> Result<()> {
        if !(0.05..=60.0).contains(&self.stage_secs) {
            bail!("--stage-secs must be between 0.05 and 60");
        }
        if !(1..=100_000).contains(&self.verify_batch) {
            bail!("--verify-batch must be 1..=100000");
        }
        if !(1..=limits::MAX_BLOCK_TXS).contains(&self.block_txs) {
            bail!("--block-txs must be 1..={}", limits::MAX_BLOCK_TXS);
        }
        if !(2..=2_000_000).contains(&self.exec_accounts) {
            bail!("--exec-accounts must be 2..=2000000");
        }
        if !(1..=10_000_000).contains(&self.state_keys) {
            bail!("--state-keys must be 1..=10000000");
        }
        if !(1..=self.state_keys.min(1_000_000)).contains(&self.state_batch) {
            bail!("--state-batch must be 1..=min(--state-keys, 1000000)");
        }
        if !(1..=100).contains(&self.state_batches) {
            bail!("--state-batches must be 1..=100");
        }
        self.state_cache_bytes()?;
        Ok(())
    }

    fn state_cache_bytes(&self) -> Result<usize> {
        lakh_node::config::state_cache_bytes(self.state_cache_mib)
            .map_err(|e| anyhow!("--state-cache-mib: {e}"))
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Stage {
    /// Operations per second on one core.
    pub per_core: f64,
    /// What the stage can sustain on this machine (per core × cores for
    /// signature verification, which the node spreads over every core; one
    /// core for the others).
    pub tps: f64,
    pub ops: u64,
    pub secs: f64,
}

/// What the executor stage's blocks hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExecMix {
    /// Native transfers between uniform random accounts.
    Transfers,
    /// Swaps of HUB for a token of one of [`POOLS`] AMM pools at random,
    /// each account sending once per block (a sender with two swaps in a
    /// block joins their pools into one conflict group; uniform random
    /// senders repeat often enough to join all pools into one).
    Swaps,
}

#[derive(Clone, Debug, Serialize)]
pub struct Executor {
    pub mix: ExecMix,
    /// Sequential executor, transactions per second (one core).
    pub sequential_tps: f64,
    /// Parallel executor on every core, transactions per second.
    pub parallel_tps: f64,
    pub parallel_threads: usize,
    pub parallel_speedup: f64,
    pub blocks: u64,
    pub block_txs: usize,
    pub accounts: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct PoolStage {
    /// Transactions per second on one core through the pool's whole cycle:
    /// queued, the resting proposer's readiness check, selected for a block,
    /// recorded executed, finalized and pruned, with
    /// [`POOL_BLOCKS_IN_FLIGHT`] blocks executed but not finalized.
    pub per_core: f64,
    pub blocks: u64,
    pub block_txs: usize,
    pub accounts: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct IndexStage {
    /// Transactions per second whose receipts the node's index records:
    /// each block's receipts, transaction and account entries written and
    /// synced, as a validator does (the transaction index before applying
    /// a finalized block, the account index behind the chain).
    pub tps: f64,
    /// The same for the transaction index alone: the block path's share.
    pub record_tps: f64,
    /// The same for the account index alone, built behind the chain.
    pub accounts_tps: f64,
    pub blocks: u64,
    pub block_txs: usize,
    pub accounts: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct StateStage {
    /// Key updates per second including merkleization (the new root) and a
    /// durable commit per batch.
    pub updates_per_sec: f64,
    /// Transactions per second this allows at 2 key updates per transfer
    /// (sender and receiver accounts).
    pub tps: f64,
    pub keys: usize,
    pub batch: usize,
    pub batches: usize,
    /// The state page cache it read through (MiB), as the node's.
    pub cache_mib: usize,
    /// Inserting the keys first, same pipeline (updates per second).
    pub insert_per_sec: f64,
    pub write_secs: f64,
    pub merkleize_secs: f64,
    pub apply_secs: f64,
    pub commit_secs: f64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CeilingsReport {
    pub schema: &'static str,
    pub machine: Machine,
    pub signature_verify: Stage,
    pub verify_batch: usize,
    pub decode: Stage,
    pub mempool: PoolStage,
    pub executor: Executor,
    /// The executor on swaps (not part of the transfer bound).
    pub executor_swaps: Executor,
    pub state: StateStage,
    pub index: IndexStage,
    /// The slowest stage's TPS and its name.
    pub bound_tps: f64,
    pub bound_stage: &'static str,
    /// If every stage shared the cores: cores / (sum of per-core seconds per
    /// transaction) — a tighter bound for a node doing all stages on the
    /// same cores.
    pub shared_cores_tps: f64,
    pub e2e_tps: Option<f64>,
    /// `e2e_tps` as a percentage of `bound_tps`.
    pub e2e_percent_of_bound: Option<f64>,
    /// `e2e_tps` as a percentage of `shared_cores_tps`.
    pub e2e_percent_of_shared: Option<f64>,
}

/// Key updates a native transfer makes (sender and receiver accounts).
const UPDATES_PER_TRANSFER: f64 = 2.0;
/// Most blocks the executor stage runs (half per executor).
const MAX_EXEC_BLOCKS: u64 = 20;
/// Most blocks the mempool stage runs.
const MAX_POOL_BLOCKS: u64 = 40;
/// Most blocks the index stage records.
const MAX_INDEX_BLOCKS: u64 = 20;
/// Blocks executed but not yet finalized in the mempool stage, as on a
/// loaded one-validator node.
const POOL_BLOCKS_IN_FLIGHT: usize = 3;
/// Distinct signed transactions the verification and decode stages cycle over.
const CPU_STAGE_TXS: usize = 8192;

impl Default for CeilingsArgs {
    /// The command line's defaults (`lakh bench ceilings` with no options).
    fn default() -> Self {
        use clap::{Args, FromArgMatches};
        let matches = CeilingsArgs::augment_args(clap::Command::new("ceilings"))
            .get_matches_from(["ceilings"]);
        CeilingsArgs::from_arg_matches(&matches).expect("the defaults parse")
    }
}

pub fn run(args: CeilingsArgs) -> Result<()> {
    measure(args).map(drop)
}

/// Measures every stage, prints the figures and the bounds, writes the JSON
/// report when asked, and returns the report.
pub fn measure(args: CeilingsArgs) -> Result<CeilingsReport> {
    args.check()?;
    let machine = Machine::detect();
    println!("ceilings on {}", machine.line());
    let stage_time = Duration::from_secs_f64(args.stage_secs);

    eprintln!("  preparing {CPU_STAGE_TXS} signed transfers");
    let txs = sample_txs(CPU_STAGE_TXS)?;

    let sig = measure_verify(&txs, args.verify_batch, stage_time)?;
    println!(
        "  signature verification {:>10.0}/s per core, {:.0}/s on {} cores (batches of {})",
        sig.per_core, sig.tps, machine.cores, args.verify_batch
    );
    let decode = measure_decode(&txs, stage_time)?;
    println!(
        "  decode                 {:>10.0}/s per core",
        decode.per_core
    );
    let mempool = measure_pool(&args, stage_time)?;
    println!(
        "  mempool                {:>10.0} tx/s queued, selected and pruned ({} in flight, blocks of {})",
        mempool.per_core, POOL_BLOCKS_IN_FLIGHT, mempool.block_txs
    );
    let executor = measure_executor(&args, stage_time, ExecMix::Transfers)?;
    println!(
        "  executor               {:>10.0} tx/s sequential, {:.0} tx/s parallel on {} threads ({:.2}x)",
        executor.sequential_tps,
        executor.parallel_tps,
        executor.parallel_threads,
        executor.parallel_speedup
    );
    let executor_swaps = measure_executor(&args, stage_time, ExecMix::Swaps)?;
    println!(
        "  executor, swaps        {:>10.0} tx/s sequential, {:.0} tx/s parallel on {} threads ({:.2}x), over {POOLS} pools",
        executor_swaps.sequential_tps,
        executor_swaps.parallel_tps,
        executor_swaps.parallel_threads,
        executor_swaps.parallel_speedup
    );
    let state = measure_state(&args)?;
    println!(
        "  state                  {:>10.0} key updates/s with root + durable commit ({} keys, batches of {}, {} MiB page cache) = {:.0} tx/s",
        state.updates_per_sec, state.keys, state.batch, state.cache_mib, state.tps
    );
    let index = measure_index(&args, stage_time)?;
    println!(
        "  receipts index         {:>10.0} tx/s recorded and synced (blocks of {}): transaction index {:.0} on the block path, account index {:.0} behind it",
        index.tps, index.block_txs, index.record_tps, index.accounts_tps
    );

    let exec_tps = executor.sequential_tps.max(executor.parallel_tps);
    let stages = [
        ("signature_verify", sig.tps),
        ("decode", decode.tps),
        ("mempool", mempool.per_core),
        ("executor", exec_tps),
        ("state", state.tps),
        ("index", index.tps),
    ];
    let (bound_stage, bound_tps) = stages
        .iter()
        .copied()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap_or(("none", 0.0));
    let cpu_secs_per_tx = 1.0 / sig.per_core
        + 1.0 / decode.per_core
        + 1.0 / mempool.per_core
        + 1.0 / executor.sequential_tps
        + UPDATES_PER_TRANSFER / state.updates_per_sec
        + 1.0 / index.tps;
    let shared_cores_tps = machine.cores as f64 / cpu_secs_per_tx;
    let e2e_percent_of_bound = args.e2e_tps.map(|e| 100.0 * e / bound_tps);
    let e2e_percent_of_shared = args.e2e_tps.map(|e| 100.0 * e / shared_cores_tps);

    println!("bound: {bound_tps:.0} tx/s ({bound_stage} is the slowest stage)");
    println!(
        "all stages sharing {} cores: {shared_cores_tps:.0} tx/s",
        machine.cores
    );
    if let (Some(e2e), Some(pct), Some(shared)) =
        (args.e2e_tps, e2e_percent_of_bound, e2e_percent_of_shared)
    {
        println!(
            "end to end {e2e:.0} tx/s = {shared:.1}% of the all-stages bound ({pct:.1}% of the slowest stage)"
        );
    }
    let report = CeilingsReport {
        schema: "lakh-bench-ceilings/5",
        machine,
        signature_verify: sig,
        verify_batch: args.verify_batch,
        decode,
        mempool,
        executor,
        executor_swaps,
        state,
        index,
        bound_tps,
        bound_stage,
        shared_cores_tps,
        e2e_tps: args.e2e_tps,
        e2e_percent_of_bound,
        e2e_percent_of_shared,
    };
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(report)
}

/// `count` signed transfers, each from its own sender. The verifier enters
/// a key that signs several transactions of a batch once, so senders that
/// repeat make verification cheaper than the node's: at 1,000,000 accounts
/// a batch of 2,500 has almost no sender twice.
fn sample_txs(count: usize) -> Result<Vec<SignedTransaction>> {
    let accounts = Accounts::derive(count, 0x5eed)?;
    let planned: Vec<Planned> = (0..count)
        .map(|i| Planned {
            sender: i as u32,
            receiver: ((i + 1) % count) as u32,
            nonce: 0,
            op: super::defi::Op::Transfer,
        })
        .collect();
    let signed = presign(&accounts, planned, |p| transfer_tx(&accounts, 1, p))?;
    let raws = lakh_rpc::bulk::decode_bulk(&signed.records(0, signed.len()), count)?;
    raws.into_iter()
        .map(|raw| SignedTransaction::decode(raw).map_err(|e| anyhow!("{e}")))
        .collect()
}

fn measure_verify(txs: &[SignedTransaction], batch: usize, time: Duration) -> Result<Stage> {
    let started = Instant::now();
    let mut ops = 0u64;
    let mut chunks = txs.chunks(batch.min(txs.len())).cycle();
    while started.elapsed() < time {
        let chunk = chunks.next().context("no transactions")?;
        if !verify_signatures(chunk).is_empty() {
            bail!("a valid signature failed verification");
        }
        ops += chunk.len() as u64;
    }
    Ok(stage(ops, started.elapsed(), cores()))
}

/// Decodes `txs` on one core for `time`, in chunks of 1,024 as the
/// verifier's.
fn measure_decode(txs: &[SignedTransaction], time: Duration) -> Result<Stage> {
    let raws: Vec<Bytes> = txs.iter().map(|t| t.raw().clone()).collect();
    let started = Instant::now();
    let mut ops = 0u64;
    while started.elapsed() < time {
        for chunk in raws.chunks(1024) {
            let decoded: Vec<_> = chunk
                .iter()
                .cloned()
                .map(SignedTransaction::decode)
                .collect();
            if let Some(Err(e)) = decoded.iter().find(|d| d.is_err()) {
                bail!("a valid transaction did not decode: {e}");
            }
            std::hint::black_box(&decoded);
        }
        ops += raws.len() as u64;
    }
    Ok(stage(ops, started.elapsed(), 1))
}

fn stage(ops: u64, elapsed: Duration, cores_used: usize) -> Stage {
    let secs = elapsed.as_secs_f64();
    let per_core = ops as f64 / secs;
    Stage {
        per_core,
        tps: per_core * cores_used as f64,
        ops,
        secs,
    }
}

/// A transaction the executor accepts. Execution never checks signatures,
/// so a zero signature spares signing thousands of transactions per block.
fn unsigned_tx(from: &PublicKey, nonce: u64, action: Action) -> Result<SignedTransaction> {
    use commonware_codec::Encode;
    let body = Transaction {
        chain_id: 1,
        sender: from.into(),
        nonce,
        max_fee: MAX_FEE_PER_UNIT * lakh_types::fees::action_units(&action) as u128,
        action,
    }
    .encode();
    let mut raw = Vec::with_capacity(body.len() + 64);
    raw.extend_from_slice(&body);
    raw.extend_from_slice(&[0u8; 64]);
    SignedTransaction::decode(Bytes::from(raw)).map_err(|e| anyhow!("{e}"))
}

/// Runs blocks of uniform random transfers through the node's pool, timing
/// only the pool's calls (building the transactions is outside the clock).
/// Every block must select exactly the transactions queued for it.
fn measure_pool(args: &CeilingsArgs, time: Duration) -> Result<PoolStage> {
    const BASE_FEE: u128 = 100;
    let mut blocks_of = TransferBlocks::new(args.exec_accounts, 0x9001, 0x9001)?;
    let mut config = VerifierConfig::new(1, 1);
    config.workers = 1;
    let pool = TxPool::new(MempoolConfig::default(), config)?;
    let mut finalized: HashMap<Address, u64> = HashMap::new();
    let mut in_flight: VecDeque<(u64, Vec<Receipt>)> = VecDeque::new();
    let mut parent = block_digest(0);
    let (mut spent, mut blocks) = (Duration::ZERO, 0u64);
    while blocks < POOL_BLOCKS_IN_FLIGHT as u64 + 2 || (spent < time && blocks < MAX_POOL_BLOCKS) {
        let txs = blocks_of.next(args.block_txs)?;
        let known: Vec<(Address, u64)> = txs
            .iter()
            .map(|t| t.tx.sender_address())
            .map(|a| (a, finalized.get(&a).copied().unwrap_or(0)))
            .collect();
        let height = blocks + 1;
        let digest = block_digest(height);
        let started = Instant::now();
        let queued = pool.insert_verified(txs, known);
        let ready = pool.has_ready_for(&parent, BASE_FEE);
        let picked = pool.select_for(
            &parent,
            args.block_txs,
            limits::MAX_BLOCK_TX_BYTES,
            BASE_FEE,
        );
        let receipts = receipts_of(&picked, height);
        pool.on_executed(digest, parent, height, &receipts);
        in_flight.push_back((height, receipts));
        let oldest = (in_flight.len() > POOL_BLOCKS_IN_FLIGHT)
            .then(|| in_flight.pop_front())
            .flatten();
        if let Some((h, receipts)) = &oldest {
            pool.prune(pool.on_finalized(*h, receipts));
        }
        spent += started.elapsed();
        if !ready || !picked_what_was_queued(&queued, &picked, args.block_txs) {
            bail!("the pool did not queue and select exactly the transfers of block {height}");
        }
        for r in oldest.iter().flat_map(|(_, r)| r) {
            finalized.insert(r.sender, r.nonce + 1);
        }
        parent = digest;
        blocks += 1;
    }
    Ok(PoolStage {
        per_core: (blocks as usize * args.block_txs) as f64 / spent.as_secs_f64(),
        blocks,
        block_txs: args.block_txs,
        accounts: blocks_of.accounts.len(),
    })
}

/// Whether all `count` transactions were queued and exactly those were
/// picked (none of the blocks in flight picked again).
fn picked_what_was_queued(
    queued: &[Result<lakh_types::TxId, lakh_types::Refusal>],
    picked: &[SignedTransaction],
    count: usize,
) -> bool {
    let mut want: Vec<lakh_types::TxId> = queued
        .iter()
        .filter_map(|v| v.as_ref().ok().copied())
        .collect();
    let mut got: Vec<lakh_types::TxId> = picked.iter().map(SignedTransaction::id).collect();
    want.sort_unstable();
    got.sort_unstable();
    want.len() == count && want == got
}

fn block_digest(height: u64) -> sha256::Digest {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&height.to_be_bytes());
    sha256::Digest::from(bytes)
}

/// Receipts of a block that included `txs`, all succeeded.
fn receipts_of(txs: &[SignedTransaction], height: u64) -> Vec<Receipt> {
    txs.iter()
        .enumerate()
        .map(|(index, tx)| Receipt {
            tx_id: tx.id(),
            sender: tx.tx.sender_address(),
            nonce: tx.tx.nonce,
            height,
            index: index as u32,
            fee_paid: 0,
            status: TxStatus::Success,
            events: Vec::new(),
        })
        .collect()
}

/// Blocks of uniform random transfers among a set of accounts (or of other
/// actions, sent by the accounts in turn), unsigned (neither the pool nor
/// the executor checks signatures), each sender's nonces running on from
/// block to block.
struct TransferBlocks {
    accounts: Accounts,
    /// Each account's public key, derived once (deriving it per transfer
    /// made building a block cost more than every stage it fed).
    public_keys: Vec<PublicKey>,
    senders: Vec<u32>,
    nonces: Vec<u64>,
    seed: SplitMix,
    /// The next sender of [`Self::next_round`].
    round_robin: usize,
}

impl TransferBlocks {
    fn new(accounts: usize, key_seed: u64, plan_seed: u64) -> Result<Self> {
        let accounts = Accounts::derive(accounts, key_seed)?;
        Ok(TransferBlocks {
            public_keys: accounts.keys.iter().map(PrivateKey::public_key).collect(),
            senders: (0..accounts.len() as u32).collect(),
            nonces: vec![0; accounts.len()],
            accounts,
            seed: SplitMix::new(plan_seed),
            round_robin: 0,
        })
    }

    fn next(&mut self, count: usize) -> Result<Vec<SignedTransaction>> {
        let (accounts, seed) = (&self.accounts, self.seed.next_u64());
        let public_keys = &self.public_keys;
        let planned = plan(
            Workload::Transfers,
            accounts.len(),
            &self.senders,
            &mut self.nonces,
            count,
            seed,
        )?;
        planned
            .iter()
            .map(|p: &Planned| {
                let to = accounts.addrs[p.receiver as usize];
                let transfer = TransferEntry {
                    to,
                    asset: AssetId::NATIVE,
                    amount: 1,
                };
                unsigned_tx(
                    &public_keys[p.sender as usize],
                    p.nonce,
                    Action::Transfer(transfer),
                )
            })
            .collect()
    }

    /// `count` transactions from the next `count` accounts in turn (distinct
    /// while `count` is at most the accounts), each doing what `action_of`
    /// makes of a random draw.
    fn next_round(
        &mut self,
        count: usize,
        action_of: impl Fn(u64) -> Action,
    ) -> Result<Vec<SignedTransaction>> {
        (0..count)
            .map(|_| {
                let sender = self.round_robin;
                self.round_robin = (sender + 1) % self.accounts.len();
                let action = action_of(self.seed.next_u64());
                self.next_from(sender, action)
            })
            .collect()
    }

    /// `actions` from account `sender`, at its next nonces.
    fn sent_by(&mut self, sender: usize, actions: Vec<Action>) -> Result<Vec<SignedTransaction>> {
        (actions.into_iter())
            .map(|action| self.next_from(sender, action))
            .collect()
    }

    /// `action` from account `sender` at its next nonce.
    fn next_from(&mut self, sender: usize, action: Action) -> Result<SignedTransaction> {
        let nonce = self.nonces[sender];
        self.nonces[sender] += 1;
        unsigned_tx(&self.public_keys[sender], nonce, action)
    }
}

/// Blocks executed one after another on an in-memory state: uniform random
/// transfers, or what the caller builds from [`TransferBlocks`].
struct TransferChain {
    blocks_of: TransferBlocks,
    state: HashMap<StateKey, StateValue>,
    height: u64,
}

impl TransferChain {
    fn new(accounts: usize, key_seed: u64, plan_seed: u64) -> Result<Self> {
        let blocks_of = TransferBlocks::new(accounts, key_seed, plan_seed)?;
        let funded = StateValue::Account(AccountState {
            nonce: 0,
            native_balance: 1 << 80,
        });
        let state = (blocks_of.accounts.addrs.iter())
            .map(|a| (StateKey::Account(*a), funded.clone()))
            .collect();
        Ok(TransferChain {
            blocks_of,
            state,
            height: 0,
        })
    }

    /// Executes the next block of `count` transfers with `kind`: its
    /// receipts, and the time the executor alone took (reading the access
    /// set into the overlay and writing the changes back are outside it).
    fn execute_next(
        &mut self,
        kind: &ExecutorKind,
        count: usize,
    ) -> Result<(Vec<Receipt>, Duration)> {
        let txs = self.blocks_of.next(count)?;
        self.execute(kind, &txs)
    }

    /// Executes `txs` as the next block with `kind` (see [`Self::execute_next`]);
    /// every one must be included and succeed.
    fn execute(
        &mut self,
        kind: &ExecutorKind,
        txs: &[SignedTransaction],
    ) -> Result<(Vec<Receipt>, Duration)> {
        self.height += 1;
        let env = BlockEnv {
            chain_id: 1,
            height: self.height,
            participation: lakh_execution::Participation::sole(Address([0xee; 32])),
            offenses: Vec::new(),
            base_fee: 100,
            staking: Default::default(),
            deposits: Vec::new(),
        };
        let keys = access_set(&env, txs);
        let mut overlay = Overlay::new(keys.into_iter().map(|k| {
            let v = self.state.get(&k).cloned();
            (k, v)
        }));
        let started = Instant::now();
        let outcome = execute_block_with(kind, &env, txs, &mut overlay, Mode::Build)
            .map_err(|e| anyhow!("executor failed: {e}"))?;
        let spent = started.elapsed();
        if !outcome.excluded.is_empty()
            || outcome.receipts.len() != txs.len()
            || !outcome.receipts.iter().all(|r| r.status.is_success())
        {
            bail!("the executor did not include and succeed every transaction");
        }
        for (key, value) in overlay.into_changes() {
            match value {
                Some(v) => self.state.insert(key, v),
                None => self.state.remove(&key),
            };
        }
        Ok((outcome.receipts, spent))
    }

    fn accounts(&self) -> usize {
        self.blocks_of.accounts.len()
    }

    /// Runs the swap mix's setup from account 0, sequentially and untimed.
    fn set_up_swaps(&mut self) -> Result<SwapMix> {
        const ADMIN: usize = 0;
        let blocks_of = &self.blocks_of;
        let admin = blocks_of.accounts.addrs[ADMIN];
        let SwapSetup { mix, blocks } =
            SwapMix::setup(&admin, blocks_of.nonces[ADMIN], &blocks_of.accounts.addrs);
        for actions in blocks {
            let txs = self.blocks_of.sent_by(ADMIN, actions)?;
            self.execute(&ExecutorKind::Sequential, &txs)
                .context("setting up the swap mix")?;
        }
        Ok(mix)
    }
}

/// Executes blocks of `mix` on an in-memory state, timing only the executor.
fn measure_executor(args: &CeilingsArgs, time: Duration, mix: ExecMix) -> Result<Executor> {
    let mut chain = TransferChain::new(args.exec_accounts, 0xe8ec, 0xb10c)?;
    let swaps = match mix {
        ExecMix::Transfers => None,
        ExecMix::Swaps => Some(chain.set_up_swaps()?),
    };
    let threads = NonZeroUsize::new(cores()).unwrap_or(NonZeroUsize::MIN);
    let kinds = [ExecutorKind::Sequential, ExecutorKind::Parallel { threads }];
    let mut spent = [Duration::ZERO; 2];
    let mut blocks = 0u64;
    // Alternate the executors block by block so both see the same state
    // sizes. Building a block's transactions costs more than executing
    // them, hence the block cap.
    while blocks < 2 || (spent[0] + spent[1] < time && blocks < MAX_EXEC_BLOCKS) {
        let which = (blocks % 2) as usize;
        let txs = match &swaps {
            None => chain.blocks_of.next(args.block_txs)?,
            Some(swaps) => {
                (chain.blocks_of).next_round(args.block_txs, |draw| swaps.swap(draw as usize))?
            }
        };
        spent[which] += chain.execute(&kinds[which], &txs)?.1;
        blocks += 1;
    }
    let per_kind_txs = |which: usize| ((blocks as usize + 1 - which) / 2 * args.block_txs) as f64;
    let sequential_tps = per_kind_txs(0) / spent[0].as_secs_f64();
    let parallel_tps = per_kind_txs(1) / spent[1].as_secs_f64();
    Ok(Executor {
        mix,
        sequential_tps,
        parallel_tps,
        parallel_threads: threads.get(),
        parallel_speedup: parallel_tps / sequential_tps,
        blocks,
        block_txs: args.block_txs,
        accounts: chain.accounts(),
    })
}

/// Records the receipts of executed transfer blocks in the node's receipts
/// indexes over a temporary directory, timing only `Indexer::record` and
/// `AccountIndex::index` (each block written and synced). Executing the
/// blocks is outside the clock.
fn measure_index(args: &CeilingsArgs, time: Duration) -> Result<IndexStage> {
    let mut chain = TransferChain::new(args.exec_accounts, 0x1dec, 0x1dec)?;
    let block_txs = args.block_txs;
    on_temp_disk(|context| async move {
        use commonware_runtime::Supervisor as _;
        let assets = Arc::new(AssetRegistry::new([]));
        let retention = Retention::keep(lakh_node::config::DEFAULT_RECEIPTS_RETENTION_TXS);
        let page_cache = lakh_consensus::engine::archive_page_cache();
        let mut indexer = Indexer::init(
            context.child("txs"),
            "ceilings",
            page_cache.clone(),
            assets,
            retention,
        )
        .await;
        let mut accounts =
            AccountIndex::init(context.child("accounts"), "ceilings", page_cache, retention).await;
        let (mut recording, mut indexing) = (Duration::ZERO, Duration::ZERO);
        let (mut blocks, mut first_tx_seq) = (0u64, 0u64);
        let mut receipts = Vec::new();
        while blocks < 2 || (recording + indexing < time && blocks < MAX_INDEX_BLOCKS) {
            (receipts, _) = chain.execute_next(&ExecutorKind::Sequential, block_txs)?;
            let height = blocks + 1;
            let started = Instant::now();
            let digest = block_digest(height);
            indexer
                .record(height, digest, first_tx_seq, &receipts, &[])
                .await;
            recording += started.elapsed();
            let started = Instant::now();
            accounts.index(first_tx_seq, &receipts).await;
            indexing += started.elapsed();
            first_tx_seq += receipts.len() as u64;
            blocks += 1;
        }
        check_index_holds(&indexer, &accounts, blocks, &receipts).await?;
        let per_sec = |spent: Duration| first_tx_seq as f64 / spent.as_secs_f64();
        Ok(IndexStage {
            tps: per_sec(recording + indexing),
            record_tps: per_sec(recording),
            accounts_tps: per_sec(indexing),
            blocks,
            block_txs,
            accounts: chain.accounts(),
        })
    })
}

/// The last block reads back whole by height, its newest receipt by id, and
/// that receipt is its sender's newest transaction.
async fn check_index_holds(
    indexer: &Indexer<cw_tokio::Context>,
    accounts: &AccountIndex<cw_tokio::Context>,
    height: u64,
    receipts: &[Receipt],
) -> Result<()> {
    let Some(newest) = receipts.last() else {
        bail!("the last block has no receipts");
    };
    let listed = indexer.receipts(height).await;
    let found = indexer.receipt(&newest.tx_id).await.as_ref() == Some(newest);
    let history = indexer
        .account_page(accounts.page(&newest.sender, None, 1).await)
        .await;
    let in_history = history.is_some_and(|page| {
        page.txs
            .first()
            .is_some_and(|(_, record)| record.receipt == *newest)
    });
    if listed.as_deref() != Some(receipts) || !found || !in_history {
        bail!("the receipts indexes do not hold the last block they recorded");
    }
    Ok(())
}

/// Runs `stage` on commonware's tokio runtime over a temporary directory,
/// removed afterwards.
fn on_temp_disk<T, F, Fut>(stage: F) -> Result<T>
where
    F: FnOnce(cw_tokio::Context) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let dir = tempfile::Builder::new()
        .prefix("lakh-ceilings-")
        .tempdir()
        .context("cannot create a temporary directory")?;
    let config = cw_tokio::Config::new()
        .with_worker_threads(cores().max(2))
        .with_storage_directory(dir.path())
        .with_catch_panics(false);
    cw_tokio::Runner::new(config).start(stage)
}

/// Runs the state stage on a temporary directory.
fn measure_state(args: &CeilingsArgs) -> Result<StateStage> {
    let shape = StateShape {
        keys: args.state_keys,
        batch: args.state_batch,
        batches: args.state_batches,
        cache_bytes: args.state_cache_bytes()?,
    };
    on_temp_disk(|context| state_stage(context, shape))
}

#[derive(Default)]
struct Phases {
    write: Duration,
    merkleize: Duration,
    apply: Duration,
    commit: Duration,
}

impl Phases {
    fn total(&self) -> Duration {
        self.write + self.merkleize + self.apply + self.commit
    }
}

type BenchDb = StateDb<cw_tokio::Context, Sequential>;

/// One batch: write, merkleize (new root), apply, durable commit.
async fn commit_batch(
    db: BenchDb,
    updates: impl Iterator<Item = (sha256::Digest, StateValue)>,
    phases: &mut Phases,
) -> Result<BenchDb> {
    let started = Instant::now();
    let mut batch = db.new_batch();
    for (key, value) in updates {
        batch = batch.write(key, Some(value));
    }
    let written = Instant::now();
    let merkleized = batch
        .merkleize(&db, None, &mut Proportional)
        .await
        .map_err(|e| anyhow!("merkleize failed: {e}"))?;
    let merkleized_at = Instant::now();
    let db = db
        .apply_batch(merkleized)
        .await
        .map_err(|e| anyhow!("apply failed: {e}"))?;
    let applied = Instant::now();
    let db = db
        .commit()
        .await
        .map_err(|e| anyhow!("commit failed: {e}"))?;
    phases.write += written - started;
    phases.merkleize += merkleized_at - written;
    phases.apply += applied - merkleized_at;
    phases.commit += applied.elapsed();
    Ok(db)
}

/// What the state stage writes, and the page cache it reads through.
#[derive(Clone, Copy)]
struct StateShape {
    keys: usize,
    batch: usize,
    batches: usize,
    cache_bytes: usize,
}

async fn state_stage(context: cw_tokio::Context, shape: StateShape) -> Result<StateStage> {
    let StateShape {
        keys,
        batch,
        batches,
        cache_bytes,
    } = shape;
    let page_cache = lakh_consensus::engine::state_page_cache(cache_bytes);
    let config = state_db_config("ceilings", page_cache, Sequential, StateIo::default());
    lakh_node::run::set_opening_new_store(true);
    let opened = BenchDb::init(context, config, None).await;
    lakh_node::run::set_opening_new_store(false);
    let mut db = opened.map_err(|e| anyhow!("cannot open the state database: {e}"))?;
    let digests: Vec<_> = (0..keys as u64)
        .map(|i| {
            let mut addr = [0u8; 32];
            addr[..8].copy_from_slice(&i.to_le_bytes());
            StateKey::Account(Address(addr)).digest()
        })
        .collect();
    let value = |nonce: u64| {
        StateValue::Account(AccountState {
            nonce,
            native_balance: 1_000_000_000,
        })
    };

    let mut insert = Phases::default();
    for chunk in digests.chunks(batch) {
        db = commit_batch(db, chunk.iter().map(|d| (*d, value(0))), &mut insert).await?;
    }
    let insert_per_sec = keys as f64 / insert.total().as_secs_f64();

    // Distinct keys per batch: a stride co-prime with the key count.
    const STRIDE: usize = 1_000_003;
    let stride = if keys.is_multiple_of(STRIDE) {
        1
    } else {
        STRIDE
    };
    let mut rng = SplitMix::new(0x57a7e);
    let mut update = Phases::default();
    for round in 0..batches {
        let start = rng.below(keys);
        let updates = (0..batch).map(|j| {
            let k = (start + j * stride) % keys;
            (digests[k], value(round as u64 + 1))
        });
        db = commit_batch(db, updates, &mut update).await?;
    }
    let total = update.total().as_secs_f64();
    let updates_per_sec = (batch * batches) as f64 / total;
    drop(db);
    Ok(StateStage {
        updates_per_sec,
        tps: updates_per_sec / UPDATES_PER_TRANSFER,
        keys,
        batch,
        batches,
        cache_mib: cache_bytes >> 20,
        insert_per_sec,
        write_secs: update.write.as_secs_f64(),
        merkleize_secs: update.merkleize.as_secs_f64(),
        apply_secs: update.apply.as_secs_f64(),
        commit_secs: update.commit.as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> CeilingsArgs {
        CeilingsArgs {
            stage_secs: 0.05,
            verify_batch: 64,
            block_txs: 300,
            exec_accounts: 50,
            state_keys: 2_000,
            state_batch: 500,
            state_batches: 2,
            state_cache_mib: 16,
            e2e_tps: None,
            json: None,
        }
    }

    #[test]
    fn the_default_is_the_command_lines() {
        let args = CeilingsArgs::default();
        args.check().unwrap();
        assert_eq!(args.verify_batch, 1024);
        assert_eq!(args.state_keys, 1_000_000);
        assert_eq!(
            args.state_cache_mib,
            lakh_node::config::DEFAULT_STATE_CACHE_MIB
        );
        assert!(args.e2e_tps.is_none() && args.json.is_none());
    }

    #[test]
    fn cpu_stages_run_on_valid_transactions() {
        let txs = sample_txs(256).unwrap();
        assert_eq!(txs.len(), 256);
        // A repeated sender would be verified cheaper than a node's batches.
        let senders: std::collections::HashSet<_> =
            txs.iter().map(|t| t.tx.sender_address()).collect();
        assert_eq!(senders.len(), txs.len());
        let sig = measure_verify(&txs, 64, Duration::from_millis(20)).unwrap();
        assert!(sig.ops >= 64 && sig.ops.is_multiple_of(64));
        assert_eq!(sig.tps, sig.per_core * cores() as f64);
        let decode = measure_decode(&txs, Duration::from_millis(20)).unwrap();
        assert!(decode.ops >= 256 && decode.ops.is_multiple_of(256));
    }

    #[test]
    fn executor_stage_includes_every_transaction_of_both_mixes_with_both_executors() {
        let args = small();
        // Fails inside if any transaction is excluded or fails.
        for mix in [ExecMix::Transfers, ExecMix::Swaps] {
            let time = Duration::from_secs_f64(args.stage_secs);
            let e = measure_executor(&args, time, mix).unwrap();
            assert!(e.blocks >= 2);
            assert!(e.sequential_tps > 0.0 && e.parallel_tps > 0.0);
            assert_eq!(e.mix, mix);
        }
    }

    #[test]
    fn mempool_stage_selects_every_queued_transfer() {
        let args = small();
        // Fails inside if a block does not select what was queued for it.
        let p = measure_pool(&args, Duration::from_secs_f64(args.stage_secs)).unwrap();
        assert!(p.blocks > POOL_BLOCKS_IN_FLIGHT as u64);
        assert!(p.per_core > 0.0);
    }

    #[test]
    fn state_stage_commits_batches_to_disk() {
        let s = measure_state(&small()).unwrap();
        assert_eq!((s.keys, s.batch, s.batches), (2_000, 500, 2));
        assert!(s.updates_per_sec > 0.0 && s.insert_per_sec > 0.0);
        assert_eq!(s.tps, s.updates_per_sec / UPDATES_PER_TRANSFER);
        assert!(s.commit_secs > 0.0 && s.merkleize_secs > 0.0);
    }

    #[test]
    fn index_stage_records_every_block_durably() {
        let args = small();
        // Fails inside if the index lacks the last block or its receipts.
        let i = measure_index(&args, Duration::from_secs_f64(args.stage_secs)).unwrap();
        assert!(i.blocks >= 2);
        assert_eq!((i.block_txs, i.accounts), (300, 50));
        assert!(i.tps > 0.0);
    }

    #[test]
    fn limits_are_checked() {
        let mut a = small();
        a.state_batch = a.state_keys + 1;
        assert!(a.check().is_err());
        let mut a = small();
        a.block_txs = limits::MAX_BLOCK_TXS + 1;
        assert!(a.check().is_err());
        assert!(small().check().is_ok());
    }
}
