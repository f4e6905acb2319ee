//! One test per behaviour of the executor and the bank module: each failure
//! reason, each exclusion reason in both modes, fees and state changes.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use lakh_execution::{
    BlockEnv, ExecError, Mode, Overlay, StateError, access_set, apply_genesis, execute_block,
};
use lakh_state::{AccountState, AssetInfo, StateKey, StateValue};
use lakh_types::{
    Action, Address, AssetId, Event, FailureReason, Refusal, SignedTransaction, TransferEntry,
    TxStatus, fees::required_fee,
};

const FEE: u128 = 1_000;
const PROPOSER: u64 = 9;

fn pay(to: Address, asset: AssetId, amount: u128) -> Action {
    Action::Transfer(TransferEntry { to, asset, amount })
}

fn entry(to: Address, asset: AssetId, amount: u128) -> TransferEntry {
    TransferEntry { to, asset, amount }
}

fn create(symbol: &str, decimals: u8, max_supply: Option<u128>, initial_supply: u128) -> Action {
    Action::CreateAsset {
        symbol: sym(symbol),
        decimals,
        max_supply,
        initial_supply,
    }
}

fn block_env() -> BlockEnv {
    env(addr(PROPOSER))
}

/// Runs one block in verify mode and commits it; returns the receipts' statuses.
fn verify_commit(state: &mut State, txs: &[SignedTransaction]) -> Vec<TxStatus> {
    let (outcome, changes) = run(state, &block_env(), txs, Mode::Verify).expect("block executes");
    commit(state, &changes);
    check_invariants(state, native_total());
    outcome.receipts.into_iter().map(|r| r.status).collect()
}

fn failed(error: FailureReason) -> TxStatus {
    TxStatus::Failed { error }
}

#[test]
fn native_transfer_moves_balance_charges_fee_and_credits_proposer_once() {
    let state = genesis_state();
    let txs = [
        sign(0, 0, FEE, pay(addr(8), AssetId::NATIVE, 700)),
        sign(0, 1, FEE, pay(addr(8), AssetId::NATIVE, 300)),
        sign(2, 0, FEE, pay(addr(0), AssetId::NATIVE, 5)),
    ];
    let (outcome, changes) = run(&state, &block_env(), &txs, Mode::Verify).expect("valid");
    let fee = required_fee(&txs[0].tx.action, BASE_FEE);
    assert_eq!(fee, BASE_FEE);
    assert_eq!(outcome.fees_paid, 3 * fee);
    assert_eq!(outcome.used_units, 3);
    assert!(outcome.excluded.is_empty());
    for (i, r) in outcome.receipts.iter().enumerate() {
        assert_eq!(r.index, i as u32);
        assert_eq!(r.height, 5);
        assert_eq!(r.fee_paid, fee);
        assert_eq!(r.tx_id, txs[i].id());
        assert_eq!(r.status, TxStatus::Success);
    }
    assert_eq!(
        outcome.receipts[0].events,
        vec![Event::Transfer {
            asset: AssetId::NATIVE,
            from: addr(0),
            to: addr(8),
            amount: 700
        }]
    );
    // Senders 0 and 2, recipient 8, proposer 9.
    assert_eq!(changes.len(), 4);
    assert_eq!(
        changes[&StateKey::Account(addr(8))],
        Some(StateValue::Account(AccountState {
            nonce: 0,
            native_balance: 1_000
        }))
    );
    assert_eq!(
        changes[&StateKey::Account(addr(0))],
        Some(StateValue::Account(AccountState {
            nonce: 2,
            native_balance: FUNDED - 1_000 - 2 * fee + 5
        }))
    );
    assert_eq!(
        changes[&StateKey::Account(addr(PROPOSER))],
        Some(StateValue::Account(AccountState {
            nonce: 0,
            native_balance: 3 * fee
        }))
    );
    let mut state = state;
    commit(&mut state, &changes);
    check_invariants(&state, native_total());
}

#[test]
fn transfer_to_self_changes_only_nonce_and_fee() {
    let mut state = genesis_state();
    let statuses = verify_commit(
        &mut state,
        &[
            sign(3, 0, FEE, pay(addr(3), AssetId::NATIVE, 1_000)),
            sign(1, 0, FEE, pay(addr(1), GOLD, 500)),
        ],
    );
    assert_eq!(statuses, vec![TxStatus::Success; 2]);
    assert_eq!(native(&state, &addr(3)), FUNDED - BASE_FEE);
    assert_eq!(nonce(&state, &addr(3)), 1);
    assert_eq!(balance(&state, &addr(1), GOLD), 500);
    // Spending more than held still fails, to self or not.
    let statuses = verify_commit(&mut state, &[sign(1, 1, FEE, pay(addr(1), GOLD, 501))]);
    assert_eq!(
        statuses,
        vec![failed(FailureReason::InsufficientBalance {
            asset: GOLD,
            needed: 501,
            available: 500
        })]
    );
}

#[test]
fn self_transfer_emits_its_event() {
    let state = genesis_state();
    let txs = [sign(3, 0, FEE, pay(addr(3), AssetId::NATIVE, 9))];
    let (outcome, _) = run(&state, &block_env(), &txs, Mode::Verify).expect("valid");
    assert_eq!(
        outcome.receipts[0].events,
        vec![Event::Transfer {
            asset: AssetId::NATIVE,
            from: addr(3),
            to: addr(3),
            amount: 9
        }]
    );
}

#[test]
fn insufficient_native_balance_fails_but_consumes_nonce_and_fee() {
    let mut state = genesis_state();
    // Account 7 holds 50: the fee (10) is paid, leaving 40 for the transfer.
    let statuses = verify_commit(
        &mut state,
        &[sign(7, 0, FEE, pay(addr(8), AssetId::NATIVE, 41))],
    );
    assert_eq!(
        statuses,
        vec![failed(FailureReason::InsufficientBalance {
            asset: AssetId::NATIVE,
            needed: 41,
            available: 40
        })]
    );
    assert_eq!(nonce(&state, &addr(7)), 1);
    assert_eq!(native(&state, &addr(7)), 40);
    assert_eq!(native(&state, &addr(8)), 0);
    assert_eq!(native(&state, &addr(PROPOSER)), BASE_FEE);
}

#[test]
fn failed_receipt_has_no_events_and_pays_required_not_max_fee() {
    let state = genesis_state();
    let txs = [sign(2, 0, 5_000, pay(addr(8), GOLD, 1))];
    let (outcome, _) = run(&state, &block_env(), &txs, Mode::Verify).expect("valid");
    let r = &outcome.receipts[0];
    assert_eq!(r.fee_paid, BASE_FEE);
    assert!(r.events.is_empty());
    assert_eq!(
        r.status,
        failed(FailureReason::InsufficientBalance {
            asset: GOLD,
            needed: 1,
            available: 0
        })
    );
}

#[test]
fn asset_transfer_and_zero_balance_is_deleted() {
    let mut state = genesis_state();
    let txs = [sign(1, 0, FEE, pay(addr(2), GOLD, 500))];
    let (_, changes) = run(&state, &block_env(), &txs, Mode::Verify).expect("valid");
    // Emptied balance is deleted rather than stored as zero.
    assert_eq!(changes[&StateKey::Balance(addr(1), GOLD)], None);
    assert_eq!(
        changes[&StateKey::Balance(addr(2), GOLD)],
        Some(StateValue::Balance(500))
    );
    // The asset entry is read, not written.
    assert!(!changes.contains_key(&StateKey::Asset(GOLD)));
    commit(&mut state, &changes);
    check_invariants(&state, native_total());
    assert!(!state.contains_key(&StateKey::Balance(addr(1), GOLD)));
}

#[test]
fn zero_transfer_to_new_account_stores_nothing_for_it() {
    let state = genesis_state();
    let txs = [sign(2, 0, FEE, pay(addr(8), AssetId::NATIVE, 0))];
    let (outcome, changes) = run(&state, &block_env(), &txs, Mode::Verify).expect("valid");
    assert_eq!(outcome.receipts[0].status, TxStatus::Success);
    let other = env(addr(3));
    let (_, changes_elsewhere) = run(&state, &other, &txs, Mode::Verify).expect("valid");
    // With proposer 9, account 8 stays absent; only sender and proposer change.
    assert!(!changes_elsewhere.contains_key(&StateKey::Account(addr(8))));
    assert_eq!(changes_elsewhere.len(), 2);
    assert_eq!(changes.len(), 2);
}

#[test]
fn unknown_asset_transfer_fails() {
    let mut state = genesis_state();
    let statuses = verify_commit(
        &mut state,
        &[sign(0, 0, FEE, pay(addr(1), AssetId(12345), 1))],
    );
    assert_eq!(
        statuses,
        vec![failed(FailureReason::UnknownAsset {
            asset: AssetId(12345)
        })]
    );
    assert_eq!(nonce(&state, &addr(0)), 1);
}

#[test]
fn multi_transfer_is_all_or_nothing() {
    let mut state = genesis_state();
    let multi = |amount_last: u128| Action::MultiTransfer {
        entries: vec![
            entry(addr(8), AssetId::NATIVE, 100),
            entry(addr(8), GOLD, 10),
            entry(addr(2), GOLD, amount_last),
        ],
    };
    let statuses = verify_commit(&mut state, &[sign(0, 0, FEE, multi(2_000_000))]);
    assert_eq!(
        statuses,
        vec![failed(FailureReason::InsufficientBalance {
            asset: GOLD,
            needed: 2_000_000,
            available: 1_000_000 - 10
        })]
    );
    assert_eq!(native(&state, &addr(8)), 0);
    assert_eq!(
        native(&state, &addr(PROPOSER)),
        4 * BASE_FEE,
        "only the fee moved"
    );
    assert_eq!(balance(&state, &addr(8), GOLD), 0);
    assert_eq!(balance(&state, &addr(0), GOLD), 1_000_000);
    assert_eq!(native(&state, &addr(0)), FUNDED - 4 * BASE_FEE);

    let statuses = verify_commit(&mut state, &[sign(0, 1, FEE, multi(999_990))]);
    assert_eq!(statuses, vec![TxStatus::Success]);
    assert_eq!(balance(&state, &addr(0), GOLD), 0);
    assert_eq!(balance(&state, &addr(2), GOLD), 999_990);
    assert_eq!(balance(&state, &addr(8), GOLD), 10);
}

#[test]
fn multi_transfer_legs_spend_sequentially_and_emit_one_event_each() {
    let state = genesis_state();
    // Account 7: 50 - fee (30 for 3 units) = 20; legs of 15 then 5 fit exactly.
    let action = Action::MultiTransfer {
        entries: vec![
            entry(addr(8), AssetId::NATIVE, 15),
            entry(addr(2), AssetId::NATIVE, 5),
        ],
    };
    let txs = [sign(7, 0, FEE, action)];
    let (outcome, changes) = run(&state, &block_env(), &txs, Mode::Verify).expect("valid");
    assert_eq!(outcome.receipts[0].fee_paid, 3 * BASE_FEE);
    assert_eq!(outcome.receipts[0].status, TxStatus::Success);
    assert_eq!(outcome.receipts[0].events.len(), 2);
    assert_eq!(
        changes[&StateKey::Account(addr(7))],
        Some(StateValue::Account(AccountState {
            nonce: 1,
            native_balance: 0
        }))
    );
}

#[test]
fn create_asset_registers_asset_symbol_and_mints_to_creator() {
    let mut state = genesis_state();
    let statuses = verify_commit(
        &mut state,
        &[sign(2, 0, FEE * 10, create("NEW", 4, Some(10_000), 2_500))],
    );
    assert_eq!(statuses, vec![TxStatus::Success]);
    let id = AssetId::derive(addr(2).as_bytes(), 0);
    assert_eq!(
        state.get(&StateKey::Asset(id)),
        Some(&StateValue::Asset(Box::new(AssetInfo {
            issuer: addr(2),
            symbol: sym("NEW"),
            decimals: 4,
            max_supply: Some(10_000),
            supply: 2_500
        })))
    );
    assert_eq!(
        state.get(&StateKey::Symbol(sym("NEW"))),
        Some(&StateValue::Symbol(id))
    );
    assert_eq!(balance(&state, &addr(2), id), 2_500);
    assert_eq!(native(&state, &addr(2)), FUNDED - 100 * BASE_FEE);

    // Mint by the issuer, up to the cap.
    let statuses = verify_commit(
        &mut state,
        &[
            sign(
                2,
                1,
                FEE,
                Action::Mint {
                    asset: id,
                    to: addr(5),
                    amount: 7_500,
                },
            ),
            sign(
                2,
                2,
                FEE,
                Action::Mint {
                    asset: id,
                    to: addr(5),
                    amount: 1,
                },
            ),
        ],
    );
    assert_eq!(
        statuses,
        vec![
            TxStatus::Success,
            failed(FailureReason::SupplyCapExceeded {
                asset: id,
                amount: 1,
                max_supply: 10_000
            })
        ]
    );
    assert_eq!(balance(&state, &addr(5), id), 7_500);
}

#[test]
fn create_asset_events() {
    let state = genesis_state();
    let id = AssetId::derive(addr(2).as_bytes(), 0);
    let txs = [
        sign(2, 0, FEE * 10, create("NEW", 4, None, 3)),
        sign(3, 0, FEE * 10, create("ZERO", 0, None, 0)),
    ];
    let (outcome, changes) = run(&state, &block_env(), &txs, Mode::Verify).expect("valid");
    assert_eq!(
        outcome.receipts[0].events,
        vec![
            Event::AssetCreated {
                asset: id,
                symbol: sym("NEW"),
                issuer: addr(2),
                decimals: 4
            },
            Event::Minted {
                asset: id,
                to: addr(2),
                amount: 3
            },
        ]
    );
    assert_eq!(
        outcome.receipts[1].events.len(),
        1,
        "no Minted event for zero supply"
    );
    let zero = AssetId::derive(addr(3).as_bytes(), 0);
    assert!(!changes.contains_key(&StateKey::Balance(addr(3), zero)));
}

#[test]
fn create_asset_failures() {
    let mut state = genesis_state();
    let id = |s: u64, n: u64| AssetId::derive(addr(s).as_bytes(), n);
    let statuses = verify_commit(
        &mut state,
        &[
            sign(2, 0, FEE * 10, create("GOLD", 0, None, 1)),
            sign(2, 1, FEE * 10, create("LAKH", 0, None, 1)),
            sign(2, 2, FEE * 10, create("DEC", 31, None, 1)),
            sign(2, 3, FEE * 10, create("OVER", 2, Some(10), 11)),
            sign(3, 0, FEE * 10, create("DUP", 30, Some(10), 10)),
            sign(4, 0, FEE * 10, create("DUP", 2, None, 1)),
        ],
    );
    assert_eq!(
        statuses,
        vec![
            failed(FailureReason::SymbolTaken {
                symbol: sym("GOLD")
            }),
            failed(FailureReason::SymbolTaken {
                symbol: sym("LAKH")
            }),
            failed(FailureReason::Invalid {
                detail: "decimals 31 exceed the limit of 30".into()
            }),
            failed(FailureReason::SupplyCapExceeded {
                asset: id(2, 3),
                amount: 11,
                max_supply: 10
            }),
            TxStatus::Success,
            failed(FailureReason::SymbolTaken { symbol: sym("DUP") }),
        ]
    );
    for n in 0..4 {
        assert!(!state.contains_key(&StateKey::Asset(id(2, n))));
    }
    assert!(!state.contains_key(&StateKey::Asset(id(4, 0))));
    assert_eq!(nonce(&state, &addr(2)), 4);
}

#[test]
fn mint_failures() {
    let mut state = genesis_state();
    let mint = |asset, amount| Action::Mint {
        asset,
        to: addr(6),
        amount,
    };
    let statuses = verify_commit(
        &mut state,
        &[
            sign(2, 0, FEE, mint(GOLD, 1)),
            sign(0, 0, FEE, mint(AssetId::NATIVE, 1)),
            sign(0, 1, FEE, mint(AssetId(999), 1)),
            sign(1, 0, FEE, mint(CAPPED, 101)),
            sign(1, 1, FEE, mint(CAPPED, 100)),
            sign(0, 2, FEE, mint(GOLD, u128::MAX)),
        ],
    );
    assert_eq!(
        statuses,
        vec![
            failed(FailureReason::NotIssuer { asset: GOLD }),
            failed(FailureReason::NotIssuer {
                asset: AssetId::NATIVE
            }),
            failed(FailureReason::UnknownAsset {
                asset: AssetId(999)
            }),
            failed(FailureReason::SupplyCapExceeded {
                asset: CAPPED,
                amount: 101,
                max_supply: CAP
            }),
            TxStatus::Success,
            failed(FailureReason::Overflow),
        ]
    );
    assert_eq!(balance(&state, &addr(6), CAPPED), 100);
    assert_eq!(balance(&state, &addr(6), GOLD), 0);
}

#[test]
fn uncapped_supply_overflow_fails_without_wrapping() {
    let mut state = genesis_state();
    let id = AssetId::derive(addr(4).as_bytes(), 0);
    let statuses = verify_commit(
        &mut state,
        &[
            sign(4, 0, FEE * 10, create("BIG", 0, None, u128::MAX)),
            sign(
                4,
                1,
                FEE,
                Action::Mint {
                    asset: id,
                    to: addr(5),
                    amount: 1,
                },
            ),
            sign(4, 2, FEE, pay(addr(5), id, u128::MAX)),
            sign(5, 0, FEE, pay(addr(4), id, u128::MAX)),
        ],
    );
    assert_eq!(
        statuses,
        vec![
            TxStatus::Success,
            failed(FailureReason::Overflow),
            TxStatus::Success,
            TxStatus::Success
        ]
    );
    assert_eq!(balance(&state, &addr(4), id), u128::MAX);
}

/// Each exclusion reason: dropped without effect when building, fatal when verifying.
#[test]
fn exclusions_in_both_modes() {
    let state = genesis_state();
    let ok = sign(1, 0, FEE, pay(addr(6), AssetId::NATIVE, 1));
    let cases: Vec<(SignedTransaction, Refusal)> = vec![
        (
            sign_on(CHAIN_ID + 1, 0, 0, FEE, pay(addr(8), AssetId::NATIVE, 1)),
            Refusal::WrongChainId {
                expected: CHAIN_ID,
                got: CHAIN_ID + 1,
            },
        ),
        (
            sign(0, 1, FEE, pay(addr(8), AssetId::NATIVE, 1)),
            Refusal::NonceGap {
                expected: 0,
                got: 1,
                max_ahead: 0,
            },
        ),
        (
            sign(0, 0, BASE_FEE - 1, pay(addr(8), AssetId::NATIVE, 1)),
            Refusal::FeeTooLow {
                max_fee: BASE_FEE - 1,
                required: BASE_FEE,
            },
        ),
        (
            sign(8, 0, FEE, pay(addr(7), AssetId::NATIVE, 0)),
            Refusal::CannotPayFee {
                balance: 0,
                fee_due: BASE_FEE,
            },
        ),
        (
            // The sender's nonce 0 was consumed by `ok` (same sender) earlier in the block.
            sign(1, 0, FEE, pay(addr(6), AssetId::NATIVE, 2)),
            Refusal::NonceReused {
                expected: 1,
                got: 0,
            },
        ),
    ];
    let (alone, alone_changes) = run(
        &state,
        &block_env(),
        std::slice::from_ref(&ok),
        Mode::Verify,
    )
    .expect("valid");
    for (bad, reason) in cases {
        let txs = [ok.clone(), bad];
        let (built, changes) = run(&state, &block_env(), &txs, Mode::Build).expect("builds");
        assert_eq!(built.excluded, vec![(1, reason.clone())]);
        assert_eq!(built.receipts, alone.receipts);
        assert_eq!(built.fees_paid, alone.fees_paid);
        assert_eq!(built.used_units, alone.used_units);
        assert_eq!(
            changes, alone_changes,
            "an excluded transaction has no effect"
        );
        assert_eq!(built.included(&txs).collect::<Vec<_>>(), vec![&ok]);

        let err = run(&state, &block_env(), &txs, Mode::Verify).expect_err("invalid block");
        assert_eq!(err, ExecError::InvalidBlock { index: 1, reason });
    }
}

#[test]
fn receipt_indices_skip_excluded_transactions() {
    let state = genesis_state();
    let txs = [
        sign(0, 5, FEE, pay(addr(8), AssetId::NATIVE, 1)),
        sign(1, 0, FEE, pay(addr(8), AssetId::NATIVE, 1)),
        sign(8, 0, FEE, pay(addr(8), AssetId::NATIVE, 1)),
        sign(2, 0, FEE, pay(addr(8), AssetId::NATIVE, 1)),
    ];
    let (built, _) = run(&state, &block_env(), &txs, Mode::Build).expect("builds");
    assert_eq!(
        built.excluded.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
        vec![0, 2]
    );
    let senders: Vec<_> = built.receipts.iter().map(|r| (r.index, r.sender)).collect();
    assert_eq!(senders, vec![(0, addr(1)), (1, addr(2))]);
}

#[test]
fn unfunded_proposer_account_is_created_by_fees() {
    let state = genesis_state();
    let proposer = Address([0xAB; 32]);
    let txs = [sign(0, 0, FEE, pay(addr(1), AssetId::NATIVE, 1))];
    let (_, changes) = run(&state, &env(proposer), &txs, Mode::Verify).expect("valid");
    assert_eq!(
        changes[&StateKey::Account(proposer)],
        Some(StateValue::Account(AccountState {
            nonce: 0,
            native_balance: BASE_FEE
        }))
    );
    // An empty block changes nothing.
    let (outcome, changes) = run(&state, &env(proposer), &[], Mode::Verify).expect("valid");
    assert!(outcome.receipts.is_empty() && changes.is_empty());
}

#[test]
fn proposer_own_transactions_see_fees_only_after_the_block() {
    let state = genesis_state();
    // Proposer 7 holds 50: its two transfers of 20 fit (2 * (20 + 10) > 50 fails
    // the second) even though the block earns it fees, paid only at the end.
    let txs = [
        sign(0, 0, FEE, pay(addr(8), AssetId::NATIVE, 1)),
        sign(7, 0, FEE, pay(addr(8), AssetId::NATIVE, 20)),
        sign(7, 1, FEE, pay(addr(8), AssetId::NATIVE, 20)),
    ];
    let (outcome, changes) = run(&state, &env(addr(7)), &txs, Mode::Verify).expect("valid");
    assert_eq!(
        outcome.receipts[2].status,
        failed(FailureReason::InsufficientBalance {
            asset: AssetId::NATIVE,
            needed: 20,
            available: 10
        })
    );
    assert_eq!(
        changes[&StateKey::Account(addr(7))],
        Some(StateValue::Account(AccountState {
            nonce: 2,
            native_balance: 10 + 3 * BASE_FEE
        }))
    );
}

#[test]
fn missing_prefetch_is_a_state_error_not_an_invalid_block() {
    let state = genesis_state();
    let txs = [sign(0, 0, FEE, pay(addr(1), AssetId::NATIVE, 1))];
    let keys = access_set(&block_env(), &txs);
    for (skip, k) in keys.iter().enumerate() {
        let mut overlay = Overlay::new(
            keys.iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, k)| (k.clone(), state.get(k).cloned())),
        );
        let err = execute_block(&block_env(), &txs, &mut overlay, Mode::Build)
            .expect_err("incomplete overlay");
        assert_eq!(err, ExecError::State(StateError::NotPrefetched(k.clone())));
    }
}

#[test]
fn wrong_kind_of_value_is_reported() {
    let txs = [sign(0, 0, FEE, pay(addr(1), AssetId::NATIVE, 1))];
    let keys = access_set(&block_env(), &txs);
    let mut overlay = Overlay::new(
        keys.iter()
            .map(|k| (k.clone(), Some(StateValue::Balance(5)))),
    );
    let err = execute_block(&block_env(), &txs, &mut overlay, Mode::Verify).expect_err("corrupt");
    assert_eq!(
        err,
        ExecError::State(StateError::WrongKind(StateKey::Account(addr(0))))
    );
}

#[test]
fn access_set_is_sorted_deduplicated_and_declares_action_keys() {
    let txs = [
        sign(0, 0, FEE, pay(addr(1), GOLD, 1)),
        sign(0, 1, FEE, pay(addr(1), GOLD, 1)),
        sign(2, 4, FEE, create("NEW", 0, None, 0)),
        sign(
            3,
            0,
            FEE,
            Action::Mint {
                asset: CAPPED,
                to: addr(4),
                amount: 1,
            },
        ),
    ];
    let keys = access_set(&block_env(), &txs);
    let new_id = AssetId::derive(addr(2).as_bytes(), 4);
    let mut expected = vec![
        StateKey::Account(addr(PROPOSER)),
        StateKey::Account(addr(0)),
        StateKey::Asset(GOLD),
        StateKey::Balance(addr(0), GOLD),
        StateKey::Balance(addr(1), GOLD),
        StateKey::Account(addr(2)),
        StateKey::Symbol(sym("NEW")),
        StateKey::Asset(new_id),
        StateKey::Balance(addr(2), new_id),
        StateKey::Account(addr(3)),
        StateKey::Asset(CAPPED),
        StateKey::Balance(addr(4), CAPPED),
    ];
    // The fee pot, the last paid round, and the sole signer's staking record
    // and reward custody (fee distribution).
    lakh_execution::modules::stake::reward_keys(&block_env().participation, &mut |key| {
        expected.push(key)
    });
    // The parametric product slots (the cover module's end-of-block hook).
    expected.extend(lakh_execution::hook_roots());
    // The shielded pool's end-of-block append.
    expected.extend(lakh_execution::modules::shielded::block_keys(
        block_env().height,
    ));
    // The bridge's config, deposit state and withdrawal tree.
    expected.extend(lakh_execution::modules::bridge::block_keys());
    expected.sort();
    expected.dedup();
    assert_eq!(keys, expected);
}

#[test]
fn too_many_transactions_refused_up_front() {
    let tx = sign(0, 0, FEE, pay(addr(1), AssetId::NATIVE, 1));
    let txs = vec![tx; lakh_types::limits::MAX_BLOCK_TXS + 1];
    let mut overlay = Overlay::new(std::iter::empty());
    let err = execute_block(&block_env(), &txs, &mut overlay, Mode::Build).expect_err("too many");
    assert!(matches!(err, ExecError::TooManyTxs { .. }));
}

#[test]
fn genesis_state_has_accounts_assets_and_symbols() {
    let mut g = genesis();
    // Duplicates add up; zero balances are not stored.
    g.accounts.push(lakh_types::genesis::GenesisAccount {
        address: addr(0),
        balance: 5,
    });
    g.accounts.push(lakh_types::genesis::GenesisAccount {
        address: addr(8),
        balance: 0,
    });
    let state: State = apply_genesis(&g).into_iter().collect();
    assert_eq!(native(&state, &addr(0)), FUNDED + 5);
    assert!(!state.contains_key(&StateKey::Account(addr(8))));
    assert_eq!(
        state.get(&StateKey::Symbol(sym("LAKH"))),
        Some(&StateValue::Symbol(AssetId::NATIVE))
    );
    assert_eq!(
        state.get(&StateKey::Symbol(sym("CAP"))),
        Some(&StateValue::Symbol(CAPPED))
    );
    assert_eq!(balance(&state, &addr(1), CAPPED), 900);
    match state.get(&StateKey::Asset(GOLD)) {
        Some(StateValue::Asset(info)) => {
            assert_eq!(info.supply, 1_000_500);
            assert_eq!(info.issuer, addr(0));
        }
        other => panic!("GOLD missing: {other:?}"),
    }
    check_invariants(&state, native_total() + 5);
    // Sorted by key, one entry per key.
    let entries = apply_genesis(&g);
    assert!(entries.windows(2).all(|w| w[0].0 < w[1].0));
}
