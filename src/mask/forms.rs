//! The forms in which a known value can show up in text: itself, each line of a multi-line value,
//! and its common encodings — base64 (standard and URL-safe, padded or not, and the "shifted"
//! forms that appear when the value sits at byte offset 1 or 2 of a larger encoded string, as in
//! `base64("user:" + secret)`), percent-encoding and JSON string escaping. GitHub Actions masks
//! the same set.

use data_encoding::{BASE64, BASE64URL, Encoding};
use zeroize::Zeroizing;

/// One literal to hide, and whether it may be shown partially (only the value itself may). The
/// bytes are a secret, wiped when dropped.
pub struct Form {
    pub bytes: Zeroizing<Vec<u8>>,
    pub partial: bool,
}

/// A copy of `bytes` in a wiped-on-drop buffer of exactly their size.
fn secret_copy(bytes: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(bytes.to_vec())
}

/// Every form of `value` that is at least `min_len` bytes long.
///
/// Every buffer here holds a secret: each is wiped when dropped and sized up front, so none is
/// reallocated (which would free an unwiped copy).
pub fn forms(value: &str, min_len: usize) -> Vec<Form> {
    let mut out: Vec<Form> = Vec::new();
    let mut push = |bytes: Zeroizing<Vec<u8>>, partial: bool| {
        if bytes.len() >= min_len && !out.iter().any(|f| f.bytes == bytes) {
            out.push(Form { bytes, partial });
        }
    };
    if value.len() < min_len {
        return Vec::new();
    }
    let lines: Vec<&str> = value.split(['\n', '\r']).filter(|l| !l.is_empty()).collect();
    if lines.len() > 1 {
        for line in lines {
            push(secret_copy(line.as_bytes()), false);
        }
    } else {
        push(secret_copy(value.as_bytes()), true);
    }
    for encoding in [&BASE64, &BASE64URL] {
        for form in base64_forms(encoding, value.as_bytes()) {
            push(form, false);
        }
    }
    for case in [HexCase::Upper, HexCase::Lower] {
        push(Zeroizing::new(percent_encode_with(value, case).into_bytes()), false);
    }
    for mut json in json_forms(value) {
        push(Zeroizing::new(std::mem::take(&mut *json).into_bytes()), false);
    }
    out
}

/// JSON string escapings of a value, without the quotes: serde's (and most encoders'), with `/`
/// escaped as `\/` (PHP, some Java encoders), and Go's HTML-safe one (`&`, `<`, `>` as `\u0026`,
/// `\u003c`, `\u003e`, and U+2028/2029), alone and with `\/`.
fn json_forms(value: &str) -> Vec<Zeroizing<String>> {
    // serde escapes a byte into at most 6 (`\u00XX`), plus the quotes: room for all of it.
    let mut json = Zeroizing::new(Vec::with_capacity(value.len() * 6 + 2));
    serde_json::to_writer(&mut *json, value).expect("a string serializes");
    let plain = std::str::from_utf8(&json[1..json.len() - 1]).expect("JSON is UTF-8");
    let go = replaced(
        plain,
        &[('&', "\\u0026"), ('<', "\\u003c"), ('>', "\\u003e"), ('\u{2028}', "\\u2028"), ('\u{2029}', "\\u2029")],
    );
    let slashed = |s: &str| replaced(s, &[('/', "\\/")]);
    vec![slashed(plain), slashed(&go), replaced(&go, &[]), replaced(plain, &[])]
}

/// `text` with each listed character replaced, in a wiped buffer sized for the longest result
/// (no replacement is more than 6 times its character).
fn replaced(text: &str, replacements: &[(char, &str)]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(text.len() * 6));
    for c in text.chars() {
        match replacements.iter().find(|(from, _)| *from == c) {
            Some((_, to)) => out.push_str(to),
            None => out.push(c),
        }
    }
    out
}

/// The standalone encoding (padded and not), plus, for the value at byte offsets 0, 1 and 2 of a
/// longer encoded string, the characters that depend on the value alone.
fn base64_forms(encoding: &Encoding, value: &[u8]) -> Vec<Zeroizing<Vec<u8>>> {
    let mut out = Vec::new();
    // data-encoding writes into a buffer of exactly the encoded length.
    let full = Zeroizing::new(encoding.encode(value));
    out.push(secret_copy(full.trim_end_matches('=').as_bytes()));
    out.push(secret_copy(full.as_bytes()));
    for shift in 0..3usize {
        let mut shifted = Zeroizing::new(Vec::with_capacity(shift + value.len()));
        shifted.resize(shift, 0);
        shifted.extend_from_slice(value);
        let encoded = Zeroizing::new(encoding.encode(&shifted));
        // The first characters mix the preceding bytes in; the last group mixes the following
        // ones (or padding) in. Keep whole 4-character groups made only of value bytes.
        let first_clean_group = shift.div_ceil(3); // groups touched by the shift bytes
        let total = shifted.len();
        let last_clean_group = total / 3; // groups wholly inside the input
        if last_clean_group > first_clean_group {
            out.push(secret_copy(&encoded.as_bytes()[first_clean_group * 4..last_clean_group * 4]));
        }
    }
    out
}

/// RFC 3986 percent-encoding: everything but unreserved characters, upper-case hex.
pub fn percent_encode(value: &str) -> String {
    percent_encode_with(value, HexCase::Upper)
}

/// Which hex digits an encoder writes: RFC 3986 recommends upper case, some write `%2f`.
#[derive(Clone, Copy)]
enum HexCase {
    Upper,
    Lower,
}

/// Percent-encodes into a buffer sized for the longest result (3 bytes per byte), so it is never
/// reallocated.
fn percent_encode_with(value: &str, case: HexCase) -> String {
    let digits: &[u8; 16] = match case {
        HexCase::Upper => b"0123456789ABCDEF",
        HexCase::Lower => b"0123456789abcdef",
    };
    let mut out = String::with_capacity(value.len() * 3);
    for &b in value.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(digits[usize::from(b >> 4)] as char);
            out.push(digits[usize::from(b & 0xf)] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn every_offset_of_a_base64_stream_is_caught() {
        let secret = "s3cr3t-VALUE/with+chars";
        let all = forms(secret, 6);
        for prefix in ["", "u", "us", "user:", "ab:cd:e"] {
            for enc in [&BASE64, &BASE64URL] {
                let stream = enc.encode(format!("{prefix}{secret}!!").as_bytes());
                assert!(
                    all.iter().any(|f| contains(stream.as_bytes(), &f.bytes)),
                    "base64 of {prefix:?} + secret not covered"
                );
            }
        }
    }

    #[test]
    fn multi_line_values_are_masked_line_by_line_and_short_ones_not_at_all() {
        let f = forms("-----BEGIN KEY-----\nMIIEabcdefgh\n-----END KEY-----", 6);
        assert!(f.iter().any(|f| f.bytes[..] == *b"MIIEabcdefgh" && !f.partial));
        assert!(forms("abc", 6).is_empty());
        let f = forms("a b/c?d=e&f", 6);
        assert!(f.iter().any(|f| f.bytes[..] == *b"a%20b%2Fc%3Fd%3De%26f"));
        let f = forms("quote\"back\\slash", 6);
        assert!(f.iter().any(|f| f.bytes[..] == *br#"quote\"back\\slash"#));
    }

    #[test]
    fn the_minimum_length_is_inclusive_and_applies_to_the_value_not_its_encodings() {
        // Found by mutation testing: a value below the minimum has longer encoded forms, which
        // must not be masked either; a value of exactly the minimum is masked.
        assert!(forms("abcde", 6).is_empty());
        assert!(forms("abcdef", 6).iter().any(|f| f.bytes[..] == *b"abcdef" && f.partial));
        let lines = forms("a-long-first-line\nab", 6);
        assert!(!lines.iter().any(|f| f.bytes[..] == *b"ab"), "a short line is not a form");
    }

    #[test]
    fn shifted_forms_are_the_whole_groups_the_value_alone_decides() {
        // Found by mutation testing: slicing one group too far in or out still matched the
        // tests above, but leaves 4 characters of the encoded secret visible.
        let value = b"0123456789abcdefghijklmn"; // 24 bytes: 8 whole groups
        let f = base64_forms(&BASE64, value);
        let shifted = |n: usize| {
            let mut v = vec![0u8; n];
            v.extend_from_slice(value);
            BASE64.encode(&v)
        };
        assert_eq!(f.len(), 5);
        assert_eq!(f[2][..], shifted(0).as_bytes()[..32]);
        assert_eq!(f[3][..], shifted(1).as_bytes()[4..32]);
        assert_eq!(f[4][..], shifted(2).as_bytes()[4..32]);
        // A value too short to have a whole group at offsets 1 and 2 gives no shifted form there.
        assert_eq!(base64_forms(&BASE64, b"abc").len(), 3);
    }

    #[test]
    fn the_encodings_other_encoders_write_are_forms_too() {
        let f = forms("a/b&c<d>e", 6);
        let has = |text: &str| f.iter().any(|f| f.bytes[..] == *text.as_bytes());
        assert!(has("a%2Fb%26c%3Cd%3Ee"), "upper-case percent-encoding");
        assert!(has("a%2fb%26c%3cd%3ee"), "lower-case percent-encoding");
        assert!(has("a/b&c<d>e"), "the value itself");
        assert!(has(r"a\/b&c<d>e"), "JSON with an escaped slash");
        assert!(has(r"a/b\u0026c\u003cd\u003ee"), "Go's HTML-safe JSON");
        assert!(has(r"a\/b\u0026c\u003cd\u003ee"), "both");
    }

    #[test]
    fn each_form_once() {
        // A plain value is its own percent-encoding and JSON escaping: listed once.
        let f = forms("plainvalue123", 6);
        let mut bytes: Vec<&[u8]> = f.iter().map(|f| f.bytes.as_slice()).collect();
        let all = bytes.len();
        bytes.sort();
        bytes.dedup();
        assert_eq!(bytes.len(), all);
        assert_eq!(f.iter().filter(|f| f.bytes[..] == *b"plainvalue123").count(), 1);
    }
}
