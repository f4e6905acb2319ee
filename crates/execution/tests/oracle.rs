//! The oracle module through real blocks: feed configuration (admin only),
//! posting (reporters only), the median of fresh reports, staleness, the
//! `price` query, and parallel execution of posts.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use lakh_execution::{
    Mode, execute_block, execute_block_parallel, modules::oracle::feed_key, modules::run_query,
};
use lakh_state::StateKey;
use lakh_types::{
    Action, Address, AssetId, Event, FailureReason, Receipt, TxStatus,
    codec::BoundedVec,
    modules::oracle::{MAX_REPORTERS, OracleAction, OracleError, OracleEvent},
};
use serde_json::{Value, json};
use std::{collections::HashMap, num::NonZeroUsize};

const ADMIN: u64 = 0;
const PROPOSER: u64 = 9;
const MAX_FEE: u128 = 1_000;
const WAD: u128 = 1_000_000_000_000_000_000;

/// The genesis chain, run block by block; every block also runs through the
/// parallel executor, which must agree exactly.
struct Chain {
    state: State,
    height: u64,
    nonces: HashMap<u64, u64>,
}

impl Chain {
    fn new() -> Chain {
        Chain {
            state: genesis_state(),
            height: 10,
            nonces: HashMap::new(),
        }
    }

    fn block(&mut self, txs: Vec<(u64, Action)>) -> Vec<Receipt> {
        let txs: Vec<_> = txs
            .into_iter()
            .map(|(seed, action)| {
                let nonce = self.nonces.entry(seed).or_default();
                *nonce += 1;
                sign(seed, *nonce - 1, MAX_FEE, action)
            })
            .collect();
        let env = lakh_execution::BlockEnv {
            height: self.height,
            ..env(addr(PROPOSER))
        };
        let mut seq = prefetch(&self.state, &env, &txs);
        let outcome = execute_block(&env, &txs, &mut seq, Mode::Verify).expect("block executes");
        let mut par = prefetch(&self.state, &env, &txs);
        let threads = NonZeroUsize::new(3).unwrap();
        let parallel = execute_block_parallel(&env, &txs, &mut par, Mode::Verify, threads, 0)
            .expect("block executes in parallel");
        assert_eq!(outcome, parallel, "parallel receipts differ");
        let changes: Changes = seq.into_changes().collect();
        let par_changes: Changes = par.into_changes().collect();
        assert_eq!(changes, par_changes, "parallel changes differ");
        commit(&mut self.state, &changes);
        check_invariants(&self.state, native_total());
        self.height += 1;
        outcome.receipts
    }

    fn one(&mut self, seed: u64, action: Action) -> Receipt {
        self.block(vec![(seed, action)]).remove(0)
    }

    /// Skips `blocks` empty blocks.
    fn advance(&mut self, blocks: u64) {
        self.height += blocks;
    }

    /// The price query as of the last executed block.
    fn price(&self, asset: AssetId) -> Value {
        run_query(
            "oracle",
            "price",
            &json!({ "asset": asset }),
            self.height - 1,
            64,
            |k| Ok(self.state.get(k).cloned()),
        )
        .expect("query answers")
    }
}

fn reporters(seeds: &[u64]) -> BoundedVec<Address, MAX_REPORTERS> {
    BoundedVec::new(seeds.iter().map(|s| addr(*s)).collect()).unwrap()
}

fn set_feed(asset: AssetId, seeds: &[u64], max_age_blocks: u64, min_reports: u8) -> Action {
    Action::Oracle(OracleAction::SetFeed {
        asset,
        reporters: reporters(seeds),
        max_age_blocks,
        min_reports,
    })
}

fn post(asset: AssetId, price: u128) -> Action {
    Action::Oracle(OracleAction::Post { asset, price })
}

fn oracle_failure(r: &Receipt) -> OracleError {
    match &r.status {
        TxStatus::Failed {
            error: FailureReason::Oracle(e),
        } => e.clone(),
        other => panic!("expected an oracle failure, got {other:?}"),
    }
}

fn ok(r: &Receipt) {
    assert_eq!(r.status, TxStatus::Success, "{r:?}");
}

fn num(v: &Value) -> u128 {
    v.as_str().expect("amount string").parse().expect("amount")
}

#[test]
fn only_the_admin_configures_feeds_of_existing_assets() {
    let mut c = Chain::new();
    let r = c.one(1, set_feed(GOLD, &[1, 2], 10, 1));
    assert_eq!(
        r.status,
        TxStatus::Failed {
            error: FailureReason::NotAdmin { sender: addr(1) }
        }
    );
    let r = c.one(ADMIN, set_feed(AssetId(999), &[1, 2], 10, 1));
    assert_eq!(
        r.status,
        TxStatus::Failed {
            error: FailureReason::UnknownAsset {
                asset: AssetId(999)
            }
        }
    );
    // Stateless checks are enforced by execution too.
    let r = c.one(ADMIN, set_feed(GOLD, &[1, 2], 10, 3));
    assert!(matches!(
        &r.status,
        TxStatus::Failed { error: FailureReason::Invalid { detail } } if detail.contains("min_reports")
    ));
    let r = c.one(ADMIN, set_feed(GOLD, &[1, 2], 10, 2));
    ok(&r);
    assert_eq!(
        r.events,
        vec![Event::Oracle(OracleEvent::FeedSet {
            asset: GOLD,
            reporters: reporters(&[1, 2]),
            max_age_blocks: 10,
            min_reports: 2
        })]
    );
    assert!(c.state.contains_key(&feed_key(GOLD)));
    let q = c.price(GOLD);
    assert_eq!(q["status"], "missing");
    assert!(q["error"].as_str().unwrap().contains("missing price"));
}

#[test]
fn median_of_fresh_reports_and_staleness() {
    let mut c = Chain::new();
    ok(&c.one(ADMIN, set_feed(GOLD, &[1, 2, 3, 4], 10, 2)));
    // Unauthorized and feedless posts fail.
    let r = c.one(5, post(GOLD, 7));
    assert_eq!(
        oracle_failure(&r),
        OracleError::NotReporter {
            asset: GOLD,
            sender: addr(5)
        }
    );
    let r = c.one(1, post(CAPPED, 7));
    assert_eq!(oracle_failure(&r), OracleError::NoFeed { asset: CAPPED });

    // One report: fewer than min_reports.
    let first = c.height;
    let r = c.one(1, post(GOLD, 1_000 * WAD));
    ok(&r);
    assert_eq!(
        r.events,
        vec![Event::Oracle(OracleEvent::PricePosted {
            asset: GOLD,
            reporter: addr(1),
            price: 1_000 * WAD
        })]
    );
    let q = c.price(GOLD);
    assert_eq!(q["status"], "stale");
    assert!(q["error"].as_str().unwrap().starts_with("stale price"));

    // Three reports in one block (parallel posts to one feed serialize).
    let rs = c.block(vec![
        (2, post(GOLD, 1_100 * WAD)),
        (3, post(GOLD, 900 * WAD)),
        (4, post(GOLD, 5_000 * WAD)),
    ]);
    rs.iter().for_each(ok);
    // Median of 900, 1000, 1100, 5000: (1000 + 1100) / 2; the outlier does not move it.
    let q = c.price(GOLD);
    assert_eq!(q["status"], "ok");
    assert_eq!(num(&q["price"]), 1_050 * WAD);
    assert_eq!(q["fresh_reports"], 4);
    assert_eq!(q["age_blocks"], 1);

    // A reporter replaces its own report: 900, 1000, 1100, 1200.
    ok(&c.one(4, post(GOLD, 1_200 * WAD)));
    let q = c.price(GOLD);
    assert_eq!(num(&q["price"]), 1_050 * WAD);
    assert_eq!(q["feed"]["reports"].as_array().unwrap().len(), 4);

    // Reporter 1's report (at `first`) goes stale after 10 blocks.
    c.height = first + 11;
    ok(&c.one(2, post(GOLD, 1_000 * WAD)));
    let q = c.price(GOLD);
    // Fresh: 2 -> 1000, 3 -> 900, 4 -> 1200: median 1000.
    assert_eq!(q["fresh_reports"], 3);
    assert_eq!(num(&q["price"]), 1_000 * WAD);
    let reports = q["feed"]["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 4);
    assert_eq!(reports.iter().filter(|r| r["fresh"] == false).count(), 1);

    // Much later only the last report is fresh: stale for min_reports = 2.
    c.advance(10);
    let q = c.price(GOLD);
    assert_eq!(q["status"], "stale");
    assert_eq!(q["fresh_reports"], Value::Null);
    assert!(
        q["error"]
            .as_str()
            .unwrap()
            .contains("1 fresh report(s) within the last 10 block(s), 2 required")
    );
}

#[test]
fn reconfiguring_keeps_reports_of_remaining_reporters_and_removal_deletes() {
    let mut c = Chain::new();
    ok(&c.one(ADMIN, set_feed(GOLD, &[1, 2, 3], 50, 1)));
    c.block(vec![
        (1, post(GOLD, 10)),
        (2, post(GOLD, 20)),
        (3, post(GOLD, 30)),
    ])
    .iter()
    .for_each(ok);
    assert_eq!(num(&c.price(GOLD)["price"]), 20);
    // Drop reporter 3, add 4: 3's report goes, 1's and 2's stay.
    ok(&c.one(ADMIN, set_feed(GOLD, &[1, 2, 4], 50, 1)));
    let q = c.price(GOLD);
    assert_eq!(q["feed"]["reports"].as_array().unwrap().len(), 2);
    assert_eq!(num(&q["price"]), 15);
    let r = c.one(3, post(GOLD, 1));
    assert!(matches!(
        oracle_failure(&r),
        OracleError::NotReporter { .. }
    ));

    let r = c.one(1, Action::Oracle(OracleAction::RemoveFeed { asset: GOLD }));
    assert!(matches!(
        r.status,
        TxStatus::Failed {
            error: FailureReason::NotAdmin { .. }
        }
    ));
    ok(&c.one(
        ADMIN,
        Action::Oracle(OracleAction::RemoveFeed { asset: GOLD }),
    ));
    assert!(!c.state.contains_key(&feed_key(GOLD)));
    assert_eq!(c.price(GOLD)["status"], "missing");
    let r = c.one(
        ADMIN,
        Action::Oracle(OracleAction::RemoveFeed { asset: GOLD }),
    );
    assert_eq!(oracle_failure(&r), OracleError::NoFeed { asset: GOLD });
    // Zero prices never reach the feed.
    ok(&c.one(ADMIN, set_feed(GOLD, &[1], 50, 1)));
    let r = c.one(1, post(GOLD, 0));
    assert!(matches!(
        r.status,
        TxStatus::Failed {
            error: FailureReason::Invalid { .. }
        }
    ));
}

#[test]
fn posts_to_different_feeds_run_in_separate_conflict_groups() {
    let mut c = Chain::new();
    c.block(vec![
        (ADMIN, set_feed(GOLD, &[1, 2], 5, 1)),
        (ADMIN, set_feed(CAPPED, &[3, 4], 5, 1)),
    ])
    .iter()
    .for_each(ok);
    let txs = vec![
        sign(1, 0, MAX_FEE, post(GOLD, 5)),
        sign(3, 0, MAX_FEE, post(CAPPED, 6)),
        sign(2, 0, MAX_FEE, post(GOLD, 7)),
        sign(4, 0, MAX_FEE, post(CAPPED, 8)),
    ];
    let groups = lakh_execution::conflict_groups(&txs);
    assert_eq!(groups.groups, 2);
    assert_eq!(groups.largest_txs, 2);
    // Posting declares only the feed (and the sender's account).
    let mut keys = Vec::new();
    lakh_execution::tx_access(&txs[0].tx, &mut |k| keys.push(k));
    assert_eq!(keys, vec![StateKey::Account(addr(1)), feed_key(GOLD)]);
    c.block(vec![
        (1, post(GOLD, 5)),
        (3, post(CAPPED, 6)),
        (2, post(GOLD, 7)),
        (4, post(CAPPED, 8)),
    ])
    .iter()
    .for_each(ok);
    assert_eq!(num(&c.price(GOLD)["price"]), 6);
    assert_eq!(num(&c.price(CAPPED)["price"]), 7);
}

#[test]
fn query_refuses_bad_params() {
    let c = Chain::new();
    let err = run_query("oracle", "price", &json!({"asset": "x"}), 1, 8, |k| {
        Ok(c.state.get(k).cloned())
    })
    .unwrap_err();
    assert!(matches!(
        err,
        lakh_execution::modules::QueryError::BadRequest(_)
    ));
    let err = run_query("oracle", "nope", &json!({}), 1, 8, |k| {
        Ok(c.state.get(k).cloned())
    })
    .unwrap_err();
    assert!(err.to_string().contains("unknown oracle method"));
}
