//! The channel module through real blocks: open, pay off chain, cooperative
//! and unilateral closes, disputes around the window, reopened channels,
//! hash locks, PayWord, forged signatures at ingest, and property tests
//! (parallel equals sequential, supply conserved, every channel's books
//! balance).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use commonware_codec::Decode;
use lakh_execution::{
    BlockEnv, BlockOutcome, Mode, apply_genesis, execute_block, execute_block_parallel,
    modules::channel,
};
use lakh_state::{StateKey, StateValue};
use lakh_types::codec::BoundedVec;
use lakh_types::genesis::GenesisAccount;
use lakh_types::modules::channel::{
    Channel, ChannelAction, ChannelError, ChannelRef, ChannelState, Hash32, Lock,
    MIN_CHALLENGE_BLOCKS, SignedState, channel_id, hash32, locks_root, payword_root, payword_word,
};
use lakh_types::modules::shielded::FixedBytes;
use lakh_types::{Action, FailureReason, Genesis, SignedTransaction, TxStatus};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::num::NonZeroUsize;

const MAX_FEE: u128 = 1_000_000;
const PROPOSER: u64 = 9;
const EACH: u128 = 1_000_000;
const WINDOW: u64 = MIN_CHALLENGE_BLOCKS;

fn channel_genesis() -> Genesis {
    let mut g = genesis();
    let gold = g.assets.iter_mut().find(|a| a.id == GOLD).unwrap();
    gold.balances = (0..4)
        .map(|s| GenesisAccount {
            address: addr(s),
            balance: EACH,
        })
        .collect();
    g
}

struct Chain {
    state: State,
    height: u64,
}

impl Chain {
    fn new() -> Chain {
        let state: State = apply_genesis(&channel_genesis()).into_iter().collect();
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

    fn sign(&self, actions: &[(u64, Action)]) -> Vec<SignedTransaction> {
        let mut next: BTreeMap<u64, u64> = BTreeMap::new();
        actions
            .iter()
            .map(|(seed, action)| {
                let n = next
                    .entry(*seed)
                    .or_insert_with(|| nonce(&self.state, &addr(*seed)));
                *n += 1;
                sign(*seed, *n - 1, MAX_FEE, action.clone())
            })
            .collect()
    }

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

    fn send(&mut self, seed: u64, action: Action) -> TxStatus {
        self.block(&[(seed, action)]).receipts.remove(0).status
    }

    fn ok(&mut self, seed: u64, action: Action) {
        assert_eq!(self.send(seed, action), TxStatus::Success);
    }

    fn fails(&mut self, seed: u64, action: Action, error: ChannelError) {
        assert_eq!(
            self.send(seed, action),
            TxStatus::Failed {
                error: FailureReason::Channel(error)
            }
        );
    }

    fn gold(&self, seed: u64) -> u128 {
        balance(&self.state, &addr(seed), GOLD)
    }

    fn channel(&self, id: &Hash32) -> Option<Channel> {
        match self.state.get(&channel::channel_key(id)) {
            Some(StateValue::Object(bytes)) => {
                Some(Channel::decode_cfg(bytes.clone(), &()).unwrap())
            }
            _ => None,
        }
    }

    /// Opens a channel from `a` to `b` with `deposit`; returns its reference.
    fn open(&mut self, a: u64, b: u64, counter: u64, deposit: u128) -> ChannelRef {
        let r = reference(a, b, counter);
        self.ok(
            a,
            ch(ChannelAction::Open {
                channel: r,
                counter,
                challenge_blocks: WINDOW,
                deposit,
            }),
        );
        r
    }
}

fn reference(a: u64, b: u64, counter: u64) -> ChannelRef {
    let participants = [addr(a), addr(b)];
    ChannelRef {
        id: channel_id(CHAIN_ID, &participants, GOLD, counter, WINDOW),
        participants,
        asset: GOLD,
    }
}

fn ch(a: ChannelAction) -> Action {
    Action::Channel(Box::new(a))
}

/// A state of `r` at `version` splitting `total` deposited by participant 0.
fn state(r: &ChannelRef, version: u64, total: u128, balances: [u128; 2]) -> ChannelState {
    ChannelState {
        channel: r.id,
        version,
        deposits: [total, 0],
        withdrawn: [0, 0],
        balances,
        locked: 0,
        locks_root: FixedBytes([0; 32]),
        is_final: false,
    }
}

fn cosign(r: &ChannelRef, seeds: [u64; 2], s: ChannelState) -> SignedState {
    assert_eq!(r.participants, [addr(seeds[0]), addr(seeds[1])]);
    SignedState {
        signatures: [s.sign(&key(seeds[0])), s.sign(&key(seeds[1]))],
        state: s,
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
        (
            result.expect("block executes"),
            overlay.into_changes().collect::<Vec<_>>(),
        )
    };
    let sequential = run(None);
    assert_eq!(run(Some(2)), sequential, "parallel differs");
    sequential
}

/// Supply conservation, and per channel: custody holds exactly what its
/// books owe (`Σ payouts + locked == Σ deposits − Σ withdrawn`).
fn check_all(state: &State) {
    check_invariants(state, native_total());
    for (k, v) in state {
        let (StateKey::Object(o), StateValue::Object(bytes)) = (k, v) else {
            continue;
        };
        if o.kind != channel::kind::CHANNEL {
            continue;
        }
        let c = Channel::decode_cfg(bytes.clone(), &()).unwrap();
        let held = (c.deposits[0] + c.deposits[1]) - (c.withdrawn[0] + c.withdrawn[1]);
        assert_eq!(balance(state, &channel::custody(&c.id), c.asset), held);
        let seen = |i: usize| c.state.balances[i] + c.deposits[i] - c.state.deposits[i];
        assert_eq!(seen(0) + seen(1) + c.state.locked, held, "books of {c:?}");
    }
}

#[test]
fn open_pay_off_chain_and_close_cooperatively() {
    let mut chain = Chain::new();
    let r = chain.open(0, 1, 0, 1_000);
    assert_eq!(chain.gold(0), EACH - 1_000);
    chain.ok(
        1,
        ch(ChannelAction::Deposit {
            channel: r,
            amount: 200,
        }),
    );
    // A hundred payments off chain; only the last state goes on chain.
    let mut last = state(&r, 0, 1_000, [1_000, 0]);
    last.deposits = [1_000, 200];
    for v in 1..=100u64 {
        last.version = v;
        last.balances = [1_000 - 3 * v as u128, 200 + 3 * v as u128];
    }
    last.is_final = true;
    let before = [chain.gold(0), chain.gold(1)];
    chain.ok(
        0,
        ch(ChannelAction::CoopClose {
            channel: r,
            state: cosign(&r, [0, 1], last),
        }),
    );
    assert_eq!(chain.gold(0), before[0] + 700);
    assert_eq!(chain.gold(1), before[1] + 500);
    assert!(chain.channel(&r.id).is_none());
    // A non-final state cannot close cooperatively: refused at ingest.
    let open = state(&r, 5, 1_000, [1_000, 0]);
    let action = ChannelAction::CoopClose {
        channel: r,
        state: cosign(&r, [0, 1], open),
    };
    assert_eq!(
        lakh_types::modules::channel::check_typed(&action),
        Err(ChannelError::NotFinal {})
    );
}

#[test]
fn a_stale_close_loses_to_a_newer_state_within_the_window() {
    let mut chain = Chain::new();
    let r = chain.open(0, 1, 0, 1_000);
    let v3 = cosign(&r, [0, 1], state(&r, 3, 1_000, [900, 100]));
    let v7 = cosign(&r, [0, 1], state(&r, 7, 1_000, [400, 600]));
    // Participant 0 closes with the old state, where it owns more.
    chain.ok(
        0,
        ch(ChannelAction::Close {
            channel: r,
            state: Some(v3.clone()),
        }),
    );
    let deadline = chain.height - 1 + WINDOW;
    chain.fails(
        2,
        ch(ChannelAction::Settle { channel: r }),
        ChannelError::ChallengeRunning {
            channel: r.id,
            deadline_height: deadline,
            height: chain.height,
        },
    );
    // The same version is no dispute; a watchtower (account 2) submits v7 at the deadline.
    chain.fails(
        2,
        ch(ChannelAction::Dispute {
            channel: r,
            state: v3,
        }),
        ChannelError::StaleVersion {
            version: 3,
            registered: 3,
        },
    );
    chain.height = deadline;
    chain.ok(
        2,
        ch(ChannelAction::Dispute {
            channel: r,
            state: v7.clone(),
        }),
    );
    let later = cosign(&r, [0, 1], state(&r, 8, 1_000, [1_000, 0]));
    chain.fails(
        0,
        ch(ChannelAction::Dispute {
            channel: r,
            state: later,
        }),
        ChannelError::ChallengeOver {
            channel: r.id,
            deadline_height: deadline,
            height: deadline + 1,
        },
    );
    let before = [chain.gold(0), chain.gold(1)];
    chain.ok(2, ch(ChannelAction::Settle { channel: r }));
    assert_eq!(chain.gold(0), before[0] + 400);
    assert_eq!(chain.gold(1), before[1] + 600);
    chain.fails(
        2,
        ch(ChannelAction::Settle { channel: r }),
        ChannelError::UnknownChannel { channel: r.id },
    );
}

#[test]
fn a_reopened_channel_refuses_the_old_channels_states() {
    let mut chain = Chain::new();
    let first = chain.open(0, 1, 0, 100);
    let old = cosign(&first, [0, 1], state(&first, 9, 100, [0, 100]));
    chain.ok(
        0,
        ch(ChannelAction::Close {
            channel: first,
            state: None,
        }),
    );
    chain.height += WINDOW;
    chain.ok(0, ch(ChannelAction::Settle { channel: first }));
    // Counter 0 is used: reopening must take counter 1, a new id.
    let reuse = ChannelAction::Open {
        channel: first,
        counter: 0,
        challenge_blocks: WINDOW,
        deposit: 100,
    };
    chain.fails(
        0,
        ch(reuse),
        ChannelError::WrongCounter {
            expected: 1,
            got: 0,
        },
    );
    let second = chain.open(0, 1, 1, 100);
    assert_ne!(first.id, second.id);
    let mut replayed = old;
    replayed.state.channel = first.id;
    let action = ChannelAction::Close {
        channel: second,
        state: Some(replayed),
    };
    assert!(matches!(
        lakh_types::modules::channel::check_typed(&action),
        Err(ChannelError::StateChannel { .. })
    ));
}

#[test]
fn locks_pay_when_revealed_by_expiry_and_refund_otherwise() {
    let mut chain = Chain::new();
    let r = chain.open(0, 1, 0, 1_000);
    let secret: Hash32 = FixedBytes([42; 32]);
    let expiry = 50;
    let locks = vec![
        Lock {
            payer: 0,
            amount: 30,
            hash_lock: hash32(&secret),
            expiry_height: expiry,
        },
        Lock {
            payer: 0,
            amount: 20,
            hash_lock: FixedBytes([7; 32]),
            expiry_height: expiry,
        },
    ];
    let mut s = state(&r, 2, 1_000, [850, 100]);
    s.locked = 50;
    s.locks_root = locks_root(&r.id, &locks);
    let s = cosign(&r, [0, 1], s);
    chain.ok(
        1,
        ch(ChannelAction::Close {
            channel: r,
            state: Some(s),
        }),
    );
    chain.height = expiry;
    chain.ok(3, ch(ChannelAction::RevealSecret { secret }));
    chain.fails(
        3,
        ch(ChannelAction::RevealSecret { secret }),
        ChannelError::SecretKnown {
            hash_lock: hash32(&secret),
        },
    );
    let unlock = |locks: Vec<Lock>| {
        ch(ChannelAction::Unlock {
            channel: r,
            locks: BoundedVec::new(locks).unwrap(),
        })
    };
    chain.fails(
        3,
        unlock(locks.clone()),
        ChannelError::NotSettled { channel: r.id },
    );
    chain.height += WINDOW;
    let before = [chain.gold(0), chain.gold(1)];
    chain.ok(3, ch(ChannelAction::Settle { channel: r }));
    assert_eq!(
        [chain.gold(0), chain.gold(1)],
        [before[0] + 850, before[1] + 100]
    );
    chain.fails(
        3,
        unlock(locks[..1].to_vec()),
        ChannelError::LocksMismatch { channel: r.id },
    );
    chain.ok(3, unlock(locks.clone()));
    // Revealed by its expiry: 30 to the payee; the other expired: 20 back.
    assert_eq!(
        [chain.gold(0), chain.gold(1)],
        [before[0] + 870, before[1] + 130]
    );
    chain.fails(
        3,
        unlock(locks),
        ChannelError::UnknownChannel { channel: r.id },
    );
}

#[test]
fn payword_pays_exactly_the_deepest_preimage() {
    let mut chain = Chain::new();
    let seed: Hash32 = FixedBytes([9; 32]);
    let (length, unit) = (100u32, 7u128);
    let r = reference(0, 1, 0);
    chain.ok(
        0,
        ch(ChannelAction::PaywordOpen {
            channel: r,
            counter: 0,
            challenge_blocks: WINDOW,
            root: payword_root(&seed, length),
            length,
            unit_amount: unit,
        }),
    );
    assert_eq!(chain.gold(0), EACH - 700);
    // 37 payments off chain, each checked with one hash against the last.
    let mut last = payword_root(&seed, length);
    for k in 1..=37 {
        let word = payword_word(&seed, length, k);
        assert_eq!(hash32(&word), last);
        last = word;
    }
    let claim = |preimage, depth| {
        ch(ChannelAction::PaywordClaim {
            channel: r,
            preimage,
            depth,
        })
    };
    chain.fails(
        1,
        claim(last, 38),
        ChannelError::BadPreimage {
            channel: r.id,
            depth: 38,
        },
    );
    chain.fails(
        0,
        ch(ChannelAction::Dispute {
            channel: r,
            state: cosign(&r, [0, 1], state(&r, 1, 700, [0, 700])),
        }),
        ChannelError::WrongKind { channel: r.id },
    );
    let before = [chain.gold(0), chain.gold(1)];
    chain.ok(1, claim(last, 37));
    assert_eq!(chain.gold(1), before[1] + 37 * 7);
    assert_eq!(chain.gold(0), before[0] + 63 * 7);
}

#[test]
fn forged_state_signatures_are_refused_at_ingest() {
    let r = reference(0, 1, 0);
    let s = state(&r, 2, 100, [50, 50]);
    let honest = cosign(&r, [0, 1], s.clone());
    let mut forged = honest.clone();
    forged.signatures[1] = s.sign(&key(2));
    let mut swapped = honest.clone();
    swapped.signatures.swap(0, 1);
    let mut tampered = honest.clone();
    tampered.state.balances = [0, 100];
    let txs: Vec<SignedTransaction> = [honest, forged, swapped, tampered]
        .into_iter()
        .enumerate()
        .map(|(i, state)| {
            sign(
                3,
                i as u64,
                MAX_FEE,
                ch(ChannelAction::Dispute { channel: r, state }),
            )
        })
        .collect();
    assert_eq!(lakh_types::tx::verify_signatures(&txs), vec![1, 2, 3]);
    assert!(lakh_types::tx::verify_signatures(&txs[..1]).is_empty());
}

/// A random action on `r`, whose participants are accounts `seeds`: the
/// sender is a participant or a bystander (account 4).
fn random_action(
    r: &ChannelRef,
    seeds: [u64; 2],
    pick: u8,
    amount: u128,
    version: u64,
) -> (u64, Action) {
    let split = amount.min(100);
    let s = || cosign(r, seeds, state(r, version, 100, [100 - split, split]));
    match pick % 6 {
        0 => (
            seeds[1],
            ch(ChannelAction::Deposit {
                channel: *r,
                amount,
            }),
        ),
        1 => (
            seeds[0],
            ch(ChannelAction::Close {
                channel: *r,
                state: None,
            }),
        ),
        2 => (
            4,
            ch(ChannelAction::Dispute {
                channel: *r,
                state: s(),
            }),
        ),
        3 => (
            seeds[1],
            ch(ChannelAction::Close {
                channel: *r,
                state: Some(s()),
            }),
        ),
        4 => (4, ch(ChannelAction::Settle { channel: *r })),
        _ => {
            let mut f = s().state;
            f.is_final = true;
            (
                seeds[0],
                ch(ChannelAction::CoopClose {
                    channel: *r,
                    state: cosign(r, seeds, f),
                }),
            )
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    /// Random blocks of channel actions over two channels: parallel equals
    /// sequential (checked in every block), supply is conserved and every
    /// channel's books balance.
    #[test]
    fn random_blocks_conserve_supply_and_books(
        blocks in proptest::collection::vec(
            proptest::collection::vec((any::<bool>(), any::<u8>(), 1u128..500, 1u64..20), 1..6),
            1..6,
        ),
        jumps in proptest::collection::vec(any::<bool>(), 6),
    ) {
        let mut chain = Chain::new();
        let channels = [chain.open(0, 1, 0, 100), chain.open(2, 3, 0, 100)];
        let seeds = [[0, 1], [2, 3]];
        for (i, block) in blocks.iter().enumerate() {
            let actions: Vec<(u64, Action)> = block
                .iter()
                .map(|(which, pick, amount, version)| {
                    let k = usize::from(*which);
                    random_action(&channels[k], seeds[k], *pick, *amount, *version)
                })
                .collect();
            chain.block(&actions);
            if jumps[i] {
                chain.height += WINDOW;
            }
        }
    }
}
