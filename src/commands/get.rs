//! `keyward get`: print a secret's value, byte for byte.

use serde::Serialize;
use zeroize::Zeroizing;

use crate::Outcome;
use crate::cli::GetArgs;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::vault::secret::VersionSelector;

pub(super) fn run(args: GetArgs, ctx: &Context) -> Result<Outcome> {
    crate::vault::secret::check_name(&args.name)?;
    let selector: VersionSelector =
        args.version.parse().map_err(|reason: String| Error::invalid("version", &args.version, reason))?;
    // Only the environments that may hold the name are read; a miss reads the whole vault again
    // to suggest the closest name.
    let secret = match ctx.open_for_secret(&args.name)?.find(&args.name)? {
        Some(secret) => secret,
        None => ctx.open()?.get(&args.name)?,
    };
    let version = secret.usable(selector, ctx.now)?;

    let clip = if args.clip {
        let timeout = crate::parse::duration(&args.clip_timeout)
            .map_err(|r| Error::invalid("clipboard timeout", &args.clip_timeout, r))?;
        Some((crate::clipboard::Tool::detect()?, timeout))
    } else {
        None
    };

    // Recorded before the value leaves the process: no unaudited reads.
    let mut event = crate::audit::Event::new("get").secret(&secret.name);
    event.fingerprint = ctx.fingerprint(version.value.expose());
    let mut details = serde_json::json!({"version": version.id, "stage": version.stage.as_str()});
    if clip.is_some() {
        details["clip"] = serde_json::json!(true);
    }
    ctx.audit(event.details(details), false)?;
    if crate::rotation::grace_notice(&secret, ctx.now).is_some() {
        super::grace_notice(&secret, ctx);
        super::notify_grace(&secret, ctx);
    }
    let value = version.value.expose();
    if let Some((tool, timeout)) = clip {
        tool.copy(value.as_bytes())?;
        clear_later(value.as_bytes(), timeout)?;
        let name = crate::output::sanitize(&secret.name);
        if ctx.out.json {
            ctx.out.json(&serde_json::json!({"copied": secret.name, "clears_in_seconds": timeout}));
        } else {
            ctx.out
                .notice(&format!("copied {name} to the clipboard; it is cleared in {timeout} s if it still holds it"));
        }
        return Ok(Outcome::Success);
    }
    // Sized up front (JSON escaping at most sextuples a character) so the buffer never grows and
    // leaves copies of the value behind.
    let mut out = Zeroizing::new(Vec::with_capacity(value.len() * 6 + 256));
    if ctx.out.json {
        #[derive(Serialize)]
        struct Shown<'a> {
            name: &'a str,
            version: u32,
            stage: &'a str,
            value: &'a str,
        }
        let shown = Shown { name: &secret.name, version: version.id, stage: version.stage.as_str(), value };
        serde_json::to_writer_pretty(&mut *out, &shown).expect("serializing into memory cannot fail");
        out.push(b'\n');
    } else {
        out.extend_from_slice(value.as_bytes());
        if !args.no_newline {
            out.push(b'\n');
        }
    }
    ctx.out.write_unbuffered(&out);
    Ok(Outcome::Success)
}

/// Starts the detached helper that clears the clipboard after `seconds` if it still holds
/// `value`: this command returns at once, as `pass -c` does. The helper gets only the value's
/// SHA-256, on standard input (never in its arguments or environment).
fn clear_later(value: &[u8], seconds: u64) -> Result<()> {
    use std::io::Write;
    use std::os::unix::process::CommandExt;
    let exe = std::env::current_exe().map_err(|e| Error::io("cannot find", "the keyward program", e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["__clip-clear", "--after-ms", &(seconds.saturating_mul(1000)).to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe; the helper leaves this terminal's session, so closing
    // the terminal does not end it before it clears the clipboard.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| Error::io("cannot start", "the clipboard helper", e))?;
    let digest = crate::vault::crypto::sha256(value);
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(data_encoding::HEXLOWER.encode(&digest).as_bytes())
        .map_err(|e| Error::io("cannot start", "the clipboard helper", e))?;
    Ok(())
}

/// The helper's side (`keyward __clip-clear`): waits, then clears the clipboard when it still
/// holds the value whose SHA-256 came on standard input; anything copied since is left alone.
pub(super) fn clear_clipboard_later(after_ms: u64) -> Result<Outcome> {
    use std::io::Read;
    let mut expected = String::new();
    std::io::stdin()
        .take(64)
        .read_to_string(&mut expected)
        .map_err(|e| Error::io("cannot read", "standard input", e))?;
    std::thread::sleep(std::time::Duration::from_millis(after_ms));
    let tool = crate::clipboard::Tool::detect()?;
    let now = tool.paste()?;
    if data_encoding::HEXLOWER.encode(&crate::vault::crypto::sha256(&now)) == expected.trim() {
        tool.clear()?;
    }
    Ok(Outcome::Success)
}
