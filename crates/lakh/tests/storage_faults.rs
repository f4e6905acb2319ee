//! Storage faults on real files: a `lakh devnet` of one validator writes
//! blocks, is killed, has a file of its store damaged (bytes flipped in the
//! middle, the tail cut off, a file removed) and is started again; and one
//! whose disk fills up stops with "disk full" and, once space returns,
//! continues from where it stopped; and one killed again and again under
//! load is never taken for damaged.
//!
//! One validator has no peer to fetch anything from, so whatever it serves
//! after a restart comes from its own disk: it must either refuse to start
//! with a message naming the damage and what to do, or serve exactly the
//! blocks it finalized before. Re-proposing a height it had finalized (a
//! silent rewind) fails the test.
#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failed test

use commonware_cryptography::Signer as _;
use lakh_rpc::client::LakhClient;
use lakh_rpc::types::{Hash32, TxStatusInfo};
use lakh_types::{Action, Address, AssetId, Transaction, TransferEntry};
use std::{
    fs::File,
    io::{BufRead, BufReader, Read, Seek, SeekFrom, Write},
    panic::AssertUnwindSafe,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

mod common;
use common::{BIN, free_port};

/// Exit statuses of `lakh_node::storage_faults`.
const EXIT_DISK_FULL: i32 = 3;
const EXIT_STORE_DAMAGED: i32 = 4;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A `lakh devnet` of one validator, its stderr kept outside its data
/// directory (which may be the full disk).
struct Node {
    child: Child,
    rpc: String,
    stderr: PathBuf,
    ready: mpsc::Receiver<()>,
}

impl Node {
    fn spawn(data_dir: &Path, stderr: &Path, port: u16) -> Node {
        let mut child = Command::new(BIN)
            .args(["devnet", "--json", "--validators", "1", "--data-dir"])
            .arg(data_dir)
            .args(["--rpc-addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(File::create(stderr).unwrap())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, ready) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("\"ready\"") {
                    let _ = tx.send(());
                }
            }
        });
        Node {
            child,
            rpc: format!("http://127.0.0.1:{port}"),
            stderr: stderr.to_path_buf(),
            ready,
        }
    }

    /// Waits until the node is ready (`Ok`) or has exited (`Err` with its
    /// status).
    fn ready_or_exit(&mut self, within: Duration) -> Result<(), ExitStatus> {
        let start = Instant::now();
        loop {
            if self.ready.try_recv().is_ok() {
                return Ok(());
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                return Err(status);
            }
            assert!(
                start.elapsed() < within,
                "node neither ready nor stopped after {within:?}:\n{}",
                self.stderr_text()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A finalized block as the node served it: height, hash, state root.
type Seen = (u64, Hash32, Hash32);

/// Waits until the head reaches `height`; returns every block from 1 to
/// the head then.
async fn blocks_up_to(client: &LakhClient, height: u64, within: Duration) -> Vec<Seen> {
    let start = Instant::now();
    let head = loop {
        if let Ok(head) = client.head().await
            && head.height >= height
        {
            break head.height;
        }
        assert!(start.elapsed() < within, "head did not reach {height}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut seen = Vec::new();
    for h in 1..=head {
        let b = client.block_by_height(h).await.unwrap().unwrap();
        seen.push((h, b.header.hash, b.header.state_root));
    }
    seen
}

/// The node serves exactly the blocks `before` saw, with every
/// transaction in them finalized there, then finalizes past them.
async fn check_kept_and_continues(client: &LakhClient, before: &[Seen]) {
    let last = before.iter().map(|s| s.0).max().unwrap();
    let after = blocks_up_to(client, last + 2, Duration::from_secs(60)).await;
    for seen in before {
        let now = &after[seen.0 as usize - 1];
        assert_eq!(seen, now, "height {} changed across the restart", seen.0);
    }
    for (height, hash, _) in before {
        let block = client.block_by_height(*height).await.unwrap().unwrap();
        for id in block.tx_ids {
            match client.tx_status(id).await.unwrap() {
                TxStatusInfo::Finalized { block_hash, .. } => assert_eq!(&block_hash, hash),
                other => panic!("transaction {id} of height {height} is now {other:?}"),
            }
        }
    }
}

/// Runs a fresh node in `data_dir` until it has finalized `height` blocks,
/// then kills it; the blocks it served.
fn write_chain(data_dir: &Path, logs: &Path, height: u64) -> Vec<Seen> {
    let mut node = Node::spawn(data_dir, &logs.join("first.log"), free_port());
    node.ready_or_exit(Duration::from_secs(120))
        .unwrap_or_else(|s| panic!("first start failed ({s}):\n{}", node.stderr_text()));
    let client = LakhClient::connect(&node.rpc).unwrap();
    let seen = runtime().block_on(blocks_up_to(&client, height, Duration::from_secs(120)));
    node.kill9();
    seen
}

/// The largest file of validator 0's `partition` (`blocks-value`) in
/// `store`.
fn largest_blob(store: &Path, partition: &str) -> PathBuf {
    let mut best: Option<(u64, PathBuf)> = None;
    for part in std::fs::read_dir(store).unwrap().map(Result::unwrap) {
        if part.file_name().to_string_lossy() != format!("v0-{partition}") {
            continue;
        }
        for blob in std::fs::read_dir(part.path()).unwrap().map(Result::unwrap) {
            let len = blob.metadata().unwrap().len();
            if best.as_ref().is_none_or(|(l, _)| len > *l) {
                best = Some((len, blob.path()));
            }
        }
    }
    best.unwrap_or_else(|| panic!("no blob in partition v0-{partition}"))
        .1
}

/// One way of damaging a file of the store.
#[derive(Clone, Copy, Debug)]
enum Damage {
    /// 64 bytes in the middle inverted.
    FlipMiddle,
    /// The last third cut off.
    TruncateTail,
    Remove,
}

fn damage(file: &Path, how: Damage) {
    let len = std::fs::metadata(file).unwrap().len();
    match how {
        Damage::FlipMiddle => {
            let mut f = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(file)
                .unwrap();
            let mut bytes = [0u8; 64];
            f.seek(SeekFrom::Start(len / 2)).unwrap();
            f.read_exact(&mut bytes).unwrap();
            for b in &mut bytes {
                *b = !*b;
            }
            f.seek(SeekFrom::Start(len / 2)).unwrap();
            f.write_all(&bytes).unwrap();
            f.sync_all().unwrap();
        }
        Damage::TruncateTail => {
            let f = std::fs::OpenOptions::new().write(true).open(file).unwrap();
            f.set_len(len - len / 3).unwrap();
            f.sync_all().unwrap();
        }
        Damage::Remove => std::fs::remove_file(file).unwrap(),
    }
}

fn copy_dir(from: &Path, to: &Path) {
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success(), "cp -a {from:?} {to:?}");
}

/// Each damage, on a copy of one node's data directory: the node refuses
/// with a message naming the damaged part and saying what to do, or
/// serves every block it had finalized, unchanged, and goes on.
#[test]
fn a_damaged_store_is_refused_or_kept_never_rewritten() {
    let tmp = tempfile::tempdir().unwrap();
    let golden = tmp.path().join("golden");
    let before = write_chain(&golden, tmp.path(), 12);
    let cases = [
        ("blocks-value", Damage::FlipMiddle),
        ("blocks-value", Damage::TruncateTail),
        ("finalizations-value", Damage::TruncateTail),
        ("state-log_data", Damage::FlipMiddle),
        ("state-log_data", Damage::TruncateTail),
        ("state-merkle-journal-blobs", Damage::Remove),
        ("block-index-v2-value", Damage::TruncateTail),
        ("tx-index-v2-value", Damage::FlipMiddle),
        ("simplex-0", Damage::TruncateTail),
        ("blocks-key", Damage::Remove),
        ("account-index-v3-value", Damage::FlipMiddle),
        ("state-log_offsets-blobs", Damage::Remove),
        ("application-metadata", Damage::FlipMiddle),
        ("blocks-metadata", Damage::Remove),
    ];
    let rt = runtime();
    for (i, (partition, how)) in cases.into_iter().enumerate() {
        let dir = tmp.path().join(format!("case-{i}"));
        copy_dir(&golden, &dir);
        let file = largest_blob(&dir.join("store"), partition);
        damage(&file, how);
        let case = format!("{how:?} {}", file.display());
        let mut node = Node::spawn(&dir, &tmp.path().join(format!("case-{i}.log")), free_port());
        match node.ready_or_exit(Duration::from_secs(60)) {
            Err(status) => {
                let said = refusal(&node, status, &case);
                println!("{case}: refused at start: {said}");
            }
            Ok(()) => {
                let client = LakhClient::connect(&node.rpc).unwrap();
                let checked = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    rt.block_on(check_kept_and_continues(&client, &before))
                }));
                match checked {
                    Ok(()) => println!("{case}: started with every block and receipt kept"),
                    // A damaged page in the middle of an index is found when
                    // it is read: the node must then stop with the refusal.
                    Err(failure) => match node.child.try_wait().unwrap() {
                        Some(status) => {
                            let said = refusal(&node, status, &case);
                            println!("{case}: refused at the first read of the damage: {said}");
                        }
                        None => std::panic::resume_unwind(failure),
                    },
                }
            }
        }
    }
}

/// Checks that `node` stopped with the damaged-store status and message;
/// the message's first line.
fn refusal(node: &Node, status: ExitStatus, case: &str) -> String {
    let stderr = node.stderr_text();
    assert_eq!(status.code(), Some(EXIT_STORE_DAMAGED), "{case}:\n{stderr}");
    assert!(
        stderr.contains("remove it and restart"),
        "{case}:\n{stderr}"
    );
    let said = stderr
        .lines()
        .find(|l| l.contains("store damaged: "))
        .unwrap_or_else(|| panic!("{case}:\n{stderr}"));
    assert!(said.contains("store/v"), "{case}: names no part:\n{stderr}");
    said.to_string()
}

/// A tmpfs of `size_mib` mounted at `dir` for one test, unmounted when
/// dropped. Mounting needs root, which CI has; without it the test fails.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size_mib: u64) -> Tmpfs {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size_mib}m"),
                "lakh-test",
            ])
            .arg(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "cannot mount a {size_mib} MiB tmpfs at {} ({}): this test fills a disk of its own and needs root",
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Writes `path` until the filesystem refuses for want of space.
fn fill(path: &Path) -> u64 {
    let mut f = File::create(path).unwrap();
    let chunk = vec![0xa5u8; 1 << 16];
    let mut written = 0u64;
    loop {
        match f.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => break,
            Err(e) => panic!("filling {}: {e}", path.display()),
        }
    }
    written
}

/// Offers `count` transfers from alice to dave (not waiting for them), so
/// the disk fills while blocks with transactions are being stored.
async fn send_load(client: &LakhClient, keys: &Path, count: u64) {
    let alice = common::key_of(keys, "alice");
    let dave = Address::from(&common::key_of(keys, "dave").public_key());
    let chain_id = client.chain_id().await.unwrap();
    let from = Address::from(&alice.public_key());
    let nonce = client.account(from, false).await.unwrap().nonce;
    let txs: Vec<_> = (nonce..nonce + count)
        .map(|n| {
            Transaction {
                chain_id,
                sender: alice.public_key().into(),
                nonce: n,
                max_fee: 1_000_000,
                action: Action::Transfer(TransferEntry {
                    to: dave,
                    asset: AssetId::NATIVE,
                    amount: 1,
                }),
            }
            .sign(&alice)
        })
        .collect();
    for chunk in txs.chunks(100) {
        client.submit_batch(chunk).await.unwrap();
    }
}

/// Fills the disk under the running `node` and waits for it to stop; the
/// last head it served meanwhile (or `last` if none), and its stderr line.
fn fill_until_stopped(
    node: &mut Node,
    client: &LakhClient,
    filler: &Path,
    mut last: Seen,
) -> (Seen, String) {
    let rt = runtime();
    fill(filler);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still running on a full disk:\n{}",
            node.stderr_text()
        );
        let head = rt.block_on(async {
            tokio::time::timeout(Duration::from_millis(500), client.head()).await
        });
        if let Ok(Ok(head)) = head {
            last = (head.height, head.hash, head.state_root);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = node.stderr_text();
    assert_eq!(status.code(), Some(EXIT_DISK_FULL), "{stderr}");
    assert!(stderr.contains("Free space"), "{stderr}");
    assert!(!stderr.contains("panicked at"), "{stderr}");
    let said = stderr.lines().find(|l| l.contains("disk full: ")).unwrap();
    (last, said.to_string())
}

/// How many times the disk fills under the node in one test.
const DISK_FULL_ROUNDS: usize = 3;

/// A node whose disk fills up (idle, then under a transfer load) stops
/// with "disk full" and a non-zero status at its first failed write; each
/// time space returns it restarts on the same directory, serves every
/// block and receipt it had served unchanged and goes on.
#[test]
fn a_full_disk_stops_the_node_and_it_continues_once_space_returns() {
    let tmp = tempfile::tempdir().unwrap();
    let disk = Tmpfs::mount(&tmp.path().join("disk"), 256);
    let data_dir = disk.0.join("node");
    let filler = disk.0.join("filler");
    let port = free_port();
    let rt = runtime();
    let mut kept: Vec<Seen> = Vec::new();
    for round in 0..=DISK_FULL_ROUNDS {
        let log = tmp.path().join(format!("run-{round}.log"));
        let mut node = Node::spawn(&data_dir, &log, port);
        node.ready_or_exit(Duration::from_secs(120))
            .unwrap_or_else(|s| panic!("start {round} failed ({s}):\n{}", node.stderr_text()));
        let client = LakhClient::connect(&node.rpc).unwrap();
        let served = rt.block_on(async {
            if !kept.is_empty() {
                check_kept_and_continues(&client, &kept).await;
            }
            let next = kept.iter().map(|s| s.0 + 2).max().unwrap_or(5);
            blocks_up_to(&client, next, Duration::from_secs(60)).await
        });
        if round == DISK_FULL_ROUNDS {
            break;
        }
        if round > 0 {
            rt.block_on(send_load(&client, &data_dir, 300));
        }
        let last = *served.last().unwrap();
        let (last, said) = fill_until_stopped(&mut node, &client, &filler, last);
        println!("round {round}: stopped after height {}: {said}", last.0);
        kept = served;
        kept.push(last);
        std::fs::remove_file(&filler).unwrap();
    }
}

/// Kills in one test of [`kills_under_load_are_never_taken_for_damage`].
const KILLS: u64 = 10;

/// The start-up checks never take a crash for damage: killed (`SIGKILL`)
/// at varied moments while blocks of transfers are being stored, the node
/// restarts every time and serves every block and receipt it had served.
#[test]
fn kills_under_load_are_never_taken_for_damage() {
    let tmp = tempfile::tempdir().unwrap();
    let data_dir = tmp.path().join("node");
    let port = free_port();
    let rt = runtime();
    let mut kept: Vec<Seen> = Vec::new();
    for round in 0..=KILLS {
        let log = tmp.path().join(format!("run-{round}.log"));
        let mut node = Node::spawn(&data_dir, &log, port);
        if let Err(status) = node.ready_or_exit(Duration::from_secs(120)) {
            panic!(
                "restart {round} refused ({status}):\n{}",
                node.stderr_text()
            );
        }
        let client = LakhClient::connect(&node.rpc).unwrap();
        let served = rt.block_on(async {
            if !kept.is_empty() {
                check_kept_and_continues(&client, &kept).await;
            }
            let next = kept.iter().map(|s| s.0 + 1).max().unwrap_or(3);
            blocks_up_to(&client, next, Duration::from_secs(60)).await
        });
        if round == KILLS {
            break;
        }
        let last = rt.block_on(async {
            send_load(&client, &data_dir, 300).await;
            // 0.1 to 1.4 s into the load, a different moment each round.
            tokio::time::sleep(Duration::from_millis(100 + round * 130)).await;
            client.head().await.unwrap()
        });
        node.kill9();
        kept = served;
        kept.push((last.height, last.hash, last.state_root));
    }
    println!(
        "{KILLS} kills; height {} at the end",
        kept.last().unwrap().0
    );
}
