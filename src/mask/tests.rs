//! Unit tests of the mask engine: known values and patterns, keyword gates, every block cut,
//! multi-line spans, merging, the partial style, a user's patterns.

use super::*;
use crate::providers::PatternDef;

#[test]
fn every_builtin_pattern_has_a_prefix_or_keywords() {
    let r = Registry::builtin();
    for p in &r.providers {
        for pat in &p.patterns {
            let filtered = (pat.near_keyword && !p.keywords.is_empty()) || pat.literal_prefixes().is_some();
            assert!(filtered, "{}/{} would be searched unfiltered", p.id, pat.kind);
        }
    }
}

#[test]
fn known_values_and_patterns_are_masked() {
    let r = Registry::builtin();
    let secret = "my-internal-secret-value-1234";
    let engine = Engine::build(
        &[KnownValue { name: "internal/x", value: secret, public_prefix: None }],
        Some(&r),
        Options::default(),
    );
    let ghp = format!("ghp_{}", "a".repeat(36));
    let input = format!("token={secret} gh={ghp} end");
    let out = String::from_utf8(engine.mask_bytes(input.as_bytes())).unwrap();
    assert_eq!(out, format!("token=…1234 gh=ghp_…aaaa end"));
    let full = Engine::build(
        &[KnownValue { name: "internal/x", value: secret, public_prefix: None }],
        Some(&r),
        Options { style: Style::Label, min_length: 6, scan: false },
    );
    let out = String::from_utf8(full.mask_bytes(input.as_bytes())).unwrap();
    assert_eq!(out, "token=[REDACTED:internal/x] gh=[REDACTED:github] end");
    // A key that is the very first thing in the input, and the whole of it.
    assert_eq!(full.mask_bytes(format!("{ghp} x").as_bytes()), b"[REDACTED:github] x");
    assert_eq!(full.mask_bytes(ghp.as_bytes()), b"[REDACTED:github]");
}

#[test]
fn keyword_gated_patterns_need_their_keyword() {
    let r = Registry::builtin();
    let engine = Engine::build(&[], Some(&r), Options { style: Style::Full, min_length: 6, scan: false });
    let hex = "0123456789abcdef0123456789abcdef";
    let out = engine.mask_bytes(format!("commit {hex} done").as_bytes());
    assert_eq!(String::from_utf8(out).unwrap(), format!("commit {hex} done"));
    let out = engine.mask_bytes(format!("DATADOG_API_KEY={hex}\n").as_bytes());
    assert_eq!(String::from_utf8(out).unwrap(), "DATADOG_API_KEY=********\n");
    // At the very end of the input, with no byte after it.
    let out = engine.mask_bytes(format!("DATADOG_API_KEY={hex}").as_bytes());
    assert_eq!(String::from_utf8(out).unwrap(), "DATADOG_API_KEY=********");
}

/// Streams `input` in reads of `size` bytes and blocks of that size: the stream cuts a block
/// after every read, so windows are `size` bytes and cuts fall everywhere.
fn in_pieces(engine: &Engine, input: &[u8], size: usize) -> Vec<u8> {
    let chunks: Vec<&[u8]> = input.chunks(size).collect();
    let mut out = Vec::new();
    stream::mask_chunks(engine, &chunks, size, &mut out).unwrap();
    out
}

/// Inputs whose masking depends on bytes before a match (a word boundary, a label of ours
/// holding a keyword) or after it: the context and lookahead the stream keeps must cover
/// them wherever a block is cut. Random chunking rarely cuts exactly there.
#[test]
fn every_cut_position_keeps_enough_context_and_lookahead() {
    let r = Registry::builtin();
    let known = "internal-known-value-0123456789";
    let engine = Engine::build(
        &[KnownValue { name: "internal/x", value: known, public_prefix: None }],
        Some(&r),
        Options { style: Style::Full, min_length: 6, scan: false },
    );
    let hex = "0123456789abcdef0123456789abcdef";
    let cases: Vec<(String, String)> = vec![
        // Glued to a word: not a boundary, so not a Twilio secret (letters of other scripts
        // continue a word too).
        (format!("twilio token: xyz{hex}\n"), format!("twilio token: xyz{hex}\n")),
        (format!("twilio token: é{hex}\n"), format!("twilio token: é{hex}\n")),
        // A keyword after one of our labels is a keyword again.
        (format!("[REDACTED:x] twilio {hex}\n"), "[REDACTED:x] twilio ********\n".to_owned()),
        // The keyword inside one of our labels is a label, not a hint.
        (format!("[REDACTED:twilio] {hex}\n"), format!("[REDACTED:twilio] {hex}\n")),
        // ... also at the end of the longest label name, far from the label's start.
        (
            format!("[REDACTED:{}twilio] {hex}\n", "n".repeat(122)),
            format!("[REDACTED:{}twilio] {hex}\n", "n".repeat(122)),
        ),
        // ... but an unclosed `[REDACTED:` far back on the line is not a label.
        (
            format!("[REDACTED:{} twilio {hex}\n", "x".repeat(200)),
            format!("[REDACTED:{} twilio ********\n", "x".repeat(200)),
        ),
        (format!("twilio {hex}"), "twilio ********".to_owned()),
        (format!("a {known} b {known}"), "a ******** b ********".to_owned()),
        (format!("twilio {hex}x"), format!("twilio {hex}x")),
        // A keyword arms its own line only.
        (format!("twilio\n{hex}\ntwilio {hex}\n"), format!("twilio\n{hex}\ntwilio ********\n")),
        (format!("a twilio b\nc {hex} twilio d\n"), format!("a twilio b\nc {hex} twilio d\n")),
    ];
    check_every_cut(&engine, &cases);

    // A user's patterns with no literal prefix and no keyword are searched everywhere; one
    // bounded by word boundaries does not match inside a longer run.
    let engine = acme_engine(
        &[],
        vec![
            PatternDef::new("account", "[A-Z]{4}[0-9]{12}", 16),
            PatternDef::new("order", r"\b[QX][0-9]{6,9}\b", 10),
            // A literal prefix but no `prefix` group.
            PatternDef::new("token", "acme_[a-z0-9]{10}", 15),
        ],
    );
    let cases = vec![
        ("id ABCD123456789012 end".to_owned(), "id ******** end".to_owned()),
        ("q Q1234567 and Q123456789012345 x".to_owned(), "q ******** and Q123456789012345 x".to_owned()),
        ("ABCD123456789012ABCD123456789012".to_owned(), "****************".to_owned()),
        ("t acme_0123456789 acme_x t".to_owned(), "t ******** acme_x t".to_owned()),
    ];
    check_every_cut(&engine, &cases);
}

/// A keyword-gated value is searched from the end of the keyword: a keyword that itself
/// fits the pattern is not masked, and the longest keyword found at a position counts.
#[test]
fn a_keyword_gated_value_is_searched_after_its_keyword() {
    let gated = PatternDef { near_keyword: true, ..PatternDef::new("key", "[a-z0-9]{10,20}", 20) };
    let engine = acme_engine(&["acmesecret", "acmesecretkey", "acme_secretkeyname"], vec![gated]);
    let cases = vec![
        ("acmesecretkey 0123456789 x".to_owned(), "acmesecretkey ******** x".to_owned()),
        ("acmesecret: 0123456789\n0123456789".to_owned(), "acmesecret: ********\n0123456789".to_owned()),
        ("0123456789 acmesecretkey".to_owned(), "0123456789 acmesecretkey".to_owned()),
        // `_` ends a word: the search still starts after the whole keyword, not inside it.
        ("acme_secretkeyname 0123456789".to_owned(), "acme_secretkeyname ********".to_owned()),
    ];
    check_every_cut(&engine, &cases);
}

/// A full-style engine over a user's provider `acme` with these keywords and patterns.
fn acme_engine(keywords: &[&str], patterns: Vec<PatternDef>) -> Engine {
    let acme = crate::providers::ProviderDef {
        name: Some("Acme".into()),
        keywords: Some(keywords.iter().map(std::string::ToString::to_string).collect()),
        patterns: Some(patterns),
        ..Default::default()
    };
    let custom = Registry::load(&[("acme".into(), acme)], None).unwrap();
    Engine::build(&[], Some(&custom), Options { style: Style::Full, min_length: 6, scan: false })
}

/// The reference gives `expected`, and so does the stream cut at every position and in
/// blocks of several sizes.
fn check_every_cut(engine: &Engine, cases: &[(String, String)]) {
    // The stream only cuts a block this far before the end of what it has read.
    let tail = format!("\n{}", ".".repeat(engine.lookahead() + 8));
    // Leading lines shift where the blocks fall relative to the interesting part.
    let shifted = cases.iter().flat_map(|(i, e)| (0..2).map(move |n| ("-\n".repeat(n * 3), i, e)));
    for (lead, input, expected) in shifted {
        let (input, expected) = (format!("{lead}{input}{tail}"), format!("{lead}{expected}{tail}"));
        let want = String::from_utf8(reference::mask(engine, input.as_bytes())).unwrap();
        assert_eq!(want, expected, "reference on {input:?}");
        for size in [1, 3, 7, 16, 64] {
            let got = String::from_utf8(in_pieces(engine, input.as_bytes(), size)).unwrap();
            assert_eq!(got, expected, "pieces of {size} on {input:?}");
        }
    }
}

#[test]
fn a_span_over_several_lines_keeps_its_newlines() {
    let key = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
    for (style, expected) in [
        (Style::Full, "a ********\n******** b"),
        (Style::Partial, "a ********\n******** b"),
        (Style::Label, "a [REDACTED:pem]\n[REDACTED:pem] b"),
    ] {
        let known = [KnownValue { name: "pem", value: key, public_prefix: None }];
        let engine = Engine::build(&known, None, Options { style, min_length: 6, scan: false });
        let masked = engine.mask_bytes(format!("a {key} b").as_bytes());
        assert_eq!(String::from_utf8(masked.clone()).unwrap(), expected, "{style:?}");
        assert_eq!(engine.mask_bytes(&masked), masked, "idempotent");
    }
    // The case the property test found: a private key between a keyword and a value kept
    // them on separate lines; joined by the mask, a second pass hid the value.
    let r = Registry::builtin();
    let engine = Engine::build(&[], Some(&r), Options { style: Style::Full, min_length: 6, scan: false });
    let hex = "0123456789abcdef0123456789abcdef";
    // A private key's first body line runs into the `https` of a URL holding a Twilio-shaped
    // value; the keyword is on the key's header line.
    let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIDJqOveSOiP5Xj/jyoQtCQU8cFqbwzQJM";
    let input = format!("twilio {pem}https://{hex}@x\n");
    let once = engine.mask_bytes(input.as_bytes());
    assert_eq!(engine.mask_bytes(&once), once);
}

/// Found by the idempotence property: a password over the URL pattern's old 128-character
/// bound was not hidden as a URL, the keys inside it were, and masking the shorter output
/// again then hid the URL — so the first pass had left pieces of the password.
#[test]
fn a_long_database_password_holding_other_keys_is_hidden_whole() {
    let r = Registry::builtin();
    let engine = Engine::build(&[], Some(&r), Options { style: Style::Full, min_length: 6, scan: false });
    for password in [
        format!("dZ{}glpat-U4yRMEZ6TO9HGPruS6AdZHoN3iOI3w", "x7".repeat(80)),
        // An access token as the password (Azure Entra ID): a JWT of some 2 KB.
        format!("eyJhbGciOiJIUzI1NiJ9.eyJ{}.{}", "a".repeat(1900), "b".repeat(43)),
    ] {
        let input = format!("url postgres://app:{password}@db.internal:5432 end\n");
        let once = engine.mask_bytes(input.as_bytes());
        assert_eq!(String::from_utf8_lossy(&once), "url ******** end\n");
        assert_eq!(engine.mask_bytes(&once), once);
    }
}

#[test]
fn overlapping_secrets_are_masked_as_their_union() {
    let engine = Engine::build(
        &[
            KnownValue { name: "a", value: "abcdefghij", public_prefix: None },
            KnownValue { name: "b", value: "ghijklmnop", public_prefix: None },
        ],
        None,
        Options { style: Style::Full, min_length: 6, scan: false },
    );
    assert_eq!(engine.mask_bytes(b"x abcdefghijklmnop y"), b"x ******** y");
}

/// A span inside another, or the same text found twice (a stored value that is also
/// provider-shaped), is not a merge: the outer span keeps its label and its public prefix.
#[test]
fn a_span_inside_another_keeps_the_outer_label() {
    let r = Registry::builtin();
    let ghp = format!("ghp_{}", "A1b2".repeat(9));
    let known = [KnownValue { name: "ci/github", value: &ghp, public_prefix: Some("ghp_") }];
    let label = Engine::build(&known, Some(&r), Options { style: Style::Label, min_length: 6, scan: false });
    let partial = Engine::build(&known, Some(&r), Options { style: Style::Partial, min_length: 6, scan: false });
    let input = format!("token {ghp} and x{ghp}\n");
    assert_eq!(
        String::from_utf8(label.mask_bytes(input.as_bytes())).unwrap(),
        "token [REDACTED:ci/github] and x[REDACTED:ci/github]\n"
    );
    assert_eq!(String::from_utf8(partial.mask_bytes(input.as_bytes())).unwrap(), "token ghp_…A1b2 and xghp_…A1b2\n");
}

/// The partial style never shows more than half a value, however long its public prefix.
#[test]
fn partial_shows_at_most_half_of_a_value() {
    let value = "acme_live_v1_abcdefgh";
    let known = [KnownValue { name: "acme", value, public_prefix: Some("acme_live_v1_") }];
    let engine = Engine::build(&known, None, Options { style: Style::Partial, min_length: 6, scan: false });
    assert_eq!(String::from_utf8(engine.mask_bytes(value.as_bytes())).unwrap(), "acme_live_…efgh");
}

/// A private key from its BEGIN line through its END line, in every style.
#[test]
fn a_private_key_is_masked_line_by_line_in_every_style() {
    let r = Registry::builtin();
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
    let input =
        format!("key:\n-----BEGIN RSA PRIVATE KEY-----\n{body}\n{body}\n-----END RSA PRIVATE KEY-----\nthe rest\n");
    for (style, expected) in [
        (Style::Full, "key:\n********\n********\n********\n********\nthe rest\n"),
        (Style::Partial, "key:\n********\n********\n********\n********\nthe rest\n"),
        (
            Style::Label,
            "key:\n[REDACTED:private-key]\n[REDACTED:private-key]\n[REDACTED:private-key]\n[REDACTED:private-key]\nthe rest\n",
        ),
    ] {
        let engine = Engine::build(&[], Some(&r), Options { style, min_length: 6, scan: false });
        let masked = engine.mask_bytes(input.as_bytes());
        assert_eq!(String::from_utf8(masked.clone()).unwrap(), expected, "{style:?}");
        assert_eq!(engine.mask_bytes(&masked), masked, "{style:?}: idempotent");
    }
}

/// A key written a line at a time by a slow writer (`exec` with a child that pauses): each line
/// is masked as it arrives, none is held back, and none is shown.
#[test]
fn a_private_key_written_line_by_line_is_masked_as_it_comes() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let engine =
        Engine::build(&[], Some(&Registry::builtin()), Options { style: Style::Full, min_length: 6, scan: false });
    let (reader, mut upstream) = std::io::pipe().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<Vec<u8>>();
    struct Sender(std::sync::mpsc::Sender<Vec<u8>>);
    impl Write for Sender {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            let _ = self.0.send(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let masking = std::thread::spawn(move || {
        let fd = reader.as_raw_fd();
        stream::mask_fd(&engine, reader, &mut Sender(tx), Some(fd))
    });
    let lines = [
        "  -----BEGIN OPENSSH PRIVATE KEY-----",
        "  b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
        "  QyNTUxOQAAACDnOq3VqTLIzp7wh6Sa1V1rL0Kx9xUc1K2h0n1Wm3Q5oQAAAJiYx6lCmMep",
        "  -----END OPENSSH PRIVATE KEY-----",
        "  done, and this line is not masked",
    ];
    for line in lines {
        upstream.write_all(format!("{line}\n").as_bytes()).unwrap();
        let got = rx.recv_timeout(std::time::Duration::from_secs(10)).expect("the line was held back");
        let got = String::from_utf8(got).unwrap();
        let want = if line.contains("done") { format!("{line}\n") } else { "  ********\n".to_owned() };
        assert_eq!(got, want);
    }
    drop(upstream);
    masking.join().unwrap().unwrap();
}

/// Scan-only patterns (credentials in a config file's own syntax) stay out of the mask engine,
/// which searches every byte for each literal it holds.
#[test]
fn scan_only_patterns_are_not_masked() {
    let r = Registry::builtin();
    let engine = Engine::build(&[], Some(&r), Options::default());
    let scan_only: Vec<&str> = r
        .providers
        .iter()
        .flat_map(|p| &p.patterns)
        .filter(|pat| pat.scan_only)
        .flat_map(|pat| pat.examples.iter().map(String::as_str))
        .collect();
    assert!(scan_only.len() >= 4, "{scan_only:?}");
    let line = "_authToken=Tr4vK9pLm2Xq8Wz5Hx7pLq2Wm9sRt4Vn\n";
    assert_eq!(engine.mask_bytes(line.as_bytes()), line.as_bytes());
}
