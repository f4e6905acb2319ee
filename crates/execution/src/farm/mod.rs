//! Yield farms module. PLACEHOLDER: the module's owner replaces this file.

use crate::query::{QueryCtx, QueryError};
use crate::{Access, ActionError, TxContext, overlay::View};
use lakh_state::StateKey;
use lakh_types::{Address, Event, FailureReason, modules::farm::FarmAction};

/// Declares every key `action` may read or write, except the sender's account.
pub(crate) fn access(
    _sender: &Address,
    _nonce: u64,
    _action: &FarmAction,
    _visit: &mut impl FnMut(StateKey, Access),
) {
}

/// Applies `action`; on `Err` the caller rolls back every write.
pub(crate) fn execute(
    _ctx: &TxContext,
    _action: &FarmAction,
    _view: &mut impl View,
    _events: &mut Vec<Event>,
) -> Result<(), ActionError> {
    Err(ActionError::Failed(FailureReason::Invalid {
        detail: "not implemented".into(),
    }))
}

/// Answers a read-only query.
pub fn query(
    method: &str,
    _params: &serde_json::Value,
    _ctx: &QueryCtx<'_>,
) -> Result<serde_json::Value, QueryError> {
    Err(QueryError::BadRequest(format!("unknown method {method:?}")))
}
