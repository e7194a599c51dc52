//! `keyward audit`: list, report and verify the audit log. None of these appends an event.

use serde_json::json;

use crate::Outcome;
use crate::audit::{self, Log, report};
use crate::cli::{AuditArgs, AuditCommand, AuditFilter, ReportArgs};
use crate::config::Config;
use crate::context::Context;
use crate::error::{Error, Result};
use crate::output::sanitize;
use crate::parse;

pub(super) fn run(args: AuditArgs, ctx: &Context) -> Result<Outcome> {
    match args.command {
        Some(AuditCommand::Report(r)) => run_report(r, ctx),
        Some(AuditCommand::Verify) => verify(ctx),
        None => list(args, ctx),
    }
}

/// The log of the vault in use; only the vault's clear header is read.
fn log(ctx: &Context) -> Result<(Log, Config)> {
    let locked = ctx.read_locked()?;
    let config = Config::load()?;
    Ok((Log::new(audit::dir()?, &audit::log_name(&locked.id_hex(), &locked.path), config.max_segment), config))
}

fn period(filter: &AuditFilter, now: i64) -> Result<(Option<i64>, Option<i64>)> {
    let at = |s: &Option<String>, end| {
        s.as_deref().map(|v| parse::point_in_time(v, now, end).map_err(|r| Error::invalid("time", v, r))).transpose()
    };
    Ok((at(&filter.since, false)?, at(&filter.until, true)?))
}

fn list(args: AuditArgs, ctx: &Context) -> Result<Outcome> {
    let (log, _) = log(ctx)?;
    if args.path {
        if ctx.out.json {
            ctx.out.json(&json!({"log": log.path(), "head": log.head_path(), "segments": log.segments()}));
        } else {
            ctx.out.line(&log.path().display().to_string());
        }
        return Ok(Outcome::Success);
    }
    let (since, until) = period(&args.filter, ctx.now)?;
    let mut entries: Vec<audit::Entry> = log
        .read()?
        .into_iter()
        .filter(|e| {
            let t = parse::parse_time(&e.time).unwrap_or(0);
            since.is_none_or(|s| t >= s)
                && until.is_none_or(|u| t <= u)
                && args.secret_name.as_ref().is_none_or(|n| report::secrets_of(e).contains(n))
                && args.event.as_ref().is_none_or(|ev| e.event == *ev)
                && args.actor.as_ref().is_none_or(|a| e.actor == *a)
        })
        .collect();
    if let Some(limit) = args.limit {
        let skip = entries.len().saturating_sub(limit);
        entries.drain(..skip);
    }
    if args.jsonl {
        let mut text = String::new();
        for e in &entries {
            text.push_str(&serde_json::to_string(e).expect("entries serialize"));
            text.push('\n');
        }
        ctx.out.write(text.as_bytes());
    } else if ctx.out.json {
        ctx.out.json(&entries);
    } else if entries.is_empty() {
        ctx.out.notice("no events match");
    } else {
        let mut table = ctx.out.table(&["TIME", "EVENT", "SECRET", "FINGERPRINT", "ACTOR", "COMMAND"]);
        for e in &entries {
            let event = if e.unauthenticated { format!("{} (unauthenticated)", e.event) } else { e.event.clone() };
            let secret = e.secret.clone().or_else(|| {
                let names = report::secrets_of(e);
                (!names.is_empty()).then(|| names.join(","))
            });
            table.add_row(vec![
                e.time.clone(),
                sanitize(&event),
                secret.map_or("-".into(), |s| sanitize(&s)),
                e.fp.clone().unwrap_or_else(|| "-".into()),
                sanitize(&e.actor),
                sanitize(&e.command),
            ]);
        }
        ctx.out.print_table(&table);
    }
    Ok(Outcome::Success)
}

fn verify(ctx: &Context) -> Result<Outcome> {
    let (log, _) = log(ctx)?;
    let vault = ctx.open()?;
    let verified = audit::verify(&log, &audit::key_chain(&vault)?)?;
    if ctx.out.json {
        ctx.out.json(&json!({"intact": true, "entries": verified.entries, "segments": verified.segments,
            "unauthenticated": verified.unauthenticated, "head_lagging": verified.head_lagging}));
    } else {
        ctx.out.line(&format!(
            "intact: {} entries in {} segment{}, {} unauthenticated (failed unlocks){}",
            verified.entries,
            verified.segments,
            if verified.segments == 1 { "" } else { "s" },
            verified.unauthenticated,
            if verified.head_lagging { "; the last append was interrupted before the head was updated" } else { "" }
        ));
    }
    Ok(Outcome::Success)
}

fn run_report(args: ReportArgs, ctx: &Context) -> Result<Outcome> {
    let (log, config) = log(ctx)?;
    let (since, until) = period(&args.filter, ctx.now)?;
    let vault = ctx.open()?;
    super::note_skipped(ctx, &vault);
    let secrets = vault.secrets()?;
    let registry = config.registry();
    // Only lines a holder of the audit key wrote (and failed unlocks) count.
    let entries = audit::read_authenticated(&log, &audit::key_chain(&vault)?)?;
    let r = report::build(&entries, &secrets, registry, ctx.now, config.unused_days, since, until);
    let failed = r.findings.iter().any(|f| f.severity == report::Severity::Fail);
    if args.notify && !r.findings.is_empty() {
        let text = format!(
            "audit report: {} finding(s), {} failing: {}",
            r.findings.len(),
            r.findings.iter().filter(|f| f.severity == report::Severity::Fail).count(),
            r.findings.iter().map(|f| format!("{} {}", f.secret, f.kind)).collect::<Vec<_>>().join("; ")
        );
        let notice = crate::notify::Notice {
            event: "audit.report".into(),
            secret: None,
            text,
            details: json!({"findings": r.findings}),
            time: parse::time(ctx.now),
        };
        ctx.notify(&config.notify, &notice);
    }
    if ctx.out.json {
        ctx.out.json(&r);
    } else {
        let mut text = format!(
            "period: {} to {}\nevents: {}\nfailed unlocks: {}\n",
            r.since.as_deref().unwrap_or("the beginning"),
            r.until.as_deref().unwrap_or("now"),
            r.totals.events,
            r.totals.failed_unlocks
        );
        for (title, map) in
            [("by event", &r.totals.by_event), ("by secret", &r.totals.by_secret), ("by actor", &r.totals.by_actor)]
        {
            let items: Vec<String> = map.iter().map(|(k, v)| format!("{} {v}", sanitize(k))).collect();
            text.push_str(&format!("{title}: {}\n", if items.is_empty() { "-".into() } else { items.join(", ") }));
        }
        ctx.out.write(text.as_bytes());
        if r.findings.is_empty() {
            ctx.out.line("findings: none");
        } else {
            let mut table = ctx.out.table(&["SEVERITY", "SECRET", "FINDING", "DETAIL"]);
            for f in &r.findings {
                let sev = match f.severity {
                    report::Severity::Fail => "FAIL",
                    report::Severity::Warn => "warn",
                    report::Severity::Info => "info",
                };
                table.add_row(vec![sev.into(), sanitize(&f.secret), f.kind.into(), sanitize(&f.message)]);
            }
            ctx.out.write(b"\n");
            ctx.out.print_table(&table);
        }
    }
    Ok(if failed { Outcome::ChecksFailed } else { Outcome::Success })
}
