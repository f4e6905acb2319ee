//! The mempool: verified transactions waiting for a block.
//!
//! Each sender has a queue ordered by nonce. Two ordered indexes span the
//! senders: `heads` (each sender's lowest queued tx) drives block selection
//! from the highest fee down without touching senders that do not make the
//! block, and `tails` (each sender's highest queued tx) names the eviction
//! victim when the pool is full: evicting a tail never strands a later nonce.
//! Only a full pool evicts, so `tails` is built when the pool fills and
//! dropped once it is down to half its bounds: a pool with room, as under
//! any load the chain keeps up with, pays for one ordered index, not two.
//!
//! Queued transactions live in one slab, reused slot by slot; a sender's
//! queue is a short nonce-ordered list of slots, held inline for the one or
//! two transactions most senders have queued. Inserting, selecting and
//! pruning then move slot numbers, not transactions, and a new sender costs
//! no allocation of its own.
//!
//! Bounds count canonical encoded bytes; index and map overhead is a constant
//! per queued tx, so it is bounded by `max_txs` too. A tx whose `raw` is a
//! slice of a larger buffer keeps that whole buffer alive: insert txs decoded
//! from their own buffers (as ingest does), not slices of a block.

use lakh_types::map::{FastMap, fast_map};
use lakh_types::modules::shielded::MAX_SHIELDED_ACTIONS_PER_BLOCK;
use lakh_types::{Action, Address, Refusal, SignedTransaction, TxId, fees};
use smallvec::SmallVec;
use std::cmp::{Ordering, Reverse};
use std::collections::{BTreeSet, BinaryHeap};

#[cfg(test)]
mod tests;

/// Bounds of a [`Mempool`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MempoolConfig {
    /// Most transactions queued in total.
    pub max_txs: usize,
    /// Most encoded transaction bytes queued in total.
    pub max_bytes: usize,
    /// Most transactions queued per sender.
    pub max_per_sender: usize,
    /// Highest nonce accepted is the sender's committed next nonce plus this.
    pub max_nonce_ahead: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 200_000,
            max_bytes: 256 * 1024 * 1024,
            max_per_sender: 1024,
            max_nonce_ahead: 1024,
        }
    }
}

/// A transaction's priority: the fee it offers per fee unit.
pub fn fee_per_unit(tx: &SignedTransaction) -> u128 {
    let units = fees::action_units(&tx.tx.action).max(1) as u128;
    tx.tx.max_fee / units
}

/// Whether `tx` offers at least the fee its action costs at `base_fee`.
fn pays(tx: &SignedTransaction, base_fee: u128) -> bool {
    tx.tx.max_fee >= fees::required_fee(&tx.tx.action, base_fee)
}

/// A replacement must raise `max_fee` by at least 1/this of the queued one (10%).
pub const REPLACEMENT_BUMP_DIVISOR: u128 = 10;

/// Smallest possible encoded signed transaction (a `CreateAsset` with a
/// one-letter symbol and no max supply): once the byte budget left is below
/// it, no further tx can fit.
const MIN_TX_BYTES: usize = 149;

/// Ordering of txs: higher fee per unit first, then earlier arrival.
/// Arrival numbers are unique, so no two queued txs compare equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Priority {
    fee_per_unit: u128,
    arrival: Reverse<u64>,
}

struct Entry {
    tx: SignedTransaction,
    priority: Priority,
}

/// A queued transaction's place in the [`Slab`].
type Slot = u32;

/// Queued transactions by slot. A freed slot is reused before the slab
/// grows, so it holds at most the pool's peak count.
#[derive(Default)]
struct Slab {
    entries: Vec<Option<Entry>>,
    free: Vec<Slot>,
}

impl Slab {
    fn put(&mut self, entry: Entry) -> Slot {
        if let Some(slot) = self.free.pop() {
            self.entries[slot as usize] = Some(entry);
            return slot;
        }
        let slot = Slot::try_from(self.entries.len()).expect("pool bounded below u32::MAX txs");
        self.entries.push(Some(entry));
        slot
    }

    fn get(&self, slot: Slot) -> &Entry {
        self.entries[slot as usize]
            .as_ref()
            .expect("a queued slot holds its tx")
    }

    /// Empties `slot`, dropping its entry where it lies (320 bytes;
    /// moving each out only to drop it showed in the prune's profile), and
    /// returns the id of the tx it held.
    fn vacate(&mut self, slot: Slot) -> TxId {
        let id = self.get(slot).tx.id();
        self.entries[slot as usize] = None;
        self.free.push(slot);
        id
    }

    /// Slots holding a transaction.
    fn live(&self) -> usize {
        self.entries.len() - self.free.len()
    }

    /// Gives the memory back once nothing is queued (an idle pool after load).
    fn release_if_empty(&mut self) {
        if self.live() == 0 && !self.entries.is_empty() {
            *self = Slab::default();
        }
    }
}

/// One sender's queued transactions: `(nonce, slot)` by ascending nonce.
#[derive(Default)]
struct Queue(SmallVec<[(u64, Slot); 2]>);

impl Queue {
    /// Where `nonce` is, or where it would go.
    fn find(&self, nonce: u64) -> Result<usize, usize> {
        self.0.binary_search_by_key(&nonce, |(n, _)| *n)
    }

    fn get(&self, nonce: u64) -> Option<Slot> {
        self.find(nonce).ok().map(|i| self.0[i].1)
    }

    fn first(&self) -> Option<(u64, Slot)> {
        self.0.first().copied()
    }

    fn last(&self) -> Option<(u64, Slot)> {
        self.0.last().copied()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    /// Queues `slot` at `nonce`; the slot it replaced, if any.
    fn put(&mut self, nonce: u64, slot: Slot) -> Option<Slot> {
        match self.find(nonce) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, slot)),
            Err(i) => {
                self.0.insert(i, (nonce, slot));
                None
            }
        }
    }

    fn pop_last(&mut self) -> Option<(u64, Slot)> {
        self.0.pop()
    }

    /// Removes the entries with nonces below `nonce`.
    fn take_below(&mut self, nonce: u64) -> Queue {
        let at = self.find(nonce).unwrap_or_else(|i| i);
        Queue(self.0.drain(..at).collect())
    }

    /// Removes the entries from `nonce` on.
    fn take_from(&mut self, nonce: u64) -> Queue {
        let at = self.find(nonce).unwrap_or_else(|i| i);
        Queue(self.0.drain(at..).collect())
    }
}

/// A sender reached by [`Mempool::select`]: its queued tx at `pos` is next.
struct Ready<'a> {
    priority: Priority,
    queue: &'a Queue,
    pos: usize,
}

// Priorities are unique (arrival numbers are), so they alone order the heap.
impl PartialEq for Ready<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.priority == other.priority
    }
}
impl Eq for Ready<'_> {}
impl PartialOrd for Ready<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Ready<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.priority.cmp(&other.priority)
    }
}

/// Senders a finalized block prunes per pass of [`Mempool::warm`]: few
/// enough that what the pass brings into the caches is still there when
/// they are pruned.
const WARM_SENDERS: usize = 32;

/// Pending transactions in per-sender nonce queues, bounded by [`MempoolConfig`].
pub struct Mempool {
    cfg: MempoolConfig,
    senders: FastMap<Address, Queue>,
    slab: Slab,
    by_id: FastMap<TxId, Slot>,
    heads: BTreeSet<(Priority, Address)>,
    /// Kept from when the pool fills until it is down to half its bounds.
    tails: Option<BTreeSet<(Priority, Address)>>,
    bytes: usize,
    next_arrival: u64,
    /// Senders whose queue the latest mutation emptied (and forgot), so an
    /// owner keeping per-sender data can drop theirs. Cleared at the start
    /// of every public mutation, so it never outgrows one call.
    emptied: Vec<Address>,
}

impl Mempool {
    pub fn new(cfg: MempoolConfig) -> Self {
        Mempool {
            cfg,
            senders: fast_map(0),
            slab: Slab::default(),
            by_id: fast_map(0),
            heads: BTreeSet::new(),
            tails: None,
            bytes: 0,
            next_arrival: 0,
            emptied: Vec::new(),
        }
    }

    pub fn config(&self) -> &MempoolConfig {
        &self.cfg
    }

    /// Queues verified transactions; one verdict per input, in order.
    /// `committed_nonce(addr)` = the sender's next nonce in the latest committed state.
    pub fn insert_batch(
        &mut self,
        txs: Vec<SignedTransaction>,
        committed_nonce: impl Fn(&Address) -> u64,
    ) -> Vec<Result<TxId, Refusal>> {
        self.emptied.clear();
        let mut last: Option<(Address, u64)> = None;
        let verdicts = txs
            .into_iter()
            .map(|tx| {
                let sender = tx.tx.sender_address();
                // Batches often carry runs from one sender: ask state once per run.
                let committed = match last {
                    Some((addr, nonce)) if addr == sender => nonce,
                    _ => {
                        let nonce = committed_nonce(&sender);
                        last = Some((sender, nonce));
                        nonce
                    }
                };
                self.insert(tx, sender, committed)
            })
            .collect();
        #[cfg(debug_assertions)]
        self.assert_invariants();
        verdicts
    }

    fn insert(
        &mut self,
        tx: SignedTransaction,
        sender: Address,
        committed: u64,
    ) -> Result<TxId, Refusal> {
        let id = tx.id();
        if self.by_id.contains_key(&id) {
            return Err(Refusal::Duplicate);
        }
        let nonce = tx.tx.nonce;
        if nonce < committed {
            return Err(Refusal::NonceReused {
                expected: committed,
                got: nonce,
            });
        }
        if nonce - committed > self.cfg.max_nonce_ahead {
            return Err(Refusal::NonceGap {
                expected: committed,
                got: nonce,
                max_ahead: self.cfg.max_nonce_ahead,
            });
        }
        let size = tx.encoded_len();
        if size > self.cfg.max_bytes {
            return Err(Refusal::Oversize {
                size,
                max: self.cfg.max_bytes,
            });
        }
        // Entries below the committed nonce are dead weight not yet pruned by
        // `on_finalized`; drop them so they do not count against the sender.
        self.prune_sender(&sender, committed);

        let priority = Priority {
            fee_per_unit: fee_per_unit(&tx),
            arrival: Reverse(self.next_arrival),
        };

        let queue = self.senders.get(&sender);
        // Bytes of the tx being replaced, if this is a replacement.
        let replaced_bytes = match queue.and_then(|q| q.get(nonce)) {
            Some(slot) => {
                let old = self.slab.get(slot);
                let queued = old.tx.tx.max_fee;
                let required =
                    queued.saturating_add(queued.div_ceil(REPLACEMENT_BUMP_DIVISOR).max(1));
                if tx.tx.max_fee < required {
                    return Err(Refusal::ReplacementUnderpriced {
                        nonce,
                        queued,
                        required,
                        got: tx.tx.max_fee,
                    });
                }
                Some(old.tx.encoded_len())
            }
            None => {
                let queued = queue.map_or(0, Queue::len);
                if queued >= self.cfg.max_per_sender {
                    return Err(Refusal::Busy(format!(
                        "sender queue full: {queued} transactions queued, limit is {}",
                        self.cfg.max_per_sender
                    )));
                }
                None
            }
        };

        let count_after = self.by_id.len() + usize::from(replaced_bytes.is_none());
        let bytes_after = (self.bytes - replaced_bytes.unwrap_or(0)).saturating_add(size);
        if count_after > self.cfg.max_txs || bytes_after > self.cfg.max_bytes {
            self.keep_tails();
            let victims = self.plan_eviction(
                &sender,
                priority.fee_per_unit,
                count_after.saturating_sub(self.cfg.max_txs),
                bytes_after.saturating_sub(self.cfg.max_bytes),
            )?;
            for victim in victims {
                self.pop_tail(&victim);
            }
        }

        self.next_arrival += 1;
        let before = self.ends(&sender);
        let slot = self.slab.put(Entry { tx, priority });
        let queue = self.senders.entry(sender).or_default();
        if let Some(old) = queue.put(nonce, slot) {
            self.by_id.remove(&self.slab.vacate(old));
        }
        self.by_id.insert(id, slot);
        // Evictions above already took their bytes off.
        self.bytes = self.bytes - replaced_bytes.unwrap_or(0) + size;
        self.reindex(&sender, before);
        Ok(id)
    }

    /// Picks senders whose tail txs to evict so `count` txs and `bytes` bytes
    /// are freed, lowest fee first, only among txs paying less per unit than
    /// `fee_per_unit` and never from `sender` itself. Takes at most one tx per
    /// sender, so the plan is exact without mutating anything: if it cannot
    /// free enough, nothing is evicted.
    fn plan_eviction(
        &self,
        sender: &Address,
        fee_per_unit: u128,
        mut count: usize,
        mut bytes: usize,
    ) -> Result<Vec<Address>, Refusal> {
        let mut victims = Vec::new();
        for (priority, addr) in self.tails.iter().flatten() {
            if count == 0 && bytes == 0 {
                break;
            }
            if priority.fee_per_unit >= fee_per_unit {
                break;
            }
            if addr == sender {
                continue;
            }
            let Some(size) = self
                .senders
                .get(addr)
                .and_then(Queue::last)
                .map(|(_, slot)| self.slab.get(slot).tx.encoded_len())
            else {
                continue;
            };
            victims.push(*addr);
            count = count.saturating_sub(1);
            bytes = bytes.saturating_sub(size);
        }
        if count == 0 && bytes == 0 {
            Ok(victims)
        } else {
            Err(self.full(fee_per_unit))
        }
    }

    fn full(&self, fee_per_unit: u128) -> Refusal {
        Refusal::Busy(format!(
            "mempool full ({} transactions, {} bytes) and no queued transaction pays less than {fee_per_unit} per unit",
            self.by_id.len(),
            self.bytes
        ))
    }

    /// While the pool is at its count bound, or too close to its byte bound
    /// for the smallest transaction: the fee per unit a newcomer must exceed
    /// to evict anything, and the refusal for one that does not. `None`
    /// while there is room. Ingest asks this once per batch, before paying
    /// for signature verification.
    pub fn when_full(&mut self) -> Option<(u128, Refusal)> {
        let full = self.by_id.len() >= self.cfg.max_txs
            || self.cfg.max_bytes - self.bytes.min(self.cfg.max_bytes) < MIN_TX_BYTES;
        if !full {
            return None;
        }
        self.keep_tails();
        let cheapest = self
            .tails
            .iter()
            .flatten()
            .next()
            .map_or(u128::MAX, |(p, _)| p.fee_per_unit);
        Some((cheapest, self.full(cheapest)))
    }

    /// Builds the tails index from the queues unless it is kept already.
    fn keep_tails(&mut self) {
        let (senders, slab) = (&self.senders, &self.slab);
        self.tails.get_or_insert_with(|| {
            senders
                .iter()
                .filter_map(|(addr, queue)| Some((slab.get(queue.last()?.1).priority, *addr)))
                .collect()
        });
    }

    /// Drops the tails index once the pool is down to half its bounds: it
    /// is built again only when the pool fills, at least half a pool of
    /// inserts later, so building it costs at most two index inserts per
    /// queued tx, as keeping it all along would.
    fn rest_tails(&mut self) {
        if self.by_id.len() <= self.cfg.max_txs / 2 && self.bytes <= self.cfg.max_bytes / 2 {
            self.tails = None;
        }
    }

    fn pop_tail(&mut self, sender: &Address) {
        let before = self.ends(sender);
        if let Some(queue) = self.senders.get_mut(sender)
            && let Some((_, slot)) = queue.pop_last()
        {
            self.forget(slot);
        }
        self.reindex(sender, before);
    }

    /// Drops `sender`'s txs with nonces below `next_nonce`.
    fn prune_sender(&mut self, sender: &Address, next_nonce: u64) {
        let Some(queue) = self.senders.get_mut(sender) else {
            return;
        };
        let (Some((first, head)), Some((last, tail))) = (queue.first(), queue.last()) else {
            return;
        };
        if first >= next_nonce {
            return;
        }
        let before = Some((self.slab.get(head).priority, self.slab.get(tail).priority));
        // Usually every queued tx was included: take the queue whole.
        let dropped = if last < next_nonce {
            std::mem::take(queue)
        } else {
            queue.take_below(next_nonce)
        };
        for (_, slot) in dropped.0 {
            self.forget(slot);
        }
        self.reindex(sender, before);
    }

    /// Looks up what pruning `senders` touches first: each queue, its first
    /// transaction and that transaction's id entry. The maps span far more
    /// than the caches; in this bare loop the misses overlap, where pruning,
    /// which branches and writes between lookups, waits on each in turn.
    fn warm(&self, senders: &[(Address, u64)]) {
        for (sender, _) in senders {
            let Some((_, slot)) = self.senders.get(sender).and_then(Queue::first) else {
                continue;
            };
            std::hint::black_box(self.by_id.get(&self.slab.get(slot).tx.id()));
        }
    }

    /// Frees a slot its sender's queue no longer lists.
    fn forget(&mut self, slot: Slot) {
        self.bytes -= self.slab.get(slot).tx.encoded_len();
        let id = self.slab.vacate(slot);
        self.by_id.remove(&id);
    }

    /// `sender`'s head and tail priorities (its index keys), read before
    /// its queue changes.
    fn ends(&self, sender: &Address) -> Option<(Priority, Priority)> {
        let queue = self.senders.get(sender)?;
        let (_, head) = queue.first()?;
        let (_, tail) = queue.last()?;
        Some((self.slab.get(head).priority, self.slab.get(tail).priority))
    }

    /// After `sender`'s queue changed from `before` (its [`Mempool::ends`]):
    /// moves only the index entries whose tx changed (a tx appended leaves
    /// the head where it was), and forgets an emptied queue.
    fn reindex(&mut self, sender: &Address, before: Option<(Priority, Priority)>) {
        let after = self.ends(sender);
        let (head_before, tail_before) = (before.map(|b| b.0), before.map(|b| b.1));
        let (head_after, tail_after) = (after.map(|a| a.0), after.map(|a| a.1));
        let sets = [
            Some((&mut self.heads, head_before, head_after)),
            self.tails
                .as_mut()
                .map(|tails| (tails, tail_before, tail_after)),
        ];
        for (set, old, new) in sets.into_iter().flatten() {
            if old == new {
                continue;
            }
            if let Some(p) = old {
                set.remove(&(p, *sender));
            }
            if let Some(p) = new {
                set.insert((p, *sender));
            }
        }
        if after.is_none() && self.senders.remove(sender).is_some() {
            self.emptied.push(*sender);
        }
    }

    /// Selects txs for a block: per sender only a contiguous nonce run starting
    /// at `committed_nonce(sender)`; across senders by fee per unit (highest
    /// first), ties by arrival. A tx that cannot pay `base_fee` or does not fit
    /// the remaining bytes ends its sender's run. Stops at `max_txs` txs or
    /// when `max_bytes` (sum of encoded lengths) leaves room for none.
    ///
    /// Costs O(k log n) for k txs visited: senders are visited from the head
    /// index in priority order, so senders below the cut are never touched.
    pub fn select(
        &self,
        max_txs: usize,
        max_bytes: usize,
        base_fee: u128,
        committed_nonce: impl Fn(&Address) -> u64,
    ) -> Vec<SignedTransaction> {
        let mut out = Vec::with_capacity(max_txs.min(self.by_id.len()));
        let mut bytes_left = max_bytes;
        // Next tx of each sender already reached, keyed like the head index.
        let mut ready: BinaryHeap<Ready<'_>> = BinaryHeap::new();
        let mut heads = self.heads.iter().rev().peekable();
        // A block applies at most this many shielded actions; the rest wait
        // for a later block rather than fail.
        let mut shielded_left = MAX_SHIELDED_ACTIONS_PER_BLOCK;
        while out.len() < max_txs && bytes_left >= MIN_TX_BYTES {
            let from_ready = match (ready.peek(), heads.peek()) {
                (Some(ready_top), Some((head_top, _))) => ready_top.priority > *head_top,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            if !from_ready {
                let Some((_, sender)) = heads.next() else {
                    break;
                };
                let next = committed_nonce(sender);
                // The head may be stale (below the committed nonce, not yet
                // pruned): the run starts at the committed nonce, whose own
                // priority decides when it is taken.
                if let Some(queue) = self.senders.get(sender)
                    && let Ok(pos) = queue.find(next)
                {
                    ready.push(self.ready(queue, pos));
                }
                continue;
            }
            let Some(Ready { queue, pos, .. }) = ready.pop() else {
                break;
            };
            let (nonce, slot) = queue.0[pos];
            let tx = &self.slab.get(slot).tx;
            let size = tx.encoded_len();
            let shielded = matches!(tx.tx.action, Action::Shielded(_));
            if !pays(tx, base_fee) || size > bytes_left || (shielded && shielded_left == 0) {
                continue;
            }
            if shielded {
                shielded_left -= 1;
            }
            bytes_left -= size;
            out.push(tx.clone());
            if let Some(&(after, _)) = queue.0.get(pos + 1)
                && Some(after) == nonce.checked_add(1)
            {
                ready.push(self.ready(queue, pos + 1));
            }
        }
        out
    }

    fn ready<'a>(&self, queue: &'a Queue, pos: usize) -> Ready<'a> {
        Ready {
            priority: self.slab.get(queue.0[pos].1).priority,
            queue,
            pos,
        }
    }

    /// Whether [`Mempool::select`] would pick at least one tx: some sender's
    /// tx at `committed_nonce(sender)` pays `base_fee`. Senders are visited
    /// from the newest head: under load the oldest heads are the senders
    /// whose txs sit in blocks not yet finalized, which cannot start a run,
    /// so visiting from the highest priority would pass all of them first.
    pub fn has_ready(&self, base_fee: u128, committed_nonce: impl Fn(&Address) -> u64) -> bool {
        self.heads.iter().any(|(_, sender)| {
            self.senders
                .get(sender)
                .and_then(|q| q.get(committed_nonce(sender)))
                .is_some_and(|slot| pays(&self.slab.get(slot).tx, base_fee))
        })
    }

    /// After a block is finalized: drops every tx whose nonce is below its
    /// sender's new committed next nonce (included, or replaced by one that was).
    pub fn on_finalized(&mut self, updated_senders: impl IntoIterator<Item = (Address, u64)>) {
        self.emptied.clear();
        let updated: Vec<(Address, u64)> = updated_senders.into_iter().collect();
        for chunk in updated.chunks(WARM_SENDERS) {
            self.warm(chunk);
            for (sender, next_nonce) in chunk {
                self.prune_sender(sender, *next_nonce);
            }
        }
        self.rest_tails();
        self.slab.release_if_empty();
        #[cfg(debug_assertions)]
        self.assert_invariants();
    }

    /// Drops each `(sender, nonce)`'s txs from `nonce` on: the builder found
    /// the sender unable to pay for `nonce`, and its later nonces could never
    /// be included before it. Without this, unfunded senders' txs would hold
    /// their room in the pool for good.
    pub fn drop_from(&mut self, senders: &[(Address, u64)]) {
        self.emptied.clear();
        for (sender, nonce) in senders {
            let Some(queue) = self.senders.get(sender) else {
                continue;
            };
            if queue.last().is_none_or(|(last, _)| last < *nonce) {
                continue;
            }
            let before = self.ends(sender);
            if let Some(queue) = self.senders.get_mut(sender) {
                for (_, slot) in queue.take_from(*nonce).0 {
                    self.forget(slot);
                }
            }
            self.reindex(sender, before);
        }
        self.rest_tails();
        self.slab.release_if_empty();
        #[cfg(debug_assertions)]
        self.assert_invariants();
    }

    pub fn contains(&self, id: &TxId) -> bool {
        self.by_id.contains_key(id)
    }

    pub fn get(&self, id: &TxId) -> Option<&SignedTransaction> {
        self.by_id.get(id).map(|&slot| &self.slab.get(slot).tx)
    }

    /// Number of queued txs.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// Sum of the encoded lengths of the queued txs.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Number of senders with queued txs.
    pub fn senders(&self) -> usize {
        self.senders.len()
    }

    /// Senders the latest `insert_batch`, `on_finalized` or `drop_from` left
    /// with nothing queued (a sender may appear twice, or be queued again).
    pub fn last_emptied(&self) -> &[Address] {
        &self.emptied
    }

    /// The sender's highest queued nonce + 1, if it has queued txs.
    pub fn pending_nonce(&self, addr: &Address) -> Option<u64> {
        let (last, _) = self.senders.get(addr)?.last()?;
        Some(last.saturating_add(1))
    }

    /// Checks that every index agrees with the queues and the bounds hold.
    /// Walks the whole pool, so beyond [`FULL_CHECK_MAX_TXS`] queued txs
    /// only the O(1) relations are checked (debug builds fill pools of
    /// 100k txs in tests).
    #[cfg(debug_assertions)]
    pub(crate) fn assert_invariants(&self) {
        let cfg = &self.cfg;
        assert_eq!(self.heads.len(), self.senders.len());
        if let Some(tails) = &self.tails {
            assert_eq!(tails.len(), self.senders.len());
        }
        assert!(self.by_id.len() <= cfg.max_txs);
        assert!(self.bytes <= cfg.max_bytes);
        assert!(self.senders.len() <= self.by_id.len());
        assert_eq!(self.slab.live(), self.by_id.len());
        if self.by_id.len() > FULL_CHECK_MAX_TXS {
            return;
        }
        let mut count = 0;
        let mut bytes = 0;
        for (addr, queue) in &self.senders {
            assert!(queue.len() <= cfg.max_per_sender);
            assert!(queue.0.windows(2).all(|w| w[0].0 < w[1].0));
            for &(nonce, slot) in &queue.0 {
                let e = self.slab.get(slot);
                assert_eq!(e.tx.tx.nonce, nonce);
                assert_eq!(e.tx.tx.sender_address(), *addr);
                assert_eq!(self.by_id.get(&e.tx.id()), Some(&slot));
                bytes += e.tx.encoded_len();
                count += 1;
            }
            let (Some((_, head)), Some((_, tail))) = (queue.first(), queue.last()) else {
                panic!("empty queue kept for {addr:?}");
            };
            assert!(self.heads.contains(&(self.slab.get(head).priority, *addr)));
            if let Some(tails) = &self.tails {
                assert!(tails.contains(&(self.slab.get(tail).priority, *addr)));
            }
        }
        assert_eq!(count, self.by_id.len());
        assert_eq!(bytes, self.bytes);
    }
}

/// Largest pool [`Mempool::assert_invariants`] walks in full.
#[cfg(debug_assertions)]
const FULL_CHECK_MAX_TXS: usize = 4096;
