//! Finding every occurrence of a set of short literals (pattern prefixes, keywords) fast.
//!
//! Each group of up to 64 literals goes to a Teddy SIMD searcher (`aho_corasick::packed`),
//! which scans at several GB/s while matches are rare. Every searcher is a pass over the text,
//! so the set searched is kept small: a literal with another one as its prefix is found through
//! that one (`sk-proj-` through `sk-`), and literals sharing a head of 3 bytes or more are
//! searched as that head (`tskey-api-` and `tskey-auth-` as `tskey-a`, `sk_live_` and
//! `sk_test_` as `sk_`). Teddy's fingerprint is as
//! long as the shortest literal it holds, and short literals match often, so literals of 1-2
//! bytes, of 3 bytes and longer ones go to separate searchers. At each hit every literal of
//! that group that starts there is reported, so overlapping occurrences are all seen.

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

/// Literals sharing a head this long are searched as the head.
const MERGE_HEAD: usize = 3;
/// Literals per searcher (Teddy's limit; more patterns per searcher measured slower).
const CHUNK: usize = 64;

pub(super) struct LiteralSet {
    groups: Vec<Group>,
}

impl LiteralSet {
    /// `literals` are (bytes, id) pairs; every literal is at least 2 bytes.
    pub(super) fn new(mut literals: Vec<(Vec<u8>, u32)>) -> LiteralSet {
        literals.sort();
        literals.dedup();
        let mut heads: Vec<Vec<u8>> = Vec::new();
        for (lit, _) in &literals {
            match heads.last_mut() {
                Some(head) if lit.starts_with(head) => {}
                Some(head) => {
                    let common = head.iter().zip(lit).take_while(|(a, b)| a == b).count();
                    if common >= MERGE_HEAD {
                        head.truncate(common);
                    } else {
                        heads.push(lit.clone());
                    }
                }
                None => heads.push(lit.clone()),
            }
        }
        let mut classes: [Vec<Vec<u8>>; 3] = Default::default();
        for h in heads {
            let class = match h.len() {
                0..=2 => 0,
                3 => 1,
                _ => 2,
            };
            classes[class].push(h);
        }
        let mut groups = Vec::new();
        for class in classes {
            for chunk in class.chunks(CHUNK) {
                let finder =
                    Config::new().match_kind(MatchKind::LeftmostFirst).builder().extend(chunk).build().map_or_else(
                        || Finder::Automaton(AhoCorasick::new(chunk).expect("literal automaton builds")),
                        Finder::Packed,
                    );
                let members =
                    literals.iter().filter(|(lit, _)| chunk.iter().any(|h| lit.starts_with(h))).cloned().collect();
                groups.push(Group { finder, literals: members });
            }
        }
        LiteralSet { groups }
    }

    /// How many literals each searcher stands for (benchmarks and tests).
    #[cfg(test)]
    pub(super) fn group_sizes(&self) -> Vec<usize> {
        self.groups.iter().map(|g| g.literals.len()).collect()
    }

    /// Calls `f(start, id)` for every occurrence of every literal starting in `range`.
    pub(super) fn for_each(&self, hay: &[u8], range: Range<usize>, mut f: impl FnMut(usize, u32)) {
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

/// A keyword in the forms it is written in: lower and upper case, and capitalized when it is
/// one word (`Stripe`; nobody writes `Client_secret`).
pub(super) fn case_variants(keyword: &[u8]) -> Vec<Vec<u8>> {
    let lower = keyword.to_ascii_lowercase();
    let upper = keyword.to_ascii_uppercase();
    let mut v = vec![lower.clone(), upper];
    if lower.iter().all(u8::is_ascii_alphabetic) {
        let mut capital = lower;
        if let Some(c) = capital.first_mut() {
            c.make_ascii_uppercase();
        }
        v.push(capital);
    }
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
        found.sort_unstable();
        assert_eq!(found, [(2, 0), (2, 1), (14, 2), (16, 2), (19, 0)]);
        let mut found = Vec::new();
        set.for_each(hay, 3..15, |s, id| found.push((s, id)));
        assert_eq!(found, [(14, 2)]);
    }
}
