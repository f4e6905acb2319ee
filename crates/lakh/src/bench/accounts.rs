//! The bench's accounts: derived from a seed (fresh ones every invocation, so
//! every nonce starts at 0) and funded from the demo accounts with
//! `MultiTransfer`s before any timing starts.

use anyhow::{Context, Result, bail};
use commonware_codec::DecodeExt;
use commonware_cryptography::{Hasher, Sha256, Signer};
use lakh_rpc::{FinalizedBlocks, LakhClient, TxStatusInfo, bulk::push_record};
use lakh_types::{
    Action, Address, AssetId, PrivateKey, SignedTransaction, Transaction, TransferEntry, TxId,
    limits::MAX_MULTI_TRANSFER_ENTRIES,
};
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// Native base units each bench account receives at most (1 LAKH).
const MAX_FUND_BASE: u128 = 1_000_000_000;
/// Least an account may receive: enough for thousands of fees.
const MIN_FUND_BASE: u128 = 10_000_000;
/// Fee cap per fee unit of every bench transaction (native base units); far
/// above the base fee, which is what is actually charged.
pub const MAX_FEE_PER_UNIT: u128 = 100_000;
/// Funding transactions per sender in flight at once, under the mempool's
/// per-sender queue and nonce-ahead limits (1024 each by default).
const FUNDING_WAVE_PER_SENDER: usize = 900;
/// Funding transactions per bulk request (~14 KiB each; under the 16 MiB body limit).
const FUNDING_REQUEST_TXS: usize = 500;
/// Funding fails if no funding transaction finalizes for this long.
const FUNDING_STALL: Duration = Duration::from_secs(60);

/// The bench accounts, in index order.
pub struct Accounts {
    pub keys: Vec<PrivateKey>,
    pub addrs: Vec<Address>,
}

impl Accounts {
    /// Derives `count` keys from `seed` on every core: key `i` is the ed25519
    /// secret sha256("lakh-bench" || seed || i).
    pub fn derive(count: usize, seed: u64) -> Result<Accounts> {
        let threads = super::sys::cores().min(count.max(1));
        let per_thread = count.div_ceil(threads);
        let parts: Vec<Result<Vec<PrivateKey>>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    s.spawn(move || {
                        let start = t * per_thread;
                        let end = (start + per_thread).min(count);
                        (start..end).map(|i| derive_key(seed, i as u64)).collect()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| bail!("key derivation panicked"))
                })
                .collect()
        });
        let mut keys = Vec::with_capacity(count);
        for part in parts {
            keys.extend(part?);
        }
        let addrs = keys
            .iter()
            .map(|k| Address::from(&k.public_key()))
            .collect();
        Ok(Accounts { keys, addrs })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

fn derive_key(seed: u64, index: u64) -> Result<PrivateKey> {
    let secret = Sha256::hash(&[
        b"lakh-bench".as_slice(),
        &seed.to_le_bytes(),
        &index.to_le_bytes(),
    ]);
    PrivateKey::decode(bytes::Bytes::copy_from_slice(secret.as_ref()))
        .context("derived bench key does not decode")
}

/// What funding did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Funding {
    pub accounts: usize,
    pub txs: usize,
    /// Native base units each account received.
    #[serde(with = "lakh_types::amount")]
    pub amount_base: u128,
    pub secs: f64,
}

/// Gives every account `amount` native base units from the demo accounts,
/// round-robin, and waits until every funding transaction is finalized and
/// succeeded.
pub async fn fund(
    client: &LakhClient,
    chain_id: u64,
    demo: &[PrivateKey],
    accounts: &Accounts,
) -> Result<Funding> {
    let started = Instant::now();
    let mut nonces = Vec::with_capacity(demo.len());
    let mut least_balance = u128::MAX;
    for key in demo {
        let info = client
            .account(Address::from(&key.public_key()), false)
            .await?;
        nonces.push(info.pending_nonce.unwrap_or(info.nonce));
        least_balance = least_balance.min(info.balance_of(AssetId::NATIVE));
    }
    // Each demo account pays for its share of the accounts; keep a fifth for fees.
    let share = accounts.len().div_ceil(demo.len()) as u128;
    let amount = (least_balance / 5 * 4 / share.max(1)).min(MAX_FUND_BASE);
    if amount < MIN_FUND_BASE {
        bail!(
            "the demo accounts cannot fund {} accounts with at least {MIN_FUND_BASE} base units each; use fewer --accounts",
            accounts.len()
        );
    }

    let mut txs = Vec::new();
    for (i, chunk) in accounts
        .addrs
        .chunks(MAX_MULTI_TRANSFER_ENTRIES)
        .enumerate()
    {
        let sender = i % demo.len();
        let entries: Vec<TransferEntry> = chunk
            .iter()
            .map(|to| TransferEntry {
                to: *to,
                asset: AssetId::NATIVE,
                amount,
            })
            .collect();
        let units = 1 + entries.len() as u128;
        let tx = Transaction {
            chain_id,
            sender: demo[sender].public_key().into(),
            nonce: nonces[sender],
            max_fee: MAX_FEE_PER_UNIT * units,
            action: Action::MultiTransfer { entries },
        }
        .sign(&demo[sender]);
        nonces[sender] += 1;
        txs.push(tx);
    }

    let mut blocks = client.subscribe_finalized().await?;
    let wave_len = FUNDING_WAVE_PER_SENDER * demo.len();
    for wave in txs.chunks(wave_len) {
        let pending: HashSet<TxId> = wave.iter().map(SignedTransaction::id).collect();
        for request in wave.chunks(FUNDING_REQUEST_TXS) {
            let mut body = Vec::new();
            for tx in request {
                push_record(&mut body, tx.raw());
            }
            let answer = client.submit_bulk_body(body.into()).await?;
            if let Some(refused) = answer.refused.first() {
                bail!(
                    "the node refused funding transaction {} of a request ({}); {} of {} refused",
                    refused.index,
                    refused.code,
                    answer.refused.len(),
                    request.len()
                );
            }
        }
        wait_finalized(&mut blocks, pending, FUNDING_STALL)
            .await
            .map_err(|e| anyhow::anyhow!("funding stalled: {e}"))?;
    }

    // Included is not succeeded: check receipts of a spread of funding
    // transactions and the balances of the first and last account.
    let step = (txs.len() / 8).max(1);
    for tx in txs.iter().step_by(step).chain(txs.last()) {
        match client.tx_status(tx.id()).await? {
            TxStatusInfo::Finalized { receipt, .. } if receipt.status.is_success() => {}
            other => bail!("funding transaction {} did not succeed: {other:?}", tx.id()),
        }
    }
    for addr in [accounts.addrs.first(), accounts.addrs.last()]
        .into_iter()
        .flatten()
    {
        let balance = client
            .account(*addr, false)
            .await?
            .balance_of(AssetId::NATIVE);
        if balance != amount {
            bail!(
                "bench account {addr} holds {balance} base units after funding, expected {amount}"
            );
        }
    }
    Ok(Funding {
        accounts: accounts.len(),
        txs: txs.len(),
        amount_base: amount,
        secs: started.elapsed().as_secs_f64(),
    })
}

/// Waits until every transaction of `pending` is in a finalized block of
/// `blocks`; fails once `stall` passes without any of them finalizing.
pub async fn wait_finalized(
    blocks: &mut FinalizedBlocks,
    mut pending: HashSet<TxId>,
    stall: Duration,
) -> Result<()> {
    let mut last_progress = Instant::now();
    while !pending.is_empty() {
        let waited = last_progress.elapsed();
        if waited >= stall {
            bail!(
                "{} transactions not finalized after {stall:?} without progress",
                pending.len()
            );
        }
        let block = tokio::time::timeout(stall - waited, blocks.next())
            .await
            .map_err(|_| anyhow::anyhow!("no finalized block for {stall:?}"))??;
        let before = pending.len();
        for id in &block.tx_ids {
            pending.remove(id);
        }
        if pending.len() < before {
            last_progress = Instant::now();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_deterministic_per_seed_and_parallel_safe() {
        let a = Accounts::derive(37, 5).unwrap();
        let b = Accounts::derive(37, 5).unwrap();
        let c = Accounts::derive(37, 6).unwrap();
        assert_eq!(a.addrs, b.addrs);
        assert_ne!(a.addrs, c.addrs);
        // Index order is kept across the threads' chunks.
        assert_eq!(
            a.addrs[36],
            Address::from(&derive_key(5, 36).unwrap().public_key())
        );
        let unique: HashSet<_> = a.addrs.iter().collect();
        assert_eq!(unique.len(), 37);
    }
}
