//! AMM DEX: constant-product pools, liquidity, swaps and routes.
//!
//! PLACEHOLDER: the module's owner replaces these declarations.

use serde::{Deserialize, Serialize};

crate::tagged_enum! {
    /// What a `dex` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum DexAction {
        0x01 => Placeholder {},
    }
}

crate::tagged_enum! {
    /// Something a `dex` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum DexEvent {
        0x01 => Placeholder {},
    }
}

crate::tagged_enum! {
    /// Why a `dex` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum DexError {
        #[error("placeholder")]
        0x01 => Placeholder {},
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &DexAction) -> u64 {
    match action {
        DexAction::Placeholder {} => 1,
    }
}

/// Checks that hold regardless of state (zero amounts, malformed routes);
/// ingest refuses an action that fails them with this reason.
pub fn check(action: &DexAction) -> Result<(), String> {
    let _ = action;
    Ok(())
}
