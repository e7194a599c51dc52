//! PEM private keys, masked from the `-----BEGIN … PRIVATE KEY-----` marker through the
//! `-----END` line, every line, whatever the pauses in the stream.
//!
//! A key is many short lines, written by a slow child a line at a time as often as not, so no
//! single match can hold it. Instead a line *opens* a body when it ends with a BEGIN marker
//! (followed by at most [`BLANKS_MAX`] blanks), and while in a body every line is checked:
//!
//! - a **body line** (base64, an RFC 1421 / OpenPGP header such as `Proc-Type:` or
//!   `Comment:`, or blank; indented or not; at most [`LINE_MAX`] bytes) is masked and the body
//!   goes on;
//! - an **END line** (`-----END…`) is masked and ends the body;
//! - any **other line** ends the body and is left to the other rules.
//!
//! A line that opens a body opens it whatever else it is, and its marker is masked too. A key on
//! one line — a JSON string (`"-----BEGIN…-----\nMIIE…\n…-----END…-----"`, as in a cloud
//! service-account file), or an unquoted `echo $KEY` that turned newlines into spaces — is masked
//! from its marker through its END marker, or through its last base64 character when there is
//! none (at most [`LINE_MAX`] bytes). A marker with neither after it is left alone (the provider
//! pattern's partial form shows it, and masking it would make masking not idempotent). The masked part of a line is what lies between its indentation and its trailing blanks, so line
//! numbers and layout stay. [`reference_spans`] states these rules over a whole input; the
//! engine applies them to a stream through a [`Cursor`], and the property tests check the two
//! agree wherever the blocks are cut.

use std::ops::Range;

/// The longest line taken as a body line: a one-line base64 body of an 8192-bit RSA key fits.
pub const LINE_MAX: usize = 8192;
/// The most blanks a BEGIN marker may be followed by on its line and still open a body.
pub const BLANKS_MAX: usize = 64;
/// The longest BEGIN or END marker (`-----BEGIN` + 30 + `PRIVATE KEY BLOCK-----`).
pub const MARKER_MAX: usize = 10 + 30 + 22;
/// A one-line key needs this much base64 after its marker.
const ONE_LINE_MIN: usize = 16;
/// What every marker starts with: the literal the engine searches for.
pub const MARKER_PREFIX: &[u8] = b"-----BEGIN";
/// Header names that may follow a BEGIN line (RFC 1421, RFC 4880's armor).
const HEADERS: [&[u8]; 7] =
    [b"Proc-Type:", b"DEK-Info:", b"Comment:", b"Version:", b"Hash:", b"Charset:", b"MessageID:"];

/// The anchored BEGIN and END markers.
pub struct Marker {
    begin: regex::bytes::Regex,
    end: regex::bytes::Regex,
}

impl Default for Marker {
    fn default() -> Self {
        let marker = |word: &str| {
            regex::bytes::Regex::new(&format!(r"\A-----{word}[ A-Z0-9]{{0,30}}PRIVATE KEY(?: BLOCK)?-----"))
                .expect("the marker regex compiles")
        };
        Marker { begin: marker("BEGIN"), end: marker("END") }
    }
}

impl Marker {
    /// The end of a BEGIN marker starting at `at`, if one does.
    pub fn at(&self, hay: &[u8], at: usize) -> Option<usize> {
        let window = &hay[at..hay.len().min(at + MARKER_MAX)];
        self.begin.find(window).map(|m| at + m.end())
    }

    /// Whether a key written on one line follows a BEGIN marker that ends at `from`: a separator
    /// (an escaped newline or a space), base64 with more separators, and the END marker if it is
    /// there; and where it ends.
    pub fn one_line(&self, hay: &[u8], from: usize, eof: bool) -> OneLine {
        let limit = hay.len().min(from + LINE_MAX);
        let separator = |at: usize| -> usize {
            let rest = &hay[at..limit];
            if rest.starts_with(b"\\r\\n") {
                4
            } else if rest.starts_with(b"\\n") {
                2
            } else {
                usize::from(rest.first() == Some(&b' '))
            }
        };
        if separator(from) == 0 {
            return OneLine::None;
        }
        let (mut at, mut base64, mut last) = (from, 0, from);
        while at < limit {
            let step = separator(at);
            if step > 0 {
                at += step;
            } else if is_base64(hay[at]) {
                base64 += 1;
                at += 1;
                last = at;
            } else {
                break;
            }
        }
        if at == hay.len() && hay.len() < from + LINE_MAX && !eof {
            return OneLine::NotYet;
        }
        if base64 < ONE_LINE_MIN {
            return OneLine::None;
        }
        let end = self.end.find(&hay[at..hay.len().min(at + MARKER_MAX)]).map_or(last, |m| at + m.end());
        OneLine::Key { end }
    }
}

/// What follows a BEGIN marker on its line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneLine {
    /// A key, ending here.
    Key { end: usize },
    /// No key.
    None,
    /// The input has not shown enough to tell.
    NotYet,
}

/// Where a stream stands: the line holding its position, and whether that line is in a body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Cursor {
    /// The start of the line holding the position (an offset in the stream's buffer).
    pub line_start: usize,
    /// The line is inside a body: it is checked as a body line.
    pub body: bool,
    /// The end of the last BEGIN marker seen on that line before the position.
    pub marker_end: Option<usize>,
}

impl Cursor {
    /// The same cursor in a buffer whose first `n` bytes were dropped.
    pub fn shifted(self, n: usize) -> Cursor {
        Cursor {
            line_start: self.line_start.saturating_sub(n),
            body: self.body,
            marker_end: self.marker_end.map(|e| e.saturating_sub(n)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Body,
    End,
    Other,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

fn is_base64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// What a complete line (without its newline) is inside a body, and the part of it to mask.
fn classify(line: &[u8]) -> (Kind, Range<usize>) {
    if line.len() > LINE_MAX {
        return (Kind::Other, 0..0);
    }
    let start = line.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    let end = line.len() - line[start..].iter().rev().take_while(|&&b| is_blank(b)).count();
    let content = &line[start..end];
    let kind = if content.starts_with(b"-----END") {
        Kind::End
    } else if content.iter().all(|&b| is_base64(b)) || HEADERS.iter().any(|h| content.starts_with(h)) {
        Kind::Body
    } else {
        Kind::Other
    };
    (kind, start..end)
}

/// Whether the line holding a marker that ends at `end` opens a body: only blanks, at most
/// [`BLANKS_MAX`], before its newline (or the end of the input, `eof`). `None` while that has
/// not arrived.
pub fn opens_at(hay: &[u8], end: usize, eof: bool) -> Option<bool> {
    let rest = &hay[end.min(hay.len())..];
    let window = &rest[..rest.len().min(BLANKS_MAX + 1)];
    match memchr::memchr(b'\n', window) {
        Some(i) => Some(window[..i].iter().all(|&b| is_blank(b))),
        None if window.len() > BLANKS_MAX || !window.iter().all(|&b| is_blank(b)) => Some(false),
        None if eof => Some(true),
        None => None,
    }
}

/// Pushes the masked parts of the body lines from `ls` on (a line inside a body): those of lines
/// starting before `until` whose masked part starts in `from..until`. A line whose newline has
/// not arrived (and may still be a body line) gets a span to the end of `hay`, which the masking
/// sink holds back until the line is complete.
pub fn body_spans(hay: &[u8], mut ls: usize, from: usize, until: usize, eof: bool, out: &mut impl FnMut(Range<usize>)) {
    while ls < until && ls <= hay.len() {
        let newline = memchr::memchr(b'\n', &hay[ls..hay.len().min(ls + LINE_MAX + 1)]);
        let line_end = match newline {
            Some(i) => ls + i,
            None if eof => hay.len(),
            None if hay.len() - ls <= LINE_MAX => {
                let indent = hay[ls..].iter().take_while(|&&b| b == b' ' || b == b'\t').count();
                let start = ls + indent;
                if start >= from && start < until && start < hay.len() {
                    out(start..hay.len());
                }
                return;
            }
            None => return,
        };
        let (kind, range) = classify(&hay[ls..line_end]);
        let range = ls + range.start..ls + range.end;
        if kind != Kind::Other && !range.is_empty() && range.start >= from && range.start < until {
            out(range);
        }
        if kind != Kind::Body || line_end >= hay.len() {
            return;
        }
        ls = line_end + 1;
    }
}

/// The start of the next line after position `at`, if its newline is in `hay`.
fn next_line(hay: &[u8], at: usize) -> Option<usize> {
    memchr::memchr(b'\n', &hay[at.min(hay.len())..]).map(|i| at + i + 1)
}

/// The lines where bodies begin among the markers found (their ends): each opener's next line.
pub fn openings(hay: &[u8], marker_ends: impl IntoIterator<Item = usize>) -> impl Iterator<Item = usize> {
    marker_ends.into_iter().filter(|&e| opens_at(hay, e, false) == Some(true)).filter_map(move |e| next_line(hay, e))
}

/// The cursor at `cut`, from the cursor at the stream's previous position and the ends of the
/// markers found since (starting before `cut`). Only body lines are walked: text outside keys
/// costs one search back for a newline.
pub fn advance(hay: &[u8], cursor: Cursor, marker_ends: &[usize], cut: usize) -> Cursor {
    let last_marker = marker_ends.iter().copied().max().or(cursor.marker_end);
    let Some(i) = memchr::memrchr(b'\n', &hay[cursor.line_start.min(cut)..cut]) else {
        return Cursor { marker_end: last_marker, ..cursor };
    };
    let line_start = cursor.line_start + i + 1;
    // The body, if any, that reaches `line_start` began after the last opener before it, or at
    // the cursor's line when that was in one.
    let ends = cursor.marker_end.into_iter().chain(marker_ends.iter().copied()).filter(|&e| e < line_start);
    let begin = openings(hay, ends).filter(|&b| b <= line_start).max().or(cursor.body.then_some(cursor.line_start));
    let body = begin.is_some_and(|mut ls| {
        while ls < line_start {
            let end = ls + memchr::memchr(b'\n', &hay[ls..line_start]).expect("a complete line");
            if classify(&hay[ls..end]).0 != Kind::Body {
                return false;
            }
            ls = end + 1;
        }
        true
    });
    let marker_end = marker_ends.iter().copied().filter(|&e| e >= line_start).max();
    Cursor { line_start, body, marker_end }
}

/// The rules over a whole input at once (the reference the stream is checked against): the
/// marker spans and the masked parts of body and END lines.
pub fn reference_spans(marker: &Marker, input: &[u8]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut body = false;
    let mut ls = 0;
    loop {
        let le = memchr::memchr(b'\n', &input[ls..]).map_or(input.len(), |i| ls + i);
        let line = &input[ls..le];
        if body {
            let (kind, range) = classify(line);
            if kind != Kind::Other && !range.is_empty() {
                out.push(ls + range.start..ls + range.end);
            }
            body = kind == Kind::Body;
        }
        for at in ls..le {
            let Some(end) = marker.at(&input[..le], at) else { continue };
            if le - end <= BLANKS_MAX && input[end..le].iter().all(|&b| is_blank(b)) {
                out.push(at..end);
                body = true;
            } else if let OneLine::Key { end: key_end } = marker.one_line(input, end, true) {
                out.push(at..key_end);
            }
        }
        if le >= input.len() {
            return out;
        }
        ls = le + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(input: &str) -> String {
        let spans = reference_spans(&Marker::default(), input.as_bytes());
        let mut out = input.as_bytes().to_vec();
        for r in spans {
            out[r].iter_mut().for_each(|b| *b = b'#');
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_key_is_masked_from_begin_through_end_and_nothing_after() {
        let key = "log: loading key\n  -----BEGIN RSA PRIVATE KEY-----  \n  Proc-Type: 4,ENCRYPTED\n\n  MIIEowIBAAKCAQEA\n  q83+/=\n  -----END RSA PRIVATE KEY-----\nMIIEnotakey\n";
        let got = masked(key);
        assert_eq!(
            got,
            "log: loading key\n  ###############################  \n  ######################\n\n  ################\n  ######\n  #############################\nMIIEnotakey\n"
        );
    }

    #[test]
    fn a_line_that_is_not_base64_ends_the_body() {
        let got = masked("-----BEGIN PRIVATE KEY-----\nMIIE\nthis is prose, not base64\nMIIE\n");
        assert_eq!(got, "###########################\n####\nthis is prose, not base64\nMIIE\n");
        // A marker not at the end of its line opens nothing and is left to the provider pattern.
        let got = masked("x -----BEGIN EC PRIVATE KEY----- trailing\nMIIE\n");
        assert_eq!(got, "x -----BEGIN EC PRIVATE KEY----- trailing\nMIIE\n");
    }

    #[test]
    fn a_key_on_one_line_is_masked_through_its_end_marker() {
        let json = r#"{"private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEF\nAASCBKcwggSjAgEAAoIB\n-----END PRIVATE KEY-----\n", "x": 1}"#;
        let got = masked(json);
        assert!(got.starts_with(r#"{"private_key": "#), "{got}");
        assert!(got.ends_with(r#"\n", "x": 1}"#), "{got}");
        assert!(!got.contains("MIIE") && !got.contains("-----END"), "{got}");
        let echoed = "key: -----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEAu1SU1LfVLPHC ozMxH2Mo4lgOEePz -----END RSA PRIVATE KEY----- done";
        let got = masked(echoed);
        assert!(got.starts_with("key: #") && got.ends_with("# done"), "{got}");
        // No END marker: through the last base64 character.
        let cut = masked("-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEF\" rest");
        assert!(cut.ends_with("#\" rest"), "{cut}");
        // Too little after the marker: not a key, left alone.
        let prose = "-----BEGIN PRIVATE KEY----- lines go here";
        assert_eq!(masked(prose), prose);
    }

    #[test]
    fn lines_over_the_limit_end_the_body() {
        let long = "A".repeat(LINE_MAX + 1);
        let input = format!("-----BEGIN PRIVATE KEY-----\n{long}\nMIIE\n");
        assert!(masked(&input).ends_with(&format!("\n{long}\nMIIE\n")));
        let fits = "A".repeat(LINE_MAX);
        let input = format!("-----BEGIN PRIVATE KEY-----\n{fits}\nMIIE\n");
        assert!(masked(&input).ends_with(&format!("\n{}\n####\n", "#".repeat(LINE_MAX))));
    }

    #[test]
    fn the_cursor_follows_a_body_across_cuts() {
        let marker = Marker::default();
        let text = b"a\n-----BEGIN PRIVATE KEY-----\nMIIE\nMIIF\n-----END PRIVATE KEY-----\nafter\n";
        let ends: Vec<usize> = (0..text.len()).filter_map(|at| marker.at(text, at)).collect();
        // At every line start, the cursor says whether the line is in the body.
        let mut line_starts = vec![0];
        line_starts.extend(text.iter().enumerate().filter(|(_, b)| **b == b'\n').map(|(i, _)| i + 1));
        let want = [false, false, true, true, true, false, false];
        for (cut, want) in line_starts.iter().zip(want) {
            let c =
                advance(text, Cursor::default(), &ends.iter().copied().filter(|e| e <= cut).collect::<Vec<_>>(), *cut);
            assert_eq!(c.body, want, "at {cut}");
        }
        // Step by step, one byte at a time, as a stream would: the same at the end.
        let markers: Vec<(usize, usize)> =
            (0..text.len()).filter_map(|at| marker.at(text, at).map(|e| (at, e))).collect();
        let mut c = Cursor::default();
        for cut in 1..=text.len() {
            let found: Vec<usize> = markers.iter().filter(|(s, _)| *s == cut - 1).map(|(_, e)| *e).collect();
            c = advance(text, c, &found, cut);
            if text[cut - 1] == b'\n' {
                let i = line_starts.iter().position(|&l| l == cut).unwrap();
                assert_eq!(c.body, want[i], "stepping, at {cut}");
            }
        }
        assert!(!c.body && c.line_start == text.len());
    }

    #[test]
    fn an_opener_is_decided_only_once_its_newline_is_seen() {
        let hay = b"-----BEGIN PRIVATE KEY-----  ";
        assert_eq!(opens_at(hay, 27, false), None);
        assert_eq!(opens_at(hay, 27, true), Some(true), "the last line of the input");
        assert_eq!(opens_at(b"-----BEGIN PRIVATE KEY-----  \n", 27, false), Some(true));
        assert_eq!(opens_at(b"-----BEGIN PRIVATE KEY----- x", 27, false), Some(false));
        let blanks = format!("-----BEGIN PRIVATE KEY-----{}", " ".repeat(BLANKS_MAX + 1));
        assert_eq!(opens_at(blanks.as_bytes(), 27, false), Some(false));
    }
}
