//! `keyward backup` / `keyward restore`: an encrypted, integrity-checked snapshot of the vault and
//! its audit log (the format is [`crate::vault::backup`]). Restore checks all of it before it
//! writes anything.

use std::path::Path;

use serde_json::json;
use zeroize::Zeroizing;

use crate::Outcome;
use crate::audit::{self, Event};
use crate::cli::{BackupArgs, RestoreArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::vault::Locked;
use crate::vault::backup::{self, Bundle, Key, MAX_BACKUP, Protection, VAULT_FILE};
use crate::vault::store::{FileStore, Store};

pub(super) fn backup(args: BackupArgs, ctx: &Context) -> Result<Outcome> {
    if std::fs::symlink_metadata(&args.file).is_ok()
        && !input::confirm_or_refuse(
            args.force,
            "replacing an existing file",
            &format!("{} exists. Replace it?", args.file.display()),
            "add --force to replace it; nothing was written",
        )?
    {
        ctx.out.notice("nothing written");
        return Ok(Outcome::Declined);
    }
    let passphrase = if args.passphrase { Some(input::new_passphrase()?) } else { None };
    let vault = ctx.open()?;
    // Copied once out of the file (which may be mapped): the bundle and its clear header are
    // made from the same bytes.
    let vault_bytes = FileStore::new(&vault.path).read()?.bytes.into_owned();
    // The log of every branch this machine kept for the vault.
    let audit_dir = crate::audit::dir()?;
    let mut files = vec![(VAULT_FILE.to_owned(), vault_bytes.to_vec())];
    for path in crate::audit::vault_files(&audit_dir, &vault.id_hex()) {
        let bytes = std::fs::read(&path).map_err(|e| Error::io("cannot read", &path, e))?;
        let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
        files.push((format!("audit/{name}"), bytes));
    }
    let count = files.len();
    let backup_key = vault.backup_key()?;
    let protection = match &passphrase {
        None => Protection::VaultKey { vault_file: &vault_bytes, data_key: &backup_key },
        Some(pass) => Protection::Passphrase(pass.expose()),
    };
    let out = backup::seal(&Bundle::new(files), &protection);
    if let Some(dir) = args.file.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_private_dir(dir)?;
    }
    crate::files::write_atomic(&args.file, &out)?;
    ctx.audit(
        Event::new("backup").details(json!({"file": args.file, "passphrase": passphrase.is_some(), "files": count})),
        true,
    )?;
    ctx.out.report(&json!({"backup": args.file, "files": count, "bytes": out.len()}), || {
        format!("wrote {} (the vault and {} audit file(s), {} bytes)", args.file.display(), count - 1, out.len())
    });
    Ok(Outcome::Success)
}

pub(super) fn restore(args: RestoreArgs, ctx: &Context) -> Result<Outcome> {
    let target = ctx.vault_path()?;
    if target.exists() && !args.force {
        // On a terminal, ask; in a script, --force is needed (exit 6, as for any existing vault).
        if !input::can_prompt() {
            return Err(Error::VaultExists { path: target });
        }
        if !input::confirm(&format!("{} exists. Replace it with the backup?", target.display()))? {
            ctx.out.notice("nothing restored");
            return Ok(Outcome::Declined);
        }
    }
    let data = read_bounded(&args.file)?;
    let parsed = backup::parse(&data)?;
    let (bundle, unlocked) = if let Some(vault_bytes) = parsed.vault_file {
        let locked = Locked::from_bytes(&target, Zeroizing::new(vault_bytes.to_vec()), None)?;
        let (_, opened) = ctx.unlock(&locked)?;
        let key = locked.open(opened.key)?.backup_key()?;
        (parsed.open(Key::DataKey(&key))?, true)
    } else {
        let pass = match std::env::var_os(crate::unlock::PASSPHRASE_FILE_VAR) {
            Some(file) => crate::sensitive::read_passphrase_file(Path::new(&file))?,
            None if input::can_prompt() => input::prompt_secret("Backup passphrase: ")?,
            None => {
                return Err(Error::NeedsTerminal {
                    what: "the backup's passphrase",
                    hint: "set KEYWARD_PASSPHRASE_FILE or run this on a terminal",
                });
            }
        };
        (parsed.open(Key::Passphrase(pass.expose()))?, false)
    };
    let vault_bytes = bundle.vault().expect("an opened bundle holds a vault").to_vec();
    let locked = Locked::from_bytes(&target, Zeroizing::new(vault_bytes.clone()), None)?;
    let vault_id = locked.id_hex();
    if unlocked {
        // The vault itself authenticates (every domain this key holds, in format 2).
        let (_, opened) = ctx.unlock(&locked)?;
        locked.open(opened.key)?.records()?;
    } else {
        // A passphrase backup opens without the vault's keys; the vault it holds does not. On a
        // new machine nothing may open it: refuse before writing, and say what to run.
        let opened = ctx.unlock(&locked).map_err(|e| match e {
            Error::Damaged { .. } => e,
            _ => Error::CannotUnlock {
                path: target.clone(),
                reason: "the backup opened, but nothing on this machine opens the vault inside it (no keyring slot here, no KEYWARD_VAULT_KEY, no passphrase slot)".into(),
                hint: format!(
                    "run `KEYWARD_VAULT_KEY=<its recovery key or a token> keyward restore {}`, then `keyward key import` to put a keyring slot on this machine; nothing was restored",
                    args.file.display()
                ),
            },
        })?;
        locked.open(opened.1.key)?.records()?;
    }
    let audit_dir = audit::dir()?;
    let mut audit_files = Vec::new();
    for (name, bytes) in &bundle.files {
        let Some(file) = name.strip_prefix("audit/") else { continue };
        let safe = !file.is_empty() && file.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !safe || !file.starts_with(&vault_id) {
            return Err(Error::Backup(format!("the backup holds an unexpected file {name:?}")));
        }
        audit_files.push((audit_dir.join(file), bytes));
    }

    // Everything checked: write the audit log, then the vault, each atomically.
    crate::files::create_private_dir(&audit_dir)?;
    for (path, bytes) in &audit_files {
        crate::files::write_atomic(path, bytes)?;
    }
    if let Some(dir) = target.parent() {
        crate::files::create_private_dir(dir)?;
    }
    {
        let store = FileStore::new(&target);
        let _lock = store.lock(std::time::Duration::from_secs(10))?;
        store.replace(&vault_bytes)?;
    }
    if unlocked {
        // Record the restore in the restored chain (it still verifies).
        if ctx.open().is_ok() {
            ctx.audit(Event::new("restore").details(json!({"file": args.file})), true)?;
        }
    }
    ctx.out.report(&json!({"restored": target, "audit_files": audit_files.len()}), || {
        format!("restored {} and {} audit file(s) from {}", target.display(), audit_files.len(), args.file.display())
    });
    Ok(Outcome::Success)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut data = Vec::new();
    file.take(MAX_BACKUP + 1).read_to_end(&mut data).map_err(|e| Error::io("cannot read", path, e))?;
    if data.len() as u64 > MAX_BACKUP {
        return Err(Error::Backup("the backup is larger than any keyward backup".into()));
    }
    Ok(data)
}
