//! The one bridge action: a withdrawal hands the wrapped asset to its
//! transaction's escrow; the block's end burns it and appends the leaf.

use super::state::{
    BridgeConfig, TreeState, WrappedToken, config_key, escrow, token_key, tree_key,
};
use crate::modules::kit::{ActionError, TxContext, View, fail, load, move_asset};
use lakh_types::limits::MAX_BLOCK_TXS;
use lakh_types::modules::bridge::{BridgeError, BridgeEvent, L1Address, WITHDRAWAL_TREE_CAPACITY};
use lakh_types::{AssetId, Event};

pub(super) fn withdraw(
    ctx: &TxContext,
    view: &mut impl View,
    asset: AssetId,
    amount: u128,
    l1_recipient: L1Address,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    if load::<BridgeConfig>(view, &config_key())?.is_none() {
        return Err(fail(BridgeError::NoBridge {}));
    }
    let Some(WrappedToken { token }) = load::<WrappedToken>(view, &token_key(asset))? else {
        return Err(fail(BridgeError::NotWrapped { asset }));
    };
    // The block's end appends without failing: room for a whole block of
    // withdrawals is checked here, against the tree before the block.
    let count = load::<TreeState>(view, &tree_key())?.map_or(0, |t| t.count);
    if count.saturating_add(MAX_BLOCK_TXS as u64) > WITHDRAWAL_TREE_CAPACITY {
        return Err(fail(BridgeError::TreeFull {
            capacity: WITHDRAWAL_TREE_CAPACITY,
        }));
    }
    move_asset(
        view,
        asset,
        &ctx.sender,
        &escrow(&ctx.sender, ctx.nonce),
        amount,
        events,
    )?;
    events.push(Event::Bridge(BridgeEvent::WithdrawalRequested {
        sender: ctx.sender,
        asset,
        token,
        amount,
        l1_recipient,
    }));
    Ok(())
}
