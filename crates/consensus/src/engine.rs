//! Wiring of one validator: simplex consensus, marshal (block dissemination,
//! archive and backfill), the stateful application over QMDB, and the state
//! sync resolver. Generic over the runtime and the network so the same code
//! runs on the tokio runtime with authenticated p2p and in deterministic
//! simulations.

pub use crate::epochs::PeerSets;
use crate::{
    app::{Databases, LakhApp},
    block::Block,
    epochs::{EpochSchemes, Epochs, EpochsConfig},
    prune::{StateHistory, StatePruner},
    rest::Resting,
    shared::NodeShared,
};
use commonware_broadcast::buffered;
use commonware_consensus::{
    Reporters,
    marshal::{
        self,
        core::{Actor as MarshalActor, Mailbox as MarshalMailbox},
        resolver::p2p as marshal_resolver,
        standard::{Deferred, Standard},
    },
    simplex,
    types::{FixedEpocher, ViewDelta},
};
use commonware_cryptography::{Digestible, Sha256, ed25519, sha256};
use commonware_glue::stateful::{
    Config as StatefulConfig, Mailbox as StatefulMailbox, Stateful, SyncPlan,
    db::{DatabaseSet, SyncEngineConfig},
};
use commonware_p2p::{Blocker, Provider, Receiver, Sender};
use commonware_parallel::Sequential;
use commonware_runtime::{Handle, Quota, buffer::paged::CacheRef};
use commonware_storage::{archive::prunable, translator::TwoCap};
use commonware_utils::{NZDuration, NZU32, NZU64, NZUsize};
use futures::lock::Mutex as AsyncMutex;
use lakh_archive::{AccountFeed, AccountIndex, AssetRegistry, Indexer, Retention, archive_config};
use lakh_types::consensus_key::derive_consensus_key;
use std::{
    num::{NonZeroU16, NonZeroU64, NonZeroUsize},
    sync::{Arc, OnceLock},
    time::Duration,
};

pub use crate::block::Scheme;

pub use lakh_types::consensus_key::CONSENSUS_NAMESPACE;

/// p2p channel numbers and their per-peer rate limits.
pub mod channels {
    pub const VOTES: u64 = 0;
    pub const CERTIFICATES: u64 = 1;
    pub const RESOLVER: u64 = 2;
    pub const BACKFILL: u64 = 3;
    pub const BROADCAST: u64 = 4;
    pub const STATE_SYNC: u64 = 5;
    pub const TX_GOSSIP: u64 = 6;
    pub const ALL: [u64; 7] = [
        VOTES,
        CERTIFICATES,
        RESOLVER,
        BACKFILL,
        BROADCAST,
        STATE_SYNC,
        TX_GOSSIP,
    ];
}

/// Per-peer rate of every channel. The p2p layer preallocates each
/// channel's inbound queue, and the router's outbound one, at one burst per
/// allowed peer (peers per set times retained sets), so the burst, not the
/// rate, sets its memory. With 100-seat committees (202 peers) a burst of
/// 256 held about 700 MiB of queues per validator, resident from the
/// start; 64 holds a quarter of it. A peer past its burst is not dropped:
/// its reader waits for the rate (64 messages is 6.4 ms of it), and the
/// busiest channel sends a few messages per view to each peer.
pub fn channel_quota() -> Quota {
    Quota::per_second(NZU32!(10_000)).allow_burst(NZU32!(CHANNEL_BURST))
}

/// Messages a peer may send on one channel at once; see [`channel_quota`].
const CHANNEL_BURST: u32 = 64;

pub type Marshal = MarshalMailbox<Scheme, Standard<Block>>;
pub type App<E> = LakhApp<E>;

/// Largest p2p message any component sends (a full block dominates), with
/// the node's own channels sending at most `max_other_bytes`.
pub fn max_message_size(validators: u32, max_other_bytes: usize) -> u32 {
    commonware_p2p::max_message_size(&[
        simplex::max_payload_size::<Scheme, sha256::Digest>(validators),
        marshal::max_payload_size::<Standard<Block>, Scheme>(validators, &()),
        max_other_bytes,
    ])
}

const STATE_SYNC_BATCH: NonZeroU64 = NZU64!(1024);

/// Timeouts and sizes of the consensus engine.
#[derive(Clone, Debug)]
pub struct ConsensusTimeouts {
    pub leader_timeout: Duration,
    pub certification_timeout: Duration,
    pub timeout_retry: Duration,
    pub fetch_timeout: Duration,
}

impl Default for ConsensusTimeouts {
    /// A loaded leader needs a good part of a second to build a full block
    /// (and its stateful actor finalizes the previous one first): a 1 s
    /// leader timeout nullified views under load and wasted their builds.
    fn default() -> Self {
        ConsensusTimeouts {
            leader_timeout: Duration::from_millis(2000),
            certification_timeout: Duration::from_millis(3000),
            timeout_retry: Duration::from_millis(500),
            fetch_timeout: Duration::from_secs(2),
        }
    }
}

pub struct EngineConfig {
    /// This validator's identity; its consensus key derives from it.
    pub signer: ed25519::PrivateKey,
    /// Storage partitions of this validator start with this prefix.
    pub partition_prefix: String,
    pub shared: Arc<NodeShared>,
    pub timeouts: ConsensusTimeouts,
    /// Memory for the state database's page cache, in bytes (see
    /// [`DEFAULT_STATE_CACHE_BYTES`]).
    pub state_cache_bytes: usize,
    /// How many of the newest transactions' receipts the indexes keep.
    pub receipts_retention: Retention,
    /// How much of the state's history is kept, and in what files.
    pub state_history: StateHistory,
    /// Peers kept connected in every epoch besides its committees: the
    /// genesis validators and any configured full nodes.
    pub static_peers: Vec<(ed25519::PublicKey, std::net::SocketAddr)>,
    /// Set only to make this validator misbehave on purpose (tests and
    /// `lakh devnet --byzantine`, [`crate::byzantine`]).
    pub byzantine: Option<crate::byzantine::Misbehavior>,
}

/// Default size of the state page cache. Storage reads bypass the OS page
/// cache (`O_DIRECT`), so this cache is the only thing between a state read
/// and the disk: it should hold the live part of the state log and Merkle
/// journal. At 1,000,000 accounts that is a few hundred MiB: transfers ran at
/// 16,000 tx/s with the old shared 32 MiB cache and 42,497 with 1 GiB
/// (docs/PERFORMANCE.md).
pub const DEFAULT_STATE_CACHE_BYTES: usize = 1 << 30;

/// Handles a running validator exposes to its node (RPC, tests).
pub struct EngineHandles<
    E: commonware_storage::Context + commonware_runtime::Supervisor + commonware_runtime::Spawner,
> {
    pub marshal: Marshal,
    pub stateful: StatefulMailbox<E, App<E>>,
    /// Weak: the application owns the receipts archive, so a crashed or
    /// stopped validator releases it.
    pub indexer: std::sync::Weak<AsyncMutex<Indexer<E>>>,
    /// Each account's transactions; weak like the receipts index.
    pub accounts: std::sync::Weak<AccountFeed<E>>,
    /// Assets known to exist, fed by the receipts index.
    pub assets: Arc<AssetRegistry>,
    /// The state database, once the application has started.
    pub databases: Arc<OnceLock<Databases<E>>>,
}

impl<E> EngineHandles<E>
where
    E: commonware_storage::Context + commonware_runtime::Supervisor + commonware_runtime::Spawner,
{
    /// The receipts index, while the validator runs.
    pub fn indexer(&self) -> Option<Arc<AsyncMutex<Indexer<E>>>> {
        self.indexer.upgrade()
    }

    /// The account index, while the validator runs.
    pub fn accounts(&self) -> Option<Arc<AccountFeed<E>>> {
        self.accounts.upgrade()
    }
}

impl<E> Clone for EngineHandles<E>
where
    E: commonware_storage::Context + commonware_runtime::Supervisor + commonware_runtime::Spawner,
{
    fn clone(&self) -> Self {
        EngineHandles {
            marshal: self.marshal.clone(),
            stateful: self.stateful.clone(),
            indexer: self.indexer.clone(),
            accounts: self.accounts.clone(),
            assets: self.assets.clone(),
            databases: self.databases.clone(),
        }
    }
}

/// One registered channel pair.
pub type Pair<S, R> = (S, R);

pub struct Networks<S, R> {
    pub votes: Pair<S, R>,
    pub certificates: Pair<S, R>,
    pub resolver: Pair<S, R>,
    pub backfill: Pair<S, R>,
    pub broadcast: Pair<S, R>,
    pub state_sync: Pair<S, R>,
}

/// Logical page size whose page plus checksum fills exactly one 4 KiB disk
/// block, so a cache miss is one aligned block read.
const PAGE_SIZE: NonZeroU16 = commonware_runtime::buffer::paged::page_size(4096);
/// The state database's own page cache of about `bytes` (at least 16
/// pages), in pages aligned to disk blocks. `lakh bench ceilings` measures
/// the state stage with it, so the ceiling is the node's.
pub fn state_page_cache(bytes: usize) -> CacheRef {
    let pages = (bytes / usize::from(PAGE_SIZE.get())).max(16);
    CacheRef::new(
        PAGE_SIZE,
        NonZeroUsize::new(pages).expect("at least 16 pages"),
    )
}

/// Pages of the cache shared by the block, consensus and index stores.
const PAGE_CACHE_PAGES: usize = 8192;

/// The page cache the block, consensus and receipts-index stores share
/// (`lakh bench ceilings` records receipts through one like it).
pub fn archive_page_cache() -> CacheRef {
    CacheRef::new(PAGE_SIZE, NZUsize!(PAGE_CACHE_PAGES))
}

/// Items per section of the block and finalization archives.
const ARCHIVE_ITEMS_PER_SECTION: NonZeroU64 = NZU64!(4096);
pub(crate) const IO_BUFFER: NonZeroUsize = NZUsize!(1 << 20);
pub(crate) const REPLAY_BUFFER: NonZeroUsize = NZUsize!(8 << 20);

/// Genesis block of a network (identical on every node of it).
pub fn genesis_block<E>(genesis: &lakh_types::Genesis) -> Block
where
    E: commonware_storage::Context + commonware_runtime::Spawner + commonware_runtime::Supervisor,
{
    let target = <Databases<E> as DatabaseSet<E>>::initial_sync_targets();
    let tag = <Sha256 as commonware_cryptography::Hasher>::hash(&[genesis.to_json().as_bytes()]);
    Block::genesis(tag, target.root, target.range)
}

/// Builds and starts every actor of one validator. Returns the consensus
/// engine's handle and the handles the node's services use.
pub async fn start<E, S, R, P, B, T>(
    context: E,
    cfg: EngineConfig,
    networks: Networks<S, R>,
    peers: Peers<P, B, T>,
) -> (Handle<()>, EngineHandles<E>)
where
    E: crate::runtime::RuntimeContext,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    P: Provider<PublicKey = ed25519::PublicKey>,
    B: Blocker<PublicKey = ed25519::PublicKey> + Sync,
    T: PeerSets,
{
    start_observed(context, cfg, networks, peers, |m| m).await
}

/// Opens the account index, indexes what a crash left out, and starts the
/// task that indexes finalized blocks behind the chain.
async fn start_account_index<E: crate::runtime::RuntimeContext>(
    context: &E,
    prefix: &str,
    page_cache: &CacheRef,
    cfg: &EngineConfig,
    indexer: &Indexer<E>,
) -> Arc<AccountFeed<E>> {
    let mut index = AccountIndex::init(
        context.child("account_index"),
        prefix,
        page_cache.clone(),
        cfg.receipts_retention,
    )
    .await;
    index.recover(indexer).await;
    let (feed, woken) = AccountFeed::new(index);
    let weak = Arc::downgrade(&feed);
    let shared = cfg.shared.clone();
    context.child("account_feed").spawn(move |_| {
        AccountFeed::run(weak, woken, move |spent| {
            shared
                .metrics
                .time(crate::metrics::Stage::IndexAccounts, spent)
        })
    });
    feed
}

/// How a validator reaches its peers: who is connected, who to block, and
/// where to announce each epoch's peer set.
pub struct Peers<P, B, T> {
    pub provider: P,
    pub blocker: B,
    pub sets: T,
}

/// Like [`start`], with marshal's finalization reports passed through
/// `observe` (simulations use it to track agreement).
pub async fn start_observed<E, S, R, P, B, T, W, Rep>(
    context: E,
    cfg: EngineConfig,
    networks: Networks<S, R>,
    peers: Peers<P, B, T>,
    observe: W,
) -> (Handle<()>, EngineHandles<E>)
where
    T: PeerSets,
    W: FnOnce(StatefulMailbox<E, App<E>>) -> Rep,
    Rep: commonware_consensus::Reporter<Activity = marshal::Update<Block>>,
    E: crate::runtime::RuntimeContext,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
    P: Provider<PublicKey = ed25519::PublicKey>,
    B: Blocker<PublicKey = ed25519::PublicKey> + Sync,
{
    use commonware_cryptography::Signer as _;
    let public_key = cfg.signer.public_key();
    let prefix = cfg.partition_prefix.clone();
    let staking = cfg.shared.genesis.staking;
    let epoch_blocks = NonZeroU64::new(staking.epoch_blocks).expect("genesis was validated");
    let genesis_committee = lakh_execution::modules::stake::genesis_committee(&cfg.shared.genesis);
    let schemes = EpochSchemes::new(public_key.clone(), derive_consensus_key(&cfg.signer));
    schemes
        .register(&genesis_committee)
        .expect("the genesis committee is valid");
    let page_cache = archive_page_cache();
    let db_config = lakh_state::db::state_db_config(
        &prefix,
        state_page_cache(cfg.state_cache_bytes),
        Sequential,
        lakh_state::db::StateIo {
            items_per_section: cfg.state_history.items_per_section,
            ..Default::default()
        },
    );

    let resolver = marshal_resolver::init(
        context.child("marshal_resolver"),
        marshal_resolver::Config {
            public_key: public_key.clone(),
            peer_provider: peers.provider.clone(),
            blocker: peers.blocker.clone(),
            mailbox_size: NZUsize!(1024),
            fetch_timeout: NZDuration!(Duration::from_secs(2)),
            fetch_retry_delay: Duration::from_millis(200),
            priority_requests: false,
            priority_responses: false,
        },
        networks.backfill,
    );

    let (broadcast_engine, buffer) = buffered::Engine::new(
        context.child("broadcast"),
        buffered::Config {
            public_key: public_key.clone(),
            mailbox_size: NZUsize!(1024),
            deque_size: 32,
            priority: false,
            codec_config: (),
            peer_provider: peers.provider.clone(),
            strategy: Sequential,
        },
    );
    broadcast_engine.start(networks.broadcast);

    let finalizations_by_height = prunable::Archive::init(
        context.child("finalizations_by_height"),
        archive_config(
            &prefix,
            "finalizations",
            page_cache.clone(),
            <Scheme as commonware_cryptography::certificate::Verifier>::certificate_codec_config_unbounded(),
            TwoCap,
            ARCHIVE_ITEMS_PER_SECTION,
        ),
    )
    .await
    .expect("failed to open the finalizations archive");
    let finalized_blocks = prunable::Archive::init(
        context.child("finalized_blocks"),
        archive_config(
            &prefix,
            "blocks",
            page_cache.clone(),
            (),
            TwoCap,
            ARCHIVE_ITEMS_PER_SECTION,
        ),
    )
    .await
    .expect("failed to open the blocks archive");

    let genesis = cfg.shared.genesis_block.clone();
    let plan = SyncPlan::init(context.child("sync_plan"), prefix.clone()).await;
    let _ = plan.should_sync(false);

    let (marshal_actor, marshal_mailbox, floor) =
        MarshalActor::<_, Standard<Block>, _, _, _, _, _>::init(
            context.child("marshal"),
            finalizations_by_height,
            finalized_blocks,
            marshal::Config {
                provider: schemes.clone(),
                epocher: FixedEpocher::new(epoch_blocks),
                start: plan.marshal_start(commonware_cryptography::Digested::precomputed(
                    genesis.clone(),
                    genesis.digest(),
                )),
                partition_prefix: prefix.clone(),
                mailbox_size: NZUsize!(1024),
                view_retention: ViewDelta::new(256),
                prunable_items_per_section: NZU64!(4096),
                page_cache: page_cache.clone(),
                replay_buffer: REPLAY_BUFFER,
                key_write_buffer: IO_BUFFER,
                value_write_buffer: IO_BUFFER,
                block_codec_config: (),
                max_repair: NZUsize!(64),
                max_pending_acks: NZUsize!(4),
                strategy: Sequential,
            },
        )
        .await;

    // The state-sync channel stays registered (so peers agree on channels)
    // but unused until peer state sync lands; catch-up replays blocks.
    drop(networks.state_sync);

    // Evidence seen before a crash is proposed again after it.
    cfg.shared
        .evidence
        .start(context.child("evidence"), &prefix)
        .await;

    let assets = Arc::new(AssetRegistry::from_genesis(&cfg.shared.genesis));
    let mut indexer = Indexer::init(
        context.child("indexer"),
        &prefix,
        page_cache.clone(),
        assets.clone(),
        cfg.receipts_retention,
    )
    .await;
    // Marshal's processed height is never above the state's: receipts a
    // crash left above it stay hidden until the replay applies their blocks.
    let processed_height = floor.processed().map_or(0, |p| p.height().get());
    indexer.hide_above(processed_height).await;
    let accounts = start_account_index(&context, &prefix, &page_cache, &cfg, &indexer).await;
    let indexer = Arc::new(AsyncMutex::new(indexer));
    let record_ahead =
        crate::record_ahead::start(&context, cfg.shared.clone(), Arc::downgrade(&indexer));
    let databases = Arc::new(OnceLock::new());
    let application = LakhApp {
        shared: cfg.shared.clone(),
        indexer: indexer.clone(),
        accounts: accounts.clone(),
        verifiers: Arc::default(),
        pruner: Arc::new(StatePruner::new(
            cfg.state_history,
            databases.clone(),
            cfg.shared.clone(),
        )),
    };
    let (stateful_actor, stateful_mailbox) = Stateful::new(
        context.child("stateful"),
        StatefulConfig {
            application,
            db_config,
            provider: (),
            marshal: (marshal_mailbox.clone(), floor),
            mailbox_size: NZUsize!(1024),
            plan,
            resolvers: crate::nosync::NoStateSync,
            sync_config: SyncEngineConfig {
                fetch_batch_size: STATE_SYNC_BATCH,
                apply_batch_size: NZU64!(4096),
                max_outstanding_requests: NZUsize!(8),
            },
            prune_config: None,
            strategy: Sequential,
        },
    );

    // A leader with nothing to include waits for a transaction or the
    // genesis heartbeat, at most half its leader timeout (crate::rest).
    let resting = Resting::new(
        stateful_mailbox.clone(),
        cfg.shared.clone(),
        cfg.timeouts.leader_timeout / 2,
    );
    let deferred = Deferred::new(
        context.child("deferred"),
        resting,
        marshal_mailbox.clone(),
        FixedEpocher::new(epoch_blocks),
    );
    {
        let mailbox = stateful_mailbox.clone();
        let cell = databases.clone();
        context.child("databases").spawn(move |_| async move {
            let dbs = mailbox.subscribe_databases().await;
            let _ = cell.set(dbs);
        });
    }

    // The engine of each epoch runs under the epochs actor, which takes the
    // validator's root context: aborting its handle stops every actor
    // spawned from it (a crash stops the whole validator).
    let (epochs, epochs_mailbox) = Epochs::new(
        context,
        EpochsConfig {
            schemes,
            marshal: marshal_mailbox.clone(),
            application: deferred,
            blocker: peers.blocker,
            peers: peers.sets,
            static_peers: cfg.static_peers.clone(),
            epoch_blocks,
            genesis_committee,
            genesis_digest: genesis.digest(),
            partition_prefix: prefix.clone(),
            timeouts: cfg.timeouts.clone(),
            page_cache,
            finalizations: cfg.shared.finalizations.clone(),
            record_ahead,
            evidence: cfg.shared.evidence.clone(),
            byzantine: cfg.byzantine,
        },
    );
    let reporters = Reporters::from((observe(stateful_mailbox.clone()), epochs_mailbox));
    marshal_actor.start(reporters, buffer, resolver);
    stateful_actor.start();

    let handle = epochs
        .start(networks.votes, networks.certificates, networks.resolver)
        .await;
    (
        handle,
        EngineHandles {
            marshal: marshal_mailbox,
            stateful: stateful_mailbox,
            indexer: Arc::downgrade(&indexer),
            accounts: Arc::downgrade(&accounts),
            assets,
            databases,
        },
    )
}
