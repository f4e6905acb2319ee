//! The farm module through real blocks: creation and its refusals, staking
//! around the schedule, exact reward amounts, harvest, unstake, emergency
//! withdrawal, reclaiming, u128 limits, queries, and property tests of its
//! invariants (custody equals the ledgers, rewards never exceed the funded
//! budget, supply is conserved, parallel execution equals sequential).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use commonware_codec::Decode;
use lakh_execution::{
    BlockEnv, BlockOutcome, Mode, apply_genesis, execute_block, execute_block_parallel,
    modules::farm::{self, Farm, Position},
    modules::kit::math::mul_div_floor,
    modules::{QueryError, run_query},
    parallel_lanes,
};
use lakh_state::{StateKey, StateValue};
use lakh_types::{
    Action, Address, AssetId, Event, FailureReason, Genesis, Receipt, SignedTransaction, Symbol,
    TxStatus,
    genesis::{GenesisAccount, GenesisAsset},
    modules::farm::{FarmAction, FarmError, FarmEvent, REWARD_PRECISION, farm_id},
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::num::NonZeroUsize;

const STK: AssetId = AssetId(300);
const RWD: AssetId = AssetId(301);
const STK_EACH: u128 = 1_000_000_000;
const RWD_EACH: u128 = 1_000_000_000_000;
/// Holds 2^126 RWD for the u128-limit tests.
const WHALE: u64 = 6;
const WHALE_RWD: u128 = 1 << 126;
/// Extra funded accounts past the common genesis ones.
const EXTRA: std::ops::Range<u64> = 30..40;
const PROPOSER: u64 = 9;
const MAX_FEE: u128 = 1_000_000;

fn accounts() -> Vec<u64> {
    (0..6).chain(EXTRA).collect()
}

fn farm_genesis() -> Genesis {
    let mut g = genesis();
    for s in EXTRA {
        g.accounts.push(GenesisAccount {
            address: addr(s),
            balance: FUNDED,
        });
    }
    let holders = |each: u128| -> Vec<GenesisAccount> {
        accounts()
            .into_iter()
            .map(|s| GenesisAccount {
                address: addr(s),
                balance: each,
            })
            .collect()
    };
    let mut rwd = holders(RWD_EACH);
    rwd.push(GenesisAccount {
        address: addr(WHALE),
        balance: WHALE_RWD,
    });
    g.assets.push(GenesisAsset {
        id: STK,
        symbol: Symbol::new("STK").unwrap(),
        decimals: 18,
        issuer: addr(0),
        max_supply: None,
        balances: holders(STK_EACH),
    });
    g.assets.push(GenesisAsset {
        id: RWD,
        symbol: Symbol::new("RWD").unwrap(),
        decimals: 6,
        issuer: addr(0),
        max_supply: None,
        balances: rwd,
    });
    g
}

fn total_native() -> u128 {
    native_total() + (EXTRA.end - EXTRA.start) as u128 * FUNDED
}

fn create(stake: AssetId, reward: AssetId, rate: u128, start: u64, end: u64) -> Action {
    Action::Farm(FarmAction::Create {
        stake_asset: stake,
        reward_asset: reward,
        rate_per_block: rate,
        start_height: start,
        end_height: end,
    })
}
fn stake_in(farm: u64, asset: AssetId, amount: u128) -> Action {
    Action::Farm(FarmAction::Stake {
        farm,
        stake_asset: asset,
        amount,
    })
}
fn unstake_from(farm: u64, asset: AssetId, amount: u128) -> Action {
    Action::Farm(FarmAction::Unstake {
        farm,
        stake_asset: asset,
        amount,
    })
}
fn harvest(farm: u64, asset: AssetId) -> Action {
    Action::Farm(FarmAction::Harvest {
        farm,
        reward_asset: asset,
    })
}
fn emergency(farm: u64, asset: AssetId) -> Action {
    Action::Farm(FarmAction::EmergencyWithdraw {
        farm,
        stake_asset: asset,
    })
}
fn reclaim(farm: u64, asset: AssetId) -> Action {
    Action::Farm(FarmAction::Reclaim {
        farm,
        reward_asset: asset,
    })
}

fn farm_failure(e: FarmError) -> TxStatus {
    TxStatus::Failed {
        error: FailureReason::Farm(e),
    }
}

struct Chain {
    state: State,
    height: u64,
}

impl Chain {
    fn new() -> Chain {
        let state: State = apply_genesis(&farm_genesis()).into_iter().collect();
        check_all(&state);
        Chain { state, height: 1 }
    }

    fn env(&self) -> BlockEnv {
        BlockEnv {
            chain_id: CHAIN_ID,
            height: self.height,
            participation: lakh_execution::Participation::sole(addr(PROPOSER)),
            offenses: Vec::new(),
            base_fee: BASE_FEE,
            staking: Default::default(),
            deposits: Vec::new(),
        }
    }

    fn next_nonce(&self, seed: u64) -> u64 {
        nonce(&self.state, &addr(seed))
    }

    fn sign(&self, actions: &[(u64, Action)]) -> Vec<SignedTransaction> {
        let mut next: BTreeMap<u64, u64> = BTreeMap::new();
        actions
            .iter()
            .map(|(seed, action)| {
                let n = next.entry(*seed).or_insert_with(|| self.next_nonce(*seed));
                *n += 1;
                sign(*seed, *n - 1, MAX_FEE, action.clone())
            })
            .collect()
    }

    /// Runs a block at the current height on every executor, commits it,
    /// checks the invariants and moves to the next height.
    fn block(&mut self, actions: &[(u64, Action)]) -> BlockOutcome {
        let env = self.env();
        let txs = self.sign(actions);
        let (outcome, changes) = run_everywhere(&self.state, &env, &txs);
        for (k, v) in changes {
            match v {
                Some(v) => self.state.insert(k, v),
                None => self.state.remove(&k),
            };
        }
        check_all(&self.state);
        self.height += 1;
        outcome
    }

    fn send(&mut self, seed: u64, action: Action) -> Receipt {
        self.block(&[(seed, action)]).receipts.remove(0)
    }

    /// Creates a farm from `seed`; returns its id.
    fn create(&mut self, seed: u64, action: Action) -> u64 {
        let id = farm_id(&addr(seed), self.next_nonce(seed));
        let r = self.send(seed, action);
        assert_eq!(r.status, TxStatus::Success, "{r:?}");
        id
    }

    fn skip_to(&mut self, height: u64) {
        assert!(height >= self.height);
        self.height = height;
    }

    fn farm(&self, id: u64) -> Farm {
        object(&self.state, &farm::farm_key(id)).expect("farm")
    }

    fn position(&self, id: u64, seed: u64) -> Option<Position> {
        object(&self.state, &farm::position_key(id, &addr(seed)))
    }

    fn bal(&self, seed: u64, asset: AssetId) -> u128 {
        balance(&self.state, &addr(seed), asset)
    }

    fn query(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, QueryError> {
        run_query("farm", method, &params, self.height - 1, 1_000, |k| {
            Ok(self.state.get(k).cloned())
        })
    }
}

fn object<T: Decode<Cfg = ()>>(state: &State, key: &StateKey) -> Option<T> {
    match state.get(key) {
        Some(StateValue::Object(bytes)) => {
            Some(T::decode_cfg(bytes.clone(), &()).expect("decodes"))
        }
        None => None,
        other => panic!("not an object: {other:?}"),
    }
}

fn run_everywhere(
    state: &State,
    env: &BlockEnv,
    txs: &[SignedTransaction],
) -> (BlockOutcome, Vec<(StateKey, Option<StateValue>)>) {
    let run = |threads: Option<usize>| {
        let mut overlay = prefetch(state, env, txs);
        let result = match threads {
            None => execute_block(env, txs, &mut overlay, Mode::Verify),
            Some(t) => execute_block_parallel(
                env,
                txs,
                &mut overlay,
                Mode::Verify,
                NonZeroUsize::new(t).unwrap(),
                0,
            ),
        };
        let outcome = result.expect("block executes");
        (outcome, overlay.into_changes().collect::<Vec<_>>())
    };
    let sequential = run(None);
    for threads in [2, 3] {
        assert_eq!(run(Some(threads)), sequential, "{threads} threads");
    }
    sequential
}

/// Every farm invariant over a whole state plus supply conservation (panics
/// on a violation).
fn check_all(state: &State) {
    check_invariants(state, total_native());
    let mut positions: BTreeMap<u64, Vec<Position>> = BTreeMap::new();
    for (k, v) in state {
        if let (StateKey::Object(o), StateValue::Object(bytes)) = (k, v)
            && o.kind == farm::kind::POSITION
        {
            let p = Position::decode_cfg(bytes.clone(), &()).unwrap();
            assert_eq!(*k, farm::position_key(p.farm, &p.owner));
            assert!(!p.is_empty(), "empty position kept");
            positions.entry(p.farm).or_default().push(p);
        }
    }
    for (k, v) in state {
        let (StateKey::Object(o), StateValue::Object(bytes)) = (k, v) else {
            continue;
        };
        if o.kind != farm::kind::FARM {
            continue;
        }
        let f = Farm::decode_cfg(bytes.clone(), &()).unwrap();
        let ps = positions.remove(&f.id).unwrap_or_default();
        let staked: u128 = ps.iter().map(|p| p.staked).sum();
        assert_eq!(f.total_staked, staked, "farm {} total", f.id);
        assert_eq!(f.positions, ps.len() as u64);
        assert_eq!(
            balance_of(state, &farm::stake_custody(f.id), f.stake_asset),
            f.total_staked,
            "stake custody of farm {}",
            f.id
        );
        assert_eq!(
            balance_of(state, &farm::reward_custody(f.id), f.reward_asset),
            f.funded - f.paid - f.reclaimed,
            "reward custody of farm {}",
            f.id
        );
        let owed: u128 = ps
            .iter()
            .map(|p| {
                p.owed
                    + mul_div_floor(
                        p.staked,
                        f.reward_per_token - p.reward_per_token_paid,
                        REWARD_PRECISION,
                    )
                    .unwrap()
            })
            .sum();
        // Paid + owed + forfeited never exceed what was emitted, which never
        // exceeds the funded budget.
        assert!(
            f.paid + owed + f.forfeited <= f.emitted,
            "farm {}: paid {} + owed {owed} + forfeited {} > emitted {}",
            f.id,
            f.paid,
            f.forfeited,
            f.emitted
        );
        assert!(f.emitted <= f.funded);
        assert!(f.reclaimed <= f.funded - f.emitted + f.forfeited);
        assert!(
            f.start_height <= f.last_update_height
                && f.last_update_height <= f.end_height.max(f.start_height)
        );
        assert!(f.end_height <= f.scheduled_end_height);
    }
    assert!(positions.is_empty(), "positions of missing farms");
}

fn balance_of(state: &State, owner: &Address, asset: AssetId) -> u128 {
    if asset == AssetId::NATIVE {
        native(state, owner)
    } else {
        balance(state, owner, asset)
    }
}

#[test]
fn create_funds_the_whole_budget_up_front() {
    let mut c = Chain::new();
    let start = c.height + 2;
    let id = farm_id(&addr(0), c.next_nonce(0));
    let before = c.bal(0, RWD);
    let r = c.send(0, create(STK, RWD, 100, start, start + 10));
    assert_eq!(r.status, TxStatus::Success);
    assert_eq!(c.bal(0, RWD), before - 1_000);
    assert_eq!(balance(&c.state, &farm::reward_custody(id), RWD), 1_000);
    assert_eq!(
        r.events.last(),
        Some(&Event::Farm(FarmEvent::Created {
            farm: id,
            creator: addr(0),
            stake_asset: STK,
            reward_asset: RWD,
            rate_per_block: 100,
            start_height: start,
            end_height: start + 10,
            funded: 1_000,
        }))
    );
    let f = c.farm(id);
    assert_eq!(
        (f.funded, f.last_update_height, f.total_staked),
        (1_000, start, 0)
    );
    // A native-reward farm works the same way.
    let id = c.create(1, create(STK, AssetId::NATIVE, 3, c.height, c.height + 4));
    assert_eq!(native(&c.state, &farm::reward_custody(id)), 12);
}

#[test]
fn hostile_creations_are_refused_with_the_reason() {
    let mut c = Chain::new();
    let h = c.height;
    let cases = [
        (create(STK, RWD, 0, h, h + 5), FarmError::ZeroRate {}),
        (
            create(STK, RWD, 1, h + 5, h + 5),
            FarmError::BadSchedule {
                start_height: h + 5,
                end_height: h + 5,
            },
        ),
        (
            create(STK, RWD, 1, h + 9, h + 5),
            FarmError::BadSchedule {
                start_height: h + 9,
                end_height: h + 5,
            },
        ),
        (
            create(STK, RWD, u128::MAX, h + 10, h + 12),
            FarmError::BudgetOverflow {
                rate_per_block: u128::MAX,
                blocks: 2,
            },
        ),
    ];
    for (action, error) in cases {
        assert_eq!(c.send(0, action).status, farm_failure(error));
    }
    let h = c.height;
    assert_eq!(
        c.send(0, create(STK, RWD, 1, h - 1, h + 5)).status,
        farm_failure(FarmError::StartInPast {
            start_height: h - 1,
            height: h
        })
    );
    let h = c.height;
    assert_eq!(
        c.send(0, create(AssetId(999), RWD, 1, h, h + 5)).status,
        TxStatus::Failed {
            error: FailureReason::UnknownAsset {
                asset: AssetId(999)
            }
        }
    );
    // The budget must be held: 2 * (RWD_EACH) over one block is too much.
    let h = c.height;
    assert_eq!(
        c.send(0, create(STK, RWD, 2 * RWD_EACH, h, h + 1)).status,
        TxStatus::Failed {
            error: FailureReason::InsufficientBalance {
                asset: RWD,
                needed: 2 * RWD_EACH,
                available: RWD_EACH
            }
        }
    );
    assert!(
        c.state
            .keys()
            .all(|k| !matches!(k, StateKey::Object(o) if o.kind == farm::kind::FARM))
    );
}

#[test]
fn rewards_follow_the_reference_formula_exactly() {
    let mut c = Chain::new();
    let start = c.height + 3;
    let end = start + 10;
    let id = c.create(0, create(STK, RWD, 100, start, end));
    // 1 stakes before the start: it earns nothing until then.
    assert_eq!(c.send(1, stake_in(id, STK, 100)).status, TxStatus::Success);
    assert_eq!(c.farm(id).reward_per_token, 0);
    // 2 stakes 300 at start + 2.
    c.skip_to(start + 2);
    assert_eq!(c.send(2, stake_in(id, STK, 300)).status, TxStatus::Success);
    // From start to start+2 only 1 staked: 200 / 100 per token.
    assert_eq!(c.farm(id).reward_per_token, 2 * REWARD_PRECISION);
    let pos = |c: &Chain, seed: u64| {
        c.query("position", json!({"farm": id, "owner": addr(seed)}))
            .unwrap()["pending_rewards"]
            .clone()
    };
    // Queried at start + 4: two more blocks, 200 over 400 tokens, 0.5 each:
    // 1 has 200 + 50, 2 has 150.
    c.skip_to(start + 5);
    assert_eq!(pos(&c, 1), "250");
    assert_eq!(pos(&c, 2), "150");
    // After the end: 1 earned 200 + 8 * 100 / 4 = 400; 2 earned 600.
    c.skip_to(end + 5);
    let before = c.bal(1, RWD);
    let r = c.send(1, harvest(id, RWD));
    assert_eq!(
        r.events.last(),
        Some(&Event::Farm(FarmEvent::Harvested {
            farm: id,
            owner: addr(1),
            amount: 400
        }))
    );
    assert_eq!(c.bal(1, RWD), before + 400);
    let r = c.send(2, harvest(id, RWD));
    assert!(r.events.contains(&Event::Farm(FarmEvent::Harvested {
        farm: id,
        owner: addr(2),
        amount: 600
    })));
    let f = c.farm(id);
    assert_eq!((f.emitted, f.paid), (1_000, 1_000));
    assert_eq!(balance(&c.state, &farm::reward_custody(id), RWD), 0);
    assert_eq!(
        c.send(1, harvest(id, RWD)).status,
        farm_failure(FarmError::NothingToHarvest { farm: id })
    );
    assert_eq!(
        c.send(0, reclaim(id, RWD)).status,
        farm_failure(FarmError::NothingToReclaim { farm: id })
    );
    // Unstaking after the end returns the stake; the positions disappear.
    c.send(1, unstake_from(id, STK, 100));
    c.send(2, unstake_from(id, STK, 300));
    assert_eq!(c.position(id, 1), None);
    assert_eq!(c.farm(id).positions, 0);
    assert_eq!(c.bal(1, STK), STK_EACH);
}

#[test]
fn rounding_favours_the_farm() {
    let mut c = Chain::new();
    let start = c.height + 1;
    let id = c.create(0, create(STK, RWD, 10, start, start + 1));
    c.block(&[
        (1, stake_in(id, STK, 1)),
        (2, stake_in(id, STK, 1)),
        (3, stake_in(id, STK, 1)),
    ]);
    c.skip_to(start + 3);
    for s in 1..4 {
        let r = c.send(s, harvest(id, RWD));
        assert!(r.events.contains(&Event::Farm(FarmEvent::Harvested {
            farm: id,
            owner: addr(s),
            amount: 3
        })));
    }
    // 10 over 3 stakers: 3 each, 1 stays in the farm.
    let f = c.farm(id);
    assert_eq!((f.emitted, f.paid), (10, 9));
    assert_eq!(balance(&c.state, &farm::reward_custody(id), RWD), 1);
}

#[test]
fn staking_is_closed_from_the_end_block() {
    let mut c = Chain::new();
    let start = c.height;
    let id = c.create(0, create(STK, RWD, 5, start, start + 3));
    c.skip_to(start + 3);
    assert_eq!(
        c.send(1, stake_in(id, STK, 10)).status,
        farm_failure(FarmError::FarmEnded {
            farm: id,
            end_height: start + 3,
            height: start + 3
        })
    );
    // Nobody ever staked: the whole budget is reclaimable, by the creator only.
    assert_eq!(
        c.send(1, reclaim(id, RWD)).status,
        farm_failure(FarmError::NotCreator {
            farm: id,
            creator: addr(0)
        })
    );
    let before = c.bal(0, RWD);
    let r = c.send(0, reclaim(id, RWD));
    assert!(r.events.contains(&Event::Farm(FarmEvent::Reclaimed {
        farm: id,
        creator: addr(0),
        amount: 15
    })));
    assert_eq!(c.bal(0, RWD), before + 15);
}

#[test]
fn blocks_with_nothing_staked_are_not_emitted_and_return_to_the_creator() {
    let mut c = Chain::new();
    let start = c.height + 1;
    let end = start + 10;
    let id = c.create(0, create(STK, RWD, 7, start, end));
    c.skip_to(start + 4);
    c.send(1, stake_in(id, STK, 50));
    assert_eq!(
        c.send(0, reclaim(id, RWD)).status,
        farm_failure(FarmError::NotEnded {
            farm: id,
            end_height: end,
            height: start + 5
        })
    );
    c.skip_to(end);
    let r = c.send(0, reclaim(id, RWD));
    assert!(r.events.contains(&Event::Farm(FarmEvent::Reclaimed {
        farm: id,
        creator: addr(0),
        amount: 28
    })));
    let r = c.send(1, harvest(id, RWD));
    assert!(r.events.contains(&Event::Farm(FarmEvent::Harvested {
        farm: id,
        owner: addr(1),
        amount: 42
    })));
}

#[test]
fn emergency_withdraw_returns_the_stake_and_forfeits_rewards() {
    let mut c = Chain::new();
    let start = c.height + 1;
    let end = start + 10;
    let id = c.create(0, create(STK, RWD, 10, start, end));
    c.block(&[(1, stake_in(id, STK, 50)), (2, stake_in(id, STK, 50))]);
    c.skip_to(start + 5);
    // 1 has 5 blocks * 10 * 50% = 25 pending.
    let before = c.bal(1, STK);
    let r = c.send(1, emergency(id, STK));
    assert!(
        r.events
            .contains(&Event::Farm(FarmEvent::EmergencyWithdrawn {
                farm: id,
                owner: addr(1),
                amount: 50,
                forfeited: 25
            }))
    );
    assert_eq!(c.bal(1, STK), before + 50);
    assert_eq!(c.position(id, 1), None);
    assert_eq!(
        c.send(1, emergency(id, STK)).status,
        farm_failure(FarmError::NoPosition {
            farm: id,
            owner: addr(1)
        })
    );
    // After the end the creator gets the forfeited 25 back (everything was emitted).
    c.skip_to(end);
    let r = c.send(0, reclaim(id, RWD));
    assert!(r.events.contains(&Event::Farm(FarmEvent::Reclaimed {
        farm: id,
        creator: addr(0),
        amount: 25
    })));
    // 2 earned 25 + 50 = 75 and can still harvest it.
    let r = c.send(2, harvest(id, RWD));
    assert!(r.events.contains(&Event::Farm(FarmEvent::Harvested {
        farm: id,
        owner: addr(2),
        amount: 75
    })));
    assert_eq!(balance(&c.state, &farm::reward_custody(id), RWD), 0);
}

#[test]
fn hostile_position_actions_fail_cleanly() {
    let mut c = Chain::new();
    let start = c.height;
    let id = c.create(0, create(STK, RWD, 10, start, start + 50));
    assert_eq!(
        c.send(1, stake_in(id ^ 1, STK, 10)).status,
        farm_failure(FarmError::UnknownFarm { farm: id ^ 1 })
    );
    assert_eq!(
        c.send(1, stake_in(id, RWD, 10)).status,
        farm_failure(FarmError::WrongAsset {
            farm: id,
            expected: STK,
            got: RWD
        })
    );
    assert_eq!(
        c.send(1, harvest(id, STK)).status,
        farm_failure(FarmError::WrongAsset {
            farm: id,
            expected: RWD,
            got: STK
        })
    );
    assert_eq!(
        c.send(1, stake_in(id, STK, 0)).status,
        farm_failure(FarmError::ZeroAmount {})
    );
    for amount in [STK_EACH + 1, u128::MAX] {
        assert_eq!(
            c.send(1, stake_in(id, STK, amount)).status,
            TxStatus::Failed {
                error: FailureReason::InsufficientBalance {
                    asset: STK,
                    needed: amount,
                    available: STK_EACH
                }
            }
        );
    }
    for action in [unstake_from(id, STK, 1), harvest(id, RWD)] {
        assert_eq!(
            c.send(1, action).status,
            farm_failure(FarmError::NoPosition {
                farm: id,
                owner: addr(1)
            })
        );
    }
    c.send(1, stake_in(id, STK, 10));
    assert_eq!(
        c.send(1, unstake_from(id, STK, 11)).status,
        farm_failure(FarmError::InsufficientStake {
            farm: id,
            requested: 11,
            staked: 10
        })
    );
    // Rewards owed survive a full unstake and can be harvested afterwards.
    c.send(1, unstake_from(id, STK, 10));
    let p = c.position(id, 1).unwrap();
    assert_eq!(p.staked, 0);
    assert_eq!(p.owed, 20);
    assert_eq!(c.send(1, harvest(id, RWD)).status, TxStatus::Success);
    assert_eq!(c.position(id, 1), None);
}

#[test]
fn an_accumulator_at_the_u128_limit_closes_emission_cleanly() {
    let mut c = Chain::new();
    let start = c.height;
    // 2^100 per block: one block over one staked base unit passes u128.
    let rate = 1u128 << 100;
    let id = c.create(WHALE, create(STK, RWD, rate, start, start + 20));
    c.send(1, stake_in(id, STK, 1));
    let staked_at = c.height - 1;
    let r = c.send(1, harvest(id, RWD));
    assert_eq!(
        r.events,
        Vec::new(),
        "the failed harvest rolls back, the closure with it"
    );
    assert_eq!(
        r.status,
        farm_failure(FarmError::NothingToHarvest { farm: id })
    );
    // Unstaking works and records the closure.
    let r = c.send(1, unstake_from(id, STK, 1));
    assert_eq!(r.status, TxStatus::Success);
    assert!(r.events.contains(&Event::Farm(FarmEvent::EmissionClosed {
        farm: id,
        at_height: staked_at
    })));
    let f = c.farm(id);
    assert_eq!((f.end_height, f.emitted), (staked_at, 0));
    // The creator takes the whole budget back.
    let r = c.send(WHALE, reclaim(id, RWD));
    assert!(r.events.contains(&Event::Farm(FarmEvent::Reclaimed {
        farm: id,
        creator: addr(WHALE),
        amount: rate * 20
    })));
}

#[test]
fn staking_and_rewarding_the_same_asset_keeps_custodies_apart() {
    let mut c = Chain::new();
    let start = c.height + 1;
    let id = c.create(0, create(RWD, RWD, 6, start, start + 2));
    c.send(1, stake_in(id, RWD, 1_000));
    c.skip_to(start + 2);
    c.send(1, harvest(id, RWD));
    c.send(1, unstake_from(id, RWD, 1_000));
    assert_eq!(c.bal(1, RWD), RWD_EACH + 12);
}

#[test]
fn queries_show_farms_and_positions_at_the_current_height() {
    let mut c = Chain::new();
    // The farm starts at once, the stakes come one block later.
    let start = c.height;
    let id = c.create(0, create(STK, RWD, 8, start, start + 10));
    c.block(&[(1, stake_in(id, STK, 30)), (2, stake_in(id, STK, 10))]);
    c.skip_to(start + 5);
    let f = c.query("farm", json!({"farm": id})).unwrap();
    assert_eq!(f["status"], "active");
    assert_eq!(f["funded"], "80");
    assert_eq!(f["total_staked"], "40");
    assert_eq!(f["emitted_now"], "24", "3 blocks of 8 with a stake");
    assert_eq!(f["stake_custody_balance"], "40");
    assert_eq!(f["reward_custody_balance"], "80");
    assert_eq!(f["stake_asset"], json!(STK));
    assert_eq!(f["reclaimable"], "0", "nothing before the end");
    let p = c
        .query("position", json!({"farm": id, "owner": addr(1)}))
        .unwrap();
    assert_eq!(p["staked"], "30");
    assert_eq!(p["pending_rewards"], "18");
    assert_eq!(p["share_of_pool_bps"], 7_500);
    assert!(matches!(
        c.query("position", json!({"farm": id, "owner": addr(3)})),
        Err(QueryError::NotFound(_))
    ));
    assert!(matches!(
        c.query("farm", json!({"farm": id ^ 1})),
        Err(QueryError::NotFound(_))
    ));
    assert!(matches!(
        c.query("farm", json!({"id": id})),
        Err(QueryError::BadRequest(_))
    ));
    assert!(matches!(
        c.query("farms", json!({})),
        Err(QueryError::BadRequest(_))
    ));
    c.skip_to(start + 30);
    let f = c.query("farm", json!({"farm": id})).unwrap();
    assert_eq!(f["status"], "ended");
    assert_eq!(f["reclaimable"], "8", "the block before the first stake");
}

// ---------------------------------------------------------------------------
// Property tests

#[derive(Clone, Debug)]
enum Op {
    Stake(usize, u128),
    /// A raw amount, or (when `percent`) a percentage of the current stake.
    Unstake(usize, u128, bool),
    Harvest(usize),
    Emergency(usize),
    Reclaim(usize),
    /// Names the wrong asset.
    Wrong(usize),
    Pay(usize),
}

/// Farms of the property test: (creator, stake asset, reward asset).
const FARMS: [(u64, AssetId, AssetId); 3] = [(0, STK, RWD), (1, STK, RWD), (2, RWD, RWD)];

fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![
        6 => 1..10_000u128,
        2 => 1..10_000_000u128,
        1 => Just(0u128),
        1 => Just(u128::MAX),
    ]
}

fn tx_op() -> impl Strategy<Value = (usize, Op)> {
    let n = accounts().len();
    let f = 0..FARMS.len();
    (
        0..n,
        prop_oneof![
            6 => (f.clone(), amount()).prop_map(|(f, a)| Op::Stake(f, a)),
            1 => (f.clone(), amount()).prop_map(|(f, a)| Op::Unstake(f, a, false)),
            3 => (f.clone(), 1..=120u128).prop_map(|(f, p)| Op::Unstake(f, p, true)),
            3 => f.clone().prop_map(Op::Harvest),
            1 => f.clone().prop_map(Op::Emergency),
            1 => f.clone().prop_map(Op::Reclaim),
            1 => f.prop_map(Op::Wrong),
            2 => (0..n).prop_map(Op::Pay),
        ],
    )
}

#[derive(Clone, Debug)]
struct Schedule {
    rate: u128,
    start_offset: u64,
    blocks: u64,
}

fn schedule() -> impl Strategy<Value = Schedule> {
    (prop_oneof![1..100u128, 1..1_000_000u128], 0..6u64, 1..40u64).prop_map(
        |(rate, start_offset, blocks)| Schedule {
            rate,
            start_offset,
            blocks,
        },
    )
}

#[test]
fn random_farming_keeps_every_invariant_and_parallel_matches_sequential() {
    let split = Cell::new(0usize);
    let blocks_run = Cell::new(0usize);
    let seen: RefCell<BTreeMap<&'static str, usize>> = RefCell::default();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        prop::collection::vec(schedule(), FARMS.len()),
        prop::collection::vec((1..6u64, prop::collection::vec(tx_op(), 0..24)), 1..14),
    );
    let result = runner.run(&strategy, |(schedules, blocks)| {
        let mut c = Chain::new();
        let accounts = accounts();
        // One block creates the farms.
        let h = c.height;
        let mut ids = Vec::new();
        let mut creations = Vec::new();
        for ((creator, stake, reward), s) in FARMS.iter().zip(&schedules) {
            ids.push(farm_id(&addr(*creator), c.next_nonce(*creator)));
            let start = h + s.start_offset;
            creations.push((
                *creator,
                create(*stake, *reward, s.rate, start, start + s.blocks),
            ));
        }
        let out = c.block(&creations);
        prop_assert!(out.receipts.iter().all(|r| r.status.is_success()));
        let mut actions_run = 0u128;
        for (gap, ops) in &blocks {
            let actions: Vec<(u64, Action)> = ops
                .iter()
                .map(|(who, op)| {
                    let seed = accounts[*who];
                    let action = match op {
                        Op::Stake(f, a) => stake_in(ids[*f], FARMS[*f].1, *a),
                        Op::Unstake(f, a, false) => unstake_from(ids[*f], FARMS[*f].1, *a),
                        Op::Unstake(f, p, true) => {
                            let staked = c.position(ids[*f], seed).map(|p| p.staked).unwrap_or(0);
                            unstake_from(ids[*f], FARMS[*f].1, (staked * p / 100).max(1))
                        }
                        Op::Harvest(f) => harvest(ids[*f], FARMS[*f].2),
                        Op::Emergency(f) => emergency(ids[*f], FARMS[*f].1),
                        // Creators reclaim (others try and fail).
                        Op::Reclaim(f) if who % 2 == 0 => {
                            return (FARMS[*f].0, reclaim(ids[*f], FARMS[*f].2));
                        }
                        Op::Reclaim(f) => reclaim(ids[*f], FARMS[*f].2),
                        Op::Wrong(f) => stake_in(ids[*f], AssetId::NATIVE, 1),
                        Op::Pay(to) => Action::Transfer(lakh_types::TransferEntry {
                            to: addr(accounts[*to]),
                            asset: STK,
                            amount: 1,
                        }),
                    };
                    (seed, action)
                })
                .collect();
            actions_run += actions.len() as u128;
            let env = c.env();
            let txs = c.sign(&actions);
            blocks_run.set(blocks_run.get() + 1);
            if parallel_lanes(
                &txs,
                &prefetch(&c.state, &env, &txs),
                NonZeroUsize::new(3).unwrap(),
            ) > 1
            {
                split.set(split.get() + 1);
            }
            let out = c.block(&actions);
            for r in &out.receipts {
                let kind = match &r.status {
                    TxStatus::Success => "success",
                    TxStatus::Failed { .. } => "failure",
                };
                *seen.borrow_mut().entry(kind).or_default() += 1;
                for e in &r.events {
                    if let Event::Farm(e) = e {
                        *seen.borrow_mut().entry(e.variant_name()).or_default() += 1;
                    }
                }
            }
            c.skip_to(c.height + gap - 1);
        }
        // Wind down: past every end, everyone harvests and unstakes, the
        // creators reclaim. What stays in a farm is rounding dust only.
        c.skip_to(c.height + 100);
        let mut wind_down = Vec::new();
        for (f, id) in ids.iter().enumerate() {
            for &s in &accounts {
                if let Some(p) = c.position(*id, s) {
                    wind_down.push((s, harvest(*id, FARMS[f].2)));
                    if p.staked > 0 {
                        wind_down.push((s, unstake_from(*id, FARMS[f].1, p.staked)));
                    }
                }
            }
            wind_down.push((FARMS[f].0, reclaim(*id, FARMS[f].2)));
        }
        let out = c.block(&wind_down);
        for r in &out.receipts {
            for e in &r.events {
                if let Event::Farm(e) = e {
                    *seen.borrow_mut().entry(e.variant_name()).or_default() += 1;
                }
            }
        }
        for id in &ids {
            let f = c.farm(*id);
            prop_assert_eq!(f.total_staked, 0);
            prop_assert_eq!(f.positions, 0);
            let dust = f.funded - f.paid - f.reclaimed;
            prop_assert!(f.paid + f.reclaimed <= f.funded);
            // Each accrual and each settlement rounds down by less than one unit.
            prop_assert!(
                dust <= 2 * actions_run + 2,
                "dust {} after {} actions",
                dust,
                actions_run
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    assert!(
        split.get() * 3 >= blocks_run.get(),
        "only {} of {} blocks ran on several lanes",
        split.get(),
        blocks_run.get()
    );
    let seen = seen.into_inner();
    for kind in [
        "success",
        "failure",
        "Staked",
        "Unstaked",
        "Harvested",
        "EmergencyWithdrawn",
        "Reclaimed",
    ] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) >= 3,
            "{kind}: {seen:?}"
        );
    }
    println!("farm events over all cases: {seen:?}");
}
