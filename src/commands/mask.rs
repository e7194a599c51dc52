//! `keyward mask`: a streaming filter that hides known values and provider-shaped keys.

use std::fs::File;
use std::os::fd::AsRawFd;

use crate::Outcome;
use crate::cli::MaskArgs;
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::mask::{Engine, Options, stream};

pub(super) fn run(args: MaskArgs, ctx: &Context) -> Result<Outcome> {
    // Fail closed: the vault is opened (or refused) before any input is read.
    let vault = if args.no_known { None } else { Some(ctx.open()?) };
    let config = if args.no_patterns { None } else { Some(Config::load()?) };
    let opts = Options { style: args.style.into(), min_length: args.min_length.into(), scan: false };
    let engine = Engine::for_vault(vault.as_ref(), config.as_ref().map(Config::registry), opts)?;
    if let Some(v) = &vault {
        super::note_skipped(ctx, v);
        let count = v.index()?.len();
        ctx.audit(crate::audit::Event::new("mask").details(serde_json::json!({"secrets_known": count})), false)?;
    }
    drop(vault);

    let mut stdout = crate::output::raw(crate::output::Stream::Stdout);
    widen_pipe(1);
    if args.files.is_empty() {
        widen_pipe(0);
        let stdin = std::io::stdin();
        let fd = stdin.as_raw_fd();
        return finish(stream::mask_fd(&engine, stdin.lock(), &mut *stdout, Some(fd)), "standard input");
    }
    if args.in_place {
        // Checked for every file before any is changed: replacing a link would leave the
        // secrets in the file it points to (a symbolic link) or shares data with (a hard link).
        for path in &args.files {
            in_place_target(path)?;
        }
    }
    for path in &args.files {
        let file = File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
        if args.in_place {
            let mut out = Vec::new();
            stream::mask(&engine, file, &mut out).map_err(|e| Error::io("cannot read", path, e))?;
            crate::files::replace_keeping_mode(path, &out)?;
            zeroize::Zeroize::zeroize(&mut out);
        } else {
            finish(stream::mask(&engine, file, &mut *stdout), &path.display().to_string())?;
        }
    }
    Ok(Outcome::Success)
}

/// `--in-place` rewrites a regular file with one link, nothing else.
fn in_place_target(path: &std::path::Path) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(path).map_err(|e| Error::io("cannot read", path, e))?;
    let why = if meta.file_type().is_symlink() {
        "it is a symbolic link; give the file it points to"
    } else if !meta.is_file() {
        "it is not a regular file"
    } else if meta.nlink() != 1 {
        "it has other hard links, which would keep the unmasked text"
    } else {
        return Ok(());
    };
    Err(Error::invalid("file for --in-place", path.display().to_string(), why))
}

/// Raises a pipe's kernel buffer to 1 MiB (Linux), so blocks move with fewer context switches.
/// Not a pipe, or not allowed: nothing changes.
fn widen_pipe(fd: i32) {
    #[cfg(target_os = "linux")]
    // SAFETY: fcntl on a descriptor we hold; failure is harmless.
    unsafe {
        libc::fcntl(fd, libc::F_SETPIPE_SZ, 1 << 20);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = fd;
}

fn finish(result: std::io::Result<()>, what: &str) -> Result<Outcome> {
    match result {
        Ok(()) => Ok(Outcome::Success),
        // The reader of our output went away (`| head`): stop quietly.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(Outcome::Success),
        Err(e) => Err(Error::io("cannot mask", what, e)),
    }
}
