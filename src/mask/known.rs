//! Finding known values (every form of every version of every stored secret) in one pass.
//!
//! Long literals (≥ [`LONG`] bytes) go through a q-gram skip filter: every [`STEP`]th position's
//! [`GRAM`]-byte gram is looked up in a bitset of the literals' grams, and only a hit is
//! verified, against a sorted table of (gram, literal, offset). Any literal of [`LONG`] bytes or
//! more covers at least one checked position, so none is missed, and text is skipped at a
//! fraction of a lookup per byte. Short literals go into a small Aho-Corasick automaton.
//!
//! The literals are secrets: everything derived from them here is wiped when the engine is
//! dropped. The heap-leak test (`tests/heap.rs`) checks that the Aho-Corasick automaton frees no
//! contiguous copy of a short literal either (it keeps them as transitions).

use aho_corasick::{AhoCorasick, MatchKind};
use zeroize::{Zeroize, Zeroizing};

use super::Span;

/// Long literals: at least this long, checked through the q-gram filter.
pub(super) const LONG: usize = 16;
pub(super) const GRAM: usize = 8;
pub(super) const STEP: usize = LONG - GRAM + 1;

pub(super) struct Known {
    /// Long literals and their labels.
    long: Vec<(Box<[u8]>, u32)>,
    /// Bitset over hashed grams of the long literals.
    bits: Vec<u64>,
    bits_shift: u32,
    /// (gram hash, literal, offset), sorted by hash: the exact check behind a bitset hit.
    grams: Vec<(u64, u32, u32)>,
    short: Option<(AhoCorasick, Vec<u32>)>,
    /// The short literals themselves, for the reference masker.
    short_list: Vec<(Box<[u8]>, u32)>,
}

pub(super) fn gram_hash(bytes: &[u8]) -> u64 {
    let x = u64::from_le_bytes(bytes[..GRAM].try_into().expect("8 bytes"));
    x.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (x >> 29)
}

impl Known {
    /// `literals`: (bytes, label), each once. The bytes are copied into boxes of their exact
    /// size, wiped when the engine is dropped; the buffers they came in are wiped as they drop.
    pub(super) fn new(literals: Vec<(Zeroizing<Vec<u8>>, u32)>) -> Known {
        let (long, short): (Vec<_>, Vec<_>) =
            literals.into_iter().map(|(b, l)| (Box::<[u8]>::from(&b[..]), l)).partition(|(b, _)| b.len() >= LONG);

        // Checked positions are STEP apart, so an occurrence of a literal always has a checked
        // position within its first STEP bytes: only the grams at offsets 0..STEP need to be
        // known. About 64 bits per gram keeps false hits near 1.5% with a bitset small enough to
        // stay in cache.
        let gram_count = long.len() * STEP;
        let bits_log2 = (gram_count.max(1) * 64).next_power_of_two().trailing_zeros().clamp(12, 26);
        let mut bits = vec![0u64; 1 << (bits_log2 - 6)];
        let bits_shift = 64 - bits_log2;
        let mut grams = Vec::with_capacity(gram_count);
        for (i, (lit, _)) in long.iter().enumerate() {
            for off in 0..STEP {
                let h = gram_hash(&lit[off..]);
                let bit = (h >> bits_shift) as usize;
                bits[bit >> 6] |= 1 << (bit & 63);
                grams.push((h, i as u32, off as u32));
            }
        }
        grams.sort_unstable();

        let automaton = (!short.is_empty()).then(|| {
            let ac = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(short.iter().map(|(b, _)| b))
                .expect("literal automaton builds");
            (ac, short.iter().map(|(_, l)| *l).collect())
        });
        Known { long, bits, bits_shift, grams, short: automaton, short_list: short }
    }

    /// The longest literal: a match may reach this far past its start.
    pub(super) fn max_len(&self) -> usize {
        self.long.iter().map(|(l, _)| l.len()).chain(self.short.as_ref().map(|_| LONG)).max().unwrap_or(0)
    }

    /// Every literal and its label.
    pub(super) fn all(&self) -> impl Iterator<Item = (&[u8], u32)> {
        self.long.iter().chain(&self.short_list).map(|(b, l)| (&b[..], *l))
    }

    /// Every occurrence in `hay[from..]` that starts before `until`.
    pub(super) fn find(&self, hay: &[u8], from: usize, until: usize, out: &mut Vec<Span>) {
        self.find_long(hay, from, until, out);
        if let Some((ac, labels)) = &self.short {
            for m in ac.find_overlapping_iter(aho_corasick::Input::new(hay).span(from..hay.len())) {
                if m.start() < until {
                    out.push(Span {
                        start: m.start(),
                        end: m.end(),
                        label: labels[m.pattern().as_usize()],
                        prefix_len: 0,
                    });
                }
            }
        }
    }

    fn find_long(&self, hay: &[u8], from: usize, until: usize, out: &mut Vec<Span>) {
        if self.long.is_empty() {
            return;
        }
        // A literal starting before `until` may have its only checked gram after it.
        let last = until.saturating_add(self.max_len());
        let mut p = from;
        while p < last && p + GRAM <= hay.len() {
            let h = gram_hash(&hay[p..]);
            if self.gram_may_match(h) {
                self.verify_gram(hay, p, h, from, until, out);
            }
            p += STEP;
        }
    }

    /// Whether the q-gram filter lets the gram hashed `h` through: a long literal may hold it.
    pub(super) fn gram_may_match(&self, h: u64) -> bool {
        let bit = (h >> self.bits_shift) as usize;
        self.bits[bit >> 6] & (1 << (bit & 63)) != 0
    }

    #[cold]
    fn verify_gram(&self, hay: &[u8], p: usize, h: u64, from: usize, until: usize, out: &mut Vec<Span>) {
        let first = self.grams.partition_point(|g| g.0 < h);
        for &(gh, lit, off) in &self.grams[first..] {
            if gh != h {
                break;
            }
            let (bytes, label) = &self.long[lit as usize];
            let Some(start) = p.checked_sub(off as usize) else { continue };
            let end = start + bytes.len();
            if start >= from && start < until && end <= hay.len() && hay[start..end] == bytes[..] {
                out.push(Span { start, end, label: *label, prefix_len: 0 });
            }
        }
    }
}

impl Drop for Known {
    fn drop(&mut self) {
        for (bytes, _) in self.long.iter_mut().chain(&mut self.short_list) {
            bytes.zeroize();
        }
        // The grams are invertible hashes of 8-byte pieces of the values; the bitset is lossy,
        // but cheap to wipe too.
        for g in &mut self.grams {
            g.0.zeroize();
        }
        self.bits.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{Engine, KnownValue, Options};

    /// The q-gram filter is what keeps a thousand known values cheap: unrelated text must rarely
    /// get past it to the exact comparison (about 1% with these sizes), and every gram a value
    /// can be found by must get past it.
    #[test]
    fn the_literal_filter_lets_little_unrelated_text_through() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random_text = |len: usize| -> String {
            const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
            (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ALPHABET[(state >> 58) as usize] as char
                })
                .collect()
        };
        let values: Vec<String> = (0..1000).map(|_| random_text(32)).collect();
        let known: Vec<KnownValue<'_>> =
            values.iter().map(|v| KnownValue { name: "v", value: v, public_prefix: None }).collect();
        let engine = Engine::build(&known, None, Options::default());
        let known = engine.known();
        for v in &values {
            for off in 0..STEP {
                assert!(known.gram_may_match(gram_hash(&v.as_bytes()[off..])), "{v} at {off}");
            }
        }
        let text = random_text(1 << 18);
        let positions = text.len() - GRAM;
        let through = (0..positions).filter(|&p| known.gram_may_match(gram_hash(&text.as_bytes()[p..]))).count();
        assert!(through * 100 < positions * 3, "{through} of {positions} positions got through");
    }
}
