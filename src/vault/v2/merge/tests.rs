//! The merge on random three-way edits: the union of both sides' changes, with a secret both
//! changed differently reported and kept side by side; never a lost value.

use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;

use super::*;
use crate::sensitive::{Key32, SecretValue};
use crate::vault::format::SlotKind;
use crate::vault::payload::{Record, Records};
use crate::vault::secret::{Metadata, Secret, default_var};
use crate::vault::slots::Access;
use crate::vault::v2::keys;
use crate::vault::v2::text::{Slot, SlotName};
use crate::vault::v2::vault::{NewSlot, slot_of};

fn record(name: &str, env: Option<&str>, value: &str) -> Record {
    let meta = Metadata::new(1);
    Record::encode(&Secret::new(
        name.into(),
        default_var(name),
        env.map(str::to_owned),
        meta,
        SecretValue::new(value.into()),
        1,
    ))
}

fn open(bytes: &[u8], secret: &Key32) -> Vault2 {
    let doc = text::parse(bytes).expect("parses");
    let slot = slot_of(&doc, secret).expect("a slot");
    Vault2::open(PathBuf::from("/tmp/v.kw"), doc, slot, secret.clone())
}

/// Name → (environment, value) of a vault, read with `secret`.
fn contents(bytes: &[u8], secret: &Key32) -> BTreeMap<String, (Option<String>, String)> {
    let v = open(bytes, secret);
    v.secrets()
        .unwrap()
        .0
        .into_iter()
        .map(|s| (s.name.clone(), (s.env.clone(), s.current().unwrap().value.expose().to_owned())))
        .collect()
}

/// Name → every value of a secret (all versions), read with `secret`.
fn pending(bytes: &[u8], secret: &Key32) -> BTreeMap<String, Vec<String>> {
    let v = open(bytes, secret);
    v.secrets()
        .unwrap()
        .0
        .into_iter()
        .map(|s| (s.name.clone(), s.body.versions.iter().map(|v| v.value.expose().to_owned()).collect()))
        .collect()
}

/// One side's edit: (secret index, what) where what is 0 = leave, 1 = new value, 2 = remove.
fn apply(base: &[u8], secret: &Key32, edits: &[(usize, u8)], tag: &str) -> Vec<u8> {
    let mut v = open(base, secret);
    let mut records = v.records().unwrap();
    for &(i, what) in edits {
        let name = format!("s{i}");
        let env = ["dev", "prod"][i % 2];
        records.records.retain(|r| r.name != name);
        if what == 1 {
            records.records.push(record(&name, Some(env), &format!("{name}-{tag}")));
        }
    }
    v.set_records(records);
    v.seal().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_three_way_edits_merge_to_the_union_or_conflict(
        ours in proptest::collection::vec((0usize..6, 0u8..3), 0..5),
        theirs in proptest::collection::vec((0usize..6, 0u8..3), 0..5),
    ) {
        let admin = Key32::random();
        let mut v = Vault2::create(PathBuf::from("/tmp/v.kw"), [5; 16], 1);
        let slot = Slot { name: SlotName::new(SlotKind::Token, "admin"), recipient: keys::recipient(&admin), created: 1, argon2: None, added_by: None, ssh: None, kms: None };
        v.add_slot(NewSlot { slot, access: Access::All }).unwrap();
        let records = (0..6).map(|i| record(&format!("s{i}"), Some(["dev", "prod"][i % 2]), &format!("s{i}-base"))).collect();
        v.set_records(Records { settings: vec![("audit_secret".into(), "00".into())], records });
        let base = v.seal().unwrap();
        let (a, b) = (apply(&base, &admin, &ours, "ours"), apply(&base, &admin, &theirs, "theirs"));
        let (v0, va, vb) = (open(&base, &admin), open(&a, &admin), open(&b, &admin));
        let keys = Keys { base: Some(&v0), ours: Some(&va), theirs: Some(&vb), now: 100 };
        let docs = [&base, &a, &b].map(|bytes| text::parse(bytes).unwrap());
        let merged = merge(&docs[0], &docs[1], &docs[2], &keys).unwrap();
        let (cb, ca, cbb) = (contents(&base, &admin), contents(&a, &admin), contents(&b, &admin));
        match merged {
            Merged::Text { text, conflicts, .. } => {
                let got = contents(text.as_bytes(), &admin);
                let all = pending(text.as_bytes(), &admin);
                // Each secret: whichever side changed it, or the base when neither did; one both
                // changed differently keeps ours, theirs beside it, and is reported.
                let names: std::collections::BTreeSet<&String> = cb.keys().chain(ca.keys()).chain(cbb.keys()).collect();
                for name in names {
                    let (w, m, o) = (cb.get(name), ca.get(name), cbb.get(name));
                    let reported = conflicts.iter().any(|(n, _)| n == name);
                    if m == o || o == w || m == w {
                        let expected = if m == o || o == w { m } else { o };
                        prop_assert_eq!(got.get(name), expected, "{}", name);
                        prop_assert!(!reported, "{} reported without a clash", name);
                        continue;
                    }
                    prop_assert!(reported, "{} clashed, yet not reported", name);
                    // Never a lost value: both sides' current values are in the result.
                    let values = all.get(name).cloned().unwrap_or_default();
                    for side in [m, o].into_iter().flatten() {
                        prop_assert!(values.contains(&side.1), "{} lost {:?}: {:?}", name, side.1, values);
                    }
                }
            }
            Merged::Conflict(why) => {
                // Secrets clash, members do not change here: always a file, never a refusal.
                prop_assert!(false, "refused: {why}");
            }
        }
    }
}

/// A remote added to an environment on one branch (its settings) and secrets added on the other
/// merge; the same setting changed differently on both is a conflict.
#[test]
fn environment_settings_merge_by_key() {
    let admin = Key32::random();
    let mut v = Vault2::create(PathBuf::from("/tmp/v.kw"), [6; 16], 1);
    let slot = Slot {
        name: SlotName::new(SlotKind::Token, "admin"),
        recipient: keys::recipient(&admin),
        created: 1,
        argon2: None,
        added_by: None,
        ssh: None,
        kms: None,
    };
    v.add_slot(NewSlot { slot, access: Access::All }).unwrap();
    let records = vec![record("a", Some("prod"), "a-base")];
    v.set_records(Records { settings: vec![("audit_secret".into(), "00".into())], records });
    let base = v.seal().unwrap();
    let with_remote = |url: &str| {
        let mut v = open(&base, &admin);
        v.set_domain_settings("prod", Settings(vec![("remote.aws".into(), url.into())])).unwrap();
        v.seal().unwrap()
    };
    let ours = with_remote("aws-sm://eu-west-1/app");
    let theirs = apply(&base, &admin, &[(1, 1)], "theirs");
    let merge_of = |a: &[u8], b: &[u8]| {
        let (v0, va, vb) = (open(&base, &admin), open(a, &admin), open(b, &admin));
        let keys = Keys { base: Some(&v0), ours: Some(&va), theirs: Some(&vb), now: 100 };
        let docs = [&base[..], a, b].map(|bytes| text::parse(bytes).unwrap());
        merge(&docs[0], &docs[1], &docs[2], &keys).unwrap()
    };
    let Merged::Text { text, .. } = merge_of(&ours, &theirs) else { panic!("a conflict") };
    let merged = open(text.as_bytes(), &admin);
    assert_eq!(
        merged.domain_settings("prod").unwrap().0,
        [("remote.aws".to_owned(), "aws-sm://eu-west-1/app".to_owned())]
    );
    assert!(merged.find("s1").unwrap().is_some());
    assert!(matches!(merge_of(&ours, &with_remote("aws-sm://us-east-1/other")), Merged::Conflict(_)));
}

/// A branch with fresh keys for every domain, wrapped to the same recipients and sealed with
/// them, authenticates for the merger: only the vouch chain tells it from a re-key. It is a
/// conflict, whichever path the merge takes.
#[test]
fn a_branch_with_replaced_keys_is_refused() {
    let admin = Key32::random();
    let slot = Slot {
        name: SlotName::new(SlotKind::Token, "admin"),
        recipient: keys::recipient(&admin),
        created: 1,
        argon2: None,
        added_by: None,
        ssh: None,
        kms: None,
    };
    let make = |records: Vec<Record>| {
        let mut v = Vault2::create(PathBuf::from("/tmp/v.kw"), [5; 16], 1);
        v.add_slot(NewSlot { slot: slot.clone(), access: Access::All }).unwrap();
        v.set_records(Records { settings: vec![("audit_secret".into(), "00".into())], records });
        v.seal().unwrap()
    };
    let base = make(vec![record("s0", Some("dev"), "base"), record("s1", Some("prod"), "base")]);
    let ours = apply(&base, &admin, &[(0, 1)], "ours");
    // Theirs: the same vault id, creation time and slots, every key new.
    let forged = make(vec![record("s0", Some("dev"), "base"), record("s1", Some("prod"), "attacker")]);
    for theirs in [forged.clone(), apply(&forged, &admin, &[(0, 1)], "theirs")] {
        let (v0, va, vb) = (open(&base, &admin), open(&ours, &admin), open(&theirs, &admin));
        let keys = Keys { base: Some(&v0), ours: Some(&va), theirs: Some(&vb), now: 100 };
        let docs = [&base, &ours, &theirs].map(|bytes| text::parse(bytes).unwrap());
        match merge(&docs[0], &docs[1], &docs[2], &keys).unwrap() {
            Merged::Conflict(why) => assert!(why.contains("does not vouch"), "{why}"),
            Merged::Text { .. } => panic!("a forged branch was merged"),
        }
    }
}

/// The slots of the membership property: an admin holding everything, t1 (dev), t2 (prod), t3
/// (added by an edit); their secrets.
struct Team {
    admin: Key32,
    tokens: [Key32; 3],
}

impl Team {
    fn slot(&self, i: usize) -> Slot {
        Slot {
            name: SlotName::new(SlotKind::Token, &format!("t{}", i + 1)),
            recipient: keys::recipient(&self.tokens[i]),
            created: 1,
            argon2: None,
            added_by: None,
            ssh: None,
            kms: None,
        }
    }
}

fn domains(names: &[&str]) -> Access {
    Access::Domains(names.iter().map(|d| (*d).to_owned()).collect())
}

/// One side: a membership change (0 none, 1 remove t1, 2 remove t2, 3 add t3 for dev, 4 grant t1
/// prod, 5 give t1 another key, 6 revoke prod from t2, 7 re-key everything), then secret edits as
/// [`apply`] makes them.
fn apply_side(base: &[u8], team: &Team, member: u8, edits: &[(usize, u8)], tag: &str) -> Vec<u8> {
    let mut v = open(base, &team.admin);
    match member {
        1 => drop(v.remove_slots(|s| s.name.label == "t1").unwrap()),
        2 => drop(v.remove_slots(|s| s.name.label == "t2").unwrap()),
        3 => v.add_slot(NewSlot { slot: team.slot(2), access: domains(&["dev"]) }).unwrap(),
        4 => v.set_access(&team.slot(0).name, domains(&["dev", "prod"])).unwrap(),
        5 => {
            // t1 given another key (removed, then added again).
            drop(v.remove_slots(|s| s.name.label == "t1").unwrap());
            let mut slot = team.slot(0);
            slot.recipient = keys::recipient(&Key32::random());
            v.add_slot(NewSlot { slot, access: domains(&["dev"]) }).unwrap();
        }
        6 => v.set_access(&team.slot(1).name, domains(&[])).unwrap(),
        7 => v.rekey_all().unwrap(),
        _ => {}
    }
    let mut records = v.records().unwrap();
    for &(i, what) in edits {
        let name = format!("s{i}");
        records.records.retain(|r| r.name != name);
        if what == 1 {
            records.records.push(record(&name, Some(["dev", "prod"][i % 2]), &format!("{name}-{tag}")));
        }
    }
    v.set_records(records);
    v.seal().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// With members changed on either side: the union of the secret changes (clashes kept side
    /// by side), a removal holding in the result, and no key a removed slot could ever unwrap
    /// (from any of the three files) left in use; a refusal only when both sides changed members.
    #[test]
    fn membership_changes_merge_with_the_removal_holding_and_no_old_key_left(
        ours_member in 0u8..8,
        theirs_member in 0u8..8,
        ours in proptest::collection::vec((0usize..4, 0u8..3), 0..4),
        theirs in proptest::collection::vec((0usize..4, 0u8..3), 0..4),
    ) {
        let team = Team { admin: Key32::random(), tokens: [Key32::random(), Key32::random(), Key32::random()] };
        let mut v = Vault2::create(PathBuf::from("/tmp/v.kw"), [6; 16], 1);
        let admin = Slot { name: SlotName::new(SlotKind::Token, "admin"), recipient: keys::recipient(&team.admin), created: 1, argon2: None, added_by: None, ssh: None, kms: None };
        v.add_slot(NewSlot { slot: admin, access: Access::All }).unwrap();
        v.add_slot(NewSlot { slot: team.slot(0), access: domains(&["dev"]) }).unwrap();
        v.add_slot(NewSlot { slot: team.slot(1), access: domains(&["prod"]) }).unwrap();
        let records = (0..4).map(|i| record(&format!("s{i}"), Some(["dev", "prod"][i % 2]), &format!("s{i}-base"))).collect();
        v.set_records(Records { settings: vec![("audit_secret".into(), "00".into())], records });
        let base = v.seal().unwrap();
        let a = apply_side(&base, &team, ours_member, &ours, "ours");
        let b = apply_side(&base, &team, theirs_member, &theirs, "theirs");
        let (v0, va, vb) = (open(&base, &team.admin), open(&a, &team.admin), open(&b, &team.admin));
        let keys = Keys { base: Some(&v0), ours: Some(&va), theirs: Some(&vb), now: 100 };
        let docs = [&base, &a, &b].map(|bytes| text::parse(bytes).unwrap());
        match merge(&docs[0], &docs[1], &docs[2], &keys).unwrap() {
            Merged::Conflict(why) => {
                prop_assert!(ours_member != 0 && theirs_member != 0, "refused with one membership change: {why}");
            }
            Merged::Text { text: merged, conflicts, .. } => {
                // A member added beside a re-key (`key rotate`: someone may hold the old keys,
                // which authenticate the addition) never gets the new keys.
                let rekey_and_add = (ours_member == 7 && theirs_member == 3) || (ours_member == 3 && theirs_member == 7);
                prop_assert!(!rekey_and_add, "an addition was merged beside a re-key");
                let (cb, ca, cbb) = (contents(&base, &team.admin), contents(&a, &team.admin), contents(&b, &team.admin));
                let got = contents(merged.as_bytes(), &team.admin);
                let all = pending(merged.as_bytes(), &team.admin);
                for name in cb.keys().chain(ca.keys()).chain(cbb.keys()).collect::<std::collections::BTreeSet<_>>() {
                    let (w, m, o) = (cb.get(name), ca.get(name), cbb.get(name));
                    if m == o || o == w || m == w {
                        prop_assert_eq!(got.get(name), if m == o || o == w { m } else { o }, "{}", name);
                    } else {
                        prop_assert!(conflicts.iter().any(|(n, _)| n == name), "{} clashed unreported", name);
                        for side in [m, o].into_iter().flatten() {
                            prop_assert!(all.get(name).is_some_and(|v| v.contains(&side.1)), "{} lost {:?}", name, side.1);
                        }
                    }
                }
                let merged_doc = text::parse(merged.as_bytes()).unwrap();
                for (i, token) in team.tokens.iter().enumerate() {
                    let label = format!("t{}", i + 1);
                    let removed = [&docs[1], &docs[2]].iter().any(|d| docs[0].slots.iter().any(|s| s.name.label == label) && !d.slots.iter().any(|s| s.name.label == label));
                    let present = merged_doc.slots.iter().any(|s| s.name.label == label);
                    prop_assert!(!(removed && present), "{} was removed on a side, yet is in the result", label);
                    // Still there with its original key: nothing to check.
                    if merged_doc.slots.iter().any(|s| s.name.label == label && s.recipient == keys::recipient(token)) {
                        continue;
                    }
                    // No key this slot could unwrap from any of the three files is in use.
                    for doc in &docs {
                        for d in &doc.domains {
                            for w in d.head.to.iter().filter(|w| w.slot.label == label) {
                                let Some(raw) = keys::unwrap(&w.age, &keys::identity(token)) else { continue };
                                let old = keys::DomainKey::new(&doc.id, raw);
                                for now in &merged_doc.domains {
                                    prop_assert!(now.head.key_id != old.id(), "{} could still open {}", label, now.head.name);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
