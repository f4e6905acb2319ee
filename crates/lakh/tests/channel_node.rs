//! `lakh channel` end to end: a devnet, two `lakh channel serve` processes
//! (alice and bob, the devnet's demo keys) and the CLI driving them.
//!
//! - open, many payments both ways, a deposit counted off chain,
//!   cooperative close: the chain pays exactly the co-signed balances;
//! - a serve process killed with SIGKILL mid-payments and restarted (payer,
//!   then payee): no co-signed state lost, both agree, payments go on;
//! - a counterparty closing with a stale state is disputed automatically by
//!   the other's watchtower loop, and the chain's register then holds the
//!   newest state; a third node handed the state (`watch`) disputes for a
//!   node that went offline;
//! - three nodes: 1,000 payments, a payment routed from alice through bob
//!   to carol (hash locks), a withdrawal, cooperative closes: the chain
//!   pays exactly the off-chain balances;
//! - an intermediary whose payee reveals a secret on chain only reads it
//!   there and is paid the upstream lock exactly;
//! - (ignored in CI: it waits out a 3,600-block window on a heartbeat-0
//!   network) after the dispute, `settle` pays exactly the newest state.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::{BIN, Devnet, free_port, key_of};
use lakh_rpc::LakhClient;
use lakh_types::modules::channel::query::ChannelAnswer;
use lakh_types::modules::channel::{ChannelAction, ChannelId, ChannelRef};
use lakh_types::{Action, Address, Transaction};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One USDC in base units (the devnet's USDC has 6 decimals).
const USDC: u128 = 1_000_000;

/// A `lakh channel serve` child, killed on drop.
struct Serve {
    child: Child,
    key: String,
    port: u16,
    data: PathBuf,
    keys: PathBuf,
    rpc: String,
    control: String,
    poll_ms: u64,
}

impl Serve {
    fn start(net: &Devnet, root: &Path, key: &str, port: u16) -> Serve {
        Serve::start_polling(net, root, key, port, 200)
    }

    /// [`Serve::start`] with the watch loop polling every `poll_ms`.
    fn start_polling(net: &Devnet, root: &Path, key: &str, port: u16, poll_ms: u64) -> Serve {
        let data = root.join(format!("channel-{key}"));
        Serve::spawn_polling(key, port, data, net.keys(), net.rpc.clone(), poll_ms)
    }

    fn spawn(key: &str, port: u16, data: PathBuf, keys: PathBuf, rpc: String) -> Serve {
        Serve::spawn_polling(key, port, data, keys, rpc, 200)
    }

    /// A node whose watch loop polls the chain every `poll_ms`.
    fn spawn_polling(
        key: &str,
        port: u16,
        data: PathBuf,
        keys: PathBuf,
        rpc: String,
        poll_ms: u64,
    ) -> Serve {
        std::fs::create_dir_all(&data).unwrap();
        let _ = std::fs::remove_file(data.join("control.json"));
        let log = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(data.join(name))
                .unwrap()
        };
        let child = Command::new(BIN)
            .args(["channel", "serve", "--key", key, "--rpc", &rpc])
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--poll-ms", &poll_ms.to_string()])
            .arg("--keys")
            .arg(&keys)
            .arg("--data")
            .arg(&data)
            .stdout(log("serve-stdout.log"))
            .stderr(log("serve-stderr.log"))
            .stdin(Stdio::null())
            .spawn()
            .expect("spawn lakh channel serve");
        let started = Instant::now();
        let control = loop {
            if let Ok(text) = std::fs::read_to_string(data.join("control.json"))
                && let Ok(v) = serde_json::from_str::<Value>(&text)
            {
                break v["control"].as_str().unwrap().to_string();
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "serve {key} did not start: {}",
                std::fs::read_to_string(data.join("serve-stderr.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        Serve {
            child,
            key: key.to_string(),
            port,
            data,
            keys,
            rpc,
            control,
            poll_ms,
        }
    }

    /// Kills with SIGKILL and starts again on the same store and port.
    fn kill9_and_restart(mut self) -> Serve {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let (key, port, data) = (self.key.clone(), self.port, self.data.clone());
        let (keys, rpc, poll_ms) = (self.keys.clone(), self.rpc.clone(), self.poll_ms);
        drop(self);
        Serve::spawn_polling(&key, port, data, keys, rpc, poll_ms)
    }

    fn peer(&self, net: &Devnet) -> String {
        format!("{}@127.0.0.1:{}", address(net, &self.key), self.port)
    }

    /// `lakh channel ARGS` against this node, not started yet.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(["channel", "--json", "--control", &self.control])
            .arg("--keys")
            .arg(&self.keys)
            .args(args);
        c
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().unwrap()
    }

    /// Opens a USDC channel to `to` with `deposit`; the channel's id.
    fn open_usdc(&self, net: &Devnet, to: &Serve, deposit: &str) -> String {
        let peer = to.peer(net);
        let args = [
            "open",
            "--peer",
            &peer,
            "--asset",
            "USDC",
            "--deposit",
            deposit,
        ];
        self.ok(&args)["id"].as_str().unwrap().to_string()
    }

    /// Opens a PayWord channel of 1,000 words of 0.01 USDC (10 USDC
    /// deposited) to `peer` (`KEY@ADDR`) and pays `payee` `words` of them;
    /// the channel's id.
    fn payword_paid(&self, peer: &str, payee: &str, words: &str) -> String {
        let open = [
            "open",
            "--payword",
            "--payments",
            "1000",
            "--peer",
            peer,
            "--asset",
            "USDC",
            "--deposit",
            "10",
        ];
        let id = self.ok(&open)["id"].as_str().unwrap().to_string();
        let pay = [
            "pay",
            "--payword",
            "--to",
            payee,
            "--amount",
            "0.01",
            "--count",
            words,
        ];
        self.ok(&pay);
        id
    }

    fn ok(&self, args: &[&str]) -> Value {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "lakh channel {args:?} ({}) failed: {}{}",
            self.key,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The node's channel with `peer` (a key name).
    fn channel_with(&self, net: &Devnet, peer: &str) -> Value {
        let peer = address(net, peer).to_string();
        let list = self.ok(&["list"]);
        list["channels"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["peer"].as_str() == Some(peer.as_str()))
            .unwrap_or_else(|| panic!("no channel with {peer}: {list}"))
            .clone()
    }

    /// The node's only channel.
    fn channel(&self) -> Value {
        let list = self.ok(&["list"]);
        let channels = list["channels"].as_array().unwrap();
        assert_eq!(channels.len(), 1, "{list}");
        channels[0].clone()
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn address(net: &Devnet, name: &str) -> Address {
    address_in(&net.dir, name)
}

/// The address of the key `name` of the network in `dir`.
fn address_in(dir: &Path, name: &str) -> Address {
    use commonware_cryptography::Signer;
    Address::from(&key_of(dir, name).public_key())
}

fn amount(v: &Value) -> u128 {
    v.as_str()
        .unwrap_or_else(|| panic!("not an amount: {v}"))
        .parse()
        .unwrap()
}

fn usdc(net: &Devnet, who: &str) -> u128 {
    net.wallet_json(&["balance", who])["balances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["symbol"] == "USDC")
        .map_or(0, |e| amount(&e["amount"]))
}

fn start_net(dir: &Path) -> Devnet {
    Devnet::start(&dir.join("net"), 1, free_port(), &[])
}

fn channel_on_chain(net: &Devnet, id: &ChannelId) -> Option<ChannelAnswer> {
    channel_at(&net.rpc, id)
}

fn channel_at(rpc: &str, id: &ChannelId) -> Option<ChannelAnswer> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = LakhClient::connect(rpc).unwrap();
        match client
            .query("channel", "channel", serde_json::json!({ "channel": id }))
            .await
        {
            Ok(v) => Some(serde_json::from_value(v).unwrap()),
            Err(_) => None,
        }
    })
}

#[test]
fn open_pay_many_times_and_close_cooperatively() {
    let dir = tempfile::tempdir().unwrap();
    let net = start_net(dir.path());
    let alice = Serve::start(&net, dir.path(), "alice", free_port());
    let bob = Serve::start(&net, dir.path(), "bob", free_port());
    let (alice0, bob0) = (usdc(&net, "alice"), usdc(&net, "bob"));

    let id = alice.open_usdc(&net, &bob, "100");
    assert_eq!(usdc(&net, "alice"), alice0 - 100 * USDC);
    // 300 pipelined payments of 0.1 USDC, then 5 one at a time of 1 USDC.
    let r = alice.ok(&["pay", "--to", "bob", "--amount", "0.1", "--count", "300"]);
    assert_eq!(r["version"], 300);
    for _ in 0..5 {
        alice.ok(&["pay", "--to", "bob", "--amount", "1"]);
    }
    let paid = 300 * USDC / 10 + 5 * USDC;
    let b = bob.channel();
    assert_eq!(b["id"], id.as_str());
    assert_eq!(b["version"], 305);
    assert_eq!(amount(&b["mine"]), paid);
    assert_eq!(amount(&alice.channel()["theirs"]), paid);
    // Bob cannot pay more than he holds; nothing is signed for it.
    let out = bob.run(&["pay", "--to", "alice", "--amount", "36"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("insufficient"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Bob deposits 10 USDC on chain; once alice's node sees it there, both
    // sign a state counting it, and bob can pay back more than he received.
    let d = bob.ok(&["deposit", "--amount", "10"]);
    assert_eq!(amount(&d["mine"]), paid + 10 * USDC);
    assert_eq!(usdc(&net, "bob"), bob0 - 10 * USDC);
    bob.ok(&["pay", "--to", "alice", "--amount", "40"]);
    // Net: bob received `paid`, deposited 10 and paid 40 back.
    let bob_balance = paid + 10 * USDC - 40 * USDC;

    let closed = alice.ok(&["close"]);
    assert_eq!(closed["phase"], "closed");
    assert_eq!(closed["is_final"], true);
    assert_eq!(amount(&closed["theirs"]), bob_balance);
    assert_eq!(
        usdc(&net, "alice"),
        alice0 - 100 * USDC + (110 * USDC - bob_balance)
    );
    assert_eq!(usdc(&net, "bob"), bob0 - 10 * USDC + bob_balance);
    assert!(channel_on_chain(&net, &id.parse().unwrap()).is_none());
    // Bob's watch loop sees the channel paid out.
    let started = Instant::now();
    while bob.channel()["phase"] != "closed" {
        assert!(started.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_node_killed_mid_payments_restarts_with_every_cosigned_state() {
    let dir = tempfile::tempdir().unwrap();
    let net = start_net(dir.path());
    let alice = Serve::start(&net, dir.path(), "alice", free_port());
    let bob = Serve::start(&net, dir.path(), "bob", free_port());
    alice.open_usdc(&net, &bob, "100");

    // Kill the payer (alice) mid-payments.
    let (acked, alice) = pay_while(&net, &alice.control.clone(), move || {
        alice.kill9_and_restart()
    });
    assert!(acked > 0, "no payment went through before the kill");
    // After reconnecting, both hold the same newest co-signed state, which
    // covers every acknowledged payment.
    let agree = |alice: &Serve, bob: &Serve| -> (u64, u128) {
        let started = Instant::now();
        loop {
            let (a, b) = (alice.channel(), bob.channel());
            if a["version"] == b["version"] && a["connected"] == true {
                assert_eq!(a["theirs"], b["mine"]);
                assert_eq!(a["mine"], b["theirs"]);
                return (a["version"].as_u64().unwrap(), amount(&b["mine"]));
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no agreement: {a} {b}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    let (_, received) = agree(&alice, &bob);
    assert!(
        received >= acked,
        "bob holds {received} of {acked} acknowledged"
    );

    // Kill the payee (bob) mid-payments.
    let (acked2, bob) = pay_while(&net, &alice.control, move || bob.kill9_and_restart());
    let (version, received2) = agree(&alice, &bob);
    assert!(
        received2 >= received + acked2,
        "bob holds {received2}, had {received} and {acked2} more were acknowledged"
    );

    // Payments go on after both restarts, from the agreed version.
    let r = alice.ok(&["--base-units", "pay", "--to", "bob", "--amount", "5"]);
    assert!(r["version"].as_u64().unwrap() > version);
    assert_eq!(amount(&bob.channel()["mine"]), received2 + 5);
}

/// Pays bob 1 base unit at a time, 40 a call, from another thread through
/// the payer's control port while `kill` runs on this one; returns how many
/// payments were acknowledged and what `kill` returned.
fn pay_while<T>(net: &Devnet, control: &str, kill: impl FnOnce() -> T) -> (u128, T) {
    let control = control.to_string();
    let keys = net.keys();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let bob = address(net, "bob").to_hex();
    let worker = std::thread::spawn(move || {
        let mut acknowledged = 0u128;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let out = Command::new(BIN)
                .args(["channel", "--json", "--base-units", "--control", &control])
                .arg("--keys")
                .arg(&keys)
                .args(["pay", "--to", &bob, "--amount", "1", "--count", "40"])
                .output()
                .unwrap();
            if out.status.success() {
                acknowledged += 40;
            }
        }
        acknowledged
    });
    std::thread::sleep(Duration::from_millis(700));
    let t = kill();
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    (worker.join().unwrap(), t)
}

#[test]
fn a_stale_close_is_disputed_by_the_watchtower() {
    let dir = tempfile::tempdir().unwrap();
    let net = start_net(dir.path());
    let alice = Serve::start(&net, dir.path(), "alice", free_port());
    let bob = Serve::start(&net, dir.path(), "bob", free_port());
    let id: ChannelId = alice.open_usdc(&net, &bob, "100").parse().unwrap();
    alice.ok(&["pay", "--to", "bob", "--amount", "1", "--count", "40"]);
    assert_eq!(bob.channel()["version"], 40);

    // Alice cheats: she stops her (honest) channel node, which would
    // dispute its own owner's stale close, and closes alone with the opening
    // state (version 0, all hers), signing the transaction herself.
    drop(alice);
    close_alone_with_the_opening_state(&net.rpc, &net.dir, &id);

    // Bob's node disputes with version 40 within the window; the register
    // then pays exactly the newest state.
    let started = Instant::now();
    let answer = loop {
        let a = channel_on_chain(&net, &id).unwrap();
        if a.channel.state.version == 40 {
            break a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no dispute: register at version {}",
            a.channel.state.version
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(answer.payouts, [60 * USDC, 40 * USDC]);
    assert!(matches!(
        answer.channel.status,
        lakh_types::modules::channel::ChannelStatus::Closing { .. }
    ));
    // Bob's node reports the dispute once its transaction is final.
    let started = Instant::now();
    loop {
        let events = std::fs::read_to_string(bob.data.join("serve-stdout.log")).unwrap();
        if events.contains("\"disputed\"") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{events}");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Bob's node sees the channel closing, with the chain's deadline.
    let started = Instant::now();
    while bob.channel()["phase"] != "closing" {
        assert!(started.elapsed() < Duration::from_secs(20));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Alice's stale close: `close` with no state (the chain's register, the
/// opening state), signed with her key outside her channel node.
fn close_alone_with_the_opening_state(rpc: &str, net_dir: &Path, id: &ChannelId) {
    let key = key_of(net_dir, "alice");
    let reference: ChannelRef = channel_at(rpc, id).unwrap().channel.reference();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = LakhClient::connect(rpc).unwrap();
    rt.block_on(async {
        use commonware_cryptography::Signer;
        let sender = Address::from(key.public_key());
        let account = client.account(sender, false).await.unwrap();
        let tx = Transaction {
            chain_id: client.chain_id().await.unwrap(),
            sender,
            nonce: account.pending_nonce.unwrap_or(0).max(account.nonce),
            max_fee: 10_000_000,
            action: Action::Channel(Box::new(ChannelAction::Close {
                channel: reference,
                state: None,
            })),
        }
        .sign(&key);
        let id = client.submit(&tx).await.unwrap();
        let done = client
            .wait_for_finality(id, Duration::from_secs(30))
            .await
            .unwrap();
        assert!(done.receipt.status.is_success(), "{:?}", done.receipt);
    });
}

/// A one-validator network from `lakh genesis` with `block.heartbeat_ms` 0
/// (a block per consensus round), so the 3,600-block challenge window
/// passes in one to two minutes rather than an hour. Killed on drop.
struct FastNet {
    child: Child,
    rpc: String,
    dir: PathBuf,
}

impl FastNet {
    fn start(dir: &Path) -> FastNet {
        let out = Command::new(BIN)
            .args(["genesis", "--validators", "1", "--json", "--out"])
            .arg(dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let path = dir.join("genesis.json");
        let mut g: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        g["block"]["heartbeat_ms"] = 0.into();
        std::fs::write(&path, g.to_string()).unwrap();
        let rpc = format!("http://127.0.0.1:{}", free_port());
        let child = Command::new(BIN)
            .args(["node", "--config"])
            .arg(dir.join("node-0.toml"))
            .args(["--rpc-addr", rpc.trim_start_matches("http://")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("node-stderr.log")).unwrap())
            .spawn()
            .unwrap();
        let net = FastNet {
            child,
            rpc,
            dir: dir.to_path_buf(),
        };
        let started = Instant::now();
        while !net.wallet(&["head"]).status.success() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "node did not start"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        net
    }

    fn wallet(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(["wallet", "--json", "--rpc", &self.rpc])
            .arg("--keys")
            .arg(self.dir.join("keys"))
            .args(args)
            .output()
            .unwrap()
    }

    fn usdc(&self, who: &str) -> u128 {
        let out = self.wallet(&["balance", who]);
        assert!(out.status.success(), "{out:?}");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["balances"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["symbol"] == "USDC")
            .map_or(0, |e| amount(&e["amount"]))
    }
}

impl Drop for FastNet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The whole unilateral path: a stale close, the watchtower's dispute, and
/// after the window its settle, which pays exactly the newest state. Waiting
/// out the window takes one to two minutes, so CI skips it; run it with
/// `cargo test -p lakh --test channel_node -- --ignored`.
#[test]
#[ignore = "waits out a 3,600-block challenge window (one to two minutes)"]
fn a_stale_close_is_disputed_then_settled_with_the_newest_state() {
    let dir = tempfile::tempdir().unwrap();
    let net = FastNet::start(&dir.path().join("net"));
    let keys = net.dir.join("keys");
    let serve = |key: &str, port| {
        Serve::spawn(
            key,
            port,
            dir.path().join(format!("channel-{key}")),
            keys.clone(),
            net.rpc.clone(),
        )
    };
    let alice = serve("alice", free_port());
    let bob = serve("bob", free_port());
    let (alice0, bob0) = (net.usdc("alice"), net.usdc("bob"));
    let bob_addr = {
        use commonware_cryptography::Signer;
        Address::from(&key_of(&net.dir, "bob").public_key())
    };
    let opened = alice.ok(&[
        "open",
        "--peer",
        &format!("{bob_addr}@127.0.0.1:{}", bob.port),
        "--asset",
        "USDC",
        "--deposit",
        "100",
    ]);
    let id: ChannelId = opened["id"].as_str().unwrap().parse().unwrap();
    alice.ok(&["pay", "--to", "bob", "--amount", "1", "--count", "40"]);
    drop(alice);
    close_alone_with_the_opening_state(&net.rpc, &net.dir, &id);

    let started = Instant::now();
    loop {
        match channel_at(&net.rpc, &id) {
            // Paid out: settled and removed (it holds no locks).
            None => break,
            Some(a) => assert!(
                started.elapsed() < Duration::from_secs(400),
                "not settled: {:?} at height {}",
                a.channel.status,
                a.height
            ),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(net.usdc("alice"), alice0 - 40 * USDC);
    assert_eq!(net.usdc("bob"), bob0 + 40 * USDC);
    let events = std::fs::read_to_string(bob.data.join("serve-stdout.log")).unwrap();
    assert!(events.contains("\"disputed\""), "{events}");
    assert!(events.contains("\"settled\""), "{events}");
}

#[test]
fn a_watchtower_disputes_for_a_node_that_is_offline() {
    let dir = tempfile::tempdir().unwrap();
    let net = start_net(dir.path());
    let alice = Serve::start(&net, dir.path(), "alice", free_port());
    let bob = Serve::start(&net, dir.path(), "bob", free_port());
    let carol = Serve::start(&net, dir.path(), "carol", free_port());
    let id: ChannelId = alice.open_usdc(&net, &bob, "100").parse().unwrap();
    alice.ok(&["pay", "--to", "bob", "--amount", "1", "--count", "25"]);
    // Bob hands his latest state to carol's node, then goes offline.
    let sent = bob.ok(&["watch", "--tower", &carol.peer(&net)]);
    assert_eq!(sent["sent"], 1);
    let started = Instant::now();
    while carol.ok(&["list"])["watched"] != 1 {
        assert!(started.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(bob);
    drop(alice);
    close_alone_with_the_opening_state(&net.rpc, &net.dir, &id);

    let started = Instant::now();
    let answer = loop {
        let a = channel_on_chain(&net, &id).unwrap();
        if a.channel.state.version == 25 {
            break a;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the tower did not dispute: register at version {}",
            a.channel.state.version
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(answer.payouts, [75 * USDC, 25 * USDC]);
    let started = Instant::now();
    loop {
        let events = std::fs::read_to_string(carol.data.join("serve-stdout.log")).unwrap();
        if events.contains("\"disputed\"") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{events}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits up to 20 s for `done`.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_payment_routed_through_the_middle_node_settles_exactly_on_chain() {
    let dir = tempfile::tempdir().unwrap();
    let net = start_net(dir.path());
    let alice = Serve::start(&net, dir.path(), "alice", free_port());
    let bob = Serve::start(&net, dir.path(), "bob", free_port());
    let carol = Serve::start(&net, dir.path(), "carol", free_port());
    let (alice0, bob0, carol0) = (usdc(&net, "alice"), usdc(&net, "bob"), usdc(&net, "carol"));
    let open = |from: &Serve, to: &Serve, deposit: &str| from.open_usdc(&net, to, deposit);
    open(&alice, &bob, "100");
    let bc = open(&bob, &carol, "50");

    // 1,000 payments alice → bob, then 7 USDC alice → carol through bob.
    let r = alice.ok(&["pay", "--to", "bob", "--amount", "0.01", "--count", "1000"]);
    assert_eq!(r["version"], 1000);
    let routed = alice.ok(&["pay", "--to", "carol", "--via", "bob", "--amount", "7"]);
    assert_eq!(amount(&routed["amount"]), 7 * USDC);
    let secret: lakh_types::modules::channel::Hash32 =
        serde_json::from_value(routed["secret"].clone()).unwrap();
    assert_eq!(
        serde_json::to_value(lakh_types::modules::channel::hash32(&secret)).unwrap(),
        routed["hash_lock"]
    );
    // Both locks are paid off chain.
    let settled = |node: &Serve, peer: &str, mine: u128| {
        let c = node.channel_with(&net, peer);
        amount(&c["locked"]) == 0 && amount(&c["mine"]) == mine
    };
    eventually("the routed payment's locks paid", || {
        settled(&alice, "bob", 83 * USDC)
            && settled(&bob, "alice", 17 * USDC)
            && settled(&bob, "carol", 43 * USDC)
            && settled(&carol, "bob", 7 * USDC)
    });

    // Bob withdraws 3 USDC from his channel with carol, which stays open;
    // carol's node takes the withdrawn state once the chain shows it.
    let w = bob.ok(&["withdraw", "--channel", &bc, "--amount", "3"]);
    assert_eq!(amount(&w["mine"]), 40 * USDC);
    assert_eq!(w["phase"], "open");
    eventually("carol sees the withdrawal", || {
        carol.channel_with(&net, "bob")["withdrawing"] == false
            && carol.channel_with(&net, "bob")["version"] == w["version"]
    });

    // Cooperative closes pay exactly the off-chain balances.
    alice.ok(&["close", "--peer", "bob"]);
    bob.ok(&["close", "--peer", "carol"]);
    assert_eq!(usdc(&net, "alice"), alice0 - 100 * USDC + 83 * USDC);
    assert_eq!(
        usdc(&net, "bob"),
        bob0 - 50 * USDC + 17 * USDC + 3 * USDC + 40 * USDC
    );
    assert_eq!(usdc(&net, "carol"), carol0 + 7 * USDC);
}

/// Reads frames from a hand-driven peer's connection until `pick` takes one.
async fn next_matching<T>(
    conn: &mut lakh_channel_node::peer::Authenticated,
    mut pick: impl FnMut(lakh_channel_node::wire::Msg) -> Option<T>,
) -> T {
    loop {
        let read = lakh_channel_node::peer::read_frame(&mut conn.reader);
        let m = tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("the node sent nothing in 30 s")
            .unwrap();
        if let Some(t) = pick(m) {
            return t;
        }
    }
}

/// Alice pays carol 7 USDC through bob (both `serve` processes); carol,
/// driven by hand, takes bob's lock but never reveals its secret to him:
/// she disconnects and reveals it on chain only. Bob's watch loop reads the
/// secret from the chain, stores it and passes it upstream, so alice pays
/// his lock off chain: bob ends with exactly the 7 USDC upstream, on chain
/// after a cooperative close. Alice's watch loop polls once a minute, so
/// within the test only bob reads the chain.
#[test]
fn an_intermediary_reads_a_secret_revealed_only_on_chain_and_is_paid_upstream() {
    secret_revealed_only_on_chain(true);
}

/// As above, but carol refuses bob's lock (keeping his signature on the
/// state with it, with which she could close and be paid) and ignores the
/// state bob then proposes to supersede it. Bob does not fail the payment
/// back to alice while that state can pay carol: when carol reveals on
/// chain, he is paid upstream all the same.
#[test]
fn an_intermediary_whose_lock_was_refused_is_still_paid_upstream_when_the_secret_shows_on_chain() {
    secret_revealed_only_on_chain(false);
}

fn secret_revealed_only_on_chain(carol_countersigns: bool) {
    use lakh_channel_node::chain::Chain;
    use lakh_channel_node::htlc::Invoice;
    use lakh_channel_node::wire::Msg;
    use lakh_types::modules::channel::hash32;
    let dir = tempfile::tempdir().unwrap();
    let net = start_net(dir.path());
    let alice = Serve::start_polling(&net, dir.path(), "alice", free_port(), 60_000);
    let bob = Serve::start(&net, dir.path(), "bob", free_port());
    let carol_key = key_of(&net.dir, "carol");
    let carol_addr = address(&net, "carol");
    let (alice0, bob0, carol0) = (usdc(&net, "alice"), usdc(&net, "bob"), usdc(&net, "carol"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let carol_at = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());

    // Bob opens 50 USDC to carol, who joins by hand.
    let opening = bob
        .command(&[
            "open",
            "--peer",
            &format!("{carol_addr}@{carol_at}"),
            "--asset",
            "USDC",
            "--deposit",
            "50",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut carol = rt.block_on(async {
        let (stream, _) = listener.accept().await.unwrap();
        let mut conn = lakh_channel_node::peer::handshake(stream, &carol_key, &carol_at, None)
            .await
            .unwrap();
        let channel = next_matching(&mut conn, |m| match m {
            Msg::Opened { channel, .. } => Some(channel.id),
            _ => None,
        })
        .await;
        use tokio::io::AsyncWriteExt;
        conn.writer
            .write_all(&Msg::Joined { channel }.frame())
            .await
            .unwrap();
        conn
    });
    let opening = opening.wait_with_output().unwrap();
    assert!(opening.status.success(), "{opening:?}");
    alice.open_usdc(&net, &bob, "100");

    // Alice pays carol through bob; carol gives her invoice and
    // countersigns bob's lock, then leaves without revealing.
    let mut paying = alice
        .command(&["pay", "--to", "carol", "--via", "bob", "--amount", "7"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let secret = rt.block_on(async {
        use tokio::io::AsyncWriteExt;
        let (id, payer, amount) = next_matching(&mut carol, |m| match m {
            Msg::InvoiceAsk {
                id, payer, amount, ..
            } => Some((id, payer, amount)),
            _ => None,
        })
        .await;
        assert_eq!((payer, amount), (address(&net, "alice"), 7 * USDC));
        let (secret, invoice) = Invoice::create(&carol_key, amount, payer);
        let give = Msg::InvoiceGive { id, invoice };
        carol.writer.write_all(&give.frame()).await.unwrap();
        let (state, lock) = next_matching(&mut carol, |m| match m {
            Msg::AddLock { state, lock, .. } => Some((state, lock)),
            _ => None,
        })
        .await;
        assert_eq!((lock.amount, lock.hash_lock), (7 * USDC, hash32(&secret)));
        if carol_countersigns {
            let countersign = Msg::Countersign {
                channel: state.channel,
                version: state.version,
                signature: state.sign(&carol_key),
            };
            carol.writer.write_all(&countersign.frame()).await.unwrap();
        } else {
            let refusal = Msg::refuse(state.channel, state.version, "unknown_hash", "not mine");
            carol.writer.write_all(&refusal.frame()).await.unwrap();
            let superseding = next_matching(&mut carol, |m| match m {
                Msg::Update { state, .. } => Some(state),
                _ => None,
            })
            .await;
            assert_eq!(superseding.version, state.version + 1);
        }
        secret
    });
    let bob_locked = if carol_countersigns { 7 * USDC } else { 0 };
    eventually("bob's lock to carol answered", || {
        amount(&bob.channel_with(&net, "carol")["locked"]) == bob_locked
    });
    if !carol_countersigns {
        // Carol could still be paid by the refused lock: bob keeps alice's.
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            paying.try_wait().unwrap().is_none(),
            "alice's payment ended"
        );
        assert_eq!(amount(&alice.channel_with(&net, "bob")["locked"]), 7 * USDC);
    }
    drop(carol);
    drop(listener);

    // Carol reveals on chain only.
    rt.block_on(async {
        let chain = Chain::connect(&net.rpc, carol_key.clone()).await.unwrap();
        chain
            .send(ChannelAction::RevealSecret { secret })
            .await
            .unwrap();
    });

    // Bob learns it from the chain; alice's payment completes with it and
    // she pays bob's lock off chain.
    let paid = paying.wait_with_output().unwrap();
    assert!(paid.status.success(), "{paid:?}");
    let report: Value = serde_json::from_slice(&paid.stdout).unwrap();
    assert_eq!(report["secret"], serde_json::to_value(secret).unwrap());
    eventually("alice's lock paid to bob", || {
        let (a, b) = (
            alice.channel_with(&net, "bob"),
            bob.channel_with(&net, "alice"),
        );
        amount(&a["locked"]) == 0
            && amount(&a["mine"]) == 93 * USDC
            && amount(&b["locked"]) == 0
            && amount(&b["mine"]) == 7 * USDC
    });
    let events = std::fs::read_to_string(bob.data.join("serve-stdout.log")).unwrap();
    assert!(events.contains("\"secret_from_chain\""), "{events}");

    // On chain: bob has the 7 USDC upstream (his 50 stay with carol's
    // channel, whose lock pays her when it settles).
    alice.ok(&["close", "--peer", "bob"]);
    assert_eq!(usdc(&net, "alice"), alice0 - 7 * USDC);
    assert_eq!(usdc(&net, "bob"), bob0 - 50 * USDC + 7 * USDC);
    assert_eq!(usdc(&net, "carol"), carol0);
}

/// Bob, driven by hand over the peer protocol (the test holds his key): an
/// intermediary that takes locks and countersigns them, but never settles
/// them off chain. Secrets carol reveals to him are kept, not used.
struct HandDriven {
    key: lakh_types::PrivateKey,
    conn: lakh_channel_node::peer::Authenticated,
    reference: ChannelRef,
    /// The latest co-signed state, its signatures (bob's, carol's) and locks.
    latest: (
        lakh_types::modules::channel::ChannelState,
        [lakh_types::modules::channel::Sig64; 2],
        Vec<lakh_types::modules::channel::Lock>,
    ),
}

impl HandDriven {
    async fn send(&mut self, m: lakh_channel_node::wire::Msg) {
        use tokio::io::AsyncWriteExt;
        self.conn.writer.write_all(&m.frame()).await.unwrap();
    }

    async fn next(&mut self) -> lakh_channel_node::wire::Msg {
        let read = lakh_channel_node::peer::read_frame(&mut self.conn.reader);
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .expect("carol's node answered nothing in 30 s")
            .unwrap()
    }

    /// Proposes `state` (with `locks`) in the message `wrap` makes of (base,
    /// state, bob's signature); returns what else carol sent before her
    /// countersignature.
    async fn propose(
        &mut self,
        state: lakh_types::modules::channel::ChannelState,
        locks: Vec<lakh_types::modules::channel::Lock>,
        wrap: impl FnOnce(
            u64,
            lakh_types::modules::channel::ChannelState,
            lakh_types::modules::channel::Sig64,
        ) -> lakh_channel_node::wire::Msg,
    ) -> Vec<lakh_channel_node::wire::Msg> {
        use lakh_channel_node::wire::Msg;
        let mine = state.sign(&self.key);
        self.send(wrap(self.latest.0.version, state.clone(), mine))
            .await;
        let mut other = Vec::new();
        loop {
            match self.next().await {
                Msg::Countersign {
                    version, signature, ..
                } if version == state.version => {
                    self.latest = (state, [mine, signature], locks);
                    return other;
                }
                Msg::Refuse { code, reason, .. } => panic!("carol refused: {code} {reason}"),
                m => other.push(m),
            }
        }
    }
}

/// The on-chain side of hash locks, end to end: carol (a `serve` process)
/// holds a channel with bob (driven by hand) that is closed alone while it
/// still holds two locks: one bob pays carol, whose secret carol knows (bob
/// never pays it off chain), and one carol pays bob for a payment to dave,
/// whose secret nobody reveals. Carol's node reveals the first secret on
/// chain before its lock's expiry, settles after the window, and unlocks:
/// the first lock pays carol, the second is refunded to her. On chain bob
/// and carol end with exactly the channel's outcome (nothing created or
/// lost). Waits out a 3,600-block window on a heartbeat-0 network (35-40 s
/// here, more on a loaded machine), so CI skips it; run it with
/// `cargo test -p lakh --test channel_node -- --ignored`.
#[test]
#[ignore = "waits out a 3,600-block challenge window (35-40 s on a heartbeat-0 network)"]
fn a_closed_channel_reveals_settles_and_unlocks_its_pending_locks_on_chain() {
    use lakh_channel_node::chain::Chain;
    use lakh_channel_node::htlc::{Invoice, with_lock};
    use lakh_channel_node::wire::Msg;
    use lakh_types::modules::channel::{
        ChannelState, Lock, MIN_CHALLENGE_BLOCKS, SignedState, channel_id, hash32,
    };
    let dir = tempfile::tempdir().unwrap();
    let net = FastNet::start(&dir.path().join("net"));
    let keys = net.dir.join("keys");
    let carol = Serve::spawn(
        "carol",
        free_port(),
        dir.path().join("channel-carol"),
        keys.clone(),
        net.rpc.clone(),
    );
    let bob_key = key_of(&net.dir, "bob");
    let carol_addr = {
        use commonware_cryptography::Signer;
        Address::from(&key_of(&net.dir, "carol").public_key())
    };
    let (bob0, carol0) = (net.usdc("bob"), net.usdc("carol"));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    // Bob opens a 100 USDC channel on chain and announces it to carol.
    let chain = rt
        .block_on(Chain::connect(&net.rpc, bob_key.clone()))
        .unwrap();
    let participants = {
        use commonware_cryptography::Signer;
        [Address::from(&bob_key.public_key()), carol_addr]
    };
    let usdc_id = lakh_types::AssetId(1);
    let counter = rt.block_on(chain.next_counter(participants)).unwrap();
    let reference = ChannelRef {
        id: channel_id(
            chain.chain_id(),
            &participants,
            usdc_id,
            counter,
            MIN_CHALLENGE_BLOCKS,
        ),
        participants,
        asset: usdc_id,
    };
    let id = reference.id;
    rt.block_on(chain.send(ChannelAction::Open {
        channel: reference,
        counter,
        challenge_blocks: MIN_CHALLENGE_BLOCKS,
        deposit: 100 * USDC,
    }))
    .unwrap();
    let opening = ChannelState::opening(id, 0, 100 * USDC);
    let mut bob = rt.block_on(async {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", carol.port))
            .await
            .unwrap();
        let conn = lakh_channel_node::peer::handshake(stream, &bob_key, "", Some(carol_addr))
            .await
            .unwrap();
        let signatures = [opening.sign(&bob_key); 2];
        let mut bob = HandDriven {
            key: bob_key.clone(),
            conn,
            reference,
            latest: (opening.clone(), signatures, Vec::new()),
        };
        bob.send(Msg::Opened {
            channel: reference,
            challenge_blocks: MIN_CHALLENGE_BLOCKS,
        })
        .await;
        assert!(matches!(bob.next().await, Msg::Joined { .. }));
        bob
    });

    // Bob pays carol 30 USDC off chain.
    let mut paid = opening.clone();
    paid.version = 1;
    paid.balances = [70 * USDC, 30 * USDC];
    rt.block_on(
        bob.propose(paid.clone(), Vec::new(), |base, state, signature| {
            Msg::Update {
                base,
                state,
                signature,
            }
        }),
    );

    // Lock 1: bob locks 10 USDC to carol under her invoice's hash; she
    // countersigns and reveals the secret, which bob never uses.
    let head = rt.block_on(chain.height()).unwrap();
    let (lock1, secret1) = rt.block_on(async {
        bob.send(Msg::InvoiceAsk {
            id: lakh_types::modules::shielded::FixedBytes([1; 32]),
            payer: participants[0],
            payee: carol_addr,
            amount: 10 * USDC,
        })
        .await;
        let Msg::InvoiceGive { invoice, .. } = bob.next().await else {
            panic!("expected carol's invoice");
        };
        // Expires well before the window ends, late enough for carol to
        // reveal after the close however fast blocks come.
        let lock = Lock {
            payer: 0,
            amount: 10 * USDC,
            hash_lock: invoice.hash_lock,
            expiry_height: head + 3_000,
        };
        let (mut state, locks) = with_lock(&paid, &[], &lock).unwrap();
        state.version = 2;
        let sent = lock.clone();
        let mut other = bob
            .propose(state, locks, |base, state, signature| Msg::AddLock {
                base,
                state,
                signature,
                lock: sent,
                payee: carol_addr,
            })
            .await;
        if other.is_empty() {
            other.push(bob.next().await);
        }
        let Some(Msg::Reveal { hash_lock, secret }) = other.pop() else {
            panic!("expected carol's secret, got {other:?}");
        };
        assert_eq!(hash_lock, lock.hash_lock);
        (lock, secret)
    });
    assert_eq!(hash32(&secret1), lock1.hash_lock);

    // Lock 2: carol pays dave 5 USDC through bob; bob answers with dave's
    // invoice and countersigns carol's lock, but nobody ever reveals.
    let dave_key = key_of(&net.dir, "dave");
    let paying = Command::new(BIN)
        .args(["channel", "--json", "--control", &carol.control])
        .arg("--keys")
        .arg(&keys)
        .args(["pay", "--to", "dave", "--via", "bob", "--amount", "5"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lock2 = rt.block_on(async {
        let Msg::InvoiceAsk {
            id, payer, amount, ..
        } = bob.next().await
        else {
            panic!("expected carol's invoice ask");
        };
        let (_never_revealed, invoice) = Invoice::create(&dave_key, amount, payer);
        bob.send(Msg::InvoiceGive { id, invoice }).await;
        let Msg::AddLock {
            base,
            state,
            signature,
            lock,
            ..
        } = bob.next().await
        else {
            panic!("expected carol's lock");
        };
        let (latest, latest_locks) = (bob.latest.0.clone(), bob.latest.2.clone());
        let (mut expected, locks) = with_lock(&latest, &latest_locks, &lock).unwrap();
        expected.version = state.version;
        assert_eq!((base, &state, lock.payer), (2, &expected, 1));
        let mine = state.sign(&bob.key);
        let version = state.version;
        bob.latest = (state, [mine, signature], locks);
        bob.send(Msg::Countersign {
            channel: bob.reference.id,
            version,
            signature: mine,
        })
        .await;
        lock
    });
    assert_eq!(lock2.amount, 5 * USDC);
    eventually("carol holds both locks", || {
        let c = carol.channel();
        c["version"] == 3 && c["locks"] == 2 && amount(&c["locked"]) == 15 * USDC
    });

    // Bob closes alone with the state holding both locks.
    let (state, signatures, _) = bob.latest.clone();
    assert_eq!(state.balances, [60 * USDC, 25 * USDC]);
    rt.block_on(chain.send(ChannelAction::Close {
        channel: reference,
        state: Some(SignedState { state, signatures }),
    }))
    .unwrap();

    // Carol's node reveals her secret on chain before the lock's expiry.
    let started = Instant::now();
    let revealed_height = loop {
        if let Some(h) = rt
            .block_on(chain.secret_revealed(&lock1.hash_lock))
            .unwrap()
        {
            break h;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "carol did not reveal"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(revealed_height <= lock1.expiry_height);

    // After the window: settled, unlocked, paid out.
    let started = Instant::now();
    while let Some(a) = channel_at(&net.rpc, &id) {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "not paid out: {:?} at height {}",
            a.channel.status,
            a.height
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    // Carol: her 25 USDC balance, lock 1 (paid: revealed in time) and lock 2
    // (refunded: never revealed). Bob: his 60 of the 100 he put in.
    assert_eq!(net.usdc("carol"), carol0 + 40 * USDC);
    assert_eq!(net.usdc("bob"), bob0 - 40 * USDC);
    let custody = Address::module("channel", &id.0);
    assert_eq!(net.usdc(&custody.to_hex()), 0);
    assert_eq!(
        rt.block_on(chain.secret_revealed(&lock2.hash_lock))
            .unwrap(),
        None
    );
    let events = std::fs::read_to_string(carol.data.join("serve-stdout.log")).unwrap();
    for event in ["\"revealed\"", "\"settled\"", "\"unlocked\""] {
        assert!(events.contains(event), "no {event}: {events}");
    }
    eventually("carol sees the channel closed", || {
        carol.channel()["phase"] == "closed"
    });
    // Carol's routed payment never got its secret.
    let out = paying.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("timeout"), "{err}");
}

/// The error code `lakh channel` printed for a failed command.
fn failed_with(out: &std::process::Output, code: &str) {
    assert!(!out.status.success(), "expected {code}, it succeeded");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(code), "expected {code}: {err}");
}

/// PayWord from the CLI: alice opens a one-way channel to bob on chain (10
/// USDC in 1,000 payments of 0.01), pays words, and bob closes it by
/// claiming with the deepest word: the chain pays him exactly what he
/// received and alice the rest. Mistakes are refused with stable codes.
/// Bob's watch loop polls once an hour, so he claims by hand, not it.
#[test]
fn a_payword_channel_opened_paid_and_claimed_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let net = start_net(dir.path());
    let alice = Serve::start(&net, dir.path(), "alice", free_port());
    let bob = Serve::start_polling(&net, dir.path(), "bob", free_port(), 3_600_000);
    let (alice0, bob0) = (usdc(&net, "alice"), usdc(&net, "bob"));
    let peer = bob.peer(&net);
    let open = |deposit: &str, payments: &str| {
        let args = [
            "open",
            "--payword",
            "--payments",
            payments,
            "--peer",
            &peer,
            "--asset",
            "USDC",
            "--deposit",
            deposit,
        ];
        alice.run(&args)
    };
    // A deposit that does not split into equal payments: nothing on chain.
    failed_with(&open("10", "3"), "invalid_input");
    assert_eq!(usdc(&net, "alice"), alice0);

    let out = open("10", "1000");
    assert!(out.status.success(), "{out:?}");
    let opened: Value = serde_json::from_slice(&out.stdout).unwrap();
    let id = opened["id"].as_str().unwrap().to_string();
    assert_eq!(opened["role"], "payer");
    assert_eq!(amount(&opened["unit_amount"]), USDC / 100);
    assert_eq!(opened["length"], 1000);
    assert_eq!(usdc(&net, "alice"), alice0 - 10 * USDC);

    // 250 payments of one word; each side killed and restarted (the payer's
    // seed and the payee's deepest word are on disk: paying goes on from
    // the payee's depth); then 5 payments of three words (0.03 each).
    let pay = |alice: &Serve, args: &[&str]| {
        let mut all = vec!["pay", "--payword", "--to", "bob"];
        all.extend_from_slice(args);
        alice.run(&all)
    };
    let r = pay(&alice, &["--amount", "0.01", "--count", "250"]);
    assert!(r.status.success(), "{r:?}");
    let alice = alice.kill9_and_restart();
    let r = pay(&alice, &["--amount", "0.01", "--count", "5"]);
    assert!(r.status.success(), "{r:?}");
    let bob = bob.kill9_and_restart();
    let r = pay(&alice, &["--amount", "0.03", "--count", "5"]);
    assert!(r.status.success(), "{r:?}");
    let r: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        (r["words"].clone(), r["depth"].clone()),
        (15.into(), 270.into())
    );
    assert_eq!(r["remaining"], 730);
    // Not a whole number of units; more words than the chain has left.
    failed_with(&pay(&alice, &["--amount", "0.015"]), "invalid_input");
    failed_with(&pay(&alice, &["--amount", "7.31"]), "insufficient");

    // The payer closes alone: the window starts, no more words are sent,
    // and the payee may still claim in it.
    let closing = alice.ok(&["close", "--channel", &id]);
    let on_chain = channel_on_chain(&net, &id.parse().unwrap()).unwrap();
    let lakh_types::modules::channel::ChannelStatus::Closing {
        deadline_height, ..
    } = on_chain.channel.status
    else {
        panic!("not closing: {:?}", on_chain.channel.status);
    };
    assert_eq!(closing["phase"], "closing");
    assert_eq!(closing["deadline_height"], deadline_height);
    assert_eq!(amount(&closing["theirs"]), 270 * USDC / 100);
    assert_eq!(amount(&closing["mine"]), 730 * USDC / 100);
    failed_with(&pay(&alice, &["--amount", "0.01"]), "unknown_channel");

    let seen = bob.ok(&["list"]);
    let held = &seen["paywords"][0];
    assert_eq!(
        (held["role"].clone(), held["depth"].clone()),
        ("payee".into(), 270.into())
    );
    let claimed = bob.ok(&["close", "--channel", &id]);
    assert_eq!(amount(&claimed["paid"]), 270 * USDC / 100);
    assert!(channel_on_chain(&net, &id.parse().unwrap()).is_none());
    assert_eq!(usdc(&net, "bob"), bob0 + 270 * USDC / 100);
    assert_eq!(usdc(&net, "alice"), alice0 - 270 * USDC / 100);
    assert!(bob.ok(&["list"])["paywords"].as_array().unwrap().is_empty());
    // The payer's watch loop sees it gone and forgets it.
    eventually("alice forgets the claimed channel", || {
        alice.ok(&["list"])["paywords"]
            .as_array()
            .unwrap()
            .is_empty()
    });
}

/// A PayWord payer whose payee never claims: alice pays bob 2.5 USDC in
/// words, bob never claims, alice closes alone and her watch loop settles
/// after the window, which returns her whole 10 USDC deposit (the payee's
/// words are worth only what it claims in the window). Waits out a
/// 3,600-block window on a heartbeat-0 network, so CI skips it; run it with
/// `cargo test -p lakh --test channel_node -- --ignored`.
#[test]
#[ignore = "waits out a 3,600-block challenge window (35-40 s on a heartbeat-0 network)"]
fn a_payword_payer_whose_payee_never_claims_gets_its_deposit_back_after_the_window() {
    let dir = tempfile::tempdir().unwrap();
    let net = FastNet::start(&dir.path().join("net"));
    let keys = net.dir.join("keys");
    let spawn = |key: &str| {
        let data = dir.path().join(format!("channel-{key}"));
        Serve::spawn(key, free_port(), data, keys.clone(), net.rpc.clone())
    };
    let (alice, bob) = (spawn("alice"), spawn("bob"));
    let (alice0, bob0) = (net.usdc("alice"), net.usdc("bob"));
    let peer = format!("{}@127.0.0.1:{}", address_in(&net.dir, "bob"), bob.port);
    let id = alice.payword_paid(&peer, "bob", "250");
    assert_eq!(net.usdc("alice"), alice0 - 10 * USDC);
    drop(bob);

    let closing = alice.ok(&["close", "--channel", &id]);
    assert_eq!(closing["phase"], "closing");
    let started = Instant::now();
    while channel_at(&net.rpc, &id.parse().unwrap()).is_some() {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "alice's node did not settle"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_eq!(net.usdc("alice"), alice0);
    assert_eq!(net.usdc("bob"), bob0);
    let events = std::fs::read_to_string(alice.data.join("serve-stdout.log")).unwrap();
    assert!(events.contains("\"settled\""), "{events}");
    eventually("alice forgets the settled channel", || {
        alice.ok(&["list"])["paywords"]
            .as_array()
            .unwrap()
            .is_empty()
    });
}

/// A PayWord payer who closes alone cannot take back what it paid: alice
/// pays bob 2.5 USDC in words and closes alone; bob's watch loop sees the
/// close and claims with the deepest word in the window, on its own. The
/// chain pays bob exactly the 250 words and alice the rest.
#[test]
fn a_payword_payee_claims_on_its_own_when_the_payer_closes_alone() {
    let dir = tempfile::tempdir().unwrap();
    let net = start_net(dir.path());
    let alice = Serve::start(&net, dir.path(), "alice", free_port());
    let bob = Serve::start(&net, dir.path(), "bob", free_port());
    let (alice0, bob0) = (usdc(&net, "alice"), usdc(&net, "bob"));
    let peer = bob.peer(&net);
    let id: ChannelId = alice.payword_paid(&peer, "bob", "250").parse().unwrap();

    let closing = alice.ok(&["close", "--channel", &id.to_string()]);
    assert_eq!(closing["phase"], "closing");
    eventually("bob claims the channel alice closed", || {
        channel_on_chain(&net, &id).is_none()
    });
    assert_eq!(usdc(&net, "bob"), bob0 + 250 * USDC / 100);
    assert_eq!(usdc(&net, "alice"), alice0 - 250 * USDC / 100);
    let events = std::fs::read_to_string(bob.data.join("serve-stdout.log")).unwrap();
    assert!(
        events.contains("\"claimed\"") && events.contains("\"payer_closed\""),
        "{events}"
    );
    assert!(bob.ok(&["list"])["paywords"].as_array().unwrap().is_empty());
}
