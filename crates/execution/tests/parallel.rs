//! The parallel executor against the sequential one: random blocks with heavy
//! conflicts in both modes must give exactly the same outcome, error and
//! overlay changes; plus the scheduling cases one by one.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::{blockgen::*, *};
use lakh_execution::{
    BlockEnv, BlockOutcome, ConflictGroups, ExecError, ExecutorKind, Mode, PARALLEL_MIN_TXS,
    StateError, conflict_groups, execute_block, execute_block_parallel, execute_block_with,
    parallel_lanes,
};
use lakh_state::{AccountState, StateKey, StateValue};
use lakh_types::{
    Action, AssetId, Refusal, SignedTransaction, TransferEntry, TxStatus, fees::required_fee,
};
use proptest::{
    prelude::*,
    test_runner::{Config, TestRunner},
};
use std::{cell::Cell, num::NonZeroUsize};

/// Holds of GOLD given to every account past the genesis ones.
const WIDE_GOLD: u128 = 1_000;

fn threads(n: usize) -> NonZeroUsize {
    NonZeroUsize::new(n).expect("nonzero")
}

/// The genesis state plus accounts `10..accounts`, each holding `FUNDED`
/// native and `WIDE_GOLD` GOLD. Returns it with its native total.
fn wide_state(accounts: u64) -> (State, u128) {
    let mut state = genesis_state();
    let extra = accounts.saturating_sub(10);
    for s in 10..accounts {
        state.insert(
            StateKey::Account(addr(s)),
            StateValue::Account(AccountState {
                nonce: 0,
                native_balance: FUNDED,
            }),
        );
        state.insert(
            StateKey::Balance(addr(s), GOLD),
            StateValue::Balance(WIDE_GOLD),
        );
    }
    for (asset, added) in [
        (AssetId::NATIVE, extra as u128 * FUNDED),
        (GOLD, extra as u128 * WIDE_GOLD),
    ] {
        match state.get_mut(&StateKey::Asset(asset)) {
            Some(StateValue::Asset(info)) => info.supply += added,
            other => panic!("asset {asset} missing: {other:?}"),
        }
    }
    let total = native_total() + extra as u128 * FUNDED;
    check_invariants(&state, total);
    (state, total)
}

/// One execution: its result and, when it succeeded, the overlay's changes in
/// slot order (which the node commits in that order).
#[derive(Debug, PartialEq)]
struct Run {
    result: Result<BlockOutcome, ExecError>,
    changes: Vec<(StateKey, Option<StateValue>)>,
    changed_slots: Vec<usize>,
}

/// Runs `txs` sequentially (`threads` = None) or in parallel with no
/// small-block threshold.
fn run_on(
    state: &State,
    env: &BlockEnv,
    txs: &[SignedTransaction],
    mode: Mode,
    threads: Option<NonZeroUsize>,
) -> Run {
    let mut overlay = prefetch(state, env, txs);
    let result = match threads {
        None => execute_block(env, txs, &mut overlay, mode),
        Some(threads) => execute_block_parallel(env, txs, &mut overlay, mode, threads, 0),
    };
    if result.is_err() {
        // The overlay is to be discarded on error.
        return Run {
            result,
            changes: Vec::new(),
            changed_slots: Vec::new(),
        };
    }
    let changed_slots = overlay.changed_slots().collect();
    Run {
        result,
        changes: overlay.into_changes().collect(),
        changed_slots,
    }
}

fn lanes(state: &State, env: &BlockEnv, txs: &[SignedTransaction], n: usize) -> usize {
    parallel_lanes(txs, &prefetch(state, env, txs), threads(n))
}

fn pay(to: u64, amount: u128) -> Action {
    Action::Transfer(TransferEntry {
        to: addr(to),
        asset: AssetId::NATIVE,
        amount,
    })
}

fn pay_gold(to: u64, amount: u128) -> Action {
    Action::Transfer(TransferEntry {
        to: addr(to),
        asset: GOLD,
        amount,
    })
}

/// `count` transfers, sender `first + i` to `first + count + i` (never funded
/// when `wide_state` stopped at `first + count`).
fn disjoint_transfers(first: u64, count: u64) -> Vec<SignedTransaction> {
    (0..count)
        .map(|i| sign(first + i, 0, 100, pay(first + count + i, 1 + i as u128)))
        .collect()
}

#[test]
fn parallel_equals_sequential_on_random_blocks() {
    // Wide enough that blocks without hot accounts split into many groups.
    const ACCOUNTS: u64 = 300;
    let shape = Shape {
        accounts: ACCOUNTS,
        max_txs: 120,
        hot_tenths: (0, 10),
    };
    let (genesis, total) = wide_state(ACCOUNTS);
    let pool = asset_pool();
    let blocks_run = Cell::new(0usize);
    let blocks_split = Cell::new(0usize);
    let mut runner = TestRunner::new(Config {
        cases: 64,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (prop::collection::vec(block_spec(shape), 1..4), 2..5usize);
    let result = runner.run(&strategy, |(blocks, thread_count)| {
        let threads = threads(thread_count);
        let mut state = genesis.clone();
        for (height, spec) in blocks.iter().enumerate() {
            let env = BlockEnv {
                chain_id: CHAIN_ID,
                height: height as u64 + 1,
                participation: lakh_execution::Participation::sole(addr(spec.proposer)),
                offenses: Vec::new(),
                base_fee: spec.base_fee,
                staking: Default::default(),
                deposits: Vec::new(),
            };
            let txs = sign_block(spec, &state, &pool);
            blocks_run.set(blocks_run.get() + 1);
            if lanes(&state, &env, &txs, thread_count) > 1 {
                blocks_split.set(blocks_split.get() + 1);
            }

            let built = run_on(&state, &env, &txs, Mode::Build, None);
            prop_assert_eq!(
                &run_on(&state, &env, &txs, Mode::Build, Some(threads)),
                &built
            );
            let Ok(outcome) = &built.result else {
                return Err(TestCaseError::fail(format!("build failed: {built:?}")));
            };

            // The raw block in verify mode: the same first invalid index, or
            // the same outcome when every transaction is includable.
            let verified = run_on(&state, &env, &txs, Mode::Verify, None);
            prop_assert_eq!(
                &run_on(&state, &env, &txs, Mode::Verify, Some(threads)),
                &verified
            );
            if let Some((first, _)) = outcome.excluded.first() {
                let first_invalid = match &verified.result {
                    Err(ExecError::InvalidBlock { index, .. }) => Some(*index),
                    _ => None,
                };
                prop_assert_eq!(first_invalid, Some(*first));
            }

            let included: Vec<SignedTransaction> = outcome.included(&txs).cloned().collect();
            let verified = run_on(&state, &env, &included, Mode::Verify, None);
            prop_assert_eq!(
                &run_on(&state, &env, &included, Mode::Verify, Some(threads)),
                &verified
            );
            prop_assert!(verified.result.is_ok());

            for (k, v) in &built.changes {
                match v {
                    Some(v) => state.insert(k.clone(), v.clone()),
                    None => state.remove(k),
                };
            }
            check_invariants(&state, total);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The comparison means little unless many blocks really ran on several lanes.
    assert!(
        blocks_split.get() * 4 >= blocks_run.get(),
        "only {} of {} blocks ran in parallel",
        blocks_split.get(),
        blocks_run.get()
    );
}

#[test]
fn disjoint_transfers_form_one_group_each_and_run_in_parallel() {
    let (state, total) = wide_state(10 + 150);
    let txs = disjoint_transfers(10, 150);
    assert_eq!(
        conflict_groups(&txs),
        ConflictGroups {
            groups: 150,
            largest_txs: 1
        }
    );
    let env = env(addr(9));
    assert_eq!(lanes(&state, &env, &txs, 2), 2);
    assert_eq!(lanes(&state, &env, &txs, 4), 4);
    for mode in [Mode::Build, Mode::Verify] {
        let sequential = run_on(&state, &env, &txs, mode, None);
        let outcome = sequential.result.as_ref().expect("valid block");
        assert_eq!(outcome.receipts.len(), 150);
        assert!(
            outcome
                .receipts
                .iter()
                .all(|r| r.status == TxStatus::Success)
        );
        for n in [2, 3, 4] {
            assert_eq!(
                run_on(&state, &env, &txs, mode, Some(threads(n))),
                sequential
            );
        }
    }
    let changes = run_on(&state, &env, &txs, Mode::Verify, Some(threads(2))).changes;
    let mut state = state;
    commit(&mut state, &changes.into_iter().collect());
    check_invariants(&state, total);
    assert_eq!(native(&state, &addr(160)), 1);
    assert_eq!(native(&state, &addr(9)), 150 * BASE_FEE);
}

#[test]
fn all_conflicting_block_is_one_group_and_runs_sequentially() {
    let (state, _) = wide_state(10 + 300);
    // Every transaction pays account 1.
    let txs: Vec<SignedTransaction> = (0..300).map(|i| sign(10 + i, 0, 100, pay(1, 5))).collect();
    assert_eq!(
        conflict_groups(&txs),
        ConflictGroups {
            groups: 1,
            largest_txs: 300
        }
    );
    let env = env(addr(9));
    assert_eq!(lanes(&state, &env, &txs, 4), 1);
    let sequential = run_on(&state, &env, &txs, Mode::Verify, None);
    assert!(sequential.result.is_ok());
    assert_eq!(
        run_on(&state, &env, &txs, Mode::Verify, Some(threads(4))),
        sequential
    );
}

#[test]
fn one_hot_group_among_many_small_ones_is_kept_in_order() {
    let (state, _) = wide_state(10 + 300);
    let env = env(addr(9));
    // Sender 0 sends 100 transfers in a row, interleaved with 100 disjoint ones;
    // the hot group is half the work, so two lanes still split the block.
    let mut txs = Vec::new();
    for i in 0..100u64 {
        txs.push(sign(0, i, 100, pay(1, i as u128)));
        txs.push(sign(10 + i, 0, 100, pay(200 + i, 3)));
    }
    assert_eq!(conflict_groups(&txs).groups, 101);
    assert_eq!(conflict_groups(&txs).largest_txs, 100);
    assert_eq!(lanes(&state, &env, &txs, 2), 2);
    for mode in [Mode::Build, Mode::Verify] {
        let sequential = run_on(&state, &env, &txs, mode, None);
        assert_eq!(
            sequential.result.as_ref().expect("valid").receipts.len(),
            200
        );
        assert_eq!(
            run_on(&state, &env, &txs, mode, Some(threads(2))),
            sequential
        );
    }
}

#[test]
fn verify_reports_the_first_invalid_index_across_lanes() {
    let (state, _) = wide_state(10 + 300);
    let env = env(addr(9));
    let mut txs = disjoint_transfers(10, 150);
    // A nonce gap late, and a wrong chain id earlier in another group.
    txs[120] = sign(130, 1, 100, pay(280, 1));
    txs[40] = sign_on(CHAIN_ID + 1, 50, 0, 100, pay(190, 1));
    assert!(lanes(&state, &env, &txs, 2) > 1);

    let sequential = run_on(&state, &env, &txs, Mode::Verify, None);
    assert_eq!(
        sequential.result,
        Err(ExecError::InvalidBlock {
            index: 40,
            reason: Refusal::WrongChainId {
                expected: CHAIN_ID,
                got: CHAIN_ID + 1
            }
        })
    );
    for n in [2, 3, 4] {
        assert_eq!(
            run_on(&state, &env, &txs, Mode::Verify, Some(threads(n))),
            sequential
        );
    }
    // Build mode drops both and keeps the rest in order.
    let built = run_on(&state, &env, &txs, Mode::Build, None);
    let outcome = built.result.as_ref().expect("builds");
    assert_eq!(
        outcome.excluded.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![40, 120]
    );
    assert_eq!(outcome.receipts[40].index, 40);
    assert_eq!(outcome.receipts[40].tx_id, txs[41].id());
    assert_eq!(
        run_on(&state, &env, &txs, Mode::Build, Some(threads(2))),
        built
    );

    // With only the later one, that is the index reported.
    txs[40] = sign(50, 0, 100, pay(190, 1));
    let sequential = run_on(&state, &env, &txs, Mode::Verify, None);
    assert!(matches!(
        sequential.result,
        Err(ExecError::InvalidBlock { index: 120, .. })
    ));
    assert_eq!(
        run_on(&state, &env, &txs, Mode::Verify, Some(threads(2))),
        sequential
    );
}

#[test]
fn transfers_of_one_asset_share_its_entry_until_it_is_minted() {
    let (state, total) = wide_state(10 + 300);
    let env = env(addr(9));
    let mut txs: Vec<SignedTransaction> = (0..150)
        .map(|i| sign(10 + i, 0, 100, pay_gold(160 + i, 7)))
        .collect();
    // The GOLD entry is only read by transfers: no conflict through it.
    assert_eq!(conflict_groups(&txs).groups, 150);
    assert!(lanes(&state, &env, &txs, 2) > 1);
    let sequential = run_on(&state, &env, &txs, Mode::Verify, None);
    assert!(
        sequential
            .result
            .as_ref()
            .expect("valid")
            .receipts
            .iter()
            .all(|r| r.status == TxStatus::Success)
    );
    assert_eq!(
        run_on(&state, &env, &txs, Mode::Verify, Some(threads(2))),
        sequential
    );

    // A mint writes the entry (its supply), so every GOLD transfer joins it.
    txs.insert(
        75,
        sign(
            0,
            0,
            100,
            Action::Mint {
                asset: GOLD,
                to: addr(10),
                amount: 5,
            },
        ),
    );
    assert_eq!(
        conflict_groups(&txs),
        ConflictGroups {
            groups: 1,
            largest_txs: 151
        }
    );
    assert_eq!(lanes(&state, &env, &txs, 2), 1);
    let sequential = run_on(&state, &env, &txs, Mode::Verify, None);
    assert_eq!(
        run_on(&state, &env, &txs, Mode::Verify, Some(threads(2))),
        sequential
    );
    let mut state = state;
    commit(&mut state, &sequential.changes.into_iter().collect());
    check_invariants(&state, total);
    assert_eq!(balance(&state, &addr(10), GOLD), WIDE_GOLD - 7 + 5);
}

#[test]
fn proposer_in_transactions_is_credited_after_all_of_them() {
    let (state, total) = wide_state(10 + 150);
    let proposer = 5;
    let env = env(addr(proposer));
    let mut txs = disjoint_transfers(10, 150);
    // The proposer spends all it holds, then is paid, in its own group.
    let fee = required_fee(&pay(1, 0), BASE_FEE);
    txs[10] = sign(proposer, 0, 100, pay(1, FUNDED - fee));
    txs[90] = sign(2, 0, 100, pay(proposer, 11));
    let sequential = run_on(&state, &env, &txs, Mode::Verify, None);
    let outcome = sequential.result.as_ref().expect("valid");
    assert!(
        outcome
            .receipts
            .iter()
            .all(|r| r.status == TxStatus::Success)
    );
    assert!(lanes(&state, &env, &txs, 2) > 1);
    assert_eq!(
        run_on(&state, &env, &txs, Mode::Verify, Some(threads(2))),
        sequential
    );
    let mut state = state;
    commit(&mut state, &sequential.changes.into_iter().collect());
    check_invariants(&state, total);
    assert_eq!(native(&state, &addr(proposer)), 11 + 150 * fee);
}

#[test]
fn missing_prefetch_gives_the_sequential_error() {
    let (state, _) = wide_state(10 + 300);
    let env = env(addr(9));
    let txs = disjoint_transfers(10, 150);
    let missing = StateKey::Account(addr(10 + 150 + 60));
    let run = |threads: Option<NonZeroUsize>| {
        let mut overlay = lakh_execution::Overlay::new(
            lakh_execution::access_set(&env, &txs)
                .into_iter()
                .filter(|k| *k != missing)
                .map(|k| {
                    let v = state.get(&k).cloned();
                    (k, v)
                }),
        );
        match threads {
            None => execute_block(&env, &txs, &mut overlay, Mode::Build),
            Some(t) => execute_block_parallel(&env, &txs, &mut overlay, Mode::Build, t, 0),
        }
    };
    let sequential = run(None);
    assert_eq!(
        sequential,
        Err(ExecError::State(StateError::NotPrefetched(missing.clone())))
    );
    assert_eq!(run(Some(threads(2))), sequential);
}

#[test]
fn executor_kinds_agree_above_the_threshold() {
    let (state, _) = wide_state(10 + 2 * PARALLEL_MIN_TXS as u64);
    let env = env(addr(9));
    let txs = disjoint_transfers(10, PARALLEL_MIN_TXS as u64);
    let run = |kind: ExecutorKind| {
        let mut overlay = prefetch(&state, &env, &txs);
        let outcome = execute_block_with(&kind, &env, &txs, &mut overlay, Mode::Verify);
        (outcome, overlay.into_changes().collect::<Vec<_>>())
    };
    let sequential = run(ExecutorKind::Sequential);
    assert!(sequential.0.is_ok());
    assert_eq!(run(ExecutorKind::default()), sequential);
    assert_eq!(
        run(ExecutorKind::Parallel {
            threads: threads(2)
        }),
        sequential
    );
    assert!(matches!(
        ExecutorKind::default(),
        ExecutorKind::Parallel { .. }
    ));
}
