//! A `lakh devnet` child process for the end-to-end tests: started in a given
//! data directory on a loopback port, ready once it prints its JSON ready
//! line, killed when dropped.
#![allow(dead_code)] // each test binary uses its own subset

use lakh_types::PrivateKey;
use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::Duration,
};

pub const BIN: &str = env!("CARGO_BIN_EXE_lakh");

pub fn free_port() -> u16 {
    lakh_node::ports::free_port().unwrap()
}

/// The file in the data directory that takes a test devnet's stderr.
const STDERR_LOG: &str = "test-stderr.log";

pub struct Devnet {
    pub child: Child,
    pub rpc: String,
    pub dir: PathBuf,
    /// The devnet's JSON ready line.
    pub ready: serde_json::Value,
}

impl Devnet {
    /// Starts `lakh devnet --json` with `validators` and `extra` arguments and
    /// waits for its ready line.
    /// Its stderr goes to [`Devnet::stderr_log`]. A port another process took
    /// between our pick and the devnet's bind (ports picked by [`free_port`],
    /// or kept in the genesis across a restart, can be) is retried.
    pub fn start(dir: &Path, validators: usize, port: u16, extra: &[&str]) -> Devnet {
        let mut attempts = 0;
        loop {
            match Self::try_start(dir, validators, port, extra) {
                Ok(net) => return net,
                Err(log)
                    if (log.contains("in use") || log.contains("BindFailed")) && attempts < 3 =>
                {
                    attempts += 1;
                    eprintln!("devnet start: a port was taken, retrying:\n{log}");
                    std::thread::sleep(Duration::from_secs(1));
                }
                Err(log) => panic!("devnet did not become ready:\n{log}"),
            }
        }
    }

    /// One start; on failure the last lines of the devnet's stderr.
    fn try_start(
        dir: &Path,
        validators: usize,
        port: u16,
        extra: &[&str],
    ) -> Result<Devnet, String> {
        std::fs::create_dir_all(dir).unwrap();
        let stderr = std::fs::File::create(dir.join(STDERR_LOG)).unwrap();
        let mut child = Command::new(BIN)
            .args(["devnet", "--json", "--validators", &validators.to_string()])
            .args(extra)
            .arg("--data-dir")
            .arg(dir)
            .args(["--rpc-addr", &format!("127.0.0.1:{port}")])
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("spawn lakh devnet");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("\"ready\"") {
                    let _ = tx.send(line);
                }
            }
        });
        let line = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(line) => line,
            Err(e) => {
                let _ = child.kill();
                let status = child.wait().map(|s| s.to_string()).unwrap_or_default();
                let log = std::fs::read_to_string(dir.join(STDERR_LOG)).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(40)..].join("\n");
                return Err(format!("{e} (exit: {status})\n{tail}"));
            }
        };
        let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
        Ok(Devnet {
            child,
            rpc: ready["rpc"].as_str().unwrap().to_string(),
            dir: dir.to_path_buf(),
            ready,
        })
    }

    /// What the devnet has written to stderr so far.
    pub fn stderr_log(&self) -> String {
        std::fs::read_to_string(self.dir.join(STDERR_LOG)).unwrap()
    }

    pub fn keys(&self) -> PathBuf {
        self.dir.join("keys")
    }

    /// Kills the process with SIGKILL: no chance to flush anything.
    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Runs `lakh wallet --json <args>` against this devnet.
    pub fn wallet_output(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(["wallet", "--json", "--rpc", &self.rpc])
            .arg("--keys")
            .arg(self.keys())
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs a wallet command that must succeed; its JSON output.
    pub fn wallet_json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.wallet_output(args);
        assert!(
            out.status.success(),
            "lakh wallet {args:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "wallet output is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }
}

/// A demo key the devnet wrote into `<dir>/keys`.
pub fn key_of(dir: &Path, name: &str) -> PrivateKey {
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("keys").join(format!("{name}.json"))).unwrap(),
    )
    .unwrap();
    let bytes = hex::decode(v["private_key"].as_str().unwrap()).unwrap();
    use commonware_codec::DecodeExt;
    PrivateKey::decode(bytes::Bytes::from(bytes)).unwrap()
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
