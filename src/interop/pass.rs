//! A password store as `pass` keeps it: `NAME.gpg` files under a directory with a `.gpg-id`
//! (the GPG key ids entries are encrypted to; a subdirectory's own `.gpg-id` overrides it).
//! Decryption and encryption run the user's `gpg` (GNUPGHOME, agent and trust as they are set).
//! Symbolic links inside the store are neither followed nor written through: a store can be a
//! checked-out repository.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// `$PASSWORD_STORE_DIR`, else `~/.password-store`.
pub fn default_store() -> Result<PathBuf> {
    match std::env::var_os("PASSWORD_STORE_DIR").filter(|d| !d.is_empty()) {
        Some(d) => Ok(d.into()),
        None => Ok(crate::paths::home()?.join(".password-store")),
    }
}

/// A store is a directory with a `.gpg-id`: `pass init` made it.
pub fn check_store(dir: &Path) -> Result<()> {
    if dir.join(".gpg-id").is_file() {
        Ok(())
    } else {
        Err(Error::invalid(
            "password store",
            dir.display().to_string(),
            "it has no .gpg-id: run `pass init GPG-ID` first",
        ))
    }
}

/// The store's `*.gpg` entries as (name, file), sorted; dot-entries and links skipped.
pub fn entries(root: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io("cannot read", dir, e))? {
        let entry = entry.map_err(|e| Error::io("cannot read", dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io("cannot read", &path, e))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.starts_with('.') || kind.is_symlink() {
            continue;
        }
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if let Some(stem) = file_name.strip_suffix(".gpg") {
            let rel = path.parent().and_then(|p| p.strip_prefix(root).ok()).unwrap_or(Path::new(""));
            out.push((rel.join(stem).to_string_lossy().into_owned(), path));
        }
    }
    Ok(())
}

/// One entry decrypted by `gpg`, into a wiped buffer; a failure says why in a line.
pub fn decrypt(file: &Path) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    let out = Command::new("gpg")
        .args(["--quiet", "--batch", "--yes", "--decrypt"])
        .arg(file)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run gpg: {e}"))?;
    let plain = Zeroizing::new(out.stdout);
    if !out.status.success() {
        return Err("gpg could not decrypt it (is its key in your keyring, and the agent unlocked?)".into());
    }
    Ok(plain)
}

/// Writes a new entry `NAME.gpg`, encrypted by `gpg` to the nearest `.gpg-id`, as `pass insert`
/// does (its options: no compression, no default recipients). Refuses an existing entry and a
/// symbolic link anywhere between the store and the entry.
pub fn insert(root: &Path, name: &str, contents: &[u8]) -> Result<()> {
    let file = root.join(format!("{name}.gpg"));
    let parent = file.parent().unwrap_or(root);
    let mut dir = root.to_path_buf();
    for part in Path::new(name).parent().into_iter().flat_map(Path::components) {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() || !m.is_dir() => {
                return Err(Error::invalid("password store entry", name, "a path on the way is a link or a file"));
            }
            Ok(_) => {}
            Err(_) => crate::files::create_private_dir(&dir)?,
        }
    }
    let recipients = recipients(root, parent)?;
    let mut gpg = Command::new("gpg");
    gpg.args(["--quiet", "--batch", "--yes", "--compress-algo=none", "--no-encrypt-to", "--encrypt"]);
    for r in &recipients {
        gpg.args(["--recipient", r]);
    }
    let mut child = gpg
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::io("cannot run", Path::new("gpg"), e))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let written = std::thread::scope(|s| {
        let writer = s.spawn(move || stdin.write_all(contents));
        let out = child.wait_with_output();
        (writer.join().unwrap_or(Ok(())), out)
    });
    let out = written.1.map_err(|e| Error::io("cannot run", Path::new("gpg"), e))?;
    if written.0.is_err() || !out.status.success() || out.stdout.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("no reason given");
        return Err(Error::invalid(
            "password store entry",
            name,
            format!("gpg could not encrypt it to {}: {}", recipients.join(", "), crate::sanitize::sanitize(why)),
        ));
    }
    crate::files::write_new_private(&file, &out.stdout)
}

/// The key ids of the `.gpg-id` nearest to `dir` (inside the store).
fn recipients(root: &Path, dir: &Path) -> Result<Vec<String>> {
    let mut at = dir;
    loop {
        let id_file = at.join(".gpg-id");
        if let Ok(text) = std::fs::read_to_string(&id_file) {
            let ids: Vec<String> = text
                .lines()
                .map(|l| l.split('#').next().unwrap_or("").trim())
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect();
            if ids.is_empty() {
                return Err(Error::invalid("password store", id_file.display().to_string(), "it names no GPG key"));
            }
            return Ok(ids);
        }
        if at == root {
            return Err(Error::invalid("password store", root.display().to_string(), "it has no .gpg-id"));
        }
        at = at.parent().unwrap_or(root);
    }
}
