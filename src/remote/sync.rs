//! Whether a secret and its copy in a remote agree, judged by version ids (no values) wherever
//! they can tell; and what a pull makes of a remote secret.
//!
//! Each push or pull leaves a sync record in the secret's metadata: the keyward version and the
//! remote version that were the same then (`remote.NAME` = `<place> <version> <remote id>`, and
//! the pending pair). Against it, a side whose current version moved is newer; both moved is
//! diverged. Without a record, a remote current that keyward pushed from this version (its keyed
//! token) is in sync, one pushed from an older version is behind, and anything else is decided by
//! comparing the values in memory. A pending value one side has and the other does not makes
//! that side newer; a different one on each side is diverged, so a pull never drops a rotation
//! under way here.

use sha2::{Digest, Sha256};

use super::{Entry, Remote, TokenKey, Upload, tag, version_token};
use crate::sensitive::SecretValue;
use crate::vault::secret::{Metadata, Secret, Stage, Version, default_var, is_startup_var, validate_var};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    InSync,
    LocalNewer,
    RemoteNewer,
    Diverged,
    OnlyHere,
    OnlyThere,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::InSync => "in sync",
            State::LocalNewer => "local newer",
            State::RemoteNewer => "remote newer",
            State::Diverged => "diverged",
            State::OnlyHere => "only here",
            State::OnlyThere => "only there",
        }
    }
}

/// A judgment, or the need to compare values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Judged {
    Known(State),
    CompareValues,
}

/// The metadata key of the sync record with remote `remote`.
pub fn record_key(remote: &str) -> String {
    format!("remote.{remote}")
}

/// What the sync record is bound to: the remote's location and environment (a remote removed and
/// added again elsewhere, with small KV version numbers, must not match an old record).
fn place(remote: &Remote) -> String {
    let at = format!("{} {}", remote.location.url(), remote.env.as_deref().unwrap_or("-"));
    data_encoding::HEXLOWER.encode(&Sha256::digest(at.as_bytes())[..4])
}

/// A sync record: (keyward version, remote version) of the current versions, and of the pending
/// ones when both sides had one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub current: (u32, String),
    pub pending: Option<(u32, String)>,
}

/// The sync record of `secret` with `remote` (`<place> <version> <remote id> [<pending> <remote
/// pending id>]`), if it is for this remote's place.
pub fn record(secret: &Secret, remote: &Remote) -> Option<Record> {
    let text = secret.body.meta.ext.get(&record_key(&remote.name))?;
    let mut fields = text.split(' ');
    if fields.next()? != place(remote) {
        return None;
    }
    let (local, there) = (fields.next()?.parse().ok()?, fields.next()?.to_owned());
    let pending = match (fields.next(), fields.next()) {
        (Some(l), Some(r)) => Some((l.parse().ok()?, r.to_owned())),
        _ => None,
    };
    Some(Record { current: (local, there), pending })
}

fn newest(secret: &Secret, stage: Stage) -> Option<&Version> {
    secret.body.versions.iter().filter(|v| v.stage == stage).max_by_key(|v| v.id)
}

fn record_text(secret: &Secret, remote: &Remote, entry: &Entry) -> Option<String> {
    let mut text = format!("{} {} {}", place(remote), secret.current()?.id, entry.current()?);
    if let (Some(p), Some(rp)) = (newest(secret, Stage::Pending), entry.id_of(Stage::Pending)) {
        text.push_str(&format!(" {} {rp}", p.id));
    }
    Some(text)
}

/// Notes that `secret` and the remote's `entry` now hold the same versions.
pub fn set_record(secret: &mut Secret, remote: &Remote, entry: &Entry) {
    if let Some(text) = record_text(secret, remote, entry) {
        secret.body.meta.ext.insert(record_key(&remote.name), text);
    }
}

/// Whether [`set_record`] would change the record (a secret found in sync without one).
pub fn needs_record(secret: &Secret, remote: &Remote, entry: &Entry) -> bool {
    record_text(secret, remote, entry).is_some_and(|t| secret.body.meta.ext.get(&record_key(&remote.name)) != Some(&t))
}

pub fn judge(key: &TokenKey, local: Option<&Secret>, entry: Option<&Entry>, remote: &Remote) -> Judged {
    let here = local.and_then(Secret::current);
    let there = entry.and_then(Entry::current);
    let (Some(secret), Some(current)) = (local, here) else {
        return Judged::Known(match (local, there) {
            (None, Some(_)) => State::OnlyThere,
            (Some(_), Some(_)) => State::Diverged,
            (_, None) => State::OnlyHere,
        });
    };
    let Some((entry, there)) = entry.zip(there) else { return Judged::Known(State::OnlyHere) };
    let token = |v: &Version| version_token(key, &secret.name, v.id, &v.value);
    let recorded = record(secret, remote);
    let pending = Pending::of(secret, entry, recorded.as_ref(), &token);
    if entry.token_of(Stage::Current) == Some(token(current).as_str()) {
        return Judged::Known(pending.state());
    }
    if let Some(r) = &recorded {
        let (local_id, remote_id) = &r.current;
        return match (current.id != *local_id, there != remote_id) {
            (false, false) => Judged::Known(pending.state()),
            (true, false) if !pending.theirs_unknown => Judged::Known(State::LocalNewer),
            // The remote moved on; a pending value here it never saw would be lost by a pull.
            (false, true) if !pending.ours_unknown => Judged::Known(State::RemoteNewer),
            _ => Judged::CompareValues,
        };
    }
    let older = secret.body.versions.iter().filter(|v| v.id < current.id);
    if older.map(token).any(|t| entry.token_of(Stage::Current) == Some(t.as_str())) && !pending.theirs_unknown {
        return Judged::Known(State::LocalNewer);
    }
    Judged::CompareValues
}

/// The pending versions of both sides, with the current versions the same.
struct Pending {
    /// Here is a pending version the remote does not have.
    ours_unknown: bool,
    /// The remote has a pending version that is none of ours.
    theirs_unknown: bool,
}

impl Pending {
    fn of(secret: &Secret, entry: &Entry, recorded: Option<&Record>, token: &dyn Fn(&Version) -> String) -> Pending {
        let (theirs_id, theirs_token) = (entry.id_of(Stage::Pending), entry.token_of(Stage::Pending));
        let recorded_pending = recorded.and_then(|r| r.pending.as_ref());
        // Ours is known there if the remote has it (its token at any stage), or had it when the
        // two last agreed (whatever the remote did with it since).
        let known_there = |v: &Version| {
            let t = token(v);
            entry.tokens.values().any(|x| *x == t) || recorded_pending.is_some_and(|(l, _)| *l == v.id)
        };
        // Theirs is known here if it is one of our versions, or the one recorded with ours.
        let known_here = |v: &Version| {
            theirs_token == Some(token(v).as_str())
                || recorded_pending.is_some_and(|(l, rid)| *l == v.id && Some(rid.as_str()) == theirs_id)
        };
        Pending {
            ours_unknown: newest(secret, Stage::Pending).is_some_and(|p| !known_there(p)),
            theirs_unknown: theirs_id.is_some() && !secret.body.versions.iter().any(known_here),
        }
    }

    /// A pending version on one side only makes that side newer; another one on each side is
    /// diverged (a rotation under way on both).
    fn state(&self) -> State {
        match (self.ours_unknown, self.theirs_unknown) {
            (false, false) => State::InSync,
            (true, false) => State::LocalNewer,
            (false, true) => State::RemoteNewer,
            (true, true) => State::Diverged,
        }
    }
}

/// One secret on both sides, judged.
pub struct Compared {
    pub name: String,
    pub state: State,
    pub local: Option<Secret>,
    pub entry: Option<Entry>,
}

/// Judges every secret of `remote`'s environment in `secrets` (only `names`, when given)
/// against the remote's listing, comparing values (in memory, concurrently) where ids cannot
/// tell.
pub fn compare(
    key: &TokenKey,
    remote: &Remote,
    backend: &dyn super::Backend,
    secrets: Vec<Secret>,
    names: &[String],
) -> Result<Vec<Compared>, super::RemoteError> {
    use std::collections::BTreeMap;
    let wanted = |n: &str| names.is_empty() || names.iter().any(|w| w == n);
    let listed: Vec<Entry> = if names.is_empty() || names.len() > 20 {
        backend.list()?
    } else {
        let found = super::parallel(names, super::CONCURRENCY, |n| backend.describe(n));
        found.into_iter().collect::<Result<Vec<_>, _>>()?.into_iter().flatten().collect()
    };
    let mut entries: BTreeMap<String, Entry> =
        listed.into_iter().filter(|e| wanted(&e.name)).map(|e| (e.name.clone(), e)).collect();
    let mut rows: Vec<Compared> = Vec::new();
    for secret in secrets.into_iter().filter(|s| s.env == remote.env && wanted(&s.name)) {
        let entry = entries.remove(&secret.name);
        rows.push(Compared { name: secret.name.clone(), state: State::InSync, local: Some(secret), entry });
    }
    rows.extend(entries.into_values().map(|e| Compared {
        name: e.name.clone(),
        state: State::InSync,
        local: None,
        entry: Some(e),
    }));
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    let judged: Vec<Judged> = rows.iter().map(|r| judge(key, r.local.as_ref(), r.entry.as_ref(), remote)).collect();
    let verdicts =
        super::parallel(&rows.iter().zip(&judged).collect::<Vec<_>>(), super::CONCURRENCY, |(row, j)| match j {
            Judged::Known(state) => Ok(*state),
            Judged::CompareValues => {
                let entry = row.entry.as_ref().expect("values are compared when both sides have one");
                let local = row.local.as_ref().expect("values are compared when both sides have one");
                let theirs = backend.fetch(entry, Stage::Current)?;
                let theirs_pending = backend.fetch(entry, Stage::Pending)?;
                let ours_pending = newest(local, Stage::Pending).map(|v| &v.value);
                let same =
                    theirs.as_ref() == local.current().map(|v| &v.value) && theirs_pending.as_ref() == ours_pending;
                Ok(if same { State::InSync } else { State::Diverged })
            }
        });
    for (row, verdict) in rows.iter_mut().zip(verdicts) {
        row.state = verdict?;
    }
    Ok(rows)
}

/// Secrets found in sync whose record does not say so yet (name, current version, entry): a
/// push or pull records them too, so later judgments need no values.
pub fn unrecorded(rows: &[Compared], remote: &Remote) -> Vec<(String, u32, Entry)> {
    rows.iter()
        .filter(|r| r.state == State::InSync)
        .filter_map(|r| {
            let (secret, entry) = (r.local.as_ref()?, r.entry.clone()?);
            let local = secret.current()?.id;
            needs_record(secret, remote, &entry).then(|| (r.name.clone(), local, entry))
        })
        .collect()
}

/// What a push writes of `secret`: its newest previous, current and pending versions, oldest
/// first. Revoked versions never leave the vault.
pub fn uploads<'a>(key: &TokenKey, secret: &'a Secret) -> Vec<Upload<'a>> {
    [Stage::Previous, Stage::Current, Stage::Pending]
        .into_iter()
        .filter_map(|stage| newest(secret, stage))
        .map(|v| Upload { stage: v.stage, token: version_token(key, &secret.name, v.id, &v.value), value: &v.value })
        .collect()
}

/// Whether a push writes `secret`'s current version: not when the remote's current already is
/// it (keyward's token, or the sync record says so).
fn writes_current(key: &TokenKey, remote: &Remote, secret: &Secret, seen: Option<&Entry>) -> bool {
    let (Some(seen), Some(current)) = (seen, secret.current()) else { return true };
    let ours = version_token(key, &secret.name, current.id, &current.value);
    let recorded = record(secret, remote)
        .is_some_and(|r| r.current.0 == current.id && Some(r.current.1.as_str()) == seen.current());
    seen.token_of(Stage::Current) != Some(ours.as_str()) && !recorded
}

/// Pushes one secret, whose remote entry was `seen`: its current version (unless the remote has
/// it), a pending one, and on first push its previous one. The entry returned is what the
/// remote now holds; one whose current is not what was meant (someone wrote after this push) is
/// a conflict, never recorded as in sync.
pub fn push_secret(
    key: &TokenKey,
    remote: &Remote,
    backend: &dyn super::Backend,
    secret: &Secret,
    seen: Option<&Entry>,
) -> Result<Entry, super::RemoteError> {
    let write_current = writes_current(key, remote, secret, seen);
    let push =
        super::Push { name: &secret.name, versions: uploads(key, secret), tags: tags(secret), seen, write_current };
    let entry = backend.push(&push)?;
    let expected = match (write_current, secret.current()) {
        (true, Some(c)) => {
            entry.token_of(Stage::Current) == Some(version_token(key, &secret.name, c.id, &c.value).as_str())
        }
        _ => entry.current() == seen.and_then(Entry::current),
    };
    if !expected {
        return Err(super::RemoteError::Conflict(format!("{} changed in the remote while it was pushed", secret.name)));
    }
    Ok(entry)
}

/// The remotes `secret` is linked to, each with whether the link is explicit: the one named
/// with `--remote` (true), and every one it was pushed to or pulled from, which has a sync record
/// (false: it holds only for the place the record names, see [`record`]).
pub fn linked(secret: &Secret) -> Vec<(String, bool)> {
    let explicit = secret.body.meta.ext.get(crate::vault::secret::ext::REMOTE);
    let mut names: Vec<(String, bool)> = secret
        .body
        .meta
        .ext
        .keys()
        .filter_map(|k| k.strip_prefix("remote."))
        .filter(|n| explicit.is_none_or(|e| e != n))
        .map(|n| (n.to_owned(), false))
        .collect();
    names.extend(explicit.map(|e| (e.clone(), true)));
    names.sort();
    names
}

/// The metadata keyward records with a remote secret.
pub fn tags(secret: &Secret) -> Vec<(String, String)> {
    let m = &secret.body.meta;
    let mut tags = vec![(tag::VARIABLE.to_owned(), secret.var.clone())];
    if let Some(p) = &m.provider {
        tags.push((tag::PROVIDER.to_owned(), p.clone()));
    }
    if let Some(e) = &secret.env {
        tags.push((tag::ENVIRONMENT.to_owned(), e.clone()));
    }
    if let Some(x) = m.expires {
        tags.push((tag::EXPIRES.to_owned(), x.to_string()));
    }
    if let Some(r) = m.rotate_every {
        tags.push((tag::ROTATE_EVERY.to_owned(), r.to_string()));
    }
    tags
}

/// A new local secret from a remote one: its variable and metadata from the remote's tags (each
/// checked as `add` checks them), in the remote's environment. `Err` says why it is rejected.
pub fn new_secret(entry: &Entry, env: Option<&str>, current: SecretValue, now: i64) -> Result<Secret, String> {
    let tag = |k: &str| entry.tags.get(k).map(String::as_str);
    if let Some(e) = tag(tag::ENVIRONMENT)
        && Some(e) != env
    {
        return Err(format!(
            "its environment tag says {}, and this remote holds {}",
            crate::sanitize::sanitize(e),
            env.unwrap_or("secrets with no environment")
        ));
    }
    let var = match tag(tag::VARIABLE) {
        Some(v) => {
            validate_var(v).map_err(|r| format!("its variable {}: {r}", crate::sanitize::sanitize(v)))?;
            // A remote is written by others: it never sets what changes how programs start.
            if is_startup_var(v) {
                return Err(format!("its variable {v} changes how programs start; add it yourself with --allow-var"));
            }
            v.to_owned()
        }
        None => default_var(&entry.name),
    };
    let mut meta = Metadata::new(now);
    meta.provider = tag(tag::PROVIDER).filter(|p| crate::parse::label(p).is_ok()).map(str::to_owned);
    meta.expires = tag(tag::EXPIRES).and_then(|x| x.parse().ok());
    if let Some(r) = tag(tag::ROTATE_EVERY).and_then(|r| r.parse().ok()) {
        meta.rotate_every = Some(r);
    }
    Ok(Secret::new(entry.name.clone(), var, env.map(str::to_owned), meta, current, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(ids: &[(u32, Stage)]) -> Secret {
        let mut s = Secret::new("api".into(), "API".into(), None, Metadata::new(0), SecretValue::new("v1".into()), 0);
        s.body.versions.clear();
        for (id, stage) in ids {
            s.body.versions.push(crate::vault::secret::Version {
                id: *id,
                value: SecretValue::new(format!("v{id}")),
                created: 0,
                stage: *stage,
                stage_since: 0,
                grace_until: None,
            });
        }
        s
    }

    fn entry(current: &str, token: Option<&str>) -> Entry {
        let mut e = Entry { name: "api".into(), ..Entry::default() };
        e.stages.insert("current", current.into());
        if let Some(t) = token {
            e.tokens.insert("current", t.into());
        }
        e
    }

    fn remote() -> Remote {
        Remote { name: "r".into(), env: None, location: super::super::Location::parse("vault:kv/app", None).unwrap() }
    }

    fn token(key: &TokenKey, s: &Secret, id: u32) -> String {
        let v = s.body.versions.iter().find(|v| v.id == id).unwrap();
        version_token(key, &s.name, id, &v.value)
    }

    #[test]
    fn judged_by_tokens_and_records() {
        let (key, r) = (TokenKey::from_key(&[1; 32]), remote());
        let s = secret(&[(1, Stage::Previous), (2, Stage::Current)]);
        let (t1, t2) = (token(&key, &s, 1), token(&key, &s, 2));
        assert_eq!(judge(&key, Some(&s), None, &r), Judged::Known(State::OnlyHere));
        assert_eq!(judge(&key, None, Some(&entry("x", None)), &r), Judged::Known(State::OnlyThere));
        assert_eq!(judge(&key, Some(&s), Some(&entry("x", Some(&t2))), &r), Judged::Known(State::InSync));
        assert_eq!(judge(&key, Some(&s), Some(&entry("x", Some(&t1))), &r), Judged::Known(State::LocalNewer));
        assert_eq!(judge(&key, Some(&s), Some(&entry("x", None)), &r), Judged::CompareValues);
        // A token made with another key (a remote's writer) proves nothing.
        let forged = token(&TokenKey::from_key(&[2; 32]), &s, 2);
        assert_eq!(judge(&key, Some(&s), Some(&entry("x", Some(&forged))), &r), Judged::CompareValues);
        let mut s = s;
        set_record(&mut s, &r, &entry("7", None));
        assert_eq!(judge(&key, Some(&s), Some(&entry("7", None)), &r), Judged::Known(State::InSync));
        assert_eq!(judge(&key, Some(&s), Some(&entry("8", None)), &r), Judged::Known(State::RemoteNewer));
        // The record is for one place: the same name elsewhere is judged afresh.
        let elsewhere = Remote { location: super::super::Location::parse("vault:kv/other", None).unwrap(), ..remote() };
        assert_eq!(judge(&key, Some(&s), Some(&entry("7", None)), &elsewhere), Judged::CompareValues);
        let recorded = s.body.meta.ext[&record_key("r")].replacen(" 2 ", " 1 ", 1);
        s.body.meta.ext.insert(record_key("r"), recorded);
        assert_eq!(judge(&key, Some(&s), Some(&entry("7", None)), &r), Judged::Known(State::LocalNewer));
        assert_eq!(judge(&key, Some(&s), Some(&entry("8", None)), &r), Judged::CompareValues);
    }

    /// A pull must not drop a rotation under way here: a local pending the remote never saw,
    /// with the remote moved on, is diverged; a pending on each side too.
    #[test]
    fn pending_versions_count() {
        let (key, r) = (TokenKey::from_key(&[1; 32]), remote());
        let s = secret(&[(1, Stage::Current), (2, Stage::Pending)]);
        let mut e = entry("x", Some(&token(&key, &s, 1)));
        assert_eq!(judge(&key, Some(&s), Some(&e), &r), Judged::Known(State::LocalNewer));
        e.stages.insert("pending", "y".into());
        e.tokens.insert("pending", token(&key, &s, 2));
        assert_eq!(judge(&key, Some(&s), Some(&e), &r), Judged::Known(State::InSync));
        e.tokens.insert("pending", "someone-else".into());
        assert_eq!(judge(&key, Some(&s), Some(&e), &r), Judged::Known(State::Diverged));
        let mut s = s;
        let mut seen = entry("x", None);
        seen.stages.insert("pending", "y".into());
        set_record(&mut s, &r, &seen);
        assert!(s.body.meta.ext[&record_key("r")].ends_with(" 1 x 2 y"));
        s.body.versions.push(crate::vault::secret::Version {
            id: 3,
            value: SecretValue::new("v3".into()),
            created: 0,
            stage: Stage::Pending,
            stage_since: 0,
            grace_until: None,
        });
        s.body.versions[1].stage = Stage::Revoked;
        assert_eq!(judge(&key, Some(&s), Some(&entry("z", None)), &r), Judged::CompareValues);
    }

    #[test]
    fn uploads_skip_revoked_and_keep_order() {
        let key = TokenKey::from_key(&[1; 32]);
        let s = secret(&[(1, Stage::Revoked), (2, Stage::Previous), (3, Stage::Current), (4, Stage::Pending)]);
        let ups = uploads(&key, &s);
        let stages: Vec<Stage> = ups.iter().map(|u| u.stage).collect();
        assert_eq!(stages, [Stage::Previous, Stage::Current, Stage::Pending]);
        assert_eq!(ups[1].value.expose(), "v3");
    }

    #[test]
    fn pulled_secrets_are_checked() {
        let mut e = entry("1", None);
        e.tags.insert(tag::ENVIRONMENT.into(), "prod".into());
        assert!(new_secret(&e, Some("staging"), SecretValue::new("x".into()), 0).is_err());
        e.tags.insert(tag::ENVIRONMENT.into(), "staging".into());
        e.tags.insert(tag::VARIABLE.into(), "LD_PRELOAD".into());
        assert!(new_secret(&e, Some("staging"), SecretValue::new("x".into()), 0).is_err());
        e.tags.insert(tag::VARIABLE.into(), "API_KEY".into());
        let s = new_secret(&e, Some("staging"), SecretValue::new("x".into()), 0).unwrap();
        assert_eq!((s.var.as_str(), s.env.as_deref()), ("API_KEY", Some("staging")));
    }
}
