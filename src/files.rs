//! File-system helpers the core shares: private directories (0700 from the start), atomic
//! replacement (temp file, fsync, rename, fsync the directory), and opens that do not follow a
//! symbolic link planted at the path.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use zeroize::Zeroizing;

use crate::error::{Error, Result};

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

pub(crate) fn parent_dir(path: &Path) -> &Path {
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
    write_atomic_with(path, mode, &mut |file| file.write_all(bytes).map_err(|e| Error::io("cannot write", path, e)))
}

/// [`write_atomic_mode`], with the contents written by `write` into the temporary file (a
/// large vault is written as it is sealed, never held whole).
pub fn write_atomic_with(path: &Path, mode: u32, write: &mut dyn FnMut(&mut dyn Write) -> Result<()>) -> Result<()> {
    let dir = parent_dir(path);
    let file_name = path.file_name().map_or_else(|| "vault".into(), |n| n.to_string_lossy().into_owned());
    let suffix = {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).expect("the operating system's random number generator failed");
        data_encoding::HEXLOWER.encode(&random)
    };
    let tmp = dir.join(format!(".{file_name}.{suffix}.tmp"));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(|e| Error::io("cannot create", &tmp, e))?;
        write(&mut file)?;
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

/// Opens a file for appending without following a symbolic link at its path (`O_NOFOLLOW`),
/// creating it 0600: a link planted there must not redirect keyward's writes.
pub fn open_append_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).append(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// Opens a file for writing in place (no truncation) without following a link, creating it 0600.
pub fn open_write_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().create(true).truncate(false).write(true).mode(0o600).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// Opens a file for reading without following a link.
pub fn open_read_nofollow(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(path)
}

/// Reads a whole file without following a link.
pub fn read_nofollow(path: &Path) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    open_read_nofollow(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A buffer of `capacity` bytes for a large file built whole. On Linux its 2 MiB-aligned
/// interior is advised to use transparent huge pages: a 22 MB vault written into 4 KiB pages costs
/// 5,600 page faults (about 10 ms on a virtual machine), into huge pages a dozen. The advice
/// changes how the memory is backed, never what it holds.
pub fn large_buffer(capacity: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(capacity);
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = buf.as_mut_ptr() as usize;
        let (first, last) = (start.next_multiple_of(HUGE), (start + buf.capacity()) / HUGE * HUGE);
        if capacity >= 2 * HUGE && last > first {
            // SAFETY: the range lies inside the buffer's allocation, which this function owns;
            // MADV_HUGEPAGE only changes the backing of its pages and fails harmlessly where
            // transparent huge pages are off.
            unsafe {
                libc::madvise(first as *mut libc::c_void, last - first, libc::MADV_HUGEPAGE);
            }
        }
    }
    buf
}

/// Files at least this large are mapped rather than read (see [`Contents`]).
pub const MAP_AT: u64 = 256 << 10;

/// A file's bytes while keyward works on them: read into memory, or, for a large file, mapped
/// read-only from the page cache.
///
/// Why map: every page of fresh memory is zeroed by the kernel before a read fills it, and on a
/// virtual machine that is most of what a `get` in a 22 MB vault costs (12 ms, against 0.6 ms to
/// map the same file). What a mapping costs in return, and how it is paid for:
/// - The bytes can change under the reader if another program writes the file in place
///   (keyward never does: it replaces files by rename). A reader of `Contents` therefore never
///   trusts a byte it reads twice: the version 2 parser copies out and validates what it keeps,
///   and checks every sealed body it reads again against the tag it authenticated (see
///   `vault::v2::text`). Bytes, never `str`, are read from a mapping after parsing.
/// - A file truncated under the mapping raises SIGBUS on the next read past its new end, which
///   [`crate::hardening::catch_shrunk_files`] turns into a one-line error and exit 5.
pub enum Contents {
    Read(Zeroizing<Vec<u8>>),
    Mapped(Mapping),
}

/// A mapped file, known to the SIGBUS handler while it is mapped.
pub struct Mapping {
    map: memmap2::Mmap,
    slot: Option<usize>,
}

impl Drop for Mapping {
    fn drop(&mut self) {
        if let Some(slot) = self.slot {
            crate::hardening::forget_mapping(slot);
        }
    }
}

impl std::ops::Deref for Contents {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Contents::Read(bytes) => bytes,
            Contents::Mapped(mapping) => &mapping.map,
        }
    }
}

impl Default for Contents {
    fn default() -> Contents {
        Contents::Read(Zeroizing::new(Vec::new()))
    }
}

impl From<Vec<u8>> for Contents {
    fn from(bytes: Vec<u8>) -> Contents {
        Contents::Read(Zeroizing::new(bytes))
    }
}

impl From<Zeroizing<Vec<u8>>> for Contents {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Contents {
        Contents::Read(bytes)
    }
}

impl Contents {
    /// The bytes in memory of their own (a copy of a mapping).
    pub fn into_owned(self) -> Zeroizing<Vec<u8>> {
        match self {
            Contents::Read(bytes) => bytes,
            Contents::Mapped(mapping) => Zeroizing::new(mapping.map.to_vec()),
        }
    }
}

/// The whole of `file`, whose length is `len` as its metadata said: mapped when it is a regular
/// file of at least [`MAP_AT`] bytes, read otherwise (and wherever mapping fails).
pub fn read_contents(mut file: File, len: u64) -> std::io::Result<Contents> {
    use std::io::Read;
    if len >= MAP_AT && file.metadata()?.is_file() {
        // SAFETY: the mapping is read-only (memmap2 maps it shared: another program's writes to
        // the file show through); that the file may change under it is what `Contents`
        // documents and its readers are written for, and a shrink is caught (SIGBUS).
        if let Ok(map) = unsafe { memmap2::Mmap::map(&file) } {
            let slot = crate::hardening::remember_mapping(map.as_ptr() as usize, map.len());
            return Ok(Contents::Mapped(Mapping { map, slot }));
        }
    }
    let mut buf = Zeroizing::new(Vec::with_capacity(usize::try_from(len).unwrap_or(0).saturating_add(1)));
    file.read_to_end(&mut buf)?;
    Ok(Contents::Read(buf))
}

/// Overwrites a regular file with zeros, flushes that to the disk, and deletes it: what can be
/// done against the plaintext an import read. No guarantee on copy-on-write or journaled file
/// systems or SSDs (the old blocks may survive), which the caller says. A symbolic link is
/// refused, not followed.
pub fn overwrite_and_remove(path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    // Not a FIFO (opening one for writing would wait for a reader) nor a device.
    if !std::fs::symlink_metadata(path)?.file_type().is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut file = OpenOptions::new().write(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let zeros = [0u8; 16 * 1024];
    let mut left = meta.len();
    while left > 0 {
        let n = usize::try_from(left.min(zeros.len() as u64)).unwrap_or(zeros.len());
        file.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    file.sync_all()?;
    drop(file);
    std::fs::remove_file(path)
}

/// Whether a directory above `path` holds `.git` (a work tree, or a worktree's `.git` file): a
/// vault there is committed and shared, not a personal file.
pub fn in_git_work_tree(path: &Path) -> bool {
    path.ancestors().skip(1).take(64).any(|dir| std::fs::symlink_metadata(dir.join(".git")).is_ok())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_large_file_is_mapped_and_a_small_one_read_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big");
        // 9 MB of a pattern that differs at every offset mod 251: any lost or doubled chunk shows.
        let bytes: Vec<u8> = (0..9_000_003u32).map(|i| (i % 251) as u8).collect();
        fs::write(&path, &bytes).unwrap();
        let read = read_contents(File::open(&path).unwrap(), bytes.len() as u64).unwrap();
        assert!(matches!(read, Contents::Mapped(_)) && *read == bytes[..]);
        // A file that grew after its length was taken is still read to its end.
        let read = read_contents(File::open(&path).unwrap(), 10).unwrap();
        assert!(matches!(read, Contents::Read(_)) && *read == bytes[..]);
    }

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
    fn private_dirs_are_0700() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_private_dir(&nested).unwrap();
        assert_eq!(fs::metadata(&nested).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(dir.path().join("a")).unwrap().permissions().mode() & 0o777, 0o700);
    }

    #[test]
    fn links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        std::fs::write(&target, b"keep").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(open_append_nofollow(&link).is_err());
        assert!(open_write_nofollow(&link).is_err());
        assert!(read_nofollow(&link).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"keep");
        assert!(open_append_nofollow(&dir.path().join("new")).is_ok());
    }
}
