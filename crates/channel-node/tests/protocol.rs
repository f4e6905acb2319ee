//! The peer protocol against a real node on loopback: a hand-driven peer
//! (this test, through the same handshake) sends good and bad frames and
//! reads the node's answers; two nodes pay each other, one by one and
//! pipelined. (A node killed and restarted is tested with real processes in
//! crates/lakh/tests/channel_node.rs.)
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use commonware_cryptography::Signer;
use lakh_channel_node::Node;
use lakh_channel_node::peer::{self, Authenticated};
use lakh_channel_node::wire::{MAX_FRAME_BYTES, Msg, codes};
use lakh_types::modules::channel::{ChannelRef, ChannelState, channel_id};
use lakh_types::{Address, AssetId, PrivateKey};
use std::sync::Arc;
use tokio::io::AsyncWriteExt;

fn addr(k: &PrivateKey) -> Address {
    Address::from(&k.public_key())
}

struct Setup {
    node: Arc<Node>,
    node_listen: String,
    payer: PrivateKey,
    reference: ChannelRef,
    _dir: tempfile::TempDir,
}

/// A node (the payee) serving on loopback, sharing an off-chain channel
/// with `payer` that holds 1,000 of the payer's.
async fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let payer = PrivateKey::from_seed(1);
    let payee = PrivateKey::from_seed(2);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let node_listen = listener.local_addr().unwrap().to_string();
    let participants = [addr(&payer), addr(&payee)];
    let reference = ChannelRef {
        id: channel_id(0, &participants, AssetId(1), 0, 3_600),
        participants,
        asset: AssetId(1),
    };
    let node = Node::open(payee, dir.path(), node_listen.clone(), None).unwrap();
    node.adopt_offchain(reference, [1_000, 0], "");
    tokio::spawn(node.clone().serve(listener));
    Setup {
        node,
        node_listen,
        payer,
        reference,
        _dir: dir,
    }
}

async fn dial(s: &Setup, key: &PrivateKey) -> Authenticated {
    let stream = tokio::net::TcpStream::connect(&s.node_listen)
        .await
        .unwrap();
    peer::handshake(stream, key, "", Some(s.node.address()))
        .await
        .unwrap()
}

fn pay_state(s: &Setup, version: u64, paid: u128) -> ChannelState {
    let mut state = ChannelState::opening(s.reference.id, 0, 1_000);
    state.version = version;
    state.balances = [1_000 - paid, paid];
    state
}

async fn send(conn: &mut Authenticated, m: Msg) {
    conn.writer.write_all(&m.frame()).await.unwrap();
}

async fn next(conn: &mut Authenticated) -> Msg {
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        peer::read_frame(&mut conn.reader),
    )
    .await
    .unwrap()
    .unwrap()
}

fn refusal_code(m: &Msg) -> String {
    match m {
        Msg::Refuse { code, .. } => code.as_str().to_string(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_are_countersigned_only_when_signed_new_and_paying() {
    let s = setup().await;
    let mut conn = dial(&s, &s.payer).await;

    // A good update is countersigned with a signature that verifies.
    let good = pay_state(&s, 1, 10);
    send(
        &mut conn,
        Msg::Update {
            base: 0,
            signature: good.sign(&s.payer),
            state: good.clone(),
        },
    )
    .await;
    match next(&mut conn).await {
        Msg::Countersign {
            version, signature, ..
        } => {
            assert_eq!(version, 1);
            assert!(lakh_channel_node::wire::verify_state(
                &s.node.address(),
                &good,
                &signature
            ));
        }
        other => panic!("expected a countersignature, got {other:?}"),
    }

    // A signature by another key.
    let forged = pay_state(&s, 2, 20);
    send(
        &mut conn,
        Msg::Update {
            base: 1,
            signature: forged.sign(&PrivateKey::from_seed(3)),
            state: forged,
        },
    )
    .await;
    assert_eq!(refusal_code(&next(&mut conn).await), codes::BAD_SIGNATURE);

    // The same version again, even paying more: never two states per version.
    let again = pay_state(&s, 1, 50);
    send(
        &mut conn,
        Msg::Update {
            base: 1,
            signature: again.sign(&s.payer),
            state: again,
        },
    )
    .await;
    assert_eq!(refusal_code(&next(&mut conn).await), codes::WRONG_VERSION);

    // An update taking money from the node.
    let taking = pay_state(&s, 2, 5);
    send(
        &mut conn,
        Msg::Update {
            base: 1,
            signature: taking.sign(&s.payer),
            state: taking,
        },
    )
    .await;
    assert_eq!(refusal_code(&next(&mut conn).await), codes::NOT_PAYING);

    // An update that does not add up.
    let mut unbalanced = pay_state(&s, 2, 20);
    unbalanced.balances[1] += 1;
    send(
        &mut conn,
        Msg::Update {
            base: 1,
            signature: unbalanced.sign(&s.payer),
            state: unbalanced,
        },
    )
    .await;
    assert_eq!(refusal_code(&next(&mut conn).await), codes::BAD_STATE);

    // An update built on a state the node does not hold as its latest (a
    // pipelined one after a refused one).
    let skipped = pay_state(&s, 3, 30);
    send(
        &mut conn,
        Msg::Update {
            base: 2,
            signature: skipped.sign(&s.payer),
            state: skipped,
        },
    )
    .await;
    assert_eq!(refusal_code(&next(&mut conn).await), codes::WRONG_VERSION);

    // A deposit the node cannot see on chain (this node has none) is not
    // countersigned.
    let mut deposit = pay_state(&s, 4, 10);
    deposit.deposits[0] += 5;
    deposit.balances[0] += 5;
    send(
        &mut conn,
        Msg::Update {
            base: 1,
            signature: deposit.sign(&s.payer),
            state: deposit,
        },
    )
    .await;
    assert_eq!(refusal_code(&next(&mut conn).await), codes::NOT_ON_CHAIN);

    // The node kept exactly the one good state.
    let view = s.node.view(&s.reference.id).unwrap();
    assert_eq!((view.version, view.mine, view.theirs), (1, 10, 990));

    // An oversize frame is refused before it is read, and the link dropped.
    conn.writer
        .write_all(&((MAX_FRAME_BYTES as u32) + 1).to_be_bytes())
        .await
        .unwrap();
    assert_eq!(refusal_code(&next(&mut conn).await), codes::OVERSIZE);
    let end = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        peer::read_frame(&mut conn.reader),
    )
    .await
    .unwrap();
    assert!(matches!(end, Err(peer::FrameError::Io(_))), "{end:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handshake_checks_the_key_both_ways() {
    let s = setup().await;
    // Dialing the node while expecting another key fails.
    let stream = tokio::net::TcpStream::connect(&s.node_listen)
        .await
        .unwrap();
    let err = peer::handshake(stream, &s.payer, "", Some(addr(&PrivateKey::from_seed(9))))
        .await
        .err()
        .unwrap();
    assert_eq!(err.code, codes::HANDSHAKE);

    // A peer that claims the payer's key but cannot sign for it is refused.
    let stream = tokio::net::TcpStream::connect(&s.node_listen)
        .await
        .unwrap();
    let (r, mut w) = stream.into_split();
    let mut r = tokio::io::BufReader::new(r);
    w.write_all(
        &Msg::Hello {
            key: addr(&s.payer),
            listen: lakh_types::codec::Text::new("").unwrap(),
            challenge: lakh_types::modules::shielded::FixedBytes([1; 32]),
        }
        .frame(),
    )
    .await
    .unwrap();
    assert!(matches!(
        peer::read_frame(&mut r).await.unwrap(),
        Msg::Hello { .. }
    ));
    assert!(matches!(
        peer::read_frame(&mut r).await.unwrap(),
        Msg::Proof { .. }
    ));
    w.write_all(
        &Msg::Proof {
            signature: lakh_types::modules::shielded::FixedBytes([7; 64]),
        }
        .frame(),
    )
    .await
    .unwrap();
    assert_eq!(
        refusal_code(&peer::read_frame(&mut r).await.unwrap()),
        codes::BAD_SIGNATURE
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_pay_pipelined_and_agree_on_every_state() {
    let s = setup().await;
    let payer_dir = tempfile::tempdir().unwrap();
    let payer = Node::open(s.payer.clone(), payer_dir.path(), String::new(), None).unwrap();
    payer.adopt_offchain(s.reference, [1_000, 0], &s.node_listen);
    payer
        .connect(&s.node_listen, s.node.address())
        .await
        .unwrap();
    for _ in 0..50 {
        payer.pay(s.node.address(), 3, 1).await.unwrap();
    }
    let r = payer.pay(s.node.address(), 1, 100).await.unwrap();
    assert_eq!(r.latencies_us.len(), 100);
    assert_eq!((r.version, r.mine, r.theirs), (150, 1_000 - 250, 250));
    // More than the channel holds is refused before anything is signed.
    let err = payer.pay(s.node.address(), 751, 1).await.unwrap_err();
    assert_eq!(err.code, "insufficient");
    let payee_view = s.node.view(&s.reference.id).unwrap();
    assert_eq!((payee_view.version, payee_view.mine), (150, 250));

    let v = payer.view(&s.reference.id).unwrap();
    assert_eq!((v.version, v.signed_version, v.mine), (150, 150, 750));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payments_both_ways_at_once_never_leave_the_nodes_disagreeing() {
    let s = setup().await;
    let payer_dir = tempfile::tempdir().unwrap();
    let payer = Node::open(s.payer.clone(), payer_dir.path(), String::new(), None).unwrap();
    payer.adopt_offchain(s.reference, [1_000, 0], &s.node_listen);
    payer
        .connect(&s.node_listen, s.node.address())
        .await
        .unwrap();
    payer.pay(s.node.address(), 300, 1).await.unwrap();
    let (a, b) = (payer.clone(), s.node.clone());
    let (a_to, b_to) = (s.node.address(), addr(&s.payer));
    let forth = tokio::spawn(async move {
        let mut ok = 0u128;
        for _ in 0..40 {
            if a.pay(a_to, 1, 8).await.is_ok() {
                ok += 8;
            }
        }
        ok
    });
    let back = tokio::spawn(async move {
        let mut ok = 0u128;
        for _ in 0..40 {
            match b.pay(b_to, 1, 3).await {
                Ok(_) => ok += 3,
                Err(e) => assert!(
                    ["busy", "wrong_version", "disconnected"].contains(&e.code.as_str()),
                    "{e}"
                ),
            }
        }
        ok
    });
    let (forth, back) = (forth.await.unwrap(), back.await.unwrap());
    // Whatever was refused, both hold the same latest state, and it counts
    // every acknowledged payment each way.
    let (pv, nv) = (
        payer.view(&s.reference.id).unwrap(),
        s.node.view(&s.reference.id).unwrap(),
    );
    assert_eq!(pv.version, nv.version);
    assert_eq!((pv.mine, pv.theirs), (nv.theirs, nv.mine));
    assert_eq!(nv.mine, 300 + forth - back);
    // And payments go on afterwards.
    let r = payer.pay(s.node.address(), 1, 1).await.unwrap();
    assert_eq!(r.theirs, nv.mine + 1);
}

/// Polls `done` every 20 ms for up to 10 s.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = std::time::Instant::now();
    while !done() {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A node serving on loopback without a chain, at height 100.
async fn serving(key: PrivateKey, dir: &std::path::Path) -> (Arc<Node>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listen = listener.local_addr().unwrap().to_string();
    let node = Node::open(key, dir, listen.clone(), None).unwrap();
    node.set_offchain_height(100);
    tokio::spawn(node.clone().serve(listener));
    (node, listen)
}

fn channel_between(a: &PrivateKey, b: &PrivateKey) -> ChannelRef {
    let participants = [addr(a), addr(b)];
    ChannelRef {
        id: channel_id(0, &participants, AssetId(1), 0, 3_600),
        participants,
        asset: AssetId(1),
    }
}

/// Payer A, intermediary B, payee C: A–B holds 1,000 of A's, B–C
/// `bc_deposit` of B's; A is connected to B, B to C.
struct Route {
    a: Arc<Node>,
    b: Arc<Node>,
    c: Arc<Node>,
    ab: ChannelRef,
    bc: ChannelRef,
    _dirs: [tempfile::TempDir; 3],
}

async fn route(bc_deposit: u128) -> Route {
    let dirs = [(); 3].map(|_| tempfile::tempdir().unwrap());
    let keys = [11, 12, 13].map(PrivateKey::from_seed);
    let (a, _) = serving(keys[0].clone(), dirs[0].path()).await;
    let (b, b_listen) = serving(keys[1].clone(), dirs[1].path()).await;
    let (c, c_listen) = serving(keys[2].clone(), dirs[2].path()).await;
    let ab = channel_between(&keys[0], &keys[1]);
    let bc = channel_between(&keys[1], &keys[2]);
    a.adopt_offchain(ab, [1_000, 0], &b_listen);
    b.adopt_offchain(ab, [1_000, 0], "");
    b.adopt_offchain(bc, [bc_deposit, 0], &c_listen);
    c.adopt_offchain(bc, [bc_deposit, 0], "");
    a.connect(&b_listen, b.address()).await.unwrap();
    b.connect(&c_listen, c.address()).await.unwrap();
    Route {
        a,
        b,
        c,
        ab,
        bc,
        _dirs: dirs,
    }
}

fn mine_and_locked(node: &Node, channel: &ChannelRef) -> (u128, u128) {
    let v = node.view(&channel.id).unwrap();
    (v.mine, v.locked)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payment_routed_through_an_intermediary_pays_the_payee_and_settles_both_locks() {
    let r = route(500).await;
    let report = r.a.pay_via(r.c.address(), r.b.address(), 70).await.unwrap();
    // The secret is the receipt: it opens the payee's signed hash.
    assert_eq!(
        lakh_types::modules::channel::hash32(&report.secret),
        report.hash_lock
    );
    assert_eq!(
        report.expiry_height,
        lakh_channel_node::htlc::first_expiry(100, 1)
    );
    // Both locks are paid off chain: B received 70 from A and paid 70 to C.
    wait_until("both locks paid", || {
        mine_and_locked(&r.a, &r.ab) == (930, 0)
            && mine_and_locked(&r.b, &r.ab) == (70, 0)
            && mine_and_locked(&r.b, &r.bc) == (430, 0)
            && mine_and_locked(&r.c, &r.bc) == (70, 0)
    })
    .await;
    // Each side agrees on each channel's latest version.
    for (x, y, ch) in [(&r.a, &r.b, &r.ab), (&r.b, &r.c, &r.bc)] {
        let (vx, vy) = (x.view(&ch.id).unwrap(), y.view(&ch.id).unwrap());
        assert_eq!(vx.version, vy.version);
        assert_eq!(vx.version, 2, "a lock and its payment: two states");
    }
    // Plain payments go on over the same channels.
    r.a.pay(r.b.address(), 5, 3).await.unwrap();
    // A second routed payment uses a fresh hash.
    let again = r.a.pay_via(r.c.address(), r.b.address(), 30).await.unwrap();
    assert_ne!(again.hash_lock, report.hash_lock);
    wait_until("the second payment", || {
        mine_and_locked(&r.c, &r.bc) == (100, 0) && mine_and_locked(&r.a, &r.ab) == (885, 0)
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routed_payments_the_route_cannot_carry_are_refused_and_nothing_stays_locked() {
    let r = route(50).await;
    // B holds only 50 towards C: B refuses A's lock of 70.
    let err =
        r.a.pay_via(r.c.address(), r.b.address(), 70)
            .await
            .unwrap_err();
    assert_eq!(err.code, "insufficient", "{err}");
    assert_eq!(mine_and_locked(&r.a, &r.ab), (1_000, 0));
    assert_eq!(mine_and_locked(&r.b, &r.ab), (0, 0));
    // A payee B has no channel with: no invoice comes back.
    let stranger = addr(&PrivateKey::from_seed(77));
    let err = r.a.pay_via(stranger, r.b.address(), 5).await.unwrap_err();
    assert_eq!(err.code, "unknown_hop", "{err}");
    // More than A holds towards B: refused before anything is asked.
    let err =
        r.a.pay_via(r.c.address(), r.b.address(), 1_001)
            .await
            .unwrap_err();
    assert_eq!(err.code, "insufficient", "{err}");
    // An intermediary that sees the payer's expiry too close to forward
    // (its chain is further on) refuses the lock.
    r.b.set_offchain_height(100 + lakh_channel_node::htlc::EXPIRY_DELTA_BLOCKS + 1);
    let err =
        r.a.pay_via(r.c.address(), r.b.address(), 10)
            .await
            .unwrap_err();
    assert_eq!(err.code, "expiry_too_close", "{err}");
    assert_eq!(mine_and_locked(&r.a, &r.ab), (1_000, 0));
    // Within the route's capacity it goes through.
    r.b.set_offchain_height(100);
    r.a.pay_via(r.c.address(), r.b.address(), 50).await.unwrap();
    wait_until("paid", || mine_and_locked(&r.c, &r.bc) == (50, 0)).await;
}

/// Asks the node (as the payee) for an invoice over the raw connection.
async fn invoice(
    conn: &mut Authenticated,
    payer: &PrivateKey,
    payee: Address,
    amount: u128,
) -> lakh_channel_node::htlc::Invoice {
    let id = lakh_types::modules::shielded::FixedBytes([amount as u8; 32]);
    send(
        conn,
        Msg::InvoiceAsk {
            id,
            payer: addr(payer),
            payee,
            amount,
        },
    )
    .await;
    match next(conn).await {
        Msg::InvoiceGive { id: got, invoice } => {
            assert_eq!(got, id);
            assert!(invoice.is_for(amount, &addr(payer), &payee));
            invoice
        }
        other => panic!("expected an invoice, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payee_takes_only_locks_for_its_own_fresh_hashes_within_the_bounds() {
    use lakh_channel_node::htlc::{MIN_EXPIRY_BLOCKS, with_lock};
    use lakh_types::modules::channel::{Lock, MAX_LOCKS, hash32};
    let s = setup().await;
    s.node.set_offchain_height(100);
    let mut conn = dial(&s, &s.payer).await;
    let payee = s.node.address();
    let mut state = ChannelState::opening(s.reference.id, 0, 1_000);
    let mut locks: Vec<Lock> = Vec::new();
    let add = |state: &ChannelState, locks: &[Lock], lock: &Lock, version: u64| {
        let (mut st, all) = with_lock(state, locks, lock).unwrap();
        st.version = version;
        (st, all)
    };
    let lock_of = |inv: &lakh_channel_node::htlc::Invoice, expiry_height: u64| Lock {
        payer: 0,
        amount: inv.amount,
        hash_lock: inv.hash_lock,
        expiry_height,
    };
    let first = invoice(&mut conn, &s.payer, payee, 40).await;

    // Too close to expiry.
    let close = lock_of(&first, 100 + MIN_EXPIRY_BLOCKS - 1);
    let (st, _) = add(&state, &locks, &close, 1);
    let m = Msg::AddLock {
        base: 0,
        signature: st.sign(&s.payer),
        state: st,
        lock: close,
        payee,
    };
    send(&mut conn, m).await;
    assert_eq!(refusal_code(&next(&mut conn).await), "expiry_too_close");

    // A good lock is countersigned and its secret revealed at once.
    let good = lock_of(&first, 1_000);
    let (st, all) = add(&state, &locks, &good, 1);
    let m = Msg::AddLock {
        base: 0,
        signature: st.sign(&s.payer),
        state: st.clone(),
        lock: good.clone(),
        payee,
    };
    send(&mut conn, m).await;
    assert!(matches!(
        next(&mut conn).await,
        Msg::Countersign { version: 1, .. }
    ));
    match next(&mut conn).await {
        Msg::Reveal { hash_lock, secret } => {
            assert_eq!(hash_lock, first.hash_lock);
            assert_eq!(hash32(&secret), hash_lock);
        }
        other => panic!("expected the secret, got {other:?}"),
    }
    (state, locks) = (st, all);

    // The same hash again (say, on a second route): refused.
    let again = Lock {
        expiry_height: 1_001,
        ..good.clone()
    };
    let mut dup = state.clone();
    dup.version = 2;
    dup.balances[0] -= 40;
    dup.locked += 40;
    let m = Msg::AddLock {
        base: 1,
        signature: dup.sign(&s.payer),
        state: dup,
        lock: again,
        payee,
    };
    send(&mut conn, m).await;
    assert_eq!(refusal_code(&next(&mut conn).await), "duplicate_hash");

    // A hash the node never made.
    let foreign = Lock {
        hash_lock: lakh_types::modules::shielded::FixedBytes([9; 32]),
        ..good.clone()
    };
    let (st, _) = add(&state, &locks, &foreign, 2);
    let m = Msg::AddLock {
        base: 1,
        signature: st.sign(&s.payer),
        state: st,
        lock: foreign,
        payee,
    };
    send(&mut conn, m).await;
    assert_eq!(refusal_code(&next(&mut conn).await), "unknown_hash");

    // A lock above the payer's balance (960 left).
    let big = invoice(&mut conn, &s.payer, payee, 961).await;
    let mut above = state.clone();
    above.version = 2;
    above.locked += 961;
    let m = Msg::AddLock {
        base: 1,
        signature: above.sign(&s.payer),
        state: above,
        lock: lock_of(&big, 1_000),
        payee,
    };
    send(&mut conn, m).await;
    assert_eq!(refusal_code(&next(&mut conn).await), "locks_above_balance");

    // Locks up to the bound, then one more: refused.
    let mut version = 1;
    while locks.len() < MAX_LOCKS {
        let inv = invoice(&mut conn, &s.payer, payee, 1 + locks.len() as u128).await;
        version += 1;
        let lock = lock_of(&inv, 1_000);
        let (st, all) = add(&state, &locks, &lock, version);
        let m = Msg::AddLock {
            base: version - 1,
            signature: st.sign(&s.payer),
            state: st.clone(),
            lock,
            payee,
        };
        send(&mut conn, m).await;
        assert!(matches!(next(&mut conn).await, Msg::Countersign { .. }));
        assert!(matches!(next(&mut conn).await, Msg::Reveal { .. }));
        (state, locks) = (st, all);
    }
    let inv = invoice(&mut conn, &s.payer, payee, 100).await;
    let over = lock_of(&inv, 1_000);
    let mut st = state.clone();
    st.version = version + 1;
    st.balances[0] -= 100;
    st.locked += 100;
    let m = Msg::AddLock {
        base: version,
        signature: st.sign(&s.payer),
        state: st,
        lock: over,
        payee,
    };
    send(&mut conn, m).await;
    assert_eq!(refusal_code(&next(&mut conn).await), "too_many_locks");

    // The payer pays the first lock: the node countersigns its payment.
    let (mut paid, rest) =
        lakh_channel_node::htlc::without_lock(&state, &locks, &first.hash_lock, true).unwrap();
    paid.version = version + 2;
    let m = Msg::RemoveLock {
        base: version,
        signature: paid.sign(&s.payer),
        state: paid.clone(),
        hash_lock: first.hash_lock,
        paid: true,
    };
    send(&mut conn, m).await;
    assert!(matches!(next(&mut conn).await, Msg::Countersign { .. }));
    let view = s.node.view(&s.reference.id).unwrap();
    assert_eq!(view.mine, 40);
    assert_eq!(view.locks, rest.len());
    // A refund of a lock whose secret the node knows, before its expiry: refused.
    let second = rest[0].hash_lock;
    let (mut refund, _) =
        lakh_channel_node::htlc::without_lock(&paid, &rest, &second, false).unwrap();
    refund.version = version + 3;
    let m = Msg::RemoveLock {
        base: version + 2,
        signature: refund.sign(&s.payer),
        state: refund,
        hash_lock: second,
        paid: false,
    };
    send(&mut conn, m).await;
    assert_eq!(refusal_code(&next(&mut conn).await), "not_refundable");
}

/// Payer A and intermediary B are nodes; payee C is driven by hand over
/// B's link. A pays C 70 through B; C has answered the invoice and B has
/// sent C its lock (`lock_state`, not yet answered).
struct HandRoute {
    a: Arc<Node>,
    b: Arc<Node>,
    ab: ChannelRef,
    bc: ChannelRef,
    c_key: PrivateKey,
    c: Authenticated,
    paying: tokio::task::JoinHandle<
        Result<lakh_channel_node::RoutedReport, lakh_channel_node::NodeError>,
    >,
    lock_state: ChannelState,
    lock: lakh_types::modules::channel::Lock,
    _dirs: [tempfile::TempDir; 2],
}

async fn hand_route(seeds: [u64; 3]) -> HandRoute {
    use lakh_channel_node::htlc::Invoice;
    let dirs = [(); 2].map(|_| tempfile::tempdir().unwrap());
    let keys = seeds.map(PrivateKey::from_seed);
    let (a, _) = serving(keys[0].clone(), dirs[0].path()).await;
    let (b, b_listen) = serving(keys[1].clone(), dirs[1].path()).await;
    let ab = channel_between(&keys[0], &keys[1]);
    let bc = channel_between(&keys[1], &keys[2]);
    a.adopt_offchain(ab, [1_000, 0], &b_listen);
    b.adopt_offchain(ab, [1_000, 0], "");
    b.adopt_offchain(bc, [500, 0], "");
    a.connect(&b_listen, b.address()).await.unwrap();
    let stream = tokio::net::TcpStream::connect(&b_listen).await.unwrap();
    let mut c = peer::handshake(stream, &keys[2], "", Some(b.address()))
        .await
        .unwrap();
    wait_until("B's link to C", || b.view(&bc.id).unwrap().connected).await;
    let payer = a.clone();
    let (c_addr, b_addr) = (addr(&keys[2]), b.address());
    let paying = tokio::spawn(async move { payer.pay_via(c_addr, b_addr, 70).await });
    let Msg::InvoiceAsk {
        id, payer, amount, ..
    } = next(&mut c).await
    else {
        panic!("expected an invoice ask");
    };
    let (_secret, inv) = Invoice::create(&keys[2], amount, payer);
    send(&mut c, Msg::InvoiceGive { id, invoice: inv }).await;
    let Msg::AddLock {
        state: lock_state,
        lock,
        ..
    } = next(&mut c).await
    else {
        panic!("expected B's lock");
    };
    let [_, _, c_key] = keys;
    HandRoute {
        a,
        b,
        ab,
        bc,
        c_key,
        c,
        paying,
        lock_state,
        lock,
        _dirs: dirs,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_payee_that_never_reveals_lets_both_locks_refund_after_expiry() {
    use lakh_channel_node::htlc::{EXPIRY_DELTA_BLOCKS, first_expiry};
    // C takes the lock but never reveals the secret.
    let HandRoute {
        a,
        b,
        ab,
        bc,
        c_key,
        mut c,
        paying,
        lock_state: state,
        lock,
        _dirs,
    } = hand_route([21, 22, 23]).await;
    // Expiries fall by the delta per hop.
    assert_eq!(
        lock.expiry_height,
        first_expiry(100, 1) - EXPIRY_DELTA_BLOCKS
    );
    assert_eq!(lock.amount, 70);
    let m = Msg::Countersign {
        channel: bc.id,
        version: state.version,
        signature: state.sign(&c_key),
    };
    send(&mut c, m).await;
    wait_until("B's lock to C", || mine_and_locked(&b, &bc) == (430, 70)).await;
    assert_eq!(mine_and_locked(&a, &ab), (930, 70));

    // Before expiry, nothing is refunded.
    assert_eq!(b.resolve_locks().await, 0);
    // Past both expiries B refunds its lock (C countersigns the refund),
    // then tells A, which refunds its own.
    let past = first_expiry(100, 1) + 1;
    a.set_offchain_height(past);
    b.set_offchain_height(past);
    let resolving = {
        let b = b.clone();
        tokio::spawn(async move { b.resolve_locks().await })
    };
    let Msg::RemoveLock {
        state, paid: false, ..
    } = next(&mut c).await
    else {
        panic!("expected a refund");
    };
    assert_eq!(state.balances, [500, 0]);
    let m = Msg::Countersign {
        channel: bc.id,
        version: state.version,
        signature: state.sign(&c_key),
    };
    send(&mut c, m).await;
    // The sweep B spawns itself when C countersigned the lock may run after
    // the height moved and take the refund first; either sweep may own it.
    assert!(resolving.await.unwrap() <= 1);
    let err = paying.await.unwrap().unwrap_err();
    assert_eq!(err.code, "refunded", "{err}");
    wait_until("A's refund", || {
        mine_and_locked(&a, &ab) == (1_000, 0) && mine_and_locked(&b, &ab) == (0, 0)
    })
    .await;
    assert_eq!(mine_and_locked(&b, &bc), (500, 0));
}

/// C refuses B's lock, but holds B's signature on the state with it: with
/// its own it could close the channel with that state and be paid by
/// revealing on chain. So B keeps A's lock and tells A nothing until a
/// newer co-signed state supersedes the refused one. Returns B's state
/// that changes nothing but its version, as C received it.
async fn refuse_lock(r: &mut HandRoute) -> ChannelState {
    let refusal = Msg::refuse(r.bc.id, r.lock_state.version, "unknown_hash", "not mine");
    send(&mut r.c, refusal).await;
    let Msg::Update { base, state, .. } = next(&mut r.c).await else {
        panic!("expected B's superseding state");
    };
    assert_eq!(base, 0);
    assert_eq!(state.version, r.lock_state.version + 1);
    assert_eq!((state.balances, state.locked), ([500, 0], 0));
    // Nothing went upstream: A's lock stays, B countersigns no refund.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(!r.paying.is_finished());
    assert_eq!(mine_and_locked(&r.a, &r.ab), (930, 70));
    assert_eq!(mine_and_locked(&r.b, &r.ab), (0, 70));
    state
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_lock_is_superseded_before_the_payment_fails_back() {
    let mut r = hand_route([41, 42, 43]).await;
    let fence = refuse_lock(&mut r).await;
    let m = Msg::Countersign {
        channel: r.bc.id,
        version: fence.version,
        signature: fence.sign(&r.c_key),
    };
    send(&mut r.c, m).await;
    let err = r.paying.await.unwrap().unwrap_err();
    assert_eq!(err.code, "unknown_hash", "{err}");
    wait_until("A's refund", || {
        mine_and_locked(&r.a, &r.ab) == (1_000, 0) && mine_and_locked(&r.b, &r.ab) == (0, 0)
    })
    .await;
    let bc = r.b.view(&r.bc.id).unwrap();
    assert_eq!((bc.version, bc.mine, bc.locked), (fence.version, 500, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_lock_left_unsuperseded_fails_back_only_past_its_expiry() {
    let mut r = hand_route([51, 52, 53]).await;
    // C never countersigns the superseding state.
    refuse_lock(&mut r).await;
    assert_eq!(r.b.resolve_locks().await, 0);
    assert!(!r.paying.is_finished());
    // Past the refused lock's expiry (a node without a chain goes by the
    // height alone; with one, it first checks the secret was not revealed
    // on chain in time) the payment fails back and A is refunded.
    r.b.set_offchain_height(r.lock.expiry_height + 1);
    r.b.resolve_locks().await;
    let err = r.paying.await.unwrap().unwrap_err();
    assert_eq!(err.code, "unknown_hash", "{err}");
    wait_until("A's refund", || {
        mine_and_locked(&r.a, &r.ab) == (1_000, 0) && mine_and_locked(&r.b, &r.ab) == (0, 0)
    })
    .await;
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// B is killed (its runtime dropped: every task and socket gone at once)
/// after it took A's lock and signed its own lock to C, before C
/// countersigned. Restarted on its store, B still holds A's co-signed lock,
/// never reuses the version it signed for C, and once its lock to C is past
/// expiry the payment fails back and A is refunded.
#[test]
fn an_intermediary_killed_between_the_two_locks_restarts_consistent() {
    use lakh_channel_node::htlc::{EXPIRY_DELTA_BLOCKS, Invoice, first_expiry};
    let dirs = [(); 2].map(|_| tempfile::tempdir().unwrap());
    let keys = [31, 32, 33].map(PrivateKey::from_seed);
    let ab = channel_between(&keys[0], &keys[1]);
    let bc = channel_between(&keys[1], &keys[2]);
    let main = runtime();
    let b_runtime = runtime();
    let (b, b_listen) = b_runtime.block_on(serving(keys[1].clone(), dirs[1].path()));
    b.adopt_offchain(ab, [1_000, 0], "");
    b.adopt_offchain(bc, [500, 0], "");
    let (a, a_listen) = main.block_on(serving(keys[0].clone(), dirs[0].path()));
    a.adopt_offchain(ab, [1_000, 0], &b_listen);
    main.block_on(a.connect(&b_listen, b.address())).unwrap();
    let mut c = main.block_on(async {
        let stream = tokio::net::TcpStream::connect(&b_listen).await.unwrap();
        let c = peer::handshake(stream, &keys[2], "", Some(b.address()))
            .await
            .unwrap();
        wait_until("B's link to C", || b.view(&bc.id).unwrap().connected).await;
        c
    });
    let (payer, c_addr, b_addr) = (a.clone(), addr(&keys[2]), b.address());
    let paying = main.spawn(async move { payer.pay_via(c_addr, b_addr, 70).await });
    let e2 = main.block_on(async {
        let Msg::InvoiceAsk {
            id, payer, amount, ..
        } = next(&mut c).await
        else {
            panic!("expected an invoice ask");
        };
        let (_secret, inv) = Invoice::create(&keys[2], amount, payer);
        send(&mut c, Msg::InvoiceGive { id, invoice: inv }).await;
        let Msg::AddLock { state, lock, .. } = next(&mut c).await else {
            panic!("expected B's lock");
        };
        assert_eq!(state.version, 1);
        lock.expiry_height
    });
    assert_eq!(e2, first_expiry(100, 1) - EXPIRY_DELTA_BLOCKS);

    // Kill B: drop its runtime (its tasks and sockets) and its last handle.
    drop(b);
    drop(b_runtime);
    drop(c);

    let b_runtime = runtime();
    let b = b_runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&b_listen).await.unwrap();
        let b = Node::open(keys[1].clone(), dirs[1].path(), b_listen.clone(), None).unwrap();
        b.set_offchain_height(100);
        tokio::spawn(b.clone().serve(listener));
        b.connect(&a_listen, addr(&keys[0])).await.unwrap();
        b
    });
    // A's lock to B survived; B's lock to C was never co-signed, and the
    // version B signed for it is never used again.
    let ab_view = b.view(&ab.id).unwrap();
    assert_eq!((ab_view.mine, ab_view.locked, ab_view.version), (0, 70, 1));
    let bc_view = b.view(&bc.id).unwrap();
    assert_eq!(
        (bc_view.version, bc_view.signed_version, bc_view.locked),
        (0, 1, 0)
    );
    let mut c = main.block_on(async {
        let stream = tokio::net::TcpStream::connect(&b_listen).await.unwrap();
        let c = peer::handshake(stream, &keys[2], "", Some(b.address()))
            .await
            .unwrap();
        wait_until("B's link to C", || b.view(&bc.id).unwrap().connected).await;
        c
    });
    let b2 = b.clone();
    let paid = b_runtime.spawn(async move { b2.pay(c_addr, 5, 1).await });
    main.block_on(async {
        let Msg::Update { state, .. } = next(&mut c).await else {
            panic!("expected a payment");
        };
        assert_eq!(state.version, 2, "version 1 was signed before the kill");
        assert_eq!(state.locked, 0);
        let m = Msg::Countersign {
            channel: bc.id,
            version: 2,
            signature: state.sign(&keys[2]),
        };
        send(&mut c, m).await;
    });
    b_runtime.block_on(paid).unwrap().unwrap();

    // Past its lock's expiry, B fails the payment back and A is refunded.
    b.set_offchain_height(e2 + 1);
    let b2 = b.clone();
    b_runtime.block_on(async move { b2.resolve_locks().await });
    let err = main.block_on(paying).unwrap().unwrap_err();
    assert_eq!(err.code, "expired", "{err}");
    main.block_on(wait_until("A's refund", || {
        mine_and_locked(&a, &ab) == (1_000, 0) && mine_and_locked(&b, &ab) == (0, 0)
    }));
}

/// A and C both driven by hand around node B, as if in league: C refuses
/// B's lock (keeping B's signature on it) and A asks B at once to refund
/// A's lock. B refuses the refund while the refused lock could still pay
/// C, and grants it once C countersigned the state superseding it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_intermediary_refunds_its_payer_early_only_once_the_refused_lock_is_superseded() {
    use lakh_channel_node::htlc::{Invoice, first_expiry, with_lock, without_lock};
    use lakh_types::modules::channel::Lock;
    let dir = tempfile::tempdir().unwrap();
    let keys = [61, 62, 63].map(PrivateKey::from_seed);
    let (b, b_listen) = serving(keys[1].clone(), dir.path()).await;
    let ab = channel_between(&keys[0], &keys[1]);
    let bc = channel_between(&keys[1], &keys[2]);
    b.adopt_offchain(ab, [1_000, 0], "");
    b.adopt_offchain(bc, [500, 0], "");
    let mut hand = Vec::new();
    for key in [&keys[0], &keys[2]] {
        let stream = tokio::net::TcpStream::connect(&b_listen).await.unwrap();
        hand.push(
            peer::handshake(stream, key, "", Some(b.address()))
                .await
                .unwrap(),
        );
    }
    let [mut a, mut c] = <[Authenticated; 2]>::try_from(hand).ok().unwrap();
    wait_until("B's links", || {
        b.view(&ab.id).unwrap().connected && b.view(&bc.id).unwrap().connected
    })
    .await;

    // The invoice, relayed both ways by B.
    let (a_addr, c_addr) = (addr(&keys[0]), addr(&keys[2]));
    let id = lakh_types::modules::shielded::FixedBytes([7; 32]);
    let ask = Msg::InvoiceAsk {
        id,
        payer: a_addr,
        payee: c_addr,
        amount: 70,
    };
    send(&mut a, ask).await;
    assert!(matches!(next(&mut c).await, Msg::InvoiceAsk { .. }));
    let (_secret, invoice) = Invoice::create(&keys[2], 70, a_addr);
    send(&mut c, Msg::InvoiceGive { id, invoice }).await;
    let Msg::InvoiceGive { invoice, .. } = next(&mut a).await else {
        panic!("expected the relayed invoice");
    };

    // A locks 70 to B; B countersigns and locks 70 to C.
    let lock = Lock {
        payer: 0,
        amount: 70,
        hash_lock: invoice.hash_lock,
        expiry_height: first_expiry(100, 1),
    };
    let opening = ChannelState::opening(ab.id, 0, 1_000);
    let (mut locked, locks) = with_lock(&opening, &[], &lock).unwrap();
    locked.version = 1;
    let add = Msg::AddLock {
        base: 0,
        signature: locked.sign(&keys[0]),
        state: locked.clone(),
        lock,
        payee: c_addr,
    };
    send(&mut a, add).await;
    assert!(matches!(next(&mut a).await, Msg::Countersign { .. }));
    let Msg::AddLock { state: to_c, .. } = next(&mut c).await else {
        panic!("expected B's lock");
    };

    // C refuses it; A asks for its lock back at once: refused.
    send(
        &mut c,
        Msg::refuse(bc.id, to_c.version, "unknown_hash", "no"),
    )
    .await;
    let Msg::Update { state: fence, .. } = next(&mut c).await else {
        panic!("expected B's superseding state");
    };
    let refund = |version: u64| {
        let (mut st, _) = without_lock(&locked, &locks, &invoice.hash_lock, false).unwrap();
        st.version = version;
        Msg::RemoveLock {
            base: 1,
            signature: st.sign(&keys[0]),
            state: st,
            hash_lock: invoice.hash_lock,
            paid: false,
        }
    };
    send(&mut a, refund(2)).await;
    assert_eq!(refusal_code(&next(&mut a).await), "not_refundable");

    // C countersigns the superseding state: B tells A, and refunds A.
    let m = Msg::Countersign {
        channel: bc.id,
        version: fence.version,
        signature: fence.sign(&keys[2]),
    };
    send(&mut c, m).await;
    let Msg::Fail {
        hash_lock, code, ..
    } = next(&mut a).await
    else {
        panic!("expected B's failure");
    };
    assert_eq!(
        (hash_lock, code.as_str()),
        (invoice.hash_lock, "unknown_hash")
    );
    send(&mut a, refund(3)).await;
    assert!(matches!(next(&mut a).await, Msg::Countersign { .. }));
    assert_eq!(mine_and_locked(&b, &ab), (0, 0));
    assert_eq!(mine_and_locked(&b, &bc), (500, 0));
}
