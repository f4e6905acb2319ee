//! The network definition: chain id, validators, initial balances, parameters.

use crate::{
    Address, AssetId, Symbol,
    committee::StakingParams,
    consensus_key::{self, ConsensusPublicKey},
    fees::FeeParams,
};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// One validator of the genesis committee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisValidator {
    /// Hex ed25519 public key: the validator's identity on the network.
    pub public_key: String,
    /// Hex BLS12-381 G1 key its consensus votes are signed with
    /// ([`crate::consensus_key`]).
    pub consensus_key: String,
    /// Hex proof of possession of `consensus_key` for `public_key`.
    pub proof_of_possession: String,
    /// Where peers reach this validator's p2p listener.
    pub p2p_address: SocketAddr,
    /// Native base units staked (the committee is equal-weight; see docs).
    #[serde(with = "crate::amount")]
    pub stake: u128,
}

impl GenesisValidator {
    /// The entry of the validator whose identity secret is `identity`: its
    /// consensus key is derived from it and proven.
    pub fn new(identity: &crate::PrivateKey, p2p_address: SocketAddr, stake: u128) -> Self {
        use commonware_cryptography::Signer;
        let secret = consensus_key::derive_consensus_key(identity);
        let public = identity.public_key();
        GenesisValidator {
            public_key: crate::address::public_key_hex(&public),
            consensus_key: consensus_key::to_hex(&consensus_key::consensus_public_key(&secret)),
            proof_of_possession: consensus_key::to_hex(&consensus_key::prove_possession(
                &secret, &public,
            )),
            p2p_address,
            stake,
        }
    }

    /// Parses both keys and checks the proof of possession.
    pub fn keys(&self) -> Result<(crate::PublicKey, ConsensusPublicKey), String> {
        let identity = crate::address::parse_public_key(&self.public_key)?;
        let consensus = consensus_key::parse_consensus_key(&self.consensus_key)?;
        let pop = consensus_key::parse_pop(&self.proof_of_possession)?;
        consensus_key::verify_possession(&consensus, &identity, &pop)?;
        Ok((identity, consensus))
    }
}

/// An initial native-token balance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAccount {
    /// The account credited.
    pub address: Address,
    /// Initial balance (base units of the native token, or of the asset it is listed under).
    #[serde(with = "crate::amount")]
    pub balance: u128,
}

/// An asset that exists from genesis, with its initial holders.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenesisAsset {
    /// Its id; never `AssetId::NATIVE` (0) and unique among genesis assets.
    pub id: AssetId,
    /// Its symbol, unique among all assets including the native one.
    pub symbol: Symbol,
    /// Decimal places of one whole unit (at most `MAX_DECIMALS`).
    pub decimals: u8,
    /// The account allowed to mint more.
    pub issuer: Address,
    /// Cap on total supply (base units); unlimited when absent.
    #[serde(with = "crate::amount::option", default)]
    pub max_supply: Option<u128>,
    /// Initial holders; their sum must not exceed `max_supply`.
    pub balances: Vec<GenesisAccount>,
}

/// Block-building limits and pace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockParams {
    /// Most transactions a proposer puts in one block.
    pub max_txs: usize,
    /// Most encoded transaction bytes in one block.
    pub max_bytes: usize,
    /// Milliseconds between empty blocks while no transaction waits: a
    /// leader with nothing to include proposes when this long has passed
    /// since its parent's timestamp, or at once when a transaction arrives.
    /// 0 proposes without waiting (a block per consensus round). At most
    /// [`MAX_HEARTBEAT_MS`]; [`DEFAULT_HEARTBEAT_MS`] when absent (and then
    /// not written, so genesis files and their digest are as before).
    #[serde(
        default = "default_heartbeat_ms",
        skip_serializing_if = "is_default_heartbeat_ms"
    )]
    pub heartbeat_ms: u64,
}

/// Default of [`BlockParams::heartbeat_ms`]: one empty block per second on
/// an idle chain.
pub const DEFAULT_HEARTBEAT_MS: u64 = 1_000;

/// Largest [`BlockParams::heartbeat_ms`]. A leader waiting for transactions
/// must propose well inside the consensus leader timeout (2 s by default),
/// or its view is nullified: the node also caps the wait at half its leader
/// timeout.
pub const MAX_HEARTBEAT_MS: u64 = 1_000;

fn default_heartbeat_ms() -> u64 {
    DEFAULT_HEARTBEAT_MS
}

fn is_default_heartbeat_ms(ms: &u64) -> bool {
    *ms == DEFAULT_HEARTBEAT_MS
}

impl Default for BlockParams {
    fn default() -> Self {
        BlockParams {
            max_txs: 20_000,
            max_bytes: 8 * 1024 * 1024,
            heartbeat_ms: DEFAULT_HEARTBEAT_MS,
        }
    }
}

/// The whole network definition. Every node of a network loads the same file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Genesis {
    /// Network id every transaction must carry (replay protection across networks).
    pub chain_id: u64,
    /// Symbol of the native token (asset 0), which pays fees and stakes.
    pub native_symbol: Symbol,
    /// Decimal places of one whole native token.
    pub native_decimals: u8,
    /// Fee schedule; the defaults when absent.
    #[serde(default)]
    pub fees: FeeParams,
    /// Block-building limits; the defaults when absent.
    #[serde(default)]
    pub block: BlockParams,
    /// The consensus committee (at least one, no key twice).
    pub validators: Vec<GenesisValidator>,
    /// Initial native balances; their sum must fit in u128.
    pub accounts: Vec<GenesisAccount>,
    /// Other assets that exist from genesis; none when absent.
    #[serde(default)]
    pub assets: Vec<GenesisAsset>,
    /// May perform privileged module setup (lending markets, oracle
    /// reporters, cover pools); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<Address>,
    /// Epochs and election; the defaults when absent (and then not written,
    /// so genesis files and their digest are as before).
    #[serde(default, skip_serializing_if = "StakingParams::is_default")]
    pub staking: StakingParams,
    /// The Ethereum bridge: the L1, its bridge contract and the tokens it
    /// wraps; no bridge when absent (and then not written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge: Option<crate::modules::bridge::BridgeGenesis>,
    /// The shielded pool's verifying key; the seeded devnet key (insecure:
    /// anyone can forge proofs) when absent (and then not written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shielded: Option<crate::modules::shielded::ShieldedGenesis>,
}

impl Genesis {
    /// Checks the definition is usable; returns a human-readable reason otherwise.
    pub fn validate(&self) -> Result<(), String> {
        if self.validators.is_empty() {
            return Err("genesis needs at least one validator".into());
        }
        self.staking.validate()?;
        let max = crate::modules::stake::MAX_VALIDATORS;
        if self.validators.len() > max {
            return Err(format!("genesis lists more than {max} validators"));
        }
        let mut keys = std::collections::BTreeSet::new();
        let mut consensus_keys = std::collections::BTreeSet::new();
        for v in &self.validators {
            let (identity, consensus) = v
                .keys()
                .map_err(|e| format!("validator {}: {e}", v.public_key))?;
            let consensus = consensus_key::to_hex(&consensus);
            if !keys.insert(identity) || !consensus_keys.insert(consensus) {
                return Err(format!("validator {} listed twice", v.public_key));
            }
            if v.stake < self.staking.min_self_bond {
                return Err(format!(
                    "validator {}: stake {} is below staking.min_self_bond {} \
                     (its stake is its self-bond)",
                    v.public_key, v.stake, self.staking.min_self_bond
                ));
            }
        }
        let mut supply: u128 = 0;
        // Genesis stake is bonded native tokens: part of the supply.
        for v in &self.validators {
            supply = supply
                .checked_add(v.stake)
                .ok_or("native supply overflows u128")?;
        }
        for a in &self.accounts {
            supply = supply
                .checked_add(a.balance)
                .ok_or("native supply overflows u128")?;
        }
        let mut ids = std::collections::BTreeSet::new();
        let mut symbols = std::collections::BTreeSet::new();
        symbols.insert(self.native_symbol.clone());
        for asset in &self.assets {
            if asset.id == AssetId::NATIVE || !ids.insert(asset.id) {
                return Err(format!("asset id {} is reserved or duplicated", asset.id));
            }
            if asset.decimals > crate::limits::MAX_DECIMALS {
                return Err(format!(
                    "asset {} has more than {} decimals",
                    asset.symbol,
                    crate::limits::MAX_DECIMALS
                ));
            }
            if !symbols.insert(asset.symbol.clone()) {
                return Err(format!("asset symbol {} is duplicated", asset.symbol));
            }
            let mut s: u128 = 0;
            for b in &asset.balances {
                s = s
                    .checked_add(b.balance)
                    .ok_or_else(|| format!("supply of {} overflows u128", asset.symbol))?;
            }
            if let Some(max) = asset.max_supply
                && s > max
            {
                return Err(format!(
                    "initial supply of {} exceeds its max",
                    asset.symbol
                ));
            }
        }
        if let Some(bridge) = &self.bridge {
            bridge.validate(&symbols, &ids)?;
        }
        if let Some(shielded) = &self.shielded {
            shielded
                .key_bytes()
                .map_err(|e| format!("shielded.verifying_key refused ({}): {e}", e.code()))?;
        }
        if self.block.max_txs == 0 || self.block.max_txs > crate::limits::MAX_BLOCK_TXS {
            return Err(format!(
                "block.max_txs must be 1..={}",
                crate::limits::MAX_BLOCK_TXS
            ));
        }
        if self.block.heartbeat_ms > MAX_HEARTBEAT_MS {
            return Err(format!("block.heartbeat_ms must be 0..={MAX_HEARTBEAT_MS}"));
        }
        Ok(())
    }

    /// Parses a genesis file and validates it; the error says what is wrong.
    pub fn from_json(text: &str) -> Result<Genesis, String> {
        let g: Genesis =
            serde_json::from_str(text).map_err(|e| format!("genesis is not valid JSON: {e}"))?;
        g.validate()?;
        Ok(g)
    }

    /// Pretty-printed JSON, the form `from_json` reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("genesis serializes")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use commonware_cryptography::Signer as _;

    fn genesis(block: BlockParams) -> Genesis {
        Genesis {
            chain_id: 7,
            native_symbol: Symbol::new("LAKH").unwrap(),
            native_decimals: 9,
            fees: FeeParams::default(),
            block,
            validators: vec![GenesisValidator::new(
                &crate::PrivateKey::from_seed(1),
                "127.0.0.1:3000".parse().unwrap(),
                1,
            )],
            accounts: vec![],
            assets: vec![],
            admin: None,
            staking: StakingParams::default(),
            bridge: None,
            shielded: None,
        }
    }

    #[test]
    fn heartbeat_defaults_when_absent_and_the_default_is_not_written() {
        let g = genesis(BlockParams::default());
        let json = g.to_json();
        assert!(!json.contains("heartbeat_ms"), "{json}");
        let back = Genesis::from_json(&json).unwrap();
        assert_eq!(back.block.heartbeat_ms, DEFAULT_HEARTBEAT_MS);
        assert_eq!(back, g);
    }

    #[test]
    fn heartbeat_round_trips_and_is_bounded() {
        for ms in [0, 250, MAX_HEARTBEAT_MS] {
            let g = genesis(BlockParams {
                heartbeat_ms: ms,
                ..BlockParams::default()
            });
            assert_eq!(Genesis::from_json(&g.to_json()).unwrap(), g);
        }
        let g = genesis(BlockParams {
            heartbeat_ms: MAX_HEARTBEAT_MS + 1,
            ..BlockParams::default()
        });
        let err = Genesis::from_json(&g.to_json()).unwrap_err();
        assert!(err.contains("heartbeat_ms"), "{err}");
    }

    #[test]
    fn shielded_key_is_absent_unless_given_and_is_bounded() {
        use crate::modules::shielded::{MAX_GENESIS_VERIFYING_KEY_BYTES, ShieldedGenesis};
        let g = genesis(BlockParams::default());
        let json = g.to_json();
        assert!(!json.contains("shielded"), "{json}");
        assert_eq!(Genesis::from_json(&json).unwrap().shielded, None);
        let mut keyed = g.clone();
        keyed.shielded = Some(ShieldedGenesis::with_key(&[7; 552]));
        assert_eq!(Genesis::from_json(&keyed.to_json()).unwrap(), keyed);
        keyed.shielded = Some(ShieldedGenesis::with_key(
            &[7; MAX_GENESIS_VERIFYING_KEY_BYTES + 1],
        ));
        let err = keyed.validate().unwrap_err();
        assert!(err.contains("(verifying_key_too_large)"), "{err}");
        keyed.shielded = Some(ShieldedGenesis {
            verifying_key: "0g".into(),
        });
        let err = keyed.validate().unwrap_err();
        assert!(err.contains("(verifying_key_not_hex)"), "{err}");
    }

    #[test]
    fn staking_defaults_when_absent_and_is_validated() {
        let g = genesis(BlockParams::default());
        let json = g.to_json();
        assert!(!json.contains("staking"), "{json}");
        assert_eq!(
            Genesis::from_json(&json).unwrap().staking,
            StakingParams::default()
        );
        let mut custom = g.clone();
        custom.staking.epoch_blocks = 30;
        custom.staking.committee_size = 4;
        let back = Genesis::from_json(&custom.to_json()).unwrap();
        assert_eq!(back, custom);
        custom.staking.epoch_blocks = 2;
        let err = custom.validate().unwrap_err();
        assert!(err.contains("epoch_blocks"), "{err}");
        let mut poor = g.clone();
        poor.staking.min_self_bond = 2;
        let err = poor.validate().unwrap_err();
        assert!(err.contains("below staking.min_self_bond"), "{err}");
    }
}
