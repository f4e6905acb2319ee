//! Parametric cover through real blocks: triggers evaluated at the end of
//! each block (oracle depeg, bad debt, pool loss), payouts to every eligible
//! holder exactly once in bounded batches, the cooldown, manipulation that
//! must not fire, and a property test over random purchases and prices.
//! Every block runs sequentially and in parallel and must agree.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use commonware_codec::{Decode, Encode, Read};
use lakh_execution::modules::cover::keys;
use lakh_execution::modules::{dex, lend};
use lakh_execution::{BlockEnv, BlockOutcome, Mode, execute_block, execute_block_parallel};
use lakh_state::{StateKey, StateValue};
use lakh_types::codec::{BoundedVec, Text};
use lakh_types::modules::cover::parametric::MAX_HOLDINGS;
use lakh_types::modules::cover::*;
use lakh_types::modules::oracle::OracleAction;
use lakh_types::{Action, AssetId, Event, Receipt, TransferEntry, TxStatus, fees::required_fee};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::{BTreeMap, BTreeSet};
use std::num::NonZeroUsize;

const ADMIN: u64 = 0;
const POOL: PoolId = 1;
const DEPEG: ProductId = 0;
/// The priced asset standing in for a stablecoin.
const USD: AssetId = CAPPED;
/// Reporters of the USD feed.
const REPORTERS: [u64; 3] = [4, 5, 6];
/// Buyers.
const BUYERS: [u64; 4] = [1, 2, 3, 10];
const ONE: u128 = 1_000_000_000_000_000_000;
const START_GOLD: u128 = 1_000_000_000;
/// Capital the provider (account 0) puts in.
const CAPITAL: u128 = 500_000;

fn name(s: &str) -> RiskName {
    Text::new(s).unwrap()
}

fn pool_params() -> PoolParams {
    PoolParams {
        capital_asset: GOLD,
        stake_asset: GOLD,
        capacity_bps: 8_000,
        base_rate: WAD / 10_000,
        slope_rate: WAD / 1_000,
        voting_period_blocks: 10,
        quorum: 1_000,
        min_period_blocks: 5,
        max_period_blocks: 100,
        risks: BoundedVec::new(vec![name("other")]).unwrap(),
    }
}

/// Depeg cover: USD median below 0.95 for `blocks` blocks pays in full.
fn depeg(blocks: u64, cooldown_blocks: u64, batch: u32) -> ProductParams {
    ProductParams {
        pool: POOL,
        asset: GOLD,
        name: name("depeg:USD"),
        trigger: Trigger::Price {
            asset: USD,
            threshold: ONE * 95 / 100,
            above: false,
            blocks,
            reference: ONE,
        },
        proportional: false,
        cooldown_blocks,
        batch,
        min_amount: 1,
    }
}

struct Chain {
    state: State,
    height: u64,
    /// Every end-of-block event so far, with its height.
    block_events: Vec<(u64, CoverEvent)>,
}

impl Chain {
    /// Pool 1 with `CAPITAL` of GOLD, the USD feed (3 reporters, 2 fresh
    /// reports needed, 3 blocks of freshness) and `product` in slot 0.
    fn new(product: ProductParams) -> Chain {
        let mut chain = Chain {
            state: genesis_state(),
            height: 1,
            block_events: Vec::new(),
        };
        let mut setup: Vec<(u64, Action)> = BUYERS
            .iter()
            .map(|&b| {
                let mint = Action::Mint {
                    asset: GOLD,
                    to: addr(b),
                    amount: START_GOLD,
                };
                (ADMIN, mint)
            })
            .collect();
        setup.push((
            ADMIN,
            Action::Transfer(TransferEntry {
                to: addr(10),
                asset: AssetId::NATIVE,
                amount: 10_000_000,
            }),
        ));
        setup.push((
            ADMIN,
            Action::Oracle(OracleAction::SetFeed {
                asset: USD,
                reporters: BoundedVec::new(REPORTERS.iter().map(|s| addr(*s)).collect()).unwrap(),
                max_age_blocks: 3,
                min_reports: 2,
            }),
        ));
        let create = CoverAction::CreatePool {
            pool: POOL,
            params: pool_params(),
        };
        setup.push((ADMIN, Action::Cover(Box::new(create))));
        let provide = CoverAction::Provide {
            pool: POOL,
            asset: GOLD,
            amount: CAPITAL,
            min_shares: 0,
        };
        setup.push((ADMIN, Action::Cover(Box::new(provide))));
        let product = CoverAction::CreateProduct {
            product: DEPEG,
            params: product,
        };
        setup.push((ADMIN, Action::Cover(Box::new(product))));
        for r in chain.block(setup) {
            assert!(r.status.is_success(), "{r:?}");
        }
        chain
    }

    fn block(&mut self, txs: Vec<(u64, Action)>) -> Vec<Receipt> {
        let (outcome, changes) = run_both(&self.state, self.height, &txs);
        commit(&mut self.state, &changes);
        check_invariants(&self.state, native_total());
        check_ledger(&self.state);
        for e in outcome.block_events {
            if let Event::Cover(c) = e {
                self.block_events.push((self.height, c));
            }
        }
        self.height += 1;
        outcome.receipts
    }

    fn empty(&mut self, blocks: u64) {
        for _ in 0..blocks {
            self.block(Vec::new());
        }
    }

    /// Every reporter in `seeds` posts `price` in one block.
    fn post(&mut self, seeds: &[u64], price: u128) {
        let txs = seeds
            .iter()
            .map(|&s| (s, Action::Oracle(OracleAction::Post { asset: USD, price })))
            .collect();
        for r in self.block(txs) {
            assert!(r.status.is_success(), "{r:?}");
        }
    }

    /// `seed` buys `amount` of product cover for `blocks` blocks; returns its id.
    fn buy(&mut self, seed: u64, amount: u128, blocks: u64) -> CoverId {
        let id = cover_id(&addr(seed), nonce(&self.state, &addr(seed)));
        let r = self.block(vec![(seed, buy(amount, blocks))]).remove(0);
        assert_eq!(r.status, TxStatus::Success, "{r:?}");
        id
    }

    fn object<T: Read<Cfg = ()>>(&self, key: &StateKey) -> Option<T> {
        object(&self.state, key)
    }

    fn product(&self) -> Product {
        self.object(&keys::product(DEPEG)).unwrap()
    }

    fn capital(&self) -> u128 {
        self.object::<PoolState>(&keys::state(POOL))
            .unwrap()
            .capital
    }

    fn fired(&self) -> Vec<u64> {
        self.block_events
            .iter()
            .filter(|(_, e)| matches!(e, CoverEvent::TriggerFired { .. }))
            .map(|(h, _)| *h)
            .collect()
    }

    /// (height, cover, amount) of every payout so far.
    fn paid(&self) -> Vec<(u64, CoverId, u128)> {
        self.block_events
            .iter()
            .filter_map(|(h, e)| match e {
                CoverEvent::ParametricPaid { cover, amount, .. } => Some((*h, *cover, *amount)),
                _ => None,
            })
            .collect()
    }

    fn gold(&self, seed: u64) -> u128 {
        balance(&self.state, &addr(seed), GOLD)
    }
}

fn object<T: Read<Cfg = ()>>(state: &State, key: &StateKey) -> Option<T> {
    match state.get(key) {
        Some(StateValue::Object(b)) => Some(T::decode_cfg(b.clone(), &()).unwrap()),
        None => None,
        other => panic!("not an object: {other:?}"),
    }
}

fn buy(amount: u128, blocks: u64) -> Action {
    Action::Cover(Box::new(CoverAction::BuyProduct {
        product: DEPEG,
        pool: POOL,
        asset: GOLD,
        amount,
        blocks,
        max_premium: u128::MAX,
    }))
}

/// The pool's capital equals its custody balance, and what its product
/// holdings are owed and not yet paid stays reserved in the pending claims.
fn check_ledger(state: &State) {
    let Some(ledger) = object::<PoolState>(state, &keys::state(POOL)) else {
        return;
    };
    assert_eq!(ledger.capital, balance(state, &capital_custody(POOL), GOLD));
    let owed: u128 = (0..MAX_PRODUCTS)
        .filter_map(|id| object::<Product>(state, &keys::product(id)))
        .flat_map(|p| p.holdings.into_inner())
        .filter(Holding::unpaid)
        .map(|h| h.owed)
        .sum();
    assert!(owed <= ledger.pending_claims, "owed {owed} not reserved");
    assert!(
        ledger.pending_claims <= ledger.capital,
        "reserved above capital"
    );
}

/// Signs `txs` with their senders' next nonces and runs them at `height`
/// sequentially and in parallel; both must agree exactly.
fn run_both(state: &State, height: u64, txs: &[(u64, Action)]) -> (BlockOutcome, Changes) {
    let mut next: BTreeMap<u64, u64> = BTreeMap::new();
    let signed: Vec<_> = txs
        .iter()
        .map(|(seed, action)| {
            let n = next
                .entry(*seed)
                .or_insert_with(|| nonce(state, &addr(*seed)));
            *n += 1;
            sign(
                *seed,
                *n - 1,
                required_fee(action, BASE_FEE),
                action.clone(),
            )
        })
        .collect();
    let env = BlockEnv {
        chain_id: CHAIN_ID,
        height,
        participation: lakh_execution::Participation::sole(addr(9)),
        offenses: Vec::new(),
        base_fee: BASE_FEE,
        staking: Default::default(),
        deposits: Vec::new(),
    };
    let mut sequential = prefetch(state, &env, &signed);
    let outcome = execute_block(&env, &signed, &mut sequential, Mode::Verify).unwrap();
    let mut parallel = prefetch(state, &env, &signed);
    let threads = NonZeroUsize::new(3).unwrap();
    let parallel_outcome =
        execute_block_parallel(&env, &signed, &mut parallel, Mode::Verify, threads, 0).unwrap();
    assert_eq!(parallel_outcome, outcome, "parallel outcome differs");
    let changes: Vec<_> = sequential.into_changes().collect();
    let parallel_changes: Vec<_> = parallel.into_changes().collect();
    assert_eq!(parallel_changes, changes, "parallel changes differ");
    (outcome, changes.into_iter().collect())
}

const LOW: u128 = ONE * 90 / 100;
const PEG: u128 = ONE;

#[test]
fn a_depeg_fires_once_after_n_fresh_blocks_and_pays_every_eligible_holder_once() {
    let mut c = Chain::new(depeg(3, 2, 8));
    c.post(&REPORTERS, PEG);
    let a = c.buy(1, 10_000, 50);
    let b = c.buy(2, 20_000, 50);
    c.empty(2);
    let capital = c.capital();
    let (gold_a, gold_b) = (c.gold(1), c.gold(2));
    // Depegged prices, reposted every block so they stay fresh.
    let first_low = c.height;
    c.post(&REPORTERS, LOW);
    c.post(&REPORTERS, LOW);
    assert!(c.fired().is_empty(), "two blocks are not three");
    // Bought one block before the third depegged block: inside the cooldown.
    let late = c.height;
    let r = c.block(vec![
        (3, buy(5_000, 50)),
        (
            4,
            Action::Oracle(OracleAction::Post {
                asset: USD,
                price: LOW,
            }),
        ),
        (
            5,
            Action::Oracle(OracleAction::Post {
                asset: USD,
                price: LOW,
            }),
        ),
    ]);
    assert!(r.iter().all(|r| r.status.is_success()));
    assert_eq!(c.fired(), vec![first_low + 2]);
    assert_eq!(late, first_low + 2);
    let paid = c.paid();
    assert_eq!(paid, vec![(late, a, 10_000), (late, b, 20_000)]);
    assert_eq!(c.gold(1), gold_a + 10_000);
    assert_eq!(c.gold(2), gold_b + 20_000);
    // Capital falls by exactly the payouts (the late premium came in).
    let late_premium = c
        .object::<Cover>(&keys::cover(cover_id(&addr(3), 0)))
        .unwrap()
        .premium;
    assert_eq!(c.capital(), capital + late_premium - 30_000);
    // The depeg goes on: no second event, nobody paid twice.
    for _ in 0..4 {
        c.post(&REPORTERS, LOW);
    }
    assert_eq!(c.fired().len(), 1);
    assert_eq!(c.paid().len(), 2);
    let log: PayoutLog = c.object(&keys::payout_log(&addr(1))).unwrap();
    assert_eq!(log.records.len(), 1);
    assert_eq!(log.records[0].amount, 10_000);
    assert_eq!(c.object::<Cover>(&keys::cover(a)).unwrap().paid, 10_000);
    // Parametric cover takes no claims.
    let claim = CoverAction::FileClaim {
        pool: POOL,
        cover: a,
        amount: 1,
    };
    let r = c.block(vec![(1, Action::Cover(Box::new(claim)))]).remove(0);
    assert!(matches!(
        r.status,
        TxStatus::Failed {
            error: lakh_types::FailureReason::Cover(CoverError::ParametricCover { .. })
        }
    ));
    // The peg returns, then breaks again: a new event, paying the late
    // buyer now that its cooldown has passed.
    c.post(&REPORTERS, PEG);
    for _ in 0..3 {
        c.post(&REPORTERS, LOW);
    }
    assert_eq!(c.fired().len(), 2);
    let paid = c.paid();
    assert_eq!(paid.len(), 3);
    assert_eq!(paid[2].1, cover_id(&addr(3), 0));
}

#[test]
fn one_moved_reporter_or_a_stale_feed_never_fires() {
    let mut c = Chain::new(depeg(2, 1, 8));
    c.post(&REPORTERS, PEG);
    c.buy(1, 10_000, 60);
    c.empty(1);
    // One reporter of three posts a crash price each block: the median of
    // fresh reports stays at the peg.
    for _ in 0..6 {
        let txs = vec![
            (
                4,
                Action::Oracle(OracleAction::Post {
                    asset: USD,
                    price: 1,
                }),
            ),
            (
                5,
                Action::Oracle(OracleAction::Post {
                    asset: USD,
                    price: PEG,
                }),
            ),
            (
                6,
                Action::Oracle(OracleAction::Post {
                    asset: USD,
                    price: PEG,
                }),
            ),
        ];
        c.block(txs);
    }
    assert!(c.fired().is_empty());
    // Two reporters post a depeg once, then fall silent: their reports go
    // stale after 3 blocks; only one more block holds fresh prices. The
    // honest one posting alone is below min_reports.
    let mut c = Chain::new(depeg(5, 1, 8));
    c.post(&REPORTERS, PEG);
    c.buy(1, 10_000, 60);
    c.empty(4);
    c.post(&[4, 5], LOW);
    c.empty(8);
    assert!(c.fired().is_empty(), "stale reports never count");
    assert_eq!(c.product().watch.streak_blocks, 0);
}

#[test]
fn payouts_spread_over_blocks_in_purchase_order_when_holders_exceed_the_batch() {
    let mut c = Chain::new(depeg(1, 1, 2));
    c.post(&REPORTERS, PEG);
    let mut covers = Vec::new();
    for (i, &seed) in BUYERS.iter().enumerate() {
        covers.push(c.buy(seed, 1_000 * (i as u128 + 1), 60));
    }
    covers.push(c.buy(1, 7_000, 60));
    let capital = c.capital();
    c.post(&REPORTERS, LOW);
    let fired_at = c.fired()[0];
    c.empty(4);
    let paid = c.paid();
    let heights: Vec<u64> = paid.iter().map(|p| p.0).collect();
    assert_eq!(
        heights,
        vec![fired_at, fired_at, fired_at + 1, fired_at + 1, fired_at + 2]
    );
    let order: Vec<CoverId> = paid.iter().map(|p| p.1).collect();
    assert_eq!(order, covers, "fixed order, nothing twice, nothing skipped");
    let total: u128 = paid.iter().map(|p| p.2).sum();
    assert_eq!(total, 1_000 + 2_000 + 3_000 + 4_000 + 7_000);
    assert_eq!(c.capital(), capital - total);
    let product = c.product();
    assert_eq!(product.cursor, None);
    assert!(product.holdings.is_empty(), "settled covers leave");
    assert_eq!(product.paid_out, total);
}

#[test]
fn bad_debt_written_off_in_the_market_fires_once() {
    let product = ProductParams {
        name: name("baddebt:GOLD"),
        trigger: Trigger::BadDebt { market: GOLD },
        ..depeg(1, 1, 8)
    };
    let mut c = Chain::new(product);
    let a = c.buy(1, 10_000, 60);
    c.empty(2);
    assert!(c.fired().is_empty());
    // A liquidation writes 500 off (set directly: the lending tests cover
    // the write-off itself).
    let total = lend::BadDebtTotal { written_off: 500 };
    let key = lend::bad_debt_key(GOLD);
    c.state
        .insert(key.clone(), StateValue::Object(total.encode()));
    c.empty(3);
    assert_eq!(c.fired().len(), 1);
    assert_eq!(c.paid(), vec![(c.fired()[0], a, 10_000)]);
}

#[test]
fn a_pool_losing_reserves_within_the_window_pays_in_proportion() {
    let product = ProductParams {
        name: name("loss:GOLD/CAP"),
        trigger: Trigger::PoolLoss {
            source: LossSource::DexReserve {
                asset: GOLD,
                other: CAPPED,
            },
            loss_bps: 2_000,
            window_blocks: 4,
        },
        proportional: true,
        ..depeg(1, 1, 8)
    };
    let mut c = Chain::new(product);
    let a = c.buy(1, 10_000, 60);
    let pair = dex::state::Pair::new(GOLD, CAPPED).unwrap();
    let set_reserve = |c: &mut Chain, reserve: u128| {
        let pool = dex::state::Pool {
            reserve_a: reserve,
            reserve_b: reserve,
            ..Default::default()
        };
        c.state
            .insert(pair.key(), StateValue::Object(pool.encode()));
    };
    set_reserve(&mut c, 1_000_000);
    c.empty(2);
    // 15% down: under the 20% trigger.
    set_reserve(&mut c, 850_000);
    c.empty(1);
    assert!(c.fired().is_empty());
    // 30% below the window's high: pays 30% of the cover.
    set_reserve(&mut c, 700_000);
    c.empty(3);
    assert_eq!(c.fired().len(), 1);
    assert_eq!(c.paid(), vec![(c.fired()[0], a, 3_000)]);
    // Once the high leaves the window the fall is forgotten; no second event.
    c.empty(6);
    assert_eq!(c.fired().len(), 1);
}

#[test]
fn products_are_checked_at_creation() {
    let mut c = Chain::new(depeg(1, 1, 8));
    let again = CoverAction::CreateProduct {
        product: DEPEG,
        params: depeg(1, 1, 8),
    };
    let bad = CoverAction::CreateProduct {
        product: 1,
        params: depeg(1, 0, 8),
    };
    let claimable = CoverAction::CreateProduct {
        product: 2,
        params: ProductParams {
            name: name("other"),
            ..depeg(1, 1, 8)
        },
    };
    let not_admin = CoverAction::CreateProduct {
        product: 3,
        params: depeg(1, 1, 8),
    };
    let no_slot = CoverAction::CreateProduct {
        product: MAX_PRODUCTS,
        params: depeg(1, 1, 8),
    };
    let r = c.block(vec![
        (ADMIN, Action::Cover(Box::new(no_slot))),
        (ADMIN, Action::Cover(Box::new(again))),
        (ADMIN, Action::Cover(Box::new(bad))),
        (ADMIN, Action::Cover(Box::new(claimable))),
        (1, Action::Cover(Box::new(not_admin))),
    ]);
    for r in r {
        assert!(!r.status.is_success(), "{r:?}");
    }
    let too_much = c.block(vec![(1, buy(CAPITAL, 60))]).remove(0);
    assert!(!too_much.status.is_success(), "capacity bounds the sales");
    // A product's slots for live covers are bounded: 64, then refused.
    let txs: Vec<(u64, Action)> = (0..MAX_HOLDINGS as u64 + 1)
        .map(|_| (1, buy(1, 60)))
        .collect();
    let r = c.block(txs);
    assert!(r[..MAX_HOLDINGS].iter().all(|r| r.status.is_success()));
    assert!(matches!(
        &r[MAX_HOLDINGS].status,
        TxStatus::Failed {
            error: lakh_types::FailureReason::Cover(CoverError::ProductFull { .. })
        }
    ));
    let mut c = Chain::new(ProductParams {
        min_amount: 100,
        ..depeg(1, 1, 8)
    });
    let small = c.block(vec![(1, buy(99, 60))]).remove(0);
    assert!(matches!(
        small.status,
        TxStatus::Failed {
            error: lakh_types::FailureReason::Cover(CoverError::BelowProductMinimum { .. })
        }
    ));
}

/// One step of the property test.
#[derive(Clone, Debug)]
enum Op {
    Buy {
        buyer: usize,
        amount: u128,
        blocks: u64,
    },
    Post {
        reporters: usize,
        low: bool,
    },
    Wait,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..BUYERS.len(), 1u128..20_000, 5u64..40).prop_map(|(buyer, amount, blocks)| Op::Buy {
            buyer,
            amount,
            blocks
        }),
        (1usize..=3, any::<bool>()).prop_map(|(reporters, low)| Op::Post { reporters, low }),
        Just(Op::Wait),
    ]
}

#[test]
fn random_purchases_and_prices_pay_each_eligible_cover_exactly_once() {
    let mut runner = TestRunner::new(Config {
        cases: 12,
        ..Config::default()
    });
    let ops = proptest::collection::vec(op(), 10..40);
    runner
        .run(&ops, |ops| {
            let (cooldown, blocks) = (2, 2);
            let mut c = Chain::new(depeg(blocks, cooldown, 2));
            c.post(&REPORTERS, PEG);
            let mut bought = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Buy {
                        buyer,
                        amount,
                        blocks,
                    } => {
                        let seed = BUYERS[buyer];
                        let id = cover_id(&addr(seed), nonce(&c.state, &addr(seed)));
                        let r = c.block(vec![(seed, buy(amount, blocks))]).remove(0);
                        if r.status.is_success() {
                            bought.insert(id, (c.height - 1, c.height - 1 + blocks, amount));
                        }
                    }
                    Op::Post { reporters, low } => {
                        let price = if low { LOW } else { PEG };
                        c.post(&REPORTERS[..reporters], price);
                    }
                    Op::Wait => c.empty(1),
                }
            }
            // Enough quiet blocks for every batch to finish.
            c.empty(40);
            let fired = c.fired();
            let paid = c.paid();
            let mut seen = BTreeSet::new();
            for (h, e) in &c.block_events {
                let CoverEvent::ParametricPaid {
                    cover,
                    amount,
                    event_height,
                    ..
                } = e
                else {
                    continue;
                };
                prop_assert!(seen.insert(*cover), "cover {} paid twice", cover);
                let (start, end, size) = bought[cover];
                prop_assert!(fired.contains(event_height) && event_height <= h);
                prop_assert_eq!(*amount, size);
                prop_assert!(start + cooldown <= *event_height && *event_height < end);
            }
            // Every cover eligible at an event was paid.
            for (cover, (start, end, _)) in &bought {
                let eligible = fired.iter().any(|e| start + cooldown <= *e && *e < *end);
                prop_assert_eq!(eligible, seen.contains(cover), "cover {}", cover);
            }
            // The capital fell by exactly what was paid: premiums in, payouts out.
            let ledger: PoolState = c.object(&keys::state(POOL)).unwrap();
            let total: u128 = paid.iter().map(|p| p.2).sum();
            prop_assert_eq!(ledger.paid_out, total);
            prop_assert_eq!(ledger.capital, CAPITAL + ledger.premiums - total);
            prop_assert_eq!(ledger.pending_claims, 0);
            prop_assert_eq!(c.product().cursor, None);
            Ok(())
        })
        .unwrap();
}
