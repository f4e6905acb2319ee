//! A chain whose genesis carries its own shielded verifying key, end to end:
//! `lakh genesis --shielded-params FILE` writes the key of a parameters
//! file into a network's genesis; `lakh devnet --shielded-params FILE` starts
//! a devnet with it, the chain reports the key, and a spend proves only with
//! that file: without `--params` (the devnet's parameters) the wallet
//! refuses with `wrong_verifying_key`. A devnet is not resumed with another
//! key than its genesis holds.
//!
//! A seeded setup of the transfer circuit stands in for a ceremony's
//! parameters (a depth-32 ceremony takes minutes): to the chain it is just
//! as foreign a key as the devnet's.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use lakh_shielded::{Parameters, TREE_DEPTH, chain};
use serde_json::Value;
use std::process::Command;

mod common;
use common::{BIN, Devnet};

#[test]
fn a_genesis_key_is_the_one_spends_prove_for() {
    let dir = tempfile::tempdir().unwrap();
    let params = Parameters::<TREE_DEPTH>::devnet_setup(b"ceremony stand-in").unwrap();
    let params_file = dir.path().join("params.bin");
    std::fs::write(&params_file, params.to_file_bytes()).unwrap();
    let digest = hex::encode(params.verifying_key().digest());

    let net_dir = dir.path().join("net");
    let written = Command::new(BIN)
        .args(["genesis", "--json", "--validators", "1", "--out"])
        .arg(&net_dir)
        .arg("--shielded-params")
        .arg(&params_file)
        .output()
        .unwrap();
    assert!(written.status.success(), "{written:?}");
    let genesis: Value =
        serde_json::from_str(&std::fs::read_to_string(net_dir.join("genesis.json")).unwrap())
            .unwrap();
    assert_eq!(
        genesis["shielded"]["verifying_key"],
        hex::encode(params.verifying_key().to_bytes())
    );

    let devnet_dir = dir.path().join("devnet");
    let params_arg = params_file.to_str().unwrap();
    let net = Devnet::start(
        &devnet_dir,
        1,
        common::free_port(),
        &["--shielded-params", params_arg],
    );
    let pool = net.wallet_json(&["shielded", "pool", "--asset", "USDC"]);
    assert_eq!(pool["verifying_key"], digest.as_str(), "{pool}");
    assert_eq!(pool["devnet_key"], false, "{pool}");

    let shield = [
        "shielded", "shield", "--from", "alice", "--amount", "10", "--asset", "USDC",
    ];
    let shielded = net.wallet_json(&shield);
    assert_eq!(
        shielded["receipt"]["status"]["status"], "success",
        "{shielded}"
    );
    let bob = net.wallet_json(&["shielded", "address", "bob"])["address"]
        .as_str()
        .unwrap()
        .to_string();
    let send = |params: Option<&str>| {
        let mut args = vec![
            "shielded", "send", "--from", "alice", "--to", &bob, "--amount", "4", "--asset", "USDC",
        ];
        args.extend(params.map(|p| ["--params", p]).into_iter().flatten());
        net.wallet_output(&args)
    };

    let refused = send(None);
    assert!(!refused.status.success());
    let error: Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(error["error"]["code"], "wrong_verifying_key", "{error}");
    let message = error["error"]["message"].as_str().unwrap();
    let devnet = hex::encode(chain::DEVNET_VERIFYING_KEY_DIGEST);
    assert!(
        message.contains(&digest) && message.contains(&devnet),
        "{message}"
    );

    let sent = send(Some(params_file.to_str().unwrap()));
    assert!(sent.status.success(), "{sent:?}");
    let sent: Value = serde_json::from_slice(&sent.stdout).unwrap();
    assert_eq!(sent["receipt"]["status"]["status"], "success", "{sent}");
    assert_eq!(sent["params_source"], "file", "{sent}");
    assert_eq!(sent["verifying_key"], digest.as_str(), "{sent}");

    drop(net);

    // Resuming with the devnet's own parameters, whose key is not the
    // genesis', is refused before anything starts.
    let other = dir.path().join("other.bin");
    std::fs::write(
        &other,
        Parameters::<TREE_DEPTH>::devnet_setup(b"another stand-in")
            .unwrap()
            .to_file_bytes(),
    )
    .unwrap();
    let resumed = Command::new(BIN)
        .args(["devnet", "--data-dir"])
        .arg(&devnet_dir)
        .arg("--shielded-params")
        .arg(&other)
        .args(["--rpc-addr", &format!("127.0.0.1:{}", common::free_port())])
        .output()
        .unwrap();
    assert!(!resumed.status.success(), "{resumed:?}");
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        stderr.contains("another shielded verifying key"),
        "{stderr}"
    );
}
