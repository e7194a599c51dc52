//! A deliberately simple masker over the whole input at once, with no filter, no automaton and no
//! blocks: every literal is searched at every position, every pattern tried at every position.
//! The property tests and the fuzzer check the streaming engine against it.

use super::{Engine, Span, Window, inside_label};

/// Every span the engine's rules define in `input`.
pub fn spans(engine: &Engine, input: &[u8]) -> Vec<Span> {
    let mut out = Vec::new();
    for (bytes, label) in engine.known_literals() {
        for start in 0..input.len() {
            if input[start..].starts_with(bytes) {
                out.push(Span { start, end: start + bytes.len(), label, prefix_len: 0 });
            }
        }
    }
    for (id, pattern) in engine.patterns.iter().enumerate() {
        match engine.keywords_of(id as u32) {
            Some(keywords) => {
                // Per line: from the end of the first keyword (outside our labels) to the line's end.
                let mut line_start = 0;
                for line in input.split(|&b| b == b'\n') {
                    let line_end = line_start + line.len();
                    let first = (line_start..line_end)
                        .filter_map(|k| {
                            let longest =
                                keywords.iter().filter(|kw| input[k..].starts_with(kw)).map(std::vec::Vec::len).max();
                            longest.map(|len| (k, k + len))
                        })
                        .find(|&(k, _)| !inside_label(input, k))
                        .map(|(_, end)| end);
                    if let Some(kw_end) = first {
                        let whole = Window { hay: input, from: 0, until: usize::MAX, eof: true };
                        engine.gated(whole, kw_end, line_end, id as u32, &mut out);
                    }
                    line_start = line_end + 1;
                }
            }
            None if engine.is_unfiltered(id as u32) => {
                for m in pattern.regexes.unanchored().find_iter(input) {
                    if m.len() <= pattern.max_len {
                        out.push(Span { start: m.start(), end: m.end(), label: pattern.label, prefix_len: 0 });
                    }
                }
            }
            None => {
                for start in 0..input.len() {
                    engine.anchored(input, start, id as u32, &mut out);
                }
            }
        }
    }
    if let Some((marker, label)) = engine.pem() {
        for r in super::pem::reference_spans(marker, input) {
            out.push(Span { start: r.start, end: r.end, label, prefix_len: 0 });
        }
    }
    out
}

/// The masked output.
pub fn mask(engine: &Engine, input: &[u8]) -> Vec<u8> {
    let mut spans = spans(engine, input);
    Engine::merge(&mut spans);
    let mut out = Vec::with_capacity(input.len());
    let mut pos = 0;
    for s in &spans {
        out.extend_from_slice(&input[pos..s.start]);
        engine.replacement(s, &input[s.start..s.end], &mut out);
        pos = s.end;
    }
    out.extend_from_slice(&input[pos..]);
    out
}
