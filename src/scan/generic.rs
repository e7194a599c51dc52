//! The generic rule: a high-entropy value assigned to a key-like name (`api_key = "…"`,
//! `"client_secret": "…"`, `PASSWORD=…`), for the secrets no provider pattern knows.
//!
//! A keyword search (case-insensitive, one automaton) finds candidate lines; only those run the
//! assignment regex. A value counts when it is long enough, mixes character classes, has high
//! Shannon entropy, and is neither a placeholder (`xxxx`, `<your-key>`, `${VAR}`, `changeme`) nor
//! a reference to somewhere else (`os.environ[...]`, `settings.API_KEY`, `$TOKEN`).

use aho_corasick::{AhoCorasick, MatchKind};
use regex::bytes::Regex;

/// The rule's id in findings, config files and SARIF.
pub const RULE: &str = "generic-assignment";

const MIN_LEN: usize = 12;
const MAX_LEN: usize = 200;
/// Bits per character: random base64 is near 5-6, random hex near 3.8, English words below 3.
const MIN_ENTROPY: f64 = 3.0;

/// The longest assignment the regex can match, for the streaming look-ahead.
pub const MAX_MATCH: usize = 64 + 16 + MAX_LEN;

pub struct Generic {
    keywords: AhoCorasick,
    assignment: Regex,
}

impl Default for Generic {
    fn default() -> Self {
        Self::new()
    }
}

impl Generic {
    pub fn new() -> Generic {
        let keywords = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .match_kind(MatchKind::LeftmostFirst)
            .build(["key", "secret", "token", "passw", "pwd", "credential"])
            .expect("static keywords build");
        // name, optional closing quote, an assignment operator, an optional opening quote, value.
        let assignment = Regex::new(
            r#"(?i-u)\b(?P<name>[a-z0-9_.\-]{0,40}(?:api[_.\-]?key|apikey|secret|token|passw(?:or)?d|passwd|pwd|auth[_.\-]?key|access[_.\-]?key|private[_.\-]?key|(?:signing|encryption|master|app|license|service|hmac|jwt|shared|session)[_.\-]?key|credentials?)[a-z0-9_.\-]{0,20})["']?[ \t]{0,4}(?::=|=>|==|=|:|[ \t])[ \t]{0,4}(?:[a-z]?["'`])?(?P<value>[^\s"'`;,\\<>(){}\[\]]{12,200})"#,
        )
        .expect("the assignment regex compiles");
        Generic { keywords, assignment }
    }

    /// Calls `found(value_start, value_end, name)` for each assignment whose value starts in
    /// `from..until` (positions in `hay`; `hay` holds enough before `from` and after `until`
    /// for a whole assignment).
    pub fn find(&self, hay: &[u8], from: usize, until: usize, mut found: impl FnMut(usize, usize, &[u8])) {
        let mut matches: Vec<(usize, usize, usize, usize)> = Vec::new();
        let mut searched_to = 0;
        // The keyword of a value just after `from` may lie before it: look there too.
        let hits = self.keywords.find_iter(&hay[from..until]).map(|m| from + m.start());
        for at in std::iter::once(from.saturating_sub(64)).chain(hits) {
            if at < searched_to {
                continue;
            }
            let line_start = memchr::memrchr(b'\n', &hay[..at]).map_or(0, |i| i + 1);
            let start = line_start.max(at.saturating_sub(64));
            let end = memchr::memchr(b'\n', &hay[at..]).map_or(hay.len(), |i| at + i).min(at + MAX_MATCH);
            searched_to = end;
            for c in self.assignment.captures_iter(&hay[start..end]) {
                let (name, value) = (c.name("name").expect("group"), c.name("value").expect("group"));
                let v = (start + value.start(), start + value.end());
                if v.0 >= from && v.0 < until && accept(&hay[v.0..v.1]) {
                    matches.push((v.0, v.1, start + name.start(), start + name.end()));
                }
            }
        }
        matches.sort_unstable();
        matches.dedup_by_key(|m| m.0);
        for (s, e, ns, ne) in matches {
            found(s, e, &hay[ns..ne]);
        }
    }
}

/// Whether an assigned value looks like a real secret.
pub fn accept(value: &[u8]) -> bool {
    let Ok(value) = std::str::from_utf8(value) else { return false };
    let value = value.trim_end_matches(['.', ':']);
    if value.len() < MIN_LEN || value.len() > MAX_LEN || is_generic_placeholder(value) || is_reference(value) {
        return false;
    }
    let digits = value.bytes().any(|b| b.is_ascii_digit());
    let upper = value.bytes().any(|b| b.is_ascii_uppercase());
    let lower = value.bytes().any(|b| b.is_ascii_lowercase());
    let other = value.bytes().any(|b| !b.is_ascii_alphanumeric());
    let classes = [digits, upper, lower, other].iter().filter(|c| **c).count();
    (digits || classes >= 3) && classes >= 2 && entropy(value) >= MIN_ENTROPY
}

/// A password in a URL: not a template, a reference or a word like `password`/`changeme`.
pub fn accept_password(value: &str) -> bool {
    !value.is_empty() && !is_generic_placeholder(value) && !value.starts_with('$') && !value.starts_with('%')
}

/// Shannon entropy in bits per byte.
pub fn entropy(value: &str) -> f64 {
    let mut counts = [0u32; 256];
    for b in value.bytes() {
        counts[b as usize] += 1;
    }
    let n = value.len() as f64;
    counts.iter().filter(|c| **c > 0).map(|&c| f64::from(c) / n).map(|p| -p * p.log2()).sum()
}

/// Example and template values, for provider-shaped matches: `sk_live_xxxxxxxx…`,
/// `AKIAIOSFODNN7EXAMPLE`, `ghp_<token>`, a run of one character.
pub fn is_placeholder(value: &str) -> bool {
    const WORDS: &[&str] =
        &["xxxx", "****", "example", "placeholder", "dummy", "redacted", "your_", "your-", "<", ">", "${", "{{"];
    contains_any(value, WORDS) || repetitive(value) || long_run(value.as_bytes())
}

/// Whether `value` contains one of the lower-case `words`, ignoring ASCII case — in place: a
/// lower-cased copy of a found secret would be one more copy nobody zeroizes.
fn contains_any(value: &str, words: &[&str]) -> bool {
    let v = value.as_bytes();
    words.iter().any(|w| v.windows(w.len()).any(|win| win.eq_ignore_ascii_case(w.as_bytes())))
}

/// For the generic rule, also values that name themselves as fake or weak.
fn is_generic_placeholder(value: &str) -> bool {
    const WORDS: &[&str] = &[
        "....",
        "changeme",
        "change_me",
        "change-me",
        "yourkey",
        "sample",
        "insert",
        "replace",
        "fixme",
        "todo",
        "%s",
        "fake",
        "mock",
        "test",
        "1234567890",
        "abcdefgh",
        "password",
        "passwd",
        "secret",
    ];
    is_placeholder(value) || contains_any(value, WORDS)
}

/// The same character eight times in a row.
fn long_run(b: &[u8]) -> bool {
    b.windows(8).any(|w| w.iter().all(|c| *c == w[0]))
}

/// A value of one repeated character or a short repeated unit (`abababab`).
fn repetitive(value: &str) -> bool {
    let b = value.as_bytes();
    (1..=4).any(|unit| b.len() >= unit * 3 && b.iter().enumerate().all(|(i, c)| *c == b[i % unit]))
}

/// A value that names where the secret comes from instead of being it.
fn is_reference(value: &str) -> bool {
    let ident = |s: &str| {
        !s.is_empty()
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    };
    value.starts_with('$')
        || value.starts_with('%')
        || value.starts_with("http://")
        || value.starts_with("https://")
        || value.starts_with('/')
        || value.starts_with("./")
        || value.starts_with("~/")
        // settings.API_KEY, os.environ, process.env.TOKEN
        || (value.contains('.') && value.split('.').all(ident))
        // ENV_VAR_NAME, CONSTANT_NAME
        || (ident(value) && !value.bytes().any(|b| b.is_ascii_lowercase()) && value.contains('_'))
        // snake_case or kebab-case words: user_access_token_field
        || value.split(['_', '-']).all(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<String> {
        let g = Generic::new();
        let mut out = Vec::new();
        g.find(text.as_bytes(), 0, text.len(), |s, e, _| out.push(text[s..e].to_owned()));
        out
    }

    #[test]
    fn finds_assignments_in_many_syntaxes() {
        let v = "h7Rk2pQ9xLm4Zt8vW3nB";
        for line in [
            format!("API_KEY={v}"),
            format!("export SERVICE_TOKEN=\"{v}\""),
            format!("  \"client_secret\": \"{v}\","),
            format!("password: '{v}'"),
            format!("apiKey := \"{v}\""),
            format!("$db_password = '{v}';"),
            format!("ENV AUTH_TOKEN {v}"),
            format!("config.access_key = \"{v}\""),
            format!(":secret_key => \"{v}\""),
        ] {
            assert_eq!(values(&line), vec![v.to_owned()], "{line}");
        }
    }

    #[test]
    fn rejects_placeholders_references_and_low_entropy() {
        for line in [
            "API_KEY=xxxxxxxxxxxxxxxxxxxx",
            "api_key = \"<your-api-key-here>\"",
            "TOKEN=${GITHUB_TOKEN_VALUE}",
            "password: changeme12345",
            "secret = os.environ.get('SECRET')",
            "api_key = settings.STRIPE_API_KEY",
            "token = \"EXAMPLE_TOKEN_1234\"",
            "PASSWORD=password1234",
            "key = user_profile_settings",
            "secret_key = API_SECRET_KEY_NAME",
            "token_url = https://example.com/oauth/token",
            "keyfile = /etc/ssl/private/server.key",
            "password=aaaaaaaaaaaaaaaa1",
            "monkey = banana",
            "token: test_token_123456789",
            "api_key = \"1234567890abcdef\"",
        ] {
            assert!(values(line).is_empty(), "{line} gave {:?}", values(line));
        }
    }

    #[test]
    fn entropy_orders_random_above_words() {
        assert!(entropy("h7Rk2pQ9xLm4Zt8vW3nB") > 4.0);
        assert!(entropy("passwordpassword") < 3.0);
    }
}
