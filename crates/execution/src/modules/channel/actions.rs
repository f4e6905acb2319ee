//! The channel's actions: open (two-party or PayWord), deposit, withdraw,
//! cooperative close, unilateral close, dispute, settle, reveal, unlock and
//! PayWord claim.

use super::math::{self, LockOutcome};
use super::state::{
    IndexEntry, IndexHead, Pair, Secret, channel_key, custody, index_entry_key, index_head_key,
    pair_key, secret_key,
};
use crate::modules::kit::{ActionError, OrOverflow, TxContext, View};
use crate::modules::kit::{asset_exists, fail, load, move_asset, remove, store};
use lakh_types::codec::BoundedVec;
use lakh_types::modules::channel::{
    Channel, ChannelError, ChannelEvent, ChannelId, ChannelRef, ChannelState, ChannelStatus,
    Hash32, Lock, MAX_LOCKS, Payword, channel_id, hash32, locks_root, payword_verify,
};
use lakh_types::{Address, Event, FailureReason};

/// What opening a channel needs beyond the transaction.
pub(super) struct Opening {
    pub channel: ChannelRef,
    pub counter: u64,
    pub challenge_blocks: u64,
    pub deposit: u128,
    pub payword: Option<Payword>,
}

pub(super) fn open(
    ctx: &TxContext,
    view: &mut impl View,
    o: Opening,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let r = o.channel;
    let opener = match (r.index_of(&ctx.sender), &o.payword) {
        (Some(0), Some(_)) => 0,
        (Some(i), None) => i,
        _ => return Err(not_participant(&r.id, &ctx.sender)),
    };
    let expected = channel_id(
        ctx.chain_id,
        &r.participants,
        r.asset,
        o.counter,
        o.challenge_blocks,
    );
    if expected != r.id {
        return Err(fail(ChannelError::WrongChannelId {
            expected,
            got: r.id,
        }));
    }
    let mut pair = load::<Pair>(view, &pair_key(&r.participants))?.unwrap_or_default();
    if pair.next_counter != o.counter {
        return Err(fail(ChannelError::WrongCounter {
            expected: pair.next_counter,
            got: o.counter,
        }));
    }
    pair.next_counter = pair.next_counter.checked_add(1).or_overflow()?;
    if load::<Channel>(view, &channel_key(&r.id))?.is_some() {
        return Err(fail(ChannelError::ChannelExists { channel: r.id }));
    }
    if !asset_exists(view, r.asset)? {
        return Err(fail(FailureReason::UnknownAsset { asset: r.asset }));
    }
    move_asset(
        view,
        r.asset,
        &ctx.sender,
        &custody(&r.id),
        o.deposit,
        events,
    )?;
    let mut deposits = [0; 2];
    deposits[opener] = o.deposit;
    let channel = Channel {
        id: r.id,
        participants: r.participants,
        asset: r.asset,
        counter: o.counter,
        challenge_blocks: o.challenge_blocks,
        deposits,
        withdrawn: [0; 2],
        state: ChannelState::opening(r.id, opener, o.deposit),
        status: ChannelStatus::Open {},
        payword: o.payword.clone(),
    };
    store(view, &pair_key(&r.participants), &pair)?;
    for p in &r.participants {
        add_to_index(view, p, &r.id)?;
    }
    save(view, &channel)?;
    events.push(Event::Channel(opened_event(&channel, opener, o)));
    Ok(())
}

fn opened_event(channel: &Channel, opener: usize, o: Opening) -> ChannelEvent {
    match o.payword {
        Some(terms) => ChannelEvent::PaywordOpened {
            channel: channel.id,
            payer: channel.participants[0],
            payee: channel.participants[1],
            asset: channel.asset,
            length: terms.length,
            unit_amount: terms.unit_amount,
        },
        None => ChannelEvent::Opened {
            channel: channel.id,
            opener: channel.participants[opener],
            peer: channel.participants[1 - opener],
            asset: channel.asset,
            deposit: o.deposit,
            challenge_blocks: o.challenge_blocks,
        },
    }
}

/// Puts `channel` first in `owner`'s list.
fn add_to_index(
    view: &mut impl View,
    owner: &Address,
    channel: &ChannelId,
) -> Result<(), ActionError> {
    let head = load::<IndexHead>(view, &index_head_key(owner))?;
    let entry = IndexEntry {
        prev: head.as_ref().map(|h| h.last),
    };
    let count = head.map_or(0, |h| h.count).checked_add(1).or_overflow()?;
    store(view, &index_entry_key(owner, channel), &entry)?;
    store(
        view,
        &index_head_key(owner),
        &IndexHead {
            last: *channel,
            count,
        },
    )
}

pub(super) fn deposit(
    ctx: &TxContext,
    view: &mut impl View,
    r: &ChannelRef,
    amount: u128,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut channel = load_channel(view, r)?;
    require_open(&channel)?;
    require_two_party(&channel)?;
    let i = participant(&channel, &ctx.sender)?;
    channel.deposits[i] = channel.deposits[i].checked_add(amount).or_overflow()?;
    move_asset(
        view,
        channel.asset,
        &ctx.sender,
        &custody(&channel.id),
        amount,
        events,
    )?;
    save(view, &channel)?;
    events.push(Event::Channel(ChannelEvent::Deposited {
        channel: channel.id,
        participant: ctx.sender,
        amount,
    }));
    Ok(())
}

pub(super) fn withdraw(
    ctx: &TxContext,
    view: &mut impl View,
    r: &ChannelRef,
    state: &ChannelState,
    expiry_height: u64,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    if ctx.height > expiry_height {
        return Err(fail(ChannelError::Expired {
            expiry_height,
            height: ctx.height,
        }));
    }
    let mut channel = load_channel(view, r)?;
    require_open(&channel)?;
    require_two_party(&channel)?;
    require_newer(&channel, state)?;
    require_deposits_seen(&channel, state)?;
    let mut amounts = [0; 2];
    for (i, amount) in amounts.iter_mut().enumerate() {
        *amount = state.withdrawn[i]
            .checked_sub(channel.withdrawn[i])
            .ok_or_else(|| {
                fail(ChannelError::WithdrawnMismatch {
                    channel: channel.id,
                })
            })?;
    }
    if amounts == [0, 0] {
        return Err(fail(ChannelError::NothingToWithdraw {
            channel: channel.id,
        }));
    }
    channel.withdrawn = state.withdrawn;
    channel.state = state.clone();
    pay(view, &channel, amounts, events)?;
    save(view, &channel)?;
    events.push(Event::Channel(ChannelEvent::Withdrawn {
        channel: channel.id,
        version: state.version,
        amounts,
    }));
    Ok(())
}

pub(super) fn coop_close(
    view: &mut impl View,
    r: &ChannelRef,
    state: &ChannelState,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut channel = load_channel(view, r)?;
    require_two_party(&channel)?;
    if matches!(channel.status, ChannelStatus::Settled {}) {
        return Err(fail(ChannelError::NotOpen {
            channel: channel.id,
        }));
    }
    // The registered state may be this very final state (closed with it).
    if state.version < channel.state.version {
        return Err(fail(ChannelError::StaleVersion {
            version: state.version,
            registered: channel.state.version,
        }));
    }
    require_deposits_seen(&channel, state)?;
    require_withdrawals_seen(&channel, state)?;
    channel.state = state.clone();
    settle_balances(view, channel, events)
}

pub(super) fn close(
    ctx: &TxContext,
    view: &mut impl View,
    r: &ChannelRef,
    state: Option<&ChannelState>,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut channel = load_channel(view, r)?;
    require_open(&channel)?;
    participant(&channel, &ctx.sender)?;
    if let Some(state) = state {
        require_two_party(&channel)?;
        register(&mut channel, state)?;
    }
    let deadline_height = ctx
        .height
        .checked_add(channel.challenge_blocks)
        .or_overflow()?;
    channel.status = ChannelStatus::Closing {
        closed_by: ctx.sender,
        deadline_height,
    };
    save(view, &channel)?;
    events.push(Event::Channel(ChannelEvent::Closing {
        channel: channel.id,
        closed_by: ctx.sender,
        version: channel.state.version,
        deadline_height,
    }));
    Ok(())
}

pub(super) fn dispute(
    ctx: &TxContext,
    view: &mut impl View,
    r: &ChannelRef,
    state: &ChannelState,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let mut channel = load_channel(view, r)?;
    require_two_party(&channel)?;
    let deadline_height = closing_deadline(&channel)?;
    if ctx.height > deadline_height {
        return Err(fail(ChannelError::ChallengeOver {
            channel: channel.id,
            deadline_height,
            height: ctx.height,
        }));
    }
    register(&mut channel, state)?;
    save(view, &channel)?;
    events.push(Event::Channel(ChannelEvent::Disputed {
        channel: channel.id,
        by: ctx.sender,
        version: state.version,
    }));
    Ok(())
}

pub(super) fn settle(
    ctx: &TxContext,
    view: &mut impl View,
    r: &ChannelRef,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let channel = load_channel(view, r)?;
    let deadline_height = closing_deadline(&channel)?;
    if ctx.height <= deadline_height {
        return Err(fail(ChannelError::ChallengeRunning {
            channel: channel.id,
            deadline_height,
            height: ctx.height,
        }));
    }
    settle_balances(view, channel, events)
}

/// Pays out the registered state's balances; keeps the channel, settled,
/// while locks remain, and removes it otherwise.
fn settle_balances(
    view: &mut impl View,
    mut channel: Channel,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let payouts = math::payouts(&channel.state, &channel.deposits).ok_or_else(|| {
        fail(ChannelError::DepositsAhead {
            channel: channel.id,
        })
    })?;
    check_books(&channel)?;
    pay(view, &channel, payouts, events)?;
    let locked = channel.state.locked;
    events.push(Event::Channel(ChannelEvent::Settled {
        channel: channel.id,
        version: channel.state.version,
        payouts,
        locked,
    }));
    if locked == 0 {
        return remove(view, &channel_key(&channel.id));
    }
    // Paid balances count as withdrawn: custody now holds the locks alone.
    for (withdrawn, paid) in channel.withdrawn.iter_mut().zip(payouts) {
        *withdrawn = withdrawn.checked_add(paid).or_overflow()?;
    }
    channel.status = ChannelStatus::Settled {};
    channel.state.deposits = channel.deposits;
    channel.state.withdrawn = channel.withdrawn;
    channel.state.balances = [0, 0];
    save(view, &channel)
}

pub(super) fn reveal_secret(
    ctx: &TxContext,
    view: &mut impl View,
    secret: &Hash32,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let hash_lock = hash32(secret);
    let key = secret_key(&hash_lock);
    if load::<Secret>(view, &key)?.is_some() {
        return Err(fail(ChannelError::SecretKnown { hash_lock }));
    }
    store(
        view,
        &key,
        &Secret {
            revealed_height: ctx.height,
        },
    )?;
    events.push(Event::Channel(ChannelEvent::SecretRevealed {
        hash_lock,
        secret: *secret,
    }));
    Ok(())
}

pub(super) fn unlock(
    ctx: &TxContext,
    view: &mut impl View,
    r: &ChannelRef,
    locks: &BoundedVec<Lock, MAX_LOCKS>,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let channel = load_channel(view, r)?;
    if !matches!(channel.status, ChannelStatus::Settled {}) {
        return Err(fail(ChannelError::NotSettled {
            channel: channel.id,
        }));
    }
    let total = locks
        .iter()
        .try_fold(0u128, |sum, lock| sum.checked_add(lock.amount));
    if total != Some(channel.state.locked)
        || locks_root(&channel.id, locks) != channel.state.locks_root
    {
        return Err(fail(ChannelError::LocksMismatch {
            channel: channel.id,
        }));
    }
    let mut amounts = [0u128; 2];
    for lock in locks.iter() {
        let revealed =
            load::<Secret>(view, &secret_key(&lock.hash_lock))?.map(|s| s.revealed_height);
        let to = match math::lock_outcome(lock, revealed, ctx.height) {
            LockOutcome::Pay => 1 - usize::from(lock.payer),
            LockOutcome::Refund => usize::from(lock.payer),
            LockOutcome::Pending => {
                return Err(fail(ChannelError::LockPending {
                    hash_lock: lock.hash_lock,
                    expiry_height: lock.expiry_height,
                    height: ctx.height,
                }));
            }
        };
        // Cannot overflow: the locks sum to `locked`, which fits.
        amounts[to] += lock.amount;
    }
    pay(view, &channel, amounts, events)?;
    remove(view, &channel_key(&channel.id))?;
    events.push(Event::Channel(ChannelEvent::Unlocked {
        channel: channel.id,
        amounts,
    }));
    Ok(())
}

pub(super) fn payword_claim(
    ctx: &TxContext,
    view: &mut impl View,
    r: &ChannelRef,
    preimage: &Hash32,
    depth: u32,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let channel = load_channel(view, r)?;
    let Some(terms) = channel.payword.clone() else {
        return Err(fail(ChannelError::WrongKind {
            channel: channel.id,
        }));
    };
    match channel.status {
        ChannelStatus::Open {} => {}
        ChannelStatus::Closing {
            deadline_height, ..
        } if ctx.height <= deadline_height => {}
        ChannelStatus::Closing {
            deadline_height, ..
        } => {
            return Err(fail(ChannelError::ChallengeOver {
                channel: channel.id,
                deadline_height,
                height: ctx.height,
            }));
        }
        ChannelStatus::Settled {} => {
            return Err(fail(ChannelError::NotOpen {
                channel: channel.id,
            }));
        }
    }
    if depth > terms.length {
        return Err(fail(ChannelError::PaywordDepth {
            depth,
            length: terms.length,
        }));
    }
    if !payword_verify(&terms.root, preimage, depth) {
        return Err(fail(ChannelError::BadPreimage {
            channel: channel.id,
            depth,
        }));
    }
    let (paid, refunded) = math::payword_split(&terms, depth).or_overflow()?;
    check_books(&channel)?;
    pay(view, &channel, [refunded, paid], events)?;
    remove(view, &channel_key(&channel.id))?;
    events.push(Event::Channel(ChannelEvent::PaywordClaimed {
        channel: channel.id,
        depth,
        paid,
        refunded,
    }));
    Ok(())
}

/// Loads the channel `r` names and checks the payload names it rightly.
fn load_channel(view: &impl View, r: &ChannelRef) -> Result<Channel, ActionError> {
    let channel = load::<Channel>(view, &channel_key(&r.id))?
        .ok_or_else(|| fail(ChannelError::UnknownChannel { channel: r.id }))?;
    if channel.reference() != *r {
        return Err(fail(ChannelError::WrongChannel { channel: r.id }));
    }
    Ok(channel)
}

/// Stores `channel` after checking its books.
fn save(view: &mut impl View, channel: &Channel) -> Result<(), ActionError> {
    check_books(channel)?;
    store(view, &channel_key(&channel.id), channel)
}

/// `Σ payouts + locked == Σ deposits − Σ withdrawn`. Every action keeps it
/// (a state must add up and see the chain's deposits and withdrawals), so a
/// failure here is a bug: loud in debug builds, a refused action otherwise.
fn check_books(channel: &Channel) -> Result<(), ActionError> {
    let balanced = math::books_balance(channel);
    debug_assert!(balanced, "channel books do not balance: {channel:?}");
    if !balanced {
        return Err(fail(FailureReason::Invalid {
            detail: format!("channel {} books do not balance", channel.id),
        }));
    }
    Ok(())
}

/// Pays `amounts` of the channel's asset from custody to the participants.
fn pay(
    view: &mut impl View,
    channel: &Channel,
    amounts: [u128; 2],
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let from = custody(&channel.id);
    for (to, amount) in channel.participants.iter().zip(amounts) {
        move_asset(view, channel.asset, &from, to, amount, events)?;
    }
    Ok(())
}

/// Registers `state` in place of the channel's: strictly newer, and agreeing
/// with the chain's deposits and withdrawals.
fn register(channel: &mut Channel, state: &ChannelState) -> Result<(), ActionError> {
    require_newer(channel, state)?;
    require_deposits_seen(channel, state)?;
    require_withdrawals_seen(channel, state)?;
    channel.state = state.clone();
    Ok(())
}

fn require_newer(channel: &Channel, state: &ChannelState) -> Result<(), ActionError> {
    if state.version <= channel.state.version {
        return Err(fail(ChannelError::StaleVersion {
            version: state.version,
            registered: channel.state.version,
        }));
    }
    Ok(())
}

fn require_deposits_seen(channel: &Channel, state: &ChannelState) -> Result<(), ActionError> {
    if (0..2).any(|i| state.deposits[i] > channel.deposits[i]) {
        return Err(fail(ChannelError::DepositsAhead {
            channel: channel.id,
        }));
    }
    Ok(())
}

fn require_withdrawals_seen(channel: &Channel, state: &ChannelState) -> Result<(), ActionError> {
    if state.withdrawn != channel.withdrawn {
        return Err(fail(ChannelError::WithdrawnMismatch {
            channel: channel.id,
        }));
    }
    Ok(())
}

fn require_open(channel: &Channel) -> Result<(), ActionError> {
    if channel.status != (ChannelStatus::Open {}) {
        return Err(fail(ChannelError::NotOpen {
            channel: channel.id,
        }));
    }
    Ok(())
}

fn require_two_party(channel: &Channel) -> Result<(), ActionError> {
    if channel.payword.is_some() {
        return Err(fail(ChannelError::WrongKind {
            channel: channel.id,
        }));
    }
    Ok(())
}

/// The last height of a closing channel's window.
fn closing_deadline(channel: &Channel) -> Result<u64, ActionError> {
    match channel.status {
        ChannelStatus::Closing {
            deadline_height, ..
        } => Ok(deadline_height),
        _ => Err(fail(ChannelError::NotClosing {
            channel: channel.id,
        })),
    }
}

fn participant(channel: &Channel, sender: &Address) -> Result<usize, ActionError> {
    channel
        .reference()
        .index_of(sender)
        .ok_or_else(|| not_participant(&channel.id, sender))
}

fn not_participant(channel: &ChannelId, sender: &Address) -> ActionError {
    fail(ChannelError::NotParticipant {
        channel: *channel,
        sender: *sender,
    })
}
