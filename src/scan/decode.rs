//! Encoded content: runs of base64 and percent-encoded text are decoded and scanned again, to a
//! bounded depth (as gitleaks' `--max-decode-depth`), so a key inside a base64 Kubernetes secret
//! or a URL-encoded connection string is found.

use data_encoding::{BASE64, BASE64_NOPAD, BASE64URL, BASE64URL_NOPAD};

/// Decoding levels: base64 of base64 is found, a third layer is not looked into.
pub const MAX_DEPTH: u8 = 2;
/// Runs shorter than this are not worth decoding (a 24-character key in base64 is 32).
const MIN_RUN: usize = 32;
/// Runs longer than this are not decoded: the streaming look-ahead bounds what one match may span.
pub const MAX_RUN: usize = 8192;

/// How a region was decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Base64,
    Percent,
}

impl Encoding {
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Base64 => "base64",
            Encoding::Percent => "percent-encoded",
        }
    }
}

fn is_b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_')
}

/// Calls `found(start, end, encoding, decoded)` for each decodable run starting in `from..until`
/// whose decoded bytes are mostly text.
pub fn find(hay: &[u8], from: usize, until: usize, mut found: impl FnMut(usize, usize, Encoding, &[u8])) {
    let mut i = from;
    while i < until {
        if !is_b64(hay[i]) || (i > 0 && is_b64(hay[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        let mut end = i;
        while end < hay.len() && end - start < MAX_RUN && is_b64(hay[end]) {
            end += 1;
        }
        i = end.max(i + 1);
        if end - start < MIN_RUN {
            continue;
        }
        let mut padded = end;
        while padded < hay.len() && padded - end < 2 && hay[padded] == b'=' {
            padded += 1;
        }
        if let Some(text) = base64(&hay[start..end]) {
            found(start, padded, Encoding::Base64, &text);
        }
    }
    // Percent-encoding: a token with at least one %XX escape of a character that matters.
    let mut at = from;
    while let Some(p) = memchr::memchr(b'%', &hay[at..until]) {
        let pct = at + p;
        let token_start =
            hay[..pct].iter().rposition(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\'')).map_or(0, |i| i + 1);
        let token_end = hay[pct..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || matches!(b, b'"' | b'\''))
            .map_or(hay.len(), |i| pct + i);
        at = token_end.min(until).max(pct + 1);
        // A token is decoded once, at its first escape.
        if memchr::memchr(b'%', &hay[token_start..pct]).is_some() || token_end - token_start > MAX_RUN {
            continue;
        }
        if let Some(text) = percent(&hay[token_start..token_end]) {
            found(token_start.max(from), token_end, Encoding::Percent, &text);
        }
        if at >= until {
            break;
        }
    }
}

/// Decodes a base64 run (standard or URL alphabet, padded or not) when the result is text.
fn base64(run: &[u8]) -> Option<Vec<u8>> {
    // Hex digests and plain words are base64-alphabet runs that decode to noise: skip them cheaply.
    let upper = run.iter().any(u8::is_ascii_uppercase);
    let lower = run.iter().any(u8::is_ascii_lowercase);
    if !(upper && lower) {
        return None;
    }
    let url = run.iter().any(|b| matches!(b, b'-' | b'_'));
    let usable = run.len() - run.len() % 4;
    let engine = match (url, run.len().is_multiple_of(4)) {
        (false, true) => &BASE64,
        (false, false) => &BASE64_NOPAD,
        (true, true) => &BASE64URL,
        (true, false) => &BASE64URL_NOPAD,
    };
    let body = if run.len() % 4 == 1 { &run[..usable] } else { run };
    let decoded = engine.decode(body).or_else(|_| BASE64_NOPAD.decode(&run[..usable])).ok()?;
    is_text(&decoded).then_some(decoded)
}

fn percent(token: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(token.len());
    let mut escapes = 0;
    let mut i = 0;
    while i < token.len() {
        if token[i] == b'%'
            && i + 2 < token.len()
            && let (Some(h), Some(l)) = (hex(token[i + 1]), hex(token[i + 2]))
        {
            out.push(h << 4 | l);
            escapes += 1;
            i += 3;
        } else {
            out.push(token[i]);
            i += 1;
        }
    }
    (escapes > 0 && is_text(&out)).then_some(out)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Mostly printable ASCII or UTF-8 text.
fn is_text(bytes: &[u8]) -> bool {
    if bytes.len() < 12 {
        return false;
    }
    let printable = bytes.iter().filter(|b| b.is_ascii_graphic() || b.is_ascii_whitespace()).count();
    printable * 100 >= bytes.len() * 90
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(text: &str) -> Vec<(Encoding, String)> {
        let mut out = Vec::new();
        find(text.as_bytes(), 0, text.len(), |_, _, e, d| out.push((e, String::from_utf8_lossy(d).into_owned())));
        out
    }

    #[test]
    fn base64_text_is_decoded_and_noise_is_not() {
        let inner = "STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc";
        let b64 = BASE64.encode(inner.as_bytes());
        assert_eq!(decoded(&format!("data: {b64}\n")), vec![(Encoding::Base64, inner.to_owned())]);
        let url = BASE64URL_NOPAD.encode(inner.as_bytes());
        assert_eq!(decoded(&format!("x={url}")), vec![(Encoding::Base64, inner.to_owned())]);
        // A sha256 digest, a random key and a long word are not text once decoded.
        assert!(decoded("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855").is_empty());
        assert!(decoded("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEYa").is_empty());
    }

    #[test]
    fn percent_encoded_tokens_are_decoded() {
        let out = decoded("DATABASE_URL=postgres://app:p%40ss%2Fw0rd-Zq81@db:5432/app");
        assert_eq!(out, vec![(Encoding::Percent, "DATABASE_URL=postgres://app:p@ss/w0rd-Zq81@db:5432/app".to_owned())]);
        assert!(decoded("100% sure").is_empty());
    }
}
