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
use std::num::NonZeroUsize;

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

/// I/O sizes used by the state database.
pub struct StateIo {
    pub write_buffer: NonZeroUsize,
    pub replay_buffer: NonZeroUsize,
}

impl Default for StateIo {
    fn default() -> Self {
        StateIo {
            write_buffer: NZUsize!(1 << 20),
            replay_buffer: NZUsize!(8 << 20),
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
            items_per_blob: NZU64!(1 << 16),
            write_buffer: io.write_buffer,
            replay_buffer: io.replay_buffer,
            strategy,
            page_cache: page_cache.clone(),
        },
        journal_config: VariableJournalConfig {
            partition: format!("{prefix}-state-log"),
            items_per_section: NZU64!(1 << 16),
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
