//! The channel node: its channels, its peer links, payments, closes and the
//! watchtower loop.
//!
//! All channel state sits behind one lock. Every handler that signs a new
//! state writes the changed records to the store (one synced redb
//! transaction for everything a batch of incoming frames changed) **before**
//! its signature leaves the node, while still holding the lock, so nothing
//! another task sends can be ahead of the disk.
//!
//! Payments routed through an intermediary (hash locks) are in [`routing`];
//! withdrawals in [`withdraw`].

mod payword;
mod routing;
mod withdraw;

pub use payword::{PaywordReport, PaywordView};
pub use routing::RoutedReport;

use crate::chain::Chain;
use crate::htlc::{Invoice, locks_match};
use crate::signer::StateSigner;
use crate::store::{ChannelRecord, HtlcRecord, PaywordRecord, Phase, Store, WatchedRecord};
use crate::wire::{Msg, PaywordTerms, codes, verify_state};
use crate::{NodeError, peer};
use lakh_types::codec::{BoundedVec, Text};
use lakh_types::modules::channel::{
    ChannelAction, ChannelId, ChannelRef, ChannelState, ChannelStatus, Hash32, Lock,
    MIN_CHALLENGE_BLOCKS, Sig64, SignedState, channel_id, hash32,
};
use lakh_types::{Address, AssetId, PrivateKey};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// Most frames handled (and committed) as one batch.
const MAX_BATCH: usize = 4_096;
/// How long a payment waits for its countersignature.
const PAY_TIMEOUT: Duration = Duration::from_secs(30);

type Done = oneshot::Sender<Result<Duration, NodeError>>;
/// Where the peer's two signatures on a withdrawal go (withdraw, state).
type WithdrawSignatures = oneshot::Sender<Result<(Sig64, Sig64), NodeError>>;

/// A state this node signed and sent, waiting for the peer's signature.
struct Pending {
    state: ChannelState,
    /// This node's signature on it.
    signature: Sig64,
    /// The locks it commits to.
    locks: Vec<Lock>,
    sent: Instant,
    done: Option<Done>,
}

struct Chan {
    rec: ChannelRecord,
    inflight: VecDeque<Pending>,
}

impl Chan {
    /// The state the next update builds on: the newest one in flight, else the latest.
    fn base(&self) -> &ChannelState {
        self.inflight.back().map_or(&self.rec.latest, |p| &p.state)
    }

    /// The locks of [`Chan::base`].
    fn base_locks(&self) -> &[Lock] {
        self.inflight
            .back()
            .map_or(&self.rec.latest_locks[..], |p| &p.locks[..])
    }
}

struct Link {
    id: u64,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    /// Where the peer says it listens.
    listen: String,
}

impl PaywordOut {
    /// The channel of `terms` paid from `seed`'s hash chain, nothing sent yet.
    fn new(terms: PaywordTerms, seed: &Hash32, listen: String) -> PaywordOut {
        let length = terms.length as usize;
        let mut words = vec![*seed; length + 1];
        for k in (0..length).rev() {
            words[k] = hash32(&words[k + 1]);
        }
        PaywordOut {
            terms,
            words,
            sent: 0,
            acked: 0,
            waiters: Vec::new(),
            listen,
            synced: false,
            closing: false,
        }
    }
}

/// A PayWord channel this node pays through.
struct PaywordOut {
    terms: PaywordTerms,
    /// `words[k]` is payment `k` (`words[0]` the root).
    words: Vec<Hash32>,
    sent: u32,
    acked: u32,
    waiters: Vec<(u32, oneshot::Sender<Result<u32, NodeError>>)>,
    /// Where the payee listens (to dial it again).
    listen: String,
    /// The payee acknowledged its depth since the link came up, so `sent`
    /// is where it expects the next word.
    synced: bool,
    /// The chain was seen closing it (this node's close, or one read by
    /// the watch loop): no more words are sent, and once it is gone from
    /// the chain (settled, or claimed in the window) it is forgotten.
    closing: bool,
}

#[derive(Default)]
struct Inner {
    channels: HashMap<ChannelId, Chan>,
    peers: HashMap<Address, Link>,
    joins: HashMap<ChannelId, oneshot::Sender<Result<(), NodeError>>>,
    watched: HashMap<ChannelId, WatchedRecord>,
    payword_in: HashMap<ChannelId, PaywordRecord>,
    payword_out: HashMap<ChannelId, PaywordOut>,
    /// Routed payments by hash lock.
    htlcs: HashMap<Hash32, HtlcRecord>,
    /// Invoice asks relayed for a peer: ask id → who asked.
    relayed_asks: HashMap<Hash32, Address>,
    /// This node's own invoice asks, waiting for the answer.
    invoice_waiters: HashMap<Hash32, oneshot::Sender<Result<Invoice, NodeError>>>,
    /// This node's routed payments, waiting for the secret (or a failure).
    route_waiters: HashMap<Hash32, oneshot::Sender<Result<Hash32, NodeError>>>,
    /// This node's withdrawals, waiting for the peer's signatures.
    withdraw_waiters: HashMap<ChannelId, WithdrawSignatures>,
    /// Outgoing locks the chain showed unrevealed past their expiry (or,
    /// without a chain, just past it): no state with them can pay.
    cleared: HashSet<Hash32>,
    /// Failures to pass upstream once no state this node signed downstream
    /// can still pay the lock (code, reason).
    deferred_fails: HashMap<Hash32, (String, String)>,
}

/// What handling a batch of frames does once the lock is released.
#[derive(Default)]
struct Effects {
    out: Vec<Msg>,
    dirty: Vec<ChannelId>,
    dirty_payword: Vec<ChannelId>,
    dirty_htlc: Vec<Hash32>,
    /// Messages for other peers than the batch's sender (relayed ones).
    relay: Vec<(Address, Msg)>,
    /// Routed payments to forward once the batch is stored.
    forwards: Vec<Hash32>,
    /// Whether locks may now be paid or refunded.
    resolve: bool,
    /// Secrets this node's routed payments waited for (given once stored).
    secrets: Vec<(oneshot::Sender<Result<Hash32, NodeError>>, Hash32)>,
    done: Vec<(Done, Result<Duration, NodeError>)>,
    checks: Vec<(ChannelRef, u64)>,
    payword_checks: Vec<PaywordTerms>,
    deposit_checks: Vec<DepositCheck>,
}

/// What was already checked about an update before its handler runs.
#[derive(Clone, Copy, Default)]
struct Checked {
    /// Its signature (verified with its batch).
    signature: bool,
    /// The chain holds the deposits it adds.
    deposits: bool,
    /// This node's signature on the state, made with its batch.
    countersignature: Option<Sig64>,
}

/// An update that adds a deposit, waiting for the chain to show it.
struct DepositCheck {
    base: u64,
    state: ChannelState,
    signature: Sig64,
}

/// A channel as `list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelView {
    pub id: ChannelId,
    pub peer: Address,
    pub asset: AssetId,
    /// This node's index among the participants.
    pub me: u8,
    /// `open`, `closing` or `closed`.
    pub phase: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_height: Option<u64>,
    /// Version of the latest co-signed state.
    pub version: u64,
    /// Highest version this node signed.
    pub signed_version: u64,
    /// This node's balance in the latest co-signed state (base units).
    #[serde(with = "lakh_types::amount")]
    pub mine: u128,
    /// The peer's balance in it (base units).
    #[serde(with = "lakh_types::amount")]
    pub theirs: u128,
    pub is_final: bool,
    /// Held by hash locks in the latest state (base units).
    #[serde(with = "lakh_types::amount")]
    pub locked: u128,
    /// Hash locks in the latest state.
    pub locks: usize,
    /// A co-signed withdrawal waits for the chain.
    pub withdrawing: bool,
    pub updates: u64,
    pub challenge_blocks: u64,
    pub connected: bool,
}

/// What a payment did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayReport {
    pub channel: ChannelId,
    /// Payments made (each one co-signed state).
    pub count: u64,
    /// Total paid (base units).
    #[serde(with = "lakh_types::amount")]
    pub paid: u128,
    /// Version of the last co-signed state.
    pub version: u64,
    #[serde(with = "lakh_types::amount")]
    pub mine: u128,
    #[serde(with = "lakh_types::amount")]
    pub theirs: u128,
    /// Each payment's time from signing to the peer's countersignature (µs).
    #[serde(skip)]
    pub latencies_us: Vec<u64>,
}

/// A channel node.
pub struct Node {
    key: PrivateKey,
    /// Signs batches of states on every core (and verifies batches there).
    signer: StateSigner,
    me: Address,
    listen: String,
    store: Store,
    chain: Option<Chain>,
    inner: Mutex<Inner>,
    next_link: AtomicU64,
    /// The chain's height as last read (set by hand without a chain).
    height: AtomicU64,
}

fn invalid(message: impl Into<String>) -> NodeError {
    NodeError::new("invalid_input", message)
}

/// Prints one event line (JSON) on stdout.
fn emit(event: serde_json::Value) {
    println!("{event}");
}

impl Node {
    /// Opens the node's store in `data_dir` (`channels.redb`) and loads its
    /// channels. `listen` is the address announced to peers; `chain` is
    /// needed to open, close and watch channels.
    pub fn open(
        key: PrivateKey,
        data_dir: &Path,
        listen: String,
        chain: Option<Chain>,
    ) -> anyhow::Result<Arc<Node>> {
        use commonware_cryptography::Signer;
        let me = Address::from(&key.public_key());
        let store = Store::open(&data_dir.join("channels.redb"), &me)?;
        let mut inner = Inner::default();
        for rec in store.channels()? {
            inner.channels.insert(
                rec.reference.id,
                Chan {
                    rec,
                    inflight: VecDeque::new(),
                },
            );
        }
        for w in store.watched()? {
            inner.watched.insert(w.reference.id, w);
        }
        for p in store.paywords()? {
            inner.payword_in.insert(p.terms.channel.id, p);
        }
        for h in store.htlcs()? {
            inner.htlcs.insert(h.hash_lock, h);
        }
        for p in store.paywords_out()? {
            let out = PaywordOut::new(p.terms, &p.seed, p.peer_listen.as_str().to_string());
            inner.payword_out.insert(out.terms.channel.id, out);
        }
        routing::restore(&mut inner);
        let threads = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
        Ok(Arc::new(Node {
            signer: StateSigner::new(&key, threads)?,
            key,
            me,
            listen,
            store,
            chain,
            inner: Mutex::new(inner),
            next_link: AtomicU64::new(1),
            height: AtomicU64::new(0),
        }))
    }

    /// This node's address (its key).
    pub fn address(&self) -> Address {
        self.me
    }

    /// The chain this node uses, if any.
    pub fn chain(&self) -> Option<&Chain> {
        self.chain.as_ref()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves no half-written record on
        // disk (records are written whole); the memory copy is reloaded on
        // restart, so continuing with the inner value is safe.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn chain_or_err(&self) -> Result<&Chain, NodeError> {
        self.chain
            .as_ref()
            .ok_or_else(|| NodeError::new("no_chain", "this node runs without a chain (--rpc)"))
    }

    /// Writes the records `fx` changed, in one transaction; a node that
    /// cannot write its store must not send what it signed, so it stops.
    fn commit(&self, inner: &Inner, fx: &Effects) {
        let records: Vec<&ChannelRecord> = fx
            .dirty
            .iter()
            .filter_map(|id| inner.channels.get(id).map(|c| &c.rec))
            .collect();
        let paywords: Vec<&PaywordRecord> = fx
            .dirty_payword
            .iter()
            .filter_map(|id| inner.payword_in.get(id))
            .collect();
        let htlcs: Vec<&HtlcRecord> = fx
            .dirty_htlc
            .iter()
            .filter_map(|h| inner.htlcs.get(h))
            .collect();
        if let Err(e) = self.store.put_all(&records, &paywords, &htlcs) {
            tracing::error!("{e:#}");
            eprintln!(
                "channel node: cannot write its store ({e:#}); stopping before sending what it signed"
            );
            std::process::exit(74);
        }
    }

    /// Accepts peers on `listener` until the process ends.
    pub async fn serve(self: Arc<Self>, listener: TcpListener) {
        loop {
            match listener.accept().await {
                Ok((stream, _)) => {
                    let node = self.clone();
                    tokio::spawn(async move {
                        if let Err(e) = node.attach(stream, None).await {
                            tracing::debug!("inbound peer: {e}");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Dials `addr`, which must be `expected`'s node.
    pub async fn connect(self: &Arc<Self>, addr: &str, expected: Address) -> Result<(), NodeError> {
        let stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| NodeError::new("unreachable", format!("cannot reach {addr}: {e}")))?;
        self.attach(stream, Some(expected)).await.map(|_| ())
    }

    /// A link to `peer`, dialing where its channels say it listens if needed.
    async fn ensure_link(self: &Arc<Self>, peer: Address) -> Result<(), NodeError> {
        let listen = {
            let inner = self.lock();
            if inner.peers.contains_key(&peer) {
                return Ok(());
            }
            inner
                .channels
                .values()
                .find(|c| c.rec.peer() == peer && !c.rec.peer_listen.as_str().is_empty())
                .map(|c| c.rec.peer_listen.as_str().to_string())
                .or_else(|| {
                    inner
                        .payword_out
                        .values()
                        .find(|o| o.terms.channel.participants[1] == peer && !o.listen.is_empty())
                        .map(|o| o.listen.clone())
                })
        };
        match listen {
            Some(addr) => self.connect(&addr, peer).await,
            None => Err(NodeError::new(
                "peer_offline",
                format!("not connected to {peer} and no address to dial it"),
            )),
        }
    }

    /// Dials every peer of an open channel whose address is known (after a restart).
    pub async fn reconnect_all(self: &Arc<Self>) {
        let peers: Vec<Address> = {
            let inner = self.lock();
            let mut v: Vec<Address> = inner
                .channels
                .values()
                .filter(|c| c.rec.phase != (Phase::Closed {}))
                .map(|c| c.rec.peer())
                .chain(
                    inner
                        .payword_out
                        .values()
                        .map(|o| o.terms.channel.participants[1]),
                )
                .collect();
            v.sort();
            v.dedup();
            v
        };
        for p in peers {
            if let Err(e) = self.ensure_link(p).await {
                tracing::info!("reconnect {p}: {e}");
            }
        }
    }

    /// Authenticates `stream`, registers the link and starts its tasks.
    async fn attach(
        self: &Arc<Self>,
        stream: tokio::net::TcpStream,
        expected: Option<Address>,
    ) -> Result<Address, NodeError> {
        let auth = peer::handshake(stream, &self.key, &self.listen, expected).await?;
        let peer = auth.peer;
        let (tx, rx) = mpsc::unbounded_channel::<Vec<u8>>();
        tokio::spawn(write_loop(auth.writer, rx));
        let id = self.next_link.fetch_add(1, Ordering::Relaxed);
        {
            let mut inner = self.lock();
            let mut fx = Effects::default();
            // Tell the peer our latest co-signed state of every shared channel.
            let mut frames = Vec::new();
            for chan in inner.channels.values_mut() {
                if chan.rec.peer() != peer {
                    continue;
                }
                if chan.rec.peer_listen.as_str() != auth.peer_listen && !auth.peer_listen.is_empty()
                {
                    chan.rec.peer_listen = Text::clipped(&auth.peer_listen);
                    fx.dirty.push(chan.rec.reference.id);
                }
                if let Some(signatures) = chan.rec.latest_signatures {
                    frames.extend(
                        Msg::Latest {
                            state: chan.rec.latest.clone(),
                            signatures,
                            locks: chan.rec.latest_locks.clone(),
                        }
                        .frame(),
                    );
                }
            }
            for m in routing::owed_to(&inner, peer) {
                frames.extend(m.frame());
            }
            // The payee answers with the depth it holds, where paying goes on.
            for out in inner.payword_out.values() {
                if out.terms.channel.participants[1] == peer {
                    let terms = out.terms.clone();
                    frames.extend(Msg::PaywordOffer { terms }.frame());
                }
            }
            self.commit(&inner, &fx);
            if !frames.is_empty() {
                let _ = tx.send(frames);
            }
            inner.peers.insert(
                peer,
                Link {
                    id,
                    tx,
                    listen: auth.peer_listen.clone(),
                },
            );
        }
        let node = self.clone();
        tokio::spawn(async move { node.read_loop(peer, id, auth.reader).await });
        Ok(peer)
    }

    async fn read_loop(
        self: Arc<Self>,
        peer: Address,
        link: u64,
        mut reader: tokio::io::BufReader<tokio::net::tcp::OwnedReadHalf>,
    ) {
        loop {
            let first = match peer::read_frame(&mut reader).await {
                Ok(m) => m,
                Err(e) => {
                    self.refuse_and_drop(peer, link, &e);
                    break;
                }
            };
            let mut batch = vec![first];
            let mut failed = None;
            while batch.len() < MAX_BATCH {
                match peer::buffered_frame(&mut reader) {
                    Some(Ok(m)) => batch.push(m),
                    Some(Err(e)) => {
                        failed = Some(e);
                        break;
                    }
                    None => break,
                }
            }
            self.handle_batch(peer, batch);
            if let Some(e) = failed {
                self.refuse_and_drop(peer, link, &e);
                break;
            }
        }
        self.detach(peer, link);
    }

    fn refuse_and_drop(&self, peer: Address, link: u64, e: &peer::FrameError) {
        if let Some(refusal) = e.refusal() {
            let inner = self.lock();
            if let Some(l) = inner.peers.get(&peer)
                && l.id == link
            {
                let _ = l.tx.send(refusal.frame());
            }
        }
    }

    /// Forgets a link that ended; payments waiting on it fail.
    fn detach(&self, peer: Address, link: u64) {
        let mut inner = self.lock();
        if inner.peers.get(&peer).is_some_and(|l| l.id == link) {
            inner.peers.remove(&peer);
            for chan in inner.channels.values_mut() {
                if chan.rec.peer() == peer {
                    for p in chan.inflight.drain(..) {
                        if let Some(done) = p.done {
                            let _ = done.send(Err(NodeError::new(
                                "disconnected",
                                format!("the link to {peer} ended before it countersigned"),
                            )));
                        }
                    }
                }
            }
            for out in inner.payword_out.values_mut() {
                if out.terms.channel.participants[1] == peer {
                    out.synced = false;
                    for (_, w) in out.waiters.drain(..) {
                        let _ = w.send(Err(NodeError::new(
                            "disconnected",
                            format!("the link to {peer} ended before it acknowledged"),
                        )));
                    }
                }
            }
        }
    }

    /// Handles frames from `peer` as one batch: one store write, then the answers.
    fn handle_batch(self: &Arc<Self>, peer: Address, batch: Vec<Msg>) {
        let mut fx = Effects::default();
        let mut inner = self.lock();
        let verified = batch_verified(&inner, peer, &batch, &self.signer);
        let countersignatures = if verified {
            self.presign_updates(&batch)
        } else {
            Vec::new()
        };
        let mut countersignatures = countersignatures.into_iter();
        for m in batch {
            let presigned = match m {
                Msg::Update { .. } => countersignatures.next(),
                _ => None,
            };
            self.on_msg(&mut inner, peer, m, (verified, presigned), &mut fx);
        }
        fx.dirty.sort();
        fx.dirty.dedup();
        fx.dirty_payword.sort();
        fx.dirty_payword.dedup();
        fx.dirty_htlc.sort();
        fx.dirty_htlc.dedup();
        self.commit(&inner, &fx);
        send_out(&inner, peer, &fx);
        drop(inner);
        for (done, result) in fx.done {
            let _ = done.send(result);
        }
        for (waiter, secret) in std::mem::take(&mut fx.secrets) {
            let _ = waiter.send(Ok(secret));
        }
        self.spawn_routing(std::mem::take(&mut fx.forwards), fx.resolve);
        if !fx.deposit_checks.is_empty() {
            let node = self.clone();
            let checks = std::mem::take(&mut fx.deposit_checks);
            tokio::spawn(async move { node.run_deposit_checks(peer, checks).await });
        }
        if !fx.checks.is_empty() || !fx.payword_checks.is_empty() {
            let node = self.clone();
            let checks = (fx.checks, fx.payword_checks);
            tokio::spawn(async move { node.run_checks(peer, checks).await });
        }
    }

    /// This node's signature on every update's state in `batch`, in order,
    /// made together before the updates are looked at (one batch on every
    /// core); an update refused later just leaves its signature unsent.
    fn presign_updates(&self, batch: &[Msg]) -> Vec<Sig64> {
        let states: Vec<&ChannelState> = batch
            .iter()
            .filter_map(|m| match m {
                Msg::Update { state, .. } => Some(state),
                _ => None,
            })
            .collect();
        self.signer.sign(&states)
    }

    /// Handles one frame; `verified`: the batch's update and countersignature
    /// signatures were already checked together; `presigned`: this node's
    /// signature on an update's state, made with its batch.
    fn on_msg(
        &self,
        inner: &mut Inner,
        peer: Address,
        msg: Msg,
        (verified, presigned): (bool, Option<Sig64>),
        fx: &mut Effects,
    ) {
        match msg {
            Msg::Hello { .. } | Msg::Proof { .. } => fx.out.push(Msg::refuse(
                lakh_types::modules::shielded::FixedBytes([0; 32]),
                0,
                codes::HANDSHAKE,
                "the handshake is over",
            )),
            Msg::Opened {
                channel,
                challenge_blocks,
            } => {
                if channel.index_of(&self.me).is_none() || channel.index_of(&peer).is_none() {
                    fx.out.push(Msg::refuse(
                        channel.id,
                        0,
                        codes::UNKNOWN_CHANNEL,
                        "the channel is not between you and me",
                    ));
                } else if inner.channels.contains_key(&channel.id) {
                    fx.out.push(Msg::Joined {
                        channel: channel.id,
                    });
                } else {
                    fx.checks.push((channel, challenge_blocks));
                }
            }
            Msg::Joined { channel } => {
                if let Some(done) = inner.joins.remove(&channel) {
                    let _ = done.send(Ok(()));
                }
            }
            Msg::Update {
                base,
                state,
                signature,
            } => {
                let checked = Checked {
                    signature: verified,
                    deposits: false,
                    countersignature: presigned,
                };
                self.on_update(inner, peer, base, (state, signature), checked, fx)
            }
            Msg::Countersign {
                channel,
                version,
                signature,
            } => on_countersign(inner, peer, channel, version, signature, verified, fx),
            Msg::InvoiceAsk {
                id,
                payer,
                payee,
                amount,
            } => self.on_invoice_ask(inner, peer, id, (payer, payee, amount), fx),
            Msg::InvoiceGive { id, invoice } => {
                routing::on_invoice_give(inner, peer, id, invoice, fx)
            }
            Msg::AddLock {
                base,
                state,
                signature,
                lock,
                payee,
            } => {
                // Lock states are not in the batch's signature check.
                let update = routing::LockUpdate {
                    base,
                    state,
                    signature,
                    verified: false,
                };
                self.on_add_lock(inner, peer, update, lock, payee, fx)
            }
            Msg::RemoveLock {
                base,
                state,
                signature,
                hash_lock,
                paid,
            } => {
                // Lock states are not in the batch's signature check.
                let update = routing::LockUpdate {
                    base,
                    state,
                    signature,
                    verified: false,
                };
                self.on_remove_lock(inner, peer, update, hash_lock, paid, fx)
            }
            Msg::Reveal { hash_lock, secret } => {
                routing::on_reveal(inner, peer, hash_lock, secret, fx)
            }
            Msg::Fail {
                hash_lock,
                code,
                reason,
            } => routing::on_fail(inner, peer, hash_lock, code.as_str(), reason.as_str(), fx),
            Msg::WithdrawAsk {
                base,
                state,
                expiry_height,
                signature,
                state_signature,
            } => self.on_withdraw_ask(
                inner,
                peer,
                (base, state, expiry_height),
                (signature, state_signature),
                fx,
            ),
            Msg::WithdrawGive {
                channel,
                version,
                signature,
                state_signature,
            } => withdraw::on_withdraw_give(
                inner,
                peer,
                (channel, version),
                (signature, state_signature),
            ),
            Msg::Refuse {
                channel,
                version,
                code,
                reason,
            } => {
                let error = NodeError::new(code.as_str(), reason.as_str());
                if let Some(done) = inner.joins.remove(&channel) {
                    let _ = done.send(Err(error.clone()));
                }
                if let Some(done) = inner.invoice_waiters.remove(&channel) {
                    let _ = done.send(Err(error.clone()));
                }
                if let Some(done) = inner.withdraw_waiters.remove(&channel) {
                    let _ = done.send(Err(error.clone()));
                }
                if let Some(out) = inner.payword_out.get_mut(&channel)
                    && out.terms.channel.participants[1] == peer
                {
                    for (_, w) in out.waiters.drain(..) {
                        let _ = w.send(Err(error.clone()));
                    }
                }
                if let Some(asker) = inner.relayed_asks.remove(&channel) {
                    fx.relay.push((
                        asker,
                        Msg::refuse(channel, version, code.as_str(), reason.as_str()),
                    ));
                }
                if let Some(chan) = inner.channels.get_mut(&channel)
                    && chan.rec.peer() == peer
                {
                    while chan
                        .inflight
                        .back()
                        .is_some_and(|p| p.state.version >= version)
                    {
                        if let Some(p) = chan.inflight.pop_back()
                            && let Some(done) = p.done
                        {
                            fx.done.push((done, Err(error.clone())));
                        }
                    }
                } else {
                    tracing::info!("{peer} refused: {error}");
                }
            }
            Msg::Latest {
                state,
                signatures,
                locks,
            } => {
                if let Some(chan) = inner.channels.get_mut(&state.channel)
                    && chan.rec.peer() == peer
                    && state.version > chan.rec.latest.version
                    && state.is_balanced()
                    && state.withdrawn == chan.rec.latest.withdrawn
                    && locks_match(&state, &locks)
                    && cosigned(&chan.rec.reference, &state, &signatures)
                {
                    if state.version >= chan.rec.signed.version {
                        chan.rec.signed = state.clone();
                    }
                    chan.rec.latest = state;
                    chan.rec.latest_signatures = Some(signatures);
                    chan.rec.latest_locks = locks;
                    fx.dirty.push(chan.rec.reference.id);
                    fx.resolve = true;
                }
            }
            Msg::Watch {
                channel,
                state,
                signatures,
            } => {
                let fresh = inner
                    .watched
                    .get(&channel.id)
                    .is_none_or(|w| w.state.version < state.version);
                if state.channel != channel.id || !cosigned(&channel, &state, &signatures) {
                    fx.out.push(Msg::refuse(
                        channel.id,
                        state.version,
                        codes::BAD_SIGNATURE,
                        "a watched state needs both participants' signatures",
                    ));
                } else if fresh {
                    let rec = WatchedRecord {
                        reference: channel,
                        state,
                        signatures,
                        disputed: 0,
                        done: false,
                    };
                    if let Err(e) = self.store.put_watched(&rec) {
                        fx.out
                            .push(Msg::refuse(channel.id, 0, codes::STORE, &e.to_string()));
                    } else {
                        inner.watched.insert(channel.id, rec);
                    }
                }
            }
            Msg::PaywordOffer { terms } => {
                let id = terms.channel.id;
                if terms.channel.participants != [peer, self.me] {
                    fx.out.push(Msg::refuse(
                        id,
                        0,
                        codes::UNKNOWN_CHANNEL,
                        "a PayWord channel pays its second participant",
                    ));
                } else if let Some(rec) = inner.payword_in.get(&id) {
                    fx.out.push(Msg::PaywordAck {
                        channel: id,
                        depth: rec.depth,
                    });
                } else {
                    fx.payword_checks.push(terms);
                }
            }
            Msg::PaywordPay {
                channel,
                first_depth,
                words,
            } => on_payword_pay(inner, peer, channel, first_depth, &words, fx),
            Msg::PaywordAck { channel, depth } => {
                if let Some(out) = inner.payword_out.get_mut(&channel)
                    && out.terms.channel.participants[1] == peer
                {
                    out.acked = out.acked.max(depth);
                    // On a new link the payee's (stored) depth is where
                    // paying goes on: words sent past it were lost.
                    out.sent = if out.synced {
                        out.sent.max(depth)
                    } else {
                        depth
                    };
                    out.synced = true;
                    let acked = out.acked;
                    let (ready, waiting) = std::mem::take(&mut out.waiters)
                        .into_iter()
                        .partition(|(d, _)| *d <= acked);
                    out.waiters = waiting;
                    for (_, w) in ready {
                        let _ = w.send(Ok(acked));
                    }
                }
            }
        }
    }

    /// The checks every state a peer proposes passes before its content is
    /// looked at: a channel with the peer, open, no withdrawal or update of
    /// this node's in flight, a version past everything this node signed,
    /// built on its latest co-signed state, signed by the peer.
    fn receivable<'a>(
        &self,
        inner: &'a mut Inner,
        peer: Address,
        base: u64,
        (state, signature): (&ChannelState, &Sig64),
        verified: bool,
    ) -> Result<&'a mut Chan, (&'static str, String)> {
        let (id, version) = (state.channel, state.version);
        let Some(chan) = inner.channels.get_mut(&id).filter(|c| c.rec.peer() == peer) else {
            return Err((codes::UNKNOWN_CHANNEL, format!("no channel {id} with you")));
        };
        if chan.rec.phase != (Phase::Open {}) {
            let phase = chan.rec.phase.name();
            return Err((codes::NOT_OPEN, format!("channel {id} is {phase}")));
        }
        if chan.rec.withdrawal.is_some() {
            return Err((
                codes::WITHDRAWING,
                format!("a withdrawal on channel {id} waits for the chain"),
            ));
        }
        if !chan.inflight.is_empty() {
            return Err((
                codes::BUSY,
                format!("an update of mine on channel {id} is in flight"),
            ));
        }
        if version < chan.rec.next_version() {
            let signed = chan.rec.next_version() - 1;
            return Err((
                codes::WRONG_VERSION,
                format!("version {version} is not past {signed} (the highest I signed)"),
            ));
        }
        if base != chan.rec.latest.version {
            let latest = chan.rec.latest.version;
            return Err((
                codes::WRONG_VERSION,
                format!(
                    "version {version} builds on version {base}; my latest co-signed is {latest}"
                ),
            ));
        }
        if state.is_final && chan.rec.latest.locked > 0 {
            return Err((
                codes::LOCKS_PENDING,
                "a final state holds no locks; pay or refund them first".into(),
            ));
        }
        if !verified && !verify_state(&peer, state, signature) {
            return Err((
                codes::BAD_SIGNATURE,
                format!("your signature on version {version} does not verify"),
            ));
        }
        Ok(chan)
    }

    /// Signs the peer's `state` (holding `locks`), makes it the latest and
    /// queues the countersignature; the caller commits before it is sent.
    fn countersign(
        &self,
        chan: &mut Chan,
        (state, signature): (ChannelState, Sig64),
        (mine, locks): (Sig64, Vec<Lock>),
        fx: &mut Effects,
    ) {
        let (id, version) = (state.channel, state.version);
        let me = usize::from(chan.rec.me);
        let mut signatures = [mine; 2];
        signatures[1 - me] = signature;
        chan.rec.latest = state.clone();
        chan.rec.latest_signatures = Some(signatures);
        chan.rec.latest_locks = BoundedVec::new(locks).unwrap_or_else(BoundedVec::empty);
        chan.rec.signed = state;
        chan.rec.updates += 1;
        fx.dirty.push(id);
        fx.out.push(Msg::Countersign {
            channel: id,
            version,
            signature: mine,
        });
    }

    /// The payee's side of an update: countersign it if it pays this node
    /// (or finalises the latest balances), after writing it to the store.
    fn on_update(
        &self,
        inner: &mut Inner,
        peer: Address,
        base: u64,
        (state, signature): (ChannelState, Sig64),
        checked: Checked,
        fx: &mut Effects,
    ) {
        let (id, version) = (state.channel, state.version);
        let chan = match self.receivable(inner, peer, base, (&state, &signature), checked.signature)
        {
            Ok(chan) => chan,
            Err((code, reason)) => {
                fx.out.push(Msg::refuse(id, version, code, &reason));
                return;
            }
        };
        let mut refuse = |code: &str, reason: String| {
            fx.out.push(Msg::refuse(id, version, code, &reason));
        };
        let base_state = &chan.rec.latest;
        let me = usize::from(chan.rec.me);
        let same_locks =
            state.locked == base_state.locked && state.locks_root == base_state.locks_root;
        if state.deposits != base_state.deposits {
            let them = 1 - me;
            let added = state.deposits[them].checked_sub(base_state.deposits[them]);
            let shape = added.is_some_and(|d| {
                d > 0
                    && state.deposits[me] == base_state.deposits[me]
                    && state.withdrawn == base_state.withdrawn
                    && same_locks
                    && !state.is_final
                    && state.balances[me] == base_state.balances[me]
                    && base_state.balances[them].checked_add(d) == Some(state.balances[them])
            });
            if !shape {
                return refuse(
                    codes::BAD_STATE,
                    "a deposit update adds the deposit to its depositor's balance and changes nothing else".into(),
                );
            }
            if !checked.deposits {
                fx.deposit_checks.push(DepositCheck {
                    base,
                    state,
                    signature,
                });
                return;
            }
        }
        let base = base_state;
        let same_books = state.withdrawn == base.withdrawn && same_locks && state.is_balanced();
        if !same_books {
            return refuse(
                codes::BAD_STATE,
                "an update must keep the withdrawals and locks and add up".into(),
            );
        }
        if state.is_final {
            if state.balances != base.balances {
                return refuse(
                    codes::BAD_STATE,
                    "a final state must keep the latest balances".into(),
                );
            }
        } else if state.balances[me] < base.balances[me] && state.deposits == base.deposits {
            // Equal balances are a state that changes nothing but its
            // version: it supersedes one the payer signed and I refused.
            return refuse(
                codes::NOT_PAYING,
                "an update must not take from me; I only countersign payments to me".into(),
            );
        }
        let locks = chan.rec.latest_locks.to_vec();
        let mine = checked
            .countersignature
            .unwrap_or_else(|| state.sign(&self.key));
        self.countersign(chan, (state, signature), (mine, locks), fx);
    }

    /// Verifies channels announced by peers on chain, then joins them.
    async fn run_checks(
        self: Arc<Self>,
        peer: Address,
        (checks, payword_checks): (Vec<(ChannelRef, u64)>, Vec<PaywordTerms>),
    ) {
        for (channel, challenge_blocks) in checks {
            let answer = match self.verify_opened(&channel, challenge_blocks).await {
                Ok(state) => {
                    let me = channel.index_of(&self.me).unwrap_or(0) as u8;
                    let mut inner = self.lock();
                    let listen = inner
                        .peers
                        .get(&peer)
                        .map(|l| l.listen.clone())
                        .unwrap_or_default();
                    let rec = ChannelRecord {
                        reference: channel,
                        me,
                        challenge_blocks,
                        peer_listen: Text::clipped(&listen),
                        latest: state.clone(),
                        latest_signatures: None,
                        latest_locks: BoundedVec::empty(),
                        signed: state,
                        phase: Phase::Open {},
                        updates: 0,
                        withdrawal: None,
                    };
                    let fx = Effects {
                        dirty: vec![channel.id],
                        ..Effects::default()
                    };
                    inner.channels.entry(channel.id).or_insert(Chan {
                        rec,
                        inflight: VecDeque::new(),
                    });
                    self.commit(&inner, &fx);
                    emit(
                        serde_json::json!({"event": "joined", "channel": channel.id, "peer": peer}),
                    );
                    Msg::Joined {
                        channel: channel.id,
                    }
                }
                Err(e) => Msg::refuse(channel.id, 0, &e.code, &e.message),
            };
            self.send_to(peer, &[answer]);
        }
        for terms in payword_checks {
            let id = terms.channel.id;
            let answer = match self.verify_payword(&terms).await {
                Ok(()) => {
                    let mut inner = self.lock();
                    let rec = inner
                        .payword_in
                        .entry(id)
                        .or_insert(PaywordRecord {
                            word: terms.root,
                            depth: 0,
                            terms,
                        })
                        .clone();
                    if let Err(e) = self.store.put_payword(&[&rec]) {
                        Msg::refuse(id, 0, codes::STORE, &e.to_string())
                    } else {
                        Msg::PaywordAck {
                            channel: id,
                            depth: rec.depth,
                        }
                    }
                }
                Err(e) => Msg::refuse(id, 0, &e.code, &e.message),
            };
            self.send_to(peer, &[answer]);
        }
    }

    /// Countersigns deposit updates once the chain shows their deposits.
    async fn run_deposit_checks(self: Arc<Self>, peer: Address, checks: Vec<DepositCheck>) {
        for c in checks {
            let id = c.state.channel;
            let on_chain = match self.chain_or_err() {
                Ok(chain) => chain.channel(&id).await,
                Err(e) => Err(e),
            };
            let shown = match &on_chain {
                Ok(Some(a)) => (0..2).all(|i| a.channel.deposits[i] >= c.state.deposits[i]),
                _ => false,
            };
            if !shown {
                let reason = match on_chain {
                    Err(e) => format!("cannot check the deposit on chain: {e}"),
                    _ => "the chain does not hold the deposit this state counts".into(),
                };
                self.send_to(
                    peer,
                    &[Msg::refuse(
                        id,
                        c.state.version,
                        codes::NOT_ON_CHAIN,
                        &reason,
                    )],
                );
                continue;
            }
            let mut fx = Effects::default();
            let mut inner = self.lock();
            let checked = Checked {
                signature: false,
                deposits: true,
                countersignature: None,
            };
            self.on_update(
                &mut inner,
                peer,
                c.base,
                (c.state, c.signature),
                checked,
                &mut fx,
            );
            self.commit(&inner, &fx);
            send_out(&inner, peer, &fx);
        }
    }

    /// Adds `amount` to this node's deposit on chain, then co-signs a state
    /// that counts it (so it can be paid off chain).
    pub async fn deposit(
        self: &Arc<Self>,
        peer: Option<Address>,
        channel: Option<ChannelId>,
        amount: u128,
    ) -> Result<ChannelView, NodeError> {
        let chain = self.chain_or_err()?;
        if amount == 0 {
            return Err(invalid("the amount must be positive"));
        }
        let id = self.find_channel(peer, channel)?;
        let (reference, peer) = {
            let inner = self.lock();
            let chan = inner
                .channels
                .get(&id)
                .ok_or_else(|| NodeError::new("unknown_channel", "no such channel"))?;
            (chan.rec.reference, chan.rec.peer())
        };
        chain
            .send(ChannelAction::Deposit {
                channel: reference,
                amount,
            })
            .await?;
        emit(
            serde_json::json!({"event": "deposited", "channel": id, "amount": amount.to_string()}),
        );
        self.ensure_link(peer).await?;
        self.propose(id, peer, |state, me| {
            state.deposits[me] = state.deposits[me].checked_add(amount)?;
            state.balances[me] = state.balances[me].checked_add(amount)?;
            Some(())
        })
        .await?;
        self.view(&id)
            .ok_or_else(|| NodeError::new("unknown_channel", "the channel vanished"))
    }

    /// Signs and sends one update of the latest state (`change` applied,
    /// version past every signed one) and waits for its countersignature.
    async fn propose(
        self: &Arc<Self>,
        id: ChannelId,
        peer: Address,
        change: impl FnOnce(&mut ChannelState, usize) -> Option<()>,
    ) -> Result<(), NodeError> {
        let rx = self.propose_with(
            id,
            peer,
            |state, locks, me| {
                let mut state = state.clone();
                change(&mut state, me).ok_or_else(|| invalid("the new state overflows"))?;
                Ok((state, locks.to_vec()))
            },
            |base, state, signature| Msg::Update {
                base,
                state,
                signature,
            },
            None,
        )?;
        countersigned(rx).await
    }

    /// Signs the state `change` makes of the latest one (and its locks; the
    /// version is set past every signed one), stores it with `htlc`, sends it
    /// in the message `wrap` makes of (base version, state, signature), and
    /// returns the countersignature's receiver.
    fn propose_with(
        &self,
        id: ChannelId,
        peer: Address,
        change: impl FnOnce(
            &ChannelState,
            &[Lock],
            usize,
        ) -> Result<(ChannelState, Vec<Lock>), NodeError>,
        wrap: impl FnOnce(u64, ChannelState, Sig64) -> Msg,
        htlc: Option<HtlcRecord>,
    ) -> Result<oneshot::Receiver<Result<Duration, NodeError>>, NodeError> {
        let mut inner = self.lock();
        let Inner {
            channels,
            peers,
            htlcs,
            ..
        } = &mut *inner;
        let link = peers
            .get(&peer)
            .ok_or_else(|| NodeError::new("peer_offline", format!("not connected to {peer}")))?;
        let chan = channels
            .get_mut(&id)
            .filter(|c| c.rec.peer() == peer)
            .ok_or_else(|| NodeError::new("unknown_channel", "no such channel"))?;
        if chan.rec.phase != (Phase::Open {}) {
            return Err(NodeError::new(codes::NOT_OPEN, "the channel is not open"));
        }
        if chan.rec.withdrawal.is_some() {
            return Err(NodeError::new(
                codes::WITHDRAWING,
                "a withdrawal waits for the chain",
            ));
        }
        if !chan.inflight.is_empty() {
            return Err(NodeError::new(codes::BUSY, "payments are in flight"));
        }
        let (mut state, locks) = change(
            &chan.rec.latest,
            &chan.rec.latest_locks,
            usize::from(chan.rec.me),
        )?;
        state.version = chan.rec.next_version();
        let signature = state.sign(&self.key);
        chan.rec.signed = state.clone();
        let mut htlc = htlc;
        if let Some(hop) = htlc.as_mut().and_then(|h| h.outgoing.as_mut()) {
            hop.added_version = state.version;
        }
        let htlc_refs: Vec<&HtlcRecord> = htlc.iter().collect();
        if let Err(e) = self.store.put_all(&[&chan.rec], &[], &htlc_refs) {
            return Err(NodeError::new(codes::STORE, format!("{e:#}")));
        }
        if let Some(h) = htlc {
            htlcs.insert(h.hash_lock, h);
        }
        let (tx, rx) = oneshot::channel();
        let _ = link
            .tx
            .send(wrap(chan.rec.latest.version, state.clone(), signature).frame());
        chan.inflight.push_back(Pending {
            state,
            signature,
            locks,
            sent: Instant::now(),
            done: Some(tx),
        });
        Ok(rx)
    }

    async fn verify_opened(
        &self,
        channel: &ChannelRef,
        challenge_blocks: u64,
    ) -> Result<ChannelState, NodeError> {
        let chain = self.chain_or_err()?;
        let not_on_chain = |why: &str| NodeError::new(codes::NOT_ON_CHAIN, why.to_string());
        let answer = chain
            .channel(&channel.id)
            .await?
            .ok_or_else(|| not_on_chain("the chain has no such channel"))?;
        let c = answer.channel;
        if c.reference() != *channel
            || c.challenge_blocks != challenge_blocks
            || c.payword.is_some()
            || c.status != (ChannelStatus::Open {})
        {
            return Err(not_on_chain(
                "the chain's channel differs from the announced one or is not open",
            ));
        }
        Ok(c.state)
    }

    async fn verify_payword(&self, terms: &PaywordTerms) -> Result<(), NodeError> {
        let Some(chain) = self.chain.as_ref() else {
            // Without a chain (the bench) the terms are taken as offered.
            return Ok(());
        };
        let c = chain
            .channel(&terms.channel.id)
            .await?
            .ok_or_else(|| NodeError::new(codes::NOT_ON_CHAIN, "no such PayWord channel"))?
            .channel;
        let on_chain = c.payword.as_ref().is_some_and(|p| {
            p.root == terms.root && p.length == terms.length && p.unit_amount == terms.unit_amount
        });
        if c.reference() != terms.channel || !on_chain {
            return Err(NodeError::new(
                codes::NOT_ON_CHAIN,
                "the chain's PayWord channel differs from the offer",
            ));
        }
        Ok(())
    }

    fn send_to(&self, peer: Address, msgs: &[Msg]) {
        let inner = self.lock();
        if let Some(l) = inner.peers.get(&peer) {
            let mut frames = Vec::new();
            for m in msgs {
                frames.extend(m.frame());
            }
            let _ = l.tx.send(frames);
        }
    }

    /// The next channel of this node with `peer` (reached at `addr`,
    /// connected first if need be) in `asset`, and the pair's counter from
    /// the chain its id takes, so a reopened channel never accepts old
    /// states.
    async fn new_channel_ref(
        self: &Arc<Self>,
        chain: &Chain,
        (peer, addr): (Address, &str),
        asset: AssetId,
        challenge_blocks: u64,
    ) -> Result<(ChannelRef, u64), NodeError> {
        if !self.lock().peers.contains_key(&peer) {
            self.connect(addr, peer).await?;
        }
        let participants = [self.me, peer];
        let counter = chain.next_counter(participants).await?;
        let reference = ChannelRef {
            id: channel_id(
                chain.chain_id(),
                &participants,
                asset,
                counter,
                challenge_blocks,
            ),
            participants,
            asset,
        };
        Ok((reference, counter))
    }

    /// Opens a channel with `peer` (reached at `addr`) on chain with this
    /// node's `deposit` of `asset`, then announces it to the peer.
    pub async fn open_channel(
        self: &Arc<Self>,
        peer: Address,
        addr: &str,
        asset: AssetId,
        deposit: u128,
        challenge_blocks: u64,
    ) -> Result<ChannelView, NodeError> {
        let chain = self.chain_or_err()?;
        if peer == self.me {
            return Err(invalid("a channel needs two participants"));
        }
        if deposit == 0 {
            return Err(invalid("the deposit must be positive"));
        }
        let (reference, counter) = self
            .new_channel_ref(chain, (peer, addr), asset, challenge_blocks)
            .await?;
        chain
            .send(ChannelAction::Open {
                channel: reference,
                counter,
                challenge_blocks,
                deposit,
            })
            .await?;
        let opening = ChannelState::opening(reference.id, 0, deposit);
        let rec = ChannelRecord {
            reference,
            me: 0,
            challenge_blocks,
            peer_listen: Text::clipped(addr),
            latest: opening.clone(),
            latest_signatures: None,
            latest_locks: BoundedVec::empty(),
            signed: opening,
            phase: Phase::Open {},
            updates: 0,
            withdrawal: None,
        };
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.lock();
            let fx = Effects {
                dirty: vec![reference.id],
                ..Effects::default()
            };
            inner.channels.insert(
                reference.id,
                Chan {
                    rec,
                    inflight: VecDeque::new(),
                },
            );
            self.commit(&inner, &fx);
            inner.joins.insert(reference.id, tx);
        }
        emit(serde_json::json!({"event": "opened", "channel": reference.id, "peer": peer}));
        self.ensure_link(peer).await?;
        self.send_to(
            peer,
            &[Msg::Opened {
                channel: reference,
                challenge_blocks,
            }],
        );
        match tokio::time::timeout(PAY_TIMEOUT, rx).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(e),
            _ => {
                return Err(NodeError::new(
                    "peer_offline",
                    format!("the channel is open on chain but {peer} did not join it yet"),
                ));
            }
        }
        self.view(&reference.id)
            .ok_or_else(|| NodeError::new("unknown_channel", "the channel vanished"))
    }

    /// Adds a channel both nodes agreed on without the chain: only for the
    /// bench and tests, which measure the off-chain protocol alone.
    pub fn adopt_offchain(&self, reference: ChannelRef, deposits: [u128; 2], peer_listen: &str) {
        let Some(me) = reference.index_of(&self.me) else {
            return;
        };
        let state = ChannelState {
            channel: reference.id,
            version: 0,
            deposits,
            withdrawn: [0; 2],
            balances: deposits,
            locked: 0,
            locks_root: lakh_types::modules::shielded::FixedBytes([0; 32]),
            is_final: false,
        };
        let rec = ChannelRecord {
            reference,
            me: me as u8,
            challenge_blocks: MIN_CHALLENGE_BLOCKS,
            peer_listen: Text::clipped(peer_listen),
            latest: state.clone(),
            latest_signatures: None,
            latest_locks: BoundedVec::empty(),
            signed: state,
            phase: Phase::Open {},
            updates: 0,
            withdrawal: None,
        };
        let mut inner = self.lock();
        let fx = Effects {
            dirty: vec![reference.id],
            ..Effects::default()
        };
        inner.channels.entry(reference.id).or_insert(Chan {
            rec,
            inflight: VecDeque::new(),
        });
        self.commit(&inner, &fx);
    }

    /// Pays `to` `count` times `amount` (base units) through an open
    /// channel: each payment is one state signed by this node, written to
    /// the store before it is sent, and countersigned by the peer. The
    /// payments are pipelined; the call returns once all are countersigned.
    pub async fn pay(
        self: &Arc<Self>,
        to: Address,
        amount: u128,
        count: u64,
    ) -> Result<PayReport, NodeError> {
        if amount == 0 || count == 0 {
            return Err(invalid("the amount and count must be positive"));
        }
        let total = amount
            .checked_mul(u128::from(count))
            .ok_or_else(|| invalid("amount × count overflows"))?;
        self.ensure_link(to).await?;
        let (id, waiters) = {
            let mut inner = self.lock();
            let Inner {
                channels, peers, ..
            } = &mut *inner;
            let link = peers
                .get(&to)
                .ok_or_else(|| NodeError::new("peer_offline", format!("not connected to {to}")))?;
            let chan = channels
                .values_mut()
                .filter(|c| c.rec.peer() == to && c.rec.phase == (Phase::Open {}))
                .filter(|c| !c.base().is_final && c.rec.withdrawal.is_none())
                .find(|c| c.base().balances[usize::from(c.rec.me)] >= total)
                .ok_or_else(|| {
                    NodeError::new(
                        "insufficient",
                        format!("no open channel with {to} holds {total} of mine"),
                    )
                })?;
            let me = usize::from(chan.rec.me);
            let mut state = chan.base().clone();
            let locks = chan.base_locks().to_vec();
            let mut base = state.version;
            let first = chan.rec.next_version();
            let mut states = Vec::with_capacity(count as usize);
            for version in first..first + count {
                state.version = version;
                state.balances[me] -= amount;
                state.balances[1 - me] += amount;
                states.push(state.clone());
            }
            let signatures = self.signer.sign(&states.iter().collect::<Vec<_>>());
            if let Some(last) = states.last() {
                chan.rec.signed = last.clone();
            }
            // On disk before any of these signatures leaves the node.
            if let Err(e) = self.store.put(&[&chan.rec]) {
                return Err(NodeError::new(codes::STORE, format!("{e:#}")));
            }
            let mut frames = Vec::with_capacity(states.len() * 200);
            let mut waiters = Vec::with_capacity(states.len());
            let now = Instant::now();
            for (state, signature) in states.into_iter().zip(signatures) {
                frames.extend(
                    Msg::Update {
                        base,
                        state: state.clone(),
                        signature,
                    }
                    .frame(),
                );
                base = state.version;
                let (tx, rx) = oneshot::channel();
                chan.inflight.push_back(Pending {
                    state,
                    signature,
                    locks: locks.clone(),
                    sent: now,
                    done: Some(tx),
                });
                waiters.push(rx);
            }
            let _ = link.tx.send(frames);
            (chan.rec.reference.id, waiters)
        };
        let mut latencies_us = Vec::with_capacity(waiters.len());
        for rx in waiters {
            match tokio::time::timeout(PAY_TIMEOUT, rx).await {
                Ok(Ok(Ok(d))) => latencies_us.push(d.as_micros() as u64),
                Ok(Ok(Err(e))) => return Err(e),
                Ok(Err(_)) | Err(_) => {
                    return Err(NodeError::new(
                        "timeout",
                        "the peer did not countersign in time",
                    ));
                }
            }
        }
        let view = self
            .view(&id)
            .ok_or_else(|| NodeError::new("unknown_channel", "the channel vanished"))?;
        Ok(PayReport {
            channel: id,
            count,
            paid: total,
            version: view.version,
            mine: view.mine,
            theirs: view.theirs,
            latencies_us,
        })
    }

    /// Closes the channel with `peer` (or `channel`): cooperatively (a final
    /// state co-signed, then `coop_close`), or alone (`close` with the latest
    /// co-signed state; the watch loop settles after the window).
    pub async fn close(
        self: &Arc<Self>,
        peer: Option<Address>,
        channel: Option<ChannelId>,
        unilateral: bool,
    ) -> Result<ChannelView, NodeError> {
        let chain = self.chain_or_err()?;
        if let Some(id) = channel
            && self.lock().payword_out.contains_key(&id)
        {
            return self.payword_close(id).await;
        }
        let id = self.find_channel(peer, channel)?;
        if unilateral {
            let (reference, state) = {
                let inner = self.lock();
                let chan = inner
                    .channels
                    .get(&id)
                    .ok_or_else(|| NodeError::new("unknown_channel", "no such channel"))?;
                let state = chan.rec.latest_signatures.map(|signatures| SignedState {
                    state: chan.rec.latest.clone(),
                    signatures,
                });
                (chan.rec.reference, state)
            };
            chain
                .send(ChannelAction::Close {
                    channel: reference,
                    state,
                })
                .await?;
            let answer = chain.channel(&id).await?;
            let mut inner = self.lock();
            if let Some(chan) = inner.channels.get_mut(&id) {
                chan.rec.phase = match answer.map(|a| a.channel.status) {
                    Some(ChannelStatus::Closing {
                        deadline_height, ..
                    }) => Phase::Closing { deadline_height },
                    _ => Phase::Closed {},
                };
                let fx = Effects {
                    dirty: vec![id],
                    ..Effects::default()
                };
                self.commit(&inner, &fx);
            }
            drop(inner);
            emit(serde_json::json!({"event": "closing", "channel": id}));
            return self
                .view(&id)
                .ok_or_else(|| NodeError::new("unknown_channel", "the channel vanished"));
        }
        let peer = {
            let inner = self.lock();
            inner
                .channels
                .get(&id)
                .map(|c| c.rec.peer())
                .ok_or_else(|| NodeError::new("unknown_channel", "no such channel"))?
        };
        if self.view(&id).is_some_and(|v| v.locked > 0) {
            return Err(NodeError::new(
                codes::LOCKS_PENDING,
                "the channel holds locks: a final state holds none (wait until they are paid or refunded, or close alone)",
            ));
        }
        self.ensure_link(peer).await?;
        // The final state: the latest balances, marked final, co-signed.
        self.propose(id, peer, |state, _| {
            state.is_final = true;
            Some(())
        })
        .await?;
        let (reference, signed) = {
            let inner = self.lock();
            let chan = inner
                .channels
                .get(&id)
                .ok_or_else(|| NodeError::new("unknown_channel", "no such channel"))?;
            let signatures = chan
                .rec
                .latest_signatures
                .ok_or_else(|| NodeError::new(codes::BAD_STATE, "no co-signed final state"))?;
            (
                chan.rec.reference,
                SignedState {
                    state: chan.rec.latest.clone(),
                    signatures,
                },
            )
        };
        chain
            .send(ChannelAction::CoopClose {
                channel: reference,
                state: signed,
            })
            .await?;
        self.set_phase(&id, Phase::Closed {});
        emit(serde_json::json!({"event": "closed", "channel": id, "how": "cooperative"}));
        self.view(&id)
            .ok_or_else(|| NodeError::new("unknown_channel", "the channel vanished"))
    }

    fn set_phase(&self, id: &ChannelId, phase: Phase) {
        let mut inner = self.lock();
        if let Some(chan) = inner.channels.get_mut(id)
            && chan.rec.phase != phase
        {
            chan.rec.phase = phase;
            let fx = Effects {
                dirty: vec![*id],
                ..Effects::default()
            };
            self.commit(&inner, &fx);
        }
    }

    fn find_channel(
        &self,
        peer: Option<Address>,
        channel: Option<ChannelId>,
    ) -> Result<ChannelId, NodeError> {
        let inner = self.lock();
        let open: Vec<ChannelId> = inner
            .channels
            .values()
            .filter(|c| c.rec.phase == (Phase::Open {}))
            .filter(|c| channel.is_none_or(|id| c.rec.reference.id == id))
            .filter(|c| peer.is_none_or(|p| c.rec.peer() == p))
            .map(|c| c.rec.reference.id)
            .collect();
        match open.as_slice() {
            [one] => Ok(*one),
            [] => Err(NodeError::new("unknown_channel", "no open channel matches")),
            _ => Err(invalid(
                "several open channels match; name one with --channel",
            )),
        }
    }

    /// Sends the latest co-signed state of every open channel to the
    /// watchtower `tower` (reached at `addr`), which disputes stale closes of
    /// them while this node is away. Returns how many it sent.
    pub async fn send_to_tower(
        self: &Arc<Self>,
        tower: Address,
        addr: &str,
    ) -> Result<usize, NodeError> {
        if !self.lock().peers.contains_key(&tower) {
            self.connect(addr, tower).await?;
        }
        let msgs: Vec<Msg> = {
            let inner = self.lock();
            inner
                .channels
                .values()
                .filter(|c| c.rec.phase != (Phase::Closed {}))
                .filter_map(|c| {
                    c.rec.latest_signatures.map(|signatures| Msg::Watch {
                        channel: c.rec.reference,
                        state: c.rec.latest.clone(),
                        signatures,
                    })
                })
                .collect()
        };
        self.send_to(tower, &msgs);
        Ok(msgs.len())
    }

    /// One channel's view.
    pub fn view(&self, id: &ChannelId) -> Option<ChannelView> {
        let inner = self.lock();
        inner
            .channels
            .get(id)
            .map(|c| view_of(&c.rec, inner.peers.contains_key(&c.rec.peer())))
    }

    /// Every channel, newest version first within each peer.
    pub fn list(&self) -> Vec<ChannelView> {
        let inner = self.lock();
        let mut v: Vec<ChannelView> = inner
            .channels
            .values()
            .map(|c| view_of(&c.rec, inner.peers.contains_key(&c.rec.peer())))
            .collect();
        v.sort_by_key(|c| (c.peer, c.id));
        v
    }

    /// How many channels this node watches for others.
    pub fn watched_count(&self) -> usize {
        self.lock().watched.values().filter(|w| !w.done).count()
    }

    /// The watchtower loop: every `every`, reads each live channel (its own
    /// and those it watches) from the chain; disputes a close that
    /// registered an older state than the newest co-signed one it holds
    /// while the window runs, and settles once the window is over. A
    /// PayWord channel paying this node that its payer closed is claimed
    /// with the deepest word held while the window runs.
    pub async fn watch_chain(self: Arc<Self>, every: Duration) {
        let Some(chain) = self.chain.as_ref() else {
            return;
        };
        let mut settle_sent: HashMap<ChannelId, u64> = HashMap::new();
        let mut claim_sent: HashMap<ChannelId, u64> = HashMap::new();
        let mut disputed: HashMap<ChannelId, u64> = HashMap::new();
        let mut on_chain = routing::OnChainLocks::default();
        // At start-up too: a secret revealed while this node was away.
        let _ = self.current_height().await;
        self.secrets_from_chain(chain, &mut on_chain).await;
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = self.current_height().await {
                tracing::warn!("height: {e}");
            }
            self.secrets_from_chain(chain, &mut on_chain).await;
            self.resolve_locks().await;
            self.paywords_on_chain(chain, &mut settle_sent).await;
            self.claim_closing_paywords(chain, &mut claim_sent).await;
            let targets: Vec<(ChannelRef, Option<SignedState>, bool)> = {
                let inner = self.lock();
                inner
                    .channels
                    .values()
                    .filter(|c| c.rec.phase != (Phase::Closed {}))
                    .map(|c| {
                        let newest = c.rec.latest_signatures.map(|signatures| SignedState {
                            state: c.rec.latest.clone(),
                            signatures,
                        });
                        (c.rec.reference, newest, true)
                    })
                    .chain(inner.watched.values().filter(|w| !w.done).map(|w| {
                        (
                            w.reference,
                            Some(SignedState {
                                state: w.state.clone(),
                                signatures: w.signatures,
                            }),
                            false,
                        )
                    }))
                    .collect()
            };
            for (reference, newest, own) in targets {
                let id = reference.id;
                let answer = match chain.channel(&id).await {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!("watch {id}: {e}");
                        continue;
                    }
                };
                let Some(answer) = answer else {
                    self.finish(&id, own);
                    continue;
                };
                if own {
                    self.chain_withdrawal(&id, &answer);
                    self.locks_on_chain(chain, &reference, &answer, &mut on_chain)
                        .await;
                }
                let deadline_height = match answer.channel.status {
                    ChannelStatus::Open {} => continue,
                    ChannelStatus::Settled {} => {
                        if !own || answer.channel.state.locked == 0 {
                            self.finish(&id, own);
                        }
                        continue;
                    }
                    ChannelStatus::Closing {
                        deadline_height, ..
                    } => deadline_height,
                };
                if own {
                    self.set_phase(&id, Phase::Closing { deadline_height });
                }
                let registered = answer.channel.state.version;
                // The next block is the earliest a dispute lands in.
                if answer.height < deadline_height
                    && let Some(newest) = newest
                    && newest.state.version > registered
                    && disputed.get(&id) != Some(&newest.state.version)
                {
                    let version = newest.state.version;
                    disputed.insert(id, version);
                    match chain
                        .send(ChannelAction::Dispute {
                            channel: reference,
                            state: newest,
                        })
                        .await
                    {
                        Ok(_) => emit(serde_json::json!({
                            "event": "disputed", "channel": id,
                            "stale_version": registered, "version": version
                        })),
                        Err(e) => tracing::warn!("dispute {id}: {e}"),
                    }
                } else if answer.height >= deadline_height
                    && settle_sent.get(&id) != Some(&answer.height)
                {
                    settle_sent.insert(id, answer.height);
                    match chain
                        .send(ChannelAction::Settle { channel: reference })
                        .await
                    {
                        Ok(_) => emit(serde_json::json!({"event": "settled", "channel": id})),
                        Err(e) => tracing::info!("settle {id}: {e}"),
                    }
                }
            }
        }
    }

    fn finish(&self, id: &ChannelId, own: bool) {
        if own {
            let was_open = self
                .lock()
                .channels
                .get(id)
                .is_some_and(|c| c.rec.phase != (Phase::Closed {}));
            self.set_phase(id, Phase::Closed {});
            if was_open {
                emit(serde_json::json!({"event": "closed", "channel": id, "how": "paid_out"}));
            }
        } else {
            let mut inner = self.lock();
            if let Some(w) = inner.watched.get_mut(id) {
                w.done = true;
                let w = w.clone();
                if let Err(e) = self.store.put_watched(&w) {
                    tracing::warn!("{e:#}");
                }
            }
        }
    }

    /// Offers `to` a PayWord channel (`terms`) paid from the hash chain of
    /// `seed`; returns once the payee keeps it.
    pub async fn payword_offer(
        self: &Arc<Self>,
        terms: PaywordTerms,
        seed: Hash32,
    ) -> Result<(), NodeError> {
        let to = terms.channel.participants[1];
        self.ensure_link(to).await?;
        let (tx, rx) = oneshot::channel();
        {
            let mut inner = self.lock();
            let listen = inner
                .peers
                .get(&to)
                .map(|l| l.listen.clone())
                .unwrap_or_default();
            let mut out = PaywordOut::new(terms.clone(), &seed, listen);
            if out.words[0] != terms.root {
                return Err(invalid("the seed does not give the root"));
            }
            out.waiters.push((0, tx));
            inner.payword_out.insert(terms.channel.id, out);
        }
        self.send_to(to, &[Msg::PaywordOffer { terms }]);
        match tokio::time::timeout(PAY_TIMEOUT, rx).await {
            Ok(Ok(Ok(_))) => Ok(()),
            Ok(Ok(Err(e))) => Err(e),
            _ => Err(NodeError::new(
                "timeout",
                "the payee did not take the offer",
            )),
        }
    }

    /// Pays `count` PayWord payments on `channel`, `per_message` words a
    /// frame; returns each frame's time from sending to the payee's
    /// acknowledgement that it stored them (µs).
    pub async fn payword_pay(
        self: &Arc<Self>,
        channel: ChannelId,
        count: u32,
        per_message: usize,
    ) -> Result<Vec<u64>, NodeError> {
        let per_message = per_message.clamp(1, crate::wire::MAX_WORDS);
        let mut waiters = Vec::new();
        {
            let mut inner = self.lock();
            let Inner {
                payword_out, peers, ..
            } = &mut *inner;
            let out = payword_out
                .get_mut(&channel)
                .ok_or_else(|| NodeError::new("unknown_channel", "no PayWord channel"))?;
            let link = peers
                .get(&out.terms.channel.participants[1])
                .ok_or_else(|| NodeError::new("peer_offline", "not connected to the payee"))?;
            let end = out
                .sent
                .checked_add(count)
                .filter(|e| *e <= out.terms.length)
                .ok_or_else(|| NodeError::new("insufficient", "past the end of the hash chain"))?;
            let mut frames = Vec::new();
            let now = Instant::now();
            while out.sent < end {
                let first = out.sent + 1;
                let last = (out.sent + per_message as u32).min(end);
                let words = out.words[first as usize..=last as usize].to_vec();
                let words = BoundedVec::new(words)
                    .ok_or_else(|| invalid("too many words in one message"))?;
                frames.extend(
                    Msg::PaywordPay {
                        channel,
                        first_depth: first,
                        words,
                    }
                    .frame(),
                );
                let (tx, rx) = oneshot::channel();
                out.waiters.push((last, tx));
                waiters.push((now, rx));
                out.sent = last;
            }
            let _ = link.tx.send(frames);
        }
        let mut latencies = Vec::with_capacity(waiters.len());
        for (sent, rx) in waiters {
            match tokio::time::timeout(PAY_TIMEOUT, rx).await {
                Ok(Ok(Ok(_))) => latencies.push(sent.elapsed().as_micros() as u64),
                Ok(Ok(Err(e))) => return Err(e),
                _ => return Err(NodeError::new("timeout", "the payee did not acknowledge")),
            }
        }
        Ok(latencies)
    }

    /// The deepest PayWord payment received on `channel`.
    pub fn payword_received(&self, channel: &ChannelId) -> Option<u32> {
        self.lock().payword_in.get(channel).map(|r| r.depth)
    }
}

fn view_of(rec: &ChannelRecord, connected: bool) -> ChannelView {
    let me = usize::from(rec.me);
    let deadline_height = match rec.phase {
        Phase::Closing { deadline_height } => Some(deadline_height),
        _ => None,
    };
    ChannelView {
        id: rec.reference.id,
        peer: rec.peer(),
        asset: rec.reference.asset,
        me: rec.me,
        phase: rec.phase.name().to_string(),
        deadline_height,
        version: rec.latest.version,
        signed_version: rec.signed.version,
        mine: rec.latest.balances[me],
        theirs: rec.latest.balances[1 - me],
        is_final: rec.latest.is_final,
        locked: rec.latest.locked,
        locks: rec.latest_locks.len(),
        withdrawing: rec.withdrawal.is_some(),
        updates: rec.updates,
        challenge_blocks: rec.challenge_blocks,
        connected,
    }
}

/// The update in flight at `version` (versions in flight are usually
/// consecutive, so it is looked up by offset first).
fn pending_at(chan: &Chan, version: u64) -> Option<&Pending> {
    let front = chan.inflight.front()?.state.version;
    let by_offset = version
        .checked_sub(front)
        .and_then(|i| chan.inflight.get(usize::try_from(i).ok()?))
        .filter(|p| p.state.version == version);
    by_offset.or_else(|| chan.inflight.iter().find(|p| p.state.version == version))
}

/// Whether every update and countersignature in `batch` is `peer`'s over its
/// state, checked as one batch (`false`: check each on its own, which names
/// the bad one). A countersignature is over the state this node sent.
fn batch_verified(inner: &Inner, peer: Address, batch: &[Msg], signer: &StateSigner) -> bool {
    let mut items: Vec<(&ChannelState, &Sig64)> = Vec::new();
    for m in batch {
        match m {
            Msg::Update {
                state, signature, ..
            } => items.push((state, signature)),
            Msg::Countersign {
                channel,
                version,
                signature,
            } => {
                let pending = inner
                    .channels
                    .get(channel)
                    .and_then(|c| pending_at(c, *version));
                match pending {
                    Some(p) => items.push((&p.state, signature)),
                    None => return false,
                }
            }
            _ => {}
        }
    }
    items.len() >= 2 && crate::wire::verify_states(&peer, &items, signer.strategy())
}

/// Sends a batch's answers to `peer` and its relayed messages to theirs.
fn send_out(inner: &Inner, peer: Address, fx: &Effects) {
    let mut to: HashMap<Address, Vec<u8>> = HashMap::new();
    for m in &fx.out {
        to.entry(peer).or_default().extend(m.frame());
    }
    for (p, m) in &fx.relay {
        to.entry(*p).or_default().extend(m.frame());
    }
    for (p, frames) in to {
        if let Some(l) = inner.peers.get(&p) {
            let _ = l.tx.send(frames);
        }
    }
}

/// Waits for a proposal's countersignature.
async fn countersigned(
    rx: oneshot::Receiver<Result<Duration, NodeError>>,
) -> Result<(), NodeError> {
    match tokio::time::timeout(PAY_TIMEOUT, rx).await {
        Ok(Ok(Ok(_))) => Ok(()),
        Ok(Ok(Err(e))) => Err(e),
        _ => Err(NodeError::new("timeout", "the peer did not countersign")),
    }
}

/// Whether both participants signed `state`.
fn cosigned(channel: &ChannelRef, state: &ChannelState, signatures: &[Sig64; 2]) -> bool {
    state.channel == channel.id
        && (0..2).all(|i| verify_state(&channel.participants[i], state, &signatures[i]))
}

/// The payer's side: the peer countersigned update `version`.
fn on_countersign(
    inner: &mut Inner,
    peer: Address,
    channel: ChannelId,
    version: u64,
    signature: Sig64,
    verified: bool,
    fx: &mut Effects,
) {
    let Some(chan) = inner
        .channels
        .get_mut(&channel)
        .filter(|c| c.rec.peer() == peer)
    else {
        return;
    };
    let Some(pos) = chan
        .inflight
        .iter()
        .position(|p| p.state.version == version)
    else {
        return;
    };
    if !verified && !verify_state(&peer, &chan.inflight[pos].state, &signature) {
        fx.out.push(Msg::refuse(
            channel,
            version,
            codes::BAD_SIGNATURE,
            "your countersignature does not verify",
        ));
        return;
    }
    // Updates are countersigned in order: the ones before are settled too
    // (or were refused and already dropped).
    let mut p = None;
    for _ in 0..=pos {
        p = chan.inflight.pop_front();
    }
    let Some(mut p) = p else {
        return;
    };
    let me = usize::from(chan.rec.me);
    let mut signatures = [signature; 2];
    signatures[me] = p.signature;
    chan.rec.latest = p.state;
    chan.rec.latest_signatures = Some(signatures);
    chan.rec.latest_locks =
        BoundedVec::new(std::mem::take(&mut p.locks)).unwrap_or_else(BoundedVec::empty);
    chan.rec.updates += 1;
    fx.dirty.push(channel);
    fx.resolve |= chan.rec.latest.locked > 0;
    if let Some(done) = p.done.take() {
        fx.done.push((done, Ok(p.sent.elapsed())));
    }
}

/// The payee's side of PayWord: each word must hash to the one before.
fn on_payword_pay(
    inner: &mut Inner,
    peer: Address,
    channel: ChannelId,
    first_depth: u32,
    words: &[Hash32],
    fx: &mut Effects,
) {
    let Some(rec) = inner
        .payword_in
        .get_mut(&channel)
        .filter(|r| r.terms.channel.participants[0] == peer)
    else {
        fx.out.push(Msg::refuse(
            channel,
            u64::from(first_depth),
            codes::UNKNOWN_CHANNEL,
            "no PayWord channel from you",
        ));
        return;
    };
    if first_depth != rec.depth + 1 {
        fx.out.push(Msg::refuse(
            channel,
            u64::from(first_depth),
            codes::WRONG_VERSION,
            &format!("expected depth {}", rec.depth + 1),
        ));
        return;
    }
    let mut word = rec.word;
    let mut depth = rec.depth;
    for w in words {
        if depth >= rec.terms.length || hash32(w) != word {
            break;
        }
        word = *w;
        depth += 1;
    }
    let bad = depth < rec.depth + words.len() as u32;
    if depth > rec.depth {
        rec.depth = depth;
        rec.word = word;
        fx.dirty_payword.push(channel);
    }
    fx.out.push(Msg::PaywordAck { channel, depth });
    if bad {
        fx.out.push(Msg::refuse(
            channel,
            u64::from(depth + 1),
            codes::BAD_PREIMAGE,
            &format!("word {} does not hash to word {depth}", depth + 1),
        ));
    }
}

async fn write_loop(
    writer: tokio::net::tcp::OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
) {
    let mut w = BufWriter::with_capacity(256 * 1024, writer);
    while let Some(frames) = rx.recv().await {
        if w.write_all(&frames).await.is_err() {
            return;
        }
        while let Ok(more) = rx.try_recv() {
            if w.write_all(&more).await.is_err() {
                return;
            }
        }
        if w.flush().await.is_err() {
            return;
        }
    }
}
