//! PayWord channels on chain: the payer opens one (its deposit covers the
//! hash chain) and offers it to the payee; payments are the chain's words
//! (see [`Node::payword_pay`]); the payee closes it by claiming with the
//! deepest word it holds, which pays it and returns the rest to the payer.

use super::*;
use crate::store::PaywordOutRecord;
use lakh_types::modules::channel::{MAX_PAYWORD_LENGTH, payword_root};

/// A PayWord channel as `list` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaywordView {
    pub id: ChannelId,
    pub peer: Address,
    pub asset: AssetId,
    /// `payer` or `payee`.
    pub role: String,
    /// Value of one payment (base units).
    #[serde(with = "lakh_types::amount")]
    pub unit_amount: u128,
    /// Payments the hash chain covers.
    pub length: u32,
    /// Payments made: acknowledged by the payee (payer), or held (payee).
    pub depth: u32,
    /// `depth × unit_amount` (base units).
    #[serde(with = "lakh_types::amount")]
    pub paid: u128,
}

/// What a PayWord payment did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PaywordReport {
    pub channel: ChannelId,
    /// Words sent (payments of the channel's unit).
    pub words: u32,
    #[serde(with = "lakh_types::amount")]
    pub paid: u128,
    /// The payee's acknowledged depth after the payment.
    pub depth: u32,
    /// Payments left in the hash chain.
    pub remaining: u32,
}

fn view_out(out: &PaywordOut) -> PaywordView {
    let t = &out.terms;
    PaywordView {
        id: t.channel.id,
        peer: t.channel.participants[1],
        asset: t.channel.asset,
        role: "payer".into(),
        unit_amount: t.unit_amount,
        length: t.length,
        depth: out.acked,
        paid: t.unit_amount * u128::from(out.acked),
    }
}

fn view_in(rec: &PaywordRecord) -> PaywordView {
    let t = &rec.terms;
    PaywordView {
        id: t.channel.id,
        peer: t.channel.participants[0],
        asset: t.channel.asset,
        role: "payee".into(),
        unit_amount: t.unit_amount,
        length: t.length,
        depth: rec.depth,
        paid: t.unit_amount * u128::from(rec.depth),
    }
}

/// A PayWord channel this node pays, closing, as `close` shows it: what
/// the payee acknowledged is `theirs` (it may claim that much or more in
/// the window), the rest `mine`.
fn closing_view(out: &PaywordOut, deadline_height: Option<u64>) -> ChannelView {
    let t = &out.terms;
    let deposit = t.unit_amount * u128::from(t.length);
    let paid = t.unit_amount * u128::from(out.acked);
    ChannelView {
        id: t.channel.id,
        peer: t.channel.participants[1],
        asset: t.channel.asset,
        me: 0,
        phase: "closing".into(),
        deadline_height,
        version: 0,
        signed_version: 0,
        mine: deposit - paid,
        theirs: paid,
        is_final: false,
        locked: 0,
        locks: 0,
        withdrawing: false,
        updates: u64::from(out.sent),
        challenge_blocks: 0,
        connected: false,
    }
}

impl Node {
    /// Opens a PayWord channel to `peer` (reached at `addr`) on chain:
    /// `length` payments of `unit_amount` of `asset`, deposited now; then
    /// offers it to the peer, which checks it on chain and keeps it.
    pub async fn payword_open(
        self: &Arc<Self>,
        (peer, addr): (Address, &str),
        asset: AssetId,
        (unit_amount, length): (u128, u32),
        challenge_blocks: u64,
    ) -> Result<PaywordView, NodeError> {
        let chain = self.chain_or_err()?;
        if peer == self.me {
            return Err(invalid("a channel needs two participants"));
        }
        if unit_amount == 0 || !(1..=MAX_PAYWORD_LENGTH).contains(&length) {
            return Err(invalid(format!(
                "a PayWord channel makes 1..={MAX_PAYWORD_LENGTH} payments of a positive amount"
            )));
        }
        let (reference, counter) = self
            .new_channel_ref(chain, (peer, addr), asset, challenge_blocks)
            .await?;
        let seed = routing::random_id();
        let terms = PaywordTerms {
            channel: reference,
            root: payword_root(&seed, length),
            length,
            unit_amount,
        };
        // The seed is on disk before the deposit leaves: without it the
        // payer could only take its deposit back by closing.
        let record = PaywordOutRecord {
            terms: terms.clone(),
            seed,
            peer_listen: Text::clipped(addr),
        };
        self.store
            .put_payword_out(&record)
            .map_err(|e| NodeError::new(codes::STORE, format!("{e:#}")))?;
        chain
            .send(ChannelAction::PaywordOpen {
                channel: reference,
                counter,
                challenge_blocks,
                root: terms.root,
                length,
                unit_amount,
            })
            .await?;
        emit(serde_json::json!({
            "event": "opened", "channel": reference.id, "peer": peer, "payword": true
        }));
        self.payword_offer(terms, seed).await?;
        let inner = self.lock();
        inner
            .payword_out
            .get(&reference.id)
            .map(view_out)
            .ok_or_else(|| NodeError::new("unknown_channel", "the channel vanished"))
    }

    /// Pays `to` `count` payments of `amount` each through a PayWord channel
    /// this node pays `to` by; `amount` is a whole number of the channel's
    /// unit, each unit one word of its hash chain.
    pub async fn payword_pay_to(
        self: &Arc<Self>,
        to: Address,
        amount: u128,
        count: u64,
    ) -> Result<PaywordReport, NodeError> {
        self.ensure_link(to).await?;
        self.payword_sync(to).await?;
        let (channel, words) = {
            let inner = self.lock();
            let outs: Vec<&PaywordOut> = inner
                .payword_out
                .values()
                .filter(|o| o.terms.channel.participants[1] == to && !o.closing)
                .collect();
            let unit = outs.first().map(|o| o.terms.unit_amount).ok_or_else(|| {
                NodeError::new("unknown_channel", format!("no PayWord channel to {to}"))
            })?;
            if amount == 0 || !amount.is_multiple_of(unit) {
                return Err(invalid(format!(
                    "a PayWord payment is a whole number of the channel's unit, {unit} base units"
                )));
            }
            let words = u32::try_from(u128::from(count) * (amount / unit))
                .map_err(|_| invalid("too many payments at once"))?;
            let channel = outs
                .iter()
                .filter(|o| o.terms.unit_amount == unit)
                .find(|o| o.terms.length - o.sent >= words)
                .map(|o| o.terms.channel.id)
                .ok_or_else(|| {
                    NodeError::new(
                        "insufficient",
                        format!("no PayWord channel to {to} has {words} payments left"),
                    )
                })?;
            (channel, words)
        };
        self.payword_pay(channel, words, crate::wire::MAX_WORDS)
            .await?;
        let inner = self.lock();
        let out = inner
            .payword_out
            .get(&channel)
            .ok_or_else(|| NodeError::new("unknown_channel", "the channel vanished"))?;
        Ok(PaywordReport {
            channel,
            words,
            paid: out.terms.unit_amount * u128::from(words),
            depth: out.acked,
            remaining: out.terms.length - out.sent,
        })
    }

    /// Offers `to` again every PayWord channel to it whose depth is not
    /// known since the link came up, and waits for the depths it holds:
    /// after a restart (or words lost with a link) paying goes on there.
    async fn payword_sync(self: &Arc<Self>, to: Address) -> Result<(), NodeError> {
        let (offers, waiters) = {
            let mut inner = self.lock();
            let mut offers = Vec::new();
            let mut waiters = Vec::new();
            for out in inner.payword_out.values_mut() {
                if out.terms.channel.participants[1] == to && !out.synced {
                    let (tx, rx) = oneshot::channel();
                    out.waiters.push((0, tx));
                    waiters.push(rx);
                    let terms = out.terms.clone();
                    offers.push(Msg::PaywordOffer { terms });
                }
            }
            (offers, waiters)
        };
        self.send_to(to, &offers);
        for rx in waiters {
            match tokio::time::timeout(PAY_TIMEOUT, rx).await {
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err(e))) => return Err(e),
                _ => {
                    return Err(NodeError::new(
                        "timeout",
                        "the payee did not say how deep it was paid",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The payee's close of a PayWord channel: claims on chain with the
    /// deepest word received, which pays this node and returns the rest to
    /// the payer, then forgets the channel.
    pub async fn payword_claim(&self, id: ChannelId) -> Result<PaywordView, NodeError> {
        let chain = self.chain_or_err()?;
        let rec = {
            let inner = self.lock();
            if inner.payword_out.contains_key(&id) {
                return Err(NodeError::new(
                    "wrong_kind",
                    "only the payee claims a PayWord channel; its payer closes it (`close`), and the watch loop settles after the window",
                ));
            }
            inner
                .payword_in
                .get(&id)
                .cloned()
                .ok_or_else(|| NodeError::new("unknown_channel", "no PayWord channel pays me"))?
        };
        if rec.depth == 0 {
            return Err(NodeError::new(
                "nothing_paid",
                "no payment arrived on this PayWord channel; there is nothing to claim",
            ));
        }
        chain
            .send(ChannelAction::PaywordClaim {
                channel: rec.terms.channel,
                preimage: rec.word,
                depth: rec.depth,
            })
            .await?;
        let claimed = {
            let mut inner = self.lock();
            let claimed = inner.payword_in.remove(&id).unwrap_or(rec);
            if let Err(e) = self.store.delete_payword(&id) {
                tracing::warn!("forget PayWord channel {id}: {e:#}");
            }
            claimed
        };
        emit(serde_json::json!({
            "event": "closed", "channel": id, "how": "payword_claim", "depth": claimed.depth
        }));
        Ok(view_in(&claimed))
    }

    /// The payer's close of a PayWord channel: `close` on chain (no state)
    /// starts the window in which the payee may still claim with the
    /// deepest word it holds; the watch loop settles after it, which
    /// returns the whole deposit when the payee never claimed.
    pub(super) async fn payword_close(
        self: &Arc<Self>,
        id: ChannelId,
    ) -> Result<ChannelView, NodeError> {
        let chain = self.chain_or_err()?;
        let reference = self
            .lock()
            .payword_out
            .get(&id)
            .map(|o| o.terms.channel)
            .ok_or_else(|| NodeError::new("unknown_channel", "no PayWord channel I pay"))?;
        chain
            .send(ChannelAction::Close {
                channel: reference,
                state: None,
            })
            .await?;
        let deadline_height = match chain.channel(&id).await?.map(|a| a.channel.status) {
            Some(ChannelStatus::Closing {
                deadline_height, ..
            }) => Some(deadline_height),
            _ => None,
        };
        emit(serde_json::json!({"event": "closing", "channel": id, "payword": true}));
        let mut inner = self.lock();
        let out = inner
            .payword_out
            .get_mut(&id)
            .ok_or_else(|| NodeError::new("unknown_channel", "the channel vanished"))?;
        out.closing = true;
        Ok(closing_view(out, deadline_height))
    }

    /// The watch loop's side of the PayWord channels this node pays: one
    /// seen closing is settled once its window is over (`settle_sent`: the
    /// height a settle was last sent at), and forgotten once the chain no
    /// longer holds it (settled here, or claimed by the payee).
    pub(super) async fn paywords_on_chain(
        self: &Arc<Self>,
        chain: &Chain,
        settle_sent: &mut HashMap<ChannelId, u64>,
    ) {
        let outs: Vec<ChannelRef> = {
            let inner = self.lock();
            inner
                .payword_out
                .values()
                .map(|o| o.terms.channel)
                .collect()
        };
        for reference in outs {
            let id = reference.id;
            let status = match chain.channel(&id).await {
                Ok(answer) => answer.map(|a| (a.channel.status, a.height)),
                Err(e) => {
                    tracing::warn!("watch PayWord {id}: {e}");
                    continue;
                }
            };
            match status {
                None => self.forget_closed_payword(&id),
                Some((
                    ChannelStatus::Closing {
                        deadline_height, ..
                    },
                    height,
                )) => {
                    if let Some(out) = self.lock().payword_out.get_mut(&id) {
                        out.closing = true;
                    }
                    // The next block is the first past the window.
                    if height >= deadline_height && settle_sent.get(&id) != Some(&height) {
                        settle_sent.insert(id, height);
                        match chain
                            .send(ChannelAction::Settle { channel: reference })
                            .await
                        {
                            Ok(_) => {
                                emit(
                                    serde_json::json!({"event": "settled", "channel": id, "payword": true}),
                                );
                                self.forget_closed_payword(&id);
                            }
                            Err(e) => tracing::info!("settle PayWord {id}: {e}"),
                        }
                    }
                }
                Some(_) => {}
            }
        }
    }

    /// The watch loop's side of the PayWord channels that pay this node:
    /// one its payer closed alone is claimed at once with the deepest word
    /// held, while the window runs; past it the payer's settle would return
    /// the whole deposit. `claim_sent`: the height a claim was last sent at
    /// (a claim that failed is tried again at the next height).
    pub(super) async fn claim_closing_paywords(
        self: &Arc<Self>,
        chain: &Chain,
        claim_sent: &mut HashMap<ChannelId, u64>,
    ) {
        let paid: Vec<ChannelId> = {
            let inner = self.lock();
            inner
                .payword_in
                .values()
                .filter(|r| r.depth > 0)
                .map(|r| r.terms.channel.id)
                .collect()
        };
        for id in paid {
            let answer = match chain.channel(&id).await {
                Ok(Some(answer)) => answer,
                Ok(None) => continue,
                Err(e) => {
                    tracing::warn!("watch PayWord {id}: {e}");
                    continue;
                }
            };
            let ChannelStatus::Closing {
                deadline_height, ..
            } = answer.channel.status
            else {
                continue;
            };
            // The next block is the earliest the claim lands in.
            if answer.height >= deadline_height || claim_sent.get(&id) == Some(&answer.height) {
                continue;
            }
            claim_sent.insert(id, answer.height);
            match self.payword_claim(id).await {
                Ok(view) => emit(serde_json::json!({
                    "event": "claimed", "channel": id, "payword": true,
                    "depth": view.depth, "why": "payer_closed"
                })),
                Err(e) => tracing::warn!("claim PayWord {id}: {e}"),
            }
        }
    }

    /// Forgets a PayWord channel this node pays once it was seen closing
    /// and the chain no longer holds it (a channel not on chain yet, being
    /// opened, is kept).
    fn forget_closed_payword(&self, id: &ChannelId) {
        let mut inner = self.lock();
        if !inner.payword_out.get(id).is_some_and(|o| o.closing) {
            return;
        }
        inner.payword_out.remove(id);
        if let Err(e) = self.store.delete_payword_out(id) {
            tracing::warn!("forget PayWord channel {id}: {e:#}");
        }
        emit(
            serde_json::json!({"event": "closed", "channel": id, "how": "paid_out", "payword": true}),
        );
    }

    /// Whether `id` is a PayWord channel this node pays or is paid through.
    pub fn is_payword(&self, id: &ChannelId) -> bool {
        let inner = self.lock();
        inner.payword_out.contains_key(id) || inner.payword_in.contains_key(id)
    }

    /// Every PayWord channel, paid and paying.
    pub fn paywords(&self) -> Vec<PaywordView> {
        let inner = self.lock();
        let mut v: Vec<PaywordView> = inner
            .payword_out
            .values()
            .map(view_out)
            .chain(inner.payword_in.values().map(view_in))
            .collect();
        v.sort_by_key(|p| (p.peer, p.id));
        v
    }
}
