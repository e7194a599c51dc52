//! The masking engine as a differential target: the streaming engine, fed the input in
//! fuzzer-chosen chunks with a fuzzer-chosen block size, must give exactly what the simple
//! reference masker gives on the whole input, and no known secret may survive.
#![no_main]

use keyward::mask::{Engine, KnownValue, Options, Style, reference, stream};
use keyward::providers::Registry;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    // Layout: [block][style][n secrets], then secrets separated by 0xFF, then 0x00, then text;
    // the chunk sizes come from the text's own bytes.
    let block = data[0] as usize + 1;
    let style = [Style::Partial, Style::Full, Style::Label][data[1] as usize % 3];
    let rest = &data[3..];
    let (head, text) = match rest.iter().position(|&b| b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (&rest[..0], rest),
    };
    let secrets: Vec<String> = head
        .split(|&b| b == 0xFF)
        .filter_map(|s| std::str::from_utf8(s).ok())
        // A secret of dots alone would be found in the tail below.
        .filter(|s| s.len() >= 6 && !s.contains('\n') && !s.bytes().all(|b| b == b'.'))
        .take(data[2] as usize % 5)
        .map(str::to_owned)
        .collect();
    let known: Vec<KnownValue<'_>> =
        secrets.iter().map(|s| KnownValue { name: "s", value: s, public_prefix: None }).collect();
    thread_local! { static REGISTRY: Registry = Registry::builtin(); }
    REGISTRY.with(|registry| {
        let engine = Engine::build(&known, Some(registry), Options { style, min_length: 6, scan: false });
        // The stream cuts a block only `lookahead` bytes before the end of what it has read. A
        // line of dots that long after the text, and a first read of exactly that, make each
        // later read move the cut through the text; without them a text shorter than the
        // lookahead (some 8 KiB: a PEM body line of up to 8 KiB) would be masked in one piece whatever the chunks. No pattern
        // matches in a line of dots, so the reference runs without it (it is slow).
        let mut with_newline = text.to_vec();
        with_newline.push(b'\n');
        let mut expected = reference::mask(&engine, &with_newline);
        let dots = vec![b'.'; engine.lookahead() + 8];
        expected.extend_from_slice(&dots);
        let input = [&with_newline[..], &dots[..]].concat();
        let mut chunks = vec![&input[..engine.lookahead()]];
        let mut pos = engine.lookahead();
        for &b in text.iter().cycle().take(64) {
            if pos >= input.len() {
                break;
            }
            let end = (pos + b as usize % 17 + 1).min(input.len());
            chunks.push(&input[pos..end]);
            pos = end;
        }
        chunks.push(&input[pos..]);
        let mut streamed = Vec::new();
        stream::mask_chunks(&engine, &chunks, block, &mut streamed).unwrap();
        assert_eq!(streamed, expected);
        if style != Style::Partial {
            // Secrets our own masks could spell (`********`, `[REDACTED:…]`) are left out of this check.
            for s in secrets.iter().filter(|s| s.bytes().any(|b| b.is_ascii_digit()) && !s.contains('*')) {
                assert!(!streamed.windows(s.len()).any(|w| w == s.as_bytes()), "a secret survived");
            }
        }
    });
});
