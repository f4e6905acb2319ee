//! A validator's view of L1 deposits: only those in blocks at or below L1's
//! `finalized` block, so a deposit reorged away before finality is never
//! reported, and in count order without gaps.

use crate::{L1Provider, contracts::LakhBridge};
use alloy::eips::BlockNumberOrTag;
use alloy::primitives::Address;
use alloy::providers::Provider;
use alloy::rpc::types::Filter;
use alloy::sol_types::SolEvent;
use anyhow::{Context as _, bail};
use lakh_types::committee::FixedBytes;
use lakh_types::modules::bridge::{Keccak, L1Deposit, L1View};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Most L1 blocks one log query spans.
const MAX_LOG_RANGE_BLOCKS: u64 = 5_000;

#[derive(Default)]
struct Seen {
    /// The last L1 block whose logs were read.
    scanned_through_block: Option<u64>,
    /// Finalized deposits by count, each checked against the running hash.
    deposits: BTreeMap<u64, L1Deposit>,
    /// The running hash after the highest count in `deposits`.
    last_hash: Keccak,
}

/// Polls L1 for the bridge's finalized `Deposited` events.
#[derive(Clone)]
pub struct L1Watcher {
    provider: L1Provider,
    bridge: Address,
    from_block: u64,
    seen: Arc<Mutex<Seen>>,
}

impl L1Watcher {
    /// Watches `bridge`, reading logs from L1 block `from_block` (the
    /// bridge's deployment block) on.
    pub fn new(provider: L1Provider, bridge: Address, from_block: u64) -> Self {
        L1Watcher {
            provider,
            bridge,
            from_block,
            seen: Arc::default(),
        }
    }

    /// Reads the deposits of the L1 blocks finalized since the last poll.
    /// Returns the finalized L1 block number.
    pub async fn poll(&self) -> anyhow::Result<u64> {
        let finalized = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Finalized)
            .await
            .context("reading L1's finalized block")?
            .context("L1 has no finalized block")?
            .header
            .number;
        let mut from = match self.lock().scanned_through_block {
            Some(block) => block + 1,
            None => self.from_block,
        };
        while from <= finalized {
            let to = finalized.min(from + MAX_LOG_RANGE_BLOCKS - 1);
            let filter = Filter::new()
                .address(self.bridge)
                .event_signature(LakhBridge::Deposited::SIGNATURE_HASH)
                .from_block(from)
                .to_block(to);
            let logs = self
                .provider
                .get_logs(&filter)
                .await
                .context("reading deposit logs")?;
            let mut seen = self.lock();
            for log in logs {
                let event =
                    LakhBridge::Deposited::decode_log(&log.inner).context("decoding a deposit")?;
                seen.accept(&event.data)?;
            }
            seen.scanned_through_block = Some(to);
            from = to + 1;
        }
        Ok(finalized)
    }

    /// Polls every `interval` until the task is dropped, logging failures.
    pub fn spawn(self, interval: Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                if let Err(e) = self.poll().await {
                    tracing::warn!(error = %e, "L1 watcher poll failed");
                }
                tokio::time::sleep(interval).await;
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Seen {
    fn accept(&mut self, event: &LakhBridge::Deposited) -> anyhow::Result<()> {
        let amount = u128::try_from(event.amount).context("a deposit above u128")?;
        let deposit = L1Deposit {
            count: event.count,
            token: FixedBytes(event.token.into_array()),
            l1_sender: FixedBytes(event.sender.into_array()),
            recipient: lakh_types::Address(event.recipient.0),
            amount,
        };
        let expected = self.deposits.len() as u64 + 1;
        if deposit.count != expected {
            bail!(
                "deposit {} arrived where {expected} was expected",
                deposit.count
            );
        }
        let hash = deposit.chain(&self.last_hash);
        if hash.0 != event.hash.0 {
            bail!(
                "deposit {}'s running hash differs from lakh's",
                deposit.count
            );
        }
        self.last_hash = hash;
        self.deposits.insert(deposit.count, deposit);
        Ok(())
    }
}

impl L1View for L1Watcher {
    fn finalized_deposits(&self, first_count: u64, max: usize) -> Vec<L1Deposit> {
        self.lock()
            .deposits
            .range(first_count..)
            .take(max)
            .map(|(_, d)| d.clone())
            .collect()
    }
}
