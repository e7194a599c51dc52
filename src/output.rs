//! Everything printed: plain text, tables, JSON, colour, and terminal-escape sanitizing.

use std::io::{IsTerminal, Write};

use comfy_table::ContentArrangement;
use comfy_table::presets::NOTHING;
use serde::Serialize;
use unicode_width::UnicodeWidthStr;

pub(crate) use crate::sanitize::{sanitize, sanitize_lines};

/// Output settings, from the global flags and the environment, and the first error writing to
/// standard output (after which nothing more is written; `run` reports it once the command ends).
#[derive(Debug)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub color: bool,
    pub stdout_tty: bool,
    /// Colour on standard output (a terminal, and no NO_COLOR, --no-color or TERM=dumb).
    stdout_color: bool,
    failed: std::cell::RefCell<Option<std::io::Error>>,
    /// Warnings already given: a command that reads the vault twice (`get` after a miss) says
    /// each once.
    warned: std::cell::RefCell<std::collections::BTreeSet<String>>,
}

impl Output {
    pub fn new(json: bool, quiet: bool, no_color: bool) -> Self {
        let stdout_tty = std::io::stdout().is_terminal();
        let no_color = no_color
            || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
            || std::env::var_os("TERM").is_some_and(|t| t == "dumb");
        Output {
            json,
            quiet,
            color: !no_color && std::io::stderr().is_terminal(),
            stdout_tty,
            stdout_color: !no_color && stdout_tty,
            failed: std::cell::RefCell::new(None),
            warned: std::cell::RefCell::default(),
        }
    }

    /// Writes to standard output. After a failure (a closed pipe: `keyward list | head -1`)
    /// nothing more is written, and [`Output::finish`] returns the error.
    pub fn write(&self, bytes: &[u8]) {
        if self.failed.borrow().is_some() {
            return;
        }
        let mut out = std::io::stdout().lock();
        if let Err(e) = out.write_all(bytes).and_then(|()| out.flush()) {
            *self.failed.borrow_mut() = Some(e);
        }
    }

    /// Writes bytes that hold secret values straight to file descriptor 1, bypassing std's
    /// stdout buffer so no copy lingers there.
    pub fn write_unbuffered(&self, bytes: &[u8]) {
        if self.failed.borrow().is_some() {
            return;
        }
        if let Err(e) = raw(Stream::Stdout).write_all(bytes) {
            *self.failed.borrow_mut() = Some(e);
        }
    }

    /// The first error writing to standard output, if there was one.
    pub fn finish(&self) -> crate::error::Result<()> {
        match self.failed.borrow_mut().take() {
            Some(e) => Err(crate::error::Error::Output(e)),
            None => Ok(()),
        }
    }

    /// A line of human output (not in --json mode).
    pub fn line(&self, text: &str) {
        if !self.json {
            self.write(format!("{}\n", sanitize_lines(text)).as_bytes());
        }
    }

    /// A confirmation such as "added X": human mode only, silenced by --quiet.
    pub fn done(&self, text: &str) {
        if !self.json && !self.quiet {
            self.write(format!("{}\n", sanitize_lines(text)).as_bytes());
        }
    }

    /// The result of a command: `json` as one document with --json, else the confirmation
    /// `text()` (silenced by --quiet).
    pub fn report<T: Serialize + ?Sized>(&self, json: &T, text: impl FnOnce() -> String) {
        if self.json {
            self.json(json);
        } else {
            self.done(&text());
        }
    }

    /// A result that is a list: `json()` as one document with --json; else a table with
    /// `header` whose rows `rows` adds, or, when it adds none, `empty` as a notice.
    pub fn listing<T: Serialize>(
        &self,
        json: impl FnOnce() -> T,
        header: &[&str],
        empty: &str,
        rows: impl FnOnce(&mut Table),
    ) {
        if self.json {
            self.json(&json());
            return;
        }
        let mut table = self.table(header);
        rows(&mut table);
        if table.is_empty() {
            self.notice(empty);
        } else {
            self.print_table(&table);
        }
    }

    /// A notice on standard error, silenced by --quiet.
    pub fn notice(&self, text: &str) {
        if !self.quiet {
            eprintln!("keyward: {}", sanitize_lines(text));
        }
    }

    /// A warning on standard error; shown even with --quiet.
    pub fn warn(&self, text: &str) {
        if !self.warned.borrow_mut().insert(text.to_owned()) {
            return;
        }
        let text = sanitize_lines(text);
        if self.color {
            eprintln!("\x1b[33mkeyward: warning:\x1b[0m {text}");
        } else {
            eprintln!("keyward: warning: {text}");
        }
    }

    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        let mut text = serde_json::to_string_pretty(value).expect("output types serialize");
        text.push('\n');
        self.write(text.as_bytes());
    }

    /// A table: plain aligned columns, fitted to the terminal's width on a terminal.
    #[allow(clippy::unused_self)] // a table belongs to the output it is printed on
    pub fn table(&self, header: &[&str]) -> Table {
        Table { header: header.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    /// Prints a table. Off a terminal, every column in full (scripts parse it). On a terminal,
    /// fitted to its width without ever breaking a cell: free-text columns are shortened with
    /// `…` and the least important columns (the last) left out, with a line saying so; when not
    /// even the first two fit, each row is printed as `HEADER: value` lines.
    pub fn print_table(&self, table: &Table) {
        let text =
            if self.stdout_tty { table.render_for(terminal_width(), self.stdout_color) } else { table.render_plain() };
        self.write(text.as_bytes());
    }

    /// A progress bar on a terminal (with `template` from indicatif), for more than a handful
    /// of steps (`len`; 0 for a spinner of unknown length). None when quiet or not a terminal.
    pub fn progress(&self, len: usize, template: &'static str) -> Option<indicatif::ProgressBar> {
        if self.quiet || !std::io::stderr().is_terminal() || (len > 0 && len <= 4) {
            return None;
        }
        let bar =
            if len == 0 { indicatif::ProgressBar::new_spinner() } else { indicatif::ProgressBar::new(len as u64) };
        bar.set_style(indicatif::ProgressStyle::with_template(template).expect("static template"));
        if len == 0 {
            bar.enable_steady_tick(std::time::Duration::from_millis(120));
        }
        Some(bar)
    }

    pub fn error_prefix(&self) -> &'static str {
        if self.color { "\x1b[31mkeyward:\x1b[0m" } else { "keyward:" }
    }
}

/// Standard output or standard error.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    Stdout = 1,
    Stderr = 2,
}

/// A standard stream as a file, unbuffered: for secret values (no copy left in std's buffer) and
/// for masked streams (`mask`, `exec`), which write large blocks themselves. The one place keyward
/// writes to a standard stream without `Output`'s line handling.
pub(crate) fn raw(stream: Stream) -> std::mem::ManuallyDrop<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: fds 1 and 2 are open for the life of the process; ManuallyDrop keeps the file from
    // closing them.
    std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(stream as i32) })
}

/// A table whose every cell is sanitized as it goes in: cells hold names, variables, labels,
/// times and details read from vaults, audit logs and configs that others may have written.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

/// Columns never shortened: names, times, versions and verdicts are read whole or not at all.
const WHOLE: &[&str] = &[
    "NAME",
    "SECRET",
    "LABEL",
    "ID",
    "TIME",
    "CREATED",
    "ROTATED",
    "EXPIRES",
    "DUE",
    "SINCE",
    "GRACE UNTIL",
    "VERIFIED",
    "VERSION",
    "STAGE",
    "SEVERITY",
    "RESULT",
    "STATUS",
    "CHECK",
];
/// The narrowest a shortened column gets.
const MIN_SHORTENED: usize = 8;
const GAP: usize = 2;

/// How a table is laid out at a width.
#[derive(Debug, PartialEq)]
enum Layout {
    /// These columns, at these widths (a cell wider than its column is shortened with `…`).
    Columns { shown: Vec<usize>, widths: Vec<usize> },
    /// One `HEADER: value` line per cell, rows apart.
    Stacked,
}

impl Table {
    pub fn add_row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(|c| sanitize(c.as_ref())).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn cell(&self, row: usize, column: usize) -> &str {
        self.rows[row].get(column).map_or("", String::as_str)
    }

    /// The width each column needs to show every cell whole.
    fn natural_widths(&self) -> Vec<usize> {
        (0..self.header.len())
            .map(|c| {
                (0..self.rows.len()).map(|r| self.cell(r, c).width()).max().unwrap_or(0).max(self.header[c].width())
            })
            .collect()
    }

    fn layout(&self, width: usize) -> Layout {
        let natural = self.natural_widths();
        let mut shown: Vec<usize> = (0..self.header.len()).collect();
        loop {
            let mut widths: Vec<usize> = shown.iter().map(|&c| natural[c]).collect();
            let total = |w: &[usize]| w.iter().sum::<usize>() + GAP * w.len().saturating_sub(1);
            // Shorten free-text columns, the least important first.
            for i in (1..shown.len()).rev() {
                let excess = total(&widths).saturating_sub(width);
                if excess == 0 {
                    break;
                }
                let column = shown[i];
                if WHOLE.contains(&self.header[column].as_str()) {
                    continue;
                }
                let floor = MIN_SHORTENED.max(self.header[column].width());
                widths[i] -= excess.min(widths[i].saturating_sub(floor));
            }
            if total(&widths) <= width {
                return Layout::Columns { shown, widths };
            }
            if shown.len() <= 2 {
                return Layout::Stacked;
            }
            shown.pop();
        }
    }

    /// Every column in full, aligned, two spaces apart (the form scripts read).
    fn render_plain(&self) -> String {
        let all: Vec<usize> = (0..self.header.len()).collect();
        self.render_columns(&all, &self.natural_widths())
    }

    fn render_for(&self, width: usize, color: bool) -> String {
        match self.layout(width) {
            Layout::Columns { shown, widths } => {
                let mut text = self.render_columns(&shown, &widths);
                if color {
                    text = self.colour_verdicts(&text, &shown, &widths);
                }
                if shown.len() < self.header.len() {
                    let left_out: Vec<&str> = self.header[shown.len()..].iter().map(String::as_str).collect();
                    let note = format!("(hidden at this width: {}; see --json)", left_out.join(", "));
                    text.push_str(&shorten(&note, width));
                    text.push('\n');
                }
                text
            }
            Layout::Stacked => {
                let mut text = String::new();
                for r in 0..self.rows.len() {
                    if r > 0 {
                        text.push('\n');
                    }
                    for (c, header) in self.header.iter().enumerate() {
                        let cell = self.cell(r, c);
                        if !cell.is_empty() && cell != "-" {
                            text.push_str(&format!("{header}: {cell}\n"));
                        }
                    }
                }
                text
            }
        }
    }

    /// Failures in red and warnings in yellow, in the verdict columns (whose cells and the cells
    /// before them are ASCII: names, checks, verdicts), once the columns are laid out.
    fn colour_verdicts(&self, text: &str, shown: &[usize], widths: &[usize]) -> String {
        let verdict_columns: Vec<usize> = (0..shown.len())
            .filter(|&i| matches!(self.header[shown[i]].as_str(), "RESULT" | "STATUS" | "SEVERITY"))
            .collect();
        if verdict_columns.is_empty() {
            return text.to_owned();
        }
        let mut out = String::with_capacity(text.len() + 64);
        for (n, line) in text.lines().enumerate() {
            let mut line = line.to_owned();
            // Right to left, so earlier offsets stay valid.
            for &i in verdict_columns.iter().rev() {
                let start: usize = widths[..i].iter().sum::<usize>() + GAP * i;
                let Some(cell) = line.get(start..).map(|rest| rest.split("  ").next().unwrap_or("").trim_end()) else {
                    continue;
                };
                let code = match cell.to_ascii_lowercase().as_str() {
                    _ if n == 0 => continue,
                    "fail" | "failed" | "overdue" | "expired" | "invalid" => "31",
                    "warn" | "due" | "unknown" => "33",
                    _ => continue,
                };
                let end = start + cell.len();
                if line.is_char_boundary(start) && line.is_char_boundary(end) {
                    line = format!("{}\x1b[{code}m{}\x1b[0m{}", &line[..start], &line[start..end], &line[end..]);
                }
            }
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn render_columns(&self, shown: &[usize], widths: &[usize]) -> String {
        let mut table = comfy_table::Table::new();
        table.load_preset(NOTHING).set_content_arrangement(ContentArrangement::Disabled);
        let fit = |text: &str, i: usize| shorten(text, widths[i]);
        table.set_header(shown.iter().enumerate().map(|(i, &c)| fit(&self.header[c], i)));
        for r in 0..self.rows.len() {
            table.add_row(shown.iter().enumerate().map(|(i, &c)| fit(self.cell(r, c), i)));
        }
        // No borders: drop the cell padding's leading space (not all leading space, which would
        // shift rows whose first cell is empty) and trailing blanks.
        let text = table.to_string();
        let mut out = String::with_capacity(text.len());
        for line in text.lines() {
            out.push_str(line.strip_prefix(' ').unwrap_or(line).trim_end());
            out.push('\n');
        }
        out
    }
}

/// `text` cut to `width` columns, its last one an ellipsis when anything was cut.
fn shorten(text: &str, width: usize) -> String {
    if text.width() <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for ch in text.chars() {
        let w = unicode_width::UnicodeWidthChar::width(ch).unwrap_or(0);
        if used + w + 1 > width {
            break;
        }
        out.push(ch);
        used += w;
    }
    out.push('…');
    out
}

/// The terminal's width: standard output's window size, else `COLUMNS`, else 80.
fn terminal_width() -> usize {
    // SAFETY: winsize is plain integers, for which all zeroes is a valid value.
    let mut size: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ fills a winsize for a terminal descriptor, and fails harmlessly on
    // anything else.
    let rc = unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &raw mut size) };
    if rc == 0 && size.ws_col > 0 {
        return usize::from(size.ws_col);
    }
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok()).filter(|&c: &usize| c > 0).unwrap_or(80)
}

#[cfg(test)]
mod table_tests {
    use super::*;

    fn list_table() -> Table {
        let mut t = Table { header: Vec::new(), rows: Vec::new() };
        t.header =
            ["NAME", "VARIABLE", "ENV", "PROVIDER", "VERSION", "ROTATED", "EXPIRES", "TAGS"].map(String::from).to_vec();
        t.add_row(["stripe/live", "STRIPE_LIVE", "prod", "stripe", "3", "2026-11-29", "2027-01-31", "billing, ci"]);
        t.add_row([
            "github/ci-release-bot",
            "GITHUB_TOKEN",
            "-",
            "github",
            "1",
            "2026-10-02",
            "-",
            "ci, release, team-platform",
        ]);
        t
    }

    #[test]
    fn no_line_is_wider_than_the_terminal_and_no_name_time_or_header_is_broken() {
        let t = list_table();
        for width in [40, 60, 80, 120, 200] {
            let text = t.render_for(width, false);
            for line in text.lines() {
                assert!(line.width() <= width, "{width}: {line:?} in\n{text}");
            }
            for whole in ["stripe/live", "github/ci-release-bot", "NAME"] {
                assert!(text.contains(whole), "{width}: {whole} in\n{text}");
            }
            for time in ["2026-11-29", "2026-10-02"] {
                assert!(!text.contains(&time[..7]) || text.contains(time), "{width}: a time cut: {text}");
            }
        }
        assert!(t.render_for(200, false).contains("team-platform") && !t.render_for(200, false).contains("hidden"));
        assert!(t.render_for(80, false).contains("hidden at this width"));
        assert!(t.render_for(20, false).contains("NAME: github/ci-release-bot\nVARIABLE: GITHUB_TOKEN"));
    }

    #[test]
    fn failures_and_warnings_are_coloured_on_a_colour_terminal_only() {
        let mut t =
            Table { header: ["NAME", "CHECK", "RESULT", "DETAIL"].map(String::from).to_vec(), rows: Vec::new() };
        t.add_row(["stripe/live", "format", "FAIL", "not a Stripe key"]);
        t.add_row(["", "expiry", "warn", "expires in 3 days"]);
        t.add_row(["", "rotation", "ok", "fine"]);
        let text = t.render_for(120, true);
        assert!(text.contains("\x1b[31mFAIL\x1b[0m") && text.contains("\x1b[33mwarn\x1b[0m"), "{text:?}");
        assert!(!text.contains("\x1b[31mRESULT") && !text.contains("\x1b[31mok"), "{text:?}");
        assert!(!t.render_for(120, false).contains('\x1b'));
    }

    #[test]
    fn shortening_marks_what_it_cut() {
        assert_eq!(shorten("ci, release, team-platform", 8), "ci, rel…");
        assert_eq!(shorten("short", 8), "short");
    }
}
