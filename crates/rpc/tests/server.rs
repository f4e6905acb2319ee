//! The server and client end to end over loopback, against an in-memory node
//! double (the real node is tested end to end in its own crate).
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use bytes::Bytes;
use commonware_cryptography::Signer;
use lakh_rpc::*;
use lakh_types::{
    Action, Address, AssetId, PrivateKey, Receipt, Refusal, SignedTransaction, Symbol, Transaction,
    TransferEntry, TxId, TxStatus,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

const CHAIN_ID: u64 = 77;

#[derive(Default)]
struct Inner {
    status: HashMap<TxId, TxStatusInfo>,
    pending: Vec<SignedTransaction>,
    blocks: Vec<BlockInfo>,
}

struct FakeNode {
    inner: Mutex<Inner>,
    finalized: broadcast::Sender<BlockInfo>,
}

impl FakeNode {
    fn new() -> Arc<FakeNode> {
        Arc::new(FakeNode {
            inner: Mutex::new(Inner::default()),
            finalized: broadcast::channel(64).0,
        })
    }

    /// Puts every pending transaction into a new finalized block and publishes it.
    fn finalize_pending(&self) -> BlockInfo {
        let mut inner = self.inner.lock().unwrap();
        let height = inner.blocks.len() as u64 + 1;
        let hash = Hash32([height as u8; 32]);
        let txs = std::mem::take(&mut inner.pending);
        let header = BlockHeaderInfo {
            height,
            hash,
            parent: Hash32([height as u8 - 1; 32]),
            state_root: Hash32([0xee; 32]),
            proposer: Address([0xaa; 32]),
            view: height + 3,
            base_fee: 1_000,
            used_units: txs.len() as u64,
            tx_count: txs.len() as u64,
            timestamp_ms: 1_700_000_000_000 + height,
            next_committee: None,
            finalizations: Vec::new(),
            evidence: Vec::new(),
        };
        for (i, tx) in txs.iter().enumerate() {
            let receipt = Receipt {
                tx_id: tx.id(),
                sender: tx.tx.sender_address(),
                nonce: tx.tx.nonce,
                height,
                index: i as u32,
                fee_paid: 1_000,
                status: TxStatus::Success,
                events: vec![],
            };
            inner.status.insert(
                tx.id(),
                TxStatusInfo::Finalized {
                    receipt,
                    block_hash: hash,
                },
            );
        }
        let block = BlockInfo {
            header,
            tx_ids: txs.iter().map(|t| t.id()).collect(),
            block_events: Vec::new(),
        };
        inner.blocks.push(block.clone());
        let _ = self.finalized.send(block.clone());
        block
    }
}

impl NodeApi for FakeNode {
    fn chain_id(&self) -> u64 {
        CHAIN_ID
    }

    async fn submit(&self, txs: Vec<Bytes>) -> Vec<Result<TxId, Refusal>> {
        let mut inner = self.inner.lock().unwrap();
        txs.into_iter()
            .map(|raw| {
                let tx = SignedTransaction::decode(raw)?;
                if tx.tx.chain_id != CHAIN_ID {
                    return Err(Refusal::WrongChainId {
                        expected: CHAIN_ID,
                        got: tx.tx.chain_id,
                    });
                }
                if !tx.verify_signature() {
                    return Err(Refusal::BadSignature);
                }
                if inner.status.contains_key(&tx.id()) {
                    return Err(Refusal::Duplicate);
                }
                inner.status.insert(tx.id(), TxStatusInfo::Pending);
                let id = tx.id();
                inner.pending.push(tx);
                Ok(id)
            })
            .collect()
    }

    async fn tx_status(&self, id: TxId) -> TxStatusInfo {
        let inner = self.inner.lock().unwrap();
        inner
            .status
            .get(&id)
            .cloned()
            .unwrap_or(TxStatusInfo::Unknown)
    }

    /// The finalized transactions of `addr`, numbered oldest first.
    async fn account_txs(
        &self,
        addr: Address,
        before: Option<u64>,
        limit: u32,
    ) -> Result<AccountTxsPage, String> {
        let inner = self.inner.lock().unwrap();
        let mut all: Vec<(Receipt, Hash32)> = inner
            .status
            .values()
            .filter_map(|s| match s {
                TxStatusInfo::Finalized {
                    receipt,
                    block_hash,
                } if receipt.accounts().contains(&addr) => Some((receipt.clone(), *block_hash)),
                _ => None,
            })
            .collect();
        all.sort_by_key(|(r, _)| (r.height, r.index));
        let total = all.len() as u64;
        let end = before.map_or(total, |b| b.min(total));
        let start = end.saturating_sub(u64::from(limit));
        let transactions = (start..end)
            .rev()
            .map(|ordinal| {
                let (receipt, block_hash) = all[ordinal as usize].clone();
                AccountTxInfo {
                    ordinal,
                    block_hash,
                    receipt,
                }
            })
            .collect();
        Ok(AccountTxsPage {
            address: addr,
            total,
            transactions,
            next_cursor: (start > 0).then_some(start),
            older_pruned: false,
        })
    }

    async fn account(&self, addr: Address, prove: bool) -> Result<AccountInfo, String> {
        if addr == Address([0xff; 32]) {
            return Err("state is unavailable".into());
        }
        Ok(AccountInfo {
            address: addr,
            nonce: 3,
            pending_nonce: Some(5),
            balances: vec![BalanceInfo {
                asset: AssetId::NATIVE,
                symbol: "LAKH".into(),
                amount: u128::MAX,
            }],
            proof: prove.then(|| AccountProof {
                height: 1,
                state_root: Hash32([0xee; 32]),
                entries: vec![ProvenEntry {
                    key: lakh_state::StateKey::Account(addr),
                    value_hex: "00".into(),
                    proof_hex: "11".into(),
                }],
            }),
        })
    }

    async fn block(&self, id: BlockId) -> Option<BlockInfo> {
        let inner = self.inner.lock().unwrap();
        inner
            .blocks
            .iter()
            .find(|b| match id {
                BlockId::Height(h) => b.header.height == h,
                BlockId::Hash(h) => b.header.hash.0 == h,
            })
            .cloned()
    }

    async fn head(&self) -> HeadInfo {
        let inner = self.inner.lock().unwrap();
        let (height, hash) = inner
            .blocks
            .last()
            .map_or((0, Hash32::default()), |b| (b.header.height, b.header.hash));
        HeadInfo {
            chain_id: CHAIN_ID,
            height,
            hash,
            state_root: Hash32([0xee; 32]),
            base_fee: 1_000,
            timestamp_ms: 5,
        }
    }

    async fn asset(&self, id: AssetRef) -> Option<AssetInfoJson> {
        let gold = AssetInfoJson {
            id: AssetId(9),
            symbol: Symbol::new("GOLD").unwrap(),
            decimals: 6,
            issuer: Some(Address([1; 32])),
            max_supply: Some(1 << 100),
            supply: 12_345,
        };
        match id {
            AssetRef::Id(AssetId(9)) => Some(gold),
            AssetRef::Symbol(s) if s.as_str() == "GOLD" => Some(gold),
            _ => None,
        }
    }

    fn subscribe_finalized(&self) -> broadcast::Receiver<BlockInfo> {
        self.finalized.subscribe()
    }
}

fn key(seed: u64) -> PrivateKey {
    PrivateKey::from_seed(seed)
}

fn transfer(from: &PrivateKey, nonce: u64, chain_id: u64) -> SignedTransaction {
    Transaction {
        chain_id,
        sender: from.public_key().into(),
        nonce,
        max_fee: 10_000,
        action: Action::Transfer(TransferEntry {
            to: Address([2; 32]),
            asset: AssetId::NATIVE,
            amount: 5,
        }),
    }
    .sign(from)
}

async fn serve(cfg: RpcConfig) -> (Arc<FakeNode>, SocketAddr, ServerHandle, LakhClient) {
    let node = FakeNode::new();
    let (addr, handle) = start_server_with("127.0.0.1:0".parse().unwrap(), node.clone(), cfg)
        .await
        .unwrap();
    let client = LakhClient::connect(&format!("http://{addr}")).unwrap();
    (node, addr, handle, client)
}

/// Posts `body` over a raw HTTP/1.1 connection; returns the status and the body.
async fn post(addr: SocketAddr, body: &[u8]) -> (u16, serde_json::Value) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let body = body.to_vec();
    // The server may answer (and close) before it has read an oversize body.
    let writing = tokio::spawn(async move {
        let _ = writer.write_all(head.as_bytes()).await;
        let _ = writer.write_all(&body).await;
        writer
    });
    let mut response = Vec::new();
    let _ = reader.read_to_end(&mut response).await;
    drop(writing.await);
    let text = String::from_utf8_lossy(&response);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let start = text.find("\r\n\r\n").map_or(0, |i| i + 4);
    let json_start = text[start..].find(['{', '[']).map_or(start, |i| start + i);
    let json_end = text.rfind(['}', ']']).map_or(text.len(), |i| i + 1);
    let json = serde_json::from_str(&text[json_start..json_end])
        .unwrap_or_else(|e| panic!("body of {text:?} is not JSON: {e}"));
    (status, json)
}

async fn call(addr: SocketAddr, method: &str, params: serde_json::Value) -> serde_json::Value {
    let req = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
    post(addr, req.to_string().as_bytes()).await.1
}

/// The error's code and its text: the message, and `data` when it is a string
/// (a value that fails to parse is named there, the message being jsonrpsee's
/// "Invalid params").
fn error_of(response: &serde_json::Value) -> (i64, String) {
    let err = response
        .get("error")
        .unwrap_or_else(|| panic!("expected an error, got {response}"));
    let mut text = err["message"].as_str().unwrap().to_string();
    if let Some(data) = err["data"].as_str() {
        text = format!("{text}: {data}");
    }
    (err["code"].as_i64().unwrap(), text)
}

#[tokio::test]
async fn every_method_round_trips_through_the_client() {
    let (node, _, handle, client) = serve(RpcConfig::default()).await;
    assert_eq!(client.chain_id().await.unwrap(), CHAIN_ID);
    assert_eq!(client.head().await.unwrap().height, 0);

    let alice = key(1);
    let tx = transfer(&alice, 0, CHAIN_ID);
    assert_eq!(client.submit(&tx).await.unwrap(), tx.id());
    assert_eq!(
        client.tx_status(tx.id()).await.unwrap(),
        TxStatusInfo::Pending
    );
    assert_eq!(
        client.tx_status(TxId([9; 32])).await.unwrap(),
        TxStatusInfo::Unknown
    );

    let block = node.finalize_pending();
    let done = client
        .wait_for_finality(tx.id(), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(done.receipt.tx_id, tx.id());
    assert_eq!(done.receipt.height, 1);
    assert_eq!(done.block_hash, block.header.hash);

    assert_eq!(
        client.block_by_height(1).await.unwrap(),
        Some(block.clone())
    );
    assert_eq!(
        client.block_by_hash(block.header.hash).await.unwrap(),
        Some(block.clone())
    );
    assert_eq!(client.block_by_height(2).await.unwrap(), None);
    let head = client.head().await.unwrap();
    assert_eq!((head.height, head.hash), (1, block.header.hash));

    let addr = Address::from(&alice.public_key());
    let account = client.account(addr, false).await.unwrap();
    assert_eq!(account.address, addr);
    assert_eq!(account.pending_nonce, Some(5));
    // u128 amounts survive JSON intact.
    assert_eq!(account.balance_of(AssetId::NATIVE), u128::MAX);
    assert!(account.proof.is_none());
    let proven = client.account(addr, true).await.unwrap();
    let proof = proven.proof.unwrap();
    assert_eq!(proof.entries[0].key, lakh_state::StateKey::Account(addr));

    let by_symbol = client
        .asset(&"GOLD".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_symbol.max_supply, Some(1 << 100));
    let by_id = client.asset(&AssetRef::Id(AssetId(9))).await.unwrap();
    assert_eq!(by_id, Some(by_symbol));
    assert_eq!(client.asset(&AssetRef::Id(AssetId(4))).await.unwrap(), None);

    handle.stop().unwrap();
}

#[tokio::test]
async fn account_history_pages_through_the_client_and_refuses_bad_params() {
    let (node, addr, handle, client) = serve(RpcConfig::default()).await;
    let alice = key(1);
    let sender = Address::from(&alice.public_key());
    let mut ids = Vec::new();
    for nonce in 0..3 {
        let tx = transfer(&alice, nonce, CHAIN_ID);
        ids.push(client.submit(&tx).await.unwrap());
        node.finalize_pending();
    }
    let first = client.account_txs(sender, None, Some(2)).await.unwrap();
    assert_eq!((first.address, first.total), (sender, 3));
    let newest: Vec<TxId> = first.transactions.iter().map(|t| t.receipt.tx_id).collect();
    assert_eq!(newest, vec![ids[2], ids[1]]);
    assert_eq!(first.transactions[0].block_hash, Hash32([3; 32]));
    let rest = client
        .account_txs(sender, first.next_cursor, None)
        .await
        .unwrap();
    assert_eq!(rest.transactions.len(), 1);
    assert_eq!(rest.transactions[0].receipt.tx_id, ids[0]);
    assert_eq!(rest.next_cursor, None);

    // Named params, as a browser would send them.
    let r = call(
        addr,
        "lakh_getAccountTransactions",
        serde_json::json!({"address": sender.to_hex(), "limit": 1}),
    )
    .await;
    assert_eq!(r["result"]["total"], 3, "{r}");
    assert_eq!(r["result"]["next_cursor"], 2, "{r}");
    assert_eq!(r["result"]["transactions"][0]["ordinal"], 2, "{r}");

    for (params, named) in [
        (serde_json::json!([sender.to_hex(), null, 0]), "`limit`"),
        (serde_json::json!([sender.to_hex(), null, 101]), "`limit`"),
        (serde_json::json!([sender.to_hex(), -1]), "`cursor`"),
        (serde_json::json!(["zz"]), "`address`"),
        (
            serde_json::json!({"address": sender.to_hex(), "page": 2}),
            "`page`",
        ),
    ] {
        let r = call(addr, "lakh_getAccountTransactions", params.clone()).await;
        let (code, msg) = error_of(&r);
        assert_eq!(code, codes::INVALID_PARAMS as i64, "{params}: {msg}");
        assert!(msg.contains(named), "{params}: {msg}");
    }
    let err = client
        .account_txs(sender, None, Some(MAX_ACCOUNT_TXS_PAGE + 1))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("must be 1 to 100"), "{err}");

    handle.stop().unwrap();
}

#[tokio::test]
async fn refusals_carry_their_code() {
    let (_, addr, handle, client) = serve(RpcConfig::default()).await;
    let wrong_chain = transfer(&key(1), 0, CHAIN_ID + 1);
    match client.submit(&wrong_chain).await {
        Err(ClientError::Refused(e)) => {
            assert_eq!(e.code, "wrong_chain_id");
            assert!(e.message.contains("this chain is 77"), "{}", e.message);
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // On the wire: the refusal code is in error.data.code.
    let raw = call(
        addr,
        "lakh_submitTransaction",
        serde_json::json!([hex::encode(wrong_chain.raw())]),
    )
    .await;
    assert_eq!(raw["error"]["code"], codes::TX_REFUSED);
    assert_eq!(raw["error"]["data"]["code"], "wrong_chain_id");

    // Undecodable bytes (valid hex) are a refusal, not a params error.
    match client.submit_batch(&[]).await {
        Ok(v) => assert!(v.is_empty()),
        Err(e) => panic!("{e}"),
    }
    let raw = call(addr, "lakh_submitTransaction", serde_json::json!(["0102"])).await;
    assert_eq!(raw["error"]["data"]["code"], "malformed");

    handle.stop().unwrap();
}

#[tokio::test]
async fn batch_submission_answers_each_transaction() {
    let (node, _, handle, client) = serve(RpcConfig::default()).await;
    let alice = key(1);
    let good0 = transfer(&alice, 0, CHAIN_ID);
    let bad = transfer(&alice, 1, CHAIN_ID + 1);
    let good1 = transfer(&alice, 1, CHAIN_ID);
    let results = client
        .submit_batch(&[good0.clone(), bad, good1.clone(), good0.clone()])
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(results[0].as_ref().unwrap(), &good0.id());
    assert_eq!(results[1].as_ref().unwrap_err().code, "wrong_chain_id");
    assert_eq!(results[2].as_ref().unwrap(), &good1.id());
    assert_eq!(results[3].as_ref().unwrap_err().code, "duplicate");
    let block = node.finalize_pending();
    assert_eq!(block.tx_ids, vec![good0.id(), good1.id()]);
    handle.stop().unwrap();
}

#[tokio::test]
async fn client_splits_large_batches_under_the_server_limit() {
    let cfg = RpcConfig::default();
    let limit = cfg.max_submit_txs;
    let (node, _, handle, client) = serve(cfg).await;
    let alice = key(3);
    let txs: Vec<_> = (0..limit as u64 + 5)
        .map(|n| transfer(&alice, n, CHAIN_ID))
        .collect();
    let results = client.submit_batch(&txs).await.unwrap();
    assert_eq!(results.len(), txs.len());
    assert!(results.iter().all(|r| r.is_ok()));
    assert_eq!(node.finalize_pending().tx_ids.len(), txs.len());
    handle.stop().unwrap();
}

#[tokio::test]
async fn malformed_params_get_invalid_params_naming_the_param() {
    let (_, addr, handle, _) = serve(RpcConfig::default()).await;

    let r = call(addr, "lakh_submitTransaction", serde_json::json!(["zz"])).await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(msg.contains("`tx`") && msg.contains("not hex"), "{msg}");

    let r = call(addr, "lakh_getTransaction", serde_json::json!(["abcd"])).await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(msg.contains("`id`") && msg.contains("32 bytes"), "{msg}");

    let r = call(
        addr,
        "lakh_getBlockByHash",
        serde_json::json!(["ab".repeat(33)]),
    )
    .await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(msg.contains("`hash`") && msg.contains("64 hex"), "{msg}");

    let r = call(addr, "lakh_getAccount", serde_json::json!(["12", true])).await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(msg.contains("`address`"), "{msg}");

    let r = call(addr, "lakh_getAccount", serde_json::json!([])).await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(
        msg.contains("`address`") && msg.contains("missing"),
        "{msg}"
    );

    let r = call(addr, "lakh_getBlockByHeight", serde_json::json!([-1])).await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(msg.contains("`height`"), "{msg}");

    let r = call(addr, "lakh_head", serde_json::json!([1])).await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(msg.contains("at most 0"), "{msg}");

    let r = call(addr, "lakh_getAsset", serde_json::json!(["gold!"])).await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(msg.contains("`asset`"), "{msg}");

    let r = call(
        addr,
        "lakh_submitTransactions",
        serde_json::json!([["00", "0x0g", "11"]]),
    )
    .await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(msg.contains("txs[1]"), "{msg}");

    // Named params work, unknown names are refused.
    let good = Address([4; 32]).to_hex();
    let r = call(
        addr,
        "lakh_getAccount",
        serde_json::json!({"address": good, "prove": false}),
    )
    .await;
    assert_eq!(r["result"]["nonce"], 3, "{r}");
    let r = call(addr, "lakh_getAccount", serde_json::json!({"addr": good})).await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(msg.contains("unknown param `addr`"), "{msg}");

    // A node-side failure is a node error with the node's message.
    let r = call(
        addr,
        "lakh_getAccount",
        serde_json::json!([Address([0xff; 32]).to_hex()]),
    )
    .await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, codes::NODE_ERROR as i64);
    assert_eq!(msg, "state is unavailable");

    handle.stop().unwrap();
}

#[tokio::test]
async fn oversize_inputs_get_json_rpc_errors() {
    let cfg = RpcConfig {
        max_request_bytes: 64 * 1024,
        max_batch_calls: 5,
        max_submit_txs: 3,
        ..RpcConfig::default()
    };
    let (_, addr, handle, client) = serve(cfg).await;

    // Body over the limit.
    let big = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "lakh_submitTransaction",
        "params": ["00".repeat(40 * 1024)],
    });
    let (status, body) = post(addr, big.to_string().as_bytes()).await;
    assert_eq!(status, 413);
    let (code, msg) = error_of(&body);
    assert_eq!(code, -32007);
    assert!(msg.contains("too big"), "{msg}");

    // JSON-RPC batch longer than allowed.
    let calls: Vec<_> = (0..6)
        .map(|i| serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "lakh_chainId"}))
        .collect();
    let (_, body) = post(addr, serde_json::Value::from(calls).to_string().as_bytes()).await;
    let (code, msg) = error_of(&body);
    assert_eq!(code, -32010);
    assert!(msg.contains("batch request was too large"), "{msg}");

    // A batch within the limit is answered call by call.
    let calls: Vec<_> = (0..5)
        .map(|i| serde_json::json!({"jsonrpc": "2.0", "id": i, "method": "lakh_chainId"}))
        .collect();
    let (status, body) = post(addr, serde_json::Value::from(calls).to_string().as_bytes()).await;
    assert_eq!(status, 200);
    let answers = body.as_array().unwrap();
    assert_eq!(answers.len(), 5);
    assert!(answers.iter().all(|a| a["result"] == CHAIN_ID));

    // More transactions in one submitTransactions call than allowed.
    let r = call(
        addr,
        "lakh_submitTransactions",
        serde_json::json!([["00", "00", "00", "00"]]),
    )
    .await;
    let (code, msg) = error_of(&r);
    assert_eq!(code, -32602);
    assert!(
        msg.contains("4 transactions exceed the limit of 3"),
        "{msg}"
    );

    // Garbage is a parse error, and the server still serves afterwards.
    let (_, body) = post(addr, b"{not json").await;
    assert_eq!(error_of(&body).0, -32700);
    assert_eq!(client.chain_id().await.unwrap(), CHAIN_ID);

    handle.stop().unwrap();
}

#[tokio::test]
async fn subscription_delivers_finalized_blocks_in_order() {
    let (node, _, handle, client) = serve(RpcConfig::default()).await;
    let mut blocks = client.subscribe_finalized().await.unwrap();
    let alice = key(1);
    client.submit(&transfer(&alice, 0, CHAIN_ID)).await.unwrap();
    let first = node.finalize_pending();
    let second = node.finalize_pending();
    let got1 = tokio::time::timeout(Duration::from_secs(5), blocks.next())
        .await
        .unwrap()
        .unwrap();
    let got2 = tokio::time::timeout(Duration::from_secs(5), blocks.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got1, first);
    assert_eq!(got2, second);
    assert_eq!(got1.tx_ids.len(), 1);

    // The subscription ends, with a reason, when the server stops.
    handle.stop().unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), blocks.next())
        .await
        .unwrap();
    assert!(
        matches!(end, Err(ClientError::SubscriptionEnded(_))),
        "{end:?}"
    );
}

#[tokio::test]
async fn waiting_for_an_unknown_transaction_times_out() {
    let (_, _, handle, client) = serve(RpcConfig::default()).await;
    let err = client
        .wait_for_finality(TxId([5; 32]), Duration::from_millis(120))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Timeout { .. }), "{err}");
    handle.stop().unwrap();
}

#[tokio::test]
async fn unreachable_node_is_a_transport_error() {
    // Bind and drop to get a port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = LakhClient::connect(&format!("127.0.0.1:{port}")).unwrap();
    let err = client.chain_id().await.unwrap_err();
    assert!(matches!(err, ClientError::Transport { .. }), "{err}");
    assert!(LakhClient::connect("ftp://x").is_err());
}

#[tokio::test]
async fn queries_and_batched_calls_get_the_same_checks() {
    let (_, addr, handle, client) = serve(RpcConfig::default()).await;
    // The fake node answers no module query; the reason's code reaches the client.
    match client.query("dex", "pool", serde_json::json!({})).await {
        Err(ClientError::Query { code, .. }) => assert_eq!(code, "unsupported"),
        other => panic!("expected a query failure, got {other:?}"),
    }
    // Named params may leave out the optional ones.
    let r = call(
        addr,
        "lakh_query",
        serde_json::json!({"module": "dex", "method": "pool"}),
    )
    .await;
    assert_eq!(r["error"]["code"], codes::QUERY_FAILED, "{r}");
    assert_eq!(r["error"]["data"]["code"], "unsupported", "{r}");

    // Inside a batch each call's params are checked on their own.
    let calls = serde_json::json!([
        {"jsonrpc": "2.0", "id": 1, "method": "lakh_head", "params": [1]},
        {"jsonrpc": "2.0", "id": 2, "method": "lakh_getAccount", "params": {"addr": "00"}},
        {"jsonrpc": "2.0", "id": 3, "method": "lakh_chainId"},
    ]);
    let (_, body) = post(addr, calls.to_string().as_bytes()).await;
    let answers = body.as_array().unwrap();
    let answer = |id: u64| {
        answers
            .iter()
            .find(|a| a["id"] == id)
            .unwrap_or_else(|| panic!("no answer {id} in {body}"))
    };
    let (code, msg) = error_of(answer(1));
    assert_eq!(code, -32602);
    assert!(msg.contains("at most 0"), "{msg}");
    let (code, msg) = error_of(answer(2));
    assert_eq!(code, -32602);
    assert!(msg.contains("unknown param `addr`"), "{msg}");
    assert_eq!(answer(3)["result"], CHAIN_ID);
    handle.stop().unwrap();
}

/// The whole response (status line, headers, body) to a bodiless `method`
/// request for `path`.
async fn http_exchange(addr: SocketAddr, method: &str, path: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response).await;
    String::from_utf8_lossy(&response).into_owned()
}

/// The status line's code of a bodiless `method` request for `path`.
async fn http_status(addr: SocketAddr, method: &str, path: &str) -> u16 {
    let text = http_exchange(addr, method, path).await;
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn calls_are_counted_by_method_and_status_batched_ones_each() {
    let metrics = RpcMetrics::default();
    let cfg = RpcConfig {
        metrics: metrics.clone(),
        ..RpcConfig::default()
    };
    let (_, addr, handle, client) = serve(cfg).await;
    client.chain_id().await.unwrap();
    call(addr, "lakh_getAccount", serde_json::json!(["12"])).await;
    call(addr, "lakh_noSuchMethod", serde_json::json!([])).await;
    let batch = serde_json::json!([
        {"jsonrpc": "2.0", "id": 1, "method": "lakh_chainId", "params": []},
        {"jsonrpc": "2.0", "id": 2, "method": "lakh_head", "params": [7]},
    ]);
    let (status, answers) = post(addr, batch.to_string().as_bytes()).await;
    assert_eq!((status, answers.as_array().unwrap().len()), (200, 2));
    let count = |method: &str, status: &str| {
        metrics
            .requests
            .get_or_create(&[
                ("method", method.to_string()),
                ("status", status.to_string()),
            ])
            .get()
    };
    assert_eq!(count("lakh_chainId", "ok"), 2);
    assert_eq!(count("lakh_head", "-32602"), 1, "the batch's refused call");
    assert_eq!(count("lakh_getAccount", "-32602"), 1);
    assert_eq!(count("other", "-32601"), 1, "unknown names share one label");
    assert_eq!(count("lakh_noSuchMethod", "-32601"), 0);

    // This node double keeps no metrics: the path exists, the answer is 404.
    assert_eq!(http_status(addr, "GET", METRICS_PATH).await, 404);
    assert_eq!(http_status(addr, "POST", METRICS_PATH).await, 405);
    handle.stop().unwrap();
}

#[tokio::test]
async fn the_explorer_is_served_beside_rpc_and_websockets() {
    let (_, addr, handle, client) = serve(RpcConfig::default()).await;
    let page = http_exchange(addr, "GET", EXPLORER_PATH).await;
    let lower = page.to_ascii_lowercase();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(lower.contains("content-type: text/html"), "{page}");
    assert!(lower.contains("content-security-policy: default-src 'none'; script-src 'self'"));
    assert!(page.contains("/explorer/explorer.js"), "{page}");
    for (path, kind) in [
        ("/explorer/explorer.js", "text/javascript"),
        ("/explorer/explorer.css", "text/css"),
    ] {
        let file = http_exchange(addr, "GET", path).await;
        assert!(file.starts_with("HTTP/1.1 200"), "{path}: {file}");
        assert!(file.to_ascii_lowercase().contains(kind), "{path}");
    }
    assert_eq!(http_status(addr, "GET", "/explorer/nothing.js").await, 404);
    assert_eq!(http_status(addr, "POST", EXPLORER_PATH).await, 405);

    // A page load on `/` goes to the explorer; JSON-RPC and WebSockets on
    // `/` are untouched.
    let root = http_exchange(addr, "GET", "/").await;
    assert!(root.starts_with("HTTP/1.1 302"), "{root}");
    assert!(
        root.to_ascii_lowercase()
            .contains("location: /explorer\r\n"),
        "{root}"
    );
    assert_eq!(client.chain_id().await.unwrap(), CHAIN_ID);
    // Subscribing upgrades a GET on `/` to a WebSocket.
    let _blocks = client.subscribe_finalized().await.unwrap();
    handle.stop().unwrap();
}

/// Every `$ref` under `value`.
fn refs_in(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(r) = map.get("$ref").and_then(|r| r.as_str()) {
                out.push(r.to_string());
            }
            map.values().for_each(|v| refs_in(v, out));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| refs_in(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn rpc_discover_describes_every_method_the_server_answers() {
    let (node, addr, handle, _client) = serve(RpcConfig::default()).await;
    let answer = call(addr, discover::DISCOVER_METHOD, serde_json::json!([])).await;
    let doc: discover::OpenRpcDocument = serde_json::from_value(answer["result"].clone()).unwrap();
    assert_eq!(doc.openrpc, discover::OPENRPC_VERSION);
    let names: Vec<&str> = doc.methods.iter().map(|m| m.name.as_str()).collect();
    for expected in [
        "lakh_chainId",
        "lakh_submitTransaction",
        "lakh_getAccount",
        "lakh_getAccountTransactions",
        "lakh_query",
        "lakh_subscribeFinalized",
        "lakh_unsubscribeFinalized",
        "rpc.discover",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // Every documented method exists on the server (its answer is never
    // "method not found"), and every method the server checks is documented.
    for name in &names {
        let response = call(addr, name, serde_json::json!([])).await;
        let code = response["error"]["code"].as_i64();
        assert_ne!(code, Some(-32601), "{name} is documented but not served");
    }
    for method in checked_methods() {
        assert!(
            names.contains(&method),
            "{method} is served but not documented"
        );
    }

    let get_account = doc
        .methods
        .iter()
        .find(|m| m.name == "lakh_getAccount")
        .unwrap();
    let params: Vec<(&str, bool)> = get_account
        .params
        .iter()
        .map(|p| (p.name.as_str(), p.required))
        .collect();
    assert_eq!(params, vec![("address", true), ("prove", false)]);
    assert!(
        get_account
            .summary
            .starts_with("An account's committed state")
    );
    assert_eq!(
        get_account.result.schema["$ref"],
        "#/components/schemas/AccountInfo"
    );
    let submit = doc
        .methods
        .iter()
        .find(|m| m.name == "lakh_submitTransaction")
        .unwrap();
    let refused = submit
        .errors
        .iter()
        .find(|e| e.code == codes::TX_REFUSED)
        .expect("submitTransaction documents its refusal error");
    let refusal_codes = &refused.data.as_ref().unwrap()["properties"]["code"]["enum"];
    assert!(
        refusal_codes
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("nonce_gap"))
    );
    assert!(
        submit
            .errors
            .iter()
            .any(|e| e.code == codes::INVALID_PARAMS)
    );

    let mut refs = Vec::new();
    refs_in(&serde_json::to_value(&doc).unwrap(), &mut refs);
    assert!(!refs.is_empty());
    for r in refs {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{r} points outside the document"));
        assert!(doc.components.schemas.contains_key(name), "{r} is dangling");
    }

    // The documented shape matches a real answer: every field the server
    // sends is described, and every required field is sent.
    let account = call(
        addr,
        "lakh_getAccount",
        serde_json::json!([hex::encode([7u8; 32])]),
    )
    .await;
    let schema = &doc.components.schemas["AccountInfo"];
    let properties = schema["properties"].as_object().unwrap();
    let sent = account["result"].as_object().unwrap();
    for field in sent.keys() {
        assert!(properties.contains_key(field), "{field} is not documented");
    }
    for field in schema["required"].as_array().unwrap() {
        assert!(
            sent.contains_key(field.as_str().unwrap()),
            "{field} not sent"
        );
    }
    let amount = &doc.components.schemas["BalanceInfo"]["properties"]["amount"];
    assert_eq!(amount["$ref"], "#/components/schemas/Amount");
    let amount = &doc.components.schemas["Amount"];
    assert_eq!(amount["type"], "string", "amounts are decimal strings");
    if let Ok(path) = std::env::var("LAKH_OPENRPC_OUT") {
        std::fs::write(path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
    drop(node);
    handle.stop().unwrap();
}
