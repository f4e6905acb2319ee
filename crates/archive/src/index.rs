//! Receipts and the transaction index, persisted beside the block archive.
//!
//! Each transaction's receipt is stored once, with the digest of its block,
//! under its id (key) and its global sequence number (index): a status query is
//! one small read and never touches the block. Each finalized height keeps a
//! short record (its transaction range and the assets it created), so a
//! block's receipts can be listed and the asset list rebuilt without reading
//! receipts. Writes are idempotent (an archive index is written once), so
//! replaying a block after a crash never duplicates anything. Each account's
//! transactions are indexed behind the chain ([`crate::accounts`]).
//!
//! The transaction and account indexes keep each record's key in memory
//! (about 230-360 bytes per transaction by machine, docs/RELIABILITY.md
//! "Bounded memory"),
//! so a node keeps the receipts of its newest transactions only
//! ([`Retention`]): whole generations of older ones are pruned.

use crate::assets::{AssetRegistry, created_assets};
use bytes::{BufMut, Bytes, BytesMut};
use commonware_codec::Buf;
use commonware_codec::{
    DecodeExt, EncodeSize, Error as CodecError, RangeCfg, Read, ReadExt, Write,
};
use commonware_cryptography::sha256;
use commonware_runtime::{Supervisor, buffer::paged::CacheRef};
use commonware_storage::Context as StorageContext;
use commonware_storage::{
    archive::{Archive as _, Identifier, prunable},
    translator::{EightCap, Translator},
};
use commonware_utils::{NZU64, NZUsize};
use futures::StreamExt;
use lakh_types::{AssetId, Event, Receipt, Symbol, TxId};
use std::num::{NonZeroU64, NonZeroUsize};
use std::sync::Arc;

/// A transaction's receipt and the digest of the block that includes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxRecord {
    pub block: sha256::Digest,
    pub receipt: Receipt,
}

impl Write for TxRecord {
    fn write(&self, buf: &mut impl BufMut) {
        self.block.write(buf);
        self.receipt.write(buf);
    }
}
impl EncodeSize for TxRecord {
    fn encode_size(&self) -> usize {
        self.block.encode_size() + self.receipt.encode_size()
    }
}
impl Read for TxRecord {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(TxRecord {
            block: sha256::Digest::read(buf)?,
            receipt: Receipt::read(buf)?,
        })
    }
}

/// What the index keeps per finalized height.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockRecord {
    /// Global sequence number of the block's first transaction.
    pub first_tx_seq: u64,
    pub tx_count: u32,
    /// Assets created by the block's transactions.
    pub created_assets: Vec<(AssetId, Symbol)>,
    /// What execution did after the last transaction (slashes, insurance
    /// payouts), in order: no transaction's receipt holds them.
    pub block_events: Vec<Event>,
}

/// Most block events one record keeps (far above what one block's hooks
/// emit: at most 8 offenses, a slash per committee member, a bounded batch
/// of insurance payouts).
pub const MAX_BLOCK_EVENTS: usize = 4_096;

impl Write for BlockRecord {
    fn write(&self, buf: &mut impl BufMut) {
        self.first_tx_seq.write(buf);
        self.tx_count.write(buf);
        self.created_assets.len().write(buf);
        for (asset, symbol) in &self.created_assets {
            asset.write(buf);
            symbol.write(buf);
        }
        self.block_events.len().write(buf);
        for event in &self.block_events {
            event.write(buf);
        }
    }
}
impl EncodeSize for BlockRecord {
    fn encode_size(&self) -> usize {
        12 + self.created_assets.len().encode_size()
            + self
                .created_assets
                .iter()
                .map(|(a, s)| a.encode_size() + s.encode_size())
                .sum::<usize>()
            + self.block_events.len().encode_size()
            + self
                .block_events
                .iter()
                .map(EncodeSize::encode_size)
                .sum::<usize>()
    }
}
impl Read for BlockRecord {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let first_tx_seq = u64::read(buf)?;
        let tx_count = u32::read(buf)?;
        if tx_count as usize > lakh_types::limits::MAX_BLOCK_TXS {
            return Err(CodecError::Invalid("BlockRecord", "too many transactions"));
        }
        let n = usize::read_cfg(buf, &RangeCfg::new(..=tx_count as usize))?;
        let mut created_assets = Vec::with_capacity(n);
        for _ in 0..n {
            created_assets.push((AssetId::read(buf)?, Symbol::read(buf)?));
        }
        let n = usize::read_cfg(buf, &RangeCfg::new(..=MAX_BLOCK_EVENTS))?;
        let mut block_events = Vec::with_capacity(n);
        for _ in 0..n {
            block_events.push(Event::read(buf)?);
        }
        Ok(BlockRecord {
            first_tx_seq,
            tx_count,
            created_assets,
            block_events,
        })
    }
}

/// A value stored already encoded: recording a block encodes every
/// [`TxRecord`] into one buffer and stores slices of it, so it allocates
/// nothing per transaction.
struct Encoded(Bytes);

impl Write for Encoded {
    fn write(&self, buf: &mut impl BufMut) {
        buf.put_slice(&self.0);
    }
}
impl EncodeSize for Encoded {
    fn encode_size(&self) -> usize {
        self.0.len()
    }
}
impl Read for Encoded {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        // The archive hands over exactly one stored value.
        Ok(Encoded(buf.copy_to_bytes(buf.remaining())))
    }
}

type BlockArchive<E> = prunable::Archive<EightCap, E, sha256::Digest, BlockRecord>;
type TxArchive<E> = prunable::Archive<EightCap, E, sha256::Digest, Encoded>;

pub struct Indexer<E: StorageContext + Supervisor> {
    blocks: Option<BlockArchive<E>>,
    txs: Option<TxArchive<E>>,
    assets: Arc<AssetRegistry>,
    retention: Retention,
    /// The sequence number the next block's first transaction gets.
    next_seq: u64,
    /// Sequence numbers below this are pruned.
    floor_seq: u64,
    /// The validator's partition prefix, to name a damaged index.
    prefix: String,
    /// Blocks recorded before the block path applied their state, by
    /// height: their transactions read as not yet finalized until
    /// [`Self::reveal`].
    ahead: Vec<Ahead>,
}

/// A block the index holds and the block path has not applied yet.
#[derive(Clone, Copy, Debug)]
struct Ahead {
    height: u64,
    block: sha256::Digest,
    /// Recorded whole by this process ([`Indexer::record_ahead`]); a block
    /// found above the applied height after a restart
    /// ([`Indexer::hide_above`]) may have been cut short by the crash.
    whole: bool,
}

/// Most blocks recorded ahead of the block path and not yet revealed.
pub const MAX_RECORDED_AHEAD: usize = 16;

/// One page of an account's transactions, newest first: their sequence
/// numbers as the account index answers ([`crate::AccountIndex::page`]),
/// or their records as [`Indexer::account_page`] reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountPage<T = TxRecord> {
    /// Each transaction with its ordinal among the account's transactions.
    pub txs: Vec<(u64, T)>,
    /// How many transactions the account has in all.
    pub total: u64,
    /// The `before` of the next (older) page; `None` on the last page.
    pub next_before: Option<u64>,
    /// The page ended at the account's oldest kept transaction: older ones
    /// (ordinals below the last one given) were pruned ([`Retention`]).
    pub older_pruned: bool,
}

/// Transactions per generation, the unit the receipts indexes are pruned by.
pub const GENERATION_TXS: u64 = 1 << 20;

/// How many of the newest transactions' receipts the indexes keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// Receipts of at least this many of the newest transactions stay
    /// findable; older ones go a whole generation at a time. 0 keeps all.
    pub keep_txs: u64,
    /// Transactions per generation: [`GENERATION_TXS`] on every node (its
    /// sections are laid out by it); smaller only in tests.
    generation_txs: NonZeroU64,
}

impl Retention {
    /// Every receipt since genesis (memory grows with the chain).
    pub const ALL: Retention = Retention::keep(0);

    /// Keep the newest `keep_txs` transactions' receipts (0: all).
    pub const fn keep(keep_txs: u64) -> Retention {
        Retention {
            keep_txs,
            generation_txs: NZU64!(GENERATION_TXS),
        }
    }

    /// A smaller pruning unit, for tests that prune without writing
    /// millions of receipts. A data directory must keep its unit.
    #[doc(hidden)]
    pub const fn with_generation(self, generation_txs: NonZeroU64) -> Retention {
        Retention {
            generation_txs,
            ..self
        }
    }

    pub(crate) fn generation(&self, seq: u64) -> u64 {
        seq / self.generation_txs.get()
    }

    /// Sequence numbers per index section: a generation is whole sections.
    pub(crate) fn section_txs(&self) -> NonZeroU64 {
        self.generation_txs.min(INDEX_ITEMS_PER_SECTION)
    }

    /// The first sequence number kept once `next_seq` transactions are
    /// indexed (a generation boundary).
    pub(crate) fn floor(&self, next_seq: u64) -> u64 {
        if self.keep_txs == 0 {
            return 0;
        }
        let g = self.generation_txs.get();
        next_seq.saturating_sub(self.keep_txs) / g * g
    }
}

/// Reads of the transaction index kept in flight when many are read in a
/// row: each is a blocking task of the runtime, and one at a time every
/// read paid two thread hand-offs (a start on a large store spent most of
/// its time in them).
const CONCURRENT_READS: usize = 32;

/// Write buffer of each archive journal (bytes).
const IO_BUFFER_BYTES: NonZeroUsize = NZUsize!(1 << 20);
/// Read buffer used when an archive replays its journal at start (bytes).
const REPLAY_BUFFER_BYTES: NonZeroUsize = NZUsize!(8 << 20);

/// Configuration of a prunable archive named `name` under the validator's
/// partition `prefix`: the one place that names partitions and sizes buffers
/// for the block and finalization archives and the receipts indexes.
pub fn archive_config<T: Translator, C>(
    prefix: &str,
    name: &str,
    page_cache: CacheRef,
    codec: C,
    translator: T,
    items_per_section: NonZeroU64,
) -> prunable::Config<T, C> {
    prunable::Config {
        translator,
        metadata_partition: format!("{prefix}-{name}-metadata"),
        key_partition: format!("{prefix}-{name}-key"),
        key_page_cache: page_cache,
        value_partition: format!("{prefix}-{name}-value"),
        compression: None,
        codec_config: codec,
        items_per_section,
        key_write_buffer: IO_BUFFER_BYTES,
        value_write_buffer: IO_BUFFER_BYTES,
        replay_buffer: REPLAY_BUFFER_BYTES,
    }
}

/// Names of the indexes' partitions (after the validator's prefix).
const BLOCK_INDEX: &str = "block-index-v2";
const TX_INDEX: &str = "tx-index-v2";

/// A read of an index: a stored value that cannot be read back (a page
/// failing its checksum) is damage, never "not found", which would tell a
/// client that a finalized transaction is unknown.
pub(crate) fn read<T>(
    result: Result<Option<T>, commonware_storage::archive::Error>,
    prefix: &str,
    index: &str,
) -> Option<T> {
    result.unwrap_or_else(|e| panic!("corruption: {prefix}-{index} cannot be read back: {e:?}"))
}

/// A stored record that passed its checksum but does not decode.
fn decoded<T>(result: Result<T, CodecError>, prefix: &str, index: &str) -> T {
    result.unwrap_or_else(|e| {
        panic!("corruption: {prefix}-{index} holds a record that does not decode: {e:?}")
    })
}

/// Items per section of the receipts indexes.
const INDEX_ITEMS_PER_SECTION: NonZeroU64 = NZU64!(1 << 16);

/// Entries an index probes ahead of their use, in one pass: a chunk small
/// enough that what the pass brings into the caches is still there when
/// the entries are used ([`warm_keys`]).
pub(crate) const WARM_KEYS: usize = 64;

/// Looks up each key of a chunk about to be inserted. An index's key table
/// is as large as its entries, far larger than the caches, and an insert
/// walks the slots a lookup of the same key walks: in this bare loop the
/// misses overlap, and the inserts that follow find the slots cached.
pub(crate) async fn warm_keys<A, T>(archive: &A, items: &[T], key: fn(&T) -> &sha256::Digest)
where
    A: commonware_storage::archive::Archive<Key = sha256::Digest>,
{
    for item in items {
        std::hint::black_box(archive.has(Identifier::Key(key(item))).await.is_ok());
    }
}

fn digest_of(id: &TxId) -> sha256::Digest {
    sha256::Digest::from(id.0)
}

impl<E: StorageContext + Supervisor> Indexer<E> {
    /// Opens the indexes and feeds `assets` the assets created by every
    /// recorded block.
    pub async fn init(
        context: E,
        prefix: &str,
        page_cache: CacheRef,
        assets: Arc<AssetRegistry>,
        retention: Retention,
    ) -> Self {
        // Partition names carry the record layout's version: a data directory
        // of an older layout starts with an empty index instead of misreading.
        let blocks = prunable::Archive::init(
            context.child("block_index"),
            archive_config(
                prefix,
                BLOCK_INDEX,
                page_cache.clone(),
                (),
                EightCap,
                INDEX_ITEMS_PER_SECTION,
            ),
        )
        .await
        .expect("failed to open the block index");
        let txs = prunable::Archive::init(
            context.child("tx_index"),
            archive_config(
                prefix,
                TX_INDEX,
                page_cache.clone(),
                (),
                EightCap,
                retention.section_txs(),
            ),
        )
        .await
        .expect("failed to open the transaction index");
        let floor_seq = txs.ranges().next().map_or(0, |(first, _)| first);
        let mut indexer = Indexer {
            blocks: Some(blocks),
            txs: Some(txs),
            assets,
            retention,
            next_seq: 0,
            floor_seq,
            prefix: prefix.to_string(),
            ahead: Vec::new(),
        };
        indexer.check_complete().await;
        for height in 1..=indexer.last_height().unwrap_or(0) {
            if let Some(record) = indexer.block(height).await {
                indexer.assets.add(&record.created_assets);
                indexer.next_seq = record.first_tx_seq + u64::from(record.tx_count);
            }
        }
        indexer.prune().await;
        indexer
    }

    /// Prunes the transaction index below the retention's floor, if it
    /// moved.
    async fn prune(&mut self) {
        let floor = self.retention.floor(self.next_seq);
        if floor <= self.floor_seq {
            return;
        }
        let txs = self.txs.take().expect("tx index present");
        self.txs = Some(txs.prune(floor).await.expect("tx index prune failed"));
        self.floor_seq = floor;
    }

    /// The first sequence number whose receipt is kept.
    pub fn first_kept_seq(&self) -> u64 {
        self.floor_seq
    }

    /// Refuses indexes with a hole. Blocks are recorded in height order
    /// from 1, each durable before the next starts, so every height up to
    /// the last and every transaction of the blocks below the last must be
    /// there (the last block's may be cut short by a crash: it is recorded
    /// again). A hole means the store's recovery cut a damaged section
    /// short, which commonware does without an error.
    async fn check_complete(&self) {
        let (Some(blocks), Some(txs), Some(last)) =
            (self.blocks.as_ref(), self.txs.as_ref(), self.last_height())
        else {
            return;
        };
        let heights: Vec<(u64, u64)> = blocks.ranges().collect();
        if heights != [(1, last)] {
            panic!(
                "corruption: the block index ({}-{BLOCK_INDEX}) holds heights {heights:?}, not 1 to {last}",
                self.prefix
            );
        }
        let Some(record) = self.block(last).await else {
            panic!(
                "corruption: the block index ({}-{BLOCK_INDEX}) lists height {last} but cannot produce it",
                self.prefix
            );
        };
        // Pruning removes whole sections from the bottom, so what is kept
        // starts on a section boundary and runs without a hole.
        let needed = record.first_tx_seq;
        let held: Vec<(u64, u64)> = txs.ranges().collect();
        let section = self.retention.section_txs().get();
        let whole = match held.as_slice() {
            [] => needed == 0,
            [(first, end)] => first % section == 0 && *first <= needed && end + 1 >= needed,
            _ => false,
        };
        if needed > 0 && !whole {
            panic!(
                "corruption: the transaction index ({}-{TX_INDEX}) holds {held:?} of the transactions below {needed} of the blocks below height {last}",
                self.prefix,
            );
        }
    }

    /// Durably records a finalized block's receipts.
    ///
    /// Blocks are recorded in height order and a crash replays from the
    /// state's height, which is never above the index's, so a missing
    /// previous height means the index lost records (a damaged or cut
    /// file): serving on would answer "unknown" for finalized transactions.
    pub async fn record(
        &mut self,
        height: u64,
        block_digest: sha256::Digest,
        first_tx_seq: u64,
        receipts: &[Receipt],
        block_events: &[Event],
    ) {
        if height > 1 && self.block(height - 1).await.is_none() {
            panic!(
                "corruption: the block index ({}-{BLOCK_INDEX}) holds no record of height {}, below the block {height} being recorded",
                self.prefix,
                height - 1
            );
        }
        let created_assets = created_assets(receipts);
        let size: usize = receipts
            .iter()
            .map(|r| block_digest.encode_size() + r.encode_size())
            .sum();
        let mut buf = BytesMut::with_capacity(size);
        // Each receipt's key and where its record ends in `buf`.
        let mut records = Vec::with_capacity(receipts.len());
        for receipt in receipts {
            block_digest.write(&mut buf);
            receipt.write(&mut buf);
            records.push((digest_of(&receipt.tx_id), buf.len()));
        }
        let buf = buf.freeze();
        let mut txs = self.txs.take().expect("tx index present");
        let mut start = 0;
        let mut seq = first_tx_seq;
        for chunk in records.chunks(WARM_KEYS) {
            warm_keys(&txs, chunk, |(key, _)| key).await;
            for &(key, end) in chunk {
                txs = txs
                    .put(seq, key, &Encoded(buf.slice(start..end)))
                    .await
                    .expect("tx index write failed");
                start = end;
                seq += 1;
            }
        }
        let record = BlockRecord {
            first_tx_seq,
            tx_count: receipts.len() as u32,
            created_assets,
            block_events: block_events
                .iter()
                .take(MAX_BLOCK_EVENTS)
                .cloned()
                .collect(),
        };
        // The indexes sync at once; the caller needs them durable on return.
        let (txs, txs_synced) = txs.start_sync().await.expect("tx index sync failed");
        let blocks = self.blocks.take().expect("block index present");
        let (blocks, blocks_synced) = blocks
            .put_start_sync(height, block_digest, &record)
            .await
            .expect("block index write failed");
        let (txs_synced, blocks_synced) = futures::join!(txs_synced, blocks_synced);
        txs_synced.expect("tx index sync failed");
        blocks_synced.expect("block index sync failed");
        self.txs = Some(txs);
        self.blocks = Some(blocks);
        self.assets.add(&record.created_assets);
        self.next_seq = first_tx_seq + receipts.len() as u64;
        self.prune().await;
    }

    /// Records finalized block `height`, the one after the last recorded,
    /// before the block path applies its state, and keeps its transactions
    /// hidden until [`Self::reveal`]: a reader who sees a transaction
    /// finalized must read its effects in state. Returns `false`, recording
    /// nothing, when `height` is not the next or too many wait revealing.
    pub async fn record_ahead(
        &mut self,
        height: u64,
        block_digest: sha256::Digest,
        first_tx_seq: u64,
        receipts: &[Receipt],
        block_events: &[Event],
    ) -> bool {
        if self.ahead.len() >= MAX_RECORDED_AHEAD || self.next_height() != height {
            return false;
        }
        self.record(height, block_digest, first_tx_seq, receipts, block_events)
            .await;
        self.ahead.push(Ahead {
            height,
            block: block_digest,
            whole: true,
        });
        true
    }

    /// The block path reached `height`: its transactions, and those of the
    /// blocks below it, read as finalized. Returns whether `height` was
    /// recorded ahead. A block recorded before a crash is not: the crash
    /// may have cut its transactions short, so it is recorded again.
    pub fn reveal(&mut self, height: u64) -> bool {
        let recorded = self.ahead.iter().any(|a| a.height == height && a.whole);
        self.ahead.retain(|a| a.height > height);
        recorded
    }

    /// At start, hides the blocks the index holds above `applied_height`,
    /// the height the block path has durably applied: a crash can leave
    /// receipts recorded ahead of the state, and their transactions must not
    /// read as finalized before the replay applies them. Each is revealed
    /// (and recorded again) when the block path reaches it.
    ///
    /// A block whose own record the crash cut off may have left
    /// transactions past the last record: they are hidden as the next
    /// height.
    pub async fn hide_above(&mut self, applied_height: u64) {
        let last = self.last_height().unwrap_or(0);
        for height in applied_height.saturating_add(1)..=last {
            if let Some(record) = self.block(height).await.filter(|r| r.tx_count > 0) {
                self.hide_block_of(height, record.first_tx_seq).await;
            }
        }
        self.hide_block_of(last + 1, self.next_seq).await;
    }

    /// Hides block `height` by the block digest its transaction `seq`
    /// names, if that transaction is held.
    async fn hide_block_of(&mut self, height: u64, seq: u64) {
        let Some(txs) = self.txs.as_ref() else {
            return;
        };
        let first = read(
            txs.get(Identifier::Index(seq)).await,
            &self.prefix,
            TX_INDEX,
        );
        if let Some(raw) = first {
            let block = decoded(TxRecord::decode(raw.0), &self.prefix, TX_INDEX).block;
            self.ahead.push(Ahead {
                height,
                block,
                whole: false,
            });
        }
    }

    /// The height the next record must have.
    pub fn next_height(&self) -> u64 {
        self.last_height().map_or(1, |h| h + 1)
    }

    /// The receipts of `page`'s transactions; an entry whose receipt was
    /// pruned ends the page as the oldest kept.
    pub async fn account_page(&self, page: AccountPage<u64>) -> Option<AccountPage> {
        let txs = self.txs.as_ref()?;
        let p = &self.prefix;
        let mut out = Vec::with_capacity(page.txs.len());
        for (ordinal, seq) in page.txs {
            if seq < self.floor_seq {
                return Some(AccountPage {
                    txs: out,
                    total: page.total,
                    next_before: None,
                    older_pruned: true,
                });
            }
            let raw = read(txs.get(Identifier::Index(seq)).await, p, TX_INDEX)?;
            out.push((ordinal, decoded(TxRecord::decode(raw.0), p, TX_INDEX)));
        }
        Some(AccountPage {
            txs: out,
            total: page.total,
            next_before: page.next_before,
            older_pruned: page.older_pruned,
        })
    }

    /// The receipts of the transactions numbered `seqs`, up to the first
    /// one missing: the last block's may be cut short by a crash (it is
    /// recorded again when the chain replays it).
    pub(crate) async fn receipts_by_seq(&self, seqs: std::ops::Range<u64>) -> Vec<Receipt> {
        let txs = self.txs.as_ref().expect("tx index present");
        let p = &self.prefix;
        let mut out = Vec::with_capacity((seqs.end - seqs.start) as usize);
        let mut reads = futures::stream::iter(seqs)
            .map(|seq| txs.get(Identifier::Index(seq)))
            .buffered(CONCURRENT_READS);
        while let Some(got) = reads.next().await {
            let Some(raw) = read(got, p, TX_INDEX) else {
                break;
            };
            out.push(decoded(TxRecord::decode(raw.0), p, TX_INDEX).receipt);
        }
        out
    }

    /// The sequence number the next block's first transaction gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// As after a crash that kept a block's record but cut its transactions
    /// short: the record counts `extra_txs` more than the index holds.
    #[cfg(test)]
    pub(crate) fn cut_short(&mut self, extra_txs: u64) {
        self.next_seq += extra_txs;
    }

    /// The record of a finalized height.
    pub async fn block(&self, height: u64) -> Option<BlockRecord> {
        let archive = self.blocks.as_ref()?;
        read(
            archive.get(Identifier::Index(height)).await,
            &self.prefix,
            BLOCK_INDEX,
        )
    }

    /// The receipts of a finalized height, in block order.
    pub async fn receipts(&self, height: u64) -> Option<Vec<Receipt>> {
        let block = self.block(height).await?;
        let txs = self.txs.as_ref()?;
        let mut out = Vec::with_capacity(block.tx_count as usize);
        for seq in block.first_tx_seq..block.first_tx_seq + u64::from(block.tx_count) {
            let raw = read(
                txs.get(Identifier::Index(seq)).await,
                &self.prefix,
                TX_INDEX,
            )?;
            out.push(decoded(TxRecord::decode(raw.0), &self.prefix, TX_INDEX).receipt);
        }
        Some(out)
    }

    /// A finalized transaction's receipt and block digest: one read.
    pub async fn tx(&self, id: &TxId) -> Option<TxRecord> {
        let archive = self.txs.as_ref()?;
        let key = digest_of(id);
        let raw = read(
            archive.get(Identifier::Key(&key)).await,
            &self.prefix,
            TX_INDEX,
        )?;
        Some(decoded(TxRecord::decode(raw.0), &self.prefix, TX_INDEX))
            .filter(|r| r.receipt.tx_id == *id)
            .filter(|r| !self.ahead.iter().any(|a| a.block == r.block))
    }

    pub async fn receipt(&self, id: &TxId) -> Option<Receipt> {
        self.tx(id).await.map(|r| r.receipt)
    }

    /// Highest height with a record.
    pub fn last_height(&self) -> Option<u64> {
        self.blocks.as_ref()?.last_index()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use commonware_runtime::{Runner as _, deterministic};
    use commonware_utils::NZU16;
    use lakh_types::modules::book::BookEvent;
    use lakh_types::{Address, Event, TxStatus};

    /// A successful receipt of sender `Address([index; 32])`.
    pub(crate) fn receipt(height: u64, index: u32, events: Vec<Event>) -> Receipt {
        Receipt {
            tx_id: TxId([height as u8 ^ (index as u8).wrapping_mul(31); 32]),
            sender: Address([index as u8; 32]),
            nonce: index as u64,
            height,
            index,
            fee_paid: 100,
            status: TxStatus::Success,
            events,
        }
    }

    type Ctx = deterministic::Context;

    /// The transaction index and the account index, fed together as the
    /// node's block path and its account feed do.
    struct Both {
        idx: Indexer<Ctx>,
        acc: crate::AccountIndex<Ctx>,
    }

    impl std::ops::Deref for Both {
        type Target = Indexer<Ctx>;
        fn deref(&self) -> &Indexer<Ctx> {
            &self.idx
        }
    }

    impl Both {
        async fn init(
            context: Ctx,
            prefix: &str,
            cache: CacheRef,
            assets: Arc<AssetRegistry>,
            retention: Retention,
        ) -> Self {
            let idx =
                Indexer::init(context.child("i"), prefix, cache.clone(), assets, retention).await;
            let mut acc =
                crate::AccountIndex::init(context.child("a"), prefix, cache, retention).await;
            acc.recover(&idx).await;
            Both { idx, acc }
        }

        async fn record(
            &mut self,
            height: u64,
            digest: sha256::Digest,
            first_tx_seq: u64,
            receipts: &[Receipt],
            events: &[Event],
        ) {
            self.idx
                .record(height, digest, first_tx_seq, receipts, events)
                .await;
            self.acc.index(first_tx_seq, receipts).await;
        }

        async fn account_txs(
            &self,
            account: &Address,
            before: Option<u64>,
            limit: usize,
        ) -> Option<AccountPage> {
            let seqs = self.acc.page(account, before, limit).await;
            self.idx.account_page(seqs).await
        }
    }

    fn registry() -> Arc<AssetRegistry> {
        Arc::new(AssetRegistry::new([(AssetId::NATIVE, "LAKH".to_string())]))
    }

    fn gold() -> Event {
        Event::AssetCreated {
            asset: AssetId(7),
            symbol: Symbol::new("GOLD").unwrap(),
            issuer: Address([3; 32]),
            decimals: 2,
        }
    }

    #[test]
    fn a_failed_create_asset_registers_nothing() {
        deterministic::Runner::default().start(|context| async move {
            let cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
            let assets = registry();
            let known = assets.list();
            let mut idx = Both::init(context, "t", cache, assets.clone(), Retention::ALL).await;
            let mut failed = receipt(1, 0, vec![gold()]);
            failed.status = TxStatus::Failed {
                error: lakh_types::FailureReason::Invalid {
                    detail: "symbol taken".into(),
                },
            };
            let digest = sha256::Digest::from([1u8; 32]);
            idx.record(1, digest, 0, &[failed, receipt(1, 1, vec![])], &[])
                .await;
            assert_eq!(assets.list(), known);
            assert_eq!(idx.block(1).await.unwrap().created_assets, vec![]);
            let unjailed = Event::Stake(lakh_types::modules::stake::StakeEvent::Unjailed {
                validator: Address([5; 32]),
            });
            let events = [unjailed.clone()];
            idx.record(2, digest, 2, &[receipt(2, 0, vec![gold()])], &events)
                .await;
            assert!(assets.list().contains(&(AssetId(7), "GOLD".to_string())));
            assert_eq!(idx.block(2).await.unwrap().block_events, vec![unjailed]);
            assert!(idx.block(1).await.unwrap().block_events.is_empty());
        });
    }

    #[test]
    fn a_block_recorded_ahead_reads_unfinalized_until_revealed() {
        deterministic::Runner::default().start(|context| async move {
            let cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
            let mut idx = Indexer::init(context, "t", cache, registry(), Retention::ALL).await;
            let block = |h: u8| sha256::Digest::from([h; 32]);
            let first = [receipt(1, 0, vec![]), receipt(1, 1, vec![])];
            // Only the next height is recorded ahead.
            assert!(!idx.record_ahead(2, block(2), 2, &first, &[]).await);
            assert!(idx.record_ahead(1, block(1), 0, &first, &[]).await);
            assert_eq!(idx.next_height(), 2);
            assert!(idx.tx(&first[0].tx_id).await.is_none());
            let second = [receipt(2, 0, vec![])];
            assert!(idx.record_ahead(2, block(2), 2, &second, &[]).await);
            // Revealing a height reveals it and every height below.
            assert!(idx.reveal(1));
            assert_eq!(
                idx.tx(&first[1].tx_id).await.map(|r| r.block),
                Some(block(1))
            );
            assert!(idx.tx(&second[0].tx_id).await.is_none());
            assert!(idx.reveal(2));
            assert_eq!(
                idx.receipt(&second[0].tx_id).await.as_ref(),
                Some(&second[0])
            );
            // A height recorded on the block path was not recorded ahead.
            idx.record(3, block(3), 3, &[receipt(3, 0, vec![])], &[])
                .await;
            assert!(!idx.reveal(3));
        });
    }

    #[test]
    fn blocks_recorded_ahead_and_not_revealed_are_bounded() {
        deterministic::Runner::default().start(|context| async move {
            let cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
            let mut idx = Indexer::init(context, "t", cache, registry(), Retention::ALL).await;
            for h in 1..=MAX_RECORDED_AHEAD as u64 {
                let r = [receipt(h, 0, vec![])];
                assert!(
                    idx.record_ahead(h, sha256::Digest::from([h as u8; 32]), h - 1, &r, &[])
                        .await
                );
            }
            let h = MAX_RECORDED_AHEAD as u64 + 1;
            let r = [receipt(h, 0, vec![])];
            let digest = sha256::Digest::from([h as u8; 32]);
            assert!(!idx.record_ahead(h, digest, h - 1, &r, &[]).await);
            assert!(idx.reveal(1));
            assert!(idx.record_ahead(h, digest, h - 1, &r, &[]).await);
        });
    }

    #[test]
    fn after_a_restart_blocks_above_the_applied_height_stay_hidden_until_recorded_again() {
        deterministic::Runner::default().start(|context| async move {
            let cache = || CacheRef::new(NZU16!(4096), NZUsize!(64));
            let block = |h: u8| sha256::Digest::from([h; 32]);
            let blocks: Vec<Vec<Receipt>> = (1..=3).map(|h| vec![receipt(h, 0, vec![])]).collect();
            // A crashed process recorded three blocks ahead; the state
            // reached height 1 only.
            {
                let mut idx =
                    Indexer::init(context.child("a"), "t", cache(), registry(), Retention::ALL)
                        .await;
                for (h, receipts) in (1..).zip(&blocks) {
                    assert!(
                        idx.record_ahead(h, block(h as u8), h - 1, receipts, &[])
                            .await
                    );
                }
            }
            let mut idx =
                Indexer::init(context.child("b"), "t", cache(), registry(), Retention::ALL).await;
            idx.hide_above(1).await;
            let id = |h: usize| blocks[h - 1][0].tx_id;
            async fn found(idx: &Indexer<Ctx>, id: TxId) -> bool {
                idx.tx(&id).await.is_some()
            }
            assert!(found(&idx, id(1)).await);
            assert!(!found(&idx, id(2)).await && !found(&idx, id(3)).await);
            // Not recorded whole by this process: the block path records it
            // again, and only then is it read as finalized.
            assert!(!idx.reveal(2));
            assert!(found(&idx, id(2)).await && !found(&idx, id(3)).await);
            assert!(!idx.reveal(3));
            assert!(found(&idx, id(3)).await);
        });
    }

    #[test]
    fn transactions_past_the_last_block_record_stay_hidden_after_a_restart() {
        deterministic::Runner::default().start(|context| async move {
            let cache = || CacheRef::new(NZU16!(4096), NZUsize!(64));
            let cut = receipt(2, 0, vec![]);
            {
                let mut idx =
                    Indexer::init(context.child("a"), "t", cache(), registry(), Retention::ALL)
                        .await;
                idx.record(
                    1,
                    sha256::Digest::from([1; 32]),
                    0,
                    &[receipt(1, 0, vec![])],
                    &[],
                )
                .await;
                // A crash kept block 2's transaction and lost its record.
                let record = TxRecord {
                    block: sha256::Digest::from([2; 32]),
                    receipt: cut.clone(),
                };
                let txs = idx.txs.take().unwrap();
                let txs = txs
                    .put(
                        1,
                        digest_of(&cut.tx_id),
                        &Encoded(commonware_codec::Encode::encode(&record)),
                    )
                    .await
                    .unwrap();
                let (_txs, synced) = txs.start_sync().await.unwrap();
                synced.await.unwrap();
            }
            let mut idx =
                Indexer::init(context.child("b"), "t", cache(), registry(), Retention::ALL).await;
            assert_eq!(idx.last_height(), Some(1));
            idx.hide_above(1).await;
            assert!(idx.tx(&cut.tx_id).await.is_none());
            assert!(!idx.reveal(2));
            assert!(idx.tx(&cut.tx_id).await.is_some());
        });
    }

    fn pay(height: u64, index: u32, to: Address) -> Receipt {
        let mut r = receipt(height, index, vec![]);
        r.events = vec![Event::Transfer {
            asset: AssetId::NATIVE,
            from: r.sender,
            to,
            amount: 5,
        }];
        r
    }

    /// Heights of a page's transactions, with their ordinals.
    fn heights(page: &AccountPage) -> Vec<(u64, u64)> {
        page.txs
            .iter()
            .map(|(n, r)| (*n, r.receipt.height))
            .collect()
    }

    #[test]
    fn account_history_pages_newest_first_and_survives_replay_and_reopen() {
        deterministic::Runner::default().start(|context| async move {
            let cache = || CacheRef::new(NZU16!(4096), NZUsize!(64));
            let carol = Address([9; 32]);
            let maker = Address([8; 32]);
            let digest = sha256::Digest::from([1u8; 32]);
            // Senders are Address([index; 32]); carol receives in every
            // block; the maker is named by a module event of block 2 only.
            let mut blocks: Vec<Vec<Receipt>> = (1..=5u64)
                .map(|h| vec![pay(h, 0, carol), pay(h, 1, Address([0; 32]))])
                .collect();
            blocks[1][0].events.push(Event::Book(BookEvent::Settled {
                market: 1,
                owner: maker,
                base: 1,
                quote: 2,
            }));
            {
                let mut idx =
                    Both::init(context.child("a"), "t", cache(), registry(), Retention::ALL).await;
                for (i, block) in blocks.iter().take(4).enumerate() {
                    idx.record(i as u64 + 1, digest, 2 * i as u64, block, &[])
                        .await;
                }
                idx.record(3, digest, 4, &blocks[2], &[]).await;
                let page = idx.account_txs(&carol, None, 2).await.unwrap();
                assert_eq!(page.total, 4, "a replayed block adds nothing");
            }
            // Reopened with nothing cached: replaying block 4 still adds
            // nothing, block 5 continues the ordinals.
            let mut idx =
                Both::init(context.child("b"), "t", cache(), registry(), Retention::ALL).await;
            idx.record(4, digest, 6, &blocks[3], &[]).await;
            idx.record(5, digest, 8, &blocks[4], &[]).await;
            let page = idx.account_txs(&carol, None, 2).await.unwrap();
            assert_eq!(page.total, 5);
            assert_eq!(heights(&page), vec![(4, 5), (3, 4)]);
            assert_eq!(page.next_before, Some(3));
            let rest = idx.account_txs(&carol, Some(3), 10).await.unwrap();
            assert_eq!(heights(&rest), vec![(2, 3), (1, 2), (0, 1)]);
            assert_eq!(rest.next_before, None, "the last page");
            let beyond = idx.account_txs(&carol, Some(99), 1).await.unwrap();
            assert_eq!(heights(&beyond), vec![(4, 5)]);
            let maker_page = idx.account_txs(&maker, None, 10).await.unwrap();
            assert_eq!(heights(&maker_page), vec![(0, 2)]);
            // Address([0; 32]) sends index 0 and receives index 1 of each block.
            let both = idx.account_txs(&Address([0; 32]), None, 100).await.unwrap();
            assert_eq!(both.total, 10);
            let sender_one = idx.account_txs(&Address([1; 32]), None, 100).await.unwrap();
            assert_eq!(sender_one.total, 5);
            let nobody = idx.account_txs(&Address([7; 32]), None, 10).await.unwrap();
            assert_eq!(
                (nobody.total, nobody.txs.len(), nobody.next_before),
                (0, 0, None)
            );
        });
    }

    #[test]
    fn status_is_one_read_and_survives_reopen_and_replay() {
        deterministic::Runner::default().start(|context| async move {
            let cache = || CacheRef::new(NZU16!(4096), NZUsize!(64));
            let digest_a = sha256::Digest::from([1u8; 32]);
            let digest_b = sha256::Digest::from([2u8; 32]);
            let created = Event::AssetCreated {
                asset: AssetId(7),
                symbol: Symbol::new("GOLD").unwrap(),
                issuer: Address([3; 32]),
                decimals: 2,
            };
            let block_a: Vec<Receipt> = (0..3).map(|i| receipt(1, i, vec![])).collect();
            let block_b = vec![receipt(2, 0, vec![created]), receipt(2, 1, vec![])];
            {
                let mut idx =
                    Both::init(context.child("a"), "t", cache(), registry(), Retention::ALL).await;
                idx.record(1, digest_a, 0, &block_a, &[]).await;
                idx.record(2, digest_b, 3, &block_b, &[]).await;
                // Replaying a block after a crash changes nothing.
                idx.record(2, digest_b, 3, &block_b, &[]).await;
            }
            let assets = registry();
            let idx = Both::init(
                context.child("b"),
                "t",
                cache(),
                assets.clone(),
                Retention::ALL,
            )
            .await;
            assert!(assets.list().contains(&(AssetId(7), "GOLD".to_string())));
            assert_eq!(idx.last_height(), Some(2));
            let found = idx.tx(&block_b[1].tx_id).await.expect("indexed");
            assert_eq!(found.block, digest_b);
            assert_eq!(found.receipt, block_b[1]);
            assert_eq!(idx.tx(&block_a[2].tx_id).await.unwrap().block, digest_a);
            assert_eq!(idx.tx(&TxId([0xee; 32])).await, None);
            assert_eq!(idx.receipts(1).await, Some(block_a));
            assert_eq!(idx.receipts(2).await, Some(block_b));
            assert_eq!(idx.receipts(3).await, None);
            let b = idx.block(2).await.unwrap();
            assert_eq!((b.first_tx_seq, b.tx_count), (3, 2));
            assert_eq!(
                b.created_assets,
                vec![(AssetId(7), Symbol::new("GOLD").unwrap())]
            );
        });
    }

    #[test]
    fn blocks_larger_than_a_warm_chunk_keep_every_receipt() {
        deterministic::Runner::default().start(|context| async move {
            let cache = || CacheRef::new(NZU16!(4096), NZUsize!(64));
            let per_block = 3 * WARM_KEYS as u32 + 5;
            let block = |height: u64| -> Vec<Receipt> {
                (0..per_block)
                    .map(|i| {
                        let mut r = receipt(height, i, vec![]);
                        let mut id = [0u8; 32];
                        id[..8].copy_from_slice(&height.to_le_bytes());
                        id[8..12].copy_from_slice(&i.to_le_bytes());
                        r.tx_id = TxId(id);
                        r
                    })
                    .collect()
            };
            let blocks = [block(1), block(2)];
            let digest = |h: u64| sha256::Digest::from([h as u8; 32]);
            {
                let mut idx =
                    Both::init(context.child("a"), "t", cache(), registry(), Retention::ALL).await;
                idx.record(1, digest(1), 0, &blocks[0], &[]).await;
                idx.record(2, digest(2), per_block.into(), &blocks[1], &[])
                    .await;
                idx.record(2, digest(2), per_block.into(), &blocks[1], &[])
                    .await;
            }
            let idx =
                Both::init(context.child("b"), "t", cache(), registry(), Retention::ALL).await;
            for (height, receipts) in (1..).zip(&blocks) {
                assert_eq!(idx.receipts(height).await.as_ref(), Some(receipts));
                for r in receipts {
                    let found = idx.tx(&r.tx_id).await.expect("indexed");
                    assert_eq!((found.block, &found.receipt), (digest(height), r));
                }
            }
            assert_eq!(idx.next_seq(), 2 * u64::from(per_block));
        });
    }

    #[test]
    #[should_panic(
        expected = "corruption: the block index (t-block-index-v2) holds no record of height 2"
    )]
    fn a_gap_below_the_recorded_height_is_refused_as_damage() {
        deterministic::Runner::default().start(|context| async move {
            let cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
            let mut idx = Both::init(context, "t", cache, registry(), Retention::ALL).await;
            let digest = sha256::Digest::from([1u8; 32]);
            idx.record(1, digest, 0, &[receipt(1, 0, vec![])], &[])
                .await;
            idx.record(3, digest, 1, &[receipt(3, 0, vec![])], &[])
                .await;
        });
    }

    #[test]
    fn retention_prunes_whole_generations_and_counts_survive_a_restart() {
        deterministic::Runner::default().start(|context| async move {
            let cache = || CacheRef::new(NZU16!(4096), NZUsize!(64));
            let retention = Retention::keep(4).with_generation(NZU64!(2));
            let carol = Address([9; 32]);
            let digest = sha256::Digest::from([1u8; 32]);
            let blocks: Vec<Vec<Receipt>> = (1..=7u64)
                .map(|h| vec![pay(h, 0, carol), pay(h, 1, Address([0; 32]))])
                .collect();
            {
                let mut idx =
                    Both::init(context.child("a"), "t", cache(), registry(), retention).await;
                for (i, block) in blocks.iter().take(6).enumerate() {
                    idx.record(i as u64 + 1, digest, 2 * i as u64, block, &[])
                        .await;
                }
                // 12 indexed, at least 4 kept, pruned by generations of 2.
                assert_eq!(idx.first_kept_seq(), 8);
                assert_eq!(idx.tx(&blocks[3][1].tx_id).await, None);
                assert_eq!(idx.receipts(4).await, None);
                assert_eq!(idx.receipts(5).await, Some(blocks[4].clone()));
                let page = idx.account_txs(&carol, None, 10).await.unwrap();
                assert_eq!(heights(&page), vec![(5, 6), (4, 5)]);
                assert_eq!(
                    (page.total, page.next_before, page.older_pruned),
                    (6, None, true)
                );
            }
            // Reopened with nothing cached, carol's count is found from the
            // marker of her newest generation, and her next entry follows it.
            let mut idx = Both::init(context.child("b"), "t", cache(), registry(), retention).await;
            assert_eq!(idx.first_kept_seq(), 8);
            let page = idx.account_txs(&carol, None, 1).await.unwrap();
            assert_eq!((page.total, page.next_before), (6, Some(5)));
            idx.record(7, digest, 12, &blocks[6], &[]).await;
            assert_eq!(idx.first_kept_seq(), 10);
            let page = idx.account_txs(&carol, None, 10).await.unwrap();
            assert_eq!(heights(&page), vec![(6, 7), (5, 6)]);
            assert!(page.older_pruned);
            let sender = idx.account_txs(&Address([1; 32]), None, 10).await.unwrap();
            assert_eq!(sender.total, 7);
            assert_eq!(
                idx.tx(&blocks[6][1].tx_id).await.unwrap().receipt,
                blocks[6][1]
            );
        });
    }
}
