//! The light client on a real anvil against real commonware certificates.
#![allow(clippy::unwrap_used)]

mod common;

use alloy::primitives::Bytes;
use common::*;
use lakh_l1::relay::{post_checkpoint, submit_call};
use lakh_l1::{bls, contracts::revert_reason};
use lakh_types::committee::FixedBytes;
use lakh_types::modules::bridge::BridgeCommitment;

fn commitment(chain_id: u64) -> BridgeCommitment {
    BridgeCommitment {
        chain_id,
        withdrawal_root: FixedBytes([0x11; 32]),
        withdrawal_count: 3,
        deposit_count: 0,
        deposit_hash: FixedBytes([0; 32]),
    }
}

/// Submits and returns the contract's reason for refusing, or panics.
async fn refused(
    env: &Env,
    header: &lakh_l1::relay::CertifiedHeader,
    next: &[lakh_types::consensus_key::ConsensusPublicKey],
) -> String {
    let call = submit_call(
        &env.provider,
        env.deployment.light_client,
        header,
        &env.committee.keys(),
        next,
    )
    .unwrap();
    let err = call.call().await.expect_err("the light client accepted it");
    revert_reason(&err).unwrap_or_else(|| format!("no custom error: {err}"))
}

#[tokio::test]
async fn a_quorum_certificate_verifies_and_the_header_is_stored() {
    let env = Env::new(4).await;
    let core = Core::new(5, commitment(LAKH_CHAIN_ID));
    let posted = env.post(&core, &[0, 1, 2]).await.unwrap();
    println!("gas: submit n=4 quorum 3: {}", posted.gas_used);
    let stored = env
        .light_client()
        .header(posted.digest)
        .call()
        .await
        .unwrap();
    assert_eq!(stored.height, 5);
    assert_eq!(stored.epoch, 0);
    assert_eq!(stored.withdrawalRoot.0, [0x11; 32]);
    assert_eq!(stored.withdrawalCount, 3);
    assert!(stored.postedAt > 0);
    assert_eq!(
        env.light_client().digestAtHeight(5).call().await.unwrap(),
        posted.digest
    );
    // All four signing works as well; the same header twice does not.
    let all = env
        .post(&Core::new(6, commitment(LAKH_CHAIN_ID)), &[0, 1, 2, 3])
        .await
        .unwrap();
    println!("gas: submit n=4 all 4 signing: {}", all.gas_used);
    let again = certify(&core, &env.committee, &[0, 1, 2]);
    assert!(
        refused(&env, &again, &[])
            .await
            .starts_with("AlreadyPosted")
    );
}

#[tokio::test]
async fn below_quorum_bad_bitmaps_and_other_subjects_are_refused() {
    let env = Env::new(4).await;
    let core = Core::new(5, commitment(LAKH_CHAIN_ID));
    let below = certify(&core, &env.committee, &[0, 1]);
    assert!(refused(&env, &below, &[]).await.starts_with("BelowQuorum"));

    let good = certify(&core, &env.committee, &[0, 1, 2]);
    let (_, signature) = bls::certificate(&good.finalization, 4).unwrap();
    let lc = env.light_client();
    let keys = Bytes::from(bls::keys_uncompressed(&env.committee.keys()).unwrap());
    let submit = |bitmap: Vec<u8>| {
        lc.submit(
            Bytes::from(good.core.clone()),
            b256(good.carried_root),
            b256(good.tx_root),
            Bytes::from(bitmap),
            Bytes::from(signature.to_vec()),
            keys.clone(),
            Bytes::new(),
        )
    };
    let reason = |e: alloy::contract::Error| revert_reason(&e).unwrap();
    // A bitmap of the wrong length, with bits past n, or naming another signer.
    assert!(
        reason(submit(vec![0b0111, 0]).call().await.unwrap_err()).starts_with("BadBitmapLength")
    );
    assert!(reason(submit(vec![]).call().await.unwrap_err()).starts_with("BadBitmapLength"));
    assert!(
        reason(submit(vec![0b1_0111]).call().await.unwrap_err()).starts_with("BitmapTrailingBits")
    );
    assert!(reason(submit(vec![0b1011]).call().await.unwrap_err()).starts_with("BadSignature"));
    submit(vec![0b0111]).call().await.unwrap();

    // Notarize and nullify votes of the same proposal are not a finalization.
    let mut notarized = good.clone();
    notarized.finalization = env
        .committee
        .notarize(&core.proposal(good.digest()), &[0, 1, 2]);
    assert!(
        refused(&env, &notarized, &[])
            .await
            .starts_with("BadSignature")
    );
    let mut nullified = good.clone();
    nullified.finalization = env
        .committee
        .nullify(&core.proposal(good.digest()), &[0, 1, 2]);
    assert!(
        refused(&env, &nullified, &[])
            .await
            .starts_with("BadSignature")
    );
    // A certificate of another view of the same header.
    let mut other_view = good.clone();
    let mut moved = core.clone();
    moved.view += 1;
    other_view.finalization = env
        .committee
        .finalize(&moved.proposal(good.digest()), &[0, 1, 2]);
    assert!(
        refused(&env, &other_view, &[])
            .await
            .starts_with("BadSignature")
    );
}

#[tokio::test]
async fn wrong_chain_epoch_height_and_committee_are_refused() {
    let env = Env::new(4).await;
    let other_chain = certify(
        &Core::new(5, commitment(LAKH_CHAIN_ID + 1)),
        &env.committee,
        &[0, 1, 2],
    );
    assert!(
        refused(&env, &other_chain, &[])
            .await
            .starts_with("WrongChain")
    );
    let later_epoch = certify(
        &Core::new(15, commitment(LAKH_CHAIN_ID)),
        &env.committee,
        &[0, 1, 2],
    );
    assert!(
        refused(&env, &later_epoch, &[])
            .await
            .starts_with("UnknownEpoch")
    );
    let mut misplaced = Core::new(15, commitment(LAKH_CHAIN_ID));
    misplaced.epoch = 0;
    let misplaced = certify(&misplaced, &env.committee, &[0, 1, 2]);
    assert!(
        refused(&env, &misplaced, &[])
            .await
            .starts_with("WrongEpochForHeight")
    );

    // Another committee's keys, even a quorum of them signing.
    let strangers = TestCommittee::new(0, 50..54);
    let header = certify(
        &Core::new(5, commitment(LAKH_CHAIN_ID)),
        &strangers,
        &[0, 1, 2],
    );
    let call = submit_call(
        &env.provider,
        env.deployment.light_client,
        &header,
        &strangers.keys(),
        &[],
    )
    .unwrap();
    assert!(
        revert_reason(&call.call().await.unwrap_err())
            .unwrap()
            .starts_with("CommitteeMismatch")
    );
    assert!(
        refused(&env, &header, &[])
            .await
            .starts_with("BadSignature")
    );
}

#[tokio::test]
async fn malformed_cores_are_refused_and_good_ones_parse_as_rust_encodes_them() {
    let env = Env::new(4).await;
    let lc = env.light_client();
    let mut core = Core::new(300, commitment(LAKH_CHAIN_ID));
    core.epoch = 30;
    core.view = 1 << 40;
    core.next_committee = Some(TestCommittee::new(31, 10..13).as_committee());
    let bytes = core.encode();
    let parsed = lc.parse(Bytes::from(bytes.clone())).call().await.unwrap();
    assert_eq!((parsed.epoch, parsed.height), (30, 300));
    assert_eq!(parsed.bridgeChainId, LAKH_CHAIN_ID);
    assert_eq!(parsed.withdrawalCount, 3);
    assert!(parsed.hasNextCommittee);
    assert_eq!(parsed.nextEpoch, 31);
    assert_eq!(parsed.nextKeyOffsets.len(), 3);

    let parse = |b: Vec<u8>| {
        let lc = lc.clone();
        async move { revert_reason(&lc.parse(Bytes::from(b)).call().await.unwrap_err()).unwrap() }
    };
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(parse(trailing).await.starts_with("TrailingBytes"));
    assert!(
        parse(bytes[..bytes.len() - 1].to_vec())
            .await
            .starts_with("Truncated")
    );
    assert!(parse(vec![]).await.starts_with("Truncated"));
    // Epoch 30 as two bytes (0x9e 0x00): the codec refuses overlong varints.
    let mut overlong = vec![0x9e, 0x00];
    overlong.extend_from_slice(&bytes[1..]);
    assert!(parse(overlong).await.starts_with("NonCanonicalVarint"));
    let mut too_wide = vec![0xff; 9];
    too_wide.push(0x02);
    assert!(parse(too_wide).await.starts_with("NonCanonicalVarint"));
    let mut no_committee = Core::new(5, commitment(LAKH_CHAIN_ID)).encode();
    *no_committee.last_mut().unwrap() = 2;
    assert!(parse(no_committee).await.starts_with("InvalidBool"));
}

#[tokio::test]
async fn a_genesis_key_without_its_proof_of_possession_is_refused() {
    let anvil = lakh_l1::anvil::Anvil::spawn().await.unwrap();
    let provider = anvil.provider(0).unwrap();
    let committee = TestCommittee::new(0, 1..5);
    let mut members = committee.genesis_members();
    members[2].pop = members[1].pop;
    let guardian = alloy::primitives::Address::ZERO;
    let err = lakh_l1::deploy(&provider, &params(guardian), &members)
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("InvalidProofOfPossession"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_precompile_starved_of_gas_reverts_and_never_passes() {
    let env = Env::new(4).await;
    let header = certify(
        &Core::new(5, commitment(LAKH_CHAIN_ID)),
        &env.committee,
        &[0, 1, 2],
    );
    let call = submit_call(
        &env.provider,
        env.deployment.light_client,
        &header,
        &env.committee.keys(),
        &[],
    )
    .unwrap();
    let estimate = call.estimate_gas().await.unwrap();
    for short in [1, 2_000, 20_000, 60_000, 110_000, 160_000, 230_000] {
        let receipt = call
            .clone()
            .gas(estimate - short)
            .send()
            .await
            .unwrap()
            .get_receipt()
            .await
            .unwrap();
        assert!(!receipt.status(), "passed with {short} gas short");
    }
    let stored = env
        .light_client()
        .header(b256(header.digest()))
        .call()
        .await
        .unwrap();
    assert_eq!(stored.postedAt, 0);
    post_checkpoint(
        &env.provider,
        env.deployment.light_client,
        &header,
        &env.committee.keys(),
        &[],
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_previous_committee_rotates_in_the_next() {
    let env = Env::new(4).await;
    let next = TestCommittee::new(1, 20..25);
    let mut boundary = Core::new(EPOCH_BLOCKS - 1, commitment(LAKH_CHAIN_ID));
    boundary.next_committee = Some(next.as_committee());
    let header = certify(&boundary, &env.committee, &[0, 1, 3]);
    let posted = post_checkpoint(
        &env.provider,
        env.deployment.light_client,
        &header,
        &env.committee.keys(),
        &next.keys(),
    )
    .await
    .unwrap();
    println!("gas: rotation n=4 -> n=5: {}", posted.gas_used);
    let lc = env.light_client();
    assert_eq!(
        lc.committeeSize(1).call().await.unwrap(),
        alloy::primitives::U256::from(5)
    );
    assert_eq!(lc.latestEpoch().call().await.unwrap(), 1);

    // Epoch 1's committee certifies epoch 1's headers; the old one no longer does.
    let in_epoch_one = certify(
        &Core::new(EPOCH_BLOCKS + 3, commitment(LAKH_CHAIN_ID)),
        &next,
        &[0, 1, 2, 4],
    );
    post_checkpoint(
        &env.provider,
        env.deployment.light_client,
        &in_epoch_one,
        &next.keys(),
        &[],
    )
    .await
    .unwrap();
    let by_old = certify(
        &Core::new(EPOCH_BLOCKS + 4, commitment(LAKH_CHAIN_ID)),
        &env.committee,
        &[0, 1, 2],
    );
    let err = post_checkpoint(
        &env.provider,
        env.deployment.light_client,
        &by_old,
        &env.committee.keys(),
        &[],
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("CommitteeMismatch"), "{err:#}");
}

#[tokio::test]
async fn rotation_by_a_minority_skipping_an_epoch_or_with_other_keys_is_refused() {
    let env = Env::new(4).await;
    let next = TestCommittee::new(1, 20..25);
    let mut boundary = Core::new(EPOCH_BLOCKS - 1, commitment(LAKH_CHAIN_ID));
    boundary.next_committee = Some(next.as_committee());

    let minority = certify(&boundary, &env.committee, &[0, 1]);
    assert!(
        refused(&env, &minority, &next.keys())
            .await
            .starts_with("BelowQuorum")
    );
    let good = certify(&boundary, &env.committee, &[0, 1, 2]);
    let strangers = TestCommittee::new(1, 40..45);
    assert!(
        refused(&env, &good, &strangers.keys())
            .await
            .starts_with("KeyMismatch")
    );
    assert!(
        refused(&env, &good, &next.keys()[..4])
            .await
            .starts_with("BadKeyEncoding")
    );

    let mut skipping = boundary.clone();
    skipping.next_committee = Some(TestCommittee::new(2, 20..25).as_committee());
    let skipping = certify(&skipping, &env.committee, &[0, 1, 2]);
    assert!(
        refused(&env, &skipping, &next.keys())
            .await
            .starts_with("SkippedEpoch")
    );

    let mut early = Core::new(EPOCH_BLOCKS - 2, commitment(LAKH_CHAIN_ID));
    early.next_committee = Some(next.as_committee());
    let early = certify(&early, &env.committee, &[0, 1, 2]);
    assert!(
        refused(&env, &early, &next.keys())
            .await
            .starts_with("NotEpochEnd")
    );

    // With no epoch 1 committee, an epoch 2 header has nothing to verify against.
    let epoch_two = certify(
        &Core::new(2 * EPOCH_BLOCKS, commitment(LAKH_CHAIN_ID)),
        &next,
        &[0, 1, 2, 3],
    );
    assert!(
        refused(&env, &epoch_two, &[])
            .await
            .starts_with("UnknownEpoch")
    );
    assert_eq!(
        env.light_client().committeeSize(1).call().await.unwrap(),
        alloy::primitives::U256::ZERO
    );
}

#[tokio::test]
async fn two_certified_headers_at_one_height_freeze_the_bridge() {
    let env = Env::new(4).await;
    let first = Core::new(5, commitment(LAKH_CHAIN_ID));
    let mut second = first.clone();
    second.state_root = [0x99; 32];
    env.post(&first, &[0, 1, 2]).await.unwrap();
    assert!(!env.bridge().frozen().call().await.unwrap());
    env.post(&second, &[1, 2, 3]).await.unwrap();
    assert!(env.light_client().equivocated().call().await.unwrap());
    assert!(env.bridge().frozen().call().await.unwrap());
    let err = env
        .bridge()
        .depositEth(b256([1; 32]))
        .value(alloy::primitives::U256::from(5))
        .call()
        .await
        .unwrap_err();
    assert!(revert_reason(&err).unwrap().starts_with("Frozen"));
}
