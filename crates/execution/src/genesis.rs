//! The state a chain starts from.

use lakh_state::{AccountState, AssetInfo, StateKey, StateValue};
use lakh_types::{Address, AssetId, Genesis};
use std::collections::BTreeMap;

/// The initial state of `genesis`, sorted by key: funded accounts, the native
/// token's `Asset` and `Symbol` entries (its symbol is thereby taken, and its
/// issuer is the all-zero address, which nobody controls), and each genesis
/// asset's `Asset`, `Symbol` and `Balance` entries, and the staking module's
/// genesis state (each genesis validator's record and its stake, bonded in
/// its custody account and counted in the native supply, and the committee
/// of epoch 0), and the bridge's config and wrapped assets (supply 0). An
/// address listed twice has
/// its amounts added; zero balances are not stored.
///
/// Expects a genesis that passed [`Genesis::validate`], which bounds every sum;
/// sums saturate rather than wrap if it did not.
pub fn apply_genesis(genesis: &Genesis) -> Vec<(StateKey, StateValue)> {
    let mut state = BTreeMap::new();

    let mut native = BTreeMap::<Address, u128>::new();
    let bonds = crate::modules::stake::genesis_bonds(genesis);
    let funded = genesis.accounts.iter().map(|a| (a.address, a.balance));
    for (address, balance) in funded.chain(bonds) {
        let entry = native.entry(address).or_default();
        *entry = entry.saturating_add(balance);
    }
    let mut native_supply = 0u128;
    for (address, balance) in native {
        if balance == 0 {
            continue;
        }
        native_supply = native_supply.saturating_add(balance);
        state.insert(
            StateKey::Account(address),
            StateValue::Account(AccountState {
                nonce: 0,
                native_balance: balance,
            }),
        );
    }
    state.insert(
        StateKey::Asset(AssetId::NATIVE),
        StateValue::Asset(Box::new(AssetInfo {
            issuer: Address::default(),
            symbol: genesis.native_symbol.clone(),
            decimals: genesis.native_decimals,
            max_supply: None,
            supply: native_supply,
        })),
    );
    state.insert(
        StateKey::Symbol(genesis.native_symbol.clone()),
        StateValue::Symbol(AssetId::NATIVE),
    );

    for asset in &genesis.assets {
        let mut balances = BTreeMap::<Address, u128>::new();
        for holder in &asset.balances {
            let entry = balances.entry(holder.address).or_default();
            *entry = entry.saturating_add(holder.balance);
        }
        let mut supply = 0u128;
        for (address, balance) in balances {
            if balance == 0 {
                continue;
            }
            supply = supply.saturating_add(balance);
            state.insert(
                StateKey::Balance(address, asset.id),
                StateValue::Balance(balance),
            );
        }
        state.insert(
            StateKey::Asset(asset.id),
            StateValue::Asset(Box::new(AssetInfo {
                issuer: asset.issuer,
                symbol: asset.symbol.clone(),
                decimals: asset.decimals,
                max_supply: asset.max_supply,
                supply,
            })),
        );
        state.insert(
            StateKey::Symbol(asset.symbol.clone()),
            StateValue::Symbol(asset.id),
        );
    }
    // Validator records and registry of the staking module.
    state.extend(crate::modules::stake::genesis_entries(genesis));
    if let Some(admin) = genesis.admin {
        state.insert(
            crate::modules::kit::config_key(),
            StateValue::Object(commonware_codec::Encode::encode(
                &crate::modules::kit::ChainConfig { admin },
            )),
        );
    }
    if let Some(bridge) = &genesis.bridge {
        state.extend(crate::modules::bridge::genesis_entries(
            genesis.chain_id,
            bridge,
        ));
    }
    state.extend(crate::modules::shielded::genesis_entries(genesis));
    state.into_iter().collect()
}

/// Checks `genesis` as [`Genesis::validate`] does, plus what needs a
/// module's code: that its shielded verifying key decodes. A node refuses to
/// start on a genesis this refuses.
pub fn check_genesis(genesis: &Genesis) -> Result<(), String> {
    genesis.validate()?;
    crate::modules::shielded::chain_key(genesis)
        .map_err(|e| format!("shielded.verifying_key refused ({}): {e}", e.code()))?;
    Ok(())
}
