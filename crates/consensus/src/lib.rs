//! Ordering and executing blocks: the block type and its signing scheme
//! ([`block`]), the commonware-glue application that builds, verifies and
//! commits blocks ([`app`]), the wiring of one validator's actors
//! ([`engine`]), the pause of a leader with nothing to include ([`rest`]),
//! the state shared with the node's services ([`shared`]) and the receipts
//! it keeps until finalization ([`pending_receipts`]), the pruning of the
//! state's history behind the chain ([`prune`]), the recording of a block's
//! receipts as soon as it is finalized ([`record_ahead`]), the chain's
//! metrics ([`metrics`]), the finalization certificates blocks carry to
//! pay their signers ([`participation`]) and a client's walk along the chain
//! of committees ([`light`]).

pub mod app;
pub mod block;
pub mod byzantine;
pub mod engine;
pub mod epochs;
pub mod evidence;
pub mod evidence_pool;
pub mod l1;
pub mod light;
pub mod metrics;
pub mod nosync;
pub mod participation;
pub mod pending_receipts;
pub mod prune;
pub mod record_ahead;
pub mod rest;
pub mod runtime;
pub mod shared;
