//! Order book module: every action's success and failure paths through real
//! blocks (each block also run by the parallel executor, which must agree),
//! hostile inputs, queries, and property tests of random order flow against
//! a reference model.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use commonware_codec::Decode;
use lakh_execution::{
    BlockEnv, Mode, execute_block, execute_block_parallel,
    modules::book::math,
    modules::book::state::*,
    modules::{QueryError, run_query},
};
use lakh_state::{AccountState, AssetInfo, StateKey, StateValue};
use lakh_types::{
    Action, Address, AssetId, Event, FailureReason, Receipt, SignedTransaction, TxStatus,
    modules::book::*,
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::sync::OnceLock;

const USD: AssetId = AssetId(300);
const SILVER: AssetId = AssetId(400);
const ADMIN: u64 = 0;
/// Trader seeds are `TRADER..TRADER + n`.
const TRADER: u64 = 10;
const PROPOSER: u64 = 9;
const MAX_FEE: u128 = 1_000_000;

// ---------------------------------------------------------------- harness

/// The address of account `seed` (cached: deriving keys is slow).
fn addr(seed: u64) -> Address {
    static ADDRESSES: OnceLock<Vec<Address>> = OnceLock::new();
    let cached = ADDRESSES.get_or_init(|| (0..TRADER + 64).map(common::addr).collect());
    cached
        .get(seed as usize)
        .copied()
        .unwrap_or_else(|| common::addr(seed))
}

/// The seed of a cached account address.
fn seed_of(a: &Address) -> u64 {
    static SEEDS: OnceLock<BTreeMap<Address, u64>> = OnceLock::new();
    let seeds = SEEDS.get_or_init(|| (0..TRADER + 64).map(|s| (addr(s), s)).collect());
    *seeds
        .get(a)
        .unwrap_or_else(|| panic!("unknown account {a}"))
}

/// Funds per trader: (native, GOLD, USD, SILVER).
#[derive(Clone, Copy)]
struct Funding {
    gold: u128,
    usd: u128,
    silver: u128,
}

const RICH: Funding = Funding {
    gold: 1_000_000_000,
    usd: 1_000_000_000_000,
    silver: 1_000_000_000,
};

fn add_asset(state: &mut State, id: AssetId, symbol: &str) {
    state.insert(
        StateKey::Asset(id),
        StateValue::Asset(Box::new(AssetInfo {
            issuer: addr(ADMIN),
            symbol: sym(symbol),
            decimals: 6,
            max_supply: None,
            supply: 0,
        })),
    );
    state.insert(StateKey::Symbol(sym(symbol)), StateValue::Symbol(id));
}

fn credit(state: &mut State, who: Address, asset: AssetId, amount: u128) {
    if amount == 0 {
        return;
    }
    let key = StateKey::Balance(who, asset);
    let now = match state.get(&key) {
        Some(StateValue::Balance(b)) => *b,
        _ => 0,
    };
    state.insert(key, StateValue::Balance(now + amount));
    match state.get_mut(&StateKey::Asset(asset)) {
        Some(StateValue::Asset(info)) => info.supply += amount,
        other => panic!("asset {asset} missing: {other:?}"),
    }
}

struct Chain {
    state: State,
    native_total: u128,
    nonces: BTreeMap<u64, u64>,
    height: u64,
}

impl Chain {
    /// Genesis plus USD and SILVER, and `traders` funded accounts
    /// (`funding(i)` for trader `i`).
    fn new(traders: u64, funding: impl Fn(u64) -> Funding) -> Chain {
        let mut state = genesis_state();
        add_asset(&mut state, USD, "USD");
        add_asset(&mut state, SILVER, "SILVER");
        let mut native_total = native_total();
        for i in 0..traders {
            let who = addr(TRADER + i);
            state.insert(
                StateKey::Account(who),
                StateValue::Account(AccountState {
                    nonce: 0,
                    native_balance: FUNDED,
                }),
            );
            native_total += FUNDED;
            let f = funding(i);
            credit(&mut state, who, GOLD, f.gold);
            credit(&mut state, who, USD, f.usd);
            credit(&mut state, who, SILVER, f.silver);
        }
        match state.get_mut(&StateKey::Asset(AssetId::NATIVE)) {
            Some(StateValue::Asset(info)) => info.supply = native_total,
            other => panic!("no native asset: {other:?}"),
        }
        check_invariants(&state, native_total);
        Chain {
            state,
            native_total,
            nonces: BTreeMap::new(),
            height: 0,
        }
    }

    fn sign(&mut self, seed: u64, action: BookAction) -> SignedTransaction {
        let n = self
            .nonces
            .entry(seed)
            .or_insert_with(|| nonce(&self.state, &addr(seed)));
        let tx = sign(seed, *n, MAX_FEE, Action::Book(action));
        *n += 1;
        tx
    }

    /// Runs a block sequentially and in parallel (which must agree), commits
    /// it and checks every invariant.
    fn block(&mut self, txs: &[SignedTransaction]) -> Vec<Receipt> {
        self.height += 1;
        let env = BlockEnv {
            chain_id: CHAIN_ID,
            height: self.height,
            participation: lakh_execution::Participation::sole(addr(PROPOSER)),
            offenses: Vec::new(),
            base_fee: BASE_FEE,
            staking: Default::default(),
            deposits: Vec::new(),
        };
        let mut seq = prefetch(&self.state, &env, txs);
        let outcome = execute_block(&env, txs, &mut seq, Mode::Verify).expect("block executes");
        let mut par = prefetch(&self.state, &env, txs);
        let threads = NonZeroUsize::new(4).expect("nonzero");
        let par_outcome = execute_block_parallel(&env, txs, &mut par, Mode::Verify, threads, 0)
            .expect("block executes in parallel");
        assert_eq!(par_outcome, outcome, "parallel receipts differ");
        let changes: Changes = seq.into_changes().collect();
        let par_changes: Changes = par.into_changes().collect();
        assert_eq!(par_changes, changes, "parallel changes differ");
        commit(&mut self.state, &changes);
        check_invariants(&self.state, self.native_total);
        check_books(&self.state);
        outcome.receipts
    }

    fn exec(&mut self, seed: u64, action: BookAction) -> Receipt {
        let tx = self.sign(seed, action);
        self.block(&[tx]).remove(0)
    }

    /// Executes and expects success; returns the book events.
    fn ok(&mut self, seed: u64, action: BookAction) -> Vec<BookEvent> {
        let r = self.exec(seed, action.clone());
        assert_eq!(r.status, TxStatus::Success, "{action:?}");
        book_events(&r)
    }

    /// Executes and expects failure, checking that nothing but the sender's
    /// nonce and fee changed.
    fn err(&mut self, seed: u64, action: BookAction) -> FailureReason {
        let fee_keys = [
            StateKey::Account(addr(seed)),
            StateKey::Account(addr(PROPOSER)),
        ];
        let rest = |s: &State| -> State {
            s.iter()
                .filter(|(k, _)| !fee_keys.contains(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        let before = rest(&self.state);
        let r = self.exec(seed, action.clone());
        let TxStatus::Failed { error } = r.status else {
            panic!("{action:?} succeeded: {:?}", r.events);
        };
        assert!(r.events.is_empty());
        assert!(before == rest(&self.state), "a failed action changed state");
        error
    }

    fn bal(&self, seed: u64, asset: AssetId) -> u128 {
        self.bal_of(&addr(seed), asset)
    }

    fn bal_of(&self, who: &Address, asset: AssetId) -> u128 {
        if asset == AssetId::NATIVE {
            native(&self.state, who)
        } else {
            balance(&self.state, who, asset)
        }
    }

    fn query(&self, method: &str, params: Value) -> Result<Value, QueryError> {
        run_query("book", method, &params, self.height, 64, |k| {
            Ok(self.state.get(k).cloned())
        })
    }

    fn market(&self, id: u32) -> Market {
        match self.state.get(&market_key(id)) {
            Some(StateValue::Object(b)) => Market::decode_cfg(b.clone(), &()).expect("market"),
            other => panic!("no market {id}: {other:?}"),
        }
    }

    fn side(&self, id: u32, side: Side) -> SideState {
        match self.state.get(&side_key(id, side)) {
            Some(StateValue::Object(b)) => SideState::decode_cfg(b.clone(), &()).expect("side"),
            None => SideState::default(),
            other => panic!("bad side: {other:?}"),
        }
    }
}

fn book_events(r: &Receipt) -> Vec<BookEvent> {
    r.events
        .iter()
        .filter_map(|e| match e {
            Event::Book(b) => Some(b.clone()),
            _ => None,
        })
        .collect()
}

fn book_err(e: BookError) -> FailureReason {
    FailureReason::Book(e)
}

/// Checks every market in `state`: sides in price-time order and uncrossed,
/// owner tables consistent and within bounds, and custody balances equal to
/// locked funds plus claimable balances plus fees, exactly.
fn check_books(state: &State) {
    for (k, v) in state {
        let (StateKey::Object(key), StateValue::Object(bytes)) = (k, v) else {
            continue;
        };
        if key.kind == KIND_SIDE {
            let id = u32::from_be_bytes(key.id()[..4].try_into().unwrap());
            assert!(
                state.contains_key(&market_key(id)),
                "side of a missing market"
            );
            continue;
        }
        if key.kind != KIND_MARKET {
            continue;
        }
        let id = u32::from_be_bytes(key.id().try_into().expect("4-byte id"));
        let m = Market::decode_cfg(bytes.clone(), &()).expect("market decodes");
        let (mut base, mut quote) = (0u128, m.fees);
        let mut best = [None, None];
        for (i, side) in [Side::Buy, Side::Sell].into_iter().enumerate() {
            let s = match state.get(&side_key(id, side)) {
                Some(StateValue::Object(b)) => {
                    let s = SideState::decode_cfg(b.clone(), &()).unwrap();
                    assert!(
                        !s.owners.is_empty() || !s.orders.is_empty(),
                        "empty side stored"
                    );
                    s
                }
                None => SideState::default(),
                other => panic!("{other:?}"),
            };
            assert!(s.orders.len() <= MAX_ORDERS_PER_SIDE);
            let mut open = vec![0usize; s.owners.len()];
            for w in s.orders.windows(2) {
                let ordered = match side {
                    Side::Buy => {
                        (std::cmp::Reverse(w[0].price_ticks), w[0].seq)
                            < (std::cmp::Reverse(w[1].price_ticks), w[1].seq)
                    }
                    Side::Sell => (w[0].price_ticks, w[0].seq) < (w[1].price_ticks, w[1].seq),
                };
                assert!(ordered, "{side} side out of price-time order: {w:?}");
            }
            for o in s.orders.iter() {
                assert!(o.seq < m.next_seq);
                assert!(o.remaining_lots > 0 && o.remaining_lots <= o.original_lots);
                assert!(o.price_ticks > 0);
                open[o.owner as usize] += 1;
                let lock = math::locked(&m, side, o).unwrap();
                match side {
                    Side::Buy => quote += lock,
                    Side::Sell => base += lock,
                }
            }
            for (e, n) in s.owners.iter().zip(&open) {
                assert_eq!(e.open as usize, *n, "open count of {}", e.owner);
                assert!(*n <= MAX_ORDERS_PER_OWNER);
                assert!(e.open > 0 || e.base > 0 || e.quote > 0, "idle owner entry");
                base += e.base;
                quote += e.quote;
            }
            let mut owners: Vec<_> = s.owners.iter().map(|e| e.owner).collect();
            owners.sort();
            owners.dedup();
            assert_eq!(owners.len(), s.owners.len(), "owner listed twice");
            best[i] = s.orders.first().map(|o| o.price_ticks);
        }
        if let [Some(bid), Some(ask)] = best {
            assert!(bid < ask, "market {id} is crossed: bid {bid} >= ask {ask}");
        }
        let vault = custody(id);
        let held = |asset: AssetId| {
            if asset == AssetId::NATIVE {
                native(state, &vault)
            } else {
                balance(state, &vault, asset)
            }
        };
        assert_eq!(held(m.base), base, "market {id} base custody");
        assert_eq!(held(m.quote), quote, "market {id} quote custody");
    }
}

fn mref(id: u32, base: AssetId, quote: AssetId) -> MarketRef {
    MarketRef { id, base, quote }
}

const M1: MarketRef = MarketRef {
    id: 1,
    base: GOLD,
    quote: USD,
};

fn create(
    id: u32,
    base: AssetId,
    quote: AssetId,
    tick: u128,
    lot: u128,
    maker: u16,
    taker: u16,
) -> BookAction {
    BookAction::CreateMarket {
        market: id,
        base,
        quote,
        tick_size: tick,
        lot_size: lot,
        maker_fee_bps: maker,
        taker_fee_bps: taker,
    }
}

fn limit(m: MarketRef, side: Side, price: u128, quantity: u128, tif: TimeInForce) -> BookAction {
    BookAction::Place {
        market: m,
        side,
        kind: OrderKind::Limit,
        price,
        quantity,
        tif,
    }
}

fn gtc(m: MarketRef, side: Side, price: u128, quantity: u128) -> BookAction {
    limit(m, side, price, quantity, TimeInForce::Gtc)
}

fn market_order(m: MarketRef, side: Side, quantity: u128, tif: TimeInForce) -> BookAction {
    BookAction::Place {
        market: m,
        side,
        kind: OrderKind::Market,
        price: 0,
        quantity,
        tif,
    }
}

fn cancel(m: MarketRef, order: u64) -> BookAction {
    BookAction::Cancel { market: m, order }
}

/// The id of the order a successful placement rested.
fn rested_id(events: &[BookEvent]) -> u64 {
    events
        .iter()
        .find_map(|e| match e {
            BookEvent::Rested { order, .. } => Some(*order),
            _ => None,
        })
        .expect("order rested")
}

/// A chain with market 1: GOLD/USD, tick 5 USD per lot, lot 10 GOLD,
/// maker 10 bps, taker 30 bps; traders 10.. are rich.
fn chain_with_market(traders: u64) -> Chain {
    let mut c = Chain::new(traders, |_| RICH);
    c.ok(ADMIN, create(1, GOLD, USD, 5, 10, 10, 30));
    c
}

fn t(i: u64) -> u64 {
    TRADER + i
}

// ------------------------------------------------------------ market setup

#[test]
fn create_market_by_admin_only_with_valid_parameters() {
    let mut c = Chain::new(2, |_| RICH);
    assert_eq!(
        c.err(t(0), create(1, GOLD, USD, 5, 10, 10, 30)),
        FailureReason::NotAdmin { sender: addr(t(0)) }
    );
    let events = c.ok(ADMIN, create(1, GOLD, USD, 5, 10, 10, 30));
    assert_eq!(
        events,
        vec![BookEvent::MarketCreated {
            market: 1,
            base: GOLD,
            quote: USD,
            tick_size: 5,
            lot_size: 10,
            maker_fee_bps: 10,
            taker_fee_bps: 30
        }]
    );
    let m = c.market(1);
    assert_eq!((m.next_seq, m.fees, m.created_height), (1, 0, 2));
    assert_eq!(
        c.err(ADMIN, create(1, SILVER, USD, 1, 1, 0, 0)),
        book_err(BookError::MarketExists { market: 1 })
    );
    assert_eq!(
        c.err(ADMIN, create(2, AssetId(999), USD, 1, 1, 0, 0)),
        FailureReason::UnknownAsset {
            asset: AssetId(999)
        }
    );
    assert_eq!(
        c.err(ADMIN, create(2, USD, USD, 1, 1, 0, 0)),
        book_err(BookError::SameAsset { asset: USD })
    );
    assert_eq!(
        c.err(ADMIN, create(2, GOLD, USD, 0, 1, 0, 0)),
        book_err(BookError::ZeroTickSize {})
    );
    assert_eq!(
        c.err(ADMIN, create(2, GOLD, USD, 1, 0, 0, 0)),
        book_err(BookError::ZeroLotSize {})
    );
    assert_eq!(
        c.err(ADMIN, create(2, GOLD, USD, 1, 1, 0, 1_001)),
        book_err(BookError::FeeTooHigh {
            bps: 1_001,
            max: MAX_FEE_BPS
        })
    );
    // A market quoted in the native token.
    c.ok(ADMIN, create(2, GOLD, AssetId::NATIVE, 1, 1, 0, 0));
}

// ---------------------------------------------------------------- matching

#[test]
fn limit_orders_rest_match_at_maker_price_and_charge_exact_fees() {
    let mut c = chain_with_market(3);
    let (alice, bob) = (t(0), t(1));
    let gold0 = c.bal(alice, GOLD);
    let usd0 = c.bal(bob, USD);

    // Alice sells 100 GOLD (10 lots) at 500 USD per lot: locks 100 GOLD.
    let ev = c.ok(alice, gtc(M1, Side::Sell, 500, 100));
    let ask = rested_id(&ev);
    assert_eq!(ask, 3, "sequence 1, sell side bit");
    assert_eq!(
        ev,
        vec![BookEvent::Rested {
            market: 1,
            order: ask,
            owner: addr(alice),
            side: Side::Sell,
            price: 500,
            quantity: 100,
            locked: 100
        }]
    );
    assert_eq!(c.bal(alice, GOLD), gold0 - 100);

    // Bob buys 30 GOLD with limit 600: fills at the maker's 500 per lot.
    let ev = c.ok(bob, gtc(M1, Side::Buy, 600, 30));
    // 3 lots × 500 = 1500 quote; maker fee ceil(1500 × 10 / 10_000) = 2;
    // taker fee ceil(1500 × 30 / 10_000) = 5.
    assert_eq!(
        ev,
        vec![
            BookEvent::Fill {
                market: 1,
                taker_order: 4,
                maker_order: ask,
                maker: addr(alice),
                taker_side: Side::Buy,
                price: 500,
                quantity: 30,
                quote: 1_500,
                maker_fee: 2
            },
            BookEvent::Taken {
                market: 1,
                order: 4,
                side: Side::Buy,
                quantity: 30,
                quote: 1_500,
                fee: 5
            }
        ]
    );
    assert_eq!(c.bal(bob, USD), usd0 - 1_505);
    assert_eq!(c.bal(bob, GOLD), RICH.gold + 30);
    assert_eq!(c.market(1).fees, 7);
    let claim = c
        .query("claimable", json!({"market": 1, "owner": addr(alice)}))
        .unwrap();
    assert_eq!(claim["quote"], "1498");
    assert_eq!(claim["base"], "0");
    assert_eq!(claim["open_orders"], 1);

    // Another 3-lot fill: cumulative maker fee ceil(3000 × 10 / 10_000) = 3,
    // so this fill pays 1 (never more than the whole order's fee).
    let ev = c.ok(bob, gtc(M1, Side::Buy, 500, 30));
    assert!(matches!(ev[0], BookEvent::Fill { maker_fee: 1, .. }));

    // Alice settles 1498 + 1499 USD.
    let usd_alice = c.bal(alice, USD);
    let ev = c.ok(
        alice,
        BookAction::Settle {
            market: M1,
            owner: addr(alice),
        },
    );
    assert_eq!(
        ev,
        vec![BookEvent::Settled {
            market: 1,
            owner: addr(alice),
            base: 0,
            quote: 2_997
        }]
    );
    assert_eq!(c.bal(alice, USD), usd_alice + 2_997);
    assert_eq!(
        c.err(
            alice,
            BookAction::Settle {
                market: M1,
                owner: addr(alice)
            }
        ),
        book_err(BookError::NothingToSettle {
            market: 1,
            owner: addr(alice)
        })
    );

    // Cancel returns the 4 open lots (40 GOLD).
    let gold = c.bal(alice, GOLD);
    let ev = c.ok(alice, cancel(M1, ask));
    assert_eq!(
        ev,
        vec![BookEvent::Cancelled {
            market: 1,
            order: ask,
            owner: addr(alice),
            side: Side::Sell,
            price: 500,
            quantity: 40,
            refund: 40,
            reason: CancelReason::User
        }]
    );
    assert_eq!(c.bal(alice, GOLD), gold + 40);
    // Only the fees remain in custody.
    assert_eq!(c.bal_of(&custody(1), GOLD), 0);
    assert_eq!(c.bal_of(&custody(1), USD), c.market(1).fees);
    assert!(!c.state.contains_key(&side_key(1, Side::Sell)));
}

#[test]
fn buy_maker_locks_notional_plus_fee_and_pays_fee_from_it() {
    let mut c = chain_with_market(2);
    let (alice, bob) = (t(0), t(1));
    let usd0 = c.bal(alice, USD);
    // 7 lots at 1005: notional 7035, maker fee ceil(7.035) = 8.
    let ev = c.ok(alice, gtc(M1, Side::Buy, 1_005, 70));
    let bid = rested_id(&ev);
    assert!(matches!(ev[0], BookEvent::Rested { locked: 7_043, .. }));
    assert_eq!(c.bal(alice, USD), usd0 - 7_043);
    // Bob sells 20 at 900: fills 2 lots at 1005 = 2010; taker fee ceil(6.03) = 7.
    let bob_usd = c.bal(bob, USD);
    let ev = c.ok(bob, gtc(M1, Side::Sell, 900, 20));
    assert!(matches!(
        ev[0],
        BookEvent::Fill {
            quote: 2_010,
            maker_fee: 3,
            quantity: 20,
            ..
        }
    ));
    assert_eq!(c.bal(bob, USD), bob_usd + 2_010 - 7);
    let order = c
        .query("order", json!({"market": 1, "order": bid}))
        .unwrap();
    assert_eq!(order["quantity"], "50");
    assert_eq!(order["filled_quantity"], "20");
    // Left locked: 5 × 1005 + (8 - 3).
    assert_eq!(order["locked"], "5030");
    // Alice's next action pays her claimable 20 GOLD automatically.
    let gold = c.bal(alice, GOLD);
    let ev = c.ok(alice, cancel(M1, bid));
    assert!(ev.contains(&BookEvent::Settled {
        market: 1,
        owner: addr(alice),
        base: 20,
        quote: 0
    }));
    assert_eq!(c.bal(alice, GOLD), gold + 20);
    assert_eq!(c.bal(alice, USD), usd0 - 2_010 - 3);
}

#[test]
fn price_time_priority_across_levels_and_within_a_level() {
    let mut c = chain_with_market(5);
    let a = rested_id(&c.ok(t(0), gtc(M1, Side::Sell, 510, 10)));
    let b = rested_id(&c.ok(t(1), gtc(M1, Side::Sell, 505, 10)));
    let d = rested_id(&c.ok(t(2), gtc(M1, Side::Sell, 505, 10)));
    let e = rested_id(&c.ok(t(3), gtc(M1, Side::Sell, 500, 10)));
    let book = c.query("book", json!({"market": 1})).unwrap();
    assert_eq!(
        book["asks"],
        json!([
            {"price": "500", "quantity": "10", "orders": 1},
            {"price": "505", "quantity": "20", "orders": 2},
            {"price": "510", "quantity": "10", "orders": 1},
        ])
    );
    // A market buy of 3 lots takes e, then b, then d (older first at 505).
    let ev = c.ok(t(4), market_order(M1, Side::Buy, 30, TimeInForce::Ioc));
    let makers: Vec<(u64, u128)> = ev
        .iter()
        .filter_map(|e| match e {
            BookEvent::Fill {
                maker_order, price, ..
            } => Some((*maker_order, *price)),
            _ => None,
        })
        .collect();
    assert_eq!(makers, vec![(e, 500), (b, 505), (d, 505)]);
    let book = c.query("book", json!({"market": 1, "depth": 1})).unwrap();
    assert_eq!(
        book["asks"],
        json!([{"price": "510", "quantity": "10", "orders": 1}])
    );
    assert_eq!(book["bids"], json!([]));
    let _ = a;
}

#[test]
fn ioc_drops_the_rest_and_market_orders_on_an_empty_side_fill_nothing() {
    let mut c = chain_with_market(2);
    c.ok(t(0), gtc(M1, Side::Sell, 500, 20));
    let ev = c.ok(t(1), limit(M1, Side::Buy, 500, 50, TimeInForce::Ioc));
    assert!(matches!(ev[1], BookEvent::Taken { quantity: 20, .. }));
    assert_eq!(
        ev[2],
        BookEvent::Unfilled {
            market: 1,
            order: 4,
            quantity: 30
        }
    );
    assert!(!c.state.contains_key(&side_key(1, Side::Buy)));
    let usd = c.bal(t(1), USD);
    let ev = c.ok(t(1), market_order(M1, Side::Buy, 10, TimeInForce::Ioc));
    assert_eq!(
        ev,
        vec![BookEvent::Unfilled {
            market: 1,
            order: 6,
            quantity: 10
        }]
    );
    assert_eq!(c.bal(t(1), USD), usd);
}

#[test]
fn fill_or_kill_fills_fully_or_changes_nothing() {
    let mut c = chain_with_market(3);
    c.ok(t(0), gtc(M1, Side::Sell, 500, 20));
    c.ok(t(1), gtc(M1, Side::Sell, 520, 20));
    // Within 510 only 20 are available.
    assert_eq!(
        c.err(t(2), limit(M1, Side::Buy, 510, 30, TimeInForce::Fok)),
        book_err(BookError::NotFillable {
            quantity: 30,
            fillable: 20
        })
    );
    assert_eq!(
        c.err(t(2), market_order(M1, Side::Buy, 50, TimeInForce::Fok)),
        book_err(BookError::NotFillable {
            quantity: 50,
            fillable: 40
        })
    );
    let ev = c.ok(t(2), market_order(M1, Side::Buy, 40, TimeInForce::Fok));
    assert!(matches!(
        ev[2],
        BookEvent::Taken {
            quantity: 40,
            quote: 2_040,
            ..
        }
    ));
    assert!(c.side(1, Side::Sell).orders.is_empty());
}

#[test]
fn post_only_never_takes() {
    let mut c = chain_with_market(2);
    c.ok(t(0), gtc(M1, Side::Sell, 500, 20));
    assert_eq!(
        c.err(t(1), limit(M1, Side::Buy, 500, 10, TimeInForce::PostOnly)),
        book_err(BookError::WouldTake {
            price: 500,
            best: 500
        })
    );
    let ev = c.ok(t(1), limit(M1, Side::Buy, 495, 10, TimeInForce::PostOnly));
    assert!(matches!(ev[..], [BookEvent::Rested { .. }]));
    // Crossing one's own order is refused too.
    assert_eq!(
        c.err(t(1), limit(M1, Side::Sell, 495, 10, TimeInForce::PostOnly)),
        book_err(BookError::WouldTake {
            price: 495,
            best: 495
        })
    );
}

#[test]
fn self_trade_prevention_cancels_the_resting_order_and_matches_on() {
    let mut c = chain_with_market(2);
    let (alice, bob) = (t(0), t(1));
    let own = rested_id(&c.ok(alice, gtc(M1, Side::Sell, 500, 20)));
    let other = rested_id(&c.ok(bob, gtc(M1, Side::Sell, 505, 20)));
    let gold = c.bal(alice, GOLD);
    let usd = c.bal(alice, USD);
    let ev = c.ok(alice, gtc(M1, Side::Buy, 505, 30));
    assert_eq!(
        ev[0],
        BookEvent::Cancelled {
            market: 1,
            order: own,
            owner: addr(alice),
            side: Side::Sell,
            price: 500,
            quantity: 20,
            refund: 20,
            reason: CancelReason::SelfTrade
        }
    );
    assert!(
        matches!(ev[1], BookEvent::Fill { maker_order, quantity: 20, .. } if maker_order == other)
    );
    // The last lot rests: 505 + ceil(0.505) maker fee locked.
    assert!(matches!(
        ev[3],
        BookEvent::Rested {
            quantity: 10,
            locked: 506,
            ..
        }
    ));
    // 20 GOLD back, 20 bought; paid 2 × 505 + taker fee ceil(3.03) = 4, plus the lock.
    assert_eq!(c.bal(alice, GOLD), gold + 40);
    assert_eq!(c.bal(alice, USD), usd - 1_010 - 4 - 506);
}

// --------------------------------------------------------------- refusals

#[test]
fn hostile_orders_are_refused_cleanly() {
    let mut c = chain_with_market(2);
    let a = t(0);
    assert_eq!(
        c.err(a, gtc(M1, Side::Buy, 502, 10)),
        book_err(BookError::PriceNotOnTick {
            price: 502,
            tick_size: 5
        })
    );
    assert_eq!(
        c.err(a, gtc(M1, Side::Buy, 500, 15)),
        book_err(BookError::QuantityNotOnLot {
            quantity: 15,
            lot_size: 10
        })
    );
    assert_eq!(
        c.err(a, gtc(M1, Side::Buy, 500, 0)),
        book_err(BookError::ZeroQuantity {})
    );
    assert_eq!(
        c.err(a, gtc(M1, Side::Buy, 0, 10)),
        book_err(BookError::ZeroPrice {})
    );
    assert_eq!(
        c.err(a, gtc(mref(7, GOLD, USD), Side::Buy, 500, 10)),
        book_err(BookError::UnknownMarket { market: 7 })
    );
    assert_eq!(
        c.err(a, gtc(mref(1, SILVER, USD), Side::Buy, 500, 10)),
        book_err(BookError::WrongAssets {
            market: 1,
            base: SILVER,
            quote: USD,
            expected_base: GOLD,
            expected_quote: USD
        })
    );
    // u128 limits: price × lots overflows.
    let huge = u128::MAX / 5 * 5;
    assert_eq!(
        c.err(a, gtc(M1, Side::Buy, huge, 20)),
        book_err(BookError::PriceTooLarge {
            price: huge,
            max: u64::MAX as u128 * 5
        })
    );
    let p = u64::MAX as u128 * 5;
    assert_eq!(
        c.err(a, gtc(M1, Side::Sell, p, 10 * u64::MAX as u128)),
        book_err(BookError::NotionalOverflow {
            price: p,
            quantity: 10 * u64::MAX as u128
        })
    );
    let q = u128::MAX / 10 * 10;
    assert_eq!(
        c.err(a, gtc(M1, Side::Sell, 5, q)),
        book_err(BookError::QuantityTooLarge {
            quantity: q,
            max: u64::MAX as u128 * 10
        })
    );
    // Insufficient funds: a buy whose lock exceeds the balance.
    let poor = Chain::new(1, |_| Funding {
        gold: 0,
        usd: 1_000,
        silver: 0,
    });
    let mut c2 = poor;
    c2.ok(ADMIN, create(1, GOLD, USD, 5, 10, 10, 30));
    assert_eq!(
        c2.err(t(0), gtc(M1, Side::Buy, 100, 100)),
        FailureReason::InsufficientBalance {
            asset: USD,
            needed: 1_001,
            available: 1_000
        }
    );
    assert_eq!(
        c2.err(t(0), gtc(M1, Side::Sell, 100, 10)),
        FailureReason::InsufficientBalance {
            asset: GOLD,
            needed: 10,
            available: 0
        }
    );
    // A taker who cannot pay for what it would take fails as a whole.
    c2.ok(ADMIN, gtc(M1, Side::Sell, 100, 1_000));
    assert_eq!(
        c2.err(t(0), market_order(M1, Side::Buy, 1_000, TimeInForce::Ioc)),
        FailureReason::InsufficientBalance {
            asset: USD,
            needed: 10_030,
            available: 1_000
        }
    );
}

#[test]
fn cancels_are_checked() {
    let mut c = chain_with_market(2);
    let id = rested_id(&c.ok(t(0), gtc(M1, Side::Buy, 500, 10)));
    assert_eq!(
        c.err(t(1), cancel(M1, id)),
        book_err(BookError::NotOrderOwner {
            order: id,
            owner: addr(t(0))
        })
    );
    assert_eq!(
        c.err(t(0), cancel(M1, 99)),
        book_err(BookError::UnknownOrder {
            market: 1,
            order: 99
        })
    );
    // The right sequence with the wrong side bit is another order.
    assert_eq!(
        c.err(t(0), cancel(M1, id | 1)),
        book_err(BookError::UnknownOrder {
            market: 1,
            order: id | 1
        })
    );
    assert_eq!(
        c.err(t(1), BookAction::CancelAll { market: M1 }),
        book_err(BookError::NothingToCancel {
            market: 1,
            owner: addr(t(1))
        })
    );
    c.ok(t(0), cancel(M1, id));
    assert_eq!(
        c.err(t(0), cancel(M1, id)),
        book_err(BookError::UnknownOrder {
            market: 1,
            order: id
        })
    );
}

#[test]
fn cancel_all_returns_every_lock() {
    let mut c = chain_with_market(1);
    let (gold, usd) = (c.bal(t(0), GOLD), c.bal(t(0), USD));
    for i in 0..5u128 {
        c.ok(t(0), gtc(M1, Side::Buy, 400 + 5 * i, 10));
        c.ok(t(0), gtc(M1, Side::Sell, 600 + 5 * i, 20));
    }
    let orders = c
        .query("orders", json!({"market": 1, "owner": addr(t(0))}))
        .unwrap();
    assert_eq!(orders["orders"].as_array().unwrap().len(), 10);
    let ev = c.ok(t(0), BookAction::CancelAll { market: M1 });
    assert_eq!(ev.len(), 10);
    assert_eq!((c.bal(t(0), GOLD), c.bal(t(0), USD)), (gold, usd));
    assert!(!c.state.contains_key(&side_key(1, Side::Buy)));
    assert!(!c.state.contains_key(&side_key(1, Side::Sell)));
}

#[test]
fn per_owner_cap_and_full_book_eviction() {
    let traders = (MAX_ORDERS_PER_SIDE / MAX_ORDERS_PER_OWNER) as u64 + 1;
    let mut c = chain_with_market(traders);
    // Fill the asks: trader i's orders at prices 1000 + 5 × (i × 64 + j).
    for i in 0..traders - 1 {
        let txs: Vec<_> = (0..MAX_ORDERS_PER_OWNER as u128)
            .map(|j| {
                let price = 1_000 + 5 * (i as u128 * MAX_ORDERS_PER_OWNER as u128 + j);
                c.sign(t(i), gtc(M1, Side::Sell, price, 10))
            })
            .collect();
        assert!(c.block(&txs).iter().all(|r| r.status.is_success()));
    }
    assert_eq!(
        c.err(t(0), gtc(M1, Side::Sell, 5, 10)),
        book_err(BookError::OwnerOrderLimit {
            owner: addr(t(0)),
            side: Side::Sell,
            max: MAX_ORDERS_PER_OWNER as u32
        })
    );
    let last = traders - 1;
    let worst = 1_000 + 5 * (MAX_ORDERS_PER_SIDE as u128 - 1);
    assert_eq!(
        c.err(t(last), gtc(M1, Side::Sell, worst, 10)),
        book_err(BookError::BookFull {
            side: Side::Sell,
            max: MAX_ORDERS_PER_SIDE as u32,
            price: worst,
            worst
        })
    );
    // A better price evicts the worst order; its GOLD becomes claimable.
    let evicted_owner = t(traders - 2);
    let ev = c.ok(t(last), gtc(M1, Side::Sell, 995, 10));
    assert!(matches!(
        &ev[0],
        BookEvent::Cancelled { reason: CancelReason::Evicted, refund: 10, price, owner, .. }
            if *price == worst && *owner == addr(evicted_owner)
    ));
    assert_eq!(c.side(1, Side::Sell).orders.len(), MAX_ORDERS_PER_SIDE);
    let claim = c
        .query(
            "claimable",
            json!({"market": 1, "owner": addr(evicted_owner)}),
        )
        .unwrap();
    assert_eq!(claim["base"], "10");
    // Anyone may settle it; the funds go to the owner.
    let gold = c.bal(evicted_owner, GOLD);
    c.ok(
        t(0),
        BookAction::Settle {
            market: M1,
            owner: addr(evicted_owner),
        },
    );
    assert_eq!(c.bal(evicted_owner, GOLD), gold + 10);
    // A taker sweeps the whole side in one transaction.
    let ev = c.ok(
        t(last),
        market_order(M1, Side::Buy, 10 * 600, TimeInForce::Ioc),
    );
    let fills = ev
        .iter()
        .filter(|e| matches!(e, BookEvent::Fill { .. }))
        .count();
    let cancels = ev
        .iter()
        .filter(|e| matches!(e, BookEvent::Cancelled { .. }))
        .count();
    assert_eq!(fills + cancels, MAX_ORDERS_PER_SIDE);
}

#[test]
fn order_ids_exhausted_is_refused() {
    let mut c = chain_with_market(1);
    let mut m = c.market(1);
    m.next_seq = MAX_SEQ + 1;
    c.state.insert(
        market_key(1),
        StateValue::Object(commonware_codec::Encode::encode(&m)),
    );
    assert_eq!(
        c.err(t(0), gtc(M1, Side::Buy, 500, 10)),
        book_err(BookError::OrderIdsExhausted { market: 1 })
    );
}

#[test]
fn fees_are_withdrawn_by_the_admin_only() {
    let mut c = chain_with_market(2);
    let withdraw = |amount| BookAction::WithdrawFees {
        market: M1,
        to: addr(5),
        amount,
    };
    assert_eq!(
        c.err(ADMIN, withdraw(None)),
        book_err(BookError::NoFeesAccrued { market: 1 })
    );
    c.ok(t(0), gtc(M1, Side::Sell, 1_000, 1_000));
    c.ok(t(1), market_order(M1, Side::Buy, 1_000, TimeInForce::Ioc));
    // 100 lots × 1000 = 100_000: maker 100, taker 300.
    assert_eq!(c.market(1).fees, 400);
    assert_eq!(
        c.err(t(0), withdraw(None)),
        FailureReason::NotAdmin { sender: addr(t(0)) }
    );
    assert_eq!(
        c.err(ADMIN, withdraw(Some(401))),
        book_err(BookError::FeesInsufficient {
            requested: 401,
            accrued: 400
        })
    );
    assert_eq!(
        c.ok(ADMIN, withdraw(Some(150))),
        vec![BookEvent::FeesWithdrawn {
            market: 1,
            to: addr(5),
            amount: 150
        }]
    );
    assert_eq!(
        c.err(
            ADMIN,
            BookAction::WithdrawFees {
                market: M1,
                to: custody(1),
                amount: None
            }
        ),
        book_err(BookError::ToCustody { market: 1 })
    );
    c.ok(ADMIN, withdraw(None));
    assert_eq!(c.bal(5, USD), 400);
    assert_eq!(c.market(1).fees, 0);
}

#[test]
fn native_quote_market_works_and_custody_is_exact() {
    let mut c = Chain::new(2, |_| RICH);
    c.ok(ADMIN, create(3, GOLD, AssetId::NATIVE, 1, 1, 25, 25));
    let m3 = mref(3, GOLD, AssetId::NATIVE);
    c.ok(t(0), gtc(m3, Side::Buy, 1_000, 7));
    c.ok(t(1), gtc(m3, Side::Sell, 999, 10));
    let info = c.query("market", json!({"market": 3})).unwrap();
    assert_eq!(info["best_ask"], "999");
    assert_eq!(info["best_bid"], Value::Null);
    // 7000 traded: maker and taker each ceil(17.5) = 18.
    assert_eq!(info["fees_accrued"], "36");
    c.ok(
        t(1),
        BookAction::Settle {
            market: m3,
            owner: addr(t(0)),
        },
    );
}

// ---------------------------------------------------------------- queries

#[test]
fn queries_answer_and_refuse_cleanly() {
    let mut c = chain_with_market(2);
    let id = rested_id(&c.ok(t(0), gtc(M1, Side::Buy, 500, 20)));
    c.ok(t(0), gtc(M1, Side::Buy, 500, 10));
    c.ok(t(1), gtc(M1, Side::Sell, 600, 10));
    let m = c.query("market", json!({"market": 1})).unwrap();
    assert_eq!(m["tick_size"], "5");
    assert_eq!(m["lot_size"], "10");
    assert_eq!(m["maker_fee_bps"], 10);
    assert_eq!(m["best_bid"], "500");
    assert_eq!(m["best_ask"], "600");
    assert_eq!(m["bid_orders"], 2);
    assert_eq!(m["custody_base"], "10");
    assert_eq!(m["custody_quote"], (1_001 + 501).to_string());
    let b = c.query("book", json!({"market": 1})).unwrap();
    assert_eq!(
        b["bids"],
        json!([{"price": "500", "quantity": "30", "orders": 2}])
    );
    let o = c.query("order", json!({"market": 1, "order": id})).unwrap();
    assert_eq!(o["owner"], json!(addr(t(0))));
    assert_eq!(o["side"], "buy");
    assert_eq!(o["position"], 0);
    assert!(matches!(
        c.query("order", json!({"market": 1, "order": 1000})),
        Err(QueryError::NotFound(_))
    ));
    assert!(matches!(
        c.query("market", json!({"market": 9})),
        Err(QueryError::NotFound(_))
    ));
    assert!(matches!(
        c.query("nope", json!({})),
        Err(QueryError::BadRequest(_))
    ));
    assert!(matches!(
        c.query("book", json!({"market": "x"})),
        Err(QueryError::BadRequest(_))
    ));
    let none = c
        .query("claimable", json!({"market": 1, "owner": addr(77)}))
        .unwrap();
    assert_eq!(none["base"], "0");
}

// -------------------------------------------------------- reference model

/// A resting order in the model.
#[derive(Clone, Debug, PartialEq)]
struct MOrder {
    seq: u64,
    owner: u64,
    ticks: u64,
    remaining_lots: u64,
    original_lots: u64,
}

#[derive(Clone, Debug)]
struct MMarket {
    r: MarketRef,
    tick: u128,
    lot: u128,
    maker_bps: u16,
    taker_bps: u16,
    next_seq: u64,
    fees: u128,
    /// Bids and asks, each kept sorted by (price priority, sequence).
    sides: [Vec<MOrder>; 2],
    /// (side, owner) → (base, quote) claimable.
    claims: BTreeMap<(Side, u64), (u128, u128)>,
}

fn ix(side: Side) -> usize {
    side.bit() as usize
}

fn fee_ceil(quote: u128, bps: u16) -> u128 {
    (quote * bps as u128).div_ceil(10_000)
}

impl MMarket {
    fn price(&self, ticks: u64) -> u128 {
        ticks as u128 * self.tick
    }

    fn locked(&self, side: Side, o: &MOrder) -> u128 {
        match side {
            Side::Sell => o.remaining_lots as u128 * self.lot,
            Side::Buy => {
                let p = self.price(o.ticks);
                p * o.remaining_lots as u128 + fee_ceil(p * o.original_lots as u128, self.maker_bps)
                    - fee_ceil(
                        p * (o.original_lots - o.remaining_lots) as u128,
                        self.maker_bps,
                    )
            }
        }
    }

    fn sort(&mut self, side: Side) {
        let v = &mut self.sides[ix(side)];
        match side {
            Side::Buy => v.sort_by_key(|o| (std::cmp::Reverse(o.ticks), o.seq)),
            Side::Sell => v.sort_by_key(|o| (o.ticks, o.seq)),
        }
    }

    fn claim(&mut self, side: Side, owner: u64) -> &mut (u128, u128) {
        self.claims.entry((side, owner)).or_default()
    }

    fn take_claims(&mut self, sides: &[Side], owner: u64) -> (u128, u128) {
        let mut out = (0, 0);
        for s in sides {
            if let Some((b, q)) = self.claims.remove(&(*s, owner)) {
                out.0 += b;
                out.1 += q;
            }
        }
        out
    }

    fn cancelled(&self, side: Side, o: &MOrder, refund: u128, reason: CancelReason) -> BookEvent {
        BookEvent::Cancelled {
            market: self.r.id,
            order: (o.seq << 1) | side.bit(),
            owner: addr(o.owner),
            side,
            price: self.price(o.ticks),
            quantity: o.remaining_lots as u128 * self.lot,
            refund,
            reason,
        }
    }
}

#[derive(Clone, Debug)]
struct Model {
    markets: BTreeMap<u32, MMarket>,
    bal: BTreeMap<(u64, AssetId), u128>,
}

/// Net movement of one account's funds with a market's custody.
#[derive(Default)]
struct Net {
    pay: BTreeMap<AssetId, u128>,
    get: BTreeMap<AssetId, u128>,
}

impl Model {
    fn market(&self, r: &MarketRef) -> Result<MMarket, FailureReason> {
        let m = self
            .markets
            .get(&r.id)
            .ok_or(book_err(BookError::UnknownMarket { market: r.id }))?;
        if m.r != *r {
            return Err(book_err(BookError::WrongAssets {
                market: r.id,
                base: r.base,
                quote: r.quote,
                expected_base: m.r.base,
                expected_quote: m.r.quote,
            }));
        }
        Ok(m.clone())
    }

    /// Applies net flows for `who` (base first, then quote), failing like
    /// the bank would.
    fn settle_net(&mut self, who: u64, m: &MarketRef, net: &Net) -> Result<(), FailureReason> {
        let mut bal = self.bal.clone();
        for asset in [m.base, m.quote] {
            let pay = net.pay.get(&asset).copied().unwrap_or(0);
            let get = net.get.get(&asset).copied().unwrap_or(0);
            let b = bal.entry((who, asset)).or_default();
            if pay > get {
                if *b < pay - get {
                    return Err(FailureReason::InsufficientBalance {
                        asset,
                        needed: pay - get,
                        available: *b,
                    });
                }
                *b -= pay - get;
            } else {
                *b += get - pay;
            }
        }
        self.bal = bal;
        Ok(())
    }

    fn apply(&mut self, who: u64, action: &BookAction) -> Result<Vec<BookEvent>, FailureReason> {
        validate(action).map_err(book_err)?;
        match action {
            BookAction::Place {
                market,
                side,
                kind,
                price,
                quantity,
                tif,
            } => self.place(who, market, *side, *kind, *price, *quantity, *tif),
            BookAction::Cancel { market, order } => {
                let mut m = self.market(market)?;
                let side = Side::of_order(*order);
                let pos = m.sides[ix(side)]
                    .iter()
                    .position(|o| o.seq == *order >> 1)
                    .ok_or(book_err(BookError::UnknownOrder {
                        market: market.id,
                        order: *order,
                    }))?;
                let o = m.sides[ix(side)][pos].clone();
                if o.owner != who {
                    return Err(book_err(BookError::NotOrderOwner {
                        order: *order,
                        owner: addr(o.owner),
                    }));
                }
                let refund = m.locked(side, &o);
                m.sides[ix(side)].remove(pos);
                let mut events = vec![m.cancelled(side, &o, refund, CancelReason::User)];
                let mut net = Net::default();
                let asset = if side == Side::Buy {
                    market.quote
                } else {
                    market.base
                };
                *net.get.entry(asset).or_default() += refund;
                self.finish(who, m, &[side], net, &mut events)?;
                Ok(events)
            }
            BookAction::CancelAll { market } => {
                let mut m = self.market(market)?;
                let mut events = Vec::new();
                let mut net = Net::default();
                for side in [Side::Buy, Side::Sell] {
                    let (mine, rest): (Vec<_>, Vec<_>) = m.sides[ix(side)]
                        .clone()
                        .into_iter()
                        .partition(|o| o.owner == who);
                    for o in &mine {
                        let refund = m.locked(side, o);
                        events.push(m.cancelled(side, o, refund, CancelReason::User));
                        let asset = if side == Side::Buy {
                            market.quote
                        } else {
                            market.base
                        };
                        *net.get.entry(asset).or_default() += refund;
                    }
                    m.sides[ix(side)] = rest;
                }
                if events.is_empty() {
                    return Err(book_err(BookError::NothingToCancel {
                        market: market.id,
                        owner: addr(who),
                    }));
                }
                self.finish(who, m, &[Side::Buy, Side::Sell], net, &mut events)?;
                Ok(events)
            }
            BookAction::Settle { market, owner } => {
                let mut m = self.market(market)?;
                let seed = seed_of(owner);
                let (b, q) = m.take_claims(&[Side::Buy, Side::Sell], seed);
                if (b, q) == (0, 0) {
                    return Err(book_err(BookError::NothingToSettle {
                        market: market.id,
                        owner: *owner,
                    }));
                }
                *self.bal.entry((seed, market.base)).or_default() += b;
                *self.bal.entry((seed, market.quote)).or_default() += q;
                self.markets.insert(market.id, m);
                Ok(vec![BookEvent::Settled {
                    market: market.id,
                    owner: *owner,
                    base: b,
                    quote: q,
                }])
            }
            BookAction::WithdrawFees { market, to, amount } => {
                if who != ADMIN {
                    return Err(FailureReason::NotAdmin { sender: addr(who) });
                }
                let mut m = self.market(market)?;
                if m.fees == 0 {
                    return Err(book_err(BookError::NoFeesAccrued { market: market.id }));
                }
                let amount = amount.unwrap_or(m.fees);
                if amount > m.fees {
                    return Err(book_err(BookError::FeesInsufficient {
                        requested: amount,
                        accrued: m.fees,
                    }));
                }
                m.fees -= amount;
                *self.bal.entry((seed_of(to), market.quote)).or_default() += amount;
                self.markets.insert(market.id, m);
                Ok(vec![BookEvent::FeesWithdrawn {
                    market: market.id,
                    to: *to,
                    amount,
                }])
            }
            BookAction::CreateMarket { .. } => unreachable!("not generated"),
        }
    }

    /// Pays `who` its claims on `sides`, applies the net flows, stores `m`.
    fn finish(
        &mut self,
        who: u64,
        mut m: MMarket,
        sides: &[Side],
        mut net: Net,
        events: &mut Vec<BookEvent>,
    ) -> Result<(), FailureReason> {
        let (b, q) = m.take_claims(sides, who);
        if (b, q) != (0, 0) {
            *net.get.entry(m.r.base).or_default() += b;
            *net.get.entry(m.r.quote).or_default() += q;
            events.push(BookEvent::Settled {
                market: m.r.id,
                owner: addr(who),
                base: b,
                quote: q,
            });
        }
        self.settle_net(who, &m.r, &net)?;
        self.markets.insert(m.r.id, m);
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn place(
        &mut self,
        who: u64,
        r: &MarketRef,
        side: Side,
        kind: OrderKind,
        price: u128,
        quantity: u128,
        tif: TimeInForce,
    ) -> Result<Vec<BookEvent>, FailureReason> {
        let mut m = self.market(r)?;
        if !quantity.is_multiple_of(m.lot) {
            return Err(book_err(BookError::QuantityNotOnLot {
                quantity,
                lot_size: m.lot,
            }));
        }
        let lots = (quantity / m.lot) as u64;
        let limit = match kind {
            OrderKind::Market => None,
            OrderKind::Limit => {
                if !price.is_multiple_of(m.tick) {
                    return Err(book_err(BookError::PriceNotOnTick {
                        price,
                        tick_size: m.tick,
                    }));
                }
                Some((price / m.tick) as u64)
            }
        };
        let seq = m.next_seq;
        m.next_seq += 1;
        let id = (seq << 1) | side.bit();
        let opp = side.opposite();
        let crosses = |ticks: u64| match (side, limit) {
            (_, None) => true,
            (Side::Buy, Some(l)) => ticks <= l,
            (Side::Sell, Some(l)) => ticks >= l,
        };
        if tif == TimeInForce::PostOnly
            && let Some(best) = m.sides[ix(opp)].first()
            && crosses(best.ticks)
        {
            return Err(book_err(BookError::WouldTake {
                price,
                best: m.price(best.ticks),
            }));
        }
        let mut events = Vec::new();
        let mut net = Net::default();
        let mut left = lots;
        let (mut taken, mut taken_quote) = (0u64, 0u128);
        let book = std::mem::take(&mut m.sides[ix(opp)]);
        let mut kept = Vec::new();
        for mut o in book {
            if left == 0 || !crosses(o.ticks) {
                kept.push(o);
                continue;
            }
            if o.owner == who {
                let refund = m.locked(opp, &o);
                events.push(m.cancelled(opp, &o, refund, CancelReason::SelfTrade));
                let asset = if opp == Side::Buy { r.quote } else { r.base };
                *net.get.entry(asset).or_default() += refund;
                continue;
            }
            let k = left.min(o.remaining_lots);
            let p = m.price(o.ticks);
            let quote = p * k as u128;
            let base = k as u128 * m.lot;
            let filled = (o.original_lots - o.remaining_lots) as u128;
            let maker_fee =
                fee_ceil(p * (filled + k as u128), m.maker_bps) - fee_ceil(p * filled, m.maker_bps);
            match side {
                Side::Buy => {
                    m.claim(opp, o.owner).1 += quote - maker_fee;
                    *net.pay.entry(r.quote).or_default() += quote;
                    *net.get.entry(r.base).or_default() += base;
                }
                Side::Sell => {
                    m.claim(opp, o.owner).0 += base;
                    *net.pay.entry(r.base).or_default() += base;
                    *net.get.entry(r.quote).or_default() += quote;
                }
            }
            m.fees += maker_fee;
            taken += k;
            taken_quote += quote;
            left -= k;
            events.push(BookEvent::Fill {
                market: r.id,
                taker_order: id,
                maker_order: (o.seq << 1) | opp.bit(),
                maker: addr(o.owner),
                taker_side: side,
                price: p,
                quantity: base,
                quote,
                maker_fee,
            });
            o.remaining_lots -= k;
            if o.remaining_lots > 0 {
                kept.push(o);
            }
        }
        m.sides[ix(opp)] = kept;
        if taken > 0 {
            let fee = fee_ceil(taken_quote, m.taker_bps);
            *net.pay.entry(r.quote).or_default() += fee;
            m.fees += fee;
            events.push(BookEvent::Taken {
                market: r.id,
                order: id,
                side,
                quantity: taken as u128 * m.lot,
                quote: taken_quote,
                fee,
            });
        }
        if left > 0 {
            match (tif, limit) {
                (TimeInForce::Fok, _) => {
                    return Err(book_err(BookError::NotFillable {
                        quantity,
                        fillable: taken as u128 * m.lot,
                    }));
                }
                (TimeInForce::Gtc | TimeInForce::PostOnly, Some(ticks)) => {
                    let mine = m.sides[ix(side)].iter().filter(|o| o.owner == who).count();
                    if mine >= MAX_ORDERS_PER_OWNER {
                        return Err(book_err(BookError::OwnerOrderLimit {
                            owner: addr(who),
                            side,
                            max: MAX_ORDERS_PER_OWNER as u32,
                        }));
                    }
                    assert!(
                        m.sides[ix(side)].len() < MAX_ORDERS_PER_SIDE,
                        "random tests stay below a full side"
                    );
                    let o = MOrder {
                        seq,
                        owner: who,
                        ticks,
                        remaining_lots: left,
                        original_lots: left,
                    };
                    let lock = m.locked(side, &o);
                    let asset = if side == Side::Buy { r.quote } else { r.base };
                    *net.pay.entry(asset).or_default() += lock;
                    m.sides[ix(side)].push(o);
                    m.sort(side);
                    events.push(BookEvent::Rested {
                        market: r.id,
                        order: id,
                        owner: addr(who),
                        side,
                        price: m.price(ticks),
                        quantity: left as u128 * m.lot,
                        locked: lock,
                    });
                }
                _ => events.push(BookEvent::Unfilled {
                    market: r.id,
                    order: id,
                    quantity: left as u128 * m.lot,
                }),
            }
        }
        self.finish(who, m, &[Side::Buy, Side::Sell], net, &mut events)?;
        Ok(events)
    }

    /// Compares the model with the chain's state.
    fn assert_matches(&self, c: &Chain, traders: u64) {
        for (id, m) in &self.markets {
            let state_m = c.market(*id);
            assert_eq!(state_m.fees, m.fees, "fees of market {id}");
            assert_eq!(state_m.next_seq, m.next_seq);
            for side in [Side::Buy, Side::Sell] {
                let s = c.side(*id, side);
                let orders: Vec<MOrder> = s
                    .orders
                    .iter()
                    .map(|o| MOrder {
                        seq: o.seq,
                        owner: seed_of(&s.owners[o.owner as usize].owner),
                        ticks: o.price_ticks,
                        remaining_lots: o.remaining_lots,
                        original_lots: o.original_lots,
                    })
                    .collect();
                assert_eq!(orders, m.sides[ix(side)], "{side} side of market {id}");
                let claims: BTreeMap<u64, (u128, u128)> = s
                    .owners
                    .iter()
                    .filter(|e| e.base > 0 || e.quote > 0)
                    .map(|e| (seed_of(&e.owner), (e.base, e.quote)))
                    .collect();
                let model: BTreeMap<u64, (u128, u128)> = m
                    .claims
                    .iter()
                    .filter(|((s, _), v)| *s == side && **v != (0, 0))
                    .map(|((_, o), v)| (*o, *v))
                    .collect();
                assert_eq!(claims, model, "claims on the {side} side of market {id}");
            }
        }
        for who in (0..traders).map(t).chain([ADMIN]) {
            for asset in [GOLD, USD, SILVER] {
                assert_eq!(
                    c.bal(who, asset),
                    self.bal.get(&(who, asset)).copied().unwrap_or(0),
                    "balance of {who} in {asset}"
                );
            }
        }
    }
}

// -------------------------------------------------------- property tests

/// The two markets of the random tests.
const P1: MarketRef = MarketRef {
    id: 1,
    base: GOLD,
    quote: USD,
};
const P2: MarketRef = MarketRef {
    id: 2,
    base: SILVER,
    quote: GOLD,
};

#[derive(Clone, Debug)]
enum OpSpec {
    Place {
        who: u64,
        market: usize,
        side: Side,
        market_order: bool,
        /// Ticks around 100.
        offset: i64,
        lots: u64,
        tif: TimeInForce,
        /// 0: none; 1: off tick; 2: off lot; 3: zero; 4: wrong assets.
        bad: u8,
    },
    Cancel {
        who: u64,
        market: usize,
        /// Picks among all resting orders of the market (often someone
        /// else's), or an unknown id.
        pick: usize,
        own: bool,
    },
    CancelAll {
        who: u64,
        market: usize,
    },
    Settle {
        who: u64,
        owner: u64,
        market: usize,
    },
    Withdraw {
        admin: bool,
        market: usize,
        amount: Option<u128>,
    },
}

fn op(traders: u64) -> impl Strategy<Value = OpSpec> {
    let tif = prop_oneof![
        5 => Just(TimeInForce::Gtc),
        2 => Just(TimeInForce::Ioc),
        2 => Just(TimeInForce::Fok),
        2 => Just(TimeInForce::PostOnly),
    ];
    let bad = prop_oneof![20 => Just(0u8), 1 => 1..5u8];
    prop_oneof![
        12 => (0..traders, 0..2usize, prop_oneof![Just(Side::Buy), Just(Side::Sell)],
               prop::bool::weighted(0.15), -6..7i64, 1..25u64, tif, bad)
            .prop_map(|(who, market, side, market_order, offset, lots, tif, bad)| OpSpec::Place {
                who, market, side, market_order, offset, lots,
                tif: if market_order && !matches!(tif, TimeInForce::Fok) { TimeInForce::Ioc } else { tif },
                bad,
            }),
        4 => (0..traders, 0..2usize, any::<usize>(), prop::bool::weighted(0.8))
            .prop_map(|(who, market, pick, own)| OpSpec::Cancel { who, market, pick, own }),
        1 => (0..traders, 0..2usize).prop_map(|(who, market)| OpSpec::CancelAll { who, market }),
        2 => (0..traders, 0..traders, 0..2usize)
            .prop_map(|(who, owner, market)| OpSpec::Settle { who, owner, market }),
        1 => (prop::bool::weighted(0.8), 0..2usize, prop::option::of(1..50u128))
            .prop_map(|(admin, market, amount)| OpSpec::Withdraw { admin, market, amount }),
    ]
}

fn to_action(spec: &OpSpec, model: &Model) -> (u64, BookAction) {
    let refs = [P1, P2];
    match spec {
        OpSpec::Place {
            who,
            market,
            side,
            market_order,
            offset,
            lots,
            tif,
            bad,
        } => {
            let m = &model.markets[&refs[*market].id];
            let mut r = refs[*market];
            let ticks = (100 + offset) as u128;
            let (mut price, mut quantity) = (ticks * m.tick, *lots as u128 * m.lot);
            match bad {
                1 => price += 1,
                2 => quantity += 1,
                3 => quantity = 0,
                4 => std::mem::swap(&mut r.base, &mut r.quote),
                _ => {}
            }
            let action = if *market_order {
                BookAction::Place {
                    market: r,
                    side: *side,
                    kind: OrderKind::Market,
                    price: 0,
                    quantity,
                    tif: *tif,
                }
            } else {
                limit(r, *side, price, quantity, *tif)
            };
            (t(*who), action)
        }
        OpSpec::Cancel {
            who,
            market,
            pick,
            own,
        } => {
            let r = refs[*market];
            let m = &model.markets[&r.id];
            let all: Vec<u64> = [Side::Buy, Side::Sell]
                .into_iter()
                .flat_map(|s| {
                    m.sides[ix(s)]
                        .iter()
                        .filter(|o| !*own || o.owner == t(*who))
                        .map(move |o| (o.seq << 1) | s.bit())
                })
                .collect();
            let order = if all.is_empty() || pick % 10 == 0 {
                (*pick as u64) % 1_000
            } else {
                all[pick % all.len()]
            };
            (t(*who), cancel(r, order))
        }
        OpSpec::CancelAll { who, market } => (
            t(*who),
            BookAction::CancelAll {
                market: refs[*market],
            },
        ),
        OpSpec::Settle { who, owner, market } => (
            t(*who),
            BookAction::Settle {
                market: refs[*market],
                owner: addr(t(*owner)),
            },
        ),
        OpSpec::Withdraw {
            admin,
            market,
            amount,
        } => (
            if *admin { ADMIN } else { t(0) },
            BookAction::WithdrawFees {
                market: refs[*market],
                to: addr(ADMIN),
                amount: *amount,
            },
        ),
    }
}

/// Per trader: modest funds, so some orders fail for want of them.
fn modest(i: u64) -> Funding {
    Funding {
        gold: 3_000 + 2_000 * (i % 3) as u128,
        usd: 15_000 + 5_000 * (i % 4) as u128,
        silver: 20 + 10 * (i % 5) as u128,
    }
}

/// What the random tests exercised, to make sure they mean something.
#[derive(Default, Debug)]
struct Coverage {
    outcomes: BTreeMap<String, usize>,
}

impl Coverage {
    fn note(&mut self, what: impl Into<String>) {
        *self.outcomes.entry(what.into()).or_default() += 1;
    }

    fn note_receipt(&mut self, r: &Receipt) {
        match &r.status {
            TxStatus::Success => {
                for e in book_events(r) {
                    let name = match e {
                        BookEvent::Cancelled { reason, .. } => format!("cancelled:{reason}"),
                        other => other.variant_name().to_string(),
                    };
                    self.note(name);
                }
            }
            TxStatus::Failed { error } => self.note(match error {
                FailureReason::Book(e) => format!("failed:{}", e.variant_name()),
                other => format!("failed:{}", serde_json::to_value(other).unwrap()["reason"]),
            }),
        }
    }

    fn at_least(&self, what: &str, n: usize) {
        let seen = self.outcomes.get(what).copied().unwrap_or(0);
        assert!(seen >= n, "only {seen} {what} in {:#?}", self.outcomes);
    }
}

fn random_flow(traders: u64, cases: u32, max_block: usize) {
    let coverage = std::cell::RefCell::new(Coverage::default());
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop::collection::vec(prop::collection::vec(op(traders), 1..max_block), 2..10);
    let result = runner.run(&strategy, |blocks| {
        let mut c = Chain::new(traders, modest);
        // Market 1: GOLD/USD tick 5 per lot of 10, maker 10 bps, taker 30 bps.
        // Market 2: SILVER/GOLD tick 1 per lot of 1, maker 0, taker 25 bps.
        c.ok(ADMIN, create(1, GOLD, USD, 5, 10, 10, 30));
        c.ok(ADMIN, create(2, SILVER, GOLD, 1, 1, 0, 25));
        let mut model = Model {
            markets: [P1, P2]
                .into_iter()
                .zip([(5, 10, 10, 30), (1, 1, 0, 25)])
                .map(|(r, (tick, lot, maker_bps, taker_bps))| {
                    (
                        r.id,
                        MMarket {
                            r,
                            tick,
                            lot,
                            maker_bps,
                            taker_bps,
                            next_seq: 1,
                            fees: 0,
                            sides: [Vec::new(), Vec::new()],
                            claims: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
            bal: BTreeMap::new(),
        };
        for who in (0..traders).map(t).chain([ADMIN]) {
            for asset in [GOLD, USD, SILVER] {
                model.bal.insert((who, asset), c.bal(who, asset));
            }
        }
        for ops in blocks {
            let actions: Vec<(u64, BookAction)> =
                ops.iter().map(|o| to_action(o, &model)).collect();
            let txs: Vec<SignedTransaction> = actions
                .iter()
                .map(|(who, a)| c.sign(*who, a.clone()))
                .collect();
            let receipts = c.block(&txs);
            for r in &receipts {
                coverage.borrow_mut().note_receipt(r);
            }
            for ((who, action), receipt) in actions.iter().zip(&receipts) {
                let before = model.clone();
                let expected = model.apply(*who, action);
                match (&expected, &receipt.status) {
                    (Ok(events), TxStatus::Success) => {
                        prop_assert_eq!(&book_events(receipt), events, "{:?}", action);
                        if let BookAction::Place {
                            side,
                            kind: OrderKind::Limit,
                            price,
                            tif,
                            ..
                        } = action
                        {
                            for e in events {
                                if let BookEvent::Fill { price: p, .. } = e {
                                    // Fills never breach the taker's limit.
                                    let within = match side {
                                        Side::Buy => p <= price,
                                        Side::Sell => p >= price,
                                    };
                                    prop_assert!(within, "fill at {} beyond limit {}", p, price);
                                    prop_assert!(*tif != TimeInForce::PostOnly);
                                }
                            }
                        }
                    }
                    (Err(e), TxStatus::Failed { error }) => {
                        prop_assert_eq!(e, error, "{:?}", action);
                        model = before;
                    }
                    (e, s) => {
                        return Err(TestCaseError::fail(format!(
                            "{action:?}: model {e:?}, chain {s:?}"
                        )));
                    }
                }
            }
            model.assert_matches(&c, traders);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let coverage = coverage.into_inner();
    for what in [
        "Fill",
        "Taken",
        "Rested",
        "Unfilled",
        "Settled",
        "FeesWithdrawn",
        "cancelled:user",
        "cancelled:self_trade",
        "failed:NotFillable",
        "failed:WouldTake",
        "failed:UnknownOrder",
        "failed:NotOrderOwner",
        "failed:PriceNotOnTick",
        "failed:QuantityNotOnLot",
        "failed:WrongAssets",
        "failed:NothingToSettle",
        "failed:\"insufficient_balance\"",
    ] {
        coverage.at_least(what, 3);
    }
    coverage.at_least("Fill", 200);
}

#[test]
fn random_order_flow_matches_the_model_few_hot_accounts() {
    random_flow(4, 64, 30);
}

#[test]
fn random_order_flow_matches_the_model_many_accounts() {
    random_flow(24, 48, 60);
}
