//! What the receipts indexes keep in memory per finalized transaction.
//!
//! The indexes are commonware prunable archives, which keep every record's
//! translated key and position in memory to find it without a disk index.
//! So the node's memory grows with the transactions it has indexed; this
//! measures by how much, on the node's own runtime and page cache size.
#![allow(clippy::unwrap_used)]

use commonware_cryptography::{Hasher as _, Sha256, sha256};
use commonware_runtime::{
    Runner as _, Supervisor as _, buffer::paged::CacheRef, tokio as cw_tokio,
};
use commonware_utils::{NZU16, NZU64, NZUsize};
use lakh_archive::{AccountIndex, AssetRegistry, Indexer, Retention};
use lakh_types::{AssetId, Event, Receipt, TxId, TxStatus};
use std::sync::Arc;

const TXS_PER_BLOCK: u64 = 5_000;
const BLOCKS: u64 = 400;
/// Senders and recipients are drawn from this many accounts, so the
/// indexer's cache of account tips stays small next to the archives.
const ACCOUNTS: u64 = 1_000;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn account(n: u64) -> lakh_types::Address {
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&n.to_le_bytes());
    lakh_types::Address(bytes)
}

fn transfer(height: u64, seq: u64, index: u32) -> Receipt {
    // Ids are hashes, as real ones are: the archives' tables assume keys
    // spread uniformly (sequential ids cluster and make inserts quadratic).
    let mut id = [0u8; 32];
    id.copy_from_slice(&Sha256::hash(&[&seq.to_le_bytes()]));
    let from = account(seq % ACCOUNTS);
    Receipt {
        tx_id: TxId(id),
        sender: from,
        nonce: seq,
        height,
        index,
        fee_paid: 1,
        status: TxStatus::Success,
        events: vec![Event::Transfer {
            asset: AssetId::NATIVE,
            from,
            to: account((seq * 7 + 3) % ACCOUNTS),
            amount: 1,
        }],
    }
}

/// Indexes `blocks` blocks of transfers under `retention` and samples the
/// process's RSS every 40 blocks: (transactions indexed, bytes).
fn index_and_sample(retention: Retention, blocks: u64) -> Vec<(u64, u64)> {
    let dir = tempfile::tempdir().unwrap();
    let config = cw_tokio::Config::new()
        .with_worker_threads(2)
        .with_storage_directory(dir.path());
    cw_tokio::Runner::new(config).start(|context| async move {
        let cache = CacheRef::new(NZU16!(4096), NZUsize!(8192));
        let assets = Arc::new(AssetRegistry::new([(AssetId::NATIVE, "LAKH".to_string())]));
        let mut indexer =
            Indexer::init(context.child("txs"), "m", cache.clone(), assets, retention).await;
        let mut accounts =
            AccountIndex::init(context.child("accounts"), "m", cache, retention).await;
        let digest = sha256::Digest::from([1u8; 32]);
        let mut samples = Vec::new();
        let mut seq = 0;
        let mut slowest = (std::time::Duration::ZERO, 0);
        for height in 1..=blocks {
            let block: Vec<Receipt> = (0..TXS_PER_BLOCK)
                .map(|i| transfer(height, seq + i, i as u32))
                .collect();
            let started = std::time::Instant::now();
            indexer.record(height, digest, seq, &block, &[]).await;
            accounts.index(seq, &block).await;
            slowest = slowest.max((started.elapsed(), height));
            seq += TXS_PER_BLOCK;
            if height % 40 == 0 {
                samples.push((seq, rss_bytes()));
            }
        }
        let (took, height) = slowest;
        println!("slowest block: height {height}, {} ms", took.as_millis());
        samples
    })
}

/// Bytes of RSS per transaction indexed between two samples.
fn growth_per_tx(samples: &[(u64, u64)], from: usize) -> f64 {
    let (first_txs, first_rss) = samples[from];
    let (last_txs, last_rss) = *samples.last().unwrap();
    for (txs, rss) in samples {
        println!("{txs} transactions indexed: RSS {} MiB", rss >> 20);
    }
    (last_rss as f64 - first_rss as f64) / (last_txs - first_txs) as f64
}

/// Memory per indexed transaction, in bytes (Linux: reads /proc/self/statm).
/// Run with
/// `cargo test --release -p lakh-archive --test memory -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement: indexes 2,000,000 transactions on disk"]
fn memory_grows_with_the_transactions_indexed() {
    let samples = index_and_sample(Retention::ALL, BLOCKS);
    // The first sample is past the page cache's and the tips' warm-up.
    let per_tx = growth_per_tx(&samples, 0);
    println!("{per_tx:.1} bytes of memory per indexed transaction");
    assert!(
        per_tx > 0.0,
        "the prunable archives keep each record's key in memory; \
         if this no longer grows, the indexes changed: update docs/RELIABILITY.md"
    );
}

/// With a retention, memory levels off once pruning starts: 4,000,000
/// transactions through indexes that keep about the newest 1,000,000
/// (pruned by generations of 262,144).
#[test]
#[ignore = "a measurement: indexes 4,000,000 transactions on disk"]
fn memory_levels_off_under_a_retention() {
    let retention = Retention::keep(1 << 20).with_generation(NZU64!(1 << 18));
    let samples = index_and_sample(retention, 2 * BLOCKS);
    // From 2,000,000 on, at least twice the retention has gone through.
    let per_tx = growth_per_tx(&samples, samples.len() / 2 - 1);
    println!("{per_tx:.1} bytes of memory per transaction once pruning runs");
    assert!(
        per_tx < 10.0,
        "memory should level off under a retention, grew {per_tx:.1} bytes per transaction"
    );
}
