//! The unlock chain and key slots, end to end: tokens, the recovery key, the passphrase, the
//! kernel keyring for real, lock/unlock, import and re-keying.

use crate::common;

use common::{Env, assert_one_line_error, stderr, stdout};
use predicates::prelude::*;
use serde_json::Value;

fn token(env: &Env, label: &str) -> String {
    let out = env.cmd().args(["key", "token", "add", label]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let token = stdout(&out).trim().to_owned();
    assert!(token.starts_with("kwt1-"), "{token}");
    token
}

/// A well-formed token that belongs to no vault.
const STRANGER: &str = "kwt1-";

fn stranger_token() -> String {
    // Made by a throwaway vault, so it passes the checksum but opens nothing here.
    let other = Env::with_recovery_key();
    let t = token(&other, "x");
    assert!(t.starts_with(STRANGER));
    t
}

#[test]
fn tokens_unlock_and_removed_tokens_stop_working() {
    let mut env = Env::with_recovery_key();
    env.add("k", "value", &[]);
    let ci = token(&env, "github-actions");
    env.cmd().args(["key", "token", "add", "github-actions"]).assert().code(6);
    env.cmd().args(["key", "token", "add", "bad label!"]).assert().code(2);

    let recovery = env.key.replace(ci.clone()).unwrap();
    assert_eq!(env.get("k"), "value");
    let list = env.cmd().args(["key", "token", "list", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(doc[0]["label"], "github-actions");
    assert!(!stdout(&list).contains(&ci));

    env.key = Some(recovery);
    env.cmd().args(["key", "token", "rm", "github-actions", "--yes"]).assert().success();
    env.cmd().args(["key", "token", "rm", "github-actions", "--yes"]).assert().code(3);
    env.key = Some(ci);
    let out = env.cmd().args(["get", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_one_line_error(&stderr(&out));
}

#[test]
fn wrong_or_malformed_vault_key_is_exit_4_without_fall_through() {
    let mut env = Env::with_recovery_key();
    env.add("k", "value", &[]);
    // A passphrase slot exists and its file is set, but a wrong KEYWARD_VAULT_KEY must not fall through.
    std::fs::write(env.path("pass"), "correct horse battery\n").unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd().args(["key", "passphrase", "--yes"]).assert().success();

    env.key = Some(stranger_token());
    let out = env.cmd().args(["get", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("KEYWARD_VAULT_KEY does not open"));
    assert!(stdout(&out).is_empty());

    for bad in ["hunter2", "kwt1-abc", "kw1-zzzzzz"] {
        env.key = Some(bad.into());
        let out = env.cmd().args(["get", "k"]).output().unwrap();
        assert_eq!(out.status.code(), Some(4), "{bad}");
        assert_one_line_error(&stderr(&out));
        assert!(!stderr(&out).contains(bad), "the key is not echoed");
    }
    // Without KEYWARD_VAULT_KEY the passphrase file opens it.
    env.key = None;
    assert_eq!(env.get("k"), "value");
}

#[test]
fn passphrase_slot_from_file_and_wrong_passphrase() {
    let mut env = Env::new();
    std::fs::write(env.path("pass"), "a long enough passphrase\n").unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd().args(["init", "--keyring", "none", "--passphrase"]).assert().success();
    env.add("k", "value", &[]);
    assert_eq!(env.get("k"), "value");

    std::fs::write(env.path("pass"), "the wrong passphrase\n").unwrap();
    let out = env.cmd().args(["get", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert_one_line_error(&stderr(&out));

    // No file and no terminal: exit 4 naming every way to unlock.
    env.extra.clear();
    let out = env.cmd().args(["get", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    let err = stderr(&out);
    for way in ["KEYWARD_VAULT_KEY", "keyward unlock", "KEYWARD_PASSPHRASE_FILE"] {
        assert!(err.contains(way), "{way} missing from: {err}");
    }
}

#[test]
fn short_passphrases_are_refused() {
    let mut env = Env::new();
    std::fs::write(env.path("pass"), "short\n").unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd().args(["init", "--keyring", "none", "--passphrase"]).assert().code(2);
    assert!(!env.vault.exists());
}

#[test]
fn passphrase_can_be_removed_but_not_the_last_way_in() {
    let mut env = Env::new();
    std::fs::write(env.path("pass"), "a long enough passphrase\n").unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd().args(["init", "--keyring", "none", "--passphrase"]).assert().success();
    env.cmd().args(["key", "passphrase", "--remove", "--yes"]).assert().code(6);
    env.cmd().args(["key", "recovery", "--yes", "--recovery-key-file"]).arg(env.path("rk")).assert().success();
    env.cmd().args(["key", "passphrase", "--remove", "--yes"]).assert().success();
    env.cmd().args(["list"]).assert().code(4); // the passphrase no longer opens it
    env.extra.clear();
    env.key = Some(std::fs::read_to_string(env.path("rk")).unwrap());
    env.cmd().args(["key", "passphrase", "--remove", "--yes"]).assert().code(6);
    env.cmd().args(["list"]).assert().success();
}

#[test]
fn key_recovery_replaces_the_old_recovery_key() {
    let mut env = Env::with_recovery_key();
    let old = env.key.clone().unwrap();
    env.cmd().args(["key", "recovery", "--yes"]).assert().code(2); // no terminal and no file
    env.cmd().args(["key", "recovery", "--yes", "--recovery-key-file"]).arg(env.path("new")).assert().success();
    let new = std::fs::read_to_string(env.path("new")).unwrap();
    assert_ne!(new.trim(), old);
    env.cmd().args(["list"]).assert().code(4);
    env.key = Some(new);
    env.cmd().args(["list"]).assert().success();
}

#[test]
fn key_rotate_locks_out_old_tokens_and_recovery_key() {
    let mut env = Env::with_recovery_key();
    env.add("k", "value", &[]);
    let ci = token(&env, "ci");
    let _laptop = token(&env, "laptop");
    let old_recovery = env.key.clone().unwrap();
    let old_copy = std::fs::read(&env.vault).unwrap();

    let out =
        env.cmd().args(["key", "rotate", "--yes", "--recovery-key-file"]).arg(env.path("new-rk")).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("ci") && text.contains("laptop"), "names the tokens to re-issue: {text}");
    assert!(text.contains("older copies"), "says old copies stay readable: {text}");

    for old in [&ci, &old_recovery] {
        env.key = Some(old.clone());
        env.cmd().args(["get", "k"]).assert().code(4);
    }
    env.key = Some(std::fs::read_to_string(env.path("new-rk")).unwrap());
    assert_eq!(env.get("k"), "value");
    let status: Value =
        serde_json::from_slice(&env.cmd().args(["key", "status", "--json"]).output().unwrap().stdout).unwrap();
    let kinds: Vec<&str> = status["slots"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["recovery"], "every token was dropped");

    // An old copy of the file still opens with the old token, as documented...
    let elsewhere = env.path("old.kw");
    std::fs::write(&elsewhere, &old_copy).unwrap();
    let out =
        env.cmd().env("KEYWARD_VAULT", &elsewhere).env("KEYWARD_VAULT_KEY", &ci).args(["get", "k"]).output().unwrap();
    assert_eq!(stdout(&out), "value\n", "{}", stderr(&out));
    // ...but put back in place of the re-keyed file, this machine knows it for a rollback.
    std::fs::write(&env.vault, old_copy).unwrap();
    env.key = Some(ci);
    let out = env.cmd().args(["get", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    assert!(stderr(&out).contains("rolled back to generation 1"), "{}", stderr(&out));
}

#[test]
fn kernel_keyring_unlocks_lock_and_unlock_restore() {
    let mut env = Env::new();
    let out =
        env.cmd().args(["init", "--keyring", "keyutils", "--recovery-key-file"]).arg(env.path("rk")).output().unwrap();
    assert!(out.status.success(), "kernel keyring init failed: {}", stderr(&out));
    env.add("k", "from-the-keyring", &[]);
    assert_eq!(env.get("k"), "from-the-keyring");
    let status: Value =
        serde_json::from_slice(&env.cmd().args(["key", "status", "--json"]).output().unwrap().stdout).unwrap();
    assert!(status["unlocks_now"]["source"].as_str().unwrap().starts_with("keyring (keyutils@"), "{status}");
    assert!(!serde_json::to_string(&status).unwrap().contains("kw1-"));

    env.cmd().arg("lock").assert().success();
    let out = env.cmd().args(["get", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4), "locked: {}", stderr(&out));
    assert!(stderr(&out).contains("no keyutils entry"));
    env.cmd().arg("lock").assert().success().stdout(predicate::str::contains("already locked"));

    let recovery = std::fs::read_to_string(env.path("rk")).unwrap();
    env.cmd().arg("unlock").write_stdin("not a key").assert().code(2);
    env.cmd().arg("unlock").write_stdin(recovery).assert().success();
    assert_eq!(env.get("k"), "from-the-keyring");
    let status: Value =
        serde_json::from_slice(&env.cmd().args(["key", "status", "--json"]).output().unwrap().stdout).unwrap();
    let keyring_slots = status["slots"].as_array().unwrap().iter().filter(|s| s["kind"] == "keyring").count();
    assert_eq!(keyring_slots, 1, "unlock replaced this machine's slot instead of adding one");
    env.cmd().arg("lock").assert().success();
    env.key = None;
}

#[test]
fn key_import_with_a_token_adds_a_keyring_slot() {
    let mut env = Env::with_recovery_key();
    env.add("k", "v", &[]);
    let t = token(&env, "teammate");
    env.key = None;
    env.cmd().args(["get", "k"]).assert().code(4);
    env.cmd().args(["key", "import", "--keyring", "keyutils"]).write_stdin(format!("{t}\n")).assert().success();
    assert_eq!(env.get("k"), "v");
    env.cmd().args(["key", "import", "--keyring", "none"]).write_stdin(t.clone()).assert().code(2);
    env.cmd().arg("lock").assert().success();
    env.cmd().args(["get", "k"]).assert().code(4);
}

#[test]
fn keyring_choice_that_is_unreachable_is_refused_with_advice() {
    let env = Env::new();
    // The test environment has no D-Bus session bus.
    let out = env.cmd().args(["init", "--keyring", "secret-service"]).output().unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(stderr(&out).contains("--keyring none"), "{}", stderr(&out));
    assert!(stderr(&out).contains("no D-Bus session bus"), "the reason is named: {}", stderr(&out));
    assert_one_line_error(&stderr(&out));
    assert!(!env.vault.exists());
}
