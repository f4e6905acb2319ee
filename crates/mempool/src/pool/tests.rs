use super::*;
use bytes::Bytes;
use commonware_codec::Encode;
use commonware_cryptography::Signer;
use lakh_types::{
    Action, Address, AssetId, PrivateKey, PublicKey, Symbol, Transaction, TransferEntry,
};
use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Public keys of test senders (key generation is slow enough to do once).
fn key(i: usize) -> &'static PublicKey {
    static KEYS: OnceLock<Vec<PublicKey>> = OnceLock::new();
    &KEYS.get_or_init(|| {
        (0..2_000)
            .map(|s| PrivateKey::from_seed(s).public_key())
            .collect()
    })[i]
}

fn addr(i: usize) -> Address {
    Address::from(key(i))
}

fn entry(amount: u128) -> TransferEntry {
    TransferEntry {
        to: Address([9; 32]),
        asset: AssetId::NATIVE,
        amount,
    }
}

/// A tx with a zero signature: the pool trusts ingest to have verified, and
/// skipping signing keeps large tests fast.
fn build(sender: usize, nonce: u64, max_fee: u128, action: Action) -> SignedTransaction {
    let body = Transaction {
        chain_id: 7,
        sender: key(sender).into(),
        nonce,
        max_fee,
        action,
    }
    .encode();
    let mut raw = body.to_vec();
    raw.extend_from_slice(&[0u8; 64]);
    SignedTransaction::decode(Bytes::from(raw)).expect("well-formed")
}

/// A one-unit transfer, so `max_fee` is also its fee per unit.
fn tx(sender: usize, nonce: u64, max_fee: u128) -> SignedTransaction {
    build(sender, nonce, max_fee, Action::Transfer(entry(1)))
}

fn multi(sender: usize, nonce: u64, max_fee: u128, entries: usize) -> SignedTransaction {
    let entries = (0..entries).map(|i| entry(i as u128)).collect();
    build(sender, nonce, max_fee, Action::MultiTransfer { entries })
}

const TX_BYTES: usize = 185;

fn zero(_: &Address) -> u64 {
    0
}

fn pool(max_txs: usize, max_per_sender: usize) -> Mempool {
    Mempool::new(MempoolConfig {
        max_txs,
        max_bytes: usize::MAX / 2,
        max_per_sender,
        max_nonce_ahead: 16,
    })
}

fn insert_one(pool: &mut Mempool, t: SignedTransaction, committed: u64) -> Result<TxId, Refusal> {
    pool.insert_batch(vec![t], |_| committed).remove(0)
}

/// Picked (sender index, nonce) pairs, in output order.
fn picked(selected: &[SignedTransaction]) -> Vec<(usize, u64)> {
    selected
        .iter()
        .map(|t| {
            let sender = (0..2_000)
                .find(|&i| Address::from(key(i)) == t.tx.sender)
                .expect("test key");
            (sender, t.tx.nonce)
        })
        .collect()
}

#[test]
fn tx_sizes_match_the_constants() {
    assert_eq!(tx(0, 0, 1).encoded_len(), TX_BYTES);
    let smallest = build(
        0,
        0,
        1,
        Action::CreateAsset {
            symbol: Symbol::new("A").unwrap(),
            decimals: 0,
            max_supply: None,
            initial_supply: 0,
        },
    );
    assert_eq!(smallest.encoded_len(), MIN_TX_BYTES);
}

#[test]
fn duplicates_are_refused() {
    let mut p = pool(10, 10);
    let t = tx(0, 0, 100);
    let verdicts = p.insert_batch(vec![t.clone(), t.clone()], zero);
    assert_eq!(verdicts[0], Ok(t.id()));
    assert_eq!(verdicts[1], Err(Refusal::Duplicate));
    assert_eq!(insert_one(&mut p, t.clone(), 0), Err(Refusal::Duplicate));
    assert_eq!(p.len(), 1);
    assert_eq!(p.bytes(), TX_BYTES);
    assert!(p.contains(&t.id()));
    assert_eq!(p.get(&t.id()), Some(&t));
    p.assert_invariants();
}

#[test]
fn used_nonces_are_refused_as_replays() {
    let mut p = pool(10, 10);
    assert_eq!(
        insert_one(&mut p, tx(0, 3, 100), 5),
        Err(Refusal::NonceReused {
            expected: 5,
            got: 3
        })
    );
    assert_eq!(insert_one(&mut p, tx(0, 5, 100), 5).map(|_| ()), Ok(()));
    assert_eq!(p.len(), 1);
}

#[test]
fn nonces_too_far_ahead_are_refused_as_gaps() {
    let mut p = pool(100, 100);
    let ahead = p.config().max_nonce_ahead;
    assert!(insert_one(&mut p, tx(0, 10 + ahead, 100), 10).is_ok());
    assert_eq!(
        insert_one(&mut p, tx(0, 11 + ahead, 100), 10),
        Err(Refusal::NonceGap {
            expected: 10,
            got: 11 + ahead,
            max_ahead: ahead
        })
    );
    assert_eq!(p.pending_nonce(&addr(0)), Some(11 + ahead));
}

#[test]
fn replacement_needs_ten_percent_more() {
    let mut p = pool(10, 10);
    let first = build(0, 0, 1_000, Action::Transfer(entry(1)));
    let cheap = build(0, 0, 1_099, Action::Transfer(entry(2)));
    let bumped = multi(0, 0, 1_100, 2);
    assert!(insert_one(&mut p, first.clone(), 0).is_ok());
    assert_eq!(
        insert_one(&mut p, cheap.clone(), 0),
        Err(Refusal::ReplacementUnderpriced {
            nonce: 0,
            queued: 1_000,
            required: 1_100,
            got: 1_099
        })
    );
    assert!(p.contains(&first.id()) && !p.contains(&cheap.id()));
    assert_eq!(insert_one(&mut p, bumped.clone(), 0), Ok(bumped.id()));
    assert!(!p.contains(&first.id()));
    assert!(p.contains(&bumped.id()));
    assert_eq!(p.len(), 1);
    assert_eq!(p.bytes(), bumped.encoded_len());
    p.assert_invariants();
    let chosen = p.select(10, usize::MAX, 1, zero);
    assert_eq!(chosen, vec![bumped]);
}

#[test]
fn sender_queue_is_capped_but_replacement_still_works() {
    let mut p = pool(100, 3);
    for n in 0..3 {
        assert!(insert_one(&mut p, tx(0, n, 100), 0).is_ok());
    }
    let refused = insert_one(&mut p, tx(0, 3, 100), 0);
    assert!(
        matches!(&refused, Err(Refusal::Busy(m)) if m.contains("sender queue full")),
        "{refused:?}"
    );
    assert!(
        insert_one(&mut p, tx(0, 1, 200), 0).is_ok(),
        "replacement within cap"
    );
    assert!(
        insert_one(&mut p, tx(1, 0, 100), 0).is_ok(),
        "other senders unaffected"
    );
    // Once nonces 0 and 1 are committed the sender has room again.
    assert!(insert_one(&mut p, tx(0, 3, 100), 2).is_ok());
    assert_eq!(p.len(), 3);
    p.assert_invariants();
}

#[test]
fn full_pool_evicts_the_cheapest_tail_or_refuses() {
    let mut p = pool(3, 10);
    let a0 = tx(0, 0, 100);
    let a1 = tx(0, 1, 1);
    let b0 = tx(1, 0, 50);
    for t in [&a0, &a1, &b0] {
        assert!(insert_one(&mut p, t.clone(), 0).is_ok());
    }
    // a1 is the cheapest and is its sender's tail: it goes, a0 stays.
    let c0 = tx(2, 0, 60);
    assert!(insert_one(&mut p, c0.clone(), 0).is_ok());
    assert!(!p.contains(&a1.id()));
    assert!(p.contains(&a0.id()) && p.contains(&b0.id()) && p.contains(&c0.id()));
    // Now the cheapest tail is b0 (50): a newcomer paying 50 does not pay more.
    let refused = insert_one(&mut p, tx(3, 0, 50), 0);
    assert!(
        matches!(&refused, Err(Refusal::Busy(m)) if m.contains("mempool full")),
        "{refused:?}"
    );
    assert_eq!(p.len(), 3);
    // A sender never evicts its own txs to make room.
    let refused = insert_one(&mut p, tx(1, 1, 40), 0);
    assert!(matches!(refused, Err(Refusal::Busy(_))), "{refused:?}");
    let d0 = tx(3, 0, 51);
    assert!(insert_one(&mut p, d0.clone(), 0).is_ok());
    assert!(!p.contains(&b0.id()));
    assert_eq!(p.len(), 3);
    p.assert_invariants();
}

#[test]
fn full_pool_names_the_fee_to_beat() {
    let mut p = pool(2, 10);
    assert_eq!(p.when_full(), None, "room left");
    assert!(insert_one(&mut p, tx(0, 0, 30), 0).is_ok());
    assert!(insert_one(&mut p, tx(1, 0, 20), 0).is_ok());
    let (floor, refusal) = p.when_full().expect("full");
    assert_eq!(floor, 20);
    // The refusal insertion gives a newcomer paying the floor.
    assert_eq!(insert_one(&mut p, tx(2, 0, 20), 0).err(), Some(refusal));
    assert!(insert_one(&mut p, tx(2, 0, 21), 0).is_ok());
    assert_eq!(fee_per_unit(&multi(3, 0, 400, 3)), 100);
}

#[test]
fn unpayable_senders_lose_their_queue_from_the_unpayable_nonce() {
    let mut p = pool(100, 10);
    let ids: Vec<_> = (0..4)
        .map(|n| insert_one(&mut p, tx(0, n, 10), 0).unwrap())
        .collect();
    let other = insert_one(&mut p, tx(1, 0, 10), 0).unwrap();
    p.drop_from(&[(addr(0), 2), (addr(5), 0)]);
    assert!(p.contains(&ids[0]) && p.contains(&ids[1]));
    assert!(!p.contains(&ids[2]) && !p.contains(&ids[3]));
    assert!(p.contains(&other));
    assert_eq!(p.pending_nonce(&addr(0)), Some(2));
    p.drop_from(&[(addr(0), 0)]);
    assert_eq!(p.pending_nonce(&addr(0)), None);
    assert_eq!(p.len(), 1);
    p.assert_invariants();
}

#[test]
fn byte_bound_evicts_as_many_as_needed_or_none() {
    let mut p = Mempool::new(MempoolConfig {
        max_txs: 100,
        max_bytes: 4 * TX_BYTES,
        max_per_sender: 10,
        max_nonce_ahead: 10,
    });
    let small: Vec<_> = (0..4).map(|i| tx(i, 0, 10 + i as u128)).collect();
    for t in &small {
        assert!(insert_one(&mut p, t.clone(), 0).is_ok());
    }
    // 3 entries cost 4 units: 100 per unit; its size needs two small txs out.
    let big = multi(9, 0, 400, 3);
    assert!(big.encoded_len() > TX_BYTES && big.encoded_len() <= 2 * TX_BYTES);
    // At 11 per unit only the fee-10 tx pays less, which frees too little.
    let refused_cheap = insert_one(&mut p, multi(8, 0, 4 * 11, 3), 0);
    assert!(
        matches!(refused_cheap, Err(Refusal::Busy(_))),
        "only one cheaper tail"
    );
    assert_eq!(p.len(), 4, "a refused newcomer evicts nothing");
    assert!(insert_one(&mut p, big.clone(), 0).is_ok());
    assert!(!p.contains(&small[0].id()) && !p.contains(&small[1].id()));
    assert!(p.contains(&small[2].id()) && p.contains(&small[3].id()));
    assert!(p.bytes() <= 4 * TX_BYTES);
    p.assert_invariants();
    // A tx larger than the whole pool can never fit.
    let mut tiny = Mempool::new(MempoolConfig {
        max_bytes: TX_BYTES - 1,
        ..MempoolConfig::default()
    });
    assert!(matches!(
        insert_one(&mut tiny, tx(0, 0, 1), 0),
        Err(Refusal::Oversize { .. })
    ));
}

#[test]
fn selection_follows_fee_priority_within_nonce_order() {
    let mut p = pool(100, 100);
    let txs = vec![
        tx(0, 0, 10),
        tx(0, 1, 100), // high fee but behind a cheap nonce 0
        tx(1, 0, 50),
        tx(1, 1, 20),
        tx(2, 0, 50),    // same fee as sender 1's, arrives later
        tx(3, 1, 1_000), // nonce 0 missing: not selectable
        tx(3, 2, 1_000),
    ];
    assert!(p.insert_batch(txs, zero).iter().all(Result::is_ok));
    let all = picked(&p.select(100, usize::MAX, 1, zero));
    assert_eq!(all, vec![(1, 0), (2, 0), (1, 1), (0, 0), (0, 1)]);
    let two = picked(&p.select(2, usize::MAX, 1, zero));
    assert_eq!(two, vec![(1, 0), (2, 0)]);
    let by_bytes = picked(&p.select(100, 3 * TX_BYTES + MIN_TX_BYTES - 1, 1, zero));
    assert_eq!(by_bytes, vec![(1, 0), (2, 0), (1, 1)]);
    // Sender 0 has committed nonce 0 already (not yet pruned): its run starts
    // at 1. The stale head delays the sender until the index reaches it.
    let committed = |a: &Address| u64::from(*a == addr(0));
    let later = picked(&p.select(100, usize::MAX, 1, committed));
    assert_eq!(later, vec![(1, 0), (2, 0), (1, 1), (0, 1)]);
    // The missing nonce arrives: sender 3's run becomes selectable first.
    assert!(insert_one(&mut p, tx(3, 0, 5), 0).is_ok());
    let filled = picked(&p.select(3, usize::MAX, 1, zero));
    assert_eq!(filled, vec![(1, 0), (2, 0), (1, 1)]);
    let all = picked(&p.select(100, usize::MAX, 1, zero));
    assert_eq!(&all[5..], &[(3, 0), (3, 1), (3, 2)]);
}

#[test]
fn selection_skips_what_cannot_pay_or_fit_and_keeps_going() {
    let mut p = pool(100, 100);
    let txs = vec![
        multi(0, 0, 10_000, 20), // richest, but big
        tx(1, 0, 40),            // below a base fee of 50
        tx(1, 1, 1_000),         // stranded behind it
        tx(2, 0, 60),
        tx(3, 0, 50),
    ];
    assert!(p.insert_batch(txs, zero).iter().all(Result::is_ok));
    let chosen = picked(&p.select(100, usize::MAX, 50, zero));
    assert_eq!(chosen, vec![(0, 0), (2, 0), (3, 0)]);
    let chosen = picked(&p.select(100, 2 * TX_BYTES, 50, zero));
    assert_eq!(
        chosen,
        vec![(2, 0), (3, 0)],
        "big tx does not fit, smaller ones do"
    );
    assert!(p.select(0, usize::MAX, 1, zero).is_empty());
}

#[test]
fn selection_stops_at_the_shielded_cap_and_keeps_the_rest_for_later() {
    use lakh_types::modules::shielded::{
        ENCRYPTED_NOTE_BYTES, FixedBytes, MAX_SHIELDED_ACTIONS_PER_BLOCK, ShieldedAction,
    };
    let shield = |sender: usize, max_fee: u128| {
        let action = ShieldedAction::Shield {
            asset: AssetId(1),
            amount: 1,
            owner_commitment: FixedBytes([1; 32]),
            encrypted_note: FixedBytes([2; ENCRYPTED_NOTE_BYTES]),
        };
        build(sender, 0, max_fee, Action::Shielded(Box::new(action)))
    };
    let cap = MAX_SHIELDED_ACTIONS_PER_BLOCK;
    let mut p = pool(1_000, 100);
    let mut txs: Vec<_> = (0..cap).map(|s| shield(s, 7_000)).collect();
    // The cheapest shield misses the cap; its sender has a transfer queued
    // behind it.
    txs.push(shield(cap, 3_500));
    txs.push(tx(cap, 1, 1_000));
    txs.push(tx(cap + 1, 0, 1));
    assert!(p.insert_batch(txs, zero).iter().all(Result::is_ok));
    let chosen = p.select(1_000, usize::MAX, 1, zero);
    let shielded = chosen
        .iter()
        .filter(|t| matches!(t.tx.action, Action::Shielded(_)))
        .count();
    assert_eq!(shielded, cap);
    // The plain transfer is taken; the one stranded behind a skipped shield waits.
    assert_eq!(chosen.len(), cap + 1);
    assert!(picked(&chosen).contains(&(cap + 1, 0)));
}

#[test]
fn finalization_prunes_committed_nonces() {
    let mut p = pool(100, 100);
    let txs: Vec<_> = (0..5).map(|n| tx(0, n, 100)).collect();
    let other = tx(1, 0, 100);
    p.insert_batch(txs.clone(), zero);
    p.insert_batch(vec![other.clone()], zero);
    assert_eq!(p.pending_nonce(&addr(0)), Some(5));
    p.on_finalized([(addr(0), 3), (addr(7), 9)]);
    assert_eq!(p.len(), 3);
    assert_eq!(p.bytes(), 3 * TX_BYTES);
    assert!(txs[..3].iter().all(|t| !p.contains(&t.id())));
    assert!(txs[3..].iter().all(|t| p.contains(&t.id())));
    assert_eq!(p.pending_nonce(&addr(0)), Some(5));
    p.assert_invariants();
    let committed = |a: &Address| if *a == addr(0) { 3 } else { 0 };
    assert_eq!(
        picked(&p.select(100, usize::MAX, 1, committed)),
        vec![(0, 3), (0, 4), (1, 0)]
    );
    p.on_finalized([(addr(0), 5), (addr(1), 1)]);
    assert!(p.is_empty());
    assert_eq!(p.bytes(), 0);
    assert_eq!(p.senders(), 0);
    assert_eq!(p.pending_nonce(&addr(0)), None);
    p.assert_invariants();
}

#[test]
fn finalization_prunes_senders_across_warm_chunks() {
    let senders = 3 * WARM_SENDERS + 4;
    let mut p = pool(4 * senders, 4);
    let txs: Vec<_> = (0..senders)
        .flat_map(|s| (0..3).map(move |n| tx(s, n, 100)))
        .collect();
    p.insert_batch(txs.clone(), zero);
    // Sender s's block took (s % 4) of its three txs; unknown senders
    // (past the pool's) are listed among them.
    let updated: Vec<(Address, u64)> = (0..senders + 40)
        .map(|s| (addr(s), (s % 4) as u64))
        .collect();
    p.on_finalized(updated);
    for s in 0..senders {
        let included = (s % 4) as u64;
        for n in 0..3 {
            assert_eq!(
                p.contains(&tx(s, n, 100).id()),
                n >= included,
                "sender {s} nonce {n}"
            );
        }
        let pending = (included < 3).then_some(3);
        assert_eq!(p.pending_nonce(&addr(s)), pending, "sender {s}");
    }
    assert_eq!(p.senders(), (0..senders).filter(|s| s % 4 != 3).count());
    p.assert_invariants();
}

#[test]
fn freed_slots_are_reused_and_an_emptied_pool_gives_its_slab_back() {
    let mut p = pool(100, 100);
    p.insert_batch((0..10).map(|s| tx(s, 0, 100)).collect(), zero);
    assert_eq!(p.slab.entries.len(), 10);
    p.on_finalized((0..5).map(|s| (addr(s), 1)));
    assert_eq!(p.slab.live(), 5);
    // Five new senders fill the five freed slots; the slab does not grow.
    p.insert_batch((10..15).map(|s| tx(s, 0, 100)).collect(), zero);
    assert_eq!(p.slab.entries.len(), 10);
    assert_eq!(p.slab.live(), 10);
    // A replacement takes a slot and frees the one it replaced.
    p.insert_batch(vec![tx(14, 0, 200)], zero);
    assert_eq!(p.slab.live(), 10);
    assert_eq!(p.len(), 10);
    p.assert_invariants();
    p.on_finalized((5..15).map(|s| (addr(s), 1)));
    assert!(p.is_empty());
    assert_eq!(p.slab.entries.capacity(), 0);
    p.assert_invariants();
}
#[test]
fn the_eviction_index_is_kept_only_from_full_to_half_empty() {
    let mut p = pool(4, 10);
    // Senders 0..4 pay 10, 20, 30 and 40 per unit.
    p.insert_batch(
        (0..3).map(|s| tx(s, 0, 10 * (s as u128 + 1))).collect(),
        zero,
    );
    assert!(
        p.tails.is_none(),
        "a pool with room keeps no eviction index"
    );
    p.insert_batch(vec![tx(3, 0, 40)], zero);
    assert!(p.when_full().is_some_and(|(floor, _)| floor == 10));
    assert!(p.tails.is_some(), "a full pool names its cheapest tail");
    assert!(insert_one(&mut p, tx(4, 0, 50), 0).is_ok());
    assert!(!p.contains(&tx(0, 0, 10).id()), "the cheapest tail went");
    // Down to three of four: still kept, and kept up to date.
    p.on_finalized([(addr(1), 1)]);
    assert!(p.tails.is_some());
    assert!(insert_one(&mut p, tx(5, 0, 60), 0).is_ok());
    assert!(insert_one(&mut p, tx(6, 0, 70), 0).is_ok());
    assert!(
        !p.contains(&tx(2, 0, 30).id()),
        "evicted from the kept index"
    );
    p.assert_invariants();
    // Down to half: dropped; built again, from the queues, when full again.
    p.on_finalized([(addr(3), 1), (addr(4), 1)]);
    assert!(p.tails.is_none());
    p.insert_batch(vec![tx(7, 0, 15), tx(8, 0, 80)], zero);
    assert!(p.tails.is_none());
    assert!(insert_one(&mut p, tx(9, 0, 90), 0).is_ok());
    assert!(
        !p.contains(&tx(7, 0, 15).id()),
        "evicted from the rebuilt index"
    );
    assert!(p.tails.is_some());
    p.assert_invariants();
}

#[test]
fn selects_twenty_thousand_out_of_two_hundred_thousand() {
    let senders = 2_000;
    let per_sender = 100u64;
    let mut p = Mempool::new(MempoolConfig::default());
    for s in 0..senders {
        let batch: Vec<_> = (0..per_sender)
            .map(|n| {
                tx(
                    s,
                    n,
                    100 + ((s as u128 * 7919 + n as u128 * 104_729) % 1_000),
                )
            })
            .collect();
        assert!(p.insert_batch(batch, zero).iter().all(Result::is_ok));
    }
    assert_eq!(p.len(), 200_000);
    let started = std::time::Instant::now();
    let chosen = p.select(20_000, usize::MAX, 1, zero);
    let elapsed = started.elapsed();
    eprintln!("select 20k of 200k: {elapsed:?}");
    assert_eq!(chosen.len(), 20_000);
    let mut next: HashMap<Address, u64> = HashMap::new();
    for t in &chosen {
        let expected = next.entry(t.tx.sender).or_insert(0);
        assert_eq!(t.tx.nonce, *expected, "nonce run is contiguous");
        *expected += 1;
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Nonce is the committed one minus 2 plus `offset`: covers replays and gaps.
    Insert {
        sender: usize,
        offset: u64,
        fee: u128,
        entries: usize,
    },
    /// Select a block and commit it (the executor consumed those nonces).
    Block {
        max_txs: usize,
        max_bytes: usize,
        base_fee: u128,
    },
    /// The sender's nonce moved by other means; the pool may or may not be told.
    Advance {
        sender: usize,
        by: u64,
        notify: bool,
    },
    /// The builder found the sender unable to pay from `offset` past its committed nonce.
    DropFrom { sender: usize, offset: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..6usize, 0..10u64, 1..400u128, 0..4usize)
            .prop_map(|(sender, offset, fee, entries)| Op::Insert { sender, offset, fee, entries }),
        2 => (0..12usize, 0..4_000usize, 0..200u128)
            .prop_map(|(max_txs, max_bytes, base_fee)| Op::Block { max_txs, max_bytes, base_fee }),
        1 => (0..6usize, 0..3u64, any::<bool>())
            .prop_map(|(sender, by, notify)| Op::Advance { sender, by, notify }),
        1 => (0..6usize, 0..4u64).prop_map(|(sender, offset)| Op::DropFrom { sender, offset }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_operations_keep_bounds_never_select_a_gap_and_agree_on_readiness(ops in proptest::collection::vec(op(), 1..60)) {
        let cfg = MempoolConfig {
            max_txs: 10,
            max_bytes: 8 * TX_BYTES,
            max_per_sender: 4,
            max_nonce_ahead: 5,
        };
        let mut p = Mempool::new(cfg.clone());
        let mut committed: HashMap<Address, u64> = HashMap::new();
        let mut ids: Vec<TxId> = Vec::new();
        for op in ops {
            match op {
                Op::Insert { sender, offset, fee, entries } => {
                    let base = committed.get(&addr(sender)).copied().unwrap_or(0);
                    let nonce = (base + offset).saturating_sub(2);
                    let t = if entries == 0 { tx(sender, nonce, fee) } else { multi(sender, nonce, fee, entries) };
                    let verdict = p.insert_batch(vec![t.clone()], |a| committed.get(a).copied().unwrap_or(0)).remove(0);
                    match verdict {
                        Ok(id) => {
                            prop_assert_eq!(id, t.id());
                            prop_assert!(p.contains(&id));
                            prop_assert!(nonce >= base && nonce - base <= cfg.max_nonce_ahead);
                            prop_assert!(p.pending_nonce(&addr(sender)).unwrap() > nonce);
                            ids.push(id);
                        }
                        Err(Refusal::NonceReused { expected, got }) => prop_assert!(got < expected && expected == base),
                        Err(Refusal::NonceGap { got, .. }) => prop_assert!(got > base + cfg.max_nonce_ahead),
                        Err(Refusal::Duplicate) => prop_assert!(p.contains(&t.id())),
                        Err(_) => prop_assert!(!p.contains(&t.id())),
                    }
                }
                Op::Block { max_txs, max_bytes, base_fee } => {
                    let next = |a: &Address| committed.get(a).copied().unwrap_or(0);
                    let one = p.select(1, lakh_types::limits::MAX_BLOCK_TX_BYTES, base_fee, next);
                    prop_assert_eq!(p.has_ready(base_fee, next), !one.is_empty());
                    let chosen = p.select(max_txs, max_bytes, base_fee, |a| committed.get(a).copied().unwrap_or(0));
                    prop_assert!(chosen.len() <= max_txs);
                    prop_assert!(chosen.iter().map(SignedTransaction::encoded_len).sum::<usize>() <= max_bytes);
                    let mut touched: HashMap<Address, u64> = HashMap::new();
                    for t in &chosen {
                        prop_assert!(p.contains(&t.id()));
                        prop_assert!(t.tx.max_fee >= fees::required_fee(&t.tx.action, base_fee));
                        let a = t.tx.sender_address();
                        let next = committed.entry(a).or_insert(0);
                        prop_assert_eq!(t.tx.nonce, *next, "selected nonce run has a gap");
                        *next += 1;
                        touched.insert(a, *next);
                    }
                    p.on_finalized(touched);
                    for t in &chosen {
                        prop_assert!(!p.contains(&t.id()));
                    }
                }
                Op::DropFrom { sender, offset } => {
                    let from = committed.get(&addr(sender)).copied().unwrap_or(0) + offset;
                    p.drop_from(&[(addr(sender), from)]);
                    prop_assert!(p.pending_nonce(&addr(sender)).is_none_or(|n| n <= from));
                }
                Op::Advance { sender, by, notify } => {
                    let next = committed.entry(addr(sender)).or_insert(0);
                    *next += by;
                    if notify {
                        p.on_finalized([(addr(sender), *next)]);
                    }
                }
            }
            p.assert_invariants();
        }
    }
}
