//! The bridge module through real blocks: the genesis section, deposits
//! carried by blocks (count order, running hash, unknown tokens), withdrawals
//! (exact burns, leaves in transaction order, refusals), the commitment, the
//! queries' proofs against a reference tree, and random blocks run by both
//! executors.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use lakh_execution::{
    BlockEnv, BlockOutcome, ExecError, Mode, execute_block, execute_block_parallel,
    modules::{bridge::escrow, run_query},
};
use lakh_state::StateKey;
use lakh_types::{
    Action, Address, AssetId, Event, FailureReason, Genesis, SignedTransaction, TransferEntry,
    TxStatus,
    committee::FixedBytes,
    modules::bridge::{
        BridgeAction, BridgeCommitment, BridgeError, BridgeEvent, BridgeGenesis, BridgeToken,
        ETHER, Keccak, L1Address, L1Deposit, MAX_DEPOSITS_PER_BLOCK, WITHDRAWAL_TREE_DEPTH,
        WithdrawalLeaf, empty_subtree_roots, node_hash, query::WithdrawalAnswer,
        verify_withdrawal_proof, wrapped_asset_id,
    },
};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroUsize;

const PROPOSER: u64 = 9;
const MAX_FEE: u128 = 1_000;
const L1_CHAIN_ID: u64 = 31_337;
const BRIDGE: L1Address = FixedBytes([0xb7; 20]);
const USDC: L1Address = FixedBytes([0x11; 20]);
const UNLISTED: L1Address = FixedBytes([0x22; 20]);
const L1_SENDER: L1Address = FixedBytes([0x33; 20]);
const L1_RECIPIENT: L1Address = FixedBytes([0x44; 20]);

fn weth() -> AssetId {
    wrapped_asset_id(&ETHER)
}

fn wusdc() -> AssetId {
    wrapped_asset_id(&USDC)
}

fn section() -> BridgeGenesis {
    BridgeGenesis {
        l1_chain_id: L1_CHAIN_ID,
        bridge_address: BRIDGE,
        tokens: vec![
            BridgeToken {
                l1_token: ETHER,
                symbol: sym("WETH"),
                decimals: 18,
            },
            BridgeToken {
                l1_token: USDC,
                symbol: sym("WUSDC"),
                decimals: 6,
            },
        ],
    }
}

fn bridged_genesis() -> Genesis {
    Genesis {
        bridge: Some(section()),
        ..genesis()
    }
}

fn deposit(count: u64, token: L1Address, recipient: u64, amount: u128) -> L1Deposit {
    L1Deposit {
        count,
        token,
        l1_sender: L1_SENDER,
        recipient: addr(recipient),
        amount,
    }
}

fn withdraw(asset: AssetId, amount: u128) -> Action {
    Action::Bridge(BridgeAction::Withdraw {
        asset,
        amount,
        l1_recipient: L1_RECIPIENT,
    })
}

fn wrapped_supply(state: &State, asset: AssetId) -> u128 {
    match state.get(&StateKey::Asset(asset)) {
        Some(lakh_state::StateValue::Asset(info)) => info.supply,
        None => 0,
        other => panic!("not an asset: {other:?}"),
    }
}

/// `g` with one validator, as [`Genesis::validate`] requires.
fn with_validator(mut g: Genesis) -> Genesis {
    let stake = g.staking.min_self_bond.max(1);
    g.validators = vec![lakh_types::genesis::GenesisValidator::new(
        &key(50),
        "127.0.0.1:3000".parse().unwrap(),
        stake,
    )];
    g
}

/// The root by definition: every level of the tree hashed in full.
fn reference_root(leaves: &[Keccak]) -> Keccak {
    let empty = empty_subtree_roots();
    let mut level = leaves.to_vec();
    for height in 0..WITHDRAWAL_TREE_DEPTH {
        if level.is_empty() {
            return empty[WITHDRAWAL_TREE_DEPTH];
        }
        if level.len() % 2 == 1 {
            level.push(empty[height]);
        }
        level = level
            .chunks(2)
            .map(|pair| node_hash(&pair[0], &pair[1]))
            .collect();
    }
    level[0]
}

/// A chain run block by block: every block also runs through the parallel
/// executor, which must agree exactly, and the ledger of what deposits
/// minted and withdrawals burned is checked against the supplies.
struct Chain {
    state: State,
    height: u64,
    nonces: HashMap<u64, u64>,
    minted: BTreeMap<AssetId, u128>,
    burned: BTreeMap<AssetId, u128>,
    deposits: u64,
    deposit_hash: Keccak,
    leaves: Vec<Keccak>,
    last: BridgeCommitment,
}

impl Chain {
    fn new(genesis: &Genesis) -> Chain {
        Chain {
            state: lakh_execution::apply_genesis(genesis).into_iter().collect(),
            height: 2,
            nonces: HashMap::new(),
            minted: BTreeMap::new(),
            burned: BTreeMap::new(),
            deposits: 0,
            deposit_hash: Keccak::default(),
            leaves: Vec::new(),
            last: BridgeCommitment::default(),
        }
    }

    fn bridged() -> Chain {
        Chain::new(&bridged_genesis())
    }

    fn env(&self, deposits: Vec<L1Deposit>) -> BlockEnv {
        BlockEnv {
            height: self.height,
            deposits,
            ..env(addr(PROPOSER))
        }
    }

    fn sign_all(&mut self, actions: Vec<(u64, Action)>) -> Vec<SignedTransaction> {
        actions
            .into_iter()
            .map(|(seed, action)| {
                let nonce = self.nonces.entry(seed).or_default();
                *nonce += 1;
                sign(seed, *nonce - 1, MAX_FEE, action)
            })
            .collect()
    }

    /// Runs `env`'s block in `mode` on both executors without committing.
    fn try_run(
        &self,
        env: &BlockEnv,
        txs: &[SignedTransaction],
        mode: Mode,
    ) -> Result<(BlockOutcome, Changes), ExecError> {
        let mut seq = prefetch(&self.state, env, txs);
        let outcome = execute_block(env, txs, &mut seq, mode);
        let mut par = prefetch(&self.state, env, txs);
        let threads = NonZeroUsize::new(3).unwrap();
        let parallel = execute_block_parallel(env, txs, &mut par, mode, threads, 0);
        assert_eq!(outcome, parallel, "parallel outcome differs");
        let outcome = outcome?;
        let changes: Changes = seq.into_changes().collect();
        let par_changes: Changes = par.into_changes().collect();
        assert_eq!(changes, par_changes, "parallel changes differ");
        Ok((outcome, changes))
    }

    /// Verifies and commits a block carrying `deposits` and `actions`.
    fn block(&mut self, deposits: Vec<L1Deposit>, actions: Vec<(u64, Action)>) -> BlockOutcome {
        let env = self.env(deposits);
        let txs = self.sign_all(actions);
        let (outcome, changes) = self.try_run(&env, &txs, Mode::Verify).unwrap();
        commit(&mut self.state, &changes);
        self.record(&outcome);
        self.height += 1;
        outcome
    }

    /// Keeps the ledger and the reference tree from the block's events.
    fn record(&mut self, outcome: &BlockOutcome) {
        for event in &outcome.block_events {
            match event {
                Event::Bridge(BridgeEvent::Deposited {
                    count,
                    asset,
                    amount,
                    ..
                }) => {
                    *self.minted.entry(*asset).or_default() += amount;
                    assert_eq!(*count, self.deposits + 1);
                    self.deposits = *count;
                }
                Event::Bridge(BridgeEvent::DepositUnminted { count, .. }) => {
                    assert_eq!(*count, self.deposits + 1);
                    self.deposits = *count;
                }
                Event::Bridge(BridgeEvent::WithdrawalAppended {
                    index, leaf_hash, ..
                }) => {
                    assert_eq!(*index, self.leaves.len() as u64);
                    self.leaves.push(*leaf_hash);
                }
                Event::Burned { asset, amount, .. } => {
                    *self.burned.entry(*asset).or_default() += amount;
                }
                _ => {}
            }
        }
        check_invariants(&self.state, native_total());
        for asset in [weth(), wusdc()] {
            let minted = self.minted.get(&asset).copied().unwrap_or(0);
            let burned = self.burned.get(&asset).copied().unwrap_or(0);
            assert_eq!(wrapped_supply(&self.state, asset), minted - burned);
        }
        // Without a bridge the commitment stays the chain's empty one.
        if outcome.bridge != BridgeCommitment::empty(CHAIN_ID) {
            assert_eq!(outcome.bridge.withdrawal_count, self.leaves.len() as u64);
            assert_eq!(outcome.bridge.withdrawal_root, reference_root(&self.leaves));
            assert_eq!(outcome.bridge.deposit_count, self.deposits);
        }
        self.last = outcome.bridge.clone();
    }

    /// Applies `deposits` in a block of their own, tracking the running hash.
    fn deposit(&mut self, deposits: Vec<L1Deposit>) -> BlockOutcome {
        for d in &deposits {
            self.deposit_hash = d.chain(&self.deposit_hash);
        }
        let outcome = self.block(deposits, vec![]);
        assert_eq!(outcome.bridge.deposit_hash, self.deposit_hash);
        outcome
    }

    fn query(&self, method: &str, params: Value) -> Result<Value, String> {
        run_query("bridge", method, &params, self.height - 1, 100, |key| {
            Ok(self.state.get(key).cloned())
        })
        .map_err(|e| e.to_string())
    }

    fn proof(&self, index: u64) -> WithdrawalAnswer {
        serde_json::from_value(self.query("withdrawal", json!({ "index": index })).unwrap())
            .unwrap()
    }
}

fn failure(outcome: &BlockOutcome, i: usize) -> FailureReason {
    match &outcome.receipts[i].status {
        TxStatus::Failed { error } => error.clone(),
        TxStatus::Success => panic!("transaction {i} succeeded"),
    }
}

#[test]
fn genesis_creates_each_wrapped_asset_with_zero_supply_and_refuses_bad_sections() {
    with_validator(bridged_genesis()).validate().unwrap();
    let chain = Chain::bridged();
    assert_eq!(wrapped_supply(&chain.state, weth()), 0);
    assert_eq!(wrapped_supply(&chain.state, wusdc()), 0);
    assert_ne!(weth(), wusdc());
    let wrapped = chain
        .query("wrapped", json!({ "token": USDC.to_hex() }))
        .unwrap();
    assert_eq!(wrapped["asset"], json!(wusdc().0));
    assert_eq!(wrapped["symbol"], json!("WUSDC"));
    assert!(
        chain
            .query("wrapped", json!({ "token": UNLISTED.to_hex() }))
            .unwrap_err()
            .contains("not bridged")
    );
    let status = chain.query("status", json!({})).unwrap();
    assert_eq!(status["enabled"], json!(true));
    assert_eq!(status["l1_chain_id"], json!(L1_CHAIN_ID));
    assert_eq!(status["tokens"].as_array().unwrap().len(), 2);

    let refused = |edit: &dyn Fn(&mut BridgeGenesis)| {
        let mut g = with_validator(bridged_genesis());
        edit(g.bridge.as_mut().unwrap());
        g.validate().unwrap_err()
    };
    assert!(refused(&|b| b.l1_chain_id = 0).contains("l1_chain_id"));
    assert!(refused(&|b| b.bridge_address = FixedBytes([0; 20])).contains("bridge_address"));
    assert!(refused(&|b| b.tokens[1].l1_token = ETHER).contains("listed twice"));
    assert!(refused(&|b| b.tokens[1].symbol = sym("WETH")).contains("already taken"));
    assert!(refused(&|b| b.tokens[1].symbol = sym("GOLD")).contains("already taken"));
    assert!(refused(&|b| b.tokens[1].symbol = sym("LAKH")).contains("already taken"));
    assert!(refused(&|b| b.tokens[0].decimals = 60).contains("decimals"));

    // Absent: nothing is written and the status says so.
    let plain = Chain::new(&genesis());
    let status = plain.query("status", json!({})).unwrap();
    assert_eq!(status["enabled"], json!(false));
    let json = genesis().to_json();
    assert!(!json.contains("bridge"), "{json}");
    let g = with_validator(bridged_genesis());
    assert_eq!(Genesis::from_json(&g.to_json()).unwrap(), g);
}

#[test]
fn deposits_mint_in_count_order_and_an_unlisted_token_only_advances_the_hash() {
    let mut chain = Chain::bridged();
    chain.deposit(vec![deposit(1, ETHER, 3, 5_000), deposit(2, USDC, 4, 70)]);
    assert_eq!(balance(&chain.state, &addr(3), weth()), 5_000);
    assert_eq!(balance(&chain.state, &addr(4), wusdc()), 70);

    let outcome = chain.deposit(vec![deposit(3, UNLISTED, 3, 9), deposit(4, ETHER, 8, 1)]);
    let unminted = outcome
        .block_events
        .iter()
        .find_map(|e| match e {
            Event::Bridge(BridgeEvent::DepositUnminted { count, reason, .. }) => {
                Some((*count, reason.clone()))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(unminted, (3, BridgeError::UnknownToken { token: UNLISTED }));
    assert_eq!(balance(&chain.state, &addr(8), weth()), 1);
    assert_eq!(outcome.bridge.deposit_count, 4);
    assert_eq!(outcome.bridge.chain_id, CHAIN_ID);

    // A deposit's mint can be spent in its own block: deposits apply first.
    chain.block(
        vec![deposit(5, ETHER, 5, 100)],
        vec![(5, withdraw(weth(), 100))],
    );
    assert_eq!(balance(&chain.state, &addr(5), weth()), 0);
}

#[test]
fn deposits_out_of_order_invalidate_a_verified_block_and_are_dropped_from_a_built_one() {
    let mut chain = Chain::bridged();
    chain.deposit(vec![deposit(1, ETHER, 3, 10)]);
    let cases = [
        (vec![deposit(3, ETHER, 3, 10)], 0, 2, 3),
        (vec![deposit(1, ETHER, 3, 10)], 0, 2, 1),
        (
            vec![deposit(2, ETHER, 3, 10), deposit(2, ETHER, 3, 10)],
            1,
            3,
            2,
        ),
        (
            vec![deposit(3, ETHER, 3, 10), deposit(2, ETHER, 3, 10)],
            0,
            2,
            3,
        ),
    ];
    for (deposits, index, expected, got) in cases {
        let env = chain.env(deposits.clone());
        let reason = BridgeError::DepositOutOfOrder { expected, got };
        assert_eq!(
            chain.try_run(&env, &[], Mode::Verify).unwrap_err(),
            ExecError::InvalidDeposit {
                index,
                reason: reason.clone()
            }
        );
        let (built, _) = chain.try_run(&env, &[], Mode::Build).unwrap();
        assert!(built.excluded_deposits.contains(&(index, reason)));
        // What the builder kept verifies.
        let kept: Vec<L1Deposit> = deposits
            .iter()
            .enumerate()
            .filter(|(i, _)| built.excluded_deposits.iter().all(|(x, _)| x != i))
            .map(|(_, d)| d.clone())
            .collect();
        let (verified, _) = chain.try_run(&chain.env(kept), &[], Mode::Verify).unwrap();
        assert_eq!(verified.bridge, built.bridge);
    }

    let many: Vec<L1Deposit> = (0..=MAX_DEPOSITS_PER_BLOCK as u64)
        .map(|i| deposit(2 + i, ETHER, 3, 1))
        .collect();
    let env = chain.env(many);
    assert!(matches!(
        chain.try_run(&env, &[], Mode::Verify),
        Err(ExecError::InvalidDeposit {
            index,
            reason: BridgeError::TooManyDeposits { .. }
        }) if index == MAX_DEPOSITS_PER_BLOCK
    ));
    let (built, _) = chain.try_run(&env, &[], Mode::Build).unwrap();
    assert_eq!(built.excluded_deposits.len(), 1);
    assert_eq!(
        built.bridge.deposit_count,
        1 + MAX_DEPOSITS_PER_BLOCK as u64
    );
}

#[test]
fn a_chain_without_a_bridge_refuses_deposits_and_withdrawals() {
    let mut chain = Chain::new(&genesis());
    let env = chain.env(vec![deposit(1, ETHER, 3, 10)]);
    assert_eq!(
        chain.try_run(&env, &[], Mode::Verify).unwrap_err(),
        ExecError::InvalidDeposit {
            index: 0,
            reason: BridgeError::NoBridge {}
        }
    );
    let outcome = chain.block(vec![], vec![(0, withdraw(GOLD, 1))]);
    assert_eq!(
        failure(&outcome, 0),
        FailureReason::Bridge(BridgeError::NoBridge {})
    );
    assert_eq!(outcome.bridge, BridgeCommitment::empty(CHAIN_ID));
}

#[test]
fn withdrawals_burn_exactly_and_append_leaves_in_transaction_order() {
    let mut chain = Chain::bridged();
    chain.deposit(vec![
        deposit(1, ETHER, 1, 1_000),
        deposit(2, ETHER, 2, 1_000),
        deposit(3, USDC, 3, 500),
    ]);
    let outcome = chain.block(
        vec![],
        vec![
            (2, withdraw(weth(), 300)),
            (3, withdraw(wusdc(), 500)),
            (1, withdraw(weth(), 1_000)),
            (2, withdraw(weth(), 1)),
        ],
    );
    assert!(outcome.receipts.iter().all(|r| r.status.is_success()));
    let appended: Vec<(u64, Address, u128)> = outcome
        .block_events
        .iter()
        .filter_map(|e| match e {
            Event::Bridge(BridgeEvent::WithdrawalAppended {
                index,
                sender,
                amount,
                ..
            }) => Some((*index, *sender, *amount)),
            _ => None,
        })
        .collect();
    assert_eq!(
        appended,
        vec![
            (0, addr(2), 300),
            (1, addr(3), 500),
            (2, addr(1), 1_000),
            (3, addr(2), 1)
        ]
    );
    assert_eq!(balance(&chain.state, &addr(1), weth()), 0);
    assert_eq!(balance(&chain.state, &addr(2), weth()), 699);
    assert_eq!(wrapped_supply(&chain.state, weth()), 699);
    assert_eq!(wrapped_supply(&chain.state, wusdc()), 0);
    // The escrows hold nothing between blocks.
    for r in &outcome.receipts {
        for asset in [weth(), wusdc()] {
            assert_eq!(balance(&chain.state, &escrow(&r.sender, r.nonce), asset), 0);
        }
    }
    let proof = chain.proof(1);
    let expected = WithdrawalLeaf {
        lakh_chain_id: CHAIN_ID,
        l1_chain_id: L1_CHAIN_ID,
        bridge: BRIDGE,
        index: 1,
        lakh_sender: addr(3),
        l1_recipient: L1_RECIPIENT,
        token: USDC,
        amount: 500,
    };
    assert_eq!(proof.leaf, expected);
    assert_eq!(proof.leaf_hash, expected.hash());
    assert_eq!(proof.root, outcome.bridge.withdrawal_root);
    assert!(verify_withdrawal_proof(
        &proof.leaf_hash,
        1,
        &proof.siblings,
        &proof.root
    ));
}

#[test]
fn withdrawal_refusals_say_why_with_stable_codes() {
    let mut chain = Chain::bridged();
    chain.deposit(vec![deposit(1, ETHER, 1, 10)]);
    let bad = |asset, amount, l1_recipient| {
        Action::Bridge(BridgeAction::Withdraw {
            asset,
            amount,
            l1_recipient,
        })
    };
    let outcome = chain.block(
        vec![],
        vec![
            (1, bad(GOLD, 1, L1_RECIPIENT)),
            (1, bad(weth(), 0, L1_RECIPIENT)),
            (1, bad(weth(), 1, FixedBytes([0; 20]))),
            (1, bad(weth(), 11, L1_RECIPIENT)),
            (2, bad(wusdc(), 1, L1_RECIPIENT)),
        ],
    );
    assert_eq!(
        failure(&outcome, 0),
        FailureReason::Bridge(BridgeError::NotWrapped { asset: GOLD })
    );
    assert_eq!(
        failure(&outcome, 1),
        FailureReason::Bridge(BridgeError::ZeroAmount {})
    );
    assert_eq!(
        failure(&outcome, 2),
        FailureReason::Bridge(BridgeError::ZeroRecipient {})
    );
    assert_eq!(
        failure(&outcome, 3),
        FailureReason::InsufficientBalance {
            asset: weth(),
            needed: 11,
            available: 10
        }
    );
    assert!(matches!(
        failure(&outcome, 4),
        FailureReason::InsufficientBalance { .. }
    ));
    assert_eq!(outcome.bridge.withdrawal_count, 0);
    let json = serde_json::to_value(failure(&outcome, 0)).unwrap();
    assert_eq!(json["code"], json!("not_wrapped"), "{json}");
    assert!(
        lakh_types::modules::bridge::check(&BridgeAction::Withdraw {
            asset: weth(),
            amount: 0,
            l1_recipient: L1_RECIPIENT
        })
        .unwrap_err()
        .contains("positive")
    );
}

#[test]
fn every_proof_the_query_gives_verifies_against_the_reference_root() {
    let mut chain = Chain::bridged();
    chain.deposit(vec![
        deposit(1, ETHER, 1, 1_000),
        deposit(2, USDC, 2, 1_000),
    ]);
    for block in 0..7u64 {
        let actions: Vec<(u64, Action)> = (0..=block)
            .map(|i| {
                if i % 2 == 0 {
                    (1, withdraw(weth(), 1 + i as u128))
                } else {
                    (2, withdraw(wusdc(), i as u128))
                }
            })
            .collect();
        chain.block(vec![], actions);
        for index in 0..chain.leaves.len() as u64 {
            let proof = chain.proof(index);
            assert_eq!(proof.root, reference_root(&chain.leaves));
            assert_eq!(proof.root, chain.last.withdrawal_root);
            assert_eq!(proof.leaf_hash, chain.leaves[index as usize]);
            assert!(
                verify_withdrawal_proof(&proof.leaf_hash, index, &proof.siblings, &proof.root),
                "proof of {index} of {}",
                chain.leaves.len()
            );
        }
    }
    assert_eq!(chain.leaves.len(), 28);
    assert!(
        chain
            .query("withdrawal", json!({ "index": 28 }))
            .unwrap_err()
            .contains("no withdrawal 28")
    );
}

/// One random step: a deposit (by token pick), a withdrawal or a transfer.
fn random_block(
    chain: &Chain,
    steps: &[(u8, u8, u8, u128)],
) -> (Vec<L1Deposit>, Vec<(u64, Action)>) {
    let tokens = [ETHER, USDC, UNLISTED];
    let mut deposits = Vec::new();
    let mut actions = Vec::new();
    for &(kind, who, pick, amount) in steps {
        let seed = u64::from(who % 5);
        let asset = if pick % 2 == 0 { weth() } else { wusdc() };
        match kind % 3 {
            0 => {
                let count = chain.deposits + deposits.len() as u64 + 1;
                deposits.push(deposit(count, tokens[usize::from(pick % 3)], seed, amount));
            }
            1 => actions.push((seed, withdraw(asset, amount))),
            _ => actions.push((
                seed,
                Action::Transfer(TransferEntry {
                    to: addr(u64::from(pick % 5)),
                    asset,
                    amount,
                }),
            )),
        }
    }
    (deposits, actions)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random blocks of deposits, withdrawals and transfers: parallel equals
    /// sequential (in every block), each wrapped supply equals what deposits
    /// minted less what withdrawals burned, the root equals the reference,
    /// and a sample of proofs verify.
    #[test]
    fn random_blocks_conserve_wrapped_supply_and_prove_every_leaf(
        blocks in proptest::collection::vec(
            proptest::collection::vec((any::<u8>(), any::<u8>(), any::<u8>(), 1u128..2_000), 1..12),
            1..6,
        ),
    ) {
        let mut chain = Chain::bridged();
        for steps in &blocks {
            let (deposits, actions) = random_block(&chain, steps);
            for d in &deposits {
                chain.deposit_hash = d.chain(&chain.deposit_hash);
            }
            let outcome = chain.block(deposits, actions);
            prop_assert_eq!(outcome.bridge.deposit_hash, chain.deposit_hash);
        }
        let count = chain.leaves.len() as u64;
        for index in [0, count / 2, count.saturating_sub(1)] {
            if index < count {
                let proof = chain.proof(index);
                prop_assert!(verify_withdrawal_proof(&proof.leaf_hash, index, &proof.siblings, &proof.root));
            }
        }
    }
}
