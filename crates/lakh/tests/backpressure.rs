//! Overload against a real one-validator `lakh devnet` process whose mempool
//! holds only 1,000 transactions: a client floods it through the bulk endpoint
//! and JSON-RPC, retrying what is refused. The node must refuse the excess as
//! `busy` with a reason, keep answering `lakh_head`, keep finalizing, and
//! finalize every transaction it accepted.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use commonware_cryptography::Signer;
use lakh_rpc::client::LakhClient;
use lakh_types::{
    Action, Address, AssetId, PrivateKey, SignedTransaction, Transaction, TransferEntry, TxStatus,
};
use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

mod common;
use common::{Devnet, free_port, key_of};

const MEMPOOL_TXS: usize = 1_000;
const SENDERS: usize = 40;
const TXS_PER_SENDER: u64 = 600;
/// Each round offers this many of every sender's next transactions.
const PER_SENDER_PER_ROUND: usize = 50;
const FLOOD: Duration = Duration::from_secs(6);
const MAX_FEE: u128 = 1_000_000;

fn sign(key: &PrivateKey, chain_id: u64, nonce: u64, action: Action) -> SignedTransaction {
    Transaction {
        chain_id,
        sender: key.public_key().into(),
        nonce,
        max_fee: MAX_FEE,
        action,
    }
    .sign(key)
}

/// Peak resident memory of a process, from /proc (Linux only).
fn peak_rss_mib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// What the flood saw.
#[derive(Default)]
struct Tally {
    accepted: usize,
    busy_bulk: usize,
    busy_json: usize,
    busy_messages: Vec<String>,
    other: Vec<String>,
}

#[test]
fn overloaded_node_refuses_busy_keeps_finalizing_and_answers_rpc() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(
        dir.path(),
        1,
        free_port(),
        &["--mempool-max-txs", &MEMPOOL_TXS.to_string()],
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let alice = key_of(dir.path(), "alice");
    let senders: Vec<PrivateKey> = (0..SENDERS as u64)
        .map(|i| PrivateKey::from_seed(50_000 + i))
        .collect();
    let addrs: Vec<Address> = senders
        .iter()
        .map(|k| Address::from(&k.public_key()))
        .collect();

    rt.block_on(async {
        let client = LakhClient::connect(&net.rpc).unwrap();
        let chain_id = client.chain_id().await.unwrap();
        // Fund the senders in one multi-transfer.
        let entries = addrs
            .iter()
            .map(|a| TransferEntry {
                to: *a,
                asset: AssetId::NATIVE,
                amount: 1_000_000_000_000,
            })
            .collect();
        let fund = sign(&alice, chain_id, 0, Action::MultiTransfer { entries });
        let id = client.submit(&fund).await.unwrap();
        let funded = client
            .wait_for_finality(id, Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(funded.receipt.status, TxStatus::Success);

        let to = Address([7; 32]);
        let txs: Vec<Vec<SignedTransaction>> = senders
            .iter()
            .map(|k| {
                (0..TXS_PER_SENDER)
                    .map(|n| {
                        let entry = TransferEntry {
                            to,
                            asset: AssetId::NATIVE,
                            amount: 1,
                        };
                        sign(k, chain_id, n, Action::Transfer(entry))
                    })
                    .collect()
            })
            .collect();

        // lakh_head keeps being polled while the flood runs (and for at
        // least 1.5 s, so that a flood the node absorbs fast still gives
        // enough polls to judge).
        let flooding = Arc::new(AtomicBool::new(true));
        let polls: Arc<Mutex<Vec<(Duration, Duration, u64)>>> = Arc::default();
        let poller = {
            let client = client.clone();
            let flooding = flooding.clone();
            let polls = polls.clone();
            tokio::spawn(async move {
                let t0 = Instant::now();
                while flooding.load(Ordering::Relaxed) || t0.elapsed() < Duration::from_millis(1500) {
                    let asked = Instant::now();
                    let head = client.head().await.expect("lakh_head answers during the flood");
                    polls
                        .lock()
                        .unwrap()
                        .push((t0.elapsed(), asked.elapsed(), head.height));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        };

        let rss_before = peak_rss_mib(net.child.id());
        let mut next = vec![0usize; SENDERS];
        let mut tally = Tally::default();
        let started = Instant::now();
        let mut round = 0usize;
        while started.elapsed() < FLOOD && next.iter().any(|&n| n < TXS_PER_SENDER as usize) {
            // Each sender's offered transactions are consecutive from its next
            // unaccepted nonce, so what the node accepts is a prefix of them.
            let mut batch = Vec::new();
            let mut owner = Vec::new();
            // Rotate who goes first so no sender is always behind a full pool.
            for s in (0..SENDERS).map(|i| (i + round * 7) % SENDERS) {
                let queue = &txs[s];
                let end = (next[s] + PER_SENDER_PER_ROUND).min(queue.len());
                batch.extend_from_slice(&queue[next[s]..end]);
                owner.extend(std::iter::repeat_n(s, end - next[s]));
            }
            let bulk = round.is_multiple_of(2);
            let verdicts: Vec<Result<(), (String, String)>> = if bulk {
                let answer = client.submit_bulk(&batch).await.unwrap();
                let mut v = vec![Ok(()); batch.len()];
                for r in answer.refused {
                    v[r.index] = Err((r.code, r.message));
                }
                v
            } else {
                client
                    .submit_batch(&batch)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|r| r.map(|_| ()).map_err(|e| (e.code, e.message)))
                    .collect()
            };
            let mut refused_seen = [false; SENDERS];
            for (verdict, &s) in verdicts.into_iter().zip(&owner) {
                match verdict {
                    Ok(()) => {
                        assert!(!refused_seen[s], "sender {s}: accepted after a refusal");
                        next[s] += 1;
                        tally.accepted += 1;
                    }
                    Err((code, message)) if code == "busy" => {
                        refused_seen[s] = true;
                        if bulk {
                            tally.busy_bulk += 1;
                        } else {
                            tally.busy_json += 1;
                        }
                        if tally.busy_messages.len() < 8 && !tally.busy_messages.contains(&message)
                        {
                            tally.busy_messages.push(message);
                        }
                    }
                    Err((code, message)) => tally.other.push(format!("{code}: {message}")),
                }
            }
            round += 1;
        }
        let flood_time = started.elapsed();
        flooding.store(false, Ordering::Relaxed);
        poller.await.unwrap();
        let rss_after = peak_rss_mib(net.child.id());
        let polls = polls.lock().unwrap().clone();
        println!(
            "flood: {round} rounds in {flood_time:?}, accepted {}, busy {} bulk + {} JSON-RPC, \
             {} head polls (slowest {:?}), heights {:?}..{:?}, node peak RSS {rss_before:?} -> {rss_after:?} MiB",
            tally.accepted,
            tally.busy_bulk,
            tally.busy_json,
            polls.len(),
            polls.iter().map(|p| p.1).max(),
            polls.first().map(|p| p.2),
            polls.last().map(|p| p.2),
        );
        println!("busy reasons: {:#?}", tally.busy_messages);

        assert!(tally.other.is_empty(), "refusals other than busy: {:?}", &tally.other[..tally.other.len().min(5)]);
        assert!(tally.busy_bulk > 0, "the bulk endpoint never refused as busy");
        assert!(tally.busy_json > 0, "JSON-RPC never refused as busy");
        assert!(
            tally
                .busy_messages
                .iter()
                .all(|m| m.starts_with("node busy: ") && (m.contains("full") || m.contains("limit"))),
            "busy refusals must say which bound was hit: {:?}",
            tally.busy_messages
        );
        assert!(tally.accepted > MEMPOOL_TXS, "the node accepted too little to have finalized anything");

        // RPC answered throughout, and the chain kept finalizing.
        assert!(polls.len() >= 10, "too few head polls: {}", polls.len());
        let slowest = polls.iter().map(|p| p.1).max().unwrap();
        assert!(slowest < Duration::from_secs(5), "lakh_head took {slowest:?}");
        let (first, last) = (polls.first().unwrap().2, polls.last().unwrap().2);
        assert!(last >= first + 3, "finalized height went only from {first} to {last}");
        let mut longest_stall = Duration::ZERO;
        let mut since = polls[0];
        for p in &polls {
            if p.2 > since.2 {
                since = *p;
            }
            longest_stall = longest_stall.max(p.0 - since.0);
        }
        assert!(longest_stall < Duration::from_secs(3), "no block finalized for {longest_stall:?}");
        if let (Some(before), Some(after)) = (rss_before, rss_after) {
            assert!(
                after < before + 1024,
                "node memory grew from {before} to {after} MiB under the flood"
            );
        }

        // Every accepted transaction finalizes: each sender's nonce reaches
        // the number of its transactions the node accepted.
        let deadline = Instant::now() + Duration::from_secs(60);
        for (s, addr) in addrs.iter().enumerate() {
            loop {
                let nonce = client.account(*addr, false).await.unwrap().nonce;
                if nonce == next[s] as u64 {
                    break;
                }
                assert!(nonce < next[s] as u64, "sender {s} nonce {nonce} beyond what was accepted");
                assert!(
                    Instant::now() < deadline,
                    "sender {s}: {} accepted, only {nonce} finalized",
                    next[s]
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            if next[s] > 0 {
                let last = txs[s][next[s] - 1].id();
                assert!(matches!(
                    client.tx_status(last).await.unwrap(),
                    lakh_rpc::types::TxStatusInfo::Finalized { .. }
                ));
            }
        }
    });
}
