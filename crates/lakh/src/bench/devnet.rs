//! `--devnet`: the bench starts its own one-validator `lakh devnet` as a child
//! process (this same binary) in a temporary directory, on a free loopback
//! port, and kills it when done.

use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How long the devnet may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// A running devnet child; killed (SIGKILL) and its directory removed on drop.
pub struct DevnetChild {
    child: Child,
    pub rpc: String,
    pub keys: PathBuf,
    /// Holds the data directory until the child is gone.
    dir: Option<tempfile::TempDir>,
}

impl DevnetChild {
    pub fn start() -> Result<DevnetChild> {
        let dir = tempfile::Builder::new()
            .prefix("lakh-bench-")
            .tempdir()
            .context("cannot create a temporary directory for the devnet")?;
        let port = crate::network::free_port()?;
        let exe = std::env::current_exe().context("cannot locate the lakh binary")?;
        let log_path = dir.path().join("devnet.log");
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        let mut cmd = Command::new(exe);
        die_with_parent(&mut cmd);
        let mut child = cmd
            .args(["devnet", "--json", "--validators", "1"])
            .arg("--data-dir")
            .arg(dir.path().join("net"))
            .args(["--rpc-addr", &format!("127.0.0.1:{port}")])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .context("cannot start `lakh devnet`")?;
        let stdout = child.stdout.take().context("devnet stdout is not piped")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("\"ready\"") {
                    let _ = tx.send(line);
                }
            }
        });
        let mut devnet = DevnetChild {
            child,
            rpc: String::new(),
            keys: PathBuf::new(),
            dir: Some(dir),
        };
        let line = match rx.recv_timeout(READY_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let exited = devnet.child.try_wait().ok().flatten();
                bail!(
                    "the devnet was not ready within {READY_TIMEOUT:?} ({}); the end of its log:\n{}",
                    exited.map_or("still running".to_string(), |s| format!("exited: {s}")),
                    devnet.log_tail()
                );
            }
        };
        let ready: serde_json::Value = serde_json::from_str(&line)
            .with_context(|| format!("unreadable ready line {line:?}"))?;
        devnet.rpc = ready["rpc"]
            .as_str()
            .context("ready line has no rpc")?
            .to_string();
        devnet.keys = PathBuf::from(ready["keys"].as_str().context("ready line has no keys")?);
        Ok(devnet)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last lines of the devnet's log: its directory goes with it, so an
    /// error that ends the bench quotes them instead of naming the file.
    fn log_tail(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let log = std::fs::read_to_string(dir.path().join("devnet.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
    }
}

/// How much of the devnet's log a failure quotes.
const LOG_TAIL_LINES: usize = 30;

/// Asks the kernel to kill the child when the thread that spawned it ends, so
/// a bench that is itself killed leaves no devnet behind to skew the next
/// measurement on a shared machine. Call from a long-lived thread (the main
/// thread): the signal follows the spawning thread, not the process.
#[cfg(target_os = "linux")]
#[allow(unsafe_code)] // pre_exec is unsafe by signature; the closure is async-signal-safe.
pub(crate) fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs between fork and exec and only calls prctl,
    // which is async-signal-safe; it touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn die_with_parent(_: &mut Command) {}

impl Drop for DevnetChild {
    fn drop(&mut self) {
        // A devnet that ended on its own (out of disk, a panic) says why
        // before its directory is removed.
        if let Ok(Some(status)) = self.child.try_wait() {
            eprintln!(
                "bench: the devnet exited ({status}); the end of its log:\n{}",
                self.log_tail()
            );
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self.dir.take());
    }
}
