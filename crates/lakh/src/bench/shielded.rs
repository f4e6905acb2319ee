//! `--shielded N`: private transfers beside the transfer load.
//!
//! Setup, not timed: bench accounts `0..N` each shield one note to a
//! shielded key of the bench (a wallet store in a temporary directory);
//! once they are final the store syncs, and N transfers (each spends one of
//! the notes plus a dummy, two notes out, as the circuit requires) are
//! proven with the wallet's own spend code on every core against that one
//! root, batch-verified here with the node's ingest function (timed: the
//! verification cost per proof), and signed by the accounts that shielded.
//!
//! The shielded run then submits them open loop at N / window beside the
//! usual transfer load; the runs before it send the same load alone, so
//! the transfers' cost of the shielded load is a ratio within one
//! invocation. The offered shielded rate is whatever the setup could
//! prove: the bench's proving budget, not the node, bounds it.

use super::accounts::{Accounts, wait_finalized};
use super::load::{Fate, RunData, SideData, fate, refusals};
use super::report::{LatencyMs, RunReport};
use super::workload::{Planned, Presigned, planned_tx, presign};
use crate::wallet::query_answer;
use crate::wallet::shielded::spend::{self, Destination, SpendRequest};
use crate::wallet::shielded::store::{OwnedNote, Store};
use crate::wallet::shielded::{params, rng, sync};
use anyhow::{Context, Result, bail};
use lakh_rpc::{LakhClient, TxStatusInfo};
use lakh_shielded::{
    ANCHOR_WINDOW, FullTree, Note, Parameters, ShieldedAddress, SpendingKey, TREE_DEPTH, chain,
};
use lakh_types::modules::shielded::query::VerifyingKeyAnswer;
use lakh_types::modules::shielded::{MAX_SHIELDED_ACTIONS_PER_BLOCK, ShieldedAction};
use lakh_types::{Action, Address, AssetId, Transaction};
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most private transfers one bench proves (at 0.5–1 s a proof per core,
/// about 10 minutes of setup on 2 cores).
pub const MAX_SHIELDED_TRANSFERS: usize = 1024;
/// Native base units each shielded note holds; each transfer pays all of it.
const NOTE_BASE: u64 = 1_000;
/// Setup fails if no shield transaction finalizes for this long.
const SHIELD_STALL: Duration = Duration::from_secs(60);
/// Blocks after the window in which the last transfers may still land.
const LANDING_BLOCKS: f64 = 4.0;

fn refused(code: &str, reason: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("{code}: {reason}")
}

/// What the setup did and what proving and verifying cost.
#[derive(Clone, Debug, Serialize)]
pub struct Setup {
    pub transfers: usize,
    pub shield_secs: f64,
    pub sync_secs: f64,
    /// Notes in the tree at the anchor every proof uses.
    pub anchor_notes: u64,
    pub anchor: String,
    /// Proving parameters: `file`, `cache` or `derived`, and the time to get them.
    pub params_source: &'static str,
    pub params_ms: u64,
    pub proving_threads: usize,
    /// Wall time of proving all of them.
    pub proving_secs: f64,
    /// One proof's time on one thread (median, max).
    pub proof_ms_median: f64,
    pub proof_ms_max: f64,
    /// The node's batch verification of all of them (`verify_actions`, one
    /// thread), per proof.
    pub batch_verify_us_per_proof: f64,
    /// Submission to finality of the one transfer sent in setup, the
    /// node's first proof (it derives its devnet verifying key then).
    pub first_proof_secs: f64,
}

/// The pre-proved, pre-signed transfers and how they were made.
pub struct Prepared {
    pub presigned: Arc<Presigned>,
    pub setup: Setup,
}

/// Shields a note from each of `senders`, proves a private transfer of each
/// note and signs it by the same sender; advances their `nonces`. The last
/// sender's transfer is sent in setup and final before this returns (the
/// node's first proof); the others are returned, for the run.
pub async fn prepare(
    client: &LakhClient,
    chain_id: u64,
    accounts: &Accounts,
    senders: &[u32],
    nonces: &mut [u64],
    keys_dir: &Path,
    params_file: Option<&Path>,
) -> Result<Prepared> {
    let dir = tempfile::Builder::new()
        .prefix("lakh-bench-shielded-")
        .tempdir()
        .context("cannot create a directory for the bench's shielded store")?;
    let store = Store::open(dir.path(), "bench")?;

    let started = Instant::now();
    shield_notes(client, chain_id, accounts, senders, nonces, &store).await?;
    let shield_secs = started.elapsed().as_secs_f64();

    let started = Instant::now();
    sync::sync(client, &store).await?;
    let notes: Vec<OwnedNote> = store
        .notes()?
        .into_iter()
        .filter(|n| n.spent_height.is_none())
        .collect();
    if notes.len() != senders.len() {
        bail!(refused(
            "shielded_notes_missing",
            format!(
                "the sync found {} of the {} shielded notes",
                notes.len(),
                senders.len()
            )
        ));
    }
    let tree = spend::accepted_tree(client, &store).await?;
    let sync_secs = started.elapsed().as_secs_f64();

    let chain_key: VerifyingKeyAnswer =
        query_answer(client, "shielded", "verifying_key", serde_json::json!({})).await?;
    let loaded = params::load(keys_dir, params_file, &chain_key)?;
    let recipient = SpendingKey::random(&mut rng()).address();
    let requests: Vec<SpendRequest> = senders
        .iter()
        .map(|&s| transfer_request(chain_id, accounts.addrs[s as usize], recipient))
        .collect();
    let started = Instant::now();
    let proven = prove_all(&tree, store.key(), &notes, &requests, &loaded.params)?;
    let proving_secs = started.elapsed().as_secs_f64();
    let batch_verify_us_per_proof = batch_verify(&loaded.params, chain_id, &requests, &proven)?;

    let actions: BTreeMap<u32, ShieldedAction> = senders
        .iter()
        .zip(&proven)
        .map(|(&s, p)| (s, p.action.clone()))
        .collect();
    let sign = |senders: &[u32], nonces: &mut [u64]| {
        presign(accounts, plan_one_each(senders, nonces), |p| {
            let action = actions
                .get(&p.sender)
                .expect("the plan has exactly the senders of the proven actions");
            shielded_tx(accounts, chain_id, p, action.clone())
        })
    };
    // The node derives the devnet verifying key when it checks its first
    // proof (seconds, stalling that ingest batch): one transfer goes now so
    // the run measures the steady state.
    let (measured, warm) = senders.split_at(senders.len() - 1);
    let started = Instant::now();
    confirm(client, &sign(warm, nonces)?).await?;
    let first_proof_secs = started.elapsed().as_secs_f64();
    let presigned = sign(measured, nonces)?;

    let mut proof_ms: Vec<f64> = proven.iter().map(|p| p.proving_ms as f64).collect();
    proof_ms.sort_by(f64::total_cmp);
    Ok(Prepared {
        presigned: Arc::new(presigned),
        setup: Setup {
            transfers: measured.len(),
            shield_secs,
            sync_secs,
            anchor_notes: tree.len(),
            anchor: hex::encode(tree.root().to_bytes()),
            params_source: loaded.source,
            params_ms: loaded.load_ms,
            proving_threads: super::sys::cores().min(senders.len()),
            proving_secs,
            proof_ms_median: super::report::median(&proof_ms),
            proof_ms_max: proof_ms.last().copied().unwrap_or(0.0),
            batch_verify_us_per_proof,
            first_proof_secs,
        },
    })
}

/// One transaction from each sender, at its next nonce.
fn plan_one_each(senders: &[u32], nonces: &mut [u64]) -> Vec<Planned> {
    senders
        .iter()
        .map(|&sender| {
            let nonce = nonces[sender as usize];
            nonces[sender as usize] += 1;
            Planned {
                sender,
                receiver: sender,
                nonce,
                op: super::defi::Op::Transfer,
            }
        })
        .collect()
}

/// `p`'s sender sends `action`, with a fee cap per unit as every bench
/// transaction has.
fn shielded_tx(
    accounts: &Accounts,
    chain_id: u64,
    p: &Planned,
    action: ShieldedAction,
) -> Transaction {
    planned_tx(accounts, chain_id, p, Action::Shielded(Box::new(action)))
}

/// Each sender shields one note of [`NOTE_BASE`] to `store`'s key; returns
/// once every shield is final and succeeded.
async fn shield_notes(
    client: &LakhClient,
    chain_id: u64,
    accounts: &Accounts,
    senders: &[u32],
    nonces: &mut [u64],
    store: &Store,
) -> Result<()> {
    let to = store.key().address();
    let mut rng = rng();
    let mut actions = BTreeMap::new();
    for &sender in senders {
        let note = Note::new(AssetId::NATIVE, NOTE_BASE, to.paying_key, &mut rng);
        let action = chain::shield_action(&note, &to, &mut rng)
            .map_err(|e| anyhow::anyhow!("cannot encrypt a note: {e}"))?;
        actions.insert(sender, action);
    }
    let plan = plan_one_each(senders, nonces);
    let presigned = presign(accounts, plan, |p| {
        let action = actions
            .get(&p.sender)
            .expect("the plan has exactly the senders of the shield actions");
        shielded_tx(accounts, chain_id, p, action.clone())
    })?;
    confirm(client, &presigned).await
}

/// Submits every transaction of `presigned` and waits until all are final
/// and succeeded.
async fn confirm(client: &LakhClient, presigned: &Presigned) -> Result<()> {
    let mut blocks = client.subscribe_finalized().await?;
    let answer = client
        .submit_bulk_body(presigned.records(0, presigned.len()))
        .await?;
    if let Some(first) = answer.refused.first() {
        bail!(refused(
            "shield_refused",
            format!(
                "the node refused {} of {} shield transactions, the first with {}",
                answer.refused.len(),
                presigned.len(),
                first.code
            )
        ));
    }
    let pending: HashSet<_> = presigned.index.keys().copied().collect();
    wait_finalized(&mut blocks, pending, SHIELD_STALL)
        .await
        .map_err(|e| refused("shield_stalled", e))?;
    for i in 0..presigned.len() {
        match client.tx_status(presigned.id(i)).await? {
            TxStatusInfo::Finalized { receipt, .. } if receipt.status.is_success() => {}
            other => bail!(refused(
                "shield_failed",
                format!(
                    "shield transaction {} did not succeed: {other:?}",
                    presigned.id(i)
                )
            )),
        }
    }
    Ok(())
}

/// A private payment of a whole note to `to`, signed by `signer`, fee 0
/// (so the asset stays hidden).
fn transfer_request(chain_id: u64, signer: Address, to: ShieldedAddress) -> SpendRequest {
    SpendRequest {
        chain_id,
        signer,
        asset: AssetId::NATIVE,
        amount: NOTE_BASE,
        fee: 0,
        to: Destination::Shielded(to),
    }
}

/// Proves `requests[i]` spending `notes[i]`, on every core.
fn prove_all(
    tree: &FullTree<TREE_DEPTH>,
    key: &SpendingKey,
    notes: &[OwnedNote],
    requests: &[SpendRequest],
    params: &Parameters<TREE_DEPTH>,
) -> Result<Vec<spend::ProvenSpend>> {
    let threads = super::sys::cores().min(requests.len()).max(1);
    let per_thread = requests.len().div_ceil(threads);
    let parts: Vec<Result<Vec<spend::ProvenSpend>>> = std::thread::scope(|s| {
        let handles: Vec<_> = notes
            .chunks(per_thread)
            .zip(requests.chunks(per_thread))
            .map(|(notes, requests)| {
                s.spawn(move || {
                    notes
                        .iter()
                        .zip(requests)
                        .map(|(note, request)| {
                            spend::prove_notes(
                                tree,
                                key,
                                std::slice::from_ref(note),
                                request,
                                params,
                            )
                        })
                        .collect()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| bail!("proving panicked")))
            .collect()
    });
    let mut out = Vec::with_capacity(requests.len());
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

/// Verifies every proof in one batch with the function the node's ingest
/// uses; returns the time per proof in microseconds. A refused proof fails
/// the setup: the bench must not submit what it knows to be invalid.
fn batch_verify(
    params: &Parameters<TREE_DEPTH>,
    chain_id: u64,
    requests: &[SpendRequest],
    proven: &[spend::ProvenSpend],
) -> Result<f64> {
    let members: Vec<(Address, &ShieldedAction)> = requests
        .iter()
        .zip(proven)
        .map(|(r, p)| (r.signer, &p.action))
        .collect();
    let started = Instant::now();
    let verdicts = chain::verify_actions(params.verifying_key(), chain_id, &members);
    let secs = started.elapsed().as_secs_f64();
    if let Some((i, Err(e))) = verdicts.iter().enumerate().find(|(_, v)| v.is_err()) {
        bail!(refused(
            "proof_refused",
            format!("the bench's own proof {i} does not verify: {e}")
        ));
    }
    Ok(secs * 1e6 / members.len().max(1) as f64)
}

/// Refuses a shielded run whose transfers could land in more blocks than
/// one anchor outlasts: each block that carries shielded notes adds a root
/// to the chain's ring of [`ANCHOR_WINDOW`], so proofs made against one root
/// stay valid for `ANCHOR_WINDOW - 1` more such blocks, one of which the
/// setup's transfer took. `blocks_per_sec` is what the runs without
/// shielded load saw.
pub fn check_anchor_window(transfers: usize, blocks_per_sec: f64, window_secs: f64) -> Result<()> {
    let blocks = (blocks_per_sec * window_secs + LANDING_BLOCKS).ceil();
    let roots = (transfers as f64).min(blocks);
    // The setup's transfer added one root after the anchor.
    let ring = ANCHOR_WINDOW - 2;
    if roots > ring as f64 {
        bail!(refused(
            "anchor_window",
            format!(
                "{transfers} shielded transfers over a {window_secs} s window at {blocks_per_sec:.1} blocks/s may land in {roots:.0} blocks, each adding a root; \
                 proofs against one anchor stay valid for {ring} more: use --shielded {ring} or fewer, or a shorter --duration"
            )
        ));
    }
    Ok(())
}

/// What limits the shielded rate the bench offers.
const LIMITED_BY: &str = "the bench's proving budget: every transfer is proven before the window (seconds of one core each, setup.proof_ms_median), so the offered rate is --shielded over --duration, not what the node could take";

/// The node's own bounds on shielded transfers per second.
#[derive(Clone, Debug, Serialize)]
pub struct Ceiling {
    /// Finalized blocks per second in the shielded run's window.
    pub blocks_per_sec: f64,
    pub actions_per_block: usize,
    /// The per-block cap times the blocks per second.
    pub cap_per_sec: f64,
    /// Proofs one core batch-verifies per second (the setup's measurement).
    pub verify_per_sec_per_core: f64,
}

/// The shielded run's figures.
#[derive(Clone, Debug, Serialize)]
pub struct ShieldedReport {
    pub setup: Setup,
    pub limited_by: &'static str,
    /// Submitted inside the window, per second.
    pub offered_per_sec: f64,
    pub submitted: u64,
    pub accepted: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    /// Seen finalized by the end of the drain (every receipt is checked).
    pub finalized: u64,
    pub failed: u64,
    pub failed_by_reason: BTreeMap<String, u64>,
    pub receipts_missing: u64,
    /// Accepted, never seen finalized.
    pub dropped: u64,
    pub lost: u64,
    /// Learned finalized inside the window, minus every failed one.
    pub confirmed_in_window: u64,
    /// `confirmed_in_window` per second of window.
    pub confirmed_per_sec: f64,
    /// Submission to the client learning finality, over every finalized one.
    pub latency_ms: LatencyMs,
    /// Plain transfers per second in the shielded run, and the median of the
    /// runs without shielded load before it.
    pub transfers_tps_beside: f64,
    pub transfers_tps_alone: f64,
    pub transfers_ratio: f64,
    pub ceiling: Ceiling,
    /// The shielded run's transfer figures.
    pub run: RunReport,
}

impl ShieldedReport {
    /// The figures of `side`, the shielded stream of `data`, whose main
    /// stream gave `run`.
    pub fn of(
        setup: Setup,
        data: &RunData,
        side: &SideData,
        run: RunReport,
        transfers_tps_alone: f64,
    ) -> ShieldedReport {
        let window = data.window_start_ns..data.window_end_ns;
        let n = side.states.len();
        let count =
            |f: fn(Fate) -> bool| (0..n).filter(|&i| f(fate(side.states[i]))).count() as u64;
        let rejected_by_reason = refusals(&side.states, &data.reasons, 0..n);
        let mut latencies: Vec<f64> = side
            .finals
            .iter()
            .map(|&(i, t)| t.saturating_sub(side.submit_ns[i as usize]) as f64 / 1e6)
            .collect();
        latencies.sort_by(f64::total_cmp);
        let in_window = side
            .finals
            .iter()
            .filter(|(_, t)| window.contains(t))
            .count() as u64;
        let confirmed_in_window = in_window.saturating_sub(side.receipts.failed);
        let blocks_per_sec = run.blocks_in_window as f64 / run.window_secs;
        let ceiling = Ceiling {
            blocks_per_sec,
            actions_per_block: MAX_SHIELDED_ACTIONS_PER_BLOCK,
            cap_per_sec: MAX_SHIELDED_ACTIONS_PER_BLOCK as f64 * blocks_per_sec,
            verify_per_sec_per_core: 1e6 / setup.batch_verify_us_per_proof.max(1e-9),
        };
        let submitted = count(|f| f != Fate::Unsent);
        ShieldedReport {
            setup,
            limited_by: LIMITED_BY,
            offered_per_sec: submitted as f64 / run.window_secs,
            submitted,
            accepted: count(|f| matches!(f, Fate::Finalized | Fate::Dropped)),
            rejected: rejected_by_reason.values().sum(),
            rejected_by_reason,
            finalized: side.finals.len() as u64,
            failed: side.receipts.failed,
            failed_by_reason: side.receipts.failed_by_reason.clone(),
            receipts_missing: side.receipts.missing,
            dropped: count(|f| f == Fate::Dropped),
            lost: count(|f| f == Fate::Lost),
            confirmed_in_window,
            confirmed_per_sec: confirmed_in_window as f64 / run.window_secs,
            latency_ms: LatencyMs::of_sorted(&latencies),
            transfers_tps_beside: run.sustained_tps,
            transfers_tps_alone,
            transfers_ratio: run.sustained_tps / transfers_tps_alone.max(1e-9),
            ceiling,
            run,
        }
    }
}

impl ShieldedReport {
    /// The summary's lines for the shielded run.
    pub fn summary(&self) -> String {
        let s = &self.setup;
        let l = &self.latency_ms;
        let c = &self.ceiling;
        let codes = |m: &BTreeMap<String, u64>| {
            if m.is_empty() {
                String::new()
            } else {
                format!(" {m:?}")
            }
        };
        format!(
            "  shielded   {} private transfers (2 in, 2 out) proven before the window: {:.1}s on {} threads (a proof {:.0} ms median, {:.0} ms max); node batch verify {:.0} us a proof\n\
             \x20            offered {:.1}/s ({}); confirmed {:.1}/s in the window ({} of {} finalized); latency p50 {:.0} ms  p90 {:.0} ms  p99 {:.0} ms  max {:.0} ms\n\
             \x20            accepted {}, rejected {}{}, failed {}{}, dropped {}, lost {}\n\
             \x20            transfers beside them {:.0} tx/s, alone {:.0} tx/s: ratio {:.3}\n\
             \x20            node ceiling {} a block x {:.2} blocks/s = {:.0}/s; one core batch-verifies {:.0} proofs/s\n",
            s.transfers,
            s.proving_secs,
            s.proving_threads,
            s.proof_ms_median,
            s.proof_ms_max,
            s.batch_verify_us_per_proof,
            self.offered_per_sec,
            "limited by the bench's proving budget",
            self.confirmed_per_sec,
            self.confirmed_in_window,
            self.finalized,
            l.p50,
            l.p90,
            l.p99,
            l.max,
            self.accepted,
            self.rejected,
            codes(&self.rejected_by_reason),
            self.failed,
            codes(&self.failed_by_reason),
            self.dropped,
            self.lost,
            self.transfers_tps_beside,
            self.transfers_tps_alone,
            self.transfers_ratio,
            c.actions_per_block,
            c.blocks_per_sec,
            c.cap_per_sec,
            c.verify_per_sec_per_core,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_window_bounds_the_blocks_a_run_may_touch() {
        // At most one root per transfer: 98 transfers (and the setup's) always fit.
        assert!(check_anchor_window(98, 100.0, 60.0).is_ok());
        assert!(check_anchor_window(99, 100.0, 60.0).is_err());
        // 128 transfers fit when they can land in at most 99 blocks.
        assert!(check_anchor_window(128, 5.0, 10.0).is_ok());
        let err = check_anchor_window(128, 10.0, 10.0).unwrap_err();
        assert!(err.to_string().starts_with("anchor_window: "), "{err}");
        assert!(err.to_string().contains("104 blocks"), "{err}");
    }

    #[test]
    fn the_figures_count_the_side_stream_and_compare_the_runs() {
        use crate::bench::load::{FINALIZED, REFUSED_BASE, Receipts, UNSENT};
        use crate::bench::report::Signing;
        const S: u64 = 1_000_000_000;
        // Window 1 s..3 s; two plain transfers finalized in it (1 tx/s).
        let side = SideData {
            submit_ns: vec![S, 2 * S, 2 * S, 0],
            states: vec![FINALIZED, FINALIZED, REFUSED_BASE, UNSENT],
            // One learned final inside the window, one after it.
            finals: vec![(0, 2 * S), (1, 4 * S)],
            receipts: Receipts {
                checked: 2,
                ..Receipts::default()
            },
        };
        let data = RunData {
            window_start_ns: S,
            window_end_ns: 3 * S,
            submit_ns: vec![S, S],
            states: vec![FINALIZED, FINALIZED],
            reasons: vec!["stale_anchor".into()],
            finals: vec![(0, 2 * S), (1, 2 * S)],
            blocks: vec![(3 * S / 2, 10, 3), (5 * S / 2, 11, 3)],
            node_cpu: None,
            bench_cpu: None,
            exhausted: false,
            receipts_checked: 0,
            receipts_failed: 0,
            receipts_missing: 0,
            receipts_failed_by_reason: BTreeMap::new(),
            first_error: None,
            resubscriptions: 0,
            backfilled_blocks: 0,
            side: None,
        };
        let plan = plan_one_each(&[0, 1], &mut [0, 0]);
        let signing = Signing {
            txs: 2,
            secs: 1.0,
            per_sec: 2.0,
        };
        let run = RunReport::from_data(2, &data, signing, &plan);
        let setup = Setup {
            transfers: 4,
            shield_secs: 0.0,
            sync_secs: 0.0,
            anchor_notes: 4,
            anchor: String::new(),
            params_source: "cache",
            params_ms: 0,
            proving_threads: 2,
            proving_secs: 1.0,
            proof_ms_median: 500.0,
            proof_ms_max: 600.0,
            batch_verify_us_per_proof: 500.0,
            first_proof_secs: 2.0,
        };
        let r = ShieldedReport::of(setup, &data, &side, run, 2.0);
        assert_eq!((r.submitted, r.accepted, r.finalized), (3, 2, 2));
        assert_eq!(
            r.rejected_by_reason,
            BTreeMap::from([("stale_anchor".into(), 1)])
        );
        assert_eq!(r.confirmed_in_window, 1);
        assert_eq!(r.confirmed_per_sec, 0.5);
        assert_eq!(r.offered_per_sec, 1.5, "those submitted inside the window");
        // Latency over every finalized one, the one after the window too.
        assert_eq!((r.latency_ms.p50, r.latency_ms.max), (1000.0, 2000.0));
        assert_eq!((r.transfers_tps_beside, r.transfers_ratio), (1.0, 0.5));
        assert_eq!(r.ceiling.cap_per_sec, 64.0);
        assert_eq!(r.ceiling.verify_per_sec_per_core, 2000.0);
        assert!(r.summary().contains("ratio 0.500"), "{}", r.summary());
    }

    #[test]
    fn one_transaction_per_sender_at_its_next_nonce() {
        let mut nonces = vec![3, 0, 7];
        let plan = plan_one_each(&[0, 2], &mut nonces);
        assert_eq!(
            plan.iter().map(|p| (p.sender, p.nonce)).collect::<Vec<_>>(),
            [(0, 3), (2, 7)]
        );
        assert_eq!(nonces, [4, 0, 8]);
    }
}
