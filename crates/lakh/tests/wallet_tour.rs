//! The README tour, end to end: one `lakh devnet` process (1 validator, seeded
//! with the DeFi demo) and the real `lakh wallet` binary, run as a newcomer
//! would, checking each command's outcome and the balances and positions it
//! changes; then restarts it on the same data directory.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use serde_json::Value;
use std::{
    process::Output,
    time::{Duration, Instant},
};

mod common;
use common::Devnet;

const ONE_ETH: u128 = 1_000_000_000_000_000_000;
const ONE_USDC: u128 = 1_000_000;
const ONE_LAKH: u128 = 1_000_000_000;

impl Devnet {
    /// Runs `lakh wallet --json <cmd>` against this devnet; `cmd` is split
    /// on whitespace, like the README's command lines.
    fn run(&self, cmd: &str) -> Output {
        let args: Vec<&str> = cmd.split_whitespace().collect();
        self.wallet_output(&args)
    }

    /// Runs a wallet command that must succeed; its JSON output.
    fn ok(&self, cmd: &str) -> Value {
        let args: Vec<&str> = cmd.split_whitespace().collect();
        self.wallet_json(&args)
    }

    /// Runs a wallet command that must fail; what it printed.
    fn fails(&self, cmd: &str) -> String {
        let out = self.run(cmd);
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !out.status.success(),
            "lakh wallet {cmd} should have failed: {printed}"
        );
        printed
    }

    fn balance(&self, who: &str, symbol: &str) -> u128 {
        let b = self.ok(&format!("balance {who}"));
        b["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["symbol"] == symbol)
            .map_or(0, |e| amount(&e["amount"]))
    }
}

/// An amount as the wallet prints it (a decimal string).
fn amount(v: &Value) -> u128 {
    v.as_str()
        .unwrap_or_else(|| panic!("not an amount: {v}"))
        .parse()
        .unwrap()
}

/// `v` base units of an asset with `decimals`, as the wallet takes them.
fn written(v: u128, decimals: u8) -> String {
    lakh_types::decimal::format_units(v, decimals)
}

fn s(v: u128) -> String {
    v.to_string()
}

#[test]
fn the_readme_tour_works_against_a_seeded_devnet() {
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(dir.path(), 1, common::free_port(), &[]);
    assert!(
        net.ready["defi"].as_str().unwrap().starts_with("seeded"),
        "{}",
        net.ready
    );
    let farm = net.ready["demo"]["farm"]
        .as_u64()
        .expect("farm id")
        .to_string();
    eprintln!("devnet ready after {:?}", started.elapsed());

    // DEX: quote, then swap exactly 1 ETH for at least 99% of the quote.
    let quote = net.ok("dex quote --sell ETH --buy USDC --amount 1");
    let quoted = amount(&quote["amount_out"]);
    assert!(
        (2_900 * ONE_USDC..3_000 * ONE_USDC).contains(&quoted),
        "1 ETH should fetch about 2,960 USDC from the seeded pool: {quote}"
    );
    let slippage = net.fails(&format!(
        "dex swap --from alice --sell ETH --amount 1 --buy USDC --min-out {}",
        written(quoted + 1, 6)
    ));
    assert!(
        slippage.contains(&format!(
            "output {quoted} is below the minimum {}",
            quoted + 1
        )),
        "{slippage}"
    );
    let (eth0, usdc0) = (net.balance("alice", "ETH"), net.balance("alice", "USDC"));
    net.ok("dex swap --from alice --sell ETH --amount 1 --buy USDC --min-out 2900");
    assert_eq!(net.balance("alice", "ETH"), eth0 - ONE_ETH);
    assert_eq!(
        net.balance("alice", "USDC"),
        usdc0 + quoted,
        "nothing traded in between, so the swap pays the quote"
    );

    // Order book: a limit bid rests and is cancelled; a market buy fills
    // against the admin's seeded asks.
    let usdc_before = net.balance("alice", "USDC");
    let placed = net.ok(
        "book place --from alice --market 1 --side buy --price 2900000 --quantity 100000000000000000",
    );
    let order = placed["book"]["order"].as_u64().expect("order id");
    assert_eq!(placed["book"]["resting"], s(ONE_ETH / 10));
    // 100 lots at 2.9 USDC per lot, plus the 2 bps maker fee it may owe.
    assert_eq!(net.balance("alice", "USDC"), usdc_before - 290_058_000);
    let orders = net.ok("book orders --market 1 --owner alice");
    assert!(orders.to_string().contains(&order.to_string()), "{orders}");
    net.ok(&format!(
        "book cancel --from alice --market 1 --order {order}"
    ));
    assert_eq!(net.balance("alice", "USDC"), usdc_before);

    let bob_eth = net.balance("bob", "ETH");
    let taken = net.ok(
        "book place --from bob --market 1 --side buy --type market --quantity 500000000000000000",
    );
    assert_eq!(taken["book"]["filled"], s(ONE_ETH / 2), "{taken}");
    assert_eq!(taken["book"]["fills"][0]["price"], "3005000", "best ask");
    assert_eq!(net.balance("bob", "ETH"), bob_eth + ONE_ETH / 2);

    // Oracle: the seeded (and kept fresh) price of ETH.
    let price = net.ok("oracle price --asset ETH");
    assert_eq!(price["status"], "ok", "{price}");
    assert_eq!(price["price"], "3000000000000000000000");

    // Lending: supply 10 ETH (capacity 22,500 USDC at a 75% factor), a
    // borrow beyond it is refused, 10,000 USDC is lent, repaid, withdrawn.
    let eth_before = net.balance("alice", "ETH");
    net.ok("lend supply --from alice --asset ETH --amount 10");
    let refused = net.fails("lend borrow --from alice --asset USDC --amount 25000");
    assert!(refused.contains("borrowing capacity"), "{refused}");
    let usdc_before = net.balance("alice", "USDC");
    net.ok("lend borrow --from alice --asset USDC --amount 10000");
    assert_eq!(
        net.balance("alice", "USDC"),
        usdc_before + 10_000 * ONE_USDC
    );
    let position = net.ok("lend position --account alice");
    let debt = position["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["asset"] == 1)
        .map(|p| amount(&p["debt"]))
        .expect("a USDC position");
    assert!(debt >= 10_000 * ONE_USDC, "{position}");
    net.ok("lend repay --from alice --asset USDC --all");
    let repaid = usdc_before + 10_000 * ONE_USDC - net.balance("alice", "USDC");
    assert!(
        (10_000 * ONE_USDC..10_001 * ONE_USDC).contains(&repaid),
        "the debt plus a little interest: {repaid}"
    );
    net.ok("lend withdraw --from alice --asset ETH --all");
    assert!(net.balance("alice", "ETH") >= eth_before - 1);

    // Staking: delegate to the devnet's validator.
    let validators = net.ok("stake validators");
    let validator = validators["validators"][0]["address"]
        .as_str()
        .expect("a validator")
        .to_string();
    net.ok(&format!(
        "stake delegate --from carol --validator {validator} --amount 1000"
    ));
    let delegation = net.ok(&format!(
        "stake delegation --account carol --validator {validator}"
    ));
    assert_eq!(delegation["amount"], s(1_000 * ONE_LAKH), "{delegation}");
    // Carol registers as a validator: bonded, listed, on standby until an
    // epoch boundary elects her (and a node runs her engine).
    net.ok("stake create-validator --from carol --p2p-address 127.0.0.1:39999 --commission-bps 500 --self-bond 2000");
    let listed = net.ok("stake validators");
    let all = listed["validators"].as_array().unwrap();
    assert_eq!(all.len(), 2, "{listed}");
    let carol = all
        .iter()
        .find(|v| v["address"] != validator.as_str())
        .unwrap();
    assert_eq!(carol["stake"], s(2_000 * ONE_LAKH), "{listed}");
    assert_eq!(carol["self_bond"], s(2_000 * ONE_LAKH), "{listed}");
    assert_eq!(carol["commission_bps"], 500, "{listed}");
    assert_eq!(
        (&carol["in_committee"], &carol["jailed"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
    let genesis_one = all
        .iter()
        .find(|v| v["address"] == validator.as_str())
        .unwrap();
    assert_eq!(genesis_one["in_committee"], true, "{listed}");
    assert_eq!(listed["epoch"], 0, "{listed}");
    let again = net.fails("stake create-validator --from carol --p2p-address 127.0.0.1:39999 --commission-bps 500 --self-bond 2000");
    assert!(again.contains("already a registered validator"), "{again}");

    // Farm: provide ETH/USDC liquidity, stake the LP shares, harvest LAKH,
    // unstake.
    net.ok("dex add --from dave --a ETH --amount-a 1 --b USDC --amount-b 3000");
    let lp = net.balance("dave", "ETHUSDCLP");
    assert!(lp > 0);
    // The pool's share asset has the mean of its assets' decimals (18, 6).
    let lp_units = written(lp, 12);
    net.ok(&format!(
        "farm stake --from dave --farm {farm} --amount {lp_units}"
    ));
    assert_eq!(net.balance("dave", "ETHUSDCLP"), 0);
    let farm_info = net.ok(&format!("farm info --farm {farm}"));
    assert_eq!(farm_info["status"], "active", "{farm_info}");
    // Rewards accrue per block, from the farm's start (a few heartbeats
    // after seeding on a resting devnet); wait for one more.
    let pending = (0..150)
        .map(|_| {
            std::thread::sleep(Duration::from_millis(200));
            let p = net.ok(&format!("farm position --farm {farm} --account dave"));
            amount(&p["pending_rewards"])
        })
        .find(|p| *p > 0)
        .expect("the farm pays rewards");
    assert!(pending > 0);
    let harvested = net.ok(&format!("farm harvest --from dave --farm {farm}"));
    assert!(harvested.to_string().contains("harvested"), "{harvested}");
    net.ok(&format!(
        "farm unstake --from dave --farm {farm} --amount {lp_units}"
    ));
    assert_eq!(net.balance("dave", "ETHUSDCLP"), lp);

    // Cover: quote and buy cover on the ETH/USDC pool, then file a claim.
    let cover_quote =
        net.ok("cover quote --pool 1 --amount 10000000000 --blocks 1000 --risk dex:ETH/USDC");
    let usdc_before = net.balance("alice", "USDC");
    let bought = net.ok(
        "cover buy --from alice --pool 1 --risk dex:ETH/USDC --amount 10000000000 --blocks 1000",
    );
    let cover = bought["cover_id"].as_u64().expect("cover id").to_string();
    let premium = usdc_before - net.balance("alice", "USDC");
    assert!(premium > 0, "{cover_quote}");
    let info = net.ok(&format!("cover info --cover {cover}"));
    assert_eq!(info["amount"], s(10_000 * ONE_USDC), "{info}");
    let filed = net.ok(&format!(
        "cover claim --from alice --cover {cover} --amount 5000000000"
    ));
    let claim = filed["claim_id"].as_u64().expect("claim id").to_string();
    let claim_info = net.ok(&format!("cover claim-info --claim {claim}"));
    assert_eq!(claim_info["status"], "open", "{claim_info}");

    eprintln!("tour done after {:?}", started.elapsed());

    // A restart keeps the demo (no second seeding) and refreshes the prices
    // before it is ready, so lending works at once.
    drop(net);
    let net = Devnet::start(dir.path(), 1, common::free_port(), &[]);
    assert_eq!(net.ready["defi"], "already seeded", "{}", net.ready);
    assert_eq!(
        net.ready["demo"]["farm"].as_u64().unwrap().to_string(),
        farm
    );
    assert_eq!(net.ok("oracle price --asset ETH")["status"], "ok");
    net.ok("lend supply --from bob --asset BTC --amount 1");
    net.ok("lend borrow --from bob --asset USDC --amount 1000");
    assert_eq!(
        net.ok(&format!("cover info --cover {cover}"))["amount"],
        "10000000000"
    );
    eprintln!("restart checked after {:?}", started.elapsed());
}
