//! Every file operation on a vault: reading, and the exclusive write lock (the atomic
//! replacement is [`crate::files::write_atomic`]).
//!
//! Readers take no lock: a vault is only ever replaced by `rename`, so a reader sees the old file
//! or the new one, never a torn mix. Writers hold an exclusive lock on a sidecar `<vault>.lock`
//! for their read-modify-write, and nothing else.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// Where a vault lives: read it, lock it for a read-modify-write, replace it whole. A file
/// ([`FileStore`]) is the one implementation today; a remote store is one more, and the code
/// that reads and writes vaults ([`Locked::read_from`](super::Locked::read_from),
/// [`Vault::save_to`](super::Vault::save_to), the CLI's context) does not change.
pub trait Store {
    /// Where it is, for messages.
    fn path(&self) -> &Path;
    /// The vault's bytes as they are now. Readers take no lock: a vault is only ever replaced
    /// whole, so they see the old one or the new one.
    fn read(&self) -> Result<VaultFile>;
    /// The exclusive lock of a read-modify-write, waiting up to `timeout`; released on drop.
    fn lock(&self, timeout: Duration) -> Result<WriteLock>;
    /// Replaces the vault with `bytes`, atomically. The caller holds the lock.
    fn replace(&self, bytes: &[u8]) -> Result<()>;
    /// Replaces the vault with what `write` writes, atomically: a store that can, streams it.
    fn replace_with(&self, write: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<()>) -> Result<()> {
        let mut bytes = Vec::new();
        write(&mut bytes)?;
        self.replace(&bytes)
    }
    /// Whether the vault is still the one `identity` describes (a writer, holding the lock,
    /// skips reading it again). `false` when unsure.
    fn unchanged(&self, identity: &FileIdentity) -> bool {
        let _ = identity;
        false
    }
}

/// What identifies one version of a file: a replacement (keyward's rename, git's checkout) or an
/// edit in place changes the inode, the size or the change time. Git's index trusts the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileIdentity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileIdentity {
    pub fn of(meta: &fs::Metadata) -> FileIdentity {
        FileIdentity {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// A vault in a file: [`read`], [`lock`] on a sidecar `<vault>.lock`, and an atomic rename.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
}

impl FileStore {
    pub fn new(path: impl Into<PathBuf>) -> FileStore {
        FileStore { path: path.into() }
    }
}

impl Store for FileStore {
    fn path(&self) -> &Path {
        &self.path
    }

    fn read(&self) -> Result<VaultFile> {
        read(&self.path)
    }

    fn lock(&self, timeout: Duration) -> Result<WriteLock> {
        lock(&self.path, timeout)
    }

    fn replace(&self, bytes: &[u8]) -> Result<()> {
        crate::files::remove_stale_temps(&self.path);
        crate::files::write_atomic(&self.path, bytes)
    }

    fn replace_with(&self, write: &mut dyn FnMut(&mut dyn std::io::Write) -> Result<()>) -> Result<()> {
        crate::files::remove_stale_temps(&self.path);
        crate::files::write_atomic_with(&self.path, 0o600, write)
    }

    fn unchanged(&self, identity: &FileIdentity) -> bool {
        fs::metadata(&self.path).is_ok_and(|meta| FileIdentity::of(&meta) == *identity)
    }
}

/// The bytes of a vault file, and its mode when others may read it (worth a warning).
pub struct VaultFile {
    pub bytes: crate::files::Contents,
    pub loose_mode: Option<u32>,
    /// The version read, as its open file described it (`None` for a store without files).
    pub identity: Option<FileIdentity>,
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
        return Err(Error::invalid(
            "vault path",
            path.display().to_string(),
            format!("it is a directory, not a vault file (did you mean {}?)", path.join("vault.kw").display()),
        ));
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
    // The identity of what was read comes from the open file itself: a replacement between the
    // check above and the read cannot pair one version's identity with another's bytes.
    let (bytes, identity) = fs::File::open(path)
        .and_then(|file| {
            let identity = FileIdentity::of(&file.metadata()?);
            Ok((crate::files::read_contents(file, meta.len())?, identity))
        })
        .map_err(|e| Error::io("cannot read", path, e))?;
    let mode = meta.permissions().mode() & 0o777;
    Ok(VaultFile { bytes, loose_mode: (mode & 0o077 != 0).then_some(mode), identity: Some(identity) })
}

/// An exclusive lock on a vault, released on drop.
pub struct WriteLock {
    /// What holds the lock (for a file, the open lock file); dropping it releases the lock.
    _held: Box<dyn std::any::Any>,
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
            Ok(()) => return Ok(WriteLock { _held: Box::new(file) }),
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
    fn second_lock_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v.kw");
        let _held = lock(&path, Duration::from_secs(1)).unwrap();
        match lock(&path, Duration::from_millis(30)) {
            Err(Error::LockTimeout { .. }) => {}
            other => panic!("expected a timeout, got {:?}", other.err()),
        }
    }

    #[test]
    fn a_replacement_or_an_edit_in_place_changes_the_identity() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("v.kw"));
        store.replace(b"one").unwrap();
        let first = read(store.path()).unwrap().identity.unwrap();
        assert!(store.unchanged(&first), "nothing happened");
        // keyward's own writes: a rename, even of the same bytes.
        store.replace(b"one").unwrap();
        assert!(!store.unchanged(&first));
        // Another program's edit in place, of the same length.
        let second = read(store.path()).unwrap().identity.unwrap();
        std::thread::sleep(Duration::from_millis(10));
        fs::OpenOptions::new().write(true).open(store.path()).unwrap().write_all(b"two").unwrap();
        assert!(!store.unchanged(&second));
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

        crate::files::write_atomic(&path, b"bytes").unwrap();
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
        assert!(crate::files::create_private_dir(Path::new("")).is_ok());
        assert!(crate::files::create_private_dir(dir.path()).is_ok());
        assert_eq!(crate::files::parent_dir(Path::new("v.kw")), Path::new("."));
        assert_eq!(crate::files::parent_dir(Path::new("/a/v.kw")), Path::new("/a"));
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
        crate::files::write_atomic(&path, b"bytes").unwrap();
        std::os::unix::fs::chown(&path, Some(4242), None).unwrap();
        let message = read(&path).err().unwrap().to_string();
        assert!(message.contains("belongs to another user (uid 4242)"), "{message}");
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
}
