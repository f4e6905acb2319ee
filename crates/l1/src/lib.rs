//! lakh's Ethereum side of the bridge.
//!
//! - [`contracts`]: bindings of `LakhLightClient` and `LakhBridge`
//!   (`contracts/`, compiled by solcjs in the build script) and [`deploy`].
//! - [`bls`]: consensus keys and finalization certificates converted to the
//!   uncompressed EIP-2537 form the light client reads.
//! - [`relay`]: [`relay::post_checkpoint`] submits a certified header.
//! - [`watcher`]: [`watcher::L1Watcher`], the validator's view of finalized
//!   L1 deposits ([`lakh_types::modules::bridge::L1View`]).
//! - [`anvil`]: a local anvil (npm `@foundry-rs/anvil`) for tests and devnets.

pub mod anvil;
pub mod bls;
pub mod contracts;
pub mod relay;
pub mod watcher;

pub use contracts::{BridgeParams, Deployment, GenesisMember, deploy};

/// An HTTP provider with a local signer; every call here takes one.
pub type L1Provider = alloy::providers::DynProvider;

/// A provider for `url` that signs with the hex private key `key`.
pub fn provider(url: &str, key: &str) -> anyhow::Result<L1Provider> {
    use alloy::providers::{Provider, ProviderBuilder};
    let signer: alloy::signers::local::PrivateKeySigner = key.parse()?;
    let client = alloy::rpc::client::RpcClient::builder().hyper_http(url.parse()?);
    // The nonce is read for every transaction: the default cache would keep
    // the nonce of a submission the node refused at estimation, and every
    // later transaction would wait behind that gap for good.
    Ok(ProviderBuilder::new()
        .disable_recommended_fillers()
        .with_gas_estimation()
        .with_simple_nonce_management()
        .fetch_chain_id()
        .wallet(signer)
        .connect_client(client)
        .erased())
}
