//! The nft module through real blocks: collections, mints, provenance and
//! attestations, every marketplace path with exact royalty arithmetic,
//! licences and derivatives, the hostile cases, queries, and property tests
//! of the invariants over random actions, each block also run by the
//! parallel executor and compared.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

mod common;

use common::*;
use commonware_codec::{Decode, Read};
use lakh_execution::modules::nft::keys;
use lakh_execution::modules::run_query;
use lakh_execution::{BlockEnv, BlockOutcome, Mode, execute_block, execute_block_parallel};
use lakh_state::{StateKey, StateValue};
use lakh_types::codec::{BoundedVec, Text};
use lakh_types::fees::required_fee;
use lakh_types::modules::nft::*;
use lakh_types::{Action, Address, AssetId, Event, FailureReason, Receipt, TxStatus};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::num::NonZeroUsize;

const ADMIN: u64 = 0;
const CREATOR: u64 = 1;
const BUYERS: [u64; 5] = [2, 3, 4, 5, 6];
const START_GOLD: u128 = 1_000_000_000_000;

/// Split recipients (accounts nobody signs for).
fn rcp(n: u8) -> Address {
    Address([n; 32])
}

fn split(entries: &[(u8, u32)]) -> Split {
    BoundedVec::new(
        entries
            .iter()
            .map(|(n, share)| SplitShare {
                recipient: rcp(*n),
                share: *share,
            })
            .collect(),
    )
    .unwrap()
}

fn h(n: u8) -> Hash32 {
    Hash32([n; 32])
}

fn uri(s: &str) -> Uri {
    Text::new(s).unwrap()
}

fn terms(share_ppm: u32, fee: u128) -> LicenceTerms {
    LicenceTerms {
        commercial_use: true,
        derivatives_allowed: true,
        attribution: true,
        revenue_share_ppm: share_ppm,
        fee_asset: GOLD,
        minting_fee: fee,
        expiry_height: 0,
        transferable: true,
        legal_hash: h(77),
    }
}

fn create(kind: CollectionKind, royalty_bps: u32, s: Split, policy: TransferPolicy) -> NftAction {
    NftAction::CreateCollection {
        name: Text::new("Songs of the Machine").unwrap(),
        symbol: Text::new("SONG").unwrap(),
        kind,
        royalty_bps,
        split: s,
        licence: Some(terms(100_000, 50)),
        policy,
    }
}

fn payees(list: &[Address]) -> BoundedVec<Address, MAX_PAYEES> {
    BoundedVec::new(list.to_vec()).unwrap()
}

fn colls(list: &[CollectionId]) -> BoundedVec<CollectionId, MAX_PLAN_PARTS> {
    BoundedVec::new(list.to_vec()).unwrap()
}

struct Chain {
    state: State,
    height: u64,
}

impl Chain {
    fn new() -> Chain {
        let mut chain = Chain {
            state: genesis_state(),
            height: 1,
        };
        let setup = BUYERS
            .iter()
            .chain([CREATOR].iter())
            .map(|&a| {
                (
                    ADMIN,
                    Action::Mint {
                        asset: GOLD,
                        to: addr(a),
                        amount: START_GOLD,
                    },
                )
            })
            .collect();
        let receipts = chain.block(setup);
        assert!(receipts.iter().all(|r| r.status.is_success()));
        chain
    }

    fn block(&mut self, txs: Vec<(u64, Action)>) -> Vec<Receipt> {
        let (outcome, changes) = run_both(&self.state, self.height, &txs);
        commit(&mut self.state, &changes);
        check_invariants(&self.state, native_total());
        check_nft(&self.state);
        self.height += 1;
        outcome.receipts
    }

    fn tx(&mut self, seed: u64, action: NftAction) -> Receipt {
        self.block(vec![(seed, Action::Nft(Box::new(action)))])
            .remove(0)
    }

    fn ok(&mut self, seed: u64, action: NftAction) -> Vec<NftEvent> {
        let r = self.tx(seed, action.clone());
        assert_eq!(r.status, TxStatus::Success, "{action:?}");
        nft_events(&r)
    }

    fn fails(&mut self, seed: u64, action: NftAction) -> NftError {
        let r = self.tx(seed, action.clone());
        match r.status {
            TxStatus::Failed { error } => {
                assert!(r.events.is_empty());
                match error {
                    FailureReason::Nft(e) => e,
                    other => panic!("not an nft failure: {other:?}"),
                }
            }
            TxStatus::Success => panic!("{action:?} succeeded"),
        }
    }

    fn object<T: Read<Cfg = ()>>(&self, key: &StateKey) -> Option<T> {
        match self.state.get(key) {
            Some(StateValue::Object(b)) => Some(T::decode_cfg(b.clone(), &()).unwrap()),
            None => None,
            other => panic!("not an object: {other:?}"),
        }
    }

    fn token(&self, id: TokenId) -> Token {
        self.object(&keys::token(id)).expect("token exists")
    }

    fn gold(&self, a: &Address) -> u128 {
        balance(&self.state, a, GOLD)
    }

    fn nonce_of(&self, seed: u64) -> u64 {
        nonce(&self.state, &addr(seed))
    }

    fn query(&self, method: &str, params: Value) -> Result<Value, String> {
        run_query("nft", method, &params, self.height - 1, 128, |k| {
            Ok(self.state.get(k).cloned())
        })
        .map_err(|e| e.to_string())
    }

    fn create(&mut self, seed: u64, action: NftAction) -> CollectionId {
        let id = collection_id(&addr(seed), self.nonce_of(seed));
        self.ok(seed, action);
        id
    }

    fn mint_with(
        &mut self,
        seed: u64,
        c: CollectionId,
        shard: u8,
        parents: &[ParentLink],
    ) -> TokenId {
        let id = token_id(&addr(seed), self.nonce_of(seed));
        self.ok(seed, mint(c, shard, addr(seed), parents));
        id
    }

    fn mint(&mut self, c: CollectionId, shard: u8) -> TokenId {
        self.mint_with(CREATOR, c, shard, &[])
    }

    fn list(&mut self, seed: u64, token: TokenId, price: u128) {
        let collections = self.token_collections(token);
        self.ok(
            seed,
            NftAction::List {
                token,
                asset: GOLD,
                price,
                expiry_height: self.height + 100,
                collections: colls(&collections),
            },
        );
    }

    fn token_collections(&self, token: TokenId) -> Vec<CollectionId> {
        let t = self.token(token);
        let mut ids = vec![t.collection];
        for a in t.ancestry.iter() {
            if !ids.contains(&a.collection) {
                ids.push(a.collection);
            }
        }
        ids
    }

    /// Every account a sale of `token` could credit now.
    fn all_payees(&self, token: TokenId) -> Vec<Address> {
        let mut out: Vec<Address> = BUYERS.iter().chain(&[CREATOR]).map(|s| addr(*s)).collect();
        for id in self.token_collections(token) {
            let c: Collection = self.object(&keys::collection(id)).unwrap();
            out.extend(c.split.iter().map(|s| s.recipient));
        }
        // Recipients of splits that may be snapshotted in a listing.
        out.extend([20, 21, 22, 30, 40, 60].map(rcp));
        out.push(rcp(99));
        out.sort();
        out.dedup();
        out
    }

    fn buy(&mut self, seed: u64, token: TokenId, max_price: u128) -> Receipt {
        let p = self.all_payees(token);
        self.tx(
            seed,
            NftAction::Buy {
                token,
                asset: GOLD,
                max_price,
                payees: payees(&p),
            },
        )
    }

    fn licence(&mut self, seed: u64, token: TokenId) -> LicenceId {
        let id = licence_id(&addr(seed), self.nonce_of(seed));
        let c = self.token(token).collection;
        let p = self.all_payees(token);
        self.ok(
            seed,
            NftAction::BuyLicence {
                token,
                collection: c,
                asset: GOLD,
                payees: payees(&p),
            },
        );
        id
    }
}

fn mint(c: CollectionId, shard: u8, to: Address, parents: &[ParentLink]) -> NftAction {
    NftAction::Mint {
        collection: c,
        shard,
        to,
        content_hash: h(1),
        metadata_hash: h(2),
        uri: uri("ipfs://song"),
        freeze: false,
        parents: BoundedVec::new(parents.to_vec()).unwrap(),
    }
}

fn nft_events(r: &Receipt) -> Vec<NftEvent> {
    r.events
        .iter()
        .filter_map(|e| match e {
            Event::Nft(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

fn nft_err(r: &Receipt) -> NftError {
    match &r.status {
        TxStatus::Failed {
            error: FailureReason::Nft(e),
        } => e.clone(),
        other => panic!("not an nft failure: {other:?}"),
    }
}

fn run_both(state: &State, height: u64, txs: &[(u64, Action)]) -> (BlockOutcome, Changes) {
    let mut next: BTreeMap<u64, u64> = BTreeMap::new();
    let signed: Vec<_> = txs
        .iter()
        .map(|(seed, action)| {
            let n = next
                .entry(*seed)
                .or_insert_with(|| nonce(state, &addr(*seed)));
            *n += 1;
            let fee = required_fee(action, BASE_FEE);
            sign(*seed, *n - 1, fee, action.clone())
        })
        .collect();
    let env = BlockEnv {
        chain_id: CHAIN_ID,
        height,
        participation: lakh_execution::Participation::sole(addr(9)),
        offenses: Vec::new(),
        base_fee: BASE_FEE,
        staking: Default::default(),
        deposits: Vec::new(),
    };
    let mut sequential = prefetch(state, &env, &signed);
    let outcome =
        execute_block(&env, &signed, &mut sequential, Mode::Verify).expect("block executes");
    let mut parallel = prefetch(state, &env, &signed);
    let threads = NonZeroUsize::new(3).unwrap();
    let parallel_outcome =
        execute_block_parallel(&env, &signed, &mut parallel, Mode::Verify, threads, 0)
            .expect("block executes in parallel");
    assert_eq!(parallel_outcome, outcome, "parallel receipts differ");
    let changes: Vec<_> = sequential.into_changes().collect();
    let parallel_changes: Vec<_> = parallel.into_changes().collect();
    assert_eq!(parallel_changes, changes, "parallel changes differ");
    (outcome, changes.into_iter().collect())
}

fn objects<T: Read<Cfg = ()>>(state: &State, kind: u8) -> Vec<(Vec<u8>, T)> {
    state
        .iter()
        .filter_map(|(k, v)| match (k, v) {
            (StateKey::Object(o), StateValue::Object(b)) if o.kind == kind => {
                Some((o.id().to_vec(), T::decode_cfg(b.clone(), &()).unwrap()))
            }
            _ => None,
        })
        .collect()
}

fn id_u64(bytes: &[u8]) -> u64 {
    u64::from_be_bytes(bytes[..8].try_into().unwrap())
}

/// The module's invariants over a whole state: every custody account holds
/// exactly what its offer or auction escrows (nothing else holds value for
/// the module); tokens in auction have exactly one auction; every token's
/// ancestry is acyclic (ancestors minted before it, never itself), within
/// bounds and its stack ≤ 100% together with its royalty.
fn check_nft(state: &State) {
    let offers = objects::<Offer>(state, kind::OFFER);
    for (id, o) in &offers {
        let custody = offer_custody(id_u64(id));
        assert_eq!(balance(state, &custody, o.asset), o.amount, "offer custody");
    }
    let auctions: BTreeMap<u64, Auction> = objects::<Auction>(state, kind::AUCTION)
        .into_iter()
        .map(|(id, a)| (id_u64(&id), a))
        .collect();
    for (id, a) in &auctions {
        assert_eq!(
            balance(state, &auction_custody(*id), a.asset),
            a.highest_bid
        );
        assert_eq!(a.highest_bid == 0, a.highest_bidder.is_none());
        assert!(a.plan.royalty_ppm() + a.plan.fee_bps as u64 * 100 <= 1_000_000);
    }
    let tokens: BTreeMap<u64, Token> = objects::<Token>(state, kind::TOKEN)
        .into_iter()
        .map(|(id, t)| (id_u64(&id), t))
        .collect();
    for (id, t) in &tokens {
        assert_eq!(
            t.in_auction,
            auctions.contains_key(id),
            "token {id} auction lock"
        );
        if let Some(a) = auctions.get(id) {
            assert_eq!(a.seller, t.owner);
        }
        let c: Collection = match state.get(&keys::collection(t.collection)) {
            Some(StateValue::Object(b)) => Collection::decode_cfg(b.clone(), &()).unwrap(),
            other => panic!("token's collection: {other:?}"),
        };
        let stack: u64 = t.ancestry.iter().map(|a| a.share_ppm as u64).sum();
        assert_eq!(stack, t.stack_ppm as u64);
        assert!(stack <= 1_000_000);
        for a in t.ancestry.iter() {
            assert_ne!(a.token, *id, "a token is its own ancestor");
            let anc = tokens.get(&a.token).expect("ancestor exists");
            assert!(
                !anc.ancestry.iter().any(|x| x.token == *id),
                "cycle through {id}"
            );
        }
        // History chain is as long as the count says.
        let mut n = 0;
        let mut at = t.last_history;
        while let Some(r) = at {
            assert!(n <= t.history_len, "history chain of {id} loops");
            let rec: HistoryRecord = match state.get(&keys::history(*id, &r.sender, r.nonce)) {
                Some(StateValue::Object(b)) => HistoryRecord::decode_cfg(b.clone(), &()).unwrap(),
                other => panic!("history entry missing: {other:?}"),
            };
            n += 1;
            at = rec.prev;
        }
        assert_eq!(n, t.history_len);
        let _ = c;
    }
}

/// A sale's events add up: seller + royalty + fee == price, the royalty
/// payments sum to the royalty, and the royalty is the rounded-up rate.
fn check_sale(r: &Receipt, rate_ppm: u64) -> (u128, u128, u128) {
    let events = nft_events(r);
    let (price, royalty, fee, proceeds) = events
        .iter()
        .find_map(|e| match e {
            NftEvent::Sold {
                price,
                royalty,
                fee,
                proceeds,
                ..
            } => Some((*price, *royalty, *fee, *proceeds)),
            _ => None,
        })
        .expect("a sale");
    assert_eq!(proceeds + royalty + fee, price);
    let paid: u128 = events
        .iter()
        .filter_map(|e| match e {
            NftEvent::RoyaltyPaid { amount, .. } => Some(*amount),
            _ => None,
        })
        .sum();
    assert_eq!(paid, royalty);
    assert_eq!(royalty, (price * rate_ppm as u128).div_ceil(1_000_000));
    (royalty, fee, proceeds)
}

fn basic() -> (Chain, CollectionId, TokenId) {
    let mut chain = Chain::new();
    let c = chain.create(
        CREATOR,
        create(
            CollectionKind::Limited { max_editions: 25 },
            1_000,
            split(&[(20, 2), (21, 1)]),
            TransferPolicy::Free {},
        ),
    );
    let t = chain.mint(c, 0);
    (chain, c, t)
}

#[test]
fn a_listed_token_sells_and_the_royalty_reaches_every_split_recipient() {
    let (mut chain, c, t) = basic();
    let token = chain.token(t);
    assert_eq!(
        (token.edition, token.owner, token.collection),
        (1, addr(CREATOR), c)
    );
    chain.list(CREATOR, t, 1_000);
    let q = chain.query("listing", json!({"token": t})).unwrap();
    assert_eq!(
        (q["live"].clone(), q["listing"]["price"].clone()),
        (json!(true), json!("1000"))
    );
    let listed: Vec<Address> = serde_json::from_value(q["payees"].clone()).unwrap();
    assert_eq!(listed, vec![addr(CREATOR), rcp(20), rcp(21)]);
    let creator_before = chain.gold(&addr(CREATOR));
    let r = chain.buy(2, t, 1_000);
    assert_eq!(r.status, TxStatus::Success);
    let (royalty, fee, proceeds) = check_sale(&r, 100_000);
    assert_eq!((royalty, fee, proceeds), (100, 0, 900));
    // 100 split 2:1: 66 + 33, the unit of dust to the first recipient.
    assert_eq!(chain.gold(&rcp(20)), 67);
    assert_eq!(chain.gold(&rcp(21)), 33);
    assert_eq!(chain.gold(&addr(CREATOR)), creator_before + 900);
    assert_eq!(chain.gold(&addr(2)), START_GOLD - 1_000);
    assert_eq!(chain.token(t).owner, addr(2));
    assert!(chain.object::<Listing>(&keys::listing(t)).is_none());

    // History: minted, then sold, in order.
    let hist = chain.query("history", json!({"token": t})).unwrap();
    let entries = hist["entries"].as_array().unwrap();
    assert_eq!(hist["total"], 2);
    assert_eq!(entries[0]["entry"]["event"], "minted");
    assert_eq!(entries[1]["entry"]["event"], "sold");
    assert_eq!(entries[1]["entry"]["royalty"], "100");
    let token = chain.query("token", json!({"token": t})).unwrap();
    assert_eq!(token["info"]["owner"], addr(2).to_hex());
    assert_eq!(token["collections"], json!([c]));
    let coll = chain.query("collection", json!({"collection": c})).unwrap();
    assert_eq!(coll["info"]["royalty_bps"], 1_000);
    assert!(
        chain
            .query("listing", json!({"token": t}))
            .unwrap_err()
            .contains("not found")
    );
    assert!(
        chain
            .query("nope", json!({}))
            .unwrap_err()
            .contains("unknown method")
    );
}

#[test]
fn the_fee_rounds_down_the_royalty_up_and_tiny_prices_still_pay_the_creator() {
    let (mut chain, _, t) = basic();
    chain.ok(
        ADMIN,
        NftAction::SetFee {
            fee_bps: 250,
            fee_recipient: rcp(99),
        },
    );
    chain.list(CREATOR, t, 1);
    let r1 = chain.buy(2, t, 1);
    assert_eq!(check_sale(&r1, 100_000), (1, 0, 0));
    chain.list(2, t, 3);
    let r2 = chain.buy(3, t, 3);
    assert_eq!(check_sale(&r2, 100_000), (1, 0, 2));
    chain.list(3, t, 10_000);
    let r3 = chain.buy(4, t, 10_000);
    assert_eq!(check_sale(&r3, 100_000), (1_000, 250, 8_750));
    assert_eq!(chain.gold(&rcp(99)), 250);
    // The fee is capped; only the admin sets it.
    assert!(matches!(
        chain.fails(
            ADMIN,
            NftAction::SetFee {
                fee_bps: MAX_FEE_BPS + 1,
                fee_recipient: rcp(99)
            }
        ),
        NftError::BadParams { .. }
    ));
    let r = chain.tx(
        2,
        NftAction::SetFee {
            fee_bps: 1,
            fee_recipient: rcp(99),
        },
    );
    assert!(matches!(
        r.status,
        TxStatus::Failed {
            error: FailureReason::NotAdmin { .. }
        }
    ));
}

#[test]
fn royalty_and_split_changes_after_listing_do_not_touch_the_listing() {
    let (mut chain, c, t) = basic();
    chain.list(CREATOR, t, 1_000);
    chain.ok(
        CREATOR,
        NftAction::SetRoyalty {
            collection: c,
            royalty_bps: 5_000,
            split: split(&[(30, 1)]),
        },
    );
    let r = chain.buy(2, t, 1_000);
    assert_eq!(check_sale(&r, 100_000), (100, 0, 900));
    assert_eq!(chain.gold(&rcp(30)), 0);
    assert_eq!(chain.gold(&rcp(20)), 67);
    // A new listing uses the new terms.
    chain.list(2, t, 1_000);
    let mut p = chain.all_payees(t);
    p.push(rcp(30));
    let r = chain.tx(
        3,
        NftAction::Buy {
            token: t,
            asset: GOLD,
            max_price: 1_000,
            payees: payees(&p),
        },
    );
    assert_eq!(r.status, TxStatus::Success);
    assert_eq!(check_sale(&r, 500_000), (500, 0, 500));
    assert_eq!(chain.gold(&rcp(30)), 500);
    // Only the creator sets royalties; the cap and split rules hold.
    assert!(matches!(
        chain.fails(
            2,
            NftAction::SetRoyalty {
                collection: c,
                royalty_bps: 1,
                split: split(&[(30, 1)])
            }
        ),
        NftError::NotCreator { .. }
    ));
    assert!(matches!(
        chain.fails(
            CREATOR,
            NftAction::SetRoyalty {
                collection: c,
                royalty_bps: MAX_ROYALTY_BPS + 1,
                split: split(&[(30, 1)])
            }
        ),
        NftError::BadParams { .. }
    ));
    assert!(matches!(
        chain.fails(
            CREATOR,
            NftAction::SetRoyalty {
                collection: c,
                royalty_bps: 10,
                split: split(&[(30, 1), (30, 2)])
            }
        ),
        NftError::BadParams { .. }
    ));
    assert!(matches!(
        chain.fails(
            CREATOR,
            NftAction::SetRoyalty {
                collection: c,
                royalty_bps: 10,
                split: split(&[(30, 0)])
            }
        ),
        NftError::BadParams { .. }
    ));
}

#[test]
fn a_listing_dies_when_the_token_moves_and_sells_once_per_block() {
    let (mut chain, _, t) = basic();
    chain.list(CREATOR, t, 1_000);
    // Two buys of one listing in one block: the first wins.
    let p = payees(&chain.all_payees(t));
    let buy = |s: u64| {
        (
            s,
            Action::Nft(Box::new(NftAction::Buy {
                token: t,
                asset: GOLD,
                max_price: 1_000,
                payees: p.clone(),
            })),
        )
    };
    let receipts = chain.block(vec![buy(2), buy(3)]);
    assert_eq!(receipts[0].status, TxStatus::Success);
    assert_eq!(nft_err(&receipts[1]), NftError::NotListed { token: t });
    // A stale listing: listed, transferred away and back.
    chain.list(2, t, 500);
    chain.ok(
        2,
        NftAction::Transfer {
            token: t,
            collection: chain.token(t).collection,
            to: addr(4),
            fee_asset: GOLD,
            payees: payees(&[]),
        },
    );
    assert!(chain.object::<Listing>(&keys::listing(t)).is_none());
    let r = chain.buy(3, t, 500);
    assert_eq!(nft_err(&r), NftError::NotListed { token: t });
    // Own listing, price above the maximum, wrong asset, expiry.
    chain.list(4, t, 500);
    assert_eq!(
        nft_err(&chain.buy(4, t, 500)),
        NftError::OwnToken {
            token: t,
            buyer: addr(4)
        }
    );
    assert_eq!(
        nft_err(&chain.buy(3, t, 499)),
        NftError::PriceTooHigh {
            price: 500,
            max_price: 499
        }
    );
    let r = chain.tx(
        3,
        NftAction::Buy {
            token: t,
            asset: AssetId::NATIVE,
            max_price: 500,
            payees: payees(&[]),
        },
    );
    assert!(matches!(nft_err(&r), NftError::WrongAsset { .. }));
    chain.height += 200;
    assert!(matches!(
        nft_err(&chain.buy(3, t, 500)),
        NftError::Expired { .. }
    ));
    // Only the seller cancels.
    assert!(matches!(
        chain.fails(3, NftAction::CancelListing { token: t }),
        NftError::NotOwner { .. }
    ));
    chain.ok(4, NftAction::CancelListing { token: t });
}

#[test]
fn undeclared_payees_and_collections_are_refused() {
    let (mut chain, c, t) = basic();
    let r = chain.tx(
        CREATOR,
        NftAction::List {
            token: t,
            asset: GOLD,
            price: 10,
            expiry_height: 100,
            collections: colls(&[c + 1]),
        },
    );
    assert_eq!(
        nft_err(&r),
        NftError::UndeclaredCollection { collection: c }
    );
    chain.list(CREATOR, t, 1_000);
    let r = chain.tx(
        2,
        NftAction::Buy {
            token: t,
            asset: GOLD,
            max_price: 1_000,
            payees: payees(&[addr(CREATOR), rcp(20)]),
        },
    );
    assert_eq!(nft_err(&r), NftError::UndeclaredPayee { payee: rcp(21) });
    // A deadline in the past or too far.
    let r = chain.tx(
        CREATOR,
        NftAction::List {
            token: t,
            asset: GOLD,
            price: 10,
            expiry_height: 1,
            collections: colls(&[c]),
        },
    );
    assert!(matches!(nft_err(&r), NftError::BadDeadline { .. }));
}

#[test]
fn royalty_plus_fee_above_the_price_is_refused_at_listing() {
    let mut chain = Chain::new();
    let mut half = create(
        CollectionKind::OneOfOne {},
        MAX_ROYALTY_BPS,
        split(&[(20, 1)]),
        TransferPolicy::Free {},
    );
    if let NftAction::CreateCollection { licence, .. } = &mut half {
        *licence = Some(terms(500_000, 50));
    }
    let c = chain.create(CREATOR, half);
    let parent = chain.mint(c, 0);
    // A derivative whose stack plus royalty is 100%: any fee is too much.
    let l = chain.licence(2, parent);
    let c2 = chain.create(
        2,
        NftAction::CreateCollection {
            name: Text::new("Remix").unwrap(),
            symbol: Text::new("RMX").unwrap(),
            kind: CollectionKind::OneOfOne {},
            royalty_bps: MAX_ROYALTY_BPS,
            split: split(&[(40, 1)]),
            licence: None,
            policy: TransferPolicy::Free {},
        },
    );
    let d = chain.mint_with(
        2,
        c2,
        0,
        &[ParentLink {
            token: parent,
            licence: l,
        }],
    );
    assert_eq!(chain.token(d).stack_ppm, 500_000);
    chain.ok(
        ADMIN,
        NftAction::SetFee {
            fee_bps: 1,
            fee_recipient: rcp(99),
        },
    );
    let r = chain.tx(
        2,
        NftAction::List {
            token: d,
            asset: GOLD,
            price: 10,
            expiry_height: 100,
            collections: colls(&[c2, c]),
        },
    );
    assert_eq!(
        nft_err(&r),
        NftError::RoyaltyAndFeeAbovePrice {
            royalty_ppm: 1_000_000,
            fee_bps: 1
        }
    );
}

#[test]
fn transfer_policies_are_enforced() {
    let mut chain = Chain::new();
    let c = chain.create(
        CREATOR,
        create(
            CollectionKind::Open {
                until_height: 1_000,
            },
            100,
            split(&[(20, 1)]),
            TransferPolicy::MarketOnly {},
        ),
    );
    let t = chain.mint(c, 3);
    assert_eq!(chain.token(t).edition, 4);
    assert_eq!(
        chain.fails(
            CREATOR,
            NftAction::Transfer {
                token: t,
                collection: c,
                to: addr(2),
                fee_asset: GOLD,
                payees: payees(&[])
            }
        ),
        NftError::MarketOnly { collection: c }
    );
    let c2 = chain.create(
        CREATOR,
        create(
            CollectionKind::Open {
                until_height: 1_000,
            },
            100,
            split(&[(20, 3), (21, 1)]),
            TransferPolicy::MinFee {
                asset: GOLD,
                amount: 10,
            },
        ),
    );
    let t2 = chain.mint(c2, 0);
    let r = chain.tx(
        CREATOR,
        NftAction::Transfer {
            token: t2,
            collection: c2,
            to: addr(2),
            fee_asset: GOLD,
            payees: payees(&[rcp(20)]),
        },
    );
    assert_eq!(nft_err(&r), NftError::UndeclaredPayee { payee: rcp(21) });
    let ev = chain.ok(
        CREATOR,
        NftAction::Transfer {
            token: t2,
            collection: c2,
            to: addr(2),
            fee_asset: GOLD,
            payees: payees(&[rcp(20), rcp(21)]),
        },
    );
    assert!(ev.contains(&NftEvent::Transferred {
        token: t2,
        from: addr(CREATOR),
        to: addr(2),
        fee: 10
    }));
    assert_eq!((chain.gold(&rcp(20)), chain.gold(&rcp(21))), (8, 2));
    // Not the owner, wrong collection.
    assert!(matches!(
        chain.fails(
            CREATOR,
            NftAction::Transfer {
                token: t2,
                collection: c2,
                to: addr(2),
                fee_asset: GOLD,
                payees: payees(&[])
            }
        ),
        NftError::NotOwner { .. }
    ));
    assert!(matches!(
        chain.fails(
            2,
            NftAction::Transfer {
                token: t2,
                collection: c,
                to: addr(3),
                fee_asset: GOLD,
                payees: payees(&[])
            }
        ),
        NftError::WrongCollection { .. }
    ));
    // Open editions close at their height.
    chain.height = 1_000;
    assert!(matches!(
        chain.fails(CREATOR, mint(c, 0, addr(CREATOR), &[])),
        NftError::MintingClosed { .. }
    ));
}

#[test]
fn editions_are_capped_per_shard_and_only_the_creator_mints() {
    let mut chain = Chain::new();
    let c = chain.create(
        CREATOR,
        create(
            CollectionKind::Limited { max_editions: 18 },
            100,
            split(&[(20, 1)]),
            TransferPolicy::Free {},
        ),
    );
    assert!(matches!(
        chain.fails(2, mint(c, 0, addr(2), &[])),
        NftError::NotCreator { .. }
    ));
    // Shard 0 numbers 1, 17, then 33 (> 18); shard 1 numbers 2, 18; shard 2 numbers 3 only.
    let a = chain.mint(c, 0);
    let b = chain.mint(c, 0);
    assert_eq!((chain.token(a).edition, chain.token(b).edition), (1, 17));
    assert_eq!(
        chain.fails(CREATOR, mint(c, 0, addr(CREATOR), &[])),
        NftError::EditionCapReached {
            edition: 33,
            max_editions: 18
        }
    );
    chain.mint(c, 1);
    let e = chain.mint(c, 1);
    assert_eq!(chain.token(e).edition, 18);
    chain.mint(c, 2);
    assert_eq!(
        chain.fails(CREATOR, mint(c, 2, addr(CREATOR), &[])),
        NftError::EditionCapReached {
            edition: 19,
            max_editions: 18
        }
    );
    // Mints to different shards in one block run in parallel (run_both compares).
    let c2 = chain.create(
        CREATOR,
        create(
            CollectionKind::Limited { max_editions: 100 },
            100,
            split(&[(20, 1)]),
            TransferPolicy::Free {},
        ),
    );
    let receipts = chain.block(vec![
        (
            CREATOR,
            Action::Nft(Box::new(mint(c2, 0, addr(CREATOR), &[]))),
        ),
        (
            CREATOR,
            Action::Nft(Box::new(mint(c2, 1, addr(CREATOR), &[]))),
        ),
    ]);
    assert!(receipts.iter().all(|r| r.status.is_success()));
    // A 1/1 has one edition and one shard.
    let one = chain.create(
        CREATOR,
        create(
            CollectionKind::OneOfOne {},
            100,
            split(&[(20, 1)]),
            TransferPolicy::Free {},
        ),
    );
    assert_eq!(
        chain.fails(CREATOR, mint(one, 1, addr(CREATOR), &[])),
        NftError::BadShard { shard: 1, max: 0 }
    );
    chain.mint(one, 0);
    assert_eq!(
        chain.fails(CREATOR, mint(one, 0, addr(CREATOR), &[])),
        NftError::EditionCapReached {
            edition: 17,
            max_editions: 1
        }
    );
    assert!(matches!(
        chain.fails(CREATOR, mint(c + 7, 0, addr(CREATOR), &[])),
        NftError::UnknownCollection { .. }
    ));
}

#[test]
fn metadata_changes_are_events_until_the_freeze() {
    let (mut chain, _, t) = basic();
    let ev = chain.ok(
        CREATOR,
        NftAction::UpdateMetadata {
            token: t,
            metadata_hash: h(9),
            uri: uri("ar://new"),
        },
    );
    assert!(matches!(ev[0], NftEvent::MetadataChanged { .. }));
    assert!(matches!(
        chain.fails(2, NftAction::Freeze { token: t }),
        NftError::NotCreator { .. }
    ));
    chain.ok(CREATOR, NftAction::Freeze { token: t });
    assert_eq!(
        chain.fails(
            CREATOR,
            NftAction::UpdateMetadata {
                token: t,
                metadata_hash: h(8),
                uri: uri("x")
            }
        ),
        NftError::MetadataFrozen { token: t }
    );
    assert_eq!(
        chain.fails(CREATOR, NftAction::Freeze { token: t }),
        NftError::MetadataFrozen { token: t }
    );
    let token = chain.token(t);
    assert_eq!(
        (token.metadata_hash, token.uri.as_str()),
        (h(9), "ar://new")
    );
    let hist = chain
        .query("history", json!({"token": t, "limit": 2}))
        .unwrap();
    let events: Vec<_> = hist["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry"]["event"].clone())
        .collect();
    assert_eq!(events, vec![json!("metadata_changed"), json!("frozen")]);
    let older = chain
        .query("history", json!({"token": t, "before": hist["before"]}))
        .unwrap();
    assert_eq!(older["entries"][0]["entry"]["event"], "minted");
    assert!(older["before"].is_null());
}

fn provenance(t: TokenId, salt: Hash32, output: Hash32) -> NftAction {
    NftAction::RecordProvenance {
        token: t,
        model_id: h(50),
        model_version: Text::new("v1.2").unwrap(),
        prompt_hash: h(51),
        salt,
        seed: 42,
        params_hash: h(52),
        output_hash: output,
        contributors: BoundedVec::new(vec![addr(5)]).unwrap(),
    }
}

fn attest(t: TokenId, key_seed: u64, seed: u64) -> NftAction {
    let k = key(key_seed);
    NftAction::Attest {
        token: t,
        attester: addr(key_seed),
        model_id: h(50),
        prompt_hash: h(51),
        seed,
        output_hash: h(1),
        signature: sign_attestation(&k, &h(50), &h(51), seed, &h(1)),
    }
}

#[test]
fn provenance_is_committed_revealed_and_attested_and_conflicts_flag() {
    let (mut chain, _, t) = basic();
    // A reveal without a commitment.
    let commitment = prompt_commitment(&addr(CREATOR), &h(51), &h(53));
    assert_eq!(
        chain.fails(CREATOR, provenance(t, h(53), h(1))),
        NftError::NoPromptCommit { commitment }
    );
    // Commit and reveal in one block: too early.
    let receipts = chain.block(vec![
        (
            CREATOR,
            Action::Nft(Box::new(NftAction::CommitPrompt { commitment })),
        ),
        (CREATOR, Action::Nft(Box::new(provenance(t, h(53), h(1))))),
    ]);
    assert!(matches!(
        nft_err(&receipts[1]),
        NftError::RevealTooEarly { .. }
    ));
    // The output must be the content.
    assert!(matches!(
        chain.fails(CREATOR, provenance(t, h(53), h(2))),
        NftError::OutputHashMismatch { .. }
    ));
    assert!(matches!(
        chain.fails(2, provenance(t, h(53), h(1))),
        NftError::NotCreator { .. }
    ));
    chain.ok(CREATOR, provenance(t, h(53), h(1)));
    assert!(matches!(
        chain.fails(CREATOR, provenance(t, h(53), h(1))),
        NftError::ProvenanceExists { .. }
    ));

    // Attestations: unregistered, registered, forged, duplicate, conflicting.
    assert!(matches!(
        chain.fails(2, attest(t, 7, 42)),
        NftError::AttesterNotRegistered { .. }
    ));
    let r = chain.tx(
        2,
        NftAction::RegisterAttester {
            model_id: h(50),
            attester: addr(7),
        },
    );
    assert!(matches!(
        r.status,
        TxStatus::Failed {
            error: FailureReason::NotAdmin { .. }
        }
    ));
    chain.ok(
        ADMIN,
        NftAction::RegisterAttester {
            model_id: h(50),
            attester: addr(7),
        },
    );
    chain.ok(
        ADMIN,
        NftAction::RegisterAttester {
            model_id: h(50),
            attester: addr(8),
        },
    );
    let mut forged = attest(t, 7, 42);
    if let NftAction::Attest { signature, .. } = &mut forged {
        *signature = sign_attestation(&key(6), &h(50), &h(51), 42, &h(1));
    }
    assert_eq!(
        chain.fails(2, forged),
        NftError::BadSignature { attester: addr(7) }
    );
    let ev = chain.ok(2, attest(t, 7, 42));
    assert_eq!(
        ev,
        vec![NftEvent::Attested {
            token: t,
            attester: addr(7)
        }]
    );
    assert!(matches!(
        chain.fails(2, attest(t, 7, 42)),
        NftError::AlreadyAttested { .. }
    ));
    assert!(!chain.token(t).flagged);
    let ev = chain.ok(2, attest(t, 8, 43));
    assert_eq!(
        ev,
        vec![NftEvent::Flagged {
            token: t,
            attester: addr(8)
        }]
    );
    assert!(chain.token(t).flagged);
    let q = chain.query("token", json!({"token": t})).unwrap();
    assert_eq!(q["provenance"]["attestations"], json!([addr(7).to_hex()]));
    assert_eq!(q["provenance"]["conflicts"], 1);
    assert_eq!(q["info"]["flagged"], true);
}

#[test]
fn offers_are_escrowed_cancelled_and_accepted_with_royalty() {
    let (mut chain, c, t) = basic();
    let o = offer_id(&addr(2), chain.nonce_of(2));
    chain.ok(
        2,
        NftAction::MakeOffer {
            token: t,
            asset: GOLD,
            amount: 700,
            expiry_height: chain.height + 50,
        },
    );
    assert_eq!(chain.gold(&offer_custody(o)), 700);
    assert!(matches!(
        chain.fails(
            CREATOR,
            NftAction::MakeOffer {
                token: t,
                asset: GOLD,
                amount: 1,
                expiry_height: 100
            }
        ),
        NftError::OwnToken { .. }
    ));
    let o2 = offer_id(&addr(3), chain.nonce_of(3));
    chain.ok(
        3,
        NftAction::MakeOffer {
            token: t,
            asset: GOLD,
            amount: 800,
            expiry_height: chain.height + 50,
        },
    );
    assert!(matches!(
        chain.fails(
            2,
            NftAction::CancelOffer {
                offer: o2,
                asset: GOLD
            }
        ),
        NftError::NotBidder { .. }
    ));
    chain.ok(
        3,
        NftAction::CancelOffer {
            offer: o2,
            asset: GOLD,
        },
    );
    assert_eq!(chain.gold(&addr(3)), START_GOLD);
    let q = chain.query("offer", json!({"offer": o})).unwrap();
    let p: Vec<Address> = serde_json::from_value(q["payees"].clone()).unwrap();
    let accept = NftAction::AcceptOffer {
        offer: o,
        token: t,
        asset: GOLD,
        bidder: addr(2),
        collections: colls(&[c]),
        payees: payees(&p),
    };
    assert!(matches!(
        chain.fails(3, accept.clone()),
        NftError::NotOwner { .. }
    ));
    let r = chain.tx(CREATOR, accept);
    assert_eq!(check_sale(&r, 100_000), (70, 0, 630));
    assert_eq!(chain.token(t).owner, addr(2));
    assert_eq!(chain.gold(&offer_custody(o)), 0);
    assert!(matches!(
        chain.fails(
            2,
            NftAction::CancelOffer {
                offer: o,
                asset: GOLD
            }
        ),
        NftError::UnknownOffer { .. }
    ));
}

#[test]
fn english_auctions_take_a_reserve_extend_on_late_bids_and_settle_with_royalty() {
    let (mut chain, c, t) = basic();
    let end = chain.height + 20;
    chain.ok(
        CREATOR,
        NftAction::StartAuction {
            token: t,
            asset: GOLD,
            reserve: 100,
            end_height: end,
            collections: colls(&[c]),
        },
    );
    assert!(chain.token(t).in_auction);
    // The token is locked: no transfer, listing, second auction.
    assert!(matches!(
        chain.fails(
            CREATOR,
            NftAction::Transfer {
                token: t,
                collection: c,
                to: addr(2),
                fee_asset: GOLD,
                payees: payees(&[])
            }
        ),
        NftError::TokenInAuction { .. }
    ));
    let bid = |amount: u128, prev: Option<u64>| NftAction::Bid {
        token: t,
        asset: GOLD,
        amount,
        previous_bidder: prev.map(addr),
    };
    assert_eq!(
        chain.fails(2, bid(99, None)),
        NftError::BidTooLow {
            amount: 99,
            minimum: 100
        }
    );
    chain.ok(2, bid(100, None));
    assert!(matches!(
        chain.fails(3, bid(200, None)),
        NftError::StaleBidder { .. }
    ));
    assert_eq!(
        chain.fails(3, bid(104, Some(2))),
        NftError::BidTooLow {
            amount: 104,
            minimum: 105
        }
    );
    assert!(matches!(
        chain.fails(CREATOR, bid(500, Some(2))),
        NftError::OwnToken { .. }
    ));
    assert!(matches!(
        chain.fails(CREATOR, NftAction::CancelAuction { token: t }),
        NftError::AuctionHasBids { .. }
    ));
    chain.ok(3, bid(105, Some(2)));
    let q = chain.query("auction", json!({"token": t})).unwrap();
    assert_eq!(q["min_bid"], "111");
    assert_eq!(q["ended"], false);
    assert_eq!(q["custody"], auction_custody(t).to_hex());
    assert_eq!(chain.gold(&addr(2)), START_GOLD);
    assert_eq!(chain.gold(&auction_custody(t)), 105);
    // A late bid extends the end.
    chain.height = end - 2;
    let ev = chain.ok(4, bid(200, Some(3)));
    assert!(ev.contains(&NftEvent::BidPlaced {
        token: t,
        bidder: addr(4),
        amount: 200,
        end_height: end - 2 + AUCTION_EXTENSION_BLOCKS
    }));
    let p = chain.all_payees(t);
    let settle = NftAction::SettleAuction {
        token: t,
        asset: GOLD,
        payees: payees(&p),
    };
    assert!(matches!(
        chain.fails(5, settle.clone()),
        NftError::AuctionRunning { .. }
    ));
    chain.height = end + AUCTION_EXTENSION_BLOCKS;
    assert!(matches!(
        chain.fails(5, bid(300, Some(4))),
        NftError::AuctionEnded { .. }
    ));
    let r = chain.tx(5, settle);
    assert_eq!(check_sale(&r, 100_000), (20, 0, 180));
    let token = chain.token(t);
    assert_eq!((token.owner, token.in_auction), (addr(4), false));
    // No bids: the token goes back unlocked; a seller may cancel before bids.
    let end = chain.height + 5;
    chain.ok(
        4,
        NftAction::StartAuction {
            token: t,
            asset: GOLD,
            reserve: 1,
            end_height: end,
            collections: colls(&[c]),
        },
    );
    chain.ok(4, NftAction::CancelAuction { token: t });
    chain.ok(
        4,
        NftAction::StartAuction {
            token: t,
            asset: GOLD,
            reserve: 1,
            end_height: chain.height + 2,
            collections: colls(&[c]),
        },
    );
    chain.height += 5;
    let ev = chain.ok(
        6,
        NftAction::SettleAuction {
            token: t,
            asset: GOLD,
            payees: payees(&[]),
        },
    );
    assert_eq!(ev, vec![NftEvent::AuctionClosed { token: t }]);
    assert_eq!(chain.token(t).owner, addr(4));
}

#[test]
fn licences_pay_the_split_and_derivatives_pay_their_ancestors_on_every_sale() {
    let (mut chain, c, parent) = basic();
    let l = chain.licence(2, parent);
    // The fee (50) goes through the split 2:1 (dust first).
    assert_eq!((chain.gold(&rcp(20)), chain.gold(&rcp(21))), (34, 16));
    let lic: Licence = chain.object(&keys::licence(l)).unwrap();
    assert_eq!((lic.holder, lic.token, lic.used), (addr(2), parent, false));
    let q = chain.query("licence", json!({"licence": l})).unwrap();
    assert_eq!(q["info"]["holder"], addr(2).to_hex());
    assert_eq!(q["info"]["terms"]["revenue_share_ppm"], 100_000);
    let c2 = chain.create(
        2,
        NftAction::CreateCollection {
            name: Text::new("Remix").unwrap(),
            symbol: Text::new("RMX").unwrap(),
            kind: CollectionKind::Limited { max_editions: 10 },
            royalty_bps: 500,
            split: split(&[(40, 1)]),
            licence: Some(terms(50_000, 0)),
            policy: TransferPolicy::Free {},
        },
    );
    let child = chain.mint_with(
        2,
        c2,
        0,
        &[ParentLink {
            token: parent,
            licence: l,
        }],
    );
    let ct = chain.token(child);
    assert_eq!(ct.stack_ppm, 100_000);
    assert_eq!(ct.parents.to_vec(), vec![parent]);
    // The licence is used up.
    let lic: Licence = chain.object(&keys::licence(l)).unwrap();
    assert!(lic.used);
    assert_eq!(
        chain.fails(
            2,
            mint(
                c2,
                1,
                addr(2),
                &[ParentLink {
                    token: parent,
                    licence: l
                }]
            )
        ),
        NftError::LicenceUsed { licence: l }
    );
    // A grandchild pays both generations.
    let l2 = chain.licence(3, child);
    let c3 = chain.create(
        3,
        NftAction::CreateCollection {
            name: Text::new("Remix of remix").unwrap(),
            symbol: Text::new("RR").unwrap(),
            kind: CollectionKind::OneOfOne {},
            royalty_bps: 100,
            split: split(&[(60, 1)]),
            licence: None,
            policy: TransferPolicy::Free {},
        },
    );
    let grand = chain.mint_with(
        3,
        c3,
        0,
        &[ParentLink {
            token: child,
            licence: l2,
        }],
    );
    let gt = chain.token(grand);
    assert_eq!(gt.stack_ppm, 150_000);
    assert_eq!(gt.ancestry.len(), 2);
    let q = chain.query("token", json!({"token": grand})).unwrap();
    assert_eq!(q["collections"], json!([c3, c, c2]));
    chain.list(3, grand, 10_000);
    let before = (
        chain.gold(&rcp(20)),
        chain.gold(&rcp(40)),
        chain.gold(&rcp(60)),
    );
    let r = chain.buy(4, grand, 10_000);
    // 1% own + 10% to the original + 5% to the remix = 16%.
    assert_eq!(check_sale(&r, 160_000), (1_600, 0, 8_400));
    assert_eq!(chain.gold(&rcp(60)) - before.2, 100);
    assert_eq!(
        chain.gold(&rcp(20)) + chain.gold(&rcp(21)) - before.0 - 16,
        1_000
    );
    assert_eq!(chain.gold(&rcp(40)) - before.1, 500);
    // The parents' histories show the links.
    let hist = chain.query("history", json!({"token": parent})).unwrap();
    let events: Vec<_> = hist["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entry"]["event"].clone())
        .collect();
    assert_eq!(
        events,
        vec![
            json!("minted"),
            json!("licensed"),
            json!("derivative_linked")
        ]
    );
}

#[test]
fn licences_refuse_non_derivable_expired_foreign_and_non_transferable_use() {
    let mut chain = Chain::new();
    let mut no_derive = terms(10_000, 5);
    no_derive.derivatives_allowed = false;
    no_derive.transferable = false;
    no_derive.expiry_height = 40;
    let c = chain.create(
        CREATOR,
        NftAction::CreateCollection {
            name: Text::new("Closed").unwrap(),
            symbol: Text::new("CLS").unwrap(),
            kind: CollectionKind::Limited { max_editions: 5 },
            royalty_bps: 100,
            split: split(&[(20, 1)]),
            licence: Some(no_derive),
            policy: TransferPolicy::Free {},
        },
    );
    let a = chain.mint(c, 0);
    let b = chain.mint(c, 1);
    let l = chain.licence(2, a);
    let c2 = chain.create(
        2,
        create(
            CollectionKind::Limited { max_editions: 5 },
            100,
            split(&[(40, 1)]),
            TransferPolicy::Free {},
        ),
    );
    assert_eq!(
        chain.fails(
            2,
            mint(
                c2,
                0,
                addr(2),
                &[ParentLink {
                    token: a,
                    licence: l
                }]
            )
        ),
        NftError::DerivativesNotAllowed { licence: l }
    );
    assert!(matches!(
        chain.fails(
            2,
            mint(
                c2,
                0,
                addr(2),
                &[ParentLink {
                    token: b,
                    licence: l
                }]
            )
        ),
        NftError::LicenceForOtherWork { .. }
    ));
    assert!(matches!(
        chain.fails(
            3,
            NftAction::TransferLicence {
                licence: l,
                to: addr(3)
            }
        ),
        NftError::NotLicenceHolder { .. }
    ));
    assert_eq!(
        chain.fails(
            2,
            NftAction::TransferLicence {
                licence: l,
                to: addr(3)
            }
        ),
        NftError::LicenceNotTransferable { licence: l }
    );
    // Someone else's licence.
    let c3 = chain.create(
        3,
        create(
            CollectionKind::Limited { max_editions: 5 },
            100,
            split(&[(40, 1)]),
            TransferPolicy::Free {},
        ),
    );
    assert!(matches!(
        chain.fails(
            3,
            mint(
                c3,
                0,
                addr(3),
                &[ParentLink {
                    token: a,
                    licence: l
                }]
            )
        ),
        NftError::NotLicenceHolder { .. }
    ));
    // Expired terms: no more licences.
    chain.height = 40;
    let p = chain.all_payees(a);
    assert!(matches!(
        chain.fails(
            2,
            NftAction::BuyLicence {
                token: a,
                collection: c,
                asset: GOLD,
                payees: payees(&p)
            }
        ),
        NftError::LicenceExpired { .. }
    ));
    // No licence terms at all.
    let c4 = chain.create(
        CREATOR,
        NftAction::CreateCollection {
            name: Text::new("None").unwrap(),
            symbol: Text::new("NON").unwrap(),
            kind: CollectionKind::OneOfOne {},
            royalty_bps: 0,
            split: split(&[(20, 1)]),
            licence: None,
            policy: TransferPolicy::Free {},
        },
    );
    let t4 = chain.mint(c4, 0);
    assert_eq!(
        chain.fails(
            2,
            NftAction::BuyLicence {
                token: t4,
                collection: c4,
                asset: GOLD,
                payees: payees(&[])
            }
        ),
        NftError::NoLicenceTerms { collection: c4 }
    );
}

#[test]
fn ancestor_bounds_and_stacks_above_100_percent_are_refused() {
    let mut chain = Chain::new();
    // Each parent asks 30%: four parents are 120% > 100%.
    let mut t = terms(300_000, 0);
    t.expiry_height = 0;
    let c = chain.create(
        CREATOR,
        NftAction::CreateCollection {
            name: Text::new("Stems").unwrap(),
            symbol: Text::new("STM").unwrap(),
            kind: CollectionKind::Limited { max_editions: 100 },
            royalty_bps: 0,
            split: split(&[(20, 1)]),
            licence: Some(t),
            policy: TransferPolicy::Free {},
        },
    );
    let parents: Vec<TokenId> = (0..4).map(|s| chain.mint(c, s)).collect();
    let links: Vec<ParentLink> = parents
        .iter()
        .map(|p| ParentLink {
            token: *p,
            licence: chain.licence(2, *p),
        })
        .collect();
    let c2 = chain.create(
        2,
        create(
            CollectionKind::Limited { max_editions: 5 },
            0,
            split(&[(40, 1)]),
            TransferPolicy::Free {},
        ),
    );
    assert_eq!(
        chain.fails(2, mint(c2, 0, addr(2), &links)),
        NftError::RoyaltyStackTooHigh {
            stack_ppm: 1_200_000,
            royalty_bps: 0
        }
    );
    // Three are fine (90%).
    let d = chain.mint_with(2, c2, 0, &links[..3]);
    assert_eq!(chain.token(d).stack_ppm, 900_000);
}

#[test]
fn stateless_checks_refuse_malformed_payloads() {
    let bad = [
        create(
            CollectionKind::Limited { max_editions: 0 },
            100,
            split(&[(20, 1)]),
            TransferPolicy::Free {},
        ),
        create(
            CollectionKind::OneOfOne {},
            MAX_ROYALTY_BPS + 1,
            split(&[(20, 1)]),
            TransferPolicy::Free {},
        ),
        create(
            CollectionKind::OneOfOne {},
            100,
            BoundedVec::empty(),
            TransferPolicy::Free {},
        ),
        create(
            CollectionKind::OneOfOne {},
            100,
            split(&[(20, 1)]),
            TransferPolicy::MinFee {
                asset: GOLD,
                amount: 0,
            },
        ),
        mint(1, EDITION_SHARDS, addr(1), &[]),
        mint(
            1,
            0,
            addr(1),
            &[
                ParentLink {
                    token: 1,
                    licence: 1,
                },
                ParentLink {
                    token: 1,
                    licence: 2,
                },
            ],
        ),
        NftAction::List {
            token: 1,
            asset: GOLD,
            price: 0,
            expiry_height: 9,
            collections: colls(&[1]),
        },
        NftAction::MakeOffer {
            token: 1,
            asset: GOLD,
            amount: 0,
            expiry_height: 9,
        },
        NftAction::SetFee {
            fee_bps: MAX_FEE_BPS + 1,
            fee_recipient: rcp(1),
        },
    ];
    for a in bad {
        assert!(check(&a).is_err(), "{a:?}");
    }
}

#[test]
fn u128_limits_fail_cleanly() {
    let (mut chain, _, t) = basic();
    chain.list(CREATOR, t, u128::MAX);
    let r = chain.buy(2, t, u128::MAX);
    assert!(matches!(
        r.status,
        TxStatus::Failed {
            error: FailureReason::InsufficientBalance { .. }
        }
    ));
    let r = chain.tx(
        2,
        NftAction::MakeOffer {
            token: t,
            asset: GOLD,
            amount: u128::MAX,
            expiry_height: chain.height + 5,
        },
    );
    assert!(matches!(
        r.status,
        TxStatus::Failed {
            error: FailureReason::InsufficientBalance { .. }
        }
    ));
}

// ---------------------------------------------------------------------------
// Property tests: random marketplace activity keeps every invariant, pays
// royalties on every sale, and parallel execution equals sequential.

#[derive(Clone, Debug)]
enum Op {
    Mint {
        shard: u8,
        derive: bool,
    },
    List {
        pick: usize,
        price: u128,
    },
    Buy {
        who: usize,
        pick: usize,
    },
    Transfer {
        pick: usize,
        to: usize,
    },
    Offer {
        who: usize,
        pick: usize,
        amount: u128,
    },
    Accept {
        pick: usize,
    },
    CancelOffer {
        pick: usize,
    },
    Auction {
        pick: usize,
        reserve: u128,
    },
    Bid {
        who: usize,
        pick: usize,
        raise: u128,
    },
    Settle {
        pick: usize,
    },
    Licence {
        who: usize,
        pick: usize,
    },
    SetRoyalty {
        bps: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..BUYERS.len() + 1;
    let price = prop_oneof![4 => 1u128..100_000, 1 => 1u128..10];
    prop_oneof![
        3 => (0u8..EDITION_SHARDS, prop::bool::weighted(0.4)).prop_map(|(shard, derive)| Op::Mint { shard, derive }),
        4 => (any::<usize>(), price.clone()).prop_map(|(pick, price)| Op::List { pick, price }),
        4 => (who.clone(), any::<usize>()).prop_map(|(who, pick)| Op::Buy { who, pick }),
        2 => (any::<usize>(), who.clone()).prop_map(|(pick, to)| Op::Transfer { pick, to }),
        3 => (who.clone(), any::<usize>(), price.clone()).prop_map(|(who, pick, amount)| Op::Offer { who, pick, amount }),
        3 => any::<usize>().prop_map(|pick| Op::Accept { pick }),
        1 => any::<usize>().prop_map(|pick| Op::CancelOffer { pick }),
        2 => (any::<usize>(), price).prop_map(|(pick, reserve)| Op::Auction { pick, reserve }),
        3 => (who.clone(), any::<usize>(), 0u128..1_000).prop_map(|(who, pick, raise)| Op::Bid { who, pick, raise }),
        2 => any::<usize>().prop_map(|pick| Op::Settle { pick }),
        2 => (who, any::<usize>()).prop_map(|(who, pick)| Op::Licence { who, pick }),
        1 => (1u32..=3_000).prop_map(|bps| Op::SetRoyalty { bps }),
    ]
}

fn actor(who: usize) -> u64 {
    if who < BUYERS.len() {
        BUYERS[who]
    } else {
        CREATOR
    }
}

struct World {
    collection: CollectionId,
}

fn to_action(chain: &Chain, world: &World, op: &Op) -> (u64, NftAction) {
    let tokens: Vec<(u64, Token)> = objects::<Token>(&chain.state, kind::TOKEN)
        .into_iter()
        .map(|(id, t)| (id_u64(&id), t))
        .collect();
    let pick_token = |pick: usize| tokens[pick % tokens.len()].clone();
    let all = |t: u64| payees(&chain.all_payees(t));
    match op {
        Op::Mint { shard, derive } => {
            let licences = objects::<Licence>(&chain.state, kind::LICENCE);
            let parents: Vec<ParentLink> = if *derive {
                licences
                    .iter()
                    .filter(|(_, l)| l.holder == addr(CREATOR) && !l.used)
                    .fold(Vec::<(Vec<u8>, Licence)>::new(), |mut acc, x| {
                        if acc.len() < 2 && !acc.iter().any(|(_, l)| l.token == x.1.token) {
                            acc.push(x.clone());
                        }
                        acc
                    })
                    .iter()
                    .map(|(id, l)| ParentLink {
                        token: l.token,
                        licence: id_u64(id),
                    })
                    .collect()
            } else {
                vec![]
            };
            (
                CREATOR,
                mint(world.collection, *shard, addr(CREATOR), &parents),
            )
        }
        Op::List { pick, price } => {
            let (id, t) = pick_token(*pick);
            let owner = seed_of(&t.owner);
            (
                owner,
                NftAction::List {
                    token: id,
                    asset: GOLD,
                    price: *price,
                    expiry_height: chain.height + 30,
                    collections: colls(&chain.token_collections(id)),
                },
            )
        }
        Op::Buy { who, pick } => {
            let (id, _) = pick_token(*pick);
            (
                actor(*who),
                NftAction::Buy {
                    token: id,
                    asset: GOLD,
                    max_price: u128::MAX,
                    payees: all(id),
                },
            )
        }
        Op::Transfer { pick, to } => {
            let (id, t) = pick_token(*pick);
            (
                seed_of(&t.owner),
                NftAction::Transfer {
                    token: id,
                    collection: t.collection,
                    to: addr(actor(*to)),
                    fee_asset: GOLD,
                    payees: all(id),
                },
            )
        }
        Op::Offer { who, pick, amount } => {
            let (id, _) = pick_token(*pick);
            (
                actor(*who),
                NftAction::MakeOffer {
                    token: id,
                    asset: GOLD,
                    amount: *amount,
                    expiry_height: chain.height + 20,
                },
            )
        }
        Op::Accept { pick } | Op::CancelOffer { pick } => {
            let offers = objects::<Offer>(&chain.state, kind::OFFER);
            if offers.is_empty() {
                return (
                    CREATOR,
                    NftAction::CancelOffer {
                        offer: 1,
                        asset: GOLD,
                    },
                );
            }
            let (oid, o) = offers[pick % offers.len()].clone();
            let oid = id_u64(&oid);
            if matches!(op, Op::CancelOffer { .. }) {
                return (
                    seed_of(&o.bidder),
                    NftAction::CancelOffer {
                        offer: oid,
                        asset: GOLD,
                    },
                );
            }
            let t = chain.token(o.token);
            (
                seed_of(&t.owner),
                NftAction::AcceptOffer {
                    offer: oid,
                    token: o.token,
                    asset: GOLD,
                    bidder: o.bidder,
                    collections: colls(&chain.token_collections(o.token)),
                    payees: all(o.token),
                },
            )
        }
        Op::Auction { pick, reserve } => {
            let (id, t) = pick_token(*pick);
            (
                seed_of(&t.owner),
                NftAction::StartAuction {
                    token: id,
                    asset: GOLD,
                    reserve: *reserve,
                    end_height: chain.height + 4,
                    collections: colls(&chain.token_collections(id)),
                },
            )
        }
        Op::Bid { pick, .. } | Op::Settle { pick }
            if !objects::<Auction>(&chain.state, kind::AUCTION).is_empty() =>
        {
            let auctions = objects::<Auction>(&chain.state, kind::AUCTION);
            let (tid, a) = auctions[pick % auctions.len()].clone();
            let tid = id_u64(&tid);
            if let Op::Bid { who, raise, .. } = op {
                let min = if a.highest_bid == 0 {
                    a.reserve
                } else {
                    a.highest_bid + (a.highest_bid * 500).div_ceil(10_000).max(1)
                };
                (
                    actor(*who),
                    NftAction::Bid {
                        token: tid,
                        asset: GOLD,
                        amount: min + raise,
                        previous_bidder: a.highest_bidder,
                    },
                )
            } else {
                (
                    CREATOR,
                    NftAction::SettleAuction {
                        token: tid,
                        asset: GOLD,
                        payees: all(tid),
                    },
                )
            }
        }
        Op::Bid { .. } | Op::Settle { .. } => (CREATOR, NftAction::CancelAuction { token: 1 }),
        Op::Licence { who, pick } => {
            let (id, t) = pick_token(*pick);
            (
                actor(*who),
                NftAction::BuyLicence {
                    token: id,
                    collection: t.collection,
                    asset: GOLD,
                    payees: all(id),
                },
            )
        }
        Op::SetRoyalty { bps } => (
            CREATOR,
            NftAction::SetRoyalty {
                collection: world.collection,
                royalty_bps: *bps,
                split: split(&[(20, 3), (21, 2), (22, 1)]),
            },
        ),
    }
}

fn seed_of(a: &Address) -> u64 {
    (0..10).find(|s| addr(*s) == *a).unwrap_or(CREATOR)
}

#[test]
fn random_marketplace_activity_keeps_every_invariant_and_parallel_equals_sequential() {
    let mut base = Chain::new();
    base.ok(
        ADMIN,
        NftAction::SetFee {
            fee_bps: 100,
            fee_recipient: rcp(99),
        },
    );
    let mut t = terms(20_000, 7);
    t.transferable = true;
    let collection = base.create(
        CREATOR,
        NftAction::CreateCollection {
            name: Text::new("Prop").unwrap(),
            symbol: Text::new("PROP").unwrap(),
            kind: CollectionKind::Open {
                until_height: u64::MAX,
            },
            royalty_bps: 750,
            split: split(&[(20, 3), (21, 2), (22, 1)]),
            licence: Some(t),
            policy: TransferPolicy::MinFee {
                asset: GOLD,
                amount: 3,
            },
        },
    );
    for s in 0..3 {
        base.mint(collection, s);
    }
    let world = World { collection };
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop::collection::vec((1u64..4, prop::collection::vec(op(), 1..8)), 4..14);
    let sales = std::cell::Cell::new(0usize);
    let result = runner.run(&strategy, |blocks| {
        let mut chain = Chain { state: base.state.clone(), height: base.height };
        for (gap, ops) in &blocks {
            let txs: Vec<(u64, Action)> = ops.iter().map(|op| {
                let (s, a) = to_action(&chain, &world, op);
                (s, Action::Nft(Box::new(a)))
            }).collect();
            let owners_before: BTreeMap<u64, Address> = objects::<Token>(&chain.state, kind::TOKEN)
                .into_iter().map(|(id, t)| (id_u64(&id), t.owner)).collect();
            let receipts = chain.block(txs);
            for r in &receipts {
                for e in nft_events(r) {
                    match e {
                        // Every sale: value conserved exactly, royalty paid
                        // in full (the collection's royalty is positive).
                        NftEvent::Sold { price, royalty, fee, proceeds, .. } => {
                            prop_assert_eq!(proceeds + royalty + fee, price);
                            prop_assert!(royalty > 0);
                            let paid: u128 = nft_events(r).iter().filter_map(|e| match e {
                                NftEvent::RoyaltyPaid { amount, .. } => Some(*amount),
                                _ => None,
                            }).sum();
                            prop_assert_eq!(paid, royalty);
                            sales.set(sales.get() + 1);
                        }
                        // Gifts pay the policy's fee.
                        NftEvent::Transferred { fee, .. } => prop_assert_eq!(fee, 3),
                        _ => {}
                    }
                }
            }
            // An owner changes only through a sale or a fee-paying gift.
            for (id, t) in objects::<Token>(&chain.state, kind::TOKEN) {
                let id = id_u64(&id);
                if let Some(before) = owners_before.get(&id) && *before != t.owner {
                    let moved = receipts.iter().flat_map(nft_events).any(|e| matches!(e,
                        NftEvent::Sold { token, .. } | NftEvent::Transferred { token, .. } if token == id));
                    prop_assert!(moved, "token {} changed owner without a sale", id);
                }
            }
            chain.height += gap - 1;
        }
        Ok(())
    });
    result.unwrap();
    assert!(sales.get() > 20, "too few sales exercised: {}", sales.get());
}
