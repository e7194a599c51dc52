//! Kubernetes `Secret` manifests: every value under `data:` is the base64 of a secret, and every
//! value under `stringData:` is one in the clear, whatever its key is called and whether or not
//! a provider's format fits it. A value is reported when, decoded, it is text that is neither a
//! placeholder nor a reference nor too short to be a credential (the judgement the generic rule
//! and the URL rules make of passwords). A value that decodes to a provider's key is that
//! provider's finding (the decoding pass finds it at the same place), not this rule's.
//!
//! YAML only, line by line, as manifests are written: a `data:` or `stringData:` key at some
//! indentation, then `key: value` lines indented deeper. Block scalars (`key: |`) and JSON
//! manifests are not read by this rule (the generic rule and the decoding pass still see them).

use data_encoding::{BASE64, BASE64_NOPAD};
use zeroize::Zeroizing;

use super::generic;

/// The rule's id in findings, config files and SARIF.
pub const RULE: &str = "kubernetes-secret";

/// Decoded values shorter than this are not credentials (`true`, `5432`, `admin`).
const MIN_LEN: usize = 8;

/// Keys whose values say where or who, not how to get in.
const NOT_SECRET_KEYS: &[&str] =
    &["username", "user", "host", "hostname", "port", "database", "db", "namespace", "region", "url", "endpoint"];

/// Whether `head` (a file's first bytes) holds a Kubernetes Secret.
pub fn is_secret_manifest(head: &[u8]) -> bool {
    head.split(|&b| b == b'\n').any(says_secret)
}

/// A `kind: Secret` line.
fn says_secret(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(rest) = line.trim_ascii_start().strip_prefix(b"kind:") else { return false };
    matches!(rest.trim_ascii(), b"Secret" | b"\"Secret\"" | b"'Secret'")
}

/// A value of a Secret's `data` or `stringData`.
pub struct Value {
    /// 1-based line and column (in bytes) of the value.
    pub line: u64,
    pub column: u64,
    pub key: String,
    /// The secret itself (decoded, for `data`).
    pub value: Zeroizing<String>,
    /// It was base64 in the file (`data`).
    pub encoded: bool,
    /// The line carries `keyward:allow`.
    pub allowed: bool,
}

/// The values worth a finding in the Secret documents of `text` (documents are separated by
/// `---` lines; a ConfigMap beside a Secret is not read).
pub fn values(text: &[u8]) -> Vec<Value> {
    let lines: Vec<&[u8]> = text.split(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r").unwrap_or(l)).collect();
    let mut found = Vec::new();
    let mut start = 0;
    for end in 0..=lines.len() {
        if end == lines.len() || lines[end] == b"---" {
            let doc = &lines[start..end];
            if doc.iter().any(|l| says_secret(l)) {
                document(doc, start, &mut found);
            }
            start = end + 1;
        }
    }
    found
}

/// The values of one Secret document, whose first line is line `first` (0-based) of the file.
fn document(lines: &[&[u8]], first: usize, found: &mut Vec<Value>) {
    // The section being read: (its key's indentation, whether its values are base64).
    let mut section: Option<(usize, bool)> = None;
    for (i, line) in lines.iter().enumerate() {
        let indent = line.iter().take_while(|&&b| b == b' ').count();
        let content = &line[indent..];
        if content.is_empty() || content.starts_with(b"#") {
            continue;
        }
        if let Some((depth, encoded)) = section
            && indent > depth
        {
            if let Some(v) = value(content, encoded) {
                found.push(Value {
                    line: (first + i) as u64 + 1,
                    column: (indent + v.0 + 1) as u64,
                    key: v.1,
                    value: v.2,
                    encoded,
                    allowed: memchr::memmem::find(line, super::ALLOW_MARKER).is_some(),
                });
            }
            continue;
        }
        section = match content.trim_ascii_end() {
            b"data:" => Some((indent, true)),
            b"stringData:" => Some((indent, false)),
            _ => None,
        };
    }
}

/// `key: value` judged: (the value's offset in `content`, the key, the secret).
fn value(content: &[u8], encoded: bool) -> Option<(usize, String, Zeroizing<String>)> {
    let colon = memchr::memchr(b':', content)?;
    let key = std::str::from_utf8(&content[..colon]).ok()?.trim_matches(|c| c == '"' || c == '\'');
    let raw = &content[colon + 1..];
    let start = colon + 1 + raw.iter().take_while(|&&b| b == b' ').count();
    let mut v = content[start..].trim_ascii_end();
    if let [q @ (b'"' | b'\''), inner @ .., last] = v
        && q == last
    {
        v = inner;
    }
    if v.is_empty() || matches!(v, [b'|' | b'>', ..]) || NOT_SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str()) {
        return None;
    }
    let secret = if encoded {
        let bytes = Zeroizing::new(BASE64.decode(v).or_else(|_| BASE64_NOPAD.decode(v)).ok()?);
        Zeroizing::new(String::from_utf8(bytes.to_vec()).ok()?)
    } else {
        Zeroizing::new(std::str::from_utf8(v).ok()?.to_owned())
    };
    let text = secret.trim();
    let judged = text.len() >= MIN_LEN
        && !text.chars().any(char::is_control)
        && generic::accept_password(text)
        && !generic::is_placeholder(text);
    judged.then(|| (start, key.to_owned(), secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        BASE64.encode(s.as_bytes())
    }

    #[test]
    fn data_is_decoded_and_judged_and_string_data_is_judged() {
        let text = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: app\n  labels:\n    tier: {}\ntype: Opaque\ndata:\n  username: {}\n  password: {}\n  api-key: \"{}\"\n  empty: \"\"\n  weak: {}\n  ref: {}\n  cert: |\n    LS0tLS1CRUdJTg==\nstringData:\n  token: Hx7pLq2Wm9sRt4VnQe5\n  note: changeme\n---\nkind: ConfigMap\ndata:\n  plain: Zq8LmW3vKx91aPc4\n",
            b64("Zq8LmW3vKx91aPc4"),
            b64("admin"),
            b64("Tr4vK9pLm2Xq8Wz5"),
            b64("Jb3kPz8QwLm5Yt2N"),
            b64("password"),
            b64("${DB_PASSWORD}"),
        );
        assert!(is_secret_manifest(text.as_bytes()));
        let found: Vec<(u64, u64, String, bool)> =
            values(text.as_bytes()).into_iter().map(|v| (v.line, v.column, v.key, v.encoded)).collect();
        assert_eq!(
            found,
            vec![(10, 13, "password".into(), true), (11, 12, "api-key".into(), true), (18, 10, "token".into(), false)]
        );
    }

    #[test]
    fn only_secrets_are_secret_manifests() {
        assert!(is_secret_manifest(b"apiVersion: v1\r\nkind: \"Secret\"\r\n"));
        assert!(!is_secret_manifest(b"kind: SecretProviderClass\n"));
        assert!(!is_secret_manifest(b"kind: ConfigMap\n# kind: Secret is mentioned\n"));
    }
}
