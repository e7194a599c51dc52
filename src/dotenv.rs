//! Reading and writing `.env` files.
//!
//! Reads what dotenv libraries accept: comments, blank lines, an `export` prefix, unquoted values
//! (trimmed, ` #` starts a comment), single quotes (literal, may span lines) and double quotes
//! (escapes `\n \r \t \" \\ \$ \' \``, may span lines). A line it cannot read is an error with its
//! number, so an import is all or nothing. [`quote`] writes values this parser reads back
//! unchanged, whatever they hold.

use zeroize::Zeroizing;

#[derive(Debug)]
pub struct Entry {
    pub var: String,
    pub value: Zeroizing<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub reason: &'static str,
}

pub fn parse(text: &str) -> Result<Vec<Entry>, ParseError> {
    let mut entries = Vec::new();
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut line = 1;
    while pos < bytes.len() {
        let line_end = memchr::memchr(b'\n', &bytes[pos..]).map_or(bytes.len(), |i| pos + i);
        let raw = &text[pos..line_end];
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            pos = line_end + 1;
            line += 1;
            continue;
        }
        let body = trimmed.strip_prefix("export ").map_or(trimmed, str::trim_start);
        let Some((key, _)) = body.split_once('=') else {
            return Err(ParseError { line, reason: "expected VARIABLE=value" });
        };
        let var = key.trim();
        if var.is_empty() || var.contains(char::is_whitespace) {
            return Err(ParseError { line, reason: "expected VARIABLE=value" });
        }
        // Where the value starts, as an offset into the whole text (quoted values may run on).
        let value_start = pos + (raw.len() - raw.trim_start().len()) + (trimmed.len() - body.len()) + key.len() + 1;
        let rest = &text[value_start..];
        let after_spaces = rest.trim_start_matches([' ', '\t']);
        let start = value_start + (rest.len() - after_spaces.len());
        let (value, end, lines) = match after_spaces.chars().next() {
            Some('"') => double_quoted(text, start + 1)
                .ok_or(ParseError { line, reason: "a double-quoted value is not closed" })?,
            Some('\'') => single_quoted(text, start + 1)
                .ok_or(ParseError { line, reason: "a single-quoted value is not closed" })?,
            _ => {
                let v = &text[start..line_end];
                let v = match v.find(" #").or_else(|| v.find("\t#")) {
                    Some(i) => &v[..i],
                    None => v,
                };
                (Zeroizing::new(v.trim().trim_end_matches('\r').to_owned()), line_end, 0)
            }
        };
        // After a closing quote: only blanks or a comment.
        let tail_end = memchr::memchr(b'\n', &bytes[end..]).map_or(bytes.len(), |i| end + i);
        let tail = text[end..tail_end].trim();
        if !(tail.is_empty() || tail.starts_with('#')) {
            return Err(ParseError { line: line + lines, reason: "unexpected text after the closing quote" });
        }
        entries.push(Entry { var: var.to_owned(), value, line });
        line += lines + 1;
        pos = tail_end + 1;
    }
    Ok(entries)
}

/// Why a JSON import file was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    Syntax { line: usize },
    NotAnObject,
    NotAString { key: String },
}

/// A JSON object of `"VARIABLE": "value"` pairs, as entries (line 0: JSON has no line per entry).
pub fn parse_json(text: &str) -> Result<Vec<Entry>, JsonError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| JsonError::Syntax { line: e.line() })?;
    let serde_json::Value::Object(map) = value else { return Err(JsonError::NotAnObject) };
    map.into_iter()
        .map(|(var, v)| match v {
            serde_json::Value::String(s) => Ok(Entry { var, value: Zeroizing::new(s), line: 0 }),
            _ => Err(JsonError::NotAString { key: var }),
        })
        .collect()
}

/// A double-quoted value starting at `from` (after the quote): the value, the index after the
/// closing quote, and how many newlines it spanned.
fn double_quoted(text: &str, from: usize) -> Option<(Zeroizing<String>, usize, usize)> {
    let mut out = Zeroizing::new(String::new());
    let mut lines = 0;
    let mut chars = text[from..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, from + i + 1, lines)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                c @ ('"' | '\\' | '$' | '\'' | '`') => out.push(c),
                '\n' => {
                    lines += 1;
                    out.push_str("\\\n");
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            },
            '\n' => {
                lines += 1;
                out.push('\n');
            }
            c => out.push(c),
        }
    }
    None
}

fn single_quoted(text: &str, from: usize) -> Option<(Zeroizing<String>, usize, usize)> {
    let len = text[from..].find('\'')?;
    let value = &text[from..from + len];
    Some((Zeroizing::new(value.to_owned()), from + len + 1, value.matches('\n').count()))
}

/// `"value"` with `\ " $ `` ` and line breaks escaped: read back unchanged by [`parse`] and by
/// dotenv libraries that expand `$VAR` (the `$` is escaped), and run nothing when a shell sources
/// the file (`set -a; . ./.env`: `$(…)` and backquotes are escaped).
pub fn quote(value: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len() + 2));
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("\\$"),
            '`' => out.push_str("\\`"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `'value'` for a POSIX shell: safe to `eval` whatever the value holds.
pub fn shell_quote(value: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(value.len() + 2));
    out.push('\'');
    for c in value.chars() {
        if c == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(c);
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text).unwrap().into_iter().map(|e| (e.var, e.value.to_string())).collect()
    }

    #[test]
    fn reads_the_usual_forms() {
        let text = "# comment\n\nexport A=plain value # note\nB='single $HOME \"x\"'\nC=\"line1\\nline2 \\\"q\\\" \\$X\"\nD=\"multi\nline\"\nE=\n  F = spaced\nG='a#b'\n";
        assert_eq!(
            pairs(text),
            [
                ("A".into(), "plain value".into()),
                ("B".into(), "single $HOME \"x\"".into()),
                ("C".into(), "line1\nline2 \"q\" $X".into()),
                ("D".into(), "multi\nline".into()),
                ("E".into(), String::new()),
                ("F".into(), "spaced".into()),
                ("G".into(), "a#b".into()),
            ]
        );
    }

    #[test]
    fn malformed_lines_are_numbered() {
        assert_eq!(parse("A=1\nno equals sign\n").unwrap_err().line, 2);
        assert_eq!(parse("A=1\nB=\"open\n\nC=2\n").unwrap_err().line, 2);
        assert_eq!(parse("A='x' junk\n").unwrap_err().line, 1);
        assert_eq!(parse("A=\"a\nb\" junk\n").unwrap_err().line, 2);
        assert_eq!(parse("=value\n").unwrap_err().line, 1);
    }

    #[test]
    fn crlf_files() {
        assert_eq!(pairs("A=1\r\nB=\"x\"\r\n"), [("A".into(), "1".into()), ("B".into(), "x".into())]);
    }

    #[test]
    fn a_quoted_value_runs_nothing_when_a_shell_sources_it() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("ran");
        let m = marker.display();
        for value in [
            format!("a$(touch {m})b"),
            format!("a`touch {m}`b"),
            format!("a\\`touch {m}`b"),
            format!("x\"; touch {m}; \""),
        ] {
            let file = dir.path().join("env");
            std::fs::write(&file, format!("V={}\n", &*quote(&value))).unwrap();
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!(". {}; printf %s \"$V\"", file.display()))
                .output()
                .unwrap();
            assert!(!marker.exists(), "sourcing ran a command for {value:?}");
            assert_eq!(String::from_utf8(out.stdout).unwrap(), value);
        }
    }

    proptest! {
        #[test]
        fn quote_round_trips_any_value(value in "\\PC*|[\"'$\\\\`=\n\r #a-zé]{0,40}") {
            let text = format!("V={}\n", &*quote(&value));
            let got = pairs(&text);
            prop_assert_eq!(got, vec![("V".to_string(), value)]);
        }
    }
}
