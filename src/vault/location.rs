//! Which vault a command uses, and why.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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

pub fn resolve(inputs: &Inputs<'_>) -> Location {
    if let Some(path) = inputs.flag {
        return Location { path: path.to_owned(), reason: Reason::Flag };
    }
    if let Some(path) = inputs.env.filter(|p| !p.as_os_str().is_empty()) {
        return Location { path: path.to_owned(), reason: Reason::Env };
    }
    if let Some(path) = inputs.cwd.and_then(|cwd| find_project_vault(cwd, inputs.home, inputs.uid)) {
        return Location { path, reason: Reason::Project };
    }
    let data_home = match (inputs.data_home, inputs.home) {
        (Some(d), _) if d.is_absolute() => d.to_owned(),
        (_, Some(home)) => home.join(".local/share"),
        _ => PathBuf::from(".local/share"),
    };
    Location { path: data_home.join("keyward").join(VAULT_FILE), reason: Reason::User }
}

/// Walks up from `start` looking for `.keyward/vault.kw`. Stops at `$HOME` (not searched: the
/// home directory has the user vault) and where the walk would cross into another file system;
/// skips a `.keyward/` owned by another user, which could be a trap in a shared directory.
fn find_project_vault(start: &Path, home: Option<&Path>, uid: u32) -> Option<PathBuf> {
    let start_dev = std::fs::metadata(start).ok()?.dev();
    let mut dir = Some(start);
    while let Some(d) = dir {
        if Some(d) == home {
            return None;
        }
        match std::fs::metadata(d) {
            Ok(meta) if meta.dev() == start_dev => {}
            _ => return None,
        }
        let project = d.join(PROJECT_DIR);
        if let Ok(meta) = std::fs::metadata(&project)
            && meta.is_dir()
            && meta.uid() == uid
        {
            let vault = project.join(VAULT_FILE);
            if vault.is_file() {
                return Some(vault);
            }
        }
        dir = d.parent();
    }
    None
}

/// An XDG base directory: `$VAR` when it is an absolute path, else `$HOME/<fallback>`.
pub fn xdg_base(var: &str, fallback: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(fallback)))
        .unwrap_or_else(|| PathBuf::from(fallback))
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
        inputs.home = None;
        assert_eq!(resolve(&inputs).path, Path::new(".local/share/keyward/vault.kw"));
    }

    #[test]
    fn an_unset_xdg_variable_falls_back_under_home() {
        let base = xdg_base("KEYWARD_TEST_SURELY_UNSET_XDG_DIR", ".local/share");
        match std::env::var_os("HOME") {
            Some(home) => assert_eq!(base, PathBuf::from(home).join(".local/share")),
            None => assert_eq!(base, PathBuf::from(".local/share")),
        }
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
        assert_eq!(find_project_vault(&home.join("a"), Some(&home), uid()), None);
    }

    #[test]
    fn a_vault_owned_by_someone_else_is_ignored() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join(".keyward")).unwrap();
        std::fs::write(tmp.path().join(".keyward/vault.kw"), b"x").unwrap();
        assert!(find_project_vault(tmp.path(), None, uid()).is_some());
        assert_eq!(find_project_vault(tmp.path(), None, uid() + 1), None);
    }
}
