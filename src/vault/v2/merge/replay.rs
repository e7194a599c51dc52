//! The merge when members or keys changed on one side: lines cannot be combined (a re-keyed
//! domain's every line is new), so the other side's secret changes are replayed onto that side
//! through [`Vault2`], which re-seals as any write does.
//!
//! One side (the primary) may have changed members or keys: added, removed or re-granted slots,
//! re-keyed or created domains. Its every domain must descend from the common ancestor's (the
//! same key, or a re-key the ancestor's key vouches for): a fresh key wrapped to the same
//! recipients authenticates too. The other side may have changed secrets and settings; members
//! it added or granted more join the result when the primary took nothing from anyone (a set
//! union); and, since a removal wins, its grants to or revokes from a slot the primary removed
//! are dropped, and every domain such a slot held on the other side is re-keyed in the result
//! unless the primary already re-keyed it. Anything else (a member changed differently on both
//! sides, an addition beside a removal, keys changed on both sides) is a conflict: merge one
//! side, then redo the other's change. Every secret value the other side
//! wrote in a domain a removed slot held is marked exposed to that slot: it was written under a
//! key the slot had. Needs a merger who holds every domain on all three sides.

use std::collections::{BTreeMap, BTreeSet};

use super::secret::{self, SecretMerge};
use super::{Keys, Merged, merge_settings, not_older};
use crate::error::Result;
use crate::vault::payload::Record;
use crate::vault::secret::{Secret, ext};
use crate::vault::slots::Access;
use crate::vault::v2::text::{self, ALL, DEFAULT, Document, Slot, SlotName};
use crate::vault::v2::vault::{NewSlot, Settings, Vault2, access_of};

type Members = BTreeMap<SlotName, (Slot, Access)>;

fn members(doc: &Document) -> Members {
    let access = access_of(doc);
    doc.slots.iter().filter_map(|s| access.get(&s.name).map(|a| (s.name.clone(), (s.clone(), a.clone())))).collect()
}

/// Whether `side` changed members or keys: slots added, removed, replaced or re-granted,
/// domains re-keyed or created.
fn changed(base: &Document, side: &Document) -> bool {
    members(base) != members(side)
        || side.domains.iter().any(|d| base.domain(&d.head.name).is_none_or(|b| b.head.key_id != d.head.key_id))
}

/// Whether access `a` includes everything `b` gives.
fn covers(a: &Access, b: &Access) -> bool {
    match (a, b) {
        (Access::All, _) => true,
        (Access::Domains(_), Access::All) => false,
        (Access::Domains(a), Access::Domains(b)) => b.is_subset(a),
    }
}

/// Whether a slot of `base` is gone from `side`, or has another key there.
fn removed_in(side: &Members, slot: &Slot) -> bool {
    side.get(&slot.name).is_none_or(|(now, _)| now.recipient != slot.recipient)
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
    let (mb, mm, mo) = (members(base), members(ours), members(theirs));
    // The primary: the side that changed members or keys (the one that removed someone, when
    // both did). The other may add or widen members (joined below), touch slots the primary
    // removed (a removal wins), and change no key.
    let removes = |side: &Members| mb.values().any(|(s, _)| removed_in(side, s));
    let theirs_primary = if changed(base, theirs) && changed(base, ours) {
        removes(&mo) && !removes(&mm)
    } else {
        changed(base, theirs)
    };
    let (primary, primary_doc, primary_members, other_doc, other_members) =
        if theirs_primary { (kt, theirs, &mo, ours, &mm) } else { (kv, ours, &mm, theirs, &mo) };
    let removed: Vec<&Slot> = mb
        .values()
        .chain(other_members.values())
        .map(|(s, _)| s)
        .filter(|s| mb.contains_key(&s.name) && removed_in(primary_members, s))
        .collect();
    // Whether the primary took anything from anyone (removed, gave a member another key, or
    // revoked) or re-keyed (`key rotate`, done when someone may still hold old keys): then a
    // member the other side added or granted could be the work of whoever lost access, who still
    // knows the ancestor's keys, and must not get the new ones.
    let narrowed = mb.values().any(|(s, a)| {
        !primary_members.get(&s.name).is_some_and(|(now, access)| now.recipient == s.recipient && covers(access, a))
    }) || primary_doc
        .domains
        .iter()
        .any(|d| base.domain(&d.head.name).is_some_and(|b| b.head.key_id != d.head.key_id));
    // Members the other side added, or granted more, that the primary left as they were: joined
    // in (membership merges as a set) when the primary took nothing from anyone.
    let mut joined: Vec<&(Slot, Access)> = Vec::new();
    for (name, member) in other_members {
        let was = mb.get(name);
        if was == Some(member) || removed.iter().any(|r| &r.name == name) {
            continue;
        }
        let widened = was.is_none_or(|(s, a)| s == &member.0 && covers(&member.1, a));
        let primary_as_was = primary_members.get(name) == was;
        if !narrowed && widened && primary_as_was {
            joined.push(member);
            continue;
        }
        if primary_members.get(name) == Some(member) {
            continue;
        }
        return conflict(format!(
            "members or keys changed on both sides ({} on one side): merge one side, then redo the other's change",
            name.describe()
        ));
    }
    for (name, member) in &mb {
        if !other_members.contains_key(name) && !removed_in(primary_members, &member.0) {
            return conflict(format!(
                "members changed on both sides ({} removed on one side only): merge one side, then redo the other's change",
                name.describe()
            ));
        }
        // Removed on the other side: gone from the result under any key (a removal wins over a
        // re-add with a new key on the primary).
        if !other_members.contains_key(name) && primary_members.contains_key(name) {
            return conflict(format!(
                "{} was removed on one side and given another key on the other: merge the removal, then add them again",
                name.describe()
            ));
        }
    }
    if other_doc.domains.iter().any(|d| base.domain(&d.head.name).is_none_or(|b| b.head.key_id != d.head.key_id)) {
        return conflict(format!(
            "{why}, and the other side re-keyed or created an environment too: merge one side, then redo the other's change"
        ));
    }
    for d in &base.domains {
        if primary_doc.domain(&d.head.name).is_some() && !primary.descends_from(&d.head.name, &d.head)? {
            return conflict(format!(
                "{} is under a key the common ancestor's does not vouch for (replaced, not re-keyed)",
                d.head.name
            ));
        }
    }

    // Secrets, decoded: every one must be its side's newer work, not a line from history.
    let (sb, sm, so) = (secrets(kb)?, secrets(kv)?, secrets(kt)?);
    let base_time = sb.values().map(|s| s.body.meta.updated).max().unwrap_or(i64::MIN);
    for side in [&sm, &so] {
        for (name, s) in side {
            if sb.get(name) == Some(s) {
                continue;
            }
            if !not_older(s, sb.get(name), base_time) {
                return conflict(format!(
                    "{name} on one side is older than the common ancestor's (a line from history?)"
                ));
            }
            if s.body.meta.ext.contains_key(secret::CONFLICT) {
                return conflict(format!(
                    "{name} carries an unresolved merge conflict: resolve it on its branch first"
                ));
            }
        }
    }

    let Some(mut vault) = primary.reopen() else {
        return conflict(format!("{why}, and this machine cannot open the vault to re-seal it"));
    };
    // The members of the result: the primary's, and those joined from the other side.
    let mut result_members = primary_members.clone();
    for (slot, access) in &joined {
        let done = if primary_members.contains_key(&slot.name) {
            vault.set_access(&slot.name, access.clone())
        } else {
            vault.add_slot(NewSlot { slot: slot.clone(), access: access.clone() })
        };
        if let Err(e) = done {
            return conflict(format!("{} from the other side cannot join: {e}", slot.name.describe()));
        }
        result_members.insert(slot.name.clone(), (slot.clone(), access.clone()));
    }
    // Per domain, the slots that held it in the common ancestor or on the other side but do
    // not hold it in the result (removed, revoked, or given another key): the domain gets a key
    // they never had unless the primary already gave it one, and what the other side wrote in
    // it is exposed to them.
    let holds =
        |member: &(Slot, Access), domain: &str| member.1.holds(domain) && (domain != ALL || member.1 == Access::All);
    let mut losers: BTreeMap<&str, Vec<&SlotName>> = BTreeMap::new();
    for d in &base.domains {
        let name = d.head.name.as_str();
        for member in mb.values().chain(other_members.values()) {
            let still = result_members
                .get(&member.0.name)
                .is_some_and(|now| now.0.recipient == member.0.recipient && holds(now, name));
            if holds(member, name) && !still && !losers.get(name).is_some_and(|l| l.contains(&&member.0.name)) {
                losers.entry(name).or_default().push(&member.0.name);
            }
        }
        let same_key = primary_doc.domain(name).is_some_and(|p| p.head.key_id == d.head.key_id);
        if same_key && losers.contains_key(name) {
            vault.rekey_domain(name)?;
        }
    }

    // Secrets: by value; a clash kept side by side.
    let other_secrets = if theirs_primary { &sm } else { &so };
    let primary_secrets = if theirs_primary { &so } else { &sm };
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
                SecretMerge::Refused(why) => return conflict(why),
                SecretMerge::Clean(s) => Some(s),
                SecretMerge::Conflict(s) => {
                    let why = secret::Conflict::of(&s).map(|c| c.describe()).unwrap_or_default();
                    conflicts.push((name.clone(), why));
                    Some(s)
                }
            }
        };
        let Some(mut s) = pick else { continue };
        // A value the other side wrote under a key a slot that lost the domain held.
        let written = other_secrets.get(name).is_some_and(|x| b.is_none_or(|b| b.body.versions != x.body.versions));
        let domain = text::domain_of(s.env.as_deref()).to_owned();
        if written
            && s.current().is_some()
            && let Some(who) = losers.get(domain.as_str()).and_then(|l| l.first())
        {
            s.body.meta.ext.insert(ext::EXPOSED.into(), format!("{} {}", keys.now, who.describe()));
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

    // Settings by key (the other side did not re-key @default, so did not rotate the audit key).
    let (setb, setm, seto) = (kb.settings()?, kv.settings()?, kt.settings()?);
    match merge_settings(&setm.0, &seto.0, &setb.0) {
        Ok(mut settings) => {
            // The replaced settings are wiped as they go (the audit secret is among them).
            let old = std::mem::replace(&mut records.settings, std::mem::take(&mut settings.0));
            drop(Settings(old));
        }
        Err(key) => return conflict(format!("the vault setting {key} changed differently on both sides")),
    }
    vault.set_records(records);
    // An environment's settings (its remotes) merge by key the same way.
    let envs: BTreeSet<&str> = [base, ours, theirs]
        .iter()
        .flat_map(|d| d.domains.iter().map(|d| d.head.name.as_str()))
        .filter(|n| *n != ALL && *n != DEFAULT)
        .collect();
    for env in envs {
        let read = |v: &Vault2| -> Result<Settings> {
            if v.document().domain(env).is_some() { v.domain_settings(env) } else { Ok(Settings::default()) }
        };
        let (setb, setm, seto) = (read(kb)?, read(kv)?, read(kt)?);
        match merge_settings(&setm.0, &seto.0, &setb.0) {
            Ok(settings) if settings != read(&vault)? => vault.set_domain_settings(env, settings)?,
            Ok(_) => {}
            Err(key) => return conflict(format!("the setting {key} of {env} changed differently on both sides")),
        }
    }
    let rekeyed: Vec<String> = vault.rekeyed().map(str::to_owned).collect();
    // The drivers never run a plugin: a re-key that must wrap for a plugin member is a merge
    // for keyward itself to redo.
    let bytes = match vault.seal() {
        Err(
            crate::error::Error::PluginNotAllowed { plugin, slot }
            | crate::error::Error::PluginFailed { plugin, slot, .. },
        ) => {
            return conflict(format!(
                "{why}, and re-keying means wrapping for {slot}, whose key is age-plugin-{plugin}'s, which the merge driver never runs: keep one side and redo the other's change with keyward"
            ));
        }
        other => other?,
    };
    let text = String::from_utf8(bytes).unwrap_or_default();
    if let Err(e) = text::parse(text.as_bytes()) {
        return conflict(format!("the merged file would not read back ({e:?})"));
    }
    let mut resealed =
        vec![format!("the other side's secrets onto {}", if theirs_primary { "theirs" } else { "ours" })];
    if !rekeyed.is_empty() {
        resealed.push(format!("re-keyed {}", rekeyed.join(", ")));
    }
    Ok(Merged::Text { text, resealed, conflicts })
}
