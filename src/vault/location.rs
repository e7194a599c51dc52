//! Which vault a command uses, and why.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

pub const PROJECT_DIR: &str = ".keyward";
pub const VAULT_FILE: &str = "vault.kw";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    Flag,
    Env,
    Project,
    User,
}

impl Reason {
    pub fn describe(&self) -> &'static str {
        match self {
            Reason::Flag => "given with --vault",
            Reason::Env => "from KEYWARD_VAULT",
            Reason::Project => "the nearest project vault (.keyward/vault.kw) above the current directory",
            Reason::User => "the user vault (no --vault, KEYWARD_VAULT or project vault)",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Location {
    pub path: PathBuf,
    pub reason: Reason,
}

pub struct Inputs<'a> {
    pub flag: Option<&'a Path>,
    pub env: Option<&'a Path>,
    pub cwd: Option<&'a Path>,
    pub home: Option<&'a Path>,
    pub data_home: Option<&'a Path>,
    pub uid: u32,
}

pub fn resolve(inputs: &Inputs<'_>) -> Result<Location> {
    if let Some(path) = inputs.flag {
        return Ok(Location { path: resolve_link(path), reason: Reason::Flag });
    }
    if let Some(path) = inputs.env.filter(|p| !p.as_os_str().is_empty()) {
        return Ok(Location { path: resolve_link(path), reason: Reason::Env });
    }
    if let Some(cwd) = inputs.cwd
        && let Some(path) = find_project_vault(cwd, inputs.home, inputs.uid)?
    {
        return Ok(Location { path, reason: Reason::Project });
    }
    // Never a relative path: with no home, there is no user vault (see `crate::paths`).
    let data_home = match (inputs.data_home, inputs.home) {
        (Some(d), _) if d.is_absolute() => d.to_owned(),
        (_, Some(home)) if home.is_absolute() => home.join(".local/share"),
        _ => return Err(Error::NoHome),
    };
    Ok(Location { path: data_home.join("keyward").join(VAULT_FILE), reason: Reason::User })
}

/// A vault path the user named that is a symbolic link, resolved: a write replaces the file it
/// points to, not the link (a rename over the link would leave the real vault behind).
fn resolve_link(path: &Path) -> PathBuf {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()),
        _ => path.to_owned(),
    }
}

/// Walks up from `start` looking for `.keyward/vault.kw`. Stops at `$HOME` (not searched: the
/// home directory has the user vault) and where the walk would cross into another file system;
/// skips a `.keyward/` owned by another user, which could be a trap in a shared directory.
fn find_project_vault(start: &Path, home: Option<&Path>, uid: u32) -> Result<Option<PathBuf>> {
    let Ok(start_meta) = std::fs::metadata(start) else { return Ok(None) };
    let start_dev = start_meta.dev();
    let mut dir = Some(start);
    while let Some(d) = dir {
        if Some(d) == home {
            return Ok(None);
        }
        match std::fs::metadata(d) {
            Ok(meta) if meta.dev() == start_dev => {}
            _ => return Ok(None),
        }
        let project = d.join(PROJECT_DIR);
        // Not followed: a repository is hostile input, and a link there could point at the
        // user's own vault, which the first write would copy into the repository.
        // Another user's `.keyward` (a link in /tmp, say) is skipped, as a directory of theirs is.
        if let Ok(meta) = std::fs::symlink_metadata(&project)
            && meta.uid() == uid
        {
            let vault = project.join(VAULT_FILE);
            if meta.file_type().is_symlink() {
                return Err(symlinked(&project));
            }
            if meta.is_dir() {
                match std::fs::symlink_metadata(&vault) {
                    Ok(v) if v.file_type().is_symlink() => return Err(symlinked(&vault)),
                    Ok(v) if v.is_file() => return Ok(Some(vault)),
                    _ => {}
                }
            }
        }
        dir = d.parent();
    }
    Ok(None)
}

fn symlinked(path: &Path) -> Error {
    Error::invalid(
        "project vault",
        path.display().to_string(),
        "it is a symbolic link, which keyward does not follow in a project; name the vault with --vault if you trust it",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uid() -> u32 {
        // SAFETY: getuid has no preconditions and cannot fail.
        unsafe { libc::getuid() }
    }

    #[test]
    fn order_of_precedence() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let project = home.join("code/app");
        std::fs::create_dir_all(project.join("src/deep")).unwrap();
        std::fs::create_dir_all(project.join(".keyward")).unwrap();
        std::fs::write(project.join(".keyward/vault.kw"), b"x").unwrap();
        let cwd = project.join("src/deep");
        let mut inputs = Inputs {
            flag: Some(Path::new("/f.kw")),
            env: Some(Path::new("/e.kw")),
            cwd: Some(&cwd),
            home: Some(&home),
            data_home: None,
            uid: uid(),
        };
        let resolve = |inputs: &Inputs<'_>| resolve(inputs).unwrap();
        assert_eq!(resolve(&inputs).reason, Reason::Flag);
        inputs.flag = None;
        assert_eq!(resolve(&inputs).path, Path::new("/e.kw"));
        inputs.env = None;
        let found = resolve(&inputs);
        assert_eq!((found.path, found.reason), (project.join(".keyward/vault.kw"), Reason::Project));
        let elsewhere = home.join("code");
        inputs.cwd = Some(&elsewhere);
        let user = resolve(&inputs);
        assert_eq!((user.path, user.reason), (home.join(".local/share/keyward/vault.kw"), Reason::User));

        // XDG_DATA_HOME counts only when absolute, as the XDG spec says.
        inputs.data_home = Some(Path::new("/data"));
        assert_eq!(resolve(&inputs).path, Path::new("/data/keyward/vault.kw"));
        inputs.data_home = Some(Path::new("relative/data"));
        assert_eq!(resolve(&inputs).path, home.join(".local/share/keyward/vault.kw"));
        // With no home there is no user vault: never a path relative to the current directory.
        inputs.home = None;
        assert!(matches!(super::resolve(&inputs), Err(Error::NoHome)));
        inputs.home = Some(Path::new("relative/home"));
        assert!(matches!(super::resolve(&inputs), Err(Error::NoHome)));
    }

    #[test]
    fn a_linked_project_vault_is_refused_and_a_named_one_resolved() {
        let tmp = tempfile::tempdir().unwrap();
        let own = tmp.path().join("own.kw");
        std::fs::write(&own, b"x").unwrap();
        let repo = tmp.path().join("repo");
        std::fs::create_dir_all(repo.join(".keyward")).unwrap();
        std::os::unix::fs::symlink(&own, repo.join(".keyward/vault.kw")).unwrap();
        let e = find_project_vault(&repo, None, uid()).unwrap_err().to_string();
        assert!(e.contains("symbolic link") && e.contains("vault.kw"), "{e}");
        let linked_dir = tmp.path().join("repo2");
        std::fs::create_dir_all(&linked_dir).unwrap();
        std::os::unix::fs::symlink(repo.join(".keyward"), linked_dir.join(".keyward")).unwrap();
        assert!(find_project_vault(&linked_dir, None, uid()).is_err());
        assert_eq!(resolve_link(&repo.join(".keyward/vault.kw")), std::fs::canonicalize(&own).unwrap());
        // Another user's link (as anyone can make in /tmp) is skipped, not an error for everyone
        // below it.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            std::os::unix::fs::lchown(linked_dir.join(".keyward"), Some(54321), None).unwrap();
            assert_eq!(find_project_vault(&linked_dir, None, uid()).unwrap(), None);
        }
        assert_eq!(resolve_link(&own), own);
    }

    #[test]
    fn every_reason_explains_itself() {
        let reasons = [Reason::Flag, Reason::Env, Reason::Project, Reason::User].map(|r| r.describe());
        assert_eq!(reasons[0], "given with --vault");
        assert_eq!(reasons[1], "from KEYWARD_VAULT");
        assert!(reasons[2].contains(".keyward/vault.kw") && reasons[3].starts_with("the user vault"));
    }

    #[test]
    fn walk_stops_at_home() {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        std::fs::create_dir_all(home.join("a")).unwrap();
        std::fs::create_dir_all(home.join(".keyward")).unwrap();
        std::fs::write(home.join(".keyward/vault.kw"), b"x").unwrap();
        assert_eq!(find_project_vault(&home.join("a"), Some(&home), uid()).unwrap(), None);
    }

    #[test]
    fn a_vault_owned_by_someone_else_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".keyward")).unwrap();
        std::fs::write(tmp.path().join(".keyward/vault.kw"), b"x").unwrap();
        assert!(find_project_vault(tmp.path(), None, uid()).unwrap().is_some());
        assert_eq!(find_project_vault(tmp.path(), None, uid() + 1).unwrap(), None);
    }
}
