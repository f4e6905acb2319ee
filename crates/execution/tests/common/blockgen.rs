//! Random blocks for property tests: transactions from a few hot and many
//! other accounts, valid and not (stale and gapped nonces, low fees, wrong
//! chain), of every action, over assets that exist, may be created in the
//! block, or never exist.

use super::*;
use lakh_types::{Action, Address, AssetId, SignedTransaction, TransferEntry, fees::required_fee};
use proptest::prelude::*;
use std::collections::BTreeMap;

const SYMBOLS: [&str; 5] = ["AAA", "BBB", "CCC", "GOLD", "LAKH"];

/// Accounts `0..HOT` are the hot ones (and 0..3 the asset creators).
pub const HOT: u64 = 4;

/// What blocks look like.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// Senders are drawn from `0..accounts`, recipients from `0..accounts + 2`.
    pub accounts: u64,
    /// Transactions per block: `0..max_txs`.
    pub max_txs: usize,
    /// Inclusive range of the per-block chance, in tenths, that an account is a hot one.
    pub hot_tenths: (u32, u32),
}

#[derive(Clone, Debug)]
pub enum NonceSpec {
    Next,
    Stale,
    Gap(u64),
}

#[derive(Clone, Debug)]
pub struct EntrySpec {
    pub to: u64,
    pub asset: usize,
    pub amount: u128,
}

#[derive(Clone, Debug)]
pub enum ActionSpec {
    Transfer(EntrySpec),
    Multi(Vec<EntrySpec>),
    Create {
        symbol: usize,
        decimals: u8,
        max_supply: Option<u128>,
        initial: u128,
    },
    Mint {
        /// Pick among the sender's own creations (or GOLD, CAPPED) rather than the pool.
        own: bool,
        asset: usize,
        to: u64,
        amount: u128,
    },
}

#[derive(Clone, Debug)]
pub struct TxSpec {
    pub sender: u64,
    pub nonce: NonceSpec,
    pub fee_too_low: bool,
    pub wrong_chain: bool,
    pub action: ActionSpec,
}

#[derive(Clone, Debug)]
pub struct BlockSpec {
    pub proposer: u64,
    pub base_fee: u128,
    pub txs: Vec<TxSpec>,
}

/// Assets a spec may name: native, the two genesis assets, one that never
/// exists, and those senders 0..3 may create with nonces 0..6.
pub fn asset_pool() -> Vec<AssetId> {
    let mut pool = vec![AssetId::NATIVE, GOLD, CAPPED, AssetId(999)];
    for s in 0..3 {
        for n in 0..6 {
            pool.push(AssetId::derive(addr(s).as_bytes(), n));
        }
    }
    pool
}

fn amount() -> impl Strategy<Value = u128> {
    prop_oneof![
        6 => 0..1_000u128,
        3 => 0..2_000_000u128,
        1 => Just(u128::MAX),
        1 => any::<u128>(),
    ]
}

/// An account seed: one of the `HOT` accounts with probability
/// `hot_tenths`/10, else any of `0..accounts`.
fn account(hot_tenths: u32, accounts: u64) -> impl Strategy<Value = u64> {
    (0..10u32, 0..HOT, 0..accounts).prop_map(
        move |(roll, hot, any)| {
            if roll < hot_tenths { hot } else { any }
        },
    )
}

/// Recipients include two never-funded accounts past the senders.
fn recipient(shape: Shape, hot_tenths: u32) -> impl Strategy<Value = u64> {
    account(hot_tenths, shape.accounts + 2)
}

fn entry(shape: Shape, hot_tenths: u32) -> impl Strategy<Value = EntrySpec> {
    (
        recipient(shape, hot_tenths),
        prop_oneof![3 => Just(0usize), 2 => 1..22usize],
        amount(),
    )
        .prop_map(|(to, asset, amount)| EntrySpec { to, asset, amount })
}

fn action(shape: Shape, hot_tenths: u32) -> impl Strategy<Value = ActionSpec> {
    prop_oneof![
        6 => entry(shape, hot_tenths).prop_map(ActionSpec::Transfer),
        2 => prop::collection::vec(entry(shape, hot_tenths), 1..5).prop_map(ActionSpec::Multi),
        1 => (
            0..SYMBOLS.len(),
            0..33u8,
            prop::option::of(prop_oneof![0..5_000u128, Just(u128::MAX)]),
            prop_oneof![0..5_000u128, Just(u128::MAX)],
        )
            .prop_map(|(symbol, decimals, max_supply, initial)| ActionSpec::Create {
                symbol,
                decimals,
                max_supply,
                initial,
            }),
        2 => (any::<bool>(), 1..22usize, recipient(shape, hot_tenths), prop_oneof![0..1_000u128, amount()])
            .prop_map(|(own, asset, to, amount)| ActionSpec::Mint { own, asset, to, amount }),
    ]
}

fn tx_spec(shape: Shape, hot_tenths: u32) -> impl Strategy<Value = TxSpec> {
    (
        account(hot_tenths, shape.accounts),
        prop_oneof![12 => Just(NonceSpec::Next), 1 => Just(NonceSpec::Stale), 1 => (0..3u64).prop_map(NonceSpec::Gap)],
        prop::bool::weighted(0.05),
        prop::bool::weighted(0.03),
        action(shape, hot_tenths),
    )
        .prop_map(|(sender, nonce, fee_too_low, wrong_chain, action)| TxSpec {
            sender,
            nonce,
            fee_too_low,
            wrong_chain,
            action,
        })
}

/// A block of up to `shape.max_txs` transactions, each account picked among
/// the hot ones with a probability drawn per block from `shape.hot_tenths`.
pub fn block_spec(shape: Shape) -> impl Strategy<Value = BlockSpec> {
    (shape.hot_tenths.0..=shape.hot_tenths.1).prop_flat_map(move |hot_tenths| {
        (
            0..shape.accounts + 3,
            prop_oneof![1 => Just(0u128), 6 => 1..40u128],
            prop::collection::vec(tx_spec(shape, hot_tenths), 0..shape.max_txs),
        )
            .prop_map(|(proposer, base_fee, txs)| BlockSpec {
                proposer,
                base_fee,
                txs,
            })
    })
}

/// Account seeds past the senders are never-funded addresses.
pub fn who(seed: u64) -> Address {
    addr(seed)
}

fn to_action(sender: u64, spec: &ActionSpec, pool: &[AssetId]) -> Action {
    let entry = |e: &EntrySpec| TransferEntry {
        to: who(e.to),
        asset: pool[e.asset],
        amount: e.amount,
    };
    match spec {
        ActionSpec::Transfer(e) => Action::Transfer(entry(e)),
        ActionSpec::Multi(es) => Action::MultiTransfer {
            entries: es.iter().map(entry).collect(),
        },
        ActionSpec::Create {
            symbol,
            decimals,
            max_supply,
            initial,
        } => Action::CreateAsset {
            symbol: sym(SYMBOLS[*symbol]),
            decimals: *decimals,
            max_supply: *max_supply,
            initial_supply: *initial,
        },
        ActionSpec::Mint {
            own,
            asset,
            to,
            amount,
        } => Action::Mint {
            asset: match (own, sender) {
                (false, _) => pool[*asset],
                (true, s @ 0..3) if *asset % 3 != 0 => pool[4 + s as usize * 6 + asset % 6],
                (true, 0) => GOLD,
                (true, _) => CAPPED,
            },
            to: who(*to),
            amount: *amount,
        },
    }
}

/// Signs a block's transactions, choosing nonces relative to what each sender
/// would expect if all its earlier transactions were included.
pub fn sign_block(spec: &BlockSpec, state: &State, pool: &[AssetId]) -> Vec<SignedTransaction> {
    let mut next: BTreeMap<u64, u64> = BTreeMap::new();
    spec.txs
        .iter()
        .map(|t| {
            let expected = next
                .entry(t.sender)
                .or_insert_with(|| nonce(state, &addr(t.sender)));
            let nonce = match t.nonce {
                NonceSpec::Next => {
                    *expected += 1;
                    *expected - 1
                }
                NonceSpec::Stale if *expected > 0 => *expected - 1,
                NonceSpec::Stale => *expected + 2,
                NonceSpec::Gap(k) => *expected + 1 + k,
            };
            let action = to_action(t.sender, &t.action, pool);
            let fee = required_fee(&action, spec.base_fee);
            let max_fee = if t.fee_too_low {
                fee.saturating_sub(1)
            } else {
                fee + 3
            };
            let chain = if t.wrong_chain {
                CHAIN_ID + 1
            } else {
                CHAIN_ID
            };
            sign_on(chain, t.sender, nonce, max_fee, action)
        })
        .collect()
}
