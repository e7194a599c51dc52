//! The masking engine: build once from the known values and the provider patterns, then stream
//! `mask(reader, writer)` with bounded memory. `mask`, `exec` and `scan` all use it.
//!
//! Finding what to hide, in one pass over the bytes:
//! - **Known values** (every form of every version, see [`forms`]). Long literals (≥ 16 bytes)
//!   go through a q-gram skip filter: every 9th position's 8-byte gram is looked up in a bitset
//!   of the literals' grams, and only a hit is verified, against a sorted table of (gram, literal,
//!   offset). Any literal of 16 bytes or more covers at least one checked position, so none is
//!   missed, and text is skipped at a fraction of a lookup per byte. Short literals go into a
//!   small Aho-Corasick automaton.
//! - **Provider patterns.** The literal prefixes of every pattern (`sk_live_`, `ghp_`, `AKIA`…)
//!   and the keywords of patterns without a distinctive prefix go into one Aho-Corasick DFA; a
//!   prefix hit runs that pattern's regex anchored there, a keyword hit runs the bare pattern in
//!   a short window after it (as gitleaks does), with word boundaries.
//!
//! Overlapping matches are merged into the union of their spans, so no part of any secret is left
//! behind because another matched first. Every pattern and literal has a maximum length, so a
//! bounded overlap between read blocks finds matches that straddle them ([`stream`]).

pub mod forms;
mod known;
mod literal_set;
pub mod pem;
pub mod reference;
mod replace;
pub mod stream;

use self::known::Known;
use self::literal_set::LiteralSet;
pub use self::replace::{FULL_MASK, Origin, Style};
use self::replace::{Label, LabelOrigin, PARTIAL_MIN};

use zeroize::Zeroizing;

use crate::providers::Registry;

/// Marks a keyword's id in the literal set (the rest is its pattern's id).
const KEYWORD: u32 = 1 << 31;
/// The id of the PEM BEGIN marker in the literal set.
const PEM_MARKER: u32 = KEYWORD - 1;
/// A `[REDACTED:<label>]` is at most this long; a keyword inside one does not count.
const LABEL_SPAN: usize = 10 + 128 + 1;

/// A known value to hide, one per version of each secret.
pub struct KnownValue<'a> {
    pub name: &'a str,
    pub value: &'a str,
    /// The provider's public prefix of this value (`sk_live_`), shown by the partial style.
    pub public_prefix: Option<&'a str>,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub style: Style,
    pub min_length: usize,
    /// The engine is `scan`'s: patterns marked scan-only are searched too.
    pub scan: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { style: Style::Partial, min_length: 6, scan: false }
    }
}

/// A found span of text to hide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    label: u32,
    /// The bytes at the start that may be shown (a provider's public prefix).
    prefix_len: u32,
}

/// The part of a buffer one call looks at: `hay[from..]`, reporting spans that start before
/// `until`; `eof` says whether `hay` ends the input.
#[derive(Clone, Copy)]
pub struct Window<'h> {
    pub hay: &'h [u8],
    pub from: usize,
    pub until: usize,
    pub eof: bool,
}

/// A compiled provider pattern (the regexes are the registry's, compiled once).
struct Pattern {
    regexes: std::sync::Arc<crate::providers::BytesRegexes>,
    max_len: usize,
    label: u32,
    has_prefix_group: bool,
}

pub struct Engine {
    opts: Options,
    labels: Vec<Label>,
    /// Every form of every known value, and its label.
    known: Known,
    patterns: Vec<Pattern>,
    /// For keyword-gated patterns, their keywords (lower, upper and capitalized).
    keywords: Vec<Option<Vec<Vec<u8>>>>,
    /// Literal prefixes of patterns (case-sensitive), and keywords of keyword-gated patterns
    /// (ids marked with [`KEYWORD`]): one set, so they share the searchers' passes over the text.
    /// (case-insensitive): two small automata, each fast with its SIMD prefilter.
    literal_set: LiteralSet,
    /// Patterns with no literal prefix and no keyword: searched over the whole text.
    unfiltered: Vec<u32>,
    max_len: usize,
    context: usize,
    /// PEM private keys, line by line (with the provider patterns; `None` with `--no-patterns`).
    pem: Option<(pem::Marker, u32)>,
}

/// What a stream carries from one block to the next: the keyword gates and the PEM cursor.
#[derive(Debug, Clone)]
pub struct Gates {
    /// Per pattern: where the first keyword of it on the current line ends, if one started
    /// before the stream's position.
    pub armed: Vec<Option<usize>>,
    pub pem: pem::Cursor,
}

/// What one [`Engine::find`] found besides spans, for [`Engine::advance_gates`].
#[derive(Debug, Default)]
pub struct Hits {
    /// Keyword hits: (start, end, pattern).
    keywords: Vec<(usize, usize, u32)>,
    /// PEM BEGIN markers: (start, end).
    markers: Vec<(usize, usize)>,
}

impl Engine {
    /// Builds the engine. `registry` is `None` with `--no-patterns`.
    pub fn build(known: &[KnownValue<'_>], registry: Option<&Registry>, opts: Options) -> Engine {
        let mut labels: Vec<Label> = Vec::new();
        let mut literals: Vec<(Zeroizing<Vec<u8>>, u32)> = Vec::new();
        for k in known {
            let value_label = labels.len() as u32;
            labels.push(Label {
                text: k.name.to_owned(),
                partial: k.value.chars().count() >= PARTIAL_MIN,
                prefix_len: k.public_prefix.map_or(0, str::len),
                origin: LabelOrigin::Known { encoded: false },
            });
            let encoded_label = labels.len() as u32;
            labels.push(Label {
                text: k.name.to_owned(),
                partial: false,
                prefix_len: 0,
                origin: LabelOrigin::Known { encoded: true },
            });
            for form in forms::forms(k.value, opts.min_length.max(1)) {
                let label = if form.partial { value_label } else { encoded_label };
                literals.push((form.bytes, label));
            }
        }
        // Each literal once, with the label of its first occurrence (a stable sort keeps that
        // one first); the duplicates are wiped as they are dropped.
        literals.sort_by(|a, b| a.0.cmp(&b.0));
        literals.dedup_by(|later, first| later.0 == first.0);

        let known = Known::new(literals);

        let mut patterns = Vec::new();
        let mut prefix_literals: Vec<(Vec<u8>, u32)> = Vec::new();
        let mut keyword_literals: Vec<(Vec<u8>, u32)> = Vec::new();
        let mut unfiltered = Vec::new();
        let mut keywords: Vec<Option<Vec<Vec<u8>>>> = Vec::new();
        if let Some(registry) = registry {
            for provider in &registry.providers {
                for pat in provider.patterns.iter().filter(|pat| opts.scan || !pat.scan_only) {
                    let label = labels.len() as u32;
                    labels.push(Label {
                        text: provider.id.clone(),
                        partial: true,
                        prefix_len: 0,
                        origin: LabelOrigin::Pattern { kind: pat.kind.clone() },
                    });
                    let id = patterns.len() as u32;
                    patterns.push(Pattern {
                        regexes: pat.bytes(),
                        max_len: pat.max_len,
                        label,
                        has_prefix_group: pat.source.contains("(?P<prefix>"),
                    });
                    let gated = pat.near_keyword && !provider.keywords.is_empty();
                    keywords.push(gated.then(|| {
                        provider.keywords.iter().flat_map(|k| literal_set::case_variants(k.as_bytes())).collect()
                    }));
                    if gated {
                        for variant in keywords.last().into_iter().flatten().flatten() {
                            keyword_literals.push((Vec::<u8>::clone(variant), id));
                        }
                    } else if let Some(prefixes) = pat.literal_prefixes() {
                        for p in prefixes {
                            prefix_literals.push((p.clone(), id));
                        }
                    } else {
                        unfiltered.push(id);
                    }
                }
            }
        }
        let max_keyword = keyword_literals.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        let pem = registry.map(|_| {
            let label = labels.len() as u32;
            labels.push(Label {
                text: "private-key".into(),
                partial: false,
                prefix_len: 0,
                origin: LabelOrigin::PrivateKey,
            });
            prefix_literals.push((pem::MARKER_PREFIX.to_vec(), PEM_MARKER));
            (pem::Marker::default(), label)
        });
        let literal_set = LiteralSet::new(
            prefix_literals.into_iter().chain(keyword_literals.into_iter().map(|(k, id)| (k, id | KEYWORD))).collect(),
        );

        let max_pattern = patterns.iter().map(|p| p.max_len).max().unwrap_or(0);
        // A PEM body line is decided when its newline is in view (at most LINE_MAX away), a key
        // on one line when its END marker is.
        let max_pem = if pem.is_some() { pem::LINE_MAX + 2 * pem::MARKER_MAX } else { 0 };
        let max_len = known.max_len().max(max_pattern).max(max_pem);
        // Bytes kept before the written point: the boundary byte before a match, and enough to
        // tell whether a keyword sits inside a label of ours.
        let context = LABEL_SPAN + max_keyword + 1;
        Engine { opts, labels, known, patterns, keywords, literal_set, unfiltered, max_len, context, pem }
    }

    /// The engine for a vault's values (every version of every secret) and the registry's patterns.
    pub fn for_vault(
        vault: Option<&crate::vault::Vault>,
        registry: Option<&Registry>,
        opts: Options,
    ) -> crate::error::Result<Engine> {
        let secrets = match vault {
            Some(v) => v.secrets()?,
            None => Vec::new(),
        };
        Ok(Engine::for_secrets(&secrets, registry, opts))
    }

    /// The engine for these secrets' values (every version) and the registry's patterns.
    pub fn for_secrets(secrets: &[crate::vault::secret::Secret], registry: Option<&Registry>, opts: Options) -> Engine {
        let mut prefixes = Vec::new();
        for s in secrets {
            let provider = s.body.meta.provider.as_deref().and_then(|id| registry?.get(id));
            for v in &s.body.versions {
                let prefix = provider.and_then(|p| p.pattern_for(v.value.expose())?.public_prefix(v.value.expose()));
                prefixes.push(prefix.map(str::to_owned));
            }
        }
        let mut known = Vec::with_capacity(prefixes.len());
        let mut i = 0;
        for s in secrets {
            for v in &s.body.versions {
                known.push(KnownValue {
                    name: &s.name,
                    value: v.value.expose(),
                    public_prefix: prefixes[i].as_deref(),
                });
                i += 1;
            }
        }
        Engine::build(&known, registry, opts)
    }

    /// How many bytes past a position a match starting there can reach, plus keyword context:
    /// the overlap the streaming reader keeps between blocks.
    pub fn lookahead(&self) -> usize {
        self.max_len + self.context + 1
    }

    /// The state a stream starts with.
    pub fn gates(&self) -> Gates {
        Gates { armed: vec![None; self.patterns.len()], pem: pem::Cursor::default() }
    }

    pub fn context(&self) -> usize {
        self.context
    }

    /// Every span in `hay[from..]` that starts before `until` (spans starting later may need
    /// bytes that have not arrived). `eof` says whether `hay` ends the input.
    ///
    /// Keyword-gated patterns count after a keyword on the same line. `armed[p]` is where the
    /// first keyword of pattern `p` on the line of `from` ends, if one started before `from` (it
    /// may end after `from`: a keyword cut by a block boundary); the keyword hits found here go
    /// to `hits`, for [`Engine::advance_gates`].
    pub fn find(&self, w: Window<'_>, gates: &Gates, found: &mut Hits, out: &mut Vec<Span>) {
        let Window { hay, from, until, eof } = w;
        let armed = &gates.armed;
        self.known.find(hay, from, until, out);
        let Hits { keywords: hits, markers } = found;
        hits.clear();
        markers.clear();
        self.literal_set.for_each(hay, from..until, |start, id| {
            if id == PEM_MARKER {
                if let Some((marker, label)) = &self.pem
                    && let Some(end) = marker.at(hay, start)
                {
                    markers.push((start, end));
                    // Masked when it opens a body or a key follows on its line; held back while
                    // that is unknown.
                    let span_end = match pem::opens_at(hay, end, eof) {
                        Some(true) => Some(end),
                        Some(false) => match marker.one_line(hay, end, eof) {
                            pem::OneLine::Key { end } => Some(end),
                            pem::OneLine::None => None,
                            pem::OneLine::NotYet => Some(hay.len()),
                        },
                        None => Some(hay.len()),
                    };
                    if let Some(span_end) = span_end {
                        out.push(Span { start, end: span_end, label: *label, prefix_len: 0 });
                    }
                }
            } else if id & KEYWORD == 0 {
                self.anchored(hay, start, id, out);
            } else if !inside_label(hay, start) {
                let id = id & !KEYWORD;
                hits.push((start, start + self.keyword_len(hay, start, id), id));
            }
        });
        hits.sort_unstable();
        hits.dedup();
        if let Some((_, label)) = &self.pem {
            // Body lines: from the cursor's line when it is in a body, and after every line
            // that opens one (a marker on the cursor's line before `from` included).
            let mut push =
                |r: std::ops::Range<usize>| out.push(Span { start: r.start, end: r.end, label: *label, prefix_len: 0 });
            if gates.pem.body {
                pem::body_spans(hay, gates.pem.line_start, from, until, eof, &mut push);
            }
            let ends = gates.pem.marker_end.into_iter().chain(markers.iter().map(|m| m.1));
            for ls in pem::openings(hay, ends) {
                pem::body_spans(hay, ls, from, until, eof, &mut push);
            }
        }
        // For each gated pattern, the regions to search: from the end of an earlier keyword (or
        // `from`) to the end of its line when armed, and from each keyword to the end of its
        // line; each byte searched once.
        let mut regions: Vec<(u32, usize)> = armed
            .iter()
            .enumerate()
            .filter_map(|(id, end)| end.map(|end| (id as u32, end.max(from))))
            .chain(hits.iter().map(|&(_, end, id)| (id, end)))
            .collect();
        regions.sort_unstable();
        let mut cursor: Option<(u32, usize)> = None;
        for (id, start) in regions {
            let start = match cursor {
                Some((cid, searched_to)) if cid == id => start.max(searched_to),
                _ => start,
            };
            let line_end = memchr::memchr(b'\n', &hay[start.min(hay.len())..]).map_or(hay.len(), |i| start + i);
            if start < line_end {
                self.gated(w, start, line_end, id, out);
            }
            cursor = Some((id, line_end.max(start)));
        }

        for &id in &self.unfiltered {
            let p = &self.patterns[id as usize];
            for m in p.regexes.unanchored().find_iter(&hay[from..]) {
                let (s, e) = (from + m.start(), from + m.end());
                if s < until && e - s <= p.max_len {
                    out.push(Span { start: s, end: e, label: p.label, prefix_len: 0 });
                }
            }
        }
    }

    /// The state at `cut`, from the state at `from` and what [`Engine::find`] found between.
    pub fn advance_gates(&self, hay: &[u8], from: usize, cut: usize, found: &Hits, gates: &mut Gates) {
        let armed = &mut gates.armed;
        let line_start = match memchr::memrchr(b'\n', &hay[from..cut]) {
            Some(i) => {
                armed.fill(None);
                from + i + 1
            }
            None => from,
        };
        for &(start, end, id) in &found.keywords {
            if start >= line_start && start < cut {
                let first = armed[id as usize].map_or(end, |e| e.min(end));
                armed[id as usize] = Some(first);
            }
        }
        if self.pem.is_some() {
            let ends: Vec<usize> = found.markers.iter().filter(|m| m.0 < cut).map(|m| m.1).collect();
            gates.pem = pem::advance(hay, gates.pem, &ends, cut);
        }
    }

    /// How far before `emitted` a stream must keep its buffer for the state in `gates`: the
    /// keyword context (which covers a marker whose line is still open), the start of a line
    /// inside a PEM body.
    /// Drops what cannot matter any more (a line grown too long for a body).
    pub fn keep_from(&self, emitted: usize, gates: &mut Gates) -> usize {
        let mut keep = emitted.saturating_sub(self.context);
        let cursor = &mut gates.pem;
        if cursor.body && emitted - cursor.line_start > pem::LINE_MAX {
            cursor.body = false;
        }
        if cursor.marker_end.is_some_and(|e| emitted.saturating_sub(e) > pem::BLANKS_MAX) {
            cursor.marker_end = None;
        }
        if cursor.body {
            keep = keep.min(cursor.line_start);
        }
        // A pending marker ends at most BLANKS_MAX before `emitted`: inside the context.
        const { assert!(LABEL_SPAN > pem::BLANKS_MAX) };
        keep
    }

    #[cold]
    pub(crate) fn anchored(&self, hay: &[u8], at: usize, id: u32, out: &mut Vec<Span>) {
        let p = &self.patterns[id as usize];
        let window = &hay[at..hay.len().min(at + p.max_len)];
        // `find` first: most tries fail, and only a match needs the (allocating) captures.
        let Some(m) = p.regexes.anchored().find(window) else { return };
        let prefix_len = if p.has_prefix_group {
            p.regexes.anchored().captures(window).and_then(|c| c.name("prefix")).map_or(0, |g| g.end())
        } else {
            0
        };
        out.push(Span { start: at, end: at + m.end(), label: p.label, prefix_len: prefix_len as u32 });
    }

    /// Tries a keyword-gated pattern at every word start in `hay[start..line_end]`: a match must
    /// begin after a byte that does not continue a word, and end before one ([`is_word`]).
    #[cold]
    pub(crate) fn gated(&self, w: Window<'_>, start: usize, line_end: usize, id: u32, out: &mut Vec<Span>) {
        let Window { hay, until, eof, .. } = w;
        let p = &self.patterns[id as usize];
        for s in start..line_end.min(until) {
            if s > 0 && is_word(hay[s - 1]) {
                continue;
            }
            let window = &hay[s..hay.len().min(s + p.max_len)];
            let Some(m) = p.regexes.anchored().find(window) else { continue };
            let e = s + m.end();
            let after_ok = if e < hay.len() { !is_word(hay[e]) } else { eof };
            if m.end() > 0 && after_ok {
                out.push(Span { start: s, end: e, label: p.label, prefix_len: 0 });
            }
        }
    }

    /// Every span in a whole buffer, unmerged (a small input: a decoded blob).
    pub fn find_all(&self, hay: &[u8]) -> Vec<Span> {
        let mut out = Vec::new();
        let window = Window { hay, from: 0, until: hay.len(), eof: true };
        self.find(window, &self.gates(), &mut Hits::default(), &mut out);
        out
    }

    /// Masks a whole buffer at once (tests, small inputs).
    pub fn mask_bytes(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        stream::mask(self, input, &mut out).expect("writing to memory cannot fail");
        out
    }
}

impl Engine {
    #[cfg(test)]
    fn known(&self) -> &Known {
        &self.known
    }

    /// Every known literal and its label (the reference masker searches for each).
    pub(crate) fn known_literals(&self) -> impl Iterator<Item = (&[u8], u32)> {
        self.known.all()
    }

    pub(crate) fn keywords_of(&self, id: u32) -> Option<&[Vec<u8>]> {
        self.keywords[id as usize].as_deref()
    }

    /// The length of the keyword of pattern `id` that starts at `start` (the longest).
    fn keyword_len(&self, hay: &[u8], start: usize, id: u32) -> usize {
        self.keywords[id as usize]
            .iter()
            .flatten()
            .filter(|k| hay[start..].starts_with(k))
            .map(Vec::len)
            .max()
            .unwrap_or(0)
    }

    pub(crate) fn is_unfiltered(&self, id: u32) -> bool {
        self.unfiltered.contains(&id)
    }

    /// The PEM marker and label, when private keys are masked.
    pub(crate) fn pem(&self) -> Option<(&pem::Marker, u32)> {
        self.pem.as_ref().map(|(m, l)| (m, *l))
    }
}

/// Bytes that continue a word for the boundary of a keyword-gated match: letters, digits,
/// non-ASCII (letters of other scripts), and the characters our masks are made of, so masking
/// text never creates a boundary that was not there (masking stays idempotent).
fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || matches!(b, b'*' | b'[' | b']')
}

/// Whether position `k` lies inside a `[REDACTED:<label>]` this engine wrote: a keyword there is
/// a label, not a hint.
pub(crate) fn inside_label(hay: &[u8], k: usize) -> bool {
    let window = &hay[k.saturating_sub(LABEL_SPAN)..k];
    match memchr::memmem::rfind(window, b"[REDACTED:") {
        Some(i) => !window[i..].contains(&b']') && !window[i..].contains(&b'\n'),
        None => false,
    }
}

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod passes {
    /// Each searcher of the literal set is one pass over the text (measured: about 2.5
    /// instructions a byte each); adding patterns must not add passes unnoticed.
    #[test]
    fn the_builtin_literals_need_at_most_five_passes() {
        let r = crate::providers::Registry::builtin();
        let engine = super::Engine::build(&[], Some(&r), super::Options::default());
        let groups = engine.literal_set.group_sizes();
        assert!(groups.len() <= 5, "{} searchers: {groups:?}", groups.len());
    }
}
