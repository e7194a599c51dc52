//! The tamper campaign: flip every byte of a vault's header and a sample of its payload, a sample
//! of an audit log segment, and every byte of a backup's header plus a sample of the rest. Each
//! altered file is refused with its documented exit code, with one line on stderr and nothing on
//! stdout (no plaintext, ever).

use crate::common;

use common::{Env, stderr};

const SECRET: &str = "tamper-sentinel-value-4242";

fn setup() -> Env {
    let env = Env::with_recovery_key();
    env.add("target", SECRET, &[]);
    env.add("other", "another-value-123456", &["--tag", "x"]);
    env
}

fn setup_v1() -> Env {
    let env = Env::with_recovery_key_v1();
    env.add("target", SECRET, &[]);
    env.add("other", "another-value-123456", &["--tag", "x"]);
    env
}

/// Every position in `0..len` up to `all`, then an even sample of `sample` more.
fn positions(len: usize, all: usize, sample: usize) -> Vec<usize> {
    let mut p: Vec<usize> = (0..all.min(len)).collect();
    if len > all {
        let step = ((len - all) / sample).max(1);
        p.extend((all..len).step_by(step));
    }
    p
}

#[test]
fn every_vault_header_byte_and_a_sample_of_the_payload() {
    let env = setup_v1();
    let good = std::fs::read(&env.vault).unwrap();
    let header_len = 14 + u32::from_le_bytes(good[10..14].try_into().unwrap()) as usize + 32;
    let mut flipped = 0;
    for at in positions(good.len(), header_len, 150) {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&env.vault, &bad).unwrap();
        let out = env.cmd().args(["get", "target"]).output().unwrap();
        assert!(matches!(out.status.code(), Some(4 | 5)), "byte {at}: {:?} {}", out.status.code(), stderr(&out));
        assert!(out.stdout.is_empty(), "byte {at}: something was printed");
        assert!(!stderr(&out).contains(SECRET));
        common::assert_one_line_error(&stderr(&out));
        flipped += 1;
    }
    std::fs::write(&env.vault, &good).unwrap();
    assert_eq!(env.get("target"), SECRET);
    assert!(flipped > header_len, "{flipped} flips");
}

/// Format 2: every byte of the header and slot lines, and a sample of the rest. A flip must be
/// refused; the one exception is a flip inside the ciphertext of a secret the command did not
/// open (the seal covers each body's tag, not its ciphertext, so `get` does not hash the whole
/// file), which `export`, opening every body, refuses.
#[test]
fn every_text_vault_header_byte_and_a_sample_of_the_rest() {
    let env = setup();
    env.add("prod/key", "prod-value-00000001", &["--env", "prod"]);
    let good = std::fs::read(&env.vault).unwrap();
    let text = String::from_utf8(good.clone()).unwrap();
    let header_len = text.find("\ndomain ").unwrap() + 1;
    let mut refused = 0;
    for at in positions(good.len(), header_len, 300) {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&env.vault, &bad).unwrap();
        let mut outcomes = Vec::new();
        for args in [&["get", "target"][..], &["export", "--format", "dotenv"]] {
            let out = env.cmd().args(args).output().unwrap();
            if out.status.success() {
                outcomes.push(true);
                // Accepted: exactly what the untouched file gives.
                let want = std::fs::write(&env.vault, &good).map(|()| env.cmd().args(args).output().unwrap().stdout);
                assert_eq!(out.stdout, want.unwrap(), "byte {at}: {args:?} printed something else");
                std::fs::write(&env.vault, &bad).unwrap();
                continue;
            }
            outcomes.push(false);
            assert!(matches!(out.status.code(), Some(4 | 5)), "byte {at}: {:?} {}", out.status.code(), stderr(&out));
            assert!(out.stdout.is_empty(), "byte {at}: something was printed");
            assert!(!stderr(&out).contains(SECRET));
            common::assert_one_line_error(&stderr(&out));
        }
        if at < header_len {
            assert_eq!(outcomes, [false, false], "byte {at} of the header and slot lines is covered");
        }
        assert!(!outcomes[1], "byte {at}: export opens every body, and any flip is refused");
        refused += 1;
    }
    std::fs::write(&env.vault, &good).unwrap();
    assert_eq!(env.get("target"), SECRET);
    assert!(refused > header_len, "{refused} flips");
}

#[test]
fn a_sample_of_audit_log_bytes() {
    let env = setup();
    for _ in 0..5 {
        env.get("target");
    }
    let path = std::path::PathBuf::from(common::stdout(&env.cmd().args(["audit", "--path"]).output().unwrap()).trim());
    let good = std::fs::read(&path).unwrap();
    for at in positions(good.len(), 0, 200) {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&path, &bad).unwrap();
        let out = env.cmd().args(["audit", "verify"]).output().unwrap();
        assert_eq!(out.status.code(), Some(5), "byte {at} ({:?}): {}", bad[at] as char, common::stdout(&out));
        common::assert_one_line_error(&stderr(&out));
    }
    std::fs::write(&path, &good).unwrap();
    env.cmd().args(["audit", "verify"]).assert().success();
}

#[test]
fn every_backup_header_byte_and_a_sample_of_the_rest() {
    let env = setup();
    let backup = env.path("b.kwb");
    env.cmd().arg("backup").arg(&backup).assert().success();
    let good = std::fs::read(&backup).unwrap();
    let target = env.path("restored.kw");
    // Magic, version, mode, the clear vault copy's length and header, salt and nonce: the first
    // 600 bytes; then a sample of the ciphertext.
    for at in positions(good.len(), 600, 150) {
        let mut bad = good.clone();
        bad[at] ^= 0x01;
        std::fs::write(&backup, &bad).unwrap();
        let out = env.cmd().args(["--vault"]).arg(&target).arg("restore").arg(&backup).output().unwrap();
        assert!(matches!(out.status.code(), Some(4 | 5)), "byte {at}: {:?} {}", out.status.code(), stderr(&out));
        assert!(!target.exists(), "byte {at}: a vault was written");
        assert!(out.stdout.is_empty());
        common::assert_one_line_error(&stderr(&out));
    }
}
