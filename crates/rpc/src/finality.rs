//! Finality certificates as a client checks them.
//!
//! Consensus signs with BLS multisignatures (MinPk): a finalization is the
//! finalized proposal (round and block digest) plus one aggregate signature
//! and the bitmap of the committee members who signed. A client that knows
//! the committee of the block's epoch checks, without trusting the node,
//! that a quorum of that committee finalized exactly this block.

use crate::types::{FinalityInfo, Hash32};
use commonware_codec::{Decode, Encode};
use commonware_consensus::simplex::{self, types::Finalization};
use commonware_cryptography::{
    bls12381::primitives::variant::MinPk, certificate::Verifier as _, ed25519, sha256,
};
use commonware_parallel::Sequential;
use commonware_utils::ordered::BiMap;
use lakh_types::consensus_key::{CONSENSUS_NAMESPACE, ConsensusPublicKey};

/// The consensus signing scheme: BLS12-381 multisignatures (keys in G1,
/// signatures in G2), attributable (a certificate names its signers), with
/// members identified by their ed25519 network keys.
pub type Scheme = simplex::scheme::bls12381_multisig::Scheme<ed25519::PublicKey, MinPk>;

/// A finalization certificate of a lakh block.
pub type BlockFinalization = Finalization<Scheme, sha256::Digest>;

/// One committee member: its identity and its consensus key (whose proof
/// of possession the caller has checked, at genesis or registration).
pub type Member = (ed25519::PublicKey, ConsensusPublicKey);

/// Why a finality certificate was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FinalityError {
    #[error("the committee is empty or lists an identity or consensus key twice")]
    BadCommittee,
    #[error("the finalization is not a valid encoding: {0}")]
    Malformed(String),
    #[error("the finalization is for block {found}, not {expected}")]
    WrongBlock { expected: Hash32, found: Hash32 },
    #[error("the finalization is from epoch {found}, the committee is of epoch {expected}")]
    WrongEpoch { expected: u64, found: u64 },
    #[error("the answer's epoch or view differs from its certificate's")]
    InconsistentRound,
    #[error(
        "the certificate does not verify against the committee: too few signers, a wrong signer bitmap, another committee, or a signature over another subject"
    )]
    BadCertificate,
}

/// A verify-only scheme for a committee.
pub fn committee_verifier(members: Vec<Member>) -> Result<Scheme, FinalityError> {
    if members.is_empty() {
        return Err(FinalityError::BadCommittee);
    }
    let map = BiMap::try_from(members).map_err(|_| FinalityError::BadCommittee)?;
    Ok(Scheme::verifier(CONSENSUS_NAMESPACE, map))
}

/// Hex of a finalization's encoding, as [`FinalityInfo`] carries it.
pub fn encode_finalization(finalization: &BlockFinalization) -> String {
    hex::encode(finalization.encode())
}

/// Checks that `info` proves block `info.block_hash` final under
/// `committee`, the committee of `epoch`. Returns the decoded certificate.
pub fn verify_finality(
    info: &FinalityInfo,
    epoch: u64,
    committee: &Scheme,
) -> Result<BlockFinalization, FinalityError> {
    let bytes =
        hex::decode(&info.finalization).map_err(|e| FinalityError::Malformed(e.to_string()))?;
    let finalization = BlockFinalization::decode_cfg(
        bytes::Bytes::from(bytes),
        &committee.certificate_codec_config(),
    )
    .map_err(|e| FinalityError::Malformed(e.to_string()))?;
    let round = finalization.proposal.round;
    if round.epoch().get() != info.epoch || round.view().get() != info.view {
        return Err(FinalityError::InconsistentRound);
    }
    if info.epoch != epoch {
        return Err(FinalityError::WrongEpoch {
            expected: epoch,
            found: info.epoch,
        });
    }
    let found = Hash32::from(<[u8; 32]>::from(finalization.proposal.payload));
    if found != info.block_hash {
        return Err(FinalityError::WrongBlock {
            expected: info.block_hash,
            found,
        });
    }
    if !finalization.verify(&mut rand::rng(), committee, &Sequential) {
        return Err(FinalityError::BadCertificate);
    }
    Ok(finalization)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use commonware_consensus::{
        simplex::types::{Finalize, Notarization, Notarize, Proposal},
        types::{Epoch, Round, View},
    };
    use commonware_cryptography::{
        Hasher, Sha256, Signer,
        bls12381::{
            certificate::multisig::Certificate, primitives::ops::aggregate::combine_signatures,
        },
        certificate::Signers,
    };
    use commonware_utils::{Participant, non_empty};
    use lakh_types::consensus_key::{consensus_public_key, derive_consensus_key};

    /// A committee of `n` from identity seeds `first..first+n`: its members
    /// (identity order) and one signing scheme per member.
    fn committee(first: u64, n: u64) -> (Vec<Member>, Vec<Scheme>) {
        let mut keys: Vec<_> = (first..first + n)
            .map(ed25519::PrivateKey::from_seed)
            .collect();
        // The committee is ordered by identity; signer i is member i.
        keys.sort_by_key(|k| k.public_key());
        let members: Vec<Member> = keys
            .iter()
            .map(|k| {
                (
                    k.public_key(),
                    consensus_public_key(&derive_consensus_key(k)),
                )
            })
            .collect();
        let map = BiMap::try_from(members.clone()).unwrap();
        let signers = keys
            .iter()
            .map(|k| {
                Scheme::signer(CONSENSUS_NAMESPACE, map.clone(), derive_consensus_key(k)).unwrap()
            })
            .collect();
        (members, signers)
    }

    fn proposal(epoch: u64) -> Proposal<sha256::Digest> {
        let digest = Sha256::hash(&[b"block 7"]);
        Proposal::new(
            Round::new(Epoch::new(epoch), View::new(9)),
            View::new(8),
            digest,
        )
    }

    fn finalizes(
        signers: &[Scheme],
        epoch: u64,
        who: &[usize],
    ) -> Vec<Finalize<Scheme, sha256::Digest>> {
        who.iter()
            .map(|i| Finalize::sign(&signers[*i], proposal(epoch)).unwrap())
            .collect()
    }

    fn info_of(finalization: &BlockFinalization, height: u64) -> FinalityInfo {
        FinalityInfo {
            height,
            block_hash: Hash32::from(<[u8; 32]>::from(finalization.proposal.payload)),
            epoch: finalization.proposal.round.epoch().get(),
            view: finalization.proposal.round.view().get(),
            signers: finalization
                .certificate
                .signers
                .iter()
                .map(|p| p.get())
                .collect(),
            finalization: encode_finalization(finalization),
            header: String::new(),
            tx_root: Hash32::default(),
        }
    }

    fn honest(signers: &[Scheme], epoch: u64) -> BlockFinalization {
        let votes = finalizes(signers, epoch, &[0, 1, 2]);
        Finalization::from_finalizes(&signers[0], non_empty![@votes.iter()], &Sequential).unwrap()
    }

    /// A finalization whose certificate claims `bitmap` as signers but
    /// aggregates the signatures of `who`.
    fn forged(signers: &[Scheme], who: &[usize], bitmap: &[u32]) -> BlockFinalization {
        let votes = finalizes(signers, 0, who);
        let signatures: Vec<_> = votes
            .iter()
            .map(|v| *v.attestation.signature.get().unwrap())
            .collect();
        let certificate = Certificate {
            signers: Signers::new(
                signers.len() as u32,
                bitmap.iter().map(|i| Participant::new(*i)),
            )
            .unwrap(),
            signature: combine_signatures::<MinPk, _>(non_empty![@signatures.iter()]).into(),
        };
        Finalization {
            proposal: proposal(0),
            certificate,
        }
    }

    #[test]
    fn a_quorum_of_the_committee_verifies() {
        let (members, signers) = committee(1, 4);
        let verifier = committee_verifier(members).unwrap();
        let finalization = honest(&signers, 0);
        let info = info_of(&finalization, 7);
        assert_eq!(info.signers, vec![0, 1, 2]);
        assert_eq!(verify_finality(&info, 0, &verifier).unwrap(), finalization);
    }

    #[test]
    fn below_quorum_or_a_wrong_bitmap_is_refused() {
        let (members, signers) = committee(1, 4);
        let verifier = committee_verifier(members).unwrap();
        let below = forged(&signers, &[0, 1], &[0, 1]);
        let err = verify_finality(&info_of(&below, 7), 0, &verifier).unwrap_err();
        assert_eq!(err, FinalityError::BadCertificate);
        let bitmap = forged(&signers, &[0, 1, 2], &[0, 1, 3]);
        let err = verify_finality(&info_of(&bitmap, 7), 0, &verifier).unwrap_err();
        assert_eq!(err, FinalityError::BadCertificate);
    }

    #[test]
    fn another_committee_or_epoch_is_refused() {
        let (_, signers) = committee(1, 4);
        let (others, _) = committee(11, 4);
        let finalization = honest(&signers, 0);
        let info = info_of(&finalization, 7);
        let err = verify_finality(&info, 0, &committee_verifier(others).unwrap()).unwrap_err();
        assert_eq!(err, FinalityError::BadCertificate);
        let (members, _) = committee(1, 4);
        let err = verify_finality(&info, 1, &committee_verifier(members).unwrap()).unwrap_err();
        assert_eq!(
            err,
            FinalityError::WrongEpoch {
                expected: 1,
                found: 0
            }
        );
    }

    #[test]
    fn a_certificate_over_the_notarize_subject_is_refused() {
        let (members, signers) = committee(1, 4);
        let votes: Vec<_> = (0..3)
            .map(|i| Notarize::sign(&signers[i], proposal(0)).unwrap())
            .collect();
        let notarization =
            Notarization::from_notarizes(&signers[0], non_empty![@votes.iter()], &Sequential)
                .unwrap();
        let relabelled = Finalization {
            proposal: notarization.proposal,
            certificate: notarization.certificate,
        };
        let err = verify_finality(
            &info_of(&relabelled, 7),
            0,
            &committee_verifier(members).unwrap(),
        )
        .unwrap_err();
        assert_eq!(err, FinalityError::BadCertificate);
    }

    #[test]
    fn an_answer_that_misstates_its_block_or_round_is_refused() {
        let (members, signers) = committee(1, 4);
        let verifier = committee_verifier(members).unwrap();
        let finalization = honest(&signers, 0);
        let mut info = info_of(&finalization, 7);
        info.block_hash = Hash32([9; 32]);
        assert!(matches!(
            verify_finality(&info, 0, &verifier),
            Err(FinalityError::WrongBlock { .. })
        ));
        let mut info = info_of(&finalization, 7);
        info.view += 1;
        assert_eq!(
            verify_finality(&info, 0, &verifier),
            Err(FinalityError::InconsistentRound)
        );
        let mut info = info_of(&finalization, 7);
        info.finalization.truncate(20);
        assert!(matches!(
            verify_finality(&info, 0, &verifier),
            Err(FinalityError::Malformed(_))
        ));
    }

    #[test]
    fn a_committee_with_a_repeated_key_is_refused() {
        let (mut members, _) = committee(1, 3);
        members.push(members[0].clone());
        assert_eq!(
            committee_verifier(members).unwrap_err(),
            FinalityError::BadCommittee
        );
        assert_eq!(
            committee_verifier(vec![]).unwrap_err(),
            FinalityError::BadCommittee
        );
    }
}
