//! Why a transaction is refused at ingest (it never reaches a block).

use serde::{Deserialize, Serialize};

/// A reason a transaction was refused before inclusion. Refused transactions
/// consume no nonce and pay no fee.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum Refusal {
    #[error("malformed transaction: {0}")]
    Malformed(String),
    #[error("transaction is {size} bytes, limit is {max}")]
    Oversize { size: usize, max: usize },
    #[error("bad signature")]
    BadSignature,
    #[error("wrong chain id: transaction is for chain {got}, this chain is {expected}")]
    WrongChainId { expected: u64, got: u64 },
    #[error("nonce {got} already used (replay): next nonce is {expected}")]
    NonceReused { expected: u64, got: u64 },
    #[error("nonce gap: got {got}, next nonce is {expected} (at most {max_ahead} ahead may queue)")]
    NonceGap {
        expected: u64,
        got: u64,
        max_ahead: u64,
    },
    #[error("max_fee {max_fee} is below the current fee {required}")]
    FeeTooLow { max_fee: u128, required: u128 },
    /// The sender's native balance is below the fee due at this block's base fee.
    #[error("sender balance {balance} cannot pay the fee due {fee_due}")]
    CannotPayFee { balance: u128, fee_due: u128 },
    #[error("transaction already known")]
    Duplicate,
    #[error(
        "replacement for nonce {nonce} needs max_fee of at least {required} (10% above the queued {queued}), got {got}"
    )]
    ReplacementUnderpriced {
        nonce: u64,
        queued: u128,
        required: u128,
        got: u128,
    },
    #[error("node busy: {0}; retry later")]
    Busy(String),
    #[error("invalid action: {0}")]
    InvalidAction(String),
}

impl Refusal {
    /// Stable machine-readable code (JSON-RPC error data, CLI exit reasons).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Malformed(_) => "malformed",
            Refusal::Oversize { .. } => "oversize",
            Refusal::BadSignature => "bad_signature",
            Refusal::WrongChainId { .. } => "wrong_chain_id",
            Refusal::NonceReused { .. } => "nonce_reused",
            Refusal::NonceGap { .. } => "nonce_gap",
            Refusal::FeeTooLow { .. } => "fee_too_low",
            Refusal::CannotPayFee { .. } => "cannot_pay_fee",
            Refusal::Duplicate => "duplicate",
            Refusal::ReplacementUnderpriced { .. } => "replacement_underpriced",
            Refusal::Busy(_) => "busy",
            Refusal::InvalidAction(_) => "invalid_action",
        }
    }
}
