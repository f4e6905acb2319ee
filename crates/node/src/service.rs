//! The node's side of the RPC: ingest (decode → stateless checks → batch
//! signature verification → mempool), queries of blocks, receipts and state,
//! inclusion proofs, and finalized-block notifications.

use crate::{
    app::Databases,
    block::Block,
    engine::{EngineHandles, Marshal},
    shared::NodeShared,
};
use bytes::Bytes;
use commonware_codec::Encode;
use commonware_consensus::{marshal::Identifier, types::Height};
use commonware_cryptography::{Digestible, sha256};
use commonware_runtime::Supervisor;
use commonware_storage::Context as StorageContext;
use lakh_mempool::{FeeFloor, Verifier};
use lakh_rpc::{
    api::NodeApi,
    types::{
        AccountInfo, AccountProof, AssetInfoJson, AssetRef, BalanceInfo, BlockHeaderInfo, BlockId,
        BlockInfo, Hash32, HeadInfo, ProvenEntry, TxStatusInfo,
    },
};
use lakh_state::{StateKey, StateValue};
use lakh_types::{Address, AssetId, Refusal, TxId};
use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
    time::Duration,
};
use tokio::sync::broadcast;

fn hash32(d: &sha256::Digest) -> Hash32 {
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    Hash32(out)
}

pub fn block_info(block: &Block) -> BlockInfo {
    let h = &block.header;
    BlockInfo {
        header: BlockHeaderInfo {
            height: h.height.get(),
            hash: hash32(&block.digest()),
            parent: hash32(&h.parent),
            state_root: hash32(&h.state_root),
            proposer: block.proposer(),
            view: h.context.round.view().get(),
            base_fee: h.base_fee,
            used_units: h.used_units,
            tx_count: block.txs.len() as u64,
            timestamp_ms: h.timestamp_ms,
        },
        tx_ids: block.txs.iter().map(|t| t.id()).collect(),
    }
}

pub struct NodeService<E: StorageContext + Supervisor + commonware_runtime::Spawner> {
    shared: Arc<NodeShared>,
    handles: EngineHandles<E>,
    verifier: Arc<Verifier>,
    /// Assets known to exist (genesis + created), for listing an account's balances.
    assets: Mutex<BTreeMap<AssetId, String>>,
    finalized: broadcast::Sender<BlockInfo>,
    gossip: std::sync::OnceLock<futures::channel::mpsc::Sender<Vec<Bytes>>>,
}

impl<E: StorageContext + Supervisor + commonware_runtime::Spawner> NodeService<E> {
    pub async fn new(context: E, shared: Arc<NodeShared>, handles: EngineHandles<E>) -> Arc<Self> {
        let verifier = Verifier::new(lakh_mempool::VerifierConfig::new(
            shared.chain_id(),
            shared.genesis.fees.min_base_fee,
        ))
        .expect("failed to start signature verification workers");
        let verifier = Arc::new(verifier);
        let mut assets = BTreeMap::new();
        assets.insert(AssetId::NATIVE, shared.genesis.native_symbol.to_string());
        for a in &shared.genesis.assets {
            assets.insert(a.id, a.symbol.to_string());
        }
        {
            // Created assets are found in the receipts of finalized blocks.
            let indexer = handles.indexer().expect("validator running");
            let indexer = indexer.lock().await;
            if let Some(last) = indexer.last_height() {
                for h in 1..=last {
                    if let Some(block) = indexer.block(h).await {
                        for (asset, symbol) in block.created_assets {
                            assets.insert(asset, symbol.to_string());
                        }
                    }
                }
            }
        }
        let (finalized, _) = broadcast::channel(1024);
        let service = Arc::new(NodeService {
            shared: shared.clone(),
            handles,
            verifier,
            assets: Mutex::new(assets),
            finalized,
            gossip: std::sync::OnceLock::new(),
        });
        let forward = service.clone();
        let mut rx = shared.subscribe();
        context.child("rpc_notify").spawn(move |_| async move {
            loop {
                match rx.recv().await {
                    Ok(block) => forward.on_finalized(&block),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => break,
                }
            }
        });
        service
    }

    /// True once the state database is open and a block has finalized (the
    /// node can answer every query).
    pub fn is_live(&self) -> bool {
        self.handles.databases.get().is_some() && self.shared.head().is_some()
    }

    pub fn set_gossip(&self, tx: futures::channel::mpsc::Sender<Vec<Bytes>>) {
        let _ = self.gossip.set(tx);
    }

    /// Decodes, checks, verifies and queues a batch; with `forward`, accepted
    /// transactions are gossiped to the other validators.
    pub async fn ingest(&self, raw: Vec<Bytes>, forward: bool) -> Vec<Result<TxId, Refusal>> {
        let (results, accepted) = self.ingest_inner(raw).await;
        if forward
            && !accepted.is_empty()
            && let Some(g) = self.gossip.get()
        {
            let _ = g.clone().try_send(accepted);
        }
        results
    }

    fn on_finalized(&self, block: &Block) {
        if !block.txs.is_empty() {
            // New assets appear in receipts; cheap to look only at create txs.
            let mut assets = self.assets.lock().unwrap();
            for t in block.txs.iter() {
                match &t.tx.action {
                    lakh_types::Action::CreateAsset { symbol, .. } => {
                        assets
                            .entry(AssetId::derive(
                                t.tx.sender_address().as_bytes(),
                                t.tx.nonce,
                            ))
                            .or_insert_with(|| symbol.to_string());
                    }
                    // A pool registers its share asset, which holders want
                    // to see among their balances (e.g. to stake it in a farm).
                    lakh_types::Action::Dex(lakh_types::modules::dex::DexAction::CreatePool {
                        asset_a,
                        asset_b,
                        lp_symbol,
                    }) => {
                        use lakh_types::modules::dex::{lp_asset_id, lp_symbol_of, pool_id};
                        if let Some(id) = pool_id(*asset_a, *asset_b) {
                            assets.entry(lp_asset_id(&id)).or_insert_with(|| {
                                lp_symbol_of(&id, lp_symbol.as_ref()).to_string()
                            });
                        }
                    }
                    _ => {}
                }
            }
        }
        let _ = self.finalized.send(block_info(block));
    }

    async fn ingest_inner(&self, raw: Vec<Bytes>) -> (Vec<Result<TxId, Refusal>>, Vec<Bytes>) {
        let mut results: Vec<Option<Result<TxId, Refusal>>> = vec![None; raw.len()];
        // A full mempool would refuse whatever cannot evict a queued
        // transaction: the verifier refuses it before checking its signature.
        let floor =
            self.shared
                .mempool
                .lock()
                .unwrap()
                .when_full()
                .map(|(fee_per_unit, refusal)| FeeFloor {
                    fee_per_unit,
                    refusal,
                });
        // Decoding and verification run on the verifier's threads; this task
        // is suspended (its async worker free) until the verdicts arrive.
        let verdicts = self.verifier.verify_raw(raw, floor).await;
        let mut valid = Vec::with_capacity(verdicts.len());
        let mut valid_pos = Vec::with_capacity(verdicts.len());
        for (pos, v) in verdicts.into_iter().enumerate() {
            match v {
                Ok(tx) => {
                    valid.push(tx);
                    valid_pos.push(pos);
                }
                Err(r) => results[pos] = Some(Err(r)),
            }
        }
        // Senders whose committed nonce the node does not know yet are read from state.
        let unknown = self.shared.unknown_senders(&valid);
        if !unknown.is_empty() {
            match self.next_nonces(&unknown).await {
                Ok(nonces) => self
                    .shared
                    .note_committed_nonces(unknown.into_iter().zip(nonces)),
                Err(e) => {
                    for pos in valid_pos {
                        results[pos] = Some(Err(Refusal::Busy(e.clone())));
                    }
                    return (
                        results
                            .into_iter()
                            .map(|r| r.expect("every input answered"))
                            .collect(),
                        Vec::new(),
                    );
                }
            }
        }
        let raws: Vec<Bytes> = valid.iter().map(|t| t.raw().clone()).collect();
        let inserted = self.shared.insert_verified(valid);
        let mut accepted = Vec::with_capacity(inserted.len());
        for ((r, pos), raw) in inserted.into_iter().zip(valid_pos).zip(raws) {
            if r.is_ok() {
                accepted.push(raw);
            }
            results[pos] = Some(r);
        }
        (
            results
                .into_iter()
                .map(|r| r.expect("every input answered"))
                .collect(),
            accepted,
        )
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
        if self.shared.in_mempool(&id) {
            TxStatusInfo::Pending
        } else {
            TxStatusInfo::Unknown
        }
    }

    async fn account(&self, addr: Address, prove: bool) -> Result<AccountInfo, String> {
        let assets: Vec<(AssetId, String)> = self
            .assets
            .lock()
            .unwrap()
            .iter()
            .map(|(a, s)| (*a, s.clone()))
            .collect();
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
            let pending_nonce = self.shared.mempool.lock().unwrap().pending_nonce(&addr);
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
        Some(block_info(block.inner()))
    }

    async fn head(&self) -> HeadInfo {
        let head = self.shared.head();
        let (height, hash, state_root, base_fee, ts) = match &head {
            Some(b) => (
                b.height_u64(),
                hash32(&b.digest()),
                hash32(&b.header.state_root),
                lakh_types::fees::next_base_fee(
                    &self.shared.genesis.fees,
                    b.header.base_fee,
                    b.header.used_units,
                )
                .max(if b.height_u64() == 0 {
                    self.shared.genesis.fees.initial_base_fee
                } else {
                    0
                }),
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
        if asset_id == AssetId::NATIVE {
            let supply: u128 = self.shared.genesis.accounts.iter().map(|a| a.balance).sum();
            return Some(AssetInfoJson {
                id: AssetId::NATIVE,
                symbol: self.shared.genesis.native_symbol.clone(),
                decimals: self.shared.genesis.native_decimals,
                issuer: None,
                max_supply: None,
                supply,
            });
        }
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
                issuer: Some(info.issuer),
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
        use lakh_execution::modules::{Fetched, QueryCtx, QueryError, query};
        let failure = |code: &str, message: String| lakh_rpc::QueryFailure {
            code: code.into(),
            message,
        };
        let height = self.head().await.height;
        let dbs = self.databases().map_err(|e| failure("unavailable", e))?;
        // One read lock for the whole query: every key comes from the same state.
        let db = dbs.read().await;
        let mut fetched = Fetched::default();
        for _ in 0..=MAX_QUERY_READS {
            let ctx = QueryCtx {
                height,
                state: &fetched,
            };
            match query(&module, &method, &params, &ctx) {
                Ok(value) => return Ok(value),
                Err(QueryError::Need(key)) => {
                    let value = db
                        .get(&key.digest())
                        .await
                        .map_err(|e| failure("unavailable", format!("state read failed: {e}")))?;
                    fetched.0.insert(key, value);
                }
                Err(QueryError::BadRequest(m)) => return Err(failure("bad_request", m)),
                Err(QueryError::NotFound(m)) => return Err(failure("not_found", m)),
                Err(QueryError::Corrupt(m)) => return Err(failure("corrupt", m)),
            }
        }
        Err(failure(
            "bad_request",
            format!("query reads more than {MAX_QUERY_READS} state entries"),
        ))
    }

    fn subscribe_finalized(&self) -> broadcast::Receiver<BlockInfo> {
        self.finalized.subscribe()
    }
}

/// Most state entries one module query may read.
const MAX_QUERY_READS: usize = 4096;
