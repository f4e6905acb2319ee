//! The shielded wallet's store: one redb database per key name, at
//! `<keys dir>/shielded/<name>.redb` (directory 0700, file 0600).
//!
//! It holds the spending key, the height synced to, every note commitment
//! by position (the wallet rebuilds the tree from them for paths and its
//! anchor) and the notes the key owns. A synced page is applied in one write
//! transaction, so a crash mid-sync keeps every committed page and never
//! half of one.

use anyhow::{Context, bail};
use lakh_shielded::{Note, NoteCommitment, SpendingKey, field};
use lakh_types::AssetId;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use std::path::{Path, PathBuf};

/// Bumped when the tables' layout changes; a store of another version is refused.
const SCHEMA_VERSION: u32 = 1;

const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
const COMMITMENTS: TableDefinition<u64, &[u8; 32]> = TableDefinition::new("commitments");
const NOTES: TableDefinition<u64, &[u8]> = TableDefinition::new("notes");

const SCHEMA_KEY: &str = "schema_version";
const SPENDING_KEY: &str = "spending_key";
const SYNCED_HEIGHT: &str = "synced_height";

/// asset, value, rcm, height, spent flag, spent height.
const NOTE_BYTES: usize = 8 + 8 + 32 + 8 + 1 + 8;

/// A note this key owns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OwnedNote {
    pub position: u64,
    pub note: Note,
    /// Height of the block that appended it.
    pub height: u64,
    /// Height of the block that spent it, once known.
    pub spent_height: Option<u64>,
}

/// What one synced page adds: applied whole or not at all.
pub struct Page {
    /// The page's first height; the store must be synced to the one before.
    pub from_height: u64,
    pub to_height: u64,
    /// Every note appended in the page, by position.
    pub commitments: Vec<(u64, NoteCommitment)>,
    /// The page's notes this key owns.
    pub owned: Vec<OwnedNote>,
}

pub struct Store {
    db: Database,
    key: SpendingKey,
    path: PathBuf,
}

/// `<keys dir>/shielded/<name>.redb`.
pub fn store_path(keys_dir: &Path, name: &str) -> PathBuf {
    keys_dir.join("shielded").join(format!("{name}.redb"))
}

fn storage(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("shielded store: {e}")
}

impl Store {
    /// Opens the store of key `name`, creating it with a fresh spending key
    /// on first use.
    pub fn open(keys_dir: &Path, name: &str) -> anyhow::Result<Store> {
        let path = store_path(keys_dir, name);
        create_private_file(&path)?;
        let db = Database::create(&path)
            .with_context(|| format!("cannot open the shielded store {}", path.display()))?;
        let key = init(&db)?;
        Ok(Store { db, key, path })
    }

    pub fn key(&self) -> &SpendingKey {
        &self.key
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last height whose notes are applied (0: none yet).
    pub fn synced_height(&self) -> anyhow::Result<u64> {
        let tx = self.db.begin_read().map_err(storage)?;
        let meta = tx.open_table(META).map_err(storage)?;
        let value = meta.get(SYNCED_HEIGHT).map_err(storage)?;
        Ok(value.map_or(0, |v| read_u64(v.value(), 0)))
    }

    /// Every commitment, by position.
    pub fn commitments(&self) -> anyhow::Result<Vec<NoteCommitment>> {
        let tx = self.db.begin_read().map_err(storage)?;
        let table = tx.open_table(COMMITMENTS).map_err(storage)?;
        let mut out = Vec::with_capacity(table.len().map_err(storage)? as usize);
        for (i, entry) in table.iter().map_err(storage)?.enumerate() {
            let (position, cm) = entry.map_err(storage)?;
            if position.value() != i as u64 {
                bail!("shielded store: commitment {i} is missing");
            }
            out.push(NoteCommitment::from_bytes(cm.value()).map_err(storage)?);
        }
        Ok(out)
    }

    /// The notes this key owns, by position.
    pub fn notes(&self) -> anyhow::Result<Vec<OwnedNote>> {
        let owner = self.key.address().paying_key;
        let tx = self.db.begin_read().map_err(storage)?;
        let table = tx.open_table(NOTES).map_err(storage)?;
        let mut out = Vec::new();
        for entry in table.iter().map_err(storage)? {
            let (position, bytes) = entry.map_err(storage)?;
            out.push(decode_note(position.value(), owner, bytes.value())?);
        }
        Ok(out)
    }

    /// Applies a page in one write transaction.
    pub fn apply(&self, page: &Page) -> anyhow::Result<()> {
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut meta = tx.open_table(META).map_err(storage)?;
            let synced = meta
                .get(SYNCED_HEIGHT)
                .map_err(storage)?
                .map_or(0, |v| read_u64(v.value(), 0));
            if synced + 1 != page.from_height {
                bail!(
                    "shielded store: synced to {synced}, cannot apply a page from {}",
                    page.from_height
                );
            }
            let mut commitments = tx.open_table(COMMITMENTS).map_err(storage)?;
            let stored = commitments.len().map_err(storage)?;
            for (due, (position, cm)) in (stored..).zip(&page.commitments) {
                if *position != due {
                    bail!("the node sent note {position} where note {due} was due");
                }
                commitments
                    .insert(*position, &cm.to_bytes())
                    .map_err(storage)?;
            }
            let mut notes = tx.open_table(NOTES).map_err(storage)?;
            for owned in &page.owned {
                notes
                    .insert(owned.position, encode_note(owned).as_slice())
                    .map_err(storage)?;
            }
            meta.insert(SYNCED_HEIGHT, page.to_height.to_le_bytes().as_slice())
                .map_err(storage)?;
        }
        tx.commit().map_err(storage)
    }

    /// Records that the notes at `spent` (position, height) were spent.
    pub fn mark_spent(&self, spent: &[(u64, u64)]) -> anyhow::Result<()> {
        if spent.is_empty() {
            return Ok(());
        }
        let owner = self.key.address().paying_key;
        let tx = self.db.begin_write().map_err(storage)?;
        {
            let mut notes = tx.open_table(NOTES).map_err(storage)?;
            for (position, height) in spent {
                let mut owned = match notes.get(*position).map_err(storage)? {
                    Some(bytes) => decode_note(*position, owner, bytes.value())?,
                    None => bail!("shielded store: no note at position {position}"),
                };
                owned.spent_height = Some(*height);
                notes
                    .insert(*position, encode_note(&owned).as_slice())
                    .map_err(storage)?;
            }
        }
        tx.commit().map_err(storage)
    }
}

/// Checks the schema stamp, or stamps a new store and gives it a spending key.
fn init(db: &Database) -> anyhow::Result<SpendingKey> {
    let tx = db.begin_write().map_err(storage)?;
    let key = {
        let mut meta = tx.open_table(META).map_err(storage)?;
        tx.open_table(COMMITMENTS).map_err(storage)?;
        tx.open_table(NOTES).map_err(storage)?;
        let schema = meta
            .get(SCHEMA_KEY)
            .map_err(storage)?
            .map(|v| v.value().to_vec());
        match schema {
            Some(v) if v.as_slice() == SCHEMA_VERSION.to_le_bytes() => {}
            Some(v) => {
                bail!("shielded store has schema {v:?}, this wallet reads schema {SCHEMA_VERSION}")
            }
            None => {
                let mut rng = super::rng();
                let fresh = SpendingKey::random(&mut rng);
                meta.insert(SCHEMA_KEY, SCHEMA_VERSION.to_le_bytes().as_slice())
                    .map_err(storage)?;
                meta.insert(SPENDING_KEY, fresh.to_bytes().as_slice())
                    .map_err(storage)?;
                meta.insert(SYNCED_HEIGHT, 0u64.to_le_bytes().as_slice())
                    .map_err(storage)?;
            }
        }
        let stored = meta
            .get(SPENDING_KEY)
            .map_err(storage)?
            .context("shielded store without a spending key")?;
        let bytes: [u8; 32] = stored
            .value()
            .try_into()
            .map_err(|_| storage("the spending key is not 32 bytes"))?;
        SpendingKey::from_bytes(bytes)
    };
    tx.commit().map_err(storage)?;
    Ok(key)
}

fn create_private_file(path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().context("store path without a directory")?;
    crate::keys::create_private_dir(dir)?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    Ok(())
}

fn read_u64(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    if let Some(slice) = bytes.get(at..at + 8) {
        word.copy_from_slice(slice);
    }
    u64::from_le_bytes(word)
}

fn encode_note(owned: &OwnedNote) -> [u8; NOTE_BYTES] {
    let mut out = [0u8; NOTE_BYTES];
    out[..8].copy_from_slice(&owned.note.asset.0.to_le_bytes());
    out[8..16].copy_from_slice(&owned.note.value.to_le_bytes());
    out[16..48].copy_from_slice(&field::encode(&owned.note.rcm));
    out[48..56].copy_from_slice(&owned.height.to_le_bytes());
    if let Some(spent) = owned.spent_height {
        out[56] = 1;
        out[57..].copy_from_slice(&spent.to_le_bytes());
    }
    out
}

fn decode_note(
    position: u64,
    owner: lakh_shielded::PayingKey,
    bytes: &[u8],
) -> anyhow::Result<OwnedNote> {
    if bytes.len() != NOTE_BYTES {
        bail!("shielded store: note {position} is {} bytes", bytes.len());
    }
    let rcm = field::decode_slice(&bytes[16..48]).map_err(storage)?;
    Ok(OwnedNote {
        position,
        note: Note {
            asset: AssetId(read_u64(bytes, 0)),
            value: read_u64(bytes, 8),
            owner,
            rcm,
        },
        height: read_u64(bytes, 48),
        spent_height: (bytes[56] == 1).then(|| read_u64(bytes, 57)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(from: u64, to: u64, first: u64, count: u64) -> Page {
        let commitments = (first..first + count)
            .map(|p| {
                let cm = NoteCommitment::from_field(lakh_shielded::Fr::from(p + 1));
                (p, cm)
            })
            .collect();
        Page {
            from_height: from,
            to_height: to,
            commitments,
            owned: Vec::new(),
        }
    }

    #[test]
    fn pages_apply_in_order_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), "alice").unwrap();
        let key = store.key().to_bytes();
        let mut first = page(1, 10, 0, 2);
        let note = Note::new(
            AssetId(1),
            5,
            store.key().address().paying_key,
            &mut super::super::rng(),
        );
        first.owned.push(OwnedNote {
            position: 1,
            note,
            height: 7,
            spent_height: None,
        });
        store.apply(&first).unwrap();
        let err = store.apply(&page(20, 30, 2, 1)).unwrap_err();
        assert!(err.to_string().contains("synced to 10"), "{err}");
        // Note 2 is fine, then a gap: the transaction aborts, note 2 too.
        let mut gap = page(11, 30, 2, 1);
        gap.commitments.extend(page(11, 30, 4, 1).commitments);
        let err = store.apply(&gap).unwrap_err();
        assert!(err.to_string().contains("note 4 where note 3"), "{err}");
        assert_eq!(store.commitments().unwrap().len(), 2, "not half a page");
        assert_eq!(
            store.synced_height().unwrap(),
            10,
            "refused pages left nothing"
        );
        store.mark_spent(&[(1, 12)]).unwrap();
        drop(store);

        let store = Store::open(dir.path(), "alice").unwrap();
        assert_eq!(store.key().to_bytes(), key, "the key is kept");
        assert_eq!(store.synced_height().unwrap(), 10);
        assert_eq!(store.commitments().unwrap().len(), 2);
        let notes = store.notes().unwrap();
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].note, note);
        assert_eq!((notes[0].height, notes[0].spent_height), (7, Some(12)));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = Store::open(dir.path(), "bob").unwrap();
        assert_ne!(other.key().to_bytes(), key);
    }
}
