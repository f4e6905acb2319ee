//! Deterministic simulations (commonware deterministic runtime, simulated
//! network): four validators carrying real transfers finalize identical blocks
//! and state roots under message delays, drops, a crash and restart, and
//! a split of the network without a quorum on either side; validators that
//! dropped the receipts of executed blocks execute finalized ones again; an
//! idle chain proposes at the genesis heartbeat, and a transaction arriving on
//! it is finalized at once; failed and torn writes injected by the runtime,
//! then a restart of every validator, leave them agreeing.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use commonware_consensus::{marshal::Identifier, types::Height};
use commonware_cryptography::{Digestible, Signer, ed25519};
use commonware_glue::simulate::{
    action::{Action, Crash, Schedule},
    engine::{EngineDefinition, InitContext},
    exit::ProcessedHeightAtLeast,
    plan::PlanBuilder,
    processed::ProcessedHeight,
    property::Property,
    reporter::MonitorReporter,
    tracker::ProgressTracker,
};
use commonware_p2p::simulated::Link;
use commonware_runtime::{Clock, Spawner, Supervisor};
use commonware_runtime::{Handle, Quota, deterministic};
use commonware_utils::probability;
use lakh_consensus::{
    byzantine::Misbehavior,
    engine::{self, ConsensusTimeouts, EngineConfig, EngineHandles, Networks},
    pending_receipts::ReceiptLimits,
    prune::{MIN_RETAINED_BLOCKS, StateHistory},
    shared::NodeShared,
};
use lakh_rpc::finality;
use lakh_types::committee::{Committee, DEFAULT_DOUBLE_SIGN_SLASH_BPS, StakingParams};
use lakh_types::modules::bridge::{BridgeGenesis, BridgeToken, ETHER, Keccak, L1Deposit, L1View};
use lakh_types::modules::stake::StakeAction;
use lakh_types::{
    Action as TxAction, Address, AssetId, Genesis, PrivateKey, Symbol, Transaction, TransferEntry,
    TxStatus,
    genesis::{BlockParams, GenesisAccount, GenesisValidator},
};
use std::{
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex},
    time::{Duration, UNIX_EPOCH},
};

const VALIDATORS: u64 = 4;
const ACCOUNTS: u64 = 16;
const TRANSFERS_PER_ACCOUNT: u64 = 6;

#[derive(Clone)]
struct LakhEngine {
    validators: Vec<ed25519::PrivateKey>,
    genesis: Genesis,
    /// In every validator's pool from the start.
    txs: Arc<Vec<lakh_types::SignedTransaction>>,
    /// A transaction that arrives later, if any.
    late: Option<Late>,
    /// Validators started at least once: when set, a restarted validator's
    /// pool starts empty, as a real node's does (its preloaded transfers
    /// would be queued from nonce 0, behind the nonces its state has used).
    started: Option<Arc<Mutex<std::collections::HashSet<usize>>>>,
    /// How each validator misbehaves, by index (`None` or absent: honest).
    byzantine: Vec<Option<Misbehavior>>,
    /// Each validator's L1 deposits and when its view sees each finalized
    /// (simulated time), by index (absent: no L1 view).
    l1: Vec<Arc<Vec<(Duration, L1Deposit)>>>,
    /// How many executed blocks' receipts each validator keeps, by index
    /// (`None` or absent: the default bound).
    receipt_limits: Vec<Option<ReceiptLimits>>,
    /// How much state history every validator keeps, in what files.
    state_history: StateHistory,
}

/// An L1 view that sees each deposit from its time on (simulated clock).
struct TimedL1View {
    clock: deterministic::Context,
    deposits: Arc<Vec<(Duration, L1Deposit)>>,
}

impl L1View for TimedL1View {
    fn finalized_deposits(&self, first_count: u64, max: usize) -> Vec<L1Deposit> {
        let now = self
            .clock
            .current()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        self.deposits
            .iter()
            .take_while(|(at, _)| *at <= now)
            .map(|(_, d)| d.clone())
            .filter(|d| d.count >= first_count)
            .take(max)
            .collect()
    }
}

/// A transaction put in every validator's pool at simulated time `at` (as
/// gossip would), and how long after that each validator finalized it.
#[derive(Clone)]
struct Late {
    at: Duration,
    tx: lakh_types::SignedTransaction,
    finalized_after: Arc<Mutex<Vec<Duration>>>,
}

/// An account funded at genesis that the preloaded transfers do not use.
fn late_sender() -> PrivateKey {
    account_key(ACCOUNTS)
}

fn late_transfer() -> lakh_types::SignedTransaction {
    let key = late_sender();
    Transaction {
        chain_id: 99,
        sender: key.public_key().into(),
        nonce: 0,
        max_fee: 1_000_000,
        action: TxAction::Transfer(TransferEntry {
            to: Address::from(&account_key(0).public_key()),
            asset: AssetId::NATIVE,
            amount: 7,
        }),
    }
    .sign(&key)
}

fn account_key(i: u64) -> PrivateKey {
    PrivateKey::from_seed(1_000 + i)
}

impl LakhEngine {
    fn new() -> Self {
        Self::with_validators(VALIDATORS)
    }

    fn with_validators(count: u64) -> Self {
        let validators: Vec<ed25519::PrivateKey> =
            (0..count).map(ed25519::PrivateKey::from_seed).collect();
        let genesis = Genesis {
            chain_id: 99,
            native_symbol: Symbol::new("LAKH").unwrap(),
            native_decimals: 9,
            fees: Default::default(),
            block: BlockParams {
                max_txs: 32,
                max_bytes: 1 << 20,
                ..BlockParams::default()
            },
            validators: validators
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    GenesisValidator::new(
                        k,
                        format!("127.0.0.1:{}", 30_000 + i).parse().unwrap(),
                        1,
                    )
                })
                .collect(),
            accounts: (0..=ACCOUNTS)
                .map(|i| GenesisAccount {
                    address: Address::from(&account_key(i).public_key()),
                    balance: 1_000_000_000,
                })
                .collect(),
            assets: vec![],
            admin: None,
            staking: Default::default(),
            bridge: None,
            shielded: None,
        };
        let mut txs = Vec::new();
        for nonce in 0..TRANSFERS_PER_ACCOUNT {
            for i in 0..ACCOUNTS {
                let key = account_key(i);
                txs.push(
                    Transaction {
                        chain_id: 99,
                        sender: key.public_key().into(),
                        nonce,
                        max_fee: 1_000_000,
                        action: TxAction::Transfer(TransferEntry {
                            to: Address::from(
                                &account_key((i + 1 + nonce) % ACCOUNTS).public_key(),
                            ),
                            asset: AssetId::NATIVE,
                            amount: 1_000 + i as u128,
                        }),
                    }
                    .sign(&key),
                );
            }
        }
        LakhEngine {
            validators,
            genesis,
            txs: Arc::new(txs),
            late: None,
            started: None,
            byzantine: Vec::new(),
            l1: Vec::new(),
            receipt_limits: Vec::new(),
            state_history: StateHistory::default(),
        }
    }

    /// Nothing submitted at the start; `late`, if given, arrives later.
    fn idle(late: Option<Late>) -> Self {
        LakhEngine {
            txs: Arc::new(Vec::new()),
            late,
            ..Self::new()
        }
    }

    fn heartbeat(&self) -> Duration {
        Duration::from_millis(self.genesis.block.heartbeat_ms)
    }
}

/// Announces each epoch's peer set to the simulated network (addresses
/// mean nothing there).
struct SimPeers(commonware_p2p::simulated::Manager<ed25519::PublicKey, deterministic::Context>);

impl engine::PeerSets for SimPeers {
    fn track(&self, id: u64, peers: Vec<(ed25519::PublicKey, std::net::SocketAddr)>) {
        use commonware_p2p::Manager as _;
        let set: commonware_utils::ordered::Set<ed25519::PublicKey> = peers
            .into_iter()
            .map(|(k, _)| k)
            .collect::<Vec<_>>()
            .try_into()
            .unwrap();
        let mut manager = self.0.clone();
        let _ = manager.track(id, set);
    }
}

#[derive(Clone)]
struct State {
    handles: EngineHandles<deterministic::Context>,
    shared: Arc<NodeShared>,
    /// The validator's storage and partition prefix, to look at its files.
    storage: Arc<deterministic::Context>,
    prefix: String,
    /// The validator's index in `LakhEngine::validators`.
    index: usize,
}

impl PartialEq for State {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl State {
    /// Past `epochs` epochs, the simplex journals of all but the last two
    /// epochs entered are gone, and the last epoch's is there.
    async fn check_old_journals_pruned(&self, epochs: u64) -> Result<(), String> {
        use commonware_runtime::Storage;
        let journal = |epoch: u64| format!("{}-simplex-{epoch}", self.prefix);
        for epoch in 0..epochs - 2 {
            match self.storage.scan(&journal(epoch)).await {
                Ok(blobs) if !blobs.is_empty() => {
                    return Err(format!(
                        "{}: the journal of epoch {epoch} is still there",
                        self.prefix
                    ));
                }
                _ => {}
            }
        }
        match self.storage.scan(&journal(epochs - 1)).await {
            Ok(blobs) if !blobs.is_empty() => Ok(()),
            other => Err(format!(
                "{}: no journal of epoch {}: {other:?}",
                self.prefix,
                epochs - 1
            )),
        }
    }

    /// This validator's finalized block at `height`.
    async fn block(&self, height: u64) -> Result<lakh_consensus::block::Block, String> {
        let block = self
            .handles
            .marshal
            .get_block(Identifier::Height(Height::new(height)))
            .await
            .ok_or(format!("block {height} missing"))?;
        Ok(block.inner().clone())
    }
}

impl ProcessedHeight for State {
    async fn processed_height(&self) -> u64 {
        self.handles
            .marshal
            .get_processed()
            .await
            .map_or(0, |p| p.height().get())
    }
}

impl EngineDefinition for LakhEngine {
    type PublicKey = ed25519::PublicKey;
    type Engine = Handle<()>;
    type State = State;

    fn participants(&self) -> Vec<ed25519::PublicKey> {
        self.validators.iter().map(|k| k.public_key()).collect()
    }

    fn channels(&self) -> Vec<(u64, Quota)> {
        engine::channels::ALL
            .iter()
            .map(|c| (*c, engine::channel_quota()))
            .collect()
    }

    fn max_message_size(&self) -> u32 {
        engine::max_message_size(
            self.validators.len() as u32,
            lakh_node::gossip::MAX_GOSSIP_BYTES,
        )
    }

    async fn init(&self, ctx: InitContext<'_, ed25519::PublicKey>) -> (Handle<()>, State) {
        let InitContext {
            context,
            index,
            public_key,
            oracle,
            channels,
            monitor,
            ..
        } = ctx;
        let genesis_block = engine::genesis_block::<deterministic::Context>(&self.genesis);
        let view = self.l1.get(index).map(|deposits| {
            Arc::new(TimedL1View {
                clock: context.child("l1_view"),
                deposits: deposits.clone(),
            }) as Arc<dyn L1View>
        });
        let limits = self.receipt_limits.get(index).copied().flatten();
        let shared = Arc::new(
            NodeShared::new(self.genesis.clone(), genesis_block, Default::default())
                .with_l1_view(view)
                .with_receipt_limits(limits.unwrap_or_default()),
        );
        let restarted = self
            .started
            .as_ref()
            .is_some_and(|started| !started.lock().unwrap().insert(index));
        if !restarted {
            // Every validator knows every transaction (as gossip would ensure).
            let verdicts = shared.pool.insert_verified(
                self.txs.to_vec(),
                (0..=ACCOUNTS).map(|i| (Address::from(&account_key(i).public_key()), 0)),
            );
            assert!(verdicts.iter().all(|v| v.is_ok()));
        }
        if let Some(late) = self.late.clone() {
            let shared = shared.clone();
            context.child("late_tx").spawn(move |ctx| async move {
                let mut finalized = shared.subscribe();
                ctx.sleep_until(UNIX_EPOCH + late.at).await;
                let arrived = ctx.current();
                let sender = late.tx.tx.sender_address();
                let verdicts = shared
                    .pool
                    .insert_verified(vec![late.tx.clone()], [(sender, late.tx.tx.nonce)]);
                assert!(verdicts[0].is_ok());
                while let Ok(block) = finalized.recv().await {
                    if block.tx_ids.contains(&late.tx.id()) {
                        let after = ctx.current().duration_since(arrived).unwrap();
                        late.finalized_after.lock().unwrap().push(after);
                        return;
                    }
                }
            });
        }

        let mut ch = channels.into_iter();
        let mut next = || ch.next().unwrap();
        let networks = Networks {
            votes: next(),
            certificates: next(),
            resolver: next(),
            backfill: next(),
            broadcast: next(),
            state_sync: next(),
        };
        let pk = public_key.clone();
        let static_peers = self
            .genesis
            .validators
            .iter()
            .map(|v| (v.keys().unwrap().0, v.p2p_address))
            .collect();
        let storage = Arc::new(context.child("files"));
        let prefix = format!("v{index}");
        let (handle, handles) = engine::start_observed(
            context,
            EngineConfig {
                signer: self.validators[index].clone(),
                partition_prefix: prefix.clone(),
                shared: shared.clone(),
                timeouts: ConsensusTimeouts::default(),
                state_cache_bytes: 4 << 20,
                receipts_retention: lakh_archive::Retention::ALL,
                state_history: self.state_history,
                static_peers,
                byzantine: self.byzantine.get(index).copied().flatten(),
            },
            networks,
            engine::Peers {
                provider: oracle.manager(),
                blocker: oracle.control(public_key.clone()),
                sets: SimPeers(oracle.manager()),
            },
            move |m| MonitorReporter::new(pk, monitor, m),
        )
        .await;
        // The harness keeps a crashed validator's state until its restart
        // has opened the store again: holding the database there would keep
        // its files open (properties read blocks and receipts, not state).
        let handles = EngineHandles {
            databases: Arc::default(),
            ..handles
        };
        (
            handle,
            State {
                handles,
                shared,
                storage,
                prefix,
                index,
            },
        )
    }

    fn start(engine: Handle<()>) -> Handle<()> {
        engine
    }
}

/// Every active validator holds the same block (hence the same state root)
/// at every height up to `height`, and every transaction has a successful
/// receipt on every validator.
#[derive(Clone)]
struct Agreement {
    height: u64,
    txs: Arc<Vec<lakh_types::SignedTransaction>>,
}

impl Property<ed25519::PublicKey, State> for Agreement {
    fn name(&self) -> &str {
        "blocks, state roots and receipts agree"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a State],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            agreed_blocks(states, self.height).await?;
            if let Some(first) = states.first() {
                check_carried_finalizations(first, self.height).await?;
            }
            let ids: Vec<lakh_types::TxId> = self.txs.iter().map(|t| t.id()).collect();
            all_succeeded(states, &ids).await?;
            if states.iter().any(|s| s.shared.head().is_none()) {
                return Err("no head".into());
            }
            Ok(())
        })
    }
}

/// Every validator holds the same block and state root at each height up
/// to `height`; returns the ids of those blocks' transactions.
async fn agreed_blocks(states: &[&State], height: u64) -> Result<Vec<lakh_types::TxId>, String> {
    let mut ids = Vec::new();
    for h in 1..=height {
        let mut seen = None;
        for s in states {
            let b = s.block(h).await?;
            let key = (b.digest(), b.header.state_root);
            if seen.is_some_and(|k| k != key) {
                return Err(format!("validators disagree at height {h}"));
            }
            if seen.is_none() {
                ids.extend(b.txs.iter().map(|t| t.id()));
            }
            seen = Some(key);
        }
    }
    Ok(ids)
}

/// Every validator holds a successful receipt of each of `ids`.
async fn all_succeeded(states: &[&State], ids: &[lakh_types::TxId]) -> Result<(), String> {
    for s in states {
        let indexer = s.handles.indexer().ok_or("validator stopped")?;
        let indexer = indexer.lock().await;
        for id in ids {
            let r = indexer
                .receipt(id)
                .await
                .ok_or(format!("{}: no receipt for {id}", s.prefix))?;
            if r.status != TxStatus::Success {
                return Err(format!("{id} failed: {:?}", r.status));
            }
        }
    }
    Ok(())
}

/// Blocks carry finalizations of earlier blocks (so fees reach their
/// signers), each round at most once and in ascending order; most
/// finalized rounds are carried, and some take in a vote that came after
/// the quorum (every committee here has 4 members, a quorum 3).
async fn check_carried_finalizations(state: &State, height: u64) -> Result<(), String> {
    let mut last = (0u64, 0u64);
    let mut carried = 0u64;
    let mut widened = 0u64;
    for h in 1..=height {
        let block = state.block(h).await?;
        for f in &block.header.finalizations {
            let round = f.proposal.round;
            let round = (round.epoch().get(), round.view().get());
            if round <= last {
                return Err(format!(
                    "block {h} carries round {round:?}, not after {last:?}"
                ));
            }
            last = round;
            carried += 1;
            if f.certificate.signers.count() > 3 {
                widened += 1;
            }
        }
    }
    if widened == 0 {
        return Err(format!(
            "none of {carried} carried finalizations took in a late vote"
        ));
    }
    if carried * 2 < height {
        return Err(format!(
            "only {carried} finalizations carried in {height} blocks"
        ));
    }
    Ok(())
}

fn lossy_link() -> Link {
    Link {
        latency: Duration::from_millis(40),
        jitter: Duration::from_millis(30),
        success_rate: probability!(0.9),
    }
}

#[test]
fn four_validators_agree_under_delays_and_drops() {
    let engine = LakhEngine::new();
    let txs = engine.txs.clone();
    PlanBuilder::new(engine)
        .seeds(0..3)
        .link(lossy_link())
        .exit_condition(ProcessedHeightAtLeast::new(30))
        .property(Agreement { height: 30, txs })
        .timeout(Duration::from_secs(600))
        .run()
        .expect("simulation failed");
}

/// `victim` crashes at `crash_at` and restarts at `restart_at`.
fn crash_and_restart(
    victim: ed25519::PublicKey,
    crash_at: Duration,
    restart_at: Duration,
) -> Crash<ed25519::PublicKey> {
    Crash::Schedule(
        Schedule::new()
            .at(crash_at, Action::Crash(victim.clone()))
            .at(restart_at, Action::Restart(victim)),
    )
}

#[test]
fn crashed_validator_restarts_and_catches_up() {
    let engine = LakhEngine::new();
    let txs = engine.txs.clone();
    let victim = engine.validators[3].public_key();
    let results = PlanBuilder::new(engine)
        .seeds(0..2)
        .link(lossy_link())
        .crash(crash_and_restart(
            victim,
            Duration::from_millis(1500),
            Duration::from_millis(6000),
        ))
        .exit_condition(ProcessedHeightAtLeast::new(40))
        .property(Agreement { height: 40, txs })
        .timeout(Duration::from_secs(600))
        .run()
        .expect("simulation failed");
    for r in &results {
        assert_eq!(r.crashes, 1, "the validator must have crashed once");
        assert_eq!(
            r.scheduled_actions, 2,
            "crash and restart must both have run"
        );
    }
}

/// Every validator pruned its state's log since it last started, and the
/// log no longer holds its first operations.
#[derive(Clone)]
struct StatePruned;

impl Property<ed25519::PublicKey, State> for StatePruned {
    fn name(&self) -> &str {
        "every validator pruned its state's history"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a State],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            for s in states {
                let dbs = s.handles.stateful.subscribe_databases().await;
                let start = dbs.read().await.bounds().start.as_u64();
                let pruned = s.shared.metrics.state_log_start_ops.get();
                if start == 0 || pruned == 0 {
                    return Err(format!(
                        "{}: the state's log starts at {start}; last prune since start: {pruned}",
                        s.prefix
                    ));
                }
            }
            Ok(())
        })
    }
}

/// With small state files and a short history, every validator prunes its
/// state behind the chain; one crashed after pruning restarts on its
/// pruned state, catches up and agrees on every block and state root.
#[test]
fn a_validator_restarts_on_pruned_state_and_agrees() {
    let mut engine = LakhEngine::new();
    engine.state_history = StateHistory {
        retained_blocks: MIN_RETAINED_BLOCKS,
        items_per_section: commonware_utils::NZU64!(64),
        prune_interval_blocks: 4,
        ..StateHistory::default()
    };
    let txs = engine.txs.clone();
    let victim = engine.validators[3].public_key();
    let results = PlanBuilder::new(engine)
        .seeds(0..2)
        .link(lossy_link())
        .crash(crash_and_restart(
            victim,
            Duration::from_secs(25),
            Duration::from_secs(30),
        ))
        .exit_condition(ProcessedHeightAtLeast::new(60))
        .property(Agreement { height: 60, txs })
        .property(StatePruned)
        .timeout(Duration::from_secs(600))
        .run()
        .expect("simulation failed");
    for r in &results {
        assert_eq!(
            r.scheduled_actions, 2,
            "crash and restart must both have run"
        );
    }
}

/// The four validators split two and two for two seconds (every message
/// across dropped, so neither side has a quorum), then the links heal: the
/// chain resumes and all agree.
#[test]
fn a_split_without_a_quorum_heals_and_agrees() {
    let engine = LakhEngine::new();
    let txs = engine.txs.clone();
    let keys: Vec<ed25519::PublicKey> = engine.validators.iter().map(|k| k.public_key()).collect();
    let link = lossy_link();
    let cut = Link {
        success_rate: probability!(0.0),
        ..link.clone()
    };
    let mut schedule = Schedule::new();
    for a in &keys[..2] {
        for b in &keys[2..] {
            for (from, to) in [(a, b), (b, a)] {
                schedule = schedule.at(
                    Duration::from_millis(2000),
                    Action::UpdateLink {
                        from: from.clone(),
                        to: to.clone(),
                        link: cut.clone(),
                    },
                );
            }
        }
    }
    schedule = schedule.at(Duration::from_millis(4000), Action::Heal(link.clone()));
    let results = PlanBuilder::new(engine)
        .seeds(0..2)
        .link(link)
        .crash(Crash::Schedule(schedule))
        .exit_condition(ProcessedHeightAtLeast::new(30))
        .property(Agreement { height: 30, txs })
        .timeout(Duration::from_secs(600))
        .run()
        .expect("simulation failed");
    for r in &results {
        assert_eq!(r.scheduled_actions, 9, "8 links cut, then healed");
    }
}

/// The validators that keep no receipts of executed blocks executed
/// finalized blocks again for the receipts they dropped, and hold
/// the same receipt for every transaction as the validators that did not.
#[derive(Clone)]
struct ReceiptsReplayed {
    limited: Vec<usize>,
    txs: Arc<Vec<lakh_types::SignedTransaction>>,
}

impl Property<ed25519::PublicKey, State> for ReceiptsReplayed {
    fn name(&self) -> &str {
        "dropped receipts are recomputed, equal to the kept ones"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a State],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            for s in states {
                let replayed = s.shared.metrics.receipts_replayed.get();
                match (self.limited.contains(&s.index), replayed) {
                    (true, 0) => return Err(format!("{}: no block executed again", s.prefix)),
                    (false, n) if n > 0 => {
                        return Err(format!("{}: {n} blocks executed again", s.prefix));
                    }
                    _ => {}
                }
            }
            for tx in self.txs.iter() {
                let id = tx.id();
                let mut seen: Option<lakh_types::Receipt> = None;
                for s in states {
                    let indexer = s.handles.indexer().ok_or("validator stopped")?;
                    let receipt = indexer.lock().await.receipt(&id).await;
                    let receipt = receipt.ok_or(format!("{}: no receipt for {id}", s.prefix))?;
                    if seen.as_ref().is_some_and(|r| *r != receipt) {
                        return Err(format!("{}: another receipt for {id}", s.prefix));
                    }
                    seen = Some(receipt);
                }
            }
            Ok(())
        })
    }
}

#[test]
fn finalized_blocks_whose_receipts_were_dropped_get_them_again() {
    let mut engine = LakhEngine::new();
    let none = ReceiptLimits {
        blocks: 0,
        receipts: 0,
    };
    engine.receipt_limits = vec![Some(none), Some(none)];
    let txs = engine.txs.clone();
    PlanBuilder::new(engine)
        .seeds(0..2)
        .link(lossy_link())
        .exit_condition(ProcessedHeightAtLeast::new(20))
        .property(Agreement {
            height: 20,
            txs: txs.clone(),
        })
        .property(ReceiptsReplayed {
            limited: vec![0, 1],
            txs,
        })
        .timeout(Duration::from_secs(600))
        .run()
        .expect("simulation failed");
}

/// A link that neither drops nor reorders much: views fail only if the
/// protocol makes them.
fn steady_link() -> Link {
    Link {
        latency: Duration::from_millis(10),
        jitter: Duration::from_millis(5),
        success_rate: probability!(1.0),
    }
}

/// Up to `height`, every validator's finalized chain has consecutive views
/// (no view nullified or skipped) and, from block 2 on, an empty block
/// exactly `heartbeat` (plus less than `slack`) after its parent.
#[derive(Clone)]
struct Rests {
    height: u64,
    heartbeat: Duration,
    slack: Duration,
}

impl Property<ed25519::PublicKey, State> for Rests {
    fn name(&self) -> &str {
        "an idle chain proposes at the heartbeat, in consecutive views"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a State],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            for s in states {
                let mut parent: Option<lakh_consensus::block::Block> = None;
                for h in 1..=self.height {
                    let b = s.block(h).await?;
                    if let Some(p) = &parent {
                        let view = b.header.context.round.view().get();
                        let parent_view = p.header.context.round.view().get();
                        if view != parent_view + 1 {
                            return Err(format!(
                                "block {h} is in view {view}, its parent in {parent_view}: a view failed"
                            ));
                        }
                        let gap = b.header.timestamp_ms - p.header.timestamp_ms;
                        let min = self.heartbeat.as_millis() as u64;
                        let max = (self.heartbeat + self.slack).as_millis() as u64;
                        if b.txs.is_empty() && h > 1 && !(min..max).contains(&gap) {
                            return Err(format!(
                                "empty block {h} came {gap} ms after its parent, not {min}..{max}"
                            ));
                        }
                    }
                    parent = Some(b);
                }
            }
            Ok(())
        })
    }
}

/// Every validator finalized the late transaction within `within` of its
/// arrival.
#[derive(Clone)]
struct Prompt {
    finalized_after: Arc<Mutex<Vec<Duration>>>,
    within: Duration,
}

impl Property<ed25519::PublicKey, State> for Prompt {
    fn name(&self) -> &str {
        "a transaction on a resting chain is finalized at once"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        _states: &'a [&'a State],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let after = self.finalized_after.lock().unwrap().clone();
            if after.len() != VALIDATORS as usize {
                return Err(format!(
                    "{} of {VALIDATORS} validators finalized the late transaction",
                    after.len()
                ));
            }
            match after.iter().max() {
                Some(slowest) if *slowest < self.within => Ok(()),
                slowest => Err(format!(
                    "late transaction finalized after {slowest:?}, not within {:?}",
                    self.within
                )),
            }
        })
    }
}

#[test]
fn an_idle_chain_proposes_at_the_heartbeat() {
    let engine = LakhEngine::idle(None);
    let heartbeat = engine.heartbeat();
    assert_eq!(heartbeat, Duration::from_secs(1), "the default heartbeat");
    let results = PlanBuilder::new(engine)
        .seeds(0..2)
        .link(steady_link())
        .exit_condition(ProcessedHeightAtLeast::new(15))
        .property(Rests {
            height: 15,
            heartbeat,
            slack: Duration::from_millis(50),
        })
        .timeout(Duration::from_secs(120))
        .run()
        .expect("simulation failed");
    // Rested: 15 blocks took about 15 heartbeats, not a few hundred rounds.
    for r in &results {
        assert_eq!(r.crashes, 0);
    }
}

#[test]
fn a_transaction_on_a_resting_chain_is_finalized_at_once() {
    let finalized_after = Arc::new(Mutex::new(Vec::new()));
    let engine = LakhEngine::idle(Some(Late {
        // Half-way through a heartbeat: leaders are resting.
        at: Duration::from_millis(5_500),
        tx: late_transfer(),
        finalized_after: finalized_after.clone(),
    }));
    let heartbeat = engine.heartbeat();
    PlanBuilder::new(engine)
        .seed(0)
        .link(steady_link())
        .exit_condition(ProcessedHeightAtLeast::new(10))
        .property(Prompt {
            finalized_after,
            within: Duration::from_millis(200),
        })
        .property(Rests {
            height: 10,
            heartbeat,
            slack: Duration::from_millis(50),
        })
        .timeout(Duration::from_secs(120))
        .run()
        .expect("simulation failed");
}

/// Heights per epoch in the election simulations.
const EPOCH_BLOCKS: u64 = 8;
/// Validators in the election simulations: four seats, two on standby.
const ELECTION_VALIDATORS: u64 = 6;
const SELF_BOND: u128 = 1_000_000;

/// Who the election simulations move: an account delegates to `joiner` from
/// the start, `leaver` undelegates its whole self-bond at `leave_at`, and
/// `displaced` is the genesis member the joiner outranks.
#[derive(Clone)]
struct Elections {
    joiner: ed25519::PublicKey,
    leaver: ed25519::PublicKey,
    displaced: ed25519::PublicKey,
    /// Epochs to run past (the chain reaches their last height).
    epochs: u64,
}

impl LakhEngine {
    /// Six validators with epochs of [`EPOCH_BLOCKS`] and four seats:
    /// validators 0..4 bond [`SELF_BOND`] each, 4 and 5 less (standby).
    fn elections(leave_at: Duration) -> (Self, Elections) {
        let mut engine = Self::with_validators(ELECTION_VALIDATORS);
        engine.genesis.staking = StakingParams {
            epoch_blocks: EPOCH_BLOCKS,
            committee_size: 4,
            min_self_bond: SELF_BOND / 10,
            ..Default::default()
        };
        for (i, v) in engine.genesis.validators.iter_mut().enumerate() {
            v.stake = match i {
                0..4 => SELF_BOND,
                4 => SELF_BOND / 2,
                _ => SELF_BOND * 2 / 5,
            };
        }
        for key in &engine.validators {
            engine.genesis.accounts.push(GenesisAccount {
                address: Address::from(&key.public_key()),
                balance: 1_000_000_000,
            });
        }
        let genesis_members: Vec<ed25519::PublicKey> = engine.validators[..4]
            .iter()
            .map(|k| k.public_key())
            .collect();
        // Equal stakes rank by identity: the largest loses its seat to the joiner.
        let displaced = genesis_members.iter().max().unwrap().clone();
        let leaver_index = (0..4)
            .min_by_key(|i| engine.validators[*i].public_key())
            .unwrap();
        let joiner = engine.validators[4].public_key();
        // An account the preloaded transfers leave alone, so the
        // delegation waits behind none of them.
        let delegator = late_sender();
        let delegation = Transaction {
            chain_id: 99,
            sender: delegator.public_key().into(),
            nonce: 0,
            max_fee: 1_000_000,
            action: TxAction::Stake(Box::new(StakeAction::Delegate {
                validator: Address::from(&joiner),
                amount: SELF_BOND * 2,
            })),
        }
        .sign(&delegator);
        let mut txs = engine.txs.to_vec();
        txs.push(delegation);
        engine.txs = Arc::new(txs);
        let leaver_key = engine.validators[leaver_index].clone();
        engine.late = Some(Late {
            at: leave_at,
            tx: Transaction {
                chain_id: 99,
                sender: leaver_key.public_key().into(),
                nonce: 0,
                max_fee: 1_000_000,
                action: TxAction::Stake(Box::new(StakeAction::Undelegate {
                    validator: Address::from(&leaver_key.public_key()),
                    amount: SELF_BOND,
                })),
            }
            .sign(&leaver_key),
            finalized_after: Arc::default(),
        });
        let plan = Elections {
            joiner,
            leaver: leaver_key.public_key(),
            displaced,
            epochs: 4,
        };
        (engine, plan)
    }
}

impl Elections {
    fn last_height(&self) -> u64 {
        self.epochs * EPOCH_BLOCKS - 1
    }

    /// The committee of every epoch up to `self.epochs`, from the genesis
    /// and the boundary blocks' headers.
    async fn committees(&self, state: &State) -> Result<Vec<Committee>, String> {
        let mut committees = vec![lakh_execution::modules::stake::genesis_committee(
            &state.shared.genesis,
        )];
        for epoch in 0..self.epochs {
            let height = (epoch + 1) * EPOCH_BLOCKS - 1;
            let block = state.block(height).await?;
            let next = block.header.next_committee.clone();
            let next = next.ok_or(format!("boundary block {height} carries no committee"))?;
            if next.epoch != epoch + 1 {
                return Err(format!("block {height} elects epoch {}", next.epoch));
            }
            committees.push(next);
        }
        Ok(committees)
    }
}

/// Walks the chain of committees from the genesis the way a client does,
/// through the certificates this node serves: each boundary certificate
/// elects the committee its header carries, and a boundary header altered
/// to elect another committee is refused. `Ok(false)` when the node holds
/// no certificate of some boundary (it finalized it through a later block).
async fn follow_from_genesis(state: &State, committees: &[Committee]) -> Result<bool, String> {
    use commonware_codec::{DecodeExt, Encode};
    use lakh_consensus::{block::Header, light::CommitteeChain};
    use lakh_rpc::NodeApi;
    let service = lakh_node::service::NodeService::new(state.shared.clone(), state.handles.clone());
    let mut chain = CommitteeChain::from_genesis(&state.shared.genesis, committees[0].clone());
    for expected in &committees[1..] {
        let Some(info) = service.finality(chain.next_boundary()).await else {
            return Ok(false);
        };
        let mut forged = info.clone();
        let mut header = Header::decode(bytes::Bytes::from(hex::decode(&info.header).unwrap()))
            .map_err(|e| e.to_string())?;
        if let Some(c) = header.next_committee.as_mut() {
            c.members.as_mut_vec_within_bound().remove(0);
        }
        forged.header = hex::encode(header.encode());
        if chain.clone().extend(&forged).is_ok() {
            return Err(format!(
                "a forged boundary header {} was accepted",
                info.height
            ));
        }
        let elected = chain.extend(&info).map_err(|e| e.to_string())?;
        if elected != expected {
            return Err(format!(
                "the certified chain elects another committee of epoch {}",
                expected.epoch
            ));
        }
    }
    Ok(true)
}

fn member(committee: &Committee, key: &ed25519::PublicKey) -> bool {
    committee.contains(&Address::from(key))
}

impl Property<ed25519::PublicKey, State> for Elections {
    fn name(&self) -> &str {
        "committees follow stake, and only each epoch's committee proposes and certifies"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a State],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let mut followed = false;
            for s in states {
                let committees = self.committees(s).await?;
                followed |= follow_from_genesis(s, &committees).await?;
                // When the delegation and the undelegation land depends on
                // the seed; that each takes effect at a boundary does not.
                let joined = committees[1..].iter().position(|c| member(c, &self.joiner));
                let Some(joined) = joined else {
                    return Err("the joiner was never elected".into());
                };
                if member(&committees[joined + 1], &self.displaced)
                    && member(&committees[joined + 1], &self.leaver)
                {
                    return Err("the joiner took nobody's seat".into());
                }
                if committees[1..].iter().all(|c| member(c, &self.leaver)) {
                    return Err("the leaver never left".into());
                }
                let mut joiner_proposed = false;
                for h in 1..=self.last_height() {
                    let block = s.block(h).await?;
                    let header = &block.header;
                    let epoch = (h / EPOCH_BLOCKS) as usize;
                    if header.context.round.epoch().get() != epoch as u64 {
                        return Err(format!("block {h} was proposed in another epoch"));
                    }
                    if !member(&committees[epoch], &header.context.leader) {
                        return Err(format!("block {h} was proposed outside its committee"));
                    }
                    joiner_proposed |= header.context.leader == self.joiner;
                    check_certificate(s, h, &committees[epoch]).await?;
                }
                if !joiner_proposed {
                    return Err("the elected joiner never proposed".into());
                }
                s.check_old_journals_pruned(self.epochs).await?;
            }
            if !followed {
                return Err("no node serves a certificate of every boundary".into());
            }
            Ok(())
        })
    }
}

/// A stored finalization of block `height`, if any, verifies against the
/// committee of its epoch (and not against another).
async fn check_certificate(
    state: &State,
    height: u64,
    committee: &Committee,
) -> Result<(), String> {
    let Some(finalization) = state
        .handles
        .marshal
        .get_finalization(Height::new(height))
        .await
    else {
        return Ok(());
    };
    let verifier = finality::committee_verifier(committee.keys()?).map_err(|e| e.to_string())?;
    if !finalization.verify(
        &mut rand::rng(),
        &verifier,
        &commonware_parallel::Sequential,
    ) {
        return Err(format!(
            "the certificate of block {height} fails its committee"
        ));
    }
    Ok(())
}

#[test]
fn committees_change_by_stake_across_epochs_under_delays_and_drops() {
    let (engine, plan) = LakhEngine::elections(Duration::from_secs(11));
    let txs = engine.txs.clone();
    let height = plan.last_height();
    PlanBuilder::new(engine)
        .seeds(0..3)
        .link(lossy_link())
        .exit_condition(ProcessedHeightAtLeast::new(height))
        .property(Agreement { height, txs })
        .property(plan)
        .timeout(Duration::from_secs(900))
        .run()
        .expect("simulation failed");
}

#[test]
fn a_validator_crashed_before_a_boundary_catches_up_after_it() {
    let (engine, plan) = LakhEngine::elections(Duration::from_secs(11));
    let txs = engine.txs.clone();
    let height = plan.last_height();
    // Validator 1 misses the first two boundaries.
    let victim = engine.validators[1].public_key();
    let results = PlanBuilder::new(engine)
        .seeds(0..2)
        .link(steady_link())
        .crash(Crash::Schedule(
            Schedule::new()
                .at(Duration::from_secs(4), Action::Crash(victim.clone()))
                .at(Duration::from_secs(20), Action::Restart(victim)),
        ))
        .exit_condition(ProcessedHeightAtLeast::new(height))
        .property(Agreement { height, txs })
        .property(plan)
        .timeout(Duration::from_secs(900))
        .run()
        .expect("simulation failed");
    for r in &results {
        assert_eq!(r.crashes, 1);
    }
}

/// Storage faults from commonware's deterministic runtime (its `faulty`
/// storage): for one second a sync fails one time in 50 and a write one
/// time in 100, a failed write keeping a random prefix of its bytes (a torn
/// write). A validator whose write or sync fails stops where it is (its
/// actors fail on the error); afterwards every validator is restarted, one
/// every 250 ms, on whatever its store then holds.
fn storage_fault_schedule(validators: &[ed25519::PublicKey]) -> Schedule<ed25519::PublicKey> {
    use deterministic::{FaultConfig, PartialWriteMode, WriteConfig};
    let faults = FaultConfig::default()
        .sync(probability!(1, 50))
        .write(WriteConfig {
            failure_rate: probability!(1, 100),
            retention_rate: probability!(1, 2),
            mode: PartialWriteMode::Prefix,
        });
    let mut schedule = Schedule::new()
        .at(Duration::from_secs(1), Action::SetStorageFault(faults))
        .at(
            Duration::from_secs(2),
            Action::SetStorageFault(FaultConfig::default()),
        );
    for (i, key) in validators.iter().enumerate() {
        let at = Duration::from_millis(2_500 + 250 * i as u64);
        schedule = schedule.at(at, Action::Restart(key.clone()));
    }
    schedule
}

/// Every active validator holds the same blocks up to `height`, each
/// transaction in them has a successful receipt on every validator, and so
/// has `late` (which arrived after the faults).
#[derive(Clone)]
struct AgreementOnChain {
    height: u64,
    late: lakh_types::TxId,
}

impl Property<ed25519::PublicKey, State> for AgreementOnChain {
    fn name(&self) -> &str {
        "blocks, state roots and receipts of what was finalized agree"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a State],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let mut ids = agreed_blocks(states, self.height).await?;
            ids.push(self.late);
            all_succeeded(states, &ids).await
        })
    }
}

#[test]
fn failed_and_torn_writes_then_restarts_keep_agreement() {
    let late = late_transfer();
    let late_id = late.id();
    let engine = LakhEngine {
        late: Some(Late {
            at: Duration::from_secs(5),
            tx: late,
            finalized_after: Arc::default(),
        }),
        started: Some(Arc::default()),
        ..LakhEngine::new()
    };
    let validators = engine.participants();
    let results = PlanBuilder::new(engine)
        .seeds(0..12)
        .link(lossy_link())
        .crash(Crash::Schedule(storage_fault_schedule(&validators)))
        .exit_condition(ProcessedHeightAtLeast::new(30))
        .property(AgreementOnChain {
            height: 30,
            late: late_id,
        })
        .timeout(Duration::from_secs(600))
        .run()
        .expect("simulation failed");
    for r in &results {
        assert_eq!(
            r.scheduled_actions,
            2 + VALIDATORS,
            "faults on, faults off and every restart must have run"
        );
    }
}

/// Heights every honest validator reaches in a Byzantine simulation.
const BYZANTINE_HEIGHT: u64 = 16;
/// The evidence against each Byzantine validator that leaves any (all but
/// the silent ones) is in a finalized block at or below this height.
const EVIDENCE_WITHIN: u64 = 10;

/// One Byzantine simulation: its seed picks the committee size (4 to 7),
/// up to f misbehaving validators and how each misbehaves, and whether an
/// honest validator is partitioned away or crashes for a while.
struct ByzantinePlan {
    validators: u64,
    faults: Vec<Misbehavior>,
    disruption: Disruption,
}

#[derive(Clone, Copy, Debug)]
enum Disruption {
    None,
    /// Honest validator 0 loses every link from 2 s to 4 s.
    Partition,
    /// Honest validator 0 crashes at 1.5 s and restarts at 4 s.
    Crash,
}

impl ByzantinePlan {
    fn of(seed: u64) -> Self {
        let validators = 4 + seed % 4;
        let f = (validators - 1) / 3;
        let faults = (0..f)
            .map(|j| Misbehavior::ALL[((seed + j) % 3) as usize])
            .collect();
        let disruption = match seed % 5 {
            1 => Disruption::Partition,
            3 => Disruption::Crash,
            _ => Disruption::None,
        };
        ByzantinePlan {
            validators,
            faults,
            disruption,
        }
    }

    /// The engine, with the last validators misbehaving, epochs of
    /// [`EPOCH_BLOCKS`] heights and every validator bonding [`SELF_BOND`].
    fn engine(&self) -> LakhEngine {
        let mut engine = LakhEngine::with_validators(self.validators);
        engine.genesis.staking = StakingParams {
            epoch_blocks: EPOCH_BLOCKS,
            min_self_bond: SELF_BOND / 10,
            ..Default::default()
        };
        for v in engine.genesis.validators.iter_mut() {
            v.stake = SELF_BOND;
        }
        let honest = (self.validators as usize) - self.faults.len();
        engine.byzantine = (0..self.validators as usize)
            .map(|i| i.checked_sub(honest).map(|j| self.faults[j]))
            .collect();
        engine
    }
}

/// Every honest validator (those `byzantine` leaves `None`) processed
/// `height`; the misbehaving ones are blocked by their peers and may lag.
#[derive(Clone)]
struct HonestReached {
    height: u64,
    byzantine: Vec<Option<Misbehavior>>,
    honest: usize,
}

impl HonestReached {
    fn is_honest(&self, index: usize) -> bool {
        self.byzantine.get(index).copied().flatten().is_none()
    }

    fn honest<'a>(&self, states: &'a [&'a State]) -> Vec<&'a State> {
        states
            .iter()
            .copied()
            .filter(|s| self.is_honest(s.index))
            .collect()
    }
}

impl commonware_glue::simulate::exit::ExitCondition<ed25519::PublicKey, State> for HonestReached {
    fn name(&self) -> &str {
        "every honest validator reached the height"
    }

    fn requires_polling(&self) -> bool {
        true
    }

    fn reached<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a State],
        _target_count: usize,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move {
            let honest = self.honest(states);
            if honest.len() < self.honest {
                return Ok(false);
            }
            for s in honest {
                if s.processed_height().await < self.height {
                    return Ok(false);
                }
            }
            Ok(true)
        })
    }
}

/// Safety and punishment with Byzantine validators: the honest ones hold
/// the same block at every height, every transfer succeeded on each, every
/// piece of evidence in a finalized block names a misbehaving validator
/// with the fault it commits, each one that equivocates or nullifies and
/// finalizes has evidence on chain by [`EVIDENCE_WITHIN`], and the
/// committee's total stake and the native supply are what genesis set.
#[derive(Clone)]
struct ByzantineCaught {
    reached: HonestReached,
    validators: Vec<ed25519::PublicKey>,
    genesis: Genesis,
    txs: Arc<Vec<lakh_types::SignedTransaction>>,
    /// The downtime window is short enough that silent validators are
    /// jailed and slashed for downtime within the run.
    silent_jailed: bool,
}

/// The committee of `epoch`, as the genesis or the boundary block before
/// it elected it.
async fn committee_of(state: &State, genesis: &Genesis, epoch: u64) -> Result<Committee, String> {
    if epoch == 0 {
        return Ok(lakh_execution::modules::stake::genesis_committee(genesis));
    }
    state
        .block(epoch * EPOCH_BLOCKS - 1)
        .await?
        .header
        .next_committee
        .ok_or(format!("no committee elected for epoch {epoch}"))
}

type StateDb = lakh_consensus::app::Db<deterministic::Context>;

/// The stake module's record of `validator` in `db`.
async fn validator_record(
    db: &impl std::ops::Deref<Target = StateDb>,
    validator: &Address,
) -> Result<lakh_execution::modules::stake::Validator, String> {
    use commonware_codec::Decode;
    let key = lakh_execution::modules::stake::validator_key(validator).digest();
    match db.get(&key).await.map_err(|e| e.to_string())? {
        Some(lakh_state::StateValue::Object(bytes)) => {
            lakh_execution::modules::stake::Validator::decode_cfg(bytes, &())
                .map_err(|e| e.to_string())
        }
        other => Err(format!("no validator record for {validator}: {other:?}")),
    }
}

/// The native balance of `account` in `db`.
async fn native_balance(
    db: &impl std::ops::Deref<Target = StateDb>,
    account: &Address,
) -> Result<u128, String> {
    let key = lakh_state::StateKey::Account(*account).digest();
    match db.get(&key).await.map_err(|e| e.to_string())? {
        Some(lakh_state::StateValue::Account(a)) => Ok(a.native_balance),
        None => Ok(0),
        other => Err(format!("not an account: {other:?}")),
    }
}

impl ByzantineCaught {
    /// The fault evidence against member `signer` of `committee` must
    /// show, or why none may name it.
    fn expected(
        &self,
        committee: &Committee,
        signer: u32,
    ) -> Result<lakh_types::modules::stake::Fault, String> {
        use lakh_types::modules::stake::Fault;
        let member = committee.members.get(signer as usize).ok_or(format!(
            "evidence names signer {signer}, outside the committee"
        ))?;
        let index = self
            .validators
            .iter()
            .position(|k| Address::from(k) == member.identity)
            .ok_or("evidence names an unknown member")?;
        match self.reached.byzantine.get(index).copied().flatten() {
            None => Err(format!("evidence accuses honest validator {index}")),
            Some(Misbehavior::Silent) => Err(format!(
                "evidence accuses validator {index}, which only stayed silent"
            )),
            Some(Misbehavior::Equivocate) => Ok(Fault::ConflictingNotarize {}),
            Some(Misbehavior::NullifyFinalize) => Ok(Fault::NullifyFinalize {}),
        }
    }
}

impl Property<ed25519::PublicKey, State> for ByzantineCaught {
    fn name(&self) -> &str {
        "honest validators agree, and only misbehaving ones are accused, each within bounded blocks"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a State],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            let honest = self.reached.honest(states);
            let height = self.reached.height;
            agreed_blocks(&honest, height).await?;
            let ids: Vec<lakh_types::TxId> = self.txs.iter().map(|t| t.id()).collect();
            all_succeeded(&honest, &ids).await?;
            let first = honest.first().ok_or("no honest validator running")?;
            let mut caught = std::collections::BTreeMap::new();
            for h in 1..=height {
                for e in &first.block(h).await?.header.evidence {
                    let committee = committee_of(first, &self.genesis, e.epoch()).await?;
                    let fault = self.expected(&committee, e.signer())?;
                    if e.fault() != fault {
                        return Err(format!(
                            "block {h}: evidence of {:?} against signer {}, which commits {fault:?}",
                            e.fault(),
                            e.signer()
                        ));
                    }
                    let offender = committee.members[e.signer() as usize].identity;
                    caught.entry(offender).or_insert(h);
                }
            }
            for (i, how) in self.reached.byzantine.iter().enumerate() {
                let Some(how) = how else { continue };
                if *how == Misbehavior::Silent {
                    continue;
                }
                let offender = Address::from(&self.validators[i]);
                match caught.get(&offender) {
                    Some(h) if *h <= EVIDENCE_WITHIN => {
                        // Out of the committee elected at the next boundary.
                        let boundary = (h / EPOCH_BLOCKS + 1) * EPOCH_BLOCKS - 1;
                        let next = boundary / EPOCH_BLOCKS + 1;
                        let elected = committee_of(first, &self.genesis, next).await?;
                        if elected.members.iter().any(|m| m.identity == offender) {
                            return Err(format!(
                                "validator {i} ({how}) caught at height {h} is elected at {boundary}"
                            ));
                        }
                    }
                    Some(h) => {
                        return Err(format!(
                            "evidence against validator {i} ({how}) landed only at height {h}"
                        ));
                    }
                    None => {
                        return Err(format!(
                            "no evidence against validator {i} ({how}) up to height {height}"
                        ));
                    }
                }
            }
            self.check_penalties(first).await
        })
    }
}

impl ByzantineCaught {
    /// In `state`'s latest state: each validator that left evidence is
    /// tombstoned and lost exactly the slash of its bond, once; nobody else
    /// lost anything; the burn account holds what was slashed; and the
    /// native supply (genesis accounts, validators' accounts and custody,
    /// the fee pot and the burn account) is what genesis set.
    async fn check_penalties(&self, state: &State) -> Result<(), String> {
        use lakh_execution::modules::stake::{custody, fee_pot};
        let dbs = state.handles.stateful.subscribe_databases().await;
        let db = dbs.read().await;
        let slash = SELF_BOND * u128::from(DEFAULT_DOUBLE_SIGN_SLASH_BPS) / 10_000;
        let downtime_slash = (SELF_BOND
            * u128::from(lakh_types::committee::DEFAULT_DOWNTIME_SLASH_BPS))
        .div_ceil(10_000);
        let mut burned = 0;
        for (i, key) in self.validators.iter().enumerate() {
            let address = Address::from(key);
            let record = validator_record(&db, &address).await?;
            let how = self.reached.byzantine.get(i).copied().flatten();
            let (tombstoned, slashed) = match how {
                Some(Misbehavior::Equivocate | Misbehavior::NullifyFinalize) => (true, slash),
                Some(Misbehavior::Silent) if self.silent_jailed => (false, downtime_slash),
                _ => (false, 0),
            };
            if record.jailed != (slashed > 0) {
                return Err(format!(
                    "validator {i} ({how:?}): jailed {}, slashed {}",
                    record.jailed, record.total_slashed
                ));
            }
            if record.tombstoned != tombstoned
                || record.total_slashed != slashed
                || record.total_delegated != SELF_BOND - slashed
            {
                return Err(format!(
                    "validator {i}: tombstoned {}, slashed {}, bonded {}; expected {tombstoned}, {slashed}, {}",
                    record.tombstoned,
                    record.total_slashed,
                    record.total_delegated,
                    SELF_BOND - slashed
                ));
            }
            burned += slashed;
        }
        let burn = lakh_types::modules::stake::burned();
        if native_balance(&db, &burn).await? != burned {
            return Err(format!(
                "the burn account does not hold the {burned} slashed"
            ));
        }
        let mut genesis_supply = 0;
        let mut accounts = std::collections::BTreeSet::new();
        for (key, value) in lakh_execution::apply_genesis(&self.genesis) {
            if let (lakh_state::StateKey::Account(address), lakh_state::StateValue::Account(a)) =
                (key, value)
            {
                genesis_supply += a.native_balance;
                accounts.insert(address);
            }
        }
        for key in &self.validators {
            let address = Address::from(key);
            accounts.insert(address);
            accounts.insert(custody(&address));
        }
        accounts.insert(fee_pot());
        accounts.insert(burn);
        let mut supply = 0;
        for account in &accounts {
            supply += native_balance(&db, account).await?;
        }
        if supply != genesis_supply {
            return Err(format!(
                "native supply {supply} differs from the genesis supply {genesis_supply}"
            ));
        }
        Ok(())
    }
}

#[test]
fn byzantine_validators_are_caught_while_the_honest_ones_agree() {
    for seed in 0..20 {
        let plan = ByzantinePlan::of(seed);
        // A window short enough that silent validators are jailed for
        // downtime within the run: every Byzantine validator is punished.
        let mut engine = plan.engine();
        engine.genesis.staking.slashing.signed_window_rounds = SHORT_WINDOW_ROUNDS;
        run_byzantine(seed, &plan, engine, true);
    }
}

/// Rounds in the downtime window of the Byzantine simulations: missing four
/// jails, so silent validators are punished within a run. Honest ones miss
/// none: with f validators faulty, every quorum needs every honest vote.
const SHORT_WINDOW_ROUNDS: u64 = 6;

#[test]
fn a_silent_validator_is_jailed_for_downtime() {
    for seed in 0..3 {
        let plan = ByzantinePlan {
            validators: 4,
            faults: vec![Misbehavior::Silent],
            disruption: Disruption::None,
        };
        let mut engine = plan.engine();
        engine.genesis.staking.slashing.signed_window_rounds = SHORT_WINDOW_ROUNDS;
        run_byzantine(seed, &plan, engine, true);
    }
}

/// Runs `engine` (built from `plan`) under `seed` until every honest
/// validator reaches [`BYZANTINE_HEIGHT`], checking [`ByzantineCaught`].
fn run_byzantine(seed: u64, plan: &ByzantinePlan, engine: LakhEngine, silent_jailed: bool) {
    let validators: Vec<ed25519::PublicKey> =
        engine.validators.iter().map(|k| k.public_key()).collect();
    let reached = HonestReached {
        height: BYZANTINE_HEIGHT,
        byzantine: engine.byzantine.clone(),
        honest: (plan.validators as usize) - plan.faults.len(),
    };
    let property = ByzantineCaught {
        reached: reached.clone(),
        validators: validators.clone(),
        genesis: engine.genesis.clone(),
        txs: engine.txs.clone(),
        silent_jailed,
    };
    let honest = validators[0].clone();
    // Odd seeds delay and drop messages.
    let link = if seed % 2 == 1 {
        lossy_link()
    } else {
        steady_link()
    };
    let mut builder = PlanBuilder::new(engine).seed(seed).link(link.clone());
    match plan.disruption {
        Disruption::None => {}
        Disruption::Partition => {
            let cut = Link {
                success_rate: probability!(0.0),
                ..steady_link()
            };
            let mut schedule = Schedule::new();
            for other in &validators[1..] {
                for (from, to) in [(&honest, other), (other, &honest)] {
                    schedule = schedule.at(
                        Duration::from_millis(2000),
                        Action::UpdateLink {
                            from: from.clone(),
                            to: to.clone(),
                            link: cut.clone(),
                        },
                    );
                }
            }
            schedule = schedule.at(Duration::from_millis(4000), Action::Heal(link));
            builder = builder.crash(Crash::Schedule(schedule));
        }
        Disruption::Crash => {
            builder = builder.crash(Crash::Schedule(
                Schedule::new()
                    .at(Duration::from_millis(1500), Action::Crash(honest.clone()))
                    .at(Duration::from_millis(4000), Action::Restart(honest)),
            ));
        }
    }
    let started = std::time::Instant::now();
    let results = builder
        .exit_condition(reached)
        .property(property)
        .timeout(Duration::from_secs(300))
        .run()
        .unwrap_or_else(|e| {
            panic!(
                "seed {seed}: {} validators, faults {:?}, {:?}: {e}",
                plan.validators, plan.faults, plan.disruption
            )
        });
    let (crashes, actions) = match plan.disruption {
        Disruption::None => (0, 0),
        Disruption::Partition => (0, 2 * (validators.len() - 1) + 1),
        Disruption::Crash => (1, 2),
    };
    for r in &results {
        assert_eq!(r.crashes, crashes, "seed {seed}");
        assert_eq!(r.scheduled_actions as usize, actions, "seed {seed}");
    }
    eprintln!(
        "seed {seed}: {} validators, faults {:?}, {:?}: {:?}",
        plan.validators,
        plan.faults,
        plan.disruption,
        started.elapsed()
    );
}

/// Deposits of the bridge simulation, as the honest L1 emits them: count,
/// when an up-to-date view sees it finalized (ms).
fn real_deposits() -> Vec<(Duration, L1Deposit)> {
    [(1, 1_000), (2, 1_500), (3, 3_000)]
        .into_iter()
        .map(|(count, at)| {
            (
                Duration::from_millis(at),
                L1Deposit {
                    count,
                    token: ETHER,
                    l1_sender: lakh_types::committee::FixedBytes([0x33; 20]),
                    recipient: Address::from(&account_key(count).public_key()),
                    amount: 1_000 * u128::from(count),
                },
            )
        })
        .collect()
}

/// A deposit no L1 emitted, in the Byzantine validator's view: as the
/// first (raced against the real one) and as the one after the last.
fn invented_deposit(count: u64) -> L1Deposit {
    L1Deposit {
        count,
        token: ETHER,
        l1_sender: lakh_types::committee::FixedBytes([0x66; 20]),
        recipient: Address::from(&account_key(0).public_key()),
        amount: 1 << 100,
    }
}

/// Every validator holds the same blocks up to `height`; together they carry
/// the real deposits once each, in order, never the invented one; and the
/// last block commits to all of them.
#[derive(Clone)]
struct DepositsAgreed {
    height: u64,
}

impl Property<ed25519::PublicKey, State> for DepositsAgreed {
    fn name(&self) -> &str {
        "deposits carried once, in order, and agreed"
    }

    fn check<'a>(
        &'a self,
        _tracker: &'a ProgressTracker<ed25519::PublicKey>,
        states: &'a [&'a State],
    ) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + 'a>> {
        Box::pin(async move {
            agreed_blocks(states, self.height).await?;
            let first = states.first().ok_or("no validator")?;
            let mut carried = Vec::new();
            for h in 1..=self.height {
                carried.extend(first.block(h).await?.header.deposits.clone());
            }
            let real: Vec<L1Deposit> = real_deposits().into_iter().map(|(_, d)| d).collect();
            if carried.contains(&invented_deposit(1)) || carried.contains(&invented_deposit(4)) {
                return Err("a block carrying the invented deposit was finalized".into());
            }
            if carried != real {
                return Err(format!("carried {carried:?}, expected {real:?}"));
            }
            let last = first.block(self.height).await?.header.bridge;
            let mut hash = Keccak::default();
            for d in &real {
                hash = d.chain(&hash);
            }
            if last.deposit_count != 3 || last.deposit_hash != hash || last.chain_id != 99 {
                return Err(format!("last commitment {last:?}"));
            }
            Ok(())
        })
    }
}

#[test]
fn deposits_are_carried_checked_against_each_view_and_agreed() {
    let mut engine = LakhEngine::idle(None);
    engine.genesis.bridge = Some(BridgeGenesis {
        l1_chain_id: 31_337,
        bridge_address: lakh_types::committee::FixedBytes([0xb7; 20]),
        tokens: vec![BridgeToken {
            l1_token: ETHER,
            symbol: Symbol::new("WETH").unwrap(),
            decimals: 18,
        }],
    });
    let real = real_deposits();
    // Validator 3's view lags a second behind (within a verifier's wait);
    // validator 0's view holds deposits no L1 emitted, which it proposes
    // whenever it leads (the fourth from the third real one's finalization
    // to the end of the run).
    let lagging = real
        .iter()
        .map(|(at, d)| (*at + Duration::from_millis(1_000), d.clone()))
        .collect();
    engine.l1 = vec![
        Arc::new(vec![
            (Duration::from_millis(500), invented_deposit(1)),
            (Duration::from_millis(500), invented_deposit(4)),
        ]),
        Arc::new(real.clone()),
        Arc::new(real),
        Arc::new(lagging),
    ];
    PlanBuilder::new(engine)
        .seeds(0..2)
        .link(steady_link())
        .exit_condition(ProcessedHeightAtLeast::new(30))
        .property(DepositsAgreed { height: 30 })
        .timeout(Duration::from_secs(600))
        .run()
        .expect("simulation failed");
}
