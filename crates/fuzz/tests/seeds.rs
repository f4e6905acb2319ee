//! Writes the generated part of the seed corpora (`cargo test -p lakh-fuzz
//! --test seeds -- --ignored`): transactions of several modules' actions,
//! the bulk body and gossip batch carrying them, a genesis block, a block
//! holding them and a block carrying evidence of a fault, one carrying an
//! L1 deposit, evidence of each kind of fault (alone and as a header's
//! list) signed by the fuzz committee, a co-signed channel state, and RPC
//! parameter lists. The genesis and finality seeds come
//! from a running devnet (docs/RELIABILITY.md says how).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use bytes::Bytes;
use commonware_codec::Encode;
use commonware_cryptography::{Digestible, Signer};
use commonware_runtime::deterministic;
use lakh_consensus::{block::Block, engine::genesis_block};
use lakh_types::{
    Action, Address, AssetId, PrivateKey, SignedTransaction, Symbol, Transaction, TransferEntry,
    codec::BoundedVec,
    modules::{dex::DexAction, oracle::OracleAction, stake::StakeAction},
};
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn actions() -> Vec<(&'static str, Action)> {
    let to = Address::from(&PrivateKey::from_seed(2).public_key());
    let usdc = AssetId(2);
    let entry = TransferEntry {
        to,
        asset: AssetId(0),
        amount: 1_000_000_000,
    };
    vec![
        ("transfer", Action::Transfer(entry.clone())),
        (
            "multi_transfer",
            Action::MultiTransfer {
                entries: vec![entry.clone(), entry],
            },
        ),
        (
            "create_asset",
            Action::CreateAsset {
                symbol: Symbol::new("GOLD").unwrap(),
                decimals: 6,
                max_supply: Some(u128::MAX),
                initial_supply: 1,
            },
        ),
        (
            "dex_add_liquidity",
            Action::Dex(DexAction::AddLiquidity {
                asset_a: AssetId(0),
                asset_b: usdc,
                max_amount_a: 10,
                max_amount_b: 20,
                min_shares: 0,
                deadline_height: u64::MAX,
            }),
        ),
        (
            "oracle_set_feed",
            Action::Oracle(OracleAction::SetFeed {
                asset: usdc,
                reporters: BoundedVec::new(vec![to]).unwrap(),
                max_age_blocks: 30,
                min_reports: 1,
            }),
        ),
        (
            "stake_delegate",
            Action::Stake(Box::new(StakeAction::Delegate {
                validator: to,
                amount: 5,
            })),
        ),
    ]
}

fn signed(action: Action, nonce: u64) -> SignedTransaction {
    let key = PrivateKey::from_seed(1);
    Transaction {
        chain_id: 1337,
        sender: key.public_key().into(),
        nonce,
        max_fee: 1_000_000,
        action,
    }
    .sign(&key)
}

/// A mid-channel state, balanced, signed by both participants.
fn co_signed_state() -> lakh_types::modules::channel::SignedState {
    use lakh_types::modules::channel::{ChannelState, SignedState};
    let state = ChannelState {
        channel: lakh_types::modules::shielded::FixedBytes([7; 32]),
        version: 3,
        deposits: [1_000, 500],
        withdrawn: [0, 100],
        balances: [700, 700],
        locked: 0,
        locks_root: lakh_types::modules::shielded::FixedBytes([0; 32]),
        is_final: false,
    };
    let signatures = [
        state.sign(&PrivateKey::from_seed(1)),
        state.sign(&PrivateKey::from_seed(2)),
    ];
    SignedState { state, signatures }
}

/// The signing scheme of each member of [`lakh_fuzz::evidence_committee`],
/// in signer order.
fn committee_schemes() -> Vec<lakh_consensus::block::Scheme> {
    use lakh_types::consensus_key::{CONSENSUS_NAMESPACE, derive_consensus_key};
    let committee = lakh_fuzz::evidence_committee();
    let members = commonware_utils::ordered::BiMap::try_from(committee.keys().unwrap()).unwrap();
    committee
        .members
        .iter()
        .map(|member| {
            let key = lakh_fuzz::EVIDENCE_COMMITTEE_SEEDS
                .map(PrivateKey::from_seed)
                .find(|k| Address::from(&k.public_key()) == member.identity)
                .unwrap();
            lakh_consensus::block::Scheme::signer(
                CONSENSUS_NAMESPACE,
                members.clone(),
                derive_consensus_key(&key),
            )
            .unwrap()
        })
        .collect()
}

/// Genuine evidence of each kind of fault, each by another member of the
/// fuzz committee, in epoch 0 (the committee's) and view 7, by name.
fn evidence_of_each_fault() -> Vec<(&'static str, lakh_consensus::evidence::Evidence)> {
    use commonware_consensus::simplex::types::{Finalize, Notarize, Nullify, Proposal};
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::{Hasher, Sha256};
    use lakh_consensus::{
        block::Scheme,
        evidence::{Evidence, FinalizePair, NotarizePair, NullifyFinalizePair},
    };
    let schemes = committee_schemes();
    let round = Round::new(Epoch::zero(), View::new(7));
    let proposal = |block: &[u8]| Proposal::new(round, View::new(6), Sha256::hash(&[block]));
    let notarize = |s: &Scheme, block: &[u8]| Notarize::sign(s, proposal(block)).unwrap();
    let finalize = |s: &Scheme, block: &[u8]| Finalize::sign(s, proposal(block)).unwrap();
    vec![
        (
            "conflicting_notarize",
            Evidence::ConflictingNotarize(NotarizePair::new(
                notarize(&schemes[0], b"a"),
                notarize(&schemes[0], b"b"),
            )),
        ),
        (
            "conflicting_finalize",
            Evidence::ConflictingFinalize(FinalizePair::new(
                finalize(&schemes[1], b"a"),
                finalize(&schemes[1], b"b"),
            )),
        ),
        (
            "nullify_finalize",
            Evidence::NullifyFinalize(NullifyFinalizePair::new(
                Nullify::sign::<commonware_cryptography::sha256::Digest>(&schemes[2], round)
                    .unwrap(),
                finalize(&schemes[2], b"a"),
            )),
        ),
    ]
}

/// A payer's side of a channel node session: hello, an update, a PayWord
/// batch, and a refusal, each one frame.
fn channel_session() -> Vec<u8> {
    use lakh_channel_node::wire::Msg;
    use lakh_types::codec::{BoundedVec, Text};
    use lakh_types::modules::shielded::FixedBytes;
    let signed = co_signed_state();
    let msgs = [
        Msg::Hello {
            key: lakh_types::Address::from(&PrivateKey::from_seed(1).public_key()),
            listen: Text::new("127.0.0.1:9701").unwrap(),
            challenge: FixedBytes([5; 32]),
        },
        Msg::Update {
            base: 2,
            state: signed.state.clone(),
            signature: signed.signatures[0],
        },
        Msg::Latest {
            state: signed.state,
            signatures: signed.signatures,
            locks: BoundedVec::new(Vec::new()).unwrap(),
        },
        Msg::PaywordPay {
            channel: FixedBytes([7; 32]),
            first_depth: 1,
            words: BoundedVec::new(vec![FixedBytes([9; 32]); 3]).unwrap(),
        },
        Msg::refuse(FixedBytes([7; 32]), 4, "busy", "an update is in flight"),
    ];
    msgs.iter().flat_map(|m| m.frame()).collect()
}

fn write(target: &str, name: &str, data: &[u8]) {
    std::fs::write(corpus(target).join(name), data).unwrap();
}

#[test]
#[ignore = "writes the committed seed corpora"]
fn write_seed_corpora() {
    let txs: Vec<SignedTransaction> = actions()
        .into_iter()
        .enumerate()
        .map(|(nonce, (name, action))| {
            let tx = signed(action, nonce as u64);
            write("transaction", name, tx.raw());
            tx
        })
        .collect();
    write("bulk", "six", &lakh_rpc::bulk::encode_bulk(&txs));
    let raws: Vec<Bytes> = txs.iter().map(|tx| tx.raw().clone()).collect();
    write("gossip", "six", &lakh_node::gossip::encode_batch(&raws));

    let chain = lakh_types::Genesis::from_json(lakh_fuzz::FUZZ_GENESIS).unwrap();
    let genesis = genesis_block::<deterministic::Context>(&chain);
    write("block", "genesis", &genesis.encode());
    let mut header = genesis.header.clone();
    header.parent = genesis.digest();
    header.height = header.height.next();
    write(
        "block",
        "six_txs",
        &Block::new(header.clone(), txs).encode(),
    );
    let evidence = evidence_of_each_fault();
    for (name, piece) in &evidence {
        write("evidence", name, &piece.encode());
    }
    let pieces: Vec<_> = evidence.into_iter().map(|(_, piece)| piece).collect();
    let mut list = Vec::new();
    lakh_consensus::evidence::write_evidence_list(&pieces, &mut list);
    write("evidence", "list_of_three", &list);
    header.evidence = pieces[..1].to_vec();
    write(
        "block",
        "evidence",
        &Block::new(header.clone(), Vec::new()).encode(),
    );
    header.evidence = Vec::new();
    header.deposits = vec![lakh_types::modules::bridge::L1Deposit {
        count: 1,
        token: lakh_types::modules::bridge::ETHER,
        l1_sender: lakh_types::committee::FixedBytes([7; 20]),
        recipient: lakh_types::Address([8; 32]),
        amount: 1_000_000_000_000_000_000,
    }];
    write("block", "deposit", &Block::new(header, Vec::new()).encode());

    write("channel_state", "two_party", &co_signed_state().encode());
    write("channel_msg", "session", &channel_session());

    let params: &[(u8, &str)] = &[
        (0, "[]"),
        (1, r#"["00ff"]"#),
        (
            4,
            r#"{"address": "0000000000000000000000000000000000000000000000000000000000000000", "prove": true}"#,
        ),
        (5, "[12]"),
        (9, r#"["USDC"]"#),
        (10, r#"["dex", "pools", {"limit": 3}]"#),
    ];
    for (i, (pick, json)) in params.iter().enumerate() {
        let mut data = vec![*pick];
        data.extend_from_slice(json.as_bytes());
        write("rpc_params", &format!("call{i}"), &data);
    }
}
