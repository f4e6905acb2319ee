//! Transaction gossip between validators: a batch accepted over RPC is
//! forwarded to every peer so whichever validator leads the next view can
//! include it. Gossip is best effort: a full queue drops the forward (the
//! transactions stay in the receiving node's mempool either way), and
//! transactions received from peers are not forwarded again.

use crate::service::NodeService;
use bytes::{Buf as _, BufMut, Bytes};
use commonware_codec::{EncodeSize, RangeCfg, Read, Write};
use commonware_cryptography::ed25519;
use commonware_p2p::{Receiver, Recipients, Sender};
use commonware_runtime::{Spawner, Supervisor};
use commonware_storage::Context as StorageContext;
use futures::{StreamExt, channel::mpsc};
use std::sync::Arc;
use tracing::debug;

/// Largest gossip message (a batch of raw signed transactions).
pub const MAX_GOSSIP_BYTES: usize = 4 * 1024 * 1024;
/// Most transactions in one gossip message.
pub const MAX_GOSSIP_TXS: usize = 20_000;
/// Batches waiting to be forwarded before new ones are dropped.
pub const GOSSIP_QUEUE: usize = 64;

pub fn encode_batch(txs: &[Bytes]) -> Vec<u8> {
    let size = txs.len().encode_size()
        + txs
            .iter()
            .map(|t| t.len().encode_size() + t.len())
            .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    txs.len().write(&mut out);
    for t in txs {
        t.len().write(&mut out);
        out.put_slice(t);
    }
    out
}

pub fn decode_batch(mut buf: Bytes) -> Option<Vec<Bytes>> {
    let count = usize::read_cfg(&mut buf, &RangeCfg::new(..=MAX_GOSSIP_TXS)).ok()?;
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let len = usize::read_cfg(
            &mut buf,
            &RangeCfg::new(..=lakh_types::limits::MAX_TX_BYTES),
        )
        .ok()?;
        if buf.remaining() < len {
            return None;
        }
        out.push(buf.split_to(len));
    }
    buf.is_empty().then_some(out)
}

pub fn start<E, S, R>(context: E, service: Arc<NodeService<E>>, (mut sender, mut receiver): (S, R))
where
    E: StorageContext + Supervisor + Spawner,
    S: Sender<PublicKey = ed25519::PublicKey>,
    R: Receiver<PublicKey = ed25519::PublicKey>,
{
    let (tx, mut rx) = mpsc::channel::<Vec<Bytes>>(GOSSIP_QUEUE);
    service.set_gossip(tx);
    context.child("gossip_send").spawn(move |_| async move {
        while let Some(batch) = rx.next().await {
            for chunk in batch.chunks(MAX_GOSSIP_TXS) {
                let msg = encode_batch(chunk);
                if msg.len() <= MAX_GOSSIP_BYTES {
                    sender.send(Recipients::All, Bytes::from(msg), false);
                }
            }
        }
    });
    context.child("gossip_recv").spawn(move |_| async move {
        while let Ok((peer, msg)) = receiver.recv().await {
            let bytes = Bytes::copy_from_slice(msg.as_ref());
            match decode_batch(bytes) {
                Some(batch) => {
                    service.ingest(batch, false).await;
                }
                None => debug!(?peer, "malformed gossip message dropped"),
            }
        }
    });
}
