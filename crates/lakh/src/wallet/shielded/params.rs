//! The proving parameters a spend uses: a parameters file given with
//! `--params` (a ceremony's `finalize` writes one), or the devnet's,
//! derived from its public seed once and then cached in
//! `<keys dir>/shielded/devnet-params.bin`.
//!
//! Either way the file's verifying key must be the chain's (its digest, from
//! the `shielded verifying_key` query), else every proof would be refused.
//! A chain whose genesis carries no key verifies with the devnet key,
//! pinned as `chain::DEVNET_VERIFYING_KEY_DIGEST`; one whose genesis carries
//! a ceremony's key needs that ceremony's parameters (`--params`).
//!
//! A `--params` file comes from someone else and is decoded with every
//! point checked. The cache is the wallet's own file: it is written as
//!
//! ```text
//! magic "LAKHPCCH" | sha256 of the parameters file 32 | parameters file
//! ```
//!
//! and loaded without the point checks (about 19,000 of them are G2
//! subgroup checks) nor the shape check once the sha256 matches. A cache
//! that does not match or does not load is derived again and rewritten,
//! and the reason is reported.

use crate::ceremony::{MAX_PARAMS_BYTES, read_bounded, write_atomically};
use crate::wallet::CodedError;
use commonware_cryptography::{Hasher, Sha256};
use lakh_shielded::params::ParamsError;
use lakh_shielded::{Parameters, TREE_DEPTH, chain};
use lakh_types::modules::shielded::query::VerifyingKeyAnswer;
use std::path::{Path, PathBuf};
use std::time::Instant;

const CACHE_FILE: &str = "devnet-params.bin";
const CACHE_MAGIC: &[u8; 8] = b"LAKHPCCH";
const CACHE_HEADER_BYTES: usize = CACHE_MAGIC.len() + 32;

/// Parameters ready to prove with, and how they were obtained.
pub struct Loaded {
    pub params: Parameters<TREE_DEPTH>,
    /// `file` (`--params`), `cache` or `derived` (then written to the cache).
    pub source: &'static str,
    /// Time to load or derive them.
    pub load_ms: u64,
    /// Why a cache file present was not used, if it was not.
    pub cache_refused: Option<String>,
}

pub fn cache_path(keys_dir: &Path) -> PathBuf {
    keys_dir.join("shielded").join(CACHE_FILE)
}

fn refused(e: ParamsError, path: &Path) -> anyhow::Error {
    CodedError::new(e.code(), format!("{}: {e}", path.display())).into()
}

/// The parameters to prove with on a chain whose key is `chain`: `file`'s,
/// fully checked, or the devnet's (cached) when the chain uses the devnet
/// key. A chain with its own key (from genesis) needs `file`.
pub fn load(
    keys_dir: &Path,
    file: Option<&Path>,
    chain: &VerifyingKeyAnswer,
) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let chain_key = chain.digest.0;
    let (params, source, cache_refused) = match file {
        Some(path) => {
            let bytes = read_bounded(path, MAX_PARAMS_BYTES)?;
            let params =
                Parameters::from_file_bytes(&bytes, &chain_key).map_err(|e| refused(e, path))?;
            (params, "file", None)
        }
        None if !chain.devnet => {
            return Err(CodedError::new(
                "wrong_verifying_key",
                format!(
                    "the chain verifies with the key {} of its genesis, not the devnet key {}: \
                     pass --params FILE with the parameters of its ceremony",
                    hex::encode(chain_key),
                    hex::encode(chain::DEVNET_VERIFYING_KEY_DIGEST)
                ),
            )
            .into());
        }
        None => load_cached(&cache_path(keys_dir), &chain_key, || {
            Parameters::devnet_setup(chain::DEVNET_SEED)
                .map_err(|e| anyhow::anyhow!("deriving the devnet parameters: {e}"))
        })?,
    };
    Ok(Loaded {
        params,
        source,
        load_ms: started.elapsed().as_millis() as u64,
        cache_refused,
    })
}

/// The parameters in the cache at `path` if it holds sound ones for
/// `chain_key`, else `derive()`'s, written to the cache; with the source
/// (`cache` or `derived`) and why a cache present was refused.
fn load_cached<const D: usize>(
    path: &Path,
    chain_key: &[u8; 32],
    derive: impl FnOnce() -> anyhow::Result<Parameters<D>>,
) -> anyhow::Result<(Parameters<D>, &'static str, Option<String>)> {
    let cache_refused = match read_bounded(path, MAX_PARAMS_BYTES) {
        Err(_) if !path.exists() => None,
        Err(e) => Some(format!("{e:#}")),
        Ok(bytes) => match read_cache(&bytes, chain_key) {
            Ok(params) => return Ok((params, "cache", None)),
            Err(reason) => Some(reason),
        },
    };
    let params = derive()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_atomically(path, &cache_bytes(&params))?;
    Ok((params, "derived", cache_refused))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(Sha256::hash(&[bytes]).as_ref());
    out
}

fn cache_bytes<const D: usize>(params: &Parameters<D>) -> Vec<u8> {
    let file = params.to_file_bytes();
    let mut out = Vec::with_capacity(CACHE_HEADER_BYTES + file.len());
    out.extend(CACHE_MAGIC);
    out.extend(sha256(&file));
    out.extend(file);
    out
}

/// Decodes a cache file; the error is the reason it was refused.
fn read_cache<const D: usize>(bytes: &[u8], chain_key: &[u8; 32]) -> Result<Parameters<D>, String> {
    if bytes.len() < CACHE_HEADER_BYTES || &bytes[..CACHE_MAGIC.len()] != CACHE_MAGIC {
        return Err("not a parameters cache file (or one of an older format)".into());
    }
    let file = &bytes[CACHE_HEADER_BYTES..];
    if sha256(file)[..] != bytes[CACHE_MAGIC.len()..CACHE_HEADER_BYTES] {
        return Err("the cache's sha256 does not match its contents (damaged file)".into());
    }
    Parameters::from_own_file_bytes(file, chain_key).map_err(|e| format!("{e} ({})", e.code()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const D: usize = 2;

    fn derived(seed: &'static [u8]) -> impl FnOnce() -> anyhow::Result<Parameters<D>> {
        move || Ok(Parameters::devnet_setup(seed)?)
    }

    #[test]
    fn cache_round_trips_and_a_damaged_one_is_derived_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shielded").join(CACHE_FILE);
        let expected = Parameters::<D>::devnet_setup(b"cache test").unwrap();
        let key = expected.verifying_key().digest();

        let (first, source, refused) = load_cached(&path, &key, derived(b"cache test")).unwrap();
        assert_eq!((source, refused), ("derived", None));
        assert_eq!(first.to_file_bytes(), expected.to_file_bytes());

        let never = || -> anyhow::Result<Parameters<D>> { panic!("the cache was not used") };
        let (cached, source, refused) = load_cached(&path, &key, never).unwrap();
        assert_eq!((source, refused), ("cache", None));
        assert_eq!(cached.to_file_bytes(), expected.to_file_bytes());

        // One flipped bit in the last point: the digest catches it before
        // the unchecked decoding could take it.
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let (again, source, refused) = load_cached(&path, &key, derived(b"cache test")).unwrap();
        assert_eq!(source, "derived");
        assert!(refused.unwrap().contains("sha256"));
        assert_eq!(again.to_file_bytes(), expected.to_file_bytes());
        let (_, source, _) = load_cached(&path, &key, never).unwrap();
        assert_eq!(source, "cache", "the damaged cache was rewritten");
    }

    #[test]
    fn cache_of_another_key_or_format_is_refused_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(CACHE_FILE);
        let other = Parameters::<D>::devnet_setup(b"other").unwrap();
        std::fs::write(&path, cache_bytes(&other)).unwrap();
        let expected = Parameters::<D>::devnet_setup(b"cache test").unwrap();
        let key = expected.verifying_key().digest();
        let (_, source, refused) = load_cached(&path, &key, derived(b"cache test")).unwrap();
        assert_eq!(source, "derived");
        assert!(refused.unwrap().contains("wrong_verifying_key"));

        // A cache written before the digest: a bare parameters file.
        std::fs::write(&path, expected.to_file_bytes()).unwrap();
        let (_, source, refused) = load_cached(&path, &key, derived(b"cache test")).unwrap();
        assert_eq!(source, "derived");
        assert!(refused.unwrap().contains("not a parameters cache"));
    }
}
