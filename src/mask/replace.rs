//! How a found span is replaced (the three styles), how overlapping spans merge, and where a
//! span came from.

use super::{Engine, Span};

/// How a match is replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// The provider's public prefix and the last 4 characters (`sk_live_…a1b2`), for values of
    /// 20 characters or more; everything else in full
    Partial,
    /// `********`
    Full,
    /// `[REDACTED:<secret name or provider>]`
    Label,
}

pub const FULL_MASK: &[u8] = b"********";
/// Partial masking shows at most this much, and only of values at least [`PARTIAL_MIN`] long.
const PARTIAL_TAIL: usize = 4;
pub(super) const PARTIAL_MIN: usize = 20;
/// The label of a span made of several overlapping matches.
const MERGED: u32 = u32::MAX;

/// What a match found: a label for the `label` style and how much may be shown.
#[derive(Debug, Clone)]
pub(super) struct Label {
    pub(super) text: String,
    pub(super) partial: bool,
    pub(super) prefix_len: usize,
    pub(super) origin: LabelOrigin,
}

#[derive(Debug, Clone)]
pub(super) enum LabelOrigin {
    Known {
        encoded: bool,
    },
    Pattern {
        kind: String,
    },
    /// A PEM private key's marker, body or END line ([`super::pem`]).
    PrivateKey,
}

/// Where a span came from, for `scan`'s findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin<'e> {
    /// A known value (`secret` is its name); `encoded` when found in base64, percent or JSON form.
    Known { secret: &'e str, encoded: bool },
    /// A provider pattern.
    Pattern { provider: &'e str, kind: &'e str },
    /// Several overlapping matches merged (masking only).
    Merged,
    /// A line of a PEM private key (masking only: `scan` reports keys by their pattern).
    PrivateKey,
}

impl Engine {
    /// Sorts spans and merges overlapping ones into their union. A span inside another adds
    /// nothing; spans that overlap partly (two secrets run into each other) become one span shown
    /// in full, so no part of either is left.
    pub fn merge(spans: &mut Vec<Span>) {
        spans.sort_unstable_by_key(|s| (s.start, std::cmp::Reverse(s.end), s.label));
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for s in spans.drain(..) {
            match merged.last_mut() {
                Some(last) if s.start < last.end => {
                    if s.end > last.end {
                        last.end = s.end;
                        last.label = MERGED;
                        last.prefix_len = 0;
                    }
                }
                _ => merged.push(s),
            }
        }
        *spans = merged;
    }

    /// The replacement text for one merged span. A span over several lines (a private key's
    /// header and first line) is replaced line by line, keeping its newlines: line numbers stay
    /// as they were, and masking the output again changes nothing (a keyword that was on another
    /// line than a value stays there).
    pub fn replacement(&self, span: &Span, text: &[u8], out: &mut Vec<u8>) {
        if memchr::memchr(b'\n', text).is_some() {
            for (i, part) in text.split(|&b| b == b'\n').enumerate() {
                if i > 0 {
                    out.push(b'\n');
                }
                match self.opts.style {
                    _ if part.is_empty() => {}
                    // Part of a value shown on every line would show too much of it.
                    Style::Partial => out.extend_from_slice(FULL_MASK),
                    _ => self.replacement(span, part, out),
                }
            }
            return;
        }
        let label = self.labels.get(span.label as usize);
        match self.opts.style {
            Style::Full => out.extend_from_slice(FULL_MASK),
            Style::Label => {
                out.extend_from_slice(b"[REDACTED:");
                out.extend_from_slice(label.map_or("secrets", |l| l.text.as_str()).as_bytes());
                out.push(b']');
            }
            Style::Partial => {
                let len = text.len();
                match label {
                    Some(l) if l.partial && len >= PARTIAL_MIN => {
                        let prefix = (span.prefix_len as usize).max(l.prefix_len).min(len / 2);
                        out.extend_from_slice(&text[..prefix]);
                        out.extend_from_slice("…".as_bytes());
                        out.extend_from_slice(&text[len - PARTIAL_TAIL..]);
                    }
                    _ => out.extend_from_slice(FULL_MASK),
                }
            }
        }
    }

    /// Where a span came from.
    pub fn origin(&self, span: &Span) -> Origin<'_> {
        match self.labels.get(span.label as usize) {
            Some(Label { text, origin: LabelOrigin::Known { encoded }, .. }) => {
                Origin::Known { secret: text, encoded: *encoded }
            }
            Some(Label { text, origin: LabelOrigin::Pattern { kind }, .. }) => Origin::Pattern { provider: text, kind },
            Some(Label { origin: LabelOrigin::PrivateKey, .. }) => Origin::PrivateKey,
            None => Origin::Merged,
        }
    }

    /// For a span of a pattern that names the group holding its secret (a connection string's
    /// password): that part, for the caller to judge (see [`crate::providers::SecretPart`]).
    pub fn secret_part<'v>(&self, span: &Span, matched: &'v [u8]) -> Option<crate::providers::SecretPart<'v>> {
        self.patterns.iter().find(|p| p.label == span.label)?.regexes.secret_part(matched)
    }

    /// How many leading bytes of a span are a provider's public prefix (`sk_live_`).
    pub fn public_prefix_len(&self, span: &Span) -> usize {
        let label = self.labels.get(span.label as usize).map_or(0, |l| l.prefix_len);
        (span.prefix_len as usize).max(label)
    }
}
