//! A full disk or a damaged store ends the node with a message that says
//! what happened and what to do.
//!
//! commonware's storage reports a failed write, or a store it cannot reopen
//! consistently, as an error that its actors (and ours) turn into a panic:
//! the panic is where such a failure shows. The hook [`install`] sets
//! recognises those panics, prints the explanation and ends the process at
//! once. Ending at the first failed write is a crash as far as the store is
//! concerned, which its recovery handles on the next start (a torn page is
//! trimmed, an uncommitted state batch rewound); going on would let every
//! other actor trip over the dead one and could only write more. A write
//! the kernel refused often reaches the panic without its errno, so a full
//! disk is also recognised by a probe write that finds no room.

use std::{
    io::{ErrorKind, Write as _},
    path::{Path, PathBuf},
};

/// Exit status of a node stopped by a full disk.
pub const EXIT_DISK_FULL: i32 = 3;
/// Exit status of a node refusing a damaged store.
pub const EXIT_STORE_DAMAGED: i32 = 4;
/// Exit status of a node whose write failed with room on the disk.
pub const EXIT_WRITE_FAILED: i32 = 5;

/// What a storage panic says about the data directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageFault {
    /// A write failed for want of space (or quota).
    DiskFull,
    /// The store holds what cannot be read back consistently: a checksum
    /// that does not match, a state database that disagrees with the last
    /// finalized block, a block the store says it has but cannot produce.
    Damaged,
    /// A write or sync failed for another reason (or one the error does
    /// not say: commonware reports a write the kernel refused as
    /// `WriteFailed` without its errno).
    WriteFailed,
}

/// Texts of `std::io::Error` for ENOSPC and EDQUOT, as `Display` and `Debug`
/// print them.
const DISK_FULL_MARKERS: &[&str] = &[
    "No space left on device",
    "StorageFull",
    "Disk quota exceeded",
    "QuotaExceeded",
];

/// Texts of failed writes, syncs and resizes (commonware's and the
/// expectations around them).
const WRITE_FAILURE_MARKERS: &[&str] = &[
    "WriteFailed",
    "write failed",
    "BlobSyncFailed",
    "sync failed",
    "BlobResizeFailed",
    "resize failed",
    "unable to append",
    "unable to sync",
];

/// Texts of commonware's storage errors that mean the bytes on disk are not
/// what was written; the message then names the partition if the error
/// does.
const DAMAGE_MARKERS: &[&str] = &[
    "InvalidChecksum",
    "invalid or missing checksum",
    "ChecksumMismatch",
    "checksum mismatch",
    "BlobCorrupt",
    "blob corrupt",
    "PartitionCorrupt",
    "partition corrupt",
    "Corruption",
    "corruption",
    "DataCorrupted",
    "data corrupted",
    "RecordCorrupted",
    "record corrupted",
    "InvalidBlobSize",
    "MissingBlob",
    "BlobMissing",
];

/// Panics of commonware's actors at start that mean one store lost what
/// another was built on, with the part of the store each is about.
const INCONSISTENT_STORES: &[(&str, &str)] = &[
    (
        "marshal must return completed state sync block",
        "the block archive (store/v*-blocks-*) lacks the block the state database was built to",
    ),
    (
        "processed position must be backed by a stored block",
        "the block archive (store/v*-blocks-*) lacks the last block the node processed",
    ),
    (
        "TargetMismatch",
        "the state database (store/v*-state-*) does not match the last block the node processed",
    ),
];

/// Where the store failed to open, by the text of the expectation that
/// failed, for errors that do not name their partition.
const OPENED_STORES: &[(&str, &str)] = &[
    (
        "database init failed",
        "the state database (store/v*-state-*)",
    ),
    (
        "failed to open the blocks archive",
        "the block archive (store/v*-blocks-*)",
    ),
    (
        "failed to open the finalizations archive",
        "the finalization archive (store/v*-finalizations-*)",
    ),
    (
        "failed to open the block index",
        "the block index (store/v*-block-index-*)",
    ),
    (
        "failed to open the transaction index",
        "the transaction index (store/v*-tx-index-*)",
    ),
    (
        "failed to open the account index",
        "the account index (store/v*-account-index-*)",
    ),
];

/// Classifies a panic message; `None` for anything that is not a storage
/// fault (those keep Rust's own report).
pub fn classify(message: &str) -> Option<StorageFault> {
    if DISK_FULL_MARKERS.iter().any(|m| message.contains(m)) {
        Some(StorageFault::DiskFull)
    } else if DAMAGE_MARKERS.iter().any(|m| message.contains(m))
        || INCONSISTENT_STORES.iter().any(|(m, _)| message.contains(m))
    {
        Some(StorageFault::Damaged)
    } else if WRITE_FAILURE_MARKERS.iter().any(|m| message.contains(m)) {
        Some(StorageFault::WriteFailed)
    } else {
        None
    }
}

/// How much a probe writes to decide whether the disk has room.
const PROBE_BYTES: usize = 1 << 20;

/// Whether the disk holding `dir` refuses a 1 MiB write for want of space:
/// asked when a write failed without saying why.
fn out_of_space(dir: &Path) -> bool {
    let probe = dir.join(".space-probe");
    let written = std::fs::File::create(&probe).and_then(|mut f| {
        f.write_all(&vec![0u8; PROBE_BYTES])?;
        f.sync_all()
    });
    let _ = std::fs::remove_file(&probe);
    matches!(written, Err(e) if matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded))
}

/// [`classify`], with a failed write that does not say why counted as a
/// full disk when the disk of `data_dir` has no room left.
pub fn diagnose(message: &str, data_dir: &Path) -> Option<StorageFault> {
    match classify(message)? {
        StorageFault::WriteFailed if out_of_space(data_dir) => Some(StorageFault::DiskFull),
        fault => Some(fault),
    }
}

/// The store partition a message names (`v0-blocks-value`), if any:
/// commonware's blob errors carry their partition.
fn partition_named(message: &str) -> Option<&str> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    message.split(|c: char| !is_name(c)).find(|word| {
        let Some(rest) = word.strip_prefix('v') else {
            return false;
        };
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        digits > 0 && rest[digits..].starts_with('-') && rest.len() > digits + 1
    })
}

/// Which part of the store a damage message is about, for the operator.
fn damaged_part(message: &str) -> String {
    if let Some((_, part)) = INCONSISTENT_STORES
        .iter()
        .find(|(m, _)| message.contains(m))
    {
        return (*part).to_string();
    }
    let place = match partition_named(message) {
        Some(partition) => format!("store/{partition}"),
        None => OPENED_STORES
            .iter()
            .find(|(m, _)| message.contains(m))
            .map_or("a file under store/", |(_, place)| place)
            .to_string(),
    };
    format!("{place} does not read back as written")
}

/// The operator's message for `fault` seen in a node storing under
/// `data_dir`, with the panic's own text.
pub fn explain(fault: StorageFault, data_dir: &Path, message: &str) -> String {
    let dir = data_dir.display();
    match fault {
        StorageFault::DiskFull => format!(
            "disk full: {dir}: a write failed and the disk has no room left ({message}).\n\
             The node stopped at that write; what it had stored before is intact. \
             Free space on that disk and restart the node: it continues from where it stopped."
        ),
        StorageFault::Damaged => format!(
            "store damaged: {dir}: {part} ({message}).\n\
             The node refuses to start on it rather than diverge from what it finalized. \
             Restore {dir} from a backup, or remove it and restart the node to re-sync the chain from its peers.",
            part = damaged_part(message)
        ),
        StorageFault::WriteFailed => format!(
            "storage failed: {dir}: a write failed while the disk has room ({message}).\n\
             The node stopped at that write; what it had stored before is intact. \
             Check the disk and the kernel log, then restart the node: it continues from where it stopped."
        ),
    }
}

/// The text of a panic payload (`panic!` with a literal or a format).
fn payload_text(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// From now on, a storage panic prints its explanation and ends the process
/// with [`EXIT_DISK_FULL`], [`EXIT_STORE_DAMAGED`] or [`EXIT_WRITE_FAILED`];
/// other panics go to the hook that was there before.
pub fn install(data_dir: PathBuf) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = payload_text(info);
        let Some(fault) = diagnose(&message, &data_dir) else {
            return previous(info);
        };
        tracing::error!(location = ?info.location(), "{message}");
        eprintln!("error: {}", explain(fault, &data_dir, &message));
        std::process::exit(match fault {
            StorageFault::DiskFull => EXIT_DISK_FULL,
            StorageFault::Damaged => EXIT_STORE_DAMAGED,
            StorageFault::WriteFailed => EXIT_WRITE_FAILED,
        });
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enospc_in_either_form_is_a_full_disk() {
        let io = std::io::Error::from_raw_os_error(28);
        for message in [
            format!("journal append failed: {io}"),
            format!("journal append failed: {io:?}"),
        ] {
            assert_eq!(
                classify(&message),
                Some(StorageFault::DiskFull),
                "{message}"
            );
        }
        let text = explain(
            StorageFault::DiskFull,
            Path::new("/var/lakh"),
            &format!("{io}"),
        );
        assert!(text.starts_with("disk full: /var/lakh"), "{text}");
        assert!(text.contains("Free space"), "{text}");
    }

    #[test]
    fn a_checksum_failure_names_its_partition_and_what_to_do() {
        let message = "failed to open the blocks archive: Journal(Runtime(BlobCorrupt(\"v0-blocks-value\", \"0000000000000000\", \"bad crc\")))";
        assert_eq!(classify(message), Some(StorageFault::Damaged));
        let text = explain(StorageFault::Damaged, Path::new("/d"), message);
        assert!(text.contains("store/v0-blocks-value"), "{text}");
        assert!(text.contains("remove it and restart"), "{text}");
    }

    #[test]
    fn a_state_mismatch_is_damage_to_the_state_database() {
        let message = "database init failed: TargetMismatch { expected: .., recovered: .. }";
        assert_eq!(classify(message), Some(StorageFault::Damaged));
        assert!(damaged_part(message).starts_with("the state database (store/v*-state-*)"));
        let message = "database init failed: Database(Journal(Corruption(\"blob 0 no longer backs acknowledged items\")))";
        assert_eq!(classify(message), Some(StorageFault::Damaged));
        assert!(damaged_part(message).starts_with("the state database (store/v*-state-*)"));
    }

    #[test]
    fn a_write_failure_is_a_full_disk_only_when_the_disk_has_no_room() {
        let message = "unable to append to journal: Runtime(WriteFailed)";
        assert_eq!(classify(message), Some(StorageFault::WriteFailed));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            diagnose(message, dir.path()),
            Some(StorageFault::WriteFailed)
        );
        assert!(!dir.path().join(".space-probe").exists());
        let text = explain(StorageFault::WriteFailed, dir.path(), message);
        assert!(text.contains("Check the disk"), "{text}");
    }

    #[test]
    fn other_panics_are_left_alone() {
        for message in ["index out of bounds", "mailbox closed", "v0 is fine"] {
            assert_eq!(classify(message), None, "{message}");
        }
        assert_eq!(
            partition_named("v12-simplex-3/0001 gone"),
            Some("v12-simplex-3")
        );
        assert_eq!(partition_named("value v- v1"), None);
    }
}
