//! Payment channels: two participants lock an asset, pay each other off
//! chain with co-signed states, and settle on chain once; hash-locked
//! conditional payments; one-way PayWord channels.
//!
//! - The chain keeps one register per channel, the latest state it has
//!   seen; a state replaces it only with a strictly higher version, so the
//!   latest agreed state wins without penalties. `close` starts a challenge
//!   window of the channel's `challenge_blocks`; anyone may `dispute` with a
//!   newer state until its last block; `settle` pays out from the next.
//! - Custody: [`custody`]`(id)` holds `Σ deposits − Σ withdrawn` of the
//!   channel's asset, then only the locks once settled. Every write checks
//!   `Σ payouts + locked == Σ deposits − Σ withdrawn` in u128
//!   ([`math::books_balance`]); supply is conserved because custody is an
//!   ordinary bank balance.
//! - Off-chain signatures are verified at ingest and block verification, in
//!   the transaction batch (`lakh_types::tx::verify_signatures`); execution
//!   never checks one. A block with a false one is never executed.
//! - Declared from the payload: the channel, both participants' balances
//!   and the custody balance of the asset the payload names (a mismatch
//!   fails with `wrong_channel`), the pair and index entries at open, and
//!   the secrets of the locks an unlock names.

mod actions;
pub(crate) mod math;
mod query;
pub(crate) mod state;

pub use query::query;
pub use state::{
    IndexEntry, IndexHead, Pair, Secret, channel_key, custody, index_entry_key, index_head_key,
    kind, pair_key, secret_key,
};

use crate::modules::kit::{Access, ActionError, TxContext, View};
use crate::modules::kit::{OrOverflow, declare_asset_read, declare_balance, fail};
use actions::*;
use lakh_state::StateKey;
use lakh_types::modules::channel::{ChannelAction, ChannelRef, Payword, check_typed, hash32};
use lakh_types::{Address, Event};

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    sender: &Address,
    _nonce: u64,
    action: &ChannelAction,
    visit: &mut impl FnMut(StateKey, Access),
) {
    match action {
        ChannelAction::Open { channel, .. } | ChannelAction::PaywordOpen { channel, .. } => {
            visit(channel_key(&channel.id), Access::Write);
            visit(pair_key(&channel.participants), Access::Write);
            for p in &channel.participants {
                visit(index_head_key(p), Access::Write);
                visit(index_entry_key(p, &channel.id), Access::Write);
            }
            declare_asset_read(channel.asset, visit);
            declare_balance(sender, channel.asset, visit);
            declare_balance(&custody(&channel.id), channel.asset, visit);
        }
        ChannelAction::Deposit { channel, .. } => {
            visit(channel_key(&channel.id), Access::Write);
            declare_balance(sender, channel.asset, visit);
            declare_balance(&custody(&channel.id), channel.asset, visit);
        }
        ChannelAction::Close { channel, .. } | ChannelAction::Dispute { channel, .. } => {
            visit(channel_key(&channel.id), Access::Write);
        }
        ChannelAction::Withdraw { channel, .. }
        | ChannelAction::CoopClose { channel, .. }
        | ChannelAction::Settle { channel }
        | ChannelAction::PaywordClaim { channel, .. } => declare_payout(channel, visit),
        ChannelAction::Unlock { channel, locks } => {
            declare_payout(channel, visit);
            for lock in locks.iter() {
                visit(secret_key(&lock.hash_lock), Access::Read);
            }
        }
        ChannelAction::RevealSecret { secret } => {
            visit(secret_key(&hash32(secret)), Access::Write);
        }
    }
}

/// The channel, its custody and both participants' balances.
fn declare_payout(channel: &ChannelRef, visit: &mut impl FnMut(StateKey, Access)) {
    visit(channel_key(&channel.id), Access::Write);
    declare_balance(&custody(&channel.id), channel.asset, visit);
    for p in &channel.participants {
        declare_balance(p, channel.asset, visit);
    }
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    ctx: &TxContext,
    action: &ChannelAction,
    view: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    check_typed(action).map_err(fail)?;
    match action {
        ChannelAction::Open {
            channel,
            counter,
            challenge_blocks,
            deposit,
        } => {
            let opening = Opening {
                channel: *channel,
                counter: *counter,
                challenge_blocks: *challenge_blocks,
                deposit: *deposit,
                payword: None,
            };
            open(ctx, view, opening, events)
        }
        ChannelAction::PaywordOpen {
            channel,
            counter,
            challenge_blocks,
            root,
            length,
            unit_amount,
        } => {
            let payword = Payword {
                root: *root,
                length: *length,
                unit_amount: *unit_amount,
            };
            let opening = Opening {
                channel: *channel,
                counter: *counter,
                challenge_blocks: *challenge_blocks,
                deposit: math::payword_deposit(&payword).or_overflow()?,
                payword: Some(payword),
            };
            open(ctx, view, opening, events)
        }
        ChannelAction::Deposit { channel, amount } => deposit(ctx, view, channel, *amount, events),
        ChannelAction::Withdraw {
            channel,
            state,
            expiry_height,
            ..
        } => withdraw(ctx, view, channel, state, *expiry_height, events),
        ChannelAction::CoopClose { channel, state } => {
            coop_close(view, channel, &state.state, events)
        }
        ChannelAction::Close { channel, state } => {
            close(ctx, view, channel, state.as_ref().map(|s| &s.state), events)
        }
        ChannelAction::Dispute { channel, state } => {
            dispute(ctx, view, channel, &state.state, events)
        }
        ChannelAction::Settle { channel } => settle(ctx, view, channel, events),
        ChannelAction::RevealSecret { secret } => reveal_secret(ctx, view, secret, events),
        ChannelAction::Unlock { channel, locks } => unlock(ctx, view, channel, locks, events),
        ChannelAction::PaywordClaim {
            channel,
            preimage,
            depth,
        } => payword_claim(ctx, view, channel, preimage, *depth, events),
    }
}
