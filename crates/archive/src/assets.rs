//! The assets known to exist, for listing an account's balances.

use lakh_types::{AssetId, Event, Genesis, Receipt, Symbol};
use std::collections::BTreeMap;
use std::sync::Mutex;

/// Assets known to exist (genesis + created), for listing an account's
/// balances. Fed only by `AssetCreated` events of successful transactions
/// (a module's share asset, such as a pool's LP asset, is announced the same
/// way): from the block records at start and from each recorded block live.
pub struct AssetRegistry {
    symbols: Mutex<BTreeMap<AssetId, String>>,
}

impl AssetRegistry {
    /// The native asset, the assets the genesis creates and the wrapped
    /// assets of its bridge section (created at genesis too, without an
    /// `AssetCreated` event).
    pub fn from_genesis(genesis: &Genesis) -> Self {
        use lakh_types::modules::bridge::wrapped_asset_id;
        let native = (AssetId::NATIVE, genesis.native_symbol.to_string());
        let created = genesis.assets.iter().map(|a| (a.id, a.symbol.to_string()));
        let wrapped = genesis.bridge.iter().flat_map(|b| {
            b.tokens
                .iter()
                .map(|t| (wrapped_asset_id(&t.l1_token), t.symbol.to_string()))
        });
        Self::new(std::iter::once(native).chain(created).chain(wrapped))
    }

    /// A registry knowing `assets` (id and symbol).
    pub fn new(assets: impl IntoIterator<Item = (AssetId, String)>) -> Self {
        AssetRegistry {
            symbols: Mutex::new(assets.into_iter().collect()),
        }
    }

    pub(crate) fn add(&self, created: &[(AssetId, Symbol)]) {
        if created.is_empty() {
            return;
        }
        let mut symbols = self.symbols.lock().expect("asset registry lock poisoned");
        for (asset, symbol) in created {
            symbols.entry(*asset).or_insert_with(|| symbol.to_string());
        }
    }

    /// Every known asset with its symbol, by id.
    pub fn list(&self) -> Vec<(AssetId, String)> {
        self.symbols
            .lock()
            .expect("asset registry lock poisoned")
            .iter()
            .map(|(a, s)| (*a, s.clone()))
            .collect()
    }
}

/// Assets created by successful transactions, from their `AssetCreated` events.
pub fn created_assets(receipts: &[Receipt]) -> Vec<(AssetId, Symbol)> {
    receipts
        .iter()
        .filter(|r| r.status.is_success())
        .flat_map(|r| &r.events)
        .filter_map(|e| match e {
            Event::AssetCreated { asset, symbol, .. } => Some((*asset, symbol.clone())),
            _ => None,
        })
        .collect()
}
