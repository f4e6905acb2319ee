//! Insurance: cover pools, cover, claims, assessment, payouts.
//!
//! PLACEHOLDER: the module's owner replaces these declarations.

use serde::{Deserialize, Serialize};

crate::tagged_enum! {
    /// What a `cover` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum CoverAction {
        0x01 => Placeholder {},
    }
}

crate::tagged_enum! {
    /// Something a `cover` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum CoverEvent {
        0x01 => Placeholder {},
    }
}

crate::tagged_enum! {
    /// Why a `cover` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum CoverError {
        #[error("placeholder")]
        0x01 => Placeholder {},
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &CoverAction) -> u64 {
    match action {
        CoverAction::Placeholder {} => 1,
    }
}

/// Checks that hold regardless of state (zero amounts, malformed routes);
/// ingest refuses an action that fails them with this reason.
pub fn check(action: &CoverAction) -> Result<(), String> {
    let _ = action;
    Ok(())
}
