//! Finalization certificates carried in blocks, so that fees reward the
//! validators who finalize rather than only the proposer.
//!
//! Every node keeps the finalizations its simplex engines report
//! ([`FinalizationTee`] into [`RecentFinalizations`]). A proposer carries
//! those of rounds after the last one state has paid ([`RewardedRound`]),
//! from the block's epoch or the one before (whose committees state
//! holds), in ascending rounds. A voter checks each one against the
//! committee state holds for its epoch before executing the block;
//! execution then pays their signers (`lakh_execution::modules::stake::rewards`).
//!
//! A proposer chooses which certificates to carry and a certificate names
//! any quorum of signers, so a validator whose vote came late, or whom a
//! proposer leaves out, may miss a share; it cannot be paid twice for a
//! round, and leaving certificates out gains the proposer nothing (the
//! fees stay in the pot for the next block that carries some).

use crate::block::{BlockFinalization, MAX_FINALIZATIONS_PER_BLOCK, Scheme};
use commonware_codec::Decode;
use commonware_consensus::{Reporter, simplex::types::Activity};
use commonware_cryptography::sha256;
use commonware_parallel::Sequential;
use lakh_execution::Participation;
use lakh_execution::modules::stake::{RewardedRound, committee_key, rewarded_round_key};
use lakh_rpc::finality::committee_verifier;
use lakh_state::{StateKey, StateValue};
use lakh_types::committee::Committee;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Finalizations kept for proposers: enough for several blocks' worth
/// when finality runs ahead of proposals.
const KEPT_FINALIZATIONS: usize = 64;

/// Committee verifiers kept (the current and the previous epoch's).
const KEPT_VERIFIERS: usize = 4;

fn round_of(finalization: &BlockFinalization) -> RewardedRound {
    let round = finalization.proposal.round;
    RewardedRound {
        epoch: round.epoch().get(),
        view: round.view().get(),
    }
}

/// The latest finalizations this node's engines reported, by round.
#[derive(Default)]
pub struct RecentFinalizations {
    by_round: Mutex<BTreeMap<RewardedRound, BlockFinalization>>,
}

impl RecentFinalizations {
    pub fn note(&self, finalization: BlockFinalization) {
        let mut map = self.by_round.lock().expect("finalizations lock");
        map.insert(round_of(&finalization), finalization);
        while map.len() > KEPT_FINALIZATIONS {
            map.pop_first();
        }
    }

    /// Up to [`MAX_FINALIZATIONS_PER_BLOCK`] finalizations of rounds after
    /// `paid`, ascending, from epochs whose committee `state` holds.
    pub fn to_carry(&self, state: &ParticipationState) -> Vec<BlockFinalization> {
        let map = self.by_round.lock().expect("finalizations lock");
        map.range(state.paid..)
            .filter(|(round, _)| **round > state.paid)
            .filter(|(round, _)| state.committees.contains_key(&round.epoch))
            .take(MAX_FINALIZATIONS_PER_BLOCK)
            .map(|(_, f)| f.clone())
            .collect()
    }
}

/// Passes the finalizations a simplex engine reports to [`RecentFinalizations`].
#[derive(Clone)]
pub struct FinalizationTee(pub Arc<RecentFinalizations>);

impl Reporter for FinalizationTee {
    type Activity = Activity<Scheme, sha256::Digest>;

    fn report(&mut self, activity: Self::Activity) -> commonware_actor::Feedback {
        if let Activity::Finalization(finalization) = activity {
            self.0.note(finalization);
        }
        commonware_actor::Feedback::Ok
    }
}

/// What state says about paying finalizations, before a block executes.
#[derive(Clone, Debug, Default)]
pub struct ParticipationState {
    /// The round of the last finalization paid.
    pub paid: RewardedRound,
    /// The committees of the block's epoch and the one before, where state
    /// holds them.
    pub committees: BTreeMap<u64, Committee>,
}

/// The keys [`ParticipationState::from_values`] reads for a block of `epoch`.
pub fn state_keys(epoch: u64) -> Vec<StateKey> {
    let mut keys = vec![rewarded_round_key(), committee_key(epoch)];
    if let Some(previous) = epoch.checked_sub(1) {
        keys.push(committee_key(previous));
    }
    keys
}

impl ParticipationState {
    /// Decodes the values read for [`state_keys`]`(epoch)`, in that order.
    pub fn from_values(epoch: u64, values: &[Option<StateValue>]) -> Result<Self, String> {
        let mut state = ParticipationState::default();
        let object = |i: usize| match values.get(i) {
            Some(Some(StateValue::Object(bytes))) if !bytes.is_empty() => Some(bytes.clone()),
            _ => None,
        };
        if let Some(bytes) = object(0) {
            state.paid = RewardedRound::decode_cfg(bytes, &())
                .map_err(|e| format!("stored rewarded round: {e}"))?;
        }
        for (i, e) in [Some(epoch), epoch.checked_sub(1)].into_iter().enumerate() {
            if let (Some(e), Some(bytes)) = (e, object(i + 1)) {
                let committee = Committee::decode_cfg(bytes, &())
                    .map_err(|e| format!("stored committee: {e}"))?;
                state.committees.insert(e, committee);
            }
        }
        Ok(state)
    }

    /// The signers of each finalization as committee identities. Fails on
    /// an epoch without a committee or a signer index outside it.
    pub fn resolve(
        &self,
        finalizations: &[BlockFinalization],
    ) -> Result<Vec<Participation>, String> {
        finalizations
            .iter()
            .map(|f| {
                let round = round_of(f);
                let committee = self.committee(round.epoch)?;
                let signers = f
                    .certificate
                    .signers
                    .iter()
                    .map(|index| {
                        committee
                            .members
                            .get(usize::from(index))
                            .map(|m| m.identity)
                            .ok_or_else(|| format!("signer {index} is outside the committee"))
                    })
                    .collect::<Result<Vec<_>, String>>()?;
                Ok(Participation { round, signers })
            })
            .collect()
    }

    fn committee(&self, epoch: u64) -> Result<&Committee, String> {
        self.committees
            .get(&epoch)
            .ok_or_else(|| format!("no committee of epoch {epoch} to check a finalization against"))
    }

    /// A voter's checks: rounds ascending after the last paid, and each
    /// certificate valid for its epoch's committee.
    pub fn check(
        &self,
        finalizations: &[BlockFinalization],
        verifiers: &Verifiers,
    ) -> Result<(), String> {
        let mut previous = self.paid;
        for f in finalizations {
            let round = round_of(f);
            if round <= previous {
                return Err(format!(
                    "finalization of round {}/{} is not after {}/{}",
                    round.epoch, round.view, previous.epoch, previous.view
                ));
            }
            previous = round;
            let verifier = verifiers.of(self.committee(round.epoch)?)?;
            if !f.verify(&mut rand::rng(), verifier.as_ref(), &Sequential) {
                return Err(format!(
                    "finalization of round {}/{} does not verify against its committee",
                    round.epoch, round.view
                ));
            }
        }
        Ok(())
    }
}

/// A committee as its epoch and digest.
type CommitteeId = (u64, [u8; 32]);

/// Verify-only schemes of recent committees, built once per committee.
#[derive(Default)]
pub struct Verifiers {
    by_committee: Mutex<BTreeMap<CommitteeId, Arc<Scheme>>>,
}

impl Verifiers {
    fn of(&self, committee: &Committee) -> Result<Arc<Scheme>, String> {
        let key = (committee.epoch, committee.digest());
        let mut map = self.by_committee.lock().expect("verifiers lock");
        if let Some(scheme) = map.get(&key) {
            return Ok(scheme.clone());
        }
        let keys = committee.keys()?;
        let scheme = Arc::new(committee_verifier(keys).map_err(|e| e.to_string())?);
        map.insert(key, scheme.clone());
        while map.len() > KEPT_VERIFIERS {
            map.pop_first();
        }
        Ok(scheme)
    }
}
