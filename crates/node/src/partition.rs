//! Network partitions on purpose (`lakh node --partition-file PATH`, for
//! `lakh chaos`): the validator drops every message it would send to, and
//! every message it receives from, the peers listed in a file.
//!
//! The file holds one hex ed25519 public key per line; blank lines and
//! lines starting with `#` are skipped. A missing or empty file cuts
//! nobody. The file is polled every [`POLL`] and reread when its
//! modification time, size or inode changes, so a writer that replaces it
//! (write a new file, rename it over the old one) is picked up within one
//! poll. A file with a line that is not a public key is refused whole,
//! naming the line: at start the node does not run; on a reread the node
//! warns and keeps the cut it had, since half a cut would be a different
//! fault than the one asked for.
//!
//! Validators dial each other at the genesis addresses, so a cut cannot be
//! made on the wire between two processes; it is made here instead, on
//! every channel registered with the p2p network. Connections stay up;
//! only the messages on them are lost, as on a link that drops everything.

use commonware_actor::{Feedback, Unreliable};
use commonware_cryptography::ed25519::PublicKey;
use commonware_p2p::{CheckedSender, LimitedSender, Message, Receiver, Recipients};
use commonware_runtime::{Clock, IoBufs, Spawner};
use std::{
    collections::HashSet,
    num::NonZeroUsize,
    os::unix::fs::MetadataExt as _,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};
use tracing::{info, warn};

/// How often the partition file is checked for a change.
pub const POLL: Duration = Duration::from_millis(100);

/// A partition file that cannot be used (stable code `partition_file_invalid`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("partition_file_invalid: {path} line {line}: {reason}")]
pub struct PartitionFileError {
    pub path: String,
    /// 1-based; 0 when the file itself could not be read.
    pub line: usize,
    pub reason: String,
}

/// The keys a partition file lists.
pub fn parse_cut(path: &Path, text: &str) -> Result<HashSet<PublicKey>, PartitionFileError> {
    let mut cut = HashSet::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let key =
            lakh_types::address::parse_public_key(line).map_err(|reason| PartitionFileError {
                path: path.display().to_string(),
                line: index + 1,
                reason,
            })?;
        cut.insert(key);
    }
    Ok(cut)
}

/// The keys the file at `path` lists; none when it does not exist.
fn read_cut(path: &Path) -> Result<HashSet<PublicKey>, PartitionFileError> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_cut(path, &text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(e) => Err(PartitionFileError {
            path: path.display().to_string(),
            line: 0,
            reason: format!("cannot read: {e}"),
        }),
    }
}

/// What tells one version of the file from the next.
type Stamp = Option<(SystemTime, u64, u64)>;

fn stamp(path: &Path) -> Stamp {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// A partition file as last read, and the cut it holds.
pub struct PartitionFile {
    path: PathBuf,
    seen: Stamp,
    cut: CutSet,
}

impl PartitionFile {
    /// Reads the file at `path` (no cut when it does not exist).
    pub fn open(path: PathBuf) -> Result<PartitionFile, PartitionFileError> {
        // Stamped before reading: a change after this stamp shows as
        // another stamp on the next poll, so none is missed.
        let seen = stamp(&path);
        let cut = CutSet::new(read_cut(&path)?);
        Ok(PartitionFile { path, seen, cut })
    }

    /// The cut, as the channel wrappers share it.
    pub fn cut(&self) -> CutSet {
        self.cut.clone()
    }

    /// Rereads the file whenever it changes, for as long as the runtime of
    /// `context` runs.
    pub fn watch<E: Spawner + Clock>(mut self, context: E) {
        context.spawn(move |ctx| async move {
            loop {
                ctx.sleep(POLL).await;
                let now = stamp(&self.path);
                if now != self.seen {
                    self.seen = now;
                    self.cut.reload(&self.path);
                }
            }
        });
    }
}

/// The peers this validator is cut off from now, shared by the wrappers of
/// every channel and updated by the task [`PartitionFile::watch`] starts.
#[derive(Clone, Debug)]
pub struct CutSet {
    peers: Arc<RwLock<HashSet<PublicKey>>>,
}

impl CutSet {
    fn new(peers: HashSet<PublicKey>) -> CutSet {
        CutSet {
            peers: Arc::new(RwLock::new(peers)),
        }
    }

    pub fn contains(&self, peer: &PublicKey) -> bool {
        self.read().contains(peer)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashSet<PublicKey>> {
        // A writer cannot panic while holding the lock (it only swaps a
        // set in), so poisoning is not a state this can reach; recover.
        self.peers.read().unwrap_or_else(|e| e.into_inner())
    }

    fn replace(&self, peers: HashSet<PublicKey>) {
        *self.peers.write().unwrap_or_else(|e| e.into_inner()) = peers;
    }

    fn reload(&self, path: &Path) {
        match read_cut(path) {
            Ok(peers) => {
                info!(cut_peers = peers.len(), "partition file changed");
                self.replace(peers);
            }
            Err(e) => warn!(error = %e, "partition file refused; the cut stays as it was"),
        }
    }

    /// What is left of `recipients` once the cut peers are taken out;
    /// `None` when nobody is.
    ///
    /// `All` stays `All`: which peers it reaches is known only inside the
    /// p2p sender (its connected peers), so they cannot be listed here
    /// minus the cut ones. A cut peer still receives such a broadcast, but
    /// drops it on arrival: every cut is written on both sides (the chaos
    /// driver lists each peer in the other's file), so the receiving
    /// wrapper of the other side discards it and the cut stays total.
    fn keep(&self, recipients: Recipients<PublicKey>) -> Option<Recipients<PublicKey>> {
        let cut = self.read();
        if cut.is_empty() {
            return Some(recipients);
        }
        match recipients {
            Recipients::All => Some(Recipients::All),
            Recipients::One(peer) => (!cut.contains(&peer)).then_some(Recipients::One(peer)),
            Recipients::Some(peers) => {
                let kept: Vec<PublicKey> = peers.into_iter().filter(|p| !cut.contains(p)).collect();
                (!kept.is_empty()).then_some(Recipients::Some(kept))
            }
        }
    }
}

/// A channel's sender that drops what is addressed to cut peers. Without a
/// cut set (no `--partition-file`) it passes everything through; one type
/// for both cases keeps a single instantiation of the engine over it.
#[derive(Clone, Debug)]
pub struct CutSender<S> {
    inner: S,
    cut: Option<CutSet>,
}

/// A send checked by a [`CutSender`]: the inner sender's, or one addressed
/// only to cut peers, which goes nowhere.
pub enum CheckedCut<'a, S: LimitedSender + 'a> {
    Send(S::Checked<'a>),
    Dropped,
}

impl<S: LimitedSender<PublicKey = PublicKey>> LimitedSender for CutSender<S> {
    type PublicKey = PublicKey;
    type Checked<'a>
        = CheckedCut<'a, S>
    where
        S: 'a;

    fn check(
        &mut self,
        recipients: Recipients<PublicKey>,
    ) -> Result<Self::Checked<'_>, SystemTime> {
        let recipients = match &self.cut {
            None => recipients,
            Some(cut) => match cut.keep(recipients) {
                Some(kept) => kept,
                None => return Ok(CheckedCut::Dropped),
            },
        };
        self.inner.check(recipients).map(CheckedCut::Send)
    }
}

impl<'a, S: LimitedSender<PublicKey = PublicKey> + 'a> CheckedSender for CheckedCut<'a, S> {
    type PublicKey = PublicKey;

    fn recipients(&self) -> Vec<PublicKey> {
        match self {
            CheckedCut::Send(checked) => checked.recipients(),
            CheckedCut::Dropped => Vec::new(),
        }
    }

    fn send(self, message: impl Into<IoBufs> + Send, priority: bool) -> Unreliable<Feedback> {
        match self {
            CheckedCut::Send(checked) => checked.send(message, priority),
            // Lost on the way, as on a cut link: the sender is not told.
            CheckedCut::Dropped => Unreliable::new(Feedback::Ok),
        }
    }
}

/// A channel's receiver that discards what cut peers send.
#[derive(Debug)]
pub struct CutReceiver<R> {
    inner: R,
    cut: Option<CutSet>,
}

impl<R: Receiver<PublicKey = PublicKey>> Receiver for CutReceiver<R> {
    type Error = R::Error;
    type PublicKey = PublicKey;

    async fn recv(&mut self) -> Result<Message<PublicKey>, R::Error> {
        loop {
            let (peer, message) = self.inner.recv().await?;
            if !self.cut.as_ref().is_some_and(|cut| cut.contains(&peer)) {
                return Ok((peer, message));
            }
        }
    }

    fn capacity(&self) -> NonZeroUsize {
        self.inner.capacity()
    }
}

/// Wraps one registered channel so it honours `cut` (passes everything
/// when `cut` is `None`).
pub fn wrap<S, R>(
    (sender, receiver): (S, R),
    cut: &Option<CutSet>,
) -> (CutSender<S>, CutReceiver<R>) {
    (
        CutSender {
            inner: sender,
            cut: cut.clone(),
        },
        CutReceiver {
            inner: receiver,
            cut: cut.clone(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use commonware_cryptography::{Signer as _, ed25519::PrivateKey};
    use commonware_runtime::{Runner as _, Supervisor as _, deterministic};

    fn key(seed: u64) -> PublicKey {
        PrivateKey::from_seed(seed).public_key()
    }

    fn hex_key(seed: u64) -> String {
        hex::encode(key(seed).as_ref())
    }

    /// Replaces the file as the chaos driver does: a new file renamed over it.
    fn write(path: &Path, text: &str) {
        let next = path.with_extension("next");
        std::fs::write(&next, text).unwrap();
        std::fs::rename(&next, path).unwrap();
    }

    #[test]
    fn a_cut_lists_keys_skipping_blanks_and_comments() {
        let text = format!(
            "# cut off\n{}\n\n  0x{}  \n{}\n",
            hex_key(1),
            hex_key(2),
            hex_key(1)
        );
        let cut = parse_cut(Path::new("p"), &text).unwrap();
        assert_eq!(cut, HashSet::from([key(1), key(2)]));
        assert!(parse_cut(Path::new("p"), "").unwrap().is_empty());
    }

    #[test]
    fn a_line_that_is_no_key_refuses_the_file_naming_the_line() {
        for bad in ["zz", "abcd", "validator-1"] {
            let text = format!("{}\n{bad}\n", hex_key(1));
            let err = parse_cut(Path::new("cut"), &text).unwrap_err();
            assert_eq!(err.line, 2, "{err}");
            let shown = err.to_string();
            assert!(
                shown.starts_with("partition_file_invalid: cut line 2: "),
                "{shown}"
            );
        }
    }

    #[test]
    fn a_missing_file_cuts_nobody() {
        let dir = tempfile::tempdir().unwrap();
        let file = PartitionFile::open(dir.path().join("partition")).unwrap();
        assert!(!file.cut().contains(&key(1)));
    }

    #[test]
    fn only_cut_peers_are_taken_out_of_the_recipients() {
        let cut = CutSet::new(HashSet::from([key(1)]));
        assert!(cut.keep(Recipients::One(key(1))).is_none());
        assert!(
            matches!(cut.keep(Recipients::One(key(2))), Some(Recipients::One(k)) if k == key(2))
        );
        let kept = cut.keep(Recipients::Some(vec![key(1), key(2), key(3)]));
        assert!(matches!(kept, Some(Recipients::Some(ks)) if ks == vec![key(2), key(3)]));
        assert!(cut.keep(Recipients::Some(vec![key(1)])).is_none());
        assert!(matches!(cut.keep(Recipients::All), Some(Recipients::All)));
    }

    #[test]
    fn a_changed_file_is_picked_up_and_a_bad_one_keeps_the_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("partition");
        let file = PartitionFile::open(path.clone()).unwrap();
        let cut = file.cut();
        deterministic::Runner::default().start(|context| async move {
            file.watch(context.child("watch"));
            let settle = || context.sleep(POLL * 3);
            write(&path, &format!("{}\n{}\n", hex_key(1), hex_key(2)));
            settle().await;
            assert!(cut.contains(&key(1)) && cut.contains(&key(2)));
            write(&path, &hex_key(3));
            settle().await;
            assert!(!cut.contains(&key(1)) && cut.contains(&key(3)));
            write(&path, "not a key\n");
            settle().await;
            assert!(cut.contains(&key(3)), "a refused file keeps the cut");
            write(&path, "");
            settle().await;
            assert!(!cut.contains(&key(3)));
            write(&path, &hex_key(4));
            std::fs::remove_file(&path).unwrap();
            settle().await;
            assert!(!cut.contains(&key(4)), "a removed file cuts nobody");
        });
    }
}
