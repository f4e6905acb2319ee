//! The election of each epoch's committee from bonded stake.
//!
//! At the last height of epoch `e` ([`StakingParams::is_last_in_epoch`]),
//! after every transaction and the fee distribution, the committee of epoch
//! `e + 1` is computed from the registry: candidates are validators that are
//! not jailed, whose self-bond is at least `min_self_bond` and whose stake is
//! positive; they are ranked by bonded stake, descending, ties by identity
//! bytes ascending, and the first `committee_size` are elected. With no
//! candidate the current committee carries over. The committee is stored
//! under [`committee_key`]`(e + 1)` and the one of `e - 1` is deleted, so
//! state keeps [`COMMITTEES_KEPT`] committees: the current one and the
//! previous one (plus, at a boundary, the next).

use super::state::{Candidate, ValidatorRegistry, committee_key, registry_keys};
use crate::modules::kit::read_object;
use crate::overlay::{StateError, View};
use lakh_state::StateKey;
use lakh_types::codec::BoundedVec;
use lakh_types::committee::{Committee, CommitteeMember, StakingParams};

/// Committees kept in state between boundaries: the current epoch's and
/// the previous one's (certificates of the previous epoch are still served
/// and checked while nodes switch).
pub const COMMITTEES_KEPT: u64 = 2;

/// The committee elected from `candidates` for `epoch`: the top
/// `committee_size` eligible candidates by stake (ties by identity),
/// sorted by identity; `None` when nobody is eligible.
pub fn elect(candidates: &[Candidate], params: &StakingParams, epoch: u64) -> Option<Committee> {
    let mut eligible: Vec<&Candidate> = candidates
        .iter()
        .filter(|c| !c.jailed && c.self_bond >= params.min_self_bond && c.stake > 0)
        .collect();
    if eligible.is_empty() {
        return None;
    }
    eligible.sort_by(|a, b| b.stake.cmp(&a.stake).then(a.identity.cmp(&b.identity)));
    eligible.truncate(
        params
            .committee_size
            .min(lakh_types::committee::MAX_COMMITTEE_SIZE),
    );
    Committee::new(
        epoch,
        eligible
            .into_iter()
            .map(|c| CommitteeMember {
                identity: c.identity,
                consensus_key: c.consensus_key,
                p2p_address: c.p2p_address,
            })
            .collect(),
    )
}

/// The keys the election at `height` reads and writes, if `height` ends
/// its epoch ([`crate::access_set`] declares them).
pub fn boundary_keys(params: &StakingParams, height: u64) -> Vec<StateKey> {
    if !params.is_last_in_epoch(height) {
        return Vec::new();
    }
    let epoch = params.epoch_of(height);
    let mut keys: Vec<StateKey> = registry_keys().collect();
    keys.push(committee_key(epoch));
    keys.push(committee_key(epoch.saturating_add(1)));
    if let Some(stale) = (epoch + 1).checked_sub(COMMITTEES_KEPT) {
        keys.push(committee_key(stale));
    }
    keys
}

/// Runs the election if `height` ends its epoch: stores the committee of
/// the next epoch, prunes the one that falls out of [`COMMITTEES_KEPT`],
/// and returns the new committee (`None` below a boundary).
pub(crate) fn elect_at_boundary(
    view: &mut impl View,
    params: &StakingParams,
    height: u64,
) -> Result<Option<Committee>, StateError> {
    if !params.is_last_in_epoch(height) {
        return Ok(None);
    }
    let epoch = params.epoch_of(height);
    let next = epoch.saturating_add(1);
    let mut candidates = Vec::new();
    for key in registry_keys() {
        if let Some(bucket) = read_object::<ValidatorRegistry>(view, &key)? {
            candidates.extend(bucket.validators.into_inner());
        }
    }
    let committee = match elect(&candidates, params, next) {
        Some(committee) => committee,
        None => {
            // Nobody eligible: the current committee carries over.
            let current: Option<Committee> = read_object(view, &committee_key(epoch))?;
            Committee {
                epoch: next,
                members: current.map_or_else(BoundedVec::empty, |c| c.members),
            }
        }
    };
    let slot = view.slot(&committee_key(next))?;
    view.set_object_at(slot, commonware_codec::Encode::encode(&committee));
    if let Some(stale) = (epoch + 1).checked_sub(COMMITTEES_KEPT) {
        let slot = view.slot(&committee_key(stale))?;
        view.set_object_at(slot, bytes::Bytes::new());
    }
    Ok(Some(committee))
}
