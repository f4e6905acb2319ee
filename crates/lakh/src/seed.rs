//! Seeds a fresh devnet with the DeFi setup the README tour uses: AMM pools,
//! an order-book market with resting orders, oracle prices, lending markets,
//! a farm and a cover pool, all created and funded by the devnet's `admin`
//! key; and the music NFT demo: a collection by the `artist` key, whose
//! AI-generated track (synthesized here, as `nft demo-track` does) carries a
//! provenance record attested by the `operator` key (registered by the
//! admin for the demo model) and is listed for sale. It keeps the oracle
//! prices fresh while the devnet runs.
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
        cover::{CoverAction, PoolParams, ProductParams, Trigger},
        dex::DexAction,
        farm::{FarmAction, farm_id},
        lend::{LendAction, MarketParams, WAD},
        nft::{
            CollectionId, CollectionKind, Hash32, LicenceTerms, NftAction, SplitShare, TokenId,
            TransferPolicy, collection_id, token_id,
        },
        oracle::OracleAction,
    },
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::wallet::nft::{attest_action, write_demo_track};
use lakh_types::modules::nft::provenance::{
    ProvenanceActions, ProvenanceFile, model_id, provenance_actions,
};

/// Written into the data directory once seeding succeeded.
pub const SEEDED_MARKER: &str = "seeded";
/// Key (in the devnet's keys directory) of the price keeper.
pub const REPORTER_KEY: &str = "reporter";
/// Key of the demo artist (creates the NFT collection, mints, lists).
pub const ARTIST_KEY: &str = "artist";
/// Key of the demo model's operator (the registered attester).
pub const OPERATOR_KEY: &str = "operator";

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
/// Parametric product of the demo, on the cover pool: USDC depeg cover
/// paying in proportion to the depeg when the oracle median of fresh USDC
/// reports stays below 0.95 USD for `DEPEG_BLOCKS` blocks.
pub const DEPEG_PRODUCT: u8 = 0;
pub const DEPEG_NAME: &str = "depeg:USDC";
pub const DEPEG_BLOCKS: u64 = 3;
/// Cover bought fewer blocks than this before the trigger does not pay.
pub const DEPEG_COOLDOWN_BLOCKS: u64 = 5;
/// Payouts per block.
pub const DEPEG_BATCH: u32 = 16;
/// Smallest depeg cover: 100 USDC.
pub const DEPEG_MIN_AMOUNT: u128 = 100 * ONE_USDC;
/// LAKH the farm pays per block to all stakers, and for how many blocks
/// (about 11 days of an idle devnet at the default heartbeat of one block a
/// second).
pub const FARM_RATE: u128 = ONE_LAKH / 10;
pub const FARM_BLOCKS: u64 = 1_000_000;

/// LAKH the admin gives each seeding key (reporter, artist, operator) for fees.
const KEY_FUNDING: u128 = 10_000 * ONE_LAKH;
/// The NFT demo: the model the track claims, the synth seed (also the
/// provenance's seed) and length of the track, its file in the data directory.
pub const NFT_MODEL: &str = "lakh-demo-synth";
pub const NFT_TRACK_SEED: u64 = 7;
pub const NFT_TRACK_SECONDS: u32 = 4;
pub const NFT_TRACK_FILE: &str = "demo-track.wav";
/// 10% royalty, split 4:1 between the artist and the model operator.
pub const NFT_ROYALTY_BPS: u32 = 1_000;
pub const NFT_SPLIT_SHARES: [u32; 2] = [4, 1];
/// Licences: 5% of every derivative's sales, 1 LAKH each.
pub const NFT_LICENCE_SHARE_PPM: u32 = 50_000;
pub const NFT_LICENCE_FEE: u128 = ONE_LAKH;
/// The listing: 50 LAKH, for as long as the farm runs.
pub const NFT_PRICE: u128 = 50 * ONE_LAKH;
pub const NFT_LISTING_BLOCKS: u64 = FARM_BLOCKS;

/// What a seeded devnet offers beyond its assets (kept in the marker file).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Demo {
    pub steps: usize,
    pub txs: usize,
    /// Id of the ETH/USDC-LP farm (derived from the admin's nonce).
    pub farm: u64,
    pub book_market: u32,
    pub cover_pool: u64,
    /// The music NFT demo (absent in markers of devnets seeded before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nft: Option<NftDemo>,
}

/// The seeded music NFT demo.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NftDemo {
    /// The artist's collection (`collection_id(artist, nonce)`).
    pub collection: CollectionId,
    /// The attested AI-generated track (`token_id(artist, nonce)`).
    pub token: TokenId,
    /// Its fixed-price listing.
    pub listing: NftListing,
    pub artist: Address,
    pub operator: Address,
    /// sha256 of the track (the token's content hash and the record's output hash).
    pub content_hash: Hash32,
    /// The track's file.
    pub track: PathBuf,
}

/// A fixed-price listing (listings are keyed by their token).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct NftListing {
    pub token: TokenId,
    pub asset: AssetId,
    #[serde(with = "lakh_types::amount")]
    pub price: u128,
    pub expiry_height: u64,
}

/// What the steps are built from; `height` is the head when a step is sent,
/// the ids are those earlier steps created.
pub struct SeedEnv {
    pub admin: Address,
    pub reporter: Address,
    pub artist: Address,
    /// Signs the attestation (and sends it).
    pub operator: PrivateKey,
    pub height: u64,
    /// sha256 of the demo track.
    pub track_hash: Hash32,
    /// Salt of the demo prompt's commitment.
    pub prompt_salt: Hash32,
    pub farm: Option<u64>,
    pub collection: Option<CollectionId>,
    pub token: Option<TokenId>,
    /// Expiry of the listing, once a step made it.
    pub listing_expiry_height: Option<u64>,
}

impl SeedEnv {
    fn operator(&self) -> Address {
        Address::from(&self.operator.public_key())
    }

    fn collection(&self) -> Result<CollectionId> {
        self.collection
            .context("no earlier step created the NFT collection")
    }

    fn token(&self) -> Result<TokenId> {
        self.token.context("no earlier step minted the NFT")
    }

    /// Records what `sender`'s `actions` (from `first_nonce` on) created.
    fn note(&mut self, sender: &Address, first_nonce: u64, actions: &[Action]) {
        for (nonce, action) in (first_nonce..).zip(actions) {
            match action {
                Action::Farm(FarmAction::Create { .. }) => self.farm = Some(farm_id(sender, nonce)),
                Action::Nft(nft) => match &**nft {
                    NftAction::CreateCollection { .. } => {
                        self.collection = Some(collection_id(sender, nonce));
                    }
                    NftAction::Mint { .. } => self.token = Some(token_id(sender, nonce)),
                    NftAction::List { expiry_height, .. } => {
                        self.listing_expiry_height = Some(*expiry_height);
                    }
                    _ => {}
                },
                _ => {}
            }
        }
    }
}

/// Who sends a step's transactions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum By {
    Admin,
    Artist,
    Operator,
}

/// One labelled step of seeding: actions one key sends, in order.
pub struct Step {
    pub label: &'static str,
    pub by: By,
    pub build: fn(&SeedEnv) -> Result<Vec<Action>>,
}

/// The whole devnet setup, in dependency order.
pub fn steps() -> Vec<Step> {
    vec![
        Step {
            by: By::Admin,
            label: "fund the price reporter, the artist and the model operator with 10,000 LAKH each for fees",
            build: |env| {
                Ok([env.reporter, env.artist, env.operator()]
                    .into_iter()
                    .map(|to| {
                        Action::Transfer(TransferEntry {
                            to,
                            asset: LAKH,
                            amount: KEY_FUNDING,
                        })
                    })
                    .collect())
            },
        },
        Step {
            by: By::Admin,
            label: "dex: create pools ETH/USDC, BTC/USDC, LAKH/USDC, ETH/BTC",
            build: |_| {
                Ok(POOLS
                    .iter()
                    .map(|p| {
                        Action::Dex(DexAction::CreatePool {
                            asset_a: p.a,
                            asset_b: p.b,
                            lp_symbol: Some(Symbol::new(p.lp).expect("valid LP symbol")),
                        })
                    })
                    .collect())
            },
        },
        Step {
            by: By::Admin,
            label: "dex: add liquidity",
            build: |_| {
                Ok(POOLS
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
                    .collect())
            },
        },
        Step {
            by: By::Admin,
            label: "oracle: feeds for USDC, ETH, BTC, LAKH (reporters admin and reporter)",
            build: |env| {
                Ok(PRICES
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
                    .collect())
            },
        },
        Step {
            by: By::Admin,
            label: "oracle: admin posts USDC 1, ETH 3000, BTC 60000, LAKH 1",
            build: |_| Ok(price_posts()),
        },
        Step {
            by: By::Admin,
            label: "lend: markets USDC, ETH, BTC, LAKH",
            build: |_| {
                Ok(LEND_MARKETS
                    .iter()
                    .map(|m| {
                        Action::Lend(Box::new(LendAction::CreateMarket {
                            asset: m.asset,
                            params: MarketParams::standard(m.collateral_factor_pct),
                        }))
                    })
                    .collect())
            },
        },
        Step {
            by: By::Admin,
            label: "lend: admin supplies 1,000,000 USDC, 200 ETH, 20 BTC, 100,000 LAKH",
            build: |_| {
                Ok(LEND_MARKETS
                    .iter()
                    .map(|m| {
                        Action::Lend(Box::new(LendAction::Supply {
                            asset: m.asset,
                            amount: m.supply,
                        }))
                    })
                    .collect())
            },
        },
        Step {
            by: By::Admin,
            label: "book: market 1 ETH/USDC (lot 0.001 ETH, tick 1 USDC per ETH)",
            build: |_| {
                Ok(vec![Action::Book(BookAction::CreateMarket {
                    market: BOOK_MARKET,
                    base: ETH,
                    quote: USDC,
                    tick_size: BOOK_TICK,
                    lot_size: BOOK_LOT,
                    maker_fee_bps: 2,
                    taker_fee_bps: 5,
                })])
            },
        },
        Step {
            by: By::Admin,
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
                Ok(vec![
                    order(Side::Sell, 3_005),
                    order(Side::Sell, 3_010),
                    order(Side::Sell, 3_020),
                    order(Side::Buy, 2_995),
                    order(Side::Buy, 2_990),
                    order(Side::Buy, 2_980),
                ])
            },
        },
        Step {
            by: By::Admin,
            label: "farm: stake ETHUSDCLP, earn 0.1 LAKH per block for 1,000,000 blocks",
            build: |env| {
                // The start may not be in the past when the transaction
                // executes, a block or two after this head (a resting devnet
                // proposes it at once; more margin would only delay the farm
                // by a heartbeat per block).
                let start_height = env.height + 10;
                Ok(vec![Action::Farm(FarmAction::Create {
                    stake_asset: eth_usdc_lp(),
                    reward_asset: LAKH,
                    rate_per_block: FARM_RATE,
                    start_height,
                    end_height: start_height + FARM_BLOCKS,
                })])
            },
        },
        Step {
            by: By::Admin,
            label: "cover: pool 1 (USDC capital, LAKH assessor stake) on dex:ETH/USDC and lend:USDC",
            build: |_| {
                Ok(vec![Action::Cover(Box::new(CoverAction::CreatePool {
                    pool: COVER_POOL,
                    params: cover_params(),
                }))])
            },
        },
        Step {
            by: By::Admin,
            label: "cover: admin provides 1,000,000 USDC and stakes 10,000 LAKH as assessor",
            build: |_| {
                Ok(vec![
                    Action::Cover(Box::new(CoverAction::Provide {
                        pool: COVER_POOL,
                        asset: USDC,
                        amount: 1_000_000 * ONE_USDC,
                        min_shares: 0,
                    })),
                    Action::Cover(Box::new(CoverAction::StakeAssessor {
                        pool: COVER_POOL,
                        asset: LAKH,
                        amount: 10_000 * ONE_LAKH,
                    })),
                ])
            },
        },
        Step {
            by: By::Admin,
            label: "cover: product 0 depeg:USDC on pool 1, paying the depeg's size once USDC's median is below 0.95 for 3 blocks",
            build: |_| {
                Ok(vec![Action::Cover(Box::new(CoverAction::CreateProduct {
                    product: DEPEG_PRODUCT,
                    params: depeg_product(),
                }))])
            },
        },
        Step {
            by: By::Admin,
            label: "nft: admin registers the operator as attester for model lakh-demo-synth",
            build: |env| {
                Ok(vec![Action::Nft(Box::new(NftAction::RegisterAttester {
                    model_id: model_id(NFT_MODEL),
                    attester: env.operator(),
                }))])
            },
        },
        Step {
            by: By::Artist,
            label: "nft: artist creates collection SYNTH (25 editions, 10% royalty split 4:1 with the operator, licences, market-only)",
            build: |env| Ok(vec![Action::Nft(Box::new(nft_collection(env)?))]),
        },
        Step {
            by: By::Artist,
            label: "nft: artist mints the demo track",
            build: |env| {
                Ok(vec![Action::Nft(Box::new(NftAction::Mint {
                    collection: env.collection()?,
                    shard: 0,
                    to: env.artist,
                    content_hash: env.track_hash,
                    metadata_hash: Hash32::default(),
                    uri: Text::new(format!("file://{NFT_TRACK_FILE}"))
                        .context("short track uri")?,
                    freeze: true,
                    parents: BoundedVec::new(Vec::new()).context("no parents")?,
                }))])
            },
        },
        Step {
            by: By::Artist,
            label: "nft: artist commits to the track's prompt",
            build: |env| Ok(vec![Action::Nft(Box::new(nft_provenance(env)?.commit))]),
        },
        Step {
            by: By::Artist,
            label: "nft: artist reveals the track's provenance record (a block after the commitment)",
            build: |env| Ok(vec![Action::Nft(Box::new(nft_provenance(env)?.record))]),
        },
        Step {
            by: By::Operator,
            label: "nft: operator attests the record",
            build: |env| {
                let p = nft_provenance(env)?;
                Ok(vec![Action::Nft(Box::new(attest_action(
                    &env.operator,
                    env.token()?,
                    &model_id(NFT_MODEL),
                    &p.prompt_hash,
                    NFT_TRACK_SEED,
                    &env.track_hash,
                )))])
            },
        },
        Step {
            by: By::Artist,
            label: "nft: artist lists the track at 50 LAKH",
            build: |env| {
                Ok(vec![Action::Nft(Box::new(NftAction::List {
                    token: env.token()?,
                    asset: LAKH,
                    price: NFT_PRICE,
                    expiry_height: env.height + NFT_LISTING_BLOCKS,
                    collections: BoundedVec::new(vec![env.collection()?])
                        .context("one collection")?,
                }))])
            },
        },
    ]
}

/// The demo collection: a limited edition of 25 by the artist.
fn nft_collection(env: &SeedEnv) -> Result<NftAction> {
    let split = [env.artist, env.operator()]
        .into_iter()
        .zip(NFT_SPLIT_SHARES)
        .map(|(recipient, share)| SplitShare { recipient, share })
        .collect();
    Ok(NftAction::CreateCollection {
        name: Text::new("Synth Garden").context("short name")?,
        symbol: Text::new("SYNTH").context("short symbol")?,
        kind: CollectionKind::Limited { max_editions: 25 },
        royalty_bps: NFT_ROYALTY_BPS,
        split: BoundedVec::new(split).context("two recipients")?,
        licence: Some(LicenceTerms {
            commercial_use: true,
            derivatives_allowed: true,
            attribution: true,
            revenue_share_ppm: NFT_LICENCE_SHARE_PPM,
            fee_asset: LAKH,
            minting_fee: NFT_LICENCE_FEE,
            expiry_height: 0,
            transferable: true,
            legal_hash: Hash32::sha256(NFT_LICENCE_TEXT.as_bytes()),
        }),
        policy: TransferPolicy::MarketOnly {},
    })
}

/// The legal text of the demo licence (its sha256 is in the terms).
const NFT_LICENCE_TEXT: &str = "Synth Garden demo licence: commercial use and derivatives \
allowed with attribution; derivatives pay 5% of their sales to this work.";

/// The demo track's provenance record (the same generator and seed as
/// `nft demo-track --seed 7 --seconds 4`), contributed by the artist.
fn nft_provenance(env: &SeedEnv) -> Result<ProvenanceActions> {
    let record = ProvenanceFile {
        model: NFT_MODEL.to_string(),
        model_version: "1.0".to_string(),
        prompt: "a calm pentatonic loop in eighth notes".to_string(),
        seed: NFT_TRACK_SEED,
        params: serde_json::json!({ "rate_hz": 8_000, "seconds": NFT_TRACK_SECONDS }),
        contributors: Vec::new(),
    };
    provenance_actions(
        &env.artist,
        env.token()?,
        env.track_hash,
        &record,
        vec![env.artist],
        env.prompt_salt,
    )
    .map_err(anyhow::Error::msg)
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

fn depeg_product() -> ProductParams {
    ProductParams {
        pool: COVER_POOL,
        asset: USDC,
        name: Text::new(DEPEG_NAME).expect("short product name"),
        trigger: Trigger::Price {
            asset: USDC,
            threshold: WAD * 95 / 100,
            above: false,
            blocks: DEPEG_BLOCKS,
            reference: WAD,
        },
        proportional: true,
        cooldown_blocks: DEPEG_COOLDOWN_BLOCKS,
        batch: DEPEG_BATCH,
        min_amount: DEPEG_MIN_AMOUNT,
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

/// A seeding key of the devnet (reporter, artist, operator), created on
/// first use.
fn demo_key(keys_dir: &Path, name: &str) -> Result<PrivateKey> {
    if keys_dir.join(format!("{name}.json")).exists() {
        return crate::keys::load_key(keys_dir, name);
    }
    let key = PrivateKey::random(rand::rng());
    crate::keys::write_key(keys_dir, name, &key)?;
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
    let reporter = Address::from(&demo_key(keys_dir, REPORTER_KEY)?.public_key());
    let artist_key = demo_key(keys_dir, ARTIST_KEY)?;
    let operator_key = demo_key(keys_dir, OPERATOR_KEY)?;
    let track = data_dir.join(NFT_TRACK_FILE);
    let track_hash = write_demo_track(&track, NFT_TRACK_SEED, NFT_TRACK_SECONDS)?.sha256;
    let mut env = SeedEnv {
        admin: Address::from(&admin_key.public_key()),
        reporter,
        artist: Address::from(&artist_key.public_key()),
        operator: operator_key.clone(),
        height: 0,
        track_hash,
        prompt_salt: Hash32(rand::random()),
        farm: None,
        collection: None,
        token: None,
        listing_expiry_height: None,
    };
    let all = steps();
    let mut txs = 0;
    for step in &all {
        env.height = client.head().await?.height;
        let key = match step.by {
            By::Admin => &admin_key,
            By::Artist => &artist_key,
            By::Operator => &operator_key,
        };
        let sent = async {
            let actions = (step.build)(&env)?;
            let first_nonce = send_actions(client, key, &actions).await?;
            Ok::<_, anyhow::Error>((first_nonce, actions))
        };
        let (first_nonce, actions) = sent
            .await
            .with_context(|| format!("seeding step `{}` failed", step.label))?;
        env.note(&Address::from(&key.public_key()), first_nonce, &actions);
        txs += actions.len();
    }
    let token = env.token()?;
    let demo = Demo {
        steps: all.len(),
        txs,
        farm: env.farm.context("no seeding step created the farm")?,
        book_market: BOOK_MARKET,
        cover_pool: COVER_POOL,
        nft: Some(NftDemo {
            collection: env.collection()?,
            token,
            listing: NftListing {
                token,
                asset: LAKH,
                price: NFT_PRICE,
                expiry_height: env
                    .listing_expiry_height
                    .context("no seeding step listed the NFT")?,
            },
            artist: env.artist,
            operator: env.operator(),
            content_hash: track_hash,
            track,
        }),
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
                sender: key.public_key().into(),
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
        lakh_types::modules::cover::validate_product(&depeg_product()).unwrap();
        let env = SeedEnv {
            admin: Address([1; 32]),
            reporter: Address([2; 32]),
            artist: Address([3; 32]),
            operator: PrivateKey::from_seed(4),
            height: 7,
            track_hash: Hash32([5; 32]),
            prompt_salt: Hash32([6; 32]),
            farm: Some(8),
            collection: Some(9),
            token: Some(10),
            listing_expiry_height: None,
        };
        let mut nft_actions = 0;
        for step in steps() {
            for action in (step.build)(&env).unwrap() {
                match &action {
                    Action::Oracle(a) => lakh_types::modules::oracle::check(a).unwrap(),
                    Action::Nft(a) => {
                        lakh_types::modules::nft::check(a).unwrap();
                        nft_actions += 1;
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(nft_actions, 7);
        // 3,000 USDC per ETH is 3 USDC per lot of 0.001 ETH, on the tick.
        assert_eq!(book_price(3_000), 3 * ONE_USDC);
        assert_eq!(book_price(3_005) % BOOK_TICK, 0);
    }
}
