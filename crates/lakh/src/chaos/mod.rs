//! `lakh chaos`: a network of validators as separate `lakh node` processes
//! under a transfer load, while validators are killed (`SIGKILL`, restarted
//! on their data directory), frozen (`SIGSTOP`/`SIGCONT`) and cut off from
//! the others (a partition) at random, never more than f = ⌊(n−1)/3⌋ at once. Afterwards [`check`] verifies that
//! nothing was lost, applied twice or forked, and that the chain still
//! finalizes. Exits non-zero on any violation.
//!
//! - [`cluster`]: the processes and the faults.
//! - [`load`]: the senders.
//! - [`check`]: what must hold afterwards.

mod check;
mod cluster;
mod load;

use crate::network::{self, DEMO_ACCOUNTS, DEMO_ASSETS, DEVNET_CHAIN_ID, EpochArgs};
use anyhow::{Context, Result, bail};
use check::Outcome;
use cluster::{Cluster, NodeState};
use commonware_cryptography::Signer;
use lakh_rpc::LakhClient;
use lakh_types::{Address, AssetId, Genesis};
use load::{Sender, SenderLog, Shared};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Blocks per epoch when not given: short, so committees hand over under faults.
const CHAOS_EPOCH_BLOCKS: u64 = 50;
/// Fixed recipients of the load, so the supply check knows every holder.
const RECIPIENTS: usize = 64;
/// How long a node gets to answer its first RPC call.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// How long the last transfer gets to finalize on every node.
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(60);
const TICK: Duration = Duration::from_millis(50);

#[derive(clap::Args, Debug)]
pub struct ChaosArgs {
    /// Validators, each its own `lakh node` process (at least 4, so one may fail)
    #[arg(long, default_value_t = 4)]
    pub validators: usize,
    /// Seconds of faults under load
    #[arg(long, default_value_t = 60.0)]
    pub duration: f64,
    /// Mean seconds between two faults
    #[arg(long, default_value_t = 3.0)]
    pub fault_every: f64,
    /// Longest seconds one fault lasts (kill to restart, stop to continue,
    /// cut to heal)
    #[arg(long, default_value_t = 4.0)]
    pub max_fault: f64,
    /// Transactions per second the load offers, all senders together
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Seed of the fault schedule and the load [default: from the clock]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Keep the network (data, logs) in this new directory instead of a
    /// temporary one removed at the end
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print the report as JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub epochs: EpochArgs,
}

/// Faults done during the run.
#[derive(Debug, Default, serde::Serialize)]
pub struct Faults {
    pub kills: u64,
    pub pauses: u64,
    pub partitions: u64,
    pub restarts: u64,
    /// Nodes that exited without being killed (each one a violation).
    pub crashes: u64,
}

/// What a run did and found.
#[derive(Debug, serde::Serialize)]
pub struct ChaosReport {
    pub seed: u64,
    pub validators: usize,
    pub max_faulted: usize,
    pub duration_secs: f64,
    pub faults: Faults,
    pub accepted_txs: u64,
    pub refused: BTreeMap<String, u64>,
    pub unreachable_calls: u64,
    pub still_finalizing: bool,
    pub outcome: Outcome,
    pub data_dir: PathBuf,
}

/// The seeded generator of the fault schedule and the load: the same seed
/// gives the same schedule.
pub type Dice = crate::bench::SplitMix;

/// Uniform in `[lo, hi)` seconds.
fn secs(dice: &mut Dice, lo: f64, hi: f64) -> Duration {
    let unit = (dice.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    Duration::from_secs_f64(lo + (hi - lo) * unit)
}

pub fn run(args: ChaosArgs) -> Result<()> {
    if args.validators < 4 {
        bail!("chaos needs at least 4 validators, so that one may fail");
    }
    if args.duration <= 0.0 || args.fault_every <= 0.0 || args.max_fault < 0.5 || args.rate <= 0.0 {
        bail!("--duration, --fault-every and --rate must be positive, --max-fault at least 0.5");
    }
    let seed = args.seed.unwrap_or_else(clock_seed);
    let (temp, dir) = match &args.data_dir {
        Some(dir) if dir.exists() => bail!("{} exists; give a new directory", dir.display()),
        Some(dir) => (None, dir.clone()),
        None => {
            let temp = tempfile::Builder::new().prefix("lakh-chaos-").tempdir()?;
            let dir = temp.path().to_path_buf();
            (Some(temp), dir)
        }
    };
    let report = run_in(&args, seed, &dir)?;
    print_report(&report, args.json)?;
    drop(temp);
    let violations = report.outcome.violations.len() as u64 + report.faults.crashes;
    if violations > 0 || !report.still_finalizing {
        bail!("chaos found {violations} violation(s); seed {seed}");
    }
    Ok(())
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

fn run_in(args: &ChaosArgs, seed: u64, dir: &Path) -> Result<ChaosReport> {
    let n = args.validators;
    let p2p_ports = (0..n)
        .map(|_| network::free_port())
        .collect::<Result<Vec<_>>>()?;
    let mut staking = args.epochs.staking();
    staking.epoch_blocks = args.epochs.epoch_blocks.unwrap_or(CHAOS_EPOCH_BLOCKS);
    let genesis = network::write_network(dir, n, DEVNET_CHAIN_ID, &p2p_ports, staking, None)?;
    let rpc_ports = (0..n)
        .map(|_| network::free_port())
        .collect::<Result<Vec<_>>>()?;
    let keys: Vec<String> = genesis
        .validators
        .iter()
        .map(|v| v.public_key.clone())
        .collect();
    let mut cluster = Cluster::start(dir, &keys, &rpc_ports)?;
    let clients = Arc::new(
        (0..n)
            .map(|i| LakhClient::connect(&cluster.rpc_url(i)))
            .collect::<Result<Vec<_>, _>>()?,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(wait_ready(&clients))?;
    let mut dice = Dice::new(seed);
    let recipients: Arc<Vec<Address>> = Arc::new(
        (0..RECIPIENTS)
            .map(|_| {
                let mut bytes = [0u8; 32];
                for chunk in bytes.chunks_mut(8) {
                    chunk.copy_from_slice(&dice.next_u64().to_le_bytes());
                }
                Address(bytes)
            })
            .collect(),
    );
    let senders = senders(dir, args, &recipients)?;
    let shared = Shared::new(n);
    let tasks: Vec<_> = senders
        .into_iter()
        .enumerate()
        .map(|(i, s)| rt.spawn(s.run(clients.clone(), shared.clone(), seed ^ (i as u64 + 1))))
        .collect();
    let started = Instant::now();
    let faults = inject(&mut cluster, &shared, &mut dice, args);
    shared.stop.store(true, Ordering::Relaxed);
    let mut faults = faults?;
    faults.restarts += cluster.heal_all()? as u64;
    for up in &shared.up {
        up.store(true, Ordering::Relaxed);
    }
    let logs: Vec<SenderLog> = rt.block_on(async {
        let mut logs = Vec::new();
        for task in tasks {
            logs.push(task.await.unwrap_or_default());
        }
        logs
    });
    let duration_secs = started.elapsed().as_secs_f64();
    let outcome = rt.block_on(verify(&clients, &genesis, &recipients, &logs));
    let still_finalizing = rt.block_on(still_finalizing(&clients, dir));
    Ok(ChaosReport {
        seed,
        validators: n,
        max_faulted: (n - 1) / 3,
        duration_secs,
        faults,
        accepted_txs: logs.iter().map(|l| l.accepted.len() as u64).sum(),
        refused: logs.iter().fold(BTreeMap::new(), |mut all, l| {
            for (code, count) in &l.refused {
                *all.entry(code.clone()).or_default() += count;
            }
            all
        }),
        unreachable_calls: logs.iter().map(|l| l.unreachable).sum(),
        still_finalizing,
        outcome,
        data_dir: dir.to_path_buf(),
    })
}

async fn wait_ready(clients: &[LakhClient]) -> Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    for (i, client) in clients.iter().enumerate() {
        while client.head().await.is_err() {
            if Instant::now() > deadline {
                bail!("node {i} did not answer within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    Ok(())
}

/// The demo accounts (and the admin) send, sharing the rate evenly.
fn senders(dir: &Path, args: &ChaosArgs, recipients: &Arc<Vec<Address>>) -> Result<Vec<Sender>> {
    let names: Vec<&str> = DEMO_ACCOUNTS.iter().copied().chain(["admin"]).collect();
    let assets: Arc<Vec<AssetId>> = Arc::new(
        std::iter::once(AssetId::NATIVE)
            .chain(DEMO_ASSETS.iter().map(|(id, ..)| AssetId(*id)))
            .collect(),
    );
    let batch = 20usize;
    let per_sender = args.rate / names.len() as f64;
    let interval = Duration::from_secs_f64(batch as f64 / per_sender);
    names
        .iter()
        .map(|name| {
            Ok(Sender {
                key: crate::keys::load_key(&dir.join("keys"), name)?,
                recipients: recipients.clone(),
                assets: assets.clone(),
                chain_id: DEVNET_CHAIN_ID,
                batch,
                interval,
            })
        })
        .collect()
}

/// Injects faults until the duration has passed; never more than f nodes
/// faulted at once.
fn inject(
    cluster: &mut Cluster,
    shared: &Shared,
    dice: &mut Dice,
    args: &ChaosArgs,
) -> Result<Faults> {
    let f = (cluster.len() - 1) / 3;
    let end = Instant::now() + Duration::from_secs_f64(args.duration);
    let mut faults = Faults::default();
    let mut next = Instant::now() + secs(dice, 0.5 * args.fault_every, 1.5 * args.fault_every);
    while Instant::now() < end {
        std::thread::sleep(TICK);
        let now = Instant::now();
        faults.crashes += cluster.reap_crashed()? as u64;
        faults.restarts += cluster.heal_due(now)? as u64;
        for i in 0..cluster.len() {
            // A cut-off node still answers its clients; what it accepts
            // waits in its pool until the cut heals.
            let serving = matches!(cluster.state(i), NodeState::Running | NodeState::Cut { .. });
            shared.up[i].store(serving, Ordering::Relaxed);
        }
        if now < next || cluster.faulted() >= f {
            continue;
        }
        let running: Vec<usize> = (0..cluster.len())
            .filter(|i| cluster.state(*i) == NodeState::Running)
            .collect();
        let victim = running[dice.below(running.len())];
        let lasts = secs(dice, 0.5, args.max_fault);
        match dice.below(3) {
            0 => {
                shared.up[victim].store(false, Ordering::Relaxed);
                cluster.kill(victim, lasts)?;
                faults.kills += 1;
            }
            1 => {
                shared.up[victim].store(false, Ordering::Relaxed);
                cluster.pause(victim, lasts)?;
                faults.pauses += 1;
            }
            _ => {
                cluster.partition(victim, lasts)?;
                faults.partitions += 1;
            }
        }
        next = now + secs(dice, 0.5 * args.fault_every, 1.5 * args.fault_every);
    }
    Ok(faults)
}

async fn verify(
    clients: &[LakhClient],
    genesis: &Genesis,
    recipients: &[Address],
    logs: &[SenderLog],
) -> Outcome {
    let mut out = Outcome::default();
    let top = check::heights(clients).await.into_iter().flatten().max();
    let height = match check::converge(clients, top.unwrap_or(0) + 3).await {
        Ok(height) => height,
        Err(e) => {
            out.violations.push(e);
            return out;
        }
    };
    let chain = check::same_blocks(clients, height, &mut out).await;
    let accepted: Vec<_> = logs
        .iter()
        .flat_map(|l| l.accepted.iter().copied())
        .collect();
    let seen: Vec<_> = logs
        .iter()
        .flat_map(|l| l.seen_final.iter().copied())
        .collect();
    let mut holders = check::exactly_once(clients, &chain, &accepted, &seen, &mut out).await;
    holders.extend(recipients.iter().copied());
    holders.extend(genesis_holders(genesis));
    let assets: Vec<AssetId> = std::iter::once(AssetId::NATIVE)
        .chain(genesis.assets.iter().map(|a| a.id))
        .collect();
    check::supply(&clients[0], &assets, &holders, &mut out).await;
    out
}

/// Every account the genesis gives anything: accounts, asset holders,
/// validators and their stake custody; and the fee pot, where what
/// dividing the fees leaves waits.
fn genesis_holders(genesis: &Genesis) -> BTreeSet<Address> {
    let mut holders: BTreeSet<Address> = genesis.accounts.iter().map(|a| a.address).collect();
    holders.insert(lakh_execution::modules::stake::fee_pot());
    for asset in &genesis.assets {
        holders.extend(asset.balances.iter().map(|b| b.address));
    }
    for v in &genesis.validators {
        if let Ok(key) = lakh_types::address::parse_public_key(&v.public_key) {
            let address = Address::from(&key);
            holders.insert(address);
            holders.insert(Address::module("stake", address.as_bytes()));
        }
    }
    holders
}

/// One more transfer after the faults: finalized, and known to every node.
async fn still_finalizing(clients: &[LakhClient], dir: &Path) -> bool {
    let attempt = async {
        let key = crate::keys::load_key(&dir.join("keys"), "alice")?;
        let from = Address::from(&key.public_key());
        let nonce = clients[0].account(from, false).await?.nonce;
        let tx = lakh_types::Transaction {
            chain_id: DEVNET_CHAIN_ID,
            sender: key.public_key().into(),
            nonce,
            max_fee: 1_000,
            action: lakh_types::Action::Transfer(lakh_types::TransferEntry {
                to: Address::module("chaos", b"liveness"),
                asset: AssetId::NATIVE,
                amount: 1,
            }),
        }
        .sign(&key);
        let id = clients[0].submit(&tx).await?;
        let done = clients[0].wait_for_finality(id, LIVENESS_TIMEOUT).await?;
        for client in clients {
            let deadline = Instant::now() + LIVENESS_TIMEOUT;
            while !matches!(
                client.tx_status(id).await?,
                lakh_rpc::TxStatusInfo::Finalized { block_hash, .. } if block_hash == done.block_hash
            ) {
                if Instant::now() > deadline {
                    bail!("{} never learned {id}", client.url());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        anyhow::Ok(())
    };
    match attempt.await.context("the chain stopped finalizing") {
        Ok(()) => true,
        Err(e) => {
            eprintln!("{e:#}");
            false
        }
    }
}

fn print_report(report: &ChaosReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string(report)?);
        return Ok(());
    }
    let o = &report.outcome;
    let f = &report.faults;
    println!(
        "chaos: {} validators (at most {} faulted at once), seed {}, {:.0} s",
        report.validators, report.max_faulted, report.seed, report.duration_secs
    );
    println!(
        "faults: {} kills, {} pauses, {} partitions, {} restarts, {} crashes",
        f.kills, f.pauses, f.partitions, f.restarts, f.crashes
    );
    println!(
        "load: {} accepted, {} finalized, refused {:?}, {} calls to a faulted node",
        report.accepted_txs, o.accepted_finalized, report.refused, report.unreachable_calls
    );
    println!(
        "checked: {} blocks equal on every node (height {}), {} finalized transactions each once, \
         {} seen-finalized kept, {} assets' supply, still finalizing: {}",
        o.blocks_compared,
        o.height,
        o.finalized_txs,
        o.seen_final_checked,
        o.assets_checked,
        report.still_finalizing
    );
    for v in &o.violations {
        println!("VIOLATION: {v}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let (mut a, mut b) = (Dice::new(42), Dice::new(42));
        let draws: Vec<usize> = (0..100).map(|_| a.below(7)).collect();
        assert_eq!(draws, (0..100).map(|_| b.below(7)).collect::<Vec<_>>());
        assert!(draws.iter().all(|d| *d < 7));
        assert!(
            (0..7).all(|v| draws.contains(&v)),
            "every value drawn: {draws:?}"
        );
        let lasts = secs(&mut Dice::new(1), 0.5, 4.0);
        assert!((0.5..4.0).contains(&lasts.as_secs_f64()));
    }
}
