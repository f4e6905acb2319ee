//! The bridge on a real anvil: deposits chain Rust's hash, withdrawals
//! proven with Rust's tree pay once after the window, fraud freezes.
#![allow(clippy::unwrap_used)]

mod common;

use alloy::primitives::{Address as L1Addr, U256};
use alloy::providers::Provider;
use common::*;
use lakh_l1::contracts::{TestToken, revert_reason};
use lakh_types::committee::FixedBytes;
use lakh_types::modules::bridge::{
    BridgeCommitment, ETHER, Keccak, L1Deposit, WithdrawalLeaf, node_hash,
};

const RECIPIENT: [u8; 32] = [0x42; 32];

/// The custom error a refused call reverted with.
fn refused<T>(result: Result<T, alloy::contract::Error>) -> String {
    match result {
        Ok(_) => panic!("the contract accepted it"),
        Err(e) => revert_reason(&e).unwrap_or_else(|| format!("no custom error: {e}")),
    }
}

async fn deploy_token(env: &Env, fee_bps: u64) -> L1Addr {
    let token = TestToken::deploy(&env.provider, U256::from(fee_bps))
        .await
        .unwrap();
    let me = env.provider.get_accounts().await.unwrap()[0];
    token
        .mint(me, U256::from(1_000_000u64))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    token
        .approve(env.deployment.bridge, U256::MAX)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    env.bridge()
        .setTokenAllowed(*token.address(), true)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    *token.address()
}

fn l1(address: L1Addr) -> FixedBytes<20> {
    FixedBytes(address.into_array())
}

async fn ether_deposit(env: &Env, amount: u64) -> u64 {
    let receipt = env
        .bridge()
        .depositEth(b256(RECIPIENT))
        .value(U256::from(amount))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    receipt.gas_used
}

#[tokio::test]
async fn ether_token_and_fee_on_transfer_deposits_chain_rust_s_running_hash() {
    let env = Env::new(4).await;
    let token = deploy_token(&env, 0).await;
    let fee_token = deploy_token(&env, 100).await;
    let me = env.provider.get_accounts().await.unwrap()[0];
    let bridge = env.bridge();

    let gas_eth = ether_deposit(&env, 1_000).await;
    let r = bridge
        .deposit(token, U256::from(5_000u64), b256(RECIPIENT))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let gas_token = r.gas_used;
    bridge
        .deposit(fee_token, U256::from(10_000u64), b256(RECIPIENT))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    println!("gas: depositEth (first) {gas_eth}, ERC-20 deposit (first of its token) {gas_token}");
    let gas_eth_second = ether_deposit(&env, 7).await;
    println!("gas: depositEth (later) {gas_eth_second}");

    let expected = [
        (ETHER, 1_000u128),
        (l1(token), 5_000),
        (l1(fee_token), 9_900), // 1% burned in transfer: credited what arrived
        (ETHER, 7),
    ];
    let mut hash: Keccak = FixedBytes([0; 32]);
    for (i, (token, amount)) in expected.iter().enumerate() {
        let count = i as u64 + 1;
        hash = L1Deposit {
            count,
            token: *token,
            l1_sender: l1(me),
            recipient: lakh_types::Address(RECIPIENT),
            amount: *amount,
        }
        .chain(&hash);
        assert_eq!(bridge.depositHashAt(count).call().await.unwrap().0, hash.0);
    }
    assert_eq!(bridge.depositHash().call().await.unwrap().0, hash.0);
    assert_eq!(bridge.depositCount().call().await.unwrap(), 4);

    // Refusals: no token allowlisted, nothing sent, ether with a token call.
    let stranger = TestToken::deploy(&env.provider, U256::ZERO).await.unwrap();
    assert!(
        refused(
            bridge
                .deposit(*stranger.address(), U256::from(1), b256(RECIPIENT))
                .call()
                .await
        )
        .starts_with("TokenNotAllowed")
    );
    assert!(refused(bridge.depositEth(b256(RECIPIENT)).call().await).starts_with("ZeroAmount"));
    assert!(
        refused(
            bridge
                .deposit(token, U256::from(1), b256(RECIPIENT))
                .value(U256::from(1))
                .call()
                .await
        )
        .starts_with("EtherWithToken")
    );
    env.check_escrow(&[token, fee_token]).await;
}

/// Three withdrawals in Rust's tree, the header committing to them posted.
struct Posted {
    leaves: Vec<WithdrawalLeaf>,
    proofs: Vec<[Keccak; 32]>,
    digest: alloy::primitives::B256,
    posted_at: u64,
}

async fn post_withdrawals(
    env: &Env,
    height: u64,
    leaves: Vec<WithdrawalLeaf>,
    deposit_count: u64,
    deposit_hash: Keccak,
) -> Posted {
    let hashes: Vec<Keccak> = leaves.iter().map(|l| l.hash()).collect();
    let (root, proofs) = withdrawal_tree(&hashes);
    let core = Core::new(
        height,
        BridgeCommitment {
            chain_id: LAKH_CHAIN_ID,
            withdrawal_root: root,
            withdrawal_count: leaves.len() as u64,
            deposit_count,
            deposit_hash,
        },
    );
    let posted = env.post(&core, &[0, 1, 2]).await.unwrap();
    let posted_at = env
        .light_client()
        .header(posted.digest)
        .call()
        .await
        .unwrap()
        .postedAt;
    Posted {
        leaves,
        proofs,
        digest: posted.digest,
        posted_at,
    }
}

async fn withdrawals(env: &Env, recipient: L1Addr, token: L1Addr) -> Vec<WithdrawalLeaf> {
    let l1_chain_id = env.provider.get_chain_id().await.unwrap();
    (0..3)
        .map(|i| WithdrawalLeaf {
            lakh_chain_id: LAKH_CHAIN_ID,
            l1_chain_id,
            bridge: l1(env.deployment.bridge),
            index: i,
            lakh_sender: lakh_types::Address([i as u8 + 1; 32]),
            l1_recipient: l1(recipient),
            token: l1(token),
            amount: 100 + u128::from(i),
        })
        .collect()
}

#[tokio::test]
async fn a_withdrawal_pays_only_after_the_window_and_only_once() {
    let env = Env::new(4).await;
    ether_deposit(&env, 10_000).await;
    let recipient = L1Addr::repeat_byte(0x77);
    let p = post_withdrawals(
        &env,
        5,
        withdrawals(&env, recipient, L1Addr::ZERO).await,
        0,
        FixedBytes([0; 32]),
    )
    .await;
    let bridge = env.bridge();
    let finalize = |i: usize| {
        bridge.finalizeWithdrawal(leaf_struct(&p.leaves[i]), siblings(&p.proofs[i]), p.digest)
    };

    // One second before the window ends it reverts; at its end it pays.
    // Explicit gas limits, so each transaction lands in the block whose
    // timestamp was set rather than being estimated against another.
    env.mine_at(p.posted_at + CHALLENGE_SECONDS - 2).await;
    assert!(refused(finalize(1).call().await).starts_with("ChallengeWindowOpen"));
    env.set_next_timestamp(p.posted_at + CHALLENGE_SECONDS - 1)
        .await;
    let early = finalize(1)
        .gas(300_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!early.status());
    env.set_next_timestamp(p.posted_at + CHALLENGE_SECONDS)
        .await;
    let receipt = finalize(1)
        .gas(300_000)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(receipt.status());
    println!(
        "gas: finalizeWithdrawal (ether, first spent word) {}",
        receipt.gas_used
    );
    assert_eq!(
        env.provider.get_balance(recipient).await.unwrap(),
        U256::from(101)
    );
    assert!(refused(finalize(1).call().await).starts_with("AlreadyWithdrawn"));
    let receipt = finalize(0)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    println!(
        "gas: finalizeWithdrawal (ether, later) {}",
        receipt.gas_used
    );
    assert_eq!(
        env.provider.get_balance(recipient).await.unwrap(),
        U256::from(201)
    );
    env.check_escrow(&[]).await;
}

#[tokio::test]
async fn hostile_withdrawals_are_refused() {
    let env = Env::new(4).await;
    let token = deploy_token(&env, 0).await;
    env.bridge()
        .deposit(token, U256::from(50_000u64), b256(RECIPIENT))
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let recipient = L1Addr::repeat_byte(0x78);
    let mut leaves = withdrawals(&env, recipient, token).await;
    // A leaf made for another lakh chain, another L1 chain, another bridge.
    leaves[0].lakh_chain_id = LAKH_CHAIN_ID + 1;
    leaves[1].l1_chain_id += 1;
    leaves[2].bridge = FixedBytes([0x55; 20]);
    let p = post_withdrawals(
        &env,
        5,
        leaves,
        1,
        FixedBytes(env.bridge().depositHash().call().await.unwrap().0),
    )
    .await;
    env.mine_at(p.posted_at + CHALLENGE_SECONDS).await;
    let bridge = env.bridge();
    let try_pay = |leaf: &WithdrawalLeaf, proof: &[Keccak; 32], digest| {
        let call = bridge.finalizeWithdrawal(leaf_struct(leaf), siblings(proof), digest);
        async move { refused(call.call().await) }
    };
    assert!(
        try_pay(&p.leaves[0], &p.proofs[0], p.digest)
            .await
            .starts_with("WrongLakhChain")
    );
    assert!(
        try_pay(&p.leaves[1], &p.proofs[1], p.digest)
            .await
            .starts_with("WrongL1Chain")
    );
    assert!(
        try_pay(&p.leaves[2], &p.proofs[2], p.digest)
            .await
            .starts_with("WrongBridge")
    );

    // A well-formed leaf, against a root nobody posted, or not in the root.
    let honest = withdrawals(&env, recipient, token).await;
    let hashes: Vec<Keccak> = honest.iter().map(|l| l.hash()).collect();
    let (_, proofs) = withdrawal_tree(&hashes);
    assert!(
        try_pay(&honest[0], &proofs[0], b256([9; 32]))
            .await
            .starts_with("HeaderNotPosted")
    );
    assert!(
        try_pay(&honest[0], &proofs[0], p.digest)
            .await
            .starts_with("BadProof")
    );
    let mut beyond = honest[0].clone();
    beyond.index = 3;
    assert!(
        try_pay(&beyond, &proofs[0], p.digest)
            .await
            .starts_with("IndexNotCovered")
    );

    // Leaf/node confusion: the posted root's level-1 node over leaves 0 and
    // 1, offered as the leaf at index 0 with the level-1 path, is no leaf.
    let node = node_hash(&p.leaves[0].hash(), &p.leaves[1].hash());
    let mut shifted = p.proofs[0];
    shifted.rotate_left(1);
    let root_via_node = bridge
        .rootOf(b256(node.0), 0, siblings(&shifted))
        .call()
        .await
        .unwrap();
    let stored = env.light_client().header(p.digest).call().await.unwrap();
    assert_ne!(root_via_node, stored.withdrawalRoot);
    // The contract hashes leaves and nodes exactly as Rust does, prefixes included.
    let leaf_hash = bridge
        .leafHash(leaf_struct(&honest[0]))
        .call()
        .await
        .unwrap();
    assert_eq!(leaf_hash.0, honest[0].hash().0);
    let mut one_level = [alloy::primitives::B256::ZERO; 32];
    one_level[0] = b256(hashes[1].0);
    let mut rust_root = node_hash(&hashes[0], &hashes[1]);
    let empty = lakh_types::modules::bridge::empty_subtree_roots();
    for (sibling, empty_root) in one_level.iter_mut().zip(empty).skip(1) {
        *sibling = b256(empty_root.0);
        rust_root = node_hash(&rust_root, empty_root);
    }
    let contract_root = bridge
        .rootOf(b256(hashes[0].0), 0, one_level)
        .call()
        .await
        .unwrap();
    assert_eq!(contract_root.0, rust_root.0);
    env.check_escrow(&[token]).await;
}

#[tokio::test]
async fn a_deposit_hash_mismatch_freezes_and_an_honest_header_is_no_fraud() {
    let env = Env::new(4).await;
    ether_deposit(&env, 500).await;
    let bridge = env.bridge();
    let l1_hash = FixedBytes(bridge.depositHash().call().await.unwrap().0);
    let honest = post_withdrawals(&env, 5, vec![], 1, l1_hash).await;
    assert!(
        refused(bridge.reportDepositMismatch(honest.digest).call().await).starts_with("NoFraud")
    );
    let invented = post_withdrawals(&env, 6, vec![], 2, l1_hash).await;
    bridge
        .reportDepositMismatch(invented.digest)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(bridge.frozen().call().await.unwrap());
    let env = Env::new(4).await;
    ether_deposit(&env, 500).await;
    let wrong = post_withdrawals(&env, 5, vec![], 1, FixedBytes([3; 32])).await;
    env.bridge()
        .reportDepositMismatch(wrong.digest)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(env.bridge().frozen().call().await.unwrap());
    env.check_escrow(&[]).await;
}

#[tokio::test]
async fn two_headers_disagreeing_on_a_withdrawal_leaf_freeze() {
    let env = Env::new(4).await;
    ether_deposit(&env, 5_000).await;
    let recipient = L1Addr::repeat_byte(0x79);
    let first = post_withdrawals(
        &env,
        5,
        withdrawals(&env, recipient, L1Addr::ZERO).await,
        0,
        FixedBytes([0; 32]),
    )
    .await;
    let mut rewritten = withdrawals(&env, recipient, L1Addr::ZERO).await;
    rewritten[1].amount = 4_000;
    let second = post_withdrawals(&env, 6, rewritten, 0, FixedBytes([0; 32])).await;
    let bridge = env.bridge();
    let (a, b) = (first.leaves[1].hash(), second.leaves[1].hash());
    let same = bridge.reportWithdrawalConflict(
        first.digest,
        second.digest,
        0,
        b256(first.leaves[0].hash().0),
        siblings(&first.proofs[0]),
        b256(second.leaves[0].hash().0),
        siblings(&second.proofs[0]),
    );
    assert!(refused(same.call().await).starts_with("NoFraud"));
    let report = bridge.reportWithdrawalConflict(
        first.digest,
        second.digest,
        1,
        b256(a.0),
        siblings(&first.proofs[1]),
        b256(b.0),
        siblings(&second.proofs[1]),
    );
    let receipt = report.send().await.unwrap().get_receipt().await.unwrap();
    println!("gas: reportWithdrawalConflict {}", receipt.gas_used);
    assert!(bridge.frozen().call().await.unwrap());
    env.mine_at(second.posted_at + CHALLENGE_SECONDS).await;
    let pay = bridge.finalizeWithdrawal(
        leaf_struct(&second.leaves[1]),
        siblings(&second.proofs[1]),
        second.digest,
    );
    assert!(refused(pay.call().await).starts_with("Frozen"));
    env.check_escrow(&[]).await;
}

#[tokio::test]
async fn an_uncovered_deposit_is_reclaimed_once_and_never_minted() {
    let env = Env::new(4).await;
    ether_deposit(&env, 300).await;
    ether_deposit(&env, 400).await;
    let bridge = env.bridge();
    let hash_one = FixedBytes(bridge.depositHashAt(1).call().await.unwrap().0);
    post_withdrawals(&env, 5, vec![], 1, hash_one).await;
    let deposited_at = bridge.deposits(2).call().await.unwrap().depositedAt;
    assert!(refused(bridge.reclaim(2).call().await).starts_with("ReclaimTooEarly"));
    env.mine_at(deposited_at + RECLAIM_SECONDS).await;
    assert!(refused(bridge.reclaim(1).call().await).starts_with("DepositCovered"));
    let other = env.anvil.provider(1).unwrap();
    let as_other = lakh_l1::contracts::LakhBridge::new(env.deployment.bridge, &other);
    assert!(refused(as_other.reclaim(2).call().await).starts_with("NotDepositor"));
    bridge
        .reclaim(2)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(refused(bridge.reclaim(2).call().await).starts_with("AlreadyReclaimed"));
    env.check_escrow(&[]).await;
    // A header that later applies it is fraud.
    let hash_two = FixedBytes(bridge.depositHashAt(2).call().await.unwrap().0);
    let late = post_withdrawals(&env, 6, vec![], 2, hash_two).await;
    bridge
        .reportDepositMismatch(late.digest)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(bridge.frozen().call().await.unwrap());
}

#[tokio::test]
async fn only_the_guardian_pauses_and_a_pause_stops_deposits_and_withdrawals() {
    let env = Env::new(4).await;
    let other = env.anvil.provider(1).unwrap();
    let as_other = lakh_l1::contracts::LakhBridge::new(env.deployment.bridge, &other);
    assert!(refused(as_other.setPaused(true).call().await).starts_with("NotGuardian"));
    env.bridge()
        .setPaused(true)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    let bridge = env.bridge();
    let deposit = bridge.depositEth(b256(RECIPIENT)).value(U256::from(1));
    assert!(refused(deposit.call().await).starts_with("Paused"));
    env.bridge()
        .setPaused(false)
        .send()
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    ether_deposit(&env, 1).await;
    env.check_escrow(&[]).await;
}
