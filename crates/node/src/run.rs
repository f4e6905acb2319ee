//! Running validators for real: commonware's tokio runtime, authenticated p2p
//! on the addresses of the genesis file, and the RPC server.

use crate::{
    gossip::MAX_GOSSIP_BYTES,
    partition::{self, PartitionFile},
    service::NodeService,
};
use anyhow::{Context as _, Result, bail};
use commonware_cryptography::{ChaCha20Poly1305, Signer as _, ed25519};
use commonware_p2p::{Address as P2pAddress, AddressableManager, authenticated::lookup};
use commonware_runtime::{
    Clock, Metrics as _, Runner as _, Spawner, Supervisor, tokio as cw_tokio,
};
use commonware_stream::{
    cups::{self, Cups},
    sake::{self, Sake},
};
use commonware_utils::{NZUsize, ordered::Map};
use lakh_consensus::{
    engine::{self, ConsensusTimeouts, EngineConfig, Networks, PeerSets, channels},
    metrics::Handle,
    prune::StateHistory,
    shared::NodeShared,
};
use lakh_mempool::MempoolConfig;
use lakh_rpc::{RpcConfig, RpcMetrics};
use lakh_types::{Genesis, address::parse_public_key, committee::MAX_COMMITTEE_SIZE};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};
use tracing::info;

/// Namespace of p2p handshakes.
pub const P2P_NAMESPACE: &[u8] = b"lakh/p2p/v1";

/// One validator run by this process.
pub struct ValidatorSpec {
    pub signer: ed25519::PrivateKey,
    /// RPC listen address; `None` serves no RPC.
    pub rpc_addr: Option<SocketAddr>,
    /// Where a node whose key is not in the genesis listens for p2p (and
    /// where its peers reach it); genesis validators use their genesis
    /// address when this is `None`.
    pub p2p_address: Option<SocketAddr>,
    /// Makes this validator misbehave on purpose (`--byzantine`; tests of
    /// the evidence pipeline): `None` for an honest one.
    pub byzantine: Option<lakh_consensus::byzantine::Misbehavior>,
    /// This validator's own L1 view; `None` uses [`RunConfig::l1_view`].
    pub l1_view: Option<Arc<dyn lakh_types::modules::bridge::L1View>>,
    /// Cuts this validator off from the peers a file lists
    /// (`--partition-file`; see [`crate::partition`]); `None` cuts nobody.
    pub partition_file: Option<PathBuf>,
}

pub struct RunConfig {
    /// Everything this process stores lives under this directory.
    pub data_dir: PathBuf,
    pub genesis: Genesis,
    pub validators: Vec<ValidatorSpec>,
    /// Nodes outside the genesis kept connected in every epoch (full
    /// nodes, validators registered later), with their p2p addresses: the
    /// p2p layer authenticates every peer, so a node nobody lists cannot
    /// connect until it sits in a committee.
    pub peers: Vec<(ed25519::PublicKey, SocketAddr)>,
    pub worker_threads: usize,
    pub timeouts: ConsensusTimeouts,
    pub executor: lakh_execution::ExecutorKind,
    /// Bounds of each validator's mempool.
    pub mempool: MempoolConfig,
    /// Each validator's state page cache, in bytes.
    pub state_cache_bytes: usize,
    /// How many of the newest transactions' receipts each validator keeps.
    pub receipts_retention: lakh_archive::Retention,
    /// Called with each RPC address once it listens (devnet prints it).
    pub on_rpc_ready: Option<Box<dyn Fn(usize, SocketAddr) + Send + Sync>>,
    /// The L1 bridge's finalized deposits as this process sees them (the
    /// `--l1-rpc` watcher), shared by its validators; `None` without a
    /// bridge. A validator without a view refuses every block carrying
    /// deposits and proposes none.
    pub l1_view: Option<Arc<dyn lakh_types::modules::bridge::L1View>>,
}

/// Version of the on-disk layout under `data_dir/store`. Bumped whenever a
/// store's encoding changes (v2: pages aligned to 4 KiB disk blocks), since
/// commonware storage opened with another layout truncates what it cannot
/// read instead of failing. v3: BLS multisignature certificates. v4:
/// block headers carry finalization certificates. v5: validator records
/// carry slashing state. v6: block headers carry evidence of consensus
/// faults, an evidence store sits beside them, and the block index keeps
/// each block's end-of-block events.
pub const STORE_FORMAT: &str = "lakh-store-v7";

/// Refuses a data directory written in another store format; stamps a new one.
fn check_store_format(data_dir: &Path) -> Result<()> {
    let marker = data_dir.join("store-format");
    let store = data_dir.join("store");
    let has_data = std::fs::read_dir(&store).is_ok_and(|mut d| d.next().is_some());
    match std::fs::read_to_string(&marker) {
        Ok(found) if found.trim() == STORE_FORMAT => Ok(()),
        Ok(found) => bail!(
            "{} holds a store in format {:?}; this lakh reads {STORE_FORMAT}. Use another --data-dir or remove this one",
            data_dir.display(),
            found.trim()
        ),
        Err(_) if has_data => bail!(
            "{} holds a store written by an older lakh (before {STORE_FORMAT}). Use another --data-dir or remove this one",
            data_dir.display()
        ),
        Err(_) => std::fs::write(&marker, format!("{STORE_FORMAT}\n"))
            .with_context(|| format!("cannot write {}", marker.display())),
    }
}

/// Announces each epoch's peers to the lookup network, with their addresses.
struct LookupPeers<O>(O);

impl<O> PeerSets for LookupPeers<O>
where
    O: AddressableManager<PublicKey = ed25519::PublicKey> + Clone + Send + Sync + 'static,
{
    fn track(&self, id: u64, peers: Vec<(ed25519::PublicKey, SocketAddr)>) {
        let book: Map<ed25519::PublicKey, P2pAddress> = match peers
            .into_iter()
            .map(|(k, a)| (k, P2pAddress::from(a)))
            .collect::<Vec<_>>()
            .try_into()
        {
            Ok(book) => book,
            Err(_) => {
                tracing::warn!(id, "peer set lists a key twice; not tracked");
                return;
            }
        };
        let mut oracle = self.0.clone();
        let _ = oracle.track(id, book);
    }
}

/// Registers validator `index`'s chain and RPC metrics (labelled
/// `validator="index"`) in the process's registry, which `GET /metrics` then
/// serves whole (commonware's runtime, p2p and storage metrics included).
/// Returns the RPC limits carrying its counters, and the handles that keep
/// the metrics exposed.
fn expose_metrics(
    context: &cw_tokio::Context,
    index: usize,
    service: &NodeService<cw_tokio::Context>,
    shared: &NodeShared,
) -> (RpcConfig, Vec<Handle>) {
    let labelled = context.child("lakh").with_attribute("validator", index);
    let mut handles = shared.metrics.register(&labelled);
    let rpc = RpcMetrics::default();
    handles.push(Box::new(labelled.register(
        "rpc_requests",
        "JSON-RPC calls answered, by method and status (ok or the error code)",
        rpc.requests.clone(),
    )));
    let registry = context.child("metrics");
    service.set_metrics(Box::new(move || registry.encode()));
    let cfg = RpcConfig {
        metrics: rpc,
        ..RpcConfig::default()
    };
    (cfg, handles)
}

/// Every node kept connected in every epoch: the genesis validators and the
/// configured peers (a key listed twice keeps its genesis address).
fn static_peers(
    genesis: &Genesis,
    extra: &[(ed25519::PublicKey, SocketAddr)],
) -> Vec<(ed25519::PublicKey, SocketAddr)> {
    let mut peers: Vec<(ed25519::PublicKey, SocketAddr)> = genesis
        .validators
        .iter()
        .map(|v| {
            (
                parse_public_key(&v.public_key).expect("validated"),
                v.p2p_address,
            )
        })
        .collect();
    for (key, address) in extra {
        if !peers.iter().any(|(k, _)| k == key) {
            peers.push((key.clone(), *address));
        }
    }
    peers
}

/// A genesis validator listens on its genesis address unless given
/// another; any other node must be given one.
fn listen_address(
    spec: &ValidatorSpec,
    static_peers: &[(ed25519::PublicKey, SocketAddr)],
) -> Result<SocketAddr> {
    let me = spec.signer.public_key();
    let known = static_peers.iter().find(|(k, _)| *k == me).map(|(_, a)| *a);
    spec.p2p_address.or(known).with_context(|| {
        format!(
            "key {} is not a validator of the genesis: give the node a p2p_address to listen on",
            hex::encode(me.as_ref())
        )
    })
}

/// Refuses to start when a p2p port is taken, with the port named, rather
/// than letting the p2p listener panic later.
fn check_ports_free(listens: &[SocketAddr]) -> Result<()> {
    for listen in listens {
        if !crate::ports::is_free(listen.port()) {
            bail!(
                "p2p port {} is in use by another process (another node on this genesis?); stop it, or start a devnet in another --data-dir",
                listen.port()
            );
        }
    }
    Ok(())
}

/// Largest peer set this node tracks: the static peers and two committees
/// (the previous and the current, see the epochs actor), plus itself.
fn max_peers_per_set(static_peers: usize, genesis: &Genesis) -> std::num::NonZeroUsize {
    let committees = 2 * genesis.staking.committee_size.min(MAX_COMMITTEE_SIZE);
    std::num::NonZeroUsize::new(static_peers + committees + 1).expect("positive")
}

/// Raised while the nodes of this process open storage in a data directory
/// that held none: commonware's storage then warns that its logs are empty,
/// which is news only when they held something before.
static OPENING_NEW_STORE: AtomicBool = AtomicBool::new(false);

/// Whether this process is creating its storage from nothing right now (the
/// CLI's default log filter mutes storage's empty-log warnings meanwhile).
pub fn opening_new_store() -> bool {
    OPENING_NEW_STORE.load(Ordering::Relaxed)
}

/// Says this process is (or no longer is) creating a store from nothing
/// outside [`run`], e.g. a bench's throwaway database.
pub fn set_opening_new_store(opening: bool) {
    OPENING_NEW_STORE.store(opening, Ordering::Relaxed);
}

/// Runs the validators until the process is stopped.
pub fn run(cfg: RunConfig) -> Result<()> {
    lakh_execution::check_genesis(&cfg.genesis).map_err(anyhow::Error::msg)?;
    OPENING_NEW_STORE.store(!cfg.data_dir.join("store").exists(), Ordering::Relaxed);
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("cannot create data directory {}", cfg.data_dir.display()))?;
    check_store_format(&cfg.data_dir)?;
    crate::storage_faults::install(cfg.data_dir.clone());
    let runtime = cw_tokio::Config::new()
        .with_worker_threads(cfg.worker_threads.max(2))
        .with_storage_directory(cfg.data_dir.join("store"))
        .with_catch_panics(false);
    let runner = cw_tokio::Runner::new(runtime);
    let static_peers = static_peers(&cfg.genesis, &cfg.peers);
    let listens = cfg
        .validators
        .iter()
        .map(|spec| listen_address(spec, &static_peers))
        .collect::<Result<Vec<_>>>()?;
    check_ports_free(&listens)?;
    let max_peers_per_set = max_peers_per_set(static_peers.len(), &cfg.genesis);
    let partition_files = cfg
        .validators
        .iter()
        .map(|spec| {
            spec.partition_file
                .clone()
                .map(PartitionFile::open)
                .transpose()
        })
        .collect::<Result<Vec<_>, _>>()?;
    runner.start(|context| async move {
        let peers = static_peers;
        let on_ready: Option<Arc<dyn Fn(usize, SocketAddr) + Send + Sync>> =
            cfg.on_rpc_ready.map(Arc::from);
        let mut handles = Vec::new();
        let mut servers = Vec::new();
        let mut metrics = Vec::new();
        let mut opening = Vec::new();
        let validators = cfg.validators.into_iter().zip(listens).zip(partition_files);
        for (index, ((spec, listen), partition_file)) in validators.enumerate() {
            let ctx = context.child("validator").with_attribute("index", index);
            let cut = partition_file.map(|file| {
                let cut = file.cut();
                file.watch(ctx.child("partition"));
                cut
            });
            let max_message = engine::max_message_size(MAX_COMMITTEE_SIZE as u32, MAX_GOSSIP_BYTES);
            let p2p_cfg = lookup::Config::local(
                Cups::<_, ChaCha20Poly1305>::new(
                    Sake {
                        signer: spec.signer.clone(),
                        synchrony_bound: Duration::from_secs(5),
                        max_handshake_age: Duration::from_secs(10),
                        version: sake::Version::V1,
                    },
                    cups::Version::V1,
                ),
                P2P_NAMESPACE,
                SocketAddr::new(std::net::Ipv4Addr::UNSPECIFIED.into(), listen.port()),
                max_peers_per_set,
                max_message,
                NZUsize!(4096),
            );
            let (mut network, oracle) = lookup::Network::new(ctx.child("network"), p2p_cfg);
            LookupPeers(oracle.clone()).track(0, peers.clone());
            let quota = engine::channel_quota();
            let mut reg = |c: u64| partition::wrap(network.register(c, quota), &cut);
            let networks = Networks {
                votes: reg(channels::VOTES),
                certificates: reg(channels::CERTIFICATES),
                resolver: reg(channels::RESOLVER),
                backfill: reg(channels::BACKFILL),
                broadcast: reg(channels::BROADCAST),
                state_sync: reg(channels::STATE_SYNC),
            };
            let gossip = reg(channels::TX_GOSSIP);
            network.start();

            let genesis_block = engine::genesis_block::<cw_tokio::Context>(&cfg.genesis);
            let shared = Arc::new(
                NodeShared::with_executor(
                    cfg.genesis.clone(),
                    genesis_block,
                    cfg.mempool.clone(),
                    cfg.executor,
                )
                .with_l1_view(spec.l1_view.clone().or_else(|| cfg.l1_view.clone())),
            );
            let (handle, engine_handles) = engine::start(
                ctx.child("engine"),
                EngineConfig {
                    signer: spec.signer.clone(),
                    partition_prefix: format!("v{index}"),
                    shared: shared.clone(),
                    timeouts: cfg.timeouts.clone(),
                    state_cache_bytes: cfg.state_cache_bytes,
                    receipts_retention: cfg.receipts_retention,
                    state_history: StateHistory::from_env(),
                    static_peers: peers.clone(),
                    byzantine: spec.byzantine,
                },
                networks,
                engine::Peers {
                    provider: oracle.clone(),
                    blocker: oracle.clone(),
                    sets: LookupPeers(oracle.clone()),
                },
            )
            .await;
            handles.push(handle);
            let service = NodeService::new(shared.clone(), engine_handles);
            opening.push(service.clone());
            crate::gossip::start(ctx.child("gossip"), service.clone(), gossip);
            let (rpc_cfg, exposed) = expose_metrics(&context, index, &service, &shared);
            metrics.extend(exposed);
            if let Some(addr) = spec.rpc_addr {
                let (bound, server) =
                    lakh_rpc::server::start_server_with(addr, service.clone(), rpc_cfg)
                        .await
                        .unwrap_or_else(|e| panic!("cannot serve RPC on {addr}: {e}"));
                info!(%bound, validator = index, "RPC listening");
                if let Some(cb) = on_ready.clone() {
                    let live = service.clone();
                    ctx.child("ready").spawn(move |ctx| async move {
                        while !live.is_live() {
                            ctx.sleep(Duration::from_millis(50)).await;
                        }
                        cb(index, bound);
                    });
                }
                // Dropping the handle would stop the server: it is kept
                // until the validators stop.
                servers.push(server);
            }
        }
        context.child("opened").spawn(move |ctx| async move {
            while !opening.iter().all(|s| s.is_live()) {
                ctx.sleep(Duration::from_millis(50)).await;
            }
            OPENING_NEW_STORE.store(false, Ordering::Relaxed);
        });
        futures::future::join_all(handles).await;
        for server in servers {
            // An error only says the server has stopped already.
            let _ = server.stop();
            server.stopped().await;
        }
        drop(metrics);
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_format_is_stamped_on_a_new_directory_and_checked_after() {
        let dir = tempfile::tempdir().unwrap();
        check_store_format(dir.path()).unwrap();
        let stamped = std::fs::read_to_string(dir.path().join("store-format")).unwrap();
        assert_eq!(stamped.trim(), STORE_FORMAT);
        std::fs::create_dir_all(dir.path().join("store/v0-state-log")).unwrap();
        check_store_format(dir.path()).expect("same format reopens");
    }

    #[test]
    fn a_store_without_or_with_another_format_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("store/v0-state-log")).unwrap();
        let err = check_store_format(dir.path()).unwrap_err().to_string();
        assert!(err.contains("older lakh"), "{err}");
        assert!(!dir.path().join("store-format").exists());

        std::fs::write(dir.path().join("store-format"), "lakh-store-v1\n").unwrap();
        let err = check_store_format(dir.path()).unwrap_err().to_string();
        assert!(err.contains("\"lakh-store-v1\""), "{err}");
    }
}
