//! A local anvil (npm `@foundry-rs/anvil`, installed in contracts/) on a
//! free loopback port, killed when dropped.

use crate::L1Provider;
use anyhow::{Context as _, bail};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Private keys of anvil's first default accounts (its well-known test
/// mnemonic): funded with 10,000 ether each on every anvil.
pub const DEV_KEYS: [&str; 4] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
];

pub struct Anvil {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

/// The anvil binary: `LAKH_ANVIL` if set, else the native binary npm
/// installed in contracts/node_modules. Not `.bin/anvil`: that is a node
/// shim whose child would outlive a kill of the shim.
pub fn anvil_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("LAKH_ANVIL") {
        return PathBuf::from(path);
    }
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        other => other,
    };
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../contracts/node_modules/@foundry-rs")
        .join(format!("anvil-{os}-{arch}/bin/anvil"))
}

/// Starts of anvil tried before giving up on finding a free port.
const MAX_PORT_ATTEMPTS: usize = 3;
/// Longest wait for one answer while anvil starts.
const POLL_TIMEOUT: Duration = Duration::from_secs(1);

impl Anvil {
    /// Starts anvil with the Prague hardfork (EIP-2537) and waits until it
    /// answers. Its port is picked free and released before anvil binds it,
    /// so another process can take it in between: anvil then exits, and it
    /// is started again on another port.
    pub async fn spawn() -> anyhow::Result<Anvil> {
        let mut attempts = 0;
        loop {
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            match Self::try_spawn(port).await? {
                Some(anvil) => return Ok(anvil),
                None if attempts < MAX_PORT_ATTEMPTS => attempts += 1,
                None => bail!("anvil exited at start {MAX_PORT_ATTEMPTS} times (ports taken?)"),
            }
        }
    }

    /// One start on `port`; `None` when anvil exited before answering.
    async fn try_spawn(port: u16) -> anyhow::Result<Option<Anvil>> {
        let dir = tempfile::tempdir()?;
        let binary = anvil_binary();
        let child = Command::new(&binary)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &port.to_string(),
                "--hardfork",
                "prague",
            ])
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| {
                format!("starting {} (run `npm ci` in contracts/)", binary.display())
            })?;
        let mut anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let provider = anvil.provider(0)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            use alloy::providers::Provider;
            // Bounded: whoever else holds the port may never answer.
            let answered = tokio::time::timeout(POLL_TIMEOUT, provider.get_chain_id())
                .await
                .is_ok_and(|r| r.is_ok());
            // An answer while our anvil has exited came from whoever holds
            // the port.
            if anvil.child.try_wait()?.is_some() {
                return Ok(None);
            }
            if answered {
                return Ok(Some(anvil));
            }
            if Instant::now() > deadline {
                bail!("anvil did not answer on {} within 30 s", anvil.url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A provider signing with default account `account`.
    pub fn provider(&self, account: usize) -> anyhow::Result<L1Provider> {
        let key = DEV_KEYS
            .get(account)
            .context("anvil has 4 default keys here")?;
        crate::provider(&self.url, key)
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_taken_port_is_noticed_and_another_is_used() {
        let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = held.local_addr().unwrap().port();
        assert!(Anvil::try_spawn(port).await.unwrap().is_none());
        let anvil = Anvil::spawn().await.unwrap();
        assert_ne!(anvil.url, format!("http://127.0.0.1:{port}"));
    }
}
