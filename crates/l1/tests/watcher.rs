//! The L1 watcher answers only finalized deposits: one reorged away before
//! finality is never reported (anvil: finalized = latest - 64).
#![allow(clippy::unwrap_used)]

mod common;

use alloy::primitives::U256;
use alloy::providers::Provider;
use common::*;
use lakh_l1::watcher::L1Watcher;
use lakh_types::committee::FixedBytes;
use lakh_types::modules::bridge::{Keccak, L1View};

#[tokio::test]
async fn the_watcher_never_reports_a_deposit_reorged_away_before_finality() {
    let env = Env::new(4).await;
    let bridge = env.bridge();
    let watcher = L1Watcher::new(env.provider.clone(), env.deployment.bridge, 0);
    let deposit = |amount: u64| {
        let call = bridge.depositEth(b256([5; 32])).value(U256::from(amount));
        async move { call.send().await.unwrap().get_receipt().await.unwrap() }
    };

    deposit(100).await;
    watcher.poll().await.unwrap();
    assert!(
        watcher.finalized_deposits(1, 10).is_empty(),
        "not final yet"
    );
    env.mine(64).await;
    watcher.poll().await.unwrap();
    let seen = watcher.finalized_deposits(1, 10);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].amount, 100);

    // Deposit 2 is mined, then its block is reorged away before finality.
    let doomed = deposit(200).await;
    watcher.poll().await.unwrap();
    let _: serde_json::Value = env
        .provider
        .raw_request(
            "anvil_reorg".into(),
            (2u64, Vec::<serde_json::Value>::new()),
        )
        .await
        .unwrap();
    assert!(
        env.provider
            .get_transaction_receipt(doomed.transaction_hash)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(bridge.depositCount().call().await.unwrap(), 1);
    deposit(300).await;
    env.mine(70).await;
    watcher.poll().await.unwrap();
    let seen = watcher.finalized_deposits(1, 10);
    assert_eq!(
        seen.iter().map(|d| d.amount).collect::<Vec<_>>(),
        vec![100, 300]
    );
    assert_eq!(seen[1].count, 2);
    let mut hash: Keccak = FixedBytes([0; 32]);
    for d in &seen {
        hash = d.chain(&hash);
    }
    assert_eq!(hash.0, bridge.depositHash().call().await.unwrap().0);
    assert_eq!(watcher.finalized_deposits(2, 10).len(), 1);
    assert_eq!(watcher.finalized_deposits(1, 1).len(), 1);
    assert!(watcher.finalized_deposits(3, 10).is_empty());
    env.check_escrow(&[]).await;
}
