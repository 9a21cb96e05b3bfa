//! The hasher of the sync's maps and sets of keys (service keys,
//! destination addresses): a few machine words each, which the standard
//! library's SipHash spends about a hundred instructions on. Here each
//! word costs an add and a multiply; the state starts from a seed drawn
//! from the standard library's random keys for every map, so where the
//! keys land is not known outside the process.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, Hasher};

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
    fn maps_have_their_own_seed() {
        let k = ServiceKey::tcp("10.0.0.1:80".parse().unwrap());
        let hs: std::collections::HashSet<u64> =
            (0..8).map(|_| hash(&WordHash::default(), &k)).collect();
        assert!(hs.len() > 1);
    }
}
