//! lakh's authenticated state.
//!
//! - [`schema`]: what lives under which key (accounts, balances, assets, symbols).
//! - [`db`]: the commonware QMDB (`current`, unordered, variable values) that stores it
//!   and yields one canonical root per block.
//! - [`proof`]: inclusion proofs of a key's current value against a root, checked by
//!   light clients with nothing but the root from a finalized block header.

pub mod db;
pub mod proof;
pub mod schema;

pub use schema::*;
