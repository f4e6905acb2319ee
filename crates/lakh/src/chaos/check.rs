//! What must hold after a chaos run: every node on the same finalized blocks
//! and state roots, every finalized transaction in exactly one block and
//! none that was seen finalized lost, each asset's supply equal to the sum
//! of balances (module custody included), and the chain still finalizing.

use lakh_rpc::{AssetRef, Hash32, LakhClient, TxStatusInfo};
use lakh_types::{Address, AssetId, Event, TxId};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

/// How long the nodes get to catch up once the faults stop.
const CONVERGE_TIMEOUT: Duration = Duration::from_secs(180);
/// Empty blocks in a row that show the mempools have drained.
const QUIET_BLOCKS: u64 = 3;

/// The figures the checks read, and every violation found.
#[derive(Debug, Default, serde::Serialize)]
pub struct Outcome {
    pub height: u64,
    pub blocks_compared: u64,
    pub finalized_txs: u64,
    pub accepted_finalized: u64,
    pub seen_final_checked: u64,
    pub assets_checked: u64,
    pub violations: Vec<String>,
}

/// Waits until every node has passed `target_height` and node 0's last
/// [`QUIET_BLOCKS`] blocks are empty (the chain keeps making empty blocks at
/// its heartbeat). Returns the lowest head, or the heads when they never get
/// there.
pub async fn converge(clients: &[LakhClient], target_height: u64) -> Result<u64, String> {
    let deadline = Instant::now() + CONVERGE_TIMEOUT;
    loop {
        let heights = heights(clients).await;
        if let Some(low) = heights.iter().copied().min().flatten()
            && low >= target_height
            && quiet(&clients[0], low).await
        {
            return Ok(low);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the nodes did not reach height {target_height} with a drained mempool within \
                 {CONVERGE_TIMEOUT:?}: heads {heights:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Each node's head height (`None` for a node that does not answer).
pub async fn heights(clients: &[LakhClient]) -> Vec<Option<u64>> {
    let mut out = Vec::with_capacity(clients.len());
    for client in clients {
        out.push(client.head().await.ok().map(|h| h.height));
    }
    out
}

/// Whether the [`QUIET_BLOCKS`] blocks up to `height` carry no transaction.
async fn quiet(client: &LakhClient, height: u64) -> bool {
    empty_between(client, height.saturating_sub(QUIET_BLOCKS), height).await
}

/// Whether every block in `(after, upto]` is empty.
async fn empty_between(client: &LakhClient, after: u64, upto: u64) -> bool {
    for h in after + 1..=upto {
        match client.block_by_height(h).await {
            Ok(Some(block)) if block.tx_ids.is_empty() => {}
            _ => return false,
        }
    }
    true
}

/// Compares blocks `1..=height` across the nodes; returns the finalized
/// transaction ids of node 0 in chain order.
pub async fn same_blocks(clients: &[LakhClient], height: u64, out: &mut Outcome) -> Vec<TxId> {
    let mut txs = Vec::new();
    for h in 1..=height {
        let mut first = None;
        for (i, client) in clients.iter().enumerate() {
            let block = match client.block_by_height(h).await {
                Ok(Some(block)) => block,
                other => {
                    out.violations
                        .push(format!("node {i} has no block {h}: {other:?}"));
                    continue;
                }
            };
            let seen = (block.header.hash, block.header.state_root);
            match first {
                None => {
                    first = Some(seen);
                    txs.extend(block.tx_ids.iter().copied());
                }
                Some(f) if f != seen => out.violations.push(format!(
                    "node {i} differs at height {h}: block {:?} root {:?}, node 0 has {:?} {:?}",
                    seen.0, seen.1, f.0, f.1
                )),
                Some(_) => {}
            }
        }
        out.blocks_compared += 1;
    }
    out.height = height;
    txs
}

/// Every finalized id in one block only; every accepted id finalized on
/// node 0 exactly when it is in the chain; every id seen finalized during
/// the run still there, in the same block, on every node. Returns the
/// accounts the finalized transactions touched.
pub async fn exactly_once(
    clients: &[LakhClient],
    chain: &[TxId],
    accepted: &[TxId],
    seen_final: &[(TxId, Hash32)],
    out: &mut Outcome,
) -> BTreeSet<Address> {
    let in_chain = counts(chain);
    for (id, count) in repeated(&in_chain) {
        out.violations
            .push(format!("transaction {id} is finalized {count} times"));
    }
    out.finalized_txs = chain.len() as u64;
    let mut touched = BTreeSet::new();
    for id in accepted {
        let finalized = match clients[0].tx_status(*id).await {
            Ok(TxStatusInfo::Finalized { receipt, .. }) => {
                touched.insert(receipt.sender);
                touched.extend(receipt.events.iter().flat_map(accounts_of));
                true
            }
            Ok(_) => false,
            Err(e) => {
                out.violations.push(format!("status of {id}: {e}"));
                continue;
            }
        };
        out.accepted_finalized += u64::from(finalized);
        if finalized != in_chain.contains_key(id) {
            out.violations.push(format!(
                "transaction {id}: node 0 says finalized={finalized}, its blocks say {}",
                in_chain.contains_key(id)
            ));
        }
    }
    for (id, block_hash) in seen_final {
        for (i, client) in clients.iter().enumerate() {
            match client.tx_status(*id).await {
                Ok(TxStatusInfo::Finalized { block_hash: b, .. }) if b == *block_hash => {}
                other => out.violations.push(format!(
                    "transaction {id} was seen finalized in {block_hash:?}; node {i} now says {other:?}"
                )),
            }
        }
        out.seen_final_checked += 1;
    }
    touched
}

fn counts(chain: &[TxId]) -> HashMap<TxId, u32> {
    let mut counts: HashMap<TxId, u32> = HashMap::with_capacity(chain.len());
    for id in chain {
        *counts.entry(*id).or_default() += 1;
    }
    counts
}

/// The ids finalized more than once, with how often.
fn repeated(counts: &HashMap<TxId, u32>) -> Vec<(TxId, u32)> {
    let mut out: Vec<_> = counts
        .iter()
        .filter(|(_, count)| **count > 1)
        .map(|(id, count)| (*id, *count))
        .collect();
    out.sort();
    out
}

fn accounts_of(event: &Event) -> Vec<Address> {
    match event {
        Event::Transfer { from, to, .. } => vec![*from, *to],
        Event::Minted { to, .. } => vec![*to],
        Event::Burned { from, .. } => vec![*from],
        _ => Vec::new(),
    }
}

/// For each asset, its supply on node 0 equals the sum of the balances of
/// `holders` (every account that can hold anything after this run: the
/// genesis holders, validators and their stake custody, and every account
/// a finalized transaction touched). Read while only empty blocks are
/// finalized, which is checked after reading.
pub async fn supply(
    client: &LakhClient,
    assets: &[AssetId],
    holders: &BTreeSet<Address>,
    out: &mut Outcome,
) {
    let before = client.head().await.ok().map(|h| h.height);
    let mut sums: BTreeMap<AssetId, u128> = BTreeMap::new();
    for holder in holders {
        match client.account(*holder, false).await {
            Ok(account) => {
                for b in &account.balances {
                    let sum = sums.entry(b.asset).or_default();
                    *sum = sum.saturating_add(b.amount);
                }
            }
            Err(e) => out.violations.push(format!("account {holder}: {e}")),
        }
    }
    let after = client.head().await.ok().map(|h| h.height);
    let unmoved = match (before, after) {
        (Some(b), Some(a)) => empty_between(client, b, a).await,
        _ => false,
    };
    if !unmoved {
        out.violations.push(format!(
            "transactions finalized while balances were read ({before:?} → {after:?})"
        ));
        return;
    }
    for asset in assets {
        let supply = match client.asset(&AssetRef::Id(*asset)).await {
            Ok(Some(info)) => info.supply,
            other => {
                out.violations
                    .push(format!("asset {asset:?} unreadable: {other:?}"));
                continue;
            }
        };
        let held = sums.get(asset).copied().unwrap_or(0);
        if held != supply {
            out.violations.push(format!(
                "asset {asset:?}: supply {supply} but the accounts hold {held}"
            ));
        }
        out.assets_checked += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_in_two_blocks_is_reported_once_with_its_count() {
        let a = TxId([1; 32]);
        let b = TxId([2; 32]);
        let chain = [a, b, a, a];
        assert_eq!(repeated(&counts(&chain)), vec![(a, 3)]);
        assert!(repeated(&counts(&[a, b])).is_empty());
    }
}
