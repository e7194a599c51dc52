//! A compiled key pattern: its regexes (compiled on first use, and shared with every mask engine
//! built from the registry), its literal prefixes, and the checks of a whole value against it.

use std::sync::{Arc, OnceLock};

use regex::Regex;

/// The most bytes `regex` can match, `None` if it has no bound (or does not parse).
pub(crate) fn longest_match(regex: &str) -> Option<usize> {
    regex_syntax::parse(regex).ok().and_then(|hir| hir.properties().maximum_len())
}

/// A compiled key pattern.
#[derive(Debug)]
pub struct Pattern {
    pub kind: String,
    pub source: String,
    pub max_len: usize,
    pub near_keyword: bool,
    /// See [`super::PatternDef::scan_only`].
    pub scan_only: bool,
    pub examples: Vec<String>,
    pub not: Vec<String>,
    /// The literal prefixes every match starts with (`sk_live_`, `sk_test_` for Stripe keys), if
    /// they are distinctive (see [`Pattern::literal_prefixes`]).
    prefixes: OnceLock<Option<Vec<Vec<u8>>>>,
    anchored: OnceLock<Regex>,
    unanchored: OnceLock<Regex>,
    /// For the mask engine, compiled on first use and shared with every engine built from this
    /// registry.
    bytes: Arc<BytesRegexes>,
}

/// A pattern's regexes on bytes: anchored at the start only, and unanchored. Compiled when first
/// needed: a mask run that never meets a pattern's prefix never pays for compiling it.
#[derive(Debug)]
pub struct BytesRegexes {
    source: String,
    start: OnceLock<regex::bytes::Regex>,
    any: OnceLock<regex::bytes::Regex>,
    /// The pattern's `secret_group` and `placeholders` (see [`super::PatternDef`]).
    secret: Option<(String, Vec<String>)>,
}

/// The secret part of a match, for judging whether it is a placeholder.
pub struct SecretPart<'v> {
    pub secret: &'v [u8],
    /// Whether it is one of the pattern's placeholders (`{user}`: the same as the user group).
    pub listed: bool,
}

impl BytesRegexes {
    pub fn anchored(&self) -> &regex::bytes::Regex {
        self.start.get_or_init(|| regex::bytes::Regex::new(&format!("^(?:{})", self.source)).expect("checked at load"))
    }

    pub fn unanchored(&self) -> &regex::bytes::Regex {
        self.any.get_or_init(|| regex::bytes::Regex::new(&self.source).expect("checked at load"))
    }

    /// The secret group of a match of a pattern that names one; `None` for other patterns (the
    /// whole match is the secret).
    pub fn secret_part<'v>(&self, matched: &'v [u8]) -> Option<SecretPart<'v>> {
        let (group, placeholders) = self.secret.as_ref()?;
        let caps = self.anchored().captures(matched)?;
        let secret = caps.name(group)?.as_bytes();
        let user = caps.name("user").map(|m| m.as_bytes());
        let listed = placeholders
            .iter()
            .any(|p| if p == "{user}" { user == Some(secret) } else { p.as_bytes().eq_ignore_ascii_case(secret) });
        Some(SecretPart { secret, listed })
    }
}

impl Pattern {
    /// A pattern from its definition, checked by the registry (the regex compiles and is bounded
    /// by `max_len`); the regexes themselves are compiled on first use.
    pub(super) fn new(def: super::PatternDef) -> Pattern {
        Pattern {
            kind: def.kind,
            prefixes: OnceLock::new(),
            bytes: Arc::new(BytesRegexes {
                source: def.regex.clone(),
                start: OnceLock::new(),
                any: OnceLock::new(),
                secret: def.secret_group.clone().map(|g| (g, def.placeholders.clone())),
            }),
            source: def.regex,
            max_len: def.max_len,
            near_keyword: def.near_keyword,
            scan_only: def.scan_only,
            examples: def.examples,
            not: def.not,
            anchored: OnceLock::new(),
            unanchored: OnceLock::new(),
        }
    }

    /// Does the whole value have this shape?
    pub fn matches_whole(&self, value: &str) -> bool {
        // Checked before the regex is compiled: most values are refused by most patterns that way.
        let prefix_fits = self.literal_prefixes().is_none_or(|ps| ps.iter().any(|p| value.as_bytes().starts_with(p)));
        value.len() <= self.max_len
            && prefix_fits
            && self
                .anchored
                .get_or_init(|| Regex::new(&format!("^(?:{})$", self.source)).expect("checked at load"))
                .is_match(value)
    }

    /// The named group that is the secret, for a pattern whose match holds more (`secret_group`).
    pub fn secret_group(&self) -> Option<&str> {
        self.bytes.secret.as_ref().map(|(group, _)| group.as_str())
    }

    /// The literal prefixes every match of the pattern starts with, when they are distinctive
    /// enough (at least 2 bytes each) to filter on: the mask engine searches for them, and a value
    /// without one cannot match. Read off the regex's syntax tree once.
    pub fn literal_prefixes(&self) -> Option<&[Vec<u8>]> {
        self.prefixes
            .get_or_init(|| {
                use regex_syntax::hir::literal::{ExtractKind, Extractor};
                let hir = regex_syntax::Parser::new().parse(&self.source).ok()?;
                let mut extractor = Extractor::new();
                extractor.kind(ExtractKind::Prefix).limit_class(4).limit_total(64);
                let lits = extractor.extract(&hir).literals()?.to_vec();
                if lits.is_empty() || lits.iter().any(|l| l.as_bytes().len() < 2) {
                    return None;
                }
                Some(lits.iter().map(|l| l.as_bytes().to_vec()).collect())
            })
            .as_deref()
    }

    /// The pattern for searching in text (mask, scan).
    pub fn regex(&self) -> &Regex {
        self.unanchored.get_or_init(|| Regex::new(&self.source).expect("checked at load"))
    }

    /// The pattern's regexes on bytes, compiled lazily and shared.
    pub fn bytes(&self) -> Arc<BytesRegexes> {
        self.bytes.clone()
    }

    /// The public part of a value of this shape (e.g. `sk_live_`), shown when masking.
    pub fn public_prefix<'v>(&self, value: &'v str) -> Option<&'v str> {
        let caps = self
            .anchored
            .get_or_init(|| Regex::new(&format!("^(?:{})$", self.source)).expect("checked at load"))
            .captures(value)?;
        caps.name("prefix").map(|m| &value[m.range()])
    }
}
