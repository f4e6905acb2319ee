//! `lakh bench`: the load generator and `lakh bench ceilings`.
//!
//! A run follows the project's WORKLOADS.md (see docs/PERFORMANCE.md): fresh
//! accounts are derived and funded from the demo accounts, every transaction
//! of a run is signed before it starts (signing time reported, not charged),
//! transactions go to the node's bulk endpoint over loopback from this
//! process, and finality is learned from the finalized-block subscription.
//! Sustained TPS counts the transactions whose block was learned finalized
//! inside the window (after the warm-up), minus those whose receipt failed
//! (checked on a sample, extrapolated).
//!
//! - [`accounts`]: derive and fund the bench accounts.
//! - [`workload`]: what is sent, and pre-signing it.
//! - [`load`]: one timed run (submitter, finality tracker, progress line).
//! - [`report`]: figures, JSON, summary, SVG.
//! - [`shielded`]: `--shielded`, private transfers beside the load.
//! - [`ceilings`]: the per-stage limits of this machine.
//! - [`devnet`], [`sys`]: the child devnet and `/proc` readings.

mod accounts;
mod ceilings;
mod defi;
pub(crate) mod devnet;
mod load;
mod report;
mod shielded;
mod swaps;
mod sys;
mod votes;
mod workload;

pub(crate) use devnet::die_with_parent;
pub(crate) use workload::SplitMix;

use anyhow::{Context, Result, bail};
use lakh_rpc::LakhClient;
use lakh_types::PrivateKey;
use load::{Fate, LoadConfig, fate};
use report::{BenchReport, RunReport, Signing, Spread};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use workload::{Planned, Workload};

/// Most accounts a bench funds (the demo accounts hold 4M LAKH).
const MAX_ACCOUNTS: usize = 2_000_000;
/// Most transactions pre-signed for one run (~250 bytes of memory each).
const MAX_PRESIGNED: usize = 5_000_000;
/// Fewest transactions pre-signed for one run.
const MIN_PRESIGNED: usize = 1_000;

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    #[command(flatten)]
    pub load: LoadArgs,
}

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Measure what each stage of the data path can do on this machine
    Ceilings(ceilings::CeilingsArgs),
    /// Measure what consensus signatures cost: BLS multisig against ed25519
    Votes(votes::VotesArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct LoadArgs {
    /// What to send
    #[arg(long, value_enum, default_value_t = Workload::Transfers)]
    pub workload: Workload,
    /// Accounts to fund and use
    #[arg(long, default_value_t = 1_000_000)]
    pub accounts: usize,
    /// Seconds of the measurement window
    #[arg(long, default_value_t = 30.0)]
    pub duration: f64,
    /// Seconds of load before the window
    #[arg(long, default_value_t = 10.0)]
    pub warmup: f64,
    /// Open loop at this many transactions per second [default: closed loop]
    #[arg(long)]
    pub rate: Option<f64>,
    /// Closed loop: most transactions submitted and not yet finalized.
    /// Latency is about this over the throughput; at 1,000,000 accounts
    /// 20,000 kept the throughput of 40,000 at half the latency
    #[arg(long, default_value_t = 20_000)]
    pub in_flight: usize,
    /// Most transactions per bulk request
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
    /// Closed loop: transactions pre-signed per second of run (warm-up +
    /// window); the pool running out is reported
    #[arg(long, default_value_t = 100_000.0)]
    pub presign_tps: f64,
    /// Most bulk requests outstanding at once
    #[arg(long, default_value_t = 4)]
    pub max_requests: usize,
    /// The node's RPC endpoint (ignored with --devnet)
    #[arg(long, default_value = "http://127.0.0.1:8645")]
    pub rpc: String,
    /// Directory of the demo keys that fund the accounts, and of the genesis
    /// `admin` key the defi workload's setup needs [default:
    /// ~/.lakh/devnet/keys; the devnet's with --devnet]
    #[arg(long)]
    pub keys: Option<PathBuf>,
    /// Start a one-validator devnet child process for the bench
    #[arg(long)]
    pub devnet: bool,
    /// Node process id, for its CPU and memory (automatic with --devnet)
    #[arg(long)]
    pub node_pid: Option<u32>,
    /// Repeat the run this many times and report the median and min–max
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Most seconds to wait after the window for accepted transactions to finalize
    #[arg(long, default_value_t = 10.0)]
    pub drain: f64,
    /// Receipts checked for success per run (all when fewer were confirmed)
    #[arg(long, default_value_t = 200)]
    pub receipt_samples: usize,
    /// Seed of the accounts and the workload [default: from the clock]
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the report as JSON to this file
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write a chart (TPS per second, latency CDF) to this SVG file
    #[arg(long)]
    pub svg: Option<PathBuf>,
    /// No progress line on stderr
    #[arg(long)]
    pub quiet: bool,
    /// After the runs (with the devnet stopped), measure this machine's
    /// ceilings (`lakh bench ceilings` with its defaults, but signatures
    /// verified in the node's batch for `--batch`) and report the sustained
    /// TPS as a share of the all-stages bound
    #[arg(long)]
    pub ceilings: bool,
    /// After the runs, one more run with this many private transfers (each
    /// shielded, synced and proven in setup, not timed) submitted open loop
    /// over its window beside the same transfer load; the runs before it
    /// are the load alone. Accounts 0..N shield and sign them and send no
    /// plain transfers; account N sends one more private transfer in setup
    /// (the node's first proof)
    #[arg(long, value_name = "N")]
    pub shielded: Option<usize>,
    /// Proving parameters for --shielded (a ceremony's `finalize` output;
    /// needed on a chain whose genesis carries its key) [default: the
    /// devnet's, cached in the keys directory]
    #[arg(long, value_name = "FILE", requires = "shielded")]
    pub shielded_params: Option<PathBuf>,
}

impl LoadArgs {
    fn check(&self) -> Result<()> {
        let in_range = |v: f64, lo: f64, hi: f64| v.is_finite() && v >= lo && v <= hi;
        if !(2..=MAX_ACCOUNTS).contains(&self.accounts) {
            bail!("--accounts must be 2..={MAX_ACCOUNTS}");
        }
        if !in_range(self.duration, 0.1, 3600.0) {
            bail!("--duration must be 0.1..=3600 seconds");
        }
        if !in_range(self.warmup, 0.0, 600.0) {
            bail!("--warmup must be 0..=600 seconds");
        }
        if let Some(rate) = self.rate
            && !in_range(rate, 1.0, 10_000_000.0)
        {
            bail!("--rate must be 1..=10000000 transactions per second");
        }
        if !(1..=1_000_000).contains(&self.in_flight) {
            bail!("--in-flight must be 1..=1000000");
        }
        if !(1..=50_000).contains(&self.batch) {
            bail!("--batch must be 1..=50000 (the bulk endpoint's limit)");
        }
        if !in_range(self.presign_tps, 1.0, 1_000_000.0) {
            bail!("--presign-tps must be 1..=1000000");
        }
        if !(1..=256).contains(&self.max_requests) {
            bail!("--max-requests must be 1..=256");
        }
        if !(1..=20).contains(&self.runs) {
            bail!("--runs must be 1..=20");
        }
        if !in_range(self.drain, 0.0, 600.0) {
            bail!("--drain must be 0..=600 seconds");
        }
        if let Some(n) = self.shielded {
            let max = shielded::MAX_SHIELDED_TRANSFERS;
            if !(1..=max).contains(&n) {
                bail!("--shielded must be 1..={max} (each transfer is proven in setup)");
            }
            if self.accounts < n + 3 {
                bail!(
                    "--shielded {n} needs --accounts of at least {}: its senders send no plain transfers",
                    n + 3
                );
            }
            if self.workload == Workload::Defi {
                bail!("--shielded runs beside the transfers, hot or serial workloads, not defi");
            }
        }
        Ok(())
    }

    fn run_secs(&self) -> f64 {
        self.warmup + self.duration
    }

    /// Transactions to pre-sign for run `run` (1-based), given the runs so far.
    fn presign_count(&self, previous: Option<&RunReport>) -> usize {
        let secs = self.run_secs();
        let count = match (self.rate, previous) {
            (Some(rate), _) => rate * secs + self.batch as f64,
            (None, None) => self.presign_tps * secs,
            // Ran out: twice as many.
            (None, Some(prev)) if prev.exhausted => prev.presigned as f64 * 2.0,
            // Enough for well above the rate the node showed, never more than asked.
            (None, Some(prev)) => (prev.sustained_tps * 2.5 * secs + self.in_flight as f64)
                .min(self.presign_tps * secs),
        };
        (count.ceil() as usize).clamp(MIN_PRESIGNED, MAX_PRESIGNED)
    }
}

pub fn run_bench(args: BenchArgs) -> Result<()> {
    match args.command {
        Some(BenchCommand::Ceilings(c)) => return ceilings::run(c),
        Some(BenchCommand::Votes(v)) => return votes::run(v),
        None => {}
    }
    let args = args.load;
    args.check()?;
    // Started from this (main) thread, which outlives it: see `die_with_parent`.
    let devnet = if args.devnet {
        eprintln!("bench: starting a one-validator devnet");
        Some(devnet::DevnetChild::start()?)
    } else {
        None
    };
    let rpc = devnet.as_ref().map_or(args.rpc.clone(), |d| d.rpc.clone());
    let keys_dir = match (&devnet, &args.keys) {
        (Some(d), _) => d.keys.clone(),
        (None, Some(k)) => k.clone(),
        (None, None) => crate::keys::default_keys_dir()?,
    };
    let node_pid = devnet.as_ref().map(|d| d.pid()).or(args.node_pid);
    let demo: Vec<PrivateKey> = crate::network::DEMO_ACCOUNTS
        .iter()
        .filter_map(|name| crate::keys::load_key(&keys_dir, name).ok())
        .collect();
    if demo.is_empty() {
        bail!(
            "no demo keys ({}) in {}: pass --keys or --devnet",
            crate::network::DEMO_ACCOUNTS.join(", "),
            keys_dir.display()
        );
    }
    let admin = if args.workload == Workload::Defi {
        Some(crate::keys::load_key(&keys_dir, "admin").with_context(|| {
            format!(
                "the defi workload's setup needs the genesis admin key `admin` in {}: pass --keys or --devnet",
                keys_dir.display()
            )
        })?)
    } else {
        None
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let client = rt.block_on(async { LakhClient::connect(&rpc) })?;
    let chain_id = rt
        .block_on(client.chain_id())
        .with_context(|| format!("cannot reach the node at {rpc}"))?;
    let seed = args.seed.unwrap_or_else(clock_seed);

    if args.workload == Workload::Defi {
        // Before funding, which would also trip over this seed's accounts.
        rt.block_on(defi::ensure_fresh(&client, seed))?;
    }
    eprintln!("bench: deriving {} accounts", args.accounts);
    let accounts = accounts::Accounts::derive(args.accounts, seed)?;
    eprintln!("bench: funding them from {} demo account(s)", demo.len());
    let funding = rt.block_on(accounts::fund(&client, chain_id, &demo, &accounts))?;
    eprintln!(
        "bench: funded {} accounts with {} base units each in {:.1}s",
        funding.accounts, funding.amount_base, funding.secs
    );

    let cfg = LoadConfig {
        warmup: Duration::from_secs_f64(args.warmup),
        window: Duration::from_secs_f64(args.duration),
        drain: Duration::from_secs_f64(args.drain),
        rate: args.rate,
        // Keep each sender well under the mempool's 1024 queued per sender.
        in_flight: args.in_flight.min(args.accounts.saturating_mul(512)),
        batch_txs: args.batch,
        max_requests: args.max_requests,
        receipt_samples: args.receipt_samples,
        node_pid,
        progress: !args.quiet,
    };
    let mut nonces = vec![0u64; accounts.len()];
    let defi = if let Some(admin) = &admin {
        eprintln!(
            "bench: defi setup (assets, pools, markets, feed, lending, farm, cover, NFT collections and listings, funding)"
        );
        // Listings enough for every run's buys as first planned.
        let nft_listings =
            defi::nft_listings_for(args.presign_count(None).saturating_mul(args.runs));
        let (setup, report) = rt.block_on(defi::setup(
            &client,
            chain_id,
            admin,
            &accounts,
            seed,
            nft_listings,
        ))?;
        setup.advance_nonces(&mut nonces);
        eprintln!(
            "bench: defi setup done: {} admin and {} account transactions in {:.1}s",
            report.admin_txs, report.account_txs, report.secs
        );
        Some((setup, report))
    } else {
        None
    };
    let mut retired = vec![false; accounts.len()];
    let shielded = match args.shielded {
        Some(n) => {
            eprintln!(
                "bench: shielding {} notes, syncing and proving as many private transfers (one is sent in setup)",
                n + 1
            );
            // One more than the run's: its transfer goes in setup.
            let senders: Vec<u32> = (0..=n as u32).collect();
            let prepared = rt.block_on(shielded::prepare(
                &client,
                chain_id,
                &accounts,
                &senders,
                &mut nonces,
                &keys_dir,
                args.shielded_params.as_deref(),
            ))?;
            let s = &prepared.setup;
            eprintln!(
                "bench: shielded setup: shields final in {:.1}s, synced in {:.1}s, proven in {:.1}s on {} threads (median {:.0} ms a proof), batch verify {:.0} us a proof",
                s.shield_secs,
                s.sync_secs,
                s.proving_secs,
                s.proving_threads,
                s.proof_ms_median,
                s.batch_verify_us_per_proof
            );
            // Their nonces are taken by the private transfers: no plain load.
            for sender in senders {
                retired[sender as usize] = true;
            }
            Some(prepared)
        }
        None => None,
    };
    let mut nft_cursor = defi
        .as_ref()
        .map(|(setup, _)| setup.nft.cursor())
        .unwrap_or_default();
    let mut runs: Vec<RunReport> = Vec::new();
    let mut shielded_report = None;
    for run in 1..=args.runs + usize::from(shielded.is_some()) {
        // The run after the plain ones carries the private transfers.
        let side = match &shielded {
            Some(prepared) if run > args.runs => {
                let alone = &runs[BenchReport::median_run(&runs)];
                shielded::check_anchor_window(
                    prepared.setup.transfers,
                    alone.blocks_in_window as f64 / alone.window_secs,
                    args.duration,
                )?;
                Some(load::SideLoad {
                    presigned: prepared.presigned.clone(),
                    rate: prepared.presigned.len() as f64 / args.duration,
                })
            }
            _ => None,
        };
        let usable: Vec<u32> = (0..accounts.len() as u32)
            .filter(|&i| !retired[i as usize])
            .collect();
        let count = args.presign_count(runs.last());
        let run_seed = seed ^ (run as u64).wrapping_mul(0x9e37_79b9);
        let planned = match &defi {
            Some((setup, _)) => {
                let borrowers: Vec<u32> = usable
                    .iter()
                    .copied()
                    .filter(|&i| (i as usize) < setup.borrowers)
                    .collect();
                defi::plan(
                    accounts.len(),
                    &usable,
                    &borrowers,
                    &mut nonces,
                    &mut nft_cursor,
                    count,
                    run_seed,
                )?
            }
            None => workload::plan(
                args.workload,
                accounts.len(),
                &usable,
                &mut nonces,
                count,
                run_seed,
            )?,
        };
        eprintln!("bench: run {run}: signing {count} transactions");
        let presigned = Arc::new(match &defi {
            Some((setup, _)) => workload::presign(&accounts, planned, |p| {
                defi::defi_tx(setup, &accounts, chain_id, p)
            })?,
            None => workload::presign(&accounts, planned, |p| {
                workload::transfer_tx(&accounts, chain_id, p)
            })?,
        });
        let signing = Signing {
            txs: presigned.len(),
            secs: presigned.sign_secs,
            per_sec: presigned.len() as f64 / presigned.sign_secs.max(1e-9),
        };
        eprintln!(
            "bench: run {run}: signed in {:.1}s ({:.0}/s); {}s warm-up, {}s window",
            signing.secs, signing.per_sec, args.warmup, args.duration
        );
        let data = rt.block_on(load::run(&client, presigned.clone(), side, &cfg))?;
        settle(&presigned.plan, &data.states, &mut nonces, &mut retired);
        let report = RunReport::from_data(run, &data, signing, &presigned.plan);
        eprintln!(
            "bench: run {run}: {:.0} tx/s sustained, p50 {:.0} ms, p99 {:.0} ms, offered {:.0} tx/s, rejected {}, dropped {}",
            report.sustained_tps,
            report.latency_ms.p50,
            report.latency_ms.p99,
            report.offered_tps,
            report.rejected,
            report.dropped
        );
        if let Some(e) = &report.first_error {
            eprintln!("bench: run {run}: first error: {e}");
        }
        match (&shielded, &data.side) {
            (Some(prepared), Some(side)) => {
                let alone: Vec<f64> = runs.iter().map(|r| r.sustained_tps).collect();
                shielded_report = Some(shielded::ShieldedReport::of(
                    prepared.setup.clone(),
                    &data,
                    side,
                    report,
                    report::median(&alone),
                ));
            }
            _ => runs.push(report),
        }
    }
    drop(devnet);

    let mut report = aggregate(&args, runs, funding, defi.map(|(_, r)| r), rpc);
    report.shielded = shielded_report;
    print!("{}", report.summary());
    if args.ceilings {
        eprintln!("bench: measuring this machine's ceilings");
        report.ceilings = Some(ceilings::measure(ceilings::CeilingsArgs {
            e2e_tps: Some(report.sustained_tps),
            verify_batch: node_verify_chunk(args.batch),
            ..Default::default()
        })?);
    }
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    if let Some(path) = &args.svg {
        let median = &report.runs_detail[BenchReport::median_run(&report.runs_detail)];
        std::fs::write(path, report::svg(&report, median))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The signatures a node's verifier thread checks as one batch when bulk
/// requests bring `batch_txs` each: what the ceilings' verify stage should
/// measure to bound the run it stands beside.
fn node_verify_chunk(batch_txs: usize) -> usize {
    lakh_mempool::VerifierConfig::new(0, 0).chunk_txs(batch_txs)
}

/// After a run, brings the local nonces back in line with the node: a sender
/// whose sent transactions all finalized continues from its first unsent
/// nonce; a sender with a refused, dropped or lost transaction is retired
/// (its nonce on the node is uncertain, and a later nonce may sit queued).
fn settle(plan: &[Planned], states: &[u8], nonces: &mut [u64], retired: &mut [bool]) {
    let mut first_unsent: BTreeMap<u32, u64> = BTreeMap::new();
    for (p, &state) in plan.iter().zip(states) {
        match fate(state) {
            Fate::Finalized => {}
            Fate::Unsent => {
                first_unsent.entry(p.sender).or_insert(p.nonce);
            }
            Fate::Dropped | Fate::Lost | Fate::Refused(_) => retired[p.sender as usize] = true,
        }
    }
    for (sender, nonce) in first_unsent {
        nonces[sender as usize] = nonce;
    }
}

fn aggregate(
    args: &LoadArgs,
    runs: Vec<RunReport>,
    funding: accounts::Funding,
    defi_setup: Option<defi::SetupReport>,
    rpc: String,
) -> BenchReport {
    let tps: Vec<f64> = runs.iter().map(|r| r.sustained_tps).collect();
    let pick = |f: fn(&RunReport) -> f64| report::median(&runs.iter().map(f).collect::<Vec<_>>());
    let latency_ms = report::LatencyMs {
        p50: pick(|r| r.latency_ms.p50),
        p90: pick(|r| r.latency_ms.p90),
        p99: pick(|r| r.latency_ms.p99),
        max: pick(|r| r.latency_ms.max),
        mean: pick(|r| r.latency_ms.mean),
    };
    let mut rejected_by_reason = BTreeMap::new();
    for r in &runs {
        for (code, n) in &r.rejected_by_reason {
            *rejected_by_reason.entry(code.clone()).or_insert(0) += n;
        }
    }
    let mut failed_by_reason = BTreeMap::new();
    let mut mix = BTreeMap::new();
    for r in &runs {
        for (code, n) in &r.failed_by_reason {
            *failed_by_reason.entry(code.clone()).or_insert(0) += n;
        }
        for (category, n) in &r.mix {
            *mix.entry(category.clone()).or_insert(0) += n;
        }
    }
    let sum = |f: fn(&RunReport) -> u64| runs.iter().map(f).sum::<u64>();
    let median = &runs[BenchReport::median_run(&runs)];
    let signing_txs: usize = runs.iter().map(|r| r.signing.txs).sum();
    let signing_secs: f64 = runs.iter().map(|r| r.signing.secs).sum();
    BenchReport {
        schema: "lakh-bench/1",
        workload: args.workload,
        workload_detail: args.workload.describe(),
        accounts: args.accounts,
        load_mode: if args.rate.is_some() {
            "open"
        } else {
            "closed"
        },
        target_rate_tps: args.rate,
        in_flight_limit: args
            .rate
            .is_none()
            .then(|| args.in_flight.min(args.accounts.saturating_mul(512))),
        batch_txs: args.batch,
        warmup_secs: args.warmup,
        duration_secs: args.duration,
        runs: runs.len(),
        sustained_tps: report::median(&tps),
        sustained_tps_spread: Spread::of(&tps),
        latency_ms,
        offered_tps: pick(|r| r.offered_tps),
        submitted: sum(|r| r.submitted),
        accepted: sum(|r| r.accepted),
        rejected: sum(|r| r.rejected),
        rejected_by_reason,
        dropped: sum(|r| r.dropped),
        lost: sum(|r| r.lost),
        failed: sum(|r| r.failed),
        failed_by_reason,
        mix,
        node_cpu: median.node_cpu.clone(),
        bench_cpu: median.bench_cpu.clone(),
        machine: sys::Machine::detect(),
        rpc,
        devnet: args.devnet,
        funding,
        defi_setup,
        signing: Signing {
            txs: signing_txs,
            secs: signing_secs,
            per_sec: signing_txs as f64 / signing_secs.max(1e-9),
        },
        runs_detail: runs,
        ceilings: None,
        shielded: None,
    }
}

/// A seed that differs per invocation, so every bench uses fresh accounts.
fn clock_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    workload::SplitMix::new(nanos ^ (u64::from(std::process::id()) << 32)).next_u64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use load::{FINALIZED, REFUSED_BASE, SENT, UNSENT};

    #[test]
    fn settle_rewinds_unsent_nonces_and_retires_uncertain_senders() {
        let p = |sender, nonce| Planned {
            sender,
            receiver: 3,
            nonce,
            op: defi::Op::Transfer,
        };
        let plan = [
            p(0, 5),
            p(1, 0),
            p(0, 6),
            p(1, 1),
            p(2, 0),
            p(0, 7),
            p(2, 1),
        ];
        let states = [
            FINALIZED,
            FINALIZED,
            UNSENT,
            REFUSED_BASE,
            SENT,
            UNSENT,
            UNSENT,
        ];
        let mut nonces = vec![8, 2, 2];
        let mut retired = vec![false; 3];
        settle(&plan, &states, &mut nonces, &mut retired);
        // Sender 0 resumes at its first unsent nonce; 1 (refused) and 2
        // (never answered) are retired.
        assert_eq!(nonces[0], 6);
        assert_eq!(retired, vec![false, true, true]);
    }

    #[test]
    fn presign_count_follows_the_load_mode() {
        let args = |rate: Option<f64>| LoadArgs {
            workload: Workload::Transfers,
            accounts: 100,
            duration: 3.0,
            warmup: 1.0,
            rate,
            in_flight: 1_000,
            batch: 500,
            presign_tps: 10_000.0,
            max_requests: 4,
            rpc: String::new(),
            keys: None,
            devnet: false,
            node_pid: None,
            runs: 1,
            drain: 1.0,
            receipt_samples: 10,
            seed: None,
            json: None,
            svg: None,
            quiet: true,
            ceilings: false,
            shielded: None,
            shielded_params: None,
        };
        assert_eq!(args(Some(2_000.0)).presign_count(None), 8_500);
        assert_eq!(args(None).presign_count(None), 40_000);
        assert!(args(None).check().is_ok());
        let mut bad = args(None);
        bad.accounts = 1;
        assert!(bad.check().is_err());
        let mut shielded = args(None);
        shielded.shielded = Some(97);
        assert!(shielded.check().is_ok());
        shielded.shielded = Some(98);
        assert!(
            shielded.check().is_err(),
            "senders of private transfers send no plain ones"
        );
        shielded.shielded = Some(0);
        assert!(shielded.check().is_err());
    }
}
