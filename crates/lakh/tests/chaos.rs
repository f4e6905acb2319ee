//! The short chaos run CI does: four `lakh node` processes under a transfer
//! load while validators are killed, frozen and cut off from the others at
//! random (at most one at a time), then every node holds the same blocks and state roots, nothing
//! finalized is lost or doubled, each asset's supply is held by accounts,
//! and the chain still finalizes. The long run's figures are in
//! docs/RELIABILITY.md.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_lakh");

#[test]
fn a_short_chaos_run_loses_nothing_and_keeps_finalizing() {
    let out = Command::new(BIN)
        .args(["chaos", "--json", "--validators", "4", "--duration", "25"])
        .args(["--fault-every", "2", "--max-fault", "3", "--rate", "100"])
        .args(["--seed", "7", "--epoch-blocks", "30"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "chaos failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    let faults = &report["faults"];
    let count = |kind: &str| faults[kind].as_u64().unwrap();
    let injected = count("kills") + count("pauses") + count("partitions");
    assert!(injected >= 5, "too few faults injected: {report}");
    assert!(count("partitions") >= 1, "no partition injected: {report}");
    assert!(
        count("restarts") >= count("kills"),
        "every killed node restarts: {report}"
    );
    let outcome = &report["outcome"];
    assert!(
        outcome["accepted_finalized"].as_u64().unwrap() >= 200,
        "too little load got through: {report}"
    );
    assert!(
        outcome["seen_final_checked"].as_u64().unwrap() > 0,
        "{report}"
    );
    assert_eq!(outcome["assets_checked"], 4, "{report}");
    assert_eq!(outcome["violations"], serde_json::json!([]), "{report}");
    assert_eq!(report["still_finalizing"], true, "{report}");
}
