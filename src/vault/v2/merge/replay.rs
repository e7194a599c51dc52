//! The merge when the sides' members differ, or a domain was re-keyed on one side: lines cannot
//! be combined (a re-keyed domain's every line is new), so one side's changes are replayed onto
//! the other as edits through [`Vault2`], which re-wraps, re-keys and re-seals as any write does.
//!
//! Members merge as sets by slot, a removal winning over the other side's change to that slot;
//! a slot changed differently on both sides is a conflict. The side that removed members (or
//! re-keyed) is built on, so its new keys stay the ones readers have seen; every domain a removed
//! slot held is re-keyed again in the result when the removal is replayed. Secrets merge by value
//! (decoded, since a re-keyed domain's lines all changed) as [`super::secret`] does, and every
//! secret one side wrote in a domain that a member removed on the other side held is marked
//! exposed: it was written under a key that member had. Needs a merger who holds every domain on
//! all three sides.

use std::collections::{BTreeMap, BTreeSet};

use super::secret::{self, SecretMerge};
use super::{Keys, Merged, merge_settings, not_older};
use crate::error::Result;
use crate::vault::payload::Record;
use crate::vault::secret::{Secret, ext};
use crate::vault::slots::Access;
use crate::vault::v2::text::{self, ALL, Document, Slot, SlotName};
use crate::vault::v2::vault::{NewSlot, Vault2, access_of};

type Members = BTreeMap<SlotName, (Slot, Access)>;

fn members(doc: &Document) -> Members {
    let access = access_of(doc);
    doc.slots.iter().filter_map(|s| access.get(&s.name).map(|a| (s.name.clone(), (s.clone(), a.clone())))).collect()
}

/// Whether `side` removed or replaced a slot of `base`, or re-keyed one of its domains.
fn rekeyed(base: &Document, side: &Document) -> bool {
    let removed = base.slots.iter().any(|s| side.slot(&s.name).is_none_or(|now| now.recipient != s.recipient));
    let new_key =
        base.domains.iter().any(|d| side.domain(&d.head.name).is_some_and(|x| x.head.key_id != d.head.key_id));
    removed || new_key
}

fn secrets(v: &Vault2) -> Result<BTreeMap<String, Secret>> {
    Ok(v.secrets()?.0.into_iter().map(|s| (s.name.clone(), s)).collect())
}

/// See the module: `why` is what made the line merge give up, for a conflict's message.
pub(super) fn replay(
    base: &Document,
    ours: &Document,
    theirs: &Document,
    keys: &Keys<'_>,
    why: &str,
) -> Result<Merged> {
    let conflict = |reason: String| Ok(Merged::Conflict(reason));
    let (Some(kb), Some(kv), Some(kt)) = (keys.base, keys.ours, keys.theirs) else {
        return conflict(format!("{why}, and this machine cannot open every side to merge it"));
    };
    if !(kb.holds(ALL) && kv.holds(ALL) && kt.holds(ALL)) {
        return conflict(format!("{why}: merging that needs someone who holds every environment on both sides"));
    }
    for side in [ours, theirs] {
        for d in &base.domains {
            if side.domain(&d.head.name).is_some_and(|x| x.head.generation < d.head.generation) {
                return conflict(format!(
                    "{} on one side is an older generation than the common ancestor's",
                    d.head.name
                ));
            }
        }
    }
    // Members: by slot, a removal winning.
    let (mb, mm, mo) = (members(base), members(ours), members(theirs));
    let mut merged_members = Members::new();
    for name in mb.keys().chain(mm.keys()).chain(mo.keys()).collect::<BTreeSet<_>>() {
        let (b, m, o) = (mb.get(name), mm.get(name), mo.get(name));
        let pick = if m == o || o == b {
            m
        } else if m == b {
            o
        } else if m.is_none() || o.is_none() {
            None
        } else {
            return conflict(format!("{} was changed differently on both sides", name.describe()));
        };
        if let Some(member) = pick {
            merged_members.insert(name.clone(), member.clone());
        }
    }
    // Removed: a slot of the common ancestor gone from the result, or given another key.
    let removed: Vec<(&Slot, &Access)> = mb
        .values()
        .filter(|(s, _)| merged_members.get(&s.name).is_none_or(|(now, _)| now.recipient != s.recipient))
        .map(|(s, a)| (s, a))
        .collect();

    // Secrets, decoded: every one must be its side's newer work, not a line from history.
    let (sb, sm, so) = (secrets(kb)?, secrets(kv)?, secrets(kt)?);
    let base_time = sb.values().map(|s| s.body.meta.updated).max().unwrap_or(i64::MIN);
    for side in [&sm, &so] {
        for (name, s) in side {
            if sb.get(name) != Some(s) && !not_older(s, sb.get(name), base_time) {
                return conflict(format!(
                    "{name} on one side is older than the common ancestor's (a line from history?)"
                ));
            }
        }
    }

    // Build on the side that removed members or re-keyed, so its keys stay the ones seen.
    let theirs_first = rekeyed(base, theirs) && !rekeyed(base, ours);
    let (primary, primary_doc, primary_secrets) = if theirs_first { (kt, theirs, &so) } else { (kv, ours, &sm) };
    let Some(mut vault) = primary.reopen() else {
        return conflict(format!("{why}, and this machine cannot open the vault to re-seal it"));
    };
    let now_members = members(primary_doc);
    let gone: BTreeSet<&SlotName> = now_members
        .iter()
        .filter(|(n, (s, _))| merged_members.get(*n).is_none_or(|(m, _)| m != s))
        .map(|(n, _)| n)
        .collect();
    vault.remove_slots(|s| gone.contains(&s.name))?;
    for (name, (slot, access)) in &merged_members {
        match now_members.get(name) {
            Some((s, a)) if s == slot => {
                if a != access {
                    vault.set_access(name, access.clone())?;
                }
            }
            _ => vault.add_slot(NewSlot { slot: slot.clone(), access: access.clone() })?,
        }
    }

    // Secrets: by value; a clash kept side by side.
    let mut conflicts = Vec::new();
    let mut records = vault.records()?;
    let names: BTreeSet<&String> = sb.keys().chain(sm.keys()).chain(so.keys()).collect();
    let mut wanted: BTreeMap<String, Secret> = BTreeMap::new();
    for name in names {
        let (b, m, o) = (sb.get(name), sm.get(name), so.get(name));
        let pick = if m == o || o == b {
            m.cloned()
        } else if m == b {
            o.cloned()
        } else {
            match secret::merge(b, m, o) {
                SecretMerge::Deleted => None,
                SecretMerge::Clean(s) => Some(s),
                SecretMerge::Conflict(s) => {
                    let why = secret::Conflict::of(&s).map(|c| c.describe()).unwrap_or_default();
                    conflicts.push((name.clone(), why));
                    Some(s)
                }
            }
        };
        let Some(mut s) = pick else { continue };
        // Written by one side under a key a member removed on the other side held.
        for (slot, access) in &removed {
            let domain = text::domain_of(s.env.as_deref());
            if !access.holds(domain) {
                continue;
            }
            let removed_by_ours = mm.get(&slot.name).is_none_or(|(x, _)| x.recipient != slot.recipient);
            let writer = if removed_by_ours { o } else { m };
            if writer != b && s.current().is_some() && !s.body.meta.ext.contains_key(ext::EXPOSED) {
                s.body.meta.ext.insert(ext::EXPOSED.into(), format!("{} {}", keys.now, slot.name.describe()));
            }
        }
        wanted.insert(name.clone(), s);
    }
    records.records.retain(|r| wanted.contains_key(&r.name));
    for record in &mut records.records {
        if let Some(s) = wanted.remove(&record.name)
            && primary_secrets.get(&record.name) != Some(&s)
        {
            *record = Record::encode(&s);
        }
    }
    records.records.extend(wanted.values().map(Record::encode));
    records.records.sort_by(|a, b| a.name.cmp(&b.name));

    // Settings by key; the audit key rotated on both sides (both removed members) cannot be.
    let (setb, setm, seto) = (kb.settings()?, kv.settings()?, kt.settings()?);
    match merge_settings(&setm.0, &seto.0, &setb.0) {
        Ok(settings) => records.settings = settings,
        Err(key) => {
            return conflict(format!(
                "the vault setting {key} changed differently on both sides (both removed members? merge one removal, then redo the other)"
            ));
        }
    }
    vault.set_records(records);
    let rekeyed: Vec<String> = vault.rekeyed().map(str::to_owned).collect();
    let bytes = vault.seal()?;
    let text = String::from_utf8(bytes).unwrap_or_default();
    if let Err(e) = text::parse(text.as_bytes()) {
        return conflict(format!("the merged file would not read back ({e:?})"));
    }
    let mut resealed = vec!["every environment (members changed)".to_owned()];
    if !rekeyed.is_empty() {
        resealed.push(format!("re-keyed {}", rekeyed.join(", ")));
    }
    Ok(Merged::Text { text, resealed, conflicts })
}
