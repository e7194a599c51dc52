//! Issue 17 (first part): your identity and team members by public key. Identities made by
//! Debian's `age-keygen`; a member opens the vault with their own identity, holds only the
//! environments granted, and a removed member opens nothing written afterwards.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common;

use common::{Env, age_identity, stderr, stdout};

/// Runs as the holder of `identity`, with no vault key.
fn as_member(env: &Env, identity: &Path, args: &[&str]) -> std::process::Output {
    env.cmd().env_remove("KEYWARD_VAULT_KEY").env("KEYWARD_IDENTITY", identity).args(args).output().unwrap()
}

fn team() -> (Env, (PathBuf, String), (PathBuf, String)) {
    let env = Env::with_recovery_key();
    env.add("shared/key", "shared-value-0000001", &[]);
    env.add("dev/key", "dev-value-000000001", &["--env", "dev"]);
    env.add("prod/key", "prod-value-000000001", &["--env", "prod"]);
    let alice = age_identity(&env, "alice");
    let bob = age_identity(&env, "bob");
    env.cmd().args(["member", "add", "alice", "--key", &alice.1]).assert().success();
    let bob_pub = env.path("bob.pub");
    std::fs::write(&bob_pub, format!("{}\n", bob.1)).unwrap();
    let out = env.cmd().args(["member", "add", "bob", "--env", "dev", "--key-file"]).arg(&bob_pub).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("dev and secrets with no environment"), "{}", stdout(&out));
    (env, alice, bob)
}

#[test]
fn members_open_the_vault_with_their_own_identity_and_only_what_they_hold() {
    let (env, alice, bob) = team();
    assert_eq!(stdout(&as_member(&env, &alice.0, &["get", "prod/key"])), "prod-value-000000001\n");
    assert_eq!(stdout(&as_member(&env, &bob.0, &["get", "dev/key"])), "dev-value-000000001\n");
    assert_eq!(stdout(&as_member(&env, &bob.0, &["get", "shared/key"])), "shared-value-0000001\n");
    let out = as_member(&env, &bob.0, &["get", "prod/key"]);
    assert_eq!(out.status.code(), Some(4), "bob holds dev only: {}", stderr(&out));
    assert!(stderr(&out).contains("member bob") && stderr(&out).contains("prod"), "{}", stderr(&out));

    // An identity that is not a member: the unlock error says so among the ways in.
    let (carol, _) = age_identity(&env, "carol");
    let out = as_member(&env, &carol, &["get", "dev/key"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("is not a member of this vault"), "{}", stderr(&out));

    // The list: names, fingerprints, access, and who added them (as the file records it).
    let out = env.cmd().args(["member", "list", "--json"]).output().unwrap();
    let list: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(list[0]["name"], "alice");
    assert_eq!(list[0]["key"], alice.1.as_str());
    assert_eq!(list[0]["access"], "all");
    assert_eq!(list[0]["added_by"], "recovery");
    assert_eq!(list[1]["access"], serde_json::json!(["dev"]));
    // Members are listed without unlocking: their keys are public.
    let out = env.cmd().env_remove("KEYWARD_VAULT_KEY").args(["member", "list"]).output().unwrap();
    assert!(out.status.success() && stdout(&out).contains("bob"), "{}", stderr(&out));

    // Refusals: a secret key given as a member's key, a name or key twice, a format 1 vault.
    let secret_line = std::fs::read_to_string(&carol).unwrap();
    let secret_line = secret_line.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).unwrap();
    let out = env.cmd().args(["member", "add", "carol", "--key", secret_line]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(!stderr(&out).contains(secret_line), "the secret key is not echoed");
    env.cmd().args(["member", "add", "bob", "--key", &alice.1]).assert().code(6);
    env.cmd().args(["member", "add", "alice2", "--key", &alice.1]).assert().code(6);
    env.cmd().args(["member", "add", "dave", "--key", "age1notakey"]).assert().code(2);
    let v1 = Env::with_recovery_key_v1();
    v1.cmd().args(["member", "add", "alice", "--key", &alice.1]).assert().code(2);
}

#[test]
fn a_removed_member_opens_nothing_written_afterwards_even_with_the_old_file() {
    let (env, alice, bob) = team();
    let old = std::fs::read(&env.vault).unwrap();
    // Alice removes Bob, with her own identity.
    let out = as_member(&env, &alice.0, &["member", "rm", "bob", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("re-keyed @default, dev"), "{}", stderr(&out));
    assert!(stderr(&out).contains("2 secrets are marked exposed"), "{}", stderr(&out));
    // What Bob held is marked exposed: `rotate --due` lists it (exit 1) until it is rotated.
    assert_eq!(common::exposed_to(&env, "member bob"), ["dev/key", "shared/key"]);
    let mut rotate = env.at("2099-01-01T00:00:00Z");
    rotate.args(["rotate", "dev/key", "--no-verify"]).write_stdin("dev-value-rotated-0002");
    rotate.assert().success();
    let due = stdout(&env.at("2099-01-01T00:00:01Z").args(["rotate", "--due", "--json"]).output().unwrap());
    assert!(!due.contains("\"dev/key\""), "rotated: no longer exposed: {due}");
    assert!(due.contains("\"shared/key\""), "{due}");
    env.add("dev/after", "written-after-removal", &["--env", "dev"]);
    assert_eq!(as_member(&env, &bob.0, &["get", "dev/after"]).status.code(), Some(4));

    // The attack: Bob keeps old.kw, unwraps its dev key with the real `age` and his identity,
    // and tries it on the new file's records.
    common::old_wrap_opens_nothing(&env, &old, "bob", &bob.0, "dev");
    let new_doc = keyward::vault::v2::text::parse(&std::fs::read(&env.vault).unwrap()).unwrap();
    assert_eq!(new_doc.domain("prod").unwrap().head.generation, 1, "prod was never Bob's");
}

#[test]
fn grant_and_revoke_change_what_a_member_holds_and_revoke_rekeys() {
    let (env, _, bob) = team();
    let out = env.cmd().args(["member", "grant", "bob", "--env", "prod"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&as_member(&env, &bob.0, &["get", "prod/key"])), "prod-value-000000001\n");
    let out = env.cmd().args(["member", "revoke", "bob", "--env", "prod"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("re-keyed prod"), "{}", stderr(&out));
    assert_eq!(as_member(&env, &bob.0, &["get", "prod/key"]).status.code(), Some(4));
    assert_eq!(stdout(&as_member(&env, &bob.0, &["get", "dev/key"])), "dev-value-000000001\n");
    // A limited member cannot change who holds what.
    let out = as_member(&env, &bob.0, &["member", "grant", "bob", "--env", "prod"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    env.cmd().args(["member", "revoke", "nobody", "--env", "prod"]).assert().code(6);
}

#[test]
fn identity_new_show_and_import() {
    let env = Env::with_recovery_key();
    // No identity yet.
    env.cmd().args(["identity", "show"]).assert().code(6);
    // --file: a 0600 file that age itself reads.
    let out = env.cmd().args(["identity", "new", "--file"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let public = stdout(&out).trim().to_owned();
    assert!(public.starts_with("age1"), "{public}");
    let file = env.home.join(".config/keyward/identity.txt");
    assert_eq!(common::mode(&file) & 0o777, 0o600);
    let derived = Command::new("age-keygen").arg("-y").arg(&file).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&derived.stdout).trim(), public, "age-keygen reads the file");
    assert_eq!(stdout(&env.cmd().args(["identity", "show"]).output().unwrap()).trim(), public);
    // A second `new` would replace it: refused without --force.
    env.cmd().args(["identity", "new", "--file"]).assert().code(6);

    // The kept identity opens a vault that lists it, without KEYWARD_IDENTITY.
    env.cmd().args(["member", "add", "me", "--key", &public]).assert().success();
    env.add("k", "value-for-me-0000001", &[]);
    let out = env.cmd().env_remove("KEYWARD_VAULT_KEY").args(["get", "k"]).output().unwrap();
    assert_eq!(stdout(&out), "value-for-me-0000001\n", "{}", stderr(&out));

    // import: an age-keygen identity replaces it with --force.
    let (other, other_public) = age_identity(&env, "other");
    let out = env.cmd().args(["identity", "import", "--file", "--force"]).arg(&other).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), other_public);
    // With KEYWARD_IDENTITY set, keeping another one here would never be used: refused.
    let out =
        env.cmd().env("KEYWARD_IDENTITY", &other).args(["identity", "new", "--file", "--force"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    // An identity file others may read is refused, as ssh refuses such a key.
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let out = env.cmd().env("KEYWARD_IDENTITY", &other).args(["identity", "show"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("chmod 600"), "{}", stderr(&out));
}

/// Membership you can trust: a member added on another branch and merged gets exactly one
/// warning; strict mode refuses until `member accept`; a pinned CI run refuses any other set.
#[test]
fn a_member_added_on_another_branch_is_noticed_once_and_a_pin_refuses_it() {
    let mut env = Env::with_recovery_key();
    // A project vault in a real git repository.
    let repo = env.path("repo");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"])
            .args(args)
            .current_dir(&repo)
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q", "-b", "main"]);
    let vault = repo.join(".keyward/vault.kw");
    std::fs::create_dir(repo.join(".keyward")).unwrap();
    std::fs::copy(&env.vault, &vault).unwrap();
    env.vault = vault.clone();
    env.add("dev/key", "dev-value-000000001", &["--env", "dev"]);
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "vault"]);
    assert!(env.cmd().args(["get", "dev/key"]).output().unwrap().stderr.is_empty(), "nothing to say yet");
    let pin = stdout(&env.cmd().args(["member", "list", "--pin"]).output().unwrap()).trim().to_owned();
    assert!(pin.starts_with("kwpin1-"), "{pin}");

    // Someone else, on a branch, adds a member (their own state directory: not this machine's).
    git(&["checkout", "-q", "-b", "add-mallory"]);
    let (_, mallory) = age_identity(&env, "mallory");
    let out = env
        .cmd()
        .env("XDG_STATE_HOME", env.path("elsewhere"))
        .args(["member", "add", "mallory", "--env", "dev", "--key", &mallory])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    git(&["commit", "-q", "-am", "add mallory"]);
    git(&["checkout", "-q", "main"]);
    git(&["merge", "-q", "add-mallory"]);

    // The first command after the merge warns, naming the member; the second says nothing.
    let out = env.cmd().args(["get", "dev/key"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("added member mallory") && stderr(&out).contains("dev"), "{}", stderr(&out));
    let out = env.cmd().args(["get", "dev/key"]).output().unwrap();
    assert!(stderr(&out).is_empty(), "once: {}", stderr(&out));
    let out = env.cmd().args(["member", "list", "--changes", "--json"]).output().unwrap();
    assert!(stdout(&out).contains("member mallory"), "{}", stdout(&out));

    // The pinned CI run refuses the vault the merge changed, until the pin is updated.
    let out = env.cmd().env("KEYWARD_MEMBERS_PIN", &pin).args(["get", "dev/key"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "no value from a vault that is not the pinned one");
    let new_pin = stdout(&env.cmd().args(["member", "list", "--pin"]).output().unwrap()).trim().to_owned();
    assert_ne!(new_pin, pin);
    env.cmd().env("KEYWARD_MEMBERS_PIN", &new_pin).args(["get", "dev/key"]).assert().success();

    // Strict mode: the next addition is an error until accepted.
    let (_, eve) = age_identity(&env, "eve");
    let out = env
        .cmd()
        .env("XDG_STATE_HOME", env.path("elsewhere"))
        .args(["member", "add", "eve", "--key", &eve])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    env.set("KEYWARD_STRICT_MEMBERS", "1");
    let out = env.cmd().args(["get", "dev/key"]).output().unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", stderr(&out));
    assert!(stderr(&out).contains("member eve") && stderr(&out).contains("member accept"), "{}", stderr(&out));
    assert_eq!(env.cmd().args(["get", "dev/key"]).output().unwrap().status.code(), Some(6), "still, until accepted");
    // Accepting with a pin accepts only the vault that pin describes.
    env.cmd().args(["member", "accept", "--pin", &new_pin]).assert().code(6);
    let reviewed = stdout(&env.cmd().args(["member", "list", "--pin"]).output().unwrap()).trim().to_owned();
    let out = env.cmd().args(["member", "accept", "--pin", &reviewed]).output().unwrap();
    assert!(out.status.success() && stdout(&out).contains("added member eve"), "{}", stderr(&out));
    env.cmd().args(["get", "dev/key"]).assert().success();
    // This machine's own change is not news.
    let (_, frank) = age_identity(&env, "frank");
    env.cmd().args(["member", "add", "frank", "--key", &frank]).assert().success();
    let out = env.cmd().args(["get", "dev/key"]).output().unwrap();
    assert!(out.status.success() && stderr(&out).is_empty(), "{}", stderr(&out));
}

/// Review findings: revoking from a member who held every environment leaves every other domain
/// with a grant under the new @all key (an @all holder, which checks grants, still reads them
/// all); an unknown environment is refused; `key rotate` keeps members; a slot line with no key
/// for @default (which no seal or grant covers) is damage, not a member.
#[test]
fn revoking_from_an_all_member_keeps_the_vault_whole_and_orphan_slots_are_damage() {
    let (env, alice, _) = team();
    let out = env.cmd().args(["member", "revoke", "alice", "--env", "prod"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("no longer holds every environment"), "{}", stderr(&out));
    for (name, value) in [
        ("shared/key", "shared-value-0000001"),
        ("dev/key", "dev-value-000000001"),
        ("prod/key", "prod-value-000000001"),
    ] {
        let out = env.cmd().args(["get", name]).output().unwrap();
        assert_eq!(stdout(&out), format!("{value}\n"), "the recovery key (@all) reads {name}: {}", stderr(&out));
    }
    env.cmd().args(["list"]).assert().success();
    assert_eq!(as_member(&env, &alice.0, &["get", "prod/key"]).status.code(), Some(4));
    assert_eq!(stdout(&as_member(&env, &alice.0, &["get", "dev/key"])), "dev-value-000000001\n");
    env.cmd().args(["member", "revoke", "alice", "--env", "nowhere"]).assert().code(2);

    // key rotate: new keys, members kept (their public keys are not what leaked).
    let rk = env.path("rk-rotated");
    let out = env.cmd().args(["key", "rotate", "--yes", "--recovery-key-file"]).arg(&rk).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("members kept") || stdout(&out).contains("members kept"), "{}", stderr(&out));
    let old_key = env.key.clone().unwrap();
    assert_eq!(
        env.cmd().env("KEYWARD_VAULT_KEY", &old_key).args(["get", "dev/key"]).output().unwrap().status.code(),
        Some(4)
    );
    assert_eq!(stdout(&as_member(&env, &alice.0, &["get", "dev/key"])), "dev-value-000000001\n");

    // An orphan slot line: damage (exit 5), before anyone's write could adopt it.
    let text = std::fs::read_to_string(&env.vault).unwrap();
    let (_, mallory) = age_identity(&env, "mallory");
    let at = text.find("slot member:alice").unwrap();
    let forged = format!("{}slot member:aaa {mallory} 0 by recovery\n{}", &text[..at], &text[at..]);
    std::fs::write(&env.vault, forged).unwrap();
    let out = as_member(&env, &alice.0, &["get", "dev/key"]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("member:aaa has no key for @default"), "{}", stderr(&out));
}

/// An SSH key as a member: `ssh-ed25519` public keys from the real `ssh-keygen`; the member
/// unlocks with ~/.ssh/id_ed25519 (tried because a member slot names its public key), or with
/// KEYWARD_IDENTITY pointing at a key; a passphrase-protected key asks on a terminal.
#[test]
fn an_ssh_ed25519_key_is_a_member() {
    let (env, _, _) = team();
    let keygen = |path: &Path, passphrase: &str| {
        let out = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-C", "test", "-N", passphrase, "-f"])
            .arg(path)
            .output()
            .expect("ssh-keygen (Debian's openssh-client)");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        std::fs::read_to_string(path.with_extension("pub")).unwrap().trim().to_owned()
    };
    let ssh_dir = env.home.join(".ssh");
    std::fs::create_dir_all(&ssh_dir).unwrap();
    let carol = keygen(&ssh_dir.join("id_ed25519"), "");
    let out = env.cmd().args(["member", "add", "carol", "--env", "dev", "--key", &carol]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let list = stdout(&env.cmd().args(["member", "list", "--json"]).output().unwrap());
    assert!(list.contains("\"key_type\":\"ssh-ed25519\"") || list.contains("\"key_type\": \"ssh-ed25519\""), "{list}");

    // ~/.ssh/id_ed25519, with no vault key and no KEYWARD_IDENTITY.
    let out = env.cmd().env_remove("KEYWARD_VAULT_KEY").args(["get", "dev/key"]).output().unwrap();
    assert_eq!(stdout(&out), "dev-value-000000001\n", "{}", stderr(&out));
    let out = env.cmd().env_remove("KEYWARD_VAULT_KEY").args(["get", "prod/key"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "carol holds dev only: {}", stderr(&out));

    // A passphrase-protected key, through KEYWARD_IDENTITY: asked for on a terminal.
    let dave_key = env.path("dave_ed25519");
    let dave = keygen(&dave_key, "correct horse battery");
    env.cmd().args(["member", "add", "dave", "--key", &dave]).assert().success();
    let mut cmd = env.std_cmd();
    cmd.env_remove("KEYWARD_VAULT_KEY").env("KEYWARD_IDENTITY", &dave_key).args(["get", "prod/key"]);
    let mut term = common::terminal::Terminal::spawn(cmd);
    term.expect("Passphrase for");
    term.type_line("correct horse battery");
    let (status, screen) = term.finish();
    assert_eq!(status.code(), Some(0), "{screen}");
    assert!(screen.contains("prod-value-000000001") && !screen.contains("correct horse"), "{screen}");
    // Without a terminal, nobody to ask: the unlock error says why.
    let out = env
        .cmd()
        .env_remove("KEYWARD_VAULT_KEY")
        .env("KEYWARD_IDENTITY", &dave_key)
        .args(["get", "prod/key"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stderr(&out).contains("passphrase was not given"), "{}", stderr(&out));

    // An RSA key is refused with the reason.
    let rsa = env.path("rsa_key");
    let out =
        Command::new("ssh-keygen").args(["-q", "-t", "rsa", "-b", "2048", "-N", "", "-f"]).arg(&rsa).output().unwrap();
    assert!(out.status.success());
    let rsa_pub = std::fs::read_to_string(rsa.with_extension("pub")).unwrap();
    let out = env.cmd().args(["member", "add", "erin", "--key", rsa_pub.trim()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("only ssh-ed25519"), "{}", stderr(&out));
}
