//! The chain's side of shielded actions: the wire action
//! ([`lakh_types::modules::shielded::ShieldedAction`]) as the [`Statement`]
//! its proof is about, the devnet's verifying key, and verification of a set
//! of actions in one batch with every failing member named.
//!
//! Ingest (the mempool's verifier threads) and block verification (for
//! transactions a node never saw at ingest) both use [`verify_actions`];
//! execution assumes it ran, as it assumes signatures were checked.

use std::sync::OnceLock;

use lakh_types::codec::Text;
use lakh_types::modules::shielded::{
    Field32, FixedBytes, NoteCiphertext, ShieldedAction, ShieldedError, check_typed,
};
use lakh_types::{Address, AssetId};

use crate::field::FieldDecodeError;
use crate::proof::{Parameters, Proof, VerifyingKey};
use crate::transfer::{Action, Statement};
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

/// The verifying key every devnet node checks shielded proofs with.
pub fn devnet_verifying_key() -> &'static VerifyingKey {
    devnet_parameters().verifying_key()
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
