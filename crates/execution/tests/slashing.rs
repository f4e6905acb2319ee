//! Slashing through real blocks: offenses proven by evidence (double
//! signs) tombstone and burn; missing too many rounds of a window jails and
//! burns; `unjail`; offenses that are no longer punishable; and a property
//! test of the slash arithmetic with delegations, unbonding entries and
//! redelegations (custody covers the ledgers, burns round against the
//! validator, supply with the burn account is conserved, parallel equals
//! sequential).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::stake_chain::*;
use common::*;
use lakh_execution::{
    BlockEnv, ExecError, Mode, Offense, Participation, execute_block,
    modules::stake::{self, RewardedRound},
};
use lakh_types::{
    Action, Address, Event, Genesis, TxStatus,
    genesis::{GenesisAccount, GenesisValidator},
    modules::stake::{BPS, Fault, SlashReason, StakeAction, StakeError, StakeEvent, burned},
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};

/// Genesis validators (seed, self-bond).
const VALIDATORS: [(u64, u128); 3] = [(20, 1_000_000), (21, 2_000_000), (22, 3_000_000)];
/// Funded delegators.
const DELEGATORS: std::ops::Range<u64> = 30..36;
const EPOCH_BLOCKS: u64 = 10;
const UNBONDING: u64 = 25;
/// Small windows so downtime shows within a test.
const WINDOW: u64 = 10;
const JAIL_BLOCKS: u64 = 7;
const ADMIN: u64 = 0;

fn v(i: usize) -> Address {
    addr(VALIDATORS[i].0)
}

fn slashing_genesis() -> Genesis {
    let mut g = genesis();
    g.staking.epoch_blocks = EPOCH_BLOCKS;
    g.staking.committee_size = VALIDATORS.len();
    g.staking.slashing.signed_window_rounds = WINDOW;
    g.staking.slashing.jail_blocks = JAIL_BLOCKS;
    g.validators = VALIDATORS
        .iter()
        .map(|(s, bond)| GenesisValidator::new(&key(*s), "127.0.0.1:9000".parse().unwrap(), *bond))
        .collect();
    for s in VALIDATORS.iter().map(|(s, _)| *s).chain(DELEGATORS) {
        g.accounts.push(GenesisAccount {
            address: addr(s),
            balance: FUNDED,
        });
    }
    g.validate().unwrap();
    g
}

fn new_chain() -> Chain {
    let mut c = Chain::from(&slashing_genesis());
    let r = c.send(
        ADMIN,
        Action::Stake(Box::new(StakeAction::SetParams {
            unbonding_blocks: UNBONDING,
            max_commission_bps: BPS,
            max_commission_change_bps: 500,
        })),
    );
    assert_eq!(r.status, TxStatus::Success);
    c
}

fn stake(action: StakeAction) -> Action {
    Action::Stake(Box::new(action))
}

fn delegate(validator: Address, amount: u128) -> Action {
    stake(StakeAction::Delegate { validator, amount })
}

fn undelegate(validator: Address, amount: u128) -> Action {
    stake(StakeAction::Undelegate { validator, amount })
}

fn double_sign(offender: Address, epoch: u64) -> Offense {
    Offense {
        offender,
        epoch,
        view: 3,
        fault: Fault::ConflictingNotarize {},
    }
}

fn with_offenses(c: &Chain, offenses: Vec<Offense>) -> BlockEnv {
    let mut env = c.env(addr(OUTSIDER));
    env.offenses = offenses;
    env
}

fn slashed_events(events: &[Event]) -> Vec<StakeEvent> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Stake(s @ StakeEvent::Slashed { .. }) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

fn ceil_share(amount: u128, bps: u16) -> u128 {
    (amount * u128::from(bps)).div_ceil(u128::from(BPS))
}

#[test]
fn a_double_sign_burns_bonded_and_recent_unbonding_stake_and_tombstones() {
    let mut c = new_chain();
    let bps = c.staking.slashing.double_sign_slash_bps;
    // Epoch 0: unbonding that a fault of epoch 1 does not reach.
    c.block(
        addr(OUTSIDER),
        &[(30, delegate(v(0), 400_000)), (31, delegate(v(0), 100_000))],
    );
    c.block(addr(OUTSIDER), &[(30, undelegate(v(0), 40_000))]);
    // Epoch 1: unbonding after the fault, which it reaches.
    c.skip_to(EPOCH_BLOCKS + 2);
    c.block(addr(OUTSIDER), &[(31, undelegate(v(0), 50_000))]);
    let before = c.validator(v(0));
    assert_eq!(
        before.total_delegated,
        1_000_000 + 400_000 + 100_000 - 40_000 - 50_000
    );
    assert_eq!(before.total_unbonding, 90_000);
    let (custody, sink) = (c.native(stake::custody(&v(0))), c.native(burned()));

    let out = c.block_in(with_offenses(&c, vec![double_sign(v(0), 1)]), &[]);
    let bonded = ceil_share(before.total_delegated, bps);
    let unbonding = ceil_share(50_000, bps);
    assert_eq!(
        slashed_events(&out.block_events),
        vec![StakeEvent::Slashed {
            validator: v(0),
            reason: SlashReason::DoubleSign {
                fault: Fault::ConflictingNotarize {},
                epoch: 1,
                view: 3
            },
            bonded,
            unbonding,
            jailed_until_height: u64::MAX,
            tombstoned: true,
        }]
    );
    let after = c.validator(v(0));
    assert!(after.tombstoned && after.jailed);
    assert_eq!(after.total_delegated, before.total_delegated - bonded);
    assert_eq!(after.total_unbonding, before.total_unbonding - unbonding);
    assert_eq!(after.total_slashed, bonded + unbonding);
    assert_eq!(
        c.native(stake::custody(&v(0))),
        custody - bonded - unbonding
    );
    assert_eq!(c.native(burned()), sink + bonded + unbonding);
    // Each delegation keeps 95% (rounded down); the epoch-0 entry is whole,
    // the epoch-1 entry lost its share.
    let d30 = stake::synced(&c.delegation(v(0), addr(30)).unwrap(), &after).unwrap();
    assert_eq!(d30.amount, 360_000 * 95 / 100);
    assert_eq!(d30.unbonding[0].amount, 40_000);
    let d31 = stake::synced(&c.delegation(v(0), addr(31)).unwrap(), &after).unwrap();
    assert_eq!(d31.amount, 50_000 * 95 / 100);
    assert_eq!(d31.unbonding[0].amount, 50_000 - unbonding);
    // The registry marks it, so the election skips it; new stake is refused.
    let entry = stake::Candidate::of(&after);
    assert!(entry.jailed);
    assert_eq!(
        c.send(32, delegate(v(0), 10)).status,
        stake_failure(StakeError::Tombstoned { validator: v(0) })
    );
    assert_eq!(
        c.send(VALIDATORS[0].0, stake(StakeAction::Unjail {}))
            .status,
        stake_failure(StakeError::Tombstoned { validator: v(0) })
    );
    // Once matured, the slashed entry pays what is left of it.
    let entry_height = d31.unbonding[0].mature_height;
    c.skip_to(entry_height);
    let r = c.send(31, stake(StakeAction::Withdraw { validator: v(0) }));
    assert!(r.events.contains(&Event::Stake(StakeEvent::Withdrawn {
        validator: v(0),
        delegator: addr(31),
        amount: 50_000 - unbonding,
    })));
    // The stake left can still leave, and the next election skips it.
    let r = c.send(31, undelegate(v(0), d31.amount));
    assert_eq!(r.status, TxStatus::Success);
    c.skip_to(c.staking.last_height(c.staking.epoch_of(c.height)));
    let out = c.block(addr(OUTSIDER), &[]);
    let committee = out.next_committee.expect("boundary elects");
    assert!(!committee.contains(&v(0)));
    assert!(committee.contains(&v(1)));
}

#[test]
fn offenses_no_longer_punishable_are_left_out_or_fail_the_block() {
    let mut c = new_chain();
    c.skip_to(3 * EPOCH_BLOCKS + 1);
    let cases = [
        (
            vec![double_sign(v(0), 1)],
            0,
            StakeError::EvidenceTooOld {
                epoch: 1,
                current_epoch: 3,
            },
        ),
        (
            vec![double_sign(v(0), 4)],
            0,
            StakeError::EvidenceFromFuture {
                epoch: 4,
                current_epoch: 3,
            },
        ),
        (
            vec![double_sign(v(1), 2), double_sign(v(1), 3)],
            1,
            StakeError::RepeatedOffense { validator: v(1) },
        ),
        (
            vec![double_sign(addr(30), 3)],
            0,
            StakeError::UnknownValidator {
                validator: addr(30),
            },
        ),
    ];
    for (offenses, index, reason) in cases {
        let env = with_offenses(&c, offenses);
        let (built, _) = run_everywhere(&c.state, &env, &[], Mode::Build);
        assert_eq!(built.excluded_offenses, vec![(index, reason.clone())]);
        let mut overlay = prefetch(&c.state, &env, &[]);
        assert_eq!(
            execute_block(&env, &[], &mut overlay, Mode::Verify),
            Err(ExecError::InvalidOffense { index, reason })
        );
    }
    // Punished once; the same evidence again is refused as tombstoned.
    c.block_in(with_offenses(&c, vec![double_sign(v(2), 3)]), &[]);
    let env = with_offenses(&c, vec![double_sign(v(2), 3)]);
    let (built, _) = run_everywhere(&c.state, &env, &[], Mode::Build);
    assert_eq!(
        built.excluded_offenses,
        vec![(0, StakeError::Tombstoned { validator: v(2) })]
    );
    // The access set names what punishing touches.
    let keys = lakh_execution::access_set(&env, &[]);
    for key in stake::slashing::slash_keys(&v(2)) {
        assert!(keys.contains(&key), "{key:?}");
    }
}

/// A block carrying one finalization that `signers` signed and `absent`
/// did not.
fn carried(c: &Chain, view: u64, signers: &[Address], absent: &[Address]) -> BlockEnv {
    let mut env = c.env(addr(OUTSIDER));
    env.participation = vec![Participation {
        round: RewardedRound {
            epoch: c.staking.epoch_of(c.height),
            view,
        },
        signers: signers.to_vec(),
        absent: absent.to_vec(),
    }];
    env
}

#[test]
fn missing_too_many_rounds_jails_and_burns_until_unjail() {
    let mut c = new_chain();
    let params = c.staking.slashing;
    let allowed = params.max_missed_rounds();
    assert_eq!(allowed, WINDOW / 2);
    // A full window at exactly the allowance: nothing happens, and the
    // window starts over.
    for view in 0..WINDOW {
        let absent: &[Address] = if view < allowed { &[v(2)] } else { &[] };
        let signers: Vec<Address> = (0..3).map(v).filter(|a| !absent.contains(a)).collect();
        let out = c.block_in(carried(&c, view + 1, &signers, absent), &[]);
        assert!(slashed_events(&out.block_events).is_empty());
    }
    assert_eq!(c.validator(v(2)).window_rounds, 0);
    // Then one more missed round than allowed within a window.
    let before = c.validator(v(2));
    let mut slashed = Vec::new();
    for view in 0..=allowed {
        let out = c.block_in(carried(&c, WINDOW + view + 1, &[v(0), v(1)], &[v(2)]), &[]);
        slashed.extend(slashed_events(&out.block_events));
    }
    let jailed_at = c.height - 1;
    let bonded = ceil_share(before.total_delegated, params.downtime_slash_bps);
    assert_eq!(
        slashed,
        vec![StakeEvent::Slashed {
            validator: v(2),
            reason: SlashReason::Downtime {
                missed_rounds: allowed + 1,
                window_rounds: allowed + 1,
            },
            bonded,
            unbonding: 0,
            jailed_until_height: jailed_at + JAIL_BLOCKS,
            tombstoned: false,
        }]
    );
    let jailed = c.validator(v(2));
    assert!(jailed.jailed && !jailed.tombstoned);
    assert_eq!(jailed.total_delegated, before.total_delegated - bonded);
    // While jailed, missed rounds are not counted again.
    c.block_in(carried(&c, 2 * WINDOW, &[v(0), v(1)], &[v(2)]), &[]);
    assert_eq!(c.validator(v(2)).total_slashed, bonded);
    let seed = VALIDATORS[2].0;
    assert_eq!(
        c.send(seed, stake(StakeAction::Unjail {})).status,
        stake_failure(StakeError::StillJailed {
            until_height: jailed_at + JAIL_BLOCKS,
            height: c.height - 1,
        })
    );
    assert_eq!(
        c.send(VALIDATORS[1].0, stake(StakeAction::Unjail {}))
            .status,
        stake_failure(StakeError::NotJailed { validator: v(1) })
    );
    c.skip_to(jailed_at + JAIL_BLOCKS);
    let r = c.send(seed, stake(StakeAction::Unjail {}));
    assert_eq!(
        r.events,
        vec![Event::Stake(StakeEvent::Unjailed { validator: v(2) })]
    );
    let back = c.validator(v(2));
    assert!(!back.jailed && !stake::Candidate::of(&back).jailed);
    assert_eq!((back.window_rounds, back.window_missed), (0, 0));
}

#[test]
fn the_slash_that_fills_the_record_tombstones() {
    let mut c = new_chain();
    let allowed = c.staking.slashing.max_missed_rounds();
    let seed = VALIDATORS[1].0;
    let mut view = 0;
    for round in 1..=stake::MAX_SLASHES {
        for _ in 0..=allowed {
            view += 1;
            c.block_in(carried(&c, view, &[v(0)], &[v(1)]), &[]);
        }
        let val = c.validator(v(1));
        assert_eq!(val.slashes.len(), round);
        if round == stake::MAX_SLASHES {
            assert!(val.tombstoned);
            break;
        }
        assert!(!val.tombstoned);
        c.skip_to(val.jailed_until_height);
        assert_eq!(
            c.send(seed, stake(StakeAction::Unjail {})).status,
            TxStatus::Success
        );
    }
}

/// One step of the random slashing test.
#[derive(Clone, Debug)]
enum Op {
    Delegate(u8, u8, u128),
    Undelegate(u8, u8, u8),
    Withdraw(u8, u8),
    Claim(u8, u8),
    Redelegate(u8, u8, u8, u8),
    /// Evidence against a validator, of the current or previous epoch.
    DoubleSign(u8, bool),
    /// Carried rounds (1 to 4) that the validator misses.
    Miss(u8, u8),
    Unjail(u8),
    /// Blocks to skip.
    Gap(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..6, 0u8..3, 1u128..500_000).prop_map(|(d, v, a)| Op::Delegate(d, v, a)),
        3 => (0u8..6, 0u8..3, 1u8..=100).prop_map(|(d, v, p)| Op::Undelegate(d, v, p)),
        2 => (0u8..6, 0u8..3).prop_map(|(d, v)| Op::Withdraw(d, v)),
        1 => (0u8..6, 0u8..3).prop_map(|(d, v)| Op::Claim(d, v)),
        2 => (0u8..6, 0u8..3, 0u8..3, 1u8..=100).prop_map(|(d, f, t, p)| Op::Redelegate(d, f, t, p)),
        1 => (0u8..3, any::<bool>()).prop_map(|(v, p)| Op::DoubleSign(v, p)),
        3 => (0u8..3, 1u8..=4).prop_map(|(v, n)| Op::Miss(v, n)),
        1 => (0u8..3).prop_map(Op::Unjail),
        2 => (1u8..12).prop_map(Op::Gap),
    ]
}

fn percent_of(amount: u128, p: u8) -> u128 {
    (amount * u128::from(p) / 100).max(1)
}

#[test]
fn random_slashing_keeps_every_invariant_and_rounds_against_the_validator() {
    let mut runner = TestRunner::new(Config {
        cases: 128,
        failure_persistence: None,
        ..Config::default()
    });
    let seen = std::cell::RefCell::new(std::collections::BTreeMap::<&str, usize>::new());
    let result = runner.run(&prop::collection::vec(op(), 10..40), |ops| {
        let mut c = new_chain();
        let mut view = 0u64;
        for op in &ops {
            let delegator = |d: &u8| DELEGATORS.start + u64::from(*d);
            let mut env = c.env(addr(OUTSIDER));
            env.participation.clear();
            let mut actions = Vec::new();
            match op {
                Op::Delegate(d, i, a) => actions.push((delegator(d), delegate(v(*i as usize), *a))),
                Op::Undelegate(d, i, p) => {
                    let val = c.validator(v(*i as usize));
                    let active = c
                        .delegation(v(*i as usize), addr(delegator(d)))
                        .and_then(|d| stake::synced(&d, &val))
                        .map_or(1, |d| d.amount);
                    actions.push((
                        delegator(d),
                        undelegate(v(*i as usize), percent_of(active, *p)),
                    ));
                }
                Op::Withdraw(d, i) => actions.push((
                    delegator(d),
                    stake(StakeAction::Withdraw {
                        validator: v(*i as usize),
                    }),
                )),
                Op::Claim(d, i) => actions.push((
                    delegator(d),
                    stake(StakeAction::Claim {
                        validator: v(*i as usize),
                    }),
                )),
                Op::Redelegate(d, from, to, p) => {
                    let val = c.validator(v(*from as usize));
                    let active = c
                        .delegation(v(*from as usize), addr(delegator(d)))
                        .and_then(|d| stake::synced(&d, &val))
                        .map_or(1, |d| d.amount);
                    actions.push((
                        delegator(d),
                        stake(StakeAction::Redelegate {
                            from: v(*from as usize),
                            to: v(*to as usize),
                            amount: percent_of(active, *p),
                        }),
                    ));
                }
                Op::DoubleSign(i, previous) => {
                    let epoch = c.staking.epoch_of(c.height);
                    let epoch = if *previous {
                        epoch.saturating_sub(1)
                    } else {
                        epoch
                    };
                    env.offenses = vec![double_sign(v(*i as usize), epoch)];
                }
                Op::Miss(i, rounds) => {
                    let absent = v(*i as usize);
                    let signers: Vec<Address> = (0..3).map(v).filter(|a| *a != absent).collect();
                    for _ in 0..*rounds {
                        view += 1;
                        let mut one = carried(&c, view, &signers, &[absent]).participation;
                        env.participation.append(&mut one);
                    }
                }
                Op::Unjail(i) => {
                    actions.push((VALIDATORS[*i as usize].0, stake(StakeAction::Unjail {})))
                }
                Op::Gap(n) => {
                    c.skip_to(c.height + u64::from(*n));
                    continue;
                }
            }
            // What each validator holds before, to check the burn after.
            let before: Vec<_> = (0..3).map(|i| c.validator(v(i))).collect();
            // Build mode first: an offense it leaves out must not reach verify.
            let (built, _) = run_everywhere(&c.state, &env, &c.sign(&actions), Mode::Build);
            let dropped: Vec<usize> = built.excluded_offenses.iter().map(|(i, _)| *i).collect();
            env.offenses = env
                .offenses
                .iter()
                .enumerate()
                .filter(|(i, _)| !dropped.contains(i))
                .map(|(_, o)| *o)
                .collect();
            let out = c.block_in(env.clone(), &actions);
            for r in &out.receipts {
                *seen
                    .borrow_mut()
                    .entry(match r.status {
                        TxStatus::Success => "success",
                        TxStatus::Failed { .. } => "failure",
                    })
                    .or_default() += 1;
            }
            for event in slashed_events(&out.block_events) {
                let StakeEvent::Slashed {
                    validator,
                    reason,
                    bonded,
                    ..
                } = event
                else {
                    unreachable!()
                };
                let i = (0..3).find(|i| v(*i) == validator).unwrap();
                let (bps, kind) = match reason {
                    SlashReason::DoubleSign { .. } => {
                        (c.staking.slashing.double_sign_slash_bps, "double sign")
                    }
                    SlashReason::Downtime { .. } => {
                        (c.staking.slashing.downtime_slash_bps, "downtime")
                    }
                };
                *seen.borrow_mut().entry(kind).or_default() += 1;
                // The burn rounds up: never in the validator's favour.
                prop_assert_eq!(bonded, ceil_share(before[i].total_delegated, bps));
                let after = c.validator(validator);
                prop_assert!(after.stake_factor <= before[i].stake_factor);
                prop_assert!(after.jailed);
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = seen.into_inner();
    for kind in ["success", "failure", "double sign", "downtime"] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) > 0,
            "never saw {kind}: {seen:?}"
        );
    }
}
