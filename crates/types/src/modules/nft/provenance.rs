//! A provenance file: what a creator writes down about how a work was made
//! (`lakh wallet nft mint --provenance FILE`), and the two actions that put
//! it on chain: a commitment to the prompt, then (a block later) the record
//! that reveals it.

use super::{Hash32, NftAction, TokenId, check, prompt_commitment};
use crate::Address;
use crate::codec::{BoundedVec, Text};
use serde::{Deserialize, Serialize};

/// Largest provenance file read, in bytes.
pub const MAX_PROVENANCE_FILE_BYTES: usize = 64 * 1024;

/// A provenance file (JSON).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvenanceFile {
    /// Model id: 64 hex characters, or text (its sha256).
    pub model: String,
    /// The model's version (at most 32 bytes).
    pub model_version: String,
    /// The prompt text (its sha256 is committed, then revealed).
    pub prompt: String,
    /// The generator's seed.
    pub seed: u64,
    /// Generation parameters as any JSON (the sha256 of its text).
    #[serde(default)]
    pub params: serde_json::Value,
    /// Key names or addresses of human contributors (at most 8).
    #[serde(default)]
    pub contributors: Vec<String>,
}

impl ProvenanceFile {
    /// Reads a provenance file's text, refusing what is too large or
    /// malformed, with the reason.
    pub fn parse(text: &str) -> Result<ProvenanceFile, String> {
        if text.len() > MAX_PROVENANCE_FILE_BYTES {
            return Err(format!(
                "the provenance file is {} bytes, at most {MAX_PROVENANCE_FILE_BYTES}",
                text.len()
            ));
        }
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
}

/// A model id: 64 hex characters as is, any other text hashed.
pub fn model_id(s: &str) -> Hash32 {
    s.parse().unwrap_or_else(|_| Hash32::sha256(s.as_bytes()))
}

/// The two transactions that give a token its provenance record: the
/// prompt's commitment, then (at least a block later) the record.
#[derive(Clone, Debug, PartialEq)]
pub struct ProvenanceActions {
    /// sha256 of the prompt.
    pub prompt_hash: Hash32,
    /// The commitment to the prompt.
    pub commit: NftAction,
    /// The record revealing it.
    pub record: NftAction,
}

/// The commitment and record of `p` for `token` (content hash
/// `content_hash`), committed by its creator `creator` with `salt`;
/// `contributors` are `p.contributors` resolved to addresses. Both actions
/// pass the module's stateless checks, or the reason is given.
pub fn provenance_actions(
    creator: &Address,
    token: TokenId,
    content_hash: Hash32,
    p: &ProvenanceFile,
    contributors: Vec<Address>,
    salt: Hash32,
) -> Result<ProvenanceActions, String> {
    let prompt_hash = Hash32::sha256(p.prompt.as_bytes());
    let commitment = prompt_commitment(creator, &prompt_hash, &salt);
    let n = contributors.len();
    let record = NftAction::RecordProvenance {
        token,
        model_id: model_id(&p.model),
        model_version: Text::new(p.model_version.clone())
            .ok_or_else(|| "model_version: at most 32 bytes".to_string())?,
        prompt_hash,
        salt,
        seed: p.seed,
        params_hash: Hash32::sha256(p.params.to_string().as_bytes()),
        output_hash: content_hash,
        contributors: BoundedVec::new(contributors)
            .ok_or_else(|| format!("{n} contributors, at most 8"))?,
    };
    let commit = NftAction::CommitPrompt { commitment };
    check(&commit)?;
    check(&record)?;
    Ok(ProvenanceActions {
        prompt_hash,
        commit,
        record,
    })
}
