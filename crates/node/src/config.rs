//! A node's configuration file (`lakh node --config node.toml`) and the
//! bounds its values must keep.

use commonware_cryptography::ed25519;
use lakh_archive::Retention;
use lakh_mempool::MempoolConfig;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Default memory for a node's state page cache, in MiB.
pub const DEFAULT_STATE_CACHE_MIB: usize = lakh_consensus::engine::DEFAULT_STATE_CACHE_BYTES >> 20;
/// Largest state page cache a config may ask for, in MiB (1 TiB).
pub const MAX_STATE_CACHE_MIB: usize = 1 << 20;
/// Default receipts retention, in transactions: about 3.6 GiB of index
/// memory at 228 bytes per transaction, 5.6 GiB at the 360 measured on the
/// AMD EPYC (docs/RELIABILITY.md).
pub const DEFAULT_RECEIPTS_RETENTION_TXS: u64 = 1 << 24;
/// Most extra peers one node keeps connected.
pub const MAX_CONFIG_PEERS: usize = 256;
/// Largest config file read, in bytes.
pub const MAX_CONFIG_BYTES: usize = 64 * 1024;

/// A node outside the genesis that validators keep connected:
/// `PUBLIC_KEY@HOST:PORT` (the key in hex, as `lakh keys show` prints it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    pub key: ed25519::PublicKey,
    pub address: SocketAddr,
}

impl std::str::FromStr for Peer {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (key, address) = s
            .split_once('@')
            .ok_or_else(|| format!("peer {s:?} is not PUBLIC_KEY@HOST:PORT"))?;
        let key = lakh_types::address::parse_public_key(key)?;
        let address = address
            .parse()
            .map_err(|e| format!("peer {s:?}: address {address:?} is not HOST:PORT: {e}"))?;
        Ok(Peer { key, address })
    }
}

impl std::fmt::Display for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", hex::encode(self.key.as_ref()), self.address)
    }
}

impl Serialize for Peer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Peer {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The (key, address) pairs of `peers`.
pub fn peer_pairs(peers: &[Peer]) -> Vec<(ed25519::PublicKey, SocketAddr)> {
    peers.iter().map(|p| (p.key.clone(), p.address)).collect()
}

/// `lakh node --config FILE`. Relative paths are relative to the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeFile {
    pub data_dir: PathBuf,
    pub genesis: PathBuf,
    /// Key file of this node (as written by `lakh keys new`): its p2p
    /// identity, its account, and the source of its consensus key.
    pub key: PathBuf,
    /// RPC listen address (omit to serve none).
    pub rpc_addr: Option<SocketAddr>,
    /// p2p listen address. Required for a key outside the genesis (a full
    /// node, or a validator registered later); a genesis validator listens
    /// on its genesis address when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p2p_address: Option<SocketAddr>,
    /// Nodes outside the genesis this node keeps connected
    /// (`PUBLIC_KEY@HOST:PORT`): on a validator, the full nodes it serves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<Peer>,
    /// Most transactions the mempool holds (omit for the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mempool_max_txs: Option<usize>,
    /// Memory for the state page cache in MiB (omit for the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_cache_mib: Option<usize>,
    /// Receipts of at least this many of the newest transactions stay
    /// findable (by id and in account histories); older ones are pruned a
    /// generation of 1,048,576 at a time. 0 keeps all, and memory then
    /// grows by about 230-360 bytes per transaction (by machine). Omit for
    /// the default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipts_retention_txs: Option<u64>,
    /// JSON-RPC URL of an L1 (Ethereum) node: on a chain whose genesis has
    /// a `bridge` section, the node watches the bridge contract's finalized
    /// deposits there (a validator needs it to propose and verify blocks
    /// that carry deposits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1_rpc: Option<String>,
    /// The L1 block the watcher starts reading deposits from (the bridge's
    /// deployment block; default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l1_from_block: Option<u64>,
}

impl NodeFile {
    /// Reads a config's text, refusing what is too large, malformed, or
    /// out of bounds, with the reason.
    pub fn parse(text: &str) -> Result<NodeFile, String> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(format!(
                "the config is {} bytes, at most {MAX_CONFIG_BYTES}",
                text.len()
            ));
        }
        let file: NodeFile = toml::from_str(text).map_err(|e| e.to_string())?;
        file.check()?;
        Ok(file)
    }

    /// The config's values are within their bounds.
    pub fn check(&self) -> Result<(), String> {
        if self.peers.len() > MAX_CONFIG_PEERS {
            return Err(format!(
                "{} peers, at most {MAX_CONFIG_PEERS}",
                self.peers.len()
            ));
        }
        self.mempool()?;
        self.state_cache_bytes()?;
        Ok(())
    }

    /// The mempool this config asks for.
    pub fn mempool(&self) -> Result<MempoolConfig, String> {
        mempool_config(
            self.mempool_max_txs
                .unwrap_or(MempoolConfig::default().max_txs),
        )
    }

    /// How many transactions' receipts this config keeps.
    pub fn receipts_retention(&self) -> Retention {
        Retention::keep(
            self.receipts_retention_txs
                .unwrap_or(DEFAULT_RECEIPTS_RETENTION_TXS),
        )
    }

    /// The state page cache this config asks for, in bytes.
    pub fn state_cache_bytes(&self) -> Result<usize, String> {
        state_cache_bytes(self.state_cache_mib.unwrap_or(DEFAULT_STATE_CACHE_MIB))
    }
}

/// The state page cache size in bytes, from MiB (1 to [`MAX_STATE_CACHE_MIB`]).
pub fn state_cache_bytes(mib: usize) -> Result<usize, String> {
    if !(1..=MAX_STATE_CACHE_MIB).contains(&mib) {
        return Err(format!(
            "a state cache of {mib} MiB: it takes 1 to {MAX_STATE_CACHE_MIB} MiB"
        ));
    }
    mib.checked_mul(1 << 20)
        .ok_or_else(|| format!("a state cache of {mib} MiB does not fit in memory"))
}

/// Mempool bounds with the count bound `max_txs` (at least 1).
pub fn mempool_config(max_txs: usize) -> Result<MempoolConfig, String> {
    if max_txs == 0 {
        return Err("the mempool must hold at least 1 transaction (mempool_max_txs)".to_string());
    }
    Ok(MempoolConfig {
        max_txs,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_round_trips_and_its_bounds_are_checked() {
        let text = "data_dir = \"node-0\"\ngenesis = \"genesis.json\"\nkey = \"k.json\"\n\
                    rpc_addr = \"127.0.0.1:8645\"\nstate_cache_mib = 64\n";
        let file = NodeFile::parse(text).unwrap();
        assert_eq!(file.state_cache_bytes().unwrap(), 64 << 20);
        let again = NodeFile::parse(&toml::to_string_pretty(&file).unwrap()).unwrap();
        assert_eq!(again, file);

        let zero = format!("{text}mempool_max_txs = 0\n");
        assert!(NodeFile::parse(&zero).unwrap_err().contains("at least 1"));
        let huge = text.replace("= 64", "= 18446744073709551615");
        assert!(NodeFile::parse(&huge).unwrap_err().contains("MiB"));
        let typo = format!("{text}mempool_max_tx = 5\n");
        assert!(
            NodeFile::parse(&typo)
                .unwrap_err()
                .contains("unknown field")
        );
        let long = format!("{text}# {}\n", "x".repeat(MAX_CONFIG_BYTES));
        assert!(NodeFile::parse(&long).unwrap_err().contains("bytes"));
    }

    #[test]
    fn peers_parse_and_print_alike() {
        use commonware_cryptography::Signer;
        let key = ed25519::PrivateKey::from_seed(7).public_key();
        let text = format!("{}@127.0.0.1:9000", hex::encode(key.as_ref()));
        let peer: Peer = text.parse().unwrap();
        assert_eq!(peer.key, key);
        assert_eq!(peer.to_string().parse::<Peer>().unwrap(), peer);
        assert!(
            "nokey"
                .parse::<Peer>()
                .unwrap_err()
                .contains("PUBLIC_KEY@HOST:PORT")
        );
    }
}
