//! Notes and their commitments.

use ark_bn254::Fr;
use ark_std::rand::{CryptoRng, RngCore};
use lakh_types::AssetId;

use crate::field;
use crate::keys::NullifierKey;
use crate::poseidon::{self, Domain};
use crate::types::{NoteCommitment, PayingKey};

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

    /// `cm = H_cm(asset, value, apk, rcm)`: binds all four fields.
    pub fn commitment(&self) -> NoteCommitment {
        NoteCommitment(poseidon::hash(
            Domain::NoteCommitment,
            &[
                asset_field(self.asset),
                Fr::from(self.value),
                self.owner.as_field(),
                self.rcm,
            ],
        ))
    }
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
        let (dummy, nk) = Note::dummy(AssetId(1), &mut rng);
        assert_eq!(dummy.value, 0);
        assert_eq!(dummy.owner, nk.paying_key());
    }
}
