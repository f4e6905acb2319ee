//! The state database: a QMDB `current` store keyed by the sha256 digest of a
//! [`StateKey`](crate::StateKey), valued by [`StateValue`](crate::StateValue).
//!
//! `current` (rather than `any`) is used because it can prove that a key holds a
//! value *now*, which is what a balance proof must show.

use crate::StateValue;
use commonware_cryptography::{Sha256, sha256};
use commonware_runtime::buffer::paged::CacheRef;
use commonware_storage::{
    journal::contiguous::variable::Config as VariableJournalConfig,
    merkle::{full::Config as MerkleConfig, mmr},
    qmdb::current::{self, VariableConfig},
    translator::EightCap,
};
use commonware_utils::{NZU64, NZUsize};
use std::num::{NonZeroU64, NonZeroUsize};

/// Bitmap chunk size (bytes) of the `current` database; proofs carry one chunk.
pub const CHUNK_BYTES: usize = 64;

/// Most digests a decoded proof may hold (bounds proof decoding).
pub const MAX_PROOF_DIGESTS: usize = 256;

/// The merkle family (MMR) the state is committed with.
pub type Family = mmr::Family;

/// The state database, generic over the runtime context `E` and the
/// merkleization strategy `S`.
pub type StateDb<E, S> = current::unordered::variable::Db<
    Family,
    E,
    sha256::Digest,
    StateValue,
    Sha256,
    EightCap,
    CHUNK_BYTES,
    S,
>;

/// The database's configuration type.
pub type StateDbConfig<S> = VariableConfig<EightCap, ((), ()), S>;

/// I/O sizes and file layout of the state database.
pub struct StateIo {
    pub write_buffer: NonZeroUsize,
    pub replay_buffer: NonZeroUsize,
    /// Operations (and Merkle nodes) per file of the log and the Merkle
    /// journal; pruning removes whole files. Fixed for a data directory.
    pub items_per_section: NonZeroU64,
}

impl Default for StateIo {
    fn default() -> Self {
        StateIo {
            write_buffer: NZUsize!(1 << 20),
            replay_buffer: NZUsize!(8 << 20),
            items_per_section: NZU64!(1 << 16),
        }
    }
}

/// The configuration of the state database stored under `prefix`.
pub fn state_db_config<S: commonware_parallel::Strategy>(
    prefix: &str,
    page_cache: CacheRef,
    strategy: S,
    io: StateIo,
) -> StateDbConfig<S> {
    current::Config {
        merkle_config: MerkleConfig {
            journal_partition: format!("{prefix}-state-merkle-journal"),
            metadata_partition: format!("{prefix}-state-merkle-metadata"),
            items_per_blob: io.items_per_section,
            write_buffer: io.write_buffer,
            replay_buffer: io.replay_buffer,
            strategy,
            page_cache: page_cache.clone(),
        },
        journal_config: VariableJournalConfig {
            partition: format!("{prefix}-state-log"),
            items_per_section: io.items_per_section,
            compression: None,
            codec_config: ((), ()),
            page_cache,
            write_buffer: io.write_buffer,
            replay_buffer: io.replay_buffer,
        },
        grafted_metadata_partition: format!("{prefix}-state-grafted-metadata"),
        translator: EightCap,
        init_cache: Some(NZUsize!(1 << 16)),
        init_buffer: NZUsize!(1 << 21),
        init_concurrency: (),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::{AccountState, StateKey};
    use commonware_runtime::{Runner as _, deterministic};
    use commonware_storage::qmdb::{current::batch::Slot, floor::Proportional};
    use commonware_utils::NZU16;
    use lakh_types::Address;

    /// Block building stages its reads (keeping each key's location) and
    /// hands merkleize one slot per read; the root must be the one plain
    /// writes give, or validators on the two paths would disagree.
    #[test]
    fn a_staged_batch_merkleizes_to_the_root_plain_writes_give() {
        deterministic::Runner::default().start(|context| async move {
            let cache = CacheRef::new(NZU16!(4096), NZUsize!(64));
            let config = state_db_config(
                "t",
                cache,
                commonware_parallel::Sequential,
                StateIo::default(),
            );
            let mut db = StateDb::init(context, config, None).await.unwrap();
            let digest = |i: u64| {
                let mut address = [0u8; 32];
                address[..8].copy_from_slice(&i.to_le_bytes());
                StateKey::Account(Address(address)).digest()
            };
            let value = |n: u64| {
                StateValue::Account(AccountState {
                    nonce: n,
                    native_balance: 10 * u128::from(n),
                })
            };
            let mut batch = db.new_batch();
            for i in 0..500 {
                batch = batch.write(digest(i), Some(value(i)));
            }
            let merkleized = batch.merkleize(&db, None, &mut Proportional).await.unwrap();
            db = db.apply_batch(merkleized).await.unwrap();
            db = db.commit().await.unwrap();

            // Reads of existing and absent keys; puts, deletes, keeps, and
            // one write to a key nobody read.
            let read: Vec<_> = (0..300).step_by(3).chain(900..910).map(digest).collect();
            let change = |at: usize| match at % 4 {
                0 => Slot::Put(value(1_000 + at as u64)),
                1 => Slot::Delete,
                _ => Slot::Keep,
            };
            let unstaged = vec![(digest(450), Some(value(7)))];

            let mut plain = db.new_batch();
            for (at, key) in read.iter().enumerate() {
                match change(at) {
                    Slot::Put(v) => plain = plain.write(*key, Some(v)),
                    Slot::Delete => plain = plain.write(*key, None),
                    Slot::Keep => {}
                }
            }
            for (key, v) in unstaged.clone() {
                plain = plain.write(key, v);
            }
            let plain = plain.merkleize(&db, None, &mut Proportional).await.unwrap();

            let refs: Vec<_> = read.iter().collect();
            let (values, staged) = db.new_batch().stage(&refs, &db).await.unwrap();
            assert_eq!(values.iter().filter(|v| v.is_some()).count(), 100);
            let slots = (0..read.len()).map(change).collect();
            let staged = staged
                .merkleize(slots, unstaged, None, &db, &mut Proportional)
                .await
                .unwrap();
            assert_eq!(staged.root(), plain.root());
        });
    }
}
