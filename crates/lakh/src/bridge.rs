//! The L1 side of the bridge as the binary runs it: the deposit watcher a
//! node of a bridged chain runs beside consensus, the relayer that posts
//! certified headers to the L1 light client (`lakh bridge relay`), and the
//! anvil plus contracts `lakh devnet --l1` starts.

use anyhow::{Context as _, Result, bail};
use lakh_consensus::block::{Header, carried_root, header_core};
use lakh_consensus::light::CommitteeChain;
use lakh_l1::contracts::{LakhBridge, LakhLightClient, TestToken};
use lakh_l1::relay::{CertifiedHeader, post_checkpoint};
use lakh_l1::watcher::L1Watcher;
use lakh_l1::{BridgeParams, GenesisMember, L1Provider};
use lakh_rpc::LakhClient;
use lakh_rpc::finality::{committee_verifier, verify_finality};
use lakh_rpc::types::FinalityInfo;
use lakh_types::committee::{Committee, FixedBytes};
use lakh_types::consensus_key::ConsensusPublicKey;
use lakh_types::modules::bridge::{BridgeCommitment, BridgeGenesis, BridgeToken, ETHER, L1View};
use lakh_types::{Genesis, Symbol};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use alloy::primitives::Address as L1Addr;
use alloy::primitives::{B256, U256};
use alloy::providers::Provider as _;

/// How often a watcher asks L1 for newly finalized deposits.
const WATCH_INTERVAL: Duration = Duration::from_millis(500);
/// How often the relayer looks at lakh's finalized head.
const RELAY_POLL: Duration = Duration::from_secs(1);
/// File in a devnet's data directory that says where its L1 is.
pub const DEVNET_L1_FILE: &str = "l1.json";
/// A devnet's challenge window: how long a posted header waits before
/// withdrawals against it pay.
pub const DEVNET_CHALLENGE_SECONDS: u64 = 600;
/// A devnet's reclaim delay for deposits no posted header applied.
const DEVNET_RECLAIM_SECONDS: u64 = 7 * 24 * 3600;
/// Test tokens minted to the devnet's L1 user account, in base units.
const DEVNET_TEST_TOKENS: u128 = 1_000_000 * 1_000_000_000_000_000_000;
/// anvil account that deploys the devnet's contracts (guardian).
const DEPLOYER_ACCOUNT: usize = 0;
/// anvil account the wallet uses on a devnet by default.
const USER_ACCOUNT: usize = 1;
/// anvil account the devnet's relayer posts with.
const RELAYER_ACCOUNT: usize = 3;

/// A read-only provider for `url` (the watcher signs nothing).
pub fn read_provider(url: &str) -> Result<L1Provider> {
    use alloy::providers::ProviderBuilder;
    let url = url
        .parse()
        .with_context(|| format!("{url:?} is not an L1 RPC URL"))?;
    let client = alloy::rpc::client::RpcClient::builder().hyper_http(url);
    Ok(ProviderBuilder::new().connect_client(client).erased())
}

/// Parses a `0x`-prefixed L1 address.
pub fn parse_l1_address(s: &str) -> Result<L1Addr> {
    s.parse()
        .map_err(|e| anyhow::anyhow!("{s:?} is not an L1 address (0x and 40 hex characters): {e}"))
}

/// Starts a watcher of `bridge`'s finalized deposits on its own thread and
/// runtime; returns the view a validator reads.
pub fn spawn_watcher(l1_rpc: &str, bridge: L1Addr, from_block: u64) -> Result<Arc<dyn L1View>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let provider = {
        let _inside = rt.enter();
        read_provider(l1_rpc)?
    };
    let watcher = L1Watcher::new(provider, bridge, from_block);
    let view: Arc<dyn L1View> = Arc::new(watcher.clone());
    let url = l1_rpc.to_string();
    std::thread::Builder::new()
        .name("l1-watcher".into())
        .spawn(move || {
            rt.block_on(async move {
                let mut failing = false;
                loop {
                    match watcher.poll().await {
                        Ok(_) => failing = false,
                        Err(e) => {
                            if !failing {
                                tracing::warn!(l1_rpc = %url, error = %format!("{e:#}"), "L1 watcher cannot read deposits; retrying");
                            }
                            failing = true;
                        }
                    }
                    tokio::time::sleep(WATCH_INTERVAL).await;
                }
            })
        })?;
    Ok(view)
}

/// Where a devnet's L1 lives, written to `DATA_DIR/l1.json` so the wallet
/// and the relayer find it without flags.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevnetL1 {
    pub l1_rpc: String,
    pub l1_chain_id: u64,
    pub light_client: String,
    pub bridge: String,
    /// The L1 block before the contracts' deployment (watchers start there).
    pub from_block: u64,
    /// Seconds a posted header waits before withdrawals against it pay.
    pub challenge_seconds: u64,
    /// A funded anvil key the wallet signs L1 transactions with by default.
    pub l1_key: String,
    /// The bridged tokens: symbol on lakh and L1 address.
    pub tokens: Vec<DevnetToken>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DevnetToken {
    pub symbol: String,
    pub l1_token: String,
}

impl DevnetL1 {
    pub fn load(data_dir: &Path) -> Result<DevnetL1> {
        let path = data_dir.join(DEVNET_L1_FILE);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("{} does not parse", path.display()))
    }
}

/// The devnet's anvil: a child that dies with the devnet (killed on drop,
/// and by the kernel if the devnet dies first).
pub struct DevnetAnvil {
    child: Child,
    pub url: String,
}

impl Drop for DevnetAnvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts anvil for a devnet: Prague (BLS precompiles), a block every
/// second, one slot per epoch so L1's `finalized` trails the head by two
/// blocks (deposits finalize in seconds). Its log goes to
/// `data_dir/anvil.log`.
fn spawn_anvil(data_dir: &Path) -> Result<DevnetAnvil> {
    let port = crate::network::free_port()?;
    let binary = lakh_l1::anvil::anvil_binary();
    let log = std::fs::File::create(data_dir.join("anvil.log"))?;
    let home = data_dir.join("anvil-home");
    std::fs::create_dir_all(&home)?;
    let mut cmd = Command::new(&binary);
    cmd.args([
        "--host",
        "127.0.0.1",
        "--port",
        &port.to_string(),
        "--hardfork",
        "prague",
        "--block-time",
        "1",
        "--slots-in-an-epoch",
        "1",
    ])
    .current_dir(data_dir)
    .env("HOME", &home)
    .stdout(Stdio::null())
    .stderr(log);
    crate::bench::devnet::die_with_parent(&mut cmd);
    let child = cmd.spawn().with_context(|| {
        format!(
            "cannot start anvil {} (run `npm ci` in contracts/, or set LAKH_ANVIL)",
            binary.display()
        )
    })?;
    Ok(DevnetAnvil {
        child,
        url: format!("http://127.0.0.1:{port}"),
    })
}

/// The genesis committee in committee order (ascending identity), with
/// the proofs of possession the genesis carries.
fn genesis_members(genesis: &Genesis) -> Result<Vec<GenesisMember>> {
    use lakh_types::consensus_key::{parse_consensus_key, parse_pop};
    let mut members = Vec::new();
    for v in &genesis.validators {
        let identity: [u8; 32] = hex::decode(&v.public_key)?
            .try_into()
            .map_err(|_| anyhow::anyhow!("validator key {} is not 32 bytes", v.public_key))?;
        members.push(GenesisMember {
            identity,
            key: parse_consensus_key(&v.consensus_key).map_err(anyhow::Error::msg)?,
            pop: parse_pop(&v.proof_of_possession).map_err(anyhow::Error::msg)?,
        });
    }
    members.sort_by_key(|m| m.identity);
    Ok(members)
}

/// Starts anvil, deploys the light client (trusting `genesis`'s committee),
/// the bridge and a test ERC-20 on it, and returns the genesis `bridge`
/// section with what `data_dir/l1.json` records.
pub fn setup_devnet_l1(
    genesis: &Genesis,
    data_dir: &Path,
) -> Result<(DevnetAnvil, DevnetL1, BridgeGenesis)> {
    let anvil = spawn_anvil(data_dir)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (l1, section) = rt.block_on(deploy_devnet_contracts(genesis, &anvil.url))?;
    std::fs::write(
        data_dir.join(DEVNET_L1_FILE),
        serde_json::to_string_pretty(&l1)?,
    )?;
    Ok((anvil, l1, section))
}

async fn deploy_devnet_contracts(
    genesis: &Genesis,
    url: &str,
) -> Result<(DevnetL1, BridgeGenesis)> {
    use lakh_l1::anvil::DEV_KEYS;
    let deployer = lakh_l1::provider(url, DEV_KEYS[DEPLOYER_ACCOUNT])?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let l1_chain_id = loop {
        match deployer.get_chain_id().await {
            Ok(id) => break id,
            Err(e) if Instant::now() > deadline => {
                bail!("anvil did not answer on {url} within 30 s: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    let from_block = deployer.get_block_number().await?;
    let guardian = signer_address(DEV_KEYS[DEPLOYER_ACCOUNT])?;
    let params = BridgeParams {
        lakh_chain_id: genesis.chain_id,
        epoch_blocks: genesis.staking.epoch_blocks,
        epoch: 0,
        challenge_seconds: DEVNET_CHALLENGE_SECONDS,
        reclaim_seconds: DEVNET_RECLAIM_SECONDS,
        guardian,
    };
    let deployment = lakh_l1::deploy(&deployer, &params, &genesis_members(genesis)?).await?;
    let token = TestToken::deploy(&deployer, U256::ZERO)
        .await
        .context("deploying the test token")?;
    let bridge = LakhBridge::new(deployment.bridge, deployer.clone());
    bridge
        .setTokenAllowed(*token.address(), true)
        .send()
        .await?
        .get_receipt()
        .await?;
    let user = signer_address(DEV_KEYS[USER_ACCOUNT])?;
    token
        .mint(user, U256::from(DEVNET_TEST_TOKENS))
        .send()
        .await?
        .get_receipt()
        .await?;
    let tokens = [(ETHER.0, "WETH"), (token.address().into_array(), "TUSD")];
    let section = BridgeGenesis {
        l1_chain_id,
        bridge_address: FixedBytes(deployment.bridge.into_array()),
        tokens: tokens
            .iter()
            .map(|(address, symbol)| {
                Ok(BridgeToken {
                    l1_token: FixedBytes(*address),
                    symbol: Symbol::new(symbol).map_err(anyhow::Error::msg)?,
                    decimals: 18,
                })
            })
            .collect::<Result<Vec<_>>>()?,
    };
    let l1 = DevnetL1 {
        l1_rpc: url.to_string(),
        l1_chain_id,
        light_client: deployment.light_client.to_string(),
        bridge: deployment.bridge.to_string(),
        from_block,
        challenge_seconds: DEVNET_CHALLENGE_SECONDS,
        l1_key: DEV_KEYS[USER_ACCOUNT].to_string(),
        tokens: tokens
            .iter()
            .map(|(address, symbol)| DevnetToken {
                symbol: symbol.to_string(),
                l1_token: L1Addr::from(*address).to_string(),
            })
            .collect(),
    };
    Ok((l1, section))
}

fn signer_address(key: &str) -> Result<L1Addr> {
    let signer: alloy::signers::local::PrivateKeySigner = key.parse()?;
    Ok(signer.address())
}

/// Starts the devnet's relayer on its own thread once lakh's RPC listens.
pub fn spawn_devnet_relayer(l1: &DevnetL1, genesis: Genesis, rpc: String) -> Result<()> {
    let cfg = RelayConfig {
        rpc,
        l1_rpc: l1.l1_rpc.clone(),
        l1_key: lakh_l1::anvil::DEV_KEYS[RELAYER_ACCOUNT].to_string(),
        light_client: parse_l1_address(&l1.light_client)?,
        genesis,
        min_interval: Duration::from_secs(2),
    };
    std::thread::Builder::new()
        .name("l1-relayer".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return eprintln!("lakh devnet: the relayer cannot start: {e}"),
            };
            if let Err(e) = rt.block_on(relay(cfg, false)) {
                eprintln!("lakh devnet: the relayer stopped: {e:#}");
            }
        })?;
    Ok(())
}

/// `lakh bridge relay`.
#[derive(clap::Args, Debug)]
pub struct BridgeArgs {
    #[command(subcommand)]
    pub command: BridgeCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum BridgeCommand {
    /// Post lakh's certified headers to the L1 light client: every epoch's
    /// last block (it elects the next committee), and the latest finalized
    /// block whenever its bridge commitment changed since the last post.
    /// Restarting is safe: headers the light client holds are not posted again
    Relay {
        /// lakh node RPC
        #[arg(long, default_value = "http://127.0.0.1:8645")]
        rpc: String,
        /// L1 RPC URL [default: the devnet's, from DATA_DIR/l1.json]
        #[arg(long)]
        l1_rpc: Option<String>,
        /// Hex private key paying for the posts [default: a devnet anvil key]
        #[arg(long)]
        l1_key: Option<String>,
        /// The light client contract [default: the devnet's]
        #[arg(long)]
        light_client: Option<String>,
        /// The network's genesis file (its committee is where trust starts)
        /// [default: DATA_DIR/genesis.json]
        #[arg(long)]
        genesis: Option<PathBuf>,
        /// Devnet data directory the defaults are read from [default: ~/.lakh/devnet]
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Fewest seconds between two posts of a changed bridge commitment
        #[arg(long, default_value_t = 10)]
        min_interval_secs: u64,
    },
}

pub fn run(args: BridgeArgs) -> Result<()> {
    match args.command {
        BridgeCommand::Relay {
            rpc,
            l1_rpc,
            l1_key,
            light_client,
            genesis,
            data_dir,
            min_interval_secs,
        } => {
            let data_dir = data_dir.unwrap_or_else(crate::network::default_data_dir);
            let devnet = || {
                DevnetL1::load(&data_dir).context(
                    "no --l1-rpc/--light-client given and no devnet L1 file to read them from",
                )
            };
            let l1_rpc = match l1_rpc {
                Some(u) => u,
                None => devnet()?.l1_rpc,
            };
            let l1_key = match l1_key {
                Some(k) => k,
                None => {
                    devnet()?;
                    lakh_l1::anvil::DEV_KEYS[RELAYER_ACCOUNT].to_string()
                }
            };
            let light_client = match light_client {
                Some(a) => parse_l1_address(&a)?,
                None => parse_l1_address(&devnet()?.light_client)?,
            };
            let genesis_path = genesis.unwrap_or_else(|| data_dir.join("genesis.json"));
            let genesis = crate::network::load_genesis(&genesis_path)?;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(relay(
                RelayConfig {
                    rpc,
                    l1_rpc,
                    l1_key,
                    light_client,
                    genesis,
                    min_interval: Duration::from_secs(min_interval_secs),
                },
                true,
            ))
        }
    }
}

/// What the relayer runs with.
pub struct RelayConfig {
    pub rpc: String,
    pub l1_rpc: String,
    pub l1_key: String,
    pub light_client: L1Addr,
    pub genesis: Genesis,
    /// Fewest time between two posts of a changed bridge commitment.
    pub min_interval: Duration,
}

struct Relayer {
    client: LakhClient,
    provider: L1Provider,
    light_client: L1Addr,
    chain: CommitteeChain,
    min_interval: Duration,
    /// The bridge commitment of the highest header the light client holds.
    last_commitment: Option<BridgeCommitment>,
    last_post: Option<Instant>,
    /// Print every post (the command) or stay quiet (inside a devnet).
    verbose: bool,
}

/// Follows lakh's finalized blocks and posts headers until an error the
/// relayer cannot retry past (a refused header, a wrong committee).
async fn relay(cfg: RelayConfig, verbose: bool) -> Result<()> {
    let client = LakhClient::connect(&cfg.rpc)?;
    let provider = lakh_l1::provider(&cfg.l1_rpc, &cfg.l1_key)?;
    let epoch_zero = lakh_execution::modules::stake::genesis_committee(&cfg.genesis);
    let mut relayer = Relayer {
        client,
        provider,
        light_client: cfg.light_client,
        chain: CommitteeChain::from_genesis(&cfg.genesis, epoch_zero),
        min_interval: cfg.min_interval,
        last_commitment: None,
        last_post: None,
        verbose,
    };
    let (held, highest) = relayer.read_light_client(cfg.genesis.chain_id).await?;
    if verbose {
        match highest {
            Some(h) => println!(
                "light client {} holds {held} header(s), the highest of block {h}",
                cfg.light_client
            ),
            None => println!("light client {} holds no header yet", cfg.light_client),
        }
    }
    let mut failures = 0u32;
    loop {
        match relayer.step().await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures += 1;
                // Transient failures (a node restarting, L1 busy) are
                // retried; say so once, then every 30th time.
                if failures == 1 || failures.is_multiple_of(30) {
                    eprintln!("relayer: {e:#} (retrying)");
                }
            }
        }
        tokio::time::sleep(RELAY_POLL).await;
    }
}

/// The headers a light client holds: each digest and what it stored,
/// in posting order.
pub async fn posted_headers(
    provider: &L1Provider,
    light_client: L1Addr,
) -> Result<Vec<(B256, LakhLightClient::Header)>> {
    use alloy::sol_types::SolEvent;
    let filter = alloy::rpc::types::Filter::new()
        .address(light_client)
        .event_signature(LakhLightClient::HeaderPosted::SIGNATURE_HASH)
        .from_block(0);
    let logs = provider
        .get_logs(&filter)
        .await
        .context("reading the light client's posted headers")?;
    let contract = LakhLightClient::new(light_client, provider.clone());
    let mut out = Vec::new();
    for log in logs {
        let event = LakhLightClient::HeaderPosted::decode_log(&log.inner)?;
        let header = contract.header(event.data.digest).call().await?;
        out.push((event.data.digest, header));
    }
    Ok(out)
}

/// Committee keys in committee order, with identities.
fn members(committee: Option<&Committee>, epoch: u64) -> Result<Vec<lakh_rpc::finality::Member>> {
    committee
        .with_context(|| format!("no committee of epoch {epoch} is known"))?
        .keys()
        .map_err(|e| anyhow::anyhow!("the committee of epoch {epoch}: {e}"))
}

fn consensus_keys(members: &[lakh_rpc::finality::Member]) -> Vec<ConsensusPublicKey> {
    members.iter().map(|(_, k)| *k).collect()
}

impl Relayer {
    /// Reads the highest header the light client holds, so a restarted
    /// relayer does not post the same commitment again. Returns how many
    /// headers it holds and the highest's height.
    async fn read_light_client(&mut self, chain_id: u64) -> Result<(usize, Option<u64>)> {
        let headers = posted_headers(&self.provider, self.light_client).await?;
        let highest = headers.iter().max_by_key(|(_, h)| h.height);
        if let Some((_, h)) = highest {
            self.last_commitment = Some(BridgeCommitment {
                chain_id,
                withdrawal_root: FixedBytes(h.withdrawalRoot.0),
                withdrawal_count: h.withdrawalCount,
                deposit_count: h.depositCount,
                deposit_hash: FixedBytes(h.depositHash.0),
            });
        }
        Ok((headers.len(), highest.map(|(_, h)| h.height)))
    }

    async fn step(&mut self) -> Result<()> {
        let head = self.client.head().await?.height;
        while self.chain.next_boundary() <= head {
            let boundary = self.chain.next_boundary();
            let info = self.client.finality(boundary).await?.with_context(|| {
                format!("the node serves no certificate of boundary block {boundary}")
            })?;
            let header = self.chain.verify(&info)?;
            let next = header
                .next_committee
                .as_ref()
                .with_context(|| format!("boundary block {boundary} elects no committee"))?;
            let next_keys = consensus_keys(&members(Some(next), next.epoch)?);
            self.post(&info, &header, &next_keys, "committee rotation")
                .await?;
            self.chain.extend(&info)?;
        }
        if self
            .last_post
            .is_some_and(|t| t.elapsed() < self.min_interval)
        {
            return Ok(());
        }
        // A block finalized through a later block's certificate has none of
        // its own; the next poll tries the next head.
        let Some(info) = self.client.finality(head).await? else {
            return Ok(());
        };
        let header = self.chain.verify(&info)?;
        if self.last_commitment.as_ref() == Some(&header.bridge) {
            return Ok(());
        }
        let next_keys = match &header.next_committee {
            Some(next) => consensus_keys(&members(Some(next), next.epoch)?),
            None => Vec::new(),
        };
        self.post(&info, &header, &next_keys, "bridge commitment changed")
            .await
    }

    /// Posts `info`'s header unless the light client holds it already.
    async fn post(
        &mut self,
        info: &FinalityInfo,
        header: &Header,
        next_keys: &[ConsensusPublicKey],
        why: &str,
    ) -> Result<()> {
        let committee = members(self.chain.committee(info.epoch), info.epoch)?;
        let verifier = committee_verifier(committee.clone())?;
        let finalization = verify_finality(info, info.epoch, &verifier)?;
        let mut carried = [0u8; 32];
        carried.copy_from_slice(carried_root(header).as_ref());
        let certified = CertifiedHeader {
            core: header_core(header),
            carried_root: carried,
            tx_root: info.tx_root.0,
            finalization,
        };
        let digest = B256::from(certified.digest());
        let contract = LakhLightClient::new(self.light_client, self.provider.clone());
        let held = contract.header(digest).call().await?;
        if held.postedAt == 0 {
            let posted = post_checkpoint(
                &self.provider,
                self.light_client,
                &certified,
                &consensus_keys(&committee),
                next_keys,
            )
            .await?;
            if self.verbose {
                println!(
                    "posted block {} (epoch {}, {why}): deposits {}, withdrawals {}, digest {}, gas {}",
                    info.height,
                    info.epoch,
                    header.bridge.deposit_count,
                    header.bridge.withdrawal_count,
                    posted.digest,
                    posted.gas_used
                );
            } else {
                tracing::info!(
                    height = info.height,
                    gas = posted.gas_used,
                    why,
                    "relayed a header to L1"
                );
            }
            self.last_post = Some(Instant::now());
        }
        let newer = self
            .last_commitment
            .as_ref()
            .is_none_or(|c| c.withdrawal_count <= header.bridge.withdrawal_count);
        if newer {
            self.last_commitment = Some(header.bridge.clone());
        }
        Ok(())
    }
}
