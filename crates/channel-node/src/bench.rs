//! `lakh channel bench`: off-chain payments per second between two channel
//! nodes in this process, linked over loopback TCP through the real
//! handshake, protocol and stores (each in its own redb file, synced on
//! every commit).
//!
//! The channels are set up off chain (both nodes adopt the same channel), so
//! the figures measure the off-chain path alone: co-signed updates (payer
//! signs and stores, payee verifies, signs and stores, payer verifies and
//! stores) and PayWord (the payee checks each word with one sha256 and
//! stores the deepest).

use crate::node::Node;
use crate::wire::PaywordTerms;
use lakh_types::modules::channel::{ChannelRef, channel_id, payword_root};
use lakh_types::modules::shielded::FixedBytes;
use lakh_types::{Address, AssetId, PrivateKey};
use serde::Serialize;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchConfig {
    /// Co-signed payments.
    pub payments: u64,
    /// Payments per `pay` call (signed and stored together).
    pub batch: u64,
    /// `pay` calls in flight at once.
    pub concurrency: usize,
    /// PayWord payments (split over channels of the longest chain the module allows).
    pub payword_payments: u64,
    /// PayWord words per message.
    pub words_per_message: usize,
}

/// Latency percentiles (µs).
#[derive(Clone, Debug, Serialize)]
pub struct Percentiles {
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// One measurement.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    pub payments: u64,
    pub seconds: f64,
    pub per_second: f64,
    /// Co-signed: each payment's time from signing to countersignature.
    /// PayWord: each message's time from sending to the payee's acknowledgement.
    pub latency: Percentiles,
}

/// The bench's result.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub cosigned: Figure,
    pub payword: Figure,
    pub batch: u64,
    pub concurrency: usize,
    pub words_per_message: usize,
}

fn percentiles(mut v: Vec<u64>) -> Percentiles {
    v.sort_unstable();
    let at = |q: f64| {
        if v.is_empty() {
            0
        } else {
            v[((v.len() - 1) as f64 * q).round() as usize]
        }
    };
    Percentiles {
        p50_us: at(0.50),
        p90_us: at(0.90),
        p99_us: at(0.99),
        max_us: v.last().copied().unwrap_or(0),
    }
}

fn random_key() -> PrivateKey {
    use commonware_math::algebra::Random;
    PrivateKey::random(rand::rng())
}

/// Runs the bench with stores under `dir`.
pub async fn run(cfg: &BenchConfig, dir: &Path) -> anyhow::Result<BenchReport> {
    use commonware_cryptography::Signer;
    let (ka, kb) = (random_key(), random_key());
    let (a_addr, b_addr) = (
        Address::from(&ka.public_key()),
        Address::from(&kb.public_key()),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let b_listen = listener.local_addr()?.to_string();
    let a = Node::open(ka, &dir.join("a"), String::new(), None)?;
    let b = Node::open(kb, &dir.join("b"), b_listen.clone(), None)?;
    tokio::spawn(b.clone().serve(listener));

    let participants = [a_addr, b_addr];
    let asset = AssetId(1);
    let reference = ChannelRef {
        id: channel_id(0, &participants, asset, 0, 3_600),
        participants,
        asset,
    };
    let batch = cfg.batch.max(1);
    let calls = cfg.payments.div_ceil(batch);
    // Every call pays a whole batch: the payments rounded up to batches.
    let deposit = u128::from(calls * batch);
    a.adopt_offchain(reference, [deposit, 0], &b_listen);
    b.adopt_offchain(reference, [deposit, 0], "");
    a.connect(&b_listen, b_addr)
        .await
        .map_err(anyhow::Error::new)?;

    // Co-signed updates.
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for _ in 0..cfg.concurrency.max(1) {
        let (a, next) = (a.clone(), next.clone());
        tasks.spawn(async move {
            let mut lat = Vec::new();
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < calls {
                let r = a.pay(b_addr, 1, batch).await?;
                lat.extend(r.latencies_us);
            }
            Ok::<_, crate::NodeError>(lat)
        });
    }
    let mut latencies = Vec::new();
    while let Some(r) = tasks.join_next().await {
        latencies.extend(r??);
    }
    let seconds = started.elapsed().as_secs_f64();
    let paid = latencies.len() as u64;
    let b_view = b
        .view(&reference.id)
        .ok_or_else(|| anyhow::anyhow!("the payee lost the channel"))?;
    anyhow::ensure!(
        b_view.mine == u128::from(paid) && b_view.version == paid,
        "the payee holds {} at version {} after {paid} payments",
        b_view.mine,
        b_view.version
    );
    let cosigned = Figure {
        payments: paid,
        seconds,
        per_second: paid as f64 / seconds,
        latency: percentiles(latencies),
    };

    // PayWord.
    let length = lakh_types::modules::channel::MAX_PAYWORD_LENGTH;
    let channels = cfg.payword_payments.div_ceil(u64::from(length)).max(1);
    let mut ids = Vec::new();
    for i in 0..channels {
        let reference = ChannelRef {
            id: channel_id(0, &participants, asset, 1 + i, 3_600),
            participants,
            asset,
        };
        let mut seed = [0u8; 32];
        rand::Rng::fill_bytes(&mut rand::rng(), &mut seed);
        let seed = FixedBytes(seed);
        let terms = PaywordTerms {
            channel: reference,
            root: payword_root(&seed, length),
            length,
            unit_amount: 1,
        };
        a.payword_offer(terms, seed)
            .await
            .map_err(anyhow::Error::new)?;
        ids.push(reference.id);
    }
    let started = Instant::now();
    let mut remaining = cfg.payword_payments;
    let mut latencies = Vec::new();
    for id in &ids {
        let n = remaining.min(u64::from(length)) as u32;
        remaining -= u64::from(n);
        latencies.extend(
            a.payword_pay(*id, n, cfg.words_per_message)
                .await
                .map_err(anyhow::Error::new)?,
        );
    }
    let seconds = started.elapsed().as_secs_f64();
    let received: u64 = ids
        .iter()
        .map(|id| u64::from(b.payword_received(id).unwrap_or(0)))
        .sum();
    anyhow::ensure!(
        received == cfg.payword_payments,
        "the payee stored {received} PayWord payments of {}",
        cfg.payword_payments
    );
    let payword = Figure {
        payments: received,
        seconds,
        per_second: received as f64 / seconds,
        latency: percentiles(latencies),
    };
    Ok(BenchReport {
        cosigned,
        payword,
        batch,
        concurrency: cfg.concurrency.max(1),
        words_per_message: cfg.words_per_message,
    })
}
