//! The parallel executor: runs a block's independent transactions on several
//! threads and merges the results into exactly what sequential execution gives.
//!
//! Scheduling uses only the declared access sets. Each transaction's keys are
//! first resolved to overlay slots, on all threads since those hash lookups
//! are most of the scheduling work; lanes (and the sequential fallback) then
//! find keys among those slots instead of hashing again. Two transactions
//! conflict when they share a key that some transaction of the block may
//! write; the connected components of that relation (union-find over slots)
//! are the conflict groups. Within a group, order matters and is kept; across
//! groups, nothing one does is visible to another. The groups are packed into
//! at most one lane per thread (largest first onto the least loaded lane),
//! each lane runs its transactions in block order over the slots it owns, and
//! the receipts are merged back in block order. The fee pot's credit and payouts
//! are not declared accesses: it is applied once, after the merge, as in the
//! sequential executor. A hot key puts its transactions in one group that
//! runs on one lane in order; when one lane would carry nearly everything the
//! block simply runs sequentially.

use crate::modules::kit::Access;
use crate::{
    BlockEnv, BlockOutcome, ExecError, Mode, execute_sequential, execute_tx, finish_block,
    overlay::{FLAG_BIT, LaneSlots, MAX_SPLIT_SLOTS, Overlay, Owner, View},
    tx_access_kinds,
};
use lakh_state::StateKey;
use lakh_types::map::{FastMap, fast_map};
use lakh_types::{SignedTransaction, fees::action_units};
use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    sync::{
        Mutex, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    thread,
};

/// Blocks with fewer transactions run sequentially under
/// [`ExecutorKind::Parallel`](crate::ExecutorKind::Parallel): splitting and
/// merging would cost more than the threads save.
pub const PARALLEL_MIN_TXS: usize = 256;

/// More lanes than this would only add merge work.
const MAX_LANES: usize = 256;

/// The block runs sequentially when the heaviest lane carries more than this
/// share (in tenths) of its work: the threads would save too little.
const MAX_HEAVIEST_LANE_TENTHS: u64 = 9;

/// Union-find over key ids, by size with path halving.
struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `count` keys, each alone.
    fn new(count: usize) -> UnionFind {
        UnionFind {
            parent: (0..count as u32).collect(),
            size: vec![1; count],
        }
    }

    fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let grandparent = self.parent[self.parent[x as usize] as usize];
            self.parent[x as usize] = grandparent;
            x = grandparent;
        }
        x
    }

    fn union(&mut self, a: u32, b: u32) {
        let (a, b) = (self.find(a), self.find(b));
        if a == b {
            return;
        }
        let (big, small) = if self.size[a as usize] >= self.size[b as usize] {
            (a, b)
        } else {
            (b, a)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
    }
}

/// Every transaction's declared keys as ids, flat, in declaration order (the
/// sender's account first); [`READ_BIT`] marks a read-only declaration.
#[derive(Default)]
struct Resolved {
    ids: Vec<u32>,
    /// Per transaction, the end of its ids.
    ends: Vec<u32>,
}

/// Marks a resolved id declared read-only (ids stay below [`MAX_SPLIT_SLOTS`]).
const READ_BIT: u32 = FLAG_BIT;

impl Resolved {
    fn tx(&self, index: usize) -> &[u32] {
        let start = match index {
            0 => 0,
            _ => self.ends[index - 1] as usize,
        };
        &self.ids[start..self.ends[index] as usize]
    }

    fn append(&mut self, other: Resolved) {
        let offset = self.ids.len() as u32;
        self.ids.extend(other.ids);
        self.ends
            .extend(other.ends.into_iter().map(|end| end + offset));
    }
}

/// Resolves the declared keys of `txs` through `resolve`; `None` if one has no id.
fn resolve_txs(
    txs: &[SignedTransaction],
    mut resolve: impl FnMut(&StateKey) -> Option<u32>,
) -> Option<Resolved> {
    let mut out = Resolved {
        ids: Vec::with_capacity(txs.len() * 3),
        ends: Vec::with_capacity(txs.len()),
    };
    let mut missing = false;
    for signed in txs {
        tx_access_kinds(&signed.tx, &mut |key, access| match resolve(&key) {
            Some(id) if id < READ_BIT => out.ids.push(match access {
                Access::Read => id | READ_BIT,
                Access::Write => id,
            }),
            _ => missing = true,
        });
        out.ends.push(out.ids.len() as u32);
    }
    (!missing).then_some(out)
}

/// [`resolve_txs`] against the overlay's index, in one chunk per thread: the
/// lookups are most of the scheduling work.
fn resolve_in_overlay(
    txs: &[SignedTransaction],
    overlay: &Overlay,
    threads: usize,
) -> Option<Resolved> {
    let lookup = |key: &StateKey| overlay.slot(key).ok().map(|id| id.0);
    let chunk = txs.len().div_ceil(threads).max(1);
    let mut chunks = txs.chunks(chunk);
    let first = chunks.next()?;
    let parts: Vec<Option<Resolved>> = thread::scope(|scope| {
        let spawned: Vec<_> = chunks
            .map(|part| {
                let work = move || resolve_txs(part, lookup);
                let builder = thread::Builder::new().name("lakh-exec".into());
                (part, builder.spawn_scoped(scope, work))
            })
            .collect();
        let mut parts = vec![resolve_txs(first, lookup)];
        for (part, handle) in spawned {
            parts.push(match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => resolve_txs(part, lookup),
            });
        }
        parts
    });
    let mut resolved = Resolved::default();
    for part in parts {
        resolved.append(part?);
    }
    Some(resolved)
}

/// The conflict groups of a block: connected components over key ids.
struct Conflicts {
    keys: UnionFind,
    /// Per key id: declared by some transaction, and declared written by one.
    declared: Vec<bool>,
    written: Vec<bool>,
    /// Per transaction: its group's root.
    tx_root: Vec<u32>,
    /// Per root: the weight of its group (zero for a key that is no root).
    weight: Vec<u64>,
    /// The roots, in the order their groups first appear in the block.
    roots: Vec<u32>,
}

/// Groups `txs` (resolved into `resolved`, ids below `key_count`).
fn conflicts(txs: &[SignedTransaction], resolved: &Resolved, key_count: usize) -> Conflicts {
    let mut keys = UnionFind::new(key_count);
    let mut declared = vec![false; key_count];
    let mut written = vec![false; key_count];
    // (sender, key) of read-only declarations, joined below if some
    // transaction writes the key after all.
    let mut reads: Vec<(u32, u32)> = Vec::new();
    for index in 0..txs.len() {
        let ids = resolved.tx(index);
        // The sender's account comes first and is written.
        let Some((&sender, rest)) = ids.split_first() else {
            continue;
        };
        declared[sender as usize] = true;
        written[sender as usize] = true;
        for &id in rest {
            let key = id & !READ_BIT;
            declared[key as usize] = true;
            if id & READ_BIT == 0 {
                written[key as usize] = true;
                keys.union(sender, key);
            } else {
                reads.push((sender, key));
            }
        }
    }
    for (sender, key) in reads {
        if written[key as usize] {
            keys.union(sender, key);
        }
    }

    let mut weight = vec![0u64; key_count];
    let mut roots = Vec::new();
    let mut tx_root = Vec::with_capacity(txs.len());
    for (index, signed) in txs.iter().enumerate() {
        let root = match resolved.tx(index).first() {
            Some(&sender) => keys.find(sender),
            None => 0,
        };
        if weight[root as usize] == 0 {
            roots.push(root);
        }
        // Units approximate execution cost; at least 1 so every group counts.
        weight[root as usize] += action_units(&signed.tx.action).max(1);
        tx_root.push(root);
    }
    Conflicts {
        keys,
        declared,
        written,
        tx_root,
        weight,
        roots,
    }
}

/// How far a block can run in parallel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConflictGroups {
    /// Sets of transactions that share no written key with one another.
    pub groups: usize,
    /// Transactions in the largest group, which bounds the speedup.
    pub largest_txs: usize,
}

/// The conflict groups of `txs` as the parallel executor forms them (from the
/// declared access sets; the fee pot's credit and payouts are not accesses).
pub fn conflict_groups(txs: &[SignedTransaction]) -> ConflictGroups {
    let mut ids: FastMap<StateKey, u32> = fast_map(txs.len() * 2);
    let resolved = resolve_txs(txs, |key| {
        let next = ids.len() as u32;
        Some(*ids.entry(key.clone()).or_insert(next))
    });
    let Some(resolved) = resolved else {
        return ConflictGroups::default();
    };
    let c = conflicts(txs, &resolved, ids.len());
    let mut count = vec![0usize; ids.len()];
    for root in c.tx_root {
        count[root as usize] += 1;
    }
    ConflictGroups {
        groups: c.roots.len(),
        largest_txs: count.into_iter().max().unwrap_or(0),
    }
}

/// How many lanes [`execute_block_parallel`](crate::execute_block_parallel)
/// would split `txs` into over `overlay` with `threads` threads; 1 means it
/// runs sequentially (whatever the small-block threshold).
pub fn parallel_lanes(
    txs: &[SignedTransaction],
    overlay: &Overlay,
    threads: std::num::NonZeroUsize,
) -> usize {
    if threads.get() < 2 || overlay.native_sum().is_none() {
        return 1;
    }
    match plan(txs, overlay, threads.get()) {
        Plan::Lanes(lanes) => lanes.lane_txs.len(),
        Plan::Sequential(_) => 1,
    }
}

/// How to run a block.
enum Plan {
    /// Too little parallelism: in order on one thread, with the keys resolved
    /// if they were.
    Sequential(Option<Resolved>),
    Lanes(Lanes),
}

/// Which lane runs what.
struct Lanes {
    resolved: Resolved,
    /// Per overlay slot.
    owner: Vec<Owner>,
    /// Per transaction.
    tx_lane: Vec<u32>,
    /// Per lane, its transactions in block order.
    lane_txs: Vec<Vec<u32>>,
}

/// Splits the block into lanes, or runs it sequentially when there is too
/// little parallelism or the overlay lacks a key (sequential execution then
/// reports the error exactly where it occurs).
fn plan(txs: &[SignedTransaction], overlay: &Overlay, threads: usize) -> Plan {
    let slots = overlay.len();
    if slots >= MAX_SPLIT_SLOTS {
        return Plan::Sequential(None);
    }
    let threads = threads.min(MAX_LANES);
    let Some(resolved) = resolve_in_overlay(txs, overlay, threads) else {
        return Plan::Sequential(None);
    };
    let mut c = conflicts(txs, &resolved, slots);
    let lanes = threads.min(c.roots.len());
    if lanes < 2 {
        return Plan::Sequential(Some(resolved));
    }

    // Greedy onto the least loaded lane, the big groups first and largest
    // first (they decide the balance), the rest in block order (each is small
    // enough that any lane will do). Ties go by root, so the plan depends on
    // the block alone.
    let total: u64 = c.roots.iter().map(|&root| c.weight[root as usize]).sum();
    let big = |weight: u64| weight.saturating_mul(8 * lanes as u64) > total;
    let mut order: Vec<u32> = c
        .roots
        .iter()
        .copied()
        .filter(|&root| big(c.weight[root as usize]))
        .collect();
    order.sort_unstable_by_key(|&root| (Reverse(c.weight[root as usize]), root));
    order.extend(
        c.roots
            .iter()
            .copied()
            .filter(|&root| !big(c.weight[root as usize])),
    );
    let mut load: BinaryHeap<Reverse<(u64, u32)>> =
        (0..lanes as u32).map(|lane| Reverse((0, lane))).collect();
    let mut lane_of = vec![u32::MAX; slots];
    let mut heaviest = 0;
    for root in order {
        let Some(Reverse((current, lane))) = load.pop() else {
            return Plan::Sequential(Some(resolved));
        };
        let after = current + c.weight[root as usize];
        lane_of[root as usize] = lane;
        heaviest = heaviest.max(after);
        load.push(Reverse((after, lane)));
    }
    if heaviest.saturating_mul(10) > total.saturating_mul(MAX_HEAVIEST_LANE_TENTHS) {
        return Plan::Sequential(Some(resolved));
    }

    let mut owner = vec![Owner::Nobody; slots];
    for (key, owner) in owner.iter_mut().enumerate() {
        if c.written[key] {
            *owner = Owner::Lane(lane_of[c.keys.find(key as u32) as usize]);
        } else if c.declared[key] {
            *owner = Owner::Shared;
        }
    }
    let mut lane_txs: Vec<Vec<u32>> = (0..lanes)
        .map(|_| Vec::with_capacity(txs.len() / lanes + 1))
        .collect();
    let mut tx_lane = Vec::with_capacity(txs.len());
    for (index, &root) in c.tx_root.iter().enumerate() {
        let lane = lane_of[root as usize];
        lane_txs[lane as usize].push(index as u32);
        tx_lane.push(lane);
    }
    Plan::Lanes(Lanes {
        resolved,
        owner,
        tx_lane,
        lane_txs,
    })
}

/// Sequential execution with each transaction's resolved keys as lookup hints.
fn execute_hinted(
    env: &BlockEnv,
    txs: &[SignedTransaction],
    overlay: &mut Overlay,
    mode: Mode,
    resolved: &Resolved,
) -> Result<BlockOutcome, ExecError> {
    let mut outcome = crate::empty_outcome(txs.len());
    let mut view = overlay.hinted();
    for (index, signed) in txs.iter().enumerate() {
        view.set_hint(resolved.tx(index));
        execute_tx(env, index, signed, &mut view, mode, &mut outcome)?;
    }
    finish_block(env, overlay, mode, &mut outcome)?;
    Ok(outcome)
}

/// What one lane produced: receipts and exclusions of its transactions in
/// block order, and the first error it met with the index it met it at.
struct LaneResult {
    outcome: BlockOutcome,
    error: Option<(usize, ExecError)>,
    slots: LaneSlots,
}

/// Shared inputs of every lane.
struct Job<'a> {
    env: &'a BlockEnv,
    txs: &'a [SignedTransaction],
    mode: Mode,
    overlay: &'a Overlay,
    owner: &'a [Owner],
    local: &'a [u32],
    resolved: &'a Resolved,
    /// Lowest index at which some lane failed: later transactions need not run.
    stop: AtomicUsize,
}

fn run_lane<'a>(job: &Job<'a>, lane: u32, indices: &[u32], slots: LaneSlots) -> LaneResult {
    let resolved: &'a Resolved = job.resolved;
    let mut view = job.overlay.lane(job.owner, job.local, lane, slots);
    let mut outcome = crate::empty_outcome(indices.len());
    let mut error = None;
    for &index in indices {
        let index = index as usize;
        if index > job.stop.load(Ordering::Relaxed) {
            break;
        }
        let signed = &job.txs[index];
        view.set_hint(resolved.tx(index));
        if let Err(e) = execute_tx(job.env, index, signed, &mut view, job.mode, &mut outcome) {
            job.stop.fetch_min(index, Ordering::Relaxed);
            error = Some((index, e));
            break;
        }
    }
    LaneResult {
        outcome,
        error,
        slots: view.into_slots(),
    }
}

/// Executes the block on up to `threads` threads (the caller's included).
pub(crate) fn execute(
    env: &BlockEnv,
    txs: &[SignedTransaction],
    overlay: &mut Overlay,
    mode: Mode,
    threads: usize,
) -> Result<BlockOutcome, ExecError> {
    // Sequential execution refuses a fee whose running total overflows. That
    // cannot happen when the native balances in the overlay sum within u128
    // (fees are drawn from them); only then do lane totals match it.
    if overlay.native_sum().is_none() {
        return execute_sequential(env, txs, overlay, mode);
    }
    let plan = match plan(txs, overlay, threads) {
        Plan::Lanes(lanes) => lanes,
        Plan::Sequential(Some(resolved)) => {
            return execute_hinted(env, txs, overlay, mode, &resolved);
        }
        Plan::Sequential(None) => return execute_sequential(env, txs, overlay, mode),
    };
    let Lanes {
        resolved,
        owner,
        tx_lane,
        lane_txs,
    } = plan;
    let (lane_slots, local) = overlay.split(&owner, lane_txs.len());

    let job = Job {
        env,
        txs,
        mode,
        overlay,
        owner: &owner,
        local: &local,
        resolved: &resolved,
        stop: AtomicUsize::new(usize::MAX),
    };
    let results = run_lanes(&job, &lane_txs, lane_slots);
    let (outcomes, slots, first_error) = gather(results);
    overlay.join(slots);
    if let Some((_, e)) = first_error {
        return Err(e);
    }
    let mut outcome = merge(txs.len(), &tx_lane, outcomes)?;
    finish_block(env, overlay, mode, &mut outcome)?;
    Ok(outcome)
}

/// Runs lane 0 and every lane whose thread cannot start on this thread,
/// the others on their own threads; results in lane order.
fn run_lanes(job: &Job<'_>, lane_txs: &[Vec<u32>], lane_slots: Vec<LaneSlots>) -> Vec<LaneResult> {
    // A lane whose thread cannot start runs on this one instead, so its slots
    // wait in a cell that either side can take them from.
    let cells: Vec<Mutex<Option<LaneSlots>>> = lane_slots
        .into_iter()
        .map(|s| Mutex::new(Some(s)))
        .collect();
    let take = |lane: usize| {
        cells[lane]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .unwrap_or_default()
    };
    thread::scope(|scope| {
        let mut spawned = Vec::with_capacity(lane_txs.len());
        let mut inline = vec![0];
        for (lane, indices) in lane_txs.iter().enumerate().skip(1) {
            let run = move || run_lane(job, lane as u32, indices, take(lane));
            match thread::Builder::new()
                .name("lakh-exec".into())
                .spawn_scoped(scope, run)
            {
                Ok(handle) => spawned.push((lane, handle)),
                Err(_) => inline.push(lane),
            }
        }
        let mut results: Vec<(usize, LaneResult)> = inline
            .into_iter()
            .map(|lane| {
                (
                    lane,
                    run_lane(job, lane as u32, &lane_txs[lane], take(lane)),
                )
            })
            .collect();
        for (lane, handle) in spawned {
            match handle.join() {
                Ok(result) => results.push((lane, result)),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results.sort_unstable_by_key(|(lane, _)| *lane);
        results.into_iter().map(|(_, result)| result).collect()
    })
}

/// The lanes' outcomes and slots in lane order, with the error met at the
/// lowest transaction index.
fn gather(
    results: Vec<LaneResult>,
) -> (
    Vec<BlockOutcome>,
    Vec<LaneSlots>,
    Option<(usize, ExecError)>,
) {
    let mut outcomes = Vec::with_capacity(results.len());
    let mut slots = Vec::with_capacity(results.len());
    let mut first_error: Option<(usize, ExecError)> = None;
    for result in results {
        if let Some((index, e)) = result.error
            && first_error.as_ref().is_none_or(|(first, _)| index < *first)
        {
            first_error = Some((index, e));
        }
        outcomes.push(result.outcome);
        slots.push(result.slots);
    }
    (outcomes, slots, first_error)
}

/// Interleaves the lanes' receipts and exclusions back into block order and
/// renumbers the receipts.
fn merge(
    tx_count: usize,
    tx_lane: &[u32],
    lanes: Vec<BlockOutcome>,
) -> Result<BlockOutcome, ExecError> {
    let mut merged = crate::empty_outcome(tx_count);
    let mut cursors = Vec::with_capacity(lanes.len());
    for lane in lanes {
        merged.used_units += lane.used_units;
        // Bounded by the overlay's native sum, checked to fit before splitting.
        merged.fees_paid = merged
            .fees_paid
            .checked_add(lane.fees_paid)
            .ok_or(ExecError::FeeOverflow)?;
        cursors.push((
            lane.receipts.into_iter(),
            lane.excluded.into_iter().peekable(),
        ));
    }
    for (index, &lane) in tx_lane.iter().enumerate() {
        let (receipts, excluded) = &mut cursors[lane as usize];
        if let Some(exclusion) = excluded.next_if(|(excluded, _)| *excluded == index) {
            merged.excluded.push(exclusion);
        } else if let Some(mut receipt) = receipts.next() {
            receipt.index = merged.receipts.len() as u32;
            merged.receipts.push(receipt);
        }
    }
    Ok(merged)
}
