//! The proving parameters a spend uses: a parameters file given with
//! `--params` (a ceremony's `finalize` writes one), or the devnet's,
//! derived from its public seed once and then cached in
//! `<keys dir>/shielded/devnet-params.bin`.
//!
//! Either way the file's verifying key must be the chain's, else every
//! proof would be refused. The chain verifies with the devnet key (genesis
//! carries no key yet), pinned as `chain::DEVNET_VERIFYING_KEY_DIGEST`.

use crate::ceremony::{read_bounded, write_atomically};
use crate::wallet::CodedError;
use lakh_shielded::params::ParamsError;
use lakh_shielded::{Parameters, TREE_DEPTH, chain};
use std::path::{Path, PathBuf};
use std::time::Instant;

const CACHE_FILE: &str = "devnet-params.bin";
/// The depth-32 file is about 8 MB.
const MAX_PARAMS_BYTES: u64 = 64 << 20;

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

pub fn load(keys_dir: &Path, file: Option<&Path>) -> anyhow::Result<Loaded> {
    let started = Instant::now();
    let chain_key = chain::DEVNET_VERIFYING_KEY_DIGEST;
    let loaded = |params: Parameters<TREE_DEPTH>, source, cache_refused| Loaded {
        params,
        source,
        load_ms: started.elapsed().as_millis() as u64,
        cache_refused,
    };
    if let Some(path) = file {
        let bytes = read_bounded(path, MAX_PARAMS_BYTES)?;
        let params =
            Parameters::from_file_bytes(&bytes, &chain_key).map_err(|e| refused(e, path))?;
        return Ok(loaded(params, "file", None));
    }
    let cache = cache_path(keys_dir);
    let cache_refused = match read_bounded(&cache, MAX_PARAMS_BYTES) {
        Err(_) if !cache.exists() => None,
        Err(e) => Some(format!("{e:#}")),
        Ok(bytes) => match Parameters::from_file_bytes(&bytes, &chain_key) {
            Ok(params) => return Ok(loaded(params, "cache", None)),
            Err(e) => Some(format!("{} ({})", e, e.code())),
        },
    };
    let params = Parameters::devnet_setup(chain::DEVNET_SEED)
        .map_err(|e| anyhow::anyhow!("deriving the devnet parameters: {e}"))?;
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir)?;
    }
    write_atomically(&cache, &params.to_file_bytes())?;
    Ok(loaded(params, "derived", cache_refused))
}
