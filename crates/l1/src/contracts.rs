//! Bindings of the bridge contracts and their deployment.

use crate::{L1Provider, bls};
use alloy::primitives::{Address, B256, Bytes, U256};
use lakh_types::consensus_key::{ConsensusPublicKey, ProofOfPossession};

pub use bindings::{LakhBridge, LakhLightClient, TestToken};

// Generated code: each binding takes the Solidity function's arguments, and
// `submit` and `reportWithdrawalConflict` have more than seven.
#[allow(clippy::too_many_arguments)]
mod bindings {
    alloy::sol!(
        #[sol(rpc, all_derives)]
        LakhLightClient,
        concat!(env!("OUT_DIR"), "/contracts/LakhLightClient.json")
    );
    alloy::sol!(
        #[sol(rpc, all_derives)]
        LakhBridge,
        concat!(env!("OUT_DIR"), "/contracts/LakhBridge.json")
    );
    alloy::sol!(
        #[sol(rpc, all_derives)]
        TestToken,
        concat!(env!("OUT_DIR"), "/contracts/TestToken.json")
    );
}

/// A member of the genesis committee, in committee (identity) order.
#[derive(Clone, Debug)]
pub struct GenesisMember {
    /// The member's ed25519 identity (its lakh address).
    pub identity: [u8; 32],
    pub key: ConsensusPublicKey,
    /// Its proof of possession, as the genesis file carries it.
    pub pop: ProofOfPossession,
}

/// What the contracts are deployed with.
#[derive(Clone, Debug)]
pub struct BridgeParams {
    pub lakh_chain_id: u64,
    /// lakh's `staking.epoch_blocks`.
    pub epoch_blocks: u64,
    /// The epoch of the genesis committee (0 for a new chain).
    pub epoch: u64,
    /// How long a posted header waits before withdrawals against it pay.
    pub challenge_seconds: u64,
    /// How long after a deposit its depositor may reclaim it, if no posted
    /// header applied it by then.
    pub reclaim_seconds: u64,
    /// Who may pause, unpause and allowlist tokens.
    pub guardian: Address,
}

/// Where the contracts live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deployment {
    pub light_client: Address,
    pub bridge: Address,
}

/// Deploys the light client (trusting `committee` for `params.epoch`) and
/// the bridge on top of it.
pub async fn deploy(
    provider: &L1Provider,
    params: &BridgeParams,
    committee: &[GenesisMember],
) -> anyhow::Result<Deployment> {
    let identities: Vec<B256> = committee.iter().map(|m| B256::from(m.identity)).collect();
    let keys: Vec<ConsensusPublicKey> = committee.iter().map(|m| m.key).collect();
    let mut pops = Vec::with_capacity(committee.len() * bls::G2_BYTES);
    for member in committee {
        pops.extend_from_slice(&bls::g2_uncompressed(&member.pop)?);
    }
    let light_client = LakhLightClient::deploy(
        provider.clone(),
        params.lakh_chain_id,
        params.epoch_blocks,
        params.epoch,
        identities,
        Bytes::from(bls::keys_uncompressed(&keys)?),
        Bytes::from(pops),
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "deploying LakhLightClient: {} {e}",
            revert_reason(&e).unwrap_or_default()
        )
    })?;
    let bridge = LakhBridge::deploy(
        provider.clone(),
        *light_client.address(),
        params.challenge_seconds,
        params.reclaim_seconds,
        params.guardian,
    )
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "deploying LakhBridge: {} {e}",
            revert_reason(&e).unwrap_or_default()
        )
    })?;
    Ok(Deployment {
        light_client: *light_client.address(),
        bridge: *bridge.address(),
    })
}

/// The name and fields of the contracts' custom error in `error`, if the
/// call reverted with one (`"BelowQuorum(3, 4)"`-like, from `Debug`).
pub fn revert_reason(error: &alloy::contract::Error) -> Option<String> {
    if let Some(e) = error.as_decoded_interface_error::<LakhLightClient::LakhLightClientErrors>() {
        return Some(format!("{e:?}"));
    }
    if let Some(e) = error.as_decoded_interface_error::<LakhBridge::LakhBridgeErrors>() {
        return Some(format!("{e:?}"));
    }
    None
}

/// A withdrawal leaf in the form `LakhBridge.finalizeWithdrawal` takes.
pub fn withdrawal(leaf: &lakh_types::modules::bridge::WithdrawalLeaf) -> LakhBridge::Withdrawal {
    LakhBridge::Withdrawal {
        lakhChainId: leaf.lakh_chain_id,
        l1ChainId: leaf.l1_chain_id,
        bridge: Address::from(leaf.bridge.0),
        index: leaf.index,
        lakhSender: B256::from(leaf.lakh_sender.0),
        l1Recipient: Address::from(leaf.l1_recipient.0),
        token: Address::from(leaf.token.0),
        amount: U256::from(leaf.amount),
    }
}
