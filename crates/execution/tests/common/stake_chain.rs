//! A chain of blocks for the staking tests (`stake.rs`, `validators.rs`):
//! every block runs sequentially and in parallel (which must agree), then
//! every invariant of the staking module and supply conservation are
//! checked over the whole state.

use super::*;
use commonware_codec::Decode;
use lakh_execution::{
    BlockEnv, BlockOutcome, Mode, execute_block, execute_block_parallel,
    modules::stake::{self, Delegation, Validator, ValidatorRegistry},
    modules::{QueryError, run_query},
};
use lakh_state::{StateKey, StateValue};
use lakh_types::{
    Action, Address, FailureReason, Genesis, Receipt, SignedTransaction, TxStatus,
    committee::StakingParams,
    modules::stake::{REWARD_PRECISION, StakeError},
};
use std::collections::BTreeMap;
use std::num::NonZeroUsize;

/// A proposer that is no validator.
pub const OUTSIDER: u64 = 9;
pub const MAX_FEE: u128 = 1_000_000;

/// The native supply of a genesis: its accounts and its validators' stake.
pub fn supply_of(g: &Genesis) -> u128 {
    g.accounts.iter().map(|a| a.balance).sum::<u128>()
        + g.validators.iter().map(|v| v.stake).sum::<u128>()
}

pub fn stake_failure(e: StakeError) -> TxStatus {
    TxStatus::Failed {
        error: FailureReason::Stake(e),
    }
}

/// A chain of blocks over the staking genesis, checking every invariant
/// after every block.
pub struct Chain {
    pub state: State,
    pub height: u64,
    pub base_fee: u128,
    /// Native supply, conserved by every block.
    pub supply: u128,
    pub staking: StakingParams,
}

impl Chain {
    pub fn from(g: &Genesis) -> Chain {
        let state: State = apply_genesis(g).into_iter().collect();
        let supply = supply_of(g);
        check_all(&state, supply);
        Chain {
            state,
            height: 1,
            base_fee: BASE_FEE,
            supply,
            staking: g.staking,
        }
    }

    pub fn env(&self, proposer: Address) -> BlockEnv {
        BlockEnv {
            chain_id: CHAIN_ID,
            height: self.height,
            participation: lakh_execution::Participation::sole(proposer),
            offenses: Vec::new(),
            base_fee: self.base_fee,
            staking: self.staking,
            deposits: Vec::new(),
        }
    }

    /// Signs `actions` with consecutive nonces per sender.
    pub fn sign(&self, actions: &[(u64, Action)]) -> Vec<SignedTransaction> {
        let mut next: BTreeMap<u64, u64> = BTreeMap::new();
        actions
            .iter()
            .map(|(seed, action)| {
                let n = next
                    .entry(*seed)
                    .or_insert_with(|| nonce(&self.state, &addr(*seed)));
                *n += 1;
                sign(*seed, *n - 1, MAX_FEE, action.clone())
            })
            .collect()
    }

    /// Runs one block at the current height (verify mode, every executor),
    /// commits it, checks the invariants and moves to the next height.
    pub fn block(&mut self, proposer: Address, actions: &[(u64, Action)]) -> BlockOutcome {
        self.block_in(self.env(proposer), actions)
    }

    /// [`Chain::block`] under `env`.
    pub fn block_in(&mut self, env: BlockEnv, actions: &[(u64, Action)]) -> BlockOutcome {
        let txs = self.sign(actions);
        let (outcome, changes) = run_everywhere(&self.state, &env, &txs, Mode::Verify);
        for (k, v) in changes {
            match v {
                Some(v) => self.state.insert(k, v),
                None => self.state.remove(&k),
            };
        }
        check_all(&self.state, self.supply);
        self.height += 1;
        outcome
    }

    /// One transaction in a block proposed by a non-validator.
    pub fn send(&mut self, seed: u64, action: Action) -> Receipt {
        self.block(addr(OUTSIDER), &[(seed, action)])
            .receipts
            .remove(0)
    }

    pub fn skip_to(&mut self, height: u64) {
        assert!(height >= self.height);
        self.height = height;
    }

    pub fn native(&self, account: Address) -> u128 {
        native(&self.state, &account)
    }

    pub fn validator(&self, validator: Address) -> Validator {
        object(&self.state, &stake::validator_key(&validator)).expect("validator record")
    }

    pub fn delegation(&self, validator: Address, delegator: Address) -> Option<Delegation> {
        object(&self.state, &stake::delegation_key(&validator, &delegator))
    }

    pub fn query(
        &self,
        method: &str,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, QueryError> {
        run_query("stake", method, &params, self.height - 1, 10_000, |k| {
            Ok(self.state.get(k).cloned())
        })
    }
}

pub fn object<T: Decode<Cfg = ()>>(state: &State, key: &StateKey) -> Option<T> {
    match state.get(key) {
        Some(StateValue::Object(bytes)) => {
            Some(T::decode_cfg(bytes.clone(), &()).expect("decodes"))
        }
        None => None,
        other => panic!("not an object: {other:?}"),
    }
}

/// Runs the block sequentially and in parallel (2 and 3 threads, no
/// small-block threshold); all must agree on the outcome and the changes.
pub fn run_everywhere(
    state: &State,
    env: &BlockEnv,
    txs: &[SignedTransaction],
    mode: Mode,
) -> (BlockOutcome, Vec<(StateKey, Option<StateValue>)>) {
    let run = |threads: Option<usize>| {
        let mut overlay = prefetch(state, env, txs);
        let result = match threads {
            None => execute_block(env, txs, &mut overlay, mode),
            Some(t) => execute_block_parallel(
                env,
                txs,
                &mut overlay,
                mode,
                NonZeroUsize::new(t).unwrap(),
                0,
            ),
        };
        let outcome = result.expect("block executes");
        (outcome, overlay.into_changes().collect::<Vec<_>>())
    };
    let sequential = run(None);
    for threads in [2, 3] {
        assert_eq!(run(Some(threads)), sequential, "{threads} threads");
    }
    sequential
}

/// Every invariant of the staking module over a whole state, plus supply
/// conservation.
pub fn check_all(state: &State, supply: u128) {
    check_invariants(state, supply);
    let mut registry = Vec::new();
    for (bucket, key) in stake::registry_keys().enumerate() {
        let entries: Option<ValidatorRegistry> = object(state, &key);
        for e in entries
            .map(|r| r.validators.into_inner())
            .unwrap_or_default()
        {
            assert_eq!(usize::from(stake::registry_bucket(&e.identity)), bucket);
            registry.push(e);
        }
    }
    assert!(!registry.is_empty(), "registry at genesis");
    let mut delegations: BTreeMap<Address, Vec<Delegation>> = BTreeMap::new();
    for (k, v) in state {
        if let (StateKey::Object(o), StateValue::Object(bytes)) = (k, v)
            && o.kind == stake::kind::DELEGATION
        {
            let d = Delegation::decode_cfg(bytes.clone(), &()).expect("delegation decodes");
            assert_eq!(*k, stake::delegation_key(&d.validator, &d.delegator));
            assert!(!d.is_empty(), "empty delegation kept");
            delegations.entry(d.validator).or_default().push(d);
        }
    }
    for entry in &registry {
        let address = &entry.identity;
        let v: Validator = object(state, &stake::validator_key(address)).expect("record");
        // The registry entry is the record's copy of what the election reads.
        assert_eq!(
            *entry,
            stake::Candidate::of(&v),
            "registry entry of {address}"
        );
        // Slashes cut delegations lazily, rounding each down: totals may
        // then exceed what the delegations add up to, never fall short.
        let slashed = v.stake_factor != REWARD_PRECISION || !v.slashes.is_empty();
        if !slashed {
            assert_eq!(
                v.self_bond,
                object::<Delegation>(state, &stake::delegation_key(address, address))
                    .map_or(0, |d| d.amount),
                "self-bond of {address}"
            );
        }
        let key_owner: Address =
            object(state, &stake::consensus_key_index(&v.consensus_key)).expect("key index");
        assert_eq!(key_owner, *address);
        let ds = delegations.remove(address).unwrap_or_default();
        assert_eq!(
            v.delegations,
            ds.len() as u64,
            "delegation count of {address}"
        );
        for d in &ds {
            assert!(
                d.unbonding
                    .windows(2)
                    .all(|w| w[0].mature_height <= w[1].mature_height)
            );
            assert!(d.reward_per_token_paid <= v.reward_per_token);
            assert!(d.stake_factor_paid >= v.stake_factor);
        }
        let ds: Vec<Delegation> = ds
            .iter()
            .map(|d| stake::synced(d, &v).expect("delegation syncs"))
            .collect();
        let delegated: u128 = ds.iter().map(|d| d.amount).sum();
        let unbonding: u128 = ds.iter().map(|d| d.unbonding_total().unwrap()).sum();
        let pending: u128 = ds.iter().map(|d| d.rewards_owed).sum();
        if slashed {
            assert!(
                v.total_delegated >= delegated,
                "delegated total of {address}"
            );
            assert!(
                v.total_unbonding >= unbonding,
                "unbonding total of {address}"
            );
        } else {
            assert_eq!(v.total_delegated, delegated, "delegated total of {address}");
            assert_eq!(v.total_unbonding, unbonding, "unbonding total of {address}");
        }
        assert!(
            pending + v.reward_dust <= v.reward_balance,
            "rewards promised {pending} + dust {} exceed the pool {}",
            v.reward_dust,
            v.reward_balance
        );
        assert_eq!(
            native(state, &stake::custody(address)),
            v.total_delegated + v.total_unbonding + v.reward_balance,
            "custody of {address}"
        );
    }
    assert!(
        delegations.is_empty(),
        "delegations to unregistered validators"
    );
}
