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

impl Anvil {
    /// Starts anvil with the Prague hardfork (EIP-2537) and waits until it
    /// answers.
    pub async fn spawn() -> anyhow::Result<Anvil> {
        let dir = tempfile::tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
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
        let anvil = Anvil {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let provider = anvil.provider(0)?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            use alloy::providers::Provider;
            if provider.get_chain_id().await.is_ok() {
                return Ok(anvil);
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
