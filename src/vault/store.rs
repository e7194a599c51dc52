//! Every file operation on a vault: reading, the exclusive write lock, and atomic replacement.
//!
//! Readers take no lock: a vault is only ever replaced by `rename`, so a reader sees the old file
//! or the new one, never a torn mix. Writers hold an exclusive lock on a sidecar `<vault>.lock`
//! for their read-modify-write, and nothing else.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// The bytes of a vault file, and its mode when others may read it (worth a warning).
pub struct VaultFile {
    pub bytes: Zeroizing<Vec<u8>>,
    pub loose_mode: Option<u32>,
}

pub fn read(path: &Path) -> Result<VaultFile> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::VaultNotFound { path: path.to_owned() });
        }
        Err(e) => return Err(Error::io("cannot read", path, e)),
    };
    if meta.is_dir() {
        return Err(Error::invalid("vault path", path.display().to_string(), "it is a directory, not a vault file"));
    }
    // A vault someone else owns (directly or behind a symlink) could be swapped by them at any
    // time: refuse it, as ssh refuses keys it does not own.
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if meta.uid() != uid {
        return Err(Error::invalid(
            "vault",
            path.display().to_string(),
            format!("it belongs to another user (uid {}); keyward only opens vaults you own", meta.uid()),
        ));
    }
    let bytes = fs::read(path).map_err(|e| Error::io("cannot read", path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    Ok(VaultFile { bytes: Zeroizing::new(bytes), loose_mode: (mode & 0o077 != 0).then_some(mode) })
}

/// Creates `dir` and its missing parents with mode 0700 (no window where they are wider).
pub fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("cannot create directory", dir, e))
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Replaces `path` with `bytes` atomically: a 0600 temp file in the same directory, fsync,
/// rename over the target, fsync the directory. On any failure the old file is untouched and the
/// temp file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_mode(path, bytes, 0o600)
}

/// Removes temp files a killed writer of `path` left behind. Only for callers that hold the
/// lock every writer of `path` takes: then no other temp file of it can be in use.
pub fn remove_stale_temps(path: &Path) {
    let dir = parent_dir(path);
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        if file.starts_with(&prefix) && file.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// [`write_atomic`] for a file that keeps its permission bits (a log masked in place).
pub fn replace_keeping_mode(path: &Path, bytes: &[u8]) -> Result<()> {
    let mode = fs::metadata(path).map_err(|e| Error::io("cannot read", path, e))?.permissions().mode() & 0o777;
    write_atomic_mode(path, bytes, mode)
}

/// Replaces `path` atomically with a file of permission bits `mode` (a shareable file, not a
/// secret one: scan settings).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let dir = parent_dir(path);
    let file_name = path.file_name().map_or_else(|| "vault".into(), |n| n.to_string_lossy().into_owned());
    let suffix = data_encoding::HEXLOWER.encode(&super::crypto::random::<6>());
    let tmp = dir.join(format!(".{file_name}.{suffix}.tmp"));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| Error::io("cannot create", &tmp, e))?;
        file.write_all(bytes).map_err(|e| Error::io("cannot write", &tmp, e))?;
        file.sync_all().map_err(|e| Error::io("cannot flush", &tmp, e))?;
        fs::rename(&tmp, path).map_err(|e| Error::io("cannot replace", path, e))?;
        // The rename is durable only once the directory entry is on disk.
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| Error::io("cannot flush directory", dir, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a new private file (0600, created with that mode, never over an existing file).
pub fn write_new_private(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("cannot create", path, e))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(|e| Error::io("cannot write", path, e))
}

/// An exclusive lock on a vault, released on drop.
pub struct WriteLock {
    _file: File,
}

pub fn lock_path(vault: &Path) -> PathBuf {
    let mut name = vault.file_name().map(std::ffi::OsStr::to_os_string).unwrap_or_default();
    name.push(".lock");
    vault.with_file_name(name)
}

/// Takes the exclusive lock, waiting up to `timeout`.
pub fn lock(vault: &Path, timeout: Duration) -> Result<WriteLock> {
    let path = lock_path(vault);
    // Not through a link: a repository could ship `.keyward/vault.kw.lock` pointing anywhere.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| Error::io("cannot open lock file", &path, e))?;
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(WriteLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) if start.elapsed() < timeout => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(fs::TryLockError::WouldBlock) => {
                return Err(Error::LockTimeout { path: vault.to_owned(), secs: timeout.as_secs() });
            }
            Err(fs::TryLockError::Error(e)) => return Err(Error::io("cannot lock", &path, e)),
        }
    }
}

/// The owner uid of a path, if it exists.
pub fn owner(path: &Path) -> Option<u32> {
    fs::metadata(path).ok().map(|m| m.uid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_creates_0600_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kw");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failed_write_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kw");
        write_atomic(&path, b"old").unwrap();
        // A directory in place of the target makes the rename fail.
        let blocked = dir.path().join("sub");
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), b"x").unwrap();
        assert!(write_atomic(&blocked, b"new").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 2);
    }

    #[test]
    fn second_lock_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kw");
        let _held = lock(&path, Duration::from_secs(1)).unwrap();
        match lock(&path, Duration::from_millis(30)) {
            Err(Error::LockTimeout { .. }) => {}
            other => panic!("expected a timeout, got {:?}", other.err()),
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn reading_names_what_is_wrong_with_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kw");
        assert!(matches!(read(&path), Err(Error::VaultNotFound { .. })));
        assert!(read(dir.path()).err().unwrap().to_string().contains("it is a directory"));

        write_atomic(&path, b"bytes").unwrap();
        let file = read(&path).unwrap();
        assert_eq!((&file.bytes[..], file.loose_mode), (&b"bytes"[..], None));
        for (loose, expected) in [(0o640, Some(0o640)), (0o604, Some(0o604)), (0o700, None), (0o400, None)] {
            fs::set_permissions(&path, fs::Permissions::from_mode(loose)).unwrap();
            assert_eq!(read(&path).unwrap().loose_mode, expected, "{loose:o}");
        }
        // SAFETY: getuid has no preconditions.
        assert_eq!(owner(&path), Some(unsafe { libc::getuid() }));
        assert_eq!(owner(&dir.path().join("missing")), None);
    }

    #[test]
    fn odd_paths_are_handled() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("file");
        fs::write(&file, b"x").unwrap();
        // Through a file: an I/O error, not "no vault here".
        let err = read(&file.join("v.kw")).err().unwrap();
        assert!(!matches!(err, Error::VaultNotFound { .. }), "{err}");
        assert!(create_private_dir(Path::new("")).is_ok());
        assert!(create_private_dir(dir.path()).is_ok());
        assert_eq!(parent_dir(Path::new("v.kw")), Path::new("."));
        assert_eq!(parent_dir(Path::new("/a/v.kw")), Path::new("/a"));
    }

    #[test]
    fn a_vault_owned_by_someone_else_is_refused() {
        // Giving a file away needs root; elsewhere the end-to-end bad-input table covers it.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kw");
        write_atomic(&path, b"bytes").unwrap();
        std::os::unix::fs::chown(&path, Some(4242), None).unwrap();
        let message = read(&path).err().unwrap().to_string();
        assert!(message.contains("belongs to another user (uid 4242)"), "{message}");
    }

    #[test]
    fn only_this_vaults_temp_files_are_swept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kw");
        let names = [".v.kw.0a1b2c.tmp", ".v.kw.0a1b2c.tmp.keep", ".w.kw.0a1b2c.tmp", "v.kw.0a1b2c.tmp", "v.kw"];
        for name in names {
            fs::write(dir.path().join(name), b"x").unwrap();
        }
        remove_stale_temps(&path);
        let mut left: Vec<String> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        left.sort();
        assert_eq!(left, [".v.kw.0a1b2c.tmp.keep", ".w.kw.0a1b2c.tmp", "v.kw", "v.kw.0a1b2c.tmp"]);
    }

    #[test]
    fn replacing_keeps_the_mode_and_new_private_files_are_0600_and_new() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("ci.log");
        fs::write(&log, b"old").unwrap();
        fs::set_permissions(&log, fs::Permissions::from_mode(0o644)).unwrap();
        replace_keeping_mode(&log, b"new").unwrap();
        assert_eq!((fs::read(&log).unwrap(), mode(&log)), (b"new".to_vec(), 0o644));

        let private = dir.path().join("recovery.txt");
        write_new_private(&private, b"secret").unwrap();
        assert_eq!((fs::read(&private).unwrap(), mode(&private)), (b"secret".to_vec(), 0o600));
        assert!(write_new_private(&private, b"other").is_err(), "an existing file is never overwritten");
        assert_eq!(fs::read(&private).unwrap(), b"secret");
    }

    #[test]
    fn a_lock_is_waited_for_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kw");
        assert_eq!(lock_path(&path), dir.path().join("v.kw.lock"));
        let held = lock(&path, Duration::from_secs(1)).unwrap();
        assert_eq!(mode(&lock_path(&path)), 0o600);
        let waiter = {
            let path = path.clone();
            std::thread::spawn(move || lock(&path, Duration::from_secs(10)).map(|_| ()))
        };
        std::thread::sleep(Duration::from_millis(100));
        drop(held);
        waiter.join().unwrap().expect("the waiter gets the lock once it is released");
        drop(lock(&path, Duration::ZERO).expect("free again after the waiter dropped it"));
    }

    #[test]
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir(&nested).unwrap();
        assert_eq!(fs::metadata(&nested).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(dir.path().join("a")).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
