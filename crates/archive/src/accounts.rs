//! Each account's transactions, built behind the chain.
//!
//! A finalized block's receipts are made durable by [`Indexer::record`] on the
//! block's path (before its state is applied). Listing them under every
//! account they concern costs more than storing them (an entry per account,
//! each under a hashed key), and nothing on the chain waits for it, so it runs
//! beside the block path: [`AccountFeed::push`] queues the block, and a task
//! ([`AccountFeed::run`]) or the next reader indexes it. A reader first
//! indexes what is queued ([`AccountFeed::catch_up`]), so an account page
//! holds every transaction the transaction index answers for. After a crash
//! the queue is gone; [`AccountIndex::recover`] indexes again, from the
//! transaction index, what the account index lacks.
//!
//! Entries: under each transaction's sequence number, one entry per account
//! it concerns, keyed by [`entry_key`] of the account, the transaction's
//! generation and the entry's place among the account's entries in that
//! generation (from 0). An entry holds the transaction's sequence number and
//! the account's ordinal of its first entry in the generation, so an
//! account's count is found again after a restart from its newest
//! generation's entries alone, whatever was pruned below, with no record
//! written beside the entries. Writes are idempotent (an account entry only
//! after the account's newest), so indexing a transaction twice adds nothing.

use crate::index::{AccountPage, Indexer, Retention, WARM_KEYS, archive_config, read, warm_keys};
use commonware_cryptography::{Hasher, Sha256, sha256};
use commonware_runtime::{Supervisor, buffer::paged::CacheRef};
use commonware_storage::Context as StorageContext;
use commonware_storage::archive::{Archive as _, Identifier, MultiArchive as _, prunable};
use commonware_storage::translator::EightCap;
use futures::StreamExt as _;
use futures::channel::mpsc;
use futures::lock::Mutex as AsyncMutex;
use lakh_types::{Address, Receipt};
use std::collections::hash_map::Entry as TipSlot;
use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// An entry: the transaction's sequence number, and the account's ordinal
/// of its first entry in the transaction's generation (the entry's own
/// ordinal is that plus the entry's place in the generation).
type Entry = (u64, u64);

type AccountArchive<E> = prunable::Archive<EightCap, E, sha256::Digest, Entry>;

/// Name of the index's partitions (after the validator's prefix).
const ACCOUNT_INDEX: &str = "account-index-v3";

/// The index's earlier layout (a marker record beside the entries); its
/// partitions are removed at start and the index is built again from the
/// transaction index ([`AccountIndex::recover`]).
const RETIRED_ACCOUNT_INDEX: &str = "account-index-v2";

/// Most account tips kept in memory; the cache starts over when full.
const MAX_CACHED_TIPS: usize = 1 << 20;

/// Receipts read back from the transaction index per step of a recovery.
const RECOVERY_CHUNK_TXS: u64 = 16_384;

/// An account's entry count, the sequence number of its newest entry, and
/// the ordinal of its first entry in that entry's generation.
#[derive(Clone, Copy, Debug)]
struct AccountTip {
    count: u64,
    last_seq: u64,
    base: u64,
}

/// Account tips by account.
type Tips = HashMap<Address, AccountTip, ahash::RandomState>;

/// The key of `account`'s `place`-th entry (from 0) in `generation`. The
/// hashed input stays within one SHA-256 block.
fn entry_key(account: &Address, generation: u64, place: u64) -> sha256::Digest {
    let place = u32::try_from(place).expect("a generation holds at most u32::MAX transactions");
    Sha256::hash(&[
        b"lakh/acct".as_slice(),
        account.as_bytes(),
        &generation.to_be_bytes(),
        &place.to_be_bytes(),
    ])
}

/// One entry; a stored entry that cannot be read back is damage.
async fn get_entry<E: StorageContext + Supervisor>(
    archive: &AccountArchive<E>,
    prefix: &str,
    key: &sha256::Digest,
) -> Option<Entry> {
    read(
        archive.get(Identifier::Key(key)).await,
        prefix,
        ACCOUNT_INDEX,
    )
}

/// How many entries `account` has in `generation`, whose first is present,
/// found with O(log n) reads (places are written in order, from 0).
async fn count_places<E: StorageContext + Supervisor>(
    archive: &AccountArchive<E>,
    prefix: &str,
    account: &Address,
    generation: u64,
) -> u64 {
    let has = |place: u64| async move {
        let key = entry_key(account, generation, place);
        let found = archive.has(Identifier::Key(&key)).await;
        read(found.map(|has| has.then_some(())), prefix, ACCOUNT_INDEX).is_some()
    };
    let (mut present, mut absent) = (0u64, 1u64);
    while has(absent).await {
        present = absent;
        absent = absent.saturating_mul(2);
    }
    while absent - present > 1 {
        let mid = present + (absent - present) / 2;
        if has(mid).await {
            present = mid;
        } else {
            absent = mid;
        }
    }
    present + 1
}

/// The newest of `generations` holding an entry of `account`, with the
/// account's ordinal of its first entry there.
async fn newest_generation<E: StorageContext + Supervisor>(
    archive: &AccountArchive<E>,
    prefix: &str,
    account: &Address,
    generations: Range<u64>,
) -> Option<(u64, u64)> {
    for generation in generations.rev() {
        let first = get_entry(archive, prefix, &entry_key(account, generation, 0)).await;
        if let Some((_, base)) = first {
            return Some((generation, base));
        }
    }
    None
}

/// `account`'s tip as stored, looked up from the newest of `generations`
/// down; `None` when no kept generation has an entry of it (its count then
/// starts again from 0: every older entry is pruned).
async fn read_tip<E: StorageContext + Supervisor>(
    archive: &AccountArchive<E>,
    prefix: &str,
    account: &Address,
    generations: Range<u64>,
) -> Option<AccountTip> {
    let (generation, base) = newest_generation(archive, prefix, account, generations).await?;
    let places = count_places(archive, prefix, account, generation).await;
    let newest = entry_key(account, generation, places - 1);
    let (last_seq, _) = get_entry(archive, prefix, &newest)
        .await
        .expect("an entry counted is present");
    Some(AccountTip {
        count: base + places,
        last_seq,
        base,
    })
}

/// Every `(sequence number, account)` entry of a block's receipts, in order.
fn block_entries(first_tx_seq: u64, receipts: &[Receipt]) -> Vec<(u64, Address)> {
    let mut entries = Vec::with_capacity(2 * receipts.len());
    let mut accounts = Vec::new();
    for (seq, receipt) in (first_tx_seq..).zip(receipts) {
        receipt.accounts_into(&mut accounts);
        entries.extend(accounts.iter().map(|&account| (seq, account)));
    }
    entries
}

/// Probes the tips of `entries` once, in a loop with nothing else in it.
/// The tips span a table far larger than the caches (a million accounts);
/// probed here the misses overlap, where the loop that uses them, which
/// hashes and branches between probes, would stall on each in turn.
fn warm_tips(tips: &Tips, entries: &[(u64, Address)]) {
    for (_, account) in entries {
        std::hint::black_box(tips.get(account));
    }
}

/// One entry to write: the transaction's sequence number, its key, the entry.
type Write = (u64, sha256::Digest, Entry);

/// The account index: one owner, the [`AccountFeed`]'s lock.
pub struct AccountIndex<E: StorageContext + Supervisor> {
    archive: Option<AccountArchive<E>>,
    /// Tips of accounts seen since start (others are read on demand).
    tips: Tips,
    retention: Retention,
    /// The sequence number of the next transaction to index.
    next_seq: u64,
    /// Sequence numbers below this are pruned.
    floor_seq: u64,
    prefix: String,
}

impl<E: StorageContext + Supervisor> AccountIndex<E> {
    pub async fn init(
        context: E,
        prefix: &str,
        page_cache: CacheRef,
        retention: Retention,
    ) -> Self {
        remove_retired(&context, prefix).await;
        let archive = prunable::Archive::init(
            context,
            archive_config(
                prefix,
                ACCOUNT_INDEX,
                page_cache,
                ((), ()),
                EightCap,
                retention.section_txs(),
            ),
        )
        .await
        .expect("failed to open the account index");
        let floor_seq = archive.ranges().next().map_or(0, |(first, _)| first);
        // The newest indexed transaction may have been cut short by a crash:
        // it is indexed again (idempotently) by `recover`.
        let next_seq = archive.last_index().unwrap_or(floor_seq);
        AccountIndex {
            archive: Some(archive),
            tips: HashMap::default(),
            retention,
            next_seq,
            floor_seq,
            prefix: prefix.to_string(),
        }
    }

    /// Indexes what the transaction index holds and this index lacks: what a
    /// crash took from the queue. A block's entries are synced before the
    /// next block's are written, so all below the newest entry are whole
    /// but the newest block's; it is indexed again from its start, at most
    /// a block's transactions below the newest entry. It stops where the
    /// transaction index does (its last block may be cut short by the same
    /// crash, and is recorded and queued again when the chain replays it).
    pub async fn recover(&mut self, txs: &Indexer<E>) {
        let end = txs.next_seq();
        let mut seq = self
            .next_seq
            .saturating_sub(lakh_types::limits::MAX_BLOCK_TXS as u64)
            .max(txs.first_kept_seq())
            .max(self.floor_seq);
        while seq < end {
            let chunk_end = end.min(seq + RECOVERY_CHUNK_TXS);
            let receipts = txs.receipts_by_seq(seq..chunk_end).await;
            self.index(seq, &receipts).await;
            if seq + (receipts.len() as u64) < chunk_end {
                return;
            }
            seq = chunk_end;
        }
    }

    /// Durably indexes the accounts of the receipts of transactions
    /// `first_tx_seq..`, then prunes below the retention's floor.
    pub async fn index(&mut self, first_tx_seq: u64, receipts: &[Receipt]) {
        self.write_entries(first_tx_seq, receipts).await;
        let archive = self.archive.take().expect("account index present");
        let (archive, synced) = archive
            .start_sync()
            .await
            .expect("account index sync failed");
        synced.await.expect("account index sync failed");
        self.archive = Some(archive);
        self.next_seq = self.next_seq.max(first_tx_seq + receipts.len() as u64);
        self.prune().await;
    }

    async fn prune(&mut self) {
        let floor = self.retention.floor(self.next_seq);
        if floor <= self.floor_seq {
            return;
        }
        let archive = self.archive.take().expect("account index present");
        self.archive = Some(
            archive
                .prune(floor)
                .await
                .expect("account index prune failed"),
        );
        self.floor_seq = floor;
    }

    /// The generations an account's entries may be in once `next_seq`
    /// transactions are indexed, oldest first.
    fn kept_generations(&self, next_seq: u64) -> Range<u64> {
        self.retention.generation(self.floor_seq)..self.retention.generation(next_seq) + 1
    }

    /// Writes an entry for every account of every receipt (unsynced). An
    /// account whose newest entry is this transaction or later already has
    /// it (indexed again after a crash), so it is skipped.
    async fn write_entries(&mut self, first_tx_seq: u64, receipts: &[Receipt]) {
        let mut archive = self.archive.take().expect("account index present");
        if self.tips.len() >= MAX_CACHED_TIPS {
            self.tips.clear();
        }
        let entries = block_entries(first_tx_seq, receipts);
        let next_seq = first_tx_seq + receipts.len() as u64;
        let writes = self.plan_writes(&archive, &entries, next_seq).await;
        for chunk in writes.chunks(WARM_KEYS) {
            warm_keys(&archive, chunk, |(_, key, _)| key).await;
            for (seq, key, entry) in chunk {
                archive = archive
                    .put_multi(*seq, *key, entry)
                    .await
                    .expect("account index write failed");
            }
        }
        self.archive = Some(archive);
    }

    /// Every entry `entries` adds, in order, with the tips moved past them.
    async fn plan_writes(
        &mut self,
        archive: &AccountArchive<E>,
        entries: &[(u64, Address)],
        next_seq: u64,
    ) -> Vec<Write> {
        let generations = self.kept_generations(next_seq);
        let mut writes = Vec::with_capacity(entries.len());
        for chunk in entries.chunks(WARM_KEYS) {
            warm_tips(&self.tips, chunk);
            for &(seq, account) in chunk {
                // One probe of the (warmed) tips per entry: the slot found
                // is the one written below.
                let slot = self.tips.entry(account);
                let tip = match &slot {
                    TipSlot::Occupied(found) => Some(*found.get()),
                    TipSlot::Vacant(_) => {
                        read_tip(archive, &self.prefix, &account, generations.clone()).await
                    }
                };
                if tip.is_some_and(|t| t.last_seq >= seq) {
                    continue;
                }
                let generation = self.retention.generation(seq);
                let count = tip.map_or(0, |t| t.count);
                let base = match tip {
                    Some(t) if self.retention.generation(t.last_seq) == generation => t.base,
                    _ => count,
                };
                writes.push((
                    seq,
                    entry_key(&account, generation, count - base),
                    (seq, base),
                ));
                let tip = AccountTip {
                    count: count + 1,
                    last_seq: seq,
                    base,
                };
                match slot {
                    TipSlot::Occupied(mut found) => *found.get_mut() = tip,
                    TipSlot::Vacant(empty) => {
                        empty.insert(tip);
                    }
                }
            }
        }
        writes
    }

    /// Up to `limit` of `account`'s transactions with ordinals below
    /// `before` (from the newest when `None`), newest first.
    pub async fn page(
        &self,
        account: &Address,
        before: Option<u64>,
        limit: usize,
    ) -> AccountPage<u64> {
        let archive = self.archive.as_ref().expect("account index present");
        let prefix = self.prefix.as_str();
        let tip = match self.tips.get(account) {
            Some(tip) => Some(*tip),
            None => {
                read_tip(
                    archive,
                    prefix,
                    account,
                    self.kept_generations(self.next_seq),
                )
                .await
            }
        };
        let total = tip.map_or(0, |t| t.count);
        let end = before.map_or(total, |b| b.min(total));
        let start = end.saturating_sub(limit as u64);
        let mut txs = Vec::with_capacity((end - start) as usize);
        // The generation holding the ordinals from `base` up, walked down.
        let mut generation = tip.map_or(0, |t| self.retention.generation(t.last_seq));
        let mut base = tip.map_or(0, |t| t.base);
        let floor_generation = self.retention.generation(self.floor_seq);
        let mut older_pruned = false;
        for ordinal in (start..end).rev() {
            while ordinal < base {
                let older = floor_generation..generation;
                match newest_generation(archive, prefix, account, older).await {
                    Some(found) => (generation, base) = found,
                    None => break,
                }
            }
            let found = match ordinal.checked_sub(base) {
                Some(place) => {
                    get_entry(archive, prefix, &entry_key(account, generation, place)).await
                }
                None => None,
            };
            // Entries are pruned oldest first: the first one missing going
            // down ends what is kept.
            let Some((seq, _)) = found else {
                older_pruned = true;
                break;
            };
            txs.push((ordinal, seq));
        }
        AccountPage {
            txs,
            total,
            next_before: (start > 0 && !older_pruned).then_some(start),
            older_pruned,
        }
    }

    /// The sequence number of the next transaction to index.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }
}

/// Removes the partitions of the index's earlier layout, if any.
async fn remove_retired<E: StorageContext>(context: &E, prefix: &str) {
    for part in ["metadata", "key", "value"] {
        let partition = format!("{prefix}-{RETIRED_ACCOUNT_INDEX}-{part}");
        match context.remove(&partition, None).await {
            Ok(()) | Err(commonware_runtime::Error::PartitionMissing(_)) => {}
            Err(e) => panic!("failed to remove the retired {partition}: {e:?}"),
        }
    }
}

/// A finalized block's receipts waiting to be indexed by account.
struct Queued {
    first_tx_seq: u64,
    receipts: Arc<Vec<Receipt>>,
}

/// Blocks queued for the account index beyond which the block path indexes
/// them itself (a bound on memory, and backpressure on a slow disk).
pub const MAX_QUEUED_BLOCKS: usize = 16;

/// The account index with its queue of finalized blocks not yet indexed.
pub struct AccountFeed<E: StorageContext + Supervisor> {
    index: AsyncMutex<AccountIndex<E>>,
    queue: Mutex<VecDeque<Queued>>,
    wake: mpsc::UnboundedSender<()>,
}

impl<E: StorageContext + Supervisor> AccountFeed<E> {
    /// The feed, and the receiver [`AccountFeed::run`] waits on.
    pub fn new(index: AccountIndex<E>) -> (Arc<Self>, mpsc::UnboundedReceiver<()>) {
        let (wake, woken) = mpsc::unbounded();
        let feed = AccountFeed {
            index: AsyncMutex::new(index),
            queue: Mutex::new(VecDeque::new()),
            wake,
        };
        (Arc::new(feed), woken)
    }

    fn queue(&self) -> std::sync::MutexGuard<'_, VecDeque<Queued>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a recorded block, in height order (an empty block has nothing
    /// to index and is not queued). Returns `false` when the
    /// queue is past [`MAX_QUEUED_BLOCKS`]: the caller should then
    /// [`catch_up`](Self::catch_up) itself.
    pub fn push(&self, first_tx_seq: u64, receipts: Arc<Vec<Receipt>>) -> bool {
        if receipts.is_empty() {
            return true;
        }
        let queued = {
            let mut queue = self.queue();
            queue.push_back(Queued {
                first_tx_seq,
                receipts,
            });
            queue.len()
        };
        // The task is gone only while the node stops; readers still catch up.
        let _ = self.wake.unbounded_send(());
        queued <= MAX_QUEUED_BLOCKS
    }

    /// Indexes every queued block, and returns the index, caught up with
    /// every block recorded before this call.
    pub async fn catch_up(&self) -> futures::lock::MutexGuard<'_, AccountIndex<E>> {
        let mut index = self.index.lock().await;
        // Only the lock's holder takes from the queue, so blocks are
        // indexed in the order they were pushed.
        loop {
            let next = self.queue().pop_front();
            let Some(next) = next else { return index };
            index.index(next.first_tx_seq, &next.receipts).await;
        }
    }

    /// Indexes queued blocks as they come, until the feed is dropped (the
    /// task holds it weakly, so the validator stopping ends it); tells
    /// `caught_up` how long each catch-up took.
    pub async fn run(
        feed: Weak<Self>,
        mut woken: mpsc::UnboundedReceiver<()>,
        mut caught_up: impl FnMut(Duration),
    ) {
        while woken.next().await.is_some() {
            let Some(feed) = feed.upgrade() else { return };
            if feed.queue().is_empty() {
                continue;
            }
            let started = Instant::now();
            drop(feed.catch_up().await);
            caught_up(started.elapsed());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AssetRegistry;
    use commonware_runtime::{
        Blob as _, Clock as _, Runner as _, Spawner as _, Storage as _, deterministic,
    };
    use commonware_utils::{NZU16, NZUsize};
    use lakh_types::{AssetId, Event};

    type Ctx = deterministic::Context;

    fn cache() -> CacheRef {
        CacheRef::new(NZU16!(4096), NZUsize!(64))
    }

    /// Block `height`: sender `height % 3` pays carol (9), and carol pays
    /// dave (10).
    fn block(height: u64) -> Vec<Receipt> {
        pairs_block(height, &[((height % 3) as u8, 9), (9, 10)])
    }

    async fn indexer(context: &Ctx) -> Indexer<Ctx> {
        let assets = Arc::new(AssetRegistry::new([]));
        Indexer::init(context.child("i"), "t", cache(), assets, Retention::ALL).await
    }

    async fn accounts(context: &Ctx) -> AccountIndex<Ctx> {
        AccountIndex::init(context.child("a"), "t", cache(), Retention::ALL).await
    }

    /// Heights of `account`'s whole history, newest first.
    async fn history(idx: &Indexer<Ctx>, acc: &AccountIndex<Ctx>, account: u8) -> Vec<u64> {
        let seqs = acc.page(&Address([account; 32]), None, 100).await;
        let page = idx.account_page(seqs).await.expect("readable");
        page.txs.iter().map(|(_, r)| r.receipt.height).collect()
    }

    async fn record(idx: &mut Indexer<Ctx>, height: u64) -> Vec<Receipt> {
        let receipts = block(height);
        let digest = sha256::Digest::from([height as u8; 32]);
        idx.record(height, digest, 2 * (height - 1), &receipts, &[])
            .await;
        receipts
    }

    #[test]
    fn blocks_a_crash_took_from_the_queue_are_indexed_again_from_the_transaction_index() {
        deterministic::Runner::default().start(|context| async move {
            {
                let (mut idx, mut acc) = (indexer(&context).await, accounts(&context).await);
                for height in 1..=5 {
                    let receipts = record(&mut idx, height).await;
                    // Blocks 4 and 5 were recorded but still queued.
                    if height <= 3 {
                        acc.index(2 * (height - 1), &receipts).await;
                    }
                }
                assert_eq!(history(&idx, &acc, 9).await, vec![3, 3, 2, 2, 1, 1]);
            }
            let idx = indexer(&context).await;
            let mut acc = accounts(&context).await;
            acc.recover(&idx).await;
            assert_eq!(acc.next_seq(), 10);
            let all: Vec<u64> = (1..=5).rev().flat_map(|h| [h, h]).collect();
            assert_eq!(history(&idx, &acc, 9).await, all, "each once, in order");
            assert_eq!(history(&idx, &acc, 10).await, vec![5, 4, 3, 2, 1]);
            assert_eq!(history(&idx, &acc, 1).await, vec![4, 1]);
            // Recovering again, or indexing a block again, adds nothing.
            acc.recover(&idx).await;
            acc.index(8, &block(5)).await;
            assert_eq!(history(&idx, &acc, 10).await, vec![5, 4, 3, 2, 1]);
        });
    }

    #[test]
    fn recovery_stops_where_a_crash_cut_the_transaction_index_short() {
        deterministic::Runner::default().start(|context| async move {
            let mut idx = indexer(&context).await;
            for height in 1..=3 {
                record(&mut idx, height).await;
            }
            // Block 4's record counts two transactions the index lost.
            idx.cut_short(2);
            let mut acc = accounts(&context).await;
            acc.recover(&idx).await;
            assert_eq!(acc.next_seq(), 6, "indexed up to what is there");
            assert_eq!(history(&idx, &acc, 10).await, vec![3, 2, 1]);
        });
    }

    #[test]
    fn a_reader_finds_every_block_pushed_before_it_and_the_task_drains_the_queue() {
        deterministic::Runner::default().start(|context| async move {
            let mut idx = indexer(&context).await;
            let (feed, woken) = AccountFeed::new(accounts(&context).await);
            for height in 1..=MAX_QUEUED_BLOCKS as u64 + 1 {
                let receipts = record(&mut idx, height).await;
                let room = feed.push(2 * (height - 1), Arc::new(receipts));
                assert_eq!(room, height <= MAX_QUEUED_BLOCKS as u64, "height {height}");
            }
            {
                // No task runs yet: the reader indexes the queue itself.
                let acc = feed.catch_up().await;
                assert_eq!(acc.next_seq(), 2 * (MAX_QUEUED_BLOCKS as u64 + 1));
                assert_eq!(history(&idx, &acc, 10).await.len(), MAX_QUEUED_BLOCKS + 1);
            }
            let weak = Arc::downgrade(&feed);
            let task = context
                .child("accounts")
                .spawn(move |_| AccountFeed::run(weak, woken, |_| {}));
            let height = MAX_QUEUED_BLOCKS as u64 + 2;
            let receipts = record(&mut idx, height).await;
            assert!(feed.push(2 * (height - 1), Arc::new(receipts)));
            context.sleep(Duration::from_millis(10)).await;
            assert!(feed.queue().is_empty(), "the task indexed the block");
            drop(feed);
            task.await.expect("the task ends once the feed is dropped");
        });
    }

    /// Block receipts from `(sender, recipient)` pairs of small account
    /// numbers.
    fn pairs_block(height: u64, pairs: &[(u8, u8)]) -> Vec<Receipt> {
        pairs
            .iter()
            .enumerate()
            .map(|(index, &(from, to))| {
                let (from, to) = (Address([from; 32]), Address([to; 32]));
                let transfer = Event::Transfer {
                    asset: AssetId::NATIVE,
                    from,
                    to,
                    amount: 1,
                };
                let mut receipt =
                    crate::index::tests::receipt(height, index as u32, vec![transfer]);
                receipt.sender = from;
                receipt
            })
            .collect()
    }

    /// Every transaction's sequence number under each account it concerns,
    /// for receipts of transactions `*seq..`, moving `*seq` past them.
    fn add_to_model(model: &mut HashMap<Address, Vec<u64>>, seq: &mut u64, receipts: &[Receipt]) {
        let mut accounts = Vec::new();
        for receipt in receipts {
            receipt.accounts_into(&mut accounts);
            for account in &accounts {
                model.entry(*account).or_default().push(*seq);
            }
            *seq += 1;
        }
    }

    /// Every kept `(ordinal, seq)` of `account`, newest first, read in pages
    /// of `limit` following each page's `next_before`; with the first page.
    async fn pages(
        acc: &AccountIndex<Ctx>,
        account: &Address,
        limit: usize,
    ) -> (AccountPage<u64>, Vec<(u64, u64)>) {
        let first = acc.page(account, None, limit).await;
        let mut all = first.txs.clone();
        let mut next = first.next_before;
        while let Some(before) = next {
            let page = acc.page(account, Some(before), limit).await;
            assert!(page.txs.len() <= limit);
            assert_eq!(page.total, first.total);
            all.extend(page.txs.iter().copied());
            next = page.next_before;
        }
        (first, all)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(128))]

        /// Against a model, over small generations, pruning and restarts
        /// (which drop every cached tip): a page lists exactly the account's
        /// kept transactions, newest first, under consecutive ordinals ending
        /// at its count; the count is the model's while nothing of the
        /// account was pruned; pages read with cursors join up.
        #[test]
        fn pages_list_what_a_model_keeps_across_generations_and_restarts(
            generation_txs in 1u64..6,
            keep_txs in proptest::prop_oneof![proptest::strategy::Just(0u64), 2u64..14],
            blocks in proptest::collection::vec(
                proptest::collection::vec((0u8..4, 0u8..4), 1..6),
                1..14,
            ),
            restarts in proptest::collection::vec(proptest::bool::ANY, 14),
            limit in 1usize..5,
        ) {
            let generation = std::num::NonZeroU64::new(generation_txs).expect("from 1");
            let retention = Retention::keep(keep_txs).with_generation(generation);
            deterministic::Runner::default().start(|context| async move {
                let open = || AccountIndex::init(context.child("a"), "t", cache(), retention);
                let mut acc = open().await;
                let mut model: HashMap<Address, Vec<u64>> = HashMap::new();
                let mut seq = 0u64;
                for (i, pairs) in blocks.iter().enumerate() {
                    let receipts = pairs_block(i as u64 + 1, pairs);
                    acc.index(seq, &receipts).await;
                    add_to_model(&mut model, &mut seq, &receipts);
                    if restarts[i] {
                        drop(acc);
                        acc = open().await;
                    }
                }
                let floor = retention.floor(seq);
                for account in (0..4u8).map(|a| Address([a; 32])) {
                    let seqs = model.get(&account).cloned().unwrap_or_default();
                    let kept: Vec<u64> = seqs.iter().copied().filter(|s| *s >= floor).collect();
                    let (first, all) = pages(&acc, &account, limit).await;
                    let whole = acc.page(&account, None, 100).await;
                    let total = whole.total;
                    let expected: Vec<(u64, u64)> = kept
                        .iter()
                        .rev()
                        .enumerate()
                        .map(|(i, s)| (total - 1 - i as u64, *s))
                        .collect();
                    assert_eq!(whole.txs, expected, "account {account:?}, floor {floor}");
                    assert_eq!(all, expected, "pages of {limit}");
                    assert_eq!(first.total, total);
                    assert!(total <= seqs.len() as u64);
                    if kept.len() == seqs.len() {
                        assert_eq!(total, seqs.len() as u64, "nothing pruned");
                    }
                    assert_eq!(whole.older_pruned, total > kept.len() as u64);
                }
            });
        }
    }

    /// Blocks of many more entries than a warm chunk, with accounts
    /// repeating across chunk boundaries and a restart between blocks (so
    /// the second block's tips are read back from the archive): every
    /// account lists every transaction, newest first, under consecutive
    /// ordinals.
    #[test]
    fn blocks_larger_than_a_warm_chunk_list_every_transaction() {
        deterministic::Runner::default().start(|context| async move {
            let txs_per_block = 3 * WARM_KEYS as u64 + 5;
            let pairs: Vec<(u8, u8)> = (0..txs_per_block)
                .map(|i| ((i % 3) as u8, ((i + 1) % 4) as u8))
                .collect();
            let mut model: HashMap<Address, Vec<u64>> = HashMap::new();
            let mut seq = 0u64;
            for height in 1..=2u64 {
                let mut acc = accounts(&context).await;
                let receipts = pairs_block(height, &pairs);
                acc.index(seq, &receipts).await;
                add_to_model(&mut model, &mut seq, &receipts);
            }
            let acc = accounts(&context).await;
            for (account, seqs) in &model {
                let (first, all) = pages(&acc, account, 50).await;
                let expected: Vec<(u64, u64)> = seqs
                    .iter()
                    .rev()
                    .enumerate()
                    .map(|(i, s)| (seqs.len() as u64 - 1 - i as u64, *s))
                    .collect();
                assert!(seqs.len() > WARM_KEYS, "{account:?} crosses chunks");
                assert_eq!(first.total, seqs.len() as u64, "{account:?}");
                assert_eq!(all, expected, "{account:?}");
            }
        });
    }

    #[test]
    fn the_retired_layout_is_removed_at_start() {
        deterministic::Runner::default().start(|context| async move {
            let retired = format!("t-{RETIRED_ACCOUNT_INDEX}-key");
            let (blob, _) = context.open(&retired, b"0").await.expect("open");
            blob.sync().await.expect("sync");
            drop(blob);
            let _acc = accounts(&context).await;
            let gone = context.scan(&retired).await;
            assert!(
                matches!(gone, Err(commonware_runtime::Error::PartitionMissing(_))),
                "{gone:?}"
            );
        });
    }
}
