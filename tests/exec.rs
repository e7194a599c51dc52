//! `keyward exec` end to end: selection, references, masking of both streams, the child's
//! environment, exit codes, signal forwarding, stdin, and environment-mismatch refusals.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use common::{Env, stderr, stdout};

fn vault() -> Env {
    let env = Env::with_recovery_key();
    env.add("a", "value-of-a-000000", &[]);
    env.add("b", "value-of-b-111111", &["--env", "dev"]);
    env.add("c", "value-of-c-222222", &["--env", "prod", "--var", "B"]);
    env
}

fn exec(env: &Env, args: &[&str], script: &str) -> std::process::Output {
    env.cmd().arg("exec").args(args).args(["--", "sh", "-c", script]).output().unwrap()
}

#[test]
fn selection_rules_and_references() {
    let env = vault();
    let show = r#"echo "A=${A-unset} B=${B-unset} X=${X-unset}""#;
    let out = exec(&env, &["--no-mask"], show);
    assert_eq!(stdout(&out), "A=value-of-a-000000 B=unset X=unset\n", "no --env: only secrets without one");
    let out = exec(&env, &["--no-mask", "--env", "dev"], show);
    assert_eq!(stdout(&out), "A=value-of-a-000000 B=value-of-b-111111 X=unset\n");
    let out = exec(&env, &["--no-mask", "--env", "prod"], show);
    assert_eq!(stdout(&out), "A=value-of-a-000000 B=value-of-c-222222 X=unset\n", "prod's B");
    let out = exec(&env, &["--no-mask", "--only", "b"], show);
    assert_eq!(stdout(&out), "A=unset B=value-of-b-111111 X=unset\n");
    let out = env.cmd().env("X", "keyward:c").args(["exec", "--no-mask", "--", "sh", "-c", show]).output().unwrap();
    assert_eq!(stdout(&out), "A=value-of-a-000000 B=unset X=value-of-c-222222\n", "references resolve");
    let out = env.cmd().env("X", "keyward:nope").args(["exec", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(125));
    common::assert_one_line_error(&stderr(&out));
}

#[test]
fn both_streams_are_masked_separately_and_keyward_variables_are_stripped() {
    let env = vault();
    let out = exec(&env, &[], r#"echo "out $A"; echo "err $A" >&2; env | grep -c '^KEYWARD_' || true"#);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "out ********\n0\n");
    assert_eq!(stderr(&out), "err ********\n");
    let out = exec(&env, &["--no-mask"], r#"echo "$A""#);
    assert_eq!(stdout(&out), "value-of-a-000000\n");
}

#[test]
fn exit_codes() {
    let env = vault();
    assert_eq!(exec(&env, &[], "exit 0").status.code(), Some(0));
    assert_eq!(exec(&env, &[], "exit 3").status.code(), Some(3));
    assert_eq!(exec(&env, &[], "kill -9 $$").status.code(), Some(128 + 9));
    let out = env.cmd().args(["exec", "--", "no-such-command-xyz"]).output().unwrap();
    assert_eq!(out.status.code(), Some(127));
    let script = env.path("not-executable.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    let out = env.cmd().arg("exec").arg("--").arg(&script).output().unwrap();
    assert_eq!(out.status.code(), Some(126));
    let out = env.cmd().args(["exec", "--only", "no/such", "--", "true"]).output().unwrap();
    assert_eq!(out.status.code(), Some(125), "keyward's own failure");
    let mut locked = Env::new();
    locked.vault = env.vault.clone();
    assert_eq!(locked.cmd().args(["exec", "--", "true"]).output().unwrap().status.code(), Some(125));
}

#[test]
fn stdin_passes_through() {
    let env = vault();
    let out = env.cmd().args(["exec", "--", "cat"]).write_stdin("hello from stdin\n").output().unwrap();
    assert_eq!(stdout(&out), "hello from stdin\n");
}

#[test]
fn sigterm_from_another_process_is_forwarded() {
    let env = vault();
    let mut cmd = env.std_cmd();
    let mut child = cmd
        .args(["exec", "--", "sh", "-c", "trap 'echo got-term; exit 7' TERM; echo ready; while :; do sleep 0.05; done"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "ready");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(lines.next().unwrap().unwrap(), "got-term");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(7), "the command's exit code after handling the signal");
    let _ = Duration::ZERO;
}

#[test]
fn environment_mismatches_are_refused() {
    let env = Env::with_recovery_key();
    env.add("stripe/live", &format!("sk_live_{}", "1".repeat(30)), &[]);
    env.add("stripe/test", &format!("sk_test_{}", "2".repeat(30)), &["--var", "STRIPE_TEST"]);
    env.add("prod/only", "prod-value-0000", &["--env", "prod"]);
    let refused = |args: &[&str]| {
        let out = env.cmd().arg("exec").args(args).args(["--", "true"]).output().unwrap();
        assert_eq!(out.status.code(), Some(125), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("--allow-env-mismatch"));
    };
    refused(&["--env", "dev", "--only", "stripe/live"]);
    refused(&["--env", "prod", "--only", "stripe/test"]);
    refused(&["--env", "staging", "--only", "prod/only"]);
    let out = env
        .cmd()
        .args(["exec", "--env", "dev", "--only", "stripe/live", "--allow-env-mismatch", "--", "true"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let out =
        env.cmd().args(["exec", "--env", "prod", "--only", "stripe/live,prod/only", "--", "true"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn a_mistyped_environment_fails_closed_with_a_suggestion() {
    // Issue 19, item 3: `exec --env prdo` used to run the command without its secrets.
    let env = vault();
    let out = exec(&env, &["--env", "prdo"], "echo ran");
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "the command never ran");
    common::assert_one_line_error(&stderr(&out));
    assert!(stderr(&out).contains("did you mean prod?"), "{}", stderr(&out));
    let out = env.cmd().args(["export", "--env", "prdo"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("did you mean prod?"), "{}", stderr(&out));
    // A well-known environment with no secrets of its own gets the shared ones.
    let out = exec(&env, &["--no-mask", "--env", "staging"], "echo A=$A");
    assert_eq!(stdout(&out), "A=value-of-a-000000\n", "{}", stderr(&out));
}

#[test]
fn a_revoked_secret_is_left_out_with_a_warning_unless_asked_for_by_name() {
    // Issue 19, item 5: one revoked secret used to stop every run of its environment.
    let env = vault();
    env.cmd().args(["revoke", "b", "--yes"]).assert().success();
    let out = exec(&env, &["--no-mask", "--env", "dev"], "echo A=$A B=${B-unset}");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "A=value-of-a-000000 B=unset\n");
    assert!(stderr(&out).contains("left out revoked secret: b"), "{}", stderr(&out));
    let out = env.cmd().args(["export", "--env", "dev"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains("value-of-b") && stderr(&out).contains("left out revoked secret: b"));
    // Asked for by name: still refused.
    let out = exec(&env, &["--only", "b"], "echo ran");
    assert_eq!(out.status.code(), Some(125), "{}", stderr(&out));
    assert!(stdout(&out).is_empty());
}
