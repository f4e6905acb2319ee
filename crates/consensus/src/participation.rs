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
use commonware_consensus::{
    Reporter,
    simplex::types::{Activity, Finalize, Proposal},
};
use commonware_cryptography::sha256;
use commonware_parallel::Sequential;
use commonware_utils::iter::NonEmpty;
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

/// Views a finalization waits, in its own epoch, before a proposer
/// carries it: time for the votes that came after its quorum to arrive.
const CARRY_AFTER_VIEWS: u64 = 2;

/// A finalize vote as an engine reports it (not yet verified).
pub type BlockFinalize = Finalize<Scheme, sha256::Digest>;

fn round_of(proposal: &Proposal<sha256::Digest>) -> RewardedRound {
    let round = proposal.round;
    RewardedRound {
        epoch: round.epoch().get(),
        view: round.view().get(),
    }
}

/// What a node saw of one round: its finalization and the finalize votes.
#[derive(Default)]
struct Seen {
    finalization: Option<BlockFinalization>,
    votes: Vec<BlockFinalize>,
}

/// The latest finalizations and finalize votes this node's engines
/// reported, by round.
#[derive(Default)]
pub struct RecentFinalizations {
    by_round: Mutex<BTreeMap<RewardedRound, Seen>>,
}

impl RecentFinalizations {
    fn with_round(&self, round: RewardedRound, update: impl FnOnce(&mut Seen)) {
        let mut map = self.by_round.lock().expect("finalizations lock");
        update(map.entry(round).or_default());
        while map.len() > KEPT_FINALIZATIONS {
            map.pop_first();
        }
    }

    pub fn note(&self, finalization: BlockFinalization) {
        self.with_round(round_of(&finalization.proposal), |seen| {
            seen.finalization = Some(finalization)
        });
    }

    pub fn note_vote(&self, vote: BlockFinalize) {
        self.with_round(round_of(&vote.proposal), |seen| {
            // One vote per signer: at most a committee's worth a round.
            if !seen
                .votes
                .iter()
                .any(|v| v.attestation.signer == vote.attestation.signer)
            {
                seen.votes.push(vote);
            }
        });
    }

    /// Up to [`MAX_FINALIZATIONS_PER_BLOCK`] finalizations of rounds after
    /// `paid`, ascending, from epochs whose committee `state` holds, at
    /// least [`CARRY_AFTER_VIEWS`] before `now` when in its epoch; each
    /// widened with the votes that arrived after its quorum.
    pub fn to_carry(
        &self,
        state: &ParticipationState,
        now: RewardedRound,
        verifiers: &Verifiers,
    ) -> Vec<BlockFinalization> {
        // Copied out, so the engines' reports never wait on the widening.
        let chosen: Vec<(u64, BlockFinalization, Vec<BlockFinalize>)> = {
            let map = self.by_round.lock().expect("finalizations lock");
            map.range(state.paid..)
                .filter(|(round, _)| **round > state.paid)
                .filter(|(round, _)| {
                    round.epoch < now.epoch
                        || round.view.saturating_add(CARRY_AFTER_VIEWS) <= now.view
                })
                .filter(|(round, _)| state.committees.contains_key(&round.epoch))
                .filter_map(|(round, seen)| {
                    let finalization = seen.finalization.clone()?;
                    Some((round.epoch, finalization, seen.votes.clone()))
                })
                .take(MAX_FINALIZATIONS_PER_BLOCK)
                .collect()
        };
        chosen
            .into_iter()
            .map(
                |(epoch, finalization, votes)| match state.committees.get(&epoch) {
                    Some(committee) => widen(&finalization, &votes, committee, verifiers),
                    None => finalization,
                },
            )
            .collect()
    }
}

/// `finalization` re-assembled from every vote for its proposal, when the
/// votes name more signers and the result verifies; otherwise as it is.
fn widen(
    finalization: &BlockFinalization,
    votes: &[BlockFinalize],
    committee: &Committee,
    verifiers: &Verifiers,
) -> BlockFinalization {
    let matching: Vec<BlockFinalize> = votes
        .iter()
        .filter(|v| v.proposal == finalization.proposal)
        .cloned()
        .collect();
    if matching.len() <= finalization.certificate.signers.count() {
        return finalization.clone();
    }
    let Ok(verifier) = verifiers.of(committee) else {
        return finalization.clone();
    };
    let Some(votes) = NonEmpty::try_new(matching.into_iter()) else {
        return finalization.clone();
    };
    match BlockFinalization::from_owned_finalizes(verifier.as_ref(), votes, &Sequential) {
        Ok(wider) if wider.verify(&mut rand::rng(), verifier.as_ref(), &Sequential) => wider,
        _ => finalization.clone(),
    }
}

/// Passes the finalizations a simplex engine reports to [`RecentFinalizations`].
#[derive(Clone)]
pub struct FinalizationTee(pub Arc<RecentFinalizations>);

impl Reporter for FinalizationTee {
    type Activity = Activity<Scheme, sha256::Digest>;

    fn report(&mut self, activity: Self::Activity) -> commonware_actor::Feedback {
        match activity {
            Activity::Finalization(finalization) => self.0.note(finalization),
            Activity::Finalize(vote) => self.0.note_vote(vote),
            _ => {}
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
                let round = round_of(&f.proposal);
                let committee = self.committee(round.epoch)?;
                let mut signed = vec![false; committee.members.len()];
                for index in f.certificate.signers.iter() {
                    *signed
                        .get_mut(usize::from(index))
                        .ok_or_else(|| format!("signer {index} is outside the committee"))? = true;
                }
                let mut record = Participation {
                    round,
                    signers: Vec::new(),
                    absent: Vec::new(),
                };
                for (member, signed) in committee.members.iter().zip(signed) {
                    let list = if signed {
                        &mut record.signers
                    } else {
                        &mut record.absent
                    };
                    list.push(member.identity);
                }
                Ok(record)
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
            let round = round_of(&f.proposal);
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
    pub(crate) fn of(&self, committee: &Committee) -> Result<Arc<Scheme>, String> {
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

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::{Hasher, Sha256, Signer, ed25519};
    use commonware_utils::ordered::BiMap;
    use lakh_types::Address;
    use lakh_types::committee::{CommitteeMember, ConsensusKeyBytes};
    use lakh_types::consensus_key::{
        CONSENSUS_NAMESPACE, consensus_public_key, derive_consensus_key,
    };

    /// A committee of `epoch` from the keys with `seeds`, and each
    /// member's signing scheme, in member order.
    pub(crate) fn committee(
        epoch: u64,
        seeds: std::ops::RangeInclusive<u64>,
    ) -> (Committee, Vec<Scheme>) {
        let keys: Vec<_> = seeds.map(ed25519::PrivateKey::from_seed).collect();
        let members = keys
            .iter()
            .map(|k| CommitteeMember {
                identity: Address::from(&k.public_key()),
                consensus_key: ConsensusKeyBytes::of(&consensus_public_key(&derive_consensus_key(
                    k,
                )))
                .unwrap(),
                p2p_address: "127.0.0.1:1".parse().unwrap(),
            })
            .collect();
        let committee = Committee::new(epoch, members).unwrap();
        let map = BiMap::try_from(committee.keys().unwrap()).unwrap();
        let schemes = committee
            .members
            .iter()
            .map(|m| {
                let key = keys
                    .iter()
                    .find(|k| Address::from(&k.public_key()) == m.identity)
                    .unwrap();
                Scheme::signer(CONSENSUS_NAMESPACE, map.clone(), derive_consensus_key(key)).unwrap()
            })
            .collect();
        (committee, schemes)
    }

    /// A committee of four in epoch 0.
    fn four() -> (Committee, Vec<Scheme>) {
        committee(0, 1..=4)
    }

    fn proposal(view: u64, block: &[u8]) -> Proposal<sha256::Digest> {
        Proposal::new(
            Round::new(Epoch::new(0), View::new(view)),
            View::new(view - 1),
            Sha256::hash(&[block]),
        )
    }

    fn state(committee: &Committee) -> ParticipationState {
        ParticipationState {
            paid: RewardedRound::default(),
            committees: BTreeMap::from([(0, committee.clone())]),
        }
    }

    fn now(view: u64) -> RewardedRound {
        RewardedRound { epoch: 0, view }
    }

    /// Round 5 finalized by the first quorum (members 0, 1, 2), noted with
    /// the finalize votes `votes` (the engines report those too).
    fn seen(schemes: &[Scheme], votes: Vec<BlockFinalize>) -> RecentFinalizations {
        let p = proposal(5, b"block");
        let quorum: Vec<_> = schemes[..3]
            .iter()
            .map(|s| Finalize::sign(s, p.clone()).unwrap())
            .collect();
        let first = BlockFinalization::from_owned_finalizes(
            &schemes[0],
            NonEmpty::try_new(quorum.into_iter()).unwrap(),
            &Sequential,
        )
        .unwrap();
        let recent = RecentFinalizations::default();
        recent.note(first);
        for vote in votes {
            recent.note_vote(vote);
        }
        recent
    }

    #[test]
    fn a_carried_finalization_takes_in_the_votes_that_came_after_its_quorum() {
        let (committee, schemes) = four();
        let p = proposal(5, b"block");
        let votes = schemes
            .iter()
            .map(|s| Finalize::sign(s, p.clone()).unwrap())
            .collect();
        let recent = seen(&schemes, votes);
        let verifiers = Verifiers::default();
        let state = state(&committee);
        // Too fresh: the late votes may still be on their way.
        assert!(recent.to_carry(&state, now(6), &verifiers).is_empty());
        let carried = recent.to_carry(&state, now(7), &verifiers);
        assert_eq!(carried.len(), 1);
        assert_eq!(carried[0].certificate.signers.count(), 4);
        state.check(&carried, &verifiers).unwrap();
        let records = state.resolve(&carried).unwrap();
        assert_eq!(records[0].signers.len(), 4);
        assert!(records[0].absent.is_empty());
        // Once paid, the round is not carried again.
        let paid = ParticipationState {
            paid: records[0].round,
            ..state.clone()
        };
        assert!(recent.to_carry(&paid, now(9), &verifiers).is_empty());
        assert!(paid.check(&carried, &verifiers).is_err());
    }

    #[test]
    fn a_forged_late_vote_leaves_the_finalization_as_it_was() {
        let (committee, schemes) = four();
        // Member 3's signature is over another block, relabelled.
        let mut forged = Finalize::sign(&schemes[3], proposal(5, b"other")).unwrap();
        forged.proposal = proposal(5, b"block");
        let recent = seen(&schemes, vec![forged]);
        let verifiers = Verifiers::default();
        let state = state(&committee);
        let carried = recent.to_carry(&state, now(7), &verifiers);
        assert_eq!(carried[0].certificate.signers.count(), 3);
        state.check(&carried, &verifiers).unwrap();
        let records = state.resolve(&carried).unwrap();
        assert_eq!(records[0].absent, vec![committee.members[3].identity]);
    }

    #[test]
    fn a_finalization_from_another_committee_is_refused() {
        let (committee, _) = four();
        let (_, strangers) = {
            let keys: Vec<_> = (11..=14).map(ed25519::PrivateKey::from_seed).collect();
            let members: Vec<_> = keys
                .iter()
                .map(|k| {
                    (
                        k.public_key(),
                        consensus_public_key(&derive_consensus_key(k)),
                    )
                })
                .collect();
            let map = BiMap::try_from(members).unwrap();
            let schemes: Vec<Scheme> = keys
                .iter()
                .map(|k| {
                    Scheme::signer(CONSENSUS_NAMESPACE, map.clone(), derive_consensus_key(k))
                        .unwrap()
                })
                .collect();
            ((), schemes)
        };
        let recent = seen(&strangers, Vec::new());
        let state = state(&committee);
        let verifiers = Verifiers::default();
        let carried = recent.to_carry(&state, now(7), &verifiers);
        let err = state.check(&carried, &verifiers).unwrap_err();
        assert!(err.contains("does not verify"), "{err}");
    }
}
