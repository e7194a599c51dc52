//! `audit report`: totals over a period and findings, each fail / warn / info.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Entry;
use crate::parse;
use crate::providers::{Class, Registry};
use crate::rotation;
use crate::vault::secret::Secret;

/// Events that count as using a secret's value.
const USE_EVENTS: [&str; 5] = ["get", "exec", "export", "inject", "mask"];
/// An online check record needs this many verdicts before its failure rate counts.
const MIN_CHECKS: usize = 10;
const EXPIRY_WARNING: i64 = 14 * 86_400;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub secret: String,
    pub kind: &'static str,
    pub message: String,
}

#[derive(Debug, Serialize, Default)]
pub struct Totals {
    pub events: usize,
    /// Unauthenticated lines: anyone who can write the log can add one, so they count only as
    /// failed unlocks, never as events, uses or verdicts.
    pub failed_unlocks: usize,
    pub by_event: BTreeMap<String, usize>,
    pub by_secret: BTreeMap<String, usize>,
    pub by_actor: BTreeMap<String, usize>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub since: Option<String>,
    pub until: Option<String>,
    pub totals: Totals,
    pub findings: Vec<Finding>,
}

/// The secrets an entry is about: its `secret`, or the list in its details (exec, export, ...).
pub fn secrets_of(entry: &Entry) -> Vec<String> {
    let mut names: Vec<String> = entry.secret.iter().cloned().collect();
    if let Some(list) = entry.details.get("secrets").and_then(|s| s.as_array()) {
        names.extend(list.iter().filter_map(|v| v.as_str().map(str::to_owned)));
    }
    names
}

/// Uses of each secret: (count, last time), from the whole log.
pub fn usage(entries: &[Entry]) -> BTreeMap<String, (usize, i64)> {
    let mut usage: BTreeMap<String, (usize, i64)> = BTreeMap::new();
    for e in entries.iter().filter(|e| !e.unauthenticated && USE_EVENTS.contains(&e.event.as_str())) {
        let t = parse::parse_time(&e.time).unwrap_or(0);
        for name in secrets_of(e) {
            let slot = usage.entry(name).or_insert((0, 0));
            slot.0 += 1;
            slot.1 = slot.1.max(t);
        }
    }
    usage
}

pub fn build(
    entries: &[Entry],
    secrets: &[Secret],
    registry: &Registry,
    now: i64,
    unused_days: u32,
    since: Option<i64>,
    until: Option<i64>,
) -> Report {
    let in_period = |e: &Entry| {
        let t = parse::parse_time(&e.time).unwrap_or(0);
        since.is_none_or(|s| t >= s) && until.is_none_or(|u| t <= u)
    };
    let failed_unlocks =
        entries.iter().filter(|e| e.unauthenticated && e.event == super::UNLOCK_FAILED && in_period(e)).count();
    let period: Vec<&Entry> = entries.iter().filter(|e| !e.unauthenticated && in_period(e)).collect();
    let mut totals = Totals { events: period.len(), failed_unlocks, ..Default::default() };
    for e in &period {
        *totals.by_event.entry(e.event.clone()).or_default() += 1;
        *totals.by_actor.entry(e.actor.clone()).or_default() += 1;
        for name in secrets_of(e) {
            *totals.by_secret.entry(name).or_default() += 1;
        }
    }

    let usage = usage(entries);
    // Online verdicts per secret, from validate events in the period.
    let mut checks: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for e in period.iter().filter(|e| e.event == "validate") {
        for (name, verdict) in e.details.get("online").and_then(|o| o.as_object()).into_iter().flatten() {
            let slot = checks.entry(name.clone()).or_default();
            slot.0 += 1;
            if verdict == "invalid" {
                slot.1 += 1;
            }
        }
    }

    let mut findings = Vec::new();
    let mut add = |severity, secret: &str, kind, message: String| {
        findings.push(Finding { severity, secret: secret.to_owned(), kind, message });
    };
    for s in secrets {
        let Some(current) = s.current() else { continue };
        let last_use = usage.get(&s.name).map_or(current.created.max(s.body.meta.created), |u| u.1);
        if now - last_use > i64::from(unused_days) * 86_400 {
            let days = (now - last_use) / 86_400;
            add(Severity::Warn, &s.name, "unused", format!("not used for {days} days: remove it if nothing needs it"));
        }
        if let Some(&(total, failed)) = checks.get(&s.name)
            && total >= MIN_CHECKS
            && failed * 2 > total
        {
            add(
                Severity::Fail,
                &s.name,
                "failing-checks",
                format!("{failed} of {total} online checks found it invalid"),
            );
        }
        if let Some(due) = rotation::due_at(s)
            && due < now
        {
            add(Severity::Fail, &s.name, "rotation-overdue", format!("rotation was due at {}", parse::time(due)));
        }
        match s.body.meta.expires {
            Some(at) if at <= now => add(Severity::Fail, &s.name, "expired", format!("expired at {}", parse::time(at))),
            Some(at) if at - now <= EXPIRY_WARNING => {
                add(Severity::Warn, &s.name, "expiring", format!("expires at {}", parse::time(at)));
            }
            _ => {}
        }
        if let Some(deadline) = rotation::grace_deadline(s) {
            add(
                Severity::Info,
                &s.name,
                "grace",
                format!("the previous value is served until {}", parse::time(deadline)),
            );
        }
        let provider = s.body.meta.provider.as_deref().and_then(|id| registry.get(id));
        if let (Some(p), Some(env)) = (provider, &s.env)
            && env != "prod"
            && p.classify(current.value.expose()) == Class::Live
        {
            add(Severity::Fail, &s.name, "live-in-non-prod", format!("a live {} key in {env}", p.name));
        }
    }
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then_with(|| a.secret.cmp(&b.secret)));
    Report { since: since.map(parse::time), until: until.map(parse::time), totals, findings }
}
