//! The lakh channel node: what a person runs to use the `channel` module.
//!
//! A [`Node`] keeps its channels in a crash-safe redb store ([`store`]), talks
//! to the channel nodes of its counterparties over an authenticated,
//! length-prefixed protocol ([`wire`], [`peer`]), opens and closes channels
//! through a lakh node's JSON-RPC ([`chain`]), and watches the chain to
//! dispute a stale unilateral close with its newest co-signed state, for its
//! own channels and for the channels others ask it to watch (its watchtower
//! loop in [`node`]). `lakh channel serve` runs one behind a local JSON-RPC
//! control port ([`control`]); `lakh channel bench` measures two on loopback
//! ([`bench`]). Payments routed through an intermediary use hash locks
//! ([`htlc`]). docs/modules/channel.md describes the protocol.

pub mod bench;
pub mod chain;
pub mod control;
pub mod htlc;
pub mod node;
pub mod peer;
pub mod signer;
pub mod store;
pub mod wire;

pub use node::{ChannelView, Node, PayReport, PaywordReport, PaywordView, RoutedReport};

/// An error with a stable code (the peer protocol's refusal codes, the
/// chain's refusal and failure codes, or the node's own) and a message.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NodeError {
    pub code: String,
    pub message: String,
}

impl NodeError {
    pub fn new(code: &str, message: impl Into<String>) -> NodeError {
        NodeError {
            code: code.to_string(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for NodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

impl std::error::Error for NodeError {}
