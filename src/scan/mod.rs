//! Finding secrets in files and git history: the masking engine's known values and provider
//! patterns (one engine, see [`crate::mask`]), the generic high-entropy assignment rule
//! ([`generic`]), and both again inside base64 and percent-encoded text ([`decode`]).
//!
//! [`Scanner::scan`] streams any reader in blocks with bounded memory and returns raw findings
//! with line and column; [`walk`] walks files or git objects with it, on every core; the `scan`
//! command applies suppressions ([`settings`]), verifies and reports ([`report`]).

pub mod archive;
pub mod decode;
pub mod generic;
pub mod git;
pub mod keystore;
pub mod manifest;
pub mod report;
pub mod settings;
pub mod walk;

use std::io::{self, Read};

use zeroize::Zeroizing;

use crate::mask::stream::{self, Block, Sink};
use crate::mask::{Engine, Origin, Span};

use self::decode::Encoding;
use self::generic::Generic;

/// Rule id of a known vault value.
pub const KNOWN_RULE: &str = "known-value";
/// Text marking a line whose findings are accepted.
pub const ALLOW_MARKER: &[u8] = b"keyward:allow";
/// Bytes read to decide whether a file is binary (as git and ripgrep: a NUL byte).
const BINARY_PROBE: usize = 8192;
/// What of a Kubernetes Secret manifest is read for its data values, beyond the probe (the rest
/// is scanned as any file is).
const MAX_MANIFEST: u64 = 4 << 20;
/// What of a key store is read for its fingerprint, beyond the probe.
const MAX_KEYSTORE: u64 = 1 << 20;

/// A Kubernetes Secret's data values ([`manifest`]) among `findings`: one where a provider's
/// key or a known value was found at the same place is that finding; one on a line where the
/// generic rule fired replaces it (what the rule says is more).
fn add_manifest_values(findings: &mut Vec<RawFinding>, text: &[u8]) {
    for v in manifest::values(text) {
        if findings.iter().any(|f| f.line == v.line && f.column == v.column && f.rule.rank() < 3) {
            continue;
        }
        findings.retain(|f| !(f.line == v.line && matches!(f.rule, Rule::Generic { .. })));
        findings.push(RawFinding {
            line: v.line,
            column: v.column,
            rule: Rule::Provider {
                id: manifest::RULE.to_owned(),
                kind: format!("Kubernetes Secret {} value ({})", if v.encoded { "data" } else { "stringData" }, v.key),
            },
            value: v.value,
            prefix_len: 0,
            decoded: v.encoded.then_some(Encoding::Base64),
            allowed_inline: v.allowed,
        });
    }
    findings.sort_by_key(|f| (f.line, f.column));
}

/// What matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// A value stored in the vault (every version, and the encodings `mask` knows).
    Known { secret: String, encoded: bool },
    /// A provider's key format.
    Provider { id: String, kind: String },
    /// A high-entropy value assigned to a key-like name.
    Generic { name: String },
}

impl Rule {
    /// The id used in reports, `.keyward-scan.toml` and SARIF.
    pub fn id(&self) -> &str {
        match self {
            Rule::Known { .. } => KNOWN_RULE,
            Rule::Provider { id, .. } => id,
            Rule::Generic { .. } => generic::RULE,
        }
    }

    /// Lower is preferred when matches overlap: the user's own secret says most.
    fn rank(&self) -> u8 {
        match self {
            Rule::Known { encoded: false, .. } => 0,
            Rule::Known { encoded: true, .. } => 1,
            Rule::Provider { .. } => 2,
            Rule::Generic { .. } => 3,
        }
    }
}

/// One match in one input.
pub struct RawFinding {
    pub line: u64,
    pub column: u64,
    pub rule: Rule,
    /// The matched text (decoded when found inside an encoded run). Never printed whole.
    pub value: Zeroizing<String>,
    /// How many leading bytes are a provider's public prefix, shown in previews.
    pub prefix_len: usize,
    /// The encoding it was found inside, if any.
    pub decoded: Option<Encoding>,
    /// The line carries `keyward:allow`.
    pub allowed_inline: bool,
}

/// The result of scanning one input.
pub enum Scanned {
    Findings(Vec<RawFinding>),
    Binary,
}

pub struct Scanner {
    engine: Engine,
    generic: Option<Generic>,
}

impl Scanner {
    /// Whether a pattern match whose pattern names its secret group (a connection string's
    /// password) holds a default or placeholder there (`postgres:postgres@`, `user:password@`):
    /// local development settings, not a leaked credential. The pattern says which group and
    /// which values (`secret_group`, `placeholders` in the registry).
    fn placeholder_part(&self, span: &Span, matched: &[u8]) -> bool {
        let Some(part) = self.engine.secret_part(span, matched) else { return false };
        let secret = String::from_utf8_lossy(part.secret);
        part.listed || generic::is_placeholder(&secret) || !generic::accept_password(&secret)
    }

    /// `engine` carries the known values and provider patterns; `generic` turns the generic rule on.
    pub fn new(engine: Engine, generic: bool) -> Scanner {
        Scanner { engine, generic: generic.then(Generic::new) }
    }

    /// Scans `reader` in blocks; a binary input (a NUL byte near the start) is skipped, unless
    /// it is a key store, which is a finding by itself ([`keystore`]).
    pub fn scan(&self, mut reader: impl Read) -> io::Result<Scanned> {
        let mut head = Vec::with_capacity(BINARY_PROBE);
        (&mut reader).take(BINARY_PROBE as u64).read_to_end(&mut head)?;
        if let Some(kind) = keystore::kind(&head) {
            // Key stores are a few kilobytes; the fingerprint covers the first MiB.
            reader.take(MAX_KEYSTORE).read_to_end(&mut head)?;
            if !keystore::holds_keys(&head) {
                return Ok(Scanned::Findings(Vec::new()));
            }
            return Ok(Scanned::Findings(vec![RawFinding {
                line: 1,
                column: 1,
                rule: Rule::Provider { id: keystore::RULE.to_owned(), kind: kind.to_owned() },
                value: Zeroizing::new(keystore::fingerprint(&head)),
                prefix_len: 0,
                decoded: None,
                allowed_inline: false,
            }]));
        }
        if memchr::memchr(0, &head).is_some() {
            return Ok(Scanned::Binary);
        }
        let mut sink = Collect { scanner: self, line: 1, line_start: 0, findings: Vec::new(), cands: Vec::new() };
        let lookahead = decode::MAX_RUN.max(generic::MAX_MATCH) + 64;
        if manifest::is_secret_manifest(&head) {
            // A Kubernetes Secret (a few kilobytes): read whole for its data values as well.
            reader.take(MAX_MANIFEST).read_to_end(&mut head)?;
            stream::find_spans(&self.engine, io::Cursor::new(&head), &mut sink, lookahead)?;
            let mut findings = sink.findings;
            add_manifest_values(&mut findings, &head);
            return Ok(Scanned::Findings(findings));
        }
        stream::find_spans(&self.engine, io::Cursor::new(head).chain(reader), &mut sink, lookahead)?;
        Ok(Scanned::Findings(sink.findings))
    }

    /// Candidates in `hay[from..until]` (positions in `hay`), decoded content included down to
    /// `depth` levels.
    fn candidates(&self, hay: &[u8], spans: &[Span], from: usize, until: usize, depth: u8, out: &mut Vec<Candidate>) {
        for s in spans.iter().filter(|s| s.start >= from && s.start < until) {
            let value = text(&hay[s.start..s.end]);
            let context = self.engine.secret_part(s, &hay[s.start..s.end]).is_some();
            let rule = match self.engine.origin(s) {
                Origin::Known { secret, encoded } => Rule::Known { secret: secret.to_owned(), encoded },
                Origin::Pattern { provider, kind } => {
                    // A key-shaped run inside a longer token (base64 data, a hash) is part of it.
                    let before = s.start.checked_sub(1).map(|i| hay[i]);
                    if before.is_some_and(|b| b.is_ascii_alphanumeric())
                        || hay.get(s.end).is_some_and(u8::is_ascii_alphanumeric)
                    {
                        continue;
                    }
                    if generic::is_placeholder(&value) || self.placeholder_part(s, &hay[s.start..s.end]) {
                        continue;
                    }
                    Rule::Provider { id: provider.to_owned(), kind: kind.to_owned() }
                }
                Origin::Merged | Origin::PrivateKey => continue,
            };
            let prefix_len = self.engine.public_prefix_len(s);
            out.push(Candidate { start: s.start, end: s.end, rule, value, prefix_len, decoded: None, context });
        }
        if let Some(g) = &self.generic {
            g.find(hay, from, until, |start, end, name| {
                let rule = Rule::Generic { name: String::from_utf8_lossy(name).into_owned() };
                let value = text(&hay[start..end]);
                out.push(Candidate { start, end, rule, value, prefix_len: 0, decoded: None, context: false });
            });
        }
        if depth == 0 {
            return;
        }
        decode::find(hay, from, until, |start, end, encoding, inner| {
            let inner_spans = self.engine.find_all(inner);
            let mut found = Vec::new();
            self.candidates(inner, &inner_spans, 0, inner.len(), depth - 1, &mut found);
            for c in found {
                // A known value's encoded form is already a known-value match of the outer text.
                if matches!(c.rule, Rule::Known { .. }) && c.decoded.is_none() && encoding == Encoding::Base64 {
                    continue;
                }
                out.push(Candidate { start, end, decoded: Some(c.decoded.unwrap_or(encoding)), ..c });
            }
        });
    }
}

fn text(bytes: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(String::from_utf8_lossy(bytes).into_owned())
}

struct Candidate {
    start: usize,
    end: usize,
    rule: Rule,
    value: Zeroizing<String>,
    prefix_len: usize,
    decoded: Option<Encoding>,
    /// A context rule's match (a header, a URL, a command line): a provider's own format inside
    /// it says more, and wins the overlap.
    context: bool,
}

/// The scanning sink: candidates per block, overlaps resolved, lines and columns counted.
struct Collect<'s> {
    scanner: &'s Scanner,
    /// The line number at the block's `from`, and the input offset where that line starts.
    line: u64,
    line_start: u64,
    findings: Vec<RawFinding>,
    cands: Vec<Candidate>,
}

impl Sink for Collect<'_> {
    fn block(&mut self, b: Block<'_>, spans: &mut Vec<Span>) -> io::Result<usize> {
        let Block { hay, from, cut, base, .. } = b;
        self.cands.clear();
        self.scanner.candidates(hay, spans, from, cut, decode::MAX_DEPTH, &mut self.cands);
        // Overlapping candidates are one finding: keep the best-ranked, then the longest.
        self.cands.sort_by_key(|c| (c.start, std::cmp::Reverse(c.end)));
        let mut kept: Vec<Candidate> = Vec::new();
        for c in self.cands.drain(..) {
            match kept.last_mut() {
                Some(last) if c.start < last.end => {
                    let better = (c.rule.rank(), c.context, std::cmp::Reverse(c.end - c.start))
                        < (last.rule.rank(), last.context, std::cmp::Reverse(last.end - last.start));
                    if better {
                        *last = c;
                    }
                }
                _ => kept.push(c),
            }
        }
        let mut pos = from;
        for c in kept {
            for nl in memchr::memchr_iter(b'\n', &hay[pos..c.start]) {
                self.line += 1;
                self.line_start = base + (pos + nl + 1) as u64;
            }
            pos = c.start;
            let line_start = (self.line_start.saturating_sub(base) as usize).min(c.start);
            let line_end = memchr::memchr(b'\n', &hay[c.start..]).map_or(hay.len(), |i| c.start + i);
            let before_buffer = self.line_start < base;
            let column = if before_buffer {
                (base + c.start as u64) - self.line_start
            } else {
                hay[line_start..c.start].iter().filter(|b| (**b & 0xC0) != 0x80).count() as u64
            } + 1;
            let allowed_inline = memchr::memmem::find(&hay[line_start..line_end], ALLOW_MARKER).is_some();
            self.findings.push(RawFinding {
                line: self.line,
                column,
                rule: c.rule,
                value: c.value,
                prefix_len: c.prefix_len,
                decoded: c.decoded,
                allowed_inline,
            });
        }
        for nl in memchr::memchr_iter(b'\n', &hay[pos..cut]) {
            self.line += 1;
            self.line_start = base + (pos + nl + 1) as u64;
        }
        Ok(cut)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A preview that never shows the whole value: the provider's public prefix and the last four
/// characters of values of 20 characters or more, `********` for anything shorter.
pub fn preview(value: &str, prefix_len: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 20 {
        return "********".into();
    }
    let prefix: String = value.get(..prefix_len.min(value.len() / 2)).unwrap_or("").to_owned();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    crate::sanitize::sanitize(&format!("{prefix}…{tail}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mask::{KnownValue, Options};
    use crate::providers::Registry;

    fn scanner(known: &[KnownValue<'_>]) -> Scanner {
        let r = Registry::builtin();
        Scanner::new(Engine::build(known, Some(&r), Options { min_length: 8, scan: true, ..Options::default() }), true)
    }

    fn findings(s: &Scanner, text: &str) -> Vec<(u64, u64, String, Option<Encoding>)> {
        match s.scan(text.as_bytes()).unwrap() {
            Scanned::Findings(f) => {
                f.into_iter().map(|f| (f.line, f.column, f.rule.id().to_owned(), f.decoded)).collect()
            }
            Scanned::Binary => panic!("binary"),
        }
    }

    /// The placeholder rule is the pattern's (`secret_group`, `placeholders`), for any provider:
    /// the built-in connection strings, and a user's own pattern.
    #[test]
    fn a_patterns_secret_group_decides_placeholders() {
        let s = scanner(&[]);
        for weak in ["postgres://postgres:postgres@db:5432", "mysql://admin1:admin1@db", "postgres://me:password@db"] {
            assert!(findings(&s, &format!("url = {weak}\n")).is_empty(), "{weak}");
        }
        assert_eq!(findings(&s, "url = postgres://app:dZRJtaWp6NZHoN3iOI3w@db:5432\n").len(), 1);

        let mut def =
            crate::providers::PatternDef::new("url", "acme://(?P<user>[a-z]{1,20}):(?P<pw>[A-Za-z0-9]{6,40})@acme", 80);
        def.secret_group = Some("pw".into());
        def.placeholders = vec!["changeme".into()];
        let acme = crate::providers::ProviderDef {
            name: Some("Acme".into()),
            patterns: Some(vec![def]),
            ..Default::default()
        };
        let r = Registry::load(&[("acme".into(), acme)], None).unwrap();
        let s = Scanner::new(Engine::build(&[], Some(&r), Options { scan: true, ..Options::default() }), false);
        assert!(findings(&s, "x acme://bob:CHANGEME@acme\n").is_empty());
        assert_eq!(findings(&s, "x acme://bob:Zq8LmW3vKx91@acme\n").len(), 1);
    }

    /// Context rules: a password on a curl command line (near `curl` only) and credentials in a
    /// URL of any common scheme; their placeholders are no findings.
    #[test]
    fn credentials_in_command_lines_and_urls() {
        let s = scanner(&[]);
        let rules = |text: &str| findings(&s, text).into_iter().map(|f| f.2).collect::<Vec<_>>();
        assert_eq!(rules("curl -u deploy:Zq8LmW3vKx91aPc4 https://api.example.com/v1\n"), ["curl"]);
        assert_eq!(rules("curl --user=ci:Hx7pLq2Wm9sRt4Vn -X POST https://x.example\n"), ["curl"]);
        assert!(rules("curl -u ciuser1:ciuser1 https://x.example\n").is_empty());
        assert!(rules("sort -u alice:Zq8LmW3vKx91aPc4\n").is_empty(), "no curl near it");
        assert_eq!(rules("git clone https://deploy:Zq8LmW3vKx91aPc4@git.acme-corp.net/app.git\n"), ["url-credentials"]);
        assert!(rules("see https://admin:password@intranet.example\n").is_empty());
        assert!(rules("see https://example.com/a:b@c\n").is_empty());
        assert_eq!(
            rules("curl -H 'Authorization: Bearer 4f9Kq2Lm8Xz3Rt6Wp1Nv7Bc5Yh0Jd2Sa' https://x\n"),
            ["http-auth"]
        );
        // A provider's own key in the header is that provider's finding (and can be verified).
        assert_eq!(rules("Authorization: token ghp_Um8SscuzM2fwc3gsTIG02FE2xNh4yblVdHnO\n"), ["github"]);
        assert!(rules("Authorization: Bearer YOUR_TOKEN_GOES_HERE_1234\n").is_empty());
    }

    #[test]
    fn lines_columns_and_rules() {
        let s = scanner(&[KnownValue { name: "internal/db", value: "Qm9vbGVhbi1pbnRlcm5hbC0x", public_prefix: None }]);
        let text = "first line\n  token = ghp_Um8SscuzM2fwc3gsTIG02FE2xNh4yblVdHnO\nDB=Qm9vbGVhbi1pbnRlcm5hbC0x\nÄé api_key=\"h7Rk2pQ9xLm4Zt8vW3nB\"\n";
        assert_eq!(
            findings(&s, text),
            vec![
                (2, 11, "github".into(), None),
                (3, 4, "known-value".into(), None),
                (4, 13, "generic-assignment".into(), None),
            ]
        );
    }

    #[test]
    fn keys_inside_base64_are_found_and_binary_is_skipped() {
        use data_encoding::BASE64;
        let s = scanner(&[]);
        let blob = BASE64.encode(b"export OPENAI_API_KEY=sk-proj-Tq3bV8mWz1LcK9rX2sYp4NfG7hJd5QaE");
        let f = findings(&s, &format!("apiVersion: v1\ndata:\n  env: {blob}\n"));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0].0, f[0].1, f[0].3), (3, 8, Some(Encoding::Base64)));
        assert!(matches!(
            s.scan(&b"\x7fELF\x00\x01ghp_Um8SscuzM2fwc3gsTIG02FE2xNh4yblVdHnO"[..]).unwrap(),
            Scanned::Binary
        ));
    }

    #[test]
    fn line_numbers_and_columns_hold_across_blocks() {
        let s = scanner(&[]);
        let key = "ghp_Um8SscuzM2fwc3gsTIG02FE2xNh4yblVdHnO";
        let mut text = String::new();
        for i in 0..60_000 {
            text.push_str(&format!("line {i} with some ordinary text here\n"));
            if i % 20_000 == 7 {
                text.push_str(&format!("x {key}\n"));
            }
        }
        let at: Vec<(u64, u64)> = findings(&s, &text).iter().map(|f| (f.0, f.1)).collect();
        assert_eq!(at, vec![(9, 3), (20_010, 3), (40_011, 3)]);
    }

    /// Long lines: some line starts in a block already written when its key is found, so the
    /// column comes from the line's offset in the whole input.
    #[test]
    fn columns_hold_when_a_line_starts_in_an_earlier_block() {
        let s = scanner(&[]);
        let key = "ghp_Um8SscuzM2fwc3gsTIG02FE2xNh4yblVdHnO";
        let text = format!("{} {key}\n", "x".repeat(600)).repeat(4000);
        let at = findings(&s, &text);
        assert_eq!(at.len(), 4000);
        for (i, f) in at.iter().enumerate() {
            assert_eq!((f.0, f.1), (i as u64 + 1, 602), "finding {i}");
        }
    }

    #[test]
    fn previews_never_show_the_value() {
        assert_eq!(preview("sk_live_4eC39HqLyjWDarjtT1zdp7dc", 8), "sk_live_…p7dc");
        assert_eq!(preview("short-secret", 0), "********");
    }
}
