//! Posting certified lakh headers to the light client.

use crate::{L1Provider, bls, contracts::LakhLightClient};
use alloy::primitives::{Address, B256, Bytes};
use anyhow::Context as _;
use lakh_rpc::finality::BlockFinalization;
use lakh_types::consensus_key::ConsensusPublicKey;

/// A lakh header as the light client takes it, with its certificate.
#[derive(Clone, Debug)]
pub struct CertifiedHeader {
    /// `lakh_consensus::block::header_core(&header)`.
    pub core: Vec<u8>,
    /// `lakh_consensus::block::carried_root(&header)`.
    pub carried_root: [u8; 32],
    pub tx_root: [u8; 32],
    /// The block's finalization certificate.
    pub finalization: BlockFinalization,
}

impl CertifiedHeader {
    /// The block digest, sha256(core ‖ carried_root ‖ tx_root).
    pub fn digest(&self) -> [u8; 32] {
        use commonware_cryptography::{Hasher, Sha256};
        let digest = Sha256::hash(&[
            self.core.as_slice(),
            &self.carried_root[..],
            &self.tx_root[..],
        ]);
        let mut out = [0u8; 32];
        out.copy_from_slice(digest.as_ref());
        out
    }
}

/// A header the light client stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Posted {
    pub digest: B256,
    pub gas_used: u64,
}

/// The `submit` call for `header`, certified by `committee` (the keys of
/// the header's epoch, in committee order). `next_committee` holds the keys
/// of the committee the header elects, in its order (empty for a header
/// that elects none).
pub fn submit_call(
    provider: &L1Provider,
    light_client: Address,
    header: &CertifiedHeader,
    committee: &[ConsensusPublicKey],
    next_committee: &[ConsensusPublicKey],
) -> anyhow::Result<alloy::contract::SolCallBuilder<L1Provider, LakhLightClient::submitCall>> {
    let (signers, signature) = bls::certificate(&header.finalization, committee.len())?;
    let contract = LakhLightClient::new(light_client, provider.clone());
    let call = contract.submit(
        Bytes::from(header.core.clone()),
        B256::from(header.carried_root),
        B256::from(header.tx_root),
        Bytes::from(signers),
        Bytes::from(signature.to_vec()),
        Bytes::from(bls::keys_uncompressed(committee)?),
        Bytes::from(bls::keys_uncompressed(next_committee)?),
    );
    Ok(call.with_cloned_provider())
}

/// Submits a certified header and waits for its receipt. Errors with the
/// contract's reason when the light client refuses it.
pub async fn post_checkpoint(
    provider: &L1Provider,
    light_client: Address,
    header: &CertifiedHeader,
    committee: &[ConsensusPublicKey],
    next_committee: &[ConsensusPublicKey],
) -> anyhow::Result<Posted> {
    let call = submit_call(provider, light_client, header, committee, next_committee)?;
    let pending = call.send().await.map_err(|e| {
        let reason = crate::contracts::revert_reason(&e).unwrap_or_default();
        anyhow::anyhow!("the light client refused the header {reason}: {e}")
    })?;
    let receipt = pending
        .get_receipt()
        .await
        .context("waiting for the submit receipt")?;
    if !receipt.status() {
        anyhow::bail!(
            "submit reverted in transaction {}",
            receipt.transaction_hash
        );
    }
    Ok(Posted {
        digest: B256::from(header.digest()),
        gas_used: receipt.gas_used,
    })
}
