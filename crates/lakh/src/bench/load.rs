//! One timed run: submit pre-signed transactions through the bulk endpoint
//! (closed loop with a bound on transactions in flight, or open loop at a
//! target rate), learn finality from the finalized-block subscription, and
//! keep per-transaction submit and finality times for the report.

use super::sys::{CpuMark, CpuUse};
use super::workload::Presigned;
use anyhow::{Result, bail};
use lakh_rpc::{BlockInfo, ClientError, FinalizedBlocks, LakhClient, TxStatusInfo};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, watch};

/// Per-transaction states.
pub(super) const UNSENT: u8 = 0;
/// In a request whose answer has not arrived.
pub(super) const SENT: u8 = 1;
pub(super) const ACCEPTED: u8 = 2;
pub(super) const FINALIZED: u8 = 3;
/// Its request failed (transport error): outcome unknown.
pub(super) const LOST: u8 = 4;
/// Refused with reason `state - REFUSED_BASE` (an index into the reason table).
pub(super) const REFUSED_BASE: u8 = 16;

/// Most distinct refusal codes tracked (there are a dozen).
const MAX_REASONS: usize = (u8::MAX - REFUSED_BASE) as usize;
/// Most finalized blocks fetched by height to fill a gap in the subscription.
const MAX_BACKFILL_BLOCKS: u64 = 10_000;
/// Receipts fetched at once when checking outcomes.
const RECEIPT_CONCURRENCY: usize = 8;
/// Longest time spent checking receipts after a run (a receipt lookup can
/// cost the node a block read).
const RECEIPT_BUDGET: Duration = Duration::from_secs(10);

/// How a run drives the node.
#[derive(Clone, Debug)]
pub struct LoadConfig {
    pub warmup: Duration,
    pub window: Duration,
    /// Longest wait after the window for accepted transactions to finalize.
    pub drain: Duration,
    /// Open loop at this many transactions per second; `None` = closed loop.
    pub rate: Option<f64>,
    /// Closed loop: most transactions accepted but not yet finalized.
    pub in_flight: usize,
    /// Most transactions per bulk request.
    pub batch_txs: usize,
    /// Most bulk requests outstanding at once.
    pub max_requests: usize,
    /// Receipts checked for success among the transactions confirmed in the window.
    pub receipt_samples: usize,
    /// Process id of the node, for its CPU and memory.
    pub node_pid: Option<u32>,
    pub progress: bool,
}

/// Transactions submitted in the window beside the main load, open loop at
/// their own rate (the shielded transfers of `--shielded`).
pub struct SideLoad {
    pub presigned: Arc<Presigned>,
    /// Transactions per second, spread evenly from the window's start.
    pub rate: f64,
}

/// Which of a run's streams of transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Main,
    Side,
}

/// One stream of pre-signed transactions and each one's fate.
struct Stream {
    presigned: Arc<Presigned>,
    /// Open loop at this rate; `None`: closed loop.
    rate: Option<f64>,
    /// When its submissions start and stop.
    start: Duration,
    end: Duration,
    /// Nanoseconds after `t0` the transaction's request was sent.
    submit_ns: Vec<AtomicU64>,
    state: Vec<AtomicU8>,
}

impl Stream {
    fn new(presigned: Arc<Presigned>, rate: Option<f64>, start: Duration, end: Duration) -> Stream {
        let n = presigned.len();
        Stream {
            presigned,
            rate,
            start,
            end,
            submit_ns: (0..n).map(|_| AtomicU64::new(0)).collect(),
            state: (0..n).map(|_| AtomicU8::new(UNSENT)).collect(),
        }
    }

    fn mark_unanswered_lost(&self) {
        for slot in &self.state {
            let _ = slot.compare_exchange(SENT, LOST, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn states(&self) -> Vec<u8> {
        self.state
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect()
    }

    fn submit_times(&self) -> Vec<u64> {
        self.submit_ns
            .iter()
            .map(|s| s.load(Ordering::Relaxed))
            .collect()
    }
}

/// State shared by the submitters, the finality tracker and the progress line.
struct Shared {
    t0: Instant,
    main: Stream,
    side: Option<Stream>,
    reasons: Mutex<Vec<String>>,
    submitted: AtomicU64,
    /// Transactions in requests not yet answered.
    outstanding: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    finalized: AtomicU64,
    height: AtomicU64,
    exhausted: AtomicBool,
    first_error: Mutex<Option<String>>,
    /// Signalled on every finalized block (room may have opened).
    progressed: Notify,
}

impl Shared {
    fn now_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }

    fn reason_state(&self, code: &str) -> u8 {
        let mut reasons = self.reasons.lock().unwrap_or_else(|p| p.into_inner());
        let i = match reasons.iter().position(|r| r == code) {
            Some(i) => i,
            None if reasons.len() < MAX_REASONS => {
                reasons.push(code.to_string());
                reasons.len() - 1
            }
            None => MAX_REASONS - 1,
        };
        REFUSED_BASE + i as u8
    }

    fn note_error(&self, e: String) {
        let mut first = self.first_error.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(e);
        }
    }

    fn stream(&self, which: Which) -> Option<&Stream> {
        match which {
            Which::Main => Some(&self.main),
            Which::Side => self.side.as_ref(),
        }
    }

    fn in_flight(&self) -> u64 {
        self.accepted
            .load(Ordering::Relaxed)
            .saturating_sub(self.finalized.load(Ordering::Relaxed))
    }
}

/// What the finality tracker saw.
#[derive(Default)]
struct TrackLog {
    /// (transaction index, ns after t0 its finalized block was learned).
    finals: Vec<(u32, u64)>,
    /// The same for the side stream.
    side_finals: Vec<(u32, u64)>,
    /// (ns after t0, height, transactions in the block).
    blocks: Vec<(u64, u64, u64)>,
    resubscriptions: u32,
    backfilled_blocks: u64,
}

/// Raw measurements of one run.
pub struct RunData {
    pub window_start_ns: u64,
    pub window_end_ns: u64,
    pub submit_ns: Vec<u64>,
    /// Final state of every transaction (see the constants above).
    pub states: Vec<u8>,
    pub reasons: Vec<String>,
    pub finals: Vec<(u32, u64)>,
    pub blocks: Vec<(u64, u64, u64)>,
    pub node_cpu: Option<CpuUse>,
    pub bench_cpu: Option<CpuUse>,
    pub exhausted: bool,
    pub receipts_checked: u64,
    pub receipts_failed: u64,
    pub receipts_missing: u64,
    /// Failure reasons among the checked receipts (`reason` or `reason/code`).
    pub receipts_failed_by_reason: BTreeMap<String, u64>,
    pub first_error: Option<String>,
    pub resubscriptions: u32,
    pub backfilled_blocks: u64,
    pub side: Option<SideData>,
}

/// What became of the side stream's transactions.
pub struct SideData {
    pub submit_ns: Vec<u64>,
    pub states: Vec<u8>,
    pub finals: Vec<(u32, u64)>,
    /// The receipts of every finalized one.
    pub receipts: Receipts,
}

/// A transaction's fate, from [`RunData::states`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Unsent,
    /// Accepted, never seen finalized.
    Dropped,
    Finalized,
    Lost,
    Refused(usize),
}

pub fn fate(state: u8) -> Fate {
    match state {
        UNSENT => Fate::Unsent,
        SENT | ACCEPTED => Fate::Dropped,
        FINALIZED => Fate::Finalized,
        LOST => Fate::Lost,
        s => Fate::Refused((s - REFUSED_BASE) as usize),
    }
}

/// Runs the load against the node: warm-up, window, drain; `side`, if any,
/// is submitted during the window beside it.
pub async fn run(
    client: &LakhClient,
    presigned: Arc<Presigned>,
    side: Option<SideLoad>,
    cfg: &LoadConfig,
) -> Result<RunData> {
    let head = client.head().await?;
    // Subscribe before the first submission so no block is missed.
    let blocks = client.subscribe_finalized().await?;
    let window_start = cfg.warmup;
    let window_end = cfg.warmup + cfg.window;
    let shared = Arc::new(Shared {
        t0: Instant::now(),
        main: Stream::new(presigned.clone(), cfg.rate, Duration::ZERO, window_end),
        side: side.map(|s| Stream::new(s.presigned, Some(s.rate), window_start, window_end)),
        reasons: Mutex::new(Vec::new()),
        submitted: AtomicU64::new(0),
        outstanding: AtomicU64::new(0),
        accepted: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        finalized: AtomicU64::new(0),
        height: AtomicU64::new(head.height),
        exhausted: AtomicBool::new(false),
        first_error: Mutex::new(None),
        progressed: Notify::new(),
    });
    let (stop_tx, stop_rx) = watch::channel(false);

    let tracker = tokio::spawn(track(
        client.clone(),
        shared.clone(),
        blocks,
        head.height,
        stop_rx.clone(),
    ));
    let progress = cfg.progress.then(|| {
        tokio::spawn(progress_line(
            shared.clone(),
            window_start,
            window_end,
            stop_rx.clone(),
        ))
    });
    let submitter = tokio::spawn(submit_loop(
        client.clone(),
        shared.clone(),
        cfg.clone(),
        Which::Main,
    ));
    let side_submitter = tokio::spawn(submit_loop(
        client.clone(),
        shared.clone(),
        cfg.clone(),
        Which::Side,
    ));

    let node_pid = cfg.node_pid.map(|p| p.to_string());
    tokio::time::sleep_until((shared.t0 + window_start).into()).await;
    let node_mark = node_pid.as_deref().and_then(CpuMark::start);
    let bench_mark = CpuMark::start("self");
    tokio::time::sleep_until((shared.t0 + window_end).into()).await;
    let node_cpu = node_mark.and_then(|m| m.finish());
    let bench_cpu = bench_mark.and_then(|m| m.finish());

    // A request still unanswered at the window's end gets the drain time to
    // answer; after that its transactions count as lost, not accepted.
    let drain_until = Instant::now() + cfg.drain;
    let submitter_abort = submitter.abort_handle();
    let side_abort = side_submitter.abort_handle();
    let both = async { (submitter.await, side_submitter.await) };
    match tokio::time::timeout_at(drain_until.into(), both).await {
        Ok((main, side)) => {
            main??;
            side??;
        }
        Err(_) => {
            submitter_abort.abort();
            side_abort.abort();
            shared.note_error(format!(
                "a bulk request was still unanswered {:?} after the window",
                cfg.drain
            ));
        }
    }
    shared.main.mark_unanswered_lost();
    if let Some(side) = &shared.side {
        side.mark_unanswered_lost();
    }
    while shared.in_flight() > 0 && Instant::now() < drain_until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop_tx.send(true);
    let log = tracker.await??;
    if let Some(p) = progress {
        let _ = p.await;
    }

    let window_start_ns = window_start.as_nanos() as u64;
    let window_end_ns = window_end.as_nanos() as u64;
    let in_window: Vec<u32> = log
        .finals
        .iter()
        .filter(|(_, t)| (window_start_ns..window_end_ns).contains(t))
        .map(|(i, _)| *i)
        .collect();
    let receipts = check_receipts(client, &presigned, &in_window, cfg.receipt_samples).await;
    let side = match &shared.side {
        Some(stream) => {
            let finalized: Vec<u32> = log.side_finals.iter().map(|(i, _)| *i).collect();
            Some(SideData {
                submit_ns: stream.submit_times(),
                states: stream.states(),
                receipts: check_receipts(client, &stream.presigned, &finalized, finalized.len())
                    .await,
                finals: log.side_finals,
            })
        }
        None => None,
    };
    let reasons = shared
        .reasons
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let first_error = shared
        .first_error
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    Ok(RunData {
        window_start_ns,
        window_end_ns,
        submit_ns: shared.main.submit_times(),
        states: shared.main.states(),
        reasons,
        finals: log.finals,
        blocks: log.blocks,
        node_cpu,
        bench_cpu,
        exhausted: shared.exhausted.load(Ordering::Relaxed),
        receipts_checked: receipts.checked,
        receipts_failed: receipts.failed,
        receipts_missing: receipts.missing,
        receipts_failed_by_reason: receipts.failed_by_reason,
        first_error,
        resubscriptions: log.resubscriptions,
        backfilled_blocks: log.backfilled_blocks,
        side,
    })
}

/// Sends records `start..end` of `stream` as one bulk request and records
/// the answer.
async fn submit_range(
    client: &LakhClient,
    shared: &Shared,
    stream: &Stream,
    start: usize,
    end: usize,
) {
    let now = shared.now_ns();
    for i in start..end {
        stream.submit_ns[i].store(now, Ordering::Relaxed);
        stream.state[i].store(SENT, Ordering::Relaxed);
    }
    shared
        .submitted
        .fetch_add((end - start) as u64, Ordering::Relaxed);
    let answer = client
        .submit_bulk_body(stream.presigned.records(start, end))
        .await;
    shared
        .outstanding
        .fetch_sub((end - start) as u64, Ordering::Relaxed);
    match answer {
        Ok(answer) => {
            for refusal in &answer.refused {
                let Some(slot) = stream.state.get(start + refusal.index) else {
                    continue;
                };
                slot.store(shared.reason_state(&refusal.code), Ordering::Relaxed);
            }
            for slot in &stream.state[start..end] {
                // A finality notification may have beaten the answer.
                let _ = slot.compare_exchange(SENT, ACCEPTED, Ordering::Relaxed, Ordering::Relaxed);
            }
            shared
                .refused
                .fetch_add(answer.refused.len() as u64, Ordering::Relaxed);
            shared
                .accepted
                .fetch_add(answer.accepted as u64, Ordering::Relaxed);
        }
        Err(e) => {
            shared.note_error(format!("bulk request failed: {e}"));
            for slot in &stream.state[start..end] {
                let _ = slot.compare_exchange(SENT, LOST, Ordering::Relaxed, Ordering::Relaxed);
            }
        }
    }
}

/// Submits stream `which` until its end or until its pre-signed
/// transactions run out, in up to `max_requests` concurrent bulk requests
/// (the mempool queues a sender's later nonces that arrive first). Closed
/// loop: as much as keeps at most `in_flight` transactions accepted or
/// awaiting an answer and not yet finalized. Open loop: what the schedule
/// `rate × time since the stream's start` says is due (rounded up, so the
/// first goes at the start and the last one interval before the end).
async fn submit_loop(
    client: LakhClient,
    shared: Arc<Shared>,
    cfg: LoadConfig,
    which: Which,
) -> Result<()> {
    let Some(stream) = shared.stream(which) else {
        return Ok(());
    };
    let n = stream.presigned.len();
    let start_at = shared.t0 + stream.start;
    let end_at = shared.t0 + stream.end;
    tokio::time::sleep_until(start_at.into()).await;
    let cap = cfg.in_flight.max(1) as u64;
    // Closed loop: wait for room for a reasonable batch rather than trickle.
    let least = (cfg.batch_txs as u64).min(cap.div_ceil(4)).max(1);
    let mut requests = tokio::task::JoinSet::new();
    let mut cursor = 0;
    while Instant::now() < end_at {
        while requests.try_join_next().is_some() {}
        if cursor == n {
            // The side stream is sized to its window: running out is its end.
            if which == Which::Main {
                shared.exhausted.store(true, Ordering::Relaxed);
            }
            break;
        }
        let take = match stream.rate {
            None => {
                let busy = shared.in_flight() + shared.outstanding.load(Ordering::Relaxed);
                let room = cap.saturating_sub(busy);
                if room < least { 0 } else { room as usize }
            }
            Some(rate) => {
                let due = (start_at.elapsed().as_secs_f64() * rate).ceil() as usize;
                due.min(n).saturating_sub(cursor)
            }
        }
        .min(cfg.batch_txs)
        .min(n - cursor);
        if take > 0 && requests.len() < cfg.max_requests {
            let (client, shared) = (client.clone(), shared.clone());
            let start = cursor;
            shared.outstanding.fetch_add(take as u64, Ordering::Relaxed);
            requests.spawn(async move {
                if let Some(stream) = shared.stream(which) {
                    submit_range(&client, &shared, stream, start, start + take).await;
                }
            });
            cursor += take;
            continue;
        }
        tokio::select! {
            _ = requests.join_next(), if !requests.is_empty() => {}
            _ = shared.progressed.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(2)) => {}
        }
    }
    while requests.join_next().await.is_some() {}
    Ok(())
}

/// Follows finalized blocks, marking the bench's transactions finalized.
async fn track(
    client: LakhClient,
    shared: Arc<Shared>,
    mut blocks: FinalizedBlocks,
    start_height: u64,
    mut stop: watch::Receiver<bool>,
) -> Result<TrackLog> {
    let mut log = TrackLog::default();
    let mut last_height = start_height;
    loop {
        let next = tokio::select! {
            _ = stop.changed() => return Ok(log),
            next = blocks.next() => next,
        };
        match next {
            Ok(block) => {
                let now = shared.now_ns();
                let height = block.header.height;
                if height > last_height + 1 {
                    // The subscription skipped blocks (a resubscription): fetch them.
                    if height - last_height > MAX_BACKFILL_BLOCKS {
                        bail!(
                            "finalized-block subscription skipped {} blocks",
                            height - last_height - 1
                        );
                    }
                    for h in last_height + 1..height {
                        if let Some(missed) = client.block_by_height(h).await? {
                            note_block(&shared, &mut log, &missed, now);
                            log.backfilled_blocks += 1;
                        }
                    }
                }
                if height > last_height {
                    note_block(&shared, &mut log, &block, now);
                    last_height = height;
                }
            }
            Err(ClientError::SubscriptionEnded(reason)) if log.resubscriptions < 3 => {
                shared.note_error(format!("finalized-block subscription ended: {reason}"));
                log.resubscriptions += 1;
                blocks = client.subscribe_finalized().await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

fn note_block(shared: &Shared, log: &mut TrackLog, block: &BlockInfo, now: u64) {
    let mut ours = 0u64;
    for id in &block.tx_ids {
        let (stream, finals, i) = match shared.main.presigned.index.get(id) {
            Some(&i) => (&shared.main, &mut log.finals, i),
            None => match shared
                .side
                .as_ref()
                .and_then(|s| Some((s, *s.presigned.index.get(id)?)))
            {
                Some((side, i)) => (side, &mut log.side_finals, i),
                None => continue,
            },
        };
        let prev = stream.state[i as usize].swap(FINALIZED, Ordering::Relaxed);
        if prev != FINALIZED {
            ours += 1;
            finals.push((i, now));
        }
    }
    shared.finalized.fetch_add(ours, Ordering::Relaxed);
    shared.height.store(block.header.height, Ordering::Relaxed);
    log.blocks
        .push((now, block.header.height, block.header.tx_count));
    shared.progressed.notify_one();
}

/// One line per second on stderr.
async fn progress_line(
    shared: Arc<Shared>,
    window_start: Duration,
    window_end: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.tick().await;
    let (mut submitted, mut finalized) = (0u64, 0u64);
    loop {
        tokio::select! {
            _ = stop.changed() => return,
            _ = tick.tick() => {}
        }
        let elapsed = shared.t0.elapsed();
        let phase = if elapsed < window_start {
            "warmup"
        } else if elapsed < window_end {
            "window"
        } else {
            "drain "
        };
        let now_submitted = shared.submitted.load(Ordering::Relaxed);
        let now_finalized = shared.finalized.load(Ordering::Relaxed);
        eprintln!(
            "bench {:>4}s {phase}  offered {:>7}/s  finalized {:>7}/s  in flight {:>7}  refused {:>6}  height {}",
            elapsed.as_secs(),
            now_submitted - submitted,
            now_finalized - finalized,
            shared.in_flight(),
            shared.refused.load(Ordering::Relaxed),
            shared.height.load(Ordering::Relaxed),
        );
        submitted = now_submitted;
        finalized = now_finalized;
    }
}

/// What checking receipts found.
#[derive(Default)]
pub struct Receipts {
    pub checked: u64,
    pub failed: u64,
    pub missing: u64,
    pub failed_by_reason: BTreeMap<String, u64>,
}

/// A failure's reason as `reason`, or `reason/code` for a module's failure.
pub fn failure_key(error: &lakh_types::FailureReason) -> String {
    let value = serde_json::to_value(error).unwrap_or_default();
    let reason = value["reason"].as_str().unwrap_or("other");
    match value["code"].as_str() {
        Some(code) => format!("{reason}/{code}"),
        None => reason.to_string(),
    }
}

/// Fetches the receipts of up to `samples` of `confirmed` (all of them when
/// there are no more), spread evenly, for at most [`RECEIPT_BUDGET`].
async fn check_receipts(
    client: &LakhClient,
    presigned: &Presigned,
    confirmed: &[u32],
    samples: usize,
) -> Receipts {
    if confirmed.is_empty() || samples == 0 {
        return Receipts::default();
    }
    let step = confirmed.len().div_ceil(samples);
    let ids: Vec<_> = confirmed
        .iter()
        .step_by(step)
        .map(|&i| presigned.id(i as usize))
        .collect();
    let mut out = Receipts::default();
    let deadline = tokio::time::Instant::now() + RECEIPT_BUDGET;
    'groups: for group in ids.chunks(RECEIPT_CONCURRENCY) {
        let mut set = tokio::task::JoinSet::new();
        for id in group {
            let (client, id) = (client.clone(), *id);
            set.spawn(async move { client.tx_status(id).await });
        }
        loop {
            // A stalled node must not hold the bench past the budget; the
            // set aborts its calls when dropped.
            let answer = match tokio::time::timeout_at(deadline, set.join_next()).await {
                Ok(Some(answer)) => answer,
                Ok(None) => break,
                Err(_) => break 'groups,
            };
            out.checked += 1;
            match answer {
                Ok(Ok(TxStatusInfo::Finalized { receipt, .. })) => {
                    if let lakh_types::TxStatus::Failed { error } = &receipt.status {
                        out.failed += 1;
                        *out.failed_by_reason.entry(failure_key(error)).or_insert(0) += 1;
                    }
                }
                _ => out.missing += 1,
            }
        }
    }
    out
}

/// Refusal counts by code among `indices` of `states` (a stream's final
/// states; `reasons`, the run's table of refusal codes).
pub fn refusals(
    states: &[u8],
    reasons: &[String],
    indices: impl Iterator<Item = usize>,
) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for i in indices {
        if let Fate::Refused(r) = fate(states[i]) {
            let code = reasons.get(r).cloned().unwrap_or_else(|| "other".into());
            *out.entry(code).or_insert(0) += 1;
        }
    }
    out
}
