//! Hash maps for the hot path. Keys here (addresses, digests, state keys) are
//! short and hashed millions of times a second; std's SipHash showed up in
//! node profiles, so these use ahash, which is several times faster and, being
//! seeded at random per map, still resists keys chosen to collide.

/// A `HashMap` with the fast, randomly seeded hasher.
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// A `HashSet` with the fast, randomly seeded hasher.
pub type FastSet<K> = std::collections::HashSet<K, ahash::RandomState>;

/// An empty [`FastMap`] with room for `capacity` entries.
pub fn fast_map<K, V>(capacity: usize) -> FastMap<K, V> {
    FastMap::with_capacity_and_hasher(capacity, ahash::RandomState::new())
}
