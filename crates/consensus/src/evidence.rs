//! Evidence of consensus faults: two votes one validator signed in one
//! round that no honest validator signs together.
//!
//! simplex reports three kinds ([`Activity::ConflictingNotarize`],
//! [`Activity::ConflictingFinalize`], [`Activity::NullifyFinalize`]); a
//! leader proposing two blocks for one view shows up as conflicting
//! notarize votes of the leader. [`Evidence`] wraps them with one bounded
//! encoding, so blocks can carry them ([`crate::block::Header::evidence`]),
//! and [`check`] turns one into the [`Offense`] it proves, using only its
//! bytes and the committee state holds for its epoch: every validator
//! reaches the same verdict.
//!
//! [`Activity::ConflictingNotarize`]: commonware_consensus::simplex::types::Activity::ConflictingNotarize
//! [`Activity::ConflictingFinalize`]: commonware_consensus::simplex::types::Activity::ConflictingFinalize
//! [`Activity::NullifyFinalize`]: commonware_consensus::simplex::types::Activity::NullifyFinalize

use crate::block::Scheme;
use crate::participation::Verifiers;
use bytes::BufMut;
use commonware_codec::{Buf, EncodeSize, Error as CodecError, Read, ReadExt, Write};
use commonware_consensus::{
    Epochable, Viewable,
    simplex::types::{Attributable, ConflictingFinalize, ConflictingNotarize, NullifyFinalize},
};
use commonware_cryptography::sha256;
use commonware_parallel::Sequential;
use lakh_execution::Offense;
use lakh_types::committee::Committee;
use lakh_types::modules::stake::Fault;
use rand::SeedableRng;
use std::collections::BTreeMap;

/// Conflicting notarize votes of one signer in one round.
pub type NotarizePair = ConflictingNotarize<Scheme, sha256::Digest>;
/// Conflicting finalize votes of one signer in one round.
pub type FinalizePair = ConflictingFinalize<Scheme, sha256::Digest>;
/// A nullify and a finalize vote of one signer in one round.
pub type NullifyFinalizePair = NullifyFinalize<Scheme, sha256::Digest>;

/// Most bytes of one encoded [`Evidence`]: the tag and two votes, each a
/// round (epoch and view varints of at most 10 bytes), a parent view, a
/// block digest, the signer index (a u32 varint) and a G2 signature.
pub const MAX_EVIDENCE_ENCODE_BYTES: usize = 1 + 2 * (3 * 10 + 32 + 5 + 96);

/// Most bytes of evidence one block carries (besides the count byte).
pub const MAX_EVIDENCE_BYTES_PER_BLOCK: usize = 4096;

/// A piece of evidence of a consensus fault, as blocks carry it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Evidence {
    ConflictingNotarize(NotarizePair),
    ConflictingFinalize(FinalizePair),
    NullifyFinalize(NullifyFinalizePair),
}

/// What identifies a fault: a second piece of evidence of it proves
/// nothing new.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EvidenceKey {
    pub epoch: u64,
    pub view: u64,
    /// Index of the signer in its epoch's committee.
    pub signer: u32,
    pub fault: Fault,
}

impl Evidence {
    /// The fault this evidence shows.
    pub fn fault(&self) -> Fault {
        match self {
            Evidence::ConflictingNotarize(_) => Fault::ConflictingNotarize {},
            Evidence::ConflictingFinalize(_) => Fault::ConflictingFinalize {},
            Evidence::NullifyFinalize(_) => Fault::NullifyFinalize {},
        }
    }

    pub fn epoch(&self) -> u64 {
        match self {
            Evidence::ConflictingNotarize(e) => e.epoch().get(),
            Evidence::ConflictingFinalize(e) => e.epoch().get(),
            Evidence::NullifyFinalize(e) => e.epoch().get(),
        }
    }

    pub fn view(&self) -> u64 {
        match self {
            Evidence::ConflictingNotarize(e) => e.view().get(),
            Evidence::ConflictingFinalize(e) => e.view().get(),
            Evidence::NullifyFinalize(e) => e.view().get(),
        }
    }

    /// The signer's index in the committee of [`Evidence::epoch`].
    pub fn signer(&self) -> u32 {
        match self {
            Evidence::ConflictingNotarize(e) => e.signer().get(),
            Evidence::ConflictingFinalize(e) => e.signer().get(),
            Evidence::NullifyFinalize(e) => e.signer().get(),
        }
    }

    pub fn key(&self) -> EvidenceKey {
        EvidenceKey {
            epoch: self.epoch(),
            view: self.view(),
            signer: self.signer(),
            fault: self.fault(),
        }
    }

    /// Both signatures verify against `scheme` (the committee of the
    /// evidence's epoch). The random source only blinds batch checks, so
    /// a fixed seed keeps the verdict a function of the bytes.
    pub(crate) fn signatures_verify(&self, scheme: &Scheme) -> bool {
        let mut rng = rand::rngs::StdRng::seed_from_u64(0);
        match self {
            Evidence::ConflictingNotarize(e) => e.verify(&mut rng, scheme, &Sequential),
            Evidence::ConflictingFinalize(e) => e.verify(&mut rng, scheme, &Sequential),
            Evidence::NullifyFinalize(e) => e.verify(&mut rng, scheme, &Sequential),
        }
    }
}

impl Write for Evidence {
    fn write(&self, buf: &mut impl BufMut) {
        match self {
            Evidence::ConflictingNotarize(e) => {
                0u8.write(buf);
                e.write(buf);
            }
            Evidence::ConflictingFinalize(e) => {
                1u8.write(buf);
                e.write(buf);
            }
            Evidence::NullifyFinalize(e) => {
                2u8.write(buf);
                e.write(buf);
            }
        }
    }
}

impl EncodeSize for Evidence {
    fn encode_size(&self) -> usize {
        1 + match self {
            Evidence::ConflictingNotarize(e) => e.encode_size(),
            Evidence::ConflictingFinalize(e) => e.encode_size(),
            Evidence::NullifyFinalize(e) => e.encode_size(),
        }
    }
}

impl Read for Evidence {
    type Cfg = ();

    /// commonware's decoders refuse a pair with different signers or
    /// rounds, or (for the conflicting kinds) equal proposals.
    fn read_cfg(buf: &mut impl Buf, _: &()) -> Result<Self, CodecError> {
        let evidence = match u8::read(buf)? {
            0 => Evidence::ConflictingNotarize(NotarizePair::read(buf)?),
            1 => Evidence::ConflictingFinalize(FinalizePair::read(buf)?),
            2 => Evidence::NullifyFinalize(NullifyFinalizePair::read(buf)?),
            tag => return Err(CodecError::InvalidEnum(tag)),
        };
        if evidence.encode_size() > MAX_EVIDENCE_ENCODE_BYTES {
            return Err(CodecError::Invalid("Evidence", "too long"));
        }
        Ok(evidence)
    }
}

/// The fault's name as the RPC and logs write it.
pub fn fault_name(fault: Fault) -> &'static str {
    match fault {
        Fault::ConflictingNotarize {} => "conflicting_notarize",
        Fault::ConflictingFinalize {} => "conflicting_finalize",
        Fault::NullifyFinalize {} => "nullify_finalize",
    }
}

/// Writes a block's evidence list: a count byte and the pieces.
pub fn write_evidence_list(list: &[Evidence], buf: &mut impl BufMut) {
    // Fits: at most MAX_OFFENSES_PER_BLOCK.
    (list.len() as u8).write(buf);
    for e in list {
        e.write(buf);
    }
}

pub fn evidence_list_encode_size(list: &[Evidence]) -> usize {
    1 + list.iter().map(EncodeSize::encode_size).sum::<usize>()
}

/// Reads a block's evidence list, refusing more pieces or bytes than a
/// block may carry.
pub fn read_evidence_list(buf: &mut impl Buf) -> Result<Vec<Evidence>, CodecError> {
    let count = usize::from(u8::read(buf)?);
    if count > lakh_execution::modules::stake::MAX_OFFENSES_PER_BLOCK {
        return Err(CodecError::Invalid(
            "Header",
            "more evidence than a block may carry",
        ));
    }
    let list = (0..count)
        .map(|_| Evidence::read(buf))
        .collect::<Result<Vec<_>, _>>()?;
    if evidence_list_encode_size(&list) - 1 > MAX_EVIDENCE_BYTES_PER_BLOCK {
        return Err(CodecError::Invalid(
            "Header",
            "more evidence bytes than a block may carry",
        ));
    }
    Ok(list)
}

/// Why evidence proves nothing punishable here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceError {
    /// State no longer (or not yet) holds the committee of its epoch.
    #[error("no committee of epoch {epoch} in state to check it against")]
    UnknownEpoch { epoch: u64 },
    /// Its round comes after the round of the block that carries it.
    #[error("round {epoch}/{view} is after the block's round {block_epoch}/{block_view}")]
    FutureRound {
        epoch: u64,
        view: u64,
        block_epoch: u64,
        block_view: u64,
    },
    /// The signer index is not a member of the epoch's committee.
    #[error("signer {signer} is outside the committee of epoch {epoch} ({members} members)")]
    NotAMember {
        signer: u32,
        epoch: u64,
        members: usize,
    },
    /// A signature does not verify for that signer (forged, from another
    /// committee, or a vote of another kind relabelled).
    #[error("a signature does not verify against the committee of epoch {epoch}")]
    BadSignature { epoch: u64 },
    /// The committee's keys cannot make a verifier.
    #[error("committee of epoch {epoch} unusable: {reason}")]
    Committee { epoch: u64, reason: String },
    /// The same fault twice in one block.
    #[error("repeats evidence {index} of the same block")]
    Repeated { index: usize },
}

/// The committees evidence is checked against, as state holds them when
/// a block executes, and that block's round.
pub struct EvidenceContext<'a> {
    pub committees: &'a BTreeMap<u64, Committee>,
    /// Epoch and view of the block that carries the evidence.
    pub block_epoch: u64,
    pub block_view: u64,
    pub verifiers: &'a Verifiers,
}

/// The offense `evidence` proves, or why it proves none. Deterministic:
/// it reads only the evidence and the committees in `ctx`.
pub fn check(evidence: &Evidence, ctx: &EvidenceContext<'_>) -> Result<Offense, EvidenceError> {
    let key = evidence.key();
    if (key.epoch, key.view) > (ctx.block_epoch, ctx.block_view) {
        return Err(EvidenceError::FutureRound {
            epoch: key.epoch,
            view: key.view,
            block_epoch: ctx.block_epoch,
            block_view: ctx.block_view,
        });
    }
    let committee = ctx
        .committees
        .get(&key.epoch)
        .ok_or(EvidenceError::UnknownEpoch { epoch: key.epoch })?;
    let member = committee
        .members
        .get(key.signer as usize)
        .ok_or(EvidenceError::NotAMember {
            signer: key.signer,
            epoch: key.epoch,
            members: committee.members.len(),
        })?;
    let scheme = ctx
        .verifiers
        .of(committee)
        .map_err(|reason| EvidenceError::Committee {
            epoch: key.epoch,
            reason,
        })?;
    if !evidence.signatures_verify(&scheme) {
        return Err(EvidenceError::BadSignature { epoch: key.epoch });
    }
    Ok(Offense {
        offender: member.identity,
        epoch: key.epoch,
        view: key.view,
        fault: key.fault,
    })
}

/// The offenses a block's evidence proves, in block order; the first
/// piece that proves none (or repeats another) refuses them all, with
/// its index.
pub fn check_all(
    list: &[Evidence],
    ctx: &EvidenceContext<'_>,
) -> Result<Vec<Offense>, (usize, EvidenceError)> {
    let mut seen = std::collections::BTreeMap::new();
    list.iter()
        .enumerate()
        .map(|(i, e)| {
            if let Some(first) = seen.insert(e.key(), i) {
                return Err((i, EvidenceError::Repeated { index: first }));
            }
            check(e, ctx).map_err(|err| (i, err))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::participation::tests::committee;
    use commonware_codec::{Decode, Encode};
    use commonware_consensus::simplex::types::{Finalize, Notarize, Nullify, Proposal};
    use commonware_consensus::types::{Epoch, Round, View};
    use commonware_cryptography::{Hasher, Sha256};

    fn proposal(epoch: u64, view: u64, block: &[u8]) -> Proposal<sha256::Digest> {
        Proposal::new(
            Round::new(Epoch::new(epoch), View::new(view)),
            View::new(view - 1),
            Sha256::hash(&[block]),
        )
    }

    fn equivocation(scheme: &Scheme, epoch: u64, view: u64) -> Evidence {
        Evidence::ConflictingNotarize(NotarizePair::new(
            Notarize::sign(scheme, proposal(epoch, view, b"a")).unwrap(),
            Notarize::sign(scheme, proposal(epoch, view, b"b")).unwrap(),
        ))
    }

    /// Checks `evidence` in a block of round `at` against `committees`.
    fn verdict(
        evidence: &Evidence,
        committees: &[&Committee],
        at: (u64, u64),
    ) -> Result<Offense, EvidenceError> {
        let committees = committees.iter().map(|c| (c.epoch, (*c).clone())).collect();
        let verifiers = Verifiers::default();
        check(
            evidence,
            &EvidenceContext {
                committees: &committees,
                block_epoch: at.0,
                block_view: at.1,
                verifiers: &verifiers,
            },
        )
    }

    #[test]
    fn each_kind_of_fault_proves_an_offense_by_its_signer() {
        let (c, schemes) = committee(0, 1..=4);
        let s = &schemes[2];
        let finalizes = Evidence::ConflictingFinalize(FinalizePair::new(
            Finalize::sign(s, proposal(0, 7, b"a")).unwrap(),
            Finalize::sign(s, proposal(0, 7, b"b")).unwrap(),
        ));
        let nullify_finalize = Evidence::NullifyFinalize(NullifyFinalizePair::new(
            Nullify::sign::<sha256::Digest>(s, Round::new(Epoch::new(0), View::new(7))).unwrap(),
            Finalize::sign(s, proposal(0, 7, b"a")).unwrap(),
        ));
        for (evidence, fault) in [
            (equivocation(s, 0, 7), Fault::ConflictingNotarize {}),
            (finalizes, Fault::ConflictingFinalize {}),
            (nullify_finalize, Fault::NullifyFinalize {}),
        ] {
            let offense = verdict(&evidence, &[&c], (0, 9)).unwrap();
            assert_eq!(
                offense,
                Offense {
                    offender: c.members[2].identity,
                    epoch: 0,
                    view: 7,
                    fault,
                }
            );
            // The encoding round-trips within its bound.
            let bytes = evidence.encode();
            assert!(bytes.len() <= MAX_EVIDENCE_ENCODE_BYTES, "{}", bytes.len());
            assert_eq!(Evidence::decode_cfg(bytes, &()).unwrap(), evidence);
        }
    }

    #[test]
    fn a_forged_signature_proves_nothing() {
        let (c, schemes) = committee(0, 1..=4);
        // Member 1's vote relabelled as member 2's.
        let honest = Notarize::sign(&schemes[2], proposal(0, 7, b"a")).unwrap();
        let mut forged = Notarize::sign(&schemes[1], proposal(0, 7, b"b")).unwrap();
        forged.attestation.signer = honest.attestation.signer;
        let evidence = Evidence::ConflictingNotarize(NotarizePair::new(honest, forged));
        assert_eq!(
            verdict(&evidence, &[&c], (0, 9)),
            Err(EvidenceError::BadSignature { epoch: 0 })
        );
    }

    #[test]
    fn votes_of_another_kind_passed_off_as_finalizes_prove_nothing() {
        let (c, schemes) = committee(0, 1..=4);
        let s = &schemes[0];
        let b = proposal(0, 7, b"b");
        // A notarize signature over `b` presented as a finalize of `b`.
        let relabelled = Finalize {
            proposal: b.clone(),
            attestation: Notarize::sign(s, b.clone()).unwrap().attestation,
        };
        let evidence = Evidence::ConflictingFinalize(FinalizePair::new(
            Finalize::sign(s, proposal(0, 7, b"a")).unwrap(),
            relabelled,
        ));
        assert_eq!(
            verdict(&evidence, &[&c], (0, 9)),
            Err(EvidenceError::BadSignature { epoch: 0 })
        );
        // A finalize signature presented as a nullify.
        let finalize = Finalize::sign(s, b).unwrap();
        let nullify = Nullify {
            round: finalize.proposal.round,
            attestation: finalize.attestation.clone(),
        };
        let evidence = Evidence::NullifyFinalize(NullifyFinalizePair::new(nullify, finalize));
        assert_eq!(
            verdict(&evidence, &[&c], (0, 9)),
            Err(EvidenceError::BadSignature { epoch: 0 })
        );
    }

    #[test]
    fn evidence_is_checked_against_the_committee_of_its_own_epoch() {
        let (c0, schemes0) = committee(0, 1..=4);
        let (c1, _) = committee(1, 5..=8);
        let (c2, _) = committee(2, 5..=8);
        // Signed by epoch 0's members, dated epoch 1: epoch 1's committee
        // did not sign it.
        let evidence = equivocation(&schemes0[1], 1, 3);
        assert_eq!(
            verdict(&evidence, &[&c0, &c1], (1, 9)),
            Err(EvidenceError::BadSignature { epoch: 1 })
        );
        // A committee of strangers in epoch 0 did not sign it either.
        let (strangers, _) = committee(0, 11..=14);
        let evidence = equivocation(&schemes0[1], 0, 3);
        assert_eq!(
            verdict(&evidence, &[&strangers], (0, 9)),
            Err(EvidenceError::BadSignature { epoch: 0 })
        );
        // Once state holds only epochs 1 and 2, epoch 0's evidence is too old.
        assert_eq!(
            verdict(&evidence, &[&c1, &c2], (2, 4)),
            Err(EvidenceError::UnknownEpoch { epoch: 0 })
        );
        // While it holds epoch 0, it proves the fault from a later block.
        assert!(verdict(&evidence, &[&c0, &c1], (1, 2)).is_ok());
    }

    #[test]
    fn a_signer_outside_the_committee_proves_nothing() {
        let (four, _) = committee(0, 1..=4);
        let (_, five) = committee(0, 1..=5);
        let evidence = equivocation(&five[4], 0, 3);
        assert_eq!(
            verdict(&evidence, &[&four], (0, 9)),
            Err(EvidenceError::NotAMember {
                signer: 4,
                epoch: 0,
                members: 4
            })
        );
    }

    #[test]
    fn evidence_of_a_later_round_than_its_block_is_refused() {
        let (c, schemes) = committee(0, 1..=4);
        let evidence = equivocation(&schemes[0], 0, 12);
        assert_eq!(
            verdict(&evidence, &[&c], (0, 11)),
            Err(EvidenceError::FutureRound {
                epoch: 0,
                view: 12,
                block_epoch: 0,
                block_view: 11
            })
        );
        assert!(verdict(&evidence, &[&c], (0, 12)).is_ok());
    }

    #[test]
    fn the_same_fault_twice_in_a_block_is_refused() {
        let (c, schemes) = committee(0, 1..=4);
        let first = equivocation(&schemes[0], 0, 3);
        // Another pair of votes for the same fault: same key.
        let again = Evidence::ConflictingNotarize(NotarizePair::new(
            Notarize::sign(&schemes[0], proposal(0, 3, b"a")).unwrap(),
            Notarize::sign(&schemes[0], proposal(0, 3, b"c")).unwrap(),
        ));
        let committees = BTreeMap::from([(0, c)]);
        let verifiers = Verifiers::default();
        let ctx = EvidenceContext {
            committees: &committees,
            block_epoch: 0,
            block_view: 9,
            verifiers: &verifiers,
        };
        assert_eq!(
            check_all(std::slice::from_ref(&first), &ctx).unwrap().len(),
            1
        );
        assert_eq!(
            check_all(&[first, again], &ctx),
            Err((1, EvidenceError::Repeated { index: 0 }))
        );
    }

    #[test]
    fn pairs_that_are_no_conflict_do_not_decode() {
        let (_, schemes) = committee(0, 1..=4);
        let a = Notarize::sign(&schemes[0], proposal(0, 3, b"a")).unwrap();
        let b = Notarize::sign(&schemes[0], proposal(0, 3, b"b")).unwrap();
        let other_signer = Notarize::sign(&schemes[1], proposal(0, 3, b"b")).unwrap();
        let other_view = Notarize::sign(&schemes[0], proposal(0, 4, b"b")).unwrap();
        let pair = |x: &Notarize<Scheme, sha256::Digest>, y: &Notarize<Scheme, sha256::Digest>| {
            let mut bytes = vec![0u8];
            bytes.extend_from_slice(&x.encode());
            bytes.extend_from_slice(&y.encode());
            Evidence::decode_cfg(bytes::Bytes::from(bytes), &())
        };
        assert!(pair(&a, &b).is_ok());
        assert!(pair(&a, &a).is_err(), "identical proposals");
        assert!(pair(&a, &other_signer).is_err(), "different signers");
        assert!(pair(&a, &other_view).is_err(), "different views");
        let mut bad_tag = equivocation(&schemes[0], 0, 3).encode().to_vec();
        bad_tag[0] = 7;
        assert!(Evidence::decode_cfg(bytes::Bytes::from(bad_tag), &()).is_err());
    }

    #[test]
    fn a_block_carries_at_most_its_limit_of_evidence() {
        let (_, schemes) = committee(0, 1..=4);
        let max = lakh_execution::modules::stake::MAX_OFFENSES_PER_BLOCK;
        let list: Vec<Evidence> = (0..=max as u64)
            .map(|v| equivocation(&schemes[0], 0, v + 1))
            .collect();
        let mut bytes = Vec::new();
        write_evidence_list(&list[..max], &mut bytes);
        assert_eq!(bytes.len(), evidence_list_encode_size(&list[..max]));
        assert_eq!(
            read_evidence_list(&mut bytes::Bytes::from(bytes.clone()))
                .unwrap()
                .len(),
            max
        );
        let mut bytes = Vec::new();
        write_evidence_list(&list, &mut bytes);
        assert!(read_evidence_list(&mut bytes::Bytes::from(bytes.clone())).is_err());
    }
}
