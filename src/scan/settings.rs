//! `.keyward-scan.toml`: what a project accepts. Paths not to scan (globs, relative to the
//! file's directory), rules turned off, and fingerprints of accepted findings (a baseline, so a
//! team can adopt `scan` on a repository that already has findings).
//!
//! ```toml
//! [allow]
//! paths = ["tests/fixtures/**", "*.lock"]
//! rules = ["generic-assignment"]
//! fingerprints = [
//!   "3f2a9c1d8e7b6a50",  # config/dev.env:3 stripe
//! ]
//! ```
//!
//! A fingerprint is the first 8 bytes of SHA-256 over the rule, the path relative to the project
//! root and the value: it does not move when lines do, and it tells nothing a reader of the
//! scanned file does not already have.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub const FILE_NAME: &str = ".keyward-scan.toml";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    allow: Allow,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Allow {
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    rules: Vec<String>,
    #[serde(default)]
    fingerprints: Vec<String>,
}

/// The loaded settings, and the directory paths are relative to.
#[derive(Debug)]
pub struct Settings {
    pub root: PathBuf,
    pub file: Option<PathBuf>,
    paths: GlobSet,
    pub path_globs: Vec<String>,
    pub rules: Vec<String>,
    pub fingerprints: Vec<String>,
}

impl Settings {
    /// The settings in `file`, or the nearest `.keyward-scan.toml` from `start` up to the
    /// repository root (the directory holding `.git`), or none. Paths are relative to the file's
    /// directory, or to the repository root, or to `start`.
    pub fn discover(explicit: Option<&Path>, start: &Path) -> Result<Settings> {
        if let Some(path) = explicit {
            let root = start.join(path.parent().unwrap_or(Path::new("")));
            return Settings::load(path, root);
        }
        // Up to the repository root, the home directory or a file-system boundary, whichever
        // comes first: outside a repository, /tmp/.keyward-scan.toml is anyone's to write.
        let home = crate::paths::home().ok();
        let start_dev = std::fs::metadata(start).map(|m| m.dev()).ok();
        let mut dir = Some(start);
        while let Some(d) = dir {
            if std::fs::metadata(d).map(|m| m.dev()).ok() != start_dev {
                break;
            }
            let candidate = d.join(FILE_NAME);
            if candidate.is_file() && trusted(&candidate) {
                return Settings::load(&candidate, d.to_path_buf());
            }
            if d.join(".git").exists() || home.as_deref() == Some(d) {
                return Ok(Settings::empty(d.to_path_buf()));
            }
            dir = d.parent();
        }
        Ok(Settings::empty(start.to_path_buf()))
    }

    fn empty(root: PathBuf) -> Settings {
        Settings {
            root,
            file: None,
            paths: GlobSet::empty(),
            path_globs: Vec::new(),
            rules: Vec::new(),
            fingerprints: Vec::new(),
        }
    }

    fn load(path: &Path, root: PathBuf) -> Result<Settings> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, e))?;
        let shown = path.display().to_string();
        let parsed: File = toml::from_str(&text).map_err(|e| Error::Config {
            path: shown.clone(),
            line: e.span().map(|s| text[..s.start].lines().count().max(1)),
            field: "allow".into(),
            reason: e.message().to_owned(),
        })?;
        let mut builder = GlobSetBuilder::new();
        for (i, g) in parsed.allow.paths.iter().enumerate() {
            let glob = Glob::new(g).map_err(|e| Error::Config {
                path: shown.clone(),
                line: None,
                field: format!("allow.paths[{i}]"),
                reason: e.kind().to_string(),
            })?;
            builder.add(glob);
        }
        let paths = builder.build().map_err(|e| Error::Config {
            path: shown.clone(),
            line: None,
            field: "allow.paths".into(),
            reason: e.to_string(),
        })?;
        for (i, f) in parsed.allow.fingerprints.iter().enumerate() {
            if f.len() != 16 || !f.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::Config {
                    path: shown,
                    line: text.find(f.as_str()).map(|at| text[..at].lines().count().max(1)),
                    field: format!("allow.fingerprints[{i}]"),
                    reason: "a fingerprint is 16 hex digits, as `keyward scan --baseline` writes".into(),
                });
            }
        }
        Ok(Settings {
            root,
            file: Some(path.to_path_buf()),
            paths,
            path_globs: parsed.allow.paths,
            rules: parsed.allow.rules,
            fingerprints: parsed.allow.fingerprints.into_iter().map(|f| f.to_ascii_lowercase()).collect(),
        })
    }

    /// Whether a path (relative to the root) is excluded.
    pub fn path_allowed(&self, relative: &str) -> bool {
        self.paths.is_match(relative)
    }

    pub fn rule_allowed(&self, rule: &str) -> bool {
        self.rules.iter().any(|r| r == rule)
    }

    pub fn fingerprint_allowed(&self, fingerprint: &str) -> bool {
        self.fingerprints.iter().any(|f| f == fingerprint)
    }

    /// `path` relative to the root, with `/` separators, when it lies under it.
    pub fn relative(&self, path: &Path) -> String {
        // `a/./b` and `a/x/../b` are `a/b`: the walk yields `./file` joined to the directory.
        let mut clean = PathBuf::new();
        for c in path.components() {
            match c {
                std::path::Component::CurDir => {}
                std::path::Component::ParentDir => {
                    clean.pop();
                }
                other => clean.push(other),
            }
        }
        let rel = clean.strip_prefix(&self.root).unwrap_or(&clean);
        rel.to_string_lossy().replace('\\', "/")
    }
}

/// A finding's fingerprint: stable across line moves, and not the value.
pub fn fingerprint(rule: &str, relative_path: &str, value: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"keyward-scan/1\0");
    h.update(rule.as_bytes());
    h.update([0]);
    h.update(relative_path.as_bytes());
    h.update([0]);
    h.update(value.as_bytes());
    let digest = h.finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// The text of a baseline file: the existing settings' paths and rules kept, and every
/// fingerprint (old and new), each new one with a comment saying where it was found.
pub fn baseline_text(existing: &Settings, new: &[(String, String)]) -> String {
    let quote = |s: &str| toml::Value::String(s.to_owned()).to_string();
    let list = |items: &[String]| items.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ");
    let mut out = String::from(
        "# keyward scan settings (see `keyward scan --help`).\n\
         # Fingerprints are of accepted findings: written by `keyward scan --baseline`.\n\n[allow]\n",
    );
    out.push_str(&format!("paths = [{}]\n", list(&existing.path_globs)));
    out.push_str(&format!("rules = [{}]\n", list(&existing.rules)));
    out.push_str("fingerprints = [\n");
    let mut seen = std::collections::HashSet::new();
    for f in &existing.fingerprints {
        if seen.insert(f.clone()) {
            out.push_str(&format!("  {},\n", quote(f)));
        }
    }
    for (f, place) in new {
        if seen.insert(f.clone()) {
            let place: String = place.chars().filter(|c| !c.is_control()).collect();
            out.push_str(&format!("  {},  # {place}\n", quote(f)));
        }
    }
    out.push_str("]\n");
    out
}

/// A settings file silences findings: only the user's own (or root's) counts.
fn trusted(path: &Path) -> bool {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    std::fs::metadata(path).is_ok_and(|m| m.uid() == uid || m.uid() == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_depend_on_rule_path_and_value_only() {
        let a = fingerprint("stripe", "a/b.env", "sk_live_x");
        assert_eq!(a.len(), 16);
        assert_eq!(a, fingerprint("stripe", "a/b.env", "sk_live_x"));
        assert_ne!(a, fingerprint("stripe", "a/c.env", "sk_live_x"));
        assert_ne!(a, fingerprint("github", "a/b.env", "sk_live_x"));
    }

    #[test]
    fn baseline_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        let empty = Settings::discover(None, dir.path()).unwrap();
        let text = baseline_text(&empty, &[("0123456789abcdef".into(), "x.env:1 \"stripe\"".into())]);
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, text).unwrap();
        let loaded = Settings::discover(None, dir.path()).unwrap();
        assert!(loaded.fingerprint_allowed("0123456789abcdef"));
        assert_eq!(loaded.root, dir.path());
    }

    #[test]
    fn bad_settings_name_the_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "[allow]\nfingerprints = [\"nothex\"]\n").unwrap();
        let err = Settings::discover(None, dir.path()).unwrap_err().to_string();
        assert!(err.contains("allow.fingerprints[0]") && err.contains("line 2"), "{err}");
        std::fs::write(&path, "[allow]\npaths = [\"a/**/[\"]\n").unwrap();
        assert!(Settings::discover(None, dir.path()).unwrap_err().to_string().contains("allow.paths[0]"));
    }
}
