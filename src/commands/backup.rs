//! `keyward backup` / `keyward restore`: an encrypted, integrity-checked snapshot of the vault and
//! its audit log.
//!
//! ```text
//! "\x89KWBACK1" | version u16 | mode u8
//! mode 1 (vault key):  vault_len u32 | the vault file (already encrypted; its slots unlock the backup)
//! mode 2 (passphrase): Argon2id m_kib u32 | t u32 | p u32
//! salt (16) | nonce (12) | AES-256-GCM ciphertext + tag, with everything before it as associated data
//! ```
//! The plaintext is `postcard((files, sha256(postcard(files))))`: the vault file and every audit
//! segment and head. Restore checks all of it before it writes anything.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::json;
use zeroize::Zeroizing;

use crate::Outcome;
use crate::audit::{self, Event, Log};
use crate::cli::{BackupArgs, RestoreArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::input;
use crate::sensitive::Key32;
use crate::vault::crypto::{self, Argon2Params};
use crate::vault::{Locked, store};

const MAGIC: &[u8; 8] = b"\x89KWBACK1";
const VERSION: u16 = 1;
const VAULT_FILE: &str = "vault.kw";
const MAX_BACKUP: u64 = 1 << 30;

#[derive(Serialize, Deserialize)]
struct Bundle {
    files: Vec<(String, Vec<u8>)>,
    checksum: [u8; 32],
}

impl Drop for Bundle {
    fn drop(&mut self) {
        for (_, bytes) in &mut self.files {
            zeroize::Zeroize::zeroize(bytes);
        }
    }
}

fn checksum(files: &[(String, Vec<u8>)]) -> [u8; 32] {
    crypto::sha256(&postcard::to_allocvec(files).expect("files serialize"))
}

fn backup_key(data_key: &Key32, salt: &[u8; 16]) -> Key32 {
    crypto::hkdf(data_key.expose(), Some(salt), b"keyward/v1/backup")
}

pub(super) fn backup(args: BackupArgs, ctx: &Context) -> Result<Outcome> {
    let passphrase = if args.passphrase { Some(input::new_passphrase()?) } else { None };
    let vault = ctx.open()?;
    let vault_bytes = store::read(&vault.path)?.bytes;
    let log = Log::for_vault(&vault.header.vault_id_hex())?;
    let mut files = vec![(VAULT_FILE.to_owned(), vault_bytes.to_vec())];
    for path in log.files() {
        let bytes = std::fs::read(&path).map_err(|e| Error::io("cannot read", &path, e))?;
        let name = path.file_name().expect("a file name").to_string_lossy().into_owned();
        files.push((format!("audit/{name}"), bytes));
    }
    let count = files.len();
    let bundle = Bundle { checksum: checksum(&files), files };
    let mut plaintext = Zeroizing::new(postcard::to_allocvec(&bundle).expect("the bundle serializes"));

    let salt: [u8; 16] = crypto::random();
    let nonce: [u8; 12] = crypto::random();
    let mut out = MAGIC.to_vec();
    out.extend_from_slice(&VERSION.to_le_bytes());
    let key = match &passphrase {
        None => {
            out.push(1);
            out.extend_from_slice(&(vault_bytes.len() as u32).to_le_bytes());
            out.extend_from_slice(&vault_bytes);
            backup_key(vault.data_key(), &salt)
        }
        Some(pass) => {
            let p = Argon2Params::DEFAULT;
            out.push(2);
            for v in [p.m_kib, p.t, p.p] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            crypto::argon2_kek(pass.expose().as_bytes(), &salt, p)
        }
    };
    out.extend_from_slice(&salt);
    out.extend_from_slice(&nonce);
    let mut buf = std::mem::take(&mut *plaintext);
    crypto::seal(&key, &nonce, &out, &mut buf);
    out.extend_from_slice(&buf);
    if let Some(dir) = args.file.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::files::create_private_dir(dir)?;
    }
    crate::files::write_atomic(&args.file, &out)?;
    ctx.audit(
        Event::new("backup").details(json!({"file": args.file, "passphrase": passphrase.is_some(), "files": count})),
        true,
    )?;
    if ctx.out.json {
        ctx.out.json(&json!({"backup": args.file, "files": count, "bytes": out.len()}));
    } else {
        ctx.out.done(&format!(
            "wrote {} (the vault and {} audit file(s), {} bytes)",
            args.file.display(),
            count - 1,
            out.len()
        ));
    }
    Ok(Outcome::Success)
}

fn damaged(why: &str) -> Error {
    Error::Backup(format!("the backup {why}"))
}

/// Reads fixed-size fields off the front of a byte slice.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.0.len() < n {
            return Err(damaged("is truncated"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
}

pub(super) fn restore(args: RestoreArgs, ctx: &Context) -> Result<Outcome> {
    let target = ctx.vault_path()?;
    if target.exists() && !args.force {
        return Err(Error::VaultExists { path: target });
    }
    let data = read_bounded(&args.file)?;
    let mut r = Reader(&data);
    if r.take(8)? != MAGIC {
        return Err(damaged("is not a keyward backup"));
    }
    let version = u16::from_le_bytes(r.take(2)?.try_into().expect("2 bytes"));
    if version != VERSION {
        return Err(damaged(&format!("uses format version {version}, which this keyward does not read")));
    }
    let mode = r.take(1)?[0];
    let mut clear_vault = None;
    let mut argon = None;
    match mode {
        1 => {
            let len = r.u32()? as usize;
            clear_vault = Some(r.take(len)?);
        }
        2 => {
            let p = Argon2Params { m_kib: r.u32()?, t: r.u32()?, p: r.u32()? };
            p.check().map_err(|e| damaged(&format!("asks for {e}")))?;
            argon = Some(p);
        }
        _ => return Err(damaged("has an unknown protection mode")),
    }
    let salt: [u8; 16] = r.take(16)?.try_into().expect("16 bytes");
    let nonce: [u8; 12] = r.take(12)?.try_into().expect("12 bytes");
    let aad_len = data.len() - r.0.len();
    let (key, data_key) = match (clear_vault, argon) {
        (Some(vault_bytes), _) => {
            let locked = Locked::from_bytes(&target, Zeroizing::new(vault_bytes.to_vec()), None)?;
            let (_, opened) = ctx.unlock(&locked)?;
            (backup_key(&opened.data_key, &salt), Some(opened.data_key))
        }
        (None, Some(params)) => {
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
            let key = crypto::argon2_kek_from_file(pass.expose().as_bytes(), &salt, params).map_err(|_| {
                Error::CannotUnlock {
                    path: args.file.clone(),
                    reason: "this process already tried the passphrase twice".into(),
                    hint: "run the command again".into(),
                }
            })?;
            (key, None)
        }
        _ => unreachable!("mode 1 has a vault, mode 2 has parameters"),
    };
    let mut buf = Zeroizing::new(r.0.to_vec());
    crypto::open(&key, &nonce, &data[..aad_len], &mut buf)
        .map_err(|_| damaged("does not authenticate: it was changed, or the key or passphrase is wrong"))?;
    let bundle: Bundle = postcard::from_bytes(&buf).map_err(|_| damaged("authenticates but cannot be decoded"))?;
    if checksum(&bundle.files) != bundle.checksum {
        return Err(damaged("fails its checksum"));
    }
    let vault_bytes = bundle
        .files
        .iter()
        .find(|(n, _)| n == VAULT_FILE)
        .map(|(_, b)| b.clone())
        .ok_or_else(|| damaged("holds no vault"))?;
    let locked = Locked::from_bytes(&target, Zeroizing::new(vault_bytes.clone()), None)?;
    let vault_id = locked.header.vault_id_hex();
    if let (Some(clear), Some(data_key)) = (clear_vault, &data_key) {
        if clear != vault_bytes.as_slice() {
            return Err(damaged("holds two different vaults"));
        }
        locked.open(data_key.clone())?; // the vault itself authenticates
    }
    let audit_dir = audit::dir()?;
    let mut audit_files = Vec::new();
    for (name, bytes) in &bundle.files {
        let Some(file) = name.strip_prefix("audit/") else { continue };
        let safe = !file.is_empty() && file.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !safe || !file.starts_with(&vault_id) {
            return Err(damaged(&format!("holds an unexpected file {name:?}")));
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
        let _lock = store::lock(&target, std::time::Duration::from_secs(10))?;
        crate::files::write_atomic(&target, &vault_bytes)?;
    }
    if data_key.is_some() {
        // Record the restore in the restored chain (it still verifies).
        if ctx.open().is_ok() {
            ctx.audit(Event::new("restore").details(json!({"file": args.file})), true)?;
        }
    }
    if ctx.out.json {
        ctx.out.json(&json!({"restored": target, "audit_files": audit_files.len()}));
    } else {
        ctx.out.done(&format!(
            "restored {} and {} audit file(s) from {}",
            target.display(),
            audit_files.len(),
            args.file.display()
        ));
    }
    Ok(Outcome::Success)
}

fn read_bounded(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mut data = Vec::new();
    file.take(MAX_BACKUP + 1).read_to_end(&mut data).map_err(|e| Error::io("cannot read", path, e))?;
    if data.len() as u64 > MAX_BACKUP {
        return Err(damaged("is larger than any keyward backup"));
    }
    Ok(data)
}
