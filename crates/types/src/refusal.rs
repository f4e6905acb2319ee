//! Why a transaction is refused at ingest (it never reaches a block).

use serde::{Deserialize, Serialize};

/// A reason a transaction was refused before inclusion. Refused transactions
/// consume no nonce and pay no fee.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum Refusal {
    /// The bytes do not decode as a signed transaction; the text says where.
    #[error("malformed transaction: {0}")]
    Malformed(String),
    /// The encoded transaction is larger than the limit.
    #[error("transaction is {size} bytes, limit is {max}")]
    Oversize {
        /// Encoded size of the transaction (bytes).
        size: usize,
        /// Largest size accepted (bytes).
        max: usize,
    },
    /// The signature does not verify against the sender's key.
    #[error("bad signature")]
    BadSignature,
    /// The transaction names another chain.
    #[error("wrong chain id: transaction is for chain {got}, this chain is {expected}")]
    WrongChainId {
        /// This chain's id.
        expected: u64,
        /// Chain id in the transaction.
        got: u64,
    },
    /// The nonce is below the sender's next nonce: it was already used.
    #[error("nonce {got} already used (replay): next nonce is {expected}")]
    NonceReused {
        /// The sender's next unused nonce.
        expected: u64,
        /// Nonce in the transaction.
        got: u64,
    },
    /// The nonce is too far ahead of the sender's next nonce to queue.
    #[error("nonce gap: got {got}, next nonce is {expected} (at most {max_ahead} ahead may queue)")]
    NonceGap {
        /// The sender's next unused nonce.
        expected: u64,
        /// Nonce in the transaction.
        got: u64,
        /// Most nonces beyond `expected` that may wait in the pool.
        max_ahead: u64,
    },
    /// `max_fee` does not cover the current fee.
    #[error("max_fee {max_fee} is below the current fee {required}")]
    FeeTooLow {
        /// The transaction's fee cap (native base units).
        max_fee: u128,
        /// Current fee for this transaction (native base units).
        required: u128,
    },
    /// The sender's native balance cannot pay the fee due.
    #[error("sender balance {balance} cannot pay the fee due {fee_due}")]
    CannotPayFee {
        /// Sender's native balance (base units).
        balance: u128,
        /// The fee due at this block's base fee (native base units).
        fee_due: u128,
    },
    /// The same transaction (same id) is already pooled or included.
    #[error("transaction already known")]
    Duplicate,
    /// A transaction with this sender and nonce is already queued, and the
    /// new one does not pay enough more to replace it.
    #[error(
        "replacement for nonce {nonce} needs max_fee of at least {required} (10% above the queued {queued}), got {got}"
    )]
    ReplacementUnderpriced {
        /// The contested nonce.
        nonce: u64,
        /// `max_fee` of the queued transaction (native base units).
        queued: u128,
        /// Least `max_fee` that replaces it (native base units).
        required: u128,
        /// `max_fee` of the new transaction (native base units).
        got: u128,
    },
    /// The node has no room now (pool or queue full); the text says which.
    #[error("node busy: {0}; retry later")]
    Busy(String),
    /// The action is invalid whatever the state (bad parameters); the text says why.
    #[error("invalid action: {0}")]
    InvalidAction(String),
    /// A shielded transaction's zero-knowledge proof does not verify (or
    /// does not decode); the text says why.
    #[error("invalid proof: {0}")]
    InvalidProof(String),
}

impl Refusal {
    /// Every code [`Refusal::code`] answers: the stable vocabulary of
    /// refusals across JSON-RPC, `POST /bulk` and the wallet.
    pub const CODES: [&'static str; 13] = [
        "malformed",
        "oversize",
        "bad_signature",
        "wrong_chain_id",
        "nonce_reused",
        "nonce_gap",
        "fee_too_low",
        "cannot_pay_fee",
        "duplicate",
        "replacement_underpriced",
        "busy",
        "invalid_action",
        "invalid_proof",
    ];

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
            Refusal::InvalidProof(_) => "invalid_proof",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_lists_every_refusal_once() {
        let every = [
            Refusal::Malformed(String::new()),
            Refusal::Oversize { size: 0, max: 0 },
            Refusal::BadSignature,
            Refusal::WrongChainId {
                expected: 0,
                got: 0,
            },
            Refusal::NonceReused {
                expected: 0,
                got: 0,
            },
            Refusal::NonceGap {
                expected: 0,
                got: 0,
                max_ahead: 0,
            },
            Refusal::FeeTooLow {
                max_fee: 0,
                required: 0,
            },
            Refusal::CannotPayFee {
                balance: 0,
                fee_due: 0,
            },
            Refusal::Duplicate,
            Refusal::ReplacementUnderpriced {
                nonce: 0,
                queued: 0,
                required: 0,
                got: 0,
            },
            Refusal::Busy(String::new()),
            Refusal::InvalidAction(String::new()),
            Refusal::InvalidProof(String::new()),
        ];
        let codes: Vec<&str> = every.iter().map(Refusal::code).collect();
        assert_eq!(codes, Refusal::CODES);
    }
}
