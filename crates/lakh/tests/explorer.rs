//! The explorer in a real browser: a seeded `lakh devnet`, the situation the
//! page must show (an ETH transfer alice → bob whose amount a double cannot
//! hold, the demo NFT sold to dave, a collection with a hostile name), then
//! `crates/rpc/explorer/tests/explore.mjs` drives Debian's chromium through
//! npm `playwright-core`: home, search, transaction, account history, NFT
//! provenance and sale, the live head, hostile text. It writes
//! `docs/explorer.png`, the README's screenshot.
//!
//! Needs `/usr/bin/chromium` (`apt-get install -y chromium`), node, and
//! `npm ci` run in `crates/rpc/explorer/tests`; `.ci/run` installs both. A
//! missing piece fails the test with how to install it rather than skipping.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use serde_json::{Value, json};
use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

mod common;
use common::Devnet;

/// The browser; `LAKH_CHROMIUM` names another binary.
const CHROMIUM: &str = "/usr/bin/chromium";
const HOSTILE_NAME: &str = "<img src=x onerror=alert(1)>";
const HOSTILE_URI: &str = "\"><script>alert(2)</script><b>bold</b>";
/// 0.123456789012345678 ETH: 18 significant digits, beyond a double's 15.
const ETH_SENT: &str = "0.123456789012345678";
const ETH_SENT_BASE_UNITS: u128 = 123_456_789_012_345_678;
const ETH_DECIMALS: u8 = 18;
const LAKH_DECIMALS: u8 = 9;
const ONE_ETH: u128 = 1_000_000_000_000_000_000;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn browser_tests() -> PathBuf {
    repo_root().join("crates/rpc/explorer/tests")
}

fn chromium() -> String {
    std::env::var("LAKH_CHROMIUM").unwrap_or_else(|_| CHROMIUM.to_string())
}

/// Fails, saying how to install it, when a piece of the browser test is
/// missing: the test never passes without having run the browser.
fn require_browser_tools() {
    let how = "install them as .ci/run does: `apt-get install -y chromium` (Debian's \
               package; playwright never downloads a browser here), then `npm ci` in \
               crates/rpc/explorer/tests";
    assert!(
        Path::new(&chromium()).exists(),
        "the explorer test needs chromium at {}: {how}",
        chromium()
    );
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "the explorer test needs node on PATH (Debian: `apt-get install -y nodejs npm`); {how}"
    );
    assert!(
        browser_tests()
            .join("node_modules/playwright-core")
            .exists(),
        "the explorer test needs npm playwright-core in {}/node_modules: {how}",
        browser_tests().display()
    );
}

fn address_of(net: &Devnet, name: &str) -> String {
    let key: Value = serde_json::from_str(
        &std::fs::read_to_string(net.keys().join(format!("{name}.json"))).unwrap(),
    )
    .unwrap();
    key["address"].as_str().unwrap().to_string()
}

fn base_units(v: &Value) -> u128 {
    v.as_str()
        .unwrap_or_else(|| panic!("not an amount: {v}"))
        .parse()
        .unwrap()
}

/// `units` as the page writes them (without its thousands separators).
fn shown(units: u128, decimals: u8, sign: &str, symbol: &str) -> String {
    let number = lakh_types::decimal::format_units(units, decimals);
    format!("{sign}{number} {symbol}")
}

fn eth_balance(net: &Devnet, who: &str) -> u128 {
    let b = net.wallet_json(&["balance", who]);
    b["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["symbol"] == "ETH")
        .map_or(0, |e| base_units(&e["amount"]))
}

/// The ETH transfer alice → bob and what its page must show.
fn transfer_facts(net: &Devnet) -> Value {
    let (alice, bob) = (address_of(net, "alice"), address_of(net, "bob"));
    let sent = net.wallet_json(&[
        "transfer", "--from", "alice", "--to", "bob", "--asset", "ETH", "--amount", ETH_SENT,
    ]);
    assert_eq!(sent["receipt"]["status"]["status"], "success", "{sent}");
    let fee = base_units(&sent["receipt"]["fee_paid"]);
    let eth_out = shown(ETH_SENT_BASE_UNITS, ETH_DECIMALS, "-", "ETH");
    json!({
        "id": sent["tx_id"],
        "sender": alice,
        "sender_change": eth_out,
        "changes": [
            {"account": alice, "change": eth_out},
            {"account": alice, "change": shown(fee, LAKH_DECIMALS, "-", "LAKH")},
            {"account": bob, "change": shown(ETH_SENT_BASE_UNITS, ETH_DECIMALS, "+", "ETH")},
        ],
    })
}

/// Dave buys the seeded demo track: provenance from the seed, and a sale.
fn nft_facts(net: &Devnet) -> Value {
    let demo = &net.ready["demo"]["nft"];
    let token = demo["token"].as_u64().unwrap().to_string();
    let sold = net.wallet_json(&["nft", "buy", "--from", "dave", "--token", &token]);
    assert_eq!(sold["receipt"]["status"]["status"], "success", "{sold}");
    let price = base_units(&demo["listing"]["price"]);
    json!({
        "token": token,
        "attester": demo["operator"],
        "seller": demo["artist"],
        "buyer": address_of(net, "dave"),
        "price": shown(price, LAKH_DECIMALS, "", "LAKH"),
        "events": ["minted", "provenance_recorded", "attested", "sold"],
    })
}

/// A collection and token whose texts are markup.
fn hostile_facts(net: &Devnet, track: &Path) -> Value {
    let created = net.wallet_json(&[
        "nft",
        "create-collection",
        "--from",
        "carol",
        "--name",
        HOSTILE_NAME,
        "--symbol",
        "EVIL",
        "--royalty-bps",
        "100",
        "--split",
        "carol:1",
        "--max-editions",
        "5",
    ]);
    let collection = created["collection_id"].as_u64().unwrap().to_string();
    let minted = net.wallet_json(&[
        "nft",
        "mint",
        "--from",
        "carol",
        "--collection",
        &collection,
        "--file",
        track.to_str().unwrap(),
        "--uri",
        HOSTILE_URI,
        // The first counter: a random one could number past the cap.
        "--shard",
        "0",
    ]);
    json!({
        "collection": collection,
        "token": minted["token_id"].as_u64().unwrap().to_string(),
        "name": HOSTILE_NAME,
        "uri": HOSTILE_URI,
    })
}

#[test]
fn the_explorer_shows_the_chain_in_a_real_browser() {
    require_browser_tools();
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(dir.path(), 1, common::free_port(), &[]);
    assert!(
        net.ready["explorer"]
            .as_str()
            .unwrap()
            .ends_with(lakh_rpc::EXPLORER_PATH),
        "the ready line names the explorer: {}",
        net.ready
    );
    let alice_eth_before = eth_balance(&net, "alice");
    let facts = json!({
        "transfer": transfer_facts(&net),
        "alice_eth": shown(alice_eth_before - ETH_SENT_BASE_UNITS, ETH_DECIMALS, "", "ETH"),
        "nft": nft_facts(&net),
        "busy_account": address_of(&net, "admin"),
        "hostile": hostile_facts(&net, &dir.path().join("demo-track.wav")),
    });
    assert!(alice_eth_before > ONE_ETH, "alice was seeded with ETH");
    let screenshot = repo_root().join("docs/explorer.png");
    let out = Command::new("node")
        .arg(browser_tests().join("explore.mjs"))
        .arg(&net.rpc)
        .arg(facts.to_string())
        .arg(&screenshot)
        .env("LAKH_CHROMIUM", chromium())
        .current_dir(browser_tests())
        .output()
        .unwrap();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "the browser checks failed:\n{printed}"
    );
    assert!(printed.contains("explorer: all checks passed"), "{printed}");
    eprintln!("explorer test took {:?}", started.elapsed());
}
