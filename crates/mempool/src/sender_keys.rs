//! A bounded cache of decompressed sender keys, shared by the verifier
//! threads, for machines that verify with commonware's batch verifier (no
//! AVX-512 IFMA, or `LAKH_SIGVERIFY=commonware`). That verifier takes keys
//! as points, and decompressing one costs about a third of a signature
//! check; senders repeat, so a key seen in a valid transaction is kept and
//! the next batch of that sender skips the point math. The IFMA lanes
//! decompress every key inside the batch and never ask.
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

use lakh_types::map::FastMap;
use lakh_types::tx::SenderKeySource;
use lakh_types::{PublicKey, SignedTransaction};
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

    fn lookup<'a>(&self, keys: impl Iterator<Item = &'a KeyBytes>) -> Vec<Option<PublicKey>> {
        let Ok(mut maps) = self.maps.lock() else {
            return keys.map(|_| None).collect();
        };
        keys.map(|key| maps.get(key)).collect()
    }
}

impl SenderKeySource for SenderKeys {
    /// Cached keys, and the others decompressed.
    fn public_keys(&self, txs: &[SignedTransaction]) -> Vec<Option<PublicKey>> {
        let cached = self.lookup(txs.iter().map(|t| t.tx.sender.as_bytes()));
        cached
            .into_iter()
            .zip(txs)
            .map(|(key, t)| key.or_else(|| t.tx.sender.public_key()))
            .collect()
    }

    fn verified<'a>(&self, keys: impl Iterator<Item = &'a PublicKey>) {
        self.admit(keys);
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
    /// the young one filled and took its place. A key the young map holds
    /// already (a hit of this batch) costs one lookup and no copy.
    fn insert(
        &mut self,
        key: &PublicKey,
        generation_len: usize,
    ) -> Option<FastMap<KeyBytes, PublicKey>> {
        let bytes: KeyBytes = key.as_ref().try_into().ok()?;
        if self.young.contains_key(&bytes) {
            return None;
        }
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
    use crate::verify::tests::transfer;
    use commonware_cryptography::Signer;
    use lakh_types::{Address, PrivateKey};

    fn txs_of(seeds: impl IntoIterator<Item = u64>) -> Vec<SignedTransaction> {
        seeds.into_iter().map(|s| transfer(s, 0)).collect()
    }

    fn key(seed: u64) -> PublicKey {
        PrivateKey::from_seed(seed).public_key()
    }

    /// Whether `key` is held, without counting as a use.
    fn holds(cache: &SenderKeys, key: &PublicKey) -> bool {
        let maps = cache.maps.lock().unwrap();
        let bytes: KeyBytes = key.as_ref().try_into().unwrap();
        maps.young.contains_key(&bytes) || maps.old.contains_key(&bytes)
    }

    #[test]
    fn cached_and_decompressed_keys_are_the_same_points() {
        let cache = SenderKeys::new(16);
        let txs = txs_of([1, 2]);
        let first = cache.public_keys(&txs);
        assert_eq!(first, vec![Some(key(1)), Some(key(2))]);
        assert!(cache.is_empty(), "looking up admits nothing");
        cache.verified(first[..1].iter().flatten());
        assert!(holds(&cache, &key(1)) && !holds(&cache, &key(2)));
        assert_eq!(cache.public_keys(&txs), first);
    }

    #[test]
    fn a_sender_that_is_not_a_point_has_no_key() {
        let cache = SenderKeys::new(16);
        let mut tx = transfer(1, 0);
        // y = 2 is not the y of any point on the curve.
        let mut bytes = [0u8; 32];
        bytes[0] = 2;
        tx.tx.sender = Address(bytes);
        assert!(tx.tx.sender.public_key().is_none());
        assert_eq!(cache.public_keys(&[tx]), vec![None]);
    }

    #[test]
    fn the_bound_holds_and_a_key_in_use_survives_generations() {
        let cache = SenderKeys::new(8);
        for seed in 1..100u64 {
            cache.admit([&key(seed)]);
            // The hot sender is used every few admissions.
            if seed % 3 == 0 {
                let found = cache.public_keys(&txs_of([0]));
                cache.verified(found.iter().flatten());
            }
            assert!(cache.len() <= 8, "{} keys held", cache.len());
        }
        assert!(holds(&cache, &key(0)));
        // A key last seen long ago is gone.
        assert!(!holds(&cache, &key(1)));
    }

    #[test]
    fn a_zero_capacity_cache_holds_nothing() {
        let cache = SenderKeys::new(0);
        cache.admit([&key(1)]);
        assert!(cache.is_empty());
        assert_eq!(cache.public_keys(&txs_of([1])), vec![Some(key(1))]);
    }
}
