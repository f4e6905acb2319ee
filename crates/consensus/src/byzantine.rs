//! A misbehaving validator, on purpose: for tests and devnets that prove
//! the chain withstands it and punishes it.
//!
//! The validator runs the honest engine; only what it sends on the vote
//! channel changes ([`VoteSender`] wraps that channel):
//!
//! - [`Misbehavior::Equivocate`]: after each notarize vote it sends a
//!   second one, signed with its own key, for another block of the same
//!   round (same parent, another payload). A leader's notarize is its
//!   proposal, so as a leader it proposes twice for one view. Peers that
//!   receive both report `ConflictingNotarize`.
//! - [`Misbehavior::NullifyFinalize`]: before each finalize vote it sends a
//!   nullify vote for the same round. Peers report `NullifyFinalize`.
//! - [`Misbehavior::Silent`]: it sends no vote at all (downtime; no
//!   evidence exists for it).
//!
//! Every vote goes to every peer (as honest votes do), so each peer sees
//! both halves of a fault. Honest peers block the offender after its first
//! fault; the others (at least a quorum when at most f misbehave) keep
//! finalizing without it.

use crate::block::Scheme;
use commonware_actor::{Feedback, Unreliable};
use commonware_codec::{DecodeExt, Encode};
use commonware_consensus::simplex::types::{Notarize, Nullify, Proposal, Vote};
use commonware_cryptography::{Hasher, Sha256, sha256};
use commonware_p2p::{CheckedSender, LimitedSender, Recipients, Sender};
use commonware_runtime::IoBufs;
use std::{str::FromStr, sync::Arc, time::SystemTime};

/// How a Byzantine validator misbehaves (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Misbehavior {
    Equivocate,
    NullifyFinalize,
    Silent,
}

impl Misbehavior {
    pub const ALL: [Misbehavior; 3] = [
        Misbehavior::Equivocate,
        Misbehavior::NullifyFinalize,
        Misbehavior::Silent,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Misbehavior::Equivocate => "equivocate",
            Misbehavior::NullifyFinalize => "nullify-finalize",
            Misbehavior::Silent => "silent",
        }
    }
}

impl std::fmt::Display for Misbehavior {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Misbehavior {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Misbehavior::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                format!("unknown fault {s:?}: expected equivocate, nullify-finalize or silent")
            })
    }
}

/// The block a equivocating validator votes for beside the real one: a
/// digest no honest proposer produced.
fn other_payload(payload: &sha256::Digest) -> sha256::Digest {
    Sha256::hash(&[b"lakh/byzantine/other-block".as_slice(), payload.as_ref()])
}

/// The vote this validator sends beside `vote` when it misbehaves as
/// `how`, and whether it goes first; `None` for none.
fn extra_vote(
    how: Misbehavior,
    scheme: &Scheme,
    vote: &Vote<Scheme, sha256::Digest>,
) -> Option<(Vote<Scheme, sha256::Digest>, bool)> {
    match (how, vote) {
        (Misbehavior::Equivocate, Vote::Notarize(n)) => {
            let other = Proposal::new(
                n.proposal.round,
                n.proposal.parent,
                other_payload(&n.proposal.payload),
            );
            Some((Vote::Notarize(Notarize::sign(scheme, other)?), false))
        }
        (Misbehavior::NullifyFinalize, Vote::Finalize(f)) => Some((
            Vote::Nullify(Nullify::sign::<sha256::Digest>(scheme, f.proposal.round)?),
            true,
        )),
        _ => None,
    }
}

/// The vote channel of an engine, honest (`byzantine` is `None`) or
/// misbehaving with the epoch's signing scheme.
#[derive(Clone)]
pub struct VoteSender<S> {
    inner: S,
    byzantine: Option<(Misbehavior, Arc<Scheme>)>,
}

impl<S> VoteSender<S> {
    pub fn new(inner: S, byzantine: Option<(Misbehavior, Arc<Scheme>)>) -> Self {
        VoteSender { inner, byzantine }
    }
}

/// What a misbehaving sender needs to send a vote of its own.
struct Spare<S: LimitedSender> {
    how: Misbehavior,
    scheme: Arc<Scheme>,
    sender: S,
    recipients: Recipients<S::PublicKey>,
}

pub struct CheckedVote<'a, S: LimitedSender + 'a> {
    inner: S::Checked<'a>,
    spare: Option<Spare<S>>,
}

impl<S: LimitedSender> LimitedSender for VoteSender<S> {
    type PublicKey = S::PublicKey;
    type Checked<'a>
        = CheckedVote<'a, S>
    where
        S: 'a;

    fn check(
        &mut self,
        recipients: Recipients<Self::PublicKey>,
    ) -> Result<Self::Checked<'_>, SystemTime> {
        let spare = self.byzantine.as_ref().map(|(how, scheme)| Spare {
            how: *how,
            scheme: scheme.clone(),
            sender: self.inner.clone(),
            recipients: recipients.clone(),
        });
        let inner = self.inner.check(recipients)?;
        Ok(CheckedVote { inner, spare })
    }
}

impl<S: LimitedSender> CheckedSender for CheckedVote<'_, S> {
    type PublicKey = S::PublicKey;

    fn recipients(&self) -> Vec<Self::PublicKey> {
        self.inner.recipients()
    }

    fn send(self, message: impl Into<IoBufs> + Send, priority: bool) -> Unreliable<Feedback> {
        let Some(mut spare) = self.spare else {
            return self.inner.send(message, priority);
        };
        if spare.how == Misbehavior::Silent {
            return Unreliable::Outcome(Feedback::Ok);
        }
        let bytes = message.into().coalesce();
        let extra = Vote::<Scheme, sha256::Digest>::decode(bytes.clone())
            .ok()
            .and_then(|vote| extra_vote(spare.how, &spare.scheme, &vote));
        let Some((extra, first)) = extra else {
            return self.inner.send(bytes, priority);
        };
        let extra = extra.encode();
        if first {
            spare.sender.send(spare.recipients, extra, priority);
            self.inner.send(bytes, priority)
        } else {
            let feedback = self.inner.send(bytes, priority);
            spare.sender.send(spare.recipients, extra, priority);
            feedback
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misbehaviors_parse_by_name() {
        for m in Misbehavior::ALL {
            assert_eq!(m.name().parse::<Misbehavior>(), Ok(m));
        }
        assert!("lazy".parse::<Misbehavior>().is_err());
    }
}
