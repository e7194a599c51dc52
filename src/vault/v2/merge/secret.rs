//! The three-way merge of one secret that both sides of a merge changed, and the resolution of
//! what it could not combine.
//!
//! Versions merge by id and metadata by field (lists such as tags as sets), so a rotation on one
//! side and a metadata change on the other combine. Where both sides changed the same thing
//! differently — typically both rotated, so both made a version with the same id — ours is kept
//! and theirs is kept beside it, renumbered: their current value as the pending version (revoked
//! when ours already has one pending), their other new values revoked, their metadata fields in
//! the conflict record. Nothing is lost; [`resolve`] later keeps one side. The conflict record
//! lives in the secret's metadata (encrypted like it), never holding a value.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::vault::secret::{Metadata, Secret, Stage, Version};

/// Metadata key of an unresolved merge conflict: the JSON of a [`Conflict`].
pub const CONFLICT: &str = "merge.conflict";

/// What a merge could not combine, as kept in [`CONFLICT`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The side that deleted the secret while the other changed it ("ours" or "theirs").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<String>,
    /// Their current version, as renumbered here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theirs_current: Option<u32>,
    /// Their pending version (a staged rotation), as renumbered here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theirs_pending: Option<u32>,
    /// Every version kept from their side (renumbered), the current one included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub theirs_versions: Vec<u32>,
    /// Their value of each metadata field both sides changed differently (ours is in place).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub theirs_meta: serde_json::Map<String, serde_json::Value>,
    /// Their variable, when both sides renamed it differently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub theirs_var: Option<String>,
}

impl Conflict {
    /// The conflict recorded in `secret`, if any (an unreadable record reads as none).
    pub fn of(secret: &Secret) -> Option<Conflict> {
        secret.body.meta.ext.get(CONFLICT).and_then(|j| serde_json::from_str(j).ok())
    }

    /// One line for people: what each side did.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(side) = &self.deleted_by {
            parts.push(format!("{side} deleted it, the other side changed it"));
        }
        if let Some(id) = self.theirs_current {
            parts.push(format!("theirs is kept as v{id}"));
        }
        if !self.theirs_meta.is_empty() || self.theirs_var.is_some() {
            let mut fields: Vec<&str> = self.theirs_meta.keys().map(String::as_str).collect();
            if self.theirs_var.is_some() {
                fields.push("variable");
            }
            parts.push(format!("{} changed on both sides (ours in place)", fields.join(", ")));
        }
        parts.join("; ")
    }
}

/// A secret merged.
#[derive(Debug)]
pub enum SecretMerge {
    /// Both sides' changes combined.
    Clean(Secret),
    /// Ours, with theirs kept beside it and a [`Conflict`] recorded.
    Conflict(Secret),
    /// Gone: deleted on a side while the other left it alone, or on both.
    Deleted,
    /// Cannot be merged, and why (version numbers exhausted).
    Refused(String),
}

fn mark(mut secret: Secret, conflict: &Conflict) -> Secret {
    let json = serde_json::to_string(conflict).unwrap_or_default();
    secret.body.meta.ext.insert(CONFLICT.into(), json);
    secret
}

/// Three-way merge of one secret; `None` is "absent" on that side.
pub fn merge(base: Option<&Secret>, ours: Option<&Secret>, theirs: Option<&Secret>) -> SecretMerge {
    match (ours, theirs) {
        (None, None) => SecretMerge::Deleted,
        (Some(m), None) if base == Some(m) => SecretMerge::Deleted,
        (None, Some(o)) if base == Some(o) => SecretMerge::Deleted,
        (Some(m), None) if base.is_some() => SecretMerge::Conflict(mark(
            m.clone(),
            &Conflict { deleted_by: Some("theirs".into()), ..Conflict::default() },
        )),
        (None, Some(o)) if base.is_some() => {
            SecretMerge::Conflict(mark(o.clone(), &Conflict { deleted_by: Some("ours".into()), ..Conflict::default() }))
        }
        (Some(m), None) => SecretMerge::Clean(m.clone()),
        (None, Some(o)) => SecretMerge::Clean(o.clone()),
        (Some(m), Some(o)) => both(base, m, o),
    }
}

fn both(base: Option<&Secret>, m: &Secret, o: &Secret) -> SecretMerge {
    let mut conflict = Conflict::default();
    let mut merged = m.clone();
    // The variable.
    let base_var = base.map(|b| b.var.as_str());
    if m.var != o.var && Some(m.var.as_str()) == base_var {
        merged.var = o.var.clone();
    } else if m.var != o.var && Some(o.var.as_str()) != base_var {
        conflict.theirs_var = Some(o.var.clone());
    }
    // Versions by id; ours kept and theirs renumbered beside it when they clash.
    let no_versions = Vec::new();
    let base_versions = base.map_or(&no_versions, |b| &b.body.versions);
    match versions(base_versions, &m.body.versions, &o.body.versions) {
        Some(versions) => merged.body.versions = versions,
        None => {
            if keep_theirs(&mut merged, o, &mut conflict).is_none() {
                return SecretMerge::Refused(format!("{}: version numbers are exhausted", m.name));
            }
        }
    }
    let Some(after_last) = merged.body.versions.iter().map(|v| v.id.checked_add(1)).max().unwrap_or(Some(1)) else {
        return SecretMerge::Refused(format!("{}: version numbers are exhausted", m.name));
    };
    merged.body.next_version = merged.body.next_version.max(o.body.next_version).max(after_last);
    let base_meta = base.map(|b| &b.body.meta);
    merged.body.meta = metadata(base_meta, &m.body.meta, &o.body.meta, &mut conflict.theirs_meta);
    if conflict == Conflict::default() {
        merged.body.meta.ext.remove(CONFLICT);
        SecretMerge::Clean(merged)
    } else {
        SecretMerge::Conflict(mark(merged, &conflict))
    }
}

/// The union of both sides' version changes, or `None` when one version changed differently on
/// both sides or the union breaks the stages' rules (one current, at most one pending and one
/// previous).
fn versions(base: &[Version], ours: &[Version], theirs: &[Version]) -> Option<Vec<Version>> {
    if ours == theirs || theirs == base {
        return Some(ours.to_vec());
    }
    if ours == base {
        return Some(theirs.to_vec());
    }
    let find = |list: &[Version], id: u32| list.iter().find(|v| v.id == id).cloned();
    let ids: BTreeSet<u32> = ours.iter().chain(theirs).map(|v| v.id).collect();
    let mut out = Vec::new();
    for id in ids {
        let (b, m, o) = (find(base, id), find(ours, id), find(theirs, id));
        let pick = if m == o || o == b {
            m
        } else if m == b {
            o
        } else {
            return None;
        };
        out.extend(pick);
    }
    let count = |stage: Stage| out.iter().filter(|v| v.stage == stage).count();
    (count(Stage::Current) == 1 && count(Stage::Pending) <= 1 && count(Stage::Previous) <= 1).then_some(out)
}

/// Keeps ours' versions and adds theirs' that ours lacks (same id and value), renumbered:
/// their current as the pending version when ours has none (else revoked), their pending kept
/// pending only if that slot is still free, every other one revoked. `None` when version
/// numbers run out.
fn keep_theirs(merged: &mut Secret, theirs: &Secret, conflict: &mut Conflict) -> Option<()> {
    let mut next = merged
        .body
        .next_version
        .max(theirs.body.next_version)
        .max(merged.body.versions.iter().map(|v| v.id.checked_add(1)).max().unwrap_or(Some(1))?);
    let mut pending_free = !merged.body.versions.iter().any(|v| v.stage == Stage::Pending);
    // Their current first: it is what their side serves.
    let mut order: Vec<&Version> = theirs.body.versions.iter().collect();
    order.sort_by_key(|v| v.stage != Stage::Current);
    for v in order {
        if merged.body.versions.iter().any(|m| m.id == v.id && m.value == v.value) {
            continue;
        }
        let mut kept = v.clone();
        kept.id = next;
        next = next.checked_add(1)?;
        kept.grace_until = None;
        let was = v.stage;
        kept.stage = if matches!(was, Stage::Current | Stage::Pending) && pending_free {
            pending_free = false;
            Stage::Pending
        } else {
            Stage::Revoked
        };
        match was {
            Stage::Current => conflict.theirs_current = Some(kept.id),
            Stage::Pending => conflict.theirs_pending = Some(kept.id),
            _ => {}
        }
        conflict.theirs_versions.push(kept.id);
        merged.body.versions.push(kept);
    }
    merged.body.versions.sort_by_key(|v| v.id);
    merged.body.next_version = next;
    Some(())
}

/// Metadata by field: a field one side changed takes that side's value; lists merge as sets;
/// `updated` is the later; a field changed differently on both sides keeps ours and records
/// theirs in `clashes`. Extension keys merge the same way, ours winning a clash (they are
/// bookkeeping such as check verdicts, not a person's choice), except a compromise or exposure
/// mark, which either side's wins.
fn metadata(
    base: Option<&Metadata>,
    ours: &Metadata,
    theirs: &Metadata,
    clashes: &mut serde_json::Map<String, serde_json::Value>,
) -> Metadata {
    use serde_json::Value;
    let to_map = |m: &Metadata| match serde_json::to_value(m) {
        Ok(Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    let (m, o) = (to_map(ours), to_map(theirs));
    let b = base.map(to_map).unwrap_or_default();
    let mut out = m.clone();
    for (field, mine) in &m {
        let (other, was) = (o.get(field).unwrap_or(&Value::Null), b.get(field).unwrap_or(&Value::Null));
        let value = match field.as_str() {
            "ext" | "created" | "updated" => continue,
            _ if mine == other || other == was => mine.clone(),
            _ if mine == was => other.clone(),
            _ => {
                if let (Value::Array(mm), Value::Array(oo)) = (mine, other) {
                    let ww = was.as_array().cloned().unwrap_or_default();
                    let removed = |x: &Value| ww.contains(x) && (!mm.contains(x) || !oo.contains(x));
                    let mut list: Vec<Value> = Vec::new();
                    for x in mm.iter().chain(oo) {
                        if !removed(x) && !list.contains(x) {
                            list.push(x.clone());
                        }
                    }
                    Value::Array(list)
                } else {
                    clashes.insert(field.clone(), other.clone());
                    mine.clone()
                }
            }
        };
        out.insert(field.clone(), value);
    }
    let mut merged: Metadata = serde_json::from_value(Value::Object(out)).unwrap_or_else(|_| ours.clone());
    merged.updated = ours.updated.max(theirs.updated);
    merged.created = ours.created;
    let empty = Default::default();
    let was_ext = base.map_or(&empty, |b| &b.ext);
    let keys: BTreeSet<&String> = ours.ext.keys().chain(theirs.ext.keys()).collect();
    for key in keys {
        if key == CONFLICT {
            continue;
        }
        let (mine, other, was) = (ours.ext.get(key), theirs.ext.get(key), was_ext.get(key));
        let sticky = key == crate::vault::secret::ext::COMPROMISED || key == crate::vault::secret::ext::EXPOSED;
        let value = if mine == other || other == was {
            mine
        } else if mine == was || (sticky && mine.is_none()) {
            other
        } else {
            mine
        };
        match value {
            Some(v) => merged.ext.insert(key.clone(), v.clone()),
            None => merged.ext.remove(key),
        };
    }
    merged
}

/// Which side [`resolve`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Ours,
    Theirs,
}

/// Finishes a conflicted secret by keeping one side; `None` when that side deleted it. Theirs'
/// current value becomes current as a promotion would make it (ours previous for `grace`
/// seconds); the values of the side not kept stay as revoked versions, so `mask` still hides
/// them. `None` as the conflict when the secret has none.
pub fn resolve(mut secret: Secret, side: Side, now: i64, grace: u64) -> Option<Option<Secret>> {
    let conflict = Conflict::of(&secret)?;
    secret.body.meta.ext.remove(CONFLICT);
    match (side, conflict.deleted_by.as_deref()) {
        (Side::Ours, Some("ours")) | (Side::Theirs, Some("theirs")) => return Some(None),
        _ => {}
    }
    // The record is what a branch wrote: only versions it names as theirs, only those the merge
    // left pending or revoked, and only above every version of ours (the merge numbers theirs
    // after ours), are touched. An older revoked value is never brought back.
    let named: BTreeSet<u32> = conflict.theirs_versions.iter().copied().collect();
    let ours_top = secret.body.versions.iter().filter(|v| !named.contains(&v.id)).map(|v| v.id).max().unwrap_or(0);
    let theirs: BTreeSet<u32> = named
        .into_iter()
        .filter(|id| {
            *id > ours_top
                && secret
                    .body
                    .versions
                    .iter()
                    .any(|v| v.id == *id && matches!(v.stage, Stage::Pending | Stage::Revoked))
        })
        .collect();
    match side {
        Side::Ours => {
            for v in &mut secret.body.versions {
                if theirs.contains(&v.id) && v.stage != Stage::Revoked {
                    v.stage = Stage::Revoked;
                    v.stage_since = now;
                }
            }
        }
        Side::Theirs => {
            // A compromised secret keeps its current value: a revoked one is never brought back.
            if let Some(id) = conflict.theirs_current.filter(|id| theirs.contains(id) && !secret.compromised())
                && let Some(index) = secret.body.versions.iter().position(|v| v.id == id)
            {
                for v in &mut secret.body.versions {
                    if v.stage == Stage::Pending && v.id != id {
                        v.stage = Stage::Revoked;
                        v.stage_since = now;
                    }
                }
                secret.body.versions[index].stage = Stage::Pending;
                // Cannot fail: the version is pending now.
                let _ = crate::rotation::promote(&mut secret, Some(id), now, grace);
                // Their staged rotation, if any, is staged again.
                if let Some(p) = conflict.theirs_pending.filter(|p| theirs.contains(p))
                    && let Some(v) = secret.body.versions.iter_mut().find(|v| v.id == p)
                {
                    v.stage = Stage::Pending;
                    v.stage_since = now;
                }
            }
            if let Some(var) = conflict.theirs_var {
                secret.var = var;
            }
            apply_fields(&mut secret.body.meta, conflict.theirs_meta);
        }
    }
    secret.body.meta.updated = secret.body.meta.updated.max(now);
    Some(Some(secret))
}

/// Their values of the plain metadata fields; never the bookkeeping (`ext`: compromise and
/// exposure marks, verdicts) nor the times.
fn apply_fields(meta: &mut Metadata, fields: serde_json::Map<String, serde_json::Value>) {
    let Ok(serde_json::Value::Object(mut map)) = serde_json::to_value(&*meta) else { return };
    for (field, value) in fields {
        if matches!(field.as_str(), "ext" | "created" | "updated") || !map.contains_key(&field) {
            continue;
        }
        map.insert(field, value);
    }
    if let Ok(merged) = serde_json::from_value(serde_json::Value::Object(map)) {
        *meta = merged;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sensitive::SecretValue;

    fn secret(value: &str) -> Secret {
        Secret::new("k".into(), "K".into(), None, Metadata::new(10), SecretValue::new(value.into()), 10)
    }

    fn rotated(s: &Secret, value: &str, now: i64) -> Secret {
        let mut s = s.clone();
        crate::rotation::stage(&mut s, SecretValue::new(value.into()), now).unwrap();
        crate::rotation::promote(&mut s, None, now, 60).unwrap();
        s
    }

    fn values(s: &Secret) -> Vec<(u32, &str, Stage)> {
        s.body.versions.iter().map(|v| (v.id, v.value.expose(), v.stage)).collect()
    }

    #[test]
    fn a_rotation_on_one_side_and_a_tag_on_the_other_combine() {
        let base = secret("a");
        let ours = rotated(&base, "b", 20);
        let mut theirs = base.clone();
        theirs.body.meta.tags = vec!["billing".into()];
        theirs.body.meta.updated = 30;
        let SecretMerge::Clean(m) = merge(Some(&base), Some(&ours), Some(&theirs)) else { panic!("clean") };
        assert_eq!(m.current().unwrap().value.expose(), "b");
        assert_eq!(m.body.meta.tags, ["billing"]);
        assert_eq!(m.body.meta.updated, 30);
    }

    #[test]
    fn tags_merge_as_sets_and_different_fields_combine() {
        let mut base = secret("a");
        base.body.meta.tags = vec!["x".into(), "y".into()];
        let (mut ours, mut theirs) = (base.clone(), base.clone());
        ours.body.meta.tags = vec!["y".into(), "ours".into()];
        ours.body.meta.note = Some("n".into());
        theirs.body.meta.tags = vec!["x".into(), "y".into(), "theirs".into()];
        theirs.body.meta.provider = Some("stripe".into());
        let SecretMerge::Clean(m) = merge(Some(&base), Some(&ours), Some(&theirs)) else { panic!("clean") };
        assert_eq!(m.body.meta.tags, ["y", "ours", "theirs"]);
        assert_eq!(m.body.meta.note.as_deref(), Some("n"));
        assert_eq!(m.body.meta.provider.as_deref(), Some("stripe"));
    }

    #[test]
    fn both_rotated_keeps_ours_and_theirs_as_pending_then_resolves_either_way() {
        let base = secret("a");
        let (ours, theirs) = (rotated(&base, "ours", 20), rotated(&base, "theirs", 21));
        let SecretMerge::Conflict(m) = merge(Some(&base), Some(&ours), Some(&theirs)) else { panic!("conflict") };
        assert_eq!(values(&m), [(1, "a", Stage::Previous), (2, "ours", Stage::Current), (3, "theirs", Stage::Pending)]);
        let c = Conflict::of(&m).unwrap();
        assert_eq!((c.theirs_current, c.theirs_versions.clone()), (Some(3), vec![3]));
        assert!(c.describe().contains("theirs is kept as v3"), "{}", c.describe());

        let kept = resolve(m.clone(), Side::Ours, 50, 60).unwrap().unwrap();
        assert_eq!(kept.current().unwrap().value.expose(), "ours");
        assert_eq!(kept.body.versions[2].stage, Stage::Revoked, "their value stays known to mask");
        assert!(Conflict::of(&kept).is_none());

        let kept = resolve(m, Side::Theirs, 50, 60).unwrap().unwrap();
        assert_eq!(
            values(&kept),
            [(1, "a", Stage::Revoked), (2, "ours", Stage::Previous), (3, "theirs", Stage::Current)]
        );
        assert_eq!(kept.body.versions[1].grace_until, Some(110));
        assert!(resolve(kept, Side::Ours, 60, 60).is_none(), "no conflict left");
    }

    #[test]
    fn a_field_changed_differently_keeps_ours_and_records_theirs() {
        let base = secret("a");
        let (mut ours, mut theirs) = (base.clone(), base.clone());
        ours.body.meta.note = Some("ours".into());
        theirs.body.meta.note = Some("theirs".into());
        theirs.var = "OTHER".into();
        let SecretMerge::Conflict(m) = merge(Some(&base), Some(&ours), Some(&theirs)) else { panic!("conflict") };
        assert_eq!(m.body.meta.note.as_deref(), Some("ours"));
        assert_eq!(m.var, "OTHER", "only theirs renamed the variable");
        let r = resolve(m, Side::Theirs, 50, 60).unwrap().unwrap();
        assert_eq!(r.body.meta.note.as_deref(), Some("theirs"));
    }

    #[test]
    fn deleted_on_one_side_and_changed_on_the_other_is_kept_until_resolved() {
        let base = secret("a");
        let theirs = rotated(&base, "b", 20);
        let SecretMerge::Conflict(m) = merge(Some(&base), None, Some(&theirs)) else { panic!("conflict") };
        assert_eq!(m.current().unwrap().value.expose(), "b");
        assert!(resolve(m.clone(), Side::Ours, 30, 0).unwrap().is_none(), "ours deleted it");
        assert!(resolve(m, Side::Theirs, 30, 0).unwrap().is_some());
        assert!(matches!(merge(Some(&base), None, Some(&base)), SecretMerge::Deleted));
    }

    #[test]
    fn their_staged_rotation_is_kept_and_staged_again_when_theirs_wins() {
        let base = secret("a");
        let ours = rotated(&base, "ours", 20);
        let mut theirs = rotated(&base, "theirs", 21);
        crate::rotation::stage(&mut theirs, SecretValue::new("theirs-next".into()), 22).unwrap();
        let SecretMerge::Conflict(m) = merge(Some(&base), Some(&ours), Some(&theirs)) else { panic!("conflict") };
        assert_eq!(
            values(&m),
            [
                (1, "a", Stage::Previous),
                (2, "ours", Stage::Current),
                (4, "theirs", Stage::Pending),
                (5, "theirs-next", Stage::Revoked)
            ]
        );
        let r = resolve(m, Side::Theirs, 50, 60).unwrap().unwrap();
        assert_eq!(r.current().unwrap().value.expose(), "theirs");
        assert_eq!(crate::rotation::pending(&r).unwrap().value.expose(), "theirs-next");
    }

    /// The conflict record is what a branch wrote: `resolve` touches only versions the merge
    /// left pending or revoked, never brings back a compromised secret's revoked value, and
    /// never takes bookkeeping (compromise, exposure) from it.
    #[test]
    fn a_planted_conflict_record_cannot_promote_a_leaked_value_or_drop_marks() {
        let base = secret("leaked");
        let mut s = rotated(&base, "fresh", 20);
        s.body.versions[0].stage = Stage::Revoked;
        s.body.meta.ext.insert(crate::vault::secret::ext::COMPROMISED.into(), "20".into());
        s.body.meta.ext.insert(crate::vault::secret::ext::EXPOSED.into(), "20 member bob".into());
        let planted = serde_json::json!({
            "theirs_current": 1,
            "theirs_versions": [1],
            "theirs_meta": {"ext": {}, "note": "theirs", "created": 0},
        });
        s.body.meta.ext.insert(CONFLICT.into(), planted.to_string());
        let r = resolve(s.clone(), Side::Theirs, 50, 60).unwrap().unwrap();
        assert_eq!(r.current().unwrap().value.expose(), "fresh", "the leaked value stays revoked");
        // Not compromised, only rotated: an old revoked version below ours is still not theirs.
        let mut older = rotated(&rotated(&secret("first"), "second", 20), "third", 30);
        older
            .body
            .meta
            .ext
            .insert(CONFLICT.into(), serde_json::json!({"theirs_current": 1, "theirs_versions": [1]}).to_string());
        let kept = resolve(older, Side::Theirs, 50, 60).unwrap().unwrap();
        assert_eq!(kept.current().unwrap().value.expose(), "third");
        assert!(r.compromised() && r.body.meta.ext.contains_key(crate::vault::secret::ext::EXPOSED));
        assert_eq!(r.body.meta.note.as_deref(), Some("theirs"));
        assert_eq!(r.body.meta.created, 10);
        // Ours: the current version it names is not revoked.
        let r = resolve(s, Side::Ours, 50, 60).unwrap().unwrap();
        assert_eq!(r.current().unwrap().value.expose(), "fresh");
    }

    #[test]
    fn a_compromise_mark_on_either_side_survives() {
        let base = secret("a");
        let (ours, mut theirs) = (rotated(&base, "b", 20), base.clone());
        theirs.body.meta.ext.insert(crate::vault::secret::ext::COMPROMISED.into(), "30".into());
        let SecretMerge::Clean(m) = merge(Some(&base), Some(&ours), Some(&theirs)) else { panic!("clean") };
        assert!(m.compromised());
    }
}
