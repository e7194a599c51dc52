//! `keyward scan`: find hardcoded keys in files, git history or the staged index.

use std::collections::HashMap;

use crate::Outcome;
use crate::cli::{ResultFilter, ScanArgs, ScanFormat};
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::mask::{Engine, Options, Style};
use crate::output::Output;
use crate::providers::Registry;
use crate::providers::check::{Checker, Verdict};
use crate::scan::Scanner;
use crate::scan::git::{self};
use crate::scan::report::{self, Finding, Stats};
use crate::scan::settings::{self, Settings};
use crate::scan::walk::{self, Found, Walk};
use crate::sensitive::SecretValue;

/// Known values shorter than this are not looked for: a stored port number or `true` would
/// match everywhere.
const KNOWN_MIN_LENGTH: usize = 8;
/// Online checks in flight at once, per run.
const VERIFY_CONCURRENCY: usize = 4;

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
    let bar = ctx.out.progress(0, "{spinner} scanned {pos} files {elapsed}");
    let progress = || {
        if let Some(bar) = &bar {
            bar.inc(1);
        }
    };
    let warn = |w: &str| ctx.out.warn(w);
    let w = Walk { scanner: &scanner, settings: &settings, threads: threads(&args), progress: &progress, warn: &warn };
    let mut found = if args.git || args.staged {
        let repo = git::toplevel(&cwd)?;
        let blobs = if args.staged { git::staged(&repo)? } else { git::history(&repo, args.since.as_deref())? };
        walk::blobs(&w, &repo, blobs, &mut stats)?
    } else {
        walk::paths(&w, &args.paths, args.all_files, &cwd, &mut stats)?
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }

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

    let filter: Vec<ResultFilter> = if args.only_verified { vec![ResultFilter::Valid] } else { args.results.clone() };
    if args.verify || !filter.is_empty() {
        verify(&mut found, registry, &config, ctx);
    }
    if !filter.is_empty() {
        let before = found.len();
        found.retain(|f| {
            let verdict = match f.finding.verdict {
                Some(Verdict::Valid) => ResultFilter::Valid,
                Some(Verdict::Invalid) => ResultFilter::Invalid,
                Some(Verdict::Unknown) => ResultFilter::Unknown,
                None => ResultFilter::Unverified,
            };
            filter.contains(&verdict)
        });
        let left_out = before - found.len();
        if left_out > 0 {
            notes.push(format!("{} left out by the verdicts asked for", report::plural(left_out as u64, "finding")));
        }
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
        ScanFormat::Table => table(&ctx.out, &findings, &stats, args.git, args.verify || !filter.is_empty()),
        ScanFormat::Json => ctx.out.json(&report::json_document(&findings, &stats, &notes)),
        ScanFormat::Sarif => ctx.out.json(&report::sarif(&findings, |id| rule_help(registry, id))),
    }
    if args.staged && !findings.is_empty() && !args.exit_zero {
        // What the pre-commit hook's refusal needs to say: the three ways past it.
        ctx.out.notice(
            "this commit adds what looks like a key: remove it; or, if it is not one, put `keyward:allow` on its line, accept today's findings with `keyward scan --baseline .keyward-scan.toml`, or commit once with `git commit --no-verify`",
        );
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
    if let Some(v) = &vault
        && !v.skipped_domains().is_empty()
    {
        let skipped = v.skipped_domains().join(", ");
        notes.push(format!("known values of {skipped} not searched: {}", v.no_access(&skipped)));
    }
    let opts = Options { style: Style::Partial, min_length: KNOWN_MIN_LENGTH, scan: true };
    Ok((Engine::for_vault(vault.as_ref(), Some(registry), opts)?, vault.is_some()))
}

fn rule_help(registry: &Registry, id: &str) -> String {
    match id {
        crate::scan::KNOWN_RULE => "A value stored in the keyward vault".into(),
        crate::scan::generic::RULE => "A high-entropy value assigned to a key-like name".into(),
        _ => registry.get(id).map_or_else(|| id.to_owned(), |p| format!("A {} key", p.name)),
    }
}

fn threads(args: &ScanArgs) -> usize {
    args.threads.map_or_else(|| std::thread::available_parallelism().map_or(2, std::num::NonZero::get), usize::from)
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
    if stats.archives > 0 {
        out.notice(&format!(
            "looked inside {}: {} scanned{}",
            report::plural(stats.archives, "archive"),
            report::plural(stats.archive_members, "member"),
            if stats.archive_skipped > 0 {
                format!(", {} skipped (see the warnings)", stats.archive_skipped)
            } else {
                String::new()
            }
        ));
    }
}
