//! Where `scan` looks: a tree of files walked as ripgrep walks it, or git blobs read through one
//! `git cat-file`, scanned on every core. Findings come back with their values (for
//! verification and fingerprints), which stay in memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroizing;

use super::archive;
use super::git::{self, BlobRef};
use super::report::{Commit, Finding, Stats};
use super::settings::{self, Settings};
use super::{RawFinding, Rule, Scanned, Scanner, preview};
use crate::error::{Error, Result};

/// What a walk needs besides where to look.
pub struct Walk<'a> {
    pub scanner: &'a Scanner,
    pub settings: &'a Settings,
    pub threads: usize,
    /// Called for each file scanned (a progress bar).
    pub progress: &'a (dyn Fn() + Sync),
    /// Called for each file that could not be read: a warning, not a failure.
    pub warn: &'a dyn Fn(&str),
}

/// A finding with its value, which stays in memory only (verification, fingerprints).
pub struct Found {
    pub finding: Finding,
    pub value: Zeroizing<String>,
    /// The provider whose pattern found it.
    pub provider: Option<String>,
}

/// Turns a scanner's raw finding into a report row; `None` when the line allows it.
fn finding(raw: RawFinding, path: &str, relative: &str, commit: Option<Commit>, stats: &mut Stats) -> Option<Found> {
    if raw.allowed_inline {
        stats.suppressed += 1;
        return None;
    }
    let id = raw.rule.id().to_owned();
    let fingerprint = settings::fingerprint(&id, relative, &raw.value);
    let (kind, secret, provider) = match raw.rule {
        Rule::Known { secret, .. } => (None, Some(secret), None),
        Rule::Provider { id, kind } => (Some(kind), None, Some(id)),
        Rule::Generic { name } => (Some(name), None, None),
    };
    Some(Found {
        finding: Finding {
            path: path.to_owned(),
            line: raw.line,
            column: raw.column,
            rule: id,
            kind,
            secret,
            encoding: raw.decoded.map(super::decode::Encoding::as_str),
            preview: preview(&raw.value, raw.prefix_len),
            fingerprint,
            commit,
            verdict: None,
            verdict_detail: None,
        },
        value: raw.value,
        provider,
    })
}

/// What the walk's threads count.
#[derive(Default)]
struct Counters {
    files: AtomicU64,
    bytes: AtomicU64,
    binary: AtomicU64,
    suppressed: AtomicU64,
    errors: AtomicU64,
    archives: AtomicU64,
    archive_members: AtomicU64,
    archive_skipped: AtomicU64,
}

/// A reader that counts what went through it.
struct Counting<'a> {
    inner: &'a mut dyn std::io::Read,
    n: u64,
}

impl std::io::Read for Counting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

/// The members of an archive, scanned; what was skipped is a warning each (the first 20).
fn scan_archive(
    scanner: &Scanner,
    path: &Path,
    kind: archive::Kind,
    shown: &str,
    relative: &str,
    counts: &Counters,
    warnings: &Mutex<Vec<String>>,
) -> std::io::Result<Vec<Found>> {
    let file = std::io::BufReader::new(std::fs::File::open(path)?);
    let mut found = Vec::new();
    let mut local = Stats::default();
    let mut binary = 0;
    let outcome = archive::walk(file, kind, shown, &mut |inner, reader| {
        let mut counting = Counting { inner: reader, n: 0 };
        match scanner.scan(&mut counting)? {
            Scanned::Binary => binary += 1,
            Scanned::Findings(raw) => {
                let relative = format!("{relative}{}", &inner[shown.len()..]);
                found.extend(raw.into_iter().filter_map(|r| finding(r, inner, &relative, None, &mut local)));
            }
        }
        Ok(counting.n)
    })?;
    counts.archives.fetch_add(1, Ordering::Relaxed);
    counts.archive_members.fetch_add(outcome.members, Ordering::Relaxed);
    counts.bytes.fetch_add(outcome.bytes, Ordering::Relaxed);
    counts.binary.fetch_add(binary, Ordering::Relaxed);
    counts.suppressed.fetch_add(local.suppressed, Ordering::Relaxed);
    counts.archive_skipped.fetch_add(outcome.skipped.len() as u64, Ordering::Relaxed);
    let mut warnings = warnings.lock().expect("no panics");
    let total = outcome.skipped.len();
    for s in outcome.skipped.into_iter().take(20) {
        warnings.push(format!("skipped {s}"));
    }
    if total > 20 {
        warnings.push(format!("skipped {} more members of {shown}", total - 20));
    }
    Ok(found)
}

/// Walks the paths as ripgrep does (ignore files, hidden files skipped; `all_files` turns that
/// off) on every core.
pub fn paths(w: &Walk<'_>, paths: &[PathBuf], all_files: bool, cwd: &Path, stats: &mut Stats) -> Result<Vec<Found>> {
    let (scanner, settings) = (w.scanner, w.settings);
    let paths: Vec<PathBuf> = if paths.is_empty() { vec![PathBuf::from(".")] } else { paths.to_vec() };
    for p in &paths {
        if std::fs::symlink_metadata(p).is_err() {
            return Err(Error::Usage(format!("{}: no such file or directory", p.display())));
        }
    }
    let all = all_files;
    let mut walk = ignore::WalkBuilder::new(&paths[0]);
    for p in &paths[1..] {
        walk.add(p);
    }
    walk.hidden(!all)
        .ignore(!all)
        .git_ignore(!all)
        .git_exclude(!all)
        .git_global(!all)
        .parents(!all)
        .threads(w.threads)
        .filter_entry(|e| e.file_name() != ".git");
    let results: Mutex<Vec<Found>> = Mutex::new(Vec::new());
    let counts = Counters::default();
    let warnings: Mutex<Vec<String>> = Mutex::new(Vec::new());
    walk.build_parallel().run(|| {
        Box::new(|entry| {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    warnings.lock().expect("no panics").push(e.to_string());
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    return ignore::WalkState::Continue;
                }
            };
            if !entry.file_type().is_some_and(|t| t.is_file()) {
                return ignore::WalkState::Continue;
            }
            let path = entry.path();
            let shown = path.strip_prefix("./").unwrap_or(path).to_string_lossy().into_owned();
            let relative = settings.relative(&cwd.join(path));
            if settings.path_allowed(&relative) {
                return ignore::WalkState::Continue;
            }
            if let Some(kind) = archive::kind(&shown) {
                match scan_archive(scanner, path, kind, &shown, &relative, &counts, &warnings) {
                    Ok(found) => {
                        counts.files.fetch_add(1, Ordering::Relaxed);
                        (w.progress)();
                        results.lock().expect("no panics").extend(found);
                    }
                    Err(e) => {
                        warnings.lock().expect("no panics").push(format!("cannot read the archive {shown}: {e}"));
                        counts.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                return ignore::WalkState::Continue;
            }
            let scanned = std::fs::File::open(path).and_then(|f| {
                let len = f.metadata().map_or(0, |m| m.len());
                scanner.scan(f).map(|s| (s, len))
            });
            match scanned {
                Ok((Scanned::Binary, _)) => {
                    counts.binary.fetch_add(1, Ordering::Relaxed);
                }
                Ok((Scanned::Findings(raw), len)) => {
                    counts.files.fetch_add(1, Ordering::Relaxed);
                    counts.bytes.fetch_add(len, Ordering::Relaxed);
                    (w.progress)();
                    let mut local = Stats::default();
                    let found: Vec<Found> =
                        raw.into_iter().filter_map(|r| finding(r, &shown, &relative, None, &mut local)).collect();
                    counts.suppressed.fetch_add(local.suppressed, Ordering::Relaxed);
                    results.lock().expect("no panics").extend(found);
                }
                Err(e) => {
                    warnings.lock().expect("no panics").push(format!("cannot read {shown}: {e}"));
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                }
            }
            ignore::WalkState::Continue
        })
    });
    for warning in warnings.into_inner().expect("walk finished") {
        (w.warn)(&warning);
    }
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    stats.files += load(&counts.files);
    stats.bytes += load(&counts.bytes);
    stats.skipped_binary += load(&counts.binary);
    stats.suppressed += load(&counts.suppressed);
    stats.errors += load(&counts.errors);
    stats.archives += load(&counts.archives);
    stats.archive_members += load(&counts.archive_members);
    stats.archive_skipped += load(&counts.archive_skipped);
    Ok(results.into_inner().expect("walk finished"))
}

/// Scans git blobs: read in order through one `git cat-file`, scanned on every core. A finding
/// is reported once per path, rule and value: at the commit that introduced it.
pub fn blobs(w: &Walk<'_>, repo: &Path, blobs: Vec<BlobRef>, stats: &mut Stats) -> Result<Vec<Found>> {
    let (scanner, settings, threads) = (w.scanner, w.settings, w.threads);
    let blobs: Vec<BlobRef> =
        blobs.into_iter().filter(|b| !settings.path_allowed(&settings.relative(&repo.join(&b.path)))).collect();
    let mut reader = git::Blobs::open(repo, blobs.iter().map(|b| b.blob.clone()).collect())?;
    let per_blob: Mutex<Vec<(usize, Vec<RawFinding>)>> = Mutex::new(Vec::new());
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(threads * 2);
    let rx = Mutex::new(rx);
    let binary = AtomicU64::new(0);
    let read: std::io::Result<()> = std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let job = rx.lock().expect("no panics").recv();
                    let Ok((i, data)) = job else { break };
                    match scanner.scan(&data[..]) {
                        Ok(Scanned::Findings(raw)) => per_blob.lock().expect("no panics").push((i, raw)),
                        Ok(Scanned::Binary) => {
                            binary.fetch_add(1, Ordering::Relaxed);
                        }
                        // Reading from memory does not fail.
                        Err(_) => {}
                    }
                    (w.progress)();
                }
            });
        }
        let result = (|| {
            for i in 0..blobs.len() {
                let Some(size) = reader.next_blob()? else { continue };
                let mut data = Vec::with_capacity(size as usize);
                std::io::Read::read_to_end(&mut reader.content(size), &mut data)?;
                reader.skip(1)?;
                stats.files += 1;
                stats.bytes += size;
                if tx.send((i, data)).is_err() {
                    break;
                }
            }
            Ok(())
        })();
        drop(tx);
        result
    });
    read.map_err(|e| Error::io("cannot read git objects in", repo, e))?;
    stats.skipped_binary += binary.load(Ordering::Relaxed);
    let mut per_blob = per_blob.into_inner().expect("workers finished");
    per_blob.sort_by_key(|(i, _)| *i);

    let mut described: HashMap<String, Commit> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (i, raws) in per_blob {
        let b = &blobs[i];
        for raw in raws {
            if let Some(added) = &b.added
                && !added.iter().any(|(first, last)| (*first..=*last).contains(&raw.line))
            {
                continue;
            }
            let commit = match b.commit.as_ref().filter(|_| !b.before_range) {
                Some(id) => Some(if let Some(c) = described.get(id) {
                    c.clone()
                } else {
                    let (author, date) = git::describe(repo, id)?;
                    let c = Commit { id: id.clone(), author, date };
                    described.insert(id.clone(), c.clone());
                    c
                }),
                None => None,
            };
            let relative = settings.relative(&repo.join(&b.path));
            if b.before_range {
                let id = raw.rule.id().to_owned();
                seen.insert(settings::fingerprint(&id, &relative, &raw.value));
                continue;
            }
            if let Some(f) = finding(raw, &b.path, &relative, commit, stats)
                && seen.insert(f.finding.fingerprint.clone())
            {
                out.push(f);
            }
        }
    }
    Ok(out)
}
