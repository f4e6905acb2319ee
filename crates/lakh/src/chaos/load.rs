//! The load of a chaos run: each demo account sends small transfers in
//! batches to a fixed set of recipients, through whichever validator is up,
//! and resumes from its committed nonce when a fault swallowed a batch.

use super::Dice;
use commonware_cryptography::Signer;
use lakh_rpc::{LakhClient, TxStatusInfo};
use lakh_types::{Action, Address, AssetId, PrivateKey, Transaction, TransferEntry, TxId};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Fee cap per unit the load's transactions carry (base fee stays far below).
const MAX_FEE_PER_UNIT: u128 = 1_000;
/// How long a sender waits for its batch before resuming from the committed nonce.
const BATCH_WAIT: Duration = Duration::from_secs(8);
const POLL: Duration = Duration::from_millis(100);

/// What the fault loop and the senders share: which nodes take submissions
/// (written by the fault loop only) and when to stop.
pub struct Shared {
    pub up: Vec<AtomicBool>,
    pub stop: AtomicBool,
}

impl Shared {
    pub fn new(nodes: usize) -> Arc<Shared> {
        Arc::new(Shared {
            up: (0..nodes).map(|_| AtomicBool::new(true)).collect(),
            stop: AtomicBool::new(false),
        })
    }

    fn pick(&self, dice: &mut Dice) -> Option<usize> {
        let up: Vec<usize> = (0..self.up.len())
            .filter(|i| self.up[*i].load(Ordering::Relaxed))
            .collect();
        (!up.is_empty()).then(|| up[dice.below(up.len())])
    }
}

/// One sender's account and what it sends.
pub struct Sender {
    pub key: PrivateKey,
    pub recipients: Arc<Vec<Address>>,
    pub assets: Arc<Vec<AssetId>>,
    pub chain_id: u64,
    pub batch: usize,
    /// Pause between batches, so all senders together keep the asked rate.
    pub interval: Duration,
}

/// What one sender saw.
#[derive(Default)]
pub struct SenderLog {
    /// Every transaction a node accepted.
    pub accepted: Vec<TxId>,
    /// Accepted transactions seen finalized during the run, with their block.
    pub seen_final: Vec<(TxId, lakh_rpc::Hash32)>,
    /// Refusals by code (a restarted node refusing a stale nonce, `busy`).
    pub refused: BTreeMap<String, u64>,
    /// Calls that failed because the node was down or frozen.
    pub unreachable: u64,
}

impl Sender {
    /// Sends until `shared.stop`; never fails: faults are what it expects.
    pub async fn run(
        self,
        clients: Arc<Vec<LakhClient>>,
        shared: Arc<Shared>,
        seed: u64,
    ) -> SenderLog {
        let mut dice = Dice::new(seed);
        let mut log = SenderLog::default();
        let address = Address::from(&self.key.public_key());
        while !shared.stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            let Some(node) = shared.pick(&mut dice) else {
                tokio::time::sleep(POLL).await;
                continue;
            };
            let client = &clients[node];
            match client.account(address, false).await {
                Ok(account) => {
                    let target = self
                        .send_batch(client, account.nonce, &mut dice, &mut log)
                        .await;
                    if let Some(last) = target {
                        self.wait_for(&clients, &shared, address, last, &mut dice, &mut log)
                            .await;
                    }
                }
                Err(_) => log.unreachable += 1,
            }
            let spent = started.elapsed();
            if spent < self.interval {
                tokio::time::sleep(self.interval - spent).await;
            }
        }
        log
    }

    /// Signs and submits one batch from `nonce`; returns the last accepted
    /// transaction of the unbroken accepted run, with its nonce.
    async fn send_batch(
        &self,
        client: &LakhClient,
        nonce: u64,
        dice: &mut Dice,
        log: &mut SenderLog,
    ) -> Option<(TxId, u64)> {
        let txs: Vec<_> = (0..self.batch as u64)
            .map(|i| self.transfer(nonce + i, dice).sign(&self.key))
            .collect();
        let results = match client.submit_batch(&txs).await {
            Ok(results) => results,
            Err(_) => {
                log.unreachable += 1;
                return None;
            }
        };
        let mut last = None;
        let mut unbroken = true;
        for (i, result) in results.into_iter().enumerate() {
            match result {
                Ok(id) => {
                    log.accepted.push(id);
                    if unbroken {
                        last = Some((id, nonce + i as u64));
                    }
                }
                Err(refusal) => {
                    unbroken = false;
                    *log.refused.entry(refusal.code).or_default() += 1;
                }
            }
        }
        last
    }

    fn transfer(&self, nonce: u64, dice: &mut Dice) -> Transaction {
        let to = self.recipients[dice.below(self.recipients.len())];
        let asset = self.assets[dice.below(self.assets.len())];
        Transaction {
            chain_id: self.chain_id,
            sender: self.key.public_key().into(),
            nonce,
            max_fee: MAX_FEE_PER_UNIT,
            action: Action::Transfer(TransferEntry {
                to,
                asset,
                amount: 1 + dice.below(1_000) as u128,
            }),
        }
    }

    /// Waits until the account's committed nonce passes `last`, then records
    /// whether `last` itself is finalized (another transaction may have
    /// taken its nonce if a fault dropped it).
    async fn wait_for(
        &self,
        clients: &[LakhClient],
        shared: &Shared,
        address: Address,
        (last, nonce): (TxId, u64),
        dice: &mut Dice,
        log: &mut SenderLog,
    ) {
        let deadline = Instant::now() + BATCH_WAIT;
        while Instant::now() < deadline && !shared.stop.load(Ordering::Relaxed) {
            let Some(node) = shared.pick(dice) else {
                tokio::time::sleep(POLL).await;
                continue;
            };
            let client = &clients[node];
            match client.account(address, false).await {
                Ok(account) if account.nonce > nonce => {
                    if let Ok(TxStatusInfo::Finalized { block_hash, .. }) =
                        client.tx_status(last).await
                    {
                        log.seen_final.push((last, block_hash));
                    }
                    return;
                }
                Ok(_) => tokio::time::sleep(POLL).await,
                Err(_) => log.unreachable += 1,
            }
        }
    }
}
