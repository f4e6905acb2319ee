//! The chain's metrics: what a validator builds, verifies and finalizes, its
//! mempool and its refusals. Plain Prometheus values, shared with
//! [`crate::shared::NodeShared`]; the node registers them in the runtime's
//! registry ([`ChainMetrics::register`]), which also holds commonware's own.

use commonware_runtime::{Metrics, telemetry::metrics::Registered};
use prometheus_client::metrics::{
    counter::Counter, family::Family, gauge::Gauge, histogram::Histogram,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A step of a block's life that is timed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Proposing: selecting, executing and merkleizing a block.
    Build,
    /// Checking a peer's block: signatures, execution, roots.
    Verify,
    /// Reading a block's access set from state.
    Read,
    /// Running a block's transactions.
    Execute,
    /// Computing the state root of a block's changes.
    Merkleize,
    /// Writing a finalized block's receipts and transaction index durably
    /// on the block path (only when not recorded ahead of it).
    Record,
    /// Writing them as soon as the block's finalization is seen, beside
    /// the block path ([`crate::record_ahead`]).
    RecordAhead,
    /// Indexing finalized blocks' receipts by account, behind the chain
    /// (one sample per catch-up, which may take several blocks).
    IndexAccounts,
    /// Applying a finalized block's state durably (from its recorded
    /// receipts to the finalization callback).
    Commit,
    /// Pruning the state's history behind the chain (one sample per prune,
    /// beside the block path).
    PruneState,
}

impl Stage {
    fn label(self) -> &'static str {
        match self {
            Stage::Build => "build",
            Stage::Verify => "verify",
            Stage::Read => "read",
            Stage::Execute => "execute",
            Stage::Merkleize => "merkleize",
            Stage::Record => "record",
            Stage::RecordAhead => "record_ahead",
            Stage::IndexAccounts => "index_accounts",
            Stage::Commit => "commit",
            Stage::PruneState => "prune_state",
        }
    }
}

/// Upper bounds of the stage histograms' buckets (seconds).
const STAGE_BUCKETS_SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn stage_histogram() -> Histogram {
    Histogram::new(STAGE_BUCKETS_SECONDS)
}

type StageLabels = [(&'static str, &'static str); 1];
type CodeLabels = [(&'static str, &'static str); 1];

/// The chain's metrics (names in [`ChainMetrics::register`], listed in
/// docs/METRICS.md).
#[derive(Clone, Debug)]
pub struct ChainMetrics {
    pub tip_height: Gauge,
    pub finalized_height: Gauge,
    pub finality_lag_blocks: Gauge,
    pub blocks: Counter,
    pub transactions: Counter,
    pub failed_transactions: Counter,
    pub mempool_transactions: Gauge,
    pub mempool_bytes: Gauge,
    pub refusals: Family<CodeLabels, Counter>,
    /// Finalized blocks executed again for their receipts, which the bound
    /// of [`crate::pending_receipts`] had forgotten.
    pub receipts_replayed: Counter,
    pub stages: Family<StageLabels, Histogram, fn() -> Histogram>,
    /// The oldest operation the state's log still holds, after the last
    /// prune ([`crate::prune`]).
    pub state_log_start_ops: Gauge,
    /// The last block whose receipts were recorded, and when: its commit
    /// is timed from there.
    recorded: Arc<Mutex<Option<(u64, Instant)>>>,
}

impl Default for ChainMetrics {
    fn default() -> Self {
        ChainMetrics {
            tip_height: Gauge::default(),
            finalized_height: Gauge::default(),
            finality_lag_blocks: Gauge::default(),
            blocks: Counter::default(),
            transactions: Counter::default(),
            failed_transactions: Counter::default(),
            mempool_transactions: Gauge::default(),
            mempool_bytes: Gauge::default(),
            refusals: Family::default(),
            receipts_replayed: Counter::default(),
            stages: Family::new_with_constructor(stage_histogram as fn() -> Histogram),
            state_log_start_ops: Gauge::default(),
            recorded: Arc::default(),
        }
    }
}

/// A metric kept exposed for as long as its handle lives.
pub type Handle = Box<dyn std::any::Any + Send + Sync>;

impl ChainMetrics {
    /// Records how long a stage took.
    pub fn time(&self, stage: Stage, took: Duration) {
        self.stages
            .get_or_create(&[("stage", stage.label())])
            .observe(took.as_secs_f64());
    }

    /// The receipts of block `height` are durable, recording since `started`.
    pub fn recorded(&self, height: u64, started: Instant) {
        let now = Instant::now();
        self.time(Stage::Record, now - started);
        *self.recorded_lock() = Some((height, now));
    }

    /// Block `height`'s state is applied: times its commit.
    pub fn committed(&self, height: u64) {
        if let Some((recorded_height, at)) = self.recorded_lock().take()
            && recorded_height == height
        {
            self.time(Stage::Commit, at.elapsed());
        }
    }

    fn recorded_lock(&self) -> std::sync::MutexGuard<'_, Option<(u64, Instant)>> {
        self.recorded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a refused transaction by its stable code.
    pub fn refused(&self, code: &'static str) {
        self.refusals.get_or_create(&[("code", code)]).inc();
    }

    /// Raises the tip to `height` when it is higher.
    pub fn saw_height(&self, height: u64) {
        let height = gauge_value(height);
        self.tip_height
            .inner()
            .fetch_max(height, std::sync::atomic::Ordering::Relaxed);
        self.update_lag();
    }

    /// A block of `txs` transactions (`failed` of them failed) finalized.
    pub fn finalized(&self, height: u64, txs: u64, failed: u64) {
        self.blocks.inc();
        self.transactions.inc_by(txs);
        self.failed_transactions.inc_by(failed);
        self.finalized_height.set(gauge_value(height));
        self.saw_height(height);
    }

    /// Sets the mempool gauges.
    pub fn mempool(&self, transactions: usize, bytes: usize) {
        self.mempool_transactions
            .set(gauge_value(transactions as u64));
        self.mempool_bytes.set(gauge_value(bytes as u64));
    }

    fn update_lag(&self) {
        let lag = self.tip_height.get() - self.finalized_height.get();
        self.finality_lag_blocks.set(lag.max(0));
    }

    /// Registers every metric under `context` (its label prefixes the
    /// names, its attributes become labels); the metrics stay exposed while
    /// the handles live.
    pub fn register(&self, context: &impl Metrics) -> Vec<Handle> {
        fn keep<M: Send + Sync + 'static>(handle: Registered<M>) -> Handle {
            Box::new(handle)
        }
        vec![
            keep(context.register(
                "height",
                "Highest block height this node built or verified",
                self.tip_height.clone(),
            )),
            keep(context.register(
                "finalized_height",
                "Height of the last block finalized and applied to state",
                self.finalized_height.clone(),
            )),
            keep(context.register(
                "finality_lag_blocks",
                "Blocks between the highest known and the last finalized",
                self.finality_lag_blocks.clone(),
            )),
            keep(context.register(
                "blocks",
                "Blocks finalized since the process started",
                self.blocks.clone(),
            )),
            keep(context.register(
                "transactions",
                "Transactions finalized since the process started",
                self.transactions.clone(),
            )),
            keep(context.register(
                "failed_transactions",
                "Finalized transactions whose action failed (fee and nonce consumed)",
                self.failed_transactions.clone(),
            )),
            keep(context.register(
                "mempool_transactions",
                "Transactions waiting in the mempool",
                self.mempool_transactions.clone(),
            )),
            keep(context.register(
                "mempool_bytes",
                "Bytes of the transactions waiting in the mempool",
                self.mempool_bytes.clone(),
            )),
            keep(context.register(
                "refusals",
                "Transactions refused at ingest, by stable refusal code",
                self.refusals.clone(),
            )),
            keep(context.register(
                "receipts_replayed",
                "Finalized blocks executed again for receipts the pending bound had dropped",
                self.receipts_replayed.clone(),
            )),
            keep(context.register(
                "stage_seconds",
                "Time spent per block in each stage",
                self.stages.clone(),
            )),
            keep(context.register(
                "state_log_start_ops",
                "Location of the oldest operation the state's log holds, after the last prune",
                self.state_log_start_ops.clone(),
            )),
        ]
    }
}

/// A gauge's value; heights and sizes stay far below `i64::MAX`.
pub(crate) fn gauge_value(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lag_follows_the_tip_and_finalization() {
        let m = ChainMetrics::default();
        m.saw_height(5);
        m.saw_height(3);
        assert_eq!((m.tip_height.get(), m.finality_lag_blocks.get()), (5, 5));
        m.finalized(4, 10, 1);
        assert_eq!(
            (m.finalized_height.get(), m.finality_lag_blocks.get()),
            (4, 1)
        );
        m.finalized(6, 2, 0);
        assert_eq!((m.tip_height.get(), m.finality_lag_blocks.get()), (6, 0));
        assert_eq!((m.blocks.get(), m.transactions.get()), (2, 12));
        assert_eq!(m.failed_transactions.get(), 1);
    }

    #[test]
    fn commit_is_timed_from_the_same_blocks_record() {
        let m = ChainMetrics::default();
        let count = |stage: &'static str| {
            let mut text = String::new();
            let mut registry = prometheus_client::registry::Registry::default();
            registry.register("s", "stages", m.stages.clone());
            prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
            text.lines()
                .find(|l| l.starts_with("s_count") && l.contains(stage))
                .map(|l| l.rsplit(' ').next().unwrap().to_string())
        };
        m.recorded(7, Instant::now());
        m.committed(8);
        assert_eq!(count("commit"), None, "another block's record");
        m.recorded(9, Instant::now());
        m.committed(9);
        m.committed(9);
        assert_eq!(count("commit").as_deref(), Some("1"));
        assert_eq!(count("record").as_deref(), Some("2"));
    }
}
