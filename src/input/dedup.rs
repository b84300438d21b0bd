//! Remembers which names a scan has seen, in memory that grows with the distinct names only.
//!
//! Each name is kept as a 64-bit SipHash fingerprint with the line it first appeared on: a
//! hash-table bucket of 17 bytes. hashbrown keeps at most 7/8 of its buckets full and doubles
//! when it must grow, so a steady table costs 19 to 39 bytes per distinct name, and up to 58
//! while it is being copied into a larger one. Two different names share a fingerprint with
//! probability about n²/2⁶⁵ (3 in a million for 10 million names). The later one would then be
//! reported as a duplicate.

use std::collections::HashMap;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher, RandomState};

/// Result of checking a name against the names seen before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// First time this name appears.
    First,
    /// The name appeared before, on this input line.
    Duplicate { first_line: u64 },
    /// The table is full, so the name was not remembered and cannot be checked.
    Untracked,
}

pub struct Deduplicator {
    keys: RandomState,
    first_lines: HashMap<u64, u64, BuildHasherDefault<PassThroughHasher>>,
    capacity: usize,
}

impl Deduplicator {
    /// Creates a de-duplicator that remembers at most `capacity` distinct names.
    pub fn new(capacity: usize) -> Self {
        Self {
            keys: RandomState::new(),
            first_lines: HashMap::default(),
            capacity,
        }
    }

    pub fn check(&mut self, name: &str, line: u64) -> Seen {
        let fingerprint = self.keys.hash_one(name);
        if let Some(first_line) = self.first_lines.get(&fingerprint) {
            return Seen::Duplicate {
                first_line: *first_line,
            };
        }
        if self.first_lines.len() >= self.capacity {
            return Seen::Untracked;
        }
        self.first_lines.insert(fingerprint, line);
        Seen::First
    }

    pub fn len(&self) -> usize {
        self.first_lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.first_lines.is_empty()
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
            Seen::Duplicate { first_line: 1 }
        );
        assert_eq!(seen.len(), 2);
    }

    #[test]
    fn stops_remembering_at_capacity() {
        let mut seen = Deduplicator::new(1);
        assert_eq!(seen.check("a.com", 1), Seen::First);
        assert_eq!(seen.check("b.com", 2), Seen::Untracked);
        assert_eq!(seen.check("b.com", 3), Seen::Untracked);
        assert_eq!(seen.check("a.com", 4), Seen::Duplicate { first_line: 1 });
    }
}
