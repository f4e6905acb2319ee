//! Receipts and the transaction index, persisted beside the block archive.
//!
//! Receipts of a block are stored under the block's height; each transaction id
//! maps to its (height, position) under its global sequence number. Writes are
//! idempotent (an archive index is written once), so replaying a block after a
//! crash never duplicates anything.

use bytes::BufMut;
use commonware_codec::Buf;
use commonware_codec::{EncodeSize, Error as CodecError, RangeCfg, Read, ReadExt, Write};
use commonware_cryptography::sha256;
use commonware_runtime::{Supervisor, buffer::paged::CacheRef};
use commonware_storage::Context as StorageContext;
use commonware_storage::{
    archive::{Archive as _, Identifier, prunable},
    translator::EightCap,
};
use commonware_utils::{NZU64, NZUsize};
use lakh_types::{Receipt, TxId};

/// The receipts of one block, in block order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockReceipts(pub Vec<Receipt>);

impl Write for BlockReceipts {
    fn write(&self, buf: &mut impl BufMut) {
        self.0.write(buf);
    }
}
impl EncodeSize for BlockReceipts {
    fn encode_size(&self) -> usize {
        self.0.encode_size()
    }
}
impl Read for BlockReceipts {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(BlockReceipts(Vec::<Receipt>::read_cfg(
            buf,
            &(RangeCfg::new(..=crate::block::MAX_BLOCK_TXS), ()),
        )?))
    }
}

/// Where a transaction landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxLocation {
    pub height: u64,
    pub index: u32,
}
impl Write for TxLocation {
    fn write(&self, buf: &mut impl BufMut) {
        self.height.write(buf);
        self.index.write(buf);
    }
}
impl EncodeSize for TxLocation {
    fn encode_size(&self) -> usize {
        12
    }
}
impl Read for TxLocation {
    type Cfg = ();
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        Ok(TxLocation {
            height: u64::read(buf)?,
            index: u32::read(buf)?,
        })
    }
}

type ReceiptArchive<E> = prunable::Archive<EightCap, E, sha256::Digest, BlockReceipts>;
type TxArchive<E> = prunable::Archive<EightCap, E, sha256::Digest, TxLocation>;

pub struct Indexer<E: StorageContext + Supervisor> {
    receipts: Option<ReceiptArchive<E>>,
    txs: Option<TxArchive<E>>,
}

fn archive_config<C>(
    prefix: &str,
    name: &str,
    page_cache: CacheRef,
    codec: C,
) -> prunable::Config<EightCap, C> {
    prunable::Config {
        translator: EightCap,
        metadata_partition: format!("{prefix}-{name}-metadata"),
        key_partition: format!("{prefix}-{name}-key"),
        key_page_cache: page_cache,
        value_partition: format!("{prefix}-{name}-value"),
        compression: None,
        codec_config: codec,
        items_per_section: NZU64!(1 << 16),
        key_write_buffer: NZUsize!(1 << 20),
        value_write_buffer: NZUsize!(1 << 20),
        replay_buffer: NZUsize!(8 << 20),
    }
}

fn digest_of(id: &TxId) -> sha256::Digest {
    sha256::Digest::from(id.0)
}

impl<E: StorageContext + Supervisor> Indexer<E> {
    pub async fn init(context: E, prefix: &str, page_cache: CacheRef) -> Self {
        let receipts = prunable::Archive::init(
            context.child("receipts"),
            archive_config(prefix, "receipts", page_cache.clone(), ()),
        )
        .await
        .expect("failed to open the receipts archive");
        let txs = prunable::Archive::init(
            context.child("tx_index"),
            archive_config(prefix, "tx-index", page_cache, ()),
        )
        .await
        .expect("failed to open the transaction index");
        Indexer {
            receipts: Some(receipts),
            txs: Some(txs),
        }
    }

    /// Durably records a finalized block's receipts and transaction locations.
    pub async fn record(
        &mut self,
        height: u64,
        block_digest: sha256::Digest,
        first_tx_seq: u64,
        receipts: &[Receipt],
    ) {
        let mut txs = self.txs.take().expect("tx index present");
        for (i, r) in receipts.iter().enumerate() {
            txs = txs
                .put(
                    first_tx_seq + i as u64,
                    digest_of(&r.tx_id),
                    &TxLocation {
                        height,
                        index: i as u32,
                    },
                )
                .await
                .expect("tx index write failed");
        }
        self.txs = Some(txs.sync().await.expect("tx index sync failed"));
        let archive = self.receipts.take().expect("receipts archive present");
        let archive = archive
            .put_sync(height, block_digest, &BlockReceipts(receipts.to_vec()))
            .await
            .expect("receipts write failed");
        self.receipts = Some(archive);
    }

    pub async fn receipts(&self, height: u64) -> Option<Vec<Receipt>> {
        let archive = self.receipts.as_ref()?;
        archive
            .get(Identifier::Index(height))
            .await
            .ok()
            .flatten()
            .map(|r| r.0)
    }

    pub async fn locate(&self, id: &TxId) -> Option<TxLocation> {
        let archive = self.txs.as_ref()?;
        let key = digest_of(id);
        archive.get(Identifier::Key(&key)).await.ok().flatten()
    }

    pub async fn receipt(&self, id: &TxId) -> Option<Receipt> {
        let loc = self.locate(id).await?;
        let receipts = self.receipts(loc.height).await?;
        receipts
            .into_iter()
            .nth(loc.index as usize)
            .filter(|r| r.tx_id == *id)
    }

    /// Highest height with recorded receipts.
    pub fn last_height(&self) -> Option<u64> {
        self.receipts.as_ref()?.last_index()
    }
}
