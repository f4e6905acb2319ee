//! Building a transfer or unshield: choose at most two unspent notes,
//! rebuild the tree from the stored commitments for their paths and the
//! anchor (which must be one the chain accepts), pad to two in and two out,
//! encrypt the outputs and prove.

use super::params::Loaded;
use super::store::{OwnedNote, Store};
use crate::wallet::{CodedError, query_answer};
use lakh_rpc::LakhClient;
use lakh_shielded::chain::{self, SpendTx};
use lakh_shielded::{
    Action as ProofAction, FullTree, MerkleRoot, Note, Parameters, ShieldedAddress, SpendInput,
    SpendingKey, TREE_DEPTH, TransferWitness, encrypt_note,
};
use lakh_types::modules::shielded::query::RootAnswer;
use lakh_types::modules::shielded::{FixedBytes, NoteCiphertext, ShieldedAction};
use lakh_types::{Address, AssetId};
use std::time::Instant;

/// Where the value goes.
#[derive(Clone, Copy, Debug)]
pub enum Destination {
    /// A private payment to a shielded address.
    Shielded(ShieldedAddress),
    /// Out of the pool to a public account.
    Public(Address),
}

/// A spend to build.
#[derive(Clone, Copy, Debug)]
pub struct SpendRequest {
    pub chain_id: u64,
    /// The account that signs, pays the native fee and receives `fee`.
    pub signer: Address,
    pub asset: AssetId,
    pub amount: u64,
    /// Paid to the signer out of the shielded value.
    pub fee: u64,
    pub to: Destination,
}

/// A proven spend, ready to sign.
pub struct Proven {
    pub action: ShieldedAction,
    pub anchor: MerkleRoot,
    /// Positions of the notes spent.
    pub spent: Vec<u64>,
    /// Value returned to the spender as a new note.
    pub change: u64,
    /// Loading (or deriving) the proving parameters.
    pub setup_ms: u64,
    /// Where they came from: `file`, `cache` or `derived`.
    pub params_source: &'static str,
    /// Why a cached parameters file was not used, if one was not.
    pub params_cache_refused: Option<String>,
    pub proving_ms: u64,
}

/// The fewest unspent notes of `asset` (at most two, as the circuit spends)
/// worth at least `need`, smallest sufficient first.
pub fn select(notes: &[OwnedNote], asset: AssetId, need: u64) -> anyhow::Result<Vec<OwnedNote>> {
    let mut unspent: Vec<OwnedNote> = notes
        .iter()
        .filter(|n| n.note.asset == asset && n.spent_height.is_none())
        .copied()
        .collect();
    unspent.sort_by_key(|n| n.note.value);
    let total: u128 = unspent.iter().map(|n| n.note.value as u128).sum();
    if total < need as u128 {
        return Err(CodedError::new(
            "insufficient_shielded_funds",
            format!(
                "the amount and fee need {need} base units of asset {asset}, the unspent notes hold {total} (in {} notes; sync to see newer ones)",
                unspent.len()
            ),
        )
        .into());
    }
    if let Some(one) = unspent.iter().find(|n| n.note.value >= need) {
        return Ok(vec![*one]);
    }
    let Some((largest, rest)) = unspent.split_last() else {
        return Err(CodedError::new("insufficient_shielded_funds", "no unspent notes").into());
    };
    let pair = rest
        .iter()
        .find(|n| n.note.value as u128 + largest.note.value as u128 >= need as u128);
    match pair {
        Some(other) => Ok(vec![*other, *largest]),
        None => Err(CodedError::new(
            "too_many_notes",
            format!(
                "{need} base units need more than the two largest unspent notes hold: a transaction spends at most two notes; send part of the balance to yourself first to merge notes"
            ),
        )
        .into()),
    }
}

/// Selects notes, builds the witness against an accepted anchor and proves.
pub async fn prove(
    client: &LakhClient,
    store: &Store,
    request: &SpendRequest,
    load_params: impl FnOnce() -> anyhow::Result<Loaded>,
) -> anyhow::Result<Proven> {
    let selected = select(&store.notes()?, request.asset, need(request)?)?;
    let tree = accepted_tree(client, store).await?;
    let loaded = load_params()?;
    let spend = prove_notes(&tree, store.key(), &selected, request, &loaded.params)?;
    Ok(Proven {
        action: spend.action,
        anchor: tree.root(),
        spent: selected.iter().map(|n| n.position).collect(),
        change: spend.change,
        setup_ms: loaded.load_ms,
        params_source: loaded.source,
        params_cache_refused: loaded.cache_refused,
        proving_ms: spend.proving_ms,
    })
}

/// The amount plus the fee the spent notes must cover.
fn need(request: &SpendRequest) -> anyhow::Result<u64> {
    request.amount.checked_add(request.fee).ok_or_else(|| {
        CodedError::new("amount_overflow", "amount + fee exceed 2^64 base units").into()
    })
}

/// A spend proven by [`prove_notes`].
pub struct ProvenSpend {
    pub action: ShieldedAction,
    /// Value returned to the spender as a new note.
    pub change: u64,
    pub proving_ms: u64,
}

/// Proves a spend of `selected` (one or two of `sk`'s notes of the
/// request's asset, all in `tree`) against `tree`'s root, which must be an
/// anchor the chain accepts. Pure computation: callers may prove many at
/// once on several threads.
pub fn prove_notes(
    tree: &FullTree<TREE_DEPTH>,
    sk: &SpendingKey,
    selected: &[OwnedNote],
    request: &SpendRequest,
    params: &Parameters<TREE_DEPTH>,
) -> anyhow::Result<ProvenSpend> {
    let need = need(request)?;
    if !(1..=2).contains(&selected.len()) || selected.iter().any(|n| n.note.asset != request.asset)
    {
        return Err(CodedError::new(
            "bad_selection",
            format!(
                "a spend takes one or two notes of asset {}, got {}",
                request.asset,
                selected.len()
            ),
        )
        .into());
    }
    let total: u128 = selected.iter().map(|n| u128::from(n.note.value)).sum();
    let change = total.checked_sub(u128::from(need)).ok_or_else(|| {
        CodedError::new(
            "insufficient_shielded_funds",
            format!("the amount and fee need {need} base units, the selected notes hold {total}"),
        )
    })?;
    let change = u64::try_from(change).map_err(|_| {
        CodedError::new(
            "change_too_large",
            format!("a change of {change} base units does not fit a note (at most 2^64 - 1)"),
        )
    })?;
    let mut rng = super::rng();
    let mut inputs = Vec::with_capacity(2);
    for owned in selected {
        let path = tree
            .path(owned.position)
            .ok_or_else(|| anyhow::anyhow!("note {} is not in the tree", owned.position))?;
        inputs.push(SpendInput {
            note: owned.note,
            nk: sk.nullifier_key(),
            path,
        });
    }
    if inputs.len() == 1 {
        inputs.push(SpendInput::dummy(request.asset, &mut rng));
    }
    let inputs: [SpendInput<TREE_DEPTH>; 2] = inputs
        .try_into()
        .map_err(|_| anyhow::anyhow!("a spend has two inputs"))?;
    let (outputs, recipients, action) = outputs(request, &sk.address(), change, &mut rng);
    let vk = sk.viewing_key();
    let encrypted = [
        seal(&outputs[0], &recipients[0], &vk, &mut rng)?,
        seal(&outputs[1], &recipients[1], &vk, &mut rng)?,
    ];
    let witness = TransferWitness { inputs, outputs };
    let tx = SpendTx {
        chain_id: request.chain_id,
        sender: request.signer,
        anchor: tree.root(),
        fee: request.fee,
        action,
        encrypted_notes: encrypted,
    };
    let started = Instant::now();
    let action = chain::prove_spend(params, &witness, &tx, &mut rng)
        .map_err(|e| anyhow::anyhow!("proving failed: {e}"))?;
    Ok(ProvenSpend {
        action,
        change,
        proving_ms: started.elapsed().as_millis() as u64,
    })
}

fn seal(
    note: &Note,
    to: &ShieldedAddress,
    vk: &lakh_shielded::ViewingKey,
    rng: &mut rand_chacha_ark::ChaCha20Rng,
) -> anyhow::Result<NoteCiphertext> {
    let sealed = encrypt_note(note, to, Some(vk), rng)
        .map_err(|e| anyhow::anyhow!("cannot encrypt a note to {to}: {e}"))?;
    Ok(FixedBytes(sealed.to_bytes()))
}

type Outputs = ([Note; 2], [ShieldedAddress; 2], ProofAction);

/// Two new notes: the payment (for a transfer) and the change, padded with
/// a zero-value note to self.
fn outputs(
    request: &SpendRequest,
    me: &ShieldedAddress,
    change: u64,
    rng: &mut rand_chacha_ark::ChaCha20Rng,
) -> Outputs {
    let note = |value: u64, to: &ShieldedAddress, rng: &mut rand_chacha_ark::ChaCha20Rng| {
        Note::new(request.asset, value, to.paying_key, rng)
    };
    let change_note = note(change, me, rng);
    match request.to {
        Destination::Shielded(to) => (
            [note(request.amount, &to, rng), change_note],
            [to, *me],
            ProofAction::Transfer,
        ),
        Destination::Public(recipient) => (
            [change_note, note(0, me, rng)],
            [*me, *me],
            ProofAction::Unshield {
                recipient,
                amount: request.amount,
            },
        ),
    }
}

/// The wallet's tree, checked against the chain: its root must be an
/// accepted anchor, and equal the chain's root when both hold as many notes.
pub async fn accepted_tree(
    client: &LakhClient,
    store: &Store,
) -> anyhow::Result<FullTree<TREE_DEPTH>> {
    let mut tree = FullTree::<TREE_DEPTH>::new();
    tree.append_batch(&store.commitments()?)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let chain_root: RootAnswer =
        query_answer(client, "shielded", "root", serde_json::json!({})).await?;
    let anchor = FixedBytes(tree.root().to_bytes());
    if chain_root.notes == tree.len() && chain_root.root != anchor {
        return Err(CodedError::new(
            "store_mismatch",
            format!(
                "the wallet's {} notes give root {anchor}, the chain's give {}: the store does not match this chain",
                tree.len(),
                chain_root.root
            ),
        )
        .into());
    }
    if !chain_root.anchors.contains(&anchor) {
        return Err(CodedError::new(
            "stale_anchor",
            format!(
                "the wallet's root {anchor} ({} notes) is not among the chain's {} accepted anchors: sync again",
                tree.len(),
                chain_root.anchors.len()
            ),
        )
        .into());
    }
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(position: u64, value: u64, spent: bool) -> OwnedNote {
        let mut rng = super::super::rng();
        let owner = lakh_shielded::SpendingKey::random(&mut rng)
            .address()
            .paying_key;
        OwnedNote {
            position,
            note: Note::new(AssetId(1), value, owner, &mut rng),
            height: 1,
            spent_height: spent.then_some(3),
        }
    }

    fn positions(notes: &[OwnedNote]) -> Vec<u64> {
        notes.iter().map(|n| n.position).collect()
    }

    #[test]
    fn selection_takes_the_fewest_notes_and_explains_refusals() {
        let notes = [
            owned(0, 100, true),
            owned(1, 30, false),
            owned(2, 50, false),
            owned(3, 10, false),
        ];
        assert_eq!(positions(&select(&notes, AssetId(1), 40).unwrap()), [2]);
        assert_eq!(positions(&select(&notes, AssetId(1), 60).unwrap()), [3, 2]);
        assert_eq!(positions(&select(&notes, AssetId(1), 80).unwrap()), [1, 2]);
        let err = select(&notes, AssetId(1), 90).unwrap_err();
        let coded = err.downcast_ref::<CodedError>().unwrap();
        assert_eq!(coded.code, "too_many_notes", "{err}");
        let err = select(&notes, AssetId(1), 91).unwrap_err();
        assert_eq!(
            err.downcast_ref::<CodedError>().unwrap().code,
            "insufficient_shielded_funds"
        );
        assert!(err.to_string().contains("hold 90"), "{err}");
        assert!(select(&notes, AssetId(2), 1).is_err(), "another asset");
    }
}
