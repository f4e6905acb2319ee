//! Seeds a fresh devnet with the DeFi setup the README tour uses: AMM pools,
//! an order-book market, oracle prices, lending markets, a farm and a cover
//! pool, all created and funded by the devnet's `admin` key.
//!
//! Seeding runs once per data directory: a marker file records success, so a
//! restarted devnet resumes without seeding again. Every seeding transaction
//! must finalize successfully, or seeding stops with the failing step.

use anyhow::{Context, Result, bail};
use commonware_cryptography::Signer;
use lakh_rpc::{ClientError, LakhClient};
use lakh_types::{Action, Address, AssetId, PrivateKey, Transaction, fees::required_fee};
use std::path::Path;
use std::time::Duration;

/// Written into the data directory once seeding succeeded.
pub const SEEDED_MARKER: &str = "seeded";

/// Demo asset ids (see `network::DEMO_ASSETS`).
pub const USDC: AssetId = AssetId(1);
pub const ETH: AssetId = AssetId(2);
pub const BTC: AssetId = AssetId(3);
pub const LAKH: AssetId = AssetId::NATIVE;

const ONE_USDC: u128 = 1_000_000;
const ONE_ETH: u128 = 1_000_000_000_000_000_000;
const ONE_BTC: u128 = 100_000_000;
const ONE_LAKH: u128 = 1_000_000_000;

/// One labelled step of seeding: actions the admin sends, in order.
pub struct Step {
    pub label: &'static str,
    pub actions: Vec<Action>,
}

/// The whole devnet setup, in dependency order.
pub fn steps(admin: &Address) -> Vec<Step> {
    let _ = admin;
    let mut steps = Vec::new();
    steps.extend(dex_steps());
    steps
}

fn dex_steps() -> Vec<Step> {
    use lakh_types::modules::dex::DexAction;
    // Prices of the demo pools: 1 ETH = 3,000 USDC, 1 BTC = 60,000 USDC,
    // 1 LAKH = 1 USDC, so ETH/BTC = 0.05.
    let pools: [(AssetId, u128, AssetId, u128); 4] = [
        (ETH, 100 * ONE_ETH, USDC, 300_000 * ONE_USDC),
        (BTC, 10 * ONE_BTC, USDC, 600_000 * ONE_USDC),
        (LAKH, 100_000 * ONE_LAKH, USDC, 100_000 * ONE_USDC),
        (ETH, 50 * ONE_ETH, BTC, 250_000_000),
    ];
    let create = pools
        .iter()
        .map(|(a, _, b, _)| {
            Action::Dex(DexAction::CreatePool {
                asset_a: *a,
                asset_b: *b,
                lp_symbol: None,
            })
        })
        .collect();
    let add = pools
        .iter()
        .map(|(a, amount_a, b, amount_b)| {
            Action::Dex(DexAction::AddLiquidity {
                asset_a: *a,
                asset_b: *b,
                max_amount_a: *amount_a,
                max_amount_b: *amount_b,
                min_shares: 0,
                deadline: u64::MAX,
            })
        })
        .collect();
    vec![
        Step {
            label: "dex: create pools ETH/USDC, BTC/USDC, LAKH/USDC, ETH/BTC",
            actions: create,
        },
        Step {
            label: "dex: add liquidity",
            actions: add,
        },
    ]
}

/// What seeding did.
pub struct Seeded {
    pub steps: usize,
    pub txs: usize,
}

/// Seeds the devnet behind `client` unless `data_dir` says it is seeded.
/// Returns `None` when there was nothing to do.
pub async fn seed_devnet(
    client: &LakhClient,
    keys_dir: &Path,
    data_dir: &Path,
) -> Result<Option<Seeded>> {
    let marker = data_dir.join(SEEDED_MARKER);
    if marker.exists() {
        return Ok(None);
    }
    let admin_key = crate::keys::load_key(keys_dir, "admin")
        .context("this devnet has no admin key, so it cannot be seeded")?;
    let admin = Address::from(&admin_key.public_key());
    let all = steps(&admin);
    let mut txs = 0;
    for step in &all {
        send_step(client, &admin_key, step)
            .await
            .with_context(|| format!("seeding step `{}` failed", step.label))?;
        txs += step.actions.len();
    }
    std::fs::write(
        &marker,
        format!("{} steps, {txs} transactions\n", all.len()),
    )
    .with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(Some(Seeded {
        steps: all.len(),
        txs,
    }))
}

/// Sends a step's actions with consecutive nonces and waits until every one
/// finalized successfully.
async fn send_step(client: &LakhClient, key: &PrivateKey, step: &Step) -> Result<()> {
    let sender = Address::from(&key.public_key());
    let chain_id = client.chain_id().await?;
    let head = client.head().await?;
    let account = client.account(sender, false).await?;
    let first_nonce = account.pending_nonce.unwrap_or(0).max(account.nonce);
    let mut signed = Vec::with_capacity(step.actions.len());
    for (nonce, action) in (first_nonce..).zip(&step.actions) {
        let max_fee = required_fee(action, head.base_fee).saturating_mul(4);
        signed.push(
            Transaction {
                chain_id,
                sender: key.public_key(),
                nonce,
                max_fee,
                action: action.clone(),
            }
            .sign(key),
        );
    }
    for (tx, result) in signed.iter().zip(client.submit_batch(&signed).await?) {
        if let Err(refusal) = result {
            bail!(
                "{} refused ({}): {}",
                tx.tx.action.kind(),
                refusal.code,
                refusal.message
            );
        }
    }
    for tx in &signed {
        let finalized = match client
            .wait_for_finality(tx.id(), Duration::from_secs(60))
            .await
        {
            Ok(f) => f,
            Err(ClientError::Timeout { .. }) => bail!("{} did not finalize in 60 s", tx.id()),
            Err(e) => return Err(e.into()),
        };
        if let lakh_types::TxStatus::Failed { error } = &finalized.receipt.status {
            bail!("{} failed: {error}", serde_json::to_string(&tx.tx.action)?);
        }
    }
    Ok(())
}
