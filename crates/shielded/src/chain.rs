//! The chain's side of shielded actions: the wire action
//! ([`lakh_types::modules::shielded::ShieldedAction`]) as the [`Statement`]
//! its proof is about, the chain's verifying key (genesis' or the devnet's),
//! and verification of a set
//! of actions in one batch with every failing member named.
//!
//! Ingest (the mempool's verifier threads) and block verification (for
//! transactions a node never saw at ingest) both use [`verify_actions`];
//! execution assumes it ran, as it assumes signatures were checked.

use std::sync::{Arc, OnceLock};

use lakh_types::codec::Text;
use lakh_types::modules::shielded::{
    Field32, FixedBytes, NoteCiphertext, ShieldedAction, ShieldedError, ShieldedGenesis,
    ShieldedGenesisError, check_typed,
};
use lakh_types::{Address, AssetId};

use ark_std::rand::{CryptoRng, RngCore};

use crate::encryption::{EncryptError, encrypt_note};
use crate::field::FieldDecodeError;
use crate::keys::ShieldedAddress;
use crate::note::Note;
use crate::proof::{KeyDecodeError, Parameters, Proof, ProveError, VerifyingKey};
use crate::transfer::{Action, Statement, TransferWitness};
use crate::tree::TREE_DEPTH;
use crate::types::{MerkleRoot, NoteCommitment, Nullifier, OwnerCommitment};

/// The public seed every devnet derives its Groth16 setup from.
///
/// **INSECURE**: anyone who knows it knows the setup's trapdoor and can
/// forge proofs, i.e. unshield value that was never shielded. A network
/// needs parameters from a multi-party ceremony instead.
pub const DEVNET_SEED: &[u8] = b"lakh devnet shielded setup 2026 v1 (INSECURE)";

const BOUND_DATA_DOMAIN: &str = "lakh-shielded 2026 v1 bound data";

/// The devnet's proving parameters at the chain's depth, derived once per
/// process from [`DEVNET_SEED`] (a few seconds). Wallets prove with it; the
/// chain only needs its [`devnet_verifying_key`].
pub fn devnet_parameters() -> &'static Parameters<TREE_DEPTH> {
    static PARAMS: OnceLock<Parameters<TREE_DEPTH>> = OnceLock::new();
    PARAMS.get_or_init(|| {
        Parameters::devnet_setup(DEVNET_SEED)
            .expect("the setup of the fixed transfer circuit synthesizes")
    })
}

/// [`VerifyingKey::digest`] of the devnet's key: what a wallet checks a
/// cached or given parameters file against without deriving the setup
/// (a test derives it and compares).
pub const DEVNET_VERIFYING_KEY_DIGEST: [u8; 32] = [
    124, 180, 251, 202, 102, 187, 104, 218, 199, 254, 63, 111, 106, 208, 233, 112, 171, 104, 87,
    217, 128, 42, 139, 21, 238, 142, 22, 3, 170, 212, 120, 201,
];

/// The verifying key every devnet node checks shielded proofs with.
pub fn devnet_verifying_key() -> &'static VerifyingKey {
    devnet_parameters().verifying_key()
}

/// The key a chain checks shielded proofs with: the one its genesis carries,
/// or the devnet's when genesis carries none. The devnet key is derived only
/// when a proof is first checked (a few seconds), never to learn its digest.
#[derive(Clone, Debug, Default)]
pub enum ChainVerifyingKey {
    /// [`devnet_verifying_key`]: **insecure**, anyone can forge proofs.
    #[default]
    Devnet,
    /// The genesis key (e.g. a ceremony's).
    Genesis(Arc<VerifyingKey>),
}

/// Why genesis' verifying key was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GenesisKeyError {
    /// Too large or not hex.
    #[error(transparent)]
    Section(#[from] ShieldedGenesisError),
    /// Not a transfer-circuit verifying key (off the curve or the subgroup,
    /// another public-input count, trailing bytes).
    #[error("the verifying key does not decode: {0}")]
    Key(#[from] KeyDecodeError),
    /// A key, but not in its canonical encoding: the chain's digest of the
    /// key is that of the genesis bytes, so they must be the key's own.
    #[error("the verifying key is not canonically encoded (it re-encodes to other bytes)")]
    NonCanonical,
}

impl GenesisKeyError {
    /// Stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Section(e) => e.code(),
            Self::Key(e) => e.code(),
            Self::NonCanonical => "non_canonical_key",
        }
    }
}

impl ChainVerifyingKey {
    /// The key of a chain whose genesis has `section`, decoded with every
    /// point checked.
    pub fn from_genesis(section: Option<&ShieldedGenesis>) -> Result<Self, GenesisKeyError> {
        let Some(section) = section else {
            return Ok(Self::Devnet);
        };
        let bytes = section.key_bytes()?;
        let key = VerifyingKey::from_bytes(&bytes)?;
        if key.to_bytes() != bytes {
            return Err(GenesisKeyError::NonCanonical);
        }
        Ok(Self::Genesis(Arc::new(key)))
    }

    /// The key (derives the devnet's on first use).
    pub fn key(&self) -> &VerifyingKey {
        match self {
            Self::Devnet => devnet_verifying_key(),
            Self::Genesis(key) => key,
        }
    }

    /// [`VerifyingKey::digest`] of the key, without deriving the devnet's.
    pub fn digest(&self) -> [u8; 32] {
        match self {
            Self::Devnet => DEVNET_VERIFYING_KEY_DIGEST,
            Self::Genesis(key) => key.digest(),
        }
    }

    /// Whether this is the seeded devnet key.
    pub fn is_devnet(&self) -> bool {
        matches!(self, Self::Devnet)
    }
}

/// The 32 bytes a proof is bound to besides its statement: the account that
/// submits it (and receives its fee) and the new notes' ciphertexts. Nobody
/// can take a pending transaction's proof and resubmit it from another
/// account to collect its fee, nor swap its ciphertexts so the recipients
/// cannot find their notes.
pub fn bound_data(sender: &Address, encrypted_notes: &[NoteCiphertext; 2]) -> [u8; 32] {
    let mut hasher = blake3::Hasher::new_derive_key(BOUND_DATA_DOMAIN);
    hasher.update(sender.as_bytes());
    for note in encrypted_notes {
        hasher.update(&note.0);
    }
    *hasher.finalize().as_bytes()
}

fn non_canonical(what: &str) -> impl Fn(FieldDecodeError) -> ShieldedError + '_ {
    move |_| ShieldedError::NonCanonical {
        what: Text::clipped(what),
    }
}

fn to_u64(value: u128) -> Result<u64, ShieldedError> {
    u64::try_from(value).map_err(|_| ShieldedError::ValueTooLarge { value })
}

/// A wire nullifier as the crate's type.
pub fn nullifier(bytes: &Field32) -> Result<Nullifier, ShieldedError> {
    Nullifier::from_bytes(&bytes.0).map_err(non_canonical("nullifier"))
}

/// A wire note commitment as the crate's type.
pub fn commitment(bytes: &Field32) -> Result<NoteCommitment, ShieldedError> {
    NoteCommitment::from_bytes(&bytes.0).map_err(non_canonical("commitment"))
}

/// A wire owner commitment as the crate's type.
pub fn owner_commitment(bytes: &Field32) -> Result<OwnerCommitment, ShieldedError> {
    OwnerCommitment::from_bytes(&bytes.0).map_err(non_canonical("owner_commitment"))
}

/// The note commitment the chain appends for a shield of `amount` of
/// `asset` to `owner` (no proof needed: asset and amount are public).
pub fn shield_commitment(
    asset: AssetId,
    amount: u128,
    owner: &Field32,
) -> Result<Field32, ShieldedError> {
    let cm = crate::note::commitment_from_parts(asset, to_u64(amount)?, owner_commitment(owner)?);
    Ok(FixedBytes(cm.to_bytes()))
}

/// What a transfer or an unshield sent by `sender` on chain `chain_id`
/// proves; `None` for a shield (which has no proof).
pub fn statement(
    chain_id: u64,
    sender: &Address,
    action: &ShieldedAction,
) -> Result<Option<Statement>, ShieldedError> {
    let Some(spend) = action.spend() else {
        return Ok(None);
    };
    let proof_action = match action {
        ShieldedAction::Unshield {
            recipient, amount, ..
        } => Action::Unshield {
            recipient: *recipient,
            amount: to_u64(*amount)?,
        },
        _ => Action::Transfer,
    };
    Ok(Some(Statement {
        chain_id,
        anchor: MerkleRoot::from_bytes(&spend.anchor.0).map_err(non_canonical("anchor"))?,
        nullifiers: [
            nullifier(&spend.nullifiers[0])?,
            nullifier(&spend.nullifiers[1])?,
        ],
        commitments: [
            commitment(&spend.commitments[0])?,
            commitment(&spend.commitments[1])?,
        ],
        fee: to_u64(spend.fee)?,
        revealed_asset: action.revealed_asset(),
        action: proof_action,
        bound_data: bound_data(sender, spend.encrypted_notes),
    }))
}

/// Verifies the proofs of `actions` (each with its sender) in one batch.
/// Returns, in input order, each action's verdict: `Ok` for a shield or a
/// valid proof, the reason otherwise (`invalid_proof` for a proof that does
/// not decode or does not verify). When the batch fails, each member is
/// checked alone, so only the bad ones are refused.
pub fn verify_actions(
    vk: &VerifyingKey,
    chain_id: u64,
    actions: &[(Address, &ShieldedAction)],
) -> Vec<Result<(), ShieldedError>> {
    let mut verdicts: Vec<Result<(), ShieldedError>> = vec![Ok(()); actions.len()];
    let mut batch = Vec::with_capacity(actions.len());
    let mut batch_at = Vec::with_capacity(actions.len());
    for (index, (sender, action)) in actions.iter().enumerate() {
        let prepared = check_typed(action).and_then(|()| {
            let (Some(spend), Some(statement)) =
                (action.spend(), statement(chain_id, sender, action)?)
            else {
                return Ok(None);
            };
            let proof =
                Proof::from_bytes(&spend.proof.0).map_err(|e| ShieldedError::InvalidProof {
                    detail: Text::clipped(&e.to_string()),
                })?;
            Ok(Some((statement, proof)))
        });
        match prepared {
            Ok(Some(member)) => {
                batch.push(member);
                batch_at.push(index);
            }
            Ok(None) => {}
            Err(e) => verdicts[index] = Err(e),
        }
    }
    if let Err(failed) = vk.batch_verify(&batch) {
        for (member, reason) in failed.failing {
            verdicts[batch_at[member]] = Err(ShieldedError::InvalidProof {
                detail: Text::clipped(&reason.to_string()),
            });
        }
    }
    verdicts
}

/// A wallet's shield of `note` (its asset and value are public) to
/// `recipient`, whose note it must be.
pub fn shield_action(
    note: &Note,
    recipient: &ShieldedAddress,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<ShieldedAction, EncryptError> {
    let encrypted = encrypt_note(note, recipient, None, rng)?;
    Ok(ShieldedAction::Shield {
        asset: note.asset,
        amount: note.value as u128,
        owner_commitment: FixedBytes(note.owner_commitment().to_bytes()),
        encrypted_note: FixedBytes(encrypted.to_bytes()),
    })
}

/// What a transfer or an unshield is, besides its witness.
#[derive(Clone, Copy, Debug)]
pub struct SpendTx {
    /// The chain it is for.
    pub chain_id: u64,
    /// The account that submits it and receives its fee.
    pub sender: Address,
    /// The recent root the witness's paths lead to.
    pub anchor: MerkleRoot,
    /// Fee paid to the sender out of the shielded value.
    pub fee: u64,
    /// Transfer, or unshield to a public account.
    pub action: Action,
    /// The outputs' ciphertexts, in output order.
    pub encrypted_notes: [NoteCiphertext; 2],
}

/// Proves `witness` for `tx` and returns the wire action (a wallet's last
/// step before signing): the inverse of [`statement`].
pub fn prove_spend(
    params: &Parameters<TREE_DEPTH>,
    witness: &TransferWitness<TREE_DEPTH>,
    tx: &SpendTx,
    rng: &mut (impl RngCore + CryptoRng),
) -> Result<ShieldedAction, ProveError> {
    let statement = witness.statement(
        tx.chain_id,
        tx.anchor,
        tx.fee,
        tx.action,
        bound_data(&tx.sender, &tx.encrypted_notes),
    )?;
    let proof = FixedBytes(params.prove(witness, &statement, rng)?.to_bytes());
    let field = |x: [u8; 32]| FixedBytes(x);
    let anchor = field(tx.anchor.to_bytes());
    let nullifiers = statement.nullifiers.map(|n| field(n.to_bytes()));
    let commitments = statement.commitments.map(|c| field(c.to_bytes()));
    Ok(match tx.action {
        Action::Transfer => ShieldedAction::Transfer {
            anchor,
            nullifiers,
            commitments,
            fee: tx.fee as u128,
            fee_asset: statement.revealed_asset,
            proof,
            encrypted_notes: tx.encrypted_notes,
        },
        Action::Unshield { recipient, amount } => ShieldedAction::Unshield {
            anchor,
            nullifiers,
            commitments,
            recipient,
            asset: witness.inputs[0].note.asset,
            amount: amount as u128,
            fee: tx.fee as u128,
            proof,
            encrypted_notes: tx.encrypted_notes,
        },
    })
}
