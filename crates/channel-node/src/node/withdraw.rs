//! Withdrawals while a channel stays open: both participants sign the state
//! after the withdrawal under the withdraw namespace (what the chain's
//! `withdraw` takes until an expiry height) and the state namespace. Until
//! the chain shows the withdrawal (or the authorisation expires) neither
//! node signs another state on the channel: a state built on either side of
//! an unsettled withdrawal could be unusable on chain.

use super::*;
use crate::store::PendingWithdrawal;
use lakh_types::modules::channel::WITHDRAW_NAMESPACE;

/// How long a withdrawal authorisation is good for (blocks): long enough to
/// land, short because the channel waits for it.
pub const WITHDRAW_EXPIRY_BLOCKS: u64 = 120;

/// The furthest expiry a node signs a withdrawal with: twice the asker's,
/// since the two nodes read the chain's height at different moments.
const MAX_WITHDRAW_EXPIRY_BLOCKS: u64 = 2 * WITHDRAW_EXPIRY_BLOCKS;

/// Where the peer's two signatures on a withdrawal arrive.
type WithdrawReply = oneshot::Receiver<Result<(Sig64, Sig64), NodeError>>;

impl Node {
    /// Withdraws `amount` of this node's balance from `channel` to its
    /// account on chain, the channel staying open.
    pub async fn withdraw(
        self: &Arc<Self>,
        channel: ChannelId,
        amount: u128,
    ) -> Result<ChannelView, NodeError> {
        let chain = self.chain_or_err()?;
        if amount == 0 {
            return Err(invalid("the amount must be positive"));
        }
        let id = self.find_channel(None, Some(channel))?;
        let peer = self
            .view(&id)
            .map(|v| v.peer)
            .ok_or_else(|| NodeError::new("unknown_channel", "no such channel"))?;
        self.ensure_link(peer).await?;
        let expiry_height = self.current_height().await? + WITHDRAW_EXPIRY_BLOCKS;
        let (state, mine, rx) = self.ask_withdrawal(id, peer, amount, expiry_height)?;
        let (w, s) = match tokio::time::timeout(PAY_TIMEOUT, rx).await {
            Ok(Ok(result)) => result?,
            _ => {
                self.lock().withdraw_waiters.remove(&id);
                return Err(NodeError::new(
                    "timeout",
                    "the peer did not sign the withdrawal",
                ));
            }
        };
        let w_ok = crate::wire::verify(
            &peer,
            WITHDRAW_NAMESPACE,
            &state.withdraw_message(expiry_height),
            &w,
        );
        if !w_ok || !verify_state(&peer, &state, &s) {
            return Err(NodeError::new(
                codes::BAD_SIGNATURE,
                "the peer's withdrawal signatures do not verify",
            ));
        }
        let me = usize::from(mine);
        let mut signatures = [mine_sig(&self.key, &state, expiry_height); 2];
        signatures[1 - me] = w;
        let mut state_signatures = [state.sign(&self.key); 2];
        state_signatures[1 - me] = s;
        let pending = PendingWithdrawal {
            state: state.clone(),
            expiry_height,
            signatures,
            state_signatures,
        };
        let reference = self.set_withdrawal(&id, Some(pending))?;
        chain
            .send(ChannelAction::Withdraw {
                channel: reference,
                state,
                expiry_height,
                signatures,
            })
            .await?;
        self.withdrawal_landed(&id);
        emit(
            serde_json::json!({"event": "withdrawn", "channel": id, "amount": amount.to_string()}),
        );
        self.view(&id)
            .ok_or_else(|| NodeError::new("unknown_channel", "the channel vanished"))
    }

    /// Signs the state after the withdrawal, stores it as signed, and asks
    /// the peer for its signatures; returns the state, this node's index and
    /// where the peer's signatures arrive.
    fn ask_withdrawal(
        &self,
        id: ChannelId,
        peer: Address,
        amount: u128,
        expiry_height: u64,
    ) -> Result<(ChannelState, u8, WithdrawReply), NodeError> {
        let mut inner = self.lock();
        let Inner {
            channels,
            peers,
            withdraw_waiters,
            ..
        } = &mut *inner;
        let link = peers
            .get(&peer)
            .ok_or_else(|| NodeError::new("peer_offline", format!("not connected to {peer}")))?;
        let chan = channels
            .get_mut(&id)
            .ok_or_else(|| NodeError::new("unknown_channel", "no such channel"))?;
        if !chan.inflight.is_empty() || chan.rec.withdrawal.is_some() {
            return Err(NodeError::new(
                codes::BUSY,
                "an update or withdrawal is in flight",
            ));
        }
        let me = usize::from(chan.rec.me);
        let mut state = chan.rec.latest.clone();
        state.version = chan.rec.next_version();
        state.balances[me] = state.balances[me].checked_sub(amount).ok_or_else(|| {
            NodeError::new("insufficient", format!("my balance is below {amount}"))
        })?;
        state.withdrawn[me] = state.withdrawn[me]
            .checked_add(amount)
            .ok_or_else(|| invalid("the withdrawal overflows"))?;
        let signature = mine_sig(&self.key, &state, expiry_height);
        let state_signature = state.sign(&self.key);
        chan.rec.signed = state.clone();
        if let Err(e) = self.store.put(&[&chan.rec]) {
            return Err(NodeError::new(codes::STORE, format!("{e:#}")));
        }
        let (tx, rx) = oneshot::channel();
        withdraw_waiters.insert(id, tx);
        let ask = Msg::WithdrawAsk {
            base: chan.rec.latest.version,
            state: state.clone(),
            expiry_height,
            signature,
            state_signature,
        };
        let _ = link.tx.send(ask.frame());
        Ok((state, chan.rec.me, rx))
    }

    /// Records (or clears) the channel's pending withdrawal, durably.
    fn set_withdrawal(
        &self,
        id: &ChannelId,
        pending: Option<PendingWithdrawal>,
    ) -> Result<ChannelRef, NodeError> {
        let mut inner = self.lock();
        let chan = inner
            .channels
            .get_mut(id)
            .ok_or_else(|| NodeError::new("unknown_channel", "no such channel"))?;
        chan.rec.withdrawal = pending;
        let reference = chan.rec.reference;
        let fx = Effects {
            dirty: vec![*id],
            ..Effects::default()
        };
        self.commit(&inner, &fx);
        Ok(reference)
    }

    /// The chain paid the pending withdrawal: its state is the latest.
    pub(super) fn withdrawal_landed(&self, id: &ChannelId) {
        let mut inner = self.lock();
        let Some(chan) = inner.channels.get_mut(id) else {
            return;
        };
        let Some(w) = chan.rec.withdrawal.take() else {
            return;
        };
        if w.state.version > chan.rec.latest.version {
            chan.rec.latest = w.state;
            chan.rec.latest_signatures = Some(w.state_signatures);
            chan.rec.updates += 1;
        }
        let fx = Effects {
            dirty: vec![*id],
            ..Effects::default()
        };
        self.commit(&inner, &fx);
    }

    /// The pending withdrawal expired unpaid: the channel goes on without it.
    pub(super) fn withdrawal_expired(&self, id: &ChannelId) {
        if let Err(e) = self.set_withdrawal(id, None) {
            tracing::warn!("withdrawal of {id}: {e}");
        }
    }

    /// The peer's side of a withdrawal: sign it if it only takes the
    /// peer's own balance out and expires soon.
    pub(super) fn on_withdraw_ask(
        &self,
        inner: &mut Inner,
        peer: Address,
        (base, state, expiry_height): (u64, ChannelState, u64),
        (signature, state_signature): (Sig64, Sig64),
        fx: &mut Effects,
    ) {
        let (id, version) = (state.channel, state.version);
        let height = self.height.load(Ordering::Relaxed);
        let refuse = |fx: &mut Effects, code: &str, reason: &str| {
            fx.out.push(Msg::refuse(id, version, code, reason));
        };
        if expiry_height <= height || expiry_height > height + MAX_WITHDRAW_EXPIRY_BLOCKS {
            return refuse(
                fx,
                codes::BAD_STATE,
                &format!("a withdrawal expires within {MAX_WITHDRAW_EXPIRY_BLOCKS} blocks"),
            );
        }
        let chan = match self.receivable(inner, peer, base, (&state, &state_signature), false) {
            Ok(chan) => chan,
            Err((code, reason)) => return refuse(fx, code, &reason),
        };
        let ok_sig = crate::wire::verify(
            &peer,
            WITHDRAW_NAMESPACE,
            &state.withdraw_message(expiry_height),
            &signature,
        );
        if !ok_sig {
            return refuse(
                fx,
                codes::BAD_SIGNATURE,
                "your withdrawal signature does not verify",
            );
        }
        let me = usize::from(chan.rec.me);
        let them = 1 - me;
        let latest = &chan.rec.latest;
        let expected = state.withdrawn[them]
            .checked_sub(latest.withdrawn[them])
            .filter(|d| *d > 0)
            .and_then(|d| {
                let mut e = latest.clone();
                e.version = version;
                e.withdrawn[them] = state.withdrawn[them];
                e.balances[them] = e.balances[them].checked_sub(d)?;
                Some(e)
            });
        if expected.as_ref() != Some(&state) {
            return refuse(
                fx,
                codes::BAD_STATE,
                "a withdrawal takes only the asker's own balance out and changes nothing else",
            );
        }
        let mine_w = mine_sig(&self.key, &state, expiry_height);
        let mine_s = state.sign(&self.key);
        let mut signatures = [mine_w; 2];
        signatures[them] = signature;
        let mut state_signatures = [mine_s; 2];
        state_signatures[them] = state_signature;
        chan.rec.signed = state.clone();
        chan.rec.withdrawal = Some(PendingWithdrawal {
            state,
            expiry_height,
            signatures,
            state_signatures,
        });
        fx.dirty.push(id);
        fx.out.push(Msg::WithdrawGive {
            channel: id,
            version,
            signature: mine_w,
            state_signature: mine_s,
        });
    }
}

fn mine_sig(key: &PrivateKey, state: &ChannelState, expiry_height: u64) -> Sig64 {
    state.sign_withdraw(key, expiry_height)
}

/// The peer's signatures on this node's withdrawal.
pub(super) fn on_withdraw_give(
    inner: &mut Inner,
    peer: Address,
    (channel, version): (ChannelId, u64),
    signatures: (Sig64, Sig64),
) {
    let asked = inner
        .channels
        .get(&channel)
        .is_some_and(|c| c.rec.peer() == peer && c.rec.signed.version == version);
    if asked && let Some(w) = inner.withdraw_waiters.remove(&channel) {
        let _ = w.send(Ok(signatures));
    }
}

impl Node {
    /// The chain's view of a pending withdrawal: paid (its state becomes the
    /// latest) or expired (dropped).
    pub(super) fn chain_withdrawal(
        &self,
        id: &ChannelId,
        answer: &lakh_types::modules::channel::query::ChannelAnswer,
    ) {
        let pending = self
            .lock()
            .channels
            .get(id)
            .and_then(|c| c.rec.withdrawal.clone());
        let Some(w) = pending else {
            return;
        };
        if answer.channel.withdrawn == w.state.withdrawn {
            self.withdrawal_landed(id);
        } else if answer.height > w.expiry_height {
            self.withdrawal_expired(id);
        }
    }
}
