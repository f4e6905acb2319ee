//! The shielded pool: public assets move in as notes (`shield`), move
//! privately between shielded addresses (`transfer`) and move out to public
//! accounts (`unshield`).
//!
//! The wire carries the pool's cryptographic objects as fixed-size byte
//! strings (this crate has no arkworks dependency): field elements (anchors,
//! nullifiers, commitments, owner commitments) as 32-byte canonical
//! little-endian encodings of BN254 scalars, Groth16 proofs as 128 bytes, and
//! encrypted notes as 224 bytes. `lakh_shielded::chain` turns a transfer or
//! an unshield into the `Statement` its proof is about; the rules are in
//! `lakh_execution::modules::shielded` and `docs/modules/shielded.md`.

use serde::{Deserialize, Serialize};

use crate::{Address, AssetId};

pub mod query;

/// Bytes of a field element on the wire.
pub const FIELD_BYTES: usize = 32;
/// Bytes of a Groth16 proof (`A ‖ B ‖ C`, compressed).
pub const PROOF_BYTES: usize = 128;
/// Bytes of an encrypted note (`epk ‖ enc ‖ out`).
pub const ENCRYPTED_NOTE_BYTES: usize = 224;

/// Most shielded actions (shield, transfer, unshield together) one block
/// applies: bounds the notes appended to the tree at the block's end and the
/// block's pending list. A further one fails with [`ShieldedError::BlockCap`].
pub const MAX_SHIELDED_ACTIONS_PER_BLOCK: usize = 64;
/// Most notes one shielded action creates.
pub const MAX_NOTES_PER_ACTION: usize = 2;
/// Most notes appended to the tree by one block.
pub const MAX_NOTES_PER_BLOCK: usize = MAX_SHIELDED_ACTIONS_PER_BLOCK * MAX_NOTES_PER_ACTION;

/// Fee units of the Groth16 check a transfer or unshield needs. One
/// verification costs about 1.8 ms alone and 0.4 ms in a batch, against about
/// 20 µs for a plain transfer (1 unit): priced at the single-proof cost (90
/// transfers), since a block proposed by someone else may carry proofs this
/// node never saw at ingest and must verify one by one in the worst case.
pub const PROOF_UNITS: u64 = 90;
/// Fee units of the Poseidon work for one note: its commitment and its share
/// of the block's tree append (about 28 µs a hash, a few hashes a note).
pub const NOTE_UNITS: u64 = 4;

/// The BN254 scalar field modulus `r`, little-endian.
const MODULUS_LE: [u8; 32] = [
    0x01, 0x00, 0x00, 0xf0, 0x93, 0xf5, 0xe1, 0x43, 0x91, 0x70, 0xb9, 0x79, 0x48, 0xe8, 0x33, 0x28,
    0x5d, 0x58, 0x81, 0x81, 0xb6, 0x45, 0x50, 0xb8, 0x29, 0xa0, 0x31, 0xe1, 0x72, 0x4e, 0x64, 0x30,
];

/// `N` bytes carried as they are (hex in JSON), the type consensus keys use.
pub use crate::committee::FixedBytes;

/// A field element's canonical 32-byte little-endian encoding.
pub type Field32 = FixedBytes<FIELD_BYTES>;
/// A Groth16 proof's bytes.
pub type ProofBytes = FixedBytes<PROOF_BYTES>;
/// An encrypted note's bytes.
pub type NoteCiphertext = FixedBytes<ENCRYPTED_NOTE_BYTES>;

impl Field32 {
    /// Whether the bytes are a canonical field element (below `r`, read
    /// little-endian). Anything else is refused, never reduced.
    pub fn is_canonical(&self) -> bool {
        for (byte, modulus) in self.0.iter().rev().zip(MODULUS_LE.iter().rev()) {
            if byte != modulus {
                return byte < modulus;
            }
        }
        false
    }
}

crate::tagged_enum! {
    /// What a `shielded` transaction does.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "op", rename_all = "snake_case")]
    pub enum ShieldedAction {
        /// Moves `amount` of `asset` from the sender into the pool as one
        /// note owned by whoever opens `owner_commitment`. No proof: the
        /// chain computes the note commitment itself from the public asset
        /// and amount (`commitment_from_parts`), so the note is worth exactly
        /// what was paid in.
        0x01 => Shield {
            /// The asset moved in.
            asset: AssetId,
            /// Amount moved in (base units, below 2^64).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// `H(apk, rcm)` of the recipient's note: hides the recipient.
            owner_commitment: Field32,
            /// The note encrypted to its recipient (and the sender's view).
            encrypted_note: NoteCiphertext,
        },
        /// Spends two notes and creates two, privately. A fee above zero is
        /// paid out of the shielded value to the sender (a relayer, or the
        /// user's own fresh account) and reveals the notes' asset.
        0x02 => Transfer {
            /// A recent tree root the spent notes are under.
            anchor: Field32,
            /// Nullifiers of the two notes spent.
            nullifiers: [Field32; 2],
            /// Commitments of the two notes created.
            commitments: [Field32; 2],
            /// Fee paid to the sender out of the shielded value (base units
            /// of `fee_asset`, below 2^64).
            #[serde(with = "crate::amount")]
            fee: u128,
            /// The notes' asset, named exactly when `fee > 0`.
            #[serde(default)]
            fee_asset: Option<AssetId>,
            /// The Groth16 proof of the transfer statement.
            proof: ProofBytes,
            /// The two new notes, encrypted to their recipients.
            encrypted_notes: [NoteCiphertext; 2],
        },
        /// Spends two notes, pays `amount` of `asset` to the public
        /// `recipient` and `fee` to the sender, and creates two change notes.
        0x03 => Unshield {
            /// A recent tree root the spent notes are under.
            anchor: Field32,
            /// Nullifiers of the two notes spent.
            nullifiers: [Field32; 2],
            /// Commitments of the two (change) notes created.
            commitments: [Field32; 2],
            /// The public account credited.
            recipient: Address,
            /// The notes' asset, which leaves the pool.
            asset: AssetId,
            /// Amount credited to `recipient` (base units, 1 to 2^64 − 1).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Fee paid to the sender out of the shielded value (base units
            /// of `asset`, below 2^64).
            #[serde(with = "crate::amount")]
            fee: u128,
            /// The Groth16 proof of the unshield statement.
            proof: ProofBytes,
            /// The two change notes, encrypted to their recipients.
            encrypted_notes: [NoteCiphertext; 2],
        },
    }
}

impl ShieldedAction {
    /// The spend part of a transfer or unshield (`None` for a shield).
    pub fn spend(&self) -> Option<Spend<'_>> {
        match self {
            ShieldedAction::Shield { .. } => None,
            ShieldedAction::Transfer {
                anchor,
                nullifiers,
                commitments,
                fee,
                proof,
                encrypted_notes,
                ..
            }
            | ShieldedAction::Unshield {
                anchor,
                nullifiers,
                commitments,
                fee,
                proof,
                encrypted_notes,
                ..
            } => Some(Spend {
                anchor,
                nullifiers,
                commitments,
                fee: *fee,
                proof,
                encrypted_notes,
            }),
        }
    }

    /// The asset value leaves the pool in (fee or unshielded amount), if any.
    pub fn revealed_asset(&self) -> Option<AssetId> {
        match self {
            ShieldedAction::Shield { .. } => None,
            ShieldedAction::Transfer { fee_asset, .. } => *fee_asset,
            ShieldedAction::Unshield { asset, .. } => Some(*asset),
        }
    }
}

/// The fields transfers and unshields share.
#[derive(Clone, Copy, Debug)]
pub struct Spend<'a> {
    /// A recent tree root.
    pub anchor: &'a Field32,
    /// Nullifiers of the notes spent.
    pub nullifiers: &'a [Field32; 2],
    /// Commitments of the notes created.
    pub commitments: &'a [Field32; 2],
    /// Fee paid to the sender out of the shielded value.
    pub fee: u128,
    /// The proof.
    pub proof: &'a ProofBytes,
    /// The new notes, encrypted.
    pub encrypted_notes: &'a [NoteCiphertext; 2],
}

crate::tagged_enum! {
    /// Something a `shielded` action (or the end of a block) did.
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case")]
    pub enum ShieldedEvent {
        /// Public funds became a note (appended at the block's end).
        0x01 => Shielded {
            /// The public account that paid.
            from: Address,
            /// The asset moved in.
            asset: AssetId,
            /// Amount moved in (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// The new note's commitment.
            commitment: Field32,
        },
        /// Two notes were spent and two created, privately.
        0x02 => Transferred {
            /// Nullifiers now spent.
            nullifiers: [Field32; 2],
            /// Commitments of the new notes.
            commitments: [Field32; 2],
            /// Fee paid to the sender (base units of `fee_asset`).
            #[serde(with = "crate::amount")]
            fee: u128,
            /// The asset of the fee, when there is one.
            fee_asset: Option<AssetId>,
        },
        /// Two notes were spent, value paid to a public account, change notes created.
        0x03 => Unshielded {
            /// The public account credited.
            to: Address,
            /// The asset paid out.
            asset: AssetId,
            /// Amount paid out (base units).
            #[serde(with = "crate::amount")]
            amount: u128,
            /// Fee paid to the sender (base units of `asset`).
            #[serde(with = "crate::amount")]
            fee: u128,
            /// Nullifiers now spent.
            nullifiers: [Field32; 2],
            /// Commitments of the change notes.
            commitments: [Field32; 2],
        },
        /// The block's notes were appended to the tree (a block event).
        0x04 => NotesAppended {
            /// Position of the block's first note.
            first_position: u64,
            /// Notes appended.
            count: u64,
            /// The tree's root afterwards: a new anchor.
            root: Field32,
        },
    }
}

crate::tagged_enum! {
    /// Why a `shielded` action failed (or was refused at ingest).
    #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
    #[serde(tag = "code", rename_all = "snake_case")]
    pub enum ShieldedError {
        /// A shield or unshield of zero.
        #[error("amount must be positive")]
        0x01 => ZeroAmount {},
        /// A value that does not fit the circuit's 64 bits.
        #[error("value {value} is not below 2^64")]
        0x02 => ValueTooLarge {
            /// The value named.
            #[serde(with = "crate::amount")]
            value: u128,
        },
        /// A transfer names a fee asset without a fee, or a fee without one.
        #[error("a transfer names its fee asset exactly when its fee is positive")]
        0x03 => FeeAsset {},
        /// Both nullifiers of one action are equal: one note spent twice.
        #[error("the action spends the same note twice (nullifier {nullifier})")]
        0x04 => DuplicateNullifier {
            /// The repeated nullifier.
            nullifier: Field32,
        },
        /// A field element that is not below the field modulus.
        #[error("{what} is not a canonical field element")]
        0x05 => NonCanonical {
            /// Which one (`anchor`, `nullifier`, `commitment`, `owner_commitment`).
            what: crate::codec::Text<16>,
        },
        /// The anchor is not one of the recent roots (unknown or expired).
        #[error("anchor {anchor} is not a recent root of the note tree")]
        0x06 => UnknownAnchor {
            /// The anchor named.
            anchor: Field32,
        },
        /// The nullifier was already published: its note is spent.
        #[error("nullifier {nullifier} is already spent")]
        0x07 => NullifierSpent {
            /// The nullifier.
            nullifier: Field32,
        },
        /// The proof does not verify for this statement (or does not decode).
        #[error("invalid proof: {detail}")]
        0x08 => InvalidProof {
            /// Why, for people.
            detail: crate::codec::Text<128>,
        },
        /// The note tree has no room for the action's notes.
        #[error("the note tree is full ({capacity} notes)")]
        0x09 => TreeFull {
            /// Notes the tree holds at most.
            capacity: u64,
        },
        /// The block already applied its share of shielded actions.
        #[error("the block already holds {cap} shielded actions")]
        0x0a => BlockCap {
            /// Shielded actions per block.
            cap: u32,
        },
    }
}

/// Fee units of an action.
pub fn units(action: &ShieldedAction) -> u64 {
    match action {
        // Sender and custody balances, the pending list, one note.
        ShieldedAction::Shield { .. } => 3 + NOTE_UNITS,
        // Two nullifiers, the pending list, up to two balances, two notes.
        ShieldedAction::Transfer { .. } | ShieldedAction::Unshield { .. } => {
            PROOF_UNITS + 5 + 2 * NOTE_UNITS
        }
    }
}

/// Checks that hold regardless of state; ingest refuses an action that fails
/// them with this reason.
pub fn check(action: &ShieldedAction) -> Result<(), String> {
    check_typed(action).map_err(|e| e.to_string())
}

fn below_2_64(value: u128) -> Result<(), ShieldedError> {
    if value > u64::MAX as u128 {
        return Err(ShieldedError::ValueTooLarge { value });
    }
    Ok(())
}

fn canonical(field: &Field32, what: &str) -> Result<(), ShieldedError> {
    if field.is_canonical() {
        Ok(())
    } else {
        Err(ShieldedError::NonCanonical {
            what: crate::codec::Text::clipped(what),
        })
    }
}

/// [`check`] with the typed reason (execution repeats these checks). Proofs
/// are not checked here: that needs the verifying key (ingest's verifier).
pub fn check_typed(action: &ShieldedAction) -> Result<(), ShieldedError> {
    match action {
        ShieldedAction::Shield {
            amount,
            owner_commitment,
            ..
        } => {
            if *amount == 0 {
                return Err(ShieldedError::ZeroAmount {});
            }
            below_2_64(*amount)?;
            canonical(owner_commitment, "owner_commitment")
        }
        ShieldedAction::Transfer { fee, fee_asset, .. } => {
            if (*fee > 0) != fee_asset.is_some() {
                return Err(ShieldedError::FeeAsset {});
            }
            check_spend(action)
        }
        ShieldedAction::Unshield { amount, fee, .. } => {
            if *amount == 0 {
                return Err(ShieldedError::ZeroAmount {});
            }
            below_2_64(*amount)?;
            // The statement carries fee + amount as a u64.
            below_2_64(amount.saturating_add(*fee))?;
            check_spend(action)
        }
    }
}

fn check_spend(action: &ShieldedAction) -> Result<(), ShieldedError> {
    let Some(spend) = action.spend() else {
        return Ok(());
    };
    below_2_64(spend.fee)?;
    canonical(spend.anchor, "anchor")?;
    for nullifier in spend.nullifiers {
        canonical(nullifier, "nullifier")?;
    }
    for commitment in spend.commitments {
        canonical(commitment, "commitment")?;
    }
    if spend.nullifiers[0] == spend.nullifiers[1] {
        return Err(ShieldedError::DuplicateNullifier {
            nullifier: spend.nullifiers[0],
        });
    }
    Ok(())
}

/// Largest verifying key (decoded bytes) a genesis may carry. The transfer
/// circuit's is 552 bytes (compressed, 9 public inputs); the bound only
/// keeps a hostile genesis from making every node decode megabytes.
pub const MAX_GENESIS_VERIFYING_KEY_BYTES: usize = 2048;

/// The shielded pool's section of genesis.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShieldedGenesis {
    /// Hex of the Groth16 verifying key every node checks shielded proofs
    /// with (arkworks' compressed encoding), e.g. the one of a ceremony's
    /// finalized parameters (`lakh genesis --shielded-params FILE`).
    pub verifying_key: String,
}

/// Why genesis' shielded section was refused before its key was decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShieldedGenesisError {
    /// More than [`MAX_GENESIS_VERIFYING_KEY_BYTES`].
    #[error("the verifying key has {hex_chars} hex characters, at most {} allowed", 2 * MAX_GENESIS_VERIFYING_KEY_BYTES)]
    TooLarge {
        /// Length of the hex text.
        hex_chars: usize,
    },
    /// Not an even-length string of hex digits.
    #[error("the verifying key is not hex: {0}")]
    NotHex(String),
}

impl ShieldedGenesisError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "verifying_key_too_large",
            Self::NotHex(_) => "verifying_key_not_hex",
        }
    }
}

impl ShieldedGenesis {
    /// The section carrying `key` (its encoded bytes).
    pub fn with_key(key: &[u8]) -> Self {
        Self {
            verifying_key: hex::encode(key),
        }
    }

    /// The key's bytes, size-checked before decoding the hex.
    pub fn key_bytes(&self) -> Result<Vec<u8>, ShieldedGenesisError> {
        let hex_chars = self.verifying_key.len();
        if hex_chars > 2 * MAX_GENESIS_VERIFYING_KEY_BYTES {
            return Err(ShieldedGenesisError::TooLarge { hex_chars });
        }
        hex::decode(&self.verifying_key).map_err(|e| ShieldedGenesisError::NotHex(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_codec::{Decode, Encode};

    fn f(byte: u8) -> Field32 {
        FixedBytes([byte; 32])
    }

    fn transfer(fee: u128, fee_asset: Option<AssetId>) -> ShieldedAction {
        ShieldedAction::Transfer {
            anchor: f(1),
            nullifiers: [f(2), f(3)],
            commitments: [f(4), f(5)],
            fee,
            fee_asset,
            proof: FixedBytes([6; PROOF_BYTES]),
            encrypted_notes: [FixedBytes([7; ENCRYPTED_NOTE_BYTES]); 2],
        }
    }

    fn unshield(amount: u128, fee: u128) -> ShieldedAction {
        ShieldedAction::Unshield {
            anchor: f(1),
            nullifiers: [f(2), f(3)],
            commitments: [f(4), f(5)],
            recipient: Address([8; 32]),
            asset: AssetId(9),
            amount,
            fee,
            proof: FixedBytes([6; PROOF_BYTES]),
            encrypted_notes: [FixedBytes([7; ENCRYPTED_NOTE_BYTES]); 2],
        }
    }

    #[test]
    fn actions_round_trip_in_binary_and_json() {
        for a in [
            ShieldedAction::Shield {
                asset: AssetId(3),
                amount: u64::MAX as u128,
                owner_commitment: f(9),
                encrypted_note: FixedBytes([1; ENCRYPTED_NOTE_BYTES]),
            },
            transfer(0, None),
            transfer(5, Some(AssetId(2))),
            unshield(10, 1),
        ] {
            let bytes = a.encode();
            assert_eq!(ShieldedAction::decode_cfg(bytes, &()).unwrap(), a);
            let json = serde_json::to_string(&a).unwrap();
            assert_eq!(serde_json::from_str::<ShieldedAction>(&json).unwrap(), a);
        }
        let json = serde_json::to_value(transfer(0, None)).unwrap();
        assert_eq!(json["op"], "transfer");
        assert_eq!(json["anchor"], "01".repeat(32));
    }

    #[test]
    fn canonical_field_elements_are_below_the_modulus() {
        let r = FixedBytes(MODULUS_LE);
        assert!(!r.is_canonical());
        let mut below = MODULUS_LE;
        below[0] -= 1;
        assert!(FixedBytes(below).is_canonical());
        let mut above = MODULUS_LE;
        above[31] += 1;
        assert!(!FixedBytes(above).is_canonical());
        assert!(f(0).is_canonical());
        // 0x3030.. < 0x3064..: decided below the top byte.
        assert!(f(0x30).is_canonical());
        assert!(!f(0xff).is_canonical());
    }

    #[test]
    fn stateless_checks_bound_every_value() {
        assert_eq!(check_typed(&transfer(0, None)), Ok(()));
        assert_eq!(check_typed(&transfer(1, Some(AssetId(2)))), Ok(()));
        assert_eq!(
            check_typed(&transfer(1, None)),
            Err(ShieldedError::FeeAsset {})
        );
        assert_eq!(
            check_typed(&transfer(0, Some(AssetId(2)))),
            Err(ShieldedError::FeeAsset {})
        );
        let big = 1u128 << 64;
        assert_eq!(
            check_typed(&transfer(big, Some(AssetId(2)))),
            Err(ShieldedError::ValueTooLarge { value: big })
        );
        assert_eq!(
            check_typed(&unshield(big, 0)),
            Err(ShieldedError::ValueTooLarge { value: big })
        );
        assert_eq!(
            check_typed(&unshield(u64::MAX as u128, 1)),
            Err(ShieldedError::ValueTooLarge { value: big })
        );
        assert_eq!(
            check_typed(&unshield(0, 1)),
            Err(ShieldedError::ZeroAmount {})
        );
        let shield = |amount| ShieldedAction::Shield {
            asset: AssetId(3),
            amount,
            owner_commitment: f(9),
            encrypted_note: FixedBytes([1; ENCRYPTED_NOTE_BYTES]),
        };
        assert_eq!(check_typed(&shield(0)), Err(ShieldedError::ZeroAmount {}));
        assert_eq!(
            check_typed(&shield(big)),
            Err(ShieldedError::ValueTooLarge { value: big })
        );
        let mut same = transfer(0, None);
        if let ShieldedAction::Transfer { nullifiers, .. } = &mut same {
            nullifiers[1] = nullifiers[0];
        }
        assert_eq!(
            check_typed(&same),
            Err(ShieldedError::DuplicateNullifier { nullifier: f(2) })
        );
        let mut wide = transfer(0, None);
        if let ShieldedAction::Transfer { commitments, .. } = &mut wide {
            commitments[1] = f(0xff);
        }
        assert!(matches!(
            check_typed(&wide),
            Err(ShieldedError::NonCanonical { what }) if what.as_str() == "commitment"
        ));
        assert!(check(&wide).unwrap_err().contains("canonical"));
    }

    #[test]
    fn proofs_cost_more_than_shields() {
        assert_eq!(units(&transfer(0, None)), units(&unshield(1, 0)));
        assert!(units(&transfer(0, None)) > PROOF_UNITS);
        assert!(
            units(&unshield(1, 0))
                > 10 * units(&ShieldedAction::Shield {
                    asset: AssetId(3),
                    amount: 1,
                    owner_commitment: f(9),
                    encrypted_note: FixedBytes([1; ENCRYPTED_NOTE_BYTES]),
                })
        );
    }
}
