//! The node's durable store: one redb database per node (`<data>/channels.redb`).
//!
//! Every channel is one record holding its latest co-signed state and the
//! highest state this node ever signed. The node writes a record (in one
//! write transaction, synced to disk) **before** it sends a signature on a new
//! state, so killed at any point it never loses a state it co-signed and
//! never signs two different states with one version: after a restart its
//! next state's version is past `signed`. A routed payment's hash lock and
//! secret ([`HtlcRecord`]) are written in the same transaction as the
//! state that depends on them.

use anyhow::{Context, bail};
use commonware_codec::{Decode, DecodeExt, Encode};
use lakh_types::Address;
use lakh_types::codec::BoundedVec;
use lakh_types::codec::Text;
use lakh_types::modules::channel::{
    ChannelId, ChannelRef, ChannelState, Hash32, Lock, MAX_LOCKS, Sig64,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::path::Path;

use crate::wire::{MAX_ADDR_CHARS, PaywordTerms};

/// Bumped when the tables' layout changes; a store of another version is refused.
const SCHEMA_VERSION: u32 = 3;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const CHANNELS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("channels");
const WATCHED: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("watched");
const PAYWORD: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("payword");
const HTLCS: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("htlcs");
/// Added after version 2 without a bump: an older store just gets the table.
const PAYWORD_OUT: TableDefinition<&[u8; 32], &[u8]> = TableDefinition::new("payword_out");

const SCHEMA_KEY: &str = "schema_version";
const OWNER_KEY: &str = "owner";

lakh_types::tagged_enum! {
    /// Where a channel is in its life, as this node last saw it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Phase {
        /// Payments flow.
        0x01 => Open {},
        /// A participant closed it; disputes are taken until `deadline_height`.
        0x02 => Closing {
            deadline_height: u64,
        },
        /// Paid out on chain (or settled): nothing more to do.
        0x03 => Closed {},
    }
}

impl Phase {
    /// The phase's name for `list`.
    pub fn name(&self) -> &'static str {
        match self {
            Phase::Open {} => "open",
            Phase::Closing { .. } => "closing",
            Phase::Closed {} => "closed",
        }
    }
}

lakh_types::codec_struct! {
    /// One channel as this node keeps it.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct ChannelRecord {
        /// The channel.
        pub reference: ChannelRef,
        /// This node's index among the participants.
        pub me: u8,
        /// Length of the challenge window (blocks).
        pub challenge_blocks: u64,
        /// Where the peer listens (empty: unknown, the peer dials).
        pub peer_listen: Text<MAX_ADDR_CHARS>,
        /// The latest state both signed (version 0: the opening state the chain created).
        pub latest: ChannelState,
        /// Its signatures, in participant order (`None` for the opening state).
        pub latest_signatures: Option<[Sig64; 2]>,
        /// The hash locks `latest` commits to, in its order.
        pub latest_locks: BoundedVec<Lock, MAX_LOCKS>,
        /// The highest state this node signed; its version is ≥ `latest`'s.
        pub signed: ChannelState,
        /// Where the channel is in its life.
        pub phase: Phase,
        /// Co-signed updates this node sent and received (for `list`).
        pub updates: u64,
        /// A co-signed withdrawal not yet seen on chain: no state is signed
        /// while it is pending.
        pub withdrawal: Option<PendingWithdrawal>,
    }
}

lakh_types::codec_struct! {
    /// A withdrawal both signed: the state after it with both signatures
    /// under the withdraw namespace (what the chain takes until
    /// `expiry_height`) and under the state namespace (to close with it).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct PendingWithdrawal {
        pub state: ChannelState,
        pub expiry_height: u64,
        pub signatures: [Sig64; 2],
        pub state_signatures: [Sig64; 2],
    }
}

lakh_types::codec_struct! {
    /// One lock of a routed payment on a channel: which one, when it
    /// expires, and the version of the state that added it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Hop {
        pub channel: ChannelId,
        pub expiry_height: u64,
        /// A co-signed state of at least this version without the lock
        /// means no state with it can pay any more.
        pub added_version: u64,
    }
}

lakh_types::codec_struct! {
    /// A routed payment as this node takes part in it, by hash lock: as its
    /// payee (it made the secret), its intermediary (a lock in, a lock out)
    /// or its payer (a lock out).
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct HtlcRecord {
        pub hash_lock: Hash32,
        pub amount: u128,
        /// The final payee.
        pub payee: Address,
        /// The preimage, once known (the payee knows it from the start).
        pub secret: Option<Hash32>,
        /// The lock this node is paid by.
        pub incoming: Option<Hop>,
        /// The lock this node pays by.
        pub outgoing: Option<Hop>,
        /// The payment will not go through here: the incoming lock may be refunded.
        pub failed: bool,
    }
}

impl ChannelRecord {
    /// The other participant.
    pub fn peer(&self) -> Address {
        self.reference.participants[1 - usize::from(self.me)]
    }

    /// This node's address.
    pub fn owner(&self) -> Address {
        self.reference.participants[usize::from(self.me)]
    }

    /// The next version this node may sign: past every state it signed.
    pub fn next_version(&self) -> u64 {
        self.signed.version.max(self.latest.version) + 1
    }
}

lakh_types::codec_struct! {
    /// A channel this node watches for someone else: the newest state it was given.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct WatchedRecord {
        pub reference: ChannelRef,
        pub state: ChannelState,
        pub signatures: [Sig64; 2],
        /// Version of the last dispute this node submitted (0: none).
        pub disputed: u64,
        pub done: bool,
    }
}

lakh_types::codec_struct! {
    /// A PayWord channel this node is paid through: the deepest word received.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct PaywordRecord {
        pub terms: PaywordTerms,
        pub depth: u32,
        pub word: Hash32,
    }
}

lakh_types::codec_struct! {
    /// A PayWord channel this node pays through: its terms, the seed of its
    /// hash chain (payment `k` is `sha256^(length − k)(seed)`), and where
    /// the payee listens.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct PaywordOutRecord {
        pub terms: PaywordTerms,
        pub seed: Hash32,
        pub peer_listen: Text<MAX_ADDR_CHARS>,
    }
}

/// The store.
pub struct Store {
    db: Database,
}

fn storage(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("channel store: {e}")
}

impl Store {
    /// Opens (or creates) the store at `path` for `owner`; a store written
    /// for another key is refused.
    pub fn open(path: &Path, owner: &Address) -> anyhow::Result<Store> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        let db = Database::create(path)
            .with_context(|| format!("cannot open the channel store {}", path.display()))?;
        let tx = db.begin_write().map_err(storage)?;
        {
            let mut meta = tx.open_table(META).map_err(storage)?;
            let schema = meta
                .get(SCHEMA_KEY)
                .map_err(storage)?
                .map(|v| v.value().to_vec());
            match schema {
                None => {
                    meta.insert(SCHEMA_KEY, SCHEMA_VERSION.to_be_bytes().as_slice())
                        .map_err(storage)?;
                    meta.insert(OWNER_KEY, owner.as_bytes().as_slice())
                        .map_err(storage)?;
                }
                Some(v) if v == SCHEMA_VERSION.to_be_bytes() => {
                    let stored = meta
                        .get(OWNER_KEY)
                        .map_err(storage)?
                        .map(|v| v.value().to_vec());
                    if stored.as_deref() != Some(owner.as_bytes().as_slice()) {
                        bail!(
                            "{} belongs to another key than {owner}; use another --data directory",
                            path.display()
                        );
                    }
                }
                Some(v) => bail!(
                    "{} was written by another version of the channel node (store schema {}, this one reads {SCHEMA_VERSION}): close its channels with that version, then move it aside",
                    path.display(),
                    <[u8; 4]>::try_from(v.as_slice()).map_or_else(
                        |_| "unknown".to_string(),
                        |b| u32::from_be_bytes(b).to_string()
                    )
                ),
            }
            tx.open_table(CHANNELS).map_err(storage)?;
            tx.open_table(WATCHED).map_err(storage)?;
            tx.open_table(PAYWORD).map_err(storage)?;
            tx.open_table(HTLCS).map_err(storage)?;
            tx.open_table(PAYWORD_OUT).map_err(storage)?;
        }
        tx.commit().map_err(storage)?;
        Ok(Store { db })
    }

    /// Writes `records` in one transaction, synced before it returns.
    pub fn put(&self, records: &[&ChannelRecord]) -> anyhow::Result<()> {
        self.put_all(records, &[], &[])
    }

    /// Writes channels, PayWord channels and routed payments in one
    /// transaction, synced before it returns.
    pub fn put_all(
        &self,
        records: &[&ChannelRecord],
        paywords: &[&PaywordRecord],
        htlcs: &[&HtlcRecord],
    ) -> anyhow::Result<()> {
        if records.is_empty() && paywords.is_empty() && htlcs.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut table = tx.open_table(CHANNELS).map_err(storage)?;
            for r in records {
                table
                    .insert(&r.reference.id.0, r.encode().as_ref())
                    .map_err(storage)?;
            }
            let mut table = tx.open_table(PAYWORD).map_err(storage)?;
            for r in paywords {
                table
                    .insert(&r.terms.channel.id.0, r.encode().as_ref())
                    .map_err(storage)?;
            }
            let mut table = tx.open_table(HTLCS).map_err(storage)?;
            for r in htlcs {
                table
                    .insert(&r.hash_lock.0, r.encode().as_ref())
                    .map_err(storage)?;
            }
        }
        tx.commit().map_err(storage)
    }

    /// Every routed payment this node took part in.
    pub fn htlcs(&self) -> anyhow::Result<Vec<HtlcRecord>> {
        read_all(&self.db, HTLCS)
    }

    /// Every channel record.
    pub fn channels(&self) -> anyhow::Result<Vec<ChannelRecord>> {
        read_all(&self.db, CHANNELS)
    }

    /// One channel's record.
    pub fn channel(&self, id: &ChannelId) -> anyhow::Result<Option<ChannelRecord>> {
        let tx = self.db.begin_read().map_err(storage)?;
        let table = tx.open_table(CHANNELS).map_err(storage)?;
        match table.get(&id.0).map_err(storage)? {
            Some(v) => Ok(Some(
                ChannelRecord::decode(bytes::Bytes::copy_from_slice(v.value())).map_err(storage)?,
            )),
            None => Ok(None),
        }
    }

    /// Writes a watched channel.
    pub fn put_watched(&self, record: &WatchedRecord) -> anyhow::Result<()> {
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut table = tx.open_table(WATCHED).map_err(storage)?;
            table
                .insert(&record.reference.id.0, record.encode().as_ref())
                .map_err(storage)?;
        }
        tx.commit().map_err(storage)
    }

    /// Every watched channel.
    pub fn watched(&self) -> anyhow::Result<Vec<WatchedRecord>> {
        read_all(&self.db, WATCHED)
    }

    /// Writes PayWord records in one transaction.
    pub fn put_payword(&self, records: &[&PaywordRecord]) -> anyhow::Result<()> {
        self.put_all(&[], records, &[])
    }

    /// Every PayWord channel this node is paid through.
    pub fn paywords(&self) -> anyhow::Result<Vec<PaywordRecord>> {
        read_all(&self.db, PAYWORD)
    }

    /// Forgets a PayWord channel this node was paid through (claimed on chain).
    pub fn delete_payword(&self, id: &ChannelId) -> anyhow::Result<()> {
        self.delete(PAYWORD, id)
    }

    /// Forgets a PayWord channel this node paid through (paid out on chain).
    pub fn delete_payword_out(&self, id: &ChannelId) -> anyhow::Result<()> {
        self.delete(PAYWORD_OUT, id)
    }

    fn delete(
        &self,
        table: TableDefinition<&[u8; 32], &[u8]>,
        id: &ChannelId,
    ) -> anyhow::Result<()> {
        let tx = self.db.begin_write().map_err(storage)?;
        tx.open_table(table)
            .map_err(storage)?
            .remove(&id.0)
            .map_err(storage)?;
        tx.commit().map_err(storage)
    }

    /// Writes a PayWord channel this node pays through.
    pub fn put_payword_out(&self, record: &PaywordOutRecord) -> anyhow::Result<()> {
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut table = tx.open_table(PAYWORD_OUT).map_err(storage)?;
            table
                .insert(&record.terms.channel.id.0, record.encode().as_ref())
                .map_err(storage)?;
        }
        tx.commit().map_err(storage)
    }

    /// Every PayWord channel this node pays through.
    pub fn paywords_out(&self) -> anyhow::Result<Vec<PaywordOutRecord>> {
        read_all(&self.db, PAYWORD_OUT)
    }
}

fn read_all<T: commonware_codec::Read<Cfg = ()>>(
    db: &Database,
    def: TableDefinition<&[u8; 32], &[u8]>,
) -> anyhow::Result<Vec<T>> {
    let tx = db.begin_read().map_err(storage)?;
    let table = tx.open_table(def).map_err(storage)?;
    let mut out = Vec::new();
    for entry in table.iter().map_err(storage)? {
        let (_, v) = entry.map_err(storage)?;
        out.push(T::decode_cfg(bytes::Bytes::copy_from_slice(v.value()), &()).map_err(storage)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use lakh_types::AssetId;
    use lakh_types::modules::shielded::FixedBytes;

    fn record(version: u64) -> ChannelRecord {
        let reference = ChannelRef {
            id: FixedBytes([1; 32]),
            participants: [Address([2; 32]), Address([3; 32])],
            asset: AssetId(4),
        };
        let mut latest = ChannelState::opening(reference.id, 0, 100);
        latest.version = version;
        ChannelRecord {
            reference,
            me: 0,
            challenge_blocks: 3_600,
            peer_listen: Text::new("127.0.0.1:1").unwrap(),
            latest: latest.clone(),
            latest_signatures: Some([FixedBytes([5; 64]), FixedBytes([6; 64])]),
            latest_locks: BoundedVec::empty(),
            signed: latest,
            phase: Phase::Closing {
                deadline_height: 99,
            },
            updates: version,
            withdrawal: None,
        }
    }

    #[test]
    fn records_survive_reopening_and_the_owner_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("channels.redb");
        let owner = Address([2; 32]);
        {
            let store = Store::open(&path, &owner).unwrap();
            store.put(&[&record(1)]).unwrap();
            store.put(&[&record(7)]).unwrap();
        }
        let store = Store::open(&path, &owner).unwrap();
        let all = store.channels().unwrap();
        assert_eq!(all, vec![record(7)]);
        assert_eq!(all[0].next_version(), 8);
        assert_eq!(
            store.channel(&FixedBytes([1; 32])).unwrap(),
            Some(record(7))
        );
        assert_eq!(store.channel(&FixedBytes([9; 32])).unwrap(), None);
        drop(store);
        let err = Store::open(&path, &Address([3; 32])).err().unwrap();
        assert!(err.to_string().contains("another key"), "{err}");
    }

    #[test]
    fn a_store_of_another_schema_is_refused_with_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("channels.redb");
        let owner = Address([2; 32]);
        drop(Store::open(&path, &owner).unwrap());
        {
            let db = Database::create(&path).unwrap();
            let tx = db.begin_write().unwrap();
            tx.open_table(META)
                .unwrap()
                .insert(SCHEMA_KEY, 2u32.to_be_bytes().as_slice())
                .unwrap();
            tx.commit().unwrap();
        }
        let err = format!("{:#}", Store::open(&path, &owner).err().unwrap());
        assert!(err.contains("store schema 2, this one reads 3"), "{err}");
        assert!(err.contains("move it aside"), "{err}");
    }

    #[test]
    fn payword_and_watched_records_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("c.redb"), &Address([2; 32])).unwrap();
        let r = record(3);
        let watched = WatchedRecord {
            reference: r.reference,
            state: r.latest.clone(),
            signatures: [FixedBytes([1; 64]), FixedBytes([2; 64])],
            disputed: 0,
            done: false,
        };
        store.put_watched(&watched).unwrap();
        assert_eq!(store.watched().unwrap(), vec![watched]);
        let pw = PaywordRecord {
            terms: PaywordTerms {
                channel: r.reference,
                root: FixedBytes([8; 32]),
                length: 10,
                unit_amount: 5,
            },
            depth: 4,
            word: FixedBytes([9; 32]),
        };
        store.put_payword(&[&pw]).unwrap();
        assert_eq!(store.paywords().unwrap(), vec![pw.clone()]);
        let out = PaywordOutRecord {
            terms: pw.terms.clone(),
            seed: FixedBytes([7; 32]),
            peer_listen: Text::new("127.0.0.1:2").unwrap(),
        };
        store.put_payword_out(&out).unwrap();
        assert_eq!(store.paywords_out().unwrap(), vec![out]);
        store.delete_payword(&r.reference.id).unwrap();
        assert_eq!(store.paywords().unwrap(), vec![]);
        let htlc = HtlcRecord {
            hash_lock: FixedBytes([3; 32]),
            amount: 9,
            payee: Address([4; 32]),
            secret: Some(FixedBytes([5; 32])),
            incoming: Some(Hop {
                channel: r.reference.id,
                expiry_height: 77,
                added_version: 4,
            }),
            outgoing: None,
            failed: false,
        };
        store.put_all(&[], &[], &[&htlc]).unwrap();
        assert_eq!(store.htlcs().unwrap(), vec![htlc]);
    }
}
