//! Notes and their commitments.

use ark_bn254::Fr;
use ark_std::rand::{CryptoRng, RngCore};
use lakh_types::AssetId;

use crate::field;
use crate::keys::NullifierKey;
use crate::poseidon::{self, Domain};
use crate::types::{NoteCommitment, OwnerCommitment, PayingKey};

/// A shielded note: `value` units of `asset`, spendable by whoever knows the
/// `nk` behind `owner`, hidden by the randomness `rcm`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Note {
    /// The asset.
    pub asset: AssetId,
    /// The amount, in the asset's smallest unit.
    pub value: u64,
    /// The owner's paying key `apk`.
    pub owner: PayingKey,
    /// Commitment randomness: hides the other fields (the commitment is hiding
    /// as long as `rcm` is uniform and secret).
    pub rcm: Fr,
}

impl Note {
    /// A note with fresh randomness.
    pub fn new(
        asset: AssetId,
        value: u64,
        owner: PayingKey,
        rng: &mut (impl RngCore + CryptoRng),
    ) -> Self {
        Self {
            asset,
            value,
            owner,
            rcm: field::random(rng),
        }
    }

    /// A zero-value note owned by a fresh random key, with that key: a dummy
    /// input (or output) that pads a transfer to two in, two out.
    pub fn dummy(asset: AssetId, rng: &mut (impl RngCore + CryptoRng)) -> (Self, NullifierKey) {
        let nk = NullifierKey::random(rng);
        (Self::new(asset, 0, nk.paying_key(), rng), nk)
    }

    /// `oc = H_owner(apk, rcm)`: commits to the owner, hidden by `rcm`.
    pub fn owner_commitment(&self) -> OwnerCommitment {
        OwnerCommitment(poseidon::hash2(
            Domain::NoteOwner,
            self.owner.as_field(),
            self.rcm,
        ))
    }

    /// `cm = H_cm(asset + 2^64·value, oc)`: binds all four fields (asset and
    /// value are below 2^64, so the packing is injective).
    ///
    /// The two-step shape lets the chain compute the commitment of a
    /// *shield* (public asset and amount in, note out) itself, from the
    /// public asset and amount and an owner commitment that hides the
    /// recipient: see [`commitment_from_parts`].
    pub fn commitment(&self) -> NoteCommitment {
        commitment_from_parts(self.asset, self.value, self.owner_commitment())
    }
}

/// The commitment of a note of `value` units of `asset` whose owner
/// commitment is `owner`: what the chain appends for a shield, where asset
/// and amount are public and the recipient is not.
pub fn commitment_from_parts(asset: AssetId, value: u64, owner: OwnerCommitment) -> NoteCommitment {
    NoteCommitment(poseidon::hash2(
        Domain::NoteCommitment,
        asset_field(asset) + Fr::from(value) * two_64(),
        owner.0,
    ))
}

/// 2^64 as a field element.
pub(crate) fn two_64() -> Fr {
    Fr::from(u64::MAX) + Fr::from(1u64)
}

/// An asset as a field element (its id as an integer).
pub fn asset_field(asset: AssetId) -> Fr {
    Fr::from(asset.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::SpendingKey;
    use ark_std::rand::SeedableRng;
    use rand_chacha_ark::ChaCha20Rng;

    #[test]
    fn commitment_binds_every_field() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let owner = SpendingKey::random(&mut rng).address().paying_key;
        let other = SpendingKey::random(&mut rng).address().paying_key;
        let note = Note::new(AssetId(1), 100, owner, &mut rng);
        let cm = note.commitment();
        assert_eq!(cm, note.commitment());
        for changed in [
            Note {
                asset: AssetId(2),
                ..note
            },
            Note { value: 101, ..note },
            Note {
                owner: other,
                ..note
            },
            Note {
                rcm: note.rcm + Fr::from(1u64),
                ..note
            },
        ] {
            assert_ne!(changed.commitment(), cm);
        }
        // Same fields, fresh randomness: unlinkable commitments.
        assert_ne!(Note::new(AssetId(1), 100, owner, &mut rng).commitment(), cm);
        // A shield's commitment, computed by the chain from public parts.
        assert_eq!(
            commitment_from_parts(AssetId(1), 100, note.owner_commitment()),
            cm
        );
        // Packing is injective: (asset, value) = (1, 100) vs (1 + 2^64·k, ...) cannot
        // arise, since both are u64; neighbouring pairs differ.
        assert_ne!(
            commitment_from_parts(AssetId(100), 1, note.owner_commitment()),
            cm
        );
        let (dummy, nk) = Note::dummy(AssetId(1), &mut rng);
        assert_eq!(dummy.value, 0);
        assert_eq!(dummy.owner, nk.paying_key());
    }
}
