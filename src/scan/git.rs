//! Git sources for `scan`: every blob in history once (attributed to the commit and path that
//! introduced it), the staged index for a pre-commit hook, and the hook itself. Runs the `git`
//! program (plumbing commands with `-z` output), so any repository git reads, we read.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use crate::error::{Error, Result};

/// A blob and where it first appeared.
#[derive(Debug, Clone)]
pub struct BlobRef {
    pub blob: String,
    pub commit: Option<String>,
    pub path: String,
    /// For staged files: the added line ranges (first, last), inclusive; findings elsewhere in
    /// the file were there before this commit.
    pub added: Option<Vec<(u64, u64)>>,
    /// A version from before the scanned range: its findings were not introduced in the range,
    /// and are not reported.
    pub before_range: bool,
}

/// `git` in `repo`, with what a repository's own config could make it run turned off: the
/// repository is hostile input, and its `.git/config` is part of it. `core.fsmonitor` runs a
/// program whenever the index is read; textconv filters and external diff programs run on diffs
/// (the diff commands add `--no-textconv --no-ext-diff`); signatures are verified by a program
/// of the configuration's choosing; a pager is never wanted.
fn git(repo: &Path) -> Command {
    let mut c = Command::new("git");
    c.current_dir(repo).stdin(Stdio::null());
    c.args(["--no-pager", "-c", "core.fsmonitor=", "-c", "diff.external=", "-c", "core.pager=cat"]);
    // `git show` of a signed commit runs `gpg.program` when `log.showSignature` is set.
    c.args(["-c", "log.showSignature=false"]);
    c
}

fn run(repo: &Path, args: &[&str]) -> Result<Vec<u8>> {
    let out = git(repo).args(args).stderr(Stdio::piped()).output().map_err(|e| spawn_error(repo, e))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().find(|l| !l.trim().is_empty()).unwrap_or("failed").trim().to_owned();
        return Err(Error::Usage(format!("git {}: {why}", args.first().copied().unwrap_or(""))));
    }
    Ok(out.stdout)
}

fn spawn_error(repo: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::Usage("--git, --staged and --install-hook need the `git` program, and it is not on PATH".into())
    } else {
        Error::io("cannot run git in", repo, e)
    }
}

/// The repository's top directory.
pub fn toplevel(dir: &Path) -> Result<PathBuf> {
    let out = run(dir, &["rev-parse", "--show-toplevel"])
        .map_err(|_| Error::Usage(format!("{} is not inside a git repository", dir.display())))?;
    Ok(PathBuf::from(String::from_utf8_lossy(&out).trim_end_matches('\n')))
}

/// Every blob added or changed by the commits in range (all refs, or `since..HEAD`), oldest
/// commit first, each blob once.
pub fn history(repo: &Path, since: Option<&str>) -> Result<Vec<BlobRef>> {
    let range = match since {
        Some(rev) => {
            // Check the revision first: a typo should be a usage error, not an empty scan.
            run(repo, &["rev-parse", "--verify", "--quiet", &format!("{rev}^{{commit}}")])
                .map_err(|_| Error::Usage(format!("--since {rev:?}: no such commit in this repository")))?;
            vec!["HEAD".to_owned(), "--not".to_owned(), rev.to_owned()]
        }
        None => vec!["--all".to_owned()],
    };
    let mut revs = git(repo)
        .args(["rev-list", "--reverse", "--topo-order"])
        .args(&range)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| spawn_error(repo, e))?;
    let rev_out = revs.stdout.take().expect("piped");
    let out = git(repo)
        .args(["diff-tree", "--stdin", "-r", "-m", "--root", "--no-renames", "--no-abbrev", "-z", "--diff-filter=AMT"])
        .args(["--no-textconv", "--no-ext-diff"])
        .stdin(Stdio::from(rev_out))
        .stderr(Stdio::null())
        .output()
        .map_err(|e| spawn_error(repo, e))?;
    let _ = revs.wait();
    let mut seen = std::collections::HashSet::new();
    let mut blobs = Vec::new();
    let mut commit = None;
    let mut fields = out.stdout.split(|b| *b == 0).filter(|f| !f.is_empty());
    while let Some(field) = fields.next() {
        let field = String::from_utf8_lossy(field);
        let field = field.trim_matches('\n');
        if let Some(meta) = field.strip_prefix(':') {
            // ":old_mode new_mode old_sha new_sha status", then the path.
            let Some(path) = fields.next() else { break };
            let parts: Vec<&str> = meta.split(' ').collect();
            if parts.len() < 5 || parts[1] == "160000" {
                continue;
            }
            let path = String::from_utf8_lossy(path).into_owned();
            // With --since, the version a change replaced may predate the range: what it held was
            // not introduced here.
            let old = parts[2];
            if since.is_some() && !old.bytes().all(|b| b == b'0') && seen.insert(old.to_owned()) {
                let before =
                    BlobRef { blob: old.to_owned(), commit: None, path: path.clone(), added: None, before_range: true };
                blobs.push(before);
            }
            let blob = parts[3].to_owned();
            if seen.insert(blob.clone()) {
                blobs.push(BlobRef { blob, commit: commit.clone(), path, added: None, before_range: false });
            }
        } else if field.len() >= 40 && field.bytes().all(|b| b.is_ascii_hexdigit()) {
            commit = Some(field.to_owned());
        }
    }
    Ok(blobs)
}

/// The files staged for commit, with the line ranges the commit adds.
pub fn staged(repo: &Path) -> Result<Vec<BlobRef>> {
    let names = run(
        repo,
        &[
            "diff",
            "--cached",
            "--name-only",
            "-z",
            "--no-renames",
            "--diff-filter=ACMRT",
            "--no-textconv",
            "--no-ext-diff",
        ],
    )?;
    let mut files = Vec::new();
    for name in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let path = String::from_utf8_lossy(name).into_owned();
        let patch = run(
            repo,
            &["diff", "--cached", "-U0", "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames", "--", &path],
        )?;
        let mut added = Vec::new();
        for line in patch.split(|b| *b == b'\n') {
            if let Some(range) = hunk_added(line) {
                added.push(range);
            }
        }
        let index = run(repo, &["ls-files", "-s", "-z", "--", &path])?;
        // "<mode> <sha> <stage>\t<path>"
        let blob = String::from_utf8_lossy(&index).split([' ', '\t']).nth(1).unwrap_or_default().to_owned();
        if !blob.is_empty() {
            files.push(BlobRef { blob, commit: None, path, added: Some(added), before_range: false });
        }
    }
    Ok(files)
}

/// The added lines of a `@@ -a,b +c,d @@` hunk header, as (first, last).
fn hunk_added(line: &[u8]) -> Option<(u64, u64)> {
    let line = std::str::from_utf8(line).ok()?.strip_prefix("@@ ")?;
    let plus = line.split(' ').find(|p| p.starts_with('+'))?.trim_start_matches('+');
    let (start, count) = match plus.split_once(',') {
        Some((s, c)) => (s.parse::<u64>().ok()?, c.parse::<u64>().ok()?),
        None => (plus.parse::<u64>().ok()?, 1),
    };
    (count > 0).then(|| (start, start + count - 1))
}

/// Reads blobs through one `git cat-file --batch`.
pub struct Blobs {
    child: Child,
    out: BufReader<ChildStdout>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Blobs {
    /// Starts reading `ids` (in that order).
    pub fn open(repo: &Path, ids: Vec<String>) -> Result<Blobs> {
        let mut child = git(repo)
            .args(["cat-file", "--batch"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| spawn_error(repo, e))?;
        let mut stdin = child.stdin.take().expect("piped");
        // Written from a thread: cat-file answers while we are still asking.
        let writer = std::thread::spawn(move || {
            for id in ids {
                if stdin.write_all(format!("{id}\n").as_bytes()).is_err() {
                    return;
                }
            }
        });
        let out = BufReader::with_capacity(1 << 16, child.stdout.take().expect("piped"));
        Ok(Blobs { child, out, writer: Some(writer) })
    }

    /// The next object: its size and a reader of exactly its content, which `done` must be
    /// given back. `None` for a missing object.
    pub fn next_blob(&mut self) -> std::io::Result<Option<u64>> {
        let mut header = String::new();
        if self.out.read_line(&mut header)? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "git cat-file ended early"));
        }
        let mut parts = header.split_whitespace();
        let (_, kind, size) = (parts.next(), parts.next(), parts.next());
        match (kind, size.and_then(|s| s.parse::<u64>().ok())) {
            (Some("blob"), Some(size)) => Ok(Some(size)),
            (Some(_), Some(size)) => {
                self.skip(size + 1)?;
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    /// A reader of the current object's `size` bytes.
    pub fn content(&mut self, size: u64) -> impl Read + '_ {
        (&mut self.out).take(size)
    }

    /// Skips what is left of the current object and its trailing newline.
    pub fn skip(&mut self, n: u64) -> std::io::Result<()> {
        std::io::copy(&mut (&mut self.out).take(n), &mut std::io::sink())?;
        Ok(())
    }
}

impl Drop for Blobs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
    }
}

/// Short id, author and date of a commit, for reports.
pub fn describe(repo: &Path, commit: &str) -> Result<(String, String)> {
    let out = run(repo, &["show", "-s", "--format=%an%x00%aI", commit])?;
    let text = String::from_utf8_lossy(&out);
    let mut parts = text.trim_end().splitn(2, '\0');
    Ok((parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned()))
}

/// Marks hooks keyward wrote, so it may rewrite them and leaves anyone else's alone.
const HOOK_MARK: &str = "# installed by `keyward scan --install-hook`";

/// Writes the repository's pre-commit hook running `<exe> scan --staged`.
pub fn install_hook(repo: &Path, exe: &Path) -> Result<PathBuf> {
    let out = run(repo, &["rev-parse", "--git-path", "hooks/pre-commit"])?;
    let rel = PathBuf::from(String::from_utf8_lossy(&out).trim_end_matches('\n'));
    let path = if rel.is_absolute() { rel } else { repo.join(rel) };
    if let Ok(existing) = std::fs::read_to_string(&path)
        && !existing.contains(HOOK_MARK)
    {
        return Err(Error::Refused(
            format!("{} already exists and was not written by keyward", path.display()),
            "add the line `keyward scan --staged || exit 1` to it instead",
        ));
    }
    let exe = exe.to_string_lossy().replace('\'', r"'\''");
    let text = format!(
        "#!/bin/sh\n{HOOK_MARK}\n# Blocks a commit that adds a secret. To commit anyway: git commit --no-verify\nexec '{exe}' scan --staged\n"
    );
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, e))?;
    }
    std::fs::write(&path, text).map_err(|e| Error::io("cannot write", &path, e))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| Error::io("cannot make executable", &path, e))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_headers_give_added_lines() {
        assert_eq!(hunk_added(b"@@ -1,2 +3,4 @@ fn x"), Some((3, 6)));
        assert_eq!(hunk_added(b"@@ -0,0 +1 @@"), Some((1, 1)));
        assert_eq!(hunk_added(b"@@ -5,2 +4,0 @@"), None);
        assert_eq!(hunk_added(b"+added line"), None);
    }
}
