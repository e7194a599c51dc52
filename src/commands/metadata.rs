//! Turning the metadata flags of `add` and `update` into validated metadata.

use crate::cli::MetadataArgs;
use crate::error::{Error, Result};
use crate::parse;
use crate::vault::payload::Records;
use crate::vault::secret::{Metadata, check_name, ext, validate_var};

pub(super) use crate::vault::secret::ext::PAIRED_WITH;

fn check<T>(what: &'static str, value: &str, result: std::result::Result<T, String>) -> Result<T> {
    result.map_err(|reason| Error::invalid(what, value, reason))
}

pub(super) fn env(value: &str) -> Result<String> {
    check("environment", value, parse::environment(value))
}

pub(super) fn var(value: &str) -> Result<String> {
    check("variable name", value, validate_var(value).map(|()| value.to_owned()).map_err(str::to_owned))
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Applies every flag that was given to `meta`. Returns whether anything changed.
pub(super) fn apply(args: &MetadataArgs, meta: &mut Metadata, now: i64) -> Result<bool> {
    let before = meta.clone();
    if let Some(p) = &args.provider {
        let p = p.trim().to_ascii_lowercase();
        let ok = !p.is_empty() && p.len() <= 40 && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !ok {
            return Err(Error::invalid("provider id", p, "expected letters, digits, '-' or '_'"));
        }
        meta.provider = Some(p);
    }
    if let Some(e) = &args.expires {
        meta.expires = if e.trim() == "never" { None } else { Some(check("expiry", e, parse::expiry(e, now))?) };
    }
    if let Some(r) = &args.rotate_every {
        meta.rotate_every = check("rotation period", r, parse::optional_duration(r))?;
    }
    for s in &args.scopes {
        push_unique(&mut meta.scopes, check("scope", s, parse::text(s, 200))?);
    }
    for ip in &args.allow_ips {
        push_unique(&mut meta.allow_ips, check("address or network", ip, parse::cidr(ip))?);
    }
    for o in &args.allow_origins {
        push_unique(&mut meta.allow_origins, check("origin", o, parse::origin(o))?);
    }
    if let Some(r) = &args.rate_limit {
        meta.rate_limit = Some(check("rate limit", r, parse::rate_limit(r))?);
    }
    for t in &args.tags {
        let tag = check("tag", t, parse::text(t, 64))?;
        if tag.is_empty() || tag.contains(char::is_whitespace) {
            return Err(Error::invalid("tag", t, "a tag is one word"));
        }
        push_unique(&mut meta.tags, tag);
    }
    if let Some(n) = &args.note {
        let note = check("note", n, parse::text(n, 1000))?;
        meta.note = (!note.is_empty()).then_some(note);
    }
    if let Some(p) = &args.paired_with {
        check_name(p)?;
        meta.ext.insert(ext::PAIRED_WITH.into(), p.clone());
    }
    let changed = *meta != before;
    if changed {
        meta.updated = now;
    }
    Ok(changed)
}

/// Refuses a second secret with the same variable in the same environment.
pub(super) fn check_var_conflict(
    records: &crate::vault::payload::Records,
    name: &str,
    var: &str,
    env: Option<&str>,
) -> Result<()> {
    if let Some(other) = records.records.iter().find(|r| r.name != name && r.var == var && r.env.as_deref() == env) {
        return Err(Error::VarConflict {
            var: var.to_owned(),
            env: env.unwrap_or("(none)").to_owned(),
            other: other.name.clone(),
        });
    }
    Ok(())
}

/// The secret named by --paired-with must exist and be another secret.
pub(super) fn check_paired(records: &Records, name: &str, meta: &Metadata) -> Result<()> {
    let Some(paired) = meta.ext.get(ext::PAIRED_WITH) else { return Ok(()) };
    if paired == name {
        return Err(Error::invalid("--paired-with", paired, "a secret cannot be paired with itself"));
    }
    if records.position(paired).is_none() {
        return Err(Error::SecretNotFound { name: paired.clone() });
    }
    Ok(())
}

/// Checks a provider id against the registry (the built-in providers and the config's).
pub(super) fn check_provider(registry: &crate::providers::Registry, meta: &Metadata) -> Result<()> {
    match &meta.provider {
        Some(id) if registry.get(id).is_none() => Err(Error::UnknownProvider { id: id.clone() }),
        _ => Ok(()),
    }
}
