//! A real `lakh_consensus::block::Header`, encoded by lakh's own code,
//! certified by a committee with lakh's key derivation, posted on anvil.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use commonware_consensus::simplex::types::Context;
use commonware_consensus::types::{Epoch, Height, Round, View};
use commonware_cryptography::{Hasher, Sha256, Signer};
use commonware_storage::merkle::Location;
use commonware_utils::range::NonEmptyRange;
use lakh_consensus::block::{Header, carried_root, header_core, header_digest};
use lakh_l1::relay::{CertifiedHeader, post_checkpoint};
use lakh_types::committee::FixedBytes;
use lakh_types::modules::bridge::{BridgeCommitment, ETHER, L1Deposit};

fn header(committee: &TestCommittee, next: &TestCommittee) -> Header {
    Header {
        context: Context {
            round: Round::new(Epoch::new(0), View::new(41)),
            leader: committee.validators[1].identity.public_key(),
            parent: (View::new(40), Sha256::hash(&[b"parent"])),
        },
        parent: Sha256::hash(&[b"parent"]),
        height: Height::new(EPOCH_BLOCKS - 1),
        timestamp_ms: 1_764_000_000_123,
        base_fee: 1_000_000_007,
        used_units: 4_200,
        first_tx_seq: 77_777,
        state_root: Sha256::hash(&[b"state"]),
        ops_root: Sha256::hash(&[b"ops"]),
        ops_range: NonEmptyRange::new(Location::new(300)..Location::new(1 << 40)).unwrap(),
        bridge: BridgeCommitment {
            chain_id: LAKH_CHAIN_ID,
            withdrawal_root: FixedBytes([0x21; 32]),
            withdrawal_count: 2,
            deposit_count: 1,
            deposit_hash: FixedBytes([0x22; 32]),
        },
        next_committee: Some(next.as_committee()),
        finalizations: Vec::new(),
        evidence: Vec::new(),
        deposits: vec![L1Deposit {
            count: 1,
            token: ETHER,
            l1_sender: FixedBytes([3; 20]),
            recipient: lakh_types::Address([4; 32]),
            amount: 5,
        }],
    }
}

#[tokio::test]
async fn a_real_lakh_header_parses_verifies_and_rotates_the_committee() {
    let env = Env::new(4).await;
    let next = TestCommittee::new(1, 30..34);
    let h = header(&env.committee, &next);
    let tx_root = Sha256::hash(&[b"txs"]);
    let digest = header_digest(&h, &tx_root);
    let proposal = commonware_consensus::simplex::types::Proposal::new(
        h.context.round,
        h.context.parent.0,
        digest,
    );
    let certified = CertifiedHeader {
        core: header_core(&h),
        carried_root: carried_root(&h).as_ref().try_into().unwrap(),
        tx_root: tx_root.as_ref().try_into().unwrap(),
        finalization: env.committee.finalize(&proposal, &[0, 2, 3]),
    };
    assert_eq!(certified.digest(), <[u8; 32]>::from(digest));

    let parsed = env
        .light_client()
        .parse(certified.core.clone().into())
        .call()
        .await
        .unwrap();
    assert_eq!((parsed.epoch, parsed.height), (0, EPOCH_BLOCKS - 1));
    assert_eq!(parsed.depositCount, 1);
    assert_eq!(parsed.depositHash.0, [0x22; 32]);
    assert_eq!(parsed.nextEpoch, 1);

    // The carried part is covered by the digest: another carried root fails.
    let mut other_carried = certified.clone();
    other_carried.carried_root = [0; 32];
    let err = post_checkpoint(
        &env.provider,
        env.deployment.light_client,
        &other_carried,
        &env.committee.keys(),
        &next.keys(),
    )
    .await
    .unwrap_err();
    assert!(format!("{err:#}").contains("BadSignature"), "{err:#}");

    let posted = post_checkpoint(
        &env.provider,
        env.deployment.light_client,
        &certified,
        &env.committee.keys(),
        &next.keys(),
    )
    .await
    .unwrap();
    assert_eq!(posted.digest.0, <[u8; 32]>::from(digest));
    let stored = env
        .light_client()
        .header(posted.digest)
        .call()
        .await
        .unwrap();
    assert_eq!(stored.withdrawalRoot.0, [0x21; 32]);
    assert_eq!(env.light_client().latestEpoch().call().await.unwrap(), 1);
}
