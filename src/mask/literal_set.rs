//! Finding every occurrence of a set of short literals (pattern prefixes, keywords) fast.
//!
//! Each group of up to 64 literals of similar length goes to a Teddy SIMD searcher
//! (`aho_corasick::packed`), which scans at several GB/s while matches are rare; longer literals
//! and shorter ones are kept apart because Teddy's fingerprint is only as long as the shortest
//! literal it holds. At each hit every literal of that group that starts there is reported, so
//! overlapping occurrences (`sk-` and `sk-proj-`) are all seen.

use std::ops::Range;

use aho_corasick::packed::{Config, MatchKind};
use aho_corasick::{AhoCorasick, Span};

enum Finder {
    Packed(aho_corasick::packed::Searcher),
    Automaton(AhoCorasick),
}

struct Group {
    finder: Finder,
    /// (literal, id), for checking which literals start at a hit.
    literals: Vec<(Vec<u8>, u32)>,
}

pub struct LiteralSet {
    groups: Vec<Group>,
}

impl LiteralSet {
    /// `literals` are (bytes, id) pairs; every literal is at least 2 bytes.
    pub fn new(mut literals: Vec<(Vec<u8>, u32)>) -> LiteralSet {
        literals.sort_by(|a, b| a.0.len().cmp(&b.0.len()).then_with(|| a.0.cmp(&b.0)));
        literals.dedup();
        let (short, long): (Vec<_>, Vec<_>) = literals.into_iter().partition(|(l, _)| l.len() < 3);
        let mut groups = Vec::new();
        for class in [short, long] {
            for chunk in class.chunks(64) {
                let bytes: Vec<&[u8]> = chunk.iter().map(|(l, _)| l.as_slice()).collect();
                let finder = Config::new()
                    .match_kind(MatchKind::LeftmostFirst)
                    .builder()
                    .extend(&bytes)
                    .build()
                    .map(Finder::Packed)
                    .unwrap_or_else(|| Finder::Automaton(AhoCorasick::new(&bytes).expect("literal automaton builds")));
                groups.push(Group { finder, literals: chunk.to_vec() });
            }
        }
        LiteralSet { groups }
    }

    /// Calls `f(start, id)` for every occurrence of every literal starting in `range`.
    pub fn for_each(&self, hay: &[u8], range: Range<usize>, mut f: impl FnMut(usize, u32)) {
        let end = range.end.min(hay.len());
        for group in &self.groups {
            let mut at = range.start;
            while at < end {
                // Let a literal starting before `end` run past it.
                let span = Span::from(at..hay.len());
                let found = match &group.finder {
                    Finder::Packed(s) => s.find_in(hay, span).map(|m| m.start()),
                    Finder::Automaton(ac) => ac.find(aho_corasick::Input::new(hay).span(span)).map(|m| m.start()),
                };
                let Some(start) = found.filter(|&s| s < end) else { break };
                for (lit, id) in &group.literals {
                    if hay[start..].starts_with(lit) {
                        f(start, *id);
                    }
                }
                at = start + 1;
            }
        }
    }
}

/// A keyword in the forms it is written in: lower, upper and capitalized case.
pub fn case_variants(keyword: &[u8]) -> Vec<Vec<u8>> {
    let lower = keyword.to_ascii_lowercase();
    let upper = keyword.to_ascii_uppercase();
    let mut capital = lower.clone();
    if let Some(c) = capital.first_mut() {
        c.make_ascii_uppercase();
    }
    let mut v = vec![lower, upper, capital];
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_occurrence_including_overlaps() {
        let set = LiteralSet::new(vec![(b"sk-".to_vec(), 0), (b"sk-proj-".to_vec(), 1), (b"AC".to_vec(), 2)]);
        let hay = b"x sk-proj-abc ACAC sk-";
        let mut found = Vec::new();
        set.for_each(hay, 0..hay.len(), |s, id| found.push((s, id)));
        found.sort();
        assert_eq!(found, [(2, 0), (2, 1), (14, 2), (16, 2), (19, 0)]);
        let mut found = Vec::new();
        set.for_each(hay, 3..15, |s, id| found.push((s, id)));
        assert_eq!(found, [(14, 2)]);
    }
}
