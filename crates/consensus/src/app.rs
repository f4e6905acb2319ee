//! The lakh state machine as a commonware-glue stateful application: build a
//! block from the mempool, verify a peer's block by re-executing it, and record
//! receipts when a block is finalized.

use crate::{
    block::{Block, BlockContext, Header},
    evidence::{self, EvidenceContext, EvidenceError},
    l1,
    metrics::Stage,
    participation::{self, ParticipationState, Verifiers},
    prune::StatePruner,
    shared::{BlockReceipts, NodeShared},
};
use commonware_consensus::marshal::ancestry::Ancestry;
use commonware_cryptography::{Digestible, sha256};
use commonware_glue::stateful::{
    Application, Finality, Input, Proposed,
    db::{DatabaseSet, Merkleized as _, Reader, Shared},
};
use commonware_parallel::Sequential;
use commonware_runtime::{Clock, Spawner, Supervisor};
use commonware_storage::{
    Context as StorageContext,
    qmdb::{current::batch::Slot, sync::Target},
};
use commonware_utils::non_empty_range;
use futures::{StreamExt, lock::Mutex as AsyncMutex};
use lakh_archive::{AccountFeed, Indexer};
use lakh_execution::modules::bridge;
use lakh_execution::modules::stake::RewardedRound;
use lakh_execution::{
    BlockEnv, Mode, Offense, Overlay, Participation, block_access_set, execute_block_with,
    hook_roots,
};
use lakh_state::{StateKey, StateValue, db::StateDb};
use lakh_types::limits::{MAX_BLOCK_TX_BYTES, MAX_BLOCK_TXS};
use lakh_types::modules::bridge::{BridgeCommitment, L1Deposit};
use lakh_types::{Receipt, Refusal, committee::Committee};
use std::{
    sync::Arc,
    time::{Instant, UNIX_EPOCH},
};
use tracing::{debug, info, warn};

pub type Db<E> = StateDb<E, Sequential>;
pub type Databases<E> = Shared<Db<E>>;
type Unmerkleized<E> = <Databases<E> as DatabaseSet<E>>::Unmerkleized;
type Merkleized<E> = <Databases<E> as DatabaseSet<E>>::Merkleized;

/// What a block carries besides its transactions, as execution takes it:
/// the signers of its finalizations, the offenses its evidence proves and
/// the L1 deposits it applies.
#[derive(Default)]
struct Carried {
    participation: Vec<Participation>,
    offenses: Vec<Offense>,
    deposits: Vec<L1Deposit>,
}

/// Everything a block's execution needs besides its transactions.
fn block_env(genesis: &lakh_types::Genesis, header: &Header, carried: Carried) -> BlockEnv {
    BlockEnv {
        chain_id: genesis.chain_id,
        height: header.height.get(),
        participation: carried.participation,
        offenses: carried.offenses,
        base_fee: header.base_fee,
        staking: genesis.staking,
        deposits: carried.deposits,
    }
}

/// The state a block's execution starts from: a speculative batch forked
/// from its parent, or the applied database when a finalized block is
/// executed again in `capture` (its parent is then the state applied last).
enum Parent<'a, E>
where
    E: StorageContext + Supervisor + Spawner + Clock,
{
    Batch(&'a Unmerkleized<E>),
    Applied(&'a Db<E>),
}

impl<E> Clone for Parent<'_, E>
where
    E: StorageContext + Supervisor + Spawner + Clock,
{
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Parent<'_, E> where E: StorageContext + Supervisor + Spawner + Clock {}

/// The values of `keys` in `parent`, with the keys' digests.
async fn read_keys<E>(
    parent: Parent<'_, E>,
    keys: &[StateKey],
) -> Result<(Vec<sha256::Digest>, Vec<Option<StateValue>>), String>
where
    E: StorageContext + Supervisor + Spawner + Clock,
{
    let digests: Vec<sha256::Digest> = keys.iter().map(StateKey::digest).collect();
    let refs: Vec<&sha256::Digest> = digests.iter().collect();
    let values = match parent {
        Parent::Batch(batches) => batches.get_many(&refs).await.map_err(|e| e.to_string()),
        Parent::Applied(db) => db.get_many(&refs).await.map_err(|e| e.to_string()),
    }
    .map_err(|e| format!("state read failed: {e}"))?;
    Ok((digests, values))
}

/// The values a block's execution starts from: its access set's, in order,
/// then the genesis allocation for block 1 (no state holds it before).
fn starting_values(
    keys: Vec<StateKey>,
    values: Vec<Option<StateValue>>,
    genesis: Option<&[(StateKey, StateValue)]>,
) -> Vec<(StateKey, Option<StateValue>)> {
    let mut values: Vec<_> = keys.into_iter().zip(values).collect();
    if let Some(genesis) = genesis {
        values.extend(genesis.iter().map(|(k, v)| (k.clone(), Some(v.clone()))));
    }
    values
}

/// A write to a key the staged batch did not read: put (`Some`) or delete.
type Unstaged = (sha256::Digest, Option<StateValue>);

/// What execution changed, as the staged batch takes it: one slot per
/// access-set key (slot i holds the key read at i). Block 1 writes the
/// genesis allocation and its changes as unstaged writes instead, last
/// write winning, since they reach beyond the access set.
fn staged_writes(
    overlay: &Overlay,
    staged_keys: usize,
    genesis: Option<&[(StateKey, StateValue)]>,
) -> (Vec<Slot<StateValue>>, Vec<Unstaged>) {
    let mut slots: Vec<Slot<StateValue>> = (0..staged_keys).map(|_| Slot::Keep).collect();
    let Some(genesis) = genesis else {
        for (slot, value) in overlay.changed_values() {
            slots[slot] = match value {
                Some(v) => Slot::Put(v.clone()),
                None => Slot::Delete,
            };
        }
        return (slots, Vec::new());
    };
    let mut writes: std::collections::BTreeMap<sha256::Digest, Option<StateValue>> = genesis
        .iter()
        .map(|(k, v)| (k.digest(), Some(v.clone())))
        .collect();
    writes.extend(overlay.changes().map(|(k, v)| (k.digest(), v.cloned())));
    (slots, writes.into_iter().collect())
}

pub struct LakhApp<E: StorageContext + Supervisor> {
    pub shared: Arc<NodeShared>,
    pub indexer: Arc<AsyncMutex<Indexer<E>>>,
    /// Each account's transactions, indexed behind the chain.
    pub accounts: Arc<AccountFeed<E>>,
    /// Verifiers of the committees whose finalizations blocks carry.
    pub verifiers: Arc<Verifiers>,
    /// Prunes the state's history behind finalized blocks.
    pub pruner: Arc<StatePruner<E>>,
}

impl<E: StorageContext + Supervisor> Clone for LakhApp<E> {
    fn clone(&self) -> Self {
        LakhApp {
            shared: self.shared.clone(),
            indexer: self.indexer.clone(),
            accounts: self.accounts.clone(),
            verifiers: self.verifiers.clone(),
            pruner: self.pruner.clone(),
        }
    }
}

/// Result of executing a block's transactions on a batch.
struct Executed<E: StorageContext + Supervisor + Spawner> {
    merkleized: Merkleized<E>,
    receipts: Vec<Receipt>,
    used_units: u64,
    /// Build mode: positions of the transactions left out, ascending.
    excluded: Vec<usize>,
    /// Build mode: (sender, nonce) of transactions left out because the
    /// sender cannot pay the fee.
    unpayable: Vec<(lakh_types::Address, u64)>,
    /// The committee elected for the next epoch, on an epoch's last block.
    next_committee: Option<Committee>,
    /// What the end-of-block hooks did (slashes, insurance payouts).
    block_events: Vec<lakh_types::Event>,
    /// Build mode: positions of the offenses no longer punishable, ascending.
    excluded_offenses: Vec<usize>,
    /// Build mode: positions of the deposits execution left out, ascending.
    excluded_deposits: Vec<usize>,
    /// What the header commits to about the bridge.
    bridge: BridgeCommitment,
}

impl<E> LakhApp<E>
where
    E: StorageContext + Supervisor + Spawner + Clock,
{
    fn base_fee_after(&self, parent: &Block) -> u128 {
        parent.next_base_fee(&self.shared.genesis.fees)
    }

    /// What paying the finalizations a block of `epoch` carries needs from
    /// state ([`participation`]).
    async fn participation_state(
        parent: Parent<'_, E>,
        epoch: u64,
    ) -> Result<ParticipationState, String> {
        let (_, values) = read_keys(parent, &participation::state_keys(epoch)).await?;
        ParticipationState::from_values(epoch, &values)
    }

    /// The keys executing `txs` may touch, read through `parent`: the cover
    /// hook's keys follow from the parametric product slots, the withdrawal
    /// tree's from its count, so those are read first.
    async fn access_set(
        &self,
        env: &BlockEnv,
        txs: &[lakh_types::SignedTransaction],
        parent: Parent<'_, E>,
    ) -> Result<Vec<StateKey>, String> {
        let (_, hooks) = read_keys(parent, &hook_roots()).await?;
        Ok(block_access_set(env, txs, &hooks))
    }

    /// The genesis allocation when `height` is 1.
    fn genesis_at(&self, height: u64) -> Option<&[(StateKey, StateValue)]> {
        (height == 1).then_some(&self.shared.genesis_state[..])
    }

    /// Reads the block's access set from `batches`, executes, writes the
    /// changes and merkleizes. The reads are staged: each key's location is
    /// kept, so merkleize does not look the written keys up again.
    async fn execute(
        &self,
        header: &Header,
        txs: &[lakh_types::SignedTransaction],
        batches: Unmerkleized<E>,
        mode: Mode,
        carried: Carried,
    ) -> Result<Executed<E>, String> {
        let started = Instant::now();
        let env = block_env(&self.shared.genesis, header, carried);
        let keys = self.access_set(&env, txs, Parent::Batch(&batches)).await?;
        let digests: Vec<sha256::Digest> = keys.iter().map(StateKey::digest).collect();
        let refs: Vec<&sha256::Digest> = digests.iter().collect();
        let (values, staged) = batches
            .stage(&refs)
            .await
            .map_err(|e| format!("state read failed: {e}"))?;
        let genesis = self.genesis_at(header.height.get());
        let read = started.elapsed();
        let mut overlay = Overlay::new(starting_values(keys, values, genesis));
        let outcome = execute_block_with(&self.shared.executor, &env, txs, &mut overlay, mode)
            .map_err(|e| format!("invalid block: {e:?}"))?;
        let (slots, unstaged) = staged_writes(&overlay, digests.len(), genesis);
        let executed = started.elapsed();
        let merkleized = staged
            .merkleize(slots, unstaged)
            .await
            .map_err(|e| format!("merkleize failed: {e}"))?;
        let metrics = &self.shared.metrics;
        metrics.time(Stage::Read, read);
        metrics.time(Stage::Execute, executed - read);
        metrics.time(Stage::Merkleize, started.elapsed() - executed);
        debug!(
            height = header.height.get(),
            txs = txs.len(),
            ?mode,
            read_ms = read.as_millis() as u64,
            execute_ms = (executed - read).as_millis() as u64,
            merkleize_ms = (started.elapsed() - executed).as_millis() as u64,
            "executed block"
        );
        let unpayable = outcome
            .excluded
            .iter()
            .filter(|(_, reason)| matches!(reason, Refusal::CannotPayFee { .. }))
            .map(|(i, _)| (txs[*i].tx.sender_address(), txs[*i].tx.nonce))
            .collect();
        Ok(Executed {
            merkleized,
            receipts: outcome.receipts,
            used_units: outcome.used_units,
            excluded: outcome.excluded.iter().map(|(i, _)| *i).collect(),
            unpayable,
            next_committee: outcome.next_committee,
            block_events: outcome.block_events,
            excluded_offenses: outcome
                .excluded_offenses
                .iter()
                .map(|(i, reason)| {
                    debug!(index = i, %reason, "evidence no longer punishable");
                    *i
                })
                .collect(),
            excluded_deposits: outcome
                .excluded_deposits
                .iter()
                .map(|(i, reason)| {
                    warn!(index = i, %reason, "L1 deposit left out of the block");
                    *i
                })
                .collect(),
            bridge: outcome.bridge,
        })
    }

    /// A proposer's choice of finalizations and evidence to carry, put in
    /// `header`, with their signers and the offenses the evidence proves.
    /// Pool evidence that proves nothing any more (its epoch's committee
    /// gone from state) is forgotten; evidence of a later round waits.
    async fn carry(
        &self,
        header: &mut Header,
        batches: &Unmerkleized<E>,
    ) -> Result<Carried, String> {
        let round = header.context.round;
        let epoch = round.epoch().get();
        let state = Self::participation_state(Parent::Batch(batches), epoch).await?;
        let now = RewardedRound {
            epoch,
            view: round.view().get(),
        };
        header.finalizations = self
            .shared
            .finalizations
            .to_carry(&state, now, &self.verifiers);
        let participation = state.resolve(&header.finalizations)?;
        let ctx = EvidenceContext {
            committees: &state.committees,
            block_epoch: now.epoch,
            block_view: now.view,
            verifiers: &self.verifiers,
        };
        let mut offenses = Vec::new();
        let mut stale = Vec::new();
        for piece in self.shared.evidence.pending() {
            match evidence::check(&piece, &ctx) {
                Ok(offense) => {
                    offenses.push(offense);
                    header.evidence.push(piece);
                }
                Err(EvidenceError::FutureRound { .. }) => {}
                Err(e) => {
                    debug!(key = ?piece.key(), error = %e, "evidence dropped from the pool");
                    stale.push(piece.key());
                }
            }
        }
        self.shared.evidence.forget(stale);
        // The next L1 deposits this node's view has seen finalized.
        let (_, values) = read_keys(Parent::Batch(batches), &[bridge::deposits_key()]).await?;
        let applied = match values.into_iter().next().flatten() {
            Some(StateValue::Object(bytes)) => {
                <bridge::DepositState as commonware_codec::Decode>::decode_cfg(bytes, &())
                    .map_err(|e| format!("bridge deposit state does not decode: {e}"))?
                    .count
            }
            _ => 0,
        };
        header.deposits = l1::to_carry(self.shared.l1_view.as_ref(), applied);
        Ok(Carried {
            participation,
            offenses,
            deposits: header.deposits.clone(),
        })
    }

    /// The signers of the finalizations a peer's block carries and the
    /// offenses its evidence proves, after a voter's checks of them (a
    /// finalized block's finalizations were checked by its voters; its
    /// evidence is checked again, to name the offenders).
    async fn carried(
        &self,
        header: &Header,
        parent: Parent<'_, E>,
        finality: Finality,
    ) -> Result<Carried, String> {
        let round = header.context.round;
        let epoch = round.epoch().get();
        let state = Self::participation_state(parent, epoch).await?;
        if finality == Finality::Candidate {
            state.check(&header.finalizations, &self.verifiers)?;
        }
        let participation = state.resolve(&header.finalizations)?;
        let ctx = EvidenceContext {
            committees: &state.committees,
            block_epoch: epoch,
            block_view: round.view().get(),
            verifiers: &self.verifiers,
        };
        let offenses = evidence::check_all(&header.evidence, &ctx)
            .map_err(|(index, e)| format!("evidence {index} refused: {e}"))?;
        Ok(Carried {
            participation,
            offenses,
            deposits: header.deposits.clone(),
        })
    }

    fn now_ms(context: &E) -> u64 {
        context
            .current()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    /// Stateless checks of a peer's block against its parent.
    fn check_header(&self, block: &Block, parent: &Block) -> Result<(), String> {
        let h = &block.header;
        if h.height != parent.header.height.next() {
            return Err(format!(
                "height {} does not follow parent {}",
                h.height.get(),
                parent.header.height.get()
            ));
        }
        if h.base_fee != self.base_fee_after(parent) {
            return Err(format!(
                "base fee {} differs from the rule's {}",
                h.base_fee,
                self.base_fee_after(parent)
            ));
        }
        if h.first_tx_seq != parent.header.first_tx_seq + parent.txs.len() as u64 {
            return Err("first_tx_seq does not follow the parent".into());
        }
        if h.timestamp_ms < parent.header.timestamp_ms {
            return Err("timestamp goes backwards".into());
        }
        let staking = &self.shared.genesis.staking;
        if h.context.round.epoch().get() != staking.epoch_of(h.height.get()) {
            return Err(format!(
                "height {} is in epoch {}, not the proposal's epoch {}",
                h.height.get(),
                staking.epoch_of(h.height.get()),
                h.context.round.epoch().get()
            ));
        }
        if block.txs.len() > self.shared.genesis.block.max_txs {
            return Err("too many transactions".into());
        }
        let bytes: usize = block.txs.iter().map(|t| t.encoded_len()).sum();
        if bytes > self.shared.genesis.block.max_bytes {
            return Err("too many transaction bytes".into());
        }
        let bad = self.shared.pool.verify_block_signatures(&block.txs);
        if !bad.is_empty() {
            return Err(format!(
                "{} transactions with bad signatures or shielded proofs",
                bad.len()
            ));
        }
        Ok(())
    }

    /// The receipts of finalized `block`, by executing it again on its
    /// parent's state: the state applied last, which `parent` reads during
    /// `capture`. Needed when [`crate::pending_receipts`] forgot them.
    async fn replay(&self, block: &Block, parent: &Reader<Db<E>>) -> Result<BlockReceipts, String> {
        let started = Instant::now();
        let db = parent.read().await;
        let parent = Parent::Applied(&*db);
        let carried = self
            .carried(&block.header, parent, Finality::Finalized)
            .await?;
        let env = block_env(&self.shared.genesis, &block.header, carried);
        let keys = self.access_set(&env, &block.txs, parent).await?;
        let (_, values) = read_keys(parent, &keys).await?;
        drop(db);
        let genesis = self.genesis_at(block.height_u64());
        let mut overlay = Overlay::new(starting_values(keys, values, genesis));
        let outcome = execute_block_with(
            &self.shared.executor,
            &env,
            &block.txs,
            &mut overlay,
            Mode::Verify,
        )
        .map_err(|e| format!("invalid block: {e:?}"))?;
        self.shared.metrics.receipts_replayed.inc();
        info!(
            height = block.height_u64(),
            ms = started.elapsed().as_millis() as u64,
            "executed a finalized block again for its dropped receipts"
        );
        Ok(BlockReceipts::new(outcome.receipts, outcome.block_events))
    }
}

impl<E> Application<E> for LakhApp<E>
where
    E: StorageContext + Supervisor + Spawner + Clock,
{
    type SigningScheme = crate::block::Scheme;
    type Context = BlockContext;
    type Block = Block;
    type Databases = Databases<E>;
    type Captured = BlockReceipts;
    type Provider = ();
    type Input = ();

    fn sync_targets(block: &Block) -> <Self::Databases as DatabaseSet<E>>::SyncTargets {
        Target::new(block.header.ops_root, block.header.ops_range.clone())
    }

    async fn genesis(&mut self) -> Block {
        self.shared.genesis_block.clone()
    }

    async fn propose(
        &mut self,
        context: (E, BlockContext),
        ancestry: impl Ancestry<Block>,
        batches: Unmerkleized<E>,
        _input: Input<(), ()>,
    ) -> Option<Proposed<Self, E>> {
        let mut ancestry = Box::pin(ancestry);
        let parent = ancestry.next().await?;
        let parent: &Block = parent.inner();
        let base_fee = self.base_fee_after(parent);
        let limits = &self.shared.genesis.block;
        let started = Instant::now();
        let candidates = self.shared.pool.select_for(
            &parent.digest(),
            limits.max_txs.min(MAX_BLOCK_TXS),
            limits.max_bytes.min(MAX_BLOCK_TX_BYTES),
            base_fee,
        );
        let mut header = Header {
            context: context.1.clone(),
            parent: parent.digest(),
            height: parent.header.height.next(),
            timestamp_ms: Self::now_ms(&context.0).max(parent.header.timestamp_ms),
            base_fee,
            used_units: 0,
            first_tx_seq: parent.header.first_tx_seq + parent.txs.len() as u64,
            state_root: sha256::Digest::from([0u8; 32]),
            ops_root: sha256::Digest::from([0u8; 32]),
            ops_range: parent.header.ops_range.clone(),
            bridge: BridgeCommitment::empty(self.shared.genesis.chain_id),
            next_committee: None,
            finalizations: Vec::new(),
            evidence: Vec::new(),
            deposits: Vec::new(),
        };
        let carried = match self.carry(&mut header, &batches).await {
            Ok(c) => c,
            Err(e) => {
                warn!(error = %e, "failed to read what finalizations and evidence to carry");
                return None;
            }
        };
        let executed = match self
            .execute(&header, &candidates, batches, Mode::Build, carried)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                warn!(error = %e, "failed to build a block");
                return None;
            }
        };
        self.shared.pool.drop_unpayable(&executed.unpayable);
        if !executed.excluded_offenses.is_empty() {
            let mut excluded = executed.excluded_offenses.iter().peekable();
            let mut kept = Vec::with_capacity(header.evidence.len());
            let mut spent = Vec::new();
            for (i, piece) in std::mem::take(&mut header.evidence).into_iter().enumerate() {
                if excluded.next_if(|&&e| e == i).is_some() {
                    spent.push(piece.key());
                } else {
                    kept.push(piece);
                }
            }
            header.evidence = kept;
            self.shared.evidence.forget(spent);
        }
        if !executed.excluded_deposits.is_empty() {
            let mut excluded = executed.excluded_deposits.iter().peekable();
            header.deposits = std::mem::take(&mut header.deposits)
                .into_iter()
                .enumerate()
                .filter_map(|(i, d)| excluded.next_if(|&&e| e == i).is_none().then_some(d))
                .collect();
        }
        header.bridge = executed.bridge.clone();
        let merkleized = executed.merkleized;
        let bounds = merkleized.bounds();
        header.used_units = executed.used_units;
        header.next_committee = executed.next_committee.clone();
        header.state_root = merkleized.root();
        header.ops_root = merkleized.ops_root();
        header.ops_range = non_empty_range!(merkleized.sync_boundary(), bounds.tip.size);
        let kept = if executed.excluded.is_empty() {
            candidates
        } else {
            let mut excluded = executed.excluded.iter().peekable();
            let mut kept = Vec::with_capacity(candidates.len() - executed.excluded.len());
            for (i, tx) in candidates.into_iter().enumerate() {
                if excluded.next_if(|&&e| e == i).is_none() {
                    kept.push(tx);
                }
            }
            kept
        };
        let block = Block::new(header, kept);
        debug!(
            height = block.height_u64(),
            txs = block.txs.len(),
            build_ms = started.elapsed().as_millis() as u64,
            "proposed block"
        );
        self.shared.metrics.time(Stage::Build, started.elapsed());
        self.shared.metrics.saw_height(block.height_u64());
        self.shared
            .cache_receipts(&block, executed.receipts, executed.block_events);
        Some(Proposed { block, merkleized })
    }

    async fn process(
        &mut self,
        context: (E, BlockContext),
        mut ancestry: impl Ancestry<Block>,
        batches: Unmerkleized<E>,
        finality: Finality,
    ) -> Option<Merkleized<E>> {
        let started = Instant::now();
        let block = ancestry.next().await?;
        let block: Block = block.inner().clone();
        if finality == Finality::Candidate {
            let parent = ancestry.next().await?;
            if let Err(e) = self.check_header(&block, parent.inner()) {
                warn!(height = block.height_u64(), error = %e, "rejected block");
                return None;
            }
            // A finalized block's deposits were checked by its voters.
            let view = self.shared.l1_view.as_ref();
            if let Err(e) =
                l1::check_carried(&context.0, view, &block.header.deposits, l1::DEPOSIT_WAIT).await
            {
                warn!(height = block.height_u64(), error = %e, "rejected block");
                return None;
            }
        }
        let carried = match self
            .carried(&block.header, Parent::Batch(&batches), finality)
            .await
        {
            Ok(c) => c,
            Err(e) => {
                warn!(height = block.height_u64(), error = %e, "rejected block");
                return None;
            }
        };
        let executed = match self
            .execute(&block.header, &block.txs, batches, Mode::Verify, carried)
            .await
        {
            Ok(e) => e,
            Err(e) => {
                warn!(height = block.height_u64(), error = %e, "rejected block");
                return None;
            }
        };
        let m = &executed.merkleized;
        if m.root() != block.header.state_root
            || m.ops_root() != block.header.ops_root
            || executed.used_units != block.header.used_units
            || executed.next_committee != block.header.next_committee
            || executed.bridge != block.header.bridge
        {
            warn!(
                height = block.height_u64(),
                "rejected block: its state root, used units, elected committee or bridge commitment differ from execution's"
            );
            return None;
        }
        self.shared.metrics.time(Stage::Verify, started.elapsed());
        self.shared.metrics.saw_height(block.height_u64());
        self.shared
            .cache_receipts(&block, executed.receipts, executed.block_events);
        Some(executed.merkleized)
    }

    async fn capture(
        &mut self,
        _context: (E, BlockContext),
        block: &Block,
        _batches: &Merkleized<E>,
        readers: Reader<Db<E>>,
    ) -> BlockReceipts {
        // Receipts are made durable before the block's state is applied, so a
        // crash can never leave applied state without its receipts.
        let started = Instant::now();
        let cached = match self.shared.receipts_of(&block.digest()) {
            Some(cached) => cached,
            None => self.replay(block, &readers).await.unwrap_or_else(|e| {
                panic!(
                    "receipts of finalized block {} were dropped and executing it again failed: {e}",
                    block.height_u64()
                )
            }),
        };
        let room = {
            let mut indexer = self.indexer.lock().await;
            // Usually recorded already, as soon as the block was finalized
            // (crate::record_ahead).
            if !indexer.reveal(block.height_u64()) {
                indexer
                    .record(
                        block.height_u64(),
                        block.digest(),
                        block.header.first_tx_seq,
                        &cached.receipts,
                        &cached.block_events,
                    )
                    .await;
            }
            // Queued under the index's lock: a reader that found one of the
            // block's transactions finds it in its accounts' histories too.
            self.accounts
                .push(block.header.first_tx_seq, cached.receipts.clone())
        };
        if !room {
            drop(self.accounts.catch_up().await);
        }
        debug!(
            height = block.height_u64(),
            record_ms = started.elapsed().as_millis() as u64,
            "recorded receipts"
        );
        self.shared.metrics.recorded(block.height_u64(), started);
        cached
    }

    async fn finalized(
        &mut self,
        context: (E, BlockContext),
        block: &Block,
        receipts: BlockReceipts,
        readers: Reader<Db<E>>,
    ) {
        let _ = readers;
        self.shared.metrics.committed(block.height_u64());
        self.pruner
            .finalized(&context.0, block.height_u64(), Self::sync_targets(block));
        if !block.header.evidence.is_empty() {
            info!(
                height = block.height_u64(),
                pieces = block.header.evidence.len(),
                "finalized a block carrying evidence"
            );
            self.shared
                .evidence
                .forget(block.header.evidence.iter().map(|e| e.key()).collect());
        }
        let started = Instant::now();
        let included = self.shared.on_finalized(block, &receipts);
        // Dropping the included transactions from the mempool is not needed
        // for the next proposal (selection starts at the committed nonces
        // just recorded), so it runs beside the actor, not in its loop.
        if !included.is_empty() {
            let shared = self.shared.clone();
            context.0.child("mempool_prune").spawn(move |_| async move {
                shared.pool.prune(included);
            });
        }
        debug!(
            height = block.height_u64(),
            ms = started.elapsed().as_millis() as u64,
            "released finalized transactions"
        );
        if block.height_u64().is_multiple_of(100) || !block.txs.is_empty() {
            info!(
                height = block.height_u64(),
                txs = block.txs.len(),
                "finalized"
            );
        }
    }
}
