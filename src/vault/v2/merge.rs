//! Three-way merge of format 2 vault texts by secret: what `keyward git merge-driver` runs.
//!
//! A domain only one side changed is taken from it as it is. A domain both sides changed under
//! the same key and recipients is merged secret by secret — a secret changed on one side takes
//! that side's line; one changed on both is merged by version and field ([`secret`]), theirs kept
//! beside ours where they clash — and re-sealed with the merger's key of it, after both sides'
//! blocks authenticate (a branch is anyone's writing: a forged line is refused, never vouched
//! for). `@default`'s settings merge by key. Members changed on both sides, a domain re-keyed or
//! re-membered on one side, or a setting changed differently on both sides is a
//! [`Merged::Conflict`] naming why; nothing is lost because nothing is written.

use std::collections::{BTreeMap, BTreeSet};

use super::text::{self, ALL, DEFAULT, Document, Domain, PrintSecret};
use super::vault::{Settings, Vault2};
use crate::error::Result;

mod replay;
pub mod secret;
use secret::SecretMerge;

/// The merge's result.
#[derive(Debug)]
pub enum Merged {
    /// The merged file, the domains merged secret by secret (re-sealed), and the secrets both
    /// sides changed differently: kept side by side, each with what happened (see
    /// [`secret::Conflict`]). git is told of a conflict while this list is not empty.
    Text { text: String, resealed: Vec<String>, conflicts: Vec<(String, String)> },
    /// Why the sides cannot be merged by secret.
    Conflict(String),
}

/// The merger's keys: the vault opened from ours and from theirs with the same credential
/// (`None` when this machine cannot open it).
pub struct Keys<'a> {
    pub base: Option<&'a Vault2>,
    pub ours: Option<&'a Vault2>,
    pub theirs: Option<&'a Vault2>,
    /// The time of the merge (unix seconds), for the marks it leaves.
    pub now: i64,
}

/// Whether a side's version of a secret is no older than the common ancestor's: a line copied
/// from history (it still authenticates: the same key sealed it) must not be vouched for again.
/// Compromise and exposure marks are sticky: a side may only keep or renew them.
fn not_older(side: &crate::vault::secret::Secret, base: Option<&crate::vault::secret::Secret>, base_time: i64) -> bool {
    use crate::vault::secret::ext::{COMPROMISED, EXPOSED};
    let exposed_at =
        |s: &crate::vault::secret::Secret| s.body.meta.ext.get(EXPOSED).map(|m| crate::rotation::mark_time(m));
    match base {
        Some(b) => {
            side.body.next_version >= b.body.next_version
                && side.body.meta.updated >= b.body.meta.updated
                && (!b.body.meta.ext.contains_key(COMPROMISED) || side.body.meta.ext.contains_key(COMPROMISED))
                && exposed_at(side) >= exposed_at(b)
        }
        None => side.body.meta.updated >= base_time,
    }
}

/// A secret a side carries with an unresolved merge conflict in it: a branch committed a
/// conflict without resolving it, or planted one. Either way it is that branch's to resolve.
fn carries_conflict(side: &Vault2, name: &str) -> Result<bool> {
    Ok(side.find(name)?.is_some_and(|s| s.body.meta.ext.contains_key(secret::CONFLICT)))
}

/// A domain's block as text. The sides of a merge are git's blobs, read into memory: their bytes
/// cannot change, and nothing is checked as it is copied.
fn block(doc: &Document, d: &Domain) -> Vec<u8> {
    let mut out = Vec::new();
    let secrets = d.secrets.iter().map(|s| PrintSecret {
        name: doc.secret_name(s),
        var: doc.secret_var(s),
        sealed: doc.sealed_text(s),
        tag: None,
    });
    let _unchecked = text::print_domain(&mut out, &d.head, secrets);
    out
}

fn lines<'d>(doc: &'d Document, d: Option<&'d Domain>) -> BTreeMap<&'d str, (&'d str, &'d [u8])> {
    let Some(d) = d else { return BTreeMap::new() };
    d.secrets.iter().map(|s| (doc.secret_name(s), (doc.secret_var(s), doc.sealed_text(s)))).collect()
}

fn doc_of<'d>(side: &str, ours: &'d Document, theirs: &'d Document) -> &'d Document {
    if side == "theirs" { theirs } else { ours }
}

fn order(name: &str) -> (u8, &str) {
    match name {
        ALL => (0, ""),
        DEFAULT => (1, ""),
        other => (2, other),
    }
}

/// Merges `ours` and `theirs` against their common ancestor `base`.
pub fn merge(base: &Document, ours: &Document, theirs: &Document, keys: &Keys<'_>) -> Result<Merged> {
    let conflict = |why: String| Ok(Merged::Conflict(why));
    if ours.id != theirs.id || ours.id != base.id {
        return conflict("the sides are different vaults (another vault id)".into());
    }
    if ours.created != theirs.created || ours.created != base.created {
        return conflict("the sides are different vaults (another creation time)".into());
    }
    if ours.slots != theirs.slots {
        return replay::replay(base, ours, theirs, keys, "members or key slots differ between the sides");
    }
    // A side that changed @all (a re-key: every grant is re-made) must be the side every other
    // changed domain comes from, or grants under two different @all keys would be mixed.
    let all_changed =
        |doc: &Document| doc.domain(ALL).map(|d| block(doc, d)) != base.domain(ALL).map(|d| block(base, d));
    let (ours_all, theirs_all) = (all_changed(ours), all_changed(theirs));
    let mut names: Vec<&str> = ours
        .domains
        .iter()
        .chain(&theirs.domains)
        .map(|d| d.head.name.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    names.sort_by_key(|n| order(n));
    let mut out = Vec::new();
    text::print_header(&mut out, &ours.id, ours.created, &ours.slots);
    let mut resealed = Vec::new();
    let mut conflicts = Vec::new();
    for name in names {
        let (mine, other, was) = (ours.domain(name), theirs.domain(name), base.domain(name));
        let (tm, to, tw) = (mine.map(|d| block(ours, d)), other.map(|d| block(theirs, d)), was.map(|d| block(base, d)));
        let from_ours = tm != to && to == tw;
        let from_theirs = tm != to && tm == tw;
        if (from_ours && theirs_all && name != ALL) || (from_theirs && ours_all && name != ALL) {
            let why = format!("@all was re-keyed on one side and {name} changed on the other");
            return replay::replay(base, ours, theirs, keys, &why);
        }
        if tm == to || from_ours || from_theirs {
            let changed = tm != to;
            let (side, doc_vault, block_text, d) =
                if from_theirs { ("theirs", keys.theirs, to, other) } else { ("ours", keys.ours, tm, mine) };
            // Taken as it is: it must authenticate here (when this machine holds it) and not go
            // back to an older generation than the common ancestor's.
            if let (Some(d), Some(w)) = (d, was)
                && d.head.generation < w.head.generation
            {
                return conflict(format!("{name} on {side} is an older generation than the common ancestor's"));
            }
            if let Some(v) = doc_vault
                && v.holds(name)
                && changed
            {
                v.domain_key(name)?;
                // A fresh key wrapped to the same recipients authenticates too: it must be the
                // ancestor's key or one the ancestor's key vouches for.
                if let Some(w) = was
                    && !v.descends_from(name, &w.head)?
                {
                    return conflict(format!(
                        "{name} on {side} is under a key the common ancestor's does not vouch for (replaced, not re-keyed)"
                    ));
                }
                if let Some(d) = d {
                    let before = lines(base, was);
                    let mut base_time: Option<i64> = None;
                    for line in &d.secrets {
                        let secret_name = doc_of(side, ours, theirs).secret_name(line);
                        let now = Some((
                            doc_of(side, ours, theirs).secret_var(line),
                            doc_of(side, ours, theirs).sealed_text(line),
                        ));
                        if now == before.get(secret_name).copied() {
                            continue;
                        }
                        if carries_conflict(v, secret_name)? {
                            return conflict(format!(
                                "{secret_name} on {side} carries an unresolved merge conflict: resolve it there first"
                            ));
                        }
                        // Newer than the ancestor's, not a line copied from history.
                        if let Some(kb) = keys.base.filter(|kb| kb.holds(name))
                            && let Some(now) = v.find(secret_name)?
                        {
                            let was_secret = kb.find(secret_name)?;
                            // The ancestor's latest update in this domain, worked out once.
                            if base_time.is_none() {
                                let mut latest = i64::MIN;
                                for l in was.map(|w| w.secrets.as_slice()).unwrap_or_default() {
                                    if let Some(s) = kb.find(base.secret_name(l))? {
                                        latest = latest.max(s.body.meta.updated);
                                    }
                                }
                                base_time = Some(latest);
                            }
                            if !not_older(&now, was_secret.as_ref(), base_time.unwrap_or(i64::MIN)) {
                                return conflict(format!(
                                    "{secret_name} on {side} is older than the common ancestor's (a line from history?)"
                                ));
                            }
                        }
                    }
                }
            }
            out.extend_from_slice(&block_text.unwrap_or_default());
            continue;
        }
        let (Some(mine), Some(other)) = (mine, other) else {
            return conflict(format!("{name} was made on both sides"));
        };
        let (mut hm, mut ho) = (mine.head.clone(), other.head.clone());
        hm.seal = [0; 32];
        ho.seal = [0; 32];
        let settings_differ = hm.settings != ho.settings;
        hm.settings = None;
        ho.settings = None;
        if hm != ho {
            let why = format!("{name} was re-keyed, or its recipients changed, on one side");
            return replay::replay(base, ours, theirs, keys, &why);
        }
        let (lm, lo, lw) = (lines(ours, Some(mine)), lines(theirs, Some(other)), lines(base, was));
        let mut merged: Vec<(String, String, Vec<u8>)> = Vec::new();
        let mut clashes = Vec::new();
        for secret in lm.keys().chain(lo.keys()).copied().collect::<BTreeSet<&str>>() {
            let (m, o, w) = (lm.get(secret), lo.get(secret), lw.get(secret));
            let pick = if m == o || o == w {
                m
            } else if m == w {
                o
            } else {
                clashes.push(secret);
                continue;
            };
            if let Some((var, sealed)) = pick {
                merged.push((secret.to_owned(), (*var).to_owned(), (*sealed).to_owned()));
            }
        }
        let Some(kb) = keys.base else {
            return conflict(format!("{name} changed on both sides, and this machine cannot open the common ancestor"));
        };
        let (Some(kv), Some(kt)) = (keys.ours, keys.theirs) else {
            return conflict(format!(
                "{name} changed on both sides, and this machine cannot open the vault to re-seal it"
            ));
        };
        if !kv.holds(name) {
            return conflict(format!("{name} changed on both sides and needs someone who holds it to merge"));
        }
        // Both blocks authenticate under the key this machine holds, or nothing is vouched for.
        kv.domain_key(name)?;
        kt.domain_key(name)?;
        // Every line a side changed must be that side's own newer work, not history.
        let mut base_time = i64::MIN;
        for n in lw.keys() {
            if let Some(s) = kb.find(n)? {
                base_time = base_time.max(s.body.meta.updated);
            }
        }
        let newer = |side: &Vault2, secret: &str| -> Result<bool> {
            let (Some(now), was_secret) = (side.find(secret)?, kb.find(secret)?) else { return Ok(true) };
            Ok(not_older(&now, was_secret.as_ref(), base_time))
        };
        let history = |secret: &str| {
            conflict(format!("{secret} on one side is older than the common ancestor's (a line from history?)"))
        };
        for (secret, var, sealed) in &merged {
            let line = Some((var.as_str(), sealed.as_slice()));
            if line == lw.get(secret.as_str()).copied() {
                continue;
            }
            let side = if line == lm.get(secret.as_str()).copied() { kv } else { kt };
            if !newer(side, secret)? {
                return history(secret);
            }
            if carries_conflict(side, secret)? {
                return conflict(format!(
                    "{secret} carries an unresolved merge conflict: resolve it on its branch first"
                ));
            }
        }
        // Both sides changed these: merged field by field, or kept side by side as a conflict.
        for secret in clashes {
            if !newer(kv, secret)? || !newer(kt, secret)? {
                return history(secret);
            }
            let (was_secret, mine_secret, other_secret) = (kb.find(secret)?, kv.find(secret)?, kt.find(secret)?);
            let result = match secret::merge(was_secret.as_ref(), mine_secret.as_ref(), other_secret.as_ref()) {
                SecretMerge::Deleted => continue,
                SecretMerge::Refused(why) => return conflict(why),
                SecretMerge::Clean(s) => s,
                SecretMerge::Conflict(s) => {
                    let why = secret::Conflict::of(&s).map(|c| c.describe()).unwrap_or_default();
                    conflicts.push((secret.to_owned(), why));
                    s
                }
            };
            merged.push((result.name.clone(), result.var.clone(), kv.seal_secret(name, &result)?.into_bytes()));
        }
        merged.sort_by(|a, b| a.0.cmp(&b.0));
        let mut head = mine.head.clone();
        if settings_differ {
            let read = |d: Option<&Domain>| -> Result<Settings> {
                match d.and_then(|d| d.head.settings.as_ref()) {
                    Some(sealed) => kv.open_settings(name, sealed),
                    None => Ok(Settings::default()),
                }
            };
            let (sm, so, sw) = (read(Some(mine))?, read(Some(other))?, read(was)?);
            match merge_settings(&sm.0, &so.0, &sw.0) {
                Ok(settings) => {
                    head.settings = (name == DEFAULT || !settings.0.is_empty())
                        .then(|| kv.seal_settings(name, &settings))
                        .transpose()?;
                }
                Err(key) => return conflict(format!("the vault setting {key} changed differently on both sides")),
            }
        }
        let lines: Vec<(&str, &str, &[u8])> =
            merged.iter().map(|(n, v, s)| (n.as_str(), v.as_str(), s.as_slice())).collect();
        head.seal = kv.seal_for(&head, &lines)?;
        let secrets = lines.iter().map(|(n, v, s)| PrintSecret { name: n, var: v, sealed: s, tag: None });
        let _unchecked = text::print_domain(&mut out, &head, secrets);
        resealed.push(name.to_owned());
    }
    text::print_end(&mut out);
    // A name both sides added in different domains is damage in the result: a conflict.
    if let Err(e) = text::parse(&out) {
        return conflict(format!("the merged file would not read back ({e:?})"));
    }
    let Ok(text) = String::from_utf8(out) else { return conflict("the merged file would not be UTF-8".into()) };
    Ok(Merged::Text { text, resealed, conflicts })
}

/// Three-way merge of `@default`'s settings by key. The earliest grace deadline wins when both
/// sides moved it (a sweep then finds every due grace period); any other key changed differently
/// on both sides is a conflict (its name is returned).
fn merge_settings<'a>(
    ours: &'a [(String, String)],
    theirs: &'a [(String, String)],
    base: &'a [(String, String)],
) -> std::result::Result<Settings, String> {
    // Borrowed, not copied: the values include the audit secret.
    let get = |s: &'a [(String, String)], k: &str| s.iter().find(|(x, _)| x == k).map(|(_, v)| v);
    let mut keys: Vec<&String> = ours.iter().chain(theirs).map(|(k, _)| k).collect();
    keys.sort();
    keys.dedup();
    // Wiped when dropped, on the way out with a conflict too.
    let mut out = Settings::default();
    for k in keys {
        let (mine, other, was) = (get(ours, k), get(theirs, k), get(base, k));
        let v = if mine == other || other == was {
            mine
        } else if mine == was {
            other
        } else if k == crate::rotation::GRACE_NEXT {
            let earliest = [mine, other].into_iter().flatten().filter_map(|v| v.parse::<i64>().ok()).min();
            out.0.extend(earliest.map(|t| (k.clone(), t.to_string())));
            continue;
        } else {
            return Err(k.clone());
        };
        if let Some(v) = v {
            out.0.push((k.clone(), v.clone()));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
