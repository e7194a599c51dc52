//! Tests of the opened version 2 vault: domains, limited keys, re-keying, and a property test
//! over random edits (kept apart from vault.rs, which they outgrew).

use super::*;
use crate::sensitive::SecretValue;
use crate::vault::secret::Metadata;

fn secret(name: &str, env: Option<&str>, value: &str) -> Record {
    Record::encode(&Secret::new(
        name.into(),
        crate::vault::secret::default_var(name),
        env.map(str::to_owned),
        Metadata::new(1),
        SecretValue::new(value.into()),
        1,
    ))
}

fn slot(kind: SlotKind, label: &str, secret: &Key32) -> Slot {
    Slot {
        name: SlotName::new(kind, label),
        recipient: keys::recipient(secret),
        created: 1,
        argon2: None,
        added_by: None,
        ssh: None,
        kms: None,
    }
}

fn reopen(bytes: &[u8], secret: &Key32) -> Vault2 {
    let doc = text::parse(bytes).expect("parses");
    let slot = slot_of(&doc, secret).expect("a slot for this key");
    Vault2::open(PathBuf::from("/tmp/v.kw"), doc, slot, secret.clone())
}

/// A vault with an all-domain token, a staging-only token and secrets in three domains.
fn sample() -> (Vec<u8>, Key32, Key32) {
    let (admin, staging) = (Key32::random(), Key32::random());
    let mut v = Vault2::create(PathBuf::from("/tmp/v.kw"), [9; 16], 1);
    v.add_slot(NewSlot { slot: slot(SlotKind::Token, "admin", &admin), access: Access::All }).unwrap();
    let only = Access::Domains(BTreeSet::from(["staging".to_owned()]));
    v.add_slot(NewSlot { slot: slot(SlotKind::Token, "ci-staging", &staging), access: only }).unwrap();
    let records = Records {
        settings: vec![("audit_secret".into(), "00".into())],
        records: vec![
            secret("shared", None, "shared-value"),
            secret("stage/key", Some("staging"), "staging-value"),
            secret("prod/key", Some("prod"), "prod-value"),
        ],
    };
    v.set_records(records);
    (v.seal().unwrap(), admin, staging)
}

fn value(v: &Vault2, name: &str) -> Result<String> {
    Ok(v.find(name)?.expect("exists").current().unwrap().value.expose().to_owned())
}

#[test]
fn each_slot_reads_exactly_its_domains() {
    let (bytes, admin, staging) = sample();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with("keyward vault 2\n"), "{text}");
    let a = reopen(&bytes, &admin);
    assert_eq!(value(&a, "prod/key").unwrap(), "prod-value");
    assert_eq!(value(&a, "stage/key").unwrap(), "staging-value");
    let s = reopen(&bytes, &staging);
    assert_eq!(value(&s, "shared").unwrap(), "shared-value");
    assert_eq!(value(&s, "stage/key").unwrap(), "staging-value");
    assert!(matches!(s.find("prod/key"), Err(Error::NoDomainAccess { .. })));
    let (secrets, skipped) = s.secrets().unwrap();
    assert_eq!(secrets.len(), 2);
    assert_eq!(skipped, vec!["prod".to_owned()]);
    assert_eq!(setting(&s.settings().unwrap(), "audit_secret").unwrap().as_str(), "00");
}

#[test]
fn an_unchanged_secret_keeps_its_line_and_a_new_one_adds_a_line() {
    let (bytes, admin, _) = sample();
    let mut v = reopen(&bytes, &admin);
    let mut records = v.records().unwrap();
    records.records.push(secret("zz/new", None, "new-value"));
    v.set_records(records);
    let after = v.seal().unwrap();
    let (before, after) = (String::from_utf8(bytes).unwrap(), String::from_utf8(after).unwrap());
    let old: BTreeSet<&str> = before.lines().collect();
    let new: BTreeSet<&str> = after.lines().collect();
    let added: Vec<&&str> = new.difference(&old).collect();
    let removed: Vec<&&str> = old.difference(&new).collect();
    // The new secret's line and @default's seal; nothing else.
    assert_eq!(added.len(), 2, "{added:#?}");
    assert_eq!(removed.len(), 1, "{removed:#?}");
    assert!(added.iter().any(|l| l.starts_with("secret zz/new ")));
}

#[test]
fn a_limited_slot_writes_its_domain_but_cannot_make_one() {
    let (bytes, admin, staging) = sample();
    let mut s = reopen(&bytes, &staging);
    let mut records = s.records().unwrap();
    records.records.push(secret("stage/other", Some("staging"), "v2"));
    s.set_records(records);
    let written = s.seal().unwrap();
    assert_eq!(value(&reopen(&written, &admin), "stage/other").unwrap(), "v2");
    let mut s = reopen(&written, &staging);
    let mut records = s.records().unwrap();
    records.records.push(secret("qa/key", Some("qa"), "v"));
    s.set_records(records);
    assert!(matches!(s.seal(), Err(Error::NewDomainNeedsAll { .. })));
}

#[test]
fn removing_a_slot_rekeys_what_it_held() {
    let (bytes, admin, staging) = sample();
    let mut v = reopen(&bytes, &admin);
    v.remove_slots(|s| s.name.label == "ci-staging").unwrap();
    let mut records = v.records().unwrap();
    records.records.push(secret("stage/after", Some("staging"), "after-removal"));
    v.set_records(records);
    let written = v.seal().unwrap();
    // The removed token has no slot any more.
    assert!(slot_of(&text::parse(&written).unwrap(), &staging).is_none());
    // The attack: the old file's wrap of staging opens with the removed token, but that key
    // no longer opens anything in the new file.
    let old_doc = text::parse(&bytes).unwrap();
    let old_wrap =
        &old_doc.domain("staging").unwrap().head.to.iter().find(|w| w.slot.label == "ci-staging").unwrap().age;
    let old_key = DomainKey::new(&old_doc.id, keys::unwrap(old_wrap, &keys::identity(&staging)).unwrap());
    let new_doc = text::parse(&written).unwrap();
    let d = new_doc.domain("staging").unwrap();
    assert_eq!(d.head.generation, 2);
    assert_ne!(d.head.key_id, old_key.id());
    for line in &d.secrets {
        let sealed = BASE64_NOPAD.decode(new_doc.sealed_text(line)).unwrap();
        let aad = record_aad(&new_doc.id, "staging", new_doc.secret_name(line));
        assert!(old_key.open(&aad, &sealed).is_err());
    }
    // The admin reads everything, and the vouch chain reaches the old key.
    let a = reopen(&written, &admin);
    assert_eq!(value(&a, "stage/after").unwrap(), "after-removal");
    let key = a.domain_key("staging").unwrap();
    assert!(keys::chain_reaches(&new_doc.id, "staging", &key, 2, &d.head.vouches, (1, old_key.id())));
}

/// An environment's settings (its remotes) are sealed under its key, bound to its name: its
/// holders read and write them, others neither; a re-key carries them over.
#[test]
fn environment_settings_belong_to_the_environment() {
    let (bytes, admin, staging) = sample();
    let mut v = reopen(&bytes, &admin);
    v.set_domain_settings("prod", Settings(vec![("remote.aws".into(), "aws-sm://eu-west-1/app".into())])).unwrap();
    v.set_domain_settings("staging", Settings(vec![("remote.kv".into(), "vault:secret/s".into())])).unwrap();
    let written = v.seal().unwrap();
    let text = String::from_utf8(written.clone()).unwrap();
    assert!(!text.contains("eu-west-1"));
    let s = reopen(&written, &staging);
    assert_eq!(s.domain_settings("staging").unwrap().0, [("remote.kv".to_owned(), "vault:secret/s".to_owned())]);
    assert!(matches!(s.domain_settings("prod"), Err(Error::NoDomainAccess { .. })));
    let mut s = s;
    assert!(s.set_domain_settings("prod", Settings::default()).is_err());
    // Unrelated writes keep the line; a re-key seals it again under the new key.
    let mut a = reopen(&written, &admin);
    a.remove_slots(|s| s.name.label == "ci-staging").unwrap();
    let rekeyed = a.seal().unwrap();
    let a = reopen(&rekeyed, &admin);
    assert_eq!(a.domain_settings("staging").unwrap().0, [("remote.kv".to_owned(), "vault:secret/s".to_owned())]);
    assert_eq!(a.domain_settings("prod").unwrap().0.len(), 1);
    // A settings line moved to another domain does not open there.
    let doc = text::parse(&written).unwrap();
    let sealed = doc.domain("staging").unwrap().head.settings.clone().unwrap();
    let a = reopen(&written, &admin);
    assert!(a.open_settings("prod", &sealed).is_err());
    assert!(a.open_settings("staging", &sealed).is_ok());
}

#[derive(Debug, Clone)]
enum Op {
    Add { name: u8, env: u8, value: u16 },
    Update { name: u8, value: u16 },
    Remove { name: u8 },
    TokenAdd { label: u8, envs: Vec<u8> },
    TokenRemove { label: u8 },
}

const ENVS: [Option<&str>; 4] = [None, Some("dev"), Some("staging"), Some("prod")];

fn op() -> impl proptest::strategy::Strategy<Value = Op> {
    use proptest::prelude::*;
    prop_oneof![
        (0u8..6, 0u8..4, any::<u16>()).prop_map(|(name, env, value)| Op::Add { name, env, value }),
        (0u8..6, any::<u16>()).prop_map(|(name, value)| Op::Update { name, value }),
        (0u8..6).prop_map(|name| Op::Remove { name }),
        (0u8..4, proptest::collection::vec(1u8..4, 0..3)).prop_map(|(label, envs)| Op::TokenAdd { label, envs }),
        (0u8..4).prop_map(|label| Op::TokenRemove { label }),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]

    /// Whatever sequence of adds, updates, removals, token adds and token removals: every
    /// domain opens for exactly the slots that should hold it, a removed token opens none,
    /// and every secret reads back as the model says.
    #[test]
    fn every_domain_opens_for_exactly_its_holders(ops in proptest::collection::vec(op(), 1..10)) {
        let id = [3u8; 16];
        let recovery = Key32::random();
        let mut v = Vault2::create(PathBuf::from("/nonexistent/p.kw"), id, 1);
        v.add_slot(NewSlot { slot: slot(SlotKind::Recovery, "", &recovery), access: Access::All }).unwrap();
        let mut bytes = v.seal().unwrap();
        let mut secrets: BTreeMap<String, (Option<&str>, String)> = BTreeMap::new();
        let mut tokens: BTreeMap<String, (Key32, Access)> = BTreeMap::new();
        let mut removed: Vec<Key32> = Vec::new();
        for op in ops {
            let mut v = reopen(&bytes, &recovery);
            let mut records = v.records().unwrap();
            match op {
                Op::Add { name, env, value } => {
                    let name = format!("s{name}");
                    if secrets.contains_key(&name) { continue; }
                    let env = ENVS[usize::from(env)];
                    records.records.push(secret(&name, env, &format!("value-{value}")));
                    secrets.insert(name, (env, format!("value-{value}")));
                }
                Op::Update { name, value } => {
                    let name = format!("s{name}");
                    let Some(entry) = secrets.get_mut(&name) else { continue };
                    let i = records.position(&name).unwrap();
                    records.records[i] = secret(&name, entry.0, &format!("new-{value}"));
                    entry.1 = format!("new-{value}");
                }
                Op::Remove { name } => {
                    let name = format!("s{name}");
                    if secrets.remove(&name).is_none() { continue; }
                    records.records.retain(|r| r.name != name);
                }
                Op::TokenAdd { label, envs } => {
                    let label = format!("t{label}");
                    if tokens.contains_key(&label) { continue; }
                    let key = Key32::random();
                    let access = if envs.is_empty() {
                        Access::All
                    } else {
                        Access::Domains(envs.iter().map(|e| ENVS[usize::from(*e)].unwrap().to_owned()).collect())
                    };
                    v.add_slot(NewSlot { slot: slot(SlotKind::Token, &label, &key), access: access.clone() }).unwrap();
                    tokens.insert(label, (key, access));
                }
                Op::TokenRemove { label } => {
                    let label = format!("t{label}");
                    let Some((key, _)) = tokens.remove(&label) else { continue };
                    v.remove_slots(|s| s.name.label == label).unwrap();
                    removed.push(key);
                }
            }
            v.set_records(records);
            bytes = v.seal().unwrap();

            let doc = text::parse(&bytes).unwrap();
            let holders = std::iter::once((recovery.clone(), Access::All)).chain(tokens.values().cloned());
            for (key, access) in holders {
                let identity = keys::identity(&key);
                for d in &doc.domains {
                    let name = &d.head.name;
                    let should = if name == ALL { access == Access::All } else { access.holds(name) };
                    let opens = d.head.to.iter().any(|w| {
                        keys::unwrap(&w.age, &identity).is_some_and(|k| DomainKey::new(&doc.id, k).id() == d.head.key_id)
                    });
                    proptest::prop_assert_eq!(opens, should, "{} for {:?}", name, access);
                    if should {
                        let reader = reopen(&bytes, &key);
                        let checked = reader.domain_key(name).map(|_| ());
                        proptest::prop_assert!(checked.is_ok(), "{} checks out: {:?}", name, checked);
                    }
                }
            }
            for key in &removed {
                let identity = keys::identity(key);
                for d in &doc.domains {
                    proptest::prop_assert!(d.head.to.iter().all(|w| keys::unwrap(&w.age, &identity).is_none()));
                }
            }
            let admin = reopen(&bytes, &recovery);
            for (name, (env, value)) in &secrets {
                let s = admin.find(name).unwrap().unwrap();
                proptest::prop_assert_eq!(s.env.as_deref(), *env);
                proptest::prop_assert_eq!(s.current().unwrap().value.expose(), value.as_str());
            }
            proptest::prop_assert_eq!(admin.secrets().unwrap().0.len(), secrets.len());
        }
    }
}

#[test]
fn tampering_with_a_domain_is_damage() {
    let (bytes, admin, _) = sample();
    let text = String::from_utf8(bytes).unwrap();
    // Remove the prod secret's line.
    let removed: String =
        text.lines().filter(|l| !l.starts_with("secret prod/key ")).map(|l| format!("{l}\n")).collect();
    let v = reopen(removed.as_bytes(), &admin);
    assert!(matches!(v.domain_key("prod"), Err(Error::Damaged { .. })));
    assert!(matches!(v.find("shared"), Ok(Some(_))), "other domains still open");
}

/// The file may be mapped and written in place by another program after it was parsed: a body
/// that no longer carries the tag the seal authenticated is neither read nor written back.
#[test]
fn a_body_changed_in_the_file_after_parsing_is_neither_read_nor_written_back() {
    let (bytes, admin, _) = sample();
    let mut doc = text::parse(&bytes).unwrap();
    let file = doc.file_mut().unwrap();
    let line = memchr::memmem::find(file, b"secret shared SHARED ").unwrap() + "secret shared SHARED ".len();
    // Character 20 of the body is in the tag (characters 16..40).
    file[line + 20] = if file[line + 20] == b'A' { b'B' } else { b'A' };
    let slot = slot_of(&doc, &admin).unwrap();
    let mut v = Vault2::open(PathBuf::from("/tmp/v.kw"), doc, slot, admin.clone());
    assert!(v.find("shared").is_err(), "a changed body must not be read");
    assert_eq!(value(&v, "prod/key").unwrap(), "prod-value");
    let e = v.seal().unwrap_err().to_string();
    assert!(e.contains("shared changed in the file"), "{e}");
}

fn reopen_for(bytes: &[u8], secret: &Key32, name: &str) -> Vault2 {
    let doc = text::parse_for_secret(bytes.to_vec().into(), name).expect("parses");
    let slot = slot_of(&doc, secret).expect("a slot for this key");
    Vault2::open(PathBuf::from("/tmp/v.kw"), doc, slot, secret.clone())
}

/// A vault of `n` secrets spread over three environments and the default domain.
fn spread(n: usize) -> (Vec<u8>, Key32, Vec<String>) {
    let admin = Key32::random();
    let mut v = Vault2::create(PathBuf::from("/tmp/v.kw"), [7; 16], 1);
    v.add_slot(NewSlot { slot: slot(SlotKind::Token, "admin", &admin), access: Access::All }).unwrap();
    let envs = [None, Some("dev"), Some("prod"), Some("staging")];
    let names: Vec<String> = (0..n).map(|i| format!("svc-{}/key-{i}", i % 7)).collect();
    let records = names.iter().enumerate().map(|(i, name)| secret(name, envs[i % 4], &format!("value-{i}"))).collect();
    v.set_records(Records { settings: vec![("audit_secret".into(), "00".into())], records });
    (v.seal().unwrap(), admin, names)
}

/// `get`'s read: every name (and a missing one) is found, or not, exactly as a whole read finds
/// it, while environments that cannot hold the name are not parsed; what is read that way is
/// never written back.
#[test]
fn a_read_for_one_secret_finds_what_a_whole_read_finds() {
    let (bytes, admin, names) = spread(200);
    let whole = reopen(&bytes, &admin);
    for name in names.iter().map(String::as_str).chain(["svc-0/missing", "aaa", "zzz"]) {
        let part = reopen_for(&bytes, &admin, name);
        let (a, b) = (whole.find(name).unwrap(), part.find(name).unwrap());
        assert_eq!(
            a.map(|s| s.current().unwrap().value.expose().to_owned()),
            b.map(|s| s.current().unwrap().value.expose().to_owned()),
            "{name}"
        );
        assert!(part.document().is_partial(), "{name}: two environments at least cannot hold it");
        let parsed: usize = part.document().domains.iter().map(|d| d.secrets.len()).sum();
        assert!(parsed <= 100, "{name}: {parsed} lines parsed");
    }
    let mut part = reopen_for(&bytes, &admin, &names[1]);
    assert!(part.seal().unwrap_err().to_string().contains("read for one secret"));
}

/// Damage is still found where the read looks, and reported as a whole read reports it.
#[test]
fn a_read_for_one_secret_reports_damage_as_a_whole_read_does() {
    let (bytes, _, names) = spread(40);
    let text = String::from_utf8(bytes).unwrap();
    // A name in two environments (a dev line copied into prod, in its sorted place) is found
    // when reading that name.
    let first_dev = names[1].clone();
    let line = text.lines().find(|l| l.starts_with(&format!("secret {first_dev} "))).unwrap().to_owned();
    let prod = text.find("\ndomain prod ").unwrap();
    let mut at = prod + text[prod..].find("\nsecret ").unwrap() + 1;
    while text[at..].starts_with("secret ") && text[at + 7..].split(' ').next().unwrap() < first_dev.as_str() {
        at += text[at..].find('\n').unwrap() + 1;
    }
    let mut twice = text.clone();
    twice.insert_str(at, &format!("{line}\n"));
    let whole = text::parse(twice.as_bytes()).unwrap_err();
    let part = text::parse_for_secret(twice.as_bytes().to_vec().into(), &first_dev).unwrap_err();
    assert_eq!(part, whole);
    // Damage after a skipped environment: the same error, with the same line number.
    let broken = format!("{text}junk\n");
    let whole = text::parse(broken.as_bytes()).unwrap_err();
    let part = text::parse_for_secret(broken.as_bytes().to_vec().into(), &names[1]).unwrap_err();
    assert!(matches!(whole, text::ParseError::Damaged { line, .. } if line > 10), "{whole:?}");
    assert_eq!(part, whole);
    // Chosen: a line inside an environment the read steps over is not looked at, as that
    // environment's seal is not checked either; reading it finds the damage.
    let staging = text.find("\ndomain staging ").unwrap();
    let last = staging + text[staging..].rfind("\nsecret ").unwrap() + 1;
    let mut inside = text.clone();
    inside.insert_str(last, "secret BAD name\n");
    assert!(text::parse_for_secret(inside.as_bytes().to_vec().into(), &names[1]).is_ok());
    assert!(text::parse_for_secret(inside.as_bytes().to_vec().into(), &names[3]).is_err());
}

fn new_secret(name: &str, var: &str, env: Option<&str>) -> Secret {
    Secret::new(
        name.into(),
        var.into(),
        env.map(str::to_owned),
        Metadata::new(2),
        SecretValue::new("new-value".into()),
        2,
    )
}

/// `add`'s path: one record added to the file as it is writes the same file as adding it to
/// every record does (the new line aside, whose nonce is fresh), with every other line kept.
#[test]
fn adding_to_the_file_as_it_is_writes_what_adding_to_every_record_writes() {
    let (bytes, admin, names) = spread(60);
    for env in [None, Some("prod"), Some("qa")] {
        let new = new_secret("svc-3/new", "SVC_NEW", env);
        let mut fast = reopen(&bytes, &admin);
        fast.add_new(&new).unwrap();
        assert_eq!(fast.find("svc-3/new").unwrap().unwrap().current().unwrap().value.expose(), "new-value");
        let fast = fast.seal().unwrap();
        let mut whole = reopen(&bytes, &admin);
        let mut records = whole.records().unwrap();
        records.records.push(Record::encode(&new));
        whole.set_records(records);
        let whole = whole.seal().unwrap();
        let lines = |b: &[u8]| -> Vec<String> {
            String::from_utf8(b.to_vec())
                .unwrap()
                .lines()
                .filter(|l| !l.starts_with("secret svc-3/new "))
                .map(str::to_owned)
                .collect()
        };
        let (f, w) = (lines(&fast), lines(&whole));
        // The new domain (qa) gets a fresh key either way: compare all but its head then.
        if env == Some("qa") {
            assert_eq!(f.len(), w.len());
        } else {
            assert_eq!(
                f.iter().filter(|l| !l.starts_with("seal ")).collect::<Vec<_>>(),
                w.iter().filter(|l| !l.starts_with("seal ")).collect::<Vec<_>>(),
                "{env:?}"
            );
        }
        let v = reopen(&fast, &admin);
        for name in &names {
            assert!(v.find(name).unwrap().is_some(), "{name}");
        }
        assert_eq!(v.find("svc-3/new").unwrap().unwrap().env.as_deref(), env);
    }
}

#[test]
fn adding_to_the_file_checks_name_pairing_and_variable() {
    let (bytes, admin, names) = spread(20);
    let mut v = reopen(&bytes, &admin);
    assert!(matches!(v.add_new(&new_secret(&names[0], "X", None)), Err(Error::SecretExists { .. })));
    let mut paired = new_secret("svc-9/p", "P", None);
    paired.body.meta.ext.insert(crate::vault::secret::ext::PAIRED_WITH.into(), "svc-9/none".into());
    assert!(matches!(v.add_new(&paired), Err(Error::SecretNotFound { .. })));
    paired.body.meta.ext.insert(crate::vault::secret::ext::PAIRED_WITH.into(), names[0].clone());
    v.add_new(&paired).unwrap();
    // names[2] is in prod (see `spread`): its variable is taken there, not in dev.
    let var = crate::vault::secret::default_var(&names[2]);
    assert!(matches!(v.add_new(&new_secret("svc-9/q", &var, Some("prod"))), Err(Error::VarConflict { .. })));
    v.add_new(&new_secret("svc-9/q", &var, Some("dev"))).unwrap();
    assert!(matches!(v.add_new(&new_secret("svc-9/q", "OTHER", Some("dev"))), Err(Error::SecretExists { .. })));
}

/// The domain a record is added to is sealed anew: its old seal must hold first, or a writer
/// would vouch for lines someone else changed; and what `add` checks names against must be
/// authenticated.
#[test]
fn adding_to_a_tampered_environment_is_refused() {
    let (bytes, admin, _) = spread(20);
    let text = String::from_utf8(bytes).unwrap();
    let prod = text.find("\ndomain prod ").unwrap();
    let at = prod + text[prod..].find("\nsecret ").unwrap() + 1;
    let end = at + text[at..].find('\n').unwrap();
    // Drop prod's first line: its seal no longer holds.
    let tampered = format!("{}{}", &text[..at], &text[end + 1..]);
    // Adding there, or anywhere: every domain the slot holds is authenticated first, as reading
    // every record did.
    for env in [Some("prod"), Some("dev"), None] {
        let mut v = reopen(tampered.as_bytes(), &admin);
        let e = v.add_new(&new_secret("svc-9/new", "NEW", env)).unwrap_err();
        assert!(matches!(e, Error::Damaged { .. }), "{e}");
    }
}
