//! The findings of the independent security review (issue 14), one section each, through the real
//! binary. Each test failed on the main branch the review attacked.

use crate::common;

use common::{Env, refused, run, stderr, stdout};

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
    clear_fields_are_validated_in(&Env::with_recovery_key_v1());
    clear_fields_are_validated_in(&Env::with_recovery_key());
}

/// Format 1 names the record and the field; format 2 refuses the file at the line that breaks
/// its grammar (clear fields are parsed with the file).
fn clear_fields_are_validated_in(env: &Env) {
    let format2 = std::fs::read(&env.vault).unwrap().starts_with(b"keyward vault 2\n");
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
            let out = run(env, args);
            if format2 {
                refused(&out, 5, "is damaged or has been tampered with: line ");
            } else {
                refused(&out, 5, &format!("its {field} is not valid"));
                assert!(stderr(&out).contains("the record"), "{args:?}: names the record: {}", stderr(&out));
            }
        }
        let says = if format2 {
            "is damaged or has been tampered with".to_owned()
        } else {
            format!("its {field} is not valid")
        };
        refused(&run(env, &["exec", "--", "true"]), 125, &says);
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
    if let Ok(out) = rx.recv_timeout(std::time::Duration::from_secs(secs)) {
        out.unwrap()
    } else {
        // SAFETY: kill with the pid of our own child.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        panic!("still running after {secs} s: an Argon2 derivation ran");
    }
}

/// A format 1 passphrase vault of 10,000 secrets, and its file rewritten with `slots` passphrase
/// slots at the maximum Argon2 cost (the header checksum fixed up, as anyone can). Format 2's
/// parser takes one passphrase slot at most (see `format2::a_passphrase_slot_costs_one_derivation`).
fn cost_bomb(slots: usize) -> Env {
    use keyward::vault::{crypto::Argon2Params, format};
    let mut env = Env::new();
    std::fs::write(env.path("pass"), "a passphrase 1234\n").unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd().args(["init", "--keyring", "none", "--passphrase", "--format", "1"]).assert().success();
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

/// A command that reads, then writes twice (`rotate`: stage, then promote) derives the
/// passphrase once: the credential is kept for the process, and the cap is never reached.
#[test]
fn a_passphrase_is_derived_once_per_process_whatever_the_command_does() {
    let mut env = Env::new();
    std::fs::write(env.path("pass"), "a passphrase 1234\n").unwrap();
    env.set("KEYWARD_PASSPHRASE_FILE", env.path("pass").to_str().unwrap());
    env.cmd().args(["init", "--keyring", "none", "--passphrase"]).assert().success();
    env.add("svc/token", "first-value-0000001", &[]);
    let out =
        env.cmd().args(["rotate", "svc/token", "--no-verify"]).write_stdin("second-value-000002").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(env.get("svc/token"), "second-value-000002");
    env.cmd().args(["rotate", "svc/token", "--rollback"]).assert().success();
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
    // Completion still works where it may unlock: a token opens the vault, names are offered.
    let env = Env::with_recovery_key();
    env.add("app/key", "value-000000001", &[]);
    let out = finishes_within(complete_get(&env), 10);
    assert!(stdout(&out).contains("app/key"), "{}", stdout(&out));
}

// ---------------------------------------------------------------- 4. HOME may be missing

/// The home directory the password database gives this user.
fn password_home() -> std::path::PathBuf {
    // SAFETY: getpwuid returns a pointer into static storage or null; read at once, one thread.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        assert!(!pw.is_null(), "this user has a password database entry");
        let dir = std::ffi::CStr::from_ptr((*pw).pw_dir);
        std::path::PathBuf::from(dir.to_str().unwrap())
    }
}

#[test]
fn without_home_nothing_is_taken_from_the_current_directory() {
    let env = Env::with_recovery_key();
    env.add("k", "value-000000001", &[]);
    // A checked-out repository with keyward's files in it, as relative XDG paths would find them.
    let repo = env.path("repo");
    let pwned = env.path("pwned");
    std::fs::create_dir_all(repo.join(".config/keyward")).unwrap();
    std::fs::write(
        repo.join(".config/keyward/config.toml"),
        format!(
            "[notify]\ncommand = \"touch {}\"\n[providers.github]\nbase_url = \"http://127.0.0.1:9\"\n",
            pwned.display()
        ),
    )
    .unwrap();
    let rel = |cmd: &mut assert_cmd::Command| {
        cmd.env_remove("HOME")
            .env("XDG_CONFIG_HOME", ".config")
            .env("XDG_STATE_HOME", ".local/state")
            .env("XDG_DATA_HOME", ".local/share")
            .current_dir(&repo);
    };
    let mut doctor = env.cmd();
    rel(&mut doctor);
    let out = doctor.args(["doctor", "--json"]).output().unwrap();
    let home = password_home();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let config = report.as_array().unwrap().iter().find(|c| c["check"] == "config").unwrap()["detail"].to_string();
    assert!(config.contains(&home.join(".config/keyward/config.toml").display().to_string()), "{config}");
    assert!(!config.contains(&repo.display().to_string()), "{config}");

    let mut path = env.cmd();
    rel(&mut path);
    let out = path.args(["audit", "--path"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with(&home.join(".local/state/keyward/audit/").display().to_string()),
        "{}",
        stdout(&out)
    );
    let mut revoke = env.cmd();
    rel(&mut revoke);
    // A command that notifies: the repository's notify command must not run. (Its audit entry
    // goes to the state directory under the password database's home: this test writes there.)
    let out = revoke.args(["revoke", "k", "--yes"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!pwned.exists(), "the repository's config ran a command");
    assert!(!repo.join(".local").exists(), "state written into the current directory");
}

#[test]
fn with_no_home_at_all_keyward_refuses() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root: this test must run there");
        eprintln!("SKIPPED: needs root to run as a user with no password database entry");
        return;
    }
    use std::os::unix::process::CommandExt;
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyward"))
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .current_dir("/")
        .uid(54321)
        .gid(54321)
        .args(["list"])
        .output()
        .unwrap();
    refused(&out, 2, "there is no home directory");
}

#[test]
fn keywards_own_directories_must_be_the_users_alone() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::with_recovery_key();
    env.add("k", "value-000000001", &[]);
    env.config("[rotation]\ngrace = \"10d\"\n");
    let config_dir = env.home.join(".config/keyward");
    std::fs::set_permissions(&config_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    refused(&run(&env, &["providers"]), 7, "others may write to it (mode 777)");
    std::fs::set_permissions(&config_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::set_permissions(config_dir.join("config.toml"), std::fs::Permissions::from_mode(0o666)).unwrap();
    refused(&run(&env, &["providers"]), 7, "config.toml: others may write to it");
    std::fs::set_permissions(config_dir.join("config.toml"), std::fs::Permissions::from_mode(0o644)).unwrap();
    env.cmd().arg("providers").assert().success();

    let state = env.home.join(".local/state/keyward");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o757)).unwrap();
    let out = run(&env, &["get", "k"]);
    refused(&out, 7, "others may write to it");
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
}

#[test]
fn audit_files_are_never_opened_through_a_link() {
    let env = Env::with_recovery_key();
    env.add("k", "value-000000001", &[]);
    let log = std::path::PathBuf::from(stdout(&run(&env, &["audit", "--path"])).trim());
    let victim = env.path("victim");
    std::fs::write(&victim, "precious\n").unwrap();
    std::fs::remove_file(&log).unwrap();
    std::os::unix::fs::symlink(&victim, &log).unwrap();
    let out = run(&env, &["get", "k"]);
    refused(&out, 7, "Too many levels of symbolic links");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    // The head file, written in place by reads, is not followed either.
    std::fs::remove_file(&log).unwrap();
    let head = log.with_extension("head");
    std::fs::remove_file(&head).unwrap();
    std::os::unix::fs::symlink(&victim, &head).unwrap();
    let _ = run(&env, &["get", "k"]);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
}

// ---------------------------------------------------------------- 5. forgeable audit lines

#[test]
fn unauthenticated_lines_are_only_failed_unlocks() {
    let env = Env::with_recovery_key();
    env.add("k", "value-000000001", &[]);
    let log = std::path::PathBuf::from(stdout(&run(&env, &["audit", "--path"])).trim());
    env.cmd().args(["audit", "verify"]).assert().success();
    // A genuine failed unlock is accepted, and counted as one.
    let mut wrong = env.cmd();
    wrong.env("KEYWARD_VAULT_KEY", Env::with_recovery_key().key.unwrap()).args(["get", "k"]).assert().code(4);
    let out = env.cmd().args(["audit", "verify", "--json"]).output().unwrap();
    assert!(stdout(&out).contains("\"unauthenticated\": 1"), "{}", stdout(&out));

    let intact = std::fs::read(&log).unwrap();
    let forged = r#"{"unauthenticated":true,"time":"2026-11-01T00:00:00Z","event":"validate","actor":"x@y","command":"validate","details":{"online":{"k":"invalid"}}}"#;
    let mut text = String::from_utf8(intact.clone()).unwrap();
    for _ in 0..10 {
        text.push_str(forged);
        text.push('\n');
    }
    // And lines that claim a MAC they do not have.
    let bogus = r#"{"seq":9,"time":"2026-11-01T00:00:00Z","event":"validate","secret":null,"fp":null,"actor":"x@y","command":"validate","details":{"online":{"k":"invalid"}},"prev":"00","mac":"00"}"#;
    for _ in 0..10 {
        text.push_str(bogus);
        text.push('\n');
        text.push_str(&bogus.replace(r#","mac":"00""#, ""));
        text.push('\n');
    }
    std::fs::write(&log, &text).unwrap();
    refused(&run(&env, &["audit", "verify"]), 5, "not a failed unlock");
    // A report never counts them: no failing-checks finding, no events.
    let out = env.cmd().args(["audit", "report", "--json"]).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!stdout(&out).contains("failing-checks"), "{}", stdout(&out));
    assert_eq!(report["totals"]["by_event"].get("validate"), None);
    assert_eq!(report["totals"]["failed_unlocks"], 1);
}

#[test]
fn key_rotate_rotates_the_audit_key_and_the_chain_goes_on() {
    let mut env = Env::with_recovery_key();
    env.add("k", "value-000000001", &[]);
    let log_path = std::path::PathBuf::from(stdout(&run(&env, &["audit", "--path"])).trim());
    // Whoever holds the recovery key today reads the payload, audit secret included.
    let old_keys = {
        let code = keyward::unlock::codes::parse(env.key.as_ref().unwrap()).unwrap();
        let locked = keyward::vault::Locked::read(&env.vault).unwrap();
        let mut c = keyward::unlock::Credential::new(code);
        let opened = c.open(&locked).unwrap();
        keyward::audit::Keys::of(&locked.open(opened.key).unwrap()).unwrap()
    };
    let rk = env.path("rk2");
    env.cmd().args(["key", "rotate", "--yes", "--recovery-key-file"]).arg(&rk).assert().success();
    env.key = Some(std::fs::read_to_string(&rk).unwrap().trim().to_owned());
    env.add("k2", "value-000000002", &[]);
    env.cmd().args(["audit", "verify"]).assert().success();
    let entries = stdout(&run(&env, &["audit", "--jsonl"]));
    assert!(entries.contains("\"key.rotate\""), "{entries}");

    // After the rotation the old key writes nothing that verifies.
    let log = keyward::audit::Log::new(
        log_path.parent().unwrap().to_owned(),
        log_path.file_stem().unwrap().to_str().unwrap(),
        10 << 20,
    );
    log.append(&old_keys, &keyward::audit::Event::new("get").secret("k"), "2026-11-29T00:00:00Z", "get", true).unwrap();
    refused(&run(&env, &["audit", "verify"]), 5, "MAC does not match");
}

// ---------------------------------------------------------------- 6. private keys

const PEM_BODY: [&str; 3] = [
    "MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun",
    "VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK",
    "LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo",
];

#[test]
fn a_private_key_is_masked_from_begin_to_end_even_when_written_slowly() {
    let env = Env::with_recovery_key();
    env.add("k", "value-000000001", &[]);
    let mut script = String::from("echo '-----BEGIN RSA PRIVATE KEY-----'; sleep 0.3; ");
    for line in PEM_BODY {
        script.push_str(&format!("echo '{line}'; sleep 0.2; "));
    }
    script.push_str("echo '-----END RSA PRIVATE KEY-----'; echo 'all done'");
    let out = env.cmd().args(["exec", "--", "sh", "-c", &script]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "********\n********\n********\n********\n********\nall done\n");

    let file = env.path("key.log");
    let text =
        format!("  -----BEGIN PRIVATE KEY-----\n  {}\n  -----END PRIVATE KEY-----\nnext\n", PEM_BODY.join("\n  "));
    std::fs::write(&file, &text).unwrap();
    let out = env.cmd().args(["mask", "--no-known"]).arg(&file).output().unwrap();
    assert_eq!(stdout(&out), "  ********\n  ********\n  ********\n  ********\n  ********\nnext\n");
}

#[test]
fn values_in_lower_case_percent_encoding_and_other_json_escapes_are_masked() {
    let env = Env::with_recovery_key();
    env.add("k", "tok/en&with<odd>chars-0123456789", &[]);
    let input = "a tok%2fen%26with%3codd%3echars-0123456789 b tok\\/en&with<odd>chars-0123456789 \
                 c tok/en\\u0026with\\u003codd\\u003echars-0123456789\n";
    let out = env.cmd().args(["mask", "--style", "full"]).write_stdin(input).output().unwrap();
    assert_eq!(stdout(&out), "a ******** b ******** c ********\n");
}

// ---------------------------------------------------------------- 8. terminal escapes

#[test]
fn escapes_from_headers_and_audit_logs_never_reach_the_terminal() {
    use keyward::vault::format;
    // Format 1's binary header (format 2 allows no such label: see `format2`).
    let env = Env::with_recovery_key_v1();
    env.cmd().args(["key", "token", "add", "ci"]).assert().success();
    let log = std::path::PathBuf::from(stdout(&run(&env, &["audit", "--path"])).trim());
    // A hostile project vault: a token label holding an escape sequence.
    let file = std::fs::read(&env.vault).unwrap();
    let parsed = format::parse(&file).unwrap();
    let mut header = parsed.header.clone();
    header.slots.iter_mut().find(|s| s.kind == format::SlotKind::Token).unwrap().label = "\x1b]0;pwned\x07".into();
    let mut forged = format::encode_header(&header);
    forged.extend_from_slice(parsed.ciphertext);
    let original = file.clone();
    std::fs::write(&env.vault, forged).unwrap();
    refused(&run(&env, &["key", "token", "list"]), 5, "control characters");
    std::fs::write(&env.vault, original).unwrap();

    // An audit line with escapes in its time and fingerprint: shown, neutralized.
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("{\"seq\":99,\"time\":\"\\u001b[2J2026\",\"event\":\"get\",\"fp\":\"\\u001b]0;x\\u0007\",\"actor\":\"a\",\"command\":\"get\",\"prev\":\"x\",\"mac\":\"y\"}\n");
    std::fs::write(&log, text).unwrap();
    let out = run(&env, &["audit"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains('\x1b') && !stdout(&out).contains('\x07'), "{}", stdout(&out));
    assert!(stdout(&out).contains("\\u{1b}[2J2026"), "{}", stdout(&out));
}

// ---------------------------------------------------------------- 9. linked project vaults

#[test]
fn a_project_vault_that_is_a_link_is_refused_and_writes_are_named() {
    let env = Env::with_recovery_key();
    env.add("mine", "value-000000001", &[]);
    let user_vault = std::fs::read(&env.vault).unwrap();
    let repo = env.home.join("code/repo");
    std::fs::create_dir_all(repo.join(".keyward")).unwrap();
    std::os::unix::fs::symlink(&env.vault, repo.join(".keyward/vault.kw")).unwrap();
    let in_repo = |args: &[&str]| {
        env.cmd()
            .env_remove("KEYWARD_VAULT")
            .current_dir(&repo)
            .args(args)
            .write_stdin("new-value-00001")
            .output()
            .unwrap()
    };
    refused(&in_repo(&["list"]), 2, "symbolic link");
    refused(&in_repo(&["add", "x"]), 2, "symbolic link");
    assert_eq!(std::fs::read(&env.vault).unwrap(), user_vault, "the user's vault was not written");
    assert!(std::fs::symlink_metadata(repo.join(".keyward/vault.kw")).unwrap().file_type().is_symlink());

    // Named explicitly, a link is followed and the file it points to is written.
    let link = env.path("link.kw");
    std::os::unix::fs::symlink(&env.vault, &link).unwrap();
    env.cmd().env("KEYWARD_VAULT", &link).args(["add", "via/link"]).write_stdin("value-000000002").assert().success();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link is still a link");
    assert_eq!(env.get("via/link"), "value-000000002");

    // A real project vault: every write names it.
    std::fs::remove_file(repo.join(".keyward/vault.kw")).unwrap();
    std::fs::copy(&env.vault, repo.join(".keyward/vault.kw")).unwrap();
    let out = in_repo(&["add", "team/x"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("writing the project vault {}", repo.join(".keyward/vault.kw").display())),
        "{}",
        stderr(&out)
    );
}

// ---------------------------------------------------------------- 10. lock

#[test]
fn lock_deletes_only_an_entry_that_opens_this_vault() {
    use keyward::vault::format;
    let env = Env::new();
    let out = env
        .cmd()
        .args(["init", "--keyring", "keyutils", "--format", "1", "--recovery-key-file"])
        .arg(env.path("rk"))
        .output()
        .unwrap();
    if !out.status.success() {
        assert!(std::env::var_os("CI").is_none(), "CI must reach the kernel keyring: {}", stderr(&out));
        eprintln!("SKIPPED: no kernel keyring here: {}", stderr(&out));
        return;
    }
    env.add("k", "value-000000001", &[]);
    // Another vault whose header claims this vault's id, its keyring slot not ours (format 1;
    // `format2` has the same attack on a text vault).
    let file = std::fs::read(&env.vault).unwrap();
    let parsed = format::parse(&file).unwrap();
    let mut header = parsed.header.clone();
    for slot in &mut header.slots {
        slot.wrapped[0] ^= 0xff;
    }
    let mut hostile = format::encode_header(&header);
    hostile.extend_from_slice(parsed.ciphertext);
    let other = env.path("other.kw");
    std::fs::write(&other, hostile).unwrap();
    let out = env.cmd().env("KEYWARD_VAULT", &other).arg("lock").output().unwrap();
    assert!(stderr(&out).contains("does not open") && stderr(&out).contains("left in place"), "{}", stderr(&out));
    assert_eq!(env.get("k"), "value-000000001", "this vault still opens with its keyring entry");
    env.cmd().arg("lock").assert().success();
    env.cmd().args(["get", "k"]).assert().code(4);
}

// ---------------------------------------------------------------- 11. scan settings

#[test]
fn a_scan_settings_file_outside_the_repository_or_not_the_users_is_ignored() {
    let env = Env::with_recovery_key();
    let key = "ghp_Um8SscuzM2fwc3gsTIG02FE2xNh4yblVdHnO";
    let allow_all = "[allow]\npaths = [\"**\"]\n";
    // Above HOME: never reached.
    std::fs::write(env.home.parent().unwrap().join(".keyward-scan.toml"), allow_all).unwrap();
    let dir = env.home.join("work/app");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("config.py"), format!("TOKEN = \"{key}\"\n")).unwrap();
    let scan = || env.cmd().current_dir(&dir).args(["scan", "--no-known"]).output().unwrap();
    assert_eq!(scan().status.code(), Some(1), "the settings above HOME were used");
    // Another user's file on the way up: ignored (only root can give a file away).
    let theirs = env.home.join("work/.keyward-scan.toml");
    std::fs::write(&theirs, allow_all).unwrap();
    if std::os::unix::fs::chown(&theirs, Some(54321), Some(54321)).is_ok() {
        assert_eq!(scan().status.code(), Some(1), "another user's settings were used");
        // SAFETY: getuid has no preconditions.
        std::os::unix::fs::chown(&theirs, Some(unsafe { libc::getuid() }), None).unwrap();
    } else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root: this case must run there");
    }
    // The user's own file is used.
    assert_eq!(scan().status.code(), Some(0), "{}", stdout(&scan()));
}

// ---------------------------------------------------------------- 12. mask --in-place

#[test]
fn mask_in_place_refuses_links() {
    let env = Env::with_recovery_key();
    env.add("k", "value-to-hide-0001", &[]);
    let target = env.path("app.log");
    std::fs::write(&target, "value-to-hide-0001\n").unwrap();
    let sym = env.path("sym.log");
    std::os::unix::fs::symlink(&target, &sym).unwrap();
    let hard = env.path("hard.log");
    std::fs::hard_link(&target, &hard).unwrap();
    for (path, why) in [(&sym, "symbolic link"), (&hard, "hard links")] {
        let out = env.cmd().args(["mask", "--in-place"]).arg(path).output().unwrap();
        refused(&out, 2, why);
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "value-to-hide-0001\n");
    }
    std::fs::remove_file(&hard).unwrap();
    env.cmd().args(["mask", "--in-place", "--style", "full"]).arg(&target).assert().success();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "********\n");
}

// ---------------------------------------------------------------- 13. smaller items

#[test]
fn backup_directories_are_private_under_any_umask() {
    let env = Env::with_recovery_key();
    let dest = env.path("backups/2026/vault.kwb");
    let mut cmd = env.std_cmd();
    // SAFETY: umask in the child before exec; async-signal-safe.
    unsafe {
        use std::os::unix::process::CommandExt;
        cmd.pre_exec(|| {
            libc::umask(0);
            Ok(())
        });
    }
    let out = cmd.arg("backup").arg(&dest).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(common::mode(&env.path("backups")), 0o700);
    assert_eq!(common::mode(&env.path("backups/2026")), 0o700);
    assert_eq!(common::mode(&dest), 0o600);
}

#[test]
fn scan_staged_never_runs_what_the_repositorys_git_config_names() {
    let env = Env::with_recovery_key();
    let repo = env.home.join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    let git = |args: &[&str]| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(&repo)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    };
    git(&["init", "-q"]);
    let pwned = env.path("pwned");
    git(&["config", "core.fsmonitor", &format!("touch {}; false", pwned.display())]);
    git(&["config", "diff.hostile.textconv", &format!("touch {}; cat", pwned.display())]);
    git(&["config", "diff.external", &format!("touch {}", pwned.display())]);
    std::fs::write(repo.join(".gitattributes"), "*.py diff=hostile\n").unwrap();
    std::fs::write(repo.join("a.py"), "TOKEN = \"ghp_Um8SscuzM2fwc3gsTIG02FE2xNh4yblVdHnO\"\n").unwrap();
    git(&["-c", "core.fsmonitor=", "add", "-A"]);
    assert!(!pwned.exists());
    let out = env.cmd().current_dir(&repo).args(["scan", "--staged", "--no-known"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!pwned.exists(), "scan --staged ran a program from .git/config");

    // A signed commit in history and `log.showSignature`: describing the commit that added a key
    // would run `gpg.program`.
    let gpg = env.path("gpg.sh");
    std::fs::write(&gpg, format!("#!/bin/sh\ntouch {}\n", pwned.display())).unwrap();
    std::fs::set_permissions(&gpg, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    git(&["config", "log.showSignature", "true"]);
    git(&["config", "gpg.program", &gpg.display().to_string()]);
    let tree = {
        let out = std::process::Command::new("git")
            .args(["-c", "core.fsmonitor=", "write-tree"])
            .current_dir(&repo)
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let commit = format!(
        "tree {tree}\nauthor A <a@b> 1700000000 +0000\ncommitter A <a@b> 1700000000 +0000\ngpgsig -----BEGIN PGP SIGNATURE-----\n \n iQEzBAABCAAdFiEE\n -----END PGP SIGNATURE-----\n\nsigned\n"
    );
    let object = env.path("commit");
    std::fs::write(&object, commit).unwrap();
    let out = std::process::Command::new("git")
        .args(["hash-object", "-t", "commit", "-w"])
        .arg(&object)
        .current_dir(&repo)
        .output()
        .unwrap();
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    git(&["update-ref", "HEAD", &id]);
    let out = env.cmd().current_dir(&repo).args(["scan", "--git", "--no-known"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(!pwned.exists(), "scan --git ran gpg.program from .git/config");
}

// ---------------------------------------------------------------- 14. what removal does

#[test]
fn removing_a_token_says_what_it_does_not_do() {
    // Format 1 cannot re-key on removal, and says so.
    let env = Env::with_recovery_key_v1();
    env.cmd().args(["key", "token", "add", "ci"]).assert().success();
    let out = run(&env, &["key", "token", "rm", "ci", "--yes"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("the data key is unchanged") && said.contains("keyward key rotate"), "{said}");
    assert!(!said.contains("no longer opens this vault;"), "{said}");
    // Format 2 re-keys what the token held, and says that.
    let env = Env::with_recovery_key();
    env.cmd().args(["key", "token", "add", "ci"]).assert().success();
    let out = run(&env, &["key", "token", "rm", "ci", "--yes"]);
    let said = format!("{}{}", stdout(&out), stderr(&out));
    assert!(said.contains("re-keyed @all, @default") && said.contains("opens nothing written from now on"), "{said}");
}
