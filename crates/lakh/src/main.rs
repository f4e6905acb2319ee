//! `lakh`: the one binary of the lakh chain — run a devnet or a node, define a
//! network, manage keys, use the wallet, measure throughput.

mod bench;
mod bridge;
mod ceremony;
mod channel;
mod chaos;
mod keys;
mod network;
mod seed;
mod wallet;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::{net::SocketAddr, path::PathBuf};

#[derive(Parser)]
#[command(
    name = "lakh",
    version,
    about = "lakh: a proof-of-stake BFT chain for DeFi"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a complete local network (validators, demo accounts, RPC) in this process.
    Devnet {
        /// Number of validators (on loopback).
        #[arg(long, default_value_t = 1)]
        validators: usize,
        /// Where the network's data and keys live; re-running on it resumes.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// RPC address of the first validator (HTTP and WebSocket).
        #[arg(long, default_value = "127.0.0.1:8645")]
        rpc_addr: SocketAddr,
        /// Print the ready line as JSON.
        #[arg(long)]
        json: bool,
        /// Most transactions each validator's mempool holds; past it,
        /// submissions are refused as `busy`
        #[arg(long, default_value_t = lakh_mempool::MempoolConfig::default().max_txs)]
        mempool_max_txs: usize,
        /// Memory for the state page caches of this devnet, in MiB, split
        /// evenly among its validators; a validator's share should hold its
        /// live state (see docs/PERFORMANCE.md)
        #[arg(long, default_value_t = DEFAULT_STATE_CACHE_MIB)]
        state_cache_mib: usize,
        /// Receipts of at least this many of the newest transactions stay
        /// findable on each validator; older ones are pruned, 1,048,576 at
        /// a time (0 keeps all: memory grows ~230-360 bytes per transaction,
        /// by machine)
        #[arg(long, default_value_t = lakh_node::config::DEFAULT_RECEIPTS_RETENTION_TXS)]
        receipts_retention_txs: u64,
        #[command(flatten)]
        epochs: network::EpochArgs,
        /// A node outside the genesis every validator keeps connected, as
        /// PUBLIC_KEY@HOST:PORT (a full node following this devnet); repeatable
        #[arg(long = "peer")]
        peers: Vec<network::Peer>,
        /// Run the last COUNT validators as misbehaving ones, to watch the
        /// chain withstand and punish them: COUNT[:FAULT], FAULT one of
        /// `equivocate` (default: two notarize votes per view, so two
        /// proposals as a leader), `nullify-finalize` (a nullify and a
        /// finalize vote in one view) or `silent` (no votes). At most
        /// (validators - 1) / 3. For tests and demos only
        #[arg(long, value_name = "COUNT[:FAULT]")]
        byzantine: Option<network::Byzantine>,
        /// Also start an anvil L1 (a child of this process) with the bridge
        /// contracts, bridge the devnet to it (WETH and TUSD wrapped here),
        /// watch its deposits and relay headers. A new --data-dir only
        #[arg(long)]
        l1: bool,
        /// A finalized ceremony's parameters file (`lakh shielded ceremony
        /// finalize`): a new devnet verifies shielded proofs with its key
        /// (wallets then prove with `--params FILE`); a resumed one must
        /// hold that key already [default: the insecure devnet key]
        #[arg(long, value_name = "FILE")]
        shielded_params: Option<PathBuf>,
    },
    /// Run one node of a network defined by a genesis file: a validator
    /// while its key sits in the epoch's committee, a full node otherwise.
    Node {
        /// Node config (TOML: data_dir, genesis, key, rpc_addr, p2p_address,
        /// peers), e.g. written by `lakh genesis`.
        #[arg(long)]
        config: PathBuf,
        /// Overrides the config's RPC address.
        #[arg(long)]
        rpc_addr: Option<SocketAddr>,
        /// Misbehave on purpose as FAULT (`equivocate`, `nullify-finalize`
        /// or `silent`; see `lakh devnet --byzantine`). For tests only
        #[arg(long, value_name = "FAULT")]
        byzantine: Option<lakh_consensus::byzantine::Misbehavior>,
        /// Drop every message to and from the peers whose hex public keys
        /// this file lists, one a line, rereading it when it changes
        /// (`lakh chaos` partitions). For tests only
        #[arg(long, hide = true, value_name = "PATH")]
        partition_file: Option<PathBuf>,
    },
    /// Write a network definition: genesis, validator keys, demo keys, node configs.
    Genesis {
        /// Directory to write into (must not hold a genesis yet).
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 4)]
        validators: usize,
        #[arg(long, default_value_t = 1337)]
        chain_id: u64,
        /// First p2p port; validator i listens on base+i. Default: free ports.
        #[arg(long)]
        base_port: Option<u16>,
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        epochs: network::EpochArgs,
        /// A finalized ceremony's parameters file (`lakh shielded ceremony
        /// finalize`): the chain verifies shielded proofs with its key
        /// [default: none, the insecure devnet key]
        #[arg(long, value_name = "FILE")]
        shielded_params: Option<PathBuf>,
    },
    /// Create and inspect keys.
    Keys(keys::KeysArgs),
    /// Send transactions and query the chain.
    Wallet(wallet::WalletArgs),
    /// Payment channels: run a channel node and pay through it off chain.
    Channel(channel::ChannelArgs),
    /// The Ethereum bridge's off-chain parts: the header relayer.
    Bridge(bridge::BridgeArgs),
    /// The shielded pool's multi-party setup ceremony.
    Shielded(ceremony::ShieldedArgs),
    /// Measure sustained TPS and latency against a node, or this machine's ceilings.
    Bench(bench::BenchArgs),
    /// Run validators as processes under load while killing, freezing and
    /// cutting them off at random, then check nothing was lost, doubled or
    /// forked.
    Chaos(chaos::ChaosArgs),
}

/// Default of `--state-cache-mib` and the node config's `state_cache_mib`.
const DEFAULT_STATE_CACHE_MIB: usize = lakh_node::config::DEFAULT_STATE_CACHE_MIB;

/// Logs go to stderr, filtered by `RUST_LOG`; without it, warnings and
/// errors only, less storage's notes that a brand-new store is empty.
fn init_logging() {
    use tracing_subscriber::{EnvFilter, Layer as _, filter::filter_fn, prelude::*};
    let (filter, quiet_new_store) = match EnvFilter::try_from_default_env() {
        Ok(filter) => (filter, false),
        Err(_) => (EnvFilter::new("warn"), true),
    };
    let new_store_notes = filter_fn(move |meta| {
        !(quiet_new_store
            && *meta.level() == tracing::Level::WARN
            && meta.target().starts_with("commonware_storage")
            && lakh_node::run::opening_new_store())
    });
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(filter)
                .with_filter(new_store_notes),
        )
        .init();
}

fn main() -> Result<()> {
    init_logging();
    let cli = Cli::parse();
    match cli.command {
        Command::Devnet {
            validators,
            data_dir,
            rpc_addr,
            json,
            mempool_max_txs,
            state_cache_mib,
            receipts_retention_txs,
            epochs,
            peers,
            byzantine,
            l1,
            shielded_params,
        } => network::devnet(network::DevnetConfig {
            validators,
            epochs,
            data_dir: data_dir.unwrap_or_else(network::default_data_dir),
            rpc_addr,
            json,
            mempool: lakh_node::config::mempool_config(mempool_max_txs)
                .map_err(anyhow::Error::msg)?,
            state_cache_bytes: lakh_node::config::state_cache_bytes(state_cache_mib)
                .map_err(anyhow::Error::msg)?
                / validators.max(1),
            receipts_retention: lakh_archive::Retention::keep(receipts_retention_txs),
            peers,
            byzantine,
            l1,
            shielded: shielded_params
                .as_deref()
                .map(ceremony::genesis_section)
                .transpose()?,
        }),
        Command::Node {
            config,
            rpc_addr,
            byzantine,
            partition_file,
        } => network::node(
            &config,
            network::NodeOptions {
                rpc_addr,
                byzantine,
                partition_file,
            },
        ),
        Command::Genesis {
            out,
            validators,
            chain_id,
            base_port,
            json,
            epochs,
            shielded_params,
        } => {
            if out.join("genesis.json").exists() {
                anyhow::bail!("{} already holds a genesis.json", out.display());
            }
            let shielded = shielded_params
                .as_deref()
                .map(ceremony::genesis_section)
                .transpose()?;
            let ports = match base_port {
                Some(p) => (0..validators).map(|i| p + i as u16).collect(),
                None => (0..validators)
                    .map(|_| network::free_port())
                    .collect::<Result<Vec<_>>>()?,
            };
            let g = network::write_network(
                &out,
                validators,
                chain_id,
                &ports,
                epochs.staking(),
                shielded,
            )?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({"genesis": out.join("genesis.json"), "chain_id": g.chain_id, "validators": validators})
                );
            } else {
                println!(
                    "wrote {} (chain id {}, {} validators)",
                    out.join("genesis.json").display(),
                    g.chain_id,
                    validators
                );
                for i in 0..validators {
                    println!(
                        "  lakh node --config {}",
                        out.join(format!("node-{i}.toml")).display()
                    );
                }
            }
            Ok(())
        }
        Command::Keys(args) => keys::run_keys(args),
        Command::Wallet(args) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(wallet::run_wallet(args))
        }
        Command::Channel(args) => channel::run(args),
        Command::Bridge(args) => bridge::run(args),
        Command::Shielded(args) => ceremony::run(args),
        Command::Bench(args) => bench::run_bench(args),
        Command::Chaos(args) => chaos::run(args),
    }
}
