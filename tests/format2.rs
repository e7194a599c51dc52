//! Vault format 2 (issue 16), through the real binary: re-keying on removal, environments as key
//! domains, a text file git can diff and merge, rollback and replacement, the age interop, and
//! `key upgrade`.

use crate::common;

use std::path::Path;

use common::{Env, refused, run, stderr, stdout};

/// A token printed by `key token add`.
fn token(env: &Env, label: &str, extra: &[&str]) -> String {
    let out = env.cmd().args(["key", "token", "add", label]).args(extra).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out).trim().to_owned()
}

/// A vault with secrets in the default domain, staging and prod, and a staging-only token.
fn team() -> (Env, String) {
    let env = Env::with_recovery_key();
    env.add("shared/key", "shared-value-0000001", &[]);
    env.add("stage/key", "staging-value-000001", &["--env", "staging"]);
    env.add("prod/key", "prod-value-000000001", &["--env", "prod"]);
    let staging = token(&env, "ci-staging", &["--env", "staging"]);
    (env, staging)
}

/// The vault's parsed text (the library's parser, as a reader of the file would).
fn document(path: &Path) -> keyward::vault::v2::text::Document {
    keyward::vault::v2::text::parse(&std::fs::read(path).unwrap()).expect("a format 2 vault")
}

/// The 32-byte secret of a token or recovery key.
fn secret_of(code: &str) -> keyward::sensitive::Key32 {
    keyward::unlock::codes::parse(code).expect("a key").secret
}

// ---------------------------------------------------------------- domains

#[test]
fn a_staging_token_reads_staging_and_the_default_domain_and_nothing_else() {
    let (env, staging) = team();
    let as_staging = |args: &[&str]| env.cmd().env("KEYWARD_VAULT_KEY", &staging).args(args).output().unwrap();
    assert_eq!(stdout(&as_staging(&["get", "stage/key"])), "staging-value-000001\n");
    assert_eq!(stdout(&as_staging(&["get", "shared/key"])), "shared-value-0000001\n");

    let says = "token ci-staging has no access to prod";
    refused(&as_staging(&["get", "prod/key"]), 4, says);
    refused(&as_staging(&["export", "--env", "prod"]), 4, says);
    refused(&as_staging(&["export", "--only", "prod/key"]), 4, says);
    let out = env
        .cmd()
        .env("KEYWARD_VAULT_KEY", &staging)
        .args(["inject"])
        .write_stdin("{{ keyward:prod/key }}")
        .output()
        .unwrap();
    refused(&out, 4, says);
    refused(&as_staging(&["exec", "--env", "prod", "--", "env"]), 125, says);
    refused(&as_staging(&["exec", "--only", "prod/key", "--", "env"]), 125, says);
    let out = env
        .cmd()
        .env("KEYWARD_VAULT_KEY", &staging)
        .env("P", "keyward:prod/key")
        .args(["exec", "--", "env"])
        .output()
        .unwrap();
    refused(&out, 125, says);
    // Its own environment works under exec, with the default domain's secrets.
    let out = as_staging(&["exec", "--env", "staging", "--no-mask", "--", "env"]);
    assert!(stdout(&out).contains("STAGE_KEY=staging-value-000001"), "{}", stderr(&out));
    assert!(stdout(&out).contains("SHARED_KEY=shared-value-0000001"));
    assert!(!stdout(&out).contains("prod-value"));

    // list shows every name (names are in the clear) and marks what it cannot open.
    let out = as_staging(&["list"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let line = stdout(&out).lines().find(|l| l.starts_with("prod/key")).unwrap().to_owned();
    assert!(line.contains("(no access)") && !line.contains("prod-value"), "{line}");
    assert!(stderr(&out).contains("has no access to prod"), "{}", stderr(&out));
    // Commands over the whole vault say what they skipped.
    let out = as_staging(&["validate", "--all"]);
    assert!(stderr(&out).contains("skipped prod"), "{}", stderr(&out));
    let out = as_staging(&["rotate", "--due", "--within", "1000d"]);
    assert!(stderr(&out).contains("skipped prod"), "{}", stderr(&out));
    // Whoever holds every domain reads prod.
    assert_eq!(env.get("prod/key"), "prod-value-000000001");
}

#[test]
fn key_status_and_token_list_show_each_slots_domains() {
    let (env, _) = team();
    let out = run(&env, &["key", "token", "list"]);
    assert!(
        stdout(&out).contains("ci-staging") && stdout(&out).contains("staging, (no environment)"),
        "{}",
        stdout(&out)
    );
    let status: serde_json::Value = serde_json::from_slice(&run(&env, &["key", "status", "--json"]).stdout).unwrap();
    assert_eq!(status["format_version"], 2);
    let slots = status["slots"].as_array().unwrap();
    let token = slots.iter().find(|s| s["label"] == "ci-staging").unwrap();
    assert_eq!(token["access"], serde_json::json!(["staging"]));
    let recovery = slots.iter().find(|s| s["kind"] == "recovery").unwrap();
    assert_eq!(recovery["access"], "all");
}

#[test]
fn only_a_key_of_every_domain_adds_slots_or_makes_an_environment() {
    let (env, staging) = team();
    let as_staging = |args: &[&str]| env.cmd().env("KEYWARD_VAULT_KEY", &staging).args(args).output().unwrap();
    refused(&as_staging(&["key", "token", "add", "friend"]), 4, "needs access to every domain");
    refused(&as_staging(&["key", "token", "rm", "ci-staging", "--yes"]), 4, "needs access to every domain");
    let out = env
        .cmd()
        .env("KEYWARD_VAULT_KEY", &staging)
        .args(["add", "qa/key", "--env", "qa"])
        .write_stdin("qa-value-01")
        .output()
        .unwrap();
    refused(&out, 4, "cannot make the environment qa");
    // It may write the domains it holds.
    let out = env
        .cmd()
        .env("KEYWARD_VAULT_KEY", &staging)
        .args(["add", "stage/other", "--env", "staging"])
        .write_stdin("staging-value-000002")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.get("stage/other"), "staging-value-000002");
}

// ---------------------------------------------------------------- removal re-keys

#[test]
fn a_removed_token_opens_nothing_written_after_its_removal_even_with_the_old_file() {
    let (env, staging) = team();
    let old = std::fs::read(&env.vault).unwrap();
    let out = run(&env, &["key", "token", "rm", "ci-staging", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("re-keyed @default, staging"), "{}", stderr(&out));
    env.add("stage/after", "written-after-removal", &["--env", "staging"]);
    env.add("shared/after", "written-after-removal-2", &[]);

    // The removed token does not open the file as it is.
    let out = env.cmd().env("KEYWARD_VAULT_KEY", &staging).args(["get", "stage/after"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));

    // The attack: keep old.kw, take its wrapped domain keys with the removed token, and try them
    // on the new file's records.
    let old_doc = keyward::vault::v2::text::parse(&old).unwrap();
    let new_doc = document(&env.vault);
    let identity = keyward::vault::v2::keys::identity(&secret_of(&staging));
    for domain in ["staging", "@default"] {
        let wrap = old_doc.domain(domain).unwrap().head.to.iter().find(|w| w.slot.label == "ci-staging").unwrap();
        let raw =
            keyward::vault::v2::keys::unwrap(&wrap.age, &identity).expect("the old file opens with the old token");
        let old_key = keyward::vault::v2::keys::DomainKey::new(&old_doc.id, raw);
        let d = new_doc.domain(domain).unwrap();
        assert_eq!(d.head.generation, 2, "{domain} was re-keyed");
        assert_ne!(d.head.key_id, old_key.id());
        for line in &d.secrets {
            let sealed = data_encoding::BASE64_NOPAD.decode(new_doc.sealed_text(line)).unwrap();
            let mut aad = keyward::vault::v2::keys::Transcript::new("keyward/v2/record", &new_doc.id);
            aad.str(domain).str(new_doc.secret_name(line));
            assert!(old_key.open(aad.as_bytes(), &sealed).is_err(), "{domain}: {}", new_doc.secret_name(line));
        }
    }
    // prod was never the token's: not re-keyed.
    assert_eq!(new_doc.domain("prod").unwrap().head.generation, 1);
    // What the token could read is due for rotation now (stage/key, shared/key), prod/key not.
    let out = env.cmd().args(["rotate", "--due", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let due: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let exposed: Vec<&str> = due
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["exposed_to"] == "token ci-staging")
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(exposed, ["shared/key", "stage/key"], "{due}");
}

#[test]
fn every_removal_rekeys_and_says_so() {
    let env = Env::with_recovery_key();
    env.add("k", "value-0000000001", &[]);
    std::fs::write(env.path("pass"), "a passphrase 1234\n").unwrap();
    let out = env
        .cmd()
        .env("KEYWARD_PASSPHRASE_FILE", env.path("pass"))
        .args(["key", "passphrase", "--yes"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let generation = || document(&env.vault).domain("@default").unwrap().head.generation;
    let before = generation();
    let out = run(&env, &["key", "passphrase", "--remove", "--yes"]);
    assert!(stderr(&out).contains("re-keyed @all, @default"), "{}", stderr(&out));
    assert_eq!(generation(), before + 1);
    let out =
        env.cmd().args(["key", "recovery", "--yes", "--recovery-key-file"]).arg(env.path("rk2")).output().unwrap();
    assert!(stderr(&out).contains("re-keyed"), "{}", stderr(&out));
    assert_eq!(generation(), before + 2);
    let mut env = env;
    env.key = Some(std::fs::read_to_string(env.path("rk2")).unwrap().trim().to_owned());
    assert_eq!(env.get("k"), "value-0000000001");
    env.cmd().args(["audit", "verify"]).assert().success();
}

// ---------------------------------------------------------------- forging access

/// Rewrites the vault's text.
fn edit(env: &Env, change: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(&env.vault).unwrap();
    std::fs::write(&env.vault, change(text)).unwrap();
}

#[test]
fn a_limited_slot_cannot_grant_itself_another_domain() {
    let (env, staging) = team();
    let original = std::fs::read_to_string(&env.vault).unwrap();
    // Its staging wrap copied into prod: the key inside is staging's, not prod's.
    edit(&env, |text| {
        let wrap = text.lines().rfind(|l| l.starts_with("to token:ci-staging ")).unwrap().to_owned();
        text.replacen("\ndomain prod ", &format!("\n{wrap}\ndomain prod "), 1)
    });
    // (It landed in @default's block, before prod: a duplicate there is refused too.)
    refused(&env.cmd().env("KEYWARD_VAULT_KEY", &staging).args(["get", "prod/key"]).output().unwrap(), 5, "damaged");

    std::fs::write(&env.vault, &original).unwrap();
    edit(&env, |text| {
        let wrap = text.lines().rfind(|l| l.starts_with("to token:ci-staging ")).unwrap().to_owned();
        let seal = text
            .lines()
            .skip_while(|l| !l.starts_with("domain prod "))
            .find(|l| l.starts_with("seal "))
            .unwrap()
            .to_owned();
        text.replacen(&seal, &format!("{wrap}\n{seal}"), 1)
    });
    let out = env.cmd().env("KEYWARD_VAULT_KEY", &staging).args(["get", "prod/key"]).output().unwrap();
    refused(&out, 5, "is not the domain's key");
    refused(&run(&env, &["get", "prod/key"]), 5, "prod does not authenticate");

    // The all-domains mark: its own line added to @all, wrapping a key it made up.
    std::fs::write(&env.vault, &original).unwrap();
    edit(&env, |text| {
        let wrap = text.lines().rfind(|l| l.starts_with("to token:ci-staging ")).unwrap().to_owned();
        let all_seal = text
            .lines()
            .skip_while(|l| !l.starts_with("domain @all "))
            .find(|l| l.starts_with("seal "))
            .unwrap()
            .to_owned();
        text.replacen(&all_seal, &format!("{wrap}\n{all_seal}"), 1)
    });
    refused(&run(&env, &["key", "token", "add", "x"]), 5, "@all does not authenticate");
    std::fs::write(&env.vault, &original).unwrap();
    assert_eq!(env.get("prod/key"), "prod-value-000000001");
}

/// A writer without prod's key (here, one holding only staging) makes a fresh prod, wraps it to
/// prod's recipients (their public keys are in the file), seals it and writes a record of its
/// own. A reader that saw prod before reports the replacement; a holder of every domain refuses
/// it (its grant cannot be made without @all); an older copy put back is refused as a rollback.
#[test]
fn a_domain_replaced_by_someone_without_its_key_is_reported_and_a_rollback_refused() {
    use keyward::vault::payload::{Record, Records};
    use keyward::vault::v2::{
        text,
        vault::{Access, NewSlot, Vault2},
    };
    let (env, _) = team();
    let ci_prod = token(&env, "ci-prod", &["--env", "prod"]);
    let as_prod = |args: &[&str]| env.cmd().env("KEYWARD_VAULT_KEY", &ci_prod).args(args).output().unwrap();
    // The prod token's machine opens prod once and remembers its generation and key.
    assert_eq!(stdout(&as_prod(&["get", "prod/key"])), "prod-value-000000001\n");

    // The forgery, with public material only: a whole vault of fresh keys with the same id,
    // creation time and slot lines, whose prod block is spliced into the real file.
    let real = document(&env.vault);
    let mut fake = Vault2::create(env.vault.clone(), real.id, real.created);
    for slot in &real.slots {
        let access = match slot.name.label.as_str() {
            "ci-prod" => Access::Domains(["prod".to_owned()].into()),
            "ci-staging" => Access::Domains(["staging".to_owned()].into()),
            _ => Access::All,
        };
        fake.add_slot(NewSlot { slot: slot.clone(), access }).unwrap();
    }
    let forged = keyward::vault::secret::Secret::new(
        "prod/key".into(),
        "PROD_KEY".into(),
        Some("prod".into()),
        keyward::vault::secret::Metadata::new(1),
        keyward::sensitive::SecretValue::new("attacker-chosen-value".into()),
        1,
    );
    fake.set_records(Records { settings: Vec::new(), records: vec![Record::encode(&forged)] });
    let fake_text = String::from_utf8(fake.seal().unwrap()).unwrap();
    let block = |text: &str| {
        let start = text.find("\ndomain prod ").unwrap() + 1;
        let end = text[start..].find("\n\n").map_or(text.len() - "end\n".len(), |e| start + e + 1);
        text[start..end].to_owned()
    };
    let real_text = std::fs::read_to_string(&env.vault).unwrap();
    let spliced = real_text.replacen(&block(&real_text), &block(&fake_text), 1);
    assert_ne!(spliced, real_text);
    std::fs::write(&env.vault, &spliced).unwrap();
    assert_eq!(text::parse(spliced.as_bytes()).unwrap().domain("prod").unwrap().head.generation, 1);

    // The prod token cannot check grants: it reads, and is told the key is not the one it saw.
    let out = as_prod(&["get", "prod/key"]);
    assert!(
        stderr(&out).contains("prod in") && stderr(&out).contains("was replaced, not re-keyed"),
        "{}",
        stderr(&out)
    );
    // A holder of every domain checks the grant, which only @all could make.
    refused(&run(&env, &["get", "prod/key"]), 5, "were changed by someone without access to every domain");

    // Back to the real file; the admin re-keys prod (removing the prod token), and this
    // machine, which saw generation 2, refuses the older copy put back.
    std::fs::write(&env.vault, &real_text).unwrap();
    let before = std::fs::read(&env.vault).unwrap();
    env.cmd().args(["key", "token", "rm", "ci-prod", "--yes"]).assert().success();
    assert_eq!(env.get("prod/key"), "prod-value-000000001");
    let after = std::fs::read(&env.vault).unwrap();
    std::fs::write(&env.vault, &before).unwrap();
    refused(&run(&env, &["get", "prod/key"]), 5, "rolled back to generation 1");
    std::fs::write(&env.vault, &after).unwrap();
    assert_eq!(env.get("prod/key"), "prod-value-000000001");
}

// ---------------------------------------------------------------- a text file for git

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = std::process::Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out
}

#[test]
fn adding_a_secret_to_a_thousand_changes_two_lines_and_branches_on_different_domains_merge() {
    let mut env = Env::with_recovery_key();
    let repo = env.path("repo");
    std::fs::create_dir_all(repo.join(".keyward")).unwrap();
    let vault = repo.join(".keyward/vault.kw");
    std::fs::rename(&env.vault, &vault).unwrap();
    env.vault = vault.clone();
    let dotenv: String = (0..1000).map(|i| format!("SECRET_{i:04}=value-{i:04}-abcdefgh\n")).collect();
    env.cmd().args(["import", "-"]).write_stdin(dotenv).assert().success();
    env.add("stage/base", "staging-base-value-01", &["--env", "staging"]);
    env.add("prod/base", "prod-base-value-00001", &["--env", "prod"]);
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "vault"]);

    env.add("secret/new", "a-new-value-000000001", &[]);
    let stat = String::from_utf8(git(&repo, &["diff", "--stat"]).stdout).unwrap();
    assert!(stat.contains("1 file changed, 2 insertions(+), 1 deletion(-)"), "{stat}");
    let diff = String::from_utf8(git(&repo, &["diff", "-U0"]).stdout).unwrap();
    assert!(diff.contains("+secret secret/new SECRET_NEW "), "a reviewer sees which secret: {diff}");
    git(&repo, &["commit", "-q", "-am", "one more"]);

    // Two branches, each adding a secret to another domain, merge without a conflict.
    git(&repo, &["checkout", "-q", "-b", "staging-work"]);
    env.add("stage/feature", "staging-feature-value", &["--env", "staging"]);
    git(&repo, &["commit", "-q", "-am", "staging"]);
    git(&repo, &["checkout", "-q", "main"]);
    env.add("prod/feature", "prod-feature-value-01", &["--env", "prod"]);
    git(&repo, &["commit", "-q", "-am", "prod"]);
    git(&repo, &["merge", "-q", "--no-edit", "staging-work"]);
    assert_eq!(env.get("stage/feature"), "staging-feature-value");
    assert_eq!(env.get("prod/feature"), "prod-feature-value-01");
    env.cmd().args(["list"]).assert().success();
}

#[test]
fn crlf_line_endings_from_a_windows_checkout_are_read() {
    let env = Env::with_recovery_key();
    env.add("k", "value-0000000001", &["--env", "dev"]);
    edit(&env, |text| text.replace('\n', "\r\n"));
    assert_eq!(env.get("k"), "value-0000000001");
    // A write puts LF back.
    env.add("k2", "value-0000000002", &[]);
    assert!(!std::fs::read_to_string(&env.vault).unwrap().contains('\r'));
}

#[test]
fn a_later_version_and_garbage_are_named_as_such() {
    let env = Env::with_recovery_key();
    edit(&env, |text| text.replacen("keyward vault 2\n", "keyward vault 7\n", 1));
    refused(&run(&env, &["list"]), 5, "newer than this keyward reads");
    std::fs::write(&env.vault, "keyward vault two\n").unwrap();
    refused(&run(&env, &["list"]), 5, "damaged");
    std::fs::write(&env.vault, "{\"not\": \"a vault\"}\n").unwrap();
    refused(&run(&env, &["list"]), 5, "is not a keyward vault");
}

// ---------------------------------------------------------------- age interop

#[test]
fn a_wrapped_domain_key_opens_with_the_age_tool() {
    use age::secrecy::ExposeSecret;
    if std::process::Command::new("age").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI installs the age package");
        eprintln!("SKIPPED: no age tool here");
        return;
    }
    let env = Env::with_recovery_key();
    env.add("k", "value-0000000001", &["--env", "prod"]);
    let doc = document(&env.vault);
    let identity = keyward::vault::v2::keys::identity(&secret_of(env.key.as_ref().unwrap()));
    let identity_file = env.path("identity.txt");
    std::fs::write(&identity_file, format!("{}\n", identity.to_string().expose_secret())).unwrap();
    let other = env.path("other.txt");
    assert!(std::process::Command::new("age-keygen").arg("-o").arg(&other).output().unwrap().status.success());
    for d in &doc.domains {
        let wrap = d.head.to.iter().find(|w| w.slot.kind.as_str() == "recovery").unwrap();
        let file = env.path(&format!("{}.age", d.head.name));
        std::fs::write(&file, &wrap.age).unwrap();
        let out =
            std::process::Command::new("age").arg("-d").arg("-i").arg(&identity_file).arg(&file).output().unwrap();
        assert!(out.status.success(), "age -d: {}", String::from_utf8_lossy(&out.stderr));
        let key = keyward::sensitive::Key32::from_slice(&out.stdout).expect("32 bytes");
        assert_eq!(keyward::vault::v2::keys::DomainKey::new(&doc.id, key).id(), d.head.key_id, "{}", d.head.name);
        // Another identity does not open it.
        let out = std::process::Command::new("age").arg("-d").arg("-i").arg(&other).arg(&file).output().unwrap();
        assert!(!out.status.success());
    }
}

// ---------------------------------------------------------------- key upgrade

#[test]
fn key_upgrade_keeps_every_secret_and_version_and_makes_new_keys() {
    let mut env = Env::with_recovery_key_v1();
    env.add("a/key", "first-value-00000001", &["--provider", "stripe", "--note", "kept note"]);
    env.cmd().args(["rotate", "a/key", "--no-verify"]).write_stdin("second-value-0000002").assert().success();
    env.add("b/key", "prod-value-000000001", &["--env", "prod", "--tag", "t1"]);
    let old_token = token(&env, "deploy", &[]);
    // Every secret, version and piece of metadata, byte for byte (the encoded bodies).
    let bodies = |env: &Env| {
        let vault = env.open_vault();
        let mut all: Vec<(String, String, Option<String>, Vec<u8>)> = vault
            .secrets()
            .unwrap()
            .iter()
            .map(|s| {
                let keyward::vault::payload::RecordBody::Plain(body) = keyward::vault::payload::Record::encode(s).body
                else {
                    unreachable!("an encoded record is plain")
                };
                (s.name.clone(), s.var.clone(), s.env.clone(), body.0.to_vec())
            })
            .collect();
        all.sort();
        all
    };
    let was = bodies(&env);
    assert_eq!(was.len(), 2);
    let old_file = std::fs::read(&env.vault).unwrap();

    let out = env
        .cmd()
        .args(["key", "upgrade", "--reissue-tokens", "--yes", "--recovery-key-file"])
        .arg(env.path("rk2"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let new_token = stdout(&out).lines().find_map(|l| l.strip_prefix("deploy ")).unwrap().to_owned();
    assert!(std::fs::read_to_string(&env.vault).unwrap().starts_with("keyward vault 2\n"));
    // The old recovery key and token open nothing now; the new ones do.
    refused(&run(&env, &["get", "a/key"]), 4, "does not open");
    refused(
        &env.cmd().env("KEYWARD_VAULT_KEY", &old_token).args(["get", "a/key"]).output().unwrap(),
        4,
        "does not open",
    );
    env.key = Some(std::fs::read_to_string(env.path("rk2")).unwrap().trim().to_owned());
    assert_eq!(bodies(&env), was);
    assert_eq!(env.get("a/key"), "second-value-0000002");
    let out = env.cmd().env("KEYWARD_VAULT_KEY", &new_token).args(["get", "-n", "b/key"]).output().unwrap();
    assert_eq!(stdout(&out), "prod-value-000000001");
    env.cmd().args(["audit", "verify"]).assert().success();
    // Upgrading again does nothing; the old file still says it is format 1.
    let out = run(&env, &["key", "upgrade", "--recovery-key-file", "-", "--yes"]);
    assert!(stdout(&out).contains("already in format 2"), "{}", stdout(&out));
    assert!(old_file.starts_with(b"\x89KEYWARD"));
}

#[test]
fn a_write_never_upgrades_a_format_1_vault() {
    let env = Env::with_recovery_key_v1();
    env.add("k", "value-0000000001", &[]);
    env.cmd().args(["key", "token", "add", "ci"]).assert().success();
    env.cmd().args(["rotate", "k", "--no-verify"]).write_stdin("value-0000000002").assert().success();
    assert!(std::fs::read(&env.vault).unwrap().starts_with(b"\x89KEYWARD"));
    let out = run(&env, &["key", "token", "add", "limited", "--env", "prod"]);
    refused(&out, 2, "needs vault format 2");
    let out = run(&env, &["doctor"]);
    assert!(stdout(&out).contains("keyward key upgrade"), "{}", stdout(&out));
}

#[test]
fn backup_and_restore_keep_format_2() {
    let env = Env::with_recovery_key();
    env.add("k", "value-0000000001", &["--env", "prod"]);
    let backup = env.path("b.kwb");
    env.cmd().args(["backup"]).arg(&backup).assert().success();
    std::fs::remove_file(&env.vault).unwrap();
    env.cmd().args(["restore"]).arg(&backup).assert().success();
    assert!(std::fs::read_to_string(&env.vault).unwrap().starts_with("keyward vault 2\n"));
    assert_eq!(env.get("k"), "value-0000000001");
}

// ---------------------------------------------------------------- codes in the open

#[test]
fn tokens_and_recovery_keys_are_found_by_scan_and_hidden_by_mask() {
    let env = Env::with_recovery_key();
    let recovery = env.key.clone().unwrap();
    let ci = token(&env, "ci", &[]);
    // A pasted token and recovery key in a file someone is about to commit.
    let dir = env.path("repo");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("deploy.sh"), format!("export KEYWARD_VAULT_KEY={ci}\n# {recovery}\n")).unwrap();
    let out = env.cmd().current_dir(&dir).args(["scan", "--no-known", "--format", "json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report = stdout(&out);
    assert!(report.matches("\"keyward\"").count() >= 2, "both found as keyward's: {report}");
    assert!(!report.contains(&ci) && !report.contains(&recovery), "findings never print the key");

    // In a log, with the vault's known values turned off: the shapes alone are enough.
    let log = format!("token={ci} recovery={recovery} done\n");
    let out = env.cmd().args(["mask", "--no-known"]).write_stdin(log).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let masked = stdout(&out);
    assert!(!masked.contains(&ci[5..]) && !masked.contains(&recovery[4..]), "{masked}");
    assert!(masked.ends_with("done\n"), "{masked}");
}
