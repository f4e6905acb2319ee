//! The README's NFT tour, end to end: a seeded `lakh devnet` (1 validator)
//! and the real `lakh wallet` binary. First the seeded demo: the artist's
//! AI-generated track (the same bytes `nft demo-track --seed 7 --seconds 4`
//! writes) is attested by the model operator and listed; dave buys it and the
//! royalty reaches both split recipients. Then alice mints a track the wallet
//! synthesizes, with its AI provenance; carol, registered by the admin as the
//! demo model's operator, attests it; the collection is market-only, so a
//! gift is refused; alice lists it, dave buys it, and the royalty reaches
//! each split recipient exactly; a licence pays the split too.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use serde_json::Value;

mod common;
use common::Devnet;

const ONE_LAKH: u128 = 1_000_000_000;

fn amount(v: &Value) -> u128 {
    v.as_str()
        .unwrap_or_else(|| panic!("not an amount: {v}"))
        .parse()
        .unwrap()
}

fn lakh(net: &Devnet, who: &str) -> u128 {
    let b = net.wallet_json(&["balance", who]);
    b["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["symbol"] == "LAKH")
        .map_or(0, |e| amount(&e["amount"]))
}

#[test]
fn the_nft_tour_mints_attests_sells_and_pays_the_split() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(dir.path(), 1, common::free_port(), &[]);
    let work = tempfile::tempdir().unwrap();

    // The seeded demo: the ready line names the listed token.
    let demo = &net.ready["demo"]["nft"];
    let demo_token = demo["listing"]["token"].as_u64().unwrap().to_string();
    assert_eq!(demo["token"].as_u64(), demo["listing"]["token"].as_u64());
    let again = work.path().join("demo.wav");
    let again = net.wallet_json(&[
        "nft",
        "demo-track",
        "--out",
        again.to_str().unwrap(),
        "--seed",
        "7",
        "--seconds",
        "4",
    ]);
    let shown = net.wallet_json(&["nft", "show", &demo_token]);
    assert_eq!(shown["info"]["content_hash"], again["sha256"], "{shown}");
    assert_eq!(shown["info"]["content_hash"], demo["content_hash"]);
    assert_eq!(shown["provenance"]["output_hash"], again["sha256"]);
    let attestations = shown["provenance"]["attestations"].as_array().unwrap();
    assert_eq!(attestations.len(), 1, "{shown}");
    assert_eq!(attestations[0], demo["operator"]);
    assert_eq!(shown["info"]["flagged"], false);
    assert_eq!(shown["collection"]["split"].as_array().unwrap().len(), 2);
    assert!(shown["collection"]["licence"].is_object(), "{shown}");
    assert_eq!(shown["listing_live"], true, "{shown}");
    // 50 LAKH: 5 LAKH royalty split 4:1, 45 LAKH to the artist as seller.
    let (artist0, operator0) = (lakh(&net, "artist"), lakh(&net, "operator"));
    let sold = net.wallet_json(&["nft", "buy", "--from", "dave", "--token", &demo_token]);
    assert_eq!(sold["receipt"]["status"]["status"], "success", "{sold}");
    assert_eq!(lakh(&net, "artist"), artist0 + 45 * ONE_LAKH + 4 * ONE_LAKH);
    assert_eq!(lakh(&net, "operator"), operator0 + ONE_LAKH);
    let shown = net.wallet_json(&["nft", "show", &demo_token]);
    let dave = net.wallet_json(&["balance", "dave"]);
    assert_eq!(shown["info"]["owner"], dave["address"]);
    let history = net.wallet_json(&["nft", "history", &demo_token]);
    let events: Vec<&str> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        ["minted", "provenance_recorded", "attested", "sold"]
    );
    let track = work.path().join("track.wav");
    let track_s = track.to_str().unwrap();
    let made = net.wallet_json(&["nft", "demo-track", "--out", track_s]);
    let sha = made["sha256"].as_str().unwrap().to_string();
    let prov = work.path().join("provenance.json");
    std::fs::write(
        &prov,
        r#"{"model": "lakh-demo-synth", "model_version": "1.0",
            "prompt": "a calm pentatonic loop", "seed": 1,
            "params": {"rate_hz": 8000}, "contributors": ["alice"]}"#,
    )
    .unwrap();

    let created = net.wallet_json(&[
        "nft",
        "create-collection",
        "--from",
        "alice",
        "--name",
        "Machine Songs",
        "--symbol",
        "MSONG",
        "--royalty-bps",
        "1000",
        "--split",
        "alice:3",
        "--split",
        "bob:1",
        "--policy",
        "market-only",
        "--max-editions",
        "25",
        "--licence-share-ppm",
        "50000",
        "--licence-fee",
        "1000000000",
    ]);
    let collection = created["collection_id"].as_u64().unwrap().to_string();
    let minted = net.wallet_json(&[
        "nft",
        "mint",
        "--from",
        "alice",
        "--collection",
        &collection,
        "--file",
        track_s,
        "--provenance",
        prov.to_str().unwrap(),
    ]);
    let token = minted["token_id"].as_u64().unwrap().to_string();
    let shown = net.wallet_json(&["nft", "show", &token]);
    assert_eq!(shown["info"]["content_hash"], sha.as_str());
    assert_eq!(shown["provenance"]["output_hash"], sha.as_str());

    net.wallet_json(&[
        "nft",
        "attester",
        "register",
        "--from",
        "admin",
        "--model",
        "lakh-demo-synth",
        "--attester",
        "carol",
    ]);
    // (The seeded operator is registered for the same model too.)
    net.wallet_json(&["nft", "attest", "--from", "carol", "--token", &token]);
    let shown = net.wallet_json(&["nft", "show", &token]);
    assert_eq!(
        shown["provenance"]["attestations"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(shown["info"]["flagged"], false);

    // Market-only: a gift is refused.
    let gift = net.wallet_output(&[
        "nft", "transfer", "--from", "alice", "--token", &token, "--to", "bob",
    ]);
    assert!(!gift.status.success());
    assert!(String::from_utf8_lossy(&gift.stdout).contains("market_only"));

    // 100 LAKH: 10 LAKH royalty split 3:1, 90 LAKH to alice.
    net.wallet_json(&[
        "nft",
        "list",
        "--from",
        "alice",
        "--token",
        &token,
        "--price",
        "100000000000",
        "--asset",
        "LAKH",
    ]);
    let (alice0, bob0) = (lakh(&net, "alice"), lakh(&net, "bob"));
    let sold = net.wallet_json(&["nft", "buy", "--from", "dave", "--token", &token]);
    assert_eq!(sold["receipt"]["status"]["status"], "success", "{sold}");
    assert_eq!(lakh(&net, "alice"), alice0 + 90 * ONE_LAKH + 7_500_000_000);
    assert_eq!(lakh(&net, "bob"), bob0 + 2_500_000_000);
    let shown = net.wallet_json(&["nft", "show", &token]);
    let dave = net.wallet_json(&["balance", "dave"]);
    assert_eq!(shown["info"]["owner"], dave["address"]);

    // A licence's fee goes through the split too.
    let (alice1, bob1) = (lakh(&net, "alice"), lakh(&net, "bob"));
    let lic = net.wallet_json(&["nft", "license", "--from", "carol", "--token", &token]);
    assert!(lic["licence_id"].is_u64(), "{lic}");
    assert_eq!(lakh(&net, "alice"), alice1 + 750_000_000);
    assert_eq!(lakh(&net, "bob"), bob1 + 250_000_000);

    let history = net.wallet_json(&["nft", "history", &token]);
    let events: Vec<&str> = history["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        events,
        [
            "minted",
            "provenance_recorded",
            "attested",
            "sold",
            "licensed"
        ]
    );
}
