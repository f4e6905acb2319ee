//! The shielded pool end to end: a seeded `lakh devnet` (1 validator) and the
//! real `lakh wallet shielded` commands. Alice shields 100 USDC and pays bob
//! 40 privately through carol as relayer; bob syncs, sees 40 and unshields
//! them to his public account through dave; alice keeps 60. The transfer's
//! public record names neither alice nor bob, and the notes the wallets hold
//! are worth exactly the pool's custody.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use serde_json::Value;
use std::time::Instant;

mod common;
use common::Devnet;

const ONE_USDC: u128 = 1_000_000;

fn amount(v: &Value) -> u128 {
    v.as_str()
        .unwrap_or_else(|| panic!("not an amount: {v}"))
        .parse()
        .unwrap()
}

fn usdc_in(balances: &Value) -> u128 {
    balances
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["symbol"] == "USDC")
        .map_or(0, |e| amount(&e["amount"]))
}

fn public_usdc(net: &Devnet, who: &str) -> u128 {
    usdc_in(&net.wallet_json(&["balance", who])["balances"])
}

/// Syncs `who`'s shielded store, then reads its unspent USDC.
fn shielded_usdc(net: &Devnet, who: &str) -> u128 {
    let synced = net.wallet_json(&["shielded", "sync", who]);
    let balance = net.wallet_json(&["shielded", "balance", who]);
    assert_eq!(balance["synced_height"], synced["synced_height"]);
    usdc_in(&balance["balances"])
}

fn succeeded(out: &Value) {
    assert_eq!(out["receipt"]["status"]["status"], "success", "{out}");
}

#[test]
fn alice_pays_bob_privately_and_bob_unshields() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(dir.path(), 1, common::free_port(), &[]);
    let address = |who: &str| {
        net.wallet_json(&["shielded", "address", who])["address"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (alice_z, bob_z) = (address("alice"), address("bob"));
    assert_eq!(address("alice"), alice_z, "one shielded key per key name");
    let view = net.wallet_json(&["shielded", "view-key", "alice"]);
    assert_eq!(view["viewing_key"].as_str().unwrap().len(), 192);
    assert_eq!(view["address"], alice_z.as_str());

    let alice_usdc = public_usdc(&net, "alice");
    let shield = [
        "shielded", "shield", "--from", "alice", "--amount", "100", "--asset", "USDC",
    ];
    succeeded(&net.wallet_json(&shield));
    assert_eq!(public_usdc(&net, "alice"), alice_usdc - 100 * ONE_USDC);

    let pay = |amount: &str| {
        let args = [
            "shielded",
            "send",
            "--from",
            "alice",
            "--to",
            &bob_z,
            "--amount",
            amount,
            "--asset",
            "USDC",
            "--relayer",
            "carol",
        ];
        net.wallet_output(&args)
    };
    let refused = pay("100.000001");
    assert!(!refused.status.success());
    let error: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(
        error["error"]["code"], "insufficient_shielded_funds",
        "{error}"
    );
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("hold 100000000"),
        "{error}"
    );

    let sent = pay("40");
    assert!(sent.status.success(), "{sent:?}");
    let sent: Value = serde_json::from_slice(&sent.stdout).unwrap();
    succeeded(&sent);
    let transfer_ms = sent["proving_ms"].as_u64().unwrap();
    assert!(transfer_ms > 0, "{sent}");
    assert_eq!(sent["signer_is_spender"], false);
    // The first spend of this keys directory derives the devnet parameters
    // and caches them; later ones load the cache.
    assert_eq!(sent["params_source"], "derived", "{sent}");

    // No link: the transfer's public record (the action as submitted, the
    // receipt the chain serves) names carol, never alice or bob, public or
    // shielded (the paying key is the address's first 32 bytes).
    let public_of = |who: &str| net.wallet_json(&["balance", who])["address"].clone();
    let (alice, bob, carol) = (public_of("alice"), public_of("bob"), public_of("carol"));
    let tx = net.wallet_json(&["tx", sent["tx_id"].as_str().unwrap()]);
    assert_eq!(tx["receipt"]["sender"], carol);
    let record = format!("{}{}", sent["action"], tx["receipt"]);
    for hidden in [
        alice.as_str().unwrap(),
        bob.as_str().unwrap(),
        &alice_z[3..67],
        &bob_z[3..67],
    ] {
        assert!(!record.contains(hidden), "{hidden} in {record}");
    }
    // Nor does the transfer appear in alice's or bob's public history.
    let tx_id = sent["tx_id"].as_str().unwrap();
    let listed = |who: &str| {
        net.wallet_json(&["history", who])
            .to_string()
            .contains(tx_id)
    };
    assert!(listed("carol"), "the relayer's history lists it");
    assert!(!listed("alice") && !listed("bob"));

    assert_eq!(shielded_usdc(&net, "bob"), 40 * ONE_USDC);
    let bob_usdc = public_usdc(&net, "bob");
    let unshield = [
        "shielded",
        "unshield",
        "--from",
        "bob",
        "--to",
        "bob",
        "--amount",
        "40",
        "--asset",
        "USDC",
        "--relayer",
        "dave",
    ];
    let unshielded = net.wallet_json(&unshield);
    succeeded(&unshielded);
    assert_eq!(unshielded["params_source"], "cache", "{unshielded}");
    assert_eq!(public_usdc(&net, "bob"), bob_usdc + 40 * ONE_USDC);

    // Fee 0: alice's change is exactly 60, bob has nothing left, and the
    // wallets' unspent notes are exactly the pool's custody.
    let (alice_left, bob_left) = (shielded_usdc(&net, "alice"), shielded_usdc(&net, "bob"));
    assert_eq!((alice_left, bob_left), (60 * ONE_USDC, 0));
    // An auditor with alice's viewing key sees her shield, her payment to
    // bob and her change; nothing of bob's unshield.
    let seen = net.wallet_json(&[
        "shielded",
        "scan",
        "--view-key",
        view["viewing_key"].as_str().unwrap(),
    ]);
    let notes: Vec<(String, u128, String)> = seen["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let to = n["recipient"].as_str().unwrap_or("").to_string();
            (
                n["direction"].as_str().unwrap().to_string(),
                amount(&n["amount"]),
                to,
            )
        })
        .collect();
    let note = |direction: &str, usdc: u128, to: &str| {
        (direction.to_string(), usdc * ONE_USDC, to.to_string())
    };
    assert_eq!(
        notes,
        [
            note("incoming", 100, ""),
            note("outgoing", 40, &bob_z),
            note("incoming", 60, ""),
            note("outgoing", 60, &alice_z),
        ],
        "{seen}"
    );
    let pool = net.wallet_json(&["shielded", "pool", "--asset", "USDC"]);
    assert_eq!(amount(&pool["custody"]["amount"]), alice_left + bob_left);
    assert_eq!(pool["notes"], 5, "1 shield + 2 transfer + 2 unshield notes");
    eprintln!(
        "shielded tour: transfer proved in {transfer_ms} ms (parameters derived in {} ms), unshield in {} ms (parameters from the cache in {} ms), {} s in all",
        sent["setup_ms"],
        unshielded["proving_ms"],
        unshielded["setup_ms"],
        started.elapsed().as_secs()
    );
}
