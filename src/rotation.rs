//! Staged rotation of one secret, as AWS Secrets Manager does it, locally:
//! a new value is `pending`; promotion makes it `current` and the old current `previous` until
//! its grace deadline; then the previous is `revoked`. There is at most one pending and one
//! previous version. Revoked versions keep their values, so `mask` can still hide them in logs.
//!
//! These functions change a [`Secret`] in memory; the commands save it under the vault lock.

use crate::error::{Error, Result};
use crate::parse;
use crate::sensitive::SecretValue;
use crate::vault::payload::Records;
use crate::vault::secret::{Secret, Stage, Version};

/// Days before a grace deadline when commands that read the secret print a notice.
pub const NOTICE_DAYS: [i64; 2] = [1, 7];

/// Settings key holding the earliest grace deadline in the vault, so writers know without
/// decoding every secret whether a previous version has run out.
pub const GRACE_NEXT: &str = "grace_next";

fn find_stage(secret: &Secret, stage: Stage) -> Option<usize> {
    secret.body.versions.iter().rposition(|v| v.stage == stage)
}

fn set_stage(v: &mut Version, stage: Stage, now: i64) {
    v.stage = stage;
    v.stage_since = now;
    v.grace_until = None;
}

pub fn pending(secret: &Secret) -> Option<&Version> {
    find_stage(secret, Stage::Pending).map(|i| &secret.body.versions[i])
}

/// Stores `value` as the pending version; refused while another is pending.
pub fn stage(secret: &mut Secret, value: SecretValue, now: i64) -> Result<u32> {
    if let Some(p) = pending(secret) {
        return Err(Error::PendingExists { name: secret.name.clone(), version: p.id });
    }
    let id = secret.body.next_version;
    secret.body.next_version += 1;
    secret.body.versions.push(Version {
        id,
        value,
        created: now,
        stage: Stage::Pending,
        stage_since: now,
        grace_until: None,
    });
    Ok(id)
}

/// What a promotion changed.
pub struct Promoted {
    pub current: u32,
    pub previous: Option<(u32, i64)>,
    pub revoked: Option<u32>,
}

/// Pending → current; current → previous until `now + grace`; an older previous → revoked.
/// `expected` guards against promoting a pending version another process put there.
pub fn promote(secret: &mut Secret, expected: Option<u32>, now: i64, grace: u64) -> Result<Promoted> {
    let name = secret.name.clone();
    let Some(p) = find_stage(secret, Stage::Pending) else {
        return Err(Error::VersionNotFound { name, version: "pending".into() });
    };
    if expected.is_some_and(|id| id != secret.body.versions[p].id) {
        return Err(Error::Refused(
            format!("the pending value of {name:?} changed while this command ran"),
            "look at it with `keyward info NAME` and run the command again",
        ));
    }
    let revoked = find_stage(secret, Stage::Previous).map(|i| {
        set_stage(&mut secret.body.versions[i], Stage::Revoked, now);
        secret.body.versions[i].id
    });
    let deadline = now.saturating_add(grace as i64);
    let previous = find_stage(secret, Stage::Current).map(|i| {
        let v = &mut secret.body.versions[i];
        set_stage(v, Stage::Previous, now);
        v.grace_until = Some(deadline);
        (v.id, deadline)
    });
    set_stage(&mut secret.body.versions[p], Stage::Current, now);
    secret.body.meta.updated = now;
    Ok(Promoted { current: secret.body.versions[p].id, previous, revoked })
}

/// Discards the pending version.
pub fn abort(secret: &mut Secret) -> Result<u32> {
    let Some(p) = find_stage(secret, Stage::Pending) else {
        return Err(Error::VersionNotFound { name: secret.name.clone(), version: "pending".into() });
    };
    Ok(secret.body.versions.remove(p).id)
}

/// Sets the pending version aside as revoked (kept, so `mask` still hides it): what replacing it
/// with another side's value does, which must not lose it.
pub fn set_aside(secret: &mut Secret, now: i64) -> Option<u32> {
    let p = find_stage(secret, Stage::Pending)?;
    set_stage(&mut secret.body.versions[p], Stage::Revoked, now);
    Some(secret.body.versions[p].id)
}

/// Previous → current again; the rolled-back current → revoked. Refused for a compromised secret.
pub fn rollback(secret: &mut Secret, now: i64) -> Result<(u32, Option<u32>)> {
    if secret.body.meta.ext.contains_key(crate::vault::secret::ext::COMPROMISED) {
        return Err(Error::Refused(
            format!("{:?} was revoked as compromised; rolling back would bring a leaked value back", secret.name),
            "rotate to a new value with `keyward rotate NAME`",
        ));
    }
    let Some(prev) = find_stage(secret, Stage::Previous) else {
        return Err(Error::VersionNotFound { name: secret.name.clone(), version: "previous".into() });
    };
    let revoked = find_stage(secret, Stage::Current).map(|i| {
        set_stage(&mut secret.body.versions[i], Stage::Revoked, now);
        secret.body.versions[i].id
    });
    set_stage(&mut secret.body.versions[prev], Stage::Current, now);
    secret.body.meta.updated = now;
    Ok((secret.body.versions[prev].id, revoked))
}

/// Ends the grace period now: previous → revoked. Returns the revoked version.
pub fn finish(secret: &mut Secret, now: i64) -> Option<u32> {
    let prev = find_stage(secret, Stage::Previous)?;
    set_stage(&mut secret.body.versions[prev], Stage::Revoked, now);
    Some(secret.body.versions[prev].id)
}

/// Revokes a previous version whose grace deadline has passed.
pub fn expire_grace(secret: &mut Secret, now: i64) -> bool {
    match find_stage(secret, Stage::Previous) {
        Some(i) if secret.body.versions[i].grace_until.is_some_and(|g| g <= now) => {
            set_stage(&mut secret.body.versions[i], Stage::Revoked, now);
            true
        }
        _ => false,
    }
}

/// A previous version's grace deadline.
pub fn grace_deadline(secret: &Secret) -> Option<i64> {
    secret.version(crate::vault::secret::VersionSelector::Stage(Stage::Previous)).and_then(|v| v.grace_until)
}

/// The one-line notice for a grace deadline within 7 days (or 1 day), if any.
pub fn grace_notice(secret: &Secret, now: i64) -> Option<String> {
    let deadline = grace_deadline(secret)?;
    let left = deadline - now;
    let window = NOTICE_DAYS.iter().find(|d| left <= *d * 86_400)?;
    (left > 0).then(|| {
        format!(
            "the previous value of {} stops being served at {} (within {} day{}); move its users to the current value",
            crate::sanitize::sanitize(&secret.name),
            parse::time(deadline),
            window,
            if *window == 1 { "" } else { "s" }
        )
    })
}

/// When the current value was made: the secret's last rotation (its creation when it has none).
pub fn rotated_at(secret: &Secret) -> i64 {
    secret.current().map_or(secret.body.meta.created, |v| v.created)
}

/// When the secret is next due for rotation, by its policy; at once when a removed member saw
/// its current value (see [`exposed`]).
pub fn due_at(secret: &Secret) -> Option<i64> {
    if let Some((at, _)) = exposed(secret) {
        return Some(at);
    }
    let every = secret.body.meta.rotate_every?;
    Some(rotated_at(secret).saturating_add(every as i64))
}

/// When, and to whom, the current value was exposed: a member who could read it was removed
/// after it was made. `None` once it was rotated since.
pub fn exposed(secret: &Secret) -> Option<(i64, &str)> {
    let mark = secret.body.meta.ext.get(crate::vault::secret::ext::EXPOSED)?;
    let (at, who) = mark.split_once(' ')?;
    let at: i64 = at.parse().ok()?;
    (rotated_at(secret) <= at).then_some((at, who))
}

/// This secret's grace period in seconds (`rotate --grace` stores it), else `default`.
pub fn grace_of(secret: &Secret, default: u64) -> u64 {
    secret.body.meta.ext.get(crate::vault::secret::ext::GRACE).and_then(|g| g.parse().ok()).unwrap_or(default)
}

/// The time of an exposure mark (`<unix time> <who>`); a mark that does not read as one counts
/// as the oldest.
pub fn mark_time(mark: &str) -> i64 {
    mark.split_once(' ').and_then(|(at, _)| at.parse().ok()).unwrap_or(i64::MIN)
}

/// Records that a grace deadline exists, for [`sweep`].
pub fn note_deadline(records: &mut Records, deadline: i64) {
    let current = next_deadline(records);
    if current.is_none_or(|c| deadline < c) {
        records.settings.retain(|(k, _)| k != GRACE_NEXT);
        records.settings.push((GRACE_NEXT.into(), deadline.to_string()));
    }
}

fn next_deadline(records: &Records) -> Option<i64> {
    records.settings.iter().find(|(k, _)| k == GRACE_NEXT).and_then(|(_, v)| v.parse().ok())
}

/// Applies every grace deadline that has passed. Runs on each write of the vault; it decodes the
/// secrets only when the earliest recorded deadline has come.
pub fn sweep(records: &mut Records, now: i64) -> std::result::Result<bool, crate::vault::payload::DecodeError> {
    if next_deadline(records).is_none_or(|t| t > now) {
        return Ok(false);
    }
    let mut earliest: Option<i64> = None;
    let mut skipped = false;
    for record in &mut records.records {
        let mut secret = match record.decode() {
            Ok(secret) => secret,
            // A domain this key does not hold (format 2): a holder of it sweeps it.
            Err(crate::vault::payload::DecodeError::NoAccess { .. }) => {
                skipped = true;
                continue;
            }
            Err(e) => return Err(e),
        };
        if expire_grace(&mut secret, now) {
            *record = crate::vault::payload::Record::encode(&secret);
        }
        if let Some(d) = grace_deadline(&secret) {
            earliest = Some(earliest.map_or(d, |e| e.min(d)));
        }
    }
    if skipped {
        // The deadline may be another domain's: keep it for that domain's holder.
        return Ok(true);
    }
    records.settings.retain(|(k, _)| k != GRACE_NEXT);
    if let Some(d) = earliest {
        records.settings.push((GRACE_NEXT.into(), d.to_string()));
    }
    Ok(true)
}

/// [`sweep`] on an opened vault, checking the recorded deadline without copying the records.
pub fn sweep_vault(vault: &mut crate::vault::Vault, now: i64) -> Result<()> {
    let due = vault.setting(GRACE_NEXT)?.is_some_and(|v| v.parse::<i64>().is_ok_and(|t| t <= now));
    if !due {
        return Ok(());
    }
    let mut records = vault.records()?;
    sweep(&mut records, now).map_err(|e| vault.record_error(e))?;
    vault.set_records(records);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::secret::Metadata;

    fn secret() -> Secret {
        Secret::new("s".into(), "S".into(), None, Metadata::new(0), SecretValue::new("v1".into()), 0)
    }

    fn stages(s: &Secret) -> Vec<(u32, &'static str)> {
        s.body.versions.iter().map(|v| (v.id, v.stage.as_str())).collect()
    }

    #[test]
    fn stage_promote_and_a_second_rotation_revokes_the_oldest() {
        let mut s = secret();
        assert_eq!(stage(&mut s, SecretValue::new("v2".into()), 10).unwrap(), 2);
        assert!(matches!(stage(&mut s, SecretValue::new("v3".into()), 11), Err(Error::PendingExists { .. })));
        let p = promote(&mut s, Some(2), 20, 100).unwrap();
        assert_eq!((p.current, p.previous, p.revoked), (2, Some((1, 120)), None));
        assert_eq!(stages(&s), [(1, "previous"), (2, "current")]);
        stage(&mut s, SecretValue::new("v3".into()), 30).unwrap();
        let p = promote(&mut s, None, 40, 100).unwrap();
        assert_eq!(p.revoked, Some(1));
        assert_eq!(stages(&s), [(1, "revoked"), (2, "previous"), (3, "current")]);
    }

    #[test]
    fn abort_rollback_finish_and_expiry() {
        let mut s = secret();
        stage(&mut s, SecretValue::new("v2".into()), 10).unwrap();
        assert_eq!(abort(&mut s).unwrap(), 2);
        assert!(abort(&mut s).is_err());
        stage(&mut s, SecretValue::new("v3".into()), 10).unwrap();
        promote(&mut s, None, 20, 100).unwrap();
        assert_eq!(rollback(&mut s, 30).unwrap(), (1, Some(3)));
        assert_eq!(s.current().unwrap().value.expose(), "v1");
        assert!(rollback(&mut s, 31).is_err(), "no previous left");

        let mut s = secret();
        stage(&mut s, SecretValue::new("v2".into()), 10).unwrap();
        promote(&mut s, None, 20, 100).unwrap();
        assert!(!expire_grace(&mut s, 119));
        assert!(expire_grace(&mut s, 120));
        assert_eq!(stages(&s), [(1, "revoked"), (2, "current")]);
        assert_eq!(finish(&mut s, 130), None);
    }

    #[test]
    fn compromised_secrets_do_not_roll_back() {
        let mut s = secret();
        stage(&mut s, SecretValue::new("v2".into()), 10).unwrap();
        promote(&mut s, None, 20, 100).unwrap();
        s.body.meta.ext.insert(crate::vault::secret::ext::COMPROMISED.into(), "leaked".into());
        assert!(matches!(rollback(&mut s, 30), Err(Error::Refused(..))));
    }

    #[test]
    fn notices_seven_days_and_one_day_before() {
        let mut s = secret();
        stage(&mut s, SecretValue::new("v2".into()), 0).unwrap();
        promote(&mut s, None, 0, 30 * 86_400).unwrap();
        assert!(grace_notice(&s, 0).is_none());
        assert!(grace_notice(&s, 23 * 86_400 + 1).unwrap().contains("within 7 days"));
        assert!(grace_notice(&s, 29 * 86_400 + 1).unwrap().contains("within 1 day"));
        assert!(grace_notice(&s, 30 * 86_400).is_none());
    }

    #[test]
    fn sweep_runs_only_when_a_deadline_has_come() {
        use crate::vault::payload::Record;
        let mut s = secret();
        stage(&mut s, SecretValue::new("v2".into()), 0).unwrap();
        promote(&mut s, None, 0, 100).unwrap();
        let mut records = Records { settings: vec![], records: vec![Record::encode(&s)] };
        note_deadline(&mut records, 100);
        assert!(!sweep(&mut records, 99).unwrap());
        assert!(sweep(&mut records, 100).unwrap());
        assert_eq!(stages(&records.records[0].decode().unwrap()), [(1, "revoked"), (2, "current")]);
        assert!(next_deadline(&records).is_none());
    }
}
