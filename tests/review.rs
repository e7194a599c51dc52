//! The findings of the independent security review (issue 14), one section each, through the real
//! binary. Each test failed on the main branch the review attacked.

mod common;

use common::{Env, assert_one_line_error, stderr, stdout};

fn run(env: &Env, args: &[&str]) -> std::process::Output {
    env.cmd().args(args).output().unwrap()
}

/// Asserts a refusal: the exit code, one line naming `says`, nothing on standard output.
fn refused(out: &std::process::Output, code: i32, says: &str) {
    assert_eq!(out.status.code(), Some(code), "stderr: {}", stderr(out));
    assert!(stdout(out).is_empty(), "a refusal prints nothing on stdout: {}", stdout(out));
    assert_one_line_error(&stderr(out));
    assert!(stderr(out).contains(says), "{:?} lacks {says:?}", stderr(out));
}

// ---------------------------------------------------------------- 1. revoked values

#[test]
fn a_revoked_version_never_leaves_keyward() {
    let env = Env::with_recovery_key();
    env.add("pay/key", "revoked-value-000001", &[]);
    env.add("other", "other-value-0000001", &[]);
    env.cmd().args(["revoke", "pay/key", "--compromised", "--yes"]).assert().success();

    let says = "version 1 of secret \"pay/key\" was revoked as compromised";
    refused(&run(&env, &["get", "pay/key", "--version", "1"]), 6, says);
    refused(&run(&env, &["get", "pay/key"]), 6, "secret \"pay/key\" was revoked as compromised");
    let out =
        env.cmd().env("FOO", "keyward:pay/key@1").args(["exec", "--only", "other", "--", "env"]).output().unwrap();
    refused(&out, 125, says);
    let out = env.cmd().args(["inject"]).write_stdin("k={{ keyward:pay/key@1 }}\n").output().unwrap();
    refused(&out, 6, says);
    refused(&run(&env, &["export", "--only", "pay/key"]), 6, "was revoked as compromised");

    // mask still hides it: a revoked key in a log is still a leak.
    let out =
        env.cmd().args(["mask", "--style", "full"]).write_stdin("leaked revoked-value-000001 here\n").output().unwrap();
    assert_eq!(stdout(&out), "leaked revoked-value-000001 here\n".replace("revoked-value-000001", "********"));
}

#[test]
fn a_version_revoked_by_rotation_is_refused_by_number() {
    let env = Env::with_recovery_key();
    env.add("svc/token", "first-value-0000001", &[]);
    for value in ["second-value-000002", "third-value-0000003"] {
        env.cmd().args(["rotate", "svc/token", "--no-verify"]).write_stdin(value).assert().success();
    }
    // Version 1 was revoked by the second rotation (one previous at most); 2 is previous.
    refused(&run(&env, &["get", "svc/token", "--version", "1"]), 6, "version 1 of secret \"svc/token\" was revoked");
    env.cmd().args(["get", "-n", "svc/token", "--version", "2"]).assert().success().stdout("second-value-000002");
}

// ---------------------------------------------------------------- 2. writers of a vault

#[test]
fn clear_fields_are_validated_when_read_back() {
    let env = Env::with_recovery_key();
    env.add("app/key", "app-value-00000001", &[]);
    let pwned = env.path("pwned");
    type Change = Box<dyn Fn(&mut keyward::vault::payload::Record)>;
    let cases: [(&str, Change); 3] = [
        ("variable", Box::new(move |r| r.var = format!("X;touch {}", pwned.display()))),
        ("name", Box::new(|r| r.name = "app/$(id)".into())),
        ("environment", Box::new(|r| r.env = Some("prod'\n".into()))),
    ];
    let original = std::fs::read(&env.vault).unwrap();
    for (field, change) in cases {
        std::fs::write(&env.vault, &original).unwrap();
        env.craft(|records| change(&mut records.records[0]));
        for args in [
            &["export", "--format", "shell"][..],
            &["export", "--format", "dotenv"],
            &["export", "--format", "github"],
            &["list"],
            &["validate", "--all"],
        ] {
            let out = run(&env, args);
            refused(&out, 5, &format!("its {field} is not valid"));
            assert!(stderr(&out).contains("the record"), "{args:?}: names the record: {}", stderr(&out));
        }
        refused(&run(&env, &["exec", "--", "true"]), 125, &format!("its {field} is not valid"));
    }
    assert!(!env.path("pwned").exists());
}

#[test]
fn startup_variables_need_the_writers_and_the_readers_permission() {
    let env = Env::with_recovery_key();
    // The writer: refused unless allowed, on the command line or in the writer's config.
    let out = env.cmd().args(["add", "hook", "--var", "BASH_ENV"]).write_stdin("/tmp/evil.sh").output().unwrap();
    refused(&out, 6, "variable BASH_ENV changes how programs start");
    assert!(stderr(&out).contains("--allow-var BASH_ENV"), "{}", stderr(&out));
    for var in ["PATH", "LD_PRELOAD", "GIT_SSH_COMMAND", "DYLD_INSERT_LIBRARIES", "NODE_OPTIONS", "PS4"] {
        let out = env.cmd().args(["add", "x", "--var", var]).write_stdin("value-000001").output().unwrap();
        assert_eq!(out.status.code(), Some(6), "{var}: {}", stderr(&out));
    }
    // A secret named `path` gets the variable PATH by default: the same rule.
    let out = env.cmd().args(["add", "path"]).write_stdin("value-000001").output().unwrap();
    refused(&out, 6, "variable PATH");
    let out = env.cmd().args(["update", "nothing-yet", "--var", "IFS"]).output().unwrap();
    refused(&out, 6, "variable IFS");
    let out =
        env.cmd().args(["import", "-"]).write_stdin("LD_PRELOAD=/tmp/x.so\nOK_VAR=fine-value-01\n").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("rejected LD_PRELOAD"), "{}", stderr(&out));

    let script = env.path("evil.sh");
    let marker = env.path("ran");
    std::fs::write(&script, format!("touch {}\n", marker.display())).unwrap();
    env.cmd()
        .args(["add", "hook", "--var", "BASH_ENV", "--allow-var", "BASH_ENV"])
        .write_stdin(script.display().to_string())
        .assert()
        .success();

    // The reader: a mark in the vault is not enough, the reader allows it or nothing runs.
    let out = env.cmd().args(["exec", "--no-mask", "--", "bash", "-c", "true"]).output().unwrap();
    refused(&out, 125, "variable BASH_ENV changes how programs start");
    assert!(!marker.exists(), "BASH_ENV ran");
    refused(&run(&env, &["export", "--format", "shell"]), 6, "variable BASH_ENV");
    let out = env.cmd().args(["exec", "--allow-var", "BASH_ENV", "--", "bash", "-c", "true"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(marker.exists(), "allowed by the reader on the command line");
    std::fs::remove_file(&marker).unwrap();
    env.config("[exec]\nallow_vars = [\"BASH_ENV\"]\n");
    env.cmd().args(["exec", "--", "bash", "-c", "true"]).assert().success();
    assert!(marker.exists(), "allowed by the reader's own config");
    env.cmd().args(["export", "--format", "shell"]).assert().success();
}

// ---------------------------------------------------------------- 7. references

#[test]
fn references_get_the_checks_of_secrets_named_with_only() {
    let env = Env::with_recovery_key();
    let live = format!("sk_live_{}", "4eC39HqLyjWDarjtT1zdp7dc");
    env.add("stripe/prod", &live, &["--env", "prod", "--provider", "stripe"]);
    env.add("stripe/any", &live, &["--provider", "stripe"]);
    env.add("dev/x", "dev-value-0000001", &["--env", "dev"]);
    let exec = |reference: &str, args: &[&str]| {
        let only = ["--only", "dev/x"];
        let script = ["--", "sh", "-c", "echo ${#PAY}"];
        env.cmd().env("PAY", reference).arg("exec").args(only).args(args).args(script).output().unwrap()
    };
    refused(&exec("keyward:stripe/prod", &["--env", "dev"]), 125, "stripe/prod belongs to environment prod, not dev");
    refused(&exec("keyward:stripe/any", &["--env", "dev"]), 125, "holds a live Stripe key and the run is for dev");
    // What --only refuses, a reference is refused too; and the same flag allows both.
    refused(
        &run(&env, &["exec", "--env", "dev", "--only", "stripe/prod", "--", "true"]),
        125,
        "belongs to environment",
    );
    let out = exec("keyward:stripe/prod", &["--env", "dev", "--allow-env-mismatch"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), format!("{}\n", live.len()));
    refused(&exec("keyward:stripe/prod", &["--env", "prod"]), 125, "dev/x belongs to environment dev, not prod");
}

// ---------------------------------------------------------------- 3. Argon2 cost bombs

/// Runs `cmd`, failing the test if it has not finished after `secs` (an Argon2 derivation at the
/// maximum cost takes minutes: a finished run within seconds shows none ran).
fn finishes_within(mut cmd: std::process::Command, secs: u64) -> std::process::Output {
    use std::process::Stdio;
    let child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: kill with the pid of our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("still running after {secs} s: an Argon2 derivation ran");
        }
    }
}

/// A passphrase vault of 10,000 secrets, and its file rewritten with `slots` passphrase slots at
/// the maximum Argon2 cost (the header checksum fixed up, as anyone can).
fn cost_bomb(slots: usize) -> Env {
    use keyward::vault::{crypto::Argon2Params, format};
    let mut env = Env::new();
    std::fs::write(env.path("pass"), "a passphrase 1234\n").unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd().args(["init", "--keyring", "none", "--passphrase"]).assert().success();
    let dotenv: String = (0..10_000).map(|i| format!("SECRET_{i:05}=value-{i:05}-abcdefgh\n")).collect();
    env.cmd().args(["import", "-"]).write_stdin(dotenv).assert().success();
    let file = std::fs::read(&env.vault).unwrap();
    let parsed = format::parse(&file).unwrap();
    let mut header = parsed.header.clone();
    let mut slot = header.slots.iter().find(|s| s.kind == format::SlotKind::Passphrase).unwrap().clone();
    slot.kdf = format::Kdf::Argon2id(Argon2Params::MAX);
    header.slots = (0..slots).map(|i| format::Slot { label: format!("p{i}"), ..slot.clone() }).collect();
    let mut bomb = format::encode_header(&header);
    bomb.extend_from_slice(parsed.ciphertext);
    std::fs::write(&env.vault, bomb).unwrap();
    env
}

fn complete_get(env: &Env) -> std::process::Command {
    let mut cmd = env.std_cmd();
    cmd.env("COMPLETE", "bash").env("_CLAP_COMPLETE_INDEX", "2").env("_CLAP_IFS", "\n");
    cmd.args(["--", "keyward", "get", ""]);
    cmd
}

#[test]
fn a_vault_with_more_than_one_passphrase_slot_is_damaged() {
    let env = cost_bomb(2);
    let mut list = env.std_cmd();
    list.arg("list");
    refused(&finishes_within(list, 10), 5, "more than one passphrase slot");
}

#[test]
fn completion_never_derives_a_passphrase() {
    for slots in [1, 64] {
        let env = cost_bomb(slots);
        let out = finishes_within(complete_get(&env), 10);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(!stdout(&out).contains("secret_") && stderr(&out).is_empty(), "{slots}: {}", stdout(&out));
    }
}
