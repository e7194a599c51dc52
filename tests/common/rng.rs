//! A small deterministic generator (xorshift64), so test and benchmark runs are reproducible
//! from their seed.
#![allow(dead_code)]

pub(crate) struct Rng(pub u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
