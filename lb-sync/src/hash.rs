//! The hasher of the sync's maps and sets of keys (service keys,
//! destination addresses): a few machine words each, which the standard
//! library's SipHash spends about a hundred instructions on. Here each
//! word costs an add and a multiply; the state starts from a seed drawn
//! from the standard library's random keys for every map, so where the
//! keys land is not known outside the process.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hash, Hasher};

/// An odd constant with well spread bits (the multiplier of FxHash 2).
const K: u64 = 0xf135_7aea_2e62_a9c5;

/// Builds [`WordHasher`]s from one random seed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WordHash {
    seed: u64,
}

impl Default for WordHash {
    fn default() -> Self {
        WordHash {
            seed: RandomState::new().hash_one(K),
        }
    }
}

impl BuildHasher for WordHash {
    type Hasher = WordHasher;
    fn build_hasher(&self) -> WordHasher {
        WordHasher(self.seed)
    }
}

/// Folds each written word into the state by an add and a multiply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WordHasher(u64);

impl WordHasher {
    #[inline]
    fn word(&mut self, w: u64) {
        self.0 = self.0.wrapping_add(w).wrapping_mul(K);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0; 8];
            w.copy_from_slice(c);
            self.word(u64::from_ne_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0; 8];
            if let Some(w) = w.get_mut(..rest.len()) {
                w.copy_from_slice(rest);
            }
            // the length keeps "ab" + "" apart from "a" + "b"
            self.word(u64::from_ne_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    fn write_u8(&mut self, i: u8) {
        self.word(u64::from(i));
    }
    fn write_u16(&mut self, i: u16) {
        self.word(u64::from(i));
    }
    fn write_u32(&mut self, i: u32) {
        self.word(u64::from(i));
    }
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }
    fn write_u128(&mut self, i: u128) {
        self.word(i as u64);
        self.word((i >> 64) as u64);
    }
    fn write_usize(&mut self, i: usize) {
        self.word(i as u64);
    }
    fn finish(&self) -> u64 {
        // the multiply leaves the low bits, which pick the bucket, the
        // weakest: bring the well mixed high bits down
        self.0.rotate_left(26)
    }
}

/// A map hashed by [`WordHash`].
pub(crate) type WordMap<K, V> = HashMap<K, V, WordHash>;
/// A set hashed by [`WordHash`].
pub(crate) type WordSet<K> = HashSet<K, WordHash>;

/// An empty [`WordSet`] with room for `n` keys.
pub(crate) fn word_set<K>(n: usize) -> WordSet<K> {
    HashSet::with_capacity_and_hasher(n, WordHash::default())
}

/// A set of the items of one slice, each stored as its index (4 bytes)
/// and compared by a key read from the slice: what a duplicate check of a
/// long list needs, in about a third of the memory of a [`WordSet`] of
/// references to the keys (8 bytes and a control byte each, at a lower
/// load). Open addressing, linear probing, sized so that the items it
/// was made for fill at most 7/8 of it.
pub(crate) struct IndexSet {
    /// Per slot: 0 when empty, else the item's index plus one.
    slots: Vec<u32>,
    mask: usize,
    hash: WordHash,
}

impl IndexSet {
    /// An empty set with room for `n` items; `None` when `n` indices do
    /// not fit in 32 bits.
    pub(crate) fn with_capacity(n: usize) -> Option<IndexSet> {
        u32::try_from(n).ok().filter(|&n| n < u32::MAX)?;
        let slots = (n.saturating_mul(8) / 7 + 1).next_power_of_two().max(8);
        Some(IndexSet {
            // zero marks an empty slot, so the allocator's zeroed memory
            // is an empty set as it comes
            slots: vec![0; slots],
            mask: slots - 1,
            hash: WordHash::default(),
        })
    }

    /// Adds item `i`, whose key is `key`; `key_of` gives the key of an
    /// item added before. False when an item with an equal key is in the
    /// set already, or when the set is full (it was made for fewer items).
    pub(crate) fn insert<'k, K, F>(&mut self, i: usize, key: &K, key_of: F) -> bool
    where
        K: Hash + Eq + 'k,
        F: Fn(usize) -> Option<&'k K>,
    {
        let Some(stored) = u32::try_from(i).ok().and_then(|i| i.checked_add(1)) else {
            return false;
        };
        let mut at = self.hash.hash_one(key) as usize & self.mask;
        // an empty slot ends a probe; the bound ends one in a full table
        for _ in 0..self.slots.len() {
            match self.slots.get_mut(at) {
                Some(slot) if *slot == 0 => {
                    *slot = stored;
                    return true;
                }
                Some(slot) => {
                    let j = (*slot - 1) as usize;
                    if key_of(j) == Some(key) {
                        return false;
                    }
                }
                None => return false,
            }
            at = (at + 1) & self.mask;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ipvs_nl::ServiceKey;
    use std::hash::Hash;

    fn hash<T: Hash>(b: &WordHash, t: &T) -> u64 {
        b.hash_one(t)
    }

    #[test]
    fn equal_keys_hash_alike_and_neighbours_apart() {
        let b = WordHash::default();
        let k = |s: &str| ServiceKey::tcp(s.parse().unwrap());
        assert_eq!(hash(&b, &k("10.0.0.1:80")), hash(&b, &k("10.0.0.1:80")));
        // 10,000 neighbouring keys: every hash distinct, and the low bits
        // (the bucket of a map of 16,384) spread over most buckets
        let mut all = std::collections::HashSet::new();
        let mut buckets = std::collections::HashSet::new();
        for i in 0..10_000u32 {
            let ip = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            let h = hash(&b, &ServiceKey::tcp((ip, 80).into()));
            all.insert(h);
            buckets.insert(h & 0x3fff);
        }
        assert_eq!(all.len(), 10_000);
        assert!(buckets.len() > 7_000, "{} buckets of 16,384", buckets.len());
    }

    #[test]
    fn bytes_of_every_length_count() {
        let b = WordHash::default();
        let mut seen = std::collections::HashSet::new();
        for n in 0..20 {
            let mut h = b.build_hasher();
            h.write(&vec![0; n]);
            assert!(seen.insert(h.finish()), "{n} zero bytes hash like fewer");
        }
    }

    #[test]
    fn an_index_set_finds_every_repeat() {
        let keys: Vec<ServiceKey> = (0..5_000u32)
            .map(|i| {
                ServiceKey::tcp((std::net::Ipv4Addr::from(0x0a00_0000 + i % 3_000), 80).into())
            })
            .collect();
        let mut set = IndexSet::with_capacity(keys.len()).unwrap();
        let mut repeats = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            if !set.insert(i, k, |j| keys.get(j)) {
                repeats.push(i);
            }
        }
        // the last 2,000 repeat the first 2,000
        assert_eq!(repeats, (3_000..5_000).collect::<Vec<_>>());
        // 4 bytes a slot, at most 7/8 full
        assert_eq!(set.slots.len(), 8_192);
        assert!(IndexSet::with_capacity(0).is_some());
        // past the capacity asked: refused, not lost in a full table
        let mut small = IndexSet::with_capacity(1).unwrap();
        let few: Vec<u32> = (0..20).collect();
        let added = (0..few.len())
            .filter(|&i| small.insert(i, &few[i], |j| few.get(j)))
            .count();
        assert_eq!(added, small.slots.len());
    }

    #[test]
    fn maps_have_their_own_seed() {
        let k = ServiceKey::tcp("10.0.0.1:80".parse().unwrap());
        let hs: std::collections::HashSet<u64> =
            (0..8).map(|_| hash(&WordHash::default(), &k)).collect();
        assert!(hs.len() > 1);
    }
}
