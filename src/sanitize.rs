//! Text safe to print on a terminal: whatever keyward shows from a vault, an audit log or a
//! config was written by someone else and may hold escape sequences. The CLI layer's output
//! passes everything through here; the core uses it for text it builds for display (previews,
//! notices).

/// Makes text safe to print on a terminal: control characters (escape sequences included) are
/// shown as `\u{..}` escapes instead of being interpreted.
pub fn sanitize(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars().map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

/// [`sanitize`] line by line: a message may run over several lines.
pub fn sanitize_lines(text: &str) -> String {
    text.split('\n').map(sanitize).collect::<Vec<_>>().join("\n")
}

/// "a" or "an" before `word`, by its first letter (an OpenAI key, an AWS key, a Stripe key).
pub fn article(word: &str) -> &'static str {
    if word.starts_with(|c: char| "AEIOUaeiou".contains(c)) { "an" } else { "a" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_neutralized() {
        assert_eq!(sanitize("plain"), "plain");
        let s = sanitize("a\u{1b}]0;pwned\u{7}b\nc");
        assert!(!s.chars().any(char::is_control));
        assert!(s.contains("\\u{1b}"));
        assert_eq!(sanitize_lines("a\nb\u{1b}[2J\n"), "a\nb\\u{1b}[2J\n");
    }
}
