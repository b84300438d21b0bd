//! Remembers which names a scan has seen, in memory that grows with the distinct names only.
//!
//! Each name is kept as a 64-bit SipHash fingerprint with the line it first appeared on, in a
//! hash-table bucket of 13 bytes (8 for the fingerprint, 4 for the line, 1 of hashbrown's
//! control data). hashbrown keeps at most 7/8 of its buckets full and doubles a table when it
//! must grow, so a table costs 15 to 30 bytes per name. The names are spread over 16 tables by
//! the fingerprint's top bits, and the tables fill at the same pace, so the whole costs 15 to
//! 30 bytes per distinct name as well. Only one table is copied at a time, so growing adds
//! about 1/16 of the whole instead of half of it. An outgrown table goes back to the system:
//! jemalloc, posture's allocator (`main.rs`), returns freed pages after a second.
//!
//! Two different names share a fingerprint with probability about n²/2⁶⁵ (3 in a million for
//! 10 million names). The later one would then be reported as a duplicate.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hash, Hasher, RandomState};

/// Result of checking a name against the names seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time this name appears.
    First,
    /// The name appeared before, on this input line (`None` past line 4,294,967,294).
    Duplicate { first_line: Option<u64> },
    /// The table is full, so the name was not remembered and cannot be checked.
    Untracked,
}

pub struct Deduplicator {
    keys: RandomState,
    shards: Vec<Shard>,
    len: usize,
    capacity: usize,
}

/// One of the 16 tables. The fingerprint is stored as two halves so that a bucket is 12
/// bytes with 4-byte alignment; a `(u64, u32)` bucket would be padded to 16.
type Shard = HashMap<Fingerprint, u32, BuildHasherDefault<PassThroughHasher>>;

#[derive(Clone, Copy, PartialEq, Eq)]
struct Fingerprint([u32; 2]);

impl Hash for Fingerprint {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(u64::from(self.0[0]) << 32 | u64::from(self.0[1]));
    }
}

/// Tables the names are spread over, by the top 4 bits of their fingerprint.
const SHARDS: usize = 16;

/// Line numbers that do not fit in 32 bits are stored as this value and reported as unknown.
const LINE_UNKNOWN: u32 = u32::MAX;

impl Deduplicator {
    /// Creates a de-duplicator that remembers at most `capacity` distinct names.
    pub fn new(capacity: usize) -> Self {
        Self {
            keys: RandomState::new(),
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            len: 0,
            capacity,
        }
    }

    pub fn check(&mut self, name: &str, line: u64) -> Seen {
        let hash = self.keys.hash_one(name);
        let shard = &mut self.shards[(hash >> 60) as usize];
        let fingerprint = Fingerprint([(hash >> 32) as u32, hash as u32]);
        if let Some(&first_line) = shard.get(&fingerprint) {
            return Seen::Duplicate {
                first_line: (first_line != LINE_UNKNOWN).then_some(u64::from(first_line)),
            };
        }
        if self.len >= self.capacity {
            return Seen::Untracked;
        }
        shard.insert(fingerprint, u32::try_from(line).unwrap_or(LINE_UNKNOWN));
        self.len += 1;
        Seen::First
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Uses a key that is already a SipHash fingerprint as its own hash.
#[derive(Default)]
struct PassThroughHasher(u64);

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_first_line_of_duplicate() {
        let mut seen = Deduplicator::new(10);
        assert_eq!(seen.check("example.com", 1), Seen::First);
        assert_eq!(seen.check("example.org", 2), Seen::First);
        assert_eq!(
            seen.check("example.com", 7),
            Seen::Duplicate {
                first_line: Some(1)
            }
        );
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn stops_remembering_at_capacity() {
        let mut seen = Deduplicator::new(1);
        assert_eq!(seen.check("a.com", 1), Seen::First);
        assert_eq!(seen.check("b.com", 2), Seen::Untracked);
        assert_eq!(seen.check("b.com", 3), Seen::Untracked);
        assert_eq!(
            seen.check("a.com", 4),
            Seen::Duplicate {
                first_line: Some(1)
            }
        );
    }

    #[test]
    fn bucket_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<(Fingerprint, u32)>(), 12);
    }

    #[test]
    fn lines_past_32_bits_are_reported_unknown() {
        let mut seen = Deduplicator::new(10);
        assert_eq!(seen.check("a.com", 5_000_000_000), Seen::First);
        assert_eq!(
            seen.check("a.com", 5_000_000_001),
            Seen::Duplicate { first_line: None }
        );
    }

    #[test]
    fn remembers_many_names_across_shards() {
        let mut seen = Deduplicator::new(usize::MAX);
        for number in 0..20_000u64 {
            assert_eq!(
                seen.check(&format!("n{number}.com"), number + 1),
                Seen::First
            );
        }
        assert_eq!(seen.len(), 20_000);
        assert!(seen.shards.iter().all(|shard| !shard.is_empty()));
        for number in (0..20_000u64).step_by(997) {
            assert_eq!(
                seen.check(&format!("n{number}.com"), 99_999),
                Seen::Duplicate {
                    first_line: Some(number + 1)
                }
            );
        }
    }
}
