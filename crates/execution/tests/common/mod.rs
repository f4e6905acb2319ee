//! A toy chain for tests: the whole state in a `BTreeMap`, fed to the executor
//! exactly as the node does (access set, batch read, execute, write changes).

#![allow(dead_code)]

pub mod blockgen;
pub mod stake_chain;

use commonware_cryptography::Signer;
use lakh_execution::{
    BlockEnv, BlockOutcome, ExecError, Mode, Overlay, apply_genesis, execute_block,
};
use lakh_state::{StateKey, StateValue};
use lakh_types::{
    Action, Address, AssetId, Genesis, PrivateKey, SignedTransaction, Symbol, Transaction,
    fees::FeeParams,
    genesis::{BlockParams, GenesisAccount, GenesisAsset},
};
use std::collections::BTreeMap;

pub const CHAIN_ID: u64 = 77;
pub const BASE_FEE: u128 = 10;
pub const FUNDED: u128 = 1_000_000_000;
pub const GOLD: AssetId = AssetId(100);
pub const CAPPED: AssetId = AssetId(200);
pub const CAP: u128 = 1_000;

pub type State = BTreeMap<StateKey, StateValue>;
pub type Changes = BTreeMap<StateKey, Option<StateValue>>;

pub fn key(seed: u64) -> PrivateKey {
    PrivateKey::from_seed(seed)
}

pub fn addr(seed: u64) -> Address {
    Address::from(&key(seed).public_key())
}

pub fn sym(s: &str) -> Symbol {
    Symbol::new(s).expect("valid symbol")
}

/// Accounts 0..=6 hold `FUNDED` native; 7 holds 50; 8 and 9 nothing.
/// GOLD (uncapped, issuer 0): 0 holds 1,000,000 and 1 holds 500.
/// CAPPED (cap 1,000, issuer 1): 1 holds 900.
pub fn genesis() -> Genesis {
    let mut accounts: Vec<GenesisAccount> = (0..7)
        .map(|s| GenesisAccount {
            address: addr(s),
            balance: FUNDED,
        })
        .collect();
    accounts.push(GenesisAccount {
        address: addr(7),
        balance: 50,
    });
    Genesis {
        chain_id: CHAIN_ID,
        native_symbol: sym("LAKH"),
        native_decimals: 9,
        fees: FeeParams::default(),
        block: BlockParams::default(),
        validators: vec![],
        accounts,
        assets: vec![
            GenesisAsset {
                id: GOLD,
                symbol: sym("GOLD"),
                decimals: 6,
                issuer: addr(0),
                max_supply: None,
                balances: vec![
                    GenesisAccount {
                        address: addr(0),
                        balance: 1_000_000,
                    },
                    GenesisAccount {
                        address: addr(1),
                        balance: 500,
                    },
                ],
            },
            GenesisAsset {
                id: CAPPED,
                symbol: sym("CAP"),
                decimals: 0,
                issuer: addr(1),
                max_supply: Some(CAP),
                balances: vec![GenesisAccount {
                    address: addr(1),
                    balance: 900,
                }],
            },
        ],
        admin: Some(addr(0)),
        staking: Default::default(),
        bridge: None,
        shielded: None,
    }
}

pub fn genesis_state() -> State {
    apply_genesis(&genesis()).into_iter().collect()
}

pub fn env(proposer: Address) -> BlockEnv {
    BlockEnv {
        chain_id: CHAIN_ID,
        height: 5,
        participation: lakh_execution::Participation::sole(proposer),
        offenses: Vec::new(),
        base_fee: BASE_FEE,
        staking: Default::default(),
        deposits: Vec::new(),
    }
}

pub fn sign(seed: u64, nonce: u64, max_fee: u128, action: Action) -> SignedTransaction {
    sign_on(CHAIN_ID, seed, nonce, max_fee, action)
}

pub fn sign_on(
    chain_id: u64,
    seed: u64,
    nonce: u64,
    max_fee: u128,
    action: Action,
) -> SignedTransaction {
    let k = key(seed);
    Transaction {
        chain_id,
        sender: k.public_key().into(),
        nonce,
        max_fee,
        action,
    }
    .sign(&k)
}

/// Prefetches the block's access set from `state`, as the node does.
pub fn prefetch(state: &State, env: &BlockEnv, txs: &[SignedTransaction]) -> Overlay {
    let roots = lakh_execution::hook_roots();
    let hooks: Vec<Option<StateValue>> = roots.iter().map(|k| state.get(k).cloned()).collect();
    let keys = lakh_execution::block_access_set(env, txs, &hooks);
    Overlay::new(keys.into_iter().map(|k| {
        let v = state.get(&k).cloned();
        (k, v)
    }))
}

/// Executes a block against `state` without committing it.
pub fn run(
    state: &State,
    env: &BlockEnv,
    txs: &[SignedTransaction],
    mode: Mode,
) -> Result<(BlockOutcome, Changes), ExecError> {
    let mut overlay = prefetch(state, env, txs);
    let outcome = execute_block(env, txs, &mut overlay, mode)?;
    Ok((outcome, overlay.into_changes().collect()))
}

pub fn commit(state: &mut State, changes: &Changes) {
    for (k, v) in changes {
        match v {
            Some(v) => state.insert(k.clone(), v.clone()),
            None => state.remove(k),
        };
    }
}

pub fn native(state: &State, a: &Address) -> u128 {
    match state.get(&StateKey::Account(*a)) {
        Some(StateValue::Account(acc)) => acc.native_balance,
        None => 0,
        other => panic!("not an account: {other:?}"),
    }
}

pub fn nonce(state: &State, a: &Address) -> u64 {
    match state.get(&StateKey::Account(*a)) {
        Some(StateValue::Account(acc)) => acc.nonce,
        None => 0,
        other => panic!("not an account: {other:?}"),
    }
}

pub fn balance(state: &State, a: &Address, asset: AssetId) -> u128 {
    match state.get(&StateKey::Balance(*a, asset)) {
        Some(StateValue::Balance(b)) => *b,
        None => 0,
        other => panic!("not a balance: {other:?}"),
    }
}

/// Checks the invariants of a whole state: per asset the balances sum to the
/// supply, within the cap; symbols and assets point at each other; the native
/// total equals `native_total`; nothing default is stored.
pub fn check_invariants(state: &State, native_total: u128) {
    let mut native_sum: u128 = 0;
    let mut sums: BTreeMap<AssetId, u128> = BTreeMap::new();
    for (k, v) in state {
        assert!(v.matches(k), "{v:?} stored under {k:?}");
        assert!(!v.is_default(), "default value stored under {k:?}");
        match (k, v) {
            (StateKey::Account(_), StateValue::Account(a)) => {
                native_sum = native_sum
                    .checked_add(a.native_balance)
                    .expect("native sum overflows");
            }
            (StateKey::Balance(_, asset), StateValue::Balance(b)) => {
                assert_ne!(
                    *asset,
                    AssetId::NATIVE,
                    "native balance under a Balance key"
                );
                let s = sums.entry(*asset).or_default();
                *s = s.checked_add(*b).expect("asset sum overflows");
            }
            (StateKey::Symbol(symbol), StateValue::Symbol(asset)) => {
                match state.get(&StateKey::Asset(*asset)) {
                    Some(StateValue::Asset(info)) => assert_eq!(&info.symbol, symbol),
                    other => panic!("symbol {symbol} points at {other:?}"),
                }
            }
            (StateKey::Asset(asset), StateValue::Asset(info)) => {
                assert_eq!(
                    state.get(&StateKey::Symbol(info.symbol.clone())),
                    Some(&StateValue::Symbol(*asset))
                );
            }
            // Module objects: each module's tests check its own ledgers.
            (StateKey::Object(_), StateValue::Object(_)) => {}
            _ => unreachable!(),
        }
    }
    assert_eq!(native_sum, native_total, "native supply changed");
    for (k, v) in state {
        if let (StateKey::Asset(asset), StateValue::Asset(info)) = (k, v) {
            if *asset == AssetId::NATIVE {
                assert_eq!(info.supply, native_total);
                continue;
            }
            assert_eq!(
                sums.remove(asset).unwrap_or(0),
                info.supply,
                "supply of {asset}"
            );
            if let Some(max) = info.max_supply {
                assert!(info.supply <= max, "supply of {asset} above its cap");
            }
        }
    }
    assert!(sums.is_empty(), "balances of unknown assets: {sums:?}");
}

pub fn native_total() -> u128 {
    7 * FUNDED + 50
}
