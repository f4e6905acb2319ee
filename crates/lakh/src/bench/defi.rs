//! The `defi` workload: its setup (assets, pools, markets, feeds, farm,
//! cover pool, funding) before any timing starts, the planner of its mix, and
//! the transaction each planned operation stands for.
//!
//! Everything is sized so that the planned transactions succeed: swaps are
//! small against deep pools with a 10% slippage bound, order-book bids rest
//! far below any ask (there are none) and are cancelled by their own sender
//! later in its nonces, borrows stay far inside the collateral supplied in
//! setup and are repaid by the borrower, farm unstakes follow their stakes,
//! cover purchases use a tiny fraction of the pool's capacity, NFT mints are
//! their collection's creator's (spread over the edition shards), listings
//! list what the sender minted or bought earlier in its own nonces, and buys
//! buy listings made in setup, each once.

use super::accounts::{Accounts, MAX_FEE_PER_UNIT, wait_finalized};
use super::workload::{Planned, SplitMix};
use anyhow::{Context, Result, bail};
use commonware_cryptography::{Hasher, Sha256, Signer};
use lakh_rpc::{AssetRef, LakhClient, TxStatusInfo, bulk::push_record};
use lakh_types::codec::{BoundedVec, Text};
use lakh_types::fees::action_units;
use lakh_types::limits::MAX_MULTI_TRANSFER_ENTRIES;
use lakh_types::modules::book::{BookAction, MarketRef, OrderKind, Side, TimeInForce};
use lakh_types::modules::cover::{CoverAction, PoolParams, RiskName};
use lakh_types::modules::dex::DexAction;
use lakh_types::modules::farm::{FarmAction, farm_id};
use lakh_types::modules::lend::{LendAction, MarketParams};
use lakh_types::modules::nft::{
    CollectionId, CollectionKind, EDITION_SHARDS, Hash32, NftAction, SplitShare, TokenId,
    TransferPolicy, collection_id, token_id,
};
use lakh_types::modules::oracle::OracleAction;
use lakh_types::modules::stake::StakeAction;
use lakh_types::{
    Action, Address, AssetId, PrivateKey, SignedTransaction, Symbol, Transaction, TransferEntry,
    TxId,
};
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

/// AMM pools (HUB against one token each).
pub const POOLS: usize = 100;
/// Order-book markets (token `k` against HUB, for the first `MARKETS` tokens).
pub const MARKETS: usize = 10;

/// HUB and the pool tokens have 6 decimals: 1 whole token = 10^6 base units.
const DECIMALS: u8 = 6;
const ONE: u128 = 1_000_000;
/// HUB the admin mints for itself (far above everything setup hands out).
const HUB_SUPPLY: u128 = 1_000_000_000_000_000 * ONE;
/// Each pool token's supply; `POOL_RESERVE` of it goes into its pool.
const TOKEN_SUPPLY: u128 = 10_000_000_000 * ONE;
/// Each side of each pool: 1,000,000,000 tokens, so a swap moves the price
/// by about one part in 10^9.
const POOL_RESERVE: u128 = 1_000_000_000 * ONE;
/// HUB each bench account receives: enough for hundreds of thousands of
/// the mix's transactions (most of what they lock comes back).
pub const HUB_PER_ACCOUNT: u128 = 1_000_000 * ONE;
/// HUB sold by a swap.
const SWAP_IN: u128 = ONE;
/// Order-book lot (1 token) and tick (quote units per lot).
const LOT: u128 = ONE;
const TICK: u128 = 1_000;
/// Bids rest at 100..200 ticks per lot (0.1 to 0.2 HUB per token, while the
/// pools price tokens at 1 HUB; the bench places no asks, so none fills).
const BID_TICKS_LOW: u16 = 100;
const BID_TICKS_SPAN: usize = 100;
const MAX_BID_LOTS: usize = 4;
/// Lending: what a supply adds, a borrow takes, the collateral each
/// borrower supplies in setup and what the admin supplies as cash.
const LEND_SUPPLY: u128 = ONE;
const BORROW: u128 = ONE;
/// A repay offers twice the borrow; the market takes only the debt.
const REPAY: u128 = 2 * BORROW;
pub const COLLATERAL: u128 = 1_000 * ONE;
const LEND_CASH: u128 = 100_000_000 * ONE;
/// Oracle feed of HUB: fresh for this many blocks after setup's one post,
/// the longest the oracle allows (runs last far fewer blocks).
const FEED_MAX_AGE: u64 = 1_000_000;
const HUB_PRICE: u128 = 1_000_000_000_000_000_000;
/// Native base units a delegation moves.
const DELEGATE: u128 = 1_000;
const FARM_STAKE: u128 = ONE;
const FARM_RATE: u128 = 1_000;
const FARM_BLOCKS: u64 = 100_000_000;
/// Blocks between fetching the head and the farm's creation executing.
const FARM_START_MARGIN: u64 = 100;
const COVER_CAPITAL: u128 = 100_000_000 * ONE;
const COVER_BUY: u128 = ONE;
const COVER_BLOCKS: u64 = 100;
/// Premium cap of a purchase: 1000x what the highest rate charges.
const COVER_MAX_PREMIUM: u128 = 10 * ONE;
const COVER_PROVIDE: u128 = ONE;
const COVER_STAKE: u128 = ONE;
const MULTI_ENTRIES: usize = 4;
/// NFT creators, each with one collection: the last accounts (at most a
/// quarter of them), so that mints and sales spread over many senders and
/// royalty recipients.
const NFT_CREATORS: usize = 64;
/// Royalty of the bench collections, split 3:1 between the creator and a
/// co-recipient (one of the first accounts).
const NFT_ROYALTY_BPS: u32 = 500;
const NFT_SPLIT_SHARES: [u32; 2] = [3, 1];
/// Price of every listing (HUB).
const NFT_PRICE: u128 = 10 * ONE;
/// Listings expire this many blocks after setup (runs last far fewer).
const NFT_LISTING_BLOCKS: u64 = 5_000_000;
/// Most listings setup makes per creator.
const NFT_MAX_LISTINGS_PER_CREATOR: usize = 2_000;
/// Of the insurance-and-NFT share: this percent NFT, the rest insurance.
const NFT_PCT_OF_SHARE: usize = 50;
/// Of the NFT part: mints and listings (a buy when no setup listing is left
/// becomes a mint, a listing with nothing to list too).
const NFT_MINT_PCT: usize = 40;
const NFT_LIST_PCT: usize = 30;
/// A tenth of the accounts borrow (each supplies collateral in setup).
const BORROWER_SHARE: usize = 10;
/// Setup transactions of one sender in flight at once (mempool limit 1024).
const WAVE_PER_SENDER: usize = 900;
const WAVE_TXS: usize = 20_000;
const REQUEST_TXS: usize = 500;
const SETUP_STALL: Duration = Duration::from_secs(60);

/// The mix's categories, in WORKLOADS.md order, with their percent.
pub const MIX: [(Category, usize); 7] = [
    (Category::Transfer, 40),
    (Category::Swap, 25),
    (Category::Book, 10),
    (Category::Lend, 10),
    (Category::StakeFarm, 5),
    (Category::CoverNft, 5),
    (Category::MultiTransfer, 5),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    Transfer,
    Swap,
    Book,
    Lend,
    StakeFarm,
    CoverNft,
    MultiTransfer,
}

impl Category {
    pub fn name(self) -> &'static str {
        match self {
            Category::Transfer => "transfer",
            Category::Swap => "amm_swap",
            Category::Book => "order_book",
            Category::Lend => "lending",
            Category::StakeFarm => "staking_farm",
            Category::CoverNft => "insurance_nft",
            Category::MultiTransfer => "multi_transfer",
        }
    }
}

/// What one planned transaction does (account indices are in [`Planned`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Native transfer of one base unit to `Planned::receiver`.
    Transfer,
    /// Sells `SWAP_IN` HUB for the token of `pool`.
    SwapBuy {
        pool: u8,
    },
    /// Sells back, for HUB, the least the sender's earlier buy in `pool` got.
    SwapSell {
        pool: u8,
    },
    /// A resting limit bid.
    BookPlace {
        market: u8,
        ticks: u16,
        lots: u8,
    },
    /// Cancels the sender's resting orders in `market`.
    BookCancelAll {
        market: u8,
    },
    LendSupply,
    LendBorrow,
    LendRepay,
    Delegate,
    FarmStake,
    FarmUnstake,
    CoverBuy,
    CoverProvide,
    CoverStake,
    /// The creator of collection `creator` (an index into the setup's
    /// creators) mints an edition to itself from edition counter `shard`.
    NftMint {
        creator: u8,
        shard: u8,
    },
    /// That creator lists the token its transaction `mint_nonce` minted.
    NftList {
        creator: u8,
        mint_nonce: u64,
    },
    /// Buys setup listing `listing`.
    NftBuy {
        listing: u32,
    },
    /// Lists again the token of setup listing `listing`, which the sender
    /// bought earlier in its nonces.
    NftRelist {
        listing: u32,
    },
    /// `MULTI_ENTRIES` transfers (native and HUB) to accounts drawn from the
    /// sender and nonce.
    MultiTransfer,
}

impl Op {
    pub fn category(self) -> Category {
        match self {
            Op::Transfer => Category::Transfer,
            Op::SwapBuy { .. } | Op::SwapSell { .. } => Category::Swap,
            Op::BookPlace { .. } | Op::BookCancelAll { .. } => Category::Book,
            Op::LendSupply | Op::LendBorrow | Op::LendRepay => Category::Lend,
            Op::Delegate | Op::FarmStake | Op::FarmUnstake => Category::StakeFarm,
            Op::CoverBuy
            | Op::CoverProvide
            | Op::CoverStake
            | Op::NftMint { .. }
            | Op::NftList { .. }
            | Op::NftBuy { .. }
            | Op::NftRelist { .. } => Category::CoverNft,
            Op::MultiTransfer => Category::MultiTransfer,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Op::Transfer => "transfer",
            Op::SwapBuy { .. } => "swap_buy",
            Op::SwapSell { .. } => "swap_sell_back",
            Op::BookPlace { .. } => "book_place",
            Op::BookCancelAll { .. } => "book_cancel_all",
            Op::LendSupply => "lend_supply",
            Op::LendBorrow => "lend_borrow",
            Op::LendRepay => "lend_repay",
            Op::Delegate => "stake_delegate",
            Op::FarmStake => "farm_stake",
            Op::FarmUnstake => "farm_unstake",
            Op::CoverBuy => "cover_buy",
            Op::CoverProvide => "cover_provide",
            Op::CoverStake => "cover_stake_assessor",
            Op::NftMint { .. } => "nft_mint",
            Op::NftList { .. } => "nft_list",
            Op::NftBuy { .. } => "nft_buy",
            Op::NftRelist { .. } => "nft_relist",
            Op::MultiTransfer => "multi_transfer",
        }
    }
}

/// Exact counts per category for `count` transactions (largest remainder).
pub fn mix_counts(count: usize) -> [usize; 7] {
    let mut counts = [0usize; 7];
    let mut rest: Vec<(usize, usize)> = Vec::with_capacity(7);
    for (i, (_, pct)) in MIX.iter().enumerate() {
        counts[i] = count * pct / 100;
        rest.push((count * pct % 100, i));
    }
    let short = count - counts.iter().sum::<usize>();
    // Largest remainders first; ties to the earlier category.
    rest.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in rest.iter().take(short) {
        counts[i] += 1;
    }
    counts
}

/// Plans `count` transactions of the mix: exactly [`mix_counts`] of each
/// category in a seeded shuffle; senders uniform over `senders`; borrows from
/// `borrowers` (the usable accounts that supplied collateral in setup);
/// nonces taken from and advanced in `nonces`. Second halves (sell back,
/// cancel, repay, unstake, NFT listing) come later in their sender's nonces
/// than the first half they undo; NFT buys take setup listings from `nft`,
/// each once over all runs.
pub fn plan(
    accounts: usize,
    senders: &[u32],
    borrowers: &[u32],
    nonces: &mut [u64],
    nft: &mut NftCursor,
    count: usize,
    seed: u64,
) -> Result<Vec<Planned>> {
    if accounts < 2 || senders.is_empty() {
        bail!("a workload needs at least two accounts and one usable sender");
    }
    let mut rng = SplitMix::new(seed);
    let mut slots: Vec<u8> = Vec::with_capacity(count);
    for (i, n) in mix_counts(count).into_iter().enumerate() {
        slots.extend(std::iter::repeat_n(i as u8, n));
    }
    for i in (1..slots.len()).rev() {
        slots.swap(i, rng.below(i + 1));
    }

    let mut sells: VecDeque<(u32, u8)> = VecDeque::new();
    let mut cancel: Option<(u32, u8)> = None;
    let mut repay: Option<u32> = None;
    let mut unstake: Option<u32> = None;
    // Usable creators (by creator index); minted tokens not yet listed; bought
    // setup listings not yet listed again.
    let usable: HashSet<u32> = senders.iter().copied().collect();
    let creators: Vec<u8> = (0..nft.creators.len())
        .filter(|&c| usable.contains(&nft.creators[c]))
        .map(|c| c as u8)
        .collect();
    let mut unlisted: VecDeque<(u8, u64)> = VecDeque::new();
    let mut relist: VecDeque<(u32, u32)> = VecDeque::new();
    let mut out = Vec::with_capacity(count);
    let mut redraws_left = count.saturating_mul(4).saturating_add(1_000);
    for slot in slots {
        let any = |rng: &mut SplitMix| senders[rng.below(senders.len())];
        let (sender, receiver, op) = match MIX[slot as usize].0 {
            Category::Transfer => {
                let sender = any(&mut rng);
                let receiver = loop {
                    let r = rng.below(accounts) as u32;
                    if r != sender {
                        break r;
                    }
                    if redraws_left == 0 {
                        bail!("cannot draw a receiver other than the sender");
                    }
                    redraws_left -= 1;
                };
                (sender, receiver, Op::Transfer)
            }
            Category::Swap => {
                let sell = if sells.is_empty() || rng.below(2) == 0 {
                    None
                } else {
                    sells.pop_front()
                };
                match sell {
                    Some((sender, pool)) => (sender, sender, Op::SwapSell { pool }),
                    None => {
                        let sender = any(&mut rng);
                        let pool = rng.below(POOLS) as u8;
                        sells.push_back((sender, pool));
                        (sender, sender, Op::SwapBuy { pool })
                    }
                }
            }
            Category::Book => match cancel.take() {
                Some((sender, market)) => (sender, sender, Op::BookCancelAll { market }),
                None => {
                    let sender = any(&mut rng);
                    let market = rng.below(MARKETS) as u8;
                    let ticks = BID_TICKS_LOW + rng.below(BID_TICKS_SPAN) as u16;
                    let lots = 1 + rng.below(MAX_BID_LOTS) as u8;
                    cancel = Some((sender, market));
                    (
                        sender,
                        sender,
                        Op::BookPlace {
                            market,
                            ticks,
                            lots,
                        },
                    )
                }
            },
            Category::Lend => match repay.take() {
                Some(sender) => (sender, sender, Op::LendRepay),
                None if !borrowers.is_empty() && rng.below(2) == 0 => {
                    let sender = borrowers[rng.below(borrowers.len())];
                    repay = Some(sender);
                    (sender, sender, Op::LendBorrow)
                }
                None => {
                    let sender = any(&mut rng);
                    (sender, sender, Op::LendSupply)
                }
            },
            Category::StakeFarm => {
                if rng.below(2) == 0 {
                    let sender = any(&mut rng);
                    (sender, sender, Op::Delegate)
                } else if let Some(sender) = unstake.take() {
                    (sender, sender, Op::FarmUnstake)
                } else {
                    let sender = any(&mut rng);
                    unstake = Some(sender);
                    (sender, sender, Op::FarmStake)
                }
            }
            Category::CoverNft if !creators.is_empty() && rng.below(100) < NFT_PCT_OF_SHARE => {
                let roll = rng.below(100);
                let buy = if roll >= NFT_MINT_PCT + NFT_LIST_PCT {
                    nft.take_listing(&mut rng, senders)
                } else {
                    None
                };
                let list = if roll >= NFT_MINT_PCT && buy.is_none() {
                    match (rng.below(2), relist.is_empty()) {
                        (0, false) | (_, true) => unlisted
                            .pop_front()
                            .map(|(creator, mint_nonce)| {
                                (
                                    nft.creators[creator as usize],
                                    Op::NftList {
                                        creator,
                                        mint_nonce,
                                    },
                                )
                            })
                            .or_else(|| {
                                relist
                                    .pop_front()
                                    .map(|(sender, listing)| (sender, Op::NftRelist { listing }))
                            }),
                        _ => relist
                            .pop_front()
                            .map(|(sender, listing)| (sender, Op::NftRelist { listing })),
                    }
                } else {
                    None
                };
                match (buy, list) {
                    (Some((buyer, listing)), _) => {
                        relist.push_back((buyer, listing));
                        (buyer, buyer, Op::NftBuy { listing })
                    }
                    (None, Some((sender, op))) => (sender, sender, op),
                    (None, None) => {
                        let creator = creators[rng.below(creators.len())];
                        let sender = nft.creators[creator as usize];
                        let shard = rng.below(EDITION_SHARDS as usize) as u8;
                        unlisted.push_back((creator, nonces[sender as usize]));
                        (sender, sender, Op::NftMint { creator, shard })
                    }
                }
            }
            Category::CoverNft => {
                let sender = any(&mut rng);
                let op = match rng.below(5) {
                    0..=2 => Op::CoverBuy,
                    3 => Op::CoverProvide,
                    _ => Op::CoverStake,
                };
                (sender, sender, op)
            }
            Category::MultiTransfer => {
                let sender = any(&mut rng);
                (sender, sender, Op::MultiTransfer)
            }
        };
        let nonce = nonces[sender as usize];
        nonces[sender as usize] += 1;
        out.push(Planned {
            sender,
            receiver,
            nonce,
            op,
        });
    }
    Ok(out)
}

/// Counts of `plan` by category and by operation, by name.
pub fn mix_of<'a>(
    ops: impl Iterator<Item = &'a Op>,
) -> (BTreeMap<String, u64>, BTreeMap<String, u64>) {
    let mut by_category = BTreeMap::new();
    let mut by_op = BTreeMap::new();
    for op in ops {
        *by_category
            .entry(op.category().name().to_string())
            .or_insert(0) += 1;
        *by_op.entry(op.name().to_string()).or_insert(0) += 1;
    }
    (by_category, by_op)
}

/// The planner's view of the NFT setup: creators' account indices, and the
/// setup listings (by the index of their seller among the creators) of
/// which the first `next` were planned for a buy already.
#[derive(Clone, Debug, Default)]
pub struct NftCursor {
    pub creators: Vec<u32>,
    pub listing_sellers: Vec<u8>,
    pub next: usize,
}

impl NftCursor {
    /// The next setup listing and a usable buyer other than its seller.
    fn take_listing(&mut self, rng: &mut SplitMix, senders: &[u32]) -> Option<(u32, u32)> {
        let seller = self.creators[*self.listing_sellers.get(self.next)? as usize];
        for _ in 0..16 {
            let buyer = senders[rng.below(senders.len())];
            if buyer != seller {
                let listing = self.next as u32;
                self.next += 1;
                return Some((buyer, listing));
            }
        }
        None
    }
}

/// One NFT creator of the setup.
#[derive(Clone, Debug)]
pub struct NftCreator {
    /// Account index of the creator (and seller of its setup listings).
    pub account: u32,
    pub collection: CollectionId,
    /// Account index of the split's second recipient.
    pub co_recipient: u32,
    /// The creator's next nonce after setup.
    pub next_nonce: u64,
}

/// One listing made in setup.
#[derive(Clone, Debug)]
pub struct NftListed {
    pub token: TokenId,
    /// Index of the seller among the creators.
    pub creator: u8,
}

/// The NFT part of the setup.
#[derive(Clone, Debug, Default)]
pub struct NftSetup {
    pub creators: Vec<NftCreator>,
    pub listings: Vec<NftListed>,
    /// Expiry of every listing (setup's and the workload's).
    pub expiry_height: u64,
}

impl NftSetup {
    pub fn cursor(&self) -> NftCursor {
        NftCursor {
            creators: self.creators.iter().map(|c| c.account).collect(),
            listing_sellers: self.listings.iter().map(|l| l.creator).collect(),
            next: 0,
        }
    }
}

/// How many NFT creators `accounts` accounts have.
pub fn nft_creator_count(accounts: usize) -> usize {
    NFT_CREATORS.min(accounts / 4)
}

/// Setup listings enough for the buys of `planned_txs` planned transactions
/// (their expected share, plus a fifth; a buy with none left becomes a mint).
pub fn nft_listings_for(planned_txs: usize) -> usize {
    let pct = MIX
        .iter()
        .find(|(c, _)| *c == Category::CoverNft)
        .map_or(0, |(_, pct)| *pct);
    let buy_pct = 100 - NFT_MINT_PCT - NFT_LIST_PCT;
    planned_txs
        .saturating_mul(pct * NFT_PCT_OF_SHARE * buy_pct * 6)
        .div_ceil(100 * 100 * 100 * 5)
}

/// What setup created on chain, everything the workload's transactions name.
#[derive(Clone, Debug)]
pub struct DefiSetup {
    pub hub: AssetId,
    /// Pool `k` pairs HUB with `tokens[k]`; market `k` sells `tokens[k]` for HUB.
    pub tokens: Vec<AssetId>,
    pub markets: Vec<u32>,
    pub validator: Address,
    pub farm: u64,
    pub cover_pool: u64,
    pub risk: RiskName,
    /// Accounts `0..borrowers` supplied collateral in setup.
    pub borrowers: usize,
    pub nft: NftSetup,
}

impl DefiSetup {
    /// Advances `nonces` past what setup sent from the bench accounts.
    pub fn advance_nonces(&self, nonces: &mut [u64]) {
        // Borrowers used their nonce 0 to supply collateral.
        for n in &mut nonces[..self.borrowers] {
            *n = 1;
        }
        for c in &self.nft.creators {
            nonces[c.account as usize] = c.next_nonce;
        }
    }
}

/// What setup did, for the report.
#[derive(Clone, Debug, serde::Serialize)]
pub struct SetupReport {
    pub hub_symbol: String,
    pub assets: usize,
    pub pools: usize,
    pub markets: usize,
    pub borrowers: usize,
    pub nft_collections: usize,
    pub nft_listings: usize,
    pub admin_txs: usize,
    pub account_txs: usize,
    /// HUB base units each bench account received.
    #[serde(with = "lakh_types::amount")]
    pub hub_per_account: u128,
    pub secs: f64,
}

/// How many of `accounts` borrow.
pub fn borrower_count(accounts: usize) -> usize {
    accounts.div_ceil(BORROWER_SHARE).min(accounts)
}

/// Names and ids of one bench setup, derived from the seed so that setups of
/// different seeds never collide on one chain.
struct Names {
    prefix: String,
    markets: Vec<u32>,
    cover_pool: u64,
}

impl Names {
    fn of(seed: u64) -> Names {
        let digest = Sha256::hash(&[b"lakh-bench/defi".as_slice(), &seed.to_le_bytes()]);
        let d = digest.as_ref();
        let prefix = format!("B{:02X}{:02X}{:X}", d[0], d[1], d[2] >> 4);
        let first = (u32::from_be_bytes([d[3], d[4], d[5], d[6]]) | 0x8000_0000) & !0xff;
        let cover_pool = u64::from_be_bytes([d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14]]);
        Names {
            prefix,
            markets: (0..MARKETS as u32).map(|k| first + k).collect(),
            cover_pool,
        }
    }

    fn hub(&self) -> String {
        format!("{}H", self.prefix)
    }

    fn token(&self, k: usize) -> String {
        format!("{}T{k:02}", self.prefix)
    }
}

/// Refuses a chain that already holds the setup of `seed` (its HUB symbol
/// is taken); returns that symbol.
pub async fn ensure_fresh(client: &LakhClient, seed: u64) -> Result<Symbol> {
    let hub_symbol = Symbol::new(&Names::of(seed).hub()).map_err(anyhow::Error::msg)?;
    if client
        .asset(&AssetRef::Symbol(hub_symbol.clone()))
        .await?
        .is_some()
    {
        bail!(
            "this chain already holds the defi setup of seed {seed} (asset {hub_symbol} exists); pass another --seed or use --devnet"
        );
    }
    Ok(hub_symbol)
}

/// Creates everything the workload needs with the genesis admin key and
/// hands every bench account HUB; the first [`borrower_count`] accounts then
/// supply collateral (their nonce 0); the last [`nft_creator_count`] create a
/// collection each and mint and list about `nft_listings` tokens between
/// them. Refuses a chain that already holds this seed's setup.
pub async fn setup(
    client: &LakhClient,
    chain_id: u64,
    admin: &PrivateKey,
    accounts: &Accounts,
    seed: u64,
    nft_listings: usize,
) -> Result<(DefiSetup, SetupReport)> {
    let started = Instant::now();
    let names = Names::of(seed);
    let hub_symbol = ensure_fresh(client, seed).await?;
    let admin_addr = Address::from(&admin.public_key());
    let info = client.account(admin_addr, false).await?;
    let mut admin_tx = AdminTxs {
        key: admin,
        chain_id,
        nonce: info.pending_nonce.unwrap_or(info.nonce).max(info.nonce),
        txs: Vec::new(),
    };
    let head = client.head().await?;
    let validator = client
        .block_by_height(head.height)
        .await?
        .context("the node has no block at its head height")?
        .header
        .proposer;

    // Assets (ids follow from the admin's nonces).
    let hub = admin_tx.create_asset(hub_symbol, HUB_SUPPLY);
    let mut tokens = Vec::with_capacity(POOLS);
    for k in 0..POOLS {
        let symbol = Symbol::new(&names.token(k)).map_err(anyhow::Error::msg)?;
        tokens.push(admin_tx.create_asset(symbol, TOKEN_SUPPLY));
    }
    let mut admin_txs = send_step(client, "create assets", admin_tx.take()).await?;

    for &token in &tokens {
        admin_tx.push(Action::Dex(DexAction::CreatePool {
            asset_a: hub,
            asset_b: token,
            lp_symbol: None,
        }));
    }
    admin_txs += send_step(client, "create pools", admin_tx.take()).await?;

    for &token in &tokens {
        admin_tx.push(Action::Dex(DexAction::AddLiquidity {
            asset_a: hub,
            asset_b: token,
            max_amount_a: POOL_RESERVE,
            max_amount_b: POOL_RESERVE,
            min_shares: 0,
            deadline_height: u64::MAX,
        }));
    }
    for (k, &market) in names.markets.iter().enumerate() {
        admin_tx.push(Action::Book(BookAction::CreateMarket {
            market,
            base: tokens[k],
            quote: hub,
            tick_size: TICK,
            lot_size: LOT,
            maker_fee_bps: 10,
            taker_fee_bps: 20,
        }));
    }
    let reporters = BoundedVec::new(vec![admin_addr]).context("one reporter")?;
    admin_tx.push(Action::Oracle(OracleAction::SetFeed {
        asset: hub,
        reporters,
        max_age_blocks: FEED_MAX_AGE,
        min_reports: 1,
    }));
    admin_tx.push(Action::Oracle(OracleAction::Post {
        asset: hub,
        price: HUB_PRICE,
    }));
    admin_tx.push(Action::Lend(Box::new(LendAction::CreateMarket {
        asset: hub,
        params: MarketParams::standard(75),
    })));
    admin_tx.push(Action::Lend(Box::new(LendAction::Supply {
        asset: hub,
        amount: LEND_CASH,
    })));
    let risk = RiskName::new("dex:bench-pools").context("risk name")?;
    admin_tx.push(Action::Cover(Box::new(CoverAction::CreatePool {
        pool: names.cover_pool,
        params: PoolParams {
            capital_asset: hub,
            stake_asset: hub,
            capacity_bps: 8_000,
            base_rate: 10_000_000_000,
            slope_rate: 100_000_000_000,
            voting_period_blocks: 100,
            quorum: ONE,
            min_period_blocks: 10,
            max_period_blocks: 1_000,
            risks: BoundedVec::new(vec![risk.clone()]).context("one risk")?,
        },
    })));
    admin_tx.push(Action::Cover(Box::new(CoverAction::Provide {
        pool: names.cover_pool,
        asset: hub,
        amount: COVER_CAPITAL,
        min_shares: 1,
    })));
    admin_txs += send_step(
        client,
        "add liquidity, create markets, feed, lending market, cover pool",
        admin_tx.take(),
    )
    .await?;

    // The farm must start at or after the height its creation executes in.
    let start_height = client.head().await?.height + FARM_START_MARGIN;
    let farm = farm_id(&admin_addr, admin_tx.nonce);
    admin_tx.push(Action::Farm(FarmAction::Create {
        stake_asset: hub,
        reward_asset: hub,
        rate_per_block: FARM_RATE,
        start_height,
        end_height: start_height + FARM_BLOCKS,
    }));
    for chunk in accounts.addrs.chunks(MAX_MULTI_TRANSFER_ENTRIES) {
        let entries = chunk
            .iter()
            .map(|to| TransferEntry {
                to: *to,
                asset: hub,
                amount: HUB_PER_ACCOUNT,
            })
            .collect();
        admin_tx.push(Action::MultiTransfer { entries });
    }
    admin_txs += send_step(
        client,
        "create the farm, fund accounts with HUB",
        admin_tx.take(),
    )
    .await?;

    let borrowers = borrower_count(accounts.len());
    let collateral: Vec<SignedTransaction> = (0..borrowers)
        .map(|i| {
            sign(
                &accounts.keys[i],
                chain_id,
                0,
                Action::Lend(Box::new(LendAction::Supply {
                    asset: hub,
                    amount: COLLATERAL,
                })),
            )
        })
        .collect();
    let mut account_txs = send_step(client, "borrowers supply collateral", collateral).await?;

    let expiry_height = client.head().await?.height + NFT_LISTING_BLOCKS;
    let (nft, collections, listed) =
        nft_setup(chain_id, accounts, hub, nft_listings, expiry_height)?;
    account_txs += send_step(client, "nft creators create collections", collections).await?;
    account_txs += send_step(client, "nft creators mint and list", listed).await?;

    let setup = DefiSetup {
        hub,
        tokens,
        markets: names.markets.clone(),
        validator,
        farm,
        cover_pool: names.cover_pool,
        risk,
        borrowers,
        nft,
    };
    let report = SetupReport {
        hub_symbol: names.hub(),
        assets: 1 + POOLS,
        pools: POOLS,
        markets: MARKETS,
        borrowers,
        nft_collections: setup.nft.creators.len(),
        nft_listings: setup.nft.listings.len(),
        admin_txs,
        account_txs,
        hub_per_account: HUB_PER_ACCOUNT,
        secs: started.elapsed().as_secs_f64(),
    };
    Ok((setup, report))
}

/// The NFT creators' setup transactions: a collection each (nonce 0), then
/// mints (each from the next edition shard) each followed by its listing.
fn nft_setup(
    chain_id: u64,
    accounts: &Accounts,
    hub: AssetId,
    listings: usize,
    expiry_height: u64,
) -> Result<(NftSetup, Vec<SignedTransaction>, Vec<SignedTransaction>)> {
    let n = nft_creator_count(accounts.len());
    let per_creator = listings
        .div_ceil(n.max(1))
        .min(NFT_MAX_LISTINGS_PER_CREATOR);
    let mut nft = NftSetup {
        expiry_height,
        ..NftSetup::default()
    };
    let (mut collections, mut listed) = (Vec::new(), Vec::new());
    for c in 0..n {
        let account = (accounts.len() - n + c) as u32;
        let key = &accounts.keys[account as usize];
        let creator = NftCreator {
            account,
            collection: collection_id(&accounts.addrs[account as usize], 0),
            co_recipient: c as u32,
            next_nonce: 1 + 2 * per_creator as u64,
        };
        collections.push(sign(
            key,
            chain_id,
            0,
            nft_collection(accounts, &creator, c)?,
        ));
        for k in 0..per_creator as u64 {
            let mint_nonce = 1 + 2 * k;
            let shard = (k % EDITION_SHARDS as u64) as u8;
            let mint = nft_mint(accounts, &creator, shard, mint_nonce);
            listed.push(sign(key, chain_id, mint_nonce, mint));
            let token = token_id(&accounts.addrs[account as usize], mint_nonce);
            let list = nft_list(hub, token, creator.collection, expiry_height);
            listed.push(sign(key, chain_id, mint_nonce + 1, list));
            nft.listings.push(NftListed {
                token,
                creator: c as u8,
            });
        }
        nft.creators.push(creator);
    }
    Ok((nft, collections, listed))
}

/// A bench collection: open for a million editions, the royalty split
/// between the creator and its co-recipient, free transfers.
fn nft_collection(accounts: &Accounts, creator: &NftCreator, index: usize) -> Result<Action> {
    let split = [creator.account, creator.co_recipient]
        .into_iter()
        .zip(NFT_SPLIT_SHARES)
        .map(|(i, share)| SplitShare {
            recipient: accounts.addrs[i as usize],
            share,
        })
        .collect();
    Ok(Action::Nft(Box::new(NftAction::CreateCollection {
        name: Text::new(format!("Bench songs {index}")).context("short name")?,
        symbol: Text::new(format!("BENCH{index}")).context("short symbol")?,
        kind: CollectionKind::Limited {
            max_editions: 1_000_000,
        },
        royalty_bps: NFT_ROYALTY_BPS,
        split: BoundedVec::new(split).context("two recipients")?,
        licence: None,
        policy: TransferPolicy::Free {},
    })))
}

/// `creator`'s mint, with its transaction `nonce`, of an edition to itself.
fn nft_mint(accounts: &Accounts, creator: &NftCreator, shard: u8, nonce: u64) -> Action {
    let owner = accounts.addrs[creator.account as usize];
    let content = [owner.as_bytes().as_slice(), &nonce.to_be_bytes()].concat();
    Action::Nft(Box::new(NftAction::Mint {
        collection: creator.collection,
        shard,
        to: owner,
        content_hash: Hash32::sha256(&content),
        metadata_hash: Hash32::default(),
        uri: Text::new("bench").expect("short uri"),
        freeze: false,
        parents: BoundedVec::new(Vec::new()).expect("no parents"),
    }))
}

/// A listing of `token` at [`NFT_PRICE`] HUB.
fn nft_list(hub: AssetId, token: TokenId, collection: CollectionId, expiry_height: u64) -> Action {
    Action::Nft(Box::new(NftAction::List {
        token,
        asset: hub,
        price: NFT_PRICE,
        expiry_height,
        collections: BoundedVec::new(vec![collection]).expect("one collection"),
    }))
}

fn sign(key: &PrivateKey, chain_id: u64, nonce: u64, action: Action) -> SignedTransaction {
    Transaction {
        chain_id,
        sender: key.public_key().into(),
        nonce,
        max_fee: MAX_FEE_PER_UNIT * action_units(&action) as u128,
        action,
    }
    .sign(key)
}

/// The admin's setup transactions, signed with consecutive nonces.
struct AdminTxs<'a> {
    key: &'a PrivateKey,
    chain_id: u64,
    nonce: u64,
    txs: Vec<SignedTransaction>,
}

impl AdminTxs<'_> {
    fn push(&mut self, action: Action) {
        self.txs
            .push(sign(self.key, self.chain_id, self.nonce, action));
        self.nonce += 1;
    }

    fn create_asset(&mut self, symbol: Symbol, supply: u128) -> AssetId {
        let creator = Address::from(&self.key.public_key());
        let id = AssetId::derive(creator.as_bytes(), self.nonce);
        self.push(Action::CreateAsset {
            symbol,
            decimals: DECIMALS,
            max_supply: None,
            initial_supply: supply,
        });
        id
    }

    fn take(&mut self) -> Vec<SignedTransaction> {
        std::mem::take(&mut self.txs)
    }
}

/// Sends `txs` through the bulk endpoint in waves (each sender's share of a
/// wave under the mempool's per-sender limit), waits until each wave is
/// finalized, and checks that they succeeded: every receipt of a step of up
/// to a thousand transactions, a spread of the others. Returns the count.
async fn send_step(client: &LakhClient, label: &str, txs: Vec<SignedTransaction>) -> Result<usize> {
    let step = async {
        let mut blocks = client.subscribe_finalized().await?;
        let mut waves: Vec<Vec<&SignedTransaction>> = vec![Vec::new()];
        let mut per_sender: BTreeMap<Address, usize> = BTreeMap::new();
        for tx in &txs {
            let sender = tx.tx.sender_address();
            let n = per_sender.get(&sender).copied().unwrap_or(0);
            if n >= WAVE_PER_SENDER || waves.last().is_some_and(|w| w.len() >= WAVE_TXS) {
                waves.push(Vec::new());
                per_sender.clear();
            }
            *per_sender.entry(sender).or_insert(0) += 1;
            if let Some(wave) = waves.last_mut() {
                wave.push(tx);
            }
        }
        for wave in waves.iter().filter(|w| !w.is_empty()) {
            let pending: HashSet<TxId> = wave.iter().map(|tx| tx.id()).collect();
            for request in wave.chunks(REQUEST_TXS) {
                let mut body = Vec::new();
                for tx in request {
                    push_record(&mut body, tx.raw());
                }
                let answer = client.submit_bulk_body(body.into()).await?;
                if let Some(refused) = answer.refused.first() {
                    bail!(
                        "the node refused a {} transaction ({}: {})",
                        request[refused.index].tx.action.kind(),
                        refused.code,
                        refused.message
                    );
                }
            }
            wait_finalized(&mut blocks, pending, SETUP_STALL).await?;
        }
        let stride = if txs.len() <= 1_000 {
            1
        } else {
            txs.len() / 64
        };
        for tx in txs.iter().step_by(stride).chain(txs.last()) {
            match client.tx_status(tx.id()).await? {
                TxStatusInfo::Finalized { receipt, .. } if receipt.status.is_success() => {}
                TxStatusInfo::Finalized { receipt, .. } => bail!(
                    "{} failed: {:?}",
                    serde_json::to_string(&tx.tx.action)?,
                    receipt.status
                ),
                other => bail!("{} is not finalized: {other:?}", tx.id()),
            }
        }
        Ok::<usize, anyhow::Error>(txs.len())
    };
    step.await
        .with_context(|| format!("defi setup step `{label}` failed"))
}

/// The transaction planned operation `p` stands for.
pub fn defi_tx(setup: &DefiSetup, accounts: &Accounts, chain_id: u64, p: &Planned) -> Transaction {
    let sender_addr = accounts.addrs[p.sender as usize];
    let hub = setup.hub;
    let market_ref = |m: u8| MarketRef {
        id: setup.markets[m as usize],
        base: setup.tokens[m as usize],
        quote: hub,
    };
    let own_market = || BoundedVec::new(vec![hub]).expect("one market");
    let action = match p.op {
        Op::Transfer => Action::Transfer(TransferEntry {
            to: accounts.addrs[p.receiver as usize],
            asset: AssetId::NATIVE,
            amount: 1,
        }),
        Op::SwapBuy { pool } => Action::Dex(DexAction::SwapExactIn {
            path: BoundedVec::new(vec![hub, setup.tokens[pool as usize]]).expect("two assets"),
            amount_in: SWAP_IN,
            min_amount_out: buy_min_out(),
            deadline_height: u64::MAX,
        }),
        Op::SwapSell { pool } => Action::Dex(DexAction::SwapExactIn {
            path: BoundedVec::new(vec![setup.tokens[pool as usize], hub]).expect("two assets"),
            amount_in: buy_min_out(),
            min_amount_out: min_out(buy_min_out()),
            deadline_height: u64::MAX,
        }),
        Op::BookPlace {
            market,
            ticks,
            lots,
        } => Action::Book(BookAction::Place {
            market: market_ref(market),
            side: Side::Buy,
            kind: OrderKind::Limit,
            price: ticks as u128 * TICK,
            quantity: lots as u128 * LOT,
            tif: TimeInForce::Gtc,
        }),
        Op::BookCancelAll { market } => Action::Book(BookAction::CancelAll {
            market: market_ref(market),
        }),
        Op::LendSupply => Action::Lend(Box::new(LendAction::Supply {
            asset: hub,
            amount: LEND_SUPPLY,
        })),
        Op::LendBorrow => Action::Lend(Box::new(LendAction::Borrow {
            asset: hub,
            amount: BORROW,
            markets: own_market(),
        })),
        Op::LendRepay => Action::Lend(Box::new(LendAction::Repay {
            asset: hub,
            amount: REPAY,
            borrower: sender_addr,
        })),
        Op::Delegate => Action::Stake(Box::new(StakeAction::Delegate {
            validator: setup.validator,
            amount: DELEGATE,
        })),
        Op::FarmStake => Action::Farm(FarmAction::Stake {
            farm: setup.farm,
            stake_asset: hub,
            amount: FARM_STAKE,
        }),
        Op::FarmUnstake => Action::Farm(FarmAction::Unstake {
            farm: setup.farm,
            stake_asset: hub,
            amount: FARM_STAKE,
        }),
        Op::CoverBuy => Action::Cover(Box::new(CoverAction::Buy {
            pool: setup.cover_pool,
            asset: hub,
            risk: setup.risk.clone(),
            amount: COVER_BUY,
            blocks: COVER_BLOCKS,
            max_premium: COVER_MAX_PREMIUM,
        })),
        Op::CoverProvide => Action::Cover(Box::new(CoverAction::Provide {
            pool: setup.cover_pool,
            asset: hub,
            amount: COVER_PROVIDE,
            min_shares: 1,
        })),
        Op::CoverStake => Action::Cover(Box::new(CoverAction::StakeAssessor {
            pool: setup.cover_pool,
            asset: hub,
            amount: COVER_STAKE,
        })),
        Op::NftMint { creator, shard } => {
            nft_mint(accounts, nft_creator(setup, creator), shard, p.nonce)
        }
        Op::NftList {
            creator,
            mint_nonce,
        } => {
            let c = nft_creator(setup, creator);
            let token = token_id(&sender_addr, mint_nonce);
            nft_list(hub, token, c.collection, setup.nft.expiry_height)
        }
        Op::NftBuy { listing } => {
            let (l, c) = nft_listing(setup, listing);
            let payees = vec![
                accounts.addrs[c.account as usize],
                accounts.addrs[c.co_recipient as usize],
            ];
            Action::Nft(Box::new(NftAction::Buy {
                token: l.token,
                asset: hub,
                max_price: NFT_PRICE,
                payees: BoundedVec::new(payees).expect("two payees"),
            }))
        }
        Op::NftRelist { listing } => {
            let (l, c) = nft_listing(setup, listing);
            nft_list(hub, l.token, c.collection, setup.nft.expiry_height)
        }
        Op::MultiTransfer => {
            let mut rng = SplitMix::new((u64::from(p.sender) << 40) ^ p.nonce);
            let entries = (0..MULTI_ENTRIES)
                .map(|i| TransferEntry {
                    to: accounts.addrs[rng.below(accounts.len())],
                    asset: if i % 2 == 0 { AssetId::NATIVE } else { hub },
                    amount: 1,
                })
                .collect();
            Action::MultiTransfer { entries }
        }
    };
    super::workload::planned_tx(accounts, chain_id, p, action)
}

/// Creator `creator` of the setup (the planner only names existing ones).
fn nft_creator(setup: &DefiSetup, creator: u8) -> &NftCreator {
    &setup.nft.creators[creator as usize]
}

/// Setup listing `listing` and its seller.
fn nft_listing(setup: &DefiSetup, listing: u32) -> (&NftListed, &NftCreator) {
    let l = &setup.nft.listings[listing as usize];
    (l, nft_creator(setup, l.creator))
}

/// Constant-product output of selling `amount_in` into a fresh pool.
fn fresh_pool_out(amount_in: u128) -> u128 {
    amount_in * 997 * POOL_RESERVE / (POOL_RESERVE * 1000 + amount_in * 997)
}

/// The least a swap accepts: 90% of what it gets from a fresh pool.
fn min_out(amount_in: u128) -> u128 {
    fresh_pool_out(amount_in) / 10 * 9
}

fn buy_min_out() -> u128 {
    min_out(SWAP_IN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lakh_state::StateKey;
    use std::collections::HashMap;

    /// A cursor over `listings` setup listings, round-robin over the
    /// creators of `accounts` accounts.
    fn cursor(accounts: usize, listings: usize) -> NftCursor {
        let n = nft_creator_count(accounts);
        NftCursor {
            creators: (accounts - n..accounts).map(|i| i as u32).collect(),
            listing_sellers: (0..listings).map(|i| (i % n) as u8).collect(),
            next: 0,
        }
    }

    fn plan_all(accounts: usize, count: usize, seed: u64) -> (Vec<Planned>, Vec<u64>) {
        let senders: Vec<u32> = (0..accounts as u32).collect();
        let borrowers: Vec<u32> = (0..borrower_count(accounts) as u32).collect();
        let mut nonces = vec![0u64; accounts];
        let mut nft = cursor(accounts, nft_listings_for(count));
        let planned = plan(
            accounts,
            &senders,
            &borrowers,
            &mut nonces,
            &mut nft,
            count,
            seed,
        )
        .unwrap();
        (planned, nonces)
    }

    #[test]
    fn mix_counts_are_exact() {
        for count in [1, 7, 99, 100, 1_001, 123_457] {
            let counts = mix_counts(count);
            assert_eq!(counts.iter().sum::<usize>(), count);
            for (i, (_, pct)) in MIX.iter().enumerate() {
                let exact = count as f64 * *pct as f64 / 100.0;
                assert!((counts[i] as f64 - exact).abs() < 1.0, "{count} {i}");
            }
        }
        assert_eq!(mix_counts(1_000), [400, 250, 100, 100, 50, 50, 50]);
    }

    #[test]
    fn plan_has_the_mix_and_nonces_in_order() {
        let (planned, nonces) = plan_all(500, 40_000, 7);
        assert_eq!(planned.len(), 40_000);
        let (by_category, by_op) = mix_of(planned.iter().map(|p| &p.op));
        assert_eq!(by_category["transfer"], 16_000);
        assert_eq!(by_category["amm_swap"], 10_000);
        assert_eq!(by_category["order_book"], 4_000);
        assert_eq!(by_category["lending"], 4_000);
        assert_eq!(by_category["staking_farm"], 2_000);
        assert_eq!(by_category["insurance_nft"], 2_000);
        assert_eq!(by_category["multi_transfer"], 2_000);
        // Within categories: the shares the planner aims at, with sampling noise.
        let near = |op: &str, want: f64| {
            let got = by_op[op] as f64;
            assert!((got - want).abs() < want * 0.1, "{op}: {got} vs {want}");
        };
        near("book_place", 2_000.0);
        near("book_cancel_all", 2_000.0);
        near("lend_supply", 4_000.0 / 3.0);
        near("lend_borrow", 4_000.0 / 3.0);
        near("lend_repay", 4_000.0 / 3.0);
        near("stake_delegate", 1_000.0);
        near("cover_buy", 600.0);
        // Half the insurance-and-NFT share is NFT: 40% mints, 30% listings,
        // 30% buys (setup listings suffice, and mints always have a creator).
        let nft = ["nft_mint", "nft_list", "nft_relist", "nft_buy"]
            .iter()
            .map(|op| by_op.get(*op).copied().unwrap_or(0))
            .sum::<u64>() as f64;
        assert!((nft - 1_000.0).abs() < 100.0, "{nft}");
        near("nft_buy", 300.0);
        near("nft_mint", 400.0);
        near("nft_list", 150.0);
        near("nft_relist", 150.0);
        near("swap_buy", 5_000.0);

        let mut expected = vec![0u64; 500];
        for p in &planned {
            assert_eq!(p.nonce, expected[p.sender as usize]);
            expected[p.sender as usize] += 1;
            if p.op == Op::Transfer {
                assert_ne!(p.sender, p.receiver);
            }
        }
        assert_eq!(expected, nonces);

        // Pools and markets are all used.
        let pools: HashSet<u8> = planned
            .iter()
            .filter_map(|p| match p.op {
                Op::SwapBuy { pool } => Some(pool),
                _ => None,
            })
            .collect();
        assert_eq!(pools.len(), POOLS);

        // Same seed, same plan; another seed, another plan.
        assert_eq!(plan_all(500, 40_000, 7).0, planned);
        assert_ne!(plan_all(500, 40_000, 8).0, planned);
    }

    #[test]
    fn second_halves_follow_their_own_first_halves() {
        let (planned, _) = plan_all(300, 30_000, 3);
        let borrowers = borrower_count(300) as u32;
        // Per sender: resting orders by market, outstanding debt, farm
        // stake, and bought tokens by pool.
        let mut resting: HashMap<(u32, u8), u32> = HashMap::new();
        let mut debt: HashMap<u32, u32> = HashMap::new();
        let mut staked: HashMap<u32, u32> = HashMap::new();
        let mut bought: HashMap<(u32, u8), u32> = HashMap::new();
        // NFT mints not yet listed, setup listings bought and not yet relisted.
        let mut minted: HashSet<(u32, u64)> = HashSet::new();
        let mut nft_bought: HashMap<u32, u32> = HashMap::new();
        for p in &planned {
            let s = p.sender;
            match p.op {
                Op::BookPlace { market, .. } => {
                    *resting.entry((s, market)).or_default() += 1;
                    // Strictly one order at a time: a cancel-all cancels exactly it.
                    assert_eq!(resting.values().sum::<u32>(), 1);
                }
                Op::BookCancelAll { market } => {
                    assert_eq!(resting.remove(&(s, market)), Some(1), "{p:?}");
                }
                Op::LendBorrow => {
                    assert!(s < borrowers, "{p:?} did not supply collateral");
                    assert_eq!(debt.insert(s, 1), None);
                }
                Op::LendRepay => assert_eq!(debt.remove(&s), Some(1), "{p:?}"),
                Op::FarmStake => assert_eq!(staked.insert(s, 1), None),
                Op::FarmUnstake => assert_eq!(staked.remove(&s), Some(1), "{p:?}"),
                Op::NftMint { .. } => assert!(minted.insert((s, p.nonce))),
                Op::NftList { mint_nonce, .. } => {
                    assert!(
                        minted.remove(&(s, mint_nonce)),
                        "{p:?} lists no mint of its own"
                    );
                }
                Op::NftBuy { listing } => {
                    assert!(
                        nft_bought.insert(listing, s).is_none(),
                        "{p:?} bought twice"
                    );
                }
                Op::NftRelist { listing } => {
                    assert_eq!(nft_bought.remove(&listing), Some(s), "{p:?}");
                }
                Op::SwapBuy { pool } => *bought.entry((s, pool)).or_default() += 1,
                Op::SwapSell { pool } => {
                    let n = bought
                        .get_mut(&(s, pool))
                        .expect("sells only what it bought");
                    assert!(*n > 0, "{p:?}");
                    *n -= 1;
                }
                _ => {}
            }
        }
    }

    #[test]
    fn only_usable_senders_send_and_borrowers_borrow() {
        let mut nonces = vec![0u64; 50];
        // Creators 38..50 of which only 49 may send.
        let mut nft = cursor(50, 100);
        let planned = plan(50, &[3, 7, 12, 49], &[3], &mut nonces, &mut nft, 4_000, 5).unwrap();
        assert!(planned.iter().all(|p| [3, 7, 12, 49].contains(&p.sender)));
        assert!(planned.iter().any(|p| matches!(p.op, Op::NftMint { .. })));
        for p in &planned {
            match p.op {
                Op::NftMint { creator, .. } | Op::NftList { creator, .. } => {
                    assert_eq!(nft.creators[creator as usize], 49);
                    assert_eq!(p.sender, 49);
                }
                Op::NftBuy { listing } => {
                    let seller = nft.creators[nft.listing_sellers[listing as usize] as usize];
                    assert_ne!(p.sender, seller, "{p:?} buys its own listing");
                }
                _ => {}
            }
        }
        // Buys take listings in order, each once, across plans too.
        let buys = |planned: &[Planned]| -> Vec<u32> {
            planned
                .iter()
                .filter_map(|p| match p.op {
                    Op::NftBuy { listing } => Some(listing),
                    _ => None,
                })
                .collect()
        };
        let first = buys(&planned);
        assert_eq!(first, (0..first.len() as u32).collect::<Vec<_>>());
        let planned = plan(50, &[3, 7, 12, 49], &[3], &mut nonces, &mut nft, 4_000, 6).unwrap();
        let second = buys(&planned);
        assert_eq!(second.first().copied(), Some(first.len() as u32));
        // When the listings run out, no buy is planned.
        let mut none_left = cursor(50, 0);
        let planned = plan(50, &[3, 49], &[], &mut nonces, &mut none_left, 4_000, 7).unwrap();
        assert!(buys(&planned).is_empty());
        assert!(
            planned
                .iter()
                .filter(|p| matches!(p.op, Op::LendBorrow | Op::LendRepay))
                .all(|p| p.sender == 3)
        );
        // Without borrowers, lending is supply only.
        let planned = plan(50, &[3, 7], &[], &mut nonces, &mut nft, 2_000, 5).unwrap();
        assert!(
            planned
                .iter()
                .filter(|p| p.op.category() == Category::Lend)
                .all(|p| p.op == Op::LendSupply)
        );
        assert!(plan(50, &[], &[], &mut nonces, &mut nft, 10, 5).is_err());
    }

    #[test]
    fn swap_bounds_leave_room_and_sell_backs_are_covered() {
        let out = fresh_pool_out(SWAP_IN);
        assert!(out > 0 && out < SWAP_IN);
        assert!(buy_min_out() < out && buy_min_out() >= out / 10 * 9);
        // Selling back what a buy surely got returns some HUB.
        assert!(min_out(buy_min_out()) > 0);
    }

    #[test]
    fn names_are_valid_and_differ_per_seed() {
        let a = Names::of(1);
        let b = Names::of(2);
        assert_ne!(a.prefix, b.prefix);
        assert!(Symbol::new(&a.hub()).is_ok());
        assert!(Symbol::new(&a.token(POOLS - 1)).is_ok());
        assert_eq!(a.markets.len(), MARKETS);
        assert!(a.markets.windows(2).all(|w| w[1] == w[0] + 1));
    }

    #[test]
    fn planned_ops_become_their_transactions() {
        let accounts = Accounts::derive(20, 1).unwrap();
        let setup = DefiSetup {
            hub: AssetId(77),
            tokens: (0..POOLS as u64).map(|k| AssetId(1_000 + k)).collect(),
            markets: (0..MARKETS as u32).map(|k| 5_000 + k).collect(),
            validator: accounts.addrs[19],
            farm: 42,
            cover_pool: 9,
            risk: RiskName::new("dex:bench-pools").unwrap(),
            borrowers: 2,
            nft: nft_setup(5, &accounts, AssetId(77), 50, 1_000).unwrap().0,
        };
        let senders: Vec<u32> = (0..20).collect();
        let mut nonces = vec![0u64; 20];
        setup.advance_nonces(&mut nonces);
        let mut nft = setup.nft.cursor();
        let planned = plan(20, &senders, &[0, 1], &mut nonces, &mut nft, 3_000, 11).unwrap();
        let mut kinds = HashSet::new();
        for p in &planned {
            let tx = defi_tx(&setup, &accounts, 5, p);
            assert_eq!(tx.nonce, p.nonce);
            assert_eq!(tx.sender_address(), accounts.addrs[p.sender as usize]);
            assert!(tx.max_fee >= MAX_FEE_PER_UNIT * action_units(&tx.action) as u128);
            let signed = tx.sign(&accounts.keys[p.sender as usize]);
            assert!(signed.verify_signature());
            match (&p.op, &signed.tx.action) {
                (Op::SwapSell { pool }, Action::Dex(DexAction::SwapExactIn { path, .. })) => {
                    assert_eq!(path[0], setup.tokens[*pool as usize]);
                    assert_eq!(path[1], setup.hub);
                }
                (
                    Op::BookCancelAll { market },
                    Action::Book(BookAction::CancelAll { market: m }),
                ) => {
                    assert_eq!(m.id, setup.markets[*market as usize]);
                    assert_eq!(m.base, setup.tokens[*market as usize]);
                }
                (Op::LendRepay, Action::Lend(lend)) => {
                    if let LendAction::Repay { borrower, .. } = &**lend {
                        assert_eq!(*borrower, accounts.addrs[p.sender as usize]);
                    }
                }
                (Op::MultiTransfer, Action::MultiTransfer { entries }) => {
                    assert_eq!(entries.len(), MULTI_ENTRIES);
                }
                (Op::NftBuy { listing }, Action::Nft(nft)) => {
                    if let NftAction::Buy { token, payees, .. } = &**nft {
                        let (l, c) = nft_listing(&setup, *listing);
                        assert_eq!(*token, l.token);
                        let seller = accounts.addrs[c.account as usize];
                        assert_ne!(signed.tx.sender_address(), seller);
                        assert_eq!(
                            &payees[..],
                            &[seller, accounts.addrs[c.co_recipient as usize]]
                        );
                    }
                }
                (Op::NftList { mint_nonce, .. }, Action::Nft(nft)) => {
                    if let NftAction::List { token, .. } = &**nft {
                        assert_eq!(*token, token_id(&signed.tx.sender_address(), *mint_nonce));
                    }
                }
                _ => {}
            }
            if let Action::Nft(a) = &signed.tx.action {
                lakh_types::modules::nft::check(a).unwrap();
            }
            kinds.insert(p.op.name());
        }
        assert_eq!(kinds.len(), 19, "{kinds:?}");
    }

    #[test]
    fn nft_setup_and_workload_actions_pass_the_module_checks() {
        let accounts = Accounts::derive(40, 3).unwrap();
        let n = nft_creator_count(40);
        assert_eq!(n, 10);
        let (nft, collections, listed) = nft_setup(5, &accounts, AssetId(77), 25, 1_000).unwrap();
        assert_eq!(collections.len(), n);
        // 25 listings over 10 creators: 3 each, a mint and a listing per token.
        assert_eq!(nft.listings.len(), 30);
        assert_eq!(listed.len(), 60);
        for tx in collections.iter().chain(&listed) {
            let Action::Nft(a) = &tx.tx.action else {
                panic!("not an nft action: {:?}", tx.tx.action);
            };
            lakh_types::modules::nft::check(a).unwrap();
            assert!(tx.verify_signature());
        }
        for c in &nft.creators {
            assert_eq!(c.next_nonce, 7);
            assert!(c.account as usize >= 40 - n);
            assert!((c.co_recipient as usize) < n);
        }
        // The listing share: 5% x 50% x 30%, and a fifth more.
        assert_eq!(nft_listings_for(1_000_000), 9_000);
    }

    #[test]
    fn mints_of_one_collection_spread_over_the_edition_shards() {
        let accounts = Accounts::derive(100, 4).unwrap();
        let n = nft_creator_count(100);
        let setup = DefiSetup {
            hub: AssetId(77),
            tokens: Vec::new(),
            markets: Vec::new(),
            validator: accounts.addrs[0],
            farm: 1,
            cover_pool: 1,
            risk: RiskName::new("dex:bench-pools").unwrap(),
            borrowers: 0,
            nft: nft_setup(5, &accounts, AssetId(77), n, 1_000).unwrap().0,
        };
        let senders: Vec<u32> = (0..100).collect();
        let mut nonces = vec![0u64; 100];
        setup.advance_nonces(&mut nonces);
        let mut cursor = setup.nft.cursor();
        let planned = plan(100, &senders, &[], &mut nonces, &mut cursor, 200_000, 9).unwrap();
        let mut shards: HashMap<u8, HashSet<u8>> = HashMap::new();
        let mut keys: HashMap<u8, Vec<(u8, Vec<StateKey>)>> = HashMap::new();
        for p in &planned {
            if let Op::NftMint { creator, shard } = p.op {
                shards.entry(creator).or_default().insert(shard);
                let tx = defi_tx(&setup, &accounts, 5, p);
                let mut k = Vec::new();
                lakh_execution::tx_access(&tx, &mut |key| k.push(key));
                keys.entry(creator).or_default().push((shard, k));
            }
        }
        assert_eq!(shards.len(), n, "every creator mints");
        // About a hundred mints each, uniform over 16 shards.
        for (creator, used) in &shards {
            assert!(used.len() >= 12, "creator {creator}: {used:?}");
        }
        // Two mints of one collection from different shards share only the
        // creator's account and the collection (which a mint only reads).
        for (creator, mints) in &keys {
            let (shard_a, a) = &mints[0];
            let (_, b) = mints.iter().find(|(shard, _)| shard != shard_a).unwrap();
            let shared: HashSet<_> = a.iter().filter(|k| b.contains(k)).collect();
            let creator_addr =
                accounts.addrs[setup.nft.creators[*creator as usize].account as usize];
            assert!(shared.contains(&StateKey::Account(creator_addr)));
            assert_eq!(shared.len(), 2, "creator {creator}: {shared:?}");
        }
    }
}
