//! `lakh devnet --validators 4 --byzantine 1`: the last validator signs two
//! notarize votes in every view it votes in. The honest three keep
//! finalizing transfers, the evidence of the equivocation lands in a
//! finalized block within a bounded number of blocks of the fault being
//! seen and names only that validator, and the validator is punished: tombstoned, its stake reduced
//! by exactly the slash, and out of the committee from the next epoch.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::{Devnet, free_port};
use lakh_types::Address;

/// The evidence is in a finalized block at most this many blocks after the
/// first block proposed once an honest validator saw the fault. The fault
/// itself can come late: on a loaded machine the offender may join the
/// others only after they have finalized many blocks without it.
const EVIDENCE_WITHIN_BLOCKS: u64 = 10;
/// What an honest validator logs when it keeps evidence of a fault.
const FAULT_SEEN_LOG: &str = "evidence of a consensus fault kept";
/// Heights per epoch of this devnet.
const EPOCH_BLOCKS: u64 = 20;

fn amount(v: &serde_json::Value) -> u128 {
    match v {
        serde_json::Value::String(s) => s.parse().unwrap(),
        serde_json::Value::Number(n) => n.as_u64().unwrap().into(),
        other => panic!("not an amount: {other}"),
    }
}

/// The entry of `address` in `lakh wallet stake validators --json`.
fn entry(listed: &serde_json::Value, address: &str) -> serde_json::Value {
    listed["validators"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["address"] == address)
        .unwrap_or_else(|| panic!("{address} not listed: {listed}"))
        .clone()
}

#[test]
fn an_equivocating_validator_is_caught_and_punished_while_the_honest_three_finalize() {
    let dir = tempfile::tempdir().unwrap();
    let epoch_blocks = EPOCH_BLOCKS.to_string();
    let net = Devnet::start(
        dir.path(),
        4,
        free_port(),
        &["--byzantine", "1", "--epoch-blocks", &epoch_blocks],
    );
    let genesis = std::fs::read_to_string(dir.path().join("genesis.json")).unwrap();
    let genesis = lakh_types::Genesis::from_json(&genesis).unwrap();
    let committee = lakh_execution::modules::stake::genesis_committee(&genesis);
    // `--byzantine 1` makes the last validator misbehave.
    let byzantine = Address::from(&genesis.validators[3].keys().unwrap().0);
    let signer = committee
        .members
        .iter()
        .position(|m| m.identity == byzantine)
        .unwrap() as u64;
    let byzantine = byzantine.to_hex();
    // Its genesis bond: the first fault comes in the first views, often
    // before the devnet has seeded its demo and announced itself.
    let bonded = genesis.validators[3].stake;
    assert!(bonded > 0);

    // Transfers keep finalizing; every block up to the head is read for
    // evidence.
    let mut scanned = 0;
    let mut caught_at = None;
    for _ in 0..120 {
        let t = net.wallet_json(&[
            "transfer", "--from", "bob", "--to", "carol", "--amount", "0.001",
        ]);
        assert_eq!(t["receipt"]["status"]["status"], "success", "{t}");
        let head = t["height"].as_u64().unwrap();
        while scanned < head {
            scanned += 1;
            let block = net.wallet_json(&["block", &scanned.to_string()]);
            let Some(evidence) = block["header"]["evidence"].as_array() else {
                continue;
            };
            for e in evidence {
                assert_eq!(
                    e["signer"], signer,
                    "evidence against an honest member: {block}"
                );
                assert_eq!(e["fault"], "conflicting_notarize", "{block}");
                caught_at.get_or_insert(scanned);
            }
        }
        // Run past the boundary after the evidence, so the next committee
        // is elected without the offender.
        if let Some(at) = caught_at
            && head > (at / EPOCH_BLOCKS + 1) * EPOCH_BLOCKS + 1
        {
            break;
        }
    }
    let caught_at = caught_at.unwrap_or_else(|| {
        panic!(
            "no evidence up to height {scanned}; devnet log:\n{}",
            net.stderr_log()
        )
    });
    let seen_ms = first_log_ms(&net.stderr_log(), FAULT_SEEN_LOG)
        .unwrap_or_else(|| panic!("no {FAULT_SEEN_LOG:?} in the devnet log"));
    let first_after = (1..=caught_at)
        .find(|h| {
            let block = net.wallet_json(&["block", &h.to_string()]);
            block["header"]["timestamp_ms"].as_u64().unwrap() >= seen_ms
        })
        .unwrap_or(caught_at);
    assert!(
        caught_at <= first_after + EVIDENCE_WITHIN_BLOCKS,
        "the fault was seen before height {first_after}, its evidence landed only at height \
         {caught_at}; devnet log:\n{}",
        net.stderr_log()
    );
    let text = net.wallet_output(&["block", &caught_at.to_string()]);
    assert!(text.status.success());
    // The block carrying the evidence carries the slash among its
    // end-of-block events.
    let block = net.wallet_json(&["block", &caught_at.to_string()]);
    let slashed: Vec<&serde_json::Value> = block["block_events"]
        .as_array()
        .map(|events| events.iter().filter(|e| e["kind"] == "slashed").collect())
        .unwrap_or_default();
    assert_eq!(slashed.len(), 1, "{block}");
    assert_eq!(slashed[0]["validator"], byzantine.as_str(), "{block}");
    assert_eq!(slashed[0]["tombstoned"], true, "{block}");

    // Punished once: tombstoned, the slash taken exactly, and out of the
    // committee elected after the evidence.
    let listed = net.wallet_json(&["stake", "validators"]);
    assert!(
        listed["epoch"].as_u64().unwrap() > caught_at / EPOCH_BLOCKS,
        "{listed}"
    );
    let after = entry(&listed, &byzantine);
    assert_eq!(after["tombstoned"], true, "{after}");
    assert_eq!(after["in_committee"], false, "{after}");
    // 5% of the bonded stake, rounded against the validator; nothing was
    // unbonding from it, so that is all it lost.
    let slash = (bonded * 500).div_ceil(10_000);
    assert_eq!(amount(&after["total_unbonding"]), 0, "{after}");
    assert_eq!(amount(&after["stake"]), bonded - slash, "{after}");
    assert_eq!(amount(&after["total_slashed"]), slash, "{after}");
    // The honest three are untouched.
    for v in listed["validators"].as_array().unwrap() {
        if v["address"] != byzantine.as_str() {
            assert_ne!(v["tombstoned"], true, "{v}");
            assert_eq!(v["in_committee"], true, "{v}");
        }
    }
}

/// Unix milliseconds of the first line of `log` containing `needle`, read
/// from the line's leading RFC 3339 UTC timestamp (colours stripped).
fn first_log_ms(log: &str, needle: &str) -> Option<u64> {
    let line = log.lines().find(|l| l.contains(needle))?;
    let mut plain = String::new();
    let mut in_escape = false;
    for c in line.chars() {
        match (in_escape, c) {
            (false, '\x1b') => in_escape = true,
            (true, 'm') => in_escape = false,
            (false, c) => plain.push(c),
            (true, _) => {}
        }
    }
    let stamp = plain.split_whitespace().next()?.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut ymd = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, d) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let mut hms = time.split(':');
    let (h, min) = (
        hms.next()?.parse::<i64>().ok()?,
        hms.next()?.parse::<i64>().ok()?,
    );
    let seconds: f64 = hms.next()?.parse().ok()?;
    let days = days_from_civil(y, m, d);
    let ms = ((days * 24 + h) * 60 + min) * 60_000 + (seconds * 1000.0) as i64;
    u64::try_from(ms).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[test]
fn log_timestamps_read_as_unix_milliseconds() {
    let line = "\x1b[2m2026-12-05T03:07:34.057486Z\x1b[0m \x1b[33m WARN\x1b[0m x: seen";
    assert_eq!(first_log_ms(line, "seen"), Some(1_796_440_054_057));
    assert_eq!(days_from_civil(1970, 1, 1), 0);
    assert_eq!(days_from_civil(2000, 3, 1), 11_017);
}
