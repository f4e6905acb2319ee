//! The bulk binary endpoint over loopback, against an in-memory node double
//! that records the batches it is handed.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use bytes::Bytes;
use commonware_cryptography::Signer;
use lakh_rpc::bulk::{BULK_PATH, push_record};
use lakh_rpc::*;
use lakh_types::{
    Action, Address, AssetId, PrivateKey, Refusal, SignedTransaction, Transaction, TransferEntry,
    TxId,
};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast;

const CHAIN_ID: u64 = 9;

#[derive(Default)]
struct RecordingNode {
    /// Size of every batch `submit` was called with.
    batches: Mutex<Vec<usize>>,
    seen: Mutex<HashSet<TxId>>,
}

impl NodeApi for RecordingNode {
    fn chain_id(&self) -> u64 {
        CHAIN_ID
    }

    async fn submit(&self, txs: Vec<Bytes>) -> Vec<Result<TxId, Refusal>> {
        self.batches.lock().unwrap().push(txs.len());
        let mut seen = self.seen.lock().unwrap();
        txs.into_iter()
            .map(|raw| {
                let tx = SignedTransaction::decode(raw)?;
                if tx.tx.chain_id != CHAIN_ID {
                    return Err(Refusal::WrongChainId {
                        expected: CHAIN_ID,
                        got: tx.tx.chain_id,
                    });
                }
                if !seen.insert(tx.id()) {
                    return Err(Refusal::Duplicate);
                }
                Ok(tx.id())
            })
            .collect()
    }

    async fn tx_status(&self, _: TxId) -> TxStatusInfo {
        TxStatusInfo::Unknown
    }

    async fn account(&self, _: Address, _: bool) -> Result<AccountInfo, String> {
        Err("not in this double".into())
    }

    async fn block(&self, _: BlockId) -> Option<BlockInfo> {
        None
    }

    async fn head(&self) -> HeadInfo {
        HeadInfo {
            chain_id: CHAIN_ID,
            height: 0,
            hash: Hash32::default(),
            state_root: Hash32::default(),
            base_fee: 1,
            timestamp_ms: 0,
        }
    }

    async fn asset(&self, _: AssetRef) -> Option<AssetInfoJson> {
        None
    }

    fn subscribe_finalized(&self) -> broadcast::Receiver<BlockInfo> {
        broadcast::channel(1).1
    }
}

fn transfer(seed: u64, nonce: u64, chain_id: u64) -> SignedTransaction {
    let key = PrivateKey::from_seed(seed);
    Transaction {
        chain_id,
        sender: key.public_key().into(),
        nonce,
        max_fee: 10_000,
        action: Action::Transfer(TransferEntry {
            to: Address([2; 32]),
            asset: AssetId::NATIVE,
            amount: 5,
        }),
    }
    .sign(&key)
}

async fn serve(cfg: RpcConfig) -> (Arc<RecordingNode>, SocketAddr, ServerHandle, LakhClient) {
    let node = Arc::new(RecordingNode::default());
    let (addr, handle) = start_server_with("127.0.0.1:0".parse().unwrap(), node.clone(), cfg)
        .await
        .unwrap();
    let client = LakhClient::connect(&format!("http://{addr}")).unwrap();
    (node, addr, handle, client)
}

/// Sends one raw HTTP/1.1 request; returns the status and the JSON body.
async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, serde_json::Value) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
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
    let json_start = text[start..].find('{').map_or(start, |i| start + i);
    let json_end = text.rfind('}').map_or(text.len(), |i| i + 1);
    let json = serde_json::from_str(&text[json_start..json_end])
        .unwrap_or_else(|e| panic!("body of {text:?} is not JSON: {e}"));
    (status, json)
}

#[tokio::test]
async fn valid_body_is_one_batch_with_refusals_by_index() {
    let (node, _, handle, client) = serve(RpcConfig::default()).await;
    let good0 = transfer(1, 0, CHAIN_ID);
    let wrong_chain = transfer(1, 1, CHAIN_ID + 1);
    let good1 = transfer(2, 0, CHAIN_ID);
    let txs = [good0.clone(), wrong_chain, good1, good0];
    let answer = client.submit_bulk(&txs).await.unwrap();
    assert_eq!(answer.accepted, 2);
    assert_eq!(
        answer.refused,
        vec![
            BulkRefusal {
                index: 1,
                code: "wrong_chain_id".into(),
                message: "wrong chain id: transaction is for chain 10, this chain is 9".into(),
            },
            BulkRefusal {
                index: 3,
                code: "duplicate".into(),
                message: "transaction already known".into(),
            },
        ]
    );
    assert_eq!(*node.batches.lock().unwrap(), vec![4]);

    // An undecodable record is the node's refusal, not a framing error.
    let mut body = Vec::new();
    push_record(&mut body, b"\x01\x02");
    push_record(&mut body, transfer(3, 0, CHAIN_ID).raw());
    let answer = client.submit_bulk_body(Bytes::from(body)).await.unwrap();
    assert_eq!(answer.accepted, 1);
    assert_eq!(answer.refused[0].code, "malformed");

    // An empty body submits nothing.
    let answer = client.submit_bulk(&[]).await.unwrap();
    assert_eq!(answer, BulkResult::default());
    assert_eq!(*node.batches.lock().unwrap(), vec![4, 2]);

    // JSON-RPC is still served on the same port.
    assert_eq!(client.chain_id().await.unwrap(), CHAIN_ID);
    handle.stop().unwrap();
}

#[tokio::test]
async fn malformed_bodies_get_400_naming_the_record() {
    let (node, addr, handle, client) = serve(RpcConfig::default()).await;
    let tx = transfer(1, 0, CHAIN_ID);
    let mut body = Vec::new();
    push_record(&mut body, tx.raw());
    push_record(&mut body, tx.raw());

    // The second record is cut short.
    let cut = &body[..body.len() - 10];
    let (status, json) = request(addr, "POST", BULK_PATH, cut).await;
    assert_eq!(status, 400);
    let msg = json["error"].as_str().unwrap();
    assert!(
        msg.contains("record 1") && msg.contains("declares"),
        "{msg}"
    );

    // Two stray bytes after a whole record: not even a length prefix.
    let mut stray = body[..4 + tx.encoded_len()].to_vec();
    stray.extend_from_slice(&[0, 1]);
    let (status, json) = request(addr, "POST", BULK_PATH, &stray).await;
    assert_eq!(status, 400);
    assert!(
        json["error"].as_str().unwrap().contains("length prefix"),
        "{json}"
    );

    // Through the client, the status and message come back as an error.
    match client.submit_bulk_body(Bytes::copy_from_slice(cut)).await {
        Err(ClientError::Http { status, message }) => {
            assert_eq!(status, 400);
            assert!(message.contains("record 1"), "{message}");
        }
        other => panic!("expected HTTP 400, got {other:?}"),
    }

    let (status, json) = request(addr, "GET", BULK_PATH, b"").await;
    assert_eq!(status, 405);
    assert!(json["error"].as_str().unwrap().contains("POST"), "{json}");

    // Nothing malformed reached the node, and the server still serves.
    assert!(node.batches.lock().unwrap().is_empty());
    assert_eq!(client.submit_bulk(&[tx]).await.unwrap().accepted, 1);
    handle.stop().unwrap();
}

#[tokio::test]
async fn oversize_bodies_get_413() {
    let cfg = RpcConfig {
        max_bulk_bytes: 4096,
        max_bulk_txs: 3,
        ..RpcConfig::default()
    };
    let (node, addr, handle, client) = serve(cfg).await;

    let txs: Vec<_> = (0..4).map(|n| transfer(1, n, CHAIN_ID)).collect();
    match client.submit_bulk(&txs).await {
        Err(ClientError::Http { status, message }) => {
            assert_eq!(status, 413);
            assert!(message.contains("more than 3 transactions"), "{message}");
        }
        other => panic!("expected HTTP 413, got {other:?}"),
    }
    assert_eq!(client.submit_bulk(&txs[..3]).await.unwrap().accepted, 3);

    // Declared length over the limit: refused before the body is read.
    let big = vec![0u8; 5000];
    let (status, json) = request(addr, "POST", BULK_PATH, &big).await;
    assert_eq!(status, 413);
    assert!(
        json["error"].as_str().unwrap().contains("4096 bytes"),
        "{json}"
    );
    assert_eq!(*node.batches.lock().unwrap(), vec![3]);
    handle.stop().unwrap();
}
