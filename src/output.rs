//! Everything printed: plain text, tables, JSON, colour, and terminal-escape sanitizing.

use std::io::{IsTerminal, Write};

use comfy_table::ContentArrangement;
use comfy_table::presets::{NOTHING, UTF8_FULL_CONDENSED};
use serde::Serialize;

pub(crate) use crate::sanitize::{sanitize, sanitize_lines};

/// Output settings, from the global flags and the environment, and the first error writing to
/// standard output (after which nothing more is written; `run` reports it once the command ends).
#[derive(Debug)]
pub struct Output {
    pub json: bool,
    pub quiet: bool,
    pub color: bool,
    pub stdout_tty: bool,
    failed: std::cell::RefCell<Option<std::io::Error>>,
}

impl Output {
    pub fn new(json: bool, quiet: bool, no_color: bool) -> Self {
        let stdout_tty = std::io::stdout().is_terminal();
        let no_color = no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Output {
            json,
            quiet,
            color: !no_color && std::io::stderr().is_terminal(),
            stdout_tty,
            failed: std::cell::RefCell::new(None),
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
        if table.0.row_count() == 0 {
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

    /// A table that fits the terminal, or plain aligned columns when stdout is not a terminal.
    pub fn table(&self, header: &[&str]) -> Table {
        let mut table = comfy_table::Table::new();
        if self.stdout_tty {
            table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
        } else {
            table.load_preset(NOTHING).set_content_arrangement(ContentArrangement::Disabled);
        }
        table.set_header(header.iter().map(std::string::ToString::to_string));
        Table(table)
    }

    pub fn print_table(&self, table: &Table) {
        let text = table.0.to_string();
        // Off a terminal the table has no borders: drop the cell padding's leading space (not all
        // leading space, which would shift rows whose first cell is empty) and trailing blanks.
        let lines: Vec<&str> = text
            .lines()
            .map(|l| if self.stdout_tty { l } else { l.strip_prefix(' ').unwrap_or(l).trim_end() })
            .collect();
        self.write(format!("{}\n", lines.join("\n")).as_bytes());
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
pub struct Table(comfy_table::Table);

impl Table {
    pub fn add_row<S: AsRef<str>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.0.add_row(cells.into_iter().map(|c| sanitize(c.as_ref())).collect::<Vec<String>>());
    }
}
