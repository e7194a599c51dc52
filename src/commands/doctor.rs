//! `keyward doctor`: checks what a new user's machine has and says what to fix.

use std::os::unix::fs::MetadataExt;

use serde::Serialize;

use crate::Outcome;
use crate::config::Config;
use crate::context::Context;
use crate::error::Result;
use crate::output::sanitize;
use crate::parse;
use crate::unlock::keyring::{self, Backend};
use crate::unlock::{self, Policy};
use crate::vault::Locked;
use crate::vault::format::SlotKind;

#[derive(Serialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Serialize)]
struct Finding {
    check: &'static str,
    status: Status,
    detail: String,
}

pub(super) fn run(ctx: &Context) -> Result<Outcome> {
    let mut found = Vec::new();
    let mut add = |check, status, detail: String| found.push(Finding { check, status, detail });
    let location = ctx.location()?;
    let path = &location.path;
    add("vault", Status::Ok, format!("{} ({})", path.display(), location.reason.describe()));

    let locked = match std::fs::metadata(path) {
        Err(_) => {
            add("vault file", Status::Fail, "does not exist: create it with `keyward init`".into());
            None
        }
        Ok(meta) if !meta.is_file() => {
            add(
                "vault file",
                Status::Fail,
                "is not a regular file: point --vault or KEYWARD_VAULT at the vault".into(),
            );
            None
        }
        Ok(meta) => {
            let mode = meta.mode() & 0o777;
            // SAFETY: getuid has no preconditions.
            let uid = unsafe { libc::getuid() };
            if mode & 0o077 != 0 {
                add(
                    "permissions",
                    Status::Warn,
                    format!("the vault is mode {mode:03o}: run `chmod 600 {}`", path.display()),
                );
            } else if meta.uid() != uid {
                add("permissions", Status::Warn, format!("the vault belongs to uid {}, not you ({uid})", meta.uid()));
            } else {
                add("permissions", Status::Ok, format!("the vault is mode {mode:03o}"));
            }
            // Others who can write the directory can replace the vault (with an older copy, say).
            if let Some(dir) = path.parent().and_then(|d| std::fs::metadata(d).ok())
                && dir.mode() & 0o022 != 0
                && dir.mode() & 0o1000 == 0
            {
                add(
                    "permissions",
                    Status::Warn,
                    format!("its directory is writable by others (mode {:03o}): `chmod go-w` it", dir.mode() & 0o777),
                );
            }
            match Locked::read(path) {
                Ok(locked) => Some(locked),
                Err(e) => {
                    add("vault file", Status::Fail, e.to_string());
                    None
                }
            }
        }
    };

    for backend in Backend::ALL.into_iter().filter(|b| cfg!(target_os = "macos") == (*b == Backend::Keychain)) {
        match keyring::probe(backend) {
            Ok(()) => add("keyring", Status::Ok, format!("{} reachable; {}", backend.name(), backend.persistence())),
            Err(e) => add("keyring", Status::Warn, e.to_string()),
        }
    }

    if let Some(locked) = &locked {
        if locked.version() >= 2 {
            add("format", Status::Ok, format!("version {}", locked.version()));
        } else {
            add(
                "format",
                Status::Warn,
                "version 1: removing a token does not re-key the vault; `keyward key upgrade` converts it to version 2"
                    .into(),
            );
        }
        match unlock::unlock(locked, Policy { passphrase: true, kms: true }, &mut unlock::NoOne) {
            Ok((credential, _)) => add("unlock", Status::Ok, format!("opens now with the {}", credential.describe())),
            Err(e) => add("unlock", Status::Fail, format!("{e} — {}", e.hint())),
        }
        if locked.slots().iter().any(|s| s.kind == SlotKind::Recovery) {
            add("recovery", Status::Ok, "a recovery key slot exists".into());
        } else {
            add(
                "recovery",
                Status::Warn,
                "no recovery key: if the keyring is lost, only a passphrase or token opens the vault; make one with `keyward key recovery --recovery-key-file PATH`".into(),
            );
        }
        // A clock behind the vault's own timestamps makes expiry and rotation checks lie.
        let newest = locked.slots().iter().map(|s| s.created).chain([locked.created()]).max().unwrap_or(0);
        if ctx.now + 300 < newest {
            add(
                "clock",
                Status::Fail,
                format!(
                    "the clock reads {} but the vault was written at {}: fix the system time",
                    parse::time(ctx.now),
                    parse::time(newest)
                ),
            );
        } else {
            add("clock", Status::Ok, parse::time(ctx.now));
        }
    }

    match (crate::config::path(), Config::load()) {
        (Ok(path), Ok(_)) if path.exists() => add("config", Status::Ok, format!("{} is valid", path.display())),
        (Ok(path), Ok(_)) => add("config", Status::Ok, format!("none at {} (defaults apply)", path.display())),
        (_, Err(e)) | (Err(e), _) => add("config", Status::Fail, format!("{e} — {}", e.hint())),
    }

    let worst = found.iter().map(|f| f.status).max().unwrap_or(Status::Ok);
    ctx.out.listing(
        || &found,
        &["CHECK", "RESULT", "DETAIL"],
        "",
        |table| {
            for f in &found {
                let status = match f.status {
                    Status::Ok => "ok",
                    Status::Warn => "warn",
                    Status::Fail => "FAIL",
                };
                table.add_row(vec![f.check.to_string(), status.to_string(), sanitize(&f.detail)]);
            }
        },
    );
    Ok(if worst == Status::Fail { Outcome::ChecksFailed } else { Outcome::Success })
}
