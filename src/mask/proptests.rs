//! Property tests of the masking engine: no secret survives in any form, the rest of the text is
//! unchanged, chunk and block boundaries change nothing, the streaming engine agrees with the
//! simple reference, and masking is idempotent.

use data_encoding::{BASE64, BASE64URL};
use proptest::prelude::*;

use super::*;

/// Text that cannot form a secret, a prefix or a keyword: no letters.
fn filler() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ \n.,;:!?()0-9=\"'\\[\\]{}#*-]{0,60}").unwrap()
}

fn secret() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[A-Za-z][A-Za-z0-9_]{19,47}").unwrap()
}

/// Long values go through the q-gram filter, short ones (6 to 15 bytes) through an automaton:
/// the differential test needs both.
fn secret_of_any_length() -> impl Strategy<Value = String> {
    prop_oneof![secret(), proptest::string::string_regex("[A-Za-z][A-Za-z0-9_]{5,14}").unwrap()]
}

/// One of the forms a secret can take in a log.
fn encode(secret: &str, form: u8) -> String {
    match form % 5 {
        0 => secret.to_owned(),
        1 => BASE64.encode(secret.as_bytes()),
        2 => BASE64URL.encode(secret.as_bytes()).trim_end_matches('=').to_owned(),
        3 => forms::percent_encode(&format!("{secret}/?")),
        _ => {
            let json = serde_json::to_string(&format!("{secret}\"")).unwrap();
            json[1..json.len() - 1].to_owned()
        }
    }
}

fn chunked(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut chunks = Vec::new();
    let mut pos = 0;
    for &c in cuts {
        let end = (pos + c).min(input.len());
        chunks.push(input[pos..end].to_vec());
        pos = end;
    }
    chunks.push(input[pos..].to_vec());
    chunks
}

fn streamed(engine: &Engine, input: &[u8], cuts: &[usize], block: usize) -> Vec<u8> {
    let chunks = chunked(input, cuts);
    let refs: Vec<&[u8]> = chunks.iter().map(Vec::as_slice).collect();
    let mut out = Vec::new();
    stream::mask_chunks(engine, &refs, block, &mut out).unwrap();
    out
}

/// `input`, a newline and a line of dots as long as the stream's lookahead, and what the
/// reference gives for that. The stream cuts a block only that far before the end of what it has
/// read: without the tail, an input shorter than the lookahead (some 8 KiB with the built-in
/// patterns) is masked in one piece whatever the chunks. With it, and a first read of exactly
/// the lookahead ([`after_lookahead`]), each later read moves the cut through `input`. No pattern
/// matches in a line of dots, so the reference (every pattern tried at every position: slow)
/// runs without it.
fn with_tail(engine: &Engine, input: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let mut with_newline = input.to_vec();
    with_newline.push(b'\n');
    let mut want = reference::mask(engine, &with_newline);
    let dots = vec![b'.'; engine.lookahead() + 8];
    want.extend_from_slice(&dots);
    with_newline.extend_from_slice(&dots);
    (with_newline, want)
}

/// Chunk sizes for [`streamed`]: the lookahead first, then `cuts`.
fn after_lookahead(engine: &Engine, cuts: &[usize]) -> Vec<usize> {
    [&[engine.lookahead()][..], cuts].concat()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, .. ProptestConfig::default() })]

    #[test]
    fn no_secret_survives_and_the_rest_is_unchanged(
        secrets in proptest::collection::vec(secret(), 1..6),
        pieces in proptest::collection::vec((filler(), any::<prop::sample::Index>(), any::<u8>()), 1..12),
        tail in filler(),
        cuts in proptest::collection::vec(1usize..200, 0..20),
        block in 1usize..300,
    ) {
        let known: Vec<KnownValue<'_>> = secrets.iter().map(|s| KnownValue { name: "s", value: s, public_prefix: None }).collect();
        let engine = Engine::build(&known, None, Options { style: Style::Full, min_length: 6, scan: false });
        let mut input = String::new();
        let mut expected = String::new();
        for (text, which, form) in &pieces {
            let s = which.get(&secrets);
            input.push_str(text);
            expected.push_str(text);
            // Separators keep inserted secrets apart, so each becomes one mask.
            input.push(' ');
            expected.push(' ');
            let encoded = encode(s, *form);
            input.push_str(&encoded);
            // The percent and JSON forms carry a suffix that is not part of the secret.
            match form % 5 {
                3 => expected.push_str("********%2F%3F"),
                4 => expected.push_str("********\\\""),
                _ => expected.push_str("********"),
            }
            input.push(' ');
            expected.push(' ');
        }
        input.push_str(&tail);
        expected.push_str(&tail);

        let out = streamed(&engine, input.as_bytes(), &cuts, block);
        for s in &secrets {
            prop_assert!(!contains(&out, s.as_bytes()));
            prop_assert!(!contains(&out, BASE64.encode(s.as_bytes()).trim_end_matches('=').as_bytes()));
        }
        prop_assert_eq!(String::from_utf8(out.clone()).unwrap(), expected);
        prop_assert_eq!(out, engine.mask_bytes(input.as_bytes()));
    }

    #[test]
    fn streaming_agrees_with_the_reference_on_any_bytes(
        secrets in proptest::collection::vec(secret_of_any_length(), 0..4),
        text in proptest::collection::vec(prop_oneof![
            4 => any::<u8>(),
            4 => proptest::sample::select(b"abcdefghijklmnopqrstuvwxyz_ -=\n".to_vec()),
        ], 0..600),
        inserts in proptest::collection::vec((any::<prop::sample::Index>(), any::<prop::sample::Index>(), any::<u8>()), 0..6),
        cuts in proptest::collection::vec(1usize..100, 0..20),
        block in 1usize..200,
        style in prop_oneof![Just(Style::Partial), Just(Style::Full), Just(Style::Label)],
    ) {
        let registry = Registry::builtin();
        let samples: Vec<&str> = registry.providers.iter().flat_map(|p| p.patterns.iter().flat_map(|pat| pat.examples.iter().map(String::as_str))).collect();
        let known: Vec<KnownValue<'_>> = secrets.iter().map(|s| KnownValue { name: "s", value: s, public_prefix: None }).collect();
        let engine = Engine::build(&known, Some(&registry), Options { style, min_length: 6, scan: false });
        let mut input = text.clone();
        // The same pieces, each on a line of its own, so none lands inside another.
        let mut apart = text.clone();
        for (at, which, kind) in &inserts {
            let piece: Vec<u8> = if kind % 3 == 0 && !secrets.is_empty() {
                encode(which.get::<String>(&secrets), *kind).into_bytes()
            } else if kind % 3 == 1 {
                let sample = which.get(&samples);
                format!("datadog aws twilio {sample}").into_bytes()
            } else {
                which.get(&samples).as_bytes().to_vec()
            };
            let pos = at.index(apart.len() + 1);
            apart.splice(pos..pos, [&b"\n"[..], &piece, b"\n"].concat());
            let pos = at.index(input.len() + 1);
            input.splice(pos..pos, piece);
        }
        let (input, want) = with_tail(&engine, &input);
        prop_assert_eq!(&streamed(&engine, &input, &after_lookahead(&engine, &cuts), block), &want);
        prop_assert_eq!(&engine.mask_bytes(&input), &want);
        // Idempotent: masking the output again changes nothing. Not checked on pieces inside
        // pieces: a key holding a `/` inside a database URL's password keeps the URL from
        // matching, and once the key is masked, the URL matches.
        let once = engine.mask_bytes(&apart);
        prop_assert_eq!(&engine.mask_bytes(&once), &once);
    }
}

/// A user's provider with every kind of pattern the built-in ones do not all have: a literal
/// prefix without a `prefix` group, no literal at all (searched everywhere), and keyword-gated,
/// with keywords holding word boundaries (`_`, a space) and one inside another.
fn users_registry() -> Registry {
    use crate::providers::{PatternDef, ProviderDef};
    let pattern = |kind: &str, regex: &str, max_len: usize, near_keyword: bool| PatternDef {
        near_keyword,
        ..PatternDef::new(kind, regex, max_len)
    };
    let acme = ProviderDef {
        name: Some("Acme".into()),
        // `acme_keyvalue123`: the part after `_` fits the gated pattern.
        keywords: Some(vec![
            "acme_key".into(),
            "acmekey".into(),
            "acme key".into(),
            "key".into(),
            "acme_keyvalue123".into(),
        ]),
        patterns: Some(vec![
            pattern("token", "acme_[a-z0-9]{10}", 15, false),
            pattern("account", "[A-Z]{4}[0-9]{12}", 16, false),
            pattern("secret", "[a-z0-9]{10,20}", 20, true),
        ]),
        ..Default::default()
    };
    Registry::load(&[("acme".into(), acme)], None).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn streaming_agrees_with_the_reference_on_a_users_patterns(
        tokens in proptest::collection::vec(proptest::sample::select(vec![
            "acme_key", "acmekey", "acme key", "key", "acme_keyvalue123", "acme_", "ABCD", "0123456789", "abcdefghij",
            "a1b2c3", " ", " ", "\n", "_", "x", "=", "é", "[REDACTED:acme]", "[REDACTED:", "********",
        ]), 0..80),
        cuts in proptest::collection::vec(1usize..30, 0..40),
        block in 1usize..64,
        style in prop_oneof![Just(Style::Partial), Just(Style::Full), Just(Style::Label)],
    ) {
        // Built once: the registry holds the built-in providers too.
        static ENGINES: std::sync::OnceLock<Vec<(Style, Engine)>> = std::sync::OnceLock::new();
        let engines = ENGINES.get_or_init(|| {
            let registry = users_registry();
            [Style::Partial, Style::Full, Style::Label]
                .into_iter()
                .map(|style| (style, Engine::build(&[], Some(&registry), Options { style, min_length: 6, scan: false })))
                .collect()
        });
        let engine = &engines.iter().find(|(s, _)| *s == style).unwrap().1;
        let (input, want) = with_tail(engine, tokens.concat().as_bytes());
        prop_assert_eq!(&streamed(engine, &input, &after_lookahead(engine, &cuts), block), &want);
        prop_assert_eq!(&engine.mask_bytes(&input), &want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// PEM keys in every layout (indented, CRLF, headers, blank lines, prose in the middle, keys
    /// back to back, markers inside longer lines): the stream masks them as the reference does,
    /// wherever the reads and blocks are cut, and masking the output again changes nothing.
    #[test]
    fn private_keys_stream_as_the_reference_masks_them(
        lines in proptest::collection::vec(prop_oneof![
            3 => Just("-----BEGIN RSA PRIVATE KEY-----".to_owned()),
            2 => Just("  -----BEGIN OPENSSH PRIVATE KEY-----  \r".to_owned()),
            2 => Just("-----END RSA PRIVATE KEY-----".to_owned()),
            6 => "[ \t]{0,3}[A-Za-z0-9+/=]{1,70}[ \t\r]{0,2}",
            // Longer than the keyword context the stream keeps anyway: the line start must be kept.
            1 => "[A-Za-z0-9+/=]{200,400}",
            1 => Just("Proc-Type: 4,ENCRYPTED".to_owned()),
            1 => Just(String::new()),
            2 => "[a-z ,.]{1,30}",
            1 => "[a-z0-9]{1,10} [a-z0-9]{200,300}",
            1 => "key: -----BEGIN EC PRIVATE KEY-----[ a-z]{0,3}",
            // A key on one line: escaped newlines (JSON) or spaces (`echo $KEY`), with or
            // without its END marker.
            2 => ("[A-Za-z0-9+/=]{8,40}", "[A-Za-z0-9+/=]{0,40}", any::<bool>(), any::<bool>()).prop_map(|(a, b, escaped, end)| {
                let sep = if escaped { "\\n" } else { " " };
                let end = if end { format!("{sep}-----END PRIVATE KEY-----") } else { String::new() };
                format!("\"k\": \"-----BEGIN PRIVATE KEY-----{sep}{a}{sep}{b}{end}\", more")
            }),
        ], 0..30),
        cuts in proptest::collection::vec(1usize..100, 0..20),
        block in 1usize..200,
        style in prop_oneof![Just(Style::Partial), Just(Style::Full), Just(Style::Label)],
    ) {
        static ENGINES: std::sync::OnceLock<Vec<(Style, Engine)>> = std::sync::OnceLock::new();
        let engines = ENGINES.get_or_init(|| {
            let registry = Registry::builtin();
            [Style::Partial, Style::Full, Style::Label]
                .into_iter()
                .map(|style| (style, Engine::build(&[], Some(&registry), Options { style, min_length: 6, scan: false })))
                .collect()
        });
        let engine = &engines.iter().find(|(s, _)| *s == style).unwrap().1;
        let text = lines.join("\n");
        let (input, want) = with_tail(engine, text.as_bytes());
        prop_assert_eq!(&streamed(engine, &input, &after_lookahead(engine, &cuts), block), &want);
        prop_assert_eq!(&engine.mask_bytes(&input), &want);
        prop_assert_eq!(&engine.mask_bytes(&want), &want);
    }
}

/// What `with_tail` assumes: the reference gives the tail back unchanged.
#[test]
fn a_line_of_dots_is_left_alone() {
    let registry = Registry::builtin();
    let engine = Engine::build(&[], Some(&registry), Options::default());
    let input = b"key: ghp_Um8SscuzM2fwc3gsTIG02FE2xNh4yblVdHnO postgres://a:b1b2b3b4@db.x.y";
    let (with_tail, want) = with_tail(&engine, input);
    assert_eq!(reference::mask(&engine, &with_tail), want);
}

#[test]
fn every_provider_sample_is_masked_and_look_alikes_are_not() {
    let registry = Registry::builtin();
    let engine = Engine::build(&[], Some(&registry), Options { style: Style::Full, min_length: 6, scan: false });
    for p in &registry.providers {
        for pat in p.patterns.iter().filter(|pat| !pat.scan_only) {
            for e in &pat.examples {
                let line =
                    if pat.near_keyword { format!("{}_key = \"{e}\"\n", p.keywords[0]) } else { format!("x {e} y\n") };
                let out = String::from_utf8(engine.mask_bytes(line.as_bytes())).unwrap();
                assert!(!out.contains(e.as_str()), "{}/{}: {e} survived in {out:?}", p.id, pat.kind);
            }
        }
    }
    for look_alike in [
        "sk_live_short",
        "ghp_tooShort123",
        "the commit 0123456789abcdef0123456789abcdef0123 landed",
        "uuid 123e4567-e89b-12d3-a456-426614174000 in a log",
        "AKIA is a prefix only",
        "xoxb-not-a-token",
    ] {
        let out = engine.mask_bytes(look_alike.as_bytes());
        assert_eq!(String::from_utf8(out).unwrap(), look_alike);
    }
}

#[test]
fn long_lines_crlf_and_invalid_utf8_pass_through() {
    let secret = "internal-secret-value-0001";
    let engine = Engine::build(
        &[KnownValue { name: "s", value: secret, public_prefix: None }],
        None,
        Options { style: Style::Full, min_length: 6, scan: false },
    );
    let mut line = vec![b'x'; 1 << 20];
    line.extend_from_slice(secret.as_bytes());
    line.extend_from_slice(b"\r\n\xff\xfe\x80 ok");
    line.extend(std::iter::repeat_n(b'y', 1 << 20));
    let out = engine.mask_bytes(&line);
    assert!(!contains(&out, secret.as_bytes()));
    assert_eq!(out.len(), line.len() - secret.len() + FULL_MASK.len());
    assert!(contains(&out, b"********\r\n\xff\xfe\x80 ok"));
}

#[test]
fn short_values_follow_min_length() {
    let known = [KnownValue { name: "pin", value: "12345", public_prefix: None }];
    let engine = Engine::build(&known, None, Options { style: Style::Full, min_length: 6, scan: false });
    assert_eq!(engine.mask_bytes(b"pin 12345"), b"pin 12345");
    let engine = Engine::build(&known, None, Options { style: Style::Full, min_length: 4, scan: false });
    assert_eq!(engine.mask_bytes(b"pin 12345"), b"pin ********");
}

#[test]
fn partial_shows_the_public_prefix_and_four_characters_only_for_long_values() {
    let long = format!("sk_live_{}", "a1".repeat(12));
    let known = [
        KnownValue { name: "stripe", value: &long, public_prefix: Some("sk_live_") },
        KnownValue { name: "short", value: "short-secret-1", public_prefix: None },
    ];
    let engine = Engine::build(&known, None, Options::default());
    let out = String::from_utf8(engine.mask_bytes(format!("{long} short-secret-1").as_bytes())).unwrap();
    assert_eq!(out, "sk_live_…a1a1 ********");
    let b64 = BASE64.encode(long.as_bytes());
    let out = String::from_utf8(engine.mask_bytes(b64.as_bytes())).unwrap();
    assert_eq!(out, "********", "encoded forms are masked in full");
}
