//! Canonical encoding: round trips, and malformed, truncated, oversize and
//! trailing-byte inputs refused.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use bytes::Bytes;
use commonware_codec::{Decode, Encode};
use commonware_cryptography::Signer;
use lakh_types::{
    Action, Address, AssetId, Event, FailureReason, PrivateKey, Receipt, Refusal,
    SignedTransaction, Symbol, Transaction, TransferEntry, TxId, TxStatus, limits,
};
use proptest::prelude::*;

fn key(seed: u64) -> PrivateKey {
    PrivateKey::from_seed(seed)
}

fn transfer(seed: u64, nonce: u64, amount: u128) -> SignedTransaction {
    let k = key(seed);
    Transaction {
        chain_id: 7,
        sender: k.public_key().into(),
        nonce,
        max_fee: 10_000,
        action: Action::Transfer(TransferEntry {
            to: Address([9; 32]),
            asset: AssetId::NATIVE,
            amount,
        }),
    }
    .sign(&k)
}

fn arb_action() -> impl Strategy<Value = Action> {
    let entry = (any::<[u8; 32]>(), any::<u64>(), any::<u128>()).prop_map(|(to, a, amount)| {
        TransferEntry {
            to: Address(to),
            asset: AssetId(a),
            amount,
        }
    });
    prop_oneof![
        entry.clone().prop_map(Action::Transfer),
        proptest::collection::vec(entry, 1..8)
            .prop_map(|entries| Action::MultiTransfer { entries }),
        (
            "[A-Z][A-Z0-9]{0,11}",
            0u8..=30,
            any::<Option<u128>>(),
            any::<u128>()
        )
            .prop_map(
                |(s, decimals, max_supply, initial_supply)| Action::CreateAsset {
                    symbol: Symbol::new(&s).unwrap(),
                    decimals,
                    max_supply,
                    initial_supply,
                }
            ),
        (any::<u64>(), any::<[u8; 32]>(), any::<u128>()).prop_map(|(a, to, amount)| Action::Mint {
            asset: AssetId(a),
            to: Address(to),
            amount,
        }),
    ]
}

proptest! {
    #[test]
    fn signed_transactions_round_trip(seed in 0u64..1000, nonce: u64, max_fee: u128, chain_id: u64, action in arb_action()) {
        let k = key(seed);
        let signed = Transaction { chain_id, sender: k.public_key().into(), nonce, max_fee, action }.sign(&k);
        let decoded = SignedTransaction::decode(signed.raw().clone()).unwrap();
        prop_assert_eq!(&decoded.tx, &signed.tx);
        prop_assert_eq!(decoded.id(), signed.id());
        prop_assert!(decoded.verify_signature());
        prop_assert_eq!(decoded.encode(), signed.raw().clone());
    }

    #[test]
    fn every_truncation_is_refused(cut in 0usize..200) {
        let signed = transfer(1, 0, 5);
        let raw = signed.raw().clone();
        let cut = cut % raw.len();
        prop_assert!(matches!(SignedTransaction::decode(raw.slice(..cut)), Err(Refusal::Malformed(_))));
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = SignedTransaction::decode(Bytes::from(bytes));
    }

    /// A sender whose bytes are not a curve point decodes (keys are not
    /// decompressed at decode) and is refused by verification, alone and
    /// among valid transactions, on every verifier path.
    #[test]
    fn a_sender_that_is_not_a_point_fails_verification(
        seed in 0u64..1000,
        nonce: u64,
        action in arb_action(),
        at in 0usize..3,
    ) {
        let k = key(seed);
        let signed = Transaction { chain_id: 7, sender: k.public_key().into(), nonce, max_fee: 9, action }.sign(&k);
        let mut raw = signed.raw().to_vec();
        // y = 2 is the y of no point on the curve.
        let mut not_a_point = [0u8; 32];
        not_a_point[0] = 2;
        raw[8..40].copy_from_slice(&not_a_point);
        let forged = SignedTransaction::decode(Bytes::from(raw)).unwrap();
        prop_assert_eq!(forged.tx.sender, Address(not_a_point));
        prop_assert!(!forged.verify_signature());
        let mut batch = vec![transfer(1, 0, 5), transfer(2, 0, 5)];
        batch.insert(at, forged);
        for lanes in [true, false] {
            let bad = lakh_types::tx::verify_signatures_on(&batch, &lakh_types::tx::Decompress, lanes);
            prop_assert_eq!(bad, vec![at]);
        }
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let signed = transfer(1, 0, 5);
    let mut raw = signed.raw().to_vec();
    raw.push(0);
    let err = SignedTransaction::decode(Bytes::from(raw)).unwrap_err();
    assert!(
        matches!(err, Refusal::Malformed(ref m) if m.contains("trailing")),
        "{err}"
    );
}

#[test]
fn oversize_is_refused_before_decoding() {
    let raw = Bytes::from(vec![0u8; limits::MAX_TX_BYTES + 1]);
    assert!(matches!(
        SignedTransaction::decode(raw),
        Err(Refusal::Oversize { .. })
    ));
}

#[test]
fn unknown_action_tag_is_refused() {
    let signed = transfer(1, 0, 5);
    let mut raw = signed.raw().to_vec();
    // chain_id(8) + sender(32) + nonce(8) + max_fee(16) precede the action tag.
    raw[64] = 0xEE;
    assert!(matches!(
        SignedTransaction::decode(Bytes::from(raw)),
        Err(Refusal::Malformed(_))
    ));
}

#[test]
fn tampered_body_fails_signature() {
    let signed = transfer(1, 0, 5);
    let mut raw = signed.raw().to_vec();
    raw[50] ^= 1; // inside the nonce
    let tampered = SignedTransaction::decode(Bytes::from(raw)).unwrap();
    assert!(!tampered.verify_signature());
    assert_eq!(
        lakh_types::tx::verify_signatures(&[signed.clone(), tampered, signed]),
        vec![1]
    );
}

#[test]
fn chain_id_is_part_of_the_signed_bytes() {
    let a = transfer(1, 0, 5);
    let mut other = a.tx.clone();
    other.chain_id += 1;
    let resigned = other.sign(&key(1));
    assert_ne!(a.id(), resigned.id());
    assert_ne!(a.signature, resigned.signature);
}

#[test]
fn multi_transfer_entry_limit_is_enforced() {
    let k = key(3);
    let entries = vec![
        TransferEntry {
            to: Address([1; 32]),
            asset: AssetId::NATIVE,
            amount: 1
        };
        limits::MAX_MULTI_TRANSFER_ENTRIES + 1
    ];
    let signed = Transaction {
        chain_id: 1,
        sender: k.public_key().into(),
        nonce: 0,
        max_fee: 1,
        action: Action::MultiTransfer { entries },
    }
    .sign(&k);
    assert!(SignedTransaction::decode(signed.raw().clone()).is_err());
}

#[test]
fn receipts_round_trip() {
    let r = Receipt {
        tx_id: TxId([3; 32]),
        sender: Address([4; 32]),
        nonce: 9,
        height: 12,
        index: 3,
        fee_paid: 1000,
        status: TxStatus::Failed {
            error: FailureReason::InsufficientBalance {
                asset: AssetId(5),
                needed: 10,
                available: 2,
            },
        },
        events: vec![Event::Minted {
            asset: AssetId(5),
            to: Address([1; 32]),
            amount: u128::MAX,
        }],
    };
    let bytes = r.encode();
    assert_eq!(Receipt::decode_cfg(bytes.clone(), &()).unwrap(), r);
    let mut extra = bytes.to_vec();
    extra.push(1);
    assert!(Receipt::decode_cfg(Bytes::from(extra), &()).is_err());
    let json = serde_json::to_string(&r).unwrap();
    assert!(
        json.contains("\"340282366920938463463374607431768211455\""),
        "{json}"
    );
}

/// The index lists a receipt's accounts into a reused buffer; it must give
/// what `accounts` gives: the sender and every named account, sorted, once.
#[test]
fn a_receipts_accounts_are_sorted_once_whatever_the_buffer_held() {
    let a = |n: u8| Address([n; 32]);
    let transfer = |from: u8, to: u8| Event::Transfer {
        asset: AssetId::NATIVE,
        from: a(from),
        to: a(to),
        amount: 1,
    };
    let r = Receipt {
        tx_id: TxId([3; 32]),
        sender: a(4),
        nonce: 0,
        height: 1,
        index: 0,
        fee_paid: 0,
        status: TxStatus::Success,
        events: vec![
            transfer(4, 9),
            Event::Minted {
                asset: AssetId(5),
                to: a(1),
                amount: 2,
            },
            transfer(9, 4),
        ],
    };
    let mut buffer = vec![a(7), a(8)];
    r.accounts_into(&mut buffer);
    assert_eq!(buffer, vec![a(1), a(4), a(9)]);
    assert_eq!(r.accounts(), buffer);
}

#[test]
fn symbols_are_validated() {
    assert!(Symbol::new("USDC").is_ok());
    assert!(Symbol::new("usdc").is_err());
    assert!(Symbol::new("").is_err());
    assert!(Symbol::new("ABCDEFGHIJKLM").is_err());
}

#[test]
fn long_multibyte_failure_detail_still_round_trips() {
    let detail = "é".repeat(300); // 600 bytes, clipped on a character boundary
    let r = Receipt {
        tx_id: TxId([1; 32]),
        sender: Address([2; 32]),
        nonce: 0,
        height: 1,
        index: 0,
        fee_paid: 0,
        status: TxStatus::Failed {
            error: FailureReason::Invalid { detail },
        },
        events: vec![],
    };
    let decoded = Receipt::decode_cfg(r.encode(), &()).unwrap();
    match decoded.status {
        TxStatus::Failed {
            error: FailureReason::Invalid { detail },
        } => {
            assert!(detail.len() <= 256 && detail.chars().all(|c| c == 'é'));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn refusals_serialize_to_json() {
    for r in [
        Refusal::Malformed("x".into()),
        Refusal::BadSignature,
        Refusal::Busy("full".into()),
    ] {
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains(&format!("\"{}\"", r.code())), "{json}");
    }
}
