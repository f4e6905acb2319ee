//! `lakh bench --devnet` end to end on tiny workloads: it starts its own
//! devnet, funds 200 accounts, runs 1 s of warm-up and a 3 s window, and
//! writes a report with every documented field; the defi workload also runs
//! its setup and must see no failed transaction. No assertion depends on how
//! fast the machine is.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_lakh");
/// Far above the ~15 s the bench takes in the debug profile.
const TIMEOUT: Duration = Duration::from_secs(240);

fn number(v: &serde_json::Value, path: &str) -> f64 {
    let mut cur = v;
    for part in path.split('.') {
        cur = &cur[part];
    }
    cur.as_f64()
        .unwrap_or_else(|| panic!("`{path}` is not a number in the report: {cur}"))
}

/// Runs `lakh bench --devnet` with `args` plus `--json`/`--svg` into `dir`,
/// asserts it succeeded, and returns its stdout and JSON report.
fn run_bench(dir: &std::path::Path, args: &[&str]) -> (String, serde_json::Value) {
    let json_path = dir.join("bench.json");
    let svg_path = dir.join("bench.svg");
    let mut child = Command::new(BIN)
        .args(["bench", "--devnet"])
        .args(args)
        .arg("--json")
        .arg(&json_path)
        .arg("--svg")
        .arg(&svg_path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lakh bench");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            // The bench's devnet dies with it.
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "lakh bench ran over {TIMEOUT:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(status.success(), "lakh bench failed:\n{stdout}\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    (stdout, report)
}

#[test]
fn bench_against_its_own_devnet_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("bench.svg");
    let (stdout, report) = run_bench(
        dir.path(),
        &[
            "--workload",
            "transfers",
            "--accounts",
            "200",
            "--warmup",
            "1",
            "--duration",
            "3",
        ],
    );
    assert!(stdout.contains("sustained"), "{stdout}");

    for path in [
        "sustained_tps",
        "latency_ms.p50",
        "latency_ms.p90",
        "latency_ms.p99",
        "latency_ms.max",
        "offered_tps",
        "submitted",
        "accepted",
        "rejected",
        "dropped",
        "failed",
        "node_cpu.percent_of_machine",
        "node_cpu.peak_rss_mib",
        "bench_cpu.percent_of_machine",
        "machine.cores",
        "signing.secs",
        "signing.txs",
        "sustained_tps_spread.min",
        "sustained_tps_spread.max",
    ] {
        assert!(number(&report, path) >= 0.0, "{path}");
    }
    assert_eq!(report["workload"], "transfers");
    assert_eq!(report["accounts"], 200);
    assert_eq!(report["load_mode"], "closed");
    assert_eq!(report["funding"]["accounts"], 200);
    assert!(report["rejected_by_reason"].is_object());
    assert!(report["machine"]["cpu_model"].is_string());
    assert_eq!(
        report["machine"]["build_profile"],
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let runs = report["runs_detail"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert!(!runs[0]["per_second"].as_array().unwrap().is_empty());
    // The node finalized something inside the window, everything it
    // accepted finalized during the drain, every request was answered, and
    // the percentiles are ordered.
    assert!(number(&runs[0], "finalized_in_window") > 0.0, "{report}");
    assert_eq!(report["dropped"], 0, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert!(runs[0]["first_error"].is_null(), "{report}");
    let (p50, p99, max) = (
        number(&report, "latency_ms.p50"),
        number(&report, "latency_ms.p99"),
        number(&report, "latency_ms.max"),
    );
    assert!(0.0 < p50 && p50 <= p99 && p99 <= max, "{p50} {p99} {max}");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("polyline"));
}

/// The defi workload end to end: setup on the bench's own devnet, then a
/// short run in which (near) every transaction succeeds and the planned mix
/// has the WORKLOADS.md shares.
#[test]
fn defi_workload_sets_up_and_its_transactions_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, report) = run_bench(
        dir.path(),
        &[
            "--workload",
            "defi",
            "--accounts",
            "200",
            "--warmup",
            "1",
            "--duration",
            "3",
            // Open loop, so the window sees a steady load however fast the
            // machine is; every receipt is checked (within the time budget).
            "--rate",
            "1000",
            "--receipt-samples",
            "100000",
            "--seed",
            "4",
        ],
    );
    assert!(stdout.contains("sustained"), "{stdout}");
    assert_eq!(report["workload"], "defi");
    assert!(
        report["workload_detail"]
            .as_str()
            .unwrap()
            .contains("half NFT")
    );
    let setup = &report["defi_setup"];
    assert_eq!(setup["pools"], 100, "{report}");
    assert_eq!(setup["markets"], 10, "{report}");
    assert_eq!(setup["borrowers"], 20, "{report}");
    // 200 accounts: the last 50 are NFT creators, with listings to buy.
    assert_eq!(setup["nft_collections"], 50, "{report}");
    assert!(number(setup, "nft_listings") > 0.0, "{report}");
    let run = &report["runs_detail"][0];
    assert!(number(run, "finalized_in_window") > 0.0, "{report}");
    assert!(number(run, "receipts_checked") > 0.0, "{report}");
    // Confirmed means succeeded: the mix is built so that none fails.
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(run["receipts_failed"], 0, "{report}");
    assert!(report["failed_by_reason"].as_object().unwrap().is_empty());
    assert_eq!(report["dropped"], 0, "{report}");
    assert_eq!(report["lost"], 0, "{report}");
    assert_eq!(report["rejected"], 0, "{report}");
    // The planned mix has exactly the WORKLOADS.md shares (largest remainder).
    let mix = report["mix"].as_object().unwrap();
    let total: f64 = mix.values().map(|v| v.as_f64().unwrap()).sum();
    for (category, pct) in [
        ("transfer", 40.0),
        ("amm_swap", 25.0),
        ("order_book", 10.0),
        ("lending", 10.0),
        ("staking_farm", 5.0),
        ("insurance_nft", 5.0),
        ("multi_transfer", 5.0),
    ] {
        let n = mix[category].as_f64().unwrap();
        assert!(
            (n - total * pct / 100.0).abs() < 1.0,
            "{category}: {n} of {total}"
        );
    }
    // Every NFT operation is planned (and, with the receipts above, succeeds).
    let ops = run["mix_ops"].as_object().unwrap();
    for op in ["nft_mint", "nft_list", "nft_buy", "nft_relist", "cover_buy"] {
        assert!(number(&run["mix_ops"], op) > 0.0, "{op}: {ops:?}");
    }
    let finalized = run["mix_finalized_in_window"].as_object().unwrap();
    assert!(finalized.len() > 1, "{report}");
}

/// `--shielded 2`: two notes shielded, synced and proven in setup, then a
/// plain run and a run with the two private transfers beside the same load;
/// both transfers finalize and succeed, and the report has the ratio and the
/// node's ceilings. Debug proving takes seconds, hence only two.
#[test]
fn shielded_transfers_run_beside_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let (stdout, report) = run_bench(
        dir.path(),
        &[
            "--accounts",
            "50",
            "--warmup",
            "1",
            "--duration",
            "3",
            "--rate",
            "500",
            "--shielded",
            "2",
            "--seed",
            "5",
        ],
    );
    assert!(stdout.contains("private transfers"), "{stdout}");
    let shielded = &report["shielded"];
    let setup = &shielded["setup"];
    assert_eq!(setup["transfers"], 2, "{report}");
    assert!(number(setup, "anchor_notes") >= 2.0, "{report}");
    assert!(number(setup, "proof_ms_median") > 0.0, "{report}");
    assert!(number(setup, "batch_verify_us_per_proof") > 0.0, "{report}");
    // Both were submitted inside the window, accepted, finalized and executed.
    assert_eq!(shielded["submitted"], 2, "{report}");
    assert_eq!(shielded["accepted"], 2, "{report}");
    assert_eq!(shielded["finalized"], 2, "{report}");
    assert_eq!(shielded["rejected"], 0, "{report}");
    assert_eq!(shielded["failed"], 0, "{report}");
    assert_eq!(shielded["receipts_missing"], 0, "{report}");
    let (p50, max) = (
        number(shielded, "latency_ms.p50"),
        number(shielded, "latency_ms.max"),
    );
    assert!(0.0 < p50 && p50 <= max, "{p50} {max}");
    assert!(
        number(shielded, "confirmed_per_sec") <= 2.0 / 3.0,
        "{report}"
    );
    // The plain transfers of both runs, and their ratio.
    let alone = number(shielded, "transfers_tps_alone");
    let beside = number(shielded, "transfers_tps_beside");
    assert!(alone > 0.0 && beside > 0.0, "{report}");
    assert!((number(shielded, "transfers_ratio") - beside / alone).abs() < 1e-9);
    assert_eq!(report["runs_detail"].as_array().unwrap().len(), 1);
    assert!(
        number(&shielded["run"], "finalized_in_window") > 0.0,
        "{report}"
    );
    let ceiling = &shielded["ceiling"];
    assert_eq!(ceiling["actions_per_block"], 64, "{report}");
    assert!(number(ceiling, "cap_per_sec") > 0.0, "{report}");
    assert!(number(ceiling, "verify_per_sec_per_core") > 0.0, "{report}");
}

#[test]
fn votes_bench_measures_both_schemes() {
    let out = Command::new(BIN)
        .args([
            "bench",
            "votes",
            "--members",
            "4",
            "--repeats",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let schemes: Vec<_> = rows.iter().map(|r| r["scheme"].as_str().unwrap()).collect();
    assert_eq!(schemes, ["bls12381_multisig", "ed25519"]);
    for r in rows {
        assert_eq!(r["quorum"], 3, "{r}");
        assert!(number(r, "per_view_us") > 0.0, "{r}");
    }
    // One aggregate signature against one signature per signer.
    assert!(rows[0]["certificate_bytes"].as_u64() < rows[1]["certificate_bytes"].as_u64());
}
