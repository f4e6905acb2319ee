//! Signing many channel states at once, on every core.
//!
//! A payer signs a batch of consecutive states and a payee countersigns the
//! batch it received. One ed25519 signature is a fixed-base scalar
//! multiplication plus one field inversion to compress its `R`; signing a
//! batch here shares one inversion across the batch (Montgomery's trick)
//! and splits the batch over the node's threads. The signatures are the
//! RFC 8032 ones [`ChannelState::sign`] makes, byte for byte (ed25519 is
//! deterministic), which the tests check.

use commonware_codec::Write;
use commonware_parallel::{Rayon, Strategy};
use curve25519_dalek::constants::ED25519_BASEPOINT_TABLE;
use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use lakh_types::PrivateKey;
use lakh_types::modules::channel::{ChannelState, STATE_NAMESPACE, Sig64};
use lakh_types::modules::shielded::FixedBytes;
use sha2::{Digest, Sha512};
use std::num::NonZeroUsize;

/// Below this many states a batch is signed on the calling thread.
const MIN_STATES_PER_THREAD: NonZeroUsize = commonware_utils::NZUsize!(32);

/// A node's key, expanded once for signing states in batches.
pub struct StateSigner {
    /// The clamped secret scalar `a`.
    secret: Scalar,
    /// The second half of `SHA-512(seed)`, hashed into each nonce.
    prefix: [u8; 32],
    /// `A = [a]B`, compressed.
    public: [u8; 32],
    /// The namespace framing put before each state's bytes (the framing
    /// `commonware_cryptography` signs under a namespace).
    framing: Vec<u8>,
    strategy: Rayon,
}

impl Drop for StateSigner {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.secret.zeroize();
        self.prefix.zeroize();
    }
}

impl StateSigner {
    /// Expands `key`; batches are split over `threads` threads.
    pub fn new(key: &PrivateKey, threads: NonZeroUsize) -> anyhow::Result<StateSigner> {
        let mut seed = zeroize::Zeroizing::new([0u8; 32]);
        key.write(&mut &mut seed[..]);
        let mut h = zeroize::Zeroizing::new([0u8; 64]);
        h.copy_from_slice(&Sha512::digest(&seed[..]));
        let mut scalar_bytes = zeroize::Zeroizing::new([0u8; 32]);
        scalar_bytes.copy_from_slice(&h[..32]);
        scalar_bytes[0] &= 248;
        scalar_bytes[31] &= 127;
        scalar_bytes[31] |= 64;
        let secret = Scalar::from_bytes_mod_order(*scalar_bytes);
        let mut prefix = [0u8; 32];
        prefix.copy_from_slice(&h[32..]);
        let public = (&secret * ED25519_BASEPOINT_TABLE).compress().to_bytes();
        Ok(StateSigner {
            secret,
            prefix,
            public,
            framing: commonware_utils::union_unique(STATE_NAMESPACE, &[]),
            strategy: Rayon::new(threads)?,
        })
    }

    /// The threads' strategy, for verifying batches too.
    pub fn strategy(&self) -> &Rayon {
        &self.strategy
    }

    /// This node's signature on each of `states`, in order.
    pub fn sign(&self, states: &[&ChannelState]) -> Vec<Sig64> {
        self.strategy
            .run_batches(states.len(), MIN_STATES_PER_THREAD, 1, |batches| {
                batches.map_collect_vec(
                    |ranges| ranges.into_iter().map(|r| &states[r]).collect::<Vec<_>>(),
                    |chunk| self.sign_chunk(chunk),
                )
            })
            .into_iter()
            .flatten()
            .collect()
    }

    /// Signs `states` on this thread with one inversion for all their `R`s.
    fn sign_chunk(&self, states: &[&ChannelState]) -> Vec<Sig64> {
        let mut messages = Vec::with_capacity(states.len() * 192);
        let mut ends = Vec::with_capacity(states.len());
        for state in states {
            state.write(&mut messages);
            ends.push(messages.len());
        }
        let message = |i: usize| &messages[if i == 0 { 0 } else { ends[i - 1] }..ends[i]];
        let nonces: Vec<Scalar> = (0..states.len())
            .map(|i| {
                Scalar::from_hash(
                    Sha512::new()
                        .chain_update(self.prefix)
                        .chain_update(&self.framing)
                        .chain_update(message(i)),
                )
            })
            .collect();
        let points: Vec<EdwardsPoint> =
            nonces.iter().map(|r| r * ED25519_BASEPOINT_TABLE).collect();
        let compressed = EdwardsPoint::compress_batch_alloc(&points);
        nonces
            .iter()
            .zip(&compressed)
            .enumerate()
            .map(|(i, (r, big_r))| {
                let k = Scalar::from_hash(
                    Sha512::new()
                        .chain_update(big_r.as_bytes())
                        .chain_update(self.public)
                        .chain_update(&self.framing)
                        .chain_update(message(i)),
                );
                let s = r + k * self.secret;
                let mut sig = [0u8; 64];
                sig[..32].copy_from_slice(big_r.as_bytes());
                sig[32..].copy_from_slice(s.as_bytes());
                FixedBytes(sig)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use lakh_types::modules::channel::channel_id;

    fn states(key: &PrivateKey, n: u64) -> Vec<ChannelState> {
        use commonware_cryptography::Signer;
        let me = lakh_types::Address::from(&key.public_key());
        let id = channel_id(0, &[me, me], lakh_types::AssetId(1), 1, 9);
        (0..n)
            .map(|v| {
                let mut s = ChannelState::opening(id, 0, 1_000_000);
                s.version = v + 1;
                s.balances = [1_000_000 - u128::from(v), u128::from(v)];
                s
            })
            .collect()
    }

    #[test]
    fn batched_signatures_are_byte_for_byte_the_single_ones() {
        use commonware_math::algebra::Random;
        let key = PrivateKey::random(rand::rng());
        for threads in [1, 2] {
            let signer = StateSigner::new(&key, NonZeroUsize::new(threads).unwrap()).unwrap();
            for n in [0, 1, 2, 31, 200] {
                let all = states(&key, n);
                let refs: Vec<&ChannelState> = all.iter().collect();
                let batch = signer.sign(&refs);
                let single: Vec<Sig64> = all.iter().map(|s| s.sign(&key)).collect();
                assert_eq!(batch, single, "{n} states on {threads} threads");
            }
        }
    }
}
