//! `keyward scan`: find hardcoded keys in files, git history or the staged index.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use zeroize::Zeroizing;

use crate::Outcome;
use crate::cli::{ScanArgs, ScanFormat};
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::mask::{Engine, Options, Style};
use crate::output::Output;
use crate::providers::Registry;
use crate::providers::check::{Checker, Verdict};
use crate::scan::git::{self, BlobRef};
use crate::scan::report::{self, Commit, Finding, Stats};
use crate::scan::settings::{self, Settings};
use crate::scan::{RawFinding, Rule, Scanned, Scanner, preview};
use crate::sensitive::SecretValue;

/// Known values shorter than this are not looked for: a stored port number or `true` would
/// match everywhere.
const KNOWN_MIN_LENGTH: usize = 8;
/// Online checks in flight at once, per run.
const VERIFY_CONCURRENCY: usize = 4;

/// A finding with its value, which stays in memory only (verification, fingerprints).
struct Found {
    finding: Finding,
    value: Zeroizing<String>,
    provider: Option<String>,
}

pub(super) fn run(args: ScanArgs, ctx: &Context) -> Result<Outcome> {
    let cwd = std::env::current_dir().map_err(|e| Error::io("cannot read", ".", e))?;
    if args.install_hook {
        let repo = git::toplevel(&cwd)?;
        let exe = std::env::current_exe().map_err(|e| Error::io("cannot find", "keyward", e))?;
        let path = git::install_hook(&repo, &exe)?;
        ctx.out.done(&format!("installed {}: commits that add a secret are refused", path.display()));
        return Ok(Outcome::Success);
    }
    let settings = Settings::discover(args.config.as_deref(), &cwd)?;
    let config = Config::load()?;
    let registry = config.registry();
    let mut notes = Vec::new();
    let (engine, vault_opened) = engine(&args, registry, ctx, &mut notes)?;
    let scanner = Scanner::new(engine, !settings.rule_allowed(crate::scan::generic::RULE));

    let mut stats = Stats::default();
    let mut found = if args.git || args.staged {
        let repo = git::toplevel(&cwd)?;
        let blobs = if args.staged { git::staged(&repo)? } else { git::history(&repo, args.since.as_deref())? };
        scan_blobs(&scanner, &repo, blobs, threads(&args), &settings, &mut stats, ctx)?
    } else {
        scan_paths(&scanner, &args, &cwd, &settings, &mut stats, ctx)?
    };

    // Suppressions: inline markers were dropped while scanning; disabled rules and accepted
    // fingerprints here (not for --baseline, which records every finding).
    let before = found.len();
    found.retain(|f| !settings.rule_allowed(&f.finding.rule));
    if args.baseline.is_none() {
        found.retain(|f| !settings.fingerprint_allowed(&f.finding.fingerprint));
    }
    stats.suppressed += (before - found.len()) as u64;
    found.sort_by(|a, b| {
        (&a.finding.path, a.finding.line, a.finding.column).cmp(&(&b.finding.path, b.finding.line, b.finding.column))
    });

    if let Some(path) = &args.baseline {
        let new: Vec<(String, String)> = found
            .iter()
            .map(|f| {
                (f.finding.fingerprint.clone(), format!("{}:{} {}", f.finding.path, f.finding.line, f.finding.rule))
            })
            .collect();
        let existing = match Settings::discover(Some(path), &cwd) {
            Ok(s) => s,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Settings::discover(None, &cwd)?
            }
            Err(e) => return Err(e),
        };
        let mode = std::fs::metadata(path)
            .map_or(0o644, |m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777);
        crate::files::write_atomic_mode(path, settings::baseline_text(&existing, &new).as_bytes(), mode)?;
        ctx.out.done(&format!("wrote {} fingerprint(s) to {}", new.len(), path.display()));
        return Ok(Outcome::Success);
    }

    if args.verify {
        verify(&mut found, registry, &config, ctx);
    }
    if vault_opened {
        let event = crate::audit::Event::new("scan").details(
            serde_json::json!({"findings": found.len(), "files": stats.files, "git": args.git, "staged": args.staged}),
        );
        ctx.audit(event, false)?;
    }
    let findings: Vec<Finding> = found
        .into_iter()
        .map(|mut f| {
            if let (Some(p), Some(kind)) = (f.provider.as_deref().and_then(|id| registry.get(id)), &f.finding.kind) {
                f.finding.kind = Some(format!("{} {kind}", p.name));
            }
            f.finding
        })
        .collect();
    for note in &notes {
        ctx.out.notice(note);
    }
    let format = if ctx.out.json { ScanFormat::Json } else { args.format };
    match format {
        ScanFormat::Table => table(&ctx.out, &findings, &stats, args.git, args.verify),
        ScanFormat::Json => ctx.out.json(&report::json_document(&findings, &stats, &notes)),
        ScanFormat::Sarif => ctx.out.json(&report::sarif(&findings, |id| rule_help(registry, id))),
    }
    Ok(if findings.is_empty() || args.exit_zero { Outcome::Success } else { Outcome::ChecksFailed })
}

/// The engine: the vault's values (unless --no-known, or when the vault cannot be opened: a
/// note, not an error) and every provider pattern.
fn engine(args: &ScanArgs, registry: &Registry, ctx: &Context, notes: &mut Vec<String>) -> Result<(Engine, bool)> {
    let vault = if args.no_known {
        None
    } else {
        match ctx.open() {
            Ok(v) => Some(v),
            Err(e @ (Error::VaultNotFound { .. } | Error::CannotUnlock { .. } | Error::KeyringUnavailable { .. })) => {
                notes.push(format!("known values not searched: {e}"));
                None
            }
            Err(e) => return Err(e),
        }
    };
    let opts = Options { style: Style::Partial, min_length: KNOWN_MIN_LENGTH };
    Ok((Engine::for_vault(vault.as_ref(), Some(registry), opts)?, vault.is_some()))
}

fn rule_help(registry: &Registry, id: &str) -> String {
    match id {
        crate::scan::KNOWN_RULE => "A value stored in the keyward vault".into(),
        crate::scan::generic::RULE => "A high-entropy value assigned to a key-like name".into(),
        _ => registry.get(id).map_or_else(|| id.to_owned(), |p| format!("A {} key", p.name)),
    }
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
            encoding: raw.decoded.map(super::super::scan::decode::Encoding::as_str),
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
}

fn threads(args: &ScanArgs) -> usize {
    args.threads.map_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get), usize::from)
}

/// Walks the paths as ripgrep does (ignore files, hidden files skipped) on every core.
fn scan_paths(
    scanner: &Scanner,
    args: &ScanArgs,
    cwd: &Path,
    settings: &Settings,
    stats: &mut Stats,
    ctx: &Context,
) -> Result<Vec<Found>> {
    let paths: Vec<PathBuf> = if args.paths.is_empty() { vec![PathBuf::from(".")] } else { args.paths.clone() };
    for p in &paths {
        if std::fs::symlink_metadata(p).is_err() {
            return Err(Error::Usage(format!("{}: no such file or directory", p.display())));
        }
    }
    let all = args.all_files;
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
        .threads(threads(args))
        .filter_entry(|e| e.file_name() != ".git");
    let results: Mutex<Vec<Found>> = Mutex::new(Vec::new());
    let counts = Counters::default();
    let warnings: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let bar = ctx.out.progress(0, "{spinner} scanned {pos} files {elapsed}");
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
                    if let Some(bar) = &bar {
                        bar.inc(1);
                    }
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
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    for w in warnings.into_inner().expect("walk finished") {
        ctx.out.warn(&crate::output::sanitize(&w));
    }
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    stats.files += load(&counts.files);
    stats.bytes += load(&counts.bytes);
    stats.skipped_binary += load(&counts.binary);
    stats.suppressed += load(&counts.suppressed);
    stats.errors += load(&counts.errors);
    Ok(results.into_inner().expect("walk finished"))
}

/// Scans git blobs: read in order through one `git cat-file`, scanned on every core. A finding
/// is reported once per path, rule and value: at the commit that introduced it.
fn scan_blobs(
    scanner: &Scanner,
    repo: &Path,
    blobs: Vec<BlobRef>,
    threads: usize,
    settings: &Settings,
    stats: &mut Stats,
    ctx: &Context,
) -> Result<Vec<Found>> {
    let blobs: Vec<BlobRef> =
        blobs.into_iter().filter(|b| !settings.path_allowed(&settings.relative(&repo.join(&b.path)))).collect();
    let mut reader = git::Blobs::open(repo, blobs.iter().map(|b| b.blob.clone()).collect())?;
    let per_blob: Mutex<Vec<(usize, Vec<RawFinding>)>> = Mutex::new(Vec::new());
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, Vec<u8>)>(threads * 2);
    let rx = Mutex::new(rx);
    let binary = AtomicU64::new(0);
    let bar = ctx.out.progress(0, "{spinner} scanned {pos} files {elapsed}");
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
                    if let Some(bar) = &bar {
                        bar.inc(1);
                    }
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
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
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

/// Asks each provider about the keys found, each distinct key once, a few at a time.
fn verify(found: &mut [Found], registry: &Registry, config: &Config, ctx: &Context) {
    let mut index: HashMap<String, usize> = HashMap::new();
    // Each distinct key once: (provider, value).
    let mut targets: Vec<(String, SecretValue)> = Vec::new();
    let mut of_finding = Vec::with_capacity(found.len());
    for f in found.iter() {
        let provider = f.provider.clone().or_else(|| registry.detect(&f.value).map(|(p, _)| p.id.clone()));
        let Some(provider) = provider else {
            of_finding.push(None);
            continue;
        };
        let key = settings::fingerprint(&provider, "", &f.value);
        let t = *index.entry(key).or_insert_with(|| {
            targets.push((provider.clone(), SecretValue::new(f.value.to_string())));
            targets.len() - 1
        });
        of_finding.push(Some(t));
    }
    let keys: Vec<(&str, &str, Option<&str>)> = targets.iter().map(|(p, v)| (p.as_str(), v.expose(), None)).collect();
    let checker = Checker::new(config.timeout, VERIFY_CONCURRENCY, crate::clock::unix_now);
    let outcomes = ctx.check_online(&checker, registry, &keys, VERIFY_CONCURRENCY);
    let mut verdicts: Vec<Option<(Verdict, String)>> = vec![None; targets.len()];
    for (t, outcome) in outcomes {
        let worse = verdicts[t].as_ref().is_none_or(|(v, _)| outcome.verdict.severity() > v.severity());
        if worse {
            verdicts[t] = Some((outcome.verdict, format!("{}: {}", outcome.check, outcome.detail)));
        }
    }
    for (f, t) in found.iter_mut().zip(of_finding) {
        let verdict = match t {
            Some(t) => verdicts[t].clone().unwrap_or((Verdict::Unknown, "the provider has no online check".into())),
            None => (Verdict::Unknown, "no provider to ask".into()),
        };
        f.finding.verdict = Some(verdict.0);
        f.finding.verdict_detail = Some(verdict.1);
    }
}

/// The findings as a table, and a summary line.
fn table(out: &Output, findings: &[Finding], stats: &Stats, git: bool, verify: bool) {
    if findings.is_empty() {
        out.done(&format!("no secrets found ({}, {})", report::plural(stats.files, "file"), report::size(stats.bytes)));
        return;
    }
    let mut header = vec!["LOCATION", "RULE", "WHAT", "PREVIEW"];
    if git {
        header.push("COMMIT");
    }
    if verify {
        header.push("VERDICT");
    }
    let mut t = out.table(&header);
    for f in findings {
        let mut row = vec![format!("{}:{}:{}", f.path, f.line, f.column), f.rule.clone(), f.what(), f.preview.clone()];
        if git {
            row.push(f.commit.as_ref().map_or_else(|| "-".into(), |c| c.id.chars().take(12).collect()));
        }
        if verify {
            row.push(f.verdict.map_or("-", Verdict::as_str).to_owned());
        }
        t.add_row(row);
    }
    out.print_table(&t);
    out.notice(&format!(
        "{} in {} ({}){}",
        report::plural(findings.len() as u64, "finding"),
        report::plural(stats.files, "file"),
        report::size(stats.bytes),
        if stats.suppressed > 0 { format!(", {} suppressed", stats.suppressed) } else { String::new() }
    ));
}
