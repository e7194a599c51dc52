//! The system clipboard, through the standard tools (as `pass -c` and gopass use them):
//! `wl-copy`/`wl-paste` on Wayland, `xclip` (else `xsel`) on X11, `pbcopy`/`pbpaste` on macOS.
//! Values go to the tools on standard input, never in their arguments.

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// One clipboard tool set: how to copy, read and clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    Wayland,
    Xclip,
    Xsel,
    Mac,
}

impl Tool {
    /// The tool for this session: Wayland's when `WAYLAND_DISPLAY` is set, X11's when `DISPLAY`
    /// is, macOS's on macOS; each only when the program is on `PATH`.
    pub fn detect() -> Result<Tool> {
        let on_path = |program: &str| {
            std::env::var_os("PATH")
                .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
        };
        let set = |var: &str| std::env::var_os(var).is_some_and(|v| !v.is_empty());
        let found = if cfg!(target_os = "macos") && on_path("pbcopy") {
            Some(Tool::Mac)
        } else if set("WAYLAND_DISPLAY") && on_path("wl-copy") {
            Some(Tool::Wayland)
        } else if set("DISPLAY") && on_path("xclip") {
            Some(Tool::Xclip)
        } else if set("DISPLAY") && on_path("xsel") {
            Some(Tool::Xsel)
        } else {
            None
        };
        found.ok_or_else(|| {
            Error::Usage(
                "no clipboard here: --clip needs wl-copy (Wayland), xclip or xsel (X11) or pbcopy (macOS), and a display"
                    .into(),
            )
        })
    }

    fn copy_command(self) -> Command {
        match self {
            Tool::Wayland => Command::new("wl-copy"),
            Tool::Xclip => {
                let mut c = Command::new("xclip");
                c.args(["-selection", "clipboard", "-in"]);
                c
            }
            Tool::Xsel => {
                let mut c = Command::new("xsel");
                c.args(["--clipboard", "--input"]);
                c
            }
            Tool::Mac => Command::new("pbcopy"),
        }
    }

    fn paste_command(self) -> Command {
        match self {
            Tool::Wayland => {
                let mut c = Command::new("wl-paste");
                c.arg("--no-newline");
                c
            }
            Tool::Xclip => {
                let mut c = Command::new("xclip");
                c.args(["-selection", "clipboard", "-out"]);
                c
            }
            Tool::Xsel => {
                let mut c = Command::new("xsel");
                c.args(["--clipboard", "--output"]);
                c
            }
            Tool::Mac => Command::new("pbpaste"),
        }
    }

    /// Puts `value` on the clipboard. The X11 tools stay in the background serving it (that is
    /// how X selections work); their output is not ours to wait for.
    pub fn copy(self, value: &[u8]) -> Result<()> {
        let mut child = self
            .copy_command()
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io("cannot run", "the clipboard tool", e))?;
        let written = child.stdin.take().expect("piped").write_all(value);
        let status = child.wait().map_err(|e| Error::io("cannot run", "the clipboard tool", e))?;
        if written.is_err() || !status.success() {
            return Err(Error::Refused(
                "the clipboard tool failed; nothing was copied".into(),
                "check that the display (DISPLAY or WAYLAND_DISPLAY) is reachable",
            ));
        }
        Ok(())
    }

    /// What the clipboard holds now, in a buffer wiped when dropped (at most 1 MiB is read).
    pub fn paste(self) -> Result<Zeroizing<Vec<u8>>> {
        let mut child = self
            .paste_command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| Error::io("cannot run", "the clipboard tool", e))?;
        let mut out = Zeroizing::new(Vec::with_capacity(1 << 20));
        let mut stdout = child.stdout.take().expect("piped").take(1 << 20);
        let mut buf = Zeroizing::new([0u8; 4096]);
        loop {
            let n = stdout.read(&mut *buf).map_err(|e| Error::io("cannot read", "the clipboard tool", e))?;
            if n == 0 || out.len() + n > out.capacity() {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        let _ = child.wait();
        Ok(out)
    }

    /// Empties the clipboard.
    pub fn clear(self) -> Result<()> {
        self.copy(b"")
    }
}
