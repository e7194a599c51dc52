//! Hidden input from the controlling terminal, done the way readpassphrase(3) does it.
//!
//! Echo goes off *before* the prompt is shown, so nothing typed once the prompt is visible is
//! ever echoed (a prompt-then-disable order leaves a window where a fast typist's or a paste's
//! first characters appear on screen), and whatever was typed ahead of the prompt is discarded.
//! Echo comes back on every way out: a line, end of input, an error, or a signal — Ctrl-C, a
//! kill or a hang-up restore the terminal and then take their usual effect; Ctrl-Z restores it,
//! stops, and asks again on `fg`. The kernel's line discipline does the editing (erase, kill
//! line, erase word), which caps a typed line at its 4,095-byte buffer: longer values are piped.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicI32, Ordering};

use libc::c_int;
use zeroize::{Zeroize, Zeroizing};

/// Signals a person at the terminal can send (or that end a session) while echo is off.
const CAUGHT_SIGNALS: [c_int; 7] =
    [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

/// The signal that interrupted the prompt, 0 if none.
static CAUGHT: AtomicI32 = AtomicI32::new(0);

extern "C" fn note_signal(signal: c_int) {
    CAUGHT.store(signal, Ordering::SeqCst);
}

/// Shows `prompt` on the terminal and reads one line with echo off (without its line ending).
/// A line longer than `limit` bytes is read to its end and refused with `InvalidData`.
pub(crate) fn read_hidden(prompt: &str, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut tty = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
    let fd = tty.as_raw_fd();
    let saved = get_mode(fd)?;
    loop {
        CAUGHT.store(0, Ordering::SeqCst);
        let previous = catch_signals();
        let line = hidden_line(&mut tty, &saved, prompt, limit);
        let restored = set_mode(fd, libc::TCSANOW, &saved);
        restore_signals(&previous);
        let signal = CAUGHT.load(Ordering::SeqCst);
        if signal == 0 {
            // The Enter the user pressed was not echoed either.
            tty.write_all(b"\n")?;
            restored?;
            return line;
        }
        drop(line);
        // The signal's own disposition now: the process ends or stops here, as it would have
        // without the prompt — with the terminal as it was.
        // SAFETY: raising a signal to this thread.
        unsafe { libc::raise(signal) };
        if ![libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU].contains(&signal) {
            // The signal is ignored or handled elsewhere, so nothing ended the process: give up.
            return Err(io::ErrorKind::Interrupted.into());
        }
        // Continued after a stop: ask again from the start.
        tty.write_all(b"\n")?;
    }
}

fn hidden_line(tty: &mut File, saved: &libc::termios, prompt: &str, limit: usize) -> io::Result<Zeroizing<Vec<u8>>> {
    let mut quiet = *saved;
    quiet.c_lflag &= !(libc::ECHO | libc::ECHOE | libc::ECHOK | libc::ECHONL);
    quiet.c_lflag |= libc::ICANON | libc::ISIG;
    // TCSAFLUSH: typed-ahead input was echoed when it arrived and is not for this prompt.
    set_mode(tty.as_raw_fd(), libc::TCSAFLUSH, &quiet)?;
    tty.write_all(prompt.as_bytes())?;
    // Room for the longest line accepted, so the buffer never reallocates and leaves a copy.
    let mut line = Zeroizing::new(Vec::with_capacity(limit + 1));
    let mut byte = [0u8; 1];
    let mut too_long = false;
    loop {
        if CAUGHT.load(Ordering::SeqCst) != 0 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        // Wait in short steps rather than in a blocking read: a signal landing between the
        // check above and the read would leave the read waiting for a line that never comes
        // (Ctrl-C also discards what was typed).
        if !readable(tty.as_raw_fd(), 100) {
            continue;
        }
        // One byte at a time: nothing past the line is taken from the terminal.
        match tty.read(&mut byte) {
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if line.len() < limit + 1 => line.push(byte[0]),
            Ok(_) => too_long = true,
            // Without SA_RESTART a caught signal ends the read; the loop's check sees it.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    byte.zeroize();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if too_long || line.len() > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("longer than {limit} bytes")));
    }
    Ok(line)
}

/// Whether `fd` has input (a whole line, in canonical mode) or an end within `millis`; false
/// on a timeout or a signal.
fn readable(fd: RawFd, millis: c_int) -> bool {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&raw mut pfd, 1, millis) > 0 }
}

fn get_mode(fd: RawFd) -> io::Result<libc::termios> {
    let mut mode = std::mem::MaybeUninit::<libc::termios>::uninit();
    // SAFETY: a valid descriptor and room for one termios.
    if unsafe { libc::tcgetattr(fd, mode.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: tcgetattr succeeded, so it filled the struct.
    Ok(unsafe { mode.assume_init() })
}

fn set_mode(fd: RawFd, when: c_int, mode: &libc::termios) -> io::Result<()> {
    // SAFETY: a valid descriptor and an initialized termios.
    if unsafe { libc::tcsetattr(fd, when, mode) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Installs `note_signal` for every caught signal that is not ignored (no SA_RESTART, so a
/// blocked read returns) and returns the previous dispositions.
fn catch_signals() -> Vec<libc::sigaction> {
    CAUGHT_SIGNALS
        .iter()
        .map(|&signal| {
            // SAFETY: zeroed is a valid sigaction (empty mask, no flags); the handler only stores
            // to an atomic, which is async-signal-safe.
            unsafe {
                let mut previous: libc::sigaction = std::mem::zeroed();
                libc::sigaction(signal, std::ptr::null(), &raw mut previous);
                // An ignored signal (SIGHUP under nohup, SIGINT in a background job) stays ignored.
                if previous.sa_sigaction != libc::SIG_IGN {
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = note_signal as *const () as libc::sighandler_t;
                    libc::sigaction(signal, &raw const action, std::ptr::null_mut());
                }
                previous
            }
        })
        .collect()
}

fn restore_signals(previous: &[libc::sigaction]) {
    for (&signal, action) in CAUGHT_SIGNALS.iter().zip(previous) {
        // SAFETY: a disposition sigaction itself returned.
        unsafe { libc::sigaction(signal, action, std::ptr::null_mut()) };
    }
}
