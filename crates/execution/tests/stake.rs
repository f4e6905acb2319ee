//! The staking module through real blocks: delegation, unbonding, withdrawal,
//! fee rewards through `finish_block`, commission and parameter changes,
//! queries, hostile inputs, and property tests of its invariants (custody
//! covers the ledgers, unbonding releases only after the period, supply is
//! conserved, parallel execution equals sequential).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::stake_chain::*;
use common::*;
use lakh_execution::{
    ExecError, Mode, Participation, StateError, access_set, apply_genesis, execute_block,
    modules::QueryError,
    modules::stake::{self, Delegation, Validator, ValidatorRegistry},
    parallel_lanes,
};
use lakh_state::StateValue;
use lakh_types::{
    Action, Address, AssetId, Event, FailureReason, Genesis, TransferEntry, TxStatus,
    fees::required_fee,
    genesis::{GenesisAccount, GenesisValidator},
    modules::stake::{
        DEFAULT_COMMISSION_BPS, DEFAULT_UNBONDING_BLOCKS, MAX_UNBONDING_ENTRIES, REWARD_PRECISION,
        StakeAction, StakeError, StakeEvent,
    },
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use serde_json::json;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::num::NonZeroUsize;

/// Genesis validators (seeds); each is also funded so it can send transactions.
const VALIDATORS: [u64; 3] = [20, 21, 22];
/// Extra funded delegators past the common genesis accounts.
const EXTRA: std::ops::Range<u64> = 30..42;
/// A proposer that is no validator.
const ADMIN: u64 = 0;

fn v(i: usize) -> Address {
    addr(VALIDATORS[i])
}

/// Genesis validators without self-bond (stake 0, below any valid
/// `min_self_bond`): the delegation tests count delegations from zero. The
/// validator tests below use [`validators_genesis`], with real self-bonds.
fn stake_genesis() -> Genesis {
    let mut g = genesis();
    // Short epochs: unbonding lasts at least until the end of the next
    // epoch (evidence of a fault can land until then), which three-block
    // epochs keep below the unbonding periods these tests use.
    g.staking.epoch_blocks = 3;
    g.validators = VALIDATORS
        .iter()
        .map(|s| GenesisValidator::new(&key(*s), "127.0.0.1:9000".parse().unwrap(), 0))
        .collect();
    for s in VALIDATORS.iter().copied().chain(EXTRA) {
        g.accounts.push(GenesisAccount {
            address: addr(s),
            balance: FUNDED,
        });
    }
    g
}

fn delegate(validator: Address, amount: u128) -> Action {
    Action::Stake(Box::new(StakeAction::Delegate { validator, amount }))
}
fn undelegate(validator: Address, amount: u128) -> Action {
    Action::Stake(Box::new(StakeAction::Undelegate { validator, amount }))
}
fn withdraw(validator: Address) -> Action {
    Action::Stake(Box::new(StakeAction::Withdraw { validator }))
}
fn claim(validator: Address) -> Action {
    Action::Stake(Box::new(StakeAction::Claim { validator }))
}
fn set_commission(commission_bps: u16) -> Action {
    Action::Stake(Box::new(StakeAction::SetCommission { commission_bps }))
}
fn set_params(unbonding_blocks: u64) -> Action {
    Action::Stake(Box::new(StakeAction::SetParams {
        unbonding_blocks,
        max_commission_bps: 5_000,
        max_commission_change_bps: 500,
    }))
}
fn pay(to: u64, amount: u128) -> Action {
    Action::Transfer(TransferEntry {
        to: addr(to),
        asset: AssetId::NATIVE,
        amount,
    })
}

impl Chain {
    fn new() -> Chain {
        Chain::from(&stake_genesis())
    }
}

#[test]
fn genesis_registers_each_distinct_validator() {
    let mut g = stake_genesis();
    g.validators.push(g.validators[0].clone());
    let state: State = apply_genesis(&g).into_iter().collect();
    let mut registered: Vec<Address> = stake::registry_keys()
        .filter_map(|k| object::<ValidatorRegistry>(&state, &k))
        .flat_map(|r| r.validators.into_inner())
        .map(|c| c.identity)
        .collect();
    registered.sort();
    let mut expected = vec![v(0), v(1), v(2)];
    expected.sort();
    assert_eq!(registered, expected);
    let record: Validator = object(&state, &stake::validator_key(&v(1))).unwrap();
    let consensus_key = g.validators[1].consensus_key.parse().unwrap();
    assert_eq!(
        record,
        Validator::new(v(1), consensus_key, g.validators[1].p2p_address)
    );
    assert_eq!(record.commission_bps, DEFAULT_COMMISSION_BPS);
    // Without validators the module writes nothing.
    let plain: State = apply_genesis(&genesis()).into_iter().collect();
    assert!(stake::registry_keys().all(|k| !plain.contains_key(&k)));
    assert!(!plain.contains_key(&stake::committee_key(0)));
    let entries = apply_genesis(&g);
    assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
}

#[test]
fn delegate_moves_native_into_the_validators_custody() {
    let mut c = Chain::new();
    let before = c.native(addr(1));
    let r = c.send(1, delegate(v(0), 5_000));
    assert_eq!(r.status, TxStatus::Success);
    let fee = required_fee(&delegate(v(0), 5_000), BASE_FEE);
    assert_eq!(r.fee_paid, fee);
    assert_eq!(c.native(addr(1)), before - 5_000 - fee);
    assert_eq!(c.native(stake::custody(&v(0))), 5_000);
    assert_eq!(
        r.events,
        vec![
            Event::Transfer {
                asset: AssetId::NATIVE,
                from: addr(1),
                to: stake::custody(&v(0)),
                amount: 5_000
            },
            Event::Stake(StakeEvent::Delegated {
                validator: v(0),
                delegator: addr(1),
                amount: 5_000,
                delegation: 5_000,
                total_delegated: 5_000,
            })
        ]
    );
    let r = c.send(1, delegate(v(0), 1_000));
    assert_eq!(r.status, TxStatus::Success);
    let val = c.validator(v(0));
    assert_eq!(val.total_delegated, 6_000);
    assert_eq!(val.delegations, 1);
    assert_eq!(c.delegation(v(0), addr(1)).unwrap().amount, 6_000);
}

#[test]
fn hostile_delegations_fail_cleanly() {
    let mut c = Chain::new();
    // Not a validator (a funded account, and an address nobody registered).
    for target in [addr(3), Address([7; 32])] {
        let r = c.send(1, delegate(target, 10));
        assert_eq!(
            r.status,
            stake_failure(StakeError::UnknownValidator { validator: target })
        );
        assert!(r.events.is_empty());
    }
    assert_eq!(
        c.send(1, delegate(v(0), 0)).status,
        stake_failure(StakeError::ZeroAmount {})
    );
    for all_in in [true, false] {
        let balance = c.native(addr(1));
        let amount = if all_in { balance } else { u128::MAX };
        let r = c.send(1, delegate(v(0), amount));
        assert_eq!(
            r.status,
            TxStatus::Failed {
                error: FailureReason::InsufficientBalance {
                    asset: AssetId::NATIVE,
                    needed: amount,
                    available: balance - r.fee_paid,
                }
            }
        );
    }
    // An account with nothing delegated cannot undelegate, withdraw or claim.
    for action in [undelegate(v(0), 1), withdraw(v(0)), claim(v(0))] {
        assert_eq!(
            c.send(2, action).status,
            stake_failure(StakeError::NoDelegation {
                validator: v(0),
                delegator: addr(2)
            })
        );
    }
    assert_eq!(
        c.send(2, withdraw(addr(4))).status,
        stake_failure(StakeError::UnknownValidator { validator: addr(4) })
    );
    let untouched: Validator = object(
        &apply_genesis(&stake_genesis()).into_iter().collect(),
        &stake::validator_key(&v(0)),
    )
    .unwrap();
    assert_eq!(c.validator(v(0)), untouched);
}

#[test]
fn undelegate_unbonds_for_the_period_then_withdraw_pays() {
    let mut c = Chain::new();
    c.send(1, delegate(v(0), 1_000));
    assert_eq!(
        c.send(1, undelegate(v(0), 1_001)).status,
        stake_failure(StakeError::InsufficientDelegation {
            validator: v(0),
            requested: 1_001,
            delegated: 1_000
        })
    );
    assert_eq!(
        c.send(1, withdraw(v(0))).status,
        stake_failure(StakeError::NothingUnbonding { validator: v(0) })
    );
    let at = c.height;
    let r = c.send(1, undelegate(v(0), 400));
    let mature_height = at + DEFAULT_UNBONDING_BLOCKS;
    assert_eq!(
        r.events,
        vec![Event::Stake(StakeEvent::Undelegated {
            validator: v(0),
            delegator: addr(1),
            amount: 400,
            mature_height
        })]
    );
    let val = c.validator(v(0));
    assert_eq!((val.total_delegated, val.total_unbonding), (600, 400));
    // Still in custody until maturity.
    assert_eq!(c.native(stake::custody(&v(0))), 1_000);

    c.skip_to(mature_height - 1);
    assert_eq!(
        c.send(1, withdraw(v(0))).status,
        stake_failure(StakeError::NotMatured {
            amount: 400,
            mature_height,
            height: mature_height - 1
        })
    );
    let before = c.native(addr(1));
    let r = c.send(1, withdraw(v(0)));
    assert_eq!(r.status, TxStatus::Success);
    assert_eq!(c.native(addr(1)), before + 400 - r.fee_paid);
    assert_eq!(c.validator(v(0)).total_unbonding, 0);
    assert!(r.events.contains(&Event::Stake(StakeEvent::Withdrawn {
        validator: v(0),
        delegator: addr(1),
        amount: 400
    })));

    // Undelegating everything and withdrawing it removes the record.
    let at = c.height;
    c.send(1, undelegate(v(0), 600));
    c.skip_to(at + DEFAULT_UNBONDING_BLOCKS);
    assert_eq!(c.send(1, withdraw(v(0))).status, TxStatus::Success);
    assert_eq!(c.delegation(v(0), addr(1)), None);
    assert_eq!(c.validator(v(0)).delegations, 0);
    assert_eq!(c.native(stake::custody(&v(0))), 0);
}

#[test]
fn withdraw_pays_only_matured_entries_and_entries_are_bounded() {
    let mut c = Chain::new();
    c.send(1, delegate(v(0), 10_000));
    c.block(addr(OUTSIDER), &[(ADMIN, set_params(10))]);
    let first = c.height;
    // Two undelegations in one block share an entry.
    c.block(
        addr(OUTSIDER),
        &[(1, undelegate(v(0), 1)), (1, undelegate(v(0), 2))],
    );
    let d = c.delegation(v(0), addr(1)).unwrap();
    assert_eq!(d.unbonding.len(), 1);
    assert_eq!(d.unbonding[0].amount, 3);
    for i in 1..MAX_UNBONDING_ENTRIES as u128 {
        c.send(1, undelegate(v(0), 10 * i));
    }
    assert_eq!(
        c.send(1, undelegate(v(0), 5)).status,
        stake_failure(StakeError::TooManyUnbonding {
            max: MAX_UNBONDING_ENTRIES as u8
        })
    );
    // At first + 10 only the first entry (3) has matured; then the next.
    c.skip_to(first + 10);
    let r = c.send(1, withdraw(v(0)));
    assert!(r.events.contains(&Event::Stake(StakeEvent::Withdrawn {
        validator: v(0),
        delegator: addr(1),
        amount: 3
    })));
    let r = c.send(1, withdraw(v(0)));
    assert!(r.events.contains(&Event::Stake(StakeEvent::Withdrawn {
        validator: v(0),
        delegator: addr(1),
        amount: 10
    })));
    assert_eq!(
        c.delegation(v(0), addr(1)).unwrap().unbonding.len(),
        MAX_UNBONDING_ENTRIES - 2
    );
    // Room again for a new entry.
    assert_eq!(c.send(1, undelegate(v(0), 5)).status, TxStatus::Success);
}

#[test]
fn fees_of_a_validators_blocks_go_to_its_delegators_and_commission() {
    let mut c = Chain::new();
    // 1 delegates 1_000 and 2 delegates 3_000 to validator 0.
    c.block(
        addr(OUTSIDER),
        &[(1, delegate(v(0), 1_000)), (2, delegate(v(0), 3_000))],
    );
    let proposer_before = c.native(v(0));
    let custody_before = c.native(stake::custody(&v(0)));
    // A block proposed by validator 0 with some fee-paying transfers.
    let out = c.block(v(0), &[(3, pay(4, 1)), (4, pay(3, 1)), (5, pay(6, 1))]);
    let fees = out.fees_paid;
    assert_eq!(fees, 3 * BASE_FEE);
    let commission = fees * u128::from(DEFAULT_COMMISSION_BPS) / 10_000;
    assert_eq!(c.native(v(0)), proposer_before + commission);
    assert_eq!(
        c.native(stake::custody(&v(0))),
        custody_before + fees - commission
    );
    let val = c.validator(v(0));
    let to_delegators = fees - commission;
    assert_eq!(val.reward_balance, to_delegators);
    assert_eq!(
        val.reward_per_token,
        to_delegators * REWARD_PRECISION / 4_000
    );
    // 27 over 4_000 tokens: 1 gets 27/4 -> 6, 2 gets 81/4 -> 20.
    let pending = |c: &Chain, seed: u64| {
        c.query(
            "delegation",
            json!({"validator": v(0), "delegator": addr(seed)}),
        )
        .unwrap()["pending_rewards"]
            .clone()
    };
    assert_eq!(pending(&c, 1), "6");
    assert_eq!(pending(&c, 2), "20");

    // A block of a non-validator (or of a validator nobody delegated to)
    // pays its proposer in full and changes no reward pool.
    let before = (c.native(addr(OUTSIDER)), c.native(v(1)));
    let out = c.block(addr(OUTSIDER), &[(3, pay(4, 1))]);
    assert_eq!(c.native(addr(OUTSIDER)), before.0 + out.fees_paid);
    let out = c.block(v(1), &[(3, pay(4, 1))]);
    assert_eq!(c.native(v(1)), before.1 + out.fees_paid);
    assert_eq!(c.validator(v(1)).reward_per_token, 0);

    // Claim pays from custody; claiming again has nothing.
    let before = c.native(addr(2));
    let r = c.send(2, claim(v(0)));
    assert!(r.events.contains(&Event::Stake(StakeEvent::RewardsClaimed {
        validator: v(0),
        delegator: addr(2),
        amount: 20
    })));
    assert_eq!(c.native(addr(2)), before + 20 - r.fee_paid);
    assert_eq!(
        c.send(2, claim(v(0))).status,
        stake_failure(StakeError::NoRewards { validator: v(0) })
    );
    assert_eq!(c.validator(v(0)).reward_balance, to_delegators - 20);
}

#[test]
fn unbonding_funds_earn_nothing_and_rewards_survive_undelegation() {
    let mut c = Chain::new();
    c.block(
        addr(OUTSIDER),
        &[(1, delegate(v(0), 1_000)), (2, delegate(v(0), 1_000))],
    );
    c.block(v(0), &[(3, pay(4, 1)), (4, pay(3, 1))]); // fees 20: 2 commission, 9 each
    c.send(1, undelegate(v(0), 1_000));
    let d = c.delegation(v(0), addr(1)).unwrap();
    assert_eq!((d.amount, d.rewards_owed), (0, 9));
    // Only 2 is delegated now: it takes the whole delegator share.
    c.block(v(0), &[(3, pay(4, 1)), (4, pay(3, 1))]);
    let q = |seed: u64| {
        c.query(
            "delegation",
            json!({"validator": v(0), "delegator": addr(seed)}),
        )
        .unwrap()
    };
    assert_eq!(q(1)["pending_rewards"], "9");
    assert_eq!(q(2)["pending_rewards"], "27");
    assert_eq!(q(1)["unbonding_total"], "1000");
    assert_eq!(q(1)["withdrawable"], "0");
}

#[test]
fn commission_changes_are_capped_stepped_and_spaced() {
    let mut c = Chain::new();
    assert_eq!(
        c.send(1, set_commission(500)).status,
        stake_failure(StakeError::NotValidator { sender: addr(1) })
    );
    assert_eq!(
        c.send(VALIDATORS[0], set_commission(DEFAULT_COMMISSION_BPS))
            .status,
        stake_failure(StakeError::CommissionUnchanged {
            bps: DEFAULT_COMMISSION_BPS
        })
    );
    assert_eq!(
        c.send(VALIDATORS[0], set_commission(1_501)).status,
        stake_failure(StakeError::CommissionChangeTooLarge {
            from_bps: 1_000,
            to_bps: 1_501,
            max_change_bps: 500
        })
    );
    assert_eq!(
        c.send(VALIDATORS[0], set_commission(10_001)).status,
        stake_failure(StakeError::BpsOutOfRange {
            bps: 10_001,
            max: 10_000
        })
    );
    let at = c.height;
    let r = c.send(VALIDATORS[0], set_commission(1_500));
    assert_eq!(
        r.events,
        vec![Event::Stake(StakeEvent::CommissionChanged {
            validator: v(0),
            old_bps: 1_000,
            new_bps: 1_500
        })]
    );
    assert_eq!(
        c.send(VALIDATORS[0], set_commission(1_600)).status,
        stake_failure(StakeError::CommissionChangeTooSoon {
            next_height: at + DEFAULT_UNBONDING_BLOCKS,
            height: at + 1
        })
    );
    // Lowering is always allowed, by any amount.
    assert_eq!(
        c.send(VALIDATORS[0], set_commission(0)).status,
        TxStatus::Success
    );
    c.skip_to(c.height + DEFAULT_UNBONDING_BLOCKS);
    assert_eq!(
        c.send(VALIDATORS[0], set_commission(500)).status,
        TxStatus::Success
    );
    assert_eq!(c.validator(v(0)).commission_bps, 500);

    // The admin caps commissions at 5_000 bps.
    c.send(ADMIN, set_params(20));
    let val = c.validator(v(1));
    assert_eq!(val.commission_bps, 1_000);
    let mut state_val = val;
    state_val.commission_bps = 4_800;
    c.state.insert(
        stake::validator_key(&v(1)),
        StateValue::Object(commonware_codec::Encode::encode(&state_val)),
    );
    assert_eq!(
        c.send(VALIDATORS[1], set_commission(5_100)).status,
        stake_failure(StakeError::CommissionTooHigh {
            commission_bps: 5_100,
            max_bps: 5_000
        })
    );
}

#[test]
fn zero_commission_gives_delegators_all_fees() {
    let mut c = Chain::new();
    c.send(1, delegate(v(0), 100));
    c.send(VALIDATORS[0], set_commission(0));
    let before = c.native(v(0));
    let out = c.block(v(0), &[(3, pay(4, 1))]);
    assert_eq!(c.native(v(0)), before, "no commission at 0 bps");
    assert_eq!(c.validator(v(0)).reward_balance, out.fees_paid);
    assert_eq!(
        c.validator(v(0)).reward_per_token,
        out.fees_paid * REWARD_PRECISION / 100
    );
}

#[test]
fn only_the_admin_sets_parameters_and_new_ones_apply_to_new_entries() {
    let mut c = Chain::new();
    assert_eq!(
        c.send(1, set_params(5)).status,
        TxStatus::Failed {
            error: FailureReason::NotAdmin { sender: addr(1) }
        }
    );
    assert_eq!(
        c.send(ADMIN, set_params(0)).status,
        stake_failure(StakeError::UnbondingPeriodOutOfRange {
            blocks: 0,
            max: lakh_types::modules::stake::MAX_UNBONDING_BLOCKS
        })
    );
    c.send(1, delegate(v(0), 100));
    let old_at = c.height;
    c.send(1, undelegate(v(0), 10));
    let r = c.send(ADMIN, set_params(6));
    assert_eq!(
        r.events,
        vec![Event::Stake(StakeEvent::ParamsSet {
            unbonding_blocks: 6,
            max_commission_bps: 5_000,
            max_commission_change_bps: 500
        })]
    );
    let new_at = c.height;
    c.send(1, undelegate(v(0), 20));
    let d = c.delegation(v(0), addr(1)).unwrap();
    // The new, shorter entry sorts first; the old keeps its maturity.
    assert_eq!(
        d.unbonding
            .iter()
            .map(|e| (e.amount, e.mature_height))
            .collect::<Vec<_>>(),
        vec![(20, new_at + 6), (10, old_at + DEFAULT_UNBONDING_BLOCKS)]
    );
    c.skip_to(new_at + 6);
    let r = c.send(1, withdraw(v(0)));
    assert!(r.events.contains(&Event::Stake(StakeEvent::Withdrawn {
        validator: v(0),
        delegator: addr(1),
        amount: 20
    })));
    assert_eq!(
        c.query("params", json!({})).unwrap(),
        json!({"unbonding_blocks": 6, "max_commission_bps": 5000, "max_commission_change_bps": 500})
    );
}

/// A query runs once: each state entry it needs is fetched once however
/// often it is used, and a query that needs more than its bound is refused.
#[test]
fn a_query_fetches_each_entry_once_within_its_bound() {
    let mut c = Chain::new();
    c.block(
        addr(OUTSIDER),
        &[(1, delegate(v(0), 700)), (2, delegate(v(1), 300))],
    );
    let fetches = RefCell::new(Vec::new());
    let run = |max_reads: usize| {
        fetches.borrow_mut().clear();
        lakh_execution::modules::run_query(
            "stake",
            "validators",
            &json!({}),
            c.height - 1,
            max_reads,
            |key| {
                fetches.borrow_mut().push(key.clone());
                Ok(c.state.get(key).cloned())
            },
        )
    };
    let answer = run(10_000).unwrap();
    assert_eq!(answer["validators"].as_array().unwrap().len(), 3);
    let fetched = fetches.borrow().clone();
    let distinct: std::collections::HashSet<_> = fetched.iter().collect();
    assert_eq!(distinct.len(), fetched.len(), "a key was fetched twice");

    let needed = fetched.len();
    assert_eq!(run(needed).unwrap(), answer);
    match run(needed - 1) {
        Err(QueryError::BadRequest(why)) => assert!(why.contains("more than"), "{why}"),
        other => panic!("a query over its bound answered {other:?}"),
    }
    assert_eq!(fetches.borrow().len(), needed - 1);
}

#[test]
fn queries_describe_validators_and_delegations() {
    let mut c = Chain::new();
    c.block(
        addr(OUTSIDER),
        &[
            (1, delegate(v(0), 700)),
            (1, delegate(v(2), 300)),
            (2, delegate(v(0), 300)),
        ],
    );
    let list = c.query("validators", json!({})).unwrap();
    let list = list["validators"].as_array().unwrap();
    assert_eq!(list.len(), 3);
    // Ascending by address.
    let mut order = [v(0), v(1), v(2)];
    order.sort();
    let at = |a: Address| &list[order.iter().position(|x| *x == a).unwrap()];
    assert_eq!(at(v(0))["address"], json!(v(0)));
    assert_eq!(at(v(0))["total_delegated"], "1000");
    assert_eq!(at(v(0))["delegations"], 2);
    assert_eq!(at(v(1))["total_delegated"], "0");

    let one = c.query("validator", json!({"validator": v(0)})).unwrap();
    assert_eq!(one["custody_balance"], "1000");
    assert_eq!(one["commission_bps"], 1000);
    assert_eq!(one["commission_raise_allowed_height"], json!(null));
    assert_eq!(one["custody"], json!(stake::custody(&v(0))));

    let mine = c
        .query("delegations", json!({"delegator": addr(1)}))
        .unwrap();
    let mine = mine["delegations"].as_array().unwrap();
    assert_eq!(mine.len(), 2);
    let of = |a: Address| {
        mine.iter()
            .find(|d| d["validator"] == json!(a))
            .unwrap_or_else(|| panic!("no delegation to {a}"))
    };
    assert_eq!(of(v(0))["amount"], "700");
    assert_eq!(of(v(2))["amount"], "300");

    assert!(matches!(
        c.query(
            "delegation",
            json!({"validator": v(1), "delegator": addr(1)})
        ),
        Err(QueryError::NotFound(_))
    ));
    assert!(matches!(
        c.query("validator", json!({"validator": addr(1)})),
        Err(QueryError::NotFound(_))
    ));
    assert!(matches!(
        c.query("validator", json!({"validator": "zz"})),
        Err(QueryError::BadRequest(_))
    ));
    assert!(matches!(
        c.query("nope", json!({})),
        Err(QueryError::BadRequest(_))
    ));
    // Unbonding entries show when they can be withdrawn.
    c.send(ADMIN, set_params(6));
    let at = c.height;
    c.send(1, undelegate(v(0), 200));
    let d = c
        .query(
            "delegation",
            json!({"validator": v(0), "delegator": addr(1)}),
        )
        .unwrap();
    assert_eq!(d["unbonding"][0]["mature_height"], at + 6);
    assert_eq!(d["unbonding"][0]["matured"], false);
    c.skip_to(at + 6);
    let d = c
        .query(
            "delegation",
            json!({"validator": v(0), "delegator": addr(1)}),
        )
        .unwrap();
    assert_eq!(d["withdrawable"], "200", "withdrawable in the next block");
}

#[test]
fn access_set_declares_the_proposers_staking_keys() {
    let c = Chain::new();
    let env = c.env(v(0));
    let txs = c.sign(&[(1, pay(2, 1))]);
    let keys = access_set(&env, &txs);
    for k in stake::fee_keys(&v(0)) {
        assert!(keys.contains(&k), "{k:?}");
    }
    // Leaving either out is a state error, never a silent mistake.
    for missing in stake::fee_keys(&v(0)) {
        let mut overlay = lakh_execution::Overlay::new(
            keys.iter()
                .filter(|k| **k != missing)
                .map(|k| (k.clone(), c.state.get(k).cloned())),
        );
        assert_eq!(
            execute_block(&env, &txs, &mut overlay, Mode::Verify),
            Err(ExecError::State(StateError::NotPrefetched(missing.clone())))
        );
    }
}

/// What `who` holds in its account and its custody (commission plus
/// delegator rewards).
fn earned(c: &Chain, who: Address) -> u128 {
    c.native(who) + c.native(stake::custody(&who))
}

fn round(view: u64) -> stake::RewardedRound {
    stake::RewardedRound { epoch: 0, view }
}

#[test]
fn fees_wait_in_the_pot_until_finalizations_are_carried_then_go_to_their_signers() {
    let mut c = Chain::new();
    c.send(1, delegate(v(0), 1_000));
    c.send(1, delegate(v(1), 1_000));
    c.send(1, delegate(v(2), 1_000));
    // The sends above were paid out to their proposer; the pot starts empty.
    assert_eq!(c.native(stake::fee_pot()), 0);

    // No finalization carried: the fees wait.
    let mut env = c.env(v(0));
    env.participation = Vec::new();
    let first = c.block_in(env, &[(3, pay(4, 1))]).fees_paid;
    assert!(first > 0);
    assert_eq!(c.native(stake::fee_pot()), first);

    // Two finalizations: v0 and v1 signed the first, all three the second.
    let before: Vec<u128> = (0..3).map(|i| earned(&c, v(i))).collect();
    let mut env = c.env(v(2));
    env.participation = vec![
        Participation {
            round: round(7),
            signers: vec![v(0), v(1)],
            absent: vec![v(2)],
        },
        Participation {
            round: round(9),
            signers: vec![v(0), v(1), v(2)],
            absent: Vec::new(),
        },
    ];
    let second = c.block_in(env, &[(3, pay(4, 1))]).fees_paid;
    let pot = first + second;
    let per_record = pot / 2;
    let (two_way, three_way) = (per_record / 2, per_record / 3);
    assert_eq!(earned(&c, v(0)), before[0] + two_way + three_way);
    assert_eq!(earned(&c, v(1)), before[1] + two_way + three_way);
    assert_eq!(earned(&c, v(2)), before[2] + three_way);
    // What division leaves stays for the next block.
    assert_eq!(
        c.native(stake::fee_pot()),
        pot - 2 * two_way - 3 * three_way
    );
    // The delegators' part went through each validator's reward pool.
    assert!(c.validator(v(2)).reward_per_token > 0);
    let stored: stake::RewardedRound =
        object(&c.state, &stake::rewarded_round_key()).expect("rewarded round stored");
    assert_eq!(stored, round(9));
    // Each member's record counts what it signed and what it missed.
    let rounds = |i| {
        let val = c.validator(v(i));
        (val.signed_rounds, val.missed_rounds)
    };
    assert_eq!([rounds(0), rounds(1), rounds(2)], [(2, 0), (2, 0), (1, 1)]);
}

#[test]
fn a_huge_fee_over_a_tiny_delegation_stays_with_the_proposer() {
    // Rewards per token would pass u128: the proposer keeps the fees.
    let mut c = Chain::new();
    c.send(1, delegate(v(0), 1));
    let mut val = c.validator(v(0));
    val.reward_per_token = u128::MAX - 10;
    let mut d = c.delegation(v(0), addr(1)).unwrap();
    d.reward_per_token_paid = val.reward_per_token;
    c.state.insert(
        stake::validator_key(&v(0)),
        StateValue::Object(commonware_codec::Encode::encode(&val)),
    );
    c.state.insert(
        stake::delegation_key(&v(0), &addr(1)),
        StateValue::Object(commonware_codec::Encode::encode(&d)),
    );
    let before = c.native(v(0));
    let out = c.block(v(0), &[(3, pay(4, 1))]);
    assert_eq!(c.native(v(0)), before + out.fees_paid);
    assert_eq!(c.validator(v(0)).reward_per_token, u128::MAX - 10);
}

// ---------------------------------------------------------------------------
// Property tests

/// An amount: a raw number, or a percentage of the sender's current
/// delegation (resolved against the state before the block).
#[derive(Clone, Debug)]
enum Amt {
    Raw(u128),
    Percent(u128),
}

#[derive(Clone, Debug)]
enum Op {
    Delegate(usize, u128),
    Undelegate(usize, Amt),
    Withdraw(usize),
    WithdrawAny(usize),
    Claim(usize),
    Commission(u16),
    Pay(u64),
}

#[derive(Clone, Debug)]
struct TxOp {
    sender: u64,
    op: Op,
}

#[derive(Clone, Debug)]
struct BlockOp {
    proposer: usize,
    gap: u64,
    txs: Vec<TxOp>,
    /// The finalizations the block carries, as signer choices ([`target`]);
    /// `None` runs the block with its proposer as the one signer.
    signed: Option<Vec<Vec<usize>>>,
}

fn senders() -> Vec<u64> {
    (1..7).chain(EXTRA).collect()
}

fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![
        6 => 1..5_000u128,
        2 => 1..1_000_000u128,
        1 => Just(0u128),
        1 => Just(u128::MAX),
    ]
}

fn tx_op() -> impl Strategy<Value = TxOp> {
    let senders = senders();
    let n = senders.len();
    let validator = 0..VALIDATORS.len() + 1; // the last is no validator
    (
        0..n,
        prop_oneof![
            5 => (validator.clone(), amount()).prop_map(|(v, a)| Op::Delegate(v, a)),
            4 => (
                validator.clone(),
                prop_oneof![
                    1 => amount().prop_map(Amt::Raw),
                    3 => (1..=120u128).prop_map(Amt::Percent),
                ],
            )
                .prop_map(|(v, a)| Op::Undelegate(v, a)),
            1 => validator.clone().prop_map(Op::Withdraw),
            2 => validator.clone().prop_map(Op::WithdrawAny),
            2 => validator.prop_map(Op::Claim),
            1 => (0u16..3_000).prop_map(Op::Commission),
            4 => (0..n as u64).prop_map(Op::Pay),
        ],
    )
        .prop_map(move |(s, op)| {
            let sender = match op {
                // Commission changes come from a validator.
                Op::Commission(_) => VALIDATORS[s % VALIDATORS.len()],
                _ => senders[s],
            };
            TxOp { sender, op }
        })
}

fn block_op() -> impl Strategy<Value = BlockOp> {
    (
        0..VALIDATORS.len() + 1,
        prop_oneof![3 => 1..3u64, 1 => 3..12u64],
        prop::collection::vec(tx_op(), 0..24),
        prop::option::of(prop::collection::vec(
            prop::collection::vec(0..VALIDATORS.len() + 1, 1..5),
            0..4,
        )),
    )
        .prop_map(|(proposer, gap, txs, signed)| BlockOp {
            proposer,
            gap,
            txs,
            signed,
        })
}

/// The finalizations of `signed`, in rounds after `*view`, by a committee
/// of every validator (the outsider may sign too: it has no record).
fn carried(signed: &[Vec<usize>], view: &mut u64) -> Vec<Participation> {
    signed
        .iter()
        .map(|signers| {
            *view += 1;
            let mut signers = signers.clone();
            signers.sort_unstable();
            signers.dedup();
            Participation {
                round: stake::RewardedRound {
                    epoch: 0,
                    view: *view,
                },
                signers: signers.iter().map(|i| target(*i)).collect(),
                absent: (0..VALIDATORS.len())
                    .filter(|i| !signers.contains(i))
                    .map(v)
                    .collect(),
            }
        })
        .collect()
}

/// Each validator's (signed, missed) rounds, counted from `records`.
fn count_rounds(model: &mut BTreeMap<Address, (u64, u64)>, records: &[Participation]) {
    for r in records {
        for s in &r.signers {
            model.entry(*s).or_default().0 += 1;
        }
        for a in &r.absent {
            model.entry(*a).or_default().1 += 1;
        }
    }
}

/// The fee pot after a block that paid `fees` into `pot` and carried `records`.
fn pot_after(pot: u128, fees: u128, records: &[Participation]) -> u128 {
    let total = pot + fees;
    if records.is_empty() {
        return total;
    }
    let per_record = total / records.len() as u128;
    let paid: u128 = records
        .iter()
        .map(|r| per_record / r.signers.len() as u128 * r.signers.len() as u128)
        .sum();
    total - paid
}

fn target(i: usize) -> Address {
    if i < VALIDATORS.len() {
        v(i)
    } else {
        addr(OUTSIDER)
    }
}

/// The transaction of `t`: `WithdrawAny` goes to the first account (from the
/// drawn one on) that has something unbonding, so withdrawals are frequent
/// enough to test maturity; everything else keeps its sender.
fn resolve(c: &Chain, t: &TxOp) -> (u64, Action) {
    if let Op::WithdrawAny(i) = t.op {
        let all = senders();
        let start = all.iter().position(|s| *s == t.sender).unwrap_or(0);
        for k in 0..all.len() {
            let s = all[(start + k) % all.len()];
            for val in 0..VALIDATORS.len() {
                if c.delegation(v(val), addr(s))
                    .is_some_and(|d| !d.unbonding.is_empty())
                {
                    return (s, withdraw(v(val)));
                }
            }
        }
        return (t.sender, withdraw(target(i)));
    }
    (t.sender, to_action(c, t.sender, &t.op))
}

/// Validator `i`, or (for `i` below the validator count) the first validator
/// from `i` on with which `sender` has a delegation that `wanted` accepts:
/// most attempts then hit a real delegation, the rest probe the failures.
fn pick(c: &Chain, sender: u64, i: usize, wanted: impl Fn(&Delegation) -> bool) -> Address {
    if i >= VALIDATORS.len() {
        return target(i);
    }
    (0..VALIDATORS.len())
        .map(|k| v((i + k) % VALIDATORS.len()))
        .find(|val| c.delegation(*val, addr(sender)).is_some_and(|d| wanted(&d)))
        .unwrap_or(v(i))
}

fn to_action(c: &Chain, sender: u64, op: &Op) -> Action {
    match op {
        Op::Delegate(i, a) => delegate(target(*i), *a),
        Op::Undelegate(i, Amt::Raw(a)) => undelegate(target(*i), *a),
        Op::Undelegate(i, Amt::Percent(p)) => {
            let val = pick(c, sender, *i, |d| d.amount > 0);
            let active = c.delegation(val, addr(sender)).map_or(0, |d| d.amount);
            undelegate(val, (active * p / 100).max(1))
        }
        Op::Withdraw(i) => withdraw(pick(c, sender, *i, |d| !d.unbonding.is_empty())),
        Op::WithdrawAny(_) => unreachable!("resolved by `resolve`"),
        Op::Claim(i) => claim(pick(c, sender, *i, |d| d.amount > 0)),
        Op::Commission(bps) => set_commission(*bps),
        Op::Pay(to) => pay(senders()[*to as usize], 3),
    }
}

/// An unbonding entry the model expects: (validator, delegator) -> [(amount, mature_height)].
type Unbondings = BTreeMap<(Address, Address), Vec<(u128, u64)>>;

#[test]
fn random_staking_keeps_every_invariant_and_parallel_matches_sequential() {
    const UNBONDING: u64 = 6;
    let split = Cell::new(0usize);
    let blocks_run = Cell::new(0usize);
    let seen: RefCell<BTreeMap<&'static str, usize>> = RefCell::default();
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let result = runner.run(&prop::collection::vec(block_op(), 4..16), |blocks| {
        let mut c = Chain::new();
        c.block(addr(OUTSIDER), &[(ADMIN, set_params(UNBONDING))]);
        let mut model: Unbondings = BTreeMap::new();
        let mut rounds: BTreeMap<Address, (u64, u64)> = BTreeMap::new();
        let mut view = 0u64;
        for b in &blocks {
            let actions: Vec<(u64, Action)> = b.txs.iter().map(|t| resolve(&c, t)).collect();
            let proposer = target(b.proposer);
            let mut env = c.env(proposer);
            if let Some(signed) = &b.signed {
                env.participation = carried(signed, &mut view);
            }
            let pot = c.native(stake::fee_pot());
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
            let height = c.height;
            let out = c.block_in(env.clone(), &actions);
            prop_assert_eq!(out.receipts.len(), actions.len());
            prop_assert_eq!(
                c.native(stake::fee_pot()),
                pot_after(pot, out.fees_paid, &env.participation)
            );
            count_rounds(&mut rounds, &env.participation);
            for i in 0..VALIDATORS.len() {
                let val = c.validator(v(i));
                let counted = rounds.get(&v(i)).copied().unwrap_or_default();
                prop_assert_eq!((val.signed_rounds, val.missed_rounds), counted);
            }
            if !env.participation.is_empty() && pot + out.fees_paid > 0 {
                *seen.borrow_mut().entry("pot paid").or_default() += 1;
            }
            for r in &out.receipts {
                let kind = match &r.status {
                    TxStatus::Success => "success",
                    TxStatus::Failed { .. } => "failure",
                };
                *seen.borrow_mut().entry(kind).or_default() += 1;
                for e in &r.events {
                    if let Event::Stake(e) = e {
                        *seen.borrow_mut().entry(e.variant_name()).or_default() += 1;
                    }
                    match e {
                        Event::Stake(StakeEvent::Undelegated {
                            validator,
                            delegator,
                            amount,
                            mature_height,
                        }) => {
                            prop_assert_eq!(*mature_height, height + UNBONDING);
                            model
                                .entry((*validator, *delegator))
                                .or_default()
                                .push((*amount, *mature_height));
                        }
                        Event::Stake(StakeEvent::Withdrawn {
                            validator,
                            delegator,
                            amount,
                        }) => {
                            // Exactly the matured entries, never an early one.
                            let entries = model.entry((*validator, *delegator)).or_default();
                            let matured: u128 = entries
                                .iter()
                                .filter(|(_, at)| *at <= height)
                                .map(|(a, _)| *a)
                                .sum();
                            prop_assert_eq!(*amount, matured);
                            entries.retain(|(_, at)| *at > height);
                        }
                        _ => {}
                    }
                }
            }
            if c.validator(proposer_or(b.proposer)).reward_per_token > 0 {
                *seen.borrow_mut().entry("rewarded").or_default() += 1;
            }
            c.skip_to(c.height + b.gap - 1);
        }
        // The model's unbonding entries are exactly the ledger's.
        for ((val, del), entries) in &model {
            let total: u128 = entries.iter().map(|(a, _)| *a).sum();
            let ledger = c
                .delegation(*val, *del)
                .map(|d| d.unbonding_total().unwrap())
                .unwrap_or(0);
            prop_assert_eq!(total, ledger);
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
    // Every path was exercised, successes and failures alike.
    let seen = seen.into_inner();
    for kind in [
        "success",
        "failure",
        "Delegated",
        "Undelegated",
        "Withdrawn",
        "RewardsClaimed",
        "CommissionChanged",
        "rewarded",
        "pot paid",
    ] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) >= 3,
            "{kind}: {seen:?}"
        );
    }
    println!("stake events over all cases: {seen:?}");
}

/// The validator index of a proposer choice (the outsider maps to validator 0).
fn proposer_or(i: usize) -> Address {
    v(i % VALIDATORS.len())
}
