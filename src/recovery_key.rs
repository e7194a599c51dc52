//! Handing a new recovery key to the user: to a file, to standard output, or on the terminal.

use std::path::{Path, PathBuf};

use crate::context::Context;
use crate::error::Result;
use crate::sensitive::Key32;
use crate::unlock::codes::{self, CodeKind};

/// Where a new recovery key goes.
pub(crate) enum Destination {
    File(PathBuf),
    Stdout,
    Terminal,
    /// No terminal and no file: no recovery key is made.
    Nowhere,
}

/// Where standard output is the key's alone: `--recovery-key-file -` with `--json` would put two
/// documents there, so that mix is refused.
pub(crate) fn check_stdout(dest: &Destination, ctx: &Context) -> Result<()> {
    if matches!(dest, Destination::Stdout) && ctx.out.json {
        return Err(crate::error::Error::Usage(
            "--json and --recovery-key-file - both write to standard output: write the key to a file".into(),
        ));
    }
    Ok(())
}

/// The closing report of a command that issued a recovery key. With `-`, standard output carries
/// the key alone (`keyward init --recovery-key-file - > key.txt` makes a file that unlocks), so
/// the report goes to standard error.
pub(crate) fn report(dest: &Destination, ctx: &Context, json: &serde_json::Value, text: impl FnOnce() -> String) {
    if matches!(dest, Destination::Stdout) {
        ctx.out.notice(&text());
    } else {
        ctx.out.report(json, text);
    }
}

pub(crate) fn destination(flag: Option<&Path>, ctx: &Context) -> Destination {
    match flag {
        Some(p) if p == Path::new("-") => Destination::Stdout,
        Some(p) => Destination::File(p.to_owned()),
        None if ctx.out.stdout_tty && !ctx.out.json => Destination::Terminal,
        None => Destination::Nowhere,
    }
}

/// Writes the key where it belongs. Called before the vault is saved, so a failure here leaves the
/// vault as it was.
pub(crate) fn deliver(dest: &Destination, key: &Key32, ctx: &Context) -> Result<()> {
    let text = codes::encode(CodeKind::Recovery, key);
    match dest {
        Destination::File(path) => {
            let mut content = zeroize::Zeroizing::new(String::with_capacity(text.len() + 1));
            content.push_str(&text);
            content.push('\n');
            if let Some(dir) = path.parent() {
                crate::files::create_private_dir(dir)?;
            }
            crate::files::write_atomic(path, content.as_bytes())?;
            ctx.out.notice(&format!("recovery key written to {} (mode 0600); keep it offline", path.display()));
        }
        Destination::Stdout => {
            let mut line = zeroize::Zeroizing::new(String::with_capacity(text.len() + 1));
            line.push_str(&text);
            line.push('\n');
            ctx.out.write(line.as_bytes());
        }
        Destination::Terminal => {
            // Built in a zeroizing buffer: `format!` would leave a copy of the key in freed memory.
            let mut shown = zeroize::Zeroizing::new(String::with_capacity(text.len() + 200));
            shown.push_str("\nRecovery key (shown once; it opens the vault if the keyring is lost):\n\n    ");
            shown.push_str(&text);
            shown.push_str("\n\nKeep it offline: print it or put it in a password manager, not next to the vault.\n\n");
            ctx.out.write(shown.as_bytes());
        }
        Destination::Nowhere => {}
    }
    Ok(())
}
