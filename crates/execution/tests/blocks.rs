//! Property tests over random blocks from many accounts, valid and not:
//! conservation of every asset, events that reconcile with state changes,
//! build-then-verify equivalence and determinism.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::{blockgen::*, *};
use lakh_execution::{BlockEnv, ExecError, Mode};
use lakh_types::{
    Action, Address, AssetId, Event, SignedTransaction, TransferEntry, TxStatus,
    fees::{action_units, required_fee},
};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// Accounts 0..=6 funded, 7 nearly empty, 8 and 9 empty; hot accounts 0..4
/// three times in five.
const SHAPE: Shape = Shape {
    accounts: 10,
    max_txs: 40,
    hot_tenths: (6, 6),
};

/// Replays the receipts' events and fees on `before` and checks the result is
/// `after` for every native and asset balance they mention.
fn reconcile(before: &State, after: &State, env: &BlockEnv, receipts: &[lakh_types::Receipt]) {
    let mut native_delta: BTreeMap<Address, i128> = BTreeMap::new();
    let mut asset_delta: BTreeMap<(Address, AssetId), i128> = BTreeMap::new();
    let mut add = |who: Address, asset: AssetId, amount: i128| {
        if asset == AssetId::NATIVE {
            *native_delta.entry(who).or_default() += amount;
        } else {
            *asset_delta.entry((who, asset)).or_default() += amount;
        }
    };
    let mut fees: i128 = 0;
    for r in receipts {
        fees += r.fee_paid as i128;
        add(r.sender, AssetId::NATIVE, -(r.fee_paid as i128));
        if !r.status.is_success() {
            assert!(r.events.is_empty(), "failed receipt with events: {r:?}");
        }
        for e in &r.events {
            match e {
                Event::Transfer {
                    asset,
                    from,
                    to,
                    amount,
                } => {
                    // Amounts in successful transfers never exceed what exists,
                    // which fits in i128 for the supplies this test creates
                    // except u128::MAX assets; track those modulo 2^128.
                    let a = *amount as i128;
                    add(*from, *asset, a.wrapping_neg());
                    add(*to, *asset, a);
                }
                Event::Minted { asset, to, amount } => add(*to, *asset, *amount as i128),
                Event::Burned {
                    asset,
                    from,
                    amount,
                } => add(*from, *asset, (*amount as i128).wrapping_neg()),
                // Module events describe module ledgers; balance moves are
                // always also recorded as transfers, mints or burns.
                _ => {}
            }
        }
    }
    // The sole signer of the block's one finalization takes the whole fee pot.
    add(env.participation[0].signers[0], AssetId::NATIVE, fees);
    for (who, delta) in native_delta {
        let expected = (native(before, &who) as i128).wrapping_add(delta);
        assert_eq!(
            native(after, &who) as i128,
            expected,
            "native balance of {who}"
        );
    }
    for ((who, asset), delta) in asset_delta {
        let expected = (balance(before, &who, asset) as i128).wrapping_add(delta);
        assert_eq!(
            balance(after, &who, asset) as i128,
            expected,
            "balance of {who} in {asset}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn random_blocks_keep_invariants(blocks in prop::collection::vec(block_spec(SHAPE), 1..4)) {
        let pool = asset_pool();
        let mut state = genesis_state();
        check_invariants(&state, native_total());
        for (height, spec) in blocks.iter().enumerate() {
            let env = BlockEnv {
                chain_id: CHAIN_ID,
                height: height as u64 + 1,
                participation: lakh_execution::Participation::sole(who(spec.proposer)),
                offenses: Vec::new(),
                base_fee: spec.base_fee,
                staking: Default::default(),
                deposits: Vec::new(),
            };
            let txs = sign_block(spec, &state, &pool);

            let (built, changes) = run(&state, &env, &txs, Mode::Build).expect("building never fails");
            // Deterministic: the same input gives the same everything.
            let (again, changes_again) = run(&state, &env, &txs, Mode::Build).expect("builds");
            prop_assert_eq!(&again, &built);
            prop_assert_eq!(&changes_again, &changes);

            // The built block verifies to the same receipts and changes.
            let included: Vec<SignedTransaction> = built.included(&txs).cloned().collect();
            prop_assert_eq!(included.len() + built.excluded.len(), txs.len());
            let (verified, verified_changes) = run(&state, &env, &included, Mode::Verify).expect("built block verifies");
            prop_assert_eq!(&verified.receipts, &built.receipts);
            prop_assert!(verified.excluded.is_empty());
            prop_assert_eq!(verified.used_units, built.used_units);
            prop_assert_eq!(verified.fees_paid, built.fees_paid);
            prop_assert_eq!(&verified_changes, &changes);

            // The unfiltered block fails verification at its first excluded transaction.
            match (run(&state, &env, &txs, Mode::Verify), built.excluded.first()) {
                (Err(ExecError::InvalidBlock { index, reason }), Some((first, why))) => {
                    prop_assert_eq!(index, *first);
                    prop_assert_eq!(&reason, why);
                }
                (Ok((outcome, _)), None) => prop_assert_eq!(&outcome, &built),
                (other, first) => prop_assert!(false, "verify gave {:?}, first exclusion {:?}", other, first),
            }

            // Receipts: fees due at this base fee, units, nonces in order.
            let mut units = 0;
            let mut fees = 0;
            let mut nonces: BTreeMap<Address, u64> = BTreeMap::new();
            for (r, tx) in built.receipts.iter().zip(&included) {
                prop_assert_eq!(r.tx_id, tx.id());
                prop_assert_eq!(r.fee_paid, required_fee(&tx.tx.action, spec.base_fee));
                prop_assert_eq!(r.height, env.height);
                units += action_units(&tx.tx.action);
                fees += r.fee_paid;
                let n = nonces.entry(r.sender).or_insert_with(|| nonce(&state, &r.sender));
                prop_assert_eq!(r.nonce, *n);
                *n += 1;
            }
            prop_assert_eq!(units, built.used_units);
            prop_assert_eq!(fees, built.fees_paid);

            // Nothing is written that did not change, and every change is canonical.
            for (k, v) in &changes {
                prop_assert_ne!(state.get(k), v.as_ref(), "unchanged key {:?} written", k);
                if let Some(v) = v {
                    prop_assert!(v.matches(k) && !v.is_default());
                }
            }

            let before = state.clone();
            commit(&mut state, &changes);
            check_invariants(&state, native_total());
            reconcile(&before, &state, &env, &built.receipts);
            for (sender, n) in nonces {
                prop_assert_eq!(nonce(&state, &sender), n);
            }
            // Excluded senders with nothing included keep their nonce.
            for (i, _) in &built.excluded {
                let sender = txs[*i].tx.sender_address();
                if !built.receipts.iter().any(|r| r.sender == sender) {
                    prop_assert_eq!(nonce(&state, &sender), nonce(&before, &sender));
                }
            }
        }
    }
}

/// Many transactions of one hot sender and recipient, as the `serial` workload.
#[test]
fn hot_account_block_builds_and_verifies() {
    let state = genesis_state();
    let env = env(addr(9));
    let txs: Vec<SignedTransaction> = (0..200)
        .map(|n| {
            sign(
                0,
                n,
                100,
                Action::Transfer(TransferEntry {
                    to: addr(1),
                    asset: AssetId::NATIVE,
                    amount: n as u128,
                }),
            )
        })
        .collect();
    let (built, changes) = run(&state, &env, &txs, Mode::Build).expect("builds");
    assert!(built.excluded.is_empty());
    assert!(built.receipts.iter().all(|r| r.status == TxStatus::Success));
    let (verified, verified_changes) = run(&state, &env, &txs, Mode::Verify).expect("verifies");
    assert_eq!(verified, built);
    assert_eq!(verified_changes, changes);
    // Sender, recipient, proposer.
    assert_eq!(changes.len(), 3);
    let mut state = state;
    commit(&mut state, &changes);
    assert_eq!(
        native(&state, &addr(1)),
        FUNDED + (0..200u128).sum::<u128>()
    );
    assert_eq!(nonce(&state, &addr(0)), 200);
    check_invariants(&state, native_total());
}
