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
