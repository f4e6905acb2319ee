//! The bank's actions: transfers, multi-transfers, asset creation, minting.

use crate::modules::kit::OrOverflow;
use crate::modules::kit::{ActionError, TxContext, View};
use lakh_state::{AssetInfo, StateKey};
use lakh_types::{
    Address, AssetId, Event, FailureReason, Symbol, TransferEntry, limits::MAX_DECIMALS,
};

pub(super) fn insufficient(asset: AssetId, needed: u128, available: u128) -> ActionError {
    ActionError::Failed(FailureReason::InsufficientBalance {
        asset,
        needed,
        available,
    })
}

pub(super) fn transfer(
    ctx: &TxContext,
    entry: &TransferEntry,
    overlay: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    let amount = entry.amount;
    let asset = entry.asset;
    let to_self = entry.to == ctx.sender;
    if asset == AssetId::NATIVE {
        let mut from = overlay.account_at(ctx.sender_slot)?;
        if from.native_balance < amount {
            return Err(insufficient(asset, amount, from.native_balance));
        }
        if !to_self {
            let to_slot = overlay.slot(&StateKey::Account(entry.to))?;
            let mut to = overlay.account_at(to_slot)?;
            let total_before = from.native_balance.checked_add(to.native_balance);
            to.native_balance = to.native_balance.checked_add(amount).or_overflow()?;
            from.native_balance -= amount;
            debug_assert_eq!(
                total_before,
                from.native_balance.checked_add(to.native_balance)
            );
            overlay.set_account_at(ctx.sender_slot, from);
            overlay.set_account_at(to_slot, to);
        }
    } else {
        let asset_slot = overlay.slot(&StateKey::Asset(asset))?;
        if overlay.asset_at(asset_slot)?.is_none() {
            return Err(ActionError::Failed(FailureReason::UnknownAsset { asset }));
        }
        let from_slot = overlay.slot(&StateKey::Balance(ctx.sender, asset))?;
        let from = overlay.balance_at(from_slot)?;
        if from < amount {
            return Err(insufficient(asset, amount, from));
        }
        if !to_self {
            let to_slot = overlay.slot(&StateKey::Balance(entry.to, asset))?;
            let to = overlay
                .balance_at(to_slot)?
                .checked_add(amount)
                .or_overflow()?;
            overlay.set_balance_at(from_slot, from - amount);
            overlay.set_balance_at(to_slot, to);
        }
    }
    events.push(Event::Transfer {
        asset,
        from: ctx.sender,
        to: entry.to,
        amount,
    });
    Ok(())
}

pub(super) fn create_asset(
    ctx: &TxContext,
    symbol: &Symbol,
    decimals: u8,
    max_supply: Option<u128>,
    initial_supply: u128,
    overlay: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    if decimals > MAX_DECIMALS {
        return Err(ActionError::Failed(FailureReason::Invalid {
            detail: format!("decimals {decimals} exceed the limit of {MAX_DECIMALS}"),
        }));
    }
    let id = AssetId::derive(ctx.sender.as_bytes(), ctx.nonce);
    if let Some(max) = max_supply
        && initial_supply > max
    {
        return Err(ActionError::Failed(FailureReason::SupplyCapExceeded {
            asset: id,
            amount: initial_supply,
            max_supply: max,
        }));
    }
    // The native symbol is registered at genesis, so this also refuses it.
    let symbol_slot = overlay.slot(&StateKey::Symbol(symbol.clone()))?;
    if overlay.symbol_at(symbol_slot)?.is_some() {
        return Err(ActionError::Failed(FailureReason::SymbolTaken {
            symbol: symbol.clone(),
        }));
    }
    // Ids are 64 bits of a hash, so a collision is findable by brute force.
    let asset_slot = overlay.slot(&StateKey::Asset(id))?;
    if overlay.asset_at(asset_slot)?.is_some() {
        return Err(ActionError::Failed(FailureReason::Invalid {
            detail: format!("asset id {id} is already taken"),
        }));
    }
    let balance_slot = overlay.slot(&StateKey::Balance(ctx.sender, id))?;
    debug_assert_eq!(
        overlay.balance_at(balance_slot),
        Ok(0),
        "balance of a nonexistent asset"
    );

    overlay.set_asset_at(
        asset_slot,
        AssetInfo {
            issuer: ctx.sender,
            symbol: symbol.clone(),
            decimals,
            max_supply,
            supply: initial_supply,
        },
    );
    overlay.set_symbol_at(symbol_slot, id);
    overlay.set_balance_at(balance_slot, initial_supply);
    events.push(Event::AssetCreated {
        asset: id,
        symbol: symbol.clone(),
        issuer: ctx.sender,
        decimals,
    });
    if initial_supply > 0 {
        events.push(Event::Minted {
            asset: id,
            to: ctx.sender,
            amount: initial_supply,
        });
    }
    Ok(())
}

pub(super) fn mint(
    ctx: &TxContext,
    asset: AssetId,
    to: &Address,
    amount: u128,
    overlay: &mut impl View,
    events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    // The native token has no issuer.
    if asset == AssetId::NATIVE {
        return Err(ActionError::Failed(FailureReason::NotIssuer { asset }));
    }
    let asset_slot = overlay.slot(&StateKey::Asset(asset))?;
    let Some(info) = overlay.asset_at(asset_slot)? else {
        return Err(ActionError::Failed(FailureReason::UnknownAsset { asset }));
    };
    if info.issuer != ctx.sender {
        return Err(ActionError::Failed(FailureReason::NotIssuer { asset }));
    }
    let supply = info.supply.checked_add(amount).or_overflow()?;
    if let Some(max) = info.max_supply
        && supply > max
    {
        return Err(ActionError::Failed(FailureReason::SupplyCapExceeded {
            asset,
            amount,
            max_supply: max,
        }));
    }
    let mut info = info.clone();
    info.supply = supply;
    let balance_slot = overlay.slot(&StateKey::Balance(*to, asset))?;
    // Cannot overflow while balances sum to supply, which did not.
    let balance = overlay
        .balance_at(balance_slot)?
        .checked_add(amount)
        .or_overflow()?;
    overlay.set_asset_at(asset_slot, info);
    overlay.set_balance_at(balance_slot, balance);
    events.push(Event::Minted {
        asset,
        to: *to,
        amount,
    });
    Ok(())
}
