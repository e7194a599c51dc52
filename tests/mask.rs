//! `keyward mask` through the binary: known values in every version, provider-shaped keys,
//! failing closed without a vault key, files and --in-place, interactive flushing, broken pipes.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use common::{Env, stderr, stdout};

fn masked(env: &Env, args: &[&str], input: &str) -> std::process::Output {
    env.cmd().arg("mask").args(args).write_stdin(input.to_owned()).output().unwrap()
}

#[test]
fn known_values_in_every_version_and_encoding_are_hidden() {
    let mut env = Env::with_recovery_key();
    env.add("internal/hook", "whk_first_value_0123456789abcdef", &[]);
    // Rotate twice so the first value is revoked and the second is previous.
    env.cmd()
        .args(["rotate", "internal/hook", "--no-verify"])
        .write_stdin("whk_second_value_0123456789abcdef")
        .assert()
        .success();
    env.cmd()
        .args(["rotate", "internal/hook", "--no-verify"])
        .write_stdin("whk_third_value_0123456789abcdef")
        .assert()
        .success();
    env.add("db/password", "correct horse battery staple", &[]);
    let b64 = data_encoding::BASE64.encode(b"admin:correct horse battery staple");
    let input = format!(
        "a whk_first_value_0123456789abcdef\nb whk_second_value_0123456789abcdef\nc whk_third_value_0123456789abcdef\n\
         d Basic {b64}\ne pw=correct%20horse%20battery%20staple\n"
    );
    let out = masked(&env, &["--style", "full"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for leak in ["first_value", "second_value", "third_value", "battery", &b64[8..30]] {
        assert!(!text.contains(leak), "{leak} survived: {text}");
    }
    assert!(text.starts_with("a ********\nb ********\nc ********\n"));

    let out = masked(&env, &["--style", "label"], "x whk_third_value_0123456789abcdef y\n");
    assert_eq!(stdout(&out), "x [REDACTED:internal/hook] y\n");
    env.set("NO_COLOR", "1");
    let out = masked(&env, &[], "x whk_third_value_0123456789abcdef y\n");
    assert_eq!(stdout(&out), "x …cdef y\n", "partial: last four characters only");
}

#[test]
fn provider_shaped_keys_are_hidden_without_a_vault() {
    let env = Env::new(); // no vault at all
    let ghp = format!("ghp_{}", "Ab1".repeat(12));
    let stripe = format!("sk_live_{}", "Zz9".repeat(10));
    let input = format!(
        "token {ghp} and {stripe}\nDATADOG_API_KEY=0123456789abcdef0123456789abcdef\nsha 0123456789abcdef0123456789abcdef\n"
    );
    let out = masked(&env, &["--no-known"], &input);
    assert!(out.status.success(), "{}", stderr(&out));
    let tail = |k: &str| k[k.len() - 4..].to_owned();
    assert_eq!(
        stdout(&out),
        format!(
            "token ghp_…{} and sk_live_…{}\nDATADOG_API_KEY=…cdef\nsha 0123456789abcdef0123456789abcdef\n",
            tail(&ghp),
            tail(&stripe)
        ),
        "partial style: public prefix and last four; a bare hex string only after its keyword"
    );
}

#[test]
fn without_a_vault_key_mask_fails_closed_before_reading() {
    let env = Env::with_recovery_key();
    let mut locked = Env::new();
    locked.vault = env.vault.clone();
    let out = masked(&locked, &[], "some log\n");
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    assert!(stdout(&out).is_empty(), "nothing passes through a filter that cannot see the vault");
    common::assert_one_line_error(&stderr(&out));
    let out = masked(&locked, &["--no-known"], "some log\n");
    assert_eq!(stdout(&out), "some log\n");
}

#[test]
fn files_and_in_place() {
    let env = Env::with_recovery_key();
    env.add("api/key", "internal-api-key-0000-1111", &[]);
    let a = env.path("a.log");
    let b = env.path("b.log");
    std::fs::write(&a, "one internal-api-key-0000-1111\n").unwrap();
    std::fs::write(&b, "two internal-api-key-0000-1111\n").unwrap();
    std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(&b).unwrap().permissions(), 0o640);
    let out = env.cmd().args(["mask", "--style", "full"]).arg(&a).arg(&b).output().unwrap();
    assert_eq!(stdout(&out), "one ********\ntwo ********\n");
    env.cmd().args(["mask", "--style", "full", "--in-place"]).arg(&b).assert().success();
    assert_eq!(std::fs::read_to_string(&b).unwrap(), "two ********\n");
    assert_eq!(std::fs::read_to_string(&a).unwrap(), "one internal-api-key-0000-1111\n", "only named files change");
    let out = env.cmd().args(["mask", "--in-place"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "--in-place needs files");
    let out = env.cmd().args(["mask"]).arg(env.path("missing.log")).output().unwrap();
    assert_eq!(out.status.code(), Some(7));
}

#[test]
fn min_length_and_non_utf8() {
    let env = Env::with_recovery_key();
    env.add("pin", "12345", &[]);
    let out =
        env.cmd().args(["mask", "--style", "full"]).write_stdin(b"pin 12345 \xff\xfe\n".to_vec()).output().unwrap();
    assert_eq!(out.stdout, b"pin 12345 \xff\xfe\n");
    let out =
        env.cmd().args(["mask", "--style", "full", "--min-length", "4"]).write_stdin("pin 12345\n").output().unwrap();
    assert_eq!(stdout(&out), "pin ********\n");
}

#[test]
fn interactive_lines_show_at_once() {
    let env = Env::with_recovery_key();
    env.add("api/key", "internal-api-key-0000-1111", &[]);
    let mut cmd = env.std_cmd();
    let mut child = cmd.args(["mask", "--style", "full"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            tx.send(line.unwrap()).unwrap();
        }
    });
    // The input stays open: each line must come out before the next is written.
    for i in 0..3 {
        writeln!(stdin, "line {i} internal-api-key-0000-1111").unwrap();
        stdin.flush().unwrap();
        let line = rx.recv_timeout(Duration::from_secs(10)).expect("the line was not flushed");
        assert_eq!(line, format!("line {i} ********"));
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
}

#[test]
fn a_closed_pipe_ends_quietly() {
    let env = Env::new();
    let big = "a line of log text\n".repeat(200_000);
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("keyward"))
        .env_clear()
        .args(["mask", "--no-known"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away at once
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(big.as_bytes());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = env;
}
