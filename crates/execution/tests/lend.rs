//! The lending module through real blocks: every action's success and
//! failure paths, the rate-model and index vectors, hostile cases (stale and
//! missing prices, healthy liquidation, over-borrowing, unhealthy withdrawal,
//! first-depositor inflation, over-repayment, u128 limits, undeclared
//! markets), bad debt, queries, and a property test of the invariants over
//! random sequences with price moves, checked against the parallel executor
//! and tx-by-tx execution.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use lakh_execution::{
    BlockEnv, Mode, execute_block, execute_block_parallel,
    modules::kit::math::{mul_div_ceil, mul_div_floor},
    modules::lend::{LOCKED_SHARES, custody, market_key},
    modules::run_query,
};
use lakh_state::{AccountState, AssetInfo, StateKey, StateValue};
use lakh_types::{
    Action, Address, AssetId, Event, FailureReason, Receipt, SignedTransaction, TransferEntry,
    TxStatus,
    codec::BoundedVec,
    modules::{
        lend::{LendAction, LendError, LendEvent, MarketList, MarketParams, WAD},
        oracle::{OracleAction, OracleError},
    },
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use serde_json::{Value, json};
use std::{collections::BTreeMap, num::NonZeroUsize};

const USDC: AssetId = AssetId(300);
const ETH: AssetId = AssetId(301);
const WBTC: AssetId = AssetId(302);
const ASSETS: [(AssetId, &str, u8); 3] = [(USDC, "USDC", 6), (ETH, "ETH", 18), (WBTC, "WBTC", 8)];

const ADMIN: u64 = 0;
/// The price reporters (each feed needs one fresh report).
const REPORTER: u64 = 1;
const PROPOSER: u64 = 9;
/// Users: genesis-funded accounts get native for fees here too.
const FIRST_USER: u64 = 10;
const MAX_FEE: u128 = 100_000;
const MAX_AGE: u64 = 20;

const USDC_EACH: u128 = 10_000_000 * 1_000_000; // 10M USDC
const ETH_EACH: u128 = 1_000 * WAD; // 1000 ETH
const WBTC_EACH: u128 = 100 * 100_000_000; // 100 WBTC

fn usd(n: u128) -> u128 {
    n * WAD
}

fn params(collateral_factor_pct: u128) -> MarketParams {
    MarketParams {
        collateral_factor: WAD / 100 * collateral_factor_pct,
        reserve_factor: WAD / 10,
        base_rate: 2_000_000_000_000,    // 2e-6 per block
        multiplier: 100_000_000_000_000, // 1e-4 per block at U = 100%
        kink: WAD / 100 * 80,
        jump_multiplier: 2_000_000_000_000_000, // 2e-3 per block above the kink
        close_factor: WAD / 2,
        liquidation_incentive: WAD / 100 * 108,
    }
}

fn list(assets: &[AssetId]) -> MarketList {
    BoundedVec::new(assets.to_vec()).expect("short list")
}

fn create(asset: AssetId, p: MarketParams) -> Action {
    Action::Lend(Box::new(LendAction::CreateMarket { asset, params: p }))
}
fn supply(asset: AssetId, amount: u128) -> Action {
    Action::Lend(Box::new(LendAction::Supply { asset, amount }))
}
fn withdraw(asset: AssetId, amount: u128, markets: &[AssetId]) -> Action {
    Action::Lend(Box::new(LendAction::Withdraw {
        asset,
        amount,
        markets: list(markets),
    }))
}
fn borrow(asset: AssetId, amount: u128, markets: &[AssetId]) -> Action {
    Action::Lend(Box::new(LendAction::Borrow {
        asset,
        amount,
        markets: list(markets),
    }))
}
fn repay(asset: AssetId, amount: u128, borrower: Address) -> Action {
    Action::Lend(Box::new(LendAction::Repay {
        asset,
        amount,
        borrower,
    }))
}
fn liquidate(
    borrower: Address,
    repay_asset: AssetId,
    amount: u128,
    seize_asset: AssetId,
    markets: &[AssetId],
) -> Action {
    Action::Lend(Box::new(LendAction::Liquidate {
        borrower,
        repay_asset,
        amount,
        seize_asset,
        markets: list(markets),
    }))
}
fn post(asset: AssetId, price: u128) -> Action {
    Action::Oracle(OracleAction::Post { asset, price })
}
fn donate(asset: AssetId, amount: u128) -> Action {
    Action::Transfer(TransferEntry {
        to: custody(asset),
        asset,
        amount,
    })
}

fn num(v: &Value) -> u128 {
    v.as_str()
        .unwrap_or_else(|| panic!("not an amount: {v}"))
        .parse()
        .expect("amount")
}

fn ok(r: &Receipt) {
    assert_eq!(r.status, TxStatus::Success, "{r:?}");
}

fn lend_failure(r: &Receipt) -> LendError {
    match &r.status {
        TxStatus::Failed {
            error: FailureReason::Lend(e),
        } => e.clone(),
        other => panic!("expected a lending failure, got {other:?}"),
    }
}

fn failure(r: &Receipt) -> FailureReason {
    match &r.status {
        TxStatus::Failed { error } => error.clone(),
        other => panic!("expected a failure, got {other:?}"),
    }
}

fn lend_events(r: &Receipt) -> Vec<LendEvent> {
    r.events
        .iter()
        .filter_map(|e| match e {
            Event::Lend(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

/// A chain with USDC, ETH and WBTC held by every user, run block by block.
/// Every block runs sequentially and through the parallel executor (which
/// must agree exactly) and the whole state's invariants are checked after it.
struct World {
    state: State,
    native: u128,
    height: u64,
    nonces: BTreeMap<u64, u64>,
    /// Height of the block where the admin seeded each market, if it did.
    seeded_at: Option<u64>,
}

/// What the admin supplies first to each market (so users' shares are
/// exact: the locked shares come out of the seed).
const SEED: u128 = 1_000_000;

impl World {
    /// Users `FIRST_USER..FIRST_USER + users` (with native for fees) and
    /// the admin hold `*_EACH` of each asset.
    fn new(users: u64) -> World {
        let mut state = genesis_state();
        let mut native = native_total();
        let users: Vec<Address> = (FIRST_USER..FIRST_USER + users).map(addr).collect();
        let holders: Vec<Address> = std::iter::once(addr(ADMIN))
            .chain(users.iter().copied())
            .collect();
        for a in &users {
            state.insert(
                StateKey::Account(*a),
                StateValue::Account(AccountState {
                    nonce: 0,
                    native_balance: FUNDED,
                }),
            );
            native += FUNDED;
        }
        match state.get_mut(&StateKey::Asset(AssetId::NATIVE)) {
            Some(StateValue::Asset(info)) => info.supply = native,
            other => panic!("no native asset: {other:?}"),
        }
        for (asset, symbol, decimals) in ASSETS {
            let each = match asset {
                USDC => USDC_EACH,
                ETH => ETH_EACH,
                _ => WBTC_EACH,
            };
            for a in &holders {
                state.insert(StateKey::Balance(*a, asset), StateValue::Balance(each));
            }
            state.insert(
                StateKey::Asset(asset),
                StateValue::Asset(Box::new(AssetInfo {
                    issuer: addr(ADMIN),
                    symbol: sym(symbol),
                    decimals,
                    max_supply: None,
                    supply: each * holders.len() as u128,
                })),
            );
            state.insert(StateKey::Symbol(sym(symbol)), StateValue::Symbol(asset));
        }
        check_invariants(&state, native);
        World {
            state,
            native,
            height: 100,
            nonces: BTreeMap::new(),
            seeded_at: None,
        }
    }

    /// [`World::bare_markets`] plus a first supply of `SEED` by the admin
    /// to each market.
    fn with_markets(users: u64) -> World {
        let mut w = World::bare_markets(users);
        w.seeded_at = Some(w.height);
        w.block(
            ASSETS
                .iter()
                .map(|(a, _, _)| (ADMIN, supply(*a, SEED)))
                .collect(),
        )
        .iter()
        .for_each(ok);
        w
    }

    /// `new` plus markets for the three assets (collateral factors 80%, 75%,
    /// 70%), created at height 100, a feed each (reporter `REPORTER`), and
    /// prices $1, $2000, $30000.
    fn bare_markets(users: u64) -> World {
        let mut w = World::new(users);
        let mut setup = Vec::new();
        for ((asset, _, _), cf) in ASSETS.iter().zip([80, 75, 70]) {
            setup.push((ADMIN, create(*asset, params(cf))));
            setup.push((
                ADMIN,
                Action::Oracle(OracleAction::SetFeed {
                    asset: *asset,
                    reporters: BoundedVec::new(vec![addr(REPORTER)]).unwrap(),
                    max_age_blocks: MAX_AGE,
                    min_reports: 1,
                }),
            ));
        }
        w.block(setup).iter().for_each(ok);
        w.prices(usd(1), usd(2_000), usd(30_000));
        w
    }

    fn prices(&mut self, usdc: u128, eth: u128, wbtc: u128) {
        self.block(vec![
            (REPORTER, post(USDC, usdc)),
            (REPORTER, post(ETH, eth)),
            (REPORTER, post(WBTC, wbtc)),
        ])
        .iter()
        .for_each(ok);
    }

    fn sign_all(&mut self, txs: Vec<(u64, Action)>) -> Vec<SignedTransaction> {
        txs.into_iter()
            .map(|(seed, action)| {
                let nonce = self.nonces.entry(seed).or_default();
                *nonce += 1;
                sign(seed, *nonce - 1, MAX_FEE, action)
            })
            .collect()
    }

    fn env(&self) -> BlockEnv {
        BlockEnv {
            height: self.height,
            ..env(addr(PROPOSER))
        }
    }

    fn block(&mut self, txs: Vec<(u64, Action)>) -> Vec<Receipt> {
        let txs = self.sign_all(txs);
        self.execute(&txs)
    }

    fn execute(&mut self, txs: &[SignedTransaction]) -> Vec<Receipt> {
        let env = self.env();
        let mut seq = prefetch(&self.state, &env, txs);
        let outcome = execute_block(&env, txs, &mut seq, Mode::Verify).expect("block executes");
        let mut par = prefetch(&self.state, &env, txs);
        let threads = NonZeroUsize::new(3).unwrap();
        let parallel = execute_block_parallel(&env, txs, &mut par, Mode::Verify, threads, 0)
            .expect("block executes in parallel");
        assert_eq!(outcome, parallel, "parallel receipts differ");
        let changes: Changes = seq.into_changes().collect();
        let par_changes: Changes = par.into_changes().collect();
        assert_eq!(changes, par_changes, "parallel changes differ");
        commit(&mut self.state, &changes);
        check_invariants(&self.state, self.native);
        self.height += 1;
        outcome.receipts
    }

    fn one(&mut self, seed: u64, action: Action) -> Receipt {
        self.block(vec![(seed, action)]).remove(0)
    }

    /// Skips `blocks` empty blocks.
    fn advance(&mut self, blocks: u64) {
        self.height += blocks;
    }

    /// A query as of the last executed (or skipped) block.
    fn query(&self, module: &str, method: &str, params: Value) -> Value {
        run_query(module, method, &params, self.height - 1, 256, |k| {
            Ok(self.state.get(k).cloned())
        })
        .unwrap_or_else(|e| panic!("{module}.{method}: {e}"))
    }

    fn market(&self, asset: AssetId) -> Value {
        self.query("lend", "market", json!({ "asset": asset }))
    }

    fn position(&self, seed: u64) -> Value {
        self.query("lend", "position", json!({ "account": addr(seed) }))
    }

    /// The markets `seed` has positions in, as the wallet fills them.
    fn markets_of(&self, seed: u64) -> Vec<AssetId> {
        self.position(seed)["markets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| AssetId(v.as_u64().unwrap()))
            .collect()
    }

    fn balance(&self, seed: u64, asset: AssetId) -> u128 {
        balance(&self.state, &addr(seed), asset)
    }
}

fn user(i: u64) -> u64 {
    FIRST_USER + i
}

// ---------------------------------------------------------------- admin

#[test]
fn only_the_admin_creates_and_updates_markets_with_valid_parameters() {
    let mut w = World::new(2);
    let r = w.one(user(0), create(USDC, params(80)));
    assert_eq!(
        failure(&r),
        FailureReason::NotAdmin {
            sender: addr(user(0))
        }
    );
    let mut bad = params(80);
    bad.collateral_factor = WAD;
    let r = w.one(ADMIN, create(USDC, bad));
    assert!(
        matches!(failure(&r), FailureReason::Invalid { detail } if detail.contains("collateral_factor"))
    );
    let r = w.one(ADMIN, create(AssetId(999), params(80)));
    assert_eq!(
        failure(&r),
        FailureReason::UnknownAsset {
            asset: AssetId(999)
        }
    );
    let r = w.one(ADMIN, create(USDC, params(80)));
    ok(&r);
    assert_eq!(
        lend_events(&r),
        vec![LendEvent::MarketCreated {
            asset: USDC,
            params: params(80)
        }]
    );
    let r = w.one(ADMIN, create(USDC, params(80)));
    assert_eq!(lend_failure(&r), LendError::MarketExists { asset: USDC });

    let r = w.one(
        user(1),
        Action::Lend(Box::new(LendAction::UpdateMarket {
            asset: USDC,
            params: params(50),
        })),
    );
    assert!(matches!(failure(&r), FailureReason::NotAdmin { .. }));
    ok(&w.one(
        ADMIN,
        Action::Lend(Box::new(LendAction::UpdateMarket {
            asset: USDC,
            params: params(50),
        })),
    ));
    assert_eq!(num(&w.market(USDC)["params"]["collateral_factor"]), WAD / 2);
    let r = w.one(
        ADMIN,
        Action::Lend(Box::new(LendAction::UpdateMarket {
            asset: ETH,
            params: params(50),
        })),
    );
    assert_eq!(lend_failure(&r), LendError::NoMarket { asset: ETH });

    let markets = w.query("lend", "markets", json!({}));
    assert_eq!(markets["markets"].as_array().unwrap().len(), 1);
    assert_eq!(markets["markets"][0]["asset"], USDC.0);
}

// ---------------------------------------------------------------- supply

#[test]
fn first_supply_locks_shares_and_later_supplies_mint_at_the_exchange_rate() {
    let mut w = World::bare_markets(3);
    let r = w.one(user(0), supply(USDC, LOCKED_SHARES));
    assert_eq!(
        lend_failure(&r),
        LendError::FirstSupplyTooSmall {
            amount: LOCKED_SHARES,
            minimum: LOCKED_SHARES
        }
    );
    let r = w.one(user(0), supply(USDC, 1_000_000));
    ok(&r);
    assert_eq!(
        lend_events(&r),
        vec![LendEvent::Supplied {
            account: addr(user(0)),
            asset: USDC,
            amount: 1_000_000,
            shares: 1_000_000 - LOCKED_SHARES
        }]
    );
    let m = w.market(USDC);
    assert_eq!(num(&m["total_shares"]), 1_000_000);
    assert_eq!(num(&m["cash"]), 1_000_000);
    assert_eq!(num(&m["exchange_rate"]), WAD);
    assert_eq!(num(&m["custody_balance"]), 1_000_000);
    assert_eq!(w.balance(user(0), USDC), USDC_EACH - 1_000_000);
    ok(&w.one(user(1), supply(USDC, 5_000_000)));
    let p = w.position(user(1));
    assert_eq!(num(&p["positions"][0]["shares"]), 5_000_000);
    assert_eq!(num(&p["positions"][0]["supplied"]), 5_000_000);
    assert_eq!(p["markets"], json!([USDC.0]));
    // Supplying with no balance.
    let r = w.one(user(2), supply(USDC, USDC_EACH + 1));
    assert!(matches!(
        failure(&r),
        FailureReason::InsufficientBalance { .. }
    ));
    let r = w.one(user(2), supply(AssetId(100), 5));
    assert_eq!(
        lend_failure(&r),
        LendError::NoMarket {
            asset: AssetId(100)
        }
    );
}

#[test]
fn first_depositor_inflation_is_defeated_by_tracked_cash_and_locked_shares() {
    let mut w = World::bare_markets(2);
    let (attacker, victim) = (user(0), user(1));
    // Classic attack: mint the smallest position, then donate to inflate the
    // share price so the victim's deposit rounds to nothing.
    ok(&w.one(attacker, supply(USDC, LOCKED_SHARES + 1)));
    let donation = 1_000_000 * 1_000_000;
    ok(&w.one(attacker, donate(USDC, donation)));
    let m = w.market(USDC);
    assert_eq!(
        num(&m["exchange_rate"]),
        WAD,
        "donations do not move the rate"
    );
    assert_eq!(num(&m["custody_balance"]), LOCKED_SHARES + 1 + donation);
    assert_eq!(num(&m["cash"]), LOCKED_SHARES + 1);

    let deposit = 500_000 * 1_000_000;
    ok(&w.one(victim, supply(USDC, deposit)));
    let p = w.position(victim);
    assert_eq!(num(&p["positions"][0]["shares"]), deposit);
    assert_eq!(num(&p["positions"][0]["supplied"]), deposit);
    // The attacker can take back only its own supply; the donation is stuck.
    ok(&w.one(attacker, withdraw(USDC, u128::MAX, &[USDC])));
    assert_eq!(
        w.balance(attacker, USDC),
        USDC_EACH - LOCKED_SHARES - 1 - donation + 1
    );
    ok(&w.one(victim, withdraw(USDC, u128::MAX, &[USDC])));
    assert_eq!(w.balance(victim, USDC), USDC_EACH);
    let m = w.market(USDC);
    assert_eq!(num(&m["total_shares"]), LOCKED_SHARES);
    assert_eq!(num(&m["cash"]), LOCKED_SHARES);
}

// ---------------------------------------------------------------- borrow

#[test]
fn borrowing_is_limited_by_collateral_and_cash() {
    let mut w = World::with_markets(4);
    let (lender, borrower) = (user(0), user(1));
    ok(&w.one(lender, supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(borrower, supply(ETH, 10 * WAD)));
    // 10 ETH at $2000 with a 75% factor: capacity $15,000.
    let p = w.position(borrower);
    assert_eq!(num(&p["collateral_value"]), usd(15_000));
    assert_eq!(p["health_factor"], Value::Null);

    let markets = w.markets_of(borrower);
    let r = w.one(borrower, borrow(USDC, 15_000 * 1_000_000 + 1, &markets));
    assert_eq!(
        lend_failure(&r),
        LendError::Undercollateralized {
            account: addr(borrower),
            debt_value: usd(15_000) + WAD / 1_000_000,
            borrow_capacity: usd(15_000),
        }
    );
    // Exactly at capacity is allowed.
    let r = w.one(borrower, borrow(USDC, 15_000 * 1_000_000, &markets));
    ok(&r);
    assert!(r.events.contains(&Event::Lend(LendEvent::Borrowed {
        account: addr(borrower),
        asset: USDC,
        amount: 15_000 * 1_000_000,
        debt: 15_000 * 1_000_000,
    })));
    assert_eq!(w.balance(borrower, USDC), USDC_EACH + 15_000 * 1_000_000);
    let p = w.position(borrower);
    assert_eq!(num(&p["health_factor"]), WAD);
    assert_eq!(p["healthy"], true);
    assert_eq!(num(&p["borrow_capacity_left"]), 0);

    // More cash than the market holds.
    ok(&w.one(user(2), supply(WBTC, 100 * 100_000_000)));
    let m = w.markets_of(user(2));
    let r = w.one(user(2), borrow(USDC, 1_000_000 * 1_000_000, &m));
    assert_eq!(
        lend_failure(&r),
        LendError::InsufficientCash {
            asset: USDC,
            requested: 1_000_000 * 1_000_000,
            cash: 985_000 * 1_000_000 + SEED
        }
    );
    // Without collateral.
    let r = w.one(user(3), borrow(ETH, 1, &[]));
    assert!(matches!(
        lend_failure(&r),
        LendError::Undercollateralized { .. }
    ));
}

#[test]
fn health_checked_actions_must_declare_every_market_of_the_account() {
    let mut w = World::with_markets(2);
    let a = user(0);
    ok(&w.one(user(1), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(a, supply(ETH, 10 * WAD)));
    ok(&w.one(a, supply(WBTC, 100_000_000)));
    // Leaves out WBTC.
    let r = w.one(a, borrow(USDC, 1_000_000, &[ETH]));
    assert_eq!(
        lend_failure(&r),
        LendError::UndeclaredMarket { asset: WBTC }
    );
    let r = w.one(a, withdraw(ETH, 1, &[]));
    assert_eq!(
        lend_failure(&r),
        LendError::UndeclaredMarket { asset: WBTC }
    );
    // Duplicates are malformed.
    let r = w.one(a, borrow(USDC, 1, &[ETH, ETH]));
    assert!(matches!(failure(&r), FailureReason::Invalid { .. }));
    // Declaring extra markets is harmless.
    ok(&w.one(a, borrow(USDC, 1_000_000, &[ETH, WBTC, USDC])));
    assert_eq!(w.markets_of(a), vec![ETH, WBTC, USDC]);
    // A liquidation must declare the borrower's markets too.
    let r = w.one(user(1), liquidate(addr(a), USDC, 1, ETH, &[]));
    assert_eq!(
        lend_failure(&r),
        LendError::UndeclaredMarket { asset: WBTC }
    );
}

#[test]
fn stale_or_missing_prices_refuse_health_checked_actions() {
    let mut w = World::with_markets(2);
    let a = user(0);
    ok(&w.one(user(1), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(a, supply(ETH, 10 * WAD)));
    // Without debt, a withdrawal needs no price: even a stale one is fine.
    w.advance(MAX_AGE + 5);
    ok(&w.one(a, withdraw(ETH, WAD, &[ETH])));
    // Borrowing needs prices: they are stale now.
    let r = w.one(a, borrow(USDC, 1_000_000, &[ETH]));
    assert!(matches!(
        failure(&r),
        FailureReason::Oracle(OracleError::StalePrice { .. })
    ));
    assert!(failure(&r).to_string().contains("stale price"));
    w.prices(usd(1), usd(2_000), usd(30_000));
    ok(&w.one(a, borrow(USDC, 1_000_000, &[ETH])));
    // Feed removed: missing price.
    ok(&w.one(
        ADMIN,
        Action::Oracle(OracleAction::RemoveFeed { asset: ETH }),
    ));
    let r = w.one(a, borrow(USDC, 1_000_000, &[ETH]));
    assert_eq!(
        failure(&r),
        FailureReason::Oracle(OracleError::NoFeed { asset: ETH })
    );
    assert!(failure(&r).to_string().contains("missing price"));
    let r = w.one(a, withdraw(ETH, 1, &[ETH, USDC]));
    assert!(failure(&r).to_string().contains("missing price"));
    // The position query reports it instead of values.
    let p = w.position(a);
    assert_eq!(p["health_factor"], Value::Null);
    assert!(p["price_error"].as_str().unwrap().contains("missing price"));
    // Repaying needs no price.
    ok(&w.one(a, repay(USDC, u128::MAX, addr(a))));
}

// ---------------------------------------------------------------- withdraw

#[test]
fn withdrawals_that_would_leave_the_account_unhealthy_are_refused() {
    let mut w = World::with_markets(2);
    let a = user(0);
    ok(&w.one(user(1), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(a, supply(ETH, 10 * WAD)));
    ok(&w.one(a, borrow(USDC, 7_500 * 1_000_000, &[ETH])));
    // $7,500 debt (plus a block of interest) needs a bit more than $10,000
    // of ETH at 75%: 5 ETH. Withdrawing 5 ETH is too much.
    let r = w.one(a, withdraw(ETH, 5 * WAD, &[ETH, USDC]));
    assert!(matches!(
        lend_failure(&r),
        LendError::Undercollateralized { .. }
    ));
    let r = w.one(a, withdraw(ETH, u128::MAX, &[ETH, USDC]));
    assert!(matches!(
        lend_failure(&r),
        LendError::Undercollateralized { .. }
    ));
    let r = w.one(a, withdraw(ETH, 4 * WAD, &[ETH, USDC]));
    ok(&r);
    assert_eq!(
        lend_events(&r),
        vec![LendEvent::Withdrawn {
            account: addr(a),
            asset: ETH,
            amount: 4 * WAD,
            shares: 4 * WAD
        }]
    );
    assert!(w.position(a)["healthy"] == true);
    let r = w.one(a, withdraw(ETH, 100 * WAD, &[ETH, USDC]));
    assert_eq!(
        lend_failure(&r),
        LendError::InsufficientSupply {
            asset: ETH,
            requested: 100 * WAD,
            available: 6 * WAD
        }
    );
    let r = w.one(user(1), withdraw(ETH, 1, &[USDC]));
    assert_eq!(
        lend_failure(&r),
        LendError::InsufficientSupply {
            asset: ETH,
            requested: 1,
            available: 0
        }
    );
    // Cash lent out cannot be withdrawn.
    let r = w.one(user(1), withdraw(USDC, 1_000_000 * 1_000_000, &[USDC]));
    assert!(matches!(
        lend_failure(&r),
        LendError::InsufficientCash { .. }
    ));
}

// ---------------------------------------------------------------- repay

#[test]
fn repaying_more_than_owed_takes_only_the_debt_and_anyone_may_repay() {
    let mut w = World::with_markets(3);
    let (a, friend) = (user(0), user(1));
    ok(&w.one(user(2), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(a, supply(ETH, 10 * WAD)));
    ok(&w.one(a, borrow(USDC, 1_000 * 1_000_000, &[ETH])));
    w.advance(50);
    let debt = num(&w.position(a)["positions"][1]["debt"]);
    assert!(debt > 1_000 * 1_000_000, "interest accrued: {debt}");

    // The friend repays part on a's behalf.
    let r = w.one(friend, repay(USDC, 400 * 1_000_000, addr(a)));
    ok(&r);
    let remaining = match lend_events(&r).as_slice() {
        [
            LendEvent::Repaid {
                payer,
                borrower,
                amount,
                debt,
                ..
            },
        ] => {
            assert_eq!(
                (*payer, *borrower, *amount),
                (addr(friend), addr(a), 400 * 1_000_000)
            );
            *debt
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(w.balance(friend, USDC), USDC_EACH - 400 * 1_000_000);
    // a repays far more than it owes: only the debt (accrued one more block) is taken.
    let before = w.balance(a, USDC);
    let r = w.one(a, repay(USDC, 1_000_000 * 1_000_000, addr(a)));
    ok(&r);
    let paid = match lend_events(&r).as_slice() {
        [
            LendEvent::Repaid {
                amount, debt: 0, ..
            },
        ] => *amount,
        other => panic!("{other:?}"),
    };
    assert!(
        paid >= remaining && paid < remaining + 1_000_000,
        "{paid} vs {remaining}"
    );
    assert_eq!(w.balance(a, USDC), before - paid);
    assert_eq!(w.markets_of(a), vec![ETH]);
    let r = w.one(a, repay(USDC, 1, addr(a)));
    assert_eq!(
        lend_failure(&r),
        LendError::NoDebt {
            asset: USDC,
            borrower: addr(a)
        }
    );
    // Every borrow repaid: the aggregate is back to zero.
    assert_eq!(num(&w.market(USDC)["borrows"]), 0);
}

// ---------------------------------------------------------------- interest vectors

/// The README's formulas, step by step: U = B/(C+B-R), kinked rate, index
/// growth index*rate*blocks at each accrual, debt = principal*index/index_at_borrow.
#[test]
fn interest_follows_the_reference_formulas() {
    let mut w = World::with_markets(2);
    let p = params(80);
    let created = 100; // the markets' creation block
    let seeded_at = w.seeded_at.unwrap();
    let supplied_at = w.height;
    ok(&w.one(user(0), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(user(1), supply(ETH, 1_000 * WAD)));
    let borrowed_at = w.height;
    let borrowed = 700_000 * 1_000_000u128;
    ok(&w.one(user(1), borrow(USDC, borrowed, &[ETH])));

    let rate = |u: u128| {
        if u <= p.kink {
            p.base_rate + u * p.multiplier / WAD
        } else {
            p.base_rate + p.kink * p.multiplier / WAD + (u - p.kink) * p.jump_multiplier / WAD
        }
    };
    let grow = |index: u128, rate: u128, blocks: u64| {
        index + mul_div_floor(index, rate * blocks as u128, WAD).unwrap()
    };
    // Accrued on each touch: the seed, the supply, the borrow; without
    // borrows the index grows at the base rate.
    let mut index = grow(WAD, rate(0), seeded_at - created);
    index = grow(index, rate(0), supplied_at - seeded_at);
    index = grow(index, rate(0), borrowed_at - supplied_at);
    let at_borrow = index;
    let cash = SEED + 1_000_000 * 1_000_000 - borrowed;
    let u = borrowed * WAD / (cash + borrowed);
    let m = w.market(USDC);
    assert_eq!(num(&m["utilization"]), u);
    assert_eq!(num(&m["borrow_rate_per_block"]), rate(u));
    assert_eq!(num(&m["borrow_index"]), at_borrow);

    w.advance(1_000);
    let elapsed = w.height - 1 - borrowed_at;
    let index = grow(at_borrow, rate(u), elapsed);
    let m = w.market(USDC);
    assert_eq!(num(&m["borrow_index"]), index);
    let expected_borrows = mul_div_floor(borrowed, index, at_borrow).unwrap();
    assert_eq!(num(&m["borrows"]), expected_borrows);
    let interest = expected_borrows - borrowed;
    assert_eq!(num(&m["reserves"]), interest / 10);
    let debt = mul_div_ceil(borrowed, index, at_borrow).unwrap();
    assert_eq!(num(&w.position(user(1))["positions"][1]["debt"]), debt);
    // The supplier's claim grew by the interest net of reserves.
    let claim = num(&w.position(user(0))["positions"][0]["supplied"]);
    let underlying = cash + expected_borrows - interest / 10;
    let total_shares = SEED + 1_000_000 * 1_000_000;
    assert_eq!(
        claim,
        mul_div_floor(1_000_000 * 1_000_000, underlying, total_shares).unwrap()
    );
    assert!(claim > 1_000_000 * 1_000_000);

    // Above the kink: borrow 200k more (U near 90%), at fresh prices.
    w.prices(usd(1), usd(2_000), usd(30_000));
    let markets = w.markets_of(user(1));
    ok(&w.one(user(1), borrow(USDC, 200_000 * 1_000_000, &markets)));
    let m = w.market(USDC);
    let u = num(&m["utilization"]);
    assert!(u > p.kink);
    let expected =
        p.base_rate + p.kink * p.multiplier / WAD + (u - p.kink) * p.jump_multiplier / WAD;
    assert_eq!(num(&m["borrow_rate_per_block"]), expected);
    // Supply rate: U * rate * (1 - reserve factor).
    let kept = expected * (WAD - p.reserve_factor) / WAD;
    assert_eq!(num(&m["supply_rate_per_block"]), u * kept / WAD);
}

// ---------------------------------------------------------------- liquidation

#[test]
fn healthy_accounts_cannot_be_liquidated() {
    let mut w = World::with_markets(3);
    let (a, liquidator) = (user(0), user(1));
    ok(&w.one(user(2), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(a, supply(ETH, 10 * WAD)));
    ok(&w.one(a, borrow(USDC, 10_000 * 1_000_000, &[ETH])));
    let r = w.one(
        liquidator,
        liquidate(addr(a), USDC, 1_000_000, ETH, &[ETH, USDC]),
    );
    match lend_failure(&r) {
        LendError::HealthyAccount {
            borrower,
            debt_value,
            borrow_capacity,
        } => {
            assert_eq!(borrower, addr(a));
            assert!(debt_value > usd(10_000) && debt_value < usd(10_001));
            assert_eq!(borrow_capacity, usd(15_000));
        }
        other => panic!("{other:?}"),
    }
    let r = w.one(a, liquidate(addr(a), USDC, 1_000_000, ETH, &[ETH, USDC]));
    assert_eq!(lend_failure(&r), LendError::SelfLiquidation {});
    // Stale prices refuse liquidation too.
    w.advance(MAX_AGE + 1);
    let r = w.one(
        liquidator,
        liquidate(addr(a), USDC, 1_000_000, ETH, &[ETH, USDC]),
    );
    assert!(failure(&r).to_string().contains("stale price"));
}

#[test]
fn liquidation_repays_up_to_the_close_factor_and_seizes_with_the_incentive() {
    let mut w = World::with_markets(3);
    let (a, liquidator) = (user(0), user(1));
    ok(&w.one(user(2), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(a, supply(ETH, 10 * WAD)));
    ok(&w.one(a, borrow(USDC, 15_000 * 1_000_000, &[ETH])));
    // ETH falls to $1800: capacity 10 * 1800 * 0.75 = $13,500 < $15,000.
    w.prices(usd(1), usd(1_800), usd(30_000));
    let p = w.position(a);
    assert_eq!(p["healthy"], false);
    let debt = num(&p["positions"][1]["debt"]);
    assert!(debt >= 15_000 * 1_000_000);

    // Asking for everything repays only the close factor (50%, rounded up).
    let max_close = mul_div_ceil(debt, WAD / 2, WAD).unwrap();
    let markets = w.markets_of(a);
    let liquidator_usdc = w.balance(liquidator, USDC);
    let r = w.one(
        liquidator,
        liquidate(addr(a), USDC, u128::MAX / 2, ETH, &markets),
    );
    ok(&r);
    let ev = lend_events(&r);
    let [
        LendEvent::Liquidated {
            repaid,
            seized_shares,
            seized_amount,
            ..
        },
    ] = ev.as_slice()
    else {
        panic!("{ev:?}")
    };
    // The debt accrued one more block before the liquidation.
    assert!(
        *repaid >= max_close && *repaid <= max_close + 100_000,
        "{repaid} vs {max_close}"
    );
    // Seized: repaid * $1 * 1.08 / $1800 in ETH (18 decimals), rounded down.
    let value = mul_div_floor(*repaid, usd(1), 1_000_000).unwrap();
    let bonus = mul_div_floor(value, WAD / 100 * 108, WAD).unwrap();
    let expected = mul_div_floor(bonus, WAD, usd(1_800)).unwrap();
    // Exchange rate of ETH is 1 (no ETH borrows), so shares == amount.
    assert_eq!(*seized_amount, expected);
    assert_eq!(*seized_shares, expected);
    assert_eq!(w.balance(liquidator, USDC), liquidator_usdc - repaid);
    let lp = w.position(liquidator);
    assert_eq!(num(&lp["positions"][0]["shares"]), expected);
    let p = w.position(a);
    assert_eq!(num(&p["positions"][0]["shares"]), 10 * WAD - expected);
    // The liquidator can withdraw the seized collateral.
    ok(&w.one(liquidator, withdraw(ETH, u128::MAX, &[ETH])));
    assert_eq!(w.balance(liquidator, ETH), ETH_EACH + expected);
}

#[test]
fn bad_debt_is_written_off_against_reserves_then_suppliers() {
    let mut w = World::with_markets(3);
    let (a, liquidator, lender) = (user(0), user(1), user(2));
    ok(&w.one(lender, supply(USDC, 100_000 * 1_000_000)));
    ok(&w.one(a, supply(ETH, 10 * WAD)));
    ok(&w.one(a, borrow(USDC, 15_000 * 1_000_000, &[ETH])));
    // Let reserves build up a little.
    w.advance(500);
    w.prices(usd(1), usd(2_000), usd(30_000));
    // ETH crashes to $500: collateral $5,000 (weighted $3,750) vs ~$15,100 debt.
    w.prices(usd(1), usd(500), usd(30_000));
    let before = w.market(USDC);
    let reserves_before = num(&before["reserves"]);
    assert!(reserves_before > 0);
    let rate_before = num(&before["exchange_rate"]);

    let markets = w.markets_of(a);
    let r = w.one(
        liquidator,
        liquidate(addr(a), USDC, u128::MAX / 2, ETH, &markets),
    );
    ok(&r);
    let ev = lend_events(&r);
    let (repaid, seized) = match &ev[0] {
        LendEvent::Liquidated {
            repaid,
            seized_shares,
            ..
        } => (*repaid, *seized_shares),
        other => panic!("{other:?}"),
    };
    // All the collateral went (the close factor would buy more), for what
    // it is worth net of the incentive: 10 ETH * $500 / 1.08 in USDC,
    // rounded up.
    assert_eq!(seized, 10 * WAD);
    let expected_repay = {
        let value = mul_div_ceil(10 * WAD, usd(500), WAD).unwrap();
        let without = mul_div_ceil(value, WAD, WAD / 100 * 108).unwrap();
        mul_div_ceil(without, 1_000_000, usd(1)).unwrap()
    };
    assert_eq!(repaid, expected_repay);
    let LendEvent::BadDebt {
        borrower,
        asset,
        amount,
        from_reserves,
        socialized,
    } = &ev[1]
    else {
        panic!("{ev:?}")
    };
    assert_eq!((*borrower, *asset), (addr(a), USDC));
    // Reserves (grown by one more block) absorbed the first part.
    assert!(*from_reserves >= reserves_before && *from_reserves < *amount);
    // The rest went to suppliers (up to a unit of rounding between the
    // aggregate and the rounded-up debt).
    assert!(*amount - (*from_reserves + *socialized) <= 1);
    assert!(*socialized > 0);
    assert_eq!(ev.len(), 2);
    // The market's running total of bad debt (what cover products watch).
    let total = match w
        .state
        .get(&lakh_execution::modules::lend::bad_debt_key(USDC))
    {
        Some(StateValue::Object(b)) => {
            <lakh_execution::modules::lend::BadDebtTotal as commonware_codec::Decode>::decode_cfg(
                b.clone(),
                &(),
            )
            .unwrap()
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(total.written_off, *amount);
    // The account is empty; suppliers took the loss through the exchange rate.
    assert!(w.position(a)["positions"].as_array().unwrap().is_empty());
    let after = w.market(USDC);
    assert_eq!(num(&after["reserves"]), 0);
    assert_eq!(num(&after["borrows"]), 0);
    assert!(num(&after["exchange_rate"]) < rate_before);
    // The lender can still withdraw everything it is owed (cash covers it).
    ok(&w.one(lender, withdraw(USDC, u128::MAX, &[USDC])));
    let m = w.market(USDC);
    assert_eq!(num(&m["total_shares"]), SEED);
    assert_eq!(num(&m["cash"]), num(&m["supplied"]));
}

#[test]
fn liquidation_failure_paths() {
    let mut w = World::with_markets(4);
    let (a, liquidator, broke) = (user(0), user(1), user(3));
    ok(&w.one(user(2), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(a, supply(ETH, 10 * WAD)));
    ok(&w.one(a, borrow(USDC, 15_000 * 1_000_000, &[ETH])));
    w.prices(usd(1), usd(1_000), usd(30_000));
    let markets = w.markets_of(a);
    // No debt in WBTC, no collateral in WBTC.
    let r = w.one(liquidator, liquidate(addr(a), WBTC, 1_000, ETH, &markets));
    assert_eq!(
        lend_failure(&r),
        LendError::NoDebt {
            asset: WBTC,
            borrower: addr(a)
        }
    );
    let r = w.one(liquidator, liquidate(addr(a), USDC, 1_000, WBTC, &markets));
    assert_eq!(
        lend_failure(&r),
        LendError::NoCollateral {
            borrower: addr(a),
            asset: WBTC
        }
    );
    // A liquidator without the repay asset.
    ok(&w.one(
        broke,
        Action::Transfer(TransferEntry {
            to: addr(8),
            asset: USDC,
            amount: USDC_EACH,
        }),
    ));
    let r = w.one(broke, liquidate(addr(a), USDC, 1_000_000, ETH, &markets));
    assert!(matches!(
        failure(&r),
        FailureReason::InsufficientBalance { .. }
    ));
    // Nothing changed for the borrower.
    assert_eq!(num(&w.position(a)["positions"][0]["shares"]), 10 * WAD);
}

#[test]
fn tiny_repayments_that_seize_nothing_are_refused() {
    let mut w = World::with_markets(3);
    let (a, liquidator) = (user(0), user(1));
    ok(&w.one(user(2), supply(USDC, 1_000_000 * 1_000_000)));
    // 1 WBTC at $30,000, 70%: capacity $21,000.
    ok(&w.one(a, supply(WBTC, 100_000_000)));
    ok(&w.one(a, borrow(USDC, 20_000 * 1_000_000, &[WBTC])));
    w.prices(usd(1), usd(2_000), usd(25_000));
    let markets = w.markets_of(a);
    // One USDC base unit ($0.000001, $0.00000108 with the bonus) buys less
    // than one satoshi ($0.00025).
    let r = w.one(liquidator, liquidate(addr(a), USDC, 1, WBTC, &markets));
    assert_eq!(lend_failure(&r), LendError::SeizeTooSmall { repay: 1 });
    // One USDC buys 1.08 / 25,000 BTC = 4,320 satoshis.
    let r = w.one(
        liquidator,
        liquidate(addr(a), USDC, 1_000_000, WBTC, &markets),
    );
    ok(&r);
    assert!(matches!(
        lend_events(&r).as_slice(),
        [LendEvent::Liquidated {
            repaid: 1_000_000,
            seized_shares: 4_320,
            seized_amount: 4_320,
            ..
        }]
    ));
}

// ---------------------------------------------------------------- limits

#[test]
fn u128_limits_fail_cleanly() {
    let mut w = World::with_markets(2);
    let big = AssetId::derive(addr(user(0)).as_bytes(), 0);
    // An asset with the whole u128 range as supply.
    ok(&w.one(
        user(0),
        Action::CreateAsset {
            symbol: sym("BIG"),
            decimals: 0,
            max_supply: None,
            initial_supply: u128::MAX,
        },
    ));
    ok(&w.one(ADMIN, create(big, params(50))));
    ok(&w.one(
        ADMIN,
        Action::Oracle(OracleAction::SetFeed {
            asset: big,
            reporters: BoundedVec::new(vec![addr(REPORTER)]).unwrap(),
            max_age_blocks: MAX_AGE,
            min_reports: 1,
        }),
    ));
    ok(&w.one(REPORTER, post(big, u128::MAX)));
    ok(&w.one(user(1), supply(USDC, 1_000_000 * 1_000_000)));
    // The whole supply goes in.
    ok(&w.one(user(0), supply(big, u128::MAX)));
    assert_eq!(num(&w.market(big)["total_shares"]), u128::MAX);
    // Valuing u128::MAX units at u128::MAX per unit overflows: a clean failure.
    let r = w.one(user(0), borrow(USDC, 1, &[big]));
    assert_eq!(failure(&r), FailureReason::Overflow);
    let r = w.one(user(1), liquidate(addr(user(0)), USDC, 1, big, &[big]));
    assert_eq!(failure(&r), FailureReason::Overflow);
    // With a sane price the account borrows and the market still works.
    ok(&w.one(REPORTER, post(big, 1)));
    ok(&w.one(user(0), borrow(USDC, 1_000_000, &[big])));
    // The market's cash is at u128::MAX: one more unit overflows it.
    let r = w.one(user(1), supply(big, 1));
    assert_eq!(failure(&r), FailureReason::Overflow);
    // Parameters out of range are refused.
    let mut p = params(50);
    p.base_rate = u128::MAX;
    let r = w.one(ADMIN, create(ETH, p));
    assert!(matches!(failure(&r), FailureReason::Invalid { .. }));
}

#[test]
fn borrowing_nearly_everything_from_a_u128_market_then_accruing_fails_cleanly() {
    let mut w = World::with_markets(2);
    let big = AssetId::derive(addr(user(0)).as_bytes(), 0);
    ok(&w.one(
        user(0),
        Action::CreateAsset {
            symbol: sym("BIG"),
            decimals: 0,
            max_supply: None,
            initial_supply: u128::MAX,
        },
    ));
    ok(&w.one(ADMIN, create(big, params(50))));
    ok(&w.one(
        ADMIN,
        Action::Oracle(OracleAction::SetFeed {
            asset: big,
            reporters: BoundedVec::new(vec![addr(REPORTER)]).unwrap(),
            max_age_blocks: MAX_AGE,
            min_reports: 1,
        }),
    ));
    ok(&w.one(REPORTER, post(big, 1)));
    ok(&w.one(user(0), supply(big, u128::MAX)));
    ok(&w.one(user(1), supply(ETH, 1_000 * WAD)));
    // Half of BIG at 1e-18 quote units each is worth ~1.7e20 units: far
    // beyond 1000 ETH at $2000.
    let half = u128::MAX / 2;
    let r = w.one(user(1), borrow(big, half, &[ETH]));
    assert!(matches!(
        lend_failure(&r),
        LendError::Undercollateralized { .. }
    ));
    // At an absurd ETH price the collateral covers it (values still fit).
    let eth_price = u128::MAX / 1_300;
    ok(&w.one(REPORTER, post(ETH, eth_price)));
    ok(&w.one(user(1), borrow(big, half, &[ETH])));
    // Interest soon makes borrows + cash exceed u128: every touch of the
    // market fails with Overflow, cleanly, and nothing panics.
    w.advance(100_000);
    w.prices(usd(1), eth_price, usd(30_000));
    let r = w.one(user(1), repay(big, 1, addr(user(1))));
    assert_eq!(failure(&r), FailureReason::Overflow);
    let r = w.one(user(0), withdraw(big, 1, &[big]));
    assert_eq!(failure(&r), FailureReason::Overflow);
    let q = run_query(
        "lend",
        "market",
        &json!({ "asset": big }),
        w.height - 1,
        64,
        |k| Ok(w.state.get(k).cloned()),
    );
    assert!(q.is_err());
}

#[test]
fn an_account_has_at_most_eight_markets() {
    let mut w = World::new(1);
    let mut assets = Vec::new();
    for i in 0..9u64 {
        let nonce = w.nonces.get(&ADMIN).copied().unwrap_or(0);
        let id = AssetId::derive(addr(ADMIN).as_bytes(), nonce);
        assets.push(id);
        ok(&w.one(
            ADMIN,
            Action::CreateAsset {
                symbol: sym(&format!("TOK{i}")),
                decimals: 0,
                max_supply: None,
                initial_supply: 1_000_000,
            },
        ));
        ok(&w.one(ADMIN, create(id, params(50))));
    }
    for &a in &assets[..8] {
        ok(&w.one(ADMIN, supply(a, 10_000)));
    }
    let r = w.one(ADMIN, supply(assets[8], 10_000));
    assert_eq!(lend_failure(&r), LendError::TooManyPositions { max: 8 });
    assert_eq!(w.markets_of(ADMIN).len(), 8);
    assert_eq!(
        w.query("lend", "markets", json!({}))["markets"]
            .as_array()
            .unwrap()
            .len(),
        9
    );
}

// ---------------------------------------------------------------- reserves

#[test]
fn the_admin_withdraws_reserves_only() {
    let mut w = World::with_markets(2);
    ok(&w.one(user(0), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(user(1), supply(ETH, 100 * WAD)));
    ok(&w.one(user(1), borrow(USDC, 100_000 * 1_000_000, &[ETH])));
    w.advance(1_000);
    let r = w.one(
        user(0),
        Action::Lend(Box::new(LendAction::WithdrawReserves {
            asset: USDC,
            amount: 1,
            to: addr(user(0)),
        })),
    );
    assert!(matches!(failure(&r), FailureReason::NotAdmin { .. }));
    let reserves = num(&w.market(USDC)["reserves"]);
    assert!(reserves > 0);
    let r = w.one(
        ADMIN,
        Action::Lend(Box::new(LendAction::WithdrawReserves {
            asset: USDC,
            amount: reserves * 10,
            to: addr(8),
        })),
    );
    assert!(matches!(
        lend_failure(&r),
        LendError::InsufficientReserves { .. }
    ));
    let r = w.one(
        ADMIN,
        Action::Lend(Box::new(LendAction::WithdrawReserves {
            asset: USDC,
            amount: reserves,
            to: addr(8),
        })),
    );
    ok(&r);
    assert_eq!(w.balance(8, USDC), reserves);
    // The suppliers' claims are untouched by it.
    let m = w.market(USDC);
    assert!(num(&m["reserves"]) < reserves / 100 + 10);
    assert_eq!(num(&m["custody_balance"]), num(&m["cash"]));
}

// ---------------------------------------------------------------- access sets

#[test]
fn health_checks_read_other_markets_without_writing_them() {
    let mut w = World::with_markets(4);
    ok(&w.one(user(0), supply(USDC, 1_000_000 * 1_000_000)));
    ok(&w.one(user(1), supply(ETH, 100 * WAD)));
    ok(&w.one(user(2), supply(ETH, 100 * WAD)));
    ok(&w.one(user(3), supply(WBTC, 100_000_000)));
    // Two borrowers reading the ETH market and feed, in one block, with a
    // third action writing WBTC: they form independent groups.
    let txs = w.sign_all(vec![
        (user(1), borrow(USDC, 1_000 * 1_000_000, &[ETH])),
        (user(3), withdraw(WBTC, 1_000, &[WBTC])),
        (user(2), borrow(USDC, 2_000 * 1_000_000, &[ETH])),
    ]);
    let mut keys = Vec::new();
    lakh_execution::tx_access(&txs[0].tx, &mut |k| keys.push(k));
    assert!(keys.contains(&market_key(ETH)));
    let groups = lakh_execution::conflict_groups(&txs);
    // Both borrowers write USDC: one group; the WBTC withdrawal another.
    assert_eq!(groups.groups, 2);
    let before = w.state.get(&market_key(ETH)).cloned();
    w.execute(&txs).iter().for_each(ok);
    // The ETH market was read (virtually accrued), never written.
    assert_eq!(w.state.get(&market_key(ETH)).cloned(), before);
}

// ---------------------------------------------------------------- property test

/// One random step of the property test.
#[derive(Clone, Debug)]
enum Op {
    Supply {
        who: u64,
        asset: usize,
        amount: u128,
    },
    /// `None`: everything.
    Withdraw {
        who: u64,
        asset: usize,
        amount: Option<u128>,
    },
    /// `pct` percent of the account's remaining borrowing capacity (above
    /// 100 is refused).
    Borrow { who: u64, asset: usize, pct: u128 },
    /// For `whom`, or (`None`) for the first account from the sender on
    /// that owes something, in an asset it owes.
    Repay {
        who: u64,
        whom: Option<u64>,
        asset: usize,
        amount: u128,
    },
    /// `targeted`: the borrower is an unhealthy account, if there is one, and
    /// the assets are one it owes and one it supplied.
    Liquidate {
        who: u64,
        whom: u64,
        repay: usize,
        seize: usize,
        amount: u128,
        targeted: bool,
    },
    Donate {
        who: u64,
        asset: usize,
        amount: u128,
    },
    /// Moves one price to `pct` percent (5..=150) of what it was.
    Price { asset: usize, pct: u128 },
}

const USERS: u64 = 8;

fn base_amount(asset: usize) -> u128 {
    // About $100 of each asset.
    match asset {
        0 => 100 * 1_000_000,
        1 => WAD / 20,
        _ => 333_333,
    }
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..USERS;
    let asset = 0..3usize;
    let scale = 1u128..400;
    prop_oneof![
        2 => (who.clone(), asset.clone(), scale.clone())
            .prop_map(|(who, asset, k)| Op::Supply { who, asset, amount: k * base_amount(asset) }),
        2 => (who.clone(), asset.clone(), proptest::option::of(scale.clone()))
            .prop_map(|(who, asset, k)| Op::Withdraw { who, asset, amount: k.map(|k| k * base_amount(asset) / 2) }),
        4 => (who.clone(), asset.clone(), 1u128..=110)
            .prop_map(|(who, asset, pct)| Op::Borrow { who, asset, pct }),
        3 => (who.clone(), proptest::option::of(who.clone()), asset.clone(), scale.clone())
            .prop_map(|(who, whom, asset, k)| Op::Repay { who, whom, asset, amount: k * base_amount(asset) / 4 }),
        3 => (who.clone(), who.clone(), asset.clone(), asset.clone(), scale.clone(), prop::bool::weighted(0.75))
            .prop_map(|(who, whom, repay, seize, k, targeted)| Op::Liquidate { who, whom, repay, seize, amount: k * base_amount(repay), targeted }),
        1 => (who, asset.clone(), 1u128..1_000_000)
            .prop_map(|(who, asset, amount)| Op::Donate { who, asset, amount }),
        4 => (asset, 5u128..=150).prop_map(|(asset, pct)| Op::Price { asset, pct }),
    ]
}

/// Every user's first supply of each asset (scales of `base_amount`), then
/// blocks of ops, each followed by a number of empty blocks.
#[allow(clippy::type_complexity)]
fn scenario() -> impl Strategy<Value = (Vec<u128>, Vec<(Vec<Op>, u64)>)> {
    (
        proptest::collection::vec(prop_oneof![Just(0u128), 1u128..400], (USERS * 3) as usize),
        proptest::collection::vec((proptest::collection::vec(op(), 1..16), 0u64..300), 1..8),
    )
}

struct Model {
    prices: [u128; 3],
    donated: [u128; 3],
}

impl World {
    fn action(&self, model: &mut Model, op: &Op) -> (u64, Action) {
        let asset = |i: usize| ASSETS[i].0;
        match *op {
            Op::Supply {
                who,
                asset: i,
                amount,
            } => (user(who), supply(asset(i), amount)),
            Op::Withdraw {
                who,
                asset: i,
                amount,
            } => {
                let m = self.markets_of(user(who));
                (
                    user(who),
                    withdraw(asset(i), amount.unwrap_or(u128::MAX), &m),
                )
            }
            Op::Borrow { who, asset: i, pct } => {
                let p = self.position(user(who));
                let price = self.query("oracle", "price", json!({ "asset": asset(i) }));
                let amount = match (p["borrow_capacity_left"].as_str(), price["price"].as_str()) {
                    (Some(cap), Some(price)) => {
                        let unit = 10u128.pow(ASSETS[i].2 as u32);
                        let value = cap.parse::<u128>().unwrap() / 100 * pct;
                        mul_div_floor(value, unit, price.parse().unwrap())
                            .unwrap()
                            .max(1)
                    }
                    _ => base_amount(i),
                };
                let m = p["markets"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| AssetId(v.as_u64().unwrap()))
                    .collect::<Vec<_>>();
                (user(who), borrow(asset(i), amount, &m))
            }
            Op::Repay {
                who,
                whom: Some(whom),
                asset: i,
                amount,
            } => (user(who), repay(asset(i), amount, addr(user(whom)))),
            Op::Repay {
                who,
                whom: None,
                asset: i,
                amount,
            } => {
                let owing = (0..USERS).map(|k| user((who + k) % USERS)).find_map(|u| {
                    let p = self.position(u);
                    let rows = p["positions"].as_array().unwrap();
                    rows.iter()
                        .find(|r| num(&r["debt"]) > 0)
                        .map(|r| (u, AssetId(r["asset"].as_u64().unwrap())))
                });
                let (whom, asset) = owing.unwrap_or((user(who), asset(i)));
                (user(who), repay(asset, amount, addr(whom)))
            }
            Op::Liquidate {
                who,
                whom,
                repay,
                seize,
                amount,
                targeted,
            } => {
                let (mut whom, mut repay, mut seize) = (user(whom), asset(repay), asset(seize));
                if targeted {
                    let victim = (0..USERS)
                        .map(|k| user((whom + k) % USERS))
                        .find(|u| *u != user(who) && self.position(*u)["healthy"] == false);
                    if let Some(v) = victim {
                        whom = v;
                        let p = self.position(v);
                        let rows = p["positions"].as_array().unwrap();
                        let pick = |field: &str| {
                            rows.iter()
                                .find(|r| num(&r[field]) > 0)
                                .map(|r| AssetId(r["asset"].as_u64().unwrap()))
                        };
                        repay = pick("debt").unwrap_or(repay);
                        seize = pick("shares").unwrap_or(seize);
                    }
                }
                let m = self.markets_of(whom);
                (user(who), liquidate(addr(whom), repay, amount, seize, &m))
            }
            Op::Donate {
                who,
                asset: i,
                amount,
            } => {
                model.donated[i] += amount;
                (user(who), donate(asset(i), amount))
            }
            Op::Price { asset: i, pct } => {
                model.prices[i] = (model.prices[i] * pct / 100).max(1);
                (REPORTER, post(asset(i), model.prices[i]))
            }
        }
    }

    /// An account's (weighted collateral, debt) valued independently from
    /// the raw market and position numbers and the oracle price; `None` when
    /// a needed price is unavailable.
    fn health(&self, seed: u64) -> Option<(u128, u128)> {
        let p = self.position(seed);
        let rows = p["positions"].as_array().unwrap();
        if rows.iter().all(|r| num(&r["principal"]) == 0) {
            return Some((0, 0));
        }
        let (mut collateral, mut debt) = (0u128, 0u128);
        for row in p["positions"].as_array().unwrap() {
            let asset = AssetId(row["asset"].as_u64().unwrap());
            let m = self.market(asset);
            let shares = num(&row["shares"]);
            let underlying = num(&m["cash"]) + num(&m["borrows"]) - num(&m["reserves"]);
            let claim = if shares == 0 {
                0
            } else {
                mul_div_floor(shares, underlying, num(&m["total_shares"])).unwrap()
            };
            let principal = num(&row["principal"]);
            let owed = if principal == 0 {
                0
            } else {
                mul_div_ceil(principal, num(&m["borrow_index"]), num(&row["index"])).unwrap()
            };
            let cf = num(&m["params"]["collateral_factor"]);
            if owed == 0 && (claim == 0 || cf == 0) {
                continue;
            }
            let price = self.query("oracle", "price", json!({ "asset": asset }));
            if price["status"] != "ok" {
                return None;
            }
            let price = num(&price["price"]);
            let unit = 10u128.pow(m["decimals"].as_u64().unwrap() as u32);
            let value = mul_div_floor(claim, price, unit).unwrap();
            collateral += mul_div_floor(value, cf, WAD).unwrap();
            debt += mul_div_ceil(owed, price, unit).unwrap();
        }
        Some((collateral, debt))
    }

    /// The module's invariants over the whole state.
    fn check_markets(&self, model: &Model) {
        let users: Vec<u64> = std::iter::once(ADMIN).chain((0..USERS).map(user)).collect();
        for (i, (asset, _, _)) in ASSETS.iter().enumerate() {
            let m = self.market(*asset);
            let (cash, borrows, reserves) =
                (num(&m["cash"]), num(&m["borrows"]), num(&m["reserves"]));
            let total_shares = num(&m["total_shares"]);
            // Tracked cash is exactly what was not donated.
            assert_eq!(
                num(&m["custody_balance"]),
                cash + model.donated[i],
                "custody of {asset}"
            );
            assert!(reserves <= cash + borrows, "reserves exceed cash + borrows");
            let underlying = cash + borrows - reserves;
            let (mut shares, mut claims, mut debts) = (0u128, 0u128, 0u128);
            for &u in &users {
                let p = self.position(u);
                for row in p["positions"].as_array().unwrap() {
                    if row["asset"] != json!(asset.0) {
                        continue;
                    }
                    assert!(
                        num(&row["shares"]) > 0 || num(&row["principal"]) > 0,
                        "empty position kept"
                    );
                    shares += num(&row["shares"]);
                    claims += num(&row["supplied"]);
                    debts += num(&row["debt"]);
                }
            }
            // Shares: every one is owned, plus the locked ones.
            let locked = if total_shares == 0 { 0 } else { LOCKED_SHARES };
            assert_eq!(shares + locked, total_shares, "shares of {asset}");
            // Borrows never exceed what borrowers owe (rounding in the protocol's favour)...
            assert!(borrows <= debts, "borrows {borrows} above debts {debts}");
            // ...so suppliers' claims are covered by cash plus what is owed, net of reserves.
            assert!(claims <= underlying, "claims {claims} above {underlying}");
            assert!(claims <= cash + debts - reserves);
        }
    }
}

/// Which user (or admin/reporter) signed a receipt.
fn seed_of(sender: &Address) -> u64 {
    std::iter::once(ADMIN)
        .chain(std::iter::once(REPORTER))
        .chain((0..USERS).map(user))
        .find(|s| addr(*s) == *sender)
        .expect("known sender")
}

fn healthy(h: Option<(u128, u128)>) -> Option<bool> {
    h.map(|(collateral, debt)| debt <= collateral)
}

#[test]
fn random_sequences_keep_markets_solvent_and_accounts_healthy() {
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    // Successes per action kind over every case, to show the test reaches them.
    let stats = std::cell::RefCell::new(BTreeMap::<&'static str, (u32, u32)>::new());
    let failures = std::cell::RefCell::new(BTreeMap::<String, u32>::new());
    runner
        .run(&scenario(), |(first, steps)| {
            let mut w = World::with_markets(USERS);
            let mut model = Model {
                prices: [usd(1), usd(2_000), usd(30_000)],
                donated: [0; 3],
            };
            let supplies = first
                .iter()
                .enumerate()
                .filter(|(_, k)| **k > 0)
                .map(|(n, k)| {
                    let i = n % 3;
                    (user(n as u64 / 3), supply(ASSETS[i].0, k * base_amount(i)))
                })
                .collect();
            w.block(supplies).iter().for_each(ok);
            for (ops, idle) in steps {
                // Build the block from the state before it (as a wallet would).
                let txs: Vec<(u64, Action)> =
                    ops.iter().map(|op| w.action(&mut model, op)).collect();
                let signed = w.sign_all(txs);

                // Tx by tx at the block's height, checking each account's
                // health around its own action.
                let mut stepwise = World {
                    state: w.state.clone(),
                    native: w.native,
                    height: w.height,
                    nonces: BTreeMap::new(),
                    seeded_at: None,
                };
                for tx in &signed {
                    let sender = seed_of(&tx.tx.sender_address());
                    // Queries as of this block's height.
                    stepwise.height += 1;
                    let before = healthy(stepwise.health(sender));
                    let victim = match &tx.tx.action {
                        Action::Lend(lend) => match &**lend {
                            LendAction::Liquidate { borrower, .. } => {
                                Some(healthy(stepwise.health(seed_of(borrower))))
                            }
                            _ => None,
                        },
                        _ => None,
                    };
                    stepwise.height -= 1;
                    let r = stepwise.execute(std::slice::from_ref(tx));
                    let kind = match &tx.tx.action {
                        Action::Lend(a) => a.variant_name(),
                        Action::Oracle(_) => "Post",
                        _ => "Donate",
                    };
                    let mut st = stats.borrow_mut();
                    let entry = st.entry(kind).or_default();
                    entry.1 += 1;
                    if let TxStatus::Failed { error } = &r[0].status {
                        let code = match error {
                            FailureReason::Lend(e) => serde_json::to_value(e).unwrap()["code"]
                                .as_str()
                                .unwrap()
                                .to_string(),
                            other => format!("{other:?}").chars().take(20).collect(),
                        };
                        *failures
                            .borrow_mut()
                            .entry(format!("{kind}:{code}"))
                            .or_insert(0u32) += 1;
                        stepwise.height -= 1;
                        continue;
                    }
                    entry.0 += 1;
                    if r[0]
                        .events
                        .iter()
                        .any(|e| matches!(e, Event::Lend(LendEvent::BadDebt { .. })))
                    {
                        st.entry("BadDebt").or_default().0 += 1;
                    }
                    drop(st);
                    let after = healthy(stepwise.health(sender));
                    stepwise.height -= 1;
                    match &tx.tx.action {
                        Action::Lend(lend)
                            if matches!(
                                **lend,
                                LendAction::Borrow { .. } | LendAction::Withdraw { .. }
                            ) =>
                        {
                            prop_assert_eq!(
                                after,
                                Some(true),
                                "{} left unhealthy by its own action",
                                sender
                            );
                        }
                        Action::Lend(_) if before == Some(true) => {
                            prop_assert_ne!(
                                after,
                                Some(false),
                                "{} made unhealthy by its own action",
                                sender
                            );
                        }
                        _ => {}
                    }
                    if let Some(victim) = victim {
                        prop_assert_eq!(victim, Some(false), "a healthy account was liquidated");
                    }
                }
                // The whole block, sequential and parallel (checked inside),
                // gives exactly the tx-by-tx result.
                w.execute(&signed);
                prop_assert_eq!(&w.state, &stepwise.state);
                w.check_markets(&model);
                w.advance(idle);
                // Prices stay fresh across idle stretches.
                if idle > 0 {
                    let p = model.prices;
                    w.prices(p[0], p[1], p[2]);
                }
            }
            Ok(())
        })
        .unwrap();
    let stats = stats.into_inner();
    eprintln!("successes / attempts: {stats:?}");
    eprintln!("failures: {:?}", failures.into_inner());
    for kind in ["Supply", "Withdraw", "Borrow", "Repay", "Liquidate"] {
        assert!(
            stats.get(kind).is_some_and(|s| s.0 > 0),
            "no successful {kind}: {stats:?}"
        );
    }
}
