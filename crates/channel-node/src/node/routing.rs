//! Payments routed through an intermediary with hash locks.
//!
//! The payer asks the payee (through the intermediary, which relays) for an
//! invoice: a hash whose secret only the payee knows, signed by the payee.
//! The payer locks the amount to the intermediary under that hash (expiry
//! e1); the intermediary locks the same amount to the payee (expiry
//! e1 − [`EXPIRY_DELTA_BLOCKS`](crate::htlc::EXPIRY_DELTA_BLOCKS)); the payee
//! reveals the secret to the intermediary, which pays the payee's lock and
//! reveals upstream, where the payer pays the first lock. Every lock change
//! is a state proposed by the lock's payer and countersigned by its payee.
//! A hop's lock record and the secret are stored in the same transaction as
//! the state that depends on them, before any signature on it leaves.

use super::*;
use crate::htlc::{
    LockRefusal, MAX_OPEN_INVOICES, MIN_EXPIRY_BLOCKS, codes as hcodes, first_expiry,
    forward_expiry, with_lock, without_lock,
};
use crate::store::Hop;

/// What a routed payment did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoutedReport {
    pub payee: Address,
    pub via: Address,
    /// The payer's channel with the intermediary.
    pub channel: ChannelId,
    pub hash_lock: Hash32,
    /// The payee's secret: with its signed invoice, the receipt.
    pub secret: Hash32,
    #[serde(with = "lakh_types::amount")]
    pub amount: u128,
    /// The expiry of the payer's lock.
    pub expiry_height: u64,
    /// From the invoice ask to the secret.
    pub elapsed_ms: u64,
}

/// A proposed state as a lock message carries it.
pub(super) struct LockUpdate {
    pub base: u64,
    pub state: ChannelState,
    pub signature: Sig64,
    /// Its signature was verified with its batch.
    pub verified: bool,
}

fn refusal_reason(r: LockRefusal) -> &'static str {
    match r {
        LockRefusal::AboveBalance => "the lock is above its payer's balance",
        LockRefusal::TooMany => "the state holds the most locks a state may",
        LockRefusal::Duplicate => "the hash is already locked",
        LockRefusal::Unknown => "no such lock",
    }
}

fn refused(r: LockRefusal) -> NodeError {
    NodeError::new(r.code(), refusal_reason(r))
}

pub(super) fn random_id() -> Hash32 {
    let mut id = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut id);
    lakh_types::modules::shielded::FixedBytes(id)
}

impl Node {
    /// The chain's height: read from the chain when the node has one.
    pub async fn current_height(&self) -> Result<u64, NodeError> {
        if let Some(chain) = self.chain.as_ref() {
            let h = chain.height().await?;
            self.height.fetch_max(h, Ordering::Relaxed);
        }
        Ok(self.height.load(Ordering::Relaxed))
    }

    /// Sets the height a node without a chain goes by (the bench and tests).
    pub fn set_offchain_height(&self, height: u64) {
        self.height.store(height, Ordering::Relaxed);
    }

    /// Pays `to` `amount` through `via`: an invoice from `to`, a lock to
    /// `via`, which locks to `to`; returns once the secret comes back.
    pub async fn pay_via(
        self: &Arc<Self>,
        to: Address,
        via: Address,
        amount: u128,
    ) -> Result<RoutedReport, NodeError> {
        if amount == 0 {
            return Err(invalid("the amount must be positive"));
        }
        if to == via || to == self.me || via == self.me {
            return Err(invalid(
                "the payee, the intermediary and this node must differ",
            ));
        }
        let started = Instant::now();
        self.ensure_link(via).await?;
        let channel = self.route_channel(via, amount)?;
        let invoice = self.ask_invoice(via, to, amount).await?;
        if !invoice.is_for(amount, &self.me, &to) {
            return Err(NodeError::new(
                hcodes::BAD_INVOICE,
                "the invoice is not the payee's for this payment",
            ));
        }
        let expiry_height = first_expiry(self.current_height().await?, 1);
        let hash_lock = invoice.hash_lock;
        let (tx, secret_rx) = oneshot::channel();
        {
            let mut inner = self.lock();
            if inner.htlcs.contains_key(&hash_lock) {
                return Err(refused(LockRefusal::Duplicate));
            }
            inner.route_waiters.insert(hash_lock, tx);
        }
        let record = HtlcRecord {
            hash_lock,
            amount,
            payee: to,
            secret: None,
            incoming: None,
            outgoing: Some(Hop {
                channel,
                expiry_height,
                added_version: 0,
            }),
            failed: false,
        };
        let added = match self.add_lock(via, record) {
            Ok(rx) => countersigned(rx).await,
            Err(e) => Err(e),
        };
        if let Err(e) = added {
            self.lock().route_waiters.remove(&hash_lock);
            if !matches!(e.code.as_str(), "timeout" | "disconnected") {
                self.mark_failed(&hash_lock, None);
            }
            return Err(e);
        }
        let secret = match tokio::time::timeout(PAY_TIMEOUT, secret_rx).await {
            Ok(Ok(result)) => result?,
            _ => {
                self.lock().route_waiters.remove(&hash_lock);
                return Err(NodeError::new(
                    "timeout",
                    "the payee did not reveal the secret in time; the lock stays until it is paid or expires",
                ));
            }
        };
        Ok(RoutedReport {
            payee: to,
            via,
            channel,
            hash_lock,
            secret,
            amount,
            expiry_height,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// An open channel with `peer` whose balance of this node covers `amount`
    /// and that can take one more lock.
    fn route_channel(&self, peer: Address, amount: u128) -> Result<ChannelId, NodeError> {
        let inner = self.lock();
        inner
            .channels
            .values()
            .filter(|c| c.rec.peer() == peer && c.rec.phase == (Phase::Open {}))
            .filter(|c| c.rec.withdrawal.is_none() && !c.rec.latest.is_final)
            .filter(|c| c.rec.latest_locks.len() < lakh_types::modules::channel::MAX_LOCKS)
            .find(|c| c.rec.latest.balances[usize::from(c.rec.me)] >= amount)
            .map(|c| c.rec.reference.id)
            .ok_or_else(|| {
                NodeError::new(
                    hcodes::INSUFFICIENT,
                    format!(
                        "no open channel with {peer} holds {amount} of mine and room for a lock"
                    ),
                )
            })
    }

    async fn ask_invoice(
        &self,
        via: Address,
        to: Address,
        amount: u128,
    ) -> Result<Invoice, NodeError> {
        let id = random_id();
        let (tx, rx) = oneshot::channel();
        self.lock().invoice_waiters.insert(id, tx);
        let ask = Msg::InvoiceAsk {
            id,
            payer: self.me,
            payee: to,
            amount,
        };
        self.send_to(via, &[ask]);
        match tokio::time::timeout(PAY_TIMEOUT, rx).await {
            Ok(Ok(result)) => result,
            _ => {
                self.lock().invoice_waiters.remove(&id);
                Err(NodeError::new("timeout", "no invoice came back"))
            }
        }
    }

    /// Signs and sends a state adding `record`'s outgoing lock (paid by this
    /// node) to the channel with `peer`, stored with the record (its hop's
    /// `added_version` set to the signed state's).
    fn add_lock(
        &self,
        peer: Address,
        record: HtlcRecord,
    ) -> Result<oneshot::Receiver<Result<Duration, NodeError>>, NodeError> {
        let hop = record
            .outgoing
            .ok_or_else(|| invalid("a lock needs its outgoing hop"))?;
        let me = self
            .lock()
            .channels
            .get(&hop.channel)
            .map(|c| c.rec.me)
            .ok_or_else(|| NodeError::new("unknown_channel", "no such channel"))?;
        let lock = Lock {
            payer: me,
            amount: record.amount,
            hash_lock: record.hash_lock,
            expiry_height: hop.expiry_height,
        };
        let payee = record.payee;
        let sent = lock.clone();
        self.propose_with(
            hop.channel,
            peer,
            |state, locks, _| with_lock(state, locks, &lock).map_err(refused),
            |base, state, signature| Msg::AddLock {
                base,
                state,
                signature,
                lock: sent,
                payee,
            },
            Some(record),
        )
    }

    /// Marks a routed payment failed here (stored); with `upstream` (a code
    /// and reason), also tells the node that locked to this one, so it takes
    /// its lock back: at once if no state this node signed downstream can
    /// still pay, else once none can (see [`Node::resolve_locks`]).
    fn mark_failed(&self, hash_lock: &Hash32, upstream: Option<(&str, &str)>) {
        let mut inner = self.lock();
        let Some(h) = inner.htlcs.get_mut(hash_lock) else {
            return;
        };
        h.failed = true;
        let mut fx = Effects {
            dirty_htlc: vec![*hash_lock],
            ..Effects::default()
        };
        if let Some((code, reason)) = upstream {
            fail_upstream(&mut inner, *hash_lock, (code, reason), &mut fx);
        }
        self.commit(&inner, &fx);
        send_out(&inner, self.me, &fx);
    }

    /// The intermediary's side: lock to the payee what the incoming lock pays.
    async fn forward(self: Arc<Self>, hash_lock: Hash32) {
        let Some(record) = self.lock().htlcs.get(&hash_lock).cloned() else {
            return;
        };
        let Some(incoming) = record.incoming else {
            return;
        };
        let payee = record.payee;
        let signed = async {
            let height = self.current_height().await?;
            let expiry_height =
                forward_expiry(incoming.expiry_height, height).ok_or_else(|| {
                    NodeError::new(
                        hcodes::EXPIRY_TOO_CLOSE,
                        "the forwarded lock would expire too soon",
                    )
                })?;
            self.ensure_link(payee)
                .await
                .map_err(|e| NodeError::new(hcodes::UNKNOWN_HOP, e.message))?;
            let channel = self.route_channel(payee, record.amount)?;
            let mut out = record.clone();
            out.outgoing = Some(Hop {
                channel,
                expiry_height,
                added_version: 0,
            });
            self.add_lock(payee, out)
        }
        .await;
        let result = match signed {
            Ok(rx) => countersigned(rx).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::info!("forward {hash_lock}: {e}");
            // A lock signed but neither countersigned nor refused may still be
            // co-signed: it waits for its expiry (see `stuck_outgoing`). A
            // refused one waits until a newer state supersedes it.
            let answered = !matches!(e.code.as_str(), "timeout" | "disconnected");
            if answered {
                self.mark_failed(&hash_lock, Some((&e.code, &e.message)));
                self.spawn_routing(Vec::new(), true);
            }
        }
    }

    /// Spawns the forwards a batch accepted and, if locks may now be paid
    /// or refunded, a sweep.
    pub(super) fn spawn_routing(self: &Arc<Self>, forwards: Vec<Hash32>, resolve: bool) {
        for h in forwards {
            tokio::spawn(self.clone().forward(h));
        }
        if resolve {
            let node = self.clone();
            tokio::spawn(async move { node.resolve_locks().await });
        }
    }

    /// Pays every lock this node pays whose secret it knows, and refunds
    /// every one that expired or failed downstream (each a state the lock's
    /// payee countersigns); supersedes refused locks of failed payments and
    /// passes failures upstream once nothing downstream can pay. Returns
    /// how many locks were removed.
    pub async fn resolve_locks(self: &Arc<Self>) -> usize {
        let height = self.height.load(Ordering::Relaxed);
        if self.chain.is_none() {
            // No chain to read reveals from: past its expiry is enough.
            clear_expired(&mut self.lock(), height);
        }
        let stuck = stuck_outgoing(&self.lock(), height);
        for h in stuck {
            self.mark_failed(
                &h,
                Some(("expired", "the forwarded lock expired unanswered")),
            );
        }
        let todo: Vec<(ChannelId, Address, Hash32, bool)> = {
            let inner = self.lock();
            let inner = &*inner;
            inner
                .channels
                .values()
                .filter(|c| c.rec.phase == (Phase::Open {}) && c.inflight.is_empty())
                .flat_map(|c| {
                    let me = c.rec.me;
                    c.rec
                        .latest_locks
                        .iter()
                        .filter(move |l| l.payer == me)
                        .filter_map(move |l| {
                            let h = inner.htlcs.get(&l.hash_lock);
                            let paid = h.is_some_and(|h| h.secret.is_some());
                            let refund = height > l.expiry_height || h.is_none_or(|h| h.failed);
                            (paid || refund).then_some((
                                c.rec.reference.id,
                                c.rec.peer(),
                                l.hash_lock,
                                paid,
                            ))
                        })
                })
                .collect()
        };
        let mut removed = 0;
        for (channel, peer, hash_lock, paid) in todo {
            let rx = self.propose_with(
                channel,
                peer,
                |state, locks, _| without_lock(state, locks, &hash_lock, paid).map_err(refused),
                |base, state, signature| Msg::RemoveLock {
                    base,
                    state,
                    signature,
                    hash_lock,
                    paid,
                },
                None,
            );
            let done = match rx {
                Ok(rx) => countersigned(rx).await,
                Err(e) => Err(e),
            };
            match done {
                Ok(()) => {
                    removed += 1;
                    if !paid {
                        self.refunded(&hash_lock);
                    }
                }
                Err(e) => tracing::info!("resolve lock {hash_lock}: {e}"),
            }
        }
        self.supersede_refused();
        self.flush_deferred_fails();
        removed
    }

    /// For each failure waiting on a lock this node signed but that was
    /// never co-signed (the payee refused it): a state that changes nothing
    /// but its version, which an honest payee countersigns, so the signed
    /// lock can no longer be closed with. The failure then goes upstream.
    fn supersede_refused(self: &Arc<Self>) {
        let todo: Vec<(ChannelId, Address)> = {
            let inner = self.lock();
            let mut todo: Vec<(ChannelId, Address)> = inner
                .deferred_fails
                .keys()
                .filter_map(|hash| {
                    inner
                        .htlcs
                        .get(hash)
                        .filter(|h| h.secret.is_none())?
                        .outgoing
                })
                .filter_map(|hop| {
                    let c = inner.channels.get(&hop.channel)?;
                    let idle = c.rec.phase == (Phase::Open {}) && c.inflight.is_empty();
                    let peer = c.rec.peer();
                    (idle
                        && c.rec.latest.version < hop.added_version
                        && inner.peers.contains_key(&peer))
                    .then_some((hop.channel, peer))
                })
                .collect();
            todo.sort_unstable_by_key(|(id, _)| *id);
            todo.dedup();
            todo
        };
        for (channel, peer) in todo {
            let rx = self.propose_with(
                channel,
                peer,
                |state, locks, _| Ok((state.clone(), locks.to_vec())),
                |base, state, signature| Msg::Update {
                    base,
                    state,
                    signature,
                },
                None,
            );
            let node = self.clone();
            tokio::spawn(async move {
                let done = match rx {
                    Ok(rx) => countersigned(rx).await,
                    Err(e) => Err(e),
                };
                match done {
                    Ok(()) => node.flush_deferred_fails(),
                    Err(e) => tracing::info!("supersede a refused lock on {channel}: {e}"),
                }
            });
        }
    }

    /// Passes upstream every deferred failure whose downstream is now clear.
    fn flush_deferred_fails(&self) {
        let mut inner = self.lock();
        let hashes: Vec<Hash32> = inner.deferred_fails.keys().copied().collect();
        let mut fx = Effects::default();
        for hash_lock in hashes {
            let Some((code, reason)) = inner.deferred_fails.remove(&hash_lock) else {
                continue;
            };
            fail_upstream(&mut inner, hash_lock, (&code, &reason), &mut fx);
        }
        send_out(&inner, self.me, &fx);
    }

    /// This node's lock of `hash_lock` came back: the payment failed here.
    fn refunded(&self, hash_lock: &Hash32) {
        let waiter = self.lock().route_waiters.remove(hash_lock);
        if let Some(w) = waiter {
            let _ = w.send(Err(NodeError::new(
                "refunded",
                "the payment failed; its lock was refunded",
            )));
        }
        self.mark_failed(
            hash_lock,
            Some(("refunded", "the payee's lock was refunded")),
        );
    }

    /// An invoice ask: answered by the payee, relayed by its peer.
    pub(super) fn on_invoice_ask(
        &self,
        inner: &mut Inner,
        peer: Address,
        id: Hash32,
        (payer, payee, amount): (Address, Address, u128),
        fx: &mut Effects,
    ) {
        let mut refuse = |code: &str, reason: &str| fx.out.push(Msg::refuse(id, 0, code, reason));
        if amount == 0 {
            return refuse("invalid_input", "the amount must be positive");
        }
        let has_channel = |inner: &Inner, with: Address| {
            inner
                .channels
                .values()
                .any(|c| c.rec.peer() == with && c.rec.phase == (Phase::Open {}))
        };
        if payee == self.me {
            let open = inner
                .htlcs
                .values()
                .filter(|h| h.payee == self.me && h.incoming.is_none() && !h.failed)
                .count();
            if open >= MAX_OPEN_INVOICES {
                return refuse(codes::BUSY, "too many invoices wait for their lock");
            }
            let (secret, invoice) = Invoice::create(&self.key, amount, payer);
            inner.htlcs.insert(
                invoice.hash_lock,
                HtlcRecord {
                    hash_lock: invoice.hash_lock,
                    amount,
                    payee: self.me,
                    secret: Some(secret),
                    incoming: None,
                    outgoing: None,
                    failed: false,
                },
            );
            fx.dirty_htlc.push(invoice.hash_lock);
            fx.out.push(Msg::InvoiceGive { id, invoice });
            return;
        }
        if !has_channel(inner, peer) {
            return refuse(
                codes::UNKNOWN_CHANNEL,
                "I relay only for my channels' peers",
            );
        }
        if !has_channel(inner, payee) || !inner.peers.contains_key(&payee) {
            return refuse(
                hcodes::UNKNOWN_HOP,
                &format!("no open, connected channel with {payee}"),
            );
        }
        if inner.relayed_asks.len() >= MAX_OPEN_INVOICES {
            return refuse(codes::BUSY, "too many invoice asks in flight");
        }
        inner.relayed_asks.insert(id, peer);
        fx.relay.push((
            payee,
            Msg::InvoiceAsk {
                id,
                payer,
                payee,
                amount,
            },
        ));
    }

    /// The lock's payee side of `AddLock`: countersign a lock this node can
    /// take (as the payee with the secret, or to forward).
    pub(super) fn on_add_lock(
        &self,
        inner: &mut Inner,
        peer: Address,
        update: LockUpdate,
        lock: Lock,
        payee: Address,
        fx: &mut Effects,
    ) {
        let LockUpdate {
            base,
            state,
            signature,
            verified,
        } = update;
        let (id, version, hash_lock) = (state.channel, state.version, lock.hash_lock);
        let height = self.height.load(Ordering::Relaxed);
        let refuse = |fx: &mut Effects, code: &str, reason: &str| {
            fx.out.push(Msg::refuse(id, version, code, reason));
        };
        let known = inner.htlcs.get(&hash_lock).cloned();
        let record = if payee == self.me {
            match known {
                Some(h) if h.secret.is_some() && h.payee == self.me && h.incoming.is_none() => {
                    if h.amount != lock.amount {
                        return refuse(
                            fx,
                            hcodes::UNKNOWN_HASH,
                            "the lock is not the invoice's amount",
                        );
                    }
                    h
                }
                Some(_) => return refuse(fx, hcodes::DUPLICATE_HASH, "the hash is already locked"),
                None => {
                    return refuse(fx, hcodes::UNKNOWN_HASH, "I made no invoice with this hash");
                }
            }
        } else {
            if known.is_some() {
                return refuse(fx, hcodes::DUPLICATE_HASH, "the hash is already locked");
            }
            HtlcRecord {
                hash_lock,
                amount: lock.amount,
                payee,
                secret: None,
                incoming: None,
                outgoing: None,
                failed: false,
            }
        };
        let too_close = if payee == self.me {
            lock.expiry_height < height.saturating_add(MIN_EXPIRY_BLOCKS)
        } else {
            forward_expiry(lock.expiry_height, height).is_none()
        };
        if too_close {
            return refuse(fx, hcodes::EXPIRY_TOO_CLOSE, "the lock expires too soon");
        }
        if payee != self.me {
            let covered = inner.channels.values().any(|c| {
                c.rec.peer() == payee
                    && c.rec.phase == (Phase::Open {})
                    && c.rec.latest.balances[usize::from(c.rec.me)] >= lock.amount
            });
            if !covered || !inner.peers.contains_key(&payee) {
                let code = if covered {
                    hcodes::UNKNOWN_HOP
                } else {
                    hcodes::INSUFFICIENT
                };
                return refuse(
                    fx,
                    code,
                    &format!("I cannot lock {} to {payee}", lock.amount),
                );
            }
        }
        let chan = match self.receivable(inner, peer, base, (&state, &signature), verified) {
            Ok(chan) => chan,
            Err((code, reason)) => return refuse(fx, code, &reason),
        };
        if usize::from(lock.payer) != 1 - usize::from(chan.rec.me) {
            return refuse(fx, codes::BAD_STATE, "a lock you add is paid by you");
        }
        let (mut expected, locks) = match with_lock(&chan.rec.latest, &chan.rec.latest_locks, &lock)
        {
            Ok(next) => next,
            Err(r) => return refuse(fx, r.code(), refusal_reason(r)),
        };
        expected.version = version;
        if expected != state {
            return refuse(
                fx,
                codes::BAD_STATE,
                "the state is not the latest with this lock added",
            );
        }
        let mine = state.sign(&self.key);
        self.countersign(chan, (state, signature), (mine, locks), fx);
        let mut record = record;
        record.incoming = Some(Hop {
            channel: id,
            expiry_height: lock.expiry_height,
            added_version: version,
        });
        if let (true, Some(secret)) = (payee == self.me, record.secret) {
            fx.out.push(Msg::Reveal { hash_lock, secret });
        } else {
            fx.forwards.push(hash_lock);
        }
        inner.htlcs.insert(hash_lock, record);
        fx.dirty_htlc.push(hash_lock);
    }

    /// The lock's payee side of `RemoveLock`: a payment to it is always
    /// countersigned; a refund only once the lock expired or failed here,
    /// and never when this node knows the secret.
    pub(super) fn on_remove_lock(
        &self,
        inner: &mut Inner,
        peer: Address,
        update: LockUpdate,
        hash_lock: Hash32,
        paid: bool,
        fx: &mut Effects,
    ) {
        let LockUpdate {
            base,
            state,
            signature,
            verified,
        } = update;
        let (id, version) = (state.channel, state.version);
        let height = self.height.load(Ordering::Relaxed);
        let refuse = |fx: &mut Effects, code: &str, reason: &str| {
            fx.out.push(Msg::refuse(id, version, code, reason));
        };
        let htlc = inner.htlcs.get(&hash_lock);
        let knows_secret = htlc.is_some_and(|h| h.secret.is_some());
        let failed_here = htlc.is_none_or(|h| h.failed && downstream_clear(inner, h));
        let chan = match self.receivable(inner, peer, base, (&state, &signature), verified) {
            Ok(chan) => chan,
            Err((code, reason)) => return refuse(fx, code, &reason),
        };
        let them = 1 - usize::from(chan.rec.me);
        let Some(lock) = chan
            .rec
            .latest_locks
            .iter()
            .find(|l| l.hash_lock == hash_lock && usize::from(l.payer) == them)
        else {
            return refuse(fx, hcodes::UNKNOWN_HASH, "no lock of yours with this hash");
        };
        let refundable = (height > lock.expiry_height || failed_here) && !knows_secret;
        if !paid && !refundable {
            return refuse(
                fx,
                hcodes::NOT_REFUNDABLE,
                "the lock has not expired, or I know its secret",
            );
        }
        let (mut expected, locks) =
            match without_lock(&chan.rec.latest, &chan.rec.latest_locks, &hash_lock, paid) {
                Ok(next) => next,
                Err(r) => return refuse(fx, r.code(), refusal_reason(r)),
            };
        expected.version = version;
        if expected != state {
            return refuse(
                fx,
                codes::BAD_STATE,
                "the state is not the latest with this lock removed",
            );
        }
        let mine = state.sign(&self.key);
        self.countersign(chan, (state, signature), (mine, locks), fx);
    }
}

/// The answer to this node's invoice ask, or one to relay back.
pub(super) fn on_invoice_give(
    inner: &mut Inner,
    peer: Address,
    id: Hash32,
    invoice: Invoice,
    fx: &mut Effects,
) {
    if let Some(asker) = inner.relayed_asks.remove(&id) {
        if invoice.payee == peer {
            fx.relay.push((asker, Msg::InvoiceGive { id, invoice }));
        }
        return;
    }
    if let Some(w) = inner.invoice_waiters.remove(&id) {
        let _ = w.send(Ok(invoice));
    }
}

/// The peer this node pays `hash_lock` to revealed its secret: store it,
/// pass it upstream, and pay the lock (after the batch is stored).
pub(super) fn on_reveal(
    inner: &mut Inner,
    peer: Address,
    hash_lock: Hash32,
    secret: Hash32,
    fx: &mut Effects,
) {
    if hash32(&secret) != hash_lock {
        fx.out.push(Msg::refuse(
            hash_lock,
            0,
            codes::BAD_PREIMAGE,
            "the secret does not hash to the lock",
        ));
        return;
    }
    let pays_peer = inner
        .htlcs
        .get(&hash_lock)
        .and_then(|h| h.outgoing)
        .and_then(|hop| inner.channels.get(&hop.channel))
        .is_some_and(|c| c.rec.peer() == peer);
    if pays_peer {
        take_secret(inner, hash_lock, secret, fx);
    }
}

/// A checked secret of a lock this node pays: stored, passed upstream,
/// given to the payment waiting for it, and the lock paid (after the batch
/// is stored). Nothing when the secret was already known.
fn take_secret(inner: &mut Inner, hash_lock: Hash32, secret: Hash32, fx: &mut Effects) {
    let Inner {
        htlcs,
        channels,
        route_waiters,
        ..
    } = inner;
    let Some(h) = htlcs.get_mut(&hash_lock) else {
        return;
    };
    if h.secret.is_some() {
        return;
    }
    h.secret = Some(secret);
    fx.dirty_htlc.push(hash_lock);
    fx.resolve = true;
    if let Some(hop) = h.incoming
        && let Some(up) = channels.get(&hop.channel)
    {
        fx.relay
            .push((up.rec.peer(), Msg::Reveal { hash_lock, secret }));
    }
    if let Some(w) = route_waiters.remove(&hash_lock) {
        fx.secrets.push((w, secret));
    }
}

/// The peer this node locked to says the payment will not go on: the lock
/// may be refunded, and the failure passed upstream.
pub(super) fn on_fail(
    inner: &mut Inner,
    peer: Address,
    hash_lock: Hash32,
    code: &str,
    reason: &str,
    fx: &mut Effects,
) {
    let Inner {
        htlcs,
        channels,
        route_waiters,
        ..
    } = &mut *inner;
    let Some(h) = htlcs.get_mut(&hash_lock) else {
        return;
    };
    let from_downstream = h
        .outgoing
        .and_then(|hop| channels.get(&hop.channel))
        .is_some_and(|c| c.rec.peer() == peer);
    if !from_downstream || h.secret.is_some() || h.failed {
        return;
    }
    h.failed = true;
    fx.dirty_htlc.push(hash_lock);
    fx.resolve = true;
    if let Some(w) = route_waiters.remove(&hash_lock) {
        let _ = w.send(Err(NodeError::new(code, reason)));
    }
    fail_upstream(inner, hash_lock, (code, reason), fx);
}

/// Tells the node that locked to this one that the payment of `hash_lock`
/// failed, if no state this node signed downstream can still pay it;
/// otherwise the failure waits in `deferred_fails`: a payee holding this
/// node's signature on its lock could still be paid by it on chain.
fn fail_upstream(
    inner: &mut Inner,
    hash_lock: Hash32,
    (code, reason): (&str, &str),
    fx: &mut Effects,
) {
    let Some(h) = inner.htlcs.get(&hash_lock) else {
        return;
    };
    let Some(hop) = h.incoming.filter(|_| h.secret.is_none()) else {
        return;
    };
    if !downstream_clear(inner, h) {
        inner
            .deferred_fails
            .insert(hash_lock, (code.to_string(), reason.to_string()));
        return;
    }
    inner.deferred_fails.remove(&hash_lock);
    if let Some(up) = inner.channels.get(&hop.channel) {
        fx.relay
            .push((up.rec.peer(), Msg::fail(hash_lock, code, reason)));
    }
}

/// Whether no state this node signed can pay `h`'s outgoing lock any more:
/// it signed none, or a co-signed state at least as new as the one that
/// added it no longer holds it, or the chain showed it unrevealed past
/// its expiry.
pub(super) fn downstream_clear(inner: &Inner, h: &HtlcRecord) -> bool {
    let Some(hop) = h.outgoing else {
        return true;
    };
    inner.cleared.contains(&h.hash_lock)
        || inner
            .channels
            .get(&hop.channel)
            .is_none_or(|c| !holds(c, &h.hash_lock) && c.rec.latest.version >= hop.added_version)
}

/// Whether `c`'s latest co-signed state, or a state in flight, holds the lock.
fn holds(c: &Chan, hash_lock: &Hash32) -> bool {
    c.rec.latest_locks.iter().any(|l| l.hash_lock == *hash_lock)
        || c.inflight
            .iter()
            .any(|p| p.locks.iter().any(|l| l.hash_lock == *hash_lock))
}

/// What this node owes `peer` on a new connection: the secret of every lock
/// the peer still pays it by, and the failure of every one it will not
/// forward (a restart may have lost the first message).
pub(super) fn owed_to(inner: &Inner, peer: Address) -> Vec<Msg> {
    let pending = |hop: &Hop, hash: &Hash32| {
        inner.channels.get(&hop.channel).is_some_and(|c| {
            c.rec.peer() == peer && c.rec.latest_locks.iter().any(|l| l.hash_lock == *hash)
        })
    };
    inner
        .htlcs
        .values()
        .filter_map(|h| {
            h.incoming.filter(|hop| pending(hop, &h.hash_lock))?;
            match h.secret {
                Some(secret) => Some(Msg::Reveal {
                    hash_lock: h.hash_lock,
                    secret,
                }),
                None if h.failed && downstream_clear(inner, h) => Some(Msg::fail(
                    h.hash_lock,
                    hcodes::UNKNOWN_HOP,
                    "the payment did not go on from here",
                )),
                None => None,
            }
        })
        .collect()
}

/// After a restart: a lock taken to forward but never forwarded never will
/// be (its forward task is gone), so it fails and may be refunded; a
/// failure not yet passed upstream waits again for its downstream.
pub(super) fn restore(inner: &mut Inner) {
    for h in inner.htlcs.values_mut() {
        if h.incoming.is_some() && h.outgoing.is_none() && h.secret.is_none() {
            h.failed = true;
        }
    }
    let pending: Vec<Hash32> = inner
        .htlcs
        .values()
        .filter(|h| h.failed && h.secret.is_none())
        .filter(|h| {
            h.incoming
                .and_then(|hop| inner.channels.get(&hop.channel))
                .is_some_and(|c| holds(c, &h.hash_lock))
        })
        .map(|h| h.hash_lock)
        .collect();
    for hash_lock in pending {
        let why = (
            hcodes::UNKNOWN_HOP.to_string(),
            "the payment did not go on from here".to_string(),
        );
        inner.deferred_fails.insert(hash_lock, why);
    }
}

/// Without a chain: every outgoing lock past its expiry whose secret is
/// unknown is taken as unrevealed.
fn clear_expired(inner: &mut Inner, height: u64) {
    let expired: Vec<Hash32> = inner
        .htlcs
        .values()
        .filter(|h| h.secret.is_none() && h.outgoing.is_some_and(|hop| height > hop.expiry_height))
        .map(|h| h.hash_lock)
        .collect();
    inner.cleared.extend(expired);
}

/// Forwarded locks signed but never co-signed nor refused (the payee went
/// silent or this node restarted), past their expiry and shown unrevealed
/// (or superseded): they can only refund now, so the payment fails and the
/// incoming lock may be refunded too.
fn stuck_outgoing(inner: &Inner, height: u64) -> Vec<Hash32> {
    inner
        .htlcs
        .values()
        .filter(|h| !h.failed && h.secret.is_none() && h.incoming.is_some())
        .filter(|h| {
            h.outgoing.is_some_and(|hop| {
                let held = inner
                    .channels
                    .get(&hop.channel)
                    .is_some_and(|c| holds(c, &h.hash_lock));
                !held && height > hop.expiry_height && downstream_clear(inner, h)
            })
        })
        .map(|h| h.hash_lock)
        .collect()
}

/// The locks this node pays whose secret it does not know and that a state
/// it signed may still pay: their secret may show up on chain.
fn unknown_outgoing(inner: &Inner) -> Vec<(Hash32, u64)> {
    inner
        .htlcs
        .values()
        .filter(|h| h.secret.is_none() && !downstream_clear(inner, h))
        .filter_map(|h| Some((h.hash_lock, h.outgoing?.expiry_height)))
        .collect()
}

/// What the watch loop already did on chain for locks.
#[derive(Default)]
pub(super) struct OnChainLocks {
    revealed: std::collections::HashSet<Hash32>,
    unlock_tried: HashMap<ChannelId, u64>,
    /// The height pending outgoing locks' secrets were last looked up at.
    secrets_checked_height: Option<u64>,
}

impl Node {
    /// A channel's locks on chain: the secrets of locks that pay this node
    /// are revealed in the module's registry while the channel closes (or,
    /// open, when a lock nears its expiry unpaid, which then closes it
    /// alone); once settled and every lock expired or revealed, `unlock`.
    pub(super) async fn locks_on_chain(
        self: &Arc<Self>,
        chain: &Chain,
        reference: &ChannelRef,
        answer: &lakh_types::modules::channel::query::ChannelAnswer,
        memo: &mut OnChainLocks,
    ) {
        let (id, height) = (reference.id, answer.height);
        let (locks, due) = {
            let inner = self.lock();
            let Some(chan) = inner.channels.get(&id) else {
                return;
            };
            let open = answer.channel.status == (ChannelStatus::Open {});
            let due: Vec<Hash32> = chan
                .rec
                .latest_locks
                .iter()
                .filter(|l| l.payer != chan.rec.me && height <= l.expiry_height)
                .filter(|l| !open || height + crate::htlc::REVEAL_MARGIN_BLOCKS >= l.expiry_height)
                .filter(|l| !memo.revealed.contains(&l.hash_lock))
                .filter_map(|l| inner.htlcs.get(&l.hash_lock).and_then(|h| h.secret))
                .collect();
            (chan.rec.latest_locks.clone(), due)
        };
        if locks.is_empty() {
            return;
        }
        for secret in &due {
            self.reveal_once(chain, secret, memo).await;
        }
        match answer.channel.status {
            ChannelStatus::Open {} if !due.is_empty() => {
                if let Err(e) = self.close(None, Some(id), true).await {
                    tracing::warn!("close {id} to claim a lock: {e}");
                }
            }
            ChannelStatus::Settled {} => {
                let last_expiry = locks.iter().map(|l| l.expiry_height).max().unwrap_or(0);
                if height > last_expiry
                    && memo.unlock_tried.get(&id) != Some(&height)
                    && locks_match(&answer.channel.state, &locks)
                {
                    memo.unlock_tried.insert(id, height);
                    let unlock = ChannelAction::Unlock {
                        channel: *reference,
                        locks,
                    };
                    match chain.send(unlock).await {
                        Ok(_) => {
                            emit(serde_json::json!({"event": "unlocked", "channel": id}));
                            self.finish(&id, true);
                        }
                        Err(e) => tracing::info!("unlock {id}: {e}"),
                    }
                }
            }
            _ => {}
        }
    }

    /// The secrets of this node's pending outgoing locks that their payee
    /// revealed only on chain (this node was away, or the payee never said):
    /// each is stored and passed upstream as if it had come off chain. A
    /// lock still unrevealed past its expiry can only refund: it is cleared.
    /// Checked once per new height.
    pub(super) async fn secrets_from_chain(
        self: &Arc<Self>,
        chain: &Chain,
        memo: &mut OnChainLocks,
    ) {
        let height = self.height.load(Ordering::Relaxed);
        if memo.secrets_checked_height == Some(height) {
            return;
        }
        memo.secrets_checked_height = Some(height);
        let unknown = unknown_outgoing(&self.lock());
        let mut cleared = false;
        for (hash_lock, expiry_height) in unknown {
            let revealed = match chain.secret_revealed(&hash_lock).await {
                Ok(at) => at.filter(|at| *at <= expiry_height),
                Err(e) => {
                    tracing::warn!("secret {hash_lock} on chain: {e}");
                    continue;
                }
            };
            match revealed {
                Some(at) => match chain.revealed_secret(&hash_lock, at).await {
                    Ok(secret) => self.learn_secret(hash_lock, secret),
                    Err(e) => tracing::warn!("secret {hash_lock} on chain: {e}"),
                },
                None if height > expiry_height => {
                    cleared |= self.lock().cleared.insert(hash_lock);
                }
                None => {}
            }
        }
        if cleared {
            self.spawn_routing(Vec::new(), true);
        }
    }

    /// Takes a secret read from the chain: stored in one transaction with
    /// nothing sent before, then relayed and the locks resolved.
    fn learn_secret(self: &Arc<Self>, hash_lock: Hash32, secret: Hash32) {
        let mut fx = Effects::default();
        let mut inner = self.lock();
        take_secret(&mut inner, hash_lock, secret, &mut fx);
        if fx.dirty_htlc.is_empty() {
            return;
        }
        self.commit(&inner, &fx);
        send_out(&inner, self.me, &fx);
        drop(inner);
        emit(serde_json::json!({"event": "secret_from_chain", "hash_lock": hash_lock}));
        for (waiter, secret) in std::mem::take(&mut fx.secrets) {
            let _ = waiter.send(Ok(secret));
        }
        self.spawn_routing(Vec::new(), fx.resolve);
    }

    /// Reveals `secret` in the chain's registry unless it already is.
    async fn reveal_once(&self, chain: &Chain, secret: &Hash32, memo: &mut OnChainLocks) {
        let hash_lock = hash32(secret);
        match chain.secret_revealed(&hash_lock).await {
            Ok(Some(_)) => {
                memo.revealed.insert(hash_lock);
            }
            Ok(None) => match chain
                .send(ChannelAction::RevealSecret { secret: *secret })
                .await
            {
                Ok(_) => {
                    memo.revealed.insert(hash_lock);
                    emit(serde_json::json!({"event": "revealed", "hash_lock": hash_lock}));
                }
                Err(e) => tracing::warn!("reveal {hash_lock}: {e}"),
            },
            Err(e) => tracing::warn!("secret {hash_lock}: {e}"),
        }
    }
}
