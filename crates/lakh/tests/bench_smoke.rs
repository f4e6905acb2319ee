//! `lakh bench --devnet` end to end on a tiny workload: it starts its own
//! devnet, funds 200 accounts, runs 1 s of warm-up and a 3 s window, and
//! writes a report with every documented field. No assertion depends on how
//! fast the machine is.

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

#[test]
fn bench_against_its_own_devnet_writes_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("bench.json");
    let svg_path = dir.path().join("bench.svg");
    let mut child = Command::new(BIN)
        .args([
            "bench",
            "--devnet",
            "--workload",
            "transfers",
            "--accounts",
            "200",
            "--warmup",
            "1",
            "--duration",
            "3",
        ])
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(status.success(), "lakh bench failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("sustained"), "{stdout}");

    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
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
