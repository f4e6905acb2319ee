//! Field-element newtypes shared by the tree, the circuit and the wire.

use ark_bn254::Fr;

use crate::field::{self, FIELD_BYTES, FieldDecodeError};

macro_rules! field_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub(crate) Fr);

        impl $name {
            /// Wraps a field element.
            pub fn from_field(x: Fr) -> Self {
                Self(x)
            }
            /// The field element.
            pub fn as_field(&self) -> Fr {
                self.0
            }
            /// The canonical 32-byte little-endian encoding.
            pub fn to_bytes(&self) -> [u8; FIELD_BYTES] {
                field::encode(&self.0)
            }
            /// Decodes a canonical encoding (anything `>= r` is refused).
            pub fn from_bytes(bytes: &[u8; FIELD_BYTES]) -> Result<Self, FieldDecodeError> {
                field::decode(bytes).map(Self)
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                let mut be = self.to_bytes();
                be.reverse();
                write!(f, concat!(stringify!($name), "(0x{})"), hex_string(&be))
            }
        }
    };
}

pub(crate) fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

field_newtype!(
    /// A note commitment: a leaf of the note commitment tree.
    NoteCommitment
);
field_newtype!(
    /// A nullifier: published when a note is spent, once per note. It (not the
    /// proof bytes, which anyone can re-randomise) identifies a spend.
    Nullifier
);
field_newtype!(
    /// A root of the note commitment tree; a recent one is a spend's anchor.
    MerkleRoot
);
field_newtype!(
    /// The paying key `apk = H(nk)` of a shielded address: whoever can open it
    /// to `nk` can spend notes owned by it.
    PayingKey
);
field_newtype!(
    /// `H(apk, rcm)`: a note's owner, hidden. A shield publishes it (with the
    /// public asset and amount) and the chain computes the note commitment.
    OwnerCommitment
);
