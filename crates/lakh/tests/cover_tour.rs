//! The README's parametric-cover tour, end to end: a seeded `lakh devnet`
//! (1 validator) and the real `lakh wallet` binary. Alice buys cover on the
//! seeded USDC depeg product; once the cooldown has passed the reporter
//! posts USDC at 0.80; the oracle median of the fresh reports (the admin's
//! seeded 1.00 and the reporter's 0.80) is 0.90, below the product's 0.95,
//! and after three such blocks the trigger fires: alice is paid 10% of her
//! cover in that block, without filing anything.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use serde_json::Value;
use std::time::{Duration, Instant};

mod common;
use common::Devnet;

const ONE_USDC: u128 = 1_000_000;
const COOLDOWN_BLOCKS: u64 = 5;

fn amount(v: &Value) -> u128 {
    v.as_str()
        .unwrap_or_else(|| panic!("not an amount: {v}"))
        .parse()
        .unwrap()
}

fn ok(net: &Devnet, cmd: &str) -> Value {
    let args: Vec<&str> = cmd.split_whitespace().collect();
    net.wallet_json(&args)
}

fn usdc(net: &Devnet, who: &str) -> u128 {
    ok(net, &format!("balance {who}"))["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["symbol"] == "USDC")
        .map_or(0, |e| amount(&e["amount"]))
}

/// Polls `cmd` until `done` holds for its answer, for at most a minute.
fn wait_for(net: &Devnet, cmd: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = ok(net, cmd);
        if done(&answer) {
            return answer;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {answer}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn the_depeg_tour_pays_alice_in_the_block_the_trigger_fires() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(dir.path(), 1, common::free_port(), &[]);

    let products = ok(&net, "cover products");
    let depeg = &products["products"][0];
    assert_eq!(
        depeg["product"]["params"]["name"], "depeg:USDC",
        "{products}"
    );
    assert_eq!(depeg["product"]["params"]["trigger"]["trigger"], "price");

    let usdc0 = usdc(&net, "alice");
    let bought = ok(
        &net,
        "cover buy --from alice --product 0 --amount 10000000000 --blocks 1000",
    );
    let cover = bought["cover_id"].as_u64().expect("cover id");
    let bought_at = bought["receipt"]["height"].as_u64().unwrap();
    let premium = usdc0 - usdc(&net, "alice");
    assert!(premium > 0 && premium < 10 * ONE_USDC, "{bought}");

    // Wait out the cooldown, then depeg.
    wait_for(&net, "cover products", |p| {
        p["height"].as_u64().unwrap() >= bought_at + COOLDOWN_BLOCKS
    });
    let posted = ok(
        &net,
        "oracle post --from reporter --asset USDC --price 0.80",
    );
    assert_eq!(posted["receipt"]["status"]["status"], "success", "{posted}");
    let price = ok(&net, "oracle price --asset USDC");
    assert_eq!(price["price"], "900000000000000000", "{price}");

    let payouts = wait_for(&net, "cover payouts --account alice", |p| {
        !p["payouts"].as_array().unwrap().is_empty()
    });
    let paid = &payouts["payouts"][0];
    assert_eq!(paid["cover"].as_u64(), Some(cover), "{payouts}");
    assert_eq!(
        amount(&paid["amount"]),
        1_000 * ONE_USDC,
        "10% of the cover"
    );
    // Three blocks of a low fresh median: the post's block and the next two.
    let posted_at = posted["receipt"]["height"].as_u64().unwrap();
    assert_eq!(
        paid["event_height"].as_u64(),
        Some(posted_at + 2),
        "{payouts}"
    );
    assert_eq!(
        paid["height"], paid["event_height"],
        "paid in the firing block"
    );
    assert_eq!(usdc(&net, "alice"), usdc0 - premium + 1_000 * ONE_USDC);
    let info = ok(&net, &format!("cover info --cover {cover}"));
    assert_eq!(info["paid"], "1000000000", "{info}");
}
