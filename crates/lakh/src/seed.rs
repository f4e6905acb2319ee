//! Seeds a fresh devnet with the DeFi setup the README tour uses: AMM pools,
//! an order-book market with resting orders, oracle prices, lending markets,
//! a farm and a cover pool, all created and funded by the devnet's `admin`
//! key; and keeps the oracle prices fresh while the devnet runs.
//!
//! Seeding runs once per data directory: a marker file (JSON, see [`Demo`])
//! records success and the ids a user needs, so a restarted devnet resumes
//! without seeding again. Every seeding transaction must finalize
//! successfully, or seeding stops with the failing step.

use anyhow::{Context, Result, bail};
use commonware_cryptography::Signer;
use commonware_math::algebra::Random;
use lakh_rpc::{ClientError, LakhClient};
use lakh_types::{
    Action, Address, AssetId, PrivateKey, Symbol, Transaction, TransferEntry,
    codec::{BoundedVec, Text},
    fees::required_fee,
    modules::{
        book::{BookAction, MarketRef, OrderKind, Side, TimeInForce},
        cover::{CoverAction, PoolParams},
        dex::DexAction,
        farm::{FarmAction, farm_id},
        lend::{LendAction, MarketParams, WAD},
        oracle::OracleAction,
    },
};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;

/// Written into the data directory once seeding succeeded.
pub const SEEDED_MARKER: &str = "seeded";
/// Key (in the devnet's keys directory) of the price keeper.
pub const REPORTER_KEY: &str = "reporter";

/// Demo asset ids (see `network::DEMO_ASSETS`).
pub const USDC: AssetId = AssetId(1);
pub const ETH: AssetId = AssetId(2);
pub const BTC: AssetId = AssetId(3);
pub const LAKH: AssetId = AssetId::NATIVE;

const ONE_USDC: u128 = 1_000_000;
const ONE_ETH: u128 = 1_000_000_000_000_000_000;
const ONE_BTC: u128 = 100_000_000;
const ONE_LAKH: u128 = 1_000_000_000;

/// Reference prices in USD (the oracle's quote unit) per whole token, the
/// same as the seeded pools' prices; the keeper posts these.
pub const PRICES: [(AssetId, u128); 4] = [(USDC, 1), (ETH, 3_000), (BTC, 60_000), (LAKH, 1)];

/// A report older than this many blocks is stale.
pub const PRICE_MAX_AGE: u64 = 2_400;
/// The keeper reposts every this many blocks, so a price is never older than
/// a quarter of its window (leaving room for a slow or restarted devnet).
pub const KEEPER_EVERY_BLOCKS: u64 = PRICE_MAX_AGE / 4;

/// Order-book market of the demo: ETH/USDC in lots of 0.001 ETH, prices in
/// steps of 0.001 USDC per lot (1 USDC per ETH).
pub const BOOK_MARKET: u32 = 1;
pub const BOOK_LOT: u128 = ONE_ETH / 1_000;
pub const BOOK_TICK: u128 = 1_000;
/// Cover pool of the demo.
pub const COVER_POOL: u64 = 1;
pub const COVER_RISKS: [&str; 2] = ["dex:ETH/USDC", "lend:USDC"];
/// LAKH the farm pays per block to all stakers, and for how many blocks
/// (about 11 days of an idle devnet at the default heartbeat of one block a
/// second).
pub const FARM_RATE: u128 = ONE_LAKH / 10;
pub const FARM_BLOCKS: u64 = 1_000_000;

/// What a seeded devnet offers beyond its assets (kept in the marker file).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Demo {
    pub steps: usize,
    pub txs: usize,
    /// Id of the ETH/USDC-LP farm (derived from the admin's nonce).
    pub farm: u64,
    pub book_market: u32,
    pub cover_pool: u64,
}

/// What the steps are built from; `height` is the head when a step is sent.
pub struct SeedEnv {
    pub admin: Address,
    pub reporter: Address,
    pub height: u64,
}

/// One labelled step of seeding: actions the admin sends, in order.
pub struct Step {
    pub label: &'static str,
    pub build: fn(&SeedEnv) -> Vec<Action>,
}

/// The whole devnet setup, in dependency order.
pub fn steps() -> Vec<Step> {
    vec![
        Step {
            label: "fund the price reporter with 10,000 LAKH for fees",
            build: |env| {
                vec![Action::Transfer(TransferEntry {
                    to: env.reporter,
                    asset: LAKH,
                    amount: 10_000 * ONE_LAKH,
                })]
            },
        },
        Step {
            label: "dex: create pools ETH/USDC, BTC/USDC, LAKH/USDC, ETH/BTC",
            build: |_| {
                POOLS
                    .iter()
                    .map(|p| {
                        Action::Dex(DexAction::CreatePool {
                            asset_a: p.a,
                            asset_b: p.b,
                            lp_symbol: Some(Symbol::new(p.lp).expect("valid LP symbol")),
                        })
                    })
                    .collect()
            },
        },
        Step {
            label: "dex: add liquidity",
            build: |_| {
                POOLS
                    .iter()
                    .map(|p| {
                        Action::Dex(DexAction::AddLiquidity {
                            asset_a: p.a,
                            asset_b: p.b,
                            max_amount_a: p.amount_a,
                            max_amount_b: p.amount_b,
                            min_shares: 0,
                            deadline_height: u64::MAX,
                        })
                    })
                    .collect()
            },
        },
        Step {
            label: "oracle: feeds for USDC, ETH, BTC, LAKH (reporters admin and reporter)",
            build: |env| {
                PRICES
                    .iter()
                    .map(|(asset, _)| {
                        Action::Oracle(OracleAction::SetFeed {
                            asset: *asset,
                            reporters: BoundedVec::new(vec![env.admin, env.reporter])
                                .expect("two reporters"),
                            max_age_blocks: PRICE_MAX_AGE,
                            min_reports: 1,
                        })
                    })
                    .collect()
            },
        },
        Step {
            label: "oracle: admin posts USDC 1, ETH 3000, BTC 60000, LAKH 1",
            build: |_| price_posts(),
        },
        Step {
            label: "lend: markets USDC, ETH, BTC, LAKH",
            build: |_| {
                LEND_MARKETS
                    .iter()
                    .map(|m| {
                        Action::Lend(LendAction::CreateMarket {
                            asset: m.asset,
                            params: MarketParams::standard(m.collateral_factor_pct),
                        })
                    })
                    .collect()
            },
        },
        Step {
            label: "lend: admin supplies 1,000,000 USDC, 200 ETH, 20 BTC, 100,000 LAKH",
            build: |_| {
                LEND_MARKETS
                    .iter()
                    .map(|m| {
                        Action::Lend(LendAction::Supply {
                            asset: m.asset,
                            amount: m.supply,
                        })
                    })
                    .collect()
            },
        },
        Step {
            label: "book: market 1 ETH/USDC (lot 0.001 ETH, tick 1 USDC per ETH)",
            build: |_| {
                vec![Action::Book(BookAction::CreateMarket {
                    market: BOOK_MARKET,
                    base: ETH,
                    quote: USDC,
                    tick_size: BOOK_TICK,
                    lot_size: BOOK_LOT,
                    maker_fee_bps: 2,
                    taker_fee_bps: 5,
                })]
            },
        },
        Step {
            label: "book: admin rests 1 ETH asks at 3005/3010/3020 and bids at 2995/2990/2980",
            build: |_| {
                let order = |side, usdc_per_eth: u128| {
                    Action::Book(BookAction::Place {
                        market: book_market_ref(),
                        side,
                        kind: OrderKind::Limit,
                        price: book_price(usdc_per_eth),
                        quantity: ONE_ETH,
                        tif: TimeInForce::Gtc,
                    })
                };
                vec![
                    order(Side::Sell, 3_005),
                    order(Side::Sell, 3_010),
                    order(Side::Sell, 3_020),
                    order(Side::Buy, 2_995),
                    order(Side::Buy, 2_990),
                    order(Side::Buy, 2_980),
                ]
            },
        },
        Step {
            label: "farm: stake ETHUSDCLP, earn 0.1 LAKH per block for 1,000,000 blocks",
            build: |env| {
                // The start may not be in the past when the transaction
                // executes, a block or two after this head (a resting devnet
                // proposes it at once; more margin would only delay the farm
                // by a heartbeat per block).
                let start_height = env.height + 10;
                vec![Action::Farm(FarmAction::Create {
                    stake_asset: eth_usdc_lp(),
                    reward_asset: LAKH,
                    rate_per_block: FARM_RATE,
                    start_height,
                    end_height: start_height + FARM_BLOCKS,
                })]
            },
        },
        Step {
            label: "cover: pool 1 (USDC capital, LAKH assessor stake) on dex:ETH/USDC and lend:USDC",
            build: |_| {
                vec![Action::Cover(CoverAction::CreatePool {
                    pool: COVER_POOL,
                    params: cover_params(),
                })]
            },
        },
        Step {
            label: "cover: admin provides 1,000,000 USDC and stakes 10,000 LAKH as assessor",
            build: |_| {
                vec![
                    Action::Cover(CoverAction::Provide {
                        pool: COVER_POOL,
                        asset: USDC,
                        amount: 1_000_000 * ONE_USDC,
                        min_shares: 0,
                    }),
                    Action::Cover(CoverAction::StakeAssessor {
                        pool: COVER_POOL,
                        asset: LAKH,
                        amount: 10_000 * ONE_LAKH,
                    }),
                ]
            },
        },
    ]
}

struct Pool {
    a: AssetId,
    amount_a: u128,
    b: AssetId,
    amount_b: u128,
    lp: &'static str,
}

/// Demo pools at 1 ETH = 3,000 USDC, 1 BTC = 60,000 USDC, 1 LAKH = 1 USDC
/// (so ETH/BTC = 0.05).
const POOLS: [Pool; 4] = [
    Pool {
        a: ETH,
        amount_a: 100 * ONE_ETH,
        b: USDC,
        amount_b: 300_000 * ONE_USDC,
        lp: "ETHUSDCLP",
    },
    Pool {
        a: BTC,
        amount_a: 10 * ONE_BTC,
        b: USDC,
        amount_b: 600_000 * ONE_USDC,
        lp: "BTCUSDCLP",
    },
    Pool {
        a: LAKH,
        amount_a: 100_000 * ONE_LAKH,
        b: USDC,
        amount_b: 100_000 * ONE_USDC,
        lp: "LAKHUSDCLP",
    },
    Pool {
        a: ETH,
        amount_a: 50 * ONE_ETH,
        b: BTC,
        amount_b: 250_000_000,
        lp: "ETHBTCLP",
    },
];

/// The share asset of the ETH/USDC pool (what the farm stakes).
pub fn eth_usdc_lp() -> AssetId {
    let id = lakh_types::modules::dex::pool_id(ETH, USDC).expect("distinct assets");
    lakh_types::modules::dex::lp_asset_id(&id)
}

struct LendMarket {
    asset: AssetId,
    collateral_factor_pct: u128,
    supply: u128,
}

const LEND_MARKETS: [LendMarket; 4] = [
    LendMarket {
        asset: USDC,
        collateral_factor_pct: 80,
        supply: 1_000_000 * ONE_USDC,
    },
    LendMarket {
        asset: ETH,
        collateral_factor_pct: 75,
        supply: 200 * ONE_ETH,
    },
    LendMarket {
        asset: BTC,
        collateral_factor_pct: 70,
        supply: 20 * ONE_BTC,
    },
    LendMarket {
        asset: LAKH,
        collateral_factor_pct: 50,
        supply: 100_000 * ONE_LAKH,
    },
];

pub fn book_market_ref() -> MarketRef {
    MarketRef {
        id: BOOK_MARKET,
        base: ETH,
        quote: USDC,
    }
}

/// A book price (USDC base units per lot) from whole USDC per ETH.
pub fn book_price(usdc_per_eth: u128) -> u128 {
    usdc_per_eth * ONE_USDC * BOOK_LOT / ONE_ETH
}

fn cover_params() -> PoolParams {
    PoolParams {
        capital_asset: USDC,
        stake_asset: LAKH,
        capacity_bps: 8_000,
        // 2% a year at zero utilization, 12% at full, at one block a second.
        base_rate: 634_195_839,
        slope_rate: 3_170_979_198,
        voting_period_blocks: 20,
        quorum: 1_000 * ONE_LAKH,
        min_period_blocks: 10,
        max_period_blocks: 100_000,
        risks: BoundedVec::new(
            COVER_RISKS
                .iter()
                .map(|r| Text::new(*r).expect("short risk name"))
                .collect(),
        )
        .expect("few risks"),
    }
}

fn price_posts() -> Vec<Action> {
    PRICES
        .iter()
        .map(|(asset, usd)| {
            Action::Oracle(OracleAction::Post {
                asset: *asset,
                price: usd * WAD,
            })
        })
        .collect()
}

/// The reporter key of the devnet, created on first use.
fn reporter_key(keys_dir: &Path) -> Result<PrivateKey> {
    if keys_dir.join(format!("{REPORTER_KEY}.json")).exists() {
        return crate::keys::load_key(keys_dir, REPORTER_KEY);
    }
    let key = PrivateKey::random(rand::rng());
    crate::keys::write_key(keys_dir, REPORTER_KEY, &key)?;
    Ok(key)
}

/// The demo a seeded data directory recorded; `None` for a devnet seeded by
/// an older version (whose marker is not JSON).
pub fn recorded_demo(data_dir: &Path) -> Option<Demo> {
    let text = std::fs::read_to_string(data_dir.join(SEEDED_MARKER)).ok()?;
    serde_json::from_str(&text).ok()
}

/// The outcome of [`seed_devnet`].
pub enum Seeding {
    /// Seeded now.
    Fresh(Demo),
    /// Seeded on an earlier start (the demo, when the marker records it).
    Already(Option<Demo>),
}

/// Seeds the devnet behind `client` unless `data_dir` says it is seeded.
pub async fn seed_devnet(client: &LakhClient, keys_dir: &Path, data_dir: &Path) -> Result<Seeding> {
    let marker = data_dir.join(SEEDED_MARKER);
    if marker.exists() {
        return Ok(Seeding::Already(recorded_demo(data_dir)));
    }
    let admin_key = crate::keys::load_key(keys_dir, "admin")
        .context("this devnet has no admin key, so it cannot be seeded")?;
    let reporter = Address::from(&reporter_key(keys_dir)?.public_key());
    let admin = Address::from(&admin_key.public_key());
    let all = steps();
    let mut txs = 0;
    let mut farm = None;
    for step in &all {
        let env = SeedEnv {
            admin,
            reporter,
            height: client.head().await?.height,
        };
        let actions = (step.build)(&env);
        let first_nonce = send_actions(client, &admin_key, &actions)
            .await
            .with_context(|| format!("seeding step `{}` failed", step.label))?;
        for (nonce, action) in (first_nonce..).zip(&actions) {
            if matches!(action, Action::Farm(FarmAction::Create { .. })) {
                farm = Some(farm_id(&admin, nonce));
            }
        }
        txs += actions.len();
    }
    let demo = Demo {
        steps: all.len(),
        txs,
        farm: farm.context("no seeding step created the farm")?,
        book_market: BOOK_MARKET,
        cover_pool: COVER_POOL,
    };
    std::fs::write(&marker, serde_json::to_string_pretty(&demo)? + "\n")
        .with_context(|| format!("cannot write {}", marker.display()))?;
    Ok(Seeding::Fresh(demo))
}

/// Sends actions with consecutive nonces and waits until every one finalized
/// successfully; returns the first nonce.
async fn send_actions(client: &LakhClient, key: &PrivateKey, actions: &[Action]) -> Result<u64> {
    let sender = Address::from(&key.public_key());
    let chain_id = client.chain_id().await?;
    let head = client.head().await?;
    let account = client.account(sender, false).await?;
    let first_nonce = account.pending_nonce.unwrap_or(0).max(account.nonce);
    let mut signed = Vec::with_capacity(actions.len());
    for (nonce, action) in (first_nonce..).zip(actions) {
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
    Ok(first_nonce)
}

/// Keeps the demo prices fresh: oracle reports go stale after
/// [`PRICE_MAX_AGE`] blocks and a devnet keeps producing blocks, so without
/// new posts lending would refuse every borrow after a few minutes.
pub struct PriceKeeper {
    key: PrivateKey,
    last_post: Option<u64>,
}

impl PriceKeeper {
    pub fn load(keys_dir: &Path) -> Result<PriceKeeper> {
        Ok(PriceKeeper {
            key: crate::keys::load_key(keys_dir, REPORTER_KEY)?,
            last_post: None,
        })
    }

    /// Posts every demo price and waits until they are final.
    pub async fn post(&mut self, client: &LakhClient) -> Result<()> {
        let height = client.head().await?.height;
        send_actions(client, &self.key, &price_posts()).await?;
        self.last_post = Some(height);
        Ok(())
    }

    /// Reposts every [`KEEPER_EVERY_BLOCKS`] blocks, forever. Errors (a busy
    /// node, a fee spike) are reported and retried on the next poll.
    pub async fn run(mut self, client: &LakhClient) {
        loop {
            let due = match (client.head().await, self.last_post) {
                (Ok(head), Some(last)) => head.height >= last + KEEPER_EVERY_BLOCKS,
                (Ok(_), None) => true,
                (Err(_), _) => false,
            };
            if due && let Err(e) = self.post(client).await {
                eprintln!("lakh devnet: price keeper could not post: {e:#}");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_parameters_pass_the_modules_checks() {
        for m in &LEND_MARKETS {
            MarketParams::standard(m.collateral_factor_pct)
                .check()
                .unwrap();
        }
        lakh_types::modules::cover::validate_params(&cover_params()).unwrap();
        let env = SeedEnv {
            admin: Address([1; 32]),
            reporter: Address([2; 32]),
            height: 7,
        };
        for step in steps() {
            for action in (step.build)(&env) {
                if let Action::Oracle(a) = &action {
                    lakh_types::modules::oracle::check(a).unwrap();
                }
            }
        }
        // 3,000 USDC per ETH is 3 USDC per lot of 0.001 ETH, on the tick.
        assert_eq!(book_price(3_000), 3 * ONE_USDC);
        assert_eq!(book_price(3_005) % BOOK_TICK, 0);
    }
}
