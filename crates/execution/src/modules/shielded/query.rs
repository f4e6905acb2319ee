//! Read-only queries of the shielded module.
//!
//! Methods (params as a JSON object):
//! - `root {}`: the current root, the note count and the accepted anchors.
//! - `nullifier {nullifier}`: whether (and when) a nullifier was spent.
//! - `notes {from_height, to_height?}`: the notes blocks appended, by
//!   position, for wallets to scan and to keep their paths current (at most
//!   [`MAX_NOTES_QUERY_BLOCKS`] blocks, cut at the latest).
//! - `custody {asset}`: what the pool holds of an asset.
//! - `verifying_key {}`: the digest of the key proofs are checked with
//!   (genesis' or the devnet's), for wallets to check their parameters.

use super::state::{
    BlockNotes, GenesisKey, SpentNullifier, TreeState, block_notes_key, custody, genesis_key_key,
    nullifier_key, tree_key,
};
use crate::modules::kit::{QueryCtx, QueryError, params};
use lakh_shielded::{NoteTree, TREE_DEPTH, chain};
use lakh_types::AssetId;
use lakh_types::modules::shielded::query::{
    CustodyAnswer, MAX_NOTES_QUERY_BLOCKS, NoteRecord, NotesAnswer, NullifierAnswer, RootAnswer,
    VerifyingKeyAnswer,
};
use lakh_types::modules::shielded::{Field32, FixedBytes};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NullifierParams {
    nullifier: Field32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NotesParams {
    from_height: u64,
    #[serde(default)]
    to_height: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CustodyParams {
    asset: AssetId,
}

/// Answers a read-only query.
pub fn query(method: &str, p: &Value, ctx: &QueryCtx<'_>) -> Result<Value, QueryError> {
    let answer = match method {
        "root" => {
            let NoParams {} = params(p)?;
            serde_json::to_value(root_answer(ctx)?)
        }
        "nullifier" => {
            let NullifierParams { nullifier } = params(p)?;
            let spent = ctx.object::<SpentNullifier>(&nullifier_key(&nullifier))?;
            serde_json::to_value(NullifierAnswer {
                nullifier,
                spent_height: spent.map(|s| s.height),
            })
        }
        "notes" => {
            let NotesParams {
                from_height,
                to_height,
            } = params(p)?;
            serde_json::to_value(notes_answer(ctx, from_height, to_height)?)
        }
        "custody" => {
            let CustodyParams { asset } = params(p)?;
            let account = custody(asset);
            serde_json::to_value(CustodyAnswer {
                asset,
                custody: account,
                amount: ctx.balance(&account, asset)?,
            })
        }
        "verifying_key" => {
            let NoParams {} = params(p)?;
            let genesis = ctx.object::<GenesisKey>(&genesis_key_key())?;
            serde_json::to_value(VerifyingKeyAnswer {
                devnet: genesis.is_none(),
                digest: genesis
                    .map_or(FixedBytes(chain::DEVNET_VERIFYING_KEY_DIGEST), |g| g.digest),
            })
        }
        other => {
            return Err(QueryError::BadRequest(format!(
                "unknown shielded method {other:?}; methods: root, nullifier, notes, custody, verifying_key"
            )));
        }
    };
    answer.map_err(|e| QueryError::Corrupt(e.to_string()))
}

fn root_answer(ctx: &QueryCtx<'_>) -> Result<RootAnswer, QueryError> {
    let tree = ctx
        .object::<TreeState>(&tree_key())?
        .unwrap_or_else(TreeState::empty);
    let root = *tree
        .root()
        .ok_or_else(|| QueryError::Corrupt("note tree without a root".into()))?;
    Ok(RootAnswer {
        root,
        notes: tree.count,
        capacity: NoteTree::<TREE_DEPTH>::CAPACITY,
        anchors: tree.recent_roots.to_vec(),
    })
}

fn notes_answer(
    ctx: &QueryCtx<'_>,
    from_height: u64,
    to_height: Option<u64>,
) -> Result<NotesAnswer, QueryError> {
    let last = from_height.saturating_add(MAX_NOTES_QUERY_BLOCKS - 1);
    let to_height = to_height.unwrap_or(u64::MAX).min(last).min(ctx.height);
    let mut notes = Vec::new();
    for height in from_height..=to_height {
        if let Some(block) = ctx.object::<BlockNotes>(&block_notes_key(height))? {
            notes.extend(block.notes.iter().enumerate().map(|(i, n)| NoteRecord {
                position: block.first_position + i as u64,
                commitment: n.commitment,
                encrypted_note: n.encrypted_note,
            }));
        }
    }
    Ok(NotesAnswer {
        from_height,
        to_height,
        notes,
    })
}
