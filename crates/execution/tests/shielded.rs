//! The shielded module through `execute_block`: shield → transfer →
//! unshield with real proofs, double spends, anchors, the tree's capacity,
//! the block cap, the pool's invariants, parallel == sequential.
//!
//! Proofs are expensive (a few seconds in a debug build): the whole binary
//! proves two, once ([`fixture`]), against the devnet parameters every test
//! shares, and reuses them.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::stake_chain::{object, run_everywhere};
use common::*;
use commonware_cryptography::Signer as _;
use lakh_execution::Mode;
use lakh_execution::modules::run_query;
use lakh_execution::modules::shielded::{
    BlockNotes, SpentNullifier, TreeState, block_notes_key, custody, genesis_key_key,
    nullifier_key, pending_key, tree_key,
};
use lakh_shielded::chain::{self, SpendTx};
use lakh_shielded::{
    Action as ProofAction, EncryptedNote, FullTree, MerkleRoot, Note, NoteCommitment,
    ShieldedAddress, SpendInput, SpendingKey, TREE_DEPTH, TransferWitness, encrypt_note,
};
use lakh_state::StateValue;
use lakh_types::modules::shielded::query::{
    CustodyAnswer, NotesAnswer, RootAnswer, VerifyingKeyAnswer,
};
use lakh_types::modules::shielded::{
    FixedBytes, MAX_SHIELDED_ACTIONS_PER_BLOCK, NoteCiphertext, ShieldedAction, ShieldedError,
    ShieldedEvent, ShieldedGenesis,
};
use lakh_types::{Action, AssetId, Event, FailureReason, Receipt, TxStatus};
use proptest::prelude::*;
use rand_chacha_ark::ChaCha20Rng;
use rand_chacha_ark::rand_core::SeedableRng;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Holds GOLD (1,000,000) and shields it.
const ALICE: u64 = 0;
/// Submits the private transfers and collects their fees.
const RELAYER: u64 = 2;
/// Receives the unshielded GOLD.
const CAROL: u64 = 3;
const PROPOSER: u64 = 9;

/// Two proven spends and the shield they start from, consistent with a
/// chain that runs: block A `shield`, block B `transfer`, block C `unshield`.
struct Fixture {
    alice: SpendingKey,
    bob: SpendingKey,
    /// Alice shields 100 GOLD to herself.
    shield: ShieldedAction,
    /// Alice pays bob 40 privately (change 60), fee 0, sent by the relayer.
    transfer: ShieldedAction,
    /// Bob unshields 38 to carol, fee 2 to the relayer.
    unshield: ShieldedAction,
}

fn encrypted(
    note: &Note,
    to: &ShieldedAddress,
    from: &SpendingKey,
    rng: &mut ChaCha20Rng,
) -> NoteCiphertext {
    let vk = from.viewing_key();
    FixedBytes(encrypt_note(note, to, Some(&vk), rng).unwrap().to_bytes())
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let params = chain::devnet_parameters();
        let mut rng = ChaCha20Rng::seed_from_u64(16);
        let alice = SpendingKey::random(&mut rng);
        let bob = SpendingKey::random(&mut rng);
        let (a, b) = (alice.address(), bob.address());
        let deposit = Note::new(GOLD, 100, a.paying_key, &mut rng);
        let shield = chain::shield_action(&deposit, &a, &mut rng).unwrap();
        // The wallet's copy of the chain's tree.
        let mut tree = FullTree::<TREE_DEPTH>::new();
        tree.append_batch(&[deposit.commitment()]).unwrap();

        let to_bob = Note::new(GOLD, 40, b.paying_key, &mut rng);
        let change = Note::new(GOLD, 60, a.paying_key, &mut rng);
        let witness = TransferWitness {
            inputs: [
                SpendInput {
                    note: deposit,
                    nk: alice.nullifier_key(),
                    path: tree.path(0).unwrap(),
                },
                SpendInput::dummy(GOLD, &mut rng),
            ],
            outputs: [to_bob, change],
        };
        let encrypted_notes = [
            encrypted(&to_bob, &b, &alice, &mut rng),
            encrypted(&change, &a, &alice, &mut rng),
        ];
        let tx = SpendTx {
            chain_id: CHAIN_ID,
            sender: addr(RELAYER),
            anchor: tree.root(),
            fee: 0,
            action: ProofAction::Transfer,
            encrypted_notes,
        };
        let transfer = chain::prove_spend(params, &witness, &tx, &mut rng).unwrap();
        tree.append_batch(&[to_bob.commitment(), change.commitment()])
            .unwrap();

        let outputs = [
            Note::new(GOLD, 0, b.paying_key, &mut rng),
            Note::new(GOLD, 0, b.paying_key, &mut rng),
        ];
        let witness = TransferWitness {
            inputs: [
                SpendInput {
                    note: to_bob,
                    nk: bob.nullifier_key(),
                    path: tree.path(1).unwrap(),
                },
                SpendInput::dummy(GOLD, &mut rng),
            ],
            outputs,
        };
        let encrypted_notes = outputs.map(|n| encrypted(&n, &b, &bob, &mut rng));
        let tx = SpendTx {
            chain_id: CHAIN_ID,
            sender: addr(RELAYER),
            anchor: tree.root(),
            fee: 2,
            action: ProofAction::Unshield {
                recipient: addr(CAROL),
                amount: 38,
            },
            encrypted_notes,
        };
        let unshield = chain::prove_spend(params, &witness, &tx, &mut rng).unwrap();
        Fixture {
            alice,
            bob,
            shield,
            transfer,
            unshield,
        }
    })
}

/// A chain over the common genesis; every block runs sequentially and in
/// parallel (which must agree), then supply conservation and the pool's
/// own invariants are checked.
struct Chain {
    state: State,
    height: u64,
    /// Notes a test put in the tree directly (no block recorded them).
    preset_notes: u64,
}

impl Chain {
    fn new() -> Self {
        Self::of(&genesis())
    }

    fn of(genesis: &lakh_types::Genesis) -> Self {
        Chain {
            state: lakh_execution::apply_genesis(genesis).into_iter().collect(),
            height: 1,
            preset_notes: 0,
        }
    }

    fn block(&mut self, actions: &[(u64, Action)]) -> lakh_execution::BlockOutcome {
        let mut next: BTreeMap<u64, u64> = BTreeMap::new();
        let txs: Vec<_> = actions
            .iter()
            .map(|(seed, action)| {
                let n = next
                    .entry(*seed)
                    .or_insert_with(|| nonce(&self.state, &addr(*seed)));
                *n += 1;
                sign(*seed, *n - 1, 1_000_000, action.clone())
            })
            .collect();
        let mut env = env(addr(PROPOSER));
        env.height = self.height;
        let (outcome, changes) = run_everywhere(&self.state, &env, &txs, Mode::Verify);
        for (k, v) in changes {
            match v {
                Some(v) => self.state.insert(k, v),
                None => self.state.remove(&k),
            };
        }
        check_invariants(&self.state, native_total());
        self.check_pool();
        self.height += 1;
        outcome
    }

    fn send(&mut self, seed: u64, action: ShieldedAction) -> Receipt {
        self.block(&[(seed, Action::Shielded(Box::new(action)))])
            .receipts
            .remove(0)
    }

    fn query(&self, method: &str, params: serde_json::Value) -> serde_json::Value {
        run_query("shielded", method, &params, self.height - 1, 10_000, |k| {
            Ok(self.state.get(k).cloned())
        })
        .unwrap()
    }

    fn tree(&self) -> TreeState {
        object(&self.state, &tree_key()).unwrap_or_else(TreeState::empty)
    }

    /// The pool's own invariants: nothing pending between blocks, the
    /// recorded notes are exactly the tree's leaves, in order.
    fn check_pool(&self) {
        assert!(
            !self.state.contains_key(&pending_key()),
            "notes left pending after the block"
        );
        let tree = self.tree();
        let recorded: u64 = (1..=self.height)
            .filter_map(|h| object::<BlockNotes>(&self.state, &block_notes_key(h)))
            .map(|b| b.notes.len() as u64)
            .sum();
        assert_eq!(
            recorded + self.preset_notes,
            tree.count,
            "block records cover the tree"
        );
    }

    /// Every note the chain recorded, by position (what wallets scan).
    fn notes(&self) -> Vec<(NoteCommitment, EncryptedNote)> {
        let answer: NotesAnswer =
            serde_json::from_value(self.query("notes", serde_json::json!({"from_height": 1})))
                .unwrap();
        answer
            .notes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                assert_eq!(n.position, i as u64);
                (
                    chain::commitment(&n.commitment).unwrap(),
                    EncryptedNote::from_bytes(&n.encrypted_note.0),
                )
            })
            .collect()
    }

    /// The value of `key`'s unspent notes of `asset`, as its wallet sees them.
    fn unspent(&self, key: &SpendingKey, asset: AssetId) -> u128 {
        let nk = key.nullifier_key();
        let notes = self.notes();
        key.viewing_key()
            .scan(&notes)
            .into_iter()
            .filter(|s| s.direction == lakh_shielded::Direction::Incoming)
            .filter(|s| s.note.asset == asset)
            .filter(|s| {
                let nf = FixedBytes(nk.nullifier(s.index as u64).to_bytes());
                object::<SpentNullifier>(&self.state, &nullifier_key(&nf)).is_none()
            })
            .map(|s| s.note.value as u128)
            .sum()
    }

    fn custody(&self, asset: AssetId) -> u128 {
        if asset == AssetId::NATIVE {
            native(&self.state, &custody(asset))
        } else {
            balance(&self.state, &custody(asset), asset)
        }
    }
}

fn shielded_failure(error: ShieldedError) -> TxStatus {
    TxStatus::Failed {
        error: FailureReason::Shielded(error),
    }
}

fn spend_nullifiers(action: &ShieldedAction) -> [lakh_types::modules::shielded::Field32; 2] {
    *action.spend().unwrap().nullifiers
}

#[test]
fn shield_transfer_unshield_and_double_spends() {
    let f = fixture();
    let mut chain = Chain::new();
    let gold_before = balance(&chain.state, &addr(ALICE), GOLD);

    // Block 1: the shield. Its note joins the tree at the block's end.
    let receipt = chain.send(ALICE, f.shield.clone());
    assert_eq!(receipt.status, TxStatus::Success);
    assert!(receipt.events.iter().any(|e| matches!(
        e,
        Event::Shielded(ShieldedEvent::Shielded { amount: 100, asset, .. }) if *asset == GOLD
    )));
    assert_eq!(balance(&chain.state, &addr(ALICE), GOLD), gold_before - 100);
    assert_eq!(chain.custody(GOLD), 100);
    assert_eq!(chain.tree().count, 1);
    assert_eq!(chain.unspent(&f.alice, GOLD), 100);

    // Block 2: the private transfer, and the same signed action again from
    // the same relayer (its proof is valid for both): the second is a
    // double spend within the block.
    let transfer = Action::Shielded(Box::new(f.transfer.clone()));
    let outcome = chain.block(&[(RELAYER, transfer.clone()), (RELAYER, transfer.clone())]);
    assert_eq!(outcome.receipts[0].status, TxStatus::Success);
    let spent = spend_nullifiers(&f.transfer);
    assert_eq!(
        outcome.receipts[1].status,
        shielded_failure(ShieldedError::NullifierSpent {
            nullifier: spent[0]
        })
    );
    assert!(outcome.block_events.iter().any(|e| matches!(
        e,
        Event::Shielded(ShieldedEvent::NotesAppended {
            first_position: 1,
            count: 2,
            ..
        })
    )));
    assert_eq!(chain.custody(GOLD), 100);
    assert_eq!(chain.unspent(&f.alice, GOLD), 60);
    assert_eq!(chain.unspent(&f.bob, GOLD), 40);

    // And across blocks.
    let receipt = chain.send(RELAYER, f.transfer.clone());
    assert_eq!(
        receipt.status,
        shielded_failure(ShieldedError::NullifierSpent {
            nullifier: spent[0]
        })
    );

    // Block 4: bob unshields 38 to carol, paying the relayer 2.
    let relayer_gold = balance(&chain.state, &addr(RELAYER), GOLD);
    let receipt = chain.send(RELAYER, f.unshield.clone());
    assert_eq!(receipt.status, TxStatus::Success, "{receipt:?}");
    assert_eq!(balance(&chain.state, &addr(CAROL), GOLD), 38);
    assert_eq!(
        balance(&chain.state, &addr(RELAYER), GOLD),
        relayer_gold + 2
    );
    assert_eq!(chain.custody(GOLD), 60);
    assert_eq!(chain.unspent(&f.bob, GOLD), 0);
    // The wallets' side: unspent notes are worth exactly the custody.
    assert_eq!(
        chain.unspent(&f.alice, GOLD) + chain.unspent(&f.bob, GOLD),
        chain.custody(GOLD)
    );
    // Nothing on chain names bob or alice's shielded side: the unshield's
    // events name the relayer, carol and the pool only.
    let accounts = receipt.accounts();
    assert!(!accounts.contains(&addr(ALICE)), "{accounts:?}");

    // Queries.
    let custody: CustodyAnswer =
        serde_json::from_value(chain.query("custody", serde_json::json!({"asset": GOLD}))).unwrap();
    assert_eq!(custody.amount, 60);
    let root: RootAnswer =
        serde_json::from_value(chain.query("root", serde_json::json!({}))).unwrap();
    assert_eq!(root.notes, 5);
    assert_eq!(Some(&root.root), chain.tree().root());
    // The empty tree's root, then one per block that appended notes.
    assert_eq!(root.anchors.len(), 4);
    let nf = chain.query("nullifier", serde_json::json!({"nullifier": spent[0]}));
    assert_eq!(nf["spent_height"], 2);

    // The anchor of block 2's transfer expires after ANCHOR_WINDOW more
    // blocks with notes: a replay then fails on its anchor.
    for _ in 0..lakh_shielded::ANCHOR_WINDOW {
        let one = shield_of(1, &f.alice, &mut ChaCha20Rng::seed_from_u64(chain.height));
        assert_eq!(chain.send(ALICE, one).status, TxStatus::Success);
    }
    let anchor = *f.transfer.spend().unwrap().anchor;
    assert_eq!(
        chain.send(RELAYER, f.transfer.clone()).status,
        shielded_failure(ShieldedError::UnknownAnchor { anchor })
    );
    assert_eq!(
        chain.unspent(&f.alice, GOLD),
        60 + lakh_shielded::ANCHOR_WINDOW as u128
    );
}

fn shield_of(amount: u64, to: &SpendingKey, rng: &mut ChaCha20Rng) -> ShieldedAction {
    let note = Note::new(GOLD, amount, to.address().paying_key, rng);
    chain::shield_action(&note, &to.address(), rng).unwrap()
}

#[test]
fn unknown_anchor_and_bad_values_fail() {
    let f = fixture();
    let mut chain = Chain::new();
    // Never a root: the unshield's anchor belongs to a tree this chain
    // never built.
    let anchor = *f.unshield.spend().unwrap().anchor;
    assert_eq!(
        chain.send(RELAYER, f.unshield.clone()).status,
        shielded_failure(ShieldedError::UnknownAnchor { anchor })
    );
    let mut rng = ChaCha20Rng::seed_from_u64(3);
    let mut big = shield_of(1, &f.alice, &mut rng);
    if let ShieldedAction::Shield { amount, .. } = &mut big {
        *amount = 1 << 64;
    }
    assert_eq!(
        chain.send(ALICE, big).status,
        shielded_failure(ShieldedError::ValueTooLarge { value: 1 << 64 })
    );
    let mut unknown = shield_of(1, &f.alice, &mut rng);
    if let ShieldedAction::Shield { asset, .. } = &mut unknown {
        *asset = AssetId(999);
    }
    assert_eq!(
        chain.send(ALICE, unknown).status,
        TxStatus::Failed {
            error: FailureReason::UnknownAsset {
                asset: AssetId(999)
            }
        }
    );
    // Account 1 holds only 500 GOLD.
    let rich = shield_of(501, &f.alice, &mut rng);
    assert!(matches!(
        chain.send(1, rich).status,
        TxStatus::Failed {
            error: FailureReason::InsufficientBalance { .. }
        }
    ));
    assert_eq!(chain.custody(GOLD), 0);
    assert_eq!(chain.tree().count, 0);
}

#[test]
fn a_full_tree_refuses_new_notes() {
    let f = fixture();
    let mut chain = Chain::new();
    let capacity = lakh_shielded::NoteTree::<TREE_DEPTH>::CAPACITY;
    // A full tree's root is its newest recorded root (no frontier needed).
    let full = TreeState {
        count: capacity,
        frontier: [FixedBytes([0; 32]); TREE_DEPTH],
        recent_roots: lakh_types::codec::BoundedVec::new(vec![FixedBytes(
            MerkleRoot::from_field(lakh_shielded::Fr::from(7u64)).to_bytes(),
        )])
        .unwrap(),
    };
    chain.preset_notes = capacity;
    chain.state.insert(
        tree_key(),
        StateValue::Object(commonware_codec::Encode::encode(&full)),
    );
    let one = shield_of(1, &f.alice, &mut ChaCha20Rng::seed_from_u64(4));
    assert_eq!(
        chain.send(ALICE, one).status,
        shielded_failure(ShieldedError::TreeFull { capacity })
    );
    assert_eq!(chain.tree(), full);
}

#[test]
fn a_block_applies_at_most_its_cap_of_shielded_actions() {
    let f = fixture();
    let mut chain = Chain::new();
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let actions: Vec<(u64, Action)> = (0..=MAX_SHIELDED_ACTIONS_PER_BLOCK)
        .map(|_| {
            (
                ALICE,
                Action::Shielded(Box::new(shield_of(1, &f.alice, &mut rng))),
            )
        })
        .collect();
    let outcome = chain.block(&actions);
    let (last, applied) = outcome.receipts.split_last().unwrap();
    assert!(applied.iter().all(|r| r.status.is_success()));
    assert_eq!(
        last.status,
        shielded_failure(ShieldedError::BlockCap {
            cap: MAX_SHIELDED_ACTIONS_PER_BLOCK as u32
        })
    );
    assert_eq!(chain.tree().count, MAX_SHIELDED_ACTIONS_PER_BLOCK as u64);
    assert_eq!(
        chain.unspent(&f.alice, GOLD),
        MAX_SHIELDED_ACTIONS_PER_BLOCK as u128
    );
}

/// One shield in a generated block: who sends it, of what, how much.
#[derive(Clone, Debug)]
struct ShieldSpec {
    sender: u64,
    asset: AssetId,
    amount: u64,
    recipient: usize,
}

fn shield_spec() -> impl Strategy<Value = ShieldSpec> {
    (
        0u64..3,
        prop_oneof![Just(GOLD), Just(CAPPED), Just(AssetId::NATIVE)],
        prop_oneof![Just(0u64), 1u64..1_000, Just(u64::MAX)],
        0usize..2,
    )
        .prop_map(|(sender, asset, amount, recipient)| ShieldSpec {
            sender,
            asset,
            amount,
            recipient,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random blocks of shields (some failing: zero, too much, beside plain
    /// transfers) run alike sequentially and in parallel (in `Chain::block`),
    /// conserve every asset's supply (public balances + custody) and keep
    /// each custody equal to the unspent notes the wallets find.
    #[test]
    fn custody_equals_the_wallets_unspent_notes(
        blocks in prop::collection::vec(prop::collection::vec(shield_spec(), 1..6), 1..3),
        seed: u64,
    ) {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let wallets = [SpendingKey::random(&mut rng), SpendingKey::random(&mut rng)];
        let mut chain = Chain::new();
        for block in &blocks {
            let mut actions: Vec<(u64, Action)> = block
                .iter()
                .map(|s| {
                    let owner = wallets[s.recipient].address();
                    let note = Note::new(s.asset, s.amount, owner.paying_key, &mut rng);
                    let action = chain::shield_action(&note, &owner, &mut rng).unwrap();
                    (s.sender, Action::Shielded(Box::new(action)))
                })
                .collect();
            // A transfer beside them, in its own conflict group.
            actions.push((5, Action::Transfer(lakh_types::TransferEntry {
                to: addr(6),
                asset: AssetId::NATIVE,
                amount: 7,
            })));
            chain.block(&actions);
        }
        for asset in [GOLD, CAPPED, AssetId::NATIVE] {
            let found: u128 = wallets.iter().map(|w| chain.unspent(w, asset)).sum();
            prop_assert_eq!(found, chain.custody(asset), "asset {}", asset);
        }
    }
}

#[test]
fn declared_keys_cover_the_pool() {
    // Every shielded action declares the pending notes written: they all
    // land in one conflict group, apart from unrelated transfers.
    let f = fixture();
    let txs = vec![
        sign(
            ALICE,
            0,
            1_000_000,
            Action::Shielded(Box::new(f.shield.clone())),
        ),
        sign(
            RELAYER,
            0,
            1_000_000,
            Action::Shielded(Box::new(f.transfer.clone())),
        ),
        sign(
            5,
            0,
            1_000,
            Action::Transfer(lakh_types::TransferEntry {
                to: addr(6),
                asset: AssetId::NATIVE,
                amount: 1,
            }),
        ),
    ];
    let groups = lakh_execution::conflict_groups(&txs);
    assert_eq!((groups.groups, groups.largest_txs), (2, 2));
    let mut keys = Vec::new();
    lakh_execution::tx_access(&txs[1].tx, &mut |k| keys.push(k));
    for nf in spend_nullifiers(&f.transfer) {
        assert!(keys.contains(&nullifier_key(&nf)));
    }
    assert!(keys.contains(&pending_key()));
    assert!(keys.contains(&tree_key()));
}

#[test]
fn genesis_carries_the_verifying_key_the_chain_reports() {
    let devnet: VerifyingKeyAnswer =
        serde_json::from_value(Chain::new().query("verifying_key", serde_json::json!({}))).unwrap();
    assert_eq!(
        devnet,
        VerifyingKeyAnswer {
            digest: FixedBytes(chain::DEVNET_VERIFYING_KEY_DIGEST),
            devnet: true,
        }
    );
    assert!(!genesis_state().contains_key(&genesis_key_key()));

    // Another setup of the transfer circuit stands in for a ceremony's: its
    // key has the circuit's public inputs at any depth.
    let ceremony = lakh_shielded::Parameters::<1>::devnet_setup(b"ceremony stand-in").unwrap();
    let key_bytes = ceremony.verifying_key().to_bytes();
    // A genesis a node would start on: validated, so with a validator.
    let mut base = genesis();
    base.validators = vec![lakh_types::genesis::GenesisValidator::new(
        &lakh_types::PrivateKey::from_seed(1),
        "127.0.0.1:3000".parse().unwrap(),
        base.staking.min_self_bond,
    )];
    lakh_execution::check_genesis(&base).unwrap();
    let mut keyed = base.clone();
    keyed.shielded = Some(ShieldedGenesis::with_key(&key_bytes));
    lakh_execution::check_genesis(&keyed).unwrap();
    let back = lakh_types::Genesis::from_json(&keyed.to_json()).unwrap();
    assert_eq!(back, keyed);
    let answer: VerifyingKeyAnswer =
        serde_json::from_value(Chain::of(&back).query("verifying_key", serde_json::json!({})))
            .unwrap();
    assert_eq!(
        answer,
        VerifyingKeyAnswer {
            digest: FixedBytes(ceremony.verifying_key().digest()),
            devnet: false,
        }
    );

    let refused = |key: &[u8]| {
        let mut g = base.clone();
        g.shielded = Some(ShieldedGenesis::with_key(key));
        lakh_execution::check_genesis(&g).unwrap_err()
    };
    let err = refused(&key_bytes[..key_bytes.len() - 1]);
    assert!(err.contains("(malformed_key)"), "{err}");
    let err = refused(&[0; 4096]);
    assert!(err.contains("(verifying_key_too_large)"), "{err}");
}
