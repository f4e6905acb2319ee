//! `lakh keys`: ed25519 key files for wallets and validators.
//!
//! A key is stored as `DIR/<name>.json` =
//! `{"name": ..., "address": hex32, "private_key": hex32}`, readable by its
//! owner only. The private key is the commonware ed25519 codec encoding.

use anyhow::{Context, bail};
use commonware_codec::{DecodeExt, Encode};
use commonware_cryptography::Signer;
use commonware_math::algebra::Random;
use lakh_types::{Address, PrivateKey};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Longest key name (characters).
const MAX_NAME_CHARS: usize = 64;
/// Largest key file read (bytes); a real one is ~200.
const MAX_KEY_FILE_BYTES: u64 = 4096;

#[derive(clap::Args, Debug)]
pub struct KeysArgs {
    /// Directory of key files [default: ~/.lakh/devnet/keys]
    #[arg(long, global = true)]
    pub dir: Option<PathBuf>,
    /// Print one JSON object instead of text
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Generate a new key and store it as DIR/NAME.json
    New { name: String },
    /// List stored keys and their addresses
    List,
    /// Show a key's address (never its private key)
    Show { name: String },
}

#[derive(Serialize, Deserialize)]
struct KeyFile {
    name: String,
    address: Address,
    private_key: String,
}

/// `~/.lakh/devnet/keys`.
pub fn default_keys_dir() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("HOME is not set; pass --dir")?;
    Ok(PathBuf::from(home)
        .join(".lakh")
        .join("devnet")
        .join("keys"))
}

fn check_name(name: &str) -> anyhow::Result<()> {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if name.is_empty() || name.len() > MAX_NAME_CHARS || !ok_chars {
        bail!(
            "invalid key name {name:?}: use 1 to {MAX_NAME_CHARS} characters of A-Z, a-z, 0-9, '-' and '_'"
        );
    }
    Ok(())
}

fn key_path(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    check_name(name)?;
    Ok(dir.join(format!("{name}.json")))
}

/// Writes `key` as `dir/<name>.json` (mode 0600, directory 0700). Refuses to
/// overwrite an existing key.
pub fn write_key(dir: &Path, name: &str, key: &PrivateKey) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    let path = key_path(dir, name)?;
    create_private_dir(dir)?;
    let file = KeyFile {
        name: name.to_string(),
        address: Address::from(&key.public_key()),
        private_key: hex::encode(key.encode()),
    };
    let mut text = serde_json::to_string_pretty(&file)?;
    text.push('\n');
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut out = options.open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::AlreadyExists {
            anyhow::anyhow!("key {name:?} already exists at {}", path.display())
        } else {
            anyhow::anyhow!("cannot create {}: {e}", path.display())
        }
    })?;
    out.write_all(text.as_bytes())
        .and_then(|()| out.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Creates `dir` and its parents, readable by the owner only on unix.
pub(crate) fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create directory {}", dir.display()))
}

fn read_key_file(path: &Path) -> anyhow::Result<KeyFile> {
    let len = std::fs::metadata(path)
        .with_context(|| format!("no key file {}", path.display()))?
        .len();
    if len > MAX_KEY_FILE_BYTES {
        bail!(
            "{} is {len} bytes; a key file is under {MAX_KEY_FILE_BYTES}",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a key file", path.display()))
}

/// Loads the private key `name` from `dir`, checking it matches the stored address.
pub fn load_key(dir: &Path, name: &str) -> anyhow::Result<PrivateKey> {
    let path = key_path(dir, name)?;
    let file = read_key_file(&path)?;
    let hex_key = file
        .private_key
        .strip_prefix("0x")
        .unwrap_or(&file.private_key);
    let bytes = hex::decode(hex_key)
        .with_context(|| format!("{}: private_key is not hex", path.display()))?;
    let key = PrivateKey::decode(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: private_key is not a 32-byte ed25519 key: {e}",
            path.display()
        )
    })?;
    let derived = Address::from(&key.public_key());
    if derived != file.address {
        bail!(
            "{}: stored address {} does not match the private key (which gives {derived})",
            path.display(),
            file.address
        );
    }
    Ok(key)
}

/// Names and addresses of all keys in `dir`, sorted by name. A missing
/// directory has no keys.
pub fn list_keys(dir: &Path) -> anyhow::Result<Vec<(String, Address)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("cannot list {}", dir.display())),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        if check_name(name).is_err() {
            continue;
        }
        let file = read_key_file(&path)?;
        keys.push((name.to_string(), file.address));
    }
    keys.sort();
    Ok(keys)
}

/// An address given as 64 hex characters, or the address of key `name` in `dir`.
pub fn resolve_address(dir: &Path, name_or_hex: &str) -> anyhow::Result<Address> {
    let hex_part = name_or_hex.strip_prefix("0x").unwrap_or(name_or_hex);
    if hex_part.len() == 64 && hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return name_or_hex
            .parse()
            .map_err(|e| anyhow::anyhow!("{name_or_hex}: {e}"));
    }
    let path = key_path(dir, name_or_hex).with_context(|| {
        format!("{name_or_hex:?} is neither a 64-hex-character address nor a key name")
    })?;
    Ok(read_key_file(&path)
        .with_context(|| format!("{name_or_hex:?} is not an address and has no key file"))?
        .address)
}

pub fn run_keys(args: KeysArgs) -> anyhow::Result<()> {
    let dir = match args.dir {
        Some(dir) => dir,
        None => default_keys_dir()?,
    };
    match args.command {
        KeysCommand::New { name } => {
            let key = PrivateKey::random(rand::rng());
            let path = write_key(&dir, &name, &key)?;
            let address = Address::from(&key.public_key());
            if args.json {
                let out = serde_json::json!({"name": name, "address": address, "path": path});
                println!("{out}");
            } else {
                println!("created key {name}");
                println!("address {address}");
                println!("file    {}", path.display());
            }
        }
        KeysCommand::List => {
            let keys = list_keys(&dir)?;
            if args.json {
                let list: Vec<_> = keys
                    .iter()
                    .map(|(name, address)| serde_json::json!({"name": name, "address": address}))
                    .collect();
                println!("{}", serde_json::json!({"dir": dir, "keys": list}));
            } else if keys.is_empty() {
                println!("no keys in {}", dir.display());
            } else {
                for (name, address) in keys {
                    println!("{name:<20} {address}");
                }
            }
        }
        KeysCommand::Show { name } => {
            let key = load_key(&dir, &name)?;
            let address = Address::from(&key.public_key());
            let path = key_path(&dir, &name)?;
            if args.json {
                let out = serde_json::json!({"name": name, "address": address, "path": path});
                println!("{out}");
            } else {
                println!("name    {name}");
                println!("address {address}");
                println!("file    {}", path.display());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_key_loads_back_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("nested").join("keys");
        let key = PrivateKey::from_seed(7);
        let path = write_key(&keys, "alice", &key).unwrap();
        assert_eq!(path, keys.join("alice.json"));
        let loaded = load_key(&keys, "alice").unwrap();
        assert_eq!(loaded.public_key(), key.public_key());
        assert_eq!(loaded.encode(), key.encode());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
            let dir_mode = std::fs::metadata(&keys).unwrap().permissions().mode();
            assert_eq!(dir_mode & 0o777, 0o700);
        }
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(json["name"], "alice");
        assert_eq!(json["address"], Address::from(&key.public_key()).to_hex());
        assert_eq!(json["private_key"].as_str().unwrap().len(), 64);
    }

    #[test]
    fn existing_keys_are_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let first = PrivateKey::from_seed(1);
        write_key(dir.path(), "bob", &first).unwrap();
        let err = write_key(dir.path(), "bob", &PrivateKey::from_seed(2)).unwrap_err();
        assert!(err.to_string().contains("already exists"), "{err}");
        assert_eq!(
            load_key(dir.path(), "bob").unwrap().public_key(),
            first.public_key()
        );
    }

    #[test]
    fn names_that_could_escape_the_directory_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::from_seed(1);
        for bad in ["", "../x", "a/b", "a.json", &"x".repeat(65)] {
            let err = write_key(dir.path(), bad, &key).unwrap_err();
            assert!(err.to_string().contains("invalid key name"), "{bad}: {err}");
        }
    }

    #[test]
    fn tampered_key_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_key(dir.path(), "carol", &PrivateKey::from_seed(3)).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let other = Address::from(&PrivateKey::from_seed(4).public_key()).to_hex();
        let mut json: serde_json::Value = serde_json::from_str(&text).unwrap();
        json["address"] = other.into();
        std::fs::write(&path, json.to_string()).unwrap();
        let err = load_key(dir.path(), "carol").unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");

        json["private_key"] = "abcd".into();
        std::fs::write(&path, json.to_string()).unwrap();
        let err = load_key(dir.path(), "carol").unwrap_err();
        assert!(err.to_string().contains("32-byte"), "{err}");
    }

    #[test]
    fn list_and_resolve() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list_keys(&dir.path().join("missing")).unwrap().is_empty());
        let a = PrivateKey::from_seed(10);
        let b = PrivateKey::from_seed(11);
        write_key(dir.path(), "zed", &a).unwrap();
        write_key(dir.path(), "amy", &b).unwrap();
        std::fs::write(dir.path().join("notes.txt"), "ignored").unwrap();
        let keys = list_keys(dir.path()).unwrap();
        let a_addr = Address::from(&a.public_key());
        let b_addr = Address::from(&b.public_key());
        assert_eq!(
            keys,
            vec![("amy".to_string(), b_addr), ("zed".to_string(), a_addr)]
        );

        assert_eq!(resolve_address(dir.path(), "zed").unwrap(), a_addr);
        assert_eq!(
            resolve_address(dir.path(), &b_addr.to_hex()).unwrap(),
            b_addr
        );
        assert_eq!(
            resolve_address(dir.path(), &format!("0x{}", b_addr.to_hex())).unwrap(),
            b_addr
        );
        let err = resolve_address(dir.path(), "nobody").unwrap_err();
        assert!(format!("{err:#}").contains("no key file"), "{err:#}");
    }
}
