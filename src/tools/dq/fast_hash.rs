//! A fast 64-bit hash for the dq tools' in-memory tables (value counts, row fingerprints):
//! std's `SipHash` resists hash flooding, which costs a third of a pass over a big CSV and buys
//! nothing here (the tables live for one call; their order never reaches a result). Each
//! 8-byte word is folded into the state by a 64×64→128-bit multiply (as wyhash and foldhash
//! do), so every input bit reaches every output bit.
//!
//! The `HyperLogLog` estimate keeps std's `DefaultHasher`: its figure is part of a profile, and
//! the same data must keep giving the same estimate.

use std::hash::{BuildHasherDefault, Hasher};

/// The golden ratio's fraction and another odd constant from wyhash.
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;
const SEED: u64 = 0xA076_1D64_78BD_642F;

#[derive(Clone, Copy, Debug)]
pub(super) struct FastHasher(u64);

impl Default for FastHasher {
    fn default() -> Self {
        FastHasher(SEED)
    }
}

/// What a std `HashMap` or `HashSet` takes to hash with [`FastHasher`].
pub(super) type FastBuild = BuildHasherDefault<FastHasher>;

/// The 128-bit product's halves, xored.
#[allow(clippy::cast_possible_truncation)] // the halves are taken on purpose
pub(super) fn fold(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

impl Hasher for FastHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut state = self.0;
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word = u64::from_le_bytes(word.try_into().expect("chunks of 8 bytes"));
            state = fold(state ^ word, MULTIPLIER);
        }
        // The last 0 to 7 bytes, with their count in the top byte: inputs that differ only
        // in trailing zero bytes hash differently.
        let rest = words.remainder();
        let mut tail = [0u8; 8];
        tail[..rest.len()].copy_from_slice(rest);
        tail[7] = u8::try_from(rest.len()).expect("fewer than 8 bytes");
        self.0 = fold(state ^ u64::from_le_bytes(tail), MULTIPLIER);
    }

    fn write_u8(&mut self, value: u8) {
        self.write_u64(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = fold(self.0 ^ value, MULTIPLIER);
    }

    fn write_usize(&mut self, value: usize) {
        self.write_u64(value as u64);
    }

    fn finish(&self) -> u64 {
        fold(self.0 ^ SEED, MULTIPLIER ^ SEED)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::hash::{Hash, Hasher};

    use super::FastHasher;

    fn hash(value: impl Hash) -> u64 {
        let mut hasher = FastHasher::default();
        value.hash(&mut hasher);
        hasher.finish()
    }

    #[test]
    fn near_identical_inputs_hash_apart() {
        let mut seen = HashSet::new();
        for index in 0..200_000u32 {
            assert!(seen.insert(hash(format!("row-{index}"))), "{index}");
        }
        assert_ne!(hash(""), hash("\0"));
        assert_ne!(hash("abcdefgh"), hash("abcdefgh\0"));
        assert_ne!(hash(("ab", "c")), hash(("a", "bc")));
    }
}
