//! Where keyward keeps its own files, and how it opens them.
//!
//! Never a relative path: under `env -i`, a systemd system service or some CI runners `HOME` is
//! unset, and a relative fallback would take the config (which may run a notification command)
//! and the audit files from whatever directory keyward runs in — a checked-out repository. So:
//! `HOME` when it is absolute, else the home directory in the password database, else an error;
//! an `XDG_*_HOME` that is not absolute is ignored, as the XDG Base Directory spec says. And
//! keyward's own directories must be the user's and writable by no one else.

use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The user's home directory.
pub fn home() -> Result<PathBuf> {
    home_from(std::env::var_os("HOME")).ok_or(Error::NoHome)
}

fn home_from(env: Option<OsString>) -> Option<PathBuf> {
    env.map(PathBuf::from).filter(|p| p.is_absolute()).or_else(password_database_home)
}

/// The home directory of the real user in the password database.
fn password_database_home() -> Option<PathBuf> {
    user_entry().map(|u| u.home).filter(|p| p.is_absolute())
}

/// What the password database says of the real user.
struct User {
    name: Vec<u8>,
    home: PathBuf,
    gid: libc::gid_t,
}

fn user_entry() -> Option<User> {
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        // SAFETY: passwd is plain data; getpwuid_r writes into it and into `buf`, whose length
        // it is given, and sets `result` to null or to `&pwd`.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: as above; getuid has no preconditions.
        let rc =
            unsafe { libc::getpwuid_r(libc::getuid(), &raw mut pwd, buf.as_mut_ptr(), buf.len(), &raw mut result) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_dir.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: pw_dir and pw_name point into `buf`, NUL-terminated, valid while `buf` lives.
        let (dir, name) = unsafe { (std::ffi::CStr::from_ptr(pwd.pw_dir), std::ffi::CStr::from_ptr(pwd.pw_name)) };
        let home = PathBuf::from(std::ffi::OsStr::from_bytes(dir.to_bytes()));
        return Some(User { name: name.to_bytes().to_vec(), home, gid: pwd.pw_gid });
    }
}

/// Whether `gid` is the user's private group (its primary group, named after the user, with no
/// other members): distributions that make one per user set umask 002, so files are created
/// group-writable without anyone else being able to write them (OpenSSH's StrictModes accepts
/// the same).
fn is_private_group(gid: libc::gid_t) -> bool {
    let Some(user) = user_entry() else { return false };
    if user.gid != gid {
        return false;
    }
    let mut buf = vec![0 as libc::c_char; 4096];
    loop {
        // SAFETY: as for getpwuid_r: plain data, a buffer of the given length, `result` set to
        // null or `&grp`.
        let mut grp: libc::group = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::group = std::ptr::null_mut();
        // SAFETY: as above.
        let rc = unsafe { libc::getgrgid_r(gid, &raw mut grp, buf.as_mut_ptr(), buf.len(), &raw mut result) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 2, 0);
            continue;
        }
        if rc != 0 || result.is_null() || grp.gr_name.is_null() {
            return false;
        }
        // SAFETY: gr_name and gr_mem point into `buf`; gr_mem is a NULL-terminated array.
        let (name, no_members) = unsafe {
            (
                std::ffi::CStr::from_ptr(grp.gr_name).to_bytes() == user.name.as_slice(),
                grp.gr_mem.is_null() || (*grp.gr_mem).is_null(),
            )
        };
        return name && no_members;
    }
}

/// An XDG base directory: the variable when it holds an absolute path, else `HOME/fallback`.
pub fn xdg(var: &str, fallback: &str) -> Result<PathBuf> {
    match std::env::var_os(var).map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(dir) => Ok(dir),
        None => Ok(home()?.join(fallback)),
    }
}

/// `$XDG_CONFIG_HOME/keyward`.
pub fn config_dir() -> Result<PathBuf> {
    Ok(xdg("XDG_CONFIG_HOME", ".config")?.join("keyward"))
}

/// `$XDG_STATE_HOME/keyward`.
pub fn state_dir() -> Result<PathBuf> {
    Ok(xdg("XDG_STATE_HOME", ".local/state")?.join("keyward"))
}

/// The small file this machine keeps about one vault in `$XDG_STATE_HOME/keyward/<kind>/`: named
/// by the vault's canonical path and id, so a copy elsewhere or another vault at the same path is
/// another file.
pub fn vault_state_file(kind: &str, vault: &Path, id: &[u8; 16]) -> Option<PathBuf> {
    vault_state_file_on(kind, vault, id, None)
}

/// [`vault_state_file`], one per `branch` as well (see [`git_branch`]).
pub fn vault_state_file_on(kind: &str, vault: &Path, id: &[u8; 16], branch: Option<&str>) -> Option<PathBuf> {
    use sha2::{Digest, Sha256};
    let dir = state_dir().ok()?.join(kind);
    let canonical = std::fs::canonicalize(vault).unwrap_or_else(|_| vault.to_owned());
    let mut h = Sha256::new();
    h.update(canonical.as_os_str().as_encoded_bytes());
    h.update([0]);
    h.update(id);
    if let Some(branch) = branch {
        h.update([0]);
        h.update(branch.as_bytes());
    }
    Some(dir.join(format!("{}.json", data_encoding::HEXLOWER.encode(&h.finalize()[..12]))))
}

/// Where [`git_branch`] found the work tree's HEAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GitHead {
    /// A branch is checked out.
    Branch(String),
    /// A commit is (a rebase, a bisect, a CI checkout of a pull request).
    Detached,
}

/// What is checked out in the git work tree holding `file`, read from `.git/HEAD` (or the
/// `gitdir:` a worktree's `.git` file names) without running git: a repository's config is not to
/// be trusted, and `get` must stay fast. Only a `.git` of the user's own counts, and HEAD must be
/// a small regular file (a FIFO or a huge file planted there is ignored). `None` outside a work
/// tree or when HEAD cannot be read.
pub fn git_branch(file: &Path) -> Option<GitHead> {
    // Asked several times per command (memory, members, audit log): read once, so one command
    // never straddles a checkout.
    static SEEN: std::sync::Mutex<Vec<(PathBuf, Option<GitHead>)>> = std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, head)) = seen.iter().find(|(p, _)| p == file) {
        return head.clone();
    }
    let head = read_git_head(file);
    seen.push((file.to_owned(), head.clone()));
    head
}

fn read_git_head(file: &Path) -> Option<GitHead> {
    let start = std::fs::canonicalize(file).ok()?;
    let mut dir = start.parent()?;
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    loop {
        let dot_git = dir.join(".git");
        if let Ok(meta) = std::fs::symlink_metadata(&dot_git) {
            if meta.uid() != uid {
                return None;
            }
            let git_dir = if meta.is_dir() {
                dot_git
            } else if meta.is_file() {
                let text = small_text(&dot_git)?;
                let target = text.strip_prefix("gitdir:")?.trim();
                dir.join(target)
            } else {
                return None;
            };
            let head = small_text(&git_dir.join("HEAD"))?;
            return Some(match head.trim().strip_prefix("ref: refs/heads/") {
                Some(branch) => GitHead::Branch(branch.to_owned()),
                None => GitHead::Detached,
            });
        }
        dir = dir.parent()?;
    }
}

/// A small text file of the user's (at most 4 KiB): not through a link, not waiting on a FIFO,
/// judged by what was opened.
fn small_text(path: &Path) -> Option<String> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file =
        std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path).ok()?;
    let meta = file.metadata().ok()?;
    // SAFETY: getuid has no preconditions and cannot fail.
    if !meta.is_file() || meta.uid() != unsafe { libc::getuid() } || meta.len() > 4096 {
        return None;
    }
    let mut text = String::new();
    file.take(4097).read_to_string(&mut text).ok()?;
    (text.len() <= 4096).then_some(text)
}

/// `$XDG_DATA_HOME/keyward`.
pub fn data_dir() -> Result<PathBuf> {
    Ok(xdg("XDG_DATA_HOME", ".local/share")?.join("keyward"))
}

/// Refuses one of keyward's own directories or files (config, state, data) that is not the
/// user's (root's is accepted for files an administrator installed) or that others may write (the
/// group counts unless it is the user's private group): whoever
/// can write there can change what keyward runs, where it sends keys, or what its log says. A
/// path that does not exist yet is fine (keyward creates it 0700).
pub fn check_own(path: &Path) -> Result<()> {
    let meta = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io("cannot read", path, e)),
    };
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    if meta.uid() != uid && meta.uid() != 0 {
        return Err(Error::NotYours { path: path.to_owned(), reason: format!("it belongs to uid {}", meta.uid()) });
    }
    let writable_by_others = meta.mode() & 0o002 != 0 || (meta.mode() & 0o020 != 0 && !is_private_group(meta.gid()));
    if writable_by_others {
        let reason = format!("others may write to it (mode {:03o})", meta.mode() & 0o777);
        return Err(Error::NotYours { path: path.to_owned(), reason });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_or_missing_home_falls_back_to_the_password_database() {
        let db = password_database_home();
        assert!(db.as_ref().is_none_or(|p| p.is_absolute()));
        assert_eq!(home_from(Some("/h/me".into())), Some(PathBuf::from("/h/me")));
        assert_eq!(home_from(Some("relative/home".into())), db);
        assert_eq!(home_from(Some("".into())), db);
        assert_eq!(home_from(None), db);
    }

    #[test]
    fn keywards_own_directories_must_be_private_to_the_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let own = dir.path().join("keyward");
        assert!(check_own(&own).is_ok(), "missing is fine");
        std::fs::create_dir(&own).unwrap();
        let private = is_private_group(std::fs::metadata(&own).unwrap().gid());
        for (mode, ok) in [(0o700, true), (0o755, true), (0o775, private), (0o777, false), (0o757, false)] {
            std::fs::set_permissions(&own, std::fs::Permissions::from_mode(mode)).unwrap();
            assert_eq!(check_own(&own).is_ok(), ok, "{mode:o}");
        }
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            // A group of others: group-writable is refused.
            std::os::unix::fs::chown(&own, None, Some(54321)).unwrap();
            std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o775)).unwrap();
            assert!(check_own(&own).is_err());
            std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::set_permissions(&own, std::fs::Permissions::from_mode(0o700)).unwrap();
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::chown(&own, Some(4242), None).unwrap();
            let e = check_own(&own).unwrap_err().to_string();
            assert!(e.contains("uid 4242"), "{e}");
        }
    }
}
