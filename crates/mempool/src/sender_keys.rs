//! A bounded cache of decompressed sender keys, shared by the verifier
//! threads. Decompressing the sender's key is most of a transaction's decode
//! (12.6% of the node's CPU in the 1,000,000-account profile,
//! docs/PERFORMANCE.md), and senders repeat: a key seen in a valid
//! transaction is kept so the next decode of that sender skips the point
//! math.
//!
//! Only keys of transactions whose signatures verified are admitted, so
//! filling the cache costs a sender a valid signature per key. The bound is
//! kept with two generations: admissions go to the young map; when it is
//! full it becomes the old one and the previous old map is dropped, and a
//! hit in the old map moves the key back to the young one. So at most
//! `capacity` keys are held, the last `capacity / 2` distinct keys used are
//! always among them, and keys not seen for two generations go, with O(1)
//! work per operation and no per-entry bookkeeping.
//! Lookups and admissions take the lock once per batch, not per transaction.

use bytes::Bytes;
use lakh_types::map::FastMap;
use lakh_types::{PublicKey, Refusal, SignedTransaction};
use std::sync::Mutex;

/// Default bound on cached keys: full, it cost 181 MiB of peak RSS at
/// 1,000,000 uniform senders, where a million keys cost 660 MiB and gained
/// nothing (docs/PERFORMANCE.md). `LAKH_SENDER_KEYS` overrides it, and 0
/// turns the cache off.
pub const DEFAULT_SENDER_KEYS: usize = 1 << 18;

type KeyBytes = [u8; 32];

/// See the module documentation.
pub struct SenderKeys {
    generation_len: usize,
    maps: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    young: FastMap<KeyBytes, PublicKey>,
    old: FastMap<KeyBytes, PublicKey>,
}

/// A chunk decoded through the cache: each transaction, and whether its
/// sender's key had to be decompressed (a miss).
pub struct Decoded {
    pub txs: Vec<Result<SignedTransaction, Refusal>>,
    pub missed: Vec<bool>,
}

impl SenderKeys {
    /// A cache of at most `capacity` keys (0: nothing is ever cached).
    pub fn new(capacity: usize) -> Self {
        SenderKeys {
            generation_len: capacity / 2,
            maps: Mutex::new(Generations::default()),
        }
    }

    /// Keys held now (young and old).
    pub fn len(&self) -> usize {
        self.maps
            .lock()
            .map_or(0, |maps| maps.young.len() + maps.old.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decodes `raw`, taking each sender's key from the cache when it is
    /// there. The outcome of every decode is exactly
    /// [`SignedTransaction::decode`]'s.
    pub fn decode(&self, raw: Vec<Bytes>) -> Decoded {
        let known = self.lookup(raw.iter().map(|r| SignedTransaction::sender_bytes(r)));
        let missed = known.iter().map(Option::is_none).collect();
        let txs = raw
            .into_iter()
            .zip(known)
            .map(|(raw, key)| SignedTransaction::decode_known(raw, key))
            .collect();
        Decoded { txs, missed }
    }

    /// Admits `keys` (senders of transactions that verified).
    pub fn admit<'a>(&self, keys: impl IntoIterator<Item = &'a PublicKey>) {
        if self.generation_len == 0 {
            return;
        }
        let mut retired = Vec::new();
        if let Ok(mut maps) = self.maps.lock() {
            for key in keys {
                if let Some(old) = maps.insert(key, self.generation_len) {
                    retired.push(old);
                }
            }
        }
        // Freeing half a million entries is not done under the lock.
        drop(retired);
    }

    fn lookup(&self, keys: impl Iterator<Item = Option<KeyBytes>>) -> Vec<Option<PublicKey>> {
        let Ok(mut maps) = self.maps.lock() else {
            return keys.map(|_| None).collect();
        };
        keys.map(|key| key.and_then(|key| maps.get(&key))).collect()
    }
}

impl Generations {
    fn get(&mut self, key: &KeyBytes) -> Option<PublicKey> {
        if let Some(found) = self.young.get(key) {
            return Some(found.clone());
        }
        let found = self.old.remove(key)?;
        self.young.insert(*key, found.clone());
        Some(found)
    }

    /// Inserts `key` into the young map; returns the retired old map when
    /// the young one filled and took its place.
    fn insert(
        &mut self,
        key: &PublicKey,
        generation_len: usize,
    ) -> Option<FastMap<KeyBytes, PublicKey>> {
        let bytes: KeyBytes = key.as_ref().try_into().ok()?;
        self.young.insert(bytes, key.clone());
        if self.young.len() < generation_len {
            return None;
        }
        let young = std::mem::take(&mut self.young);
        Some(std::mem::replace(&mut self.old, young))
    }
}

/// The cache bound from `LAKH_SENDER_KEYS`, else [`DEFAULT_SENDER_KEYS`].
pub fn sender_keys_from_env() -> usize {
    std::env::var("LAKH_SENDER_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_SENDER_KEYS)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::verify::tests::{CHAIN, transfer};
    use commonware_cryptography::Signer;
    use lakh_types::PrivateKey;

    fn raw_of(seeds: impl IntoIterator<Item = u64>) -> Vec<Bytes> {
        seeds
            .into_iter()
            .map(|s| transfer(s, 0).raw().clone())
            .collect()
    }

    #[test]
    fn an_admitted_sender_is_a_hit_and_decodes_the_same() {
        let keys = SenderKeys::new(16);
        let first = keys.decode(raw_of([1, 2]));
        assert_eq!(first.missed, [true, true]);
        let senders: Vec<_> = first
            .txs
            .iter()
            .map(|t| t.as_ref().unwrap().tx.sender.clone())
            .collect();
        keys.admit(&senders[..1]);
        let again = keys.decode(raw_of([1, 2]));
        assert_eq!(again.missed, [false, true]);
        for (a, b) in first.txs.iter().zip(&again.txs) {
            assert_eq!(a.as_ref().unwrap().tx, b.as_ref().unwrap().tx);
        }
        assert_eq!(again.txs[0].as_ref().unwrap().tx.chain_id, CHAIN);
    }

    #[test]
    fn the_bound_holds_and_a_key_in_use_survives_generations() {
        let keys = SenderKeys::new(8);
        let hot = PrivateKey::from_seed(0).public_key();
        for seed in 1..100u64 {
            keys.admit([&PrivateKey::from_seed(seed).public_key()]);
            // The hot sender is seen every few admissions.
            if seed % 3 == 0 && keys.decode(raw_of([0])).missed[0] {
                keys.admit([&hot]);
            }
            assert!(keys.len() <= 8, "{} keys held", keys.len());
        }
        assert!(!keys.decode(raw_of([0])).missed[0]);
        // A key last seen long ago is gone.
        assert!(keys.decode(raw_of([1])).missed[0]);
    }

    #[test]
    fn a_zero_capacity_cache_holds_nothing() {
        let keys = SenderKeys::new(0);
        keys.admit([&PrivateKey::from_seed(1).public_key()]);
        assert!(keys.is_empty());
        assert_eq!(keys.decode(raw_of([1])).missed, [true]);
    }

    #[test]
    fn input_too_short_for_a_key_is_refused_as_decode_refuses_it() {
        let keys = SenderKeys::new(4);
        let short = Bytes::from_static(&[0u8; 20]);
        let out = keys.decode(vec![short.clone()]);
        assert_eq!(
            format!("{:?}", out.txs[0]),
            format!("{:?}", SignedTransaction::decode(short))
        );
    }
}
