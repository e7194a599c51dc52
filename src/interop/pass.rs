//! A password store as `pass` keeps it: `NAME.gpg` files under a directory with a `.gpg-id`
//! (the GPG key ids entries are encrypted to; a subdirectory's own `.gpg-id` overrides it).
//! Decryption and encryption run the user's `gpg` (GNUPGHOME, agent and trust as they are set).
//! Symbolic links inside the store are neither followed nor written through: a store can be a
//! checked-out repository.

use std::io::Write;
use std::os::unix::fs::DirBuilderExt;
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

/// The most a decrypted entry may hold (a compression bomb anyone can encrypt to your key must
/// not take the memory).
const MAX_ENTRY: usize = 1024 * 1024;
/// The most a `.gpg-id` may hold.
const MAX_GPG_ID: u64 = 64 * 1024;

/// One entry decrypted by `gpg` into a wiped buffer sized once (at most 1 MiB); a failure says
/// why in a line.
pub fn decrypt(file: &Path) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
    use std::io::Read;
    let mut child = Command::new("gpg")
        .args(["--quiet", "--batch", "--yes", "--no-use-embedded-filename", "--decrypt", "--"])
        .arg(file)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run gpg: {e}"))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut plain = Zeroizing::new(vec![0u8; MAX_ENTRY + 1]);
    let mut len = 0;
    let read = loop {
        match stdout.read(&mut plain[len..]) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                len += n;
                if len > MAX_ENTRY {
                    break Err("the entry is larger than 1 MiB".to_owned());
                }
            }
            Err(e) => break Err(format!("cannot read gpg's output: {e}")),
        }
    };
    if read.is_err() {
        let _ = child.kill();
    }
    let status = child.wait().map_err(|e| format!("cannot run gpg: {e}"))?;
    read?;
    if !status.success() {
        return Err("gpg could not decrypt it (is its key in your keyring, and the agent unlocked?)".into());
    }
    plain.truncate(len);
    Ok(plain)
}

/// An entry ready to be written: where, the directories to make first, and its ciphertext.
pub struct Prepared {
    file: PathBuf,
    dirs: Vec<PathBuf>,
    ciphertext: Vec<u8>,
    pub recipients: Vec<String>,
}

/// Encrypts a new entry `NAME.gpg` in memory, with `gpg` to the nearest `.gpg-id` (or
/// `PASSWORD_STORE_KEY`), as `pass insert` does (no compression, no default recipients). Refuses
/// an existing entry, a link or file on the way, a dot-segment (pass hides those) and a store
/// whose `.gpg-id` must be signed (`PASSWORD_STORE_SIGNING_KEY`: keyward does not check
/// signatures). Nothing is written: see [`write_all`].
pub fn prepare(root: &Path, name: &str, contents: &[u8]) -> Result<Prepared> {
    let refuse = |reason: &str| Error::invalid("password store entry", name, reason.to_owned());
    if std::env::var_os("PASSWORD_STORE_SIGNING_KEY").is_some_and(|v| !v.is_empty()) {
        return Err(Error::invalid(
            "password store",
            root.display().to_string(),
            "PASSWORD_STORE_SIGNING_KEY is set and keyward does not check .gpg-id signatures: use pass itself",
        ));
    }
    if name.split('/').any(|segment| segment.starts_with('.')) {
        return Err(refuse("a path segment starts with '.', which pass hides"));
    }
    let file = root.join(format!("{name}.gpg"));
    let mut dir = root.to_path_buf();
    let mut dirs = Vec::new();
    for part in Path::new(name).parent().into_iter().flat_map(Path::components) {
        dir.push(part);
        match std::fs::symlink_metadata(&dir) {
            Ok(m) if m.file_type().is_symlink() || !m.is_dir() => {
                return Err(refuse("a path on the way is a link or a file"));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => dirs.push(dir.clone()),
            Err(e) => return Err(Error::io("cannot read", &dir, e)),
        }
    }
    match std::fs::symlink_metadata(&file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Ok(_) => return Err(refuse("the store already has it")),
        Err(e) => return Err(Error::io("cannot read", &file, e)),
    }
    let existing = dirs.first().and_then(|d| d.parent()).unwrap_or(&dir);
    let recipients = match std::env::var("PASSWORD_STORE_KEY").ok().filter(|k| !k.trim().is_empty()) {
        Some(keys) => keys.split_whitespace().map(str::to_owned).collect(),
        None => recipients(root, existing)?,
    };
    let ciphertext = encrypt(&recipients, contents).map_err(|why| {
        Error::invalid(
            "password store entry",
            name,
            format!("gpg could not encrypt it to {}: {why}", recipients.join(", ")),
        )
    })?;
    Ok(Prepared { file, dirs, ciphertext, recipients })
}

/// Writes prepared entries; on a failure, removes what it wrote and the directories it made.
pub fn write_all(entries: &[Prepared]) -> Result<()> {
    let mut made_dirs: Vec<&Path> = Vec::new();
    let mut made_files: Vec<&Path> = Vec::new();
    let result = (|| -> Result<()> {
        for e in entries {
            for d in &e.dirs {
                if std::fs::symlink_metadata(d).is_err() {
                    std::fs::DirBuilder::new()
                        .mode(0o700)
                        .create(d)
                        .map_err(|err| Error::io("cannot create directory", d, err))?;
                    made_dirs.push(d);
                }
            }
            crate::files::write_new_private(&e.file, &e.ciphertext)?;
            made_files.push(&e.file);
        }
        Ok(())
    })();
    if result.is_err() {
        for f in made_files.iter().rev() {
            let _ = std::fs::remove_file(f);
        }
        for d in made_dirs.iter().rev() {
            let _ = std::fs::remove_dir(d);
        }
    }
    result
}

fn encrypt(recipients: &[String], contents: &[u8]) -> std::result::Result<Vec<u8>, String> {
    let mut gpg = Command::new("gpg");
    gpg.args(["--quiet", "--batch", "--yes", "--compress-algo=none", "--no-encrypt-to", "--encrypt"]);
    for r in recipients {
        gpg.args(["--recipient", r]);
    }
    let mut child = gpg
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run gpg: {e}"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let (written, out) = std::thread::scope(|s| {
        let writer = s.spawn(move || stdin.write_all(contents));
        let out = child.wait_with_output();
        (writer.join().unwrap_or(Ok(())), out)
    });
    let out = out.map_err(|e| format!("cannot run gpg: {e}"))?;
    if written.is_err() || !out.status.success() || out.stdout.is_empty() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("no reason given");
        return Err(crate::sanitize::sanitize(why));
    }
    Ok(out.stdout)
}

/// The key ids of the `.gpg-id` nearest to `dir` (inside the store), as pass finds it: only a
/// missing file sends the search one directory up; anything else wrong with one is an error.
fn recipients(root: &Path, dir: &Path) -> Result<Vec<String>> {
    use std::io::Read;
    let mut at = dir;
    loop {
        let id_file = at.join(".gpg-id");
        match crate::files::open_read_nofollow(&id_file) {
            Ok(f) => {
                let meta = f.metadata().map_err(|e| Error::io("cannot read", &id_file, e))?;
                if !meta.is_file() || meta.len() > MAX_GPG_ID {
                    return Err(Error::invalid(
                        "password store",
                        id_file.display().to_string(),
                        "it is not a regular file of at most 64 KiB",
                    ));
                }
                let mut text = String::new();
                f.take(MAX_GPG_ID).read_to_string(&mut text).map_err(|e| Error::io("cannot read", &id_file, e))?;
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
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("cannot read", &id_file, e)),
        }
        if at == root {
            return Err(Error::invalid("password store", root.display().to_string(), "it has no .gpg-id"));
        }
        at = at.parent().unwrap_or(root);
    }
}
