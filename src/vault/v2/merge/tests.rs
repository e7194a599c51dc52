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
        let slot = Slot { name: SlotName::new(SlotKind::Token, "admin"), recipient: keys::recipient(&admin), created: 1, argon2: None, added_by: None, ssh: None };
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
