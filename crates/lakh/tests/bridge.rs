//! End to end over real processes: `lakh devnet --l1` (its own anvil, a
//! watcher per validator, the relayer), ether deposited on L1 with the
//! wallet, minted on lakh only once L1 finalized it (and an ERC-20 the
//! same way), withdrawn on lakh,
//! refused on L1 inside the challenge window, paid after it, never twice;
//! escrow on L1 equals the wrapped supply plus what is in flight.
#![allow(clippy::unwrap_used)]

mod common;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address as L1Addr, U256};
use alloy::providers::Provider;
use common::{Devnet, free_port};
use std::time::{Duration, Instant};

const ONE_ETH: u128 = 1_000_000_000_000_000_000;

fn amount(v: &serde_json::Value) -> u128 {
    v.as_str()
        .map(|s| s.parse().unwrap())
        .unwrap_or_else(|| v.as_u64().unwrap().into())
}

/// The WETH line of `bridge status --json`'s escrow (L1 read).
fn weth_escrow(status: &serde_json::Value) -> (u128, u128, u128) {
    escrow_of(status, "WETH")
}

/// `symbol`'s line of `bridge status --json`'s escrow: escrow, supply, in flight.
fn escrow_of(status: &serde_json::Value, symbol: &str) -> (u128, u128, u128) {
    let line = status["l1"]["escrow"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["symbol"] == symbol)
        .unwrap()
        .clone();
    (
        amount(&line["escrow"]),
        amount(&line["supply"]),
        amount(&line["in_flight"]),
    )
}

fn weth_supply(status: &serde_json::Value) -> u128 {
    let token = status["lakh"]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["symbol"] == "WETH")
        .unwrap()
        .clone();
    amount(&token["supply"])
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn ether_crosses_to_lakh_after_l1_finality_and_back_once() {
    let dir = tempfile::tempdir().unwrap();
    let devnet = Devnet::start(dir.path(), 1, free_port(), &["--l1"]);
    let ready = devnet.ready.clone();
    assert_eq!(ready["l1_chain_id"], 31337, "ready line: {ready}");
    let l1_rpc = ready["l1_rpc"].as_str().unwrap().to_string();
    assert!(ready["bridge"].as_str().unwrap().starts_with("0x"));
    assert!(ready["light_client"].as_str().unwrap().starts_with("0x"));

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = lakh_l1::provider(&l1_rpc, lakh_l1::anvil::DEV_KEYS[0]).unwrap();
    let finalized = || {
        rt.block_on(async {
            provider
                .get_block_by_number(BlockNumberOrTag::Finalized)
                .await
        })
        .unwrap()
        .unwrap()
        .header
        .number
    };

    // Deposit 1.5 ETH for bob; nothing is minted before L1 finalizes it.
    let deposit = devnet.wallet_json(&["bridge", "deposit", "1.5", "--to", "bob"]);
    assert_eq!(deposit["count"], 1, "{deposit}");
    let deposit_block = deposit["l1_block"].as_u64().unwrap();
    let mut checked_before_finality = false;
    wait_for(
        "the deposit to be minted on lakh",
        Duration::from_secs(60),
        || {
            let status = devnet.wallet_json(&["bridge", "status", "--lakh-only"]);
            let supply = weth_supply(&status);
            let l1_finalized = finalized();
            if l1_finalized < deposit_block {
                // Read after the supply: L1 had not finalized the deposit then either.
                assert_eq!(
                    supply, 0,
                    "minted before L1 finalized block {deposit_block}"
                );
                checked_before_finality = true;
            }
            supply == 3 * ONE_ETH / 2
        },
    );
    assert!(
        checked_before_finality,
        "L1 finalized the deposit before the first look (finality too fast to observe)"
    );
    let bob = devnet.wallet_json(&["balance", "bob"]);
    let weth = bob["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["symbol"] == "WETH")
        .unwrap_or_else(|| panic!("bob's balances list no WETH: {bob}"));
    assert_eq!(amount(&weth["amount"]), 3 * ONE_ETH / 2);

    // An allowlisted ERC-20 crosses the same way: 250 TUSD for carol.
    let status = devnet.wallet_json(&["bridge", "status", "--lakh-only"]);
    let tusd = status["lakh"]["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["symbol"] == "TUSD")
        .unwrap_or_else(|| panic!("the devnet bridges no TUSD: {status}"))["token"]
        .as_str()
        .unwrap()
        .to_string();
    let deposit = devnet.wallet_json(&[
        "bridge", "deposit", "250", "--token", &tusd, "--to", "carol",
    ]);
    assert_eq!(deposit["count"], 2, "{deposit}");
    wait_for(
        "the token deposit to be minted on lakh",
        Duration::from_secs(60),
        || {
            let carol = devnet.wallet_json(&["balance", "carol"]);
            carol["balances"]
                .as_array()
                .unwrap()
                .iter()
                .any(|b| b["symbol"] == "TUSD" && amount(&b["amount"]) == 250 * ONE_ETH)
        },
    );
    let status = devnet.wallet_json(&["bridge", "status"]);
    assert_eq!(
        escrow_of(&status, "TUSD"),
        (250 * ONE_ETH, 250 * ONE_ETH, 0)
    );

    // Withdraw 0.5 WETH from bob to anvil's third account.
    let recipient: L1Addr = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
        .parse()
        .unwrap();
    let before = rt
        .block_on(async { provider.get_balance(recipient).await })
        .unwrap();
    let withdraw = devnet.wallet_json(&[
        "bridge",
        "withdraw",
        "0.5",
        "WETH",
        "--from",
        "bob",
        "--to",
        &recipient.to_string(),
    ]);
    assert_eq!(withdraw["withdrawal_index"], 0, "{withdraw}");

    // The relayer posts a header covering it.
    wait_for(
        "the relayer to post the withdrawal",
        Duration::from_secs(60),
        || {
            let status = devnet.wallet_json(&["bridge", "status"]);
            status["withdrawals"][0]["state"] == "posted"
        },
    );
    let status = devnet.wallet_json(&["bridge", "status"]);
    assert_eq!(
        weth_escrow(&status),
        (3 * ONE_ETH / 2, ONE_ETH, ONE_ETH / 2)
    );

    // Inside the challenge window the bridge refuses, with the reason.
    let refused = devnet.wallet_output(&["bridge", "finalize", "0"]);
    assert!(!refused.status.success());
    let text = String::from_utf8_lossy(&refused.stdout);
    assert!(text.contains("challenge window"), "{text}");

    // After the window it pays, exactly once.
    let _: serde_json::Value = rt
        .block_on(provider.raw_request("evm_increaseTime".into(), (601u64,)))
        .unwrap();
    let _: serde_json::Value = rt
        .block_on(provider.raw_request("evm_mine".into(), ()))
        .unwrap();
    let paid = devnet.wallet_json(&["bridge", "finalize", "0"]);
    assert_eq!(paid["index"], 0, "{paid}");
    let after = rt
        .block_on(async { provider.get_balance(recipient).await })
        .unwrap();
    assert_eq!(after - before, U256::from(ONE_ETH / 2));
    let again = devnet.wallet_output(&["bridge", "finalize", "0"]);
    assert!(!again.status.success());
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("already paid"), "{text}");

    let status = devnet.wallet_json(&["bridge", "status"]);
    assert_eq!(status["withdrawals"][0]["state"], "paid");
    assert_eq!(weth_escrow(&status), (ONE_ETH, ONE_ETH, 0));

    // anvil dies with the devnet.
    drop(devnet);
    let deadline = Instant::now() + Duration::from_secs(10);
    while rt.block_on(async { provider.get_chain_id().await }).is_ok() {
        assert!(Instant::now() < deadline, "anvil outlived the devnet");
        std::thread::sleep(Duration::from_millis(200));
    }
}
