//! CSV as RFC 4180 writes it (and 1Password exports it): fields separated by commas, records by
//! CRLF or LF, a field in double quotes may hold commas, quotes (doubled) and line breaks.
//!
//! Hand-written rather than the `csv` crate because the fields are secrets: each lands in its own
//! [`Zeroizing`] string, and no buffer of the crate's holds a copy after it is dropped.

use zeroize::Zeroizing;

/// One record: its fields and the line it started on.
pub struct Row {
    pub line: usize,
    pub fields: Vec<Zeroizing<String>>,
}

/// Where the text stops being CSV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("line {line}: a quoted field is never closed")]
    Unclosed { line: usize },
    #[error("line {line}: text after a closing quote (a quote inside a field is written twice)")]
    AfterQuote { line: usize },
}

/// Reads every record. Empty lines are skipped; a UTF-8 byte-order mark is ignored.
pub fn parse(text: &str) -> Result<Vec<Row>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rows = Vec::new();
    let mut chars = text.char_indices().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start_line = line;
        let mut fields = Vec::new();
        loop {
            let mut field = Zeroizing::new(String::new());
            if chars.peek().map(|&(_, c)| c) == Some('"') {
                chars.next();
                loop {
                    match chars.next() {
                        None => return Err(CsvError::Unclosed { line: start_line }),
                        Some((_, '"')) if chars.peek().map(|&(_, c)| c) == Some('"') => {
                            chars.next();
                            push(&mut field, '"');
                        }
                        Some((_, '"')) => break,
                        Some((_, c)) => {
                            if c == '\n' {
                                line += 1;
                            }
                            push(&mut field, c);
                        }
                    }
                }
                match chars.peek().map(|&(_, c)| c) {
                    None | Some(',' | '\n' | '\r') => {}
                    Some(_) => return Err(CsvError::AfterQuote { line }),
                }
            } else {
                while let Some(&(_, c)) = chars.peek() {
                    if matches!(c, ',' | '\n' | '\r') {
                        break;
                    }
                    push(&mut field, c);
                    chars.next();
                }
            }
            fields.push(field);
            match chars.next() {
                Some((_, ',')) => {}
                Some((_, '\r')) => {
                    if chars.peek().map(|&(_, c)| c) == Some('\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some((_, '\n')) => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        if !(fields.len() == 1 && fields[0].is_empty()) {
            rows.push(Row { line: start_line, fields });
        }
    }
    Ok(rows)
}

/// Appends a character without letting the string reallocate behind a copy: it grows into a new
/// zeroizing buffer and the old one is wiped when dropped.
fn push(field: &mut Zeroizing<String>, c: char) {
    if field.len() + c.len_utf8() > field.capacity() {
        let mut bigger = Zeroizing::new(String::with_capacity((field.capacity() * 2).max(32)));
        bigger.push_str(field);
        *field = bigger;
    }
    field.push(c);
}

/// Appends one record, quoting every field that needs it, and a CRLF (as RFC 4180 says).
pub fn write_row(out: &mut Vec<u8>, fields: &[&str]) {
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if field.contains([',', '"', '\n', '\r']) || field.starts_with([' ', '\u{feff}']) || field.ends_with(' ') {
            out.push(b'"');
            for part in field.split_inclusive('"') {
                out.extend_from_slice(part.as_bytes());
                if part.ends_with('"') {
                    out.push(b'"');
                }
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(field.as_bytes());
        }
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        parse(text).unwrap().into_iter().map(|r| r.fields.iter().map(|f| f.to_string()).collect()).collect()
    }

    #[test]
    fn reads_quotes_commas_and_line_breaks() {
        let text = "\u{feff}Title,Password,Notes\r\n\"a, b\",\"say \"\"hi\"\"\",\"two\nlines\"\n\nx,,\n";
        assert_eq!(
            fields(text),
            vec![vec!["Title", "Password", "Notes"], vec!["a, b", "say \"hi\"", "two\nlines"], vec!["x", "", ""]]
        );
        let rows = parse(text).unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 2, 5]);
    }

    #[test]
    fn broken_quoting_is_an_error_with_its_line() {
        assert_eq!(parse("a\n\"open").err(), Some(CsvError::Unclosed { line: 2 }));
        assert_eq!(parse("\"a\"b,c").err(), Some(CsvError::AfterQuote { line: 1 }));
    }

    proptest! {
        #[test]
        fn what_is_written_reads_back(rows in proptest::collection::vec(proptest::collection::vec("(.|\n|\r|,|\"){0,12}", 1..5), 1..6)) {
            let mut out = Vec::new();
            for row in &rows {
                let row: Vec<&str> = row.iter().map(String::as_str).collect();
                write_row(&mut out, &row);
            }
            let back = fields(std::str::from_utf8(&out).unwrap());
            let expected: Vec<Vec<String>> = rows.into_iter().filter(|r| !(r.len() == 1 && r[0].is_empty())).collect();
            prop_assert_eq!(back, expected);
        }

        #[test]
        fn never_panics(text in ".{0,200}") {
            let _ = parse(&text);
        }
    }
}
