//! Property tests over random blocks from many accounts, valid and not:
//! conservation of every asset, events that reconcile with state changes,
//! build-then-verify equivalence and determinism.

mod common;

use common::*;
use lakh_execution::{BlockEnv, ExecError, Mode};
use lakh_types::{
    Action, Address, AssetId, Event, SignedTransaction, TransferEntry, TxStatus,
    fees::{action_units, required_fee},
};
use proptest::prelude::*;
use std::collections::BTreeMap;

const SENDERS: u64 = 10;
const SYMBOLS: [&str; 5] = ["AAA", "BBB", "CCC", "GOLD", "LAKH"];

#[derive(Clone, Debug)]
enum NonceSpec {
    Next,
    Stale,
    Gap(u64),
}

#[derive(Clone, Debug)]
struct EntrySpec {
    to: u64,
    asset: usize,
    amount: u128,
}

#[derive(Clone, Debug)]
enum ActionSpec {
    Transfer(EntrySpec),
    Multi(Vec<EntrySpec>),
    Create {
        symbol: usize,
        decimals: u8,
        max_supply: Option<u128>,
        initial: u128,
    },
    Mint {
        /// Pick among the sender's own creations (or GOLD, CAPPED) rather than the pool.
        own: bool,
        asset: usize,
        to: u64,
        amount: u128,
    },
}

#[derive(Clone, Debug)]
struct TxSpec {
    sender: u64,
    nonce: NonceSpec,
    fee_too_low: bool,
    wrong_chain: bool,
    action: ActionSpec,
}

#[derive(Clone, Debug)]
struct BlockSpec {
    proposer: u64,
    base_fee: u128,
    txs: Vec<TxSpec>,
}

/// Assets a spec may name: native, the two genesis assets, one that never
/// exists, and those senders 0..3 may create with nonces 0..6.
fn asset_pool() -> Vec<AssetId> {
    let mut pool = vec![AssetId::NATIVE, GOLD, CAPPED, AssetId(999)];
    for s in 0..3 {
        for n in 0..6 {
            pool.push(AssetId::derive(addr(s).as_bytes(), n));
        }
    }
    pool
}

fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![
        6 => 0..1_000u128,
        3 => 0..2_000_000u128,
        1 => Just(u128::MAX),
        1 => any::<u128>(),
    ]
}

fn entry() -> impl Strategy<Value = EntrySpec> {
    (
        0..SENDERS + 2,
        prop_oneof![3 => Just(0usize), 2 => 1..22usize],
        amount(),
    )
        .prop_map(|(to, asset, amount)| EntrySpec { to, asset, amount })
}

fn action() -> impl Strategy<Value = ActionSpec> {
    prop_oneof![
        6 => entry().prop_map(ActionSpec::Transfer),
        2 => prop::collection::vec(entry(), 1..5).prop_map(ActionSpec::Multi),
        1 => (
            0..SYMBOLS.len(),
            0..33u8,
            prop::option::of(prop_oneof![0..5_000u128, Just(u128::MAX)]),
            prop_oneof![0..5_000u128, Just(u128::MAX)],
        )
            .prop_map(|(symbol, decimals, max_supply, initial)| ActionSpec::Create {
                symbol,
                decimals,
                max_supply,
                initial,
            }),
        2 => (any::<bool>(), 1..22usize, 0..SENDERS + 2, prop_oneof![0..1_000u128, amount()])
            .prop_map(|(own, asset, to, amount)| ActionSpec::Mint { own, asset, to, amount }),
    ]
}

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    (
        prop_oneof![3 => 0..4u64, 2 => 0..SENDERS],
        prop_oneof![12 => Just(NonceSpec::Next), 1 => Just(NonceSpec::Stale), 1 => (0..3u64).prop_map(NonceSpec::Gap)],
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.03),
        action(),
    )
        .prop_map(|(sender, nonce, fee_too_low, wrong_chain, action)| TxSpec {
            sender,
            nonce,
            fee_too_low,
            wrong_chain,
            action,
        })
}

fn block_spec() -> impl Strategy<Value = BlockSpec> {
    (
        0..SENDERS + 3,
        prop_oneof![1 => Just(0u128), 6 => 1..40u128],
        prop::collection::vec(tx_spec(), 0..40),
    )
        .prop_map(|(proposer, base_fee, txs)| BlockSpec {
            proposer,
            base_fee,
            txs,
        })
}

/// Account seeds past the senders are never-funded addresses.
fn who(seed: u64) -> Address {
    addr(seed)
}

fn to_action(sender: u64, spec: &ActionSpec, pool: &[AssetId]) -> Action {
    let entry = |e: &EntrySpec| TransferEntry {
        to: who(e.to),
        asset: pool[e.asset],
        amount: e.amount,
    };
    match spec {
        ActionSpec::Transfer(e) => Action::Transfer(entry(e)),
        ActionSpec::Multi(es) => Action::MultiTransfer {
            entries: es.iter().map(entry).collect(),
        },
        ActionSpec::Create {
            symbol,
            decimals,
            max_supply,
            initial,
        } => Action::CreateAsset {
            symbol: sym(SYMBOLS[*symbol]),
            decimals: *decimals,
            max_supply: *max_supply,
            initial_supply: *initial,
        },
        ActionSpec::Mint {
            own,
            asset,
            to,
            amount,
        } => Action::Mint {
            asset: match (own, sender) {
                (false, _) => pool[*asset],
                (true, s @ 0..3) if *asset % 3 != 0 => pool[4 + s as usize * 6 + asset % 6],
                (true, 0) => GOLD,
                (true, _) => CAPPED,
            },
            to: who(*to),
            amount: *amount,
        },
    }
}

/// Signs a block's transactions, choosing nonces relative to what each sender
/// would expect if all its earlier transactions were included.
fn sign_block(spec: &BlockSpec, state: &State, pool: &[AssetId]) -> Vec<SignedTransaction> {
    let mut next: BTreeMap<u64, u64> = BTreeMap::new();
    spec.txs
        .iter()
        .map(|t| {
            let expected = next
                .entry(t.sender)
                .or_insert_with(|| nonce(state, &addr(t.sender)));
            let nonce = match t.nonce {
                NonceSpec::Next => {
                    *expected += 1;
                    *expected - 1
                }
                NonceSpec::Stale if *expected > 0 => *expected - 1,
                NonceSpec::Stale => *expected + 2,
                NonceSpec::Gap(k) => *expected + 1 + k,
            };
            let action = to_action(t.sender, &t.action, pool);
            let fee = required_fee(&action, spec.base_fee);
            let max_fee = if t.fee_too_low {
                fee.saturating_sub(1)
            } else {
                fee + 3
            };
            let chain = if t.wrong_chain {
                CHAIN_ID + 1
            } else {
                CHAIN_ID
            };
            sign_on(chain, t.sender, nonce, max_fee, action)
        })
        .collect()
}

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
                Event::AssetCreated { .. } => {}
            }
        }
    }
    add(env.proposer, AssetId::NATIVE, fees);
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
    fn random_blocks_keep_invariants(blocks in prop::collection::vec(block_spec(), 1..4)) {
        let pool = asset_pool();
        let mut state = genesis_state();
        check_invariants(&state, native_total());
        for (height, spec) in blocks.iter().enumerate() {
            let env = BlockEnv {
                chain_id: CHAIN_ID,
                height: height as u64 + 1,
                proposer: who(spec.proposer),
                base_fee: spec.base_fee,
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
