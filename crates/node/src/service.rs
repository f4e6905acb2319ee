//! The node's side of the RPC: ingest (decode → stateless checks → batch
//! signature verification → mempool), queries of blocks, receipts and state,
//! inclusion proofs, and finalized-block notifications.

use bytes::Bytes;
use commonware_codec::Encode;
use commonware_consensus::{marshal::Identifier, types::Height};
use commonware_cryptography::{Digestible, sha256};
use commonware_runtime::Supervisor;
use commonware_storage::Context as StorageContext;
use futures::StreamExt;
use lakh_consensus::{
    app::Databases,
    block::hash32,
    engine::{EngineHandles, Marshal},
    shared::NodeShared,
};
use lakh_mempool::{Ingested, NonceSource};
use lakh_rpc::{
    api::NodeApi,
    finality::encode_finalization,
    types::{
        AccountInfo, AccountProof, AccountTxInfo, AccountTxsPage, AssetInfoJson, AssetRef,
        BalanceInfo, BlockId, BlockInfo, FinalityInfo, Hash32, HeadInfo, ProvenEntry, TxStatusInfo,
    },
};
use lakh_state::{StateKey, StateValue};
use lakh_types::{Address, AssetId, Refusal, TxId};
use std::{sync::Arc, time::Duration};
use tokio::sync::broadcast;

/// Renders the process's metrics registry as Prometheus text.
pub type EncodeMetrics = Box<dyn Fn() -> String + Send + Sync>;

pub struct NodeService<E: StorageContext + Supervisor + commonware_runtime::Spawner> {
    shared: Arc<NodeShared>,
    handles: EngineHandles<E>,
    gossip: std::sync::OnceLock<futures::channel::mpsc::Sender<Vec<Bytes>>>,
    encode_metrics: std::sync::OnceLock<EncodeMetrics>,
    /// One permit per module query running on its own thread.
    query_threads: tokio::sync::Semaphore,
}

impl<E: StorageContext + Supervisor + commonware_runtime::Spawner> NodeService<E> {
    pub fn new(shared: Arc<NodeShared>, handles: EngineHandles<E>) -> Arc<Self> {
        Arc::new(NodeService {
            shared,
            handles,
            gossip: std::sync::OnceLock::new(),
            encode_metrics: std::sync::OnceLock::new(),
            query_threads: tokio::sync::Semaphore::new(MAX_QUERY_THREADS),
        })
    }

    /// True once the state database is open and a block has finalized (the
    /// node can answer every query).
    pub fn is_live(&self) -> bool {
        self.handles.databases.get().is_some() && self.shared.head().is_some()
    }

    pub fn set_gossip(&self, tx: futures::channel::mpsc::Sender<Vec<Bytes>>) {
        let _ = self.gossip.set(tx);
    }

    /// Serves `GET /metrics` from `encode` (the registry the chain's metrics
    /// are registered in).
    pub fn set_metrics(&self, encode: EncodeMetrics) {
        let _ = self.encode_metrics.set(encode);
    }

    /// Decodes, checks, verifies and queues a batch; with `forward`, accepted
    /// transactions are gossiped to the other validators.
    pub async fn ingest(&self, raw: Vec<Bytes>, forward: bool) -> Vec<Result<TxId, Refusal>> {
        let Ingested { verdicts, accepted } = self.shared.pool.ingest(raw, self).await;
        for refusal in verdicts.iter().filter_map(|v| v.as_ref().err()) {
            self.shared.metrics.refused(refusal.code());
        }
        if forward
            && !accepted.is_empty()
            && let Some(g) = self.gossip.get()
        {
            let _ = g.clone().try_send(accepted);
        }
        verdicts
    }

    fn marshal(&self) -> &Marshal {
        &self.handles.marshal
    }

    fn databases(&self) -> Result<&Databases<E>, String> {
        self.handles
            .databases
            .get()
            .ok_or_else(|| "state is not open yet: the node is starting".to_string())
    }

    async fn read_values(&self, keys: &[StateKey]) -> Result<Vec<Option<StateValue>>, String> {
        let dbs = self.databases()?;
        let digests: Vec<_> = keys.iter().map(StateKey::digest).collect();
        let refs: Vec<_> = digests.iter().collect();
        // One batched read: the database lock is held for one pass over the
        // log, not one per key, and finalization needs that lock to apply.
        let db = dbs.read().await;
        db.get_many(&refs)
            .await
            .map_err(|e| format!("state read failed: {e}"))
    }
}

/// Ingest reads unknown senders' committed nonces from the node's state.
impl<E> NonceSource for NodeService<E>
where
    E: StorageContext + Supervisor + commonware_runtime::Spawner,
{
    async fn next_nonces(&self, senders: &[Address]) -> Result<Vec<u64>, String> {
        let keys: Vec<StateKey> = senders.iter().map(|a| StateKey::Account(*a)).collect();
        Ok(self
            .read_values(&keys)
            .await?
            .into_iter()
            .map(|v| match v {
                Some(StateValue::Account(a)) => a.nonce,
                _ => 0,
            })
            .collect())
    }
}

impl<E> NodeApi for NodeService<E>
where
    E: StorageContext + Supervisor + commonware_runtime::Spawner,
{
    fn chain_id(&self) -> u64 {
        self.shared.chain_id()
    }

    async fn submit(&self, raw: Vec<Bytes>) -> Vec<Result<TxId, Refusal>> {
        self.ingest(raw, true).await
    }

    async fn tx_status(&self, id: TxId) -> TxStatusInfo {
        let record = match self.handles.indexer() {
            Some(indexer) => indexer.lock().await.tx(&id).await,
            None => None,
        };
        if let Some(record) = record {
            return TxStatusInfo::Finalized {
                receipt: record.receipt,
                block_hash: hash32(&record.block),
            };
        }
        if self.shared.pool.contains(&id) {
            TxStatusInfo::Pending
        } else {
            TxStatusInfo::Unknown
        }
    }

    async fn account_txs(
        &self,
        addr: Address,
        before: Option<u64>,
        limit: u32,
    ) -> Result<AccountTxsPage, String> {
        let stopping = "the node is stopping";
        let accounts = self.handles.accounts().ok_or(stopping)?;
        let seqs = accounts
            .catch_up()
            .await
            .page(&addr, before, limit as usize)
            .await;
        let indexer = self.handles.indexer().ok_or(stopping)?;
        let page = indexer
            .lock()
            .await
            .account_page(seqs)
            .await
            .ok_or("the account index is unreadable")?;
        let transactions = page
            .txs
            .into_iter()
            .map(|(ordinal, record)| AccountTxInfo {
                ordinal,
                block_hash: hash32(&record.block),
                receipt: record.receipt,
            })
            .collect();
        Ok(AccountTxsPage {
            address: addr,
            total: page.total,
            transactions,
            next_cursor: page.next_before,
            older_pruned: page.older_pruned,
        })
    }

    fn metrics(&self) -> Option<String> {
        let encode = self.encode_metrics.get()?;
        let (txs, bytes) = self.shared.pool.size();
        self.shared.metrics.mempool(txs, bytes);
        Some(encode())
    }

    async fn account(&self, addr: Address, prove: bool) -> Result<AccountInfo, String> {
        let assets: Vec<(AssetId, String)> = self.handles.assets.list();
        let mut keys = vec![StateKey::Account(addr)];
        keys.extend(
            assets
                .iter()
                .filter(|(a, _)| *a != AssetId::NATIVE)
                .map(|(a, _)| StateKey::Balance(addr, *a)),
        );
        // The state must be that of the head block, so the proof verifies
        // against a finalized header; retry across the short window between
        // applying a block and publishing it as head.
        for _ in 0..50 {
            let dbs = self.databases()?;
            let head = self.shared.head().ok_or("no finalized block yet")?;
            let db = dbs.read().await;
            if db.root() != head.header.state_root {
                drop(db);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let mut nonce = 0;
            let mut balances = Vec::new();
            let mut entries = Vec::new();
            for key in &keys {
                let digest = key.digest();
                let value = db
                    .get(&digest)
                    .await
                    .map_err(|e| format!("state read failed: {e}"))?;
                match (&value, key) {
                    (Some(StateValue::Account(a)), _) => {
                        nonce = a.nonce;
                        balances.push(BalanceInfo {
                            asset: AssetId::NATIVE,
                            symbol: self.shared.genesis.native_symbol.to_string(),
                            amount: a.native_balance,
                        });
                    }
                    (Some(StateValue::Balance(amount)), StateKey::Balance(_, asset)) => {
                        let symbol = assets
                            .iter()
                            .find(|(a, _)| a == asset)
                            .map(|(_, s)| s.clone())
                            .unwrap_or_default();
                        balances.push(BalanceInfo {
                            asset: *asset,
                            symbol,
                            amount: *amount,
                        });
                    }
                    (None, StateKey::Account(_)) => balances.push(BalanceInfo {
                        asset: AssetId::NATIVE,
                        symbol: self.shared.genesis.native_symbol.to_string(),
                        amount: 0,
                    }),
                    _ => {}
                }
                if prove && let Some(value) = value {
                    let proof = db
                        .key_value_proof(digest)
                        .await
                        .map_err(|e| format!("proof generation failed: {e}"))?;
                    entries.push(ProvenEntry {
                        key: key.clone(),
                        value_hex: hex::encode(value.encode()),
                        proof_hex: hex::encode(proof.encode()),
                    });
                }
            }
            let proof = prove.then(|| AccountProof {
                height: head.height_u64(),
                state_root: hash32(&head.header.state_root),
                entries,
            });
            let pending_nonce = self.shared.pool.pending_nonce(&addr);
            return Ok(AccountInfo {
                address: addr,
                nonce,
                pending_nonce,
                balances,
                proof,
            });
        }
        Err("state is advancing too fast to read a consistent snapshot; retry".into())
    }

    async fn block(&self, id: BlockId) -> Option<BlockInfo> {
        let block = match id {
            BlockId::Height(h) => {
                self.marshal()
                    .get_block(Identifier::Height(Height::new(h)))
                    .await?
            }
            BlockId::Hash(bytes) => {
                let d = sha256::Digest::from(bytes);
                self.marshal().get_block(Identifier::Digest(d)).await?
            }
        };
        let mut info = block.inner().info();
        if let Some(indexer) = self.handles.indexer()
            && let Some(record) = indexer.lock().await.block(info.header.height).await
        {
            info.block_events = record.block_events;
        }
        Some(info)
    }

    async fn finality(&self, height: u64) -> Option<FinalityInfo> {
        let finalization = self.marshal().get_finalization(Height::new(height)).await?;
        let block = self
            .marshal()
            .get_block(Identifier::Digest(finalization.proposal.payload))
            .await?;
        let round = finalization.proposal.round;
        Some(FinalityInfo {
            height,
            block_hash: hash32(&finalization.proposal.payload),
            epoch: round.epoch().get(),
            view: round.view().get(),
            signers: finalization
                .certificate
                .signers
                .iter()
                .map(|p| p.get())
                .collect(),
            finalization: encode_finalization(&finalization),
            header: hex::encode(block.inner().header.encode()),
            tx_root: hash32(&block.inner().tx_root()),
        })
    }

    async fn head(&self) -> HeadInfo {
        let head = self.shared.head();
        let (height, hash, state_root, base_fee, ts) = match &head {
            Some(b) => (
                b.height_u64(),
                hash32(&b.digest()),
                hash32(&b.header.state_root),
                b.next_base_fee(&self.shared.genesis.fees),
                b.header.timestamp_ms,
            ),
            None => (
                0,
                hash32(&self.shared.genesis_digest()),
                Hash32::default(),
                self.shared.genesis.fees.initial_base_fee,
                0,
            ),
        };
        HeadInfo {
            chain_id: self.shared.chain_id(),
            height,
            hash,
            state_root,
            base_fee,
            timestamp_ms: ts,
        }
    }

    async fn asset(&self, id: AssetRef) -> Option<AssetInfoJson> {
        let asset_id = match id {
            AssetRef::Id(a) => a,
            AssetRef::Symbol(s) => {
                if s == self.shared.genesis.native_symbol {
                    AssetId::NATIVE
                } else {
                    match self
                        .read_values(&[StateKey::Symbol(s)])
                        .await
                        .ok()?
                        .pop()??
                    {
                        StateValue::Symbol(a) => a,
                        _ => return None,
                    }
                }
            }
        };
        match self
            .read_values(&[StateKey::Asset(asset_id)])
            .await
            .ok()?
            .pop()??
        {
            StateValue::Asset(info) => Some(AssetInfoJson {
                id: asset_id,
                symbol: info.symbol,
                decimals: info.decimals,
                // The native token has no issuer; its record names the zero address.
                issuer: (asset_id != AssetId::NATIVE).then_some(info.issuer),
                max_supply: info.max_supply,
                supply: info.supply,
            }),
            _ => None,
        }
    }

    async fn query(
        &self,
        module: String,
        method: String,
        params: serde_json::Value,
    ) -> Result<serde_json::Value, lakh_rpc::QueryFailure> {
        use lakh_rpc::QueryFailureCode as Code;
        let failure = |code: Code, message: String| lakh_rpc::QueryFailure { code, message };
        // More queries than threads wait here, as tasks, for a thread.
        let _thread = self
            .query_threads
            .acquire()
            .await
            .map_err(|_| failure(Code::Unavailable, "the node is stopping".into()))?;
        let height = self.head().await.height;
        let dbs = self
            .databases()
            .map_err(|e| failure(Code::Unavailable, e))?;
        // One read lock for the whole query: every key comes from the same state.
        let db = dbs.read().await;
        let QueryThread {
            mut wanted,
            values,
            answer,
        } = QueryThread::start(module, method, params, height)
            .map_err(|e| failure(Code::Unavailable, format!("no thread for the query: {e}")))?;
        let mut read_failure = None;
        while let Some(key) = wanted.next().await {
            let value = db.get(&key.digest()).await.map_err(|e| {
                let why = format!("state read failed: {e}");
                read_failure = Some(why.clone());
                why
            });
            if values.send(value).is_err() {
                break;
            }
        }
        let answer = answer
            .await
            .map_err(|_| failure(Code::Unavailable, "the query thread stopped".into()))?;
        if let Some(why) = read_failure {
            return Err(failure(Code::Unavailable, why));
        }
        answer.map_err(|e| match e {
            lakh_execution::modules::QueryError::BadRequest(m) => failure(Code::BadRequest, m),
            lakh_execution::modules::QueryError::NotFound(m) => failure(Code::NotFound, m),
            lakh_execution::modules::QueryError::Corrupt(m) => failure(Code::Corrupt, m),
        })
    }

    fn subscribe_finalized(&self) -> broadcast::Receiver<BlockInfo> {
        self.shared.subscribe()
    }
}

/// A module query running once on its own thread, blocking on each state
/// entry it needs while the node's task reads it: linear in the entries
/// read, and no async task blocked.
struct QueryThread {
    /// The keys the query wants, one at a time.
    wanted: futures::channel::mpsc::UnboundedReceiver<StateKey>,
    /// Where each wanted key's value (or why it could not be read) goes.
    values: std::sync::mpsc::SyncSender<Result<Option<StateValue>, String>>,
    answer: futures::channel::oneshot::Receiver<
        Result<serde_json::Value, lakh_execution::modules::QueryError>,
    >,
}

impl QueryThread {
    fn start(
        module: String,
        method: String,
        params: serde_json::Value,
        height: u64,
    ) -> std::io::Result<QueryThread> {
        let (keys, wanted) = futures::channel::mpsc::unbounded();
        let (values, fetched) = std::sync::mpsc::sync_channel(1);
        let (answer_tx, answer) = futures::channel::oneshot::channel();
        let abandoned = || "the query was abandoned".to_string();
        std::thread::Builder::new()
            .name("lakh-query".into())
            .spawn(move || {
                let read = |key: &StateKey| {
                    keys.unbounded_send(key.clone()).map_err(|_| abandoned())?;
                    fetched.recv().map_err(|_| abandoned())?
                };
                let answer = lakh_execution::modules::run_query(
                    &module,
                    &method,
                    &params,
                    height,
                    MAX_QUERY_READS,
                    read,
                );
                let _ = answer_tx.send(answer);
            })?;
        Ok(QueryThread {
            wanted,
            values,
            answer,
        })
    }
}

/// Most module queries running at once (each on its own thread).
pub const MAX_QUERY_THREADS: usize = 16;

/// Most state entries one module query may read.
pub const MAX_QUERY_READS: usize = 4096;
