//! Reading secret input: values from standard input or a hidden prompt, passphrases from a file
//! or a prompt. Nothing here ever takes a secret from the command line.

use std::io::IsTerminal;
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::sensitive::{PASSPHRASE_LIMIT, Passphrase, SecretValue, into_text, read_bounded, read_passphrase_file};

/// Standard input without std's buffer: a secret read through `std::io::stdin()` would also sit
/// in std's 8 KiB buffer, unwiped, for the rest of the process. Reads go straight into the
/// caller's (zeroizing, pre-sized) buffer.
struct RawStdin;

impl std::io::Read for RawStdin {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        // SAFETY: read(2) into a live buffer of `buf.len()` bytes.
        let n = unsafe { libc::read(0, buf.as_mut_ptr().cast(), buf.len()) };
        match usize::try_from(n) {
            Ok(n) => Ok(n),
            // A closed standard input reads as empty, as std's does.
            Err(_) if std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF) => Ok(0),
            Err(_) => Err(std::io::Error::last_os_error()),
        }
    }
}

/// Prompts are possible when standard input is a terminal.
pub(crate) fn can_prompt() -> bool {
    std::io::stdin().is_terminal()
}

/// Asks on the terminal with echo off (see [`crate::tty`]); the answer is at most `limit` bytes.
fn prompt_hidden(prompt: &str, limit: usize) -> Result<Passphrase> {
    let line = crate::tty::read_hidden(prompt, limit).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Error::ValueTooLarge { limit },
        _ => Error::io("cannot read from", "/dev/tty", e),
    })?;
    Ok(Passphrase::new(into_text(line)?.as_str().to_owned()))
}

pub(crate) fn prompt_secret(prompt: &str) -> Result<Passphrase> {
    prompt_hidden(prompt, PASSPHRASE_LIMIT)
}

/// What an age plugin may ask of the person at the keyboard (see [`crate::vault::v2::plugin`]):
/// its messages on standard error, a PIN on the terminal with echo off. Without a terminal a
/// plugin gets no answer and fails as it would under `age` in a script.
pub(crate) struct PluginPrompts;

impl crate::vault::v2::plugin::Prompts for PluginPrompts {
    fn message(&self, text: &str) {
        eprintln!("keyward: age plugin: {}", crate::sanitize::sanitize(text));
    }

    fn secret(&self, description: &str) -> Option<zeroize::Zeroizing<String>> {
        if !can_prompt() {
            return None;
        }
        let prompt = format!("{}: ", crate::sanitize::sanitize(description));
        let line = crate::tty::read_hidden(&prompt, PASSPHRASE_LIMIT).ok()?;
        into_text(line).ok()
    }
}

/// Asks twice and insists on the same answer.
fn prompt_twice(first: &str, again: &str, limit: usize) -> Result<Passphrase> {
    let a = prompt_hidden(first, limit)?;
    let b = prompt_hidden(again, limit)?;
    if a.expose() != b.expose() {
        return Err(Error::Mismatch);
    }
    Ok(a)
}

/// A secret value: piped standard input, else a hidden prompt asked twice.
pub(crate) fn read_value() -> Result<SecretValue> {
    let text = if can_prompt() {
        let value = prompt_twice("Value (input hidden): ", "Value again: ", SecretValue::MAX_LEN)?;
        Zeroizing::new(value.expose().to_owned())
    } else {
        let buf = read_bounded(&mut RawStdin, SecretValue::MAX_LEN, "cannot read", Path::new("standard input"))?;
        into_text(buf)?
    };
    if text.is_empty() {
        return Err(Error::EmptyValue);
    }
    Ok(SecretValue::new(text.as_str().to_owned()))
}

/// A new passphrase: from `KEYWARD_PASSPHRASE_FILE`, else asked twice on the terminal, else the
/// first line of standard input.
pub(crate) fn new_passphrase() -> Result<Passphrase> {
    let passphrase = if let Some(file) = std::env::var_os(crate::unlock::PASSPHRASE_FILE_VAR) {
        read_passphrase_file(Path::new(&file))?
    } else if can_prompt() {
        prompt_twice("New passphrase: ", "New passphrase again: ", PASSPHRASE_LIMIT)?
    } else {
        let buf = read_bounded(&mut RawStdin, PASSPHRASE_LIMIT, "cannot read", Path::new("standard input"))?;
        Passphrase::new(into_text(buf)?.as_str().to_owned())
    };
    if passphrase.expose().chars().count() < 8 {
        return Err(Error::invalid("passphrase", "(hidden)", "use at least 8 characters"));
    }
    Ok(passphrase)
}

/// A recovery key or token from standard input (or a hidden prompt on a terminal).
pub(crate) fn read_code(prompt: &str) -> Result<Zeroizing<String>> {
    if can_prompt() {
        return Ok(Zeroizing::new(prompt_secret(prompt)?.expose().to_owned()));
    }
    let buf = read_bounded(&mut RawStdin, 1024, "cannot read", Path::new("standard input"))?;
    into_text(buf)
}

/// Asks a yes/no question on the terminal; anything but y/yes is no.
/// The one rule for commands that destroy or invalidate something: `--yes` (or `--force`) goes
/// ahead; otherwise ask on a terminal; without one, refuse (exit 2) saying which flag to add.
/// `Ok(false)`: the user said no.
pub(crate) fn confirm_or_refuse(given: bool, what: &'static str, question: &str, hint: &'static str) -> Result<bool> {
    if given {
        return Ok(true);
    }
    if !can_prompt() {
        return Err(Error::NeedsTerminal { what, hint });
    }
    confirm(question)
}

pub(crate) fn confirm(question: &str) -> Result<bool> {
    eprint!("{question} [y/N] ");
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer).map_err(|e| Error::io("cannot read", "standard input", e))?;
    Ok(matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_trailing_newline_is_removed() {
        for (input, want) in
            [(&b"abc\n"[..], &b"abc"[..]), (b"abc\r\n", b"abc"), (b"abc\n\n", b"abc\n"), (b"abc", b"abc")]
        {
            let buf = read_bounded(&mut &input[..], 100, "x", Path::new("x")).unwrap();
            assert_eq!(&buf[..], want);
        }
    }

    #[test]
    fn oversize_is_refused() {
        let big = [b'a'; 101];
        assert!(matches!(read_bounded(&mut &big[..], 100, "x", Path::new("x")), Err(Error::ValueTooLarge { .. })));
        let exact = [b'a'; 100];
        assert!(read_bounded(&mut &exact[..], 100, "x", Path::new("x")).is_ok());
    }
}
