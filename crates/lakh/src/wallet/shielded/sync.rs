//! `sync`: pages the chain's notes from the store's height to the finalized
//! head, keeps every commitment and the notes the key owns, then asks which
//! of the owned unspent notes' nullifiers the chain has seen.

use super::store::{OwnedNote, Page, Store};
use crate::wallet::query_answer;
use lakh_rpc::LakhClient;
use lakh_shielded::{Direction, EncryptedNote, ViewingKey, chain};
use lakh_types::modules::shielded::FixedBytes;
use lakh_types::modules::shielded::query::{
    MAX_NOTES_QUERY_BLOCKS, NoteRecord, NotesAnswer, NullifierAnswer,
};
use serde_json::json;
use std::collections::BTreeMap;

/// What a sync did.
#[derive(Debug, serde::Serialize)]
pub struct SyncReport {
    pub from_height: u64,
    pub synced_height: u64,
    pub head_height: u64,
    pub pages: u64,
    pub notes_scanned: u64,
    pub notes_found: u64,
    pub notes_spent: u64,
}

async fn notes(client: &LakhClient, from: u64, to: u64) -> anyhow::Result<NotesAnswer> {
    query_answer(
        client,
        "shielded",
        "notes",
        json!({"from_height": from, "to_height": to}),
    )
    .await
}

/// Syncs `store` to the node's finalized head.
pub async fn sync(client: &LakhClient, store: &Store) -> anyhow::Result<SyncReport> {
    let head_height = client.head().await?.height;
    let vk = store.key().viewing_key();
    let start = store.synced_height()?;
    let mut report = SyncReport {
        from_height: start + 1,
        synced_height: start,
        head_height,
        pages: 0,
        notes_scanned: 0,
        notes_found: 0,
        notes_spent: 0,
    };
    while report.synced_height < head_height {
        let from = report.synced_height + 1;
        let to = head_height.min(from + MAX_NOTES_QUERY_BLOCKS - 1);
        let answer = notes(client, from, to).await?;
        if answer.to_height < from {
            break; // the node's state is behind its head
        }
        let page = scan_page(client, &vk, &answer).await?;
        store.apply(&page)?;
        report.pages += 1;
        report.notes_scanned += answer.notes.len() as u64;
        report.notes_found += page.owned.len() as u64;
        report.synced_height = answer.to_height;
    }
    report.notes_spent = refresh_spent(client, store).await?;
    Ok(report)
}

/// The page's commitments and the notes `vk` receives (zero-value ones,
/// padding, are skipped), with the height each was appended at.
async fn scan_page(
    client: &LakhClient,
    vk: &ViewingKey,
    answer: &NotesAnswer,
) -> anyhow::Result<Page> {
    let mut commitments = Vec::with_capacity(answer.notes.len());
    let mut found = Vec::new();
    for record in &answer.notes {
        let cm = chain::commitment(&record.commitment)
            .map_err(|e| anyhow::anyhow!("note {}: {e}", record.position))?;
        commitments.push((record.position, cm));
        let encrypted = EncryptedNote::from_bytes(&record.encrypted_note.0);
        if let Some(note) = vk.decrypt_incoming(&cm, &encrypted)
            && note.value > 0
        {
            found.push((record.position, note));
        }
    }
    let positions: Vec<u64> = found.iter().map(|(p, _)| *p).collect();
    let heights = note_heights(client, answer.from_height, answer.to_height, positions).await?;
    let owned = found
        .into_iter()
        .map(|(position, note)| OwnedNote {
            position,
            note,
            height: heights.get(&position).copied().unwrap_or(answer.to_height),
            spent_height: None,
        })
        .collect();
    Ok(Page {
        from_height: answer.from_height,
        to_height: answer.to_height,
        commitments,
        owned,
    })
}

/// The height each of `wanted` (positions appended in `from..=to`) was
/// appended at: the `notes` answer lists positions, not heights, so the
/// range is halved around the wanted notes (about 2·log2(256) queries a note).
async fn note_heights(
    client: &LakhClient,
    from: u64,
    to: u64,
    wanted: Vec<u64>,
) -> anyhow::Result<BTreeMap<u64, u64>> {
    let mut heights = BTreeMap::new();
    let mut ranges = vec![(from, to, wanted)];
    while let Some((low, high, wanted)) = ranges.pop() {
        if wanted.is_empty() {
            continue;
        }
        if low == high {
            heights.extend(wanted.into_iter().map(|p| (p, low)));
            continue;
        }
        let mid = low + (high - low) / 2;
        let lower = notes(client, low, mid).await?;
        let in_lower = |p: &u64| lower.notes.iter().any(|n: &NoteRecord| n.position == *p);
        let (left, right): (Vec<u64>, Vec<u64>) = wanted.into_iter().partition(in_lower);
        ranges.push((low, mid, left));
        ranges.push((mid + 1, high, right));
    }
    Ok(heights)
}

/// Marks the owned notes whose nullifier the chain has seen; returns how many.
async fn refresh_spent(client: &LakhClient, store: &Store) -> anyhow::Result<u64> {
    let nk = store.key().nullifier_key();
    let mut spent = Vec::new();
    for owned in store.notes()? {
        if owned.spent_height.is_some() {
            continue;
        }
        let nullifier = FixedBytes(nk.nullifier(owned.position).to_bytes());
        let answer: NullifierAnswer = query_answer(
            client,
            "shielded",
            "nullifier",
            json!({ "nullifier": nullifier }),
        )
        .await?;
        if let Some(height) = answer.spent_height {
            spent.push((owned.position, height));
        }
    }
    store.mark_spent(&spent)?;
    Ok(spent.len() as u64)
}

/// A note a viewing key decrypts.
#[derive(Debug, serde::Serialize)]
pub struct SeenNote {
    pub position: u64,
    /// `incoming` (sent to the key's address) or `outgoing` (sent by it).
    pub direction: &'static str,
    /// Whom an outgoing note was sent to (`lzs…`).
    pub recipient: Option<String>,
    pub asset: lakh_types::AssetId,
    /// Base units, as a string like every amount the wallet prints as JSON.
    pub amount: String,
    #[serde(skip)]
    pub value: u64,
}

/// Every non-zero note `vk` decrypts from height 1 to the finalized head;
/// returns the head height too. Nothing is stored: this is an auditor's view.
pub async fn audit(client: &LakhClient, vk: &ViewingKey) -> anyhow::Result<(u64, Vec<SeenNote>)> {
    let head_height = client.head().await?.height;
    let mut seen = Vec::new();
    let mut from = 1;
    while from <= head_height {
        let to = head_height.min(from + MAX_NOTES_QUERY_BLOCKS - 1);
        let answer = notes(client, from, to).await?;
        let mut outputs = Vec::with_capacity(answer.notes.len());
        for record in &answer.notes {
            let cm = chain::commitment(&record.commitment)
                .map_err(|e| anyhow::anyhow!("note {}: {e}", record.position))?;
            outputs.push((cm, EncryptedNote::from_bytes(&record.encrypted_note.0)));
        }
        for found in vk.scan(&outputs).into_iter().filter(|f| f.note.value > 0) {
            let recipient = match found.direction {
                Direction::Incoming => None,
                Direction::Outgoing { recipient } => Some(recipient.to_string()),
            };
            seen.push(SeenNote {
                position: answer.notes[found.index].position,
                direction: if recipient.is_some() {
                    "outgoing"
                } else {
                    "incoming"
                },
                recipient,
                asset: found.note.asset,
                amount: found.note.value.to_string(),
                value: found.note.value,
            });
        }
        if answer.to_height < to {
            break;
        }
        from = to + 1;
    }
    Ok((head_height, seen))
}
