//! `lakh devnet`, `lakh genesis` and `lakh node`: defining a network and
//! running its validators.

use crate::{keys, seed};
use anyhow::{Context, Result, bail};
use commonware_cryptography::{Signer, ed25519::PrivateKey};
use commonware_math::algebra::Random;
use lakh_consensus::byzantine::Misbehavior;
use lakh_consensus::engine::ConsensusTimeouts;
pub use lakh_node::config::Peer;
use lakh_node::config::{NodeFile, peer_pairs};
use lakh_node::run::{RunConfig, ValidatorSpec, run};
use lakh_types::{
    Address, AssetId, Genesis, Symbol,
    committee::StakingParams,
    genesis::{BlockParams, GenesisAccount, GenesisAsset, GenesisValidator},
    modules::shielded::ShieldedGenesis,
};
use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

/// Demo accounts every devnet funds.
pub const DEMO_ACCOUNTS: [&str; 4] = ["alice", "bob", "carol", "dave"];
/// Chain id of devnets.
pub const DEVNET_CHAIN_ID: u64 = 1337;
/// 10^9 base units make one LAKH.
const ONE_LAKH: u128 = 1_000_000_000;
/// 10^6 base units make one USDC.
const ONE_USDC: u128 = 1_000_000;
/// 10^18 base units make one ETH.
const ONE_ETH: u128 = 1_000_000_000_000_000_000;
/// 10^8 base units make one BTC.
const ONE_BTC: u128 = 100_000_000;

/// Demo assets of every devnet besides the native token: (id, symbol,
/// decimals, what each demo account and the admin hold).
pub const DEMO_ASSETS: [(u64, &str, u8, u128); 3] = [
    (1, "USDC", 6, 10_000_000 * ONE_USDC),
    (2, "ETH", 18, 1_000 * ONE_ETH),
    (3, "BTC", 8, 100 * ONE_BTC),
];

pub fn default_data_dir() -> PathBuf {
    let home = std::env::var("HOME").unwrap_or_else(|_| ".".into());
    PathBuf::from(home).join(".lakh").join("devnet")
}

/// A free TCP port, out of the range outgoing connections draw from.
pub fn free_port() -> Result<u16> {
    lakh_node::ports::free_port().context("cannot find a free TCP port")
}

/// Committee and epoch parameters of a new network (the genesis defaults
/// where not given).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct EpochArgs {
    /// Validators elected into each epoch's committee, by stake; the others
    /// stand by [default: 100]
    #[arg(long)]
    pub committee_size: Option<usize>,
    /// Blocks per epoch: the committee can change at each epoch's end
    /// [default: 3600]
    #[arg(long)]
    pub epoch_blocks: Option<u64>,
}

impl EpochArgs {
    /// The genesis staking parameters these flags ask for.
    pub fn staking(&self) -> StakingParams {
        let d = StakingParams::default();
        StakingParams {
            committee_size: self.committee_size.unwrap_or(d.committee_size),
            epoch_blocks: self.epoch_blocks.unwrap_or(d.epoch_blocks),
            ..d
        }
    }

    /// Refuses flags that contradict an existing network's genesis.
    fn check_matches(&self, found: &StakingParams, data_dir: &Path) -> Result<()> {
        let differs = |given: Option<u64>, stored: u64| given.is_some_and(|g| g != stored);
        if differs(
            self.committee_size.map(|c| c as u64),
            found.committee_size as u64,
        ) || differs(self.epoch_blocks, found.epoch_blocks)
        {
            bail!(
                "{} holds a devnet with --committee-size {} --epoch-blocks {}; pass those or use another --data-dir",
                data_dir.display(),
                found.committee_size,
                found.epoch_blocks
            );
        }
        Ok(())
    }
}

/// Writes a new network definition into `dir`: `genesis.json`, validator keys
/// under `dir/validators/`, demo account keys under `dir/keys/`, and one
/// `node-I.toml` per validator. With `shielded`, the chain verifies shielded
/// proofs with its key instead of the devnet's. Returns the genesis.
pub fn write_network(
    dir: &Path,
    validators: usize,
    chain_id: u64,
    p2p_ports: &[u16],
    staking: StakingParams,
    shielded: Option<ShieldedGenesis>,
) -> Result<Genesis> {
    if validators == 0 || p2p_ports.len() != validators {
        bail!("a network needs at least one validator and one p2p port per validator");
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let vdir = dir.join("validators");
    let kdir = dir.join("keys");
    let mut gvalidators = Vec::new();
    for (i, port) in p2p_ports.iter().enumerate() {
        let key = PrivateKey::random(rand::rng());
        keys::write_key(&vdir, &format!("validator-{i}"), &key)?;
        gvalidators.push(GenesisValidator::new(
            &key,
            SocketAddr::from(([127, 0, 0, 1], *port)),
            1_000_000 * ONE_LAKH,
        ));
    }
    let mut accounts = Vec::new();
    let mut holders = Vec::new();
    let mut alice = Address::default();
    for name in DEMO_ACCOUNTS {
        let key = PrivateKey::random(rand::rng());
        keys::write_key(&kdir, name, &key)?;
        let address = Address::from(&key.public_key());
        if name == "alice" {
            alice = address;
        }
        accounts.push(GenesisAccount {
            address,
            balance: 1_000_000 * ONE_LAKH,
        });
        holders.push(address);
    }
    // The admin performs the privileged module setup of a fresh network
    // (lending markets, oracle reporters, cover pools).
    let admin_key = PrivateKey::random(rand::rng());
    keys::write_key(&kdir, "admin", &admin_key)?;
    let admin = Address::from(&admin_key.public_key());
    accounts.push(GenesisAccount {
        address: admin,
        balance: 1_000_000 * ONE_LAKH,
    });
    holders.push(admin);
    let assets = DEMO_ASSETS
        .iter()
        .map(|(id, symbol, decimals, each)| GenesisAsset {
            id: AssetId(*id),
            symbol: Symbol::new(symbol).expect("valid symbol"),
            decimals: *decimals,
            issuer: alice,
            max_supply: None,
            balances: holders
                .iter()
                .map(|address| GenesisAccount {
                    address: *address,
                    balance: *each,
                })
                .collect(),
        })
        .collect();
    let genesis = Genesis {
        chain_id,
        native_symbol: Symbol::new("LAKH").expect("valid"),
        native_decimals: 9,
        fees: Default::default(),
        block: BlockParams::default(),
        validators: gvalidators,
        accounts,
        assets,
        admin: Some(admin),
        staking,
        bridge: None,
        shielded,
    };
    lakh_execution::check_genesis(&genesis).map_err(anyhow::Error::msg)?;
    std::fs::write(dir.join("genesis.json"), genesis.to_json())?;
    for i in 0..validators {
        let cfg = NodeFile {
            data_dir: node_data_dir(dir, i),
            genesis: dir.join("genesis.json"),
            key: vdir.join(format!("validator-{i}.json")),
            rpc_addr: None,
            p2p_address: None,
            peers: Vec::new(),
            mempool_max_txs: None,
            state_cache_mib: None,
            receipts_retention_txs: None,
            l1_rpc: None,
            l1_from_block: None,
        };
        std::fs::write(
            dir.join(format!("node-{i}.toml")),
            toml::to_string_pretty(&cfg)?,
        )?;
    }
    Ok(genesis)
}

/// Where the config [`write_network`] writes for validator `index` keeps
/// its data.
pub fn node_data_dir(dir: &Path, index: usize) -> PathBuf {
    dir.join(format!("node-{index}"))
}

/// `LAKH_EXECUTOR=sequential|parallel` picks the block executor (default:
/// parallel on every core); sequential is kept to compare against.
fn executor_from_env() -> Result<lakh_execution::ExecutorKind> {
    match std::env::var("LAKH_EXECUTOR").as_deref() {
        Err(_) | Ok("") | Ok("parallel") => Ok(lakh_execution::ExecutorKind::default()),
        Ok("sequential") => Ok(lakh_execution::ExecutorKind::Sequential),
        Ok(other) => bail!("LAKH_EXECUTOR must be `parallel` or `sequential`, not {other:?}"),
    }
}

/// Loads a key file by path (`DIR/NAME.json`).
fn load_key_file(path: &Path) -> Result<PrivateKey> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_stem()
        .and_then(|s| s.to_str())
        .with_context(|| format!("bad key file name {}", path.display()))?;
    keys::load_key(dir, name)
}

pub fn load_genesis(path: &Path) -> Result<Genesis> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read genesis {}", path.display()))?;
    let genesis = Genesis::from_json(&text).map_err(anyhow::Error::msg)?;
    lakh_execution::check_genesis(&genesis).map_err(anyhow::Error::msg)?;
    Ok(genesis)
}

/// What `lakh devnet` runs.
pub struct DevnetConfig {
    pub validators: usize,
    pub epochs: EpochArgs,
    pub data_dir: PathBuf,
    /// RPC address of the first validator.
    pub rpc_addr: SocketAddr,
    /// Print the ready line as JSON.
    pub json: bool,
    /// Each validator's mempool bounds.
    pub mempool: lakh_mempool::MempoolConfig,
    /// Each validator's state page cache, in bytes.
    pub state_cache_bytes: usize,
    /// How many of the newest transactions' receipts each validator keeps.
    pub receipts_retention: lakh_archive::Retention,
    /// Nodes outside the genesis every validator keeps connected.
    pub peers: Vec<Peer>,
    /// Validators that misbehave on purpose (the last ones).
    pub byzantine: Option<Byzantine>,
    /// Start an anvil L1 with the bridge contracts, bridge the new chain to
    /// it, watch deposits and relay headers.
    pub l1: bool,
    /// The shielded verifying key a new devnet's genesis carries (`None`:
    /// the insecure devnet key); a resumed devnet must already hold it.
    pub shielded: Option<ShieldedGenesis>,
}

/// `--byzantine COUNT[:FAULT]`: the last COUNT validators of a devnet
/// misbehave as FAULT (`equivocate` by default, `nullify-finalize`,
/// `silent`; see `lakh_consensus::byzantine`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Byzantine {
    pub count: usize,
    pub how: Misbehavior,
}

impl std::str::FromStr for Byzantine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (count, how) = match s.split_once(':') {
            Some((count, how)) => (count, how.parse()?),
            None => (s, Misbehavior::Equivocate),
        };
        let count = count
            .parse()
            .map_err(|_| format!("{count:?} is not a number of validators"))?;
        Ok(Byzantine { count, how })
    }
}

impl Byzantine {
    /// Whether each of `validators` misbehaves (the last `count`),
    /// refusing more than the f = (n - 1) / 3 faults the others outvote.
    pub fn of(this: Option<Byzantine>, validators: usize) -> Result<Vec<Option<Misbehavior>>> {
        let Some(b) = this else {
            return Ok(vec![None; validators]);
        };
        let tolerated = validators.saturating_sub(1) / 3;
        if b.count > tolerated {
            bail!(
                "--byzantine {}: {validators} validators tolerate at most {tolerated} faulty ones",
                b.count
            );
        }
        Ok((0..validators)
            .map(|i| (i >= validators - b.count).then_some(b.how))
            .collect())
    }
}

/// Runs a local network of `validators` validators in this process. A new
/// directory gets a fresh network definition; an existing one resumes.
pub fn devnet(cfg: DevnetConfig) -> Result<()> {
    let DevnetConfig {
        validators,
        ref epochs,
        ref data_dir,
        rpc_addr,
        json,
        mempool,
        state_cache_bytes,
        receipts_retention,
        ref peers,
        byzantine,
        l1,
        ref shielded,
    } = cfg;
    let misbehaving = Byzantine::of(byzantine, validators)?;
    let genesis_path = data_dir.join("genesis.json");
    let genesis = if genesis_path.exists() {
        let g = load_genesis(&genesis_path)?;
        // The devnet's anvil keeps its state in memory only: the contracts
        // the genesis names, the escrow and the posted headers are gone.
        if l1 || g.bridge.is_some() {
            bail!(
                "{} holds a devnet bridged to an L1 that lived in its earlier run (anvil's state is not kept, so the bridge contract its genesis names is gone); resuming it is not supported, use a new --data-dir",
                data_dir.display()
            );
        }
        if g.validators.len() != validators {
            bail!(
                "{} holds a devnet of {} validators; pass --validators {} or use another --data-dir",
                data_dir.display(),
                g.validators.len(),
                g.validators.len()
            );
        }
        epochs.check_matches(&g.staking, data_dir)?;
        if shielded.is_some() && g.shielded != *shielded {
            bail!(
                "{} holds a devnet whose genesis has another shielded verifying key than --shielded-params gives (a chain's key is fixed at genesis); drop the option or use a new --data-dir",
                data_dir.display()
            );
        }
        g
    } else {
        let ports = (0..validators)
            .map(|_| free_port())
            .collect::<Result<Vec<_>>>()?;
        write_network(
            data_dir,
            validators,
            DEVNET_CHAIN_ID,
            &ports,
            epochs.staking(),
            shielded.clone(),
        )?
    };
    let (anvil, devnet_l1, genesis) = if l1 {
        let (anvil, info, section) = crate::bridge::setup_devnet_l1(&genesis, data_dir)?;
        let mut genesis = genesis;
        genesis.bridge = Some(section);
        lakh_execution::check_genesis(&genesis).map_err(anyhow::Error::msg)?;
        std::fs::write(&genesis_path, genesis.to_json())?;
        (Some(anvil), Some(info), genesis)
    } else {
        (None, None, genesis)
    };
    let bridge_address = match &devnet_l1 {
        Some(info) => Some(crate::bridge::parse_l1_address(&info.bridge)?),
        None => None,
    };
    let vdir = data_dir.join("validators");
    let mut specs = Vec::new();
    for (i, byzantine) in misbehaving.iter().enumerate().take(validators) {
        specs.push(ValidatorSpec {
            signer: keys::load_key(&vdir, &format!("validator-{i}"))?,
            rpc_addr: (i == 0).then_some(rpc_addr),
            p2p_address: None,
            byzantine: *byzantine,
            partition_file: None,
            // Each validator reads L1 through its own watcher.
            l1_view: match (&devnet_l1, bridge_address) {
                (Some(info), Some(bridge)) => Some(crate::bridge::spawn_watcher(
                    &info.l1_rpc,
                    bridge,
                    info.from_block,
                )?),
                _ => None,
            },
        });
    }
    let keys_dir = data_dir.join("keys");
    let chain_id = genesis.chain_id;
    let seed_dir = data_dir.to_path_buf();
    let relay_genesis = genesis.clone();
    let on_ready = move |_: usize, addr: SocketAddr| {
        let keys_dir = keys_dir.clone();
        let seed_dir = seed_dir.clone();
        let devnet_l1 = devnet_l1.clone();
        if let Some(info) = &devnet_l1
            && let Err(e) = crate::bridge::spawn_devnet_relayer(
                info,
                relay_genesis.clone(),
                format!("http://{addr}"),
            )
        {
            eprintln!("lakh devnet: cannot start the relayer: {e:#}");
        }
        // Seeding talks to this node over RPC, so it runs beside the node's
        // runtime; the devnet is announced once it is usable, and the thread
        // then keeps the oracle prices fresh.
        std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    let e = anyhow::Error::from(e);
                    let a = Announced {
                        validators,
                        chain_id,
                        addr,
                        l1: devnet_l1.as_ref(),
                    };
                    return announce(json, &a, &keys_dir, Err(e));
                }
            };
            rt.block_on(seed_and_keep_prices(
                json,
                Announced {
                    validators,
                    chain_id,
                    addr,
                    l1: devnet_l1.as_ref(),
                },
                &keys_dir,
                &seed_dir,
            ));
        });
    };
    let result = run(RunConfig {
        data_dir: data_dir.to_path_buf(),
        genesis,
        validators: specs,
        peers: peer_pairs(peers),
        worker_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        timeouts: ConsensusTimeouts::default(),
        executor: executor_from_env()?,
        mempool,
        state_cache_bytes,
        receipts_retention,
        on_rpc_ready: Some(Box::new(on_ready)),
        l1_view: None,
    });
    drop(anvil);
    result
}

/// What the ready line names.
struct Announced<'a> {
    validators: usize,
    chain_id: u64,
    addr: SocketAddr,
    l1: Option<&'a crate::bridge::DevnetL1>,
}

/// The devnet's ready line as `--json` prints it.
#[derive(serde::Serialize)]
struct ReadyLine<'a> {
    event: &'static str,
    rpc: String,
    explorer: String,
    chain_id: u64,
    keys: &'a Path,
    defi: &'a str,
    demo: &'a Option<seed::Demo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    l1_rpc: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    l1_chain_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    light_client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bridge: Option<&'a str>,
}

/// Seeds the DeFi demo (first start only), announces the devnet, then runs
/// the price keeper until the process ends.
async fn seed_and_keep_prices(
    json: bool,
    announced: Announced<'_>,
    keys_dir: &Path,
    data_dir: &Path,
) {
    let addr = announced.addr;
    let client = match lakh_rpc::LakhClient::connect(&format!("http://{addr}")) {
        Ok(c) => c,
        Err(e) => return announce(json, &announced, keys_dir, Err(e.into())),
    };
    let seeded = seed::seed_devnet(&client, keys_dir, data_dir).await;
    let keeper = match &seeded {
        Ok(seeding) => {
            let mut keeper = seed::PriceKeeper::load(keys_dir);
            // Prices went stale while the devnet was down: refresh them
            // before announcing, so lending works right away.
            if let (Ok(k), seed::Seeding::Already(_)) = (&mut keeper, seeding)
                && let Err(e) = k.post(&client).await
            {
                eprintln!("lakh devnet: cannot refresh oracle prices: {e:#}");
            }
            keeper.ok()
        }
        Err(_) => None,
    };
    announce(json, &announced, keys_dir, seeded);
    if let Some(keeper) = keeper {
        keeper.run(&client).await;
    }
}

fn announce(json: bool, a: &Announced<'_>, keys_dir: &Path, seeded: Result<seed::Seeding>) {
    let (validators, chain_id, addr) = (a.validators, a.chain_id, a.addr);
    let (seed_line, demo) = match seeded {
        Ok(seed::Seeding::Fresh(d)) => (
            format!("seeded ({} steps, {} transactions)", d.steps, d.txs),
            Some(d),
        ),
        Ok(seed::Seeding::Already(d)) => ("already seeded".to_string(), d),
        Err(e) => (format!("NOT seeded: {e:#}"), None),
    };
    if json {
        let line = ReadyLine {
            event: "ready",
            rpc: format!("http://{addr}"),
            explorer: format!("http://{addr}{}", lakh_rpc::EXPLORER_PATH),
            chain_id,
            keys: keys_dir,
            defi: &seed_line,
            demo: &demo,
            l1_rpc: a.l1.map(|l| l.l1_rpc.as_str()),
            l1_chain_id: a.l1.map(|l| l.l1_chain_id),
            light_client: a.l1.map(|l| l.light_client.as_str()),
            bridge: a.l1.map(|l| l.bridge.as_str()),
        };
        match serde_json::to_string(&line) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("lakh devnet: cannot print the ready line: {e}"),
        }
    } else {
        println!("lakh devnet: {validators} validator(s), chain id {chain_id}");
        println!("  RPC     http://{addr}  (WebSocket ws://{addr})");
        println!(
            "  browse  http://{addr}{}  (the explorer)",
            lakh_rpc::EXPLORER_PATH
        );
        println!(
            "  keys    {}  ({}, admin, {}, {}, {})",
            keys_dir.display(),
            DEMO_ACCOUNTS.join(", "),
            seed::REPORTER_KEY,
            seed::ARTIST_KEY,
            seed::OPERATOR_KEY
        );
        println!("  DeFi    {seed_line}");
        if let Some(l1) = a.l1 {
            println!(
                "  L1      {} (anvil, chain id {}): bridge {}, light client {}",
                l1.l1_rpc, l1.l1_chain_id, l1.bridge, l1.light_client
            );
            let symbols: Vec<&str> = l1.tokens.iter().map(|t| t.symbol.as_str()).collect();
            println!(
                "  bridge  wraps {} on lakh; withdrawals pay {} s after their header is posted",
                symbols.join(", "),
                l1.challenge_seconds
            );
            println!("  deposit lakh wallet bridge deposit 1.5 --to alice");
        }
        if let Some(d) = &demo {
            println!(
                "  demo    farm {} (stake ETHUSDCLP, earn LAKH), book market {} (ETH/USDC), cover pool {}",
                d.farm, d.book_market, d.cover_pool
            );
            println!(
                "  oracle  the `{}` key reposts USDC, ETH, BTC, LAKH prices every {} blocks",
                seed::REPORTER_KEY,
                seed::KEEPER_EVERY_BLOCKS
            );
            if let Some(nft) = &d.nft {
                println!(
                    "  nft     collection {} by `{}` ({}% royalty split {}:{} with `{}`); AI-generated track {} ({}), attested by `{}`, listed at {} LAKH",
                    nft.collection,
                    seed::ARTIST_KEY,
                    seed::NFT_ROYALTY_BPS / 100,
                    seed::NFT_SPLIT_SHARES[0],
                    seed::NFT_SPLIT_SHARES[1],
                    seed::OPERATOR_KEY,
                    nft.token,
                    nft.track.display(),
                    seed::OPERATOR_KEY,
                    nft.listing.price / ONE_LAKH
                );
                println!(
                    "  buy it  lakh wallet nft buy --from dave --token {}",
                    nft.listing.token
                );
            }
        }
        println!("  try     lakh wallet transfer --from alice --to bob --amount 1.5");
    }
}

/// How `lakh node` runs beside its config file.
pub struct NodeOptions {
    /// Overrides the config's RPC address.
    pub rpc_addr: Option<SocketAddr>,
    pub byzantine: Option<Misbehavior>,
    /// See `lakh_node::partition`.
    pub partition_file: Option<PathBuf>,
}

pub fn node(config: &Path, options: NodeOptions) -> Result<()> {
    let text = std::fs::read_to_string(config)
        .with_context(|| format!("cannot read {}", config.display()))?;
    let cfg = NodeFile::parse(&text)
        .map_err(|e| anyhow::anyhow!("{} is not a valid node config: {e}", config.display()))?;
    let base = config.parent().unwrap_or(Path::new("."));
    let resolve = |p: &Path| {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            base.join(p)
        }
    };
    let genesis = load_genesis(&resolve(&cfg.genesis))?;
    let key_path = resolve(&cfg.key);
    let signer = load_key_file(&key_path)?;
    let rpc_addr = options.rpc_addr.or(cfg.rpc_addr);
    let l1_view = node_l1_view(&genesis, &cfg)?;
    run(RunConfig {
        data_dir: resolve(&cfg.data_dir),
        genesis,
        validators: vec![ValidatorSpec {
            signer,
            rpc_addr,
            p2p_address: cfg.p2p_address,
            byzantine: options.byzantine,
            l1_view: None,
            partition_file: options.partition_file,
        }],
        peers: peer_pairs(&cfg.peers),
        worker_threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        timeouts: ConsensusTimeouts::default(),
        executor: executor_from_env()?,
        mempool: cfg.mempool().map_err(anyhow::Error::msg)?,
        state_cache_bytes: cfg.state_cache_bytes().map_err(anyhow::Error::msg)?,
        receipts_retention: cfg.receipts_retention(),
        on_rpc_ready: Some(Box::new(|_, addr| {
            println!(
                "RPC listening on http://{addr} (explorer http://{addr}{})",
                lakh_rpc::EXPLORER_PATH
            )
        })),
        l1_view,
    })
}

/// The node's L1 view: a watcher of the genesis bridge's deposits at the
/// config's `l1_rpc`. Without `l1_rpc` on a bridged chain the node still
/// runs (a full node needs no view, and a validator keeps finalizing every
/// block without deposits) but warns: as a validator it proposes no
/// deposits and refuses the blocks that carry them.
fn node_l1_view(
    genesis: &Genesis,
    cfg: &NodeFile,
) -> Result<Option<std::sync::Arc<dyn lakh_types::modules::bridge::L1View>>> {
    match (&genesis.bridge, &cfg.l1_rpc) {
        (Some(bridge), Some(url)) => {
            let address = crate::bridge::L1Addr::from(bridge.bridge_address.0);
            let view = crate::bridge::spawn_watcher(url, address, cfg.l1_from_block.unwrap_or(0))?;
            Ok(Some(view))
        }
        (Some(bridge), None) => {
            eprintln!(
                "warning: the genesis bridges this chain to L1 chain {} but the node config sets no l1_rpc: as a validator this node can neither propose nor verify blocks carrying L1 deposits (it refuses them); add l1_rpc = \"URL\" to the config",
                bridge.l1_chain_id
            );
            Ok(None)
        }
        (None, Some(_)) => {
            eprintln!(
                "warning: the config sets l1_rpc but the genesis has no bridge section; ignoring it"
            );
            Ok(None)
        }
        (None, None) => Ok(None),
    }
}
