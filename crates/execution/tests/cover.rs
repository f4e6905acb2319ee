//! The cover module through real blocks: every action's success and failure
//! paths with exact numbers, the hostile cases, queries, and property tests
//! of the pool invariants over random actions from many accounts and blocks,
//! each block also run by the parallel executor and compared.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use commonware_codec::{Decode, Read};
use lakh_execution::modules::cover::{keys, math, state};
use lakh_execution::{
    BlockEnv, BlockOutcome, Mode, execute_block, execute_block_parallel, modules::run_query,
};
use lakh_state::{StateKey, StateValue};
use lakh_types::codec::{BoundedVec, Text};
use lakh_types::modules::cover::*;
use lakh_types::{
    Action, Address, AssetId, Event, FailureReason, Receipt, TransferEntry, TxStatus,
    fees::required_fee,
};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::num::NonZeroUsize;

/// Seeds of the accounts that act in these tests (all funded by `Chain::new`).
const ACTORS: [u64; 10] = [1, 2, 3, 4, 5, 6, 10, 11, 12, 13];
/// GOLD and STK each actor holds after setup.
const START_GOLD: u128 = 1_000_000_000_000;
const START_STK: u128 = 1_000_000_000;
const ADMIN: u64 = 0;
const POOL: PoolId = 1;

fn stk() -> AssetId {
    AssetId::derive(addr(ADMIN).as_bytes(), 0)
}

fn risk(s: &str) -> RiskName {
    Text::new(s).expect("short risk name")
}

/// The pool most tests use: GOLD capital, STK stake, 80% capacity,
/// 0.01%/block base rate plus 0.1%/block at full utilization, 10-block votes,
/// quorum 1000, covers of 5..=100 blocks (epochs of 4 blocks).
fn params() -> PoolParams {
    PoolParams {
        capital_asset: GOLD,
        stake_asset: stk(),
        capacity_bps: 8_000,
        base_rate: WAD / 10_000,
        slope_rate: WAD / 1_000,
        voting_period_blocks: 10,
        quorum: 1_000,
        min_period_blocks: 5,
        max_period_blocks: 100,
        risks: BoundedVec::new(vec![risk("dex:ETH/USDC"), risk("lend:GOLD")]).unwrap(),
    }
}

/// A chain of blocks over the test state: each block runs sequentially and in
/// parallel (no small-block threshold), must give identical outcomes and
/// changes, is committed, then every invariant is checked.
struct Chain {
    state: State,
    /// Height of the next block.
    height: u64,
    native_total: u128,
}

impl Chain {
    fn new() -> Chain {
        let mut chain = Chain {
            state: genesis_state(),
            height: 1,
            native_total: native_total(),
        };
        let mut setup = vec![Action::CreateAsset {
            symbol: sym("STK"),
            decimals: 6,
            max_supply: None,
            initial_supply: START_STK * ACTORS.len() as u128 * 2,
        }];
        for &a in &ACTORS {
            setup.push(Action::Mint {
                asset: GOLD,
                to: addr(a),
                amount: START_GOLD,
            });
        }
        let mut entries = Vec::new();
        for &a in &ACTORS {
            entries.push(TransferEntry {
                to: addr(a),
                asset: stk(),
                amount: START_STK,
            });
            if a >= 10 {
                entries.push(TransferEntry {
                    to: addr(a),
                    asset: AssetId::NATIVE,
                    amount: 10_000_000,
                });
            }
        }
        setup.push(Action::MultiTransfer { entries });
        let receipts = chain.block(setup.into_iter().map(|a| (ADMIN, a)).collect());
        assert!(
            receipts.iter().all(|r| r.status.is_success()),
            "{receipts:?}"
        );
        chain
    }

    /// Runs one block of `(sender, action)` at `self.height`, then moves to the next height.
    fn block(&mut self, txs: Vec<(u64, Action)>) -> Vec<Receipt> {
        let (outcome, changes) = run_both(&self.state, self.height, &txs);
        commit(&mut self.state, &changes);
        check_invariants(&self.state, self.native_total);
        check_cover(&self.state, self.height);
        self.height += 1;
        outcome.receipts
    }

    fn tx(&mut self, seed: u64, action: CoverAction) -> Receipt {
        self.block(vec![(seed, Action::Cover(Box::new(action)))])
            .remove(0)
    }

    /// Sends `action`, which must succeed; returns its cover events.
    fn ok(&mut self, seed: u64, action: CoverAction) -> Vec<CoverEvent> {
        let r = self.tx(seed, action.clone());
        assert_eq!(r.status, TxStatus::Success, "{action:?}");
        cover_events(&r)
    }

    /// Sends `action`, which must fail; returns the reason.
    fn fails(&mut self, seed: u64, action: CoverAction) -> FailureReason {
        let r = self.tx(seed, action.clone());
        match r.status {
            TxStatus::Failed { error } => {
                assert!(r.events.is_empty(), "a failed action leaves no events");
                error
            }
            TxStatus::Success => panic!("{action:?} succeeded"),
        }
    }

    fn skip_to(&mut self, height: u64) {
        assert!(height >= self.height);
        self.height = height;
    }

    fn object<T: Read<Cfg = ()>>(&self, key: &StateKey) -> Option<T> {
        match self.state.get(key) {
            Some(StateValue::Object(b)) => Some(T::decode_cfg(b.clone(), &()).expect("decodes")),
            None => None,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn pool_state(&self, pool: PoolId) -> PoolState {
        self.object(&keys::state(pool)).expect("pool exists")
    }

    fn cover(&self, id: CoverId) -> Cover {
        self.object(&keys::cover(id)).expect("cover exists")
    }

    fn claim(&self, id: ClaimId) -> Claim {
        self.object(&keys::claim(id)).expect("claim exists")
    }

    fn shares(&self, pool: PoolId, seed: u64) -> u128 {
        self.object::<Position>(&keys::position(pool, &addr(seed)))
            .map_or(0, |p| p.shares)
    }

    fn gold(&self, seed: u64) -> u128 {
        balance(&self.state, &addr(seed), GOLD)
    }

    /// A query against the committed state, at the last block's height.
    fn query(&self, method: &str, params: Value) -> Value {
        run_query("cover", method, &params, self.height - 1, 64, |k| {
            Ok(self.state.get(k).cloned())
        })
        .unwrap_or_else(|e| panic!("query {method} {params}: {e}"))
    }

    fn nonce_of(&self, seed: u64) -> u64 {
        nonce(&self.state, &addr(seed))
    }

    fn create_pool(&mut self, pool: PoolId, params: PoolParams) {
        let events = self.ok(ADMIN, CoverAction::CreatePool { pool, params });
        assert!(matches!(events[..], [CoverEvent::PoolCreated { .. }]));
    }

    fn provide(&mut self, seed: u64, amount: u128) -> u128 {
        let events = self.ok(seed, provide(POOL, amount, 0));
        match events.last() {
            Some(CoverEvent::Provided { shares, .. }) => *shares,
            other => panic!("{other:?}"),
        }
    }

    /// Buys cover on the first risk; returns its id and premium.
    fn buy(&mut self, seed: u64, amount: u128, blocks: u64) -> (CoverId, u128) {
        let expected = cover_id(&addr(seed), self.nonce_of(seed));
        let events = self.ok(seed, buy(POOL, "dex:ETH/USDC", amount, blocks, u128::MAX));
        match events.last() {
            Some(CoverEvent::CoverBought { cover, premium, .. }) => {
                assert_eq!(*cover, expected);
                (*cover, *premium)
            }
            other => panic!("{other:?}"),
        }
    }

    fn file(&mut self, seed: u64, cover: CoverId, amount: u128) -> ClaimId {
        let expected = claim_id(&addr(seed), self.nonce_of(seed));
        let events = self.ok(
            seed,
            CoverAction::FileClaim {
                pool: POOL,
                cover,
                amount,
            },
        );
        match events.last() {
            Some(CoverEvent::ClaimFiled { claim, .. }) => {
                assert_eq!(*claim, expected);
                *claim
            }
            other => panic!("{other:?}"),
        }
    }

    fn stake(&mut self, seed: u64, amount: u128) {
        self.ok(
            seed,
            CoverAction::StakeAssessor {
                pool: POOL,
                asset: stk(),
                amount,
            },
        );
    }

    fn vote(&mut self, seed: u64, claim: ClaimId, approve: bool) {
        self.ok(
            seed,
            CoverAction::Vote {
                pool: POOL,
                claim,
                approve,
            },
        );
    }

    fn resolve_action(&self, claim: ClaimId) -> CoverAction {
        let c = self.claim(claim);
        CoverAction::Resolve {
            pool: c.pool,
            asset: GOLD,
            cover: c.cover,
            claim,
            claimant: c.claimant,
        }
    }

    /// Resolves `claim` (sent by account 6); returns the status and payout.
    fn resolve(&mut self, claim: ClaimId) -> (ClaimStatus, u128) {
        let action = self.resolve_action(claim);
        let events = self.ok(6, action);
        match events.last() {
            Some(CoverEvent::ClaimResolved { status, payout, .. }) => (*status, *payout),
            other => panic!("{other:?}"),
        }
    }
}

fn provide(pool: PoolId, amount: u128, min_shares: u128) -> CoverAction {
    CoverAction::Provide {
        pool,
        asset: GOLD,
        amount,
        min_shares,
    }
}

fn withdraw(pool: PoolId, shares: u128, min_amount: u128) -> CoverAction {
    CoverAction::Withdraw {
        pool,
        asset: GOLD,
        shares,
        min_amount,
    }
}

fn buy(pool: PoolId, r: &str, amount: u128, blocks: u64, max_premium: u128) -> CoverAction {
    CoverAction::Buy {
        pool,
        asset: GOLD,
        risk: risk(r),
        amount,
        blocks,
        max_premium,
    }
}

fn cover_events(r: &Receipt) -> Vec<CoverEvent> {
    r.events
        .iter()
        .filter_map(|e| match e {
            Event::Cover(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn cover_err(reason: FailureReason) -> CoverError {
    match reason {
        FailureReason::Cover(e) => e,
        other => panic!("not a cover failure: {other:?}"),
    }
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
            let fee = required_fee(action, BASE_FEE);
            sign(*seed, *n - 1, fee, action.clone())
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
    let outcome =
        execute_block(&env, &signed, &mut sequential, Mode::Verify).expect("block executes");
    let mut parallel = prefetch(state, &env, &signed);
    let threads = NonZeroUsize::new(3).expect("nonzero");
    let parallel_outcome =
        execute_block_parallel(&env, &signed, &mut parallel, Mode::Verify, threads, 0)
            .expect("block executes in parallel");
    assert_eq!(parallel_outcome, outcome, "parallel receipts differ");
    let changes: Vec<_> = sequential.into_changes().collect();
    let parallel_changes: Vec<_> = parallel.into_changes().collect();
    assert_eq!(parallel_changes, changes, "parallel changes differ");
    (outcome, changes.into_iter().collect())
}

fn id_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"))
}

fn id_addr(bytes: &[u8]) -> Address {
    Address(bytes[8..40].try_into().expect("32 bytes"))
}

/// Every object of `kind`, with its id bytes.
fn objects<T: Read<Cfg = ()>>(state: &State, kind: u8) -> Vec<(Vec<u8>, T)> {
    state
        .iter()
        .filter_map(|(k, v)| match (k, v) {
            (StateKey::Object(o), StateValue::Object(b)) if o.kind == kind => Some((
                o.id().to_vec(),
                T::decode_cfg(b.clone(), &()).expect("object decodes"),
            )),
            _ => None,
        })
        .collect()
}

fn holding(state: &State, owner: &Address, asset: AssetId) -> u128 {
    if asset == AssetId::NATIVE {
        native(state, owner)
    } else {
        balance(state, owner, asset)
    }
}

/// The module's invariants over a whole state after the block at `height`:
/// custody balances equal the ledgers, the ledger's totals equal the covers
/// and claims they summarize, exposure within capacity (so no capital behind
/// cover or claims was withdrawn, and every pending claim is payable), votes
/// tallied exactly, payouts within covers.
fn check_cover(state: &State, height: u64) {
    let covers: BTreeMap<u64, Cover> = objects::<Cover>(state, kind::COVER)
        .into_iter()
        .map(|(id, c)| (id_u64(&id), c))
        .collect();
    let claims: BTreeMap<u64, Claim> = objects::<Claim>(state, kind::CLAIM)
        .into_iter()
        .map(|(id, c)| (id_u64(&id), c))
        .collect();
    let positions = objects::<Position>(state, kind::POSITION);
    let assessors = objects::<Assessor>(state, kind::ASSESSOR);
    let votes = objects::<Vote>(state, kind::VOTE);
    let totals: BTreeMap<u64, StakeTotal> = objects::<StakeTotal>(state, kind::STAKE_TOTAL)
        .into_iter()
        .map(|(id, t)| (id_u64(&id), t))
        .collect();

    for (id, params) in objects::<PoolParams>(state, kind::POOL_PARAMS) {
        let pool = id_u64(&id);
        let stored = objects::<PoolState>(state, kind::POOL_STATE)
            .into_iter()
            .find(|(i, _)| id_u64(i) == pool)
            .map(|(_, s)| s)
            .expect("pool has a ledger");
        let e = params.epoch_blocks();

        // Capital: custody balance == tracked capital == its history.
        assert_eq!(
            holding(state, &capital_custody(pool), params.capital_asset),
            stored.capital,
            "capital custody of pool {pool}"
        );
        assert_eq!(
            stored.deposited + stored.premiums - stored.paid_out - stored.withdrawn,
            stored.capital,
            "capital history of pool {pool}"
        );
        // Shares: the locked ones plus the positions.
        let position_shares: u128 = positions
            .iter()
            .filter(|(i, _)| id_u64(i) == pool)
            .map(|(_, p)| {
                assert!(p.shares > 0, "empty position stored");
                p.shares
            })
            .sum();
        if stored.total_shares == 0 {
            assert_eq!(position_shares, 0);
        } else {
            assert_eq!(stored.total_shares, LOCKED_SHARES + position_shares);
        }
        // Stake: custody == total == sum of assessors.
        let stake: u128 = assessors
            .iter()
            .filter(|(i, _)| id_u64(i) == pool)
            .map(|(_, a)| a.stake)
            .sum();
        let total = totals.get(&pool).map_or(0, |t| t.total);
        assert_eq!(stake, total, "assessor stakes of pool {pool}");
        assert_eq!(
            holding(state, &stake_custody(pool), params.stake_asset),
            total,
            "stake custody of pool {pool}"
        );

        // The ledger summarizes the covers and claims exactly.
        let mut rolled = stored.clone();
        state::roll(&mut rolled, pool, e, height).expect("rolls");
        let release_height =
            |c: &Cover| state::release_height(c.release_epoch, e).unwrap_or(u64::MAX);
        let mut active = 0u128;
        let mut per_epoch: BTreeMap<u64, (u128, u128)> = BTreeMap::new();
        let mut released_claims = 0u128;
        let mut pending = 0u128;
        for (cid, c) in covers.iter().filter(|(_, c)| c.pool == pool) {
            assert!(c.paid <= c.amount, "cover {cid} paid above its amount");
            assert!(c.end_height <= release_height(c) && c.start_height < c.end_height);
            let open = c.open_claim.map(|id| {
                let claim = &claims[&id];
                assert_eq!(claim.status, ClaimStatus::Open);
                assert_eq!(claim.cover, *cid);
                assert!(claim.amount <= c.remaining());
                claim.amount
            });
            if release_height(c) > height {
                active += c.remaining();
                let slot = per_epoch.entry(c.release_epoch).or_default();
                slot.0 += c.remaining();
                slot.1 += open.unwrap_or(0);
            } else {
                released_claims += open.unwrap_or(0);
            }
            pending += open.unwrap_or(0);
        }
        assert_eq!(rolled.active_cover, active, "active cover of pool {pool}");
        assert_eq!(rolled.released_claims, released_claims);
        assert_eq!(rolled.pending_claims, pending);
        assert_eq!(stored.pending_claims, pending);
        let buckets: BTreeMap<u64, (u128, u128)> = rolled
            .buckets
            .iter()
            .filter(|b| b.cover > 0 || b.claimed > 0)
            .map(|b| (b.epoch, (b.cover, b.claimed)))
            .collect();
        let expected: BTreeMap<u64, (u128, u128)> = per_epoch
            .into_iter()
            .filter(|(_, v)| *v != (0, 0))
            .collect();
        assert_eq!(buckets, expected, "expiry schedule of pool {pool}");
        assert!(rolled.buckets.windows(2).all(|w| w[0].epoch < w[1].epoch));
        assert!(
            rolled
                .buckets
                .iter()
                .all(|b| b.premium > 0 && b.epoch * e > height)
        );

        // Exposure within capacity, i.e. capital at least what it locks: no
        // withdrawal took capital behind cover or claims, and every pending
        // claim is payable in full.
        for s in [&stored, &rolled] {
            let exposure = state::exposure(s).unwrap();
            assert!(
                exposure <= math::capacity(s.capital, params.capacity_bps).unwrap(),
                "pool {pool}: exposure {exposure} above capacity (capital {})",
                s.capital
            );
            assert!(s.pending_claims <= s.capital);
        }
        assert!(state::unearned(&rolled, e, height).unwrap() <= rolled.premiums);
    }

    // Claims: tallies equal the votes cast; payouts within the claim.
    let mut tally: BTreeMap<u64, (u128, u128, u32)> = BTreeMap::new();
    for (id, v) in &votes {
        let t = tally.entry(id_u64(id)).or_default();
        if v.approve {
            t.0 += v.weight;
        } else {
            t.1 += v.weight;
        }
        t.2 += 1;
        assert_ne!(claims[&id_u64(id)].claimant, id_addr(id), "claimant voted");
    }
    for (id, c) in &claims {
        assert_eq!(
            (c.approve, c.deny, c.voters),
            tally.get(id).copied().unwrap_or_default(),
            "tally of claim {id}"
        );
        assert!(c.payout <= c.amount);
        if c.status != ClaimStatus::Approved {
            assert_eq!(c.payout, 0);
        }
        if c.status == ClaimStatus::Open {
            assert_eq!(covers[&c.cover].open_claim, Some(*id));
        }
    }
}

// ---------------------------------------------------------------------------
// Pool creation

#[test]
fn only_the_admin_creates_valid_pools_once() {
    let mut chain = Chain::new();
    let err = chain.fails(
        1,
        CoverAction::CreatePool {
            pool: POOL,
            params: params(),
        },
    );
    assert_eq!(err, FailureReason::NotAdmin { sender: addr(1) });

    let err = chain.fails(
        ADMIN,
        CoverAction::CreatePool {
            pool: POOL,
            params: PoolParams {
                capacity_bps: 10_001,
                ..params()
            },
        },
    );
    assert!(matches!(cover_err(err), CoverError::BadParams { .. }));
    let err = chain.fails(
        ADMIN,
        CoverAction::CreatePool {
            pool: POOL,
            params: PoolParams {
                capital_asset: AssetId(999),
                ..params()
            },
        },
    );
    assert_eq!(
        err,
        FailureReason::UnknownAsset {
            asset: AssetId(999)
        }
    );

    chain.create_pool(POOL, params());
    let err = chain.fails(
        ADMIN,
        CoverAction::CreatePool {
            pool: POOL,
            params: params(),
        },
    );
    assert_eq!(cover_err(err), CoverError::PoolExists { pool: POOL });
    let q = chain.query("pool", json!({"pool": POOL}));
    assert_eq!(q["capital"], "0");
    assert_eq!(q["epoch_blocks"], 4);
    assert_eq!(q["params"]["risks"], json!(["dex:ETH/USDC", "lend:GOLD"]));
}

#[test]
fn stateless_checks_refuse_zero_amounts_and_bad_params() {
    assert!(check(&provide(POOL, 0, 0)).is_err());
    assert!(check(&withdraw(POOL, 0, 0)).is_err());
    assert!(check(&buy(POOL, "dex:ETH/USDC", 1, 0, 1)).is_err());
    assert!(check(&buy(POOL, "dex:ETH/USDC", 0, 5, 1)).is_err());
    assert!(check(&buy(POOL, "has space", 1, 5, 1)).is_err());
    assert!(
        check(&CoverAction::CreatePool {
            pool: 1,
            params: PoolParams {
                quorum: 0,
                ..params()
            }
        })
        .is_err()
    );
    assert!(check(&buy(POOL, "dex:ETH/USDC", 1, 5, 0)).is_ok());
}

// ---------------------------------------------------------------------------
// Providing and withdrawing capital

#[test]
fn first_deposit_locks_shares_and_later_deposits_price_at_the_share_value() {
    let mut chain = Chain::new();
    chain.create_pool(POOL, params());
    let err = chain.fails(1, provide(POOL, LOCKED_SHARES, 0));
    assert_eq!(
        cover_err(err),
        CoverError::FirstDepositTooSmall {
            amount: LOCKED_SHARES,
            minimum: LOCKED_SHARES + 1
        }
    );
    let before = chain.gold(1);
    assert_eq!(chain.provide(1, 1_000_000), 1_000_000 - LOCKED_SHARES);
    assert_eq!(chain.gold(1), before - 1_000_000);
    // Same price for the second provider (no premiums yet).
    assert_eq!(chain.provide(2, 500_000), 500_000);
    let err = chain.fails(2, provide(POOL, 10, 11));
    assert_eq!(
        cover_err(err),
        CoverError::SharesBelowMinimum {
            shares: 10,
            min_shares: 11
        }
    );
    let err = chain.fails(
        2,
        CoverAction::Provide {
            pool: POOL,
            asset: stk(),
            amount: 10,
            min_shares: 0,
        },
    );
    assert_eq!(
        cover_err(err),
        CoverError::WrongAsset {
            pool: POOL,
            expected: GOLD,
            given: stk()
        }
    );
    let err = chain.fails(2, provide(7, 10, 0));
    assert_eq!(cover_err(err), CoverError::UnknownPool { pool: 7 });
    let err = chain.fails(7, provide(POOL, 10, 0));
    assert!(matches!(err, FailureReason::InsufficientBalance { .. }));

    let st = chain.pool_state(POOL);
    assert_eq!(st.capital, 1_500_000);
    assert_eq!(st.total_shares, 1_500_000);
    // Withdraw all of account 2: 500_000 shares at 1:1.
    let before = chain.gold(2);
    let events = chain.ok(2, withdraw(POOL, 500_000, 500_000));
    assert!(matches!(
        events.last(),
        Some(CoverEvent::Withdrawn {
            amount: 500_000,
            ..
        })
    ));
    assert_eq!(chain.gold(2), before + 500_000);
    assert_eq!(chain.shares(POOL, 2), 0);
    let err = chain.fails(2, withdraw(POOL, 1, 0));
    assert_eq!(
        cover_err(err),
        CoverError::InsufficientShares {
            held: 0,
            requested: 1
        }
    );
    let err = chain.fails(1, withdraw(POOL, 10, 11));
    assert_eq!(
        cover_err(err),
        CoverError::AmountBelowMinimum {
            amount: 10,
            min_amount: 11
        }
    );
}

#[test]
fn premium_follows_the_utilization_curve_and_matches_the_quote() {
    let mut chain = Chain::new();
    chain.create_pool(POOL, params());
    chain.provide(1, 1_000_000);
    // Capacity 800_000. Buying 400_000 takes utilization to 1/2: rate
    // 1e-4 + 1e-3/2 = 6e-4 per block; 20 blocks: 400_000 * 20 * 6e-4 = 4_800.
    let q = chain.query(
        "quote",
        json!({"pool": POOL, "amount": "400000", "blocks": 20, "risk": "dex:ETH/USDC"}),
    );
    assert_eq!(q["ok"], true, "{q}");
    assert_eq!(q["premium"], "4800");
    assert_eq!(q["utilization_after"], (WAD / 2).to_string());
    assert_eq!(q["rate_per_block"], (6 * WAD / 10_000).to_string());

    let err = chain.fails(2, buy(POOL, "dex:ETH/USDC", 400_000, 20, 4_799));
    assert_eq!(
        cover_err(err),
        CoverError::PremiumTooHigh {
            premium: 4_800,
            max_premium: 4_799
        }
    );
    let start = chain.height;
    let before = chain.gold(2);
    let (id, premium) = chain.buy(2, 400_000, 20);
    assert_eq!(premium, 4_800);
    assert_eq!(chain.gold(2), before - 4_800);
    let cover = chain.cover(id);
    assert_eq!(
        (
            cover.start_height,
            cover.end_height,
            cover.amount,
            cover.holder
        ),
        (start, start + 20, 400_000, addr(2))
    );
    // Released at the first 4-block boundary at or after the end.
    assert_eq!(cover.release_epoch, (start + 20).div_ceil(4));

    // The next 400_000 fills the pool: utilization 1, rate 1.1e-3 per
    // block; 10 blocks: 400_000 * 10 * 1.1e-3 = 4_400. Capacity grew by the
    // first premium (80% of 4_800 = 3_840).
    let st = chain.pool_state(POOL);
    assert_eq!(st.capital, 1_004_800);
    assert_eq!(math::capacity(st.capital, 8_000), Some(803_840));
    let q = chain.query(
        "quote",
        json!({"pool": POOL, "amount": "403840", "blocks": 10}),
    );
    assert_eq!(q["ok"], true);
    assert_eq!(q["utilization_after"], WAD.to_string());
    let err = chain.fails(3, buy(POOL, "dex:ETH/USDC", 403_841, 10, u128::MAX));
    assert_eq!(
        cover_err(err),
        CoverError::CapacityExceeded {
            requested: 403_841,
            available: 403_840
        }
    );
    let (_, premium) = chain.buy(3, 403_840, 10);
    assert_eq!(premium, (403_840u128 * 10 * 11).div_ceil(10_000));
    let q = chain.query(
        "quote",
        json!({"pool": POOL, "amount": "10000", "blocks": 10}),
    );
    assert_eq!(q["ok"], false);
    assert_eq!(q["error"]["code"], "capacity_exceeded");
}

#[test]
fn buying_refuses_unknown_risks_periods_and_assets() {
    let mut chain = Chain::new();
    chain.create_pool(POOL, params());
    chain.provide(1, 1_000_000);
    let err = chain.fails(2, buy(POOL, "dex:BTC/USDC", 10, 10, u128::MAX));
    assert_eq!(
        cover_err(err),
        CoverError::UnknownRisk {
            pool: POOL,
            risk: risk("dex:BTC/USDC")
        }
    );
    for blocks in [4, 101] {
        let err = chain.fails(2, buy(POOL, "lend:GOLD", 10, blocks, u128::MAX));
        assert_eq!(
            cover_err(err),
            CoverError::PeriodOutOfRange {
                blocks,
                min: 5,
                max: 100
            }
        );
    }
    let err = chain.fails(
        2,
        CoverAction::Buy {
            pool: POOL,
            asset: AssetId::NATIVE,
            risk: risk("lend:GOLD"),
            amount: 10,
            blocks: 10,
            max_premium: u128::MAX,
        },
    );
    assert!(matches!(cover_err(err), CoverError::WrongAsset { .. }));
    // Account 8 holds no GOLD: the premium cannot be paid.
    chain.block(vec![(
        ADMIN,
        Action::Transfer(TransferEntry {
            to: addr(8),
            asset: AssetId::NATIVE,
            amount: 1_000_000,
        }),
    )]);
    let err = chain.fails(8, buy(POOL, "lend:GOLD", 10, 10, u128::MAX));
    assert!(matches!(err, FailureReason::InsufficientBalance { asset, .. } if asset == GOLD));
    // An empty pool has no capacity.
    chain.create_pool(2, params());
    let err = chain.fails(2, buy(2, "lend:GOLD", 1, 10, u128::MAX));
    assert_eq!(
        cover_err(err),
        CoverError::CapacityExceeded {
            requested: 1,
            available: 0
        }
    );
}

#[test]
fn premiums_stream_to_providers_until_release_and_capacity_returns_at_the_epoch() {
    let mut chain = Chain::new();
    chain.create_pool(POOL, params());
    chain.provide(1, 1_000_000);
    // Start on an epoch boundary so the release is at end exactly.
    let start = chain.height.next_multiple_of(4);
    chain.skip_to(start);
    let (id, premium) = chain.buy(2, 400_000, 20);
    assert_eq!(premium, 4_800);
    let q = chain.query("pool", json!({"pool": POOL}));
    assert_eq!(q["unearned_premiums"], "4800");
    assert_eq!(q["deposit_value"], "1000000");
    assert_eq!(q["active_cover"], "400000");

    // Halfway, half the premium is earned: a depositor pays for it, so
    // 1_002_400 buys exactly 1_000_000 shares.
    chain.skip_to(start + 10);
    assert_eq!(chain.provide(3, 1_002_400), 1_000_000);
    let q = chain.query("pool", json!({"pool": POOL}));
    assert_eq!(q["height"], start + 10);
    assert_eq!(q["unearned_premiums"], "2400");
    assert_eq!(q["deposit_value"], "2004800");

    // At the end the cover is released and the whole premium earned.
    chain.skip_to(start + 20);
    let (_, p2) = chain.buy(4, 10, 5);
    let st = chain.pool_state(POOL);
    assert_eq!(st.active_cover, 10);
    assert_eq!(chain.cover(id).release_epoch * 4, start + 20);
    let r = chain.query("pool", json!({"pool": POOL}));
    assert_eq!(r["unearned_premiums"], p2.to_string());
    assert_eq!(r["capital"], (2_002_400 + 4_800 + p2).to_string());
    let q = chain.query("cover", json!({"cover": id}));
    assert_eq!(q["status"], "expired");
    assert_eq!(q["claimable"], false);
    // Provider 1 now withdraws everything at the full share value.
    let shares = chain.shares(POOL, 1);
    let value: u128 =
        chain.query("position", json!({"pool": POOL, "owner": addr(1)}))["withdraw_value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
    // 999_000 of 2_000_000 shares of 2_007_200 (p2 = 1 is unearned).
    assert_eq!(p2, 1);
    assert_eq!(value, 999_000 * 2_007_200 / 2_000_000);
    // A share is now worth more than a unit: one unit buys none.
    let err = chain.fails(5, provide(POOL, 1, 0));
    assert_eq!(cover_err(err), CoverError::ZeroShares { amount: 1 });
    let events = chain.ok(1, withdraw(POOL, shares, value));
    assert!(
        matches!(events.last(), Some(CoverEvent::Withdrawn { amount, .. }) if *amount == value)
    );
}

#[test]
fn the_release_event_reports_expired_cover() {
    let mut chain = Chain::new();
    chain.create_pool(POOL, params());
    chain.provide(1, 1_000_000);
    let (id, premium) = chain.buy(2, 1_000, 5);
    let at = chain.cover(id).release_epoch * 4;
    chain.skip_to(at);
    let events = chain.ok(1, provide(POOL, 10, 0));
    assert_eq!(
        events[0],
        CoverEvent::CapacityReleased {
            pool: POOL,
            cover: 1_000,
            premium
        }
    );
}

#[test]
fn withdrawals_stop_at_capital_locked_by_cover() {
    let mut chain = Chain::new();
    chain.create_pool(POOL, params());
    chain.provide(1, 1_000_000);
    chain.provide(2, 1_000_000);
    // Exposure 1_200_000 locks 1_200_000 / 0.8 = 1_500_000 of capital.
    let (_, premium) = chain.buy(3, 1_200_000, 50);
    let capital = 2_000_000 + premium;
    let free = capital - 1_500_000;
    let q = chain.query("position", json!({"pool": POOL, "owner": addr(2)}));
    assert_eq!(q["free_capital"], free.to_string());
    assert_eq!(q["withdrawable_now"], free.to_string());
    assert_eq!(free, 551_000);
    let err = chain.fails(2, withdraw(POOL, 1_000_000, 0));
    match cover_err(err) {
        CoverError::CapitalLocked { requested, free: f } => {
            assert_eq!(f, free);
            assert!(requested > 1_000_000, "shares gained earned premium");
        }
        other => panic!("{other:?}"),
    }
    let events = chain.ok(2, withdraw(POOL, 500_000, 0));
    let Some(CoverEvent::Withdrawn { amount, .. }) = events.last() else {
        panic!("{events:?}")
    };
    let left = free - amount;
    let q = chain.query("pool", json!({"pool": POOL}));
    assert_eq!(q["free_capital"], left.to_string());
    let err = chain.fails(1, withdraw(POOL, 999_000, 0));
    assert!(matches!(
        cover_err(err),
        CoverError::CapitalLocked { free, .. } if free == left
    ));
}

// ---------------------------------------------------------------------------
// Claims and assessment

/// A pool with 2_000_000 of capital from account 1, cover of 100_000 for 50
/// blocks bought by account 2, and stakes of 600 (3), 500 (4), 400 (5).
fn with_cover() -> (Chain, CoverId) {
    let mut chain = Chain::new();
    chain.create_pool(POOL, params());
    chain.provide(1, 2_000_000);
    let (id, _) = chain.buy(2, 100_000, 50);
    chain.stake(3, 600);
    chain.stake(4, 500);
    chain.stake(5, 400);
    (chain, id)
}

#[test]
fn approved_claim_pays_the_claimant_and_shrinks_the_cover() {
    let (mut chain, cover) = with_cover();
    let claim = chain.file(2, cover, 30_000);
    let filed = chain.height - 1;
    assert_eq!(chain.claim(claim).vote_end_height, filed + 10);
    chain.vote(3, claim, true);
    chain.vote(4, claim, true);
    chain.vote(5, claim, false);
    let q = chain.query("claim", json!({"claim": claim, "voter": addr(5)}));
    assert_eq!(q["approve"], "1100");
    assert_eq!(q["deny"], "400");
    assert_eq!(q["voters"], 3);
    assert_eq!(q["status"], "open");
    assert_eq!(q["voting_open"], true);
    assert_eq!(q["outcome_if_resolved_now"], "approved");
    assert_eq!(q["vote"]["vote"]["approve"], false);

    let st = chain.pool_state(POOL);
    let (capital, active) = (st.capital, st.active_cover);
    assert_eq!(st.pending_claims, 30_000);
    chain.skip_to(filed + 10);
    let before = chain.gold(2);
    assert_eq!(chain.resolve(claim), (ClaimStatus::Approved, 30_000));
    assert_eq!(chain.gold(2), before + 30_000);
    let st = chain.pool_state(POOL);
    assert_eq!(st.capital, capital - 30_000);
    assert_eq!(st.paid_out, 30_000);
    assert_eq!(st.active_cover, active - 30_000);
    assert_eq!(st.pending_claims, 0);
    let c = chain.cover(cover);
    assert_eq!(
        (c.paid, c.remaining(), c.open_claim),
        (30_000, 70_000, None)
    );
    // A second claim may take what is left, no more.
    let err = chain.fails(
        2,
        CoverAction::FileClaim {
            pool: POOL,
            cover,
            amount: 70_001,
        },
    );
    assert_eq!(
        cover_err(err),
        CoverError::ClaimExceedsCover {
            amount: 70_001,
            remaining: 70_000
        }
    );
    chain.file(2, cover, 70_000);
    // Resolving twice is refused.
    let action = chain.resolve_action(claim);
    let err = chain.fails(6, action);
    assert_eq!(
        cover_err(err),
        CoverError::ClaimClosed {
            claim,
            status: ClaimStatus::Approved
        }
    );
}

#[test]
fn denied_tied_and_unattended_claims_pay_nothing() {
    let (mut chain, cover) = with_cover();
    // Denied by majority.
    let claim = chain.file(2, cover, 1_000);
    chain.vote(3, claim, true);
    chain.vote(4, claim, false);
    chain.vote(5, claim, false);
    chain.skip_to(chain.claim(claim).vote_end_height);
    let before = chain.gold(2);
    assert_eq!(chain.resolve(claim), (ClaimStatus::Denied, 0));
    assert_eq!(chain.gold(2), before);

    // A tie is a denial.
    chain.stake(6, 100);
    let claim = chain.file(2, cover, 1_000);
    chain.vote(3, claim, true);
    chain.vote(4, claim, false);
    chain.vote(6, claim, false);
    chain.skip_to(chain.claim(claim).vote_end_height);
    assert_eq!(chain.resolve(claim), (ClaimStatus::Denied, 0));

    // Below quorum (1000): 600 approving is not enough.
    let claim = chain.file(2, cover, 1_000);
    chain.vote(3, claim, true);
    chain.skip_to(chain.claim(claim).vote_end_height);
    assert_eq!(chain.resolve(claim), (ClaimStatus::NoQuorum, 0));
    assert_eq!(chain.pool_state(POOL).pending_claims, 0);
    assert_eq!(chain.pool_state(POOL).paid_out, 0);
}

#[test]
fn claims_are_refused_after_expiry_above_cover_twice_and_from_others() {
    let (mut chain, cover) = with_cover();
    let end = chain.cover(cover).end_height;
    let file = |amount| CoverAction::FileClaim {
        pool: POOL,
        cover,
        amount,
    };
    let err = chain.fails(3, file(10));
    assert_eq!(
        cover_err(err),
        CoverError::NotCoverHolder {
            cover,
            holder: addr(2)
        }
    );
    let err = chain.fails(2, file(100_001));
    assert_eq!(
        cover_err(err),
        CoverError::ClaimExceedsCover {
            amount: 100_001,
            remaining: 100_000
        }
    );
    let err = chain.fails(
        2,
        CoverAction::FileClaim {
            pool: 2,
            cover,
            amount: 10,
        },
    );
    assert_eq!(
        cover_err(err),
        CoverError::WrongPool {
            expected: POOL,
            given: 2
        }
    );
    let err = chain.fails(
        2,
        CoverAction::FileClaim {
            pool: POOL,
            cover: 77,
            amount: 10,
        },
    );
    assert_eq!(cover_err(err), CoverError::UnknownCover { cover: 77 });

    // Late covered blocks accept a claim; a second one waits for it.
    chain.skip_to(end - 2);
    let claim = chain.file(2, cover, 10);
    let err = chain.fails(2, file(10));
    assert_eq!(cover_err(err), CoverError::ClaimOpen { cover, claim });
    // Resolved after the cover expired (and was released): the claim still
    // counted, then a new claim is refused as expired.
    chain.vote(3, claim, true);
    chain.vote(4, claim, true);
    let vote_end_height = chain.claim(claim).vote_end_height;
    chain.skip_to(vote_end_height);
    assert_eq!(chain.pool_state(POOL).pending_claims, 10);
    assert_eq!(chain.resolve(claim), (ClaimStatus::Approved, 10));
    let err = chain.fails(2, file(10));
    assert_eq!(
        cover_err(err),
        CoverError::CoverExpired {
            cover,
            end_height: end,
            height: vote_end_height + 1
        }
    );
}

#[test]
fn votes_are_refused_outside_the_period_twice_without_stake_and_from_the_claimant() {
    let (mut chain, cover) = with_cover();
    chain.stake(2, 50);
    let claim = chain.file(2, cover, 5_000);
    let vote = |approve| CoverAction::Vote {
        pool: POOL,
        claim,
        approve,
    };
    chain.vote(3, claim, true);
    let err = chain.fails(3, vote(false));
    assert_eq!(cover_err(err), CoverError::AlreadyVoted { claim });
    let err = chain.fails(6, vote(true));
    assert_eq!(cover_err(err), CoverError::NoStake { pool: POOL });
    let err = chain.fails(2, vote(true));
    assert_eq!(cover_err(err), CoverError::ClaimantCannotVote { claim });
    let err = chain.fails(
        4,
        CoverAction::Vote {
            pool: 2,
            claim,
            approve: true,
        },
    );
    assert_eq!(
        cover_err(err),
        CoverError::WrongPool {
            expected: POOL,
            given: 2
        }
    );
    let err = chain.fails(
        4,
        CoverAction::Vote {
            pool: POOL,
            claim: 99,
            approve: true,
        },
    );
    assert_eq!(cover_err(err), CoverError::UnknownClaim { claim: 99 });

    // Resolving before the period ends is refused; voting after it too.
    let vote_end_height = chain.claim(claim).vote_end_height;
    let action = chain.resolve_action(claim);
    let err = chain.fails(6, action.clone());
    assert_eq!(
        cover_err(err),
        CoverError::VotingOpen {
            claim,
            vote_end_height,
            height: chain.height - 1
        }
    );
    chain.skip_to(vote_end_height - 1);
    chain.vote(4, claim, true);
    let err = chain.fails(5, vote(true));
    assert_eq!(
        cover_err(err),
        CoverError::VotingClosed {
            claim,
            vote_end_height,
            height: vote_end_height
        }
    );
    assert_eq!(chain.resolve(claim), (ClaimStatus::Approved, 5_000));
    let err = chain.fails(5, vote(true));
    assert_eq!(
        cover_err(err),
        CoverError::ClaimClosed {
            claim,
            status: ClaimStatus::Approved
        }
    );
}

#[test]
fn resolve_payload_must_match_the_claim() {
    let (mut chain, cover) = with_cover();
    let claim = chain.file(2, cover, 5_000);
    chain.skip_to(chain.claim(claim).vote_end_height);
    let mismatched = [
        (
            CoverAction::Resolve {
                pool: POOL,
                asset: GOLD,
                cover,
                claim,
                claimant: addr(3),
            },
            CoverError::WrongClaimant {
                claim,
                expected: addr(2),
                given: addr(3),
            },
        ),
        (
            CoverAction::Resolve {
                pool: POOL,
                asset: GOLD,
                cover: cover ^ 1,
                claim,
                claimant: addr(2),
            },
            CoverError::WrongCover {
                claim,
                expected: cover,
                given: cover ^ 1,
            },
        ),
        (
            CoverAction::Resolve {
                pool: 3,
                asset: GOLD,
                cover,
                claim,
                claimant: addr(2),
            },
            CoverError::WrongPool {
                expected: POOL,
                given: 3,
            },
        ),
        (
            CoverAction::Resolve {
                pool: POOL,
                asset: stk(),
                cover,
                claim,
                claimant: addr(2),
            },
            CoverError::WrongAsset {
                pool: POOL,
                expected: GOLD,
                given: stk(),
            },
        ),
    ];
    for (action, expected) in mismatched {
        assert_eq!(cover_err(chain.fails(6, action)), expected);
    }
    assert_eq!(chain.resolve(claim), (ClaimStatus::NoQuorum, 0));
}

#[test]
fn stake_is_locked_while_a_vote_it_cast_is_open() {
    let (mut chain, cover) = with_cover();
    let unstake = |amount| CoverAction::UnstakeAssessor {
        pool: POOL,
        asset: stk(),
        amount,
    };
    let err = chain.fails(3, unstake(601));
    assert_eq!(
        cover_err(err),
        CoverError::InsufficientStake {
            staked: 600,
            requested: 601
        }
    );
    let err = chain.fails(
        3,
        CoverAction::StakeAssessor {
            pool: POOL,
            asset: GOLD,
            amount: 1,
        },
    );
    assert!(matches!(cover_err(err), CoverError::WrongAsset { .. }));
    let claim = chain.file(2, cover, 5_000);
    chain.vote(3, claim, true);
    let vote_end_height = chain.claim(claim).vote_end_height;
    let err = chain.fails(3, unstake(1));
    assert_eq!(
        cover_err(err),
        CoverError::StakeLocked {
            until_height: vote_end_height,
            height: chain.height - 1
        }
    );
    // Account 4 did not vote: free to leave.
    chain.ok(4, unstake(500));
    let q = chain.query("assessor", json!({"pool": POOL, "owner": addr(3)}));
    assert_eq!(q["locked_until_height"], vote_end_height);
    assert_eq!(q["unlocked"], false);
    chain.skip_to(vote_end_height);
    let before = balance(&chain.state, &addr(3), stk());
    chain.ok(3, unstake(600));
    assert_eq!(balance(&chain.state, &addr(3), stk()), before + 600);
    assert!(
        chain
            .object::<Assessor>(&keys::assessor(POOL, &addr(3)))
            .is_none()
    );
}

#[test]
fn withdrawals_bear_pending_claims_so_nobody_escapes_a_loss() {
    let (mut chain, cover) = with_cover();
    chain.provide(4, 1_000_000);
    let claim = chain.file(2, cover, 90_000);
    // Account 4's share of the withdraw value counts the claim as paid.
    let q = chain.query("pool", json!({"pool": POOL}));
    let deposit: u128 = q["deposit_value"].as_str().unwrap().parse().unwrap();
    let withdraw_value: u128 = q["withdraw_value"].as_str().unwrap().parse().unwrap();
    // Less the claim, and unearned premium rounded the pool's way (up).
    assert!((deposit - 90_001..=deposit - 90_000).contains(&withdraw_value));
    let shares = chain.shares(POOL, 4);
    // The value at the withdrawal's height.
    let mut st = chain.pool_state(POOL);
    let e = params().epoch_blocks();
    state::roll(&mut st, POOL, e, chain.height).unwrap();
    let value = state::withdraw_value(&st, e, chain.height).unwrap();
    let deposit = state::deposit_value(&st, e, chain.height).unwrap();
    assert!((deposit - 90_001..=deposit - 90_000).contains(&value));
    let expected = shares * value / st.total_shares;
    let events = chain.ok(4, withdraw(POOL, shares, 0));
    assert!(
        matches!(events.last(), Some(CoverEvent::Withdrawn { amount, .. }) if *amount == expected)
    );
    chain.vote(3, claim, true);
    chain.vote(5, claim, true);
    chain.skip_to(chain.claim(claim).vote_end_height);
    assert_eq!(chain.resolve(claim), (ClaimStatus::Approved, 90_000));
}

// ---------------------------------------------------------------------------
// Limits

#[test]
fn u128_limits_are_refused_cleanly() {
    let mut chain = Chain::new();
    // A steep rate, so premiums of huge cover overflow.
    chain.create_pool(
        POOL,
        PoolParams {
            base_rate: WAD / 10,
            ..params()
        },
    );
    // Give account 1 every GOLD unit that can still exist.
    let supply: u128 = match chain.state.get(&StateKey::Asset(GOLD)) {
        Some(StateValue::Asset(info)) => info.supply,
        other => panic!("{other:?}"),
    };
    chain.block(vec![(
        ADMIN,
        Action::Mint {
            asset: GOLD,
            to: addr(1),
            amount: u128::MAX - supply,
        },
    )]);
    let huge = chain.gold(1);
    match chain.state.get(&StateKey::Asset(GOLD)) {
        Some(StateValue::Asset(info)) => assert_eq!(info.supply, u128::MAX),
        other => panic!("{other:?}"),
    }
    // Deposit almost all of it, then the rest: the ledger stays exact.
    chain.provide(1, huge - 1_000_000);
    let err = chain.fails(2, provide(POOL, u128::MAX, 0));
    assert!(matches!(err, FailureReason::InsufficientBalance { .. }));
    // The last of it, at one share per unit.
    assert_eq!(chain.provide(1, 1_000_000), 1_000_000);
    assert_eq!(chain.pool_state(POOL).capital, huge);
    // Cover of u128::MAX exceeds capacity; cover at full capacity with the
    // longest period and a high rate overflows the premium math.
    let err = chain.fails(2, buy(POOL, "lend:GOLD", u128::MAX, 100, u128::MAX));
    assert!(matches!(
        cover_err(err),
        CoverError::CapacityExceeded {
            requested: u128::MAX,
            ..
        }
    ));
    let capacity = math::capacity(huge, 8_000).unwrap();
    let err = chain.fails(2, buy(POOL, "lend:GOLD", capacity, 100, u128::MAX));
    assert_eq!(err, FailureReason::Overflow);
    // Withdrawing u128::MAX shares is refused, not wrapped.
    let err = chain.fails(1, withdraw(POOL, u128::MAX, 0));
    assert!(matches!(
        cover_err(err),
        CoverError::InsufficientShares { .. }
    ));
    // Stakes up to the asset's whole supply add up exactly.
    let err = chain.fails(
        2,
        CoverAction::StakeAssessor {
            pool: POOL,
            asset: stk(),
            amount: u128::MAX,
        },
    );
    assert!(matches!(err, FailureReason::InsufficientBalance { .. }));
    // Everything withdraws back out, every share worth exactly one unit.
    let shares = chain.shares(POOL, 1);
    chain.ok(1, withdraw(POOL, shares, shares));
    assert_eq!(chain.pool_state(POOL).capital, LOCKED_SHARES);
}

#[test]
fn a_claim_may_take_all_provider_capital_and_the_pool_goes_on() {
    // Full capacity: cover may equal the capital.
    let mut chain = Chain::new();
    chain.create_pool(
        POOL,
        PoolParams {
            capacity_bps: 10_000,
            ..params()
        },
    );
    chain.provide(1, 100_000);
    // Utilization 1: rate 1.1e-3 per block, 5 blocks: 550.
    let (cover, premium) = chain.buy(2, 100_000, 5);
    assert_eq!(premium, 550);
    chain.stake(3, 5_000);
    let claim = chain.file(2, cover, 100_000);
    chain.vote(3, claim, true);
    let vote_end_height = chain.claim(claim).vote_end_height;
    // The cover is released before the vote ends: the claim still binds.
    assert!(chain.cover(cover).release_epoch * 4 < vote_end_height);
    chain.skip_to(vote_end_height);
    assert_eq!(chain.resolve(claim), (ClaimStatus::Approved, 100_000));
    let st = chain.pool_state(POOL);
    assert_eq!(
        (st.capital, st.pending_claims, st.released_claims),
        (550, 0, 0)
    );
    // The shares are now worth the earned premium: 550 buys 100_000 more.
    assert_eq!(chain.provide(4, 550), 100_000);
}

// ---------------------------------------------------------------------------
// Queries

#[test]
fn queries_answer_and_refuse_bad_requests() {
    let (chain, cover) = with_cover();
    let q = chain.query(
        "pool",
        json!({"pool": POOL, "amount": "1000", "blocks": 10}),
    );
    assert_eq!(q["quote"]["ok"], true);
    assert_eq!(q["capital_custody"], json!(capital_custody(POOL)));
    assert_eq!(q["total_stake"], "1500");
    let q = chain.query("cover", json!({"cover": cover}));
    assert_eq!(q["status"], "active");
    assert_eq!(q["claimable"], true);
    assert_eq!(q["remaining"], "100000");
    let q = chain.query("position", json!({"pool": POOL, "owner": addr(1)}));
    assert_eq!(q["shares"], (2_000_000 - LOCKED_SHARES).to_string());
    let run = |method: &str, params: Value| {
        run_query("cover", method, &params, chain.height - 1, 64, |k| {
            Ok(chain.state.get(k).cloned())
        })
    };
    assert!(run("pool", json!({"pool": 9})).is_err());
    assert!(run("cover", json!({"cover": 9})).is_err());
    assert!(run("claim", json!({"claim": 9})).is_err());
    assert!(run("nope", json!({})).is_err());
    assert!(run("pool", json!({"pool": POOL, "amount": "5"})).is_err());
    assert!(run("quote", json!({"pool": POOL})).is_err());
    let q = run(
        "quote",
        json!({"pool": POOL, "amount": "5", "blocks": 10, "risk": "x"}),
    )
    .unwrap();
    assert_eq!(q["error"]["code"], "unknown_risk");
}

// ---------------------------------------------------------------------------
// Property tests

#[derive(Clone, Debug)]
enum Op {
    Provide {
        who: usize,
        pool: usize,
        amount: u128,
    },
    Withdraw {
        who: usize,
        pool: usize,
        percent: u8,
    },
    Buy {
        who: usize,
        pool: usize,
        risk: usize,
        amount: u128,
        blocks: u64,
        slack: u8,
    },
    Claim {
        pick: usize,
        holder: bool,
        who: usize,
        percent: u8,
    },
    Stake {
        who: usize,
        pool: usize,
        amount: u128,
    },
    Unstake {
        who: usize,
        pool: usize,
        amount: u128,
    },
    Vote {
        who: usize,
        pick: usize,
        approve: bool,
    },
    Resolve {
        who: usize,
        pick: usize,
        tamper: u8,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..ACTORS.len();
    let pool = 0..2usize;
    let amount = prop_oneof![
        4 => 1u128..2_000_000,
        1 => 1u128..100,
        1 => Just(u128::MAX),
    ];
    prop_oneof![
        3 => (who.clone(), pool.clone(), amount.clone())
            .prop_map(|(who, pool, amount)| Op::Provide { who, pool, amount }),
        2 => (who.clone(), pool.clone(), 1u8..=100)
            .prop_map(|(who, pool, percent)| Op::Withdraw { who, pool, percent }),
        6 => (
            who.clone(),
            pool.clone(),
            0..8usize,
            prop_oneof![8 => 1u128..100_000, 1 => 1u128..2_000_000, 1 => Just(u128::MAX)],
            3u64..65,
            0u8..4,
        )
            .prop_map(|(who, pool, risk, amount, blocks, slack)| Op::Buy { who, pool, risk, amount, blocks, slack }),
        3 => (any::<usize>(), prop::bool::weighted(0.85), who.clone(), 1u8..=110)
            .prop_map(|(pick, holder, who, percent)| Op::Claim { pick, holder, who, percent }),
        2 => (who.clone(), pool.clone(), prop_oneof![8 => 1u128..2_000, 1 => Just(u128::MAX)])
            .prop_map(|(who, pool, amount)| Op::Stake { who, pool, amount }),
        1 => (who.clone(), pool.clone(), 1u128..2_000)
            .prop_map(|(who, pool, amount)| Op::Unstake { who, pool, amount }),
        4 => (who.clone(), any::<usize>(), prop::bool::weighted(0.6))
            .prop_map(|(who, pick, approve)| Op::Vote { who, pick, approve }),
        3 => (who, any::<usize>(), 0u8..12)
            .prop_map(|(who, pick, tamper)| Op::Resolve { who, pick, tamper }),
    ]
}

/// Pool 1: GOLD capital, STK stake (the default params, short periods);
/// pool 2: native capital, GOLD stake, full capacity, quorum 1.
fn property_pools() -> [(PoolId, PoolParams); 2] {
    [
        (
            1,
            PoolParams {
                max_period_blocks: 60,
                voting_period_blocks: 8,
                ..params()
            },
        ),
        (
            2,
            PoolParams {
                capital_asset: AssetId::NATIVE,
                stake_asset: GOLD,
                capacity_bps: 10_000,
                base_rate: 0,
                slope_rate: WAD / 100,
                voting_period_blocks: 5,
                quorum: 1,
                min_period_blocks: 1,
                max_period_blocks: 30,
                risks: BoundedVec::new(vec![risk("book:GOLD/LAKH")]).unwrap(),
            },
        ),
    ]
}

fn to_action(chain: &Chain, op: &Op) -> (u64, CoverAction) {
    let pools = property_pools();
    let covers = objects::<Cover>(&chain.state, kind::COVER);
    let all_claims = objects::<Claim>(&chain.state, kind::CLAIM);
    let open: Vec<_> = all_claims
        .iter()
        .filter(|(_, c)| c.status == ClaimStatus::Open)
        .cloned()
        .collect();
    // Mostly open claims, sometimes any (resolved ones too).
    let claims = |pick: usize| {
        if !pick.is_multiple_of(5) && !open.is_empty() {
            &open
        } else {
            &all_claims
        }
    };
    let actor = |i: usize| ACTORS[i];
    match op {
        Op::Provide { who, pool, amount } => {
            let (id, p) = &pools[*pool];
            (
                actor(*who),
                CoverAction::Provide {
                    pool: *id,
                    asset: p.capital_asset,
                    amount: *amount,
                    min_shares: 0,
                },
            )
        }
        Op::Withdraw { who, pool, percent } => {
            let (id, p) = &pools[*pool];
            let held = chain.shares(*id, actor(*who));
            (
                actor(*who),
                CoverAction::Withdraw {
                    pool: *id,
                    asset: p.capital_asset,
                    shares: (held * *percent as u128 / 100).max(1),
                    min_amount: 0,
                },
            )
        }
        Op::Buy {
            who,
            pool,
            risk: r,
            amount,
            blocks,
            slack,
        } => {
            let (id, p) = &pools[*pool];
            // Index 7 names a risk the pool does not cover.
            let risk = match r {
                7 => risk("unknown"),
                r => p.risks[r % p.risks.len()].clone(),
            };
            // Slack 0 offers less than the quote when there is one.
            let max_premium = match slack {
                0 => chain
                    .query(
                        "quote",
                        json!({"pool": id, "amount": amount.to_string(), "blocks": blocks}),
                    )
                    .get("premium")
                    .and_then(|p| p.as_str())
                    .and_then(|p| p.parse::<u128>().ok())
                    .map_or(0, |p| p - 1),
                _ => u128::MAX,
            };
            (
                actor(*who),
                CoverAction::Buy {
                    pool: *id,
                    asset: p.capital_asset,
                    risk,
                    amount: *amount,
                    blocks: *blocks,
                    max_premium,
                },
            )
        }
        Op::Claim {
            pick,
            holder,
            who,
            percent,
        } => {
            if covers.is_empty() {
                return (
                    actor(*who),
                    CoverAction::FileClaim {
                        pool: 1,
                        cover: *pick as u64,
                        amount: 1,
                    },
                );
            }
            let (cid, c) = &covers[pick % covers.len()];
            let sender = if *holder {
                ACTORS
                    .iter()
                    .copied()
                    .find(|s| addr(*s) == c.holder)
                    .unwrap_or(actor(*who))
            } else {
                actor(*who)
            };
            (
                sender,
                CoverAction::FileClaim {
                    pool: c.pool,
                    cover: id_u64(cid),
                    amount: (c.remaining() * *percent as u128 / 100).max(1),
                },
            )
        }
        Op::Stake { who, pool, amount } | Op::Unstake { who, pool, amount } => {
            let (id, p) = &pools[*pool];
            let (pool, asset, amount) = (*id, p.stake_asset, *amount);
            let action = if matches!(op, Op::Stake { .. }) {
                CoverAction::StakeAssessor {
                    pool,
                    asset,
                    amount,
                }
            } else {
                CoverAction::UnstakeAssessor {
                    pool,
                    asset,
                    amount,
                }
            };
            (actor(*who), action)
        }
        Op::Vote { who, pick, approve } => {
            let claims = claims(*pick);
            let (claim, pool) = claims
                .get(pick / 5 % claims.len().max(1))
                .map_or((*pick as u64, 1), |(id, c)| (id_u64(id), c.pool));
            (
                actor(*who),
                CoverAction::Vote {
                    pool,
                    claim,
                    approve: *approve,
                },
            )
        }
        Op::Resolve { who, pick, tamper } => {
            let claims = claims(*pick);
            let Some((id, c)) = claims.get(pick / 5 % claims.len().max(1)) else {
                return (
                    actor(*who),
                    CoverAction::Resolve {
                        pool: 1,
                        asset: GOLD,
                        cover: 1,
                        claim: *pick as u64,
                        claimant: addr(1),
                    },
                );
            };
            let asset = pools[(c.pool - 1) as usize].1.capital_asset;
            let mut action = CoverAction::Resolve {
                pool: c.pool,
                asset,
                cover: c.cover,
                claim: id_u64(id),
                claimant: c.claimant,
            };
            if let CoverAction::Resolve {
                pool,
                asset,
                cover,
                claimant,
                ..
            } = &mut action
            {
                match tamper {
                    0 => *claimant = addr(ACTORS[*who]),
                    1 => *cover ^= 1,
                    2 => *pool = 3 - *pool,
                    3 => *asset = stk(),
                    _ => {}
                }
            }
            (actor(*who), action)
        }
    }
}

/// Both pools with some capital and assessors to start from.
fn property_chain() -> Chain {
    let mut chain = Chain::new();
    for (id, p) in property_pools() {
        chain.create_pool(id, p);
    }
    chain.provide(1, 1_000_000);
    chain.ok(
        2,
        CoverAction::Provide {
            pool: 2,
            asset: AssetId::NATIVE,
            amount: 1_000_000,
            min_shares: 0,
        },
    );
    chain.stake(3, 800);
    chain.ok(
        4,
        CoverAction::StakeAssessor {
            pool: 2,
            asset: GOLD,
            amount: 10,
        },
    );
    chain
}

#[test]
fn random_actions_keep_every_invariant_and_parallel_equals_sequential() {
    let base = property_chain();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    // Mostly short gaps between blocks (votes happen), sometimes long ones
    // (covers expire, votes close).
    let strategy = prop::collection::vec(
        (
            prop_oneof![6 => 1u64..4, 1 => 8u64..40],
            prop::collection::vec(op(), 1..12),
        ),
        6..20,
    );
    let successes = std::cell::Cell::new(0usize);
    let stats = std::cell::RefCell::new(BTreeMap::<String, usize>::new());
    let resolved = std::cell::Cell::new(0usize);
    let result = runner.run(&strategy, |blocks| {
        let mut chain = Chain {
            state: base.state.clone(),
            height: base.height,
            native_total: base.native_total,
        };
        for (gap, ops) in &blocks {
            let txs: Vec<(u64, Action)> = ops
                .iter()
                .map(|op| {
                    let (s, a) = to_action(&chain, op);
                    (s, Action::Cover(Box::new(a)))
                })
                .collect();
            // `block` checks the invariants and parallel == sequential.
            let receipts = chain.block(txs);
            for (r, op) in receipts.iter().zip(ops) {
                // Outcomes by operation, e.g. "Vote ok", "Vote voting_closed".
                let name = format!("{op:?}");
                let name = name.split(' ').next().unwrap_or_default();
                let outcome = match &r.status {
                    TxStatus::Success => "ok".to_string(),
                    TxStatus::Failed {
                        error: FailureReason::Cover(e),
                    } => serde_json::to_value(e).unwrap()["code"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    TxStatus::Failed { error } => format!("{error:?}")
                        .split(' ')
                        .next()
                        .unwrap_or_default()
                        .to_string(),
                };
                *stats
                    .borrow_mut()
                    .entry(format!("{name} {outcome}"))
                    .or_insert(0usize) += 1;
                if r.status.is_success() {
                    successes.set(successes.get() + 1);
                }
                for e in cover_events(r) {
                    if let CoverEvent::ClaimResolved { .. } = e {
                        resolved.set(resolved.get() + 1);
                    }
                }
            }
            chain.height += gap - 1;
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let stats = stats.into_inner();
    eprintln!("{stats:#?}");
    // Every action succeeded sometimes, and the hostile paths were taken.
    for key in [
        "Provide ok",
        "Withdraw ok",
        "Buy ok",
        "Claim ok",
        "Stake ok",
        "Unstake ok",
        "Vote ok",
        "Resolve ok",
        "Buy capacity_exceeded",
        "Buy premium_too_high",
        "Claim cover_expired",
        "Claim claim_open",
        "Vote voting_closed",
        "Vote no_stake",
        "Resolve voting_open",
        "Resolve wrong_claimant",
    ] {
        assert!(
            stats.get(key).copied().unwrap_or(0) > 0,
            "no {key:?} in {stats:#?}"
        );
    }
    assert!(
        successes.get() > 500,
        "only {} actions succeeded",
        successes.get()
    );
    assert!(
        resolved.get() > 20,
        "only {} claims resolved",
        resolved.get()
    );
}
