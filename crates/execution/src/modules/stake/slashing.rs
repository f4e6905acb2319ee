//! Slashing: consensus faults proven by evidence a block carries.
//!
//! The consensus application decodes each piece of evidence a block
//! carries, verifies both signatures against the committee of the
//! evidence's epoch as held in state, and hands execution the
//! [`Offense`] it proves. Execution decides whether the offense is still
//! punishable (recent enough, the offender not tombstoned already, not
//! twice in one block) and applies the penalty once.

use lakh_types::{Address, modules::stake::Fault};

/// Most offenses (pieces of evidence) one block carries.
pub const MAX_OFFENSES_PER_BLOCK: usize = 8;

/// A fault a validator committed, as verified evidence shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Offense {
    /// The offender's identity (its account address).
    pub offender: Address,
    /// Epoch and view of the round where it signed the conflicting votes.
    pub epoch: u64,
    pub view: u64,
    pub fault: Fault,
}
