//! End to end against real `lakh devnet` processes on loopback: the wallet
//! sends a transfer on a 4-validator devnet, waits for finality, reads the
//! receipt and verifies a balance proof (and a tampered one is refused);
//! ingest refuses bad transactions with the right reason; a devnet killed with
//! SIGKILL under load restarts with every finalized transaction kept once.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use commonware_cryptography::Signer;
use lakh_rpc::{client::LakhClient, finality, proof::verify_account_proof, types::TxStatusInfo};
use lakh_types::{Action, Address, AssetId, PrivateKey, Transaction, TransferEntry, TxStatus};
use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

mod common;
use common::{BIN, Devnet, free_port, key_of};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn transfer(
    key: &PrivateKey,
    chain_id: u64,
    nonce: u64,
    to: Address,
    amount: u128,
) -> lakh_types::SignedTransaction {
    Transaction {
        chain_id,
        sender: key.public_key().into(),
        nonce,
        max_fee: 1_000_000,
        action: Action::Transfer(TransferEntry {
            to,
            asset: AssetId::NATIVE,
            amount,
        }),
    }
    .sign(key)
}

#[test]
fn wallet_transfer_is_finalized_and_proven_on_four_validators() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(dir.path(), 4, free_port(), &[]);
    let log = net.stderr_log();
    assert!(
        !log.contains("WARN") && !log.contains("ERROR"),
        "a fresh devnet starts quietly, but it logged:\n{log}"
    );

    let sent = net.wallet_json(&[
        "transfer", "--from", "alice", "--to", "bob", "--amount", "12.345",
    ]);
    let id = sent["tx_id"].as_str().expect("tx id").to_string();
    let height = sent["height"].as_u64().expect("finalized height");
    assert!(height >= 1);
    assert_eq!(sent["receipt"]["status"]["status"], "success", "{sent}");

    let shown = net.wallet_json(&["tx", &id]);
    assert_eq!(shown["status"], "finalized", "{shown}");
    assert_eq!(shown["receipt"]["height"].as_u64(), Some(height));

    for who in ["alice", "bob"] {
        let history = net.wallet_json(&["history", who]);
        let listed = history["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["receipt"]["tx_id"] == id.as_str())
            .unwrap_or_else(|| panic!("{who}'s history lacks the transfer: {history}"));
        assert_eq!(listed["receipt"]["height"].as_u64(), Some(height));
    }

    let balance = net.wallet_json(&["balance", "bob", "--prove"]);
    assert_eq!(balance["proof"]["verified"], true, "{balance}");

    // The transfer's block (or, if it was finalized through a child, a
    // block just after it) carries a certificate the wallet checks against
    // the genesis committee.
    let certified = (height..height + 8)
        .find(|h| {
            net.wallet_output(&["finality", &h.to_string()])
                .status
                .success()
        })
        .expect("a certificate within 8 blocks of the transfer");
    let finality = net.wallet_json(&["finality", &certified.to_string()]);
    assert_eq!(finality["verified"], true, "{finality}");
    assert!(
        finality["signers"].as_array().unwrap().len() >= 3,
        "{finality}"
    );

    // The same proof, tampered, is refused by the client library.
    let rt = runtime();
    rt.block_on(async {
        let client = LakhClient::connect(&net.rpc).unwrap();
        let bob = Address::from(&key_of(dir.path(), "bob").public_key());
        let info = client.account(bob, true).await.unwrap();
        let proof = info.proof.clone().unwrap();
        let header = client
            .block_by_height(proof.height)
            .await
            .unwrap()
            .unwrap()
            .header;
        verify_account_proof(&info, &header).expect("genuine proof verifies");

        // A certificate with one flipped signature byte is refused.
        let genesis = std::fs::read_to_string(dir.path().join("genesis.json")).unwrap();
        let genesis = lakh_types::Genesis::from_json(&genesis).unwrap();
        let members = lakh_execution::modules::stake::genesis_committee(&genesis)
            .keys()
            .unwrap();
        let committee = finality::committee_verifier(members).unwrap();
        let mut cert = client.finality(certified).await.unwrap().unwrap();
        finality::verify_finality(&cert, 0, &committee).expect("genuine certificate verifies");
        let mut raw = hex::decode(&cert.finalization).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 0x01;
        cert.finalization = hex::encode(raw);
        assert!(finality::verify_finality(&cert, 0, &committee).is_err());

        let mut lying = info.clone();
        lying.balances[0].amount += 1;
        assert!(
            verify_account_proof(&lying, &header).is_err(),
            "inflated balance must be refused"
        );

        let mut tampered = info.clone();
        let entry = &mut tampered.proof.as_mut().unwrap().entries[0];
        let mut p = hex::decode(&entry.proof_hex).unwrap();
        let last = p.len() - 1;
        p[last] ^= 0x01;
        entry.proof_hex = hex::encode(p);
        assert!(
            verify_account_proof(&tampered, &header).is_err(),
            "tampered proof must be refused"
        );

        // Ingest refusals carry the right reason.
        let chain_id = client.chain_id().await.unwrap();
        let carol = key_of(dir.path(), "carol");
        let to = Address([7; 32]);
        let gap = transfer(&carol, chain_id, 1_000_000, to, 1);
        let err = client.submit(&gap).await.unwrap_err().to_string();
        assert!(err.contains("nonce_gap"), "{err}");
        let wrong_chain = transfer(&carol, chain_id + 1, 0, to, 1);
        let err = client.submit(&wrong_chain).await.unwrap_err().to_string();
        assert!(err.contains("wrong_chain_id"), "{err}");
        let good = transfer(&carol, chain_id, 0, to, 1);
        let mut raw = good.raw().to_vec();
        let n = raw.len();
        raw[n - 1] ^= 0x01;
        let forged = lakh_types::SignedTransaction::decode(bytes::Bytes::from(raw)).unwrap();
        let err = client.submit(&forged).await.unwrap_err().to_string();
        assert!(err.contains("bad_signature"), "{err}");
        let id = client.submit(&good).await.unwrap();
        client
            .wait_for_finality(id, Duration::from_secs(60))
            .await
            .unwrap();
        let err = client.submit(&good).await.unwrap_err().to_string();
        assert!(
            err.contains("nonce_reused") || err.contains("duplicate"),
            "{err}"
        );
    });
}

#[test]
fn restart_and_kill9_under_load_keep_every_finalized_transaction_once() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let net = Devnet::start(dir.path(), 1, port, &[]);
    let rt = runtime();
    let alice = key_of(dir.path(), "alice");
    let alice_addr = Address::from(&alice.public_key());
    let dave = Address::from(&key_of(dir.path(), "dave").public_key());

    let (finalized, head_before, root_before, start_balance) = rt.block_on(async {
        let client = LakhClient::connect(&net.rpc).unwrap();
        let chain_id = client.chain_id().await.unwrap();
        // Wait for block 1 (genesis allocation) before reading balances.
        let start = Instant::now();
        let start_balance = loop {
            if let Ok(info) = client.account(alice_addr, false).await {
                break info.balance_of(AssetId::NATIVE);
            }
            assert!(start.elapsed() < Duration::from_secs(60));
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let txs: Vec<_> = (0..400)
            .map(|n| transfer(&alice, chain_id, n, dave, 1 + n as u128))
            .collect();
        let mut ids = Vec::new();
        for chunk in txs.chunks(50) {
            for r in client.submit_batch(chunk).await.unwrap() {
                ids.push(r.expect("accepted"));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // Some are finalized, some may still be pending when the kill lands.
        let first = client
            .wait_for_finality(ids[0], Duration::from_secs(60))
            .await
            .unwrap();
        let mut finalized = Vec::new();
        for id in &ids {
            if let TxStatusInfo::Finalized {
                receipt,
                block_hash,
            } = client.tx_status(*id).await.unwrap()
            {
                finalized.push((receipt, block_hash));
            }
        }
        assert!(!finalized.is_empty() && first.receipt.height >= 1);
        let head = client.head().await.unwrap();
        (finalized, head.height, head.state_root, start_balance)
    });
    net.kill9();

    let net = Devnet::start(dir.path(), 1, port, &[]);
    rt.block_on(async {
        let client = LakhClient::connect(&net.rpc).unwrap();
        let block = client
            .block_by_height(head_before)
            .await
            .unwrap()
            .expect("old head kept");
        assert_eq!(
            block.header.state_root, root_before,
            "state root of height {head_before} changed"
        );
        for (receipt, hash) in &finalized {
            match client.tx_status(receipt.tx_id).await.unwrap() {
                TxStatusInfo::Finalized {
                    receipt: r,
                    block_hash,
                } => {
                    assert_eq!(&r, receipt);
                    assert_eq!(&block_hash, hash);
                }
                other => panic!(
                    "finalized tx {} lost after kill -9: {other:?}",
                    receipt.tx_id
                ),
            }
        }
        // Nothing applied twice: alice's balance and nonce account for exactly
        // the receipts of her finalized transactions.
        let head = client.head().await.unwrap();
        let info = client.account(alice_addr, false).await.unwrap();
        let mut spent: u128 = 0;
        let mut count = 0;
        for n in 0..info.nonce {
            let id = transfer(&alice, head.chain_id, n, dave, 1 + n as u128).id();
            match client.tx_status(id).await.unwrap() {
                TxStatusInfo::Finalized { receipt, .. } => {
                    assert_eq!(receipt.status, TxStatus::Success);
                    spent += receipt.fee_paid + 1 + n as u128;
                    count += 1;
                }
                other => panic!("nonce {n} consumed but tx {id} is {other:?}"),
            }
        }
        assert_eq!(count, info.nonce);
        assert!(info.nonce as usize >= finalized.len());
        assert_eq!(info.balance_of(AssetId::NATIVE), start_balance - spent);

        // The account index kept every finalized transfer to dave once, in
        // order, across the kill.
        let mut from_alice = Vec::new();
        let mut cursor = None;
        loop {
            let page = client.account_txs(dave, cursor, Some(100)).await.unwrap();
            for tx in &page.transactions {
                assert!(tx.receipt.accounts().contains(&dave), "{tx:?}");
                if tx.receipt.sender == alice_addr {
                    from_alice.push(tx.receipt.nonce);
                }
            }
            cursor = match page.next_cursor {
                Some(c) => Some(c),
                None => break,
            };
        }
        from_alice.reverse();
        assert_eq!(from_alice, (0..info.nonce).collect::<Vec<u64>>());
    });
}

/// A network of `validators` written by `lakh genesis` into a new directory.
fn write_genesis(validators: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "genesis",
            "--json",
            "--validators",
            &validators.to_string(),
            "--out",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Four `lakh node` processes of a network written by `lakh genesis` finalize
/// a wallet transfer: the separate-process path (genesis file, node configs,
/// authenticated p2p between processes).
#[test]
fn four_node_processes_from_a_genesis_finalize_a_transfer() {
    let dir = write_genesis(4);

    struct Killer(Vec<Child>);
    impl Drop for Killer {
        fn drop(&mut self) {
            for c in &mut self.0 {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let port = free_port();
    let mut nodes = Killer(Vec::new());
    let mut ready = None;
    for i in 0..4 {
        let mut cmd = Command::new(BIN);
        cmd.arg("node")
            .arg("--config")
            .arg(dir.path().join(format!("node-{i}.toml")))
            .stderr(Stdio::null());
        if i == 0 {
            cmd.args(["--rpc-addr", &format!("127.0.0.1:{port}")])
                .stdout(Stdio::piped());
        } else {
            cmd.stdout(Stdio::null());
        }
        let mut child = cmd.spawn().unwrap();
        if i == 0 {
            let stdout = child.stdout.take().unwrap();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if line.contains("RPC listening") {
                        let _ = tx.send(line);
                    }
                }
            });
            ready = Some(rx);
        }
        nodes.0.push(child);
    }
    ready
        .unwrap()
        .recv_timeout(Duration::from_secs(120))
        .expect("node 0 did not become live");
    let net = Devnet {
        child: Command::new("true").spawn().unwrap(),
        rpc: format!("http://127.0.0.1:{port}"),
        dir: dir.path().to_path_buf(),
        ready: serde_json::Value::Null,
    };
    let sent = net.wallet_json(&[
        "transfer", "--from", "bob", "--to", "carol", "--amount", "0.777",
    ]);
    assert_eq!(sent["receipt"]["status"]["status"], "success", "{sent}");
    let balance = net.wallet_json(&["balance", "carol", "--prove"]);
    assert_eq!(balance["proof"]["verified"], true, "{balance}");

    // Fees reach the validators that finalize, not only the proposer: every
    // one of the four signed carried finalizations, and the transfer's fee
    // went through the pot to more than one of them.
    let every_one_signed = |listed: &serde_json::Value| {
        listed["validators"]
            .as_array()
            .is_some_and(|v| v.iter().all(|v| v["signed_rounds"].as_u64() > Some(0)))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut listed = net.wallet_json(&["stake", "validators"]);
    while !every_one_signed(&listed) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        listed = net.wallet_json(&["stake", "validators"]);
    }
    assert!(every_one_signed(&listed), "{listed}");
    let validators = listed["validators"].as_array().unwrap();
    assert_eq!(validators.len(), 4, "{listed}");
    let mut paid = 0;
    for v in validators {
        let address = v["address"].as_str().unwrap();
        let record = net.wallet_json(&["stake", "validator", "--validator", address]);
        if record["commission_earned"] != "0" {
            paid += 1;
        }
    }
    assert!(paid >= 3, "fees reached {paid} of 4 validators: {listed}");
}

/// A node whose p2p port another process holds refuses to start, naming
/// the port, instead of failing inside its p2p listener.
#[test]
fn a_node_whose_p2p_port_is_taken_refuses_to_start_and_names_it() {
    let dir = write_genesis(1);
    let genesis: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("genesis.json")).unwrap())
            .unwrap();
    let address = genesis["validators"][0]["p2p_address"].as_str().unwrap();
    let port: u16 = address.rsplit(':').next().unwrap().parse().unwrap();
    let _held = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();

    let out = Command::new(BIN)
        .arg("node")
        .arg("--config")
        .arg(dir.path().join("node-0.toml"))
        .args(["--rpc-addr", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the node started on a taken port");
    assert!(
        stderr.contains(&format!("p2p port {port} is in use")),
        "{stderr}"
    );
}

/// `lakh devnet --validators 5 --committee-size 4 --epoch-blocks 30`: a
/// delegation to the validator on standby elects it at the end of the
/// epoch, it displaces one member and proposes blocks in the next epoch,
/// and transfers keep finalizing across the boundary.
#[test]
fn delegating_to_a_standby_validator_elects_it_at_the_next_boundary() {
    const EPOCH_BLOCKS: u64 = 30;
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(
        dir.path(),
        5,
        free_port(),
        &["--committee-size", "4", "--epoch-blocks", "30"],
    );
    let members = |listed: &serde_json::Value| -> Vec<String> {
        listed["validators"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| v["in_committee"] == true)
            .map(|v| v["address"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = net.wallet_json(&["stake", "validators"]);
    assert_eq!(
        listed["validators"].as_array().unwrap().len(),
        5,
        "{listed}"
    );
    let before = members(&listed);
    assert_eq!(before.len(), 4, "{listed}");
    // The wallet checks an epoch-0 certificate against the four elected
    // members, not against all five genesis validators.
    let certified = (1..10)
        .find(|h| {
            net.wallet_output(&["finality", &h.to_string()])
                .status
                .success()
        })
        .expect("a certified block among the first");
    let finality = net.wallet_json(&["finality", &certified.to_string()]);
    assert_eq!(finality["verified"], true, "{finality}");
    let joiner = listed["validators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["in_committee"] == false)
        .unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();

    let sent = net.wallet_json(&[
        "stake",
        "delegate",
        "--from",
        "alice",
        "--validator",
        &joiner,
        "--amount",
        "1000",
    ]);
    let delegated_at = sent["height"].as_u64().unwrap();
    let boundary = (delegated_at / EPOCH_BLOCKS + 1) * EPOCH_BLOCKS - 1;

    // Transfers finalize through the boundary, until the joiner has
    // proposed a block of the new epoch.
    let mut joiner_proposed = None;
    for _ in 0..200 {
        let t = net.wallet_json(&[
            "transfer", "--from", "bob", "--to", "carol", "--amount", "0.001",
        ]);
        assert_eq!(t["receipt"]["status"]["status"], "success", "{t}");
        let head = t["height"].as_u64().unwrap();
        if head <= boundary {
            continue;
        }
        joiner_proposed = (boundary + 1..=head).find(|h| {
            let block = net.wallet_json(&["block", &h.to_string()]);
            block["header"]["proposer"] == joiner.as_str()
        });
        if joiner_proposed.is_some() {
            break;
        }
    }
    assert!(
        joiner_proposed.is_some(),
        "the elected validator never proposed"
    );

    let boundary_block = net.wallet_json(&["block", &boundary.to_string()]);
    let elected = &boundary_block["header"]["next_committee"];
    assert_eq!(
        elected["epoch"],
        boundary / EPOCH_BLOCKS + 1,
        "{boundary_block}"
    );
    let listed = net.wallet_json(&["stake", "validators"]);
    let after = members(&listed);
    assert_eq!(after.len(), 4, "{listed}");
    assert!(after.contains(&joiner), "{listed}");
    let displaced: Vec<_> = before.iter().filter(|m| !after.contains(m)).collect();
    assert_eq!(displaced.len(), 1, "{listed}");
    assert!(
        listed["epoch"].as_u64().unwrap() > delegated_at / EPOCH_BLOCKS,
        "{listed}"
    );
}

/// `GET /metrics` on the devnet's RPC port: the body, after checking the
/// status and that every line is a comment or a `series value` sample.
fn scrape(rpc: &str) -> String {
    use std::io::{Read, Write};
    let authority = rpc.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("application/openmetrics-text"), "{head}");
    assert!(body.ends_with("# EOF\n"), "{body}");
    for line in body.lines().filter(|l| !l.starts_with('#')) {
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "{line}"
        );
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    body.to_string()
}

/// The value of sample `name` whose labels include `labels`.
fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            let matches = metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
            matches.then(|| value.parse().ok())?
        })
}

#[test]
fn metrics_count_what_the_chain_finalized_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let net = Devnet::start(dir.path(), 1, free_port(), &[]);
    let submit_ok = [("method", "lakh_submitTransaction"), ("status", "ok")];
    let gap = [("code", "nonce_gap")];
    let before = scrape(&net.rpc);
    let rt = runtime();
    rt.block_on(async {
        let client = LakhClient::connect(&net.rpc).unwrap();
        let chain_id = client.chain_id().await.unwrap();
        let alice = key_of(dir.path(), "alice");
        let to = Address([7; 32]);
        let mut ids = Vec::new();
        for nonce in 0..25 {
            ids.push(
                client
                    .submit(&transfer(&alice, chain_id, nonce, to, 1))
                    .await
                    .unwrap(),
            );
        }
        let err = client
            .submit(&transfer(&alice, chain_id, 1_000_000, to, 1))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("nonce_gap"), "{err}");
        for id in ids {
            client
                .wait_for_finality(id, Duration::from_secs(60))
                .await
                .unwrap();
        }

        // Every block of this fresh devnet finalized in this process, so the
        // counters add up to the chain's own blocks (a scrape between the
        // counter and the height gauge of one block is retried).
        let mut consistent = false;
        for _ in 0..20 {
            let text = scrape(&net.rpc);
            let value = |name| sample(&text, name, &[("validator", "0")]).unwrap();
            let height = value("lakh_finalized_height") as u64;
            let mut chain_txs = 0;
            for h in 1..=height {
                let block = client.block_by_height(h).await.unwrap().unwrap();
                chain_txs += block.header.tx_count;
            }
            if value("lakh_blocks_total") as u64 == height
                && value("lakh_transactions_total") as u64 == chain_txs
            {
                assert!(height >= 2 && chain_txs >= 25, "{height} {chain_txs}");
                assert!(value("lakh_height") as u64 >= height);
                consistent = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            consistent,
            "block and transaction counters never matched the chain"
        );
    });

    let after = scrape(&net.rpc);
    let count =
        |text: &str, name, labels: &[(&str, &str)]| sample(text, name, labels).unwrap_or(0.0);
    assert_eq!(
        count(&after, "lakh_rpc_requests_total", &submit_ok)
            - count(&before, "lakh_rpc_requests_total", &submit_ok),
        25.0
    );
    assert_eq!(
        count(
            &after,
            "lakh_rpc_requests_total",
            &[("method", "lakh_submitTransaction"), ("status", "-32050")]
        ),
        1.0,
        "the refused submission"
    );
    assert_eq!(
        count(&after, "lakh_refusals_total", &gap) - count(&before, "lakh_refusals_total", &gap),
        1.0
    );
    for stage in [
        "build",
        "read",
        "execute",
        "merkleize",
        "record",
        "record_ahead",
        "commit",
    ] {
        assert!(
            count(&after, "lakh_stage_seconds_count", &[("stage", stage)]) >= 1.0,
            "stage {stage}: {after}"
        );
    }
    assert!(sample(&after, "lakh_mempool_transactions", &[("validator", "0")]).is_some());
    assert!(sample(&after, "lakh_mempool_bytes", &[("validator", "0")]).is_some());
    assert!(
        after.lines().any(|l| l.starts_with("runtime_")),
        "commonware's runtime metrics are served too"
    );
}

/// A `lakh node` process whose key is not in the genesis follows a devnet
/// that lists it as a peer (it serves RPC: a transfer sent through it
/// finalizes), registers with `create-validator`, fills the committee's free
/// seat at the next boundary and then signs the certificates of its epoch.
#[test]
fn a_full_node_outside_the_genesis_follows_registers_and_signs_once_elected() {
    const EPOCH_BLOCKS: u64 = 20;
    let dir = tempfile::tempdir().unwrap();
    let node_dir = tempfile::tempdir().unwrap();
    let keys = dir.path().join("keys");
    let made = Command::new(BIN)
        .args(["keys", "--json", "--dir"])
        .arg(&keys)
        .args(["new", "joiner"])
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:?}");
    let joiner = key_of(dir.path(), "joiner");
    let joiner_hex = hex::encode(joiner.public_key().as_ref());
    let p2p = format!("127.0.0.1:{}", free_port());
    // Four validators and five seats: a registered fifth is elected.
    let net = Devnet::start(
        dir.path(),
        4,
        free_port(),
        &[
            "--committee-size",
            "5",
            "--epoch-blocks",
            &EPOCH_BLOCKS.to_string(),
            "--peer",
            &format!("{joiner_hex}@{p2p}"),
        ],
    );

    let node_rpc = free_port();
    let config = node_dir.path().join("node.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = {:?}\ngenesis = {:?}\nkey = {:?}\nrpc_addr = \"127.0.0.1:{node_rpc}\"\np2p_address = \"{p2p}\"\npeers = []\n",
            node_dir.path().join("data"),
            dir.path().join("genesis.json"),
            keys.join("joiner.json"),
        ),
    )
    .unwrap();
    let stderr_log = node_dir.path().join("stderr.log");
    let mut node = Command::new(BIN)
        .args(["node", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&stderr_log).unwrap())
        .spawn()
        .unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = node.stdout.take().unwrap();
    let node = Kill(node);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("RPC listening") {
                let _ = tx.send(line);
            }
        }
    });
    if let Err(e) = rx.recv_timeout(Duration::from_secs(120)) {
        let log = std::fs::read_to_string(&stderr_log).unwrap_or_default();
        panic!("the full node did not become live ({e}); its stderr:\n{log}");
    }
    let full = Devnet {
        child: Command::new("true").spawn().unwrap(),
        rpc: format!("http://127.0.0.1:{node_rpc}"),
        dir: dir.path().to_path_buf(),
        ready: serde_json::Value::Null,
    };

    // It follows: a transfer sent through it is gossiped, finalized by the
    // committee, and seen by the full node.
    let funded = full.wallet_json(&[
        "transfer",
        "--from",
        "alice",
        "--to",
        &joiner_hex,
        "--amount",
        "10000",
    ]);
    assert_eq!(funded["receipt"]["status"]["status"], "success", "{funded}");
    let head = net.wallet_json(&["head"])["height"].as_u64().unwrap();
    let followed = full.wallet_json(&["head"])["height"].as_u64().unwrap();
    assert!(
        followed + 5 >= head,
        "full node at {followed}, chain at {head}"
    );

    let registered = full.wallet_json(&[
        "stake",
        "create-validator",
        "--from",
        "joiner",
        "--p2p-address",
        &p2p,
        "--commission-bps",
        "500",
        "--self-bond",
        "1000",
    ]);
    assert_eq!(
        registered["receipt"]["status"]["status"], "success",
        "{registered}"
    );
    let at = registered["height"].as_u64().unwrap();
    let elected_epoch = at / EPOCH_BLOCKS + 1;
    let first = elected_epoch * EPOCH_BLOCKS;

    // Transfers keep finalizing until a certificate of the new epoch
    // carries the joiner's signature.
    let mut signed = None;
    for _ in 0..300 {
        let t = net.wallet_json(&[
            "transfer", "--from", "bob", "--to", "carol", "--amount", "1",
        ]);
        assert_eq!(t["receipt"]["status"]["status"], "success", "{t}");
        let head = t["height"].as_u64().unwrap();
        if head < first {
            continue;
        }
        let committee = net.wallet_json(&["stake", "committee"]);
        let seat = committee["members"]
            .as_array()
            .unwrap()
            .iter()
            .position(|m| m["identity"] == joiner_hex.as_str());
        let Some(seat) = seat else { continue };
        signed = (first..=head).find(|h| {
            let out = full.wallet_output(&["finality", &h.to_string()]);
            if !out.status.success() {
                return false;
            }
            let info: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(info["verified"], true, "{info}");
            info["signers"]
                .as_array()
                .unwrap()
                .iter()
                .any(|s| s.as_u64() == Some(seat as u64))
        });
        if signed.is_some() {
            break;
        }
    }
    assert!(signed.is_some(), "the elected full node never signed");
    drop(node);
}
