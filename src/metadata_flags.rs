//! Turning the metadata flags of `add` and `update` into validated metadata.

use crate::cli::MetadataArgs;
use crate::error::{Error, Result};
use crate::parse;
use crate::vault::secret::{Metadata, check_name, ext, validate_var};

pub(crate) use crate::vault::secret::ext::PAIRED_WITH;

fn check<T>(what: &'static str, value: &str, result: std::result::Result<T, String>) -> Result<T> {
    result.map_err(|reason| Error::invalid(what, value, reason))
}

pub(crate) fn env(value: &str) -> Result<String> {
    check("environment", value, parse::environment(value))
}

pub(crate) fn var(value: &str) -> Result<String> {
    check("variable name", value, validate_var(value).map(|()| value.to_owned()).map_err(str::to_owned))
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

/// Applies every flag that was given to `meta`. Returns whether anything changed.
pub(crate) fn apply(args: &MetadataArgs, meta: &mut Metadata, now: i64) -> Result<bool> {
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
    if let Some(r) = &args.remote {
        let r = check("remote name", r, parse::label(r))?;
        meta.ext.insert(ext::REMOTE.into(), r);
    }
    let changed = *meta != before;
    if changed {
        meta.updated = now;
    }
    Ok(changed)
}

/// Checks a provider id against the registry (the built-in providers and the config's).
pub(crate) fn check_provider(registry: &crate::providers::Registry, meta: &Metadata) -> Result<()> {
    match &meta.provider {
        Some(id) if registry.get(id).is_none() => Err(Error::UnknownProvider { id: id.clone() }),
        _ => Ok(()),
    }
}
