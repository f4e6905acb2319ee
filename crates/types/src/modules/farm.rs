//! Yield farms: stake an asset, earn reward tokens on a schedule.
//!
//! PLACEHOLDER: the module's owner replaces these declarations.

use serde::{Deserialize, Serialize};

crate::tagged_enum! {
    /// What a `farm` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum FarmAction {
        0x01 => Placeholder {},
    }
}

crate::tagged_enum! {
    /// Something a `farm` action did, recorded in its receipt.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum FarmEvent {
        0x01 => Placeholder {},
    }
}

crate::tagged_enum! {
    /// Why a `farm` action failed.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum FarmError {
        #[error("placeholder")]
        0x01 => Placeholder {},
    }
}

/// Fee units of an action (roughly the state entries it writes).
pub fn units(action: &FarmAction) -> u64 {
    match action {
        FarmAction::Placeholder {} => 1,
    }
}

/// Checks that hold regardless of state (zero amounts, malformed routes);
/// ingest refuses an action that fails them with this reason.
pub fn check(action: &FarmAction) -> Result<(), String> {
    let _ = action;
    Ok(())
}
