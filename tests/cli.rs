//! End-to-end tests of the core commands through the real binary.

use crate::common;

use common::{Env, assert_one_line_error, mode, stderr, stdout};
use predicates::prelude::*;
use serde_json::Value;

#[test]
fn add_get_round_trip_is_byte_exact() {
    let env = Env::with_recovery_key();
    let value = "sk_test_51H\u{e9}\u{1F511} with \"quotes\" and $dollar `tick`";
    env.add("stripe/test", &format!("{value}\n"), &[]);
    assert_eq!(env.get("stripe/test"), value, "one trailing newline is removed, the rest kept");
    env.cmd().args(["get", "stripe/test"]).assert().success().stdout(format!("{value}\n"));
    // CRLF from a Windows clipboard
    env.add("crlf", "abc\r\n", &[]);
    assert_eq!(env.get("crlf"), "abc");
    // multi-line values keep inner newlines
    env.add("pem", "line1\nline2\n\n", &[]);
    assert_eq!(env.get("pem"), "line1\nline2\n");
}

#[test]
fn get_json_and_versions() {
    let env = Env::with_recovery_key();
    env.add("a", "v1", &[]);
    let out = env.cmd().args(["get", "a", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["value"], "v1");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["stage"], "current");
    env.cmd().args(["get", "a", "--version", "1"]).assert().success().stdout("v1\n");
    env.cmd().args(["get", "a", "--version", "previous"]).assert().code(3);
    env.cmd().args(["get", "a", "--version", "pending"]).assert().code(3);
    env.cmd().args(["get", "a", "--version", "latest"]).assert().code(2);
}

#[test]
fn add_generate_makes_random_internal_keys() {
    let env = Env::with_recovery_key();
    env.cmd().args(["add", "hook", "--generate", "--prefix", "whk_"]).assert().success();
    env.cmd().args(["add", "hook2", "--generate", "--length", "64"]).assert().success();
    let a = env.get("hook");
    assert!(a.starts_with("whk_") && a.len() == 4 + 43, "{a}");
    assert_eq!(env.get("hook2").len(), 86);
    let info: Value =
        serde_json::from_slice(&env.cmd().args(["info", "hook", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(info["provider"], "internal");
    env.cmd().args(["add", "x", "--length", "64"]).assert().code(2);
}

#[test]
fn empty_oversize_and_binary_values_are_refused() {
    let env = Env::with_recovery_key();
    let out = env.cmd().args(["add", "e"]).write_stdin("").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&stderr(&out));
    env.cmd().args(["add", "e"]).write_stdin("\n").assert().code(2);
    env.cmd().args(["add", "big"]).write_stdin("x".repeat(64 * 1024 + 1)).assert().code(2);
    env.add("max", &"x".repeat(64 * 1024), &[]);
    env.cmd().args(["add", "bin"]).write_stdin(vec![0xff, 0xfe, 0x00]).assert().code(2);
    env.cmd().args(["list", "--json"]).assert().stdout(predicate::str::contains("\"e\"").not());
}

#[test]
fn values_are_never_taken_from_argv() {
    let env = Env::with_recovery_key();
    // An extra positional word is a usage error, and nothing is stored.
    let out = env.cmd().args(["add", "k", "sk_live_SENTINEL123456"]).write_stdin("v").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&stderr(&out));
    for flag in ["--value", "--secret", "--password"] {
        env.cmd().args(["add", "k", flag, "x"]).write_stdin("v").assert().code(2);
    }
    env.cmd().args(["get", "k"]).assert().code(3);
}

#[test]
fn bad_names_are_refused() {
    let env = Env::with_recovery_key();
    for name in ["-x", "/abs", "a/../b", "a//b", "sp ace", "esc\u{1b}[31m", "", &"n".repeat(129), "ünï"] {
        let out = env.cmd().arg("add").arg("--").arg(name).write_stdin("v").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "name {name:?}");
        assert!(!stderr(&out).contains('\u{1b}'), "escape sequences are sanitized");
    }
    env.add(&"n".repeat(128), "v", &[]);
}

#[test]
fn duplicate_names_and_variables_conflict() {
    let env = Env::with_recovery_key();
    env.add("stripe", "a", &["--env", "prod"]);
    let out = env.cmd().args(["add", "stripe"]).write_stdin("b").output().unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(stderr(&out).contains("rotate"), "points at rotate/update: {}", stderr(&out));
    // same variable, same environment
    env.cmd().args(["add", "other", "--var", "STRIPE", "--env", "prod"]).write_stdin("b").assert().code(6);
    // same variable, another environment is fine
    env.cmd().args(["add", "other", "--var", "STRIPE", "--env", "dev"]).write_stdin("b").assert().success();
    // update into a conflict is refused too
    env.cmd().args(["update", "other", "--env", "production"]).assert().code(6);
    assert_eq!(env.get("stripe"), "a");
}

#[test]
fn metadata_flags_are_stored_and_validated() {
    let env = Env::with_recovery_key();
    env.add(
        "gh/ci",
        "ghp_x",
        &[
            "--provider",
            "GitHub",
            "--env",
            "Production",
            "--var",
            "GH_TOKEN",
            "--expires",
            "2027-01-31",
            "--rotate-every",
            "30d",
            "--scope",
            "repo",
            "--scope",
            "read:org",
            "--allow-ip",
            "10.0.0.0/8",
            "--allow-origin",
            "https://app.example.com",
            "--rate-limit",
            "1000/min",
            "--tag",
            "ci",
            "--tag",
            "ci",
            "--note",
            "for the deploy job",
        ],
    );
    let out = env.cmd().args(["info", "gh/ci", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["provider"], "github");
    assert_eq!(doc["env"], "prod");
    assert_eq!(doc["var"], "GH_TOKEN");
    assert_eq!(doc["expires"], "2027-01-31T23:59:59Z");
    assert_eq!(doc["rotate_every"], "30d");
    assert_eq!(doc["scopes"], serde_json::json!(["repo", "read:org"]));
    assert_eq!(doc["allow_ips"], serde_json::json!(["10.0.0.0/8"]));
    assert_eq!(doc["rate_limit"], "1000/min");
    assert_eq!(doc["tags"], serde_json::json!(["ci"]));
    assert_eq!(doc["versions"][0]["stage"], "current");
    assert!(!stdout(&out).contains("ghp_x"), "info never shows values");

    for bad in [
        &["--expires", "someday"][..],
        &["--rotate-every", "often"],
        &["--allow-ip", "10.0.0.0/33"],
        &["--allow-origin", "example.com"],
        &["--rate-limit", "lots"],
        &["--var", "1BAD"],
        &["--var", "KEYWARD_VAULT_KEY"],
        &["--env", "../prod"],
        &["--note", "bell\u{7}"],
        &["--provider", "a b"],
    ] {
        let out = env.cmd().arg("add").arg("bad").args(bad).write_stdin("v").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert_one_line_error(&stderr(&out));
    }
    env.cmd().args(["get", "bad"]).assert().code(3);
}

#[test]
fn default_variable_is_derived_from_the_name() {
    let env = Env::with_recovery_key();
    env.add("openai/dev-key.v2", "sk", &[]);
    let doc: Value =
        serde_json::from_slice(&env.cmd().args(["info", "openai/dev-key.v2", "--json"]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(doc["var"], "OPENAI_DEV_KEY_V2");
    assert_eq!(doc["rotate_every"], "90d", "default rotation policy");
}

#[test]
fn list_filters_and_never_shows_values() {
    let env = Env::with_recovery_key();
    env.add("a", "VALUE_A_SENTINEL", &["--env", "prod", "--provider", "stripe", "--tag", "billing"]);
    env.add("b", "VALUE_B_SENTINEL", &["--env", "dev", "--provider", "openai"]);
    env.add("c", "VALUE_C_SENTINEL", &[]);
    let out = env.cmd().arg("list").output().unwrap();
    let text = stdout(&out);
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(rows[0][..3], ["NAME", "VARIABLE", "ENV"], "plain columns when not a terminal: {text}");
    assert_eq!(rows[1][..5], ["a", "A", "prod", "stripe", "1"]);
    assert_eq!(rows.len(), 4);
    assert!(!text.contains("SENTINEL"));
    let names = |args: &[&str]| -> Vec<String> {
        let out = env.cmd().arg("list").args(args).arg("--json").output().unwrap();
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        doc.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(&[]), ["a", "b", "c"]);
    // One selection everywhere (issue 19, item 4): an environment's secrets and those with none.
    assert_eq!(names(&["--env", "prod"]), ["a", "c"]);
    // A well-known environment with no secret selects nothing but the shared ones; a typo fails.
    assert_eq!(names(&["--env", "staging"]), ["c"]);
    let out = env.cmd().args(["list", "--env", "prdo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean prod?"), "{}", stderr(&out));
    assert_eq!(names(&["--provider", "openai"]), ["b"]);
    assert_eq!(names(&["--tag", "billing"]), ["a"]);
    assert!(names(&["--tag", "none"]).is_empty());
}

#[test]
fn update_changes_metadata_only() {
    let env = Env::with_recovery_key();
    env.add("k", "value", &["--tag", "old", "--scope", "s1", "--env", "dev"]);
    env.cmd()
        .args([
            "update",
            "k",
            "--tag",
            "new",
            "--untag",
            "old",
            "--clear",
            "scopes",
            "--expires",
            "30d",
            "--note",
            "hi",
        ])
        .assert()
        .success();
    let doc: Value = serde_json::from_slice(&env.cmd().args(["info", "k", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(doc["tags"], serde_json::json!(["new"]));
    assert_eq!(doc["scopes"], serde_json::json!([]));
    assert_eq!(doc["note"], "hi");
    assert!(doc["expires"].is_string());
    assert_eq!(env.get("k"), "value");
    env.cmd().args(["update", "k", "--clear", "env", "--clear", "expires"]).assert().success();
    let doc: Value = serde_json::from_slice(&env.cmd().args(["info", "k", "--json"]).output().unwrap().stdout).unwrap();
    assert!(doc["env"].is_null() && doc["expires"].is_null());
    env.cmd().args(["update", "missing", "--tag", "x"]).assert().code(3);
    env.cmd().args(["update", "k", "--expires", "nope"]).assert().code(2);
}

#[test]
fn rename_keeps_value_history_and_variable() {
    let env = Env::with_recovery_key();
    env.add("old", "v", &[]);
    env.add("taken", "t", &[]);
    env.cmd().args(["rename", "old", "taken"]).assert().code(6);
    env.cmd().args(["rename", "old", "bad//name"]).assert().code(2);
    env.cmd().args(["rename", "missing", "x"]).assert().code(3);
    env.cmd().args(["rename", "old", "new/name"]).assert().success();
    assert_eq!(env.get("new/name"), "v");
    env.cmd().args(["get", "old"]).assert().code(3);
    let doc: Value =
        serde_json::from_slice(&env.cmd().args(["info", "new/name", "--json"]).output().unwrap().stdout).unwrap();
    assert_eq!(doc["var"], "OLD");
}

#[test]
fn rm_needs_yes_without_a_terminal() {
    let env = Env::with_recovery_key();
    env.add("k", "v", &[]);
    let out = env.cmd().args(["rm", "k"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_one_line_error(&stderr(&out));
    assert_eq!(env.get("k"), "v", "nothing removed");
    env.cmd().args(["rm", "k", "--yes"]).assert().success();
    env.cmd().args(["get", "k"]).assert().code(3);
    env.cmd().args(["rm", "k", "--yes"]).assert().code(3);
}

#[test]
fn missing_vault_is_exit_3_with_advice() {
    let env = Env::new();
    let out = env.cmd().args(["get", "x"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("keyward init"));
    assert_one_line_error(&stderr(&out));
    env.cmd().args(["list"]).assert().code(3);
    env.cmd().args(["key", "status"]).assert().code(3).stdout(predicate::str::contains("keyward init"));
}

#[test]
fn init_twice_is_a_conflict_and_files_are_private() {
    let env = Env::with_recovery_key();
    assert_eq!(mode(&env.vault), 0o600);
    assert_eq!(mode(&env.path("recovery.txt")), 0o600);
    env.cmd().args(["init", "--keyring", "none", "--recovery-key-file", "/dev/null"]).assert().code(6);
    // directories keyward creates are 0700
    let mut env2 = Env::new();
    env2.vault = env2.home.join("deep/er/vault.kw");
    env2.cmd().args(["init", "--keyring", "none", "--recovery-key-file"]).arg(env2.path("r")).assert().success();
    assert_eq!(mode(&env2.home.join("deep")), 0o700);
    assert_eq!(mode(&env2.home.join("deep/er")), 0o700);
    // no temp files are left beside the vault
    let names: Vec<_> = std::fs::read_dir(env2.home.join("deep/er")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names.len(), 2, "vault and its lock file: {names:?}");
}

#[test]
fn a_vault_readable_by_others_gets_a_warning() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::with_recovery_key();
    env.add("k", "v", &[]);
    std::fs::set_permissions(&env.vault, std::fs::Permissions::from_mode(0o644)).unwrap();
    env.cmd().args(["get", "k"]).assert().success().stderr(predicate::str::contains("chmod 600"));
}

#[test]
fn init_with_no_way_in_is_refused() {
    let env = Env::new();
    let out = env.cmd().args(["init", "--keyring", "none"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!env.vault.exists());
}

#[test]
fn init_without_a_terminal_leaves_a_way_back_or_says_it_knowingly_leaves_none() {
    // Issue 19, item 1: a keyring entry alone is no way back (the kernel keyring forgets it at
    // reboot), and without a terminal no recovery key can be shown.
    let env = Env::new();
    let out = env.cmd().args(["init", "--keyring", "keyutils"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    common::assert_one_line_error(&stderr(&out));
    for way in ["--recovery-key-file", "--passphrase", "--no-recovery"] {
        assert!(stderr(&out).contains(way), "names {way}: {}", stderr(&out));
    }
    assert!(!env.vault.exists(), "nothing was created");

    let out = env.cmd().args(["init", "--keyring", "keyutils", "--no-recovery"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("kw1-"));
    assert!(stderr(&out).contains("--no-recovery") && stderr(&out).contains("key recovery"), "{}", stderr(&out));
    assert!(stderr(&out).contains("reboot"), "warns about kernel keyring persistence");
    env.cmd().arg("lock").assert().code(6); // the only slot: locking would strand the vault

    // key rotate in a script: asks for --yes first, then for a way back.
    let out = env.cmd().args(["key", "rotate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    let out = env.cmd().args(["key", "rotate", "--yes"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--no-recovery"), "{}", stderr(&out));
    // With `-`, standard output is the new recovery key alone: redirected, it unlocks.
    let out = env.cmd().args(["key", "rotate", "--yes", "--recovery-key-file", "-"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out);
    assert_eq!(key.lines().count(), 1, "the key alone: {key:?}");
    assert!(stderr(&out).contains("re-keyed"), "the report goes to stderr: {}", stderr(&out));
    env.cmd().arg("lock").assert().success();
    env.cmd().args(["list"]).env("KEYWARD_VAULT_KEY", key.trim()).assert().success();
}

#[test]
fn init_recovery_key_to_standard_output_writes_the_key_alone() {
    // Issue 19, item 2: `keyward init --recovery-key-file - > key.txt` makes a file that unlocks.
    let env = Env::new();
    let out = env.cmd().args(["init", "--keyring", "none", "--recovery-key-file", "-"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let key = stdout(&out);
    assert_eq!(key.lines().count(), 1, "the key alone: {key:?}");
    assert!(key.starts_with("kw1-"));
    assert!(stderr(&out).contains("created vault"), "{}", stderr(&out));
    env.cmd().args(["list"]).env("KEYWARD_VAULT_KEY", key.trim()).assert().success();

    // --json would put a second document on standard output: refused, nothing created.
    let other = Env::new();
    let out = other.cmd().args(["init", "--keyring", "none", "--json", "--recovery-key-file", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!other.vault.exists());
}

#[test]
fn commands_that_destroy_or_invalidate_ask_or_need_yes_in_scripts() {
    // Issue 19, item 7: one rule for every such command.
    let env = Env::with_recovery_key();
    env.add("k", "value-1", &[]);
    let token = env.cmd().args(["key", "token", "add", "ci"]).output().unwrap();
    let token = stdout(&token).trim().to_owned();
    let backup = env.path("backup.kwb");
    std::fs::write(&backup, "precious").unwrap();
    let refusals: [&[&str]; 6] = [
        &["key", "token", "rm", "ci"],
        &["key", "rotate", "--recovery-key-file", "/dev/null"],
        &["key", "recovery", "--recovery-key-file", "/dev/null"],
        &["rm", "k"],
        &["revoke", "k"],
        &["backup", backup.to_str().unwrap()],
    ];
    for args in refusals {
        let out = env.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        common::assert_one_line_error(&stderr(&out));
        assert!(stderr(&out).contains("--yes") || stderr(&out).contains("--force"), "{args:?}: {}", stderr(&out));
    }
    // Nothing happened.
    env.cmd()
        .args(["get", "k"])
        .env("KEYWARD_VAULT_KEY", &token)
        .assert()
        .success()
        .stdout(predicate::str::starts_with("value-1"));
    assert_eq!(std::fs::read_to_string(&backup).unwrap(), "precious");
    // With the flag, each goes ahead.
    env.cmd().args(["backup", "--force"]).arg(&backup).assert().success();
    assert_ne!(std::fs::read(&backup).unwrap(), b"precious");
    env.cmd().args(["key", "token", "rm", "ci", "--yes"]).assert().success();
    env.cmd().args(["get", "k"]).env("KEYWARD_VAULT_KEY", &token).assert().code(4);
}

#[test]
fn project_vault_is_found_by_walking_up() {
    let env = Env::new();
    let project = env.home.join("code/app");
    std::fs::create_dir_all(project.join("src/deep")).unwrap();
    let key_file = env.path("rk");
    env.cmd()
        .env_remove("KEYWARD_VAULT")
        .current_dir(&project)
        .args(["init", "--keyring", "none", "--vault", ".keyward/vault.kw", "--recovery-key-file"])
        .arg(&key_file)
        .assert()
        .success();
    let key = std::fs::read_to_string(&key_file).unwrap();
    let out = env
        .cmd()
        .env_remove("KEYWARD_VAULT")
        .env("KEYWARD_VAULT_KEY", key.trim())
        .current_dir(project.join("src/deep"))
        .args(["key", "status", "--json"])
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["vault"], project.join(".keyward/vault.kw").to_str().unwrap());
    assert!(doc["why"].as_str().unwrap().contains("project"));
    assert_eq!(doc["unlocks_now"]["ok"], true);
}

#[test]
fn user_vault_lives_under_xdg_data_home() {
    let env = Env::new();
    env.cmd()
        .env_remove("KEYWARD_VAULT")
        .args(["init", "--keyring", "none", "--recovery-key-file"])
        .arg(env.path("rk"))
        .assert()
        .success();
    assert!(env.home.join(".local/share/keyward/vault.kw").is_file());
}

#[test]
fn usage_errors_are_one_line_exit_2() {
    let env = Env::with_recovery_key();
    for args in [&["frobnicate"][..], &["get"], &["add", "--expires"], &["list", "--bogus"], &["get", "a", "b"]] {
        let out = env.cmd().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert_one_line_error(&stderr(&out));
    }
}

#[test]
fn no_arguments_prints_an_overview() {
    let env = Env::new();
    env.cmd().assert().success().stdout(predicate::str::contains("Commands:").and(predicate::str::contains("init")));
    env.cmd().arg("--help").assert().success().stdout(predicate::str::contains("Exit codes:"));
}

#[test]
fn broken_pipe_exits_quietly() {
    let env = Env::with_recovery_key();
    for i in 0..40 {
        env.add(&format!("name{i:02}"), "v", &["--tag", &"t".repeat(50)]);
    }
    let keyward = assert_cmd::cargo::cargo_bin("keyward");
    let script = format!("'{}' list | head -c 10 >/dev/null; exit ${{PIPESTATUS[0]}}", keyward.display());
    let out = std::process::Command::new("bash")
        .arg("-c")
        .arg(script)
        .env("KEYWARD_VAULT", &env.vault)
        .env("KEYWARD_VAULT_KEY", env.key.as_ref().unwrap())
        .env("HOME", &env.home)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert!(stderr(&out).is_empty(), "no noise on a broken pipe: {}", stderr(&out));
}

#[test]
fn names_and_metadata_are_sanitized_when_printed() {
    let env = Env::with_recovery_key();
    // Metadata with control characters is refused at the door...
    env.cmd().args(["add", "k", "--tag", "a\u{1b}[2Jb"]).write_stdin("v").assert().code(2);
    // ...and error messages echoing hostile input are neutralized.
    let out = env.cmd().args(["get", "x\u{1b}]0;pwned\u{7}"]).output().unwrap();
    assert!(!stderr(&out).contains('\u{1b}') && !stderr(&out).contains('\u{7}'));
}

#[test]
fn typos_get_suggestions_and_the_aliases_of_peer_tools_work() {
    // Issue 19, item 10.
    let env = Env::with_recovery_key();
    env.add("stripe/live", "sk_live_value_000000000001", &[]);
    let said = |args: &[&str]| {
        let out = env.cmd().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?} fails");
        common::assert_one_line_error(&stderr(&out));
        stderr(&out)
    };
    assert!(said(&["lst"]).contains("'list'"), "a subcommand");
    assert!(said(&["list", "--evn", "prod"]).contains("did you mean --env?"), "a flag, letters swapped");
    assert!(said(&["list", "--provder", "x"]).contains("'--provider'"), "a flag");
    assert!(said(&["get", "stripe/lve"]).contains("did you mean stripe/live?"), "a secret name");
    assert!(!said(&["get", "zzz"]).contains("did you mean"), "nothing close: no suggestion");
    // ls, show, run, remove/delete, set.
    env.cmd().args(["ls"]).assert().success().stdout(predicate::str::contains("stripe/live"));
    env.cmd().args(["show", "stripe/live"]).assert().success().stdout(predicate::str::starts_with("sk_live_value"));
    env.cmd()
        .args(["run", "--no-mask", "--only", "stripe/live", "--", "sh", "-c", "echo $STRIPE_LIVE"])
        .assert()
        .success()
        .stdout("sk_live_value_000000000001\n");
    // set: adds a new name, rotates an existing one (staged: the old value becomes previous).
    env.cmd().args(["set", "new/one", "--env", "dev"]).write_stdin("first-value-0001").assert().success();
    env.cmd().args(["set", "new/one", "--no-verify"]).write_stdin("second-value-002").assert().success();
    env.cmd().args(["get", "new/one"]).assert().success().stdout(predicate::str::starts_with("second-value-002"));
    env.cmd()
        .args(["get", "new/one", "--version", "previous"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("first-value-0001"));
    env.cmd().args(["set", "new/one", "--env", "prod"]).write_stdin("x-value-00000003").assert().code(2);
    env.cmd().args(["delete", "new/one", "--yes"]).assert().success();
    env.cmd().args(["remove", "stripe/live", "--yes"]).assert().success();
    env.cmd().args(["list", "--json"]).assert().success().stdout("[]\n");
}

#[test]
fn command_groups_without_a_subcommand_print_their_help() {
    // Issue 19, item 11.
    let env = Env::new();
    for (group, lists) in [(&["key"][..], "  token"), (&["key", "token"], "  add")] {
        let out = env.cmd().args(group).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{group:?}");
        let help = format!("{}{}", stdout(&out), stderr(&out));
        assert!(help.contains(lists), "{group:?}: {help}");
        assert!(
            help.contains("Commands:") && help.contains("token") || help.contains("  add"),
            "{group:?} lists its subcommands: {help}"
        );
    }
}

#[test]
fn a_value_typed_as_an_argument_is_never_echoed() {
    // Issue 19, item 12.
    let env = Env::with_recovery_key();
    let value = "sk_live_51HbX9EchoedValue00000000";
    for args in [vec!["add", "stripe/x", value], vec!["add", &format!("stripe/x={value}")], vec!["get", "x", value]] {
        let out = env.cmd().args(&args).write_stdin("").output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        common::assert_one_line_error(&stderr(&out));
        assert!(!stderr(&out).contains("EchoedValue"), "{args:?} echoed the value: {}", stderr(&out));
        assert!(stderr(&out).contains("never taken from the command line"), "{}", stderr(&out));
    }
}

#[test]
fn advice_names_the_real_command_and_fits_the_situation() {
    // Issue 19, item 13.
    let mut env = Env::with_recovery_key();
    env.add("stripe/live", "sk_live_51HbX9AdviceValue00000000000", &["--provider", "stripe"]);
    let err = |env: &Env, args: &[&str]| {
        let out = env.cmd().args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        common::assert_one_line_error(&stderr(&out));
        stderr(&out)
    };
    assert!(err(&env, &["audit", "--since", "yesterday"]).contains("`keyward help audit`"));
    assert!(err(&env, &["get", "stripe/live", "--version", "old"]).contains("`keyward help get`"));
    let dir = env.path("vaults");
    std::fs::create_dir(&dir).unwrap();
    let said = err(&env, &["--vault", dir.to_str().unwrap(), "list"]);
    assert!(said.contains(&format!("did you mean {}/vault.kw?", dir.display())), "{said}");
    // A value in the wrong format: the fix is another value, not the provider.
    let out = env.cmd().args(["rotate", "stripe/live"]).write_stdin("not-a-stripe-key-at-all").output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stderr(&out).contains("--abort") && stderr(&out).contains("pipe the right value"), "{}", stderr(&out));
    // A token this file has no slot for: maybe the vault with its slot was never pushed.
    let other = Env::with_recovery_key();
    let foreign = stdout(&other.cmd().args(["key", "token", "add", "ci"]).output().unwrap()).trim().to_owned();
    env.key = Some(foreign);
    assert!(err(&env, &["list"]).contains("committed and pushed"));
    // No passphrase slot: no passphrase advice.
    env.key = None;
    let said = err(&env, &["list"]);
    assert!(!said.to_lowercase().contains("give the passphrase"), "{said}");
}

#[test]
fn the_pre_commit_refusal_says_how_to_get_past_it() {
    let env = Env::new();
    let repo = env.path("repo");
    std::fs::create_dir(&repo).unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git").args(args).current_dir(&repo).output().unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    git(&["init", "-q"]);
    std::fs::write(repo.join("deploy.sh"), "STRIPE=sk_live_4eC39HqLyjWDarjtT1zdp7dc\n").unwrap();
    git(&["add", "deploy.sh"]);
    let out = env.cmd().current_dir(&repo).args(["scan", "--staged", "--no-known"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    for way in ["keyward:allow", "--baseline", "git commit --no-verify"] {
        assert!(stderr(&out).contains(way), "{way}: {}", stderr(&out));
    }
}

#[test]
fn smaller_things_from_the_new_user_trial() {
    // Issue 19, item 14.
    let env = Env::with_recovery_key();
    env.add(
        "b/openai",
        "sk-svcacct-lx0z4f5JZSCnDW6tGgx7gPnxzw6B5TEvZ61Af7wScNZhMWee",
        &["--provider", "openai", "--env", "dev"],
    );
    env.add("a/plain", "plain-value-0001", &[]);
    // --json means --format json for export; mixed with another format it is refused.
    let out = env.cmd().args(["export", "--json", "--env", "dev"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON, not dotenv");
    assert_eq!(doc["A_PLAIN"], "plain-value-0001");
    let out = env.cmd().args(["export", "--json", "--format", "shell"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    // The flag the environment refusal points at exists on export too.
    env.cmd().args(["export", "--env", "prod", "--allow-env-mismatch", "--only", "b/openai"]).assert().success();
    // validate --all is sorted by name; "an OpenAI", not "a OpenAI".
    let out = env.cmd().args(["validate", "--all", "--json"]).output().unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = doc.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a/plain", "b/openai"]);
    let out = env.cmd().args(["validate", "b/openai"]).output().unwrap();
    assert!(stdout(&out).contains("an OpenAI"), "{}", stdout(&out));
    // "has no version 9", not "has no #9 version".
    let out = env.cmd().args(["get", "a/plain", "--version", "9"]).output().unwrap();
    assert!(stderr(&out).contains("has no version 9"), "{}", stderr(&out));
    // Errors under --json are JSON, with the exit code.
    let out = env.cmd().args(["get", "nope", "--json"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let doc: Value = serde_json::from_str(stderr(&out).trim()).expect("a JSON error");
    assert_eq!(doc["exit_code"], 3);
    assert!(doc["error"].as_str().unwrap().contains("nope"));
}

#[test]
fn list_finds_by_name_variable_tag_or_provider() {
    // Issue 21, item 2.
    let env = Env::with_recovery_key();
    env.add("stripe/live", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", &["--tag", "billing"]);
    env.add("github/ci", "value-github-0001", &["--var", "GH_TOKEN", "--provider", "github"]);
    env.add("internal/hook", "value-hook-00001", &["--tag", "Webhooks"]);
    let names = |args: &[&str]| -> Vec<String> {
        let out = env.cmd().arg("list").args(args).arg("--json").output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        doc.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(&["stripe"]), ["stripe/live"], "a name, and the detected provider");
    assert_eq!(names(&["gh_tok"]), ["github/ci"], "a variable, case ignored");
    assert_eq!(names(&["webhook"]), ["internal/hook"], "a tag");
    assert_eq!(names(&["github"]), ["github/ci"], "a provider");
    assert_eq!(names(&["*/hook"]), ["internal/hook"], "a glob");
    assert_eq!(names(&["*_TOKEN"]), ["github/ci"]);
    assert!(names(&["nothing-like-it"]).is_empty());
    let out = env.cmd().args(["list", "["]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a broken glob is bad input");
}
